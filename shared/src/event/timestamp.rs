//! ISO-8601 timestamps that keep their original spelling.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// A timestamp as ECS sends it (`2024-05-02T10:15:30.123Z`): validated on parse and written
/// back exactly as it was read, so a round trip never changes the text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp {
    text: String,
    instant: DateTime<Utc>,
}

impl Timestamp {
    /// Parses an RFC 3339 timestamp, keeping its text.
    pub fn parse(text: &str) -> Result<Self, chrono::ParseError> {
        let instant = DateTime::parse_from_rfc3339(text)?.with_timezone(&Utc);
        Ok(Self { text: text.to_owned(), instant })
    }

    /// The timestamp as it was sent.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The instant, in UTC.
    pub fn instant(&self) -> DateTime<Utc> {
        self.instant
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text)
            .map_err(|error| de::Error::custom(format!("invalid timestamp {text:?}: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_an_offset_timestamp_when_round_tripped_then_the_text_is_unchanged() {
        let json = "\"2024-05-02T12:15:30.1+02:00\"";
        let stamp: Timestamp = serde_json::from_str(json).expect("valid timestamp");
        assert_eq!(serde_json::to_string(&stamp).expect("serialises"), json);
        assert_eq!(stamp.instant().to_rfc3339(), "2024-05-02T10:15:30.100+00:00");
    }

    #[test]
    fn given_a_date_without_time_when_parsed_then_the_error_names_the_text() {
        let error = serde_json::from_str::<Timestamp>("\"2024-05-02\"").expect_err("not RFC 3339");
        assert!(error.to_string().contains("invalid timestamp \"2024-05-02\""), "{error}");
    }
}
