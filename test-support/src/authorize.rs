//! The function's AWS calls, as recorded by the fault proxy, turned into the requests IAM authorizes — action,
//! resource ARN, and the condition keys the request carries (`iam:PolicyARN`, `iam:PermissionsBoundary`,
//! `aws:TagKeys`, `aws:RequestTag/…`, `events:source`, `aws:PrincipalArn`) — and evaluated under the rendered
//! template's policies (`crate::template`, `crate::iam_policy`). A call real IAM would deny is reported with the
//! statements that could have allowed it and why each did not.
//!
//! What IAM requires beyond the call itself is added as IAM documents it: `iam:TagRole` (and
//! `iam:TagInstanceProfile`) for the tags a CreateRole (CreateInstanceProfile) carries; `iam:PassRole` on the role
//! an `AddRoleToInstanceProfile` adds. `sts:GetCallerIdentity` needs no permission.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::fault_proxy::{Recorded, Seen};
use crate::iam_policy::{evaluate, statements, Decision, Policy, Request};
use crate::template::{ACCOUNT, REGION};

/// A query-protocol body, percent-decoded.
pub fn form(body: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `prefix.member.N` (and `prefix.member.N.suffix`) values, in order.
fn members(f: &BTreeMap<String, String>, prefix: &str, suffix: Option<&str>) -> Vec<String> {
    (1..)
        .map(|n| match suffix {
            Some(s) => f.get(&format!("{prefix}.member.{n}.{s}")).cloned(),
            None => f.get(&format!("{prefix}.member.{n}")).cloned(),
        })
        .take_while(Option::is_some)
        .flatten()
        .collect()
}

/// The ARN of an IAM role or instance profile named in a call: as IAM's answers showed it, else at `path`.
fn iam_arn(seen: &Seen, kind: &str, name: &str, path: Option<&str>) -> String {
    seen.arns
        .get(&format!("{kind}:{name}"))
        .cloned()
        .unwrap_or_else(|| format!("arn:aws:iam::{ACCOUNT}:{kind}{}{name}", path.unwrap_or("/")))
}

/// The requests IAM authorizes for one recorded call, made by `principal`.
pub fn requests_of(call: &Recorded, seen: &Seen, principal: &str) -> Vec<Request> {
    let op = call.operation.as_str();
    let action = op.to_string();
    let mut out = Vec::new();
    match call.service.as_str() {
        "iam" => {
            let f = form(&call.body);
            let get = |k: &str| f.get(k).cloned().unwrap_or_default();
            let tags = |r: Request| {
                let keys = members(&f, "Tags", Some("Key"));
                let values = members(&f, "Tags", Some("Value"));
                let mut r = r;
                if !keys.is_empty() {
                    let k: Vec<&str> = keys.iter().map(String::as_str).collect();
                    r = r.with("aws:TagKeys", &k);
                    for (k, v) in keys.iter().zip(&values) {
                        r = r.with(&format!("aws:RequestTag/{k}"), &[v]);
                    }
                }
                r
            };
            let role = || iam_arn(seen, "role", &get("RoleName"), f.get("Path").map(String::as_str));
            let profile =
                || iam_arn(seen, "instance-profile", &get("InstanceProfileName"), f.get("Path").map(String::as_str));
            match op.trim_start_matches("iam:") {
                "ListRoles" | "GetAccountSummary" => out.push(Request::new(action, "*")),
                "GetPolicy" | "GetPolicyVersion" => out.push(Request::new(action, get("PolicyArn"))),
                "CreateRole" => {
                    let mut r = tags(Request::new(action, role()));
                    if let Some(b) = f.get("PermissionsBoundary") {
                        r = r.with("iam:PermissionsBoundary", &[b]);
                    }
                    out.push(r);
                    if f.contains_key("Tags.member.1.Key") {
                        out.push(tags(Request::new("iam:TagRole", role())));
                    }
                }
                "TagRole" => out.push(tags(Request::new(action, role()))),
                "UntagRole" => {
                    let keys = members(&f, "TagKeys", None);
                    let k: Vec<&str> = keys.iter().map(String::as_str).collect();
                    out.push(Request::new(action, role()).with("aws:TagKeys", &k));
                }
                "AttachRolePolicy" | "DetachRolePolicy" => {
                    out.push(Request::new(action, role()).with("iam:PolicyARN", &[&get("PolicyArn")]))
                }
                "PutRolePermissionsBoundary" => out
                    .push(Request::new(action, role()).with("iam:PermissionsBoundary", &[&get("PermissionsBoundary")])),
                "DeleteRolePermissionsBoundary" => {
                    let mut r = Request::new(action, role());
                    if let Some(b) = seen.boundaries.get(&get("RoleName")) {
                        r = r.with("iam:PermissionsBoundary", &[b]);
                    }
                    out.push(r);
                }
                "CreateInstanceProfile" => {
                    out.push(tags(Request::new(action, profile())));
                    if f.contains_key("Tags.member.1.Key") {
                        out.push(tags(Request::new("iam:TagInstanceProfile", profile())));
                    }
                }
                "TagInstanceProfile" => out.push(tags(Request::new(action, profile()))),
                "AddRoleToInstanceProfile" => {
                    out.push(Request::new(action, profile()));
                    out.push(Request::new("iam:PassRole", role()));
                }
                o if o.contains("InstanceProfile") && f.contains_key("InstanceProfileName") => {
                    out.push(Request::new(action, profile()))
                }
                _ if f.contains_key("RoleName") => out.push(Request::new(action, role())),
                _ => out.push(Request::new(action, "*")),
            }
        }
        "dynamodb" => {
            let body: Value = serde_json::from_slice(&call.body).unwrap_or_default();
            let table = body["TableName"].as_str().unwrap_or("?");
            out.push(Request::new(action, format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}")));
        }
        "cloudformation" => {
            let f = form(&call.body);
            let stack = f.get("StackName").cloned().unwrap_or_default();
            let arn = if stack.starts_with("arn:") {
                stack
            } else {
                format!("arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack}/unknown")
            };
            out.push(Request::new(action, arn));
        }
        "events" => {
            let body: Value = serde_json::from_slice(&call.body).unwrap_or_default();
            for entry in body["Entries"].as_array().cloned().unwrap_or_default() {
                let bus = entry["EventBusName"].as_str().unwrap_or("default");
                let arn = if bus.starts_with("arn:") {
                    bus.to_string()
                } else {
                    format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}")
                };
                let source = entry["Source"].as_str().unwrap_or_default();
                out.push(Request::new(action.clone(), arn).with("events:source", &[source]));
            }
        }
        // GetCallerIdentity needs no permission.
        "sts" if op == "sts:GetCallerIdentity" => {}
        _ => out.push(Request::new(action, "*")),
    }
    out.into_iter().map(|r| r.with("aws:PrincipalArn", &[principal])).collect()
}

/// Why `request` is not allowed: each statement naming its action, and what of it did not match.
pub fn explain(policies: &[Policy], request: &Request) -> String {
    use crate::iam_policy::{action_matches, conditions_hold, resource_matches};
    let mut lines = Vec::new();
    for p in policies {
        for (n, s) in statements(&p.document).iter().enumerate() {
            if !action_matches(s, &request.action) {
                continue;
            }
            let sid = s.get("Sid").and_then(Value::as_str).map_or(format!("#{n}"), str::to_string);
            let effect = s.get("Effect").and_then(Value::as_str).unwrap_or("?");
            let resource = resource_matches(s, p.resource_policy, &request.resource);
            let condition = conditions_hold(s.get("Condition"), request);
            let why = match (resource, condition) {
                (true, true) if effect == "Deny" => "denies it".to_string(),
                (true, true) => "allows it".to_string(),
                (false, _) => {
                    format!("its Resource does not cover it: {}", s.get("Resource").cloned().unwrap_or_default())
                }
                (true, false) => {
                    format!("its Condition does not hold: {}", s.get("Condition").cloned().unwrap_or_default())
                }
            };
            lines.push(format!("  {}/{sid} ({effect}): {why}", p.name));
        }
    }
    if lines.is_empty() {
        lines.push("  no statement names the action: a statement allowing it is missing".into());
    }
    lines.join("\n")
}

/// The calls of `recorded` that `policies` do not allow, each with the explanation.
pub fn denied(recorded: &[Recorded], seen: &Seen, policies: &[Policy], principal: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut checked = std::collections::BTreeSet::new();
    for call in recorded {
        for r in requests_of(call, seen, principal) {
            if !checked.insert(r.to_string()) {
                continue;
            }
            match evaluate(policies, principal, &r) {
                Decision::Allow(_) => {}
                d => out.push(format!("{r}: {d:?}\n{}", explain(policies, &r))),
            }
        }
    }
    out
}

/// Every call the function made through `proxy` is one real IAM would allow to the function of the template
/// deployed for `env`; panics naming each call that would be denied and the statements that could have allowed it.
pub fn assert_authorized(proxy: &crate::fault_proxy::FaultProxy, env: &BTreeMap<String, String>) {
    let rendered = crate::template::Rendered::for_env(env);
    let (policies, principal) = (rendered.guard_policies(), rendered.guard_role_arn());
    let recorded = proxy.recorded();
    let denied = denied(&recorded, &proxy.seen(), &policies, &principal);
    assert!(
        denied.is_empty(),
        "{} of the function's calls would be denied by IAM under the template's policies:\n{}",
        denied.len(),
        denied.join("\n")
    );
}
