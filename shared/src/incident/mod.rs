//! Incidents: one story per outage instead of one message per stopped task.
//!
//! Matches of a rule are grouped by an **incident key**: the rule, the cluster and the task's
//! `group` (`service:NAME` or `family:NAME`), or the service for service action and deployment
//! events. The first match of a key with no open incident is alerted at once and opens an
//! incident; its first window ends `window` later. Further matches are counted into the window
//! they fall in (one entry per task: duplicates and later versions never count twice). A window
//! that ends with further matches gets one **digest** and the incident stays open for the next
//! window; a window that ends with none closes it, and the next match alerts at once again.
//! An incident that counts at least `crash_loop_after` stops within one window (the opening
//! alert included) is a **crash loop**, said by its digests from then on.
//!
//! Time is the caller's: the wall clock in Lambda, the replay's event clock in a replay. The
//! [`IncidentStore`] port keeps heads and windows; both adapters place matches with
//! [`place`], so they decide alike.

mod dynamodb;
mod memory;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use dynamodb::{DUE_INDEX, DynamoDbIncidentStore, INCIDENT_KEY};
pub use memory::InMemoryIncidentStore;

use crate::event::{EcsDetail, EcsEvent};

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
    fn window_secs(&self) -> i64 {
        i64::try_from(self.window.as_secs()).unwrap_or(i64::MAX).max(1)
    }
}

/// One match counted into an incident: a stopped task, or a service or deployment event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// The task ARN, or the event's id for service and deployment events.
    pub id: String,
    /// When it happened (epoch seconds): the task's stop, else the event's time.
    pub at: i64,
    /// What a person groups stops by: `exit 137 OutOfMemoryError`, `exit 1`,
    /// `SpotInterruption`, `SERVICE_DEPLOYMENT_FAILED`.
    pub cause: String,
    /// The task's stop code, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<String>,
    /// The failed containers, most telling first (`app:137 log-router:143`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_containers: Option<String>,
}

impl Member {
    /// The member an event is, for grouping.
    pub fn of(event: &EcsEvent) -> Self {
        match &event.detail {
            EcsDetail::Task(task) => {
                let at = task.stopped_at.as_ref().unwrap_or(&event.time).instant().timestamp();
                let telling = task.containers_most_telling_first();
                let cause = match telling.first().filter(|container| container.failed()) {
                    Some(container) => {
                        let exit = container.exit_code.map_or_else(
                            || "no exit code".to_owned(),
                            |code| format!("exit {code}"),
                        );
                        match container.reason.as_deref() {
                            Some(reason) => {
                                let kind = reason.split(':').next().unwrap_or(reason).trim();
                                format!("{exit} {kind}")
                            }
                            None => exit,
                        }
                    }
                    None => task
                        .stop_code
                        .as_ref()
                        .map_or_else(|| task.last_status.to_string(), ToString::to_string),
                };
                Self {
                    id: task.task_arn.clone(),
                    at,
                    cause,
                    stop_code: task.stop_code.as_ref().map(ToString::to_string),
                    failed_containers: task.failed_containers(),
                }
            }
            _ => {
                let detail = serde_json::to_value(&event.detail).unwrap_or_default();
                let name = detail.get("eventName").or_else(|| detail.get("status"));
                Self {
                    id: event.id.clone(),
                    at: event.time.instant().timestamp(),
                    cause: name
                        .and_then(|name| name.as_str())
                        .unwrap_or(&event.detail_type)
                        .to_owned(),
                    stop_code: None,
                    failed_containers: None,
                }
            }
        }
    }
}

/// The incident key of a rule's match: `rule|cluster|group` (`service:NAME`, `family:NAME`),
/// `rule|cluster|service:NAME` for service and deployment events, `rule|cluster|instances` for
/// container instance events.
pub fn incident_key(rule: &str, event: &EcsEvent) -> String {
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
        _ => {
            // `...:service/<cluster>/<service>`
            let mut parts = resource.rsplit('/');
            let service = parts.next().unwrap_or_default();
            let cluster = parts.next().unwrap_or_default();
            (cluster.to_owned(), format!("service:{service}"))
        }
    };
    format!("{rule}|{cluster}|{group}")
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
    /// Whether it has been a crash loop.
    pub crash_loop: bool,
}

/// Where a match falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// No incident is open at that time: the match opens one.
    Open,
    /// Into this window (1-based) of the open incident.
    Window(u32),
}

/// Places a match at `at` given the key's head: an incident is open at a time when that time
/// falls in its first window, or every window before it counted a further match.
pub fn place(head: Option<&Head>, at: i64) -> Placement {
    let Some(head) = head else { return Placement::Open };
    let elapsed = (at - head.opened).max(0);
    let index = u32::try_from(elapsed / head.window.max(1) + 1).unwrap_or(u32::MAX);
    if index == 1 || head.last_active >= index - 1 {
        Placement::Window(index)
    } else {
        Placement::Open
    }
}

/// One window of one incident.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WindowRef {
    /// The incident key.
    pub key: String,
    /// When the incident opened (epoch seconds).
    pub opened: i64,
    /// The window (1-based).
    pub index: u32,
}

impl WindowRef {
    /// A stable id: `key#opened#index` (also the digest's alert key, prefixed `digest#`).
    pub fn id(&self) -> String {
        format!("{}#{}#{}", self.key, self.opened, self.index)
    }
}

/// What a window counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Which window.
    pub window: WindowRef,
    /// Start and end (epoch seconds).
    pub start: i64,
    /// End (epoch seconds).
    pub end: i64,
    /// The matches counted, in time order.
    pub members: Vec<Member>,
    /// Matches counted beyond what a window item can hold (listed by number only).
    pub overflow: u64,
    /// Whether the incident was a crash loop by this window's end.
    pub crash_loop: bool,
}

impl Window {
    /// How many matches the window counted.
    pub fn count(&self) -> u64 {
        self.members.len() as u64 + self.overflow
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
    },
    /// It was counted into a window of the open incident.
    Counted {
        /// The window.
        window: WindowRef,
        /// Whether the incident is a crash loop now.
        crash_loop: bool,
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
    /// Records a match of `key` at `at` (epoch seconds): opens an incident, or counts the
    /// member into the window it falls in (once per member id). `opener` is the match's
    /// alert key: a retry of the match that opened the incident is told it opened it again.
    /// Entries expire at `expires_at`.
    async fn record(
        &self,
        key: &str,
        settings: GroupSettings,
        at: i64,
        member: &Member,
        opener: &str,
        expires_at: i64,
    ) -> Result<Recorded, IncidentError>;

    /// The windows whose digest is due: they counted a further match and ended by `now` (all
    /// of them, ended or not, when `now` is `None`: the end of a replay).
    async fn due(&self, now: Option<i64>) -> Result<Vec<WindowRef>, IncidentError>;

    /// A window's content.
    async fn window(&self, window: &WindowRef) -> Result<Option<Window>, IncidentError>;

    /// Records that a window's digest was sent: it is no longer due.
    async fn digested(&self, window: &WindowRef) -> Result<(), IncidentError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(opened: i64, last_active: u32) -> Head {
        Head { opened, window: 600, last_active, opener: "o".into(), crash_loop: false }
    }

    #[test]
    fn given_no_incident_then_a_match_opens_one() {
        assert_eq!(place(None, 1_000), Placement::Open);
    }

    #[test]
    fn given_an_open_incident_then_matches_fall_in_its_windows_while_each_counted_something() {
        // Window 1 is [0, 600), window 2 [600, 1200)...
        assert_eq!(place(Some(&head(0, 0)), 0), Placement::Window(1));
        assert_eq!(place(Some(&head(0, 0)), 599), Placement::Window(1));
        // Window 1 counted nothing further: the incident closed at 600.
        assert_eq!(place(Some(&head(0, 0)), 600), Placement::Open);
        // Window 1 counted something: window 2 is open; window 3 only if window 2 counted.
        assert_eq!(place(Some(&head(0, 1)), 600), Placement::Window(2));
        assert_eq!(place(Some(&head(0, 1)), 1_200), Placement::Open);
        assert_eq!(place(Some(&head(0, 2)), 1_250), Placement::Window(3));
        // A match from before the opening (delivered late) counts into the first window.
        assert_eq!(place(Some(&head(1_000, 0)), 900), Placement::Window(1));
    }
}
