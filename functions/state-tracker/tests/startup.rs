//! GIVEN a missing or invalid setting WHEN the function starts THEN it exits with one readable
//! line naming the variable (not Rust's debug print of the error).

use std::process::Command;

fn start(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_state-tracker"))
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs");
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn given_no_task_table_then_start_up_fails_naming_the_variable() {
    let (code, stderr) = start(&[]);
    assert_eq!(code, Some(1));
    assert_eq!(stderr, "state-tracker: cannot start: environment variable TASK_TABLE is not set\n");
}

#[test]
fn given_a_fractional_retention_then_start_up_fails_naming_the_variable_and_value() {
    let (code, stderr) = start(&[
        ("TASK_TABLE", "t"),
        ("CONTAINER_INSTANCE_TABLE", "c"),
        ("STOPPED_TASK_RETENTION_DAYS", "7.5"),
    ]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.starts_with(
            "state-tracker: cannot start: environment variable STOPPED_TASK_RETENTION_DAYS is \"7.5\""
        ),
        "{stderr}"
    );
}
