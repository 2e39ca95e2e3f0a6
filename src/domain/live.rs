//! The role as IAM reports it right now.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{PolicyArn, RoleName, RolePath};

/// A role as GetRole or CreateRole describes it: everything but its attached policies and instance profiles,
/// which IAM lists separately. `RoleHead::complete` (with the two lists) or `RoleHead::created` (a role this
/// request has just made, which has neither) gives the `LiveRole` decisions are taken on.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleHead {
    pub name: RoleName,
    pub path: RolePath,
    pub arn: String,
    pub role_id: String,
    /// The decoded trust policy; `None` when IAM returned something unparsable.
    pub trust: Option<Value>,
    pub description: Option<String>,
    pub boundary: Option<PolicyArn>,
    pub tags: BTreeMap<String, String>,
}

impl RoleHead {
    /// The role with the policies and profiles read beside it.
    pub fn complete(self, attached: BTreeSet<PolicyArn>, instance_profiles: Vec<LiveInstanceProfile>) -> LiveRole {
        let RoleHead { name, path, arn, role_id, trust, description, boundary, tags } = self;
        LiveRole { name, path, arn, role_id, trust, description, boundary, tags, attached, instance_profiles }
    }

    /// A role CreateRole has just made: no policy attached, in no instance profile.
    pub fn created(self) -> LiveRole {
        self.complete(BTreeSet::new(), Vec::new())
    }
}

/// The whole role as IAM reports it: its head, its attached managed policies and its instance profiles.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveRole {
    pub name: RoleName,
    pub path: RolePath,
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
    /// What GetRole would say of this role.
    pub fn head(&self) -> RoleHead {
        let LiveRole { name, path, arn, role_id, trust, description, boundary, tags, .. } = self.clone();
        RoleHead { name, path, arn, role_id, trust, description, boundary, tags }
    }

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
    /// The policy exists and its default version is one of AWS's IPv6 CNI documents (`is_ipv6_cni_document`).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_completed_with_its_lists_is_the_role_again_and_a_created_role_holds_nothing() {
        let worker = PolicyArn::aws_managed(super::super::Partition::Aws, "AmazonEKSWorkerNodePolicy");
        let role = LiveRole {
            name: RoleName::parse("nodes").unwrap(),
            path: RolePath::parse("/eks/").unwrap(),
            arn: "arn:aws:iam::123456789012:role/eks/nodes".into(),
            role_id: "AROAEXAMPLE".into(),
            trust: None,
            description: Some("d".into()),
            boundary: None,
            tags: BTreeMap::from([("k".into(), "v".into())]),
            attached: BTreeSet::from([worker]),
            instance_profiles: vec![LiveInstanceProfile { name: "nodes".into(), arn: "arn:p".into() }],
        };
        let head = role.head();
        assert_eq!(head.clone().complete(role.attached.clone(), role.instance_profiles.clone()), role);
        let created = head.created();
        assert!(created.attached.is_empty() && created.instance_profiles.is_empty());
        assert_eq!((created.role_id.as_str(), created.path.as_str()), ("AROAEXAMPLE", "/eks/"));
    }
}
