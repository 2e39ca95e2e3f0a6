//! The CloudFormation port: what the function asks CloudFormation to confirm a request (`crate::cfn::confirm`).
//! `SdkStacks` asks CloudFormation; `MemoryStacks` (tests only) keeps stacks in memory.

#[cfg(any(test, feature = "test-util"))]
pub mod contract;
#[cfg(any(test, feature = "test-util"))]
mod memory;
mod sdk;

use std::future::Future;

use crate::error::Result;

#[cfg(any(test, feature = "test-util"))]
pub use memory::MemoryStacks;
pub use sdk::SdkStacks;

/// A stack's resource as `DescribeStackResource` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackResource {
    /// `Custom::EksNodeRole`, `AWS::IAM::Role`, …
    pub kind: String,
    /// `CREATE_IN_PROGRESS`, `UPDATE_COMPLETE`, …
    pub status: String,
    /// The id the provider last answered (`None` while a Create runs).
    pub physical_id: Option<String>,
}

/// What the function asks CloudFormation.
pub trait Stacks: Send + Sync {
    /// The stack's resource; `None` when the stack or the resource does not exist.
    fn resource(&self, stack_id: &str, logical_id: &str) -> impl Future<Output = Result<Option<StackResource>>> + Send;
    /// The stack's status; `None` when the stack does not exist.
    fn stack_status(&self, stack_id: &str) -> impl Future<Output = Result<Option<String>>> + Send;
}
