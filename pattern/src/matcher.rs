//! Leaf matchers: one entry of a field's match list, judged against one scalar event value.
//!
//! Every operand is prepared when the pattern is compiled (lower-case forms, wildcard
//! segments, CIDR integer ranges, numeric bounds as `f64`), so judging a value only compares.

use crate::cidr::{CidrBlock, IpAddress, parse_ip};
use crate::ignore_case::IgnoreCase;
use crate::json::{Json, JsonKind, JsonNumber};
use crate::number::{NumericRange, comparable};
use crate::wildcard::Wildcard;

/// One value-level matcher. `exists` is not here: it is about the field, not a value (see
/// `Leaf` in the `tree` module).
#[derive(Debug)]
pub(crate) enum Matcher {
    /// A string value, byte for byte. If the string is an IP address literal it also matches
    /// other spellings of the same address (`2001:db8::1` and `2001:DB8:0:0:0:0:0:1`), as
    /// event-ruler turns such values into an address range.
    String { text: Box<str>, address: Option<IpAddress> },
    /// A number. Numbers EventBridge can compare (within ±5e9, at most six decimals) match by
    /// value (`5` matches `5.0`); others only the same JSON number.
    Number(NumberValue),
    /// `true` or `false`.
    Bool(bool),
    /// `null` (not a missing field).
    Null,
    /// `{"prefix": "..."}`.
    Prefix(Box<str>),
    /// `{"suffix": "..."}`.
    Suffix(Box<str>),
    /// `{"prefix": {"equals-ignore-case": "..."}}`.
    PrefixIgnoreCase(IgnoreCase),
    /// `{"suffix": {"equals-ignore-case": "..."}}`.
    SuffixIgnoreCase(IgnoreCase),
    /// `{"equals-ignore-case": "..."}`.
    EqualsIgnoreCase(IgnoreCase),
    /// `{"wildcard": "..."}`.
    Wildcard(Wildcard),
    /// `{"numeric": [...]}`.
    Numeric(NumericRange),
    /// `{"cidr": "..."}`.
    Cidr(CidrBlock),
    /// `{"anything-but": ...}`.
    AnythingBut(AnythingBut),
}

/// An exact number in a pattern.
#[derive(Debug)]
pub(crate) enum NumberValue {
    /// Comparable: matches any comparable event number of the same value.
    Comparable(f64),
    /// Not comparable (an account number, `1e10`, `0.1234567`): matches only an equal
    /// JSON number (same integer, or same float).
    Exact(JsonNumber),
}

/// What an `anything-but` excludes. A value that is not excluded matches, whatever its type:
/// `{"anything-but": "x"}` matches `5`, `true` and `null`; `{"anything-but": [1, 2]}` matches
/// `"1"`. A missing field never matches.
#[derive(Debug)]
pub(crate) enum AnythingBut {
    /// Strings equal to one of these.
    Strings(Box<[Box<str>]>),
    /// Comparable numbers equal to one of these.
    Numbers(Box<[f64]>),
    /// Strings starting with one of these.
    Prefixes(Box<[Box<str>]>),
    /// Strings ending with one of these.
    Suffixes(Box<[Box<str>]>),
    /// Strings equal to one of these, ignoring case.
    IgnoreCase(Box<[IgnoreCase]>),
    /// Strings matching one of these wildcards.
    Wildcards(Box<[Wildcard]>),
}

impl Matcher {
    /// Whether the scalar event value `value` satisfies this matcher.
    pub(crate) fn matches<J: Json + ?Sized>(&self, value: &J) -> bool {
        match self {
            Self::String { text, address } => value.string().is_some_and(|s| {
                s == &**text || address.is_some_and(|address| parse_ip(s) == Some(address))
            }),
            Self::Number(expected) => value.number().is_some_and(|number| expected.matches(number)),
            Self::Bool(expected) => value.boolean() == Some(*expected),
            Self::Null => value.kind() == JsonKind::Null,
            Self::Prefix(prefix) => value.string().is_some_and(|s| s.starts_with(&**prefix)),
            Self::Suffix(suffix) => value.string().is_some_and(|s| s.ends_with(&**suffix)),
            Self::PrefixIgnoreCase(prefix) => {
                value.string().is_some_and(|s| prefix.is_prefix_of(s))
            }
            Self::SuffixIgnoreCase(suffix) => {
                value.string().is_some_and(|s| suffix.is_suffix_of(s))
            }
            Self::EqualsIgnoreCase(operand) => value.string().is_some_and(|s| operand.equals(s)),
            Self::Wildcard(wildcard) => value.string().is_some_and(|s| wildcard.matches(s)),
            Self::Numeric(range) => {
                value.number().and_then(comparable).is_some_and(|n| range.contains(n))
            }
            Self::Cidr(block) => {
                value.string().and_then(parse_ip).is_some_and(|address| block.contains(address))
            }
            Self::AnythingBut(excluded) => !excluded.excludes(value),
        }
    }
}

impl NumberValue {
    fn matches(&self, number: JsonNumber) -> bool {
        match self {
            Self::Comparable(expected) => comparable(number) == Some(*expected),
            Self::Exact(expected) => number == *expected,
        }
    }
}

impl AnythingBut {
    /// Whether `value` is excluded. Only a value of the excluded kind can be: numbers for a
    /// number list, strings for everything else.
    fn excludes<J: Json + ?Sized>(&self, value: &J) -> bool {
        if let Self::Numbers(numbers) = self {
            return value.number().and_then(comparable).is_some_and(|n| numbers.contains(&n));
        }
        let Some(s) = value.string() else { return false };
        match self {
            Self::Strings(strings) => strings.iter().any(|x| **x == *s),
            Self::Prefixes(prefixes) => prefixes.iter().any(|p| s.starts_with(&**p)),
            Self::Suffixes(suffixes) => suffixes.iter().any(|p| s.ends_with(&**p)),
            Self::IgnoreCase(operands) => operands.iter().any(|o| o.equals(s)),
            Self::Wildcards(wildcards) => wildcards.iter().any(|w| w.matches(s)),
            Self::Numbers(_) => false,
        }
    }
}
