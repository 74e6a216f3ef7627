//! The compiled pattern and the walk that matches it against an event.
//!
//! The walk follows the pattern, not the event: for each pattern field it looks the key up in
//! the event object it is at, so an event is never flattened and nothing is allocated.

use serde_json::{Map, Value};

use crate::matcher::Matcher;

/// Arrays nested deeper than this inside an event value are not looked into.
pub(crate) const MAX_EVENT_ARRAY_NESTING: usize = 64;

/// A pattern object: every field must match and every `$or` group must have a matching
/// branch, all against the same event object.
#[derive(Debug)]
pub(crate) struct ObjectPattern {
    /// Leaves first, then nested objects, so cheap checks fail first.
    pub(crate) fields: Box<[Field]>,
    /// One entry per `$or`; each holds the branches, evaluated against the same object.
    pub(crate) ors: Box<[Box<[ObjectPattern]>]>,
    /// True when no condition anywhere below needs a value: only `exists: false`.
    pub(crate) absence_only: bool,
}

/// A named field of a pattern object.
#[derive(Debug)]
pub(crate) struct Field {
    pub(crate) name: Box<str>,
    pub(crate) kind: FieldKind,
}

/// What a pattern field holds.
#[derive(Debug)]
pub(crate) enum FieldKind {
    /// A match list (`"state": ["running", {"prefix": "stop"}]`).
    Leaf(Leaf),
    /// A nested pattern object (`"detail": {...}`).
    Object(ObjectPattern),
}

/// A field's match list. It matches when any of its entries matches any leaf value of the
/// field; `exists` entries are about whether the field has a leaf value at all.
#[derive(Debug)]
pub(crate) struct Leaf {
    pub(crate) matchers: Box<[Matcher]>,
    /// `{"exists": true}` is listed: any leaf value matches.
    pub(crate) exists: bool,
    /// `{"exists": false}` is listed: having no leaf value matches.
    pub(crate) absent: bool,
}

impl ObjectPattern {
    /// Matches against an event object, or against nothing (`None`: the field is missing or
    /// is not an object), in which case only absence conditions can hold.
    pub(crate) fn matches_object(&self, object: Option<&Map<String, Value>>) -> bool {
        self.fields.iter().all(|field| {
            let value = object.and_then(|object| object.get(&*field.name));
            match &field.kind {
                FieldKind::Leaf(leaf) => leaf.matches(value),
                FieldKind::Object(nested) => nested.matches_value(value),
            }
        }) && self.ors.iter().all(|branches| branches.iter().any(|b| b.matches_object(object)))
    }

    /// Matches against whatever the event holds at this pattern object's field.
    ///
    /// For an array of objects, array consistency applies: one element must satisfy the whole
    /// pattern object (event-ruler's `rulesForJSONEvent`). An absence-only pattern object
    /// instead holds when no element has the fields, that is when every element satisfies it.
    fn matches_value(&self, value: Option<&Value>) -> bool {
        match value {
            Some(Value::Object(object)) => self.matches_object(Some(object)),
            Some(Value::Array(items)) => {
                let mut saw_object = false;
                let found = if self.absence_only {
                    !any_object(items, 0, &mut |object| {
                        saw_object = true;
                        !self.matches_object(Some(object))
                    })
                } else {
                    any_object(items, 0, &mut |object| {
                        saw_object = true;
                        self.matches_object(Some(object))
                    })
                };
                found || (!saw_object && self.matches_object(None))
            }
            _ => self.matches_object(None),
        }
    }
}

impl Leaf {
    fn matches(&self, value: Option<&Value>) -> bool {
        let mut present = false;
        if let Some(value) = value {
            let found = any_scalar(value, 0, &mut |scalar| {
                present = true;
                self.exists || self.matchers.iter().any(|m| m.matches(scalar))
            });
            if found {
                return true;
            }
        }
        self.absent && !present
    }
}

/// Whether `visit` returns true for some scalar of `value`: the value itself, or any scalar
/// element of it at any array depth. Objects are not leaf values and are skipped.
fn any_scalar(value: &Value, depth: usize, visit: &mut impl FnMut(&Value) -> bool) -> bool {
    match value {
        Value::Array(items) => {
            depth < MAX_EVENT_ARRAY_NESTING
                && items.iter().any(|item| any_scalar(item, depth + 1, visit))
        }
        Value::Object(_) => false,
        scalar => visit(scalar),
    }
}

/// Whether `visit` returns true for some object element of `items`, at any array depth.
fn any_object(
    items: &[Value],
    depth: usize,
    visit: &mut impl FnMut(&Map<String, Value>) -> bool,
) -> bool {
    items.iter().any(|item| match item {
        Value::Object(object) => visit(object),
        Value::Array(inner) => {
            depth < MAX_EVENT_ARRAY_NESTING && any_object(inner, depth + 1, visit)
        }
        _ => false,
    })
}
