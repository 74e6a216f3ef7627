//! The alerter against a real SNS and DynamoDB API (moto): delivery to SQS subscribers, raw
//! and not, filter policies, and exactly one alert per (rule, task) under duplicates, later
//! STOPPED versions, concurrent invocations and injected SNS failures.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ecs_events::alert::{Alert, AlertSink, Alerter, DynamoDbLedger, RuleSet, SnsAlertSink, render};
use ecs_events::deadline::Deadline;
use ecs_events::event::EcsEvent;
use ecs_events::incident::DynamoDbIncidentStore;
use ecs_events_cli::tables::{create_incident_table, create_ledger_table};
use futures::StreamExt;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use support::{
    FlakySink, drain, dynamodb, events_dir, read_json, scenarios, sns, topic_with_queue, unique,
};

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
    rules_alerter(RuleSet::default_rules(), topic_arn).await
}

/// An alerter with `rules`, grouping into a fresh DynamoDB incident table, on moto.
async fn rules_alerter(rules: RuleSet, topic_arn: String) -> Alerter {
    let incidents = unique("incidents");
    create_incident_table(&dynamodb(), &incidents).await.expect("incident table");
    let sink = SnsAlertSink::new(sns(), topic_arn);
    Alerter::new(rules, Arc::new(ledger().await), Arc::new(sink), support::ledger_retention())
        .with_incidents(Arc::new(DynamoDbIncidentStore::new(dynamodb(), incidents)))
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
async fn given_a_non_raw_sqs_subscription_then_the_envelope_has_subject_and_the_json_document() {
    let (alert, message) = publish_oom_alert(false).await;
    let envelope: Value = serde_json::from_str(message.body().expect("body")).expect("JSON");
    assert_eq!(envelope["Type"], "Notification");
    assert_eq!(envelope["Subject"], alert.subject.as_str());
    let body: Value =
        serde_json::from_str(envelope["Message"].as_str().expect("Message")).expect("JSON body");
    assert_eq!(body, alert.document);
    assert_eq!(body["text"], alert.message.as_str());
    assert!(alert.message.contains("OutOfMemoryError"));
    // SNS delivers no message attributes with MessageStructure=json (its developer guide);
    // moto delivers them anyway, so the envelope's are not evidence: programs read the same
    // values from the document.
    let attributes = &body["attributes"];
    assert_eq!(attributes["cluster"], "prod-ec2");
    assert_eq!(attributes["rule"], "essential-container-exited");
    assert_eq!(attributes["exitCode"], 137);
    assert_eq!(attributes["severity"], "error");
    assert_eq!(body["launchType"], "EC2");
    // The key to drop the rare second copy with, as an attribute and in the document.
    assert_eq!(attributes["alertKey"], alert.dedup_key.as_str());
    assert_eq!(body["alertKey"], alert.dedup_key.as_str());
    assert!(alert.attributes.len() <= ecs_events::alert::MAX_ATTRIBUTES);
}

#[tokio::test]
async fn given_a_raw_sqs_subscription_then_the_body_is_the_json_document_with_its_attributes() {
    let (alert, message) = publish_oom_alert(true).await;
    let body: Value = serde_json::from_str(message.body().expect("body")).expect("JSON");
    assert_eq!(body, alert.document);
    assert_eq!(body["subject"], alert.subject.as_str());
    // The attributes, as programs get them (see above: not the SQS message attributes).
    let attributes = &body["attributes"];
    assert_eq!(attributes["cluster"], "prod-ec2");
    assert_eq!(attributes["exitCode"], 137);
    assert_eq!(attributes["stopCode"], "EssentialContainerExited");
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
            let document: Value =
                serde_json::from_str(envelope["Message"].as_str().expect("Message")).expect("JSON");
            assert_eq!(document["cluster"], "prod-fargate");
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

/// GIVEN a CloudWatch alarm notification on the alert topic (it carries no message attributes)
/// THEN a subscription filtering on `cluster` alone never gets it, and the policy the guide
/// gives (docs/subscribers-and-chat.md) — the filter, or no `kind` attribute at all — gets both its alerts and every alarm.
/// (Filter policy matching is moto's here: AWS documents `$or` and `exists` alike.)
#[tokio::test]
async fn given_an_alarm_on_the_topic_then_the_documented_filter_policy_keeps_alarms() {
    let topic = topic_with_queue(false, None).await;
    let cluster_only =
        support::subscribe_queue(&topic.topic_arn, false, Some(r#"{"cluster": ["prod-ec2"]}"#))
            .await;
    let with_alarms = support::subscribe_queue(
        &topic.topic_arn,
        false,
        Some(r#"{"$or": [{"cluster": ["prod-ec2"]}, {"kind": [{"exists": false}]}]}"#),
    )
    .await;
    SnsAlertSink::new(sns(), topic.topic_arn.clone()).publish(&oom_alert()).await.expect("alert");
    sns()
        .publish()
        .topic_arn(&topic.topic_arn)
        .subject("ALARM: \"ecs-events-alerter-Errors\" in US East (N. Virginia)")
        .message(r#"{"AlarmName": "ecs-events-alerter-Errors", "NewStateValue": "ALARM"}"#)
        .send()
        .await
        .expect("alarm");
    let subjects = |messages: Vec<aws_sdk_sqs::types::Message>| -> Vec<String> {
        messages
            .iter()
            .map(|message| {
                let envelope: Value =
                    serde_json::from_str(message.body().expect("body")).expect("JSON");
                envelope["Subject"].as_str().expect("subject").to_owned()
            })
            .collect()
    };
    let cluster_only = subjects(drain(&cluster_only.queue_url).await);
    assert_eq!(cluster_only.len(), 1, "{cluster_only:?}");
    assert!(
        cluster_only[0].starts_with("[111122223333 us-east-1] ECS task stopped"),
        "{cluster_only:?}"
    );
    let with_alarms = subjects(drain(&with_alarms.queue_url).await);
    assert_eq!(with_alarms.len(), 2, "{with_alarms:?}");
    assert!(with_alarms.iter().any(|subject| subject.starts_with("ALARM:")), "{with_alarms:?}");
}

#[tokio::test]
async fn given_each_scenario_in_order_then_each_alerting_task_reaches_sns_exactly_once() {
    for scenario in scenarios() {
        let subscribed = topic_with_queue(false, None).await;
        let alerter =
            rules_alerter(support::scenario_rules(&scenario.expected), subscribed.topic_arn).await;
        for event in &scenario.events {
            alerter::handle(&alerter, invoke(event.clone())).await.expect("handled");
        }
        for (_, result) in alerter
            .flush_all(chrono::Utc::now(), Deadline::after(std::time::Duration::from_secs(30)))
            .await
        {
            result.expect("digest sent");
        }
        assert_eq!(
            support::coverage_of(&support::documents(&subscribed.queue_url).await),
            support::expected_coverage(&scenario.expected),
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
    // Every delivery, three times over, as concurrent invocations: an invocation that finds
    // the alert in progress elsewhere waits for it, so none fails.
    let invocations = storm.events.iter().cycle().take(storm.events.len() * 3).map(|event| {
        let (alerter, event) = (alerter.clone(), event.clone());
        tokio::spawn(async move { alerter::handle(&alerter, invoke(event)).await })
    });
    for invocation in futures::future::join_all(invocations).await {
        invocation.expect("invocation finished").expect("no invocation fails");
    }
    assert_eq!(
        support::coverage_of(&support::documents(&subscribed.queue_url).await),
        support::expected_coverage(&storm.expected)
    );
}

/// GIVEN the example rules deployed as the templates do — one EventBridge rule per alert rule,
/// each invoking the alerter with `{"rule", "event"}` — WHEN every event of the corpus is
/// delivered three times, the three side by side and 24 invocations at once THEN each (rule, task) is published exactly
/// once and no invocation fails (an OOM stop matches two rules: two independent invocations).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_concurrent_per_rule_invocations_then_each_rule_and_task_is_sent_once_and_none_fails()
{
    let rules_json = include_str!("../../rules/examples.json");
    let rules = RuleSet::from_json(rules_json).expect("rules");
    let subscribed = topic_with_queue(false, None).await;
    let alerter = Arc::new(Alerter::new(
        rules.clone(),
        Arc::new(ledger().await),
        Arc::new(SnsAlertSink::new(sns(), subscribed.topic_arn)),
        support::ledger_retention(),
    ));
    let mut events: Vec<Value> =
        scenarios().into_iter().flat_map(|scenario| scenario.events).collect();
    for entry in std::fs::read_dir(events_dir().join("samples")).expect("samples") {
        events.push(read_json(&entry.expect("entry").path()));
    }
    // What EventBridge does: match every rule's pattern, one invocation per match.
    let mut expected = std::collections::BTreeSet::new();
    let mut payloads = Vec::new();
    for event in &events {
        let parsed = EcsEvent::from_value(event.clone()).expect("valid");
        for rule in rules.matching(event) {
            // A clean exit is not a failure: matched, invoked, not told.
            let outcome = parsed.task().map(|task| rules.outcome(rule, task));
            if rule.completed.tells(outcome) {
                expected.insert(ecs_events::alert::alert_target(rule, &parsed).1);
            }
            payloads.push(json!({"rule": rule.name, "event": event}));
        }
    }
    assert!(expected.len() >= 10, "{expected:?}");
    // The three deliveries of a payload run side by side, with other payloads' deliveries:
    // 24 invocations in flight at any time, so the claims race without queueing so many
    // requests at the (serialized) moto server that one waits out the SDK's attempt timeout.
    let invocations = payloads.iter().flat_map(|payload| [payload; 3]).map(|payload| {
        let (alerter, payload) = (alerter.clone(), payload.clone());
        tokio::spawn(async move { alerter::handle(&alerter, invoke(payload)).await })
    });
    let results: Vec<_> = futures::stream::iter(invocations).buffer_unordered(24).collect().await;
    for invocation in results {
        invocation.expect("invocation finished").expect("no invocation fails");
    }
    let sent: Vec<String> = drain(&subscribed.queue_url)
        .await
        .iter()
        .map(|message| {
            let envelope: Value =
                serde_json::from_str(message.body().expect("body")).expect("JSON");
            let document: Value =
                serde_json::from_str(envelope["Message"].as_str().expect("message")).expect("JSON");
            document["alertKey"].as_str().expect("alertKey").to_owned()
        })
        .collect();
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    for key in &sent {
        *seen.entry(key.as_str()).or_default() += 1;
    }
    let repeated: Vec<_> = seen.iter().filter(|(_, count)| **count > 1).collect();
    assert!(repeated.is_empty(), "sent more than once: {repeated:?}");
    assert_eq!(sent.len(), expected.len(), "one message per (rule, task)");
    assert_eq!(sent.into_iter().collect::<std::collections::BTreeSet<_>>(), expected);
}

/// A routed invocation for a rule the alerter does not have (the two rule files differ) fails
/// without retrying, naming the rule.
#[tokio::test]
async fn given_an_invocation_for_an_unknown_rule_then_it_fails_non_retryably_naming_it() {
    let subscribed = topic_with_queue(false, None).await;
    let alerter = sns_alerter(subscribed.topic_arn).await;
    let payload = json!({"rule": "renamed-rule", "event": sample("task-oom-killed.json")});
    let error = alerter::handle(&alerter, invoke(payload)).await.expect_err("unknown rule");
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("unknown alert rule \"renamed-rule\""), "{error}");
    assert!(drain(&subscribed.queue_url).await.is_empty());
}

#[tokio::test]
async fn given_an_sns_failure_then_the_invocation_fails_retryably_and_the_retry_sends_exactly_one()
{
    let subscribed = topic_with_queue(false, None).await;
    let sink = Arc::new(FlakySink::new(SnsAlertSink::new(sns(), subscribed.topic_arn), 1, None));
    let alerter = Alerter::new(
        RuleSet::default_rules(),
        Arc::new(ledger().await),
        sink.clone(),
        support::ledger_retention(),
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
async fn given_an_event_no_rule_matches_then_nothing_is_published() {
    let subscribed = topic_with_queue(false, None).await;
    let alerter = sns_alerter(subscribed.topic_arn).await;
    let response =
        alerter::handle(&alerter, invoke(sample("task-ec2-running.json"))).await.expect("handled");
    assert_eq!(response, json!({"alerts": []}));
    assert!(drain(&subscribed.queue_url).await.is_empty());
}
