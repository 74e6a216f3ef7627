//! The alerter's Lambda handler: an ECS event in, at most one alert per (rule, task) out.
//!
//! The templates invoke it once per (event, alert rule) EventBridge matched, with the payload
//! `{"rule": "<name>", "event": <the event>}` (an input transformer): only that rule's alert is
//! sent, without matching again. A bare ECS event (a local invoke) goes through every rule.
//! Every minute a schedule invokes it with `{"flushDigests": true}` (or EventBridge's own
//! `Scheduled Event`): it sends the digests of incident windows that have ended.
//!
//! An event may also come wrapped with its metadata, and a payload may be a batch (a JSON
//! array) of events, wrapped or not, or of `{"rule", "event"}` requests, as EventBridge's
//! Custom Event Bus delivers them ([`ecs_events::event::payload`]). Each event of a batch is
//! processed on its own and answered at its index:
//! `{"events": [{"index": 0, "alerts": [...]}, {"index": 1, "error": …, "errorType": …}]}`.
//! The invocation fails (retryable) only when an event failed in a way a retry may mend: the
//! bus then retries the whole batch, and the ledger makes the events already alerted on send
//! nothing again. An event that can never be processed is answered and logged as an error
//! without failing the others.

use chrono::Utc;
use ecs_events::alert::{AlertError, Alerter, Delivery, RuleResult};
use ecs_events::deadline::Deadline;
use ecs_events::event::{EventError, ReceivedEvent, payload};
use ecs_events::telemetry::OutcomeCounts;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};

/// Name of the function in logs and metrics.
pub const FUNCTION_NAME: &str = "alerter";

/// Why an invocation failed.
///
/// The Lambda runtime logs the error a handler returns, once, with its `Debug` form: that is
/// the readable `<error type>: <message>` line, so the handler does not log it again.
#[derive(thiserror::Error)]
pub enum HandlerError {
    /// The payload is not an ECS event: retrying cannot help.
    #[error("invalid event: {0}")]
    InvalidEvent(#[from] EventError),
    /// Alerting failed for some rules; the others' results were reported and counted.
    #[error("{}", describe_failures(.0))]
    Alert(Vec<(String, AlertError)>),
    /// Events of a batch failed (each with its index); the others were processed.
    #[error("{}", payload::describe_failures(.0))]
    Events(Vec<(usize, HandlerError)>),
}

fn describe_failures(failures: &[(String, AlertError)]) -> String {
    failures
        .iter()
        .map(|(rule, error)| format!("rule {rule}: {error}"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl HandlerError {
    /// Whether Lambda's retry may succeed (the ledger makes retries safe): when any failed
    /// rule may succeed later.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::InvalidEvent(_) => false,
            Self::Alert(failures) => failures.iter().any(|(_, error)| error.is_retryable()),
            Self::Events(failures) => failures.iter().any(|(_, error)| error.is_retryable()),
        }
    }

    /// The `errorType` Lambda reports (and DLQ messages carry).
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidEvent(_) => "NonRetryable.InvalidEvent",
            Self::Alert(_) if self.is_retryable() => "Retryable.AlertError",
            Self::Alert(_) => "NonRetryable.AlertError",
            Self::Events(_) if self.is_retryable() => "Retryable.AlertError",
            Self::Events(_) => "NonRetryable.AlertError",
        }
    }
}

ecs_events::handler_error!(HandlerError, EventFailure);

/// What the alerter is asked to do.
enum Request {
    /// One rule EventBridge matched, with the event (the templates' input transformer).
    Rule { rule: String, event: Value },
    /// A bare event: every matching rule.
    Event(Value),
    /// Send the digests that are due (the schedule).
    Flush,
}

impl Request {
    fn from_payload(payload: Value) -> Self {
        let scheduled = payload.get("flushDigests") == Some(&Value::Bool(true))
            || (payload.get("source").and_then(Value::as_str) == Some("aws.events")
                && payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event"));
        if scheduled {
            return Self::Flush;
        }
        match rule_request(payload) {
            (Some(rule), event) => Self::Rule { rule, event },
            (None, event) => Self::Event(event),
        }
    }
}

/// One event of a payload: a `{"rule", "event"}` request (the rule and its event), or an
/// event (plain or wrapped) for every rule.
fn rule_request(payload: Value) -> (Option<String>, Value) {
    match payload {
        Value::Object(mut fields)
            if fields.len() == 2
                && fields.get("rule").is_some_and(Value::is_string)
                && fields.get("event").is_some_and(Value::is_object) =>
        {
            let rule = fields.remove("rule").and_then(|rule| rule.as_str().map(str::to_owned));
            (rule, fields.remove("event").unwrap_or_default())
        }
        other => (None, other),
    }
}

/// Handles one invocation: answers `{"alerts": [{"rule", "resource", "sent", "recorded"}...]}`,
/// or fails naming every rule that failed (after counting every rule's result).
pub async fn handle(alerter: &Alerter, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
    let deadline = Deadline::from_epoch_millis(event.context.deadline);
    let mut counts = OutcomeCounts::default();
    let result = process(alerter, event.payload, deadline, &mut counts).await;
    counts.emit(FUNCTION_NAME);
    result
}

async fn process(
    alerter: &Alerter,
    payload: Value,
    deadline: Deadline,
    counts: &mut OutcomeCounts,
) -> Result<Value, HandlerError> {
    let now = Utc::now();
    if let Value::Array(events) = payload {
        return process_batch(alerter, events, now, deadline, counts).await;
    }
    let (rule, raw) = match Request::from_payload(payload) {
        Request::Rule { rule, event } => (Some(rule), event),
        Request::Event(event) => (None, event),
        Request::Flush => {
            let results = alerter.flush(now, deadline).await;
            return report(results, counts);
        }
    };
    let received = payload::event(raw).inspect_err(|_| counts.add("Rejected"))?;
    process_event(alerter, &received, rule, now, deadline, counts).await
}

/// Alerts on one event: the rule EventBridge matched, or every rule.
async fn process_event(
    alerter: &Alerter,
    received: &ReceivedEvent,
    rule: Option<String>,
    now: chrono::DateTime<Utc>,
    deadline: Deadline,
    counts: &mut OutcomeCounts,
) -> Result<Value, HandlerError> {
    let results: Vec<RuleResult> = match rule {
        Some(rule) => {
            let result = alerter.process_rule(received, &rule, now, deadline).await;
            vec![(rule, result)]
        }
        None => alerter.process(received, now, deadline).await,
    };
    if results.is_empty() {
        counts.add("NoMatch");
    }
    report(results, counts)
}

/// Alerts on each event of a batch, in order, and answers each one at its index; fails when
/// an event failed in a way a retry may mend, after every other event was processed.
async fn process_batch(
    alerter: &Alerter,
    events: Vec<Value>,
    now: chrono::DateTime<Utc>,
    deadline: Deadline,
    counts: &mut OutcomeCounts,
) -> Result<Value, HandlerError> {
    if events.is_empty() {
        tracing::info!("an empty batch: nothing to alert on");
    }
    let mut results = Vec::with_capacity(events.len());
    for (index, event) in events.into_iter().enumerate() {
        let (rule, raw) = rule_request(event);
        let result = match payload::event(raw) {
            Ok(received) => process_event(alerter, &received, rule, now, deadline, counts).await,
            Err(error) => {
                counts.add("Rejected");
                Err(HandlerError::from(error))
            }
        };
        results.push((index, result.map(|mut answer| answer["alerts"].take())));
    }
    payload::answer_batch(results, "alerts").map_err(HandlerError::Events)
}

/// Counts every rule's result and answers `{"alerts": [...]}`, or fails naming every rule that
/// failed.
fn report(results: Vec<RuleResult>, counts: &mut OutcomeCounts) -> Result<Value, HandlerError> {
    let mut alerts = Vec::new();
    let mut failures = Vec::new();
    for (rule, result) in results {
        match result {
            Ok(delivery) => {
                counts.add(delivery.outcome());
                let published = delivery.published();
                alerts.push(json!({
                    "rule": delivery.rule(),
                    "resource": delivery.resource(),
                    "kind": published.map(|alert| alert.kind.as_str()),
                    "sent": published.is_some(),
                    "recorded": !matches!(delivery, Delivery::SentUnrecorded { .. }),
                    "counted": matches!(delivery, Delivery::Counted { .. }),
                    "quiet": matches!(delivery, Delivery::Quiet { .. }),
                }));
            }
            Err(error) => {
                counts.add("Failed");
                failures.push((rule, error));
            }
        }
    }
    if failures.is_empty() {
        Ok(json!({ "alerts": alerts }))
    } else {
        Err(HandlerError::Alert(failures))
    }
}
