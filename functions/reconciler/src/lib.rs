//! The reconciler's Lambda handler: one run of [`Reconciler`] per invocation (the templates'
//! schedule, or by hand), its report logged and returned, its figures as one EMF line.

use ecs_events::deadline::Deadline;
use ecs_events::reconcile::{Caller, ReconcileError, ReconcileReport, Reconciler};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

/// Name of the function in logs and metrics.
pub const FUNCTION_NAME: &str = "reconciler";

/// Why an invocation failed. What a run wrote before failing stays written.
#[derive(thiserror::Error)]
pub enum HandlerError {
    /// The state table failed.
    #[error(transparent)]
    Run(#[from] ReconcileError),
    /// Some accounts, Regions, clusters or resources could not be reconciled (the others
    /// were).
    #[error("{} failure(s): {}", .failures.len(), .failures.join("; "))]
    Failures {
        /// What failed.
        failures: Vec<String>,
        /// Whether a cluster ECS does not know is among them (a retry cannot help).
        unknown_cluster: bool,
    },
    /// The run stopped at the call cap or the deadline: the clusters it did not finish were
    /// not reconciled (raise `RECONCILE_MAX_API_CALLS`, or name fewer clusters).
    #[error("run cut short: {0}")]
    CutShort(String),
}

impl HandlerError {
    /// The `errorType` Lambda reports: `Retryable.*` when a later run may succeed,
    /// `NonRetryable.*` when it cannot without a change (a cluster that does not exist, a
    /// cap too low for the account).
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Run(ReconcileError::Store(error)) if !error.is_retryable() => {
                "NonRetryable.ReconcileError"
            }
            Self::Run(_) => "Retryable.ReconcileError",
            Self::Failures { unknown_cluster: true, .. } => "NonRetryable.ReconcileFailures",
            Self::Failures { .. } => "Retryable.ReconcileFailures",
            Self::CutShort(_) => "NonRetryable.ReconcileCutShort",
        }
    }
}

ecs_events::handler_error!(HandlerError);

/// Runs the reconciler once, whatever the payload (the schedule sends `{}`), by Lambda's
/// deadline, as the function its context names (its partition and account: the own account
/// is read with the function's credentials, member accounts through their role). Prints the
/// run's EMF line, logs each drift at DEBUG and the counts at INFO; a run with failures (in
/// any account or Region), or cut short, fails the invocation (after its writes), so Lambda's
/// Errors metric shows it — in every mode, all clusters included.
pub async fn handle(
    reconciler: &Reconciler,
    event: LambdaEvent<Value>,
) -> Result<ReconcileReport, HandlerError> {
    let deadline = Deadline::from_epoch_millis(event.context.deadline);
    let caller = Caller::from_arn(&event.context.invoked_function_arn);
    let report = reconciler.run_as(caller.as_ref(), deadline).await?;
    for target in report.targets.iter().filter(|target| target.error.is_some()) {
        tracing::warn!(
            account = target.account.as_deref().unwrap_or("own"),
            region = target.region.as_deref().unwrap_or("own"),
            error = target.error.as_deref().unwrap_or_default(),
            "account and Region not reconciled"
        );
    }
    println!("{}", report.emf(FUNCTION_NAME));
    for drift in &report.drift {
        tracing::debug!(kind = drift.kind, arn = %drift.arn, stored = ?drift.stored, ecs = ?drift.ecs, action = drift.action, "drift");
    }
    tracing::info!(
        clusters = report.clusters.len(),
        described = report.described,
        written = report.written,
        unchanged = report.unchanged,
        marked_missing = report.marked_missing,
        cleared = report.cleared,
        enriched = report.enriched,
        too_recent_to_mark = report.too_recent_to_mark,
        api_calls = report.api_calls,
        throttles = report.throttles,
        cut_short = report.cut_short.as_deref().unwrap_or(""),
        "reconciled"
    );
    if !report.failures.is_empty() {
        let unknown_cluster = !report.unknown_clusters.is_empty();
        return Err(HandlerError::Failures { failures: report.failures, unknown_cluster });
    }
    match report.cut_short {
        Some(why) => Err(HandlerError::CutShort(why)),
        None => Ok(report),
    }
}
