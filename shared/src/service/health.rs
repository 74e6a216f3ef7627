//! The health check of one service, decided on every schedule tick (the alerter's, every
//! minute; a replay's, every minute of event time) from what the state tables hold — the same
//! decision in Lambda and in a replay.
//!
//! **Silence.** A service that ran tasks and now runs none is *silent* from when its last
//! task stopped. After [`Settings::silence_after`] it is **down** — one "service down"
//! message — unless that silence was meant:
//!
//! * a desired count observed after the silence began (the reconciler's `DescribeServices`, or
//!   a `SERVICE_DESIRED_COUNT_UPDATED` event) says 0, or the API says the service is being
//!   deleted (`DRAINING`) or is gone (`INACTIVE`): quiet;
//! * such an observation says more than 0: down;
//! * none yet (ECS sends no event when a person changes the desired count): the way its last
//!   tasks stopped decides — all scaled in by the scheduler (`Scaling activity initiated by…`,
//!   as when a service is scaled to zero or deleted) is quiet until an observation says
//!   otherwise, anything else (crashes, failed health checks, a person stopping them) is down.
//!
//! It **recovers** — one "recovered" message in the same thread — when a task of it runs
//! again. A service is watched once seen running, or once a desired count above 0 is known
//! (then, never seen running, it is silent from the first check that finds it so): a service
//! known only by its tasks, whose desired count is not known, is not — the check cannot tell a
//! service scaled to zero long ago from one that is down.
//!
//! **Troubles** (a crash loop, a failed deployment) end — one "resolved" message — when the
//! service is healthy again after the trouble's last activity: a `SERVICE_STEADY_STATE`, a
//! completed deployment, or tasks running at the desired count (at least one) for the
//! incident's window; or when it no longer runs tasks on purpose (scaled to zero, deleted).

use super::{Health, ServiceRecord, Trouble};

/// Tasks of a running service the check remembers, to tell how the service went silent.
pub const SAMPLE: usize = 5;

/// How the check judges services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How long (seconds) a service may run no task before it is down; `None`: never.
    pub silence_after: Option<i64>,
}

impl Default for Settings {
    /// Down after 5 minutes.
    fn default() -> Self {
        Self { silence_after: Some(300) }
    }
}

/// How the tasks a service last ran stopped, when it went silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastStops {
    /// Every one was scaled in by the scheduler.
    pub scaled_in: bool,
    /// The latest of their stops (epoch seconds), when known.
    pub last_stop: Option<i64>,
}

/// Why a trouble is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// ECS said the service reached a steady state (epoch seconds).
    SteadyState(i64),
    /// A deployment of it completed (its id, epoch seconds).
    DeploymentCompleted(String, i64),
    /// It ran `running` tasks (the desired count: `desired`) for the incident's window.
    Running {
        /// Tasks running.
        running: usize,
        /// The desired count, when known.
        desired: Option<i64>,
    },
    /// It no longer runs tasks on purpose: scaled to zero, or deleted.
    Stopped(&'static str),
}

/// What a tick tells of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// It is down: it has run no task since `since` (epoch seconds).
    Down {
        /// When its last task stopped (or the check first saw none).
        since: i64,
        /// The desired count, when known.
        desired: Option<i64>,
    },
    /// It recovered: `running` tasks run again after being down since `since`.
    Recovered {
        /// When it went down.
        since: i64,
        /// Tasks running now.
        running: usize,
    },
    /// A trouble is over.
    Resolve(Trouble, Resolution),
}

/// What a tick decided: the health to write (when it changed, its version bumped) and what
/// to tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assessment {
    /// The new health, when it changed.
    pub health: Option<Health>,
    /// The messages to send.
    pub actions: Vec<Action>,
}

/// What a tick knows of a service besides its record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// Its running (and not missing) tasks, sorted.
    pub running: Vec<String>,
    /// How its last tasks stopped, when it just went silent (see [`needs_last_stops`]).
    pub last_stops: Option<LastStops>,
    /// Its latest completed deployment: id and `updatedAt` (epoch seconds).
    pub completed: Option<(String, i64)>,
}

/// Whether the tick must learn how the remembered tasks stopped: the service ran tasks, runs
/// none now, and its silence is not counted yet.
pub fn needs_last_stops(record: &ServiceRecord, running: &[String]) -> bool {
    running.is_empty()
        && record.health.running_at.is_some()
        && record.health.silent_since.is_none()
        && !record.health.sample.is_empty()
}

/// Whether a tick must look at a service at all: it has been seen running (silence), has
/// troubles, or may run tasks.
pub fn watched(record: &ServiceRecord) -> bool {
    record.health.running_at.is_some()
        || !record.troubles.is_empty()
        || record.desired.is_some_and(|desired| desired.count > 0)
}

/// The desired count observed at or after `since` (epoch seconds), if any.
fn observed_since(record: &ServiceRecord, since: i64) -> Option<i64> {
    record.desired.filter(|desired| desired.at_ms.div_euclid(1_000) >= since).map(|d| d.count)
}

/// Whether the API says the service is being deleted or is gone.
fn going(record: &ServiceRecord) -> Option<&'static str> {
    match record.status.as_deref() {
        Some("INACTIVE") => Some("the service was deleted"),
        Some("DRAINING") => Some("the service is being deleted"),
        _ => None,
    }
}

/// Whether a silent service is down rather than stopped on purpose (see the module
/// documentation).
fn is_down(record: &ServiceRecord, health: &Health, since: i64) -> bool {
    if going(record).is_some() {
        return false;
    }
    match observed_since(record, since) {
        Some(desired) => desired > 0,
        None => !health.scaled_in,
    }
}

/// Decides, at `now` (epoch seconds), what the check sees of a service and what to tell.
pub fn assess(
    record: &ServiceRecord,
    observed: &Observed,
    now: i64,
    settings: Settings,
) -> Assessment {
    let mut health = record.health.clone();
    let mut actions = Vec::new();
    let running = &observed.running;
    if !running.is_empty() {
        let sample_gone = health.sample.is_empty()
            || health.sample.iter().any(|arn| running.binary_search(arn).is_err());
        if sample_gone || health.silent_since.is_some() || health.running_at.is_none() {
            health.running_at = Some(now);
            health.sample = running.iter().take(SAMPLE).cloned().collect();
            health.silent_since = None;
            health.scaled_in = false;
        }
        if let Some(since) = health.down_since.take() {
            actions.push(Action::Recovered { since, running: running.len() });
        }
    } else if health.running_at.is_some() || record.desired.is_some_and(|d| d.count > 0) {
        let since = match health.silent_since {
            Some(since) => since,
            None => {
                let stops = observed.last_stops;
                let since =
                    stops.and_then(|stops| stops.last_stop).map_or(now, |last| last.min(now));
                health.silent_since = Some(since);
                health.scaled_in = stops.is_some_and(|stops| stops.scaled_in);
                since
            }
        };
        let long_enough = settings.silence_after.is_some_and(|after| now - since >= after);
        if health.down_since.is_none() && long_enough && is_down(record, &health, since) {
            health.down_since = Some(since);
            actions.push(Action::Down { since, desired: record.desired.map(|d| d.count) });
        }
        if health.down_since.is_some() && going(record).is_some() {
            // A service deleted while down is not coming back: nothing more to tell.
            health.down_since = None;
        }
    }
    for trouble in &record.troubles {
        if let Some(resolution) = resolution(record, trouble, observed, now) {
            actions.push(Action::Resolve(trouble.clone(), resolution));
        }
    }
    let changed = health != record.health;
    if changed {
        health.version = record.health.version + 1;
    }
    Assessment { health: changed.then_some(health), actions }
}

/// Why `trouble` is over at `now`, if it is.
fn resolution(
    record: &ServiceRecord,
    trouble: &Trouble,
    observed: &Observed,
    now: i64,
) -> Option<Resolution> {
    if let Some(why) = going(record) {
        return Some(Resolution::Stopped(why));
    }
    if observed_since(record, trouble.since) == Some(0) {
        return Some(Resolution::Stopped("the service was scaled to zero"));
    }
    if let Some(at) =
        record.steady_at_ms.map(|ms| ms.div_euclid(1_000)).filter(|at| *at > trouble.since)
    {
        return Some(Resolution::SteadyState(at));
    }
    if let Some((id, at)) = observed.completed.as_ref().filter(|(_, at)| *at > trouble.since) {
        return Some(Resolution::DeploymentCompleted(id.clone(), *at));
    }
    let desired = record.desired.map(|desired| desired.count);
    let quiet_for_a_window = now - trouble.since >= trouble.window;
    let at_desired = !observed.running.is_empty()
        && i64::try_from(observed.running.len()).unwrap_or(i64::MAX) >= desired.unwrap_or(1);
    (quiet_for_a_window && at_desired && record.health.down_since.is_none())
        .then_some(Resolution::Running { running: observed.running.len(), desired })
}

impl Resolution {
    /// The reason in a few words, for a subject: `steady state`, `deployment completed`.
    pub fn short(&self) -> &'static str {
        match self {
            Self::SteadyState(_) => "steady state",
            Self::DeploymentCompleted(..) => "deployment completed",
            Self::Running { .. } => "running again",
            Self::Stopped(_) => "stopped on purpose",
        }
    }

    /// The reason, in words: `ECS reported a steady state`, `deployment ecs-svc/1 completed`.
    pub fn words(&self) -> String {
        match self {
            Self::SteadyState(_) => "ECS reported the service in a steady state".to_owned(),
            Self::DeploymentCompleted(id, _) => format!("deployment {id} completed"),
            Self::Running { running, desired: Some(desired) } => {
                format!("{running} tasks running (desired {desired}) with no further failure")
            }
            Self::Running { running, desired: None } => {
                format!("{running} tasks running with no further failure")
            }
            Self::Stopped(why) => (*why).to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Desired;
    use crate::state::Source;

    const SERVICE: &str = "arn:aws:ecs:us-east-1:111122223333:service/prod/web";

    fn record() -> ServiceRecord {
        ServiceRecord::new(SERVICE, "arn:aws:ecs:us-east-1:111122223333:cluster/prod")
    }

    fn running(arns: &[&str]) -> Observed {
        Observed {
            running: arns.iter().map(|arn| (*arn).to_owned()).collect(),
            ..Observed::default()
        }
    }

    /// Runs `ticks` of (now, observation) over `record`, writing back what each decided.
    fn ticks(record: &mut ServiceRecord, ticks: Vec<(i64, Observed)>) -> Vec<(i64, Action)> {
        let mut told = Vec::new();
        for (now, observed) in ticks {
            let assessment = assess(record, &observed, now, Settings::default());
            if let Some(health) = assessment.health {
                record.health = health;
            }
            told.extend(assessment.actions.into_iter().map(|action| (now, action)));
        }
        told
    }

    fn silent(scaled_in: bool, last_stop: i64) -> Observed {
        Observed {
            last_stops: Some(LastStops { scaled_in, last_stop: Some(last_stop) }),
            ..Observed::default()
        }
    }

    #[test]
    fn given_a_service_whose_tasks_crash_then_it_is_down_after_five_minutes_and_recovers_once() {
        let mut service = record();
        let told = ticks(
            &mut service,
            vec![
                (1_000, running(&["a", "b"])),
                (1_060, silent(false, 1_030)),
                (1_300, Observed::default()),
                (1_330, Observed::default()),
                (1_390, Observed::default()),
                (2_000, running(&["c"])),
                (2_060, running(&["c"])),
            ],
        );
        assert_eq!(
            told,
            vec![
                (1_330, Action::Down { since: 1_030, desired: None }),
                (2_000, Action::Recovered { since: 1_030, running: 1 }),
            ]
        );
        assert_eq!(service.health.sample, ["c"]);
    }

    #[test]
    fn given_a_service_scaled_in_to_zero_then_it_stays_quiet_until_an_observation_says_otherwise() {
        let mut service = record();
        let told = ticks(
            &mut service,
            vec![
                (1_000, running(&["a"])),
                (1_060, silent(true, 1_030)),
                (2_000, Observed::default()),
            ],
        );
        assert!(told.is_empty(), "{told:?}");
        // The reconciler then reads a desired count of 2: the service should run, and does not.
        service.desired = Some(Desired { count: 2, at_ms: 2_030_000, source: Source::Reconcile });
        let told = ticks(&mut service, vec![(2_060, Observed::default())]);
        assert_eq!(told, vec![(2_060, Action::Down { since: 1_030, desired: Some(2) })]);
    }

    #[test]
    fn given_desired_zero_observed_after_the_silence_or_a_deleted_service_then_it_is_quiet() {
        let mut service = record();
        service.desired = Some(Desired { count: 0, at_ms: 1_040_000, source: Source::Event });
        let told = ticks(
            &mut service,
            vec![
                (1_000, running(&["a"])),
                (1_060, silent(false, 1_030)),
                (2_000, Observed::default()),
            ],
        );
        assert!(told.is_empty(), "desired 0 after the stops: {told:?}");

        let mut service = record();
        service.status = Some("INACTIVE".into());
        let told = ticks(
            &mut service,
            vec![
                (1_000, running(&["a"])),
                (1_060, silent(false, 1_030)),
                (2_000, Observed::default()),
            ],
        );
        assert!(told.is_empty(), "deleted: {told:?}");
    }

    #[test]
    fn given_a_service_never_seen_running_then_only_a_known_desired_count_makes_it_watched() {
        let mut service = record();
        let told =
            ticks(&mut service, vec![(1_000, Observed::default()), (5_000, Observed::default())]);
        assert!(told.is_empty());
        assert_eq!(service.health, Health::default(), "nothing written");
        // It should run 2 tasks and runs none (its tasks crashed before a check saw them):
        // silent from the first check, down 5 minutes later.
        service.desired = Some(Desired { count: 2, at_ms: 0, source: Source::Event });
        let told = ticks(
            &mut service,
            vec![
                (6_000, Observed::default()),
                (6_240, Observed::default()),
                (6_300, Observed::default()),
            ],
        );
        assert_eq!(told, vec![(6_300, Action::Down { since: 6_000, desired: Some(2) })]);
    }

    #[test]
    fn given_a_steady_running_service_then_ticks_write_nothing() {
        let mut service = record();
        ticks(&mut service, vec![(1_000, running(&["a", "b"]))]);
        let version = service.health.version;
        let assessment = assess(&service, &running(&["a", "b"]), 9_999, Settings::default());
        assert_eq!(assessment, Assessment::default());
        assert_eq!(service.health.version, version);
    }

    fn trouble(since: i64) -> Trouble {
        Trouble {
            incident: "essential-container-exited|prod|service:web".into(),
            thread: "essential-container-exited|prod|service:web#100".into(),
            rule: "essential-container-exited".into(),
            kind: TroubleKind::CrashLoop,
            opened: 100,
            since,
            window: 600,
        }
    }

    use crate::service::TroubleKind;

    #[test]
    fn given_a_trouble_then_a_steady_state_a_completed_deployment_or_a_quiet_window_resolves_it() {
        let mut service = record();
        service.troubles = vec![trouble(1_000)];
        service.health.running_at = Some(900);
        // Still failing: running, but not for a whole window since the last stops.
        let observed = running(&["a"]);
        assert!(assess(&service, &observed, 1_300, Settings::default()).actions.is_empty());
        // A quiet window at the desired count.
        service.desired = Some(Desired { count: 1, at_ms: 0, source: Source::Event });
        let actions = assess(&service, &observed, 1_600, Settings::default()).actions;
        assert_eq!(
            actions,
            vec![Action::Resolve(
                trouble(1_000),
                Resolution::Running { running: 1, desired: Some(1) }
            )]
        );
        // A steady state after the last activity, at once.
        service.steady_at_ms = Some(1_100_000);
        let actions = assess(&service, &observed, 1_200, Settings::default()).actions;
        assert_eq!(actions, vec![Action::Resolve(trouble(1_000), Resolution::SteadyState(1_100))]);
        // A steady state from before it counts for nothing; a completed deployment after does.
        service.steady_at_ms = Some(900_000);
        let observed = Observed { completed: Some(("ecs-svc/2".into(), 1_150)), ..running(&[]) };
        let actions = assess(&service, &observed, 1_200, Settings::default()).actions;
        assert_eq!(
            actions,
            vec![Action::Resolve(
                trouble(1_000),
                Resolution::DeploymentCompleted("ecs-svc/2".into(), 1_150)
            )]
        );
    }
}
