//! Where buffered records that can never be tracked go at once: the buffer's dead-letter
//! queue (the one SQS's redrive policy would move them to after five receives), with the
//! error that condemned them as message attributes.

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::MessageAttributeValue;

/// A record sent to the dead-letter queue, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The record's body, as received.
    pub body: String,
    /// The record's SQS message id.
    pub message_id: String,
    /// `NonRetryable.InvalidEvent` or `NonRetryable.TrackError`.
    pub error_type: String,
    /// What was wrong.
    pub error_message: String,
}

/// The dead-letter port.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    /// Sends `letter`; the error says why it could not be.
    async fn send(&self, letter: &DeadLetter) -> Result<(), String>;
}

/// The buffer's dead-letter queue in SQS.
#[derive(Debug, Clone)]
pub struct SqsDeadLetters {
    client: Client,
    queue_url: String,
}

impl SqsDeadLetters {
    /// Dead letters go to `queue_url`.
    pub fn new(client: Client, queue_url: String) -> Self {
        Self { client, queue_url }
    }
}

/// SQS message attribute values are at most 256 KB with the body; keep the error readable.
const MAX_ERROR_CHARS: usize = 1024;

#[async_trait]
impl DeadLetters for SqsDeadLetters {
    async fn send(&self, letter: &DeadLetter) -> Result<(), String> {
        let attribute = |value: &str| {
            let value: String = value.chars().take(MAX_ERROR_CHARS).collect();
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(if value.is_empty() { "-".to_owned() } else { value })
                .build()
                .map_err(|error| error.to_string())
        };
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(if letter.body.is_empty() { " " } else { &letter.body })
            .message_attributes("errorType", attribute(&letter.error_type)?)
            .message_attributes("errorMessage", attribute(&letter.error_message)?)
            .message_attributes("sourceMessageId", attribute(&letter.message_id)?)
            .send()
            .await
            .map_err(|error| DisplayErrorContext(&error).to_string())?;
        Ok(())
    }
}
