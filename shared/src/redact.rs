//! Redaction of secrets in events before they are logged, stored or printed.
//!
//! ECS events echo a task's `overrides`, which often carry secrets: environment values
//! (tokens, passwords, connection strings) and `command` arguments (`--password=...`). The
//! overrides are redacted by an allow-list: the fields that cannot hold a secret (names, CPU
//! and memory, role ARNs, resource requirements...) stay; environment variables keep their
//! names; every other value — `command` arguments, environment values, and any override field
//! ECS adds later — becomes [`REDACTED`].

use serde_json::Value;

/// What a secret value becomes.
pub const REDACTED: &str = "*** redacted ***";

/// Fields of `overrides` kept as they are (`containerOverrides` is redacted per container).
const SAFE_TASK_OVERRIDES: [&str; 6] = [
    "cpu",
    "memory",
    "taskRoleArn",
    "executionRoleArn",
    "ephemeralStorage",
    "inferenceAcceleratorOverrides",
];

/// Fields of a container override kept as they are (`environment` keeps its names).
const SAFE_CONTAINER_OVERRIDES: [&str; 6] =
    ["name", "cpu", "memory", "memoryReservation", "resourceRequirements", "environmentFiles"];

/// Redacts the secrets of a whole event (its `detail`).
pub fn redact_event(event: &mut Value) {
    if let Some(detail) = event.get_mut("detail") {
        redact_detail(detail);
    }
}

/// Redacts the secrets of an event's `detail`: everything in `overrides` but the allowed
/// fields (see the module documentation).
pub fn redact_detail(detail: &mut Value) {
    let Some(Value::Object(overrides)) = detail.get_mut("overrides") else {
        return;
    };
    for (name, value) in overrides.iter_mut() {
        match (name.as_str(), value) {
            ("containerOverrides", Value::Array(containers)) => {
                containers.iter_mut().for_each(redact_container_override);
            }
            (name, _) if SAFE_TASK_OVERRIDES.contains(&name) => {}
            (_, value) => redact_value(value),
        }
    }
}

/// Whether [`redact_detail`] would change `detail` (its `overrides` hold a value to redact).
pub fn redaction_changes(detail: &Value) -> bool {
    let Some(overrides) = detail.get("overrides") else {
        return false;
    };
    let mut redacted = serde_json::json!({ "overrides": overrides.clone() });
    redact_detail(&mut redacted);
    redacted["overrides"] != *overrides
}

fn redact_container_override(container: &mut Value) {
    let Value::Object(fields) = container else {
        return redact_value(container);
    };
    for (name, value) in fields.iter_mut() {
        match (name.as_str(), value) {
            (name, _) if SAFE_CONTAINER_OVERRIDES.contains(&name) => {}
            ("environment", Value::Array(variables)) => {
                for variable in variables {
                    match variable {
                        Value::Object(entry) => entry
                            .iter_mut()
                            .filter(|(key, _)| key.as_str() != "name")
                            .for_each(|(_, value)| redact_value(value)),
                        other => redact_value(other),
                    }
                }
            }
            (_, value) => redact_value(value),
        }
    }
}

/// Replaces every string, number and boolean in `value` by [`REDACTED`], keeping the shape of
/// arrays (so `command` shows how many arguments there were) and the keys of objects.
fn redact_value(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(redact_value),
        Value::Object(fields) => fields.values_mut().for_each(redact_value),
        Value::Null => {}
        other => *other = Value::String(REDACTED.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn given_environment_overrides_then_values_are_redacted_and_names_kept() {
        let mut event = json!({"detail": {"overrides": {"containerOverrides": [
            {"name": "app", "environment": [{"name": "DB_PASSWORD", "value": "hunter2"}]},
            {"name": "sidecar"}
        ]}}});
        redact_event(&mut event);
        assert_eq!(
            event["detail"]["overrides"]["containerOverrides"][0]["environment"][0],
            json!({"name": "DB_PASSWORD", "value": REDACTED})
        );
        assert_eq!(
            event["detail"]["overrides"]["containerOverrides"][1],
            json!({"name": "sidecar"})
        );
    }

    #[test]
    fn given_command_and_unknown_override_fields_then_their_values_are_redacted() {
        let mut detail = json!({"overrides": {
            "containerOverrides": [{
                "name": "migrate", "cpu": 256, "memory": 512,
                "command": ["migrate", "--password=hunter2"],
                "entryPoint": ["sh", "-c", "TOKEN=abc run"],
                "secretsSomeday": {"token": "abc", "ttl": 5}
            }],
            "taskRoleArn": "arn:aws:iam::111122223333:role/app",
            "futureField": "token=abc"
        }});
        redact_detail(&mut detail);
        let container = &detail["overrides"]["containerOverrides"][0];
        assert_eq!(container["command"], json!([REDACTED, REDACTED]));
        assert_eq!(container["entryPoint"], json!([REDACTED, REDACTED, REDACTED]));
        assert_eq!(container["secretsSomeday"], json!({"token": REDACTED, "ttl": REDACTED}));
        assert_eq!((&container["name"], &container["cpu"]), (&json!("migrate"), &json!(256)));
        assert_eq!(detail["overrides"]["taskRoleArn"], "arn:aws:iam::111122223333:role/app");
        assert_eq!(detail["overrides"]["futureField"], REDACTED);
    }

    #[test]
    fn given_odd_shapes_then_redaction_leaves_them_alone() {
        for mut detail in
            [json!(null), json!({"overrides": 5}), json!({"overrides": {"containerOverrides": {}}})]
        {
            let before = detail.clone();
            redact_detail(&mut detail);
            assert_eq!(detail, before);
        }
    }
}
