//! `ecs-events test-pattern` end to end: the exact output of `aws events test-event-pattern`,
//! and exit status 2 with a message naming the problem.

#[path = "../../tests/tests/support/mod.rs"]
mod support;

use assert_cmd::Command;
use support::events_dir;

const GUIDE_RULE: &str = r#"{"source":["aws.ecs"],"detail-type":["ECS Task State Change"],"detail":{"lastStatus":["STOPPED"],"stoppedReason":["Essential container in task exited"]}}"#;

fn test_pattern(pattern: &str, event: &str) -> assert_cmd::assert::Assert {
    Command::cargo_bin("ecs-events")
        .expect("binary built")
        .args(["test-pattern", "--pattern", pattern, "--event", event])
        .assert()
}

fn sample(name: &str) -> String {
    events_dir().join("samples").join(name).display().to_string()
}

#[test]
fn given_the_guides_rule_and_a_matching_event_file_then_it_prints_result_true() {
    test_pattern(GUIDE_RULE, &sample("task-oom-killed.json"))
        .success()
        .stdout("{\"Result\":true}\n");
}

#[test]
fn given_a_running_task_then_it_prints_result_false() {
    test_pattern(GUIDE_RULE, &sample("task-ec2-running.json"))
        .success()
        .stdout("{\"Result\":false}\n");
}

#[test]
fn given_a_pattern_file_and_inline_event_then_both_forms_are_read() {
    let rules = events_dir().join("../rules/default.json");
    let dir = std::env::temp_dir().join(support::unique("pattern"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let pattern_file = dir.join("pattern.json");
    let rules: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rules).expect("rules")).expect("JSON");
    std::fs::write(&pattern_file, rules[0]["pattern"].to_string()).expect("written");
    let event =
        std::fs::read_to_string(sample("task-essential-exited-nonzero.json")).expect("event");
    test_pattern(&pattern_file.display().to_string(), &event)
        .success()
        .stdout("{\"Result\":true}\n");
}

#[test]
fn given_an_invalid_pattern_then_exit_2_names_the_field_and_problem() {
    test_pattern(r#"{"detail":{"stopCode":[{"sufix":"x"}]}}"#, &sample("task-oom-killed.json"))
        .code(2)
        .stdout("")
        .stderr(predicates::str::contains("invalid pattern: detail.stopCode"))
        .stderr(predicates::str::contains("sufix"));
}

#[test]
fn given_an_event_without_a_required_field_then_exit_2_names_it() {
    test_pattern(GUIDE_RULE, r#"{"source":"aws.ecs","detail":{}}"#)
        .code(2)
        .stderr(predicates::str::contains("invalid event: missing required field \"id\""));
}

#[test]
fn given_a_missing_event_file_then_exit_2_names_the_path() {
    test_pattern(GUIDE_RULE, "/nonexistent/event.json")
        .code(2)
        .stderr(predicates::str::contains("event: cannot read /nonexistent/event.json"));
}

#[test]
fn given_a_misspelt_field_and_value_then_exit_2_names_each_with_the_one_meant() {
    test_pattern(
        r#"{"source":["aws.ecs"],"detail-type":["ECS Task State Change"],"detail":{"lastStaus":["STOPPED"],"stopCode":["EssentialContainerExit"]}}"#,
        &sample("task-oom-killed.json"),
    )
    .code(2)
    .stdout("")
    .stderr(predicates::str::contains(
        "ecs-events test-pattern: pattern detail.lastStaus: ECS Task State Change events have no \
         such field; did you mean `lastStatus`?\npattern detail.stopCode: \"EssentialContainerExit\" \
         matches no value ECS sends here today (",
    ))
    .stderr(predicates::str::contains("did you mean `EssentialContainerExited`?"));
}
