//! `ECS Container Instance State Change` detail.

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use super::{ContainerInstanceStatus, NameValue, Timestamp};

/// The `detail` of an `ECS Container Instance State Change` event.
///
/// Fields this version does not know are not read here: the event's delivered text keeps them
/// ([`super::ReceivedEvent::json`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerInstanceStateChange {
    /// Whether the ECS agent is connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_connected: Option<bool>,
    /// Status of an agent update (`PENDING`, `UPDATED`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_update_status: Option<String>,
    /// Attachments (trunk ENIs...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<Value>>,
    /// Instance attributes (`ecs.instance-type`, `ecs.availability-zone`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Vec<NameValue>>,
    /// Capacity provider the instance belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider_name: Option<String>,
    /// ARN of the cluster.
    pub cluster_arn: String,
    /// ARN of the container instance.
    pub container_instance_arn: String,
    /// EC2 instance id (or the managed instance id for EXTERNAL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2_instance_id: Option<String>,
    /// When the instance registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_at: Option<Timestamp>,
    /// Resources the instance registered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_resources: Option<Vec<Resource>>,
    /// Resources not yet taken by tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_resources: Option<Vec<Resource>>,
    /// Status of the instance.
    pub status: ContainerInstanceStatus,
    /// Why the instance is in its status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// When the instance last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    /// Grows by one per state change: orders and deduplicates the instance's events.
    pub version: u64,
    /// Versions of the agent and of Docker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_info: Option<VersionInfo>,
}

/// A resource of a container instance (`CPU`, `MEMORY`, `PORTS`...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// Resource name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Value type (`INTEGER`, `DOUBLE`, `LONG`, `STRINGSET`).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Value for `INTEGER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integer_value: Option<i64>,
    /// Value for `DOUBLE`, as the JSON number sent (ECS writes `0` as well as `0.5`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub double_value: Option<Number>,
    /// Value for `LONG`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_value: Option<i64>,
    /// Value for `STRINGSET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_set_value: Option<Vec<String>>,
}

/// Versions of the ECS agent and Docker on a container instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    /// Git hash of the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_hash: Option<String>,
    /// Agent version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
    /// Docker version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
}
