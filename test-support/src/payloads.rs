//! What the tests send: CloudFormation requests, CloudTrail events from `events/`, and the names they use.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::*;

pub const ACCOUNT: &str = "123456789012";
/// A placeholder StackId: `Harness::send` replaces it with the moto stack that holds the request's resource.
pub const STACK_ID: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/prod-eks/5b6e4a40-0e1c-11ef-9d2b-0a1b2c3d4e5f";
pub const TABLE: &str = "eks-node-role-guard-state";
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:eks-node-role-guard";

/// A CloudFormation request as the service sends it.
pub fn request(kind: &str, logical_id: &str, props: Value, url: &str) -> Value {
    let mut props = props;
    props["ServiceToken"] = json!(FUNCTION_ARN);
    json!({
        "RequestType": kind,
        "ServiceToken": FUNCTION_ARN,
        "ResponseURL": url,
        "StackId": STACK_ID,
        "RequestId": format!("{}-{}", kind.to_lowercase(), uuidish()),
        "ResourceType": "Custom::EksNodeRole",
        "LogicalResourceId": logical_id,
        "ResourceProperties": props,
    })
}

pub fn update(logical_id: &str, physical: &str, props: Value, old: Value, url: &str) -> Value {
    let mut r = request("Update", logical_id, props, url);
    let mut old = old;
    old["ServiceToken"] = r["ServiceToken"].clone();
    r["PhysicalResourceId"] = json!(physical);
    r["OldResourceProperties"] = old;
    r
}

pub fn delete(logical_id: &str, physical: &str, props: Value, url: &str) -> Value {
    let mut r = request("Delete", logical_id, props, url);
    r["PhysicalResourceId"] = json!(physical);
    r
}

pub(crate) fn uuidish() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{:x}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// The execution role name the tests give the tool.
pub const OWN_ROLE: &str = "eks-node-role-guard-GuardRole-1A2B3C";

/// A sample event from events/, aimed at `role` (its roleName / instanceProfileName replaced).
pub fn drift_event(file: &str, role: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("events").join(file)).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    let params = &mut v["detail"]["requestParameters"];
    for key in ["roleName", "instanceProfileName"] {
        if params.get(key).is_some() {
            params[key] = json!(role);
        }
    }
    v
}

/// The same event as made by the tool's own execution role.
pub fn as_own_call(mut event: Value) -> Value {
    event["detail"]["userIdentity"] = json!({
        "type": "AssumedRole",
        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{OWN_ROLE}/eks-node-role-guard"),
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{ACCOUNT}:role/{OWN_ROLE}"), "userName": OWN_ROLE}}
    });
    event
}

pub const IPV6_POLICY_ARN: &str = "arn:aws:iam::123456789012:policy/AmazonEKS_CNI_IPv6_Policy";

pub fn names(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// An event file from events/, its ResponseURL pointed at `listener`.
pub fn event_file(name: &str, listener: &ResponseListener) -> Value {
    let text = std::fs::read_to_string(repo().join("events").join(name)).unwrap();
    serde_json::from_str(&text.replace("127.0.0.1:8765", &format!("127.0.0.1:{}", listener.port))).unwrap()
}
