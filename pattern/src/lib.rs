//! Amazon EventBridge event patterns: compile a pattern once, match it against many events.
//!
//! This crate owns the meaning of an event pattern. It follows the EventBridge user guide
//! ("Event patterns", "Comparison operators for use in event patterns", "Content filtering",
//! "Matching null values and empty strings", "Best practices when defining event patterns")
//! and, for what the guide leaves open, [event-ruler](https://github.com/aws/event-ruler), the
//! engine behind EventBridge and its `TestEventPattern` API.
//!
//! ```
//! use eventbridge_pattern::Pattern;
//! use serde_json::json;
//!
//! let pattern = Pattern::from_json(
//!     r#"{"source": ["aws.ecs"], "detail": {"containers": {"exitCode": [{"numeric": [">", 0]}]}}}"#,
//! )?;
//! let event = json!({"source": "aws.ecs", "detail": {"containers": [{"exitCode": 0}, {"exitCode": 137}]}});
//! assert!(pattern.matches(&event));
//! # Ok::<(), eventbridge_pattern::PatternError>(())
//! ```
//!
//! Events are matched through the [`Json`] trait, implemented for `serde_json::Value`: any
//! JSON representation that says what kind a value is, finds an object's field by name,
//! lists an array's elements and gives the scalar inside can be matched as it is.
//! [`Pattern::paths`] lists the fields a pattern reads, which are all that its result depends
//! on.
//!
//! # Meaning
//!
//! * A pattern is a JSON object. Each field is a nested object or a non-empty array of
//!   values and operators; all fields must match (AND), any entry of an array may match (OR).
//!   An event is matched by looking each pattern field up in the event object at the same
//!   place; events that are not objects never match.
//! * Exact values are typed: `["5"]` matches the string only, `[5]` the number only, `[null]`
//!   a `null` (not a missing field), `[""]` the empty string only. Numbers that EventBridge
//!   can compare (within ±5.0e9, at most six decimal places) match by value, so `[5]` matches
//!   `5.0`; others (an account number such as `123456789012`) match only the same number.
//!   A string that is an IP address literal also matches other spellings of that address.
//! * Arrays in events: a field holding an array matches when any element matches (nested
//!   arrays too). A pattern object applied to an array of objects must be satisfied by a
//!   single element (event-ruler's array consistency): `{"containers": {"name": ["app"],
//!   "exitCode": [1]}}` needs one container with both.
//! * `prefix`, `suffix`, `equals-ignore-case`, `prefix`/`suffix` with `equals-ignore-case`,
//!   `wildcard` and `cidr` only match strings. Ignoring case lets each character of the
//!   operand appear in its lower- or upper-case form (full Unicode mappings).
//! * `numeric` only matches numbers EventBridge can compare (see above).
//! * `anything-but` matches any value of the field that is not excluded, of any type
//!   (`{"anything-but": "x"}` matches `5` and `null`; a numeric list never excludes
//!   strings). On an array it matches when some element is not excluded. It never matches a
//!   missing field, nor does any operator other than `exists: false`.
//! * `exists` is about leaf values: `exists: true` matches a field holding a scalar (`null`
//!   included) or an array with a scalar somewhere; a field holding only an object, `[]` or
//!   `[{}]` counts as absent, so `exists: false` matches it.
//! * `$or` (an array of at least two objects, at any level) matches when any of its objects
//!   matches the object holding the `$or`.
//!
//! Deliberate departures from event-ruler, where its behaviour is an artefact of how it
//! stores rules rather than something a pattern author can rely on:
//!
//! * A pattern object that contains only `exists: false` conditions, applied to an array of
//!   objects, holds when no element has the fields; any other pattern object must be
//!   satisfied, `exists: false` included, by one element. (event-ruler's result for mixed
//!   objects depends on the alphabetical order of the field names.)
//! * A field constrained twice in one `$or` combination (`{"a": [1], "$or": [{"a": [2]},
//!   ...]}`) is an error rather than "the last one written wins".
//! * Field names are not split on dots: `{"detail.state": [...]}` names a field called
//!   `detail.state`. A `$or` whose value is not an array of two or more objects is an error,
//!   not a field named `$or`. The undocumented `exactly` operator is not supported.
//! * Numbers are judged by their `f64` value, not their text: `0.1000000` counts as having
//!   six decimals or fewer.
//!
//! # Validation
//!
//! [`Pattern::compile`] refuses, with a [`PatternError`] naming the field, everything
//! EventBridge refuses: a non-object pattern, an empty object or array, a field that is a
//! string, number, boolean or null, an unknown operator, an operator object with more than
//! one key, a wrongly typed operand, a malformed `numeric` expression (unknown operator,
//! wrong order, missing or extra terms, an empty range, a non-number, a number out of range
//! or with more than six decimals), a number literal a double cannot hold (`1E-325` would read
//! as 0; refused by [`Pattern::from_json`], which sees the text), an invalid CIDR (EventBridge also refuses `/32` for IPv4
//! and `/128` for IPv6: use the address as a value), an invalid wildcard (`**`, an escape
//! other than `\*` or `\\`, a trailing `\`), an `anything-but` that is nested, empty, of
//! mixed types or of `null`/booleans, an empty `anything-but` prefix or suffix, `exists` that
//! is not a boolean, a malformed `$or`, and a reserved operator name used as a field name
//! inside `$or`. No valid pattern matches every event.
//!
//! # Limits
//!
//! So that compiling and matching take bounded time and memory, a pattern may nest at most
//! [`MAX_DEPTH`] objects deep, hold at most [`MAX_VALUES`] values (counting each entry of
//! each array and each element of an `anything-but` list) and expand to at most
//! [`MAX_OR_COMBINATIONS`] `$or` combinations (EventBridge's own cap). Matching never
//! re-parses the pattern, never allocates for ASCII operands, walks the event by reference
//! and takes time proportional to the pattern's size times the event's size; arrays nested
//! more than 64 deep inside an event are not looked into.

mod cidr;
mod compile;
mod error;
mod ignore_case;
mod json;
mod matcher;
mod number;
mod tree;
mod wildcard;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde_json::Value;

pub use error::{PatternError, PatternErrorKind};
pub use json::{Json, JsonKind, JsonNumber};

/// The deepest a pattern may nest objects: the top level is depth 1, and each nested field
/// object or `$or` branch adds one.
pub const MAX_DEPTH: usize = 32;

/// The most values a pattern may hold, counting every entry of every match array and every
/// element of an `anything-but` list.
pub const MAX_VALUES: usize = 1024;

/// The most combinations a pattern's `$or`s may expand to (EventBridge refuses patterns with
/// more than 1000).
pub const MAX_OR_COMBINATIONS: u64 = 1000;

/// A compiled EventBridge event pattern. Compile once with [`Pattern::compile`] (or
/// [`Pattern::from_json`], or `str::parse`), then match any number of events, from any
/// number of threads. Cloning is cheap.
#[derive(Clone)]
pub struct Pattern {
    inner: Arc<Inner>,
}

struct Inner {
    root: tree::ObjectPattern,
    source: Value,
}

impl Pattern {
    /// Compiles a pattern given as a JSON value, or says what is wrong with it and where.
    pub fn compile(pattern: &Value) -> Result<Self, PatternError> {
        let root = compile::compile(pattern)?;
        Ok(Self { inner: Arc::new(Inner { root, source: pattern.clone() }) })
    }

    /// Compiles a pattern given as JSON text. Text that is not JSON is a [`PatternError`] of
    /// kind [`PatternErrorKind::Json`]; a number literal a double cannot hold (`1E-325`, which
    /// would read as 0) is refused, naming its field.
    pub fn from_json(text: &str) -> Result<Self, PatternError> {
        let json_error = |error: serde_json::Error| {
            PatternError::new(PatternErrorKind::Json, &[], format!("invalid JSON: {error}"))
        };
        let source: Value = serde_json::from_str(text).map_err(json_error)?;
        let raw: &serde_json::value::RawValue = serde_json::from_str(text).map_err(json_error)?;
        number::check_literals(raw, &mut Vec::new(), compile::RESERVED_IN_OR)?;
        let root = compile::compile(&source)?;
        Ok(Self { inner: Arc::new(Inner { root, source }) })
    }

    /// Whether the event matches. Events that are not JSON objects never match.
    ///
    /// The event is any [`Json`] value, read by reference: a `serde_json::Value` as it is, or
    /// another representation that implements the trait.
    pub fn matches<J: Json + ?Sized>(&self, event: &J) -> bool {
        event.kind() == JsonKind::Object && self.inner.root.matches_object(Some(event))
    }

    /// Whether the event, given as raw JSON bytes, matches. Fails only if the bytes are not
    /// JSON.
    pub fn matches_slice(&self, event: &[u8]) -> Result<bool, serde_json::Error> {
        let event: Value = serde_json::from_slice(event)?;
        Ok(self.matches(&event))
    }

    /// The pattern as it was given, for example to write it back into a template.
    pub fn source(&self) -> &Value {
        &self.inner.source
    }

    /// Every field path the pattern reads, as keys from the event's root
    /// (`["detail", "containers", "exitCode"]`), the fields inside `$or` branches included;
    /// sorted and without repeats. A path is one that a match list sits at: the objects on
    /// the way to it are not listed on their own. One path may begin another when `$or`
    /// branches read a field both as a value and as an object.
    ///
    /// Matching depends on nothing else: an event reduced to these paths gets the same result
    /// as the whole event. Reduced means: in the root object, and in every object on the way
    /// down a path, only the fields that some path names at that place are kept; the value
    /// where a path ends is kept whole; an array on the way is kept as an array with all its
    /// elements, each reduced the same way; and a value on the way that is neither an object
    /// nor an array is kept as it is. So a consumer that needs only the match result can keep
    /// or ship just these parts of an event.
    ///
    /// ```
    /// use eventbridge_pattern::Pattern;
    ///
    /// let pattern = Pattern::from_json(
    ///     r#"{"source": ["aws.ecs"], "detail": {"$or": [
    ///         {"stopCode": ["EssentialContainerExited"]},
    ///         {"containers": {"exitCode": [{"numeric": [">", 0]}]}}]}}"#,
    /// )?;
    /// assert_eq!(
    ///     pattern.paths(),
    ///     [
    ///         vec!["detail", "containers", "exitCode"],
    ///         vec!["detail", "stopCode"],
    ///         vec!["source"],
    ///     ]
    /// );
    /// # Ok::<(), eventbridge_pattern::PatternError>(())
    /// ```
    pub fn paths(&self) -> Vec<Vec<&str>> {
        let mut paths = Vec::new();
        self.inner.root.collect_paths(&mut Vec::new(), &mut paths);
        paths.sort_unstable();
        paths.dedup();
        paths
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pattern").field(&format_args!("{}", self.inner.source)).finish()
    }
}

impl FromStr for Pattern {
    type Err = PatternError;

    /// Same as [`Pattern::from_json`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_json(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> Pattern {
        Pattern::from_json(text).expect("a valid pattern")
    }

    #[test]
    fn given_the_guides_stopped_task_rule_then_its_four_fields_in_order() {
        let rule = pattern(
            r#"{"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"],
                "detail": {"lastStatus": ["STOPPED"],
                           "stoppedReason": ["Essential container in task exited"]}}"#,
        );
        assert_eq!(
            rule.paths(),
            [
                vec!["detail", "lastStatus"],
                vec!["detail", "stoppedReason"],
                vec!["detail-type"],
                vec!["source"],
            ]
        );
    }

    #[test]
    fn given_or_branches_then_their_fields_are_listed_once_each() {
        let branches = pattern(
            r#"{
                "$or": [{"source": ["aws.ecs"]}, {"source": [{"prefix": "aws."}]}],
                "detail": {"$or": [
                    {"a": [1]},
                    {"a": {"b": [2], "$or": [{"c": [3]}, {"d": [{"exists": false}]}]}},
                    {"containers": {"exitCode": [{"anything-but": 0}]}}
                ]}
            }"#,
        );
        assert_eq!(
            branches.paths(),
            [
                vec!["detail", "a"],
                vec!["detail", "a", "b"],
                vec!["detail", "a", "c"],
                vec!["detail", "a", "d"],
                vec!["detail", "containers", "exitCode"],
                vec!["source"],
            ]
        );
    }

    #[test]
    fn given_field_names_with_dots_and_operator_words_then_they_are_keys_as_written() {
        let names =
            pattern(r#"{"detail.state": ["x"], "detail": {"prefix": {"numeric": [1]}, "": [""]}}"#);
        assert_eq!(
            names.paths(),
            [vec!["detail", ""], vec!["detail", "prefix", "numeric"], vec!["detail.state"]]
        );
    }
}
