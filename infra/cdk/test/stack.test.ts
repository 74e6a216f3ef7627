import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { BUNDLING_STACKS, buildApp } from '../lib/app';
import {
  EcsEventsStack,
  FLUSH_DIGESTS_INPUT,
  LAMBDA_ENV_LIMIT_BYTES,
  MAX_ACCOUNT_NAMES_BYTES,
  TASK_DEPLOYMENT_INDEX_ATTRIBUTES,
  TOKEN_VALUE_BYTES,
} from '../lib/ecs-events-stack';

const CDK_DIR = path.resolve(__dirname, '..');
const DEFAULT_RULES_FILE = path.resolve(CDK_DIR, '../../rules/default.json');
const DEFAULT_RULES = JSON.parse(fs.readFileSync(DEFAULT_RULES_FILE, 'utf8')) as {
  name: string;
  pattern: Record<string, unknown>;
}[];
/** The feature flags of cdk.json, so the tests synthesize what `cdk synth` does. */
const CDK_JSON_CONTEXT = JSON.parse(fs.readFileSync(path.join(CDK_DIR, 'cdk.json'), 'utf8')).context;

// A stand-in `cargo` first on PATH: it answers cargo-lambda-cdk's `cargo lambda --version` probe
// (so bundling *would* run locally) and records every call. A `cargo lambda build` would fail the
// synth and show in the log, so the tests prove that skipBundling compiles nothing.
const shimDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-events-cargo-shim-'));
const shimLog = path.join(shimDir, 'calls.log');
fs.writeFileSync(
  path.join(shimDir, 'cargo'),
  `#!/bin/sh\necho "$*" >> "${shimLog}"\n[ "$1 $2" = "lambda --version" ] && { echo "cargo-lambda shim"; exit 0; }\nexit 97\n`,
  { mode: 0o755 },
);
process.env.PATH = `${shimDir}${path.delimiter}${process.env.PATH}`;
after(() => fs.rmSync(shimDir, { recursive: true, force: true }));

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-events-rules-'));
after(() => fs.rmSync(tmpDir, { recursive: true, force: true }));

function synth(context: Record<string, unknown> = {}): { stack: EcsEventsStack; template: Template } {
  const { stack } = buildApp({
    context: {
      ...CDK_JSON_CONTEXT,
      // Set by the CLI; the tests find resources by their construct path.
      'aws:cdk:enable-path-metadata': true,
      skipBundling: 'true',
      ...context,
    },
  });
  return { stack, template: Template.fromStack(stack) };
}

function writeRules(name: string, rules: unknown): string {
  const file = path.join(tmpDir, name);
  fs.writeFileSync(file, JSON.stringify(rules, null, 2));
  return file;
}

/** One rule whose ALERT_RULES (JSON.stringify of the file) takes exactly `bytes` bytes. */
function rulesOfSize(bytes: number) {
  const rule = { name: 'big', description: '', pattern: { source: ['aws.ecs'] } };
  const rules = [{ ...rule, description: 'x'.repeat(bytes - JSON.stringify([rule]).length) }];
  assert.equal(Buffer.byteLength(JSON.stringify(rules)), bytes);
  return rules;
}

/** A valid accountNames of exactly `bytes` bytes: as few entries as names of at most 64 characters allow. */
function accountNamesOfSize(bytes: number): string {
  // n entries take 14 bytes each besides their names (12-digit id, "=", ","), less one comma.
  const count = Math.ceil((bytes + 1) / (14 + 64));
  let left = bytes + 1 - 14 * count;
  const entries = Array.from({ length: count }, (_, i) => {
    const length = Math.ceil(left / (count - i));
    left -= length;
    const name = `account-${i}-`;
    return `${100000000000 + i}=${(name + 'x'.repeat(64)).slice(0, length)}`;
  });
  const value = entries.join(',');
  assert.equal(Buffer.byteLength(value), bytes);
  return value;
}

/** A constant of scripts/sync-rules (`NAME = 123`), the SAM side of the alerter's 4 KB budget. */
function syncRulesConstant(name: string): number {
  const source = fs.readFileSync(path.resolve(CDK_DIR, '../../scripts/sync-rules'), 'utf8');
  const match = new RegExp(`^${name} = (\\d+)$`, 'm').exec(source);
  assert.ok(match, `${name} in scripts/sync-rules`);
  return Number(match[1]);
}

type Resources = Record<string, { Type: string; Properties: Record<string, any>; [key: string]: any }>;

function resourcesOf(template: Template, type: string): Resources {
  return template.findResources(type) as Resources;
}

/** The logical id of the one resource of `type` whose construct path ends with `suffix`. */
function logicalIdOf(stack: Stack, template: Template, type: string, suffix: string): string {
  const matches = Object.entries(resourcesOf(template, type)).filter(([, r]) =>
    String(r.Metadata?.['aws:cdk:path'] ?? '').endsWith(suffix),
  );
  assert.equal(matches.length, 1, `one ${type} at ${stack.stackName}/…${suffix}`);
  return matches[0][0];
}

function functionBy(template: Template, binary: string) {
  const matches = Object.values(resourcesOf(template, 'AWS::Lambda::Function')).filter((fn) =>
    String(fn.Metadata?.['aws:cdk:path']).startsWith(`EcsEvents/${pascal(binary)}Function/`),
  );
  assert.equal(matches.length, 1, `function ${binary}`);
  return matches[0];
}

function pascal(name: string) {
  return name
    .split('-')
    .map((p) => p[0].toUpperCase() + p.slice(1))
    .join('');
}

/** Every (action → resources) pair a role's policies allow. */
function allowedActions(template: Template, roleLogicalId: string): string[] {
  const policies = Object.values(resourcesOf(template, 'AWS::IAM::Policy')).filter((p) =>
    (p.Properties.Roles as any[]).some((r) => r.Ref === roleLogicalId),
  );
  return policies
    .flatMap((p) => p.Properties.PolicyDocument.Statement as any[])
    .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]))
    .sort();
}

/**
 * The rule an alert target's input template names. The predefined variable is a JSON value
 * (unquoted): with it replaced, the template must be exactly {"rule": <name>, "event": {}}.
 */
function ruleOfInputTemplate(inputTemplate: string): string {
  assert.ok(inputTemplate.length <= 8192, 'EventBridge input templates take at most 8192 characters');
  assert.equal(inputTemplate.split('<aws.events.event.json>').length, 2, inputTemplate);
  const payload = JSON.parse(inputTemplate.replace('<aws.events.event.json>', '{}'));
  assert.deepEqual(Object.keys(payload).sort(), ['event', 'rule'], inputTemplate);
  assert.deepEqual(payload.event, {}, inputTemplate);
  assert.equal(typeof payload.rule, 'string', inputTemplate);
  return payload.rule;
}

/**
 * Each alert rule invokes the alerter with {"rule": <its name>, "event": <the event>} (issue #13:
 * one invocation per (event, rule), no re-matching): exactly the names of `rules`, each on the
 * EventBridge rule of its own pattern. Other rules deliver the event itself.
 */
function assertAlertRuleInputs(template: Template, rules: { name: string; pattern: unknown }[]) {
  const deployed: Record<string, unknown> = {};
  for (const [ruleId, rule] of Object.entries(resourcesOf(template, 'AWS::Events::Rule'))) {
    if (rule.Properties.ScheduleExpression !== undefined) continue; // the schedules (constant input)
    for (const target of rule.Properties.Targets as any[]) {
      if (target.Id !== 'alerter') {
        assert.equal(target.InputTransformer, undefined, `${ruleId} → ${target.Id}`);
        continue;
      }
      assert.deepEqual(target.InputTransformer?.InputPathsMap, {}, ruleId);
      const name = ruleOfInputTemplate(target.InputTransformer.InputTemplate);
      assert.equal(deployed[name], undefined, `two rules name ${name}`);
      deployed[name] = rule.Properties.EventPattern;
    }
  }
  assert.deepStrictEqual(deployed, Object.fromEntries(rules.map((rule) => [rule.name, rule.pattern])));
}

/** The (Sid, resource) of every sqs:SendMessage a role's policies allow. */
function sendMessageGrants(template: Template, roleLogicalId: string): [string, unknown][] {
  return Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as any[]).some((r) => r.Ref === roleLogicalId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as any[])
    .filter((s) => [s.Action].flat().includes('sqs:SendMessage'))
    .map((s): [string, unknown] => {
      assert.equal(s.Action, 'sqs:SendMessage', `${s.Sid} grants only sqs:SendMessage`);
      return [s.Sid, s.Resource];
    })
    .sort(([a], [b]) => a.localeCompare(b));
}

/** Logical ids of the EventBridge rules on an event pattern: the all-ECS rule and one per alert rule. */
function ruleIdsOf(template: Template): string[] {
  return Object.entries(resourcesOf(template, 'AWS::Events::Rule'))
    .filter(([, rule]) => rule.Properties.EventPattern !== undefined)
    .map(([id]) => id)
    .sort();
}

/** Logical ids of the EventBridge rules on a schedule: the digest flush (issue #14), the reconciler's (#16). */
function scheduleRuleIdsOf(template: Template): string[] {
  return Object.entries(resourcesOf(template, 'AWS::Events::Rule'))
    .filter(([, rule]) => rule.Properties.ScheduleExpression !== undefined)
    .map(([id]) => id)
    .sort();
}

/**
 * Every pattern rule has a FailedInvocations and an InvocationsFailedToBeSentToDlq alarm on its
 * RuleName, to the topic; the schedules (no DLQ) their FailedInvocations alarm only.
 */
function assertDeliveryAlarms(stack: Stack, template: Template) {
  const topicId = logicalIdOf(stack, template, 'AWS::SNS::Topic', '/AlertTopic/Resource');
  const ruleIds = ruleIdsOf(template);
  const scheduleIds = scheduleRuleIdsOf(template);
  assert.deepEqual(scheduleIds, ['DigestFlushSchedule', 'ReconcileSchedule']);
  for (const ruleId of [...ruleIds, ...scheduleIds]) {
    const metrics = scheduleIds.includes(ruleId) ? ['FailedInvocations'] : ['FailedInvocations', 'InvocationsFailedToBeSentToDlq'];
    for (const metric of metrics) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Events',
        MetricName: metric,
        Statistic: 'Sum',
        Dimensions: [{ Name: 'RuleName', Value: { Ref: ruleId } }],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        AlarmActions: [{ Ref: topicId }],
      });
    }
  }
  const eventsAlarms = Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm')).filter(
    (a) => a.Properties.Namespace === 'AWS/Events',
  );
  assert.equal(eventsAlarms.length, 2 * ruleIds.length + scheduleIds.length);
  assert.ok(
    !eventsAlarms.some(
      (a) => a.Properties.MetricName === 'InvocationsFailedToBeSentToDlq' && scheduleIds.includes(a.Properties.Dimensions[0].Value.Ref),
    ),
    'the schedule has no DLQ to fail into',
  );
}

describe('default stack (direct, rules/default.json)', () => {
  const { stack, template } = synth();

  test('cdk-nag AwsSolutions: no unsuppressed errors or warnings', () => {
    assert.deepEqual(Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')), []);
    assert.deepEqual(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')), []);
    assert.deepEqual(Annotations.fromStack(stack).findError('*', Match.anyValue()), []);
  });

  test('bundling is skipped: no cargo build ran and the stack does not require bundling', () => {
    assert.deepEqual(stack.node.tryGetContext(BUNDLING_STACKS), []);
    assert.equal(stack.bundlingRequired, false);
    const calls = fs.existsSync(shimLog) ? fs.readFileSync(shimLog, 'utf8') : '';
    assert.doesNotMatch(calls, /build/, `cargo was asked to build: ${calls}`);
  });

  test('four Rust functions: arm64, provided.al2023, 128 MB, bootstrap, JSON logs to their own group', () => {
    template.resourceCountIs('AWS::Lambda::Function', 4);
    const timeouts: Record<string, number> = { listener: 10, 'state-tracker': 30, alerter: 30, reconciler: 300 };
    for (const [binary, timeout] of Object.entries(timeouts)) {
      const fn = functionBy(template, binary);
      assert.equal(fn.Properties.Runtime, 'provided.al2023', binary);
      assert.deepEqual(fn.Properties.Architectures, ['arm64'], binary);
      assert.equal(fn.Properties.MemorySize, 128, binary);
      assert.equal(fn.Properties.Handler, 'bootstrap', binary);
      assert.equal(fn.Properties.Timeout, timeout, binary);
      assert.equal(fn.Properties.LoggingConfig.LogFormat, 'JSON', binary);
      assert.equal(fn.Properties.LoggingConfig.ApplicationLogLevel, 'INFO', binary);
      assert.equal(fn.Properties.LoggingConfig.SystemLogLevel, 'WARN', binary);
      const groupId = fn.Properties.LoggingConfig.LogGroup.Ref;
      const group = resourcesOf(template, 'AWS::Logs::LogGroup')[groupId];
      assert.equal(group.Properties.LogGroupName, `/ecs-events/EcsEvents/${binary}`);
      assert.equal(group.Properties.RetentionInDays, 30);
    }
  });

  test('environment variables are exactly those of the SAM template', () => {
    assert.equal(functionBy(template, 'listener').Properties.Environment, undefined);
    const tracker = functionBy(template, 'state-tracker').Properties.Environment.Variables;
    assert.deepEqual(Object.keys(tracker).sort(), [
      'CONTAINER_INSTANCE_RETENTION_DAYS',
      'CONTAINER_INSTANCE_TABLE',
      'DEPLOYMENT_TABLE',
      'SERVICE_TABLE',
      'STOPPED_TASK_RETENTION_DAYS',
      'TASK_TABLE',
    ]);
    // Issue #24: services and deployments.
    const serviceTable = { Ref: logicalIdOf(stack, template, 'AWS::DynamoDB::Table', '/ServiceStateTable/Resource') };
    const deploymentTable = {
      Ref: logicalIdOf(stack, template, 'AWS::DynamoDB::Table', '/DeploymentStateTable/Resource'),
    };
    assert.deepEqual(tracker.SERVICE_TABLE, serviceTable);
    assert.deepEqual(tracker.DEPLOYMENT_TABLE, deploymentTable);
    assert.deepEqual(tracker.TASK_TABLE, { Ref: logicalIdOf(stack, template, 'AWS::DynamoDB::Table', '/TaskStateTable/Resource') });
    assert.deepEqual(tracker.CONTAINER_INSTANCE_TABLE, {
      Ref: logicalIdOf(stack, template, 'AWS::DynamoDB::Table', '/ContainerInstanceStateTable/Resource'),
    });
    assert.equal(tracker.STOPPED_TASK_RETENTION_DAYS, '7');
    assert.equal(tracker.CONTAINER_INSTANCE_RETENTION_DAYS, '7');
    const alerter = functionBy(template, 'alerter').Properties.Environment.Variables;
    // No ALERT_CLAIM_SECONDS (issue #13): a claim lasts until the invocation's deadline.
    assert.deepEqual(Object.keys(alerter).sort(), [
      'ALERT_RULES',
      'CHAT_TOPIC_ARN',
      'DEPLOYMENT_TABLE',
      'EXPECTED_EXIT_CODES',
      'INCIDENT_TABLE',
      'LEDGER_TABLE',
      'SERVICE_TABLE',
      'SILENCE_MINUTES',
      'TASK_TABLE',
      'TOPIC_ARN',
    ]);
    // Issue #24: SERVICE_TABLE set, the alerter watches services (and then needs the other two).
    assert.deepEqual(alerter.SERVICE_TABLE, serviceTable);
    assert.deepEqual(alerter.DEPLOYMENT_TABLE, deploymentTable);
    assert.deepEqual(alerter.TASK_TABLE, tracker.TASK_TABLE);
    assert.equal(alerter.SILENCE_MINUTES, '5');
    assert.equal(alerter.EXPECTED_EXIT_CODES, '0');
    assert.deepEqual(alerter.INCIDENT_TABLE, {
      Ref: logicalIdOf(stack, template, 'AWS::DynamoDB::Table', '/IncidentTable/Resource'),
    });
    // No chat by default: empty, which the alerter treats as unset (the SAM template's !If).
    assert.equal(alerter.CHAT_TOPIC_ARN, '');
    assert.deepEqual(alerter.TOPIC_ARN, { Ref: logicalIdOf(stack, template, 'AWS::SNS::Topic', '/AlertTopic/Resource') });
    assert.deepEqual(alerter.LEDGER_TABLE, {
      Ref: logicalIdOf(stack, template, 'AWS::DynamoDB::Table', '/AlertLedgerTable/Resource'),
    });
    // Issue #16: the tracker's tables and retentions, every cluster, the default call cap.
    const reconciler = functionBy(template, 'reconciler').Properties.Environment.Variables;
    // Issue #24: the services it writes (never the deployments).
    assert.deepEqual(reconciler, {
      TASK_TABLE: tracker.TASK_TABLE,
      CONTAINER_INSTANCE_TABLE: tracker.CONTAINER_INSTANCE_TABLE,
      STOPPED_TASK_RETENTION_DAYS: '7',
      CONTAINER_INSTANCE_RETENTION_DAYS: '7',
      SERVICE_TABLE: serviceTable,
      RECONCILE_CLUSTERS: '',
      RECONCILE_MAX_API_CALLS: '2000',
    });
  });

  test('ALERT_RULES is the rules file as compact JSON', () => {
    const rules = functionBy(template, 'alerter').Properties.Environment.Variables.ALERT_RULES;
    assert.equal(rules, JSON.stringify(DEFAULT_RULES));
    assert.deepEqual(JSON.parse(rules), DEFAULT_RULES);
  });

  test('least-privilege roles: no managed policies, only the SAM template actions', () => {
    for (const role of Object.values(resourcesOf(template, 'AWS::IAM::Role'))) {
      assert.equal(role.Properties.ManagedPolicyArns, undefined);
      assert.deepEqual(role.Properties.AssumeRolePolicyDocument.Statement, [
        { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
      ]);
    }
    const roleOf = (binary: string) => functionBy(template, binary).Properties.Role['Fn::GetAtt'][0];
    assert.deepEqual(allowedActions(template, roleOf('listener')), [
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'sqs:SendMessage',
    ]);
    assert.deepEqual(allowedActions(template, roleOf('state-tracker')), [
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'sqs:SendMessage',
    ]);
    assert.deepEqual(allowedActions(template, roleOf('alerter')), [
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:GetItem',
      'dynamodb:GetItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:Query',
      'dynamodb:Query',
      'dynamodb:Query',
      'dynamodb:Scan',
      'dynamodb:UpdateItem',
      'dynamodb:UpdateItem',
      'kms:Decrypt',
      'kms:GenerateDataKey*',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'sns:Publish',
      'sqs:SendMessage',
    ]);
    // Issue #16: ECS list and describe only (scoped: see the reconciler tests below).
    assert.deepEqual(allowedActions(template, roleOf('reconciler')), [
      'dynamodb:BatchGetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:Scan',
      'dynamodb:UpdateItem',
      'dynamodb:UpdateItem',
      'ecs:DescribeClusters',
      'ecs:DescribeContainerInstances',
      'ecs:DescribeServices',
      'ecs:DescribeTasks',
      'ecs:ListClusters',
      'ecs:ListContainerInstances',
      'ecs:ListServices',
      'ecs:ListTasks',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'sqs:SendMessage',
    ]);
    // Without a buffer, every function may send only to its on-failure queue.
    const functionsDlq = logicalIdOf(stack, template, 'AWS::SQS::Queue', '/FunctionsDeadLetterQueue/Resource');
    for (const binary of ['listener', 'state-tracker', 'alerter', 'reconciler']) {
      assert.deepEqual(
        sendMessageGrants(template, roleOf(binary)),
        [['OnFailureDestination', { 'Fn::GetAtt': [functionsDlq, 'Arn'] }]],
        binary,
      );
    }
    // PutItem on the two state tables only (not their index).
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'ConditionalWrites',
            Effect: 'Allow',
            Action: 'dynamodb:PutItem',
            Resource: Match.arrayEquals([
              { 'Fn::GetAtt': [logicalIdOf(stack, template, 'AWS::DynamoDB::Table', '/ContainerInstanceStateTable/Resource'), 'Arn'] },
              { 'Fn::GetAtt': [logicalIdOf(stack, template, 'AWS::DynamoDB::Table', '/TaskStateTable/Resource'), 'Arn'] },
            ]),
          },
        ]),
      },
    });
    // Each function may write only to its own log group.
    for (const binary of ['listener', 'state-tracker', 'alerter', 'reconciler']) {
      const groupId = functionBy(template, binary).Properties.LoggingConfig.LogGroup.Ref;
      template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [{ Ref: roleOf(binary) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            {
              Sid: 'Logs',
              Effect: 'Allow',
              Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
              Resource: { 'Fn::GetAtt': [groupId, 'Arn'] },
            },
          ]),
        },
      });
    }
  });

  test('state tables: keys, GSI projecting only what listing tasks reads, TTL, PITR, SSE, on-demand, retained', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 6);
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        TableName: 'ECSTaskState',
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'taskArn', KeyType: 'HASH' }],
        GlobalSecondaryIndexes: [
          {
            IndexName: 'clusterArn-lastStatus-index',
            KeySchema: [
              { AttributeName: 'clusterArn', KeyType: 'HASH' },
              { AttributeName: 'lastStatus', KeyType: 'RANGE' },
            ],
            // Issue #13 (10): not ALL (every attribute, the detail included, at 2-3x the write cost).
            Projection: {
              ProjectionType: 'INCLUDE',
              NonKeyAttributes: ['version', 'group', 'startedAt', 'stoppedAt', 'stopCode', 'failedContainers', 'missingSince'],
            },
          },
          // Issue #24: a deployment's tasks, beside the unchanged status index.
          {
            IndexName: 'deploymentId-index',
            KeySchema: [{ AttributeName: 'deploymentId', KeyType: 'HASH' }],
            Projection: {
              ProjectionType: 'INCLUDE',
              NonKeyAttributes: ['clusterArn', 'lastStatus', 'version', 'startedAt', 'stoppedAt', 'outcome', 'stopCause'],
            },
          },
        ],
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      },
    });
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        TableName: 'ECSCtrInstanceState',
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'containerInstanceArn', KeyType: 'HASH' }],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      },
    });
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: {
        TableName: Match.absent(),
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'alertKey', KeyType: 'HASH' }],
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      },
    });
  });

  test('alert topic: KMS-encrypted with a rotating key CloudWatch may use, HTTPS only, no subscription', () => {
    const keyId = logicalIdOf(stack, template, 'AWS::KMS::Key', '/AlertTopicKey/Resource');
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Retain',
      Properties: {
        EnableKeyRotation: true,
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
              Effect: 'Allow',
            }),
          ]),
        },
      },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish' }),
        ]),
      },
    });
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  test('DLQs: 14 days, SQS-managed encryption, HTTPS only', () => {
    const queues = resourcesOf(template, 'AWS::SQS::Queue');
    assert.equal(Object.keys(queues).length, 2);
    for (const [id, queue] of Object.entries(queues)) {
      assert.equal(queue.Properties.MessageRetentionPeriod, 1209600, id);
      assert.equal(queue.Properties.SqsManagedSseEnabled, true, id);
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  test('all ECS events → listener and state tracker, with retries and the events DLQ', () => {
    const eventsDlq = logicalIdOf(stack, template, 'AWS::SQS::Queue', '/EventsDeadLetterQueue/Resource');
    const target = (id: string, binary: string) => ({
      Id: id,
      Arn: { 'Fn::GetAtt': [logicalIdOf(stack, template, 'AWS::Lambda::Function', `/${pascal(binary)}Function/Resource`), 'Arn'] },
      RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 },
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': [eventsDlq, 'Arn'] } },
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.ecs'] },
      State: 'ENABLED',
      Targets: [target('listener', 'listener'), target('state-tracker', 'state-tracker')],
    });
    // The listener and the state tracker get the event itself (hasResourceProperties matches objects partially).
    const allEcsTargets = resourcesOf(template, 'AWS::Events::Rule').AllEcsEventsRule.Properties.Targets as any[];
    assert.deepEqual(
      allEcsTargets.map((t) => Object.keys(t).sort()),
      [0, 1].map(() => ['Arn', 'DeadLetterConfig', 'Id', 'RetryPolicy']),
    );
    // EventBridge may invoke the two functions, only from that rule.
    const permissions = Object.values(resourcesOf(template, 'AWS::Lambda::Permission'));
    // The two functions, one per alert rule, the digest flush and the reconciler's schedule.
    assert.equal(permissions.length, 2 + DEFAULT_RULES.length + 2);
    for (const permission of permissions) {
      assert.equal(permission.Properties.Principal, 'events.amazonaws.com');
      assert.ok(permission.Properties.SourceArn['Fn::GetAtt'], 'scoped to a rule ARN');
    }
    // ...and may dead-letter into the events DLQ only from this stack's rules, each by its exact ARN.
    const [dlqPolicy] = Object.values(resourcesOf(template, 'AWS::SQS::QueuePolicy')).filter(
      (p) => p.Properties.Queues[0].Ref === eventsDlq,
    );
    const [allow] = (dlqPolicy.Properties.PolicyDocument.Statement as any[]).filter((s) => s.Effect === 'Allow');
    assert.deepEqual(allow.Principal, { Service: 'events.amazonaws.com' });
    assert.deepEqual(Object.keys(allow.Condition), ['ArnEquals']);
    const sources = (allow.Condition.ArnEquals['aws:SourceArn'] as any[]).map((arn) => arn['Fn::GetAtt'][0]).sort();
    assert.deepEqual(sources, ruleIdsOf(template));
  });

  test('one EventBridge rule per alert rule, pattern exactly as in the rules file, to the alerter', () => {
    const rules = Object.values(resourcesOf(template, 'AWS::Events::Rule'));
    assert.equal(rules.length, 1 + DEFAULT_RULES.length + 2);
    const alerterId = logicalIdOf(stack, template, 'AWS::Lambda::Function', '/AlerterFunction/Resource');
    const eventsDlq = logicalIdOf(stack, template, 'AWS::SQS::Queue', '/EventsDeadLetterQueue/Resource');
    for (const rule of DEFAULT_RULES) {
      const matching = rules.filter((r) => r.Properties.Description?.startsWith(`Alert rule ${rule.name}:`));
      assert.equal(matching.length, 1, rule.name);
      assert.deepStrictEqual(matching[0].Properties.EventPattern, rule.pattern);
      assert.deepEqual(matching[0].Properties.Targets, [
        {
          Id: 'alerter',
          Arn: { 'Fn::GetAtt': [alerterId, 'Arn'] },
          // Issue #13 (1): one invocation per (event, rule), for that rule only.
          InputTransformer: {
            InputPathsMap: {},
            InputTemplate: `{"rule": "${rule.name}", "event": <aws.events.event.json>}`,
          },
          RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [eventsDlq, 'Arn'] } },
        },
      ]);
    }
    assertAlertRuleInputs(template, DEFAULT_RULES);
  });

  test('async invocations: 2 retries (the reconciler none: its next run redoes it), then the functions DLQ', () => {
    const functionsDlq = logicalIdOf(stack, template, 'AWS::SQS::Queue', '/FunctionsDeadLetterQueue/Resource');
    template.resourceCountIs('AWS::Lambda::EventInvokeConfig', 4);
    for (const [binary, retries] of Object.entries({ listener: 2, 'state-tracker': 2, alerter: 2, reconciler: 0 })) {
      const fnId = logicalIdOf(stack, template, 'AWS::Lambda::Function', `/${pascal(binary)}Function/Resource`);
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: fnId },
        MaximumRetryAttempts: retries,
        Qualifier: '$LATEST',
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [functionsDlq, 'Arn'] } } },
      });
    }
  });

  test('alarms: Errors and Throttles per function, visible messages per DLQ, all to the topic', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 10 + 2 * (1 + DEFAULT_RULES.length) + 2);
    const topicId = logicalIdOf(stack, template, 'AWS::SNS::Topic', '/AlertTopic/Resource');
    template.allResourcesProperties('AWS::CloudWatch::Alarm', {
      AlarmActions: [{ Ref: topicId }],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      EvaluationPeriods: 1,
      Period: 300,
      TreatMissingData: 'notBreaching',
    });
    for (const binary of ['listener', 'state-tracker', 'alerter', 'reconciler']) {
      const fnId = logicalIdOf(stack, template, 'AWS::Lambda::Function', `/${pascal(binary)}Function/Resource`);
      for (const metric of ['Errors', 'Throttles']) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'AWS/Lambda',
          MetricName: metric,
          Statistic: 'Sum',
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }],
        });
      }
    }
    for (const queue of ['EventsDeadLetterQueue', 'FunctionsDeadLetterQueue']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Statistic: 'Maximum',
        Dimensions: [
          {
            Name: 'QueueName',
            Value: { 'Fn::GetAtt': [logicalIdOf(stack, template, 'AWS::SQS::Queue', `/${queue}/Resource`), 'QueueName'] },
          },
        ],
      });
    }
  });

  test('alarms: FailedInvocations and InvocationsFailedToBeSentToDlq per rule, to the topic', () => {
    assertDeliveryAlarms(stack, template);
  });

  test('outputs', () => {
    const outputs = template.findOutputs('*');
    assert.deepEqual(Object.keys(outputs).sort(), [
      'AlertLedgerTableName',
      'AlertTopicArn',
      'ContainerInstanceTableName',
      'DeploymentTableName',
      'EventsDeadLetterQueueUrl',
      'FunctionsDeadLetterQueueUrl',
      'IncidentTableName',
      'ReconcilerFunctionName',
      'ServiceTableName',
      'TaskTableName',
    ]);
    assert.deepEqual(outputs.ServiceTableName.Value, {
      Ref: logicalIdOf(stack, template, 'AWS::DynamoDB::Table', '/ServiceStateTable/Resource'),
    });
    assert.deepEqual(outputs.DeploymentTableName.Value, {
      Ref: logicalIdOf(stack, template, 'AWS::DynamoDB::Table', '/DeploymentStateTable/Resource'),
    });
    assert.deepEqual(outputs.ReconcilerFunctionName.Value, {
      Ref: logicalIdOf(stack, template, 'AWS::Lambda::Function', '/ReconcilerFunction/Resource'),
    });
    assert.deepEqual(outputs.IncidentTableName.Value, {
      Ref: logicalIdOf(stack, template, 'AWS::DynamoDB::Table', '/IncidentTable/Resource'),
    });
    assert.deepEqual(outputs.TaskTableName.Value, {
      Ref: logicalIdOf(stack, template, 'AWS::DynamoDB::Table', '/TaskStateTable/Resource'),
    });
    assert.deepEqual(outputs.EventsDeadLetterQueueUrl.Value, {
      Ref: logicalIdOf(stack, template, 'AWS::SQS::Queue', '/EventsDeadLetterQueue/Resource'),
    });
  });

  test('no buffer resources in the direct variant', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
  });
});

describe('buffered stack (useSqsBuffer=true)', () => {
  const { stack, template } = synth({ useSqsBuffer: 'true' });

  test('cdk-nag AwsSolutions: no unsuppressed errors or warnings', () => {
    assert.deepEqual(Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')), []);
    assert.deepEqual(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')), []);
  });

  test('EventBridge → buffer queue → state tracker, failures reported per item', () => {
    const queueId = logicalIdOf(stack, template, 'AWS::SQS::Queue', '/TrackerBufferQueue/Resource');
    const bufferDlqId = logicalIdOf(stack, template, 'AWS::SQS::Queue', '/TrackerBufferDeadLetterQueue/Resource');
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 180,
      MessageRetentionPeriod: 1209600,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [bufferDlqId, 'Arn'] }, maxReceiveCount: 5 },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true });
    const trackerId = logicalIdOf(stack, template, 'AWS::Lambda::Function', '/StateTrackerFunction/Resource');
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      FunctionName: { Ref: trackerId },
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.ecs'] },
      Targets: Match.arrayWith([
        Match.objectLike({
          Id: 'state-tracker',
          Arn: { 'Fn::GetAtt': [queueId, 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 },
        }),
      ]),
    });
    // EventBridge may send to the buffer only from the all-ECS rule; it no longer invokes the tracker.
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': ['AllEcsEventsRule', 'Arn'] } } },
          }),
        ]),
      },
    });
    const permissions = Object.values(resourcesOf(template, 'AWS::Lambda::Permission'));
    assert.equal(permissions.length, 1 + DEFAULT_RULES.length + 2);
    assert.ok(permissions.every((p) => p.Properties.FunctionName['Fn::GetAtt'][0] !== trackerId));
  });

  test('the state tracker may consume the buffer queue and dead-letter into its DLQ (and nothing more)', () => {
    const trackerRole = functionBy(template, 'state-tracker').Properties.Role['Fn::GetAtt'][0];
    assert.deepEqual(allowedActions(template, trackerRole), [
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:ReceiveMessage',
      'sqs:SendMessage',
      'sqs:SendMessage',
    ]);
  });

  test('poison records: the state tracker sends them to the buffer DLQ it is told of, at once', () => {
    // Issue #13 (8): not after five receives; sqs:SendMessage on exactly that queue.
    const bufferDlqId = logicalIdOf(stack, template, 'AWS::SQS::Queue', '/TrackerBufferDeadLetterQueue/Resource');
    const functionsDlq = logicalIdOf(stack, template, 'AWS::SQS::Queue', '/FunctionsDeadLetterQueue/Resource');
    const tracker = functionBy(template, 'state-tracker');
    assert.deepEqual(tracker.Properties.Environment.Variables.DEAD_LETTER_QUEUE_URL, { Ref: bufferDlqId });
    assert.deepEqual(sendMessageGrants(template, tracker.Properties.Role['Fn::GetAtt'][0]), [
      ['OnFailureDestination', { 'Fn::GetAtt': [functionsDlq, 'Arn'] }],
      ['PoisonRecordsToDeadLetterQueue', { 'Fn::GetAtt': [bufferDlqId, 'Arn'] }],
    ]);
  });

  test('buffer age alarm: oldest message over 20 minutes, to the topic', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Statistic: 'Maximum',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [logicalIdOf(stack, template, 'AWS::SQS::Queue', '/TrackerBufferQueue/Resource'), 'QueueName'] },
        },
      ],
      Threshold: 1200,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: logicalIdOf(stack, template, 'AWS::SNS::Topic', '/AlertTopic/Resource') }],
    });
  });

  test('delivery alarms per rule, as in the direct variant', () => {
    assertDeliveryAlarms(stack, template);
  });

  test('buffer DLQ alarm and output', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 12 + 2 * (1 + DEFAULT_RULES.length) + 2);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: {
            'Fn::GetAtt': [logicalIdOf(stack, template, 'AWS::SQS::Queue', '/TrackerBufferDeadLetterQueue/Resource'), 'QueueName'],
          },
        },
      ],
    });
    assert.ok(template.findOutputs('TrackerBufferDeadLetterQueueUrl').TrackerBufferDeadLetterQueueUrl);
  });
});

describe('alert email', () => {
  test('an email subscription exists only when alertEmail is set', () => {
    synth({ alertEmail: '' }).template.resourceCountIs('AWS::SNS::Subscription', 0);
    const { stack, template } = synth({ alertEmail: 'ops@example.com' });
    template.resourceCountIs('AWS::SNS::Subscription', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: logicalIdOf(stack, template, 'AWS::SNS::Topic', '/AlertTopic/Resource') },
    });
  });

  test('a malformed email is refused', () => {
    assert.throws(() => synth({ alertEmail: 'not-an-email' }), /alertEmail "not-an-email" is not an email address/);
  });
});

describe('rules file (context rulesFile)', () => {
  const custom = [
    {
      name: 'oom-killed',
      description: 'A container was OOM-killed.',
      pattern: {
        source: ['aws.ecs'],
        'detail-type': ['ECS Task State Change'],
        detail: { lastStatus: ['STOPPED'], containers: { reason: [{ prefix: 'OutOfMemoryError' }] } },
      },
    },
    {
      name: 'exit.code_nonzero',
      pattern: {
        source: ['aws.ecs'],
        'detail-type': ['ECS Task State Change'],
        detail: { containers: { exitCode: [{ numeric: ['>', 0] }] } },
      },
    },
  ];

  test('every rule becomes an EventBridge rule with its pattern unchanged, and ALERT_RULES is the file', () => {
    const { stack, template } = synth({ rulesFile: writeRules('custom.json', custom) });
    assertDeliveryAlarms(stack, template);
    const rules = Object.values(resourcesOf(template, 'AWS::Events::Rule')).filter((r) => r.Properties.EventPattern);
    assert.equal(rules.length, 1 + custom.length);
    for (const rule of custom) {
      const matching = rules.filter((r) => r.Properties.Description?.startsWith(`Alert rule ${rule.name}:`));
      assert.equal(matching.length, 1, rule.name);
      assert.deepStrictEqual(matching[0].Properties.EventPattern, rule.pattern);
    }
    template.hasResource('AWS::Events::Rule', { Properties: { Description: 'Alert rule exit.code_nonzero:' } });
    assertAlertRuleInputs(template, custom);
    assert.equal(functionBy(template, 'alerter').Properties.Environment.Variables.ALERT_RULES, JSON.stringify(custom));
  });

  test('an empty rules file is refused, as the alerter refuses it at start-up', () => {
    assert.throws(
      () => synth({ rulesFile: writeRules('empty.json', []) }),
      /empty.json has no rules: the alerter refuses an empty rule set/,
    );
  });

  test('relative paths are relative to infra/cdk', () => {
    const { stack } = synth({ rulesFile: '../../rules/default.json' });
    assert.equal(stack.rulesFile, DEFAULT_RULES_FILE);
  });

  test('invalid names, duplicates, clashes and bad patterns are refused, naming the rule', () => {
    const refused = (name: string, rules: unknown, message: RegExp) =>
      assert.throws(() => synth({ rulesFile: writeRules(name, rules) }), message);
    const pattern = { source: ['aws.ecs'] };
    refused('space.json', [{ name: 'has space', pattern }], /alert rule "has space" .* invalid name/);
    refused('long.json', [{ name: 'x'.repeat(41), pattern }], new RegExp(`alert rule "${'x'.repeat(41)}" .* invalid name`));
    refused('dup.json', [{ name: 'a', pattern }, { name: 'a', pattern }], /alert rule "a" appears more than once/);
    refused('clash.json', [{ name: 'a-b', pattern }, { name: 'a.b', pattern }], /"a-b" and "a.b" .* AlertRuleAB/);
    refused('nopattern.json', [{ name: 'nop' }], /alert rule "nop" .* "pattern"/);
    refused('notarray.json', { name: 'x' }, /must hold a JSON array/);
    assert.throws(() => synth({ rulesFile: path.join(tmpDir, 'missing.json') }), /cannot read the alert rules file/);
  });

  test('the alerter environment may hold rules up to the limit, counting ARNs and names at their most', () => {
    // The other variables are TOPIC_ARN, LEDGER_TABLE, INCIDENT_TABLE, SERVICE_TABLE, DEPLOYMENT_TABLE
    // and TASK_TABLE (tokens), CHAT_TOPIC_ARN (empty without chat), SILENCE_MINUTES ("5") and
    // EXPECTED_EXIT_CODES ("0"), nothing else (no ALERT_CLAIM_SECONDS; no ACCOUNT_NAMES without accountNames).
    const tokens = ['TOPIC_ARN', 'LEDGER_TABLE', 'INCIDENT_TABLE', 'SERVICE_TABLE', 'DEPLOYMENT_TABLE', 'TASK_TABLE'];
    const keys = [...tokens, 'CHAT_TOPIC_ARN', 'SILENCE_MINUTES', 'EXPECTED_EXIT_CODES', 'ALERT_RULES'].join('').length;
    const budget = LAMBDA_ENV_LIMIT_BYTES - tokens.length * TOKEN_VALUE_BYTES - keys - '5'.length - '0'.length;
    const { template } = synth({ rulesFile: writeRules('fits.json', rulesOfSize(budget)) });
    assert.equal(Buffer.byteLength(functionBy(template, 'alerter').Properties.Environment.Variables.ALERT_RULES), budget);
    assert.throws(() => synth({ rulesFile: writeRules('over.json', rulesOfSize(budget + 1)) }), /over Lambda's 4096-byte limit/);
    // The chat topic's ARN counts too.
    assert.throws(
      () => synth({ rulesFile: writeRules('fits.json', rulesOfSize(budget)), chatTopic: 'true' }),
      /over Lambda's 4096-byte limit/,
    );
    synth({ rulesFile: writeRules('chat.json', rulesOfSize(budget - TOKEN_VALUE_BYTES)), chatTopic: 'true' });
    // So do the names of accounts, name and value.
    const names = '111122223333=prod-eu';
    const withNames = budget - 'ACCOUNT_NAMES'.length - names.length;
    synth({ rulesFile: writeRules('names.json', rulesOfSize(withNames)), accountNames: names });
    assert.throws(
      () => synth({ rulesFile: writeRules('names-over.json', rulesOfSize(withNames + 1)), accountNames: names }),
      /over Lambda's 4096-byte limit: .* \(or shorter accountNames\)/,
    );
  });

  test("rules of scripts/sync-rules's budget fit with every other setting at its longest, and a byte more does not", () => {
    // One computation on both sides: MAX_RULES_BYTES is what the other variables leave of 4 KB at
    // their longest, counted as this app counts them; ACCOUNT_NAMES's longest is one number.
    const budget = syncRulesConstant('MAX_RULES_BYTES');
    assert.equal(syncRulesConstant('MAX_ACCOUNT_NAMES_BYTES'), MAX_ACCOUNT_NAMES_BYTES);
    const longest = {
      chatTopic: 'true',
      silenceMinutes: '1440',
      // 32 codes of 3 digits.
      expectedExitCodes: Array.from({ length: 32 }, (_, i) => 224 + i).join(','),
      accountNames: accountNamesOfSize(MAX_ACCOUNT_NAMES_BYTES),
    };
    const { template } = synth({ ...longest, rulesFile: writeRules('budget.json', rulesOfSize(budget)) });
    const alerter = functionBy(template, 'alerter').Properties.Environment.Variables;
    assert.equal(Buffer.byteLength(alerter.ACCOUNT_NAMES), MAX_ACCOUNT_NAMES_BYTES);
    assert.equal(alerter.EXPECTED_EXIT_CODES.length, 127);
    assert.equal(Buffer.byteLength(alerter.ALERT_RULES), budget);
    assert.throws(
      () => synth({ ...longest, rulesFile: writeRules('budget-over.json', rulesOfSize(budget + 1)) }),
      /about 4097 bytes, over Lambda's 4096-byte limit/,
    );
    // The shipped rules files fit the budget (scripts/sync-rules refuses more).
    for (const file of ['default.json', 'examples.json', 'jobs.json']) {
      const rules = JSON.parse(fs.readFileSync(path.resolve(CDK_DIR, '../../rules', file), 'utf8'));
      assert.ok(Buffer.byteLength(JSON.stringify(rules)) <= budget, file);
    }
  });

  test('rules too large for the alerter environment are refused', () => {
    const big = Array.from({ length: 30 }, (_, i) => ({
      name: `rule-${i}`,
      description: 'x'.repeat(150),
      pattern: { source: ['aws.ecs'] },
    }));
    assert.throws(() => synth({ rulesFile: writeRules('big.json', big) }), /over Lambda's 4096-byte limit/);
  });
});

describe('other settings', () => {
  test('table names, retention days and log retention come from context', () => {
    const { template } = synth({
      taskTableName: 'Tasks',
      containerInstanceTableName: 'Instances',
      stoppedTaskRetentionDays: '3',
      containerInstanceRetentionDays: '30',
      logRetentionDays: '14',
    });
    template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'Tasks' });
    template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'Instances' });
    const tracker = functionBy(template, 'state-tracker').Properties.Environment.Variables;
    assert.equal(tracker.STOPPED_TASK_RETENTION_DAYS, '3');
    assert.equal(tracker.CONTAINER_INSTANCE_RETENTION_DAYS, '30');
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 14 });
  });

  test('invalid settings are refused', () => {
    assert.throws(() => synth({ logRetentionDays: '10' }), /logRetentionDays must be one of/);
    assert.throws(() => synth({ useSqsBuffer: 'yes' }), /useSqsBuffer must be true or false/);
  });

  test('retention days: whole numbers from 1 to 3650, as context or prop, like the SAM parameters', () => {
    for (const key of ['stoppedTaskRetentionDays', 'containerInstanceRetentionDays'] as const) {
      const variable = key === 'stoppedTaskRetentionDays' ? 'STOPPED_TASK_RETENTION_DAYS' : 'CONTAINER_INSTANCE_RETENTION_DAYS';
      for (const days of ['1', '7', '3650']) {
        const { template } = synth({ [key]: days });
        assert.equal(functionBy(template, 'state-tracker').Properties.Environment.Variables[variable], days, `${key}=${days}`);
      }
      const range = new RegExp(`${key} must be a whole number of days from 1 to 3650, got`);
      for (const days of ['0', '3651', '7.5', '-1']) {
        assert.throws(() => synth({ [key]: days }), range, `${key}=${days}`);
      }
      assert.throws(() => synth({ [key]: 'abc' }), new RegExp(`context ${key} must be a number`));
      // A prop is checked the same way (it fails before any function is bundled).
      const app = new App({ context: { ...CDK_JSON_CONTEXT, skipBundling: 'true' } });
      assert.throws(() => new EcsEventsStack(app, 'Props', { [key]: 0.5 }), range);
    }
  });
});

describe('incidents and digests (issue #14)', () => {
  const { stack, template } = synth();
  const incidentTableId = () => logicalIdOf(stack, template, 'AWS::DynamoDB::Table', '/IncidentTable/Resource');
  const alerterId = () => logicalIdOf(stack, template, 'AWS::Lambda::Function', '/AlerterFunction/Resource');

  test('incident table: keys incidentKey and entry, due-index (dueShard, dueAt) keys only, TTL, hardened like the ledger', () => {
    const table = resourcesOf(template, 'AWS::DynamoDB::Table')[incidentTableId()];
    assert.equal(table.DeletionPolicy, 'Delete');
    assert.equal(table.UpdateReplacePolicy, 'Delete');
    assert.deepEqual(table.Properties, {
      AttributeDefinitions: [
        { AttributeName: 'incidentKey', AttributeType: 'S' },
        { AttributeName: 'entry', AttributeType: 'S' },
        { AttributeName: 'dueShard', AttributeType: 'S' },
        { AttributeName: 'dueAt', AttributeType: 'N' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'incidentKey', KeyType: 'HASH' },
        { AttributeName: 'entry', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'due-index',
          KeySchema: [
            { AttributeName: 'dueShard', KeyType: 'HASH' },
            { AttributeName: 'dueAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  test('the alerter may GetItem/PutItem/UpdateItem/Query the incident table and Query its due-index, nothing more', () => {
    const tableArn = { 'Fn::GetAtt': [incidentTableId(), 'Arn'] };
    const statements = Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as any[])
      .filter((s) => JSON.stringify(s.Resource).includes(`"${incidentTableId()}"`));
    assert.deepEqual(statements, [
      {
        Sid: 'Incidents',
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
        Resource: tableArn,
      },
      {
        Sid: 'DueIncidents',
        Effect: 'Allow',
        Action: 'dynamodb:Query',
        Resource: { 'Fn::Join': ['', [tableArn, '/index/due-index']] },
      },
    ]);
    const alerterRole = functionBy(template, 'alerter').Properties.Role['Fn::GetAtt'][0];
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: alerterRole }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'DueIncidents' })]) },
    });
  });

  test('every minute the schedule invokes the alerter with {"flushDigests": true}, briefly retried, no DLQ', () => {
    const [scheduleId] = scheduleRuleIdsOf(template);
    const rule = resourcesOf(template, 'AWS::Events::Rule')[scheduleId];
    assert.deepEqual(rule.Properties, {
      Description: rule.Properties.Description,
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [
        {
          Id: 'flush-digests',
          Arn: { 'Fn::GetAtt': [alerterId(), 'Arn'] },
          Input: FLUSH_DIGESTS_INPUT,
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 120 },
        },
      ],
    });
    assert.deepEqual(JSON.parse(rule.Properties.Targets[0].Input), { flushDigests: true });
    // EventBridge may invoke the alerter from this rule, by its exact ARN.
    const permissions = Object.values(resourcesOf(template, 'AWS::Lambda::Permission')).filter(
      (p) => p.Properties.SourceArn['Fn::GetAtt']?.[0] === scheduleId,
    );
    assert.deepEqual(
      permissions.map((p) => p.Properties),
      [
        {
          Action: 'lambda:InvokeFunction',
          FunctionName: { 'Fn::GetAtt': [alerterId(), 'Arn'] },
          Principal: 'events.amazonaws.com',
          SourceArn: { 'Fn::GetAtt': [scheduleId, 'Arn'] },
        },
      ],
    );
    // It dead-letters nowhere, so no queue trusts it.
    for (const policy of Object.values(resourcesOf(template, 'AWS::SQS::QueuePolicy'))) {
      assert.doesNotMatch(JSON.stringify(policy), new RegExp(`"${scheduleId}"`));
    }
  });
});

describe('chat (issue #14)', () => {
  const SLACK = { slackWorkspaceId: 'T0123ABCD', slackChannelId: 'C0123ABCD' };
  const TEAMS = {
    teamsTenantId: '01234567-89ab-cdef-0123-456789abcdef',
    teamsTeamId: 'fedcba98-7654-3210-fedc-ba9876543210',
    teamsChannelId: '19%3a0123456789abcdef0123456789abcdef%40thread.tacv2',
  };
  const CHAT_TYPES = ['AWS::Chatbot::SlackChannelConfiguration', 'AWS::Chatbot::MicrosoftTeamsChannelConfiguration'];
  const partitionArn = (policy: string) => ({
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::aws:policy/${policy}`]],
  });

  function assertNagClean(stack: Stack) {
    assert.deepEqual(Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')), []);
    assert.deepEqual(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')), []);
    assert.deepEqual(Annotations.fromStack(stack).findError('*', Match.anyValue()), []);
  }

  /** The chat topic: encrypted with the alert topic's key, HTTPS only, the alerter's to publish to. */
  function assertChatTopic(stack: Stack, template: Template): string {
    const chatId = logicalIdOf(stack, template, 'AWS::SNS::Topic', '/ChatNotificationTopic/Resource');
    const keyId = logicalIdOf(stack, template, 'AWS::KMS::Key', '/AlertTopicKey/Resource');
    assert.deepEqual(resourcesOf(template, 'AWS::SNS::Topic')[chatId].Properties.KmsMasterKeyId, {
      'Fn::GetAtt': [keyId, 'Arn'],
    });
    const [policy] = Object.values(resourcesOf(template, 'AWS::SNS::TopicPolicy')).filter(
      (p) => p.Properties.Topics[0].Ref === chatId,
    );
    assert.deepEqual(
      (policy.Properties.PolicyDocument.Statement as any[]).map((s) => [s.Effect, s.Action, s.Condition]),
      [['Deny', 'sns:Publish', { Bool: { 'aws:SecureTransport': 'false' } }]],
    );
    assert.deepEqual(functionBy(template, 'alerter').Properties.Environment.Variables.CHAT_TOPIC_ARN, { Ref: chatId });
    const alerterRole = functionBy(template, 'alerter').Properties.Role['Fn::GetAtt'][0];
    const statements = Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
      .filter((p) => (p.Properties.Roles as any[]).some((r) => r.Ref === alerterRole))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
    const publish = statements.filter((s) => s.Action === 'sns:Publish');
    assert.deepEqual(
      publish.flatMap((s) => [s.Resource].flat()),
      [{ Ref: logicalIdOf(stack, template, 'AWS::SNS::Topic', '/AlertTopic/Resource') }, { Ref: chatId }],
    );
    assert.ok(
      statements.some(
        (s) => JSON.stringify(s.Action) === JSON.stringify(['kms:Decrypt', 'kms:GenerateDataKey*']) &&
          JSON.stringify(s.Resource) === JSON.stringify({ 'Fn::GetAtt': [keyId, 'Arn'] }),
      ),
    );
    assert.deepEqual(template.findOutputs('ChatTopicArn').ChatTopicArn.Value, { Ref: chatId });
    return chatId;
  }

  /** The chat channel role: trusted by the service, CloudWatch read-only, no inline policy. */
  function assertChatRole(template: Template, roleArn: any) {
    const roleId = roleArn['Fn::GetAtt'][0];
    const role = resourcesOf(template, 'AWS::IAM::Role')[roleId];
    assert.deepEqual(role.Properties.AssumeRolePolicyDocument.Statement, [
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'chatbot.amazonaws.com' } },
    ]);
    assert.deepEqual(role.Properties.ManagedPolicyArns, [partitionArn('CloudWatchReadOnlyAccess')]);
    assert.equal(role.Properties.Policies, undefined);
    assert.ok(
      !Object.values(resourcesOf(template, 'AWS::IAM::Policy')).some((p) =>
        (p.Properties.Roles as any[]).some((r) => r.Ref === roleId),
      ),
    );
  }

  test('by default: no chat topic, no channel, CHAT_TOPIC_ARN empty, no output', () => {
    const { template } = synth();
    template.resourceCountIs('AWS::SNS::Topic', 1);
    for (const type of CHAT_TYPES) template.resourceCountIs(type, 0);
    assert.equal(functionBy(template, 'alerter').Properties.Environment.Variables.CHAT_TOPIC_ARN, '');
    assert.deepEqual(template.findOutputs('ChatTopicArn'), {});
  });

  test('chatTopic=true: the topic alone, for a chat configuration of your own', () => {
    const { stack, template } = synth({ chatTopic: 'true' });
    assertNagClean(stack);
    assertChatTopic(stack, template);
    for (const type of CHAT_TYPES) template.resourceCountIs(type, 0);
    template.resourceCountIs('AWS::IAM::Role', 4);
  });

  test('Slack ids: the topic and a read-only Slack channel subscribed to it', () => {
    const { stack, template } = synth(SLACK);
    assertNagClean(stack);
    const chatId = assertChatTopic(stack, template);
    const [slack] = Object.values(resourcesOf(template, 'AWS::Chatbot::SlackChannelConfiguration'));
    assert.deepEqual(slack.Properties, {
      ConfigurationName: 'EcsEvents-us-east-1-slack',
      SlackWorkspaceId: 'T0123ABCD',
      SlackChannelId: 'C0123ABCD',
      IamRoleArn: slack.Properties.IamRoleArn,
      SnsTopicArns: [{ Ref: chatId }],
      GuardrailPolicies: [partitionArn('ReadOnlyAccess')],
      LoggingLevel: 'ERROR',
      UserRoleRequired: false,
    });
    assertChatRole(template, slack.Properties.IamRoleArn);
    template.resourceCountIs('AWS::Chatbot::SlackChannelConfiguration', 1);
    template.resourceCountIs('AWS::Chatbot::MicrosoftTeamsChannelConfiguration', 0);
  });

  test('Teams ids: the topic and a read-only Teams channel; with Slack too, one topic and one role', () => {
    const { stack, template } = synth(TEAMS);
    assertNagClean(stack);
    const chatId = assertChatTopic(stack, template);
    const [teams] = Object.values(resourcesOf(template, 'AWS::Chatbot::MicrosoftTeamsChannelConfiguration'));
    assert.deepEqual(teams.Properties, {
      ConfigurationName: 'EcsEvents-us-east-1-teams',
      TeamsTenantId: TEAMS.teamsTenantId,
      TeamId: TEAMS.teamsTeamId,
      TeamsChannelId: TEAMS.teamsChannelId,
      IamRoleArn: teams.Properties.IamRoleArn,
      SnsTopicArns: [{ Ref: chatId }],
      GuardrailPolicies: [partitionArn('ReadOnlyAccess')],
      LoggingLevel: 'ERROR',
      UserRoleRequired: false,
    });
    assertChatRole(template, teams.Properties.IamRoleArn);
    template.resourceCountIs('AWS::Chatbot::SlackChannelConfiguration', 0);

    const both = synth({ ...SLACK, ...TEAMS });
    assertNagClean(both.stack);
    assertChatTopic(both.stack, both.template);
    for (const type of CHAT_TYPES) both.template.resourceCountIs(type, 1);
    both.template.resourceCountIs('AWS::IAM::Role', 5);
  });

  test('configuration names fit in 128 characters whatever the stack name', () => {
    const app = new App({ context: { ...CDK_JSON_CONTEXT, [BUNDLING_STACKS]: [] } });
    const name = 'S' + 'x'.repeat(127);
    const stack = new EcsEventsStack(app, name, {
      env: { account: '111111111111', region: 'ap-southeast-1' },
      slackWorkspaceId: SLACK.slackWorkspaceId,
      slackChannelId: SLACK.slackChannelId,
    });
    const [slack] = Object.values(resourcesOf(Template.fromStack(stack), 'AWS::Chatbot::SlackChannelConfiguration'));
    const configurationName = slack.Properties.ConfigurationName as string;
    assert.equal(configurationName.length, 128);
    assert.match(configurationName, /^Sx+-ap-southeast-1-slack$/);
  });

  test('half a channel, malformed ids and a non-boolean chatTopic are refused', () => {
    assert.throws(() => synth({ slackWorkspaceId: 'T0123ABCD' }), /give both slackWorkspaceId and slackChannelId/);
    assert.throws(() => synth({ slackChannelId: 'C0123ABCD' }), /give both slackWorkspaceId and slackChannelId/);
    assert.throws(
      () => synth({ teamsTenantId: TEAMS.teamsTenantId, teamsTeamId: TEAMS.teamsTeamId }),
      /give all of teamsTenantId, teamsTeamId and teamsChannelId/,
    );
    assert.throws(() => synth({ ...SLACK, slackChannelId: 'alerts' }), /slackChannelId "alerts" is not a Slack channel id/);
    assert.throws(() => synth({ ...SLACK, slackWorkspaceId: 't0123abcd' }), /slackWorkspaceId "t0123abcd" is not/);
    assert.throws(() => synth({ ...TEAMS, teamsTenantId: 'tenant' }), /teamsTenantId "tenant" is not/);
    assert.throws(() => synth({ ...TEAMS, teamsChannelId: '19:abc@thread.tacv2' }), /teamsChannelId .* is not/);
    assert.throws(() => synth({ chatTopic: 'yes' }), /chatTopic must be true or false/);
  });
});

describe('rules file: group settings (issue #14)', () => {
  test('"group" reaches the alerter in ALERT_RULES unchanged and never the EventBridge pattern', () => {
    const rules = [
      {
        name: 'grouped',
        description: 'Grouped with settings.',
        pattern: { source: ['aws.ecs'], 'detail-type': ['ECS Task State Change'] },
        group: { window: '15m', crashLoopAfter: 3 },
      },
      { name: 'each-task', pattern: { source: ['aws.ecs'], detail: { lastStatus: ['STOPPED'] } }, group: false },
      { name: 'defaults', pattern: { source: ['aws.ecs'], 'detail-type': ['ECS Service Action'] }, group: true },
    ];
    const { template } = synth({ rulesFile: writeRules('grouped.json', rules) });
    assert.equal(functionBy(template, 'alerter').Properties.Environment.Variables.ALERT_RULES, JSON.stringify(rules));
    assertAlertRuleInputs(template, rules);
  });

  test('a misshapen "group" or an unknown field is refused, naming the rule', () => {
    const refused = (group: unknown, message: RegExp) =>
      assert.throws(
        () => synth({ rulesFile: writeRules('badgroup.json', [{ name: 'g', pattern: { source: ['aws.ecs'] }, group }]) }),
        message,
      );
    refused('yes', /alert rule "g" .*"group" must be false, true or an object/);
    refused({ windw: '10m' }, /alert rule "g" .*"group" has an unknown field "windw"/);
    refused({ window: 10 }, /alert rule "g" .*"group.window" must be a string/);
    refused({ crashLoopAfter: 2.5 }, /alert rule "g" .*"group.crashLoopAfter" must be a whole number/);
    refused({ crashLoopAfter: '5' }, /alert rule "g" .*"group.crashLoopAfter" must be a whole number/);
    assert.throws(
      () => synth({ rulesFile: writeRules('unknown.json', [{ name: 'u', pattern: { source: ['aws.ecs'] }, grup: false }]) }),
      /alert rule "u" .* unknown field "grup"/,
    );
  });
});

describe('reconciler (issue #16)', () => {
  /** The reconciler role's statements, by Sid. */
  function reconcilerStatements(template: Template): Record<string, any> {
    const roleId = functionBy(template, 'reconciler').Properties.Role['Fn::GetAtt'][0];
    const statements = Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
      .filter((p) => (p.Properties.Roles as any[]).some((r) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
    return Object.fromEntries(statements.map((s) => [s.Sid, s]));
  }

  /** The schedule rule's properties, or undefined. */
  function schedule(template: Template) {
    return resourcesOf(template, 'AWS::Events::Rule').ReconcileSchedule?.Properties;
  }

  test('by default: every 15 minutes, every cluster of the account and region, briefly retried, no DLQ', () => {
    const { stack, template } = synth();
    const fnId = logicalIdOf(stack, template, 'AWS::Lambda::Function', '/ReconcilerFunction/Resource');
    assert.deepEqual(schedule(template), {
      Description: 'The reconciler corrects the state tables (tasks, container instances, services) from the ECS API.',
      ScheduleExpression: 'rate(15 minutes)',
      State: 'ENABLED',
      Targets: [
        {
          Id: 'reconcile',
          Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
          Input: '{}',
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 120 },
        },
      ],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': ['ReconcileSchedule', 'Arn'] },
    });
    const every = `arn:aws:ecs:${stack.region}:${stack.account}:cluster/*`;
    const inRegion = { StringEquals: { 'aws:RequestedRegion': stack.region } };
    const statements = reconcilerStatements(template);
    assert.deepEqual(statements.EcsClusterList, {
      Sid: 'EcsClusterList', Effect: 'Allow', Action: 'ecs:ListClusters', Resource: '*', Condition: inRegion,
    });
    assert.deepEqual(statements.EcsClusters.Resource, every);
    assert.deepEqual(statements.EcsClusterTasksAndInstances.Condition, { ...inRegion, ArnLike: { 'ecs:cluster': [every] } });
    // Issue #24: ListServices has no resource type ("*"); DescribeServices is on the service resource
    // type (service/* covers old-format ARNs, which name no cluster); both scoped by ecs:cluster.
    assert.deepEqual(statements.EcsClusterServiceList, {
      Sid: 'EcsClusterServiceList',
      Effect: 'Allow',
      Action: 'ecs:ListServices',
      Resource: '*',
      Condition: { ...inRegion, ArnLike: { 'ecs:cluster': [every] } },
    });
    assert.deepEqual(statements.EcsClusterServices, {
      Sid: 'EcsClusterServices',
      Effect: 'Allow',
      Action: 'ecs:DescribeServices',
      Resource: `arn:aws:ecs:${stack.region}:${stack.account}:service/*`,
      Condition: { ...inRegion, ArnLike: { 'ecs:cluster': [every] } },
    });
  });

  test('named clusters: list and describe those clusters only, no ListClusters, nag-clean', () => {
    const { stack, template } = synth({ reconcileClusters: 'prod, batch-jobs' });
    assert.deepEqual(Annotations.fromStack(stack).findError('*', Match.anyValue()), []);
    assert.deepEqual(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')), []);
    assert.equal(functionBy(template, 'reconciler').Properties.Environment.Variables.RECONCILE_CLUSTERS, 'prod,batch-jobs');
    const arn = (name: string) => `arn:aws:ecs:${stack.region}:${stack.account}:cluster/${name}`;
    // CDK sorts a statement's resources; condition values stay in the order given.
    const sorted = ['batch-jobs', 'prod'].map(arn);
    const given = ['prod', 'batch-jobs'].map(arn);
    const inRegion = { StringEquals: { 'aws:RequestedRegion': stack.region } };
    const statements = reconcilerStatements(template);
    const ecs = Object.values(statements).filter((s) => [s.Action].flat().some((a: string) => a.startsWith('ecs:')));
    assert.deepEqual(ecs, [
      {
        Sid: 'EcsClusters',
        Effect: 'Allow',
        Action: ['ecs:DescribeClusters', 'ecs:ListContainerInstances'],
        Resource: sorted,
        Condition: inRegion,
      },
      {
        Sid: 'EcsClusterTasksAndInstances',
        Effect: 'Allow',
        Action: ['ecs:DescribeContainerInstances', 'ecs:DescribeTasks', 'ecs:ListTasks'],
        Resource: '*',
        Condition: { ...inRegion, ArnLike: { 'ecs:cluster': given } },
      },
      {
        Sid: 'EcsClusterServiceList',
        Effect: 'Allow',
        Action: 'ecs:ListServices',
        Resource: '*',
        Condition: { ...inRegion, ArnLike: { 'ecs:cluster': given } },
      },
      {
        Sid: 'EcsClusterServices',
        Effect: 'Allow',
        Action: 'ecs:DescribeServices',
        Resource: `arn:aws:ecs:${stack.region}:${stack.account}:service/*`,
        Condition: { ...inRegion, ArnLike: { 'ecs:cluster': given } },
      },
    ]);
  });

  test('an interval of 0 leaves no schedule (the function stays, to run by hand); 1 is "rate(1 minute)"', () => {
    const off = synth({ reconcileIntervalMinutes: '0' }).template;
    assert.equal(schedule(off), undefined);
    assert.equal(scheduleRuleIdsOf(off).join(), 'DigestFlushSchedule');
    functionBy(off, 'reconciler');
    const alarms = Object.values(resourcesOf(off, 'AWS::CloudWatch::Alarm'));
    assert.ok(!alarms.some((a) => JSON.stringify(a.Properties.Dimensions).includes('ReconcileSchedule')));
    assert.equal(schedule(synth({ reconcileIntervalMinutes: 1 }).template)?.ScheduleExpression, 'rate(1 minute)');
    assert.equal(
      functionBy(synth({ reconcileMaxApiCalls: '500' }).template, 'reconciler').Properties.Environment.Variables
        .RECONCILE_MAX_API_CALLS,
      '500',
    );
  });

  test('bad settings are refused, naming the setting', () => {
    const refused: [Record<string, unknown>, RegExp][] = [
      [{ reconcileIntervalMinutes: '1441' }, /reconcileIntervalMinutes must be a whole number of minutes from 0/],
      [{ reconcileIntervalMinutes: '7.5' }, /reconcileIntervalMinutes/],
      [{ reconcileIntervalMinutes: '-1' }, /reconcileIntervalMinutes/],
      [{ reconcileMaxApiCalls: '0' }, /reconcileMaxApiCalls must be a whole number from 1 to 65535/],
      [{ reconcileMaxApiCalls: '65536' }, /reconcileMaxApiCalls/],
      [{ reconcileClusters: 'arn:aws:ecs:us-east-1:111111111111:cluster/prod' }, /"arn:aws:ecs:us-east-1:111111111111:cluster\/prod" is not a cluster name/],
      [{ reconcileClusters: 'prod staging' }, /"prod staging" is not a cluster name/],
    ];
    for (const [context, message] of refused) {
      assert.throws(() => synth(context), message, JSON.stringify(context));
    }
  });
});

describe('services and deployments (issue #24)', () => {
  const { stack, template } = synth();
  const tableId = (name: string) => logicalIdOf(stack, template, 'AWS::DynamoDB::Table', `/${name}/Resource`);
  const arn = (name: string) => ({ 'Fn::GetAtt': [tableId(name), 'Arn'] });
  const indexArn = (name: string, index: string) => ({ 'Fn::Join': ['', [arn(name), `/index/${index}`]] });
  /** The statements of every policy that name one of the tables. */
  const statementsOn = (...names: string[]) =>
    Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
      .flatMap((p) => (p.Properties.PolicyDocument.Statement as any[]).map((s) => ({ ...s, Roles: p.Properties.Roles })))
      .filter((s) => names.some((name) => JSON.stringify(s.Resource).includes(`"${tableId(name)}"`)));
  const roleOf = (binary: string) => [{ Ref: functionBy(template, binary).Properties.Role['Fn::GetAtt'][0] }];
  /** A Rust `const NAME: ... = [...]` of the state store, as strings. */
  const rustStrings = (file: string, name: string) => {
    const source = fs.readFileSync(path.resolve(CDK_DIR, '../..', file), 'utf8');
    const match = new RegExp(`\\b${name}\\s*:[^=]*=\\s*([^;]*);`).exec(source);
    assert.ok(match, `${name} in ${file}`);
    return [...match[1].matchAll(/"([^"]*)"/g)].map((m) => m[1]);
  };

  test('service and deployment tables: keys, cluster index, TTL, PITR, SSE, on-demand, retained', () => {
    const tables = resourcesOf(template, 'AWS::DynamoDB::Table');
    const common = {
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    };
    const service = tables[tableId('ServiceStateTable')];
    assert.equal(service.DeletionPolicy, 'Retain');
    assert.equal(service.UpdateReplacePolicy, 'Retain');
    assert.deepEqual(service.Properties, {
      ...common,
      TableName: 'ECSServiceState',
      AttributeDefinitions: [{ AttributeName: 'serviceArn', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'serviceArn', KeyType: 'HASH' }],
    });
    const deployment = tables[tableId('DeploymentStateTable')];
    assert.equal(deployment.DeletionPolicy, 'Retain');
    assert.equal(deployment.UpdateReplacePolicy, 'Retain');
    assert.deepEqual(deployment.Properties, {
      ...common,
      TableName: 'ECSDeploymentState',
      AttributeDefinitions: [
        { AttributeName: 'serviceArn', AttributeType: 'S' },
        { AttributeName: 'deploymentId', AttributeType: 'S' },
        { AttributeName: 'clusterArn', AttributeType: 'S' },
        { AttributeName: 'updatedAt', AttributeType: 'N' },
      ],
      KeySchema: [
        { AttributeName: 'serviceArn', KeyType: 'HASH' },
        { AttributeName: 'deploymentId', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'clusterArn-updatedAt-index',
          KeySchema: [
            { AttributeName: 'clusterArn', KeyType: 'HASH' },
            { AttributeName: 'updatedAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
    assert.deepEqual(rustStrings('shared/src/service/dynamodb.rs', 'DEPLOYMENT_CLUSTER_INDEX'), ['clusterArn-updatedAt-index']);
  });

  test("the task table's deployment index projects exactly what a deployment's summary counts", () => {
    assert.deepEqual(TASK_DEPLOYMENT_INDEX_ATTRIBUTES, rustStrings('shared/src/state/dynamodb.rs', 'TASK_DEPLOYMENT_INDEX_ATTRIBUTES'));
    assert.deepEqual(rustStrings('shared/src/state/dynamodb.rs', 'TASK_DEPLOYMENT_INDEX'), ['deploymentId-index']);
    const task = resourcesOf(template, 'AWS::DynamoDB::Table')[tableId('TaskStateTable')].Properties;
    assert.deepEqual(
      task.GlobalSecondaryIndexes.map((index: any) => index.IndexName),
      ['clusterArn-lastStatus-index', 'deploymentId-index'],
    );
    assert.deepEqual(task.GlobalSecondaryIndexes[1].Projection, {
      ProjectionType: 'INCLUDE',
      NonKeyAttributes: ['clusterArn', 'lastStatus', 'version', 'startedAt', 'stoppedAt', 'outcome', 'stopCause'],
    });
    assert.deepEqual(task.AttributeDefinitions, [
      { AttributeName: 'taskArn', AttributeType: 'S' },
      { AttributeName: 'clusterArn', AttributeType: 'S' },
      { AttributeName: 'lastStatus', AttributeType: 'S' },
      { AttributeName: 'deploymentId', AttributeType: 'S' },
    ]);
  });

  test('grants: the tracker writes, the alerter reads (and keeps health), the reconciler scans and updates services', () => {
    const deployments = statementsOn('DeploymentStateTable');
    assert.deepEqual(
      deployments.map((s) => [s.Sid, s.Roles]),
      [
        ['ServiceWrites', roleOf('state-tracker')],
        ['Deployments', roleOf('alerter')],
      ],
    );
    assert.deepEqual(
      statementsOn('ServiceStateTable').map((s) => [s.Sid, s.Action, s.Roles]),
      [
        ['ServiceWrites', 'dynamodb:UpdateItem', roleOf('state-tracker')],
        ['Services', ['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:UpdateItem'], roleOf('alerter')],
        ['StoredServices', ['dynamodb:Scan', 'dynamodb:UpdateItem'], roleOf('reconciler')],
      ],
    );
    const [trackerWrites, alerterDeployments] = deployments;
    assert.deepEqual(trackerWrites.Resource, [arn('DeploymentStateTable'), arn('ServiceStateTable')]);
    // The table by its key, not the cluster index.
    assert.deepEqual(alerterDeployments.Action, ['dynamodb:GetItem', 'dynamodb:Query']);
    assert.deepEqual(alerterDeployments.Resource, arn('DeploymentStateTable'));
    // The alerter on the task table: GetItem, and Query of the two indexes only.
    const alerterOnTasks = statementsOn('TaskStateTable').filter(
      (s) => JSON.stringify(s.Roles) === JSON.stringify(roleOf('alerter')),
    );
    assert.deepEqual(
      alerterOnTasks.map(({ Roles: _, ...s }) => s),
      [
        { Sid: 'Tasks', Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: arn('TaskStateTable') },
        {
          Sid: 'TaskIndexes',
          Effect: 'Allow',
          Action: 'dynamodb:Query',
          Resource: [
            indexArn('TaskStateTable', 'clusterArn-lastStatus-index'),
            indexArn('TaskStateTable', 'deploymentId-index'),
          ],
        },
      ],
    );
  });

  test('the every-minute schedule also runs the health check (no other schedule)', () => {
    assert.deepEqual(scheduleRuleIdsOf(template), ['DigestFlushSchedule', 'ReconcileSchedule']);
    const description = resourcesOf(template, 'AWS::Events::Rule').DigestFlushSchedule.Properties.Description;
    assert.match(description, /services/);
  });

  test('silenceMinutes, expectedExitCodes and the table names come from context or props, checked at synth', () => {
    const { template: custom } = synth({
      silenceMinutes: '0',
      expectedExitCodes: '0, 3',
      serviceTableName: 'Services',
      deploymentTableName: 'Deployments',
    });
    const alerter = functionBy(custom, 'alerter').Properties.Environment.Variables;
    assert.equal(alerter.SILENCE_MINUTES, '0');
    assert.equal(alerter.EXPECTED_EXIT_CODES, '0,3');
    custom.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'Services' });
    custom.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'Deployments' });
    for (const [minutes, codes] of [['1440', '255'], ['1', '0,1,2']]) {
      const variables = functionBy(synth({ silenceMinutes: minutes, expectedExitCodes: codes }).template, 'alerter')
        .Properties.Environment.Variables;
      assert.equal(variables.SILENCE_MINUTES, minutes);
      assert.equal(variables.EXPECTED_EXIT_CODES, codes);
    }
    assert.equal(
      functionBy(synth({ expectedExitCodes: [0, 3] }).template, 'alerter').Properties.Environment.Variables.EXPECTED_EXIT_CODES,
      '0,3',
    );
    const refused: [Record<string, unknown>, RegExp][] = [
      [{ silenceMinutes: '1441' }, /silenceMinutes must be a whole number of minutes from 0 \(never\) to 1440, got 1441/],
      [{ silenceMinutes: '2.5' }, /silenceMinutes must be a whole number/],
      [{ silenceMinutes: '-1' }, /silenceMinutes must be a whole number/],
      [{ silenceMinutes: 'soon' }, /context silenceMinutes must be a number/],
      [{ expectedExitCodes: '256' }, /expectedExitCodes must be 1 to 32 exit codes from 0 to 255/],
      [{ expectedExitCodes: '0,x' }, /context expectedExitCodes must be exit codes separated by commas/],
      [{ expectedExitCodes: '0,,3' }, /context expectedExitCodes must be exit codes separated by commas/],
      [{ expectedExitCodes: '-1' }, /context expectedExitCodes must be exit codes separated by commas/],
      [{ expectedExitCodes: '1.5' }, /context expectedExitCodes must be exit codes separated by commas/],
      [{ expectedExitCodes: Array.from({ length: 33 }, () => '0').join(',') }, /expectedExitCodes must be 1 to 32 exit codes/],
      [{ expectedExitCodes: [] }, /expectedExitCodes must be 1 to 32 exit codes/],
    ];
    for (const [context, message] of refused) {
      assert.throws(() => synth(context), message, JSON.stringify(context));
    }
    // Props are checked the same way (before any function is bundled).
    const app = new App({ context: { ...CDK_JSON_CONTEXT, skipBundling: 'true' } });
    assert.throws(() => new EcsEventsStack(app, 'Silence', { silenceMinutes: 7.5 }), /silenceMinutes must be a whole number/);
    assert.throws(() => new EcsEventsStack(app, 'Codes', { expectedExitCodes: [300] }), /expectedExitCodes must be 1 to 32/);
  });

  test("a rule's severity, expectedExitCodes and completed reach the alerter unchanged; misshapen ones are refused", () => {
    const rules = [
      {
        name: 'job-done',
        pattern: { source: ['aws.ecs'], 'detail-type': ['ECS Task State Change'] },
        severity: 'info',
        expectedExitCodes: [0, 3],
        completed: 'only',
      },
      { name: 'failures', pattern: { source: ['aws.ecs'] }, severity: 'error', completed: false },
    ];
    const { template: custom } = synth({ rulesFile: writeRules('settings.json', rules) });
    assert.equal(functionBy(custom, 'alerter').Properties.Environment.Variables.ALERT_RULES, JSON.stringify(rules));
    assertAlertRuleInputs(custom, rules);
    const refused = (setting: Record<string, unknown>, message: RegExp) =>
      assert.throws(
        () => synth({ rulesFile: writeRules('badsetting.json', [{ name: 's', pattern: { source: ['aws.ecs'] }, ...setting }]) }),
        message,
      );
    refused({ severity: 3 }, /alert rule "s" .*"severity" must be a string/);
    refused({ expectedExitCodes: '0,3' }, /alert rule "s" .*"expectedExitCodes" must be an array of whole numbers/);
    refused({ expectedExitCodes: [0.5] }, /alert rule "s" .*"expectedExitCodes" must be an array of whole numbers/);
    refused({ completed: 1 }, /alert rule "s" .*"completed" must be false, true or "only"/);
    refused({ severty: 'info' }, /alert rule "s" .* unknown field "severty"/);
  });
});

describe('one stack for an organization (issue #25)', () => {
  const ORG_ID = 'o-a1b2c3d4e5';
  const MEMBERS = ['222222222222', '333333333333'];
  const READ_ROLE = 'ecs-events-reader';
  const FORWARD = 'ForwardEcsEventsToCentralBus';
  const BUS = 'CentralEventBus';

  /** Every statement of the IAM policies attached to a role. */
  function statementsOf(template: Template, roleId: string): any[] {
    return Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
      .filter((p) => (p.Properties.Roles as any[]).some((r) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
  }

  function reconcilerRoleId(template: Template): string {
    return functionBy(template, 'reconciler').Properties.Role['Fn::GetAtt'][0];
  }

  function nagClean(stack: Stack) {
    assert.deepEqual(Annotations.fromStack(stack).findError('*', Match.anyValue()), []);
    assert.deepEqual(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')), []);
  }

  /**
   * The toolkit's rules on the central bus, this account's ECS events forwarded to it by one rule
   * (its role: events:PutEvents on that bus only; the events DLQ), and the delivery alarms of each
   * rule under the dimensions EventBridge reports it with.
   */
  function assertRulesOnTheCentralBus(stack: Stack, template: Template) {
    const rules = resourcesOf(template, 'AWS::Events::Rule');
    const eventsDlq = logicalIdOf(stack, template, 'AWS::SQS::Queue', '/EventsDeadLetterQueue/Resource');
    const patternRules = ruleIdsOf(template);
    assert.deepEqual(patternRules, ['AlertRuleEssentialContainerExited', 'AllEcsEventsRule', FORWARD]);
    for (const ruleId of patternRules.filter((id) => id !== FORWARD)) {
      assert.deepEqual(rules[ruleId].Properties.EventBusName, { Ref: BUS }, ruleId);
    }
    for (const ruleId of scheduleRuleIdsOf(template)) {
      assert.equal(rules[ruleId].Properties.EventBusName, undefined, `${ruleId}: schedules run on the default bus`);
    }
    const forward = rules[FORWARD].Properties;
    assert.equal(forward.EventBusName, undefined, 'on the default bus, where ECS puts its events');
    assert.deepEqual(forward.EventPattern, { source: ['aws.ecs'] });
    const [target] = forward.Targets;
    assert.equal(forward.Targets.length, 1);
    const roleId = target.RoleArn['Fn::GetAtt'][0];
    // No RetryPolicy: EventBridge takes none for an event bus target.
    assert.deepEqual(target, {
      Id: 'central-bus',
      Arn: { 'Fn::GetAtt': [BUS, 'Arn'] },
      RoleArn: { 'Fn::GetAtt': [roleId, 'Arn'] },
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': [eventsDlq, 'Arn'] } },
    });
    const role = resourcesOf(template, 'AWS::IAM::Role')[roleId].Properties;
    assert.deepEqual(role.AssumeRolePolicyDocument.Statement, [
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' } },
    ]);
    assert.equal(role.ManagedPolicyArns, undefined);
    assert.deepEqual(statementsOf(template, roleId), [
      { Sid: 'PutEventsOnTheCentralBus', Effect: 'Allow', Action: 'events:PutEvents', Resource: { 'Fn::GetAtt': [BUS, 'Arn'] } },
    ]);
    // The events DLQ trusts the forwarding rule too.
    const [dlqPolicy] = Object.values(resourcesOf(template, 'AWS::SQS::QueuePolicy')).filter(
      (p) => p.Properties.Queues[0].Ref === eventsDlq,
    );
    const [allow] = (dlqPolicy.Properties.PolicyDocument.Statement as any[]).filter((s) => s.Effect === 'Allow');
    const sources = (allow.Condition.ArnEquals['aws:SourceArn'] as any[]).map((arn) => arn['Fn::GetAtt'][0]).sort();
    assert.deepEqual(sources, patternRules);
    // Alarms: a rule on the central bus is reported under EventBusName and RuleName (the name from
    // its ARN, rule/<bus>/<name>); the forwarding rule and the schedules under RuleName.
    const topicId = logicalIdOf(stack, template, 'AWS::SNS::Topic', '/AlertTopic/Resource');
    for (const ruleId of patternRules) {
      const dimensions =
        ruleId === FORWARD
          ? [{ Name: 'RuleName', Value: { Ref: ruleId } }]
          : [
              { Name: 'EventBusName', Value: { Ref: BUS } },
              { Name: 'RuleName', Value: { 'Fn::Select': [2, { 'Fn::Split': ['/', { 'Fn::GetAtt': [ruleId, 'Arn'] }] }] } },
            ];
      for (const metric of ['FailedInvocations', 'InvocationsFailedToBeSentToDlq']) {
        const alarms = Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm')).filter(
          (a) =>
            a.Properties.Namespace === 'AWS/Events' &&
            a.Properties.MetricName === metric &&
            JSON.stringify(a.Properties.Dimensions) === JSON.stringify(dimensions),
        );
        assert.equal(alarms.length, 1, `${ruleId} ${metric}`);
        assert.deepEqual(alarms[0].Properties.AlarmActions, [{ Ref: topicId }]);
      }
    }
    const eventsAlarms = Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm')).filter(
      (a) => a.Properties.Namespace === 'AWS/Events',
    );
    assert.equal(eventsAlarms.length, 2 * patternRules.length + scheduleRuleIdsOf(template).length);
  }

  test('off by default: no bus, no forwarding, no member role or variables, no new outputs', () => {
    const { template } = synth();
    template.resourceCountIs('AWS::Events::EventBus', 0);
    for (const [ruleId, rule] of Object.entries(resourcesOf(template, 'AWS::Events::Rule'))) {
      assert.equal(rule.Properties.EventBusName, undefined, ruleId);
      assert.ok(!(rule.Properties.Targets as any[]).some((t) => t.RoleArn !== undefined), ruleId);
    }
    const actions = allowedActions(template, reconcilerRoleId(template));
    assert.ok(!actions.some((a) => a.startsWith('sts:')), actions.join());
    const variables = functionBy(template, 'reconciler').Properties.Environment.Variables;
    for (const name of ['MEMBER_ACCOUNTS', 'MEMBER_ROLE_NAME', 'RECONCILE_REGIONS']) {
      assert.equal(variables[name], undefined, name);
    }
    const outputs = Object.keys(template.findOutputs('*'));
    assert.ok(!outputs.includes('ReconcilerRoleArn') && !outputs.includes('CentralEventBusArn'), outputs.join());
  });

  test('organizationId: a central bus only the organization may put events on, with the rules; nag-clean', () => {
    const { stack, template } = synth({ organizationId: ORG_ID });
    nagClean(stack);
    const bus = resourcesOf(template, 'AWS::Events::EventBus')[BUS].Properties;
    assert.equal(bus.Name, 'EcsEvents-central');
    assert.deepEqual(bus.Policy, {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'OrganizationPutsEvents',
          Effect: 'Allow',
          Principal: '*',
          Action: 'events:PutEvents',
          Resource: `arn:aws:events:${stack.region}:${stack.account}:event-bus/EcsEvents-central`,
          Condition: { StringEquals: { 'aws:PrincipalOrgID': ORG_ID } },
        },
      ],
    });
    assertRulesOnTheCentralBus(stack, template);
    // The reconciler may assume the read role in the organization's accounts only (no list given).
    const assume = statementsOf(template, reconcilerRoleId(template)).filter((s) => s.Sid === 'AssumeMemberReadRoles');
    assert.deepEqual(assume, [
      {
        Sid: 'AssumeMemberReadRoles',
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Resource: `arn:aws:iam::*:role/${READ_ROLE}`,
        Condition: { StringEquals: { 'aws:ResourceOrgID': ORG_ID } },
      },
    ]);
    const variables = functionBy(template, 'reconciler').Properties.Environment.Variables;
    assert.equal(variables.MEMBER_ACCOUNTS, undefined, 'no list: its own account');
    assert.equal(variables.MEMBER_ROLE_NAME, READ_ROLE);
    assert.equal(variables.RECONCILE_REGIONS, undefined);
    const outputs = template.findOutputs('*');
    assert.deepEqual(outputs.CentralEventBusArn.Value, { 'Fn::GetAtt': [BUS, 'Arn'] });
    assert.deepEqual(outputs.ReconcilerRoleArn.Value, { 'Fn::GetAtt': [reconcilerRoleId(template), 'Arn'] });
  });

  test('memberAccountIds: only those accounts may put events; the reconciler assumes exactly their read role', () => {
    const { stack, template } = synth({ memberAccountIds: MEMBERS.join(', ') });
    nagClean(stack);
    const bus = resourcesOf(template, 'AWS::Events::EventBus')[BUS].Properties;
    assert.deepEqual(bus.Policy.Statement, [
      {
        Sid: 'MemberAccountsPutEvents',
        Effect: 'Allow',
        Principal: { AWS: MEMBERS },
        Action: 'events:PutEvents',
        Resource: `arn:aws:events:${stack.region}:${stack.account}:event-bus/EcsEvents-central`,
      },
    ]);
    assertRulesOnTheCentralBus(stack, template);
    const assume = statementsOf(template, reconcilerRoleId(template)).filter((s) => s.Sid === 'AssumeMemberReadRoles');
    assert.deepEqual(assume, [
      {
        Sid: 'AssumeMemberReadRoles',
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Resource: MEMBERS.map((account) => `arn:aws:iam::${account}:role/${READ_ROLE}`),
      },
    ]);
    const variables = functionBy(template, 'reconciler').Properties.Environment.Variables;
    assert.equal(variables.MEMBER_ACCOUNTS, MEMBERS.join(','));
    assert.equal(variables.MEMBER_ROLE_NAME, READ_ROLE);
  });

  test('both, a role name and Regions: the organization decides the bus, the list the roles; reads in those Regions', () => {
    const { stack, template } = synth({
      organizationId: ORG_ID,
      memberAccountIds: MEMBERS.join(','),
      memberReadRoleName: 'reader',
      memberRegions: 'us-east-1,eu-west-1',
      useSqsBuffer: 'true',
    });
    nagClean(stack);
    const bus = resourcesOf(template, 'AWS::Events::EventBus')[BUS].Properties;
    assert.deepEqual(bus.Policy.Statement[0].Condition, { StringEquals: { 'aws:PrincipalOrgID': ORG_ID } });
    assertRulesOnTheCentralBus(stack, template);
    const statements = Object.fromEntries(statementsOf(template, reconcilerRoleId(template)).map((s) => [s.Sid, s]));
    assert.deepEqual(statements.AssumeMemberReadRoles, {
      Sid: 'AssumeMemberReadRoles',
      Effect: 'Allow',
      Action: 'sts:AssumeRole',
      Resource: MEMBERS.map((account) => `arn:aws:iam::${account}:role/reader`),
      Condition: { StringEquals: { 'aws:ResourceOrgID': ORG_ID } },
    });
    const every = `arn:aws:ecs:*:${stack.account}:cluster/*`;
    const inRegions = { StringEquals: { 'aws:RequestedRegion': ['us-east-1', 'eu-west-1'] } };
    assert.deepEqual(statements.EcsClusterList.Condition, inRegions);
    assert.deepEqual(statements.EcsClusters.Resource, every);
    assert.deepEqual(statements.EcsClusterTasksAndInstances.Condition, { ...inRegions, ArnLike: { 'ecs:cluster': [every] } });
    assert.deepEqual(statements.EcsClusterServices.Resource, `arn:aws:ecs:*:${stack.account}:service/*`);
    const variables = functionBy(template, 'reconciler').Properties.Environment.Variables;
    assert.equal(variables.MEMBER_ACCOUNTS, MEMBERS.join(','));
    assert.equal(variables.MEMBER_ROLE_NAME, 'reader');
    assert.equal(variables.RECONCILE_REGIONS, 'us-east-1,eu-west-1');
  });

  test('memberRegions alone: this account read in those Regions, no bus', () => {
    const { template } = synth({ memberRegions: ['eu-west-1'] });
    template.resourceCountIs('AWS::Events::EventBus', 0);
    const variables = functionBy(template, 'reconciler').Properties.Environment.Variables;
    assert.equal(variables.RECONCILE_REGIONS, 'eu-west-1');
    assert.equal(variables.MEMBER_ROLE_NAME, undefined);
  });

  test('bad settings are refused, naming the setting', () => {
    const refused: [Record<string, unknown>, RegExp][] = [
      [{ organizationId: 'a1b2c3d4e5' }, /organizationId "a1b2c3d4e5" is not an AWS Organizations id/],
      [{ organizationId: 'o-ABC' }, /organizationId/],
      [{ memberAccountIds: '222222222222,1234' }, /memberAccountIds: "1234" is not a 12-digit account id/],
      [{ memberAccountIds: 'arn:aws:iam::222222222222:root' }, /memberAccountIds/],
      [{ memberRegions: 'us-east-1,Europe' }, /memberRegions: "Europe" is not a Region name/],
      [{ memberReadRoleName: 'role/reader' }, /memberReadRoleName "role\/reader" is not an IAM role name/],
      [{ memberAccountIds: 5 }, /context memberAccountIds must be a comma-separated list/],
    ];
    for (const [context, message] of refused) {
      assert.throws(() => synth(context), message, JSON.stringify(context));
    }
  });
});

describe('names of accounts (accountNames)', () => {
  const NAMES = '111122223333=prod-eu,444455556666=staging';

  test("given, they reach the alerter's ACCOUNT_NAMES only, without blanks; empty or absent, no ACCOUNT_NAMES", () => {
    const { template } = synth({ accountNames: ' 111122223333 = prod-eu , ,444455556666=staging,' });
    for (const binary of ['listener', 'state-tracker', 'alerter', 'reconciler']) {
      const variables = functionBy(template, binary).Properties.Environment?.Variables ?? {};
      assert.equal(variables.ACCOUNT_NAMES, binary === 'alerter' ? NAMES : undefined, binary);
    }
    for (const context of [{}, { accountNames: '' }, { accountNames: ' , ' }]) {
      const alerter = functionBy(synth(context).template, 'alerter').Properties.Environment.Variables;
      assert.equal('ACCOUNT_NAMES' in alerter, false, JSON.stringify(context));
    }
    // As the alerter: names of 64 characters, spaces inside, non-ASCII letters, ids once each.
    const long = `111122223333=${'n'.repeat(64)},444455556666=Zürich prod`;
    const alerter = functionBy(synth({ accountNames: long }).template, 'alerter').Properties.Environment.Variables;
    assert.equal(alerter.ACCOUNT_NAMES, long);
  });

  test('a malformed map is refused at synth, naming the entry and what is wrong (the alerter would not start)', () => {
    const refused: [unknown, RegExp][] = [
      ['111122223333', /accountNames: entry 1 "111122223333": expected ACCOUNT_ID=NAME/],
      ['111122223333=a,1111=b', /accountNames: entry 2 "1111=b": account id "1111" must be 12 digits/],
      ['prod-eu=111122223333', /entry 1 "prod-eu=111122223333": account id "prod-eu" must be 12 digits/],
      ['111122223333=', /entry 1 "111122223333=": the name must be 1 to 64 characters/],
      ['111122223333=a=b', /entry 1 "111122223333=a=b": the name must be/],
      ['111122223333=a\u0007b', /entry 1 .*: the name must be/],
      [`111122223333=${'n'.repeat(65)}`, /the name must be 1 to 64 characters/],
      ['111122223333=a,,111122223333=b', /entry 3 "111122223333=b": account 111122223333 is already named by entry 1/],
      ['111122223333=prod,444455556666=PROD', /entry 2 "444455556666=PROD": the name "PROD" is already the name of entry 1/],
      [accountNamesOfSize(MAX_ACCOUNT_NAMES_BYTES + 1), /accountNames takes 401 bytes as ACCOUNT_NAMES, over the 400 bytes/],
      [5, /context accountNames must be a string/],
    ];
    for (const [accountNames, message] of refused) {
      assert.throws(() => synth({ accountNames }), message, JSON.stringify(accountNames));
    }
    // The limit counts bytes: 400 characters of which some take two bytes are too many.
    const twoByte = accountNamesOfSize(MAX_ACCOUNT_NAMES_BYTES).replace(/x/, 'é');
    assert.throws(() => synth({ accountNames: twoByte }), /takes 401 bytes/);
  });
});
