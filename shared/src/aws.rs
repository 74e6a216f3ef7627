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
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_sns::config::interceptors::InterceptorContext;
use aws_sdk_sns::config::retry::{ClassifyRetry, RetryAction};
use aws_sdk_sns::operation::publish::PublishError;
use aws_smithy_http_client::Builder as HttpClientBuilder;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};

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
/// `us-east-1` are used. Timeouts and retries are [`timeout_config`] and [`retry_config`];
/// certificates are checked against the system's store ([`TrustRoots::System`]): the CLI's and
/// the tests' configuration.
///
/// Credentials and region that the environment holds (Lambda always sets `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` and `AWS_REGION`) are taken from it directly,
/// as the default chains would (the environment comes first in both), without building the
/// rest of the chains: the web identity provider's STS client alone builds an HTTPS connector
/// at start-up, and the IMDS and container providers clients of their own.
pub async fn sdk_config(endpoint_url: Option<&str>) -> SdkConfig {
    load(endpoint_url, TrustRoots::System).await
}

/// The SDK configuration of a Lambda function: [`sdk_config`] from the environment, with the
/// trust roots [`TrustRoots::for_function`] chooses.
pub async fn function_sdk_config() -> SdkConfig {
    load(None, TrustRoots::for_function()).await
}

async fn load(endpoint_url: Option<&str>, roots: TrustRoots) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client(roots))
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

/// The root certificates of Amazon Trust Services (Amazon Root CA 1 to 4 and the Starfield
/// Services root that cross-signs them), which issue the certificates of the AWS endpoints
/// outside China (<https://www.amazontrust.com/repository/>).
pub const AMAZON_TRUST_SERVICES_ROOTS: &str = include_str!("../certs/amazon-trust-services.pem");

/// The certificates an HTTPS client trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustRoots {
    /// The system's store (`SSL_CERT_FILE` and `SSL_CERT_DIR` honoured), about 140 roots that
    /// every SDK client parses again when it is built.
    System,
    /// Only [`AMAZON_TRUST_SERVICES_ROOTS`]: five roots. Parsing the system store was about 90%
    /// of a function's start before its first poll (`scripts/bench-cold-start`).
    Amazon,
}

impl TrustRoots {
    /// A function's roots: [`TrustRoots::Amazon`], unless its environment says the endpoints
    /// may present other certificates — a China Region (`cn-`, whose endpoints other CAs
    /// sign), an `https` endpoint of its own (`AWS_ENDPOINT_URL` or
    /// `AWS_ENDPOINT_URL_<SERVICE>`; over plain HTTP no certificate is checked), or a bundle of
    /// its own (`SSL_CERT_FILE`, `SSL_CERT_DIR`: a TLS-inspecting proxy, say) — then
    /// [`TrustRoots::System`].
    pub fn for_function() -> Self {
        Self::for_environment(std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        }))
    }

    /// [`TrustRoots::for_function`] for these environment variables.
    fn for_environment(variables: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut system = false;
        for (name, value) in variables {
            let value = value.trim();
            system |= match name.as_str() {
                "AWS_REGION" => value.starts_with("cn-"),
                "SSL_CERT_FILE" | "SSL_CERT_DIR" => !value.is_empty(),
                // Over plain HTTP (a local moto, DynamoDB Local) no certificate is checked.
                _ => name.starts_with("AWS_ENDPOINT_URL") && value.starts_with("https://"),
            };
        }
        if system { Self::System } else { Self::Amazon }
    }
}

/// The HTTPS client of every SDK client: rustls with ring, trusting `roots`. Its connectors are
/// built per timeout setting and shared by the clients of one configuration.
pub fn https_client(roots: TrustRoots) -> SharedHttpClient {
    let trust_store = match roots {
        TrustRoots::System => TrustStore::default(),
        TrustRoots::Amazon => {
            TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS.as_bytes())
        }
    };
    let context = TlsContext::builder()
        .with_trust_store(trust_store)
        .build()
        .expect("a TLS context is built without checks");
    HttpClientBuilder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn roots(variables: &[(&str, &str)]) -> TrustRoots {
        TrustRoots::for_environment(
            variables.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        )
    }

    #[test]
    fn a_function_trusts_amazon_roots_unless_its_environment_points_elsewhere() {
        assert_eq!(roots(&[("AWS_REGION", "eu-west-1"), ("PATH", "/usr/bin")]), TrustRoots::Amazon);
        assert_eq!(roots(&[("AWS_REGION", "cn-north-1")]), TrustRoots::System);
        assert_eq!(roots(&[("SSL_CERT_FILE", "/opt/proxy-ca.pem")]), TrustRoots::System);
        assert_eq!(roots(&[("SSL_CERT_DIR", "/etc/pki/tls/certs")]), TrustRoots::System);
        assert_eq!(roots(&[("SSL_CERT_FILE", " ")]), TrustRoots::Amazon);
        assert_eq!(
            roots(&[("AWS_ENDPOINT_URL_DYNAMODB", "https://dynamodb.internal.example")]),
            TrustRoots::System
        );
        assert_eq!(
            roots(&[("AWS_ENDPOINT_URL", "https://aws.internal.example")]),
            TrustRoots::System
        );
        assert_eq!(roots(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")]), TrustRoots::Amazon);
    }

    #[test]
    fn the_amazon_trust_store_holds_the_five_roots() {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        let certificates = CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_ROOTS.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("the bundled roots are PEM");
        let named = |name: &str| {
            certificates
                .iter()
                .filter(|der| der.windows(name.len()).any(|w| w == name.as_bytes()))
                .count()
        };
        assert_eq!(certificates.len(), 5);
        for name in ["Amazon Root CA 1", "Amazon Root CA 2", "Amazon Root CA 3", "Amazon Root CA 4"]
        {
            assert_eq!(named(name), 1, "{name}");
        }
        assert_eq!(named("Starfield Services Root Certificate Authority - G2"), 1);
    }

    /// A client on the Amazon roots is built (its connector parses the bundle) and answers
    /// over plain HTTP, as a function does against a local endpoint.
    #[tokio::test]
    async fn a_client_on_the_amazon_roots_sends_its_requests() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut request = vec![0; 64 * 1024];
            let read = socket.read(&mut request).await.expect("read");
            let body = r#"{"TableNames":["tasks"]}"#;
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(response.as_bytes()).await.expect("write");
            String::from_utf8_lossy(&request[..read]).into_owned()
        });
        let config = load(Some(&endpoint), TrustRoots::Amazon).await;
        let tables = dynamodb(&config).list_tables().send().await.expect("ListTables");
        assert_eq!(tables.table_names(), ["tasks"]);
        let request = server.await.expect("server");
        assert!(request.contains("DynamoDB_20120810.ListTables"), "{request}");
    }
}
