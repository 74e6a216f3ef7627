//! `ecs-events tasks` and `ecs-events task` against moto, after `ecs-events replay` stored the
//! bundled events there: what they list, and their exit codes and messages for a missing
//! table, an unknown cluster, a task that is not stored and bad flags.

#[path = "../../tests/tests/support/mod.rs"]
mod support;

use std::sync::OnceLock;

use assert_cmd::Command;
use serde_json::Value;
use support::{events_dir, topic_with_queue, unique};

/// The tables the bundled events were replayed into (once for all tests): tasks, services,
/// deployments.
struct Tables {
    tasks: String,
    services: String,
    deployments: String,
}

/// The tables the bundled events were replayed into (once for all tests), and the replay's
/// report (with the example rules).
fn replayed() -> &'static (Tables, Value) {
    static REPLAYED: OnceLock<(Tables, Value)> = OnceLock::new();
    REPLAYED.get_or_init(|| {
        let endpoint = support::moto().endpoint.clone();
        let topic = tokio::runtime::Runtime::new()
            .expect("runtime")
            .block_on(async { topic_with_queue(false, None).await.topic_arn });
        let tables = Tables {
            tasks: unique("tasks"),
            services: unique("services"),
            deployments: unique("deployments"),
        };
        let rules = events_dir().join("../rules/examples.json");
        let output = Command::cargo_bin("ecs-events")
            .expect("binary")
            .args(["replay", "--json", "--create-tables", "--endpoint-url", &endpoint])
            .args(["--topic-arn", &topic, "--task-table", &tables.tasks])
            .args(["--service-table", &tables.services, "--deployment-table", &tables.deployments])
            .args(["--container-instance-table", &unique("instances")])
            .args(["--ledger-table", &unique("ledger"), "--incident-table", &unique("incidents")])
            .arg("--rules")
            .arg(rules)
            .arg(events_dir())
            .output()
            .expect("ran");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        (tables, serde_json::from_slice(&output.stdout).expect("report"))
    })
}

/// `ecs-events <args> --endpoint-url <moto> --task-table <the replayed table>`.
fn against_moto(args: &[&str]) -> std::process::Output {
    let (tables, _) = replayed();
    Command::cargo_bin("ecs-events")
        .expect("binary")
        .args(args)
        .args(["--endpoint-url", &support::moto().endpoint, "--task-table", &tables.tasks])
        .args(["--service-table", &tables.services, "--deployment-table", &tables.deployments])
        .output()
        .expect("ran")
}

/// The report's task details of a cluster (by name) and status, in ARN order.
fn reported(cluster: &str, status: &str) -> Vec<Value> {
    let (_, report) = replayed();
    let suffix = format!(":cluster/{cluster}");
    report["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter(|task| {
            task["clusterArn"].as_str().is_some_and(|arn| arn.ends_with(&suffix))
                && task["lastStatus"] == status
        })
        .cloned()
        .collect()
}

#[test]
fn given_a_replay_against_moto_then_tasks_lists_what_it_stored_by_cluster_name_and_status() {
    let expected = reported("prod-fargate", "STOPPED");
    assert!(expected.len() >= 10, "{}", expected.len());
    let output = against_moto(&["tasks", "--cluster", "prod-fargate", "--status", "STOPPED"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("TASK ") && lines[0].contains("STOP CODE"), "{text}");
    assert_eq!(lines.len(), expected.len() + 2, "{text}");
    assert_eq!(lines.last().copied(), Some(format!("{} tasks", expected.len()).as_str()));
    for (line, task) in lines[1..].iter().zip(&expected) {
        let id = task["taskArn"].as_str().and_then(|arn| arn.rsplit('/').next()).expect("id");
        assert!(line.starts_with(id), "{line} should list {id}");
        assert!(line.contains("STOPPED"), "{line}");
        let code = task["stopCode"].as_str().unwrap_or("-");
        assert!(line.contains(code), "{line} should name {code}");
    }

    let output =
        against_moto(&["tasks", "--cluster", "prod-fargate", "--status", "STOPPED", "--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let listed: Vec<Value> = serde_json::from_slice(&output.stdout).expect("JSON array");
    assert_eq!(listed, expected, "the stored details, as the replay reported them");
}

#[test]
fn given_a_cluster_arn_and_no_status_then_every_task_of_the_cluster_is_listed() {
    let (_, report) = replayed();
    let cluster =
        reported("prod-ec2", "STOPPED")[0]["clusterArn"].as_str().expect("arn").to_owned();
    let expected = report["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter(|task| task["clusterArn"] == cluster.as_str())
        .count();
    let output = against_moto(&["tasks", "--cluster", &cluster, "--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let listed: Vec<Value> = serde_json::from_slice(&output.stdout).expect("JSON array");
    assert_eq!(listed.len(), expected);
    let statuses: std::collections::BTreeSet<&str> =
        listed.iter().filter_map(|task| task["lastStatus"].as_str()).collect();
    assert!(statuses.len() >= 2, "{statuses:?}");
}

#[test]
fn given_a_stored_task_then_task_prints_its_detail_and_an_unknown_one_is_an_error() {
    let task = &reported("prod-fargate", "STOPPED")[0];
    let arn = task["taskArn"].as_str().expect("arn");
    let output = against_moto(&["task", arn]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(&printed, task);

    let (cluster_part, _) = arn.rsplit_once('/').expect("task id");
    let missing = format!("{cluster_part}/00000000000000000000000000000000");
    let output = against_moto(&["task", &missing]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim(), format!("ecs-events task: no stored state for task {missing}"));

    let output = against_moto(&["task", "arn:aws:ecs:us-east-1:111122223333:cluster/prod"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("ecs-events task: "));
}

#[test]
fn given_an_unknown_cluster_then_tasks_exits_2_naming_it_and_the_clusters_there_are() {
    let output = against_moto(&["tasks", "--cluster", "staging"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .starts_with("ecs-events tasks: no stored task belongs to a cluster named \"staging\""),
        "{stderr}"
    );
    assert!(stderr.contains("prod-fargate") && stderr.contains("prod-ec2"), "{stderr}");
}

#[test]
fn given_a_missing_table_then_tasks_exits_1_with_one_message() {
    let output = Command::cargo_bin("ecs-events")
        .expect("binary")
        .args(["tasks", "--cluster", "prod-fargate", "--endpoint-url", &support::moto().endpoint])
        .args(["--task-table", &unique("absent")])
        .output()
        .expect("ran");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("ecs-events tasks: cannot use table absent-"), "{stderr}");
}

#[test]
fn given_bad_flags_then_tasks_exits_2_saying_what_is_wrong() {
    let run = |args: &[&str]| Command::cargo_bin("ecs-events").expect("binary").args(args).output();
    let no_cluster = run(&["tasks", "--endpoint-url", "http://127.0.0.1:1"]).expect("ran");
    assert_eq!(no_cluster.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_cluster.stderr).contains("--cluster <CLUSTER>"));
    let no_table = run(&["tasks", "--cluster", "prod"]).expect("ran");
    assert_eq!(no_table.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&no_table.stderr).trim(),
        "ecs-events tasks: the state is in DynamoDB: give --endpoint-url URL (a local endpoint) or --aws"
    );
}

/// GIVEN the bundled events replayed into moto's tables WHEN `deployments` lists a cluster's
/// (the deployment table's cluster index) and one service's (the table) THEN each deployment
/// the replay reported, with its tasks (the task table's deployment index) and its rollback.
#[test]
fn given_a_replay_against_moto_then_deployments_lists_what_it_stored_with_tasks_and_rollbacks() {
    let (_, report) = replayed();
    let of_cluster = |cluster: &str| -> Vec<Value> {
        let prefix = format!(":service/{cluster}/");
        let deployments = report["deployments"].as_array().expect("deployments");
        deployments
            .iter()
            .filter(|d| d["service"].as_str().is_some_and(|s| s.contains(&prefix)))
            .cloned()
            .collect()
    };
    let expected = of_cluster("prod-fargate");
    assert!(expected.len() >= 5, "{expected:?}");
    let output = against_moto(&["deployments", "--cluster", "prod-fargate", "--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let listed: Vec<Value> = serde_json::from_slice(&output.stdout).expect("JSON");
    let key = |d: &Value| d["deploymentId"].as_str().expect("id").to_owned();
    let mut ids: Vec<String> = listed.iter().map(key).collect();
    let mut want: Vec<String> = expected.iter().map(key).collect();
    ids.sort();
    want.sort();
    assert_eq!(ids, want);
    for deployment in &listed {
        let reported = expected.iter().find(|d| key(d) == key(deployment)).expect("reported");
        for field in ["service", "status", "rolledBackTo", "rollbackOf", "tasks", "taskCounts"] {
            assert_eq!(deployment[field], reported[field], "{}: {field}", key(deployment));
        }
    }
    let failed = listed
        .iter()
        .find(|d| d["deploymentId"] == "ecs-svc/6001002003004005006")
        .expect("billing's failed deployment");
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(failed["rolledBackTo"], "ecs-svc/6001002003004005000");
    assert_eq!(failed["tasks"].as_array().map(Vec::len), Some(4));
    assert_eq!(failed["taskCounts"]["failed"], 4);

    // One service, as a table for people.
    let output =
        against_moto(&["deployments", "--cluster", "prod-fargate", "--service", "billing"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("DEPLOYMENT ") && lines[0].contains("ROLLBACK"), "{text}");
    assert_eq!(lines.last().copied(), Some("2 deployments"), "{text}");
    assert!(text.contains("ecs-svc/6001002003004005006  billing  FAILED"), "{text}");
    assert!(text.contains("to ecs-svc/6001002003004005000"), "{text}");
    assert!(text.contains("4 started, 0 running, 4 failed"), "{text}");

    // An unknown cluster is a usage error naming the clusters there are.
    let unknown = against_moto(&["deployments", "--cluster", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    // A deployment table that does not exist: one message, exit 1.
    let missing = Command::cargo_bin("ecs-events")
        .expect("binary")
        .args(["deployments", "--cluster", "prod-fargate"])
        .args(["--endpoint-url", &support::moto().endpoint])
        .args(["--task-table", &replayed().0.tasks, "--deployment-table", &unique("absent")])
        .output()
        .expect("ran");
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.starts_with("ecs-events deployments: cannot use table absent-"), "{stderr}");
}

/// The task of the `same-ids-in-three-accounts` scenario in `account` and `region`: one
/// cluster (`shop`) and task id in three accounts and two Regions.
fn shop_task(account: &str, region: &str) -> String {
    format!("arn:aws:ecs:{region}:{account}:task/shop/c4a7c4a7c4a7c4a7c4a7c4a7c4a7c4a7")
}

const NAMES: &str = "111122223333=prod-eu,444455556666=staging";

/// GIVEN the same cluster, task id and deployment id in three accounts and two Regions,
/// replayed into moto WHEN `tasks` and `deployments` list them by cluster, account (id or
/// name) and Region THEN each place is its own record, and the filters choose places.
#[test]
fn given_one_cluster_and_task_id_in_six_places_then_tasks_and_deployments_filter_by_account_and_region()
 {
    let arns = |output: std::process::Output, field: &str| -> Vec<String> {
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let listed: Vec<Value> = serde_json::from_slice(&output.stdout).expect("JSON array");
        let mut arns: Vec<String> =
            listed.iter().map(|item| item[field].as_str().expect("ARN").to_owned()).collect();
        arns.sort();
        arns
    };
    // The cluster's name alone: every place, each its own record.
    let all = arns(against_moto(&["tasks", "--cluster", "shop", "--json"]), "taskArn");
    let mut six = Vec::new();
    for account in ["111122223333", "444455556666", "777788889999"] {
        for region in ["us-east-1", "eu-west-1"] {
            six.push(shop_task(account, region));
        }
    }
    six.sort();
    assert_eq!(all, six);
    // As a table: one heading per cluster, naming its account and Region.
    let output = against_moto(&["tasks", "--cluster", "shop", "--account-names", NAMES]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let headings: Vec<&str> = text.lines().filter(|line| line.starts_with("cluster ")).collect();
    assert_eq!(
        headings,
        [
            "cluster shop in account prod-eu (111122223333), eu-west-1: arn:aws:ecs:eu-west-1:111122223333:cluster/shop",
            "cluster shop in account staging (444455556666), eu-west-1: arn:aws:ecs:eu-west-1:444455556666:cluster/shop",
            "cluster shop in account 777788889999, eu-west-1: arn:aws:ecs:eu-west-1:777788889999:cluster/shop",
            "cluster shop in account prod-eu (111122223333), us-east-1: arn:aws:ecs:us-east-1:111122223333:cluster/shop",
            "cluster shop in account staging (444455556666), us-east-1: arn:aws:ecs:us-east-1:444455556666:cluster/shop",
            "cluster shop in account 777788889999, us-east-1: arn:aws:ecs:us-east-1:777788889999:cluster/shop",
        ],
        "{text}"
    );
    assert_eq!(text.lines().filter(|line| *line == "1 task").count(), 6, "{text}");
    // By account name and Region; by account id alone (both Regions).
    let staging = against_moto(&[
        "tasks",
        "--account",
        "staging",
        "--region",
        "eu-west-1",
        "--account-names",
        NAMES,
        "--json",
    ]);
    assert_eq!(arns(staging, "taskArn"), [shop_task("444455556666", "eu-west-1")]);
    let unnamed =
        against_moto(&["tasks", "--cluster", "shop", "--account", "777788889999", "--json"]);
    assert_eq!(
        arns(unnamed, "taskArn"),
        [shop_task("777788889999", "eu-west-1"), shop_task("777788889999", "us-east-1")]
    );
    // An account that is neither an id nor a name given: a usage error.
    let unknown = against_moto(&["tasks", "--account", "prod-us", "--account-names", NAMES]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .starts_with("ecs-events tasks: --account \"prod-us\""),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );

    // The same deployment id in each place: six deployments, each with its own task only.
    let output = against_moto(&["deployments", "--cluster", "shop", "--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let listed: Vec<Value> = serde_json::from_slice(&output.stdout).expect("JSON array");
    assert_eq!(listed.len(), 6);
    for deployment in &listed {
        assert_eq!(deployment["deploymentId"], "ecs-svc/4400000000000000001");
        let service = deployment["service"].as_str().expect("service");
        let task =
            service.replace(":service/shop/cart", ":task/shop/c4a7c4a7c4a7c4a7c4a7c4a7c4a7c4a7");
        assert_eq!(deployment["tasks"], serde_json::json!([task]), "{service}");
    }
    let one = against_moto(&[
        "deployments",
        "--cluster",
        "shop",
        "--account",
        "prod-eu",
        "--region",
        "us-east-1",
        "--account-names",
        NAMES,
        "--json",
    ]);
    assert_eq!(arns(one, "service"), ["arn:aws:ecs:us-east-1:111122223333:service/shop/cart"]);
}
