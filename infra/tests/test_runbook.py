"""The operations runbook (docs/runbook.md, issue #27) has an entry for every CloudWatch alarm of
both templates, and names no alarm that neither template has.

How an alarm is matched to its entry:

* An **entry** is a level-2 heading made of one code span: ``## `ListenerErrorsAlarm` ``. Any
  other level-2 heading ("## Before you start") is prose, and must not look like an alarm name.
* The heading is the alarm's **id**: its logical id in the SAM template; in the CDK app its
  construct id (the synthesized logical id is that id plus an 8-hex-digit hash; the construct
  path, `aws:cdk:path` metadata `EcsEvents/<id>/Resource`, names it exactly).
* ``<Rule>`` in a heading stands for an alert rule's name in PascalCase, as `scripts/sync-rules`
  and the CDK app name its EventBridge rule `AlertRule<Rule>`: one entry covers that alarm of
  every alert rule, whatever the rules file (the alarm's rule must be a rule of the template).
* Every alarm id of the SAM template (all of it: every optional alarm is there, under its
  condition) and of the synthesized CDK template (`npm run synth`, which scripts/test runs before
  these tests) matches exactly one entry, and every entry matches an alarm of one of them.
  infra/cdk/test/runbook.test.ts checks the same rule against CDK apps synthesized with every
  option (buffer, organization, the example rules).

Each entry also quotes its alarm's description (the notification carries it, so an operator can
search for it) and states what fires — namespace, metric, statistic, period and threshold — as
the templates have them, and says what it means, where to look first and how to recover.
"""

import re

from test_templates import CDK_TEMPLATE, ROOT, SAM_TEMPLATE, load, resources

RUNBOOK = ROOT / "docs" / "runbook.md"
ALARM = "AWS::CloudWatch::Alarm"
# What `<Rule>` stands for: a PascalCase rule name (scripts/sync-rules' logical_id, the CDK app's
# ruleLogicalId: the rule's name split on non-alphanumerics, each part capitalized).
RULE_PLACEHOLDER = "<Rule>"
RULE_NAME = r"[A-Z0-9][A-Za-z0-9]*"
ENTRY_HEADING = re.compile(r"^## `([^`]+)`\s*$")
# The parts every entry has, by the bold words that open them.
ENTRY_PARTS = ("**Fires when**", "**What it means", "**Look first**", "**Recover")


def runbook_entries(text):
    """{alarm id (as its heading names it): the entry's text} of a runbook, and the headings
    of level 2 that are not entries."""
    entries, prose, current, in_fence = {}, [], None, False
    for line in text.split("\n"):
        if line.startswith("```"):
            in_fence = not in_fence
        if in_fence:
            if current is not None:
                entries[current].append(line)
            continue
        if line.startswith("## "):
            match = ENTRY_HEADING.match(line)
            if match:
                current = match.group(1)
                assert current not in entries, f"two entries for {current}"
                entries[current] = []
                continue
            prose.append(line)
            current = None
            continue
        if current is not None:
            entries[current].append(line)
    return {name: "\n".join(lines) for name, lines in entries.items()}, prose


def entry_pattern(name):
    """The alarm ids an entry's heading covers: the name itself, `<Rule>` standing for a rule."""
    parts = name.split(RULE_PLACEHOLDER)
    assert len(parts) <= 2, f"{name}: at most one {RULE_PLACEHOLDER} in a heading"
    return re.compile("^" + f"(?P<rule>{RULE_NAME})".join(map(re.escape, parts)) + "$")


def alarm_id(logical_id, alarm, cdk):
    """An alarm's id: the SAM logical id, or the CDK construct id (from its construct path, else
    the logical id without CDK's 8-hex-digit hash)."""
    if not cdk:
        return logical_id
    path = alarm.get("Metadata", {}).get("aws:cdk:path")
    return path.split("/")[1] if path else re.sub(r"[0-9A-F]{8}$", "", logical_id)


def template_alarms():
    """{template label: (the template, {alarm id: alarm})} of both templates."""
    found = {}
    for label, path in (("SAM", SAM_TEMPLATE), ("CDK", CDK_TEMPLATE)):
        template = load(path)
        alarms = resources(template, ALARM)
        found[label] = (template, {alarm_id(name, alarm, label == "CDK"): alarm for name, alarm in alarms.items()})
    return found


def coverage_problems(text, templates):
    """What is wrong between a runbook and the templates' alarms, one line each (none: every
    alarm has exactly one entry and every entry an alarm)."""
    entries, prose = runbook_entries(text)
    problems = [f"prose heading that looks like an alarm: {heading!r}"
                for heading in prose if re.search(r"Alarm\b", heading)]
    patterns = {name: entry_pattern(name) for name in entries}
    covered = set()
    for label, (template, alarms) in templates.items():
        for alarm in sorted(alarms):
            matching = [name for name, pattern in patterns.items() if pattern.match(alarm)]
            covered.update(matching)
            if not matching:
                problems.append(f"{label} alarm {alarm} has no runbook entry")
            elif len(matching) > 1:
                problems.append(f"{label} alarm {alarm} matches several entries: {matching}")
            else:
                rule = patterns[matching[0]].match(alarm).groupdict().get("rule")
                if rule is not None and f"AlertRule{rule}" not in resources(template, "AWS::Events::Rule"):
                    problems.append(f"{label} alarm {alarm}: no EventBridge rule AlertRule{rule} for <Rule>")
    problems += [f"runbook entry {name} names no alarm of either template"
                 for name in sorted(set(entries) - covered)]
    return problems


def plain(text):
    """Markdown prose as comparable text: code spans' backticks dropped, whitespace collapsed."""
    return " ".join(text.replace("`", "").split())


def test_every_alarm_of_both_templates_has_one_runbook_entry_and_every_entry_an_alarm():
    problems = coverage_problems(RUNBOOK.read_text(), template_alarms())
    assert not problems, "\n".join(problems)


def test_the_coverage_check_fails_for_a_missing_entry_and_for_an_entry_without_alarm():
    # GIVEN the runbook without one entry, and the runbook with an entry no template has
    text = RUNBOOK.read_text()
    templates = template_alarms()
    entries, _ = runbook_entries(text)
    assert "ListenerErrorsAlarm" in entries and "AlertRule<Rule>DeadLetterFailedAlarm" in entries
    without = text.replace("## `ListenerErrorsAlarm`", "## Listener errors")
    without_rule_entry = text.replace("## `AlertRule<Rule>DeadLetterFailedAlarm`", "## Lost alerts")
    extra = text + "\n## `ListenerTimeoutsAlarm`\n\nNo such alarm.\n"
    # WHEN they are checked THEN each problem is named, for both templates
    assert coverage_problems(without, templates) == [
        "SAM alarm ListenerErrorsAlarm has no runbook entry",
        "CDK alarm ListenerErrorsAlarm has no runbook entry",
    ]
    missing_rule_alarms = coverage_problems(without_rule_entry, templates)
    assert "SAM alarm AlertRuleEssentialContainerExitedDeadLetterFailedAlarm has no runbook entry" in missing_rule_alarms
    assert "CDK alarm AlertRuleEssentialContainerExitedDeadLetterFailedAlarm has no runbook entry" in missing_rule_alarms
    assert coverage_problems(extra, templates) == [
        "runbook entry ListenerTimeoutsAlarm names no alarm of either template",
    ]
    # and an alarm's name left as a plain heading is no entry (it would not match silently)
    plain_heading = text.replace("## `ListenerErrorsAlarm`", "## ListenerErrorsAlarm")
    assert "prose heading that looks like an alarm: '## ListenerErrorsAlarm'" in coverage_problems(plain_heading, templates)


def test_each_entry_quotes_its_alarms_description_and_states_what_fires_as_the_templates_do():
    entries, _ = runbook_entries(RUNBOOK.read_text())
    patterns = {name: entry_pattern(name) for name in entries}
    problems = []
    for label, (_, alarms) in template_alarms().items():
        for alarm, resource in sorted(alarms.items()):
            (name,) = [name for name, pattern in patterns.items() if pattern.match(alarm)]
            entry = plain(entries[name])
            properties = resource["Properties"]
            rule = patterns[name].match(alarm).groupdict().get("rule")
            description = properties["AlarmDescription"]
            if rule is not None:
                description = description.replace(f"AlertRule{rule}", f"AlertRule{RULE_PLACEHOLDER}")
            if f'Description: "{plain(description)}"' not in entry:
                problems.append(f"{label} {alarm}: the entry does not quote its description {description!r}")
            fires = entry[entry.find("Fires when"):]
            fires = fires[:fires.find("What it means")]
            period_minutes = properties["Period"] // 60
            for fact in (properties["Namespace"], properties["MetricName"], properties["Statistic"],
                         f"over {period_minutes} minutes", f"is above {properties['Threshold']:g}"):
                if fact not in fires:
                    problems.append(f"{label} {alarm}: 'Fires when' does not say {fact!r}")
            assert properties["EvaluationPeriods"] == 1, f"{alarm}: the runbook says one period"
            assert properties["ComparisonOperator"] == "GreaterThanThreshold", f"{alarm}: the runbook says 'above'"
            assert properties["TreatMissingData"] == "notBreaching", alarm
            if label == "SAM" and "Condition" in resource and "Only " not in entry:
                problems.append(f"SAM {alarm} exists only under {resource['Condition']}: the entry does not say when")
    for name, text in entries.items():
        for part in ENTRY_PARTS:
            if part not in text:
                problems.append(f"entry {name} has no {part}")
    assert not problems, "\n".join(problems)


def test_the_runbook_is_one_page_with_one_title():
    # An mdBook page: one title, then its sections (`#` lines in code blocks are no headings).
    titles, in_fence = [], False
    for line in RUNBOOK.read_text().split("\n"):
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and line.startswith("# "):
            titles.append(line)
    assert titles == ["# Operations runbook"]
