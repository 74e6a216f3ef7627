//! Lambda entry point of the state tracker.

use std::sync::Arc;

use ecs_events::config::{StateTrackerConfig, or_exit};
use ecs_events::service::DynamoDbServiceStore;
use ecs_events::state::DynamoDbStateStore;
use ecs_events::{aws, telemetry};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use state_tracker::{FUNCTION_NAME, SqsDeadLetters, StateTracker};

#[tokio::main]
async fn main() {
    telemetry::init_logging();
    let config = or_exit(FUNCTION_NAME, StateTrackerConfig::from_env());
    let sdk = aws::function_sdk_config().await;
    let dynamodb = aws::dynamodb(&sdk);
    let store = DynamoDbStateStore::new(
        dynamodb.clone(),
        config.task_table,
        config.container_instance_table,
    );
    let services =
        DynamoDbServiceStore::new(dynamodb, config.service_table, config.deployment_table);
    let mut tracker = StateTracker::new(Arc::new(store), Arc::new(services), config.retention);
    if let Some(queue_url) = config.dead_letter_queue_url {
        let client = aws_sdk_sqs::Client::new(&sdk);
        tracker = tracker.with_dead_letters(Arc::new(SqsDeadLetters::new(client, queue_url)));
    }
    let ran = lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| tracker.handle(event)));
    or_exit(FUNCTION_NAME, ran.await);
}
