//! The AWS SDK clients of the functions, the CLI and the tests, built in one place: request
//! timeouts, the retry policy and the error codes the SDK does not know to retry are the same
//! wherever a client is made, so what a test proves is what is deployed.
//!
//! Every request has a connect timeout, a timeout per attempt and a timeout for all attempts
//! of one call, so a service that never answers costs a bounded time: a function always
//! answers (an SQS batch with its failures) and releases an alert claim before it is killed.

use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_sns::config::interceptors::InterceptorContext;
use aws_sdk_sns::config::retry::{ClassifyRetry, RetryAction};
use aws_sdk_sns::operation::publish::PublishError;

/// Time to open a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Time for one attempt of a request (DynamoDB and SNS answer in milliseconds).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time for every attempt of one call, retries and backoff included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts per call (the SDK's standard mode: exponential backoff with jitter).
pub const MAX_ATTEMPTS: u32 = 3;

/// SNS error codes that mean "slow down" but that the SDK does not retry: SNS answers
/// `KMSThrottling` when the topic's KMS key is throttled.
pub const SNS_THROTTLING_CODES: [&str; 2] = ["KMSThrottling", "KMSThrottlingException"];

/// The timeouts of every client.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The retry policy of every client: standard mode, [`MAX_ATTEMPTS`] attempts, backoff from
/// 100 ms up to 2 s.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(Duration::from_secs(2))
}

/// The SDK configuration from the usual AWS environment (region, credentials, per-service
/// `AWS_ENDPOINT_URL_*`), or for one endpoint (moto, DynamoDB Local) that overrides them; with
/// an endpoint and no credentials or region in the environment, dummy credentials and
/// `us-east-1` are used. Timeouts and retries are [`timeout_config`] and [`retry_config`].
///
/// Credentials and region that the environment holds (Lambda always sets `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` and `AWS_REGION`) are taken from it directly,
/// as the default chains would (the environment comes first in both), without building the
/// rest of the chains: the web identity provider's STS client alone builds an HTTPS connector
/// at start-up, and the IMDS and container providers clients of their own.
pub async fn sdk_config(endpoint_url: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeout_config())
        .retry_config(retry_config());
    if credentials_in_environment() {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    if let Some(region) = env_value("AWS_REGION") {
        loader = loader.region(Region::new(region));
    }
    if let Some(endpoint) = endpoint_url {
        loader = loader.endpoint_url(endpoint);
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader =
                loader.credentials_provider(Credentials::new("test", "test", None, None, "local"));
        }
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            loader = loader.region("us-east-1");
        }
    }
    loader.load().await
}

/// A variable's value when it is set and not empty (the SDK's environment providers treat an
/// empty value as unset).
fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

/// Whether the environment variable provider, first in the default chain, has credentials:
/// both the key id and the secret are set.
fn credentials_in_environment() -> bool {
    env_value("AWS_ACCESS_KEY_ID").is_some() && env_value("AWS_SECRET_ACCESS_KEY").is_some()
}

/// A DynamoDB client.
pub fn dynamodb(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

/// Attempts per ECS call: the reconciler shares the account's ECS request rate (20 a second
/// for list and describe calls) with everything else in it, so throttling is waited out longer.
pub const ECS_MAX_ATTEMPTS: u32 = 6;

/// An ECS client for the reconciler: standard retries with [`ECS_MAX_ATTEMPTS`] attempts and
/// backoff from 500 ms up to 20 s; 10 s per attempt (a `DescribeTasks` of 100 tasks is a few
/// hundred KB), 90 s per call.
pub fn ecs(config: &SdkConfig) -> aws_sdk_ecs::Client {
    let builder = aws_sdk_ecs::config::Builder::from(config)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(ECS_MAX_ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(500))
                .with_max_backoff(Duration::from_secs(20)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(90))
                .build(),
        );
    aws_sdk_ecs::Client::from_conf(builder.build())
}

/// The credentials of a role assumed through STS (`sts:AssumeRole`, session name
/// [`crate::reconcile::ROLE_SESSION_NAME`]), fetched when first used and renewed before they
/// expire; one per account, shared by its clients of every Region.
#[derive(Debug, Clone)]
pub struct AssumedRole {
    provider: aws_sdk_ecs::config::SharedCredentialsProvider,
    cache: aws_sdk_ecs::config::SharedIdentityCache,
}

/// The credentials of `role_arn`, assumed with `sdk`'s credentials through STS in `sdk`'s
/// Region (its timeouts, retries and endpoint apply; nothing is asked of STS until a client
/// uses them).
pub async fn assume_role(sdk: &SdkConfig, role_arn: &str) -> AssumedRole {
    let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
        .session_name(crate::reconcile::ROLE_SESSION_NAME)
        .configure(sdk)
        .build()
        .await;
    AssumedRole {
        provider: aws_sdk_ecs::config::SharedCredentialsProvider::new(provider),
        cache: aws_sdk_ecs::config::IdentityCache::lazy().build(),
    }
}

/// `base` (an [`ecs`] client) reading `region` (else its own) with `role`'s credentials (else
/// its own): how the reconciler reads another Region or a member account.
pub fn ecs_reaching(
    base: &aws_sdk_ecs::Client,
    region: Option<&str>,
    role: Option<&AssumedRole>,
) -> aws_sdk_ecs::Client {
    let mut builder = base.config().to_builder();
    if let Some(region) = region {
        builder = builder.region(Region::new(region.to_owned()));
    }
    if let Some(role) = role {
        // Set as it is (`credentials_provider` would wrap it anew, in a cache partition of its
        // own): the account's Regions share one assumed session.
        builder.set_credentials_provider(Some(role.provider.clone()));
        builder.set_identity_cache(role.cache.clone());
    }
    aws_sdk_ecs::Client::from_conf(builder.build())
}

/// An SNS client that also retries [`SNS_THROTTLING_CODES`].
pub fn sns(config: &SdkConfig) -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::from_conf(with_sns_retries(config.into()).build())
}

/// Adds what every SNS client needs to `builder`: retrying [`SNS_THROTTLING_CODES`] (for
/// clients built another way, such as the tests' mocks).
pub fn with_sns_retries(builder: aws_sdk_sns::config::Builder) -> aws_sdk_sns::config::Builder {
    builder.retry_classifier(SnsThrottling)
}

/// Classifies SNS's throttling codes the SDK does not know ([`SNS_THROTTLING_CODES`]) as
/// throttling, so they are retried with backoff.
#[derive(Debug)]
struct SnsThrottling;

impl ClassifyRetry for SnsThrottling {
    fn classify_retry(&self, context: &InterceptorContext) -> RetryAction {
        let code = context
            .output_or_error()
            .and_then(Result::err)
            .and_then(|error| error.as_operation_error())
            .and_then(|error| error.downcast_ref::<PublishError>())
            .and_then(ProvideErrorMetadata::code);
        match code {
            Some(code) if SNS_THROTTLING_CODES.contains(&code) => RetryAction::throttling_error(),
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "SnsThrottling"
    }
}
