//! `ecs-events test-rules` end to end: golden cases pass, fail with a diff of what changed
//! (a message missing, an extra one, a changed subject), are written by `--update` the same
//! way every time; rules are linted first; exit statuses 0, 1 and 2.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sample(name: &str) -> PathBuf {
    root().join("events/samples").join(name)
}

fn test_rules(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("ecs-events")
        .expect("binary")
        .arg("test-rules")
        .args(args)
        .output()
        .expect("runs")
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A case folder holding copies of `events` (sample names), under a fresh temporary folder.
fn case_with(events: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let case = dir.path().join("stops");
    std::fs::create_dir(&case).expect("case dir");
    for (index, name) in events.iter().enumerate() {
        std::fs::copy(sample(name), case.join(format!("{index:02}-{name}"))).expect("copy");
    }
    (dir, case)
}

const ESSENTIAL_NONZERO: &str =
    "arn:aws:ecs:us-east-1:111122223333:task/prod-fargate/da9b114ccecdaad2c77e85d2247cf9d0";
const OOM: &str =
    "arn:aws:ecs:us-east-1:111122223333:task/prod-ec2/ae837ce15a3bdfdc09ab7415b06e1589";

/// Two failed tasks of two services and one that completed (exit 0): with the default rule,
/// two alerts, each opening its service's incident; the completed task is quiet.
fn two_stops_case() -> (tempfile::TempDir, PathBuf) {
    case_with(&[
        "task-essential-exited-nonzero.json",
        "task-oom-killed.json",
        "task-essential-exited-zero.json",
    ])
}

fn golden(case: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(case.join("expected.json")).expect("golden"))
        .expect("golden JSON")
}

fn write_golden(case: &Path, golden: &Value) {
    std::fs::write(
        case.join("expected.json"),
        serde_json::to_string_pretty(golden).expect("json") + "\n",
    )
    .expect("write golden");
}

#[test]
fn given_a_new_case_when_updated_then_the_golden_file_holds_what_is_sent_and_the_case_passes() {
    let (_dir, case) = two_stops_case();
    let name = case.display().to_string();

    let output = test_rules(&["--update", &name]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), format!("case {name} ... updated\n\n1 updated, 0 unchanged\n"));

    let written = golden(&case);
    let messages = written["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2, "{written:#}");
    for (message, resource) in messages.iter().zip([ESSENTIAL_NONZERO, OOM]) {
        assert_eq!(message["kind"], "alert");
        assert_eq!(message["rule"], "essential-container-exited");
        assert_eq!(message["resource"], resource);
        assert_eq!(message["severity"], "error");
        assert!(
            message["incident"]
                .as_str()
                .is_some_and(|key| key.starts_with("essential-container-exited|"))
        );
        assert!(
            message["subject"]
                .as_str()
                .is_some_and(|s| s.starts_with("[111122223333 us-east-1] ECS task stopped")),
            "{message}"
        );
        assert!(message.get("tasks").is_none(), "an alert tells of its one task: {message}");
        let keys: Vec<&String> = message.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["incident", "kind", "resource", "rule", "severity", "subject"]);
    }

    let output = test_rules(&[&name]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), format!("case {name} ... ok\n\n1 passed, 0 failed\n"));
}

#[test]
fn given_the_same_input_when_updated_again_then_the_golden_file_keeps_its_bytes() {
    let (_dir, case) = two_stops_case();
    let name = case.display().to_string();
    assert_eq!(test_rules(&["--update", &name]).status.code(), Some(0));
    let first = std::fs::read(case.join("expected.json")).expect("golden");

    let output = test_rules(&["--update", &name]);
    assert_eq!(stdout(&output), format!("case {name} ... unchanged\n\n0 updated, 1 unchanged\n"));
    assert_eq!(std::fs::read(case.join("expected.json")).expect("golden"), first);
    assert!(first.ends_with(b"}\n"));
}

#[test]
fn given_a_changed_subject_then_the_case_fails_with_a_diff_of_that_line() {
    let (_dir, case) = two_stops_case();
    let name = case.display().to_string();
    assert_eq!(test_rules(&["--update", &name]).status.code(), Some(0));
    let mut edited = golden(&case);
    let actual_subject = edited["messages"][1]["subject"].as_str().expect("subject").to_owned();
    edited["messages"][1]["subject"] = json!("OOM in image-resizer");
    write_golden(&case, &edited);

    let output = test_rules(&[&name]);
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(out.starts_with(&format!("case {name} ... FAILED\n")), "{out}");
    assert!(
        out.contains(&format!("--- {name}/expected.json\n+++ what the rules send now\n")),
        "{out}"
    );
    assert!(out.contains("\n-      \"subject\": \"OOM in image-resizer\"\n"), "{out}");
    assert!(out.contains(&format!("\n+      \"subject\": {}\n", json!(actual_subject))), "{out}");
    let changed = out
        .lines()
        .filter(|line| {
            line.starts_with(['-', '+']) && !line.starts_with("---") && !line.starts_with("+++")
        })
        .count();
    assert_eq!(changed, 2, "only the subject changed: {out}");
    assert!(out.ends_with("\n0 passed, 1 failed\n"), "{out}");
}

#[test]
fn given_a_message_the_rules_no_longer_send_then_the_diff_shows_it_missing() {
    let (_dir, case) = two_stops_case();
    let name = case.display().to_string();
    assert_eq!(test_rules(&["--update", &name]).status.code(), Some(0));
    let mut edited = golden(&case);
    edited["messages"].as_array_mut().expect("messages").push(json!({
        "kind": "alert", "rule": "essential-container-exited",
        "resource": "arn:aws:ecs:us-east-1:111122223333:task/prod-fargate/0bb277be709107a616ff1be14f265f60",
        "severity": "error", "subject": "ECS task stopped: the nightly report"
    }));
    write_golden(&case, &edited);

    let output = test_rules(&[&name]);
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(out.contains("-      \"subject\": \"ECS task stopped: the nightly report\""), "{out}");
    assert!(out.contains("-      \"resource\": \"arn:aws:ecs:us-east-1:111122223333:task/prod-fargate/0bb277be709107a616ff1be14f265f60\""), "{out}");
    assert!(
        !out.lines().any(|line| line.starts_with('+') && !line.starts_with("+++")),
        "nothing extra: {out}"
    );
}

#[test]
fn given_a_message_the_golden_file_lacks_then_the_diff_shows_it_extra() {
    let (_dir, case) = two_stops_case();
    let name = case.display().to_string();
    assert_eq!(test_rules(&["--update", &name]).status.code(), Some(0));
    let mut edited = golden(&case);
    edited["messages"].as_array_mut().expect("messages").remove(1);
    write_golden(&case, &edited);

    let output = test_rules(&[&name]);
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(out.contains(&format!("+      \"resource\": \"{OOM}\"")), "{out}");
    assert!(
        !out.lines().any(|line| line.starts_with('-') && !line.starts_with("---")),
        "nothing missing: {out}"
    );
}

#[test]
fn given_a_crash_loop_then_the_golden_file_counts_the_tasks_of_its_digest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let case = dir.path().join("crash-loop");
    std::fs::create_dir(&case).expect("case");
    let scenario = root().join("events/scenarios/crash-loop-beside-quiet-services");
    for entry in std::fs::read_dir(&scenario).expect("scenario") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name").to_owned();
        if !name.to_string_lossy().starts_with('_') {
            std::fs::copy(&path, case.join(name)).expect("copy");
        }
    }
    let name = case.display().to_string();
    assert_eq!(test_rules(&["--update", &name]).status.code(), Some(0));

    // The scenario's own expectation: the first cart stop and the web stop alert; the other
    // seven cart stops (duplicates not counted) are one digest.
    let written = golden(&case);
    let summary: Vec<(String, Option<u64>)> = written["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| (m["kind"].as_str().unwrap_or_default().to_owned(), m["tasks"].as_u64()))
        .collect();
    assert_eq!(
        summary,
        [("alert".into(), None), ("alert".into(), None), ("digest".into(), Some(7))]
    );
}

#[test]
fn given_a_folder_of_cases_then_each_is_run_in_name_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (case, events) in
        [("b-oom", ["task-oom-killed.json"]), ("a-user-stop", ["task-stopped-by-user.json"])]
    {
        std::fs::create_dir(dir.path().join(case)).expect("case");
        for event in events {
            std::fs::copy(sample(event), dir.path().join(case).join(event)).expect("copy");
        }
    }
    // A task a user stopped is no essential container's exit: the default rule sends nothing.
    std::fs::write(dir.path().join("a-user-stop/expected.json"), "{\"messages\": []}\n")
        .expect("golden");
    let name = dir.path().display().to_string();

    let output = test_rules(&[&name]);
    assert_eq!(output.status.code(), Some(1), "b-oom has no golden file");
    assert_eq!(
        stdout(&output),
        format!(
            "case {name}/a-user-stop ... ok\ncase {name}/b-oom ... FAILED\n  no expected.json: write it \
             with `ecs-events test-rules --update {name}/b-oom` (with the same --rules), review it, and \
             commit it\n\n1 passed, 1 failed\n"
        )
    );
}

#[test]
fn given_rules_with_typos_then_each_is_an_error_with_a_suggestion_and_nothing_runs() {
    let (dir, case) = two_stops_case();
    let rules = dir.path().join("rules.json");
    std::fs::write(
        &rules,
        r#"[
  {"name": "stopped", "pattern": {"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"],
                                  "detail": {"lastStaus": ["STOPPED"]}}},
  {"name": "failed-deploys", "pattern": {"detail-type": ["ECS Deployment State Change"],
                                         "detail": {"eventName": ["SERVICE_DEPLOYMENT_FAILD"]}}},
  {"name": "stopped", "pattern": {"detail": {"lastStatus": ["STOPED"]}}}
]"#,
    )
    .expect("rules");
    let output =
        test_rules(&["--rules", &rules.display().to_string(), &case.display().to_string()]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stdout(&output), "");
    let err = stderr(&output);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    assert_eq!(
        lines[0],
        format!(
            "ecs-events test-rules: rules file {}: rule #1 \"stopped\": detail.lastStaus: ECS Task State Change events have no such field; did you mean `lastStatus`?",
            rules.display()
        )
    );
    assert!(lines[1].starts_with("rule #2 \"failed-deploys\": detail.eventName: \"SERVICE_DEPLOYMENT_FAILD\" matches no value ECS sends here"), "{err}");
    assert!(lines[1].ends_with("did you mean `SERVICE_DEPLOYMENT_FAILED`?"), "{err}");
    assert_eq!(lines[2], "rule #3 \"stopped\": the name is already used by rule #1");
    assert!(
        lines[3].starts_with(
            "rule #3 \"stopped\": detail.lastStatus: \"STOPED\" matches no value ECS sends here"
        ),
        "{err}"
    );
    assert!(lines[3].ends_with("did you mean `STOPPED`?"), "{err}");
    assert!(!case.join("expected.json").exists());
}

#[test]
fn given_no_cases_then_the_rules_are_only_linted() {
    let rules = root().join("rules/examples.json");
    let output = test_rules(&["--rules", &rules.display().to_string()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "6 rules, no problems\n");
}

#[test]
fn given_input_that_cannot_be_read_then_the_exit_status_is_2_and_the_error_names_it() {
    let (dir, case) = two_stops_case();
    let missing = dir.path().join("missing");
    let output = test_rules(&[&missing.display().to_string()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(&format!("cannot read {}", missing.display())),
        "{}",
        stderr(&output)
    );

    let file = case.join("00-task-essential-exited-nonzero.json");
    let output = test_rules(&[&file.display().to_string()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("a case is a folder"), "{}", stderr(&output));

    std::fs::write(case.join("expected.json"), "{\"messages\": [}").expect("golden");
    let output = test_rules(&[&case.display().to_string()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(&format!("{}/expected.json: ", case.display())),
        "{}",
        stderr(&output)
    );

    std::fs::write(case.join("expected.json"), "{\"messages\": []}").expect("golden");
    std::fs::write(case.join("99-broken.json"), "{\"source\": \"aws.ecs\"").expect("event");
    let output = test_rules(&[&case.display().to_string()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(&format!(
            "case {}: {}/99-broken.json:1: ",
            case.display(),
            case.display()
        )),
        "{}",
        stderr(&output)
    );

    let output = test_rules(&["--no-such-flag"]);
    assert_eq!(output.status.code(), Some(2));
}
