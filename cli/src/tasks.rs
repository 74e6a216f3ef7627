//! `ecs-events tasks` and `ecs-events task`: read the state table.

use chrono::{DateTime, SecondsFormat};
use ecs_events::event::{ArnKind, check_arn};
use ecs_events::state::{Detail, ResourceKind, StateStore, StoreError, TaskSummary};

use crate::columns::aligned;

/// Why the state could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum TasksError {
    /// The cluster given is not one the table holds tasks of (or not a cluster ARN).
    #[error("{0}")]
    UnknownCluster(String),
    /// The task ARN given is not a task ARN.
    #[error("{0}")]
    InvalidTask(String),
    /// The table has no state for the task.
    #[error("no stored state for task {0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The cluster ARN for `cluster`: an ARN as given, or the one cluster of the stored tasks with
/// that name (names are only unique within an account and region).
pub async fn resolve_cluster(store: &dyn StateStore, cluster: &str) -> Result<String, TasksError> {
    if cluster.starts_with("arn:") {
        check_arn(ArnKind::Cluster, cluster)
            .map_err(|message| TasksError::UnknownCluster(format!("--cluster: {message}")))?;
        return Ok(cluster.to_owned());
    }
    let known = store.cluster_arns().await?;
    let suffix = format!(":cluster/{cluster}");
    let matching: Vec<&String> = known.iter().filter(|arn| arn.ends_with(&suffix)).collect();
    match matching.as_slice() {
        [arn] => Ok((*arn).clone()),
        [] => {
            let names: Vec<&str> =
                known.iter().filter_map(|arn| arn.rsplit_once('/').map(|(_, name)| name)).collect();
            let names = if names.is_empty() { "none".to_owned() } else { names.join(", ") };
            Err(TasksError::UnknownCluster(format!(
                "no stored task belongs to a cluster named {cluster:?} (clusters with stored tasks: {names})"
            )))
        }
        several => Err(TasksError::UnknownCluster(format!(
            "several clusters are named {cluster:?}: give the ARN of one of {}",
            several.iter().map(|arn| arn.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// The tasks of a cluster, of one status and one service when given, in task ARN order.
pub async fn list(
    store: &dyn StateStore,
    cluster_arn: &str,
    status: Option<&str>,
    service: Option<&str>,
) -> Result<Vec<TaskSummary>, TasksError> {
    let group = service.map(|service| format!("service:{service}"));
    let mut tasks = store.list_tasks(cluster_arn, status).await?;
    tasks.retain(|task| group.is_none() || task.facts.group == group);
    Ok(tasks)
}

/// The stored details of `tasks` (a task gone since it was listed is left out).
pub async fn details(
    store: &dyn StateStore,
    tasks: &[TaskSummary],
) -> Result<Vec<Detail>, TasksError> {
    let mut details = Vec::with_capacity(tasks.len());
    for task in tasks {
        if let Some(record) = store.get(ResourceKind::Task, &task.task_arn).await? {
            details.push(record.detail);
        }
    }
    Ok(details)
}

/// The stored detail of one task.
pub async fn detail(store: &dyn StateStore, task_arn: &str) -> Result<Detail, TasksError> {
    check_arn(ArnKind::Task, task_arn).map_err(TasksError::InvalidTask)?;
    match store.get(ResourceKind::Task, task_arn).await? {
        Some(record) => Ok(record.detail),
        None => Err(TasksError::NotFound(task_arn.to_owned())),
    }
}

/// The table people read: one line per task. A task the reconciler marked missing (ECS no
/// longer lists it) says so after its status.
pub fn render(tasks: &[TaskSummary]) -> String {
    const HEADERS: [&str; 8] =
        ["TASK", "GROUP", "STATUS", "VERSION", "STARTED", "STOPPED", "STOP CODE", "FAILED"];
    let rows: Vec<[String; 8]> = tasks
        .iter()
        .map(|task| {
            let text = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
            let status =
                match task.missing_since.and_then(|since| DateTime::from_timestamp(since, 0)) {
                    Some(since) => format!(
                        "{} (missing since {})",
                        task.last_status,
                        since.to_rfc3339_opts(SecondsFormat::Secs, true)
                    ),
                    None => task.last_status.clone(),
                };
            [
                task.task_arn.rsplit('/').next().unwrap_or(&task.task_arn).to_owned(),
                text(&task.facts.group),
                status,
                task.version.to_string(),
                text(&task.facts.started_at),
                text(&task.facts.stopped_at),
                text(&task.facts.stop_code),
                text(&task.facts.failed_containers),
            ]
        })
        .collect();
    let mut out = aligned(HEADERS, &rows);
    out += &format!("{} task{}\n", rows.len(), if rows.len() == 1 { "" } else { "s" });
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ecs_events::event::ReceivedEvent;
    use ecs_events::state::{Create, InMemoryStateStore, Retention, StateRecord};

    use super::*;

    async fn store_with(events: &[&str]) -> Arc<InMemoryStateStore> {
        let store = Arc::new(InMemoryStateStore::new());
        for event in events {
            let received = ReceivedEvent::from_slice(event.as_bytes()).expect("event");
            let record = StateRecord::from_event(received, Retention::default());
            let record = record.expect("fits").expect("a task");
            store.put_if_newer(record, Create::Allowed).await.expect("put");
        }
        store
    }

    const OOM: &str = include_str!("../../events/samples/task-oom-killed.json");
    const RUNNING: &str = include_str!("../../events/samples/task-ec2-running.json");

    #[tokio::test]
    async fn given_a_cluster_name_then_it_resolves_to_the_one_stored_cluster_or_says_why_not() {
        let store = store_with(&[OOM, RUNNING]).await;
        let clusters = store.cluster_arns().await.expect("clusters");
        let name = clusters[0].rsplit('/').next().expect("name");
        assert_eq!(resolve_cluster(store.as_ref(), name).await.expect("known"), clusters[0]);
        let unknown = resolve_cluster(store.as_ref(), "nope").await.expect_err("unknown");
        assert!(unknown.to_string().contains("named \"nope\""), "{unknown}");
        assert!(unknown.to_string().contains(name), "{unknown}");
        let bad = resolve_cluster(store.as_ref(), "arn:aws:ecs:us-east-1:1:task/x/y").await;
        assert!(bad.expect_err("not a cluster").to_string().starts_with("--cluster: "));
    }

    #[tokio::test]
    async fn given_stored_tasks_then_the_table_has_a_line_per_task_with_its_facts() {
        let store = store_with(&[OOM]).await;
        let cluster = store.cluster_arns().await.expect("clusters").remove(0);
        let tasks = list(store.as_ref(), &cluster, Some("STOPPED"), None).await.expect("list");
        assert_eq!(tasks.len(), 1);
        let table = render(&tasks);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("TASK"), "{table}");
        assert!(lines[1].contains("STOPPED") && lines[1].contains("137"), "{table}");
        assert_eq!(lines[2], "1 task");
        let none = list(store.as_ref(), &cluster, Some("RUNNING"), None).await.expect("list");
        assert!(none.is_empty());
        let other = list(store.as_ref(), &cluster, None, Some("no-such-service")).await;
        assert!(other.expect("list").is_empty());
        let detail = detail(store.as_ref(), &tasks[0].task_arn).await.expect("stored");
        assert!(detail.as_str().contains("\"lastStatus\":\"STOPPED\""));
    }

    #[tokio::test]
    async fn given_a_task_marked_missing_then_its_line_says_since_when() {
        let store = store_with(&[RUNNING]).await;
        let cluster = store.cluster_arns().await.expect("clusters").remove(0);
        let task = list(store.as_ref(), &cluster, None, None).await.expect("list").remove(0);
        let marked = store.mark_missing(
            ResourceKind::Task,
            &task.task_arn,
            task.version,
            1_764_118_800,
            1_764_723_600,
        );
        assert!(marked.await.expect("mark"));
        let tasks = list(store.as_ref(), &cluster, None, None).await.expect("list");
        let table = render(&tasks);
        assert!(table.contains("RUNNING (missing since 2025-11-26T01:00:00Z)"), "{table}");
    }
}
