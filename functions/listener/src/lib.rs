//! The listener's Lambda handler: logs each ECS event as one JSON line
//! ([`ecs_events::event_log`]) and rejects events that are not from ECS.
//!
//! A payload is one event, one event wrapped with its metadata, or a batch (a JSON array) of
//! either, as EventBridge's Custom Event Bus delivers them ([`ecs_events::event::payload`]).

use std::fmt;
use std::io::Write;

use ecs_events::event::{EventError, Payload};
use ecs_events::event_log::{received_line, rejected_line};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};

/// Logs the event to `out` (stdout in Lambda, which CloudWatch Logs records) and answers
/// `{"logged": "<event id>"}`. A non-ECS or malformed event fails with
/// `NonRetryable.InvalidEvent`, naming the problem, and logs nothing.
///
/// A batch (a JSON array) is logged event by event, one line each, and answered
/// `{"events": [{"index": 0, "logged": "<id>"}, {"index": 1, "error": "invalid event: …"}]}`:
/// an event that is not an ECS event is rejected alone, with an `ERROR` line of kind
/// [`ecs_events::event_log::REJECTED_KIND`] naming its index and what was wrong, and does not fail the invocation
/// (a retry of the whole batch could not help it). Only a failure to write fails the
/// invocation (`Retryable.LogWrite`); a retry then logs the batch's events again, which the
/// replay deduplicates.
pub fn handle(event: LambdaEvent<Value>, out: &mut impl Write) -> Result<Value, Diagnostic> {
    let payload = Payload::from_value(event.payload);
    if !payload.is_batch() {
        // The runtime logs the returned error once; the handler does not log it again.
        let item = payload.items.into_iter().next();
        let received = item
            .map_or(Err(EventError::NotAnObject { found: "nothing" }), |item| item.event)
            .map_err(HandlerError::InvalidEvent)?;
        writeln!(out, "{}", received_line(&received)).map_err(HandlerError::LogWrite)?;
        return Ok(json!({ "logged": received.event.id }));
    }
    let mut answers = Vec::with_capacity(payload.items.len());
    for item in payload.items {
        let index = item.index.unwrap_or_default();
        match item.event {
            Ok(received) => {
                writeln!(out, "{}", received_line(&received)).map_err(HandlerError::LogWrite)?;
                answers.push(json!({ "index": index, "logged": received.event.id }));
            }
            Err(error) => {
                writeln!(out, "{}", rejected_line(index, &error))
                    .map_err(HandlerError::LogWrite)?;
                let error = HandlerError::InvalidEvent(error).to_string();
                answers.push(json!({ "index": index, "error": error }));
            }
        }
    }
    Ok(json!({ "events": answers }))
}

/// Why an invocation failed; [`handle`] answers it as the `Diagnostic` the runtime reports.
enum HandlerError {
    /// The payload is not an ECS event: retrying cannot help.
    InvalidEvent(EventError),
    /// The log line could not be written: a retry may.
    LogWrite(std::io::Error),
}

impl HandlerError {
    /// The `errorType` Lambda reports.
    fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidEvent(_) => "NonRetryable.InvalidEvent",
            Self::LogWrite(_) => "Retryable.LogWrite",
        }
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidEvent(error) => write!(f, "invalid event: {error}"),
            Self::LogWrite(error) => write!(f, "cannot write the log line: {error}"),
        }
    }
}

ecs_events::handler_error!(HandlerError);
