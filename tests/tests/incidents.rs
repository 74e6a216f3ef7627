//! Incidents, against both stores (in memory, and DynamoDB on moto): the store's contract, and
//! through the alerter — many concurrent invocations counting into one incident lose no task and
//! send one digest per window; a digest whose publish fails is sent once, later; chat gets every
//! alert and digest as a notification Amazon Q Developer accepts.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use ecs_events::alert::chat::check_notification;
use ecs_events::alert::{
    AlertKind, AlertSink, Alerter, CollectingSink, DynamoDbLedger, RuleSet, SnsAlertSink,
    SnsChatSink,
};
use ecs_events::deadline::Deadline;
use ecs_events::event::ReceivedEvent;
use ecs_events::incident::{
    Clock, DynamoDbIncidentStore, GroupSettings, InMemoryIncidentStore, IncidentStore, Member,
    MemberKind, Recorded, SETTLE, WindowRef,
};
use ecs_events_cli::tables::{create_incident_table, create_ledger_table};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use support::{FlakySink, drain, dynamodb, events_dir, read_json, sns, topic_with_queue, unique};

fn member(id: &str, at: i64) -> Member {
    Member {
        id: id.into(),
        at,
        kind: MemberKind::Task,
        region: "us-east-1".into(),
        cause: "exit 1".into(),
        stop_code: None,
        failed_containers: None,
        deployment: None,
        severity: None,
    }
}

/// A recording done at once, as in a replay.
fn at_once(now: i64) -> Clock {
    Clock { now, done_by: now }
}

async fn incident_store_contract(store: &dyn IncidentStore) {
    let key = "essential-container-exited|prod|service:web";
    let settings = GroupSettings { window: Duration::from_secs(600), crash_loop_after: 3 };
    let record = |id: &'static str, at: i64, clock: Clock| async move {
        store
            .record(key, settings, &member(id, at), &format!("rule#{id}"), clock, 9_999_999)
            .await
            .expect("recorded")
    };
    let due = |until: Option<i64>| async move { store.due(until, 100).await.expect("due") };
    let opened = Recorded::Opened { key: key.into(), opened: 1_000 };
    // The first match opens the incident at its own time; a retry of it is told so again.
    assert_eq!(record("t1", 1_000, at_once(1_000)).await, opened);
    assert_eq!(record("t1", 1_000, at_once(1_030)).await, opened);
    // Further matches count into window 1 — once each.
    let window1 = WindowRef { key: key.into(), opened: 1_000, index: 1 };
    let counted = |window: &WindowRef| Recorded::Counted { window: window.clone() };
    assert_eq!(record("t2", 1_100, at_once(1_100)).await, counted(&window1));
    assert_eq!(
        record("t2", 1_100, at_once(1_150)).await,
        Recorded::AlreadyCounted { window: window1.clone() }
    );
    // Placed by its own time, not by when it is recorded (the window still takes counts).
    assert_eq!(record("t3", 1_200, at_once(1_650)).await, counted(&window1));
    assert!(due(Some(1_599)).await.is_empty(), "the window has not ended");
    assert_eq!(due(Some(1_600)).await, vec![window1.clone()]);
    assert_eq!(due(None).await, vec![window1.clone()]);
    // Window 1 counted something: window 2 is open.
    let window2 = WindowRef { key: key.into(), opened: 1_000, index: 2 };
    assert_eq!(record("t4", 1_700, at_once(1_700)).await, counted(&window2));
    let content = store.window(&window1).await.expect("read").expect("window 1");
    assert_eq!((content.start, content.end, content.count()), (1_000, 1_600, 2));
    assert!(!content.crash_loop_before);
    assert!(content.is_crash_loop(settings), "two counted and the opener: three stops");
    assert_eq!(content.members.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["t2", "t3"]);
    store.digested(&window1, true).await.expect("digested");
    assert_eq!(due(None).await, vec![window2.clone()]);
    let content = store.window(&window2).await.expect("read").expect("window 2");
    assert!(content.crash_loop_before, "window 1 told it is a crash loop");

    // Late: a stop of window 1 recorded when window 1 no longer takes counts, and one from
    // long before the incident opened, go to the late bucket of the time they arrive.
    let late = WindowRef { key: key.into(), opened: 1_200, index: 0 };
    assert_eq!(record("t8", 1_300, Clock { now: 1_750, done_by: 1_785 }).await, counted(&late));
    assert_eq!(record("t0", 100, at_once(1_760)).await, counted(&late));
    // A retry of a match already counted into its own window (its first attempt counted, then
    // failed before it could answer) counts no more, though its window no longer takes counts.
    assert_eq!(
        record("t3", 1_200, Clock { now: 1_770, done_by: 1_785 }).await,
        Recorded::AlreadyCounted { window: window1.clone() }
    );
    // A match of window 2 whose writes could still land when it is read goes late too.
    assert_eq!(
        record("t9", 1_800, Clock { now: 2_270, done_by: 2_200 + SETTLE + 1 }).await,
        counted(&WindowRef { key: key.into(), opened: 1_800, index: 0 })
    );
    assert_eq!(due(Some(1_800)).await, vec![late.clone()], "the late bucket ends at 1800");
    assert_eq!(store.due(None, 1).await.expect("due").len(), 1, "a limit is kept");
    let content = store.window(&late).await.expect("read").expect("late bucket");
    assert_eq!(content.members.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["t0", "t8"]);
    assert!(!content.is_crash_loop(settings), "a late bucket is no crash loop");
    store.digested(&late, false).await.expect("digested");
    // A late match for a bucket already told goes to the next one.
    assert_eq!(
        record("t7", 1_400, at_once(1_790)).await,
        counted(&WindowRef { key: key.into(), opened: 1_800, index: 0 })
    );
    store.digested(&window2, false).await.expect("digested");
    // Window 3 ([2200, 2800)) counts nothing: at 2800 the incident is closed, a match opens a
    // new one, which is not a crash loop.
    assert_eq!(
        record("t5", 2_900, at_once(2_900)).await,
        Recorded::Opened { key: key.into(), opened: 2_900 }
    );
    let fresh = WindowRef { key: key.into(), opened: 2_900, index: 1 };
    assert_eq!(record("t6", 2_950, at_once(2_950)).await, counted(&fresh));
    assert!(!store.window(&fresh).await.expect("read").expect("fresh").crash_loop_before);
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

/// `count` stopped tasks of one service, as the OOM sample with new task ARNs, stopped one a
/// second from `first` on.
fn stopped_tasks_from(count: usize, first: DateTime<Utc>) -> Vec<Value> {
    let sample = read_json(&events_dir().join("samples/task-oom-killed.json"));
    (0..count)
        .map(|i| {
            let mut event = sample.clone();
            let arn = format!("arn:aws:ecs:us-east-1:111122223333:task/prod-ec2/{i:032x}");
            let stopped = first + chrono::Duration::seconds(i as i64);
            let stamp = |at: DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Millis, true);
            event["id"] = json!(format!("00000000-0000-4000-8000-{i:012x}"));
            event["time"] = json!(stamp(stopped + chrono::Duration::seconds(1)));
            event["detail"]["taskArn"] = json!(arn);
            event["detail"]["stoppedAt"] = json!(stamp(stopped));
            event["resources"] = json!([arn]);
            event
        })
        .collect()
}

/// `count` stopped tasks of one service that stopped just now (the functions place them by
/// the wall clock).
fn stopped_tasks(count: usize) -> Vec<Value> {
    stopped_tasks_from(count, Utc::now() - chrono::Duration::seconds(count as i64))
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
        alerter.flush_all(Utc::now(), Deadline::after(Duration::from_secs(30))),
        alerter.flush_all(Utc::now(), Deadline::after(Duration::from_secs(30)))
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
    let failed = alerter.flush_all(Utc::now(), deadline).await;
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
    let retried = alerter.flush_all(Utc::now(), deadline).await;
    assert_eq!(retried.len(), 1);
    assert!(retried[0].1.as_ref().is_ok_and(|delivery| delivery.published().is_some()));
    assert!(alerter.flush_all(Utc::now(), deadline).await.is_empty(), "nothing due any more");
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
    let stopped_tasks_events = stopped_tasks(3);
    for event in stopped_tasks_events.clone() {
        alerter::handle(&alerter, invoke(event)).await.expect("handled");
    }
    alerter.flush_all(Utc::now(), Deadline::after(Duration::from_secs(30))).await;
    let notifications: Vec<Value> = drain(&chat.queue_url)
        .await
        .iter()
        .map(|message| {
            serde_json::from_str(message.body().expect("body")).expect("a JSON notification")
        })
        .collect();
    assert_eq!(notifications.len(), 2, "one alert and one digest");
    // One thread per incident: the key and when the incident opened (the first stop).
    let opened = DateTime::parse_from_rfc3339(
        stopped_tasks_events[0]["detail"]["stoppedAt"].as_str().expect("stoppedAt"),
    )
    .expect("time")
    .timestamp();
    for notification in &notifications {
        check_notification(notification)
            .unwrap_or_else(|problem| panic!("{problem}: {notification}"));
        assert_eq!(
            notification["metadata"]["threadId"],
            format!(
                "essential-container-exited|111122223333|us-east-1|prod-ec2|service:image-resizer#{opened}"
            )
        );
    }
    assert_eq!(notifications[1]["metadata"]["eventType"], "ECSIncidentDigest");
    // Programs read the message attributes from the document (SNS delivers none with
    // MessageStructure=json, as its guide says; moto delivers them anyway, so their presence
    // on the queue proves nothing and is not asserted).
    let delivered: Vec<Value> = drain(&alerts.queue_url)
        .await
        .iter()
        .map(|message| serde_json::from_str(message.body().expect("body")).expect("document"))
        .collect();
    let kinds: Vec<&str> = delivered
        .iter()
        .map(|document| document["attributes"]["kind"].as_str().expect("kind attribute"))
        .collect();
    assert_eq!(kinds, ["alert", "digest"]);
    assert_eq!(delivered[1]["attributes"]["count"], 2);
}

/// GIVEN two outages of one service a day apart THEN each is its own chat thread: today's
/// alert and digest do not land under yesterday's.
#[tokio::test]
async fn given_two_incidents_of_one_key_then_each_has_its_own_thread() {
    let alerter = embedded_alerter(Arc::new(CollectingSink::new()));
    let yesterday = Utc::now() - chrono::Duration::days(1);
    let mut threads = Vec::new();
    for (first, prefix) in [(yesterday, "a"), (Utc::now() - chrono::Duration::minutes(5), "b")] {
        for mut event in stopped_tasks_from(2, first) {
            let arn = event["detail"]["taskArn"]
                .as_str()
                .expect("arn")
                .replace("/0000", &format!("/{prefix}000"));
            event["detail"]["taskArn"] = json!(arn);
            let received = ReceivedEvent::new(event).expect("valid");
            let now = received.event.time.instant();
            for (_, result) in
                alerter.process(&received, now, Deadline::after(Duration::from_secs(30))).await
            {
                if let Some(alert) = result.expect("delivered").into_published() {
                    threads.push(
                        alert.chat["metadata"]["threadId"].as_str().expect("thread").to_owned(),
                    );
                }
            }
        }
        for (_, result) in alerter
            .flush_all(
                first + chrono::Duration::minutes(20),
                Deadline::after(Duration::from_secs(30)),
            )
            .await
        {
            let digest = result.expect("flushed").into_published().expect("a digest");
            threads.push(digest.chat["metadata"]["threadId"].as_str().expect("thread").to_owned());
        }
    }
    assert_eq!(threads.len(), 4, "{threads:?}");
    assert_eq!(threads[0], threads[1], "yesterday's alert and digest share a thread");
    assert_eq!(threads[2], threads[3], "today's too");
    assert_ne!(threads[0], threads[2], "the two outages are two threads");
}

/// An alerter with the default rule on the embedded adapters, publishing to `sink`.
fn embedded_alerter(sink: Arc<CollectingSink>) -> Alerter {
    Alerter::new(
        RuleSet::default_rules(),
        Arc::new(ecs_events::alert::InMemoryLedger::new()),
        sink,
        support::ledger_retention(),
    )
    .with_incidents(Arc::new(InMemoryIncidentStore::new()))
}

fn received(events: &[Value]) -> Vec<ReceivedEvent> {
    events.iter().map(|event| ReceivedEvent::new(event.clone()).expect("valid")).collect()
}

fn budget() -> Deadline {
    Deadline::after(Duration::from_secs(30))
}

/// GIVEN a window flushed while more of its stops are being counted — invocations that began
/// after the window ended, whose writes could land after the digest read it — THEN every stop
/// is told exactly once: those counted in time by the window's digest, the others by a late
/// digest, none in no message.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_counts_overlapping_a_flush_then_every_task_is_told_once() {
    let subscribed = topic_with_queue(false, None).await;
    let alerter =
        Arc::new(grouping_alerter(Arc::new(SnsAlertSink::new(sns(), subscribed.topic_arn))).await);
    let first = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
    let events = stopped_tasks_from(60, first);
    let stops = received(&events);
    // The opener and 19 more, counted as they happen.
    for stop in &stops[..20] {
        for (_, result) in alerter.process(stop, stop.event.time.instant(), budget()).await {
            result.expect("delivered");
        }
    }
    // Window 1 is [first, first + 10m). 40 more stops of it are counted a minute after it
    // ended, all at once with the flush that reads it (SETTLE after its end).
    let end = first + chrono::Duration::seconds(600);
    let counting = stops[20..].iter().cloned().map(|stop| {
        let alerter = alerter.clone();
        tokio::spawn(async move {
            alerter.process(&stop, end + chrono::Duration::seconds(60), budget()).await
        })
    });
    let flushing = {
        let alerter = alerter.clone();
        tokio::spawn(async move {
            alerter.flush(end + chrono::Duration::seconds(SETTLE), budget()).await
        })
    };
    let (counted, flushed) = tokio::join!(futures::future::join_all(counting), flushing);
    for (_, result) in counted.into_iter().flat_map(|joined| joined.expect("joined")) {
        result.expect("counted");
    }
    for (_, result) in flushed.expect("joined") {
        result.expect("flushed");
    }
    // The late bucket's digest, when it is due.
    for (_, result) in alerter.flush_all(end + chrono::Duration::seconds(700), budget()).await {
        result.expect("flushed");
    }
    let sent = support::documents(&subscribed.queue_url).await;
    let mut expected: Vec<(String, String)> = events
        .iter()
        .map(|event| {
            let arn = event["detail"]["taskArn"].as_str().expect("arn");
            ("essential-container-exited".to_owned(), arn.to_owned())
        })
        .collect();
    expected.sort();
    assert_eq!(support::coverage_of(&sent), expected, "every task exactly once");
    let digests: Vec<(bool, u64)> = sent
        .iter()
        .filter(|document| document["kind"] == "digest")
        .map(|digest| (digest["late"] == true, digest["count"].as_u64().expect("count")))
        .collect();
    assert_eq!(digests, [(false, 19), (true, 40)], "the window's digest, then the late one");
}

/// GIVEN a stop delivered a day late, and stops from hours before the incident now open
/// THEN the first is alerted saying it is about the past, and the others are told by a late
/// digest — not counted into today's window.
#[tokio::test]
async fn given_late_deliveries_then_messages_say_they_are_about_the_past() {
    let sink = Arc::new(CollectingSink::new());
    let alerter = embedded_alerter(sink.clone());
    let now = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
    let mut day_late = stopped_tasks_from(1, now - chrono::Duration::hours(26));
    day_late[0]["detail"]["taskArn"] =
        json!("arn:aws:ecs:us-east-1:111122223333:task/prod-ec2/0123456789abcdef0123456789abcdef");
    let day_late = received(&day_late);
    alerter.process(&day_late[0], now, budget()).await;
    let alert = &sink.alerts()[0];
    assert!(
        alert.subject.starts_with(
            "[111122223333 us-east-1] ECS task stopped 1d 2h ago: prod-ec2/image-resizer"
        ),
        "{}",
        alert.subject
    );
    assert!(alert.message.contains("Delivered late:"), "{}", alert.message);
    assert_eq!(alert.document["lateBySeconds"], 26 * 3_600);

    // Today's outage opens at `now`; three stops from 4 hours before arrive during it.
    let today = received(&stopped_tasks_from(2, now + chrono::Duration::minutes(1)));
    let mut earlier = stopped_tasks_from(3, now - chrono::Duration::hours(4));
    for (i, event) in earlier.iter_mut().enumerate() {
        let arn = format!("arn:aws:ecs:us-east-1:111122223333:task/prod-ec2/{:032x}", 900 + i);
        event["detail"]["taskArn"] = json!(arn);
    }
    let later = now + chrono::Duration::minutes(2);
    alerter.process(&today[0], now + chrono::Duration::minutes(1), budget()).await;
    for stop in received(&earlier).iter().chain(&today[1..]) {
        alerter.process(stop, later, budget()).await;
    }
    alerter.flush_all(later, budget()).await;
    let digests: Vec<_> =
        sink.alerts().into_iter().filter(|a| a.kind == AlertKind::Digest).collect();
    assert_eq!(digests.len(), 2, "{:?}", digests.iter().map(|d| &d.subject).collect::<Vec<_>>());
    let is_late = |subject: &str| subject.starts_with("[111122223333 us-east-1] ECS late:");
    let late = digests.iter().find(|d| is_late(&d.subject)).expect("a late digest");
    assert_eq!(late.count, 3);
    assert!(late.subject.contains("3 stops delivered late, up to 4h"), "{}", late.subject);
    let window = digests.iter().find(|d| !is_late(&d.subject)).expect("the window's digest");
    assert_eq!(window.count, 1, "today's window holds today's stop only");
}

/// The write units DynamoDB bills for writing `item`: one per started KB.
fn write_units(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> usize {
    ecs_events::state::item_size(item).div_ceil(1024).max(1)
}

/// GIVEN one window counting 1,000 stopped tasks WHEN the 10th and the 1,000th are counted
/// THEN each count is the same two small writes — the window item and the member's item, one
/// write unit each — read back from moto and billed as DynamoDB does (by item size). Before
/// issue #23 the window item held every member: 3 KB at 10 and 284 KB at 1,000 members, so the
/// 1,000th count cost 284 write units (568 with the crash-loop flag).
#[tokio::test]
async fn given_a_window_of_1000_members_then_a_count_costs_what_it_cost_at_10() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let table = unique("incidents");
    create_incident_table(&dynamodb(), &table).await.expect("incident table");
    let store = DynamoDbIncidentStore::new(dynamodb(), table.clone());
    let key = "essential-container-exited|prod-ec2|service:image-resizer";
    let settings = GroupSettings { window: Duration::from_secs(3_600), crash_loop_after: 5 };
    let item = |key: String, entry: String| {
        let table = table.clone();
        async move {
            dynamodb()
                .get_item()
                .table_name(table)
                .key("incidentKey", AttributeValue::S(key))
                .key("entry", AttributeValue::S(entry))
                .send()
                .await
                .expect("read")
                .item
                .expect("item")
        }
    };
    let mut units = Vec::new();
    for i in 0..=1_000_i64 {
        let id = format!("arn:aws:ecs:us-east-1:111122223333:task/prod-ec2/{i:032x}");
        let member = Member {
            id: id.clone(),
            at: 1_000 + i,
            kind: MemberKind::Task,
            region: "us-east-1".into(),
            cause: "exit 137 OutOfMemoryError".into(),
            stop_code: Some("EssentialContainerExited".into()),
            failed_containers: Some("resizer:137".into()),
            deployment: Some("ecs-svc/9836046878285863851".into()),
            severity: Some(ecs_events::alert::Severity::Error),
        };
        store
            .record(key, settings, &member, &format!("r#{id}"), at_once(1_000 + i), 9_999_999)
            .await
            .expect("recorded");
        if i == 10 || i == 1_000 {
            let window = item(format!("window#{key}#1000#1"), "window".into()).await;
            let counted = item(format!("window#{key}#1000#1"), format!("m#{id}")).await;
            units.push((write_units(&window), write_units(&counted)));
        }
    }
    println!(
        "write units per count (window item, member item): at 10 members {:?}, at 1,000 {:?}",
        units[0], units[1]
    );
    assert_eq!(units, [(1, 1), (1, 1)]);
    let window = WindowRef { key: key.into(), opened: 1_000, index: 1 };
    assert_eq!(store.window(&window).await.expect("read").expect("window").count(), 1_000);
}

/// GIVEN 60 incident windows due at once THEN one flush sends at most MAX_DIGESTS_PER_FLUSH
/// of them and the next flush the rest: a tick's work is bounded.
#[tokio::test]
async fn given_more_windows_due_than_one_flush_sends_then_the_rest_wait_for_the_next() {
    let sink = Arc::new(CollectingSink::new());
    let alerter = embedded_alerter(sink.clone());
    let first = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
    for service in 0..60 {
        for mut event in stopped_tasks_from(2, first) {
            let arn = event["detail"]["taskArn"]
                .as_str()
                .expect("arn")
                .replace("/0000", &format!("/{service:04}"));
            event["detail"]["taskArn"] = json!(arn);
            event["detail"]["group"] = json!(format!("service:svc-{service}"));
            let stop = ReceivedEvent::new(event).expect("valid");
            alerter.process(&stop, stop.event.time.instant(), budget()).await;
        }
    }
    let later = first + chrono::Duration::minutes(15);
    let once = alerter.flush(later, budget()).await;
    assert_eq!(once.len(), ecs_events::alert::MAX_DIGESTS_PER_FLUSH);
    let again = alerter.flush(later, budget()).await;
    assert_eq!(again.len(), 60 - ecs_events::alert::MAX_DIGESTS_PER_FLUSH);
    assert!(alerter.flush(later, budget()).await.is_empty());
    let digests = sink.alerts().into_iter().filter(|alert| alert.kind == AlertKind::Digest).count();
    assert_eq!(digests, 60);
}

/// GIVEN a long incident THEN each window that counts moves the head's expiry on: a head
/// opened with an expiry does not expire while later windows still count into it.
#[tokio::test]
async fn given_a_long_incident_then_the_heads_expiry_moves_with_it() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let table = unique("incidents");
    create_incident_table(&dynamodb(), &table).await.expect("incident table");
    let store = DynamoDbIncidentStore::new(dynamodb(), table.clone());
    let key = "essential-container-exited|prod|service:web";
    let settings = GroupSettings { window: Duration::from_secs(600), crash_loop_after: 5 };
    let record = |id: &'static str, at: i64, expires: i64| {
        let store = store.clone();
        async move {
            store
                .record(key, settings, &member(id, at), &format!("r#{id}"), at_once(at), expires)
                .await
                .expect("recorded")
        }
    };
    let expiry = || {
        let table = table.clone();
        async move {
            let item = dynamodb()
                .get_item()
                .table_name(table)
                .key("incidentKey", AttributeValue::S(format!("head#{key}")))
                .key("entry", AttributeValue::S("head".into()))
                .send()
                .await
                .expect("read")
                .item
                .expect("head");
            item["expiresAt"].as_n().expect("number").parse::<i64>().expect("expiry")
        }
    };
    record("t1", 1_000, 5_000).await;
    assert_eq!(expiry().await, 5_000);
    record("t2", 1_100, 6_000).await;
    assert_eq!(expiry().await, 6_000, "window 1 counted: the expiry moved");
    record("t3", 1_700, 7_000).await;
    assert_eq!(expiry().await, 7_000, "window 2 too");
}

/// GIVEN a window item marked due whose one count never landed (its writer failed between the
/// two writes), and a window gone by TTL THEN the flush sends no "0 more" digest and marks the
/// first told, and marking the gone one told makes no item of it.
#[tokio::test]
async fn given_a_due_window_without_members_then_no_digest_and_no_ghost_item() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let table = unique("incidents");
    create_incident_table(&dynamodb(), &table).await.expect("incident table");
    let store = Arc::new(DynamoDbIncidentStore::new(dynamodb(), table.clone()));
    let key = "essential-container-exited|prod|service:web";
    let item = |name: &str| format!("window#{key}#1000#{name}");
    dynamodb()
        .put_item()
        .table_name(&table)
        .item("incidentKey", AttributeValue::S(item("1")))
        .item("entry", AttributeValue::S("window".into()))
        .item("windowStart", AttributeValue::N("1000".into()))
        .item("windowEnd", AttributeValue::N("1600".into()))
        .item("dueShard", AttributeValue::S("due".into()))
        .item("dueAt", AttributeValue::N("1600".into()))
        .send()
        .await
        .expect("put");
    let sink = Arc::new(CollectingSink::new());
    let alerter = Alerter::new(
        RuleSet::default_rules(),
        Arc::new(ecs_events::alert::InMemoryLedger::new()),
        sink.clone(),
        support::ledger_retention(),
    )
    .with_incidents(store.clone());
    let later = DateTime::from_timestamp(5_000, 0).expect("time");
    let flushed = alerter.flush(later, budget()).await;
    assert!(
        matches!(flushed.as_slice(), [(_, Ok(delivery))] if delivery.published().is_none()),
        "{flushed:?}"
    );
    assert!(sink.alerts().is_empty(), "no empty digest");
    assert!(store.due(None, 10).await.expect("due").is_empty(), "marked told");
    let gone = WindowRef { key: key.into(), opened: 1_000, index: 2 };
    store.digested(&gone, false).await.expect("digested");
    let ghost = dynamodb()
        .get_item()
        .table_name(&table)
        .key("incidentKey", AttributeValue::S(item("2")))
        .key("entry", AttributeValue::S("window".into()))
        .send()
        .await
        .expect("read");
    assert!(ghost.item.is_none(), "no item without an expiry was made");
}
