//! What the [`Alerter`] does with services ([`Alerter::with_services`]): a deployment alert
//! tells what the deployment's tasks did; a crash loop or failed deployment is recorded on its
//! service as an incident to end ([`Trouble`]); and every flush checks each service's health
//! ([`health::assess`]) — down, recovered, incidents resolved — telling each once, with the
//! alerts' ledger discipline (claim → publish → mark), within the invocation's deadline.
//!
//! Reading services is best effort where it only adds to a message (a deployment's tasks, the
//! states a digest names): a store that fails or is slow leaves them out, never the message.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::alerter::{Alerter, Delivery, RELEASE_RESERVE, RuleResult, bounded};
use super::service_render::{
    DeploymentContext, SERVICE_DOWN_RULE, render_down, render_recovered, render_resolved,
};
use super::{Alert, AlertError, AlertRule};
use crate::account::same_place;
use crate::deadline::Deadline;
use crate::event::{EcsDetail, EcsEvent};
use crate::incident::{KeyParts, MemberKind, Window};
use crate::service::health::{self, Action, LastStops, Observed};
use crate::service::{
    DeploymentTasks, ServiceRecord, Trouble, TroubleKind, cluster_arn_of, service_arn_for_task,
    views,
};
use crate::state::{ResourceKind, StoreError};

/// The least time left for the check to look at one more service.
const SERVICE_TIME: Duration = Duration::from_secs(2);

/// A store step cut off by the deadline.
fn store_cut_off(operation: &'static str) -> impl FnOnce(String) -> StoreError {
    move |message| StoreError::Request {
        operation,
        table: String::new(),
        message,
        retryable: true,
        source: "deadline".into(),
    }
}

/// The service ARN and cluster ARN of a crash-loop window: from its key's cluster and service
/// ([`KeyParts`]) and a member's task ARN (account, Region, partition).
fn window_service(window: &Window) -> Option<(String, String)> {
    let parts = KeyParts::parse(&window.window.key);
    let name = parts.group.strip_prefix("service:")?;
    let task = window.members.iter().find(|member| member.kind == MemberKind::Task)?;
    let service = service_arn_for_task(&task.id, parts.cluster, name)?;
    let cluster_arn = cluster_arn_of(&service)?;
    Some((service, cluster_arn))
}

impl Alerter {
    /// A deployment event's record and tasks, for its message (best effort).
    pub(super) async fn deployment_context(
        &self,
        event: &EcsEvent,
        deadline: Deadline,
    ) -> Option<DeploymentContext> {
        let watch = self.services.as_ref()?;
        let EcsDetail::Deployment(deployment) = &event.detail else { return None };
        let service = event.resources().first()?;
        let id = &deployment.deployment_id;
        let cluster = cluster_arn_of(service).unwrap_or_default();
        let read = async {
            let deployments = watch.services.deployments(&cluster, Some(service)).await?;
            let record = deployments.iter().find(|record| record.deployment_id == *id).cloned();
            // What a rollback goes back to: the last deployment that completed before this one.
            let started = record.as_ref().and_then(|record| record.started_ms);
            let last_completed = deployments
                .iter()
                .filter(|other| other.deployment_id != *id && other.status == "COMPLETED")
                .filter(|other| started.is_none_or(|start| other.updated_ms <= start))
                .max_by_key(|other| other.updated_ms)
                .map(|other| other.deployment_id.clone());
            let mut tasks = watch.state.deployment_tasks(id).await?;
            tasks.retain(|task| same_place(&task.task_arn, service));
            Ok::<_, StoreError>(DeploymentContext {
                record,
                tasks: DeploymentTasks::of(&tasks),
                last_completed,
            })
        };
        match bounded(deadline, RELEASE_RESERVE, read, store_cut_off("read deployment")).await {
            Ok(context) => Some(context),
            Err(error) => {
                tracing::warn!(deployment = %id, error = %error, "deployment not read: told without its tasks");
                None
            }
        }
    }

    /// What is known of the deployments that started a window's tasks (best effort): id →
    /// `FAILED, rolled back to ecs-svc/…`.
    pub(super) async fn deployment_states(
        &self,
        window: &Window,
        deadline: Deadline,
    ) -> BTreeMap<String, String> {
        let mut states = BTreeMap::new();
        let Some(watch) = &self.services else { return states };
        let Some((service, cluster)) = window_service(window) else { return states };
        let ids: BTreeSet<&str> =
            window.members.iter().filter_map(|member| member.deployment.as_deref()).collect();
        if ids.is_empty() {
            return states;
        }
        let read = watch.services.deployments(&cluster, Some(&service));
        let Ok(records) =
            bounded(deadline, RELEASE_RESERVE, read, store_cut_off("read deployments")).await
        else {
            return states;
        };
        // With each rollback linked to the deployment it rolled back.
        for view in views(records, |_| DeploymentTasks::default()) {
            if !ids.contains(view.deployment_id.as_str()) {
                continue;
            }
            let state = match (&view.rolled_back_to, &view.restores) {
                (Some(target), _) => format!("{}, rolled back to {target}", view.status),
                (None, Some(target)) => format!("{}, a rollback to {target}", view.status),
                (None, None) => view.status.clone(),
            };
            states.insert(view.deployment_id, state);
        }
        states
    }

    /// Records a told crash loop on its service, to end with one "resolved" message.
    pub(super) async fn crash_loop_trouble(
        &self,
        rule: &AlertRule,
        window: &Window,
        deadline: Deadline,
    ) {
        let Some((service, cluster)) = window_service(window) else { return };
        // Its last activity: the window's latest stop.
        let last = window.members.iter().map(|member| member.at).max().unwrap_or(window.end);
        let trouble = Trouble {
            incident: window.window.key.clone(),
            thread: window.window.thread(),
            rule: rule.name.clone(),
            kind: TroubleKind::CrashLoop,
            opened: window.window.opened,
            since: last,
            window: rule.group.unwrap_or_default().window_secs(),
        };
        self.add_trouble(&service, &cluster, &trouble, deadline).await;
    }

    /// Records a told failed deployment on its service (`told`: the incident key, thread and
    /// opening time of its message), to end with one "resolved" message.
    pub(super) async fn deployment_trouble(
        &self,
        rule: &AlertRule,
        event: &EcsEvent,
        told: (String, String, i64),
        deadline: Deadline,
    ) {
        let EcsDetail::Deployment(deployment) = &event.detail else { return };
        if deployment.status() != "FAILED" {
            return;
        }
        let Some(service) = event.resources().first() else { return };
        let Some(cluster) = cluster_arn_of(service) else { return };
        let (incident, thread, opened) = told;
        let failed_at = deployment.updated_at.as_ref().unwrap_or(&event.time).instant().timestamp();
        let trouble = Trouble {
            incident,
            thread,
            rule: rule.name.clone(),
            kind: TroubleKind::DeploymentFailed,
            opened,
            since: failed_at,
            window: rule.group.unwrap_or_default().window_secs(),
        };
        self.add_trouble(service, &cluster, &trouble, deadline).await;
    }

    async fn add_trouble(
        &self,
        service: &str,
        cluster: &str,
        trouble: &Trouble,
        deadline: Deadline,
    ) {
        let Some(watch) = &self.services else { return };
        let add = watch.services.add_trouble(service, cluster, trouble);
        // After the commit point: a failure leaves the incident without its "resolved".
        if let Err(error) =
            bounded(deadline, Duration::ZERO, add, store_cut_off("add trouble")).await
        {
            tracing::warn!(service = %service, incident = %trouble.incident, error = %error, "incident not recorded on its service: it will not be told resolved");
        }
    }

    /// Whether a later flush may still tell something: a window not told yet, a service
    /// silent but not told down, or an incident to end (a replay plays the schedule on after
    /// its last event while this holds). A store that fails counts as nothing pending.
    pub async fn pending(&self) -> bool {
        if let Some(incidents) = &self.incidents
            && incidents.due(None, 1).await.is_ok_and(|due| !due.is_empty())
        {
            return true;
        }
        let Some(watch) = &self.services else { return false };
        watch.services.services().await.unwrap_or_default().iter().any(|service| {
            !service.troubles.is_empty()
                || (service.health.silent_since.is_some() && service.health.down_since.is_none())
        })
    }

    /// Checks every watched service's health at `now` (see [`health`]) and tells what it
    /// decided: one result per message, a failure of the stores as one failed result.
    pub async fn check_services(&self, now: DateTime<Utc>, deadline: Deadline) -> Vec<RuleResult> {
        let Some(watch) = &self.services else { return Vec::new() };
        let fail =
            |error: StoreError| vec![(SERVICE_DOWN_RULE.to_owned(), Err(AlertError::Store(error)))];
        let read = watch.services.services();
        let records = match bounded(deadline, RELEASE_RESERVE, read, store_cut_off("Scan")).await {
            Ok(records) => records,
            Err(error) => return fail(error),
        };
        let records: Vec<ServiceRecord> = records.into_iter().filter(health::watched).collect();
        // Running (and not missing) tasks of each watched cluster, by service name.
        let clusters: BTreeSet<&str> = records.iter().map(|r| r.cluster_arn.as_str()).collect();
        let mut running: HashMap<(String, String), Vec<String>> = HashMap::new();
        for cluster in clusters {
            let list = watch.state.list_tasks(cluster, Some("RUNNING"));
            let tasks = match bounded(deadline, RELEASE_RESERVE, list, store_cut_off("Query")).await
            {
                Ok(tasks) => tasks,
                Err(error) => return fail(error),
            };
            for task in tasks.into_iter().filter(|task| task.missing_since.is_none()) {
                if let Some(name) =
                    task.facts.group.as_deref().and_then(|g| g.strip_prefix("service:"))
                {
                    running
                        .entry((cluster.to_owned(), name.to_owned()))
                        .or_default()
                        .push(task.task_arn);
                }
            }
        }
        let mut results = Vec::new();
        for record in records {
            if deadline.remaining_less(RELEASE_RESERVE) < SERVICE_TIME {
                tracing::info!("no time left to check more services: at the next flush");
                break;
            }
            let key = (record.cluster_arn.clone(), record.name().to_owned());
            let mut tasks = running.remove(&key).unwrap_or_default();
            tasks.sort();
            match self.check_service(&record, tasks, now, deadline).await {
                Ok(told) => results.extend(told),
                Err(error) => {
                    results.push((SERVICE_DOWN_RULE.to_owned(), Err(AlertError::Store(error))))
                }
            }
        }
        results
    }

    /// One service: what it needs read, the decision, the messages, then its health written
    /// (only when every message of it went out: a failed one is decided again next time).
    async fn check_service(
        &self,
        record: &ServiceRecord,
        running: Vec<String>,
        now: DateTime<Utc>,
        deadline: Deadline,
    ) -> Result<Vec<RuleResult>, StoreError> {
        let Some(watch) = &self.services else { return Ok(Vec::new()) };
        let mut observed = Observed { running, ..Observed::default() };
        if health::needs_last_stops(record, &observed.running) {
            observed.last_stops = Some(self.last_stops(record, deadline).await?);
        }
        if !record.troubles.is_empty() {
            let list = watch.services.deployments(&record.cluster_arn, Some(&record.service_arn));
            let deployments =
                bounded(deadline, RELEASE_RESERVE, list, store_cut_off("Query")).await?;
            observed.completed = deployments
                .into_iter()
                .filter(|deployment| deployment.status == "COMPLETED")
                .map(|deployment| {
                    let at = deployment.ended_ms.unwrap_or(deployment.updated_ms).div_euclid(1_000);
                    (deployment.deployment_id, at)
                })
                .max_by_key(|(_, at)| *at);
        }
        let assessment = health::assess(record, &observed, now.timestamp(), watch.settings);
        let mut results = Vec::new();
        let mut all_told = true;
        for action in assessment.actions {
            let (rule, alert, resolved) = match action {
                Action::Down { since, desired } => {
                    let after = watch.settings.silence_after.unwrap_or_default();
                    (
                        SERVICE_DOWN_RULE.to_owned(),
                        render_down(record, since, desired, after, &self.names, now),
                        None,
                    )
                }
                Action::Recovered { since, running } => (
                    SERVICE_DOWN_RULE.to_owned(),
                    render_recovered(record, since, running, &self.names, now),
                    None,
                ),
                Action::Resolve(trouble, resolution) => {
                    let description = self
                        .rules
                        .rules()
                        .iter()
                        .find(|rule| rule.name == trouble.rule)
                        .map_or("", |rule| rule.description.as_str());
                    let alert = render_resolved(
                        record,
                        &trouble,
                        &resolution,
                        description,
                        &self.names,
                        now,
                    );
                    (trouble.rule.clone(), alert, Some(trouble))
                }
            };
            let result = self.tell(alert, deadline).await;
            match (&result, resolved) {
                (Ok(_), Some(trouble)) => {
                    let remove = watch.services.remove_trouble(
                        &record.service_arn,
                        &trouble.incident,
                        trouble.opened,
                    );
                    bounded(deadline, Duration::ZERO, remove, store_cut_off("remove trouble"))
                        .await?;
                }
                (Err(_), _) => all_told = false,
                _ => {}
            }
            results.push((rule, result));
        }
        if let Some(health) = assessment.health.filter(|_| all_told) {
            let put = watch.services.put_health(&record.service_arn, &record.cluster_arn, &health);
            if !bounded(deadline, Duration::ZERO, put, store_cut_off("put health")).await? {
                tracing::info!(service = %record.service_arn, "health written by another check first");
            }
        }
        Ok(results)
    }

    /// How the tasks a service last ran stopped: all scaled in by the scheduler, and the
    /// latest stop. A task the table no longer holds, or holds unstopped, counts as not scaled
    /// in.
    async fn last_stops(
        &self,
        record: &ServiceRecord,
        deadline: Deadline,
    ) -> Result<LastStops, StoreError> {
        let Some(watch) = &self.services else {
            return Ok(LastStops { scaled_in: false, last_stop: None });
        };
        let mut scaled_in = true;
        let mut last_stop = None;
        for arn in &record.health.sample {
            let get = watch.state.get(ResourceKind::Task, arn);
            let task = bounded(deadline, RELEASE_RESERVE, get, store_cut_off("GetItem")).await?;
            let event = task.and_then(|task| {
                serde_json::from_value::<crate::event::TaskStateChange>(task.detail.to_value()).ok()
            });
            match event.filter(|task| task.stopped_at.is_some()) {
                Some(task) => {
                    scaled_in &= task.scaled_in();
                    let stopped = task.stopped_at.map(|at| at.instant().timestamp());
                    last_stop = last_stop.max(stopped);
                }
                None => scaled_in = false,
            }
        }
        Ok(LastStops { scaled_in, last_stop })
    }

    /// Sends a service message once (claim → publish → mark), like a digest.
    async fn tell(&self, alert: Alert, deadline: Deadline) -> Result<Delivery, AlertError> {
        let key = alert.dedup_key.clone();
        let token = self.token();
        let expires_at = (Utc::now() + self.retention).timestamp();
        if !self.claim(&key, &token, expires_at, deadline).await? {
            return Ok(Delivery::AlreadySent { rule: alert.rule, resource: alert.resource });
        }
        self.publish(alert, &key, &token, expires_at, deadline).await
    }
}
