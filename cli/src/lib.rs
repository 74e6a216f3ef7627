//! The `ecs-events` tool's library: replay captured ECS events through the functions' code, read
//! the state table, reconcile it with ECS.

pub mod columns;
pub mod deployments;
pub mod generate;
pub mod input;
pub mod parallel;
pub mod reconcile;
pub mod replay;
pub mod scope;
pub mod stats;
pub mod tables;
pub mod tasks;
pub mod test_pattern;
pub mod test_rules;
pub mod text_report;
pub mod timeline;
