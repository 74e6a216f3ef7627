import * as path from 'node:path';
import { CfnOutput, Duration, Fn, RemovalPolicy, Stack, StackProps, Token } from 'aws-cdk-lib';
import * as chatbot from 'aws-cdk-lib/aws-chatbot';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { RustFunction } from 'cargo-lambda-cdk';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { AlertRule, alerterInputTemplate, loadAlertRules, ruleLogicalId } from './rules';

/** infra/cdk: relative paths given as context (rulesFile) are resolved against it. */
export const CDK_APP_DIR = path.resolve(__dirname, '..');
/** The Cargo workspace root: every function is one binary of this workspace. */
export const WORKSPACE_MANIFEST = path.resolve(CDK_APP_DIR, '..', '..', 'Cargo.toml');
export const DEFAULT_RULES_FILE = '../../rules/default.json';

/** Retention periods CloudWatch Logs accepts (the SAM template's LogRetentionDays AllowedValues). */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/** State retention the state tracker accepts: whole days (the SAM parameters' AllowedPattern). */
const MIN_RETENTION_DAYS = 1;
const MAX_RETENTION_DAYS = 3650;

/** An email address (the SAM AlertEmail AllowedPattern, without its empty alternative). */
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** EventBridge retries (the maxima): 185 attempts over 24 hours, then the events DLQ. */
const EVENT_RETRY_ATTEMPTS = 185;
const EVENT_MAX_AGE_SECONDS = 24 * 60 * 60;

/**
 * Lambda's limit on the total size of a function's environment variables (names and values).
 * The synth counts the alerter's actual environment against it (checkEnvironmentSize). The SAM
 * template cannot: scripts/sync-rules gives the rules MAX_RULES_BYTES (2,369), what this same
 * count leaves at every other setting's longest (a chat topic, 32 exit codes of 3 digits,
 * silenceMinutes 1440, accountNames of MAX_ACCOUNT_NAMES_BYTES); rules within it fit here too,
 * whatever the settings (tested), and a stack with shorter settings may hold larger rules.
 */
export const LAMBDA_ENV_LIMIT_BYTES = 4096;
/** What a token-valued variable (an ARN, a name) counts for in that limit: at most about this. */
export const TOKEN_VALUE_BYTES = 150;
/**
 * The longest ACCOUNT_NAMES, in bytes (scripts/sync-rules MAX_ACCOUNT_NAMES_BYTES, the SAM
 * AccountNames MaxLength): 19 accounts by names like prod-eu, 13 like payments-staging, 5 by names
 * of 64 characters; its share of the alerter's 4 KB beside the rules.
 */
export const MAX_ACCOUNT_NAMES_BYTES = 400;
/** The most characters of an account's name (shared/src/account.rs MAX_NAME_CHARS). */
export const MAX_ACCOUNT_NAME_CHARS = 64;

/**
 * What the task index projects besides the keys: what listing a cluster's tasks reads (the state
 * store's TASK_STATUS_INDEX_ATTRIBUTES in shared/src/state/dynamodb.rs).
 */
export const TASK_STATUS_INDEX_ATTRIBUTES = [
  'version',
  'group',
  'startedAt',
  'stoppedAt',
  'stopCode',
  'failedContainers',
  'missingSince',
];
/** The task index's name (shared/src/state/dynamodb.rs TASK_STATUS_INDEX). */
export const TASK_STATUS_INDEX = 'clusterArn-lastStatus-index';
/** The task table's deployment index (shared/src/state/dynamodb.rs TASK_DEPLOYMENT_INDEX): a deployment's tasks. */
export const TASK_DEPLOYMENT_INDEX = 'deploymentId-index';
/** What it projects besides its key (TASK_DEPLOYMENT_INDEX_ATTRIBUTES): what a deployment's summary counts. */
export const TASK_DEPLOYMENT_INDEX_ATTRIBUTES = [
  'clusterArn',
  'lastStatus',
  'version',
  'startedAt',
  'stoppedAt',
  'outcome',
  'stopCause',
];
/** The deployment table's index (shared/src/service/dynamodb.rs DEPLOYMENT_CLUSTER_INDEX): a cluster's deployments. */
export const DEPLOYMENT_CLUSTER_INDEX = 'clusterArn-updatedAt-index';
/** The container instance index's name (shared/src/state/dynamodb.rs CONTAINER_INSTANCE_STATUS_INDEX). */
export const CONTAINER_INSTANCE_STATUS_INDEX = 'clusterArn-status-index';
/** What it projects besides the keys (CONTAINER_INSTANCE_STATUS_INDEX_ATTRIBUTES). */
export const CONTAINER_INSTANCE_STATUS_INDEX_ATTRIBUTES = ['version', 'missingSince'];

/** A cluster name, as ECS accepts it (the SAM ReconcileClusters AllowedPattern, per name). */
export const CLUSTER_NAME = /^[A-Za-z0-9_-]{1,255}$/;
/** The reconciler's schedule: minutes between runs, 0 for none (the SAM ReconcileIntervalMinutes). */
const MAX_RECONCILE_INTERVAL_MINUTES = 1440;
/** The most ECS API calls a run may be allowed (the reconciler's RECONCILE_MAX_API_CALLS range). */
const MAX_RECONCILE_API_CALLS = 65535;
/** What the schedule sends the reconciler (the SAM template's Input). */
export const RECONCILE_INPUT = '{}';

/** Minutes a service may run no task before it is told down, 0 for never (the alerter's SILENCE_MINUTES). */
const MAX_SILENCE_MINUTES = 1440;
/** Exit codes that mean done (the alerter's EXPECTED_EXIT_CODES): 1 to 32 codes from 0 to 255. */
const MAX_EXPECTED_EXIT_CODES = 32;
const MAX_EXIT_CODE = 255;

/** The incident table's index of windows whose digest is due (shared/src/incident/dynamodb.rs DUE_INDEX). */
export const INCIDENT_DUE_INDEX = 'due-index';
/** What the digest flush schedule sends the alerter (the SAM template's Input, byte for byte). */
export const FLUSH_DIGESTS_INPUT = '{"flushDigests": true}';

/**
 * Chat ids, as the SAM parameters accept them (empty: none). Slack: the CloudFormation schema's
 * charset in upper case (so a channel *name* is refused); Teams: GUIDs and the URL-encoded
 * channel id of the channel's link.
 */
export const SLACK_ID = /^[A-Z0-9]{1,255}$/;
export const TEAMS_GUID = /^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$/;
export const TEAMS_CHANNEL_ID = /^[A-Za-z0-9_=+/.,-]*%3[aA][A-Za-z0-9_=+/.,-]*%40[A-Za-z0-9_=+/.,-]*$/;
/** What channel members may do: read-only (the guardrail caps the channel role). */
export const CHAT_GUARDRAIL_POLICY = 'ReadOnlyAccess';
export const CHAT_CHANNEL_ROLE_POLICY = 'CloudWatchReadOnlyAccess';
/** Chatbot configuration names: 1 to 128 of A-Z a-z 0-9 - _, unique in the account (all regions). */
const CHAT_CONFIGURATION_NAME_MAX = 128;

/**
 * One deployment for an organization (issue #25), as the SAM parameters accept them: an AWS
 * Organizations id, 12-digit account ids, Region names, an IAM role name (the member template's
 * read role, infra/member/template.yaml).
 */
export const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;
export const ACCOUNT_ID = /^[0-9]{12}$/;
export const REGION_NAME = /^[a-z]{2}(-[a-z]+)+-[0-9]$/;
export const ROLE_NAME = /^[A-Za-z0-9+=,.@_-]{1,64}$/;
export const DEFAULT_MEMBER_READ_ROLE_NAME = 'ecs-events-reader';

/**
 * Every prop may also be given as context of the same name (`-c alertEmail=ops@example.com`);
 * a prop wins over context, context over the default.
 */
export interface EcsEventsStackProps extends StackProps {
  /** Alert rules file, relative to infra/cdk. Context `rulesFile`. @default ../../rules/default.json */
  readonly rulesFile?: string;
  /** Email subscribed to the alert topic; empty for none. Context `alertEmail`. @default "" */
  readonly alertEmail?: string;
  /** EventBridge → SQS buffer → state tracker instead of EventBridge → state tracker. Context `useSqsBuffer`. @default false */
  readonly useSqsBuffer?: boolean;
  /** Context `taskTableName`. @default ECSTaskState */
  readonly taskTableName?: string;
  /** Context `containerInstanceTableName`. @default ECSCtrInstanceState */
  readonly containerInstanceTableName?: string;
  /** Context `serviceTableName`. @default ECSServiceState */
  readonly serviceTableName?: string;
  /** Context `deploymentTableName`. @default ECSDeploymentState */
  readonly deploymentTableName?: string;
  /** Days (1..3650) a stopped task's state stays before DynamoDB's TTL deletes it. Context `stoppedTaskRetentionDays`. @default 7 */
  readonly stoppedTaskRetentionDays?: number;
  /**
   * Days (1..3650) a deregistered (INACTIVE) container instance's state stays before DynamoDB's TTL
   * deletes it. Context `containerInstanceRetentionDays`. @default 7
   */
  readonly containerInstanceRetentionDays?: number;
  /** Days the functions' logs are kept. Context `logRetentionDays`. @default 30 */
  readonly logRetentionDays?: number;
  /**
   * Create the chat topic even without a Slack or Teams channel (subscribe your own chat
   * configuration to it); Slack or Teams ids create it anyway. Context `chatTopic`. @default false
   */
  readonly chatTopic?: boolean;
  /** Slack workspace id (T0123ABCD), with slackChannelId. Context `slackWorkspaceId`. @default "" (no Slack) */
  readonly slackWorkspaceId?: string;
  /** Slack channel id (C0123ABCD), with slackWorkspaceId. Context `slackChannelId`. @default "" (no Slack) */
  readonly slackChannelId?: string;
  /** Microsoft Teams tenant id (GUID), with the team and channel. Context `teamsTenantId`. @default "" (no Teams) */
  readonly teamsTenantId?: string;
  /** Microsoft Teams team id (GUID). Context `teamsTeamId`. @default "" (no Teams) */
  readonly teamsTeamId?: string;
  /** Microsoft Teams channel id (URL-encoded, from its link). Context `teamsChannelId`. @default "" (no Teams) */
  readonly teamsChannelId?: string;
  /**
   * Minutes (0..1440) between two runs of the reconciler; 0 for no schedule (run it by hand).
   * Context `reconcileIntervalMinutes`. @default 15
   */
  readonly reconcileIntervalMinutes?: number;
  /**
   * Clusters the reconciler reads, by name (its ECS permissions are scoped to them); empty for every
   * cluster of the account and region. Context `reconcileClusters` (comma-separated). @default []
   */
  readonly reconcileClusters?: string[];
  /** The most ECS API calls (1..65535) one run may make. Context `reconcileMaxApiCalls`. @default 2000 */
  readonly reconcileMaxApiCalls?: number;
  /**
   * Minutes (0..1440) a service that should run tasks may run none before the alerter tells it is
   * down; 0 never tells. Context `silenceMinutes`. @default 5
   */
  readonly silenceMinutes?: number;
  /**
   * Exit codes (1 to 32, each 0..255) that mean a task finished its work, for the alert rules that
   * list none. Context `expectedExitCodes` (comma-separated, e.g. `0,3`). @default [0]
   */
  readonly expectedExitCodes?: number[];
  /**
   * Receive the ECS events of every account of this AWS Organization (o-...) on a central event bus
   * that carries the toolkit's rules; empty for none. Context `organizationId`. @default "" (off)
   */
  readonly organizationId?: string;
  /**
   * Accounts whose ECS events the central bus receives (when organizationId is empty) and which the
   * reconciler reads through memberReadRoleName. Context `memberAccountIds` (comma-separated).
   * @default [] (off)
   */
  readonly memberAccountIds?: string[];
  /**
   * Regions the reconciler reads, in this account and each member account; empty for the stack's
   * Region only. Context `memberRegions` (comma-separated). @default []
   */
  readonly memberRegions?: string[];
  /** The member template's read role the reconciler assumes. Context `memberReadRoleName`. @default ecs-events-reader */
  readonly memberReadRoleName?: string;
  /**
   * Names of accounts for the alerter's messages: `ACCOUNT_ID=NAME` entries separated by commas
   * (`111122223333=prod-eu,444455556666=staging`), checked as the alerter checks ACCOUNT_NAMES at
   * start-up and passed to it without blanks, at most MAX_ACCOUNT_NAMES_BYTES (400) bytes. Context
   * `accountNames`. @default "" (accounts named by their ids; ACCOUNT_NAMES unset)
   */
  readonly accountNames?: string;
}

/**
 * The ecs-events stack: the same resources as infra/template.yaml (the SAM template).
 * SAM's deploy-time parameters are synth-time props/context here.
 */
export class EcsEventsStack extends Stack {
  /** The alert rules the stack was built from (one EventBridge rule each). */
  public readonly alertRules: AlertRule[];
  /** The absolute path of the rules file that was read. */
  public readonly rulesFile: string;

  constructor(scope: Construct, id: string, props: EcsEventsStackProps = {}) {
    super(scope, id, props);

    const settings = this.resolveSettings(props);
    this.rulesFile = settings.rulesFile;
    this.alertRules = loadAlertRules(settings.rulesFile);

    // ------------------------------------------------------------ state tables
    const taskTable = new dynamodb.Table(this, 'TaskStateTable', {
      tableName: settings.taskTableName,
      partitionKey: { name: 'taskArn', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    taskTable.addGlobalSecondaryIndex({
      indexName: TASK_STATUS_INDEX,
      partitionKey: { name: 'clusterArn', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'lastStatus', type: dynamodb.AttributeType.STRING },
      // ALL copied every item, its detail included, into the index at 2-3x the write cost. A new
      // projection replaces the index, which CloudFormation does not do in place: a stack deployed
      // with ALL is upgraded in two deploys, first without this index, then with it; queries of it
      // fail until it is ACTIVE again.
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: TASK_STATUS_INDEX_ATTRIBUTES,
    });

    const containerInstanceTable = new dynamodb.Table(this, 'ContainerInstanceStateTable', {
      tableName: settings.containerInstanceTableName,
      partitionKey: { name: 'containerInstanceArn', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      // Deregistered (INACTIVE) instances expire: fleets that scale daily would pile them up.
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // The reconciler finds a cluster's instances here, to mark those ECS no longer lists. Adding
    // it to a deployed table is an in-place update; DynamoDB backfills it.
    containerInstanceTable.addGlobalSecondaryIndex({
      indexName: CONTAINER_INSTANCE_STATUS_INDEX,
      partitionKey: { name: 'clusterArn', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'status', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: CONTAINER_INSTANCE_STATUS_INDEX_ATTRIBUTES,
    });

    // A deployment's tasks: sparse (only tasks a service deployment started carry deploymentId),
    // projecting what a deployment's summary counts. Adding it to a deployed table is an in-place
    // update (CloudFormation adds one index per update; DynamoDB backfills it).
    taskTable.addGlobalSecondaryIndex({
      indexName: TASK_DEPLOYMENT_INDEX,
      partitionKey: { name: 'deploymentId', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: TASK_DEPLOYMENT_INDEX_ATTRIBUTES,
    });

    // Services (shared/src/service/dynamodb.rs): one item per service (desired count, status, last
    // steady state, health, open incidents), each writer with a conditional UpdateItem; a deleted
    // service's item expires. Retained like the other state, as in the SAM template.
    const serviceTable = new dynamodb.Table(this, 'ServiceStateTable', {
      tableName: settings.serviceTableName,
      partitionKey: { name: 'serviceArn', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Deployments: one item per (service, deployment), the newest state winning; the cluster index
    // lists a cluster's deployments in order (`ecs-events deployments`).
    const deploymentTable = new dynamodb.Table(this, 'DeploymentStateTable', {
      tableName: settings.deploymentTableName,
      partitionKey: { name: 'serviceArn', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'deploymentId', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    deploymentTable.addGlobalSecondaryIndex({
      indexName: DEPLOYMENT_CLUSTER_INDEX,
      partitionKey: { name: 'clusterArn', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'updatedAt', type: dynamodb.AttributeType.NUMBER },
      projectionType: dynamodb.ProjectionType.ALL,
    });

    // Idempotency claims only (short TTL): deleted with the stack, as in the SAM template.
    const ledgerTable = new dynamodb.Table(this, 'AlertLedgerTable', {
      partitionKey: { name: 'alertKey', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // Incidents (shared/src/incident/dynamodb.rs): keyed (incidentKey, entry): a head item per
    // incident key, an item per window and one per counted match under its window's key (each
    // count is two small writes, whatever the window holds); a window whose digest is due carries
    // dueShard/dueAt, which the due-index lists (keys only: the flush reads each window and its
    // members from the table, consistently). Short-lived like the ledger (TTL on expiresAt):
    // deleted with the stack, as in the SAM template.
    const incidentTable = new dynamodb.Table(this, 'IncidentTable', {
      partitionKey: { name: 'incidentKey', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'entry', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    incidentTable.addGlobalSecondaryIndex({
      indexName: INCIDENT_DUE_INDEX,
      partitionKey: { name: 'dueShard', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'dueAt', type: dynamodb.AttributeType.NUMBER },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });

    // ------------------------------------------------------------ alert topic
    const topicKey = new kms.Key(this, 'AlertTopicKey', {
      description: 'Encrypts the ecs-events alert topic (and the chat topic).',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // CloudWatch alarms publish to the encrypted topic: the key must let CloudWatch use it
    // (as AWS documents it, without a condition, which alarm delivery does not satisfy).
    topicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );

    const topic = new sns.Topic(this, 'AlertTopic', {
      displayName: 'ECS alerts',
      masterKey: topicKey,
      enforceSSL: true,
    });
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );
    if (settings.alertEmail !== '') {
      topic.addSubscription(new subscriptions.EmailSubscription(settings.alertEmail));
    }

    // ------------------------------------------------------------ chat (optional)
    // Amazon Q Developer in chat applications custom notifications; the alerter is the only
    // publisher the stack grants. Encrypted with the alert topic's key: the alerter's grant on that
    // key covers both topics, and SNS decrypts for the service's HTTPS delivery itself (only
    // publishers need it).
    const chatTopic = settings.chatTopic
      ? new sns.Topic(this, 'ChatNotificationTopic', {
          displayName: 'ECS alerts (chat)',
          masterKey: topicKey,
          enforceSSL: true,
        })
      : undefined;
    if (chatTopic && (settings.slack || settings.teams)) {
      // What channel members can do from the channel: read CloudWatch, within a read-only
      // guardrail (GuardrailPolicies), so nothing can be changed from chat.
      const chatRole = new iam.Role(this, 'ChatChannelRole', {
        assumedBy: new iam.ServicePrincipal('chatbot.amazonaws.com'),
        description: 'ecs-events chat channel (Amazon Q Developer in chat applications), read-only',
        managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName(CHAT_CHANNEL_ROLE_POLICY)],
      });
      NagSuppressions.addResourceSuppressions(chatRole, [
        {
          id: 'AwsSolutions-IAM4',
          reason:
            'The chat channel role of Amazon Q Developer in chat applications: CloudWatchReadOnlyAccess is the ' +
            'AWS managed read-only policy that service documents for channel roles (metric graphs, read-only ' +
            'commands), and the ReadOnlyAccess guardrail caps it; the SAM template attaches the same. It is no ' +
            'function role (those have no managed policies).',
          appliesTo: [`Policy::arn:<AWS::Partition>:iam::aws:policy/${CHAT_CHANNEL_ROLE_POLICY}`],
        },
      ]);
      const guardrail = iam.ManagedPolicy.fromAwsManagedPolicyName(CHAT_GUARDRAIL_POLICY);
      if (settings.slack) {
        new chatbot.SlackChannelConfiguration(this, 'SlackChannelConfiguration', {
          slackChannelConfigurationName: this.chatConfigurationName('slack'),
          slackWorkspaceId: settings.slack.workspaceId,
          slackChannelId: settings.slack.channelId,
          role: chatRole,
          notificationTopics: [chatTopic],
          guardrailPolicies: [guardrail],
          loggingLevel: chatbot.LoggingLevel.ERROR,
          userRoleRequired: false,
        });
      }
      if (settings.teams) {
        // No L2 construct for Teams (aws-cdk-lib 2.276): the L1, with the Slack one's settings.
        new chatbot.CfnMicrosoftTeamsChannelConfiguration(this, 'TeamsChannelConfiguration', {
          configurationName: this.chatConfigurationName('teams'),
          teamsTenantId: settings.teams.tenantId,
          teamId: settings.teams.teamId,
          teamsChannelId: settings.teams.channelId,
          iamRoleArn: chatRole.roleArn,
          snsTopicArns: [chatTopic.topicArn],
          guardrailPolicies: [guardrail.managedPolicyArn],
          loggingLevel: 'ERROR',
          userRoleRequired: false,
        });
      }
    }

    // ------------------------------------------------------------ dead-letter queues
    const eventsDlq = this.deadLetterQueue('EventsDeadLetterQueue');
    const functionsDlq = this.deadLetterQueue('FunctionsDeadLetterQueue');
    // cdk-nag recognises a DLQ only through another queue's RedrivePolicy (as for the buffer DLQ);
    // these two are DLQs of EventBridge targets and of Lambda async invokes.
    for (const dlq of [eventsDlq, functionsDlq]) {
      NagSuppressions.addResourceSuppressions(dlq, [
        {
          id: 'AwsSolutions-SQS3',
          reason:
            'This queue is itself a dead-letter queue (EventBridge target DeadLetterConfig / Lambda async ' +
            'on-failure destination), which cdk-nag cannot see; a DLQ for a DLQ would only move the problem. ' +
            'Any message here raises a CloudWatch alarm to the alert topic.',
        },
      ]);
    }

    // ------------------------------------------------------------ functions
    const logGroup = (name: string) =>
      new logs.LogGroup(this, `${pascal(name)}LogGroup`, {
        logGroupName: `/ecs-events/${this.stackName}/${name}`,
        retention: settings.logRetentionDays as logs.RetentionDays,
        // The SAM template deletes them with the stack too; a retained, explicitly named
        // group would make the next deploy of the same stack name fail.
        removalPolicy: RemovalPolicy.DESTROY,
      });
    const onFailure = new SqsDestinationWithoutGrant(functionsDlq);

    const rustFunction = (
      name: string,
      description: string,
      timeout: Duration,
      environment?: Record<string, string>,
      retryAttempts = 2,
    ): RustFunction => {
      const group = logGroup(name);
      const role = new iam.Role(this, `${pascal(name)}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `ecs-events ${name} function (least privilege, no managed policies)`,
      });
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'Logs',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [group.logGroupArn],
        }),
      );
      return new RustFunction(this, `${pascal(name)}Function`, {
        manifestPath: WORKSPACE_MANIFEST,
        binaryName: name,
        architecture: lambda.Architecture.ARM_64,
        // Local cargo-lambda (with zig) when it is installed; Docker only as cargo-lambda-cdk's fallback.
        // --locked: deploy exactly the dependency versions of Cargo.lock.
        bundling: { forcedDockerBundling: false, cargoLambdaFlags: ['--locked'] },
        description,
        memorySize: 128,
        timeout,
        role,
        logGroup: group,
        loggingFormat: lambda.LoggingFormat.JSON,
        applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
        systemLogLevelV2: lambda.SystemLogLevel.WARN,
        environment,
        retryAttempts,
        onFailure,
      });
    };

    const listener = rustFunction(
      'listener',
      'Logs every ECS event as one JSON line (secrets redacted).',
      Duration.seconds(10),
    );

    // What the state tracker and the reconciler both get: the state tables and retentions, and
    // the conditional PutItem on the two tables only (table.grant() would add the GSI, `table/index/*`).
    const stateTableEnvironment = {
      TASK_TABLE: taskTable.tableName,
      CONTAINER_INSTANCE_TABLE: containerInstanceTable.tableName,
      STOPPED_TASK_RETENTION_DAYS: String(settings.stoppedTaskRetentionDays),
      CONTAINER_INSTANCE_RETENTION_DAYS: String(settings.containerInstanceRetentionDays),
    };
    const conditionalWrites = () =>
      new iam.PolicyStatement({
        sid: 'ConditionalWrites',
        actions: ['dynamodb:PutItem'],
        resources: [taskTable.tableArn, containerInstanceTable.tableArn],
      });

    const stateTracker = rustFunction(
      'state-tracker',
      'Keeps the newest state of every ECS task, container instance, service and deployment in DynamoDB.',
      Duration.seconds(30),
      {
        ...stateTableEnvironment,
        SERVICE_TABLE: serviceTable.tableName,
        DEPLOYMENT_TABLE: deploymentTable.tableName,
      },
    );
    stateTracker.addToRolePolicy(conditionalWrites());
    // Service actions (desired count, steady state) and deployment events: one conditional
    // UpdateItem each (the newer observation wins); nothing is read.
    stateTracker.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ServiceWrites',
        actions: ['dynamodb:UpdateItem'],
        resources: [serviceTable.tableArn, deploymentTable.tableArn],
      }),
    );

    const alertRulesJson = JSON.stringify(this.alertRules);
    const alerterEnvironment = {
      TOPIC_ARN: topic.topicArn,
      LEDGER_TABLE: ledgerTable.tableName,
      INCIDENT_TABLE: incidentTable.tableName,
      // Empty: no chat (the alerter treats an empty value as unset), as in the SAM template.
      CHAT_TOPIC_ARN: chatTopic?.topicArn ?? '',
      // Set: the alerter watches services (deployments with their tasks, services down, incidents
      // resolved) from these three tables.
      SERVICE_TABLE: serviceTable.tableName,
      DEPLOYMENT_TABLE: deploymentTable.tableName,
      TASK_TABLE: taskTable.tableName,
      SILENCE_MINUTES: String(settings.silenceMinutes),
      EXPECTED_EXIT_CODES: settings.expectedExitCodes.join(','),
      // Names of accounts, only when given (the SAM template's HasAccountNames).
      ...(settings.accountNames !== '' ? { ACCOUNT_NAMES: settings.accountNames } : {}),
      ALERT_RULES: alertRulesJson,
    };
    checkEnvironmentSize(alerterEnvironment, settings.rulesFile);
    const alerter = rustFunction(
      'alerter',
      'Sends one readable SNS alert per incident (rule, cluster, service or family), then digests of what followed; ' +
        'watches services (deployments, services down).',
      Duration.seconds(30),
      alerterEnvironment,
    );
    alerter.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'Ledger',
        actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
        resources: [ledgerTable.tableArn],
      }),
    );
    // table.grant*() would add the indexes (`table/index/*`), BatchGetItem, Scan, DeleteItem...:
    // consistent GetItem, conditional PutItem/UpdateItem and Query (a window's members) on the
    // table, Query on the one index.
    alerter.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'Incidents',
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
        resources: [incidentTable.tableArn],
      }),
    );
    alerter.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DueIncidents',
        actions: ['dynamodb:Query'],
        resources: [`${incidentTable.tableArn}/index/${INCIDENT_DUE_INDEX}`],
      }),
    );
    // The service health check (every minute, with the digest flush): every service (Scan), one
    // service (GetItem), its health and open incidents (conditional UpdateItem). No PutItem, no DeleteItem.
    alerter.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'Services',
        actions: ['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:UpdateItem'],
        resources: [serviceTable.tableArn],
      }),
    );
    // A deployment (GetItem) and a service's deployments (Query of the table by its serviceArn key;
    // not the cluster index). Read only: the state tracker writes them.
    alerter.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'Deployments',
        actions: ['dynamodb:GetItem', 'dynamodb:Query'],
        resources: [deploymentTable.tableArn],
      }),
    );
    // A task (GetItem), a service's running tasks and a deployment's tasks (Query of the
    // cluster/status and deployment indexes only). Read only.
    alerter.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'Tasks',
        actions: ['dynamodb:GetItem'],
        resources: [taskTable.tableArn],
      }),
    );
    alerter.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'TaskIndexes',
        actions: ['dynamodb:Query'],
        resources: [
          `${taskTable.tableArn}/index/${TASK_STATUS_INDEX}`,
          `${taskTable.tableArn}/index/${TASK_DEPLOYMENT_INDEX}`,
        ],
      }),
    );
    // Exactly sns:Publish on the topics plus kms:Decrypt and kms:GenerateDataKey* on their key.
    topic.grantPublish(alerter);
    chatTopic?.grantPublish(alerter);
    NagSuppressions.addResourceSuppressions(
      alerter.role!.node.findChild('DefaultPolicy'),
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'kms:GenerateDataKey* (with kms:Decrypt) is what SNS documents, and topic.grantPublish() grants, for ' +
            'publishing to an SSE-KMS topic; the SAM template grants the same. The wildcard only widens the ' +
            'action to the GenerateDataKey variants, and the resource is the one topic key ARN, not "*".',
          appliesTo: ['Action::kms:GenerateDataKey*'],
        },
      ],
      true,
    );

    // The reconciler (shared/src/reconcile): corrects the state tables from the ECS API. No retry:
    // the next scheduled run does the work again; a failed run's error (the clusters it could not
    // read) goes to the functions DLQ, which alarms.
    const reconciler = rustFunction(
      'reconciler',
      "Corrects the state tables from the ECS API (lost events, tags, health, services' desired counts); marks " +
        'tasks ECS no longer lists.',
      // A run stops 5 s before its deadline, keeping what it wrote.
      Duration.minutes(5),
      {
        ...stateTableEnvironment,
        SERVICE_TABLE: serviceTable.tableName,
        RECONCILE_CLUSTERS: settings.reconcileClusters.join(','),
        RECONCILE_MAX_API_CALLS: String(settings.reconcileMaxApiCalls),
        // Issue #25: the member accounts it reads through MEMBER_ROLE_NAME, and the Regions it reads
        // (each unset without its setting: its own account, its own Region), as in the SAM template.
        ...(settings.memberAccountIds.length > 0 ? { MEMBER_ACCOUNTS: settings.memberAccountIds.join(',') } : {}),
        ...(settings.receivesMemberEvents ? { MEMBER_ROLE_NAME: settings.memberReadRoleName } : {}),
        ...(settings.memberRegions.length > 0 ? { RECONCILE_REGIONS: settings.memberRegions.join(',') } : {}),
      },
      0,
    );
    reconciler.addToRolePolicy(conditionalWrites());
    // Sets and clears the missing mark of a task or instance (conditional on its version).
    reconciler.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'MissingMarks',
        actions: ['dynamodb:UpdateItem'],
        resources: [taskTable.tableArn, containerInstanceTable.tableArn],
      }),
    );
    // The stored versions of what ECS describes (no detail): an unchanged resource costs no write.
    reconciler.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'StoredVersions',
        actions: ['dynamodb:BatchGetItem'],
        resources: [taskTable.tableArn, containerInstanceTable.tableArn],
      }),
    );
    // A cluster's unfinished tasks and instances, from the cluster/status indexes only.
    reconciler.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'StoredTasks',
        actions: ['dynamodb:Query'],
        resources: [
          `${taskTable.tableArn}/index/${TASK_STATUS_INDEX}`,
          `${containerInstanceTable.tableArn}/index/${CONTAINER_INSTANCE_STATUS_INDEX}`,
        ],
      }),
    );
    // The stored services (Scan) and their desired count and status as ECS describes them
    // (conditional UpdateItem, the newer observation winning). Never the deployments.
    reconciler.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'StoredServices',
        actions: ['dynamodb:Scan', 'dynamodb:UpdateItem'],
        resources: [serviceTable.tableArn],
      }),
    );
    this.grantEcsReads(reconciler, settings.reconcileClusters, settings.memberRegions);
    // Issue #25: the read role of the member template (infra/member/template.yaml), by its name, in
    // each listed account only (with organizationId too: and in the organization); with
    // organizationId alone, in any account of the organization (aws:ResourceOrgID, the
    // organization of the role assumed). Names known at synth: one ARN per account (the SAM template,
    // whose parameters are not, names the accounts with aws:ResourceAccount instead).
    if (settings.receivesMemberEvents) {
      const roleArn = (account: string) =>
        this.formatArn({ service: 'iam', region: '', account, resource: 'role', resourceName: settings.memberReadRoleName });
      reconciler.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'AssumeMemberReadRoles',
          actions: ['sts:AssumeRole'],
          resources: settings.memberAccountIds.length > 0 ? settings.memberAccountIds.map(roleArn) : [roleArn('*')],
          conditions:
            settings.organizationId !== ''
              ? { StringEquals: { 'aws:ResourceOrgID': settings.organizationId } }
              : undefined,
        }),
      );
    }
    NagSuppressions.addResourceSuppressions(
      reconciler.role!.node.findChild('DefaultPolicy'),
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'ECS list and describe actions only. ecs:ListClusters has no resource type (Resource "*" is the only ' +
            'form; granted only when no cluster is named), nor has ecs:ListServices; ecs:ListTasks, ' +
            'ecs:DescribeTasks, ecs:DescribeContainerInstances and ecs:ListServices are on "*" with the ' +
            'ecs:cluster condition naming the clusters, which also covers task ARNs of the old format (no ' +
            'cluster in them); ecs:DescribeServices is on service/* (the services of the stack\'s account and ' +
            'region, old-format ARNs without a cluster included) with the same ecs:cluster condition; cluster/* ' +
            "is every cluster of the stack's account and region, when no cluster is named. The SAM template " +
            'grants the same.' +
            // Issue #25 (only with these settings, so that the stack without them stays as it was).
            (settings.memberRegions.length > 0
              ? ' With memberRegions the Region of these ARNs is "*" and aws:RequestedRegion lists the Regions read.'
              : '') +
            (settings.receivesMemberEvents && settings.memberAccountIds.length === 0
              ? " With organizationId and no memberAccountIds, sts:AssumeRole is on the member read role's name " +
                'in any account ("*"), under aws:ResourceOrgID: the accounts of the organization only, whose ' +
                'list the stack is not given.'
              : ''),
          appliesTo: [
            'Resource::*',
            { regex: '/^Resource::arn:[^:]+:ecs:[^:]+:[^:]+:cluster\\/\\*$/g' },
            { regex: '/^Resource::arn:[^:]+:ecs:[^:]+:[^:]+:service\\/\\*$/g' },
            ...(settings.receivesMemberEvents && settings.memberAccountIds.length === 0
              ? [{ regex: '/^Resource::arn:[^:]+:iam::\\*:role\\/[^*]+$/g' }]
              : []),
          ],
        },
      ],
      true,
    );

    // ------------------------------------------------------------ EventBridge
    let stateTrackerTargetArn = stateTracker.functionArn;
    let bufferDlq: sqs.Queue | undefined;
    let bufferQueue: sqs.Queue | undefined;
    if (settings.useSqsBuffer) {
      bufferDlq = this.deadLetterQueue('TrackerBufferDeadLetterQueue');
      bufferQueue = new sqs.Queue(this, 'TrackerBufferQueue', {
        // 6 × the state tracker's timeout, as AWS recommends for SQS event sources.
        visibilityTimeout: Duration.seconds(180),
        // 14 days (the maximum), not SQS's default 4: a backlog survives a tracker outage over a long
        // weekend, and the age alarm fires long before anything expires. (Its DLQ cannot keep longer,
        // as AWS advises for DLQs; failing messages move there within about 15 minutes.)
        retentionPeriod: Duration.days(14),
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        deadLetterQueue: { queue: bufferDlq, maxReceiveCount: 5 },
      });
      new lambda.EventSourceMapping(this, 'StateTrackerBufferMapping', {
        target: stateTracker,
        eventSourceArn: bufferQueue.queueArn,
        batchSize: 10,
        maxBatchingWindow: Duration.seconds(1),
        reportBatchItemFailures: true,
      });
      // queue.grantConsumeMessages() would add sqs:GetQueueUrl: the mapping needs only these.
      stateTracker.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'BufferQueue',
          actions: [
            'sqs:ReceiveMessage',
            'sqs:DeleteMessage',
            'sqs:GetQueueAttributes',
            'sqs:ChangeMessageVisibility',
          ],
          resources: [bufferQueue.queueArn],
        }),
      );
      // A record that can never be tracked goes to the buffer's DLQ at once, with its error, rather
      // than after five receives (dlq.grantSendMessages() would add GetQueueAttributes and GetQueueUrl).
      stateTracker.addEnvironment('DEAD_LETTER_QUEUE_URL', bufferDlq.queueUrl);
      stateTracker.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'PoisonRecordsToDeadLetterQueue',
          actions: ['sqs:SendMessage'],
          resources: [bufferDlq.queueArn],
        }),
      );
      stateTrackerTargetArn = bufferQueue.queueArn;
    }

    // One deployment for an organization (issue #25), with organizationId or memberAccountIds: the
    // other accounts' member stacks (infra/member/template.yaml) forward their ECS events to this
    // bus, whose policy lets only the organization's accounts (aws:PrincipalOrgID), or else only the
    // listed accounts, put events; the all-ECS rule and the alert rules live on it. This account's
    // own ECS events arrive on its default bus: one rule forwards them here rather than a second copy
    // of every rule on the default bus (one Lambda permission, DLQ-policy entry and pair of alarms per
    // rule, the same rules whatever account an event comes from; the hop costs a custom event's price
    // and can fail like any target, so it dead-letters and alarms). The reverse, this bus forwarding
    // to the default bus, is impossible: EventBridge routes no event received from a bus to a third.
    // As in the SAM template.
    const centralBusName = `${this.stackName}-central`;
    const centralBus = settings.receivesMemberEvents
      ? new events.CfnEventBus(this, 'CentralEventBus', {
          name: centralBusName,
          description: 'ECS events of this account and of the member accounts (ecs-events).',
          policy: {
            Version: '2012-10-17',
            Statement: [
              {
                Sid: settings.organizationId !== '' ? 'OrganizationPutsEvents' : 'MemberAccountsPutEvents',
                Effect: 'Allow',
                Principal: settings.organizationId !== '' ? '*' : { AWS: settings.memberAccountIds },
                Action: 'events:PutEvents',
                Resource: this.formatArn({ service: 'events', resource: 'event-bus', resourceName: centralBusName }),
                ...(settings.organizationId !== ''
                  ? { Condition: { StringEquals: { 'aws:PrincipalOrgID': settings.organizationId } } }
                  : {}),
              },
            ],
          },
        })
      : undefined;

    const rules: [string, events.CfnRule][] = [];
    const eventRule = (
      ruleId: string,
      description: string,
      eventPattern: Record<string, unknown>,
      targets: { id: string; arn: string; inputTemplate?: string; roleArn?: string }[],
      eventBusName?: string,
    ): events.CfnRule => {
      // L1 on purpose: the pattern reaches CloudFormation exactly as written (no key renaming or merging).
      const rule = new events.CfnRule(this, ruleId, {
        description: description.slice(0, 512),
        eventBusName,
        eventPattern,
        state: 'ENABLED',
        targets: targets.map((target) => ({
          id: target.id,
          arn: target.arn,
          roleArn: target.roleArn,
          inputTransformer:
            target.inputTemplate === undefined ? undefined : { inputPathsMap: {}, inputTemplate: target.inputTemplate },
          // EventBridge takes no RetryPolicy for an event bus target (its defaults apply: 24 hours, 185 attempts).
          retryPolicy:
            target.roleArn !== undefined
              ? undefined
              : { maximumRetryAttempts: EVENT_RETRY_ATTEMPTS, maximumEventAgeInSeconds: EVENT_MAX_AGE_SECONDS },
          deadLetterConfig: { arn: eventsDlq.queueArn },
        })),
      });
      rules.push([ruleId, rule]);
      return rule;
    };
    // The toolkit's rules: on the central bus when there is one (Ref of a bus is its name).
    const toolkitBus = centralBus?.ref;
    if (centralBus) {
      // The role EventBridge takes to put this account's ECS events on the central bus: that one
      // action on that one bus (same account: the role's policy is enough).
      const forwardRole = new iam.Role(this, 'ForwardEcsEventsRole', {
        assumedBy: new iam.ServicePrincipal('events.amazonaws.com'),
        description: "ecs-events, EventBridge forwards this account's ECS events to the central bus",
      });
      forwardRole.addToPolicy(
        new iam.PolicyStatement({
          sid: 'PutEventsOnTheCentralBus',
          actions: ['events:PutEvents'],
          resources: [centralBus.attrArn],
        }),
      );
      eventRule(
        'ForwardEcsEventsToCentralBus',
        "This account's ECS events (default bus) to the central bus, where the toolkit's rules are.",
        { source: ['aws.ecs'] },
        [{ id: 'central-bus', arn: centralBus.attrArn, roleArn: forwardRole.roleArn }],
      );
    }
    const invokedBy = (fn: lambda.IFunction, permissionId: string, rule: events.CfnRule) =>
      fn.addPermission(permissionId, {
        action: 'lambda:InvokeFunction',
        principal: new iam.ServicePrincipal('events.amazonaws.com'),
        sourceArn: rule.attrArn,
      });

    const allEcsEvents = eventRule(
      'AllEcsEventsRule',
      'Every ECS event, to the listener and the state tracker.',
      { source: ['aws.ecs'] },
      [
        { id: 'listener', arn: listener.functionArn },
        { id: 'state-tracker', arn: stateTrackerTargetArn },
      ],
      toolkitBus,
    );
    invokedBy(listener, 'AllEcsEventsInvoke', allEcsEvents);
    if (bufferQueue) {
      bufferQueue.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'EventBridgeSends',
          principals: [new iam.ServicePrincipal('events.amazonaws.com')],
          actions: ['sqs:SendMessage'],
          resources: [bufferQueue.queueArn],
          conditions: { ArnEquals: { 'aws:SourceArn': allEcsEvents.attrArn } },
        }),
      );
    } else {
      invokedBy(stateTracker, 'AllEcsEventsInvoke', allEcsEvents);
    }

    // One EventBridge rule per alert rule, all to the alerter (rules file = single source of truth),
    // each with {"rule": <its name>, "event": <the event>}: one invocation per (event, rule), which
    // sends that rule's alert without matching again (an event matching two rules would otherwise
    // be alerted on by two invocations racing for the same claims).
    for (const alertRule of this.alertRules) {
      const rule = eventRule(
        ruleLogicalId(alertRule.name),
        `Alert rule ${alertRule.name}: ${alertRule.description ?? ''}`.trim(),
        alertRule.pattern,
        [{ id: 'alerter', arn: alerter.functionArn, inputTemplate: alerterInputTemplate(alertRule.name) }],
        toolkitBus,
      );
      invokedBy(alerter, `${ruleLogicalId(alertRule.name)}Invoke`, rule);
    }

    // Due digests and service health: every minute the alerter sends the digests of incident windows
    // that have ended, and checks the services (a service that should run tasks and has run none for
    // silenceMinutes is told down; a recovered one resolves its incident).
    // No dead-letter queue, on purpose: a tick carries nothing (the constant input), the flush is
    // idempotent, and the next tick sends whatever a failed one left, so a dead-lettered tick would
    // be an empty message in the events DLQ, one a minute while something is wrong. Hence also no
    // InvocationsFailedToBeSentToDlq alarm and no place in the events DLQ's policy (it is not in
    // `rules`); its FailedInvocations alarm is below. (EventBridge invokes Lambda asynchronously: a
    // tick the alerter fails follows its async config, two retries then the functions DLQ.)
    const flushSchedule = new events.CfnRule(this, 'DigestFlushSchedule', {
      description: "Every minute, the alerter sends the digests of incident windows that have ended and checks the services' health.",
      scheduleExpression: 'rate(1 minute)',
      state: 'ENABLED',
      targets: [
        {
          id: 'flush-digests',
          arn: alerter.functionArn,
          input: FLUSH_DIGESTS_INPUT,
          retryPolicy: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 120 },
        },
      ],
    });
    invokedBy(alerter, 'DigestFlushScheduleInvoke', flushSchedule);

    // The reconciler's schedule, unless the interval is 0. No DLQ, as for the digest flush: a tick
    // carries nothing and the next one does the same work.
    const minutes = settings.reconcileIntervalMinutes;
    const reconcileSchedule =
      minutes === 0
        ? undefined
        : new events.CfnRule(this, 'ReconcileSchedule', {
            description: 'The reconciler corrects the state tables (tasks, container instances, services) from the ECS API.',
            scheduleExpression: minutes === 1 ? 'rate(1 minute)' : `rate(${minutes} minutes)`,
            state: 'ENABLED',
            targets: [
              {
                id: 'reconcile',
                arn: reconciler.functionArn,
                input: RECONCILE_INPUT,
                retryPolicy: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 120 },
              },
            ],
          });
    if (reconcileSchedule) {
      invokedBy(reconciler, 'ReconcileScheduleInvoke', reconcileSchedule);
    }

    // Only this stack's rules may dead-letter into the events DLQ, each by its exact ARN (as in the SAM template).
    eventsDlq.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeDeadLetters',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [eventsDlq.queueArn],
        conditions: { ArnEquals: { 'aws:SourceArn': rules.map(([, rule]) => rule.attrArn) } },
      }),
    );

    // ------------------------------------------------------------ alarms
    const alarmAction = new cwActions.SnsAction(topic);
    const alarm = (alarmId: string, description: string, metric: cloudwatch.IMetric, threshold = 0) => {
      const created = new cloudwatch.Alarm(this, alarmId, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(alarmAction);
      return created;
    };
    const fiveMinutes = Duration.minutes(5);
    const functionAlarms: [string, lambda.Function, string][] = [
      ['Listener', listener, 'The listener'],
      ['StateTracker', stateTracker, 'The state tracker'],
      ['Alerter', alerter, 'The alerter'],
      ['Reconciler', reconciler, 'The reconciler'],
    ];
    const failedDescriptions: Record<string, string> = {
      Alerter: 'The alerter failed (alerts may be delayed; check the functions DLQ).',
      Reconciler: 'The reconciler failed (its error, naming what it could not read, is in the functions DLQ).',
    };
    for (const [prefix, fn, label] of functionAlarms) {
      const failed = failedDescriptions[prefix] ?? `${label} failed.`;
      alarm(`${prefix}ErrorsAlarm`, failed, fn.metricErrors({ period: fiveMinutes, statistic: 'Sum' }));
      alarm(
        `${prefix}ThrottlesAlarm`,
        `${label} is throttled.`,
        fn.metricThrottles({ period: fiveMinutes, statistic: 'Sum' }),
      );
    }
    const queueAlarms: [string, sqs.Queue, string][] = [
      ['EventsDeadLetterQueueAlarm', eventsDlq, 'EventBridge could not deliver ECS events to a target.'],
      ['FunctionsDeadLetterQueueAlarm', functionsDlq, 'A function gave up on an event after its retries.'],
    ];
    if (bufferDlq) {
      queueAlarms.push(['TrackerBufferDeadLetterQueueAlarm', bufferDlq, 'The state tracker gave up on buffered events.']);
    }
    for (const [alarmId, queue, description] of queueAlarms) {
      alarm(
        alarmId,
        description,
        queue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: 'Maximum' }),
      );
    }
    if (bufferQueue) {
      // The tracker drains the buffer in seconds; a message it keeps failing stays at most about
      // 15 minutes (5 receives, 180 s visibility) before it moves to the DLQ, which alarms on its own.
      // An oldest message over 20 minutes therefore means the tracker is not keeping up or not polling.
      alarm(
        'TrackerBufferAgeAlarm',
        'Buffered ECS events have waited over 20 minutes for the state tracker.',
        bufferQueue.metricApproximateAgeOfOldestMessage({ period: fiveMinutes, statistic: 'Maximum' }),
        Duration.minutes(20).toSeconds(),
      );
    }
    // Delivery failures: one alarm per rule and metric. AWS/Events reports these metrics per RuleName
    // only, and a metric-math alarm sums at most 10 metrics: one alarm summing both metrics of every
    // rule would break at 5 alert rules (rules/examples.json has 6); one per rule also names the rule.
    const deliveryAlarms: [string, string, (ruleId: string) => string][] = [
      [
        'FailedInvocations',
        'FailedInvocationsAlarm',
        (ruleId) => `EventBridge gave up delivering events of ${ruleId} to a target (they are in the events DLQ).`,
      ],
      [
        'InvocationsFailedToBeSentToDlq',
        'DeadLetterFailedAlarm',
        (ruleId) =>
          `EventBridge could not deliver events of ${ruleId} nor dead-letter them: they are lost ` +
          '(check the events DLQ and its policy).',
      ],
    ];
    // The schedule's only delivery alarm (it has no DLQ): EventBridge could not invoke the alerter
    // within the tick's retries (permission, throttling). One missed tick only delays digests and
    // the service health check by a minute.
    alarm(
      'DigestFlushScheduleFailedInvocationsAlarm',
      'EventBridge could not invoke the alerter for the digest flush schedule (DigestFlushSchedule): ' +
        'due digests and the service health check wait for a tick that gets through.',
      new cloudwatch.Metric({
        namespace: 'AWS/Events',
        metricName: 'FailedInvocations',
        dimensionsMap: { RuleName: flushSchedule.ref },
        period: fiveMinutes,
        statistic: 'Sum',
      }),
    );
    if (reconcileSchedule) {
      alarm(
        'ReconcileScheduleFailedInvocationsAlarm',
        'EventBridge could not invoke the reconciler for its schedule (ReconcileSchedule): the state is not ' +
          'being reconciled.',
        new cloudwatch.Metric({
          namespace: 'AWS/Events',
          metricName: 'FailedInvocations',
          dimensionsMap: { RuleName: reconcileSchedule.ref },
          period: fiveMinutes,
          statistic: 'Sum',
        }),
      );
    }
    for (const [ruleId, rule] of rules) {
      // A rule on the central bus (issue #25) is reported under EventBusName and RuleName; its name
      // is taken from its ARN (rule/<bus>/<name>): Ref of a rule on a custom bus is "<bus>|<name>",
      // which AWS does not document. As in the SAM template.
      const dimensionsMap: Record<string, string> =
        rule.eventBusName === undefined
          ? { RuleName: rule.ref }
          : { EventBusName: rule.eventBusName, RuleName: Fn.select(2, Fn.split('/', rule.attrArn)) };
      for (const [metricName, suffix, description] of deliveryAlarms) {
        alarm(
          `${ruleId}${suffix}`,
          description(ruleId),
          new cloudwatch.Metric({
            namespace: 'AWS/Events',
            metricName,
            dimensionsMap,
            period: fiveMinutes,
            statistic: 'Sum',
          }),
        );
      }
    }

    // ------------------------------------------------------------ outputs
    new CfnOutput(this, 'TaskTableName', { description: 'Task state table.', value: taskTable.tableName });
    new CfnOutput(this, 'ContainerInstanceTableName', {
      description: 'Container instance state table.',
      value: containerInstanceTable.tableName,
    });
    new CfnOutput(this, 'ServiceTableName', { description: 'Service state table.', value: serviceTable.tableName });
    new CfnOutput(this, 'DeploymentTableName', {
      description: 'Deployment state table.',
      value: deploymentTable.tableName,
    });
    new CfnOutput(this, 'AlertLedgerTableName', {
      description: 'Alert idempotency ledger table.',
      value: ledgerTable.tableName,
    });
    new CfnOutput(this, 'IncidentTableName', {
      description: 'Incident table (alerts grouped per incident, due digests).',
      value: incidentTable.tableName,
    });
    new CfnOutput(this, 'AlertTopicArn', {
      description: 'SNS topic of the alerts (subscribe more endpoints here).',
      value: topic.topicArn,
    });
    if (chatTopic) {
      new CfnOutput(this, 'ChatTopicArn', {
        description:
          'SNS topic of the chat notifications (Amazon Q Developer in chat applications custom notifications).',
        value: chatTopic.topicArn,
      });
    }
    new CfnOutput(this, 'ReconcilerFunctionName', {
      description: 'The reconciler (aws lambda invoke --function-name <this> out.json runs it by hand).',
      value: reconciler.functionName,
    });
    if (centralBus) {
      new CfnOutput(this, 'ReconcilerRoleArn', {
        description: "The reconciler's role, which the member template's read role trusts (its CentralReconcilerRoleArn).",
        value: reconciler.role!.roleArn,
      });
      new CfnOutput(this, 'CentralEventBusArn', {
        description:
          "The central event bus, where member accounts forward their ECS events (the member template's CentralEventBusArn).",
        value: centralBus.attrArn,
      });
    }
    new CfnOutput(this, 'EventsDeadLetterQueueUrl', {
      description: 'Events EventBridge could not deliver.',
      value: eventsDlq.queueUrl,
    });
    new CfnOutput(this, 'FunctionsDeadLetterQueueUrl', {
      description: 'Events a function gave up on after its retries.',
      value: functionsDlq.queueUrl,
    });
    if (bufferDlq) {
      new CfnOutput(this, 'TrackerBufferDeadLetterQueueUrl', {
        description: 'Buffered events the state tracker gave up on.',
        value: bufferDlq.queueUrl,
      });
    }
  }

  /**
   * A chat channel configuration's name: `<stack>-<region>-<channel>`. Names are account-wide (their
   * ARN has no region), so the stack name and region keep two deployments apart; the stack name is
   * cut to fit the 128 characters allowed (stack names and regions use only allowed characters).
   */
  private chatConfigurationName(channel: 'slack' | 'teams'): string {
    // A region not known at synth (no env) resolves at deploy time: leave room for the longest.
    const region = Token.isUnresolved(this.region) ? 'x'.repeat(20) : this.region;
    const tail = `-${region}-${channel}`;
    const stack = this.stackName.slice(0, CHAT_CONFIGURATION_NAME_MAX - tail.length);
    return `${stack}-${this.region}-${channel}`;
  }

  /**
   * List and describe only, on the named clusters (every cluster of the account and region when
   * none is named). ListTasks, DescribeTasks and DescribeContainerInstances are scoped by the
   * ecs:cluster condition key (ListTasks is authorized on container instances, and a task ARN of the
   * old format has no cluster in it); DescribeClusters and ListContainerInstances by the cluster's
   * ARN; ListServices and DescribeServices by ecs:cluster too (see EcsClusterServices). As in the
   * SAM template.
   */
  private grantEcsReads(fn: lambda.IFunction, clusters: string[], regions: string[]) {
    // Issue #25: with regions, the same reads in each of them (and only those): the ARNs' Region is
    // "*", aws:RequestedRegion lists them.
    const region = regions.length > 0 ? '*' : undefined;
    const clusterArns = (clusters.length === 0 ? ['*'] : clusters).map((name) =>
      this.formatArn({ service: 'ecs', region, resource: 'cluster', resourceName: name }),
    );
    const inRegion = { StringEquals: { 'aws:RequestedRegion': regions.length > 0 ? regions : this.region } };
    if (clusters.length === 0) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'EcsClusterList',
          actions: ['ecs:ListClusters'],
          resources: ['*'],
          conditions: inRegion,
        }),
      );
    }
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'EcsClusters',
        actions: ['ecs:DescribeClusters', 'ecs:ListContainerInstances'],
        resources: clusterArns,
        conditions: inRegion,
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'EcsClusterTasksAndInstances',
        actions: ['ecs:ListTasks', 'ecs:DescribeTasks', 'ecs:DescribeContainerInstances'],
        resources: ['*'],
        conditions: { ...inRegion, ArnLike: { 'ecs:cluster': clusterArns } },
      }),
    );
    // A cluster's services. The Service Authorization Reference: ListServices has no resource type
    // (Resource "*") and takes the ecs:cluster condition key; DescribeServices is authorized on the
    // service resource type (arn:${Partition}:ecs:${Region}:${Account}:service/${ClusterName}/${ServiceName})
    // and takes ecs:cluster too. A service ARN of the old format (service/<name>) has no cluster in it
    // (the reconciler describes the stored ones ECS no longer lists, to learn they are gone), so, as
    // for tasks, ecs:cluster names the clusters, and the resource keeps DescribeServices to the
    // services of the stack's account and region.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'EcsClusterServiceList',
        actions: ['ecs:ListServices'],
        resources: ['*'],
        conditions: { ...inRegion, ArnLike: { 'ecs:cluster': clusterArns } },
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'EcsClusterServices',
        actions: ['ecs:DescribeServices'],
        resources: [this.formatArn({ service: 'ecs', region, resource: 'service', resourceName: '*' })],
        conditions: { ...inRegion, ArnLike: { 'ecs:cluster': clusterArns } },
      }),
    );
  }

  /** A DLQ: SQS-managed encryption, HTTPS only, messages kept 14 days (the maximum). */
  private deadLetterQueue(queueId: string): sqs.Queue {
    const queue = new sqs.Queue(this, queueId, {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    return queue;
  }

  private resolveSettings(props: EcsEventsStackProps) {
    const context = (key: string): unknown => this.node.tryGetContext(key);
    const rulesFileSetting = props.rulesFile ?? stringSetting(context('rulesFile'), 'rulesFile') ?? DEFAULT_RULES_FILE;
    const alertEmail = (props.alertEmail ?? stringSetting(context('alertEmail'), 'alertEmail') ?? '').trim();
    if (alertEmail !== '' && !EMAIL.test(alertEmail)) {
      throw new Error(`alertEmail "${alertEmail}" is not an email address (leave it empty for no subscription)`);
    }
    const retentionDays = (key: 'stoppedTaskRetentionDays' | 'containerInstanceRetentionDays'): number => {
      const days = props[key] ?? numberSetting(context(key), key) ?? 7;
      if (!Number.isInteger(days) || days < MIN_RETENTION_DAYS || days > MAX_RETENTION_DAYS) {
        throw new Error(
          `${key} must be a whole number of days from ${MIN_RETENTION_DAYS} to ${MAX_RETENTION_DAYS}, got ${days}`,
        );
      }
      return days;
    };
    const stoppedTaskRetentionDays = retentionDays('stoppedTaskRetentionDays');
    const containerInstanceRetentionDays = retentionDays('containerInstanceRetentionDays');
    const logRetentionDays = props.logRetentionDays ?? numberSetting(context('logRetentionDays'), 'logRetentionDays') ?? 30;
    if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
      throw new Error(`logRetentionDays must be one of ${LOG_RETENTION_DAYS.join(', ')}; got ${logRetentionDays}`);
    }
    const chat = (key: keyof EcsEventsStackProps, pattern: RegExp, example: string): string => {
      const value = ((props[key] as string | undefined) ?? stringSetting(context(key), key) ?? '').trim();
      if (value !== '' && !pattern.test(value)) {
        throw new Error(`${key} "${value}" is not ${example} (leave it empty for none)`);
      }
      return value;
    };
    const slackIds = {
      workspaceId: chat('slackWorkspaceId', SLACK_ID, 'a Slack workspace id such as T0123ABCD'),
      channelId: chat('slackChannelId', SLACK_ID, 'a Slack channel id such as C0123ABCD (not its name)'),
    };
    const teamsIds = {
      tenantId: chat('teamsTenantId', TEAMS_GUID, 'a Microsoft Teams tenant id (a GUID)'),
      teamId: chat('teamsTeamId', TEAMS_GUID, 'a Microsoft Teams team id (a GUID)'),
      channelId: chat('teamsChannelId', TEAMS_CHANNEL_ID, "a Microsoft Teams channel id as in the channel's link (19%3a...%40thread.tacv2)"),
    };
    // Half a channel is a typo, not a choice (the SAM template's Rules refuse it too).
    const given = (ids: Record<string, string>) => Object.values(ids).filter((id) => id !== '').length;
    if (given(slackIds) === 1) {
      throw new Error('give both slackWorkspaceId and slackChannelId, or neither');
    }
    if (given(teamsIds) !== 0 && given(teamsIds) !== 3) {
      throw new Error('give all of teamsTenantId, teamsTeamId and teamsChannelId, or none');
    }
    const reconcileIntervalMinutes =
      props.reconcileIntervalMinutes ?? numberSetting(context('reconcileIntervalMinutes'), 'reconcileIntervalMinutes') ?? 15;
    if (
      !Number.isInteger(reconcileIntervalMinutes) ||
      reconcileIntervalMinutes < 0 ||
      reconcileIntervalMinutes > MAX_RECONCILE_INTERVAL_MINUTES
    ) {
      throw new Error(
        `reconcileIntervalMinutes must be a whole number of minutes from 0 (no schedule) to ` +
          `${MAX_RECONCILE_INTERVAL_MINUTES}, got ${reconcileIntervalMinutes}`,
      );
    }
    const reconcileClusters =
      props.reconcileClusters ??
      (stringSetting(context('reconcileClusters'), 'reconcileClusters') ?? '')
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name !== '');
    for (const name of reconcileClusters) {
      if (!CLUSTER_NAME.test(name)) {
        throw new Error(
          `reconcileClusters: "${name}" is not a cluster name (1 to 255 letters, digits, - and _; names, not ARNs)`,
        );
      }
    }
    const reconcileMaxApiCalls =
      props.reconcileMaxApiCalls ?? numberSetting(context('reconcileMaxApiCalls'), 'reconcileMaxApiCalls') ?? 2000;
    if (!Number.isInteger(reconcileMaxApiCalls) || reconcileMaxApiCalls < 1 || reconcileMaxApiCalls > MAX_RECONCILE_API_CALLS) {
      throw new Error(`reconcileMaxApiCalls must be a whole number from 1 to ${MAX_RECONCILE_API_CALLS}, got ${reconcileMaxApiCalls}`);
    }
    const silenceMinutes = props.silenceMinutes ?? numberSetting(context('silenceMinutes'), 'silenceMinutes') ?? 5;
    if (!Number.isInteger(silenceMinutes) || silenceMinutes < 0 || silenceMinutes > MAX_SILENCE_MINUTES) {
      throw new Error(
        `silenceMinutes must be a whole number of minutes from 0 (never) to ${MAX_SILENCE_MINUTES}, got ${silenceMinutes}`,
      );
    }
    const expectedExitCodes = props.expectedExitCodes ?? exitCodesSetting(context('expectedExitCodes')) ?? [0];
    if (
      expectedExitCodes.length < 1 ||
      expectedExitCodes.length > MAX_EXPECTED_EXIT_CODES ||
      !expectedExitCodes.every((code) => Number.isInteger(code) && code >= 0 && code <= MAX_EXIT_CODE)
    ) {
      throw new Error(
        `expectedExitCodes must be 1 to ${MAX_EXPECTED_EXIT_CODES} exit codes from 0 to ${MAX_EXIT_CODE} ` +
          `(comma-separated, such as 0,3), got ${JSON.stringify(expectedExitCodes)}`,
      );
    }
    // Issue #25: one deployment for an organization.
    const organizationId = (props.organizationId ?? stringSetting(context('organizationId'), 'organizationId') ?? '').trim();
    if (organizationId !== '' && !ORGANIZATION_ID.test(organizationId)) {
      throw new Error(`organizationId "${organizationId}" is not an AWS Organizations id such as o-a1b2c3d4e5 (leave it empty for none)`);
    }
    const listed = (key: 'memberAccountIds' | 'memberRegions', pattern: RegExp, what: string): string[] => {
      const items = props[key] ?? listSetting(context(key), key) ?? [];
      for (const item of items) {
        if (!pattern.test(item)) throw new Error(`${key}: "${item}" is not ${what}`);
      }
      return [...new Set(items)];
    };
    const memberAccountIds = listed('memberAccountIds', ACCOUNT_ID, 'a 12-digit account id');
    const memberRegions = listed('memberRegions', REGION_NAME, 'a Region name such as us-east-1');
    const memberReadRoleName =
      props.memberReadRoleName ??
      stringSetting(context('memberReadRoleName'), 'memberReadRoleName') ??
      DEFAULT_MEMBER_READ_ROLE_NAME;
    if (!ROLE_NAME.test(memberReadRoleName)) {
      throw new Error(`memberReadRoleName "${memberReadRoleName}" is not an IAM role name (1 to 64 of letters, digits and +=,.@_-)`);
    }
    const accountNames = accountNamesSetting(props.accountNames ?? stringSetting(context('accountNames'), 'accountNames') ?? '');
    const slack = given(slackIds) === 2 ? slackIds : undefined;
    const teams = given(teamsIds) === 3 ? teamsIds : undefined;
    const chatTopic = props.chatTopic ?? booleanSetting(context('chatTopic'), 'chatTopic') ?? false;
    return {
      rulesFile: path.resolve(CDK_APP_DIR, rulesFileSetting),
      // Created when asked for, or when a channel needs it (the SAM HasChatTopic condition).
      chatTopic: chatTopic || slack !== undefined || teams !== undefined,
      slack,
      teams,
      alertEmail,
      useSqsBuffer: props.useSqsBuffer ?? booleanSetting(context('useSqsBuffer'), 'useSqsBuffer') ?? false,
      taskTableName: props.taskTableName ?? stringSetting(context('taskTableName'), 'taskTableName') ?? 'ECSTaskState',
      containerInstanceTableName:
        props.containerInstanceTableName ??
        stringSetting(context('containerInstanceTableName'), 'containerInstanceTableName') ??
        'ECSCtrInstanceState',
      serviceTableName:
        props.serviceTableName ?? stringSetting(context('serviceTableName'), 'serviceTableName') ?? 'ECSServiceState',
      deploymentTableName:
        props.deploymentTableName ??
        stringSetting(context('deploymentTableName'), 'deploymentTableName') ??
        'ECSDeploymentState',
      stoppedTaskRetentionDays,
      containerInstanceRetentionDays,
      logRetentionDays,
      reconcileIntervalMinutes,
      reconcileClusters,
      reconcileMaxApiCalls,
      silenceMinutes,
      expectedExitCodes,
      organizationId,
      memberAccountIds,
      memberRegions,
      memberReadRoleName,
      accountNames,
      // The central bus exists with either (the SAM ReceivesMemberEvents condition).
      receivesMemberEvents: organizationId !== '' || memberAccountIds.length > 0,
    };
  }
}

/**
 * The functions DLQ as the async on-failure destination, granting only sqs:SendMessage
 * (the stock SqsDestination grants sqs:GetQueueAttributes and sqs:GetQueueUrl too).
 */
class SqsDestinationWithoutGrant implements lambda.IDestination {
  constructor(private readonly queue: sqs.IQueue) {}

  public bind(_scope: Construct, fn: lambda.IFunction): lambda.DestinationConfig {
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'OnFailureDestination',
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
      }),
    );
    return { destination: this.queue.queueArn };
  }
}

function checkEnvironmentSize(environment: Record<string, string>, rulesFile: string) {
  // Token-valued variables (ARNs, names) resolve to at most ~150 bytes each; count them at that.
  const size = Object.entries(environment).reduce(
    (total, [key, value]) =>
      total + Buffer.byteLength(key) + (value.includes('${Token[') ? TOKEN_VALUE_BYTES : Buffer.byteLength(value)),
    0,
  );
  if (size > LAMBDA_ENV_LIMIT_BYTES) {
    throw new Error(
      `the alert rules of ${rulesFile} make the alerter's environment about ${size} bytes, over Lambda's ` +
        `${LAMBDA_ENV_LIMIT_BYTES}-byte limit: shorten descriptions or patterns, or use fewer rules` +
        (environment.ACCOUNT_NAMES !== undefined ? ' (or shorter accountNames)' : ''),
    );
  }
}

/**
 * Context `accountNames`, checked by the alerter's rules for ACCOUNT_NAMES (shared/src/account.rs
 * AccountNames::parse): `ID=NAME` entries separated by commas, blanks around each part and empty
 * entries ignored; each id 12 digits, named once; each name 1 to 64 characters without a control
 * character or "=", used once (ASCII case aside). Returns the entries joined without blanks (""
 * for none), at most MAX_ACCOUNT_NAMES_BYTES bytes; throws naming the entry at fault.
 */
export function accountNamesSetting(text: string): string {
  const entries: { account: string; name: string; index: number }[] = [];
  const foldCase = (name: string) => name.replace(/[A-Z]/g, (letter) => letter.toLowerCase());
  text.split(',').forEach((raw, i) => {
    const index = i + 1;
    const entry = raw.trim();
    if (entry === '') return;
    const where = `accountNames: entry ${index} ${JSON.stringify(entry)}`;
    const equals = raw.indexOf('=');
    if (equals < 0) throw new Error(`${where}: expected ACCOUNT_ID=NAME, such as 111122223333=prod-eu`);
    const account = raw.slice(0, equals).trim();
    const name = raw.slice(equals + 1).trim();
    if (!ACCOUNT_ID.test(account)) {
      throw new Error(`${where}: account id ${JSON.stringify(account)} must be 12 digits`);
    }
    const chars = [...name].length;
    if (chars === 0 || chars > MAX_ACCOUNT_NAME_CHARS || /[\p{Cc}=]/u.test(name)) {
      throw new Error(`${where}: the name must be 1 to ${MAX_ACCOUNT_NAME_CHARS} characters, no control characters and no "="`);
    }
    const sameAccount = entries.find((other) => other.account === account);
    if (sameAccount) {
      throw new Error(`${where}: account ${account} is already named by entry ${sameAccount.index}`);
    }
    const sameName = entries.find((other) => foldCase(other.name) === foldCase(name));
    if (sameName) {
      throw new Error(`${where}: the name ${JSON.stringify(name)} is already the name of entry ${sameName.index}`);
    }
    entries.push({ account, name, index });
  });
  const value = entries.map(({ account, name }) => `${account}=${name}`).join(',');
  const bytes = Buffer.byteLength(value);
  if (bytes > MAX_ACCOUNT_NAMES_BYTES) {
    throw new Error(
      `accountNames takes ${bytes} bytes as ACCOUNT_NAMES, over the ${MAX_ACCOUNT_NAMES_BYTES} bytes the alerter's ` +
        `4 KB environment keeps for it beside the rules: name fewer accounts, or shorten their names`,
    );
  }
  return value;
}

function stringSetting(value: unknown, key: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new Error(`context ${key} must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function numberSetting(value: unknown, key: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const parsed = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (Number.isNaN(parsed)) throw new Error(`context ${key} must be a number, got ${JSON.stringify(value)}`);
  return parsed;
}

/**
 * Context `expectedExitCodes`: "0,3" (as `-c expectedExitCodes=0,3` gives it), a number, or an array
 * of numbers (cdk.json). Each item must be a whole number; the range is checked by the caller.
 */
function exitCodesSetting(value: unknown): number[] | undefined {
  if (value === undefined || value === null) return undefined;
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [value];
  return items.map((item) => {
    const text = typeof item === 'string' ? item.trim() : item;
    const code = typeof text === 'number' ? text : typeof text === 'string' && /^[0-9]+$/.test(text) ? Number(text) : NaN;
    if (Number.isNaN(code)) {
      throw new Error(
        `context expectedExitCodes must be exit codes separated by commas (such as 0,3), got ${JSON.stringify(value)}`,
      );
    }
    return code;
  });
}

/**
 * A list setting: "a,b" (as `-c key=a,b` gives it; items trimmed, empty ones dropped) or an array of
 * strings (cdk.json).
 */
function listSetting(value: unknown, key: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : undefined;
  if (items === undefined || !items.every((item) => typeof item === 'string')) {
    throw new Error(`context ${key} must be a comma-separated list, got ${JSON.stringify(value)}`);
  }
  return items.map((item: string) => item.trim()).filter((item: string) => item !== '');
}

function booleanSetting(value: unknown, key: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new Error(`context ${key} must be true or false, got ${JSON.stringify(value)}`);
}

/** state-tracker → StateTracker */
function pascal(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part !== '')
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join('');
}
