import * as fs from 'node:fs';

/** How a rule's matches become incidents: `false` one message per task, `true` or absent the defaults. */
export type AlertRuleGroup = boolean | { readonly window?: string; readonly crashLoopAfter?: number };

/** One alert rule of the rules file (rules/default.json): the same file the alerter reads. */
export interface AlertRule {
  readonly name: string;
  readonly description?: string;
  /** An EventBridge event pattern, passed to EventBridge unchanged. */
  readonly pattern: Record<string, unknown>;
  /**
   * Grouping into incidents, for the alerter only (no part of the pattern). Checked here by shape;
   * the alerter checks the values (durations, ranges) at start-up.
   */
  readonly group?: AlertRuleGroup | null;
  /** The severity of the rule's messages: `error`, `warning` or `info` (the alerter checks the value). */
  readonly severity?: string | null;
  /** The exit codes that mean a task finished its work, e.g. [0, 3] (default: the stack's expectedExitCodes). */
  readonly expectedExitCodes?: number[] | null;
  /** What the rule tells of tasks that finished their work: false (default), true or "only". */
  readonly completed?: boolean | string | null;
}

/** The fields of a rule the alerter reads; it refuses any other at start-up. */
export const RULE_FIELDS = ['name', 'description', 'pattern', 'group', 'severity', 'expectedExitCodes', 'completed'];
/** The fields of a rule's "group" object, and their JSON types. */
const GROUP_FIELDS: Record<string, 'string' | 'integer'> = { window: 'string', crashLoopAfter: 'integer' };

/** Rule names become logical ids, descriptions and alert keys: keep them short and plain. */
export const RULE_NAME = /^[A-Za-z0-9._-]{1,40}$/;

/**
 * The EventBridge rule's logical id, as scripts/sync-rules names it in the SAM template:
 * "AlertRule" + the name's alphanumeric parts, each capitalised (essential-container-exited →
 * AlertRuleEssentialContainerExited).
 */
export function ruleLogicalId(name: string): string {
  return (
    'AlertRule' +
    name
      .split(/[^A-Za-z0-9]+/)
      .map((part) => part.slice(0, 1).toUpperCase() + part.slice(1))
      .join('')
  );
}

/** EventBridge's predefined input-transformer variable for the whole event (a JSON value). */
export const EVENT_JSON = '<aws.events.event.json>';

/**
 * The alerter's input template for one rule, as scripts/sync-rules writes it: the rule's name
 * (JSON-escaped) and the event, so the alerter sends that rule's alert without matching again.
 */
export function alerterInputTemplate(name: string): string {
  return `{"rule": ${JSON.stringify(name)}, "event": ${EVENT_JSON}}`;
}

/**
 * Reads and validates a rules file: a JSON array of {"name", "description", "pattern", "group",
 * "severity", "expectedExitCodes", "completed"}.
 * Throws an Error naming the file and the offending rule on any problem.
 *
 * Returns the parsed array as it is in the file (no field renamed, dropped or added), so that
 * `JSON.stringify(rules)` is what the alerter gets and each `pattern` is what EventBridge gets.
 */
export function loadAlertRules(file: string): AlertRule[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the alert rules file ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`the alert rules file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return validateAlertRules(parsed, file);
}

/** Validates already-parsed rules (see loadAlertRules); `source` names them in errors. */
export function validateAlertRules(parsed: unknown, source: string): AlertRule[] {
  if (!Array.isArray(parsed)) {
    throw new Error(`the alert rules file ${source} must hold a JSON array of {"name","description","pattern"}`);
  }
  // The alerter refuses an empty rule set at start-up ("rules file: no rules"): refuse it here,
  // before a deploy that would leave the alerter failing every invocation.
  if (parsed.length === 0) {
    throw new Error(`the alert rules file ${source} has no rules: the alerter refuses an empty rule set (give at least one rule)`);
  }
  const seen = new Set<string>();
  const logicalIds = new Map<string, string>();
  parsed.forEach((rule: unknown, index: number) => {
    const where = `alert rule #${index + 1} in ${source}`;
    if (!isObject(rule)) {
      throw new Error(`${where} must be an object with "name", "description" and "pattern"`);
    }
    const name = rule.name;
    if (typeof name !== 'string') {
      throw new Error(`${where} has no string "name"`);
    }
    if (!RULE_NAME.test(name)) {
      throw new Error(
        `alert rule "${name}" in ${source} has an invalid name: use 1 to 40 characters of A-Z a-z 0-9 . _ -`,
      );
    }
    if (seen.has(name)) {
      throw new Error(`alert rule "${name}" appears more than once in ${source}: rule names must be unique`);
    }
    seen.add(name);
    const logicalId = ruleLogicalId(name);
    const clash = logicalIds.get(logicalId);
    if (clash !== undefined) {
      throw new Error(
        `alert rules "${clash}" and "${name}" in ${source} both become the EventBridge rule ${logicalId}: rename one`,
      );
    }
    logicalIds.set(logicalId, name);
    if (rule.description !== undefined && typeof rule.description !== 'string') {
      throw new Error(`alert rule "${name}" in ${source} has a "description" that is not a string`);
    }
    if (!isObject(rule.pattern) || Object.keys(rule.pattern).length === 0) {
      throw new Error(`alert rule "${name}" in ${source} needs a non-empty "pattern" object (an EventBridge event pattern)`);
    }
    const unknown = Object.keys(rule).filter((field) => !RULE_FIELDS.includes(field));
    if (unknown.length > 0) {
      throw new Error(
        `alert rule "${name}" in ${source} has an unknown field "${unknown[0]}" (known: ${RULE_FIELDS.join(', ')})`,
      );
    }
    const problem = groupProblem(rule.group) ?? settingProblem(rule);
    if (problem !== undefined) {
      throw new Error(`alert rule "${name}" in ${source}: ${problem}`);
    }
  });
  return parsed as AlertRule[];
}

/** What is wrong with a rule's "group" setting, by shape only (undefined/null: the defaults). */
function groupProblem(group: unknown): string | undefined {
  if (group === undefined || group === null || typeof group === 'boolean') return undefined;
  if (!isObject(group)) {
    return `"group" must be false, true or an object such as {"window": "10m", "crashLoopAfter": 5}, not ${JSON.stringify(group)}`;
  }
  for (const [field, value] of Object.entries(group)) {
    const wanted = GROUP_FIELDS[field];
    if (wanted === undefined) {
      return `"group" has an unknown field "${field}" (known: ${Object.keys(GROUP_FIELDS).join(', ')})`;
    }
    if (value === null) continue;
    const fits = wanted === 'string' ? typeof value === 'string' : Number.isInteger(value);
    if (!fits) {
      return `"group.${field}" must be a ${wanted === 'string' ? 'string' : 'whole number'}, not ${JSON.stringify(value)}`;
    }
  }
  return undefined;
}

/**
 * What is wrong with a rule's "severity", "expectedExitCodes" or "completed", by shape only (absent
 * or null: the defaults); the alerter checks the values at start-up.
 */
function settingProblem(rule: Record<string, unknown>): string | undefined {
  const { severity, expectedExitCodes, completed } = rule;
  if (severity !== undefined && severity !== null && typeof severity !== 'string') {
    return `"severity" must be a string (error, warning or info), not ${JSON.stringify(severity)}`;
  }
  if (
    expectedExitCodes !== undefined &&
    expectedExitCodes !== null &&
    !(Array.isArray(expectedExitCodes) && expectedExitCodes.every((code) => Number.isInteger(code)))
  ) {
    return `"expectedExitCodes" must be an array of whole numbers such as [0, 3], not ${JSON.stringify(expectedExitCodes)}`;
  }
  if (completed !== undefined && completed !== null && typeof completed !== 'boolean' && typeof completed !== 'string') {
    return `"completed" must be false, true or "only", not ${JSON.stringify(completed)}`;
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
