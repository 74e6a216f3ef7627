//! Alert rules: named EventBridge patterns, read from a JSON file and compiled once.
//!
//! The file is an array of `{"name": ..., "description": ..., "pattern": {...}}`. The same file
//! drives the EventBridge rules the templates deploy and the matching inside the alerter and
//! local replay.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::event::without_bom;
use crate::pattern::{Pattern, PatternError};

/// The default rule set: the AWS ECS guide's stopped-task rule, `essential-container-exited`.
pub const DEFAULT_RULES_JSON: &str = include_str!("../../../rules/default.json");

/// Longest rule name: EventBridge rule names are at most 64 characters, and the templates
/// prefix them with the stack's short name.
pub const MAX_RULE_NAME_LEN: usize = 40;

/// A named, compiled alert rule.
#[derive(Debug, Clone)]
pub struct AlertRule {
    /// Unique name: letters, digits, `.`, `-` and `_`, as EventBridge rule names.
    pub name: String,
    /// What the rule is about, for people.
    pub description: String,
    /// The compiled pattern.
    pub pattern: Pattern,
}

/// Why a rules file cannot be used. Every case names the rule (by position and name).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    /// The file is not a JSON array of rule objects.
    #[error("rules file: {0}")]
    Format(String),
    /// The file has no rules.
    #[error("rules file: no rules")]
    Empty,
    /// A rule's name is empty, too long or has characters EventBridge does not allow.
    #[error(
        "rule #{index} {name:?}: name must be 1 to {MAX_RULE_NAME_LEN} letters, digits, '.', '-' or '_'"
    )]
    InvalidName {
        /// 1-based position in the file.
        index: usize,
        /// The name.
        name: String,
    },
    /// Two rules have the same name.
    #[error("rule #{index} {name:?}: the name is already used by rule #{first}")]
    DuplicateName {
        /// 1-based position of the second one.
        index: usize,
        /// 1-based position of the first one.
        first: usize,
        /// The name.
        name: String,
    },
    /// A rule's pattern is invalid.
    #[error("rule #{index} {name:?}: pattern {source}")]
    Pattern {
        /// 1-based position in the file.
        index: usize,
        /// The rule's name.
        name: String,
        /// What is wrong with the pattern.
        source: PatternError,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: String,
    #[serde(default)]
    description: String,
    pattern: Box<RawValue>,
}

/// The rules an alerter applies, in file order.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<AlertRule>,
}

impl RuleSet {
    /// Reads and compiles a rules file's text (a leading byte-order mark is skipped).
    pub fn from_json(text: &str) -> Result<Self, RuleError> {
        let text = without_bom(text);
        let entries: Vec<RuleFile> =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text))
                .map_err(|error| {
                    RuleError::Format(format!("{} at {}", error.inner(), error.path()))
                })?;
        if entries.is_empty() {
            return Err(RuleError::Empty);
        }
        let mut rules: Vec<AlertRule> = Vec::with_capacity(entries.len());
        for (position, entry) in entries.into_iter().enumerate() {
            let index = position + 1;
            let valid_name = !entry.name.is_empty()
                && entry.name.len() <= MAX_RULE_NAME_LEN
                && entry.name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !valid_name {
                return Err(RuleError::InvalidName { index, name: entry.name });
            }
            if let Some(first) = rules.iter().position(|rule| rule.name == entry.name) {
                return Err(RuleError::DuplicateName { index, first: first + 1, name: entry.name });
            }
            let pattern = Pattern::from_json(entry.pattern.get())
                .map_err(|source| RuleError::Pattern { index, name: entry.name.clone(), source })?;
            rules.push(AlertRule { name: entry.name, description: entry.description, pattern });
        }
        Ok(Self { rules })
    }

    /// The default rule set ([`DEFAULT_RULES_JSON`]).
    pub fn default_rules() -> Self {
        // The default file ships with the crate and is tested to compile.
        Self::from_json(DEFAULT_RULES_JSON).unwrap_or(Self { rules: Vec::new() })
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[AlertRule] {
        &self.rules
    }

    /// The rules whose pattern matches `event`, in file order.
    pub fn matching<'a>(&'a self, event: &'a Value) -> impl Iterator<Item = &'a AlertRule> + 'a {
        self.rules.iter().filter(move |rule| rule.pattern.matches(event))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn given_the_default_rules_then_it_is_exactly_the_guides_rule() {
        let rules = RuleSet::from_json(DEFAULT_RULES_JSON).expect("default rules compile");
        let [rule] = rules.rules() else { panic!("one default rule") };
        assert_eq!(rule.name, "essential-container-exited");
        assert_eq!(
            rule.pattern.source(),
            &json!({"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"],
                    "detail": {"lastStatus": ["STOPPED"],
                               "stoppedReason": ["Essential container in task exited"]}})
        );
        assert_eq!(RuleSet::default_rules().rules().len(), 1);
    }

    #[test]
    fn given_the_example_rules_then_they_compile() {
        let rules = RuleSet::from_json(include_str!("../../../rules/examples.json"))
            .expect("example rules compile");
        assert_eq!(rules.rules().len(), 6);
    }

    #[test]
    fn given_an_invalid_pattern_then_the_error_names_the_rule_and_the_field() {
        let error = RuleSet::from_json(
            r#"[{"name": "ok", "pattern": {"source": ["aws.ecs"]}},
                {"name": "bad", "pattern": {"detail": {"stopCode": [{"sufix": "x"}]}}}]"#,
        )
        .expect_err("invalid pattern");
        let text = error.to_string();
        assert!(text.starts_with("rule #2 \"bad\": pattern detail.stopCode"), "{text}");
    }

    #[test]
    fn given_two_rules_with_one_name_then_the_error_names_both_positions() {
        let error = RuleSet::from_json(
            r#"[{"name": "a", "pattern": {"source": ["aws.ecs"]}},
                {"name": "a", "pattern": {"source": ["aws.ecs"]}}]"#,
        )
        .expect_err("duplicate");
        assert_eq!(error.to_string(), "rule #2 \"a\": the name is already used by rule #1");
    }

    #[test]
    fn given_a_name_with_spaces_then_it_is_refused() {
        let error = RuleSet::from_json(r#"[{"name": "my rule", "pattern": {"source": ["x"]}}]"#)
            .expect_err("bad name");
        assert!(matches!(error, RuleError::InvalidName { index: 1, .. }), "{error}");
    }

    #[test]
    fn given_an_unknown_key_in_a_rule_then_the_error_names_it() {
        let error = RuleSet::from_json(r#"[{"name": "a", "patern": {}}]"#).expect_err("typo");
        assert!(error.to_string().contains("unknown field `patern`"), "{error}");
    }

    #[test]
    fn given_an_empty_file_then_it_is_refused() {
        assert_eq!(RuleSet::from_json("[]").expect_err("empty"), RuleError::Empty);
    }

    #[test]
    fn given_a_rules_file_saved_with_a_byte_order_mark_then_it_reads_as_without() {
        let rules = RuleSet::from_json(&format!("{}{DEFAULT_RULES_JSON}", crate::event::UTF8_BOM))
            .expect("a BOM is skipped");
        assert_eq!(rules.rules()[0].name, "essential-container-exited");
    }

    #[test]
    fn given_a_rule_with_a_number_that_underflows_then_the_error_names_rule_and_field() {
        let error = RuleSet::from_json(
            r#"[{"name": "tiny", "pattern": {"detail": {"cpu": [{"numeric": ["=", 1E-325]}]}}}]"#,
        )
        .expect_err("underflow");
        assert!(
            error.to_string().starts_with("rule #1 \"tiny\": pattern detail.cpu: number 1E-325"),
            "{error}"
        );
    }
}
