//! Alerts: rules ([`RuleSet`]), rendering ([`render`]), the idempotency ledger
//! ([`AlertLedger`]) and sinks ([`AlertSink`]), tied together by the [`Alerter`].

mod dynamodb_ledger;
mod ledger;
mod render;
mod rules;
mod sink;
mod sns;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{Duration, Utc};

pub use dynamodb_ledger::{DynamoDbLedger, LEDGER_KEY};
pub use ledger::{AlertLedger, Claim, InMemoryLedger, LedgerError};
pub use render::{Alert, MAX_SUBJECT_CHARS, alert_target, render};
pub use rules::{AlertRule, DEFAULT_RULES_JSON, MAX_RULE_NAME_LEN, RuleError, RuleSet};
pub use sink::{AlertSink, CollectingSink, SinkError};
pub use sns::{SnsAlertSink, structured_message};

use crate::event::{EcsEvent, ReceivedEvent};

/// How long claims and ledger entries last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerTimes {
    /// How long a claim holds before another invocation may take it over: longer than the
    /// function's timeout.
    pub claim: Duration,
    /// How long a ledger entry stays before TTL deletes it.
    pub retention: Duration,
}

impl Default for LedgerTimes {
    fn default() -> Self {
        Self { claim: Duration::seconds(120), retention: Duration::days(14) }
    }
}

/// What became of one (rule, event) match.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// Published now.
    Sent(Alert),
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
            Self::Sent(alert) => &alert.rule,
            Self::AlreadySent { rule, .. } => rule,
        }
    }

    /// What the alert is about.
    pub fn resource(&self) -> &str {
        match self {
            Self::Sent(alert) => &alert.resource,
            Self::AlreadySent { resource, .. } => resource,
        }
    }
}

/// Why alerting failed for an event. Every case but a non-retryable sink or ledger error
/// asks for a retry, which the ledger makes safe.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Publishing failed; the claim was released.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// Another invocation is sending this alert right now; retry to learn how it went.
    #[error("alert {key} is being sent by another invocation (claim held until {lease_until})")]
    InProgress {
        /// The alert key.
        key: String,
        /// When the other claim's lease ends (epoch seconds).
        lease_until: i64,
    },
}

impl AlertError {
    /// Whether a later retry may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Ledger(error) => error.retryable,
            Self::Sink(error) => error.retryable,
            Self::InProgress { .. } => true,
        }
    }
}

/// Matches events against the rules and sends each matching alert once.
pub struct Alerter {
    rules: RuleSet,
    ledger: Arc<dyn AlertLedger>,
    sink: Arc<dyn AlertSink>,
    times: LedgerTimes,
    claims: AtomicU64,
}

impl Alerter {
    /// An alerter applying `rules`, deduplicating through `ledger`, publishing to `sink`.
    pub fn new(
        rules: RuleSet,
        ledger: Arc<dyn AlertLedger>,
        sink: Arc<dyn AlertSink>,
        times: LedgerTimes,
    ) -> Self {
        Self { rules, ledger, sink, times, claims: AtomicU64::new(0) }
    }

    /// Sends the alerts an event raises: the rules match the event as delivered. Every
    /// matching rule is tried; the first error is returned after all of them, so a retry only
    /// redoes what failed.
    pub async fn process(&self, received: &ReceivedEvent) -> Result<Vec<Delivery>, AlertError> {
        let event = &received.event;
        let mut deliveries = Vec::new();
        let mut first_error = None;
        for rule in self.rules.matching(&received.raw) {
            match self.deliver(rule, event).await {
                Ok(delivery) => deliveries.push(delivery),
                Err(error) => {
                    tracing::error!(rule = %rule.name, event_id = %event.id, error = %error, "alert failed");
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(deliveries),
        }
    }

    async fn deliver(&self, rule: &AlertRule, event: &EcsEvent) -> Result<Delivery, AlertError> {
        let now = Utc::now();
        let (resource, key) = alert_target(rule, event);
        let token = format!(
            "{}-{}-{}",
            std::process::id(),
            now.timestamp_nanos_opt().unwrap_or_default(),
            self.claims.fetch_add(1, Ordering::Relaxed)
        );
        let expires_at = (now + self.times.retention).timestamp();
        let lease_until = (now + self.times.claim).timestamp();
        match self.ledger.claim(&key, &token, now.timestamp(), lease_until, expires_at).await? {
            Claim::AlreadySent => {
                tracing::info!(alert_key = %key, "alert already sent");
                return Ok(Delivery::AlreadySent { rule: rule.name.clone(), resource });
            }
            Claim::InProgress { lease_until } => {
                return Err(AlertError::InProgress { key, lease_until });
            }
            Claim::Claimed => {}
        }
        let alert = render(rule, event);
        if let Err(error) = self.sink.publish(&alert).await {
            self.ledger.release(&key, &token).await?;
            return Err(error.into());
        }
        self.ledger.mark_sent(&key, expires_at).await?;
        tracing::info!(alert_key = %key, subject = %alert.subject, "alert sent");
        Ok(Delivery::Sent(alert))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn given_the_same_stop_twice_then_the_collecting_sink_holds_one_alert() {
        let raw: serde_json::Value =
            serde_json::from_str(include_str!("../../../events/samples/task-oom-killed.json"))
                .expect("JSON");
        let received = ReceivedEvent::new(raw).expect("valid");
        let sink = Arc::new(CollectingSink::new());
        let alerter = Alerter::new(
            RuleSet::default_rules(),
            Arc::new(InMemoryLedger::new()),
            sink.clone(),
            LedgerTimes::default(),
        );
        let first = alerter.process(&received).await.expect("sent");
        assert!(matches!(first.as_slice(), [Delivery::Sent(_)]));
        let again = alerter.process(&received).await.expect("handled");
        assert!(matches!(again.as_slice(), [Delivery::AlreadySent { .. }]));
        let alerts = sink.alerts();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].rule, "essential-container-exited");
    }
}
