//! CloudFormation through the SDK.

use super::{StackResource, Stacks};
use crate::error::{Error, Result};

#[derive(Clone)]
pub struct SdkStacks {
    client: aws_sdk_cloudformation::Client,
}

impl SdkStacks {
    pub fn new(client: aws_sdk_cloudformation::Client) -> Self {
        SdkStacks { client }
    }
}

/// CloudFormation answers a stack or resource that does not exist with a ValidationError: a definite no.
fn absent_if_validation<T>(r: Result<Option<T>>) -> Result<Option<T>> {
    match r {
        Err(Error::Aws { code: Some(c), .. }) if c == "ValidationError" => Ok(None),
        other => other,
    }
}

impl Stacks for SdkStacks {
    async fn resource(&self, stack_id: &str, logical_id: &str) -> Result<Option<StackResource>> {
        absent_if_validation(
            self.client
                .describe_stack_resource()
                .stack_name(stack_id)
                .logical_resource_id(logical_id)
                .send()
                .await
                .map(|o| {
                    o.stack_resource_detail.and_then(|d| {
                        let status = d.resource_status.map(|s| s.as_str().to_string()).unwrap_or_default();
                        let physical_id = d.physical_resource_id;
                        d.resource_type.map(|kind| StackResource { kind, status, physical_id })
                    })
                })
                .map_err(|e| crate::aws::error("CloudFormation", "DescribeStackResource", e)),
        )
    }

    async fn stack_status(&self, stack_id: &str) -> Result<Option<String>> {
        absent_if_validation(
            self.client
                .describe_stacks()
                .stack_name(stack_id)
                .send()
                .await
                .map(|o| {
                    o.stacks
                        .unwrap_or_default()
                        .into_iter()
                        .find(|s| s.stack_id.as_deref() == Some(stack_id))
                        .and_then(|s| s.stack_status.map(|st| st.as_str().to_string()))
                })
                .map_err(|e| crate::aws::error("CloudFormation", "DescribeStacks", e)),
        )
    }
}
