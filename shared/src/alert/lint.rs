//! Rule lint: finds the parts of a pattern that no ECS event can satisfy, the way a compiler
//! finds a misspelt name, before a rule deploys and silently never fires.
//!
//! A pattern is read against what ECS sends ([`crate::event::schema`]): a field that no event
//! of the detail types the pattern can match has (`detail.lastStaus`), a value ECS never sends
//! for a closed field (`"lastStatus": ["STOPED"]`, `"detail-type": ["ECS Task State
//! Changed"]`), an operator that matches none of a closed field's values (`{"prefix":
//! "STOPED"}`, an `anything-but` that excludes them all), or a value close to but not one of a
//! list AWS extends (`"stopCode": ["SpotInteruption"]`; a value unlike any of them may be one
//! AWS adds, and passes). Each [`Finding`] names the path and,
//! when one is close, the field or value that was probably meant. Open fields (`stoppedReason`,
//! `reason`, tags) take any value. Values are tried with the pattern engine itself, so an
//! operator is judged exactly as EventBridge would judge it.

use std::fmt;

use serde_json::{Map, Value, json};

use crate::event::schema::{self, DetailType, Shape};
use crate::pattern::Pattern;

/// One part of a pattern that no ECS event can satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Where in the pattern: `detail.lastStatus`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// The nearest valid field name or value, when one is close.
    pub suggestion: Option<String>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)?;
        if let Some(suggestion) = &self.suggestion {
            write!(f, "; did you mean `{suggestion}`?")?;
        }
        Ok(())
    }
}

/// The findings of `pattern` (a compiled pattern's source), in the order of its fields; none
/// for a pattern every part of which some ECS event can satisfy.
pub fn lint_pattern(pattern: &Value) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Value::Object(object) = pattern {
        envelope(object, schema::DETAIL_TYPES.iter().collect(), false, &mut findings);
    }
    findings
}

/// Lints the top level of a pattern (or of one of its top-level `$or` branches), which can
/// match events of `types` (`named`: as a `detail-type` above it names them).
fn envelope(
    object: &Map<String, Value>,
    types: Vec<&'static DetailType>,
    named: bool,
    out: &mut Vec<Finding>,
) {
    let (types, named) = match object.get("detail-type") {
        Some(Value::Array(entries)) => {
            let matched = types.into_iter().filter(|detail_type| {
                entries.iter().any(|entry| entry_matches(entry, &json!(detail_type.name)))
            });
            (matched.collect(), true)
        }
        _ => (types, named),
    };
    // A detail of any fields (CloudTrail's record of an API call) is read only when the
    // pattern names its detail type: else any misspelt detail field would pass as one.
    let read: Vec<&DetailType> = types
        .iter()
        .copied()
        .filter(|detail_type| named || !matches!(detail_type.detail, Shape::AnyFields))
        .collect();
    for (key, value) in object {
        match (key.as_str(), value) {
            ("$or", Value::Array(branches)) => {
                for branch in branches.iter().filter_map(Value::as_object) {
                    envelope(branch, types.clone(), named, out);
                }
            }
            ("detail", Value::Object(detail)) if !read.is_empty() => {
                let shapes: Vec<&Shape> =
                    read.iter().map(|detail_type| &detail_type.detail).collect();
                fields(detail, "detail", &shapes, &Scope::of(&read), out);
            }
            ("detail", _) => {}
            _ => match schema::ENVELOPE.field(key) {
                Some(shape) => check(key, value, &[shape], &Scope::Envelope, out),
                None => out.push(Finding {
                    path: key.clone(),
                    message: "ECS events have no such field".into(),
                    suggestion: nearest(key, schema::ENVELOPE.field_names()),
                }),
            },
        }
    }
}

/// What the events a part of a pattern is read against are, for messages.
enum Scope {
    /// The envelope, the same for every ECS event.
    Envelope,
    /// The details of these detail types.
    Details(String),
}

impl Scope {
    fn of(types: &[&DetailType]) -> Self {
        let specific =
            schema::DETAIL_TYPES.iter().filter(|t| !matches!(t.detail, Shape::AnyFields));
        if types.len() >= specific.count() {
            return Self::Details("ECS events".into());
        }
        let names: Vec<&str> = types.iter().map(|detail_type| detail_type.name).collect();
        Self::Details(format!("{} events", names.join(" or ")))
    }

    fn events(&self) -> &str {
        match self {
            Self::Envelope => "ECS events",
            Self::Details(text) => text,
        }
    }
}

/// Lints the fields of a pattern object at `path`, which can hold an object of any of `shapes`.
fn fields(
    object: &Map<String, Value>,
    path: &str,
    shapes: &[&Shape],
    scope: &Scope,
    out: &mut Vec<Finding>,
) {
    for (key, value) in object {
        if key == "$or" {
            for branch in value.as_array().into_iter().flatten().filter_map(Value::as_object) {
                fields(branch, path, shapes, scope, out);
            }
            continue;
        }
        let here = format!("{path}.{key}");
        let children: Vec<&Shape> = shapes.iter().filter_map(|shape| shape.field(key)).collect();
        if children.is_empty() {
            let names = shapes.iter().flat_map(|shape| shape.field_names());
            out.push(Finding {
                path: here,
                message: format!("{} have no such field", scope.events()),
                suggestion: nearest(key, names),
            });
            continue;
        }
        check(&here, value, &children, scope, out);
    }
}

/// Lints what a pattern asks of the field at `path`, which holds one of `shapes`.
fn check(path: &str, value: &Value, shapes: &[&Shape], scope: &Scope, out: &mut Vec<Finding>) {
    if shapes.iter().any(|shape| matches!(shape, Shape::Open | Shape::AnyFields)) {
        return;
    }
    match value {
        Value::Object(object) => {
            if shapes
                .iter()
                .all(|shape| matches!(shape, Shape::Closed(_) | Shape::Known(_) | Shape::Bool))
            {
                out.push(Finding {
                    path: path.to_owned(),
                    message: "ECS sends a value here, not an object: no event matches".into(),
                    suggestion: None,
                });
            } else {
                fields(object, path, shapes, scope, out);
            }
        }
        Value::Array(entries) => values(path, entries, shapes, scope, out),
        // Not a pattern: the pattern compiler says so.
        _ => {}
    }
}

/// The most values a message lists; longer closed sets are named by the nearest one only.
const MAX_LISTED_VALUES: usize = 12;

/// Lints each value or operator `entries` match a field by, when the field is closed (an entry
/// that matches none of its values) or a known list (an entry that matches none of its values
/// but is close to one: a typo, not a value AWS may add).
fn values(path: &str, entries: &[Value], shapes: &[&Shape], scope: &Scope, out: &mut Vec<Finding>) {
    let mut listed: Vec<Value> = Vec::new();
    let mut extensible = false;
    for shape in shapes {
        match shape {
            Shape::Closed(values) => listed.extend(values.iter().map(|value| json!(value))),
            Shape::Known(values) => {
                extensible = true;
                listed.extend(values.iter().map(|value| json!(value)));
            }
            Shape::Bool => listed.extend([json!(false), json!(true)]),
            // An object field matched by values: only `exists` can say anything of it.
            _ => return,
        }
    }
    let mut texts: Vec<String> = listed
        .iter()
        .map(|value| value.as_str().map_or_else(|| value.to_string(), str::to_owned))
        .collect();
    texts.sort_unstable();
    texts.dedup();
    for entry in entries {
        if listed.iter().any(|value| entry_matches(entry, value)) {
            continue;
        }
        let suggestion =
            operand(entry).and_then(|text| nearest(text, texts.iter().map(String::as_str)));
        if extensible && suggestion.is_none() {
            continue;
        }
        let what = match scope {
            Scope::Envelope if path == "detail-type" => "detail type ECS sends",
            Scope::Envelope if path == "source" => "source of ECS events",
            _ if extensible => "value ECS sends here today",
            _ => "value ECS sends here",
        };
        let shown = if texts.len() <= MAX_LISTED_VALUES {
            format!(" ({})", texts.join(", "))
        } else {
            String::new()
        };
        let consequence =
            if matches!(scope, Scope::Envelope) { ": the rule can match no ECS event" } else { "" };
        out.push(Finding {
            path: path.to_owned(),
            message: format!("{entry} matches no {what}{shown}{consequence}"),
            suggestion,
        });
    }
}

/// Whether the pattern entry (a value or an operator) matches `value`, as EventBridge would
/// match it. An entry that does not compile matches (the compiler reports it) and so does
/// `exists` (a closed field may be absent).
fn entry_matches(entry: &Value, value: &Value) -> bool {
    if entry.get("exists").is_some() {
        return true;
    }
    match Pattern::compile(&json!({ "v": [entry] })) {
        Ok(pattern) => pattern.matches(&json!({ "v": value })),
        Err(_) => true,
    }
}

/// The text an entry compares with: the value itself, or an operator's text operand.
fn operand(entry: &Value) -> Option<&str> {
    match entry {
        Value::String(text) => Some(text),
        Value::Object(operator) => operator.values().find_map(|operand| match operand {
            Value::String(text) => Some(text.as_str()),
            Value::Array(items) => items.iter().find_map(Value::as_str),
            Value::Object(inner) => inner.values().find_map(Value::as_str),
            _ => None,
        }),
        _ => None,
    }
}

/// The least similarity (0 to 1, case ignored) of a suggestion to what was written.
const MIN_SIMILARITY: f64 = 0.6;

/// The candidate most like `written` (case ignored), when one is like it at all.
fn nearest<'a>(written: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let written = written.to_lowercase();
    candidates
        .into_iter()
        .map(|candidate| {
            (strsim::normalized_damerau_levenshtein(&written, &candidate.to_lowercase()), candidate)
        })
        .filter(|(similarity, _)| *similarity >= MIN_SIMILARITY)
        .max_by(|(a, _), (b, _)| a.total_cmp(b))
        .map(|(_, candidate)| candidate.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(pattern: Value) -> Vec<String> {
        lint_pattern(&pattern).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn given_the_shipped_rules_then_they_have_no_findings() {
        for file in [
            include_str!("../../../rules/default.json"),
            include_str!("../../../rules/examples.json"),
            include_str!("../../../rules/jobs.json"),
        ] {
            let rules: Vec<Value> = serde_json::from_str(file).expect("rules");
            for rule in rules {
                assert_eq!(lint(rule["pattern"].clone()), Vec::<String>::new(), "{rule}");
            }
        }
    }

    #[test]
    fn given_a_misspelt_field_then_the_finding_names_it_and_the_field_meant() {
        assert_eq!(
            lint(json!({"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"],
                        "detail": {"lastStaus": ["STOPPED"]}})),
            ["detail.lastStaus: ECS Task State Change events have no such field; \
              did you mean `lastStatus`?"]
        );
    }

    #[test]
    fn given_a_field_of_another_detail_type_then_it_is_refused_for_the_types_the_rule_matches() {
        assert_eq!(
            lint(json!({"detail-type": ["ECS Deployment State Change"],
                        "detail": {"lastStatus": ["STOPPED"]}})),
            ["detail.lastStatus: ECS Deployment State Change events have no such field"]
        );
        // Without a detail type, a field of any ECS event is fine.
        assert!(lint(json!({"detail": {"lastStatus": ["STOPPED"]}})).is_empty());
    }

    #[test]
    fn given_a_misspelt_closed_value_then_the_finding_lists_the_values_and_the_one_meant() {
        let findings = lint(json!({"detail": {"lastStatus": ["STOPPED", "STOPED"]}}));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(
            findings[0]
                .starts_with("detail.lastStatus: \"STOPED\" matches no value ECS sends here ("),
            "{findings:?}"
        );
        assert!(findings[0].ends_with("; did you mean `STOPPED`?"), "{findings:?}");
    }

    #[test]
    fn given_a_misspelt_detail_type_then_the_rule_can_match_no_ecs_event() {
        let findings =
            lint(json!({"source": ["aws.ecs"], "detail-type": ["ECS Task State Changed"],
                                   "detail": {"lastStatus": ["STOPPED"]}}));
        assert_eq!(findings.len(), 1, "{findings:?}");
        let finding = &findings[0];
        assert!(
            finding.starts_with(
                "detail-type: \"ECS Task State Changed\" matches no detail type ECS sends"
            ),
            "{finding}"
        );
        assert!(
            finding.ends_with(
                ": the rule can match no ECS event; did you mean `ECS Task State Change`?"
            ),
            "{finding}"
        );
    }

    #[test]
    fn given_operators_then_each_is_judged_by_the_values_it_can_match() {
        assert!(lint(json!({"detail": {"lastStatus": [{"prefix": "STOP"}]}})).is_empty());
        assert!(
            lint(json!({"detail": {"lastStatus": [{"equals-ignore-case": "stopped"}]}})).is_empty()
        );
        assert!(lint(json!({"detail": {"lastStatus": [{"anything-but": "STOPPED"}]}})).is_empty());
        assert!(lint(json!({"detail": {"lastStatus": [{"exists": false}]}})).is_empty());
        let findings = lint(json!({"detail": {"lastStatus": [{"prefix": "STOPED"}]}}));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(findings[0].ends_with("did you mean `STOPPED`?"), "{findings:?}");
        assert_eq!(lint(json!({"detail": {"lastStatus": [{"numeric": [">", 0]}]}})).len(), 1);
    }

    #[test]
    fn given_a_list_aws_extends_then_a_typo_is_refused_and_a_new_value_is_not() {
        let findings = lint(json!({"detail": {"stopCode": ["SpotInteruption"]}}));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(
            findings[0].starts_with(
                "detail.stopCode: \"SpotInteruption\" matches no value ECS sends here today ("
            ),
            "{findings:?}"
        );
        assert!(findings[0].ends_with("did you mean `SpotInterruption`?"), "{findings:?}");
        // A stop code AWS may add next year is nothing like today's: it may be new.
        assert!(lint(json!({"detail": {"stopCode": ["SomeCodeAwsAddsNextYear"]}})).is_empty());
        assert!(lint(json!({"detail": {"eventName": ["SERVICE_SCALING_PAUSED"]}})).is_empty());
        // A status list is closed: any other value is an error, close or not.
        assert_eq!(lint(json!({"detail": {"lastStatus": ["HIBERNATING"]}})).len(), 1);
    }

    #[test]
    fn given_open_fields_then_any_value_is_fine() {
        assert!(
            lint(json!({"detail": {
                "stoppedReason": [{"wildcard": "*OutOfMemory*"}],
                "containers": {"reason": ["anything"], "exitCode": [{"numeric": [">", 0]}]},
                "group": [{"prefix": "service:"}]
            }}))
            .is_empty()
        );
    }

    #[test]
    fn given_or_branches_then_each_is_read_with_its_own_detail_type() {
        assert_eq!(
            lint(json!({"source": ["aws.ecs"], "$or": [
                {"detail-type": ["ECS Task State Change"], "detail": {"stopCode": ["SpotInterruption"]}},
                {"detail-type": ["ECS Deployment State Change"], "detail": {"stopCode": ["SpotInterruption"]}}
            ]})),
            ["detail.stopCode: ECS Deployment State Change events have no such field"]
        );
    }

    #[test]
    fn given_a_non_ecs_source_then_the_rule_can_match_no_ecs_event() {
        let findings = lint(json!({"source": ["aws.ec2"]}));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(findings[0].contains("the rule can match no ECS event"), "{findings:?}");
    }

    #[test]
    fn given_a_cloudtrail_rule_then_its_record_is_read_only_when_its_detail_type_is_named() {
        let api_call = json!({"source": ["aws.ecs"], "detail-type": ["AWS API Call via CloudTrail"],
                              "detail": {"eventSource": ["ecs.amazonaws.com"], "eventName": ["DeleteService"]}});
        assert!(lint(api_call).is_empty());
        let in_or = json!({"source": ["aws.ecs"], "$or": [
            {"detail-type": ["AWS API Call via CloudTrail"], "detail": {"eventName": ["DeleteService"]}},
            {"detail-type": ["ECS Task State Change"], "detail": {"lastStatus": ["STOPPED"]}}
        ]});
        assert!(lint(in_or).is_empty());
        // Unnamed, a misspelt task field is not taken for a field of an API call's record.
        assert_eq!(lint(json!({"detail": {"lastStaus": ["STOPPED"]}})).len(), 1);
    }

    #[test]
    fn given_an_unknown_envelope_field_then_the_one_meant_is_suggested() {
        assert_eq!(
            lint(json!({"detail_type": ["ECS Task State Change"]})),
            ["detail_type: ECS events have no such field; did you mean `detail-type`?"]
        );
    }

    #[test]
    fn given_an_object_under_a_closed_field_then_no_event_matches() {
        assert_eq!(
            lint(json!({"detail": {"lastStatus": {"value": ["STOPPED"]}}})),
            ["detail.lastStatus: ECS sends a value here, not an object: no event matches"]
        );
    }
}
