//! Numbers as EventBridge compares them: within ±5.0e9 and with at most six decimal places.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

use crate::error::{PatternError, PatternErrorKind};
use crate::json::{JsonNumber, NumberRepr};

/// The largest magnitude EventBridge compares numerically (`-5.0e9..=5.0e9`).
pub(crate) const LIMIT: f64 = 5.0e9;
const MICROS: f64 = 1e6;

/// The value of `number` if EventBridge can compare it numerically: it lies within
/// [`LIMIT`] and has at most six decimal places. Numbers outside that are only ever equal to
/// the same JSON number (event-ruler's `ComparableNumber`).
pub(crate) fn comparable(number: JsonNumber) -> Option<f64> {
    match number.0 {
        // 5e9 is exact in both types; integers have no decimal places.
        NumberRepr::Unsigned(unsigned) => (unsigned <= LIMIT as u64).then_some(unsigned as f64),
        NumberRepr::Negative(signed) => {
            (signed.unsigned_abs() <= LIMIT as u64).then_some(signed as f64)
        }
        NumberRepr::Float(value) => Some(value).filter(|value| has_six_decimals_at_most(*value)),
    }
}

/// Whether `value` is within [`LIMIT`] and is the double nearest to some decimal with at most
/// six decimal places. Any `k` with `|k| <= 5e15` is exact in an `f64` and `k / 1e6` is
/// correctly rounded, so `value` qualifies exactly when it equals `k / 1e6` for the integer
/// `k` nearest to `value * 1e6` (the product may be off by one near the limit, hence the
/// neighbours).
fn has_six_decimals_at_most(value: f64) -> bool {
    if value.is_nan() || value.abs() > LIMIT {
        return false;
    }
    let micros = (value * MICROS).round();
    [micros, micros - 1.0, micros + 1.0].iter().any(|candidate| candidate / MICROS == value)
}

/// Refuses number literals in pattern text that a double cannot hold: serde reads `1E-325` as
/// 0, which would then match 0 (event-ruler refuses such patterns). The path names the field
/// the literal is a value of (operator names are not fields).
pub(crate) fn check_literals(
    raw: &RawValue,
    path: &mut Vec<String>,
    operators: &[&str],
) -> Result<(), PatternError> {
    let text = raw.get().trim();
    let error = |path: &[String], message: String| {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        PatternError::new(PatternErrorKind::Operand, &path, message)
    };
    match text.as_bytes().first() {
        Some(b'{') => {
            let fields: BTreeMap<String, &RawValue> = serde_json::from_str(text)
                .map_err(|e| error(path, format!("invalid JSON: {e}")))?;
            for (name, value) in fields {
                let is_field = !operators.contains(&name.as_str());
                if is_field {
                    path.push(name);
                }
                let result = check_literals(value, path, operators);
                if is_field {
                    path.pop();
                }
                result?;
            }
            Ok(())
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text)
                .map_err(|e| error(path, format!("invalid JSON: {e}")))?;
            items.into_iter().try_for_each(|item| check_literals(item, path, operators))
        }
        Some(b'-' | b'0'..=b'9') if underflows(text) => Err(error(
            path,
            format!(
                "number {text} cannot be represented exactly within EventBridge's numeric limits \
                 (between -{LIMIT:e} and {LIMIT:e}, at most 6 decimal places): it would read as 0"
            ),
        )),
        _ => Ok(()),
    }
}

/// Whether a JSON number literal is not zero but reads as zero.
fn underflows(literal: &str) -> bool {
    let mantissa = literal.split(['e', 'E']).next().unwrap_or_default();
    mantissa.bytes().any(|byte| matches!(byte, b'1'..=b'9'))
        && literal.parse::<f64>().is_ok_and(|value| value == 0.0)
}

/// A numeric comparison: `= v`, one bound, or a lower and an upper bound. Absent bounds are
/// infinite.
#[derive(Debug)]
pub(crate) struct NumericRange {
    pub(crate) low: f64,
    pub(crate) low_inclusive: bool,
    pub(crate) high: f64,
    pub(crate) high_inclusive: bool,
}

impl NumericRange {
    pub(crate) fn contains(&self, value: f64) -> bool {
        let above = value > self.low || (self.low_inclusive && value == self.low);
        let below = value < self.high || (self.high_inclusive && value == self.high);
        above && below
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_decimals_are_comparable_seven_are_not() {
        for text in ["0", "-0", "0.000001", "3.8", "122.415028", "-5000000000", "5e9", "5.0e9"] {
            assert!(comparable(JsonNumber::read(text)).is_some(), "{text}");
        }
        for text in
            ["0.0000001", "1e-7", "5000000000.5", "5000000001", "-5000000000.000001", "1e10"]
        {
            assert!(comparable(JsonNumber::read(text)).is_none(), "{text}");
        }
    }

    #[test]
    fn the_largest_values_with_six_decimals_stay_distinct() {
        let top = comparable(JsonNumber::read("4999999999.999999")).expect("comparable");
        let below = comparable(JsonNumber::read("4999999999.999998")).expect("comparable");
        assert!(below < top);
        assert!(top < LIMIT);
    }

    #[test]
    fn given_pattern_numbers_that_underflow_then_they_are_refused_naming_the_field() {
        for pattern in [
            r#"{"detail": {"size": [{"numeric": ["=", 1E-325]}]}}"#,
            r#"{"detail": {"size": [{"numeric": [">", 0, "<", -1e-400]}]}}"#,
            r#"{"detail": {"size": [2.5e-330]}}"#,
            r#"{"detail": {"size": [{"anything-but": [1, 1e-999]}]}}"#,
        ] {
            let error = crate::Pattern::from_json(pattern).expect_err(pattern);
            assert_eq!(error.path(), "detail.size", "{pattern}");
            assert_eq!(error.kind(), PatternErrorKind::Operand);
            assert!(error.message().contains("it would read as 0"), "{error}");
        }
        for pattern in [
            r#"{"detail": {"size": [{"numeric": ["=", 0.0]}]}}"#,
            r#"{"detail": {"size": [0e10, -0, 0.000001, 1e-300]}}"#,
        ] {
            assert!(crate::Pattern::from_json(pattern).is_ok(), "{pattern}");
        }
    }
}
