//! GIVEN the captured events and the example rules WHEN an event matches a rule THEN the
//! rendered subject, text and attributes are what a person and a filter policy need
//! (insta snapshots, reviewed by hand).

use std::fs;
use std::path::Path;

use ecs_events::account::AccountNames;
use ecs_events::alert::chat::check_notification;
use ecs_events::alert::{MAX_SUBJECT_CHARS, MatchContext, RuleSet, render, render_alert};
use ecs_events::event::EcsEvent;
use serde_json::{Value, json};

#[test]
fn given_each_sample_that_matches_an_example_rule_then_its_alert_renders_as_snapshotted() {
    let rules = RuleSet::from_json(include_str!("../../rules/examples.json")).expect("rules");
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/samples");
    let mut files: Vec<_> = fs::read_dir(&samples)
        .expect("samples")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    let mut rendered = 0;
    for file in files {
        let bytes = fs::read(&file).expect("readable");
        let raw: Value = serde_json::from_slice(&bytes).expect("JSON");
        let event = EcsEvent::from_value(raw.clone()).expect("valid event");
        let stem = file.file_stem().and_then(|s| s.to_str()).expect("name").to_owned();
        for rule in rules.matching(&raw) {
            let alert = render(rule, &event);
            assert!(alert.subject.chars().count() <= MAX_SUBJECT_CHARS, "{}", alert.subject);
            assert!(!alert.subject.contains(['\n', '\r']), "{}", alert.subject);
            assert_eq!(alert.attributes["rule"], rule.name.as_str());
            let snapshot = format!(
                "Subject: {}\n\n{}\nAttributes: {}\nResource: {}",
                alert.subject,
                alert.message,
                serde_json::to_string_pretty(&alert.attributes).expect("json"),
                alert.resource,
            );
            insta::assert_snapshot!(format!("{stem}__{}", rule.name), snapshot);
            rendered += 1;
        }
    }
    // Every example rule fires on at least one sample, some samples on two rules.
    assert!(rendered >= 8, "only {rendered} alerts rendered");
}

#[test]
fn given_the_oom_killed_task_then_attributes_carry_the_failed_containers_exit_code_as_a_number() {
    let rules = RuleSet::default_rules();
    let (raw, event) = oom_sample();
    let rule = rules.matching(&raw).next().expect("the guide's rule matches");
    let alert = render(rule, &event);
    assert_eq!(alert.attributes["exitCode"], 137);
    assert_eq!(alert.attributes["cluster"], "prod-ec2");
    assert_eq!(alert.attributes["service"], "image-resizer");
    assert_eq!(alert.attributes["stopCode"], "EssentialContainerExited");
    assert_eq!(alert.attributes["severity"], "error");
    assert_eq!(alert.document["launchType"], "EC2");
    assert_eq!(alert.document["containers"][0]["exitCode"], 137);
    // The account (its id: no name given) and Region first; the cut falls on the reason.
    assert_eq!(
        alert.subject,
        "[111122223333 us-east-1] ECS task stopped: prod-ec2/image-resizer: Essential container in task e..."
    );
    assert!(alert.message.contains("OutOfMemoryError: Container killed due to memory usage"));
    assert!(alert.message.contains("(ran 18m 30s)"), "{}", alert.message);
    assert_eq!(
        (&alert.document["account"], &alert.document["accountName"]),
        (&json!("111122223333"), &Value::Null)
    );
    assert_eq!(alert.document["region"], "us-east-1");
}

#[test]
fn given_a_named_account_then_email_chat_and_document_name_it_and_a_long_name_keeps_the_subject_short()
 {
    let rules = RuleSet::default_rules();
    let (raw, event) = oom_sample();
    let rule = rules.matching(&raw).next().expect("the guide's rule matches");
    let render_with = |names: &str| {
        let names = AccountNames::parse(names).expect("names");
        render_alert(rule, &event, &MatchContext::default(), None, &names, event.time.instant())
    };
    let alert = render_with("111122223333=prod");
    assert_eq!(
        alert.subject,
        "[prod us-east-1] ECS task stopped: prod-ec2/image-resizer: Essential container in task exited"
    );
    assert!(
        alert.message.starts_with(
            "Account:            prod (111122223333)\nRegion:             us-east-1\nCluster:"
        ),
        "{}",
        alert.message
    );
    assert_eq!(alert.document["accountName"], "prod");
    assert_eq!(alert.chat["content"]["title"], alert.subject.as_str());
    let chat = alert.chat["content"]["description"].as_str().expect("description");
    assert!(chat.contains("Account: `prod (111122223333)`   Region: `us-east-1`"), "{chat}");
    check_notification(&alert.chat).expect("valid chat notification");

    // A long name: cut in the subject (the cluster and service stay), whole in the text.
    let long = "payments-platform-production-europe-west";
    let alert = render_with(&format!("111122223333={long}"));
    assert!(alert.subject.chars().count() <= MAX_SUBJECT_CHARS, "{}", alert.subject);
    assert!(
        alert.subject.starts_with(
            "[payments-platform-produ… us-east-1] ECS task stopped: prod-ec2/image-resizer: "
        ),
        "{}",
        alert.subject
    );
    assert!(alert.subject.ends_with("..."), "{}", alert.subject);
    assert!(alert.message.contains(&format!("Account:            {long} (111122223333)\n")));
    assert_eq!(alert.document["accountName"], long);
}

/// The OOM sample, as delivered and typed.
fn oom_sample() -> (Value, EcsEvent) {
    let raw: Value =
        serde_json::from_str(include_str!("../../events/samples/task-oom-killed.json"))
            .expect("JSON");
    let event = EcsEvent::from_value(raw.clone()).expect("valid");
    (raw, event)
}

/// A stopped task from the OOM sample with the given containers and stop code.
fn task_with(containers: Value, stop_code: &str) -> (Value, EcsEvent) {
    let (mut raw, _) = oom_sample();
    raw["detail"]["containers"] = containers;
    raw["detail"]["stopCode"] = Value::from(stop_code);
    let event = EcsEvent::from_value(raw.clone()).expect("valid");
    (raw, event)
}

#[test]
fn given_a_sidecar_stopped_after_an_oom_kill_then_the_alert_leads_with_the_oom_container() {
    let (raw, event) = task_with(
        serde_json::json!([
            {"name": "forms-perf-test_log_router", "lastStatus": "STOPPED", "exitCode": 143},
            {"name": "healthy", "lastStatus": "STOPPED", "exitCode": 0},
            {"name": "app", "lastStatus": "STOPPED", "exitCode": 1,
             "reason": "OutOfMemoryError: Container killed due to memory usage"}
        ]),
        "EssentialContainerExited",
    );
    let rules = RuleSet::default_rules();
    let alert = render(rules.matching(&raw).next().expect("matches"), &event);
    assert_eq!(alert.attributes["exitCode"], 1, "the cause's exit code, not the sidecar's 143");
    assert_eq!(alert.document["containers"][0]["name"], "app");
    let rows: Vec<&str> = alert
        .message
        .lines()
        .skip_while(|line| !line.starts_with("Containers"))
        .skip(1)
        .take_while(|line| !line.is_empty())
        .collect();
    assert_eq!(rows.len(), 3, "{}", alert.message);
    assert!(rows[0].trim_start().starts_with("app "), "{rows:?}");
    assert!(rows[1].trim_start().starts_with("forms-perf-test_log_router "), "{rows:?}");
    assert!(rows[2].trim_start().starts_with("healthy "), "{rows:?}");
    // Long names keep the columns aligned: every status starts in the same column.
    let status_column: Vec<usize> =
        rows.iter().map(|row| row.find("STOPPED").expect("status")).collect();
    assert!(status_column.iter().all(|column| *column == status_column[0]), "{rows:?}");
}

#[test]
fn given_a_first_listed_container_without_exit_code_then_no_misleading_exit_code_attribute() {
    let (raw, event) = task_with(
        serde_json::json!([
            {"name": "sidecar", "lastStatus": "STOPPED", "exitCode": 143},
            {"name": "app", "lastStatus": "STOPPED",
             "reason": "CannotPullContainerError: pull image manifest has been retried 5 time(s)"}
        ]),
        "TaskFailedToStart",
    );
    let rules = RuleSet::from_json(include_str!("../../rules/examples.json")).expect("rules");
    let rule = rules.matching(&raw).find(|rule| rule.name == "task-failed-to-start");
    let alert = render(rule.expect("matches"), &event);
    assert_eq!(alert.attributes.get("exitCode"), None, "{:?}", alert.attributes);
    assert_eq!(alert.document["containers"][0]["name"], "app");
}

#[test]
fn given_stop_codes_aws_added_or_will_add_then_they_are_shown_and_matched_as_sent() {
    for code in ["InfrastructureHealth", "SomeCodeAwsAddsNextYear"] {
        let (raw, event) = task_with(
            serde_json::json!([{"name": "app", "lastStatus": "STOPPED", "exitCode": 0}]),
            code,
        );
        assert_eq!(
            event.task().and_then(|task| task.stop_code.as_ref()).map(|c| c.as_str()),
            Some(code)
        );
        let rule = RuleSet::from_json(&format!(
            r#"[{{"name": "by-code", "pattern": {{"detail": {{"stopCode": ["{code}"]}}}}}}]"#
        ))
        .expect("rule");
        let matched = rule.matching(&raw).next().expect("a stop code matches as sent");
        let alert = render(matched, &event);
        assert_eq!(alert.attributes["stopCode"], code);
        assert!(
            alert.message.contains(&format!("Stop code:          {code}\n")),
            "{}",
            alert.message
        );
        assert_eq!(alert.document["stopCode"], code);
        assert_eq!(serde_json::to_value(&event).expect("json")["detail"]["stopCode"], code);
    }
}
