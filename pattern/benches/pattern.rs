//! Matching throughput of the ECS guide's stopped-task rule.
//!
//! The pattern is compiled once and each event parsed once; only matching is measured (plus
//! parsing, for `matches_slice`). Throughput is one event per iteration, so criterion reports
//! matches per second.

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use eventbridge_pattern::Pattern;
use serde_json::Value;

/// The rule from the Amazon ECS guide's "Sending Amazon SNS alerts for task stopped events".
const STOPPED_TASK_RULE: &str = r#"{
  "source": ["aws.ecs"],
  "detail-type": ["ECS Task State Change"],
  "detail": {
    "lastStatus": ["STOPPED"],
    "stoppedReason": ["Essential container in task exited"]
  }
}"#;

/// A stopped task whose essential container was OOM-killed (about 2.5 KB): matches.
const STOPPED_EVENT: &str = include_str!("../../events/samples/task-oom-killed.json");
/// The guide's running Fargate task (about 2.7 KB): does not match (`lastStatus` differs).
const RUNNING_EVENT: &str = include_str!("../../events/samples/task-guide-example.json");

fn stopped_task_rule(c: &mut Criterion) {
    let pattern = Pattern::from_json(STOPPED_TASK_RULE).expect("the guide's rule compiles");
    let stopped: Value = serde_json::from_str(STOPPED_EVENT).expect("sample is JSON");
    let running: Value = serde_json::from_str(RUNNING_EVENT).expect("sample is JSON");
    assert!(pattern.matches(&stopped), "the stopped task must match");
    assert!(!pattern.matches(&running), "the running task must not match");

    let mut group = c.benchmark_group("stopped_task_rule");
    group.throughput(Throughput::Elements(1));
    group.bench_function("value_match_2.5KB", |b| {
        b.iter(|| pattern.matches(black_box(&stopped)));
    });
    group.bench_function("value_no_match_2.7KB", |b| {
        b.iter(|| pattern.matches(black_box(&running)));
    });
    group.bench_function("slice_match_2.5KB", |b| {
        b.iter(|| pattern.matches_slice(black_box(STOPPED_EVENT.as_bytes())));
    });
    group.finish();
}

// What `criterion_group!`/`criterion_main!` expand to, written out so every item has docs.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    stopped_task_rule(&mut criterion);
    criterion.final_summary();
}
