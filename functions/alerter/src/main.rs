//! Lambda entry point of the alerter.

use std::sync::Arc;

use ecs_events::alert::{Alerter, DynamoDbLedger, SnsAlertSink};
use ecs_events::config::{AlerterConfig, or_exit};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() {
    lambda_runtime::tracing::init_default_subscriber();
    let config = or_exit(alerter::FUNCTION_NAME, AlerterConfig::from_env());
    let aws = aws_config::load_from_env().await;
    let ledger = DynamoDbLedger::new(aws_sdk_dynamodb::Client::new(&aws), config.ledger_table);
    let sink = SnsAlertSink::new(aws_sdk_sns::Client::new(&aws), config.topic_arn);
    let alerter = Alerter::new(config.rules, Arc::new(ledger), Arc::new(sink), config.times);
    let alerter = &alerter;
    let ran = lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        alerter::handle(alerter, event)
    }));
    or_exit(alerter::FUNCTION_NAME, ran.await);
}
