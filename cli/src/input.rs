//! Reads captured events from files and folders, in order: a JSON event, a JSON array of
//! events, JSON Lines, the listener's log lines (also with a log prefix before the JSON), and
//! the output of `aws logs filter-log-events`.
//!
//! An event may be wrapped with its metadata (`{"Data", "Metadata", "SystemMetadata"}`) and a
//! line may hold a batch (a JSON array), as EventBridge's Custom Event Bus delivers them
//! ([`ecs_events::event::payload`]): each event of an array is an entry of its own, and an
//! error in one names its index (`event [2]: ...`) beside the file and line.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ecs_events::event::UTF8_BOM;
use ecs_events::event::payload::event_from_delivered;
use ecs_events::event::{Delivered, EventError, ReceivedEvent};
use ecs_events::event_log::{logged_event, rejected_error};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::parallel::ordered_map;

/// Extensions read when walking a folder (files named on the command line are always read).
pub const EVENT_FILE_EXTENSIONS: [&str; 4] = ["json", "jsonl", "ndjson", "log"];

/// Where an entry came from: `file:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// 1-based line where the entry starts.
    pub line: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One entry read: an event (checked and typed) or why it could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Where it came from.
    pub location: Location,
    /// The event, or what was wrong.
    pub event: Result<ReceivedEvent, String>,
}

/// A path on the command line cannot be read at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {source}")]
pub struct InputError {
    /// The path.
    pub path: PathBuf,
    /// The I/O error.
    pub source: std::io::Error,
}

/// The files to read for `paths`: files as given, folders walked recursively in name order
/// (skipping names that start with `.` or `_`, and files without an event extension).
pub fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut found = Vec::new();
    for path in paths {
        let metadata =
            fs::metadata(path).map_err(|source| InputError { path: path.clone(), source })?;
        if metadata.is_dir() {
            walk(path, &mut found)?;
        } else {
            found.push(path.clone());
        }
    }
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), InputError> {
    let error = |source| InputError { path: dir.to_owned(), source };
    let mut entries = fs::read_dir(dir)
        .map_err(error)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(error)?;
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
        if name.starts_with(['.', '_']) {
            continue;
        }
        if path.is_dir() {
            walk(&path, found)?;
        } else if path
            .extension()
            .and_then(|ext| ext.to_str())
            .is_some_and(|ext| EVENT_FILE_EXTENSIONS.contains(&ext))
        {
            found.push(path);
        }
    }
    Ok(())
}

/// Reads, checks and types every entry of one file, in order, lazily. JSON Lines and log files
/// are streamed, so a large capture never has to fit in memory: a reader thread cuts them into
/// chunks of lines, `workers` threads parse the chunks, and the entries come back in file
/// order to be typed on the calling thread (which balances a replay's work on two cores). A
/// single document (an event, an array, `filter-log-events` output) is read whole.
pub fn read_file(
    file: &Path,
    workers: usize,
) -> Result<Box<dyn Iterator<Item = Entry>>, InputError> {
    let opened =
        fs::File::open(file).map_err(|source| InputError { path: file.to_owned(), source })?;
    let path: Arc<Path> = Arc::from(file);
    let typed = move |(line, index, read): Found| Entry {
        location: Location { file: path.to_path_buf(), line },
        event: read.and_then(|read| read.into_event().map_err(|e| e.to_string())).map_err(
            |error| match index {
                Some(index) => format!("event [{index}]: {error}"),
                None => error,
            },
        ),
    };
    Ok(match open(BufReader::with_capacity(1 << 20, opened)) {
        Capture::Document(entries) => Box::new(entries.into_iter().map(typed)),
        Capture::Lines(lines) => {
            let chunks = chunked(lines, CHUNK_BYTES);
            let parsed = ordered_map(chunks, workers, |chunk: Vec<RawLine>| {
                chunk.into_iter().flat_map(raw_line_entries).collect::<Vec<_>>()
            });
            Box::new(parsed.flatten().map(typed))
        }
    })
}

/// The bytes of lines handed to a parsing thread at a time: small enough that the parsed
/// chunks in flight take a few megabytes, large enough that handing over costs nothing.
const CHUNK_BYTES: usize = 256 * 1024;

/// Lambda platform lines that appear in captured logs and are not events.
const PLATFORM_LINE_PREFIXES: [&str; 5] =
    ["START RequestId:", "END RequestId:", "REPORT RequestId:", "INIT_START", "EXTENSION"];

/// An entry's 1-based starting line, and what was read there.
type Numbered<T = Value> = (usize, Result<T, String>);

/// An entry's 1-based starting line, its 0-based index when it is an element of an array of
/// events, and what was read there.
type Found = (usize, Option<usize>, Result<Parsed, String>);

/// What an entry holds: a plain event, already checked and typed on the thread that read it
/// ([`ReceivedEvent::plain`]), or JSON for the general path to check.
#[derive(Debug)]
#[allow(clippy::large_enum_variant, reason = "the common variant: boxing it allocates per event")]
enum Parsed {
    Event(ReceivedEvent),
    Json(Delivered),
}

impl Parsed {
    fn into_event(self) -> Result<ReceivedEvent, EventError> {
        match self {
            Self::Event(received) => Ok(received),
            Self::Json(delivered) => event_from_delivered(delivered),
        }
    }

    fn into_value(self) -> Value {
        match self {
            Self::Event(received) => received.raw(),
            Self::Json(delivered) => delivered.value,
        }
    }
}

/// One line of content with its number, or why it could not be read.
type RawLine = (usize, Result<String, String>);

/// Reads the entries of a capture, each with its 1-based starting line.
pub fn read(reader: impl BufRead + Send + 'static) -> Box<dyn Iterator<Item = Numbered>> {
    let as_value = |(line, _, read): Found| (line, read.map(Parsed::into_value));
    match open(reader) {
        Capture::Document(entries) => Box::new(entries.into_iter().map(as_value)),
        Capture::Lines(lines) => Box::new(lines.flat_map(raw_line_entries).map(as_value)),
    }
}

/// A capture, told apart by its first line with content.
enum Capture {
    /// One document per line (events, log lines): its lines, streamed.
    Lines(Box<dyn Iterator<Item = RawLine> + Send>),
    /// A single document, read whole: its entries.
    Document(Vec<Found>),
}

/// Looks at the first line with content to tell one-document-per-line from a single document.
fn open(mut reader: impl BufRead + Send + 'static) -> Capture {
    let mut head = Vec::new();
    let mut line = Vec::new();
    let mut number = 0;
    let first = loop {
        number += 1;
        let complete = match read_line(&mut reader, &mut line, false) {
            Ok(None) => return Capture::Document(Vec::new()),
            Ok(Some(complete)) => complete,
            Err(error) => return Capture::Document(vec![(number, None, Err(error.to_string()))]),
        };
        if number == 1 && line.starts_with(UTF8_BOM.as_bytes()) {
            line.drain(..UTF8_BOM.len());
        }
        head.extend_from_slice(&line);
        if !complete {
            break None; // a line too long for one event: a document on one line
        }
        match std::str::from_utf8(&line) {
            Ok(text) if is_content(text) => break Some(text.to_owned()),
            Ok(_) if head.len() as u64 <= MAX_DOCUMENT_BYTES => {}
            Ok(_) => return Capture::Document(vec![(number, None, Err(document_too_large()))]),
            Err(_) => {
                return Capture::Document(vec![(number, None, Err("invalid UTF-8".to_owned()))]);
            }
        }
    };
    match first {
        Some(first) if !first.trim_start().starts_with('[') && parse_line(&first).is_ok() => {
            let rest = Lines { reader, buffer: line, number };
            Capture::Lines(Box::new(std::iter::once((number, Ok(first))).chain(rest)))
        }
        _ => Capture::Document(read_whole(reader, head, number)),
    }
}

/// Groups lines into chunks of about `bytes` bytes.
fn chunked(
    mut lines: impl Iterator<Item = RawLine> + Send + 'static,
    bytes: usize,
) -> impl Iterator<Item = Vec<RawLine>> + Send + 'static {
    std::iter::from_fn(move || {
        let mut chunk = Vec::new();
        let mut size = 0;
        for line in lines.by_ref() {
            size += line.1.as_ref().map_or(0, String::len);
            chunk.push(line);
            if size >= bytes {
                break;
            }
        }
        (!chunk.is_empty()).then_some(chunk)
    })
}

/// The entries of one line read, or the error reading it.
fn raw_line_entries((number, line): RawLine) -> Vec<Found> {
    match line {
        Ok(text) => line_entries(number, &text),
        Err(error) => vec![(number, None, Err(error))],
    }
}

/// The most bytes one event may take: EventBridge's own event size limit (256 KB).
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// The most bytes of a file read as one document (an event, an array of events,
/// `filter-log-events` output); JSON Lines and logs are streamed and have no such limit.
pub const MAX_DOCUMENT_BYTES: u64 = 512 * 1024 * 1024;

fn event_too_large(size: usize) -> String {
    format!("event is {size} bytes, over the {MAX_EVENT_BYTES}-byte limit of an EventBridge event")
}

fn document_too_large() -> String {
    format!("file is over the {MAX_DOCUMENT_BYTES}-byte limit for a single JSON document")
}

/// Reads one line into `buffer`, at most [`MAX_EVENT_BYTES`] of it: `None` at the end,
/// `Some(false)` when the line was longer (then the rest of it is skipped if `skip_rest`).
fn read_line(
    reader: &mut impl BufRead,
    buffer: &mut Vec<u8>,
    skip_rest: bool,
) -> std::io::Result<Option<bool>> {
    buffer.clear();
    let limit = MAX_EVENT_BYTES as u64 + 1;
    if reader.by_ref().take(limit).read_until(b'\n', buffer)? == 0 {
        return Ok(None);
    }
    if buffer.len() <= MAX_EVENT_BYTES || buffer.ends_with(b"\n") {
        return Ok(Some(true));
    }
    if !skip_rest {
        return Ok(Some(false));
    }
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(Some(false));
        }
        match available.iter().position(|&byte| byte == b'\n') {
            Some(end) => {
                reader.consume(end + 1);
                return Ok(Some(false));
            }
            None => {
                let length = available.len();
                reader.consume(length);
            }
        }
    }
}

/// Reads the rest of a single-document file (up to [`MAX_DOCUMENT_BYTES`]) after `head`.
fn read_whole(reader: impl BufRead, mut head: Vec<u8>, number: usize) -> Vec<Found> {
    let budget = MAX_DOCUMENT_BYTES.saturating_sub(head.len() as u64) + 1;
    if let Err(error) = reader.take(budget).read_to_end(&mut head) {
        return vec![(number, None, Err(error.to_string()))];
    }
    if head.len() as u64 > MAX_DOCUMENT_BYTES {
        return vec![(1, None, Err(document_too_large()))];
    }
    match String::from_utf8(head) {
        Ok(text) => read_document(&text),
        Err(_) => vec![(number, None, Err("invalid UTF-8".to_owned()))],
    }
}

/// The remaining lines with content, read with one reused buffer.
struct Lines<R> {
    reader: R,
    buffer: Vec<u8>,
    number: usize,
}

impl<R: BufRead> Iterator for Lines<R> {
    type Item = RawLine;

    fn next(&mut self) -> Option<RawLine> {
        loop {
            self.number += 1;
            match read_line(&mut self.reader, &mut self.buffer, true) {
                Ok(None) => return None,
                Ok(Some(true)) => {}
                Ok(Some(false)) => {
                    return Some((self.number, Err(event_too_large(MAX_EVENT_BYTES + 1))));
                }
                Err(error) => return Some((self.number, Err(error.to_string()))),
            }
            match std::str::from_utf8(&self.buffer) {
                Ok(text) if is_content(text) => return Some((self.number, Ok(text.to_owned()))),
                Ok(_) => {}
                Err(_) => return Some((self.number, Err("invalid UTF-8".to_owned()))),
            }
        }
    }
}

/// Whether a line holds something to read (not blank, not a Lambda platform line).
fn is_content(line: &str) -> bool {
    let line = line.trim();
    !line.is_empty() && !PLATFORM_LINE_PREFIXES.iter().any(|prefix| line.starts_with(prefix))
}

/// The entries of one line: an event, a batch of events (an array), a listener log line, or
/// (compact) `filter-log-events` output.
fn line_entries(number: usize, line: &str) -> Vec<Found> {
    if line.len() <= MAX_EVENT_BYTES
        && let Some(received) = ReceivedEvent::plain(line.trim())
    {
        return vec![(number, None, Ok(Parsed::Event(received)))];
    }
    match parse_line(line) {
        Ok(parsed) if parsed.value.get("events").is_some_and(Value::is_array) => {
            log_events(line.trim())
                .unwrap_or_else(|| vec![(number, None, Ok(Parsed::Json(parsed)))])
                .into_iter()
                .map(|(_, index, entry)| (number, index, entry))
                .collect()
        }
        Ok(parsed) if parsed.value.is_array() => match parsed.value {
            Value::Array(events) => events
                .into_iter()
                .enumerate()
                .map(|(index, event)| {
                    (number, Some(index), Ok(Parsed::Json(Delivered::from_value(event))))
                })
                .collect(),
            value => vec![(number, None, Ok(Parsed::Json(Delivered::from_value(value))))],
        },
        parsed => vec![(number, None, parsed.and_then(unwrap_logged).map(Parsed::Json))],
    }
}

/// The entries of a whole document: an array of events, `filter-log-events` output, or one
/// event.
fn read_document(text: &str) -> Vec<Found> {
    let start = line_of(text, text.trim_start());
    let whole = if text.trim_start().starts_with('[') {
        match serde_json::from_str::<Vec<&RawValue>>(text) {
            Ok(items) => {
                return items
                    .into_iter()
                    .enumerate()
                    .map(|(index, item)| {
                        (
                            line_of(text, item.get()),
                            Some(index),
                            parse_event(item.get()).map(Parsed::Json),
                        )
                    })
                    .collect();
            }
            // JSON Lines of batches, or broken JSON: told apart below.
            Err(_) => None,
        }
    } else {
        Delivered::parse(text.as_bytes()).ok()
    };
    match whole {
        Some(whole) => log_events(text).unwrap_or_else(|| {
            let event = if text.trim().len() > MAX_EVENT_BYTES {
                Err(event_too_large(text.trim().len()))
            } else {
                unwrap_logged(whole).map(Parsed::Json)
            };
            vec![(start, None, event)]
        }),
        // JSON Lines (of events or of batches) whose first line is broken or is a whole
        // batch: read it line by line after all.
        None if text.lines().any(|line| {
            parse_line(line).is_ok_and(|parsed| {
                parsed.value.is_object()
                    || (parsed.value.is_array() && line.trim_start().starts_with('['))
            })
        }) =>
        {
            text.lines()
                .enumerate()
                .filter(|(_, line)| is_content(line))
                .flat_map(|(index, line)| line_entries(index + 1, line))
                .collect()
        }
        None => {
            let error = serde_json::from_str::<Value>(text).err();
            let line = error.as_ref().map_or(start, |error| error.line().max(start));
            let error = error.map_or_else(|| "invalid JSON".to_owned(), |e| json_error(&e));
            vec![(line, None, Err(error))]
        }
    }
}

/// The entries of `aws logs filter-log-events` output: each event's `message` is a log line.
fn log_events(text: &str) -> Option<Vec<Found>> {
    #[derive(serde::Deserialize)]
    struct Output<'a> {
        #[serde(borrow)]
        events: Vec<&'a RawValue>,
    }
    #[derive(serde::Deserialize)]
    struct LogEvent {
        message: String,
    }
    let output: Output<'_> = serde_json::from_str(text).ok()?;
    output
        .events
        .into_iter()
        .map(|raw| {
            let event: LogEvent = serde_json::from_str(raw.get()).ok()?;
            let entry = parse_line(&event.message).and_then(unwrap_logged).map(Parsed::Json);
            Some((line_of(text, raw.get()), None, entry))
        })
        .collect()
}

/// Parses one log line: JSON, or JSON after a prefix (a timestamp, a request id).
fn parse_line(line: &str) -> Result<Delivered, String> {
    if line.len() > MAX_EVENT_BYTES {
        return Err(event_too_large(line.len()));
    }
    let line = line.trim();
    match line.find(['{', '[']) {
        Some(0) | None => parse(line),
        Some(start) => parse(&line[start..]).or_else(|_| parse(line)),
    }
}

/// Parses one event's JSON, refusing one over [`MAX_EVENT_BYTES`].
fn parse_event(text: &str) -> Result<Delivered, String> {
    if text.len() > MAX_EVENT_BYTES {
        return Err(event_too_large(text.len()));
    }
    parse(text).and_then(unwrap_logged)
}

/// Parses JSON text, keeping its detail's text ([`Delivered`]); the error is serde_json's.
fn parse(text: &str) -> Result<Delivered, String> {
    Delivered::parse(text.as_bytes()).map_err(|_| match serde_json::from_str::<Value>(text) {
        Err(error) => json_error(&error),
        Ok(_) => "invalid JSON".to_owned(),
    })
}

fn json_error(error: &serde_json::Error) -> String {
    format!("invalid JSON: {error}")
}

/// The event of a listener log line, or the value itself; the listener's line for an event it
/// rejected is that event's error.
fn unwrap_logged(parsed: Delivered) -> Result<Delivered, String> {
    if let Some(error) = rejected_error(&parsed.value) {
        return Err(format!("the listener rejected an event here: {error}"));
    }
    Ok(match logged_event(&parsed.value) {
        Some(event) => Delivered::from_value(event.clone()),
        None => parsed,
    })
}

/// The 1-based line at which `part` (a slice of `text`) starts.
fn line_of(text: &str, part: &str) -> usize {
    let offset = (part.as_ptr() as usize).saturating_sub(text.as_ptr() as usize).min(text.len());
    1 + text.as_bytes()[..offset].iter().filter(|&&byte| byte == b'\n').count()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read_text(text: &'static str) -> Vec<Numbered> {
        read(std::io::Cursor::new(text.as_bytes())).collect()
    }

    #[test]
    fn given_an_array_then_each_element_is_an_entry_at_its_line() {
        let entries = read_text("[\n  {\"a\": 1},\n  {\"b\": 2}\n]\n");
        assert_eq!(entries, vec![(2, Ok(json!({"a": 1}))), (3, Ok(json!({"b": 2})))]);
    }

    #[test]
    fn given_json_lines_with_a_broken_line_then_only_that_line_is_an_error() {
        let entries = read_text("{\"a\": 1}\n\n{\"b\": \n{\"c\": 3}\n");
        assert_eq!(entries[0], (1, Ok(json!({"a": 1}))));
        assert_eq!(entries[1].0, 3);
        assert!(entries[1].1.as_ref().is_err_and(|e| e.starts_with("invalid JSON")));
        assert_eq!(entries[2], (4, Ok(json!({"c": 3}))));
    }

    #[test]
    fn given_log_lines_with_prefixes_and_platform_lines_then_events_are_unwrapped() {
        let text = "START RequestId: 1 Version: $LATEST\n\
                    2024-05-02T10:00:00Z\t{\"kind\":\"ecs-event\",\"event\":{\"id\":\"e1\"}}\n\
                    REPORT RequestId: 1 Duration: 1 ms\n";
        assert_eq!(read_text(text), vec![(2, Ok(json!({"id": "e1"})))]);
    }

    #[test]
    fn given_filter_log_events_output_then_messages_are_read_as_lines() {
        let text = r#"{"events": [
            {"logStreamName": "s", "timestamp": 1, "message": "{\"kind\":\"ecs-event\",\"event\":{\"id\":\"e1\"}}\n"},
            {"logStreamName": "s", "timestamp": 2, "message": "not json"}
        ], "searchedLogStreams": []}"#;
        let entries = read_text(text);
        assert_eq!(entries[0], (2, Ok(json!({"id": "e1"}))));
        assert_eq!(entries[1].0, 3);
        assert!(entries[1].1.is_err());
    }

    #[test]
    fn given_json_lines_whose_first_line_is_broken_then_the_other_lines_are_still_read() {
        let entries = read_text("{\"a\": \n{\"b\": 2}\n");
        assert!(entries[0].1.is_err());
        assert_eq!(entries[1], (2, Ok(json!({"b": 2}))));
    }

    #[test]
    fn given_a_line_over_the_event_limit_then_it_alone_is_refused_and_reading_goes_on() {
        let huge = format!("{{\"blob\": \"{}\"}}", "x".repeat(MAX_EVENT_BYTES));
        let text: &'static str = format!("{{\"a\": 1}}\n{huge}\n{{\"b\": 2}}\n").leak();
        let entries = read_text(text);
        assert_eq!(entries.len(), 3);
        assert!(
            entries[1].1.as_ref().is_err_and(|e| e.contains("-byte limit of an EventBridge event"))
        );
        assert_eq!(entries[1].0, 2);
        assert_eq!(entries[2], (3, Ok(json!({"b": 2}))));
    }

    #[test]
    fn given_an_array_with_an_element_over_the_limit_then_only_that_element_is_refused() {
        let huge = format!("{{\"blob\": \"{}\"}}", "x".repeat(MAX_EVENT_BYTES));
        let text: &'static str = format!("[{huge},\n{{\"b\": 2}}]").leak();
        let entries = read_text(text);
        assert!(entries[0].1.as_ref().is_err_and(|e| e.starts_with("event is ")));
        assert_eq!(entries[1], (2, Ok(json!({"b": 2}))));
    }

    #[test]
    fn given_a_truncated_pretty_printed_event_then_it_is_one_error() {
        let entries = read_text("{\n  \"id\": \"x\",\n  \"detail\": {\n");
        assert_eq!(entries.len(), 1);
        assert!(entries[0].1.as_ref().is_err_and(|e| e.contains("EOF")));
    }

    #[test]
    fn given_a_byte_order_mark_then_every_format_reads_as_without_it() {
        let formats: [&str; 5] = [
            "{\n  \"a\": 1\n}\n",
            "[{\"a\": 1}]\n",
            "{\"a\": 1}\n{\"a\": 1}\n",
            "2024-05-02T10:00:00Z\t{\"kind\":\"ecs-event\",\"event\":{\"a\":1}}\n",
            "{\"events\": [{\"message\": \"{\\\"a\\\": 1}\"}]}",
        ];
        for text in formats {
            let with_bom: &'static str = format!("{UTF8_BOM}{text}").leak();
            let entries = read_text(with_bom);
            assert!(!entries.is_empty(), "{text}");
            assert_eq!(entries, read_text(text), "{text}");
            assert!(
                entries.iter().all(|(_, entry)| entry == &Ok(json!({"a": 1}))),
                "{text}: {entries:?}"
            );
        }
    }

    /// The entries of a file holding `text`, typed, as `(line, event id or error)`.
    fn typed_entries(name: &str, text: &str) -> Vec<(usize, Result<String, String>)> {
        let dir = std::env::temp_dir().join(format!("ecs-events-input-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp folder");
        let file = dir.join(name);
        fs::write(&file, text).expect("written");
        let entries = read_file(&file, 1)
            .expect("readable")
            .map(|entry| {
                assert_eq!(entry.location.file, file);
                (entry.location.line, entry.event.map(|received| received.event.id))
            })
            .collect();
        fs::remove_file(&file).expect("removed");
        entries
    }

    /// A task event of the corpus with `id` as its id (and a version of its own).
    fn task_event(id: &str, version: u64) -> Value {
        let mut event: Value =
            serde_json::from_str(include_str!("../../events/samples/task-oom-killed.json"))
                .expect("sample");
        event["id"] = json!(id);
        event["detail"]["version"] = json!(version);
        event
    }

    fn wrapped(event: Value) -> Value {
        json!({"Data": event, "SystemMetadata": {"aws:DeliveryType": "LIVE"}})
    }

    #[test]
    fn given_an_array_of_wrapped_events_then_each_is_read_at_its_line_and_a_bad_one_names_its_index()
     {
        let mut broken = task_event("e-3", 5);
        broken["detail"].as_object_mut().expect("detail").remove("taskArn");
        let text = format!(
            "[\n{},\n{},\n{},\n[{}]\n]\n",
            wrapped(task_event("e-1", 3)),
            wrapped(task_event("e-2", 4)),
            wrapped(broken),
            task_event("e-4", 6),
        );
        let entries = typed_entries("batch.json", &text);
        assert_eq!(
            entries,
            vec![
                (2, Ok("e-1".to_owned())),
                (3, Ok("e-2".to_owned())),
                (4, Err("event [2]: Data.detail.taskArn: missing field".to_owned())),
                (
                    5,
                    Err("event [3]: found an array where an event object was expected (a batch's \
                         events cannot be arrays)"
                        .to_owned())
                ),
            ]
        );
    }

    #[test]
    fn given_json_lines_of_batches_then_every_event_of_every_line_is_read() {
        let text = format!(
            "{}\n{}\n{}\n",
            json!([task_event("a-0", 1), wrapped(task_event("a-1", 2))]),
            json!([]),
            json!([wrapped(task_event("c-0", 3)), "not an event"]),
        );
        let entries = typed_entries("batches.jsonl", &text);
        assert_eq!(
            entries,
            vec![
                (1, Ok("a-0".to_owned())),
                (1, Ok("a-1".to_owned())),
                (3, Ok("c-0".to_owned())),
                (3, Err("event [1]: an event must be a JSON object, found a string".to_owned())),
            ]
        );
    }

    #[test]
    fn given_a_single_wrapped_event_without_id_then_it_is_read_with_the_bus_event_id() {
        let mut event = task_event("unused", 3);
        event.as_object_mut().expect("object").remove("id");
        let text = serde_json::to_string_pretty(&json!({
            "Data": event,
            "SystemMetadata": {"aws:EventId": "9f0e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f", "aws:DeliveryType": "LIVE"}
        }))
        .expect("JSON");
        assert_eq!(
            typed_entries("one.json", &text),
            vec![(1, Ok("9f0e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f".to_owned()))]
        );
    }

    #[test]
    fn given_a_listener_line_for_a_rejected_event_then_it_is_an_entry_naming_the_rejection() {
        let text = "2024-05-02T10:00:00Z\t{\"level\":\"ERROR\",\"kind\":\"ecs-event-rejected\",\"index\":1,\"error\":\"event [1]: an event must be a JSON object, found null\"}\n";
        assert_eq!(
            read_text(text),
            vec![(
                1,
                Err("the listener rejected an event here: event [1]: an event must be a JSON \
                     object, found null"
                    .to_owned())
            )]
        );
    }
}
