//! Event model and domain logic shared by the ECS events Lambda functions and the replay CLI.

pub mod account;
pub mod alert;
pub mod aws;
pub mod config;
pub mod deadline;
pub mod event;
pub mod event_log;
mod handler_error;
pub mod incident;
pub use eventbridge_pattern as pattern;
pub mod reconcile;
pub mod redact;
mod sdk_error;
pub mod service;
pub mod state;
pub mod telemetry;
pub mod tracker;
