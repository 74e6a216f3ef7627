//! Messages about services rather than tasks: a deployment (failed: whether it rolled back and
//! to which deployment, how many of its tasks failed and why, how long it ran), a service that
//! is down (silent), a service that recovered, and an incident that ended ("resolved") — the
//! last two in the thread of the messages they end.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::chat::{ChatContent, code};
use super::render::{
    Alert, AlertKind, Draft, Late, MatchContext, Told, alert_target, assemble, console_url,
    duration, event_time, labelled, subject_line,
};
use super::{AlertRule, Severity};
use crate::account::{AccountNames, Place, account_of};
use crate::event::{DeploymentStateChange, EcsEvent};
use crate::incident::thread_id;
use crate::service::health::Resolution;
use crate::service::{DeploymentRecord, DeploymentTasks, ServiceRecord, Trouble};

/// The rule name silence and its recovery are told under.
pub const SERVICE_DOWN_RULE: &str = "service-down";

/// What the alerter knows of a deployment beyond its event: its record (when it started) and
/// what its tasks did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeploymentContext {
    /// The stored record, when there is one.
    pub record: Option<DeploymentRecord>,
    /// Its tasks.
    pub tasks: DeploymentTasks,
    /// The service's last deployment that completed before this one: where a rollback goes
    /// when the event does not name it.
    pub last_completed: Option<String>,
}

/// The parts of a service ARN: region, cluster and name (`…:<region>:<account>:service/<cluster>/<name>`).
fn service_parts(service_arn: &str) -> (&str, &str, &str) {
    let region = service_arn.split(':').nth(3).unwrap_or_default();
    let mut path = service_arn.rsplit('/');
    let name = path.next().unwrap_or_default();
    let cluster = path.next().filter(|cluster| !cluster.contains(':')).unwrap_or_default();
    (region, cluster, name)
}

/// The deployment message `rule` raises for `event` (`context`: its record and tasks).
pub(super) fn render_deployment(
    rule: &AlertRule,
    event: &EcsEvent,
    deployment: &DeploymentStateChange,
    context: &MatchContext,
    late: Option<&Late>,
) -> Draft {
    let detail = match context.detail.as_deref().map(serde_json::from_str) {
        Some(Ok(detail)) => detail,
        _ => serde_json::to_value(deployment).unwrap_or(Value::Null),
    };
    let context = context.deployment.as_ref();
    let target = alert_target(rule, event);
    let service_arn = target.0.clone();
    let (region, cluster, name) = service_parts(&service_arn);
    let status = deployment.status();
    let failed = status == "FAILED";
    let record = context.and_then(|context| context.record.as_ref());
    let tasks = context.map(|context| &context.tasks);
    let rolled_back_to = deployment
        .rolled_back_to()
        .map(str::to_owned)
        .or_else(|| record.and_then(|record| record.rolled_back_to.clone()));
    let is_rollback = record.is_some_and(|record| record.rollback)
        || (rolled_back_to.is_some() && !deployment.is_finished());
    let updated = deployment.updated_at.as_ref().unwrap_or(&event.time).instant();
    let started_ms = record.and_then(|record| record.started_ms);
    let ran = started_ms.map(|start| (updated.timestamp_millis() - start).max(0) / 1_000);
    let words = status.to_lowercase().replace('_', " ");
    let last_completed = context.and_then(|context| context.last_completed.as_deref());
    let mut headline = Vec::new();
    if let Some(tasks) = tasks.filter(|tasks| tasks.started > 0 || failed) {
        headline.push(tasks.headline());
    }
    if failed && rolled_back_to.is_some() {
        headline.push("rolled back".to_owned());
    }
    if is_rollback && !failed {
        headline.push("a rollback".to_owned());
    }
    let subject = subject_line(&format!(
        "ECS deployment {words}{}: {cluster}/{name}{}",
        Late::ago(late),
        if headline.is_empty() { String::new() } else { format!(": {}", headline.join(", ")) }
    ));
    let deployments_url = console_url(region, cluster, &format!("services/{name}/deployments"));
    let events_url = console_url(region, cluster, &format!("services/{name}/events"));

    let mut text = String::new();
    let mut line = |label: &str, value: Option<&str>| labelled(&mut text, label, value);
    line("Delivered late:", late.map(Late::line).as_deref());
    line("Service:", Some(&format!("{name} (cluster {cluster})")));
    line("Deployment:", Some(&deployment.deployment_id));
    line("Status:", Some(status));
    if failed {
        let target = match (&rolled_back_to, last_completed) {
            (Some(target), _) => target.clone(),
            (None, Some(last)) => format!(
                "{last}, the last completed deployment, if rollback is on (the event does not say)"
            ),
            (None, None) => "not named in the event".to_owned(),
        };
        line("Rolled back to:", Some(&target));
    } else if is_rollback {
        line("Rollback to:", rolled_back_to.as_deref());
    }
    line("Reason:", deployment.reason.as_deref());
    match (started_ms, ran) {
        (Some(start), Some(ran)) => {
            let span = format!(
                "{} to {} ({})",
                event_time(start.div_euclid(1_000)),
                event_time(updated.timestamp()),
                duration(ran)
            );
            line(if deployment.is_finished() { "Ran:" } else { "Running:" }, Some(&span));
        }
        _ => {
            let at = format!("{} (its start was not seen)", event_time(updated.timestamp()));
            line("At:", Some(&at));
        }
    }
    if let Some(tasks) = tasks {
        line(
            "Tasks:",
            Some(&format!(
                "{} started, {} reached RUNNING, {} stopped",
                tasks.started, tasks.reached_running, tasks.stopped
            )),
        );
        line("Failed:", Some(&tasks.failures()));
    }
    let _ = writeln!(text, "\nDeployments: {deployments_url}");
    let _ = writeln!(text, "Events:      {events_url}");
    let _ = writeln!(text, "Rule: {}{}", rule.name, super::render::describe(rule));
    let _ = writeln!(text, "Event: {} at {}", event.id, event.time);

    let mut attributes = BTreeMap::from([
        ("rule".to_owned(), json!(rule.name)),
        ("service".to_owned(), json!(name)),
    ]);
    if !cluster.is_empty() {
        attributes.insert("cluster".to_owned(), json!(cluster));
    }
    let fields = json!({
        "detailType": event.detail_type,
        "cluster": cluster,
        "service": name,
        "serviceArn": service_arn,
        "resource": service_arn,
        "deploymentId": deployment.deployment_id,
        "status": status,
        "reason": deployment.reason,
        "rolledBackTo": if is_rollback && !failed { None } else { rolled_back_to.clone() },
        "rollback": is_rollback,
        "startedAt": started_ms.map(|ms| event_time(ms.div_euclid(1_000))),
        "updatedAt": event_time(updated.timestamp()),
        "runSeconds": ran,
        "tasks": tasks,
        "consoleUrl": deployments_url,
        "detail": detail,
    });
    let mut lines = vec![code(deployment.reason.as_deref().unwrap_or(&words))];
    if let Some(late) = late {
        lines.push(format!("Delivered late: {}", late.line()));
    }
    lines.push(format!(
        "Service: {}   Cluster: {}   Deployment: {}",
        code(name),
        code(cluster),
        code(&deployment.deployment_id)
    ));
    if failed {
        lines.push(match &rolled_back_to {
            Some(target) => format!("Rolled back to {}", code(target)),
            None => "No rollback named in the event".to_owned(),
        });
    }
    if let Some(tasks) = tasks {
        lines.push(format!("Tasks: {}", code(&tasks.failures())));
    }
    if let Some(ran) = ran {
        lines.push(format!("Ran {}", duration(ran)));
    }
    let chat = ChatContent {
        title: subject.clone(),
        lines,
        next_steps: vec![
            format!("Look at the deployment and its rollback: {deployments_url}"),
            format!("Read the service's events: {events_url}"),
        ],
        keywords: [cluster, name, status]
            .into_iter()
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect(),
        related: vec![service_arn.clone()],
        event_type: "ECSDeployment",
    };
    Draft::alert(target, subject, text, attributes, fields, chat)
}

/// The incident key of a service's silence: the service ARN, so two accounts or Regions with
/// one cluster and service name are two incidents.
pub fn silence_incident(service_arn: &str) -> String {
    format!("{SERVICE_DOWN_RULE}|{service_arn}")
}

/// What a service message says: its subject, text for email, lines for chat and chat event
/// type.
struct Wording {
    subject: String,
    text: String,
    lines: Vec<String>,
    event_type: &'static str,
}

/// What every service message's draft shares (`keys`: its incident and thread).
fn service_draft(
    kind: AlertKind,
    severity: Severity,
    record: &ServiceRecord,
    keys: (String, String),
    wording: Wording,
) -> Draft {
    let Wording { subject, text, lines, event_type } = wording;
    let (region, cluster, name) = service_parts(&record.service_arn);
    let health = console_url(region, cluster, &format!("services/{name}/health"));
    let (incident, thread) = keys;
    let attributes = BTreeMap::from([
        ("cluster".to_owned(), json!(cluster)),
        ("service".to_owned(), json!(name)),
    ]);
    let fields = json!({
        "cluster": cluster,
        "service": name,
        "serviceArn": record.service_arn,
        "desiredCount": record.desired.map(|desired| desired.count),
        "consoleUrl": health,
    });
    let chat = ChatContent {
        title: subject.clone(),
        lines,
        next_steps: vec![format!("Look at the service: {health}")],
        keywords: [cluster, name]
            .into_iter()
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect(),
        related: vec![record.service_arn.clone()],
        event_type,
    };
    let dedup = match kind {
        AlertKind::Silence => format!("silence#{thread}"),
        _ => format!("resolved#{thread}"),
    };
    Draft {
        kind,
        severity,
        incident: Some(incident),
        thread: Some(thread),
        // It tells of no match.
        count: 0,
        ..Draft::alert((record.service_arn.clone(), dedup), subject, text, attributes, fields, chat)
    }
}

/// Where a service is: its ARN's account (named by `names`) and Region.
fn place_of<'a>(names: &'a AccountNames, service_arn: &'a str) -> Place<'a> {
    let (region, _, _) = service_parts(service_arn);
    names.place(account_of(service_arn).unwrap_or_default(), region)
}

/// The "service down" message: `record`'s service has run no task since `since` (its account
/// named by `names`).
pub fn render_down(
    record: &ServiceRecord,
    since: i64,
    desired: Option<i64>,
    silence_after: i64,
    names: &AccountNames,
    now: DateTime<Utc>,
) -> Alert {
    let (region, cluster, name) = service_parts(&record.service_arn);
    let silent = (now.timestamp() - since).max(0);
    let desired_words = desired.map_or_else(String::new, |d| format!(", desired {d}"));
    let subject = subject_line(&format!(
        "ECS service down: {cluster}/{name}: no task running for {}{desired_words}",
        duration(silent)
    ));
    let mut text = String::new();
    let mut line = |label: &str, value: Option<&str>| labelled(&mut text, label, value);
    line("Service:", Some(&format!("{name} (cluster {cluster})")));
    line("Down since:", Some(&format!("{} ({} ago)", event_time(since), duration(silent))));
    line("Desired count:", Some(&desired.map_or("not known".to_owned(), |d| d.to_string())));
    line("Running:", Some("0 tasks"));
    let tasks = console_url(region, cluster, "tasks");
    let _ = writeln!(
        text,
        "\nService: {}",
        console_url(region, cluster, &format!("services/{name}/health"))
    );
    let _ = writeln!(text, "Tasks:   {tasks}");
    let _ = writeln!(
        text,
        "Rule: {SERVICE_DOWN_RULE} — a service that ran tasks has run none for {} (and was not scaled to zero)",
        duration(silence_after)
    );
    let incident = silence_incident(&record.service_arn);
    let thread = thread_id(&incident, since);
    let lines = vec![
        format!("No task of {} has run since {}", code(name), code(&event_time(since))),
        format!(
            "Cluster: {}   Desired: {}",
            code(cluster),
            code(&desired.map_or("?".to_owned(), |d| d.to_string()))
        ),
    ];
    let draft = service_draft(
        AlertKind::Silence,
        Severity::Error,
        record,
        (incident, thread),
        Wording { subject, text, lines, event_type: "ECSServiceDown" },
    );
    let description =
        "A service that ran tasks has run none for a while (and was not scaled to zero).";
    assemble(
        Told { name: SERVICE_DOWN_RULE, description },
        draft,
        json!({"time": event_time(now.timestamp()), "downSince": event_time(since), "downSeconds": silent}),
        place_of(names, &record.service_arn),
    )
}

/// The "recovered" message: `record`'s service runs `running` tasks again after being down
/// since `since` (in the silence's thread; its account named by `names`).
pub fn render_recovered(
    record: &ServiceRecord,
    since: i64,
    running: usize,
    names: &AccountNames,
    now: DateTime<Utc>,
) -> Alert {
    let (region, cluster, name) = service_parts(&record.service_arn);
    let down = (now.timestamp() - since).max(0);
    let tasks = if running == 1 { "task" } else { "tasks" };
    let subject = subject_line(&format!(
        "ECS service recovered: {cluster}/{name}: {running} {tasks} running again after {} down",
        duration(down)
    ));
    let mut text = String::new();
    let mut line = |label: &str, value: Option<&str>| labelled(&mut text, label, value);
    line("Service:", Some(&format!("{name} (cluster {cluster})")));
    line(
        "Recovered:",
        Some(&format!("{running} {tasks} running at {}", event_time(now.timestamp()))),
    );
    line("Was down:", Some(&format!("from {} ({})", event_time(since), duration(down))));
    let _ = writeln!(
        text,
        "\nService: {}",
        console_url(region, cluster, &format!("services/{name}/health"))
    );
    let _ = writeln!(text, "Rule: {SERVICE_DOWN_RULE}");
    let incident = silence_incident(&record.service_arn);
    let thread = thread_id(&incident, since);
    let lines =
        vec![format!("{} runs {running} {tasks} again after {} down", code(name), duration(down))];
    let draft = service_draft(
        AlertKind::Resolved,
        Severity::Info,
        record,
        (incident, thread),
        Wording { subject, text, lines, event_type: "ECSServiceRecovered" },
    );
    assemble(
        Told { name: SERVICE_DOWN_RULE, description: "" },
        draft,
        json!({"time": event_time(now.timestamp()), "downSince": event_time(since), "downSeconds": down}),
        place_of(names, &record.service_arn),
    )
}

/// The "resolved" message of `trouble`, an incident on `record`'s service, for `resolution`
/// (in the incident's thread, under its rule; its account named by `names`).
pub fn render_resolved(
    record: &ServiceRecord,
    trouble: &Trouble,
    resolution: &Resolution,
    description: &str,
    names: &AccountNames,
    now: DateTime<Utc>,
) -> Alert {
    let (region, cluster, name) = service_parts(&record.service_arn);
    let lasted = (now.timestamp() - trouble.opened).max(0);
    let why = resolution.words();
    let subject = subject_line(&format!(
        "ECS resolved: {cluster}/{name}: {} over after {} ({})",
        trouble.kind.words(),
        duration(lasted),
        resolution.short()
    ));
    let mut text = String::new();
    let mut line = |label: &str, value: Option<&str>| labelled(&mut text, label, value);
    line("Incident:", Some(&format!("{} on {cluster} (service:{name})", trouble.rule)));
    line("Resolved:", Some(&why));
    line(
        "Lasted:",
        Some(&format!(
            "{} to {} ({})",
            event_time(trouble.opened),
            event_time(now.timestamp()),
            duration(lasted)
        )),
    );
    let _ = writeln!(
        text,
        "\nService: {}",
        console_url(region, cluster, &format!("services/{name}/health"))
    );
    let _ = writeln!(text, "Rule: {}", trouble.rule);
    let lines = vec![
        format!("{} is over: {}", trouble.kind.words(), code(&why)),
        format!("Lasted {}", duration(lasted)),
    ];
    let draft = service_draft(
        AlertKind::Resolved,
        Severity::Info,
        record,
        (trouble.incident.clone(), trouble.thread.clone()),
        Wording { subject, text, lines, event_type: "ECSIncidentResolved" },
    );
    assemble(
        Told { name: &trouble.rule, description },
        draft,
        json!({"time": event_time(now.timestamp()), "lastedSeconds": lasted, "resolution": why}),
        place_of(names, &record.service_arn),
    )
}
