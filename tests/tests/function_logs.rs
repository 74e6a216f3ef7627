//! GIVEN an invalid event WHEN a function rejects it THEN it is logged once: the Lambda runtime
//! logs the returned error with its `Debug` form, which reads `<error type>: <message>`, and
//! the handler itself logs nothing more.

mod support;

use std::sync::Arc;

use ecs_events::alert::{Alerter, CollectingSink, InMemoryLedger, RuleSet};
use ecs_events::state::{InMemoryStateStore, Retention};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use state_tracker::StateTracker;
use support::{capture_logs, events_dir, read_json};

/// The OOM sample keyed by an empty task ARN.
fn invalid_event() -> Value {
    let mut event = read_json(&events_dir().join("samples/task-oom-killed.json"));
    event["detail"]["taskArn"] = json!("");
    event
}

const EXPECTED: &str =
    "NonRetryable.InvalidEvent: invalid event: detail.taskArn: expected a task ARN";

#[tokio::test]
async fn given_an_invalid_event_then_the_state_tracker_leaves_the_one_log_line_to_the_runtime() {
    let (logs, _guard) = capture_logs();
    let tracker = StateTracker::new(
        Arc::new(InMemoryStateStore::new()),
        Arc::new(ecs_events::service::InMemoryServiceStore::new()),
        Retention::default(),
    );
    let error = tracker
        .handle(LambdaEvent::new(invalid_event(), Context::default()))
        .await
        .expect_err("invalid");
    assert!(format!("{error:?}").starts_with(EXPECTED), "{error:?}");
    assert!(!logs.text().contains("detail.taskArn"), "{}", logs.text());
}

#[tokio::test]
async fn given_an_invalid_event_then_the_alerter_leaves_the_one_log_line_to_the_runtime() {
    let (logs, _guard) = capture_logs();
    let alerter = Alerter::new(
        RuleSet::default_rules(),
        Arc::new(InMemoryLedger::new()),
        Arc::new(CollectingSink::new()),
        support::ledger_retention(),
    );
    let error = alerter::handle(&alerter, LambdaEvent::new(invalid_event(), Context::default()))
        .await
        .expect_err("invalid");
    assert!(format!("{error:?}").starts_with(EXPECTED), "{error:?}");
    assert!(!logs.text().contains("detail.taskArn"), "{}", logs.text());
}
