//! From pattern JSON to the compiled tree, validating as EventBridge does.

use serde_json::{Map, Number, Value};

use crate::cidr::{CidrBlock, parse_ip};
use crate::error::{PatternError, PatternErrorKind};
use crate::ignore_case::IgnoreCase;
use crate::json::{Json, JsonNumber};
use crate::matcher::{AnythingBut, Matcher, NumberValue};
use crate::number::{LIMIT, NumericRange, comparable};
use crate::tree::{Field, FieldKind, Leaf, ObjectPattern};
use crate::wildcard::Wildcard;
use crate::{MAX_DEPTH, MAX_OR_COMBINATIONS, MAX_VALUES};

/// Names that cannot be field names inside a `$or` branch (event-ruler's
/// `RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP`).
pub(crate) const RESERVED_IN_OR: &[&str] = &[
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
];

const OR: &str = "$or";

/// The type of a JSON value as error messages name it: `null`, `a string`, `an object`...
fn json_type(value: &Value) -> &'static str {
    value.kind().described()
}

/// Compiles a pattern value into its tree.
pub(crate) fn compile(pattern: &Value) -> Result<ObjectPattern, PatternError> {
    let Value::Object(object) = pattern else {
        return Err(PatternError::new(
            PatternErrorKind::Structure,
            &[],
            format!("an event pattern must be a JSON object, found {}", json_type(pattern)),
        ));
    };
    let mut compiler = Compiler::default();
    let mut path = Vec::new();
    let (root, _) = compiler.object(object, &mut path, 1, false)?;
    compiler.check_conflicts()?;
    Ok(root)
}

/// Where a leaf sits: its field path and which branch of each enclosing `$or` it is in.
struct LeafSite<'a> {
    path: Vec<&'a str>,
    branches: Vec<(usize, usize)>,
}

#[derive(Default)]
struct Compiler<'a> {
    values: usize,
    or_groups: usize,
    branches: Vec<(usize, usize)>,
    leaves: Vec<LeafSite<'a>>,
}

type Result<T, E = PatternError> = std::result::Result<T, E>;

fn structure(path: &[&str], message: impl Into<String>) -> PatternError {
    PatternError::new(PatternErrorKind::Structure, path, message)
}

fn operand(path: &[&str], message: impl Into<String>) -> PatternError {
    PatternError::new(PatternErrorKind::Operand, path, message)
}

fn limit(path: &[&str], message: impl Into<String>) -> PatternError {
    PatternError::new(PatternErrorKind::Limit, path, message)
}

impl<'a> Compiler<'a> {
    /// Compiles a pattern object at `path`, returning it with the number of `$or`
    /// combinations it expands to.
    fn object(
        &mut self,
        object: &'a Map<String, Value>,
        path: &mut Vec<&'a str>,
        depth: usize,
        inside_or: bool,
    ) -> Result<(ObjectPattern, u64)> {
        if depth > MAX_DEPTH {
            return Err(limit(path, format!("the pattern nests deeper than {MAX_DEPTH} levels")));
        }
        if object.is_empty() {
            return Err(structure(path, "empty objects are not allowed"));
        }
        let mut leaves = Vec::new();
        let mut objects = Vec::new();
        let mut ors = Vec::new();
        let mut combinations: u64 = 1;
        let mut absence_only = true;
        for (name, value) in object {
            if name == OR {
                let (branches, count) = self.or(value, path, depth)?;
                absence_only &= branches.iter().all(|b| b.absence_only);
                combinations = combinations.saturating_mul(count);
                ors.push(branches.into_boxed_slice());
                continue;
            }
            path.push(name);
            if inside_or && RESERVED_IN_OR.contains(&name.as_str()) {
                return Err(structure(
                    path,
                    format!("{name:?} is a reserved keyword and cannot be a field name inside $or"),
                ));
            }
            match value {
                Value::Object(nested) => {
                    let (nested, count) = self.object(nested, path, depth + 1, inside_or)?;
                    absence_only &= nested.absence_only;
                    combinations = combinations.saturating_mul(count);
                    objects.push(Field {
                        name: name.as_str().into(),
                        kind: FieldKind::Object(nested),
                    });
                }
                Value::Array(items) => {
                    let leaf = self.leaf(items, path)?;
                    absence_only &= leaf.matchers.is_empty() && !leaf.exists;
                    self.leaves
                        .push(LeafSite { path: path.clone(), branches: self.branches.clone() });
                    leaves.push(Field { name: name.as_str().into(), kind: FieldKind::Leaf(leaf) });
                }
                other => {
                    return Err(structure(
                        path,
                        format!(
                            "a field must be an object or an array of values, found {}",
                            json_type(other)
                        ),
                    ));
                }
            }
            path.pop();
        }
        if combinations > MAX_OR_COMBINATIONS {
            return Err(limit(
                path,
                format!(
                    "$or expands to more than {MAX_OR_COMBINATIONS} combinations ({combinations})"
                ),
            ));
        }
        leaves.append(&mut objects);
        let pattern = ObjectPattern {
            fields: leaves.into_boxed_slice(),
            ors: ors.into_boxed_slice(),
            absence_only,
        };
        Ok((pattern, combinations))
    }

    /// Compiles the value of a `$or` held by the object at `path`: an array of two or more
    /// objects, each matched against that same object. Branch fields are named without the
    /// `$or`, as event-ruler names them; errors about the `$or` itself name `path.$or`.
    fn or(
        &mut self,
        value: &'a Value,
        path: &mut Vec<&'a str>,
        depth: usize,
    ) -> Result<(Vec<ObjectPattern>, u64)> {
        let or_path = [path.as_slice(), &[OR]].concat();
        let items = match value {
            Value::Array(items) if items.len() >= 2 => items,
            Value::Array(items) => {
                return Err(structure(
                    &or_path,
                    format!("$or must be an array of at least two objects, found {}", items.len()),
                ));
            }
            other => {
                return Err(structure(
                    &or_path,
                    format!(
                        "$or must be an array of at least two objects, found {}",
                        json_type(other)
                    ),
                ));
            }
        };
        let group = self.or_groups;
        self.or_groups += 1;
        let mut branches = Vec::with_capacity(items.len());
        let mut combinations: u64 = 0;
        for (index, item) in items.iter().enumerate() {
            let Value::Object(object) = item else {
                return Err(structure(
                    &or_path,
                    format!(
                        "$or may only hold objects, found {} at index {index}",
                        json_type(item)
                    ),
                ));
            };
            self.branches.push((group, index));
            let compiled = self.object(object, path, depth + 1, true);
            self.branches.pop();
            let (branch, count) = compiled?;
            combinations = combinations.saturating_add(count);
            branches.push(branch);
        }
        Ok((branches, combinations))
    }

    /// Compiles a field's match list.
    fn leaf(&mut self, items: &'a [Value], path: &[&str]) -> Result<Leaf> {
        if items.is_empty() {
            return Err(structure(path, "empty arrays are not allowed"));
        }
        let mut matchers = Vec::with_capacity(items.len());
        let mut exists = false;
        let mut absent = false;
        for item in items {
            self.count(path, 1)?;
            match item {
                Value::String(text) => matchers
                    .push(Matcher::String { text: text.as_str().into(), address: parse_ip(text) }),
                Value::Number(number) => {
                    let number = JsonNumber::from(number);
                    matchers.push(Matcher::Number(match comparable(number) {
                        Some(value) => NumberValue::Comparable(value),
                        None => NumberValue::Exact(number),
                    }));
                }
                Value::Bool(value) => matchers.push(Matcher::Bool(*value)),
                Value::Null => matchers.push(Matcher::Null),
                Value::Array(_) => {
                    return Err(structure(
                        path,
                        "a match value must be a string, number, boolean, null or an operator \
                         object, found an array",
                    ));
                }
                Value::Object(expression) => match self.expression(expression, path)? {
                    Expression::Matcher(matcher) => matchers.push(matcher),
                    Expression::Exists(true) => exists = true,
                    Expression::Exists(false) => absent = true,
                },
            }
        }
        Ok(Leaf { matchers: matchers.into_boxed_slice(), exists, absent })
    }

    fn count(&mut self, path: &[&str], values: usize) -> Result<()> {
        self.values = self.values.saturating_add(values);
        if self.values > MAX_VALUES {
            return Err(limit(path, format!("the pattern has more than {MAX_VALUES} values")));
        }
        Ok(())
    }

    /// Compiles an operator object such as `{"prefix": "us-"}`.
    fn expression(&mut self, expression: &Map<String, Value>, path: &[&str]) -> Result<Expression> {
        let mut entries = expression.iter();
        let (Some((name, value)), None) = (entries.next(), entries.next()) else {
            let names: Vec<&str> = expression.keys().map(String::as_str).collect();
            return Err(structure(
                path,
                format!(
                    "a match expression must have exactly one operator, found {}",
                    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
                ),
            ));
        };
        let matcher = match name.as_str() {
            "prefix" => match value {
                Value::Object(_) => {
                    Matcher::PrefixIgnoreCase(nested_ignore_case(value, "prefix", path)?)
                }
                _ => Matcher::Prefix(string_operand(value, "prefix", path)?.into()),
            },
            "suffix" => match value {
                Value::Object(_) => {
                    Matcher::SuffixIgnoreCase(nested_ignore_case(value, "suffix", path)?)
                }
                _ => Matcher::Suffix(string_operand(value, "suffix", path)?.into()),
            },
            "equals-ignore-case" => {
                Matcher::EqualsIgnoreCase(IgnoreCase::new(string_operand(value, name, path)?))
            }
            "wildcard" => Matcher::Wildcard(wildcard(string_operand(value, name, path)?, path)?),
            "numeric" => Matcher::Numeric(numeric(value, path)?),
            "cidr" => Matcher::Cidr(
                CidrBlock::parse(string_operand(value, name, path)?)
                    .map_err(|message| operand(path, message))?,
            ),
            "exists" => match value {
                Value::Bool(exists) => return Ok(Expression::Exists(*exists)),
                other => {
                    return Err(operand(
                        path,
                        format!("exists must be true or false, found {}", json_type(other)),
                    ));
                }
            },
            "anything-but" => Matcher::AnythingBut(self.anything_but(value, path)?),
            unknown => {
                return Err(PatternError::new(
                    PatternErrorKind::UnknownOperator,
                    path,
                    format!("unknown operator {unknown:?}"),
                ));
            }
        };
        Ok(Expression::Matcher(matcher))
    }

    /// Compiles the operand of `anything-but`: a string, a number, a non-empty list of only
    /// strings or only numbers, or one of `prefix`, `suffix`, `equals-ignore-case` and
    /// `wildcard` with a string or a non-empty list of strings.
    fn anything_but(&mut self, value: &Value, path: &[&str]) -> Result<AnythingBut> {
        match value {
            Value::String(text) => Ok(AnythingBut::Strings(Box::new([text.as_str().into()]))),
            Value::Number(number) => Ok(AnythingBut::Numbers(Box::new([comparable_number(
                number,
                "anything-but",
                path,
            )?]))),
            Value::Array(items) => {
                self.count(path, items.len())?;
                if items.iter().all(Value::is_string) && !items.is_empty() {
                    let strings = items.iter().filter_map(Value::as_str).map(Into::into).collect();
                    return Ok(AnythingBut::Strings(strings));
                }
                if let Some(bad) = items.iter().find(|v| !v.is_string() && !v.is_number()) {
                    return Err(operand(
                        path,
                        format!(
                            "an anything-but list may only hold strings or numbers, found {}",
                            json_type(bad)
                        ),
                    ));
                }
                if items.is_empty() || items.iter().any(Value::is_string) {
                    return Err(operand(
                        path,
                        if items.is_empty() {
                            "an anything-but list must not be empty"
                        } else {
                            "an anything-but list must hold only strings or only numbers, not both"
                        },
                    ));
                }
                let numbers = items
                    .iter()
                    .filter_map(Value::as_number)
                    .map(|n| comparable_number(n, "anything-but", path))
                    .collect::<Result<_>>()?;
                Ok(AnythingBut::Numbers(numbers))
            }
            Value::Object(expression) => {
                let mut entries = expression.iter();
                let (Some((name, inner)), None) = (entries.next(), entries.next()) else {
                    return Err(operand(
                        path,
                        "anything-but with an object needs exactly one of prefix, suffix, \
                         equals-ignore-case or wildcard",
                    ));
                };
                match name.as_str() {
                    "prefix" | "suffix" | "equals-ignore-case" | "wildcard" => {}
                    "anything-but" => return Err(operand(path, "anything-but cannot be nested")),
                    other => {
                        return Err(operand(
                            path,
                            format!(
                                "anything-but does not support {other:?} (only prefix, suffix, \
                                 equals-ignore-case and wildcard)"
                            ),
                        ));
                    }
                }
                let strings = self.anything_but_strings(inner, name, path)?;
                Ok(match name.as_str() {
                    "equals-ignore-case" => {
                        AnythingBut::IgnoreCase(strings.into_iter().map(IgnoreCase::new).collect())
                    }
                    "wildcard" => AnythingBut::Wildcards(
                        strings.into_iter().map(|s| wildcard(s, path)).collect::<Result<_>>()?,
                    ),
                    prefix_or_suffix => {
                        if strings.iter().any(|s| s.is_empty()) {
                            return Err(operand(
                                path,
                                format!(
                                    "anything-but {prefix_or_suffix} must not be an empty string"
                                ),
                            ));
                        }
                        let strings = strings.into_iter().map(Into::into).collect();
                        if prefix_or_suffix == "prefix" {
                            AnythingBut::Prefixes(strings)
                        } else {
                            AnythingBut::Suffixes(strings)
                        }
                    }
                })
            }
            other => Err(operand(
                path,
                format!(
                    "anything-but needs a string, a number, a list or an object, found {}",
                    json_type(other)
                ),
            )),
        }
    }

    /// The string operand(s) of a nested `anything-but` operator: one string or a non-empty
    /// list of strings.
    fn anything_but_strings<'v>(
        &mut self,
        value: &'v Value,
        name: &str,
        path: &[&str],
    ) -> Result<Vec<&'v str>> {
        match value {
            Value::String(text) => Ok(vec![text.as_str()]),
            Value::Array(items) if !items.is_empty() => {
                self.count(path, items.len())?;
                items
                    .iter()
                    .map(|item| {
                        item.as_str().ok_or_else(|| {
                            operand(
                                path,
                                format!(
                                    "anything-but {name} values must be strings, found {}",
                                    json_type(item)
                                ),
                            )
                        })
                    })
                    .collect()
            }
            Value::Array(_) => {
                Err(operand(path, format!("anything-but {name} list must not be empty")))
            }
            other => Err(operand(
                path,
                format!(
                    "anything-but {name} needs a string or a list of strings, found {}",
                    json_type(other)
                ),
            )),
        }
    }

    /// Pairs of leaves that apply together (not in different branches of one `$or`) must not
    /// constrain the same field or a field and its parent: EventBridge would keep only the one
    /// written last, and JSON objects do not keep their order, so such a pattern is refused.
    fn check_conflicts(&self) -> Result<()> {
        for (index, later) in self.leaves.iter().enumerate() {
            for earlier in &self.leaves[..index] {
                if !together(&earlier.branches, &later.branches) {
                    continue;
                }
                let shared = earlier.path.len().min(later.path.len());
                if earlier.path[..shared] != later.path[..shared] {
                    continue;
                }
                let (shorter, longer) = if earlier.path.len() <= later.path.len() {
                    (earlier, later)
                } else {
                    (later, earlier)
                };
                let message = if shorter.path.len() == longer.path.len() {
                    "the field is matched more than once in the same $or combination; \
                     write its values once"
                        .to_owned()
                } else {
                    format!(
                        "the field is matched both as a value (at {}) and as an object in the \
                         same $or combination",
                        shorter.path.join(".")
                    )
                };
                return Err(structure(&longer.path, message));
            }
        }
        Ok(())
    }
}

/// Whether two leaves apply in the same combination: no `$or` has them in different branches.
fn together(a: &[(usize, usize)], b: &[(usize, usize)]) -> bool {
    a.iter().all(|(group, branch)| b.iter().all(|(g, br)| g != group || br == branch))
}

enum Expression {
    Matcher(Matcher),
    Exists(bool),
}

fn string_operand<'v>(value: &'v Value, name: &str, path: &[&str]) -> Result<&'v str> {
    value
        .as_str()
        .ok_or_else(|| operand(path, format!("{name} needs a string, found {}", json_type(value))))
}

/// The operand of `{"prefix": {"equals-ignore-case": "..."}}` (or `suffix`).
fn nested_ignore_case(value: &Value, name: &str, path: &[&str]) -> Result<IgnoreCase> {
    let invalid =
        || operand(path, format!("{name} needs a string or {{\"equals-ignore-case\": <string>}}"));
    let Value::Object(object) = value else {
        return Err(invalid());
    };
    let mut entries = object.iter();
    match (entries.next(), entries.next()) {
        (Some((inner, operand)), None) if inner == "equals-ignore-case" => {
            Ok(IgnoreCase::new(string_operand(operand, "equals-ignore-case", path)?))
        }
        _ => Err(invalid()),
    }
}

fn wildcard(text: &str, path: &[&str]) -> Result<Wildcard> {
    Wildcard::parse(text).map_err(|message| operand(path, message))
}

/// A number EventBridge can compare, or an error saying why it cannot be used.
fn comparable_operand(value: &Value, what: &str, path: &[&str]) -> Result<f64> {
    match value {
        Value::Number(number) => comparable_number(number, what, path),
        other => Err(operand(path, format!("{what} must be a number, found {}", json_type(other)))),
    }
}

fn comparable_number(number: &Number, what: &str, path: &[&str]) -> Result<f64> {
    comparable(number.into()).ok_or_else(|| {
        operand(
            path,
            format!(
                "{what} {number} is out of range: numbers must be between -{LIMIT:e} and \
                 {LIMIT:e} with at most 6 decimal places"
            ),
        )
    })
}

/// Compiles `{"numeric": [op, n]}` or `{"numeric": [">"|">=", low, "<"|"<=", high]}`.
fn numeric(value: &Value, path: &[&str]) -> Result<NumericRange> {
    let Value::Array(terms) = value else {
        return Err(operand(path, format!("numeric needs an array, found {}", json_type(value))));
    };
    let operator = |index: usize| -> Result<&str> {
        match terms.get(index) {
            Some(Value::String(op)) => Ok(op.as_str()),
            Some(other) => Err(operand(
                path,
                format!(
                    "numeric expects an operator at position {}, found {}",
                    index + 1,
                    json_type(other)
                ),
            )),
            None => Err(operand(path, "numeric needs an operator and a number")),
        }
    };
    let bound = |index: usize, op: &str| -> Result<f64> {
        match terms.get(index) {
            Some(term) => comparable_operand(term, &format!("the operand of {op:?}"), path),
            None => Err(operand(path, format!("numeric operator {op:?} needs a number after it"))),
        }
    };
    let unbounded = NumericRange {
        low: f64::NEG_INFINITY,
        low_inclusive: false,
        high: f64::INFINITY,
        high_inclusive: false,
    };
    let first = operator(0)?;
    let value = match first {
        "=" | "<" | "<=" | ">" | ">=" => bound(1, first)?,
        other => {
            return Err(operand(path, format!("unknown numeric operator {other:?}")));
        }
    };
    let too_many = || {
        operand(
            path,
            format!(
                "numeric has too many terms: {first:?} takes one number{}",
                if first.starts_with('>') {
                    ", optionally followed by \"<\" or \"<=\" and a number"
                } else {
                    ""
                }
            ),
        )
    };
    let mut range = match first {
        "=" => NumericRange { low: value, low_inclusive: true, high: value, high_inclusive: true },
        "<" | "<=" => NumericRange { high: value, high_inclusive: first == "<=", ..unbounded },
        _ => NumericRange { low: value, low_inclusive: first == ">=", ..unbounded },
    };
    if terms.len() == 2 {
        return Ok(range);
    }
    if !first.starts_with('>') || terms.len() > 4 {
        return Err(too_many());
    }
    let second = operator(2)?;
    if second != "<" && second != "<=" {
        return Err(operand(
            path,
            format!("a numeric range's upper bound must use \"<\" or \"<=\", found {second:?}"),
        ));
    }
    range.high = bound(3, second)?;
    range.high_inclusive = second == "<=";
    if range.low >= range.high {
        return Err(operand(
            path,
            format!(
                "numeric range is empty: the lower bound {} must be less than the upper bound {}",
                range.low, range.high
            ),
        ));
    }
    Ok(range)
}
