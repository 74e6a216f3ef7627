//! `--create-tables` against a real DynamoDB API (moto): idempotent, waits for ACTIVE, enables
//! TTL, and refuses an existing table with the wrong key.

mod support;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveStatus,
};
use ecs_events_cli::tables::{TTL_ATTRIBUTE, create_ledger_table, create_state_tables};
use support::{dynamodb, unique};

async fn ttl_status(table: &str) -> Option<TimeToLiveStatus> {
    dynamodb()
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .expect("described")
        .time_to_live_description()
        .and_then(|ttl| {
            assert_eq!(ttl.attribute_name(), Some(TTL_ATTRIBUTE));
            ttl.time_to_live_status().cloned()
        })
}

#[tokio::test]
async fn given_tables_created_twice_then_the_second_run_keeps_them_and_every_table_has_ttl() {
    let (tasks, instances, ledger) = (unique("tasks"), unique("instances"), unique("ledger"));
    for _ in 0..2 {
        create_state_tables(&dynamodb(), &tasks, &instances).await.expect("created or kept");
        create_ledger_table(&dynamodb(), &ledger).await.expect("created or kept");
    }
    for table in [&tasks, &instances, &ledger] {
        let description =
            dynamodb().describe_table().table_name(table).send().await.expect("exists");
        assert_eq!(
            description.table().and_then(|t| t.table_status()).map(|s| s.as_str()),
            Some("ACTIVE"),
            "{table}"
        );
        assert_eq!(ttl_status(table).await, Some(TimeToLiveStatus::Enabled), "{table}");
    }
}

#[tokio::test]
async fn given_an_existing_table_with_another_key_then_create_tables_names_the_problem() {
    let table = unique("wrong-key");
    dynamodb()
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .send()
        .await
        .expect("created");
    let error = create_state_tables(&dynamodb(), &table, &unique("instances"))
        .await
        .expect_err("wrong key schema");
    assert_eq!(
        error.to_string(),
        format!(
            "table {table}: exists with key schema [id (HASH)], expected the string keys \
             [taskArn (HASH)] (use another table name, or delete this table)"
        )
    );
}

/// GIVEN a container instance table made before the reconciler needed its cluster/status
/// index THEN create-tables says which index is missing, rather than a reconcile run failing.
#[tokio::test]
async fn given_an_instance_table_without_its_index_then_create_tables_names_the_index() {
    let (tasks, instances) = (unique("tasks"), unique("old-instances"));
    dynamodb()
        .create_table()
        .table_name(&instances)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("containerInstanceArn")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("containerInstanceArn")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .send()
        .await
        .expect("created");
    let error = create_state_tables(&dynamodb(), &tasks, &instances).await.expect_err("no index");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "table {instances}: exists without the index clusterArn-status-index"
        )),
        "{message}"
    );
}
