//! The reconciler's member accounts against moto, which implements `sts:AssumeRole` and keeps
//! each account's ECS apart by the credentials a request is signed with (moto accepts any role:
//! a role that cannot be assumed is shown in `reconcile_accounts.rs`). The real SDK clients,
//! the real `AssumeRoleProvider`, the real protocols: the own account (moto's 123456789012) is
//! read with its own credentials, each member through the role assumed there, in two Regions.

mod support;

use std::sync::Arc;
use std::time::Duration;

use ecs_events::deadline::Deadline;
use ecs_events::event::ReceivedEvent;
use ecs_events::reconcile::{Caller, Members, Reach, ReconcileSettings, Reconciler};
use ecs_events::state::{
    Create, InMemoryStateStore, ResourceKind, Retention, StateRecord, StateStore,
};

/// moto's own account: the one its default credentials act in.
const OWN: &str = "123456789012";
const MEMBERS: [&str; 2] = ["444455556666", "777788889999"];
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const TASK_ID: &str = "c4a7c4a7c4a7c4a7c4a7c4a7c4a7c4a7";

/// A RUNNING task of cluster `cluster` in `account` and `region`, as the state tracker stored
/// it in 2024 (the `same-ids-in-three-accounts` scenario's first event, moved there).
fn stored_task(account: &str, region: &str, cluster: &str) -> StateRecord {
    let event = include_str!(
        "../../events/scenarios/same-ids-in-three-accounts/01-a-111122223333-us-east-1-cart-running.json"
    )
    .replace("111122223333", account)
    .replace("us-east-1", region)
    .replace("/shop", &format!("/{cluster}"));
    let received = ReceivedEvent::from_slice(event.as_bytes()).expect("event");
    StateRecord::from_event(received, Retention::default()).expect("fits").expect("a task")
}

#[tokio::test]
async fn given_member_accounts_in_moto_then_each_account_and_region_is_read_through_its_role() {
    let sdk = ecs_events::aws::sdk_config(Some(&support::moto().endpoint)).await;
    let base = ecs_events::aws::ecs(&sdk);
    let cluster = support::unique("shop");
    // One cluster of one name in every account and Region, each made with that account's
    // credentials (the members' through the role, as the reconciler will read them).
    let mut places = Vec::new();
    for account in std::iter::once(OWN).chain(MEMBERS) {
        let role = if account == OWN {
            None
        } else {
            let arn = format!("arn:aws:iam::{account}:role/ecs-events-reader");
            Some(ecs_events::aws::assume_role(&sdk, &arn).await)
        };
        for region in REGIONS {
            let client = ecs_events::aws::ecs_reaching(&base, Some(region), role.as_ref());
            let created = client.create_cluster().cluster_name(&cluster).send().await;
            let arn = created.expect("cluster created").cluster.and_then(|c| c.cluster_arn);
            assert_eq!(
                arn.as_deref(),
                Some(format!("arn:aws:ecs:{region}:{account}:cluster/{cluster}").as_str()),
                "moto makes it in the account of the credentials"
            );
            places.push((account, region));
        }
    }
    // The state table holds a running task of the same id in each: ECS lists none of them.
    let store = Arc::new(InMemoryStateStore::new());
    for (account, region) in &places {
        let put = store.put_if_newer(stored_task(account, region, &cluster), Create::Allowed);
        put.await.expect("stored");
    }
    let members = Members {
        accounts: MEMBERS.iter().map(|a| (*a).to_owned()).collect(),
        regions: REGIONS.iter().map(|r| (*r).to_owned()).collect(),
        ..Members::default()
    };
    let settings = ReconcileSettings { clusters: vec![cluster.clone()], ..Default::default() };
    let reconciler = Reconciler::new(&base, store.clone(), settings).with_members(&sdk, members);
    let caller = Caller::from_arn(&format!("arn:aws:lambda:us-east-1:{OWN}:function:reconciler"));

    let report = reconciler
        .run_as(caller.as_ref(), Deadline::after(Duration::from_secs(60)))
        .await
        .expect("a report");

    // Each account × Region read, the own account with its own credentials.
    let read: Vec<(Option<&str>, Option<&str>, bool)> = report
        .targets
        .iter()
        .map(|t| (t.account.as_deref(), t.region.as_deref(), t.role.is_some()))
        .collect();
    let mut expected = Vec::new();
    for account in std::iter::once(OWN).chain(MEMBERS) {
        for region in REGIONS {
            expected.push((Some(account), Some(region), account != OWN));
        }
    }
    assert_eq!(read, expected);
    assert!(report.targets.iter().all(|t| t.error.is_none() && t.clusters == 1), "{report:?}");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    // The cluster of each account and Region, found by its name in each (not one of them).
    let mut clusters = report.clusters.clone();
    clusters.sort();
    let mut wanted: Vec<String> = places
        .iter()
        .map(|(account, region)| format!("arn:aws:ecs:{region}:{account}:cluster/{cluster}"))
        .collect();
    wanted.sort();
    assert_eq!(clusters, wanted);
    // Every task marked missing, each in its own account and Region.
    assert_eq!(report.marked_missing, 6);
    for (account, region) in &places {
        let arn = format!("arn:aws:ecs:{region}:{account}:task/{cluster}/{TASK_ID}");
        let task = store.get(ResourceKind::Task, &arn).await.expect("get").expect("stored");
        assert!(task.missing_since.is_some(), "{arn}");
    }
    // What the plan was, for the record: the own account first, then each member's role.
    let plan: Vec<String> = Members { accounts: vec![MEMBERS[0].into()], ..Members::default() }
        .plan(caller.as_ref())
        .iter()
        .map(Reach::describe)
        .collect();
    assert_eq!(
        plan,
        [
            format!("account {OWN}"),
            format!(
                "account {} (role arn:aws:iam::{}:role/ecs-events-reader)",
                MEMBERS[0], MEMBERS[0]
            ),
        ]
    );
}
