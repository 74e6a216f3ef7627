//! Configuration from environment variables, read once at cold start.

use chrono::Duration;

/// A variable is missing or invalid. The message names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set (or empty).
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    /// A variable has a value that cannot be used.
    #[error("environment variable {name} is {value:?}: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// Why it cannot be used.
        reason: &'static str,
    },
}

/// The state tracker's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateTrackerConfig {
    /// `TASK_TABLE`: the task table.
    pub task_table: String,
    /// `CONTAINER_INSTANCE_TABLE`: the container instance table.
    pub container_instance_table: String,
    /// `STOPPED_TASK_RETENTION_DAYS` (default 7): how long stopped tasks stay before TTL.
    pub retention: Duration,
}

impl StateTrackerConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let days = optional(&lookup, "STOPPED_TASK_RETENTION_DAYS")
            .map(|value| match value.parse::<u16>() {
                Ok(days) if days > 0 => Ok(days),
                _ => Err(ConfigError::Invalid {
                    name: "STOPPED_TASK_RETENTION_DAYS",
                    value,
                    reason: "expected a whole number of days from 1 to 65535",
                }),
            })
            .transpose()?
            .unwrap_or(7);
        Ok(Self {
            task_table: required(&lookup, "TASK_TABLE")?,
            container_instance_table: required(&lookup, "CONTAINER_INSTANCE_TABLE")?,
            retention: Duration::days(i64::from(days)),
        })
    }
}

/// A variable that must be set.
pub(crate) fn required(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, ConfigError> {
    optional(lookup, name).ok_or(ConfigError::Missing(name))
}

/// A variable that may be unset; empty counts as unset.
pub(crate) fn optional(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).filter(|value| !value.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn given_both_tables_then_retention_defaults_to_seven_days() {
        let config = StateTrackerConfig::from_lookup(lookup(&[
            ("TASK_TABLE", "ECSTaskState"),
            ("CONTAINER_INSTANCE_TABLE", "ECSCtrInstanceState"),
        ]))
        .expect("valid");
        assert_eq!(config.task_table, "ECSTaskState");
        assert_eq!(config.retention, Duration::days(7));
    }

    #[test]
    fn given_no_task_table_then_the_error_names_the_variable() {
        let error = StateTrackerConfig::from_lookup(lookup(&[("CONTAINER_INSTANCE_TABLE", "x")]))
            .expect_err("missing");
        assert_eq!(error.to_string(), "environment variable TASK_TABLE is not set");
    }

    #[test]
    fn given_a_zero_retention_then_the_error_names_the_variable_and_value() {
        let error = StateTrackerConfig::from_lookup(lookup(&[
            ("TASK_TABLE", "t"),
            ("CONTAINER_INSTANCE_TABLE", "c"),
            ("STOPPED_TASK_RETENTION_DAYS", "0"),
        ]))
        .expect_err("invalid");
        assert!(
            error
                .to_string()
                .starts_with("environment variable STOPPED_TASK_RETENTION_DAYS is \"0\"")
        );
    }
}
