//! Before anything changes, CloudFormation itself confirms the request: anyone allowed to invoke the function
//! could otherwise send a Create, Update or Delete that no stack sent.
//!
//! A request is confirmed when
//! 1. its StackId is in this function's partition, account and region, and its ServiceToken is this function
//!    (the invoked ARN; under a runtime that sends none, a function of this region);
//! 2. `DescribeStacks(StackId)` shows an operation in progress (`*_IN_PROGRESS`, not `REVIEW_IN_PROGRESS`);
//! 3. `DescribeStackResource(StackId, LogicalResourceId)` shows a custom resource (`Custom::*` or
//!    `AWS::CloudFormation::CustomResource`) in the state that request is sent in ("Resource status codes",
//!    "Custom resource request objects" in the CloudFormation User Guide):
//!    - a Create: `CREATE_IN_PROGRESS` (a forged Create cannot borrow a resource that exists);
//!    - an Update: `UPDATE_IN_PROGRESS` (forward or in a rollback), at the request's PhysicalResourceId;
//!    - a Delete: `DELETE_IN_PROGRESS` at the request's PhysicalResourceId (the stack's Delete, a rollback's,
//!      a removed resource's), or, while the stack cleans up (`UPDATE_COMPLETE_CLEANUP_IN_PROGRESS`,
//!      `UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS`), a PhysicalResourceId other than the one the resource
//!      holds now (the replaced role, or the replacement a rollback gave up).
//!
//! Transient errors are retried for the request's patience (half its work budget); a definite negative refuses
//! at once. An Update or Delete that cannot be confirmed while the stack rolls back (a status or id the rules do
//! not expect, or CloudFormation not answering about the resource) is not refused: refusing would strand the
//! rollback (`UPDATE_ROLLBACK_FAILED`), so it is answered SUCCESS with nothing changed and the reason logged
//! (`Error::StandAside`). Nothing is changed on an unconfirmed request either way.

use std::time::Duration;

use tracing::warn;

use super::request::{Kind, Request};
use crate::domain::{AccountId, Partition};
use crate::error::{Error, Result};
use crate::reconcile::lifecycle::Confirmed;
use crate::stacks::{StackResource, Stacks};

/// Who this function is: the partition, account and region it runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub partition: Partition,
    pub account: AccountId,
    pub region: String,
    /// The ARN this function was invoked under, when the runtime sent a real one (the cargo-lambda emulator
    /// does not): a request's ServiceToken must be it.
    pub function_arn: Option<String>,
}

impl Identity {
    /// From the invoked function ARN (`arn:aws:lambda:us-east-1:123456789012:function:name`), as real Lambda
    /// sends it. `None` for anything else (the cargo-lambda emulator sends the literal `function-arn`).
    pub fn from_function_arn(arn: &str) -> Option<Identity> {
        let p: Vec<&str> = arn.split(':').collect();
        if p.len() < 7 || p[0] != "arn" || p[2] != "lambda" || p[3].is_empty() {
            return None;
        }
        Some(Identity {
            partition: Partition::parse(p[1])?,
            account: AccountId::parse(p[4])?,
            region: p[3].into(),
            function_arn: Some(arn.to_string()),
        })
    }
}

/// Where this function's identity comes from: the invoked function ARN (real Lambda), else STS
/// `GetCallerIdentity` once per process (the cargo-lambda emulator), or a fixed value (tests).
#[derive(Clone)]
pub struct IdentitySource {
    #[cfg(any(test, feature = "test-util"))]
    fixed: Option<Identity>,
    sts: Option<aws_sdk_sts::Client>,
    region: String,
    cached: tokio::sync::OnceCell<Identity>,
}

impl IdentitySource {
    /// Tests only: this identity, asked of nobody.
    #[cfg(any(test, feature = "test-util"))]
    pub fn fixed(identity: Identity) -> Self {
        IdentitySource { region: identity.region.clone(), fixed: Some(identity), sts: None, cached: Default::default() }
    }

    pub fn from_sts(sts: aws_sdk_sts::Client, region: impl Into<String>) -> Self {
        IdentitySource {
            #[cfg(any(test, feature = "test-util"))]
            fixed: None,
            sts: Some(sts),
            region: region.into(),
            cached: Default::default(),
        }
    }

    pub async fn resolve(&self, invoked_function_arn: &str) -> Result<Identity> {
        #[cfg(any(test, feature = "test-util"))]
        if let Some(f) = &self.fixed {
            return Ok(f.clone());
        }
        if let Some(id) = Identity::from_function_arn(invoked_function_arn) {
            return Ok(id);
        }
        let sts =
            self.sts.as_ref().ok_or_else(|| Error::NotConfirmed("this function's own account is unknown".into()))?;
        let id = self
            .cached
            .get_or_try_init(|| async {
                let out = sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| crate::aws::error("STS", "GetCallerIdentity", e))?;
                let arn = out.arn.unwrap_or_default();
                let partition = Partition::of_arn(&arn).unwrap_or(Partition::Aws);
                let account = out
                    .account
                    .as_deref()
                    .and_then(AccountId::parse)
                    .ok_or_else(|| Error::NotConfirmed("STS GetCallerIdentity returned no account".into()))?;
                Ok::<_, Error>(Identity { partition, account, region: self.region.clone(), function_arn: None })
            })
            .await?;
        Ok(id.clone())
    }
}

/// Confirms `req` (see the module documentation) or says why not; what CloudFormation showed of the resource.
pub async fn confirm<C: Stacks>(req: &Request, me: &Identity, stacks: &C, patience: Duration) -> Result<Confirmed> {
    let stack = &req.stack;
    if stack.partition != me.partition || stack.account != me.account || stack.region != me.region {
        return Err(Error::NotConfirmed(format!(
            "stack {} is in {}/{}/{}, this function serves {}/{}/{} only",
            req.owner.stack_id,
            stack.partition,
            stack.account.as_str(),
            stack.region,
            me.partition,
            me.account.as_str(),
            me.region
        )));
    }
    if let Some(me) = me.function_arn.as_deref().filter(|me| *me != req.service_token) {
        warn!(service_token = %crate::domain::truncate_for_message(&req.service_token), function = me, "a request whose ServiceToken is another function");
        return Err(Error::NotConfirmed(
            "the request's ServiceToken is not this function: a custom resource's requests go to the function it names"
                .into(),
        ));
    }
    let token_region = req.service_token.split(':').nth(3).unwrap_or_default();
    if token_region != me.region {
        return Err(Error::NotConfirmed(format!(
            "the ServiceToken names region '{}': a custom resource must use the function in its stack's region",
            crate::domain::truncate_for_message(token_region)
        )));
    }
    let started = tokio::time::Instant::now();
    let mut backoff = Duration::from_millis(100);
    // The stack's status, once read: it says whether a request CloudFormation will not confirm is a rollback's.
    let mut stack_seen: Option<String> = None;
    loop {
        match check(req, stacks, &mut stack_seen).await {
            Err(e) if e.is_retryable() => {
                if started.elapsed() + backoff > patience {
                    return Err(unanswered(req, stack_seen.as_deref(), &e));
                }
                warn!(error = %e, "CloudFormation could not confirm the request yet: retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            other => return other,
        }
    }
}

/// The stack statuses of a rollback, in which a refused Update or Delete would strand the stack.
fn rolling_back(stack_status: &str) -> bool {
    matches!(
        stack_status,
        "ROLLBACK_IN_PROGRESS"
            | "UPDATE_ROLLBACK_IN_PROGRESS"
            | "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
            | "IMPORT_ROLLBACK_IN_PROGRESS"
    )
}

/// The stack statuses in which CloudFormation deletes what an update replaced (or what a rolled-back update made).
fn cleaning_up(stack_status: &str) -> bool {
    matches!(stack_status, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" | "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
}

/// CloudFormation did not answer within the request's patience: a rollback's Update or Delete is left alone, any
/// other request refused.
fn unanswered(req: &Request, stack_status: Option<&str>, last: &Error) -> Error {
    let why = format!("CloudFormation did not answer about the resource ({last})");
    match (stack_status, &req.kind) {
        (Some(s), Kind::Update { .. } | Kind::Delete { .. }) if rolling_back(s) => stand_aside(why),
        _ => Error::NotConfirmed(why),
    }
}

fn stand_aside(why: String) -> Error {
    warn!(reason = %why, "an Update or Delete CloudFormation cannot confirm during a rollback: answered with nothing changed");
    Error::StandAside(why)
}

/// What a request needs of its resource, or why the resource does not show it.
fn bound_to_resource(req: &Request, resource: &StackResource, stack_status: &str) -> std::result::Result<(), String> {
    let logical = &req.owner.logical_id;
    let status = crate::domain::truncate_for_message(&resource.status);
    let held = resource.physical_id.as_deref();
    match &req.kind {
        Kind::Create if resource.status == "CREATE_IN_PROGRESS" => Ok(()),
        Kind::Create => Err(format!(
            "resource {logical} is {status}: CloudFormation sends a Create only while it creates the resource"
        )),
        Kind::Update { physical_id, .. } => {
            if resource.status != "UPDATE_IN_PROGRESS" {
                Err(format!(
                    "resource {logical} is {status}: CloudFormation sends an Update only while it updates the resource"
                ))
            } else if held != Some(physical_id.as_str()) {
                Err(format!("resource {logical} does not hold the PhysicalResourceId this Update names"))
            } else {
                Ok(())
            }
        }
        Kind::Delete { physical_id } => {
            if cleaning_up(stack_status) && held != Some(physical_id.as_str()) {
                // A replaced role's cleanup: the id is no longer the resource's.
                Ok(())
            } else if resource.status != "DELETE_IN_PROGRESS" {
                Err(format!(
                    "resource {logical} is {status}: CloudFormation sends a Delete only while it deletes the resource, or while it cleans up an id the resource no longer holds"
                ))
            } else if held.is_some_and(|h| h != physical_id) {
                Err(format!("resource {logical} does not hold the PhysicalResourceId this Delete names"))
            } else {
                Ok(())
            }
        }
    }
}

async fn check<C: Stacks>(req: &Request, stacks: &C, stack_seen: &mut Option<String>) -> Result<Confirmed> {
    let (resource, status) = tokio::join!(
        stacks.resource(&req.owner.stack_id, &req.owner.logical_id),
        stacks.stack_status(&req.owner.stack_id)
    );
    let status = status?;
    if let Some(s) = &status {
        *stack_seen = Some(s.clone());
    }
    let resource = resource?;
    let logical = &req.owner.logical_id;
    let status = match status.as_deref() {
        Some(s) if s.ends_with("_IN_PROGRESS") && s != "REVIEW_IN_PROGRESS" => s,
        Some(s) => {
            warn!(stack_status = %s, "the request's stack is not in the middle of an operation");
            return Err(Error::NotConfirmed("the stack is not in the middle of an operation".into()));
        }
        None => return Err(Error::NotConfirmed("the stack does not exist".into())),
    };
    let refuse = |why: String| match &req.kind {
        Kind::Update { .. } | Kind::Delete { .. } if rolling_back(status) => stand_aside(why),
        _ => Error::NotConfirmed(why),
    };
    let Some(resource) = resource else {
        return Err(refuse(format!("the stack has no resource {logical}")));
    };
    let k = &resource.kind;
    if !(k.starts_with("Custom::") || k == "AWS::CloudFormation::CustomResource") {
        warn!(logical_id = %logical, resource_type = %k, "the request names a resource that is not a custom resource");
        return Err(Error::NotConfirmed(format!("resource {logical} of the stack is not a custom resource")));
    }
    match bound_to_resource(req, &resource, status) {
        Ok(()) => Ok(Confirmed { physical_id: resource.physical_id }),
        Err(why) => {
            warn!(logical_id = %logical, resource_status = %resource.status, stack_status = %status, reason = %why, "CloudFormation does not show the resource in the state this request is sent in");
            Err(refuse(why))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stacks::{MemoryStacks, StackResource};
    use serde_json::json;

    const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/prod/guid";
    const TOKEN: &str = "arn:aws:lambda:us-east-1:123456789012:function:guard";
    const PATIENCE: Duration = Duration::from_secs(30);

    fn me() -> Identity {
        Identity::from_function_arn(TOKEN).unwrap()
    }

    fn req(stack: &str, token: &str) -> Request {
        req_of("Create", stack, token, None)
    }

    fn req_of(kind: &str, stack: &str, token: &str, physical: Option<&str>) -> Request {
        let mut r = json!({
            "RequestType": kind, "ServiceToken": token, "ResponseURL": "https://x.s3.amazonaws.com/y",
            "StackId": stack, "RequestId": "r", "ResourceType": "Custom::EksNodeRole", "LogicalResourceId": "NodeRole",
            "ResourceProperties": {}, "OldResourceProperties": {}
        });
        if let Some(p) = physical {
            r["PhysicalResourceId"] = json!(p);
        }
        Request::parse(&r).unwrap()
    }

    /// A stack in `status` whose `NodeRole` (of type `kind`) is being created.
    fn stacks(status: &str, kind: &str) -> MemoryStacks {
        let s = MemoryStacks::default();
        s.set(STACK, status, &[("NodeRole", kind)]);
        s
    }

    /// A stack in `stack_status` whose custom resource is `resource_status`, holding `held`.
    fn showing(stack_status: &str, resource_status: &str, held: Option<&str>) -> MemoryStacks {
        let s = stacks(stack_status, "Custom::EksNodeRole");
        s.set_resource_status(STACK, "NodeRole", resource_status);
        if let Some(h) = held {
            s.set_physical_id(STACK, "NodeRole", h);
        }
        s
    }

    #[tokio::test]
    async fn a_create_of_a_resource_being_created_is_confirmed() {
        for status in ["CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"] {
            for kind in ["Custom::EksNodeRole", "AWS::CloudFormation::CustomResource"] {
                let r = confirm(&req(STACK, TOKEN), &me(), &stacks(status, kind), PATIENCE).await;
                assert_eq!(r.unwrap(), Confirmed { physical_id: None }, "{status} {kind}");
            }
        }
    }

    #[tokio::test]
    async fn requests_no_stack_sent_are_refused() {
        let cases = [
            // What the refusal says of the stack is no more than the invoker asked: not its status, not the
            // type of a resource that is not the guard's.
            (STACK, TOKEN, stacks("CREATE_COMPLETE", "Custom::EksNodeRole"), "not in the middle of an operation"),
            (STACK, TOKEN, stacks("REVIEW_IN_PROGRESS", "Custom::EksNodeRole"), "not in the middle of an operation"),
            (STACK, TOKEN, stacks("UPDATE_IN_PROGRESS", "AWS::IAM::Role"), "is not a custom resource"),
            (STACK, TOKEN, MemoryStacks::default(), "does not exist"),
            (STACK, TOKEN, stacks("UPDATE_IN_PROGRESS", "Custom::EksNodeRole").without("NodeRole"), "no resource"),
            (
                "arn:aws:cloudformation:us-east-1:210987654321:stack/prod/guid",
                TOKEN,
                stacks("CREATE_IN_PROGRESS", "Custom::X"),
                "210987654321",
            ),
            (
                "arn:aws:cloudformation:eu-west-1:123456789012:stack/prod/guid",
                TOKEN,
                stacks("CREATE_IN_PROGRESS", "Custom::X"),
                "eu-west-1",
            ),
            (
                "arn:aws-cn:cloudformation:us-east-1:123456789012:stack/prod/guid",
                TOKEN,
                stacks("CREATE_IN_PROGRESS", "Custom::X"),
                "aws-cn",
            ),
            (
                STACK,
                "arn:aws:lambda:eu-west-1:123456789012:function:guard",
                stacks("CREATE_IN_PROGRESS", "Custom::X"),
                "ServiceToken",
            ),
        ];
        for (stack, token, stacks, expected) in cases {
            let e = confirm(&req(stack, token), &me(), &stacks, PATIENCE).await.unwrap_err().to_string();
            assert!(e.starts_with("the request was not confirmed by CloudFormation"), "{e}");
            assert!(e.contains(expected), "{expected}: {e}");
            assert!(!e.contains("AWS::IAM::Role") && !e.contains("_COMPLETE"), "{e}");
        }
    }

    #[tokio::test]
    async fn the_service_token_must_be_this_function() {
        let s = stacks("CREATE_IN_PROGRESS", "Custom::EksNodeRole");
        assert!(confirm(&req(STACK, TOKEN), &me(), &s, PATIENCE).await.is_ok());
        // Another function of the same account and region: its resources are not this function's to serve.
        let other = "arn:aws:lambda:us-east-1:123456789012:function:someone-elses-provider";
        let e = confirm(&req(STACK, other), &me(), &s, PATIENCE).await.unwrap_err().to_string();
        assert!(e.contains("ServiceToken is not this function"), "{e}");
        // Under a runtime that sends no real ARN (the cargo-lambda emulator) only the region is checked.
        let emulated = Identity { function_arn: None, ..me() };
        assert!(confirm(&req(STACK, other), &emulated, &s, PATIENCE).await.is_ok());
    }

    #[tokio::test]
    async fn a_create_is_confirmed_only_while_cloudformation_creates_the_resource() {
        let create = req(STACK, TOKEN);
        for stack_status in ["CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS"] {
            // A forged Create borrowing a resource that exists already (another stack's, or this one's); never
            // left alone as a rollback's (CloudFormation sends no Create in a rollback).
            for resource_status in ["CREATE_COMPLETE", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE", "DELETE_IN_PROGRESS"] {
                let s = showing(stack_status, resource_status, Some("nodes"));
                let e = confirm(&create, &me(), &s, PATIENCE).await.unwrap_err();
                assert!(matches!(e, Error::NotConfirmed(_)), "{e}");
                assert!(e.to_string().contains(&format!("resource NodeRole is {resource_status}")), "{e}");
            }
        }
    }

    /// What CloudFormation shows when it really sends each request (the phases of `test_support::cfn_model`),
    /// and the forgeries sent in the same stack's other phases.
    #[tokio::test]
    async fn updates_and_deletes_are_bound_to_the_resource_and_its_physical_id() {
        use Verdict::*;
        #[derive(Debug, PartialEq)]
        enum Verdict {
            Confirmed,
            Refused(&'static str),
            LeftAlone,
        }
        /// (request, its id, stack, resource, the id the resource holds, verdict)
        type Case = (&'static str, &'static str, &'static str, &'static str, Option<&'static str>, Verdict);
        let cases: &[Case] = &[
            ("Update", "nodes", "UPDATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", Some("nodes"), Confirmed),
            ("Update", "nodes", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_IN_PROGRESS", Some("nodes"), Confirmed),
            ("Delete", "nodes", "DELETE_IN_PROGRESS", "DELETE_IN_PROGRESS", Some("nodes"), Confirmed),
            // A failed or cancelled Create's rollback, and a resource never answered.
            ("Delete", "made-up-ABC", "ROLLBACK_IN_PROGRESS", "DELETE_IN_PROGRESS", Some("made-up-ABC"), Confirmed),
            ("Delete", "failed-r", "DELETE_IN_PROGRESS", "DELETE_IN_PROGRESS", None, Confirmed),
            // A resource removed from the template, deleted in the update's cleanup.
            ("Delete", "nodes", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "DELETE_IN_PROGRESS", Some("nodes"), Confirmed),
            // A replaced role's cleanup; a rolled-back replacement's cleanup.
            ("Delete", "old", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE", Some("new"), Confirmed),
            (
                "Delete",
                "new",
                "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
                "UPDATE_COMPLETE",
                Some("old"),
                Confirmed,
            ),
            // Forged while the stack updates something else, or the resource is done with.
            ("Update", "nodes", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE", Some("nodes"), Refused("is UPDATE_COMPLETE")),
            (
                "Update",
                "nodes",
                "DELETE_IN_PROGRESS",
                "DELETE_IN_PROGRESS",
                Some("nodes"),
                Refused("is DELETE_IN_PROGRESS"),
            ),
            ("Update", "admin", "UPDATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", Some("nodes"), Refused("does not hold")),
            (
                "Delete",
                "nodes",
                "UPDATE_IN_PROGRESS",
                "UPDATE_IN_PROGRESS",
                Some("nodes"),
                Refused("is UPDATE_IN_PROGRESS"),
            ),
            ("Delete", "nodes", "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", None, Refused("is CREATE_IN_PROGRESS")),
            // The cleanup never deletes the id the resource holds now, and a Delete names the id being deleted.
            (
                "Delete",
                "new",
                "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
                "UPDATE_COMPLETE",
                Some("new"),
                Refused("is UPDATE_COMPLETE"),
            ),
            ("Delete", "admin", "DELETE_IN_PROGRESS", "DELETE_IN_PROGRESS", Some("nodes"), Refused("does not hold")),
            // During a rollback, what the rules do not expect is left alone (nothing changes), not refused.
            ("Update", "nodes", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_COMPLETE", Some("nodes"), LeftAlone),
            ("Update", "old", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_IN_PROGRESS", Some("new"), LeftAlone),
            ("Delete", "admin", "ROLLBACK_IN_PROGRESS", "DELETE_IN_PROGRESS", Some("nodes"), LeftAlone),
            ("Delete", "nodes", "ROLLBACK_IN_PROGRESS", "CREATE_FAILED", Some("nodes"), LeftAlone),
            (
                "Delete",
                "old",
                "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
                "UPDATE_COMPLETE",
                Some("old"),
                LeftAlone,
            ),
        ];
        for (kind, id, stack_status, resource_status, held, expected) in cases {
            let r = req_of(kind, STACK, TOKEN, Some(id));
            let got = match confirm(&r, &me(), &showing(stack_status, resource_status, *held), PATIENCE).await {
                Ok(c) => {
                    assert_eq!(c.physical_id.as_deref(), *held, "what the resource holds is reported");
                    Confirmed
                }
                Err(Error::StandAside(_)) => LeftAlone,
                Err(Error::NotConfirmed(why)) => match expected {
                    Refused(part) if why.contains(part) => Refused(part),
                    _ => panic!("{kind} {id} in {stack_status}/{resource_status}: refused: {why}"),
                },
                Err(e) => panic!("{e}"),
            };
            assert_eq!(&got, expected, "{kind} {id} in {stack_status}/{resource_status} holding {held:?}");
        }
    }

    /// CloudFormation that throttles the resource's read the first `n` times (`usize::MAX`: always).
    struct Flaky(std::sync::atomic::AtomicUsize, MemoryStacks);

    impl Stacks for Flaky {
        async fn resource(&self, stack_id: &str, logical_id: &str) -> Result<Option<StackResource>> {
            let left = self.0.load(std::sync::atomic::Ordering::SeqCst);
            if left > 0 {
                self.0.store(left - 1, std::sync::atomic::Ordering::SeqCst);
                return Err(Error::Aws {
                    service: "CloudFormation",
                    operation: "DescribeStackResource",
                    code: Some("Throttling".into()),
                    message: "Rate exceeded".into(),
                    retryable: true,
                });
            }
            self.1.resource(stack_id, logical_id).await
        }
        async fn stack_status(&self, stack_id: &str) -> Result<Option<String>> {
            self.1.stack_status(stack_id).await
        }
    }

    #[tokio::test]
    async fn transient_errors_are_retried_and_a_definite_no_refuses_at_once() {
        let flaky = Flaky(3.into(), stacks("CREATE_IN_PROGRESS", "Custom::EksNodeRole"));
        assert!(confirm(&req(STACK, TOKEN), &me(), &flaky, PATIENCE).await.is_ok(), "confirmed after three throttles");
        let done = Flaky(0.into(), stacks("UPDATE_ROLLBACK_FAILED", "Custom::EksNodeRole"));
        let started = std::time::Instant::now();
        assert!(confirm(&req(STACK, TOKEN), &me(), &done, PATIENCE).await.is_err());
        assert!(started.elapsed() < std::time::Duration::from_millis(50), "no retry of a definite answer");
    }

    /// CloudFormation throttling past the request's patience: a rollback's Delete or Update is left alone (a
    /// refusal would strand the rollback); a Create, or a request of a stack not rolling back, is refused with
    /// the reason, before the deadline.
    #[tokio::test]
    async fn cloudformation_silent_past_the_patience_leaves_a_rollback_alone_and_refuses_the_rest() {
        let patience = Duration::from_millis(400);
        let silent =
            |stack_status: &str| Flaky(usize::MAX.into(), showing(stack_status, "DELETE_IN_PROGRESS", Some("nodes")));
        let delete = req_of("Delete", STACK, TOKEN, Some("nodes"));
        let update = req_of("Update", STACK, TOKEN, Some("nodes"));
        for r in [&delete, &update] {
            let started = std::time::Instant::now();
            let e = confirm(r, &me(), &silent("UPDATE_ROLLBACK_IN_PROGRESS"), patience).await.unwrap_err();
            assert!(matches!(e, Error::StandAside(_)), "{e}");
            assert!(e.to_string().contains("Throttling"), "the reason is said: {e}");
            assert!(started.elapsed() <= patience, "within the patience: {:?}", started.elapsed());
        }
        for (r, stack_status) in [(&delete, "DELETE_IN_PROGRESS"), (&req(STACK, TOKEN), "ROLLBACK_IN_PROGRESS")] {
            let e = confirm(r, &me(), &silent(stack_status), patience).await.unwrap_err();
            assert!(matches!(e, Error::NotConfirmed(_)), "{e}");
            assert!(e.to_string().contains("did not answer"), "{e}");
        }
    }

    #[test]
    fn the_identity_comes_from_a_real_function_arn_only() {
        assert_eq!(me().account.as_str(), "123456789012");
        assert_eq!(me().region, "us-east-1");
        assert_eq!(Identity::from_function_arn("function-arn"), None);
        assert_eq!(Identity::from_function_arn("arn:aws:lambda:us-east-1:12:function:x"), None);
    }
}
