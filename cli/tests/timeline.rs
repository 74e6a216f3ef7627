//! `ecs-events replay --html` rendered by a real browser: headless Chromium (`chromium`, which
//! scripts/test installs when missing) loads the page offline, runs its script and dumps the DOM;
//! the DOM must hold one `data-task-arn` bar per task of the replay's report, one `data-alert`
//! marker per message sent (alert, digest, "service down", "recovered" or "resolved"), and per
//! service its summary: the running series, the stops per interval, one band per deployment and
//! per silence. Each test keeps a screenshot under the test target folder and prints its path
//! (scripts/test lists them).

#[path = "../../tests/tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};
use support::events_dir;

/// The browser: `$CHROMIUM`, else `chromium` on the PATH.
fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".to_owned())
}

/// Headless Chromium's run of `page` with `args` (root needs --no-sandbox).
fn browse(page: &Path, args: &[&str]) -> std::process::Output {
    let output = Process::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"])
        .args(["--disable-dev-shm-usage", "--no-first-run", "--allow-file-access-from-files"])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|error| {
            panic!("{} does not run ({error}): scripts/test installs it", chromium())
        });
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output
}

/// The DOM after the page's script ran.
fn rendered_dom(page: &Path) -> String {
    let output = browse(page, &["--dump-dom", "--virtual-time-budget=10000"]);
    String::from_utf8(output.stdout).expect("UTF-8 DOM")
}

/// A screenshot of the page, kept under the test target folder; its path is printed.
fn screenshot(page: &Path, name: &str) -> PathBuf {
    screenshot_sized(page, name, "1600,1000")
}

/// A screenshot of the page in a window of `size` (`WIDTH,HEIGHT`).
fn screenshot_sized(page: &Path, name: &str, size: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("timeline-{name}.png"));
    let _ = std::fs::remove_file(&path);
    browse(page, &[&format!("--screenshot={}", path.display()), &format!("--window-size={size}")]);
    assert!(std::fs::metadata(&path).is_ok_and(|m| m.len() > 10_000), "{} written", path.display());
    println!("timeline screenshot: {}", path.display());
    path
}

/// `ecs-events replay --json --html PAGE PATHS`: the report, and the page's path and size.
fn replay_to_page(name: &str, paths: &[&Path]) -> (Value, PathBuf, u64) {
    let page = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("timeline-{name}.html"));
    let output = Command::cargo_bin("ecs-events")
        .expect("binary")
        .args(["replay", "--json", "--html"])
        .arg(&page)
        .args(paths)
        .output()
        .expect("ran");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).expect("report");
    let size = std::fs::metadata(&page).expect("page written").len();
    (report, page, size)
}

/// The values of `attribute` on the DOM's elements, in document order.
fn attribute_values<'a>(dom: &'a str, attribute: &str) -> Vec<&'a str> {
    let needle = format!(" {attribute}=\"");
    dom.match_indices(&needle)
        .filter_map(|(at, _)| dom[at + needle.len()..].split('"').next())
        .collect()
}

/// The page drew exactly the report's tasks, one bar each, and one marker per message.
fn assert_drawn(report: &Value, dom: &str) {
    assert!(dom.contains("data-rendered=\"true\""), "the page's script ran to its end");
    let bars = attribute_values(dom, "data-task-arn");
    let tasks: BTreeSet<&str> = report["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|task| task["taskArn"].as_str())
        .collect();
    assert_eq!(bars.len(), tasks.len(), "one bar per task");
    assert_eq!(bars.iter().copied().collect::<BTreeSet<_>>(), tasks);
    let alerts = report["alerts"].as_array().expect("alerts").len();
    assert_eq!(
        attribute_values(dom, "data-alert").len(),
        alerts,
        "one marker per alert, digest and service message"
    );
}

#[test]
fn given_the_bundled_events_then_the_browser_draws_every_task_and_every_alert() {
    let (report, page, size) = replay_to_page("bundled", &[&events_dir()]);
    let dom = rendered_dom(&page);
    assert_drawn(&report, &dom);
    assert!(report["alerts"].as_array().expect("alerts").len() >= 10);
    // The scenarios' crash loop, deployments and service actions are on the page too.
    assert!(dom.contains("marker digest crash-loop"), "a crash loop is highlighted");
    assert!(attribute_values(&dom, "data-service-event").contains(&"deployment"));
    assert!(attribute_values(&dom, "data-outcome").contains(&"oom"));
    assert!(dom.contains("All times UTC (event time)."));
    // Self-contained: nothing to fetch (the console links are only followed on a click).
    let text = String::from_utf8(std::fs::read(&page).expect("page")).expect("UTF-8");
    for fetch in [" src=", "<link", "fetch(", "import ", "XMLHttpRequest", "url("] {
        assert!(!text.contains(fetch), "the page would fetch: {fetch}");
    }
    println!("page: {} bytes", size);
    screenshot(&page, "bundled");
}

#[test]
fn given_a_generated_5000_task_corpus_then_every_task_is_drawn_and_the_page_stays_small() {
    let corpus = Path::new(env!("CARGO_TARGET_TMPDIR")).join("timeline-corpus-5000.jsonl");
    let generated = Command::cargo_bin("ecs-events")
        .expect("binary")
        .args(["generate", "--tasks", "5000", "--out"])
        .arg(&corpus)
        .output()
        .expect("ran");
    assert!(generated.status.success(), "{}", String::from_utf8_lossy(&generated.stderr));
    let (report, page, size) = replay_to_page("corpus-5000", &[&corpus]);
    assert!(report["stats"]["events"].as_u64().expect("events") >= 45_000);
    assert!(size < 5 * 1024 * 1024, "{size} bytes for about 50,000 events");
    println!("page: {size} bytes for {} events", report["stats"]["events"]);
    let dom = rendered_dom(&page);
    assert_drawn(&report, &dom);
    assert_eq!(attribute_values(&dom, "data-task-arn").len(), 5000);
    screenshot(&page, "corpus-5000");
}

/// GIVEN one cluster, service and task id in three accounts and two Regions, two accounts
/// named WHEN the browser draws the page THEN each account and Region is a section of its own,
/// headed by the account's name (else its id) and the Region, each with its one task and alert.
#[test]
fn given_one_cluster_in_three_accounts_and_two_regions_then_each_is_a_section_named_by_account() {
    let scenario = events_dir().join("scenarios/same-ids-in-three-accounts");
    let page = Path::new(env!("CARGO_TARGET_TMPDIR")).join("timeline-accounts.html");
    let output = Command::cargo_bin("ecs-events")
        .expect("binary")
        .args(["replay", "--json", "--account-names", "111122223333=prod-eu,444455556666=staging"])
        .arg("--html")
        .arg(&page)
        .arg(&scenario)
        .output()
        .expect("ran");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).expect("report");
    let dom = rendered_dom(&page);
    assert_drawn(&report, &dom);
    assert_eq!(
        attribute_values(&dom, "data-cluster"),
        [
            "777788889999 eu-west-1 / shop",
            "777788889999 us-east-1 / shop",
            "prod-eu eu-west-1 / shop",
            "prod-eu us-east-1 / shop",
            "staging eu-west-1 / shop",
            "staging us-east-1 / shop",
        ]
    );
    // Each section: one lane, its task's bar and its alert's marker.
    for section in dom.split("<section class=\"cluster\"").skip(1) {
        assert_eq!(attribute_values(section, "data-lane"), ["service:cart"], "{section}");
        assert_eq!(attribute_values(section, "data-task-arn").len(), 1, "{section}");
        assert_eq!(attribute_values(section, "data-alert"), ["alert"], "{section}");
    }
    screenshot(&page, "accounts");
}

#[test]
fn given_a_page_path_that_cannot_be_written_then_nothing_is_replayed_and_it_exits_2() {
    let output = Command::cargo_bin("ecs-events")
        .expect("binary")
        .args(["replay", "--html", "/nonexistent-folder/timeline.html"])
        .arg(events_dir())
        .output()
        .expect("ran");
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "no report: nothing was replayed");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(
            "ecs-events replay: cannot write the timeline to /nonexistent-folder/timeline.html: "
        ),
        "{stderr}"
    );
}

#[test]
fn given_a_view_in_the_address_then_the_browser_shows_only_failed_tasks_and_the_task_asked_for() {
    let (report, page, _) = replay_to_page("view", &[&events_dir()]);
    let oom = report["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|task| {
            task["stoppedReason"].as_str().is_some_and(|r| r.contains("OutOfMemory"))
                || task["containers"].to_string().contains("OutOfMemoryError")
        })
        .and_then(|task| task["taskArn"].as_str())
        .expect("an OOM-killed task")
        .to_owned();
    let url = format!("file://{}#failed=1&task={oom}", page.display());
    let output = Process::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        .args(["--dump-dom", "--virtual-time-budget=10000", &url])
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8(output.stdout).expect("UTF-8 DOM");
    assert!(dom.contains("data-rendered=\"true\""));
    // Every bar: hidden exactly when it did not fail.
    let bars: Vec<&str> =
        dom.split("<div class=\"bar ").skip(1).map(|b| b.split('>').next().unwrap_or(b)).collect();
    assert_eq!(bars.len(), report["tasks"].as_array().expect("tasks").len());
    for bar in &bars {
        let quiet = ["running", "completed", "stopped"]
            .iter()
            .any(|outcome| bar.contains(&format!("data-outcome=\"{outcome}\"")));
        assert_eq!(bar.split('"').next().unwrap_or_default().contains("hidden"), quiet, "{bar}");
    }
    assert!(
        bars.iter().any(|bar| bar.contains("hidden"))
            && bars.iter().any(|bar| !bar.contains("hidden"))
    );
    // The task asked for is selected and its facts shown, with its console link.
    let facts = dom
        .split("<aside id=\"facts\"")
        .nth(1)
        .and_then(|rest| rest.split("</aside>").next())
        .expect("facts");
    assert!(!facts.starts_with(" hidden"), "{facts}");
    assert!(facts.contains(&format!("data-task=\"{oom}\"")), "{facts}");
    assert!(facts.contains("out of memory"), "{facts}");
    let id = oom.rsplit('/').next().expect("id");
    assert!(facts.contains(&format!("/tasks/{id}/configuration?region=us-east-1\"")), "{facts}");
}

/// The service of the large corpus, its cluster and its deployments.
const ACCOUNT: &str = "111122223333";
const CLUSTER: &str = "prod-fargate";
const SERVICE: &str = "orders-worker";
const FIRST_DEPLOYMENT: &str = "ecs-svc/1111111111111111111";
const FAILED_DEPLOYMENT: &str = "ecs-svc/2222222222222222222";
const ROLLBACK_DEPLOYMENT: &str = "ecs-svc/3333333333333333333";

/// How a generated task ends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ending {
    /// Its work done: exit 0 (the log router stopped by SIGTERM).
    Completed,
    /// Scaled in by the scheduler.
    ScaledIn,
    /// Its essential container exited 1.
    Exit1,
    /// Killed for want of memory.
    Oom,
    /// Stopped by the scheduler after failing its ELB health checks.
    Unhealthy,
    /// Its image could not be pulled: it never started.
    FailedToStart,
    /// Still running at the end.
    Running,
}

/// A corpus of ECS events written as JSON Lines, in time order.
struct Corpus {
    rng: fastrand::Rng,
    lines: Vec<(DateTime<Utc>, usize, String)>,
}

fn seconds(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn millis(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn service_arn() -> String {
    format!("arn:aws:ecs:us-east-1:{ACCOUNT}:service/{CLUSTER}/{SERVICE}")
}

impl Corpus {
    fn hex(&mut self, len: usize) -> String {
        (0..len).map(|_| char::from_digit(self.rng.u32(0..16), 16).unwrap_or('0')).collect()
    }

    /// One event: the envelope ECS sends around `detail`.
    fn event(&mut self, time: DateTime<Utc>, detail_type: &str, resource: String, detail: Value) {
        let id = format!(
            "{}-{}-{}-{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(4),
            self.hex(4),
            self.hex(12)
        );
        let envelope = json!({
            "version": "0", "id": id, "detail-type": detail_type, "source": "aws.ecs",
            "account": ACCOUNT, "time": seconds(time), "region": "us-east-1",
            "resources": [resource], "detail": detail,
        });
        let order = self.lines.len();
        self.lines.push((time, order, envelope.to_string()));
    }

    fn desired_count(&mut self, time: DateTime<Utc>, count: i64) {
        let detail = json!({
            "eventType": "INFO", "eventName": "SERVICE_DESIRED_COUNT_UPDATED",
            "clusterArn": format!("arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/{CLUSTER}"),
            "desiredCount": count, "createdAt": millis(time),
        });
        self.event(time, "ECS Service Action", service_arn(), detail);
    }

    fn deployment(&mut self, time: DateTime<Utc>, id: &str, state: &str, reason: &str) {
        let detail = json!({
            "eventType": if state == "FAILED" { "ERROR" } else { "INFO" },
            "eventName": format!("SERVICE_DEPLOYMENT_{state}"),
            "deploymentId": id, "updatedAt": millis(time), "reason": reason,
        });
        self.event(time, "ECS Deployment State Change", service_arn(), detail);
    }

    /// A task created at `created` by `deployment`, running `ran` before it ends as `ending`:
    /// PROVISIONING (version 1), RUNNING (2), STOPPED (3); a task that fails to start goes from
    /// PROVISIONING to STOPPED.
    fn task(&mut self, created: DateTime<Utc>, ran: Duration, ending: Ending, deployment: &str) {
        let arn = format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task/{CLUSTER}/{}", self.hex(32));
        let revision = if deployment == FAILED_DEPLOYMENT { 42 } else { 41 };
        let image = format!(
            "{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{SERVICE}:2024.06.{}",
            revision - 40
        );
        let container = |name: &str, status: &str| {
            json!({"name": name, "lastStatus": status, "taskArn": arn,
                   "image": if name == "app" { image.as_str() } else { "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.2" }})
        };
        let mut detail = json!({
            "clusterArn": format!("arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/{CLUSTER}"),
            "taskArn": arn, "group": format!("service:{SERVICE}"), "startedBy": deployment,
            "launchType": "FARGATE", "cpu": "512", "memory": "1024",
            "taskDefinitionArn": format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{SERVICE}:{revision}"),
            "createdAt": millis(created), "desiredStatus": "RUNNING", "lastStatus": "PROVISIONING",
            "version": 1, "updatedAt": millis(created),
            "containers": [container("app", "PENDING"), container("log-router", "PENDING")],
        });
        self.event(created, "ECS Task State Change", arn.clone(), detail.clone());
        let stop = |detail: &mut Value,
                    at: DateTime<Utc>,
                    code: &str,
                    reason: &str,
                    exits: [Option<(i64, Option<&str>)>; 2],
                    version: u64| {
            detail["lastStatus"] = json!("STOPPED");
            detail["desiredStatus"] = json!("STOPPED");
            detail["version"] = json!(version);
            detail["stopCode"] = json!(code);
            detail["stoppedReason"] = json!(reason);
            detail["stoppingAt"] = json!(millis(at - Duration::seconds(2)));
            detail["executionStoppedAt"] = json!(millis(at - Duration::seconds(1)));
            detail["stoppedAt"] = json!(millis(at));
            detail["updatedAt"] = json!(millis(at));
            for (at, exit) in exits.iter().enumerate() {
                let container = &mut detail["containers"][at];
                container["lastStatus"] = json!("STOPPED");
                if let Some((code, reason)) = exit {
                    container["exitCode"] = json!(code);
                    if let Some(reason) = reason {
                        container["reason"] = json!(reason);
                    }
                }
            }
            at
        };
        if ending == Ending::FailedToStart {
            let pull = format!(
                "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {image}: not found"
            );
            let at = created + Duration::seconds(40);
            stop(&mut detail, at, "TaskFailedToStart", &pull, [None, None], 2);
            detail["containers"][0]["reason"] = json!(pull);
            self.event(at, "ECS Task State Change", arn, detail);
            return;
        }
        let started = created + Duration::seconds(12);
        detail["lastStatus"] = json!("RUNNING");
        detail["version"] = json!(2);
        detail["startedAt"] = json!(millis(started));
        detail["updatedAt"] = json!(millis(started));
        for at in 0..2 {
            detail["containers"][at]["lastStatus"] = json!("RUNNING");
        }
        self.event(started, "ECS Task State Change", arn.clone(), detail.clone());
        let at = started + ran;
        let scaled_in = format!("Scaling activity initiated by (deployment {deployment})");
        let oom = "OutOfMemoryError: Container killed due to memory usage";
        let (code, reason, exits) = match ending {
            Ending::Running | Ending::FailedToStart => return,
            Ending::Completed => (
                "EssentialContainerExited",
                "Essential container in task exited",
                [Some((0, None)), Some((143, None))],
            ),
            Ending::Exit1 => (
                "EssentialContainerExited",
                "Essential container in task exited",
                [Some((1, None)), Some((143, None))],
            ),
            Ending::Oom => (
                "EssentialContainerExited",
                "Essential container in task exited",
                [Some((137, Some(oom))), Some((143, None))],
            ),
            Ending::ScaledIn => (
                "ServiceSchedulerInitiated",
                scaled_in.as_str(),
                [Some((143, None)), Some((143, None))],
            ),
            Ending::Unhealthy => (
                "ServiceSchedulerInitiated",
                "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/orders/0123456789abcdef)",
                [Some((137, None)), Some((143, None))],
            ),
        };
        stop(&mut detail, at, code, reason, exits, 3);
        self.event(at, "ECS Task State Change", arn, detail);
    }

    fn write(mut self, path: &Path) -> usize {
        self.lines.sort_by_key(|(time, order, _)| (*time, *order));
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("corpus file"));
        for (_, _, line) in &self.lines {
            writeln!(out, "{line}").expect("written");
        }
        out.flush().expect("flushed");
        self.lines.len()
    }
}

/// One service's four hours, about 5,000 tasks: a desired count of 2 early on; deployment 1
/// completes; deployment 2 (an image that does not exist) fails with its tasks failing to
/// start and is rolled back by deployment 3 (the circuit breaker's rollback to deployment 1);
/// a wave of OOM kills leaves the service with no task from 2:10 to 2:45; then it runs again
/// (its last tasks still running at the end). Stops: mostly completed, some scaled in, exits
/// 1, OOM kills and failed health checks.
fn service_corpus(path: &Path) -> (usize, usize) {
    let start: DateTime<Utc> =
        DateTime::parse_from_rfc3339("2024-06-10T08:00:00Z").expect("time").to_utc();
    let at = |minutes: f64| start + Duration::milliseconds((minutes * 60_000.0) as i64);
    let mut corpus = Corpus { rng: fastrand::Rng::with_seed(24), lines: Vec::new() };
    corpus.desired_count(at(0.1), 2);
    let progress = |id: &str| format!("ECS deployment {id} in progress.");
    let completed = |id: &str| format!("ECS deployment {id} completed.");
    corpus.deployment(at(0.3), FIRST_DEPLOYMENT, "IN_PROGRESS", &progress(FIRST_DEPLOYMENT));
    corpus.deployment(at(8.0), FIRST_DEPLOYMENT, "COMPLETED", &completed(FIRST_DEPLOYMENT));
    corpus.deployment(at(60.0), FAILED_DEPLOYMENT, "IN_PROGRESS", &progress(FAILED_DEPLOYMENT));
    corpus.deployment(
        at(75.0),
        FAILED_DEPLOYMENT,
        "FAILED",
        &format!("ECS deployment circuit breaker: task failed to start. Rolling back to deploymentId {FIRST_DEPLOYMENT}."),
    );
    corpus.deployment(
        at(75.05),
        ROLLBACK_DEPLOYMENT,
        "IN_PROGRESS",
        &format!(
            "ECS deployment circuit breaker: rolling back to deploymentId {FIRST_DEPLOYMENT}."
        ),
    );
    corpus.deployment(at(86.0), ROLLBACK_DEPLOYMENT, "COMPLETED", &completed(ROLLBACK_DEPLOYMENT));
    // The failed deployment's tasks: one every 20 seconds, none starts.
    let mut failing = 60.2;
    while failing < 75.0 {
        corpus.task(at(failing), Duration::zero(), Ending::FailedToStart, FAILED_DEPLOYMENT);
        failing += 1.0 / 3.0;
    }
    let mut tasks = 0;
    let mut minute = 1.0;
    while minute < 240.0 {
        if (130.0..165.0).contains(&minute) {
            // No task starts: the service is down.
            minute = 165.0;
        }
        let deployment = if minute < 75.05 { FIRST_DEPLOYMENT } else { ROLLBACK_DEPLOYMENT };
        let roll = corpus.rng.f64();
        let (ending, ran) = if minute >= 238.5 {
            (Ending::Running, 0)
        } else if (118.0..130.0).contains(&minute) {
            // The OOM wave that takes the service down: short lives, all killed.
            (Ending::Oom, 15 + corpus.rng.i64(0..40))
        } else {
            let ending = match roll {
                r if r < 0.68 => Ending::Completed,
                r if r < 0.82 => Ending::ScaledIn,
                r if r < 0.92 => Ending::Exit1,
                r if r < 0.97 => Ending::Oom,
                _ => Ending::Unhealthy,
            };
            (ending, 30 + corpus.rng.i64(0..120))
        };
        corpus.task(at(minute), Duration::seconds(ran), ending, deployment);
        tasks += 1;
        // Load comes and goes: a task every 1.7 to 3.7 seconds.
        let gap = 1.7 + 2.0 * (0.5 + 0.5 * (minute / 45.0 * std::f64::consts::TAU).sin());
        minute += gap / 60.0;
    }
    let failed_to_start =
        corpus.lines.iter().filter(|(_, _, l)| l.contains("TaskFailedToStart")).count();
    let events = corpus.write(path);
    assert!(events > 14_000, "{events} events");
    (tasks + failed_to_start, events)
}

/// The opening tags of the elements whose tag starts with `start` (`<div class="x `).
fn tags<'a>(dom: &'a str, start: &str) -> Vec<&'a str> {
    dom.match_indices(start)
        .map(|(at, _)| dom[at..].split('>').next().unwrap_or_default())
        .collect()
}

/// The value of `attribute` in a tag.
fn attribute<'a>(tag: &'a str, attribute: &str) -> Option<&'a str> {
    let needle = format!(" {attribute}=\"");
    let at = tag.find(&needle)? + needle.len();
    tag[at..].split('"').next()
}

/// The data the page is drawn from, read back from the page.
fn page_data(page: &Path) -> Value {
    let text = std::fs::read_to_string(page).expect("page");
    let json = text
        .split("<script id=\"timeline-data\" type=\"application/json\">")
        .nth(1)
        .and_then(|rest| rest.split("</script>").next())
        .expect("data");
    serde_json::from_str(&json.replace("<\\/", "</")).expect("JSON")
}

#[test]
fn given_a_service_with_5000_tasks_then_the_browser_draws_its_summary_first() {
    // GIVEN four hours of one service: about 5,000 tasks, a failed deployment and its
    // rollback, and half an hour without any task.
    let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join("timeline-services-5000");
    std::fs::create_dir_all(&folder).expect("folder");
    let corpus = folder.join("events.jsonl");
    let (tasks, events) = service_corpus(&corpus);
    assert!((4_500..=5_500).contains(&tasks), "{tasks} tasks");
    // WHEN it is replayed to a page and the browser renders it
    let (report, page, size) = replay_to_page("services-5000", &[&corpus]);
    assert_eq!(report["stats"]["events"].as_u64(), Some(events as u64));
    assert_eq!(report["stats"]["rejected"].as_u64(), Some(0), "{}", report["rejected"]);
    println!("page: {size} bytes for {events} events, {tasks} tasks");
    assert!(size < 5 * 1024 * 1024, "{size} bytes");
    let dom = rendered_dom(&page);
    assert_drawn(&report, &dom);
    // THEN the service's lane has its summary: drawn first, its task bars behind a button
    let lane_at = dom.find("data-lane=\"service:orders-worker\"").expect("the service's lane");
    let lane = &dom[lane_at..];
    let lane_tag = dom[..lane_at].rsplit("<div class=\"lane").next().unwrap_or_default();
    assert!(lane_tag.contains("summary-only"), "its task bars are not drawn first: {lane_tag}");
    assert!(lane.contains("data-series=\"running\""), "the running series");
    assert!(lane.contains("show 5,") || lane.contains("show 4,"), "a button shows the task bars");
    // the running tasks over time: dozens at a time, none during the outage
    let data = page_data(&page);
    let summary = data["summaries"]
        .as_array()
        .expect("summaries")
        .iter()
        .find(|summary| summary["lane"] == "service:orders-worker")
        .expect("the service's summary");
    assert_eq!(summary["service"], service_arn());
    assert!(summary["runningMax"].as_u64().expect("max") >= 20, "{}", summary["runningMax"]);
    let outage = (
        DateTime::parse_from_rfc3339("2024-06-10T10:13:00Z").expect("t").timestamp_millis(),
        DateTime::parse_from_rfc3339("2024-06-10T10:45:00Z").expect("t").timestamp_millis(),
    );
    let running = summary["running"].as_array().expect("running");
    let count_at = |time: i64| {
        running
            .iter()
            .take_while(|point| point[0].as_i64().expect("time") <= time)
            .last()
            .and_then(|point| point[1].as_u64())
            .unwrap_or(0)
    };
    assert_eq!(count_at(outage.0), 0, "no task runs during the outage");
    assert_eq!(count_at(outage.1 - 1), 0);
    assert!(count_at(outage.0 - 20 * 60_000) > 10, "tasks ran before it");
    // the stops per interval: every stop counted once, by cause
    let buckets = tags(lane, "<g class=\"stop-bucket\"");
    assert!((40..=120).contains(&buckets.len()), "{} stop buckets", buckets.len());
    let stops: u64 = buckets
        .iter()
        .map(|tag| attribute(tag, "data-stops").and_then(|n| n.parse::<u64>().ok()).expect("n"))
        .sum();
    let stopped = report["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter(|task| task["lastStatus"] == "STOPPED")
        .count();
    assert_eq!(stops, stopped as u64, "every stop in one bucket");
    let causes: Vec<&str> = lane
        .match_indices(" data-cause=\"")
        .map(|(at, n)| lane[at + n.len()..].split('"').next().unwrap_or_default())
        .collect();
    for cause in [
        "exit 137 OutOfMemoryError",
        "exit 1",
        "CannotPullContainerError",
        "completed",
        "Scaling activity initiated",
    ] {
        assert!(causes.contains(&cause), "{cause} in {causes:?}");
    }
    // exactly the deployments generated, the failed one marked and its rollback named
    let bands: BTreeMap<&str, &str> = tags(lane, "<div class=\"deployment-band ")
        .into_iter()
        .map(|tag| (attribute(tag, "data-deployment-id").expect("id"), tag))
        .collect();
    let statuses: Vec<(&str, &str)> = bands
        .iter()
        .map(|(id, tag)| (*id, attribute(tag, "data-status").expect("status")))
        .collect();
    assert_eq!(
        statuses,
        [
            (FIRST_DEPLOYMENT, "COMPLETED"),
            (FAILED_DEPLOYMENT, "FAILED"),
            (ROLLBACK_DEPLOYMENT, "COMPLETED")
        ]
    );
    let failed = bands[FAILED_DEPLOYMENT];
    assert!(failed.contains("dep-failed"), "{failed}");
    assert_eq!(attribute(failed, "data-rolled-back-to"), Some(FIRST_DEPLOYMENT));
    let rollback = bands[ROLLBACK_DEPLOYMENT];
    assert!(rollback.contains("dep-rollback"), "{rollback}");
    assert_eq!(attribute(rollback, "data-rollback"), Some("true"));
    assert_eq!(attribute(rollback, "data-rolled-back-to"), Some(FIRST_DEPLOYMENT));
    assert!(lane.contains("rolled back to ecs-svc/…111111"), "the failed band says so");
    assert!(lane.contains("↺ rollback to ecs-svc/…111111"), "the rollback band says so");
    // the silence: one band per "service down" message the replay sent, ended by "recovered"
    let messages = report["alerts"].as_array().expect("alerts");
    let told = |kind: &str| {
        messages
            .iter()
            .filter(|alert| alert["kind"] == kind && alert["resource"] == service_arn().as_str())
            .filter(|alert| kind != "resolved" || alert["rule"] == "service-down")
            .count()
    };
    assert_eq!(told("silence"), 1, "the replay told the service down once");
    assert_eq!(told("resolved"), 1, "and recovered once");
    assert_eq!(attribute_values(lane, "data-silence"), ["ended"]);
    let silence = &summary["silences"][0];
    let (from, to) =
        (silence["start"].as_i64().expect("start"), silence["end"].as_i64().expect("end"));
    assert!(from <= outage.0 && to >= outage.1, "{from}..{to} spans the outage");
    let path = screenshot(&page, "services-5000");
    println!("timeline of one service, 5,000 tasks: {}", path.display());
}
