//! GIVEN the captured events and the example rules WHEN an event matches a rule THEN the
//! rendered subject, text and attributes are what a person and a filter policy need
//! (insta snapshots, reviewed by hand).

use std::fs;
use std::path::Path;

use ecs_events::alert::{MAX_SUBJECT_CHARS, RuleSet, render};
use ecs_events::event::EcsEvent;
use serde_json::Value;

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
    let raw: Value =
        serde_json::from_str(include_str!("../../events/samples/task-oom-killed.json"))
            .expect("JSON");
    let event = EcsEvent::from_value(raw.clone()).expect("valid");
    let rule = rules.matching(&raw).next().expect("the guide's rule matches");
    let alert = render(rule, &event);
    assert_eq!(alert.attributes["exitCode"], 137);
    assert_eq!(alert.attributes["cluster"], "prod-ec2");
    assert_eq!(alert.attributes["service"], "image-resizer");
    assert_eq!(alert.attributes["stopCode"], "EssentialContainerExited");
    assert_eq!(alert.attributes["launchType"], "EC2");
    assert_eq!(alert.document["containers"][0]["exitCode"], 137);
    assert_eq!(
        alert.subject,
        "ECS task stopped: prod-ec2/image-resizer: Essential container in task exited"
    );
    assert!(alert.message.contains("OutOfMemoryError: Container killed due to memory usage"));
    assert!(alert.message.contains("(ran 18m 30s)"), "{}", alert.message);
}
