//! The listener's log line: one JSON object per ECS event, which `ecs-events` reads back.
//!
//! ```json
//! {"level":"INFO","kind":"ecs-event","id":"<envelope id>","detailType":"ECS Task State Change","resources":[...],"event":{<the whole event, secrets redacted>}}
//! ```
//!
//! `level` is what Lambda's JSON log format filters application logs by (a line without it
//! escapes the function's log level), and what CloudWatch Logs Insights queries group by.

use serde_json::{Value, json};

use crate::event::{EcsEvent, EventError, ReceivedEvent};
use crate::redact::redact_event;

/// The `kind` of a listener log line.
pub const LOG_LINE_KIND: &str = "ecs-event";

/// The `kind` of the line the listener writes for an event of a batch it rejected:
/// `{"level":"ERROR","kind":"ecs-event-rejected","index":1,"error":"event [1]: <what was wrong>"}`.
pub const REJECTED_KIND: &str = "ecs-event-rejected";

/// The line standing for the event at `index` of a batch, rejected for `error`.
pub fn rejected_line(index: usize, error: &EventError) -> String {
    json!({
        "level": "ERROR",
        "kind": REJECTED_KIND,
        "index": index,
        "error": crate::event::payload::at_index(Some(index), error),
    })
    .to_string()
}

/// What was wrong with the event a listener's rejection line stands for, if `line` is one.
pub fn rejected_error(line: &Value) -> Option<&str> {
    (line.get("kind")?.as_str()? == REJECTED_KIND).then(|| line.get("error")?.as_str()).flatten()
}

/// Checks that `raw` is an ECS event and returns its log line, secrets redacted.
pub fn log_line(raw: &Value) -> Result<String, EventError> {
    let event = EcsEvent::from_value(raw.clone())?;
    Ok(line(raw, &event))
}

/// The log line of an event already checked (one of a delivered payload's,
/// [`crate::event::Payload`]), secrets redacted.
pub fn received_line(received: &ReceivedEvent) -> String {
    line(&received.raw(), &received.event)
}

fn line(raw: &Value, event: &EcsEvent) -> String {
    let mut logged = raw.clone();
    redact_event(&mut logged);
    json!({
        "level": "INFO",
        "kind": LOG_LINE_KIND,
        "id": event.id,
        "detailType": event.detail_type,
        "resources": event.resources(),
        "event": logged,
    })
    .to_string()
}

/// The event inside a listener log line, if `line` is one.
pub fn logged_event(line: &Value) -> Option<&Value> {
    (line.get("kind")?.as_str()? == LOG_LINE_KIND).then(|| line.get("event")).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_an_event_then_its_log_line_carries_it_redacted_and_reads_back() {
        let raw: Value =
            serde_json::from_str(include_str!("../../events/samples/task-with-env-overrides.json"))
                .expect("JSON");
        let line: Value = serde_json::from_str(&log_line(&raw).expect("ECS event")).expect("JSON");
        assert_eq!(line["kind"], LOG_LINE_KIND);
        assert_eq!(line["level"], "INFO", "Lambda's log level filter reads it");
        assert_eq!(line["id"], raw["id"]);
        let logged = logged_event(&line).expect("a log line");
        assert!(!logged.to_string().contains("REDACT-ME-SECRET"));
        let mut expected = raw.clone();
        redact_event(&mut expected);
        assert_eq!(logged, &expected);
    }

    #[test]
    fn given_a_non_ecs_event_then_no_line_and_the_error_names_the_source() {
        let raw = json!({"source": "aws.ec2", "detail": {}});
        let error = log_line(&raw).expect_err("not ECS");
        assert_eq!(error, EventError::NotEcs { event_source: "aws.ec2".into() });
    }
}
