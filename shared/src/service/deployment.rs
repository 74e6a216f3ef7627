//! Deployments: the state a deployment event asks to store, the record kept, the tasks a
//! deployment started, and the view reports and the CLI show (with rollbacks linked).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::event::{EcsDetail, EcsEvent, TaskOutcome};
use crate::state::TaskSummary;

/// What a deployment event asks to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentChange {
    /// The deployment id (`ecs-svc/…`).
    pub deployment_id: String,
    /// The service (`resources[0]`).
    pub service_arn: String,
    /// The service's cluster, when its ARN names it.
    pub cluster_arn: Option<String>,
    /// The state: `IN_PROGRESS`, `COMPLETED`, `FAILED`…
    pub status: String,
    /// Why, in ECS's words.
    pub reason: Option<String>,
    /// `updatedAt` (else the event's time), epoch milliseconds: the order of states.
    pub updated_ms: i64,
    /// The envelope id of the event.
    pub event_id: String,
    /// The deployment the reason says a rollback goes back to.
    pub rolled_back_to: Option<String>,
    /// Whether this deployment is itself a rollback (an in-progress reason names the target).
    pub rollback: bool,
    /// When the record expires (epoch seconds).
    pub expires_at: i64,
}

impl DeploymentChange {
    /// The change a deployment event asks for (`None` for other events); the record expires
    /// `retention` after the event's `updatedAt`.
    pub fn from_event(event: &EcsEvent, retention: Duration) -> Option<Self> {
        let EcsDetail::Deployment(deployment) = &event.detail else { return None };
        let service_arn = event.resources().first()?.clone();
        let updated = deployment.updated_at.as_ref().unwrap_or(&event.time).instant();
        let rolled_back_to = deployment.rolled_back_to().map(str::to_owned);
        Some(Self {
            deployment_id: deployment.deployment_id.clone(),
            cluster_arn: super::cluster_arn_of(&service_arn),
            service_arn,
            status: deployment.status().to_owned(),
            reason: deployment.reason.clone(),
            updated_ms: updated.timestamp_millis(),
            event_id: event.id.clone(),
            rollback: rolled_back_to.is_some() && !deployment.is_finished(),
            rolled_back_to,
            expires_at: (updated + retention).timestamp(),
        })
    }

    /// Whether the change ends the deployment.
    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "COMPLETED" | "FAILED")
    }
}

/// The newest known state of one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentRecord {
    /// The deployment id.
    pub deployment_id: String,
    /// The service.
    pub service_arn: String,
    /// The service's cluster, when its ARN names it.
    pub cluster_arn: Option<String>,
    /// The newest state: `IN_PROGRESS`, `COMPLETED`, `FAILED`…
    pub status: String,
    /// The newest state's reason.
    pub reason: Option<String>,
    /// The newest state's `updatedAt`, epoch milliseconds.
    pub updated_ms: i64,
    /// The newest state's event id.
    pub event_id: String,
    /// When it started (its in-progress state's `updatedAt`, when that arrived first).
    pub started_ms: Option<i64>,
    /// When it completed or failed.
    pub ended_ms: Option<i64>,
    /// The deployment a rollback went back to, once a reason said so.
    pub rolled_back_to: Option<String>,
    /// Whether it is itself a rollback.
    pub rollback: bool,
    /// When it expires (epoch seconds).
    pub expires_at: i64,
}

impl DeploymentRecord {
    /// The record after `change` (newer than `stored`, if any): the new state, with what the
    /// older one learnt kept — its start, its end, the rollback target.
    pub fn apply(stored: Option<&Self>, change: DeploymentChange) -> Self {
        let finished = change.is_finished();
        let in_progress = change.status == "IN_PROGRESS";
        let started_ms = stored
            .and_then(|stored| stored.started_ms)
            .or(in_progress.then_some(change.updated_ms));
        Self {
            started_ms,
            ended_ms: if finished {
                Some(change.updated_ms)
            } else {
                stored.and_then(|stored| stored.ended_ms)
            },
            rolled_back_to: change
                .rolled_back_to
                .or_else(|| stored.and_then(|stored| stored.rolled_back_to.clone())),
            rollback: change.rollback || stored.is_some_and(|stored| stored.rollback),
            deployment_id: change.deployment_id,
            service_arn: change.service_arn,
            cluster_arn: change.cluster_arn,
            status: change.status,
            reason: change.reason,
            updated_ms: change.updated_ms,
            event_id: change.event_id,
            expires_at: change.expires_at,
        }
    }

    /// The service's name.
    pub fn service_name(&self) -> &str {
        self.service_arn.rsplit('/').next().unwrap_or(&self.service_arn)
    }
}

/// What the tasks a deployment started did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentTasks {
    /// The task ARNs, sorted, each once.
    #[serde(skip)]
    pub tasks: Vec<String>,
    /// How many it started.
    pub started: usize,
    /// How many reached RUNNING.
    pub reached_running: usize,
    /// How many stopped.
    pub stopped: usize,
    /// How many failed (failed, killed for memory, never started).
    pub failed: usize,
    /// The failed tasks by cause, most first.
    pub failed_causes: Vec<CauseCount>,
}

/// How many tasks failed of one cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CauseCount {
    /// The cause (`CannotPullContainerError`, `exit 1`...).
    pub cause: String,
    /// How many.
    pub count: usize,
}

impl DeploymentTasks {
    /// The summary of a deployment's tasks, as the state table holds them.
    pub fn of(tasks: &[TaskSummary]) -> Self {
        let mut arns: Vec<String> = tasks.iter().map(|task| task.task_arn.clone()).collect();
        arns.sort();
        arns.dedup();
        let mut causes: BTreeMap<&str, usize> = BTreeMap::new();
        let mut summary = Self { started: arns.len(), ..Self::default() };
        for task in tasks {
            if task.facts.started_at.is_some() || task.last_status == "RUNNING" {
                summary.reached_running += 1;
            }
            if task.last_status == "STOPPED" {
                summary.stopped += 1;
            }
            let failed = task.facts.outcome.as_deref().is_some_and(|outcome| {
                [TaskOutcome::Failed, TaskOutcome::Oom, TaskOutcome::FailedToStart]
                    .iter()
                    .any(|failure| failure.as_str() == outcome)
            });
            if failed {
                summary.failed += 1;
                *causes
                    .entry(task.facts.stop_cause.as_deref().unwrap_or("unknown"))
                    .or_default() += 1;
            }
        }
        let mut causes: Vec<CauseCount> = causes
            .into_iter()
            .map(|(cause, count)| CauseCount { cause: cause.to_owned(), count })
            .collect();
        causes.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.cause.cmp(&b.cause)));
        summary.failed_causes = causes;
        summary.tasks = arns;
        summary
    }

    /// `4 tasks failed (CannotPullContainerError)`: the count and the top cause, for a subject;
    /// `no task failed`.
    pub fn headline(&self) -> String {
        match (self.failed, self.failed_causes.first()) {
            (0, _) | (_, None) => "no task failed".to_owned(),
            (1, Some(top)) => format!("1 task failed ({})", top.cause),
            (failed, Some(top)) => format!("{failed} tasks failed ({})", top.cause),
        }
    }

    /// `5 tasks failed: CannotPullContainerError ×4, exit 1 ×1` (the top two causes), or
    /// `no task failed`.
    pub fn failures(&self) -> String {
        if self.failed == 0 {
            return "no task failed".to_owned();
        }
        let top: Vec<String> = self
            .failed_causes
            .iter()
            .take(2)
            .map(|top| format!("{} ×{}", top.cause, top.count))
            .collect();
        let more = if self.failed_causes.len() > 2 { ", …" } else { "" };
        let tasks = if self.failed == 1 { "task" } else { "tasks" };
        format!("{} {tasks} failed: {}{more}", self.failed, top.join(", "))
    }
}

/// A deployment as reports and the CLI show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentView {
    /// The deployment id.
    pub deployment_id: String,
    /// The service ARN.
    pub service: String,
    /// The cluster ARN, when the service ARN names it.
    pub cluster: Option<String>,
    /// The newest state (`FAILED`...).
    pub status: String,
    /// The newest state's reason.
    pub reason: Option<String>,
    /// The deployment the service went back to when this one failed.
    pub rolled_back_to: Option<String>,
    /// For a rollback: the failed deployment it rolled back.
    pub rollback_of: Option<String>,
    /// For a rollback: the deployment it brings back.
    pub restores: Option<String>,
    /// When it started, when known.
    pub started_at: Option<String>,
    /// When it completed or failed.
    pub ended_at: Option<String>,
    /// How long it ran (to its end, or to its newest state).
    pub duration_seconds: Option<i64>,
    /// The ARNs of the tasks it started, each once.
    pub tasks: Vec<String>,
    /// What they did.
    pub task_counts: DeploymentTasks,
}

/// A failed deployment followed by a rollback this long after it (or less) was rolled back by
/// it (events of one change of state arrive seconds apart).
const ROLLBACK_SLACK_MS: i64 = 120_000;

/// The views of `records` (any services, accounts and Regions; `tasks` gives each
/// deployment's tasks), with each rollback linked to the failed deployment it rolled back (the
/// rollback's reason names only its target): oldest first.
pub fn views(
    records: Vec<DeploymentRecord>,
    mut tasks: impl FnMut(&DeploymentRecord) -> DeploymentTasks,
) -> Vec<DeploymentView> {
    let mut views: Vec<(DeploymentRecord, DeploymentView)> = records
        .into_iter()
        .map(|record| {
            let counts = tasks(&record);
            let end = record.ended_ms.unwrap_or(record.updated_ms);
            let view = DeploymentView {
                deployment_id: record.deployment_id.clone(),
                service: record.service_arn.clone(),
                cluster: record.cluster_arn.clone(),
                status: record.status.clone(),
                reason: record.reason.clone(),
                rolled_back_to: (!record.rollback).then(|| record.rolled_back_to.clone()).flatten(),
                rollback_of: None,
                restores: record.rollback.then(|| record.rolled_back_to.clone()).flatten(),
                started_at: record.started_ms.map(iso),
                ended_at: record.ended_ms.map(iso),
                duration_seconds: record.started_ms.map(|start| (end - start).max(0) / 1_000),
                tasks: counts.tasks.clone(),
                task_counts: counts,
            };
            (record, view)
        })
        .collect();
    views.sort_by(|a, b| {
        let start = |record: &DeploymentRecord| record.started_ms.unwrap_or(record.updated_ms);
        start(&a.0).cmp(&start(&b.0)).then_with(|| a.0.deployment_id.cmp(&b.0.deployment_id))
    });
    let rollbacks: Vec<(usize, String, i64)> = views
        .iter()
        .enumerate()
        .filter_map(|(index, (record, _))| {
            let start = record.started_ms.unwrap_or(record.updated_ms);
            record.rollback.then(|| (index, record.service_arn.clone(), start))
        })
        .collect();
    for (rollback, service, start) in rollbacks {
        let failed = views
            .iter()
            .enumerate()
            .filter(|(index, (record, _))| {
                *index != rollback
                    && record.service_arn == service
                    && record.status == "FAILED"
                    && record.ended_ms.unwrap_or(record.updated_ms) <= start + ROLLBACK_SLACK_MS
            })
            .max_by_key(|(_, (record, _))| record.ended_ms.unwrap_or(record.updated_ms))
            .map(|(index, _)| index);
        if let Some(failed) = failed {
            let target = views[rollback].1.restores.clone();
            let failed_id = views[failed].1.deployment_id.clone();
            views[rollback].1.rollback_of = Some(failed_id);
            let failed_view = &mut views[failed].1;
            if failed_view.rolled_back_to.is_none() {
                failed_view.rolled_back_to = target;
            }
        }
    }
    views.into_iter().map(|(_, view)| view).collect()
}

/// Epoch milliseconds as `2024-06-07T16:05:00.000Z`.
fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map_or_else(|| ms.to_string(), |at| at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(id: &str, status: &str, at: i64, reason: Option<&str>) -> DeploymentChange {
        let reason = reason.map(str::to_owned);
        let rolled_back_to = reason.as_deref().and_then(|r| {
            r.split("deploymentId ").nth(1).map(|id| id.trim_end_matches('.').to_owned())
        });
        DeploymentChange {
            deployment_id: id.to_owned(),
            service_arn: "arn:aws:ecs:us-east-1:111122223333:service/prod/web".to_owned(),
            cluster_arn: Some("arn:aws:ecs:us-east-1:111122223333:cluster/prod".to_owned()),
            rollback: rolled_back_to.is_some() && status == "IN_PROGRESS",
            rolled_back_to,
            status: status.to_owned(),
            reason,
            updated_ms: at,
            event_id: format!("e-{at}"),
            expires_at: 0,
        }
    }

    #[test]
    fn given_states_in_order_then_the_record_keeps_start_end_and_rollback_target() {
        let started = DeploymentRecord::apply(None, change("d", "IN_PROGRESS", 1_000, None));
        let failed = DeploymentRecord::apply(
            Some(&started),
            change(
                "d",
                "FAILED",
                61_000,
                Some("circuit breaker. Rolling back to deploymentId old."),
            ),
        );
        assert_eq!(failed.started_ms, Some(1_000));
        assert_eq!(failed.ended_ms, Some(61_000));
        assert_eq!(failed.rolled_back_to.as_deref(), Some("old"));
        assert!(!failed.rollback);
        // A failed state arriving first: its start stays unknown.
        let alone = DeploymentRecord::apply(None, change("d", "FAILED", 61_000, None));
        assert_eq!((alone.started_ms, alone.ended_ms), (None, Some(61_000)));
    }

    #[test]
    fn given_a_rollback_then_the_failed_deployment_is_linked_to_it_and_its_target() {
        let failed = DeploymentRecord::apply(
            Some(&DeploymentRecord::apply(None, change("new", "IN_PROGRESS", 0, None))),
            change(
                "new",
                "FAILED",
                300_000,
                Some("ECS deployment circuit breaker: task failed to start."),
            ),
        );
        let rollback = DeploymentRecord::apply(
            None,
            change("back", "IN_PROGRESS", 301_000, Some("rolling back to deploymentId old.")),
        );
        let rollback =
            DeploymentRecord::apply(Some(&rollback), change("back", "COMPLETED", 900_000, None));
        let views = views(vec![rollback, failed], |_| DeploymentTasks::default());
        let [failed, rollback] = views.as_slice() else { panic!("two") };
        assert_eq!(failed.deployment_id, "new");
        assert_eq!(failed.rolled_back_to.as_deref(), Some("old"));
        assert_eq!(failed.duration_seconds, Some(300));
        assert_eq!(rollback.rollback_of.as_deref(), Some("new"));
        assert_eq!(rollback.restores.as_deref(), Some("old"));
        assert_eq!(rollback.rolled_back_to, None);
        assert_eq!(rollback.status, "COMPLETED");
    }
}
