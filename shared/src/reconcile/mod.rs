//! The reconciler: keeps the state table true to the ECS API, for what events cannot tell.
//!
//! Events get lost before they reach the state tracker (an instance that dies before its agent
//! reports a task STOPPED; a delivery that exhausts its retries), and an event's detail lacks
//! what only the API returns (`healthStatus` of the task, tags). For each cluster a run:
//!
//! 1. reads the cluster's **unfinished** tasks from the cluster/status index (not STOPPED:
//!    the stopped ones, most of a batch cluster's table, are never read);
//! 2. lists the cluster's tasks with `ListTasks`, desired status RUNNING and STOPPED (every
//!    page; ECS lists stopped tasks for about an hour), and describes them with
//!    `DescribeTasks` in batches of 100, with their tags; reads what the table holds of each
//!    batch with one `BatchGetItem` (versions, marks and API facts, no details);
//! 3. writes each described task whose version is newer than the stored one through the same
//!    conditional write as an event (newer wins, equal or older changes nothing), as a record
//!    whose `source` is `reconcile` and whose detail has the event detail's shape
//!    ([`task_detail`]); at the **same** version it writes only when what only the API tells
//!    (tags, health: [`api_facts`]) differs from what the record holds, so an unchanged task
//!    costs no write;
//! 4. **marks** an unfinished task that ECS lists in neither state: `missingSince`, and an
//!    expiry after the stopped-task retention — unless the table learnt of it in the last
//!    [`LIST_GRACE`] (ECS's lists are eventually consistent). It never deletes it nor invents
//!    a STOPPED state; a newer write replaces the mark, and a run that finds the task listed
//!    again at the same version clears it;
//! 5. does the same for container instances (`ListContainerInstances`, every status but
//!    INACTIVE; `DescribeContainerInstances`), from the instance table's cluster/status index;
//! 6. with a service store, reads the cluster's services (`ListServices`, `DescribeServices` in
//!    batches of 10, and the stored services ECS no longer lists, to learn they are gone) and
//!    records each one's desired count and status when it changed — or when the service is
//!    silent and its desired count was last observed before the silence began, so the health
//!    check ([`crate::service::health`]) learns whether it should run tasks.
//!
//! **Accounts and Regions.** A run reads the function's own account and Region; with member
//! accounts or Regions ([`Members`]: `MEMBER_ACCOUNTS`, `MEMBER_ROLE_NAME`,
//! `RECONCILE_REGIONS`), it reads each account × Region in turn ([`Reach`]), a member account
//! through the role it assumes there. A failure in one (the role cannot be assumed, ECS
//! refuses or throttles) is reported for that one (`failures`, `targets`), and the others are
//! still reconciled. Records stay apart by account and Region: every key is an ARN, which holds
//! both.
//!
//! Calls are counted (every attempt) and capped **per run** — each run starts its own count,
//! however many runs one Lambda sandbox serves, and however many accounts and Regions it
//! reads; the SDK retries throttled calls with backoff.
//! A run cut short by the cap or the deadline keeps what it wrote, marks nothing it has not
//! seen in full, and says so (the Lambda invocation then fails, so the cut is not silent).

mod api_detail;
mod ecs_api;
mod members;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ecs::types::DesiredStatus;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};

pub use api_detail::{api_facts, container_instance_detail, task_detail};
pub use ecs_api::{DESCRIBE_BATCH, DESCRIBE_SERVICES_BATCH, EcsApi, EcsApiError};
pub use members::{Caller, DEFAULT_MEMBER_ROLE_NAME, Members, ROLE_SESSION_NAME, Reach};

use crate::deadline::Deadline;
use crate::event::{
    ArnKind, CONTAINER_INSTANCE_STATE_CHANGE, ECS_SOURCE, ReceivedEvent, TASK_STATE_CHANGE,
    check_arn,
};
use crate::service::{Desired, ServiceRecord, ServiceStore};
use crate::state::{
    Create, PutResult, ResourceKind, Retention, Source, StateRecord, StateStore, StoreError,
    StoredVersion,
};

/// API calls a run may make by default: a cluster of 1,000 tasks takes about 25.
pub const DEFAULT_MAX_API_CALLS: u64 = 2_000;
/// Time kept back from the deadline to report and return.
const DEADLINE_RESERVE: Duration = Duration::from_secs(5);
/// A record the table learnt of this recently is not marked missing when ECS does not list it
/// (yet): ECS's lists are eventually consistent.
pub const LIST_GRACE: chrono::Duration = chrono::Duration::minutes(10);

/// What a run reconciles and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileSettings {
    /// Clusters by name or ARN; every cluster of each account and Region read when empty. A
    /// name is looked for in every account and Region read (unknown only when none has it);
    /// an ARN only in its own account and Region.
    pub clusters: Vec<String>,
    /// The most ECS API attempts the run may make.
    pub max_api_calls: u64,
    /// Report the drift without writing.
    pub dry_run: bool,
    /// How long marked tasks stay (their expiry), as stopped tasks do.
    pub retention: Retention,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        Self {
            clusters: Vec::new(),
            max_api_calls: DEFAULT_MAX_API_CALLS,
            dry_run: false,
            retention: Retention::default(),
        }
    }
}

/// One difference between the table and ECS, and what the run did (or, dry, would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// `task` or `container-instance`.
    pub kind: &'static str,
    /// Its ARN.
    pub arn: String,
    /// What the table holds: `STATUS@version`, or none.
    pub stored: Option<String>,
    /// What ECS says: `STATUS@version`, or none (not listed).
    pub ecs: Option<String>,
    /// `write`, `add API facts` (same version: tags or health changed), `mark missing` or
    /// `clear mark`.
    pub action: &'static str,
}

/// What a run did. Serialised as the CLI's `--json` and the function's response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconcileReport {
    /// Whether nothing was written.
    pub dry_run: bool,
    /// The clusters reconciled in full (ARNs).
    pub clusters: Vec<String>,
    /// Clusters asked for that ECS does not know (`MISSING`) or has deleted (`INACTIVE`):
    /// a wrong name or region. Also listed under failures.
    pub unknown_clusters: Vec<String>,
    /// Tasks and container instances described by the API.
    pub described: u64,
    /// Services described by the API.
    pub services_described: u64,
    /// Service records given a desired count or status (dry run: that would be).
    pub services_written: u64,
    /// Records written (dry run: that would be).
    pub written: u64,
    /// Described resources the table already held at that version or newer.
    pub unchanged: u64,
    /// Records given the API's tags and health at the same version (dry run: that would be).
    pub enriched: u64,
    /// Tasks marked missing (dry run: that would be).
    pub marked_missing: u64,
    /// Marks cleared: the task was listed again.
    pub cleared: u64,
    /// Unlisted records not marked because the table learnt of them within [`LIST_GRACE`].
    pub too_recent_to_mark: u64,
    /// ECS API attempts, retries included.
    pub api_calls: u64,
    /// Attempts ECS throttled.
    pub throttles: u64,
    /// Why the run stopped early, when it did (what it wrote stays).
    pub cut_short: Option<String>,
    /// What failed: a cluster ECS does not know or refused, a resource that cannot be a
    /// record, an account or Region that could not be read.
    pub failures: Vec<String>,
    /// Every difference found, in the order found.
    pub drift: Vec<Drift>,
    /// With member accounts or Regions: each account × Region read, and how it went.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetReport>,
}

/// How one account × Region of a run went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetReport {
    /// The account (`None`: the function's own, its id not known).
    pub account: Option<String>,
    /// The Region (`None`: the function's own).
    pub region: Option<String>,
    /// The role assumed to read it (`None`: the function's own credentials).
    pub role: Option<String>,
    /// Clusters reconciled in full there.
    pub clusters: u64,
    /// Why it could not be read (or not in full), when it could not.
    pub error: Option<String>,
}

impl ReconcileReport {
    /// The run's EMF metric line: one document with every count as a metric (namespace
    /// `EcsEvents`, dimension `Function`).
    pub fn emf(&self, function: &str) -> Value {
        let counts = [
            ("Described", self.described),
            ("ServicesDescribed", self.services_described),
            ("ServicesWritten", self.services_written),
            ("Written", self.written),
            ("Unchanged", self.unchanged),
            ("MarkedMissing", self.marked_missing),
            ("Enriched", self.enriched),
            ("ApiCalls", self.api_calls),
            ("Throttles", self.throttles),
            ("CutShort", u64::from(self.cut_short.is_some())),
        ];
        crate::telemetry::counts_emf(function, &counts)
    }
}

/// Why a run could not go on. (An account, Region or cluster that cannot be read is a
/// failure of the report, not of the run: the others are still reconciled.)
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The state table failed: nothing more can be written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The clusters found in one account and Region.
struct Listed {
    found: Vec<String>,
}

/// Why one cluster's reconciliation stopped.
enum Stop {
    /// The API failed for this cluster: the next may still work.
    Api(EcsApiError),
    /// The cap or the deadline: the run ends here.
    CutShort(String),
    /// The table failed.
    Store(StoreError),
}

impl From<EcsApiError> for Stop {
    fn from(error: EcsApiError) -> Self {
        match error {
            EcsApiError::CapReached { .. } => Self::CutShort(error.to_string()),
            other => Self::Api(other),
        }
    }
}

impl From<StoreError> for Stop {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// Reconciles the state table with the ECS API.
pub struct Reconciler {
    client: aws_sdk_ecs::Client,
    store: Arc<dyn StateStore>,
    services: Option<Arc<dyn ServiceStore>>,
    settings: ReconcileSettings,
    /// Member accounts and Regions, and the SDK configuration their roles are assumed with.
    members: Option<(aws_config::SdkConfig, Members)>,
}

/// One account × Region of a run, and the counted API that reads it.
struct Target {
    reach: Reach,
    ecs: EcsApi,
}

impl Reconciler {
    /// A reconciler over `client` and `store`.
    pub fn new(
        client: &aws_sdk_ecs::Client,
        store: Arc<dyn StateStore>,
        settings: ReconcileSettings,
    ) -> Self {
        Self { client: client.clone(), store, services: None, settings, members: None }
    }

    /// Also reads `members`' accounts and Regions: the client's own account in each Region
    /// with its own credentials, each member account through its role, assumed with `sdk`'s
    /// credentials (see [`Members`]).
    pub fn with_members(mut self, sdk: &aws_config::SdkConfig, members: Members) -> Self {
        self.members = (!members.own_only()).then(|| (sdk.clone(), members));
        self
    }

    /// Also records each service's desired count and status in `services`.
    pub fn with_services(mut self, services: Arc<dyn ServiceStore>) -> Self {
        self.services = Some(services);
        self
    }

    /// One run, which must end by `deadline`, with its own count of API calls against the
    /// cap. A store failure ends it with an error (what was written stays); an API failure
    /// is reported per cluster, or per account and Region.
    pub async fn run(&self, deadline: Deadline) -> Result<ReconcileReport, ReconcileError> {
        self.run_as(None, deadline).await
    }

    /// [`Reconciler::run`] by `caller` (the function's partition and account, from its ARN):
    /// with members, the own account is read with the client's credentials and every other
    /// listed account through its role.
    pub async fn run_as(
        &self,
        caller: Option<&Caller>,
        deadline: Deadline,
    ) -> Result<ReconcileReport, ReconcileError> {
        let ecs = EcsApi::new(&self.client, self.settings.max_api_calls);
        let targets = match &self.members {
            None => Vec::new(),
            Some((sdk, members)) => {
                // One assumed session per account, shared by its Regions.
                let mut roles: HashMap<String, crate::aws::AssumedRole> = HashMap::new();
                let mut targets = Vec::new();
                for reach in members.plan(caller) {
                    let role = match &reach.role_arn {
                        Some(arn) => match roles.get(arn) {
                            Some(role) => Some(role.clone()),
                            None => {
                                let role = crate::aws::assume_role(sdk, arn).await;
                                roles.insert(arn.clone(), role.clone());
                                Some(role)
                            }
                        },
                        None => None,
                    };
                    let region = reach.region.as_deref();
                    let client = crate::aws::ecs_reaching(&self.client, region, role.as_ref());
                    targets.push(Target { ecs: ecs.sharing(&client), reach });
                }
                targets
            }
        };
        let mut run = Run {
            ecs: ecs.clone(),
            store: self.store.as_ref(),
            services: self.services.as_deref(),
            stored_services: None,
            settings: &self.settings,
            deadline,
            now: Utc::now(),
            report: ReconcileReport { dry_run: self.settings.dry_run, ..Default::default() },
        };
        // Boxed: the run's future is deep (every step of every cluster), too deep for the
        // compiler's layout of a function's future that awaits it.
        let result = if targets.is_empty() {
            Box::pin(run.own_clusters()).await
        } else {
            let members = self.members.as_ref().map(|(_, members)| members.accounts.as_slice());
            Box::pin(run.all_targets(&targets, caller, members.unwrap_or_default())).await
        };
        run.report.api_calls = ecs.calls();
        run.report.throttles = ecs.throttles();
        result.map(|()| run.report)
    }
}

/// The state of one run.
struct Run<'a> {
    /// The API of the account and Region being read.
    ecs: EcsApi,
    store: &'a dyn StateStore,
    services: Option<&'a dyn ServiceStore>,
    /// The stored services by cluster, read once a run.
    stored_services: Option<HashMap<String, HashMap<String, ServiceRecord>>>,
    settings: &'a ReconcileSettings,
    deadline: Deadline,
    now: DateTime<Utc>,
    report: ReconcileReport,
}

impl Run<'_> {
    /// The client's own account and Region (no members): a cluster ECS does not know is a
    /// failure, and so is listing them failing.
    async fn own_clusters(&mut self) -> Result<(), ReconcileError> {
        let clusters = self.settings.clusters.clone();
        match self.all_clusters(&clusters, true).await {
            Ok(_) => Ok(()),
            Err(Stop::Api(error)) => {
                self.report.failures.push(format!("cannot list the clusters: {error}"));
                Ok(())
            }
            Err(Stop::CutShort(why)) => {
                self.report.cut_short = Some(why);
                Ok(())
            }
            Err(Stop::Store(error)) => Err(error.into()),
        }
    }

    /// Every account × Region in turn (see [`Members`]): a failure in one is reported for it
    /// (`failures`, `targets`) and the next is read. A cluster asked for by name is looked
    /// for in each, by ARN only in its own; it is unknown when none that was asked has it
    /// (and each answered), or when it is an ARN of no account and Region read.
    async fn all_targets(
        &mut self,
        targets: &[Target],
        caller: Option<&Caller>,
        members: &[String],
    ) -> Result<(), ReconcileError> {
        let named = self.settings.clusters.clone();
        // For each cluster asked for: found somewhere, asked anywhere, answered everywhere.
        let mut found = vec![false; named.len()];
        let mut asked_anywhere = vec![false; named.len()];
        let mut answered = vec![true; named.len()];
        for target in targets {
            let reach = &target.reach;
            self.ecs = target.ecs.clone();
            // Its account and Region, for the clusters asked for by ARN.
            let account = reach.account.as_deref().or(caller.map(|c| c.account.as_str()));
            let region = reach.region.clone().or_else(|| target.ecs.region());
            let here = |arn: &str| {
                let arn_account = crate::account::account_of(arn);
                let in_account = match account {
                    Some(account) => arn_account == Some(account),
                    // The own account, its id not known: an ARN of no listed member.
                    None => arn_account.is_some_and(|a| !members.iter().any(|m| m == a)),
                };
                in_account && crate::account::region_of(arn) == region.as_deref()
            };
            let asked: Vec<usize> = (0..named.len())
                .filter(|&index| !named[index].starts_with("arn:") || here(&named[index]))
                .collect();
            if !named.is_empty() && asked.is_empty() {
                continue;
            }
            let clusters: Vec<String> = asked.iter().map(|&index| named[index].clone()).collect();
            let before = self.report.clusters.len();
            let outcome = self.all_clusters(&clusters, false).await;
            let mut entry = TargetReport {
                account: reach.account.clone(),
                region: reach.region.clone(),
                role: reach.role_arn.clone(),
                clusters: 0,
                error: None,
            };
            match outcome {
                Ok(listed) => {
                    for &index in &asked {
                        asked_anywhere[index] = true;
                        let given = named[index].as_str();
                        found[index] |= listed
                            .found
                            .iter()
                            .any(|arn| arn == given || arn.rsplit('/').next() == Some(given));
                    }
                }
                Err(Stop::Api(error)) => {
                    for &index in &asked {
                        asked_anywhere[index] = true;
                        answered[index] = false;
                    }
                    let message =
                        format!("{}: cannot list the clusters: {error}", reach.describe());
                    entry.error = Some(message.clone());
                    self.report.failures.push(message);
                }
                Err(Stop::CutShort(why)) => {
                    self.report.cut_short = Some(format!("{why} (in {})", reach.describe()));
                }
                Err(Stop::Store(error)) => return Err(error.into()),
            }
            entry.clusters = (self.report.clusters.len() - before) as u64;
            if entry.error.is_none() {
                entry.error = self.report.cut_short.clone();
            }
            self.report.targets.push(entry);
            if self.report.cut_short.is_some() {
                return Ok(());
            }
        }
        for (index, given) in named.iter().enumerate() {
            if found[index] || !answered[index] {
                continue;
            }
            self.report.failures.push(if asked_anywhere[index] {
                format!("cluster {given}: MISSING in every account and Region read")
            } else {
                format!("cluster {given}: not in an account and Region read")
            });
            self.report.unknown_clusters.push(given.clone());
        }
        Ok(())
    }

    /// The clusters of the account and Region being read: every one (`clusters` empty) or
    /// those asked for (those ECS does not know reported as failures when `report_unknown`).
    /// A cluster ECS refuses is a failure of its own, and the next is read; listing them
    /// failing, the cap or the deadline stop here ([`Stop`]; a cut inside a cluster is said in
    /// `cut_short`).
    async fn all_clusters(
        &mut self,
        clusters: &[String],
        report_unknown: bool,
    ) -> Result<Listed, Stop> {
        let clusters = if clusters.is_empty() {
            self.ecs.list_clusters().await?
        } else {
            let (found, unknown) = self.ecs.describe_clusters(clusters).await?;
            if report_unknown {
                for (arn, why) in unknown {
                    self.report.failures.push(format!("cluster {arn}: {why}"));
                    self.report.unknown_clusters.push(arn);
                }
            }
            found
        };
        for (index, cluster) in clusters.iter().enumerate() {
            match self.cluster(cluster).await {
                Ok(()) => self.report.clusters.push(cluster.clone()),
                Err(Stop::Api(error)) => {
                    self.report.failures.push(format!("cluster {cluster}: {error}"));
                }
                Err(Stop::CutShort(why)) => {
                    let left = clusters.len() - index;
                    self.report.cut_short = Some(format!(
                        "{why}: stopped in cluster {cluster}, {left} cluster(s) not reconciled in full"
                    ));
                    break;
                }
                Err(Stop::Store(error)) => return Err(Stop::Store(error)),
            }
        }
        Ok(Listed { found: clusters })
    }

    fn check_deadline(&self) -> Result<(), Stop> {
        if self.deadline.remaining_less(DEADLINE_RESERVE).is_zero() {
            return Err(Stop::CutShort("the invocation's deadline is near".into()));
        }
        Ok(())
    }

    async fn cluster(&mut self, cluster: &str) -> Result<(), Stop> {
        self.reconcile(ResourceKind::Task, cluster).await?;
        self.reconcile(ResourceKind::ContainerInstance, cluster).await?;
        self.services(cluster).await
    }

    /// The cluster's services: desired count and status, recorded when they changed or when a
    /// silent service needs a fresh observation; stored services ECS no longer lists are
    /// described to learn they are gone (`MISSING` is recorded as `INACTIVE`, desired 0).
    async fn services(&mut self, cluster: &str) -> Result<(), Stop> {
        let Some(services) = self.services else { return Ok(()) };
        // The service table is read once a run, whatever the number of clusters.
        if self.stored_services.is_none() {
            let mut by_cluster: HashMap<String, HashMap<String, ServiceRecord>> = HashMap::new();
            for record in services.services().await? {
                by_cluster
                    .entry(record.cluster_arn.clone())
                    .or_default()
                    .insert(record.service_arn.clone(), record);
            }
            self.stored_services = Some(by_cluster);
        }
        let stored = self
            .stored_services
            .as_mut()
            .and_then(|by_cluster| by_cluster.remove(cluster))
            .unwrap_or_default();
        let mut arns = self.ecs.list_services(cluster).await?;
        let listed: HashSet<String> = arns.iter().cloned().collect();
        let mut gone: Vec<String> = stored
            .values()
            .filter(|record| {
                !listed.contains(&record.service_arn)
                    && record.status.as_deref() != Some("INACTIVE")
                    && check_arn(ArnKind::Service, &record.service_arn).is_ok()
            })
            .map(|record| record.service_arn.clone())
            .collect();
        gone.sort();
        arns.extend(gone);
        let at_ms = self.now.timestamp_millis();
        for batch in arns.chunks(DESCRIBE_SERVICES_BATCH) {
            self.check_deadline()?;
            let (described, failures) = self.ecs.describe_services(cluster, batch).await?;
            // What was asked for: ECS answers for these ARNs only.
            let asked = |arn: &String| batch.contains(arn);
            let mut seen: Vec<(String, i64, String)> = described
                .into_iter()
                .filter_map(|service| {
                    let status = service.status.unwrap_or_else(|| "ACTIVE".to_owned());
                    Some((service.service_arn?, i64::from(service.desired_count), status))
                })
                .collect();
            seen.extend(failures.into_iter().filter_map(|failure| {
                (failure.reason.as_deref() == Some("MISSING"))
                    .then(|| (failure.arn.unwrap_or_default(), 0, "INACTIVE".to_owned()))
            }));
            for (arn, desired, status) in seen.into_iter().filter(|(arn, ..)| asked(arn)) {
                self.report.services_described += 1;
                let record = stored.get(&arn);
                let changed = record.is_none_or(|record| {
                    record.desired.map(|d| d.count) != Some(desired)
                        || record.status.as_deref() != Some(status.as_str())
                });
                let needed = record.is_some_and(|record| {
                    record.health.silent_since.is_some_and(|since| {
                        record.desired.is_none_or(|d| d.at_ms.div_euclid(1_000) < since)
                    })
                });
                if !(changed || needed) {
                    continue;
                }
                self.report.services_written += 1;
                if !self.settings.dry_run {
                    let observed = Desired { count: desired, at_ms, source: Source::Reconcile };
                    services.observe_desired(&arn, cluster, observed, Some(&status)).await?;
                }
            }
        }
        Ok(())
    }

    /// One kind of resource of a cluster: what the table holds unfinished (read first), what
    /// ECS lists and describes, batch by batch against the stored versions, then the marks.
    async fn reconcile(&mut self, kind: ResourceKind, cluster: &str) -> Result<(), Stop> {
        let unfinished = self.store.unfinished(kind, cluster).await?;
        let mut listed = match kind {
            ResourceKind::Task => {
                let mut listed = self.ecs.list_tasks(cluster, DesiredStatus::Running).await?;
                listed.extend(self.ecs.list_tasks(cluster, DesiredStatus::Stopped).await?);
                listed
            }
            ResourceKind::ContainerInstance => self.ecs.list_container_instances(cluster).await?,
        };
        let mut seen = HashSet::new();
        listed.retain(|arn| seen.insert(arn.clone()));
        for batch in listed.chunks(DESCRIBE_BATCH) {
            self.check_deadline()?;
            let described = self.describe(kind, cluster, batch).await?;
            let arns: Vec<String> = described
                .iter()
                .map(|(arn, ..)| arn.clone())
                .filter(|arn| !arn.is_empty())
                .collect();
            let stored = self.store.stored_versions(kind, &arns).await?;
            for (arn, version, status, detail) in described {
                self.report.described += 1;
                let Some(version) = self.versioned(kind, &arn, version) else { continue };
                let ecs = format!("{status}@{version}");
                self.compare(kind, &arn, ecs, version, detail, stored.get(&arn)).await?;
            }
        }
        self.check_deadline()?;
        self.mark_unlisted(kind, &unfinished, &seen).await?;
        Ok(())
    }

    /// Up to [`DESCRIBE_BATCH`] resources as ECS describes them: ARN, API version, status, and
    /// the detail in an event's shape.
    async fn describe(
        &self,
        kind: ResourceKind,
        cluster: &str,
        batch: &[String],
    ) -> Result<Vec<(String, i64, String, Value)>, EcsApiError> {
        Ok(match kind {
            ResourceKind::Task => {
                let tasks = self.ecs.describe_tasks(cluster, batch).await?;
                tasks
                    .into_iter()
                    .map(|task| {
                        let detail = task_detail(&task);
                        let status = task.last_status.unwrap_or_default();
                        (task.task_arn.unwrap_or_default(), task.version, status, detail)
                    })
                    .collect()
            }
            ResourceKind::ContainerInstance => {
                let instances = self.ecs.describe_container_instances(cluster, batch).await?;
                instances
                    .into_iter()
                    .map(|instance| {
                        let detail = container_instance_detail(&instance, cluster);
                        let status = instance.status.unwrap_or_default();
                        let arn = instance.container_instance_arn.unwrap_or_default();
                        (arn, instance.version, status, detail)
                    })
                    .collect()
            }
        })
    }

    /// The version the API gave, or `None` (reported) when it gave none: without it the
    /// write could not be ordered against events (moto's ECS keeps no versions).
    fn versioned(&mut self, kind: ResourceKind, arn: &str, version: i64) -> Option<u64> {
        let version = u64::try_from(version).ok().filter(|version| *version > 0);
        if version.is_none() {
            let failure = format!("{} {arn}: ECS gave no version, not written", kind_name(kind));
            self.report.failures.push(failure);
        }
        version
    }

    /// One described resource (`ecs`: `STATUS@version`) against what the table holds of it.
    async fn compare(
        &mut self,
        kind: ResourceKind,
        arn: &str,
        ecs: String,
        version: u64,
        detail: Value,
        stored: Option<&StoredVersion>,
    ) -> Result<(), StoreError> {
        let ecs = Some(ecs);
        let Some(stored) = stored.filter(|stored| stored.version >= version) else {
            return self.write(kind, arn, detail, stored, ecs).await;
        };
        if stored.version > version {
            self.report.unchanged += 1;
            return Ok(());
        }
        let facts = api_facts(&detail);
        if stored.api_facts.as_deref() != Some(facts.as_str()) {
            // Same state, but tags or health the record does not have yet.
            let record = match self.record(kind, detail) {
                Ok(record) => record,
                Err(error) => {
                    self.report.failures.push(format!("{} {arn}: {error}", kind_name(kind)));
                    return Ok(());
                }
            };
            if self.settings.dry_run || self.store.put_api_facts(record).await? {
                self.report.enriched += 1;
                self.report.cleared += u64::from(stored.missing_since.is_some());
                self.drift(kind, arn, Some(stored), ecs, "add API facts");
            } else {
                self.report.unchanged += 1;
            }
            return Ok(());
        }
        self.report.unchanged += 1;
        if stored.missing_since.is_some() {
            self.drift(kind, arn, Some(stored), ecs, "clear mark");
            if self.settings.dry_run || self.store.clear_missing(kind, arn, version).await? {
                self.report.cleared += 1;
            }
        }
        Ok(())
    }

    /// Marks the unfinished records ECS did not list (`seen`), but for those the table learnt
    /// of within [`LIST_GRACE`] or that changed since they were read.
    async fn mark_unlisted(
        &mut self,
        kind: ResourceKind,
        unfinished: &[StoredVersion],
        seen: &HashSet<String>,
    ) -> Result<(), StoreError> {
        let candidates: Vec<&StoredVersion> = unfinished
            .iter()
            .filter(|stored| stored.missing_since.is_none() && !seen.contains(&stored.key))
            .collect();
        if candidates.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = candidates.iter().map(|stored| stored.key.clone()).collect();
        let now = self.store.stored_versions(kind, &keys).await?;
        let recent = (self.now - LIST_GRACE).timestamp();
        for candidate in candidates {
            let Some(stored) = now.get(&candidate.key).filter(|s| s.version == candidate.version)
            else {
                continue;
            };
            if stored.written_at.is_some_and(|written| written > recent) {
                self.report.too_recent_to_mark += 1;
                continue;
            }
            self.mark_missing(kind, stored).await?;
        }
        Ok(())
    }

    async fn mark_missing(
        &mut self,
        kind: ResourceKind,
        stored: &StoredVersion,
    ) -> Result<(), StoreError> {
        self.drift(kind, &stored.key, Some(stored), None, "mark missing");
        let since = self.now.timestamp();
        let expires_at = (self.now + self.settings.retention.of(kind)).timestamp();
        if self.settings.dry_run
            || self.store.mark_missing(kind, &stored.key, stored.version, since, expires_at).await?
        {
            self.report.marked_missing += 1;
        }
        Ok(())
    }

    /// The conditional write of a described resource (dry run: counted, not written).
    async fn write(
        &mut self,
        kind: ResourceKind,
        arn: &str,
        detail: Value,
        stored: Option<&StoredVersion>,
        ecs: Option<String>,
    ) -> Result<(), StoreError> {
        let record = match self.record(kind, detail) {
            Ok(record) => record,
            Err(error) => {
                self.report.failures.push(format!("{} {arn}: {error}", kind_name(kind)));
                return Ok(());
            }
        };
        if self.settings.dry_run {
            self.report.written += 1;
            self.drift(kind, arn, stored, ecs, "write");
            return Ok(());
        }
        match self.store.put_if_newer(record, Create::Allowed).await? {
            PutResult::Written => {
                self.report.written += 1;
                self.drift(kind, arn, stored, ecs, "write");
            }
            PutResult::Kept { .. } | PutResult::NotCreated => self.report.unchanged += 1,
        }
        Ok(())
    }

    /// The record of a described resource: its detail through the same typing, checks and
    /// redaction as an event's, from the reconciler, with its API facts.
    fn record(&self, kind: ResourceKind, detail: Value) -> Result<StateRecord, String> {
        let facts = api_facts(&detail);
        let arn = detail[kind.key_attribute()].as_str().unwrap_or_default();
        // arn:aws:ecs:<region>:<account>:...
        let mut parts = arn.split(':').skip(3);
        let (region, account) =
            (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        let time = self.now.to_rfc3339_opts(SecondsFormat::Millis, true);
        let detail_type = match kind {
            ResourceKind::Task => TASK_STATE_CHANGE,
            ResourceKind::ContainerInstance => CONTAINER_INSTANCE_STATE_CHANGE,
        };
        let event = json!({
            "version": "0", "id": format!("reconcile:{time}"), "detail-type": detail_type,
            "source": ECS_SOURCE, "account": account, "time": time, "region": region,
            "resources": [arn], "detail": detail
        });
        let received = ReceivedEvent::new(event).map_err(|error| error.to_string())?;
        let record = StateRecord::from_event(received, self.settings.retention)
            .map_err(|error| error.to_string())?;
        let mut record = record.ok_or("not a task or container instance")?;
        record.source = Source::Reconcile;
        record.api_facts = Some(facts);
        Ok(record)
    }

    fn drift(
        &mut self,
        kind: ResourceKind,
        arn: &str,
        stored: Option<&StoredVersion>,
        ecs: Option<String>,
        action: &'static str,
    ) {
        let stored = stored.map(|stored| format!("{}@{}", stored.status, stored.version));
        self.report.drift.push(Drift {
            kind: kind_name(kind),
            arn: arn.to_owned(),
            stored,
            ecs,
            action,
        });
    }
}

fn kind_name(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Task => "task",
        ResourceKind::ContainerInstance => "container-instance",
    }
}
