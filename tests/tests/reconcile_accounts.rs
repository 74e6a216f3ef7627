//! The reconciler across accounts and Regions, its requests answered on the wire by one HTTP
//! client that plays STS and ECS (as their API references document them: STS `AssumeRole` in
//! the query protocol, ECS in awsJson 1.1), keyed by what each request is signed with: its
//! credentials (the central account's own, or a member's assumed ones) and its Region.
//!
//! What it shows: the own account is read with its own credentials in every Region; each
//! member account through exactly one `sts:AssumeRole` on `arn:aws:iam::<id>:role/<name>`
//! (session name `ecs-events-reconciler`) shared by its Regions; a member whose role cannot be
//! assumed (access denied) and a Region that throttles are reported for themselves, while every
//! other account and Region is still reconciled (the same cluster and task id in each stay
//! apart); the invocation then fails retryably, naming them. (`reconcile_moto.rs` runs the
//! real STS and ECS protocol against moto, which assumes any role.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_ecs::config::retry::RetryConfig;
use aws_sdk_ecs::config::{Credentials, Region};
use aws_smithy_http_client::test_util::infallible_client_fn;
use ecs_events::event::ReceivedEvent;
use ecs_events::reconcile::{Members, ReconcileSettings, Reconciler};
use ecs_events::state::{
    Create, InMemoryStateStore, ResourceKind, Retention, StateRecord, StateStore,
};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;

const CENTRAL: &str = "111122223333";
const DENIED: &str = "999999999999";
/// The member account whose eu-west-1 throttles every request.
const THROTTLED: &str = "777788889999";
const TASK_ID: &str = "c4a7c4a7c4a7c4a7c4a7c4a7c4a7c4a7";

/// A request the fake services answered: the access key it was signed with, its Region, and
/// what it was (`AssumeRole <role ARN> <session name>`, or the ECS operation).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    key: String,
    region: String,
    what: String,
}

/// The access key and Region of a SigV4 `Authorization` header.
fn signed_by(headers: &http::HeaderMap) -> (String, String) {
    let header =
        headers.get("authorization").and_then(|value| value.to_str().ok()).unwrap_or_default();
    let scope = header.split("Credential=").nth(1).unwrap_or_default();
    let mut parts = scope.split('/');
    let key = parts.next().unwrap_or_default().to_owned();
    let region = parts.nth(1).unwrap_or_default().to_owned();
    (key, region)
}

/// A form field of an STS query request (`RoleArn=arn%3Aaws%3A...`), decoded.
fn form_field(body: &str, name: &str) -> String {
    let value =
        body.split('&').find_map(|pair| pair.strip_prefix(&format!("{name}="))).unwrap_or_default();
    value.replace("%3A", ":").replace("%2F", "/")
}

/// The answer of the fake STS and ECS to a request (its headers and body), recorded in `seen`.
fn answer(
    headers: &http::HeaderMap,
    body: Option<&[u8]>,
    seen: &Mutex<Vec<Seen>>,
) -> http::Response<String> {
    let (key, region) = signed_by(headers);
    let body = body.map(String::from_utf8_lossy).unwrap_or_default();
    let target = headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .map(|target| target.rsplit('.').next().unwrap_or(target).to_owned());
    let respond = |status: u16, body: String| {
        http::Response::builder().status(status).body(body).expect("a response")
    };
    let Some(operation) = target else {
        // STS: the query protocol.
        let role = form_field(&body, "RoleArn");
        let session = form_field(&body, "RoleSessionName");
        seen.lock().expect("lock").push(Seen {
            key,
            region,
            what: format!("AssumeRole {role} {session}"),
        });
        let account = role.split(':').nth(4).unwrap_or_default().to_owned();
        if account == DENIED {
            return respond(
                403,
                format!(
                    "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
                     <Type>Sender</Type><Code>AccessDenied</Code><Message>User: \
                     arn:aws:sts::{CENTRAL}:assumed-role/reconciler/x is not authorized to \
                     perform: sts:AssumeRole on resource: {role}</Message></Error>\
                     <RequestId>4c2c7c6e-0000-4000-8000-000000000001</RequestId></ErrorResponse>"
                ),
            );
        }
        return respond(
            200,
            format!(
                "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
                 <AssumeRoleResult><AssumedRoleUser><Arn>arn:aws:sts::{account}:assumed-role/\
                 ecs-events-reader/{session}</Arn><AssumedRoleId>AROAEXAMPLE:{session}\
                 </AssumedRoleId></AssumedRoleUser><Credentials><AccessKeyId>ASIA{account}\
                 </AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>token\
                 </SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>\
                 </AssumeRoleResult><ResponseMetadata><RequestId>\
                 4c2c7c6e-0000-4000-8000-000000000002</RequestId></ResponseMetadata>\
                 </AssumeRoleResponse>"
            ),
        );
    };
    seen.lock().expect("lock").push(Seen {
        key: key.clone(),
        region: region.clone(),
        what: operation.clone(),
    });
    // The account whose credentials signed it: the central account's own, or ASIA<account>.
    let account = key.strip_prefix("ASIA").unwrap_or(CENTRAL).to_owned();
    if account == THROTTLED && region == "eu-west-1" {
        return respond(
            400,
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into(),
        );
    }
    let body = match operation.as_str() {
        "ListClusters" => {
            json!({"clusterArns": [format!("arn:aws:ecs:{region}:{account}:cluster/shop")]})
        }
        "ListTasks" => json!({"taskArns": []}),
        "ListContainerInstances" => json!({"containerInstanceArns": []}),
        other => json!({"__type": "UnknownOperationException", "message": other}),
    };
    respond(200, body.to_string())
}

/// The RUNNING task of the `same-ids-in-three-accounts` scenario in `account` and `region`
/// (one cluster `shop` and task id everywhere), stored by the state tracker in 2024.
fn stored_task(account: &str, region: &str) -> StateRecord {
    let event = include_str!(
        "../../events/scenarios/same-ids-in-three-accounts/01-a-111122223333-us-east-1-cart-running.json"
    )
    .replace("111122223333", account)
    .replace("us-east-1", region);
    let received = ReceivedEvent::from_slice(event.as_bytes()).expect("event");
    StateRecord::from_event(received, Retention::default()).expect("fits").expect("a task")
}

fn task_arn(account: &str, region: &str) -> String {
    format!("arn:aws:ecs:{region}:{account}:task/shop/{TASK_ID}")
}

/// The central account's SDK configuration in `region` (its own credentials `AKIDCENTRAL`),
/// its requests answered by the fake STS and ECS, which record them; retries fast.
async fn central_sdk(region: &str) -> (aws_config::SdkConfig, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = Arc::clone(&seen);
    let http_client = infallible_client_fn(move |request| {
        answer(request.headers(), request.body().bytes(), &recorder)
    });
    let retries =
        RetryConfig::standard().with_max_attempts(2).with_initial_backoff(Duration::from_millis(1));
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new("AKIDCENTRAL", "secret", None, None, "test"))
        .http_client(http_client)
        .retry_config(retries)
        .load()
        .await;
    (sdk, seen)
}

#[tokio::test]
async fn given_member_accounts_and_regions_then_each_is_read_with_its_credentials_and_a_failure_stays_its_own()
 {
    let (sdk, seen) = central_sdk("us-east-1").await;
    let regions = ["us-east-1", "eu-west-1"];
    let accounts = [CENTRAL, "444455556666", THROTTLED, DENIED];
    let store = Arc::new(InMemoryStateStore::new());
    for account in accounts {
        for region in regions {
            let put = store.put_if_newer(stored_task(account, region), Create::Allowed);
            put.await.expect("stored");
        }
    }
    let settings = ReconcileSettings { max_api_calls: 200, ..ReconcileSettings::default() };
    // The central account is listed too: it is read with its own credentials, never assumed.
    let members = Members {
        accounts: accounts.iter().map(|a| (*a).to_owned()).collect(),
        regions: regions.iter().map(|r| (*r).to_owned()).collect(),
        ..Members::default()
    };
    let reconciler = Reconciler::new(&aws_sdk_ecs::Client::new(&sdk), store.clone(), settings)
        .with_members(&sdk, members);
    let mut context = Context::default();
    context.invoked_function_arn =
        format!("arn:aws:lambda:us-east-1:{CENTRAL}:function:ecs-events-reconciler");

    let error = reconciler::handle(&reconciler, LambdaEvent::new(json!({}), context))
        .await
        .expect_err("two accounts and Regions could not be read");

    // Exactly one AssumeRole per member account whose role works, shared by its Regions,
    // signed by the central account's own credentials; none for the central account.
    let seen = seen.lock().expect("lock").clone();
    let assumed: Vec<&Seen> = seen.iter().filter(|s| s.what.starts_with("AssumeRole")).collect();
    for account in ["444455556666", THROTTLED] {
        let what = format!(
            "AssumeRole arn:aws:iam::{account}:role/ecs-events-reader ecs-events-reconciler"
        );
        let calls: Vec<&&Seen> = assumed.iter().filter(|s| s.what == what).collect();
        assert_eq!(calls.len(), 1, "{account}: {assumed:?}");
        assert_eq!((calls[0].key.as_str(), calls[0].region.as_str()), ("AKIDCENTRAL", "us-east-1"));
    }
    assert!(assumed.iter().all(|s| !s.what.contains(CENTRAL)), "{assumed:?}");
    assert!(assumed.iter().any(|s| s.what.contains(DENIED)), "{assumed:?}");
    // ECS is read in every Region: with the own credentials in the central account, with the
    // assumed ones in each member account; never in the account whose role was refused.
    let listed = |key: &str, region: &str| {
        seen.iter().any(|s| s.what == "ListClusters" && s.key == key && s.region == region)
    };
    for region in regions {
        assert!(listed("AKIDCENTRAL", region), "{region}: {seen:?}");
        assert!(listed("ASIA444455556666", region), "{region}: {seen:?}");
        assert!(!listed(&format!("ASIA{DENIED}"), region), "{region}: {seen:?}");
    }
    assert!(listed(&format!("ASIA{THROTTLED}"), "us-east-1"), "{seen:?}");

    // The invocation fails retryably, naming each account and Region that could not be read.
    let message = error.to_string();
    assert!(format!("{error:?}").starts_with("Retryable.ReconcileFailures"), "{error:?}");
    assert!(message.starts_with("3 failure(s): "), "{message}");
    for (account, region, why) in [
        (THROTTLED, "eu-west-1", "ThrottlingException"),
        (DENIED, "us-east-1", "AccessDenied"),
        (DENIED, "eu-west-1", "AccessDenied"),
    ] {
        let start = format!(
            "account {account} in {region} (role arn:aws:iam::{account}:role/ecs-events-reader): \
             cannot list the clusters: ListClusters failed: "
        );
        let failures = message.trim_start_matches("3 failure(s): ");
        let failure = failures.split("; ").find(|failure| failure.starts_with(&start));
        let failure = failure.unwrap_or_else(|| panic!("{start} in {message}"));
        assert!(failure.contains(why), "{failure}");
    }

    // Every place that could be read was reconciled: its task, which ECS no longer lists, is
    // marked missing — in its own account and Region only. The others are left as they were.
    for account in accounts {
        for region in regions {
            let task = store.get(ResourceKind::Task, &task_arn(account, region)).await;
            let task = task.expect("get").expect("stored");
            let reached = account != DENIED && !(account == THROTTLED && region == "eu-west-1");
            assert_eq!(task.missing_since.is_some(), reached, "{account} {region}");
        }
    }
}

#[tokio::test]
async fn given_a_report_then_each_account_and_region_read_is_in_it() {
    let (sdk, _) = central_sdk("eu-west-1").await;
    let members = Members { accounts: vec!["444455556666".into()], ..Members::default() };
    let reconciler = Reconciler::new(
        &aws_sdk_ecs::Client::new(&sdk),
        Arc::new(InMemoryStateStore::new()),
        ReconcileSettings::default(),
    )
    .with_members(&sdk, members);
    let caller = ecs_events::reconcile::Caller::from_arn(&format!(
        "arn:aws:lambda:eu-west-1:{CENTRAL}:function:ecs-events-reconciler"
    ));
    let deadline = ecs_events::deadline::Deadline::after(Duration::from_secs(30));
    let report = reconciler.run_as(caller.as_ref(), deadline).await.expect("a report");
    // No RECONCILE_REGIONS: the function's own Region, in both accounts.
    let targets = serde_json::to_value(&report.targets).expect("JSON");
    assert_eq!(
        targets,
        json!([
            {"account": CENTRAL, "region": null, "role": null, "clusters": 1, "error": null},
            {"account": "444455556666", "region": null,
             "role": "arn:aws:iam::444455556666:role/ecs-events-reader", "clusters": 1, "error": null},
        ])
    );
    assert_eq!(
        report.clusters,
        [
            format!("arn:aws:ecs:eu-west-1:{CENTRAL}:cluster/shop"),
            "arn:aws:ecs:eu-west-1:444455556666:cluster/shop".to_owned(),
        ]
    );
    assert!(report.failures.is_empty(), "{:?}", report.failures);
}
