//! How a task ended, decided once for everyone who tells of it: the alerter (a clean exit is
//! not a failure), the deployment summaries (how many of its tasks failed, and why), the
//! service health check (were its last tasks scaled in on purpose?) and the timeline page.

use serde::Serialize;

use super::{StopCode, TaskStateChange, TaskStatus};

/// The exit codes of a task's containers that mean "done": `0` unless a rule says otherwise.
pub const DEFAULT_EXPECTED_EXIT_CODES: &[i64] = &[0];

/// The signals ECS sends the other containers after an essential one exits: SIGTERM (143),
/// then SIGKILL (137) when the stop timeout runs out.
const STOP_SIGNAL_EXITS: [i64; 2] = [143, 137];

/// How a task ended (or that it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskOutcome {
    /// Not stopped at its last known state.
    Running,
    /// Finished its work: every container exited with an expected code, but for the SIGTERM
    /// or SIGKILL ECS sent the others after an essential one exited.
    Completed,
    /// Stopped on purpose: by a person, or by the service scheduler (scaling in, replacing).
    Stopped,
    /// A container exited with an unexpected code (or ECS gave a reason for its stop).
    Failed,
    /// A container was killed for want of memory.
    Oom,
    /// The task never started (image pull, secrets, placement...).
    FailedToStart,
    /// A Spot interruption (or a Fargate termination notice).
    Spot,
}

impl TaskOutcome {
    /// The outcome of a task's last known state, `expected` being the exit codes that mean
    /// done (a task Spot is interrupting is `Spot` already).
    pub fn of(task: &TaskStateChange, expected: &[i64]) -> Self {
        if matches!(task.stop_code, Some(StopCode::SpotInterruption | StopCode::TerminationNotice))
        {
            return Self::Spot;
        }
        if task.last_status != TaskStatus::Stopped {
            return Self::Running;
        }
        let containers = task.containers();
        let oom = containers.iter().any(|container| {
            container.reason.as_deref().is_some_and(|reason| reason.starts_with("OutOfMemoryError"))
        });
        match task.stop_code {
            Some(StopCode::TaskFailedToStart) => Self::FailedToStart,
            _ if oom => Self::Oom,
            // Stopped on purpose: the exit codes are those of the stop (SIGTERM, SIGKILL).
            Some(StopCode::UserInitiated | StopCode::ServiceSchedulerInitiated) => Self::Stopped,
            _ if completed(task, expected) => Self::Completed,
            _ if containers.iter().any(|container| container.failed()) => Self::Failed,
            _ => Self::Stopped,
        }
    }

    /// Whether the task ended badly: failed, killed for memory, never started.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::Oom | Self::FailedToStart)
    }

    /// The outcome's name, as the page and reports spell it (`failed-to-start`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Stopped => "stopped",
            Self::Failed => "failed",
            Self::Oom => "oom",
            Self::FailedToStart => "failed-to-start",
            Self::Spot => "spot",
        }
    }
}

/// Whether a stopped task finished its work: it stopped because an essential container
/// exited (or without a stop code), at least one container exited with an `expected` code,
/// and every other exit is expected or the SIGTERM/SIGKILL ECS sends the rest after an
/// essential container exits — with no container stopped for a reason ECS gives (an OOM kill,
/// a pull failure). Events do not say which containers are essential, so an expected exit next
/// to stop-signal exits reads as the essential one finishing.
fn completed(task: &TaskStateChange, expected: &[i64]) -> bool {
    if !matches!(task.stop_code, None | Some(StopCode::EssentialContainerExited)) {
        return false;
    }
    let containers = task.containers();
    let mut finished = false;
    for container in containers {
        if container.reason.is_some() {
            return false;
        }
        match container.exit_code {
            Some(code) if expected.contains(&code) => finished = true,
            Some(code) if STOP_SIGNAL_EXITS.contains(&code) => {}
            Some(_) => return false,
            None => {}
        }
    }
    finished
}

impl TaskStateChange {
    /// The outcome of the task's state (see [`TaskOutcome::of`]).
    pub fn outcome(&self, expected: &[i64]) -> TaskOutcome {
        TaskOutcome::of(self, expected)
    }

    /// What a person groups stops by, in a few words: the most telling failed container's
    /// exit and the kind of its reason (`exit 137 OutOfMemoryError`, `exit 1`,
    /// `CannotPullContainerError`) — unless a person, the scheduler or Spot stopped the task —
    /// else the head of the stopped reason (`Scaling activity initiated`, `Task failed ELB
    /// health checks`), else the stop code. `None` while the task has not stopped.
    pub fn stop_cause(&self) -> Option<String> {
        if self.last_status != TaskStatus::Stopped {
            return None;
        }
        // A stop on purpose explains itself: the containers' exits are the stop's signals.
        let on_purpose = matches!(
            self.stop_code,
            Some(
                StopCode::UserInitiated
                    | StopCode::ServiceSchedulerInitiated
                    | StopCode::SpotInterruption
                    | StopCode::TerminationNotice
            )
        );
        // A task that finished its work: the exit of the container that did it, not the SIGTERM
        // the others got.
        if completed(self, DEFAULT_EXPECTED_EXIT_CODES) {
            let done = self.containers().iter().filter_map(|container| container.exit_code);
            if let Some(code) = done.clone().find(|code| !STOP_SIGNAL_EXITS.contains(code)) {
                return Some(format!("exit {code}"));
            }
        }
        let telling = self.containers_most_telling_first();
        let failed = telling.first().filter(|container| container.failed() && !on_purpose);
        if let Some(container) = failed {
            let kind = container
                .reason
                .as_deref()
                .map(|reason| reason.split(':').next().unwrap_or(reason).trim());
            return Some(match (container.exit_code, kind) {
                (Some(code), Some(kind)) => format!("exit {code} {kind}"),
                (Some(code), None) => format!("exit {code}"),
                (None, Some(kind)) => kind.to_owned(),
                (None, None) => "no exit code".to_owned(),
            });
        }
        let reason =
            self.stopped_reason.as_deref().map(reason_head).filter(|head| !head.is_empty());
        Some(match (reason, &self.stop_code) {
            (Some(head), _) => head.to_owned(),
            (None, Some(code)) => code.to_string(),
            (None, None) => self.last_status.to_string(),
        })
    }

    /// The deployment that started the task: `startedBy` when it is a service deployment's id
    /// (`ecs-svc/...`).
    pub fn deployment_id(&self) -> Option<&str> {
        self.started_by.as_deref().filter(|by| by.starts_with("ecs-svc/"))
    }

    /// Whether the service scheduler stopped the task to scale in (also when a service is
    /// scaled to zero or deleted), rather than because it failed.
    pub fn scaled_in(&self) -> bool {
        self.stop_code == Some(StopCode::ServiceSchedulerInitiated)
            && self.stopped_reason.as_deref().is_some_and(|r| r.starts_with("Scaling activity"))
    }
}

/// A stopped reason's gist, without the specifics ECS adds after it: up to the first `:` or
/// `(`, without a trailing `.`, ` in` or ` by` ("Task failed ELB health checks in (target-group
/// …)" → "Task failed ELB health checks").
fn reason_head(reason: &str) -> &str {
    let head = reason.split([':', '(']).next().unwrap_or(reason).trim().trim_end_matches('.');
    head.strip_suffix(" in").or_else(|| head.strip_suffix(" by")).unwrap_or(head).trim_end()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn sample(name: &str) -> TaskStateChange {
        let path = format!("{}/../events/samples/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let raw: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("JSON");
        serde_json::from_value(raw["detail"].clone()).expect("a task")
    }

    fn stopped(stop_code: &str, containers: Value) -> TaskStateChange {
        serde_json::from_value(json!({
            "clusterArn": "arn:aws:ecs:us-east-1:111122223333:cluster/batch",
            "taskArn": "arn:aws:ecs:us-east-1:111122223333:task/batch/0123",
            "lastStatus": "STOPPED", "version": 5, "stopCode": stop_code,
            "stoppedReason": "Essential container in task exited",
            "containers": containers
        }))
        .expect("a task")
    }

    #[test]
    fn given_the_samples_then_each_ends_as_a_person_would_say() {
        let expected = DEFAULT_EXPECTED_EXIT_CODES;
        for (name, outcome) in [
            ("task-essential-exited-zero", TaskOutcome::Completed),
            ("task-essential-exited-nonzero", TaskOutcome::Failed),
            ("task-oom-killed", TaskOutcome::Oom),
            ("task-failed-to-start-cannot-pull", TaskOutcome::FailedToStart),
            ("task-scaled-in", TaskOutcome::Stopped),
            ("task-stopped-by-user", TaskOutcome::Stopped),
            ("task-elb-health-check-failed", TaskOutcome::Stopped),
            ("task-spot-stopped-after-interruption", TaskOutcome::Spot),
            ("task-ec2-running", TaskOutcome::Running),
        ] {
            assert_eq!(sample(name).outcome(expected), outcome, "{name}");
        }
    }

    #[test]
    fn given_an_essential_exit_0_with_sidecars_stopped_by_signal_then_the_task_completed() {
        let task = stopped(
            "EssentialContainerExited",
            json!([{"name": "job", "exitCode": 0}, {"name": "log-router", "exitCode": 143},
                   {"name": "xray", "exitCode": 137}]),
        );
        assert_eq!(task.outcome(&[0]), TaskOutcome::Completed);
        assert_eq!(task.stop_cause().as_deref(), Some("exit 0"), "not the sidecar's SIGTERM");
        // An OOM kill of a sidecar is a failure, whatever the others did.
        let task = stopped(
            "EssentialContainerExited",
            json!([{"name": "job", "exitCode": 0},
                   {"name": "agent", "exitCode": 137, "reason": "OutOfMemoryError: killed"}]),
        );
        assert_eq!(task.outcome(&[0]), TaskOutcome::Oom);
        // Only stop signals, no expected exit: nothing finished its work.
        let task = stopped("EssentialContainerExited", json!([{"name": "job", "exitCode": 143}]));
        assert_eq!(task.outcome(&[0]), TaskOutcome::Failed);
    }

    #[test]
    fn given_expected_exit_codes_then_exit_3_is_done_for_the_rule_that_says_so() {
        let task = stopped(
            "EssentialContainerExited",
            json!([{"name": "job", "exitCode": 3}, {"name": "log-router", "exitCode": 143}]),
        );
        assert_eq!(task.outcome(&[0]), TaskOutcome::Failed);
        assert_eq!(task.outcome(&[0, 3]), TaskOutcome::Completed);
    }

    #[test]
    fn given_stops_then_the_cause_is_the_gist_a_person_groups_by() {
        for (name, cause) in [
            ("task-oom-killed", "exit 137 OutOfMemoryError"),
            ("task-essential-exited-nonzero", "exit 1"),
            ("task-failed-to-start-cannot-pull", "CannotPullContainerError"),
            ("task-scaled-in", "Scaling activity initiated"),
            ("task-elb-health-check-failed", "Task failed ELB health checks"),
            ("task-stopped-by-user", "Task stopped by user"),
            ("task-essential-exited-zero", "exit 0"),
        ] {
            assert_eq!(sample(name).stop_cause().as_deref(), Some(cause), "{name}");
        }
        assert_eq!(sample("task-ec2-running").stop_cause(), None);
        assert!(sample("task-scaled-in").scaled_in());
        assert!(!sample("task-elb-health-check-failed").scaled_in());
        assert_eq!(
            sample("task-failed-to-start-cannot-pull").deployment_id(),
            Some("ecs-svc/7653527755743676889")
        );
        assert_eq!(sample("task-essential-exited-zero").deployment_id(), None);
    }
}
