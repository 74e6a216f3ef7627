//! String enums of the ECS event model.
//!
//! AWS adds values over time, so every enum has an `Other(String)` case that keeps an unknown
//! value exactly as it was sent; serialising it writes the same string back.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares a string enum whose unknown values land in `Other(String)`.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version of the toolkit does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// The value exactly as ECS spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                match text {
                    $($text => Self::$variant,)+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Ok(Self::from(text.as_str()))
            }
        }
    };
}

string_enum! {
    /// `lastStatus` / `desiredStatus` of a task or a container.
    TaskStatus {
        /// Fargate is provisioning resources (ENI) for the task.
        Provisioning = "PROVISIONING",
        /// Waiting for resources or pulling images.
        Pending = "PENDING",
        /// Network and other set-up after the images are pulled.
        Activating = "ACTIVATING",
        /// Running.
        Running = "RUNNING",
        /// Tear-down before the containers stop.
        Deactivating = "DEACTIVATING",
        /// Containers are being stopped.
        Stopping = "STOPPING",
        /// Fargate is releasing the task's resources.
        Deprovisioning = "DEPROVISIONING",
        /// Stopped: the final state.
        Stopped = "STOPPED",
        /// Deleted (only seen for tasks that never started).
        Deleted = "DELETED",
    }
}

string_enum! {
    /// `stopCode` of a stopped task.
    StopCode {
        /// The task could not start (image pull, resources, configuration...).
        TaskFailedToStart = "TaskFailedToStart",
        /// An essential container exited.
        EssentialContainerExited = "EssentialContainerExited",
        /// Stopped by a user (`StopTask`).
        UserInitiated = "UserInitiated",
        /// Stopped by the service scheduler (scaling, deployment, unhealthy...).
        ServiceSchedulerInitiated = "ServiceSchedulerInitiated",
        /// A Fargate Spot interruption.
        SpotInterruption = "SpotInterruption",
        /// The underlying infrastructure is being retired.
        TerminationNotice = "TerminationNotice",
        /// ECS replaced the task because the infrastructure under it was unhealthy.
        InfrastructureHealth = "InfrastructureHealth",
    }
}

string_enum! {
    /// `launchType` of a task.
    LaunchType {
        /// Amazon EC2 container instances.
        Ec2 = "EC2",
        /// AWS Fargate.
        Fargate = "FARGATE",
        /// ECS Anywhere external instances.
        External = "EXTERNAL",
        /// ECS Managed Instances.
        ManagedInstances = "MANAGED_INSTANCES",
    }
}

string_enum! {
    /// `connectivity` of a task.
    Connectivity {
        /// The task is connected.
        Connected = "CONNECTED",
        /// The task is disconnected.
        Disconnected = "DISCONNECTED",
    }
}

string_enum! {
    /// `healthStatus` of a task or a container.
    HealthStatus {
        /// Health checks pass.
        Healthy = "HEALTHY",
        /// Health checks fail.
        Unhealthy = "UNHEALTHY",
        /// No health check, or not evaluated yet.
        Unknown = "UNKNOWN",
    }
}

string_enum! {
    /// `status` of a container instance.
    ContainerInstanceStatus {
        /// Accepts tasks.
        Active = "ACTIVE",
        /// Being drained: no new tasks.
        Draining = "DRAINING",
        /// Deregistered.
        Inactive = "INACTIVE",
        /// Registration in progress.
        Registering = "REGISTERING",
        /// Deregistration in progress.
        Deregistering = "DEREGISTERING",
        /// Registration failed.
        RegistrationFailed = "REGISTRATION_FAILED",
        /// Deregistration failed.
        DeregistrationFailed = "DEREGISTRATION_FAILED",
    }
}

string_enum! {
    /// `eventType` (severity) of service action and deployment events.
    ServiceEventType {
        /// Informational.
        Info = "INFO",
        /// Warning.
        Warn = "WARN",
        /// Error.
        Error = "ERROR",
    }
}

string_enum! {
    /// `eventName` of an `ECS Service Action` event.
    ServiceActionName {
        /// The service reached a steady state.
        ServiceSteadyState = "SERVICE_STEADY_STATE",
        /// A task set reached a steady state.
        TasksetSteadyState = "TASKSET_STEADY_STATE",
        /// The capacity provider reached a steady state.
        CapacityProviderSteadyState = "CAPACITY_PROVIDER_STEADY_STATE",
        /// The service's desired count changed.
        ServiceDesiredCountUpdated = "SERVICE_DESIRED_COUNT_UPDATED",
        /// The service cannot start tasks successfully.
        ServiceTaskStartImpaired = "SERVICE_TASK_START_IMPAIRED",
        /// A Cloud Map instance is unhealthy.
        ServiceDiscoveryInstanceUnhealthy = "SERVICE_DISCOVERY_INSTANCE_UNHEALTHY",
        /// No container instance could host a task.
        ServiceTaskPlacementFailure = "SERVICE_TASK_PLACEMENT_FAILURE",
        /// A task could not start because of its configuration.
        ServiceTaskConfigurationFailure = "SERVICE_TASK_CONFIGURATION_FAILURE",
        /// ECS could not launch a task for a daemon or service (for example throttling).
        ServiceDaemonPlacementConstraintViolated = "SERVICE_DAEMON_PLACEMENT_CONSTRAINT_VIOLATED",
    }
}

string_enum! {
    /// `eventName` of an `ECS Deployment State Change` event.
    DeploymentEventName {
        /// The deployment started or is going on.
        InProgress = "SERVICE_DEPLOYMENT_IN_PROGRESS",
        /// The deployment completed.
        Completed = "SERVICE_DEPLOYMENT_COMPLETED",
        /// The deployment failed (and was rolled back if the circuit breaker says so).
        Failed = "SERVICE_DEPLOYMENT_FAILED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_known_value_when_parsed_then_it_is_the_named_case_and_writes_back_the_same() {
        let status: TaskStatus = serde_json::from_str("\"STOPPED\"").expect("valid JSON string");
        assert_eq!(status, TaskStatus::Stopped);
        assert_eq!(serde_json::to_string(&status).expect("serialises"), "\"STOPPED\"");
    }

    #[test]
    fn given_a_value_aws_adds_later_when_parsed_then_it_is_kept_as_other() {
        let code: StopCode =
            serde_json::from_str("\"BrandNewStopCode\"").expect("valid JSON string");
        assert_eq!(code, StopCode::Other("BrandNewStopCode".into()));
        assert_eq!(serde_json::to_string(&code).expect("serialises"), "\"BrandNewStopCode\"");
    }

    #[test]
    fn given_a_non_string_when_parsed_then_it_is_an_error() {
        assert!(serde_json::from_str::<LaunchType>("7").is_err());
    }
}
