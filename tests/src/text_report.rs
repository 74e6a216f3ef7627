//! The replay report as text for people: counts, tasks by cluster and status, and each alert
//! as it would be delivered.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use std::sync::Arc;

use serde_json::Value;

use crate::replay::{Rejected, Report};

/// Renders `report` as text.
pub fn render(report: &Report) -> String {
    let stats = &report.stats;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Replayed {} events: {} stored, {} duplicates, {} stale, {} ignored, {} rejected{}; {} alerts sent{}.",
        stats.events,
        stats.stored,
        stats.duplicates,
        stats.stale,
        stats.ignored,
        stats.rejected,
        if stats.failed > 0 { format!(", {} failed", stats.failed) } else { String::new() },
        stats.alerts,
        if stats.alerts_failed > 0 {
            format!(", {} could not be sent", stats.alerts_failed)
        } else {
            String::new()
        },
    );
    by_cluster(&mut out, "Tasks", &report.tasks, "lastStatus");
    by_cluster(&mut out, "Container instances", &report.container_instances, "status");
    for alert in &report.alerts {
        let _ = writeln!(out, "\n--- alert: {} → {}", alert.rule, alert.resource);
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

fn by_cluster(out: &mut String, title: &str, details: &[Arc<Value>], status_field: &str) {
    if details.is_empty() {
        return;
    }
    let mut counts: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for detail in details {
        let cluster = detail["clusterArn"].as_str().unwrap_or("?");
        let cluster = cluster.rsplit('/').next().unwrap_or(cluster);
        let status = detail[status_field].as_str().unwrap_or("?");
        *counts.entry(cluster).or_default().entry(status).or_default() += 1;
    }
    let _ = writeln!(out, "\n{title} by cluster and status:");
    for (cluster, statuses) in counts {
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
