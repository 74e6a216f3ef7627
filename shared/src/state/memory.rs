//! The in-memory state store: the embedded default for local replay and unit tests, with the
//! same semantics as the DynamoDB adapter.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{Create, PutResult, ResourceKind, StateRecord, StateStore, StoreError, TaskSummary};

/// Records in a map behind a mutex: each write is checked and applied atomically.
#[derive(Debug, Default)]
pub struct InMemoryStateStore {
    records: Mutex<BTreeMap<(ResourceKind, String), StateRecord>>,
}

impl InMemoryStateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<(ResourceKind, String), StateRecord>> {
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
        let key = (record.kind, record.key.clone());
        // The same condition as the DynamoDB write: no item (when creating is allowed), or an
        // older one.
        match records.get(&key) {
            Some(stored) if stored.version >= record.version => {
                Ok(PutResult::Kept { stored_version: stored.version })
            }
            None if create == Create::OnlyUpdate => Ok(PutResult::NotCreated),
            _ => {
                records.insert(key, record);
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
        last_status: &str,
    ) -> Result<Vec<TaskSummary>, StoreError> {
        Ok(self
            .lock()
            .values()
            .filter(|record| {
                record.kind == ResourceKind::Task
                    && record.cluster_arn == cluster_arn
                    && record.status == last_status
            })
            .map(TaskSummary::of)
            .collect())
    }
}
