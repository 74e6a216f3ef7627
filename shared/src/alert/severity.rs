//! How bad a message is: `error`, `warning` or `info` — a message attribute, a field of the
//! JSON document, a chat context key and a report field, so subscribers can filter on it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::event::{
    ContainerInstanceStatus, EcsDetail, EcsEvent, ServiceEventType, TaskOutcome, TaskStatus,
};

/// A message's severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Nothing is wrong: a task completed, a service recovered.
    Info,
    /// Worth a look: a Spot interruption, a task stopped on purpose, an instance draining.
    Warning,
    /// Something failed: a task, a deployment, a whole service.
    Error,
}

impl Severity {
    /// `error`, `warning` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Info => "info",
        }
    }

    /// The severity a rules file names, or `None` for another word.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "error" => Some(Self::Error),
            "warning" => Some(Self::Warning),
            "info" => Some(Self::Info),
            _ => None,
        }
    }

    /// The severity of a match of `event` when its rule names none: a task's by how it ended
    /// (`outcome`), a service or deployment event's by its `eventType` (a failed deployment is
    /// an error), a container instance's by whether it is going away or lost its agent.
    pub fn of_event(event: &EcsEvent, outcome: Option<TaskOutcome>) -> Self {
        match &event.detail {
            EcsDetail::Task(task) => match outcome {
                Some(TaskOutcome::Completed) => Self::Info,
                Some(outcome) if outcome.is_failure() => Self::Error,
                Some(TaskOutcome::Spot | TaskOutcome::Stopped) => Self::Warning,
                _ if task.last_status == TaskStatus::Stopped => Self::Warning,
                _ => Self::Info,
            },
            EcsDetail::ServiceAction(action) => Self::of_event_type(&action.event_type),
            EcsDetail::Deployment(deployment) if deployment.status() == "FAILED" => Self::Error,
            EcsDetail::Deployment(deployment) => Self::of_event_type(&deployment.event_type),
            EcsDetail::ContainerInstance(instance) => {
                let going = matches!(
                    instance.status,
                    ContainerInstanceStatus::Draining
                        | ContainerInstanceStatus::Inactive
                        | ContainerInstanceStatus::Deregistering
                        | ContainerInstanceStatus::RegistrationFailed
                );
                if going || instance.agent_connected == Some(false) {
                    Self::Warning
                } else {
                    Self::Info
                }
            }
            EcsDetail::Unknown(_) => Self::Warning,
        }
    }

    fn of_event_type(event_type: &ServiceEventType) -> Self {
        match event_type {
            ServiceEventType::Error => Self::Error,
            ServiceEventType::Warn => Self::Warning,
            ServiceEventType::Info => Self::Info,
            ServiceEventType::Other(_) => Self::Warning,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
