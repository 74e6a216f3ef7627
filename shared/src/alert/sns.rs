//! The SNS alert sink: one `Publish` per alert with `MessageStructure=json`.

use async_trait::async_trait;
use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use serde_json::{Value, json};

use super::Alert;
use super::sink::{AlertSink, SinkError};
use crate::sdk_error::{describe, is_retryable};

/// SNS's limit on a published message: body, subject and attributes together.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// Room kept for the subject, the attributes and the request's own framing.
const ENVELOPE_RESERVE: usize = 8 * 1024;

/// Publishes alerts to an SNS topic: the plain text for `email` subscribers, the JSON
/// document for every other protocol (`default`: SQS, Lambda, HTTP/S, `email-json`,
/// Firehose), and message attributes for subscription filter policies.
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

/// The `Message` of a `MessageStructure=json` publish, within SNS's size limit: a document
/// that would not fit first loses the event `detail` it embeds, then its text is cut (in both
/// layouts), each time saying so in the document (`truncated`).
pub fn structured_message(alert: &Alert) -> String {
    let budget = MAX_MESSAGE_BYTES - ENVELOPE_RESERVE;
    let layout = |document: &Value, text: &str| {
        json!({"default": document.to_string(), "email": text}).to_string()
    };
    let message = layout(&alert.document, &alert.message);
    if message.len() <= budget {
        return message;
    }
    let mut document = alert.document.clone();
    if let Some(fields) = document.as_object_mut() {
        fields.remove("detail");
        fields.insert("truncated".into(), json!("detail omitted: over SNS's message size limit"));
    }
    let mut text = alert.message.clone();
    let mut message = layout(&document, &text);
    // Halving converges in a few steps; the bound only guards against a document that stays
    // too large without its text (SNS then refuses it, and the error says why).
    for _ in 0..24 {
        if message.len() <= budget {
            break;
        }
        let keep = floor_char_boundary(&alert.message, text.len() / 2);
        text = format!("{}\n[... cut: over SNS's message size limit]\n", &alert.message[..keep]);
        if let Some(fields) = document.as_object_mut() {
            fields.insert("text".into(), json!(text));
            fields.insert(
                "truncated".into(),
                json!("detail omitted and text cut: over SNS's message size limit"),
            );
        }
        message = layout(&document, &text);
    }
    message
}

/// The largest index at most `index` that is a character boundary of `text`.
fn floor_char_boundary(text: &str, index: usize) -> usize {
    (0..=index.min(text.len())).rev().find(|&at| text.is_char_boundary(at)).unwrap_or(0)
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

/// Publishes each alert's chat notification ([`super::chat`]) to the chat topic, which Amazon
/// Q Developer in chat applications is subscribed to: the JSON document as a plain message (no
/// `MessageStructure`), checked against the schema first — the service drops a message that
/// does not match it without an error, so one that does not is refused here, loudly.
#[derive(Debug, Clone)]
pub struct SnsChatSink {
    client: Client,
    topic_arn: String,
}

impl SnsChatSink {
    /// A sink publishing to the chat topic `topic_arn`.
    pub fn new(client: Client, topic_arn: String) -> Self {
        Self { client, topic_arn }
    }
}

#[async_trait]
impl AlertSink for SnsChatSink {
    async fn publish(&self, alert: &Alert) -> Result<(), SinkError> {
        let failed = |message: String, retryable: bool| SinkError {
            key: alert.dedup_key.clone(),
            message,
            retryable,
        };
        super::chat::check_notification(&alert.chat).map_err(|problem| {
            failed(format!("chat notification off the schema: {problem}"), false)
        })?;
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(alert.chat.to_string())
            .send()
            .await
            .map_err(|error| failed(describe(&error), is_retryable(&error)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::account::AccountNames;
    use crate::alert::{MatchContext, RuleSet, render_alert};
    use crate::event::EcsEvent;

    fn deployment_with_detail_bytes(size: usize) -> Alert {
        let mut raw: Value = serde_json::from_str(include_str!(
            "../../../events/samples/deployment-failed-rollback.json"
        ))
        .expect("JSON");
        raw["detail"]["notes"] = json!("x\"y".repeat(size / 3));
        let detail = Some(raw["detail"].to_string());
        let event = EcsEvent::from_value(raw).expect("valid");
        let rules = RuleSet::from_json(r#"[{"name": "any", "pattern": {"source": ["aws.ecs"]}}]"#)
            .expect("rule");
        let context = MatchContext { detail, ..MatchContext::default() };
        let now = event.time.instant();
        render_alert(&rules.rules()[0], &event, &context, None, &AccountNames::none(), now)
    }

    #[test]
    fn given_a_small_alert_then_the_message_holds_the_whole_document_and_text() {
        let alert = deployment_with_detail_bytes(100);
        let message: Value = serde_json::from_str(&structured_message(&alert)).expect("JSON");
        assert_eq!(message["email"], alert.message);
        let document: Value = serde_json::from_str(message["default"].as_str().expect("string"))
            .expect("JSON document");
        assert_eq!(document, alert.document);
    }

    #[test]
    fn given_a_detail_too_large_for_sns_then_the_message_degrades_below_the_limit() {
        // 200 KB of detail, escaped into the document: well over SNS's 256 KB once wrapped.
        let alert = deployment_with_detail_bytes(200 * 1024);
        assert!(alert.document.to_string().len() > 200 * 1024);
        let message = structured_message(&alert);
        assert!(message.len() <= MAX_MESSAGE_BYTES - ENVELOPE_RESERVE, "{}", message.len());
        let message: Value = serde_json::from_str(&message).expect("JSON");
        let document: Value = serde_json::from_str(message["default"].as_str().expect("string"))
            .expect("JSON document");
        assert_eq!(document.get("detail"), None);
        assert!(document["truncated"].as_str().is_some_and(|note| note.contains("size limit")));
        assert_eq!(document["alertKey"], alert.document["alertKey"]);
        assert_eq!(message["email"], alert.message, "the text was small enough to keep");
    }
}
