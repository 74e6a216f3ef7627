//! The ECS API calls the reconciler makes, each paginated or batched as the API requires,
//! counted (every attempt, retries included, and the throttled ones) and capped per run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_ecs::Client;
use aws_sdk_ecs::config::interceptors::FinalizerInterceptorContextRef;
use aws_sdk_ecs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::operation::describe_clusters::DescribeClustersError;
use aws_sdk_ecs::operation::describe_container_instances::DescribeContainerInstancesError;
use aws_sdk_ecs::operation::describe_services::DescribeServicesError;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksError;
use aws_sdk_ecs::operation::list_clusters::ListClustersError;
use aws_sdk_ecs::operation::list_container_instances::ListContainerInstancesError;
use aws_sdk_ecs::operation::list_services::ListServicesError;
use aws_sdk_ecs::operation::list_tasks::ListTasksError;
use aws_sdk_ecs::types::{ContainerInstance, DesiredStatus, Failure, Service, Task, TaskField};

use crate::sdk_error::describe;

/// The most ARNs `DescribeTasks` and `DescribeContainerInstances` take per call.
pub const DESCRIBE_BATCH: usize = 100;
/// The most services `DescribeServices` takes per call.
pub const DESCRIBE_SERVICES_BATCH: usize = 10;
/// The most ARNs a list call returns per page.
const LIST_PAGE: i32 = 100;
/// Error codes that mean the request was throttled.
const THROTTLING_CODES: [&str; 4] =
    ["ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"];

/// Why a call was not made or failed.
#[derive(Debug, thiserror::Error)]
pub enum EcsApiError {
    /// The run has made as many calls as it may.
    #[error("the cap of {cap} ECS API calls per run was reached")]
    CapReached {
        /// The cap.
        cap: u64,
    },
    /// The API refused or failed (after the SDK's retries).
    #[error("{operation} failed: {message}")]
    Request {
        /// The API operation.
        operation: &'static str,
        /// What the service or the client said.
        message: String,
    },
}

/// Attempts and throttled attempts, counted by an interceptor on the client.
#[derive(Debug, Default)]
struct Counts {
    attempts: AtomicU64,
    throttles: AtomicU64,
}

#[derive(Debug)]
struct CountAttempts(Arc<Counts>);

impl Intercept for CountAttempts {
    fn name(&self) -> &'static str {
        "CountAttempts"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_ecs::error::BoxError> {
        self.0.attempts.fetch_add(1, Ordering::Relaxed);
        let status = context.response().map(|response| response.status().as_u16());
        let code = context
            .output_or_error()
            .and_then(Result::err)
            .and_then(|error| error.as_operation_error())
            .and_then(|error| {
                error
                    .downcast_ref::<ListTasksError>()
                    .and_then(ProvideErrorMetadata::code)
                    .or_else(|| error.downcast_ref::<DescribeTasksError>()?.code())
                    .or_else(|| error.downcast_ref::<ListClustersError>()?.code())
                    .or_else(|| error.downcast_ref::<DescribeClustersError>()?.code())
                    .or_else(|| error.downcast_ref::<ListContainerInstancesError>()?.code())
                    .or_else(|| error.downcast_ref::<DescribeContainerInstancesError>()?.code())
                    .or_else(|| error.downcast_ref::<ListServicesError>()?.code())
                    .or_else(|| error.downcast_ref::<DescribeServicesError>()?.code())
            });
        if status == Some(429) || code.is_some_and(|code| THROTTLING_CODES.contains(&code)) {
            self.0.throttles.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// The ECS API, counted and capped.
#[derive(Debug, Clone)]
pub struct EcsApi {
    client: Client,
    counts: Arc<Counts>,
    max_calls: u64,
}

impl EcsApi {
    /// `client` (its retry policy applies), counting its attempts, allowed `max_calls` of them.
    pub fn new(client: &Client, max_calls: u64) -> Self {
        let counts = Arc::new(Counts::default());
        let config =
            client.config().to_builder().interceptor(CountAttempts(Arc::clone(&counts))).build();
        Self { client: Client::from_conf(config), counts, max_calls }
    }

    /// The same API through another `client` (another account or Region), its attempts
    /// counted with this one's against the same cap: the cap is the run's, whatever the number
    /// of accounts and Regions it reads.
    pub fn sharing(&self, client: &Client) -> Self {
        let config = client
            .config()
            .to_builder()
            .interceptor(CountAttempts(Arc::clone(&self.counts)))
            .build();
        Self {
            client: Client::from_conf(config),
            counts: Arc::clone(&self.counts),
            max_calls: self.max_calls,
        }
    }

    /// The Region its client reads, when configured.
    pub fn region(&self) -> Option<String> {
        self.client.config().region().map(ToString::to_string)
    }

    /// Attempts made so far (retries included).
    pub fn calls(&self) -> u64 {
        self.counts.attempts.load(Ordering::Relaxed)
    }

    /// Attempts the API throttled.
    pub fn throttles(&self) -> u64 {
        self.counts.throttles.load(Ordering::Relaxed)
    }

    fn budget(&self) -> Result<(), EcsApiError> {
        if self.calls() >= self.max_calls {
            return Err(EcsApiError::CapReached { cap: self.max_calls });
        }
        Ok(())
    }

    /// Every page of a list call: `page` requests the page of a token and answers its ARNs
    /// and the next token. Each page counts against the cap.
    async fn all_pages<Page>(
        &self,
        mut page: impl FnMut(Option<String>) -> Page,
    ) -> Result<Vec<String>, EcsApiError>
    where
        Page: Future<Output = Result<(Vec<String>, Option<String>), EcsApiError>>,
    {
        let mut arns = Vec::new();
        let mut token = None;
        loop {
            self.budget()?;
            let (found, next) = page(token).await?;
            arns.extend(found);
            token = next;
            if token.is_none() {
                return Ok(arns);
            }
        }
    }

    /// The ARNs of every cluster of the account in the region.
    pub async fn list_clusters(&self) -> Result<Vec<String>, EcsApiError> {
        self.all_pages(|token| async move {
            let page = self
                .client
                .list_clusters()
                .max_results(LIST_PAGE)
                .set_next_token(token)
                .send()
                .await
                .map_err(|error| request_error("ListClusters", &error))?;
            Ok((page.cluster_arns.unwrap_or_default(), page.next_token))
        })
        .await
    }

    /// The ARNs of clusters given by name or ARN, and the ones ECS does not know with its
    /// reason (`MISSING`).
    pub async fn describe_clusters(
        &self,
        clusters: &[String],
    ) -> Result<(Vec<String>, Vec<(String, String)>), EcsApiError> {
        let (mut found, mut unknown) = (Vec::new(), Vec::new());
        for batch in clusters.chunks(DESCRIBE_BATCH) {
            self.budget()?;
            let output = self
                .client
                .describe_clusters()
                .set_clusters(Some(batch.to_vec()))
                .send()
                .await
                .map_err(|error| request_error("DescribeClusters", &error))?;
            for cluster in output.clusters.unwrap_or_default() {
                // An INACTIVE cluster (deleted) has no tasks to list.
                match (cluster.cluster_arn, cluster.status.as_deref()) {
                    (Some(arn), Some("INACTIVE")) => unknown.push((arn, "INACTIVE".into())),
                    (Some(arn), _) => found.push(arn),
                    (None, _) => {}
                }
            }
            for failure in output.failures.unwrap_or_default() {
                let arn = failure.arn.unwrap_or_default();
                unknown.push((arn, failure.reason.unwrap_or_else(|| "unknown".into())));
            }
        }
        Ok((found, unknown))
    }

    /// The ARNs of a cluster's tasks whose desired status is `desired` (all pages).
    pub async fn list_tasks(
        &self,
        cluster: &str,
        desired: DesiredStatus,
    ) -> Result<Vec<String>, EcsApiError> {
        let desired = &desired;
        self.all_pages(|token| async move {
            let page = self
                .client
                .list_tasks()
                .cluster(cluster)
                .desired_status(desired.clone())
                .max_results(LIST_PAGE)
                .set_next_token(token)
                .send()
                .await
                .map_err(|error| request_error("ListTasks", &error))?;
            Ok((page.task_arns.unwrap_or_default(), page.next_token))
        })
        .await
    }

    /// Up to [`DESCRIBE_BATCH`] tasks of a cluster, with their tags.
    pub async fn describe_tasks(
        &self,
        cluster: &str,
        arns: &[String],
    ) -> Result<Vec<Task>, EcsApiError> {
        self.budget()?;
        let output = self
            .client
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(arns.to_vec()))
            .include(TaskField::Tags)
            .send()
            .await
            .map_err(|error| request_error("DescribeTasks", &error))?;
        Ok(output.tasks.unwrap_or_default())
    }

    /// The ARNs of a cluster's container instances (every status but `INACTIVE`; all pages).
    pub async fn list_container_instances(
        &self,
        cluster: &str,
    ) -> Result<Vec<String>, EcsApiError> {
        self.all_pages(|token| async move {
            let page = self
                .client
                .list_container_instances()
                .cluster(cluster)
                .max_results(LIST_PAGE)
                .set_next_token(token)
                .send()
                .await
                .map_err(|error| request_error("ListContainerInstances", &error))?;
            Ok((page.container_instance_arns.unwrap_or_default(), page.next_token))
        })
        .await
    }

    /// Up to [`DESCRIBE_BATCH`] container instances of a cluster, with their tags.
    pub async fn describe_container_instances(
        &self,
        cluster: &str,
        arns: &[String],
    ) -> Result<Vec<ContainerInstance>, EcsApiError> {
        self.budget()?;
        let output = self
            .client
            .describe_container_instances()
            .cluster(cluster)
            .set_container_instances(Some(arns.to_vec()))
            .include(aws_sdk_ecs::types::ContainerInstanceField::Tags)
            .send()
            .await
            .map_err(|error| request_error("DescribeContainerInstances", &error))?;
        Ok(output.container_instances.unwrap_or_default())
    }

    /// The ARNs of a cluster's services (all pages; ECS lists no deleted service).
    pub async fn list_services(&self, cluster: &str) -> Result<Vec<String>, EcsApiError> {
        self.all_pages(|token| async move {
            let page = self
                .client
                .list_services()
                .cluster(cluster)
                .max_results(LIST_PAGE)
                .set_next_token(token)
                .send()
                .await
                .map_err(|error| request_error("ListServices", &error))?;
            Ok((page.service_arns.unwrap_or_default(), page.next_token))
        })
        .await
    }

    /// Up to [`DESCRIBE_SERVICES_BATCH`] services of a cluster, and the ones ECS does not know
    /// (`MISSING`).
    pub async fn describe_services(
        &self,
        cluster: &str,
        arns: &[String],
    ) -> Result<(Vec<Service>, Vec<Failure>), EcsApiError> {
        self.budget()?;
        let output = self
            .client
            .describe_services()
            .cluster(cluster)
            .set_services(Some(arns.to_vec()))
            .send()
            .await
            .map_err(|error| request_error("DescribeServices", &error))?;
        Ok((output.services.unwrap_or_default(), output.failures.unwrap_or_default()))
    }
}

fn request_error<E>(
    operation: &'static str,
    error: &SdkError<E, aws_sdk_ecs::config::http::HttpResponse>,
) -> EcsApiError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    EcsApiError::Request { operation, message: describe(error) }
}
