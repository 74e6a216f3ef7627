//! A stored `detail`: the event's detail as compact JSON text (the same JSON value as
//! delivered, unknown fields included, secrets redacted), and its encoding in a DynamoDB item.
//!
//! In the table the detail is one binary attribute: a format byte, then the JSON compressed
//! with raw deflate and a preset dictionary of typical ECS details
//! (`detail-dictionary-v1.txt`, frozen: items written with it must stay readable). A 2.9 KB
//! task detail takes about 450 bytes, so a typical task event is one write unit, and the
//! detail round-trips exactly — DynamoDB's number type (38 digits, 1E-130..1E+126) and its 32
//! levels of nesting never apply to it.

use std::sync::Arc;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use serde::{Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// The preset dictionary of format 1.
const DICTIONARY_V1: &[u8] = include_bytes!("detail-dictionary-v1.txt");
/// Format byte: raw deflate with [`DICTIONARY_V1`].
const FORMAT_DEFLATE_V1: u8 = 1;
/// The bytes at the end of [`DICTIONARY_V1`] that [`Detail::pack`] uses.
const PACK_DICTIONARY_BYTES: usize = 8 * 1024;
/// The most bytes a stored detail may expand to (EventBridge events are at most 256 KB).
const MAX_DETAIL_JSON_BYTES: usize = 1024 * 1024;

/// A detail as compact JSON text; cloning is cheap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail(Arc<str>);

impl Detail {
    /// The compact JSON text of `value`.
    pub fn from_value(value: &Value) -> Self {
        Self(Arc::from(value.to_string()))
    }

    /// The detail's compact JSON text as it was delivered ([`crate::event::Delivered`]).
    pub(crate) fn from_delivered(text: Arc<str>) -> Self {
        Self(text)
    }

    /// A detail from compact JSON text already known to be valid (read back from a store).
    fn from_json(text: String) -> Result<Self, String> {
        serde_json::from_str::<&RawValue>(&text)
            .map_err(|error| format!("stored detail is not JSON: {error}"))?;
        Ok(Self(Arc::from(text)))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The detail as a JSON value.
    pub fn to_value(&self) -> Value {
        // The text is JSON by construction.
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    /// The encoded form stored in a DynamoDB item.
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        deflate(self.0.as_bytes(), DICTIONARY_V1, Compression::best(), Some(FORMAT_DEFLATE_V1))
    }

    /// Decodes a stored detail; the error says what is wrong with it.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let Some((&format, compressed)) = bytes.split_first() else {
            return Err("stored detail is empty".into());
        };
        if format != FORMAT_DEFLATE_V1 {
            return Err(format!("stored detail has unknown format {format}"));
        }
        Self::from_json(inflate(compressed, DICTIONARY_V1)?)
    }

    /// The detail packed to be kept in memory: raw deflate at the fast level with the end of
    /// the preset dictionary (a third of the time of [`Self::encode`], about the same size).
    pub(crate) fn pack(&self) -> Result<Vec<u8>, String> {
        deflate(self.0.as_bytes(), pack_dictionary(), Compression::fast(), None)
    }

    /// A detail [`Self::pack`] packed.
    pub(crate) fn unpack(packed: &[u8]) -> Result<Self, String> {
        Self::from_json(inflate(packed, pack_dictionary())?)
    }
}

/// The end of [`DICTIONARY_V1`] used by [`Detail::pack`]: deflate finds its matches at the
/// end of a dictionary first, and the whole of it costs twice the time to set up.
fn pack_dictionary() -> &'static [u8] {
    &DICTIONARY_V1[DICTIONARY_V1.len().saturating_sub(PACK_DICTIONARY_BYTES)..]
}

/// Raw deflate of `input` with a preset `dictionary`, after a `format` byte if given.
fn deflate(
    input: &[u8],
    dictionary: &[u8],
    level: Compression,
    format: Option<u8>,
) -> Result<Vec<u8>, String> {
    let mut compress = Compress::new(level, false);
    // Setting a dictionary on a fresh stream cannot fail.
    let _ = compress.set_dictionary(dictionary);
    let mut encoded = Vec::with_capacity(input.len() / 2 + 64);
    encoded.extend(format);
    loop {
        let consumed = usize::try_from(compress.total_in()).unwrap_or(input.len());
        encoded.reserve(1024);
        let rest = &input[consumed.min(input.len())..];
        match compress.compress_vec(rest, &mut encoded, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => return Ok(encoded),
            Ok(Status::Ok | Status::BufError) => {}
            Err(error) => return Err(format!("cannot compress the detail: {error}")),
        }
    }
}

/// The text raw deflate `compressed` with a preset `dictionary` holds.
fn inflate(compressed: &[u8], dictionary: &[u8]) -> Result<String, String> {
    let mut decompress = Decompress::new(false);
    decompress.set_dictionary(dictionary).map_err(|error| format!("stored detail: {error}"))?;
    let mut json = Vec::with_capacity(compressed.len() * 6);
    loop {
        if json.len() >= MAX_DETAIL_JSON_BYTES {
            return Err(format!("stored detail expands beyond {MAX_DETAIL_JSON_BYTES} bytes"));
        }
        json.reserve(4096);
        let (read, written) = (decompress.total_in(), decompress.total_out());
        let consumed = usize::try_from(read).unwrap_or(compressed.len()).min(compressed.len());
        let status = decompress
            .decompress_vec(&compressed[consumed..], &mut json, FlushDecompress::Finish)
            .map_err(|error| format!("stored detail is corrupt: {error}"))?;
        if status == Status::StreamEnd {
            break;
        }
        // No progress with room to write: the input ended before the stream did.
        if decompress.total_in() == read && decompress.total_out() == written {
            return Err("stored detail is truncated".into());
        }
    }
    String::from_utf8(json).map_err(|_| "stored detail is not UTF-8".to_owned())
}

impl Serialize for Detail {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match serde_json::from_str::<&RawValue>(&self.0) {
            Ok(raw) => raw.serialize(serializer),
            Err(_) => serializer.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn given_a_detail_then_it_decodes_to_the_same_text() {
        for value in [
            json!({"lastStatus": "RUNNING", "version": 3, "containers": [{"name": "app"}]}),
            json!({"huge": 1.5e300, "tiny": 1e-200, "long": 12345678901234567890_u64, "zero": 0.0}),
            json!({}),
        ] {
            let detail = Detail::from_value(&value);
            let encoded = detail.encode().expect("encodes");
            assert_eq!(encoded[0], FORMAT_DEFLATE_V1);
            let decoded = Detail::decode(&encoded).expect("decodes");
            assert_eq!(decoded, detail);
            assert_eq!(decoded.to_value(), value);
        }
    }

    #[test]
    fn given_a_typical_task_detail_then_it_compresses_to_a_fraction() {
        let raw: Value =
            serde_json::from_str(include_str!("../../../events/samples/task-oom-killed.json"))
                .expect("JSON");
        let detail = Detail::from_value(&raw["detail"]);
        let encoded = detail.encode().expect("encodes");
        assert!(encoded.len() * 3 < detail.as_str().len(), "{}", encoded.len());
    }

    #[test]
    fn given_damaged_bytes_then_decoding_says_what_is_wrong() {
        let encoded = Detail::from_value(&json!({"a": "b".repeat(500)})).encode().expect("encodes");
        assert_eq!(Detail::decode(&[]), Err("stored detail is empty".into()));
        assert_eq!(Detail::decode(&[9, 1, 2]), Err("stored detail has unknown format 9".into()));
        let truncated = Detail::decode(&encoded[..encoded.len() / 2]).expect_err("truncated");
        assert!(truncated.starts_with("stored detail"), "{truncated}");
    }
}
