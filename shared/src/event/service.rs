//! `ECS Service Action` and `ECS Deployment State Change` details.
//!
//! These events carry no `detail.version`: they are deduplicated by the envelope `id`.

use serde::{Deserialize, Serialize};

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
}

impl DeploymentStateChange {
    /// The state the event tells of: its `eventName` without `SERVICE_DEPLOYMENT_`
    /// (`IN_PROGRESS`, `COMPLETED`, `FAILED`, or a name ECS adds later, as sent).
    pub fn status(&self) -> &str {
        let name = self.event_name.as_str();
        name.strip_prefix("SERVICE_DEPLOYMENT_").unwrap_or(name)
    }

    /// Whether the deployment ended (completed or failed).
    pub fn is_finished(&self) -> bool {
        matches!(self.event_name, DeploymentEventName::Completed | DeploymentEventName::Failed)
    }

    /// The deployment a rollback goes back to, as the reason names it ("… Rolling back to
    /// deploymentId ecs-svc/123."): on a failed deployment, where the service went back to;
    /// on the rollback deployment itself, what it restores.
    pub fn rolled_back_to(&self) -> Option<&str> {
        rollback_target(self.reason.as_deref()?)
    }
}

/// The deployment id after "rolling back to deploymentId" in a reason (any letter case).
fn rollback_target(reason: &str) -> Option<&str> {
    const MARKER: &str = "rolling back to deploymentid";
    // ASCII lower-casing keeps byte offsets, so the offset indexes the original text.
    let at = reason.to_ascii_lowercase().find(MARKER)? + MARKER.len();
    let id = reason[at..].split_whitespace().next()?;
    let id = id.trim_end_matches(['.', ',', ';', ')']);
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_rollback_reasons_then_the_target_deployment_is_read_in_either_case() {
        assert_eq!(
            rollback_target(
                "ECS deployment circuit breaker: task failed to start. Rolling back to deploymentId ecs-svc/6001002003004005000."
            ),
            Some("ecs-svc/6001002003004005000")
        );
        assert_eq!(
            rollback_target(
                "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/123."
            ),
            Some("ecs-svc/123")
        );
        assert_eq!(rollback_target("ECS deployment ecs-svc/123 completed."), None);
        assert_eq!(rollback_target("rolling back to deploymentId "), None);
    }
}
