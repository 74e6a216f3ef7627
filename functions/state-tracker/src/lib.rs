//! The state tracker's Lambda handler: EventBridge events, or SQS batches of them, tracked in a
//! [`StateStore`].

use std::sync::Arc;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use ecs_events::event::{EventError, ReceivedEvent};
use ecs_events::state::{Outcome, Retention, StateStore};
use ecs_events::telemetry::OutcomeCounts;
use ecs_events::tracker::{TrackError, track};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};

/// Name of the function in logs and metrics.
pub const FUNCTION_NAME: &str = "state-tracker";

/// Why an invocation (or one SQS record) failed.
///
/// The Lambda runtime logs the error a handler returns, once, with its `Debug` form: that is
/// the readable `<error type>: <message>` line, so the handler does not log it again.
#[derive(thiserror::Error)]
pub enum HandlerError {
    /// The payload is not an ECS event: retrying cannot help.
    #[error("invalid event: {0}")]
    InvalidEvent(#[from] EventError),
    /// The payload looks like an SQS batch but is not one.
    #[error("invalid SQS batch: {0}")]
    InvalidBatch(#[source] serde_json::Error),
    /// Tracking failed (the store, or an event too large to store).
    #[error(transparent)]
    Track(#[from] TrackError),
}

impl HandlerError {
    /// Whether Lambda's retry may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Track(error) if error.is_retryable())
    }

    /// The `errorType` Lambda reports (and DLQ messages carry).
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidEvent(_) | Self::InvalidBatch(_) => "NonRetryable.InvalidEvent",
            Self::Track(track) if track.is_retryable() => "Retryable.StoreError",
            Self::Track(_) => "NonRetryable.TrackError",
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

/// The handler, holding the store for the life of the execution environment.
#[derive(Clone)]
pub struct StateTracker {
    store: Arc<dyn StateStore>,
    retention: Retention,
}

impl StateTracker {
    /// A tracker writing to `store`; stopped tasks and deregistered container instances
    /// expire after their `retention`.
    pub fn new(store: Arc<dyn StateStore>, retention: Retention) -> Self {
        Self { store, retention }
    }

    /// Handles one invocation: a direct EventBridge event (answers `{"outcome": ...}`), or an
    /// SQS batch (answers `batchItemFailures` naming exactly the records that failed, so only
    /// those are redelivered and, after the queue's retries, dead-lettered).
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
        let mut counts = OutcomeCounts::default();
        let result = if event.payload.get("Records").is_some_and(Value::is_array) {
            self.handle_batch(event.payload, &mut counts).await
        } else {
            let outcome = self.track_payload(event.payload).await;
            counts.add(outcome_name(&outcome));
            outcome.map(|outcome| json!({ "outcome": outcome.as_str() }))
        };
        counts.emit(FUNCTION_NAME);
        result
    }

    async fn handle_batch(
        &self,
        payload: Value,
        counts: &mut OutcomeCounts,
    ) -> Result<Value, HandlerError> {
        let batch: SqsEvent =
            serde_json::from_value(payload).map_err(HandlerError::InvalidBatch)?;
        let results =
            futures::future::join_all(batch.records.iter().map(|record| self.track_record(record)))
                .await;
        let mut response = SqsBatchResponse::default();
        for (record, result) in batch.records.iter().zip(results) {
            counts.add(outcome_name(&result));
            if let Err(error) = result {
                let message_id = record.message_id.clone().unwrap_or_default();
                tracing::error!(message_id = %message_id, retryable = error.is_retryable(), error = %error, "record failed");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message_id;
                response.batch_item_failures.push(failure);
            }
        }
        serde_json::to_value(response).map_err(HandlerError::InvalidBatch)
    }

    async fn track_record(&self, record: &SqsMessage) -> Result<Outcome, HandlerError> {
        let body = record.body.as_deref().unwrap_or_default();
        let received = ReceivedEvent::from_slice(body.as_bytes())?;
        Ok(track(self.store.as_ref(), received, self.retention).await?)
    }

    async fn track_payload(&self, payload: Value) -> Result<Outcome, HandlerError> {
        let received = ReceivedEvent::new(payload)?;
        Ok(track(self.store.as_ref(), received, self.retention).await?)
    }
}

/// The name an event's result is counted under.
fn outcome_name(result: &Result<Outcome, HandlerError>) -> &'static str {
    match result {
        Ok(outcome) => outcome.as_str(),
        Err(error) if error.is_retryable() => "Failed",
        Err(_) => "Rejected",
    }
}
