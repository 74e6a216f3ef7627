//! `ecs-events test-pattern`: does an event match a pattern, as `aws events test-event-pattern`
//! answers it; the pattern linted first, as the functions lint their rules.

use std::path::Path;

use ecs_events::alert::{Finding, lint_pattern};
use ecs_events::event::without_bom;
use ecs_events::pattern::Pattern;
use serde_json::Value;

/// Fields `TestEventPattern` requires in the event.
pub const REQUIRED_EVENT_FIELDS: [&str; 7] =
    ["id", "account", "source", "time", "region", "resources", "detail-type"];

/// Why the test could not run.
#[derive(Debug, thiserror::Error)]
pub enum TestPatternError {
    /// An argument names a file that cannot be read.
    #[error("{what}: cannot read {path}: {source}")]
    Read {
        /// `pattern` or `event`.
        what: &'static str,
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The pattern is invalid.
    #[error("invalid pattern: {0}")]
    Pattern(#[from] ecs_events::pattern::PatternError),
    /// Parts of the pattern no ECS event can satisfy (a misspelt field or value), one per line.
    #[error("{}", .0.iter().map(|finding| format!("pattern {finding}")).collect::<Vec<_>>().join("\n"))]
    Lint(Vec<Finding>),
    /// The event is not valid JSON, or not an event.
    #[error("invalid event: {0}")]
    Event(String),
}

/// Reads an argument that is either inline JSON (starts with `{` or `[`) or a file path (a
/// leading byte-order mark is skipped).
pub fn read_argument(what: &'static str, argument: &str) -> Result<String, TestPatternError> {
    if argument.trim_start().starts_with(['{', '[']) {
        return Ok(argument.to_owned());
    }
    std::fs::read_to_string(Path::new(argument))
        .map(|text| without_bom(&text).to_owned())
        .map_err(|source| TestPatternError::Read { what, path: argument.to_owned(), source })
}

/// Tests `event` against `pattern` (both JSON text). The pattern is linted first, as the
/// functions lint their rules: a part no ECS event can satisfy is an error.
pub fn test_pattern(pattern: &str, event: &str) -> Result<bool, TestPatternError> {
    let pattern = Pattern::from_json(pattern)?;
    let findings = lint_pattern(pattern.source());
    if !findings.is_empty() {
        return Err(TestPatternError::Lint(findings));
    }
    let event: Value = serde_json::from_str(event).map_err(|error| {
        TestPatternError::Event(format!(
            "line {}, column {}: {error}",
            error.line(),
            error.column()
        ))
    })?;
    let Value::Object(fields) = &event else {
        return Err(TestPatternError::Event("an event must be a JSON object".into()));
    };
    if let Some(missing) = REQUIRED_EVENT_FIELDS.iter().find(|field| !fields.contains_key(**field))
    {
        return Err(TestPatternError::Event(format!("missing required field {missing:?}")));
    }
    Ok(pattern.matches(&event))
}
