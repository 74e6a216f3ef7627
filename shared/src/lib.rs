//! Event model and domain logic shared by the ECS events Lambda functions and the replay CLI.

pub mod config;
pub mod event;
mod sdk_error;
pub mod state;
pub mod telemetry;
pub mod tracker;
