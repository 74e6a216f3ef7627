//! Test support: a moto server started once per test binary, SDK clients pointed at it, and the
//! captured-event corpus.
#![allow(dead_code)] // each test binary uses its own part of the support module

use std::io::BufReader;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use ecs_events::state::Retention;
use serde_json::Value;

/// A moto server on a free loopback port, serving one request at a time. It stops when the
/// test binary exits: it runs under a shell that waits on our stdin, which closes when this
/// process ends.
pub struct Moto {
    pub endpoint: String,
    _child: Child,
}

/// The test binary's moto server, started on first use.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(start_moto)
}

fn start_moto() -> Moto {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    // moto's own WSGI application, one request at a time: conditional writes are then as
    // atomic as DynamoDB's (see the script).
    let launcher = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/moto/serialized_moto.py");
    let script = format!(
        "python3 {} {port} >/dev/null 2>&1 & pid=$!; read -r _; kill $pid",
        launcher.display()
    );
    let child = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .spawn()
        .expect("sh starts (is moto installed? scripts/test installs it)");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto server did not start on port {port} within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto { endpoint: format!("http://127.0.0.1:{port}"), _child: child }
}

/// A unique name for a table or topic: tests share one server.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Builds an SDK client config for the moto server, with dummy credentials and a region.
macro_rules! moto_config {
    ($service:ident) => {
        moto_config_builder!($service).build()
    };
}

/// The builder of [`moto_config!`], to add more (an interceptor) before building: the
/// shipped HTTPS client, timeouts and retry policy ([`ecs_events::aws`]), against moto.
macro_rules! moto_config_builder {
    ($service:ident) => {
        $service::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
            .endpoint_url(&moto().endpoint)
            .http_client(ecs_events::aws::https_client(ecs_events::aws::TrustRoots::System))
            .timeout_config(ecs_events::aws::timeout_config())
            .retry_config(ecs_events::aws::retry_config())
    };
}

/// Counts the HTTP requests a client sends (retries included).
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(std::sync::Arc<AtomicUsize>);

impl RequestCounter {
    /// Requests sent so far.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl aws_sdk_dynamodb::config::Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _config: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A DynamoDB client for the moto server that counts its requests.
pub fn counting_dynamodb(counter: &RequestCounter) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        moto_config_builder!(aws_sdk_dynamodb).interceptor(counter.clone()).build(),
    )
}

/// An SNS client for the moto server that counts its requests.
pub fn counting_sns(counter: &RequestCounter) -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::from_conf(
        moto_config_builder!(aws_sdk_sns).interceptor(counter.clone()).build(),
    )
}

/// A DynamoDB client for the moto server.
pub fn dynamodb() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(moto_config!(aws_sdk_dynamodb))
}

/// A service store over fresh service and deployment tables on the moto server, through
/// `client` (a counting one, say).
pub async fn moto_services_with(
    client: aws_sdk_dynamodb::Client,
) -> ecs_events::service::DynamoDbServiceStore {
    let (services, deployments) = (unique("services"), unique("deployments"));
    ecs_events_cli::tables::create_service_tables(&dynamodb(), &services, &deployments)
        .await
        .expect("service tables");
    ecs_events::service::DynamoDbServiceStore::new(client, services, deployments)
}

/// A service store over fresh tables on the moto server.
pub async fn moto_services() -> ecs_events::service::DynamoDbServiceStore {
    moto_services_with(dynamodb()).await
}

/// An SNS client for the moto server.
pub fn sns() -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::from_conf(
        ecs_events::aws::with_sns_retries(moto_config_builder!(aws_sdk_sns)).build(),
    )
}

/// An SQS client for the moto server.
pub fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(moto_config!(aws_sdk_sqs))
}

/// An SNS topic with an SQS queue subscribed to it.
pub struct Subscribed {
    pub topic_arn: String,
    pub queue_url: String,
}

/// Creates a topic and a queue subscribed to it (`raw` delivery or not, with an optional
/// filter policy on message attributes).
pub async fn topic_with_queue(raw: bool, filter_policy: Option<&str>) -> Subscribed {
    let topic_arn = sns()
        .create_topic()
        .name(unique("alerts"))
        .send()
        .await
        .expect("topic")
        .topic_arn
        .expect("topic ARN");
    subscribe_queue(&topic_arn, raw, filter_policy).await
}

/// Subscribes a new SQS queue to `topic_arn`.
pub async fn subscribe_queue(
    topic_arn: &str,
    raw: bool,
    filter_policy: Option<&str>,
) -> Subscribed {
    let queue_url = new_queue("alerts-queue").await;
    let queue_arn = sqs()
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes
        .and_then(|mut attributes| {
            attributes.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        })
        .expect("queue ARN");
    let mut subscribe = sns().subscribe().topic_arn(topic_arn).protocol("sqs").endpoint(queue_arn);
    if raw {
        subscribe = subscribe.attributes("RawMessageDelivery", "true");
    }
    if let Some(policy) = filter_policy {
        subscribe = subscribe.attributes("FilterPolicy", policy);
    }
    subscribe.send().await.expect("subscribed");
    Subscribed { topic_arn: topic_arn.to_owned(), queue_url }
}

/// The JSON documents delivered to a (non-raw) queue subscribed to an alert topic (drained).
pub async fn documents(queue_url: &str) -> Vec<Value> {
    drain(queue_url)
        .await
        .iter()
        .map(|message| {
            let envelope: Value =
                serde_json::from_str(message.body().expect("body")).expect("JSON");
            serde_json::from_str(envelope["Message"].as_str().expect("Message")).expect("JSON")
        })
        .collect()
}

/// A new SQS queue; its URL.
pub async fn new_queue(prefix: &str) -> String {
    sqs()
        .create_queue()
        .queue_name(unique(prefix))
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("queue URL")
}

/// Every message waiting in a queue (drained).
pub async fn drain(queue_url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let mut messages = Vec::new();
    loop {
        let received = sqs()
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .wait_time_seconds(0)
            .send()
            .await
            .expect("receive")
            .messages
            .unwrap_or_default();
        if received.is_empty() {
            return messages;
        }
        for message in &received {
            if let Some(handle) = message.receipt_handle() {
                sqs()
                    .delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .expect("delete");
            }
        }
        messages.extend(received);
    }
}

/// The `events/` folder.
pub fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// A scenario: its events in delivery order and its expected final state.
pub struct Scenario {
    pub name: String,
    pub events: Vec<Value>,
    pub expected: Value,
}

/// Every scenario under `events/scenarios`, in name order.
pub fn scenarios() -> Vec<Scenario> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(events_dir().join("scenarios"))
        .expect("scenarios folder")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .expect("scenario folder")
                .map(|entry| entry.expect("entry").path())
                .filter(|path| {
                    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                    name.ends_with(".json") && !name.starts_with(['_', '.'])
                })
                .collect();
            files.sort();
            Scenario {
                name: dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned(),
                events: files.iter().map(|file| read_json(file)).collect(),
                expected: read_json(&dir.join("_expected.json")),
            }
        })
        .collect()
}

/// A JSON file.
pub fn read_json(path: &Path) -> Value {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_reader(BufReader::new(file))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Log lines written by `tracing` while a test runs (see [`capture_logs`]).
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// What was written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures every log line, at the most verbose level and as JSON (as the functions write
/// them in Lambda), until the guard drops.
pub fn capture_logs() -> (Captured, tracing::subscriber::DefaultGuard) {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

/// A retention that covers the captured events (from 2024). The functions judge an event's age
/// by the wall clock, and an event older than the retention only updates a record that exists
/// (so an expired one is not brought back): to store the corpus through them, the retention
/// must reach back that far.
pub fn covering_retention() -> Retention {
    let ten_years = chrono::Duration::days(3650);
    Retention { stopped_task: ten_years, inactive_instance: ten_years }
}

/// How long alert ledger entries stay (the alerter's default).
pub fn ledger_retention() -> chrono::Duration {
    chrono::Duration::days(i64::from(ecs_events::alert::DEFAULT_LEDGER_RETENTION_DAYS))
}

/// The rules a scenario is replayed with: its `_expected.json`'s `rules` file, else the
/// default rule set.
pub fn scenario_rules(expected: &Value) -> ecs_events::alert::RuleSet {
    match expected["rules"].as_str() {
        Some(file) => {
            let text =
                std::fs::read_to_string(events_dir().join("..").join(file)).expect("rules file");
            ecs_events::alert::RuleSet::from_json(&text).expect("rules")
        }
        None => ecs_events::alert::RuleSet::default_rules(),
    }
}

/// Whether a message tells of matches (an alert or a digest), not of a service's health
/// (`silence`, `resolved`).
fn is_match(message: &Value) -> bool {
    !matches!(message["kind"].as_str(), Some("silence" | "resolved"))
}

/// Every (rule, resource) a scenario's messages must tell of, each exactly once: the resource
/// of each alert and every resource of each digest, sorted.
pub fn expected_coverage(expected: &Value) -> Vec<(String, String)> {
    let mut covered: Vec<(String, String)> = expected["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter(|alert| is_match(alert))
        .flat_map(|alert| {
            let rule = alert["rule"].as_str().expect("rule").to_owned();
            let resources: Vec<String> = match alert["kind"].as_str() {
                Some("digest") => alert["resources"]
                    .as_array()
                    .expect("a digest lists its resources")
                    .iter()
                    .map(|resource| resource.as_str().expect("resource").to_owned())
                    .collect(),
                _ => vec![alert["resource"].as_str().expect("resource").to_owned()],
            };
            resources.into_iter().map(move |resource| (rule.clone(), resource))
        })
        .collect();
    covered.sort();
    covered
}

/// What a list of sent messages (report entries or JSON documents: `kind`, `rule`, `resource`
/// or `taskArn`, and a digest's `resources` or `tasks`) tells of, sorted, duplicates kept.
pub fn coverage_of(messages: &[Value]) -> Vec<(String, String)> {
    let mut covered = Vec::new();
    for message in messages.iter().filter(|message| is_match(message)) {
        let rule = message["rule"].as_str().expect("rule").to_owned();
        if message["kind"] == "digest" {
            let listed =
                message.get("resources").or_else(|| message.get("tasks")).expect("digest list");
            for entry in listed.as_array().expect("list") {
                let id = entry.as_str().or_else(|| entry["id"].as_str()).expect("resource");
                covered.push((rule.clone(), id.to_owned()));
            }
        } else {
            let resource =
                message.get("taskArn").or_else(|| message.get("resource")).expect("resource");
            covered.push((rule, resource.as_str().expect("resource").to_owned()));
        }
    }
    covered.sort();
    covered
}

/// Fails the first `failures` publishes (of `only` kind when set: alerts or digests) with a
/// retryable error, then publishes through `inner`; `calls` counts the publishes it saw.
pub struct FlakySink {
    pub inner: ecs_events::alert::SnsAlertSink,
    pub failures: usize,
    pub only: Option<ecs_events::alert::AlertKind>,
    pub calls: AtomicUsize,
}

impl FlakySink {
    /// Fails the first `failures` publishes of `only` kind (or of any) on `inner`.
    pub fn new(
        inner: ecs_events::alert::SnsAlertSink,
        failures: usize,
        only: Option<ecs_events::alert::AlertKind>,
    ) -> Self {
        Self { inner, failures, only, calls: AtomicUsize::new(0) }
    }
}

#[async_trait::async_trait]
impl ecs_events::alert::AlertSink for FlakySink {
    async fn publish(
        &self,
        alert: &ecs_events::alert::Alert,
    ) -> Result<(), ecs_events::alert::SinkError> {
        let targeted = self.only.is_none_or(|kind| alert.kind == kind);
        if targeted && self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err(ecs_events::alert::SinkError {
                key: alert.dedup_key.clone(),
                message: "injected: Throttling: Rate exceeded".into(),
                retryable: true,
            });
        }
        self.inner.publish(alert).await
    }
}

/// An SQS record of the state tracker's buffer, as Lambda hands it over, holding `body`.
pub fn sqs_record(message_id: &str, body: &str) -> Value {
    serde_json::json!({
        "messageId": message_id,
        "receiptHandle": format!("handle-{message_id}"),
        "body": body,
        "attributes": {},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:state-tracker-buffer",
        "awsRegion": "us-east-1"
    })
}
