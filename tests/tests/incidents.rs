//! Incidents, against both stores (in memory, and DynamoDB on moto): the store's contract, and
//! through the alerter — many concurrent invocations counting into one incident lose no task and
//! send one digest per window; a digest whose publish fails is sent once, later; chat gets every
//! alert and digest as a notification Amazon Q Developer accepts.

mod support;

use std::sync::Arc;
use std::time::Duration;

use ecs_events::alert::chat::check_notification;
use ecs_events::alert::{
    AlertKind, AlertSink, Alerter, DynamoDbLedger, RuleSet, SnsAlertSink, SnsChatSink,
};
use ecs_events::deadline::Deadline;
use ecs_events::incident::{
    DynamoDbIncidentStore, GroupSettings, InMemoryIncidentStore, IncidentStore, Member, Recorded,
    WindowRef,
};
use ecs_events_cli::tables::{create_incident_table, create_ledger_table};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use support::{FlakySink, drain, dynamodb, events_dir, read_json, sns, topic_with_queue, unique};

fn member(id: &str, at: i64) -> Member {
    Member { id: id.into(), at, cause: "exit 1".into(), stop_code: None, failed_containers: None }
}

async fn incident_store_contract(store: &dyn IncidentStore) {
    let key = "essential-container-exited|prod|service:web";
    let settings = GroupSettings { window: Duration::from_secs(600), crash_loop_after: 3 };
    let record = |id: &'static str, at: i64| async move {
        store
            .record(key, settings, at, &member(id, at), &format!("rule#{id}"), 9_999_999)
            .await
            .expect("recorded")
    };
    // The first match opens the incident; a retry of the same match is told so again.
    assert_eq!(record("t1", 1_000).await, Recorded::Opened { key: key.into() });
    assert_eq!(record("t1", 1_001).await, Recorded::Opened { key: key.into() });
    // Further matches count into window 1 — once each.
    let window1 = WindowRef { key: key.into(), opened: 1_000, index: 1 };
    assert_eq!(
        record("t2", 1_100).await,
        Recorded::Counted { window: window1.clone(), crash_loop: false }
    );
    assert_eq!(record("t2", 1_150).await, Recorded::AlreadyCounted { window: window1.clone() });
    // Three stops in the window (the opening one included): a crash loop.
    assert_eq!(
        record("t3", 1_200).await,
        Recorded::Counted { window: window1.clone(), crash_loop: true }
    );
    assert!(store.due(Some(1_599)).await.expect("due").is_empty(), "the window has not ended");
    assert_eq!(store.due(Some(1_600)).await.expect("due"), vec![window1.clone()]);
    assert_eq!(store.due(None).await.expect("due"), vec![window1.clone()]);
    // Window 1 counted something: window 2 is open, and the crash loop goes on.
    let window2 = WindowRef { key: key.into(), opened: 1_000, index: 2 };
    assert_eq!(
        record("t4", 1_700).await,
        Recorded::Counted { window: window2.clone(), crash_loop: true }
    );
    let content = store.window(&window1).await.expect("read").expect("window 1");
    assert_eq!((content.start, content.end, content.count()), (1_000, 1_600, 2));
    assert!(content.crash_loop);
    assert_eq!(content.members.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["t2", "t3"]);
    store.digested(&window1).await.expect("digested");
    assert_eq!(store.due(None).await.expect("due"), vec![window2.clone()]);
    store.digested(&window2).await.expect("digested");
    assert!(store.due(None).await.expect("due").is_empty());
    // Window 3 ([2200, 2800)) counts nothing: at 2800 the incident is closed, a match opens a
    // new one, which is not a crash loop.
    assert_eq!(record("t5", 2_900).await, Recorded::Opened { key: key.into() });
    let fresh = WindowRef { key: key.into(), opened: 2_900, index: 1 };
    assert_eq!(record("t6", 2_950).await, Recorded::Counted { window: fresh, crash_loop: false });
    assert_eq!(
        store
            .window(&WindowRef { key: "no|such|key".into(), opened: 1, index: 1 })
            .await
            .expect("read"),
        None
    );
}

#[tokio::test]
async fn given_the_in_memory_store_then_it_keeps_the_incident_contract() {
    incident_store_contract(&InMemoryIncidentStore::new()).await;
}

async fn moto_incidents() -> DynamoDbIncidentStore {
    let table = unique("incidents");
    create_incident_table(&dynamodb(), &table).await.expect("incident table");
    DynamoDbIncidentStore::new(dynamodb(), table)
}

#[tokio::test]
async fn given_dynamodb_on_moto_then_it_keeps_the_incident_contract() {
    incident_store_contract(&moto_incidents().await).await;
}

/// An alerter with the default rule (grouping by default) on moto: ledger, incidents, topic.
async fn grouping_alerter(sink: Arc<dyn AlertSink>) -> Alerter {
    let ledger = unique("ledger");
    create_ledger_table(&dynamodb(), &ledger).await.expect("ledger table");
    Alerter::new(
        RuleSet::default_rules(),
        Arc::new(DynamoDbLedger::new(dynamodb(), ledger)),
        sink,
        support::ledger_retention(),
    )
    .with_incidents(Arc::new(moto_incidents().await))
}

/// `count` stopped tasks of one service, as the OOM sample with new task ARNs.
fn stopped_tasks(count: usize) -> Vec<Value> {
    let sample = read_json(&events_dir().join("samples/task-oom-killed.json"));
    (0..count)
        .map(|i| {
            let mut event = sample.clone();
            let arn = format!("arn:aws:ecs:us-east-1:111122223333:task/prod-ec2/{i:032x}");
            event["id"] = json!(format!("00000000-0000-4000-8000-{i:012x}"));
            event["detail"]["taskArn"] = json!(arn);
            event["resources"] = json!([arn]);
            event
        })
        .collect()
}

fn invoke(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

/// GIVEN one service's 24 tasks stopping at once, each delivered twice, every delivery its own
/// invocation, all concurrent WHEN the schedule flushes twice at once THEN one alert and one
/// digest reach the topic, and together they tell of every task exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_concurrent_invocations_into_one_incident_then_no_task_is_lost_and_one_digest_is_sent()
 {
    let subscribed = topic_with_queue(false, None).await;
    let alerter =
        Arc::new(grouping_alerter(Arc::new(SnsAlertSink::new(sns(), subscribed.topic_arn))).await);
    let events = stopped_tasks(24);
    let invocations = events.iter().chain(events.iter()).map(|event| {
        let payload = json!({"rule": "essential-container-exited", "event": event});
        let alerter = alerter.clone();
        tokio::spawn(async move { alerter::handle(&alerter, invoke(payload)).await })
    });
    for invocation in futures::future::join_all(invocations).await {
        invocation.expect("finished").expect("no invocation fails");
    }
    // The window has not ended by the wall clock: nothing is due yet.
    let now =
        alerter::handle(&alerter, invoke(json!({"flushDigests": true}))).await.expect("flushed");
    assert_eq!(now, json!({"alerts": []}));
    // Twice at once, as a late and a timely schedule might.
    let (one, two) = tokio::join!(
        alerter.flush(None, Deadline::after(Duration::from_secs(30))),
        alerter.flush(None, Deadline::after(Duration::from_secs(30)))
    );
    for (_, result) in one.into_iter().chain(two) {
        result.expect("flushed");
    }
    let sent = support::documents(&subscribed.queue_url).await;
    let kinds: Vec<&str> =
        sent.iter().map(|document| document["kind"].as_str().expect("kind")).collect();
    let (alerts, digests) = (
        kinds.iter().filter(|k| **k == "alert").count(),
        kinds.iter().filter(|k| **k == "digest").count(),
    );
    assert_eq!((alerts, digests), (1, 1), "{kinds:?}");
    let covered = support::coverage_of(&sent);
    let mut expected: Vec<(String, String)> = events
        .iter()
        .map(|event| {
            (
                "essential-container-exited".to_owned(),
                event["detail"]["taskArn"].as_str().expect("arn").to_owned(),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(covered, expected, "every task exactly once");
    let digest = sent.iter().find(|document| document["kind"] == "digest").expect("digest");
    assert_eq!(digest["count"], 23);
    assert_eq!(digest["crashLoop"], true);
    assert_eq!(digest["attributes"]["kind"], "digest");
}

/// GIVEN SNS failing on a digest THEN the flush reports it, the window stays due, and the next
/// flush sends the digest — once.
#[tokio::test]
async fn given_an_sns_failure_on_a_digest_then_it_is_retried_and_sent_once() {
    let subscribed = topic_with_queue(false, None).await;
    let sink =
        FlakySink::new(SnsAlertSink::new(sns(), subscribed.topic_arn), 1, Some(AlertKind::Digest));
    let alerter = grouping_alerter(Arc::new(sink)).await;
    for event in stopped_tasks(3) {
        alerter::handle(&alerter, invoke(event)).await.expect("handled");
    }
    let deadline = Deadline::after(Duration::from_secs(30));
    let failed = alerter.flush(None, deadline).await;
    assert!(
        failed.iter().all(|(_, result)| result.as_ref().is_err_and(|error| error.is_retryable())),
        "{failed:?}"
    );
    assert_eq!(
        support::documents(&subscribed.queue_url)
            .await
            .iter()
            .filter(|d| d["kind"] == "digest")
            .count(),
        0
    );
    let retried = alerter.flush(None, deadline).await;
    assert_eq!(retried.len(), 1);
    assert!(retried[0].1.as_ref().is_ok_and(|delivery| delivery.published().is_some()));
    assert!(alerter.flush(None, deadline).await.is_empty(), "nothing due any more");
    let digests: Vec<Value> = support::documents(&subscribed.queue_url)
        .await
        .into_iter()
        .filter(|d| d["kind"] == "digest")
        .collect();
    assert_eq!(digests.len(), 1);
    assert_eq!(digests[0]["count"], 2);
}

/// GIVEN a chat topic with a queue subscribed WHEN alerts and a digest are sent THEN each
/// reaches the chat queue as a custom notification that matches Amazon Q Developer's schema,
/// in the incident's thread, and the alert topic's queue gets them with their attributes.
#[tokio::test]
async fn given_a_chat_topic_then_alerts_and_digests_arrive_there_as_valid_notifications() {
    let alerts = topic_with_queue(true, None).await;
    let chat = topic_with_queue(true, None).await;
    let alerter = grouping_alerter(Arc::new(SnsAlertSink::new(sns(), alerts.topic_arn)))
        .await
        .with_chat(Arc::new(SnsChatSink::new(sns(), chat.topic_arn)));
    for event in stopped_tasks(3) {
        alerter::handle(&alerter, invoke(event)).await.expect("handled");
    }
    alerter.flush(None, Deadline::after(Duration::from_secs(30))).await;
    let notifications: Vec<Value> = drain(&chat.queue_url)
        .await
        .iter()
        .map(|message| {
            serde_json::from_str(message.body().expect("body")).expect("a JSON notification")
        })
        .collect();
    assert_eq!(notifications.len(), 2, "one alert and one digest");
    for notification in &notifications {
        check_notification(notification)
            .unwrap_or_else(|problem| panic!("{problem}: {notification}"));
        assert_eq!(
            notification["metadata"]["threadId"],
            "essential-container-exited|prod-ec2|service:image-resizer"
        );
    }
    assert_eq!(notifications[1]["metadata"]["eventType"], "ECSIncidentDigest");
    // Raw delivery maps the attributes over: filter policies can take or drop digests.
    let delivered = drain(&alerts.queue_url).await;
    let kinds: Vec<String> = delivered
        .iter()
        .map(|message| {
            let attributes = message.message_attributes().expect("attributes");
            attributes["kind"].string_value().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(kinds, ["alert", "digest"]);
    assert_eq!(
        delivered[1].message_attributes().expect("attributes")["count"].data_type(),
        "Number"
    );
}
