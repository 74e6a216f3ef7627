//! Replays entries through the same state-tracker and alerter code the Lambdas run, and
//! builds the report.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ecs_events::alert::{Alert, Alerter, Delivery};
use ecs_events::event::ReceivedEvent;
use ecs_events::state::{Outcome, ResourceKind, Retention, StateStore};
use ecs_events::tracker::track;
use serde::Serialize;
use serde_json::Value;

use crate::input::Entry;

/// Counts: every event read ends in exactly one of stored, duplicates, stale, ignored and
/// rejected; `alerts` counts the alerts sent.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Events read.
    pub events: u64,
    /// Newer than the stored state: written.
    pub stored: u64,
    /// Same version as stored.
    pub duplicates: u64,
    /// Older than stored.
    pub stale: u64,
    /// Valid events the state tracker does not keep.
    pub ignored: u64,
    /// Entries that are not valid ECS events, or that the store failed on.
    pub rejected: u64,
    /// Alerts sent.
    pub alerts: u64,
}

/// An entry that could not be replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    /// `file:line`.
    pub location: String,
    /// What was wrong.
    pub error: String,
}

/// The replay's result (`ecs-replay run --json` prints it).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Counts.
    pub stats: Stats,
    /// The stored detail of each task the replay touched, in ARN order.
    pub tasks: Vec<Arc<Value>>,
    /// The stored detail of each container instance the replay touched, in ARN order.
    pub container_instances: Vec<Arc<Value>>,
    /// The alerts sent, in order.
    pub alerts: Vec<Alert>,
    /// The entries that could not be replayed, in order.
    pub rejected: Vec<Rejected>,
    /// What failed beyond the input: alerts that could not be sent and state that could not
    /// be read back (only against real services).
    pub errors: Vec<Rejected>,
}

/// Replays events one at a time, in order.
pub struct Replayer {
    store: Arc<dyn StateStore>,
    alerter: Alerter,
    retention: Retention,
    stats: Stats,
    touched: BTreeMap<ResourceKind, BTreeSet<String>>,
    alerts: Vec<Alert>,
    rejected: Vec<Rejected>,
    errors: Vec<Rejected>,
}

impl Replayer {
    /// A replayer tracking state in `store` and alerting through `alerter`.
    pub fn new(store: Arc<dyn StateStore>, alerter: Alerter, retention: Retention) -> Self {
        Self {
            store,
            alerter,
            retention,
            stats: Stats::default(),
            touched: BTreeMap::new(),
            alerts: Vec::new(),
            rejected: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Replays one entry: the alerter's work and the state tracker's, as both functions
    /// receive every ECS event.
    pub async fn replay(&mut self, entry: Entry) {
        self.stats.events += 1;
        let location = entry.location.to_string();
        let received =
            match entry.event.and_then(|raw| ReceivedEvent::new(raw).map_err(|e| e.to_string())) {
                Ok(received) => received,
                Err(error) => return self.reject(location, error),
            };
        match self.alerter.process(&received).await {
            Ok(deliveries) => {
                for delivery in deliveries {
                    if let Delivery::Sent(alert) = delivery {
                        self.stats.alerts += 1;
                        self.alerts.push(alert);
                    }
                }
            }
            Err(error) => {
                self.errors.push(Rejected { location: location.clone(), error: error.to_string() })
            }
        }
        if let Some((kind, key)) = ResourceKind::of(&received.event) {
            let keys = self.touched.entry(kind).or_default();
            if !keys.contains(key) {
                keys.insert(key.to_owned());
            }
        }
        match track(self.store.as_ref(), received, self.retention).await {
            Ok(outcome) => {
                let count = match outcome {
                    Outcome::Stored => &mut self.stats.stored,
                    Outcome::Duplicate => &mut self.stats.duplicates,
                    Outcome::Stale => &mut self.stats.stale,
                    Outcome::Ignored => &mut self.stats.ignored,
                };
                *count += 1;
            }
            Err(error) => self.reject(location, error.to_string()),
        }
    }

    fn reject(&mut self, location: String, error: String) {
        self.stats.rejected += 1;
        self.rejected.push(Rejected { location, error });
    }

    /// The report, with the stored state of every task and container instance touched.
    pub async fn finish(self) -> Report {
        let mut tasks = Vec::new();
        let mut container_instances = Vec::new();
        let mut errors = self.errors;
        let touched =
            self.touched.iter().flat_map(|(kind, keys)| keys.iter().map(move |key| (kind, key)));
        for (kind, key) in touched {
            match self.store.get(*kind, key).await {
                Ok(Some(record)) => match kind {
                    ResourceKind::Task => tasks.push(record.detail),
                    ResourceKind::ContainerInstance => container_instances.push(record.detail),
                },
                Ok(None) => {}
                Err(error) => {
                    errors.push(Rejected { location: key.clone(), error: error.to_string() })
                }
            }
        }
        Report {
            stats: self.stats,
            tasks,
            container_instances,
            alerts: self.alerts,
            rejected: self.rejected,
            errors,
        }
    }
}
