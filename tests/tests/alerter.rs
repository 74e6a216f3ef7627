//! The alerter against a real SNS and DynamoDB API (moto): delivery to SQS subscribers, raw
//! and not, filter policies, and exactly one alert per (rule, task) under duplicates, later
//! STOPPED versions, concurrent invocations and injected SNS failures.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use ecs_events::alert::{
    Alert, AlertSink, Alerter, DynamoDbLedger, LedgerTimes, RuleSet, SinkError, SnsAlertSink,
    render,
};
use ecs_events::event::EcsEvent;
use ecs_replay::tables::create_ledger_table;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use support::{drain, dynamodb, events_dir, read_json, scenarios, sns, topic_with_queue, unique};

fn sample(name: &str) -> Value {
    read_json(&events_dir().join("samples").join(name))
}

fn oom_alert() -> Alert {
    let raw = sample("task-oom-killed.json");
    let event = EcsEvent::from_value(raw.clone()).expect("valid");
    let rules = RuleSet::default_rules();
    render(rules.matching(&raw).next().expect("matches"), &event)
}

async fn ledger() -> DynamoDbLedger {
    let table = unique("ledger");
    create_ledger_table(&dynamodb(), &table).await.expect("ledger table");
    DynamoDbLedger::new(dynamodb(), table)
}

/// An alerter with the default rule, a fresh DynamoDB ledger and the SNS topic on moto.
async fn sns_alerter(topic_arn: String) -> Alerter {
    let sink = SnsAlertSink::new(sns(), topic_arn);
    Alerter::new(
        RuleSet::default_rules(),
        Arc::new(ledger().await),
        Arc::new(sink),
        LedgerTimes::default(),
    )
}

fn invoke(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

/// Publishes the OOM alert to a topic with one SQS subscription; returns it and what arrived.
async fn publish_oom_alert(raw: bool) -> (Alert, aws_sdk_sqs::types::Message) {
    let subscribed = topic_with_queue(raw, None).await;
    let alert = oom_alert();
    SnsAlertSink::new(sns(), subscribed.topic_arn).publish(&alert).await.expect("published");
    let mut messages = drain(&subscribed.queue_url).await;
    assert_eq!(messages.len(), 1);
    (alert, messages.remove(0))
}

#[tokio::test]
async fn given_a_non_raw_sqs_subscription_then_the_envelope_has_subject_json_body_and_attributes() {
    let (alert, message) = publish_oom_alert(false).await;
    let envelope: Value = serde_json::from_str(message.body().expect("body")).expect("JSON");
    assert_eq!(envelope["Type"], "Notification");
    assert_eq!(envelope["Subject"], alert.subject.as_str());
    let body: Value =
        serde_json::from_str(envelope["Message"].as_str().expect("Message")).expect("JSON body");
    assert_eq!(body, alert.document);
    assert_eq!(body["text"], alert.message.as_str());
    assert!(alert.message.contains("OutOfMemoryError"));
    let attributes = &envelope["MessageAttributes"];
    assert_eq!(attributes["cluster"], json!({"Type": "String", "Value": "prod-ec2"}));
    assert_eq!(attributes["rule"]["Value"], "essential-container-exited");
    assert_eq!(attributes["exitCode"], json!({"Type": "Number", "Value": "137"}));
    assert_eq!(attributes["launchType"]["Value"], "EC2");
}

#[tokio::test]
async fn given_a_raw_sqs_subscription_then_the_body_is_the_json_document_and_attributes_map_over() {
    let (alert, message) = publish_oom_alert(true).await;
    let body: Value = serde_json::from_str(message.body().expect("body")).expect("JSON");
    assert_eq!(body, alert.document);
    assert_eq!(body["subject"], alert.subject.as_str());
    let attributes = message.message_attributes().expect("attributes");
    let value = |name: &str| {
        let attribute = &attributes[name];
        (attribute.data_type().to_owned(), attribute.string_value().unwrap_or_default().to_owned())
    };
    assert_eq!(value("cluster"), ("String".into(), "prod-ec2".into()));
    assert_eq!(value("exitCode"), ("Number".into(), "137".into()));
    assert_eq!(value("stopCode"), ("String".into(), "EssentialContainerExited".into()));
}

#[tokio::test]
async fn given_a_filter_policy_on_cluster_then_only_that_clusters_alerts_are_delivered() {
    let everything = topic_with_queue(false, None).await;
    let prod_only = support::subscribe_queue(
        &everything.topic_arn,
        false,
        Some(r#"{"cluster": ["prod-fargate"]}"#),
    )
    .await;
    let sink = SnsAlertSink::new(sns(), everything.topic_arn.clone());
    let rules = RuleSet::from_json(include_str!("../../rules/examples.json")).expect("rules");
    let mut published = Vec::new();
    for name in ["task-oom-killed.json", "task-failed-to-start-cannot-pull.json"] {
        let raw = sample(name);
        let event = EcsEvent::from_value(raw.clone()).expect("valid");
        for rule in rules.matching(&raw) {
            let alert = render(rule, &event);
            sink.publish(&alert).await.expect("published");
            published.push((alert.attributes["cluster"].to_string(), alert.subject));
        }
    }
    let all = drain(&everything.queue_url).await;
    let filtered = drain(&prod_only.queue_url).await;
    assert_eq!(all.len(), published.len());
    let mut subjects: Vec<String> = filtered
        .iter()
        .map(|message| {
            let envelope: Value =
                serde_json::from_str(message.body().expect("body")).expect("JSON");
            assert_eq!(envelope["MessageAttributes"]["cluster"]["Value"], "prod-fargate");
            envelope["Subject"].as_str().expect("subject").to_owned()
        })
        .collect();
    subjects.sort();
    let mut expected: Vec<String> = published
        .iter()
        .filter(|(cluster, _)| cluster == "\"prod-fargate\"")
        .map(|(_, subject)| subject.clone())
        .collect();
    expected.sort();
    assert_eq!(subjects, expected);
    assert!(!expected.is_empty() && expected.len() < published.len());
}

/// Keys of the alerts delivered to a queue, from the JSON documents.
async fn delivered(queue_url: &str) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = drain(queue_url)
        .await
        .iter()
        .map(|message| {
            let envelope: Value =
                serde_json::from_str(message.body().expect("body")).expect("JSON");
            let body: Value =
                serde_json::from_str(envelope["Message"].as_str().expect("Message")).expect("JSON");
            (
                body["rule"].as_str().expect("rule").to_owned(),
                body["taskArn"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    keys.sort();
    keys
}

fn expected_alerts(expected: &Value) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = expected["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|alert| {
            (
                alert["rule"].as_str().expect("rule").to_owned(),
                alert["resource"].as_str().expect("resource").to_owned(),
            )
        })
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn given_each_scenario_in_order_then_exactly_one_alert_per_rule_and_task_reaches_sns() {
    for scenario in scenarios() {
        let subscribed = topic_with_queue(false, None).await;
        let alerter = sns_alerter(subscribed.topic_arn).await;
        for event in &scenario.events {
            alerter::handle(&alerter, invoke(event.clone())).await.expect("handled");
        }
        assert_eq!(
            delivered(&subscribed.queue_url).await,
            expected_alerts(&scenario.expected),
            "{}",
            scenario.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_all_deliveries_of_a_storm_at_once_then_exactly_one_alert_per_rule_and_task() {
    let storm = scenarios()
        .into_iter()
        .find(|scenario| scenario.name == "stopped-task-storm")
        .expect("storm scenario");
    let subscribed = topic_with_queue(false, None).await;
    let alerter = Arc::new(sns_alerter(subscribed.topic_arn).await);
    // Every delivery, three times over, as concurrent invocations. An invocation that finds
    // the alert in progress elsewhere fails retryably, and is retried as Lambda would.
    let invocations = storm.events.iter().cycle().take(storm.events.len() * 3).map(|event| {
        let (alerter, event) = (alerter.clone(), event.clone());
        tokio::spawn(async move {
            for _ in 0..50 {
                match alerter::handle(&alerter, invoke(event.clone())).await {
                    Ok(_) => return,
                    Err(error) if error.is_retryable() => {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                    Err(error) => panic!("non-retryable: {error}"),
                }
            }
            panic!("still in progress after 50 tries");
        })
    });
    for invocation in futures::future::join_all(invocations).await {
        invocation.expect("invocation finished");
    }
    assert_eq!(delivered(&subscribed.queue_url).await, expected_alerts(&storm.expected));
}

/// Fails the first `failures` publishes with a retryable error, then publishes for real.
struct FlakySink {
    inner: SnsAlertSink,
    failures: usize,
    calls: AtomicUsize,
}

#[async_trait]
impl AlertSink for FlakySink {
    async fn publish(&self, alert: &Alert) -> Result<(), SinkError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err(SinkError {
                key: alert.dedup_key.clone(),
                message: "injected: Throttling: Rate exceeded".into(),
                retryable: true,
            });
        }
        self.inner.publish(alert).await
    }
}

#[tokio::test]
async fn given_an_sns_failure_then_the_invocation_fails_retryably_and_the_retry_sends_exactly_one()
{
    let subscribed = topic_with_queue(false, None).await;
    let sink = Arc::new(FlakySink {
        inner: SnsAlertSink::new(sns(), subscribed.topic_arn),
        failures: 1,
        calls: AtomicUsize::new(0),
    });
    let alerter = Alerter::new(
        RuleSet::default_rules(),
        Arc::new(ledger().await),
        sink.clone(),
        LedgerTimes::default(),
    );
    let event = sample("task-oom-killed.json");

    let error = alerter::handle(&alerter, invoke(event.clone())).await.expect_err("SNS failed");
    assert!(error.is_retryable(), "{error}");
    assert_eq!(lambda_runtime::Diagnostic::from(error).error_type, "Retryable.AlertError");
    assert!(drain(&subscribed.queue_url).await.is_empty(), "nothing delivered yet");

    // Lambda retries, and a duplicate delivery arrives later: one alert in all.
    let retry = alerter::handle(&alerter, invoke(event.clone())).await.expect("retry succeeds");
    assert_eq!(retry["alerts"][0]["sent"], true);
    let duplicate = alerter::handle(&alerter, invoke(event)).await.expect("duplicate handled");
    assert_eq!(duplicate["alerts"][0]["sent"], false);
    assert_eq!(drain(&subscribed.queue_url).await.len(), 1);
    assert_eq!(sink.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn given_a_claim_whose_holder_crashed_then_after_the_lease_it_is_taken_over() {
    use ecs_events::alert::{AlertLedger, Claim};
    let ledger = ledger().await;
    let key = "essential-container-exited#arn:aws:ecs:us-east-1:111122223333:task/prod/x";
    assert_eq!(ledger.claim(key, "a", 1_000, 1_120, 9_999).await.expect("claim"), Claim::Claimed);
    // Within the lease: someone else's claim holds.
    assert_eq!(
        ledger.claim(key, "b", 1_100, 1_220, 9_999).await.expect("claim"),
        Claim::InProgress { lease_until: 1_120 }
    );
    // A release with the wrong token gives nothing back.
    ledger.release(key, "b").await.expect("release");
    assert!(matches!(
        ledger.claim(key, "b", 1_100, 1_220, 9_999).await.expect("claim"),
        Claim::InProgress { .. }
    ));
    // After the lease: taken over; once sent, never claimed again.
    assert_eq!(ledger.claim(key, "b", 1_121, 1_241, 9_999).await.expect("claim"), Claim::Claimed);
    ledger.mark_sent(key, 9_999).await.expect("mark");
    assert_eq!(
        ledger.claim(key, "c", 5_000, 5_120, 9_999).await.expect("claim"),
        Claim::AlreadySent
    );
}

#[tokio::test]
async fn given_an_event_no_rule_matches_then_nothing_is_published() {
    let subscribed = topic_with_queue(false, None).await;
    let alerter = sns_alerter(subscribed.topic_arn).await;
    let response =
        alerter::handle(&alerter, invoke(sample("task-ec2-running.json"))).await.expect("handled");
    assert_eq!(response, json!({"alerts": []}));
    assert!(drain(&subscribed.queue_url).await.is_empty());
}
