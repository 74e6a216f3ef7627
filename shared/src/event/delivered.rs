//! An event's JSON as delivered: the parsed value, and — when the bytes hold the `detail`
//! compact — the detail's text exactly as it arrived. The state tracker stores that text
//! instead of serialising the parsed detail again, which was a third of a replay's time.

use std::fmt;
use std::sync::Arc;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::{EventError, parse_json};

/// JSON bytes parsed once: the value, and the compact text of its top-level `detail`.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The JSON value.
    pub value: Value,
    /// `value["detail"]` as compact JSON text, when the bytes held it so.
    detail_json: Option<Arc<str>>,
}

impl Delivered {
    /// Parses JSON bytes. Invalid JSON is reported exactly as [`parse_json`] reports it.
    pub fn parse(bytes: &[u8]) -> Result<Self, EventError> {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let parsed = deserializer.deserialize_map(EventVisitor).and_then(|parsed| {
            deserializer.end()?;
            Ok(parsed)
        });
        match parsed {
            Ok(delivered) => Ok(delivered),
            // Not an object, or not JSON: the plain parse says which, with the same message.
            Err(_) => Ok(Self::from_value(parse_json(bytes)?)),
        }
    }

    /// A value without its delivered text (the detail is serialised when stored).
    pub fn from_value(value: Value) -> Self {
        Self { value, detail_json: None }
    }

    /// A value with the compact text its `detail` was delivered as, if any.
    pub(crate) fn with_detail_json(value: Value, detail_json: Option<Arc<str>>) -> Self {
        Self { value, detail_json }
    }

    /// The compact text of the top-level `detail`, when the bytes held it so.
    pub fn detail_json(&self) -> Option<&Arc<str>> {
        self.detail_json.as_ref()
    }

    /// The parts.
    pub(crate) fn into_parts(self) -> (Value, Option<Arc<str>>) {
        (self.value, self.detail_json)
    }
}

/// Builds the top-level object, keeping the raw text of `detail` as it goes by.
struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = Delivered;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Delivered, A::Error> {
        let mut object = Map::new();
        let mut detail_json = None;
        while let Some(key) = access.next_key::<String>()? {
            if key == "detail" {
                // A repeated key keeps its last value, as serde_json's own map does.
                let raw: &RawValue = access.next_value()?;
                if may_reach_depth_limit(raw.get()) {
                    return Err(serde::de::Error::custom("nested deeply: parse it whole"));
                }
                let value = serde_json::from_str(raw.get()).map_err(serde::de::Error::custom)?;
                detail_json = is_compact(raw.get()).then(|| Arc::from(raw.get()));
                object.insert(key, value);
            } else {
                object.insert(key, access.next_value()?);
            }
        }
        Ok(Delivered { value: Value::Object(object), detail_json })
    }
}

/// serde_json refuses a document nested over 128 levels. Parsed alone, the detail would be
/// allowed one level more than inside its event, so a detail that could be that deep (counting
/// brackets in strings too) is left to the whole-document parse.
pub(crate) fn may_reach_depth_limit(json: &str) -> bool {
    json.bytes().filter(|byte| matches!(byte, b'{' | b'[')).count() >= 127
}

/// Whether valid JSON text has no whitespace outside its strings.
pub(crate) fn is_compact(json: &str) -> bool {
    let bytes = json.as_bytes();
    let mut at = 0;
    loop {
        // Outside a string, up to the next one.
        let quote = memchr::memchr(b'"', &bytes[at..]).map_or(bytes.len(), |found| at + found);
        if bytes[at..quote].iter().any(|byte| matches!(byte, b' ' | b'\n' | b'\r' | b'\t')) {
            return false;
        }
        if quote == bytes.len() {
            return true;
        }
        // Inside the string, past its closing quote (an escape covers the byte after it).
        at = quote + 1;
        loop {
            match memchr::memchr2(b'"', b'\\', &bytes[at..]) {
                Some(found) if bytes[at + found] == b'\\' => at += found + 2,
                Some(found) => {
                    at += found + 1;
                    break;
                }
                None => return true,
            }
            if at >= bytes.len() {
                return true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn given_compact_bytes_then_the_detail_text_is_kept_as_delivered() {
        let bytes = br#"{"id":"e","detail":{"z":1,"a":"x y","n":1.50,"s":"\"q\\"},"more":[1]}"#;
        let delivered = Delivered::parse(bytes).expect("parses");
        assert_eq!(
            delivered.value,
            json!({"id": "e", "detail": {"z": 1, "a": "x y", "n": 1.5, "s": "\"q\\"}, "more": [1]})
        );
        assert_eq!(
            delivered.detail_json().map(|text| &**text),
            Some(r#"{"z":1,"a":"x y","n":1.50,"s":"\"q\\"}"#)
        );
    }

    #[test]
    fn given_whitespace_outside_strings_then_no_detail_text_is_kept() {
        for bytes in [
            &br#"{"detail": {"a": 1}}"#[..],
            br#"{"detail":{"a":[1, 2]}}"#,
            b"{\"detail\":{\"a\":\n1}}",
        ] {
            let delivered = Delivered::parse(bytes).expect("parses");
            assert_eq!(delivered.detail_json(), None, "{}", String::from_utf8_lossy(bytes));
            assert_eq!(
                delivered.value["detail"]["a"],
                serde_json::from_slice::<Value>(bytes).unwrap()["detail"]["a"]
            );
        }
    }

    #[test]
    fn given_a_repeated_detail_then_the_last_one_counts_as_in_serde_json() {
        let bytes = br#"{"detail":{"a":1},"detail":{"b":2}}"#;
        let delivered = Delivered::parse(bytes).expect("parses");
        assert_eq!(delivered.value, serde_json::from_slice::<Value>(bytes).expect("JSON"));
        assert_eq!(delivered.detail_json().map(|text| &**text), Some(r#"{"b":2}"#));
    }

    #[test]
    fn given_bad_or_other_json_then_the_plain_parse_decides_with_its_message() {
        for bytes in [
            &b"[1,2]"[..],
            b"\"text\"",
            b"{\"detail\":{\"a\":}}",
            b"{\"a\":1} x",
            b"",
            b"{\"detail\":\"\\ud800\"}",
        ] {
            assert_eq!(
                Delivered::parse(bytes).map(|delivered| delivered.value),
                parse_json(bytes),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn given_a_detail_nested_to_the_limit_then_the_result_is_the_whole_document_parse() {
        for depth in [126, 127, 128] {
            let text = format!("{{\"detail\":{}1{}}}", "[".repeat(depth), "]".repeat(depth));
            let delivered = Delivered::parse(text.as_bytes()).map(|delivered| delivered.value);
            assert_eq!(delivered, parse_json(text.as_bytes()), "depth {depth}");
        }
    }

    #[test]
    fn given_text_then_compactness_is_judged_outside_strings_only() {
        assert!(is_compact(r#"{"a":"x y\n","b":[1,2],"c":"\\","d":"\""}"#));
        assert!(!is_compact(r#"{"a":"x" }"#));
        assert!(!is_compact("{\"a\":\"\\\"\",\t\"b\":1}"));
        assert!(is_compact("17"));
    }
}
