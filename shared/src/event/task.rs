//! `ECS Task State Change` detail.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Connectivity, HealthStatus, LaunchType, StopCode, TaskStatus, Timestamp};

/// The `detail` of an `ECS Task State Change` event, with every field AWS documents.
///
/// Fields this version does not know are not read here: the event's delivered text keeps them
/// ([`super::ReceivedEvent::json`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStateChange {
    /// Elastic network interfaces and other attachments of the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<Attachment>>,
    /// Task attributes (for example `ecs.cpu-architecture`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Vec<NameValue>>,
    /// Availability Zone the task runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// Capacity provider of the task (`FARGATE`, `FARGATE_SPOT`, an ASG provider...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider_name: Option<String>,
    /// ARN of the cluster that hosts the task.
    pub cluster_arn: String,
    /// Whether the task is connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connectivity: Option<Connectivity>,
    /// When `connectivity` last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connectivity_at: Option<Timestamp>,
    /// Container instance that hosts the task (EC2 and EXTERNAL launch types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_instance_arn: Option<String>,
    /// The task's containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containers: Option<Vec<Container>>,
    /// Task-level CPU units, as a string (`"256"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// When the task was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// The status the task should reach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_status: Option<TaskStatus>,
    /// Whether ECS Exec is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_execute_command: Option<bool>,
    /// Fargate ephemeral storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<EphemeralStorage>,
    /// When the task's execution stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_stopped_at: Option<Timestamp>,
    /// `service:<name>` for service tasks, `family:<family>` for standalone ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Health of the task, from its essential containers' health checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_status: Option<HealthStatus>,
    /// Elastic Inference accelerators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_accelerators: Option<Vec<Value>>,
    /// The task's status.
    pub last_status: TaskStatus,
    /// Launch type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_type: Option<LaunchType>,
    /// Task-level memory in MiB, as a string (`"512"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// Overrides given at `RunTask`/`StartTask`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<TaskOverrides>,
    /// Operating system family on Fargate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_family: Option<String>,
    /// Fargate platform version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    /// When the first image pull started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_started_at: Option<Timestamp>,
    /// When the last image pull finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_stopped_at: Option<Timestamp>,
    /// When the task started running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// Who started the task (`ecs-svc/...` for a service's deployment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    /// Why the task stopped, as a code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<StopCode>,
    /// When the task stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<Timestamp>,
    /// Why the task stopped, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_reason: Option<String>,
    /// When the task began stopping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopping_at: Option<Timestamp>,
    /// Tags of the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Value>>,
    /// ARN of the task.
    pub task_arn: String,
    /// ARN of the task definition (`family:revision`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_definition_arn: Option<String>,
    /// When the task last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    /// Grows by one per state change: orders and deduplicates the task's events.
    pub version: u64,
}

impl TaskStateChange {
    /// The task id: the last segment of the task ARN.
    pub fn task_id(&self) -> &str {
        last_segment(&self.task_arn)
    }

    /// The cluster name: the last segment of the cluster ARN.
    pub fn cluster_name(&self) -> &str {
        last_segment(&self.cluster_arn)
    }

    /// The task definition as `family:revision`, when the event names it.
    pub fn task_definition(&self) -> Option<&str> {
        self.task_definition_arn.as_deref().map(last_segment)
    }

    /// The service name for a service's task (`group` is `service:<name>`).
    pub fn service_name(&self) -> Option<&str> {
        self.group.as_deref()?.strip_prefix("service:")
    }

    /// The containers, or none when the event has no `containers`.
    pub fn containers(&self) -> &[Container] {
        self.containers.as_deref().unwrap_or_default()
    }

    /// The containers ordered by how much they explain the stop: those ECS gave a reason for
    /// (`OutOfMemoryError: ...`), then those that exited non-zero, then the rest, each group
    /// in event order. (Events do not say which containers are essential; a sidecar stopped
    /// with 143 because another container died is an effect, not the cause.)
    pub fn containers_most_telling_first(&self) -> Vec<&Container> {
        let mut ordered: Vec<&Container> = self.containers().iter().collect();
        ordered.sort_by_key(|container| match (&container.reason, container.exit_code) {
            (Some(_), _) => 0,
            (None, Some(code)) if code != 0 => 1,
            _ => 2,
        });
        ordered
    }

    /// The failed containers, most telling first, as `name:exit` (`-` without an exit code):
    /// `app:137 log-router:143`. `None` when no container failed.
    pub fn failed_containers(&self) -> Option<String> {
        let failed: Vec<String> = self
            .containers_most_telling_first()
            .into_iter()
            .filter(|container| container.failed())
            .map(|container| match container.exit_code {
                Some(code) => format!("{}:{code}", container.name),
                None => format!("{}:-", container.name),
            })
            .collect();
        (!failed.is_empty()).then(|| failed.join(" "))
    }
}

/// The part of an ARN after its last `/` (the whole ARN when it has none).
fn last_segment(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// A container of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// ARN of the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_arn: Option<String>,
    /// CPU units reserved for the container, as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Exit code, once the container has exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// GPUs assigned to the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_ids: Option<Vec<String>>,
    /// Health of the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_status: Option<HealthStatus>,
    /// Image reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Image digest (for images in Amazon ECR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    /// Status of the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<TaskStatus>,
    /// ECS Exec and other managed agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_agents: Option<Vec<ManagedAgent>>,
    /// Hard memory limit in MiB, as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// Soft memory limit in MiB, as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<String>,
    /// Name of the container in the task definition.
    pub name: String,
    /// Port bindings (bridge and host network modes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_bindings: Option<Vec<NetworkBinding>>,
    /// Network interfaces (awsvpc network mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interfaces: Option<Vec<NetworkInterface>>,
    /// Why the container stopped (`OutOfMemoryError: ...`, `CannotPullContainerError: ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Docker id of the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_id: Option<String>,
    /// ARN of the task the container belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
}

impl Container {
    /// A container failed when it exited non-zero or ECS gave a reason for its stop.
    pub fn failed(&self) -> bool {
        self.exit_code.is_some_and(|code| code != 0) || self.reason.is_some()
    }
}

/// An attachment of a task (an ENI, a Service Connect proxy...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// Attachment id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Attachment type (`eni`, `ElasticNetworkInterface`...).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Attachment status (`PRECREATED`, `ATTACHED`, `DELETED`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Details such as `subnetId`, `networkInterfaceId`, `privateIPv4Address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<NameValue>>,
}

/// A `{"name": ..., "value": ...}` pair (attributes, attachment details, environment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NameValue {
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A port binding of a container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkBinding {
    /// Bound IP address.
    #[serde(rename = "bindIP", default, skip_serializing_if = "Option::is_none")]
    pub bind_ip: Option<String>,
    /// Container port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<u16>,
    /// Host port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u16>,
    /// `tcp` or `udp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// A network interface of a container (awsvpc).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterface {
    /// The ENI attachment id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_id: Option<String>,
    /// Private IPv4 address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ipv4_address: Option<String>,
    /// IPv6 address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_address: Option<String>,
}

/// A managed agent (ECS Exec) of a container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedAgent {
    /// Agent name (`ExecuteCommandAgent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Agent status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<String>,
    /// When the agent last started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_started_at: Option<Timestamp>,
    /// Why the agent is in its status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Fargate ephemeral storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EphemeralStorage {
    /// Size in GiB.
    #[serde(rename = "sizeInGiB", default, skip_serializing_if = "Option::is_none")]
    pub size_in_gib: Option<u32>,
}

/// Overrides of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskOverrides {
    /// Per-container overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_overrides: Option<Vec<ContainerOverride>>,
    /// Task-level CPU override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Task-level memory override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// Task role override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    /// Execution role override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
}

/// Overrides of one container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerOverride {
    /// Name of the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Command override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Environment variables: their values often hold secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Vec<NameValue>>,
    /// CPU override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    /// Hard memory override in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u32>,
    /// Soft memory override in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<u32>,
}
