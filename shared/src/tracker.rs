//! The state tracker's decision for one event: build the record, write it if newer.

use crate::event::ReceivedEvent;
use crate::state::{Outcome, RecordError, Retention, StateRecord, StateStore, StoreError};

/// Why an event could not be tracked.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    /// The event can never be stored (for example: too large for DynamoDB).
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The store failed; [`TrackError::is_retryable`] says whether to try again.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TrackError {
    /// Whether a later retry may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Store(error) if error.is_retryable())
    }
}

/// Tracks one event in `store`: one conditional write for task and container instance
/// events, nothing for the others. Stopped tasks and deregistered container instances expire
/// after their `retention`.
pub async fn track(
    store: &dyn StateStore,
    received: ReceivedEvent,
    retention: Retention,
) -> Result<Outcome, TrackError> {
    let event_id = received.event.id.clone();
    let Some(record) = StateRecord::from_event(received, retention)? else {
        tracing::debug!(event_id = %event_id, "not tracked");
        return Ok(Outcome::Ignored);
    };
    let (kind, version) = (record.kind, record.version);
    let (arn, status) = (record.key.clone(), record.status.clone());
    let outcome = store.put_if_newer(record).await?.outcome(version);
    tracing::info!(
        event_id = %event_id,
        kind = ?kind,
        arn = %arn,
        version,
        status = %status,
        outcome = outcome.as_str(),
        "tracked"
    );
    Ok(outcome)
}
