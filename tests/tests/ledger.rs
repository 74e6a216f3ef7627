//! The alert ledger's contract, kept by both adapters (in memory, and DynamoDB on moto): claim,
//! in progress, takeover after the lease, release and mark with a wrong token, mark, already
//! sent.

mod support;

use ecs_events::alert::{AlertLedger, Claim, DynamoDbLedger, InMemoryLedger, Marked};
use ecs_events_cli::tables::create_ledger_table;
use support::{dynamodb, unique};

async fn ledger_contract(ledger: &dyn AlertLedger) {
    let key = "essential-container-exited#arn:aws:ecs:us-east-1:111122223333:task/prod/x";
    // GIVEN no entry WHEN claimed THEN it is ours until the lease ends.
    assert_eq!(ledger.claim(key, "a", 1_000, 1_120, 9_999).await.expect("claim"), Claim::Claimed);
    // Within the lease another claim finds it in progress, with the holder's lease.
    assert_eq!(
        ledger.claim(key, "b", 1_100, 1_220, 9_999).await.expect("claim"),
        Claim::InProgress { lease_until: 1_120 }
    );
    // A release or a mark with the wrong token changes nothing.
    ledger.release(key, "b").await.expect("release");
    assert_eq!(ledger.mark_sent(key, "b", 9_999).await.expect("mark"), Marked::NotHeld);
    assert_eq!(
        ledger.claim(key, "c", 1_110, 1_230, 9_999).await.expect("claim"),
        Claim::InProgress { lease_until: 1_120 }
    );
    // After the lease (its holder died): taken over.
    assert_eq!(ledger.claim(key, "b", 1_121, 1_241, 9_999).await.expect("claim"), Claim::Claimed);
    // The old holder, back late, can neither mark nor release the claim it lost.
    assert_eq!(ledger.mark_sent(key, "a", 9_999).await.expect("mark"), Marked::NotHeld);
    ledger.release(key, "a").await.expect("release");
    assert_eq!(
        ledger.claim(key, "c", 1_200, 1_320, 9_999).await.expect("claim"),
        Claim::InProgress { lease_until: 1_241 }
    );
    // The holder marks it sent; from then on it is never claimed again, lease or not.
    assert_eq!(ledger.mark_sent(key, "b", 9_999).await.expect("mark"), Marked::Sent);
    assert_eq!(ledger.mark_sent(key, "b", 9_999).await.expect("mark"), Marked::NotHeld);
    assert_eq!(
        ledger.claim(key, "c", 5_000, 5_120, 9_999).await.expect("claim"),
        Claim::AlreadySent
    );

    // A released claim can be claimed again at once.
    let other = "task-failed-to-start#arn:aws:ecs:us-east-1:111122223333:task/prod/y";
    assert_eq!(ledger.claim(other, "d", 1_000, 1_120, 9_999).await.expect("claim"), Claim::Claimed);
    ledger.release(other, "d").await.expect("release");
    assert_eq!(ledger.claim(other, "e", 1_001, 1_121, 9_999).await.expect("claim"), Claim::Claimed);
}

#[tokio::test]
async fn given_the_in_memory_ledger_then_it_keeps_the_ledger_contract() {
    ledger_contract(&InMemoryLedger::new()).await;
}

#[tokio::test]
async fn given_the_dynamodb_ledger_on_moto_then_it_keeps_the_ledger_contract() {
    let table = unique("ledger");
    create_ledger_table(&dynamodb(), &table).await.expect("ledger table");
    ledger_contract(&DynamoDbLedger::new(dynamodb(), table)).await;
}
