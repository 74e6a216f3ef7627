//! Reads captured events from files and folders, in order: a JSON event, a JSON array of
//! events, JSON Lines, the listener's log lines (also with a log prefix before the JSON), and
//! the output of `aws logs filter-log-events`.

use std::fs;
use std::path::{Path, PathBuf};

use ecs_events::event_log::logged_event;
use serde_json::Value;
use serde_json::value::RawValue;

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

/// One entry read: an event (as JSON) or why it could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Where it came from.
    pub location: Location,
    /// The event, or what was wrong.
    pub event: Result<Value, String>,
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

/// Reads every entry of one file, in order.
pub fn read_file(file: &Path) -> Result<Vec<Entry>, InputError> {
    let bytes = fs::read(file).map_err(|source| InputError { path: file.to_owned(), source })?;
    let at = |line: usize| Location { file: file.to_owned(), line };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
            let line = 1 + valid.iter().filter(|&&byte| byte == b'\n').count();
            return Ok(vec![Entry { location: at(line), event: Err("invalid UTF-8".into()) }]);
        }
    };
    Ok(read_text(&text)
        .into_iter()
        .map(|(line, event)| Entry { location: at(line), event })
        .collect())
}

/// Lambda platform lines that appear in captured logs and are not events.
const PLATFORM_LINE_PREFIXES: [&str; 5] =
    ["START RequestId:", "END RequestId:", "REPORT RequestId:", "INIT_START", "EXTENSION"];

/// Reads the entries of a file's text, each with its 1-based starting line.
pub fn read_text(text: &str) -> Vec<(usize, Result<Value, String>)> {
    let trimmed = text.trim_start();
    let start = line_of(text, trimmed);
    if trimmed.starts_with('[') {
        return match serde_json::from_str::<Vec<&RawValue>>(text) {
            Ok(items) => items
                .into_iter()
                .map(|item| (line_of(text, item.get()), parse(item.get()).map(unwrap_logged)))
                .collect(),
            Err(error) => vec![(error.line().max(start), Err(json_error(&error)))],
        };
    }
    match serde_json::from_str::<Value>(text) {
        Ok(whole) => match log_events(text) {
            Some(entries) => entries,
            None => vec![(start, Ok(unwrap_logged(whole)))],
        },
        // One document per line (JSON Lines, log lines) when the first line is one.
        Err(_) if content_lines(text).next().is_some_and(|(_, line)| parse_line(line).is_ok()) => {
            content_lines(text)
                .map(|(line, text)| (line, parse_line(text).map(unwrap_logged)))
                .collect()
        }
        // One broken document.
        Err(error) => vec![(error.line().max(start), Err(json_error(&error)))],
    }
}

/// The non-empty lines that are not Lambda platform lines, with their 1-based numbers.
fn content_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(index, line)| (index + 1, line.trim())).filter(|(_, line)| {
        !line.is_empty() && !PLATFORM_LINE_PREFIXES.iter().any(|prefix| line.starts_with(prefix))
    })
}

/// The entries of `aws logs filter-log-events` output: each event's `message` is a log line.
fn log_events(text: &str) -> Option<Vec<(usize, Result<Value, String>)>> {
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
            Some((line_of(text, raw.get()), parse_line(&event.message).map(unwrap_logged)))
        })
        .collect()
}

/// Parses one log line: JSON, or JSON after a prefix (a timestamp, a request id).
fn parse_line(line: &str) -> Result<Value, String> {
    let line = line.trim();
    match line.find(['{', '[']) {
        Some(0) | None => parse(line),
        Some(start) => parse(&line[start..]).or_else(|_| parse(line)),
    }
}

fn parse(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|error| json_error(&error))
}

fn json_error(error: &serde_json::Error) -> String {
    format!("invalid JSON: {error}")
}

/// The event of a listener log line, or the value itself.
fn unwrap_logged(value: Value) -> Value {
    match logged_event(&value) {
        Some(event) => event.clone(),
        None => value,
    }
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
    fn given_a_truncated_pretty_printed_event_then_it_is_one_error() {
        let entries = read_text("{\n  \"id\": \"x\",\n  \"detail\": {\n");
        assert_eq!(entries.len(), 1);
        assert!(entries[0].1.as_ref().is_err_and(|e| e.contains("EOF")));
    }
}
