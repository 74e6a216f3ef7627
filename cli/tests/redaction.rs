//! GIVEN an event whose container overrides carry planted secrets WHEN it goes through every
//! path (listener logs, the functions' own logs, the DynamoDB item, the SNS alert, replay text
//! and JSON output) THEN no secret appears anywhere.

#[path = "../../tests/tests/support/mod.rs"]
mod support;

use std::sync::Arc;

use assert_cmd::Command;
use ecs_events::alert::{Alerter, DynamoDbLedger, RuleSet, SnsAlertSink};
use ecs_events::state::DynamoDbStateStore;
use ecs_events_cli::tables::{create_ledger_table, create_state_tables};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use state_tracker::StateTracker;
use support::{
    capture_logs, drain, dynamodb, events_dir, read_json, sns, topic_with_queue, unique,
};

const PLANTED: &str = "REDACT-ME-SECRET";

/// The sample with secrets, as delivered while pending and once stopped (so alerts fire).
fn events_with_secrets() -> Vec<Value> {
    let mut pending = read_json(&events_dir().join("samples/task-with-env-overrides.json"));
    assert!(pending.to_string().contains(PLANTED), "the sample must carry the planted secrets");
    // Secrets also hide in command overrides and in override fields ECS may add later.
    let container = &mut pending["detail"]["overrides"]["containerOverrides"][0];
    container["command"] = json!(["migrate", format!("--password={PLANTED}-command")]);
    container["entryPoint"] = json!(["sh", "-c", format!("TOKEN={PLANTED}-entrypoint run")]);
    pending["detail"]["overrides"]["someFutureOverride"] = json!(format!("{PLANTED}-future"));
    let mut stopped = pending.clone();
    stopped["id"] = json!("6c5a1f0e-0000-4000-8000-00000000abcd");
    let detail = &mut stopped["detail"];
    detail["version"] = json!(detail["version"].as_u64().expect("version") + 5);
    detail["lastStatus"] = json!("STOPPED");
    detail["desiredStatus"] = json!("STOPPED");
    detail["stopCode"] = json!("EssentialContainerExited");
    detail["stoppedReason"] = json!("Essential container in task exited");
    detail["stoppedAt"] = json!("2024-05-02T15:00:00.000Z");
    vec![pending, stopped]
}

#[tokio::test]
async fn given_planted_secrets_then_no_log_item_alert_or_replay_output_contains_them() {
    let events = events_with_secrets();
    let mut everything = String::new();

    // The functions, with their logs captured at the most verbose level.
    let (logs, _guard) = capture_logs();

    let (tasks, instances, ledger) = (unique("tasks"), unique("instances"), unique("ledger"));
    create_state_tables(&dynamodb(), &tasks, &instances).await.expect("tables");
    create_ledger_table(&dynamodb(), &ledger).await.expect("ledger");
    let subscribed = topic_with_queue(false, None).await;
    let tracker = StateTracker::new(
        Arc::new(DynamoDbStateStore::new(dynamodb(), tasks.clone(), instances)),
        Arc::new(support::moto_services().await),
        support::covering_retention(),
    );
    let alerter = Alerter::new(
        RuleSet::from_json(include_str!("../../rules/examples.json")).expect("rules"),
        Arc::new(DynamoDbLedger::new(dynamodb(), ledger)),
        Arc::new(SnsAlertSink::new(sns(), subscribed.topic_arn)),
        support::ledger_retention(),
    );
    let mut listener_log = Vec::new();
    for event in &events {
        listener::handle(LambdaEvent::new(event.clone(), Context::default()), &mut listener_log)
            .expect("logged");
        tracker.handle(LambdaEvent::new(event.clone(), Context::default())).await.expect("tracked");
        let response =
            alerter::handle(&alerter, LambdaEvent::new(event.clone(), Context::default()))
                .await
                .expect("alerted");
        everything.push_str(&response.to_string());
    }
    everything.push_str(&String::from_utf8(listener_log).expect("UTF-8"));
    let captured = logs.text();
    assert!(captured.contains("tracked"), "the functions' logs were captured");
    everything.push_str(&captured);

    // What the state table holds and what subscribers receive.
    let items = dynamodb().scan().table_name(&tasks).send().await.expect("scan");
    assert_eq!(items.count(), 1);
    everything.push_str(&format!("{:?}", items.items()));
    // The stored detail is compressed: read it as the store does.
    for item in items.items() {
        let stored = item.get("detail").and_then(|detail| detail.as_b().ok()).expect("detail");
        let detail = ecs_events::state::Detail::decode(stored.as_ref()).expect("decodes");
        assert!(detail.as_str().contains("DATABASE_PASSWORD"), "the names are kept");
        everything.push_str(detail.as_str());
    }
    let messages = drain(&subscribed.queue_url).await;
    assert!(!messages.is_empty(), "an alert was delivered");
    for message in messages {
        everything.push_str(message.body().unwrap_or_default());
    }

    // Replay output, text and JSON.
    let file = std::env::temp_dir().join(format!("{}.jsonl", unique("secrets")));
    std::fs::write(&file, events.iter().map(Value::to_string).collect::<Vec<_>>().join("\n"))
        .expect("written");
    let rules = events_dir().join("../rules/examples.json");
    for json in [false, true] {
        let mut command = Command::cargo_bin("ecs-events").expect("binary");
        command.args(["replay", "--rules"]).arg(&rules).arg(&file);
        if json {
            command.arg("--json");
        }
        let output = command.output().expect("ran");
        assert!(output.status.success());
        let text = String::from_utf8(output.stdout).expect("UTF-8");
        assert!(text.contains("DATABASE_PASSWORD") || text.contains("Subject"), "{text}");
        everything.push_str(&text);
    }

    assert!(everything.contains("DATABASE_PASSWORD"), "the variable names are kept");
    let leaks: Vec<&str> = everything
        .match_indices(PLANTED)
        .map(|(at, _)| &everything[at.saturating_sub(80)..at + 20])
        .collect();
    assert!(leaks.is_empty(), "secrets leaked: {leaks:#?}");
}
