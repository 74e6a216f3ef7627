//! `ecs-events reconcile`: the reconciler's report as people read it.

use ecs_events::reconcile::ReconcileReport;

use crate::columns::aligned;

/// The drift found, one line each (ARNs shortened to their resource part), then the counts,
/// what cut the run short and what failed.
pub fn render(report: &ReconcileReport) -> String {
    let dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
    let rows: Vec<[String; 5]> = report
        .drift
        .iter()
        .map(|drift| {
            let resource = drift.arn.split_once(":task/").map_or_else(
                || drift.arn.rsplit_once('/').map_or(drift.arn.as_str(), |(_, id)| id).to_owned(),
                |(_, resource)| resource.to_owned(),
            );
            [
                drift.kind.to_owned(),
                resource,
                dash(&drift.stored),
                dash(&drift.ecs),
                drift.action.to_owned(),
            ]
        })
        .collect();
    let mut out = String::new();
    if !rows.is_empty() {
        out += &aligned(["KIND", "RESOURCE", "STORED", "ECS", "ACTION"], &rows);
    }
    let names: Vec<&str> =
        report.clusters.iter().map(|arn| arn.rsplit('/').next().unwrap_or(arn)).collect();
    let (written, enriched, marked) = if report.dry_run {
        ("would write", "would add API facts to", "would mark missing")
    } else {
        ("written", "API facts added to", "marked missing")
    };
    out += &format!(
        "{} cluster(s) reconciled{}{}\n\
         described {}, {written} {}, {enriched} {}, unchanged {}, {marked} {}, marks cleared {}\n\
         {} ECS API calls, {} throttled\n",
        names.len(),
        if names.is_empty() { "" } else { ": " },
        names.join(", "),
        report.described,
        report.written,
        report.enriched,
        report.unchanged,
        report.marked_missing,
        report.cleared,
        report.api_calls,
        report.throttles,
    );
    if report.too_recent_to_mark > 0 {
        out += &format!(
            "not listed but stored in the last {} minutes, not marked yet: {}\n",
            ecs_events::reconcile::LIST_GRACE.num_minutes(),
            report.too_recent_to_mark
        );
    }
    if report.dry_run {
        out += "dry run: nothing was written\n";
    }
    if let Some(why) = &report.cut_short {
        out += &format!("cut short: {why} (what was written stays)\n");
    }
    for failure in &report.failures {
        out += &format!("failed: {failure}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use ecs_events::reconcile::Drift;

    use super::*;

    #[test]
    fn given_a_dry_run_with_drift_then_each_difference_and_the_counts_are_printed() {
        let report = ReconcileReport {
            dry_run: true,
            clusters: vec!["arn:aws:ecs:us-east-1:123456789012:cluster/prod".into()],
            described: 2,
            written: 1,
            marked_missing: 1,
            api_calls: 4,
            throttles: 1,
            failures: vec!["task arn:x: ECS gave no version, not written".into()],
            drift: vec![
                Drift {
                    kind: "task",
                    arn: "arn:aws:ecs:us-east-1:123456789012:task/prod/abc".into(),
                    stored: Some("RUNNING@3".into()),
                    ecs: None,
                    action: "mark missing",
                },
                Drift {
                    kind: "container-instance",
                    arn: "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/i1".into(),
                    stored: None,
                    ecs: Some("ACTIVE@7".into()),
                    action: "write",
                },
            ],
            ..Default::default()
        };
        let text = render(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["KIND", "RESOURCE", "STORED", "ECS", "ACTION"]
        );
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            ["task", "prod/abc", "RUNNING@3", "-", "mark", "missing"]
        );
        assert_eq!(
            lines[2].split_whitespace().collect::<Vec<_>>(),
            ["container-instance", "i1", "-", "ACTIVE@7", "write"]
        );
        assert_eq!(lines[3], "1 cluster(s) reconciled: prod");
        assert_eq!(
            lines[4],
            "described 2, would write 1, would add API facts to 0, unchanged 0, would mark \
             missing 1, marks cleared 0"
        );
        assert_eq!(lines[5], "4 ECS API calls, 1 throttled");
        assert_eq!(lines[6], "dry run: nothing was written");
        assert_eq!(lines[7], "failed: task arn:x: ECS gave no version, not written");
    }
}
