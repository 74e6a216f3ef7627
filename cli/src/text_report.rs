//! The replay report as text for people: counts, tasks by cluster and status, and each alert
//! as it would be delivered.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use ecs_events::account::{AccountNames, account_of, region_of};

use ecs_events::alert::{Alert, AlertKind};
use ecs_events::service::DeploymentView;

use crate::replay::{Rejected, Report};
use crate::stats::{Stats, StatusCounts};
use crate::tasks::cluster_words;

/// Renders `report` as text.
pub fn render(report: &Report) -> String {
    let stats = &report.stats;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Replayed {} events: {} stored, {} duplicates, {} stale, {} ignored, {} rejected{}; {} and {} sent{}{}.",
        stats.events,
        stats.stored,
        stats.duplicates,
        stats.stale,
        stats.ignored,
        stats.rejected,
        if stats.failed > 0 { format!(", {} failed", stats.failed) } else { String::new() },
        counted(stats.alerts, "alert"),
        counted(stats.digests, "digest"),
        service_messages(stats),
        if stats.alerts_failed > 0 {
            format!(", {} could not be sent", stats.alerts_failed)
        } else {
            String::new()
        },
    );
    // With more than one account or Region, clusters and services say theirs.
    let names = report.account_names.as_ref();
    let arns = report.task_counts.keys().chain(report.instance_counts.keys());
    let arns = arns.chain(report.deployments.iter().map(|view| &view.service));
    let places: BTreeSet<(Option<&str>, Option<&str>)> =
        arns.map(|arn| (account_of(arn), region_of(arn))).collect();
    let placed = places.len() > 1;
    by_cluster(&mut out, "Tasks", &report.task_counts, names, placed);
    by_cluster(&mut out, "Container instances", &report.instance_counts, names, placed);
    deployments(&mut out, &report.deployments, names, placed);
    for alert in &report.alerts {
        let _ = writeln!(out, "\n{}", heading(alert));
        let _ = writeln!(out, "Subject: {}\n", alert.subject);
        let _ = write!(out, "{}", alert.message);
        let attributes: Vec<String> =
            alert.attributes.iter().map(|(name, value)| format!("{name}={value}")).collect();
        let _ = writeln!(out, "Attributes: {}", attributes.join(" "));
    }
    listing(&mut out, "Rejected", &report.rejected);
    listing(&mut out, "Failed", &report.failed);
    out
}

/// `, 1 service down and 2 resolved; 3 not told (a clean exit is no failure)`, or nothing.
fn service_messages(stats: &Stats) -> String {
    let mut parts = Vec::new();
    if stats.silences > 0 {
        parts.push(format!("{} service down", stats.silences));
    }
    if stats.resolved > 0 {
        parts.push(format!("{} resolved", stats.resolved));
    }
    let told = if parts.is_empty() { String::new() } else { format!(", {}", parts.join(" and ")) };
    let quiet = match stats.quiet {
        0 => String::new(),
        count => format!("; {count} not told (a clean exit is no failure)"),
    };
    format!("{told}{quiet}")
}

/// One line per deployment: service, id, state, rollback, what its tasks did, how long it ran.
fn deployments(out: &mut String, views: &[DeploymentView], names: &AccountNames, placed: bool) {
    if views.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nDeployments ({}):", views.len());
    for view in views {
        let service = cluster_words(&view.service, names, placed);
        let mut facts = vec![view.status.clone()];
        if let Some(target) = &view.rolled_back_to {
            facts.push(format!("rolled back to {target}"));
        }
        if let Some(failed) = &view.rollback_of {
            facts.push(format!("rollback of {failed}"));
        }
        let counts = &view.task_counts;
        facts.push(format!(
            "{} started, {} running, {}",
            counts.started,
            counts.reached_running,
            counts.failures()
        ));
        if let Some(seconds) = view.duration_seconds {
            facts.push(format!("ran {}s", seconds));
        }
        let _ = writeln!(out, "  {service:<20} {}  {}", view.deployment_id, facts.join("; "));
    }
}

/// `1 alert`, `2 alerts`.
fn counted(count: u64, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
}

/// `--- alert: rule → resource`, saying when an alert opens an incident and what a digest adds.
fn heading(alert: &Alert) -> String {
    match (alert.kind, &alert.incident) {
        (AlertKind::Digest, Some(incident)) => format!(
            "--- digest: {} → {incident} ({} more{})",
            alert.rule,
            alert.count,
            if alert.crash_loop { ", crash loop" } else { "" }
        ),
        (AlertKind::Alert, Some(incident)) => {
            format!("--- alert: {} → {} (opens incident {incident})", alert.rule, alert.resource)
        }
        (AlertKind::Silence, Some(incident)) => {
            format!(
                "--- service down: {} → {} (opens incident {incident})",
                alert.rule, alert.resource
            )
        }
        (AlertKind::Resolved, Some(incident)) => {
            format!("--- resolved: {} → {} (ends incident {incident})", alert.rule, alert.resource)
        }
        (_, None) => format!("--- {}: {} → {}", alert.kind.as_str(), alert.rule, alert.resource),
    }
}

fn by_cluster(
    out: &mut String,
    title: &str,
    counts: &StatusCounts,
    names: &AccountNames,
    placed: bool,
) {
    if counts.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{title} by cluster and status:");
    // Clusters by what people read (their name, and where), their counts added up should two
    // ARNs read alike.
    let mut lines: BTreeMap<String, BTreeMap<&str, usize>> = BTreeMap::new();
    for (cluster, statuses) in counts {
        let line = lines.entry(cluster_words(cluster, names, placed)).or_default();
        for (status, count) in statuses {
            *line.entry(status).or_default() += count;
        }
    }
    for (cluster, statuses) in lines {
        let statuses: Vec<String> =
            statuses.iter().map(|(status, count)| format!("{status} {count}")).collect();
        let _ = writeln!(out, "  {cluster:<24} {}", statuses.join(", "));
    }
}

fn listing(out: &mut String, title: &str, entries: &[Rejected]) {
    if entries.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{title} ({}):", entries.len());
    for entry in entries {
        let _ = writeln!(out, "  {}: {}", entry.location, entry.error);
    }
}
