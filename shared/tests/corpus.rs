//! GIVEN every captured event under `events/` WHEN parsed and serialised THEN nothing is lost.

use std::fs;
use std::path::{Path, PathBuf};

use ecs_events::event::{EcsDetail, EcsEvent, ReceivedEvent};
use serde_json::Value;

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// Every event file under `dir`, in name order; names starting with `_` or `.` are not events,
/// and `bad-input/` holds the invalid ones.
fn event_files(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .expect("events folder is readable")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| {
            let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
            !name.starts_with(['_', '.']) && name != "bad-input"
        })
        .collect();
    entries.sort();
    entries
        .into_iter()
        .flat_map(|path| {
            if path.is_dir() {
                event_files(&path)
            } else if path.extension().is_some_and(|ext| ext == "json") {
                vec![path]
            } else {
                vec![]
            }
        })
        .collect()
}

#[test]
fn given_every_captured_event_then_its_text_is_kept_whole_and_its_typed_view_round_trips() {
    let files = event_files(&events_dir());
    assert!(files.len() >= 30, "the corpus has {} event files, expected at least 30", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let bytes = fs::read(file).expect("readable file");
        let original: Value = serde_json::from_slice(&bytes).expect("valid JSON");
        match ReceivedEvent::from_slice(&bytes) {
            Ok(received) => {
                let written = serde_json::to_string(&received.event).expect("serialises");
                let reparsed = EcsEvent::from_slice(written.as_bytes()).expect("reparses");
                if received.raw() != original {
                    failures.push(format!("{}: the event's text lost something", file.display()));
                }
                if reparsed != received.event
                    || EcsEvent::from_slice(&bytes).as_ref() != Ok(&received.event)
                {
                    failures.push(format!("{}: the typed view changed", file.display()));
                }
            }
            Err(error) => failures.push(format!("{}: {error}", file.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn given_every_detail_type_in_the_corpus_then_each_is_typed_not_unknown() {
    let mut seen = std::collections::BTreeSet::new();
    for file in event_files(&events_dir()) {
        let event = EcsEvent::from_slice(&fs::read(&file).expect("readable")).expect("valid");
        let kind = match event.detail {
            EcsDetail::Task(_) => "task",
            EcsDetail::ContainerInstance(_) => "container instance",
            EcsDetail::ServiceAction(_) => "service action",
            EcsDetail::Deployment(_) => "deployment",
            EcsDetail::Unknown(_) => panic!("{}: detail type not typed", file.display()),
        };
        seen.insert(kind);
    }
    assert_eq!(seen.len(), 4, "corpus covers {seen:?}");
}

#[test]
fn given_unknown_fields_at_every_level_then_the_text_and_the_stored_detail_keep_them() {
    use ecs_events::state::{Retention, StateRecord};
    let bytes = fs::read(events_dir().join("samples/task-unknown-fields.json")).expect("readable");
    let received = ReceivedEvent::from_slice(&bytes).expect("valid");
    let raw = received.raw();
    assert_eq!(raw["x-custom-top"]["nested"]["list"], serde_json::json!(["x"]), "{raw:#}");
    assert_eq!(raw["detail"]["futureField"], serde_json::json!([1, 2]));
    assert_eq!(
        raw["detail"]["containers"][0]["futureContainerField"],
        serde_json::json!({"a": true})
    );
    let record =
        StateRecord::from_event(received, Retention::default()).expect("fits").expect("task");
    let stored = record.detail.to_value();
    assert_eq!(stored["futureField"], serde_json::json!([1, 2]));
    assert_eq!(stored["containers"][0]["futureContainerField"], serde_json::json!({"a": true}));
    let original: Value = serde_json::from_slice(&bytes).expect("valid JSON");
    assert_eq!(stored, original["detail"], "nothing to redact: stored as delivered");
}

/// GIVEN every task event of the corpus WHEN stored as a DynamoDB item THEN the item's size, as
/// DynamoDB bills it, is what the record says, and a typical task event costs one write unit
/// (1 KB): the detail is compressed, the facts are short plain attributes.
#[test]
fn given_the_corpus_then_a_typical_task_event_is_one_dynamodb_write_unit() {
    use ecs_events::state::{ResourceKind, Retention, StateRecord, item_size, record_to_item};
    const WRITE_UNIT: usize = 1024;
    let mut sizes = Vec::new();
    for file in event_files(&events_dir()) {
        let received =
            ReceivedEvent::from_slice(&fs::read(&file).expect("readable")).expect("valid");
        let Some(record) = StateRecord::from_event(received, Retention::default()).expect("fits")
        else {
            continue;
        };
        let item = record_to_item(&record).expect("item");
        let encoded = record.detail.encode().expect("encodes").len();
        assert_eq!(record.item_size(encoded), item_size(&item), "{}", file.display());
        if record.kind == ResourceKind::Task {
            sizes.push((item_size(&item), record.detail.as_str().len()));
        }
    }
    sizes.sort_unstable();
    let (median, detail) = sizes[sizes.len() / 2];
    assert!(sizes.len() >= 50, "{} task events", sizes.len());
    assert!(
        median <= WRITE_UNIT,
        "median task item {median} bytes (detail {detail} bytes of JSON)"
    );
    let within = sizes.iter().filter(|(size, _)| *size <= WRITE_UNIT).count();
    eprintln!(
        "task items: median {median} bytes (detail {detail} bytes of JSON), {within} of {} in one write unit, largest {}",
        sizes.len(),
        sizes.last().map_or(0, |(size, _)| *size)
    );
    assert!(
        within * 10 >= sizes.len() * 9,
        "{within} of {} task items in one write unit",
        sizes.len()
    );
}
