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
//! * **Incidents.** For a rule that groups its matches, the claimed match is recorded in the
//!   [`IncidentStore`]: the first of an incident is alerted at once, the others are counted
//!   into their window (the ledger entry is then marked, so a task still counts once), and
//!   [`Alerter::flush`] sends each ended window's digest with the same claim → publish → mark.
//! * **Chat** gets every alert and digest after the alert topic (the commit point): a chat
//!   failure is retried in-process, then logged and reported, never re-sending the alert.
//! * **Every step is bounded by the invocation's deadline**: the claim, the incident record,
//!   the publish, the ledger mark, each chat attempt and the flush's digests. A step that would
//!   outlive the invocation is cut off — before the commit point the claim is released and the
//!   invocation fails retryably; after it, the alert counts as sent unrecorded (mark) or
//!   `ChatFailed` (chat), never as an error that a retry would publish again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::digest::{render_digest, rule_of};
use super::ledger::{AlertLedger, Claim, LedgerError, Marked};
use super::render::{Alert, MatchContext, alert_target, match_severity, render_alert};
use super::rules::{AlertRule, RuleSet};
use super::sink::{AlertSink, SinkError};
use crate::account::AccountNames;
use crate::deadline::Deadline;
use crate::event::{EcsDetail, ReceivedEvent, TaskOutcome};
use crate::incident::{
    Clock, IncidentError, IncidentStore, Member, Recorded, SETTLE, WindowRef, happened_at,
    incident_key, thread_id,
};
use crate::service::{ServiceStore, health};
use crate::state::{StateStore, StoreError};

/// A lease ends this long after its holder's deadline (clocks of different hosts differ).
pub const LEASE_GRACE: Duration = Duration::from_secs(5);
/// Kept back from the deadline so a claim can be released after a failed publish.
pub const RELEASE_RESERVE: Duration = Duration::from_secs(2);
/// Attempts to mark a claim sent after a successful publish.
pub const MARK_ATTEMPTS: u32 = 3;
/// First pause while another invocation holds a claim; it doubles up to [`MAX_WAIT_PAUSE`].
const FIRST_WAIT_PAUSE: Duration = Duration::from_millis(50);
const MAX_WAIT_PAUSE: Duration = Duration::from_secs(1);
/// The most digests one flush sends; the others stay due for the next.
pub const MAX_DIGESTS_PER_FLUSH: usize = 50;
/// The least time left before the deadline for a flush to start another digest.
const DIGEST_TIME: Duration = Duration::from_secs(3);

/// Runs `step` unless it would outlive `deadline` less `reserve`; a step cut off fails with
/// the error `cut_off` makes of the message saying so.
pub(super) async fn bounded<T, E>(
    deadline: Deadline,
    reserve: Duration,
    step: impl Future<Output = Result<T, E>>,
    cut_off: impl FnOnce(String) -> E,
) -> Result<T, E> {
    let budget = deadline.remaining_less(reserve);
    tokio::time::timeout(budget, step).await.unwrap_or_else(|_| {
        Err(cut_off(format!(
            "no answer within the {} ms left before the invocation's deadline",
            budget.as_millis()
        )))
    })
}

/// A ledger step cut off by the deadline (`retryable`: whether a retry may finish it).
fn ledger_cut_off(
    operation: &'static str,
    key: &str,
    retryable: bool,
) -> impl FnOnce(String) -> LedgerError {
    let key = key.to_owned();
    move |message| LedgerError { operation, key, message, retryable }
}

/// An incident store step cut off by the deadline (a retry may finish it).
fn incident_cut_off(operation: &'static str, key: &str) -> impl FnOnce(String) -> IncidentError {
    let key = key.to_owned();
    move |message| IncidentError { operation, key, message, retryable: true }
}

/// A publish cut off by the deadline (`retryable`: whether a retry may send it).
fn sink_cut_off(key: &str, retryable: bool) -> impl FnOnce(String) -> SinkError {
    let key = key.to_owned();
    move |message| SinkError { key, message, retryable }
}

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
    /// Published to the alert topic now, but the chat topic could not take it (logged).
    SentWithoutChat {
        /// The alert.
        alert: Alert,
        /// Why chat failed.
        error: String,
    },
    /// Counted into an open incident: its window's digest will tell of it.
    Counted {
        /// The rule.
        rule: String,
        /// What the match is about.
        resource: String,
        /// The window it was counted into.
        window: WindowRef,
    },
    /// Already published (or counted) for this key: not rendered or sent again.
    AlreadySent {
        /// The rule.
        rule: String,
        /// What the alert is about.
        resource: String,
    },
    /// A match the rule does not tell by how the task ended — a clean exit (not a failure), or
    /// a failure under a rule that tells only completions: nothing sent, nothing counted.
    Quiet {
        /// The rule.
        rule: String,
        /// The task.
        resource: String,
    },
}

impl Delivery {
    /// The rule that matched.
    pub fn rule(&self) -> &str {
        match self.published() {
            Some(alert) => &alert.rule,
            None => match self {
                Self::Counted { rule, .. }
                | Self::AlreadySent { rule, .. }
                | Self::Quiet { rule, .. } => rule,
                _ => "",
            },
        }
    }

    /// What the alert is about.
    pub fn resource(&self) -> &str {
        match self.published() {
            Some(alert) => &alert.resource,
            None => match self {
                Self::Counted { resource, .. }
                | Self::AlreadySent { resource, .. }
                | Self::Quiet { resource, .. } => resource,
                _ => "",
            },
        }
    }

    /// The alert, when this invocation published it.
    pub fn into_published(self) -> Option<Alert> {
        match self {
            Self::Sent(alert)
            | Self::SentUnrecorded { alert, .. }
            | Self::SentWithoutChat { alert, .. } => Some(alert),
            Self::Counted { .. } | Self::AlreadySent { .. } | Self::Quiet { .. } => None,
        }
    }

    /// The alert, when this invocation published it.
    pub fn published(&self) -> Option<&Alert> {
        match self {
            Self::Sent(alert)
            | Self::SentUnrecorded { alert, .. }
            | Self::SentWithoutChat { alert, .. } => Some(alert),
            Self::Counted { .. } | Self::AlreadySent { .. } | Self::Quiet { .. } => None,
        }
    }

    /// The name it is counted under in metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Sent(alert) => match alert.kind {
                super::AlertKind::Digest => "DigestSent",
                super::AlertKind::Silence => "ServiceDownSent",
                super::AlertKind::Resolved => "ResolvedSent",
                super::AlertKind::Alert => "Sent",
            },
            Self::SentUnrecorded { .. } => "SentUnrecorded",
            Self::SentWithoutChat { .. } => "ChatFailed",
            Self::Counted { window, .. } if window.is_late() => "CountedLate",
            Self::Counted { .. } => "Counted",
            Self::AlreadySent { .. } => "AlreadySent",
            Self::Quiet { .. } => "Quiet",
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
    /// The incident store failed before anything was published; the claim was released.
    #[error(transparent)]
    Incident(#[from] IncidentError),
    /// The state or service store failed while checking services.
    #[error(transparent)]
    Store(#[from] StoreError),
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
            Self::Incident(error) => error.retryable,
            Self::Store(error) => error.is_retryable(),
            Self::UnknownRule { .. } => false,
        }
    }
}

/// The result for one rule.
pub type RuleResult = (String, Result<Delivery, AlertError>);

/// Matches events against the rules and sends each matching alert once.
pub struct Alerter {
    pub(super) rules: RuleSet,
    ledger: Arc<dyn AlertLedger>,
    sink: Arc<dyn AlertSink>,
    pub(super) retention: chrono::Duration,
    claims: AtomicU64,
    pub(super) incidents: Option<Arc<dyn IncidentStore>>,
    chat: Option<Arc<dyn AlertSink>>,
    pub(super) services: Option<ServiceWatch>,
    /// Names of accounts, for messages (`ACCOUNT_NAMES`).
    pub(super) names: Arc<AccountNames>,
}

/// What the alerter reads and writes of services: their records and deployments, the state
/// table's tasks, and how it judges silence.
#[derive(Clone)]
pub struct ServiceWatch {
    /// Services and deployments.
    pub services: Arc<dyn ServiceStore>,
    /// Tasks (running ones per cluster, a deployment's).
    pub state: Arc<dyn StateStore>,
    /// When a silent service is down.
    pub settings: health::Settings,
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
        Self {
            rules,
            ledger,
            sink,
            retention,
            claims: AtomicU64::new(0),
            incidents: None,
            chat: None,
            services: None,
            names: Arc::new(AccountNames::none()),
        }
    }

    /// Names accounts in messages by `names` (an account without a name is named by its id).
    pub fn with_account_names(mut self, names: Arc<AccountNames>) -> Self {
        self.names = names;
        self
    }

    /// Tells failed deployments with their tasks, records the incidents a service can end
    /// (crash loops, failed deployments), and on every flush checks the services' health:
    /// down (silent), recovered, incidents resolved.
    pub fn with_services(mut self, watch: ServiceWatch) -> Self {
        self.services = Some(watch);
        self
    }

    /// Groups the matches of rules that group them into incidents kept in `incidents`
    /// (without a store, every match is alerted on its own).
    pub fn with_incidents(mut self, incidents: Arc<dyn IncidentStore>) -> Self {
        self.incidents = Some(incidents);
        self
    }

    /// Also sends every alert and digest to `chat` (after the alert topic).
    pub fn with_chat(mut self, chat: Arc<dyn AlertSink>) -> Self {
        self.chat = Some(chat);
        self
    }

    /// The rules.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Sends the alert of the one rule EventBridge matched `received` against (the event is
    /// not matched again).
    /// (`now` is the wall clock in Lambda, the event clock in a replay: it places the match in
    /// its incident's windows).
    pub async fn process_rule(
        &self,
        received: &ReceivedEvent,
        rule: &str,
        now: DateTime<Utc>,
        deadline: Deadline,
    ) -> Result<Delivery, AlertError> {
        let Some(rule) = self.rules.rules().iter().find(|candidate| candidate.name == rule) else {
            return Err(AlertError::UnknownRule { rule: rule.to_owned() });
        };
        let clock = Clock::new(now.timestamp(), deadline.remaining());
        self.deliver(rule, received, now, clock, deadline).await
    }

    /// Sends the alerts of every rule whose pattern matches the event as delivered, and
    /// reports each rule's result (a failed rule does not hide the others).
    pub async fn process(
        &self,
        received: &ReceivedEvent,
        now: DateTime<Utc>,
        deadline: Deadline,
    ) -> Vec<RuleResult> {
        let mut results = Vec::new();
        // Taken once, at the start: every write of the invocation lands by its deadline.
        let clock = Clock::new(now.timestamp(), deadline.remaining());
        for rule in self.rules.matching_event(received) {
            let result = self.deliver(rule, received, now, clock, deadline).await;
            results.push((rule.name.clone(), result));
        }
        results
    }

    /// Sends, at `now`, the digest of every incident window that is due: ended at least
    /// [`SETTLE`] ago, so it takes no more counts. A digest is sent once, like an alert; one
    /// that fails stays due for the next flush. One flush sends at most
    /// [`MAX_DIGESTS_PER_FLUSH`] digests and starts none it has no time for: the rest stay due.
    ///
    /// Then, with services watched ([`Alerter::with_services`]), checks every service's health
    /// ([`crate::service::health`]): a service down, one recovered, incidents resolved.
    pub async fn flush(&self, now: DateTime<Utc>, deadline: Deadline) -> Vec<RuleResult> {
        let mut results = self.flush_until(Some(now.timestamp() - SETTLE), now, deadline).await;
        results.extend(self.check_services(now, deadline).await);
        results
    }

    /// [`Alerter::flush`] of every window with further matches, ended or not: the end of a
    /// replay (`now` is its clock).
    pub async fn flush_all(&self, now: DateTime<Utc>, deadline: Deadline) -> Vec<RuleResult> {
        self.flush_until(None, now, deadline).await
    }

    async fn flush_until(
        &self,
        until: Option<i64>,
        now: DateTime<Utc>,
        deadline: Deadline,
    ) -> Vec<RuleResult> {
        let Some(incidents) = &self.incidents else { return Vec::new() };
        let due = incidents.due(until, MAX_DIGESTS_PER_FLUSH);
        let due = match bounded(deadline, RELEASE_RESERVE, due, incident_cut_off("due", "")).await {
            Ok(due) => due,
            Err(error) => return vec![(String::new(), Err(error.into()))],
        };
        let mut results = Vec::new();
        for window in due {
            if deadline.remaining_less(RELEASE_RESERVE) < DIGEST_TIME {
                tracing::info!(window = %window.id(), "no time left for this digest: due at the next flush");
                break;
            }
            let rule = rule_of(&window.key).to_owned();
            let result = self.send_digest(incidents.as_ref(), &window, now, deadline).await;
            results.push((rule, result));
        }
        results
    }

    async fn send_digest(
        &self,
        incidents: &dyn IncidentStore,
        window: &WindowRef,
        now: DateTime<Utc>,
        deadline: Deadline,
    ) -> Result<Delivery, AlertError> {
        let key = format!("digest#{}", window.id());
        let rule_name = rule_of(&window.key);
        let rule = self.rules.rules().iter().find(|rule| rule.name == rule_name);
        let id = window.id();
        let read = incidents.window(window);
        let content =
            bounded(deadline, RELEASE_RESERVE, read, incident_cut_off("read window", &id)).await?;
        let told_already = || async {
            let mark = incidents.digested(window, false);
            bounded(deadline, Duration::ZERO, mark, incident_cut_off("mark digested", &id)).await?;
            Ok::<_, AlertError>(Delivery::AlreadySent {
                rule: rule_name.to_owned(),
                resource: window.key.clone(),
            })
        };
        // A rule removed since, a window gone (TTL), or one whose only count never landed (its
        // writer failed after marking it due): nothing to tell.
        let (Some(rule), Some(content)) =
            (rule, content.filter(|content| !content.members.is_empty()))
        else {
            return told_already().await;
        };
        let token = self.token();
        let expires_at = (Utc::now() + self.retention).timestamp();
        if !self.claim(&key, &token, expires_at, deadline).await? {
            return told_already().await;
        }
        let deployments = self.deployment_states(&content, deadline).await;
        let digest = render_digest(rule, &content, &deployments, &self.names, now);
        let crash_loop = digest.crash_loop;
        let delivery = self.publish(digest, &key, &token, expires_at, deadline).await?;
        if crash_loop {
            self.crash_loop_trouble(rule, &content, deadline).await;
        }
        let mark = incidents.digested(window, crash_loop);
        let marked =
            bounded(deadline, Duration::ZERO, mark, incident_cut_off("mark digested", &id)).await;
        if let Err(error) = marked {
            // The digest is marked sent in the ledger: the next flush finds it so.
            tracing::warn!(window = %id, error = %error, "digest sent, window still due");
        }
        Ok(delivery)
    }

    /// Delivers one match; `clock` was taken when the invocation started (its `done_by` is the
    /// deadline, however long the claim waited).
    async fn deliver(
        &self,
        rule: &AlertRule,
        received: &ReceivedEvent,
        now: DateTime<Utc>,
        clock: Clock,
        deadline: Deadline,
    ) -> Result<Delivery, AlertError> {
        let event = &received.event;
        let (resource, key) = alert_target(rule, event);
        let outcome = event.task().map(|task| self.rules.outcome(rule, task));
        if !rule.completed.tells(outcome) {
            let completed = outcome == Some(TaskOutcome::Completed);
            tracing::info!(alert_key = %key, completed, "not told by this rule: a clean exit is not a failure, or the rule tells only completions");
            return Ok(Delivery::Quiet { rule: rule.name.clone(), resource });
        }
        let token = self.token();
        let expires_at = (Utc::now() + self.retention).timestamp();
        if !self.claim(&key, &token, expires_at, deadline).await? {
            tracing::info!(alert_key = %key, "alert already sent");
            return Ok(Delivery::AlreadySent { rule: rule.name.clone(), resource });
        }
        let thread = match (&self.incidents, rule.group) {
            (Some(incidents), Some(settings)) => {
                let incident = incident_key(&rule.name, event, outcome);
                let member = Member::of(event, outcome, match_severity(rule, event, outcome));
                let expires = (now + self.retention).timestamp();
                let record = incidents.record(&incident, settings, &member, &key, clock, expires);
                let cut_off = incident_cut_off("record", &incident);
                match bounded(deadline, RELEASE_RESERVE, record, cut_off).await {
                    Ok(Recorded::Opened { key: incident, opened }) => {
                        Some((thread_id(&incident, opened), incident, opened))
                    }
                    Ok(Recorded::Counted { window } | Recorded::AlreadyCounted { window }) => {
                        // Counted: its digest tells of it. Marked, so it never counts twice.
                        if let Err(error) = self.mark(&key, &token, expires_at, deadline).await {
                            tracing::warn!(alert_key = %key, error = %error, "counted, not marked: a retry counts it once");
                        }
                        tracing::info!(alert_key = %key, incident = %window.id(), late = window.is_late(), "counted into incident");
                        let thread = (window.key.clone(), window.thread(), window.opened);
                        self.deployment_trouble(rule, event, thread, deadline).await;
                        return Ok(Delivery::Counted { rule: rule.name.clone(), resource, window });
                    }
                    Err(error) => {
                        let release = self.ledger.release(&key, &token);
                        let cut_off = ledger_cut_off("release", &key, true);
                        let _ = bounded(deadline, Duration::ZERO, release, cut_off).await;
                        return Err(error.into());
                    }
                }
            }
            _ => None,
        };
        let incident = thread.as_ref().map(|(thread, key, _)| (key.as_str(), thread.as_str()));
        let context = MatchContext {
            outcome,
            deployment: self.deployment_context(event, deadline).await,
            detail: matches!(event.detail, EcsDetail::Deployment(_))
                .then(|| received.detail_json().to_owned()),
        };
        let alert = render_alert(rule, event, &context, incident, &self.names, now);
        let opened = happened_at(event);
        let told = (
            alert.incident.clone().unwrap_or_else(|| alert.dedup_key.clone()),
            alert.thread.clone(),
            thread.as_ref().map_or(opened, |(_, _, opened)| *opened),
        );
        let delivery = self.publish(alert, &key, &token, expires_at, deadline).await?;
        self.deployment_trouble(rule, event, told, deadline).await;
        Ok(delivery)
    }

    /// Publishes a claimed alert or digest: the alert topic (the commit point), then the
    /// ledger mark, then chat.
    pub(super) async fn publish(
        &self,
        alert: Alert,
        key: &str,
        token: &str,
        expires_at: i64,
        deadline: Deadline,
    ) -> Result<Delivery, AlertError> {
        let key = key.to_owned();
        let publish = self.sink.publish(&alert);
        let published = bounded(deadline, RELEASE_RESERVE, publish, sink_cut_off(&key, true)).await;
        if let Err(error) = published {
            let release = self.ledger.release(&key, token);
            let cut_off = ledger_cut_off("release", &key, true);
            let release = bounded(deadline, Duration::ZERO, release, cut_off).await.err();
            if let Some(release) = &release {
                tracing::error!(alert_key = %key, error = %release, "claim not released");
            }
            return Err(AlertError::Sink { error, release });
        }
        // The publish is the commit point: from here on, nothing fails the invocation.
        let unrecorded = match self.mark(&key, token, expires_at, deadline).await {
            Ok(Marked::Sent) => None,
            Ok(Marked::NotHeld) => {
                Some("the claim's lease ended before it was marked sent".to_owned())
            }
            Err(error) => Some(error.to_string()),
        };
        if let Some(error) = unrecorded {
            tracing::error!(alert_key = %key, error = %error, "alert sent but not recorded");
            return Ok(Delivery::SentUnrecorded { alert, error });
        }
        tracing::info!(alert_key = %key, subject = %alert.subject, kind = alert.kind.as_str(), "alert sent");
        match self.send_chat(&alert, deadline).await {
            Ok(()) => Ok(Delivery::Sent(alert)),
            Err(error) => {
                tracing::error!(alert_key = %key, error = %error, "alert sent; chat failed");
                Ok(Delivery::SentWithoutChat { alert, error: error.to_string() })
            }
        }
    }

    /// Sends `alert` to chat, if configured, retrying a retryable failure twice — each attempt
    /// within the time left before the deadline.
    async fn send_chat(&self, alert: &Alert, deadline: Deadline) -> Result<(), SinkError> {
        let Some(chat) = &self.chat else { return Ok(()) };
        let mut pause = FIRST_WAIT_PAUSE;
        let mut attempt = 1;
        loop {
            let publish = chat.publish(alert);
            let cut_off = sink_cut_off(&alert.dedup_key, false);
            match bounded(deadline, Duration::ZERO, publish, cut_off).await {
                Err(error)
                    if error.retryable
                        && attempt < MARK_ATTEMPTS
                        && deadline.remaining() > pause =>
                {
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// Claims `key`, waiting while another invocation holds it (up to the deadline): `true`
    /// when the key is ours to send, `false` when the alert was already sent.
    pub(super) async fn claim(
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
            let claim = self.ledger.claim(key, token, now, lease_until, expires_at);
            let cut_off = ledger_cut_off("claim", key, true);
            match bounded(deadline, RELEASE_RESERVE, claim, cut_off).await? {
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
            let mark = self.ledger.mark_sent(key, token, expires_at);
            let cut_off = ledger_cut_off("mark sent", key, false);
            match bounded(deadline, Duration::ZERO, mark, cut_off).await {
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
    pub(super) fn token(&self) -> String {
        format!(
            "{}-{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default(),
            self.claims.fetch_add(1, Ordering::Relaxed)
        )
    }
}
