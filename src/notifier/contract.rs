//! The notification bus's contract, checked against the in-memory bus (unit tests) and EventBridge on moto
//! (`tests/notify.rs`, read back through a rule's SQS target), so the fake cannot drift from the real one.

use std::future::Future;

use serde_json::Value;

use super::{Bus, BATCH};
use crate::notify::{Notification, SOURCE};

/// `count` notifications of `detail_type`, each naming its number.
pub fn notes(count: usize, detail_type: &'static str) -> Vec<Notification> {
    (0..count)
        .map(|i| Notification {
            detail_type,
            detail: serde_json::json!({"roleName": format!("role-{i}"), "summary": format!("note {i}"), "roleArn": ""}),
        })
        .collect()
}

/// Puts more than one PutEvents call's worth, then reads back through `received` (each event as EventBridge
/// delivers it: `source`, `detail-type`, `detail`). Panics on the first broken promise.
pub async fn check<B: Bus, F: Future<Output = Vec<Value>>>(bus: &B, received: impl Fn() -> F) {
    let sent = notes(BATCH + 2, "EKS Node Role Drift Repaired");
    assert_eq!(bus.put(&[]).await, 0, "nothing put, nothing accepted");
    assert_eq!(bus.put(&sent).await, sent.len(), "every entry accepted, over several calls");
    let got = received().await;
    assert_eq!(got.len(), sent.len(), "each delivered once: {got:?}");
    let mut roles: Vec<String> = got
        .iter()
        .map(|e| {
            assert_eq!(e["source"], SOURCE, "{e}");
            assert_eq!(e["detail-type"], "EKS Node Role Drift Repaired", "{e}");
            e["detail"]["roleName"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    roles.sort();
    let mut want: Vec<String> = sent.iter().map(|n| n.detail["roleName"].as_str().unwrap().to_string()).collect();
    want.sort();
    assert_eq!(roles, want, "the details arrive as sent");
}
