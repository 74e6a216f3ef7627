//! The [`Alerter`]: for each (rule, event) EventBridge matched, claim the alert's key in the
//! ledger → render → publish → mark it sent.
//!
//! * **One invocation per (event, rule).** The templates route each alert rule's events to the
//!   alerter with the rule's name ([`Alerter::process_rule`]): nothing is matched again, so the
//!   alerter cannot disagree with EventBridge, and an event that matches two rules is two
//!   independent invocations. A raw event ([`Alerter::process`], local invokes and replays) is
//!   matched against every rule, and every rule's result is reported.
//! * **A claim held elsewhere is waited for**, up to the invocation's deadline: it ends sent
//!   (nothing to do), released (this invocation sends) or expired (its holder died; this one
//!   takes over).
//! * **The publish is the commit point.** Once SNS accepted the message, nothing fails the
//!   invocation or publishes again: marking the claim sent is retried in-process, and if it
//!   still fails the alert is reported as sent but unrecorded (logged and counted).
//! * **A failed publish is reported as such**, even when releasing the claim fails too.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;

use super::ledger::{AlertLedger, Claim, LedgerError, Marked};
use super::render::{Alert, alert_target, render};
use super::rules::{AlertRule, RuleSet};
use super::sink::{AlertSink, SinkError};
use crate::deadline::Deadline;
use crate::event::{EcsEvent, ReceivedEvent};

/// A lease ends this long after its holder's deadline (clocks of different hosts differ).
pub const LEASE_GRACE: Duration = Duration::from_secs(5);
/// Kept back from the deadline so a claim can be released after a failed publish.
pub const RELEASE_RESERVE: Duration = Duration::from_secs(2);
/// Attempts to mark a claim sent after a successful publish.
pub const MARK_ATTEMPTS: u32 = 3;
/// First pause while another invocation holds a claim; it doubles up to [`MAX_WAIT_PAUSE`].
const FIRST_WAIT_PAUSE: Duration = Duration::from_millis(50);
const MAX_WAIT_PAUSE: Duration = Duration::from_secs(1);

/// What became of one (rule, event) match.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// Published now and recorded in the ledger.
    Sent(Alert),
    /// Published now, but the ledger could not record it (logged and counted): a later copy
    /// of the event may publish it again once this claim's lease has ended.
    SentUnrecorded {
        /// The alert.
        alert: Alert,
        /// Why it could not be recorded.
        error: String,
    },
    /// Already published for this key: not rendered or sent again.
    AlreadySent {
        /// The rule.
        rule: String,
        /// What the alert is about.
        resource: String,
    },
}

impl Delivery {
    /// The rule that matched.
    pub fn rule(&self) -> &str {
        match self {
            Self::Sent(alert) | Self::SentUnrecorded { alert, .. } => &alert.rule,
            Self::AlreadySent { rule, .. } => rule,
        }
    }

    /// What the alert is about.
    pub fn resource(&self) -> &str {
        match self {
            Self::Sent(alert) | Self::SentUnrecorded { alert, .. } => &alert.resource,
            Self::AlreadySent { resource, .. } => resource,
        }
    }

    /// The alert, when this invocation published it.
    pub fn into_published(self) -> Option<Alert> {
        match self {
            Self::Sent(alert) | Self::SentUnrecorded { alert, .. } => Some(alert),
            Self::AlreadySent { .. } => None,
        }
    }

    /// The alert, when this invocation published it.
    pub fn published(&self) -> Option<&Alert> {
        match self {
            Self::Sent(alert) | Self::SentUnrecorded { alert, .. } => Some(alert),
            Self::AlreadySent { .. } => None,
        }
    }
}

/// Why alerting failed for a (rule, event). Every case but a non-retryable sink or ledger
/// error and an unknown rule asks for a retry, which the ledger makes safe.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// The ledger failed before anything was published.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Publishing failed; the claim was released unless `release` says otherwise.
    #[error("{error}{}", release_failure(.release))]
    Sink {
        /// Why publishing failed.
        error: SinkError,
        /// Why the claim could not be released, if it could not.
        release: Option<LedgerError>,
    },
    /// Another invocation held the claim until this invocation's deadline; retry to learn how
    /// it went.
    #[error("alert {key} is being sent by another invocation (claim held until {lease_until})")]
    InProgress {
        /// The alert key.
        key: String,
        /// When the other claim's lease ends (epoch seconds).
        lease_until: i64,
    },
    /// The invocation names a rule the alerter does not have: the EventBridge rules and the
    /// alerter's rules were deployed from different files.
    #[error(
        "unknown alert rule {rule:?}: the EventBridge rules and the alerter's ALERT_RULES differ \
         (deploy both from one rules file)"
    )]
    UnknownRule {
        /// The rule named.
        rule: String,
    },
}

fn release_failure(release: &Option<LedgerError>) -> String {
    release.as_ref().map_or_else(String::new, |release| {
        format!(
            "; releasing the claim failed too ({release}): a retry takes it over when its \
             lease ends"
        )
    })
}

impl AlertError {
    /// Whether a later retry may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Ledger(error) => error.retryable,
            Self::Sink { error, .. } => error.retryable,
            Self::InProgress { .. } => true,
            Self::UnknownRule { .. } => false,
        }
    }
}

/// The result for one rule.
pub type RuleResult = (String, Result<Delivery, AlertError>);

/// Matches events against the rules and sends each matching alert once.
pub struct Alerter {
    rules: RuleSet,
    ledger: Arc<dyn AlertLedger>,
    sink: Arc<dyn AlertSink>,
    retention: chrono::Duration,
    claims: AtomicU64,
}

impl Alerter {
    /// An alerter applying `rules`, deduplicating through `ledger` (whose entries stay
    /// `retention`), publishing to `sink`.
    pub fn new(
        rules: RuleSet,
        ledger: Arc<dyn AlertLedger>,
        sink: Arc<dyn AlertSink>,
        retention: chrono::Duration,
    ) -> Self {
        Self { rules, ledger, sink, retention, claims: AtomicU64::new(0) }
    }

    /// Sends the alert of the one rule EventBridge matched `received` against (the event is
    /// not matched again).
    pub async fn process_rule(
        &self,
        received: &ReceivedEvent,
        rule: &str,
        deadline: Deadline,
    ) -> Result<Delivery, AlertError> {
        let Some(rule) = self.rules.rules().iter().find(|candidate| candidate.name == rule) else {
            return Err(AlertError::UnknownRule { rule: rule.to_owned() });
        };
        self.deliver(rule, &received.event, deadline).await
    }

    /// Sends the alerts of every rule whose pattern matches the event as delivered, and
    /// reports each rule's result (a failed rule does not hide the others).
    pub async fn process(&self, received: &ReceivedEvent, deadline: Deadline) -> Vec<RuleResult> {
        let mut results = Vec::new();
        for rule in self.rules.matching(&received.raw) {
            let result = self.deliver(rule, &received.event, deadline).await;
            results.push((rule.name.clone(), result));
        }
        results
    }

    async fn deliver(
        &self,
        rule: &AlertRule,
        event: &EcsEvent,
        deadline: Deadline,
    ) -> Result<Delivery, AlertError> {
        let (resource, key) = alert_target(rule, event);
        let token = self.token();
        let expires_at = (Utc::now() + self.retention).timestamp();
        if !self.claim(&key, &token, expires_at, deadline).await? {
            tracing::info!(alert_key = %key, "alert already sent");
            return Ok(Delivery::AlreadySent { rule: rule.name.clone(), resource });
        }
        let alert = render(rule, event);
        let budget = deadline.remaining_less(RELEASE_RESERVE);
        let published = match tokio::time::timeout(budget, self.sink.publish(&alert)).await {
            Ok(published) => published,
            Err(_) => Err(SinkError {
                key: key.clone(),
                message: format!(
                    "no answer within the {} ms left before the invocation's deadline",
                    budget.as_millis()
                ),
                retryable: true,
            }),
        };
        if let Err(error) = published {
            let release = self.ledger.release(&key, &token).await.err();
            if let Some(release) = &release {
                tracing::error!(alert_key = %key, error = %release, "claim not released");
            }
            return Err(AlertError::Sink { error, release });
        }
        // The publish is the commit point: from here on, nothing fails the invocation.
        Ok(match self.mark(&key, &token, expires_at, deadline).await {
            Ok(Marked::Sent) => {
                tracing::info!(alert_key = %key, subject = %alert.subject, "alert sent");
                Delivery::Sent(alert)
            }
            Ok(Marked::NotHeld) => {
                let error = "the claim's lease ended before it was marked sent".to_owned();
                tracing::warn!(alert_key = %key, "alert sent; {error}");
                Delivery::SentUnrecorded { alert, error }
            }
            Err(error) => {
                tracing::error!(alert_key = %key, error = %error, "alert sent but not recorded");
                Delivery::SentUnrecorded { alert, error: error.to_string() }
            }
        })
    }

    /// Claims `key`, waiting while another invocation holds it (up to the deadline): `true`
    /// when the key is ours to send, `false` when the alert was already sent.
    async fn claim(
        &self,
        key: &str,
        token: &str,
        expires_at: i64,
        deadline: Deadline,
    ) -> Result<bool, AlertError> {
        let lease_until = (deadline.wall_clock() + LEASE_GRACE).timestamp();
        let mut pause = FIRST_WAIT_PAUSE;
        loop {
            let now = Utc::now().timestamp();
            match self.ledger.claim(key, token, now, lease_until, expires_at).await? {
                Claim::Claimed => return Ok(true),
                Claim::AlreadySent => return Ok(false),
                Claim::InProgress { lease_until: held } => {
                    if deadline.remaining_less(RELEASE_RESERVE) < pause {
                        return Err(AlertError::InProgress {
                            key: key.to_owned(),
                            lease_until: held,
                        });
                    }
                    tracing::debug!(alert_key = %key, lease_until = held, "claim held elsewhere: waiting");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_WAIT_PAUSE);
                }
            }
        }
    }

    /// Marks `key` sent, retrying retryable ledger errors up to [`MARK_ATTEMPTS`] times.
    async fn mark(
        &self,
        key: &str,
        token: &str,
        expires_at: i64,
        deadline: Deadline,
    ) -> Result<Marked, LedgerError> {
        let mut pause = FIRST_WAIT_PAUSE;
        let mut attempt = 1;
        loop {
            match self.ledger.mark_sent(key, token, expires_at).await {
                Err(error)
                    if error.retryable
                        && attempt < MARK_ATTEMPTS
                        && deadline.remaining() > pause =>
                {
                    tracing::warn!(alert_key = %key, attempt, error = %error, "marking sent failed: retrying");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// A token unique to one claim attempt: process, time and a counter.
    fn token(&self) -> String {
        format!(
            "{}-{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default(),
            self.claims.fetch_add(1, Ordering::Relaxed)
        )
    }
}
