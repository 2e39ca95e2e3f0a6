//! The desired state of a node role (`NodeRoleSpec`). It lives in the state store, written only by the
//! function; the role itself carries only a visible label for people and the audit, which decides nothing.

use std::collections::{BTreeMap, BTreeSet};

use super::policies;
use super::{AccountId, IpFamily, NodeClass, Owner, Partition, PolicyArn, RemediationMode, RoleName, RolePath};

/// Label keys start with this prefix; user tags may not.
pub const TAG_PREFIX: &str = "eks-node-role-guard:";

/// The visible label on a role the tool manages. Nothing the function decides is read from it.
pub mod label {
    /// Always `true` while the tool manages the role.
    pub const MANAGED: &str = "eks-node-role-guard:managed";
    pub const STACK_ID: &str = "eks-node-role-guard:stack-id";
    pub const LOGICAL_ID: &str = "eks-node-role-guard:logical-id";
    /// The region of the installation that manages the role (IAM is global; one installation per account).
    pub const REGION: &str = "eks-node-role-guard:region";
    pub const ALL: [&str; 4] = [MANAGED, STACK_ID, LOGICAL_ID, REGION];
}

pub const MANAGED_TRUE: &str = "true";

/// IAM allows 50 tags per role; this many are kept free for the label.
pub const RESERVED_TAGS: usize = 4;

/// The permissions boundary the role must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Boundary {
    /// No boundary at all.
    Absent,
    /// Adopted role, no boundary asked for: leave whatever it has.
    Keep,
    Set(PolicyArn),
}

/// What the node role must look like: the desired state kept in the state item.
/// It is stored as `state::codec`'s `DesiredV1`, never serialised directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRoleSpec {
    pub name: RoleName,
    pub path: RolePath,
    pub partition: Partition,
    pub account: AccountId,
    /// The installation's region, written into the role's label.
    pub region: String,
    /// `None` for an adopted role without a Description property: it keeps its own.
    pub description: Option<String>,
    /// The node-role procedure the role follows (Auto Mode has no CNI policy: `attach_cni` is then false).
    pub node_class: NodeClass,
    pub ip_family: IpFamily,
    pub attach_cni: bool,
    /// The verified IPv6 CNI policy the role uses (IPv6 with AttachCniPolicy only).
    pub ipv6_cni_policy: Option<PolicyArn>,
    pub extra_policies: BTreeSet<PolicyArn>,
    pub boundary: Boundary,
    pub instance_profile: Option<String>,
    /// Adopted while already in an instance profile (e.g. one EKS made for a managed node group): the tool
    /// creates, restores and deletes no profile for this role.
    pub external_profile: bool,
    pub remediation: RemediationMode,
    pub owner: Owner,
    pub adopted: bool,
    /// Policies attached before adoption: never detached.
    pub preexisting: BTreeSet<PolicyArn>,
    /// The `Tags` property (the tool sets them on Create/Update; repair leaves tags alone).
    pub user_tags: BTreeMap<String, String>,
}

/// What a role's label claims. Only ever reported, never obeyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub region: Option<String>,
    pub owner: Option<Owner>,
}

impl Label {
    /// The label on a role, if it carries any key of it.
    pub fn of(tags: &BTreeMap<String, String>) -> Option<Label> {
        if !tags.keys().any(|k| k.starts_with(TAG_PREFIX)) {
            return None;
        }
        let owner = match (tags.get(label::STACK_ID), tags.get(label::LOGICAL_ID)) {
            (Some(stack_id), Some(logical_id)) => {
                Some(Owner { stack_id: stack_id.clone(), logical_id: logical_id.clone() })
            }
            _ => None,
        };
        Some(Label { region: tags.get(label::REGION).cloned(), owner })
    }
}

impl NodeRoleSpec {
    /// The CNI policy the role must carry, if any.
    pub fn cni_policy(&self) -> Option<PolicyArn> {
        if !self.attach_cni {
            return None;
        }
        match self.ip_family {
            IpFamily::Ipv4 => Some(policies::cni_policy(self.partition)),
            IpFamily::Ipv6 => self.ipv6_cni_policy.clone(),
        }
    }

    /// The IPv6 CNI customer policy this role depends on, if any.
    pub fn required_ipv6_cni(&self) -> Option<PolicyArn> {
        (self.attach_cni && self.ip_family == IpFamily::Ipv6).then(|| self.ipv6_cni_policy.clone()).flatten()
    }

    /// Every managed policy the role must have attached.
    pub fn required_policies(&self) -> BTreeSet<PolicyArn> {
        let class = self.node_class;
        // The CNI's policy is the desired state's choice (`cni_policy`), not the table's.
        let mut set = policies::node_policies(self.partition, |n| match class {
            NodeClass::Standard => n.standard && n.name != policies::CNI_POLICY,
            NodeClass::AutoMode => n.auto_mode,
        });
        set.extend(self.cni_policy());
        set.extend(self.extra_policies.iter().cloned());
        set
    }

    pub fn trust_policy(&self) -> serde_json::Value {
        policies::ec2_trust_policy(self.partition)
    }

    /// The visible label: managed, owner, installation region. No role name (names may hold ',', which a tag
    /// value may not) and nothing the function reads back.
    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (label::MANAGED.to_string(), MANAGED_TRUE.to_string()),
            (label::STACK_ID.to_string(), self.owner.stack_id.clone()),
            (label::LOGICAL_ID.to_string(), self.owner.logical_id.clone()),
            (label::REGION.to_string(), self.region.clone()),
        ])
    }

    /// All tags the role must carry: the user's plus the label.
    pub fn all_tags(&self) -> BTreeMap<String, String> {
        let mut t = self.user_tags.clone();
        t.extend(self.labels());
        t
    }

    /// What an Update from `old` to `self` takes away: policies this tool attached that are no longer wanted,
    /// user tags no longer given, and the instance profile when it is no longer wanted.
    pub fn retired_since(&self, old: &NodeRoleSpec) -> Retired {
        let keep = self.required_policies();
        let policies = old
            .required_policies()
            .into_iter()
            .filter(|p| !keep.contains(p) && !self.preexisting.contains(p))
            .collect();
        // IAM tag keys are case-insensitive: `Team` → `team` is a rename, not a removal.
        let tag_keys = old
            .user_tags
            .keys()
            .filter(|k| !self.user_tags.keys().any(|n| n.eq_ignore_ascii_case(k)))
            .cloned()
            .collect();
        let instance_profile = match (&old.instance_profile, &self.instance_profile) {
            (Some(o), n) if n.as_ref() != Some(o) && !self.adopted => Some(o.clone()),
            _ => None,
        };
        Retired { policies, tag_keys, instance_profile }
    }
}

/// What an in-place Update removes (see `NodeRoleSpec::retired_since`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retired {
    pub policies: BTreeSet<PolicyArn>,
    pub tag_keys: BTreeSet<String>,
    /// Instance profile the tool created and must now delete.
    pub instance_profile: Option<String>,
}

/// `arn:{partition}:iam::{account}:role/...` → partition and account.
pub fn partition_and_account(arn: &str) -> Option<(Partition, AccountId)> {
    let partition = Partition::of_arn(arn)?;
    let mut parts = arn.split(':').skip(2);
    (parts.next()? == "iam").then_some(())?;
    parts.next()?;
    let account = AccountId::parse(parts.next()?)?;
    Some((partition, account))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub use crate::testing::{ipv6_spec, spec};

    fn arn(s: &str) -> PolicyArn {
        PolicyArn::parse(s, "x").unwrap()
    }

    #[test]
    fn an_ipv4_role_needs_the_worker_ecr_and_cni_policies() {
        let names: Vec<String> = spec().required_policies().iter().map(|p| p.name().to_string()).collect();
        assert_eq!(names, ["AmazonEC2ContainerRegistryPullOnly", "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy"]);
    }

    #[test]
    fn an_ipv6_role_needs_the_verified_ipv6_cni_policy() {
        let s = ipv6_spec();
        assert!(s.required_policies().contains(&arn("arn:aws:iam::123456789012:policy/AmazonEKS_CNI_IPv6_Policy")));
        assert!(!s.required_policies().iter().any(|p| p.name() == "AmazonEKS_CNI_Policy"));
        assert_eq!(
            s.required_ipv6_cni().unwrap().as_str(),
            "arn:aws:iam::123456789012:policy/AmazonEKS_CNI_IPv6_Policy"
        );
    }

    #[test]
    fn with_the_cni_on_its_own_role_no_cni_policy_is_needed() {
        for s in [NodeRoleSpec { attach_cni: false, ..spec() }, NodeRoleSpec { attach_cni: false, ..ipv6_spec() }] {
            assert_eq!(s.required_policies().len(), 2);
            assert!(s.required_ipv6_cni().is_none());
        }
    }

    #[test]
    fn an_auto_mode_role_needs_the_minimal_worker_policy_and_the_registry_policy_only() {
        let s = NodeRoleSpec { node_class: NodeClass::AutoMode, attach_cni: false, ..spec() };
        let names: Vec<String> = s.required_policies().iter().map(|p| p.name().to_string()).collect();
        assert_eq!(names, ["AmazonEC2ContainerRegistryPullOnly", "AmazonEKSWorkerNodeMinimalPolicy"]);
        let r = s.retired_since(&spec());
        let retired: Vec<&str> = r.policies.iter().map(|p| p.name()).collect();
        assert_eq!(retired, ["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy"], "switching class swaps in place");
    }

    #[test]
    fn policy_arns_follow_the_partition() {
        let s = NodeRoleSpec { partition: Partition::AwsCn, ..spec() };
        assert!(s.required_policies().iter().all(|p| p.as_str().starts_with("arn:aws-cn:iam::aws:policy/")));
    }

    #[test]
    fn the_label_names_owner_and_region_but_no_role_name() {
        let l = spec().labels();
        assert_eq!(l.len(), RESERVED_TAGS);
        assert_eq!(l[label::REGION], "us-east-1");
        assert!(l.values().all(|v| !v.contains("NodeRole") || v == "NodeRole"), "{l:?}");
        let seen = Label::of(&l).unwrap();
        assert_eq!(seen.owner, Some(spec().owner));
        assert_eq!(Label::of(&BTreeMap::from([("team".into(), "x".into())])), None);
    }

    #[test]
    fn an_update_retires_only_what_this_tool_attached() {
        let ssm = arn("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore");
        let cw = arn("arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy");
        let mut old = spec();
        old.extra_policies = BTreeSet::from([ssm.clone(), cw.clone()]);
        old.user_tags = BTreeMap::from([("team".into(), "a".into()), ("env".into(), "prod".into())]);
        let mut new = ipv6_spec();
        new.preexisting = BTreeSet::from([cw.clone()]);
        new.user_tags = BTreeMap::from([("team".into(), "b".into())]);
        new.instance_profile = None;
        let r = new.retired_since(&old);
        let names: Vec<&str> = r.policies.iter().map(|p| p.name()).collect();
        assert_eq!(names, ["AmazonEKS_CNI_Policy", "AmazonSSMManagedInstanceCore"]);
        assert_eq!(r.tag_keys, BTreeSet::from(["env".to_string()]));
        assert_eq!(r.instance_profile.as_deref(), Some("NodeRole"));
        new.adopted = true;
        assert_eq!(new.retired_since(&old).instance_profile, None, "an adopted role keeps its profile");
        assert_eq!(spec().retired_since(&spec()), Retired::default());
    }

    #[test]
    fn a_tag_key_whose_case_changes_is_not_retired() {
        let old = NodeRoleSpec { user_tags: BTreeMap::from([("Team".into(), "a".into())]), ..spec() };
        let new = NodeRoleSpec { user_tags: BTreeMap::from([("team".into(), "a".into())]), ..spec() };
        assert!(new.retired_since(&old).tag_keys.is_empty());
    }
}
