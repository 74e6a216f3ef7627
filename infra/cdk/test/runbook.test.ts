// The operations runbook (docs/runbook.md, issue #27) has an entry for every alarm the CDK app
// creates with any of its options, and every entry names an alarm the app creates.
//
// Matching, as in infra/tests/test_runbook.py (which checks the SAM template and the default
// synth): an entry is a level-2 heading made of one code span, ## `ListenerErrorsAlarm`; its name
// is the alarm's construct id (the logical id without CDK's hash); `<Rule>` in it stands for an
// alert rule's name in PascalCase (ruleLogicalId: the EventBridge rule is `AlertRule<Rule>`).
// Each alarm matches exactly one entry. The default synth lacks the alarms of the options (the SQS
// buffer's, the forwarding rule's, those of more alert rules): this test synthesizes them.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import { buildApp } from '../lib/app';

const CDK_DIR = path.resolve(__dirname, '..');
const RUNBOOK = path.resolve(CDK_DIR, '../../docs/runbook.md');
const EXAMPLE_RULES = path.resolve(CDK_DIR, '../../rules/examples.json');
/** The feature flags of cdk.json, so the test synthesizes what `cdk synth` does. */
const CDK_JSON_CONTEXT = JSON.parse(fs.readFileSync(path.join(CDK_DIR, 'cdk.json'), 'utf8')).context;
const RULE_PLACEHOLDER = '<Rule>';

/** The alarm names of the runbook's entries (fenced code is not read). */
function runbookEntries(text: string): string[] {
  const entries: string[] = [];
  let inFence = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) inFence = !inFence;
    if (inFence) continue;
    const match = /^## `([^`]+)`\s*$/.exec(line);
    if (match) entries.push(match[1]);
  }
  return entries;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The construct ids an entry covers: its name, `<Rule>` standing for a PascalCase rule name. */
function entryPattern(name: string): RegExp {
  return new RegExp(`^${name.split(RULE_PLACEHOLDER).map(escape).join('(?<rule>[A-Z0-9][A-Za-z0-9]*)')}$`);
}

/** The alarms' construct ids and the EventBridge rules' ids of the app with `context`. */
function synth(context: Record<string, unknown>): { alarms: string[]; rules: Set<string> } {
  const { stack } = buildApp({ context: { ...CDK_JSON_CONTEXT, skipBundling: 'true', ...context } });
  const constructs = stack.node.findAll();
  return {
    alarms: constructs.filter((c) => c instanceof cloudwatch.Alarm).map((c) => c.node.id),
    rules: new Set(constructs.filter((c) => c instanceof events.CfnRule).map((c) => c.node.id)),
  };
}

test('every alarm of the CDK app, with every option, has one runbook entry, and every entry an alarm', () => {
  const entries = runbookEntries(fs.readFileSync(RUNBOOK, 'utf8'));
  assert.ok(entries.includes('ListenerErrorsAlarm'), `entries read from ${RUNBOOK}: ${entries}`);
  const patterns = new Map(entries.map((name) => [name, entryPattern(name)]));
  const variants: Record<string, Record<string, unknown>> = {
    default: {},
    // Every optional alarm: the buffer's two, the forwarding rule's two, two per example rule.
    'buffer, organization, example rules': {
      useSqsBuffer: 'true',
      organizationId: 'o-a1b2c3d4e5',
      rulesFile: EXAMPLE_RULES,
    },
    'member accounts, no reconcile schedule': { memberAccountIds: '111122223333', reconcileIntervalMinutes: '0' },
  };
  const problems: string[] = [];
  const covered = new Set<string>();
  for (const [variant, context] of Object.entries(variants)) {
    const { alarms, rules } = synth(context);
    assert.ok(alarms.length > 0, variant);
    for (const alarm of alarms) {
      const matching = entries.filter((name) => patterns.get(name)!.test(alarm));
      matching.forEach((name) => covered.add(name));
      if (matching.length !== 1) {
        problems.push(`${variant}: alarm ${alarm} matches ${matching.length} runbook entries (${matching.join(', ')})`);
        continue;
      }
      const rule = patterns.get(matching[0])!.exec(alarm)?.groups?.rule;
      if (rule !== undefined && !rules.has(`AlertRule${rule}`)) {
        problems.push(`${variant}: alarm ${alarm} has no EventBridge rule AlertRule${rule}`);
      }
    }
  }
  for (const name of entries.filter((entry) => !covered.has(entry))) {
    problems.push(`runbook entry ${name} names no alarm of the CDK app`);
  }
  assert.deepEqual(problems, []);
});
