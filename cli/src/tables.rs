//! Creates the state tables and the alert ledger, as the templates define them (keys, the
//! task table's cluster/status index, TTL on `expiresAt`), on a DynamoDB-compatible endpoint
//! (moto, DynamoDB Local) or in an account: `--create-tables`, and the tests.
//!
//! Safe to rerun: a table that exists with the right key is kept as it is (a wrong key is an
//! error naming it); every table is waited for until it is `ACTIVE`, and its TTL is enabled.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext};
use aws_sdk_dynamodb::operation::create_table::CreateTableError as SdkCreateTableError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableDescription, TimeToLiveSpecification,
    TimeToLiveStatus,
};
use ecs_events::alert::LEDGER_KEY;
use ecs_events::incident::{DUE_INDEX, INCIDENT_ENTRY, INCIDENT_KEY};
use ecs_events::service::DEPLOYMENT_CLUSTER_INDEX;
use ecs_events::state::{
    CONTAINER_INSTANCE_STATUS_INDEX, CONTAINER_INSTANCE_STATUS_INDEX_ATTRIBUTES, ResourceKind,
    TASK_DEPLOYMENT_INDEX, TASK_DEPLOYMENT_INDEX_ATTRIBUTES, TASK_STATUS_INDEX,
    TASK_STATUS_INDEX_ATTRIBUTES,
};

/// The TTL attribute of every table.
pub const TTL_ATTRIBUTE: &str = "expiresAt";

/// How long to wait for a new table to become `ACTIVE`.
const ACTIVE_WITHIN: Duration = Duration::from_secs(300);

/// A table could not be created or is not usable as it is.
#[derive(Debug, thiserror::Error)]
#[error("table {table}: {message}")]
pub struct CreateTableError {
    /// The table.
    pub table: String,
    /// What is wrong, or what DynamoDB said.
    pub message: String,
}

/// Creates, when missing, the task table (key `taskArn`, GSIs on `clusterArn` + `lastStatus`
/// projecting what listing a cluster shows and on `deploymentId`) and the container instance
/// table (key `containerInstanceArn`, GSI on `clusterArn` + `status`), on-demand, with TTL.
pub async fn create_state_tables(
    client: &Client,
    task_table: &str,
    container_instance_table: &str,
) -> Result<(), CreateTableError> {
    ensure_table(client, task_table, Table::State(ResourceKind::Task)).await?;
    ensure_table(client, container_instance_table, Table::State(ResourceKind::ContainerInstance))
        .await
}

/// Creates, when missing, the service table (key `serviceArn`) and the deployment table (keys
/// `serviceArn` + `deploymentId`, GSI on `clusterArn` + `updatedAt`), on-demand, with TTL.
pub async fn create_service_tables(
    client: &Client,
    service_table: &str,
    deployment_table: &str,
) -> Result<(), CreateTableError> {
    ensure_table(client, service_table, Table::Services).await?;
    ensure_table(client, deployment_table, Table::Deployments).await
}

/// Creates, when missing, the alert ledger table (key `alertKey`), on-demand, with TTL.
pub async fn create_ledger_table(client: &Client, table: &str) -> Result<(), CreateTableError> {
    ensure_table(client, table, Table::Ledger).await
}

/// Creates, when missing, the incident table (hash key `incidentKey`, range key `entry`, the
/// due-digests index),
/// on-demand, with TTL.
pub async fn create_incident_table(client: &Client, table: &str) -> Result<(), CreateTableError> {
    ensure_table(client, table, Table::Incidents).await
}

/// The tables the toolkit keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    State(ResourceKind),
    Ledger,
    Incidents,
    Services,
    Deployments,
}

/// A global secondary index as the templates define it.
struct Index {
    name: &'static str,
    hash: (&'static str, ScalarAttributeType),
    range: Option<(&'static str, ScalarAttributeType)>,
    /// `None`: every attribute; `Some(&[])`: the keys only; else these too.
    projected: Option<&'static [&'static str]>,
}

impl Table {
    /// The string key attributes: the hash key, and the range key if there is one.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Self::State(ResourceKind::Task) => &["taskArn"],
            Self::State(ResourceKind::ContainerInstance) => &["containerInstanceArn"],
            Self::Ledger => &[LEDGER_KEY],
            Self::Incidents => &[INCIDENT_KEY, INCIDENT_ENTRY],
            Self::Services => &["serviceArn"],
            Self::Deployments => &["serviceArn", "deploymentId"],
        }
    }

    /// Its global secondary indexes.
    fn indexes(self) -> Vec<Index> {
        use ScalarAttributeType::{N, S};
        match self {
            Self::State(ResourceKind::Task) => vec![
                Index {
                    name: TASK_STATUS_INDEX,
                    hash: ("clusterArn", S),
                    range: Some(("lastStatus", S)),
                    projected: Some(&TASK_STATUS_INDEX_ATTRIBUTES),
                },
                Index {
                    name: TASK_DEPLOYMENT_INDEX,
                    hash: ("deploymentId", S),
                    range: None,
                    projected: Some(&TASK_DEPLOYMENT_INDEX_ATTRIBUTES),
                },
            ],
            Self::State(ResourceKind::ContainerInstance) => vec![Index {
                name: CONTAINER_INSTANCE_STATUS_INDEX,
                hash: ("clusterArn", S),
                range: Some(("status", S)),
                projected: Some(&CONTAINER_INSTANCE_STATUS_INDEX_ATTRIBUTES),
            }],
            Self::Incidents => vec![Index {
                name: DUE_INDEX,
                hash: ("dueShard", S),
                range: Some(("dueAt", N)),
                projected: Some(&[]),
            }],
            Self::Deployments => vec![Index {
                name: DEPLOYMENT_CLUSTER_INDEX,
                hash: ("clusterArn", S),
                range: Some(("updatedAt", N)),
                projected: None,
            }],
            Self::Ledger | Self::Services => Vec::new(),
        }
    }
}

async fn ensure_table(client: &Client, table: &str, kind: Table) -> Result<(), CreateTableError> {
    let error = |message: String| CreateTableError { table: table.to_owned(), message };
    let key = kind.keys();
    match client.describe_table().table_name(table).send().await {
        Ok(output) => {
            check_key(output.table(), key).map_err(error)?;
            check_index(output.table(), kind).map_err(error)?;
        }
        Err(described)
            if matches!(
                described.as_service_error(),
                Some(DescribeTableError::ResourceNotFoundException(_))
            ) =>
        {
            let request =
                create_table_request(client, table, kind).map_err(|e| error(e.to_string()))?;
            match request.send().await {
                Ok(_) => {}
                // Created by someone else in the meantime: check it like an existing one.
                Err(created)
                    if matches!(
                        created.as_service_error(),
                        Some(SdkCreateTableError::ResourceInUseException(_))
                    ) =>
                {
                    let output = client.describe_table().table_name(table).send().await;
                    let output = output.map_err(|e| error(DisplayErrorContext(&e).to_string()))?;
                    check_key(output.table(), key).map_err(error)?;
                }
                Err(created) => return Err(error(DisplayErrorContext(&created).to_string())),
            }
        }
        Err(described) => return Err(error(DisplayErrorContext(&described).to_string())),
    }
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(ACTIVE_WITHIN)
        .await
        .map_err(|e| error(format!("did not become ACTIVE: {}", DisplayErrorContext(&e))))?;
    enable_ttl(client, table).await.map_err(error)
}

/// The table's key must be `key` (a string) alone.
fn check_key(description: Option<&TableDescription>, keys: &[&str]) -> Result<(), String> {
    let description = description.ok_or("DynamoDB did not describe it")?;
    let schema: Vec<String> = description
        .key_schema()
        .iter()
        .map(|element| format!("{} ({})", element.attribute_name(), element.key_type().as_str()))
        .collect();
    let expected: Vec<String> = keys
        .iter()
        .zip(["HASH", "RANGE"])
        .map(|(key, key_type)| format!("{key} ({key_type})"))
        .collect();
    let types = description.attribute_definitions();
    let keys_are_strings = keys.iter().all(|key| {
        types.iter().any(|definition| {
            definition.attribute_name() == *key
                && definition.attribute_type() == &ScalarAttributeType::S
        })
    });
    if schema == expected && keys_are_strings {
        Ok(())
    } else {
        Err(format!(
            "exists with key schema [{}], expected the string keys [{}] \
             (use another table name, or delete this table)",
            schema.join(", "),
            expected.join(", ")
        ))
    }
}

/// The indexes an existing table must have for the code that reads it (a table made by an
/// older version may lack one: the reconciler needs the instances' cluster/status index, the
/// deployment summaries the tasks' deployment index).
fn check_index(description: Option<&TableDescription>, kind: Table) -> Result<(), String> {
    let present: Vec<&str> = description
        .map(|table| table.global_secondary_indexes())
        .unwrap_or_default()
        .iter()
        .filter_map(|index| index.index_name())
        .collect();
    match kind.indexes().into_iter().find(|index| !present.contains(&index.name)) {
        None => Ok(()),
        Some(missing) => Err(format!(
            "exists without the index {} (made by an older version?): add the index as the \
             templates define it, or use another table name",
            missing.name
        )),
    }
}

/// Enables TTL on [`TTL_ATTRIBUTE`] unless it already is.
async fn enable_ttl(client: &Client, table: &str) -> Result<(), String> {
    let described = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| DisplayErrorContext(&e).to_string())?;
    let status = described.time_to_live_description().and_then(|ttl| ttl.time_to_live_status());
    if matches!(status, Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)) {
        return Ok(());
    }
    let specification = TimeToLiveSpecification::builder()
        .attribute_name(TTL_ATTRIBUTE)
        .enabled(true)
        .build()
        .map_err(|e| e.to_string())?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(specification)
        .send()
        .await
        .map_err(|e| format!("cannot enable TTL: {}", DisplayErrorContext(&e)))?;
    Ok(())
}

fn create_table_request(
    client: &Client,
    table: &str,
    kind: Table,
) -> Result<aws_sdk_dynamodb::operation::create_table::builders::CreateTableFluentBuilder, BuildError>
{
    let string_attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder().attribute_name(name).key_type(key_type).build()
    };
    let mut request =
        client.create_table().table_name(table).billing_mode(BillingMode::PayPerRequest);
    for (attribute, key_type) in kind.keys().iter().zip([KeyType::Hash, KeyType::Range]) {
        request = request
            .key_schema(key(attribute, key_type)?)
            .attribute_definitions(string_attribute(attribute)?);
    }
    let mut defined: Vec<&str> = kind.keys().to_vec();
    for index in kind.indexes() {
        let mut index_keys = vec![(index.hash.0, index.hash.1.clone(), KeyType::Hash)];
        if let Some((name, attribute_type)) = &index.range {
            index_keys.push((name, attribute_type.clone(), KeyType::Range));
        }
        let mut built = GlobalSecondaryIndex::builder().index_name(index.name);
        for (name, attribute_type, key_type) in index_keys {
            built = built.key_schema(key(name, key_type)?);
            if !defined.contains(&name) {
                defined.push(name);
                request = request.attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(name)
                        .attribute_type(attribute_type)
                        .build()?,
                );
            }
        }
        let projection = match index.projected {
            None => Projection::builder().projection_type(ProjectionType::All).build(),
            Some([]) => Projection::builder().projection_type(ProjectionType::KeysOnly).build(),
            Some(projected) => Projection::builder()
                .projection_type(ProjectionType::Include)
                .set_non_key_attributes(Some(
                    projected.iter().map(|name| (*name).to_owned()).collect(),
                ))
                .build(),
        };
        request = request.global_secondary_indexes(built.projection(projection).build()?);
    }
    Ok(request)
}
