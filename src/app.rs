//! Dispatch: one payload in, routed by its shape to the trigger that understands it.

use std::time::SystemTime;

use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use tracing::warn;

use crate::cfn::{self, response::ResponseSender, CfnSettings};
use crate::drift::DriftSettings;
use crate::events;
use crate::iam::{NodeRoleIam, SdkIam};
use crate::metrics::Metrics;
use crate::reconcile::Reconciler;

/// Everything built once per process and borrowed by each invocation.
pub struct App<I> {
    pub reconciler: Reconciler<I>,
    pub sender: ResponseSender,
    pub cfn: CfnSettings,
    pub drift: DriftSettings,
    pub metrics: Metrics,
}

impl App<SdkIam> {
    pub async fn from_env() -> Self {
        warn_if_events_cannot_arrive();
        let client = crate::iam::build_client(&crate::iam::IamSettings::from_env(), None).await;
        App {
            reconciler: Reconciler::new(SdkIam::new(client)),
            sender: ResponseSender::new(Default::default()),
            cfn: CfnSettings::from_env(),
            drift: DriftSettings::from_env(),
            metrics: Metrics::from_env(),
        }
    }
}

/// IAM's CloudTrail events reach EventBridge only in us-east-1: elsewhere drift repair hears nothing unless
/// forwarder.yaml sends them on (and `EVENTS_FORWARDED=true` says so). Only the scheduled sweep would run.
fn warn_if_events_cannot_arrive() {
    let region = std::env::var("AWS_REGION").unwrap_or_default();
    let forwarded = std::env::var("EVENTS_FORWARDED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    if !region.is_empty() && region != "us-east-1" && !forwarded {
        warn!(
            region,
            "IAM events are delivered only in us-east-1: deploy forwarder.yaml there and set EventsForwarded=true, or drift is repaired only by the scheduled sweep"
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

impl<I: NodeRoleIam> App<I> {
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
        let (payload, ctx) = event.into_parts();
        self.dispatch(&payload, &ctx).await
    }

    pub async fn dispatch(&self, payload: &Value, ctx: &Context) -> Result<Value, lambda_runtime::Error> {
        match classify(payload) {
            Payload::CloudFormation => {
                let left = cfn::watchdog::time_left(ctx.deadline, SystemTime::now());
                let status =
                    cfn::handle(payload, &self.reconciler, &self.sender, &self.cfn, left, &ctx.env_config.log_stream)
                        .await;
                Ok(json!({ "handled": "cloudformation", "status": status }))
            }
            Payload::EventBridge => {
                let left = cfn::watchdog::time_left(ctx.deadline, SystemTime::now());
                Ok(events::handle(payload, &self.reconciler, &self.drift, &self.metrics, left).await?)
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
