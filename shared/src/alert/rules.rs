//! Alert rules: named EventBridge patterns, read from a JSON file and compiled once.
//!
//! The file is an array of `{"name": ..., "description": ..., "pattern": {...}, "group": ...}`.
//! The same file drives the EventBridge rules the templates deploy and the matching inside the
//! alerter and local replay. `group` says how a rule's matches become incidents (see
//! [`crate::incident`]): absent, the defaults (10-minute windows, a crash loop at 5 stops);
//! `{"window": "15m", "crashLoopAfter": 3}` to change them; `false` for one message per task.
//!
//! A task that finished its work is not a failure ([`TaskOutcome::Completed`]): a rule's
//! matches of such tasks are quiet unless the rule says `"completed": true` (told as completed,
//! with severity `info`, beside its failures) or `"completed": "only"` (only completions: a
//! job's success digest). `expectedExitCodes` (default `[0]`, or what the alerter is
//! configured with) says which exit codes mean done; `severity` (`error`, `warning`, `info`)
//! overrides the severity of the rule's other messages.
//!
//! Every problem of a file is reported, in file order, the way a compiler would: names,
//! patterns, settings, and what no ECS event can satisfy ([`lint_pattern`]: a misspelt field
//! or value, with the one probably meant).

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use std::time::Duration;

use super::Severity;
use super::lint::{Finding, lint_pattern};
use crate::event::{
    DEFAULT_EXPECTED_EXIT_CODES, Projection, ReceivedEvent, TaskOutcome, without_bom,
};
use crate::incident::GroupSettings;
use crate::pattern::{Pattern, PatternError};

/// The default rule set: the AWS ECS guide's stopped-task rule, `essential-container-exited`.
pub const DEFAULT_RULES_JSON: &str = include_str!("../../../rules/default.json");

/// Longest rule name: EventBridge rule names are at most 64 characters, and the templates
/// prefix them with the stack's short name.
pub const MAX_RULE_NAME_LEN: usize = 40;

/// A named, compiled alert rule.
#[derive(Debug, Clone)]
pub struct AlertRule {
    /// Unique name: letters, digits, `.`, `-` and `_`, as EventBridge rule names.
    pub name: String,
    /// What the rule is about, for people.
    pub description: String,
    /// The compiled pattern.
    pub pattern: Pattern,
    /// How matches are grouped into incidents; `None`: one message per task.
    pub group: Option<GroupSettings>,
    /// The severity of the rule's messages (those of completed tasks are always `info`);
    /// `None`: each match's own ([`Severity::of_event`]).
    pub severity: Option<Severity>,
    /// The exit codes that mean a task finished its work; `None`: the rule set's default.
    pub expected_exit_codes: Option<Vec<i64>>,
    /// What the rule tells of tasks that completed (finished their work).
    pub completed: Completions,
}

/// What a rule tells of tasks that finished their work (`"completed"` in the rules file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Completions {
    /// Nothing (`false`, the default): a clean exit is not a failure.
    #[default]
    Quiet,
    /// Completions too, as `completed` with severity `info` (`true`).
    Tell,
    /// Only completions (`"only"`): a daily success digest of a job; its failures are other
    /// rules' to tell.
    Only,
}

impl Completions {
    /// Whether a match of a task with `outcome` is told by a rule with these settings.
    pub fn tells(self, outcome: Option<TaskOutcome>) -> bool {
        let completed = outcome == Some(TaskOutcome::Completed);
        match self {
            Self::Quiet => !completed,
            Self::Tell => true,
            Self::Only => completed,
        }
    }
}

/// Why a rules file cannot be used. Every case names the rule (by position and name).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    /// The file is not a JSON array of rule objects.
    #[error("rules file: {0}")]
    Format(String),
    /// The file has no rules.
    #[error("rules file: no rules")]
    Empty,
    /// A rule's name is empty, too long or has characters EventBridge does not allow.
    #[error(
        "rule #{index} {name:?}: name must be 1 to {MAX_RULE_NAME_LEN} letters, digits, '.', '-' or '_'"
    )]
    InvalidName {
        /// 1-based position in the file.
        index: usize,
        /// The name.
        name: String,
    },
    /// Two rules have the same name.
    #[error("rule #{index} {name:?}: the name is already used by rule #{first}")]
    DuplicateName {
        /// 1-based position of the second one.
        index: usize,
        /// 1-based position of the first one.
        first: usize,
        /// The name.
        name: String,
    },
    /// A rule's `group` setting is invalid.
    #[error("rule #{index} {name:?}: group: {message}")]
    Group {
        /// 1-based position in the file.
        index: usize,
        /// The rule's name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A rule's `severity`, `expectedExitCodes` or `completed` is invalid.
    #[error("rule #{index} {name:?}: {message}")]
    Setting {
        /// 1-based position in the file.
        index: usize,
        /// The rule's name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A part of a rule's pattern no ECS event can satisfy ([`lint_pattern`]).
    #[error("rule #{index} {name:?}: {finding}")]
    Lint {
        /// 1-based position in the file.
        index: usize,
        /// The rule's name.
        name: String,
        /// What no ECS event can satisfy, and where.
        finding: Finding,
    },
    /// More than one of the above, in file order: one per line.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<RuleError>),
    /// A rule's pattern is invalid.
    #[error("rule #{index} {name:?}: pattern {source}")]
    Pattern {
        /// 1-based position in the file.
        index: usize,
        /// The rule's name.
        name: String,
        /// What is wrong with the pattern.
        source: PatternError,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: String,
    #[serde(default)]
    description: String,
    pattern: Box<RawValue>,
    /// `false`, `true` or `{"window": "10m", "crashLoopAfter": 5}`.
    #[serde(default)]
    group: Option<Value>,
    /// `error`, `warning` or `info`.
    #[serde(default)]
    severity: Option<String>,
    /// Exit codes that mean done, e.g. `[0, 3]`.
    #[serde(default, rename = "expectedExitCodes")]
    expected_exit_codes: Option<Vec<i64>>,
    /// `false`, `true` or `"only"`: what is told of completed tasks.
    #[serde(default)]
    completed: Option<Value>,
}

/// The most exit codes a rule may list.
pub const MAX_EXPECTED_EXIT_CODES: usize = 32;

/// What a rule tells of completed tasks, or what is wrong with its `completed`.
fn completions(spec: Option<Value>) -> Result<Completions, String> {
    match spec {
        None | Some(Value::Bool(false)) => Ok(Completions::Quiet),
        Some(Value::Bool(true)) => Ok(Completions::Tell),
        Some(Value::String(text)) if text == "only" => Ok(Completions::Only),
        Some(other) => Err(format!("completed must be false, true or \"only\", found {other}")),
    }
}

/// A rule's severity, or what is wrong with it.
fn severity(spec: Option<String>) -> Result<Option<Severity>, String> {
    spec.map(|text| {
        Severity::parse(&text).ok_or_else(|| {
            format!("severity {text:?} is not one of \"error\", \"warning\", \"info\"")
        })
    })
    .transpose()
}

/// Exit codes as a rules file or the environment gives them: 1 to [`MAX_EXPECTED_EXIT_CODES`]
/// whole numbers from 0 to 255, sorted and without repeats.
pub fn exit_codes(codes: Vec<i64>) -> Result<Vec<i64>, String> {
    if codes.is_empty() || codes.len() > MAX_EXPECTED_EXIT_CODES {
        return Err(format!(
            "expectedExitCodes must list 1 to {MAX_EXPECTED_EXIT_CODES} exit codes, found {}",
            codes.len()
        ));
    }
    if let Some(code) = codes.iter().find(|code| !(0..=255).contains(*code)) {
        return Err(format!("expectedExitCodes: {code} is not an exit code (0 to 255)"));
    }
    let mut codes = codes;
    codes.sort_unstable();
    codes.dedup();
    Ok(codes)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct GroupFile {
    #[serde(default)]
    window: Option<String>,
    #[serde(default)]
    crash_loop_after: Option<u32>,
}

/// The shortest and longest window: digests are flushed every minute, and an incident that
/// stays open for a day is better told again.
const WINDOW_RANGE: (Duration, Duration) = (Duration::from_secs(60), Duration::from_secs(86_400));

/// The group settings a rule asks for, or what is wrong with them.
fn group_settings(spec: Option<Value>) -> Result<Option<GroupSettings>, String> {
    let defaults = GroupSettings::default();
    let file: GroupFile = match spec {
        None | Some(Value::Bool(true)) => return Ok(Some(defaults)),
        Some(Value::Bool(false)) => return Ok(None),
        Some(object @ Value::Object(_)) => {
            serde_json::from_value(object).map_err(|error| error.to_string())?
        }
        Some(other) => {
            return Err(format!(
                "expected false, true or {{\"window\": ..., \"crashLoopAfter\": ...}}, found {other}"
            ));
        }
    };
    let window = match file.window {
        None => defaults.window,
        Some(text) => {
            let window = parse_duration(&text).ok_or_else(|| {
                format!("window {text:?} is not a duration such as \"90s\", \"10m\" or \"1h\"")
            })?;
            if window < WINDOW_RANGE.0 || window > WINDOW_RANGE.1 {
                return Err(format!(
                    "window {text:?} is out of range: from 1 minute (\"1m\") to 24 hours (\"24h\")"
                ));
            }
            window
        }
    };
    let crash_loop_after = file.crash_loop_after.unwrap_or(defaults.crash_loop_after);
    if !(2..=10_000).contains(&crash_loop_after) {
        return Err(format!("crashLoopAfter {crash_loop_after} is out of range: from 2 to 10000"));
    }
    Ok(Some(GroupSettings { window, crash_loop_after }))
}

/// `90s`, `10m`, `1h`, `1h30m`: whole numbers of hours, minutes and seconds, in that order.
fn parse_duration(text: &str) -> Option<Duration> {
    let mut seconds = 0_u64;
    let mut rest = text.trim();
    let mut last_unit = u64::MAX;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let value: u64 = rest[..digits].parse().ok()?;
        let unit = match rest[digits..].chars().next()? {
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        if unit >= last_unit {
            return None;
        }
        last_unit = unit;
        seconds = seconds.checked_add(value.checked_mul(unit)?)?;
        rest = &rest[digits + 1..];
    }
    Some(Duration::from_secs(seconds))
}

/// Compiles one rule of a rules file (`index`: its 1-based position).
fn compile_rule(index: usize, entry: RuleFile) -> Result<AlertRule, RuleError> {
    let valid_name = !entry.name.is_empty()
        && entry.name.len() <= MAX_RULE_NAME_LEN
        && entry.name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !valid_name {
        return Err(RuleError::InvalidName { index, name: entry.name });
    }
    let pattern = Pattern::from_json(entry.pattern.get()).map_err(|source| RuleError::Pattern {
        index,
        name: entry.name.clone(),
        source,
    })?;
    let group = group_settings(entry.group).map_err(|message| RuleError::Group {
        index,
        name: entry.name.clone(),
        message,
    })?;
    let setting = |message| RuleError::Setting { index, name: entry.name.clone(), message };
    let severity = severity(entry.severity).map_err(setting)?;
    let expected_exit_codes =
        entry.expected_exit_codes.map(exit_codes).transpose().map_err(setting)?;
    let completed = completions(entry.completed).map_err(setting)?;
    Ok(AlertRule {
        name: entry.name,
        description: entry.description,
        pattern,
        group,
        severity,
        expected_exit_codes,
        completed,
    })
}

/// The rules an alerter applies, in file order.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<AlertRule>,
    /// The exit codes that mean done for rules that list none.
    expected_exit_codes: Vec<i64>,
    /// The event fields the rules' patterns read: all an event is read for to be matched.
    projection: Projection,
}

impl RuleSet {
    /// Reads and compiles a rules file's text (a leading byte-order mark is skipped).
    pub fn from_json(text: &str) -> Result<Self, RuleError> {
        let text = without_bom(text);
        let entries: Vec<RuleFile> =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text))
                .map_err(|error| {
                    RuleError::Format(format!("{} at {}", error.inner(), error.path()))
                })?;
        if entries.is_empty() {
            return Err(RuleError::Empty);
        }
        let mut rules: Vec<AlertRule> = Vec::with_capacity(entries.len());
        let mut errors: Vec<RuleError> = Vec::new();
        let mut names: Vec<String> = Vec::with_capacity(entries.len());
        for (position, entry) in entries.into_iter().enumerate() {
            let index = position + 1;
            if let Some(first) = names.iter().position(|name| *name == entry.name) {
                errors.push(RuleError::DuplicateName {
                    index,
                    first: first + 1,
                    name: entry.name.clone(),
                });
            }
            names.push(entry.name.clone());
            match compile_rule(index, entry) {
                Ok(rule) => {
                    errors.extend(lint_pattern(rule.pattern.source()).into_iter().map(|finding| {
                        RuleError::Lint { index, name: rule.name.clone(), finding }
                    }));
                    rules.push(rule);
                }
                Err(error) => errors.push(error),
            }
        }
        match errors.len() {
            0 => {}
            1 => return Err(errors.remove(0)),
            _ => return Err(RuleError::Several(errors)),
        }
        Ok(Self::of(rules))
    }

    fn of(rules: Vec<AlertRule>) -> Self {
        let projection = Projection::of_paths(rules.iter().flat_map(|rule| rule.pattern.paths()));
        Self { rules, expected_exit_codes: DEFAULT_EXPECTED_EXIT_CODES.to_vec(), projection }
    }

    /// The rule set with `codes` meaning done for the rules that list no `expectedExitCodes`.
    pub fn with_expected_exit_codes(mut self, codes: Vec<i64>) -> Self {
        self.expected_exit_codes = codes;
        self
    }

    /// The exit codes that mean done for `rule`: its own, else the rule set's default.
    pub fn expected_exit_codes<'a>(&'a self, rule: &'a AlertRule) -> &'a [i64] {
        rule.expected_exit_codes.as_deref().unwrap_or(&self.expected_exit_codes)
    }

    /// How a task match of `rule` ended, by the rule's expected exit codes.
    pub fn outcome(&self, rule: &AlertRule, task: &crate::event::TaskStateChange) -> TaskOutcome {
        task.outcome(self.expected_exit_codes(rule))
    }

    /// The default rule set ([`DEFAULT_RULES_JSON`]).
    pub fn default_rules() -> Self {
        // The default file ships with the crate and is tested to compile.
        Self::from_json(DEFAULT_RULES_JSON).unwrap_or_else(|_| Self::of(Vec::new()))
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[AlertRule] {
        &self.rules
    }

    /// The rules whose pattern matches `event`, in file order.
    pub fn matching<'a>(&'a self, event: &'a Value) -> impl Iterator<Item = &'a AlertRule> + 'a {
        self.rules.iter().filter(move |rule| rule.pattern.matches(event))
    }

    /// The rules whose pattern matches a received event, in file order: the event's text is
    /// read once for the fields the patterns name, and every pattern is matched on those.
    pub fn matching_event(&self, received: &ReceivedEvent) -> Vec<&AlertRule> {
        // The text is JSON by construction; the whole value would match alike.
        let event = self.projection.project(received.json()).unwrap_or_else(|_| received.raw());
        self.rules.iter().filter(|rule| rule.pattern.matches(&event)).collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn given_the_default_rules_then_it_is_exactly_the_guides_rule() {
        let rules = RuleSet::from_json(DEFAULT_RULES_JSON).expect("default rules compile");
        let [rule] = rules.rules() else { panic!("one default rule") };
        assert_eq!(rule.name, "essential-container-exited");
        assert_eq!(
            rule.pattern.source(),
            &json!({"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"],
                    "detail": {"lastStatus": ["STOPPED"],
                               "stoppedReason": ["Essential container in task exited"]}})
        );
        assert_eq!(RuleSet::default_rules().rules().len(), 1);
    }

    #[test]
    fn given_the_example_rules_then_they_compile() {
        let rules = RuleSet::from_json(include_str!("../../../rules/examples.json"))
            .expect("example rules compile");
        assert_eq!(rules.rules().len(), 6);
    }

    #[test]
    fn given_an_invalid_pattern_then_the_error_names_the_rule_and_the_field() {
        let error = RuleSet::from_json(
            r#"[{"name": "ok", "pattern": {"source": ["aws.ecs"]}},
                {"name": "bad", "pattern": {"detail": {"stopCode": [{"sufix": "x"}]}}}]"#,
        )
        .expect_err("invalid pattern");
        let text = error.to_string();
        assert!(text.starts_with("rule #2 \"bad\": pattern detail.stopCode"), "{text}");
    }

    #[test]
    fn given_two_rules_with_one_name_then_the_error_names_both_positions() {
        let error = RuleSet::from_json(
            r#"[{"name": "a", "pattern": {"source": ["aws.ecs"]}},
                {"name": "a", "pattern": {"source": ["aws.ecs"]}}]"#,
        )
        .expect_err("duplicate");
        assert_eq!(error.to_string(), "rule #2 \"a\": the name is already used by rule #1");
    }

    #[test]
    fn given_several_problems_then_each_is_reported_in_file_order() {
        let error = RuleSet::from_json(
            r#"[{"name": "stopped", "pattern": {"detail-type": ["ECS Task State Change"],
                                                "detail": {"lastStaus": ["STOPPED"]}}},
                {"name": "bad", "pattern": {"detail": {"stopCode": [{"sufix": "x"}]}}},
                {"name": "stopped", "pattern": {"detail": {"lastStatus": ["STOPED"]}}}]"#,
        )
        .expect_err("problems");
        let RuleError::Several(errors) = &error else { panic!("several: {error}") };
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert_eq!(
            lines[0],
            "rule #1 \"stopped\": detail.lastStaus: ECS Task State Change events have no such \
             field; did you mean `lastStatus`?"
        );
        assert!(lines[1].starts_with("rule #2 \"bad\": pattern detail.stopCode"), "{lines:#?}");
        assert_eq!(lines[2], "rule #3 \"stopped\": the name is already used by rule #1");
        assert!(
            lines[3].starts_with("rule #3 \"stopped\": detail.lastStatus: \"STOPED\""),
            "{lines:#?}"
        );
        assert_eq!(error.to_string(), lines.join("\n"));
    }

    #[test]
    fn given_a_name_with_spaces_then_it_is_refused() {
        let error = RuleSet::from_json(r#"[{"name": "my rule", "pattern": {"source": ["x"]}}]"#)
            .expect_err("bad name");
        assert!(matches!(error, RuleError::InvalidName { index: 1, .. }), "{error}");
    }

    #[test]
    fn given_an_unknown_key_in_a_rule_then_the_error_names_it() {
        let error = RuleSet::from_json(r#"[{"name": "a", "patern": {}}]"#).expect_err("typo");
        assert!(error.to_string().contains("unknown field `patern`"), "{error}");
    }

    #[test]
    fn given_an_empty_file_then_it_is_refused() {
        assert_eq!(RuleSet::from_json("[]").expect_err("empty"), RuleError::Empty);
    }

    #[test]
    fn given_a_rules_file_saved_with_a_byte_order_mark_then_it_reads_as_without() {
        let rules = RuleSet::from_json(&format!("{}{DEFAULT_RULES_JSON}", crate::event::UTF8_BOM))
            .expect("a BOM is skipped");
        assert_eq!(rules.rules()[0].name, "essential-container-exited");
    }

    #[test]
    fn given_a_rule_with_a_number_that_underflows_then_the_error_names_rule_and_field() {
        let error = RuleSet::from_json(
            r#"[{"name": "tiny", "pattern": {"detail": {"cpu": [{"numeric": ["=", 1E-325]}]}}}]"#,
        )
        .expect_err("underflow");
        assert!(
            error.to_string().starts_with("rule #1 \"tiny\": pattern detail.cpu: number 1E-325"),
            "{error}"
        );
    }

    #[test]
    fn given_group_settings_then_each_rule_groups_as_it_says() {
        let rules = RuleSet::from_json(
            r#"[{"name": "a", "pattern": {"source": ["aws.ecs"]}},
                {"name": "b", "pattern": {"source": ["aws.ecs"]}, "group": false},
                {"name": "c", "pattern": {"source": ["aws.ecs"]},
                 "group": {"window": "1h30m", "crashLoopAfter": 3}}]"#,
        )
        .expect("rules");
        let [a, b, c] = rules.rules() else { panic!("three rules") };
        assert_eq!(a.group, Some(GroupSettings::default()));
        assert_eq!(b.group, None);
        assert_eq!(
            c.group,
            Some(GroupSettings { window: Duration::from_secs(5_400), crash_loop_after: 3 })
        );
    }

    #[test]
    fn given_invalid_group_settings_then_the_error_names_the_rule_and_the_value() {
        for (group, expected) in [
            (r#"{"window": "10 minutes"}"#, "group: window \"10 minutes\" is not a duration"),
            (r#"{"window": "30s"}"#, "group: window \"30s\" is out of range"),
            (r#"{"window": "25h"}"#, "group: window \"25h\" is out of range"),
            (r#"{"crashLoopAfter": 1}"#, "group: crashLoopAfter 1 is out of range"),
            (r#"{"windw": "10m"}"#, "unknown field"),
            (r#""yes""#, "group: expected false, true or"),
        ] {
            let text = format!(
                r#"[{{"name": "g", "pattern": {{"source": ["aws.ecs"]}}, "group": {group}}}]"#
            );
            let error = RuleSet::from_json(&text).expect_err(group).to_string();
            assert!(error.contains(expected), "{group}: {error}");
        }
    }

    #[test]
    fn given_severity_exit_codes_and_completed_then_each_rule_keeps_its_own() {
        let rules = RuleSet::from_json(
            r#"[{"name": "a", "pattern": {"source": ["aws.ecs"]}},
                {"name": "job", "pattern": {"source": ["aws.ecs"]}, "severity": "warning",
                 "expectedExitCodes": [3, 0, 3], "completed": "only"}]"#,
        )
        .expect("rules")
        .with_expected_exit_codes(vec![0, 1]);
        let [a, job] = rules.rules() else { panic!("two rules") };
        assert_eq!((a.severity, a.completed), (None, Completions::Quiet));
        assert_eq!(rules.expected_exit_codes(a), [0, 1], "the rule set's default");
        assert_eq!((job.severity, job.completed), (Some(Severity::Warning), Completions::Only));
        assert!(!job.completed.tells(Some(TaskOutcome::Failed)));
        assert!(job.completed.tells(Some(TaskOutcome::Completed)));
        assert!(!Completions::Quiet.tells(Some(TaskOutcome::Completed)));
        assert!(Completions::Tell.tells(Some(TaskOutcome::Failed)));
        assert_eq!(rules.expected_exit_codes(job), [0, 3], "sorted, without repeats");
    }

    #[test]
    fn given_invalid_severity_or_exit_codes_then_the_error_names_the_rule_and_the_value() {
        for (setting, expected) in [
            (r#""severity": "critical""#, r#"severity "critical" is not one of"#),
            (r#""expectedExitCodes": []"#, "expectedExitCodes must list 1 to 32"),
            (r#""expectedExitCodes": [256]"#, "expectedExitCodes: 256 is not an exit code"),
            (r#""expectedExitCodes": "0""#, "invalid type"),
            (r#""completed": "yes""#, r#"completed must be false, true or "only", found "yes""#),
        ] {
            let text =
                format!(r#"[{{"name": "job", "pattern": {{"source": ["aws.ecs"]}}, {setting}}}]"#);
            let error = RuleSet::from_json(&text).expect_err(setting).to_string();
            assert!(error.contains(expected), "{setting}: {error}");
            assert!(
                error.starts_with("rule #1 \"job\"") || error.starts_with("rules file"),
                "{error}"
            );
        }
    }

    #[test]
    fn given_durations_then_they_parse_in_hours_minutes_seconds_order() {
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h5m10s"), Some(Duration::from_secs(3_910)));
        for bad in ["", "m", "10", "10x", "5m1h", "-1m", "1.5h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
