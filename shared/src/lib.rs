//! Event model and domain logic shared by the ECS events Lambda functions and the replay CLI.
//!
//! # Module map
//!
//! Data flows one way: bytes → event → decision → port → adapter. Domain code imports no SDK
//! crate; adapters decide nothing. The modules, in that order:
//!
//! * **bytes → event**
//!   * [`event`]: the EventBridge envelope and the typed `detail` of each ECS event type; what
//!     one delivery holds (one event, a batch, wrapped ones) split into events.
//!   * [`redact`]: secrets in task overrides replaced before an event is logged, stored or
//!     printed.
//!   * [`event_log`]: the listener's one JSON line per event, which the CLI reads back.
//! * **event → decision**
//!   * [`pattern`]: the EventBridge pattern engine (the `eventbridge-pattern` crate).
//!   * [`tracker`]: the state tracker's decision: build the record, write it if newer.
//!   * [`alert`]: rules, rendering and the [`alert::Alerter`]: what to tell, and once.
//!   * [`incident`]: matches grouped into one story per outage, with a digest per window.
//!   * [`service`]: services and deployments; [`service::health`] decides down and recovered.
//!   * [`reconcile`]: the state table held against the ECS API, for what events cannot tell.
//! * **port → adapter** (each port with an in-memory adapter and an AWS one, in its module)
//!   * [`state`]: version ordering and the [`state::StateStore`] port of tasks and container
//!     instances.
//!   * the ports of the modules above: [`incident::IncidentStore`], [`service::ServiceStore`],
//!     [`alert::AlertLedger`] and [`alert::AlertSink`].
//!   * `dynamodb_item` (crate-private): what the DynamoDB adapters share to write and read
//!     items, and to tell a failed condition from other failures.
//!   * `sdk_error` (crate-private): which SDK failures a retry may mend, and their messages.
//!   * [`aws`]: the SDK clients, built in one place (timeouts, retries, trust roots).
//! * **around the flow**
//!   * [`config`]: environment variables, read once at cold start.
//!   * [`deadline`]: the time an invocation has; every wait is bounded by it.
//!   * [`account`]: accounts and Regions kept apart, and named in messages.
//!   * [`telemetry`]: the `tracing` subscriber and the EMF metric lines.
//!   * `handler_error` ([`handler_error!`]): a function's error as the runtime's `Diagnostic`.

pub mod account;
pub mod alert;
pub mod aws;
pub mod config;
pub mod deadline;
mod dynamodb_item;
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
