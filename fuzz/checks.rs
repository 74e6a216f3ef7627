// The checks each fuzz target runs on one input, written once: `fuzz/fuzz_targets/*.rs` and the
// corpus regression test (`tests/tests/fuzz_corpus.rs`) both `include!` this file. A check
// returns normally when the input is fine (rejected input included) and panics, saying what
// broke, when it finds a bug.

use ecs_events::alert::{MAX_SUBJECT_CHARS, RuleSet, render};
use ecs_events::event::{EcsEvent, ReceivedEvent};
use ecs_events::pattern::Pattern;
use ecs_events::state::StateRecord;
use serde_json::Value;

/// An event reduced to a pattern's paths, as `Pattern::paths` describes it: the pattern
/// suites' own projector.
mod projection {
    include!("../pattern/tests/support/mod.rs");
}

/// A check of one fuzz input.
pub type Check = fn(&[u8]);

/// Every fuzz target, by name (its folder under `fuzz/corpus/`), with its check.
pub const TARGETS: [(&str, Check); 4] = [
    ("received_event", check_received_event),
    ("pattern_compile", check_pattern_compile),
    ("pattern_match", check_pattern_match),
    ("replay_reader", check_replay_reader),
];

/// In `pattern_match` inputs, the byte between the pattern and the event (never in UTF-8).
const SEPARATOR: u8 = 0xFF;

/// The example rules, compiled once.
fn example_rules() -> &'static RuleSet {
    static RULES: std::sync::OnceLock<RuleSet> = std::sync::OnceLock::new();
    RULES.get_or_init(|| {
        RuleSet::from_json(include_str!("../rules/examples.json")).expect("example rules compile")
    })
}

/// `received_event`: any bytes → `ReceivedEvent::from_slice`. For an event that parses: its
/// text holds the JSON as delivered, the one-pass read (`ReceivedEvent::plain`) agrees with the
/// general path whenever it accepts, serialising the typed view and reading that back gives the
/// same typed event, the state record and every example rule's alert can be built, and each
/// alert's subject is one short line.
pub fn check_received_event(data: &[u8]) {
    let Ok(received) = ReceivedEvent::from_slice(data) else { return };
    let delivered: Value = serde_json::from_slice(data).expect("an event that parsed is JSON");
    assert_eq!(received.raw(), delivered, "the event's text is not the JSON as delivered");
    if let Some(plain) = std::str::from_utf8(data).ok().and_then(ReceivedEvent::plain) {
        let general = ReceivedEvent::from_delivered(
            ecs_events::event::Delivered::parse(data).expect("parses"),
        )
        .expect("the general path accepts what the one pass accepts");
        assert_eq!(plain.event, general.event, "the one pass and the general path disagree");
        let value = |text: &str| serde_json::from_str::<Value>(text).expect("JSON");
        assert_eq!(value(plain.detail_json()), value(general.detail_json()), "details differ");
        let stored = |received: ReceivedEvent| {
            StateRecord::from_event(received, ecs_events::state::Retention::default())
                .map(|record| record.map(|record| record.detail))
        };
        assert_eq!(stored(plain), stored(general), "they would store different details");
    }
    let value = serde_json::to_value(&received.event).expect("a typed event serialises");
    assert_eq!(value, received.event.to_value(), "to_value differs from serde_json::to_value");
    let reread = EcsEvent::from_raw(&value).expect("the serialised typed view parses again");
    assert_eq!(reread, received.event, "parse -> serialise -> parse changed the event");

    let _ = StateRecord::from_event(received.clone(), ecs_events::state::Retention::default());

    for rule in example_rules().rules() {
        let alert = render(rule, &received.event);
        let subject = &alert.subject;
        assert!(
            subject.chars().count() <= MAX_SUBJECT_CHARS,
            "rule {}: subject has {} chars (max {MAX_SUBJECT_CHARS}): {subject:?}",
            rule.name,
            subject.chars().count()
        );
        assert!(
            !subject.chars().any(char::is_control),
            "rule {}: subject has a control character: {subject:?}",
            rule.name
        );
    }
}

/// `pattern_compile`: any text → `Pattern::from_json` (no panic; time is bounded by the
/// fuzzer's timeout). A pattern that compiles compiles again from its source, reads at least
/// one path (listed sorted, once each), and matching it against its own source and against
/// the example events does not panic.
pub fn check_pattern_compile(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(pattern) = Pattern::from_json(text) else { return };
    let paths = pattern.paths();
    assert!(!paths.is_empty(), "a valid pattern reads no field");
    assert!(paths.windows(2).all(|pair| pair[0] < pair[1]), "paths unsorted or repeated");
    let again = Pattern::compile(pattern.source()).expect("a compiled pattern's source compiles");
    let own = pattern.matches(pattern.source());
    assert_eq!(own, again.matches(pattern.source()), "recompiled pattern matches differently");
    let event = serde_json::json!({
        "version": "0", "id": "e", "detail-type": "ECS Task State Change", "source": "aws.ecs",
        "account": "111122223333", "time": "2024-05-02T10:15:30Z", "region": "us-east-1",
        "resources": ["arn:aws:ecs:us-east-1:111122223333:task/c/0123"],
        "detail": {"lastStatus": "STOPPED", "stopCode": "EssentialContainerExited",
                   "containers": [{"name": "app", "exitCode": 137, "lastStatus": "STOPPED"}]}
    });
    assert_eq!(pattern.matches(&event), again.matches(&event), "recompiled pattern differs");
}

/// `pattern_match`: `pattern text 0xFF event bytes` (no separator: the input is both). When both
/// parse, matching the parsed event and matching its bytes agree, a recompiled pattern agrees
/// too, and so does the event reduced to the pattern's paths.
pub fn check_pattern_match(data: &[u8]) {
    let (pattern_bytes, event_bytes) = match data.iter().position(|&byte| byte == SEPARATOR) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, data),
    };
    let Ok(text) = std::str::from_utf8(pattern_bytes) else { return };
    let Ok(pattern) = Pattern::from_json(text) else { return };
    let Ok(event) = serde_json::from_slice::<Value>(event_bytes) else { return };
    let matched = pattern.matches(&event);
    let from_bytes = pattern.matches_slice(event_bytes).expect("bytes that parsed parse again");
    assert_eq!(matched, from_bytes, "matches and matches_slice disagree");
    let again = Pattern::compile(pattern.source()).expect("a compiled pattern's source compiles");
    assert_eq!(matched, again.matches(&event), "recompiled pattern matches differently");
    let reduced = projection::project(&event, &pattern.paths());
    assert_eq!(matched, pattern.matches(&reduced), "reduced to its paths: {reduced}");
    if !event.is_object() {
        assert!(!matched, "a pattern matched an event that is not an object");
    }
}

/// `replay_reader`: any bytes → `ecs_events_cli::input::read`, read to the end: no panic, and every
/// entry's line is between 1 and the number of lines + 1.
pub fn check_replay_reader(data: &[u8]) {
    let newlines = data.iter().filter(|&&byte| byte == b'\n').count();
    let lines = newlines + usize::from(data.last().is_some_and(|&byte| byte != b'\n'));
    for (line, _) in ecs_events_cli::input::read(std::io::Cursor::new(data.to_vec())) {
        assert!(
            (1..=lines + 1).contains(&line),
            "entry at line {line}, but the input has {lines} lines"
        );
    }
}
