//! Requests per event against a real DynamoDB/SNS API (moto), counted by an SDK interceptor:
//! one DynamoDB request per task, container instance or deployment event and per service
//! desired-count or steady-state event, none for the others; per alert, claim + publish + mark
//! when it is sent, one claim when it was already sent, none for a clean exit not told.

mod support;

use std::sync::Arc;

use ecs_events::alert::{Alerter, DynamoDbLedger, RuleSet, SnsAlertSink};
use ecs_events::state::DynamoDbStateStore;
use ecs_events_cli::tables::{create_ledger_table, create_state_tables};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use state_tracker::StateTracker;
use support::{
    RequestCounter, counting_dynamodb, counting_sns, dynamodb, scenarios, topic_with_queue, unique,
};

fn invoke(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

/// Whether the state tracker keeps what the event tells (one conditional write).
fn is_state_event(event: &Value) -> bool {
    match event["detail-type"].as_str() {
        Some(
            "ECS Task State Change"
            | "ECS Container Instance State Change"
            | "ECS Deployment State Change",
        ) => true,
        Some("ECS Service Action") => matches!(
            event["detail"]["eventName"].as_str(),
            Some("SERVICE_DESIRED_COUNT_UPDATED" | "SERVICE_STEADY_STATE")
        ),
        _ => false,
    }
}

#[tokio::test]
async fn given_every_scenario_then_each_state_event_costs_one_dynamodb_request_and_others_none() {
    let mut state_events = 0;
    for scenario in scenarios() {
        let (tasks, instances) = (unique("tasks"), unique("instances"));
        create_state_tables(&dynamodb(), &tasks, &instances).await.expect("tables");
        let counter = RequestCounter::default();
        let store = DynamoDbStateStore::new(counting_dynamodb(&counter), tasks, instances);
        let services = support::moto_services_with(counting_dynamodb(&counter)).await;
        let tracker =
            StateTracker::new(Arc::new(store), Arc::new(services), support::covering_retention());
        for event in scenario.events {
            let before = counter.count();
            tracker.handle(invoke(event.clone())).await.expect("handled");
            let expected = usize::from(is_state_event(&event));
            assert_eq!(counter.count() - before, expected, "{}: {}", scenario.name, event["id"]);
            state_events += expected;
        }
    }
    assert!(state_events > 50, "{state_events} state events counted");
}

#[tokio::test]
async fn given_alerts_then_a_sent_one_costs_claim_publish_mark_and_a_repeat_one_claim() {
    let (mut sent, mut repeated) = (0, 0);
    for scenario in scenarios() {
        let ledger_table = unique("ledger");
        create_ledger_table(&dynamodb(), &ledger_table).await.expect("ledger");
        let subscribed = topic_with_queue(false, None).await;
        let (dynamodb_requests, sns_requests) =
            (RequestCounter::default(), RequestCounter::default());
        let alerter = Alerter::new(
            RuleSet::default_rules(),
            Arc::new(DynamoDbLedger::new(counting_dynamodb(&dynamodb_requests), ledger_table)),
            Arc::new(SnsAlertSink::new(counting_sns(&sns_requests), subscribed.topic_arn)),
            support::ledger_retention(),
        );
        for event in scenario.events {
            let (ledger_before, sns_before) = (dynamodb_requests.count(), sns_requests.count());
            let response = alerter::handle(&alerter, invoke(event)).await.expect("handled");
            let (ledger, sns) =
                (dynamodb_requests.count() - ledger_before, sns_requests.count() - sns_before);
            match response["alerts"].as_array().expect("alerts").as_slice() {
                [] => assert_eq!((ledger, sns), (0, 0), "{}: no match, no request", scenario.name),
                [alert] if alert["sent"] == true => {
                    assert_eq!((ledger, sns), (2, 1), "{}: claim + publish + mark", scenario.name);
                    sent += 1;
                }
                [alert] if alert["quiet"] == true => {
                    assert_eq!(
                        (ledger, sns),
                        (0, 0),
                        "{}: a clean exit is not told",
                        scenario.name
                    );
                }
                [_] => {
                    assert_eq!((ledger, sns), (1, 0), "{}: a claim finds it sent", scenario.name);
                    repeated += 1;
                }
                more => panic!("one rule, yet {} alerts", more.len()),
            }
        }
    }
    assert!(sent >= 3 && repeated >= 3, "{sent} sent, {repeated} repeated");
}
