//! Lambda entry point of the listener.

use ecs_events::config::or_exit;
use ecs_events::telemetry;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() {
    telemetry::init_logging();
    let ran = lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        listener::handle(event, &mut std::io::stdout().lock())
    }));
    or_exit("listener", ran.await);
}
