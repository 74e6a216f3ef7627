//! Event model and domain logic shared by the ECS events Lambda functions and the replay CLI.

pub mod event;
