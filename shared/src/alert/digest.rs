//! Digests: one message for the further matches of one window of an incident — how many, over
//! what span, broken down by cause, the tasks (up to [`MAX_LISTED`] in the text, all in the
//! JSON document) and console links.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::AlertRule;
use super::chat::ChatContent;
use super::render::{Alert, AlertKind, Draft, assemble, subject_line};
use crate::incident::Window;

/// Tasks listed in a digest's text (the JSON document lists all of them).
pub const MAX_LISTED: usize = 20;

/// Renders the digest of `window`, an incident window of `rule`'s matches.
pub fn render_digest(rule: &AlertRule, window: &Window) -> Alert {
    let key = &window.window.key;
    // The key is `rule|cluster|group`.
    let mut parts = key.splitn(3, '|').skip(1);
    let cluster = parts.next().unwrap_or_default().to_owned();
    let group = parts.next().unwrap_or_default().to_owned();
    let service = group.strip_prefix("service:").map(str::to_owned);
    let count = window.count();
    let causes = window.causes();
    let breakdown: Vec<String> =
        causes.iter().map(|(cause, count)| format!("{cause} ×{count}")).collect();
    let region = window.members.iter().find_map(|member| region_of(&member.id)).unwrap_or_default();
    let console = |path: &str| {
        format!(
            "https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/{path}?region={region}"
        )
    };
    let service_url =
        service.as_ref().map(|service| console(&format!("services/{service}/health")));
    let tasks_url = console("tasks");
    let span = match (window.members.first(), window.members.last()) {
        (Some(first), Some(last)) => format!("{} to {}", time(first.at), time(last.at)),
        _ => "-".to_owned(),
    };
    let what = if window.crash_loop { "ECS crash loop" } else { "ECS incident" };
    let subject = subject_line(&format!(
        "{what}: {cluster}/{}: {count} more stopped in {} ({})",
        service.as_deref().unwrap_or(&group),
        minutes(window.end - window.start),
        breakdown.join(", ")
    ));

    let mut text = String::new();
    let line = |text: &mut String, label: &str, value: &str| {
        let _ = writeln!(text, "{label:<20}{value}");
    };
    line(&mut text, "Incident:", &format!("{} on {cluster} ({group})", rule.name));
    line(
        &mut text,
        "Window:",
        &format!("{} to {} (window {})", time(window.start), time(window.end), window.window.index),
    );
    line(&mut text, "More stopped:", &format!("{count} since the last message ({span})"));
    if window.crash_loop {
        line(&mut text, "Crash loop:", "yes: the service keeps stopping");
    }
    line(&mut text, "By cause:", &breakdown.join(", "));
    let _ = writeln!(text, "\nStopped ({count}):");
    for member in window.members.iter().take(MAX_LISTED) {
        let id = member.id.rsplit('/').next().unwrap_or(&member.id);
        let containers = member.failed_containers.as_deref().unwrap_or_default();
        let row = format!("  {id:<32} {}  {:<28} {containers}", time(member.at), member.cause);
        let _ = writeln!(text, "{}", row.trim_end());
    }
    let unlisted = count.saturating_sub(MAX_LISTED.min(window.members.len()) as u64);
    if unlisted > 0 {
        let _ = writeln!(text, "  ... and {unlisted} more (all of them in the JSON document)");
    }
    let _ = writeln!(text);
    if let Some(url) = &service_url {
        line(&mut text, "Service:", url);
    }
    line(&mut text, "Tasks:", &tasks_url);
    let _ = writeln!(
        text,
        "Rule: {}{}",
        rule.name,
        if rule.description.is_empty() {
            String::new()
        } else {
            format!(" — {}", rule.description)
        }
    );

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
    let fields = json!({
        "cluster": cluster,
        "group": group,
        "service": service,
        "window": {"index": window.window.index, "start": time(window.start), "end": time(window.end)},
        "firstAt": window.members.first().map(|member| time(member.at)),
        "lastAt": window.members.last().map(|member| time(member.at)),
        "causes": causes.iter().map(|(cause, count)| json!({"cause": cause, "count": count})).collect::<Vec<_>>(),
        "unlisted": window.overflow,
        "tasks": window.members.iter().map(|member| json!({
            "id": member.id,
            "at": time(member.at),
            "cause": member.cause,
            "stopCode": member.stop_code,
            "failedContainers": member.failed_containers,
            "consoleUrl": region_of(&member.id).map(|_| console(&format!("tasks/{}/configuration", member.id.rsplit('/').next().unwrap_or_default()))),
        })).collect::<Vec<_>>(),
        "serviceUrl": service_url,
        "tasksUrl": tasks_url,
    });
    let mut lines =
        vec![format!("*{count} more stopped* in {} ({span})", minutes(window.end - window.start))];
    if window.crash_loop {
        lines.insert(0, "*Crash loop:* the service keeps stopping".to_owned());
    }
    lines.push(format!("*By cause:* {}", breakdown.join(", ")));
    let listed: Vec<String> = window
        .members
        .iter()
        .take(MAX_LISTED)
        .map(|member| {
            format!("• `{}` {}", member.id.rsplit('/').next().unwrap_or(&member.id), member.cause)
        })
        .collect();
    lines.push(listed.join("\n"));
    if unlisted > 0 {
        lines.push(format!("… and {unlisted} more"));
    }
    let mut next_steps = Vec::new();
    if let Some(url) = &service_url {
        next_steps.push(format!("Look at the service's health and deployments: <{url}|service>"));
    }
    next_steps.push(format!("See the stopped tasks: <{tasks_url}|tasks>"));
    let chat = ChatContent {
        title: subject.clone(),
        lines,
        next_steps,
        keywords: [
            Some(cluster.clone()),
            service.clone(),
            causes.first().map(|(cause, _)| cause.clone()),
        ]
        .into_iter()
        .flatten()
        .collect(),
        related: resources.iter().take(MAX_LISTED).cloned().collect(),
        event_type: "ECSIncidentDigest",
    };
    let draft = Draft {
        kind: AlertKind::Digest,
        target: (key.clone(), format!("digest#{}", window.window.id())),
        subject,
        text,
        attributes,
        fields,
        chat,
        incident: Some(key.clone()),
        count,
        crash_loop: window.crash_loop,
        resources,
    };
    assemble(rule, draft, json!({ "region": region, "time": time(window.end) }))
}

/// The region of an ARN (`arn:aws:ecs:<region>:...`).
fn region_of(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:")?.split(':').nth(2).filter(|region| !region.is_empty())
}

/// An epoch second as `2024-05-02T11:40:00Z`.
fn time(at: i64) -> String {
    DateTime::<Utc>::from_timestamp(at, 0)
        .map_or_else(|| at.to_string(), |at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// A window length in words: `10m`, `1h 30m`.
fn minutes(seconds: i64) -> String {
    match (seconds / 3_600, seconds / 60 % 60) {
        (0, minutes) => format!("{minutes}m"),
        (hours, 0) => format!("{hours}h"),
        (hours, minutes) => format!("{hours}h {minutes}m"),
    }
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

    fn window(members: usize, crash_loop: bool) -> Window {
        let key = "essential-container-exited|prod|service:checkout".to_owned();
        Window {
            window: WindowRef { key, opened: 1_714_644_000, index: 1 },
            start: 1_714_644_000,
            end: 1_714_644_600,
            members: (0..members)
                .map(|i| Member {
                    id: format!("arn:aws:ecs:us-east-1:111122223333:task/prod/{i:032x}"),
                    at: 1_714_644_000 + i as i64 * 10,
                    cause: if i % 3 == 0 {
                        "exit 1".into()
                    } else {
                        "exit 137 OutOfMemoryError".into()
                    },
                    stop_code: Some("EssentialContainerExited".into()),
                    failed_containers: Some("app:137".into()),
                })
                .collect(),
            overflow: 0,
            crash_loop,
        }
    }

    #[test]
    fn given_a_window_then_the_digest_counts_breaks_down_and_lists_its_tasks() {
        let rules = RuleSet::default_rules();
        let digest = render_digest(&rules.rules()[0], &window(24, true));
        assert_eq!(digest.kind, AlertKind::Digest);
        assert_eq!(digest.count, 24);
        assert!(digest.crash_loop);
        assert_eq!(digest.resources.len(), 24);
        assert!(
            digest.subject.starts_with("ECS crash loop: prod/checkout: 24 more stopped in 10m"),
            "{}",
            digest.subject
        );
        assert!(
            digest.message.contains("exit 137 OutOfMemoryError ×16, exit 1 ×8"),
            "{}",
            digest.message
        );
        assert!(
            digest.message.contains("... and 4 more (all of them in the JSON document)"),
            "{}",
            digest.message
        );
        assert_eq!(digest.document["tasks"].as_array().map(Vec::len), Some(24));
        assert_eq!(digest.attributes["kind"], "digest");
        assert_eq!(digest.attributes["crashLoop"], "true");
        assert_eq!(digest.attributes["count"], 24);
        assert_eq!(
            digest.dedup_key,
            "digest#essential-container-exited|prod|service:checkout#1714644000#1"
        );
        assert!(digest.message.contains(
            "https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/services/checkout/health"
        ));
        check_notification(&digest.chat).expect("a valid chat notification");
        assert_eq!(
            digest.chat["metadata"]["threadId"],
            "essential-container-exited|prod|service:checkout"
        );
        assert!(digest.subject.chars().count() <= crate::alert::MAX_SUBJECT_CHARS);
    }
}
