//! Replays entries through the same state-tracker and alerter code the Lambdas run, and
//! builds the report.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use ecs_events::account::{AccountNames, same_place};
use ecs_events::alert::{
    Alert, AlertKind, AlertLedger, AlertSink, Alerter, CollectingSink,
    DEFAULT_LEDGER_RETENTION_DAYS, Delivery, InMemoryLedger, MAX_DIGESTS_PER_FLUSH, RuleResult,
    RuleSet, ServiceWatch,
};
use ecs_events::deadline::Deadline;
use ecs_events::event::EcsDetail;
use ecs_events::incident::{InMemoryIncidentStore, IncidentStore};
use ecs_events::service::{
    DeploymentTasks, DeploymentView, InMemoryServiceStore, ServiceStore, health, views,
};
use ecs_events::state::{Detail, InMemoryStateStore, Outcome, ResourceKind, Retention, StateStore};
use ecs_events::tracker::{Stores, TrackError, track};
use serde::Serialize;

use crate::input::Entry;
use crate::stats::{Stats, StatusCounts};
use crate::timeline::Timeline;

/// An entry that could not be replayed, or a service that failed on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    /// `file:line`.
    pub location: String,
    /// What was wrong.
    pub error: String,
}

/// The replay's result (`ecs-events replay --json` prints it).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Counts.
    pub stats: Stats,
    /// The stored detail of each task the replay touched, in ARN order.
    pub tasks: Vec<Detail>,
    /// The stored detail of each container instance the replay touched, in ARN order.
    pub container_instances: Vec<Detail>,
    /// Every deployment the replay saw, with its tasks, oldest first.
    pub deployments: Vec<DeploymentView>,
    /// Tasks by cluster and status, for the text report.
    #[serde(skip)]
    pub task_counts: StatusCounts,
    /// Container instances by cluster and status, for the text report.
    #[serde(skip)]
    pub instance_counts: StatusCounts,
    /// The alerts and digests sent, in order.
    pub alerts: Vec<Alert>,
    /// The entries that can never be stored, in order.
    pub rejected: Vec<Rejected>,
    /// What the services failed on, in order (only against real services): events the store
    /// failed on, alerts that could not be sent, state that could not be read back.
    pub failed: Vec<Rejected>,
    /// The timeline, when the replay kept one ([`Replayer::with_timeline`]).
    #[serde(skip)]
    pub timeline: Option<Timeline>,
    /// The names of accounts the replay was given, for the text report.
    #[serde(skip)]
    pub account_names: Arc<AccountNames>,
}

/// Where a replay keeps state, alerts and incidents: the embedded adapters, or the real ones.
pub struct Adapters {
    /// Tasks and container instances.
    pub store: Arc<dyn StateStore>,
    /// Services and deployments.
    pub services: Arc<dyn ServiceStore>,
    /// The alert ledger.
    pub ledger: Arc<dyn AlertLedger>,
    /// Where alerts go.
    pub sink: Arc<dyn AlertSink>,
    /// Incidents (alert grouping).
    pub incidents: Arc<dyn IncidentStore>,
    /// Where chat notifications go, if anywhere.
    pub chat: Option<Arc<dyn AlertSink>>,
}

impl Adapters {
    /// The embedded adapters: everything in memory, nothing leaves the process.
    pub fn embedded() -> Self {
        Self {
            store: Arc::new(InMemoryStateStore::new()),
            services: Arc::new(InMemoryServiceStore::new()),
            ledger: Arc::new(InMemoryLedger::new()),
            sink: Arc::new(CollectingSink::new()),
            incidents: Arc::new(InMemoryIncidentStore::new()),
            chat: None,
        }
    }
}

/// How the replayed functions decide: the stack's alerting settings.
#[derive(Debug, Clone)]
pub struct Decisions {
    /// The alert rules.
    pub rules: RuleSet,
    /// Seconds a service that should run tasks may run none before it is told down (`None`:
    /// never).
    pub silence_after: Option<i64>,
}

/// The time each alert may take, as an invocation's deadline would allow.
const ALERT_BUDGET: Duration = Duration::from_secs(30);
/// The most schedule ticks (one a minute) simulated between two events, or after the last
/// event of a folder: a longer gap jumps to the next event's minute.
pub const MAX_GAP_TICKS: i64 = 60;

/// Replays events one at a time, in order. Time is event time: the replay's clock is the
/// latest envelope `time` seen, so replaying last week decides as production did then — an
/// event from before the clock arrived late, as it would have in production — and the
/// stack's schedule is played every minute of event time: digests of incident windows that
/// are due, and the services' health (down, recovered, incidents resolved). Between two
/// events, each minute in between is played (up to [`MAX_GAP_TICKS`]).
///
/// **Each folder is a stream of its own**: the events of one folder (a capture, a scenario)
/// share a clock; when the entries move to another folder, every window still open is flushed
/// and the clock starts again, so a tree of separate captures (like `events/`) decides each
/// as it would on its own. After a folder's last event the schedule plays on (up to
/// [`MAX_GAP_TICKS`] minutes, as it would with no further event), then every window still open
/// is flushed.
pub struct Replayer {
    store: Arc<dyn StateStore>,
    services: Arc<dyn ServiceStore>,
    alerter: Alerter,
    retention: Retention,
    stats: Stats,
    touched: BTreeMap<ResourceKind, HashSet<String>>,
    /// Deployments seen: service ARN and deployment id.
    deployments: BTreeSet<(String, String)>,
    alerts: Vec<Alert>,
    rejected: Vec<Rejected>,
    failed: Vec<Rejected>,
    clock: DateTime<Utc>,
    /// The minute (epoch minutes) of the last flush.
    flushed_minute: i64,
    /// The folder of the stream being replayed.
    stream: Option<std::path::PathBuf>,
    timeline: Option<Timeline>,
    /// Names of accounts, for messages and the timeline (`--account-names`).
    names: Arc<AccountNames>,
}

impl Replayer {
    /// A replayer tracking state in `store` and `services` and alerting through `alerter`.
    pub fn new(
        store: Arc<dyn StateStore>,
        services: Arc<dyn ServiceStore>,
        alerter: Alerter,
        retention: Retention,
    ) -> Self {
        Self {
            store,
            services,
            alerter,
            retention,
            stats: Stats::default(),
            touched: BTreeMap::new(),
            deployments: BTreeSet::new(),
            alerts: Vec::new(),
            rejected: Vec::new(),
            failed: Vec::new(),
            clock: DateTime::<Utc>::MIN_UTC,
            flushed_minute: i64::MIN,
            stream: None,
            timeline: None,
            names: Arc::new(AccountNames::none()),
        }
    }

    /// A replayer deciding as the stack would with `decisions`, through `adapters`.
    pub fn deciding(adapters: Adapters, decisions: Decisions, retention: Retention) -> Self {
        let ledger_retention = chrono::Duration::days(i64::from(DEFAULT_LEDGER_RETENTION_DAYS));
        let mut alerter =
            Alerter::new(decisions.rules, adapters.ledger, adapters.sink, ledger_retention)
                .with_incidents(adapters.incidents)
                .with_services(ServiceWatch {
                    services: adapters.services.clone(),
                    state: adapters.store.clone(),
                    settings: health::Settings { silence_after: decisions.silence_after },
                });
        if let Some(chat) = adapters.chat {
            alerter = alerter.with_chat(chat);
        }
        Self::new(adapters.store, adapters.services, alerter, retention)
    }

    /// Also keeps the [`Timeline`] of what was replayed (for `--html`).
    pub fn with_timeline(mut self) -> Self {
        self.timeline = Some(Timeline::new().with_account_names(Arc::clone(&self.names)));
        self
    }

    /// Names accounts by `names` in the messages and the timeline, as the stack's
    /// `ACCOUNT_NAMES` does (an account without a name is named by its id).
    pub fn with_account_names(mut self, names: Arc<AccountNames>) -> Self {
        self.alerter = self.alerter.with_account_names(Arc::clone(&names));
        self.timeline =
            self.timeline.map(|timeline| timeline.with_account_names(Arc::clone(&names)));
        self.names = names;
        self
    }

    /// Replays one entry: the alerter's work and the state tracker's, as both functions
    /// receive every ECS event.
    pub async fn replay(&mut self, entry: Entry) {
        self.stats.events += 1;
        let location = entry.location.to_string();
        let folder = entry.location.file.parent().map(std::path::Path::to_path_buf);
        if folder != self.stream {
            if self.stream.is_some() {
                self.end_stream(&location).await;
            }
            self.stream = folder;
            self.clock = DateTime::<Utc>::MIN_UTC;
            self.flushed_minute = i64::MIN;
        }
        let received = match entry.event {
            Ok(received) => received,
            Err(error) => return self.reject(location, error),
        };
        let clock = self.clock.max(received.event.time.instant());
        self.tick_until(clock, &location).await;
        self.clock = clock;
        let deadline = Deadline::after(ALERT_BUDGET);
        let alerts = self.alerter.process(&received, self.clock, deadline).await;
        self.record_alerts(&location, alerts);
        if let (EcsDetail::Deployment(deployment), Some(service)) =
            (&received.event.detail, received.event.resources().first())
        {
            self.deployments.insert((service.clone(), deployment.deployment_id.clone()));
        }
        if let Some((kind, key)) = ResourceKind::of(&received.event) {
            let keys = self.touched.entry(kind).or_default();
            if !keys.contains(key) {
                keys.insert(key.to_owned());
            }
        }
        let timeline_task = self.timeline.as_mut().and_then(|timeline| {
            timeline.observe(&received.event);
            match &received.event.detail {
                EcsDetail::Task(task) => Some(task.task_arn.clone()),
                _ => None,
            }
        });
        let stores = Stores { state: self.store.as_ref(), services: self.services.as_ref() };
        match track(stores, received, self.retention, self.clock).await {
            Ok(outcome) => {
                if let (Some(timeline), Some(task_arn)) = (&mut self.timeline, &timeline_task) {
                    timeline.decided(task_arn, outcome);
                }
                let count = match outcome {
                    Outcome::Stored => &mut self.stats.stored,
                    Outcome::Duplicate => &mut self.stats.duplicates,
                    Outcome::Stale => &mut self.stats.stale,
                    Outcome::Ignored => &mut self.stats.ignored,
                };
                *count += 1;
            }
            Err(TrackError::Record(error)) => self.reject(location, error.to_string()),
            Err(TrackError::Store(error)) => {
                self.stats.failed += 1;
                self.failed.push(Rejected { location, error: error.to_string() });
            }
        }
    }

    /// Plays the schedule's tick (digests due, services' health) at each minute from the last
    /// one played up to `clock`'s: every minute of a gap of up to [`MAX_GAP_TICKS`], else
    /// only `clock`'s.
    async fn tick_until(&mut self, clock: DateTime<Utc>, location: &str) {
        let minute = clock.timestamp().div_euclid(60);
        if minute <= self.flushed_minute {
            return;
        }
        let first =
            if self.flushed_minute == i64::MIN || minute - self.flushed_minute > MAX_GAP_TICKS {
                minute
            } else {
                self.flushed_minute + 1
            };
        for tick in first..=minute {
            let at = if tick == minute {
                clock
            } else {
                DateTime::<Utc>::from_timestamp(tick * 60, 0).unwrap_or(clock)
            };
            let told = self.alerter.flush(at, Deadline::after(ALERT_BUDGET)).await;
            self.clock = self.clock.max(at);
            self.record_alerts(location, told);
        }
        self.flushed_minute = minute;
    }

    fn record_alerts(&mut self, location: &str, results: Vec<RuleResult>) {
        for (rule, result) in results {
            match result {
                Ok(Delivery::Quiet { .. }) => self.stats.quiet += 1,
                Ok(delivery) => {
                    if let Some(alert) = delivery.into_published() {
                        match alert.kind {
                            AlertKind::Alert => self.stats.alerts += 1,
                            AlertKind::Digest => self.stats.digests += 1,
                            AlertKind::Silence => self.stats.silences += 1,
                            AlertKind::Resolved => self.stats.resolved += 1,
                        }
                        if let Some(timeline) = &mut self.timeline {
                            timeline.alert(&alert, self.clock);
                        }
                        self.alerts.push(alert);
                    }
                }
                Err(error) => {
                    self.stats.alerts_failed += 1;
                    let error = format!("alert {rule}: {error}");
                    self.failed.push(Rejected { location: location.to_owned(), error });
                }
            }
        }
    }

    /// Ends a folder's stream: the schedule plays on for up to [`MAX_GAP_TICKS`] minutes after
    /// its last event (as it would in production with no further event), then every window
    /// still open is flushed.
    async fn end_stream(&mut self, location: &str) {
        if self.flushed_minute != i64::MIN {
            let end = self.clock + chrono::Duration::minutes(MAX_GAP_TICKS);
            // One tick sees the last event's effect; more only while something may be told.
            loop {
                let next = self.clock + chrono::Duration::minutes(1);
                if next > end {
                    break;
                }
                self.tick_until(next, location).await;
                if !self.alerter.pending().await {
                    break;
                }
            }
        }
        self.flush_all(location).await;
    }

    /// Flushes every window still open, at the clock (a flush sends a bounded number of
    /// digests: flush until one sends less, or nothing).
    async fn flush_all(&mut self, location: &str) {
        loop {
            let digests = self.alerter.flush_all(self.clock, Deadline::after(ALERT_BUDGET)).await;
            let more = digests.len() >= MAX_DIGESTS_PER_FLUSH
                && digests.iter().any(|(_, result)| result.is_ok());
            self.record_alerts(location, digests);
            if !more {
                break;
            }
        }
    }

    fn reject(&mut self, location: String, error: String) {
        self.stats.rejected += 1;
        self.rejected.push(Rejected { location, error });
    }

    /// The report, with the stored state of every task and container instance touched, after
    /// flushing the digests of every incident window still open.
    pub async fn finish(mut self) -> Report {
        self.end_stream("end of replay").await;
        let mut tasks = Vec::new();
        let mut container_instances = Vec::new();
        let mut task_counts = StatusCounts::new();
        let mut instance_counts = StatusCounts::new();
        let mut failed = self.failed;
        let mut touched: Vec<(&ResourceKind, &String)> = self
            .touched
            .iter()
            .flat_map(|(kind, keys)| keys.iter().map(move |key| (kind, key)))
            .collect();
        touched.sort_unstable();
        for (kind, key) in touched {
            match self.store.get(*kind, key).await {
                Ok(Some(record)) => match kind {
                    ResourceKind::Task => {
                        count(&mut task_counts, &record.cluster_arn, record.status);
                        tasks.push(record.detail);
                    }
                    ResourceKind::ContainerInstance => {
                        count(&mut instance_counts, &record.cluster_arn, record.status);
                        container_instances.push(record.detail);
                    }
                },
                Ok(None) => {}
                Err(error) => {
                    failed.push(Rejected { location: key.clone(), error: error.to_string() })
                }
            }
        }
        let mut records = Vec::new();
        for (service, id) in &self.deployments {
            match self.services.deployment(service, id).await {
                Ok(Some(record)) => records.push(record),
                Ok(None) => {}
                Err(error) => {
                    failed.push(Rejected { location: id.clone(), error: error.to_string() })
                }
            }
        }
        let mut tasks_of = BTreeMap::new();
        for record in &records {
            match self.store.deployment_tasks(&record.deployment_id).await {
                Ok(mut tasks) => {
                    tasks.retain(|task| same_place(&task.task_arn, &record.service_arn));
                    let key = (record.service_arn.clone(), record.deployment_id.clone());
                    tasks_of.insert(key, DeploymentTasks::of(&tasks));
                }
                Err(error) => failed.push(Rejected {
                    location: record.deployment_id.clone(),
                    error: error.to_string(),
                }),
            }
        }
        let deployments = views(records, |record| {
            let key = (record.service_arn.clone(), record.deployment_id.clone());
            tasks_of.remove(&key).unwrap_or_default()
        });
        Report {
            stats: self.stats,
            tasks,
            container_instances,
            deployments,
            task_counts,
            instance_counts,
            alerts: self.alerts,
            rejected: self.rejected,
            failed,
            timeline: self.timeline,
            account_names: self.names,
        }
    }
}

/// Counts one more resource of `status` in the cluster of `cluster_arn`.
fn count(counts: &mut StatusCounts, cluster_arn: &str, status: String) {
    *counts.entry(cluster_arn.to_owned()).or_default().entry(status).or_default() += 1;
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use async_trait::async_trait;
    use ecs_events::alert::{CollectingSink, InMemoryLedger, RuleSet};
    use ecs_events::state::{
        Create, PutResult, StateRecord, StoreError, StoredVersion, TaskSummary,
    };

    use super::*;
    use crate::input::Location;

    /// A store whose every request fails as an unreachable endpoint does.
    struct Unreachable;

    #[async_trait]
    impl StateStore for Unreachable {
        async fn put_if_newer(
            &self,
            record: StateRecord,
            _: Create,
        ) -> Result<PutResult, StoreError> {
            Err(StoreError::Request {
                operation: "PutItem",
                table: "ECSTaskState".into(),
                message: format!("dispatch failure for {}", record.key),
                retryable: true,
                source: "connection refused".into(),
            })
        }

        async fn get(&self, _: ResourceKind, _: &str) -> Result<Option<StateRecord>, StoreError> {
            Ok(None)
        }

        async fn list_tasks(
            &self,
            _: &str,
            _: Option<&str>,
        ) -> Result<Vec<TaskSummary>, StoreError> {
            Ok(Vec::new())
        }

        async fn deployment_tasks(&self, _: &str) -> Result<Vec<TaskSummary>, StoreError> {
            Ok(Vec::new())
        }

        async fn cluster_arns(&self) -> Result<Vec<String>, StoreError> {
            Ok(Vec::new())
        }

        async fn mark_missing(
            &self,
            _: ResourceKind,
            _: &str,
            _: u64,
            _: i64,
            _: i64,
        ) -> Result<bool, StoreError> {
            Ok(false)
        }

        async fn clear_missing(
            &self,
            _: ResourceKind,
            _: &str,
            _: u64,
        ) -> Result<bool, StoreError> {
            Ok(false)
        }

        async fn stored_versions(
            &self,
            _: ResourceKind,
            _: &[String],
        ) -> Result<std::collections::HashMap<String, StoredVersion>, StoreError> {
            Ok(Default::default())
        }

        async fn unfinished(
            &self,
            _: ResourceKind,
            _: &str,
        ) -> Result<Vec<StoredVersion>, StoreError> {
            Ok(Vec::new())
        }

        async fn put_api_facts(&self, _: StateRecord) -> Result<bool, StoreError> {
            Ok(false)
        }
    }

    fn entry(raw: &str) -> Entry {
        Entry {
            location: Location { file: PathBuf::from("night.jsonl"), line: 7 },
            event: ecs_events::event::ReceivedEvent::from_slice(raw.as_bytes())
                .map_err(|error| error.to_string()),
        }
    }

    #[tokio::test]
    async fn given_a_store_that_fails_then_the_event_is_failed_not_rejected() {
        let alerter = Alerter::new(
            RuleSet::default_rules(),
            Arc::new(InMemoryLedger::new()),
            Arc::new(CollectingSink::new()),
            chrono::Duration::days(1),
        );
        let services = Arc::new(InMemoryServiceStore::new());
        let mut replayer =
            Replayer::new(Arc::new(Unreachable), services, alerter, Retention::default());
        replayer.replay(entry(include_str!("../../events/samples/task-ec2-running.json"))).await;
        replayer.replay(entry(r#"{"not": "an event"}"#)).await;
        let report = replayer.finish().await;
        assert_eq!((report.stats.failed, report.stats.rejected), (1, 1));
        assert_eq!(report.failed.len(), 1);
        assert_eq!(report.failed[0].location, "night.jsonl:7");
        assert!(report.failed[0].error.starts_with("PutItem on table ECSTaskState failed"));
        assert!(report.rejected[0].error.contains("missing field"), "{:?}", report.rejected);
    }
}
