//! The record the state tracker keeps per task or container instance, built from an event.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::event::{EcsDetail, EcsEvent, ReceivedEvent, TaskStatus};
use crate::redact::redact_detail;

/// DynamoDB's item size limit (400 KB), in bytes.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// The largest `detail` a record may hold: DynamoDB's 400 KB item limit less room for the
/// record's other attributes. A larger detail is rejected (see [`RecordError::TooLarge`]).
pub const MAX_DETAIL_BYTES: usize = MAX_ITEM_BYTES - 4 * 1024;

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
    /// Envelope `id` of the event.
    pub event_id: String,
    /// Envelope `time` of the event, as sent.
    pub event_time: String,
    /// Envelope `region`.
    pub region: String,
    /// Envelope `account`.
    pub account: String,
    /// Epoch seconds after which DynamoDB's TTL may delete the record (stopped tasks only).
    pub expires_at: Option<i64>,
    /// The whole `detail`, unknown fields included, with secrets redacted
    /// ([`crate::redact`]); shared, so copies of a record are cheap.
    pub detail: Arc<Value>,
}

/// Why an event cannot become a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The detail would make an item over DynamoDB's 400 KB limit. Such an item can never be
    /// written, so the event is rejected as a whole rather than stored in part.
    #[error(
        "{kind:?} {key} version {version}: detail is {size} bytes as a DynamoDB item, over the {MAX_DETAIL_BYTES}-byte limit"
    )]
    TooLarge {
        /// Task or container instance.
        kind: ResourceKind,
        /// Its ARN.
        key: String,
        /// The event's version.
        version: u64,
        /// The detail's size as DynamoDB counts it.
        size: usize,
    },
}

impl StateRecord {
    /// The record an event asks to store (its `detail` as delivered, secrets redacted), or
    /// `None` for events the tracker does not keep (service actions, deployments, unknown
    /// detail types). A stopped task's record expires `retention` after it stopped.
    pub fn from_event(
        received: ReceivedEvent,
        retention: Duration,
    ) -> Result<Option<Self>, RecordError> {
        let ReceivedEvent { mut raw, event } = received;
        let EcsEvent { id, time, region, account, detail: typed, .. } = event;
        let (kind, key, version, cluster_arn, status, expires_at) = match typed {
            EcsDetail::Task(task) => {
                let expires_at = (task.last_status == TaskStatus::Stopped).then(|| {
                    let stopped =
                        task.stopped_at.as_ref().map_or(time.instant(), |at| at.instant());
                    expiry(stopped, retention)
                });
                let status = task.last_status.as_str().to_owned();
                (
                    ResourceKind::Task,
                    task.task_arn,
                    task.version,
                    task.cluster_arn,
                    status,
                    expires_at,
                )
            }
            EcsDetail::ContainerInstance(instance) => {
                let status = instance.status.as_str().to_owned();
                (
                    ResourceKind::ContainerInstance,
                    instance.container_instance_arn,
                    instance.version,
                    instance.cluster_arn,
                    status,
                    None,
                )
            }
            EcsDetail::ServiceAction(_) | EcsDetail::Deployment(_) | EcsDetail::Unknown(_) => {
                return Ok(None);
            }
        };
        let mut detail = raw.get_mut("detail").map(Value::take).unwrap_or_default();
        redact_detail(&mut detail);
        let size = dynamodb_size(&detail);
        if size > MAX_DETAIL_BYTES {
            return Err(RecordError::TooLarge { kind, key, version, size });
        }
        Ok(Some(Self {
            kind,
            key,
            version,
            cluster_arn,
            status,
            event_id: id,
            event_time: time.as_str().to_owned(),
            region,
            account,
            expires_at,
            detail: Arc::new(detail),
        }))
    }
}

/// Epoch seconds of `from + retention`.
fn expiry(from: DateTime<Utc>, retention: Duration) -> i64 {
    (from + retention).timestamp()
}

/// The size DynamoDB counts for a JSON value stored as an attribute value (strings: their
/// UTF-8 bytes; numbers: about one byte per two digits plus one; maps and lists: 3 bytes plus
/// one per element, plus the names of map entries).
fn dynamodb_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 1,
        Value::Number(number) => digits(number).div_ceil(2) + 1,
        Value::String(text) => text.len(),
        Value::Array(items) => 3 + items.iter().map(|item| 1 + dynamodb_size(item)).sum::<usize>(),
        Value::Object(entries) => {
            3 + entries
                .iter()
                .map(|(name, item)| 1 + name.len() + dynamodb_size(item))
                .sum::<usize>()
        }
    }
}

/// How many characters a number takes, without allocating for integers.
fn digits(number: &serde_json::Number) -> usize {
    let count = |value: u64| value.checked_ilog10().map_or(1, |log| log as usize + 1);
    match (number.as_u64(), number.as_i64()) {
        (Some(value), _) => count(value),
        (None, Some(value)) => 1 + count(value.unsigned_abs()),
        _ => number.to_string().len(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

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
        let record = StateRecord::from_event(task_event("STOPPED", json!({})), Duration::days(7))
            .expect("fits")
            .expect("tracked");
        // 2024-05-02T10:00:00Z is 1714644000; plus 7 days.
        assert_eq!(record.expires_at, Some(1_714_644_000 + 7 * 86_400));
        assert_eq!(record.status, "STOPPED");
        assert_eq!(record.event_id, "e-1");
        assert_eq!(record.detail["version"], 4);
    }

    #[test]
    fn given_a_running_task_then_the_record_never_expires() {
        let record = StateRecord::from_event(task_event("RUNNING", json!({})), Duration::days(7))
            .expect("fits")
            .expect("tracked");
        assert_eq!(record.expires_at, None);
    }

    #[test]
    fn given_a_detail_over_the_item_limit_then_the_error_names_the_task_and_size() {
        let huge = "x".repeat(MAX_DETAIL_BYTES);
        let error = StateRecord::from_event(
            task_event("RUNNING", json!({"blob": huge})),
            Duration::days(7),
        )
        .expect_err("too large");
        let RecordError::TooLarge { key, size, .. } = &error;
        assert_eq!(key, "arn:aws:ecs:us-east-1:111122223333:task/prod/abc");
        assert!(*size > MAX_DETAIL_BYTES);
        assert!(error.to_string().contains("task/prod/abc version 4"), "{error}");
    }

    #[test]
    fn given_values_then_their_dynamodb_size_follows_the_documented_rules() {
        assert_eq!(dynamodb_size(&json!("abc")), 3);
        assert_eq!(dynamodb_size(&json!(12345)), 4);
        assert_eq!(dynamodb_size(&json!(0)), 2);
        assert_eq!(dynamodb_size(&json!(-100)), 3);
        assert_eq!(dynamodb_size(&json!(0.25)), 3);
        assert_eq!(dynamodb_size(&json!([true, null])), 3 + 2 + 2);
        assert_eq!(dynamodb_size(&json!({"ab": "c"})), 3 + 1 + 2 + 1);
    }
}
