//! The in-memory state store: the embedded default for local replay and unit tests, with the
//! same semantics as the DynamoDB adapter.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{
    Create, PutResult, ResourceKind, StateRecord, StateStore, StoreError, StoredVersion,
    TaskSummary, finished_status,
};

/// Records in a map behind a mutex: each write is checked and applied atomically.
#[derive(Debug, Default)]
pub struct InMemoryStateStore {
    records: Mutex<HashMap<(ResourceKind, String), StateRecord>>,
}

impl InMemoryStateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(ResourceKind, String), StateRecord>> {
        // A panic while holding the lock cannot leave a half-written record: inserts are whole.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl StateStore for InMemoryStateStore {
    async fn put_if_newer(
        &self,
        record: StateRecord,
        create: Create,
    ) -> Result<PutResult, StoreError> {
        let mut records = self.lock();
        // The same condition as the DynamoDB write: no item (when creating is allowed), or an
        // older one.
        match records.entry((record.kind, record.key.clone())) {
            Entry::Occupied(stored) if stored.get().version >= record.version => {
                Ok(PutResult::Kept { stored_version: stored.get().version })
            }
            Entry::Occupied(mut stored) => {
                stored.insert(record);
                Ok(PutResult::Written)
            }
            Entry::Vacant(_) if create == Create::OnlyUpdate => Ok(PutResult::NotCreated),
            Entry::Vacant(vacant) => {
                vacant.insert(record);
                Ok(PutResult::Written)
            }
        }
    }

    async fn get(&self, kind: ResourceKind, key: &str) -> Result<Option<StateRecord>, StoreError> {
        Ok(self.lock().get(&(kind, key.to_owned())).cloned())
    }

    async fn list_tasks(
        &self,
        cluster_arn: &str,
        last_status: Option<&str>,
    ) -> Result<Vec<TaskSummary>, StoreError> {
        let mut tasks: Vec<TaskSummary> = self
            .lock()
            .values()
            .filter(|record| {
                record.kind == ResourceKind::Task
                    && record.cluster_arn == cluster_arn
                    && last_status.is_none_or(|status| record.status == status)
            })
            .map(TaskSummary::of)
            .collect();
        tasks.sort_by(|a, b| a.task_arn.cmp(&b.task_arn));
        Ok(tasks)
    }

    async fn deployment_tasks(&self, deployment_id: &str) -> Result<Vec<TaskSummary>, StoreError> {
        let mut tasks: Vec<TaskSummary> = self
            .lock()
            .values()
            .filter(|record| {
                record.kind == ResourceKind::Task
                    && record.facts.deployment_id.as_deref() == Some(deployment_id)
            })
            .map(TaskSummary::of_deployment)
            .collect();
        tasks.sort_by(|a, b| a.task_arn.cmp(&b.task_arn));
        Ok(tasks)
    }

    async fn cluster_arns(&self) -> Result<Vec<String>, StoreError> {
        let clusters: std::collections::BTreeSet<String> = self
            .lock()
            .values()
            .filter(|record| record.kind == ResourceKind::Task)
            .map(|record| record.cluster_arn.clone())
            .collect();
        Ok(clusters.into_iter().collect())
    }

    async fn mark_missing(
        &self,
        kind: ResourceKind,
        key: &str,
        version: u64,
        since: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let mut records = self.lock();
        match records.get_mut(&(kind, key.to_owned())) {
            Some(record) if record.version == version && record.missing_since.is_none() => {
                record.missing_since = Some(since);
                record.expires_at = Some(expires_at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn clear_missing(
        &self,
        kind: ResourceKind,
        key: &str,
        version: u64,
    ) -> Result<bool, StoreError> {
        let mut records = self.lock();
        match records.get_mut(&(kind, key.to_owned())) {
            Some(record) if record.version == version && record.missing_since.is_some() => {
                record.missing_since = None;
                record.expires_at = None;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn stored_versions(
        &self,
        kind: ResourceKind,
        keys: &[String],
    ) -> Result<HashMap<String, StoredVersion>, StoreError> {
        let records = self.lock();
        Ok(keys
            .iter()
            .filter_map(|key| records.get(&(kind, key.clone())))
            .map(|record| (record.key.clone(), StoredVersion::of(record)))
            .collect())
    }

    async fn unfinished(
        &self,
        kind: ResourceKind,
        cluster_arn: &str,
    ) -> Result<Vec<StoredVersion>, StoreError> {
        let mut unfinished: Vec<StoredVersion> = self
            .lock()
            .values()
            .filter(|record| {
                record.kind == kind
                    && record.cluster_arn == cluster_arn
                    && record.status != finished_status(kind)
            })
            // As read from the index: no event time, no API facts.
            .map(|record| StoredVersion {
                written_at: None,
                api_facts: None,
                ..StoredVersion::of(record)
            })
            .collect();
        unfinished.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(unfinished)
    }

    async fn put_api_facts(&self, record: StateRecord) -> Result<bool, StoreError> {
        let mut records = self.lock();
        match records.get_mut(&(record.kind, record.key.clone())) {
            Some(stored)
                if stored.version == record.version && stored.api_facts != record.api_facts =>
            {
                *stored = record;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
