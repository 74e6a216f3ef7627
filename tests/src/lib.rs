//! The `ecs-replay` tool's library: replay captured ECS events through the functions' code.

pub mod tables;
