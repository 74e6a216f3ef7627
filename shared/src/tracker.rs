//! The state tracker's decision for one event: build the record, write it if newer — one
//! conditional write per event, whatever its kind.

use chrono::{DateTime, Utc};

use crate::event::{ArnKind, EcsDetail, ReceivedEvent, ServiceActionName, check_arn};
use crate::service::{DeploymentChange, Desired, ServiceStore, cluster_arn_of};
use crate::state::{
    Create, Outcome, PutResult, RecordError, Retention, Source, StateRecord, StateStore, StoreError,
};

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

/// Where the state tracker writes: tasks and container instances, services and deployments.
#[derive(Clone, Copy)]
pub struct Stores<'a> {
    /// Tasks and container instances.
    pub state: &'a dyn StateStore,
    /// Services and deployments.
    pub services: &'a dyn ServiceStore,
}

/// Whether an event that happened at `at` may create a record at `now`: not when it is older
/// than the retention (the record it would create may be one that expired).
fn create(at: DateTime<Utc>, retention: chrono::Duration, now: DateTime<Utc>) -> Create {
    if at + retention < now { Create::OnlyUpdate } else { Create::Allowed }
}

/// Tracks one event: one conditional write for task, container instance and deployment events
/// and for a service's desired count and steady state, nothing for the others. Stopped tasks,
/// deregistered container instances and deployments expire after their `retention`; an event
/// older than that (by `now`: the wall clock in Lambda, the replay's event clock in a replay)
/// only updates a record that still exists, so it cannot bring back one that expired.
pub async fn track(
    stores: Stores<'_>,
    received: ReceivedEvent,
    retention: Retention,
    now: DateTime<Utc>,
) -> Result<Outcome, TrackError> {
    let event = &received.event;
    let event_id = event.id.clone();
    match &event.detail {
        EcsDetail::Deployment(deployment) => {
            let Some(change) = DeploymentChange::from_event(event, retention.stopped_task) else {
                return Ok(Outcome::Ignored);
            };
            let at = deployment.updated_at.as_ref().unwrap_or(&event.time).instant();
            let (id, status, incoming) =
                (change.deployment_id.clone(), change.status.clone(), change.updated_ms);
            let create = create(at, retention.stopped_task, now);
            let result = stores.services.put_deployment(change, create).await?;
            let outcome = result.outcome(u64::try_from(incoming).unwrap_or_default());
            tracing::info!(event_id = %event_id, deployment = %id, status = %status, outcome = outcome.as_str(), "tracked");
            return Ok(outcome);
        }
        EcsDetail::ServiceAction(action) => {
            let service =
                event.resources().first().filter(|arn| check_arn(ArnKind::Service, arn).is_ok());
            let cluster =
                action.cluster_arn.clone().or_else(|| service.and_then(|s| cluster_arn_of(s)));
            let at_ms =
                action.created_at.as_ref().unwrap_or(&event.time).instant().timestamp_millis();
            let written = match (&action.event_name, service, cluster) {
                (ServiceActionName::ServiceDesiredCountUpdated, Some(service), Some(cluster)) => {
                    match action.desired_count {
                        Some(count) => {
                            let desired = Desired { count, at_ms, source: Source::Event };
                            Some(
                                stores
                                    .services
                                    .observe_desired(service, &cluster, desired, None)
                                    .await?,
                            )
                        }
                        None => None,
                    }
                }
                (ServiceActionName::ServiceSteadyState, Some(service), Some(cluster)) => {
                    Some(stores.services.observe_steady(service, &cluster, at_ms).await?)
                }
                _ => None,
            };
            let outcome = written.map_or(Outcome::Ignored, |result: PutResult| {
                result.outcome(u64::try_from(at_ms).unwrap_or_default())
            });
            tracing::info!(event_id = %event_id, action = %action.event_name, outcome = outcome.as_str(), "tracked");
            return Ok(outcome);
        }
        _ => {}
    }
    let Some(record) = StateRecord::from_event(received, retention)? else {
        tracing::debug!(event_id = %event_id, "not tracked");
        return Ok(Outcome::Ignored);
    };
    let (kind, version) = (record.kind, record.version);
    let create = create(record.event_time.instant(), retention.of(kind), now);
    let (arn, status) = (record.key.clone(), record.status.clone());
    let outcome = stores.state.put_if_newer(record, create).await?.outcome(version);
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
