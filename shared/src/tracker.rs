//! The state tracker's decision for one event: build the record, write it if newer.

use chrono::{DateTime, Utc};

use crate::event::ReceivedEvent;
use crate::state::{Create, Outcome, RecordError, Retention, StateRecord, StateStore, StoreError};

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
/// after their `retention`; an event older than that (by `now`: the wall clock in Lambda, the
/// replay's event clock in a replay) only updates a record that still exists, so it cannot
/// bring back one that expired.
pub async fn track(
    store: &dyn StateStore,
    received: ReceivedEvent,
    retention: Retention,
    now: DateTime<Utc>,
) -> Result<Outcome, TrackError> {
    let event_id = received.event.id.clone();
    let Some(record) = StateRecord::from_event(received, retention)? else {
        tracing::debug!(event_id = %event_id, "not tracked");
        return Ok(Outcome::Ignored);
    };
    let (kind, version) = (record.kind, record.version);
    let create = if record.event_time.instant() + retention.of(kind) < now {
        Create::OnlyUpdate
    } else {
        Create::Allowed
    };
    let (arn, status) = (record.key.clone(), record.status.clone());
    let outcome = store.put_if_newer(record, create).await?.outcome(version);
    tracing::info!(
        event_id = %event_id,
        kind = ?kind,
        arn = %arn,
        version,
        status = %status,
        outcome = outcome.as_str(),
        old = create == Create::OnlyUpdate,
        "tracked"
    );
    Ok(outcome)
}
