//! What matching needs from an event: the [`Json`] trait, its number type, and the
//! implementation for `serde_json::Value`.
//!
//! The matcher walks the event by reference through this trait, so any JSON representation
//! that can answer these few questions can be matched without being converted first.

use serde_json::Value;

/// The kind of a JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonKind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl JsonKind {
    /// The kind as error messages name it: `null`, `a boolean`, `an object`...
    pub(crate) fn described(self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool => "a boolean",
            Self::Number => "a number",
            Self::String => "a string",
            Self::Array => "an array",
            Self::Object => "an object",
        }
    }
}

/// A JSON number as an event holds it: a non-negative integer, a negative integer or a finite
/// float, kept apart the way `serde_json` keeps them.
///
/// Numbers EventBridge can compare (within ±5.0e9, at most six decimal places) are compared by
/// value whatever their form, so `5` and `5.0` are equal for a pattern. Other numbers (an
/// account number such as `123456789012`, `1e10`) only match the same JSON number, and that
/// is what `==` says here: the same integer, or the same float, as `serde_json::Number`'s
/// equality has it (`1e10` read as a float is not the integer `10000000000`).
#[derive(Debug, Clone, Copy)]
pub struct JsonNumber(pub(crate) NumberRepr);

/// The forms of a [`JsonNumber`], as `serde_json`'s own.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NumberRepr {
    /// An integer `>= 0`.
    Unsigned(u64),
    /// An integer `< 0`.
    Negative(i64),
    /// A finite float.
    Float(f64),
}

impl JsonNumber {
    /// A non-negative integer.
    pub fn from_u64(number: u64) -> Self {
        Self(NumberRepr::Unsigned(number))
    }

    /// An integer; one that is not negative is the same number as [`JsonNumber::from_u64`]
    /// gives.
    pub fn from_i64(number: i64) -> Self {
        match u64::try_from(number) {
            Ok(unsigned) => Self::from_u64(unsigned),
            Err(_) => Self(NumberRepr::Negative(number)),
        }
    }

    /// A float (the form JSON text with a fraction or an exponent reads as), or `None` if it
    /// is infinite or NaN, which JSON cannot hold.
    pub fn from_f64(number: f64) -> Option<Self> {
        number.is_finite().then_some(Self(NumberRepr::Float(number)))
    }
}

impl PartialEq for JsonNumber {
    fn eq(&self, other: &Self) -> bool {
        match (self.0, other.0) {
            (NumberRepr::Unsigned(a), NumberRepr::Unsigned(b)) => a == b,
            (NumberRepr::Negative(a), NumberRepr::Negative(b)) => a == b,
            (NumberRepr::Float(a), NumberRepr::Float(b)) => a == b,
            _ => false,
        }
    }
}

impl From<&serde_json::Number> for JsonNumber {
    fn from(number: &serde_json::Number) -> Self {
        if let Some(unsigned) = number.as_u64() {
            Self::from_u64(unsigned)
        } else if let Some(signed) = number.as_i64() {
            Self::from_i64(signed)
        } else {
            // serde_json's floats are always finite; NaN compares unequal to everything.
            Self(NumberRepr::Float(number.as_f64().unwrap_or(f64::NAN)))
        }
    }
}

/// An event value the matcher can read: what kind of value it is, an object's fields by name,
/// an array's elements, and the scalar inside.
///
/// The answers must agree with each other: [`Json::field`] finds something only in an
/// object, [`Json::elements`] yields something only for an array, and [`Json::string`],
/// [`Json::boolean`] and [`Json::number`] are `Some` exactly for their kind.
///
/// Implemented for `serde_json::Value` by reference, without converting or allocating.
///
/// ```
/// use eventbridge_pattern::{Json, JsonKind, Pattern};
/// use serde_json::json;
///
/// let event = json!({"detail": {"containers": [{"exitCode": 137}]}});
/// assert_eq!(event.kind(), JsonKind::Object);
/// let pattern = Pattern::from_json(r#"{"detail": {"containers": {"exitCode": [137]}}}"#)?;
/// assert!(pattern.matches(&event));
/// # Ok::<(), eventbridge_pattern::PatternError>(())
/// ```
pub trait Json {
    /// What kind of value this is.
    fn kind(&self) -> JsonKind;

    /// The value of the field called `name`, if this is an object that has one.
    fn field(&self, name: &str) -> Option<&Self>;

    /// The elements of this value, in order, if it is an array; none otherwise.
    fn elements(&self) -> impl Iterator<Item = &Self>;

    /// The text, if this is a string.
    fn string(&self) -> Option<&str>;

    /// The value, if this is `true` or `false`.
    fn boolean(&self) -> Option<bool>;

    /// The number, if this is one.
    fn number(&self) -> Option<JsonNumber>;
}

impl Json for Value {
    fn kind(&self) -> JsonKind {
        match self {
            Value::Null => JsonKind::Null,
            Value::Bool(_) => JsonKind::Bool,
            Value::Number(_) => JsonKind::Number,
            Value::String(_) => JsonKind::String,
            Value::Array(_) => JsonKind::Array,
            Value::Object(_) => JsonKind::Object,
        }
    }

    fn field(&self, name: &str) -> Option<&Self> {
        match self {
            Value::Object(object) => object.get(name),
            _ => None,
        }
    }

    fn elements(&self) -> impl Iterator<Item = &Self> {
        match self {
            Value::Array(items) => items.iter(),
            _ => [].iter(),
        }
    }

    fn string(&self) -> Option<&str> {
        self.as_str()
    }

    fn boolean(&self) -> Option<bool> {
        self.as_bool()
    }

    fn number(&self) -> Option<JsonNumber> {
        match self {
            Value::Number(number) => Some(number.into()),
            _ => None,
        }
    }
}

#[cfg(test)]
impl JsonNumber {
    /// The number that the JSON text `text` reads as.
    pub(crate) fn read(text: &str) -> Self {
        let number: serde_json::Number = serde_json::from_str(text).expect("a JSON number");
        Self::from(&number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_json_numbers_then_equality_is_serde_jsons() {
        let texts = ["0", "-0", "0.0", "5", "5.0", "-5", "123456789012", "1e10", "10000000000"];
        for a in texts {
            for b in texts {
                let serde = serde_json::from_str::<Value>(a).ok() == serde_json::from_str(b).ok();
                assert_eq!(JsonNumber::read(a) == JsonNumber::read(b), serde, "{a} == {b}");
            }
        }
        assert_eq!(JsonNumber::from_i64(7), JsonNumber::from_u64(7));
        assert_ne!(JsonNumber::from_i64(7), JsonNumber::from_f64(7.0).expect("finite"));
        assert!(JsonNumber::from_f64(f64::INFINITY).is_none());
    }

    #[test]
    fn given_values_of_each_kind_then_only_their_own_accessor_answers() {
        let event = serde_json::json!({"a": [1, "x", true, null, {}]});
        let items: Vec<&Value> = event.field("a").expect("a").elements().collect();
        let kinds: Vec<JsonKind> = items.iter().map(|item| item.kind()).collect();
        use JsonKind::*;
        assert_eq!(kinds, [Number, String, Bool, Null, Object]);
        assert_eq!(items[0].number(), Some(JsonNumber::from_u64(1)));
        assert_eq!(items[1].string(), Some("x"));
        assert_eq!(items[2].boolean(), Some(true));
        assert!(items.iter().skip(1).all(|item| item.number().is_none()));
        assert!(items[4].field("a").is_none() && event.field("b").is_none());
        assert_eq!(items[1].elements().count(), 0);
        assert_eq!(event.kind(), Object);
    }
}
