//! The alerter's Lambda handler: an EventBridge event in, at most one alert per (rule, task)
//! out.

use ecs_events::alert::{AlertError, Alerter, Delivery};
use ecs_events::event::{EventError, ReceivedEvent};
use ecs_events::telemetry::OutcomeCounts;
use lambda_runtime::{Diagnostic, LambdaEvent};
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
    /// Alerting failed; see [`HandlerError::is_retryable`].
    #[error(transparent)]
    Alert(#[from] AlertError),
}

impl HandlerError {
    /// Whether Lambda's retry may succeed (the ledger makes retries safe).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Alert(error) if error.is_retryable())
    }

    /// The `errorType` Lambda reports (and DLQ messages carry).
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidEvent(_) => "NonRetryable.InvalidEvent",
            Self::Alert(_) if self.is_retryable() => "Retryable.AlertError",
            Self::Alert(_) => "NonRetryable.AlertError",
        }
    }
}

impl std::fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {self}", self.error_type())
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        Diagnostic { error_type: error.error_type().into(), error_message: error.to_string() }
    }
}

/// Handles one EventBridge event: answers `{"alerts": [{"rule", "key", "sent"}...]}`.
pub async fn handle(alerter: &Alerter, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
    let raw = event.payload;
    let mut counts = OutcomeCounts::default();
    let result = process(alerter, raw, &mut counts).await;
    counts.emit(FUNCTION_NAME);
    result
}

async fn process(
    alerter: &Alerter,
    raw: Value,
    counts: &mut OutcomeCounts,
) -> Result<Value, HandlerError> {
    let received = ReceivedEvent::new(raw).inspect_err(|_| counts.add("Rejected"))?;
    let deliveries = alerter.process(&received).await.inspect_err(|_| counts.add("Failed"))?;
    if deliveries.is_empty() {
        counts.add("NoMatch");
    }
    let alerts: Vec<Value> = deliveries
        .iter()
        .map(|delivery| {
            let sent = matches!(delivery, Delivery::Sent(_));
            counts.add(if sent { "Sent" } else { "AlreadySent" });
            json!({"rule": delivery.rule(), "resource": delivery.resource(), "sent": sent})
        })
        .collect();
    Ok(json!({ "alerts": alerts }))
}
