//! Lambda entry point of the state tracker.

use std::sync::Arc;

use ecs_events::config::{StateTrackerConfig, or_exit};
use ecs_events::state::DynamoDbStateStore;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use state_tracker::{FUNCTION_NAME, StateTracker};

#[tokio::main]
async fn main() {
    lambda_runtime::tracing::init_default_subscriber();
    let config = or_exit(FUNCTION_NAME, StateTrackerConfig::from_env());
    let aws = aws_config::load_from_env().await;
    let store = DynamoDbStateStore::new(
        aws_sdk_dynamodb::Client::new(&aws),
        config.task_table,
        config.container_instance_table,
    );
    let tracker = StateTracker::new(Arc::new(store), config.retention);
    let ran = lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| tracker.handle(event)));
    or_exit(FUNCTION_NAME, ran.await);
}
