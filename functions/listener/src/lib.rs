//! The listener's Lambda handler: logs each ECS event as one JSON line
//! ([`ecs_events::event_log`]) and rejects events that are not from ECS.

use std::io::Write;

use ecs_events::event::EventError;
use ecs_events::event_log::log_line;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};

/// Logs the event to `out` (stdout in Lambda, which CloudWatch Logs records) and answers
/// `{"logged": "<event id>"}`. A non-ECS or malformed event fails with
/// `NonRetryable.InvalidEvent`, naming the problem, and logs nothing.
pub fn handle(event: LambdaEvent<Value>, out: &mut impl Write) -> Result<Value, Diagnostic> {
    // The runtime logs the returned error once; the handler does not log it again.
    let line = log_line(&event.payload).map_err(|error: EventError| Diagnostic {
        error_type: "NonRetryable.InvalidEvent".into(),
        error_message: format!("invalid event: {error}"),
    })?;
    writeln!(out, "{line}").map_err(|error| Diagnostic {
        error_type: "Retryable.LogWrite".into(),
        error_message: format!("cannot write the log line: {error}"),
    })?;
    Ok(json!({ "logged": event.payload.get("id") }))
}
