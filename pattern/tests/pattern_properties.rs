//! GIVEN generated patterns and events WHEN they are compiled and matched THEN the laws of
//! EventBridge patterns hold: `$or` is "either", `anything-but` is "not", unrelated fields do
//! not matter, only the pattern's paths matter, and nothing panics whatever the input.

mod support;

use eventbridge_pattern::Pattern;
use proptest::prelude::*;
use serde_json::{Map, Number, Value, json};

/// The field names generated patterns and events use.
const FIELDS: [&str; 4] = ["a", "b", "c", "d"];

/// A field name patterns never mention.
const UNRELATED: &str = "unrelated";

/// Short strings that often collide (no digits, dots or colons, so never IP addresses).
fn text() -> impl Strategy<Value = String> {
    "[abAB é]{0,3}"
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-3i64..=3).prop_map(Value::from),
        (-30i32..=30).prop_map(|tenths| json!(f64::from(tenths) / 10.0)),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
        prop::sample::select(vec!["10.0.0.1", "10.1.2.3", "::1", "2001:db8::7"])
            .prop_map(|ip| Value::String(ip.to_owned())),
    ]
}

/// An event value: scalars, arrays and objects over [`FIELDS`], a few levels deep.
fn event_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(FIELDS.to_vec()), inner, 0..4)
                .prop_map(|fields| Value::Object(to_map(fields))),
        ]
    })
}

/// An event: an object over [`FIELDS`].
fn event() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(prop::sample::select(FIELDS.to_vec()), event_value(), 0..5)
        .prop_map(|fields| Value::Object(to_map(fields)))
}

fn to_map(fields: std::collections::BTreeMap<&str, Value>) -> Map<String, Value> {
    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn non_empty_text() -> impl Strategy<Value = String> {
    "[abAB é]{1,3}"
}

/// One entry of a valid match list.
fn match_entry() -> impl Strategy<Value = Value> {
    let wildcards = prop::sample::select(vec!["*", "a*", "*b", "a*b", "A*", "\\*", "é*"]);
    prop_oneof![
        scalar(),
        text().prop_map(|s| json!({"prefix": s})),
        text().prop_map(|s| json!({"suffix": s})),
        text().prop_map(|s| json!({"equals-ignore-case": s})),
        text().prop_map(|s| json!({"prefix": {"equals-ignore-case": s}})),
        text().prop_map(|s| json!({"suffix": {"equals-ignore-case": s}})),
        wildcards.clone().prop_map(|w| json!({"wildcard": w})),
        text().prop_map(|s| json!({"anything-but": s})),
        prop::collection::vec(text(), 1..3).prop_map(|l| json!({"anything-but": l})),
        number().prop_map(|n| json!({"anything-but": n})),
        non_empty_text().prop_map(|s| json!({"anything-but": {"prefix": s}})),
        non_empty_text().prop_map(|s| json!({"anything-but": {"suffix": [s]}})),
        text().prop_map(|s| json!({"anything-but": {"equals-ignore-case": s}})),
        wildcards.prop_map(|w| json!({"anything-but": {"wildcard": w}})),
        number().prop_map(|n| json!({"numeric": [">", n]})),
        number().prop_map(|n| json!({"numeric": ["<=", n]})),
        (-3i64..=2).prop_map(|low| json!({"numeric": [">=", low, "<", low + 1]})),
        any::<bool>().prop_map(|e| json!({"exists": e})),
        prop::sample::select(vec!["10.0.0.0/8", "10.1.0.0/16", "::/64", "2001:db8::/32"])
            .prop_map(|c| json!({"cidr": c})),
    ]
}

/// A match list.
fn leaf() -> impl Strategy<Value = Value> {
    prop::collection::vec(match_entry(), 1..4).prop_map(Value::Array)
}

/// A valid pattern object over [`FIELDS`] (no `$or`), up to three levels deep.
fn pattern() -> impl Strategy<Value = Value> {
    let node = leaf().prop_recursive(
        2,
        16,
        3,
        |inner| prop_oneof![2 => leaf(), 1 => pattern_object(inner)],
    );
    pattern_object(node.boxed())
}

fn pattern_object(node: BoxedStrategy<Value>) -> impl Strategy<Value = Value> {
    prop::collection::btree_map(prop::sample::select(FIELDS.to_vec()), node, 1..4)
        .prop_map(|fields| Value::Object(to_map(fields)))
}

/// A valid pattern with or without `$or`, at the root or under a field.
fn pattern_with_or() -> impl Strategy<Value = Value> {
    prop_oneof![
        pattern(),
        (pattern(), pattern()).prop_map(|(a, b)| json!({"$or": [a, b]})),
        (pattern(), pattern(), leaf()).prop_map(|(a, b, c)| json!({"a": {"$or": [a, b]}, "b": c})),
    ]
}

fn compile(pattern: &Value) -> Pattern {
    Pattern::compile(pattern)
        .unwrap_or_else(|e| panic!("generated pattern {pattern} is valid: {e}"))
}

/// Adds [`UNRELATED`] with `extra` to every object of `value`.
fn add_unrelated(value: &mut Value, extra: &Value) {
    match value {
        Value::Object(object) => {
            object.values_mut().for_each(|v| add_unrelated(v, extra));
            object.insert(UNRELATED.to_owned(), extra.clone());
        }
        Value::Array(items) => items.iter_mut().for_each(|v| add_unrelated(v, extra)),
        _ => {}
    }
}

/// Any JSON, biased towards the words patterns are made of, so that compiling reaches deep
/// into validation.
fn any_json() -> impl Strategy<Value = Value> {
    let words = prop::sample::select(vec![
        "a",
        "$or",
        "prefix",
        "suffix",
        "equals-ignore-case",
        "wildcard",
        "anything-but",
        "numeric",
        "exists",
        "cidr",
        "exactly",
        "=",
        "<",
        "<=",
        ">",
        ">=",
        "*",
        "**",
        "a\\",
        "\\*",
        "10.0.0.0/8",
        "::/0",
        "10.0.0.0/33",
        "",
        "É",
        "ß",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        (-60i32..60).prop_map(|e| json!(10f64.powi(e))),
        words.clone().prop_map(|w| Value::String(w.to_owned())),
        ".{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(words.clone(), inner, 0..4)
                .prop_map(|fields| Value::Object(to_map(fields))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn or_matches_exactly_when_either_branch_matches(
        a in pattern(),
        b in pattern(),
        event in event(),
    ) {
        let either = compile(&json!({"$or": [a, b]}));
        let expected = compile(&a).matches(&event) || compile(&b).matches(&event);
        prop_assert_eq!(either.matches(&event), expected);
    }

    #[test]
    fn anything_but_a_string_is_the_opposite_of_the_string(
        excluded in text(),
        value in text(),
        same in any::<bool>(),
    ) {
        let value = if same { excluded.clone() } else { value };
        let event = json!({"f": value});
        let only = compile(&json!({"f": [excluded]}));
        let but = compile(&json!({"f": [{"anything-but": [excluded]}]}));
        prop_assert_eq!(but.matches(&event), !only.matches(&event));
    }

    #[test]
    fn unrelated_fields_never_change_the_result(
        pattern in pattern(),
        mut event in event(),
        extra in event_value(),
    ) {
        let compiled = compile(&pattern);
        let before = compiled.matches(&event);
        add_unrelated(&mut event, &extra);
        prop_assert_eq!(compiled.matches(&event), before);
    }

    #[test]
    fn an_event_reduced_to_the_pattern_paths_gets_the_same_result(
        pattern in pattern_with_or(),
        event in event(),
    ) {
        let compiled = compile(&pattern);
        let paths = compiled.paths();
        prop_assert!(paths.windows(2).all(|pair| pair[0] < pair[1]), "sorted, no repeats");
        let reduced = support::project(&event, &paths);
        prop_assert_eq!(compiled.matches(&reduced), compiled.matches(&event), "{}", reduced);
    }

    #[test]
    fn compiling_and_matching_anything_never_panics(
        pattern in any_json(),
        events in prop::collection::vec(any_json(), 1..4),
    ) {
        if let Ok(compiled) = Pattern::compile(&pattern) {
            for event in &events {
                let matched = compiled.matches(event);
                prop_assert_eq!(compiled.matches_slice(event.to_string().as_bytes()).ok(), Some(matched));
            }
        }
        let _ = Pattern::from_json(&pattern.to_string());
    }

    #[test]
    fn matching_generated_events_never_panics(pattern in pattern(), event in event_value()) {
        let compiled = compile(&pattern);
        let _ = compiled.matches(&event);
        let wrapped = json!({"a": event.clone(), "b": [event.clone(), {"c": event}]});
        let _ = compiled.matches(&wrapped);
    }

    #[test]
    fn any_text_is_a_pattern_or_an_error(text in ".{0,40}") {
        let _ = Pattern::from_json(&text);
    }
}
