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
use serde_json::Value;

/// A moto server on a free loopback port. It stops when the test binary exits: it runs under a
/// shell that waits on our stdin, which closes when this process ends.
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
    let script = format!(
        "python3 -m moto.server -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; \
         read -r _; kill $pid"
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

/// A DynamoDB client for the moto server, with dummy credentials.
pub fn dynamodb() -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(&moto().endpoint)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
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
