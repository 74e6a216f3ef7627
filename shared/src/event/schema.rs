//! What the events ECS sends to EventBridge look like, for telling a typo'd rule pattern from a
//! valid one.
//!
//! This module owns data, not logic: for the envelope ([`ENVELOPE`]) and for every detail type
//! that arrives with source `aws.ecs` ([`DETAIL_TYPES`]), which fields exist (nested objects and
//! arrays of objects included, as `detail.containers[].networkInterfaces[].privateIpv4Address`)
//! and, for the fields ECS fills from a fixed list, that list ([`Shape::Closed`]). A rule linter
//! walks a pattern with [`Shape::field`] and checks its values with [`Shape::allows`].
//!
//! # Where it comes from
//!
//! The Amazon ECS Developer Guide's event pages (each detail type names its page in
//! [`DetailType::doc`]), the ECS API reference data types that task and container-instance
//! details mirror (`Task`, `Container`, `ContainerInstance`, `Attachment`, `NetworkBinding`,
//! `NetworkInterface`, `ManagedAgent`, `Resource`, `Attribute`, `Tag`, ...), the task lifecycle
//! page for status values, and the EventBridge event structure page for the envelope. Each
//! closed set names its page in a comment.
//!
//! # Open, closed, and how wrong an answer can be
//!
//! A closed set must be complete: a value missing from it makes the linter reject a rule that
//! would have matched real events. So a field is [`Shape::Closed`] only where AWS documents its
//! whole value set (an API reference "Valid Values" list, or an event page that lists "the
//! following are the ... events"); where a page only shows examples, the field is
//! [`Shape::Open`]. Unknown *fields* are the opposite trade-off: the field lists below are what
//! the documentation and the captured events under `events/` show, and a rule on a field that
//! is not listed is most likely a typo, but may be a field ECS started sending after this list
//! was written.
//!
//! # ECS adds fields and values over time
//!
//! AWS says so on the events page ("Amazon ECS might add other event types, sources, and details
//! in the future"). To extend this module: add the field to its `Fields` list (or the value to
//! its closed set, or a new [`DetailType`] to [`DETAIL_TYPES`] and its name to
//! [`DETAIL_TYPE_NAMES`]), keep every list sorted (a test checks it; lookups rely on it), cite
//! the page in a comment, and add a captured event that shows it to `events/samples/`: the test
//! at the end of this file checks every field and closed value of every captured event against
//! these lists.

use serde_json::Value;

use super::{
    CONTAINER_INSTANCE_STATE_CHANGE, DEPLOYMENT_STATE_CHANGE, ECS_SOURCE, SERVICE_ACTION,
    TASK_STATE_CHANGE,
};

/// What a field of an ECS event may hold.
///
/// An array in an event stands for each of its elements, as in EventBridge patterns: the shape
/// of `containers` is the shape of one container, and a leaf shape applies to every element of
/// an array of values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Any value, or an array of values: a string, number, boolean or null (`stoppedReason`,
    /// ARNs, timestamps, counts). No field below it.
    Open,
    /// A JSON boolean (`agentConnected`, `enableExecuteCommand`): `true` or `false`, never the
    /// strings `"true"` and `"false"`, which an EventBridge pattern would compare as strings and
    /// never match.
    Bool,
    /// One of these strings (sorted, no duplicates): ECS never sends another value here.
    Closed(&'static [&'static str]),
    /// The strings ECS sends here today (sorted, no duplicates), in a list AWS extends (stop
    /// codes, event names, launch types): a value close to one of them is a typo, any other
    /// may be one AWS adds.
    Known(&'static [&'static str]),
    /// An object, or an array of objects, with these fields (sorted by name, no duplicates).
    Fields(&'static [(&'static str, Shape)]),
    /// An object whose fields are not fixed (`overrides`, a CloudTrail record): any path below
    /// it, any value.
    AnyFields,
}

impl Shape {
    /// The shape of field `name` below this one: `None` when there is no such field (a typo,
    /// or a field below a leaf). Below [`Shape::AnyFields`] every name is a field.
    pub fn field(&self, name: &str) -> Option<&'static Shape> {
        match self {
            Self::Fields(fields) => fields
                .binary_search_by(|(field, _)| (*field).cmp(name))
                .ok()
                .map(|index| &fields[index].1),
            Self::AnyFields => Some(&Self::AnyFields),
            Self::Open | Self::Bool | Self::Closed(_) | Self::Known(_) => None,
        }
    }

    /// The shape at `path` below this one, one field name per segment (arrays need no
    /// segment: `["containers", "reason"]`), or `None` if a segment is not a field.
    pub fn at<'a>(&self, path: impl IntoIterator<Item = &'a str>) -> Option<&Shape> {
        path.into_iter().try_fold(self, |shape, name| shape.field(name))
    }

    /// The names of the fields below this one, in order (none below a leaf or
    /// [`Shape::AnyFields`]): what a linter suggests instead of a typo.
    pub fn field_names(&self) -> impl Iterator<Item = &'static str> {
        let fields: &'static [(&'static str, Shape)] = match self {
            Self::Fields(fields) => fields,
            _ => &[],
        };
        fields.iter().map(|(name, _)| *name)
    }

    /// The values ECS may send here, when the field is closed (not for a [`Shape::Known`]
    /// list, which AWS extends).
    pub fn closed_values(&self) -> Option<&'static [&'static str]> {
        match self {
            Self::Closed(values) => Some(values),
            _ => None,
        }
    }

    /// Whether ECS may send `value` here: a closed field takes only its strings, a known list
    /// any string, a boolean
    /// field only booleans, an open field any value but an object; an array is allowed when
    /// each of its elements is, an object when each of its fields is; `null` is allowed
    /// everywhere (ECS sends `"capacityProviderName": null`).
    pub fn allows(&self, value: &Value) -> bool {
        match (self, value) {
            (_, Value::Null) | (Self::AnyFields, _) => true,
            (_, Value::Array(items)) => items.iter().all(|item| self.allows(item)),
            (Self::Fields(_), Value::Object(object)) => object
                .iter()
                .all(|(name, value)| self.field(name).is_some_and(|shape| shape.allows(value))),
            (_, Value::Object(_)) => false,
            (Self::Open, _) | (Self::Bool, Value::Bool(_)) | (Self::Known(_), Value::String(_)) => {
                true
            }
            (Self::Closed(values), Value::String(text)) => {
                values.binary_search_by(|value| (*value).cmp(text.as_str())).is_ok()
            }
            (Self::Bool | Self::Closed(_) | Self::Known(_) | Self::Fields(_), _) => false,
        }
    }
}

/// One detail type ECS sends with source `aws.ecs`, and the shape of its `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetailType {
    /// The envelope's `detail-type`, e.g. `ECS Task State Change`.
    pub name: &'static str,
    /// The documentation page the shape comes from.
    pub doc: &'static str,
    /// The shape of the envelope's `detail` for this type.
    pub detail: Shape,
}

/// The detail type of AWS API calls recorded by CloudTrail: ECS API calls arrive with source
/// `aws.ecs` and this detail type when a trail is on.
pub const CLOUDTRAIL_API_CALL: &str = "AWS API Call via CloudTrail";
/// `detail-type` of container instance health events.
pub const CONTAINER_INSTANCE_HEALTH_CHANGE: &str = "ECS Container Instance Health Change";
/// `detail-type` of daemon deployment events.
pub const DAEMON_DEPLOYMENT_STATE_CHANGE: &str = "ECS Daemon Deployment State Change";
/// `detail-type` of daemon service action events.
pub const DAEMON_SERVICE_ACTION: &str = "ECS Daemon Service Action";
/// `detail-type` of deployment lifecycle hook events.
pub const HOOK_STATE_CHANGE: &str = "ECS Hook State Change";

/// Every `detail-type` ECS sends, sorted: the closed set of the envelope's `detail-type`.
///
/// From <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_cwe_events.html>
/// ("Amazon ECS generates and sends the following types of events": container instance state
/// change, task state change, deployment state change, hook state change, service action,
/// container instance health change, daemon deployment state change, daemon service action),
/// each name from its own page, plus CloudTrail's API-call events.
pub const DETAIL_TYPE_NAMES: &[&str] = &[
    CLOUDTRAIL_API_CALL,
    CONTAINER_INSTANCE_HEALTH_CHANGE,
    CONTAINER_INSTANCE_STATE_CHANGE,
    DAEMON_DEPLOYMENT_STATE_CHANGE,
    DAEMON_SERVICE_ACTION,
    DEPLOYMENT_STATE_CHANGE,
    HOOK_STATE_CHANGE,
    SERVICE_ACTION,
    TASK_STATE_CHANGE,
];

/// The EventBridge envelope of an ECS event.
///
/// From <https://docs.aws.amazon.com/eventbridge/latest/ref/events-structure.html>, plus
/// `replay-name`, which EventBridge adds to events replayed from an archive. `detail` is
/// [`Shape::AnyFields`] here: its shape depends on `detail-type`, see [`detail_type`].
pub static ENVELOPE: Shape = Shape::Fields(&[
    ("account", Shape::Open),
    ("detail", Shape::AnyFields),
    ("detail-type", Shape::Closed(DETAIL_TYPE_NAMES)),
    ("id", Shape::Open),
    ("region", Shape::Open),
    ("replay-name", Shape::Open),
    ("resources", Shape::Open),
    ("source", Shape::Closed(&[ECS_SOURCE])),
    ("time", Shape::Open),
    // "The version field in the main body of the event is set to 0 on all events"
    // (ecs_cwe_events.html; EventBridge's events-structure.html says the same).
    ("version", Shape::Closed(&["0"])),
]);

/// The address of a page of the Amazon ECS Developer Guide.
macro_rules! ecs_guide {
    ($page:literal) => {
        concat!("https://docs.aws.amazon.com/AmazonECS/latest/developerguide/", $page, ".html")
    };
}

/// Every detail type ECS sends with source `aws.ecs`, sorted by name.
pub static DETAIL_TYPES: &[DetailType] = &[
    DetailType {
        name: CLOUDTRAIL_API_CALL,
        doc: ecs_guide!("logging-using-cloudtrail"),
        // A CloudTrail record (eventName, requestParameters, responseElements, userIdentity,
        // ...) whose request and response parts are those of each ECS API action.
        detail: Shape::AnyFields,
    },
    DetailType {
        name: CONTAINER_INSTANCE_HEALTH_CHANGE,
        doc: ecs_guide!("ecs_container_instance_health_events"),
        detail: CONTAINER_INSTANCE_HEALTH_DETAIL,
    },
    DetailType {
        name: CONTAINER_INSTANCE_STATE_CHANGE,
        doc: ecs_guide!("ecs_container_instance_events"),
        detail: CONTAINER_INSTANCE_DETAIL,
    },
    DetailType {
        name: DAEMON_DEPLOYMENT_STATE_CHANGE,
        doc: ecs_guide!("managed-daemons-events"),
        detail: DAEMON_DEPLOYMENT_DETAIL,
    },
    DetailType {
        name: DAEMON_SERVICE_ACTION,
        doc: ecs_guide!("managed-daemons-events"),
        detail: DAEMON_SERVICE_ACTION_DETAIL,
    },
    DetailType {
        name: DEPLOYMENT_STATE_CHANGE,
        doc: ecs_guide!("ecs_service_deployment_events"),
        detail: DEPLOYMENT_DETAIL,
    },
    DetailType {
        name: HOOK_STATE_CHANGE,
        doc: ecs_guide!("ecs_hook_state_change_events"),
        detail: HOOK_DETAIL,
    },
    DetailType {
        name: SERVICE_ACTION,
        doc: ecs_guide!("ecs_service_events"),
        detail: SERVICE_ACTION_DETAIL,
    },
    DetailType { name: TASK_STATE_CHANGE, doc: ecs_guide!("ecs_task_events"), detail: TASK_DETAIL },
];

/// The detail type named `name` (the envelope's `detail-type`), if ECS sends it.
pub fn detail_type(name: &str) -> Option<&'static DetailType> {
    DETAIL_TYPES
        .binary_search_by(|detail_type| detail_type.name.cmp(name))
        .ok()
        .map(|index| &DETAIL_TYPES[index])
}

// ---------------------------------------------------------------------------------------------
// Closed sets.

/// Task lifecycle states. Task `lastStatus` and `desiredStatus` (API_Task.html) link to
/// task-lifecycle-explanation.html, which lists them (PROVISIONING, PENDING, ACTIVATING,
/// RUNNING, DEACTIVATING, STOPPING, DEPROVISIONING, STOPPED, DELETED). `desiredStatus` is in
/// practice RUNNING or STOPPED (API_ListTasks.html: ECS "never sets the desired status of a
/// task to" PENDING): the lifecycle set keeps it complete.
///
/// Also used for a container's `lastStatus`, which the API reference does not enumerate: the
/// ECS agent reports PENDING, RUNNING and STOPPED (`BackendStatusString` in amazon-ecs-agent's
/// `containerstatus.go`), all task lifecycle states; the wider set keeps it complete.
const TASK_STATUSES: Shape = Shape::Closed(&[
    "ACTIVATING",
    "DEACTIVATING",
    "DELETED",
    "DEPROVISIONING",
    "PENDING",
    "PROVISIONING",
    "RUNNING",
    "STOPPED",
    "STOPPING",
]);

/// Task `stopCode`: API_Task.html links to stopped-task-error-codes.html; the values are the
/// API's `TaskStopCode` Valid Values (`InfrastructureHealth` is the newest).
const STOP_CODES: Shape = Shape::Known(&[
    "EssentialContainerExited",
    "InfrastructureHealth",
    "ServiceSchedulerInitiated",
    "SpotInterruption",
    "TaskFailedToStart",
    "TerminationNotice",
    "UserInitiated",
]);

/// Task `launchType`: API_Task.html, `LaunchType` Valid Values.
const LAUNCH_TYPES: Shape = Shape::Known(&["EC2", "EXTERNAL", "FARGATE", "MANAGED_INSTANCES"]);

/// Task `connectivity`: API_Task.html, `Connectivity` Valid Values.
const CONNECTIVITY: Shape = Shape::Closed(&["CONNECTED", "DISCONNECTED"]);

/// Task and container `healthStatus`: API_Task.html and API_Container.html, `HealthStatus`
/// Valid Values.
const HEALTH_STATUSES: Shape = Shape::Closed(&["HEALTHY", "UNHEALTHY", "UNKNOWN"]);

/// Attachment `status`: API_Attachment.html ("Valid values are PRECREATED, CREATED, ATTACHING,
/// ATTACHED, DETACHING, DETACHED, DELETED, and FAILED").
const ATTACHMENT_STATUSES: Shape = Shape::Closed(&[
    "ATTACHED",
    "ATTACHING",
    "CREATED",
    "DELETED",
    "DETACHED",
    "DETACHING",
    "FAILED",
    "PRECREATED",
]);

/// Container instance `status`: API_ContainerInstance.html ("The valid values are
/// REGISTERING, REGISTRATION_FAILED, ACTIVE, INACTIVE, DEREGISTERING, or DRAINING").
const CONTAINER_INSTANCE_STATUSES: Shape = Shape::Closed(&[
    "ACTIVE",
    "DEREGISTERING",
    "DRAINING",
    "INACTIVE",
    "REGISTERING",
    "REGISTRATION_FAILED",
]);

/// Container instance `agentUpdateStatus`: API_ContainerInstance.html, `AgentUpdateStatus`
/// Valid Values.
const AGENT_UPDATE_STATUSES: Shape =
    Shape::Closed(&["FAILED", "PENDING", "STAGED", "STAGING", "UPDATED", "UPDATING"]);

/// Container instance health `status` and `overallStatus`: API_InstanceHealthCheckResult.html
/// and API_ContainerInstanceHealthStatus.html, Valid Values.
const INSTANCE_HEALTH_STATES: Shape =
    Shape::Closed(&["IMPAIRED", "INITIALIZING", "INSUFFICIENT_DATA", "OK"]);

/// Container instance health check `type`: `InstanceHealthCheckType` Valid Values
/// (API_InstanceHealthCheckResult.html), a list that grew from CONTAINER_RUNTIME to these four
/// within a year; ecs_container_instance_health_events.html has an example of each.
const INSTANCE_HEALTH_CHECK_TYPES: Shape =
    Shape::Known(&["ACCELERATED_COMPUTE", "AGENT_CONNECTIVITY", "CONTAINER_RUNTIME", "DAEMON"]);

/// `eventType` of service action events: ecs_service_events.html ("Amazon ECS sends events with
/// INFO, WARN, and ERROR event types").
const SERVICE_ACTION_EVENT_TYPES: Shape = Shape::Closed(&["ERROR", "INFO", "WARN"]);

/// `eventName` of service action events: every name listed under the INFO, WARN and ERROR
/// headings of ecs_service_events.html.
const SERVICE_ACTION_EVENT_NAMES: Shape = Shape::Known(&[
    "CAPACITY_PROVIDER_STEADY_STATE",
    "ECS_OPERATION_THROTTLED",
    "SERVICE_DAEMON_PLACEMENT_CONSTRAINT_VIOLATED",
    "SERVICE_DEPLOYMENT_COMPLETED",
    "SERVICE_DEPLOYMENT_FAILED",
    "SERVICE_DEPLOYMENT_IN_PROGRESS",
    "SERVICE_DESIRED_COUNT_UPDATED",
    "SERVICE_DISCOVERY_INSTANCE_UNHEALTHY",
    "SERVICE_DISCOVERY_OPERATION_THROTTLED",
    "SERVICE_HEALTH_UNKNOWN",
    "SERVICE_STEADY_STATE",
    "SERVICE_TASK_CONFIGURATION_FAILURE",
    "SERVICE_TASK_PLACEMENT_FAILURE",
    "SERVICE_TASK_START_IMPAIRED",
    "TASKSET_STEADY_STATE",
    "TASKS_STOPPED",
    "VPC_LATTICE_TARGET_UNHEALTHY",
]);

/// `eventType` of deployment events: ecs_service_deployment_events.html ("Amazon ECS sends
/// events with INFO and ERROR event types").
const DEPLOYMENT_EVENT_TYPES: Shape = Shape::Closed(&["ERROR", "INFO"]);

/// `eventName` of deployment events: ecs_service_deployment_events.html ("The following are the
/// service deployment state change events").
const DEPLOYMENT_EVENT_NAMES: Shape = Shape::Known(&[
    "SERVICE_DEPLOYMENT_COMPLETED",
    "SERVICE_DEPLOYMENT_FAILED",
    "SERVICE_DEPLOYMENT_IN_PROGRESS",
]);

/// `eventName` of hook events: ecs_hook_state_change_events.html ("The following are the hook
/// state change events").
const HOOK_EVENT_NAMES: Shape = Shape::Known(&[
    "HOOK_AWAITING_ACTION",
    "HOOK_FAILED",
    "HOOK_IN_PROGRESS",
    "HOOK_SUCCEEDED",
    "HOOK_TIMED_OUT",
]);

/// `eventType` of daemon deployment events: managed-daemons-events.html ("Amazon ECS
/// categorizes deployment state change events by the following event types": INFO, ERROR).
const DAEMON_DEPLOYMENT_EVENT_TYPES: Shape = Shape::Closed(&["ERROR", "INFO"]);

/// `eventName` of daemon deployment events: managed-daemons-events.html, the INFO and ERROR
/// lists.
const DAEMON_DEPLOYMENT_EVENT_NAMES: Shape = Shape::Known(&[
    "DAEMON_DEPLOYMENT_IN_PROGRESS",
    "DAEMON_DEPLOYMENT_PENDING",
    "DAEMON_DEPLOYMENT_ROLLBACK_FAILED",
    "DAEMON_DEPLOYMENT_ROLLBACK_IN_PROGRESS",
    "DAEMON_DEPLOYMENT_ROLLBACK_SUCCESSFUL",
    "DAEMON_DEPLOYMENT_STOPPED",
    "DAEMON_DEPLOYMENT_STOP_REQUESTED",
    "DAEMON_DEPLOYMENT_SUCCESSFUL",
]);

/// `failureType` of `DAEMON_TASK_START_IMPAIRED`: managed-daemons-events.html ("The event
/// includes a failureType field that indicates the cause of the failure": the two values).
const DAEMON_FAILURE_TYPES: Shape = Shape::Known(&["TASK_CREATION_FAILED", "TASK_FAILED_TO_RUN"]);

// ---------------------------------------------------------------------------------------------
// Objects shared by several details (ECS API reference data types).

/// `KeyValuePair` (API_KeyValuePair.html): an attachment's `details`.
const KEY_VALUE_PAIR: Shape = Shape::Fields(&[("name", Shape::Open), ("value", Shape::Open)]);

/// `Attachment` (API_Attachment.html). `type` is open: the page gives examples ("such as
/// ElasticNetworkInterface, Service Connect, and AmazonElasticBlockStorage") and events send
/// `eni`.
const ATTACHMENT: Shape = Shape::Fields(&[
    ("details", KEY_VALUE_PAIR),
    ("id", Shape::Open),
    ("status", ATTACHMENT_STATUSES),
    ("type", Shape::Open),
]);

/// `Attribute` (API_Attribute.html); `targetType` Valid Values: `container-instance`.
const ATTRIBUTE: Shape = Shape::Fields(&[
    ("name", Shape::Open),
    ("targetId", Shape::Open),
    ("targetType", Shape::Closed(&["container-instance"])),
    ("value", Shape::Open),
]);

/// `Tag` (API_Tag.html).
const TAG: Shape = Shape::Fields(&[("key", Shape::Open), ("value", Shape::Open)]);

// ---------------------------------------------------------------------------------------------
// ECS Task State Change: the `Task` data type (API_Task.html) as DescribeTasks returns it, with
// timestamps as ISO strings, plus `updatedAt` (ecs_task_events.html).

/// `NetworkBinding` (API_NetworkBinding.html); `protocol` Valid Values: tcp, udp.
const NETWORK_BINDING: Shape = Shape::Fields(&[
    ("bindIP", Shape::Open),
    ("containerPort", Shape::Open),
    ("containerPortRange", Shape::Open),
    ("hostPort", Shape::Open),
    ("hostPortRange", Shape::Open),
    ("protocol", Shape::Closed(&["tcp", "udp"])),
]);

/// `NetworkInterface` (API_NetworkInterface.html).
const NETWORK_INTERFACE: Shape = Shape::Fields(&[
    ("attachmentId", Shape::Open),
    ("ipv6Address", Shape::Open),
    ("privateIpv4Address", Shape::Open),
]);

/// `ManagedAgent` (API_ManagedAgent.html); `name` Valid Values: ExecuteCommandAgent. Its
/// `lastStatus` is not enumerated: open.
const MANAGED_AGENT: Shape = Shape::Fields(&[
    ("lastStartedAt", Shape::Open),
    ("lastStatus", Shape::Open),
    ("name", Shape::Known(&["ExecuteCommandAgent"])),
    ("reason", Shape::Open),
]);

/// `Container` (API_Container.html).
const CONTAINER: Shape = Shape::Fields(&[
    ("containerArn", Shape::Open),
    ("cpu", Shape::Open),
    ("exitCode", Shape::Open),
    ("gpuIds", Shape::Open),
    ("healthStatus", HEALTH_STATUSES),
    ("image", Shape::Open),
    ("imageDigest", Shape::Open),
    ("lastStatus", TASK_STATUSES),
    ("managedAgents", MANAGED_AGENT),
    ("memory", Shape::Open),
    ("memoryReservation", Shape::Open),
    ("name", Shape::Open),
    ("networkBindings", NETWORK_BINDING),
    ("networkInterfaces", NETWORK_INTERFACE),
    ("reason", Shape::Open),
    ("runtimeId", Shape::Open),
    ("taskArn", Shape::Open),
]);

/// `EphemeralStorage` (API_EphemeralStorage.html).
const EPHEMERAL_STORAGE: Shape = Shape::Fields(&[("sizeInGiB", Shape::Open)]);

/// `TaskEphemeralStorage` (API_TaskEphemeralStorage.html).
const TASK_EPHEMERAL_STORAGE: Shape =
    Shape::Fields(&[("kmsKeyId", Shape::Open), ("sizeInGiB", Shape::Open)]);

/// `InferenceAccelerator` (API_InferenceAccelerator.html).
const INFERENCE_ACCELERATOR: Shape =
    Shape::Fields(&[("deviceName", Shape::Open), ("deviceType", Shape::Open)]);

/// The `detail` of `ECS Task State Change`.
///
/// `overrides` (`TaskOverride`) is left open: it mirrors the RunTask request (commands,
/// environment, resource requirements), which the API grows, and users' names live in it.
const TASK_DETAIL: Shape = Shape::Fields(&[
    ("attachments", ATTACHMENT),
    ("attributes", ATTRIBUTE),
    ("availabilityZone", Shape::Open),
    ("capacityProviderName", Shape::Open),
    ("clusterArn", Shape::Open),
    ("connectivity", CONNECTIVITY),
    ("connectivityAt", Shape::Open),
    ("containerInstanceArn", Shape::Open),
    ("containers", CONTAINER),
    ("cpu", Shape::Open),
    ("createdAt", Shape::Open),
    ("desiredStatus", TASK_STATUSES),
    ("enableExecuteCommand", Shape::Bool),
    ("ephemeralStorage", EPHEMERAL_STORAGE),
    ("executionStoppedAt", Shape::Open),
    ("fargateEphemeralStorage", TASK_EPHEMERAL_STORAGE),
    ("group", Shape::Open),
    ("healthStatus", HEALTH_STATUSES),
    ("inferenceAccelerators", INFERENCE_ACCELERATOR),
    ("lastStatus", TASK_STATUSES),
    ("launchType", LAUNCH_TYPES),
    ("memory", Shape::Open),
    ("overrides", Shape::AnyFields),
    ("platformFamily", Shape::Open),
    ("platformVersion", Shape::Open),
    ("pullStartedAt", Shape::Open),
    ("pullStoppedAt", Shape::Open),
    ("startedAt", Shape::Open),
    ("startedBy", Shape::Open),
    ("stopCode", STOP_CODES),
    ("stoppedAt", Shape::Open),
    ("stoppedReason", Shape::Open),
    ("stoppingAt", Shape::Open),
    ("tags", TAG),
    ("taskArn", Shape::Open),
    ("taskDefinitionArn", Shape::Open),
    ("updatedAt", Shape::Open),
    ("version", Shape::Open),
]);

// ---------------------------------------------------------------------------------------------
// ECS Container Instance State Change: the `ContainerInstance` data type
// (API_ContainerInstance.html) as DescribeContainerInstances returns it, plus `clusterArn` and
// `updatedAt` (ecs_container_instance_events.html).

/// `Resource` (API_Resource.html): `type` "Valid values: INTEGER, DOUBLE, LONG, or STRINGSET";
/// `name` is open ("such as CPU, MEMORY, PORTS, PORTS_UDP, or a user-defined resource").
const RESOURCE: Shape = Shape::Fields(&[
    ("doubleValue", Shape::Open),
    ("integerValue", Shape::Open),
    ("longValue", Shape::Open),
    ("name", Shape::Open),
    ("stringSetValue", Shape::Open),
    ("type", Shape::Closed(&["DOUBLE", "INTEGER", "LONG", "STRINGSET"])),
]);

/// `VersionInfo` (API_VersionInfo.html).
const VERSION_INFO: Shape = Shape::Fields(&[
    ("agentHash", Shape::Open),
    ("agentVersion", Shape::Open),
    ("dockerVersion", Shape::Open),
]);

/// `InstanceHealthCheckResult` (API_InstanceHealthCheckResult.html); health change events
/// send the same objects as `healthChecks`.
const INSTANCE_HEALTH_CHECK: Shape = Shape::Fields(&[
    ("lastStatusChange", Shape::Open),
    ("lastUpdated", Shape::Open),
    ("status", INSTANCE_HEALTH_STATES),
    ("statusReason", Shape::Open),
    ("type", INSTANCE_HEALTH_CHECK_TYPES),
]);

/// `ContainerInstanceHealthStatus` (API_ContainerInstanceHealthStatus.html).
const CONTAINER_INSTANCE_HEALTH: Shape =
    Shape::Fields(&[("details", INSTANCE_HEALTH_CHECK), ("overallStatus", INSTANCE_HEALTH_STATES)]);

/// The `detail` of `ECS Container Instance State Change`. `accountType` is in EventBridge's
/// schema registry (`aws.ecs@ECSContainerInstanceStateChange`) without a documented value set.
const CONTAINER_INSTANCE_DETAIL: Shape = Shape::Fields(&[
    ("accountType", Shape::Open),
    ("agentConnected", Shape::Bool),
    ("agentUpdateStatus", AGENT_UPDATE_STATUSES),
    ("attachments", ATTACHMENT),
    ("attributes", ATTRIBUTE),
    ("capacityProviderName", Shape::Open),
    ("clusterArn", Shape::Open),
    ("containerInstanceArn", Shape::Open),
    ("ec2InstanceId", Shape::Open),
    ("healthStatus", CONTAINER_INSTANCE_HEALTH),
    ("pendingTasksCount", Shape::Open),
    ("registeredAt", Shape::Open),
    ("registeredResources", RESOURCE),
    ("remainingResources", RESOURCE),
    ("runningTasksCount", Shape::Open),
    ("status", CONTAINER_INSTANCE_STATUSES),
    ("statusReason", Shape::Open),
    ("tags", TAG),
    ("updatedAt", Shape::Open),
    ("version", Shape::Open),
    ("versionInfo", VERSION_INFO),
]);

/// The `detail` of `ECS Container Instance Health Change`
/// (ecs_container_instance_health_events.html).
const CONTAINER_INSTANCE_HEALTH_DETAIL: Shape = Shape::Fields(&[
    ("capacityProviderName", Shape::Open),
    ("clusterArn", Shape::Open),
    ("containerInstanceArn", Shape::Open),
    ("ec2InstanceId", Shape::Open),
    ("healthChecks", INSTANCE_HEALTH_CHECK),
    ("overallStatus", INSTANCE_HEALTH_STATES),
]);

// ---------------------------------------------------------------------------------------------
// Service, deployment, hook and daemon events.

/// The `detail` of `ECS Service Action`: the fields of ecs_service_events.html's examples,
/// `serviceName` and `service` (ecs_cwe_events.html: the service is named in `serviceName` for
/// events from create-service, in `service` for events from update-service), and the rest of
/// EventBridge's schema registry entry `aws.ecs@ECSServiceAction`. `targets` has no documented
/// structure: any path below it.
const SERVICE_ACTION_DETAIL: Shape = Shape::Fields(&[
    ("capacityProviderArns", Shape::Open),
    ("clusterArn", Shape::Open),
    ("containerInstanceArns", Shape::Open),
    ("containerPort", Shape::Open),
    ("createdAt", Shape::Open),
    ("desiredCount", Shape::Open),
    ("ec2InstanceIds", Shape::Open),
    ("eventName", SERVICE_ACTION_EVENT_NAMES),
    ("eventType", SERVICE_ACTION_EVENT_TYPES),
    ("reason", Shape::Open),
    ("service", Shape::Open),
    ("serviceName", Shape::Open),
    ("serviceRegistryArns", Shape::Open),
    ("targetGroupArns", Shape::Open),
    ("targets", Shape::AnyFields),
    ("taskArns", Shape::Open),
    ("taskSetArns", Shape::Open),
]);

/// The `detail` of `ECS Deployment State Change`: the fields of
/// ecs_service_deployment_events.html's examples, plus `clusterArn`, which the documented
/// examples lack but live deployment events carry (a published capture of real events shows it,
/// with rules that filter deployment events on `detail.clusterArn`).
const DEPLOYMENT_DETAIL: Shape = Shape::Fields(&[
    ("clusterArn", Shape::Open),
    ("deploymentId", Shape::Open),
    ("eventName", DEPLOYMENT_EVENT_NAMES),
    ("eventType", DEPLOYMENT_EVENT_TYPES),
    ("reason", Shape::Open),
    ("updatedAt", Shape::Open),
]);

/// The `detail` of `ECS Hook State Change` (ecs_hook_state_change_events.html). Open there:
/// `eventType` (the page shows INFO and lists no set), `hookType` (the example shows PAUSE;
/// the API's hook target types are AWS_LAMBDA and PAUSE, but the page does not say the event
/// uses those names) and `lifecycleStage` (the set grows with each deployment strategy).
const HOOK_DETAIL: Shape = Shape::Fields(&[
    ("clusterArn", Shape::Open),
    ("eventName", HOOK_EVENT_NAMES),
    ("eventType", Shape::Open),
    ("expiresAt", Shape::Open),
    ("hookId", Shape::Open),
    ("hookType", Shape::Open),
    ("lifecycleStage", Shape::Open),
    ("serviceArn", Shape::Open),
    ("serviceDeploymentArn", Shape::Open),
    ("updatedAt", Shape::Open),
]);

/// The `detail` of `ECS Daemon Service Action` (managed-daemons-events.html). `eventName` and
/// `eventType` are open: the page describes one event (DAEMON_TASK_START_IMPAIRED, with
/// `eventType` "WARNING", not the service actions' "WARN") without saying it is the only one.
const DAEMON_SERVICE_ACTION_DETAIL: Shape = Shape::Fields(&[
    ("capacityProviderName", Shape::Open),
    ("clusterArn", Shape::Open),
    ("containerInstanceArn", Shape::Open),
    ("createdAt", Shape::Open),
    ("daemonArn", Shape::Open),
    ("daemonRevisionArn", Shape::Open),
    ("daemonTaskDefinitionArn", Shape::Open),
    ("eventName", Shape::Open),
    ("eventType", Shape::Open),
    ("failureType", DAEMON_FAILURE_TYPES),
    ("reason", Shape::Open),
    ("taskArn", Shape::Open),
]);

/// The `detail` of `ECS Daemon Deployment State Change` (managed-daemons-events.html).
const DAEMON_DEPLOYMENT_DETAIL: Shape = Shape::Fields(&[
    ("clusterArn", Shape::Open),
    ("daemonArn", Shape::Open),
    ("daemonDeploymentArn", Shape::Open),
    ("eventName", DAEMON_DEPLOYMENT_EVENT_NAMES),
    ("eventType", DAEMON_DEPLOYMENT_EVENT_TYPES),
    ("targetDaemonRevisionArn", Shape::Open),
    ("updatedAt", Shape::Open),
]);

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fs;
    use std::path::{Path, PathBuf};

    use serde_json::json;

    use super::*;

    /// The shape at a dotted path such as `containers[].networkInterfaces[].privateIpv4Address`.
    fn shape_at(shape: &Shape, path: &str) -> Option<Shape> {
        shape.at(path.split('.').map(|segment| segment.trim_end_matches("[]"))).copied()
    }

    /// The shape of `path` in an event of `detail_type`, envelope included (`detail.lastStatus`).
    fn event_shape_at(detail_type_name: &str, path: &str) -> Option<Shape> {
        let detail = detail_type(detail_type_name).expect("a known detail type").detail;
        match path.strip_prefix("detail.") {
            Some(rest) => shape_at(&detail, rest),
            None => shape_at(&ENVELOPE, path),
        }
    }

    /// Every way `value` (found at `path`) breaks `shape`: unknown fields (not descended into),
    /// objects where a leaf is expected, and values outside a closed set.
    fn violations(value: &Value, shape: &Shape, path: &str, found: &mut Vec<String>) {
        match value {
            Value::Object(object) => match shape {
                Shape::AnyFields => {}
                Shape::Fields(_) => {
                    for (name, value) in object {
                        let below =
                            if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
                        match shape.field(name) {
                            Some(field) => violations(value, field, &below, found),
                            None => found.push(below),
                        }
                    }
                }
                _ => found.push(format!("{path}: an object where the schema has a value")),
            },
            Value::Array(items) => {
                for item in items {
                    violations(item, shape, &format!("{path}[]"), found);
                }
            }
            scalar => {
                // The values of a known list are what ECS sends today: a captured event with
                // another one means the list is behind.
                let listed = match (shape, scalar) {
                    (Shape::Known(values), Value::String(text)) => values.contains(&text.as_str()),
                    _ => true,
                };
                if !shape.allows(scalar) || !listed {
                    found.push(format!("{path} = {scalar}"));
                }
            }
        }
    }

    /// Every way an event breaks the schema: the envelope, then the detail of its type.
    fn event_violations(event: &Value) -> Vec<String> {
        let mut found = Vec::new();
        let Value::Object(envelope) = event else {
            return vec!["the event is not an object".to_owned()];
        };
        for (name, value) in envelope {
            match (name.as_str(), ENVELOPE.field(name)) {
                ("detail", _) => {}
                (_, Some(shape)) => violations(value, shape, name, &mut found),
                (_, None) => found.push(name.clone()),
            }
        }
        let detail_type_name = envelope.get("detail-type").and_then(Value::as_str).unwrap_or("");
        match (detail_type(detail_type_name), envelope.get("detail")) {
            (Some(detail_type), Some(detail)) => {
                violations(detail, &detail_type.detail, "detail", &mut found);
            }
            (None, _) => found.push(format!("detail-type = {detail_type_name:?}")),
            (_, None) => found.push("detail: missing".to_owned()),
        }
        found
    }

    /// The events of a file: one event, an array of events, or JSON Lines.
    fn events_in(file: &Path) -> Vec<Value> {
        let text = fs::read_to_string(file).expect("a readable UTF-8 event file");
        match serde_json::from_str(&text) {
            Ok(Value::Array(events)) => events,
            Ok(event) => vec![event],
            Err(_) => text
                .lines()
                .filter(|line| !line.trim().is_empty())
                .map(|line| serde_json::from_str(line).expect("one JSON event per line"))
                .collect(),
        }
    }

    /// The event files below `folder`, in name order, without names starting with `_` or `.`.
    fn event_files(folder: &Path, files: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = fs::read_dir(folder)
            .expect("a readable events folder")
            .map(|entry| entry.expect("a readable folder entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().and_then(|name| name.to_str()).unwrap_or("");
            if name.starts_with('_') || name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                event_files(&path, files);
            } else if name.ends_with(".json") || name.ends_with(".jsonl") {
                files.push(path);
            }
        }
    }

    /// The fields `events/samples/task-unknown-fields.json` makes up on purpose (events/README.md).
    const MADE_UP_FIELDS: [&str; 3] =
        ["detail.containers[].futureContainerField", "detail.futureField", "x-custom-top"];

    #[test]
    fn given_every_captured_event_when_walked_then_every_field_and_closed_value_is_in_the_schema() {
        let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
        let mut files = Vec::new();
        event_files(&events.join("samples"), &mut files);
        event_files(&events.join("scenarios"), &mut files);

        let mut rejected: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut made_up = Vec::new();
        let mut detail_types = BTreeMap::new();
        let mut count = 0;
        for file in &files {
            let name = file.strip_prefix(&events).unwrap_or(file).display().to_string();
            for event in events_in(file) {
                count += 1;
                let type_name = event["detail-type"].as_str().unwrap_or("").to_owned();
                *detail_types.entry(type_name).or_insert(0) += 1;
                let mut found = event_violations(&event);
                if name.ends_with("task-unknown-fields.json") {
                    made_up.append(&mut found);
                }
                if !found.is_empty() {
                    rejected.entry(name.clone()).or_default().append(&mut found);
                }
            }
        }

        assert!(count >= 100, "only {count} events found below {}", events.display());
        assert!(rejected.is_empty(), "the schema rejects captured events: {rejected:#?}");
        made_up.sort();
        assert_eq!(made_up, MADE_UP_FIELDS, "the sample's made-up fields are rejected, no other");
        for name in [
            TASK_STATE_CHANGE,
            CONTAINER_INSTANCE_STATE_CHANGE,
            SERVICE_ACTION,
            DEPLOYMENT_STATE_CHANGE,
        ] {
            assert!(detail_types.contains_key(name), "no captured {name} event: {detail_types:?}");
        }
    }

    #[test]
    fn given_paths_from_the_aws_docs_when_looked_up_then_they_are_fields() {
        for (detail_type_name, path) in [
            (TASK_STATE_CHANGE, "detail.containers[].reason"),
            (TASK_STATE_CHANGE, "detail.containers[].networkInterfaces[].privateIpv4Address"),
            (TASK_STATE_CHANGE, "detail.containers[].networkBindings[].hostPort"),
            (TASK_STATE_CHANGE, "detail.attachments[].details[].name"),
            (TASK_STATE_CHANGE, "detail.stoppedReason"),
            (TASK_STATE_CHANGE, "detail.ephemeralStorage.sizeInGiB"),
            (TASK_STATE_CHANGE, "replay-name"),
            (CONTAINER_INSTANCE_STATE_CHANGE, "detail.versionInfo.dockerVersion"),
            (CONTAINER_INSTANCE_STATE_CHANGE, "detail.remainingResources[].stringSetValue"),
            (SERVICE_ACTION, "detail.capacityProviderArns"),
            (DEPLOYMENT_STATE_CHANGE, "detail.deploymentId"),
            (HOOK_STATE_CHANGE, "detail.lifecycleStage"),
            (CONTAINER_INSTANCE_HEALTH_CHANGE, "detail.healthChecks[].statusReason"),
            (DAEMON_SERVICE_ACTION, "detail.failureType"),
            (DAEMON_DEPLOYMENT_STATE_CHANGE, "detail.daemonDeploymentArn"),
        ] {
            assert!(event_shape_at(detail_type_name, path).is_some(), "{detail_type_name}: {path}");
        }
    }

    #[test]
    fn given_open_objects_when_any_path_below_them_is_looked_up_then_it_is_accepted() {
        let overrides = event_shape_at(
            TASK_STATE_CHANGE,
            "detail.overrides.containerOverrides[].environment[].name",
        );
        assert_eq!(overrides, Some(Shape::AnyFields));
        let cloudtrail = event_shape_at(CLOUDTRAIL_API_CALL, "detail.requestParameters.cluster");
        assert_eq!(cloudtrail, Some(Shape::AnyFields));
        assert!(Shape::AnyFields.allows(&json!({"anything": [1, "two", {"three": null}]})));
    }

    #[test]
    fn given_typos_when_looked_up_then_they_are_not_fields() {
        for (detail_type_name, path) in [
            (TASK_STATE_CHANGE, "detail.lastStaus"),
            (TASK_STATE_CHANGE, "detail.containers[].exitcode"),
            (TASK_STATE_CHANGE, "detail.containers[].networkInterfaces[].privateIPv4Address"),
            (TASK_STATE_CHANGE, "detail.stoppedReason.text"),
            (TASK_STATE_CHANGE, "detail-typ"),
            (SERVICE_ACTION, "detail.eventname"),
            (CONTAINER_INSTANCE_STATE_CHANGE, "detail.agentconnected"),
        ] {
            assert_eq!(event_shape_at(detail_type_name, path), None, "{detail_type_name}: {path}");
        }
        assert!(detail_type("ECS Task State Changed").is_none());
    }

    #[test]
    fn given_closed_fields_when_values_are_checked_then_documented_values_pass_and_typos_fail() {
        let last_status = event_shape_at(TASK_STATE_CHANGE, "detail.lastStatus").expect("a field");
        assert!(last_status.allows(&json!("STOPPED")));
        assert!(last_status.allows(&json!(["RUNNING", "DEPROVISIONING"])));
        assert!(!last_status.allows(&json!("STOPED")));
        assert!(!last_status.allows(&json!("stopped")));
        assert!(!last_status.allows(&json!(1)));

        // A list AWS extends: any string may be a code it adds (the linter tells typos).
        let stop_code = event_shape_at(TASK_STATE_CHANGE, "detail.stopCode").expect("a field");
        assert!(stop_code.allows(&json!("EssentialContainerExited")));
        assert!(stop_code.allows(&json!("SomeCodeAwsAddsNextYear")));
        assert!(!stop_code.allows(&json!(3)));

        let source = event_shape_at(TASK_STATE_CHANGE, "source").expect("a field");
        assert_eq!(source.closed_values(), Some(&["aws.ecs"][..]));
        assert!(!source.allows(&json!("aws.ec2")));

        let event_name = event_shape_at(SERVICE_ACTION, "detail.eventName").expect("a field");
        assert!(event_name.allows(&json!("TASKS_STOPPED")));
        assert!(matches!(event_name, Shape::Known(names) if !names.contains(&"SERVICE_STEADY")));

        let detail_type_shape = event_shape_at(TASK_STATE_CHANGE, "detail-type").expect("a field");
        for detail_type in DETAIL_TYPES {
            assert!(detail_type_shape.allows(&json!(detail_type.name)), "{}", detail_type.name);
        }

        let reason = event_shape_at(TASK_STATE_CHANGE, "detail.stoppedReason").expect("a field");
        assert!(reason.allows(&json!("Essential container in task exited")));
        assert!(reason.allows(&json!(137)));
        assert!(!reason.allows(&json!({"text": "no objects in a value"})));
    }

    #[test]
    fn given_boolean_fields_when_values_are_checked_then_only_json_booleans_pass() {
        let connected = event_shape_at(CONTAINER_INSTANCE_STATE_CHANGE, "detail.agentConnected")
            .expect("a field");
        assert!(connected.allows(&json!(false)));
        assert!(connected.allows(&json!([true])));
        assert!(!connected.allows(&json!("true")));
    }

    #[test]
    fn given_a_field_list_when_its_names_are_listed_then_they_come_in_order() {
        let network_interface =
            shape_at(&TASK_DETAIL, "containers.networkInterfaces").expect("a field");
        let names: Vec<_> = network_interface.field_names().collect();
        assert_eq!(names, ["attachmentId", "ipv6Address", "privateIpv4Address"]);
        assert_eq!(Shape::Open.field_names().count(), 0);
    }

    /// Every list in `shape` (field names and closed values), with where it is.
    fn lists(shape: &Shape, path: &str, found: &mut Vec<(String, Vec<&'static str>)>) {
        match shape {
            Shape::Closed(values) | Shape::Known(values) => {
                found.push((path.to_owned(), values.to_vec()));
            }
            Shape::Fields(fields) => {
                found.push((path.to_owned(), fields.iter().map(|(name, _)| *name).collect()));
                for (name, field) in *fields {
                    lists(field, &format!("{path}.{name}"), found);
                }
            }
            Shape::Open | Shape::Bool | Shape::AnyFields => {}
        }
    }

    #[test]
    fn given_every_field_list_and_closed_set_when_checked_then_it_is_sorted_without_duplicates() {
        let mut found = Vec::new();
        lists(&ENVELOPE, "envelope", &mut found);
        for detail_type in DETAIL_TYPES {
            lists(&detail_type.detail, detail_type.name, &mut found);
        }
        found.push((
            "DETAIL_TYPES".to_owned(),
            DETAIL_TYPES.iter().map(|detail_type| detail_type.name).collect(),
        ));
        for (path, list) in found {
            let mut sorted = list.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(list, sorted, "{path} must be sorted, without duplicates");
        }
    }

    #[test]
    fn given_the_detail_types_when_compared_then_the_envelope_lists_exactly_them() {
        let names: Vec<_> = DETAIL_TYPES.iter().map(|detail_type| detail_type.name).collect();
        assert_eq!(names, DETAIL_TYPE_NAMES);
        assert_eq!(
            ENVELOPE.field("detail-type").and_then(Shape::closed_values),
            Some(DETAIL_TYPE_NAMES)
        );
        for name in DETAIL_TYPE_NAMES {
            assert_eq!(detail_type(name).map(|detail_type| detail_type.name), Some(*name));
        }
    }
}
