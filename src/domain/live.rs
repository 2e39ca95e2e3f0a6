//! The role as IAM reports it right now.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::names::{PolicyArn, RoleName};

#[derive(Debug, Clone, PartialEq)]
pub struct LiveRole {
    pub name: RoleName,
    pub path: String,
    pub arn: String,
    pub role_id: String,
    /// The decoded trust policy; `None` when IAM returned something unparsable.
    pub trust: Option<Value>,
    pub description: Option<String>,
    pub boundary: Option<PolicyArn>,
    pub tags: BTreeMap<String, String>,
    pub attached: BTreeSet<PolicyArn>,
    pub instance_profiles: Vec<LiveInstanceProfile>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveInstanceProfile {
    pub name: String,
    pub arn: String,
}

impl LiveRole {
    pub fn in_instance_profile(&self, name: &str) -> Option<&LiveInstanceProfile> {
        self.instance_profiles.iter().find(|p| p.name == name)
    }
}

/// The IPv6 CNI customer managed policy as IAM reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivePolicy {
    pub arn: PolicyArn,
    /// Tagged as created by this tool (so its document is ours to restore and it is ours to delete).
    pub created_by_us: bool,
    pub attachment_count: i32,
    pub default_version: String,
    pub default_matches: bool,
    /// A non-default version whose document is the right one (restoring it is one call).
    pub matching_version: Option<String>,
    /// Non-default version ids, oldest first (IAM keeps at most five versions).
    pub other_versions: Vec<String>,
}

/// What is known about the IPv6 CNI policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyObservation {
    NotNeeded,
    Missing,
    Present(LivePolicy),
}
