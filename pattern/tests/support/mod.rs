// Test helpers shared by the pattern suites, and by the fuzz checks (`fuzz/checks.rs` includes
// this file, so it has no inner attributes or module docs).

use serde_json::{Map, Value};

/// `event` reduced to `paths`, as [`eventbridge_pattern::Pattern::paths`] describes it: in each
/// object only the fields some path names next are kept, the value where a path ends is kept
/// whole, arrays keep every element (each reduced the same way) and other values stay as they
/// are.
pub fn project(event: &Value, paths: &[Vec<&str>]) -> Value {
    let tails: Vec<&[&str]> = paths.iter().map(Vec::as_slice).collect();
    project_tails(event, &tails)
}

fn project_tails(value: &Value, tails: &[&[&str]]) -> Value {
    if tails.iter().any(|tail| tail.is_empty()) {
        return value.clone();
    }
    match value {
        Value::Object(object) => {
            let mut kept = Map::new();
            for (key, field) in object {
                let below = below(tails, key);
                if !below.is_empty() {
                    kept.insert(key.clone(), project_tails(field, &below));
                }
            }
            Value::Object(kept)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| project_tails(item, tails)).collect())
        }
        scalar => scalar.clone(),
    }
}

/// What is left of the paths `tails` past the field `key`: the tails of those that name it
/// next.
pub fn below<'a>(tails: &[&'a [&'a str]], key: &str) -> Vec<&'a [&'a str]> {
    tails
        .iter()
        .filter_map(|tail| tail.split_first())
        .filter(|(first, _)| **first == key)
        .map(|(_, rest)| rest)
        .collect()
}
