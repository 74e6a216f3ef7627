//! GIVEN a malformed event WHEN it is parsed THEN the error names what was wrong and where.

use ecs_events::event::{EcsDetail, EcsEvent, EventError};
use serde_json::{Value, json};

fn task_event() -> Value {
    json!({
        "version": "0",
        "id": "3317b2af-7005-947d-b652-f55e762e571a",
        "detail-type": "ECS Task State Change",
        "source": "aws.ecs",
        "account": "111122223333",
        "time": "2024-05-02T10:15:30Z",
        "region": "us-east-1",
        "resources": ["arn:aws:ecs:us-east-1:111122223333:task/prod/0123456789abcdef0123456789abcdef"],
        "detail": {
            "clusterArn": "arn:aws:ecs:us-east-1:111122223333:cluster/prod",
            "taskArn": "arn:aws:ecs:us-east-1:111122223333:task/prod/0123456789abcdef0123456789abcdef",
            "lastStatus": "STOPPED",
            "version": 3,
            "containers": [
                {"name": "app", "exitCode": 1},
                {"name": "sidecar", "exitCode": 0},
                {"name": "log-router", "exitCode": 0}
            ]
        }
    })
}

fn field_error(event: Value) -> (String, String) {
    match EcsEvent::from_value(event) {
        Err(EventError::Field { path, message }) => (path, message),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn given_a_task_event_without_detail_version_then_the_error_names_detail_version() {
    let mut event = task_event();
    event["detail"].as_object_mut().expect("object").remove("version");
    let (path, message) = field_error(event);
    assert_eq!(path, "detail.version");
    assert_eq!(message, "missing field");
}

#[test]
fn given_a_wrong_type_inside_the_third_container_then_the_error_names_its_path() {
    let mut event = task_event();
    event["detail"]["containers"][2]["exitCode"] = json!("137");
    let (path, message) = field_error(event);
    assert_eq!(path, "detail.containers[2].exitCode");
    assert!(message.contains("invalid type: string \"137\""), "{message}");
}

#[test]
fn given_a_negative_version_then_the_error_names_detail_version() {
    let mut event = task_event();
    event["detail"]["version"] = json!(-1);
    let (path, message) = field_error(event);
    assert_eq!(path, "detail.version");
    assert!(message.contains("-1"), "{message}");
}

#[test]
fn given_a_version_beyond_u64_then_it_is_rejected_at_detail_version() {
    let bytes = serde_json::to_string(&task_event())
        .expect("serialises")
        .replace("\"version\":3", "\"version\":18446744073709551616");
    let error = EcsEvent::from_slice(bytes.as_bytes()).expect_err("version too large");
    assert!(
        matches!(&error, EventError::Field { path, .. } if path == "detail.version"),
        "{error}"
    );
}

#[test]
fn given_truncated_json_then_the_error_gives_line_and_column() {
    let error =
        EcsEvent::from_slice(b"{\n  \"version\": \"0\",\n  \"id\": ").expect_err("truncated");
    assert_eq!(
        error,
        EventError::Json { line: 3, column: 8, message: "EOF while parsing a value".into() }
    );
    assert_eq!(error.to_string(), "invalid JSON at line 3, column 8: EOF while parsing a value");
}

#[test]
fn given_invalid_utf8_then_it_is_a_json_error() {
    let error = EcsEvent::from_slice(b"{\"id\": \"\xff\"}").expect_err("invalid UTF-8");
    assert!(matches!(error, EventError::Json { line: 1, .. }), "{error}");
}

#[test]
fn given_a_non_ecs_source_then_the_error_names_the_source() {
    let mut event = task_event();
    event["source"] = json!("aws.ec2");
    let error = EcsEvent::from_value(event).expect_err("not ECS");
    assert_eq!(error, EventError::NotEcs { event_source: "aws.ec2".into() });
    assert_eq!(error.to_string(), "event source is \"aws.ec2\", expected \"aws.ecs\"");
}

#[test]
fn given_no_source_then_the_error_names_the_missing_field() {
    let mut event = task_event();
    event.as_object_mut().expect("object").remove("source");
    assert_eq!(field_error(event), ("source".into(), "missing field".into()));
}

#[test]
fn given_no_resources_then_the_event_is_read_and_written_back_without_them() {
    let mut event = task_event();
    event.as_object_mut().expect("object").remove("resources");
    let parsed = EcsEvent::from_value(event.clone()).expect("resources are optional");
    assert!(parsed.resources().is_empty());
    assert_eq!(parsed.to_value(), event);
}

#[test]
fn given_a_json_array_then_the_error_says_an_event_is_an_object() {
    let error = EcsEvent::from_slice(b"[1, 2]").expect_err("array");
    assert_eq!(error.to_string(), "an event must be a JSON object, found an array");
}

#[test]
fn given_an_invalid_timestamp_then_the_error_names_the_field_and_the_text() {
    let mut event = task_event();
    event["detail"]["stoppedAt"] = json!("yesterday");
    let (path, message) = field_error(event);
    assert_eq!(path, "detail.stoppedAt");
    assert!(message.starts_with("invalid timestamp \"yesterday\""), "{message}");
}

#[test]
fn given_an_unknown_ecs_detail_type_then_the_raw_detail_is_kept() {
    let mut event = task_event();
    event["detail-type"] = json!("ECS Daemon Brand New Change");
    event["detail"] = json!({"anything": [1, {"goes": true}]});
    let parsed = EcsEvent::from_value(event.clone()).expect("kept, not an error");
    assert_eq!(parsed.detail, EcsDetail::Unknown(event["detail"].clone()));
    assert_eq!(parsed.to_value(), event);
}

#[test]
fn given_a_detail_that_is_not_an_object_then_the_error_names_detail() {
    let mut event = task_event();
    event["detail"] = json!("STOPPED");
    assert_eq!(field_error(event).0, "detail");
}

#[test]
fn given_serde_deserialisation_of_a_bad_event_then_the_error_keeps_the_path() {
    let mut event = task_event();
    event["detail"]["containers"][1]["name"] = json!(42);
    let error = serde_json::from_value::<EcsEvent>(event).expect_err("bad container name");
    assert!(error.to_string().starts_with("detail.containers[1].name: invalid type"), "{error}");
}

#[test]
fn given_task_keys_that_are_not_task_arns_then_the_error_names_the_field_and_the_expected_shape() {
    for bad in ["", "  ", "not-an-arn", "arn:aws:ecs:us-east-1:111122223333:service/prod/web"] {
        let mut event = task_event();
        event["detail"]["taskArn"] = json!(bad);
        let (path, message) = field_error(event);
        assert_eq!(path, "detail.taskArn");
        assert!(message.starts_with("expected a task ARN (arn:<partition>:ecs:"), "{message}");
        assert!(message.contains(&format!("found {bad:?}: ")), "{message}");
    }
    let mut event = task_event();
    event["detail"]["clusterArn"] = json!("");
    assert_eq!(field_error(event).0, "detail.clusterArn");
    let mut event = task_event();
    event["detail"]["lastStatus"] = json!("");
    assert_eq!(field_error(event).0, "detail.lastStatus");
}

#[test]
fn given_old_format_and_other_partition_task_arns_then_the_event_is_accepted() {
    for arn in [
        "arn:aws:ecs:us-east-1:111122223333:task/b99d40b3-5176-4f71-9a52-9dbd6f1cebef",
        "arn:aws-cn:ecs:cn-north-1:111122223333:task/prod/0123456789abcdef0123456789abcdef",
        "arn:aws-us-gov:ecs:us-gov-west-1:111122223333:task/prod/0123456789abcdef",
    ] {
        let mut event = task_event();
        event["detail"]["taskArn"] = json!(arn);
        assert!(EcsEvent::from_value(event).is_ok(), "{arn}");
    }
}

#[test]
fn given_a_container_instance_event_keyed_by_a_task_arn_then_it_is_refused() {
    let mut event: Value = serde_json::from_str(include_str!(
        "../../events/samples/container-instance-registered.json"
    ))
    .expect("JSON");
    event["detail"]["containerInstanceArn"] =
        json!("arn:aws:ecs:us-east-1:111122223333:task/prod-ec2/961442577256fe5897062894139e299a");
    let (path, message) = field_error(event);
    assert_eq!(path, "detail.containerInstanceArn");
    assert!(message.starts_with("expected a container instance ARN"), "{message}");
}
