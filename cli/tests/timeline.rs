//! `ecs-events replay --html` rendered by a real browser: headless Chromium (`chromium`, which
//! scripts/test installs when missing) loads the page offline, runs its script and dumps the DOM;
//! the DOM must hold one `data-task-arn` bar per task of the replay's report and one `data-alert`
//! marker per alert and digest. Each test keeps a screenshot under the test target folder and
//! prints its path (scripts/test lists them).

#[path = "../../tests/tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use serde_json::Value;
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
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("timeline-{name}.png"));
    let _ = std::fs::remove_file(&path);
    browse(page, &[&format!("--screenshot={}", path.display()), "--window-size=1600,1000"]);
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

/// The page drew exactly the report's tasks, one bar each, and one marker per alert.
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
        "one marker per alert and digest"
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
        let quiet =
            bar.contains("data-outcome=\"running\"") || bar.contains("data-outcome=\"stopped\"");
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
