//! The EventBridge trigger: a CloudTrail event (or the sweep schedule) routed to drift repair of the role it
//! names, and its notifications. Never crashes on any input; returns an error to the runtime only when a retry could help.

pub mod cloudtrail;

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;
use tracing::{debug, error, info};

use crate::app::{App, Invocation};
use crate::domain::repair::Change;
use crate::domain::{policies, PolicyArn, RoleName};
use crate::error::Error;
use crate::iam::NodeRoleIam;
use crate::metrics::Metrics;
use crate::notify::{self, Cause};
use crate::reconcile::repair::{DriftSettings, RepairReport};
use crate::reconcile::Reconciler;
use crate::state::StateStore;
use cloudtrail::CloudTrailDetail;

/// What a handled call names, and so what is re-checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `roleName`: that role.
    Role,
    /// `instanceProfileName`: the role the tool named the profile after.
    InstanceProfile,
    /// `policyArn`: every managed role, when it is the IPv6 CNI policy.
    Policy,
}

/// The IAM calls whose events the rule delivers and the trigger acts on — the one list: routing reads it, and
/// `tests/template.rs` holds the template's and the forwarder's rules to it.
pub const HANDLED: &[(&str, Target)] = &[
    ("DetachRolePolicy", Target::Role),
    ("UpdateAssumeRolePolicy", Target::Role),
    ("PutRolePermissionsBoundary", Target::Role),
    ("DeleteRolePermissionsBoundary", Target::Role),
    ("RemoveRoleFromInstanceProfile", Target::Role),
    ("DeleteInstanceProfile", Target::InstanceProfile),
    ("CreatePolicyVersion", Target::Policy),
    ("SetDefaultPolicyVersion", Target::Policy),
    ("DeletePolicy", Target::Policy),
    // Confirmed by reading: the role must really be gone and have had a state item.
    ("DeleteRole", Target::Role),
];

/// The names of the handled calls, in the rule's order.
pub fn handled_event_names() -> Vec<&'static str> {
    HANDLED.iter().map(|(name, _)| *name).collect()
}

pub fn is_event(payload: &Value) -> bool {
    payload.get("detail-type").is_some() && payload.get("source").is_some()
}

/// What an event asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// Re-check this role, which the call changed so.
    Role(String, Change),
    /// Re-check the role the tool named this deleted instance profile after.
    InstanceProfile(String),
    /// The IPv6 CNI policy changed: every managed role that uses it is re-checked.
    CniPolicy,
    Sweep,
    Ignore(String),
}

/// Pure: which work an event calls for.
pub fn route(detail_type: &str, source: &str, detail: &CloudTrailDetail, settings: &DriftSettings) -> Route {
    if source == "aws.events" && detail_type == "Scheduled Event" {
        return Route::Sweep;
    }
    if detail_type != "AWS API Call via CloudTrail" {
        return Route::Ignore(format!(
            "detail-type '{}' is not handled",
            crate::domain::truncate_for_message(detail_type)
        ));
    }
    if detail.event_source.as_deref().is_some_and(|s| s != "iam.amazonaws.com") {
        return Route::Ignore("not an IAM call".into());
    }
    if let Some(code) = &detail.error_code {
        return Route::Ignore(format!("the call failed ({code}), so it changed nothing"));
    }
    if detail.made_by(settings.own_role.as_deref(), settings.function_name.as_deref()) {
        return Route::Ignore("the tool's own call".into());
    }
    let name = detail.event_name.as_deref().unwrap_or("");
    let role = || detail.param("roleName").map(str::to_string);
    let missing = || Route::Ignore(format!("{name} without the expected request parameters"));
    let Some((_, target)) = HANDLED.iter().find(|(n, _)| *n == name) else {
        return Route::Ignore(format!(
            "{} is not a call that can break a node role",
            crate::domain::truncate_for_message(name)
        ));
    };
    match target {
        Target::Role => role().map(|r| Route::Role(r, change(name, detail))).unwrap_or_else(missing),
        Target::InstanceProfile => {
            detail.param("instanceProfileName").map(|p| Route::InstanceProfile(p.to_string())).unwrap_or_else(missing)
        }
        Target::Policy => match detail.param("policyArn").map(|a| PolicyArn::parse(a, "policyArn")) {
            Some(Ok(arn)) if policies::is_ipv6_cni(&arn, settings.ipv6_cni_policy.as_ref()) => Route::CniPolicy,
            Some(_) => Route::Ignore("not the IPv6 CNI policy".into()),
            None => missing(),
        },
    }
}

/// What a role's call changed, from its request parameters (`Change::Unknown` when they do not say).
fn change(name: &str, detail: &CloudTrailDetail) -> Change {
    let policy = |key: &str| detail.param(key).and_then(|a| PolicyArn::parse(a, key).ok());
    let known = match name {
        "DetachRolePolicy" => policy("policyArn").map(Change::Detached),
        "UpdateAssumeRolePolicy" => {
            detail.param("policyDocument").and_then(policies::parse_document).map(Change::Trust)
        }
        "PutRolePermissionsBoundary" => policy("permissionsBoundary").map(Change::Boundary),
        "DeleteRolePermissionsBoundary" => Some(Change::BoundaryRemoved),
        "RemoveRoleFromInstanceProfile" => detail.param("instanceProfileName").map(|p| Change::LeftProfile(p.into())),
        "DeleteRole" => Some(Change::RoleDeleted),
        _ => None,
    };
    known.unwrap_or(Change::Unknown)
}

/// What the EventBridge trigger answers the runtime.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EventAnswer {
    /// The event names nothing to check.
    Ignored { outcome: &'static str, reason: String },
    /// One decision per role checked.
    Decided { outcomes: Vec<Decision> },
}

/// One role's decision, as answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub role: String,
    pub outcome: &'static str,
    pub drift: Vec<String>,
    pub reason: String,
}

impl From<&RepairReport> for Decision {
    fn from(r: &RepairReport) -> Self {
        Decision {
            role: r.role.clone(),
            outcome: r.outcome.label(),
            drift: r.drift.clone(),
            reason: r.outcome.reason().to_string(),
        }
    }
}

/// Handles one EventBridge event: routes it, repairs, logs one record per decision and publishes one
/// notification per decision worth one.
pub async fn handle<I: NodeRoleIam, S: StateStore, C: crate::stacks::Stacks>(
    payload: &Value,
    app: &App<I, S, C>,
    invocation: &Invocation,
) -> Result<EventAnswer, Error> {
    let (core, settings, metrics) = (&app.reconciler, &app.drift, &app.metrics);
    let started = Instant::now();
    let lambda = invocation.deadline;
    // Leave a little time to publish, log and return before the Lambda deadline.
    let deadline = lambda.less(Duration::from_secs(2));
    let text = |k: &str| payload.get(k).and_then(Value::as_str).unwrap_or("");
    let (event_id, detail_type, source) = (text("id"), text("detail-type"), text("source"));
    let detail = CloudTrailDetail::parse(payload.get("detail").unwrap_or(&Value::Null));
    let event_id = detail.event_id.as_deref().filter(|_| event_id.is_empty()).unwrap_or(event_id).to_string();
    let actor = detail.actor();
    let event_name = detail.event_name.clone().unwrap_or_default();

    let routed = route(detail_type, source, &detail, settings);
    let sweeping = matches!(routed, Route::CniPolicy | Route::Sweep);
    let cause = Cause {
        // CloudTrail's own id: the one to look the call up by.
        event_id: detail.event_id.clone().unwrap_or_else(|| event_id.clone()),
        event_name: event_name.clone(),
        actor_arn: actor.clone(),
        event_time: detail.event_time.clone(),
        policy_arn: detail.param("policyArn").map(str::to_string),
        scheduled: matches!(routed, Route::Sweep),
    };
    let reports: Vec<RepairReport> = match routed {
        Route::Ignore(why) => {
            debug!(event_id = %event_id, actor = %actor, event_name = %event_name, reason = %why, "event ignored");
            return Ok(EventAnswer::Ignored { outcome: "ignored", reason: why });
        }
        Route::Role(name, change) => vec![repair_named(core, &name, &change, settings, metrics, deadline).await],
        // The tool names the profiles it creates after their role. (An adopted role's differently named profile
        // is put back by the scheduled sweep: a sweep per deleted profile in the account would cost too much.)
        Route::InstanceProfile(profile) => {
            let change = Change::LeftProfile(profile.clone());
            vec![repair_named(core, &profile, &change, settings, metrics, deadline).await]
        }
        Route::CniPolicy | Route::Sweep => core.sweep(&app.stacks, settings, metrics, deadline).await?,
    };
    let mut notes = Vec::new();
    for r in &reports {
        log_decision(&event_id, &actor, &event_name, r, started);
        notes.extend(notify::notification(r, &cause, started.elapsed(), settings.partition(), core.clock().now()));
    }
    app.notifier.publish(&notes, lambda.less(Duration::from_millis(300))).await;
    let retry = reports.iter().find(|r| r.outcome.is_retryable()).map(|r| r.outcome.reason().to_string());
    if let Some(e) = retry.filter(|_| !sweeping) {
        // Throttling or a 5xx: EventBridge/Lambda will deliver the event again. (A sweep is not run again for one
        // role: the next sweep is its retry.)
        return Err(Error::RepairIncomplete(e));
    }
    Ok(EventAnswer::Decided { outcomes: reports.iter().map(Decision::from).collect() })
}

/// One structured record per decision: event, actor, role, what drifted, mode, outcome, latency.
fn log_decision(event_id: &str, actor: &str, event_name: &str, r: &RepairReport, started: Instant) {
    let mode = r.mode.map(|m| m.as_str()).unwrap_or("-");
    let reason = r.outcome.reason();
    let latency_ms = started.elapsed().as_millis() as u64;
    let outcome = r.outcome.label();
    if r.outcome.is_error() {
        error!(event_id, actor, event_name, role = %r.role, drift = ?r.drift, mode, outcome, reason, latency_ms, "decision");
    } else {
        info!(event_id, actor, event_name, role = %r.role, drift = ?r.drift, mode, outcome, reason, latency_ms, "decision");
    }
}

async fn repair_named<I: NodeRoleIam, S: StateStore>(
    core: &Reconciler<I, S>,
    name: &str,
    change: &Change,
    settings: &DriftSettings,
    metrics: &Metrics,
    deadline: crate::deadline::Deadline,
) -> RepairReport {
    match RoleName::parse(name) {
        Ok(role) => core.repair(&role, change, settings, metrics, deadline).await,
        Err(_) => RepairReport::new(name, crate::reconcile::repair::Outcome::Ignored("not a valid role name".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn detail(v: Value) -> CloudTrailDetail {
        CloudTrailDetail::parse(&v)
    }

    const CT: &str = "AWS API Call via CloudTrail";

    fn s() -> DriftSettings {
        DriftSettings {
            own_role: Some("guard-role".into()),
            function_name: Some("guard".into()),
            ..DriftSettings::default()
        }
    }

    #[test]
    fn role_events_route_to_their_role() {
        for name in [
            "DetachRolePolicy",
            "UpdateAssumeRolePolicy",
            "PutRolePermissionsBoundary",
            "DeleteRolePermissionsBoundary",
            "RemoveRoleFromInstanceProfile",
        ] {
            let d = detail(
                json!({"eventSource": "iam.amazonaws.com", "eventName": name, "requestParameters": {"roleName": "nodes"}}),
            );
            assert!(matches!(route(CT, "aws.iam", &d, &s()), Route::Role(r, _) if r == "nodes"), "{name}");
        }
    }

    #[test]
    fn each_role_event_says_what_its_call_changed() {
        let worker = PolicyArn::parse("arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy", "x").unwrap();
        let read_only = PolicyArn::parse("arn:aws:iam::aws:policy/ReadOnlyAccess", "x").unwrap();
        let cases = [
            ("drift-detach-role-policy.json", Change::Detached(worker)),
            ("drift-put-role-permissions-boundary.json", Change::Boundary(read_only)),
            ("drift-delete-role-permissions-boundary.json", Change::BoundaryRemoved),
            ("drift-remove-role-from-instance-profile.json", Change::LeftProfile("demo-eks-node-role".into())),
            ("drift-delete-role.json", Change::RoleDeleted),
        ];
        let event = |file: &str| -> Value {
            let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
        };
        let routed = |v: &Value| route(CT, "aws.iam", &CloudTrailDetail::parse(&v["detail"]), &s());
        for (file, want) in cases {
            assert_eq!(routed(&event(file)), Route::Role("demo-eks-node-role".into(), want), "{file}");
        }
        let trust = event("drift-update-assume-role-policy.json");
        let Route::Role(_, Change::Trust(doc)) = routed(&trust) else { panic!("{trust}") };
        assert_eq!(doc["Statement"][0]["Principal"]["Service"], "ssm.amazonaws.com");
        // Parameters it cannot read name no change to wait for; the role is still re-checked.
        let odd =
            detail(json!({"eventName": "DetachRolePolicy", "requestParameters": {"roleName": "n", "policyArn": 7}}));
        assert_eq!(route(CT, "aws.iam", &odd, &s()), Route::Role("n".into(), Change::Unknown));
        let odd = detail(
            json!({"eventName": "UpdateAssumeRolePolicy", "requestParameters": {"roleName": "n", "policyDocument": "{"}}),
        );
        assert_eq!(route(CT, "aws.iam", &odd, &s()), Route::Role("n".into(), Change::Unknown));
    }

    #[test]
    fn profile_policy_and_delete_events_route_accordingly() {
        let d = detail(
            json!({"eventName": "DeleteInstanceProfile", "requestParameters": {"instanceProfileName": "nodes"}}),
        );
        assert_eq!(route(CT, "aws.iam", &d, &s()), Route::InstanceProfile("nodes".into()));
        for name in ["CreatePolicyVersion", "SetDefaultPolicyVersion", "DeletePolicy"] {
            let d = detail(
                json!({"eventName": name, "requestParameters": {"policyArn": "arn:aws:iam::123456789012:policy/AmazonEKS_CNI_IPv6_Policy"}}),
            );
            assert_eq!(route(CT, "aws.iam", &d, &s()), Route::CniPolicy);
            let other = detail(
                json!({"eventName": name, "requestParameters": {"policyArn": "arn:aws:iam::123456789012:policy/Other"}}),
            );
            assert!(matches!(route(CT, "aws.iam", &other, &s()), Route::Ignore(_)));
        }
        let d = detail(json!({"eventName": "DeleteRole", "requestParameters": {"roleName": "nodes"}}));
        assert_eq!(route(CT, "aws.iam", &d, &s()), Route::Role("nodes".into(), Change::RoleDeleted));
        assert_eq!(route("Scheduled Event", "aws.events", &CloudTrailDetail::default(), &s()), Route::Sweep);
    }

    #[test]
    fn changes_to_the_installations_own_ipv6_cni_policy_start_a_sweep_and_look_alikes_do_not() {
        let own = "arn:aws:iam::123456789012:policy/guard-AmazonEKS_CNI_IPv6_Policy";
        let settings = DriftSettings { ipv6_cni_policy: Some(PolicyArn::parse(own, "x").unwrap()), ..s() };
        let call =
            |arn: &str| detail(json!({"eventName": "CreatePolicyVersion", "requestParameters": {"policyArn": arn}}));
        assert_eq!(route(CT, "aws.iam", &call(own), &settings), Route::CniPolicy);
        // Without the setting, the installation's policy is just another policy.
        assert!(matches!(route(CT, "aws.iam", &call(own), &s()), Route::Ignore(_)));
        for look_alike in [
            "arn:aws:iam::123456789012:policy/guard-AmazonEKS_CNI_IPv6_Policy-copy",
            "arn:aws:iam::210987654321:policy/guard-AmazonEKS_CNI_IPv6_Policy",
            "arn:aws:iam::123456789012:policy/other/guard-AmazonEKS_CNI_IPv6_Policy",
        ] {
            assert!(matches!(route(CT, "aws.iam", &call(look_alike), &settings), Route::Ignore(_)), "{look_alike}");
        }
    }

    #[test]
    fn failed_calls_own_calls_other_events_and_odd_shapes_are_ignored() {
        let failed = detail(
            json!({"eventName": "DetachRolePolicy", "errorCode": "AccessDenied", "requestParameters": {"roleName": "n"}}),
        );
        assert_eq!(
            route(CT, "aws.iam", &failed, &s()),
            Route::Ignore("the call failed (AccessDenied), so it changed nothing".into())
        );
        let own = detail(json!({"eventName": "DetachRolePolicy", "requestParameters": {"roleName": "n"},
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/guard-role/guard"}}));
        assert_eq!(route(CT, "aws.iam", &own, &s()), Route::Ignore("the tool's own call".into()));
        let tag = detail(json!({"eventName": "TagRole", "requestParameters": {"roleName": "n"}}));
        assert!(matches!(route(CT, "aws.iam", &tag, &s()), Route::Ignore(_)));
        let no_params = detail(json!({"eventName": "DetachRolePolicy"}));
        assert!(matches!(route(CT, "aws.iam", &no_params, &s()), Route::Ignore(_)));
        let ec2 = detail(
            json!({"eventSource": "ec2.amazonaws.com", "eventName": "DetachRolePolicy", "requestParameters": {"roleName": "n"}}),
        );
        assert!(matches!(route(CT, "aws.iam", &ec2, &s()), Route::Ignore(_)));
        assert!(matches!(route("Object Created", "aws.s3", &CloudTrailDetail::default(), &s()), Route::Ignore(_)));
        assert!(matches!(route("Scheduled Event", "aws.iam", &CloudTrailDetail::default(), &s()), Route::Ignore(_)));
    }
}
