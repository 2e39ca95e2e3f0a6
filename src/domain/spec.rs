//! The desired state of a node role (`NodeRoleSpec`) and its record on the role itself (management tags), so
//! drift repair can rebuild it from the role alone.

use std::collections::{BTreeMap, BTreeSet};

use super::names::{AccountId, IpFamily, Owner, Partition, PolicyArn, RemediationMode, RoleName, RolePath};
use super::policies;
use crate::error::{Error, Result};

/// Management tags. Every key starts with this prefix; user tags may not.
pub const TAG_PREFIX: &str = "eks-node-role-guard:";

pub mod tag {
    /// `true` while the tool manages the role; `deleting` once its stack's Delete has begun.
    pub const MANAGED: &str = "eks-node-role-guard:managed";
    pub const STACK_ID: &str = "eks-node-role-guard:stack-id";
    pub const LOGICAL_ID: &str = "eks-node-role-guard:logical-id";
    pub const IP_FAMILY: &str = "eks-node-role-guard:ip-family";
    /// `true`/`false`: AttachCniPolicy.
    pub const CNI: &str = "eks-node-role-guard:cni";
    /// Space-separated ARNs, continued in `…extra-policies.2`, `.3`, … when longer than a tag value.
    pub const EXTRA_POLICIES: &str = "eks-node-role-guard:extra-policies";
    /// `none` (no boundary), `keep` (adopted role: leave whatever it has) or the boundary policy ARN.
    pub const BOUNDARY: &str = "eks-node-role-guard:boundary";
    pub const REMEDIATION: &str = "eks-node-role-guard:remediation";
    /// Name of the instance profile that must hold the role, or `none`.
    pub const INSTANCE_PROFILE: &str = "eks-node-role-guard:instance-profile";
    pub const ADOPTED: &str = "eks-node-role-guard:adopted";
    /// Policies attached before adoption (space-separated, chunked like extra-policies): never detached.
    pub const PREEXISTING: &str = "eks-node-role-guard:preexisting";
    /// Set on the IPv6 CNI policy when the tool created it.
    pub const POLICY_CREATED: &str = "eks-node-role-guard:created";
}

pub const MANAGED_TRUE: &str = "true";
/// `instance-profile` tag value of an adopted role that already had a profile: its profiles are not the tool's.
pub const EXTERNAL_PROFILE: &str = "external";
pub const MANAGED_DELETING: &str = "deleting";

/// IAM allows 50 tags per role; this many are kept free for management tags.
pub const RESERVED_TAGS: usize = 20;
const TAG_VALUE_MAX: usize = 256;

/// The permissions boundary the role must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Boundary {
    /// No boundary at all.
    Absent,
    /// Adopted role, no boundary asked for: leave whatever it has.
    Keep,
    Set(PolicyArn),
}

/// What the node role must look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRoleSpec {
    pub name: RoleName,
    pub path: RolePath,
    pub partition: Partition,
    pub account: AccountId,
    /// `None` when rebuilt from tags: drift repair does not manage the description.
    pub description: Option<String>,
    pub ip_family: IpFamily,
    pub attach_cni: bool,
    pub extra_policies: BTreeSet<PolicyArn>,
    pub boundary: Boundary,
    pub instance_profile: Option<String>,
    /// Adopted while already in an instance profile (e.g. one EKS made for a managed node group): the tool
    /// creates, restores and deletes no profile for this role.
    pub external_profile: bool,
    pub remediation: RemediationMode,
    pub owner: Owner,
    pub adopted: bool,
    pub preexisting: BTreeSet<PolicyArn>,
    /// The `Tags` property; empty when rebuilt from tags (repair never removes or restores user tags).
    pub user_tags: BTreeMap<String, String>,
}

/// Whether the tool looks after a role, read from its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Management {
    Unmanaged,
    /// Its stack is deleting it: hands off.
    Deleting(Owner),
    Managed(Owner),
}

impl Management {
    pub fn of(tags: &BTreeMap<String, String>) -> Self {
        let owner = || {
            Some(Owner { stack_id: tags.get(tag::STACK_ID)?.clone(), logical_id: tags.get(tag::LOGICAL_ID)?.clone() })
        };
        match (tags.get(tag::MANAGED).map(String::as_str), owner()) {
            (Some(MANAGED_TRUE), Some(o)) => Management::Managed(o),
            (Some(MANAGED_DELETING), Some(o)) => Management::Deleting(o),
            _ => Management::Unmanaged,
        }
    }

    pub fn owner(&self) -> Option<&Owner> {
        match self {
            Management::Managed(o) | Management::Deleting(o) => Some(o),
            Management::Unmanaged => None,
        }
    }
}

impl NodeRoleSpec {
    /// The CNI policy the role must carry, if any.
    pub fn cni_policy(&self) -> Option<PolicyArn> {
        if !self.attach_cni {
            return None;
        }
        Some(match self.ip_family {
            IpFamily::Ipv4 => policies::cni_policy(self.partition),
            IpFamily::Ipv6 => policies::cni_ipv6_policy(self.partition, &self.account),
        })
    }

    /// The IPv6 CNI customer policy this role depends on, if any.
    pub fn cni_ipv6_policy(&self) -> Option<PolicyArn> {
        (self.attach_cni && self.ip_family == IpFamily::Ipv6)
            .then(|| policies::cni_ipv6_policy(self.partition, &self.account))
    }

    /// Every managed policy the role must have attached.
    pub fn required_policies(&self) -> BTreeSet<PolicyArn> {
        let mut set = BTreeSet::from([
            policies::worker_node_policy(self.partition),
            policies::ecr_pull_only_policy(self.partition),
        ]);
        set.extend(self.cni_policy());
        set.extend(self.extra_policies.iter().cloned());
        set
    }

    pub fn trust_policy(&self) -> serde_json::Value {
        policies::ec2_trust_policy(self.partition)
    }

    /// The management tags that record this spec on the role.
    pub fn management_tags(&self) -> BTreeMap<String, String> {
        let mut t = BTreeMap::new();
        t.insert(tag::MANAGED.into(), MANAGED_TRUE.into());
        t.insert(tag::STACK_ID.into(), self.owner.stack_id.clone());
        t.insert(tag::LOGICAL_ID.into(), self.owner.logical_id.clone());
        t.insert(tag::IP_FAMILY.into(), self.ip_family.as_str().into());
        t.insert(tag::CNI.into(), self.attach_cni.to_string());
        put_list(&mut t, tag::EXTRA_POLICIES, &self.extra_policies);
        t.insert(
            tag::BOUNDARY.into(),
            match &self.boundary {
                Boundary::Absent => "none".into(),
                Boundary::Keep => "keep".into(),
                Boundary::Set(arn) => arn.to_string(),
            },
        );
        t.insert(tag::REMEDIATION.into(), self.remediation.as_str().into());
        let profile = match (&self.instance_profile, self.external_profile) {
            (Some(p), _) => p.clone(),
            (None, true) => EXTERNAL_PROFILE.into(),
            (None, false) => "none".into(),
        };
        t.insert(tag::INSTANCE_PROFILE.into(), profile);
        t.insert(tag::ADOPTED.into(), self.adopted.to_string());
        if !self.preexisting.is_empty() {
            put_list(&mut t, tag::PREEXISTING, &self.preexisting);
        }
        t
    }

    /// All tags the role must carry: the user's plus the management tags.
    pub fn all_tags(&self) -> BTreeMap<String, String> {
        let mut t = self.user_tags.clone();
        t.extend(self.management_tags());
        t
    }

    /// Rebuilds the spec from a role's tags. `Ok(None)` when the role is not (or no longer) managed.
    pub fn from_tags(
        name: &RoleName,
        path: &str,
        role_arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<Option<Self>> {
        let Management::Managed(owner) = Management::of(tags) else {
            return Ok(None);
        };
        let corrupt = |what: &str| Error::invalid(format!("role {name}: management tag {what} is missing or invalid"));
        let get = |k: &str| tags.get(k).map(String::as_str);
        let (partition, account) = partition_and_account(role_arn).ok_or_else(|| corrupt("(role ARN)"))?;
        // Every tag the tool writes must be there: a missing one is not filled with a default (that would, say,
        // attach the CNI policy the owner turned off, or remove a boundary).
        let need = |k: &'static str| get(k).ok_or_else(|| corrupt(k));
        if !tags.contains_key(tag::EXTRA_POLICIES) {
            return Err(corrupt(tag::EXTRA_POLICIES));
        }
        let ip_family = IpFamily::parse(need(tag::IP_FAMILY)?).map_err(|_| corrupt(tag::IP_FAMILY))?;
        let attach_cni = super::names::parse_bool(need(tag::CNI)?, tag::CNI).map_err(|_| corrupt(tag::CNI))?;
        let extra_policies = get_list(tags, tag::EXTRA_POLICIES).map_err(|_| corrupt(tag::EXTRA_POLICIES))?;
        let preexisting = get_list(tags, tag::PREEXISTING).map_err(|_| corrupt(tag::PREEXISTING))?;
        let boundary = match need(tag::BOUNDARY)? {
            "none" => Boundary::Absent,
            "keep" => Boundary::Keep,
            arn => Boundary::Set(PolicyArn::parse(arn, tag::BOUNDARY).map_err(|_| corrupt(tag::BOUNDARY))?),
        };
        let remediation =
            RemediationMode::parse(need(tag::REMEDIATION)?, tag::REMEDIATION).map_err(|_| corrupt(tag::REMEDIATION))?;
        let instance_profile = match need(tag::INSTANCE_PROFILE)? {
            "none" | EXTERNAL_PROFILE => None,
            p => Some(p.to_string()),
        };
        let external_profile = get(tag::INSTANCE_PROFILE) == Some(EXTERNAL_PROFILE);
        let adopted = super::names::parse_bool(need(tag::ADOPTED)?, tag::ADOPTED).map_err(|_| corrupt(tag::ADOPTED))?;
        let path = RolePath::parse(path).unwrap_or_else(|_| RolePath::root());
        Ok(Some(NodeRoleSpec {
            name: name.clone(),
            path,
            partition,
            account,
            description: None,
            ip_family,
            attach_cni,
            extra_policies,
            boundary,
            instance_profile,
            external_profile,
            remediation,
            owner,
            adopted,
            preexisting,
            user_tags: BTreeMap::new(),
        }))
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
        let tag_keys = old.user_tags.keys().filter(|k| !self.user_tags.contains_key(*k)).cloned().collect();
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
    let mut parts = arn.split(':');
    (parts.next()? == "arn").then_some(())?;
    let partition = Partition::parse(parts.next()?)?;
    (parts.next()? == "iam").then_some(())?;
    parts.next()?;
    let account = AccountId::parse(parts.next()?)?;
    Some((partition, account))
}

fn put_list(tags: &mut BTreeMap<String, String>, key: &str, items: &BTreeSet<PolicyArn>) {
    let mut chunks: Vec<String> = vec![String::new()];
    for item in items {
        let last = chunks.last_mut().expect("never empty");
        if !last.is_empty() && last.len() + 1 + item.as_str().len() > TAG_VALUE_MAX {
            chunks.push(String::new());
        }
        let last = chunks.last_mut().expect("never empty");
        if !last.is_empty() {
            last.push(' ');
        }
        last.push_str(item.as_str());
    }
    for (i, chunk) in chunks.into_iter().enumerate() {
        tags.insert(chunk_key(key, i + 1), chunk);
    }
}

/// A list recorded in management tags; unreadable entries are skipped.
pub fn recorded_list(tags: &BTreeMap<String, String>, key: &str) -> BTreeSet<PolicyArn> {
    (1..)
        .map_while(|i| tags.get(&chunk_key(key, i)))
        .flat_map(|v| v.split_whitespace())
        .filter_map(|a| PolicyArn::parse(a, key).ok())
        .collect()
}

fn chunk_key(key: &str, i: usize) -> String {
    if i == 1 {
        key.to_string()
    } else {
        format!("{key}.{i}")
    }
}

fn get_list(tags: &BTreeMap<String, String>, key: &str) -> Result<BTreeSet<PolicyArn>> {
    (1..)
        .map_while(|i| tags.get(&chunk_key(key, i)))
        .flat_map(|v| v.split_whitespace())
        .map(|a| PolicyArn::parse(a, key))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn spec() -> NodeRoleSpec {
        NodeRoleSpec {
            name: RoleName::parse("NodeRole").unwrap(),
            path: RolePath::root(),
            partition: Partition::Aws,
            account: AccountId::parse("123456789012").unwrap(),
            description: Some("Amazon EKS - Node role".into()),
            ip_family: IpFamily::Ipv4,
            attach_cni: true,
            extra_policies: BTreeSet::new(),
            boundary: Boundary::Absent,
            instance_profile: Some("NodeRole".into()),
            external_profile: false,
            remediation: RemediationMode::Enforce,
            owner: Owner {
                stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/prod/uuid".into(),
                logical_id: "NodeRole".into(),
            },
            adopted: false,
            preexisting: BTreeSet::new(),
            user_tags: BTreeMap::new(),
        }
    }

    fn arn(s: &str) -> PolicyArn {
        PolicyArn::parse(s, "x").unwrap()
    }

    #[test]
    fn an_ipv4_role_needs_the_worker_ecr_and_cni_policies() {
        let names: Vec<String> = spec().required_policies().iter().map(|p| p.name().to_string()).collect();
        assert_eq!(names, ["AmazonEC2ContainerRegistryPullOnly", "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy"]);
    }

    #[test]
    fn an_ipv6_role_needs_the_accounts_ipv6_cni_policy() {
        let s = NodeRoleSpec { ip_family: IpFamily::Ipv6, ..spec() };
        assert!(s.required_policies().contains(&arn("arn:aws:iam::123456789012:policy/AmazonEKS_CNI_IPv6_Policy")));
        assert!(!s.required_policies().iter().any(|p| p.name() == "AmazonEKS_CNI_Policy"));
        assert_eq!(s.cni_ipv6_policy().unwrap().as_str(), "arn:aws:iam::123456789012:policy/AmazonEKS_CNI_IPv6_Policy");
    }

    #[test]
    fn with_the_cni_on_its_own_role_no_cni_policy_is_needed() {
        for fam in [IpFamily::Ipv4, IpFamily::Ipv6] {
            let s = NodeRoleSpec { ip_family: fam, attach_cni: false, ..spec() };
            assert_eq!(s.required_policies().len(), 2);
            assert!(s.cni_ipv6_policy().is_none());
        }
    }

    #[test]
    fn policy_arns_follow_the_partition() {
        let s = NodeRoleSpec { partition: Partition::AwsCn, ..spec() };
        assert!(s.required_policies().iter().all(|p| p.as_str().starts_with("arn:aws-cn:iam::aws:policy/")));
    }

    #[test]
    fn the_spec_survives_a_round_trip_through_tags() {
        let many: BTreeSet<PolicyArn> = (0..12)
            .map(|i| arn(&format!("arn:aws:iam::123456789012:policy/team/some-long-policy-name-{i:02}")))
            .collect();
        let s = NodeRoleSpec {
            ip_family: IpFamily::Ipv6,
            attach_cni: false,
            extra_policies: many.clone(),
            boundary: Boundary::Set(arn("arn:aws:iam::123456789012:policy/Boundary")),
            remediation: RemediationMode::DryRun,
            adopted: true,
            preexisting: many,
            instance_profile: None,
            external_profile: true,
            description: None,
            path: RolePath::parse("/eks/").unwrap(),
            ..spec()
        };
        let tags = s.management_tags();
        assert!(tags.contains_key("eks-node-role-guard:extra-policies.2"), "long lists are chunked: {tags:?}");
        assert!(tags.values().all(|v| super::super::names::is_valid_tag_value(v)));
        assert!(tags.keys().all(|k| super::super::names::is_valid_tag_key(k)));
        assert!(tags.len() <= RESERVED_TAGS, "{} management tags", tags.len());
        let back = NodeRoleSpec::from_tags(&s.name, "/eks/", "arn:aws:iam::123456789012:role/eks/NodeRole", &tags)
            .unwrap()
            .unwrap();
        assert_eq!(back, s);
        for b in [Boundary::Absent, Boundary::Keep] {
            let s2 = NodeRoleSpec { boundary: b, description: None, ..spec() };
            let back = NodeRoleSpec::from_tags(
                &s2.name,
                "/",
                "arn:aws:iam::123456789012:role/NodeRole",
                &s2.management_tags(),
            );
            assert_eq!(back.unwrap().unwrap(), s2);
        }
    }

    #[test]
    fn a_role_without_our_tags_or_being_deleted_is_not_managed() {
        let role_arn = "arn:aws:iam::123456789012:role/NodeRole";
        let name = RoleName::parse("NodeRole").unwrap();
        assert!(NodeRoleSpec::from_tags(&name, "/", role_arn, &BTreeMap::new()).unwrap().is_none());
        let mut tags = spec().management_tags();
        tags.insert(tag::MANAGED.into(), MANAGED_DELETING.into());
        assert!(NodeRoleSpec::from_tags(&name, "/", role_arn, &tags).unwrap().is_none());
        assert!(matches!(Management::of(&tags), Management::Deleting(_)));
        tags.insert(tag::MANAGED.into(), "true".into());
        tags.insert(tag::IP_FAMILY.into(), "ipv5".into());
        let e = NodeRoleSpec::from_tags(&name, "/", role_arn, &tags).unwrap_err().to_string();
        assert!(e.contains("eks-node-role-guard:ip-family"), "{e}");
    }

    #[test]
    fn an_update_retires_only_what_this_tool_attached() {
        let ssm = arn("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore");
        let cw = arn("arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy");
        let mut old = spec();
        old.extra_policies = BTreeSet::from([ssm.clone(), cw.clone()]);
        old.user_tags = BTreeMap::from([("team".into(), "a".into()), ("env".into(), "prod".into())]);
        let mut new = spec();
        new.ip_family = IpFamily::Ipv6;
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
}
