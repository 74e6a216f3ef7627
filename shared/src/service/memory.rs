//! The in-memory service store: the embedded default for local replay and unit tests, with the
//! same semantics as the DynamoDB adapter.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{
    DeploymentChange, DeploymentRecord, Desired, Health, ServiceRecord, ServiceStore, Trouble,
};
use crate::state::{Create, PutResult, StoreError};

#[derive(Debug, Default)]
struct State {
    /// By service ARN, then deployment id.
    deployments: HashMap<String, BTreeMap<String, DeploymentRecord>>,
    /// By service ARN.
    services: BTreeMap<String, ServiceRecord>,
}

/// Services and deployments in maps behind a mutex: each write is checked and applied
/// atomically.
#[derive(Debug, Default)]
pub struct InMemoryServiceStore {
    state: Mutex<State>,
}

impl InMemoryServiceStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-written record: inserts are whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a conditional write of something observed at `incoming_ms` does when `stored_ms` is
/// there: `None` to write, else the result that keeps the stored one.
fn older(stored_ms: Option<i64>, incoming_ms: i64) -> Option<PutResult> {
    stored_ms
        .filter(|stored| *stored >= incoming_ms)
        .map(|stored| PutResult::Kept { stored_version: u64::try_from(stored).unwrap_or_default() })
}

impl State {
    fn service(&mut self, service_arn: &str, cluster_arn: &str) -> &mut ServiceRecord {
        self.services
            .entry(service_arn.to_owned())
            .or_insert_with(|| ServiceRecord::new(service_arn, cluster_arn))
    }
}

#[async_trait]
impl ServiceStore for InMemoryServiceStore {
    async fn put_deployment(
        &self,
        change: DeploymentChange,
        create: Create,
    ) -> Result<PutResult, StoreError> {
        let mut state = self.lock();
        let of_service = state.deployments.entry(change.service_arn.clone()).or_default();
        let stored = of_service.get(&change.deployment_id);
        if let Some(kept) = older(stored.map(|stored| stored.updated_ms), change.updated_ms) {
            return Ok(kept);
        }
        if stored.is_none() && create == Create::OnlyUpdate {
            return Ok(PutResult::NotCreated);
        }
        let record = DeploymentRecord::apply(stored, change);
        of_service.insert(record.deployment_id.clone(), record);
        Ok(PutResult::Written)
    }

    async fn deployment(
        &self,
        service_arn: &str,
        deployment_id: &str,
    ) -> Result<Option<DeploymentRecord>, StoreError> {
        let state = self.lock();
        Ok(state.deployments.get(service_arn).and_then(|of| of.get(deployment_id)).cloned())
    }

    async fn deployments(
        &self,
        cluster_arn: &str,
        service_arn: Option<&str>,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        let state = self.lock();
        let mut found: Vec<DeploymentRecord> = state
            .deployments
            .iter()
            .filter(|(service, _)| service_arn.is_none_or(|wanted| wanted == service.as_str()))
            .flat_map(|(_, of)| of.values())
            .filter(|record| {
                service_arn.is_some() || record.cluster_arn.as_deref() == Some(cluster_arn)
            })
            .cloned()
            .collect();
        found.sort_by(|a, b| {
            a.updated_ms.cmp(&b.updated_ms).then_with(|| a.deployment_id.cmp(&b.deployment_id))
        });
        Ok(found)
    }

    async fn observe_desired(
        &self,
        service_arn: &str,
        cluster_arn: &str,
        desired: Desired,
        status: Option<&str>,
    ) -> Result<PutResult, StoreError> {
        let mut state = self.lock();
        let service = state.service(service_arn, cluster_arn);
        if let Some(kept) = older(service.desired.map(|desired| desired.at_ms), desired.at_ms) {
            return Ok(kept);
        }
        service.desired = Some(desired);
        if let Some(status) = status {
            service.status = Some(status.to_owned());
        }
        Ok(PutResult::Written)
    }

    async fn observe_steady(
        &self,
        service_arn: &str,
        cluster_arn: &str,
        at_ms: i64,
    ) -> Result<PutResult, StoreError> {
        let mut state = self.lock();
        let service = state.service(service_arn, cluster_arn);
        if let Some(kept) = older(service.steady_at_ms, at_ms) {
            return Ok(kept);
        }
        service.steady_at_ms = Some(at_ms);
        Ok(PutResult::Written)
    }

    async fn services(&self) -> Result<Vec<ServiceRecord>, StoreError> {
        Ok(self.lock().services.values().cloned().collect())
    }

    async fn service(&self, service_arn: &str) -> Result<Option<ServiceRecord>, StoreError> {
        Ok(self.lock().services.get(service_arn).cloned())
    }

    async fn put_health(
        &self,
        service_arn: &str,
        cluster_arn: &str,
        health: &Health,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let service = state.service(service_arn, cluster_arn);
        if service.health.version + 1 != health.version {
            return Ok(false);
        }
        service.health = health.clone();
        Ok(true)
    }

    async fn add_trouble(
        &self,
        service_arn: &str,
        cluster_arn: &str,
        trouble: &Trouble,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        let service = state.service(service_arn, cluster_arn);
        service.troubles.retain(|held| held.incident != trouble.incident);
        service.troubles.push(trouble.clone());
        service.troubles.sort_by(|a, b| a.incident.cmp(&b.incident));
        Ok(())
    }

    async fn remove_trouble(
        &self,
        service_arn: &str,
        incident: &str,
        opened: i64,
    ) -> Result<(), StoreError> {
        if let Some(service) = self.lock().services.get_mut(service_arn) {
            service.troubles.retain(|held| held.incident != incident || held.opened != opened);
        }
        Ok(())
    }
}
