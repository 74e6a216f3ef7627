//! The Custom Event Bus (eventsv2) payload shapes through every function's handler: a batch
//! (a JSON array) of events, events wrapped as `{"Data", "Metadata", "SystemMetadata"}`, both
//! together, an empty batch, and malformed ones. Each event of a batch is decided on its own;
//! a failure in one is answered at its index, and the invocation fails only when a retry may
//! help (then a retry of the whole batch changes nothing already done).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use ecs_events::alert::{
    Alert, AlertSink, Alerter, CollectingSink, InMemoryLedger, RuleSet, SinkError,
};
use ecs_events::state::{DynamoDbStateStore, InMemoryStateStore, ResourceKind, StateStore};
use ecs_events_cli::tables::create_state_tables;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use state_tracker::{SqsDeadLetters, StateTracker};
use support::{covering_retention, dynamodb, events_dir, read_json, unique};

const OOM_ID: &str = "6d65956a-cc4b-5139-9b14-b648c489b5cd";
const OOM_TASK: &str =
    "arn:aws:ecs:us-east-1:111122223333:task/prod-ec2/ae837ce15a3bdfdc09ab7415b06e1589";
const DRAINING_ID: &str = "aefb83d3-ab57-5ea1-985a-19af7059a0f9";
const GUIDE_ID: &str = "3317b2af-7005-947d-b652-f55e762e571a";

fn sample(name: &str) -> Value {
    read_json(&events_dir().join("samples").join(name))
}

/// The eventsv2 `WITH_METADATA` batch of `events/_payloads/` (see events/README.md): the
/// container instance draining, the guide's task example and the OOM-killed task (the last
/// without `id` and `version`, as a bus may take it in).
fn eventsv2_batch() -> Value {
    read_json(&events_dir().join("_payloads/eventsv2-with-metadata-batch.json"))
}

fn wrapped(event: Value) -> Value {
    json!({
        "Data": event,
        "SystemMetadata": {"aws:DeliveryType": "LIVE", "aws:IngestionTime": "2024-05-02T12:19:47Z"}
    })
}

fn invoke(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

fn memory_services() -> Arc<dyn ecs_events::service::ServiceStore> {
    Arc::new(ecs_events::service::InMemoryServiceStore::new())
}

// --- listener -------------------------------------------------------------------------------

fn listen(payload: Value) -> (Result<Value, lambda_runtime::Diagnostic>, Vec<Value>) {
    let mut out = Vec::new();
    let result = listener::handle(invoke(payload), &mut out);
    let lines = String::from_utf8(out)
        .expect("UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    (result, lines)
}

#[test]
fn given_the_eventsv2_batch_then_the_listener_logs_each_event_with_its_id() {
    let (result, lines) = listen(eventsv2_batch());
    assert_eq!(
        result.expect("logged"),
        json!({"events": [
            {"index": 0, "logged": DRAINING_ID},
            {"index": 1, "logged": GUIDE_ID},
            {"index": 2, "logged": OOM_ID},
        ]})
    );
    assert_eq!(lines.len(), 3);
    // Each line carries the event as the default bus delivers it: the wrapper's Data, with
    // the id and version the bus left out filled in.
    assert_eq!(lines[0]["event"], sample("container-instance-draining.json"));
    assert_eq!(lines[1]["event"], sample("task-guide-example.json"));
    assert_eq!(lines[2]["event"], sample("task-oom-killed.json"));
    assert_eq!(lines[2]["detailType"], "ECS Task State Change");
}

#[test]
fn given_a_batch_with_bad_events_then_they_are_rejected_alone_with_a_line_naming_their_index() {
    let mut not_ecs = sample("task-stopped-by-user.json");
    not_ecs["source"] = json!("my.app");
    let payload = json!([
        sample("task-oom-killed.json"),
        not_ecs,
        [sample("task-ec2-running.json")],
        {"Data": "eyJ2ZXJzaW9uIjoiMCJ9", "SystemMetadata": {"aws:DeliveryType": "LIVE"}},
        wrapped(sample("task-ec2-running.json")),
    ]);
    let (result, lines) = listen(payload);
    let running_id = sample("task-ec2-running.json")["id"].clone();
    assert_eq!(
        result.expect("the batch is answered"),
        json!({"events": [
            {"index": 0, "logged": OOM_ID},
            {"index": 1, "error": "invalid event: event source is \"my.app\", expected \"aws.ecs\""},
            {"index": 2, "error": "invalid event: found an array where an event object was expected (a batch's events cannot be arrays)"},
            {"index": 3, "error": "invalid event: wrapped event (Data, Metadata, SystemMetadata): Data must be the event object, found a string (ECS events are published with PutEvents, whose Data is the event's envelope)"},
            {"index": 4, "logged": running_id},
        ]})
    );
    assert_eq!(lines.len(), 5, "one line per event");
    assert_eq!(lines[0]["kind"], "ecs-event");
    assert_eq!(
        lines[1],
        json!({"level": "ERROR", "kind": "ecs-event-rejected", "index": 1,
               "error": "event [1]: event source is \"my.app\", expected \"aws.ecs\""})
    );
    assert_eq!(lines[2]["kind"], "ecs-event-rejected");
    assert_eq!(lines[3]["index"], 3);
    assert_eq!(lines[4]["event"], sample("task-ec2-running.json"));
}

#[test]
fn given_a_single_wrapped_event_then_the_listener_answers_as_for_a_plain_one() {
    let mut data = sample("task-oom-killed.json");
    data.as_object_mut().expect("object").remove("id");
    let payload = json!({
        "Data": data,
        "Metadata": {},
        "SystemMetadata": {"aws:EventId": "0b7d4c8e-1f2a-4b3c-8d4e-5f6a7b8c9d0e", "aws:DeliveryType": "REPLAY"}
    });
    let (result, lines) = listen(payload);
    assert_eq!(result.expect("logged"), json!({"logged": "0b7d4c8e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"}));
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["id"], "0b7d4c8e-1f2a-4b3c-8d4e-5f6a7b8c9d0e");
}

#[test]
fn given_a_single_malformed_wrapper_then_the_listener_fails_naming_it_and_logs_nothing() {
    let (result, lines) =
        listen(json!({"Data": sample("task-oom-killed.json"), "SystemMetadata": {}, "Note": "x"}));
    let error = result.expect_err("rejected");
    assert_eq!(error.error_type, "NonRetryable.InvalidEvent");
    assert_eq!(
        error.error_message,
        "invalid event: wrapped event (Data, Metadata, SystemMetadata): unexpected key \"Note\" (a wrapped event has only Data, Metadata and SystemMetadata)"
    );
    assert!(lines.is_empty());
}

#[test]
fn given_an_empty_batch_then_the_listener_answers_no_events_and_logs_nothing() {
    let (result, lines) = listen(json!([]));
    assert_eq!(result.expect("answered"), json!({"events": []}));
    assert!(lines.is_empty());
}

// --- state tracker --------------------------------------------------------------------------

#[tokio::test]
async fn given_the_eventsv2_batch_directly_then_each_event_is_tracked_and_answered_at_its_index() {
    let store = Arc::new(InMemoryStateStore::new());
    let tracker = StateTracker::new(store.clone(), memory_services(), covering_retention());
    let response = tracker.handle(invoke(eventsv2_batch())).await.expect("handled");
    assert_eq!(
        response,
        json!({"events": [
            {"index": 0, "outcome": "Stored"},
            {"index": 1, "outcome": "Stored"},
            {"index": 2, "outcome": "Stored"},
        ]})
    );
    let task = store.get(ResourceKind::Task, OOM_TASK).await.expect("get").expect("stored");
    assert_eq!((task.version, task.event_id.as_str()), (3, OOM_ID));
    // Delivered again (a retry of the whole batch): nothing changes.
    let again = tracker.handle(invoke(eventsv2_batch())).await.expect("handled");
    assert_eq!(again["events"][2], json!({"index": 2, "outcome": "Duplicate"}));
    assert_eq!(again["events"][0]["outcome"], "Duplicate");
}

#[tokio::test]
async fn given_a_batch_with_an_invalid_event_then_the_others_are_tracked_and_the_call_succeeds() {
    let store = Arc::new(InMemoryStateStore::new());
    let tracker = StateTracker::new(store.clone(), memory_services(), covering_retention());
    let mut broken = sample("task-ec2-running.json");
    broken["detail"].as_object_mut().expect("detail").remove("taskArn");
    let payload = json!([
        wrapped(broken),
        wrapped(sample("task-oom-killed.json")),
        sample("task-oom-killed.json"),
    ]);
    let response = tracker.handle(invoke(payload)).await.expect("no retry can help: answered");
    assert_eq!(
        response,
        json!({"events": [
            {"index": 0, "error": "invalid event: Data.detail.taskArn: missing field",
             "errorType": "NonRetryable.InvalidEvent"},
            {"index": 1, "outcome": "Stored"},
            {"index": 2, "outcome": "Duplicate"},
        ]})
    );
    assert!(store.get(ResourceKind::Task, OOM_TASK).await.expect("get").is_some());
}

#[tokio::test]
async fn given_an_empty_batch_then_the_state_tracker_answers_no_events() {
    let tracker = StateTracker::new(
        Arc::new(InMemoryStateStore::new()),
        memory_services(),
        covering_retention(),
    );
    assert_eq!(tracker.handle(invoke(json!([]))).await.expect("answered"), json!({"events": []}));
}

#[tokio::test]
async fn given_a_single_wrapped_event_then_the_state_tracker_answers_its_outcome() {
    let tracker = StateTracker::new(
        Arc::new(InMemoryStateStore::new()),
        memory_services(),
        covering_retention(),
    );
    let response = tracker.handle(invoke(wrapped(sample("task-oom-killed.json")))).await;
    assert_eq!(response.expect("tracked"), json!({"outcome": "Stored"}));
    let error = tracker
        .handle(invoke(json!({"Data": [sample("task-oom-killed.json")], "SystemMetadata": {}})))
        .await
        .expect_err("not an event");
    assert!(!error.is_retryable());
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "NonRetryable.InvalidEvent");
    assert!(diagnostic.error_message.contains("Data must be the event object, found an array"));
}

/// Cuts the writes to one table off the network (connection refused) while `cut` is set.
#[derive(Debug, Clone)]
struct CutOff {
    table: String,
    cut: Arc<AtomicBool>,
}

impl aws_sdk_dynamodb::config::Intercept for CutOff {
    fn name(&self) -> &'static str {
        "CutOff"
    }

    fn modify_before_transmit(
        &self,
        context: &mut aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextMut<
            '_,
        >,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _config: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let request = context.request_mut();
        let names_table = request.body().bytes().is_some_and(|body| {
            String::from_utf8_lossy(body).contains(&format!("\"{}\"", self.table))
        });
        if names_table && self.cut.load(Ordering::SeqCst) {
            request.set_uri("http://127.0.0.1:1/")?;
        }
        Ok(())
    }
}

/// GIVEN a batch whose container instance event cannot be written (the network to its table
/// fails) WHEN invoked directly THEN the task event is tracked, and the call fails retryably
/// naming the failed event's index; WHEN EventBridge retries the whole batch once the network
/// is back THEN the task event comes back a duplicate (nothing is written twice) and the
/// instance event is stored.
#[tokio::test]
async fn given_a_retryable_failure_in_a_batch_then_the_call_fails_after_the_others_and_a_retry_is_safe()
 {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    let (tasks, instances) = (unique("tasks"), unique("instances"));
    create_state_tables(&dynamodb(), &tasks, &instances).await.expect("tables");
    let cut = Arc::new(AtomicBool::new(true));
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(&support::moto().endpoint)
        .http_client(ecs_events::aws::https_client(ecs_events::aws::TrustRoots::System))
        .timeout_config(ecs_events::aws::timeout_config())
        .retry_config(
            aws_sdk_dynamodb::config::retry::RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(std::time::Duration::from_millis(10)),
        )
        .interceptor(CutOff { table: instances.clone(), cut: cut.clone() })
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let store = Arc::new(DynamoDbStateStore::new(client, tasks, instances));
    let tracker = StateTracker::new(store.clone(), memory_services(), covering_retention());
    let batch = json!([
        wrapped(sample("task-oom-killed.json")),
        wrapped(sample("container-instance-draining.json")),
    ]);

    let error = tracker.handle(invoke(batch.clone())).await.expect_err("the instance failed");
    assert!(error.is_retryable());
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "Retryable.StoreError");
    assert!(diagnostic.error_message.starts_with("event [1]: "), "{}", diagnostic.error_message);
    assert!(!diagnostic.error_message.contains("event [0]"), "{}", diagnostic.error_message);
    let task = store.get(ResourceKind::Task, OOM_TASK).await.expect("get").expect("tracked");
    assert_eq!(task.version, 3);

    cut.store(false, Ordering::SeqCst);
    let response = tracker.handle(invoke(batch)).await.expect("the retry succeeds");
    assert_eq!(
        response,
        json!({"events": [
            {"index": 0, "outcome": "Duplicate"},
            {"index": 1, "outcome": "Stored"},
        ]})
    );
}

/// GIVEN buffered records whose bodies are a wrapped event, a batch of events, an empty
/// batch, and a batch holding one event that can never be tracked WHEN the buffer is drained
/// THEN every valid event is tracked, and only the record with the bad event fails: into the
/// dead-letter queue, its error naming the bad event's index.
#[tokio::test]
async fn given_sqs_records_holding_batches_and_wrapped_events_then_each_event_is_tracked() {
    let dead_letters = support::new_queue("payload-dlq").await;
    let store = Arc::new(InMemoryStateStore::new());
    let tracker = StateTracker::new(store.clone(), memory_services(), covering_retention())
        .with_dead_letters(Arc::new(SqsDeadLetters::new(support::sqs(), dead_letters.clone())));
    let wrapped_oom = wrapped(sample("task-oom-killed.json")).to_string();
    let batch = json!([
        sample("task-ec2-running.json"),
        wrapped(sample("container-instance-draining.json"))
    ])
    .to_string();
    let poisoned =
        json!([sample("task-stopped-by-user.json"), {"Data": sample("task-scaled-in.json")}])
            .to_string();
    let records = json!({"Records": [
        support::sqs_record("m-1-wrapped", &wrapped_oom),
        support::sqs_record("m-2-batch", &batch),
        support::sqs_record("m-3-empty", "[]"),
        support::sqs_record("m-4-poisoned", &poisoned),
    ]});
    let response = tracker.handle(invoke(records)).await.expect("batch handled");
    assert_eq!(response["batchItemFailures"], json!([]), "the poisoned record is dead-lettered");

    for (kind, key) in [
        (ResourceKind::Task, OOM_TASK.to_owned()),
        (
            ResourceKind::Task,
            sample("task-ec2-running.json")["detail"]["taskArn"].as_str().expect("arn").to_owned(),
        ),
        (
            ResourceKind::ContainerInstance,
            sample("container-instance-draining.json")["detail"]["containerInstanceArn"]
                .as_str()
                .expect("arn")
                .to_owned(),
        ),
        // The good event of the poisoned record is tracked too.
        (
            ResourceKind::Task,
            sample("task-stopped-by-user.json")["detail"]["taskArn"]
                .as_str()
                .expect("arn")
                .to_owned(),
        ),
    ] {
        assert!(store.get(kind, &key).await.expect("get").is_some(), "{key} tracked");
    }
    let letters = support::drain(&dead_letters).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].body(), Some(poisoned.as_str()));
    let attributes = letters[0].message_attributes().expect("attributes");
    let attribute = |name: &str| attributes[name].string_value().unwrap_or_default().to_owned();
    assert_eq!(attribute("sourceMessageId"), "m-4-poisoned");
    assert_eq!(attribute("errorType"), "NonRetryable.InvalidEvent");
    assert_eq!(
        attribute("errorMessage"),
        "event [1]: invalid event: wrapped event (Data, Metadata, SystemMetadata): SystemMetadata is missing"
    );
}

// --- alerter --------------------------------------------------------------------------------

/// Fails the first `failures` publishes with a retryable error, then collects.
struct FailingFirst {
    failures: usize,
    calls: AtomicUsize,
    sent: CollectingSink,
}

#[async_trait::async_trait]
impl AlertSink for FailingFirst {
    async fn publish(&self, alert: &Alert) -> Result<(), SinkError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err(SinkError {
                key: alert.dedup_key.clone(),
                message: "injected: Throttling: Rate exceeded".into(),
                retryable: true,
            });
        }
        self.sent.publish(alert).await
    }
}

fn alerter_failing_first(failures: usize) -> (Alerter, Arc<FailingFirst>) {
    let sink = Arc::new(FailingFirst {
        failures,
        calls: AtomicUsize::new(0),
        sent: CollectingSink::new(),
    });
    let alerter = Alerter::new(
        RuleSet::default_rules(),
        Arc::new(InMemoryLedger::new()),
        sink.clone(),
        support::ledger_retention(),
    );
    (alerter, sink)
}

/// The `(rule, resource, sent)` of an event's answered alerts.
fn told(answer: &Value) -> Vec<(String, String, bool)> {
    answer["alerts"]
        .as_array()
        .unwrap_or_else(|| panic!("alerts in {answer}"))
        .iter()
        .map(|alert| {
            (
                alert["rule"].as_str().expect("rule").to_owned(),
                alert["resource"].as_str().expect("resource").to_owned(),
                alert["sent"].as_bool().expect("sent"),
            )
        })
        .collect()
}

#[tokio::test]
async fn given_a_batch_of_wrapped_plain_and_rule_requests_then_each_event_is_alerted_on_its_own() {
    let (alerter, sink) = alerter_failing_first(0);
    let exited = sample("task-essential-exited-nonzero.json");
    let exited_task = exited["detail"]["taskArn"].as_str().expect("arn").to_owned();
    let payload = json!([
        wrapped(sample("task-oom-killed.json")),
        sample("task-stopped-by-user.json"),
        {"rule": "essential-container-exited", "event": wrapped(exited)},
        "not an event",
    ]);
    let response = alerter::handle(&alerter, invoke(payload)).await.expect("answered");
    let events = response["events"].as_array().expect("events");
    assert_eq!(events.len(), 4);
    let rule = "essential-container-exited".to_owned();
    assert_eq!(told(&events[0]), [(rule.clone(), OOM_TASK.to_owned(), true)]);
    assert_eq!(told(&events[1]), []);
    assert_eq!(told(&events[2]), [(rule, exited_task, true)]);
    assert_eq!(
        events[3],
        json!({"index": 3, "error": "invalid event: an event must be a JSON object, found a string",
               "errorType": "NonRetryable.InvalidEvent"})
    );
    assert_eq!(sink.sent.alerts().len(), 2);
}

/// GIVEN a batch whose first alert cannot be published (SNS throttles once) WHEN invoked THEN
/// the second event's alert is sent and the call fails retryably naming event 0; WHEN the bus
/// retries the whole batch THEN the first alert is sent and the second is not sent again.
#[tokio::test]
async fn given_a_retryable_alert_failure_in_a_batch_then_the_call_fails_and_the_retry_sends_no_copy()
 {
    let (alerter, sink) = alerter_failing_first(1);
    let batch = json!([
        wrapped(sample("task-oom-killed.json")),
        wrapped(sample("task-essential-exited-nonzero.json")),
    ]);
    let error = alerter::handle(&alerter, invoke(batch.clone())).await.expect_err("throttled");
    assert!(error.is_retryable());
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "Retryable.AlertError");
    assert!(
        diagnostic.error_message.starts_with("event [0]: rule essential-container-exited: "),
        "{}",
        diagnostic.error_message
    );
    assert_eq!(sink.sent.alerts().len(), 1, "the other event's alert went out");

    let response = alerter::handle(&alerter, invoke(batch)).await.expect("the retry succeeds");
    assert_eq!(response["events"][0]["alerts"][0]["sent"], true);
    assert_eq!(response["events"][1]["alerts"][0]["sent"], false, "already sent: no copy");
    let subjects: Vec<String> =
        sink.sent.alerts().iter().map(|alert| alert.subject.clone()).collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert_ne!(subjects[0], subjects[1]);
}

#[tokio::test]
async fn given_the_other_alerter_payloads_then_they_work_as_before_and_an_empty_batch_is_nothing() {
    let (alerter, sink) = alerter_failing_first(0);
    let single = alerter::handle(&alerter, invoke(wrapped(sample("task-oom-killed.json"))))
        .await
        .expect("a wrapped event");
    assert_eq!(
        told(&single),
        [("essential-container-exited".to_owned(), OOM_TASK.to_owned(), true)]
    );
    let rule = json!({"rule": "essential-container-exited", "event": sample("task-essential-exited-nonzero.json")});
    let ruled =
        alerter::handle(&alerter, invoke(rule)).await.expect("an input transformer's request");
    assert_eq!(ruled["alerts"][0]["sent"], true);
    let flushed =
        alerter::handle(&alerter, invoke(json!({"flushDigests": true}))).await.expect("flushed");
    assert_eq!(flushed, json!({"alerts": []}));
    let empty = alerter::handle(&alerter, invoke(json!([]))).await.expect("answered");
    assert_eq!(empty, json!({"events": []}));
    assert_eq!(sink.sent.alerts().len(), 2);
}
