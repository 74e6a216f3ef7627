//! Outages at the size real ones have, replayed as a user would: `ecs-events replay` against
//! moto (DynamoDB and SNS, which refuses a message over 256 KB as SNS does), a rule grouping
//! into one-hour windows, 1,000 and 10,000 stopped tasks of one service in 50 minutes. Every
//! task must be told exactly once — by the alert, or counted by one digest — with nothing
//! failed, and every message must fit SNS.

#[path = "../../tests/tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::{Value, json};
use support::{documents, events_dir, read_json, topic_with_queue, unique};

/// The rule of the AWS guide, grouping its matches into one-hour windows.
const HOUR_RULES: &str = r#"[{"name": "essential-container-exited",
  "pattern": {"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"],
              "detail": {"lastStatus": ["STOPPED"], "stoppedReason": ["Essential container in task exited"]}},
  "group": {"window": "1h"}}]"#;

/// `count` stopped tasks of one service spread evenly over 50 minutes (as JSON Lines, in
/// time order), alternating three causes.
fn outage(count: usize) -> PathBuf {
    let sample = read_json(&events_dir().join("samples/task-oom-killed.json"));
    let start = chrono::DateTime::parse_from_rfc3339("2024-05-02T12:00:00Z").expect("time");
    let dir = std::env::temp_dir().join(unique("outage"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("outage-{count}.jsonl"));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("file"));
    for i in 0..count {
        let stopped = start + chrono::Duration::milliseconds((3_000_000 * i / count) as i64);
        let stamp = |at: chrono::DateTime<chrono::FixedOffset>| {
            at.to_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
        };
        let mut event = sample.clone();
        let arn = format!("arn:aws:ecs:us-east-1:111122223333:task/prod-ec2/{i:032x}");
        event["id"] = json!(format!("00000000-0000-4000-8000-{i:012x}"));
        event["time"] = json!(stamp(stopped + chrono::Duration::seconds(1)));
        event["resources"] = json!([arn]);
        let detail = &mut event["detail"];
        detail["taskArn"] = json!(arn);
        detail["stoppedAt"] = json!(stamp(stopped));
        detail["updatedAt"] = json!(stamp(stopped));
        let container = &mut detail["containers"][0];
        container["taskArn"] = json!(arn);
        match i % 3 {
            0 => {}
            1 => {
                container["exitCode"] = json!(1);
                container["reason"] = Value::Null;
            }
            _ => {
                container["exitCode"] = Value::Null;
                container["reason"] = json!(
                    "CannotPullContainerError: pull image manifest has been retried 5 time(s)"
                );
            }
        }
        writeln!(file, "{event}").expect("written");
    }
    file.flush().expect("flushed");
    let rules = dir.join("rules.json");
    std::fs::write(&rules, HOUR_RULES).expect("rules");
    path
}

/// GIVEN `count` stopped tasks of one service in 50 minutes and a rule with one-hour windows
/// WHEN they are replayed against moto's DynamoDB and SNS THEN nothing fails, and the messages
/// on the topic — each within SNS's 256 KB — tell of every task exactly once: one alert, then
/// digests whose counts add up to the rest, listing no task twice.
async fn outage_is_told_once(count: usize) {
    let corpus = outage(count);
    let rules = corpus.with_file_name("rules.json");
    let subscribed = topic_with_queue(false, None).await;
    let endpoint = support::moto().endpoint.clone();
    let output = Command::cargo_bin("ecs-events")
        .expect("binary built")
        .args(["replay", "--json", "--create-tables", "--endpoint-url", &endpoint])
        .args(["--topic-arn", &subscribed.topic_arn, "--rules"])
        .arg(&rules)
        .args(["--task-table", &unique("tasks"), "--container-instance-table", &unique("ci")])
        .args(["--ledger-table", &unique("ledger"), "--incident-table", &unique("incidents")])
        .arg(&corpus)
        .output()
        .expect("ran");
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert_eq!(report["failed"], json!([]), "nothing failed");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(report["stats"]["alertsFailed"], 0);
    assert_eq!(report["stats"]["alerts"], 1, "the first stop is alerted at once");

    std::fs::remove_dir_all(corpus.parent().expect("its folder")).expect("removed");
    let messages = documents(&subscribed.queue_url).await;
    let (alerts, digests): (Vec<&Value>, Vec<&Value>) =
        messages.iter().partition(|message| message["kind"] == "alert");
    assert_eq!(alerts.len(), 1);
    assert!(!digests.is_empty());
    assert_eq!(digests.len() as u64, report["stats"]["digests"].as_u64().expect("digests"));
    let told: u64 = digests.iter().map(|digest| digest["count"].as_u64().expect("count")).sum();
    assert_eq!(told + 1, count as u64, "the digests count every further task");
    let mut listed = BTreeSet::from([alerts[0]["taskArn"].as_str().expect("task").to_owned()]);
    for digest in &digests {
        let tasks = digest["tasks"].as_array().expect("tasks");
        let unlisted = digest["unlisted"].as_u64().expect("unlisted");
        assert_eq!(tasks.len() as u64 + unlisted, digest["count"].as_u64().expect("count"));
        let causes: u64 = digest["causes"]
            .as_array()
            .expect("causes")
            .iter()
            .map(|c| c["count"].as_u64().expect("n"))
            .sum();
        assert_eq!(causes, digest["count"].as_u64().expect("count"), "causes cover every task");
        for task in tasks {
            let id = task["id"].as_str().expect("id").to_owned();
            assert!(listed.insert(id.clone()), "{id} is told twice");
        }
    }
    // Every message fits SNS (moto would have refused it otherwise); the JSON document of a
    // digest stays well under the limit, however many tasks its window counted.
    for message in &messages {
        assert!(message.to_string().len() < 200 * 1024, "{}", message.to_string().len());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn given_1000_stopped_tasks_in_an_hour_long_window_then_each_is_told_once_against_moto() {
    outage_is_told_once(1_000).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_10000_stopped_tasks_in_an_hour_long_window_then_each_is_told_once_against_moto() {
    outage_is_told_once(10_000).await;
}
