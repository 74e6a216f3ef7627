//! `ecs-events generate`: a large, realistic, deterministic corpus of task lifecycles as JSON
//! Lines, for benchmarks. Each task follows the shape of the Fargate lifecycle in
//! `events/scenarios/fargate-lifecycle` (PROVISIONING → ... → STOPPED, versions 1 to 9) with its
//! own task id and event ids and its times moved later, task after task, so that tasks overlap
//! in time; a share of deliveries is duplicated and a share is delivered after the task's next
//! event.

use std::io::{self, Write};

use chrono::{DateTime, SecondsFormat};

/// The lifecycle every generated task follows, one event per version.
const LIFECYCLE: [&str; 9] = [
    include_str!("../../events/scenarios/fargate-lifecycle/01-provisioning-v1.json"),
    include_str!("../../events/scenarios/fargate-lifecycle/02-pending-v2.json"),
    include_str!("../../events/scenarios/fargate-lifecycle/03-activating-v3.json"),
    include_str!("../../events/scenarios/fargate-lifecycle/04-running-v4.json"),
    include_str!("../../events/scenarios/fargate-lifecycle/06-deactivating-v5.json"),
    include_str!("../../events/scenarios/fargate-lifecycle/07-stopping-v6.json"),
    include_str!("../../events/scenarios/fargate-lifecycle/08-deprovisioning-v7.json"),
    include_str!("../../events/scenarios/fargate-lifecycle/09-stopped-v8.json"),
    include_str!("../../events/scenarios/fargate-lifecycle/10-stopped-v9-eni-deleted.json"),
];

/// How many tasks run at the same time in the generated stream.
const OVERLAPPING_TASKS: usize = 64;

/// Seconds between the starts of two consecutive tasks (20,000 tasks span about 3.5 days, inside
/// the default 7-day retention).
const TASK_SPACING_SECONDS: i64 = 15;

/// The share of tasks that stop because their essential container exited (the rest are
/// scaled in): the former raise the default rule's alert.
const FAILING_SHARE: f64 = 0.3;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CorpusSpec {
    /// Number of tasks (each has 9 events).
    pub tasks: usize,
    /// Seed of the random choices: the same spec writes the same bytes.
    pub seed: u64,
    /// Share of deliveries sent twice.
    pub duplicates: f64,
    /// Share of events delivered after the task's next event.
    pub reordered: f64,
}

/// A lifecycle event as one compact line, with the ids it contains.
struct Template {
    line: String,
    event_id: String,
}

fn templates() -> io::Result<(Vec<Template>, String)> {
    let mut task_id = String::new();
    let templates = LIFECYCLE
        .iter()
        .map(|text| {
            let value: serde_json::Value = serde_json::from_str(text).map_err(io::Error::other)?;
            let arn = value["detail"]["taskArn"].as_str().unwrap_or_default();
            task_id = arn.rsplit('/').next().unwrap_or_default().to_owned();
            Ok(Template {
                event_id: value["id"].as_str().unwrap_or_default().to_owned(),
                line: value.to_string(),
            })
        })
        .collect::<io::Result<Vec<_>>>()?;
    Ok((templates, task_id))
}

/// Writes the corpus to `out`; returns the number of lines written.
pub fn generate(spec: CorpusSpec, out: &mut impl Write) -> io::Result<u64> {
    let (templates, template_task) = templates()?;
    let mut rng = fastrand::Rng::with_seed(spec.seed);
    let hex = |rng: &mut fastrand::Rng, len: usize| -> String {
        (0..len).map(|_| char::from_digit(rng.u32(0..16), 16).unwrap_or('0')).collect()
    };
    let mut written = 0;
    let mut started = 0;
    // Tasks in flight: (its lines, the next step), advanced round-robin.
    let mut running: Vec<(Vec<String>, usize)> = Vec::new();
    while started < spec.tasks || !running.is_empty() {
        while running.len() < OVERLAPPING_TASKS && started < spec.tasks {
            let offset = chrono::Duration::seconds(TASK_SPACING_SECONDS * started as i64);
            started += 1;
            let task_id = hex(&mut rng, 32);
            let failing = rng.f64() < FAILING_SHARE;
            let lines = templates
                .iter()
                .map(|template| {
                    let event_id = format!(
                        "{}-{}-{}-{}-{}",
                        hex(&mut rng, 8),
                        hex(&mut rng, 4),
                        hex(&mut rng, 4),
                        hex(&mut rng, 4),
                        hex(&mut rng, 12)
                    );
                    let line = shifted(
                        &template.line.replace(&template_task, &task_id),
                        offset,
                    )
                    .replace(&template.event_id, &event_id);
                    if failing {
                        line
                    } else {
                        line.replace(
                            "\"stoppedReason\":\"Essential container in task exited\"",
                            "\"stoppedReason\":\"Scaling activity initiated by (deployment ecs-svc/1234567890123456789)\"",
                        )
                        .replace("\"EssentialContainerExited\"", "\"ServiceSchedulerInitiated\"")
                    }
                })
                .collect::<Vec<String>>();
            // Out of order: an event delivered after the task's next one.
            let mut lines = lines;
            let mut step = 0;
            while step + 1 < lines.len() {
                if rng.f64() < spec.reordered {
                    lines.swap(step, step + 1);
                    step += 1;
                }
                step += 1;
            }
            running.push((lines, 0));
        }
        let slot = rng.usize(0..running.len());
        let (lines, step) = &mut running[slot];
        let line = std::mem::take(&mut lines[*step]);
        *step += 1;
        if *step == lines.len() {
            running.swap_remove(slot);
        }
        written += emit(out, &line, &mut rng, spec.duplicates)?;
    }
    Ok(written)
}

/// `line` with every RFC 3339 timestamp string moved `offset` later, written as it was (same
/// precision, so the same length); other strings as they are.
fn shifted(line: &str, offset: chrono::Duration) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find("\"20") {
        let (head, tail) = rest.split_at(at + 1);
        out.push_str(head);
        let end = tail.find('"').unwrap_or(tail.len());
        let text = &tail[..end];
        match DateTime::parse_from_rfc3339(text) {
            Ok(time) if text.ends_with('Z') => {
                let digits = text.split_once('.').map_or(0, |(_, fraction)| fraction.len() - 1);
                let format = match digits {
                    0 => SecondsFormat::Secs,
                    1..=3 => SecondsFormat::Millis,
                    4..=6 => SecondsFormat::Micros,
                    _ => SecondsFormat::Nanos,
                };
                out.push_str(&(time + offset).to_utc().to_rfc3339_opts(format, true));
            }
            _ => out.push_str(text),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn emit(
    out: &mut impl Write,
    line: &str,
    rng: &mut fastrand::Rng,
    duplicates: f64,
) -> io::Result<u64> {
    let copies = if rng.f64() < duplicates { 2 } else { 1 };
    for _ in 0..copies {
        writeln!(out, "{line}")?;
    }
    Ok(copies)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(seed: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let spec = CorpusSpec { tasks: 50, seed, duplicates: 0.1, reordered: 0.1 };
        generate(spec, &mut out).expect("in memory");
        out
    }

    #[test]
    fn given_timestamps_then_they_move_by_the_offset_in_their_own_format_and_nothing_else_does() {
        let line = r#"{"time":"2024-06-03T09:00:00Z","createdAt":"2024-06-03T09:00:01.123Z","memory":"2048","name":"2024-x"}"#;
        assert_eq!(
            shifted(line, chrono::Duration::seconds(90)),
            r#"{"time":"2024-06-03T09:01:30Z","createdAt":"2024-06-03T09:01:31.123Z","memory":"2048","name":"2024-x"}"#
        );
    }

    #[test]
    fn given_a_seed_then_the_corpus_is_the_same_bytes_every_time() {
        assert_eq!(corpus(7), corpus(7));
        assert_ne!(corpus(7), corpus(8));
    }

    #[test]
    fn given_50_tasks_then_each_has_nine_versions_plus_about_ten_percent_duplicates() {
        let text = String::from_utf8(corpus(1)).expect("UTF-8");
        let events: Vec<serde_json::Value> =
            text.lines().map(|line| serde_json::from_str(line).expect("JSON line")).collect();
        let tasks: std::collections::BTreeSet<&str> =
            events.iter().map(|e| e["detail"]["taskArn"].as_str().expect("arn")).collect();
        assert_eq!(tasks.len(), 50);
        assert!((450 + 20..450 + 80).contains(&events.len()), "{} lines", events.len());
        let ids: std::collections::BTreeSet<&str> =
            events.iter().map(|e| e["id"].as_str().expect("id")).collect();
        assert_eq!(ids.len(), 450, "every delivery of one event keeps its id");
        // Some task sees a version after a higher one.
        let mut highest = std::collections::BTreeMap::new();
        let mut late = 0;
        for event in &events {
            let version = event["detail"]["version"].as_u64().expect("version");
            let seen =
                highest.entry(event["detail"]["taskArn"].as_str().expect("arn")).or_insert(0);
            if version < *seen {
                late += 1;
            }
            *seen = (*seen).max(version);
        }
        assert!((10..100).contains(&late), "{late} late deliveries");
    }
}
