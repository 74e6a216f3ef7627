//! Lambda entry point of the alerter.

use std::sync::Arc;

use ecs_events::alert::{Alerter, DynamoDbLedger, SnsAlertSink};
use ecs_events::config::{AlerterConfig, or_exit};
use ecs_events::{aws, telemetry};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() {
    telemetry::init_logging();
    let config = or_exit(alerter::FUNCTION_NAME, AlerterConfig::from_env());
    let sdk = aws::sdk_config(None).await;
    let ledger = DynamoDbLedger::new(aws::dynamodb(&sdk), config.ledger_table);
    let sink = SnsAlertSink::new(aws::sns(&sdk), config.topic_arn);
    let alerter =
        Alerter::new(config.rules, Arc::new(ledger), Arc::new(sink), config.ledger_retention);
    let alerter = &alerter;
    let ran = lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        alerter::handle(alerter, event)
    }));
    or_exit(alerter::FUNCTION_NAME, ran.await);
}
