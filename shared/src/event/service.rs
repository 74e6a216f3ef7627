//! `ECS Service Action` and `ECS Deployment State Change` details.
//!
//! These events carry no `detail.version`: they are deduplicated by the envelope `id`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{DeploymentEventName, ServiceActionName, ServiceEventType, Timestamp};

/// The `detail` of an `ECS Service Action` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAction {
    /// Severity.
    pub event_type: ServiceEventType,
    /// What happened.
    pub event_name: ServiceActionName,
    /// ARN of the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_arn: Option<String>,
    /// When it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// Capacity providers involved (placement failures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider_arns: Option<Vec<String>>,
    /// Container instances involved (placement failures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_instance_arns: Option<Vec<String>>,
    /// EC2 instances involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2_instance_ids: Option<Vec<String>>,
    /// New desired count (`SERVICE_DESIRED_COUNT_UPDATED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_count: Option<i64>,
    /// Why (`RESOURCE:MEMORY`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Tasks involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_arns: Option<Vec<String>>,
    /// Task sets involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_set_arns: Option<Vec<String>>,
    /// Cloud Map registries involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_registry_arns: Option<Vec<String>>,
    /// Fields this version of the toolkit does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `detail` of an `ECS Deployment State Change` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStateChange {
    /// Severity.
    pub event_type: ServiceEventType,
    /// What happened.
    pub event_name: DeploymentEventName,
    /// Id of the deployment (`ecs-svc/...`).
    pub deployment_id: String,
    /// When it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    /// Why (for failures, the circuit breaker's words).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Fields this version of the toolkit does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
