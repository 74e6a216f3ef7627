//! Alerts: rules ([`RuleSet`]), rendering ([`render`]), the idempotency ledger
//! ([`AlertLedger`]) and sinks ([`AlertSink`]), tied together by the [`Alerter`].

mod alerter;
pub mod chat;
mod digest;
mod dynamodb_ledger;
mod ledger;
mod render;
mod rules;
mod sink;
mod sns;

pub use alerter::{
    AlertError, Alerter, Delivery, LEASE_GRACE, MARK_ATTEMPTS, MAX_DIGESTS_PER_FLUSH,
    RELEASE_RESERVE, RuleResult,
};
pub use digest::{MAX_CAUSES, MAX_DOCUMENT_LISTED, MAX_LISTED, render_digest};
pub use dynamodb_ledger::{DynamoDbLedger, LEDGER_KEY};
pub use ledger::{AlertLedger, Claim, InMemoryLedger, LedgerError, Marked};
pub use render::{
    Alert, AlertKind, MAX_ATTRIBUTES, MAX_SUBJECT_CHARS, alert_target, render, render_alert,
};
pub use rules::{AlertRule, DEFAULT_RULES_JSON, MAX_RULE_NAME_LEN, RuleError, RuleSet};
pub use sink::{AlertSink, CollectingSink, SinkError};
pub use sns::{MAX_MESSAGE_BYTES, SnsAlertSink, SnsChatSink, structured_message};

/// How long ledger entries stay before TTL deletes them, unless configured.
pub const DEFAULT_LEDGER_RETENTION_DAYS: u16 = 14;

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::deadline::Deadline;
    use crate::event::ReceivedEvent;

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
            chrono::Duration::days(i64::from(DEFAULT_LEDGER_RETENTION_DAYS)),
        );
        let deadline = Deadline::after(Duration::from_secs(10));
        let first = alerter.process(&received, chrono::Utc::now(), deadline).await;
        assert!(matches!(first.as_slice(), [(_, Ok(Delivery::Sent(_)))]));
        let again = alerter.process(&received, chrono::Utc::now(), deadline).await;
        assert!(matches!(again.as_slice(), [(_, Ok(Delivery::AlreadySent { .. }))]));
        let alerts = sink.alerts();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].rule, "essential-container-exited");
    }
}
