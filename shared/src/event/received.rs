//! An event as delivered: its JSON text, kept whole, and its typed view, read from that text
//! once.
//!
//! The text is the lossless form of the event: it is what rules are matched against (on the
//! few paths they name, [`super::Projection`]), what the listener logs, and where the stored
//! detail comes from (as delivered when compact). The typed view reads only the fields this
//! version knows, so unknown fields cost nothing but being skipped.
//!
//! A plain event — exactly the nine envelope fields EventBridge sends, well typed — is read by
//! one pass over its bytes straight into the typed view, with no JSON tree built. Anything
//! else (an unknown envelope field, a duplicate key, a bad field, a wrapped or batched event)
//! takes the general path: the bytes parsed into a [`Value`] and checked field by field, which
//! decides every error. The fast pass accepts a subset of what the general one accepts, with
//! the same typed view, so which path an event took never shows.

use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::delivered::{is_compact, may_reach_depth_limit};
use super::{
    CONTAINER_INSTANCE_STATE_CHANGE, DEPLOYMENT_STATE_CHANGE, Delivered, ECS_SOURCE, EcsDetail,
    EcsEvent, EventError, SERVICE_ACTION, TASK_STATE_CHANGE, Timestamp, check_keys,
};

/// An event as delivered and its typed view, read once.
#[derive(Debug, Clone)]
pub struct ReceivedEvent {
    /// Its typed view.
    pub event: EcsEvent,
    /// The event's JSON text: as delivered, or written compact from its value.
    json: Arc<str>,
    /// Where its `detail` is in `json`.
    detail: Range<usize>,
    /// Whether the detail's text is compact (no whitespace outside strings): judged where the
    /// text is read, so the thread that stores it need not.
    detail_compact: bool,
}

impl PartialEq for ReceivedEvent {
    /// The same event: the same JSON value (whatever its spelling) and the same typed view.
    fn eq(&self, other: &Self) -> bool {
        self.event == other.event && self.raw() == other.raw()
    }
}

impl ReceivedEvent {
    /// Checks and types an event given as a JSON value.
    pub fn new(raw: Value) -> Result<Self, EventError> {
        Self::from_delivered(Delivered::from_value(raw))
    }

    /// Checks and types an event parsed with [`Delivered::parse`], keeping its detail's text.
    pub fn from_delivered(delivered: Delivered) -> Result<Self, EventError> {
        let event = EcsEvent::from_raw(&delivered.value)?;
        Ok(Self::from_checked(delivered, event))
    }

    /// Parses an event from JSON bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, EventError> {
        match std::str::from_utf8(bytes).ok().and_then(Self::plain) {
            Some(received) => Ok(received),
            None => Self::from_delivered(Delivered::parse(bytes)?),
        }
    }

    /// A plain event read in one pass from its text, or `None` when it takes the general path
    /// (which then decides whether it is an event, and what is wrong when it is not).
    pub fn plain(text: &str) -> Option<Self> {
        let envelope: Envelope<'_> = serde_json::from_str(text).ok()?;
        if envelope.source != ECS_SOURCE {
            return None;
        }
        let detail_json = envelope.detail.get();
        if may_reach_depth_limit(detail_json) {
            return None;
        }
        let detail = match envelope.detail_type.as_str() {
            TASK_STATE_CHANGE => EcsDetail::Task(serde_json::from_str(detail_json).ok()?),
            CONTAINER_INSTANCE_STATE_CHANGE => {
                EcsDetail::ContainerInstance(serde_json::from_str(detail_json).ok()?)
            }
            SERVICE_ACTION => EcsDetail::ServiceAction(serde_json::from_str(detail_json).ok()?),
            DEPLOYMENT_STATE_CHANGE => {
                EcsDetail::Deployment(serde_json::from_str(detail_json).ok()?)
            }
            _ => match serde_json::from_str(detail_json).ok()? {
                detail @ Value::Object(_) => EcsDetail::Unknown(detail),
                _ => return None,
            },
        };
        let resources = envelope.resources.into_option();
        check_keys(&detail, resources.as_deref()).ok()?;
        let start = (detail_json.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
        let event = EcsEvent {
            version: envelope.version,
            id: envelope.id,
            detail_type: envelope.detail_type,
            source: envelope.source,
            account: envelope.account,
            time: Timestamp::parse(&envelope.time).ok()?,
            region: envelope.region,
            resources,
            detail,
        };
        Some(Self {
            event,
            json: Arc::from(text),
            detail: start..start + detail_json.len(),
            detail_compact: is_compact(detail_json),
        })
    }

    /// An event checked on the general path, with its text: the delivered text of its detail
    /// when there is one, the rest written compact from its value.
    pub(crate) fn from_checked(delivered: Delivered, event: EcsEvent) -> Self {
        let (raw, detail_json) = delivered.into_parts();
        let Value::Object(object) = raw else {
            // `EcsEvent::from_raw` refuses anything but an object.
            return Self { event, json: Arc::from("{}"), detail: 1..1, detail_compact: true };
        };
        // The delivered text is kept only when compact; the rest is written compact.
        let (json, detail) = written(&object, detail_json.as_deref());
        Self { event, json: Arc::from(json), detail, detail_compact: true }
    }

    /// The event's JSON text (as delivered, or written compact from its value).
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The text of its `detail`, as it is in [`Self::json`].
    pub fn detail_json(&self) -> &str {
        self.json.get(self.detail.clone()).unwrap_or("{}")
    }

    /// Whether [`Self::detail_json`] is compact (no whitespace outside its strings).
    pub fn detail_is_compact(&self) -> bool {
        self.detail_compact
    }

    /// The event as a JSON value, unknown fields included (parsed from its text on each call).
    pub fn raw(&self) -> Value {
        // The text is JSON by construction.
        serde_json::from_str(&self.json).unwrap_or(Value::Null)
    }
}

/// An event object written as compact JSON (keys in the map's order), its `detail` as the
/// given text when there is one; and where the detail is in the text.
fn written(object: &Map<String, Value>, detail_json: Option<&str>) -> (String, Range<usize>) {
    let mut json = String::from("{");
    let mut detail = 0..0;
    for (index, (key, value)) in object.iter().enumerate() {
        if index > 0 {
            json.push(',');
        }
        json.push_str(&Value::from(key.as_str()).to_string());
        json.push(':');
        let start = json.len();
        match detail_json {
            Some(text) if key == "detail" => json.push_str(text),
            _ => json.push_str(&value.to_string()),
        }
        if key == "detail" {
            detail = start..json.len();
        }
    }
    json.push('}');
    (json, detail)
}

/// The envelope of a plain event: the nine fields EventBridge sends, no others.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    version: String,
    id: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    source: String,
    account: String,
    time: String,
    region: String,
    #[serde(default)]
    resources: Present<Vec<String>>,
    #[serde(borrow)]
    detail: &'a RawValue,
}

/// An optional field that, when present, must hold a `T` (`null` is not "absent").
#[derive(Default)]
enum Present<T> {
    #[default]
    Absent,
    Here(T),
}

impl<T> Present<T> {
    fn into_option(self) -> Option<T> {
        match self {
            Self::Absent => None,
            Self::Here(value) => Some(value),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Present<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self::Here)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Every sample under `events/samples`, compact as EventBridge delivers it.
    fn samples() -> Vec<(String, String)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/samples");
        let mut found: Vec<_> = std::fs::read_dir(dir)
            .expect("samples")
            .map(|entry| entry.expect("entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .map(|path| {
                let value: Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).expect("read"))
                        .expect("JSON");
                (path.display().to_string(), value.to_string())
            })
            .collect();
        found.sort();
        found
    }

    /// The sample `name`, compact.
    fn sample(name: &str) -> String {
        let found = samples().into_iter().find(|(path, _)| path.ends_with(name));
        found.expect("sample").1
    }

    fn general(text: &str) -> Result<ReceivedEvent, EventError> {
        ReceivedEvent::from_delivered(Delivered::parse(text.as_bytes())?)
    }

    #[test]
    fn given_each_sample_then_the_one_pass_read_equals_the_general_path() {
        let samples = samples();
        assert!(samples.len() >= 30, "{} samples", samples.len());
        for (path, text) in samples {
            let general = general(&text).expect("valid");
            let envelope_keys = general.raw().as_object().map_or(0, Map::len);
            let Some(plain) = ReceivedEvent::plain(&text) else {
                assert_eq!(
                    envelope_keys, 10,
                    "{path}: only an unknown envelope field is not plain"
                );
                assert_eq!(ReceivedEvent::from_slice(text.as_bytes()).expect("valid"), general);
                continue;
            };
            assert_eq!(plain.event, general.event, "{path}");
            assert_eq!(plain.json(), text, "{path}: the text is kept as delivered");
            assert_eq!(plain.detail_json(), general.detail_json(), "{path}");
            assert_eq!(plain.raw(), serde_json::from_str::<Value>(&text).expect("JSON"));
        }
    }

    #[test]
    fn given_unknown_detail_fields_then_the_typed_view_skips_them_and_the_text_keeps_them() {
        let text = sample("task-unknown-fields.json");
        let mut event: Value = serde_json::from_str(&text).expect("JSON");
        event.as_object_mut().expect("object").remove("x-custom-top");
        let text = event.to_string();
        let received = ReceivedEvent::plain(&text).expect("plain");
        let detail: Value = serde_json::from_str(received.detail_json()).expect("JSON");
        let typed = serde_json::to_value(&received.event.detail).expect("JSON");
        let unknown: Vec<&String> = detail
            .as_object()
            .expect("object")
            .keys()
            .filter(|key| typed.get(*key).is_none())
            .collect();
        assert!(!unknown.is_empty(), "the sample has fields this version does not type");
        assert_eq!(received.raw(), serde_json::from_str::<Value>(&text).expect("JSON"));
    }

    #[test]
    fn given_what_the_one_pass_read_leaves_to_the_general_path_then_that_path_decides() {
        let text = sample("task-oom-killed.json");
        let event: Value = serde_json::from_str(&text).expect("JSON");
        let with = |change: &dyn Fn(&mut Value)| {
            let mut changed = event.clone();
            change(&mut changed);
            changed.to_string()
        };
        // Accepted by the general path, not by the one pass: an unknown envelope field, a
        // repeated key, whitespace is fine in both.
        let unknown_field = with(&|event| event["replay-name"] = json!("x"));
        assert!(ReceivedEvent::plain(&unknown_field).is_none());
        let read = ReceivedEvent::from_slice(unknown_field.as_bytes()).expect("valid");
        assert_eq!(read.raw()["replay-name"], "x", "kept in the text");
        assert_eq!(read.detail_json(), general(&text).expect("valid").detail_json());
        let repeated = text.replacen("\"detail\":{", "\"detail\":{\"version\":0,", 1);
        assert!(ReceivedEvent::plain(&repeated).is_none());
        assert_eq!(
            ReceivedEvent::from_slice(repeated.as_bytes()).expect("valid").event,
            general(&text).expect("valid").event,
            "the last of a repeated key counts, as in serde_json"
        );
        // Refused by both, with the general path's error.
        for (bad, error) in [
            (
                with(&|event| event["resources"] = Value::Null),
                "resources: invalid type: null, expected a sequence",
            ),
            (
                with(&|event| event["source"] = json!("aws.ec2")),
                "event source is \"aws.ec2\", expected \"aws.ecs\"",
            ),
            (
                with(&|event| event["time"] = json!("yesterday")),
                "time: invalid timestamp \"yesterday\"",
            ),
            (
                with(&|event| event["detail"]["version"] = json!(-1)),
                "detail.version: invalid value",
            ),
            (
                with(&|event| {
                    event.as_object_mut().expect("object").remove("id").map(drop).unwrap_or(())
                }),
                "id: missing field",
            ),
        ] {
            assert!(ReceivedEvent::plain(&bad).is_none(), "{error}");
            let message = ReceivedEvent::from_slice(bad.as_bytes()).expect_err(error).to_string();
            assert!(message.starts_with(error), "{message}");
        }
    }

    #[test]
    fn given_an_event_value_then_its_text_is_written_compact_with_the_detail_found_in_it() {
        let text = sample("task-oom-killed.json");
        let value: Value = serde_json::from_str(&text).expect("JSON");
        let received = ReceivedEvent::new(value.clone()).expect("valid");
        assert_eq!(received.raw(), value);
        assert_eq!(received.detail_json(), value["detail"].to_string());
        assert_eq!(received, ReceivedEvent::plain(&text).expect("plain"));
        assert!(received.detail_is_compact());
        let pretty = serde_json::to_string_pretty(&value).expect("JSON");
        let pretty = ReceivedEvent::plain(&pretty).expect("plain");
        assert!(!pretty.detail_is_compact(), "kept as delivered: pretty-printed");
        assert!(ReceivedEvent::plain(&text).expect("plain").detail_is_compact());
    }
}
