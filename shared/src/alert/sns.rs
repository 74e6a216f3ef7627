//! The SNS alert sink: one `Publish` per alert with `MessageStructure=json`.

use async_trait::async_trait;
use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use serde_json::{Value, json};

use super::Alert;
use super::sink::{AlertSink, SinkError};
use crate::sdk_error::{describe, is_retryable};

/// Publishes alerts to an SNS topic: the plain text for `default` and `email` subscribers, the
/// JSON document for `sqs`, `lambda`, `http` and `https` ones, and message attributes for
/// subscription filter policies.
#[derive(Debug, Clone)]
pub struct SnsAlertSink {
    client: Client,
    topic_arn: String,
}

impl SnsAlertSink {
    /// A sink publishing to `topic_arn`.
    pub fn new(client: Client, topic_arn: String) -> Self {
        Self { client, topic_arn }
    }
}

/// The `Message` of a `MessageStructure=json` publish.
pub fn structured_message(alert: &Alert) -> String {
    let document = alert.document.to_string();
    json!({
        "default": alert.message,
        "email": alert.message,
        "sqs": document,
        "lambda": document,
        "http": document,
        "https": document,
    })
    .to_string()
}

#[async_trait]
impl AlertSink for SnsAlertSink {
    async fn publish(&self, alert: &Alert) -> Result<(), SinkError> {
        let failed = |message: String, retryable: bool| SinkError {
            key: alert.dedup_key.clone(),
            message,
            retryable,
        };
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&alert.subject)
            .message_structure("json")
            .message(structured_message(alert));
        for (name, value) in &alert.attributes {
            let (data_type, text) = match value {
                Value::Number(number) => ("Number", number.to_string()),
                Value::String(text) => ("String", text.clone()),
                other => ("String", other.to_string()),
            };
            let attribute = MessageAttributeValue::builder()
                .data_type(data_type)
                .string_value(text)
                .build()
                .map_err(|error| failed(error.to_string(), false))?;
            request = request.message_attributes(name, attribute);
        }
        request.send().await.map_err(|error| failed(describe(&error), is_retryable(&error)))?;
        Ok(())
    }
}
