//! The in-memory state store: the embedded default for local replay and unit tests, with the
//! same semantics as the DynamoDB adapter.
//!
//! A finished resource (a stopped task, a deregistered container instance) changes no more in
//! the usual run of events, and in a long replay it is most of what is kept: once it is not
//! among the [`HOT_FINISHED`] most recently finished (which may still get a later copy of
//! their last state), its detail is kept packed ([`Detail::pack`]: a 1.8 KB task detail in
//! about 200 bytes) and unpacked when read.

use std::collections::{HashMap, VecDeque};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{
    Create, Detail, PutResult, ResourceKind, StateRecord, StateStore, StoreError, StoredVersion,
    TaskSummary, finished_status,
};

/// How many finished records stay unpacked (the latest ones), so that a record finished twice
/// in a row (two stopped versions of one task) is packed once.
pub const HOT_FINISHED: usize = 256;

/// Records in a map behind a mutex: each write is checked and applied atomically.
#[derive(Debug, Default)]
pub struct InMemoryStateStore {
    records: Mutex<Records>,
}

/// The records, and the keys of the latest finished ones, oldest first.
#[derive(Debug, Default)]
struct Records {
    map: HashMap<(ResourceKind, String), Kept>,
    finished: VecDeque<(ResourceKind, String)>,
}

impl Records {
    /// Keeps `record`; when it is finished, the oldest finished record beyond
    /// [`HOT_FINISHED`] is packed.
    fn insert(&mut self, record: StateRecord) {
        let key = (record.kind, record.key.clone());
        if record.status == finished_status(record.kind) {
            self.finished.push_back(key.clone());
            if self.finished.len() > HOT_FINISHED
                && let Some(oldest) = self.finished.pop_front()
                && let Some(kept) = self.map.get_mut(&oldest)
            {
                kept.pack();
            }
        }
        self.map.insert(key, Kept { record, packed: None });
    }
}

/// A record as kept: a finished resource's detail maybe packed.
#[derive(Debug)]
struct Kept {
    /// The record; its detail stands empty while `packed` holds it.
    record: StateRecord,
    /// The detail packed ([`Detail::pack`]).
    packed: Option<Box<[u8]>>,
}

impl Kept {
    /// Packs the detail of a finished record (once; a record that cannot be packed stays as
    /// it is).
    fn pack(&mut self) {
        static EMPTY: LazyLock<Detail> =
            LazyLock::new(|| Detail::from_value(&serde_json::Value::Null));
        if self.packed.is_some() || self.record.status != finished_status(self.record.kind) {
            return;
        }
        if let Ok(packed) = self.record.detail.pack() {
            self.record.detail = EMPTY.clone();
            self.packed = Some(packed.into_boxed_slice());
        }
    }

    /// The record, its detail unpacked.
    fn unpacked(&self) -> Result<StateRecord, StoreError> {
        let mut record = self.record.clone();
        if let Some(packed) = &self.packed {
            record.detail = Detail::unpack(packed).map_err(|message| StoreError::Malformed {
                table: "in memory".to_owned(),
                key: record.key.clone(),
                message,
            })?;
        }
        Ok(record)
    }
}

impl InMemoryStateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Records> {
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
        match records.map.get(&(record.kind, record.key.clone())) {
            Some(stored) if stored.record.version >= record.version => {
                return Ok(PutResult::Kept { stored_version: stored.record.version });
            }
            None if create == Create::OnlyUpdate => return Ok(PutResult::NotCreated),
            _ => {}
        }
        records.insert(record);
        Ok(PutResult::Written)
    }

    async fn get(&self, kind: ResourceKind, key: &str) -> Result<Option<StateRecord>, StoreError> {
        self.lock().map.get(&(kind, key.to_owned())).map(Kept::unpacked).transpose()
    }

    async fn list_tasks(
        &self,
        cluster_arn: &str,
        last_status: Option<&str>,
    ) -> Result<Vec<TaskSummary>, StoreError> {
        let mut tasks: Vec<TaskSummary> = self
            .lock()
            .map
            .values()
            .map(|kept| &kept.record)
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
            .map
            .values()
            .map(|kept| &kept.record)
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
            .map
            .values()
            .map(|kept| &kept.record)
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
        match records.map.get_mut(&(kind, key.to_owned())) {
            Some(Kept { record, .. })
                if record.version == version && record.missing_since.is_none() =>
            {
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
        match records.map.get_mut(&(kind, key.to_owned())) {
            Some(Kept { record, .. })
                if record.version == version && record.missing_since.is_some() =>
            {
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
            .filter_map(|key| records.map.get(&(kind, key.clone())))
            .map(|kept| (kept.record.key.clone(), StoredVersion::of(&kept.record)))
            .collect())
    }

    async fn unfinished(
        &self,
        kind: ResourceKind,
        cluster_arn: &str,
    ) -> Result<Vec<StoredVersion>, StoreError> {
        let mut unfinished: Vec<StoredVersion> = self
            .lock()
            .map
            .values()
            .map(|kept| &kept.record)
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
        match records.map.get(&(record.kind, record.key.clone())) {
            Some(stored)
                if stored.record.version == record.version
                    && stored.record.api_facts != record.api_facts =>
            {
                records.insert(record);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ReceivedEvent;
    use crate::state::Retention;

    fn record(sample: &str) -> StateRecord {
        let received = ReceivedEvent::from_slice(sample.as_bytes()).expect("valid");
        StateRecord::from_event(received, Retention::default()).expect("fits").expect("kept")
    }

    #[tokio::test]
    async fn given_stopped_tasks_then_all_but_the_latest_are_kept_packed_and_read_back_whole() {
        let stopped = record(include_str!("../../../events/samples/task-oom-killed.json"));
        let running = record(include_str!("../../../events/samples/task-ec2-running.json"));
        let later: Vec<StateRecord> = (0..HOT_FINISHED)
            .map(|n| StateRecord { key: format!("{}-{n}", stopped.key), ..stopped.clone() })
            .collect();
        let store = InMemoryStateStore::new();
        for record in [&stopped, &running].into_iter().chain(&later) {
            store.put_if_newer(record.clone(), Create::Allowed).await.expect("in memory");
        }
        {
            let records = store.lock();
            let kept = |record: &StateRecord| &records.map[&(record.kind, record.key.clone())];
            let packed = kept(&stopped).packed.as_ref().expect("the oldest stopped task is packed");
            assert!(packed.len() * 3 < stopped.detail.as_str().len(), "{} bytes", packed.len());
            assert_eq!(kept(&stopped).record.detail.as_str(), "null", "the text is not kept");
            assert!(kept(&running).packed.is_none(), "a running task changes: kept as text");
            let unpacked = later.iter().filter(|record| kept(record).packed.is_none()).count();
            assert_eq!(unpacked, HOT_FINISHED, "the latest finished stay as text");
        }
        for record in [stopped, running].into_iter().chain(later) {
            let read = store.get(record.kind, &record.key).await.expect("read").expect("kept");
            assert_eq!(read, record);
        }
    }
}
