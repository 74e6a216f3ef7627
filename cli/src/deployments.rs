//! `ecs-events deployments`: a cluster's (or one service's) deployments from the deployment
//! table, each with what its tasks did and the rollback it was part of.

use ecs_events::account::same_place;
use ecs_events::service::{DeploymentTasks, DeploymentView, ServiceStore, views};
use ecs_events::state::StateStore;

use crate::columns::aligned;
use crate::tasks::TasksError;

/// The deployments of the cluster `cluster_arn` (of service `service`, a name, when given),
/// oldest first, with their tasks.
pub async fn list(
    services: &dyn ServiceStore,
    state: &dyn StateStore,
    cluster_arn: &str,
    service: Option<&str>,
) -> Result<Vec<DeploymentView>, TasksError> {
    let service_arn = service.map(|name| {
        let (prefix, cluster) = cluster_arn.split_once(":cluster/").unwrap_or((cluster_arn, ""));
        format!("{prefix}:service/{cluster}/{name}")
    });
    let records = services.deployments(cluster_arn, service_arn.as_deref()).await?;
    let mut counts = std::collections::HashMap::new();
    for record in &records {
        let mut tasks = state.deployment_tasks(&record.deployment_id).await?;
        tasks.retain(|task| same_place(&task.task_arn, &record.service_arn));
        let key = (record.service_arn.clone(), record.deployment_id.clone());
        counts.insert(key, DeploymentTasks::of(&tasks));
    }
    Ok(views(records, |record| {
        let key = (record.service_arn.clone(), record.deployment_id.clone());
        counts.remove(&key).unwrap_or_default()
    }))
}

/// The table people read: one line per deployment.
pub fn render(deployments: &[DeploymentView]) -> String {
    const HEADERS: [&str; 8] =
        ["DEPLOYMENT", "SERVICE", "STATUS", "STARTED", "ENDED", "TASKS", "ROLLBACK", "REASON"];
    let rows: Vec<[String; 8]> = deployments
        .iter()
        .map(|view| {
            let text = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
            let counts = &view.task_counts;
            let rollback = match (&view.rolled_back_to, &view.rollback_of) {
                (Some(target), _) => format!("to {target}"),
                (None, Some(failed)) => format!("of {failed}"),
                (None, None) => "-".to_owned(),
            };
            let reason: String = text(&view.reason).chars().take(60).collect();
            [
                view.deployment_id.clone(),
                view.service.rsplit('/').next().unwrap_or(&view.service).to_owned(),
                view.status.clone(),
                text(&view.started_at),
                text(&view.ended_at),
                format!(
                    "{} started, {} running, {} failed",
                    counts.started, counts.reached_running, counts.failed
                ),
                rollback,
                reason,
            ]
        })
        .collect();
    let mut out = aligned(HEADERS, &rows);
    out.push_str(&format!(
        "{} deployment{}\n",
        deployments.len(),
        if deployments.len() == 1 { "" } else { "s" }
    ));
    out
}
