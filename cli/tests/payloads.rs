//! `ecs-events replay` over Custom Event Bus (eventsv2) payloads: a batch of events wrapped
//! with their metadata replays as the events it holds, and a bad event of a batch is reported
//! by file, line and index while the others are replayed.

#[path = "../../tests/tests/support/mod.rs"]
mod support;

use assert_cmd::Command;
use serde_json::{Value, json};
use support::{events_dir, read_json, unique};

/// Runs `ecs-events replay --json` over `paths`; its report, and whether it exited 0.
fn replay(paths: &[String]) -> (Value, bool) {
    let output = Command::cargo_bin("ecs-events")
        .expect("binary built")
        .args(["replay", "--json"])
        .args(paths)
        .output()
        .expect("ran");
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("JSON report: {}", String::from_utf8_lossy(&output.stderr)));
    (report, output.status.success())
}

fn sample_path(name: &str) -> String {
    events_dir().join("samples").join(name).display().to_string()
}

#[test]
fn given_the_eventsv2_batch_then_the_replay_decides_as_for_the_three_samples_it_wraps() {
    let batch = events_dir().join("_payloads/eventsv2-with-metadata-batch.json");
    let (wrapped, ok) = replay(&[batch.display().to_string()]);
    assert!(ok, "{wrapped}");
    let samples =
        ["container-instance-draining.json", "task-guide-example.json", "task-oom-killed.json"];
    let (plain, ok) = replay(&samples.map(sample_path));
    assert!(ok, "{plain}");
    for part in ["stats", "tasks", "containerInstances", "alerts"] {
        assert_eq!(wrapped[part], plain[part], "{part}");
    }
    // What the samples decide, written out: the draining instance and the OOM-killed task are
    // stored; the 2020 guide example comes long after both, too old to create a record.
    assert_eq!(wrapped["stats"]["events"], 3);
    assert_eq!(wrapped["stats"]["stored"], 2);
    assert_eq!(wrapped["stats"]["stale"], 1);
    assert_eq!(wrapped["alerts"].as_array().map(Vec::len), Some(1));
}

#[test]
fn given_a_batch_with_bad_events_then_each_is_reported_by_file_line_and_index() {
    let sample = |name: &str| read_json(&events_dir().join("samples").join(name));
    let metadata = json!({"aws:DeliveryType": "LIVE"});
    let mut no_arn = sample("task-ec2-running.json");
    no_arn["detail"].as_object_mut().expect("detail").remove("taskArn");
    let events = [
        json!({"Data": sample("task-oom-killed.json"), "SystemMetadata": metadata}),
        json!({"Data": no_arn, "SystemMetadata": metadata}),
        json!({"Data": sample("task-stopped-by-user.json"), "SystemMetadata": metadata, "Extra": 1}),
        json!([sample("task-scaled-in.json")]),
        sample("container-instance-draining.json"),
    ];
    let lines: Vec<String> = events.iter().map(Value::to_string).collect();
    let dir = std::env::temp_dir().join(unique("ecs-events-payloads"));
    std::fs::create_dir_all(&dir).expect("folder");
    let file = dir.join("batch.json");
    std::fs::write(&file, format!("[\n{}\n]\n", lines.join(",\n"))).expect("written");

    let (report, ok) = replay(&[file.display().to_string()]);
    assert!(ok, "rejected input is reported, not a failed replay: {report}");
    assert_eq!(report["stats"]["events"], 5);
    assert_eq!(report["stats"]["stored"], 2);
    assert_eq!(report["stats"]["rejected"], 3);
    let at = |line: usize| format!("{}:{line}", file.display());
    assert_eq!(
        report["rejected"],
        json!([
            {"location": at(3), "error": "event [1]: Data.detail.taskArn: missing field"},
            {"location": at(4), "error": "event [2]: wrapped event (Data, Metadata, SystemMetadata): unexpected key \"Extra\" (a wrapped event has only Data, Metadata and SystemMetadata)"},
            {"location": at(5), "error": "event [3]: found an array where an event object was expected (a batch's events cannot be arrays)"},
        ])
    );
}
