//! The IAM port: what the reconciler needs from IAM, in the domain's words. `sdk` is the only module that
//! calls aws-sdk-iam.

mod client;
#[cfg(any(test, feature = "test-util"))]
pub mod contract;
#[cfg(any(test, feature = "test-util"))]
mod memory;
mod sdk;

use std::collections::BTreeMap;
use std::future::Future;

use serde_json::Value;

pub use client::{build_client, client_from, http_client, shared_config, CallCounter, IamSettings};
#[cfg(any(test, feature = "test-util"))]
pub use memory::MemoryIam;
pub use sdk::SdkIam;

use crate::domain::{Action, LiveRole, PolicyArn, RoleHead, RoleName, RolePath};
use crate::error::Result;

/// A role as listed by IAM (ListRoles carries no tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSummary {
    pub name: String,
    pub path: String,
    /// `CreateDate`, in seconds since the epoch.
    pub created: Option<i64>,
}

pub trait NodeRoleIam: Send + Sync {
    /// The role with its trust policy, boundary and tags (one call), without its attachments. `None` if it does
    /// not exist.
    fn get_role(&self, name: &RoleName) -> impl Future<Output = Result<Option<RoleHead>>> + Send;
    /// Completes a role from `get_role` with its attached policies and instance profiles. `None` if it went.
    fn read_attachments(&self, role: RoleHead) -> impl Future<Output = Result<Option<LiveRole>>> + Send;
    /// The whole role: `get_role` then `read_attachments`. `None` if it does not exist.
    fn read_role(&self, name: &RoleName) -> impl Future<Output = Result<Option<LiveRole>>> + Send {
        async move {
            match self.get_role(name).await? {
                Some(role) => self.read_attachments(role).await,
                None => Ok(None),
            }
        }
    }
    /// Creates the role (the `Action::CreateRole` given) and returns it as IAM's answer describes it: its RoleId
    /// without another read.
    fn create_role(&self, role: &RoleName, create: &Action) -> impl Future<Output = Result<RoleHead>> + Send;
    /// Creates an instance profile (labelled), or finds it there already.
    fn create_instance_profile(&self, name: &str, path: &RolePath) -> impl Future<Output = Result<()>> + Send;
    /// The document of a managed policy's default version; `None` if the policy does not exist.
    fn policy_document(&self, arn: &PolicyArn) -> impl Future<Output = Result<Option<Value>>> + Send;
    /// An instance profile's tags; `None` if it does not exist.
    fn instance_profile_tags(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<BTreeMap<String, String>>>> + Send;
    /// The roles an instance profile holds, as IAM's reads show them now; `None` if it does not exist (yet).
    fn instance_profile_roles(&self, name: &str) -> impl Future<Output = Result<Option<Vec<String>>>> + Send;
    /// How many managed policies a role may hold in this account (`AttachedPoliciesPerRoleQuota`).
    fn attached_policies_quota(&self) -> impl Future<Output = Result<usize>> + Send;
    fn inline_policy_names(&self, role: &RoleName) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// An inline policy's document (the audit reads it); `None` if the role or the policy does not exist.
    fn inline_policy_document(&self, role: &RoleName, name: &str)
        -> impl Future<Output = Result<Option<Value>>> + Send;
    /// All roles, optionally under a path prefix.
    fn list_roles(&self, path_prefix: Option<&str>) -> impl Future<Output = Result<Vec<RoleSummary>>> + Send;
    /// Carries out one action on `role`. Removing something already gone counts as success.
    fn apply(&self, role: &RoleName, action: &Action) -> impl Future<Output = Result<()>> + Send;
}
