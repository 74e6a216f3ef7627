//! Configuration from environment variables, read once at cold start.

use chrono::Duration;

use crate::account::{AccountNames, AccountNamesError, is_account};
use crate::alert::{DEFAULT_LEDGER_RETENTION_DAYS, RuleSet, exit_codes};
use crate::reconcile::{
    DEFAULT_MAX_API_CALLS, DEFAULT_MEMBER_ROLE_NAME, Members, ReconcileSettings,
};
use crate::state::Retention;

/// A variable is missing or invalid. The message names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set (or empty).
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    /// The alert rules are invalid: the function must not start with them.
    #[error("{name}: {message}")]
    Rules {
        /// The variable the rules came from.
        name: &'static str,
        /// What is wrong, naming the rule.
        message: String,
    },
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
    /// One entry of a list variable cannot be used.
    #[error("environment variable {name}: entry {entry:?} {reason}")]
    InvalidEntry {
        /// The variable.
        name: &'static str,
        /// The entry at fault.
        entry: String,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// `ACCOUNT_NAMES` cannot be used.
    #[error("environment variable {name}: {source}")]
    AccountNames {
        /// The variable.
        name: &'static str,
        /// The entry at fault and what is wrong with it.
        source: AccountNamesError,
    },
}

/// Stops a function that cannot start (invalid configuration, no Lambda Runtime API): prints
/// `<function>: cannot start: <error>` on stderr, which CloudWatch Logs records, and exits
/// with status 1, instead of Rust's debug print of the error.
pub fn or_exit<T, E: std::fmt::Display>(function: &str, result: Result<T, E>) -> T {
    result.unwrap_or_else(|error| {
        eprintln!("{function}: cannot start: {error}");
        std::process::exit(1)
    })
}

/// The state tracker's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateTrackerConfig {
    /// `TASK_TABLE`: the task table.
    pub task_table: String,
    /// `CONTAINER_INSTANCE_TABLE`: the container instance table.
    pub container_instance_table: String,
    /// `STOPPED_TASK_RETENTION_DAYS` and `CONTAINER_INSTANCE_RETENTION_DAYS` (whole days from 1
    /// to 3650, default 7 each): how long stopped tasks and deregistered container instances
    /// stay before DynamoDB's TTL deletes them.
    pub retention: Retention,
    /// `DEAD_LETTER_QUEUE_URL` (optional): the buffer's dead-letter queue, where buffered
    /// records that can never be tracked go at once.
    pub dead_letter_queue_url: Option<String>,
    /// `SERVICE_TABLE`: services (desired counts, steady states, health).
    pub service_table: String,
    /// `DEPLOYMENT_TABLE`: deployments.
    pub deployment_table: String,
}

impl StateTrackerConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            task_table: required(&lookup, "TASK_TABLE")?,
            container_instance_table: required(&lookup, "CONTAINER_INSTANCE_TABLE")?,
            retention: Retention {
                stopped_task: retention_days(&lookup, "STOPPED_TASK_RETENTION_DAYS")?,
                inactive_instance: retention_days(&lookup, "CONTAINER_INSTANCE_RETENTION_DAYS")?,
            },
            dead_letter_queue_url: optional(&lookup, "DEAD_LETTER_QUEUE_URL"),
            service_table: required(&lookup, "SERVICE_TABLE")?,
            deployment_table: required(&lookup, "DEPLOYMENT_TABLE")?,
        })
    }
}

/// The reconciler's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcilerConfig {
    /// `TASK_TABLE`: the task table.
    pub task_table: String,
    /// `CONTAINER_INSTANCE_TABLE`: the container instance table.
    pub container_instance_table: String,
    /// `SERVICE_TABLE`: services (the desired counts and status `DescribeServices` gives).
    pub service_table: String,
    /// `RECONCILE_CLUSTERS` (names or ARNs, comma-separated; every cluster when unset),
    /// `RECONCILE_MAX_API_CALLS` (1 to 65535, default 2000) and the state tracker's retention
    /// variables (a task marked missing expires as a stopped task does).
    pub settings: ReconcileSettings,
    /// `MEMBER_ACCOUNTS` (comma-separated 12-digit ids; empty or unset: only the function's
    /// own account), `MEMBER_ROLE_NAME` (the role assumed in each, default
    /// `ecs-events-reader`) and `RECONCILE_REGIONS` (comma-separated; empty or unset: the
    /// function's own Region). See [`Members`].
    pub members: Members,
}

impl ReconcilerConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let retention = Retention {
            stopped_task: retention_days(&lookup, "STOPPED_TASK_RETENTION_DAYS")?,
            inactive_instance: retention_days(&lookup, "CONTAINER_INSTANCE_RETENTION_DAYS")?,
        };
        let clusters = optional(&lookup, "RECONCILE_CLUSTERS")
            .map(|list| {
                list.split(',').map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect()
            })
            .unwrap_or_default();
        let default_cap = u16::try_from(DEFAULT_MAX_API_CALLS).unwrap_or(u16::MAX);
        let mut accounts: Vec<String> = Vec::new();
        for account in list(&lookup, "MEMBER_ACCOUNTS") {
            if !is_account(&account) {
                return Err(ConfigError::InvalidEntry {
                    name: "MEMBER_ACCOUNTS",
                    entry: account,
                    reason: "is not a 12-digit account id",
                });
            }
            if !accounts.contains(&account) {
                accounts.push(account);
            }
        }
        let role_name = optional(&lookup, "MEMBER_ROLE_NAME")
            .map(|name| name.trim().to_owned())
            .unwrap_or_else(|| DEFAULT_MEMBER_ROLE_NAME.to_owned());
        if role_name.len() > 64
            || !role_name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
        {
            return Err(ConfigError::Invalid {
                name: "MEMBER_ROLE_NAME",
                value: role_name,
                reason: "expected an IAM role name: 1 to 64 letters, digits and +=,.@_-",
            });
        }
        let mut regions: Vec<String> = Vec::new();
        for region in list(&lookup, "RECONCILE_REGIONS") {
            let valid = region.contains('-')
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid {
                return Err(ConfigError::InvalidEntry {
                    name: "RECONCILE_REGIONS",
                    entry: region,
                    reason: "is not a Region name (such as eu-west-1)",
                });
            }
            if !regions.contains(&region) {
                regions.push(region);
            }
        }
        Ok(Self {
            task_table: required(&lookup, "TASK_TABLE")?,
            container_instance_table: required(&lookup, "CONTAINER_INSTANCE_TABLE")?,
            service_table: required(&lookup, "SERVICE_TABLE")?,
            settings: ReconcileSettings {
                clusters,
                max_api_calls: u64::from(positive(
                    &lookup,
                    "RECONCILE_MAX_API_CALLS",
                    default_cap,
                )?),
                dry_run: false,
                retention,
            },
            members: Members { accounts, role_name, regions },
        })
    }
}

/// The non-empty entries of a comma-separated variable, trimmed.
fn list(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Vec<String> {
    optional(lookup, name)
        .map(|list| {
            list.split(',').map(str::trim).filter(|e| !e.is_empty()).map(String::from).collect()
        })
        .unwrap_or_default()
}

/// The most days a retention may be (the templates' parameters allow the same range).
pub const MAX_RETENTION_DAYS: u16 = 3650;

/// A retention in whole days from 1 to [`MAX_RETENTION_DAYS`], 7 when unset.
fn retention_days(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Duration, ConfigError> {
    let days = positive(lookup, name, 7)?;
    if days > MAX_RETENTION_DAYS {
        return Err(ConfigError::Invalid {
            name,
            value: days.to_string(),
            reason: "expected a whole number of days from 1 to 3650",
        });
    }
    Ok(Duration::days(i64::from(days)))
}

/// A variable that must be set.
fn required(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, ConfigError> {
    optional(lookup, name).ok_or(ConfigError::Missing(name))
}

/// A variable that may be unset; empty counts as unset.
fn optional(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
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
    fn given_the_reconcilers_variables_then_clusters_and_cap_are_read_and_checked() {
        let tables =
            [("TASK_TABLE", "T"), ("CONTAINER_INSTANCE_TABLE", "I"), ("SERVICE_TABLE", "S")];
        let config = ReconcilerConfig::from_lookup(lookup(&tables)).expect("valid");
        assert_eq!(config.settings.clusters, Vec::<String>::new(), "every cluster");
        assert_eq!(config.settings.max_api_calls, DEFAULT_MAX_API_CALLS);
        let config = ReconcilerConfig::from_lookup(lookup(&[
            tables[0],
            tables[1],
            tables[2],
            ("RECONCILE_CLUSTERS", " prod, arn:aws:ecs:us-east-1:1:cluster/edge ,,"),
            ("RECONCILE_MAX_API_CALLS", "50"),
            ("STOPPED_TASK_RETENTION_DAYS", "3"),
        ]))
        .expect("valid");
        assert_eq!(config.settings.clusters, ["prod", "arn:aws:ecs:us-east-1:1:cluster/edge"]);
        assert_eq!(config.settings.max_api_calls, 50);
        assert_eq!(config.settings.retention.stopped_task, Duration::days(3));
        let error = ReconcilerConfig::from_lookup(lookup(&[
            tables[0],
            tables[1],
            tables[2],
            ("RECONCILE_MAX_API_CALLS", "0"),
        ]))
        .expect_err("zero calls");
        assert!(error.to_string().contains("RECONCILE_MAX_API_CALLS"), "{error}");
        assert_eq!(
            ReconcilerConfig::from_lookup(lookup(&tables[..1])),
            Err(ConfigError::Missing("CONTAINER_INSTANCE_TABLE"))
        );
    }

    #[test]
    fn given_member_accounts_role_and_regions_then_they_are_read_and_each_bad_entry_named() {
        let tables =
            [("TASK_TABLE", "T"), ("CONTAINER_INSTANCE_TABLE", "I"), ("SERVICE_TABLE", "S")];
        let config = ReconcilerConfig::from_lookup(lookup(&tables)).expect("valid");
        assert_eq!(config.members, Members::default(), "the own account and Region only");
        assert!(config.members.own_only());
        let mut vars = tables.to_vec();
        vars.extend([
            ("MEMBER_ACCOUNTS", " 444455556666,777788889999, ,444455556666"),
            ("MEMBER_ROLE_NAME", "org-ecs-reader"),
            ("RECONCILE_REGIONS", "eu-west-1, us-east-1"),
        ]);
        let members = ReconcilerConfig::from_lookup(lookup(&vars)).expect("valid").members;
        assert_eq!(members.accounts, ["444455556666", "777788889999"]);
        assert_eq!(members.role_name, "org-ecs-reader");
        assert_eq!(members.regions, ["eu-west-1", "us-east-1"]);
        let empty = [("MEMBER_ACCOUNTS", ""), ("RECONCILE_REGIONS", " ")];
        let mut vars = tables.to_vec();
        vars.extend(empty);
        let members = ReconcilerConfig::from_lookup(lookup(&vars)).expect("valid").members;
        assert_eq!(members, Members::default(), "empty is absent");
        for (name, value, expected) in [
            (
                "MEMBER_ACCOUNTS",
                "444455556666,4444-5555",
                "environment variable MEMBER_ACCOUNTS: entry \"4444-5555\" is not a 12-digit account id",
            ),
            (
                "RECONCILE_REGIONS",
                "eu-west-1,EU West",
                "environment variable RECONCILE_REGIONS: entry \"EU West\" is not a Region name",
            ),
            ("MEMBER_ROLE_NAME", "role/x", "environment variable MEMBER_ROLE_NAME is \"role/x\""),
        ] {
            let mut vars = tables.to_vec();
            vars.push((name, value));
            let error = ReconcilerConfig::from_lookup(lookup(&vars)).expect_err(value).to_string();
            assert!(error.starts_with(expected), "{error}");
        }
    }

    #[test]
    fn given_account_names_then_the_alerter_reads_them_and_a_bad_entry_is_named() {
        let base = [("TOPIC_ARN", "t"), ("LEDGER_TABLE", "l"), ("INCIDENT_TABLE", "i")];
        let config = AlerterConfig::from_lookup(lookup(&base)).expect("valid");
        assert!(config.account_names.is_empty());
        let mut vars = base.to_vec();
        vars.push(("ACCOUNT_NAMES", "111122223333=prod-eu,444455556666=staging"));
        let config = AlerterConfig::from_lookup(lookup(&vars)).expect("valid");
        assert_eq!(config.account_names.name("444455556666"), Some("staging"));
        let mut vars = base.to_vec();
        vars.push(("ACCOUNT_NAMES", "111122223333=prod-eu,44445555666=staging"));
        let error = AlerterConfig::from_lookup(lookup(&vars)).expect_err("bad id").to_string();
        assert_eq!(
            error,
            "environment variable ACCOUNT_NAMES: entry 2 \"44445555666=staging\": account id \
             \"44445555666\" must be 12 digits"
        );
    }

    #[test]
    fn given_both_tables_then_retention_defaults_to_seven_days() {
        let tables = [
            ("TASK_TABLE", "ECSTaskState"),
            ("CONTAINER_INSTANCE_TABLE", "ECSCtrInstanceState"),
            ("SERVICE_TABLE", "ECSServiceState"),
            ("DEPLOYMENT_TABLE", "ECSDeploymentState"),
        ];
        let config = StateTrackerConfig::from_lookup(lookup(&tables)).expect("valid");
        assert_eq!(config.task_table, "ECSTaskState");
        assert_eq!(config.service_table, "ECSServiceState");
        assert_eq!(config.deployment_table, "ECSDeploymentState");
        assert_eq!(config.retention, Retention::default());
        assert_eq!(
            StateTrackerConfig::from_lookup(lookup(&tables[..3])).expect_err("no deployment table"),
            ConfigError::Missing("DEPLOYMENT_TABLE")
        );
    }

    #[test]
    fn given_no_task_table_then_the_error_names_the_variable() {
        let error = StateTrackerConfig::from_lookup(lookup(&[("CONTAINER_INSTANCE_TABLE", "x")]))
            .expect_err("missing");
        assert_eq!(error.to_string(), "environment variable TASK_TABLE is not set");
    }

    #[test]
    fn given_retentions_then_each_kind_has_its_own_within_range() {
        let config = StateTrackerConfig::from_lookup(lookup(&[
            ("TASK_TABLE", "t"),
            ("CONTAINER_INSTANCE_TABLE", "c"),
            ("SERVICE_TABLE", "s"),
            ("DEPLOYMENT_TABLE", "d"),
            ("STOPPED_TASK_RETENTION_DAYS", "3650"),
            ("CONTAINER_INSTANCE_RETENTION_DAYS", "2"),
        ]))
        .expect("valid");
        assert_eq!(config.retention.stopped_task, Duration::days(3650));
        assert_eq!(config.retention.inactive_instance, Duration::days(2));
        for bad in ["3651", "7.5", "-1", "abc"] {
            let error = StateTrackerConfig::from_lookup(lookup(&[
                ("TASK_TABLE", "t"),
                ("CONTAINER_INSTANCE_TABLE", "c"),
                ("CONTAINER_INSTANCE_RETENTION_DAYS", bad),
            ]))
            .expect_err(bad);
            assert!(
                error
                    .to_string()
                    .starts_with("environment variable CONTAINER_INSTANCE_RETENTION_DAYS is"),
                "{error}"
            );
        }
    }

    #[test]
    fn given_invalid_inline_rules_then_the_error_names_the_variable_and_the_rule() {
        let error = AlerterConfig::from_lookup(lookup(&[
            ("TOPIC_ARN", "arn:aws:sns:us-east-1:111122223333:alerts"),
            ("LEDGER_TABLE", "ledger"),
            ("ALERT_RULES", r#"[{"name": "broken", "pattern": {"detail": "STOPPED"}}]"#),
        ]))
        .expect_err("invalid rules");
        assert!(
            error.to_string().starts_with("ALERT_RULES: rule #1 \"broken\": pattern"),
            "{error}"
        );
    }

    #[test]
    fn given_no_rules_then_the_alerter_uses_the_default_rule() {
        let config = AlerterConfig::from_lookup(lookup(&[
            ("TOPIC_ARN", "arn:aws:sns:us-east-1:111122223333:alerts"),
            ("LEDGER_TABLE", "ledger"),
            ("INCIDENT_TABLE", "incidents"),
        ]))
        .expect("valid");
        assert_eq!(config.rules.rules()[0].name, "essential-container-exited");
        assert_eq!(config.ledger_retention, Duration::days(14));
        assert_eq!(config.incident_table.as_deref(), Some("incidents"));
        assert_eq!(config.chat_topic_arn, None);
    }

    #[test]
    fn given_grouping_rules_without_an_incident_table_then_start_up_names_both() {
        let error =
            AlerterConfig::from_lookup(lookup(&[("TOPIC_ARN", "t"), ("LEDGER_TABLE", "l")]))
                .expect_err("no incident table");
        assert!(
            error.to_string().starts_with(
                "INCIDENT_TABLE: not set, and rule \"essential-container-exited\" groups its matches"
            ),
            "{error}"
        );
        let ungrouped = r#"[{"name": "each", "pattern": {"source": ["aws.ecs"]}, "group": false}]"#;
        let config = AlerterConfig::from_lookup(lookup(&[
            ("TOPIC_ARN", "t"),
            ("LEDGER_TABLE", "l"),
            ("ALERT_RULES", ungrouped),
        ]))
        .expect("a rule without grouping needs no incident table");
        assert_eq!(config.incident_table, None);
    }

    #[test]
    fn given_service_tables_silence_and_exit_codes_then_the_alerter_watches_services() {
        let base = [("TOPIC_ARN", "t"), ("LEDGER_TABLE", "l"), ("INCIDENT_TABLE", "i")];
        let config = AlerterConfig::from_lookup(lookup(&base)).expect("valid");
        assert_eq!((config.services, config.silence_after), (None, Some(300)));
        let mut vars = base.to_vec();
        vars.extend([
            ("SERVICE_TABLE", "s"),
            ("DEPLOYMENT_TABLE", "d"),
            ("TASK_TABLE", "k"),
            ("SILENCE_MINUTES", "0"),
            ("EXPECTED_EXIT_CODES", "3, 0"),
        ]);
        let config = AlerterConfig::from_lookup(lookup(&vars)).expect("valid");
        let tables = config.services.expect("services watched");
        assert_eq!((tables.service_table.as_str(), tables.task_table.as_str()), ("s", "k"));
        assert_eq!(config.silence_after, None, "0: never");
        let rule = &config.rules.rules()[0];
        assert_eq!(config.rules.expected_exit_codes(rule), [0, 3]);
        for (name, value, expected) in [
            ("SILENCE_MINUTES", "1441", "SILENCE_MINUTES is \"1441\""),
            ("EXPECTED_EXIT_CODES", "0,x", "EXPECTED_EXIT_CODES is \"0,x\""),
            ("EXPECTED_EXIT_CODES", "300", "EXPECTED_EXIT_CODES is \"300\""),
        ] {
            let mut vars = base.to_vec();
            vars.push((name, value));
            let error = AlerterConfig::from_lookup(lookup(&vars)).expect_err(value).to_string();
            assert!(error.contains(expected), "{error}");
        }
        let mut vars = base.to_vec();
        vars.push(("SERVICE_TABLE", "s"));
        let error = AlerterConfig::from_lookup(lookup(&vars)).expect_err("no deployment table");
        assert_eq!(error, ConfigError::Missing("DEPLOYMENT_TABLE"));
    }

    #[test]
    fn given_a_missing_rules_file_then_the_error_names_the_path() {
        let error = AlerterConfig::from_lookup(lookup(&[
            ("TOPIC_ARN", "t"),
            ("LEDGER_TABLE", "l"),
            ("ALERT_RULES_FILE", "/nonexistent/rules.json"),
        ]))
        .expect_err("missing file");
        assert!(
            error.to_string().starts_with("ALERT_RULES_FILE: cannot read /nonexistent/rules.json")
        );
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

/// The alerter's settings.
#[derive(Debug, Clone)]
pub struct AlerterConfig {
    /// `TOPIC_ARN`: the SNS topic alerts go to.
    pub topic_arn: String,
    /// `LEDGER_TABLE`: the idempotency ledger table.
    pub ledger_table: String,
    /// The rules: `ALERT_RULES` (the rules file's JSON), else the file at `ALERT_RULES_FILE`,
    /// else the default rule set.
    pub rules: RuleSet,
    /// `ALERT_LEDGER_RETENTION_DAYS` (default 14): how long ledger and incident entries
    /// stay. (A claim lasts until the claiming invocation's deadline: see
    /// [`crate::alert::Alerter`].)
    pub ledger_retention: Duration,
    /// `INCIDENT_TABLE`: where incidents are kept; required when a rule groups its matches
    /// (rules do unless they say `"group": false`).
    pub incident_table: Option<String>,
    /// `CHAT_TOPIC_ARN` (optional): every alert and digest also goes there, as an Amazon Q
    /// Developer custom notification.
    pub chat_topic_arn: Option<String>,
    /// `SERVICE_TABLE` (optional; then `DEPLOYMENT_TABLE` and `TASK_TABLE` are required): the
    /// tables the alerter reads services, deployments and tasks from, to tell deployments
    /// with their tasks, services down and incidents resolved.
    pub services: Option<ServiceTables>,
    /// `SILENCE_MINUTES` (0 to 1440, default 5; 0: never): how long a service that should run
    /// tasks may run none before it is told down.
    pub silence_after: Option<i64>,
    /// `ACCOUNT_NAMES` (optional: `111122223333=prod-eu,444455556666=staging`): the names
    /// messages give accounts (an account without one is named by its id).
    pub account_names: AccountNames,
}

/// The tables the alerter watches services through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTables {
    /// `SERVICE_TABLE`.
    pub service_table: String,
    /// `DEPLOYMENT_TABLE`.
    pub deployment_table: String,
    /// `TASK_TABLE`.
    pub task_table: String,
}

impl AlerterConfig {
    /// Reads the process environment (and the rules file it names).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let rules = match (optional(&lookup, "ALERT_RULES"), optional(&lookup, "ALERT_RULES_FILE"))
        {
            (Some(json), _) => rules_from("ALERT_RULES", &json, &json)?,
            (None, Some(path)) => {
                let text = std::fs::read_to_string(&path).map_err(|error| ConfigError::Rules {
                    name: "ALERT_RULES_FILE",
                    message: format!("cannot read {path}: {error}"),
                })?;
                rules_from("ALERT_RULES_FILE", &path, &text)?
            }
            (None, None) => RuleSet::default_rules(),
        };
        let rules = match optional(&lookup, "EXPECTED_EXIT_CODES") {
            None => rules,
            Some(list) => rules.with_expected_exit_codes(expected_exit_codes(&list)?),
        };
        let incident_table = optional(&lookup, "INCIDENT_TABLE");
        if incident_table.is_none()
            && let Some(rule) = rules.rules().iter().find(|rule| rule.group.is_some())
        {
            return Err(ConfigError::Rules {
                name: "INCIDENT_TABLE",
                message: format!(
                    "not set, and rule {:?} groups its matches into incidents (set it, or give \
                     the rule \"group\": false)",
                    rule.name
                ),
            });
        }
        let services = match optional(&lookup, "SERVICE_TABLE") {
            None => None,
            Some(service_table) => Some(ServiceTables {
                service_table,
                deployment_table: required(&lookup, "DEPLOYMENT_TABLE")?,
                task_table: required(&lookup, "TASK_TABLE")?,
            }),
        };
        let silence = match optional(&lookup, "SILENCE_MINUTES") {
            None => 5,
            Some(value) => match value.parse::<u16>() {
                Ok(minutes) if minutes <= 1_440 => minutes,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "SILENCE_MINUTES",
                        value,
                        reason: "expected whole minutes from 0 (never) to 1440",
                    });
                }
            },
        };
        let account_names = AccountNames::parse(&lookup("ACCOUNT_NAMES").unwrap_or_default())
            .map_err(|source| ConfigError::AccountNames { name: "ACCOUNT_NAMES", source })?;
        Ok(Self {
            account_names,
            topic_arn: required(&lookup, "TOPIC_ARN")?,
            ledger_table: required(&lookup, "LEDGER_TABLE")?,
            incident_table,
            chat_topic_arn: optional(&lookup, "CHAT_TOPIC_ARN"),
            services,
            silence_after: (silence > 0).then(|| i64::from(silence) * 60),
            rules,
            ledger_retention: Duration::days(i64::from(positive(
                &lookup,
                "ALERT_LEDGER_RETENTION_DAYS",
                DEFAULT_LEDGER_RETENTION_DAYS,
            )?)),
        })
    }
}

/// `EXPECTED_EXIT_CODES`: comma-separated exit codes that mean a task finished its work, for
/// rules that list none.
fn expected_exit_codes(list: &str) -> Result<Vec<i64>, ConfigError> {
    let invalid = |reason| ConfigError::Invalid {
        name: "EXPECTED_EXIT_CODES",
        value: list.to_owned(),
        reason,
    };
    let codes: Vec<i64> = list
        .split(',')
        .map(|code| code.trim().parse::<i64>())
        .collect::<Result<_, _>>()
        .map_err(|_| invalid("expected exit codes separated by commas, such as 0,3"))?;
    exit_codes(codes).map_err(|_| invalid("expected 1 to 32 exit codes from 0 to 255"))
}

fn rules_from(name: &'static str, origin: &str, text: &str) -> Result<RuleSet, ConfigError> {
    RuleSet::from_json(text).map_err(|error| ConfigError::Rules {
        name,
        message: if name == "ALERT_RULES" {
            error.to_string()
        } else {
            format!("{origin}: {error}")
        },
    })
}

/// A positive whole number, or `default` when unset.
fn positive(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u16,
) -> Result<u16, ConfigError> {
    optional(lookup, name).map_or(Ok(default), |value| match value.parse::<u16>() {
        Ok(number) if number > 0 => Ok(number),
        _ => Err(ConfigError::Invalid {
            name,
            value,
            reason: "expected a whole number from 1 to 65535",
        }),
    })
}
