//! `ecs-events replay --html`: what happened, as one self-contained page — every task a bar
//! on its cluster's and service's lane from creation to its last known state, coloured by how
//! it ended; every alert and digest, deployment and service action a marker on its lane.
//!
//! The replay feeds the timeline each event (before and after the state tracker decides it) and
//! each alert when it is sent; [`Timeline::write_html`] writes the page: `timeline.html` with
//! the data as JSON in it, drawn by its own script (no network, no dependency).

use std::collections::{BTreeSet, HashMap};
use std::io::Write;

use chrono::{DateTime, Utc};
use ecs_events::alert::Alert;
use ecs_events::event::{EcsDetail, EcsEvent, StopCode, TaskStateChange};
use ecs_events::state::Outcome;
use serde::Serialize;

use crate::replay::Stats;

/// The page: CSS, the drawing script, and `/*TIMELINE-DATA*/` where the data goes.
const PAGE: &str = include_str!("timeline.html");
const DATA_PLACEHOLDER: &str = "/*TIMELINE-DATA*/";
/// The most tasks drawn: beyond, every task that did not end cleanly is kept and the others
/// sampled evenly, and the page says so (50,000 events stay under 5 MB this way).
pub const MAX_TASKS_DRAWN: usize = 8_000;
/// The most characters of a reason or subject shown.
const MAX_TEXT: usize = 300;

/// How a task ended (or that it has not), the bar's colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskOutcome {
    /// Not stopped at its last known state.
    Running,
    /// Stopped with every container's exit code 0, or on purpose (by a person, the scheduler).
    Stopped,
    /// An essential container exited non-zero.
    Failed,
    /// A container was killed for want of memory.
    Oom,
    /// The task never started (image pull, secrets, placement...).
    FailedToStart,
    /// A Spot interruption (or a Fargate termination notice).
    Spot,
}

impl TaskOutcome {
    /// The outcome of a task's last known state (a task Spot is interrupting is Spot already).
    pub fn of(task: &TaskStateChange) -> Self {
        if matches!(task.stop_code, Some(StopCode::SpotInterruption | StopCode::TerminationNotice))
        {
            return Self::Spot;
        }
        if task.last_status.as_str() != "STOPPED" {
            return Self::Running;
        }
        let containers = task.containers.as_deref().unwrap_or_default();
        let oom = |reason: &Option<String>| {
            reason.as_deref().is_some_and(|reason| reason.starts_with("OutOfMemoryError"))
        };
        match task.stop_code {
            Some(StopCode::TaskFailedToStart) => Self::FailedToStart,
            _ if containers.iter().any(|c| oom(&c.reason)) => Self::Oom,
            // Stopped on purpose: the exit codes are those of the stop (SIGTERM, SIGKILL).
            Some(StopCode::UserInitiated | StopCode::ServiceSchedulerInitiated) => Self::Stopped,
            _ if containers.iter().any(|c| c.exit_code.is_some_and(|code| code != 0)) => {
                Self::Failed
            }
            _ => Self::Stopped,
        }
    }
}

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
    cluster: String,
    lane: String,
    /// Epoch milliseconds: created (or first seen) and last known (stopped, or last event).
    start: i64,
    end: i64,
    outcome: TaskOutcome,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    containers: Vec<ContainerFacts>,
    versions: Vec<u64>,
    duplicates: u32,
    stale: u32,
    console: String,
    #[serde(skip)]
    newest: u64,
    /// Whether the state tracker stored any of its events (else it is not drawn: the table
    /// never held it).
    #[serde(skip)]
    stored: bool,
}

/// A marker: an alert, a digest, a deployment or a service action.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Marker {
    /// `alert`, `digest`, `deployment` or `service`.
    kind: &'static str,
    time: i64,
    cluster: String,
    lane: String,
    label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    crash_loop: bool,
    /// The tasks it is about (alerts and digests).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tasks: Vec<String>,
}

/// What the page is drawn from.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PageData<'a> {
    time_zone: &'static str,
    stats: &'a Stats,
    tasks_total: usize,
    /// Tasks seen whose every event the state tracker refused (stale, or failed): not drawn.
    not_stored: usize,
    sampled: bool,
    tasks: Vec<&'a TaskBar>,
    markers: &'a [Marker],
}

/// The timeline a replay builds.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    tasks: Vec<TaskBar>,
    index: HashMap<String, usize>,
    markers: Vec<Marker>,
}

impl Timeline {
    /// An empty timeline.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes in an event before the state tracker decides it: a task's facts (kept from its
    /// newest version), a deployment's or service action's marker.
    pub fn observe(&mut self, event: &EcsEvent) {
        let time = event.time.instant().timestamp_millis();
        match &event.detail {
            EcsDetail::Task(task) => self.task(task, time, &event.region),
            EcsDetail::Deployment(deployment) => self.service_event(
                "deployment",
                event,
                time,
                deployment.event_name.as_str(),
                deployment.reason.as_deref(),
            ),
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
        let (cluster, lane) = service_lane(event);
        self.markers.push(Marker {
            kind,
            time,
            cluster,
            lane,
            label: name.to_owned(),
            detail: reason.map(clip),
            crash_loop: false,
            tasks: Vec::new(),
        });
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

    /// An alert or digest sent at `time` (the replay's clock), on the lane of the first task
    /// it is about.
    pub fn alert(&mut self, alert: &Alert, time: DateTime<Utc>) {
        let tasks: Vec<String> = if alert.resources.is_empty() {
            vec![alert.resource.clone()]
        } else {
            alert.resources.clone()
        };
        let lane = tasks.iter().find_map(|arn| self.index.get(arn)).map(|&at| &self.tasks[at]);
        let (cluster, lane) = match lane {
            Some(bar) => (bar.cluster.clone(), bar.lane.clone()),
            None => match arn_lane(&alert.resource) {
                Some(lane) => lane,
                None => incident_lane(alert.incident.as_deref()),
            },
        };
        self.markers.push(Marker {
            kind: alert.kind.as_str(),
            time: time.timestamp_millis(),
            cluster,
            lane,
            label: alert.rule.clone(),
            detail: Some(clip(&alert.subject)),
            crash_loop: alert.crash_loop,
            tasks,
        });
    }

    fn task(&mut self, task: &TaskStateChange, time: i64, region: &str) {
        let at = match self.index.get(&task.task_arn) {
            Some(&at) => at,
            None => {
                let (cluster, lane) = task_lane(task);
                self.index.insert(task.task_arn.clone(), self.tasks.len());
                self.tasks.push(TaskBar {
                    console: console_link(region, &cluster, &task.task_arn),
                    arn: task.task_arn.clone(),
                    cluster,
                    lane,
                    start: time,
                    end: time,
                    outcome: TaskOutcome::Running,
                    status: String::new(),
                    stop_code: None,
                    reason: None,
                    containers: Vec::new(),
                    versions: Vec::new(),
                    duplicates: 0,
                    stale: 0,
                    newest: 0,
                    stored: false,
                });
                self.tasks.len() - 1
            }
        };
        let bar = &mut self.tasks[at];
        if let Err(place) = bar.versions.binary_search(&task.version) {
            bar.versions.insert(place, task.version);
        }
        let created = task.created_at.as_ref().map(|t| t.instant().timestamp_millis());
        bar.start = bar.start.min(created.unwrap_or(time)).min(time);
        bar.end = bar.end.max(time);
        if task.version < bar.newest {
            return;
        }
        bar.newest = task.version;
        bar.outcome = TaskOutcome::of(task);
        bar.status = task.last_status.as_str().to_owned();
        bar.stop_code = task.stop_code.as_ref().map(|code| code.as_str().to_owned());
        bar.reason = task.stopped_reason.as_deref().map(clip);
        if let Some(stopped) = task.stopped_at.as_ref() {
            bar.end = bar.end.max(stopped.instant().timestamp_millis());
        }
        bar.containers = task
            .containers
            .as_deref()
            .unwrap_or_default()
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
        let data = PageData {
            time_zone: "UTC",
            stats,
            tasks_total: stored,
            not_stored: self.tasks.len() - stored,
            sampled,
            tasks,
            markers: &self.markers,
        };
        // Inside <script>, "</" could end the element: JSON allows "<\/" for it.
        let json = serde_json::to_string(&data)?.replace("</", "<\\/");
        let (before, after) = PAGE.split_once(DATA_PLACEHOLDER).unwrap_or((PAGE, ""));
        out.write_all(before.as_bytes())?;
        out.write_all(json.as_bytes())?;
        out.write_all(after.as_bytes())
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
                !matches!(bar.outcome, TaskOutcome::Running | TaskOutcome::Stopped)
                    || alerted.contains(bar.arn.as_str())
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
}

/// The cluster name and lane (`service:NAME`, `family:NAME`, or the cluster) of a task.
fn task_lane(task: &TaskStateChange) -> (String, String) {
    let cluster = name_of(&task.cluster_arn).to_owned();
    let lane = task.group.clone().unwrap_or_else(|| "(no group)".to_owned());
    (cluster, lane)
}

/// The cluster and lane of a service event: its resource is the service ARN
/// (`arn:...:service/CLUSTER/NAME`).
fn service_lane(event: &EcsEvent) -> (String, String) {
    let service = event.resources.as_deref().unwrap_or_default().first();
    service
        .and_then(|arn| arn_lane(arn))
        .unwrap_or_else(|| ("(unknown cluster)".to_owned(), "(no service)".to_owned()))
}

/// The lane of a service ARN (`…:service/[<cluster>/]<name>`).
fn arn_lane(arn: &str) -> Option<(String, String)> {
    let (_, path) = arn.split_once(":service/")?;
    Some(match path.split_once('/') {
        Some((cluster, name)) => (cluster.to_owned(), format!("service:{name}")),
        None => ("(unknown cluster)".to_owned(), format!("service:{path}")),
    })
}

/// The lane of an incident key (`rule|cluster|group`), for a digest about no known task.
fn incident_lane(incident: Option<&str>) -> (String, String) {
    let mut parts = incident.unwrap_or_default().split('|').skip(1);
    match (parts.next(), parts.next()) {
        (Some(cluster), Some(group)) => (cluster.to_owned(), group.to_owned()),
        _ => ("(unknown cluster)".to_owned(), "(no group)".to_owned()),
    }
}

/// The last part of an ARN's resource: a cluster's name.
fn name_of(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The task's page in the ECS console.
fn console_link(region: &str, cluster: &str, task_arn: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/tasks/{}/configuration?region={region}",
        name_of(task_arn)
    )
}

/// At most [`MAX_TEXT`] characters of `text`.
fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_TEXT) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use ecs_events::event::ReceivedEvent;

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

    #[test]
    fn given_the_samples_then_each_stop_is_told_apart_by_how_it_ended() {
        let outcomes = [
            ("task-ec2-running", TaskOutcome::Running),
            ("task-oom-killed", TaskOutcome::Oom),
            ("task-essential-exited-nonzero", TaskOutcome::Failed),
            ("task-essential-exited-zero", TaskOutcome::Stopped),
            ("task-failed-to-start-cannot-pull", TaskOutcome::FailedToStart),
            ("task-spot-interruption", TaskOutcome::Spot),
            ("task-spot-stopped-after-interruption", TaskOutcome::Spot),
            ("task-stopped-by-user", TaskOutcome::Stopped),
        ];
        for (sample, outcome) in outcomes {
            assert_eq!(TaskOutcome::of(task(&event(sample))), outcome, "{sample}");
        }
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
        assert_eq!(bar.versions, [task(&stopped).version - 1, task(&stopped).version]);
        assert_eq!((bar.duplicates, bar.stale), (1, 1));
        assert!(
            bar.console
                .ends_with(&format!("/tasks/{}/configuration?region=us-east-1", name_of(&arn)))
        );
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
}
