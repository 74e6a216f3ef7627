//! `ecs-events replay` end to end over `events/`: JSON report counts and final states per
//! scenario, bad input reported by location, the same replay against moto, and the listener's
//! own logs replayed.

#[path = "../../tests/tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use ecs_events::state::{DynamoDbStateStore, ResourceKind, StateStore};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use support::{
    Scenario, drain, dynamodb, events_dir, read_json, scenarios, topic_with_queue, unique,
};

fn replay(args: &[&str]) -> Value {
    let output = Command::cargo_bin("ecs-events")
        .expect("binary built")
        .args(["replay", "--json"])
        .args(args)
        .output()
        .expect("ran");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON report")
}

/// Command-line arguments of owned paths.
fn as_args(paths: &[String]) -> Vec<&str> {
    paths.iter().map(String::as_str).collect()
}

fn path(path: &Path) -> String {
    path.display().to_string()
}

/// Fresh table names on the moto server, and the replay flags that name them.
struct Tables {
    tasks: String,
    instances: String,
    ledger: String,
    incidents: String,
    services: String,
    deployments: String,
}

impl Tables {
    fn new() -> Self {
        Self {
            tasks: unique("tasks"),
            instances: unique("instances"),
            ledger: unique("ledger"),
            incidents: unique("incidents"),
            services: unique("services"),
            deployments: unique("deployments"),
        }
    }

    fn flags(&self) -> [&str; 12] {
        let Self { tasks, instances, ledger, incidents, services, deployments } = self;
        [
            "--task-table",
            tasks,
            "--container-instance-table",
            instances,
            "--ledger-table",
            ledger,
            "--incident-table",
            incidents,
            "--service-table",
            services,
            "--deployment-table",
            deployments,
        ]
    }
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(unique("ecs-events"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Asserts a report holds a scenario's expected counts, final states, messages (alerts and
/// digests, in order, each with the fields the expectation names) and incidents, and that
/// every alerting task is told of exactly once across alerts and digests.
fn assert_scenario(report: &Value, scenario: &Scenario) {
    let name = &scenario.name;
    for count in ["events", "stored", "duplicates", "stale", "ignored"] {
        assert_eq!(report["stats"][count], scenario.expected["stats"][count], "{name}: {count}");
    }
    if let Some(quiet) = scenario.expected["stats"].get("quiet") {
        assert_eq!(&report["stats"]["quiet"], quiet, "{name}: clean exits not told");
    }
    assert_eq!(report["stats"]["rejected"], 0, "{name}: {}", report["rejected"]);
    for (list, report_list, key, status) in [
        ("tasks", "tasks", "taskArn", "lastStatus"),
        ("containerInstances", "containerInstances", "containerInstanceArn", "status"),
    ] {
        let expected: Vec<Value> = scenario.expected[list]
            .as_array()
            .expect("list")
            .iter()
            .map(|item| json!([item[key], item["version"], item[status]]))
            .collect();
        let mut actual: Vec<Value> = report[report_list]
            .as_array()
            .expect("list")
            .iter()
            .map(|detail| json!([detail[key], detail["version"], detail[status]]))
            .collect();
        let mut expected = expected;
        expected.sort_by_key(|item| item.to_string());
        actual.sort_by_key(|item| item.to_string());
        assert_eq!(actual, expected, "{name}: {list}");
    }
    let sent = report["alerts"].as_array().expect("alerts");
    let wanted = scenario.expected["alerts"].as_array().expect("expected alerts");
    // Each sent message, reduced to the fields its expectation names.
    let projected: Vec<Value> = sent
        .iter()
        .zip(wanted.iter().chain(std::iter::repeat(&json!({"rule": null, "resource": null}))))
        .map(|(alert, want)| {
            let fields = want.as_object().expect("expected alert");
            Value::Object(fields.keys().map(|key| (key.clone(), alert[key].clone())).collect())
        })
        .collect();
    assert_eq!(Value::from(projected), scenario.expected["alerts"], "{name}: messages");
    let of_kind = |kind: &str| sent.iter().filter(|alert| alert["kind"] == kind).count();
    assert_eq!(report["stats"]["alerts"], of_kind("alert"), "{name}");
    assert_eq!(report["stats"]["digests"], of_kind("digest"), "{name}");
    assert_eq!(report["stats"]["silences"], of_kind("silence"), "{name}");
    assert_eq!(report["stats"]["resolved"], of_kind("resolved"), "{name}");
    for alert in sent {
        for field in ["kind", "rule", "resource", "subject", "severity"] {
            assert!(alert[field].is_string(), "{name}: every message has {field}: {alert}");
        }
    }
    // Every deployment seen, with its tasks (each once) and how it ended.
    if let Some(expected) = scenario.expected["deployments"].as_array() {
        let reported = report["deployments"].as_array().expect("deployments");
        let projected: Vec<Value> = reported
            .iter()
            .map(|deployment| {
                json!({
                    "deploymentId": deployment["deploymentId"],
                    "service": deployment["service"],
                    "status": deployment["status"],
                    "rolledBackTo": deployment["rolledBackTo"],
                    "tasks": deployment["tasks"],
                })
            })
            .collect();
        assert_eq!(&projected, expected, "{name}: deployments");
    }
    // What a message must say, by rule: its text names each of these.
    if let Some(messages) = scenario.expected["messages"].as_object() {
        for (rule, needles) in messages {
            let text = sent
                .iter()
                .find(|alert| alert["rule"] == *rule && alert["kind"] == "alert")
                .map(|alert| alert["message"].as_str().expect("message"))
                .unwrap_or_else(|| panic!("{name}: no alert of {rule}"));
            for needle in needles.as_array().expect("list") {
                let needle = needle.as_str().expect("text");
                assert!(text.contains(needle), "{name}: {rule} says {needle:?}:\n{text}");
            }
        }
    }
    let covered = support::coverage_of(sent);
    assert_eq!(
        covered,
        support::expected_coverage(&scenario.expected),
        "{name}: told of once each"
    );
    if let Some(incidents) = scenario.expected["incidents"].as_object() {
        for (key, want) in incidents {
            let of_incident: Vec<&Value> =
                sent.iter().filter(|alert| alert["incident"] == *key).collect();
            let count =
                |kind: &str| of_incident.iter().filter(|alert| alert["kind"] == kind).count();
            let tasks: u64 =
                of_incident.iter().map(|alert| alert["count"].as_u64().expect("count")).sum();
            assert_eq!(
                count("alert"),
                want["alerts"].as_u64().expect("alerts") as usize,
                "{name}: {key}"
            );
            assert_eq!(
                count("digest"),
                want["digests"].as_u64().expect("digests") as usize,
                "{name}: {key}"
            );
            assert_eq!(tasks, want["tasks"].as_u64().expect("tasks"), "{name}: {key}");
        }
    }
}

#[test]
fn given_each_scenario_folder_then_the_json_report_matches_its_expected_state() {
    for scenario in scenarios() {
        let dir = path(&events_dir().join("scenarios").join(&scenario.name));
        let mut args = vec![dir];
        if let Some(rules) = scenario.expected["rules"].as_str() {
            args.extend(["--rules".to_owned(), path(&events_dir().join("..").join(rules))]);
        }
        // The stack's ACCOUNT_NAMES the scenario is replayed with, when it names accounts.
        if let Some(names) = scenario.expected["accountNames"].as_str() {
            args.extend(["--account-names".to_owned(), names.to_owned()]);
        }
        let report = replay(&as_args(&args));
        assert_scenario(&report, &scenario);
        // Every alert and digest carries a chat notification Amazon Q Developer accepts.
        for alert in report["alerts"].as_array().expect("alerts") {
            ecs_events::alert::chat::check_notification(&alert["chat"]).unwrap_or_else(|problem| {
                panic!("{}: {problem}: {}", scenario.name, alert["chat"])
            });
        }
    }
}

#[test]
fn given_the_whole_corpus_then_every_event_ends_in_exactly_one_outcome() {
    let report = replay(&[&path(&events_dir())]);
    let stats = &report["stats"];
    let sum: u64 = ["stored", "duplicates", "stale", "ignored", "rejected", "failed"]
        .iter()
        .map(|name| stats[name].as_u64().expect("count"))
        .sum();
    assert_eq!(Some(sum), stats["events"].as_u64());
    // The folders share no resource, and their dates keep each within the retention of the
    // replay clock when read in name order: the whole corpus decides each event as its own
    // folder does (only the two old AWS guide examples in samples/ are stale there).
    let folders: Vec<Value> =
        ["bad-input", "samples"].map(|folder| replay(&[&path(&events_dir().join(folder))])).into();
    for outcome in ["stored", "duplicates", "stale", "ignored"] {
        let count = |report: &Value| report["stats"][outcome].as_u64().expect("count");
        let scenarios: u64 = scenarios().iter().map(|scenario| count(&scenario.expected)).sum();
        assert_eq!(
            stats[outcome].as_u64(),
            Some(folders.iter().map(count).sum::<u64>() + scenarios),
            "{outcome}: the whole corpus decides otherwise than its folders"
        );
    }
    // Only the bad-input files are rejected.
    for rejected in report["rejected"].as_array().expect("rejected") {
        assert!(
            rejected["location"].as_str().expect("location").contains("/bad-input/"),
            "{rejected}"
        );
    }
    // Each folder is a stream of its own: the whole corpus sends exactly the messages its
    // folders send alone, in folder order (the same subjects: no scenario told as late).
    let subjects = |report: &Value| -> Vec<String> {
        let alerts = report["alerts"].as_array().expect("alerts");
        alerts.iter().map(|alert| alert["subject"].as_str().expect("subject").to_owned()).collect()
    };
    let mut alone: Vec<String> = folders.iter().flat_map(subjects).collect();
    for scenario in scenarios() {
        // With the default rules, as the whole corpus is replayed.
        let folder = events_dir().join("scenarios").join(&scenario.name);
        alone.extend(subjects(&replay(&[&path(&folder)])));
    }
    assert_eq!(subjects(&report), alone);
    // Alerts carry what the JSON report documents.
    let alert = &report["alerts"][0];
    for field in ["rule", "resource", "subject", "message", "attributes"] {
        assert!(alert.get(field).is_some(), "alert has {field}: {alert}");
    }
}

#[test]
fn given_a_file_mixing_valid_non_ecs_and_broken_lines_then_each_bad_one_is_reported_by_location() {
    let samples = events_dir().join("samples");
    let oom = read_json(&samples.join("task-oom-killed.json"));
    let running = read_json(&samples.join("task-ec2-running.json"));
    let mut ec2 = running.clone();
    ec2["source"] = json!("aws.ec2");
    let mut no_version = oom.clone();
    no_version["detail"].as_object_mut().expect("detail").remove("version");
    no_version["detail"]["taskArn"] = json!("arn:aws:ecs:us-east-1:111122223333:task/prod/nover");
    let lines = [
        oom.to_string(),
        "{\"version\": \"0\", \"id\": ".to_owned(),
        ec2.to_string(),
        String::new(),
        running.to_string(),
        no_version.to_string(),
        "not json at all".to_owned(),
    ];
    let file = temp_dir().join("mixed.jsonl");
    std::fs::write(&file, lines.join("\n")).expect("written");

    let report = replay(&[&path(&file)]);
    assert_eq!(report["stats"]["events"], 6);
    assert_eq!(report["stats"]["stored"], 2);
    assert_eq!(report["stats"]["rejected"], 4);
    let rejected: Vec<(String, String)> = report["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|r| {
            (
                r["location"].as_str().expect("location").to_owned(),
                r["error"].as_str().expect("error").to_owned(),
            )
        })
        .collect();
    let at = |line: usize| format!("{}:{line}", path(&file));
    assert_eq!(rejected[0].0, at(2));
    assert!(rejected[0].1.contains("EOF while parsing"), "{}", rejected[0].1);
    assert_eq!(rejected[1], (at(3), "event source is \"aws.ec2\", expected \"aws.ecs\"".into()));
    assert_eq!(rejected[2], (at(6), "detail.version: missing field".into()));
    assert_eq!(rejected[3].0, at(7));
    assert_eq!(report["alerts"].as_array().expect("alerts").len(), 1);
}

#[test]
fn given_each_bad_input_file_then_it_gets_its_specific_error_and_nothing_stored_changes() {
    let bad_input = events_dir().join("bad-input");
    let expected = read_json(&bad_input.join("_expected.json"));
    let stored_first = events_dir().join("samples/task-oom-killed.json");
    let deployment_first = events_dir().join("samples/deployment-failed-rollback.json");
    let report = replay(&[&path(&stored_first), &path(&deployment_first), &path(&bad_input)]);
    let files = expected["files"].as_object().expect("files");
    let errors = files.values().filter(|want| want.get("error").is_some()).count();
    assert_eq!(report["stats"]["rejected"], errors);
    for (file, want) in files {
        let location = format!("{}/{file}:", path(&bad_input));
        let rejected = report["rejected"].as_array().expect("rejected").iter().find(|rejected| {
            rejected["location"].as_str().is_some_and(|l| l.starts_with(&location))
        });
        match (want.get("error").and_then(Value::as_str), rejected) {
            (Some(error), Some(rejected)) => {
                let said = rejected["error"].as_str().expect("error");
                assert!(said.contains(error), "{file}: {said:?} does not say {error:?}");
            }
            (None, None) => assert_eq!(want["outcome"], "ignored"),
            (error, rejected) => panic!("{file}: expected {error:?}, got {rejected:?}"),
        }
    }
    // Every bad file targets the sample's task with a higher version: the task is unchanged.
    let tasks = report["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0], read_json(&stored_first)["detail"]);
    // The bad deployment events name the sample's deployment with a later state: it is as the
    // sample left it.
    let deployments = report["deployments"].as_array().expect("deployments");
    assert_eq!(deployments.len(), 1, "{deployments:?}");
    assert_eq!(deployments[0]["status"], "FAILED");
    assert_eq!(report["stats"]["stored"], 2);
}

#[test]
fn given_a_missing_path_or_an_invalid_rules_file_then_the_replay_cannot_run_and_says_why() {
    Command::cargo_bin("ecs-events")
        .expect("binary")
        .args(["replay", "/nonexistent/events"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("cannot read /nonexistent/events"));
    let rules = temp_dir().join("rules.json");
    std::fs::write(&rules, r#"[{"name": "x", "pattern": {"detail": {"lastStatus": "STOPPED"}}}]"#)
        .expect("written");
    Command::cargo_bin("ecs-events")
        .expect("binary")
        .args(["replay", "--rules", &path(&rules), &path(&events_dir())])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("rule #1 \"x\": pattern detail.lastStatus"));
}

#[test]
fn given_the_example_rules_then_more_alerts_fire_and_text_output_shows_them() {
    let rules = events_dir().join("../rules/examples.json");
    let report = replay(&["--rules", &path(&rules), &path(&events_dir().join("samples"))]);
    let fired: std::collections::BTreeSet<&str> = report["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|alert| alert["rule"].as_str().expect("rule"))
        .collect();
    assert_eq!(fired.len(), 6, "every example rule fires on the samples: {fired:?}");

    let output = Command::cargo_bin("ecs-events")
        .expect("binary")
        .args(["replay", &path(&events_dir().join("scenarios/stopped-task-storm"))])
        .output()
        .expect("ran");
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    assert!(text.starts_with("Replayed 10 events: 4 stored, 4 duplicates, 2 stale, 0 ignored, 0 rejected; 1 alert and 0 digests sent."), "{text}");
    assert!(
        text.contains("Tasks by cluster and status:\n  prod-fargate             STOPPED 2"),
        "{text}"
    );
    assert!(
        text.contains("Subject: [111122223333 us-east-1] ECS task stopped: prod-fargate/"),
        "{text}"
    );
}

#[tokio::test]
async fn given_endpoint_url_at_moto_then_tables_and_the_subscribed_queue_end_like_the_embedded_replay()
 {
    let subscribed = topic_with_queue(false, None).await;
    let tables = Tables::new();
    // Beside the corpus, a detail DynamoDB's number and map types could not hold as such.
    let mut unusual = read_json(&events_dir().join("samples/task-ec2-running.json"));
    unusual["detail"]["taskArn"] =
        json!("arn:aws:ecs:us-east-1:111122223333:task/prod-ec2/unusual");
    unusual["detail"]["metrics"] = json!({"huge": 1.5e300, "tiny": 1e-200, "zero": 0.0});
    let unusual_file = temp_dir().join("unusual.json");
    std::fs::write(&unusual_file, unusual.to_string()).expect("written");
    let corpus = path(&events_dir());
    let unusual_path = path(&unusual_file);
    let embedded = replay(&[&corpus, &unusual_path]);
    let endpoint = support::moto().endpoint.clone();
    let mut args = vec!["--endpoint-url", &endpoint, "--create-tables"];
    args.extend(["--topic-arn", &subscribed.topic_arn]);
    args.extend(tables.flags());
    args.extend([corpus.as_str(), &unusual_path]);
    let real = replay(&args);
    assert_eq!(real["stats"], embedded["stats"]);
    // Details round-trip through DynamoDB exactly (`0.0` stays `0.0`).
    assert_eq!(real["tasks"], embedded["tasks"]);
    assert_eq!(real["containerInstances"], embedded["containerInstances"]);
    // Deployments, and every message — service down, recovered, resolved included — decided
    // alike by the DynamoDB adapters.
    assert_eq!(real["deployments"], embedded["deployments"]);
    let told = |report: &Value| -> Vec<Value> {
        let alerts = report["alerts"].as_array().expect("alerts");
        alerts.iter().map(|a| json!([a["kind"], a["rule"], a["resource"], a["subject"]])).collect()
    };
    assert_eq!(told(&real), told(&embedded));
    assert_eq!(real["failed"], json!([]));
    // Bad input is refused alike, in the same words.
    assert_eq!(real["rejected"], embedded["rejected"]);

    // The tables hold the final states.
    let store = DynamoDbStateStore::new(dynamodb(), tables.tasks.clone(), tables.instances.clone());
    for (list, kind, key) in [
        ("tasks", ResourceKind::Task, "taskArn"),
        ("containerInstances", ResourceKind::ContainerInstance, "containerInstanceArn"),
    ] {
        for detail in embedded[list].as_array().expect("list") {
            let arn = detail[key].as_str().expect("arn");
            let record = store.get(kind, arn).await.expect("get").expect("stored");
            assert_eq!(&record.detail.to_value(), detail, "{arn}");
        }
    }
    // The queue received the same alerts.
    let mut received: Vec<String> = drain(&subscribed.queue_url)
        .await
        .iter()
        .map(|message| {
            let envelope: Value =
                serde_json::from_str(message.body().expect("body")).expect("JSON");
            envelope["Subject"].as_str().expect("subject").to_owned()
        })
        .collect();
    let mut expected: Vec<String> = embedded["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|alert| alert["subject"].as_str().expect("subject").to_owned())
        .collect();
    received.sort();
    expected.sort();
    assert_eq!(received, expected);
}

#[test]
fn given_the_listeners_log_output_then_replaying_it_reproduces_the_events_it_logged() {
    let corpus = events_dir();
    let files: Vec<PathBuf> = ecs_events_cli::input::files(std::slice::from_ref(&corpus))
        .expect("files")
        .into_iter()
        .filter(|file| !file.to_string_lossy().contains("/bad-input/"))
        .collect();
    // One log per folder: each folder of the corpus is a capture of its own, and a replay
    // gives each folder its own clock (as it gives each of these logs, in a folder apiece).
    let dir = temp_dir();
    let (mut logs, mut exports) = (Vec::new(), Vec::new());
    let mut folders: Vec<(PathBuf, Vec<&PathBuf>)> = Vec::new();
    for file in &files {
        let folder = file.parent().expect("a folder").to_path_buf();
        match folders.last_mut() {
            Some((last, members)) if *last == folder => members.push(file),
            _ => folders.push((folder, vec![file])),
        }
    }
    for (index, (_, members)) in folders.iter().enumerate() {
        let (mut log, mut filter_log_events) = (Vec::new(), Vec::new());
        for file in members {
            let event = read_json(file);
            let before = log.len();
            listener::handle(LambdaEvent::new(event, Context::default()), &mut log)
                .expect("logged");
            let line = String::from_utf8(log[before..].to_vec()).expect("UTF-8");
            filter_log_events.push(
                json!({"logStreamName": "2024/05/02/[$LATEST]abc", "timestamp": 1, "message": line}),
            );
        }
        let capture = dir.join(format!("{index:02}"));
        std::fs::create_dir_all(&capture).expect("folder");
        std::fs::write(capture.join("listener.log"), &log).expect("written");
        let export = json!({"events": filter_log_events}).to_string();
        std::fs::write(capture.join("filter-log-events.json"), export).expect("written");
        logs.push(path(&capture.join("listener.log")));
        exports.push(path(&capture.join("filter-log-events.json")));
    }

    let originals: Vec<String> = files.iter().map(|file| path(file)).collect();
    let original = replay(&as_args(&originals));
    for replayed in [&logs, &exports].map(|paths| replay(&as_args(paths))) {
        assert_eq!(replayed["stats"], original["stats"]);
        assert_eq!(replayed["tasks"], original["tasks"]);
        assert_eq!(replayed["containerInstances"], original["containerInstances"]);
        assert_eq!(replayed["alerts"], original["alerts"]);
    }
}

#[test]
fn given_an_endpoint_that_is_down_then_the_replay_stops_before_the_first_event_with_one_message() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let endpoint = format!("http://{}", closed.local_addr().expect("address"));
    drop(closed);
    let output = Command::cargo_bin("ecs-events")
        .expect("binary")
        .args(["replay", "--json", "--endpoint-url", &endpoint, "--topic-arn"])
        .arg("arn:aws:sns:us-east-1:111122223333:alerts")
        .arg(path(&events_dir()))
        .output()
        .expect("ran");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "no report: nothing was replayed");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("ecs-events replay: cannot use table ECSTaskState: "), "{stderr}");
    assert!(
        stderr.contains("check the region (AWS_REGION), the credentials, --endpoint-url"),
        "{stderr}"
    );
}

#[test]
fn given_aws_without_a_region_then_the_replay_says_so_before_the_first_event() {
    let home = temp_dir();
    Command::cargo_bin("ecs-events")
        .expect("binary")
        .args(["replay", "--aws", "--topic-arn", "arn:aws:sns:us-east-1:111122223333:alerts"])
        .arg(path(&events_dir()))
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicates::str::contains("no AWS region is configured: set AWS_REGION"));
}

#[test]
fn given_per_service_endpoint_variables_then_aws_mode_uses_them_and_endpoint_url_overrides_them() {
    let endpoint = support::moto().endpoint.clone();
    let topic = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async { topic_with_queue(false, None).await.topic_arn });
    let tables = Tables::new();
    let sample = path(&events_dir().join("samples/task-oom-killed.json"));
    let run = |mode: &[&str], dynamodb: &str, sns: &str| {
        Command::cargo_bin("ecs-events")
            .expect("binary")
            .args(["replay", "--json", "--create-tables", "--topic-arn", &topic])
            .args(tables.flags())
            .args(mode)
            .arg(&sample)
            .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb)
            .env("AWS_ENDPOINT_URL_SNS", sns)
            .output()
            .expect("ran")
    };
    let separate = run(&["--aws"], &endpoint, &endpoint);
    assert!(separate.status.success(), "{}", String::from_utf8_lossy(&separate.stderr));
    let report: Value = serde_json::from_slice(&separate.stdout).expect("report");
    assert_eq!(
        (report["stats"]["stored"].as_u64(), report["stats"]["alerts"].as_u64()),
        (Some(1), Some(1))
    );
    // Nothing answers on port 1: --endpoint-url wins over both variables.
    let overridden =
        run(&["--endpoint-url", &endpoint], "http://127.0.0.1:1", "http://127.0.0.1:1");
    assert!(overridden.status.success(), "{}", String::from_utf8_lossy(&overridden.stderr));
    let report: Value = serde_json::from_slice(&overridden.stdout).expect("report");
    assert_eq!(report["stats"]["duplicates"], 1);
}

/// GIVEN a nightly job's four runs (three clean exits, one exit 2) and rules/jobs.json (a rule
/// for its failures, and one that opts in to its completions with a day-long window) WHEN
/// replayed THEN each completion is told as completed, severity info, and the failure as an
/// error by the failure rule alone; with the shipped example rules only the failure is told.
#[test]
fn given_rules_that_opt_in_to_completions_then_a_jobs_clean_exits_are_told_as_info() {
    let nightly = path(&events_dir().join("scenarios/nightly-job"));
    let jobs = path(&events_dir().join("../rules/jobs.json"));
    let report = replay(&["--rules", &jobs, &nightly]);
    let told: Vec<(String, String, String)> = report["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|alert| {
            let field = |name: &str| alert[name].as_str().expect(name).to_owned();
            (field("rule"), field("severity"), field("subject"))
        })
        .collect();
    let rules: Vec<(&str, &str)> =
        told.iter().map(|(rule, severity, _)| (rule.as_str(), severity.as_str())).collect();
    assert_eq!(
        rules,
        [
            ("scheduled-job-completed", "info"),
            ("scheduled-job-completed", "info"),
            ("scheduled-job-failed", "error"),
            ("scheduled-job-completed", "info"),
        ],
        "{told:#?}"
    );
    assert!(
        told[0].2.starts_with(
            "[111122223333 us-east-1] ECS task completed: batch/nightly-export: exit 0 after 7m"
        ),
        "{}",
        told[0].2
    );
    assert!(
        told[2].2.starts_with("[111122223333 us-east-1] ECS task stopped: batch/nightly-export"),
        "{}",
        told[2].2
    );
    // Each completion is a message of its own a day apart (a window of 24 hours, no crash loop),
    // and none counts as a failure.
    assert_eq!(report["stats"]["digests"], 0);
    assert!(report["alerts"].as_array().expect("alerts").iter().all(|a| a["crashLoop"] == false));
    // Matched and not told: the 3 completions by the failure rule, the failure by the rule
    // that tells only completions.
    assert_eq!(report["stats"]["quiet"], 4);
    assert_eq!(report["alerts"][0]["chat"]["metadata"]["additionalContext"]["severity"], "info");
}
