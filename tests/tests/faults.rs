//! Injected AWS faults (aws-smithy-mocks answering the real SDK clients, and a server that never
//! answers): throttling, 5xx, timeouts and conditional-check failures on DynamoDB; throttling
//! and errors on SNS. Retries happen; after them the functions fail retryably; SQS batches name
//! exactly the failed records; no alert is lost and none is sent twice.

mod support;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use aws_sdk_dynamodb::Client as DynamoDb;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use ecs_events::alert::{Alerter, InMemoryLedger, RuleSet, SnsAlertSink};
use ecs_events::state::{DynamoDbStateStore, Outcome};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use state_tracker::StateTracker;
use support::{events_dir, read_json};

const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded"}"#;
const INTERNAL: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal error"}"#;

fn sample(name: &str) -> Value {
    read_json(&events_dir().join("samples").join(name))
}

fn invoke(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

/// The SDK's standard retry mode (3 attempts, exponential backoff with jitter), with a short
/// first backoff so the test runs fast.
fn retries() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(3).with_initial_backoff(StdDuration::from_millis(5))
}

fn tracker(client: DynamoDb) -> StateTracker {
    let store = DynamoDbStateStore::new(
        client.clone(),
        "ECSTaskState".into(),
        "ECSCtrInstanceState".into(),
    );
    let services = ecs_events::service::DynamoDbServiceStore::new(
        client,
        "ECSServiceState".into(),
        "ECSDeploymentState".into(),
    );
    StateTracker::new(Arc::new(store), Arc::new(services), support::covering_retention())
}

#[tokio::test]
async fn given_throttling_twice_then_the_sdk_retries_and_the_event_is_stored() {
    let put = mock!(DynamoDb::put_item)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .times(2)
        .output(|| PutItemOutput::builder().build())
        .build();
    let client =
        mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&put], |c| c.retry_config(retries()));
    let response =
        tracker(client).handle(invoke(sample("task-oom-killed.json"))).await.expect("stored");
    assert_eq!(response, json!({"outcome": "Stored"}));
    assert_eq!(put.num_calls(), 3, "two throttled attempts, then the one that succeeded");
}

#[tokio::test]
async fn given_5xx_on_every_attempt_then_the_invocation_fails_retryably_after_the_retries() {
    let put = mock!(DynamoDb::put_item)
        .sequence()
        .http_status(500, Some(INTERNAL.into()))
        .repeatedly()
        .build();
    let client =
        mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&put], |c| c.retry_config(retries()));
    let error =
        tracker(client).handle(invoke(sample("task-oom-killed.json"))).await.expect_err("fails");
    assert!(error.is_retryable(), "{error}");
    assert_eq!(put.num_calls(), 3, "every attempt of the standard retry mode was made");
    let diagnostic = Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "Retryable.StoreError");
    assert!(
        diagnostic.error_message.contains("PutItem on table ECSTaskState failed"),
        "{}",
        diagnostic.error_message
    );
}

#[tokio::test]
async fn given_a_conditional_check_failure_then_it_is_a_decision_not_an_error_and_is_not_retried() {
    let failed = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed","Item":{"version":{"N":"9"}}}"#;
    let put = mock!(DynamoDb::put_item)
        .sequence()
        .http_status(400, Some(failed.into()))
        .repeatedly()
        .build();
    let client =
        mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&put], |c| c.retry_config(retries()));
    let response =
        tracker(client).handle(invoke(sample("task-oom-killed.json"))).await.expect("handled");
    // The sample is version 3; version 9 is stored: stale, decided from the one response.
    assert_eq!(response, json!({"outcome": Outcome::Stale.as_str()}));
    assert_eq!(put.num_calls(), 1);
}

/// GIVEN a deployment event (one conditional `UpdateItem` on the deployment table) WHEN
/// DynamoDB throttles twice THEN the SDK retries and it is stored; WHEN the condition fails
/// with a newer stored state THEN it is stale, decided from that one answer; WHEN every attempt
/// fails with a 5xx THEN the invocation fails retryably naming the table.
#[tokio::test]
async fn given_faults_on_a_deployment_write_then_retries_decisions_and_errors_are_as_for_tasks() {
    use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
    let event = sample("deployment-failed-rollback.json");
    let throttled = mock!(DynamoDb::update_item)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .times(2)
        .output(|| UpdateItemOutput::builder().build())
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&throttled], |c| {
        c.retry_config(retries())
    });
    let response = tracker(client).handle(invoke(event.clone())).await.expect("stored");
    assert_eq!(response, json!({"outcome": "Stored"}));
    assert_eq!(throttled.num_calls(), 3);

    // The sample's updatedAt is 2024-05-02T23:14:40.612Z; a later state is stored.
    let failed = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed","Item":{"updatedAt":{"N":"1714691700000"}}}"#;
    let newer = mock!(DynamoDb::update_item)
        .sequence()
        .http_status(400, Some(failed.into()))
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&newer], |c| c
        .retry_config(retries()));
    let response = tracker(client).handle(invoke(event.clone())).await.expect("decided");
    assert_eq!(response, json!({"outcome": "Stale"}));
    assert_eq!(newer.num_calls(), 1);

    let broken = mock!(DynamoDb::update_item)
        .sequence()
        .http_status(500, Some(INTERNAL.into()))
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&broken], |c| c
        .retry_config(retries()));
    let error = tracker(client).handle(invoke(event)).await.expect_err("fails");
    let diagnostic = Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "Retryable.StoreError");
    assert!(
        diagnostic.error_message.contains("UpdateItem on table ECSDeploymentState failed"),
        "{}",
        diagnostic.error_message
    );
    assert_eq!(broken.num_calls(), 3);
}

/// A server on loopback that accepts connections and never answers.
fn silent_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(64) {
            held.push(stream);
        }
        std::thread::sleep(StdDuration::from_secs(60));
    });
    format!("http://{address}")
}

/// An invocation whose deadline is `seconds` away, as Lambda sets it.
fn invoke_with_deadline(payload: Value, seconds: u64) -> LambdaEvent<Value> {
    let mut context = Context::default();
    let now = u64::try_from(chrono::Utc::now().timestamp_millis()).expect("after 1970");
    context.deadline = now + seconds * 1000;
    LambdaEvent::new(payload, context)
}

/// GIVEN the clients the functions build (the shipped constructor: attempt and operation
/// timeouts, standard retries) WHEN DynamoDB never answers THEN every attempt times out and
/// the invocation fails retryably, within the operation timeout.
#[tokio::test]
async fn given_a_server_that_never_answers_then_attempts_time_out_and_the_error_is_retryable() {
    let config = ecs_events::aws::sdk_config(Some(&silent_server())).await;
    let started = std::time::Instant::now();
    let error = tracker(ecs_events::aws::dynamodb(&config))
        .handle(invoke(sample("task-oom-killed.json")))
        .await
        .expect_err("times out");
    let elapsed = started.elapsed();
    assert!(error.is_retryable(), "{error}");
    assert!(error.to_string().contains("timeout"), "{error}");
    let attempts = ecs_events::aws::ATTEMPT_TIMEOUT * ecs_events::aws::MAX_ATTEMPTS;
    assert!(elapsed >= attempts.min(ecs_events::aws::OPERATION_TIMEOUT), "{elapsed:?}");
    assert!(
        elapsed < ecs_events::aws::OPERATION_TIMEOUT + StdDuration::from_secs(2),
        "{elapsed:?}"
    );
}

/// GIVEN an SQS batch and a store that never answers WHEN the invocation has 4 s left THEN it
/// still answers before its deadline, with every record to redeliver.
#[tokio::test]
async fn given_a_batch_and_a_store_that_never_answers_then_it_answers_with_its_failures_in_time() {
    let config = ecs_events::aws::sdk_config(Some(&silent_server())).await;
    let batch = json!({"Records": [
        sqs_record("m-1", &sample("task-oom-killed.json")),
        sqs_record("m-2", &sample("task-ec2-running.json")),
    ]});
    let started = std::time::Instant::now();
    let response = tracker(ecs_events::aws::dynamodb(&config))
        .handle(invoke_with_deadline(batch, 4))
        .await
        .expect("answered");
    assert!(started.elapsed() < StdDuration::from_secs(4), "{:?}", started.elapsed());
    assert_eq!(
        response["batchItemFailures"],
        json!([{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}])
    );
}

/// GIVEN a batch of 10 records (more than are tracked at once) and a store that never answers
/// THEN the last two, which wait for a slot, get the same end as the first: the batch answers
/// before its deadline, every record to redeliver.
#[tokio::test]
async fn given_ten_records_and_a_store_that_never_answers_then_the_late_starters_end_in_time_too() {
    let config = ecs_events::aws::sdk_config(Some(&silent_server())).await;
    let records: Vec<Value> = (1..=10)
        .map(|i| {
            let mut event = sample("task-ec2-running.json");
            event["detail"]["taskArn"] =
                json!(format!("arn:aws:ecs:us-east-1:111122223333:task/prod-ec2/{i:032x}"));
            sqs_record(&format!("m-{i}"), &event)
        })
        .collect();
    let started = std::time::Instant::now();
    let response = tracker(ecs_events::aws::dynamodb(&config))
        .handle(invoke_with_deadline(json!({"Records": records}), 4))
        .await
        .expect("answered");
    assert!(started.elapsed() < StdDuration::from_secs(4), "{:?}", started.elapsed());
    assert_eq!(response["batchItemFailures"].as_array().map(Vec::len), Some(10));
}

fn sqs_record(message_id: &str, body: &Value) -> Value {
    json!({"messageId": message_id, "receiptHandle": "h", "body": body.to_string(), "attributes": {},
           "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
           "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:buffer", "awsRegion": "us-east-1"})
}

#[tokio::test]
async fn given_an_sqs_batch_where_one_write_keeps_failing_then_exactly_that_record_is_reported() {
    let failing = sample("task-oom-killed.json");
    let flaky = sample("task-essential-exited-nonzero.json");
    let fine = sample("task-ec2-running.json");
    let arn = |event: &Value| event["detail"]["taskArn"].as_str().expect("arn").to_owned();
    let (failing_arn, flaky_arn) = (arn(&failing), arn(&flaky));
    let always_failing = mock!(DynamoDb::put_item)
        .match_requests(move |input| {
            input.item().and_then(|item| item.get("taskArn")).and_then(|key| key.as_s().ok())
                == Some(&failing_arn)
        })
        .sequence()
        .http_status(500, Some(INTERNAL.into()))
        .repeatedly()
        .build();
    let throttled_once = mock!(DynamoDb::put_item)
        .match_requests(move |input| {
            input.item().and_then(|item| item.get("taskArn")).and_then(|key| key.as_s().ok())
                == Some(&flaky_arn)
        })
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .output(|| PutItemOutput::builder().build())
        .build();
    let others = mock!(DynamoDb::put_item).then_output(|| PutItemOutput::builder().build());
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        [&always_failing, &throttled_once, &others],
        |c| c.retry_config(retries())
    );
    let batch = json!({"Records": [
        sqs_record("m-1", &fine), sqs_record("m-2", &failing), sqs_record("m-3", &flaky),
    ]});
    let response = tracker(client).handle(invoke(batch)).await.expect("batch handled");
    assert_eq!(response["batchItemFailures"], json!([{"itemIdentifier": "m-2"}]));
    assert_eq!(always_failing.num_calls(), 3);
    assert_eq!(throttled_once.num_calls(), 2);
}

const SNS_THROTTLED: &str = r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>"#;
const SNS_INTERNAL: &str = r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Receiver</Type><Code>InternalError</Code><Message>Internal error</Message></Error><RequestId>1</RequestId></ErrorResponse>"#;

fn alerter(sns: aws_sdk_sns::Client, ledger: Arc<InMemoryLedger>) -> Alerter {
    let sink = SnsAlertSink::new(sns, "arn:aws:sns:us-east-1:111122223333:alerts".into());
    Alerter::new(RuleSet::default_rules(), ledger, Arc::new(sink), support::ledger_retention())
}

#[tokio::test]
async fn given_sns_throttling_then_the_sdk_retries_and_the_alert_is_sent_once() {
    let publish = mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .http_status(400, Some(SNS_THROTTLED.into()))
        .output(|| PublishOutput::builder().message_id("m").build())
        .build();
    let sns =
        mock_client!(aws_sdk_sns, RuleMode::Sequential, [&publish], |c| c.retry_config(retries()));
    let alerter = alerter(sns, Arc::new(InMemoryLedger::new()));
    let response =
        alerter::handle(&alerter, invoke(sample("task-oom-killed.json"))).await.expect("sent");
    assert_eq!(response["alerts"][0]["sent"], true);
    assert_eq!(publish.num_calls(), 2);
}

#[tokio::test]
async fn given_sns_failing_on_every_attempt_then_the_retry_of_the_invocation_sends_exactly_one() {
    let publish = mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .http_status(500, Some(SNS_INTERNAL.into()))
        .times(3)
        .output(|| PublishOutput::builder().message_id("m").build())
        .build();
    let sns =
        mock_client!(aws_sdk_sns, RuleMode::Sequential, [&publish], |c| c.retry_config(retries()));
    let alerter = alerter(sns, Arc::new(InMemoryLedger::new()));
    let event = sample("task-oom-killed.json");

    // The first invocation exhausts the SDK's retries and fails retryably, giving its claim back.
    let error = alerter::handle(&alerter, invoke(event.clone())).await.expect_err("SNS down");
    assert!(error.is_retryable(), "{error}");
    assert_eq!(Diagnostic::from(error).error_type, "Retryable.AlertError");
    assert_eq!(publish.num_calls(), 3);
    // Lambda's retry sends it; a later duplicate delivery does not publish again.
    let retried = alerter::handle(&alerter, invoke(event.clone())).await.expect("sent");
    assert_eq!(retried["alerts"][0]["sent"], true);
    let duplicate = alerter::handle(&alerter, invoke(event)).await.expect("handled");
    assert_eq!(duplicate["alerts"][0]["sent"], false);
    assert_eq!(publish.num_calls(), 4, "exactly one successful publish in all");
}

const SNS_KMS_THROTTLED: &str = r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>KMSThrottling</Code><Message>Rate exceeded for the topic's KMS key</Message></Error><RequestId>1</RequestId></ErrorResponse>"#;

/// GIVEN SNS answering `KMSThrottling` (its topic key is throttled), a code the SDK does not
/// know WHEN publishing through the shipped SNS configuration THEN it is retried like any
/// throttling, and the alert is sent once.
#[tokio::test]
async fn given_kms_throttling_on_the_topic_then_it_is_retried_and_the_alert_sent_once() {
    let publish = mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .http_status(400, Some(SNS_KMS_THROTTLED.into()))
        .output(|| PublishOutput::builder().message_id("m").build())
        .build();
    let sns = mock_client!(aws_sdk_sns, RuleMode::Sequential, [&publish], |c| {
        ecs_events::aws::with_sns_retries(c.retry_config(retries()))
    });
    let response = alerter::handle(
        &alerter(sns, Arc::new(InMemoryLedger::new())),
        invoke(sample("task-oom-killed.json")),
    )
    .await
    .expect("sent after a retry");
    assert_eq!(response["alerts"][0]["sent"], true);
    assert_eq!(publish.num_calls(), 2);
}

fn is_claim(input: &aws_sdk_dynamodb::operation::put_item::PutItemInput) -> bool {
    input
        .condition_expression()
        .is_some_and(|condition| condition.starts_with("attribute_not_exists"))
}

/// An alerter over a mocked DynamoDB ledger and a mocked SNS topic.
fn mocked_alerter(dynamodb: DynamoDb, sns: aws_sdk_sns::Client) -> Alerter {
    let ledger =
        Arc::new(ecs_events::alert::DynamoDbLedger::new(dynamodb, "ECSAlertLedger".into()));
    let sink = SnsAlertSink::new(sns, "arn:aws:sns:us-east-1:111122223333:alerts".into());
    Alerter::new(RuleSet::default_rules(), ledger, Arc::new(sink), support::ledger_retention())
}

/// GIVEN SNS accepted the alert but the ledger cannot record it (every mark fails) THEN the
/// publish stands: the invocation succeeds (sent, not recorded) instead of failing into a
/// retry that would publish again; and a later copy of the event, finding the claim still
/// held, waits and does not publish a second time.
#[tokio::test]
async fn given_a_mark_that_keeps_failing_after_a_publish_then_no_second_publish() {
    let lease = chrono::Utc::now().timestamp() + 600;
    let held = format!(
        r#"{{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed","Item":{{"state":{{"S":"IN_PROGRESS"}},"leaseUntil":{{"N":"{lease}"}}}}}}"#
    );
    let claim = mock!(DynamoDb::put_item)
        .match_requests(is_claim)
        .sequence()
        .output(|| PutItemOutput::builder().build())
        .http_status(400, Some(held))
        .repeatedly()
        .build();
    let mark = mock!(DynamoDb::put_item)
        .match_requests(|input| !is_claim(input))
        .sequence()
        .http_status(500, Some(INTERNAL.into()))
        .repeatedly()
        .build();
    let dynamodb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&claim, &mark], |c| {
        c.retry_config(retries())
    });
    let publish = mock!(aws_sdk_sns::Client::publish)
        .then_output(|| PublishOutput::builder().message_id("m").build());
    let sns =
        mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&publish], |c| c.retry_config(retries()));
    let alerter = mocked_alerter(dynamodb, sns);
    let event = sample("task-oom-killed.json");

    let response =
        alerter::handle(&alerter, invoke(event.clone())).await.expect("the publish stands");
    assert_eq!(response["alerts"][0]["sent"], true);
    assert_eq!(response["alerts"][0]["recorded"], false);
    assert_eq!(publish.num_calls(), 1);
    let attempts = ecs_events::alert::MARK_ATTEMPTS as usize * 3;
    assert_eq!(mark.num_calls(), attempts, "the mark was retried in-process");

    let error = alerter::handle(&alerter, invoke_with_deadline(event, 4)).await.expect_err("held");
    assert!(error.is_retryable(), "{error}");
    assert!(error.to_string().contains("is being sent by another invocation"), "{error}");
    assert_eq!(publish.num_calls(), 1, "no second publish");
}

/// GIVEN SNS fails and releasing the claim fails too THEN the invocation reports the SNS error
/// (retryably), and says the claim will be taken over once its lease ends.
#[tokio::test]
async fn given_a_failed_publish_and_a_failed_release_then_the_sns_error_is_reported() {
    let claim = mock!(DynamoDb::put_item).then_output(|| PutItemOutput::builder().build());
    let release = mock!(DynamoDb::delete_item)
        .sequence()
        .http_status(500, Some(INTERNAL.into()))
        .repeatedly()
        .build();
    let dynamodb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&claim, &release], |c| {
        c.retry_config(retries())
    });
    let publish = mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .http_status(500, Some(SNS_INTERNAL.into()))
        .repeatedly()
        .build();
    let sns =
        mock_client!(aws_sdk_sns, RuleMode::Sequential, [&publish], |c| c.retry_config(retries()));
    let error =
        alerter::handle(&mocked_alerter(dynamodb, sns), invoke(sample("task-oom-killed.json")))
            .await
            .expect_err("SNS down");
    assert!(error.is_retryable(), "{error}");
    let text = error.to_string();
    assert!(text.contains("publishing alert essential-container-exited#"), "{text}");
    assert!(text.contains("InternalError"), "{text}");
    assert!(text.contains("releasing the claim failed too"), "{text}");
    assert_eq!(Diagnostic::from(error).error_type, "Retryable.AlertError");
}
