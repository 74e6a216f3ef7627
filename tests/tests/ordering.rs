//! Property: against a real DynamoDB API (moto), concurrent writers delivering random
//! permutations of a task's versions, with random duplicates, always leave the maximum version
//! stored, and the stored version never moves backwards while they write.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use ecs_events::event::Timestamp;
use ecs_events::state::{
    Create, Detail, DynamoDbStateStore, PutResult, ResourceKind, Source, StateRecord, StateStore,
    TaskFacts,
};
use ecs_events_cli::tables::create_state_tables;
use proptest::prelude::*;
use serde_json::json;
use support::{dynamodb, unique};

fn record(arn: &str, version: u64) -> StateRecord {
    StateRecord {
        kind: ResourceKind::Task,
        key: arn.to_owned(),
        version,
        cluster_arn: "arn:aws:ecs:us-east-1:111122223333:cluster/prod".into(),
        status: "RUNNING".into(),
        event_id: format!("e-{version}"),
        event_time: Timestamp::parse("2024-05-02T10:00:00Z").expect("timestamp"),
        source: Source::Event,
        missing_since: None,
        api_facts: None,
        expires_at: None,
        facts: TaskFacts::default(),
        detail: Detail::from_value(&json!({"taskArn": arn, "version": version})),
    }
}

/// Deliveries of versions 1..=n (each at least once, some twice), shuffled, dealt to writers.
fn storm() -> impl Strategy<Value = (u64, Vec<Vec<u64>>)> {
    (4_u64..24, 2_usize..6).prop_flat_map(|(versions, writers)| {
        let deliveries = proptest::collection::vec(1..=versions, 0..versions as usize)
            .prop_map(move |copies| (1..=versions).chain(copies).collect::<Vec<u64>>())
            .prop_shuffle();
        (Just(versions), deliveries, Just(writers)).prop_map(|(versions, deliveries, writers)| {
            let mut dealt = vec![Vec::new(); writers];
            for (index, version) in deliveries.into_iter().enumerate() {
                dealt[index % writers].push(version);
            }
            (versions, dealt)
        })
    })
}

#[test]
fn given_concurrent_writers_of_random_orders_then_the_maximum_wins_and_never_regresses() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    let store = runtime.block_on(async {
        let (tasks, instances) = (unique("ordering-tasks"), unique("ordering-instances"));
        create_state_tables(&dynamodb(), &tasks, &instances).await.expect("tables");
        Arc::new(DynamoDbStateStore::new(dynamodb(), tasks, instances))
    });
    let case = AtomicUsize::new(0);
    let config = ProptestConfig { cases: 24, failure_persistence: None, ..Default::default() };
    proptest!(config, |((versions, writers) in storm())| {
        let arn = format!("arn:aws:ecs:us-east-1:111122223333:task/prod/ordering-{}", case.fetch_add(1, Ordering::Relaxed));
        let (highest, seen) = runtime.block_on(async {
            let writing = Arc::new(AtomicBool::new(true));
            let watcher = {
                let (store, writing, arn) = (store.clone(), writing.clone(), arn.clone());
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    while writing.load(Ordering::Relaxed) {
                        if let Some(stored) = store.get(ResourceKind::Task, &arn).await.expect("get") {
                            seen.push(stored.version);
                        }
                    }
                    seen
                })
            };
            let tasks = writers.into_iter().map(|deliveries| {
                let (store, arn) = (store.clone(), arn.clone());
                tokio::spawn(async move {
                    let mut written = Vec::new();
                    for version in deliveries {
                        if store.put_if_newer(record(&arn, version), Create::Allowed).await.expect("put") == PutResult::Written {
                            written.push(version);
                        }
                    }
                    written
                })
            });
            for written in futures::future::join_all(tasks).await {
                let written = written.expect("writer");
                assert!(written.windows(2).all(|pair| pair[0] < pair[1]), "a writer replaced a newer version: {written:?}");
            }
            writing.store(false, Ordering::Relaxed);
            let seen = watcher.await.expect("watcher");
            let stored = store.get(ResourceKind::Task, &arn).await.expect("get").expect("stored");
            (stored.version, seen)
        });
        prop_assert_eq!(highest, versions);
        prop_assert!(seen.windows(2).all(|pair| pair[0] <= pair[1]), "stored version went back: {:?}", seen);
    });
}
