//! Logs and metrics of the functions: the `tracing` subscriber, and counts per outcome as
//! CloudWatch embedded metric format (EMF) lines.
//!
//! * **Logs** honour Lambda's advanced logging controls (`AWS_LAMBDA_LOG_LEVEL`,
//!   `AWS_LAMBDA_LOG_FORMAT=JSON`), else `RUST_LOG` as a level. Only the toolkit's own crates
//!   follow a level more verbose than INFO: the Lambda runtime logs every raw payload at TRACE
//!   (secrets included), so dependencies are pinned at INFO at most.
//! * **Metrics** are EMF lines on stdout with the function's deployed name as the `Function`
//!   dimension (two stacks in one account stay apart). Lambda's log-level filter drops JSON
//!   lines below the configured level and counts a line without a level as INFO, so each EMF
//!   line carries exactly the configured level: raising it cannot make metrics vanish.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// CloudWatch namespace of the toolkit's metrics.
pub const METRICS_NAMESPACE: &str = "EcsEvents";

/// The toolkit's crates: the only ones whose logs may be more verbose than INFO.
const OWN_TARGETS: [&str; 6] =
    ["ecs_events", "state_tracker", "alerter", "listener", "reconciler", "ecs_events_cli"];

/// The log level the environment asks for: `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG` (a level),
/// else INFO.
fn configured_level() -> LevelFilter {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG"));
    match level.as_deref().map(str::trim) {
        // Lambda's FATAL has no `tracing` counterpart: its ERROR is the closest.
        Ok(level) if level.eq_ignore_ascii_case("fatal") => LevelFilter::ERROR,
        Ok(level) => LevelFilter::from_str(level).unwrap_or(LevelFilter::INFO),
        Err(_) => LevelFilter::INFO,
    }
}

/// The filter for `level`: the toolkit's crates (targets starting with their names) at
/// `level`, every other crate at `level` or INFO, whichever is less verbose. Static target
/// directives only, so no `EnvFilter` (and no regex engine in the functions' binaries).
pub fn log_filter(level: LevelFilter) -> Targets {
    let others = level.min(LevelFilter::INFO);
    Targets::new().with_default(others).with_targets(OWN_TARGETS.map(|target| (target, level)))
}

/// Installs the functions' `tracing` subscriber on stdout (see the module documentation).
pub fn init_logging() {
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let layer = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_writer(std::io::stdout);
    let subscriber = tracing_subscriber::registry().with(log_filter(configured_level()));
    let installed = if json {
        subscriber.with(layer.json()).try_init()
    } else {
        subscriber.with(layer).try_init()
    };
    if let Err(error) = installed {
        eprintln!("logging not initialised: {error}");
    }
}

/// The `Function` dimension: the deployed function's name (`AWS_LAMBDA_FUNCTION_NAME`), or
/// `fallback` outside Lambda.
fn function_dimension(fallback: &str) -> String {
    static NAME: OnceLock<Option<String>> = OnceLock::new();
    let deployed = NAME.get_or_init(|| std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok());
    deployed_name_or(deployed.as_deref(), fallback)
}

/// The deployed name when there is one, else `fallback`.
fn deployed_name_or(deployed: Option<&str>, fallback: &str) -> String {
    deployed.filter(|name| !name.is_empty()).unwrap_or(fallback).to_owned()
}

/// The level EMF lines carry: Lambda's configured level when it is above INFO, so Lambda's
/// filter keeps them (and never labels them more severe than needed).
fn metric_level() -> &'static str {
    match std::env::var("AWS_LAMBDA_LOG_LEVEL").map(|level| level.trim().to_ascii_uppercase()) {
        Ok(level) if level == "WARN" => "WARN",
        Ok(level) if level == "ERROR" => "ERROR",
        Ok(level) if level == "FATAL" => "FATAL",
        _ => "INFO",
    }
}

/// One EMF document per outcome for `function` (a name, or the deployed name in Lambda):
/// metric `Events`, dimensions `Function` and `Outcome`. CloudWatch turns each such log line
/// into metric data points.
pub fn outcome_counts_emf<'a>(
    function: &str,
    counts: impl IntoIterator<Item = (&'a str, u64)>,
) -> Vec<Value> {
    let timestamp = now_millis();
    let function = function_dimension(function);
    let level = metric_level();
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
                "level": level,
                "Function": function,
                "Outcome": outcome,
                "Events": count
            })
        })
        .collect()
}

/// One EMF document for `function` (a name, or the deployed name in Lambda) holding each of
/// `counts` as a metric of its own name, dimension `Function`: a run's figures in one line.
pub fn counts_emf(function: &str, counts: &[(&str, u64)]) -> Value {
    let metrics: Vec<Value> =
        counts.iter().map(|(name, _)| json!({"Name": name, "Unit": "Count"})).collect();
    let mut document = json!({
        "_aws": {
            "Timestamp": now_millis(),
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": metrics
            }]
        },
        "level": metric_level(),
        "Function": function_dimension(function),
    });
    if let Some(fields) = document.as_object_mut() {
        fields.extend(counts.iter().map(|(name, count)| ((*name).to_owned(), json!(count))));
    }
    document
}

fn now_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default()
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

    /// Prints the counts as EMF lines on stdout, where Lambda sends them to CloudWatch Logs
    /// (directly, not through the log filter of `tracing`).
    pub fn emit(&self, function: &str) {
        for line in outcome_counts_emf(function, self.0.iter().map(|(k, v)| (*k, *v))) {
            println!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

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
        // Outside Lambda the dimension is the given name; a level Lambda's filter keeps.
        assert_eq!(docs[1]["Function"], "state-tracker");
        assert!(
            ["INFO", "WARN", "ERROR", "FATAL"].contains(&docs[1]["level"].as_str().unwrap_or(""))
        );
    }

    #[test]
    fn given_a_runs_counts_then_they_are_one_emf_document_with_a_metric_each() {
        let doc = counts_emf("reconciler", &[("Written", 3), ("Throttles", 0)]);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "Written", "Unit": "Count"}, {"Name": "Throttles", "Unit": "Count"}])
        );
        assert_eq!((doc["Written"].clone(), doc["Throttles"].clone()), (json!(3), json!(0)));
        assert_eq!(doc["Function"], "reconciler");
    }

    #[test]
    fn given_a_deployed_function_then_its_name_is_the_dimension() {
        let deployed = Some("prod-ecs-StateTracker-1A2B");
        assert_eq!(deployed_name_or(deployed, "state-tracker"), "prod-ecs-StateTracker-1A2B");
        assert_eq!(deployed_name_or(None, "state-tracker"), "state-tracker");
        assert_eq!(deployed_name_or(Some(""), "state-tracker"), "state-tracker");
    }

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::ErrorKind::Other)?.extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn given_trace_level_then_own_crates_trace_and_the_runtime_stays_at_info() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::registry()
            .with(log_filter(LevelFilter::TRACE))
            .with(tracing_subscriber::fmt::layer().with_writer(move || writer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "lambda_runtime::layers::api_response", "raw JSON event SECRET");
            tracing::trace!(target: "aws_smithy_runtime::client", "request body SECRET");
            tracing::info!(target: "lambda_runtime::runtime", "runtime info");
            tracing::trace!(target: "ecs_events::state", "own trace");
        });
        let text = String::from_utf8(lines.0.lock().map(|l| l.clone()).unwrap_or_default())
            .unwrap_or_default();
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("runtime info") && text.contains("own trace"), "{text}");
    }

    #[test]
    fn given_warn_level_then_everything_below_warn_is_dropped() {
        let filter = log_filter(LevelFilter::WARN);
        let hint =
            tracing_subscriber::Layer::<tracing_subscriber::Registry>::max_level_hint(&filter);
        assert_eq!(hint, Some(LevelFilter::WARN));
        for target in ["ecs_events::state", "lambda_runtime::runtime", "aws_smithy_runtime"] {
            assert!(filter.would_enable(target, &tracing::Level::WARN), "{target}");
            assert!(!filter.would_enable(target, &tracing::Level::INFO), "{target}");
        }
    }

    #[test]
    fn given_debug_level_then_own_crates_debug_and_the_others_stay_at_info() {
        let filter = log_filter(LevelFilter::DEBUG);
        assert!(filter.would_enable("ecs_events::alert", &tracing::Level::DEBUG));
        assert!(filter.would_enable("state_tracker", &tracing::Level::DEBUG));
        assert!(filter.would_enable("hyper_util::client", &tracing::Level::INFO));
        assert!(!filter.would_enable("hyper_util::client", &tracing::Level::DEBUG));
    }
}
