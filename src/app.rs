//! Dispatch: one payload in, routed by its shape to the trigger that understands it. Everything the triggers
//! use is built here once per process, from the environment read once.

use std::time::SystemTime;

use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use tracing::warn;

use crate::cfn::confirm::IdentitySource;
use crate::cfn::{self, response::ResponseSender, CfnSettings, Trigger};
use crate::deadline::Deadline;
use crate::domain::Partition;
use crate::events;
use crate::iam::{NodeRoleIam, SdkIam};
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::reconcile::repair::DriftSettings;
use crate::reconcile::Reconciler;
use crate::settings::Settings;
use crate::stacks::{SdkStacks, Stacks};
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
    /// Every client, built once from the settings read once.
    pub async fn new(settings: Settings) -> Self {
        warn_if_events_cannot_arrive(&settings.drift.region, settings.events_forwarded);
        let shared = crate::iam::shared_config(&settings.iam).await;
        App {
            reconciler: Reconciler::new(
                SdkIam::new(crate::iam::client_from(&shared, None)),
                DynamoStore::new(crate::state::build_client(&shared), settings.state_table.clone()),
                settings.adoption.clone(),
                settings.ipv6_cni_policy.clone(),
            ),
            stacks: SdkStacks::new(aws_sdk_cloudformation::Client::new(&shared)),
            identity: IdentitySource::from_sts(aws_sdk_sts::Client::new(&shared), settings.drift.region.clone()),
            sender: ResponseSender::new(Default::default()),
            notifier: Notifier::event_bridge(&shared, settings.notify_bus.as_deref()),
            metrics: Metrics::new(&settings.metrics_namespace),
            cfn: settings.cfn,
            drift: settings.drift,
        }
    }
}

/// IAM's CloudTrail events reach EventBridge only in the partition's IAM region: elsewhere drift repair hears
/// nothing unless forwarder.yaml sends them on (and `EVENTS_FORWARDED=true` says so).
fn warn_if_events_cannot_arrive(region: &str, forwarded: bool) {
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
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Diagnostic> {
        let (payload, ctx) = event.into_parts();
        self.dispatch(&payload, &ctx).await.map_err(lambda_runtime::Diagnostic::from)
    }

    pub async fn dispatch(&self, payload: &Value, ctx: &Context) -> Result<Value, crate::Error> {
        let left = Deadline::from_runtime(ctx.deadline, SystemTime::now());
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
                events::handle(payload, &self.reconciler, &self.drift, &self.metrics, &self.notifier, left).await
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
