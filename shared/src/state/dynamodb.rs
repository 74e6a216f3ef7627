//! The DynamoDB state store: one conditional `PutItem` per event.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use serde_json::Value;

use super::{PutResult, ResourceKind, StateRecord, StateStore, StoreError};
use crate::sdk_error::{describe, is_retryable};

/// Name of the task table's global secondary index on (`clusterArn`, `lastStatus`).
pub const TASK_STATUS_INDEX: &str = "clusterArn-lastStatus-index";

/// Stores records in two DynamoDB tables: tasks keyed by `taskArn`, container instances by
/// `containerInstanceArn`.
///
/// Item attributes: the key, `version` (N), `clusterArn`, `lastStatus` (tasks) or `status`
/// (instances), `eventId`, `eventTime`, `region`, `account`, `detail` (M, the whole detail),
/// and `expiresAt` (N, epoch seconds, stopped tasks only) for DynamoDB's TTL.
#[derive(Debug, Clone)]
pub struct DynamoDbStateStore {
    client: Client,
    task_table: String,
    container_instance_table: String,
}

impl DynamoDbStateStore {
    /// A store over the given tables.
    pub fn new(client: Client, task_table: String, container_instance_table: String) -> Self {
        Self { client, task_table, container_instance_table }
    }

    fn table(&self, kind: ResourceKind) -> &str {
        match kind {
            ResourceKind::Task => &self.task_table,
            ResourceKind::ContainerInstance => &self.container_instance_table,
        }
    }

    fn request_error<E>(
        &self,
        operation: &'static str,
        kind: ResourceKind,
        error: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    ) -> StoreError
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata
            + std::error::Error
            + Send
            + Sync
            + 'static,
    {
        StoreError::Request {
            operation,
            table: self.table(kind).to_owned(),
            message: describe(&error),
            retryable: is_retryable(&error),
            source: Box::new(error),
        }
    }

    fn malformed(&self, kind: ResourceKind, key: &str, message: impl Into<String>) -> StoreError {
        StoreError::Malformed {
            table: self.table(kind).to_owned(),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    fn record_from_item(
        &self,
        kind: ResourceKind,
        mut item: HashMap<String, AttributeValue>,
    ) -> Result<StateRecord, StoreError> {
        let key = match item.remove(kind.key_attribute()) {
            Some(AttributeValue::S(key)) => key,
            _ => return Err(self.malformed(kind, "?", format!("no {}", kind.key_attribute()))),
        };
        let mut text = |name: &str| match item.remove(name) {
            Some(AttributeValue::S(value)) => Ok(value),
            _ => Err(self.malformed(kind, &key, format!("attribute {name} is not a string"))),
        };
        let cluster_arn = text("clusterArn")?;
        let status = text(kind.status_attribute())?;
        let event_id = text("eventId")?;
        let event_time = text("eventTime")?;
        let region = text("region")?;
        let account = text("account")?;
        let version = number(&item, "version")
            .ok_or_else(|| self.malformed(kind, &key, "attribute version is not a number"))?;
        let expires_at = number(&item, "expiresAt");
        let detail: Value = item
            .remove("detail")
            .map(serde_dynamo::from_attribute_value)
            .transpose()
            .map_err(|error| self.malformed(kind, &key, format!("detail: {error}")))?
            .unwrap_or(Value::Null);
        Ok(StateRecord {
            kind,
            key,
            version,
            cluster_arn,
            status,
            event_id,
            event_time,
            region,
            account,
            expires_at,
            detail: Arc::new(detail),
        })
    }
}

/// The DynamoDB item of a record (see [`DynamoDbStateStore`] for its attributes).
pub fn record_to_item(
    record: &StateRecord,
) -> Result<HashMap<String, AttributeValue>, serde_dynamo::Error> {
    let detail: AttributeValue = serde_dynamo::to_attribute_value(record.detail.as_ref())?;
    let mut item = HashMap::from([
        (record.kind.key_attribute().to_owned(), AttributeValue::S(record.key.clone())),
        ("version".to_owned(), AttributeValue::N(record.version.to_string())),
        ("clusterArn".to_owned(), AttributeValue::S(record.cluster_arn.clone())),
        (record.kind.status_attribute().to_owned(), AttributeValue::S(record.status.clone())),
        ("eventId".to_owned(), AttributeValue::S(record.event_id.clone())),
        ("eventTime".to_owned(), AttributeValue::S(record.event_time.clone())),
        ("region".to_owned(), AttributeValue::S(record.region.clone())),
        ("account".to_owned(), AttributeValue::S(record.account.clone())),
        ("detail".to_owned(), detail),
    ]);
    if let Some(expires_at) = record.expires_at {
        item.insert("expiresAt".to_owned(), AttributeValue::N(expires_at.to_string()));
    }
    Ok(item)
}

/// A numeric attribute, parsed.
fn number<T: std::str::FromStr>(item: &HashMap<String, AttributeValue>, name: &str) -> Option<T> {
    match item.get(name) {
        Some(AttributeValue::N(number)) => number.parse().ok(),
        _ => None,
    }
}

#[async_trait]
impl StateStore for DynamoDbStateStore {
    async fn put_if_newer(&self, record: StateRecord) -> Result<PutResult, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(self.table(record.kind))
            .set_item(Some(
                record_to_item(&record)
                    .map_err(|error| self.malformed(record.kind, &record.key, error.to_string()))?,
            ))
            .condition_expression("attribute_not_exists(#key) OR #version < :version")
            .expression_attribute_names("#key", record.kind.key_attribute())
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", AttributeValue::N(record.version.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutResult::Written),
            Err(error) => {
                if let Some(PutItemError::ConditionalCheckFailedException(failed)) =
                    error.as_service_error()
                {
                    let stored_version =
                        failed.item().and_then(|old| number(old, "version")).ok_or_else(|| {
                            self.malformed(record.kind, &record.key, "stored item has no version")
                        })?;
                    return Ok(PutResult::Kept { stored_version });
                }
                Err(self.request_error("PutItem", record.kind, error))
            }
        }
    }

    async fn get(&self, kind: ResourceKind, key: &str) -> Result<Option<StateRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(self.table(kind))
            .key(kind.key_attribute(), AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| self.request_error("GetItem", kind, error))?;
        output.item.map(|item| self.record_from_item(kind, item)).transpose()
    }

    async fn list_tasks(
        &self,
        cluster_arn: &str,
        last_status: &str,
    ) -> Result<Vec<StateRecord>, StoreError> {
        let kind = ResourceKind::Task;
        let mut pages = self
            .client
            .query()
            .table_name(self.table(kind))
            .index_name(TASK_STATUS_INDEX)
            .key_condition_expression("#cluster = :cluster AND #status = :status")
            .expression_attribute_names("#cluster", "clusterArn")
            .expression_attribute_names("#status", "lastStatus")
            .expression_attribute_values(":cluster", AttributeValue::S(cluster_arn.to_owned()))
            .expression_attribute_values(":status", AttributeValue::S(last_status.to_owned()))
            .into_paginator()
            .send();
        let mut records = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| self.request_error("Query", kind, error))?;
            for item in page.items.unwrap_or_default() {
                records.push(self.record_from_item(kind, item)?);
            }
        }
        records.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(records)
    }
}
