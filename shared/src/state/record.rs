//! The record the state tracker keeps per task or container instance, built from an event.

use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::detail::Detail;
use crate::event::{
    ContainerInstanceStatus, DEFAULT_EXPECTED_EXIT_CODES, EcsDetail, EcsEvent, Projection,
    ReceivedEvent, TaskStateChange, TaskStatus, Timestamp,
};
use crate::redact::redact_detail;

/// DynamoDB's item size limit (400 KB), in bytes.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// How long records of resources that are gone stay before DynamoDB's TTL deletes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// After a task stopped (its `stoppedAt`, else the event time).
    pub stopped_task: Duration,
    /// After a container instance was deregistered (status `INACTIVE`; its `updatedAt`, else
    /// the event time).
    pub inactive_instance: Duration,
}

impl Default for Retention {
    /// Seven days for both.
    fn default() -> Self {
        Self { stopped_task: Duration::days(7), inactive_instance: Duration::days(7) }
    }
}

impl Retention {
    /// The retention of records of `kind`.
    pub fn of(&self, kind: ResourceKind) -> Duration {
        match kind {
            ResourceKind::Task => self.stopped_task,
            ResourceKind::ContainerInstance => self.inactive_instance,
        }
    }
}

/// Which table a record lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    /// A task: keyed by `taskArn`.
    Task,
    /// A container instance: keyed by `containerInstanceArn`.
    ContainerInstance,
}

impl ResourceKind {
    /// The key attribute of the kind's table.
    pub fn key_attribute(self) -> &'static str {
        match self {
            Self::Task => "taskArn",
            Self::ContainerInstance => "containerInstanceArn",
        }
    }

    /// The kind and key of the record an event updates, for task and container instance
    /// events.
    pub fn of(event: &EcsEvent) -> Option<(Self, &str)> {
        match &event.detail {
            EcsDetail::Task(task) => Some((Self::Task, &task.task_arn)),
            EcsDetail::ContainerInstance(instance) => {
                Some((Self::ContainerInstance, &instance.container_instance_arn))
            }
            _ => None,
        }
    }

    /// The attribute holding the status (`lastStatus` of a task, `status` of an instance).
    pub fn status_attribute(self) -> &'static str {
        match self {
            Self::Task => "lastStatus",
            Self::ContainerInstance => "status",
        }
    }
}

/// Where a record's state came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Source {
    /// An ECS event (the state tracker, a replay).
    #[default]
    Event,
    /// The ECS API, read by the reconciler ([`crate::reconcile`]).
    Reconcile,
}

impl Source {
    /// The `source` attribute's value: `event` or `reconcile`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Event => "event",
            Self::Reconcile => "reconcile",
        }
    }

    /// The source an attribute value names (`None` for anything else).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "event" => Some(Self::Event),
            "reconcile" => Some(Self::Reconcile),
            _ => None,
        }
    }
}

/// What operators ask of a task without reading its detail, kept as plain attributes (and
/// projected into the cluster/status index, so listing a cluster reads nothing else).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFacts {
    /// `service:<name>` or `family:<family>`.
    pub group: Option<String>,
    /// When the task started running, as sent.
    pub started_at: Option<String>,
    /// When the task stopped, as sent.
    pub stopped_at: Option<String>,
    /// Why the task stopped, as a code.
    pub stop_code: Option<String>,
    /// The failed containers, most telling first: `app:137 log-router:143`.
    pub failed_containers: Option<String>,
    /// The deployment that started the task (`startedBy` `ecs-svc/…`): a deployment's tasks are
    /// found by it.
    pub deployment_id: Option<String>,
    /// How the task ended ([`crate::event::TaskOutcome`], by the exit codes `[0]`), once
    /// stopped: `failed`, `completed`, `failed-to-start`…
    pub outcome: Option<String>,
    /// Why it stopped, in a few words ([`crate::event::TaskStateChange::stop_cause`]).
    pub stop_cause: Option<String>,
}

impl TaskFacts {
    /// The facts of a task's state.
    pub fn of(task: &TaskStateChange) -> Self {
        let stopped = task.last_status == TaskStatus::Stopped;
        Self {
            group: task.group.clone(),
            started_at: task.started_at.as_ref().map(|at| at.as_str().to_owned()),
            stopped_at: task.stopped_at.as_ref().map(|at| at.as_str().to_owned()),
            stop_code: task.stop_code.as_ref().map(|code| code.as_str().to_owned()),
            failed_containers: task.failed_containers(),
            deployment_id: task.deployment_id().map(str::to_owned),
            outcome: stopped.then(|| task.outcome(DEFAULT_EXPECTED_EXIT_CODES).as_str().to_owned()),
            stop_cause: task.stop_cause(),
        }
    }
}

/// The newest known state of one task or container instance.
#[derive(Debug, Clone, PartialEq)]
pub struct StateRecord {
    /// Task or container instance.
    pub kind: ResourceKind,
    /// The task ARN or container instance ARN.
    pub key: String,
    /// `detail.version` of the event the record comes from.
    pub version: u64,
    /// ARN of the cluster.
    pub cluster_arn: String,
    /// `lastStatus` of a task, `status` of a container instance.
    pub status: String,
    /// Envelope `id` of the event (`reconcile:<run time>` for a record the reconciler wrote).
    pub event_id: String,
    /// Envelope `time` of the event, as sent (when the reconciler read the API, for its
    /// records).
    pub event_time: Timestamp,
    /// Whether an event or the reconciler wrote the record.
    pub source: Source,
    /// Epoch seconds since which the reconciler has found the task missing from ECS while the
    /// record says it is not stopped (see [`crate::reconcile`]); a newer write clears it.
    pub missing_since: Option<i64>,
    /// Epoch seconds after which DynamoDB's TTL may delete the record (stopped tasks and
    /// deregistered container instances only).
    pub expires_at: Option<i64>,
    /// A fingerprint of what only the ECS API tells (tags, health) in a record the reconciler
    /// wrote: a later run at the same version writes again only when it changed.
    pub api_facts: Option<String>,
    /// Plain facts of a task (empty for container instances).
    pub facts: TaskFacts,
    /// The whole `detail`, unknown fields included, with secrets redacted
    /// ([`crate::redact`]).
    pub detail: Detail,
}

/// Why an event cannot become a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The record would be an item over DynamoDB's 400 KB limit. Such an item can never be
    /// written, so the event is rejected as a whole rather than stored in part.
    #[error(
        "{kind:?} {key} version {version}: the record is {size} bytes as a DynamoDB item, over the {MAX_ITEM_BYTES}-byte limit"
    )]
    TooLarge {
        /// Task or container instance.
        kind: ResourceKind,
        /// Its ARN.
        key: String,
        /// The event's version.
        version: u64,
        /// The item's size as DynamoDB counts it.
        size: usize,
    },
}

impl StateRecord {
    /// The record an event asks to store (its `detail` as delivered, secrets redacted), or
    /// `None` for events the tracker does not keep (service actions, deployments, unknown
    /// detail types). A stopped task's or deregistered container instance's record expires
    /// after its `retention`. A record too large for DynamoDB is refused whole.
    pub fn from_event(
        received: ReceivedEvent,
        retention: Retention,
    ) -> Result<Option<Self>, RecordError> {
        if !matches!(received.event.detail, EcsDetail::Task(_) | EcsDetail::ContainerInstance(_)) {
            return Ok(None);
        }
        let detail = stored_detail(received.detail_json(), received.detail_is_compact());
        let EcsEvent { id, time, detail: typed, .. } = received.event;
        let (kind, key, version, cluster_arn, status, expires_at, facts) = match typed {
            EcsDetail::Task(task) => {
                let expires_at = (task.last_status == TaskStatus::Stopped).then(|| {
                    let stopped =
                        task.stopped_at.as_ref().map_or(time.instant(), |at| at.instant());
                    expiry(stopped, retention.stopped_task)
                });
                let facts = TaskFacts::of(&task);
                let status = task.last_status.as_str().to_owned();
                let task = *task;
                (
                    ResourceKind::Task,
                    task.task_arn,
                    task.version,
                    task.cluster_arn,
                    status,
                    expires_at,
                    facts,
                )
            }
            EcsDetail::ContainerInstance(instance) => {
                let expires_at =
                    (instance.status == ContainerInstanceStatus::Inactive).then(|| {
                        let deregistered =
                            instance.updated_at.as_ref().map_or(time.instant(), |at| at.instant());
                        expiry(deregistered, retention.inactive_instance)
                    });
                let status = instance.status.as_str().to_owned();
                let instance = *instance;
                (
                    ResourceKind::ContainerInstance,
                    instance.container_instance_arn,
                    instance.version,
                    instance.cluster_arn,
                    status,
                    expires_at,
                    TaskFacts::default(),
                )
            }
            EcsDetail::ServiceAction(_) | EcsDetail::Deployment(_) | EcsDetail::Unknown(_) => {
                return Ok(None);
            }
        };
        let record = Self {
            kind,
            key,
            version,
            cluster_arn,
            status,
            event_id: id,
            event_time: time,
            source: Source::Event,
            missing_since: None,
            expires_at,
            api_facts: None,
            facts,
            detail,
        };
        record.check_size()?;
        Ok(Some(record))
    }

    /// The record's size as a DynamoDB item, the detail counted by its encoded size.
    pub fn item_size(&self, encoded_detail: usize) -> usize {
        let text = |name: &str, value: &str| name.len() + value.len();
        let number = |name: &str, value: String| name.len() + number_size(&value);
        let optional =
            |name: &str, value: &Option<String>| value.as_deref().map_or(0, |v| text(name, v));
        text(self.kind.key_attribute(), &self.key)
            + number("version", self.version.to_string())
            + text("clusterArn", &self.cluster_arn)
            + text(self.kind.status_attribute(), &self.status)
            + text("eventId", &self.event_id)
            + text("eventTime", self.event_time.as_str())
            + text("source", self.source.as_str())
            + self.missing_since.map_or(0, |at| number("missingSince", at.to_string()))
            + self.expires_at.map_or(0, |at| number("expiresAt", at.to_string()))
            + optional("apiFacts", &self.api_facts)
            + optional("group", &self.facts.group)
            + optional("startedAt", &self.facts.started_at)
            + optional("stoppedAt", &self.facts.stopped_at)
            + optional("stopCode", &self.facts.stop_code)
            + optional("failedContainers", &self.facts.failed_containers)
            + optional("deploymentId", &self.facts.deployment_id)
            + optional("outcome", &self.facts.outcome)
            + optional("stopCause", &self.facts.stop_cause)
            + "detail".len()
            + encoded_detail
    }

    /// Refuses a record DynamoDB would refuse. The detail is encoded to measure it only when
    /// its text alone could make the item too large (never for a 256 KB EventBridge event).
    fn check_size(&self) -> Result<(), RecordError> {
        let mut size = self.item_size(self.detail.as_str().len());
        if size > MAX_ITEM_BYTES {
            size = self.item_size(self.detail.encode().map_or(usize::MAX / 2, |e| e.len()));
        }
        if size > MAX_ITEM_BYTES {
            return Err(RecordError::TooLarge {
                kind: self.kind,
                key: self.key.clone(),
                version: self.version,
                size,
            });
        }
        Ok(())
    }
}

/// Epoch seconds of `from + retention`.
fn expiry(from: DateTime<Utc>, retention: Duration) -> i64 {
    (from + retention).timestamp()
}

/// The size DynamoDB bills for a number: one byte per two significant digits (leading and
/// trailing zeros trimmed), plus one.
pub(super) fn number_size(number: &str) -> usize {
    let mantissa = number.split(['e', 'E']).next().unwrap_or_default();
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let start = digits.iter().position(|&digit| digit != b'0').unwrap_or(digits.len());
    let end = digits.iter().rposition(|&digit| digit != b'0').map_or(start, |end| end + 1);
    (end - start).max(1).div_ceil(2) + 1
}

/// The detail to store: its delivered text when compact and free of secrets, else written
/// compact from its value with the secrets redacted.
fn stored_detail(delivered: &str, compact: bool) -> Detail {
    // Only `overrides` can hold a secret: read it alone to see whether redaction changes it.
    static OVERRIDES: LazyLock<Projection> =
        LazyLock::new(|| Projection::of_paths([["overrides"]]));
    let overrides = OVERRIDES.project(delivered);
    let has_secrets =
        overrides.is_err() || overrides.is_ok_and(|mut part| redact_detail(&mut part));
    if !has_secrets && compact {
        return Detail::from_delivered(Arc::from(delivered));
    }
    let mut detail = serde_json::from_str(delivered).unwrap_or(Value::Null);
    redact_detail(&mut detail);
    Detail::from_value(&detail)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn task_event(last_status: &str, extra: Value) -> ReceivedEvent {
        let mut detail = json!({
            "clusterArn": "arn:aws:ecs:us-east-1:111122223333:cluster/prod",
            "taskArn": "arn:aws:ecs:us-east-1:111122223333:task/prod/abc",
            "lastStatus": last_status,
            "version": 4,
            "stoppedAt": "2024-05-02T10:00:00Z"
        });
        if let (Some(detail), Value::Object(extra)) = (detail.as_object_mut(), extra) {
            detail.extend(extra);
        }
        ReceivedEvent::new(json!({
            "version": "0", "id": "e-1", "detail-type": "ECS Task State Change",
            "source": "aws.ecs", "account": "111122223333", "time": "2024-05-02T10:00:05Z",
            "region": "us-east-1", "resources": [], "detail": detail
        }))
        .expect("valid event")
    }

    #[test]
    fn given_a_stopped_task_then_the_record_expires_retention_after_it_stopped() {
        let record =
            StateRecord::from_event(task_event("STOPPED", json!({})), Retention::default())
                .expect("fits")
                .expect("tracked");
        // 2024-05-02T10:00:00Z is 1714644000; plus 7 days.
        assert_eq!(record.expires_at, Some(1_714_644_000 + 7 * 86_400));
        assert_eq!(record.status, "STOPPED");
        assert_eq!(record.event_id, "e-1");
        assert_eq!(record.detail.to_value()["version"], 4);
        assert_eq!(record.facts.stopped_at.as_deref(), Some("2024-05-02T10:00:00Z"));
    }

    #[test]
    fn given_a_running_task_then_the_record_never_expires() {
        let record =
            StateRecord::from_event(task_event("RUNNING", json!({})), Retention::default())
                .expect("fits")
                .expect("tracked");
        assert_eq!(record.expires_at, None);
    }

    #[test]
    fn given_failed_containers_then_the_facts_name_them_most_telling_first() {
        let containers = json!({"containers": [
            {"name": "log-router", "exitCode": 143},
            {"name": "ok", "exitCode": 0},
            {"name": "app", "exitCode": 137, "reason": "OutOfMemoryError: killed"},
            {"name": "never-ran", "reason": "CannotPullContainerError: not found"}
        ], "group": "service:web", "stopCode": "EssentialContainerExited"});
        let record =
            StateRecord::from_event(task_event("STOPPED", containers), Retention::default())
                .expect("fits")
                .expect("tracked");
        assert_eq!(
            record.facts.failed_containers.as_deref(),
            Some("app:137 never-ran:- log-router:143")
        );
        assert_eq!(record.facts.group.as_deref(), Some("service:web"));
        assert_eq!(record.facts.stop_code.as_deref(), Some("EssentialContainerExited"));
    }

    #[test]
    fn given_a_detail_over_the_item_limit_then_the_error_names_the_task_and_size() {
        // Random-looking text (about 6.5 bits a character) does not compress below the limit.
        let mut seed = 7_u64;
        let noise: String = (0..2 * MAX_ITEM_BYTES)
            .map(|_| {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                char::from(b'!' + ((seed >> 33) % 90) as u8)
            })
            .collect();
        let error = StateRecord::from_event(
            task_event("RUNNING", json!({"blob": noise})),
            Retention::default(),
        )
        .map(|_| ())
        .expect_err("too large");
        let RecordError::TooLarge { key, size, .. } = &error;
        assert_eq!(key, "arn:aws:ecs:us-east-1:111122223333:task/prod/abc");
        assert!(*size > MAX_ITEM_BYTES);
        assert!(error.to_string().contains("task/prod/abc version 4"), "{error}");
        // A large detail that compresses well is stored.
        let repetitive = "x".repeat(MAX_ITEM_BYTES);
        assert!(
            StateRecord::from_event(
                task_event("RUNNING", json!({"blob": repetitive})),
                Retention::default()
            )
            .is_ok()
        );
    }

    #[test]
    fn given_a_deregistered_instance_then_it_expires_retention_after_its_update() {
        let mut raw: Value = serde_json::from_str(include_str!(
            "../../../events/samples/container-instance-deregistered.json"
        ))
        .expect("JSON");
        raw["detail"]["updatedAt"] = json!("2024-05-02T10:00:00.000Z");
        let retention =
            Retention { stopped_task: Duration::days(7), inactive_instance: Duration::days(3) };
        let record =
            StateRecord::from_event(ReceivedEvent::new(raw.clone()).expect("valid"), retention)
                .expect("fits")
                .expect("tracked");
        assert_eq!(record.status, "INACTIVE");
        assert_eq!(record.expires_at, Some(1_714_644_000 + 3 * 86_400));
        raw["detail"]["status"] = json!("ACTIVE");
        let active = StateRecord::from_event(ReceivedEvent::new(raw).expect("valid"), retention)
            .expect("fits")
            .expect("tracked");
        assert_eq!(active.expires_at, None);
    }

    #[test]
    fn given_numbers_and_nesting_beyond_dynamodbs_number_type_then_the_detail_is_kept_exactly() {
        let mut deep = json!("leaf");
        for _ in 0..40 {
            deep = json!({"n": deep});
        }
        let extra = json!({"metrics": [{"load": 1.5e300, "tiny": 1e-200}], "deep": deep});
        let record =
            StateRecord::from_event(task_event("RUNNING", extra.clone()), Retention::default())
                .expect("fits")
                .expect("tracked");
        let stored = record.detail.to_value();
        assert_eq!(stored["metrics"], extra["metrics"]);
        assert_eq!(stored["deep"], extra["deep"]);
    }

    #[test]
    fn given_compact_bytes_then_the_detail_is_stored_as_delivered_unless_it_needs_redaction() {
        let plain = r#"{"version":"0","id":"e-1","detail-type":"ECS Task State Change","source":"aws.ecs","account":"111122223333","time":"2024-05-02T10:00:05Z","region":"us-east-1","resources":[],"detail":{"taskArn":"arn:aws:ecs:us-east-1:111122223333:task/prod/abc","clusterArn":"arn:aws:ecs:us-east-1:111122223333:cluster/prod","lastStatus":"RUNNING","version":2,"overrides":{"containerOverrides":[{"name":"app"}]},"cpu":"256"}}"#;
        let record = StateRecord::from_event(
            ReceivedEvent::from_slice(plain.as_bytes()).expect("valid"),
            Retention::default(),
        );
        let record = record.expect("fits").expect("a task");
        let delivered = &plain[plain.find(r#""detail":"#).expect("detail") + 9..plain.len() - 1];
        assert_eq!(record.detail.as_str(), delivered);

        let secret = plain.replace(
            r#"{"name":"app"}"#,
            r#"{"name":"app","environment":[{"name":"TOKEN","value":"hunter2"}]}"#,
        );
        let record = StateRecord::from_event(
            ReceivedEvent::from_slice(secret.as_bytes()).expect("valid"),
            Retention::default(),
        );
        let text = record.expect("fits").expect("a task").detail;
        assert!(!text.as_str().contains("hunter2"), "{}", text.as_str());
        assert!(text.as_str().contains("TOKEN"), "{}", text.as_str());
    }
}
