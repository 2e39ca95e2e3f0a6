//! The role as IAM reports it right now.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{PolicyArn, RoleName};

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

/// The IPv6 CNI policy a role depends on, judged against the document AWS publishes. The function never writes
/// this policy: a template owns it (or the account made it); the function only verifies it before attaching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CniCheck {
    /// The role needs no IPv6 CNI policy.
    NotNeeded,
    /// The policy exists and its default version means exactly AWS's document.
    Verified(PolicyArn),
    Missing(PolicyArn),
    /// The policy exists but its default version is not AWS's document: never attached.
    Tampered(PolicyArn),
}

impl CniCheck {
    pub fn is_usable(&self) -> bool {
        matches!(self, CniCheck::NotNeeded | CniCheck::Verified(_))
    }
}
