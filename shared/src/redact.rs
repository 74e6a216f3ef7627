//! Redaction of secrets in events before they are logged, stored or printed.
//!
//! ECS events echo a task's `overrides`, and `containerOverrides[].environment[].value` often
//! holds secrets (tokens, passwords, connection strings). Their values are replaced by
//! [`REDACTED`]; the names stay, so a reader still sees which variables were overridden.

use serde_json::Value;

/// What a secret value becomes.
pub const REDACTED: &str = "*** redacted ***";

/// Redacts the secrets of a whole event (its `detail`).
pub fn redact_event(event: &mut Value) {
    if let Some(detail) = event.get_mut("detail") {
        redact_detail(detail);
    }
}

/// Redacts the secrets of an event's `detail`: the values of
/// `overrides.containerOverrides[].environment[]`.
pub fn redact_detail(detail: &mut Value) {
    let Some(Value::Array(overrides)) =
        detail.get_mut("overrides").and_then(|overrides| overrides.get_mut("containerOverrides"))
    else {
        return;
    };
    for container in overrides {
        if let Some(Value::Array(environment)) = container.get_mut("environment") {
            for variable in environment {
                if let Some(value) = variable.get_mut("value") {
                    *value = Value::String(REDACTED.to_owned());
                }
            }
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
