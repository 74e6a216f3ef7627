//! Incidents: one story per outage instead of one message per stopped task.
//!
//! Matches of a rule are grouped by an **incident key**: the rule, the account and Region, the
//! cluster and the task's `group` (`service:NAME` or `family:NAME`), or the service for service
//! action and deployment events ([`incident_key`]): grouping never mixes accounts or Regions.
//! The first match of a key with no open incident is alerted at once and opens an incident at
//! the match's own time; its first window ends `window` later. Further matches are
//! counted into the window their **own time** falls in (one entry per match: duplicates and
//! later versions never count twice). A window that ends with further matches gets one
//! **digest** and the incident stays open for the next window; a window that ends with none
//! closes it, and the next match alerts at once again. An incident that counts at least
//! `crash_loop_after` stopped tasks within one window (the opening alert included) is a **crash
//! loop**, said by its digests from then on.
//!
//! **Late matches.** EventBridge retries a delivery for up to 24 hours, so a match may arrive
//! after its window was told, or from before the open incident began. A window takes counts
//! until [`SETTLE`] after its end and is read no earlier (a watermark with allowed lateness):
//! a match counts into its window only if its writes are done by then (its invocation's
//! deadline, [`Clock::done_by`]). A match too late for its window, or from more than a window
//! before the open incident, is counted into the key's **late bucket** of the time it arrived
//! (window index 0, aligned to the window length), whose digest says these matches are about
//! the past. So a count can never land in a window that is being or has been told, with no
//! lock and no extra write per count.
//!
//! Time is the caller's: the wall clock in Lambda, the replay's event clock in a replay. The
//! [`IncidentStore`] port keeps heads, windows and members; both adapters place matches with
//! [`place`], so they decide alike.

mod dynamodb;
mod memory;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use dynamodb::{DUE_INDEX, DynamoDbIncidentStore, INCIDENT_ENTRY, INCIDENT_KEY};
pub use memory::InMemoryIncidentStore;

use crate::alert::Severity;
use crate::event::{EcsDetail, EcsEvent, TaskOutcome};

/// How long after its end a window still takes counts, and before which it is not read.
pub const SETTLE: i64 = 90;
/// Added to a count's deadline for clocks and requests still in flight.
pub const FENCE_MARGIN: i64 = 5;
/// A match told this long (or more) after it happened is said to be late.
pub const LATE_AFTER: i64 = 15 * 60;

/// How a rule groups its matches (`"group": {"window": "10m", "crashLoopAfter": 5}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupSettings {
    /// How long a window lasts.
    pub window: Duration,
    /// Stops within one window that make a crash loop.
    pub crash_loop_after: u32,
}

impl Default for GroupSettings {
    /// Ten-minute windows; five stops in one is a crash loop.
    fn default() -> Self {
        Self { window: Duration::from_secs(600), crash_loop_after: 5 }
    }
}

impl GroupSettings {
    /// The window length in seconds (at least 1).
    pub fn window_secs(&self) -> i64 {
        i64::try_from(self.window.as_secs()).unwrap_or(i64::MAX).max(1)
    }
}

/// What a match is about: the digest words its count by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MemberKind {
    /// A stopped task.
    #[default]
    Task,
    /// A service action event (`SERVICE_TASK_PLACEMENT_FAILURE`...).
    Service,
    /// A deployment state change.
    Deployment,
    /// A container instance state change.
    ContainerInstance,
    /// A task that finished its work (a rule told of completed tasks): never a crash loop.
    Completed,
}

/// One match counted into an incident: a stopped task, or a service or deployment event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// The task ARN, or the event's id for service and deployment events.
    pub id: String,
    /// When it happened (epoch seconds): the task's stop, else the event's time.
    pub at: i64,
    /// What it is about.
    #[serde(default)]
    pub kind: MemberKind,
    /// The event's Region (for console links).
    #[serde(default)]
    pub region: String,
    /// What a person groups stops by: `exit 137 OutOfMemoryError`, `exit 1`,
    /// `SpotInterruption`, `SERVICE_DEPLOYMENT_FAILED`.
    pub cause: String,
    /// The task's stop code, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<String>,
    /// The failed containers, most telling first (`app:137 log-router:143`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_containers: Option<String>,
    /// The deployment that started the task, when a service deployment did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    /// How bad this match is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

/// When what an event tells of happened (epoch seconds): a task's stop, else the event's time.
pub fn happened_at(event: &EcsEvent) -> i64 {
    match &event.detail {
        EcsDetail::Task(task) => task.stopped_at.as_ref().unwrap_or(&event.time),
        _ => &event.time,
    }
    .instant()
    .timestamp()
}

impl Member {
    /// The member an event is, for grouping: `outcome` is how a task ended (by its rule's
    /// expected exit codes), `severity` the match's.
    pub fn of(event: &EcsEvent, outcome: Option<TaskOutcome>, severity: Severity) -> Self {
        let region = event.region.clone();
        let at = happened_at(event);
        match &event.detail {
            EcsDetail::Task(task) => {
                let completed = outcome == Some(TaskOutcome::Completed);
                Self {
                    id: task.task_arn.clone(),
                    at,
                    kind: if completed { MemberKind::Completed } else { MemberKind::Task },
                    region,
                    cause: task.stop_cause().unwrap_or_else(|| task.last_status.to_string()),
                    stop_code: task.stop_code.as_ref().map(ToString::to_string),
                    failed_containers: task.failed_containers(),
                    deployment: task.deployment_id().map(str::to_owned),
                    severity: Some(severity),
                }
            }
            other => {
                let detail = serde_json::to_value(other).unwrap_or_default();
                let name = detail.get("eventName").or_else(|| detail.get("status"));
                let kind = match other {
                    EcsDetail::ContainerInstance(_) => MemberKind::ContainerInstance,
                    _ if event.detail_type.contains("Deployment") => MemberKind::Deployment,
                    _ => MemberKind::Service,
                };
                Self {
                    id: event.id.clone(),
                    at,
                    kind,
                    region,
                    cause: name
                        .and_then(|name| name.as_str())
                        .unwrap_or(&event.detail_type)
                        .to_owned(),
                    stop_code: None,
                    failed_containers: None,
                    deployment: match other {
                        EcsDetail::Deployment(deployment) => Some(deployment.deployment_id.clone()),
                        _ => None,
                    },
                    severity: Some(severity),
                }
            }
        }
    }
}

/// The incident key of a rule's match: `rule|account|region|cluster|group` (`group` is the
/// task's `service:NAME` or `family:NAME`, `service:NAME` for service and deployment events,
/// `instances` for container instance events); `|completed` after it for tasks that completed,
/// so completions and failures are never one story. The account id and Region are those of
/// the resource ([`crate::account::origin`]): the same cluster and service names in two
/// accounts or Regions are two incidents.
pub fn incident_key(rule: &str, event: &EcsEvent, outcome: Option<TaskOutcome>) -> String {
    let resource = event.resources().first().map(String::as_str).unwrap_or_default();
    let (cluster, group) = match &event.detail {
        EcsDetail::Task(task) => (
            task.cluster_name().to_owned(),
            task.group
                .clone()
                .unwrap_or_else(|| format!("family:{}", task.task_definition().unwrap_or("?"))),
        ),
        EcsDetail::ContainerInstance(instance) => (
            instance.cluster_arn.rsplit('/').next().unwrap_or_default().to_owned(),
            "instances".to_owned(),
        ),
        other => {
            // `...:service/<cluster>/<service>`, or the old `...:service/<service>` (its
            // cluster then from a service action's `clusterArn`).
            let path = resource.split_once(":service/").map_or(resource, |(_, path)| path);
            let (cluster, service) = match path.split_once('/') {
                Some((cluster, service)) => (cluster.to_owned(), service),
                None => {
                    let cluster = match other {
                        EcsDetail::ServiceAction(action) => action.cluster_arn.as_deref(),
                        _ => None,
                    };
                    let cluster = cluster.and_then(|arn| arn.rsplit('/').next());
                    (cluster.unwrap_or("-").to_owned(), path)
                }
            };
            (cluster, format!("service:{service}"))
        }
    };
    let (account, region) = crate::account::origin(event);
    let completed = if outcome == Some(TaskOutcome::Completed) { "|completed" } else { "" };
    format!("{rule}|{account}|{region}|{cluster}|{group}{completed}")
}

/// The parts of an incident key. A key written before the account and Region were part of it
/// (`rule|cluster|group[|completed]`: incidents still open across an upgrade) has neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyParts<'a> {
    /// The rule.
    pub rule: &'a str,
    /// The account id (`None` in an older key).
    pub account: Option<&'a str>,
    /// The Region (`None` in an older key).
    pub region: Option<&'a str>,
    /// The cluster's name.
    pub cluster: &'a str,
    /// `service:NAME`, `family:NAME` or `instances`.
    pub group: &'a str,
    /// Whether it is an incident of completed tasks.
    pub completed: bool,
}

impl<'a> KeyParts<'a> {
    /// The parts of `key` ([`incident_key`]); missing parts are empty.
    pub fn parse(key: &'a str) -> Self {
        let (key, completed) = match key.strip_suffix("|completed") {
            Some(rest) => (rest, true),
            None => (key, false),
        };
        let mut parts = key.splitn(5, '|');
        let rule = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts.collect();
        match rest.as_slice() {
            [account, region, cluster, group]
                if crate::account::is_account(account) && is_region(region) =>
            {
                Self {
                    rule,
                    account: Some(account),
                    region: Some(region),
                    cluster,
                    group,
                    completed,
                }
            }
            _ => {
                // An older key: `rule|cluster|group`.
                let mut old = key.splitn(3, '|').skip(1);
                let cluster = old.next().unwrap_or_default();
                let group = old.next().unwrap_or_default();
                Self { rule, account: None, region: None, cluster, group, completed }
            }
        }
    }
}

/// `us-east-1`, `cn-north-1`, `us-gov-west-1`: lower-case letters, digits and at least one
/// dash (no group, `service:x` or `instances`, looks like one).
fn is_region(text: &str) -> bool {
    text.contains('-')
        && text
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
}

/// The state of an incident key: the incident that is (or was last) open for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// When the incident opened (epoch seconds): its first window starts there.
    pub opened: i64,
    /// Window length in seconds, as configured when it opened.
    pub window: i64,
    /// The last window that counted a further match (0: none yet).
    pub last_active: u32,
    /// The alert key of the match that opened it.
    pub opener: String,
    /// Whether a digest has told it is a crash loop.
    pub crash_loop: bool,
}

impl Head {
    /// The head of an incident a match at `opened` opens, with windows `window` seconds long.
    pub fn opening(opened: i64, window: i64, opener: &str) -> Self {
        Self { opened, window, last_active: 0, opener: opener.to_owned(), crash_loop: false }
    }
}

/// When a match is recorded, on the caller's clock (epoch seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Now: it chooses the late bucket of a late match.
    pub now: i64,
    /// The latest time the recording's writes can land: its invocation's deadline, plus
    /// [`FENCE_MARGIN`].
    pub done_by: i64,
}

impl Clock {
    /// The clock of a recording at `now` that has `remaining` before its deadline.
    pub fn new(now: i64, remaining: Duration) -> Self {
        let remaining = i64::try_from(remaining.as_secs()).unwrap_or(i64::MAX / 2) + 1;
        Self { now, done_by: now.saturating_add(remaining).saturating_add(FENCE_MARGIN) }
    }
}

/// Where a match falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// No incident is open at that time: the match opens one.
    Open,
    /// Into this window (1-based) of the open incident.
    Window(u32),
    /// Too late for its window, or from before the open incident: into the late bucket that
    /// starts at `bucket`. `own` is the window of the open incident the match's time falls
    /// in, when it does: a retry of a match counted there must not count again.
    Late {
        /// When the late bucket starts.
        bucket: i64,
        /// The open incident's window the match belongs to by its time, if any.
        own: Option<u32>,
    },
}

/// The start of the late bucket a recording on `clock` goes to: the one that still takes
/// counts when the recording is done (it contains `done_by` less [`SETTLE`], or now).
pub fn late_bucket(clock: Clock, length: i64) -> i64 {
    let length = length.max(1);
    let at = clock.now.max(clock.done_by.saturating_sub(SETTLE));
    at - at.rem_euclid(length)
}

/// Places a match that happened at `at`, recorded on `clock`, given the key's head: an
/// incident is open at a time when that time falls in its first window, or every window before
/// it counted a further match. A match up to one window before the opening counts into the
/// first window (deliveries arrive out of order by seconds); one from longer before, or one
/// whose window stops taking counts before the recording is done ([`SETTLE`]), is late.
pub fn place(head: Option<&Head>, at: i64, clock: Clock, window: i64) -> Placement {
    let Some(head) = head else { return Placement::Open };
    let length = head.window.max(1);
    let bucket = late_bucket(clock, window);
    if at < head.opened.saturating_sub(length) {
        return Placement::Late { bucket, own: None };
    }
    let elapsed = (at - head.opened).max(0);
    let index = u32::try_from(elapsed / length + 1).unwrap_or(u32::MAX);
    if index != 1 && head.last_active < index - 1 {
        return Placement::Open;
    }
    let end = head.opened.saturating_add(i64::from(index).saturating_mul(length));
    if clock.done_by > end.saturating_add(SETTLE) {
        Placement::Late { bucket, own: Some(index) }
    } else {
        Placement::Window(index)
    }
}

/// One window of one incident, or (index 0) a key's late bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WindowRef {
    /// The incident key.
    pub key: String,
    /// When the incident opened (epoch seconds); for a late bucket, when the bucket starts.
    pub opened: i64,
    /// The window (1-based), or 0 for a late bucket.
    pub index: u32,
}

impl WindowRef {
    /// A stable id: `key#opened#index` (also the digest's alert key, prefixed `digest#`).
    pub fn id(&self) -> String {
        format!("{}#{}#{}", self.key, self.opened, self.index)
    }

    /// Whether this is a late bucket rather than a window of an incident.
    pub fn is_late(&self) -> bool {
        self.index == 0
    }

    /// The chat thread of the incident the window belongs to: `key#opened` (a late bucket is
    /// its own thread).
    pub fn thread(&self) -> String {
        if self.is_late() { self.id() } else { thread_id(&self.key, self.opened) }
    }

    /// Start and end (epoch seconds) of a window `length` seconds long.
    pub fn span(&self, length: i64) -> (i64, i64) {
        let start = self.opened + i64::from(self.index.saturating_sub(1)) * length;
        (start, start + length)
    }
}

/// Where a match goes when `window` turns out to be told already (which [`place`]'s timing
/// rules out short of clocks wrong by more than [`FENCE_MARGIN`]): the late bucket of `clock`,
/// or after a late bucket the next one. With its span.
pub fn after_told(window: WindowRef, clock: Clock, length: i64) -> (WindowRef, (i64, i64)) {
    let start = if window.is_late() { window.opened + length } else { late_bucket(clock, length) };
    (WindowRef { key: window.key, opened: start, index: 0 }, (start, start + length))
}

/// The chat thread (and id) of the incident of `key` opened at `opened`: every message of one
/// incident, and only of it, shares it.
pub fn thread_id(key: &str, opened: i64) -> String {
    format!("{key}#{opened}")
}

/// What a window counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Which window.
    pub window: WindowRef,
    /// Start (epoch seconds).
    pub start: i64,
    /// End (epoch seconds).
    pub end: i64,
    /// The matches counted, in time order.
    pub members: Vec<Member>,
    /// Whether an earlier digest of the incident told it is a crash loop.
    pub crash_loop_before: bool,
}

impl Window {
    /// How many matches the window counted.
    pub fn count(&self) -> u64 {
        self.members.len() as u64
    }

    /// Whether the incident is a crash loop by this window's end: an earlier window said so,
    /// or this one counted `crash_loop_after` stopped tasks (the opening alert included).
    /// A late bucket, and a window of other matches than tasks, never is.
    pub fn is_crash_loop(&self, settings: GroupSettings) -> bool {
        if self.window.is_late() || self.members.iter().any(|m| m.kind != MemberKind::Task) {
            return false;
        }
        let stops = self.count() + u64::from(self.window.index == 1);
        self.crash_loop_before || stops >= u64::from(settings.crash_loop_after)
    }

    /// The matches by cause, most frequent first: `[("exit 137 OutOfMemoryError", 12), ...]`.
    pub fn causes(&self) -> Vec<(String, u64)> {
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        for member in &self.members {
            *counts.entry(&member.cause).or_default() += 1;
        }
        let mut causes: Vec<(String, u64)> =
            counts.into_iter().map(|(cause, count)| (cause.to_owned(), count)).collect();
        causes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        causes
    }
}

/// What recording a match did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// It opened an incident: alert it at once.
    Opened {
        /// The incident key.
        key: String,
        /// When the incident opened (the match's own time).
        opened: i64,
    },
    /// It was counted into a window of the open incident, or into a late bucket.
    Counted {
        /// The window.
        window: WindowRef,
    },
    /// It was already counted (a retry of an invocation that counted it).
    AlreadyCounted {
        /// The window.
        window: WindowRef,
    },
}

/// An incident store request failed.
#[derive(Debug, thiserror::Error)]
#[error("incident store {operation} for {key} failed: {message}")]
pub struct IncidentError {
    /// The operation.
    pub operation: &'static str,
    /// The incident key or window id.
    pub key: String,
    /// What went wrong.
    pub message: String,
    /// Whether a later retry may succeed.
    pub retryable: bool,
}

/// The incident store port.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Records `member` as a match of `key` on `clock` ([`place`]): opens an incident, or
    /// counts the member into the window (or late bucket) it falls in, once per member id.
    /// `opener` is the match's alert key: a retry of the match that opened the incident is
    /// told it opened it again. Entries expire at `expires_at`.
    async fn record(
        &self,
        key: &str,
        settings: GroupSettings,
        member: &Member,
        opener: &str,
        clock: Clock,
        expires_at: i64,
    ) -> Result<Recorded, IncidentError>;

    /// Up to `limit` windows whose digest is due, earliest end first: they counted a match and
    /// ended by `until` (every such window, ended or not, when `until` is `None`: the end of a
    /// replay). Callers pass now less [`SETTLE`].
    async fn due(&self, until: Option<i64>, limit: usize) -> Result<Vec<WindowRef>, IncidentError>;

    /// A window's content: every member, and whether the incident was a crash loop before.
    async fn window(&self, window: &WindowRef) -> Result<Option<Window>, IncidentError>;

    /// Records that a window's digest was sent (it is no longer due) and whether it told the
    /// incident is a crash loop (later digests then say so too).
    async fn digested(&self, window: &WindowRef, crash_loop: bool) -> Result<(), IncidentError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(opened: i64, last_active: u32) -> Head {
        Head { opened, window: 600, last_active, opener: "o".into(), crash_loop: false }
    }

    /// A recording done at once (a replay's).
    fn at_once(now: i64) -> Clock {
        Clock { now, done_by: now }
    }

    /// The OOM sample moved to `account` and `region` (envelope and ARNs alike).
    fn oom_in(account: &str, region: &str) -> EcsEvent {
        let text = include_str!("../../../events/samples/task-oom-killed.json")
            .replace("111122223333", account)
            .replace("us-east-1", region);
        EcsEvent::from_slice(text.as_bytes()).expect("valid event")
    }

    #[test]
    fn given_one_cluster_and_task_in_two_accounts_or_regions_then_their_keys_differ_and_read_back()
    {
        let rule = "essential-container-exited";
        let home = incident_key(rule, &oom_in("111122223333", "us-east-1"), None);
        assert_eq!(
            home,
            "essential-container-exited|111122223333|us-east-1|prod-ec2|service:image-resizer"
        );
        let other_account = incident_key(rule, &oom_in("444455556666", "us-east-1"), None);
        let other_region = incident_key(rule, &oom_in("111122223333", "eu-west-1"), None);
        assert_ne!(home, other_account);
        assert_ne!(home, other_region);
        assert_ne!(other_account, other_region);
        let completed =
            incident_key(rule, &oom_in("444455556666", "eu-west-1"), Some(TaskOutcome::Completed));
        assert_eq!(
            KeyParts::parse(&completed),
            KeyParts {
                rule,
                account: Some("444455556666"),
                region: Some("eu-west-1"),
                cluster: "prod-ec2",
                group: "service:image-resizer",
                completed: true,
            }
        );
    }

    #[test]
    fn given_keys_stored_before_accounts_were_in_them_then_they_still_read() {
        let parts = KeyParts::parse("flaps|prod|instances");
        assert_eq!((parts.rule, parts.cluster, parts.group), ("flaps", "prod", "instances"));
        assert_eq!((parts.account, parts.region, parts.completed), (None, None, false));
        // A cluster named like an account id is no account in an older key.
        let parts = KeyParts::parse("jobs|111122223333|family:nightly|completed");
        assert_eq!((parts.cluster, parts.group), ("111122223333", "family:nightly"));
        assert_eq!((parts.account, parts.completed), (None, true));
    }

    #[test]
    fn given_no_incident_then_a_match_opens_one() {
        assert_eq!(place(None, 1_000, at_once(1_000), 600), Placement::Open);
    }

    #[test]
    fn given_an_open_incident_then_matches_fall_in_its_windows_while_each_counted_something() {
        let place = |head: Head, at: i64| place(Some(&head), at, at_once(at), 600);
        // Window 1 is [0, 600), window 2 [600, 1200)...
        assert_eq!(place(head(0, 0), 0), Placement::Window(1));
        assert_eq!(place(head(0, 0), 599), Placement::Window(1));
        // Window 1 counted nothing further: the incident closed at 600.
        assert_eq!(place(head(0, 0), 600), Placement::Open);
        // Window 1 counted something: window 2 is open; window 3 only if window 2 counted.
        assert_eq!(place(head(0, 1), 600), Placement::Window(2));
        assert_eq!(place(head(0, 1), 1_200), Placement::Open);
        assert_eq!(place(head(0, 2), 1_250), Placement::Window(3));
        // A match from shortly before the opening (delivered out of order) counts into the
        // first window.
        assert_eq!(place(head(1_000, 0), 900), Placement::Window(1));
    }

    #[test]
    fn given_a_match_from_well_before_the_open_incident_then_it_is_late_not_in_window_1() {
        // The incident opened at 13:00; a stop from 09:00 arrives at 13:05.
        let thirteen = 13 * 3_600;
        let clock = at_once(thirteen + 300);
        assert_eq!(
            place(Some(&head(thirteen, 0)), 9 * 3_600, clock, 600),
            Placement::Late { bucket: thirteen, own: None }
        );
    }

    #[test]
    fn given_a_window_that_no_longer_takes_counts_then_a_match_for_it_is_late() {
        // Window 1 is [0, 600): it takes counts done by 600 + SETTLE.
        let head = head(0, 0);
        let on_time = Clock { now: 620, done_by: 600 + SETTLE };
        assert_eq!(place(Some(&head), 590, on_time, 600), Placement::Window(1));
        let too_late = Clock { now: 660, done_by: 600 + SETTLE + 1 };
        assert_eq!(
            place(Some(&head), 590, too_late, 600),
            Placement::Late { bucket: 600, own: Some(1) }
        );
        // The late bucket is one that still takes counts when the recording is done.
        let slow = Clock { now: 1_190, done_by: 1_190 + 200 };
        let bucket = late_bucket(slow, 600);
        assert_eq!(bucket, 1_200);
        assert!(slow.done_by <= bucket + 600 + SETTLE, "its bucket is read after it is done");
        // The recording's deadline counts, not only its start: a count started in time whose
        // invocation may still be writing after the window is read goes late.
        assert_eq!(Clock::new(600, Duration::from_secs(30)).done_by, 600 + 31 + FENCE_MARGIN);
    }
}
