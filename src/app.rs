//! Dispatch: one payload in, routed by its shape to the trigger that understands it. Everything the triggers
//! use is built here once per process, from the environment read once.

use std::collections::BTreeSet;
use std::time::SystemTime;

use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use tracing::{error, warn};

use crate::cfn::confirm::{IdentitySource, SdkStacks, Stacks};
use crate::cfn::{self, response::ResponseSender, CfnSettings, Trigger};
use crate::domain::adoption::{AdoptionRules, DEFAULT_ADOPTABLE, DEFAULT_ALLOWED_ADDITIONAL};
use crate::domain::{Partition, PolicyArn};
use crate::drift::DriftSettings;
use crate::events;
use crate::iam::{NodeRoleIam, SdkIam};
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::reconcile::Reconciler;
use crate::state::{DynamoStore, StateStore};

/// Everything built once per process and borrowed by each invocation.
pub struct App<I, S, C> {
    pub reconciler: Reconciler<I, S>,
    pub stacks: C,
    pub identity: IdentitySource,
    pub sender: ResponseSender,
    pub cfn: CfnSettings,
    pub drift: DriftSettings,
    pub metrics: Metrics,
    pub notifier: Notifier,
}

impl App<SdkIam, DynamoStore, SdkStacks> {
    pub async fn from_env() -> Self {
        let drift = DriftSettings::from_env();
        warn_if_events_cannot_arrive(&drift.region);
        let shared = crate::iam::shared_config(&crate::iam::IamSettings::from_env()).await;
        let table = std::env::var("STATE_TABLE_NAME").unwrap_or_default();
        if table.is_empty() {
            error!("STATE_TABLE_NAME is not set: every request will fail until it names the state table");
        }
        let partition = drift.partition();
        App {
            reconciler: Reconciler::new(
                SdkIam::new(crate::iam::client_from(&shared, None)),
                DynamoStore::new(crate::state::build_client(&shared), table),
                rules_from_env(partition, drift.own_role.clone()),
                ipv6_cni_policy_from_env(),
            ),
            stacks: SdkStacks::new(aws_sdk_cloudformation::Client::new(&shared)),
            identity: IdentitySource::from_sts(aws_sdk_sts::Client::new(&shared), drift.region.clone()),
            sender: ResponseSender::new(Default::default()),
            cfn: CfnSettings::from_env(),
            notifier: Notifier::from_env(&shared),
            drift,
            metrics: Metrics::from_env(),
        }
    }
}

/// `ADOPTABLE_ROLE_NAMES` and `ALLOWED_ADDITIONAL_POLICY_ARNS` (comma-separated; unset = the defaults).
pub fn rules_from_env(partition: Partition, own_role: Option<String>) -> AdoptionRules {
    let var = |k: &str| std::env::var(k).ok();
    let adoptable = var("ADOPTABLE_ROLE_NAMES").filter(|v| !v.trim().is_empty()).unwrap_or(DEFAULT_ADOPTABLE.into());
    let allowed: BTreeSet<PolicyArn> = match var("ALLOWED_ADDITIONAL_POLICY_ARNS") {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .filter_map(|s| {
                PolicyArn::parse(s, "ALLOWED_ADDITIONAL_POLICY_ARNS")
                    .inspect_err(|e| error!(error = %e, "ignored"))
                    .ok()
            })
            .collect(),
        None => DEFAULT_ALLOWED_ADDITIONAL.iter().map(|n| PolicyArn::aws_managed(partition, n)).collect(),
    };
    AdoptionRules::new(&adoptable, allowed, own_role)
}

/// `IPV6_CNI_POLICY_ARN`: the IPv6 CNI policy the template created (unset: the account's own, if verified).
pub fn ipv6_cni_policy_from_env() -> Option<PolicyArn> {
    let v = std::env::var("IPV6_CNI_POLICY_ARN").ok().filter(|v| !v.is_empty())?;
    PolicyArn::parse(&v, "IPV6_CNI_POLICY_ARN").inspect_err(|e| error!(error = %e, "ignored")).ok()
}

/// IAM's CloudTrail events reach EventBridge only in the partition's IAM region: elsewhere drift repair hears
/// nothing unless forwarder.yaml sends them on (and `EVENTS_FORWARDED=true` says so).
fn warn_if_events_cannot_arrive(region: &str) {
    let forwarded = std::env::var("EVENTS_FORWARDED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    let home = Partition::of_region(region).iam_events_region();
    if !region.is_empty() && region != home && !forwarded {
        warn!(
            region,
            events_region = home,
            "IAM events are delivered only in {home}: deploy forwarder.yaml there and set EventsForwarded=true, or drift is repaired only by the scheduled sweep"
        );
    }
}

/// The shapes of payload this function understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    CloudFormation,
    EventBridge,
    Unknown,
}

pub fn classify(payload: &Value) -> Payload {
    if cfn::is_request(payload) {
        Payload::CloudFormation
    } else if events::is_event(payload) {
        Payload::EventBridge
    } else {
        Payload::Unknown
    }
}

impl<I: NodeRoleIam, S: StateStore, C: Stacks> App<I, S, C> {
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
        let (payload, ctx) = event.into_parts();
        self.dispatch(&payload, &ctx).await
    }

    pub async fn dispatch(&self, payload: &Value, ctx: &Context) -> Result<Value, lambda_runtime::Error> {
        let left = cfn::watchdog::time_left(ctx.deadline, SystemTime::now());
        match classify(payload) {
            Payload::CloudFormation => {
                let trigger = Trigger {
                    rec: &self.reconciler,
                    stacks: &self.stacks,
                    identity: &self.identity,
                    sender: &self.sender,
                    settings: &self.cfn,
                };
                let status =
                    cfn::handle(payload, &trigger, &ctx.invoked_function_arn, left, &ctx.env_config.log_stream).await;
                Ok(json!({ "handled": "cloudformation", "status": status }))
            }
            Payload::EventBridge => {
                Ok(events::handle(payload, &self.reconciler, &self.drift, &self.metrics, &self.notifier, left).await?)
            }
            Payload::Unknown => {
                warn!(
                    kind = kind_of(payload),
                    "payload is neither a CloudFormation request nor an EventBridge event: ignored"
                );
                Ok(json!({ "handled": "unknown", "outcome": "ignored" }))
            }
        }
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "object without RequestType/ResponseURL or detail-type/source",
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Null => "null",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_events_arrive_in_the_partitions_iam_region() {
        assert_eq!(Partition::of_region("eu-west-1").iam_events_region(), "us-east-1");
        assert_eq!(Partition::of_region("cn-northwest-1").iam_events_region(), "cn-north-1");
        assert_eq!(Partition::of_region("us-gov-east-1").iam_events_region(), "us-gov-west-1");
    }
}
