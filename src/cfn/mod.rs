//! The CloudFormation trigger: a translation from a custom-resource request to an `Intent` the reconciler
//! carries out (`crate::reconcile::lifecycle`), and from what it achieved back to exactly one response.

pub mod confirm;
pub mod properties;
pub mod request;
pub mod response;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::app::{App, Invocation};
use crate::deadline::Deadline;
use tracing::{error, info, warn};

use crate::domain::{policies, Boundary, Intent, Lifecycle, LiveRole, NodeRoleSpec};
use crate::error::Error;
use crate::iam::NodeRoleIam;
use crate::reconcile::lifecycle::{Applied, Progress};
use crate::stacks::Stacks;
use crate::state::StateStore;
use properties::{Properties, RoleIdentity};
use request::{Envelope, Kind, Request};
use response::{Response, ResponseUrl, Status};

/// Settings of the CloudFormation trigger (`WATCHDOG_MARGIN_MS`, `ALLOW_INSECURE_RESPONSE_URL`: `settings.rs`).
#[derive(Debug, Clone)]
pub struct CfnSettings {
    /// Time kept before the Lambda deadline for the response PUT.
    pub margin: Duration,
    pub allow_insecure_response_url: bool,
    /// `FUNCTION_TIMEOUT_SECONDS`: the function's configured timeout, which Lambda does not tell the function
    /// (the template passes its own `Timeout`); unset, the first deadline a request brings stands for it.
    pub function_timeout: Option<Duration>,
}

impl Default for CfnSettings {
    fn default() -> Self {
        CfnSettings { margin: Duration::from_secs(5), allow_insecure_response_url: false, function_timeout: None }
    }
}

/// Does the payload look like a CloudFormation custom-resource request?
pub fn is_request(payload: &Value) -> bool {
    payload.get("RequestType").is_some() && payload.get("ResponseURL").is_some()
}

/// Handles one request end to end: confirmed with CloudFormation, then carried out. Always answers exactly once
/// when a usable ResponseURL is present; never returns an error (a retried invocation could only answer twice).
pub async fn handle<I: NodeRoleIam, S: StateStore, C: Stacks>(
    payload: &Value,
    t: &App<I, S, C>,
    invocation: &Invocation,
) -> Status {
    let started = Instant::now();
    let deadline = invocation.deadline;
    let envelope = Envelope::from_raw(payload);
    let url = match envelope
        .response_url
        .as_deref()
        .ok_or_else(|| Error::Response("ResponseURL is missing".into()))
        .and_then(|u| ResponseUrl::parse(u, t.cfn.allow_insecure_response_url))
    {
        Ok(u) => u,
        Err(e) => {
            error!(request_id = %envelope.request_id, logical_id = %envelope.logical_id, error = %e, "cannot answer this request");
            return Status::Failed;
        }
    };
    let progress = Progress::default();
    let (result, cut_short) = work(payload, t, &invocation.function_arn, deadline, &progress).await;
    let response = answer(&envelope, result, &progress);
    let status = response.status;
    // Stop retrying the PUT a moment before Lambda would freeze the process.
    let send_deadline = deadline.less(Duration::from_millis(200));
    match t.sender.send(&url, response.to_body(&invocation.log_stream), send_deadline.instant()).await {
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
    if let Some(intent) = cut_short {
        let _ = tokio::time::timeout(send_deadline.left(), t.reconciler.after_timeout(&intent, &progress)).await;
    }
    status
}

/// The request carried out within the work budget (the deadline less the margin kept for the answer). A request
/// the budget cut short is returned too: a replacement it left half-made is removed after the answer.
async fn work<I: NodeRoleIam, S: StateStore, C: Stacks>(
    payload: &Value,
    t: &App<I, S, C>,
    invoked_function_arn: &str,
    deadline: Deadline,
    progress: &Progress,
) -> (Result<Answer, Error>, Option<Intent>) {
    // Properties are checked first: that needs no AWS call and changes nothing, and the stack author gets the
    // precise reason even when CloudFormation could not be reached.
    let parsed = Request::parse(payload).and_then(|req| intent(&req).map(|intent| (req, intent)));
    let (req, intent) = match parsed {
        Ok(both) => both,
        Err(e) => return (Err(e), None),
    };
    // CloudFormation gives up on a resource after its ServiceTimeout: shorter than this invocation's time, a
    // Create could finish after CloudFormation moved on and leave its role behind.
    let function_time = t.cfn.function_timeout.map_or(deadline.left(), |f| f.min(deadline.left()));
    let short_timeout = service_timeout_warning(&intent, function_time);
    if let (Some(why), Lifecycle::Create(_)) = (&short_timeout, &intent.action) {
        return (Err(Error::invalid(why.clone())), None);
    }
    let was_confirmed = std::sync::atomic::AtomicBool::new(false);
    let budget = deadline.work_budget(t.cfn.margin);
    // CloudFormation not answering for half the budget is an answer: what is left goes to saying so.
    let patience = budget / 2;
    let confirmation = || async {
        let me = t.identity.resolve(invoked_function_arn).await?;
        let confirmed = confirm::confirm(&req, &me, &t.stacks, patience).await?;
        was_confirmed.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(confirmed)
    };
    let applied = tokio::time::timeout(budget, async {
        // A Create is confirmed again before it answers, as soon as its role exists, beside the rest of its
        // work (which takes no longer than a round trip or two): CloudFormation may have cancelled it meanwhile.
        let creating = matches!(intent.action, Lifecycle::Create(_));
        // Boxed: the lifecycle's futures are large, and this one holds two of them.
        let mut again = Box::pin(async {
            progress.role_made().await;
            still_creating(&intent, &t.stacks, progress).await
        });
        let mut work = Box::pin(t.reconciler.apply(&intent, progress, confirmation()));
        let (mut applied, mut verdict) = tokio::select! {
            applied = &mut work => (applied, None),
            verdict = &mut again, if creating => ((&mut work).await, Some(verdict)),
        };
        if creating && verdict.is_none() && progress.is_role_made() {
            verdict = Some((&mut again).await);
        }
        // Another writer changed the item meanwhile — most often a copy of this very request, which Lambda may
        // deliver twice at once: read again and converge (the copy's work is this request's too), rather than
        // answer FAILED and have CloudFormation roll back what the copy made.
        for attempt in 1..=RACE_RETRIES {
            if !matches!(applied, Err(Error::RecordChanged(_))) {
                break;
            }
            let wait = Duration::from_millis(100 * attempt as u64 + u64::from(jitter_ms()));
            info!(attempt, wait_ms = wait.as_millis() as u64, "the state item changed meanwhile: reading again");
            tokio::time::sleep(wait).await;
            applied = Box::pin(t.reconciler.apply(&intent, progress, confirmation())).await;
        }
        match &intent.action {
            // A request never confirmed did nothing to undo.
            Lifecycle::Create(_) if !was_confirmed.load(std::sync::atomic::Ordering::Relaxed) => applied,
            Lifecycle::Create(_) => match match verdict {
                Some(v) => v,
                None => still_creating(&intent, &t.stacks, progress).await,
            } {
                Some(status) => {
                    Box::pin(t.reconciler.undo_cancelled_create(&intent, progress)).await;
                    Err(Error::conflict(format!(
                        "CloudFormation cancelled this Create while it ran (the resource is now {status}): what it made was undone"
                    )))
                }
                None => applied,
            },
            _ => applied,
        }
    })
    .await;
    match applied {
        // A rollback's Update or Delete CloudFormation could not confirm: nothing changed, and the rollback is
        // let finish. An Update still answers the role's attributes, read (never written).
        Ok(Err(Error::StandAside(why))) => {
            let answer = match Box::pin(t.reconciler.left_alone(&intent)).await {
                Ok(Some(applied)) => answer_of(applied),
                Ok(None) => Answer {
                    physical_id: intent.physical_id().unwrap_or_default().to_string(),
                    data: Default::default(),
                },
                Err(e) => {
                    warn!(error = %e, "could not read the role the request names");
                    Answer {
                        physical_id: intent.physical_id().unwrap_or_default().to_string(),
                        data: Default::default(),
                    }
                }
            };
            (
                Ok(answer.with_warning(Some(format!(
                    "nothing was changed, so that the stack's rollback can finish: {why}"
                )))),
                None,
            )
        }
        Ok(r) => (r.map(answer_of).map(|a| a.with_warning(short_timeout)), None),
        Err(_) => (Err(Error::TimedOut(format!("within {} ms", budget.as_millis()))), Some(intent)),
    }
}

/// How many times a request whose state item another writer changed meanwhile is carried out again.
const RACE_RETRIES: u32 = 3;

/// 0–99 ms, so that two copies of a request do not retry in step.
fn jitter_ms() -> u16 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    (nanos % 100) as u16
}

/// `None` while CloudFormation still creates the request's resource; otherwise the status it shows now. A
/// transient error counts as still creating: the answer then stands as it is.
async fn still_creating<C: Stacks>(intent: &Intent, stacks: &C, progress: &Progress) -> Option<String> {
    match stacks.resource(&intent.owner.stack_id, &intent.owner.logical_id).await {
        // The resource now names this request's role: a copy of the request answered first and CloudFormation
        // took that answer. Nothing was cancelled.
        Ok(Some(r)) if r.physical_id.is_some() && r.physical_id.as_deref() == progress.role().as_deref() => None,
        // Only a failed or deleted resource is a cancelled one; any other status (CREATE_COMPLETE after a copy's
        // answer, an update) is not this request's to undo.
        Ok(Some(r)) if r.status == "CREATE_FAILED" || r.status.starts_with("DELETE_") => Some(r.status),
        Ok(Some(_)) => None,
        Ok(None) => Some("gone from its stack".into()),
        Err(e) => {
            warn!(error = %e, "could not confirm again that the resource is still being created");
            None
        }
    }
}

/// The request's `ServiceTimeout`, when it is shorter than the time this invocation has (its Lambda timeout).
fn service_timeout_warning(intent: &Intent, function_time: Duration) -> Option<String> {
    let timeout = match &intent.action {
        Lifecycle::Create(p) | Lifecycle::Update { properties: p, .. } => p.service_timeout?,
        Lifecycle::Delete { .. } => return None,
    };
    let needed = function_time.as_secs_f64().ceil() as u64;
    (timeout < needed).then(|| {
        format!(
            "ServiceTimeout {timeout} s is shorter than this function's timeout ({needed} s): CloudFormation could give up while the role is being made and leave it behind; set ServiceTimeout to at least {needed} (or leave it out: 3600)"
        )
    })
}

/// A well-formed request, in the domain's terms: its properties validated (a Delete's are not read).
pub fn intent(req: &Request) -> Result<Intent, Error> {
    let action = match &req.kind {
        Kind::Create => Lifecycle::Create(Properties::parse(&req.properties, req.stack.partition)?),
        Kind::Update { physical_id, old_properties } => Lifecycle::Update {
            properties: Properties::parse(&req.properties, req.stack.partition)?,
            old: RoleIdentity::read(old_properties),
            physical_id: physical_id.clone(),
        },
        Kind::Delete { physical_id } => Lifecycle::Delete { physical_id: physical_id.clone() },
    };
    Ok(Intent { owner: req.owner.clone(), stack: req.stack.clone(), action })
}

/// What a successful request answers: the PhysicalResourceId and the resource's attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub physical_id: String,
    pub data: BTreeMap<String, String>,
}

impl Answer {
    /// The answer with `warning` added to its `Warnings`.
    fn with_warning(mut self, warning: Option<String>) -> Self {
        if let Some(w) = warning {
            warn!("{w}");
            let all = match self.data.remove("Warnings") {
                Some(before) => format!("{before} {w}"),
                None => w,
            };
            self.data.insert("Warnings".into(), all);
        }
        self
    }
}

fn answer_of(applied: Applied) -> Answer {
    match applied {
        Applied::Role { desired, role, own_profile } => role_answer(&desired, &role, own_profile.as_deref()),
        Applied::Removed { physical_id, warning } => {
            Answer { physical_id, data: warning.into_iter().map(|w| ("Warnings".to_string(), w)).collect() }
        }
    }
}

/// The node role's attributes (`Fn::GetAtt`), and the warnings a stack author should read.
fn role_answer(desired: &NodeRoleSpec, live: &LiveRole, own_profile: Option<&str>) -> Answer {
    let mut data = BTreeMap::from([
        ("Arn".to_string(), live.arn.clone()),
        ("RoleName".to_string(), live.name.to_string()),
        ("RoleId".to_string(), live.role_id.clone()),
        ("Adopted".to_string(), desired.adopted.to_string()),
    ]);
    let profile = match desired.instance_profile.as_deref() {
        Some(p) => live.in_instance_profile(p),
        // An adopted role's own profile, when there is exactly one.
        None if desired.external_profile && live.instance_profiles.len() == 1 => live.instance_profiles.first(),
        None => None,
    };
    if let Some(p) = profile {
        data.insert("InstanceProfileName".into(), p.name.clone());
        data.insert("InstanceProfileArn".into(), p.arn.clone());
    }
    if let Some(cni) = desired.cni_policy() {
        data.insert("CniPolicyArn".into(), cni.to_string());
    }
    let mut warnings = Vec::new();
    let cni = policies::cni_policy(desired.partition);
    if !desired.attach_cni && live.attached.contains(&cni) {
        warnings.push(format!(
            "{} is attached to role {} although AttachCniPolicy is false; it was left in place. AWS recommends attaching it to the role of the aws-node service account (IRSA or EKS Pod Identity) and removing it from the node role.",
            policies::CNI_POLICY, live.name
        ));
    }
    if let (Boundary::Absent, Some(b)) = (&desired.boundary, &live.boundary) {
        warnings.push(format!(
            "role {} carries the permissions boundary {b}, which this function may not remove (not in AllowedPermissionsBoundaryArns): it was left in place.",
            live.name
        ));
    }
    if desired.instance_profile.is_some() && own_profile != desired.instance_profile.as_deref() {
        info!(role = %live.name, "the instance profile existed before: reused, and never deleted by the tool");
    }
    if !warnings.is_empty() {
        for w in &warnings {
            warn!(role = %live.name, "{w}");
        }
        data.insert("Warnings".into(), warnings.join(" "));
    }
    Answer { physical_id: live.name.to_string(), data }
}

/// The one response: SUCCESS with the answer's id and attributes, or FAILED with the error as its Reason.
fn answer(envelope: &Envelope, result: Result<Answer, Error>, progress: &Progress) -> Response {
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

fn short(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(36).collect()
}
