//! The state tracker against the in-memory store and against a real DynamoDB API (moto):
//! one contract for both adapters, scenario replays through the Lambda handler, random
//! delivery orders, concurrent writers and the SQS batch path.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Duration;
use ecs_events::event::{ReceivedEvent, Timestamp};
use ecs_events::state::{
    Create, Detail, DynamoDbStateStore, InMemoryStateStore, Outcome, PutResult, ResourceKind,
    Retention, Source, StateRecord, StateStore, StoredVersion, TaskFacts, TaskSummary,
};
use ecs_events::tracker::Stores;
use ecs_events_cli::tables::create_state_tables;
use lambda_runtime::{Context, LambdaEvent};
use proptest::prelude::*;
use serde_json::{Value, json};
use state_tracker::StateTracker;
use support::{Scenario, covering_retention, dynamodb, scenarios, unique};

/// An empty in-memory service store.
fn memory_services() -> Arc<dyn ecs_events::service::ServiceStore> {
    Arc::new(ecs_events::service::InMemoryServiceStore::new())
}

/// A DynamoDB store over fresh tables on the moto server.
async fn moto_store() -> DynamoDbStateStore {
    let client = dynamodb();
    let (tasks, instances) = (unique("tasks"), unique("instances"));
    create_state_tables(&client, &tasks, &instances).await.expect("tables created");
    DynamoDbStateStore::new(client, tasks, instances)
}

fn task_record(key: &str, version: u64, status: &str, event_id: &str) -> StateRecord {
    StateRecord {
        kind: ResourceKind::Task,
        key: key.into(),
        version,
        cluster_arn: "arn:aws:ecs:us-east-1:111122223333:cluster/prod".into(),
        status: status.into(),
        event_id: event_id.into(),
        event_time: Timestamp::parse("2024-05-02T10:00:00Z").expect("timestamp"),
        source: Source::Event,
        missing_since: None,
        api_facts: None,
        expires_at: (status == "STOPPED").then_some(1_715_000_000),
        facts: TaskFacts {
            group: Some("service:web".into()),
            started_at: Some("2024-05-02T09:00:00.000Z".into()),
            stopped_at: (status == "STOPPED").then(|| "2024-05-02T10:00:00.000Z".into()),
            stop_code: (status == "STOPPED").then(|| "EssentialContainerExited".into()),
            failed_containers: (status == "STOPPED").then(|| "app:137 log-router:143".into()),
            deployment_id: Some("ecs-svc/1234567890123456789".into()),
            outcome: (status == "STOPPED").then(|| "oom".into()),
            stop_cause: (status == "STOPPED").then(|| "exit 137 OutOfMemoryError".into()),
        },
        // Numbers and nesting DynamoDB's number and map types could not hold, kept exactly.
        detail: Detail::from_value(
            &json!({"taskArn": key, "version": version, "lastStatus": status,
                        "status": "reserved word", "nested": {"list": [1, "two", null, 2.5, 0.0]},
                        "huge": 1.5e300, "tiny": 1e-200}),
        ),
    }
}

/// The contract every `StateStore` keeps.
async fn store_contract(store: &dyn StateStore) {
    let arn = "arn:aws:ecs:us-east-1:111122223333:task/prod/contract";
    // GIVEN no record WHEN a version arrives THEN it is written and reads back whole.
    let first = task_record(arn, 3, "RUNNING", "e-3");
    assert_eq!(
        store.put_if_newer(first.clone(), Create::Allowed).await.expect("put"),
        PutResult::Written
    );
    assert_eq!(store.get(ResourceKind::Task, arn).await.expect("get"), Some(first.clone()));

    // GIVEN version 3 stored WHEN 3 arrives again (another event id) THEN duplicate, unchanged.
    let again = task_record(arn, 3, "RUNNING", "e-3-copy");
    let result = store.put_if_newer(again, Create::Allowed).await.expect("put");
    assert_eq!(result, PutResult::Kept { stored_version: 3 });
    assert_eq!(result.outcome(3), Outcome::Duplicate);
    assert_eq!(store.get(ResourceKind::Task, arn).await.expect("get"), Some(first.clone()));

    // WHEN an older version arrives THEN stale, unchanged.
    let older = task_record(arn, 2, "PENDING", "e-2");
    assert_eq!(
        store.put_if_newer(older, Create::Allowed).await.expect("put").outcome(2),
        Outcome::Stale
    );
    assert_eq!(store.get(ResourceKind::Task, arn).await.expect("get"), Some(first));

    // WHEN a newer version arrives THEN it replaces the stored one.
    let newer = task_record(arn, 5, "STOPPED", "e-5");
    assert_eq!(
        store.put_if_newer(newer.clone(), Create::Allowed).await.expect("put"),
        PutResult::Written
    );
    assert_eq!(store.get(ResourceKind::Task, arn).await.expect("get"), Some(newer.clone()));

    // GIVEN the same ARN text as a container instance THEN it is a separate record.
    let mut instance = task_record(arn, 1, "ACTIVE", "e-ci");
    instance.kind = ResourceKind::ContainerInstance;
    instance.expires_at = None;
    assert_eq!(
        store.put_if_newer(instance.clone(), Create::Allowed).await.expect("put"),
        PutResult::Written
    );
    assert_eq!(store.get(ResourceKind::Task, arn).await.expect("get"), Some(newer.clone()));
    assert_eq!(store.get(ResourceKind::ContainerInstance, arn).await.expect("get"), Some(instance));

    // GIVEN tasks of two clusters and statuses WHEN listed by cluster and status THEN exact.
    let other =
        task_record("arn:aws:ecs:us-east-1:111122223333:task/prod/another", 1, "STOPPED", "e");
    let mut elsewhere =
        task_record("arn:aws:ecs:us-east-1:111122223333:task/dev/x", 1, "STOPPED", "e");
    elsewhere.cluster_arn = "arn:aws:ecs:us-east-1:111122223333:cluster/dev".into();
    let running =
        task_record("arn:aws:ecs:us-east-1:111122223333:task/prod/run", 1, "RUNNING", "e");
    for record in [&other, &elsewhere, &running] {
        store.put_if_newer(record.clone(), Create::Allowed).await.expect("put");
    }
    let stopped = store
        .list_tasks("arn:aws:ecs:us-east-1:111122223333:cluster/prod", Some("STOPPED"))
        .await
        .expect("list");
    assert_eq!(stopped, vec![TaskSummary::of(&other), TaskSummary::of(&newer)]);
    assert_eq!(stopped[1].facts.failed_containers.as_deref(), Some("app:137 log-router:143"));
    assert_eq!(store.get(ResourceKind::Task, "arn:missing").await.expect("get"), None);
    // WHEN listed by cluster alone THEN every status, in ARN order.
    let all = store
        .list_tasks("arn:aws:ecs:us-east-1:111122223333:cluster/prod", None)
        .await
        .expect("list");
    let expected = [&other, &newer, &running].map(TaskSummary::of);
    assert_eq!(all, expected);
    // WHEN a deployment's tasks are asked for THEN every task it started (`startedBy`), from
    // the deployment index: how far each got and why it stopped.
    let mut of_deployment: Vec<TaskSummary> = [&other, &elsewhere, &newer, &running]
        .map(TaskSummary::of_deployment)
        .into_iter()
        .collect();
    of_deployment.sort_by(|a, b| a.task_arn.cmp(&b.task_arn));
    let listed = store.deployment_tasks("ecs-svc/1234567890123456789").await.expect("query");
    assert_eq!(listed, of_deployment);
    assert_eq!(listed[1].facts.stop_cause.as_deref(), Some("exit 137 OutOfMemoryError"));
    assert!(store.deployment_tasks("ecs-svc/0").await.expect("query").is_empty());
    // The clusters of the stored tasks (container instances do not count).
    assert_eq!(
        store.cluster_arns().await.expect("clusters"),
        ["dev", "prod"].map(|name| format!("arn:aws:ecs:us-east-1:111122223333:cluster/{name}"))
    );

    // GIVEN an old event (older than the retention) THEN it updates a record that exists and
    // never creates one: a record that expired by TTL is not brought back.
    let gone = "arn:aws:ecs:us-east-1:111122223333:task/prod/expired";
    let late = task_record(gone, 4, "RUNNING", "e-late");
    assert_eq!(
        store.put_if_newer(late, Create::OnlyUpdate).await.expect("put"),
        PutResult::NotCreated
    );
    assert_eq!(store.get(ResourceKind::Task, gone).await.expect("get"), None);
    let newest = task_record(arn, 6, "STOPPED", "e-6");
    assert_eq!(
        store.put_if_newer(newest.clone(), Create::OnlyUpdate).await.expect("put"),
        PutResult::Written
    );
    let older = task_record(arn, 4, "RUNNING", "e-4");
    assert_eq!(
        store.put_if_newer(older, Create::OnlyUpdate).await.expect("put"),
        PutResult::Kept { stored_version: 6 }
    );
    assert_eq!(store.get(ResourceKind::Task, arn).await.expect("get"), Some(newest));

    // GIVEN a running task WHEN the reconciler marks it missing at its version THEN the mark
    // and its expiry are stored and listed; a second mark, or one at another version, does
    // nothing.
    let task = &running.key;
    let (since, expires) = (1_730_000_000, 1_730_604_800);
    assert!(!store.mark_missing(ResourceKind::Task, task, 2, since, expires).await.expect("mark"));
    assert!(store.mark_missing(ResourceKind::Task, task, 1, since, expires).await.expect("mark"));
    assert!(!store.mark_missing(ResourceKind::Task, task, 1, since + 60, 0).await.expect("mark"));
    let marked = store.get(ResourceKind::Task, task).await.expect("get").expect("kept");
    assert_eq!((marked.missing_since, marked.expires_at), (Some(since), Some(expires)));
    assert_eq!(marked.detail, running.detail, "marking changes nothing else");
    let listed = store.list_tasks(&running.cluster_arn, Some("RUNNING")).await.expect("list");
    assert_eq!(listed[0].missing_since, Some(since));
    // WHEN ECS lists it again at the same version THEN the mark and the expiry go.
    assert!(!store.clear_missing(ResourceKind::Task, task, 2).await.expect("clear"));
    assert!(store.clear_missing(ResourceKind::Task, task, 1).await.expect("clear"));
    assert!(!store.clear_missing(ResourceKind::Task, task, 1).await.expect("clear"));
    assert_eq!(store.get(ResourceKind::Task, task).await.expect("get"), Some(running.clone()));
    // WHEN a newer version is written over a mark THEN the new record has none.
    store.mark_missing(ResourceKind::Task, task, 1, since, expires).await.expect("mark");
    let mut reconciled = task_record(task, 2, "RUNNING", "reconcile:2024-11-01T00:00:00Z");
    reconciled.source = Source::Reconcile;
    assert_eq!(
        store.put_if_newer(reconciled.clone(), Create::Allowed).await.expect("put"),
        PutResult::Written
    );
    assert_eq!(store.get(ResourceKind::Task, task).await.expect("get"), Some(reconciled));
    // A record nobody stored is never marked (nor created).
    let nobody = "arn:aws:ecs:us-east-1:111122223333:task/prod/nobody";
    assert!(
        !store.mark_missing(ResourceKind::Task, nobody, 1, since, expires).await.expect("mark")
    );
    assert_eq!(store.get(ResourceKind::Task, nobody).await.expect("get"), None);

    // What the reconciler compares: stored versions by key (only those stored), read without
    // their details, with when their event happened.
    let keys = [task.clone(), arn.to_owned(), nobody.to_owned()];
    let versions = store.stored_versions(ResourceKind::Task, &keys).await.expect("versions");
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert_eq!(versions[task], StoredVersion::of(&reconciled_again(task)));
    assert_eq!(versions[arn].written_at, Some(1_714_644_000));
    // Many keys: more than one batch read.
    let many: Vec<String> = (0..250).map(|i| format!("{arn}-{i}")).chain([task.clone()]).collect();
    assert_eq!(store.stored_versions(ResourceKind::Task, &many).await.expect("versions").len(), 1);
    // A cluster's unfinished records: not STOPPED tasks (of any other status), not INACTIVE
    // container instances.
    let pending =
        task_record("arn:aws:ecs:us-east-1:111122223333:task/prod/pending", 1, "PENDING", "e");
    let stopping =
        task_record("arn:aws:ecs:us-east-1:111122223333:task/prod/stopping", 3, "STOPPING", "e");
    for record in [&pending, &stopping] {
        store.put_if_newer(record.clone(), Create::Allowed).await.expect("put");
    }
    let prod = "arn:aws:ecs:us-east-1:111122223333:cluster/prod";
    let unfinished = store.unfinished(ResourceKind::Task, prod).await.expect("unfinished");
    let keys: Vec<(&str, u64, &str)> =
        unfinished.iter().map(|s| (s.key.as_str(), s.version, s.status.as_str())).collect();
    assert_eq!(
        keys,
        [
            (pending.key.as_str(), 1, "PENDING"),
            (task.as_str(), 2, "RUNNING"),
            (stopping.key.as_str(), 3, "STOPPING")
        ]
    );
    let mut inactive = task_record(
        "arn:aws:ecs:us-east-1:111122223333:container-instance/prod/gone",
        9,
        "INACTIVE",
        "e",
    );
    inactive.kind = ResourceKind::ContainerInstance;
    store.put_if_newer(inactive, Create::Allowed).await.expect("put");
    let instances =
        store.unfinished(ResourceKind::ContainerInstance, prod).await.expect("unfinished");
    assert_eq!(instances.iter().map(|s| s.key.as_str()).collect::<Vec<_>>(), [arn]);
    // The reconciler's API facts: written over the same version only when they differ.
    let mut enriched = reconciled_again(task);
    enriched.api_facts = Some("0badf00d".into());
    assert!(store.put_api_facts(enriched.clone()).await.expect("put"));
    assert!(!store.put_api_facts(enriched.clone()).await.expect("put"), "the same facts");
    let mut other_version = enriched.clone();
    other_version.version = 7;
    other_version.api_facts = Some("feedface".into());
    assert!(!store.put_api_facts(other_version).await.expect("put"), "another version");
    assert_eq!(store.get(ResourceKind::Task, task).await.expect("get"), Some(enriched.clone()));
    assert_eq!(
        store.stored_versions(ResourceKind::Task, std::slice::from_ref(task)).await.expect("v")
            [task]
            .api_facts
            .as_deref(),
        Some("0badf00d")
    );
}

/// The task record the reconciler wrote at version 2 in the contract.
fn reconciled_again(task: &str) -> StateRecord {
    let mut reconciled = task_record(task, 2, "RUNNING", "reconcile:2024-11-01T00:00:00Z");
    reconciled.source = Source::Reconcile;
    reconciled
}

#[tokio::test]
async fn given_the_in_memory_store_then_it_keeps_the_store_contract() {
    store_contract(&InMemoryStateStore::new()).await;
}

#[tokio::test]
async fn given_dynamodb_on_moto_then_it_keeps_the_store_contract() {
    store_contract(&moto_store().await).await;
}

fn invoke(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

/// Replays events through the Lambda handler, counting outcomes like `_expected.json` does.
async fn replay(tracker: &StateTracker, events: &[Value]) -> BTreeMap<&'static str, u64> {
    let mut stats = BTreeMap::new();
    for event in events {
        let response = tracker.handle(invoke(event.clone())).await.expect("handled");
        let name = match response["outcome"].as_str() {
            Some("Stored") => "stored",
            Some("Duplicate") => "duplicates",
            Some("Stale") => "stale",
            Some("Ignored") => "ignored",
            other => panic!("unexpected outcome {other:?}"),
        };
        *stats.entry(name).or_default() += 1;
    }
    stats
}

/// Asserts the store holds exactly the expected final versions and statuses.
async fn assert_final_state(store: &dyn StateStore, scenario: &str, expected: &Value) {
    for (list, kind, status_field) in [
        ("tasks", ResourceKind::Task, "lastStatus"),
        ("containerInstances", ResourceKind::ContainerInstance, "status"),
    ] {
        for want in expected[list].as_array().expect("expected list") {
            let key = want[kind.key_attribute()].as_str().expect("key");
            let record = store
                .get(kind, key)
                .await
                .expect("get")
                .unwrap_or_else(|| panic!("{scenario}: {key} not stored"));
            assert_eq!(Some(record.version), want["version"].as_u64(), "{scenario}: {key} version");
            assert_eq!(record.status, want[status_field], "{scenario}: {key} status");
            assert_eq!(
                record.detail.to_value()[status_field],
                want[status_field],
                "{scenario}: {key} detail"
            );
        }
    }
}

async fn replay_scenario(
    store: Arc<dyn StateStore>,
    services: Arc<dyn ecs_events::service::ServiceStore>,
    scenario: &Scenario,
) {
    let tracker = StateTracker::new(store.clone(), services, covering_retention());
    let stats = replay(&tracker, &scenario.events).await;
    for name in ["stored", "duplicates", "stale", "ignored"] {
        assert_eq!(
            stats.get(name).copied().unwrap_or_default(),
            scenario.expected["stats"][name].as_u64().expect("expected count"),
            "{}: {name}",
            scenario.name
        );
    }
    assert_final_state(store.as_ref(), &scenario.name, &scenario.expected).await;
}

#[tokio::test]
async fn given_each_scenario_in_delivery_order_against_moto_then_final_state_and_counts_match() {
    let all = scenarios();
    assert!(all.len() >= 5, "found {} scenarios", all.len());
    for scenario in &all {
        let services = Arc::new(support::moto_services().await);
        replay_scenario(Arc::new(moto_store().await), services, scenario).await;
    }
}

#[tokio::test]
async fn given_each_scenario_in_delivery_order_in_memory_then_final_state_and_counts_match() {
    for scenario in &scenarios() {
        replay_scenario(Arc::new(InMemoryStateStore::new()), memory_services(), scenario).await;
    }
}

/// A delivery order: a permutation of the scenario's events with random extra copies.
fn delivery_order(count: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0..count, 0..count).prop_flat_map(move |copies| {
        let mut order: Vec<usize> = (0..count).collect();
        order.extend(copies);
        Just(order).prop_shuffle()
    })
}

fn permutation_cases<F, Fut>(store_for_case: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn StateStore>>,
{
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    for scenario in scenarios() {
        let config = ProptestConfig { cases: 100, failure_persistence: None, ..Default::default() };
        proptest!(config, |(order in delivery_order(scenario.events.len()))| {
            let events: Vec<Value> = order.iter().map(|&i| scenario.events[i].clone()).collect();
            runtime.block_on(async {
                let store = store_for_case().await;
                let tracker = StateTracker::new(store.clone(), memory_services(), covering_retention());
                replay(&tracker, &events).await;
                assert_final_state(store.as_ref(), &scenario.name, &scenario.expected).await;
            });
        });
    }
}

#[test]
fn given_random_orders_with_duplicates_in_memory_then_the_final_state_is_the_expected_one() {
    permutation_cases(|| async { Arc::new(InMemoryStateStore::new()) as Arc<dyn StateStore> });
}

#[test]
fn given_random_orders_with_duplicates_against_moto_then_the_final_state_is_the_expected_one() {
    permutation_cases(|| async { Arc::new(moto_store().await) as Arc<dyn StateStore> });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_32_concurrent_writers_of_shuffled_versions_then_the_highest_wins_and_never_regresses()
 {
    const WRITERS: usize = 32;
    const VERSIONS: u64 = 24;
    let store = Arc::new(moto_store().await);
    let arn = "arn:aws:ecs:us-east-1:111122223333:task/prod/concurrent";

    // A watcher reads the stored version throughout the storm: it must never go down.
    let watching = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let (store, watching) = (store.clone(), watching.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while watching.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(record) = store.get(ResourceKind::Task, arn).await.expect("get") {
                    seen.push(record.version);
                }
            }
            seen
        })
    };

    let writers = (0..WRITERS).map(|writer| {
        let store = store.clone();
        tokio::spawn(async move {
            // Each writer delivers every version once, in its own shuffled order.
            let mut versions: Vec<u64> = (1..=VERSIONS).collect();
            let mut seed = writer as u64 * 2_654_435_761 + 1;
            for i in (1..versions.len()).rev() {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                versions.swap(i, (seed >> 33) as usize % (i + 1));
            }
            let mut written = Vec::new();
            for version in versions {
                let record = task_record(arn, version, "RUNNING", &format!("w{writer}-v{version}"));
                if store.put_if_newer(record, Create::Allowed).await.expect("put")
                    == PutResult::Written
                {
                    written.push(version);
                }
            }
            written
        })
    });
    let mut written_per_version: BTreeMap<u64, usize> = BTreeMap::new();
    for writer in futures::future::join_all(writers).await {
        let written = writer.expect("writer finished");
        // One writer's successful writes go strictly up: it never replaced a newer version.
        assert!(written.windows(2).all(|pair| pair[0] < pair[1]), "writer wrote {written:?}");
        for version in written {
            *written_per_version.entry(version).or_default() += 1;
        }
    }
    watching.store(false, std::sync::atomic::Ordering::Relaxed);
    let seen = watcher.await.expect("watcher finished");

    let stored = store.get(ResourceKind::Task, arn).await.expect("get").expect("stored");
    assert_eq!(stored.version, VERSIONS, "the highest version is stored");
    assert!(written_per_version.values().all(|&count| count == 1), "{written_per_version:?}");
    assert!(seen.windows(2).all(|pair| pair[0] <= pair[1]), "stored version went back: {seen:?}");
}

#[tokio::test]
async fn given_an_sqs_batch_with_bad_and_failing_records_then_exactly_those_are_reported() {
    let client = dynamodb();
    let tasks = unique("batch-tasks");
    create_state_tables(&client, &tasks, &unique("unused")).await.expect("tables");
    // The container instance table does not exist: its writes fail on the server.
    let store = DynamoDbStateStore::new(client, tasks, unique("missing-instances"));
    let tracker = StateTracker::new(Arc::new(store), memory_services(), covering_retention());

    let samples = support::events_dir().join("samples");
    let task = support::read_json(&samples.join("task-oom-killed.json")).to_string();
    let instance =
        support::read_json(&samples.join("container-instance-draining.json")).to_string();
    let mut not_ecs: Value = serde_json::from_str(&task).expect("json");
    not_ecs["source"] = json!("aws.ec2");
    let batch = json!({"Records": [
        support::sqs_record("m-1-task", &task),
        support::sqs_record("m-2-broken", "{\"version\": \"0\", "),
        support::sqs_record("m-3-not-ecs", &not_ecs.to_string()),
        support::sqs_record("m-4-instance-table-missing", &instance),
        support::sqs_record("m-5-task-duplicate", &task),
    ]});

    let response = tracker.handle(invoke(batch)).await.expect("batch handled");
    let failed: Vec<&str> = response["batchItemFailures"]
        .as_array()
        .expect("batchItemFailures")
        .iter()
        .map(|failure| failure["itemIdentifier"].as_str().expect("id"))
        .collect();
    assert_eq!(failed, ["m-2-broken", "m-3-not-ecs", "m-4-instance-table-missing"]);
}

#[tokio::test]
async fn given_a_direct_invocation_with_a_non_ecs_event_then_it_fails_non_retryable_and_writes_nothing()
 {
    let store = Arc::new(InMemoryStateStore::new());
    let tracker = StateTracker::new(store.clone(), memory_services(), covering_retention());
    let mut event = support::read_json(&support::events_dir().join("samples/task-oom-killed.json"));
    event["source"] = json!("custom.app");
    let error = tracker.handle(invoke(event.clone())).await.expect_err("rejected");
    assert!(!error.is_retryable());
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "NonRetryable.InvalidEvent");
    assert!(diagnostic.error_message.contains("\"custom.app\""), "{}", diagnostic.error_message);
    let arn = event["detail"]["taskArn"].as_str().expect("arn");
    assert_eq!(store.get(ResourceKind::Task, arn).await.expect("get"), None);
}

#[tokio::test]
async fn given_a_stopped_task_event_then_the_dynamodb_item_has_a_ttl_and_the_gsi_lists_it() {
    let store = moto_store().await;
    let raw = support::read_json(&support::events_dir().join("samples/task-oom-killed.json"));
    let received = ReceivedEvent::new(raw).expect("valid");
    let task = received.event.task().expect("task").clone();
    let now = received.event.time.instant();
    let services = ecs_events::service::InMemoryServiceStore::new();
    let outcome = ecs_events::tracker::track(
        Stores { state: &store, services: &services },
        received,
        Retention { stopped_task: Duration::days(3), ..Retention::default() },
        now,
    )
    .await
    .expect("tracked");
    assert_eq!(outcome, Outcome::Stored);
    let listed = store.list_tasks(&task.cluster_arn, Some("STOPPED")).await.expect("query GSI");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].facts.failed_containers.as_deref(), Some("resizer:137"));
    let record = store.get(ResourceKind::Task, &task.task_arn).await.expect("get").expect("stored");
    let stopped_at = task.stopped_at.as_ref().expect("stoppedAt").instant().timestamp();
    assert_eq!(record.expires_at, Some(stopped_at + 3 * 86_400));
    assert_eq!(record.detail.to_value(), serde_json::to_value(&task).expect("json"));
}

/// GIVEN a stopped task whose record expired (TTL deleted it) WHEN a late or redriven copy of
/// one of its older events arrives, through the function as in production THEN nothing is
/// written: the task does not come back as a ghost. A recent event of a new task is stored.
#[tokio::test]
async fn given_an_expired_task_when_a_late_event_arrives_then_no_ghost_is_written() {
    let (tasks, instances) = (unique("tasks"), unique("instances"));
    create_state_tables(&dynamodb(), &tasks, &instances).await.expect("tables created");
    let store = Arc::new(DynamoDbStateStore::new(dynamodb(), tasks.clone(), instances));
    let samples = support::events_dir().join("samples");
    let stopped = support::read_json(&samples.join("task-oom-killed.json"));
    let received = ReceivedEvent::new(stopped.clone()).expect("valid");
    let arn = received.event.task().expect("task").task_arn.clone();
    let stopped_at = received.event.time.instant();
    let services = ecs_events::service::InMemoryServiceStore::new();
    let stores = Stores { state: store.as_ref(), services: &services };
    let outcome = ecs_events::tracker::track(stores, received, Retention::default(), stopped_at)
        .await
        .expect("tracked");
    assert_eq!(outcome, Outcome::Stored);
    // As DynamoDB's TTL does, once the retention has passed.
    dynamodb()
        .delete_item()
        .table_name(&tasks)
        .key("taskArn", aws_sdk_dynamodb::types::AttributeValue::S(arn.clone()))
        .send()
        .await
        .expect("deleted");

    // The same task while it was running (an older version), delivered late.
    let mut late = stopped.clone();
    late["id"] = json!("6d65956a-0000-4000-8000-00000000late");
    late["detail"]["version"] = json!(2);
    late["detail"]["lastStatus"] = json!("RUNNING");
    let tracker = StateTracker::new(store.clone(), memory_services(), Retention::default());
    let response = tracker.handle(invoke(late.clone())).await.expect("handled");
    assert_eq!(response, json!({"outcome": "Stale"}));
    assert_eq!(store.get(ResourceKind::Task, &arn).await.expect("get"), None);
    // And through a replay whose clock has moved past the retention.
    let later = stopped_at + Duration::days(8);
    let received = ReceivedEvent::new(late).expect("valid");
    let outcome = ecs_events::tracker::track(stores, received, Retention::default(), later)
        .await
        .expect("tracked");
    assert_eq!(outcome, Outcome::Stale);
    assert_eq!(store.get(ResourceKind::Task, &arn).await.expect("get"), None);

    // A recent event is stored as usual.
    let mut fresh = stopped;
    fresh["time"] = json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    fresh["detail"]["taskArn"] = json!("arn:aws:ecs:us-east-1:111122223333:task/prod-ec2/fresh");
    let response = tracker.handle(invoke(fresh)).await.expect("handled");
    assert_eq!(response, json!({"outcome": "Stored"}));
}

/// GIVEN a buffered batch with records that can never be tracked WHEN the dead-letter queue
/// is configured THEN they go there at once, with their error, and are not redelivered; when
/// the dead-letter queue cannot take them, they are redelivered as before.
#[tokio::test]
async fn given_poison_records_in_a_batch_then_they_reach_the_dead_letter_queue_at_once() {
    use state_tracker::SqsDeadLetters;
    let dead_letters = support::new_queue("buffer-dlq").await;
    let store = Arc::new(InMemoryStateStore::new());
    let tracker = StateTracker::new(store.clone(), memory_services(), covering_retention())
        .with_dead_letters(Arc::new(SqsDeadLetters::new(support::sqs(), dead_letters.clone())));
    let samples = support::events_dir().join("samples");
    let task = support::read_json(&samples.join("task-oom-killed.json")).to_string();
    let batch = json!({"Records": [
        support::sqs_record("m-1-task", &task),
        support::sqs_record("m-2-broken", "{\"version\": \"0\", "),
    ]});
    let response = tracker.handle(invoke(batch.clone())).await.expect("batch handled");
    assert_eq!(response["batchItemFailures"], json!([]), "nothing to redeliver");
    let letters = support::drain(&dead_letters).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].body(), Some("{\"version\": \"0\", "));
    let attributes = letters[0].message_attributes().expect("attributes");
    let attribute = |name: &str| attributes[name].string_value().unwrap_or_default().to_owned();
    assert_eq!(attribute("errorType"), "NonRetryable.InvalidEvent");
    assert!(
        attribute("errorMessage").starts_with("invalid event: invalid JSON"),
        "{}",
        attribute("errorMessage")
    );
    assert_eq!(attribute("sourceMessageId"), "m-2-broken");

    // A dead-letter queue that does not exist: the poison record is redelivered instead.
    let missing = format!("{}/111122223333/{}", support::moto().endpoint, unique("missing"));
    let tracker = StateTracker::new(store, memory_services(), covering_retention())
        .with_dead_letters(Arc::new(SqsDeadLetters::new(support::sqs(), missing)));
    let response = tracker.handle(invoke(batch)).await.expect("batch handled");
    assert_eq!(response["batchItemFailures"], json!([{"itemIdentifier": "m-2-broken"}]));
}
