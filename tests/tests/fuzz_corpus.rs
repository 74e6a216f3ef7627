//! The fuzz corpora as regression tests, on stable: every input kept under
//! `fuzz/corpus/<target>/`, and every reproducer of a finding under
//! `fuzz/artifacts-found/<target>/`, passes the check the fuzz target `<target>` runs. The checks
//! are written once, in `fuzz/checks.rs`, which both the fuzz targets and this test `include!`.

mod checks {
    include!("../../fuzz/checks.rs");
}

use std::collections::BTreeSet;
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files directly in `dir` (none if it does not exist), in name order.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable folder entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// What a panic said.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|text| (*text).to_owned()))
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Runs `target`'s check on its corpus and its findings' reproducers; fails naming every input
/// whose check fails, and what broke.
fn check_corpus(target: &str) {
    let (_, check) = checks::TARGETS
        .into_iter()
        .find(|(name, _)| *name == target)
        .expect("a target of fuzz/checks.rs");
    let corpus = files_in(&fuzz_dir().join("corpus").join(target));
    assert!(!corpus.is_empty(), "fuzz/corpus/{target}/ has no inputs");
    let found = files_in(&fuzz_dir().join("artifacts-found").join(target));
    let mut failures = Vec::new();
    for file in corpus.iter().chain(&found) {
        let data = fs::read(file).expect("a readable input");
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| check(&data))) {
            failures.push(format!("{}: {}", file.display(), panic_message(payload.as_ref())));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {target} inputs fail their check:\n{}",
        failures.len(),
        corpus.len() + found.len(),
        failures.join("\n")
    );
}

#[test]
fn received_event_corpus_passes_its_checks() {
    check_corpus("received_event");
}

#[test]
fn pattern_compile_corpus_passes_its_checks() {
    check_corpus("pattern_compile");
}

#[test]
fn pattern_match_corpus_passes_its_checks() {
    check_corpus("pattern_match");
}

#[test]
fn replay_reader_corpus_passes_its_checks() {
    check_corpus("replay_reader");
}

/// Every fuzz target in `fuzz/fuzz_targets/` has its check in `fuzz/checks.rs` (and so a test
/// above), and every corpus or findings folder belongs to a target.
#[test]
fn every_fuzz_target_has_a_check_and_every_folder_a_target() {
    let name = |path: &PathBuf| {
        path.file_stem().and_then(|stem| stem.to_str()).expect("a UTF-8 name").to_owned()
    };
    let targets: BTreeSet<String> =
        files_in(&fuzz_dir().join("fuzz_targets")).iter().map(name).collect();
    let checked: BTreeSet<String> =
        checks::TARGETS.iter().map(|(target, _)| (*target).to_owned()).collect();
    assert_eq!(targets, checked, "fuzz/fuzz_targets/*.rs and checks::TARGETS differ");
    for folder in ["corpus", "artifacts-found"] {
        let Ok(entries) = fs::read_dir(fuzz_dir().join(folder)) else { continue };
        for entry in entries {
            let path = entry.expect("a readable folder entry").path();
            assert!(checked.contains(&name(&path)), "{} is not a fuzz target", path.display());
        }
    }
}
