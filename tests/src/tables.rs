//! Creates the state tables, as the templates define them, on a DynamoDB-compatible endpoint
//! (moto, DynamoDB Local) for local replay and tests.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
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

async fn create_table(
    client: &Client,
    table: &str,
    kind: ResourceKind,
) -> Result<(), CreateTableError> {
    let error = |message: String| CreateTableError { table: table.to_owned(), message };
    let request = create_table_request(client, table, kind).map_err(|e| error(e.to_string()))?;
    request.send().await.map_err(|e| error(DisplayErrorContext(&e).to_string()))?;
    Ok(())
}

fn create_table_request(
    client: &Client,
    table: &str,
    kind: ResourceKind,
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
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(kind.key_attribute(), KeyType::Hash)?)
        .attribute_definitions(string_attribute(kind.key_attribute())?);
    if kind == ResourceKind::Task {
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
