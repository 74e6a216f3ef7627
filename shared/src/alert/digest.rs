//! Digests: one message for the further matches of one window of an incident — how many, over
//! what span, broken down by cause, the first of them, and console links — or for a key's late
//! bucket (matches that arrived after their window was told). Each is worded by what its
//! matches are (stopped tasks, service events, deployment events, container instance
//! changes), and its size does not grow with the window: the text lists [`MAX_LISTED`]
//! matches, the JSON document [`MAX_DOCUMENT_LISTED`] (one of each cause first) and
//! [`MAX_CAUSES`] causes, and says how many it left out (`unlisted`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::chat::{ChatContent, code};
use super::render::{
    Alert, AlertKind, Draft, assemble, console_url, describe, duration, event_time, subject_line,
};
use super::{AlertRule, Severity};
use crate::account::{AccountNames, account_of};
use crate::incident::{KeyParts, LATE_AFTER, Member, MemberKind, Window};

/// Matches listed in a digest's text (and its chat notification).
pub const MAX_LISTED: usize = 20;
/// Matches listed in a digest's JSON document: one of each cause first, then the earliest.
pub const MAX_DOCUMENT_LISTED: usize = 100;
/// Causes a digest names; the rest are counted together as `other causes`.
pub const MAX_CAUSES: usize = 20;

/// How a digest words what its matches are.
struct Words {
    /// `stopped`, `service events`...: "12 more stopped".
    more: &'static str,
    /// The heading of the list: `Stopped`, `Service events`...
    heading: &'static str,
    /// The document's list: `tasks` or `events`.
    list: &'static str,
    /// What a late bucket holds: `stops`, `service events`...
    late: &'static str,
}

fn words(members: &[Member]) -> Words {
    let kind = members
        .first()
        .map(|first| first.kind)
        .filter(|kind| members.iter().all(|member| member.kind == *kind));
    match kind {
        Some(MemberKind::Task) => {
            Words { more: "stopped", heading: "Stopped", list: "tasks", late: "stops" }
        }
        Some(MemberKind::Service) => Words {
            more: "service events",
            heading: "Service events",
            list: "events",
            late: "service events",
        },
        Some(MemberKind::Deployment) => Words {
            more: "deployment events",
            heading: "Deployment events",
            list: "events",
            late: "deployment events",
        },
        Some(MemberKind::Completed) => {
            Words { more: "completed", heading: "Completed", list: "tasks", late: "completions" }
        }
        Some(MemberKind::ContainerInstance) => Words {
            more: "container instance changes",
            heading: "Container instance changes",
            list: "events",
            late: "container instance changes",
        },
        None => Words { more: "matches", heading: "Matches", list: "events", late: "matches" },
    }
}

/// Renders the digest of `window`, an incident window (or late bucket) of `rule`'s matches,
/// sent at `now`. `deployments` says what is known of the deployments that started its tasks
/// (id → `FAILED, rolled back to ecs-svc/…`): the digest names each. Its account (from the
/// incident key, else from a task it lists) is named by `names`.
pub fn render_digest(
    rule: &AlertRule,
    window: &Window,
    deployments: &BTreeMap<String, String>,
    names: &AccountNames,
    now: DateTime<Utc>,
) -> Alert {
    let key = &window.window.key;
    let late_bucket = window.window.is_late();
    let parts = KeyParts::parse(key);
    let cluster = parts.cluster.to_owned();
    let group = parts.group.to_owned();
    let service = group.strip_prefix("service:").map(str::to_owned);
    let name = service.as_deref().unwrap_or(&group).to_owned();
    let words = words(&window.members);
    let count = window.count();
    let crash_loop = window.is_crash_loop(rule.group.unwrap_or_default());
    let causes = capped_causes(window);
    let breakdown: Vec<String> =
        causes.iter().map(|(cause, count)| format!("{cause} ×{count}")).collect();
    let region = window.members.iter().map(|member| member.region.as_str()).find(|r| !r.is_empty());
    let region = parts.region.or(region).unwrap_or_default().to_owned();
    // A key kept from before accounts were part of it: the account of a task it counted.
    let account = parts.account.or_else(|| {
        window
            .members
            .iter()
            .filter(|member| member.kind == MemberKind::Task)
            .find_map(|member| account_of(&member.id))
    });
    let place = names.place(account.unwrap_or_default(), &region);
    let console = |path: &str| console_url(&region, &cluster, path);
    let kind = window.members.first().map(|member| member.kind).unwrap_or_default();
    let mut links: Vec<(&str, String)> = Vec::new();
    match (kind, &service) {
        (MemberKind::ContainerInstance, _) => {
            links.push(("Instances:", console("infrastructure")));
        }
        (MemberKind::Task, service) => {
            if let Some(service) = service {
                links.push(("Service:", console(&format!("services/{service}/health"))));
            }
            links.push(("Tasks:", console("tasks")));
        }
        (_, Some(service)) => {
            links.push(("Service:", console(&format!("services/{service}/health"))));
            links.push(("Deployments:", console(&format!("services/{service}/deployments"))));
        }
        (_, None) => links.push(("Cluster:", console("services"))),
    }
    let (first, last) = (window.members.first(), window.members.last());
    let span = match (first, last) {
        (Some(first), Some(last)) => format!("{} to {}", event_time(first.at), event_time(last.at)),
        _ => "-".to_owned(),
    };
    // A match from shortly before the opening counts into the first window: show it inside.
    let start = first.map_or(window.start, |first| first.at.min(window.start));
    let sent_late = Some(now.timestamp() - window.end).filter(|late| *late >= LATE_AFTER);
    let oldest = first.map_or(0, |first| now.timestamp() - first.at);
    // What the message says of the past: a late bucket's oldest match, or a digest sent late.
    let late_by = if late_bucket { Some(oldest) } else { sent_late };
    let completed = kind == MemberKind::Completed;
    let severity = if completed {
        Severity::Info
    } else {
        rule.severity.unwrap_or_else(|| {
            window
                .members
                .iter()
                .filter_map(|member| member.severity)
                .max()
                .unwrap_or(Severity::Error)
        })
    };
    // The deployments that started the tasks, most tasks first: `ecs-svc/1 (FAILED, rolled
    // back to ecs-svc/0): 4 of these`.
    let mut by_deployment: BTreeMap<&str, u64> = BTreeMap::new();
    for member in &window.members {
        if let Some(deployment) = &member.deployment {
            *by_deployment.entry(deployment).or_default() += 1;
        }
    }
    let mut named: Vec<(&str, u64)> = by_deployment.into_iter().collect();
    named.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let deployment_lines: Vec<String> = named
        .iter()
        .take(3)
        .map(|(id, n)| match deployments.get(*id) {
            Some(state) => format!("{id} ({state}): {n} of these"),
            None => format!("{id}: {n} of these"),
        })
        .collect();

    let subject = subject_line(&if late_bucket {
        format!(
            "ECS late: {cluster}/{name}: {count} {} delivered late, up to {} ago ({})",
            words.late,
            duration(oldest),
            breakdown.join(", ")
        )
    } else {
        format!(
            "ECS {}: {cluster}/{name}: {count} more {} in {} ({})",
            if crash_loop {
                "crash loop"
            } else if completed {
                "completed"
            } else {
                "incident"
            },
            words.more,
            span_words(window.end - window.start),
            breakdown.join(", ")
        )
    });

    let mut text = String::new();
    let line = |text: &mut String, label: &str, value: &str| {
        let _ = writeln!(text, "{label:<20}{value}");
    };
    line(&mut text, "Incident:", &format!("{} on {cluster} ({group})", rule.name));
    if late_bucket {
        line(
            &mut text,
            "Delivered late:",
            &format!(
                "{count} {} that happened from {span}, up to {} before this message, \
                 after their incident's messages were sent",
                words.late,
                duration(oldest)
            ),
        );
    } else {
        line(
            &mut text,
            "Window:",
            &format!(
                "{} to {} (window {})",
                event_time(start),
                event_time(window.end),
                window.window.index
            ),
        );
        line(
            &mut text,
            "More:",
            &format!("{count} {} since the last message ({span})", words.more),
        );
    }
    if let Some(late) = sent_late {
        line(&mut text, "Sent late:", &format!("{} after the window ended", duration(late)));
    }
    if crash_loop {
        line(&mut text, "Crash loop:", "yes: the service keeps stopping");
    }
    for (index, deployment) in deployment_lines.iter().enumerate() {
        line(&mut text, if index == 0 { "Deployment:" } else { "" }, deployment);
    }
    line(&mut text, "By cause:", &breakdown.join(", "));
    let _ = writeln!(text, "\n{} ({count}):", words.heading);
    for member in window.members.iter().take(MAX_LISTED) {
        let id = short_id(&member.id);
        let containers = member.failed_containers.as_deref().unwrap_or_default();
        let row =
            format!("  {id:<32} {}  {:<28} {containers}", event_time(member.at), member.cause);
        let _ = writeln!(text, "{}", row.trim_end());
    }
    let unlisted_in_text = count.saturating_sub(MAX_LISTED as u64);
    if unlisted_in_text > 0 {
        let _ = writeln!(text, "  ... and {unlisted_in_text} more");
    }
    let _ = writeln!(text);
    for (label, url) in &links {
        line(&mut text, label, url);
    }
    let _ = writeln!(text, "Rule: {}{}", rule.name, describe(rule));

    let mut attributes = BTreeMap::from([
        ("rule".to_owned(), json!(rule.name)),
        ("cluster".to_owned(), json!(cluster)),
        ("group".to_owned(), json!(group)),
        ("count".to_owned(), json!(count)),
    ]);
    if let Some(service) = &service {
        attributes.insert("service".to_owned(), json!(service));
    }
    let resources: Vec<String> = window.members.iter().map(|member| member.id.clone()).collect();
    let listed = document_listed(&window.members);
    let entries: Vec<Value> = listed
        .iter()
        .map(|member| {
            let console_url = (member.kind == MemberKind::Task && !region.is_empty())
                .then(|| console(&format!("tasks/{}/configuration", short_id(&member.id))));
            json!({
                "id": member.id,
                "at": event_time(member.at),
                "cause": member.cause,
                "stopCode": member.stop_code,
                "failedContainers": member.failed_containers,
                "consoleUrl": console_url,
            })
        })
        .collect();
    let mut fields = json!({
        "cluster": cluster,
        "group": group,
        "service": service,
        "late": late_bucket,
        "window": {"index": window.window.index, "start": event_time(start), "end": event_time(window.end)},
        "firstAt": first.map(|member| event_time(member.at)),
        "lastAt": last.map(|member| event_time(member.at)),
        "causes": causes.iter().map(|(cause, count)| json!({"cause": cause, "count": count})).collect::<Vec<_>>(),
        "deployments": named.iter().map(|(id, n)| json!({"deploymentId": id, "count": n, "state": deployments.get(*id)})).collect::<Vec<_>>(),
        "unlisted": count - listed.len() as u64,
        "links": links.iter().map(|(label, url)| (label.trim_end_matches(':').to_lowercase(), json!(url))).collect::<serde_json::Map<_, _>>(),
    });
    if let Some(fields) = fields.as_object_mut() {
        fields.insert(words.list.to_owned(), Value::Array(entries));
    }

    let mut lines = Vec::new();
    if late_bucket {
        lines.push(format!(
            "{count} {} delivered late: they happened from {span}, after their incident's messages were sent",
            words.late
        ));
    } else {
        if crash_loop {
            lines.push("Crash loop: the service keeps stopping".to_owned());
        }
        lines.push(format!(
            "{count} more {} in {} ({span})",
            words.more,
            span_words(window.end - window.start)
        ));
    }
    if let Some(late) = sent_late {
        lines.push(format!("Sent late: {} after the window ended", duration(late)));
    }
    for deployment in &deployment_lines {
        lines.push(format!("Deployment: {}", code(deployment)));
    }
    lines.push(format!(
        "By cause: {}",
        causes
            .iter()
            .map(|(cause, n)| format!("{} ×{n}", code(cause)))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let listed_lines: Vec<String> = window
        .members
        .iter()
        .take(MAX_LISTED)
        .map(|member| format!("• {} {}", code(short_id(&member.id)), code(&member.cause)))
        .collect();
    lines.push(listed_lines.join("\n"));
    if unlisted_in_text > 0 {
        lines.push(format!("… and {unlisted_in_text} more"));
    }
    let next_steps = links.iter().map(|(label, url)| format!("{label} {url}")).collect();
    let chat = ChatContent {
        title: subject.clone(),
        lines,
        next_steps,
        keywords: [Some(cluster.clone()), service.clone(), causes.first().map(|(c, _)| c.clone())]
            .into_iter()
            .flatten()
            .collect(),
        related: resources.iter().take(MAX_LISTED).cloned().collect(),
        event_type: if late_bucket { "ECSIncidentLate" } else { "ECSIncidentDigest" },
    };
    let draft = Draft {
        kind: AlertKind::Digest,
        severity,
        target: (key.clone(), format!("digest#{}", window.window.id())),
        subject,
        text,
        attributes,
        fields,
        chat,
        incident: Some(key.clone()),
        thread: Some(window.window.thread()),
        late_by,
        count,
        crash_loop,
        resources,
    };
    assemble(
        rule.into(),
        draft,
        json!({ "time": event_time(now.timestamp()), "lateBySeconds": late_by }),
        place,
    )
}

/// A window length in words: `10m`, `1h`, `1h 30m`.
fn span_words(seconds: i64) -> String {
    match (seconds / 3_600, seconds / 60 % 60) {
        (0, minutes) => format!("{minutes}m"),
        (hours, 0) => format!("{hours}h"),
        (hours, minutes) => format!("{hours}h {minutes}m"),
    }
}

/// The causes, most frequent first, at most [`MAX_CAUSES`]: the rest counted together.
fn capped_causes(window: &Window) -> Vec<(String, u64)> {
    let mut causes = window.causes();
    if causes.len() > MAX_CAUSES {
        let rest: u64 = causes.drain(MAX_CAUSES - 1..).map(|(_, count)| count).sum();
        causes.push(("other causes".to_owned(), rest));
    }
    causes
}

/// What the JSON document lists: the earliest match of each cause, then the earliest others,
/// [`MAX_DOCUMENT_LISTED`] in all, in time order.
fn document_listed(members: &[Member]) -> Vec<&Member> {
    let mut seen = BTreeSet::new();
    let mut chosen: BTreeSet<usize> = members
        .iter()
        .enumerate()
        .filter(|(_, member)| seen.insert(member.cause.as_str()))
        .map(|(index, _)| index)
        .take(MAX_DOCUMENT_LISTED)
        .collect();
    for index in 0..members.len() {
        if chosen.len() >= MAX_DOCUMENT_LISTED {
            break;
        }
        chosen.insert(index);
    }
    chosen.into_iter().map(|index| &members[index]).collect()
}

/// The last part of an ARN (a task id), or the id as it is.
fn short_id(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// The digest key's rule: the incident key starts with it.
pub(super) fn rule_of(incident_key: &str) -> &str {
    incident_key.split('|').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::RuleSet;
    use crate::alert::chat::check_notification;
    use crate::incident::{Member, WindowRef};

    const OPENED: i64 = 1_714_644_000;

    fn member(i: usize, kind: MemberKind, cause: &str) -> Member {
        Member {
            id: match kind {
                MemberKind::Task => {
                    format!("arn:aws:ecs:us-east-1:111122223333:task/prod/{i:032x}")
                }
                _ => format!("00000000-0000-4000-8000-{i:012x}"),
            },
            at: OPENED + i as i64 * 10,
            kind,
            region: "eu-west-1".into(),
            cause: cause.into(),
            stop_code: (kind == MemberKind::Task).then(|| "EssentialContainerExited".into()),
            failed_containers: (kind == MemberKind::Task).then(|| "app:137".into()),
            deployment: None,
            severity: None,
        }
    }

    fn window(members: Vec<Member>, index: u32) -> Window {
        let key =
            "essential-container-exited|111122223333|eu-west-1|prod|service:checkout".to_owned();
        Window {
            window: WindowRef { key, opened: OPENED, index },
            start: OPENED,
            end: OPENED + 600,
            members,
            crash_loop_before: false,
        }
    }

    fn stops(count: usize) -> Vec<Member> {
        (0..count)
            .map(|i| {
                let cause = if i % 3 == 0 { "exit 1" } else { "exit 137 OutOfMemoryError" };
                member(i, MemberKind::Task, cause)
            })
            .collect()
    }

    fn sent_at_end(window: &Window) -> DateTime<Utc> {
        DateTime::from_timestamp(window.end + 90, 0).expect("time")
    }

    /// The default rule's digest of `window`, sent when it is due, accounts named by `names`.
    fn digest_named(window: &Window, names: &AccountNames) -> Alert {
        let rules = RuleSet::default_rules();
        render_digest(&rules.rules()[0], window, &BTreeMap::new(), names, sent_at_end(window))
    }

    /// [`digest_named`] without names.
    fn digest_of(window: &Window) -> Alert {
        digest_named(window, &AccountNames::none())
    }

    #[test]
    fn given_a_window_then_the_digest_counts_breaks_down_and_lists_its_tasks() {
        let window = window(stops(24), 1);
        let digest = digest_of(&window);
        assert_eq!(digest.kind, AlertKind::Digest);
        assert_eq!(digest.count, 24);
        assert!(digest.crash_loop, "24 stops in a window: a crash loop");
        assert_eq!(digest.resources.len(), 24);
        assert!(
            digest.subject.starts_with(
                "[111122223333 eu-west-1] ECS crash loop: prod/checkout: 24 more stopped in 10m"
            ),
            "{}",
            digest.subject
        );
        assert!(
            digest.message.contains("exit 137 OutOfMemoryError ×16, exit 1 ×8"),
            "{}",
            digest.message
        );
        assert!(digest.message.contains("... and 4 more"), "{}", digest.message);
        assert_eq!(digest.document["tasks"].as_array().map(Vec::len), Some(24));
        assert_eq!(digest.document["unlisted"], 0);
        assert_eq!(digest.attributes["kind"], "digest");
        assert_eq!(digest.attributes["crashLoop"], "true");
        assert_eq!(digest.attributes["count"], 24);
        assert_eq!(
            digest.dedup_key,
            "digest#essential-container-exited|111122223333|eu-west-1|prod|service:checkout#1714644000#1"
        );
        assert!(
            digest.message.starts_with(
                "Account:            111122223333\n\
                 Region:             eu-west-1\n\
                 Incident:           essential-container-exited on prod (service:checkout)\n"
            ),
            "{}",
            digest.message
        );
        assert_eq!(digest.document["account"], "111122223333");
        assert_eq!(digest.document["region"], "eu-west-1");
        assert!(digest.message.contains(
            "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod/services/checkout/health?region=eu-west-1"
        ));
        check_notification(&digest.chat).expect("a valid chat notification");
        // One thread per incident: its key and when it opened.
        assert_eq!(
            digest.chat["metadata"]["threadId"],
            "essential-container-exited|111122223333|eu-west-1|prod|service:checkout#1714644000"
        );
        assert!(digest.subject.chars().count() <= crate::alert::MAX_SUBJECT_CHARS);
        assert!(!digest.chat.to_string().contains("<http"), "no Slack-only links");
    }

    #[test]
    fn given_ten_thousand_stops_then_the_document_lists_a_bounded_sample_with_every_cause() {
        let members: Vec<Member> =
            (0..10_000).map(|i| member(i, MemberKind::Task, &format!("exit {}", i % 30))).collect();
        let window = window(members, 2);
        let digest = digest_of(&window);
        let tasks = digest.document["tasks"].as_array().expect("tasks");
        assert_eq!(tasks.len(), MAX_DOCUMENT_LISTED);
        assert_eq!(digest.document["unlisted"], 10_000 - MAX_DOCUMENT_LISTED as u64);
        let causes = digest.document["causes"].as_array().expect("causes");
        assert_eq!(causes.len(), MAX_CAUSES);
        assert_eq!(causes.last().expect("last")["cause"], "other causes");
        let counted: u64 = causes.iter().map(|c| c["count"].as_u64().expect("count")).sum();
        assert_eq!(counted, 10_000);
        // Each of the 30 causes has a listed example.
        let listed: BTreeSet<&str> =
            tasks.iter().map(|task| task["cause"].as_str().expect("cause")).collect();
        assert_eq!(listed.len(), 30);
        assert!(
            digest.document.to_string().len() < 64 * 1024,
            "{}",
            digest.document.to_string().len()
        );
    }

    #[test]
    fn given_service_and_instance_windows_then_they_are_worded_by_what_they_are_with_regional_links()
     {
        let placement: Vec<Member> = (0..6)
            .map(|i| member(i, MemberKind::Service, "SERVICE_TASK_PLACEMENT_FAILURE"))
            .collect();
        let window = window(placement, 1);
        let digest = digest_of(&window);
        assert!(
            digest.subject.starts_with(
                "[111122223333 eu-west-1] ECS incident: prod/checkout: 6 more service events in 10m"
            ),
            "{}",
            digest.subject
        );
        assert!(!digest.crash_loop, "placement failures are no crash loop");
        assert!(!digest.message.contains("Stopped ("), "{}", digest.message);
        assert!(!digest.message.contains("Crash loop"), "{}", digest.message);
        assert!(!digest.message.contains("https://."), "{}", digest.message);
        assert!(digest.message.contains("https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod/services/checkout/deployments?region=eu-west-1"), "{}", digest.message);
        assert_eq!(digest.document["events"].as_array().map(Vec::len), Some(6));

        let mut instances = Window {
            window: WindowRef {
                key: "flaps|111122223333|eu-west-1|prod|instances".into(),
                opened: OPENED,
                index: 1,
            },
            ..window
        };
        instances.members =
            (0..3).map(|i| member(i, MemberKind::ContainerInstance, "ACTIVE")).collect();
        let digest = digest_of(&instances);
        assert!(digest.subject.contains("3 more container instance changes"), "{}", digest.subject);
        assert!(
            digest.message.contains("clusters/prod/infrastructure?region=eu-west-1"),
            "{}",
            digest.message
        );
    }

    #[test]
    fn given_a_late_bucket_or_a_digest_sent_hours_after_its_window_then_it_says_it_is_about_the_past()
     {
        let rules = RuleSet::default_rules();
        let mut late = window(stops(3), 0);
        late.window.opened = OPENED + 4 * 3_600;
        let now = DateTime::from_timestamp(OPENED + 4 * 3_600 + 700, 0).expect("time");
        let digest =
            render_digest(&rules.rules()[0], &late, &BTreeMap::new(), &AccountNames::none(), now);
        assert!(
            digest.subject.starts_with(
                "[111122223333 eu-west-1] ECS late: prod/checkout: 3 stops delivered late, up to 4h"
            ),
            "{}",
            digest.subject
        );
        assert!(digest.message.contains("Delivered late:"), "{}", digest.message);
        assert!(!digest.message.contains("Window:"), "a late bucket is no window of the incident");
        assert!(!digest.crash_loop);
        assert_eq!(digest.document["late"], true);
        // Its oldest stop happened 4 h 11 m 40 s before it is sent.
        assert_eq!(digest.document["lateBySeconds"], 4 * 3_600 + 700);

        let told_late = window(stops(2), 2);
        let now = DateTime::from_timestamp(told_late.end + 3 * 3_600, 0).expect("time");
        let digest = render_digest(
            &rules.rules()[0],
            &told_late,
            &BTreeMap::new(),
            &AccountNames::none(),
            now,
        );
        assert!(
            digest.message.contains("Sent late:          3h 00m after the window ended"),
            "{}",
            digest.message
        );
        assert_eq!(digest.document["lateBySeconds"], 3 * 3_600);
    }

    #[test]
    fn given_a_named_account_then_the_digest_names_it_in_subject_text_chat_and_document() {
        let names = AccountNames::parse("111122223333=prod-eu").expect("names");
        let window = window(stops(6), 1);
        let digest = digest_named(&window, &names);
        assert!(
            digest.subject.starts_with("[prod-eu eu-west-1] ECS crash loop: prod/checkout:"),
            "{}",
            digest.subject
        );
        assert!(digest.message.contains("Account:            prod-eu (111122223333)\n"));
        assert_eq!(digest.document["accountName"], "prod-eu");
        let chat = digest.chat["content"]["description"].as_str().expect("description");
        assert!(chat.contains("Account: `prod-eu (111122223333)`   Region: `eu-west-1`"), "{chat}");
        check_notification(&digest.chat).expect("a valid chat notification");
    }

    #[test]
    fn given_a_window_of_a_key_kept_from_before_accounts_then_its_tasks_name_the_account() {
        let mut window = window(stops(2), 1);
        window.window.key = "essential-container-exited|prod|service:checkout".into();
        let digest = digest_of(&window);
        assert!(
            digest.subject.starts_with("[111122223333 eu-west-1] ECS incident: prod/checkout:"),
            "{}",
            digest.subject
        );
        assert_eq!(digest.document["cluster"], "prod");
        assert_eq!(digest.document["service"], "checkout");
    }
}
