//! The one context: everything the triggers use, built here once per process from the environment read once
//! (`App`), and what each invocation brings besides its payload (`Invocation`). Dispatch: one payload in,
//! routed by its shape to the trigger that understands it, one typed answer out.

use std::time::{Duration, SystemTime};

use lambda_runtime::{Context, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use tracing::warn;

use crate::cfn::confirm::IdentitySource;
use crate::cfn::response::{ResponseSender, Status};
use crate::cfn::{self, CfnSettings};
use crate::deadline::Deadline;
use crate::domain::Partition;
use crate::eventbridge::{self, EventAnswer};
use crate::iam::{NodeRoleIam, SdkIam};
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::reconcile::repair::DriftSettings;
use crate::reconcile::Reconciler;
use crate::settings::Settings;
use crate::stacks::{SdkStacks, Stacks};
use crate::state::{DynamoStore, StateStore};

/// Everything built once per process and borrowed by each invocation: the one context both triggers receive.
#[derive(Clone)]
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

/// What one invocation brings besides its payload.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// When the invocation must have answered.
    pub deadline: Deadline,
    /// The ARN the function was invoked under (real Lambda: the function's, with its account).
    pub function_arn: String,
    /// The invocation's CloudWatch log stream (a FAILED response's Reason points there).
    pub log_stream: String,
}

impl Invocation {
    /// From the runtime's context, read at `now`.
    pub fn of(ctx: &Context, now: SystemTime) -> Self {
        Invocation {
            deadline: Deadline::from_runtime(ctx.deadline, now),
            function_arn: ctx.invoked_function_arn.clone(),
            log_stream: ctx.env_config.log_stream.clone(),
        }
    }

    /// An invocation with `left` to run, invoked under `function_arn` (tools and tests).
    pub fn with_time_left(left: Duration, function_arn: &str) -> Self {
        Invocation {
            deadline: Deadline::after(left),
            function_arn: function_arn.to_string(),
            log_stream: "local".into(),
        }
    }
}

/// What the function answers the runtime, by the trigger that handled the payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "handled", rename_all = "lowercase")]
pub enum Handled {
    /// The response itself went to the ResponseURL; this is its status.
    Cloudformation {
        status: Status,
    },
    Eventbridge(EventAnswer),
    /// Neither: ignored.
    Unknown {
        outcome: &'static str,
    },
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
    } else if eventbridge::is_event(payload) {
        Payload::EventBridge
    } else {
        Payload::Unknown
    }
}

impl<I: NodeRoleIam, S: StateStore, C: Stacks> App<I, S, C> {
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Handled, lambda_runtime::Diagnostic> {
        let (payload, ctx) = event.into_parts();
        let invocation = Invocation::of(&ctx, SystemTime::now());
        self.dispatch(&payload, &invocation).await.map_err(lambda_runtime::Diagnostic::from)
    }

    pub async fn dispatch(&self, payload: &Value, invocation: &Invocation) -> Result<Handled, crate::Error> {
        match classify(payload) {
            Payload::CloudFormation => {
                Ok(Handled::Cloudformation { status: cfn::handle(payload, self, invocation).await })
            }
            Payload::EventBridge => eventbridge::handle(payload, self, invocation).await.map(Handled::Eventbridge),
            Payload::Unknown => {
                warn!(
                    kind = kind_of(payload),
                    "payload is neither a CloudFormation request nor an EventBridge event: ignored"
                );
                Ok(Handled::Unknown { outcome: "ignored" })
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
    fn each_answer_is_typed_and_reads_as_before() {
        let cfn = serde_json::to_value(Handled::Cloudformation { status: Status::Success }).unwrap();
        assert_eq!(cfn, serde_json::json!({"handled": "cloudformation", "status": "SUCCESS"}));
        let unknown = serde_json::to_value(Handled::Unknown { outcome: "ignored" }).unwrap();
        assert_eq!(unknown, serde_json::json!({"handled": "unknown", "outcome": "ignored"}));
        let ignored = Handled::Eventbridge(EventAnswer::Ignored { outcome: "ignored", reason: "x".into() });
        assert_eq!(
            serde_json::to_value(ignored).unwrap(),
            serde_json::json!({"handled": "eventbridge", "outcome": "ignored", "reason": "x"})
        );
    }

    #[test]
    fn iam_events_arrive_in_the_partitions_iam_region() {
        assert_eq!(Partition::of_region("eu-west-1").iam_events_region(), "us-east-1");
        assert_eq!(Partition::of_region("cn-northwest-1").iam_events_region(), "cn-north-1");
        assert_eq!(Partition::of_region("us-gov-east-1").iam_events_region(), "us-gov-west-1");
    }
}
