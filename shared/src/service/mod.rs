//! Services and their deployments: what operators ask of first ("did my deploy fail, and
//! why?", "is checkout down?", "is it back?").
//!
//! * **Deployments** ([`DeploymentRecord`]): the newest state of each deployment, ordered by
//!   its `updatedAt` — an equal one is a duplicate, an older one stale — with one conditional
//!   write per event, like tasks. It keeps when it started and ended and the deployment a
//!   rollback went back to, which only the `reason` text tells. The tasks a deployment started
//!   carry its id in `startedBy`: the state table finds them by it
//!   ([`crate::state::StateStore::deployment_tasks`]), so counting them costs no write.
//! * **Services** ([`ServiceRecord`]): the desired count (from `SERVICE_DESIRED_COUNT_UPDATED`
//!   events and the reconciler's `DescribeServices`, the newer observation wins), the status
//!   the API gives (a deleted service is `INACTIVE`), the last `SERVICE_STEADY_STATE`, what the
//!   health check saw ([`Health`]) and the incidents still open on the service
//!   ([`Trouble`]), which end with one "resolved" message when it is healthy again.
//!
//! [`health`] decides, on every schedule tick, whether a service is down (silent) or
//! recovered and which troubles are resolved; the alerter tells of it. The [`ServiceStore`]
//! port has an in-memory and a DynamoDB adapter.

mod deployment;
mod dynamodb;
pub mod health;
mod memory;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use deployment::{
    CauseCount, DeploymentChange, DeploymentRecord, DeploymentTasks, DeploymentView, views,
};
pub use dynamodb::{DEPLOYMENT_CLUSTER_INDEX, DynamoDbServiceStore};
pub use memory::InMemoryServiceStore;

use crate::state::{Create, PutResult, Source, StoreError};

/// A desired count, and where and when it was learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Desired {
    /// The desired count.
    pub count: i64,
    /// When it was observed (epoch milliseconds: updates can be a second apart): the event's
    /// `createdAt` (else its time), or the reconciler's run.
    pub at_ms: i64,
    /// An event, or the reconciler.
    pub source: Source,
}

/// What the health check saw of a service: owned by the schedule's tick, written (on condition
/// that `version` is still the one read) only when it changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// Bumped by every write: the compare-and-set of two ticks that overlap.
    pub version: u64,
    /// The last tick (epoch seconds, kept to within [`health::RUNNING_REFRESH`]) that saw a
    /// task of the service running; `None`: never seen running, so never watched for silence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_at: Option<i64>,
    /// Some of the tasks running then: when the service runs none, how they stopped says
    /// whether it was scaled in on purpose.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sample: Vec<String>,
    /// Since when (epoch seconds) the service has run no task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silent_since: Option<i64>,
    /// Whether the tasks it last ran were all scaled in by the scheduler (its desired count
    /// went down, not its tasks).
    #[serde(default)]
    pub scaled_in: bool,
    /// Since when the service is told down (the silence incident's start), until it recovers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down_since: Option<i64>,
}

/// What an open incident on a service is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TroubleKind {
    /// Its tasks keep stopping.
    CrashLoop,
    /// A deployment of it failed.
    DeploymentFailed,
}

impl TroubleKind {
    /// `crash loop` or `failed deployment`, for messages.
    pub fn words(self) -> &'static str {
        match self {
            Self::CrashLoop => "crash loop",
            Self::DeploymentFailed => "failed deployment",
        }
    }
}

/// An incident still open on a service, to end with one "resolved" message in its thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trouble {
    /// The incident key.
    pub incident: String,
    /// The incident's chat thread.
    pub thread: String,
    /// The rule that told of it.
    pub rule: String,
    /// What it is.
    pub kind: TroubleKind,
    /// When it opened (epoch seconds).
    pub opened: i64,
    /// Its last activity (epoch seconds): the end of its last window with matches, or the
    /// failure. Health signals count from there.
    pub since: i64,
    /// The incident's window (seconds): running at the desired count that long is healthy.
    pub window: i64,
}

/// A service: its desired count, API status, last steady state, health and open incidents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRecord {
    /// The service ARN.
    pub service_arn: String,
    /// Its cluster's ARN.
    pub cluster_arn: String,
    /// The newest desired count known.
    pub desired: Option<Desired>,
    /// `ACTIVE`, `DRAINING` or `INACTIVE` (deleted), as the API last said.
    pub status: Option<String>,
    /// The last `SERVICE_STEADY_STATE` (epoch milliseconds).
    pub steady_at_ms: Option<i64>,
    /// What the health check saw.
    pub health: Health,
    /// The incidents open on it, by incident key.
    pub troubles: Vec<Trouble>,
}

impl ServiceRecord {
    /// A service nothing is known of yet.
    pub fn new(service_arn: &str, cluster_arn: &str) -> Self {
        Self {
            service_arn: service_arn.to_owned(),
            cluster_arn: cluster_arn.to_owned(),
            desired: None,
            status: None,
            steady_at_ms: None,
            health: Health::default(),
            troubles: Vec::new(),
        }
    }

    /// The service's name: the last segment of its ARN.
    pub fn name(&self) -> &str {
        self.service_arn.rsplit('/').next().unwrap_or(&self.service_arn)
    }

    /// Its cluster's name.
    pub fn cluster_name(&self) -> &str {
        self.cluster_arn.rsplit('/').next().unwrap_or(&self.cluster_arn)
    }
}

/// What the API says of a service (the reconciler's `DescribeServices`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceObservation {
    /// The service ARN.
    pub service_arn: String,
    /// Its cluster's ARN.
    pub cluster_arn: String,
    /// The desired count.
    pub desired: i64,
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    pub status: String,
    /// When it was read (epoch milliseconds).
    pub at_ms: i64,
}

/// The cluster ARN of a service ARN (`…:service/<cluster>/<name>` → `…:cluster/<cluster>`);
/// `None` for the old format without the cluster.
pub fn cluster_arn_of(service_arn: &str) -> Option<String> {
    let (prefix, path) = service_arn.split_once(":service/")?;
    let (cluster, _) = path.split_once('/')?;
    Some(format!("{prefix}:cluster/{cluster}"))
}

/// The ARN of service `name` in the cluster, account, region and partition of `task_arn`
/// (`…:task/<cluster>/<id>`).
pub fn service_arn_for_task(task_arn: &str, cluster: &str, name: &str) -> Option<String> {
    let (prefix, _) = task_arn.split_once(":task/")?;
    Some(format!("{prefix}:service/{cluster}/{name}"))
}

/// The services and deployments port.
#[async_trait]
pub trait ServiceStore: Send + Sync {
    /// Writes a deployment event's state in one atomic request if no record of the deployment
    /// exists (and `create` allows creating one) or the stored one is older (`updatedAt`);
    /// otherwise leaves it and says how old it is. A newer state keeps what an older one
    /// learnt (its start, the deployment it rolled back to).
    async fn put_deployment(
        &self,
        change: DeploymentChange,
        create: Create,
    ) -> Result<PutResult, StoreError>;

    /// One deployment's record.
    async fn deployment(
        &self,
        service_arn: &str,
        deployment_id: &str,
    ) -> Result<Option<DeploymentRecord>, StoreError>;

    /// The deployments of a cluster (of one service, when given), oldest update first.
    async fn deployments(
        &self,
        cluster_arn: &str,
        service_arn: Option<&str>,
    ) -> Result<Vec<DeploymentRecord>, StoreError>;

    /// Records a desired count observed at `desired.at_ms` (and the API's status, from the
    /// reconciler) if it is newer than the one stored (`Kept` reports the stored time as its
    /// version: the same time is a duplicate, a later one makes this stale).
    async fn observe_desired(
        &self,
        service_arn: &str,
        cluster_arn: &str,
        desired: Desired,
        status: Option<&str>,
    ) -> Result<PutResult, StoreError>;

    /// Records a `SERVICE_STEADY_STATE` at `at_ms` if it is newer than the last one stored.
    async fn observe_steady(
        &self,
        service_arn: &str,
        cluster_arn: &str,
        at_ms: i64,
    ) -> Result<PutResult, StoreError>;

    /// Every service record.
    async fn services(&self) -> Result<Vec<ServiceRecord>, StoreError>;

    /// One service's record.
    async fn service(&self, service_arn: &str) -> Result<Option<ServiceRecord>, StoreError>;

    /// Writes what the health check saw if the stored health is still at `health.version - 1`
    /// (another tick did not write first): says whether it wrote.
    async fn put_health(
        &self,
        service_arn: &str,
        cluster_arn: &str,
        health: &Health,
    ) -> Result<bool, StoreError>;

    /// Records an incident open on a service (replacing the one of the same key).
    async fn add_trouble(
        &self,
        service_arn: &str,
        cluster_arn: &str,
        trouble: &Trouble,
    ) -> Result<(), StoreError>;

    /// Forgets an incident of the service once it is resolved (if it is still the one that
    /// opened at `opened`).
    async fn remove_trouble(
        &self,
        service_arn: &str,
        incident: &str,
        opened: i64,
    ) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_service_and_task_arns_then_the_cluster_and_service_arns_are_derived() {
        assert_eq!(
            cluster_arn_of("arn:aws:ecs:us-east-1:111122223333:service/prod-fargate/checkout")
                .as_deref(),
            Some("arn:aws:ecs:us-east-1:111122223333:cluster/prod-fargate")
        );
        assert_eq!(cluster_arn_of("arn:aws:ecs:us-east-1:111122223333:service/checkout"), None);
        assert_eq!(
            service_arn_for_task(
                "arn:aws-cn:ecs:cn-north-1:111122223333:task/prod/0123",
                "prod",
                "web"
            )
            .as_deref(),
            Some("arn:aws-cn:ecs:cn-north-1:111122223333:service/prod/web")
        );
    }
}
