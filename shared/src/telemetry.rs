//! Metrics as CloudWatch embedded metric format (EMF) log lines.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// CloudWatch namespace of the toolkit's metrics.
pub const METRICS_NAMESPACE: &str = "EcsEvents";

/// One EMF document counting events per outcome for `function`: metric `Events`, dimensions
/// `Function` and `Outcome`. CloudWatch turns each such log line into metric data points.
pub fn outcome_counts_emf<'a>(
    function: &str,
    counts: impl IntoIterator<Item = (&'a str, u64)>,
) -> Vec<Value> {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default();
    counts
        .into_iter()
        .map(|(outcome, count)| {
            json!({
                "_aws": {
                    "Timestamp": timestamp,
                    "CloudWatchMetrics": [{
                        "Namespace": METRICS_NAMESPACE,
                        "Dimensions": [["Function", "Outcome"]],
                        "Metrics": [{"Name": "Events", "Unit": "Count"}]
                    }]
                },
                "Function": function,
                "Outcome": outcome,
                "Events": count
            })
        })
        .collect()
}

/// Counts outcomes by name, in name order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OutcomeCounts(BTreeMap<&'static str, u64>);

impl OutcomeCounts {
    /// Counts one more `outcome`.
    pub fn add(&mut self, outcome: &'static str) {
        *self.0.entry(outcome).or_default() += 1;
    }

    /// How many of `outcome` were counted.
    pub fn get(&self, outcome: &str) -> u64 {
        self.0.get(outcome).copied().unwrap_or_default()
    }

    /// Prints the counts as EMF lines on stdout, where Lambda sends them to CloudWatch Logs.
    pub fn emit(&self, function: &str) {
        for line in outcome_counts_emf(function, self.0.iter().map(|(k, v)| (*k, *v))) {
            println!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_counts_then_each_outcome_is_one_emf_document_with_its_dimensions() {
        let mut counts = OutcomeCounts::default();
        counts.add("Stored");
        counts.add("Stored");
        counts.add("Stale");
        let docs = outcome_counts_emf("state-tracker", counts.0.iter().map(|(k, v)| (*k, *v)));
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["Outcome"], "Stale");
        assert_eq!(docs[1]["Outcome"], "Stored");
        assert_eq!(docs[1]["Events"], 2);
        assert_eq!(docs[1]["_aws"]["CloudWatchMetrics"][0]["Namespace"], "EcsEvents");
        assert_eq!(docs[1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][1], "Outcome");
    }
}
