//! GIVEN invalid alert rules WHEN the alerter starts THEN it exits with one readable line naming
//! the variable and the rule (not Rust's debug print of the error).

use std::process::Command;

#[test]
fn given_an_invalid_rule_then_start_up_fails_naming_the_variable_and_the_rule() {
    let output = Command::new(env!("CARGO_BIN_EXE_alerter"))
        .env_clear()
        .env("TOPIC_ARN", "arn:aws:sns:us-east-1:111122223333:alerts")
        .env("LEDGER_TABLE", "ledger")
        .env("ALERT_RULES", r#"[{"name": "broken", "pattern": {"detail": "STOPPED"}}]"#)
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .starts_with("alerter: cannot start: ALERT_RULES: rule #1 \"broken\": pattern detail"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("Rules {"), "{stderr}");
}

#[test]
fn given_a_misspelt_rule_then_start_up_fails_naming_each_problem_and_the_one_meant() {
    // A rule that compiles but that no ECS event can match must not deploy silently.
    let rules = r#"[{"name": "stopped", "pattern": {"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"], "detail": {"lastStatus": ["STOPED"]}}},
                    {"name": "deploys", "pattern": {"detail-type": ["ECS Deployment State Changed"]}}]"#;
    let output = Command::new(env!("CARGO_BIN_EXE_alerter"))
        .env_clear()
        .env("TOPIC_ARN", "arn:aws:sns:us-east-1:111122223333:alerts")
        .env("LEDGER_TABLE", "ledger")
        .env("ALERT_RULES", rules)
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with(
            "alerter: cannot start: ALERT_RULES: rule #1 \"stopped\": detail.lastStatus: \"STOPED\""
        ),
        "{stderr}"
    );
    assert!(lines[0].ends_with("did you mean `STOPPED`?"), "{stderr}");
    assert!(
        lines[1].starts_with(
            "rule #2 \"deploys\": detail-type: \"ECS Deployment State Changed\" matches no detail type ECS sends"
        ),
        "{stderr}"
    );
    assert!(lines[1].ends_with("did you mean `ECS Deployment State Change`?"), "{stderr}");
}
