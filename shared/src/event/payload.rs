//! What one delivery holds: one event, or a batch of them, each maybe wrapped with its
//! metadata. This module turns a delivered payload into its events, each decided on its own.
//!
//! The shapes, from the EventBridge user guide's Custom Event Bus chapter (eventsv2):
//!
//! * **A single event object** — the default bus and the Classic custom buses, an SQS body,
//!   and a Custom Event Bus subscriber whose `BatchConfiguration.MaxBatchSize` is 1.
//! * **A JSON array of events** — a Custom Event Bus subscriber with any other batch size,
//!   or none, delivers "a JSON array holding the events in the batch, one element per event,
//!   even when the batch holds one event" (`eb-custom-bus-target-lambda`).
//! * **A wrapped event** — a subscriber whose transformer is `WITH_METADATA` delivers each
//!   event as `{"Data": …, "Metadata": …, "SystemMetadata": …}` (`eb-custom-bus-transform`).
//!   For events published with `PutEvents`, which is how AWS services publish theirs, `Data`
//!   is the usual envelope (`version`, `id`, `detail-type`, `source`, …, `detail`) and
//!   `Metadata` is absent (`eb-custom-bus-addressing`). `SystemMetadata` holds what
//!   EventBridge assigns: `aws:EventId`, `aws:IngestionTime`, `ContentType`, … of which only
//!   `aws:DeliveryType` is always there.
//! * **An array of wrapped events**, the two together.
//!
//! An envelope taken in by the Custom Event Bus may lack `id` or `version`. A missing
//! `version` becomes `"0"` (the only value EventBridge has ever used); a missing `id` becomes
//! `SystemMetadata`'s `aws:EventId` when there is one (the bus keeps it across retries), else
//! an id derived from the event's content ([`derived_id`]), so a redelivered copy gets the same
//! id and deduplicates as the original does. Both are written into the event as delivered
//! ([`ReceivedEvent::json`]), so patterns, stored records and log lines see a whole envelope.
//!
//! Each event of a batch is decided on its own: the result of one does not change another's.
//! An empty array is a batch of no events: nothing to do, not an error (EventBridge never
//! sends one; a hand-made one has nothing to lose). What cannot be an event is an error that
//! says what was wrong and where: an array inside a batch, a wrapper whose `Data` is not an
//! object, a wrapper with keys other than `Data`, `Metadata` and `SystemMetadata`, and every
//! error of the event itself (with `Data.` before its path when it was wrapped).
//!
//! A plain single event given as bytes is read in one pass ([`ReceivedEvent::plain`]); the
//! shapes above take the general path.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{Delivered, EventError, ReceivedEvent, json_type, parse_json};

/// The keys of a wrapped (`WITH_METADATA`) event.
const WRAPPER_KEYS: [&str; 3] = ["Data", "Metadata", "SystemMetadata"];

/// The `version` an envelope gets when it has none.
pub const DEFAULT_VERSION: &str = "0";

/// How a payload held its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One event object.
    Single,
    /// One event wrapped with its metadata (`WITH_METADATA`).
    Wrapped,
    /// A JSON array of events, plain or wrapped (possibly empty).
    Batch,
}

/// One event of a payload: where it was, and the event or why it is not one.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Its 0-based index in the batch; `None` for a payload that is not an array.
    pub index: Option<usize>,
    /// The event, or what was wrong with it.
    pub event: Result<ReceivedEvent, EventError>,
}

impl Item {
    /// The error, when there is one, with the event's place: `event [3]: <error>` in a batch.
    pub fn error_text(&self) -> Option<String> {
        let error = self.event.as_ref().err()?;
        Some(at_index(self.index, error))
    }
}

/// `error` with the index of its event in a batch, if it had one.
pub fn at_index(index: Option<usize>, error: &EventError) -> String {
    match index {
        Some(index) => format!("event [{index}]: {error}"),
        None => error.to_string(),
    }
}

/// A delivered payload, split into its events.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    /// How the payload held them.
    pub shape: Shape,
    /// Its events, in delivery order.
    pub items: Vec<Item>,
}

impl Payload {
    /// Splits a payload already parsed (what the Lambda runtime hands a function).
    pub fn from_value(value: Value) -> Self {
        match value {
            Value::Array(elements) => Self::batch(elements.into_iter().map(event)),
            value => {
                let shape = if is_wrapper(&value) { Shape::Wrapped } else { Shape::Single };
                Self { shape, items: vec![Item { index: None, event: event(value) }] }
            }
        }
    }

    /// Parses and splits JSON bytes (an SQS body, a file). A single object is parsed once,
    /// keeping its detail's delivered text ([`Delivered`]); an array's elements each so.
    /// Bytes that are not JSON are one error for the whole payload.
    pub fn from_slice(bytes: &[u8]) -> Self {
        let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
        if first == Some(&b'[') {
            return match serde_json::from_slice::<Vec<&serde_json::value::RawValue>>(bytes) {
                Ok(elements) => {
                    Self::batch(elements.into_iter().map(|element| event_from_text(element.get())))
                }
                Err(_) => Self::single(parse_json(bytes).map(Self::from_value)),
            };
        }
        if let Some(received) = std::str::from_utf8(bytes).ok().and_then(ReceivedEvent::plain) {
            return Self {
                shape: Shape::Single,
                items: vec![Item { index: None, event: Ok(received) }],
            };
        }
        match Delivered::parse(bytes) {
            Ok(delivered) => {
                let shape =
                    if is_wrapper(&delivered.value) { Shape::Wrapped } else { Shape::Single };
                Self {
                    shape,
                    items: vec![Item { index: None, event: event_from_delivered(delivered) }],
                }
            }
            Err(error) => Self::single(Err(error)),
        }
    }

    /// Whether the payload is a batch (an array), whose events are answered one by one.
    pub fn is_batch(&self) -> bool {
        self.shape == Shape::Batch
    }

    fn batch(events: impl Iterator<Item = Result<ReceivedEvent, EventError>>) -> Self {
        let items =
            events.enumerate().map(|(index, event)| Item { index: Some(index), event }).collect();
        Self { shape: Shape::Batch, items }
    }

    /// A payload whose parse failed, or (for a well-formed array that failed to split as
    /// raw elements, which serde_json does not do) the value's own split.
    fn single(parsed: Result<Self, EventError>) -> Self {
        parsed.unwrap_or_else(|error| Self {
            shape: Shape::Single,
            items: vec![Item { index: None, event: Err(error) }],
        })
    }
}

/// What a function's error for one event of a batch tells: for [`answer_batch`].
pub trait EventFailure: std::fmt::Display {
    /// Whether a retry of the whole batch may mend it.
    fn is_retryable(&self) -> bool;
    /// The `errorType` Lambda would report for it (`Retryable.*`, `NonRetryable.*`).
    fn error_type(&self) -> &'static str;
}

/// Answers the events of a batch, each at its index: `{"events": [{"index": 0, <key>:
/// <answer>}, {"index": 1, "error": "…", "errorType": "…"}]}`, logging each failure as an
/// error. When any failure may be mended by a retry, the failures instead (each with its
/// index), for the function to fail with: the bus retries the whole batch.
pub fn answer_batch<E: EventFailure>(
    results: Vec<(usize, Result<Value, E>)>,
    key: &str,
) -> Result<Value, Vec<(usize, E)>> {
    let mut answers = Vec::with_capacity(results.len());
    let mut failures = Vec::new();
    for (index, result) in results {
        match result {
            Ok(answer) => answers.push(serde_json::json!({"index": index, key: answer})),
            Err(error) => {
                tracing::error!(index, retryable = error.is_retryable(), error = %error, "event failed");
                answers.push(serde_json::json!({
                    "index": index,
                    "error": error.to_string(),
                    "errorType": error.error_type(),
                }));
                failures.push((index, error));
            }
        }
    }
    if failures.iter().any(|(_, error)| error.is_retryable()) {
        return Err(failures);
    }
    Ok(serde_json::json!({ "events": answers }))
}

/// The failures of a batch's events in one message: `event [1]: …; event [3]: …`.
pub fn describe_failures<E: std::fmt::Display>(failures: &[(usize, E)]) -> String {
    failures
        .iter()
        .map(|(index, error)| format!("event [{index}]: {error}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks and types one event: a plain event object or a wrapped one (not an array). The
/// errors of a wrapped event's envelope name their path below `Data`.
pub fn event(value: Value) -> Result<ReceivedEvent, EventError> {
    let wrapped = is_wrapper(&value);
    ReceivedEvent::new(unwrap(value)?).map_err(|error| if wrapped { in_data(error) } else { error })
}

/// Checks and types one event parsed with [`Delivered::parse`]: a plain event keeps its
/// detail's delivered text (only a missing `version` or `id` is filled in); a wrapped one is
/// unwrapped (its detail is then written again when stored).
pub fn event_from_delivered(delivered: Delivered) -> Result<ReceivedEvent, EventError> {
    if is_wrapper(&delivered.value) {
        return event(delivered.value);
    }
    let (mut raw, detail_json) = delivered.into_parts();
    match &mut raw {
        Value::Object(object) => fill_envelope(object, None),
        Value::Array(_) => return Err(EventError::NestedArray),
        other => return Err(EventError::NotAnObject { found: json_type(other) }),
    }
    ReceivedEvent::from_delivered(Delivered::with_detail_json(raw, detail_json))
}

/// Checks and types one event's JSON text: a plain event in one pass ([`ReceivedEvent::plain`]),
/// anything else as [`event_from_delivered`] does.
pub fn event_from_text(text: &str) -> Result<ReceivedEvent, EventError> {
    match ReceivedEvent::plain(text) {
        Some(received) => Ok(received),
        None => Delivered::parse(text.as_bytes()).and_then(event_from_delivered),
    }
}

/// An error of a wrapped event's `Data`, with its path below `Data`.
fn in_data(error: EventError) -> EventError {
    match error {
        EventError::Field { path, message } => {
            EventError::Field { path: format!("Data.{path}"), message }
        }
        other => other,
    }
}

/// The event object a delivered value holds: a plain event as it is, a wrapped one's `Data`;
/// a missing `version` or `id` filled in (see the module's documentation). A value that is
/// not an object (an array included) is an error; the event itself is not checked here.
pub fn unwrap(value: Value) -> Result<Value, EventError> {
    let mut object = match value {
        Value::Object(object) => object,
        Value::Array(_) => return Err(EventError::NestedArray),
        other => return Err(EventError::NotAnObject { found: json_type(&other) }),
    };
    if !is_wrapper_object(&object) {
        fill_envelope(&mut object, None);
        return Ok(Value::Object(object));
    }
    if let Some(key) = object.keys().find(|key| !WRAPPER_KEYS.contains(&key.as_str())) {
        return Err(wrapper_error(format!(
            "unexpected key {key:?} (a wrapped event has only Data, Metadata and SystemMetadata)"
        )));
    }
    let event_id = match object.get("SystemMetadata") {
        Some(Value::Object(system)) => {
            system.get("aws:EventId").and_then(Value::as_str).map(str::to_owned)
        }
        Some(other) => {
            return Err(wrapper_error(format!(
                "SystemMetadata must be an object, found {}",
                json_type(other)
            )));
        }
        None => return Err(wrapper_error("SystemMetadata is missing".to_owned())),
    };
    let mut data = match object.remove("Data") {
        Some(Value::Object(data)) => data,
        Some(other) => {
            return Err(wrapper_error(format!(
                "Data must be the event object, found {} (ECS events are published with \
                 PutEvents, whose Data is the event's envelope)",
                json_type(&other)
            )));
        }
        None => return Err(wrapper_error("Data is missing".to_owned())),
    };
    if is_wrapper_object(&data) {
        return Err(wrapper_error("Data is itself a wrapped event".to_owned()));
    }
    fill_envelope(&mut data, event_id.filter(|id| !id.is_empty()));
    Ok(Value::Object(data))
}

/// The error of a malformed wrapper.
fn wrapper_error(message: String) -> EventError {
    EventError::Wrapper { message }
}

/// Whether a value is a wrapped event (or meant to be one): an object with `Data` or
/// `SystemMetadata` and none of the envelope's own `source`, `detail-type` and `detail`.
pub fn is_wrapper(value: &Value) -> bool {
    value.as_object().is_some_and(is_wrapper_object)
}

fn is_wrapper_object(object: &Map<String, Value>) -> bool {
    (object.contains_key("Data") || object.contains_key("SystemMetadata"))
        && !["source", "detail-type", "detail"].iter().any(|key| object.contains_key(*key))
}

/// Fills in a missing `version` (`"0"`) and a missing `id` (`event_id`, else derived from the
/// content as delivered).
fn fill_envelope(event: &mut Map<String, Value>, event_id: Option<String>) {
    if !event.contains_key("id") {
        let id = event_id.unwrap_or_else(|| derived_id(event));
        event.insert("id".to_owned(), Value::String(id));
    }
    if !event.contains_key("version") {
        event.insert("version".to_owned(), Value::String(DEFAULT_VERSION.to_owned()));
    }
}

/// An id for an event that came without one: the first 128 bits of the SHA-256 of its
/// content as delivered, written as a UUID (version 8, RFC 9562's custom kind). The content
/// is read canonically — object keys in order, numbers as serde_json writes them, every
/// string and container length-prefixed — so the same event gets the same id however its
/// JSON was laid out, and two different events practically never share one.
pub fn derived_id(event: &Map<String, Value>) -> String {
    let mut hasher = Sha256::new();
    hash_object(&mut hasher, event);
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

fn hash_value(hasher: &mut Sha256, value: &Value) {
    match value {
        Value::Null => hasher.update(b"n"),
        Value::Bool(true) => hasher.update(b"t"),
        Value::Bool(false) => hasher.update(b"f"),
        Value::Number(number) => hash_text(hasher, b'#', &number.to_string()),
        Value::String(text) => hash_text(hasher, b's', text),
        Value::Array(items) => {
            hash_length(hasher, b'[', items.len());
            items.iter().for_each(|item| hash_value(hasher, item));
        }
        Value::Object(object) => hash_object(hasher, object),
    }
}

fn hash_object(hasher: &mut Sha256, object: &Map<String, Value>) {
    hash_length(hasher, b'{', object.len());
    let mut entries: Vec<(&String, &Value)> = object.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    for (key, value) in entries {
        hash_text(hasher, b'k', key);
        hash_value(hasher, value);
    }
}

fn hash_length(hasher: &mut Sha256, tag: u8, length: usize) {
    hasher.update([tag]);
    hasher.update((length as u64).to_le_bytes());
}

fn hash_text(hasher: &mut Sha256, tag: u8, text: &str) {
    hash_length(hasher, tag, text.len());
    hasher.update(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SAMPLE: &str = include_str!("../../../events/samples/task-oom-killed.json");

    /// The sample event (a task stopped by an OOM kill) as a value.
    fn sample() -> Value {
        serde_json::from_str(SAMPLE).expect("sample JSON")
    }

    /// The sample with another envelope id and task version: a second, different event.
    fn second() -> Value {
        let mut event = sample();
        event["id"] = json!("5c1ed3f0-2a2b-4c4d-8e8f-000000000002");
        event["detail"]["version"] = json!(7);
        event
    }

    fn wrapped(data: Value, system: Value) -> Value {
        json!({"Data": data, "SystemMetadata": system})
    }

    fn live(event_id: &str) -> Value {
        json!({
            "ContentType": "application/eventbridge+json",
            "aws:EventId": event_id,
            "aws:IngestionTime": "2024-05-02T10:20:01Z",
            "aws:DeliveryType": "LIVE"
        })
    }

    fn ok(item: &Item) -> &ReceivedEvent {
        item.event.as_ref().unwrap_or_else(|error| panic!("expected an event, got {error}"))
    }

    fn err(item: &Item) -> &EventError {
        item.event.as_ref().err().unwrap_or_else(|| panic!("expected an error at {:?}", item.index))
    }

    #[test]
    fn given_a_single_event_then_one_item_without_index_as_before() {
        let payload = Payload::from_value(sample());
        assert_eq!(payload.shape, Shape::Single);
        assert!(!payload.is_batch());
        assert_eq!(payload.items.len(), 1);
        assert_eq!(payload.items[0].index, None);
        assert_eq!(ok(&payload.items[0]), &ReceivedEvent::new(sample()).expect("valid"));
        assert_eq!(ok(&payload.items[0]).event.id, "6d65956a-cc4b-5139-9b14-b648c489b5cd");
    }

    #[test]
    fn given_compact_bytes_of_a_single_event_then_the_detail_text_is_kept() {
        let bytes = sample().to_string();
        let payload = Payload::from_slice(bytes.as_bytes());
        assert_eq!(payload.shape, Shape::Single);
        let received = ok(&payload.items[0]);
        assert_eq!(received.raw(), sample());
        assert_eq!(Some(received.detail_json()), Some(sample()["detail"].to_string().as_str()));
    }

    #[test]
    fn given_an_array_of_events_then_each_is_an_item_at_its_index() {
        let events = json!([sample(), second()]);
        for payload in [
            Payload::from_value(events.clone()),
            Payload::from_slice(events.to_string().as_bytes()),
            Payload::from_slice(serde_json::to_string_pretty(&events).expect("JSON").as_bytes()),
        ] {
            assert_eq!(payload.shape, Shape::Batch);
            assert_eq!(
                payload.items.iter().map(|item| item.index).collect::<Vec<_>>(),
                [Some(0), Some(1)]
            );
            assert_eq!(ok(&payload.items[0]).raw(), sample());
            assert_eq!(ok(&payload.items[1]).event.id, "5c1ed3f0-2a2b-4c4d-8e8f-000000000002");
            assert_eq!(ok(&payload.items[1]).event.task().map(|task| task.version), Some(7));
        }
    }

    #[test]
    fn given_a_wrapped_event_then_its_data_is_the_event() {
        let value = wrapped(sample(), live("11111111-2222-4333-8444-555555555555"));
        for payload in
            [Payload::from_value(value.clone()), Payload::from_slice(value.to_string().as_bytes())]
        {
            assert_eq!(payload.shape, Shape::Wrapped);
            assert_eq!(payload.items[0].index, None);
            // The envelope has its own id: the bus's id does not replace it.
            assert_eq!(ok(&payload.items[0]).raw(), sample());
        }
    }

    #[test]
    fn given_a_wrapped_event_with_metadata_then_it_is_read_and_the_metadata_left_aside() {
        let mut value = wrapped(sample(), json!({"aws:DeliveryType": "REPLAY"}));
        value["Metadata"] = json!({"tenant": "acme"});
        let payload = Payload::from_value(value);
        assert_eq!(ok(&payload.items[0]).raw(), sample());
    }

    #[test]
    fn given_an_array_of_wrapped_events_then_each_is_unwrapped_at_its_index() {
        let events = json!([
            wrapped(sample(), live("11111111-2222-4333-8444-555555555555")),
            wrapped(second(), live("11111111-2222-4333-8444-666666666666")),
        ]);
        let payload = Payload::from_slice(events.to_string().as_bytes());
        assert_eq!(payload.shape, Shape::Batch);
        assert_eq!(ok(&payload.items[0]).raw(), sample());
        assert_eq!(ok(&payload.items[1]).raw(), second());
    }

    #[test]
    fn given_a_wrapped_envelope_without_id_and_version_then_the_bus_event_id_and_version_0() {
        let mut data = sample();
        data.as_object_mut().expect("object").remove("id");
        data.as_object_mut().expect("object").remove("version");
        let payload = Payload::from_value(json!([wrapped(
            data,
            live("6d65956a-cc4b-5139-9b14-b648c489b5cd")
        )]));
        let received = ok(&payload.items[0]);
        assert_eq!(received.event.id, "6d65956a-cc4b-5139-9b14-b648c489b5cd");
        assert_eq!(received.event.version, "0");
        assert_eq!(received.raw()["id"], "6d65956a-cc4b-5139-9b14-b648c489b5cd");
        assert_eq!(received.raw()["version"], "0");
        assert_eq!(received.raw(), sample(), "the sample's own id and version are these");
    }

    #[test]
    fn given_no_id_anywhere_then_an_id_derived_from_the_content_the_same_for_every_copy() {
        let mut data = sample();
        data.as_object_mut().expect("object").remove("id");
        let system = json!({"aws:DeliveryType": "LIVE"});
        let compact = wrapped(data.clone(), system.clone()).to_string();
        let pretty =
            serde_json::to_string_pretty(&json!([wrapped(data.clone(), system)])).expect("JSON");
        let plain = data.to_string();
        let ids: Vec<String> = [compact.as_str(), pretty.as_str(), plain.as_str()]
            .iter()
            .map(|text| ok(&Payload::from_slice(text.as_bytes()).items[0]).event.id.clone())
            .collect();
        assert_eq!(ids[0], ids[1]);
        assert_eq!(ids[0], ids[2]);
        assert_eq!(ids[0], derived_id(data.as_object().expect("object")));
        // Another event gets another id.
        let mut other = second();
        other.as_object_mut().expect("object").remove("id");
        assert_ne!(ok(&Payload::from_value(other).items[0]).event.id, ids[0]);
    }

    #[test]
    fn given_content_then_the_derived_id_is_the_sha256_of_its_canonical_form_as_a_uuid() {
        // Computed independently (Python's hashlib over the canonical form described on
        // `derived_id`): keys sorted, strings and containers length-prefixed.
        let content = json!({"source": "aws.ecs", "n": 1.50, "list": [true, null, "x"], "é": {}});
        let id = derived_id(content.as_object().expect("object"));
        assert_eq!(id, "fe66909c-7691-876f-9523-31610968c799");
        let reordered: Value =
            serde_json::from_str(r#"{"é":{},"list":[true,null,"x"],"n":1.5,"source":"aws.ecs"}"#)
                .expect("JSON");
        assert_eq!(derived_id(reordered.as_object().expect("object")), id);
    }

    #[test]
    fn given_an_empty_array_then_a_batch_of_no_events() {
        for payload in [Payload::from_value(json!([])), Payload::from_slice(b" [ ] ")] {
            assert_eq!(payload, Payload { shape: Shape::Batch, items: vec![] });
        }
    }

    #[test]
    fn given_a_nested_array_then_that_element_alone_is_an_error_naming_its_index() {
        let events = json!([sample(), [second()], "text", null]);
        for payload in [
            Payload::from_value(events.clone()),
            Payload::from_slice(events.to_string().as_bytes()),
        ] {
            assert_eq!(ok(&payload.items[0]).raw(), sample());
            assert_eq!(err(&payload.items[1]), &EventError::NestedArray);
            assert_eq!(
                payload.items[1].error_text().as_deref(),
                Some(
                    "event [1]: found an array where an event object was expected (a batch's events cannot be arrays)"
                )
            );
            assert_eq!(err(&payload.items[2]), &EventError::NotAnObject { found: "a string" });
            assert_eq!(err(&payload.items[3]), &EventError::NotAnObject { found: "null" });
            assert_eq!(
                payload.items[3].error_text().as_deref(),
                Some("event [3]: an event must be a JSON object, found null")
            );
        }
    }

    #[test]
    fn given_a_batch_with_a_bad_event_then_only_that_one_fails() {
        let mut not_ecs = second();
        not_ecs["source"] = json!("aws.ec2");
        let payload = Payload::from_value(json!([sample(), not_ecs, second()]));
        assert!(payload.items[0].event.is_ok());
        assert_eq!(err(&payload.items[1]), &EventError::NotEcs { event_source: "aws.ec2".into() });
        assert!(payload.items[2].event.is_ok());
        assert_eq!(payload.items[0].error_text(), None);
    }

    #[test]
    fn given_malformed_wrappers_then_each_error_says_what_is_wrong() {
        let wrapper_error = |message: &str| EventError::Wrapper { message: message.to_owned() };
        let cases = [
            (
                json!({"Data": "eyJ2ZXJzaW9uIjoiMCJ9", "SystemMetadata": {"aws:DeliveryType": "LIVE"}}),
                wrapper_error(
                    "Data must be the event object, found a string (ECS events are published with PutEvents, whose Data is the event's envelope)",
                ),
            ),
            (
                json!({"Data": [sample()], "SystemMetadata": {"aws:DeliveryType": "LIVE"}}),
                wrapper_error(
                    "Data must be the event object, found an array (ECS events are published with PutEvents, whose Data is the event's envelope)",
                ),
            ),
            (
                json!({"Data": sample(), "SystemMetadata": {}, "Extra": 1}),
                wrapper_error(
                    "unexpected key \"Extra\" (a wrapped event has only Data, Metadata and SystemMetadata)",
                ),
            ),
            (json!({"Data": sample()}), wrapper_error("SystemMetadata is missing")),
            (
                json!({"Data": sample(), "SystemMetadata": "LIVE"}),
                wrapper_error("SystemMetadata must be an object, found a string"),
            ),
            (
                json!({"SystemMetadata": {"aws:DeliveryType": "LIVE"}}),
                wrapper_error("Data is missing"),
            ),
            (
                json!({"Data": wrapped(sample(), json!({})), "SystemMetadata": {}}),
                wrapper_error("Data is itself a wrapped event"),
            ),
        ];
        for (value, expected) in cases {
            let payload = Payload::from_value(value.clone());
            assert_eq!(payload.shape, Shape::Wrapped, "{value}");
            assert_eq!(err(&payload.items[0]), &expected, "{value}");
            let batch = Payload::from_slice(json!([sample(), value]).to_string().as_bytes());
            assert_eq!(err(&batch.items[1]), &expected);
            assert!(batch.items[0].event.is_ok());
        }
        assert_eq!(
            wrapper_error("Data is missing").to_string(),
            "wrapped event (Data, Metadata, SystemMetadata): Data is missing"
        );
    }

    #[test]
    fn given_a_wrapped_event_with_a_bad_field_then_the_path_starts_at_data() {
        let mut data = sample();
        data["detail"].as_object_mut().expect("detail").remove("taskArn");
        let payload = Payload::from_value(json!([wrapped(data.clone(), live("e"))]));
        assert_eq!(
            err(&payload.items[0]),
            &EventError::Field {
                path: "Data.detail.taskArn".into(),
                message: "missing field".into()
            }
        );
        // The same event unwrapped names the path from the envelope, as always.
        assert_eq!(
            err(&Payload::from_value(data).items[0]),
            &EventError::Field { path: "detail.taskArn".into(), message: "missing field".into() }
        );
    }

    #[test]
    fn given_bytes_that_are_not_json_then_one_error_for_the_whole_payload() {
        for bytes in [&b"[{\"a\": 1},"[..], b"{\"version\": ", b"", b"[1, 2"] {
            let payload = Payload::from_slice(bytes);
            assert_eq!(payload.items.len(), 1, "{}", String::from_utf8_lossy(bytes));
            assert_eq!(payload.items[0].index, None);
            assert!(matches!(err(&payload.items[0]), EventError::Json { line: 1, .. }));
        }
    }

    #[test]
    fn given_a_value_that_is_no_object_then_the_single_item_says_so() {
        assert_eq!(
            err(&Payload::from_value(json!(17)).items[0]),
            &EventError::NotAnObject { found: "a number" }
        );
        assert_eq!(event(json!([sample()])), Err(EventError::NestedArray));
    }

    /// One element of a generated batch: what it is, and the element.
    fn element() -> impl proptest::strategy::Strategy<Value = (bool, Value)> {
        use proptest::prelude::*;
        prop_oneof![
            Just((true, sample())),
            Just((true, wrapped(second(), json!({"aws:DeliveryType": "LIVE"})))),
            Just((true, {
                let mut event = sample();
                event.as_object_mut().expect("object").remove("id");
                wrapped(event, json!({}))
            })),
            Just((false, json!([sample()]))),
            Just((false, json!({"Data": 1, "SystemMetadata": {}}))),
            any::<i64>().prop_map(|number| (false, json!(number))),
            ".{0,8}".prop_map(|text| (false, json!(text))),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, failure_persistence: None, ..Default::default() })]

        /// GIVEN any batch of good and bad elements, compact or pretty THEN one item per
        /// element, in order, each at its index, an event exactly where the element is one.
        #[test]
        fn given_any_batch_then_each_element_is_decided_alone_at_its_index(
            elements in proptest::collection::vec(element(), 0..6),
            pretty in proptest::prelude::any::<bool>(),
        ) {
            let batch = Value::Array(elements.iter().map(|(_, element)| element.clone()).collect());
            let text = if pretty {
                serde_json::to_string_pretty(&batch).expect("JSON")
            } else {
                batch.to_string()
            };
            for payload in [Payload::from_slice(text.as_bytes()), Payload::from_value(batch.clone())] {
                proptest::prop_assert_eq!(payload.shape, Shape::Batch);
                proptest::prop_assert_eq!(payload.items.len(), elements.len());
                for (at, (item, (valid, _))) in payload.items.iter().zip(&elements).enumerate() {
                    proptest::prop_assert_eq!(item.index, Some(at));
                    proptest::prop_assert_eq!(item.event.is_ok(), *valid);
                }
            }
        }

        /// GIVEN any bytes THEN splitting them never panics: one error, or items at indexes.
        #[test]
        fn given_any_bytes_then_the_split_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let payload = Payload::from_slice(&bytes);
            if payload.shape != Shape::Batch {
                proptest::prop_assert_eq!(payload.items.len(), 1);
            }
        }
    }
}
