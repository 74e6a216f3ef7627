//! The state tracker's Lambda handler: EventBridge events, or SQS batches of them, tracked in a
//! [`StateStore`].
//!
//! An SQS batch always answers, within the invocation's deadline, with exactly the records
//! that failed and may succeed later (`batchItemFailures`): records are tracked a few at a
//! time, each bounded by the time left. A record that can never succeed (not an ECS event, too
//! large to store) goes to the dead-letter queue at once, with its error, instead of being
//! received five more times first.

mod dead_letters;

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::Utc;
use ecs_events::deadline::Deadline;
use ecs_events::event::{EventError, ReceivedEvent};
use ecs_events::service::ServiceStore;
use ecs_events::state::{Outcome, Retention, StateStore};
use ecs_events::telemetry::OutcomeCounts;
use ecs_events::tracker::{Stores, TrackError, track};
use futures::StreamExt;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};

pub use dead_letters::{DeadLetter, DeadLetters, SqsDeadLetters};

/// Name of the function in logs and metrics.
pub const FUNCTION_NAME: &str = "state-tracker";

/// Records of one batch tracked at the same time (one DynamoDB request each).
pub const BATCH_CONCURRENCY: usize = 8;

/// Kept back from the deadline so the batch response is sent before Lambda stops the function.
pub const ANSWER_RESERVE: Duration = Duration::from_millis(1500);

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
    /// The record was still being tracked when the invocation's time ran out.
    #[error("not tracked before the invocation's deadline")]
    OutOfTime,
}

impl HandlerError {
    /// Whether Lambda's retry may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Track(error) => error.is_retryable(),
            Self::OutOfTime => true,
            Self::InvalidEvent(_) | Self::InvalidBatch(_) => false,
        }
    }

    /// The `errorType` Lambda reports (and DLQ messages carry).
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidEvent(_) | Self::InvalidBatch(_) => "NonRetryable.InvalidEvent",
            Self::Track(_) | Self::OutOfTime if self.is_retryable() => "Retryable.StoreError",
            Self::Track(_) | Self::OutOfTime => "NonRetryable.TrackError",
        }
    }
}

ecs_events::handler_error!(HandlerError);

/// The handler, holding the store for the life of the execution environment.
#[derive(Clone)]
pub struct StateTracker {
    store: Arc<dyn StateStore>,
    services: Arc<dyn ServiceStore>,
    retention: Retention,
    dead_letters: Option<Arc<dyn DeadLetters>>,
}

impl StateTracker {
    /// A tracker writing tasks and container instances to `store`, services and deployments
    /// to `services`; stopped tasks, deregistered container instances and deployments expire
    /// after their `retention`.
    pub fn new(
        store: Arc<dyn StateStore>,
        services: Arc<dyn ServiceStore>,
        retention: Retention,
    ) -> Self {
        Self { store, services, retention, dead_letters: None }
    }

    fn stores(&self) -> Stores<'_> {
        Stores { state: self.store.as_ref(), services: self.services.as_ref() }
    }

    /// Sends SQS records that can never be tracked to `dead_letters` at once.
    pub fn with_dead_letters(mut self, dead_letters: Arc<dyn DeadLetters>) -> Self {
        self.dead_letters = Some(dead_letters);
        self
    }

    /// Handles one invocation: a direct EventBridge event (answers `{"outcome": ...}`), or an
    /// SQS batch (answers `batchItemFailures` naming exactly the records to redeliver).
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        let mut counts = OutcomeCounts::default();
        let result = if event.payload.get("Records").is_some_and(Value::is_array) {
            self.handle_batch(event.payload, deadline, &mut counts).await
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
        deadline: Deadline,
        counts: &mut OutcomeCounts,
    ) -> Result<Value, HandlerError> {
        let batch: SqsEvent =
            serde_json::from_value(payload).map_err(HandlerError::InvalidBatch)?;
        // One end for every record, however late it starts (records after the first
        // BATCH_CONCURRENCY wait for a slot): the batch answers by the deadline.
        let until = tokio::time::Instant::now() + deadline.remaining_less(ANSWER_RESERVE);
        let results: Vec<Result<Outcome, HandlerError>> = futures::stream::iter(&batch.records)
            .map(|record| async move {
                tokio::time::timeout_at(until, self.track_record(record))
                    .await
                    .unwrap_or(Err(HandlerError::OutOfTime))
            })
            .buffered(BATCH_CONCURRENCY)
            .collect()
            .await;
        let mut response = SqsBatchResponse::default();
        for (record, result) in batch.records.iter().zip(results) {
            let message_id = record.message_id.clone().unwrap_or_default();
            let Err(error) = result else {
                counts.add(outcome_name(&result));
                continue;
            };
            tracing::error!(message_id = %message_id, retryable = error.is_retryable(), error = %error, "record failed");
            if !error.is_retryable() && self.dead_letter(record, &error, deadline).await {
                counts.add("DeadLettered");
                continue;
            }
            counts.add(outcome_name(&Err(error)));
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id;
            response.batch_item_failures.push(failure);
        }
        serde_json::to_value(response).map_err(HandlerError::InvalidBatch)
    }

    /// Sends a record that can never be tracked to the dead-letter queue, within the time left:
    /// `true` when it is there (SQS may delete it), `false` when it must be redelivered
    /// instead.
    async fn dead_letter(
        &self,
        record: &SqsMessage,
        error: &HandlerError,
        deadline: Deadline,
    ) -> bool {
        let Some(dead_letters) = &self.dead_letters else { return false };
        let letter = DeadLetter {
            body: record.body.clone().unwrap_or_default(),
            message_id: record.message_id.clone().unwrap_or_default(),
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        };
        let budget = deadline.remaining_less(ANSWER_RESERVE / 3);
        match tokio::time::timeout(budget, dead_letters.send(&letter)).await {
            Ok(Ok(())) => true,
            Ok(Err(failure)) => {
                tracing::error!(message_id = %letter.message_id, error = %failure, "not dead-lettered: redelivering");
                false
            }
            Err(_) => {
                tracing::error!(message_id = %letter.message_id, "not dead-lettered before the deadline: redelivering");
                false
            }
        }
    }

    async fn track_record(&self, record: &SqsMessage) -> Result<Outcome, HandlerError> {
        let body = record.body.as_deref().unwrap_or_default();
        let received = ReceivedEvent::from_slice(body.as_bytes())?;
        Ok(track(self.stores(), received, self.retention, Utc::now()).await?)
    }

    async fn track_payload(&self, payload: Value) -> Result<Outcome, HandlerError> {
        let received = ReceivedEvent::new(payload)?;
        Ok(track(self.stores(), received, self.retention, Utc::now()).await?)
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
