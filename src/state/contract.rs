//! The state store's contract: what the core relies on, checked against every implementation (the in-memory
//! store in unit tests, DynamoDB on moto in `tests/state_store.rs`), so the fake cannot drift from the real one.
//! Panics on the first broken promise; used only by tests.

use super::{Expect, Phase, Record, StateStore};
use crate::domain::{NodeRoleSpec, Owner, RoleName};
use crate::error::Error;

fn spec(name: &str, owner: &str) -> NodeRoleSpec {
    let text = serde_json::json!({
        "name": name, "path": "/", "partition": "aws", "account": "123456789012", "region": "us-east-1",
        "description": null, "ipFamily": "ipv4", "attachCni": true, "ipv6CniPolicy": null, "extraPolicies": [],
        "boundary": {"kind": "absent"}, "instanceProfile": name, "externalProfile": false,
        "remediation": "enforce",
        "owner": {"stack_id": format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{owner}/1"), "logical_id": "NodeRole"},
        "adopted": false, "preexisting": [], "userTags": {}
    });
    super::codec::decode_desired(&text.to_string()).expect("contract spec")
}

/// Runs every promise against `store`, using role names that start with `prefix`.
pub async fn check<S: StateStore>(store: &S, prefix: &str) {
    let name = RoleName::parse(&format!("{prefix}Nodes")).unwrap();
    let lower = RoleName::parse(&format!("{prefix}nodes").to_ascii_lowercase()).unwrap();
    assert_eq!(store.get(&name).await.unwrap(), None, "no item at first");

    // Create's claim: written when there is none, again by the same owner, never by another.
    let mine = Record::new(spec(name.as_str(), "prod"));
    let stored = store.put(&mine, Expect::NewOrOwn).await.unwrap();
    assert_eq!(stored.version, 1);
    let read = store.get(&lower).await.unwrap().expect("found under any case of the name");
    assert_eq!(read, stored, "read back as written");
    let again = store.put(&read, Expect::NewOrOwn).await.unwrap();
    assert_eq!(again.version, 2, "the same owner may claim again (a retried Create)");
    let theirs = Record::new(spec(name.as_str(), "other"));
    match store.put(&theirs, Expect::NewOrOwn).await {
        Err(Error::Conflict(m)) => {
            assert!(m.contains("another stack") && !m.contains("stack/prod/1"), "another stack, not named: {m}")
        }
        other => panic!("another owner's claim must fail: {other:?}"),
    }

    // Conditional writes: the version read, or nothing.
    let mut next = again.clone();
    next.role_id = Some("AROA1".into());
    let v3 = store.put(&next, again.expect()).await.unwrap();
    assert!(matches!(store.put(&next, again.expect()).await, Err(Error::RecordChanged(_))), "a stale write fails");
    let read = store.get(&name).await.unwrap().unwrap();
    assert_eq!((read.role_id.as_deref(), read.version), (Some("AROA1"), 3));

    // The breaker's history and the phase round-trip.
    let mut deleting = v3.admit_repair(1_795_000_000, std::time::Duration::from_secs(60), 5).unwrap();
    deleting.phase = Phase::Deleting;
    let v4 = store.put(&deleting, v3.expect()).await.unwrap();
    assert_eq!(store.get(&name).await.unwrap().unwrap().repairs, [1_795_000_000]);

    // Listing sees every item; deletion is conditional on the version and idempotent.
    let second = RoleName::parse(&format!("{prefix}Second")).unwrap();
    store.put(&Record::new(spec(second.as_str(), "prod")), Expect::NewOrOwn).await.unwrap();
    let listed: Vec<String> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.role_name.to_string())
        .filter(|n| n.starts_with(prefix))
        .collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(matches!(store.delete(&name, v3.version).await, Err(Error::RecordChanged(_))), "stale delete");
    store.delete(&name, v4.version).await.unwrap();
    assert_eq!(store.get(&name).await.unwrap(), None);
    store.delete(&name, v4.version).await.unwrap();
    let owner = Owner { stack_id: "x".into(), logical_id: "y".into() };
    assert_ne!(owner, mine.owner);
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_memory_store_keeps_the_contract() {
        super::check(&super::super::MemoryStore::new(), "mem").await;
    }
}
