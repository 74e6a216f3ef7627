//! Lambda entry point of the reconciler.

use std::sync::Arc;

use ecs_events::config::{ReconcilerConfig, or_exit};
use ecs_events::reconcile::Reconciler;
use ecs_events::service::DynamoDbServiceStore;
use ecs_events::state::DynamoDbStateStore;
use ecs_events::{aws, telemetry};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() {
    telemetry::init_logging();
    let config = or_exit(reconciler::FUNCTION_NAME, ReconcilerConfig::from_env());
    let sdk = aws::function_sdk_config().await;
    let dynamodb = aws::dynamodb(&sdk);
    let store = DynamoDbStateStore::new(
        dynamodb.clone(),
        config.task_table,
        config.container_instance_table,
    );
    // The reconciler writes services, never deployments.
    let services = DynamoDbServiceStore::new(dynamodb, config.service_table, String::new());
    let reconciler = Reconciler::new(&aws::ecs(&sdk), Arc::new(store), config.settings)
        .with_services(Arc::new(services))
        .with_members(&sdk, config.members);
    let reconciler = &reconciler;
    let ran = lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        reconciler::handle(reconciler, event)
    }));
    or_exit(reconciler::FUNCTION_NAME, ran.await);
}
