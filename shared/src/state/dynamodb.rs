//! The DynamoDB state store: one conditional `PutItem` per event.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, ReturnValuesOnConditionCheckFailure,
};

use super::detail::Detail;
use super::record::{TaskFacts, number_size};
use super::{
    Create, PutResult, ResourceKind, Source, StateRecord, StateStore, StoreError, StoredVersion,
    TaskSummary, finished_status,
};
use crate::dynamodb_item::{condition_failed, failed_condition, n, number, s};
use crate::event::Timestamp;
use crate::sdk_error::{describe, is_retryable};

/// Name of the task table's global secondary index on (`clusterArn`, `lastStatus`).
pub const TASK_STATUS_INDEX: &str = "clusterArn-lastStatus-index";

/// The attributes the index projects besides its keys and the table's key: what listing a
/// cluster's tasks shows, so it reads nothing else (and each write to the index stays small).
pub const TASK_STATUS_INDEX_ATTRIBUTES: [&str; 7] =
    ["version", "group", "startedAt", "stoppedAt", "stopCode", "failedContainers", "missingSince"];

/// Name of the task table's global secondary index on `deploymentId`: sparse (only tasks a
/// service deployment started carry it), it finds a deployment's tasks.
pub const TASK_DEPLOYMENT_INDEX: &str = "deploymentId-index";

/// The attributes the deployment index projects besides its key and the table's: what a
/// deployment's summary counts.
pub const TASK_DEPLOYMENT_INDEX_ATTRIBUTES: [&str; 7] =
    ["clusterArn", "lastStatus", "version", "startedAt", "stoppedAt", "outcome", "stopCause"];

/// Name of the container instance table's global secondary index on (`clusterArn`, `status`):
/// the reconciler finds a cluster's instances there, to mark the ones ECS no longer lists.
pub const CONTAINER_INSTANCE_STATUS_INDEX: &str = "clusterArn-status-index";

/// The attributes the container instance index projects besides its keys.
pub const CONTAINER_INSTANCE_STATUS_INDEX_ATTRIBUTES: [&str; 2] = ["version", "missingSince"];

/// The most keys one `BatchGetItem` takes.
const BATCH_GET: usize = 100;
/// Rounds of `BatchGetItem` for keys DynamoDB left unprocessed (throttled) before giving up.
const BATCH_GET_ROUNDS: usize = 5;

/// Stores records in two DynamoDB tables: tasks keyed by `taskArn`, container instances by
/// `containerInstanceArn`.
///
/// Item attributes: the key, `version` (N), `clusterArn`, `lastStatus` (tasks) or `status`
/// (instances), `eventId`, `eventTime`, `source` (`event` or `reconcile`), `expiresAt` (N,
/// epoch seconds, for DynamoDB's TTL: stopped tasks, deregistered instances and tasks marked
/// missing), `missingSince` (N, epoch seconds, set by the reconciler), a task's facts (`group`, `startedAt`,
/// `stoppedAt`, `stopCode`, `failedContainers`, when known) and `detail` (B: the whole detail,
/// compressed; see [`Detail`]).
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
        let malformed = |message: String| self.malformed(kind, &key, message);
        let cluster_arn =
            text(&mut item, "clusterArn").ok_or_else(|| malformed(missing("clusterArn")))?;
        let status = text(&mut item, kind.status_attribute())
            .ok_or_else(|| malformed(missing(kind.status_attribute())))?;
        let event_id = text(&mut item, "eventId").ok_or_else(|| malformed(missing("eventId")))?;
        let event_time =
            text(&mut item, "eventTime").ok_or_else(|| malformed(missing("eventTime")))?;
        let event_time = Timestamp::parse(&event_time)
            .map_err(|error| malformed(format!("eventTime {event_time:?}: {error}")))?;
        let version = number(&item, "version").ok_or_else(|| malformed(missing("version")))?;
        let expires_at = number(&item, "expiresAt");
        // Items written before the reconciler existed have no source: events wrote them.
        let source = match text(&mut item, "source") {
            None => Source::Event,
            Some(source) => Source::parse(&source)
                .ok_or_else(|| malformed(format!("source {source:?} is not event or reconcile")))?,
        };
        let missing_since = number(&item, "missingSince");
        let api_facts = text(&mut item, "apiFacts");
        let facts = facts(&mut item);
        let detail = match item.remove("detail") {
            Some(AttributeValue::B(bytes)) => Detail::decode(bytes.as_ref()).map_err(malformed)?,
            _ => return Err(malformed(missing("detail"))),
        };
        Ok(StateRecord {
            kind,
            key,
            version,
            cluster_arn,
            status,
            event_id,
            event_time,
            source,
            missing_since,
            expires_at,
            api_facts,
            facts,
            detail,
        })
    }
}

fn missing(name: &str) -> String {
    format!("attribute {name} is missing or of the wrong type")
}

/// A string attribute, taken out of the item.
fn text(item: &mut HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    match item.remove(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

/// The task facts an item (or an index entry) holds.
fn facts(item: &mut HashMap<String, AttributeValue>) -> TaskFacts {
    TaskFacts {
        group: text(item, "group"),
        started_at: text(item, "startedAt"),
        stopped_at: text(item, "stoppedAt"),
        stop_code: text(item, "stopCode"),
        failed_containers: text(item, "failedContainers"),
        deployment_id: text(item, "deploymentId"),
        outcome: text(item, "outcome"),
        stop_cause: text(item, "stopCause"),
    }
}

/// The DynamoDB item of a record (see [`DynamoDbStateStore`] for its attributes).
pub fn record_to_item(record: &StateRecord) -> Result<HashMap<String, AttributeValue>, String> {
    let detail = record.detail.encode()?;
    let mut item = HashMap::from([
        (record.kind.key_attribute().to_owned(), s(&record.key)),
        ("version".to_owned(), n(record.version)),
        ("clusterArn".to_owned(), s(&record.cluster_arn)),
        (record.kind.status_attribute().to_owned(), s(&record.status)),
        ("eventId".to_owned(), s(&record.event_id)),
        ("eventTime".to_owned(), s(record.event_time.as_str())),
        ("source".to_owned(), s(record.source.as_str())),
        ("detail".to_owned(), AttributeValue::B(Blob::new(detail))),
    ]);
    if let Some(api_facts) = &record.api_facts {
        item.insert("apiFacts".to_owned(), s(api_facts));
    }
    for (name, value) in [("expiresAt", record.expires_at), ("missingSince", record.missing_since)]
    {
        if let Some(value) = value {
            item.insert(name.to_owned(), n(value));
        }
    }
    let TaskFacts {
        group,
        started_at,
        stopped_at,
        stop_code,
        failed_containers,
        deployment_id,
        outcome,
        stop_cause,
    } = &record.facts;
    for (name, value) in [
        ("group", group),
        ("startedAt", started_at),
        ("stoppedAt", stopped_at),
        ("stopCode", stop_code),
        ("failedContainers", failed_containers),
        ("deploymentId", deployment_id),
        ("outcome", outcome),
        ("stopCause", stop_cause),
    ] {
        if let Some(value) = value.as_ref().filter(|value| !value.is_empty()) {
            item.insert(name.to_owned(), s(value));
        }
    }
    Ok(item)
}

/// An item's size as DynamoDB bills it: each attribute's name plus its value (strings and
/// binaries: their bytes; numbers: one byte per two significant digits, plus one; lists and
/// maps: 3 bytes plus their elements and one byte each; booleans and nulls: one byte).
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::B(bytes) => bytes.as_ref().len(),
        AttributeValue::N(number) => number_size(number),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(items) => {
            3 + items.iter().map(|item| 1 + value_size(item)).sum::<usize>()
        }
        AttributeValue::M(entries) => {
            3 + entries.iter().map(|(name, item)| 1 + name.len() + value_size(item)).sum::<usize>()
        }
        AttributeValue::Ss(items) => items.iter().map(String::len).sum(),
        AttributeValue::Ns(items) => items.iter().map(|number| number_size(number)).sum(),
        AttributeValue::Bs(items) => items.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

#[async_trait]
impl StateStore for DynamoDbStateStore {
    async fn put_if_newer(
        &self,
        record: StateRecord,
        create: Create,
    ) -> Result<PutResult, StoreError> {
        let item = record_to_item(&record)
            .map_err(|error| self.malformed(record.kind, &record.key, error))?;
        let condition = match create {
            Create::Allowed => "attribute_not_exists(#key) OR #version < :version",
            Create::OnlyUpdate => "attribute_exists(#key) AND #version < :version",
        };
        let result = self
            .client
            .put_item()
            .table_name(self.table(record.kind))
            .set_item(Some(item))
            .condition_expression(condition)
            .expression_attribute_names("#key", record.kind.key_attribute())
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", n(record.version))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutResult::Written),
            Err(error) => {
                if let Some(failed) = failed_condition(&error) {
                    return match failed.item() {
                        None if create == Create::OnlyUpdate => Ok(PutResult::NotCreated),
                        old => old.and_then(|old| number(old, "version")).map_or_else(
                            || {
                                Err(self.malformed(
                                    record.kind,
                                    &record.key,
                                    "stored item has no version",
                                ))
                            },
                            |stored_version| Ok(PutResult::Kept { stored_version }),
                        ),
                    };
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
            .key(kind.key_attribute(), s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| self.request_error("GetItem", kind, error))?;
        output.item.map(|item| self.record_from_item(kind, item)).transpose()
    }

    async fn list_tasks(
        &self,
        cluster_arn: &str,
        last_status: Option<&str>,
    ) -> Result<Vec<TaskSummary>, StoreError> {
        let kind = ResourceKind::Task;
        let query = self
            .client
            .query()
            .table_name(self.table(kind))
            .index_name(TASK_STATUS_INDEX)
            .expression_attribute_names("#cluster", "clusterArn")
            .expression_attribute_values(":cluster", s(cluster_arn));
        let query = match last_status {
            Some(status) => query
                .key_condition_expression("#cluster = :cluster AND #status = :status")
                .expression_attribute_names("#status", "lastStatus")
                .expression_attribute_values(":status", s(status)),
            None => query.key_condition_expression("#cluster = :cluster"),
        };
        let mut pages = query.into_paginator().send();
        let mut tasks = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| self.request_error("Query", kind, error))?;
            for item in page.items.unwrap_or_default() {
                tasks.push(self.summary(item, Some(cluster_arn))?);
            }
        }
        tasks.sort_by(|a, b| a.task_arn.cmp(&b.task_arn));
        Ok(tasks)
    }

    async fn deployment_tasks(&self, deployment_id: &str) -> Result<Vec<TaskSummary>, StoreError> {
        let kind = ResourceKind::Task;
        let mut pages = self
            .client
            .query()
            .table_name(self.table(kind))
            .index_name(TASK_DEPLOYMENT_INDEX)
            .key_condition_expression("#deployment = :deployment")
            .expression_attribute_names("#deployment", "deploymentId")
            .expression_attribute_values(":deployment", s(deployment_id))
            .into_paginator()
            .send();
        let mut tasks = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| self.request_error("Query", kind, error))?;
            for item in page.items.unwrap_or_default() {
                tasks.push(self.summary(item, None)?);
            }
        }
        tasks.sort_by(|a, b| a.task_arn.cmp(&b.task_arn));
        Ok(tasks)
    }

    async fn cluster_arns(&self) -> Result<Vec<String>, StoreError> {
        // The index holds a small entry per task: scanning it reads no detail.
        let kind = ResourceKind::Task;
        let mut pages = self
            .client
            .scan()
            .table_name(self.table(kind))
            .index_name(TASK_STATUS_INDEX)
            .projection_expression("#cluster")
            .expression_attribute_names("#cluster", "clusterArn")
            .into_paginator()
            .send();
        let mut clusters = std::collections::BTreeSet::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| self.request_error("Scan", kind, error))?;
            clusters.extend(
                page.items
                    .unwrap_or_default()
                    .iter_mut()
                    .filter_map(|item| text(item, "clusterArn")),
            );
        }
        Ok(clusters.into_iter().collect())
    }

    async fn mark_missing(
        &self,
        kind: ResourceKind,
        key: &str,
        version: u64,
        since: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        self.update_mark(
            kind,
            key,
            version,
            "SET #missing = :since, #expires = :expires",
            "#version = :version AND attribute_not_exists(#missing)",
            [(":since", since), (":expires", expires_at)],
        )
        .await
    }

    async fn clear_missing(
        &self,
        kind: ResourceKind,
        key: &str,
        version: u64,
    ) -> Result<bool, StoreError> {
        self.update_mark(
            kind,
            key,
            version,
            "REMOVE #missing, #expires",
            "#version = :version AND attribute_exists(#missing)",
            [],
        )
        .await
    }

    async fn stored_versions(
        &self,
        kind: ResourceKind,
        keys: &[String],
    ) -> Result<HashMap<String, StoredVersion>, StoreError> {
        let table = self.table(kind).to_owned();
        let mut found = HashMap::new();
        for batch in keys.chunks(BATCH_GET) {
            let mut wanted = KeysAndAttributes::builder()
                .projection_expression("#key, #version, #status, #time, #missing, #facts")
                .expression_attribute_names("#key", kind.key_attribute())
                .expression_attribute_names("#version", "version")
                .expression_attribute_names("#status", kind.status_attribute())
                .expression_attribute_names("#time", "eventTime")
                .expression_attribute_names("#missing", "missingSince")
                .expression_attribute_names("#facts", "apiFacts");
            for key in batch {
                wanted = wanted.keys(HashMap::from([(kind.key_attribute().to_owned(), s(key))]));
            }
            let mut wanted = Some(wanted.build().map_err(|error| {
                self.malformed(kind, "?", format!("cannot build the batch read: {error}"))
            })?);
            for round in 0.. {
                let Some(keys) = wanted.take() else { break };
                if round == BATCH_GET_ROUNDS {
                    return Err(self.unprocessed(kind));
                }
                if round > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << round)).await;
                }
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&table, keys)
                    .send()
                    .await
                    .map_err(|error| self.request_error("BatchGetItem", kind, error))?;
                for mut item in
                    output.responses.and_then(|mut r| r.remove(&table)).unwrap_or_default()
                {
                    let stored = self.stored_version(kind, &mut item)?;
                    found.insert(stored.key.clone(), stored);
                }
                wanted = output
                    .unprocessed_keys
                    .and_then(|mut unprocessed| unprocessed.remove(&table))
                    .filter(|keys| !keys.keys().is_empty());
            }
        }
        Ok(found)
    }

    async fn unfinished(
        &self,
        kind: ResourceKind,
        cluster_arn: &str,
    ) -> Result<Vec<StoredVersion>, StoreError> {
        let index = match kind {
            ResourceKind::Task => TASK_STATUS_INDEX,
            ResourceKind::ContainerInstance => CONTAINER_INSTANCE_STATUS_INDEX,
        };
        let mut unfinished = Vec::new();
        // Every status but the finished one, in two ranges of the index's sort key.
        for comparison in ["<", ">"] {
            let mut pages = self
                .client
                .query()
                .table_name(self.table(kind))
                .index_name(index)
                .key_condition_expression(format!(
                    "#cluster = :cluster AND #status {comparison} :finished"
                ))
                .expression_attribute_names("#cluster", "clusterArn")
                .expression_attribute_names("#status", kind.status_attribute())
                .expression_attribute_values(":cluster", s(cluster_arn))
                .expression_attribute_values(":finished", s(finished_status(kind)))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|error| self.request_error("Query", kind, error))?;
                for mut item in page.items.unwrap_or_default() {
                    unfinished.push(self.stored_version(kind, &mut item)?);
                }
            }
        }
        unfinished.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(unfinished)
    }

    async fn put_api_facts(&self, record: StateRecord) -> Result<bool, StoreError> {
        let item = record_to_item(&record)
            .map_err(|error| self.malformed(record.kind, &record.key, error))?;
        let result = self
            .client
            .put_item()
            .table_name(self.table(record.kind))
            .set_item(Some(item))
            .condition_expression(
                "#version = :version AND (attribute_not_exists(#facts) OR #facts <> :facts)",
            )
            .expression_attribute_names("#version", "version")
            .expression_attribute_names("#facts", "apiFacts")
            .expression_attribute_values(":version", n(record.version))
            .expression_attribute_values(
                ":facts",
                s(record.api_facts.as_deref().unwrap_or_default()),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if condition_failed(&error) => Ok(false),
            Err(error) => Err(self.request_error("PutItem", record.kind, error)),
        }
    }
}

impl DynamoDbStateStore {
    /// A task summary of an index entry (`cluster_arn`: the cluster it was queried by, else
    /// the entry's).
    fn summary(
        &self,
        mut item: HashMap<String, AttributeValue>,
        cluster_arn: Option<&str>,
    ) -> Result<TaskSummary, StoreError> {
        let kind = ResourceKind::Task;
        let task_arn = text(&mut item, kind.key_attribute())
            .ok_or_else(|| self.malformed(kind, "?", missing("taskArn")))?;
        let version = number(&item, "version")
            .ok_or_else(|| self.malformed(kind, &task_arn, missing("version")))?;
        let last_status = text(&mut item, kind.status_attribute())
            .ok_or_else(|| self.malformed(kind, &task_arn, missing("lastStatus")))?;
        let cluster_arn = match cluster_arn {
            Some(cluster_arn) => cluster_arn.to_owned(),
            None => text(&mut item, "clusterArn")
                .ok_or_else(|| self.malformed(kind, &task_arn, missing("clusterArn")))?,
        };
        Ok(TaskSummary {
            cluster_arn,
            last_status,
            version,
            missing_since: number(&item, "missingSince"),
            facts: facts(&mut item),
            task_arn,
        })
    }

    /// The stored version of an item (or an index entry) read without its detail.
    fn stored_version(
        &self,
        kind: ResourceKind,
        item: &mut HashMap<String, AttributeValue>,
    ) -> Result<StoredVersion, StoreError> {
        let key = text(item, kind.key_attribute())
            .ok_or_else(|| self.malformed(kind, "?", missing(kind.key_attribute())))?;
        let version = number(item, "version")
            .ok_or_else(|| self.malformed(kind, &key, missing("version")))?;
        let status = text(item, kind.status_attribute())
            .ok_or_else(|| self.malformed(kind, &key, missing(kind.status_attribute())))?;
        let written_at = text(item, "eventTime")
            .and_then(|time| Timestamp::parse(&time).ok())
            .map(|time| time.instant().timestamp());
        Ok(StoredVersion {
            version,
            status,
            written_at,
            missing_since: number(item, "missingSince"),
            api_facts: text(item, "apiFacts"),
            key,
        })
    }

    fn unprocessed(&self, kind: ResourceKind) -> StoreError {
        StoreError::Request {
            operation: "BatchGetItem",
            table: self.table(kind).to_owned(),
            message: format!("keys still unprocessed after {BATCH_GET_ROUNDS} rounds (throttled)"),
            retryable: true,
            source: "unprocessed keys".into(),
        }
    }

    /// One conditional `UpdateItem` of the missing mark of a record at `version`: says whether
    /// the condition held (`false`: the record changed, is gone, or is already as asked).
    async fn update_mark<const N: usize>(
        &self,
        kind: ResourceKind,
        key: &str,
        version: u64,
        update: &str,
        condition: &str,
        numbers: [(&str, i64); N],
    ) -> Result<bool, StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(self.table(kind))
            .key(kind.key_attribute(), s(key))
            .update_expression(update)
            .condition_expression(condition)
            .expression_attribute_names("#version", "version")
            .expression_attribute_names("#missing", "missingSince")
            .expression_attribute_names("#expires", "expiresAt")
            .expression_attribute_values(":version", n(version));
        for (name, value) in numbers {
            request = request.expression_attribute_values(name, n(value));
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(error) if condition_failed(&error) => Ok(false),
            Err(error) => Err(self.request_error("UpdateItem", kind, error)),
        }
    }
}
