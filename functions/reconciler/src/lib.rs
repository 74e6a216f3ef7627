//! The reconciler's Lambda handler: one run of [`Reconciler`] per invocation (the templates'
//! schedule, or by hand), its report logged and returned, its figures as one EMF line.

use ecs_events::deadline::Deadline;
use ecs_events::reconcile::{ReconcileError, ReconcileReport, Reconciler};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

/// Name of the function in logs and metrics.
pub const FUNCTION_NAME: &str = "reconciler";

/// Why an invocation failed. What a run wrote before failing stays written.
#[derive(thiserror::Error)]
pub enum HandlerError {
    /// The state table or listing the clusters failed.
    #[error(transparent)]
    Run(#[from] ReconcileError),
    /// Some clusters or resources could not be reconciled (the others were).
    #[error("{} failure(s): {}", .0.len(), .0.join("; "))]
    Failures(Vec<String>),
}

impl HandlerError {
    /// The `errorType` Lambda reports.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Run(_) => "ReconcileError",
            Self::Failures(_) => "ReconcileFailures",
        }
    }
}

impl std::fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {self}", self.error_type())
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        Diagnostic { error_type: error.error_type().into(), error_message: error.to_string() }
    }
}

/// Runs the reconciler once, whatever the payload (the schedule sends `{}`), by Lambda's
/// deadline. Prints the run's EMF line, logs each drift at DEBUG and the counts at INFO; a run
/// with failures fails the invocation (after its writes), so Lambda's Errors metric shows it.
pub async fn handle(
    reconciler: &Reconciler,
    event: LambdaEvent<Value>,
) -> Result<ReconcileReport, HandlerError> {
    let deadline = Deadline::from_epoch_millis(event.context.deadline);
    let report = reconciler.run(deadline).await?;
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
        api_calls = report.api_calls,
        throttles = report.throttles,
        cut_short = report.cut_short.as_deref().unwrap_or(""),
        "reconciled"
    );
    if report.failures.is_empty() {
        Ok(report)
    } else {
        Err(HandlerError::Failures(report.failures))
    }
}
