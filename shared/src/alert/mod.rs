//! Alerts: rules ([`RuleSet`]), rendering ([`render`]), the idempotency ledger
//! ([`AlertLedger`]) and sinks ([`AlertSink`]), tied together by the [`Alerter`].

mod alerter;
pub mod chat;
mod digest;
mod dynamodb_ledger;
mod ledger;
mod lint;
mod render;
mod rules;
mod service_render;
mod severity;
mod sink;
mod sns;
mod watch;

pub use alerter::{
    AlertError, Alerter, Delivery, LEASE_GRACE, MARK_ATTEMPTS, MAX_DIGESTS_PER_FLUSH,
    RELEASE_RESERVE, RuleResult, ServiceWatch,
};
pub use digest::{MAX_CAUSES, MAX_DOCUMENT_LISTED, MAX_LISTED, render_digest};
pub use dynamodb_ledger::{DynamoDbLedger, LEDGER_KEY};
pub use ledger::{AlertLedger, Claim, InMemoryLedger, LedgerError, Marked};
pub use lint::{Finding, lint_pattern};
pub use render::{
    Alert, AlertKind, MAX_ATTRIBUTES, MAX_SUBJECT_CHARS, MatchContext, alert_target,
    match_severity, render, render_alert,
};
pub use rules::{
    AlertRule, Completions, DEFAULT_RULES_JSON, MAX_EXPECTED_EXIT_CODES, MAX_RULE_NAME_LEN,
    RuleError, RuleSet, exit_codes,
};
pub use service_render::{
    DeploymentContext, SERVICE_DOWN_RULE, render_down, render_recovered, render_resolved,
    silence_incident,
};
pub use severity::Severity;
pub use sink::{AlertSink, CollectingSink, SinkError};
pub use sns::{MAX_MESSAGE_BYTES, SnsAlertSink, SnsChatSink, structured_message};

/// How long ledger entries stay before TTL deletes them, unless configured.
pub const DEFAULT_LEDGER_RETENTION_DAYS: u16 = 14;

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use async_trait::async_trait;

    use super::*;
    use crate::deadline::Deadline;
    use crate::event::ReceivedEvent;
    use crate::incident::{
        Clock, GroupSettings, IncidentError, IncidentStore, Member, Recorded, Window, WindowRef,
    };

    fn oom_stop() -> ReceivedEvent {
        let raw: serde_json::Value =
            serde_json::from_str(include_str!("../../../events/samples/task-oom-killed.json"))
                .expect("JSON");
        ReceivedEvent::new(raw).expect("valid")
    }

    /// A sink, ledger or store that never answers (a service that hangs).
    struct Hanging;

    #[async_trait]
    impl AlertSink for Hanging {
        async fn publish(&self, _alert: &Alert) -> Result<(), SinkError> {
            std::future::pending().await
        }
    }

    /// The in-memory ledger, whose marks never answer.
    #[derive(Default)]
    struct MarkHangs(InMemoryLedger);

    #[async_trait]
    impl AlertLedger for MarkHangs {
        async fn claim(
            &self,
            key: &str,
            token: &str,
            now: i64,
            lease_until: i64,
            expires_at: i64,
        ) -> Result<Claim, LedgerError> {
            self.0.claim(key, token, now, lease_until, expires_at).await
        }

        async fn mark_sent(&self, _: &str, _: &str, _: i64) -> Result<Marked, LedgerError> {
            std::future::pending().await
        }

        async fn release(&self, key: &str, token: &str) -> Result<(), LedgerError> {
            self.0.release(key, token).await
        }
    }

    #[async_trait]
    impl IncidentStore for Hanging {
        async fn record(
            &self,
            _: &str,
            _: GroupSettings,
            _: &Member,
            _: &str,
            _: Clock,
            _: i64,
        ) -> Result<Recorded, IncidentError> {
            std::future::pending().await
        }

        async fn due(&self, _: Option<i64>, _: usize) -> Result<Vec<WindowRef>, IncidentError> {
            std::future::pending().await
        }

        async fn window(&self, _: &WindowRef) -> Result<Option<Window>, IncidentError> {
            std::future::pending().await
        }

        async fn digested(&self, _: &WindowRef, _: bool) -> Result<(), IncidentError> {
            std::future::pending().await
        }
    }

    fn alerter(ledger: Arc<dyn AlertLedger>, sink: Arc<dyn AlertSink>) -> Alerter {
        Alerter::new(
            RuleSet::from_json(
                r#"[{"name": "stopped", "pattern": {"detail": {"lastStatus": ["STOPPED"]}}, "group": false}]"#,
            )
            .expect("rule"),
            ledger,
            sink,
            chrono::Duration::days(14),
        )
    }

    /// The deadline the tests give: 3 s, of which [`RELEASE_RESERVE`] is kept back.
    const BUDGET: Duration = Duration::from_secs(3);

    #[tokio::test]
    async fn given_chat_that_never_answers_then_the_alert_counts_as_chat_failed_within_the_deadline()
     {
        let sink = Arc::new(CollectingSink::new());
        let alerter =
            alerter(Arc::new(InMemoryLedger::new()), sink.clone()).with_chat(Arc::new(Hanging));
        let started = Instant::now();
        let results =
            alerter.process(&oom_stop(), chrono::Utc::now(), Deadline::after(BUDGET)).await;
        assert!(started.elapsed() < BUDGET + Duration::from_millis(500), "{:?}", started.elapsed());
        let [(_, Ok(delivery))] = results.as_slice() else { panic!("{results:?}") };
        assert_eq!(delivery.outcome(), "ChatFailed", "{delivery:?}");
        assert_eq!(sink.alerts().len(), 1, "the alert topic got it: the commit point");
    }

    #[tokio::test]
    async fn given_a_ledger_mark_that_never_answers_then_the_alert_is_sent_unrecorded_within_the_deadline()
     {
        let sink = Arc::new(CollectingSink::new());
        let alerter = alerter(Arc::new(MarkHangs::default()), sink.clone());
        let started = Instant::now();
        let results =
            alerter.process(&oom_stop(), chrono::Utc::now(), Deadline::after(BUDGET)).await;
        assert!(started.elapsed() < BUDGET + Duration::from_millis(500), "{:?}", started.elapsed());
        let [(_, Ok(delivery))] = results.as_slice() else { panic!("{results:?}") };
        assert_eq!(delivery.outcome(), "SentUnrecorded", "{delivery:?}");
        assert_eq!(sink.alerts().len(), 1);
    }

    #[tokio::test]
    async fn given_an_incident_store_that_never_answers_then_the_claim_is_released_and_a_retry_sends()
     {
        let ledger = Arc::new(InMemoryLedger::new());
        let sink = Arc::new(CollectingSink::new());
        let grouping = Alerter::new(
            RuleSet::default_rules(),
            ledger.clone(),
            sink.clone(),
            chrono::Duration::days(14),
        )
        .with_incidents(Arc::new(Hanging));
        let started = Instant::now();
        let results =
            grouping.process(&oom_stop(), chrono::Utc::now(), Deadline::after(BUDGET)).await;
        assert!(started.elapsed() < BUDGET, "{:?}", started.elapsed());
        let [(_, Err(error))] = results.as_slice() else { panic!("{results:?}") };
        assert!(error.is_retryable(), "{error}");
        assert!(error.to_string().contains("before the invocation's deadline"), "{error}");
        assert!(sink.alerts().is_empty());
        // The claim was released: the retry (here without incidents) sends at once.
        let retry = Alerter::new(
            RuleSet::default_rules(),
            ledger,
            sink.clone(),
            chrono::Duration::days(14),
        );
        let results = retry.process(&oom_stop(), chrono::Utc::now(), Deadline::after(BUDGET)).await;
        assert!(matches!(results.as_slice(), [(_, Ok(Delivery::Sent(_)))]), "{results:?}");
        // A flush whose store never answers fails within the deadline too.
        let started = Instant::now();
        let flushed = grouping.flush(chrono::Utc::now(), Deadline::after(BUDGET)).await;
        assert!(started.elapsed() < BUDGET, "{:?}", started.elapsed());
        assert!(
            matches!(flushed.as_slice(), [(_, Err(error))] if error.is_retryable()),
            "{flushed:?}"
        );
    }

    #[tokio::test]
    async fn given_the_same_stop_twice_then_the_collecting_sink_holds_one_alert() {
        let received = oom_stop();
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
