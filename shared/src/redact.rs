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
/// fields (see the module documentation). Says whether anything changed.
pub fn redact_detail(detail: &mut Value) -> bool {
    let Some(Value::Object(overrides)) = detail.get_mut("overrides") else {
        return false;
    };
    let mut changed = false;
    for (name, value) in overrides.iter_mut() {
        changed |= match (name.as_str(), value) {
            ("containerOverrides", Value::Array(containers)) => containers
                .iter_mut()
                .fold(false, |changed, c| redact_container_override(c) | changed),
            (name, _) if SAFE_TASK_OVERRIDES.contains(&name) => false,
            (_, value) => redact_value(value),
        };
    }
    changed
}

fn redact_container_override(container: &mut Value) -> bool {
    let Value::Object(fields) = container else {
        return redact_value(container);
    };
    let mut changed = false;
    for (name, value) in fields.iter_mut() {
        changed |= match (name.as_str(), value) {
            (name, _) if SAFE_CONTAINER_OVERRIDES.contains(&name) => false,
            ("environment", Value::Array(variables)) => {
                variables.iter_mut().fold(false, |changed, variable| {
                    let redacted = match variable {
                        Value::Object(entry) => entry
                            .iter_mut()
                            .filter(|(key, _)| key.as_str() != "name")
                            .fold(false, |changed, (_, value)| redact_value(value) | changed),
                        other => redact_value(other),
                    };
                    redacted | changed
                })
            }
            (_, value) => redact_value(value),
        };
    }
    changed
}

/// Replaces every string, number and boolean in `value` by [`REDACTED`], keeping the shape of
/// arrays (so `command` shows how many arguments there were) and the keys of objects. Says
/// whether anything changed (a value already redacted stays as it is).
fn redact_value(value: &mut Value) -> bool {
    match value {
        Value::Array(items) => {
            items.iter_mut().fold(false, |changed, item| redact_value(item) | changed)
        }
        Value::Object(fields) => {
            fields.values_mut().fold(false, |changed, field| redact_value(field) | changed)
        }
        Value::Null => false,
        Value::String(text) if text == REDACTED => false,
        other => {
            *other = Value::String(REDACTED.to_owned());
            true
        }
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

    #[test]
    fn given_a_detail_then_redaction_says_whether_it_changed_anything() {
        let mut plain = json!({"overrides": {"containerOverrides": [{"name": "app", "cpu": 256}]}});
        assert!(!redact_detail(&mut plain));
        let mut secret = json!({"overrides": {"containerOverrides": [
            {"name": "app", "command": ["--token=abc"]}
        ]}});
        assert!(redact_detail(&mut secret));
        assert_eq!(secret["overrides"]["containerOverrides"][0]["command"], json!([REDACTED]));
        // Redacted once, it is left as it is.
        assert!(!redact_detail(&mut secret));
        assert!(!redact_detail(&mut json!({"lastStatus": "RUNNING"})));
    }
}
