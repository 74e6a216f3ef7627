//! The listener: one JSON line per ECS event, secrets redacted; non-ECS events rejected.

mod support;

use ecs_events::event_log::logged_event;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use support::{events_dir, read_json};

fn listen(event: Value) -> (Result<Value, lambda_runtime::Diagnostic>, String) {
    let mut out = Vec::new();
    let result = listener::handle(LambdaEvent::new(event, Context::default()), &mut out);
    (result, String::from_utf8(out).expect("UTF-8"))
}

#[test]
fn given_an_ecs_event_then_one_json_line_carries_the_whole_event_with_secrets_redacted() {
    let event = read_json(&events_dir().join("samples/task-with-env-overrides.json"));
    let (result, out) = listen(event.clone());
    assert_eq!(result.expect("logged"), json!({"logged": event["id"]}));
    assert_eq!(out.lines().count(), 1);
    assert!(!out.contains("REDACT-ME-SECRET"), "{out}");
    let line: Value = serde_json::from_str(&out).expect("JSON line");
    assert_eq!(line["detailType"], "ECS Task State Change");
    let logged = logged_event(&line).expect("listener line");
    let environment = &logged["detail"]["overrides"]["containerOverrides"][0]["environment"][0];
    assert_eq!(environment["value"], ecs_events::redact::REDACTED);
    assert_eq!(
        environment["name"],
        event["detail"]["overrides"]["containerOverrides"][0]["environment"][0]["name"]
    );
    // Everything else is the event as delivered.
    let mut without_overrides = logged.clone();
    let mut original = event;
    without_overrides["detail"].as_object_mut().expect("detail").remove("overrides");
    original["detail"].as_object_mut().expect("detail").remove("overrides");
    assert_eq!(without_overrides, original);
}

#[test]
fn given_a_non_ecs_event_then_it_is_rejected_naming_the_source_and_nothing_is_logged() {
    let mut event = read_json(&events_dir().join("samples/task-oom-killed.json"));
    event["source"] = json!("my.app");
    let (result, out) = listen(event);
    let error = result.expect_err("rejected");
    assert_eq!(error.error_type, "NonRetryable.InvalidEvent");
    assert_eq!(
        error.error_message,
        "invalid event: event source is \"my.app\", expected \"aws.ecs\""
    );
    assert!(out.is_empty());
}
