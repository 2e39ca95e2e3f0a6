//! Before anything changes, CloudFormation itself confirms the request: anyone allowed to invoke the function
//! could otherwise send a Create, Update or Delete that no stack sent.
//!
//! A request is confirmed when
//! 1. its StackId is in this function's partition, account and region, and its ServiceToken in that region;
//! 2. `DescribeStackResource(StackId, LogicalResourceId)` shows a custom resource (`Custom::*` or
//!    `AWS::CloudFormation::CustomResource`), and for a Create, one CloudFormation is creating
//!    (`CREATE_IN_PROGRESS`): a forged Create cannot borrow a resource that already exists;
//! 3. `DescribeStacks(StackId)` shows an operation in progress (`*_IN_PROGRESS`, not `REVIEW_IN_PROGRESS`).
//!
//! Update and Delete are not bound to the resource's status and physical ids are not compared: a rollback's
//! Update and a replaced role's cleanup Delete arrive while the resource shows another status and id, and moto
//! reports neither faithfully, so no such rule could be tested. Transient errors are retried until the deadline's work budget
//! runs out; a definite negative refuses at once. The residual risk (a forged Update or Delete while the owner
//! stack runs an operation) is named in docs/threat-model.md.

use std::time::Duration;

use tracing::warn;

use super::request::{Kind, Request};
use crate::domain::{AccountId, Partition};
use crate::error::{Error, Result};
use crate::reconcile::lifecycle::Confirmed;
use crate::stacks::Stacks;

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
pub async fn confirm<C: Stacks>(req: &Request, me: &Identity, stacks: &C) -> Result<Confirmed> {
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
    let mut backoff = Duration::from_millis(100);
    loop {
        match check(req, stacks).await {
            Err(e) if e.is_retryable() => {
                warn!(error = %e, "CloudFormation could not confirm the request yet: retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            other => return other,
        }
    }
}

async fn check<C: Stacks>(req: &Request, stacks: &C) -> Result<Confirmed> {
    let (resource, status) = tokio::join!(
        stacks.resource(&req.owner.stack_id, &req.owner.logical_id),
        stacks.stack_status(&req.owner.stack_id)
    );
    let (resource, status) = (resource?, status?);
    let logical = &req.owner.logical_id;
    let Some(resource) = resource else {
        return Err(Error::NotConfirmed(format!("the stack has no resource {logical}")));
    };
    let k = &resource.kind;
    if !(k.starts_with("Custom::") || k == "AWS::CloudFormation::CustomResource") {
        warn!(logical_id = %logical, resource_type = %k, "the request names a resource that is not a custom resource");
        return Err(Error::NotConfirmed(format!("resource {logical} of the stack is not a custom resource")));
    }
    if matches!(req.kind, Kind::Create) && resource.status != "CREATE_IN_PROGRESS" {
        return Err(Error::NotConfirmed(format!(
            "resource {logical} is {}: CloudFormation sends a Create only while it creates the resource",
            crate::domain::truncate_for_message(&resource.status)
        )));
    }
    match status.as_deref() {
        Some(s) if s.ends_with("_IN_PROGRESS") && s != "REVIEW_IN_PROGRESS" => {
            Ok(Confirmed { physical_id: resource.physical_id })
        }
        Some(s) => {
            warn!(stack_status = %s, "the request's stack is not in the middle of an operation");
            Err(Error::NotConfirmed("the stack is not in the middle of an operation".into()))
        }
        None => Err(Error::NotConfirmed("the stack does not exist".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stacks::{MemoryStacks, StackResource};
    use serde_json::json;

    const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/prod/guid";

    fn me() -> Identity {
        Identity::from_function_arn("arn:aws:lambda:us-east-1:123456789012:function:guard").unwrap()
    }

    fn req(stack: &str, token: &str) -> Request {
        req_of("Delete", stack, token)
    }

    fn req_of(kind: &str, stack: &str, token: &str) -> Request {
        Request::parse(&json!({
            "RequestType": kind, "ServiceToken": token, "ResponseURL": "https://x.s3.amazonaws.com/y",
            "StackId": stack, "RequestId": "r", "ResourceType": "Custom::EksNodeRole", "LogicalResourceId": "NodeRole",
            "PhysicalResourceId": "p", "ResourceProperties": {}, "OldResourceProperties": {}
        }))
        .unwrap()
    }

    fn stacks(status: &str, kind: &str) -> MemoryStacks {
        let s = MemoryStacks::default();
        s.set(STACK, status, &[("NodeRole", kind)]);
        s
    }

    const TOKEN: &str = "arn:aws:lambda:us-east-1:123456789012:function:guard";

    #[tokio::test]
    async fn a_request_of_a_stack_in_progress_is_confirmed() {
        for status in ["CREATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "DELETE_IN_PROGRESS"] {
            for kind in ["Custom::EksNodeRole", "AWS::CloudFormation::CustomResource"] {
                assert!(confirm(&req(STACK, TOKEN), &me(), &stacks(status, kind)).await.is_ok(), "{status} {kind}");
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
            (STACK, TOKEN, MemoryStacks::default(), "no resource"),
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
            let e = confirm(&req(stack, token), &me(), &stacks).await.unwrap_err().to_string();
            assert!(e.starts_with("the request was not confirmed by CloudFormation"), "{e}");
            assert!(e.contains(expected), "{expected}: {e}");
            assert!(!e.contains("AWS::IAM::Role") && !e.contains("_COMPLETE"), "{e}");
        }
    }

    #[tokio::test]
    async fn the_service_token_must_be_this_function() {
        let s = stacks("CREATE_IN_PROGRESS", "Custom::EksNodeRole");
        assert!(confirm(&req(STACK, TOKEN), &me(), &s).await.is_ok());
        // Another function of the same account and region: its resources are not this function's to serve.
        let other = "arn:aws:lambda:us-east-1:123456789012:function:someone-elses-provider";
        let e = confirm(&req(STACK, other), &me(), &s).await.unwrap_err().to_string();
        assert!(e.contains("ServiceToken is not this function"), "{e}");
        // Under a runtime that sends no real ARN (the cargo-lambda emulator) only the region is checked.
        let emulated = Identity { function_arn: None, ..me() };
        assert!(confirm(&req(STACK, other), &emulated, &s).await.is_ok());
    }

    #[tokio::test]
    async fn a_create_is_confirmed_only_while_cloudformation_creates_the_resource() {
        let create = req_of("Create", STACK, TOKEN);
        for stack_status in ["CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"] {
            let s = stacks(stack_status, "Custom::EksNodeRole");
            assert!(confirm(&create, &me(), &s).await.is_ok(), "{stack_status}");
            // A forged Create borrowing a resource that exists already (another stack's, or this one's).
            for resource_status in ["CREATE_COMPLETE", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE", "DELETE_IN_PROGRESS"] {
                s.set_resource_status(STACK, "NodeRole", resource_status);
                let e = confirm(&create, &me(), &s).await.unwrap_err().to_string();
                assert!(e.contains(&format!("resource NodeRole is {resource_status}")), "{e}");
            }
            // Update and Delete are not bound to the resource's status (a rollback's and a cleanup's are not).
            for kind in ["Update", "Delete"] {
                let r = req_of(kind, STACK, TOKEN);
                assert!(confirm(&r, &me(), &s).await.is_ok(), "{kind}");
            }
        }
    }

    /// CloudFormation that throttles the first `n` calls.
    struct Flaky(std::sync::atomic::AtomicUsize, MemoryStacks);

    impl Stacks for Flaky {
        async fn resource(&self, stack_id: &str, logical_id: &str) -> Result<Option<StackResource>> {
            if self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) > 0 {
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
        assert!(confirm(&req(STACK, TOKEN), &me(), &flaky).await.is_ok(), "confirmed after three throttles");
        let done = Flaky(0.into(), stacks("UPDATE_ROLLBACK_FAILED", "Custom::EksNodeRole"));
        let started = std::time::Instant::now();
        assert!(confirm(&req(STACK, TOKEN), &me(), &done).await.is_err());
        assert!(started.elapsed() < std::time::Duration::from_millis(50), "no retry of a definite answer");
    }

    #[test]
    fn the_identity_comes_from_a_real_function_arn_only() {
        assert_eq!(me().account.as_str(), "123456789012");
        assert_eq!(me().region, "us-east-1");
        assert_eq!(Identity::from_function_arn("function-arn"), None);
        assert_eq!(Identity::from_function_arn("arn:aws:lambda:us-east-1:12:function:x"), None);
    }
}
