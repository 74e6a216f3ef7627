//! The command line: every subcommand, its arguments and options with their help texts (the
//! source of `ecs-events --help` and of docs/reference/cli.md), and the settings some of them
//! make. The wiring that runs the commands is in main.rs.

use std::path::PathBuf;

use anyhow::Context as _;
use chrono::Duration;
use clap::{Args, Parser, Subcommand};
use ecs_events::alert::{RuleSet, exit_codes};
use ecs_events::reconcile::DEFAULT_MAX_API_CALLS;
use ecs_events::state::Retention;
use ecs_events_cli::replay::Decisions;
use ecs_events_cli::scope::{AccountNamesArgs, ScopeArgs};

/// Replay captured ECS events through the toolkit's functions, locally or against AWS APIs.
#[derive(Parser)]
#[command(name = "ecs-events", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Replay events (files and folders, in order) through the state tracker and the alerter.
    Replay(RunArgs),
    /// Write a deterministic benchmark corpus of task lifecycles as JSON Lines.
    Generate {
        /// Number of tasks (9 events each).
        #[arg(long, default_value_t = 20_000)]
        tasks: usize,
        /// Seed: the same arguments write the same bytes.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Share of deliveries sent twice.
        #[arg(long, default_value_t = 0.1)]
        duplicates: f64,
        /// Share of events delivered after the task's next event.
        #[arg(long, default_value_t = 0.1)]
        reordered: f64,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List a cluster's tasks from the state table (DynamoDB: --endpoint-url or --aws).
    Tasks(TasksArgs),
    /// List a cluster's (or one service's) deployments from the deployment table, with what
    /// their tasks did (DynamoDB: --endpoint-url or --aws).
    Deployments(DeploymentsArgs),
    /// Print one task's stored detail from the state table.
    Task {
        /// The task ARN.
        arn: String,
        #[command(flatten)]
        state: StateTableArgs,
    },
    /// Reconcile the state table with the ECS API: write what ECS knows newer, mark tasks it no
    /// longer lists (DynamoDB and ECS: --endpoint-url or --aws).
    Reconcile(ReconcileArgs),
    /// Test alert rules against golden cases: replay each case's events as `replay` does and
    /// compare what would be sent with its expected.json. The rules are linted first. Exit
    /// status 0: every case passed; 1: some failed; 2: usage, or input that cannot be read.
    TestRules(TestRulesArgs),
    /// Test an event against an EventBridge pattern: prints {"Result":true} or {"Result":false},
    /// as `aws events test-event-pattern` does.
    TestPattern {
        /// The pattern: inline JSON or a file.
        #[arg(long)]
        pattern: String,
        /// The event: inline JSON or a file.
        #[arg(long)]
        event: String,
    },
    /// Print this command line's reference as Markdown, made from these definitions: the
    /// checked-in docs/reference/cli.md is its output. Hidden from --help.
    #[command(hide = true)]
    Reference,
}

#[derive(Args)]
pub struct RunArgs {
    /// Files and folders of captured events: JSON events, arrays, JSON Lines, listener logs,
    /// `aws logs filter-log-events` output. Folders are read recursively in name order.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Print one JSON report instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also write the timeline of what happened to FILE: one self-contained HTML page (tasks
    /// by cluster and service, alerts, deployments), to open in a browser.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub decisions: DecisionArgs,
    #[command(flatten)]
    pub names: AccountNamesArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub state: StateTableArgs,
    /// Alert ledger table.
    #[arg(long, default_value = "ECSAlertLedger")]
    pub ledger_table: String,
    /// Incident table (alert grouping).
    #[arg(long, default_value = "ECSIncidents")]
    pub incident_table: String,
    /// SNS topic for chat notifications (optional; with --aws or --endpoint-url).
    #[arg(long)]
    pub chat_topic_arn: Option<String>,
    /// SNS topic for alerts (required with --aws or --endpoint-url).
    #[arg(long)]
    pub topic_arn: Option<String>,
    /// Create the tables first (for a fresh local endpoint).
    #[arg(long)]
    pub create_tables: bool,
}

#[derive(Args)]
pub struct TestRulesArgs {
    /// Cases: folders of event files (any format replay reads) with their expected.json, or
    /// folders of such folders. None: only lint the rules.
    pub cases: Vec<PathBuf>,
    /// Write each case's expected.json from what the rules send now, and say which changed.
    #[arg(long)]
    pub update: bool,
    #[command(flatten)]
    pub decisions: DecisionArgs,
}

/// How the replayed functions decide: the stack's alerting settings.
#[derive(Args)]
pub struct DecisionArgs {
    /// Alert rules file (default: the AWS ECS guide's stopped-task rule).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Exit codes that mean a task finished its work, for rules that list none (the stack's
    /// ExpectedExitCodes), e.g. 0,3.
    #[arg(long, value_name = "CODES", value_delimiter = ',', value_parser = clap::value_parser!(i64).range(0..=255))]
    pub expected_exit_codes: Vec<i64>,
    /// Minutes a service that should run tasks may run none before it is told down (0: never).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(0..=1440))]
    pub silence_minutes: u16,
}

impl DecisionArgs {
    /// The rules (read, compiled and linted) and settings; the error names the rules file.
    pub fn decisions(&self) -> anyhow::Result<Decisions> {
        let rules = match &self.rules {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read rules file {}", path.display()))?;
                RuleSet::from_json(&text)
                    .with_context(|| format!("rules file {}", path.display()))?
            }
            None => RuleSet::default_rules(),
        };
        let rules = if self.expected_exit_codes.is_empty() {
            rules
        } else {
            let codes = exit_codes(self.expected_exit_codes.clone()).map_err(anyhow::Error::msg)?;
            rules.with_expected_exit_codes(codes)
        };
        let silence_after =
            (self.silence_minutes > 0).then(|| i64::from(self.silence_minutes) * 60);
        Ok(Decisions { rules, silence_after })
    }
}

/// How long finished resources stay in the state tables.
#[derive(Args)]
pub struct RetentionArgs {
    /// Days a stopped (or marked missing) task's state is kept (its TTL).
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u16).range(1..=3650))]
    pub retention_days: u16,
    /// Days a deregistered container instance's state is kept (its TTL).
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u16).range(1..=3650))]
    pub instance_retention_days: u16,
}

impl RetentionArgs {
    pub fn retention(&self) -> Retention {
        Retention {
            stopped_task: Duration::days(i64::from(self.retention_days)),
            inactive_instance: Duration::days(i64::from(self.instance_retention_days)),
        }
    }
}

#[derive(Args)]
pub struct ReconcileArgs {
    /// A cluster to reconcile, by name or ARN; repeat for more. Every cluster of the account
    /// and region when absent.
    #[arg(long = "cluster", value_name = "CLUSTER")]
    pub clusters: Vec<String>,
    /// Print the drift without writing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// The most ECS API calls (attempts, retries included) the run may make.
    #[arg(long, default_value_t = DEFAULT_MAX_API_CALLS, value_parser = clap::value_parser!(u64).range(1..=65_535))]
    pub max_api_calls: u64,
    /// Seconds the run may take; it stops in time, keeping what it wrote.
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u64).range(10..=86_400))]
    pub time_limit: u64,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub state: StateTableArgs,
}

/// Where the state tables are: the real DynamoDB adapters and the table names.
#[derive(Args)]
pub struct StateTableArgs {
    /// Use the real DynamoDB (and SNS) adapters against the usual AWS environment.
    #[arg(long)]
    pub aws: bool,
    /// Use the real adapters against this endpoint (moto, DynamoDB Local...); implies --aws.
    /// Without credentials in the environment, dummy ones are used.
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Task table.
    #[arg(long, default_value = "ECSTaskState")]
    pub task_table: String,
    /// Container instance table.
    #[arg(long, default_value = "ECSCtrInstanceState")]
    pub container_instance_table: String,
    /// Service table.
    #[arg(long, default_value = "ECSServiceState")]
    pub service_table: String,
    /// Deployment table.
    #[arg(long, default_value = "ECSDeploymentState")]
    pub deployment_table: String,
}

#[derive(Args)]
pub struct DeploymentsArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub names: AccountNamesArgs,
    /// Only this service's deployments (its name).
    #[arg(long)]
    pub service: Option<String>,
    /// Print a JSON array of the deployments instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: StateTableArgs,
}

#[derive(Args)]
pub struct TasksArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub names: AccountNamesArgs,
    /// Only tasks whose last status is this (RUNNING, STOPPED...).
    #[arg(long)]
    pub status: Option<String>,
    /// Only tasks of this service.
    #[arg(long)]
    pub service: Option<String>,
    /// Print a JSON array of the stored task details instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: StateTableArgs,
}
