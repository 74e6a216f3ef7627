//! ECS ARNs: the task, container instance and cluster ARNs the state is keyed and indexed by
//! must be real ARNs of the right kind, or DynamoDB refuses the write (an empty key) or the
//! state lands under a key no event will ever name again.
//!
//! Accepted shapes, in every partition (`aws`, `aws-cn`, `aws-us-gov`, `aws-iso`...):
//! `arn:<partition>:ecs:<region>:<account>:task/<cluster>/<id>` and the old
//! `...:task/<id>`; `container-instance/<cluster>/<id>` and `container-instance/<id>`;
//! `cluster/<name>`.

/// The kinds of ECS ARN an event's keys hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArnKind {
    /// `...:cluster/<name>`.
    Cluster,
    /// `...:task/[<cluster>/]<id>`.
    Task,
    /// `...:container-instance/[<cluster>/]<id>`.
    ContainerInstance,
    /// `...:service/[<cluster>/]<name>`.
    Service,
}

impl ArnKind {
    fn resource_type(self) -> &'static str {
        match self {
            Self::Cluster => "cluster",
            Self::Task => "task",
            Self::ContainerInstance => "container-instance",
            Self::Service => "service",
        }
    }

    /// The expected shape, for error messages.
    fn shape(self) -> &'static str {
        match self {
            Self::Cluster => {
                "a cluster ARN (arn:<partition>:ecs:<region>:<account>:cluster/<name>)"
            }
            Self::Task => {
                "a task ARN (arn:<partition>:ecs:<region>:<account>:task/[<cluster>/]<task-id>)"
            }
            Self::ContainerInstance => {
                "a container instance ARN \
                 (arn:<partition>:ecs:<region>:<account>:container-instance/[<cluster>/]<id>)"
            }
            Self::Service => {
                "a service ARN (arn:<partition>:ecs:<region>:<account>:service/[<cluster>/]<name>)"
            }
        }
    }
}

/// Checks that `arn` is an ARN of `kind`; the error says what was expected, what was found,
/// and which part is wrong (`account must be 12 digits`).
pub fn check_arn(kind: ArnKind, arn: &str) -> Result<(), String> {
    problem(kind, arn).map_or(Ok(()), |problem| {
        Err(format!("expected {}, found {arn:?}: {problem}", kind.shape()))
    })
}

/// What is wrong with `arn` as an ARN of `kind`, if anything.
fn problem(kind: ArnKind, arn: &str) -> Option<String> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(resource)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Some("not an ARN (arn:<partition>:<service>:<region>:<account>:<resource>)".into());
    };
    if !is_partition(partition) {
        return Some(format!(
            "partition {partition:?} must be aws or aws-<name> (aws-cn, aws-us-gov)"
        ));
    }
    if service != "ecs" {
        return Some(format!("service {service:?} must be ecs"));
    }
    if !is_region(region) {
        return Some(format!("region {region:?} must be lower-case letters, digits and dashes"));
    }
    if account.len() != 12 || !account.bytes().all(|byte| byte.is_ascii_digit()) {
        return Some(format!("account {account:?} must be 12 digits"));
    }
    let Some(path) =
        resource.strip_prefix(kind.resource_type()).and_then(|rest| rest.strip_prefix('/'))
    else {
        return Some(format!("resource {resource:?} must start with {}/", kind.resource_type()));
    };
    let segments: Vec<&str> = path.split('/').collect();
    let segments_fit = match kind {
        ArnKind::Cluster => segments.len() == 1,
        ArnKind::Task | ArnKind::ContainerInstance | ArnKind::Service => {
            matches!(segments.len(), 1 | 2)
        }
    };
    if !segments_fit {
        return Some(format!("resource {resource:?} has {} parts after the type", segments.len()));
    }
    segments
        .iter()
        .find(|segment| !is_name(segment))
        .map(|segment| format!("name {segment:?} must be 1 to 255 letters, digits, '-' or '_'"))
}

/// `aws`, or `aws-` followed by lower-case letters and dashes (`aws-cn`, `aws-us-gov`).
fn is_partition(partition: &str) -> bool {
    partition == "aws"
        || partition.strip_prefix("aws-").is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|byte| byte.is_ascii_lowercase() || byte == b'-')
        })
}

/// `us-east-1`, `cn-north-1`, `us-gov-west-1`...
fn is_region(region: &str) -> bool {
    !region.is_empty()
        && region
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
}

/// Cluster names and resource ids: letters, digits, `-` and `_` (at most 255, as ECS allows).
fn is_name(segment: &str) -> bool {
    (1..=255).contains(&segment.len())
        && segment.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_real_task_arn_shapes_in_every_partition_then_they_are_accepted() {
        for arn in [
            "arn:aws:ecs:us-east-1:111122223333:task/prod/0123456789abcdef0123456789abcdef",
            "arn:aws:ecs:us-east-1:111122223333:task/b99d40b3-5176-4f71-9a52-9dbd6f1cebef",
            "arn:aws-cn:ecs:cn-north-1:111122223333:task/my_cluster-1/0123456789abcdef",
            "arn:aws-us-gov:ecs:us-gov-west-1:111122223333:task/prod/abc",
            "arn:aws-iso-b:ecs:us-isob-east-1:111122223333:task/abc",
        ] {
            assert_eq!(check_arn(ArnKind::Task, arn), Ok(()), "{arn}");
        }
    }

    #[test]
    fn given_container_instance_and_cluster_arns_then_both_formats_are_accepted() {
        for arn in [
            "arn:aws:ecs:us-east-1:111122223333:container-instance/prod-ec2/ea79f9b0fe1ac5a55bee6b36d1328ae6",
            "arn:aws:ecs:us-east-1:111122223333:container-instance/0b1a4979-3846-4e3e-846f-b63a9ad545b0",
        ] {
            assert_eq!(check_arn(ArnKind::ContainerInstance, arn), Ok(()), "{arn}");
        }
        assert_eq!(
            check_arn(ArnKind::Cluster, "arn:aws:ecs:eu-west-1:111122223333:cluster/default"),
            Ok(())
        );
    }

    #[test]
    fn given_empty_blank_foreign_or_wrong_kind_arns_then_the_error_says_what_was_expected() {
        for arn in [
            "",
            "   ",
            "not-an-arn",
            "arn:aws:ecs:us-east-1:111122223333:service/prod/web",
            "arn:aws:ecs:us-east-1:111122223333:container-instance/prod/abc",
            "arn:aws:ec2:us-east-1:111122223333:task/prod/abc",
            "arn:aws:ecs:us-east-1:1111:task/prod/abc",
            "arn:aws:ecs::111122223333:task/prod/abc",
            "arn:gcp:ecs:us-east-1:111122223333:task/prod/abc",
            "arn:aws:ecs:us-east-1:111122223333:task/",
            "arn:aws:ecs:us-east-1:111122223333:task/prod/abc/extra",
            "arn:aws:ecs:us-east-1:111122223333:task/prod/ab c",
            "arn:aws:ecs:us-east-1:111122223333:task//abc",
        ] {
            let error = check_arn(ArnKind::Task, arn).expect_err(arn);
            assert!(error.starts_with("expected a task ARN (arn:<partition>:ecs:"), "{error}");
            assert!(error.contains(&format!("found {arn:?}: ")), "{error}");
        }
        // Which part is wrong, said.
        for (arn, problem) in [
            ("arn:aws:ecs:us-east-1:1111:task/prod/abc", "account \"1111\" must be 12 digits"),
            ("arn:aws:ec2:us-east-1:111122223333:task/prod/abc", "service \"ec2\" must be ecs"),
            ("arn:aws:ecs::111122223333:task/prod/abc", "region \"\" must be"),
            ("arn:gcp:ecs:us-east-1:111122223333:task/prod/abc", "partition \"gcp\" must be"),
            ("arn:aws:ecs:us-east-1:111122223333:service/prod/web", "must start with task/"),
            ("arn:aws:ecs:us-east-1:111122223333:task/prod/ab c", "name \"ab c\" must be"),
            ("not-an-arn", "not an ARN"),
        ] {
            let error = check_arn(ArnKind::Task, arn).expect_err(arn);
            assert!(error.contains(problem), "{arn}: {error}");
        }
        assert!(
            check_arn(ArnKind::Cluster, "arn:aws:ecs:us-east-1:111122223333:cluster/a/b").is_err()
        );
    }

    #[test]
    fn given_service_arns_then_both_formats_pass_and_a_task_arn_is_named_wrong() {
        for arn in [
            "arn:aws:ecs:us-east-1:111122223333:service/prod-fargate/checkout",
            "arn:aws:ecs:us-east-1:111122223333:service/checkout",
        ] {
            assert_eq!(check_arn(ArnKind::Service, arn), Ok(()), "{arn}");
        }
        let error = check_arn(
            ArnKind::Service,
            "arn:aws:ecs:us-east-1:111122223333:task/prod-fargate/0123456789abcdef",
        )
        .expect_err("a task ARN");
        assert!(error.starts_with("expected a service ARN"), "{error}");
        assert!(error.contains("must start with service/"), "{error}");
    }
}
