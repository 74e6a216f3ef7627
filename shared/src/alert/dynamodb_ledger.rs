//! The DynamoDB alert ledger: a table keyed by `alertKey`, with `state` (`IN_PROGRESS` or
//! `SENT`), `claimToken`, `leaseUntil` and `expiresAt` (TTL) attributes.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::ledger::{AlertLedger, Claim, LedgerError, Marked};
use crate::dynamodb_item::{condition_failed, failed_condition, n, number, s, string};
use crate::sdk_error::{describe, is_retryable};

/// Key attribute of the ledger table.
pub const LEDGER_KEY: &str = "alertKey";

const IN_PROGRESS: &str = "IN_PROGRESS";
const SENT: &str = "SENT";

/// The ledger in a DynamoDB table whose key is `alertKey` (S).
#[derive(Debug, Clone)]
pub struct DynamoDbLedger {
    client: Client,
    table: String,
}

impl DynamoDbLedger {
    /// A ledger in `table`.
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }
}

fn ledger_error<E>(
    operation: &'static str,
    key: &str,
    error: &SdkError<E, HttpResponse>,
) -> LedgerError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    LedgerError {
        operation,
        key: key.to_owned(),
        message: describe(error),
        retryable: is_retryable(error),
    }
}

#[async_trait]
impl AlertLedger for DynamoDbLedger {
    async fn claim(
        &self,
        key: &str,
        token: &str,
        now: i64,
        lease_until: i64,
        expires_at: i64,
    ) -> Result<Claim, LedgerError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(LEDGER_KEY, s(key))
            .item("state", s(IN_PROGRESS))
            .item("claimToken", s(token))
            .item("leaseUntil", n(lease_until))
            .item("expiresAt", n(expires_at))
            .condition_expression(
                "attribute_not_exists(#key) OR (#state = :inProgress AND #lease < :now)",
            )
            .expression_attribute_names("#key", LEDGER_KEY)
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#lease", "leaseUntil")
            .expression_attribute_values(":inProgress", s(IN_PROGRESS))
            .expression_attribute_values(":now", n(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(Claim::Claimed),
            Err(error) => error,
        };
        let Some(failed) = failed_condition(&error) else {
            return Err(ledger_error("claim", key, &error));
        };
        let old = failed.item();
        if old.and_then(|item| string(item, "state")) == Some(SENT) {
            return Ok(Claim::AlreadySent);
        }
        let lease_until = old.and_then(|item| number(item, "leaseUntil")).unwrap_or(lease_until);
        Ok(Claim::InProgress { lease_until })
    }

    async fn mark_sent(
        &self,
        key: &str,
        token: &str,
        expires_at: i64,
    ) -> Result<Marked, LedgerError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(LEDGER_KEY, s(key))
            .item("state", s(SENT))
            .item("expiresAt", n(expires_at))
            .condition_expression("#state = :inProgress AND #token = :token")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#token", "claimToken")
            .expression_attribute_values(":inProgress", s(IN_PROGRESS))
            .expression_attribute_values(":token", s(token))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Marked::Sent),
            Err(error) if condition_failed(&error) => Ok(Marked::NotHeld),
            Err(error) => Err(ledger_error("mark sent", key, &error)),
        }
    }

    async fn release(&self, key: &str, token: &str) -> Result<(), LedgerError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(LEDGER_KEY, s(key))
            .condition_expression("#state = :inProgress AND #token = :token")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#token", "claimToken")
            .expression_attribute_values(":inProgress", s(IN_PROGRESS))
            .expression_attribute_values(":token", s(token))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The claim is no longer ours (taken over, or already sent): nothing to give back.
            Err(error) if condition_failed(&error) => Ok(()),
            Err(error) => Err(ledger_error("release", key, &error)),
        }
    }
}
