//! Rendering: an event and the rule it matched become an [`Alert`] a person can act on — a
//! subject, a plain-text body, a JSON document for programs, SNS message attributes for
//! subscription filter policies, and a chat notification ([`super::chat`]). Digests of an
//! incident's window are rendered by [`super::digest`] into the same shape.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Value, json};

use chrono::{DateTime, Utc};

use super::chat::{ChatContent, code, notification};
use super::service_render::{DeploymentContext, render_deployment};
use super::{AlertRule, Severity};
use crate::account::{AccountNames, Place, origin};
use crate::event::{
    DEFAULT_EXPECTED_EXIT_CODES, EcsDetail, EcsEvent, TaskOutcome, TaskStateChange, TaskStatus,
};
use crate::incident::{LATE_AFTER, happened_at};

/// SNS subjects must be shorter than 100 characters.
pub const MAX_SUBJECT_CHARS: usize = 99;

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    /// One match, sent at once (the first of an incident, or of a rule without grouping).
    Alert,
    /// The further matches of one window of an incident.
    Digest,
    /// A service that should run tasks has run none for a while: it is down.
    Silence,
    /// An incident ended: the service is healthy (or running) again.
    Resolved,
}

impl AlertKind {
    /// `alert`, `digest`, `silence` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alert => "alert",
            Self::Digest => "digest",
            Self::Silence => "silence",
            Self::Resolved => "resolved",
        }
    }
}

/// A rendered alert or digest, ready for any sink.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// Alert, digest, silence or resolved.
    pub kind: AlertKind,
    /// The rule that fired.
    pub rule: String,
    /// What the alert is about: the task ARN for task events, else the event's first resource
    /// (or its id).
    pub resource: String,
    /// How bad it is: `error`, `warning` or `info`.
    pub severity: Severity,
    /// The idempotency key: one alert per key (see [`alert_target`]).
    #[serde(skip)]
    pub dedup_key: String,
    /// One line, under 100 characters, no control characters.
    pub subject: String,
    /// The plain-text body for people (email).
    pub message: String,
    /// The JSON document for programs (SQS, Lambda, HTTPS subscribers).
    #[serde(skip)]
    pub document: Value,
    /// Message attributes: strings, and numbers (`exitCode`, `count`).
    pub attributes: BTreeMap<String, Value>,
    /// The incident key, when the rule groups its matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    /// The chat thread: the incident's (`key#opened`), else the alert's own key.
    pub thread: String,
    /// How long after it happened the match was told, when that is [`LATE_AFTER`] or more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late_by_seconds: Option<i64>,
    /// How many matches the message tells of: 1 for an alert, the window's count for a digest,
    /// 0 for a service's health (`silence`, `resolved`).
    pub count: u64,
    /// Whether the incident is a crash loop.
    pub crash_loop: bool,
    /// Every resource a digest groups (an alert's one resource is `resource`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// The Amazon Q Developer custom notification for chat.
    pub chat: Value,
}

/// What an alert is about and its idempotency key: `rule#taskArn` for task events (one alert
/// per task stop, whatever the number of deliveries or STOPPED versions), `rule#id` otherwise.
pub fn alert_target(rule: &AlertRule, event: &EcsEvent) -> (String, String) {
    match &event.detail {
        EcsDetail::Task(task) => {
            (task.task_arn.clone(), format!("{}#{}", rule.name, task.task_arn))
        }
        _ => (
            event.resources().first().cloned().unwrap_or_else(|| event.id.clone()),
            format!("{}#{}", rule.name, event.id),
        ),
    }
}

/// What the alerter knows of a match beyond its event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchContext {
    /// How a task ended, by the rule's expected exit codes.
    pub outcome: Option<TaskOutcome>,
    /// A deployment's record and tasks.
    pub deployment: Option<DeploymentContext>,
    /// The event's detail as delivered (JSON text), for the messages whose document carries
    /// it whole (a deployment's); without it, the fields this version reads.
    pub detail: Option<String>,
}

/// Renders the alert `rule` raises for `event`, on its own (no incident), told as it happens,
/// a task's outcome judged by the rule's expected exit codes (or `[0]`), its account named by
/// its id.
pub fn render(rule: &AlertRule, event: &EcsEvent) -> Alert {
    let codes = rule.expected_exit_codes.as_deref().unwrap_or(DEFAULT_EXPECTED_EXIT_CODES);
    let context = MatchContext {
        outcome: event.task().map(|task| task.outcome(codes)),
        ..MatchContext::default()
    };
    render_alert(rule, event, &context, None, &AccountNames::none(), event.time.instant())
}

/// The severity of `rule`'s match of `event`: `info` for a completed task, else the rule's,
/// else the match's own ([`Severity::of_event`]).
pub fn match_severity(
    rule: &AlertRule,
    event: &EcsEvent,
    outcome: Option<TaskOutcome>,
) -> Severity {
    if outcome == Some(TaskOutcome::Completed) {
        return Severity::Info;
    }
    rule.severity.unwrap_or_else(|| Severity::of_event(event, outcome))
}

/// Renders the alert `rule` raises for `event` at `now` (`context`: how a task ended, a
/// deployment's record and tasks): the first of the incident `(key, thread)` when the rule
/// groups its matches. A match told [`LATE_AFTER`] or more after it happened says so (subject,
/// text, document and chat). Its account is named by `names` (else by its id) and its Region
/// (see [`assemble`]).
pub fn render_alert(
    rule: &AlertRule,
    event: &EcsEvent,
    context: &MatchContext,
    incident: Option<(&str, &str)>,
    names: &AccountNames,
    now: DateTime<Utc>,
) -> Alert {
    let at = happened_at(event);
    let late_by = Some(now.timestamp() - at).filter(|late| *late >= LATE_AFTER);
    let late = late_by.map(|seconds| Late { seconds, at: event_time(at) });
    let outcome = context.outcome;
    let severity = match_severity(rule, event, outcome);
    let draft = match &event.detail {
        EcsDetail::Task(task) => render_task(rule, event, task, outcome, late.as_ref()),
        EcsDetail::Deployment(deployment) => {
            render_deployment(rule, event, deployment, context, late.as_ref())
        }
        _ => render_other(rule, event, late.as_ref()),
    };
    let common = json!({
        "eventId": event.id,
        "time": event.time,
        "lateBySeconds": late_by,
    });
    let draft = Draft {
        incident: incident.map(|(key, _)| key.to_owned()),
        thread: incident.map(|(_, thread)| thread.to_owned()),
        late_by,
        severity,
        ..draft
    };
    let (account, region) = origin(event);
    assemble(rule.into(), draft, common, names.place(&account, &region))
}

/// A match told long after it happened.
pub(super) struct Late {
    /// How long after.
    seconds: i64,
    /// When it happened.
    at: String,
}

impl Late {
    /// ` 4h 03m ago`, for a subject.
    pub(super) fn ago(late: Option<&Self>) -> String {
        late.map_or_else(String::new, |late| format!(" {} ago", duration(late.seconds)))
    }

    /// The line the text and chat carry.
    pub(super) fn line(&self) -> String {
        format!(
            "this happened at {}, {} before this message (a late or retried delivery)",
            self.at,
            duration(self.seconds)
        )
    }
}

/// The ECS console page `path` of a cluster (`tasks/<id>/configuration`, `services/<name>/health`,
/// `infrastructure`) in `region`.
pub(super) fn console_url(region: &str, cluster: &str, path: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/{path}?region={region}"
    )
}

/// An epoch second as `2024-05-02T11:40:00Z`.
pub(super) fn event_time(at: i64) -> String {
    DateTime::<Utc>::from_timestamp(at, 0)
        .map_or_else(|| at.to_string(), |at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn render_task(
    rule: &AlertRule,
    event: &EcsEvent,
    task: &TaskStateChange,
    outcome: Option<TaskOutcome>,
    late: Option<&Late>,
) -> Draft {
    let target = alert_target(rule, event);
    let cluster = task.cluster_name();
    let service = task.service_name();
    let family = task.task_definition().and_then(|definition| definition.split(':').next());
    let who = service.or(family).unwrap_or_else(|| task.task_id());
    let completed = outcome == Some(TaskOutcome::Completed);
    let state = match (&task.last_status, &task.desired_status) {
        _ if completed => "completed".to_owned(),
        (TaskStatus::Stopped, _) => "stopped".to_owned(),
        (_, Some(TaskStatus::Stopped)) => "stopping".to_owned(),
        (status, _) => status.as_str().to_lowercase(),
    };
    let containers = task.containers_most_telling_first();
    let first_failed = containers.first().filter(|container| container.failed());
    let console =
        console_url(&event.region, cluster, &format!("tasks/{}/configuration", task.task_id()));
    let ran = match (&task.started_at, &task.stopped_at) {
        (Some(started), Some(stopped)) => {
            Some((stopped.instant() - started.instant()).num_seconds().max(0))
        }
        _ => None,
    };
    let reason = if completed {
        // What finished and how: `exit 0 after 7m 55s` — the exit of the container that did
        // the work, not the SIGTERM the others got.
        let stop_signal = |code: i64| code == 143 || code == 137;
        let exits: Vec<String> = task
            .containers()
            .iter()
            .filter_map(|container| container.exit_code)
            .filter(|code| !stop_signal(*code))
            .take(1)
            .map(|code| format!("exit {code}"))
            .collect();
        let after = ran.map(|seconds| format!(" after {}", duration(seconds))).unwrap_or_default();
        format!("{}{after}", exits.join(" "))
    } else {
        task.stopped_reason
            .clone()
            .or_else(|| task.stop_code.as_ref().map(ToString::to_string))
            .unwrap_or_else(|| rule.name.clone())
    };
    let subject =
        subject_line(&format!("ECS task {state}{}: {cluster}/{who}: {reason}", Late::ago(late)));

    let mut text = String::new();
    let mut line = |label: &str, value: Option<&str>| labelled(&mut text, label, value);
    line("Delivered late:", late.map(Late::line).as_deref());
    line("Cluster:", Some(cluster));
    match service {
        Some(service) => line("Service:", Some(service)),
        None => line("Group:", task.group.as_deref()),
    }
    line("Deployment:", task.deployment_id());
    line("Task definition:", task.task_definition());
    line("Task:", Some(task.task_id()));
    line("Task ARN:", Some(&task.task_arn));
    let launch = match (&task.launch_type, &task.capacity_provider_name) {
        (Some(launch), Some(provider)) => Some(format!("{launch} (capacity provider {provider})")),
        (Some(launch), None) => Some(launch.to_string()),
        (None, provider) => provider.clone(),
    };
    line("Launch type:", launch.as_deref());
    line("Availability Zone:", task.availability_zone.as_deref());
    line("Status:", Some(&format!("{} (desired {})", task.last_status, desired(task))));
    line("Outcome:", outcome.map(TaskOutcome::as_str));
    line("Stop code:", task.stop_code.as_ref().map(|code| code.as_str()));
    line("Stopped reason:", task.stopped_reason.as_deref());
    line("Started:", task.started_at.as_ref().map(|at| at.as_str()));
    let stopped = task.stopped_at.as_ref().map(|at| match ran {
        Some(seconds) => format!("{at} (ran {})", duration(seconds)),
        None => at.to_string(),
    });
    line("Stopped:", stopped.as_deref());
    if !containers.is_empty() {
        let _ = writeln!(text, "\nContainers (failed first):");
        // The name column fits the longest name (up to a cap), so long names keep the table
        // aligned; a name over the cap overflows its own row only.
        let width = containers
            .iter()
            .map(|container| container.name.chars().count())
            .max()
            .unwrap_or_default()
            .clamp(MIN_NAME_COLUMN, MAX_NAME_COLUMN);
        for container in &containers {
            let status = container.last_status.as_ref().map_or("?", |status| status.as_str());
            let exit =
                container.exit_code.map_or("exit -".to_owned(), |code| format!("exit {code}"));
            let reason = container.reason.as_deref().unwrap_or_default();
            let row = format!("  {:<width$} {:<8} {:<9} {reason}", container.name, status, exit);
            let _ = writeln!(text, "{}", row.trim_end());
        }
    }
    let _ = writeln!(text, "\nConsole: {console}");
    let _ = writeln!(text, "Rule: {}{}", rule.name, describe(rule));
    let _ = writeln!(text, "Event: {} at {}", event.id, event.time);

    let mut attributes = BTreeMap::from([
        ("rule".to_owned(), json!(rule.name)),
        ("cluster".to_owned(), json!(cluster)),
    ]);
    let mut attribute = |name: &str, value: Option<Value>| {
        if let Some(value) = value.filter(|value| value.as_str() != Some("")) {
            attributes.insert(name.to_owned(), value);
        }
    };
    attribute("service", service.map(|service| json!(service)));
    attribute("group", task.group.as_ref().map(|group| json!(group)));
    attribute("stopCode", task.stop_code.as_ref().map(|code| json!(code.as_str())));
    attribute("exitCode", first_failed.and_then(|container| container.exit_code).map(Value::from));

    let fields = json!({
            "cluster": cluster,
            "clusterArn": task.cluster_arn,
            "service": service,
            "group": task.group,
            "taskArn": task.task_arn,
            "taskDefinition": task.task_definition(),
            "deploymentId": task.deployment_id(),
            "outcome": outcome,
            "launchType": task.launch_type,
            "capacityProviderName": task.capacity_provider_name,
            "availabilityZone": task.availability_zone,
            "lastStatus": task.last_status,
            "stopCode": task.stop_code,
            "stoppedReason": task.stopped_reason,
            "startedAt": task.started_at,
            "stoppedAt": task.stopped_at,
            "runSeconds": ran,
            "containers": containers.iter().map(|container| json!({
                "name": container.name,
                "lastStatus": container.last_status,
                "exitCode": container.exit_code,
                "reason": container.reason,
                "image": container.image,
            })).collect::<Vec<_>>(),
            "consoleUrl": console,
    });
    let mut chat_lines = vec![format!(
        "{}{}",
        code(task.stopped_reason.as_deref().unwrap_or(state.as_str())),
        task.stop_code
            .as_ref()
            .map_or_else(String::new, |stop| format!(" ({})", code(stop.as_str())))
    )];
    if let Some(late) = late {
        chat_lines.push(format!("Delivered late: {}", late.line()));
    }
    chat_lines.push(format!(
        "Cluster: {}   {}: {}   Task: {}",
        code(cluster),
        if service.is_some() { "Service" } else { "Group" },
        code(service.or(task.group.as_deref()).unwrap_or("-")),
        code(task.task_id())
    ));
    let failed: Vec<String> = containers
        .iter()
        .filter(|container| container.failed())
        .map(|container| {
            let exit = container
                .exit_code
                .map_or("no exit code".to_owned(), |code| format!("exit {code}"));
            let reason =
                container.reason.as_deref().map_or_else(String::new, |r| format!(": {}", code(r)));
            format!("• {} {exit}{reason}", code(&container.name))
        })
        .collect();
    if !failed.is_empty() {
        chat_lines.push(format!("Failed containers:\n{}", failed.join("\n")));
    }
    let chat = ChatContent {
        title: subject.clone(),
        lines: chat_lines,
        next_steps: next_steps(task, &console),
        keywords: [Some(cluster), service, task.stop_code.as_ref().map(|c| c.as_str())]
            .into_iter()
            .flatten()
            .map(str::to_owned)
            .collect(),
        related: vec![task.task_arn.clone()],
        event_type: if completed { "ECSTaskCompleted" } else { "ECSTaskStopped" },
    };
    Draft::alert(target, subject, text, attributes, fields, chat)
}

/// What a person should look at first, from how the task stopped.
fn next_steps(task: &TaskStateChange, console: &str) -> Vec<String> {
    let mut steps = Vec::new();
    for container in task.containers_most_telling_first().into_iter().filter(|c| c.failed()) {
        let name = code(&container.name);
        let step = match container.reason.as_deref() {
            Some(reason) if reason.starts_with("OutOfMemoryError") => {
                format!(
                    "Raise the memory limit of {name} or look for a leak: it was killed for memory"
                )
            }
            Some(reason) if reason.starts_with("CannotPullContainerError") => format!(
                "Check {name}'s image name and tag, and that the execution role can pull it"
            ),
            Some(reason) if reason.starts_with("ResourceInitializationError") => {
                "Check the task's secrets, log configuration and network access to them".to_owned()
            }
            _ => format!("Read {name}'s logs around the stop"),
        };
        if !steps.contains(&step) {
            steps.push(step);
        }
        if steps.len() == 2 {
            break;
        }
    }
    steps.push(format!("Open the task in the console: {console}"));
    steps
}

fn render_other(rule: &AlertRule, event: &EcsEvent, late: Option<&Late>) -> Draft {
    let (resource, dedup_key) = alert_target(rule, event);
    let resource_name = resource.clone();
    // Service ARNs read `...:service/<cluster>/<service>`; instance ARNs likewise.
    let mut parts = resource.rsplit('/');
    let (name, cluster) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let detail = serde_json::to_value(&event.detail).unwrap_or(Value::Null);
    let text_field = |field: &str| detail.get(field).and_then(Value::as_str).map(str::to_owned);
    let event_name = text_field("eventName").or_else(|| text_field("status"));
    let what = event_name.as_deref().map_or_else(
        || event.detail_type.trim_start_matches("ECS ").to_lowercase(),
        |name| name.trim_start_matches("SERVICE_").replace('_', " ").to_lowercase(),
    );
    let reason = text_field("reason").or_else(|| text_field("statusReason"));
    let cluster = match &event.detail {
        EcsDetail::ContainerInstance(instance) => {
            instance.cluster_arn.rsplit('/').next().unwrap_or_default().to_owned()
        }
        _ => cluster.to_owned(),
    };
    let ago = Late::ago(late);
    let subject = subject_line(&match &reason {
        Some(reason) => format!("ECS {what}{ago}: {cluster}/{name}: {reason}"),
        None => format!("ECS {what}{ago}: {cluster}/{name}"),
    });

    let mut text = String::new();
    let mut line = |label: &str, value: Option<&str>| labelled(&mut text, label, value);
    line("Delivered late:", late.map(Late::line).as_deref());
    line("Event:", Some(&event.detail_type));
    line("Name:", event_name.as_deref());
    line("Severity:", text_field("eventType").as_deref());
    line("Cluster:", Some(&cluster));
    line("Resource:", Some(&resource));
    line("Deployment:", text_field("deploymentId").as_deref());
    line("Reason:", reason.as_deref());
    line("Time:", Some(event.time.as_str()));
    let _ = writeln!(text, "\nRule: {}{}", rule.name, describe(rule));
    let _ = writeln!(text, "Event: {}", event.id);

    let mut attributes = BTreeMap::from([("rule".to_owned(), json!(rule.name))]);
    if !cluster.is_empty() {
        attributes.insert("cluster".to_owned(), json!(cluster));
    }
    if resource.contains(":service/") {
        attributes.insert("service".to_owned(), json!(name));
    }
    let fields = json!({
        "detailType": event.detail_type,
        "cluster": cluster,
        "resource": resource_name,
        "detail": detail,
    });
    let mut chat_lines = vec![code(reason.as_deref().unwrap_or(&what))];
    if let Some(late) = late {
        chat_lines.push(format!("Delivered late: {}", late.line()));
    }
    chat_lines.push(format!("Cluster: {}   Resource: {}", code(&cluster), code(name)));
    if let Some(deployment) = text_field("deploymentId") {
        chat_lines.push(format!("Deployment: {}", code(&deployment)));
    }
    let chat = ChatContent {
        title: subject.clone(),
        lines: chat_lines,
        next_steps: vec![match &event.detail {
            EcsDetail::ContainerInstance(_) => format!(
                "Look at the cluster's container instances: {}",
                console_url(&event.region, &cluster, "infrastructure")
            ),
            _ => format!(
                "Look at the service's events and deployments: {}",
                console_url(&event.region, &cluster, &format!("services/{name}/events"))
            ),
        }],
        keywords: [cluster.as_str(), name]
            .into_iter()
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect(),
        related: vec![resource.clone()],
        event_type: "ECSServiceEvent",
    };
    Draft::alert((resource, dedup_key), subject, text, attributes, fields, chat)
}

/// Writes `label value` on a line of its own when there is a value.
pub(super) fn labelled(text: &mut String, label: &str, value: Option<&str>) {
    if let Some(value) = value.filter(|value| !value.is_empty()) {
        let _ = writeln!(text, "{label:<20}{value}");
    }
}

/// The most message attributes an alert carries: SNS discards a message with more than 10
/// for a raw-delivery SQS subscription.
pub const MAX_ATTRIBUTES: usize = 10;

/// What a renderer produces; [`assemble`] makes the message of it.
pub(super) struct Draft {
    pub(super) kind: AlertKind,
    pub(super) severity: Severity,
    /// What the message is about, and its idempotency key.
    pub(super) target: (String, String),
    pub(super) subject: String,
    pub(super) text: String,
    pub(super) attributes: BTreeMap<String, Value>,
    /// The fields of the JSON document particular to this kind of message.
    pub(super) fields: Value,
    pub(super) chat: ChatContent,
    pub(super) incident: Option<String>,
    /// The chat thread, when it is not the message's own key.
    pub(super) thread: Option<String>,
    pub(super) late_by: Option<i64>,
    pub(super) count: u64,
    pub(super) crash_loop: bool,
    pub(super) resources: Vec<String>,
}

impl Draft {
    pub(super) fn alert(
        target: (String, String),
        subject: String,
        text: String,
        attributes: BTreeMap<String, Value>,
        fields: Value,
        chat: ChatContent,
    ) -> Self {
        Self {
            kind: AlertKind::Alert,
            severity: Severity::Error,
            target,
            subject,
            text,
            attributes,
            fields,
            chat,
            incident: None,
            thread: None,
            late_by: None,
            count: 1,
            crash_loop: false,
            resources: Vec::new(),
        }
    }
}

/// The rule a message is told under: a rule of the rules file, or one of the service checks'.
#[derive(Debug, Clone, Copy)]
pub(super) struct Told<'a> {
    pub(super) name: &'a str,
    pub(super) description: &'a str,
}

impl<'a> From<&'a AlertRule> for Told<'a> {
    fn from(rule: &'a AlertRule) -> Self {
        Self { name: &rule.name, description: &rule.description }
    }
}

/// The message, with its idempotency key as the `alertKey` attribute and field (subscribers
/// drop the rare second copy with it), its kind, severity and crash-loop flag as attributes, a
/// JSON document for programs — what every message has, `common`, its message attributes (SNS
/// does not deliver them with `MessageStructure=json`), then the draft's fields — and the chat
/// notification.
///
/// Every message says where it happened, `place`, alike in email, chat and the document: the
/// subject starts with the account (its name, else its id) and the Region (`[prod-eu
/// eu-west-1] ECS task stopped: …`), the text and the chat name the account in full
/// (`prod-eu (111122223333)`) and the Region, and the document has `account`, `accountName`
/// and `region`.
pub(super) fn assemble(rule: Told<'_>, draft: Draft, common: Value, place: Place<'_>) -> Alert {
    let Draft {
        kind,
        severity,
        target: (resource, dedup_key),
        subject,
        text,
        mut attributes,
        fields,
        mut chat,
        incident,
        thread,
        late_by,
        count,
        crash_loop,
        resources,
    } = draft;
    let subject = subject_line(&format!("{}{subject}", place.tag()));
    chat.title = subject.clone();
    let text = with_place(&text, place);
    let account_words = place.account_words();
    let place_line = match (&account_words, place.region()) {
        (Some(account), Some(region)) => {
            Some(format!("Account: {}   Region: {}", code(account), code(region)))
        }
        (Some(account), None) => Some(format!("Account: {}", code(account))),
        (None, Some(region)) => Some(format!("Region: {}", code(region))),
        (None, None) => None,
    };
    if let Some(line) = place_line {
        chat.lines.insert(chat.lines.len().min(1), line);
    }
    chat.keywords.push(place.short_account());
    attributes.insert("alertKey".to_owned(), json!(dedup_key));
    attributes.insert("kind".to_owned(), json!(kind.as_str()));
    attributes.insert("severity".to_owned(), json!(severity.as_str()));
    attributes.insert("crashLoop".to_owned(), json!(if crash_loop { "true" } else { "false" }));
    debug_assert!(attributes.len() <= MAX_ATTRIBUTES, "{attributes:?}");
    let mut document = json!({
        "kind": kind,
        "severity": severity,
        "alertKey": dedup_key,
        "rule": rule.name,
        "ruleDescription": rule.description,
        "subject": subject,
        "text": text,
        "incident": incident,
        "thread": thread.as_deref().unwrap_or(&dedup_key),
        "count": count,
        "crashLoop": crash_loop,
        "attributes": attributes,
        "account": Some(place.account).filter(|account| !account.is_empty()),
        "accountName": place.name,
        "region": place.region(),
    });
    for extra in [common, fields] {
        if let (Some(document), Value::Object(extra)) = (document.as_object_mut(), extra) {
            document.extend(extra);
        }
    }
    let thread = thread.unwrap_or_else(|| dedup_key.clone());
    let chat = notification(
        &chat,
        &thread,
        &[
            ("rule", rule.name),
            ("alertKey", dedup_key.as_str()),
            ("kind", kind.as_str()),
            ("severity", severity.as_str()),
            ("count", &count.to_string()),
            ("crashLoop", if crash_loop { "true" } else { "false" }),
        ],
    );
    Alert {
        kind,
        severity,
        rule: rule.name.to_owned(),
        resource,
        dedup_key,
        subject,
        message: text,
        document,
        attributes,
        incident,
        thread,
        late_by_seconds: late_by,
        count,
        crash_loop,
        resources,
        chat,
    }
}

/// `text` with the account and Region lines first (after a `Delivered late:` line, which
/// stays the very first).
fn with_place(text: &str, place: Place<'_>) -> String {
    let mut lines = String::new();
    labelled(&mut lines, "Account:", place.account_words().as_deref());
    labelled(&mut lines, "Region:", place.region());
    match text.split_once('\n') {
        Some((first, rest)) if first.starts_with("Delivered late:") => {
            format!("{first}\n{lines}{rest}")
        }
        _ => format!("{lines}{text}"),
    }
}

/// The narrowest and widest the container name column gets.
const MIN_NAME_COLUMN: usize = 12;
const MAX_NAME_COLUMN: usize = 40;

fn desired(task: &TaskStateChange) -> &str {
    task.desired_status.as_ref().map_or("?", |status| status.as_str())
}

/// ` — <description>`, or nothing for a rule without one.
pub(super) fn describe(rule: &AlertRule) -> String {
    if rule.description.is_empty() { String::new() } else { format!(" — {}", rule.description) }
}

/// One line within SNS's subject limits: control characters become spaces, runs of spaces
/// fold, and a long line is cut with `...`.
pub(super) fn subject_line(text: &str) -> String {
    let clean: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let folded = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() <= MAX_SUBJECT_CHARS {
        return folded;
    }
    let cut: String = folded.chars().take(MAX_SUBJECT_CHARS - 3).collect();
    format!("{}...", cut.trim_end())
}

/// `1d 2h`, `2h 03m`, `15m 30s`, `42s`.
pub(super) fn duration(seconds: i64) -> String {
    let (days, hours, minutes, secs) =
        (seconds / 86_400, seconds / 3_600 % 24, seconds / 60 % 60, seconds % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, _) => format!("{minutes}m {secs:02}s"),
        (0, _, _) => format!("{hours}h {minutes:02}m"),
        _ => format!("{days}d {hours}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_long_subject_with_a_newline_then_it_is_one_line_under_100_characters() {
        let subject =
            subject_line(&format!("ECS task stopped: a/b: line one\nline two {}", "x".repeat(200)));
        assert!(subject.chars().count() <= MAX_SUBJECT_CHARS);
        assert!(!subject.contains('\n'));
        assert!(subject.starts_with("ECS task stopped: a/b: line one line two xx"));
        assert!(subject.ends_with("..."));
    }

    #[test]
    fn given_durations_then_they_read_at_a_glance() {
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(930), "15m 30s");
        assert_eq!(duration(7_380), "2h 03m");
        assert_eq!(duration(93_600), "1d 2h");
    }
}
