//! The DynamoDB service store: two tables, each write one conditional request.
//!
//! * **Services** (hash key `serviceArn`): `clusterArn`, `desiredCount`, `desiredAt` (N, epoch
//!   ms), `desiredSource` (`event` or `reconcile`), `status`, `steadyAt` (N, epoch ms), `health`
//!   (M) with `healthVersion` (N) for the tick's compare-and-set, one `trouble#<incident key>`
//!   (M) per open incident, and `expiresAt` once the API says the service is `INACTIVE`.
//! * **Deployments** (hash key `serviceArn`, range key `deploymentId`): `clusterArn`, `status`,
//!   `reason`, `updatedAt` (N, epoch ms: the order of states), `eventId`, `startedAt`,
//!   `endedAt` (N), `rolledBackTo`, `rollback` (BOOL), `expiresAt` (N, TTL). The index
//!   [`DEPLOYMENT_CLUSTER_INDEX`] (hash `clusterArn`, range `updatedAt`) lists a cluster's.
//!
//! A deployment event is one `UpdateItem` on condition that the stored state is older, which
//! keeps what an older state learnt (`startedAt` is set only if absent); a failed condition
//! returns the stored item, telling a duplicate from a stale event without a second request.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::{
    DeploymentChange, DeploymentRecord, Desired, Health, ServiceRecord, ServiceStore, Trouble,
};
use crate::dynamodb_item::{condition_failed, flag, n, number, returned_item, s, string};
use crate::sdk_error::{describe, is_retryable};
use crate::state::{Create, PutResult, Source, StoreError};

/// The deployment table's index on (`clusterArn`, `updatedAt`).
pub const DEPLOYMENT_CLUSTER_INDEX: &str = "clusterArn-updatedAt-index";

/// How long (seconds) a deleted service's record stays.
const DELETED_SERVICE_RETENTION: i64 = 7 * 86_400;

/// The prefix of a service item's attributes that hold its open incidents.
const TROUBLE_PREFIX: &str = "trouble#";

/// Services and deployments in two DynamoDB tables; see the module documentation.
#[derive(Debug, Clone)]
pub struct DynamoDbServiceStore {
    client: Client,
    service_table: String,
    deployment_table: String,
}

/// A string attribute of `item`, owned.
fn text(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    string(item, name).map(str::to_owned)
}

impl DynamoDbServiceStore {
    /// A store over the service and deployment tables.
    pub fn new(client: Client, service_table: String, deployment_table: String) -> Self {
        Self { client, service_table, deployment_table }
    }

    fn request_error<E>(
        operation: &'static str,
        table: &str,
        error: SdkError<E, HttpResponse>,
    ) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        StoreError::Request {
            operation,
            table: table.to_owned(),
            message: describe(&error),
            retryable: is_retryable(&error),
            source: Box::new(error),
        }
    }

    fn malformed(table: &str, key: &str, message: impl Into<String>) -> StoreError {
        StoreError::Malformed {
            table: table.to_owned(),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    /// A conditional write of something observed at `at_ms` into the `attribute` of a service
    /// item, newer wins: `Kept` carries the stored time.
    async fn newer_write(
        &self,
        service_arn: &str,
        attribute: &str,
        at_ms: i64,
        request: UpdateItemFluentBuilder,
    ) -> Result<PutResult, StoreError> {
        let result = request
            .table_name(&self.service_table)
            .key("serviceArn", s(service_arn))
            .condition_expression("attribute_not_exists(#at) OR #at < :at")
            .expression_attribute_names("#at", attribute)
            .expression_attribute_values(":at", n(at_ms))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutResult::Written),
            Err(error) if condition_failed(&error) => {
                let stored = returned_item(&error).and_then(|item| number::<i64>(item, attribute));
                Ok(PutResult::Kept {
                    stored_version: stored
                        .and_then(|at| u64::try_from(at).ok())
                        .unwrap_or_default(),
                })
            }
            Err(error) => Err(Self::request_error("UpdateItem", &self.service_table, error)),
        }
    }

    fn deployment_from_item(
        &self,
        item: &HashMap<String, AttributeValue>,
    ) -> Result<DeploymentRecord, StoreError> {
        let key = text(item, "deploymentId").unwrap_or_else(|| "?".to_owned());
        let missing = |name: &str| {
            Self::malformed(&self.deployment_table, &key, format!("attribute {name} is missing"))
        };
        Ok(DeploymentRecord {
            service_arn: text(item, "serviceArn").ok_or_else(|| missing("serviceArn"))?,
            status: text(item, "status").ok_or_else(|| missing("status"))?,
            updated_ms: number(item, "updatedAt").ok_or_else(|| missing("updatedAt"))?,
            event_id: text(item, "eventId").ok_or_else(|| missing("eventId"))?,
            expires_at: number(item, "expiresAt").unwrap_or_default(),
            cluster_arn: text(item, "clusterArn"),
            reason: text(item, "reason"),
            started_ms: number(item, "startedAt"),
            ended_ms: number(item, "endedAt"),
            rolled_back_to: text(item, "rolledBackTo"),
            rollback: flag(item, "rollback"),
            deployment_id: key.clone(),
        })
    }

    fn service_from_item(
        &self,
        item: &HashMap<String, AttributeValue>,
    ) -> Result<ServiceRecord, StoreError> {
        let arn = text(item, "serviceArn").unwrap_or_else(|| "?".to_owned());
        let malformed = |message: String| Self::malformed(&self.service_table, &arn, message);
        let cluster_arn = text(item, "clusterArn")
            .ok_or_else(|| malformed("attribute clusterArn is missing".into()))?;
        let desired = match (number(item, "desiredCount"), number(item, "desiredAt")) {
            (Some(count), Some(at_ms)) => Some(Desired {
                count,
                at_ms,
                source: text(item, "desiredSource")
                    .and_then(|source| Source::parse(&source))
                    .unwrap_or_default(),
            }),
            _ => None,
        };
        let health: Health = match item.get("health") {
            Some(value) => serde_dynamo::from_attribute_value(value.clone())
                .map_err(|error| malformed(format!("health: {error}")))?,
            None => Health::default(),
        };
        let mut troubles = Vec::new();
        for (name, value) in item {
            if name.starts_with(TROUBLE_PREFIX) {
                let trouble: Trouble = serde_dynamo::from_attribute_value(value.clone())
                    .map_err(|error| malformed(format!("{name}: {error}")))?;
                troubles.push(trouble);
            }
        }
        troubles.sort_by(|a, b| a.incident.cmp(&b.incident));
        Ok(ServiceRecord {
            service_arn: arn.clone(),
            cluster_arn,
            desired,
            status: text(item, "status"),
            steady_at_ms: number(item, "steadyAt"),
            health,
            troubles,
        })
    }
}

#[async_trait]
impl ServiceStore for DynamoDbServiceStore {
    async fn put_deployment(
        &self,
        change: DeploymentChange,
        create: Create,
    ) -> Result<PutResult, StoreError> {
        let mut set = vec![
            "#status = :status",
            "#updated = :updated",
            "#event = :event",
            "#expires = :expires",
        ];
        let mut remove = Vec::new();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.deployment_table)
            .key("serviceArn", s(&change.service_arn))
            .key("deploymentId", s(&change.deployment_id))
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#updated", "updatedAt")
            .expression_attribute_names("#event", "eventId")
            .expression_attribute_names("#expires", "expiresAt")
            .expression_attribute_names("#reason", "reason")
            .expression_attribute_names("#service", "serviceArn")
            .expression_attribute_values(":status", s(&change.status))
            .expression_attribute_values(":updated", n(change.updated_ms))
            .expression_attribute_values(":event", s(&change.event_id))
            .expression_attribute_values(":expires", n(change.expires_at));
        match &change.reason {
            Some(reason) => {
                set.push("#reason = :reason");
                request = request.expression_attribute_values(":reason", s(reason));
            }
            None => remove.push("#reason"),
        }
        if let Some(cluster) = &change.cluster_arn {
            set.push("#cluster = :cluster");
            request = request
                .expression_attribute_names("#cluster", "clusterArn")
                .expression_attribute_values(":cluster", s(cluster));
        }
        if change.status == "IN_PROGRESS" {
            set.push("#started = if_not_exists(#started, :updated)");
            request = request.expression_attribute_names("#started", "startedAt");
        }
        if change.is_finished() {
            set.push("#ended = :updated");
            request = request.expression_attribute_names("#ended", "endedAt");
        }
        if let Some(target) = &change.rolled_back_to {
            set.push("#target = :target");
            request = request
                .expression_attribute_names("#target", "rolledBackTo")
                .expression_attribute_values(":target", s(target));
        }
        if change.rollback {
            set.push("#rollback = :rollback");
            request = request
                .expression_attribute_names("#rollback", "rollback")
                .expression_attribute_values(":rollback", AttributeValue::Bool(true));
        }
        let mut update = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            update.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let condition = match create {
            Create::Allowed => "attribute_not_exists(#service) OR #updated < :updated",
            Create::OnlyUpdate => "attribute_exists(#service) AND #updated < :updated",
        };
        let result = request
            .update_expression(update)
            .condition_expression(condition)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutResult::Written),
            Err(error) if condition_failed(&error) => match returned_item(&error) {
                None if create == Create::OnlyUpdate => Ok(PutResult::NotCreated),
                item => {
                    let stored = item
                        .and_then(|item| number::<i64>(item, "updatedAt"))
                        .ok_or_else(|| {
                            Self::malformed(
                                &self.deployment_table,
                                &change.deployment_id,
                                "stored item has no updatedAt",
                            )
                        })?;
                    Ok(PutResult::Kept {
                        stored_version: u64::try_from(stored).unwrap_or_default(),
                    })
                }
            },
            Err(error) => Err(Self::request_error("UpdateItem", &self.deployment_table, error)),
        }
    }

    async fn deployment(
        &self,
        service_arn: &str,
        deployment_id: &str,
    ) -> Result<Option<DeploymentRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.deployment_table)
            .key("serviceArn", s(service_arn))
            .key("deploymentId", s(deployment_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| Self::request_error("GetItem", &self.deployment_table, error))?;
        output.item.map(|item| self.deployment_from_item(&item)).transpose()
    }

    async fn deployments(
        &self,
        cluster_arn: &str,
        service_arn: Option<&str>,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        let query = self.client.query().table_name(&self.deployment_table);
        let query = match service_arn {
            Some(service) => query
                .key_condition_expression("#service = :service")
                .expression_attribute_names("#service", "serviceArn")
                .expression_attribute_values(":service", s(service)),
            None => query
                .index_name(DEPLOYMENT_CLUSTER_INDEX)
                .key_condition_expression("#cluster = :cluster")
                .expression_attribute_names("#cluster", "clusterArn")
                .expression_attribute_values(":cluster", s(cluster_arn)),
        };
        let mut pages = query.into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|error| Self::request_error("Query", &self.deployment_table, error))?;
            for item in page.items.unwrap_or_default() {
                found.push(self.deployment_from_item(&item)?);
            }
        }
        found.sort_by(|a, b| {
            a.updated_ms.cmp(&b.updated_ms).then_with(|| a.deployment_id.cmp(&b.deployment_id))
        });
        Ok(found)
    }

    async fn observe_desired(
        &self,
        service_arn: &str,
        cluster_arn: &str,
        desired: Desired,
        status: Option<&str>,
    ) -> Result<PutResult, StoreError> {
        let mut update =
            "SET #cluster = :cluster, #count = :count, #at = :at, #source = :source".to_owned();
        let mut request = self
            .client
            .update_item()
            .expression_attribute_names("#cluster", "clusterArn")
            .expression_attribute_names("#count", "desiredCount")
            .expression_attribute_names("#source", "desiredSource")
            .expression_attribute_values(":cluster", s(cluster_arn))
            .expression_attribute_values(":count", n(desired.count))
            .expression_attribute_values(":source", s(desired.source.as_str()));
        if let Some(status) = status {
            update.push_str(", #status = :status");
            request = request
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(status));
            if status == "INACTIVE" {
                // A deleted service's record goes after a while (DynamoDB's TTL).
                let expires = desired.at_ms.div_euclid(1_000) + DELETED_SERVICE_RETENTION;
                update.push_str(", #expires = :expires");
                request = request
                    .expression_attribute_names("#expires", "expiresAt")
                    .expression_attribute_values(":expires", n(expires));
            }
        }
        let request = request.update_expression(update);
        self.newer_write(service_arn, "desiredAt", desired.at_ms, request).await
    }

    async fn observe_steady(
        &self,
        service_arn: &str,
        cluster_arn: &str,
        at_ms: i64,
    ) -> Result<PutResult, StoreError> {
        let request = self
            .client
            .update_item()
            .update_expression("SET #cluster = :cluster, #at = :at")
            .expression_attribute_names("#cluster", "clusterArn")
            .expression_attribute_values(":cluster", s(cluster_arn));
        self.newer_write(service_arn, "steadyAt", at_ms, request).await
    }

    async fn services(&self) -> Result<Vec<ServiceRecord>, StoreError> {
        let mut pages = self.client.scan().table_name(&self.service_table).into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|error| Self::request_error("Scan", &self.service_table, error))?;
            for item in page.items.unwrap_or_default() {
                found.push(self.service_from_item(&item)?);
            }
        }
        found.sort_by(|a, b| a.service_arn.cmp(&b.service_arn));
        Ok(found)
    }

    async fn service(&self, service_arn: &str) -> Result<Option<ServiceRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.service_table)
            .key("serviceArn", s(service_arn))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| Self::request_error("GetItem", &self.service_table, error))?;
        output.item.map(|item| self.service_from_item(&item)).transpose()
    }

    async fn put_health(
        &self,
        service_arn: &str,
        cluster_arn: &str,
        health: &Health,
    ) -> Result<bool, StoreError> {
        let value: AttributeValue = serde_dynamo::to_attribute_value(health).map_err(|error| {
            Self::malformed(&self.service_table, service_arn, format!("health: {error}"))
        })?;
        let version = i64::try_from(health.version).unwrap_or(i64::MAX);
        let mut request = self
            .client
            .update_item()
            .table_name(&self.service_table)
            .key("serviceArn", s(service_arn))
            .update_expression("SET #cluster = :cluster, #health = :health, #version = :version")
            .expression_attribute_names("#cluster", "clusterArn")
            .expression_attribute_names("#health", "health")
            .expression_attribute_names("#version", "healthVersion")
            .expression_attribute_values(":cluster", s(cluster_arn))
            .expression_attribute_values(":health", value)
            .expression_attribute_values(":version", n(version));
        request = if version <= 1 {
            request.condition_expression("attribute_not_exists(#version)")
        } else {
            request
                .condition_expression("#version = :previous")
                .expression_attribute_values(":previous", n(version - 1))
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(error) if condition_failed(&error) => Ok(false),
            Err(error) => Err(Self::request_error("UpdateItem", &self.service_table, error)),
        }
    }

    async fn add_trouble(
        &self,
        service_arn: &str,
        cluster_arn: &str,
        trouble: &Trouble,
    ) -> Result<(), StoreError> {
        let value: AttributeValue = serde_dynamo::to_attribute_value(trouble).map_err(|error| {
            Self::malformed(&self.service_table, service_arn, format!("trouble: {error}"))
        })?;
        self.client
            .update_item()
            .table_name(&self.service_table)
            .key("serviceArn", s(service_arn))
            .update_expression("SET #cluster = :cluster, #trouble = :trouble")
            .expression_attribute_names("#cluster", "clusterArn")
            .expression_attribute_names("#trouble", format!("{TROUBLE_PREFIX}{}", trouble.incident))
            .expression_attribute_values(":cluster", s(cluster_arn))
            .expression_attribute_values(":trouble", value)
            .send()
            .await
            .map_err(|error| Self::request_error("UpdateItem", &self.service_table, error))?;
        Ok(())
    }

    async fn remove_trouble(
        &self,
        service_arn: &str,
        incident: &str,
        opened: i64,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.service_table)
            .key("serviceArn", s(service_arn))
            .update_expression("REMOVE #trouble")
            .condition_expression("#trouble.#opened = :opened")
            .expression_attribute_names("#trouble", format!("{TROUBLE_PREFIX}{incident}"))
            .expression_attribute_names("#opened", "opened")
            .expression_attribute_values(":opened", n(opened))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Gone already, or a newer incident of the key took its place.
            Err(error) if condition_failed(&error) => Ok(()),
            Err(error) => Err(Self::request_error("UpdateItem", &self.service_table, error)),
        }
    }
}
