//! `ecs-events replay --html`: what happened, as one self-contained page. Per lane (a cluster's
//! service or task family) the page first draws what an operator reads first — how many tasks
//! ran over time, the stops per interval by cause, the deployments as bands (failed ones
//! marked, rollbacks named) and the periods the service was down — and, zoomed in or for a
//! lane of few tasks, every task as a bar from creation to its last known state, coloured by
//! how it ended; every alert, digest, "service down" and "recovered" message, deployment and
//! service action is a marker on its lane.
//!
//! Lanes stay apart by account and Region: the same cluster and service names in two accounts
//! or Regions are two lanes, and when the replay saw more than one account or Region each
//! cluster's heading names them (the account by its name when `--account-names` gives one).
//!
//! The replay feeds the timeline each event (before and after the state tracker decides it) and
//! each message when it is sent; [`Timeline::write_html`] writes the page: `timeline.html` with
//! the data as JSON in it, drawn by its own script (no network, no dependency). The lane
//! summaries are computed here, so that the page stays small whatever the number of tasks.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ecs_events::account::{AccountNames, account_of, region_of};
use ecs_events::alert::{Alert, AlertKind, SERVICE_DOWN_RULE};
use ecs_events::event::{
    DEFAULT_EXPECTED_EXIT_CODES, DeploymentStateChange, EcsDetail, EcsEvent, TaskOutcome,
    TaskStateChange, TaskStatus,
};
use ecs_events::incident::KeyParts;
use ecs_events::state::Outcome;
use serde::Serialize;

use crate::stats::Stats;

/// The page: CSS, the drawing script, and `/*TIMELINE-DATA*/` where the data goes.
const PAGE: &str = include_str!("timeline.html");
const DATA_PLACEHOLDER: &str = "/*TIMELINE-DATA*/";
/// The most tasks drawn: beyond, every task that did not end cleanly is kept and the others
/// sampled evenly, and the page says so (50,000 events stay under 5 MB this way).
pub const MAX_TASKS_DRAWN: usize = 8_000;
/// The most characters of a reason or subject shown.
const MAX_TEXT: usize = 300;
/// The most characters of a stop cause (causes are a few words; a longer one is cut).
const MAX_CAUSE: usize = 80;
/// The most points of a lane's running series: beyond, each point tells the most tasks that
/// ran in its interval (a coarser step, never less than a second).
pub const MAX_RUNNING_POINTS: usize = 3_000;
/// The most stop buckets of a lane: the interval is the shortest of [`STOP_INTERVALS`] that
/// covers the lane's span in this many.
pub const MAX_STOP_BUCKETS: i64 = 120;
/// The intervals stops are counted in (seconds).
const STOP_INTERVALS: [i64; 20] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 10_800, 21_600, 43_200,
    86_400, 172_800, 604_800,
];
/// The causes of failures named on a lane's chart (the most frequent): the others are
/// "other failures".
pub const MAX_FAILURE_CAUSES: usize = 4;
/// The causes of other stops (clean exits, stops on purpose, Spot) named on a lane's chart:
/// the others are "other stops".
pub const MAX_OTHER_CAUSES: usize = 3;
/// The cause of a task that finished its work, whatever its sidecars' exits.
const COMPLETED_CAUSE: &str = "completed";

/// One container of a task's last known state.
#[derive(Debug, Clone, Serialize)]
struct ContainerFacts {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// A task's bar.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskBar {
    arn: String,
    /// The task's account.
    account: String,
    cluster: String,
    lane: String,
    /// The task's Region (the page links to the task in the ECS console of it).
    region: String,
    /// Epoch milliseconds: created (or first seen) and last known (stopped, or last event).
    start: i64,
    end: i64,
    outcome: TaskOutcome,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// Why it stopped, in a few words ([`TaskStateChange::stop_cause`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<String>,
    /// The deployment that started it (`startedBy` `ecs-svc/…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    deployment: Option<String>,
    containers: Vec<ContainerFacts>,
    versions: Vec<u64>,
    duplicates: u32,
    stale: u32,
    #[serde(skip)]
    newest: u64,
    /// Whether the state tracker stored any of its events (else it is not drawn: the table
    /// never held it).
    #[serde(skip)]
    stored: bool,
    /// `startedAt` (any version's).
    #[serde(skip)]
    started_at: Option<i64>,
    /// The first event seen RUNNING.
    #[serde(skip)]
    first_running: Option<i64>,
    /// `stoppedAt` (any version's).
    #[serde(skip)]
    stopped_at: Option<i64>,
    /// The first event seen past RUNNING (deactivating, stopping, deprovisioning, stopped).
    #[serde(skip)]
    first_stopping: Option<i64>,
    /// The first event seen STOPPED.
    #[serde(skip)]
    first_stopped: Option<i64>,
}

impl TaskBar {
    /// When it ran (epoch milliseconds): from its start (`startedAt`, else its first RUNNING
    /// event) to its stop (`stoppedAt`, else its first event past RUNNING), the stop `None`
    /// while it runs. `None` for a task never seen started (it failed to start).
    fn ran(&self) -> Option<(i64, Option<i64>)> {
        let from = self.started_at.or(self.first_running)?;
        let to = self.stopped_at.or(self.first_stopping).map(|to| to.max(from));
        Some((from, to))
    }

    /// When it stopped (`stoppedAt`, else its first STOPPED event), once its newest state is
    /// STOPPED.
    fn stop(&self) -> Option<i64> {
        (self.status == TaskStatus::Stopped.as_str())
            .then(|| self.stopped_at.or(self.first_stopped).unwrap_or(self.end))
    }
}

/// A marker: an alert, a digest, a "service down" or "recovered" message, a deployment or a
/// service action.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Marker {
    /// `alert`, `digest`, `silence`, `resolved`, `deployment` or `service`.
    kind: &'static str,
    time: i64,
    account: String,
    region: String,
    cluster: String,
    lane: String,
    label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    crash_loop: bool,
    /// `error`, `warning` or `info` (messages).
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<&'static str>,
    /// The tasks it is about (alerts and digests).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tasks: Vec<String>,
}

/// A deployment of a service, drawn as a band from its start to its end.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentBand {
    #[serde(skip)]
    service: String,
    id: String,
    /// `IN_PROGRESS`, `COMPLETED`, `FAILED` (or a state ECS adds later, as sent).
    status: String,
    /// Epoch milliseconds: in progress (`updatedAt`, else the event's time), and finished —
    /// or the end of the replay while it is `open` (not seen finished).
    start: i64,
    end: i64,
    open: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// A rollback: its in-progress reason says "rolling back to deploymentId X".
    rollback: bool,
    /// On a rollback, the deployment it restores; on a failed deployment, the deployment the
    /// service went back to (its own reason's, else its rollback's).
    #[serde(skip_serializing_if = "Option::is_none")]
    rolled_back_to: Option<String>,
    /// On a failed deployment, the rollback deployment that followed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    rolled_back_by: Option<String>,
    /// The tasks it started (`startedBy`) that the state tracker stored, and how many of them
    /// failed (failed, out of memory, failed to start).
    tasks: usize,
    failed: usize,
    #[serde(skip)]
    started: Option<i64>,
    #[serde(skip)]
    ended: Option<i64>,
    /// The latest unfinished state's time (for its status when it is not seen finished).
    #[serde(skip)]
    latest: i64,
}

/// A period a service ran no task and was told down: from when it went silent (the message's
/// `downSince`) to its "recovered" message, or the end of the replay while `open`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct SilenceBand {
    #[serde(skip)]
    service: String,
    start: i64,
    end: i64,
    open: bool,
    /// When the "service down" message was sent, and the "recovered" one.
    told: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovered: Option<i64>,
    subject: String,
}

/// A cause of stops on a lane's chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct StopCause {
    /// The cause (`exit 137 OutOfMemoryError`, `Scaling activity initiated`), or
    /// `other failures` / `other stops`.
    cause: String,
    /// How most of its tasks ended.
    outcome: TaskOutcome,
    /// Whether most of its tasks failed (drawn warm; the others grey).
    failure: bool,
    count: u32,
}

/// The stops of one interval: its start (epoch milliseconds) and the count of each cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct StopBucket(i64, Vec<u32>);

/// A lane's stops per interval by cause.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Stops {
    /// Milliseconds; buckets start at multiples of it.
    interval: i64,
    /// Failures first (most first), then the others.
    causes: Vec<StopCause>,
    /// The intervals with stops, in time order.
    buckets: Vec<StopBucket>,
    /// The most stops of an interval.
    max: u32,
    total: u32,
}

/// What the page draws first for a lane.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct LaneSummary {
    account: String,
    region: String,
    cluster: String,
    lane: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<String>,
    /// The tasks the state tracker stored (drawn or not), and how many failed.
    tasks: usize,
    failed: usize,
    /// Running tasks over time: `[epoch ms, count]` steps, each count holding until the next.
    running: Vec<(i64, u32)>,
    running_max: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    stops: Option<Stops>,
    deployments: Vec<DeploymentBand>,
    silences: Vec<SilenceBand>,
}

/// What the page is drawn from.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PageData<'a> {
    time_zone: &'static str,
    stats: &'a Stats,
    /// The first and last times of what is drawn (epoch milliseconds): open bands end at `last`.
    first: Option<i64>,
    last: Option<i64>,
    tasks_total: usize,
    /// Tasks seen whose every event the state tracker refused (stale, or failed): not drawn.
    not_stored: usize,
    sampled: bool,
    tasks: Vec<&'a TaskBar>,
    markers: &'a [Marker],
    summaries: &'a [LaneSummary],
    /// Whether more than one account or Region is drawn: each cluster's heading then names
    /// its account and Region.
    several_places: bool,
    /// The names of the accounts drawn that have one.
    account_names: BTreeMap<&'a str, &'a str>,
}

/// A "service down" or "recovered" message, for the silence bands.
#[derive(Debug, Clone)]
struct ServiceMessage {
    kind: AlertKind,
    rule: String,
    service: String,
    time: i64,
    down_since: Option<i64>,
    subject: String,
}

/// The timeline a replay builds.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    tasks: Vec<TaskBar>,
    index: HashMap<String, usize>,
    markers: Vec<Marker>,
    deployments: Vec<DeploymentBand>,
    deployment_index: HashMap<(String, String), usize>,
    service_messages: Vec<ServiceMessage>,
    names: Arc<AccountNames>,
}

impl Timeline {
    /// An empty timeline.
    pub fn new() -> Self {
        Self::default()
    }

    /// Names accounts by `names` in the clusters' headings.
    pub fn with_account_names(mut self, names: Arc<AccountNames>) -> Self {
        self.names = names;
        self
    }

    /// Takes in an event before the state tracker decides it: a task's facts (kept from its
    /// newest version), a deployment's band and marker, a service action's marker.
    pub fn observe(&mut self, event: &EcsEvent) {
        let time = event.time.instant().timestamp_millis();
        match &event.detail {
            EcsDetail::Task(task) => self.task(task, time, event),
            EcsDetail::Deployment(deployment) => {
                self.deployment(event, deployment, time);
                self.service_event(
                    "deployment",
                    event,
                    time,
                    deployment.event_name.as_str(),
                    deployment.reason.as_deref(),
                );
            }
            EcsDetail::ServiceAction(action) => self.service_event(
                "service",
                event,
                time,
                action.event_name.as_str(),
                action.reason.as_deref(),
            ),
            EcsDetail::ContainerInstance(_) | EcsDetail::Unknown(_) => {}
        }
    }

    /// A deployment's or service action's marker, on its service's lane.
    fn service_event(
        &mut self,
        kind: &'static str,
        event: &EcsEvent,
        time: i64,
        name: &str,
        reason: Option<&str>,
    ) {
        let LaneKey { account, region, cluster, lane } = service_lane(event);
        self.markers.push(Marker {
            kind,
            time,
            account,
            region,
            cluster,
            lane,
            label: name.to_owned(),
            detail: reason.map(clip),
            crash_loop: false,
            severity: None,
            tasks: Vec::new(),
        });
    }

    /// A deployment's band: started at its first in-progress state, ended at its completion
    /// or failure (whatever the order the events arrive in).
    fn deployment(&mut self, event: &EcsEvent, deployment: &DeploymentStateChange, time: i64) {
        let Some(service) = event.resources().first() else { return };
        let at = deployment.updated_at.as_ref().map_or(time, |t| t.instant().timestamp_millis());
        let key = (service.clone(), deployment.deployment_id.clone());
        let index = match self.deployment_index.get(&key) {
            Some(&index) => index,
            None => {
                self.deployment_index.insert(key, self.deployments.len());
                self.deployments.push(DeploymentBand {
                    service: service.clone(),
                    id: deployment.deployment_id.clone(),
                    status: deployment.status().to_owned(),
                    start: at,
                    end: at,
                    open: true,
                    reason: None,
                    rollback: false,
                    rolled_back_to: None,
                    rolled_back_by: None,
                    tasks: 0,
                    failed: 0,
                    started: None,
                    ended: None,
                    latest: i64::MIN,
                });
                self.deployments.len() - 1
            }
        };
        let band = &mut self.deployments[index];
        let target = deployment.rolled_back_to().map(str::to_owned);
        if deployment.is_finished() {
            if band.ended.is_none_or(|ended| at >= ended) {
                band.ended = Some(at);
                band.status = deployment.status().to_owned();
                band.reason = deployment.reason.as_deref().map(clip);
                if !band.rollback && target.is_some() {
                    band.rolled_back_to = target;
                }
            }
        } else {
            band.started = Some(band.started.map_or(at, |started| started.min(at)));
            if target.is_some() {
                // Its in-progress reason says what it rolls back to: it is a rollback.
                band.rollback = true;
                band.rolled_back_to = target;
            }
            if band.ended.is_none() && at >= band.latest {
                band.latest = at;
                band.status = deployment.status().to_owned();
                band.reason = deployment.reason.as_deref().map(clip);
            }
        }
    }

    /// Counts the state tracker's decision on a task's event: stored, duplicate or stale.
    pub fn decided(&mut self, task_arn: &str, outcome: Outcome) {
        if let Some(bar) = self.index.get(task_arn).map(|&at| &mut self.tasks[at]) {
            match outcome {
                Outcome::Stored => bar.stored = true,
                Outcome::Duplicate => bar.duplicates += 1,
                Outcome::Stale => bar.stale += 1,
                Outcome::Ignored => {}
            }
        }
    }

    /// A message sent at `time` (the replay's clock): an alert or digest on the lane of the
    /// first task it is about, a service's message on the service's lane; a "service down"
    /// message opens a silence band, the service's "recovered" one closes it.
    pub fn alert(&mut self, alert: &Alert, time: DateTime<Utc>) {
        let time = time.timestamp_millis();
        let tasks: Vec<String> = if alert.resources.is_empty() {
            vec![alert.resource.clone()]
        } else {
            alert.resources.clone()
        };
        let lane = tasks.iter().find_map(|arn| self.index.get(arn)).map(|&at| &self.tasks[at]);
        let LaneKey { account, region, cluster, lane } = match lane {
            Some(bar) => bar.key(),
            None => match arn_lane(&alert.resource) {
                Some(lane) => lane,
                None => incident_lane(alert.incident.as_deref(), &tasks),
            },
        };
        // A service's message is about the service, not tasks.
        let about_tasks = matches!(alert.kind, AlertKind::Alert | AlertKind::Digest);
        if matches!(alert.kind, AlertKind::Silence | AlertKind::Resolved) {
            let down_since = alert.document["downSince"]
                .as_str()
                .and_then(|since| DateTime::parse_from_rfc3339(since).ok())
                .map(|since| since.timestamp_millis());
            self.service_messages.push(ServiceMessage {
                kind: alert.kind,
                rule: alert.rule.clone(),
                service: alert.resource.clone(),
                time,
                down_since,
                subject: clip(&alert.subject),
            });
        }
        self.markers.push(Marker {
            kind: alert.kind.as_str(),
            time,
            account,
            region,
            cluster,
            lane,
            label: alert.rule.clone(),
            detail: Some(clip(&alert.subject)),
            crash_loop: alert.crash_loop,
            severity: Some(alert.severity.as_str()),
            tasks: if about_tasks { tasks } else { Vec::new() },
        });
    }

    fn task(&mut self, task: &TaskStateChange, time: i64, event: &EcsEvent) {
        let at = match self.index.get(&task.task_arn) {
            Some(&at) => at,
            None => {
                let (account, region) = ecs_events::account::origin(event);
                let (cluster, lane) = task_lane(task);
                self.index.insert(task.task_arn.clone(), self.tasks.len());
                self.tasks.push(TaskBar {
                    region,
                    account,
                    arn: task.task_arn.clone(),
                    cluster,
                    lane,
                    start: time,
                    end: time,
                    outcome: TaskOutcome::Running,
                    status: String::new(),
                    stop_code: None,
                    reason: None,
                    cause: None,
                    deployment: None,
                    containers: Vec::new(),
                    versions: Vec::new(),
                    duplicates: 0,
                    stale: 0,
                    newest: 0,
                    stored: false,
                    started_at: None,
                    first_running: None,
                    stopped_at: None,
                    first_stopping: None,
                    first_stopped: None,
                });
                self.tasks.len() - 1
            }
        };
        let millis = |stamp: &Option<ecs_events::event::Timestamp>| {
            stamp.as_ref().map(|t| t.instant().timestamp_millis())
        };
        let bar = &mut self.tasks[at];
        if let Err(place) = bar.versions.binary_search(&task.version) {
            bar.versions.insert(place, task.version);
        }
        let created = millis(&task.created_at);
        bar.start = bar.start.min(created.unwrap_or(time)).min(time);
        bar.end = bar.end.max(time);
        let earliest = |known: Option<i64>, at: Option<i64>| match (known, at) {
            (Some(known), Some(at)) => Some(known.min(at)),
            (known, at) => known.or(at),
        };
        bar.started_at = earliest(bar.started_at, millis(&task.started_at));
        bar.stopped_at = earliest(bar.stopped_at, millis(&task.stopped_at));
        match task.last_status {
            TaskStatus::Running => bar.first_running = earliest(bar.first_running, Some(time)),
            TaskStatus::Deactivating | TaskStatus::Stopping | TaskStatus::Deprovisioning => {
                bar.first_stopping = earliest(bar.first_stopping, Some(time));
            }
            TaskStatus::Stopped => {
                bar.first_stopping = earliest(bar.first_stopping, Some(time));
                bar.first_stopped = earliest(bar.first_stopped, Some(time));
            }
            _ => {}
        }
        if bar.deployment.is_none() {
            bar.deployment = task.deployment_id().map(str::to_owned);
        }
        let stopped = millis(&task.stopped_at);
        if let Some(stopped) = stopped {
            bar.end = bar.end.max(stopped);
        }
        if task.version < bar.newest {
            return;
        }
        bar.newest = task.version;
        bar.outcome = TaskOutcome::of(task, DEFAULT_EXPECTED_EXIT_CODES);
        bar.status = task.last_status.as_str().to_owned();
        bar.stop_code = task.stop_code.as_ref().map(|code| code.as_str().to_owned());
        bar.reason = task.stopped_reason.as_deref().map(clip);
        // A completed task's cause is that it completed: the library's stop cause would name
        // a sidecar's SIGTERM exit (143), which is an effect of the essential container's end.
        bar.cause = match bar.outcome {
            TaskOutcome::Completed => Some(COMPLETED_CAUSE.to_owned()),
            _ => task.stop_cause().map(|cause| clip_to(&cause, MAX_CAUSE)),
        };
        bar.containers = task
            .containers()
            .iter()
            .map(|container| ContainerFacts {
                name: container.name.clone(),
                exit: container.exit_code,
                reason: container.reason.as_deref().map(clip),
            })
            .collect();
    }

    /// Writes the page for a replay with these counts.
    pub fn write_html(&self, stats: &Stats, out: &mut impl Write) -> std::io::Result<()> {
        let (tasks, sampled) = self.drawn();
        let stored = self.tasks.iter().filter(|bar| bar.stored).count();
        let (first, last) = self.span().unzip();
        let summaries = self.summaries();
        let places: BTreeSet<(&str, &str)> = tasks
            .iter()
            .map(|bar| (bar.account.as_str(), bar.region.as_str()))
            .chain(self.markers.iter().map(|m| (m.account.as_str(), m.region.as_str())))
            .chain(summaries.iter().map(|s| (s.account.as_str(), s.region.as_str())))
            .collect();
        let account_names = places
            .iter()
            .filter_map(|(account, _)| Some((*account, self.names.name(account)?)))
            .collect();
        let several_places = places.len() > 1;
        let data = PageData {
            time_zone: "UTC",
            stats,
            first,
            last,
            tasks_total: stored,
            not_stored: self.tasks.len() - stored,
            sampled,
            tasks,
            markers: &self.markers,
            summaries: &summaries,
            several_places,
            account_names,
        };
        // Inside <script>, "</" could end the element: JSON allows "<\/" for it.
        let json = serde_json::to_string(&data)?.replace("</", "<\\/");
        let (before, after) = PAGE.split_once(DATA_PLACEHOLDER).unwrap_or((PAGE, ""));
        out.write_all(before.as_bytes())?;
        out.write_all(json.as_bytes())?;
        out.write_all(after.as_bytes())
    }

    /// The first and last times of what the page draws: the stored tasks, the markers, the
    /// deployments.
    fn span(&self) -> Option<(i64, i64)> {
        // A bar spans its task's times (created, started, stopped, events).
        let tasks = self.tasks.iter().filter(|bar| bar.stored).flat_map(|bar| [bar.start, bar.end]);
        let markers = self.markers.iter().map(|marker| marker.time);
        let deployments = self
            .deployments
            .iter()
            .flat_map(|band| [band.started, band.ended, Some(band.start)])
            .flatten();
        let times = tasks.chain(markers).chain(deployments);
        times.fold(None, |span, time| match span {
            None => Some((time, time)),
            Some((first, last)) => Some((first.min(time), last.max(time))),
        })
    }

    /// The tasks drawn (those the state tracker stored), in start order: all of them up to
    /// [`MAX_TASKS_DRAWN`]; beyond, every task that did not end cleanly (or is alerted on) and
    /// an even sample of the others.
    fn drawn(&self) -> (Vec<&TaskBar>, bool) {
        let mut tasks: Vec<&TaskBar> = self.tasks.iter().filter(|bar| bar.stored).collect();
        let sampled = tasks.len() > MAX_TASKS_DRAWN;
        if sampled {
            let alerted: BTreeSet<&str> = self
                .markers
                .iter()
                .flat_map(|marker| marker.tasks.iter().map(String::as_str))
                .collect();
            let notable = |bar: &TaskBar| {
                !matches!(
                    bar.outcome,
                    TaskOutcome::Running | TaskOutcome::Completed | TaskOutcome::Stopped
                ) || alerted.contains(bar.arn.as_str())
            };
            let (kept, rest): (Vec<&TaskBar>, Vec<&TaskBar>) =
                tasks.into_iter().partition(|bar| notable(bar));
            let room = MAX_TASKS_DRAWN.saturating_sub(kept.len()).min(rest.len());
            tasks = kept;
            tasks.extend((0..room).map(|n| rest[n * rest.len() / room]));
        }
        tasks.sort_by_key(|bar| (bar.start, bar.arn.as_str()));
        (tasks, sampled)
    }

    /// The summary of every lane with stored tasks, deployments or silences, in lane order.
    fn summaries(&self) -> Vec<LaneSummary> {
        let last = self.span().map_or(0, |(_, last)| last);
        let mut lanes: BTreeMap<LaneKey, LaneSummary> = BTreeMap::new();
        let mut tasks_of: BTreeMap<LaneKey, Vec<&TaskBar>> = BTreeMap::new();
        let mut started_by: HashMap<&str, (usize, usize)> = HashMap::new();
        for bar in self.tasks.iter().filter(|bar| bar.stored) {
            tasks_of.entry(bar.key()).or_default().push(bar);
            if let Some(id) = bar.deployment.as_deref() {
                let counts = started_by.entry(id).or_default();
                counts.0 += 1;
                counts.1 += usize::from(bar.outcome.is_failure());
            }
        }
        for (key, bars) in &tasks_of {
            let summary = lane_of(&mut lanes, key);
            summary.tasks = bars.len();
            summary.failed = bars.iter().filter(|bar| bar.outcome.is_failure()).count();
            summary.running = running_series(bars, MAX_RUNNING_POINTS);
            summary.running_max = summary.running.iter().map(|&(_, n)| n).max().unwrap_or(0);
            summary.stops = stops(bars);
            if let (Some(bar), Some(name)) = (bars.first(), key.lane.strip_prefix("service:")) {
                summary.service =
                    ecs_events::service::service_arn_for_task(&bar.arn, &key.cluster, name);
            }
        }
        for band in deployment_bands(&self.deployments, last) {
            let Some(key) = arn_lane(&band.service) else { continue };
            let mut band = band;
            if let Some(&(tasks, failed)) = started_by.get(band.id.as_str()) {
                (band.tasks, band.failed) = (tasks, failed);
            }
            let summary = lane_of(&mut lanes, &key);
            summary.service.get_or_insert_with(|| band.service.clone());
            summary.deployments.push(band);
        }
        for band in silence_bands(&self.service_messages, last) {
            let Some(key) = arn_lane(&band.service) else { continue };
            let summary = lane_of(&mut lanes, &key);
            summary.service.get_or_insert_with(|| band.service.clone());
            summary.silences.push(band);
        }
        lanes.into_values().collect()
    }
}

/// Where a lane is: its account, Region, cluster name and lane (`service:NAME`...).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct LaneKey {
    account: String,
    region: String,
    cluster: String,
    lane: String,
}

impl LaneKey {
    /// The lane `lane` of cluster `cluster` in the account and Region of `arn` (unknown:
    /// empty).
    fn of(arn: &str, cluster: String, lane: String) -> Self {
        let account = account_of(arn).unwrap_or_default().to_owned();
        let region = region_of(arn).unwrap_or_default().to_owned();
        Self { account, region, cluster, lane }
    }
}

impl TaskBar {
    /// Its lane.
    fn key(&self) -> LaneKey {
        LaneKey {
            account: self.account.clone(),
            region: self.region.clone(),
            cluster: self.cluster.clone(),
            lane: self.lane.clone(),
        }
    }
}

/// The summary of a lane, empty until filled.
fn lane_of<'a>(
    lanes: &'a mut BTreeMap<LaneKey, LaneSummary>,
    key: &LaneKey,
) -> &'a mut LaneSummary {
    lanes.entry(key.clone()).or_insert_with(|| LaneSummary {
        account: key.account.clone(),
        region: key.region.clone(),
        cluster: key.cluster.clone(),
        lane: key.lane.clone(),
        service: None,
        tasks: 0,
        failed: 0,
        running: Vec::new(),
        running_max: 0,
        stops: None,
        deployments: Vec::new(),
        silences: Vec::new(),
    })
}

/// Whole `unit`s covering `value` (both positive).
fn ceil_div(value: i64, unit: i64) -> i64 {
    (value + unit - 1) / unit
}

/// Running tasks over time, as steps: the count from each point's time until the next. With
/// more than `max_points` changes, each step covers an interval (whole seconds) and tells the
/// most tasks that ran in it, then the count at its end.
fn running_series(bars: &[&TaskBar], max_points: usize) -> Vec<(i64, u32)> {
    let mut changes: Vec<(i64, i32)> = Vec::with_capacity(bars.len() * 2);
    for (from, to) in bars.iter().filter_map(|bar| bar.ran()) {
        changes.push((from, 1));
        if let Some(to) = to {
            changes.push((to, -1));
        }
    }
    // At one instant, stops before starts: a task replaced at once is no extra task.
    changes.sort_unstable();
    let (Some(&(first, _)), Some(&(last, _))) = (changes.first(), changes.last()) else {
        return Vec::new();
    };
    let mut series: Vec<(i64, u32)> = Vec::new();
    let push = |series: &mut Vec<(i64, u32)>, time: i64, count: i64| {
        let count = u32::try_from(count.max(0)).unwrap_or(u32::MAX);
        match series.last_mut() {
            Some(last) if last.0 == time => last.1 = count,
            Some(last) if last.1 == count => {}
            _ => series.push((time, count)),
        }
    };
    let mut count: i64 = 0;
    if changes.len() <= max_points {
        for (time, change) in changes {
            count += i64::from(change);
            push(&mut series, time, count);
        }
        // A change that was undone at the same instant leaves a point equal to the one before.
        series.dedup_by(|next, previous| next.1 == previous.1);
        return series;
    }
    // Each interval: the most tasks that ran in it, then (from its end) the count it left.
    let intervals = i64::try_from(max_points.max(2) / 2).unwrap_or(i64::MAX);
    let step = ceil_div(((last - first) / intervals + 1).max(1_000), 1_000) * 1_000;
    let mut at = 0;
    while at < changes.len() {
        let bin = changes[at].0.div_euclid(step) * step;
        let mut most = count;
        while at < changes.len() && changes[at].0 < bin + step {
            count += i64::from(changes[at].1);
            most = most.max(count);
            at += 1;
        }
        push(&mut series, bin, most);
        push(&mut series, bin + step, count);
    }
    series
}

/// A lane's stops per interval by cause (`None` without stops): the interval the shortest of
/// [`STOP_INTERVALS`] that covers the lane's span in at most [`MAX_STOP_BUCKETS`]; the
/// most frequent causes named ([`MAX_FAILURE_CAUSES`] of failures, [`MAX_OTHER_CAUSES`] of
/// other stops), the others counted as "other failures" or "other stops".
fn stops(bars: &[&TaskBar]) -> Option<Stops> {
    let stopped: Vec<(i64, &TaskBar)> =
        bars.iter().filter_map(|bar| bar.stop().map(|at| (at, *bar))).collect();
    if stopped.is_empty() {
        return None;
    }
    let first = bars.iter().map(|bar| bar.start).min().unwrap_or_default();
    let last = bars.iter().map(|bar| bar.end.max(bar.stop().unwrap_or(bar.end))).max();
    let span = (last.unwrap_or(first) - first).max(1);
    let interval = STOP_INTERVALS
        .iter()
        .map(|seconds| seconds * 1_000)
        .find(|interval| ceil_div(span, *interval) <= MAX_STOP_BUCKETS)
        .unwrap_or(STOP_INTERVALS[STOP_INTERVALS.len() - 1] * 1_000);
    // Each cause: its count and its tasks' outcomes.
    let mut by_cause: HashMap<&str, (u32, HashMap<TaskOutcome, u32>)> = HashMap::new();
    for (_, bar) in &stopped {
        let cause = by_cause.entry(bar.cause.as_deref().unwrap_or("stopped")).or_default();
        cause.0 += 1;
        *cause.1.entry(bar.outcome).or_default() += 1;
    }
    let dominant = |outcomes: &HashMap<TaskOutcome, u32>| {
        let mut outcomes: Vec<(&TaskOutcome, &u32)> = outcomes.iter().collect();
        outcomes.sort_by_key(|(outcome, count)| (std::cmp::Reverse(**count), outcome.as_str()));
        outcomes.first().map_or(TaskOutcome::Stopped, |(outcome, _)| **outcome)
    };
    let mut ranked: Vec<StopCause> = by_cause
        .iter()
        .map(|(cause, (count, outcomes))| {
            let outcome = dominant(outcomes);
            StopCause {
                cause: (*cause).to_owned(),
                outcome,
                failure: outcome.is_failure(),
                count: *count,
            }
        })
        .collect();
    ranked.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.cause.cmp(&b.cause)));
    let named: Vec<StopCause> = ranked
        .iter()
        .filter(|cause| cause.failure)
        .take(MAX_FAILURE_CAUSES)
        .chain(ranked.iter().filter(|cause| !cause.failure).take(MAX_OTHER_CAUSES))
        .cloned()
        .collect();
    let named_causes: BTreeSet<&str> = named.iter().map(|cause| cause.cause.as_str()).collect();
    let mut causes = named.clone();
    let other = |failure: bool| {
        let count = stopped
            .iter()
            .filter(|(_, bar)| {
                !named_causes.contains(bar.cause.as_deref().unwrap_or("stopped"))
                    && bar.outcome.is_failure() == failure
            })
            .count();
        (count > 0).then(|| StopCause {
            cause: if failure { "other failures" } else { "other stops" }.to_owned(),
            outcome: if failure { TaskOutcome::Failed } else { TaskOutcome::Stopped },
            failure,
            count: u32::try_from(count).unwrap_or(u32::MAX),
        })
    };
    causes.extend(other(true));
    causes.extend(other(false));
    // Failures first (drawn at the bottom of each stack, warm), most frequent first.
    causes.sort_by(|a, b| b.failure.cmp(&a.failure).then(b.count.cmp(&a.count)));
    let slot = |bar: &TaskBar| {
        let cause = bar.cause.as_deref().unwrap_or("stopped");
        let name = if named_causes.contains(cause) {
            cause
        } else if bar.outcome.is_failure() {
            "other failures"
        } else {
            "other stops"
        };
        causes.iter().position(|c| c.cause == name).unwrap_or(0)
    };
    let mut buckets: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
    for (at, bar) in &stopped {
        let bucket = at.div_euclid(interval) * interval;
        let counts = buckets.entry(bucket).or_insert_with(|| vec![0; causes.len()]);
        counts[slot(bar)] += 1;
    }
    let buckets: Vec<StopBucket> =
        buckets.into_iter().map(|(start, counts)| StopBucket(start, counts)).collect();
    let max = buckets.iter().map(|bucket| bucket.1.iter().sum::<u32>()).max().unwrap_or(0);
    let total = u32::try_from(stopped.len()).unwrap_or(u32::MAX);
    Some(Stops { interval, causes, buckets, max, total })
}

/// The deployment bands, in start order: each ended (or open to `last`), a failed deployment
/// linked to the rollback that followed it on its service (and what it rolled back to).
fn deployment_bands(deployments: &[DeploymentBand], last: i64) -> Vec<DeploymentBand> {
    let mut bands: Vec<DeploymentBand> = deployments
        .iter()
        .cloned()
        .map(|mut band| {
            band.start = band.started.or(band.ended).unwrap_or(band.start);
            band.open = band.ended.is_none();
            band.end = band.ended.unwrap_or(last).max(band.start);
            band
        })
        .collect();
    bands.sort_by(|a, b| (&a.service, a.start, &a.id).cmp(&(&b.service, b.start, &b.id)));
    let rollbacks: Vec<(String, i64, String, Option<String>)> = bands
        .iter()
        .filter(|band| band.rollback)
        .map(|band| {
            (band.service.clone(), band.start, band.id.clone(), band.rolled_back_to.clone())
        })
        .collect();
    for band in bands.iter_mut().filter(|band| band.status == "FAILED" && !band.rollback) {
        // The first rollback of the service that started after it did (and restores what
        // its own reason names, when it names it).
        let rollback = rollbacks.iter().find(|(service, start, id, target)| {
            *service == band.service
                && *start >= band.start
                && *id != band.id
                && (band.rolled_back_to.is_none() || *target == band.rolled_back_to)
        });
        if let Some((_, _, id, target)) = rollback {
            band.rolled_back_by = Some(id.clone());
            if band.rolled_back_to.is_none() {
                band.rolled_back_to = target.clone();
            }
        }
    }
    bands
}

/// The silence bands: from each "service down" message's `downSince` (else its time) to the
/// service's next "recovered" message (its rule `service-down`), or to `last`.
fn silence_bands(messages: &[ServiceMessage], last: i64) -> Vec<SilenceBand> {
    let mut bands: Vec<SilenceBand> = Vec::new();
    for message in messages {
        match message.kind {
            AlertKind::Silence => bands.push(SilenceBand {
                service: message.service.clone(),
                start: message.down_since.unwrap_or(message.time).min(message.time),
                end: last.max(message.time),
                open: true,
                told: message.time,
                recovered: None,
                subject: message.subject.clone(),
            }),
            AlertKind::Resolved if message.rule == SERVICE_DOWN_RULE => {
                let band = bands
                    .iter_mut()
                    .rev()
                    .find(|band| band.open && band.service == message.service);
                if let Some(band) = band {
                    band.open = false;
                    band.end = message.time.max(band.start);
                    band.recovered = Some(message.time);
                }
            }
            _ => {}
        }
    }
    bands
}

/// The cluster name and lane (`service:NAME`, `family:NAME`, or the cluster) of a task.
fn task_lane(task: &TaskStateChange) -> (String, String) {
    let cluster = name_of(&task.cluster_arn).to_owned();
    let lane = task.group.clone().unwrap_or_else(|| "(no group)".to_owned());
    (cluster, lane)
}

/// The lane of a service event: its resource is the service ARN
/// (`arn:...:service/CLUSTER/NAME`).
fn service_lane(event: &EcsEvent) -> LaneKey {
    let service = event.resources.as_deref().unwrap_or_default().first();
    service.and_then(|arn| arn_lane(arn)).unwrap_or_else(|| LaneKey {
        account: event.account.clone(),
        region: event.region.clone(),
        cluster: "(unknown cluster)".to_owned(),
        lane: "(no service)".to_owned(),
    })
}

/// The lane of a service ARN (`…:service/[<cluster>/]<name>`).
fn arn_lane(arn: &str) -> Option<LaneKey> {
    let (_, path) = arn.split_once(":service/")?;
    let (cluster, lane) = match path.split_once('/') {
        Some((cluster, name)) => (cluster.to_owned(), format!("service:{name}")),
        None => ("(unknown cluster)".to_owned(), format!("service:{path}")),
    };
    Some(LaneKey::of(arn, cluster, lane))
}

/// The lane of an incident key (`rule|account|region|cluster|group`), for a digest about no
/// known task (a key kept from before accounts were in it: the account and Region of a
/// resource it tells of).
fn incident_lane(incident: Option<&str>, resources: &[String]) -> LaneKey {
    let parts = KeyParts::parse(incident.unwrap_or_default());
    let known = |part: &str, fallback: &str| {
        if part.is_empty() { fallback.to_owned() } else { part.to_owned() }
    };
    let arn = resources.iter().find(|arn| account_of(arn).is_some()).map_or("", String::as_str);
    LaneKey {
        account: parts.account.or(account_of(arn)).unwrap_or_default().to_owned(),
        region: parts.region.or(region_of(arn)).unwrap_or_default().to_owned(),
        cluster: known(parts.cluster, "(unknown cluster)"),
        lane: known(parts.group, "(no group)"),
    }
}

/// The last part of an ARN's resource: a cluster's name.
fn name_of(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// At most [`MAX_TEXT`] characters of `text`.
fn clip(text: &str) -> String {
    clip_to(text, MAX_TEXT)
}

/// At most `max` characters of `text`.
fn clip_to(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use ecs_events::alert::{render_down, render_recovered};
    use ecs_events::event::ReceivedEvent;
    use ecs_events::service::ServiceRecord;
    use serde_json::{Value, json};

    use super::*;

    fn event(sample: &str) -> EcsEvent {
        let path = format!("{}/../events/samples/{sample}.json", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).expect("sample");
        ReceivedEvent::from_slice(&bytes).expect("event").event
    }

    fn task(event: &EcsEvent) -> &TaskStateChange {
        match &event.detail {
            EcsDetail::Task(task) => task,
            other => panic!("not a task: {other:?}"),
        }
    }

    /// Observes `event` and stores it, as the replay does.
    fn stored(timeline: &mut Timeline, event: &EcsEvent) {
        timeline.observe(event);
        timeline.decided(&task(event).task_arn, Outcome::Stored);
    }

    /// The sample's task as a new task: `id` replaces its task id.
    fn renamed(sample: &str, id: &str) -> EcsEvent {
        let mut event = event(sample);
        let EcsDetail::Task(task) = &mut event.detail else { panic!("not a task") };
        let (prefix, _) = task.task_arn.rsplit_once('/').expect("id");
        task.task_arn = format!("{prefix}/{id}");
        event
    }

    /// The page's data, as the page reads it.
    fn page_data(timeline: &Timeline) -> Value {
        let mut page = Vec::new();
        timeline.write_html(&Stats::default(), &mut page).expect("written");
        let page = String::from_utf8(page).expect("UTF-8");
        let json = page
            .split("<script id=\"timeline-data\" type=\"application/json\">")
            .nth(1)
            .and_then(|rest| rest.split("</script>").next())
            .expect("data");
        serde_json::from_str(&json.replace("<\\/", "</")).expect("JSON")
    }

    const SERVICE: &str = "arn:aws:ecs:us-east-1:111122223333:service/prod/web";

    /// A task of service `web` on cluster `prod`: started at `from` minutes, stopped at `to`
    /// (scaled in, or exit 1 when `failed`), times from 2024-06-10T08:00Z.
    fn web_task(id: &str, from: i64, to: Option<i64>, failed: bool) -> EcsEvent {
        let at = |minutes: i64| {
            (DateTime::parse_from_rfc3339("2024-06-10T08:00:00Z").expect("time")
                + chrono::Duration::minutes(minutes))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        let mut detail = json!({
            "clusterArn": "arn:aws:ecs:us-east-1:111122223333:cluster/prod",
            "taskArn": format!("arn:aws:ecs:us-east-1:111122223333:task/prod/{id}"),
            "lastStatus": "RUNNING", "version": 2, "group": "service:web",
            "startedBy": "ecs-svc/1", "startedAt": at(from), "createdAt": at(from),
            "containers": [{"name": "app", "lastStatus": "RUNNING"}],
        });
        if let Some(to) = to {
            detail["lastStatus"] = json!("STOPPED");
            detail["version"] = json!(3);
            detail["stoppedAt"] = json!(at(to));
            if failed {
                detail["stopCode"] = json!("EssentialContainerExited");
                detail["stoppedReason"] = json!("Essential container in task exited");
                detail["containers"] = json!([{"name": "app", "exitCode": 1}]);
            } else {
                detail["stopCode"] = json!("ServiceSchedulerInitiated");
                detail["stoppedReason"] =
                    json!("Scaling activity initiated by (deployment ecs-svc/1)");
                detail["containers"] = json!([{"name": "app", "exitCode": 143}]);
            }
        }
        let time = detail["stoppedAt"]
            .as_str()
            .unwrap_or_else(|| detail["startedAt"].as_str().expect("at"));
        let time = format!("{}Z", &time[..19]);
        ReceivedEvent::new(json!({
            "version": "0", "id": format!("{id}-{}", detail["version"]),
            "detail-type": "ECS Task State Change", "source": "aws.ecs",
            "account": "111122223333", "time": time, "region": "us-east-1",
            "resources": [detail["taskArn"].clone()], "detail": detail,
        }))
        .expect("event")
        .event
    }

    fn deployment(id: &str, name: &str, minute: u32, reason: &str) -> EcsEvent {
        let time = format!("2024-06-10T08:{minute:02}:00Z");
        ReceivedEvent::new(json!({
            "version": "0", "id": format!("{id}-{name}"),
            "detail-type": "ECS Deployment State Change", "source": "aws.ecs",
            "account": "111122223333", "time": time, "region": "us-east-1",
            "resources": [SERVICE],
            "detail": {"eventType": if name == "FAILED" { "ERROR" } else { "INFO" },
                "eventName": format!("SERVICE_DEPLOYMENT_{name}"), "deploymentId": id,
                "updatedAt": format!("2024-06-10T08:{minute:02}:00.000Z"), "reason": reason},
        }))
        .expect("event")
        .event
    }

    #[test]
    fn given_the_samples_then_each_bar_tells_how_the_task_ended_as_the_library_decides() {
        let outcomes = [
            ("task-ec2-running", "running"),
            ("task-oom-killed", "oom"),
            ("task-essential-exited-nonzero", "failed"),
            ("task-essential-exited-zero", "completed"),
            ("task-failed-to-start-cannot-pull", "failed-to-start"),
            ("task-spot-interruption", "spot"),
            ("task-spot-stopped-after-interruption", "spot"),
            ("task-stopped-by-user", "stopped"),
        ];
        for (sample, outcome) in outcomes {
            let mut timeline = Timeline::new();
            stored(&mut timeline, &event(sample));
            let data = page_data(&timeline);
            assert_eq!(data["tasks"][0]["outcome"], outcome, "{sample}");
        }
        let mut timeline = Timeline::new();
        stored(&mut timeline, &event("task-failed-to-start-cannot-pull"));
        let bar = &timeline.tasks[0];
        assert_eq!(bar.deployment.as_deref(), Some("ecs-svc/7653527755743676889"));
        assert_eq!(bar.cause.as_deref(), Some("CannotPullContainerError"));
        assert_eq!(bar.ran(), None, "a task that never started never ran");
    }

    #[test]
    fn given_versions_out_of_order_then_the_bar_keeps_the_newest_facts_and_counts_drops() {
        let mut timeline = Timeline::new();
        let stopped = event("task-oom-killed");
        let mut older = stopped.clone();
        let EcsDetail::Task(detail) = &mut older.detail else { panic!("not a task") };
        detail.version -= 1;
        detail.last_status = "RUNNING".into();
        detail.stop_code = None;
        timeline.observe(&stopped);
        timeline.observe(&older);
        let arn = task(&stopped).task_arn.clone();
        timeline.decided(&arn, Outcome::Stale);
        timeline.decided(&arn, Outcome::Duplicate);
        let bar = &timeline.tasks[0];
        assert_eq!(bar.outcome, TaskOutcome::Oom);
        assert_eq!(bar.status, "STOPPED");
        assert_eq!(bar.cause.as_deref(), Some("exit 137 OutOfMemoryError"));
        assert_eq!(bar.versions, [task(&stopped).version - 1, task(&stopped).version]);
        assert_eq!((bar.duplicates, bar.stale), (1, 1));
        assert_eq!(bar.region, "us-east-1");
        assert!(bar.start < bar.end, "from creation to the stop");
    }

    #[test]
    fn given_more_tasks_than_drawn_then_every_failed_one_is_kept_and_the_page_says_sampled() {
        let mut timeline = Timeline::new();
        for n in 0..MAX_TASKS_DRAWN + 500 {
            stored(&mut timeline, &renamed("task-ec2-running", &format!("running{n}")));
        }
        for n in 0..300 {
            stored(&mut timeline, &renamed("task-oom-killed", &format!("oom{n}")));
        }
        timeline.observe(&renamed("task-oom-killed", "never-stored"));
        let (drawn, sampled) = timeline.drawn();
        assert!(sampled);
        assert_eq!(drawn.len(), MAX_TASKS_DRAWN);
        assert_eq!(drawn.iter().filter(|bar| bar.outcome == TaskOutcome::Oom).count(), 300);
        let mut page = Vec::new();
        timeline.write_html(&Stats::default(), &mut page).expect("written");
        let page = String::from_utf8(page).expect("UTF-8");
        assert!(page.contains("\"sampled\":true"), "the page says so");
        assert!(page.contains(&format!("\"tasksTotal\":{}", MAX_TASKS_DRAWN + 800)));
        assert!(page.contains("\"notStored\":1"));
        assert!(!page.contains("never-stored\""), "a task the table never held is not drawn");
        // The summaries count every stored task, drawn or not.
        let data = page_data(&timeline);
        let total: u64 = data["summaries"]
            .as_array()
            .expect("summaries")
            .iter()
            .map(|summary| summary["tasks"].as_u64().expect("tasks"))
            .sum();
        assert_eq!(total, (MAX_TASKS_DRAWN + 800) as u64);
    }

    #[test]
    fn given_text_that_could_close_the_script_then_the_page_escapes_it() {
        let mut timeline = Timeline::new();
        let mut event = event("task-oom-killed");
        let EcsDetail::Task(detail) = &mut event.detail else { panic!("not a task") };
        detail.stopped_reason = Some("</script><script>alert(1)</script>".into());
        stored(&mut timeline, &event);
        let mut page = Vec::new();
        timeline.write_html(&Stats::default(), &mut page).expect("written");
        let page = String::from_utf8(page).expect("UTF-8");
        assert_eq!(page.matches("</script>").count(), 2, "only the page's own two scripts end");
        assert!(page.contains(r"<\/script><script>alert(1)<\/script>"));
        assert!(!page.contains(DATA_PLACEHOLDER));
    }

    #[test]
    fn given_tasks_starting_and_stopping_then_the_running_series_steps_with_them() {
        let mut timeline = Timeline::new();
        stored(&mut timeline, &web_task("a", 0, Some(10), false));
        stored(&mut timeline, &web_task("b", 5, Some(20), true));
        stored(&mut timeline, &web_task("c", 30, None, false));
        let data = page_data(&timeline);
        let summary = &data["summaries"][0];
        assert_eq!(summary["lane"], "service:web");
        assert_eq!(summary["service"], SERVICE);
        let base =
            DateTime::parse_from_rfc3339("2024-06-10T08:00:00Z").expect("t").timestamp_millis();
        let minute = 60_000;
        assert_eq!(
            summary["running"],
            json!([
                [base, 1],
                [base + 5 * minute, 2],
                [base + 10 * minute, 1],
                [base + 20 * minute, 0],
                [base + 30 * minute, 1]
            ])
        );
        assert_eq!(summary["runningMax"], 2);
        let stops = &summary["stops"];
        assert_eq!(stops["total"], 2);
        // A 30-minute span: 15-second intervals (120 of them).
        assert_eq!(stops["interval"], 15_000);
        assert_eq!(stops["causes"][0]["cause"], "exit 1");
        assert_eq!(stops["causes"][0]["failure"], true);
        assert_eq!(stops["causes"][1]["cause"], "Scaling activity initiated");
        assert_eq!(stops["causes"][1]["outcome"], "stopped");
        assert_eq!(
            stops["buckets"],
            json!([[base + 10 * minute, [0, 1]], [base + 20 * minute, [1, 0]]])
        );
    }

    #[test]
    fn given_thousands_of_tasks_then_the_running_series_is_bounded_and_keeps_the_peaks() {
        let bars: Vec<TaskBar> = (0..10_000)
            .map(|n| {
                let mut bar = timeline_bar();
                bar.started_at = Some(n * 1_500);
                bar.stopped_at = Some(n * 1_500 + 60_000);
                bar
            })
            .collect();
        let refs: Vec<&TaskBar> = bars.iter().collect();
        let series = running_series(&refs, MAX_RUNNING_POINTS);
        assert!(series.len() <= MAX_RUNNING_POINTS, "{}", series.len());
        assert_eq!(series.iter().map(|p| p.1).max(), Some(40), "60 s / 1.5 s");
        assert_eq!(series.last().map(|p| p.1), Some(0), "all stopped");
        assert!(series.windows(2).all(|w| w[0].0 < w[1].0));
    }

    fn timeline_bar() -> TaskBar {
        let mut timeline = Timeline::new();
        stored(&mut timeline, &web_task("x", 0, None, false));
        timeline.tasks.remove(0)
    }

    #[test]
    fn given_a_failed_deployment_and_its_rollback_then_the_bands_name_them() {
        let mut timeline = Timeline::new();
        timeline.observe(&deployment(
            "ecs-svc/1",
            "IN_PROGRESS",
            0,
            "ECS deployment ecs-svc/1 in progress.",
        ));
        timeline.observe(&deployment(
            "ecs-svc/1",
            "COMPLETED",
            5,
            "ECS deployment ecs-svc/1 completed.",
        ));
        // The failure arrives before the in-progress state it follows.
        timeline.observe(&deployment(
            "ecs-svc/2",
            "FAILED",
            20,
            "ECS deployment circuit breaker: task failed to start.",
        ));
        timeline.observe(&deployment(
            "ecs-svc/2",
            "IN_PROGRESS",
            10,
            "ECS deployment ecs-svc/2 in progress.",
        ));
        timeline.observe(&deployment(
            "ecs-svc/3",
            "IN_PROGRESS",
            20,
            "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.",
        ));
        timeline.observe(&deployment(
            "ecs-svc/4",
            "IN_PROGRESS",
            40,
            "ECS deployment ecs-svc/4 in progress.",
        ));
        let mut failed = web_task("f", 12, Some(13), true);
        let EcsDetail::Task(detail) = &mut failed.detail else { panic!("task") };
        detail.started_by = Some("ecs-svc/2".into());
        stored(&mut timeline, &failed);
        let data = page_data(&timeline);
        let summary = &data["summaries"][0];
        let bands = summary["deployments"].as_array().expect("bands");
        let ids: Vec<&str> = bands.iter().map(|b| b["id"].as_str().expect("id")).collect();
        assert_eq!(ids, ["ecs-svc/1", "ecs-svc/2", "ecs-svc/3", "ecs-svc/4"]);
        let statuses: Vec<&str> = bands.iter().map(|b| b["status"].as_str().expect("s")).collect();
        assert_eq!(statuses, ["COMPLETED", "FAILED", "IN_PROGRESS", "IN_PROGRESS"]);
        let base =
            DateTime::parse_from_rfc3339("2024-06-10T08:00:00Z").expect("t").timestamp_millis();
        assert_eq!(
            (bands[1]["start"].as_i64(), bands[1]["end"].as_i64()),
            (Some(base + 600_000), Some(base + 1_200_000))
        );
        assert_eq!(bands[1]["rolledBackTo"], "ecs-svc/1");
        assert_eq!(bands[1]["rolledBackBy"], "ecs-svc/3");
        assert_eq!((bands[1]["tasks"].as_u64(), bands[1]["failed"].as_u64()), (Some(1), Some(1)));
        assert_eq!(bands[2]["rollback"], true);
        assert_eq!(bands[2]["rolledBackTo"], "ecs-svc/1");
        assert_eq!(bands[2]["open"], true, "never seen finished: open to the end");
        assert_eq!(bands[2]["end"], data["last"]);
        assert_eq!(bands[3]["rollback"], false);
    }

    /// `event` moved to `account` and `region` (envelope and ARNs alike).
    fn moved(event: &EcsEvent, account: &str, region: &str) -> EcsEvent {
        let text = serde_json::to_string(event)
            .expect("JSON")
            .replace("111122223333", account)
            .replace("us-east-1", region);
        ReceivedEvent::from_slice(text.as_bytes()).expect("event").event
    }

    #[test]
    fn given_one_cluster_and_service_in_two_accounts_then_they_are_two_lanes_named_by_account() {
        let names = Arc::new(AccountNames::parse("444455556666=staging").expect("names"));
        let mut timeline = Timeline::new().with_account_names(names);
        let home = web_task("a", 0, Some(10), true);
        stored(&mut timeline, &home);
        stored(&mut timeline, &moved(&home, "444455556666", "us-east-1"));
        stored(&mut timeline, &moved(&home, "111122223333", "eu-west-1"));
        let data = page_data(&timeline);
        assert_eq!(data["severalPlaces"], true);
        assert_eq!(data["accountNames"], json!({"444455556666": "staging"}));
        let lanes: Vec<(&str, &str, &str, &str, u64)> = data["summaries"]
            .as_array()
            .expect("summaries")
            .iter()
            .map(|s| {
                let text = |field: &str| s[field].as_str().expect("text");
                let tasks = s["tasks"].as_u64().expect("tasks");
                (text("account"), text("region"), text("cluster"), text("lane"), tasks)
            })
            .collect();
        assert_eq!(
            lanes,
            [
                ("111122223333", "eu-west-1", "prod", "service:web", 1),
                ("111122223333", "us-east-1", "prod", "service:web", 1),
                ("444455556666", "us-east-1", "prod", "service:web", 1),
            ]
        );
        // One account and Region: the page names clusters alone, as before.
        let mut single = Timeline::new();
        stored(&mut single, &home);
        assert_eq!(page_data(&single)["severalPlaces"], false);
    }

    #[test]
    fn given_a_service_down_and_its_recovery_then_a_silence_band_spans_them() {
        let mut timeline = Timeline::new();
        let record = ServiceRecord::new(SERVICE, "arn:aws:ecs:us-east-1:111122223333:cluster/prod");
        let since = DateTime::parse_from_rfc3339("2024-06-10T08:10:00Z").expect("t").to_utc();
        let told = since + chrono::Duration::minutes(5);
        let back = since + chrono::Duration::minutes(30);
        let names = AccountNames::none();
        timeline.alert(&render_down(&record, since.timestamp(), Some(2), 300, &names, told), told);
        timeline.alert(&render_recovered(&record, since.timestamp(), 2, &names, back), back);
        timeline.alert(
            &render_down(
                &record,
                back.timestamp() + 600,
                Some(2),
                300,
                &names,
                back + chrono::Duration::minutes(15),
            ),
            back + chrono::Duration::minutes(15),
        );
        let data = page_data(&timeline);
        let summary = &data["summaries"][0];
        assert_eq!(summary["lane"], "service:web");
        let silences = summary["silences"].as_array().expect("silences");
        assert_eq!(silences.len(), 2);
        assert_eq!(silences[0]["start"], since.timestamp_millis());
        assert_eq!(silences[0]["end"], back.timestamp_millis());
        assert_eq!(silences[0]["open"], false);
        assert_eq!(silences[1]["open"], true);
        let markers: Vec<&str> = data["markers"]
            .as_array()
            .expect("markers")
            .iter()
            .map(|m| m["kind"].as_str().expect("kind"))
            .collect();
        assert_eq!(markers, ["silence", "resolved", "silence"]);
    }
}
