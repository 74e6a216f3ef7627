//! The ECS event model: the EventBridge envelope and the typed `detail` of each ECS event type.
//!
//! An event is kept as the JSON text it was delivered as, the lossless form, beside a typed
//! view of the fields this version knows ([`ReceivedEvent`]). Errors say what was wrong and
//! where (`detail.containers[2].exitCode`).
//! The keys the state is stored under (task, container instance and cluster ARNs) are checked
//! to be ARNs of their kind ([`check_arn`]).

mod arn;
mod container_instance;
mod delivered;
mod outcome;
pub mod payload;
mod projection;
mod received;
pub mod schema;
mod service;
mod status;
mod task;
mod timestamp;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

pub use arn::{ArnKind, check_arn};
pub use container_instance::{ContainerInstanceStateChange, Resource, VersionInfo};
pub use delivered::Delivered;
pub use outcome::{DEFAULT_EXPECTED_EXIT_CODES, TaskOutcome};
pub use payload::{Item, Payload};
pub use projection::Projection;
pub use received::ReceivedEvent;
pub use service::{DeploymentStateChange, ServiceAction};
pub use status::{
    Connectivity, ContainerInstanceStatus, DeploymentEventName, HealthStatus, LaunchType,
    ServiceActionName, ServiceEventType, StopCode, TaskStatus,
};
pub use task::{
    Attachment, Container, ContainerOverride, EphemeralStorage, ManagedAgent, NameValue,
    NetworkBinding, NetworkInterface, TaskOverrides, TaskStateChange,
};
pub use timestamp::Timestamp;

/// The `source` of every ECS event.
pub const ECS_SOURCE: &str = "aws.ecs";

/// `detail-type` of task events.
pub const TASK_STATE_CHANGE: &str = "ECS Task State Change";
/// `detail-type` of container instance events.
pub const CONTAINER_INSTANCE_STATE_CHANGE: &str = "ECS Container Instance State Change";
/// `detail-type` of service action events.
pub const SERVICE_ACTION: &str = "ECS Service Action";
/// `detail-type` of deployment events.
pub const DEPLOYMENT_STATE_CHANGE: &str = "ECS Deployment State Change";

/// Why an event could not be read. Every case names what was wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The bytes are not JSON (or not UTF-8).
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the JSON parser says.
        message: String,
    },
    /// The event is JSON but not an object.
    #[error("an event must be a JSON object, found {found}")]
    NotAnObject {
        /// The JSON type found instead.
        found: &'static str,
    },
    /// The event does not come from ECS.
    #[error("event source is {event_source:?}, expected \"aws.ecs\"")]
    NotEcs {
        /// The `source` the event has.
        event_source: String,
    },
    /// An array where one event object was expected: inside a batch (arrays do not nest), or
    /// where the caller takes a single event.
    #[error(
        "found an array where an event object was expected (a batch's events cannot be arrays)"
    )]
    NestedArray,
    /// A wrapped event (`{"Data", "Metadata", "SystemMetadata"}`, EventBridge's
    /// `WITH_METADATA` delivery) is malformed.
    #[error("wrapped event (Data, Metadata, SystemMetadata): {message}")]
    Wrapper {
        /// What is wrong.
        message: String,
    },
    /// A field is missing or has the wrong type or value.
    #[error("{path}: {message}")]
    Field {
        /// Where, as `detail.containers[2].exitCode`.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// An ECS event as EventBridge delivers it.
///
/// We define our own envelope rather than reuse `aws_lambda_events`' `EventBridgeEvent`: ours
/// keeps `time` exactly as sent and dispatches `detail` on `detail-type` with errors that
/// carry the field path. Unknown fields are not read: [`ReceivedEvent::json`] keeps them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EcsEvent {
    /// Envelope version (`"0"`).
    pub version: String,
    /// Unique id of the event; a redelivery keeps it.
    pub id: String,
    /// The detail type, e.g. `ECS Task State Change`.
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// Always `aws.ecs`.
    pub source: String,
    /// AWS account id.
    pub account: String,
    /// When the event was emitted.
    pub time: Timestamp,
    /// AWS region.
    pub region: String,
    /// ARNs of the resources the event is about (absent in some hand-written events: kept
    /// absent, so the event writes back as it was read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,
    /// The typed detail.
    pub detail: EcsDetail,
}

/// The `detail` of an ECS event, by `detail-type`.
#[derive(Debug, Clone, PartialEq)]
pub enum EcsDetail {
    /// `ECS Task State Change`.
    Task(Box<TaskStateChange>),
    /// `ECS Container Instance State Change`.
    ContainerInstance(Box<ContainerInstanceStateChange>),
    /// `ECS Service Action`.
    ServiceAction(Box<ServiceAction>),
    /// `ECS Deployment State Change`.
    Deployment(Box<DeploymentStateChange>),
    /// An `aws.ecs` detail type this version does not know, kept as sent.
    Unknown(Value),
}

impl Serialize for EcsDetail {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Task(detail) => detail.serialize(serializer),
            Self::ContainerInstance(detail) => detail.serialize(serializer),
            Self::ServiceAction(detail) => detail.serialize(serializer),
            Self::Deployment(detail) => detail.serialize(serializer),
            Self::Unknown(detail) => detail.serialize(serializer),
        }
    }
}

impl EcsEvent {
    /// Parses an event from JSON bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, EventError> {
        Self::from_raw(&parse_json(bytes)?)
    }

    /// Parses an event from a JSON value.
    pub fn from_value(value: Value) -> Result<Self, EventError> {
        Self::from_raw(&value)
    }

    /// Builds the typed event from the event as delivered, which is left as it is.
    pub fn from_raw(raw: &Value) -> Result<Self, EventError> {
        let Value::Object(object) = raw else {
            return Err(EventError::NotAnObject { found: json_type(raw) });
        };
        if let Some(Value::String(source)) = object.get("source")
            && source != ECS_SOURCE
        {
            return Err(EventError::NotEcs { event_source: source.clone() });
        }
        let text = |name: &str| match object.get(name) {
            Some(Value::String(text)) => Ok(text.clone()),
            other => Err(field_type_error(name, other, "a string")),
        };
        let (version, id, detail_type, source, account, time, region) = (
            text("version")?,
            text("id")?,
            text("detail-type")?,
            text("source")?,
            text("account")?,
            text("time")?,
            text("region")?,
        );
        let time = Timestamp::parse(&time).map_err(|error| EventError::Field {
            path: "time".into(),
            message: format!("invalid timestamp {time:?}: {error}"),
        })?;
        let resources = match object.get("resources") {
            None => None,
            Some(resources) => Some(typed_at("resources", resources)?),
        };
        let detail = object.get("detail").ok_or_else(|| field_type_error("detail", None, ""))?;
        let detail = match detail_type.as_str() {
            TASK_STATE_CHANGE => EcsDetail::Task(typed_at("detail", detail)?),
            CONTAINER_INSTANCE_STATE_CHANGE => {
                EcsDetail::ContainerInstance(typed_at("detail", detail)?)
            }
            SERVICE_ACTION => EcsDetail::ServiceAction(typed_at("detail", detail)?),
            DEPLOYMENT_STATE_CHANGE => EcsDetail::Deployment(typed_at("detail", detail)?),
            _ if detail.is_object() => EcsDetail::Unknown(detail.clone()),
            _ => return Err(field_type_error("detail", Some(detail), "an object")),
        };
        check_keys(&detail, resources.as_deref())?;
        Ok(Self { version, id, detail_type, source, account, time, region, resources, detail })
    }

    /// The event as a JSON value, unknown fields included.
    pub fn to_value(&self) -> Value {
        // Serialising plain data with string keys into a `Value` cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The ARNs of the resources the event is about (none when the event has no `resources`).
    pub fn resources(&self) -> &[String] {
        self.resources.as_deref().unwrap_or_default()
    }

    /// The task detail, for a task event.
    pub fn task(&self) -> Option<&TaskStateChange> {
        match &self.detail {
            EcsDetail::Task(task) => Some(task),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for EcsEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(value).map_err(serde::de::Error::custom)
    }
}

/// Checks the keys a record is stored under: a task's or container instance's ARNs, a
/// deployment's id and service ARN (`resources[0]`).
fn check_keys(detail: &EcsDetail, resources: Option<&[String]>) -> Result<(), EventError> {
    let arns = match detail {
        EcsDetail::Task(task) => {
            if task.last_status.as_str().trim().is_empty() {
                return Err(EventError::Field {
                    path: "detail.lastStatus".into(),
                    message: "expected a task status such as RUNNING or STOPPED, found \"\"".into(),
                });
            }
            vec![
                ("detail.taskArn", ArnKind::Task, task.task_arn.as_str()),
                ("detail.clusterArn", ArnKind::Cluster, task.cluster_arn.as_str()),
            ]
        }
        EcsDetail::ContainerInstance(instance) => vec![
            (
                "detail.containerInstanceArn",
                ArnKind::ContainerInstance,
                instance.container_instance_arn.as_str(),
            ),
            ("detail.clusterArn", ArnKind::Cluster, instance.cluster_arn.as_str()),
        ],
        EcsDetail::Deployment(deployment) => {
            let id = deployment.deployment_id.as_str();
            if id.trim().is_empty() || id.chars().any(char::is_whitespace) {
                return Err(EventError::Field {
                    path: "detail.deploymentId".into(),
                    message: format!("expected a deployment id such as ecs-svc/1234, found {id:?}"),
                });
            }
            let Some(service) = resources.and_then(<[String]>::first) else {
                return Err(EventError::Field {
                    path: "resources".into(),
                    message: "expected the deployment's service ARN as resources[0], found none"
                        .into(),
                });
            };
            vec![("resources[0]", ArnKind::Service, service.as_str())]
        }
        _ => return Ok(()),
    };
    for (path, kind, arn) in arns {
        check_arn(kind, arn)
            .map_err(|message| EventError::Field { path: path.to_owned(), message })?;
    }
    Ok(())
}

/// Deserialises `value` into `T`; on failure, deserialises again with path tracking so the
/// error names where it is below `prefix` (the fast path pays nothing for paths).
fn typed_at<T: serde::de::DeserializeOwned>(prefix: &str, value: &Value) -> Result<T, EventError> {
    if let Ok(typed) = T::deserialize(value) {
        return Ok(typed);
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let mut path = match error.path().to_string().as_str() {
            "." => prefix.to_owned(),
            inner if prefix.is_empty() => inner.to_owned(),
            inner => format!("{prefix}.{inner}"),
        };
        let mut message = error.inner().to_string();
        // serde reports a missing field at its parent: name the field itself.
        if let Some(field) =
            message.strip_prefix("missing field `").and_then(|rest| rest.strip_suffix('`'))
        {
            path = if path.is_empty() { field.to_owned() } else { format!("{path}.{field}") };
            message = "missing field".to_owned();
        }
        EventError::Field { path, message }
    })
}

/// The error for an envelope field that is missing or not of the `expected` type.
fn field_type_error(name: &str, found: Option<&Value>, expected: &str) -> EventError {
    EventError::Field {
        path: name.to_owned(),
        message: match found {
            None => "missing field".to_owned(),
            Some(value) => format!("invalid type: {}, expected {expected}", json_type(value)),
        },
    }
}

/// The UTF-8 byte-order mark that files saved by Windows tools start with.
pub const UTF8_BOM: &str = "\u{feff}";

/// `text` without a leading UTF-8 byte-order mark: JSON parsers refuse it, people's editors
/// write it.
pub fn without_bom(text: &str) -> &str {
    text.strip_prefix(UTF8_BOM).unwrap_or(text)
}

/// Parses JSON bytes, reporting invalid JSON with its line and column.
pub fn parse_json(bytes: &[u8]) -> Result<Value, EventError> {
    serde_json::from_slice(bytes).map_err(|error| EventError::Json {
        line: error.line(),
        column: error.column(),
        message: without_position(&error),
    })
}

/// serde_json's message without its trailing " at line L column C".
fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

/// The name of a JSON value's type, for error messages.
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
