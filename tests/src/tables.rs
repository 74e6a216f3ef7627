//! Creates the state tables, as the templates define them, on a DynamoDB-compatible endpoint
//! (moto, DynamoDB Local) for local replay and tests.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use ecs_events::alert::LEDGER_KEY;
use ecs_events::state::{ResourceKind, TASK_STATUS_INDEX};

/// A table could not be created.
#[derive(Debug, thiserror::Error)]
#[error("cannot create table {table}: {message}")]
pub struct CreateTableError {
    /// The table.
    pub table: String,
    /// What DynamoDB (or the request builder) said.
    pub message: String,
}

/// Creates the task table (key `taskArn`, GSI on `clusterArn` + `lastStatus`) and the
/// container instance table (key `containerInstanceArn`), both on-demand.
pub async fn create_state_tables(
    client: &Client,
    task_table: &str,
    container_instance_table: &str,
) -> Result<(), CreateTableError> {
    create_table(client, task_table, ResourceKind::Task).await?;
    create_table(client, container_instance_table, ResourceKind::ContainerInstance).await
}

/// Creates the alert ledger table (key `alertKey`), on-demand.
pub async fn create_ledger_table(client: &Client, table: &str) -> Result<(), CreateTableError> {
    create_table(client, table, None).await
}

async fn create_table(
    client: &Client,
    table: &str,
    kind: impl Into<Option<ResourceKind>>,
) -> Result<(), CreateTableError> {
    let error = |message: String| CreateTableError { table: table.to_owned(), message };
    let request =
        create_table_request(client, table, kind.into()).map_err(|e| error(e.to_string()))?;
    request.send().await.map_err(|e| error(DisplayErrorContext(&e).to_string()))?;
    Ok(())
}

fn create_table_request(
    client: &Client,
    table: &str,
    kind: Option<ResourceKind>,
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
    let key_attribute = kind.map_or(LEDGER_KEY, ResourceKind::key_attribute);
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(key_attribute, KeyType::Hash)?)
        .attribute_definitions(string_attribute(key_attribute)?);
    if kind == Some(ResourceKind::Task) {
        request = request
            .attribute_definitions(string_attribute("clusterArn")?)
            .attribute_definitions(string_attribute("lastStatus")?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(TASK_STATUS_INDEX)
                    .key_schema(key("clusterArn", KeyType::Hash)?)
                    .key_schema(key("lastStatus", KeyType::Range)?)
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()?,
            );
    }
    Ok(request)
}
