//! `ecs-events test-rules`: golden cases for alert rules, the way a user's CI knows that a
//! change to the rules still tells what it should (and not what it should not).
//!
//! A case is a folder of event files (any format `replay` reads) and its golden file,
//! [`GOLDEN_FILE`]: what the toolkit sends for those events. Each case is replayed on its own,
//! in event time, through the embedded adapters and the same alerter and incident logic as
//! `replay` ([`Replayer::deciding`]); what it would send is compared with the golden file, field
//! by field ([`Told`]). A golden file is stable: the same input writes the same bytes (sorted
//! keys, messages in the order they are sent, nothing of the run itself).

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use ecs_events::alert::{Alert, AlertKind};
use ecs_events::state::Retention;
use serde::{Deserialize, Serialize};
use similar::TextDiff;

use crate::input::{EVENT_FILE_EXTENSIONS, InputError, files, read_file};
use crate::replay::{Adapters, Decisions, Replayer};

/// The golden file of a case: what the toolkit must send for the case's events.
pub const GOLDEN_FILE: &str = "expected.json";

/// One message a case sends, as the golden file keeps it. Keys are in alphabetical order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Told {
    /// The incident key, when the rule groups its matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    /// `alert`, `digest`, `silence` or `resolved`.
    pub kind: String,
    /// What the message is about: a task ARN, a service ARN...
    pub resource: String,
    /// The rule that told it.
    pub rule: String,
    /// `error`, `warning` or `info`.
    pub severity: String,
    /// The subject line.
    pub subject: String,
    /// How many tasks a digest tells of (digests only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<u64>,
}

impl Told {
    /// What the golden file keeps of `alert`.
    pub fn of(alert: &Alert) -> Self {
        Self {
            incident: alert.incident.clone(),
            kind: alert.kind.as_str().to_owned(),
            resource: alert.resource.clone(),
            rule: alert.rule.clone(),
            severity: alert.severity.as_str().to_owned(),
            subject: alert.subject.clone(),
            tasks: (alert.kind == AlertKind::Digest).then_some(alert.count),
        }
    }
}

/// A golden file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Golden {
    /// What is sent, in the order it is sent.
    pub messages: Vec<Told>,
}

impl Golden {
    /// The golden file's bytes: pretty JSON, keys sorted, a final newline.
    pub fn to_text(&self) -> String {
        // Plain strings and numbers always serialise.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Why the cases could not be run: a usage or input error (exit status 2), never a failing
/// case.
#[derive(Debug, thiserror::Error)]
pub enum TestRulesError {
    /// A case path cannot be read.
    #[error(transparent)]
    Read(#[from] InputError),
    /// A case path is not a folder.
    #[error("{0}: a case is a folder of event files and its {GOLDEN_FILE}")]
    NotAFolder(PathBuf),
    /// A folder holds no case.
    #[error("{0}: no case here (a folder holding event files or an {GOLDEN_FILE})")]
    NoCase(PathBuf),
    /// An event of a case is not a valid ECS event.
    #[error("case {case}: {location}: {error}")]
    Event {
        /// The case.
        case: String,
        /// `file:line`.
        location: String,
        /// What was wrong.
        error: String,
    },
    /// A golden file is not valid.
    #[error("{path}: {error}")]
    Golden {
        /// The golden file.
        path: PathBuf,
        /// What was wrong.
        error: String,
    },
    /// A golden file cannot be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The golden file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The report cannot be written to the output.
    #[error("cannot write the report: {0}")]
    Output(#[from] std::io::Error),
}

/// A case: a folder of events and its golden file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The folder, as given (or found under a folder given).
    pub dir: PathBuf,
}

impl Case {
    /// The case's name: its folder.
    pub fn name(&self) -> String {
        self.dir.display().to_string()
    }

    /// The golden file's path.
    pub fn golden_path(&self) -> PathBuf {
        self.dir.join(GOLDEN_FILE)
    }
}

/// The cases `paths` name: a folder holding event files or a golden file is a case; any other
/// folder stands for the cases under it (in name order, skipping names that start with `.`
/// or `_`).
pub fn cases(paths: &[PathBuf]) -> Result<Vec<Case>, TestRulesError> {
    let mut found = Vec::new();
    for path in paths {
        let metadata =
            std::fs::metadata(path).map_err(|source| InputError { path: path.clone(), source })?;
        if !metadata.is_dir() {
            return Err(TestRulesError::NotAFolder(path.clone()));
        }
        let before = found.len();
        collect(path, &mut found)?;
        if found.len() == before {
            return Err(TestRulesError::NoCase(path.clone()));
        }
    }
    Ok(found)
}

fn collect(dir: &Path, found: &mut Vec<Case>) -> Result<(), TestRulesError> {
    let error = |source| InputError { path: dir.to_owned(), source };
    let mut entries = std::fs::read_dir(dir)
        .map_err(error)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(error)?;
    entries.sort();
    // The golden file is a `.json` file too.
    let is_case = entries.iter().any(|path| {
        path.is_file()
            && path
                .extension()
                .and_then(|ext| ext.to_str())
                .is_some_and(|ext| EVENT_FILE_EXTENSIONS.contains(&ext))
    });
    if is_case {
        found.push(Case { dir: dir.to_owned() });
        return Ok(());
    }
    for path in entries {
        let hidden = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with(['.', '_']));
        if path.is_dir() && !hidden {
            collect(&path, found)?;
        }
    }
    Ok(())
}

/// What the case's events make the toolkit send, deciding with `decisions`.
pub async fn replay_case(case: &Case, decisions: &Decisions) -> Result<Golden, TestRulesError> {
    let mut replayer =
        Replayer::deciding(Adapters::embedded(), decisions.clone(), Retention::default());
    let golden = case.golden_path();
    let event_files: Vec<PathBuf> = files(std::slice::from_ref(&case.dir))?
        .into_iter()
        .filter(|file| *file != golden)
        .collect();
    for file in &event_files {
        for entry in read_file(file, 0)? {
            if let Err(error) = &entry.event {
                return Err(TestRulesError::Event {
                    case: case.name(),
                    location: entry.location.to_string(),
                    error: error.clone(),
                });
            }
            replayer.replay(entry).await;
        }
    }
    let report = replayer.finish().await;
    if let Some(rejected) = report.rejected.first() {
        return Err(TestRulesError::Event {
            case: case.name(),
            location: rejected.location.clone(),
            error: rejected.error.clone(),
        });
    }
    Ok(Golden { messages: report.alerts.iter().map(Told::of).collect() })
}

/// The golden file of `case`, or `None` when it has none.
pub fn read_golden(case: &Case) -> Result<Option<Golden>, TestRulesError> {
    let path = case.golden_path();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(InputError { path, source }.into()),
    };
    serde_json::from_str(ecs_events::event::without_bom(&text))
        .map(Some)
        .map_err(|error| TestRulesError::Golden { path, error: error.to_string() })
}

/// How a run ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Cases whose messages are their golden file's.
    pub passed: usize,
    /// Cases whose messages are not, or that have no golden file.
    pub failed: usize,
    /// Golden files rewritten (`--update`).
    pub updated: usize,
    /// Golden files already right (`--update`).
    pub unchanged: usize,
}

/// Runs (or, with `update`, rewrites the golden files of) `cases`, deciding with `decisions`,
/// and writes one line per case, a unified diff under each failing one, and a closing line to
/// `out`.
pub async fn test_rules(
    cases: &[Case],
    decisions: &Decisions,
    update: bool,
    out: &mut impl Write,
) -> Result<Summary, TestRulesError> {
    let mut summary = Summary::default();
    for case in cases {
        let actual = replay_case(case, decisions).await?;
        let actual_text = actual.to_text();
        let name = case.name();
        if update {
            let path = case.golden_path();
            let current = std::fs::read_to_string(&path).unwrap_or_default();
            if current == actual_text {
                summary.unchanged += 1;
                writeln!(out, "case {name} ... unchanged")?;
            } else {
                std::fs::write(&path, &actual_text)
                    .map_err(|source| TestRulesError::Write { path: path.clone(), source })?;
                summary.updated += 1;
                writeln!(out, "case {name} ... updated")?;
            }
            continue;
        }
        match read_golden(case)? {
            Some(expected) if expected == actual => {
                summary.passed += 1;
                writeln!(out, "case {name} ... ok")?;
            }
            Some(expected) => {
                summary.failed += 1;
                writeln!(out, "case {name} ... FAILED")?;
                out.write_all(diff(case, &expected.to_text(), &actual_text).as_bytes())?;
            }
            None => {
                summary.failed += 1;
                writeln!(out, "case {name} ... FAILED")?;
                writeln!(
                    out,
                    "  no {GOLDEN_FILE}: write it with `ecs-events test-rules --update {name}` \
                     (with the same --rules), review it, and commit it"
                )?;
            }
        }
    }
    if update {
        writeln!(out, "\n{} updated, {} unchanged", summary.updated, summary.unchanged)?;
    } else {
        writeln!(out, "\n{} passed, {} failed", summary.passed, summary.failed)?;
    }
    Ok(summary)
}

/// A unified diff from the golden file to what the rules send now: a message missing is a
/// block of `-` lines, an extra one a block of `+` lines, a changed field a `-`/`+` pair.
fn diff(case: &Case, expected: &str, actual: &str) -> String {
    let golden = case.golden_path().display().to_string();
    let mut text = String::new();
    let _ = write!(
        text,
        "{}",
        TextDiff::from_lines(expected, actual)
            .unified_diff()
            .context_radius(3)
            .header(&golden, "what the rules send now")
    );
    text
}
