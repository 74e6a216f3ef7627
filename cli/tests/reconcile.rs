//! `ecs-events reconcile` against moto: a cluster with one container instance in moto's ECS,
//! and a state table that holds a running task of it that ECS does not list. moto's ECS keeps
//! no versions, so what it describes is reported, never written, and it cannot describe a task
//! the Rust SDK parses (`tests/moto/ecs_cluster.py` says why): the aws-smithy-mocks tests in
//! `tests/tests/reconcile.rs` cover versioned writes and listed tasks. The mark of the unlisted
//! task, dry runs, exit codes and messages are what this shows end to end.

#[path = "../../tests/tests/support/mod.rs"]
mod support;

use std::process::Output;

use assert_cmd::Command;
use ecs_events::event::ReceivedEvent;
use ecs_events::state::{Create, DynamoDbStateStore, Retention, StateRecord, StateStore};
use ecs_events_cli::tables::{create_service_tables, create_state_tables};
use serde_json::{Value, json};
use support::unique;

const SAMPLE: &str = include_str!("../../events/samples/task-ec2-running.json");
const SAMPLE_TASK: &str =
    "arn:aws:ecs:us-east-1:111122223333:task/prod-ec2/95b918ce77c865209529878959a99780";
const SAMPLE_CLUSTER: &str = "arn:aws:ecs:us-east-1:111122223333:cluster/prod-ec2";

/// A cluster in moto, and state tables holding a running task of it that ECS does not list.
struct Fixture {
    cluster: String,
    cluster_arn: String,
    instance_arn: String,
    lost_task: String,
    task_table: String,
    instance_table: String,
    service_table: String,
}

fn fixture() -> Fixture {
    let endpoint = &support::moto().endpoint;
    let cluster = unique("recon");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/moto/ecs_cluster.py");
    let output = std::process::Command::new("python3")
        .args([script, endpoint, &cluster])
        .output()
        .expect("python3 runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let created: Value = serde_json::from_slice(&output.stdout).expect("fixture JSON");
    let cluster_arn = created["clusterArn"].as_str().expect("cluster").to_owned();
    let instance_arn = created["containerInstanceArn"].as_str().expect("instance").to_owned();
    let lost_task = format!("{}/0123456789abcdef", cluster_arn.replace(":cluster/", ":task/"));
    // The sample's RUNNING task event, moved to the lost task in moto's cluster.
    let event = SAMPLE.replace(SAMPLE_TASK, &lost_task).replace(SAMPLE_CLUSTER, &cluster_arn);
    let event = ReceivedEvent::from_slice(event.as_bytes()).expect("event");
    let record = StateRecord::from_event(event, Retention::default()).expect("fits").expect("task");
    let (task_table, instance_table) = (unique("recon-tasks"), unique("recon-instances"));
    let service_table = unique("recon-services");
    tokio::runtime::Runtime::new().expect("runtime").block_on(async {
        let dynamodb = support::dynamodb();
        create_state_tables(&dynamodb, &task_table, &instance_table).await.expect("tables");
        create_service_tables(&dynamodb, &service_table, &unique("recon-deployments"))
            .await
            .expect("service tables");
        let store = DynamoDbStateStore::new(dynamodb, task_table.clone(), instance_table.clone());
        store.put_if_newer(record, Create::Allowed).await.expect("put");
    });
    Fixture {
        cluster,
        cluster_arn,
        instance_arn,
        lost_task,
        task_table,
        instance_table,
        service_table,
    }
}

impl Fixture {
    /// `ecs-events <args>` against moto and the fixture's tables.
    fn run(&self, args: &[&str]) -> Output {
        Command::cargo_bin("ecs-events")
            .expect("binary")
            .args(args)
            .args(["--endpoint-url", &support::moto().endpoint])
            .args(["--task-table", &self.task_table])
            .args(["--container-instance-table", &self.instance_table])
            .args(["--service-table", &self.service_table])
            .output()
            .expect("ran")
    }

    /// The lost task's line in `ecs-events tasks`.
    fn lost_task_line(&self) -> String {
        let output = self.run(&["tasks", "--cluster", &self.cluster]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let id = self.lost_task.rsplit('/').next().expect("id");
        let text = String::from_utf8(output.stdout).expect("UTF-8");
        let line = text.lines().find(|line| line.starts_with(id));
        line.unwrap_or_else(|| panic!("{id} in {text}")).to_owned()
    }
}

#[test]
fn given_a_task_ecs_no_longer_lists_then_a_dry_run_shows_the_mark_and_a_run_makes_it() {
    let fixture = fixture();
    let dry = fixture.run(&["reconcile", "--cluster", &fixture.cluster, "--dry-run"]);
    let stdout = String::from_utf8_lossy(&dry.stdout);
    let stderr = String::from_utf8_lossy(&dry.stderr);
    // moto's container instance has no version: reported, so the exit status is 1.
    assert_eq!(dry.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(
        stderr.trim(),
        "ecs-events reconcile: 1 failure(s), listed in the report; the rest was reconciled"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let words = |line: &str| line.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(words(lines[0]), ["KIND", "RESOURCE", "STORED", "ECS", "ACTION"], "{stdout}");
    let resource = fixture.lost_task.split_once(":task/").expect("task ARN").1;
    assert_eq!(
        words(lines[1]),
        ["task", resource, "RUNNING@2", "-", "mark", "missing"],
        "the sample is version 2"
    );
    assert_eq!(lines[2], format!("1 cluster(s) reconciled: {}", fixture.cluster));
    assert_eq!(
        lines[3],
        "described 1, would write 0, would add API facts to 0, unchanged 0, would mark missing 1, \
         marks cleared 0"
    );
    assert_eq!(lines[5], "dry run: nothing was written");
    let failure = format!(
        "failed: container-instance {}: ECS gave no version, not written",
        fixture.instance_arn
    );
    assert_eq!(lines[6], failure);
    assert!(!fixture.lost_task_line().contains("missing"), "a dry run writes nothing");

    let run = fixture.run(&["reconcile", "--cluster", &fixture.cluster, "--json"]);
    assert_eq!(run.status.code(), Some(1), "{}", String::from_utf8_lossy(&run.stderr));
    let report: Value = serde_json::from_slice(&run.stdout).expect("JSON report");
    assert_eq!(report["dryRun"], false);
    assert_eq!(report["clusters"], json!([fixture.cluster_arn]));
    assert_eq!(report["described"], 1, "moto's container instance");
    assert_eq!(report["written"], 0);
    assert_eq!(report["markedMissing"], 1);
    // DescribeClusters, ListTasks RUNNING and STOPPED, ListContainerInstances,
    // DescribeContainerInstances, ListServices (none: no DescribeServices).
    assert_eq!(report["apiCalls"], 6);
    assert_eq!(report["servicesDescribed"], 0);
    assert!(fixture.lost_task_line().contains("RUNNING (missing since "));

    let again = fixture.run(&["reconcile", "--cluster", &fixture.cluster_arn, "--json"]);
    let report: Value = serde_json::from_slice(&again.stdout).expect("JSON report");
    assert_eq!(report["markedMissing"], 0, "a marked task is not marked again");
    assert_eq!(report["drift"], json!([]));
}

#[test]
fn given_a_cluster_ecs_does_not_know_then_reconcile_exits_2_naming_it() {
    let fixture = fixture();
    let output = fixture.run(&["reconcile", "--cluster", "no-such-cluster"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        "ecs-events reconcile: ECS does not know cluster(s) \
         arn:aws:ecs:us-east-1:123456789012:cluster/no-such-cluster: check --cluster and the \
         region (AWS_REGION)"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("0 cluster(s) reconciled\n"), "{stdout}");
    assert!(!fixture.lost_task_line().contains("missing"), "nothing was written");
}

#[test]
fn given_a_missing_table_or_bad_flags_then_reconcile_says_what_is_wrong() {
    let endpoint = &support::moto().endpoint;
    let reconcile = |args: &[&str]| {
        let mut command = Command::cargo_bin("ecs-events").expect("binary");
        command.arg("reconcile").args(args).output().expect("ran")
    };
    let absent = unique("absent");
    let output = reconcile(&["--endpoint-url", endpoint, "--task-table", &absent]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let expected = format!("ecs-events reconcile: cannot use table {absent}: ");
    assert!(stderr.starts_with(&expected), "{stderr}");
    assert!(output.stdout.is_empty(), "no run without its tables");

    let output = reconcile(&["--cluster", "prod"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "ecs-events reconcile: the state is in DynamoDB: give --endpoint-url URL (a local \
         endpoint) or --aws"
    );
    let output = reconcile(&["--endpoint-url", endpoint, "--max-api-calls", "0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--max-api-calls"));
}
