//! Services and deployments: the service store's contract on both adapters (in memory, and
//! DynamoDB on moto), and the health check end to end against moto — the state tracker writing
//! tasks, services and deployments, the alerter's schedule telling a service down with no
//! further event, then recovered, in one thread.

mod support;

use std::sync::Arc;

use ecs_events::alert::{Alerter, DynamoDbLedger, RuleSet, ServiceWatch, SnsAlertSink};
use ecs_events::deadline::Deadline;
use ecs_events::incident::DynamoDbIncidentStore;
use ecs_events::service::{
    DeploymentChange, Desired, Health, InMemoryServiceStore, ServiceStore, Trouble, TroubleKind,
    health,
};
use ecs_events::state::{Create, DynamoDbStateStore, PutResult, Source};
use ecs_events_cli::tables::{create_incident_table, create_ledger_table, create_state_tables};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use state_tracker::StateTracker;
use support::{documents, dynamodb, events_dir, read_json, sns, topic_with_queue, unique};

const SERVICE: &str = "arn:aws:ecs:us-east-1:111122223333:service/prod/web";
const CLUSTER: &str = "arn:aws:ecs:us-east-1:111122223333:cluster/prod";

fn change(id: &str, status: &str, at_ms: i64, reason: Option<&str>) -> DeploymentChange {
    let target = reason.and_then(|reason| {
        reason.split("deploymentId ").nth(1).map(|id| id.trim_end_matches('.').to_owned())
    });
    DeploymentChange {
        deployment_id: id.into(),
        service_arn: SERVICE.into(),
        cluster_arn: Some(CLUSTER.into()),
        status: status.into(),
        reason: reason.map(str::to_owned),
        updated_ms: at_ms,
        event_id: format!("e-{id}-{at_ms}"),
        rollback: target.is_some() && status == "IN_PROGRESS",
        rolled_back_to: target,
        expires_at: 1_900_000_000,
    }
}

/// The contract every `ServiceStore` keeps.
async fn service_store_contract(store: &dyn ServiceStore) {
    // GIVEN no deployment WHEN its in-progress state arrives THEN it is written, with its start.
    let started =
        change("ecs-svc/1", "IN_PROGRESS", 1_000, Some("ECS deployment ecs-svc/1 in progress."));
    assert_eq!(
        store.put_deployment(started.clone(), Create::Allowed).await.expect("put"),
        PutResult::Written
    );
    // The same state again: a duplicate; an older one: stale; nothing changes.
    let again = store.put_deployment(started.clone(), Create::Allowed).await.expect("put");
    assert_eq!(again.outcome(1_000), ecs_events::state::Outcome::Duplicate);
    let older =
        store.put_deployment(change("ecs-svc/1", "IN_PROGRESS", 900, None), Create::Allowed);
    assert_eq!(older.await.expect("put").outcome(900), ecs_events::state::Outcome::Stale);
    // A newer failed state keeps the start, learns the end and the rollback target.
    let failed = change(
        "ecs-svc/1",
        "FAILED",
        61_000,
        Some(
            "ECS deployment circuit breaker: tasks failed to start. Rolling back to deploymentId ecs-svc/0.",
        ),
    );
    assert_eq!(
        store.put_deployment(failed, Create::Allowed).await.expect("put"),
        PutResult::Written
    );
    let record = store.deployment(SERVICE, "ecs-svc/1").await.expect("get").expect("stored");
    assert_eq!(record.status, "FAILED");
    assert_eq!((record.started_ms, record.ended_ms), (Some(1_000), Some(61_000)));
    assert_eq!(record.rolled_back_to.as_deref(), Some("ecs-svc/0"));
    assert!(!record.rollback);
    // A state without a reason removes the older reason; the learnt target stays.
    let later = change("ecs-svc/1", "FAILED", 62_000, None);
    store.put_deployment(later, Create::Allowed).await.expect("put");
    let record = store.deployment(SERVICE, "ecs-svc/1").await.expect("get").expect("stored");
    assert_eq!((record.reason, record.rolled_back_to.as_deref()), (None, Some("ecs-svc/0")));
    // An old event never creates a deployment (an expired one is not brought back).
    let old = change("ecs-svc/gone", "COMPLETED", 5, None);
    assert_eq!(
        store.put_deployment(old, Create::OnlyUpdate).await.expect("put"),
        PutResult::NotCreated
    );
    assert_eq!(store.deployment(SERVICE, "ecs-svc/gone").await.expect("get"), None);
    // The rollback, and a deployment of another cluster.
    let rollback = change(
        "ecs-svc/2",
        "IN_PROGRESS",
        61_500,
        Some("ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/0."),
    );
    store.put_deployment(rollback, Create::Allowed).await.expect("put");
    let mut elsewhere = change("ecs-svc/9", "COMPLETED", 70_000, None);
    elsewhere.service_arn = "arn:aws:ecs:us-east-1:111122223333:service/dev/web".into();
    elsewhere.cluster_arn = Some("arn:aws:ecs:us-east-1:111122223333:cluster/dev".into());
    store.put_deployment(elsewhere, Create::Allowed).await.expect("put");
    // Listed by cluster (the index) and by service (the table), oldest update first.
    let ids = |records: Vec<ecs_events::service::DeploymentRecord>| {
        records.into_iter().map(|record| record.deployment_id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store.deployments(CLUSTER, None).await.expect("query")),
        ["ecs-svc/2", "ecs-svc/1"]
    );
    assert_eq!(
        ids(store.deployments(CLUSTER, Some(SERVICE)).await.expect("query")),
        ["ecs-svc/2", "ecs-svc/1"]
    );
    let rollback = store.deployment(SERVICE, "ecs-svc/2").await.expect("get").expect("stored");
    assert!(rollback.rollback);

    // GIVEN no service WHEN a desired count is observed THEN written; an older or equal one
    // is kept out, a newer one written.
    let desired = |count, at_ms| Desired { count, at_ms, source: Source::Event };
    assert_eq!(
        store.observe_desired(SERVICE, CLUSTER, desired(2, 5_000), None).await.expect("put"),
        PutResult::Written
    );
    let same = store.observe_desired(SERVICE, CLUSTER, desired(3, 5_000), None).await.expect("put");
    assert_eq!(same.outcome(5_000), ecs_events::state::Outcome::Duplicate);
    let stale =
        store.observe_desired(SERVICE, CLUSTER, desired(9, 4_000), None).await.expect("put");
    assert_eq!(stale.outcome(4_000), ecs_events::state::Outcome::Stale);
    let api = Desired { count: 0, at_ms: 6_000, source: Source::Reconcile };
    assert_eq!(
        store.observe_desired(SERVICE, CLUSTER, api, Some("DRAINING")).await.expect("put"),
        PutResult::Written
    );
    assert_eq!(
        store.observe_steady(SERVICE, CLUSTER, 7_000).await.expect("put"),
        PutResult::Written
    );
    assert_eq!(
        store.observe_steady(SERVICE, CLUSTER, 6_500).await.expect("put").outcome(6_500),
        ecs_events::state::Outcome::Stale
    );
    let service = store.service(SERVICE).await.expect("get").expect("stored");
    assert_eq!(service.desired, Some(api));
    assert_eq!((service.status.as_deref(), service.steady_at_ms), (Some("DRAINING"), Some(7_000)));
    assert_eq!(service.cluster_arn, CLUSTER);

    // Health: a compare-and-set on its version.
    let health = Health {
        version: 1,
        running_at: Some(100),
        sample: vec!["t-1".into()],
        ..Health::default()
    };
    assert!(store.put_health(SERVICE, CLUSTER, &health).await.expect("put"));
    assert!(
        !store.put_health(SERVICE, CLUSTER, &health).await.expect("put"),
        "version 1 again: lost"
    );
    let next = Health { version: 2, silent_since: Some(200), ..health.clone() };
    assert!(store.put_health(SERVICE, CLUSTER, &next).await.expect("put"));
    assert_eq!(store.service(SERVICE).await.expect("get").expect("stored").health, next);

    // Troubles: added (replaced by key), removed only when still the one that opened then.
    let trouble = Trouble {
        incident: "essential-container-exited|prod|service:web".into(),
        thread: "essential-container-exited|prod|service:web#100".into(),
        rule: "essential-container-exited".into(),
        kind: TroubleKind::CrashLoop,
        opened: 100,
        since: 400,
        window: 600,
    };
    store.add_trouble(SERVICE, CLUSTER, &trouble).await.expect("add");
    let later = Trouble { since: 900, ..trouble.clone() };
    store.add_trouble(SERVICE, CLUSTER, &later).await.expect("add");
    store.remove_trouble(SERVICE, &trouble.incident, 99).await.expect("not that one");
    assert_eq!(
        store.service(SERVICE).await.expect("get").expect("stored").troubles,
        std::slice::from_ref(&later)
    );
    store.remove_trouble(SERVICE, &trouble.incident, 100).await.expect("removed");
    assert!(store.service(SERVICE).await.expect("get").expect("stored").troubles.is_empty());
    // A trouble makes a service record of its own for a service nothing else named.
    let other = "arn:aws:ecs:us-east-1:111122223333:service/prod/api";
    store.add_trouble(other, CLUSTER, &trouble).await.expect("add");
    let services = store.services().await.expect("scan");
    let arns: Vec<&str> = services.iter().map(|service| service.service_arn.as_str()).collect();
    assert_eq!(arns, [other, SERVICE]);
    assert_eq!(
        store.service("arn:aws:ecs:us-east-1:111122223333:service/prod/none").await.expect("get"),
        None
    );
}

#[tokio::test]
async fn given_the_in_memory_service_store_then_it_keeps_the_contract() {
    service_store_contract(&InMemoryServiceStore::new()).await;
}

#[tokio::test]
async fn given_dynamodb_on_moto_then_the_service_store_keeps_the_contract() {
    service_store_contract(&support::moto_services().await).await;
}

fn invoke(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

/// GIVEN the silent-service scenario's events tracked by the state tracker and alerted by the
/// alerter against moto (DynamoDB and SNS), WHEN the schedule ticks every minute with no
/// further event after the last stop THEN one "service down" reaches the topic within 5
/// minutes and a tick after a task runs again one "recovered", in the same incident and
/// thread; the service scaled to zero on purpose is never told down.
#[tokio::test]
async fn given_a_service_that_goes_silent_then_the_schedule_tells_it_down_once_and_recovered_once()
{
    let (tasks, instances) = (unique("tasks"), unique("instances"));
    create_state_tables(&dynamodb(), &tasks, &instances).await.expect("tables");
    let state = Arc::new(DynamoDbStateStore::new(dynamodb(), tasks, instances));
    let services = Arc::new(support::moto_services().await);
    let tracker = StateTracker::new(state.clone(), services.clone(), support::covering_retention());
    let (ledger, incidents) = (unique("ledger"), unique("incidents"));
    create_ledger_table(&dynamodb(), &ledger).await.expect("ledger");
    create_incident_table(&dynamodb(), &incidents).await.expect("incidents");
    let subscribed = topic_with_queue(false, None).await;
    let rules = RuleSet::from_json(include_str!("../../rules/examples.json")).expect("rules");
    let alerter = Alerter::new(
        rules,
        Arc::new(DynamoDbLedger::new(dynamodb(), ledger)),
        Arc::new(SnsAlertSink::new(sns(), subscribed.topic_arn)),
        support::ledger_retention(),
    )
    .with_incidents(Arc::new(DynamoDbIncidentStore::new(dynamodb(), incidents)))
    .with_services(ServiceWatch {
        services: services.clone(),
        state: state.clone(),
        settings: health::Settings::default(),
    });
    let folder = events_dir().join("scenarios/service-silent-and-back");
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .expect("scenario")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            !path.file_name().is_some_and(|name| name.to_string_lossy().starts_with('_'))
        })
        .collect();
    files.sort();
    let events: Vec<Value> = files.iter().map(|path| read_json(path)).collect();
    let time = |event: &Value| {
        chrono::DateTime::parse_from_rfc3339(event["time"].as_str().expect("time"))
            .expect("time")
            .with_timezone(&chrono::Utc)
    };
    let deadline = || Deadline::after(std::time::Duration::from_secs(30));
    let minute = chrono::Duration::minutes(1);
    let mut clock = time(&events[0]);
    let mut told = Vec::new();
    // Everything up to the last failure to start (09:23), each minute ticked, as the schedule
    // does; then no event until 09:34.
    let (before, after) = events.split_at(10);
    for event in before {
        while clock + minute <= time(event) {
            clock += minute;
            told.extend(alerter.flush(clock, deadline()).await);
        }
        tracker.handle(invoke(event.clone())).await.expect("tracked");
        let received = ecs_events::event::ReceivedEvent::new(event.clone()).expect("valid");
        told.extend(alerter.process(&received, time(event), deadline()).await);
    }
    while clock + minute <= time(&after[0]) {
        clock += minute;
        told.extend(alerter.flush(clock, deadline()).await);
    }
    for (_, result) in &told {
        result.as_ref().expect("every step succeeds");
    }
    let sent = documents(&subscribed.queue_url).await;
    let down: Vec<&Value> = sent.iter().filter(|document| document["kind"] == "silence").collect();
    assert_eq!(down.len(), 1, "{sent:#?}");
    let ledger_service = "arn:aws:ecs:us-east-1:111122223333:service/prod-ec2/ledger-api";
    assert_eq!(down[0]["serviceArn"], ledger_service);
    assert_eq!(down[0]["severity"], "error");
    assert_eq!(down[0]["downSince"], "2024-06-14T09:20:12Z");
    assert_eq!(down[0]["attributes"]["kind"], "silence");
    // Told at the first tick 5 minutes or more after the last stop (ticks at :01 here):
    // within the silence plus one schedule interval.
    assert_eq!(down[0]["time"], "2024-06-14T09:26:01Z");

    // A task runs again: the next tick tells it recovered, in the silence's incident and thread.
    for event in after {
        tracker.handle(invoke(event.clone())).await.expect("tracked");
    }
    let recovered_at = time(&after[1]) + minute;
    for (_, result) in alerter.flush(recovered_at, deadline()).await {
        result.expect("told");
    }
    let sent = documents(&subscribed.queue_url).await;
    let resolved: Vec<&Value> =
        sent.iter().filter(|document| document["kind"] == "resolved").collect();
    assert_eq!(resolved.len(), 1, "{sent:#?}");
    assert_eq!(resolved[0]["incident"], down[0]["incident"]);
    assert_eq!(resolved[0]["thread"], down[0]["thread"]);
    assert_eq!(resolved[0]["severity"], "info");
    // Ticking on tells nothing more: once each.
    for tick in 1..=3 {
        let told = alerter.flush(recovered_at + minute * tick, deadline()).await;
        assert!(
            told.iter().all(|(_, result)| result.as_ref().is_ok_and(|d| d.published().is_none())),
            "{told:?}"
        );
    }
    assert!(
        documents(&subscribed.queue_url).await.iter().all(|document| document["kind"] != "silence")
    );
    // The service scaled to zero on purpose was never told down.
    let reports = services
        .service("arn:aws:ecs:us-east-1:111122223333:service/prod-ec2/reports-worker")
        .await
        .expect("get")
        .expect("known");
    assert!(
        reports.health.scaled_in && reports.health.down_since.is_none(),
        "{:?}",
        reports.health
    );
}
