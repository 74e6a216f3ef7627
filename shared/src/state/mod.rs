//! Task and container-instance state: version ordering, the [`StateStore`] port, and its
//! DynamoDB and in-memory adapters.
//!
//! ECS delivers events at least once and out of order; `detail.version` grows by one per state
//! change. A store keeps, per task (or container instance), the record of the highest version
//! seen: an equal version is a duplicate, a lower one is stale. The write is conditional and
//! atomic, so the newest version wins whatever the order and however many copies arrive.
//!
//! Records of stopped tasks and deregistered instances expire (TTL), which also removes their
//! version. So that a late or redriven copy of an old event cannot write such a record back
//! as a ghost, an event older than the retention may only update a record that exists, never
//! create one ([`Create::OnlyUpdate`]).

mod detail;
mod dynamodb;
mod memory;
mod record;

use std::collections::HashMap;

use async_trait::async_trait;

pub use detail::Detail;
pub use dynamodb::{
    CONTAINER_INSTANCE_STATUS_INDEX, CONTAINER_INSTANCE_STATUS_INDEX_ATTRIBUTES,
    DynamoDbStateStore, TASK_DEPLOYMENT_INDEX, TASK_DEPLOYMENT_INDEX_ATTRIBUTES, TASK_STATUS_INDEX,
    TASK_STATUS_INDEX_ATTRIBUTES, item_size, record_to_item,
};
pub use memory::InMemoryStateStore;
pub use record::{
    MAX_ITEM_BYTES, RecordError, ResourceKind, Retention, Source, StateRecord, TaskFacts,
};

/// What happened to one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Newer than what was stored (or first seen): written.
    Stored,
    /// Same version as the stored one: a redelivery, nothing written.
    Duplicate,
    /// Older than the stored version: nothing written.
    Stale,
    /// Valid, but not a kind of event the state tracker keeps (service actions, deployments...).
    Ignored,
}

impl Outcome {
    /// The outcome's name, as used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stored => "Stored",
            Self::Duplicate => "Duplicate",
            Self::Stale => "Stale",
            Self::Ignored => "Ignored",
        }
    }

    /// Decides what an incoming `version` means given the version already stored, if any.
    pub fn of(incoming: u64, stored: Option<u64>) -> Self {
        match stored {
            None => Self::Stored,
            Some(stored) if incoming > stored => Self::Stored,
            Some(stored) if incoming == stored => Self::Duplicate,
            Some(_) => Self::Stale,
        }
    }
}

/// Whether a write may create a record that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// Yes: the event is recent.
    Allowed,
    /// No, only update an existing one: the event is older than the retention, so the record
    /// it would create may be one that expired (a late or redriven copy must not bring it
    /// back).
    OnlyUpdate,
}

/// What a conditional write did: the adapter's report, which [`Outcome::of`] turns into a
/// decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutResult {
    /// The record was written (no item, or an older one, was there).
    Written,
    /// The condition failed: an item with this version (equal or newer) stays.
    Kept {
        /// The version of the item that stays.
        stored_version: u64,
    },
    /// No item exists and the write was [`Create::OnlyUpdate`]: nothing was written.
    NotCreated,
}

impl PutResult {
    /// The outcome for a record of version `incoming` (an old event for a record that is gone
    /// is stale).
    pub fn outcome(self, incoming: u64) -> Outcome {
        match self {
            Self::Written => Outcome::Stored,
            Self::Kept { stored_version } => Outcome::of(incoming, Some(stored_version)),
            Self::NotCreated => Outcome::Stale,
        }
    }
}

/// What the cluster/status index holds of a task: enough to list a cluster's tasks without
/// reading their details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSummary {
    /// The task ARN.
    pub task_arn: String,
    /// The cluster ARN.
    pub cluster_arn: String,
    /// `lastStatus`.
    pub last_status: String,
    /// `detail.version` of the stored state.
    pub version: u64,
    /// Group, times, stop code and failed containers.
    pub facts: TaskFacts,
    /// Since when (epoch seconds) the reconciler has found the task missing from ECS.
    pub missing_since: Option<i64>,
}

impl TaskSummary {
    /// What the cluster/status index holds of a stored task record
    /// ([`TASK_STATUS_INDEX_ATTRIBUTES`]).
    pub fn of(record: &StateRecord) -> Self {
        let facts = TaskFacts {
            deployment_id: None,
            outcome: None,
            stop_cause: None,
            ..record.facts.clone()
        };
        Self { facts, ..Self::whole(record) }
    }

    /// What the deployment index holds of a stored task record
    /// ([`TASK_DEPLOYMENT_INDEX_ATTRIBUTES`], and its key).
    pub fn of_deployment(record: &StateRecord) -> Self {
        let facts = TaskFacts {
            started_at: record.facts.started_at.clone(),
            stopped_at: record.facts.stopped_at.clone(),
            deployment_id: record.facts.deployment_id.clone(),
            outcome: record.facts.outcome.clone(),
            stop_cause: record.facts.stop_cause.clone(),
            ..TaskFacts::default()
        };
        Self { facts, missing_since: None, ..Self::whole(record) }
    }

    fn whole(record: &StateRecord) -> Self {
        Self {
            task_arn: record.key.clone(),
            cluster_arn: record.cluster_arn.clone(),
            last_status: record.status.clone(),
            version: record.version,
            facts: record.facts.clone(),
            missing_since: record.missing_since,
        }
    }
}

/// What the table holds of one record, for comparing it with the ECS API without reading its
/// detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    /// The task or container instance ARN.
    pub key: String,
    /// `detail.version` of the stored state.
    pub version: u64,
    /// `lastStatus` of a task, `status` of a container instance.
    pub status: String,
    /// When the event (or reconciler run) that wrote it happened, epoch seconds (`None` when
    /// read from an index, which does not hold it).
    pub written_at: Option<i64>,
    /// Since when the reconciler has found it missing from ECS.
    pub missing_since: Option<i64>,
    /// The fingerprint of what only the API tells, when the reconciler wrote it.
    pub api_facts: Option<String>,
}

impl StoredVersion {
    /// What a record holds.
    pub fn of(record: &StateRecord) -> Self {
        Self {
            key: record.key.clone(),
            version: record.version,
            status: record.status.clone(),
            written_at: Some(record.event_time.instant().timestamp()),
            missing_since: record.missing_since,
            api_facts: record.api_facts.clone(),
        }
    }
}

/// The status after which a record of `kind` is finished (a task `STOPPED`, a container
/// instance `INACTIVE`): the reconciler leaves finished records alone.
pub fn finished_status(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Task => "STOPPED",
        ResourceKind::ContainerInstance => "INACTIVE",
    }
}

/// Why a store request failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The request failed. `retryable` says whether trying again later may succeed
    /// (throttling, 5xx, timeouts) or not (validation errors, a missing table).
    #[error("{operation} on table {table} failed: {message}")]
    Request {
        /// The API operation (`PutItem`, `Query`...).
        operation: &'static str,
        /// The table.
        table: String,
        /// What the service or the client said.
        message: String,
        /// Whether a later retry may succeed.
        retryable: bool,
        /// The SDK error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An item in the table does not have the shape this toolkit writes.
    #[error("item {key} in table {table} is malformed: {message}")]
    Malformed {
        /// The table.
        table: String,
        /// The item's key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl StoreError {
    /// Whether a later retry may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Request { retryable: true, .. })
    }
}

/// The state store port: the newest record per task and per container instance.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// Writes `record` in one atomic request if no record with the same key exists (and
    /// `create` allows creating one) or the stored one has a lower version; otherwise leaves
    /// the stored one and says its version.
    async fn put_if_newer(
        &self,
        record: StateRecord,
        create: Create,
    ) -> Result<PutResult, StoreError>;

    /// The stored record of a task or container instance.
    async fn get(&self, kind: ResourceKind, key: &str) -> Result<Option<StateRecord>, StoreError>;

    /// The tasks of a cluster (whose last status is `last_status`, when given), in task ARN
    /// order.
    async fn list_tasks(
        &self,
        cluster_arn: &str,
        last_status: Option<&str>,
    ) -> Result<Vec<TaskSummary>, StoreError>;

    /// The tasks a service deployment started (`startedBy` = `deployment_id`), in task ARN
    /// order.
    async fn deployment_tasks(&self, deployment_id: &str) -> Result<Vec<TaskSummary>, StoreError>;

    /// The ARNs of the clusters the stored tasks belong to, sorted.
    async fn cluster_arns(&self) -> Result<Vec<String>, StoreError>;

    /// Marks the record missing from ECS since `since` (epoch seconds), expiring at
    /// `expires_at`, if it still has `version` and is not marked yet. Says whether it marked.
    async fn mark_missing(
        &self,
        kind: ResourceKind,
        key: &str,
        version: u64,
        since: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError>;

    /// Clears the mark (and the expiry it set) of a record that still has `version`: ECS
    /// lists the task again. Says whether it cleared one.
    async fn clear_missing(
        &self,
        kind: ResourceKind,
        key: &str,
        version: u64,
    ) -> Result<bool, StoreError>;

    /// What the table holds of the records with these keys (those it has), without their
    /// details: one small read per 100 keys.
    async fn stored_versions(
        &self,
        kind: ResourceKind,
        keys: &[String],
    ) -> Result<HashMap<String, StoredVersion>, StoreError>;

    /// The records of a cluster that are not finished ([`finished_status`]), from the
    /// cluster/status index: finished ones are not read at all.
    async fn unfinished(
        &self,
        kind: ResourceKind,
        cluster_arn: &str,
    ) -> Result<Vec<StoredVersion>, StoreError>;

    /// Writes `record` over the stored record of the same version if that one's API facts
    /// differ (the reconciler adding tags and health an event does not carry). Says whether
    /// it wrote.
    async fn put_api_facts(&self, record: StateRecord) -> Result<bool, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_no_stored_version_then_any_version_is_stored() {
        assert_eq!(Outcome::of(0, None), Outcome::Stored);
        assert_eq!(Outcome::of(u64::MAX, None), Outcome::Stored);
    }

    #[test]
    fn given_a_stored_version_then_higher_is_stored_equal_duplicate_lower_stale() {
        assert_eq!(Outcome::of(4, Some(3)), Outcome::Stored);
        assert_eq!(Outcome::of(3, Some(3)), Outcome::Duplicate);
        assert_eq!(Outcome::of(2, Some(3)), Outcome::Stale);
    }

    #[test]
    fn given_a_kept_item_then_the_put_result_tells_duplicate_from_stale() {
        assert_eq!(PutResult::Kept { stored_version: 7 }.outcome(7), Outcome::Duplicate);
        assert_eq!(PutResult::Kept { stored_version: 7 }.outcome(6), Outcome::Stale);
        assert_eq!(PutResult::Written.outcome(1), Outcome::Stored);
        assert_eq!(PutResult::NotCreated.outcome(1), Outcome::Stale);
    }
}
