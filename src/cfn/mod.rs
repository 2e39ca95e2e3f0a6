//! The CloudFormation trigger: a thin translation from a custom-resource request to the reconciler and back
//! to exactly one response.

pub mod confirm;
pub mod lifecycle;
pub mod properties;
pub mod request;
pub mod response;

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::deadline::Deadline;
use tracing::{error, info, warn};

use crate::error::Error;
use crate::iam::NodeRoleIam;
use crate::reconcile::Reconciler;
use crate::state::StateStore;
use confirm::{IdentitySource, Stacks};
use lifecycle::Progress;
use request::{Envelope, Request};
use response::{Response, ResponseSender, ResponseUrl, Status};

/// Settings of the CloudFormation trigger (`WATCHDOG_MARGIN_MS`, `ALLOW_INSECURE_RESPONSE_URL`: `settings.rs`).
#[derive(Debug, Clone)]
pub struct CfnSettings {
    /// Time kept before the Lambda deadline for the response PUT.
    pub margin: Duration,
    pub allow_insecure_response_url: bool,
}

impl Default for CfnSettings {
    fn default() -> Self {
        CfnSettings { margin: Duration::from_secs(5), allow_insecure_response_url: false }
    }
}

/// Does the payload look like a CloudFormation custom-resource request?
pub fn is_request(payload: &Value) -> bool {
    payload.get("RequestType").is_some() && payload.get("ResponseURL").is_some()
}

/// What the CloudFormation trigger works with, built once per process.
pub struct Trigger<'a, I, S, C> {
    pub rec: &'a Reconciler<I, S>,
    pub stacks: &'a C,
    pub identity: &'a IdentitySource,
    pub sender: &'a ResponseSender,
    pub settings: &'a CfnSettings,
}

/// Handles one request end to end: confirmed with CloudFormation, then carried out. Always answers exactly once
/// when a usable ResponseURL is present; never returns an error (a retried invocation could only answer twice).
pub async fn handle<I: NodeRoleIam, S: StateStore, C: Stacks>(
    payload: &Value,
    t: &Trigger<'_, I, S, C>,
    invoked_function_arn: &str,
    deadline: impl Into<Deadline>,
    log_stream: &str,
) -> Status {
    let started = Instant::now();
    let deadline: Deadline = deadline.into();
    let envelope = Envelope::from_raw(payload);
    let url = match envelope
        .response_url
        .as_deref()
        .ok_or_else(|| Error::Response("ResponseURL is missing".into()))
        .and_then(|u| ResponseUrl::parse(u, t.settings.allow_insecure_response_url))
    {
        Ok(u) => u,
        Err(e) => {
            error!(request_id = %envelope.request_id, logical_id = %envelope.logical_id, error = %e, "cannot answer this request");
            return Status::Failed;
        }
    };
    let progress = Progress::default();
    let (result, cut_short) = work(payload, t, invoked_function_arn, deadline, &progress).await;
    let response = answer(&envelope, result, &progress);
    let status = response.status;
    // Stop retrying the PUT a moment before Lambda would freeze the process.
    let send_deadline = deadline.less(Duration::from_millis(200));
    match t.sender.send(&url, response.to_body(log_stream), send_deadline.instant()).await {
        Ok(code) => info!(
            request_type = %envelope.request_type,
            logical_id = %envelope.logical_id,
            status = ?status,
            http_status = code,
            latency_ms = started.elapsed().as_millis() as u64,
            "responded to CloudFormation"
        ),
        Err(e) => {
            error!(request_type = %envelope.request_type, logical_id = %envelope.logical_id, error = %e, "response not delivered")
        }
    }
    // The answer is out; what time is left goes to removing a replacement the deadline cut short.
    if let Some(req) = cut_short {
        let _ = tokio::time::timeout(send_deadline.left(), lifecycle::after_timeout(&req, t.rec, &progress)).await;
    }
    status
}

/// The request carried out within the work budget (the deadline less the margin kept for the answer). A request
/// the budget cut short is returned too: a replacement it left half-made is removed after the answer.
async fn work<I: NodeRoleIam, S: StateStore, C: Stacks>(
    payload: &Value,
    t: &Trigger<'_, I, S, C>,
    invoked_function_arn: &str,
    deadline: Deadline,
    progress: &Progress,
) -> (Result<lifecycle::Outcome, Error>, Option<Request>) {
    let req = match Request::parse(payload) {
        Ok(req) => req,
        Err(e) => return (Err(e), None),
    };
    let budget = deadline.work_budget(t.settings.margin);
    match tokio::time::timeout(budget, Box::pin(confirmed_run(&req, t, invoked_function_arn, progress))).await {
        Ok(r) => (r, None),
        Err(_) => (Err(Error::TimedOut(format!("within {} ms", budget.as_millis()))), Some(req)),
    }
}

/// The one response: SUCCESS with the outcome's id and attributes, or FAILED with the error as its Reason.
fn answer(envelope: &Envelope, result: Result<lifecycle::Outcome, Error>, progress: &Progress) -> Response {
    let (status, reason, physical_resource_id, data) = match result {
        Ok(o) => (Status::Success, None, o.physical_id, o.data),
        Err(e) => {
            warn!(request_type = %envelope.request_type, logical_id = %envelope.logical_id, error = %e, "request failed");
            let id = envelope
                .physical_id
                .clone()
                .or_else(|| progress.role())
                .unwrap_or_else(|| format!("failed-{}", short(&envelope.request_id)));
            (Status::Failed, Some(e.to_string()), id, Default::default())
        }
    };
    Response {
        status,
        reason,
        physical_resource_id,
        stack_id: envelope.stack_id.clone(),
        request_id: envelope.request_id.clone(),
        logical_resource_id: envelope.logical_id.clone(),
        no_echo: false,
        data,
    }
}

/// The request is carried out only once CloudFormation confirms it.
async fn confirmed_run<I: NodeRoleIam, S: StateStore, C: Stacks>(
    req: &Request,
    t: &Trigger<'_, I, S, C>,
    invoked_function_arn: &str,
    progress: &Progress,
) -> Result<lifecycle::Outcome, Error> {
    // Properties are checked first: that needs no AWS call and changes nothing, and the stack author gets the
    // precise reason even when CloudFormation could not be reached.
    if !matches!(req.kind, request::Kind::Delete { .. }) {
        properties::Properties::parse(&req.properties, req.stack.partition)?;
    }
    let confirmation = async {
        let me = t.identity.resolve(invoked_function_arn).await?;
        confirm::confirm(req, &me, t.stacks).await
    };
    lifecycle::run(req, t.rec, progress, confirmation).await
}

fn short(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(36).collect()
}
