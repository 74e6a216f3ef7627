//! The hot paths of every event, one benchmark each: envelope + detail parse, the state
//! decision (record + in-memory conditional write), pattern match, alert rendering, and the
//! DynamoDB item conversion; then each function's own CPU work per event, end to end (the
//! state tracker: bytes → record → DynamoDB item; the alerter: bytes → rules matched → alert
//! rendered). Inputs are the captured 2.5 KB OOM-killed task event and, for the alerter's
//! usual case (no rule matches), a running task's event.

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use ecs_events::alert::{RuleSet, render};
use ecs_events::event::{EcsEvent, Payload, ReceivedEvent};
use ecs_events::state::{
    Create, InMemoryStateStore, Retention, StateRecord, StateStore, record_to_item,
};
use serde_json::Value;

const EVENT: &str = include_str!("../../events/samples/task-oom-killed.json");
const RUNNING: &str = include_str!("../../events/samples/task-ec2-running.json");

fn hot_paths(c: &mut Criterion) {
    let raw: Value = serde_json::from_str(EVENT).expect("sample is JSON");
    let compact = raw.to_string();
    let received = ReceivedEvent::from_slice(compact.as_bytes()).expect("valid event");
    let event = &received.event;
    let rules = RuleSet::default_rules();
    let rule = rules.matching(&raw).next().expect("the guide's rule matches");
    let running = serde_json::from_str::<Value>(RUNNING).expect("sample is JSON").to_string();
    let record = StateRecord::from_event(received.clone(), Retention::default())
        .expect("fits")
        .expect("task");
    let store = InMemoryStateStore::new();
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");

    let mut group = c.benchmark_group("event");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse_envelope_and_detail", |b| {
        b.iter(|| ReceivedEvent::from_slice(black_box(compact.as_bytes())));
    });
    // The same bytes through the payload splitter the functions and the replay use: a plain
    // single event must cost what parse_envelope_and_detail does.
    group.bench_function("parse_as_delivered_payload", |b| {
        b.iter(|| Payload::from_slice(black_box(compact.as_bytes())));
    });
    group.bench_function("typed_view_of_parsed_event", |b| {
        b.iter(|| EcsEvent::from_raw(black_box(&raw)));
    });
    group.bench_function("state_record_and_conditional_write", |b| {
        b.iter_batched(
            || received.clone(),
            |received| {
                let record = StateRecord::from_event(received, Retention::default());
                let record = record.expect("fits").expect("task");
                runtime.block_on(store.put_if_newer(record, Create::Allowed)).expect("in memory")
            },
            criterion::BatchSize::SmallInput,
        );
    });
    group.bench_function("pattern_match", |b| {
        b.iter(|| rules.matching(black_box(&raw)).count());
    });
    group.bench_function("pattern_match_received_event", |b| {
        b.iter(|| rules.matching_event(black_box(&received)).len());
    });
    group.bench_function("alert_render", |b| {
        b.iter(|| render(black_box(rule), black_box(event)));
    });
    group.bench_function("dynamodb_item_conversion", |b| {
        b.iter(|| record_to_item(black_box(&record)).expect("converts"));
    });
    group.finish();

    let mut group = c.benchmark_group("function");
    group.throughput(Throughput::Elements(1));
    let payload_events = |bytes: &[u8]| {
        Payload::from_slice(bytes).items.into_iter().filter_map(|item| item.event.ok())
    };
    group.bench_function("state_tracker_event_to_item", |b| {
        b.iter(|| {
            payload_events(black_box(compact.as_bytes()))
                .filter_map(|received| {
                    StateRecord::from_event(received, Retention::default()).expect("fits")
                })
                .map(|record| record_to_item(&record).expect("converts").len())
                .sum::<usize>()
        });
    });
    group.bench_function("alerter_event_no_rule_matches", |b| {
        b.iter(|| {
            payload_events(black_box(running.as_bytes()))
                .map(|received| rules.matching_event(&received).len())
                .sum::<usize>()
        });
    });
    group.bench_function("alerter_event_matched_and_rendered", |b| {
        b.iter(|| {
            payload_events(black_box(compact.as_bytes()))
                .map(|received| {
                    let rules = rules.matching_event(&received);
                    rules
                        .iter()
                        .map(|rule| render(rule, &received.event).subject.len())
                        .sum::<usize>()
                })
                .sum::<usize>()
        });
    });
    group.finish();
}

// What `criterion_group!`/`criterion_main!` expand to, written out so every item has docs.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    hot_paths(&mut criterion);
    criterion.final_summary();
}
