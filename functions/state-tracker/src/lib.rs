//! The state tracker's Lambda handler: EventBridge events, or SQS batches of them, tracked in a
//! [`StateStore`].
//!
//! An SQS batch always answers, within the invocation's deadline, with exactly the records
//! that failed and may succeed later (`batchItemFailures`): records are tracked a few at a
//! time, each bounded by the time left. A record that can never succeed (not an ECS event, too
//! large to store) goes to the dead-letter queue at once, with its error, instead of being
//! received five more times first.
//!
//! A payload, or a record's body, may also hold a batch of events (a JSON array) or events
//! wrapped with their metadata, as EventBridge's Custom Event Bus delivers them
//! ([`ecs_events::event::payload`]). Each event of a batch is tracked on its own:
//!
//! * a direct invocation answers `{"events": [{"index": 0, "outcome": "Stored"}, {"index": 1,
//!   "error": …, "errorType": …}]}` once every event was tried, and fails (retryable) only
//!   when an event failed in a way a retry may mend. The Custom Event Bus has no partial
//!   answer for a function: it retries the whole call, every event of the batch again, within
//!   the subscriber's retry policy (Lambda's own retries, for an asynchronous invocation). That
//!   is safe: every write is conditional on the record's version (tasks, container instances)
//!   or time (services, deployments), so an event tracked the first time comes back
//!   `Duplicate` and changes nothing. An event that can never be tracked is answered and
//!   logged as an error, and does not fail the call: a retry could not help it and would hold
//!   the others back.
//! * an SQS record fails when any of its events failed: retryable when any may succeed later
//!   (the record is redelivered, and its other events are tracked again, harmlessly), else it
//!   goes to the dead-letter queue with an error naming each failed event's index.

mod dead_letters;

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::Utc;
use ecs_events::deadline::Deadline;
use ecs_events::event::{EventError, Item, Payload, ReceivedEvent, payload};
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
    /// Events of a batch failed (each with its index); the others were tracked.
    #[error("{}", payload::describe_failures(.0))]
    Events(Vec<(usize, HandlerError)>),
}

impl HandlerError {
    /// Whether Lambda's retry may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Track(error) => error.is_retryable(),
            Self::OutOfTime => true,
            Self::InvalidEvent(_) | Self::InvalidBatch(_) => false,
            Self::Events(failures) => failures.iter().any(|(_, error)| error.is_retryable()),
        }
    }

    /// The `errorType` Lambda reports (and DLQ messages carry).
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidEvent(_) | Self::InvalidBatch(_) => "NonRetryable.InvalidEvent",
            Self::Track(_) | Self::OutOfTime if self.is_retryable() => "Retryable.StoreError",
            Self::Track(_) | Self::OutOfTime => "NonRetryable.TrackError",
            Self::Events(failures) if self.is_retryable() => failures
                .iter()
                .map(|(_, error)| error.error_type())
                .find(|kind| kind.starts_with("Retryable"))
                .unwrap_or("Retryable.StoreError"),
            Self::Events(failures)
                if failures.iter().all(|(_, error)| matches!(error, Self::InvalidEvent(_))) =>
            {
                "NonRetryable.InvalidEvent"
            }
            Self::Events(_) => "NonRetryable.TrackError",
        }
    }

    /// The error of events that failed, `None` when none did: a single event's (not in a
    /// batch) as it is, else [`HandlerError::Events`].
    fn of_failures(mut failures: Vec<(Option<usize>, HandlerError)>) -> Option<Self> {
        if failures.len() == 1 && failures[0].0.is_none() {
            return failures.pop().map(|(_, error)| error);
        }
        (!failures.is_empty()).then(|| {
            Self::Events(
                failures
                    .into_iter()
                    .map(|(index, error)| (index.unwrap_or_default(), error))
                    .collect(),
            )
        })
    }
}

ecs_events::handler_error!(HandlerError, EventFailure);

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

    /// Handles one invocation: a direct EventBridge event (answers `{"outcome": ...}`), a
    /// direct batch of events (answers `{"events": [...]}`, see the module documentation), or
    /// an SQS batch (answers `batchItemFailures` naming exactly the records to redeliver).
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        let mut counts = OutcomeCounts::default();
        let result = if event.payload.get("Records").is_some_and(Value::is_array) {
            self.handle_batch(event.payload, deadline, &mut counts).await
        } else {
            let payload = Payload::from_value(event.payload);
            if payload.is_batch() {
                self.handle_events(payload, deadline, &mut counts).await
            } else {
                let item = payload.items.into_iter().next();
                let received = item
                    .map_or(Err(EventError::NotAnObject { found: "nothing" }), |item| item.event);
                let outcome = self.track_event(received).await;
                counts.add(outcome_name(&outcome));
                outcome.map(|outcome| json!({ "outcome": outcome.as_str() }))
            }
        };
        counts.emit(FUNCTION_NAME);
        result
    }

    /// Tracks every event of a direct batch, a few at a time, each bounded by the time left;
    /// answers each one's outcome or error, or fails when any may succeed on a retry.
    async fn handle_events(
        &self,
        payload: Payload,
        deadline: Deadline,
        counts: &mut OutcomeCounts,
    ) -> Result<Value, HandlerError> {
        if payload.items.is_empty() {
            tracing::info!("an empty batch: nothing to track");
        }
        let until = tokio::time::Instant::now() + deadline.remaining_less(ANSWER_RESERVE);
        let results: Vec<(usize, Result<Outcome, HandlerError>)> =
            futures::stream::iter(payload.items)
                .map(|item: Item| async move {
                    let index = item.index.unwrap_or_default();
                    let result = tokio::time::timeout_at(until, self.track_event(item.event))
                        .await
                        .unwrap_or(Err(HandlerError::OutOfTime));
                    (index, result)
                })
                .buffered(BATCH_CONCURRENCY)
                .collect()
                .await;
        let results = results
            .into_iter()
            .map(|(index, result)| {
                counts.add(outcome_name(&result));
                (index, result.map(|outcome| json!(outcome.as_str())))
            })
            .collect();
        payload::answer_batch(results, "outcome").map_err(HandlerError::Events)
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
        let results: Vec<Result<Vec<Outcome>, HandlerError>> =
            futures::stream::iter(&batch.records)
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
            let error = match result {
                Ok(outcomes) => {
                    outcomes.into_iter().for_each(|outcome| counts.add(outcome.as_str()));
                    continue;
                }
                Err(error) => error,
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

    /// Tracks the events of one record's body (one event, usually), one after the other:
    /// their outcomes, or the error of those that failed (each named by its index when the
    /// body is a batch).
    async fn track_record(&self, record: &SqsMessage) -> Result<Vec<Outcome>, HandlerError> {
        let body = record.body.as_deref().unwrap_or_default();
        let payload = Payload::from_slice(body.as_bytes());
        let mut outcomes = Vec::with_capacity(payload.items.len());
        let mut failures = Vec::new();
        for item in payload.items {
            match self.track_event(item.event).await {
                Ok(outcome) => outcomes.push(outcome),
                Err(error) => failures.push((item.index, error)),
            }
        }
        match HandlerError::of_failures(failures) {
            Some(error) => Err(error),
            None => Ok(outcomes),
        }
    }

    async fn track_event(
        &self,
        received: Result<ReceivedEvent, EventError>,
    ) -> Result<Outcome, HandlerError> {
        Ok(track(self.stores(), received?, self.retention, Utc::now()).await?)
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
