//! The reconciler against the real ECS SDK client answered by aws-smithy-mocks, with responses
//! on the wire as the ECS API reference documents them (awsJson 1.1, epoch-second timestamps):
//! pagination, throttling, a task newer than stored, an older one, one ECS no longer lists, one
//! only ECS knows, a container instance; marks and their clearing; dry runs; the call cap; a
//! cluster ECS does not know. The Lambda handler answers with the run's report.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use aws_sdk_ecs::Client as Ecs;
use aws_sdk_ecs::config::retry::RetryConfig;
use aws_sdk_ecs::types::DesiredStatus;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use chrono::Utc;
use ecs_events::deadline::Deadline;
use ecs_events::event::ReceivedEvent;
use ecs_events::reconcile::{ReconcileReport, ReconcileSettings, Reconciler};
use ecs_events::state::{
    Create, InMemoryStateStore, PutResult, ResourceKind, Retention, Source, StateRecord,
    StateStore, StoreError, StoredVersion, TaskSummary,
};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};

const CLUSTER: &str = "arn:aws:ecs:us-west-2:123456789012:cluster/MyCluster";
const INSTANCE: &str = "arn:aws:ecs:us-west-2:123456789012:container-instance/MyCluster/f9cc75bb0c9446b9bf6d49d320bc1551";
const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;

fn task_arn(id: &str) -> String {
    format!("arn:aws:ecs:us-west-2:123456789012:task/MyCluster/{id}")
}

/// A task as `DescribeTasks` answers on the wire (the API reference's Fargate example).
fn api_task(id: &str, status: &str, version: u64) -> Value {
    let mut task = json!({
        "taskArn": task_arn(id),
        "clusterArn": CLUSTER,
        "taskDefinitionArn": "arn:aws:ecs:us-west-2:123456789012:task-definition/sample-fargate:2",
        "overrides": {"containerOverrides": [{"name": "fargate-app"}]},
        "lastStatus": status,
        "desiredStatus": if status == "STOPPED" { "STOPPED" } else { "RUNNING" },
        "cpu": "256",
        "memory": "512",
        "containers": [{
            "containerArn": format!("arn:aws:ecs:us-west-2:123456789012:container/MyCluster/{id}/a1b2c3d4"),
            "taskArn": task_arn(id),
            "name": "fargate-app",
            "lastStatus": status,
            "networkBindings": [],
            "networkInterfaces": [{"attachmentId": "a1b2c3d4-5678-90ab-cdef-22222EXAMPLE", "privateIpv4Address": "10.0.0.4"}],
            "healthStatus": "HEALTHY",
            "cpu": "0"
        }],
        "startedBy": "ecs-svc/1234567890123456789",
        "version": version,
        "connectivity": "CONNECTED",
        "connectivityAt": 1557134016.971,
        "pullStartedAt": 1557134025.379,
        "pullStoppedAt": 1557134033.379,
        "createdAt": 1557134011.644,
        "startedAt": 1557134035.379,
        "group": "service:fargate-service",
        "launchType": "FARGATE",
        "platformVersion": "1.3.0",
        "attachments": [{
            "id": "a1b2c3d4-5678-90ab-cdef-33333EXAMPLE",
            "type": "ElasticNetworkInterface",
            "status": "ATTACHED",
            "details": [{"name": "subnetId", "value": "subnet-12344321"}]
        }],
        "healthStatus": "HEALTHY",
        "tags": [{"key": "team", "value": "payments"}]
    });
    if status == "STOPPED" {
        task["stopCode"] = json!("EssentialContainerExited");
        task["stoppedReason"] = json!("Essential container in task exited");
        task["stoppingAt"] = json!(1557137000.5);
        task["stoppedAt"] = json!(1557137010.25);
        task["containers"][0]["exitCode"] = json!(137);
        task["containers"][0]["reason"] =
            json!("OutOfMemoryError: Container killed due to memory usage");
    }
    task
}

/// The API reference's `DescribeContainerInstances` example, in this cluster.
fn api_instance(version: u64) -> Value {
    json!({
        "agentConnected": true,
        "attributes": [{"name": "com.amazonaws.ecs.capability.ecr-auth"}],
        "containerInstanceArn": INSTANCE,
        "ec2InstanceId": "i-042f39dc",
        "pendingTasksCount": 0,
        "registeredAt": 1557130000.123,
        "registeredResources": [
            {"doubleValue": 0, "integerValue": 1024, "longValue": 0, "name": "CPU", "type": "INTEGER"},
            {"doubleValue": 0, "integerValue": 0, "longValue": 0, "name": "PORTS",
             "stringSetValue": ["22", "2376", "2375", "51678"], "type": "STRINGSET"}
        ],
        "remainingResources": [
            {"doubleValue": 0, "integerValue": 1024, "longValue": 0, "name": "CPU", "type": "INTEGER"}
        ],
        "runningTasksCount": 0,
        "status": "ACTIVE",
        "version": version,
        "versionInfo": {"agentHash": "0931217", "agentVersion": "1.9.0", "dockerVersion": "DockerVersion: 1.9.1"}
    })
}

/// A stored task record, as the state tracker writes it from an event of 2019.
fn stored(id: &str, status: &str, version: u64) -> StateRecord {
    stored_at(id, status, version, "2019-05-06T10:00:00Z")
}

/// A stored task record, as the state tracker writes it from an event at `time`.
fn stored_at(id: &str, status: &str, version: u64, time: &str) -> StateRecord {
    let mut detail = api_task(id, status, version);
    for field in ["connectivityAt", "pullStartedAt", "pullStoppedAt", "createdAt", "startedAt"] {
        detail[field] = json!("2019-05-06T09:13:31.644Z");
    }
    for field in ["stoppingAt", "stoppedAt"] {
        if detail.get(field).is_some() {
            detail[field] = json!("2019-05-06T10:03:30.250Z");
        }
    }
    detail.as_object_mut().map(|fields| fields.remove("tags"));
    let event = ReceivedEvent::new(json!({
        "version": "0", "id": format!("event-{id}-{version}"), "detail-type": "ECS Task State Change",
        "source": "aws.ecs", "account": "123456789012", "time": time,
        "region": "us-west-2", "resources": [task_arn(id)], "detail": detail
    }))
    .expect("valid event");
    StateRecord::from_event(event, Retention::default()).expect("fits").expect("a task")
}

fn body(value: &Value) -> Option<String> {
    Some(value.to_string())
}

/// The cluster's answers: `DescribeClusters`, `ListTasks` (RUNNING in two pages, then
/// STOPPED), `DescribeTasks` (throttled once when `throttle`), and its one container instance.
fn cluster_rules(running: &[&Value], stopped: &[&Value], throttle: bool) -> Vec<Rule> {
    let arns = |tasks: &[&Value]| tasks.iter().map(|t| t["taskArn"].clone()).collect::<Vec<_>>();
    let (running_arns, stopped_arns) = (arns(running), arns(stopped));
    let (first, second) = running_arns.split_at(running_arns.len().min(1));
    let described: Vec<Value> = running.iter().chain(stopped).map(|t| (*t).clone()).collect();
    let clusters = json!({"clusters": [{"clusterArn": CLUSTER, "clusterName": "MyCluster", "status": "ACTIVE"}], "failures": []});
    let describe = mock!(Ecs::describe_tasks).sequence();
    let describe =
        if throttle { describe.http_status(400, Some(THROTTLED.into())) } else { describe };
    vec![
        mock!(Ecs::describe_clusters)
            .sequence()
            .http_status(200, body(&clusters))
            .repeatedly()
            .build(),
        mock!(Ecs::list_tasks)
            .match_requests(|r| {
                r.desired_status() == Some(&DesiredStatus::Running) && r.next_token().is_none()
            })
            .sequence()
            .http_status(200, body(&json!({"taskArns": first, "nextToken": "page-2"})))
            .repeatedly()
            .build(),
        mock!(Ecs::list_tasks)
            .match_requests(|r| r.next_token() == Some("page-2"))
            .sequence()
            .http_status(200, body(&json!({"taskArns": second})))
            .repeatedly()
            .build(),
        mock!(Ecs::list_tasks)
            .match_requests(|r| r.desired_status() == Some(&DesiredStatus::Stopped))
            .sequence()
            .http_status(200, body(&json!({"taskArns": stopped_arns})))
            .repeatedly()
            .build(),
        describe
            .http_status(200, body(&json!({"tasks": described, "failures": []})))
            .repeatedly()
            .build(),
        mock!(Ecs::list_container_instances)
            .sequence()
            .http_status(200, body(&json!({"containerInstanceArns": [INSTANCE]})))
            .repeatedly()
            .build(),
        mock!(Ecs::describe_container_instances)
            .sequence()
            .http_status(
                200,
                body(&json!({"containerInstances": [api_instance(850)], "failures": []})),
            )
            .repeatedly()
            .build(),
    ]
}

/// The SDK's standard retries, with a short first backoff so the test runs fast.
fn client(rules: &[Rule]) -> Ecs {
    let retries = RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(StdDuration::from_millis(5));
    mock_client!(aws_sdk_ecs, RuleMode::MatchAny, rules.iter(), |c| c.retry_config(retries.clone()))
}

fn settings(dry_run: bool, max_api_calls: u64) -> ReconcileSettings {
    ReconcileSettings {
        clusters: vec!["MyCluster".into()],
        max_api_calls,
        dry_run,
        retention: Retention::default(),
    }
}

const LOST_INSTANCE: &str = "arn:aws:ecs:us-west-2:123456789012:container-instance/MyCluster/0123456789abcdef0123456789abcdef";

/// A container instance ECS no longer lists, as an event of 2019 left it: ACTIVE.
fn stored_lost_instance() -> StateRecord {
    let mut detail = api_instance(40);
    detail["containerInstanceArn"] = json!(LOST_INSTANCE);
    detail["clusterArn"] = json!(CLUSTER);
    detail["registeredAt"] = json!("2019-05-06T08:06:40.123Z");
    detail.as_object_mut().map(|fields| fields.remove("registeredResources"));
    detail.as_object_mut().map(|fields| fields.remove("remainingResources"));
    let event = ReceivedEvent::new(json!({
        "version": "0", "id": "event-lost-instance", "detail-type": "ECS Container Instance State Change",
        "source": "aws.ecs", "account": "123456789012", "time": "2019-05-06T10:00:00Z",
        "region": "us-west-2", "resources": [LOST_INSTANCE], "detail": detail
    }))
    .expect("valid event");
    StateRecord::from_event(event, Retention::default()).expect("fits").expect("an instance")
}

/// The table before the run: what events told — and one task the state tracker stored a
/// minute ago, which ECS does not list yet (its lists are eventually consistent).
async fn store_before() -> Arc<InMemoryStateStore> {
    let store = Arc::new(InMemoryStateStore::new());
    let a_minute_ago = (Utc::now() - chrono::Duration::minutes(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for record in [
        stored("newer", "RUNNING", 3),
        stored("older", "STOPPED", 6),
        stored("same", "RUNNING", 2),
        stored("gone", "RUNNING", 7),
        stored("stopped-gone", "STOPPED", 9),
        stored_at("just-started", "PENDING", 1, &a_minute_ago),
        stored_lost_instance(),
    ] {
        store.put_if_newer(record, Create::Allowed).await.expect("put");
    }
    store
}

async fn get(store: &InMemoryStateStore, id: &str) -> StateRecord {
    store.get(ResourceKind::Task, &task_arn(id)).await.expect("get").expect("stored")
}

fn ecs_today() -> (Value, Value, Value, Value) {
    (
        api_task("newer", "RUNNING", 4),
        api_task("same", "RUNNING", 2),
        api_task("older", "STOPPED", 5),
        api_task("lost", "STOPPED", 5),
    )
}

#[tokio::test]
async fn given_drift_then_a_run_writes_newer_versions_marks_the_missing_and_reports_it() {
    let store = store_before().await;
    let before_older = get(&store, "older").await;
    let (newer, same, older, lost) = ecs_today();
    let rules = cluster_rules(&[&newer, &same], &[&older, &lost], true);
    let reconciler = Reconciler::new(&client(&rules), store.clone(), settings(false, 100));
    let started = Utc::now().timestamp();

    let response = reconciler::handle(&reconciler, LambdaEvent::new(json!({}), Context::default()))
        .await
        .expect("a run without failures");
    let report: ReconcileReport = response;

    // Four tasks and the container instance described; the newer task, the lost one and the
    // instance written; the same version given the tags and health only the API has; the
    // older version changed nothing. The task and the instance ECS no longer lists are
    // marked; the task stored a minute ago is not (ECS may not list it yet).
    assert_eq!(report.clusters, [CLUSTER]);
    assert_eq!((report.described, report.written, report.enriched, report.unchanged), (5, 3, 1, 1));
    assert_eq!((report.marked_missing, report.too_recent_to_mark), (2, 1));
    // DescribeClusters, ListTasks ×3 (two RUNNING pages, one STOPPED), DescribeTasks ×2 (the
    // first throttled, retried by the SDK), ListContainerInstances, DescribeContainerInstances.
    assert_eq!((report.api_calls, report.throttles), (8, 1));
    assert_eq!(rules[2].num_calls(), 1, "the second RUNNING page was asked for with its token");
    assert_eq!(report.cut_short, None);
    assert!(report.failures.is_empty(), "{:?}", report.failures);

    // The newer task: the API's version, and what only the API has, in the event's shape.
    let written = get(&store, "newer").await;
    assert_eq!((written.version, written.source), (4, Source::Reconcile));
    assert!(written.event_id.starts_with("reconcile:"), "{}", written.event_id);
    let detail = written.detail.to_value();
    assert_eq!(detail["healthStatus"], "HEALTHY");
    assert_eq!(detail["tags"], json!([{"key": "team", "value": "payments"}]));
    assert_eq!(detail["createdAt"], "2019-05-06T09:13:31.644Z", "epoch seconds as event text");
    assert_eq!(detail["containers"][0]["networkInterfaces"][0]["privateIpv4Address"], "10.0.0.4");
    assert_eq!(detail["overrides"]["containerOverrides"][0]["name"], "fargate-app");
    // The STOPPED state whose event was lost: stored with its facts and expiry.
    let lost_record = get(&store, "lost").await;
    assert_eq!((lost_record.status.as_str(), lost_record.version), ("STOPPED", 5));
    assert_eq!(lost_record.facts.failed_containers.as_deref(), Some("fargate-app:137"));
    assert_eq!(lost_record.facts.stop_code.as_deref(), Some("EssentialContainerExited"));
    assert_eq!(lost_record.expires_at, Some(1_557_137_010 + 7 * 86_400));
    // Older in ECS than stored: untouched.
    assert_eq!(get(&store, "older").await, before_older);
    // Not listed, stored as running: marked, never deleted or stopped.
    let gone = get(&store, "gone").await;
    assert_eq!((gone.status.as_str(), gone.version, gone.source), ("RUNNING", 7, Source::Event));
    let since = gone.missing_since.expect("marked");
    assert!(since >= started && since <= Utc::now().timestamp());
    assert_eq!(gone.expires_at, Some(since + 7 * 86_400));
    // Not listed but stopped: nothing to correct.
    assert_eq!(get(&store, "stopped-gone").await.missing_since, None);
    // Stored a minute ago, not listed yet: left alone.
    assert_eq!(get(&store, "just-started").await.missing_since, None);
    // The same version as stored, now with what only the API tells.
    let enriched = get(&store, "same").await;
    assert_eq!((enriched.version, enriched.source), (2, Source::Reconcile));
    assert_eq!(enriched.detail.to_value()["tags"], json!([{"key": "team", "value": "payments"}]));
    // The container instance ECS no longer lists: marked, as a task would be.
    let lost_instance = store
        .get(ResourceKind::ContainerInstance, LOST_INSTANCE)
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(lost_instance.status, "ACTIVE");
    assert!(lost_instance.missing_since.is_some());
    // The container instance, with the cluster the API leaves out.
    let instance =
        store.get(ResourceKind::ContainerInstance, INSTANCE).await.expect("get").expect("written");
    assert_eq!((instance.status.as_str(), instance.version), ("ACTIVE", 850));
    let detail = instance.detail.to_value();
    assert_eq!(detail["clusterArn"], CLUSTER);
    assert_eq!(
        detail["registeredResources"][0],
        json!({"name": "CPU", "type": "INTEGER", "integerValue": 1024})
    );
    assert_eq!(detail["registeredAt"], "2019-05-06T08:06:40.123Z");

    // The run's EMF line carries every figure.
    let emf = report.emf("reconciler");
    for (metric, value) in [
        ("Described", 5),
        ("Written", 3),
        ("Enriched", 1),
        ("Unchanged", 1),
        ("MarkedMissing", 2),
        ("ApiCalls", 8),
        ("Throttles", 1),
        ("CutShort", 0),
    ] {
        assert_eq!(emf[metric], value, "{metric}");
    }
    let actions: Vec<(&str, &str)> =
        report.drift.iter().map(|d| (d.arn.rsplit('/').next().unwrap_or(""), d.action)).collect();
    assert_eq!(
        actions,
        [
            ("newer", "write"),
            ("same", "add API facts"),
            ("lost", "write"),
            ("gone", "mark missing"),
            ("f9cc75bb0c9446b9bf6d49d320bc1551", "write"),
            ("0123456789abcdef0123456789abcdef", "mark missing"),
        ]
    );

    // WHEN ECS lists the marked task again at the same version THEN the mark goes, and the
    // expiry it set with it (the record takes the API's facts).
    let gone_again = api_task("gone", "RUNNING", 7);
    let rules = cluster_rules(&[&newer, &same, &gone_again], &[&older, &lost], false);
    // A cap of 10 calls a run: each run takes 7, so a cap counted for the sandbox's life
    // instead of per run would stop the second run at its first call.
    let reconciler = Reconciler::new(&client(&rules), store.clone(), settings(false, 10));
    let second = reconciler.run(Deadline::after(StdDuration::from_secs(30))).await.expect("runs");
    assert_eq!(
        (second.cleared, second.written, second.enriched, second.marked_missing),
        (1, 0, 1, 0)
    );
    assert_eq!(second.unchanged, 5, "four tasks and the instance");
    let gone = get(&store, "gone").await;
    assert_eq!((gone.missing_since, gone.expires_at), (None, None));
    // WHEN the same reconciler runs again on an unchanged cluster THEN it writes nothing — no
    // task, no container instance — and its calls are counted from zero again.
    let third = reconciler.run(Deadline::after(StdDuration::from_secs(30))).await.expect("runs");
    assert_eq!(third.cut_short, None, "the cap is per run");
    assert_eq!(third.api_calls, second.api_calls);
    assert_eq!((third.written, third.enriched, third.cleared, third.marked_missing), (0, 0, 0, 0));
    assert_eq!(third.unchanged, 6, "five tasks and the instance");
    assert!(third.drift.is_empty(), "{:?}", third.drift);
}

#[tokio::test]
async fn given_a_dry_run_then_the_drift_is_reported_and_nothing_is_written() {
    let store = store_before().await;
    let (newer, same, older, lost) = ecs_today();
    let rules = cluster_rules(&[&newer, &same], &[&older, &lost], false);
    let reconciler = Reconciler::new(&client(&rules), store.clone(), settings(true, 100));
    let report = reconciler.run(Deadline::after(StdDuration::from_secs(30))).await.expect("runs");
    assert!(report.dry_run);
    assert_eq!(
        (report.written, report.enriched, report.marked_missing),
        (3, 1, 2),
        "what a real run would do"
    );
    assert_eq!(get(&store, "same").await.source, Source::Event, "not enriched");
    assert_eq!(get(&store, "newer").await.version, 3);
    assert_eq!(get(&store, "gone").await.missing_since, None);
    assert!(store.get(ResourceKind::Task, &task_arn("lost")).await.expect("get").is_none());
    assert!(store.get(ResourceKind::ContainerInstance, INSTANCE).await.expect("get").is_none());
    let newer_drift = &report.drift[0];
    assert_eq!(
        (newer_drift.stored.as_deref(), newer_drift.ecs.as_deref()),
        (Some("RUNNING@3"), Some("RUNNING@4"))
    );
}

#[tokio::test]
async fn given_the_call_cap_then_the_run_stops_keeps_its_writes_and_marks_nothing_unlisted() {
    let (newer, same, older, lost) = ecs_today();
    // Cap 3: DescribeClusters and both RUNNING pages; the STOPPED list is never asked for, so
    // no task may be judged missing.
    let store = store_before().await;
    let rules = cluster_rules(&[&newer, &same], &[&older, &lost], false);
    let reconciler = Reconciler::new(&client(&rules), store.clone(), settings(false, 3));
    let report = reconciler.run(Deadline::after(StdDuration::from_secs(30))).await.expect("runs");
    let why = report.cut_short.expect("cut short");
    assert!(why.contains("cap of 3 ECS API calls") && why.contains("MyCluster"), "{why}");
    assert_eq!((report.api_calls, report.written, report.marked_missing), (3, 0, 0));
    assert!(report.clusters.is_empty(), "the cluster was not reconciled in full");
    assert_eq!(rules[3].num_calls(), 0);
    assert_eq!(get(&store, "gone").await.missing_since, None);

    // The Lambda invocation fails, so a cut run is never silent (all clusters or named).
    let error = reconciler::handle(&reconciler, LambdaEvent::new(json!({}), Context::default()))
        .await
        .expect_err("a cut-short run fails the invocation");
    assert!(format!("{error:?}").starts_with("NonRetryable.ReconcileCutShort"), "{error:?}");

    // Cap 6: the tasks are described, written and judged; the container instances are not.
    let store = store_before().await;
    let rules = cluster_rules(&[&newer, &same], &[&older, &lost], false);
    let reconciler = Reconciler::new(&client(&rules), store.clone(), settings(false, 6));
    let report = reconciler.run(Deadline::after(StdDuration::from_secs(30))).await.expect("runs");
    assert!(report.cut_short.is_some());
    assert_eq!((report.written, report.marked_missing), (2, 1));
    assert_eq!(get(&store, "newer").await.version, 4, "written before the cap stays");
    assert!(store.get(ResourceKind::ContainerInstance, INSTANCE).await.expect("get").is_none());
}

#[tokio::test]
async fn given_a_cluster_ecs_does_not_know_then_the_invocation_fails_and_names_it() {
    let missing = json!({"clusters": [], "failures": [
        {"arn": "arn:aws:ecs:us-west-2:123456789012:cluster/nope", "reason": "MISSING"}
    ]});
    let rules = [mock!(Ecs::describe_clusters)
        .sequence()
        .http_status(200, body(&missing))
        .repeatedly()
        .build()];
    let store = store_before().await;
    let settings = ReconcileSettings { clusters: vec!["nope".into()], ..settings(false, 100) };
    let reconciler = Reconciler::new(&client(&rules), store, settings);
    let report = reconciler.run(Deadline::after(StdDuration::from_secs(30))).await.expect("report");
    assert_eq!(report.unknown_clusters, ["arn:aws:ecs:us-west-2:123456789012:cluster/nope"]);
    assert!(report.clusters.is_empty());
    let error = reconciler::handle(&reconciler, LambdaEvent::new(json!({}), Context::default()))
        .await
        .expect_err("fails");
    let message = format!("{error:?}");
    assert!(message.contains("cluster/nope: MISSING"), "{message}");
    assert!(message.starts_with("NonRetryable.ReconcileFailures"), "{message}");
}

#[tokio::test]
async fn given_ecs_refusing_one_cluster_then_the_others_are_still_reconciled() {
    let denied = r#"{"__type":"AccessDeniedException","message":"User is not authorized to perform: ecs:ListTasks"}"#;
    let (newer, same, older, lost) = ecs_today();
    let mut rules = vec![
        mock!(Ecs::list_clusters)
            .sequence()
            .http_status(200, body(&json!({"clusterArns": ["arn:aws:ecs:us-west-2:123456789012:cluster/locked", CLUSTER]})))
            .repeatedly()
            .build(),
        mock!(Ecs::list_tasks)
            .match_requests(|r| r.cluster() == Some("arn:aws:ecs:us-west-2:123456789012:cluster/locked"))
            .sequence()
            .http_status(400, Some(denied.into()))
            .repeatedly()
            .build(),
    ];
    rules.extend(cluster_rules(&[&newer, &same], &[&older, &lost], false));
    let store = store_before().await;
    let settings = ReconcileSettings { clusters: Vec::new(), ..settings(false, 100) };
    let reconciler = Reconciler::new(&client(&rules), store.clone(), settings);
    let report = reconciler.run(Deadline::after(StdDuration::from_secs(30))).await.expect("runs");
    assert_eq!(report.clusters, [CLUSTER]);
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert!(
        report.failures[0].contains("cluster/locked: ListTasks failed"),
        "{:?}",
        report.failures
    );
    assert!(report.failures[0].contains("not authorized"), "{:?}", report.failures);
    assert_eq!(get(&store, "newer").await.version, 4);
}

/// The in-memory store, counting the records its reads hand out.
struct CountingReads {
    inner: InMemoryStateStore,
    read: std::sync::atomic::AtomicUsize,
}

impl CountingReads {
    fn count(&self, records: usize) {
        self.read.fetch_add(records, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl StateStore for CountingReads {
    async fn put_if_newer(
        &self,
        record: StateRecord,
        create: Create,
    ) -> Result<PutResult, StoreError> {
        self.inner.put_if_newer(record, create).await
    }

    async fn get(&self, kind: ResourceKind, key: &str) -> Result<Option<StateRecord>, StoreError> {
        let record = self.inner.get(kind, key).await?;
        self.count(usize::from(record.is_some()));
        Ok(record)
    }

    async fn list_tasks(
        &self,
        cluster: &str,
        status: Option<&str>,
    ) -> Result<Vec<TaskSummary>, StoreError> {
        let tasks = self.inner.list_tasks(cluster, status).await?;
        self.count(tasks.len());
        Ok(tasks)
    }

    async fn deployment_tasks(&self, deployment: &str) -> Result<Vec<TaskSummary>, StoreError> {
        let tasks = self.inner.deployment_tasks(deployment).await?;
        self.count(tasks.len());
        Ok(tasks)
    }

    async fn cluster_arns(&self) -> Result<Vec<String>, StoreError> {
        self.inner.cluster_arns().await
    }

    async fn mark_missing(
        &self,
        kind: ResourceKind,
        key: &str,
        version: u64,
        since: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        self.inner.mark_missing(kind, key, version, since, expires_at).await
    }

    async fn clear_missing(
        &self,
        kind: ResourceKind,
        key: &str,
        version: u64,
    ) -> Result<bool, StoreError> {
        self.inner.clear_missing(kind, key, version).await
    }

    async fn stored_versions(
        &self,
        kind: ResourceKind,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, StoredVersion>, StoreError> {
        let versions = self.inner.stored_versions(kind, keys).await?;
        self.count(versions.len());
        Ok(versions)
    }

    async fn unfinished(
        &self,
        kind: ResourceKind,
        cluster: &str,
    ) -> Result<Vec<StoredVersion>, StoreError> {
        let unfinished = self.inner.unfinished(kind, cluster).await?;
        self.count(unfinished.len());
        Ok(unfinished)
    }

    async fn put_api_facts(&self, record: StateRecord) -> Result<bool, StoreError> {
        self.inner.put_api_facts(record).await
    }
}

/// GIVEN a batch cluster whose table holds 5,000 stopped tasks beside the few it runs WHEN it
/// is reconciled THEN the run reads what the comparison needs — the unfinished tasks, and what
/// ECS describes — never the stopped history.
#[tokio::test]
async fn given_thousands_of_stopped_tasks_stored_then_a_run_reads_only_what_it_compares() {
    let store = Arc::new(CountingReads { inner: InMemoryStateStore::new(), read: 0.into() });
    for i in 0..5_000 {
        let record = stored(&format!("done-{i:05}"), "STOPPED", 9);
        store.inner.put_if_newer(record, Create::Allowed).await.expect("put");
    }
    for record in [stored("newer", "RUNNING", 3), stored("same", "RUNNING", 2)] {
        store.inner.put_if_newer(record, Create::Allowed).await.expect("put");
    }
    let (newer, same, older, lost) = ecs_today();
    let rules = cluster_rules(&[&newer, &same], &[&older, &lost], false);
    let reconciler = Reconciler::new(&client(&rules), store.clone(), settings(false, 100));
    let report = reconciler.run(Deadline::after(StdDuration::from_secs(30))).await.expect("runs");
    assert_eq!(report.described, 5);
    // Two unfinished tasks, the stored versions of the two of the four described that are
    // stored: 4 records, not 5,002.
    assert_eq!(store.read.load(std::sync::atomic::Ordering::SeqCst), 4);
}

const WEB: &str = "arn:aws:ecs:us-west-2:123456789012:service/MyCluster/web";
const WORKER: &str = "arn:aws:ecs:us-west-2:123456789012:service/MyCluster/worker";
const DELETED: &str = "arn:aws:ecs:us-west-2:123456789012:service/MyCluster/old-api";

/// A service as `DescribeServices` answers on the wire (the API reference's example's fields).
fn api_service(arn: &str, desired: i64, running: i64) -> Value {
    json!({
        "serviceArn": arn,
        "serviceName": arn.rsplit('/').next(),
        "clusterArn": CLUSTER,
        "status": "ACTIVE",
        "desiredCount": desired,
        "runningCount": running,
        "pendingCount": 0,
        "launchType": "FARGATE",
        "taskDefinition": "arn:aws:ecs:us-west-2:123456789012:task-definition/sample-fargate:2",
        "deployments": [],
        "events": [],
        "createdAt": 1557128207.101
    })
}

/// GIVEN a cluster with two services (one scaled to zero, listed over two pages) and a stored
/// service ECS no longer lists WHEN a run reads the services (`DescribeServices` throttled once)
/// THEN each one's desired count and status is recorded — the unlisted one as deleted — and a
/// second run over the unchanged cluster writes none of them.
#[tokio::test]
async fn given_services_then_a_run_records_desired_counts_and_status_once() {
    use ecs_events::service::{Desired, InMemoryServiceStore, ServiceStore};
    let store = store_before().await;
    let services = Arc::new(InMemoryServiceStore::new());
    let gone = Desired { count: 1, at_ms: 0, source: Source::Event };
    services.observe_desired(DELETED, CLUSTER, gone, None).await.expect("stored");
    let (newer, same, older, lost) = ecs_today();
    let mut rules = cluster_rules(&[&newer, &same], &[&older, &lost], false);
    rules.extend([
        mock!(Ecs::list_services)
            .match_requests(|r| r.next_token().is_none())
            .sequence()
            .http_status(200, body(&json!({"serviceArns": [WEB], "nextToken": "services-2"})))
            .repeatedly()
            .build(),
        mock!(Ecs::list_services)
            .match_requests(|r| r.next_token() == Some("services-2"))
            .sequence()
            .http_status(200, body(&json!({"serviceArns": [WORKER]})))
            .repeatedly()
            .build(),
        mock!(Ecs::describe_services)
            .sequence()
            .http_status(400, Some(THROTTLED.into()))
            .http_status(
                200,
                body(&json!({
                    "services": [api_service(WEB, 2, 2), api_service(WORKER, 0, 0)],
                    "failures": [{"arn": DELETED, "reason": "MISSING"}]
                })),
            )
            .repeatedly()
            .build(),
    ]);
    let reconciler = Reconciler::new(&client(&rules), store.clone(), settings(false, 100))
        .with_services(services.clone());
    let report = reconciler.run(Deadline::after(StdDuration::from_secs(30))).await.expect("runs");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!((report.services_described, report.services_written), (3, 3));
    // The 7 calls of the tasks and instances, ListServices ×2, DescribeServices ×2 (the first
    // throttled and retried): every attempt counted.
    assert_eq!((report.api_calls, report.throttles), (11, 1));
    let read = |arn| {
        let services = services.clone();
        async move { services.service(arn).await.expect("get").expect("stored") }
    };
    let web = read(WEB).await;
    assert_eq!(web.desired.map(|d| (d.count, d.source)), Some((2, Source::Reconcile)));
    assert_eq!(web.status.as_deref(), Some("ACTIVE"));
    assert_eq!(read(WORKER).await.desired.map(|d| d.count), Some(0));
    let deleted = read(DELETED).await;
    assert_eq!(
        (deleted.desired.map(|d| d.count), deleted.status.as_deref()),
        (Some(0), Some("INACTIVE"))
    );
    // Nothing changed since: the second run writes no service.
    let report = reconciler.run(Deadline::after(StdDuration::from_secs(30))).await.expect("runs");
    assert_eq!((report.services_described, report.services_written), (2, 0));
}
