//! `ecs-events tasks` and `ecs-events task`: read the state table.

use chrono::{DateTime, SecondsFormat};
use ecs_events::account::{AccountNames, account_of, region_of};
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

/// Which stored clusters a listing covers: `--cluster` (a name or an ARN), `--account` (an
/// id, or a name of `--account-names`) and `--region`; at least one is given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// A cluster's name or ARN.
    pub cluster: Option<String>,
    /// An account id, or its name.
    pub account: Option<String>,
    /// A Region.
    pub region: Option<String>,
}

/// The cluster ARNs `scope` covers, in ARN order: a cluster ARN as given (when it is in the
/// account and Region asked for); else every cluster of the stored tasks with that name (names
/// are only unique within an account and Region), in the account and Region asked for. The
/// error says what was asked for and which clusters there are.
pub async fn resolve_clusters(
    store: &dyn StateStore,
    scope: &Scope,
    names: &AccountNames,
) -> Result<Vec<String>, TasksError> {
    let account = match &scope.account {
        Some(given) => Some(names.resolve(given).ok_or_else(|| {
            TasksError::UnknownCluster(format!(
                "--account {given:?} is neither a 12-digit account id nor a name of \
                 --account-names (ACCOUNT_NAMES)"
            ))
        })?),
        None => None,
    };
    let region = scope.region.as_deref();
    let within = |arn: &str| {
        account.as_deref().is_none_or(|account| account_of(arn) == Some(account))
            && region.is_none_or(|region| region_of(arn) == Some(region))
    };
    // `in account prod-eu (111122223333) in eu-west-1`: the account and Region asked for.
    let place_words = || {
        let mut words = Vec::new();
        if let Some(account) = &account {
            let place = names.place(account, "");
            words.push(format!("in account {}", place.account_words().unwrap_or_default()));
        }
        if let Some(region) = region {
            words.push(format!("in {region}"));
        }
        words.join(" ")
    };
    if let Some(cluster) = scope.cluster.as_deref().filter(|cluster| cluster.starts_with("arn:")) {
        check_arn(ArnKind::Cluster, cluster)
            .map_err(|message| TasksError::UnknownCluster(format!("--cluster: {message}")))?;
        if !within(cluster) {
            return Err(TasksError::UnknownCluster(format!(
                "--cluster {cluster} is not {}",
                place_words()
            )));
        }
        return Ok(vec![cluster.to_owned()]);
    }
    let asked = || {
        let named = scope.cluster.as_ref().map(|cluster| format!("named {cluster:?}"));
        let place = Some(place_words()).filter(|words| !words.is_empty());
        [named, place].into_iter().flatten().collect::<Vec<_>>().join(" ")
    };
    let known = store.cluster_arns().await?;
    let suffix = scope.cluster.as_ref().map(|cluster| format!(":cluster/{cluster}"));
    let mut matching: Vec<String> = known
        .iter()
        .filter(|arn| suffix.as_ref().is_none_or(|suffix| arn.ends_with(suffix.as_str())))
        .filter(|arn| within(arn))
        .cloned()
        .collect();
    matching.sort();
    if matching.is_empty() {
        let several = known
            .iter()
            .map(|arn| (account_of(arn), region_of(arn)))
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1;
        let mut clusters: Vec<String> =
            known.iter().map(|arn| cluster_words(arn, names, several)).collect();
        clusters.sort();
        let clusters = if clusters.is_empty() { "none".to_owned() } else { clusters.join(", ") };
        return Err(TasksError::UnknownCluster(format!(
            "no stored task belongs to a cluster {} (clusters with stored tasks: {clusters})",
            asked()
        )));
    }
    Ok(matching)
}

/// A cluster as people read it: its name, and (`placed`) its account (its name when known)
/// and Region: `prod (prod-eu, eu-west-1)`.
pub fn cluster_words(cluster_arn: &str, names: &AccountNames, placed: bool) -> String {
    let name = cluster_arn.rsplit_once('/').map_or(cluster_arn, |(_, name)| name);
    if !placed {
        return name.to_owned();
    }
    let account = account_of(cluster_arn).unwrap_or_default();
    let label = names.name(account).unwrap_or(account);
    format!("{name} ({label}, {})", region_of(cluster_arn).unwrap_or("?"))
}

/// The heading of one cluster's lines when a listing covers several: `cluster prod in account
/// prod-eu (111122223333), eu-west-1: arn:…`.
pub fn heading(cluster_arn: &str, names: &AccountNames) -> String {
    let name = cluster_arn.rsplit_once('/').map_or(cluster_arn, |(_, name)| name);
    let account = account_of(cluster_arn).unwrap_or_default();
    let place = names.place(account, region_of(cluster_arn).unwrap_or_default());
    format!(
        "cluster {name} in account {}, {}: {cluster_arn}\n",
        place.account_words().unwrap_or_else(|| "?".to_owned()),
        place.region().unwrap_or("?")
    )
}

/// The lines of each cluster's listing (`render` makes them): one cluster's as they are,
/// several each under its [`heading`].
pub fn by_cluster<T>(
    groups: &[(String, Vec<T>)],
    names: &AccountNames,
    render: impl Fn(&[T]) -> String,
) -> String {
    match groups {
        [(_, items)] => render(items),
        groups => groups
            .iter()
            .map(|(cluster, items)| format!("{}{}", heading(cluster, names), render(items)))
            .collect::<Vec<_>>()
            .join("\n"),
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

    /// Which clusters `scope` covers, or its error.
    async fn resolved(store: &InMemoryStateStore, scope: Scope) -> Result<Vec<String>, String> {
        let names = AccountNames::parse("444455556666=staging").expect("names");
        resolve_clusters(store, &scope, &names).await.map_err(|error| error.to_string())
    }

    fn named(cluster: &str) -> Scope {
        Scope { cluster: Some(cluster.to_owned()), ..Scope::default() }
    }

    #[tokio::test]
    async fn given_a_cluster_name_then_it_resolves_to_the_stored_clusters_or_says_why_not() {
        let store = store_with(&[OOM, RUNNING]).await;
        let clusters = store.cluster_arns().await.expect("clusters");
        let name = clusters[0].rsplit('/').next().expect("name");
        assert_eq!(resolved(&store, named(name)).await.expect("known"), [clusters[0].clone()]);
        let unknown = resolved(&store, named("nope")).await.expect_err("unknown");
        assert!(unknown.contains("named \"nope\""), "{unknown}");
        assert!(unknown.contains(name), "{unknown}");
        let bad = resolved(&store, named("arn:aws:ecs:us-east-1:1:task/x/y")).await;
        assert!(bad.expect_err("not a cluster").starts_with("--cluster: "));
    }

    #[tokio::test]
    async fn given_one_cluster_name_in_several_accounts_and_regions_then_filters_choose() {
        let moved = |account: &str, region: &str| {
            OOM.replace("111122223333", account).replace("us-east-1", region)
        };
        let (staging, europe) =
            (moved("444455556666", "us-east-1"), moved("111122223333", "eu-west-1"));
        let store = store_with(&[OOM, &staging, &europe]).await;
        let arn = |account: &str, region: &str| {
            format!("arn:aws:ecs:{region}:{account}:cluster/prod-ec2")
        };
        let home = arn("111122223333", "us-east-1");
        // A name alone: every cluster of that name.
        let all = resolved(&store, named("prod-ec2")).await.expect("known");
        assert_eq!(
            all,
            [arn("111122223333", "eu-west-1"), home.clone(), arn("444455556666", "us-east-1")]
        );
        // By account (its id or its name) and Region.
        let by = |account: Option<&str>, region: Option<&str>| Scope {
            cluster: Some("prod-ec2".into()),
            account: account.map(str::to_owned),
            region: region.map(str::to_owned),
        };
        assert_eq!(
            resolved(&store, by(Some("staging"), None)).await.expect("named"),
            [arn("444455556666", "us-east-1")]
        );
        assert_eq!(
            resolved(&store, by(Some("111122223333"), Some("us-east-1"))).await.expect("id"),
            std::slice::from_ref(&home)
        );
        assert_eq!(resolved(&store, by(None, Some("eu-west-1"))).await.expect("region").len(), 1);
        // Without a cluster: every cluster of the account.
        let scope = Scope { account: Some("111122223333".into()), ..Scope::default() };
        assert_eq!(resolved(&store, scope).await.expect("account").len(), 2);
        // What cannot be: each error says what was asked and what there is.
        let error = resolved(&store, by(Some("prod"), None)).await.expect_err("no such name");
        assert!(
            error.starts_with("--account \"prod\" is neither a 12-digit account id nor a name"),
            "{error}"
        );
        let error =
            resolved(&store, by(Some("staging"), Some("eu-west-1"))).await.expect_err("none");
        assert!(
            error.starts_with("no stored task belongs to a cluster named \"prod-ec2\" in account staging (444455556666) in eu-west-1"),
            "{error}"
        );
        assert!(error.contains("prod-ec2 (staging, us-east-1)"), "{error}");
        let scope = Scope {
            cluster: Some(home.clone()),
            region: Some("eu-west-1".into()),
            ..Scope::default()
        };
        let error = resolved(&store, scope).await.expect_err("elsewhere");
        assert_eq!(error, format!("--cluster {home} is not in eu-west-1"));
        let names = AccountNames::parse("444455556666=staging").expect("names");
        assert_eq!(
            heading(&arn("444455556666", "us-east-1"), &names),
            "cluster prod-ec2 in account staging (444455556666), us-east-1: arn:aws:ecs:us-east-1:444455556666:cluster/prod-ec2\n"
        );
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
