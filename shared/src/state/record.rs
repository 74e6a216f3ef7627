//! The record the state tracker keeps per task or container instance, built from an event.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::event::{ContainerInstanceStatus, EcsDetail, EcsEvent, ReceivedEvent, TaskStatus};
use crate::redact::redact_detail;

/// DynamoDB's item size limit (400 KB), in bytes.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// The largest `detail` a record may hold: DynamoDB's 400 KB item limit less room for the
/// record's other attributes. A larger detail is rejected (see [`RecordError::TooLarge`]).
pub const MAX_DETAIL_BYTES: usize = MAX_ITEM_BYTES - 4 * 1024;

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
    /// Epoch seconds after which DynamoDB's TTL may delete the record (stopped tasks and
    /// deregistered container instances only).
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
    /// A value in the detail is one DynamoDB refuses to store (a number out of its range,
    /// nesting deeper than it allows): the real table would answer `ValidationException`, so
    /// the event is rejected before any write, by every store alike.
    #[error("{kind:?} {key} version {version}: {path}: {reason}")]
    Unstorable {
        /// Task or container instance.
        kind: ResourceKind,
        /// Its ARN.
        key: String,
        /// The event's version.
        version: u64,
        /// Where, as `detail.containers[0].exitCode`.
        path: String,
        /// What DynamoDB would refuse.
        reason: String,
    },
}

impl StateRecord {
    /// The record an event asks to store (its `detail` as delivered, secrets redacted), or
    /// `None` for events the tracker does not keep (service actions, deployments, unknown
    /// detail types). A stopped task's or deregistered container instance's record expires
    /// after its `retention`. A detail DynamoDB could not store is refused whole.
    pub fn from_event(
        received: ReceivedEvent,
        retention: Retention,
    ) -> Result<Option<Self>, RecordError> {
        let ReceivedEvent { mut raw, event } = received;
        let EcsEvent { id, time, region, account, detail: typed, .. } = event;
        let (kind, key, version, cluster_arn, status, expires_at) = match typed {
            EcsDetail::Task(task) => {
                let expires_at = (task.last_status == TaskStatus::Stopped).then(|| {
                    let stopped =
                        task.stopped_at.as_ref().map_or(time.instant(), |at| at.instant());
                    expiry(stopped, retention.stopped_task)
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
                let expires_at =
                    (instance.status == ContainerInstanceStatus::Inactive).then(|| {
                        let deregistered =
                            instance.updated_at.as_ref().map_or(time.instant(), |at| at.instant());
                        expiry(deregistered, retention.inactive_instance)
                    });
                let status = instance.status.as_str().to_owned();
                (
                    ResourceKind::ContainerInstance,
                    instance.container_instance_arn,
                    instance.version,
                    instance.cluster_arn,
                    status,
                    expires_at,
                )
            }
            EcsDetail::ServiceAction(_) | EcsDetail::Deployment(_) | EcsDetail::Unknown(_) => {
                return Ok(None);
            }
        };
        let mut detail = raw.get_mut("detail").map(Value::take).unwrap_or_default();
        redact_detail(&mut detail);
        let size = match dynamodb_size(&detail, 1) {
            Ok(size) => size,
            Err(refused) => {
                let (path, reason) = refused.describe("detail");
                return Err(RecordError::Unstorable { kind, key, version, path, reason });
            }
        };
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

/// Why DynamoDB would refuse a value, and where (path segments, innermost first).
#[derive(Debug)]
struct Refused {
    reason: String,
    path: Vec<Segment>,
}

#[derive(Debug)]
enum Segment {
    Field(String),
    Index(usize),
}

impl Refused {
    fn new(reason: String) -> Self {
        Self { reason, path: Vec::new() }
    }

    fn at(mut self, segment: Segment) -> Self {
        self.path.push(segment);
        self
    }

    /// The path below `root` (`detail.containers[0].exitCode`) and the reason.
    fn describe(self, root: &str) -> (String, String) {
        let mut path = root.to_owned();
        for segment in self.path.iter().rev() {
            match segment {
                Segment::Field(name) => {
                    path.push('.');
                    path.push_str(name);
                }
                Segment::Index(index) => path.push_str(&format!("[{index}]")),
            }
        }
        (path, self.reason)
    }
}

/// DynamoDB's largest number magnitude (38 nines, times 10^125).
const DYNAMODB_MAX_NUMBER: f64 = 9.999_999_999_999_999_999_999_999_999_999_999_999_9e125;
/// DynamoDB's smallest non-zero number magnitude.
const DYNAMODB_MIN_NUMBER: f64 = 1e-130;
/// How deep DynamoDB lets maps and lists nest (the detail map itself is level 1).
pub const MAX_NESTING: usize = 32;

/// The size DynamoDB counts for a JSON value stored as an attribute value nested `depth`
/// levels deep (strings: their UTF-8 bytes; numbers: about one byte per two digits plus one;
/// maps and lists: 3 bytes plus one per element, plus the names of map entries), or why
/// DynamoDB would refuse it: a number outside its range, or maps and lists nested more than
/// [`MAX_NESTING`] levels. Numbers are judged as they are sent, with at most 20 significant
/// digits (serde reads longer ones as an `f64`, 17 digits), so DynamoDB's 38-digit limit
/// cannot be reached.
fn dynamodb_size(value: &Value, depth: usize) -> Result<usize, Refused> {
    let nested = |items: usize| {
        if depth > MAX_NESTING {
            Err(Refused::new(format!(
                "nested more than {MAX_NESTING} levels deep, which DynamoDB refuses"
            )))
        } else {
            Ok(3 + items)
        }
    };
    match value {
        Value::Null | Value::Bool(_) => Ok(1),
        Value::Number(number) => {
            let magnitude = number.as_f64().map_or(0.0, f64::abs);
            if magnitude > DYNAMODB_MAX_NUMBER {
                return Err(Refused::new(format!(
                    "number {number} is larger than DynamoDB can store (Number overflow: \
                     magnitude above 9.9999999999999999999999999999999999999E+125)"
                )));
            }
            if magnitude != 0.0 && magnitude < DYNAMODB_MIN_NUMBER {
                return Err(Refused::new(format!(
                    "number {number} is smaller than DynamoDB can store (Number underflow: \
                     magnitude below 1E-130)"
                )));
            }
            Ok(digits(number).div_ceil(2) + 1)
        }
        Value::String(text) => Ok(text.len()),
        Value::Array(items) => {
            items.iter().enumerate().try_fold(nested(0)?, |size, (index, item)| {
                Ok(size
                    + 1
                    + dynamodb_size(item, depth + 1).map_err(|e| e.at(Segment::Index(index)))?)
            })
        }
        Value::Object(entries) => entries.iter().try_fold(nested(0)?, |size, (name, item)| {
            let item =
                dynamodb_size(item, depth + 1).map_err(|e| e.at(Segment::Field(name.clone())))?;
            Ok(size + 1 + name.len() + item)
        }),
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
        let record =
            StateRecord::from_event(task_event("STOPPED", json!({})), Retention::default())
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
        let record =
            StateRecord::from_event(task_event("RUNNING", json!({})), Retention::default())
                .expect("fits")
                .expect("tracked");
        assert_eq!(record.expires_at, None);
    }

    #[test]
    fn given_a_detail_over_the_item_limit_then_the_error_names_the_task_and_size() {
        let huge = "x".repeat(MAX_DETAIL_BYTES);
        let error = StateRecord::from_event(
            task_event("RUNNING", json!({"blob": huge})),
            Retention::default(),
        )
        .expect_err("too large");
        let RecordError::TooLarge { key, size, .. } = &error else { panic!("{error}") };
        assert_eq!(key, "arn:aws:ecs:us-east-1:111122223333:task/prod/abc");
        assert!(*size > MAX_DETAIL_BYTES);
        assert!(error.to_string().contains("task/prod/abc version 4"), "{error}");
    }

    fn size(value: &Value) -> usize {
        dynamodb_size(value, 1).expect("storable")
    }

    #[test]
    fn given_values_then_their_dynamodb_size_follows_the_documented_rules() {
        assert_eq!(size(&json!("abc")), 3);
        assert_eq!(size(&json!(12345)), 4);
        assert_eq!(size(&json!(0)), 2);
        assert_eq!(size(&json!(-100)), 3);
        assert_eq!(size(&json!(0.25)), 3);
        assert_eq!(size(&json!([true, null])), 3 + 2 + 2);
        assert_eq!(size(&json!({"ab": "c"})), 3 + 1 + 2 + 1);
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
    fn given_numbers_dynamodb_refuses_then_the_event_is_refused_naming_the_field() {
        for (number, words) in [
            (json!(1.5e300), "Number overflow"),
            (json!(-1.5e300), "Number overflow"),
            (json!(1e-200), "Number underflow"),
        ] {
            let event = task_event("RUNNING", json!({"metrics": [{"load": number}]}));
            let error = StateRecord::from_event(event, Retention::default()).expect_err("refused");
            let text = error.to_string();
            assert!(
                text.contains("task/prod/abc version 4: detail.metrics[0].load: number"),
                "{text}"
            );
            assert!(text.contains(words), "{text}");
        }
        for fine in [json!(0.0), json!(9.9e125), json!(1e-130), json!(u64::MAX), json!(i64::MIN)] {
            let event = task_event("RUNNING", json!({"metrics": fine}));
            assert!(StateRecord::from_event(event, Retention::default()).is_ok());
        }
    }

    #[test]
    fn given_nesting_deeper_than_dynamodb_allows_then_the_event_is_refused() {
        let mut deep = json!("leaf");
        for _ in 0..MAX_NESTING {
            deep = json!({"n": deep});
        }
        let error = StateRecord::from_event(
            task_event("RUNNING", json!({"n": deep})),
            Retention::default(),
        )
        .expect_err("too deep");
        assert!(
            matches!(&error, RecordError::Unstorable { path, .. } if path.starts_with("detail.n.n.n")),
            "{error}"
        );
        let mut fits = json!("leaf");
        for _ in 0..MAX_NESTING - 2 {
            fits = json!({"n": fits});
        }
        assert!(
            StateRecord::from_event(
                task_event("RUNNING", json!({"n": fits})),
                Retention::default()
            )
            .is_ok()
        );
    }
}
