//! Tasks and container instances as the ECS API describes them, in the shape of an event's
//! `detail`: camelCase JSON, timestamps as ISO 8601 text with milliseconds (the API's wire
//! format has epoch seconds), fields the API leaves out left out. What the API adds to an
//! event's fields (`healthStatus` of the task, `tags`, a container instance's `ec2InstanceId`,
//! `runningTasksCount`...) is kept.

use aws_sdk_ecs::primitives::DateTime;
use aws_sdk_ecs::types::{
    Attachment, Attribute, Container, ContainerInstance, ContainerOverride, KeyValuePair,
    ManagedAgent, NetworkBinding, NetworkInterface, Resource, Tag, Task, TaskOverride,
};
use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value, json};

/// An object whose absent fields stay absent.
#[derive(Default)]
struct Fields(Map<String, Value>);

impl Fields {
    fn value(mut self, name: &str, value: Option<Value>) -> Self {
        if let Some(value) = value {
            self.0.insert(name.to_owned(), value);
        }
        self
    }

    fn text(self, name: &str, value: Option<&str>) -> Self {
        self.value(name, value.map(Value::from))
    }

    fn time(self, name: &str, value: Option<&DateTime>) -> Self {
        self.value(name, value.and_then(timestamp).map(Value::from))
    }

    fn list<T>(self, name: &str, items: Option<&[T]>, each: impl Fn(&T) -> Value) -> Self {
        self.value(name, items.map(|items| items.iter().map(each).collect()))
    }

    fn done(self) -> Value {
        Value::Object(self.0)
    }
}

/// `2024-05-02T10:15:30.123Z`, as ECS events spell times: to the nearest millisecond (the
/// wire's epoch seconds, `1557134011.644`, arrive as a float a few nanoseconds off).
fn timestamp(time: &DateTime) -> Option<String> {
    let millis = i64::try_from((time.as_nanos() + 500_000).div_euclid(1_000_000)).ok()?;
    let instant = chrono::DateTime::<Utc>::from_timestamp_millis(millis)?;
    Some(instant.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// A fingerprint of what only the API tells of a described resource (`detail` as
/// [`task_detail`] or [`container_instance_detail`] make it): its tags, its health (a
/// container instance's overall status, not the times of its checks), whether its agent is
/// connected, and each container's health. Eight hex digits of a CRC-32: stable across builds.
pub fn api_facts(detail: &Value) -> String {
    let health = detail.get("healthStatus").map(|health| match health {
        Value::Object(fields) => fields.get("overallStatus").cloned().unwrap_or(Value::Null),
        other => other.clone(),
    });
    let containers: Option<Vec<Value>> =
        detail.get("containers").and_then(Value::as_array).map(|containers| {
            containers.iter().map(|c| json!([c.get("name"), c.get("healthStatus")])).collect()
        });
    let facts = json!({
        "tags": detail.get("tags"),
        "health": health,
        "agentConnected": detail.get("agentConnected"),
        "containers": containers,
    });
    let mut crc = flate2::Crc::new();
    crc.update(facts.to_string().as_bytes());
    format!("{:08x}", crc.sum())
}

/// A task's detail, as in an `ECS Task State Change` event.
pub fn task_detail(task: &Task) -> Value {
    Fields::default()
        .list("attachments", task.attachments.as_deref(), attachment)
        .list("attributes", task.attributes.as_deref(), attribute)
        .text("availabilityZone", task.availability_zone())
        .text("capacityProviderName", task.capacity_provider_name())
        .text("clusterArn", task.cluster_arn())
        .text("connectivity", task.connectivity().map(|c| c.as_str()))
        .time("connectivityAt", task.connectivity_at())
        .text("containerInstanceArn", task.container_instance_arn())
        .list("containers", task.containers.as_deref(), container)
        .text("cpu", task.cpu())
        .time("createdAt", task.created_at())
        .text("desiredStatus", task.desired_status())
        .value("enableExecuteCommand", Some(task.enable_execute_command().into()))
        .value("ephemeralStorage", task.ephemeral_storage().map(|s| json!({"sizeInGiB": s.size_in_gib()})))
        .value(
            "fargateEphemeralStorage",
            task.fargate_ephemeral_storage().map(|storage| {
                Fields::default()
                    .value("sizeInGiB", Some(storage.size_in_gib().into()))
                    .text("kmsKeyId", storage.kms_key_id())
                    .done()
            }),
        )
        .time("executionStoppedAt", task.execution_stopped_at())
        .text("group", task.group())
        .text("healthStatus", task.health_status().map(|h| h.as_str()))
        .list("inferenceAccelerators", task.inference_accelerators.as_deref(), |accelerator| {
            json!({"deviceName": accelerator.device_name(), "deviceType": accelerator.device_type()})
        })
        .text("lastStatus", task.last_status())
        .text("launchType", task.launch_type().map(|l| l.as_str()))
        .text("memory", task.memory())
        .value("overrides", task.overrides().map(overrides))
        .text("platformFamily", task.platform_family())
        .text("platformVersion", task.platform_version())
        .time("pullStartedAt", task.pull_started_at())
        .time("pullStoppedAt", task.pull_stopped_at())
        .time("startedAt", task.started_at())
        .text("startedBy", task.started_by())
        .text("stopCode", task.stop_code().map(|c| c.as_str()))
        .time("stoppedAt", task.stopped_at())
        .text("stoppedReason", task.stopped_reason())
        .time("stoppingAt", task.stopping_at())
        .list("tags", task.tags.as_deref(), tag)
        .text("taskArn", task.task_arn())
        .text("taskDefinitionArn", task.task_definition_arn())
        .value("version", Some(task.version().into()))
        .done()
}

/// A container instance's detail, as in an `ECS Container Instance State Change` event (the
/// API leaves out the cluster, which the caller knows).
pub fn container_instance_detail(instance: &ContainerInstance, cluster_arn: &str) -> Value {
    Fields::default()
        .value("agentConnected", Some(instance.agent_connected().into()))
        .text("agentUpdateStatus", instance.agent_update_status().map(|s| s.as_str()))
        .list("attachments", instance.attachments.as_deref(), attachment)
        .list("attributes", instance.attributes.as_deref(), attribute)
        .text("capacityProviderName", instance.capacity_provider_name())
        .text("clusterArn", Some(cluster_arn))
        .text("containerInstanceArn", instance.container_instance_arn())
        .text("ec2InstanceId", instance.ec2_instance_id())
        .value(
            "healthStatus",
            instance.health_status().map(|health| {
                Fields::default()
                    .text("overallStatus", health.overall_status().map(|s| s.as_str()))
                    .list("details", health.details.as_deref(), |check| {
                        Fields::default()
                            .text("type", check.r#type().map(|t| t.as_str()))
                            .text("status", check.status().map(|s| s.as_str()))
                            .time("lastUpdated", check.last_updated())
                            .time("lastStatusChange", check.last_status_change())
                            .done()
                    })
                    .done()
            }),
        )
        .value("pendingTasksCount", Some(instance.pending_tasks_count().into()))
        .time("registeredAt", instance.registered_at())
        .list("registeredResources", instance.registered_resources.as_deref(), resource)
        .list("remainingResources", instance.remaining_resources.as_deref(), resource)
        .value("runningTasksCount", Some(instance.running_tasks_count().into()))
        .text("status", instance.status())
        .text("statusReason", instance.status_reason())
        .list("tags", instance.tags.as_deref(), tag)
        .value("version", Some(instance.version().into()))
        .value(
            "versionInfo",
            instance.version_info().map(|info| {
                Fields::default()
                    .text("agentHash", info.agent_hash())
                    .text("agentVersion", info.agent_version())
                    .text("dockerVersion", info.docker_version())
                    .done()
            }),
        )
        .done()
}

fn container(container: &Container) -> Value {
    Fields::default()
        .text("containerArn", container.container_arn())
        .text("cpu", container.cpu())
        .value("exitCode", container.exit_code().map(Value::from))
        .list("gpuIds", container.gpu_ids.as_deref(), |id| id.as_str().into())
        .text("healthStatus", container.health_status().map(|h| h.as_str()))
        .text("image", container.image())
        .text("imageDigest", container.image_digest())
        .text("lastStatus", container.last_status())
        .list("managedAgents", container.managed_agents.as_deref(), managed_agent)
        .text("memory", container.memory())
        .text("memoryReservation", container.memory_reservation())
        .text("name", container.name())
        .list("networkBindings", container.network_bindings.as_deref(), network_binding)
        .list("networkInterfaces", container.network_interfaces.as_deref(), network_interface)
        .text("reason", container.reason())
        .text("runtimeId", container.runtime_id())
        .text("taskArn", container.task_arn())
        .done()
}

fn managed_agent(agent: &ManagedAgent) -> Value {
    Fields::default()
        .time("lastStartedAt", agent.last_started_at())
        .text("lastStatus", agent.last_status())
        .text("name", agent.name().map(|n| n.as_str()))
        .text("reason", agent.reason())
        .done()
}

fn network_binding(binding: &NetworkBinding) -> Value {
    Fields::default()
        .text("bindIP", binding.bind_ip())
        .value("containerPort", binding.container_port().map(Value::from))
        .text("containerPortRange", binding.container_port_range())
        .value("hostPort", binding.host_port().map(Value::from))
        .text("hostPortRange", binding.host_port_range())
        .text("protocol", binding.protocol().map(|p| p.as_str()))
        .done()
}

fn network_interface(interface: &NetworkInterface) -> Value {
    Fields::default()
        .text("attachmentId", interface.attachment_id())
        .text("ipv6Address", interface.ipv6_address())
        .text("privateIpv4Address", interface.private_ipv4_address())
        .done()
}

fn overrides(overrides: &TaskOverride) -> Value {
    Fields::default()
        .list("containerOverrides", overrides.container_overrides.as_deref(), container_override)
        .text("cpu", overrides.cpu())
        .value(
            "ephemeralStorage",
            overrides.ephemeral_storage().map(|s| json!({"sizeInGiB": s.size_in_gib()})),
        )
        .text("executionRoleArn", overrides.execution_role_arn())
        .list(
            "inferenceAcceleratorOverrides",
            overrides.inference_accelerator_overrides.as_deref(),
            |accelerator| {
                Fields::default()
                    .text("deviceName", accelerator.device_name())
                    .text("deviceType", accelerator.device_type())
                    .done()
            },
        )
        .text("memory", overrides.memory())
        .text("taskRoleArn", overrides.task_role_arn())
        .done()
}

fn container_override(entry: &ContainerOverride) -> Value {
    Fields::default()
        .list("command", entry.command.as_deref(), |part| part.as_str().into())
        .value("cpu", entry.cpu().map(Value::from))
        .list("environment", entry.environment.as_deref(), key_value)
        .list("environmentFiles", entry.environment_files.as_deref(), |file| {
            json!({"type": file.r#type().as_str(), "value": file.value()})
        })
        .value("memory", entry.memory().map(Value::from))
        .value("memoryReservation", entry.memory_reservation().map(Value::from))
        .text("name", entry.name())
        .list("resourceRequirements", entry.resource_requirements.as_deref(), |requirement| {
            json!({"type": requirement.r#type().as_str(), "value": requirement.value()})
        })
        .done()
}

fn attachment(attachment: &Attachment) -> Value {
    Fields::default()
        .list("details", attachment.details.as_deref(), key_value)
        .text("id", attachment.id())
        .text("status", attachment.status())
        .text("type", attachment.r#type())
        .done()
}

fn attribute(attribute: &Attribute) -> Value {
    Fields::default()
        .text("name", Some(attribute.name()))
        .text("targetId", attribute.target_id())
        .text("targetType", attribute.target_type().map(|t| t.as_str()))
        .text("value", attribute.value())
        .done()
}

fn key_value(pair: &KeyValuePair) -> Value {
    Fields::default().text("name", pair.name()).text("value", pair.value()).done()
}

fn tag(tag: &Tag) -> Value {
    Fields::default().text("key", tag.key()).text("value", tag.value()).done()
}

/// A resource with the one value its type says it has (the SDK fills the others with zero).
fn resource(resource: &Resource) -> Value {
    let kind = resource.r#type();
    let value = match kind {
        Some("INTEGER") => ("integerValue", resource.integer_value().into()),
        Some("LONG") => ("longValue", resource.long_value().into()),
        Some("DOUBLE") => ("doubleValue", resource.double_value().into()),
        _ => ("stringSetValue", resource.string_set_value().to_vec().into()),
    };
    Fields::default()
        .text("name", resource.name())
        .text("type", kind)
        .value(value.0, Some(value.1))
        .done()
}
