//! The alert sink port, and the in-process sink that collects alerts (the embedded default
//! for local replay).

use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use super::Alert;

/// Publishing an alert failed.
#[derive(Debug, thiserror::Error)]
#[error("publishing alert {key} failed: {message}")]
pub struct SinkError {
    /// The alert's idempotency key.
    pub key: String,
    /// What went wrong.
    pub message: String,
    /// Whether a later retry may succeed.
    pub retryable: bool,
}

/// Where alerts go.
#[async_trait]
pub trait AlertSink: Send + Sync {
    /// Delivers one alert.
    async fn publish(&self, alert: &Alert) -> Result<(), SinkError>;
}

/// Keeps every published alert in memory, in order.
#[derive(Debug, Default)]
pub struct CollectingSink {
    alerts: Mutex<Vec<Alert>>,
}

impl CollectingSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// The alerts published so far.
    pub fn alerts(&self) -> Vec<Alert> {
        self.alerts.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[async_trait]
impl AlertSink for CollectingSink {
    async fn publish(&self, alert: &Alert) -> Result<(), SinkError> {
        self.alerts.lock().unwrap_or_else(PoisonError::into_inner).push(alert.clone());
        Ok(())
    }
}
