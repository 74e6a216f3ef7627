//! The idempotency ledger: one alert per key (`rule#taskArn`, or `rule#eventId`), whatever the
//! number of deliveries, concurrent invocations or later STOPPED versions.
//!
//! Protocol: *claim* the key with a conditional write (in progress, with a lease that ends
//! just after the claiming invocation's deadline) → publish → *mark sent*, on condition that
//! the claim is still the caller's (its token). If publishing fails the claim is *released*
//! (again only the caller's own), so a retry can claim it again: no alert is lost. A claim
//! whose lease ran out (its holder died) can be taken over. Entries expire by TTL.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

/// What marking a claim sent found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marked {
    /// The caller's claim is now recorded as sent.
    Sent,
    /// The claim was no longer the caller's (its lease ended and another invocation took it
    /// over, or it was already marked): nothing was changed.
    NotHeld,
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours to send.
    Claimed,
    /// The alert was already sent.
    AlreadySent,
    /// Another invocation holds an unexpired claim.
    InProgress {
        /// When that claim's lease ends (epoch seconds).
        lease_until: i64,
    },
}

/// A ledger request failed.
#[derive(Debug, thiserror::Error)]
#[error("alert ledger {operation} for {key} failed: {message}")]
pub struct LedgerError {
    /// The ledger operation (`claim`, `mark sent`, `release`).
    pub operation: &'static str,
    /// The alert key.
    pub key: String,
    /// What went wrong.
    pub message: String,
    /// Whether a later retry may succeed.
    pub retryable: bool,
}

/// The ledger port.
#[async_trait]
pub trait AlertLedger: Send + Sync {
    /// Claims `key` for `token` until `lease_until` (epoch seconds): succeeds when there is no
    /// entry, or only a claim whose lease ended before `now`. The entry expires at `expires_at`.
    async fn claim(
        &self,
        key: &str,
        token: &str,
        now: i64,
        lease_until: i64,
        expires_at: i64,
    ) -> Result<Claim, LedgerError>;

    /// Records that the alert for `key` was sent, if `token` still holds its claim; the entry
    /// expires at `expires_at`.
    async fn mark_sent(
        &self,
        key: &str,
        token: &str,
        expires_at: i64,
    ) -> Result<Marked, LedgerError>;

    /// Gives back `token`'s claim on `key` after a failed send (a no-op if the claim is no
    /// longer `token`'s).
    async fn release(&self, key: &str, token: &str) -> Result<(), LedgerError>;
}

/// An entry of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Claimed { token: String, lease_until: i64 },
    Sent,
}

/// The in-memory ledger: the embedded default for local replay, same semantics as DynamoDB's.
#[derive(Debug, Default)]
pub struct InMemoryLedger {
    entries: Mutex<HashMap<String, Entry>>,
}

impl InMemoryLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl AlertLedger for InMemoryLedger {
    async fn claim(
        &self,
        key: &str,
        token: &str,
        now: i64,
        lease_until: i64,
        _expires_at: i64,
    ) -> Result<Claim, LedgerError> {
        let mut entries = self.lock();
        match entries.get(key) {
            Some(Entry::Sent) => Ok(Claim::AlreadySent),
            Some(Entry::Claimed { lease_until: held, .. }) if *held >= now => {
                Ok(Claim::InProgress { lease_until: *held })
            }
            _ => {
                entries.insert(
                    key.to_owned(),
                    Entry::Claimed { token: token.to_owned(), lease_until },
                );
                Ok(Claim::Claimed)
            }
        }
    }

    async fn mark_sent(
        &self,
        key: &str,
        token: &str,
        _expires_at: i64,
    ) -> Result<Marked, LedgerError> {
        let mut entries = self.lock();
        if !matches!(entries.get(key), Some(Entry::Claimed { token: held, .. }) if held == token) {
            return Ok(Marked::NotHeld);
        }
        entries.insert(key.to_owned(), Entry::Sent);
        Ok(Marked::Sent)
    }

    async fn release(&self, key: &str, token: &str) -> Result<(), LedgerError> {
        let mut entries = self.lock();
        if matches!(entries.get(key), Some(Entry::Claimed { token: held, .. }) if held == token) {
            entries.remove(key);
        }
        Ok(())
    }
}
