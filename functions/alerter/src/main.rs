//! Lambda entry point of the alerter.

use std::sync::Arc;

use ecs_events::alert::{Alerter, DynamoDbLedger, ServiceWatch, SnsAlertSink, SnsChatSink};
use ecs_events::config::{AlerterConfig, or_exit};
use ecs_events::incident::DynamoDbIncidentStore;
use ecs_events::service::{DynamoDbServiceStore, health};
use ecs_events::state::DynamoDbStateStore;
use ecs_events::{aws, telemetry};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() {
    telemetry::init_logging();
    let config = or_exit(alerter::FUNCTION_NAME, AlerterConfig::from_env());
    let sdk = aws::function_sdk_config().await;
    // One client per service, shared by every store and sink: each client built is an HTTPS
    // connector (trust store included) at start-up and a connection pool of its own.
    let dynamodb = aws::dynamodb(&sdk);
    let sns = aws::sns(&sdk);
    let ledger = DynamoDbLedger::new(dynamodb.clone(), config.ledger_table);
    let sink = SnsAlertSink::new(sns.clone(), config.topic_arn);
    let mut alerter =
        Alerter::new(config.rules, Arc::new(ledger), Arc::new(sink), config.ledger_retention)
            .with_account_names(Arc::new(config.account_names));
    if let Some(table) = config.incident_table {
        alerter =
            alerter.with_incidents(Arc::new(DynamoDbIncidentStore::new(dynamodb.clone(), table)));
    }
    if let Some(tables) = config.services {
        let state = DynamoDbStateStore::new(dynamodb.clone(), tables.task_table, String::new());
        let services = DynamoDbServiceStore::new(
            dynamodb.clone(),
            tables.service_table,
            tables.deployment_table,
        );
        alerter = alerter.with_services(ServiceWatch {
            services: Arc::new(services),
            state: Arc::new(state),
            settings: health::Settings { silence_after: config.silence_after },
        });
    }
    if let Some(topic) = config.chat_topic_arn {
        alerter = alerter.with_chat(Arc::new(SnsChatSink::new(sns, topic)));
    }
    let alerter = &alerter;
    let ran = lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        alerter::handle(alerter, event)
    }));
    or_exit(alerter::FUNCTION_NAME, ran.await);
}
