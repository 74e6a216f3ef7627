//! The compiled pattern and the walk that matches it against an event.
//!
//! The walk follows the pattern, not the event: for each pattern field it looks the key up in
//! the event object it is at, so an event is never flattened and nothing is allocated.

use crate::json::{Json, JsonKind};
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
    pub(crate) fn matches_object<J: Json + ?Sized>(&self, object: Option<&J>) -> bool {
        self.fields.iter().all(|field| {
            let value = object.and_then(|object| object.field(&field.name));
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
    fn matches_value<J: Json + ?Sized>(&self, value: Option<&J>) -> bool {
        match value {
            Some(object) if object.kind() == JsonKind::Object => self.matches_object(Some(object)),
            Some(array) if array.kind() == JsonKind::Array => {
                let mut saw_object = false;
                let found = if self.absence_only {
                    !any_object(array, 0, &mut |object| {
                        saw_object = true;
                        !self.matches_object(Some(object))
                    })
                } else {
                    any_object(array, 0, &mut |object| {
                        saw_object = true;
                        self.matches_object(Some(object))
                    })
                };
                found || (!saw_object && self.matches_object(None::<&J>))
            }
            _ => self.matches_object(None::<&J>),
        }
    }

    /// Adds the path of every leaf below this pattern object, `$or` branches included, to
    /// `paths`; `prefix` is the path of this object.
    pub(crate) fn collect_paths<'a>(
        &'a self,
        prefix: &mut Vec<&'a str>,
        paths: &mut Vec<Vec<&'a str>>,
    ) {
        for field in &self.fields {
            prefix.push(&field.name);
            match &field.kind {
                FieldKind::Leaf(_) => paths.push(prefix.clone()),
                FieldKind::Object(nested) => nested.collect_paths(prefix, paths),
            }
            prefix.pop();
        }
        for branch in self.ors.iter().flatten() {
            branch.collect_paths(prefix, paths);
        }
    }
}

impl Leaf {
    fn matches<J: Json + ?Sized>(&self, value: Option<&J>) -> bool {
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
fn any_scalar<J: Json + ?Sized>(
    value: &J,
    depth: usize,
    visit: &mut impl FnMut(&J) -> bool,
) -> bool {
    match value.kind() {
        JsonKind::Array => {
            depth < MAX_EVENT_ARRAY_NESTING
                && value.elements().any(|item| any_scalar(item, depth + 1, visit))
        }
        JsonKind::Object => false,
        _ => visit(value),
    }
}

/// Whether `visit` returns true for some object element of the array `items`, at any array
/// depth.
fn any_object<J: Json + ?Sized>(
    items: &J,
    depth: usize,
    visit: &mut impl FnMut(&J) -> bool,
) -> bool {
    items.elements().any(|item| match item.kind() {
        JsonKind::Object => visit(item),
        JsonKind::Array => depth < MAX_EVENT_ARRAY_NESTING && any_object(item, depth + 1, visit),
        _ => false,
    })
}
