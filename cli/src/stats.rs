//! The replay's counts: how many events ended in each outcome, how many messages were sent, and
//! resources by cluster and status. Its own module so that the report (`replay`) and the page
//! (`timeline`) both read it without importing each other.

use std::collections::BTreeMap;

use serde::Serialize;

/// Counts: every event read ends in exactly one of stored, duplicates, stale, ignored,
/// rejected and failed; `alerts` counts the alerts sent, `alerts_failed` those that could not
/// be.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Events read.
    pub events: u64,
    /// Newer than the stored state: written.
    pub stored: u64,
    /// Same version as stored.
    pub duplicates: u64,
    /// Older than stored.
    pub stale: u64,
    /// Valid events the state tracker does not keep.
    pub ignored: u64,
    /// Entries that can never be stored: not valid ECS events, or details DynamoDB refuses.
    pub rejected: u64,
    /// Events the store failed on (throttling, an unreachable endpoint, a missing table...):
    /// valid input, which a later replay may store.
    pub failed: u64,
    /// Alerts sent (each match told on its own: the first of an incident, or of a rule that
    /// does not group).
    pub alerts: u64,
    /// Digests sent (one per incident window with further matches).
    pub digests: u64,
    /// "Service down" messages sent.
    pub silences: u64,
    /// "Resolved" and "recovered" messages sent.
    pub resolved: u64,
    /// Matches a rule did not tell, by how the task ended: a clean exit under a rule that does
    /// not tell completions (the default), a failure under one that tells only completions.
    /// Neither alerted nor counted into an incident.
    pub quiet: u64,
    /// Alerts that could not be published or recorded (the topic or the ledger failed).
    pub alerts_failed: u64,
}

/// Counts by cluster ARN, then by status.
pub type StatusCounts = BTreeMap<String, BTreeMap<String, usize>>;
