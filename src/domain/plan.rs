//! plan = diff(desired, live): pure, no I/O. Every change the tool makes to IAM is one `Action` here.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use super::live::{LivePolicy, LiveRole, PolicyObservation};
use super::names::PolicyArn;
use super::policies;
use super::spec::{Boundary, NodeRoleSpec, Retired};

/// IAM keeps at most five versions of a managed policy.
const MAX_POLICY_VERSIONS: usize = 5;

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    CreateRole {
        path: String,
        trust: Value,
        description: Option<String>,
        boundary: Option<PolicyArn>,
        tags: BTreeMap<String, String>,
    },
    /// Creates the account's IPv6 CNI policy with the AWS document, tagged as ours.
    CreateCniIpv6Policy {
        arn: PolicyArn,
        document: Value,
    },
    /// Makes an existing, correct version the default again (undoes SetDefaultPolicyVersion).
    SetDefaultPolicyVersion {
        arn: PolicyArn,
        version: String,
    },
    /// Writes the AWS document as a new default version, first deleting the oldest version when five exist.
    CreatePolicyVersion {
        arn: PolicyArn,
        document: Value,
        prune: Option<String>,
    },
    UpdateTrust(Value),
    PutBoundary(PolicyArn),
    DeleteBoundary,
    UpdateDescription(String),
    TagRole(BTreeMap<String, String>),
    UntagRole(BTreeSet<String>),
    AttachPolicy(PolicyArn),
    DetachPolicy(PolicyArn),
    /// Creates the profile if needed and puts the role in it.
    EnsureInstanceProfile {
        name: String,
        path: String,
    },
    RemoveFromInstanceProfile(String),
    DeleteInstanceProfile(String),
    DeleteInlinePolicy(String),
    DeleteRole,
    /// Deletes the IPv6 CNI policy (and its old versions) unless something still uses it.
    DeletePolicy {
        arn: PolicyArn,
        versions: Vec<String>,
    },
}

impl Action {
    /// Whether this action touches the role's permissions in a way that counts as a repair.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::CreateRole { .. } => "CreateRole",
            Action::CreateCniIpv6Policy { .. } => "CreatePolicy",
            Action::SetDefaultPolicyVersion { .. } => "SetDefaultPolicyVersion",
            Action::CreatePolicyVersion { .. } => "CreatePolicyVersion",
            Action::UpdateTrust(_) => "UpdateAssumeRolePolicy",
            Action::PutBoundary(_) => "PutRolePermissionsBoundary",
            Action::DeleteBoundary => "DeleteRolePermissionsBoundary",
            Action::UpdateDescription(_) => "UpdateRole",
            Action::TagRole(_) => "TagRole",
            Action::UntagRole(_) => "UntagRole",
            Action::AttachPolicy(_) => "AttachRolePolicy",
            Action::DetachPolicy(_) => "DetachRolePolicy",
            Action::EnsureInstanceProfile { .. } => "EnsureInstanceProfile",
            Action::RemoveFromInstanceProfile(_) => "RemoveRoleFromInstanceProfile",
            Action::DeleteInstanceProfile(_) => "DeleteInstanceProfile",
            Action::DeleteInlinePolicy(_) => "DeleteRolePolicy",
            Action::DeleteRole => "DeleteRole",
            Action::DeletePolicy { .. } => "DeletePolicy",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::AttachPolicy(p) | Action::DetachPolicy(p) | Action::PutBoundary(p) => {
                write!(f, "{} {}", self.kind(), p.name())
            }
            Action::CreateCniIpv6Policy { arn, .. }
            | Action::CreatePolicyVersion { arn, .. }
            | Action::DeletePolicy { arn, .. } => write!(f, "{} {}", self.kind(), arn.name()),
            Action::SetDefaultPolicyVersion { arn, version } => {
                write!(f, "{} {} {version}", self.kind(), arn.name())
            }
            Action::EnsureInstanceProfile { name, .. }
            | Action::RemoveFromInstanceProfile(name)
            | Action::DeleteInstanceProfile(name)
            | Action::DeleteInlinePolicy(name) => write!(f, "{} {name}", self.kind()),
            Action::TagRole(t) => write!(f, "TagRole {}", t.keys().cloned().collect::<Vec<_>>().join(",")),
            Action::UntagRole(k) => write!(f, "UntagRole {}", k.iter().cloned().collect::<Vec<_>>().join(",")),
            _ => f.write_str(self.kind()),
        }
    }
}

/// The ordered changes that bring a role to its desired state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub actions: Vec<Action>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
    /// One-line summary for logs and responses, e.g. `["AttachRolePolicy AmazonEKSWorkerNodePolicy"]`.
    pub fn summary(&self) -> Vec<String> {
        self.actions.iter().map(ToString::to_string).collect()
    }
}

/// diff(desired, live). `retired` holds what an Update takes away; drift repair passes the default (it only
/// restores what the desired state requires, never removes anything).
pub fn plan(desired: &NodeRoleSpec, live: Option<&LiveRole>, cni: &PolicyObservation, retired: &Retired) -> Plan {
    let mut actions = Vec::new();
    let empty = BTreeSet::new();

    // The IPv6 CNI policy must exist (with the AWS document, when it is ours) before it is attached.
    if desired.cni_ipv6_policy().is_some() {
        actions.extend(plan_cni_policy(desired, cni));
    }

    let attached = match live {
        None => {
            actions.insert(
                0,
                Action::CreateRole {
                    path: desired.path.as_str().to_string(),
                    trust: desired.trust_policy(),
                    description: desired.description.clone(),
                    boundary: match &desired.boundary {
                        Boundary::Set(arn) => Some(arn.clone()),
                        _ => None,
                    },
                    tags: desired.all_tags(),
                },
            );
            &empty
        }
        Some(live) => {
            // Tags first: the management tags are what the tool's own IAM permissions are conditioned on.
            let stale: BTreeMap<String, String> =
                desired.all_tags().into_iter().filter(|(k, v)| live.tags.get(k) != Some(v)).collect();
            if !stale.is_empty() {
                actions.push(Action::TagRole(stale));
            }
            let mut gone: BTreeSet<String> =
                retired.tag_keys.iter().filter(|k| live.tags.contains_key(*k)).cloned().collect();
            // Continuation tags of a list that got shorter.
            gone.extend(
                live.tags
                    .keys()
                    .filter(|k| k.starts_with(super::spec::TAG_PREFIX) && k.contains('.'))
                    .filter(|k| !desired.management_tags().contains_key(*k))
                    .cloned(),
            );
            if !gone.is_empty() {
                actions.push(Action::UntagRole(gone));
            }
            let trust_ok = live.trust.as_ref().is_some_and(|t| policies::same_policy(t, &desired.trust_policy()));
            if !trust_ok {
                actions.push(Action::UpdateTrust(desired.trust_policy()));
            }
            match (&desired.boundary, &live.boundary) {
                (Boundary::Set(want), have) if have.as_ref() != Some(want) => {
                    actions.push(Action::PutBoundary(want.clone()))
                }
                (Boundary::Absent, Some(_)) => actions.push(Action::DeleteBoundary),
                _ => {}
            }
            if let Some(d) = &desired.description {
                if live.description.as_deref().unwrap_or("") != d {
                    actions.push(Action::UpdateDescription(d.clone()));
                }
            }
            &live.attached
        }
    };

    for arn in desired.required_policies() {
        if !attached.contains(&arn) {
            actions.push(Action::AttachPolicy(arn));
        }
    }
    let required = desired.required_policies();
    for arn in &retired.policies {
        if attached.contains(arn) && !required.contains(arn) && !desired.preexisting.contains(arn) {
            actions.push(Action::DetachPolicy(arn.clone()));
        }
    }

    if let Some(profile) = &desired.instance_profile {
        if live.and_then(|l| l.in_instance_profile(profile)).is_none() {
            actions
                .push(Action::EnsureInstanceProfile { name: profile.clone(), path: desired.path.as_str().to_string() });
        }
    }
    if let Some(old) = &retired.instance_profile {
        if desired.instance_profile.as_ref() != Some(old) {
            if live.is_some_and(|l| l.in_instance_profile(old).is_some()) {
                actions.push(Action::RemoveFromInstanceProfile(old.clone()));
            }
            actions.push(Action::DeleteInstanceProfile(old.clone()));
        }
    }
    Plan { actions }
}

fn plan_cni_policy(desired: &NodeRoleSpec, cni: &PolicyObservation) -> Option<Action> {
    let arn = desired.cni_ipv6_policy()?;
    let document = policies::cni_ipv6_policy_document(desired.partition);
    match cni {
        PolicyObservation::NotNeeded => None,
        PolicyObservation::Missing => Some(Action::CreateCniIpv6Policy { arn, document }),
        // A policy of that name we did not create is the account's own: used as it is.
        PolicyObservation::Present(p) if !p.created_by_us || p.default_matches => None,
        PolicyObservation::Present(LivePolicy { matching_version: Some(v), .. }) => {
            Some(Action::SetDefaultPolicyVersion { arn, version: v.clone() })
        }
        PolicyObservation::Present(p) => Some(Action::CreatePolicyVersion {
            arn,
            document,
            prune: (p.other_versions.len() + 1 >= MAX_POLICY_VERSIONS).then(|| p.other_versions[0].clone()),
        }),
    }
}

/// Everything that removes a role the tool created: out of its instance profiles (deleting the one it
/// created), all managed policies detached, inline policies deleted, then the role deleted.
pub fn plan_teardown(live: &LiveRole, own_profile: Option<&str>, inline_policies: &[String]) -> Plan {
    let mut actions = Vec::new();
    for p in &live.instance_profiles {
        actions.push(Action::RemoveFromInstanceProfile(p.name.clone()));
    }
    if let Some(own) = own_profile {
        actions.push(Action::DeleteInstanceProfile(own.to_string()));
    }
    actions.extend(live.attached.iter().cloned().map(Action::DetachPolicy));
    actions.extend(inline_policies.iter().cloned().map(Action::DeleteInlinePolicy));
    actions.push(Action::DeleteRole);
    Plan { actions }
}

/// The IPv6 CNI policy goes once nothing uses it, and only if this tool created it.
pub fn plan_policy_cleanup(cni: &PolicyObservation) -> Option<Action> {
    match cni {
        PolicyObservation::Present(p) if p.created_by_us && p.attachment_count <= 0 => {
            // Non-default versions go first; the default one goes with the policy.
            Some(Action::DeletePolicy { arn: p.arn.clone(), versions: p.other_versions.clone() })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::live::LiveInstanceProfile;
    use crate::domain::names::{IpFamily, Partition};
    use crate::domain::spec::tests::spec;

    fn live_matching(s: &NodeRoleSpec) -> LiveRole {
        LiveRole {
            name: s.name.clone(),
            path: s.path.as_str().into(),
            arn: format!("arn:aws:iam::123456789012:role/{}", s.name),
            role_id: "AROAEXAMPLE".into(),
            trust: Some(s.trust_policy()),
            description: s.description.clone(),
            boundary: match &s.boundary {
                Boundary::Set(a) => Some(a.clone()),
                _ => None,
            },
            tags: s.all_tags(),
            attached: s.required_policies(),
            instance_profiles: s
                .instance_profile
                .iter()
                .map(|n| LiveInstanceProfile {
                    name: n.clone(),
                    arn: format!("arn:aws:iam::123456789012:instance-profile/{n}"),
                })
                .collect(),
        }
    }

    fn arn(s: &str) -> PolicyArn {
        PolicyArn::parse(s, "x").unwrap()
    }

    fn ipv6_policy(created_by_us: bool, default_matches: bool) -> LivePolicy {
        LivePolicy {
            arn: arn("arn:aws:iam::123456789012:policy/AmazonEKS_CNI_IPv6_Policy"),
            created_by_us,
            attachment_count: 1,
            default_version: "v2".into(),
            default_matches,
            matching_version: None,
            other_versions: vec!["v1".into()],
        }
    }

    fn kinds(p: &Plan) -> Vec<String> {
        p.summary()
    }

    #[test]
    fn creates_the_role_with_the_ec2_trust_policy_then_attaches_and_adds_the_profile() {
        let s = spec();
        let p = plan(&s, None, &PolicyObservation::NotNeeded, &Retired::default());
        let Action::CreateRole { trust, tags, description, boundary, path } = &p.actions[0] else { panic!("{p:?}") };
        assert_eq!(trust["Statement"][0]["Principal"]["Service"], "ec2.amazonaws.com");
        assert_eq!(tags.get("eks-node-role-guard:managed").map(String::as_str), Some("true"));
        assert_eq!(description.as_deref(), Some("Amazon EKS - Node role"));
        assert_eq!((boundary, path.as_str()), (&None, "/"));
        assert_eq!(
            kinds(&p)[1..],
            [
                "AttachRolePolicy AmazonEC2ContainerRegistryPullOnly",
                "AttachRolePolicy AmazonEKSWorkerNodePolicy",
                "AttachRolePolicy AmazonEKS_CNI_Policy",
                "EnsureInstanceProfile NodeRole"
            ]
        );
    }

    #[test]
    fn a_role_that_matches_needs_nothing() {
        let s = spec();
        assert!(plan(&s, Some(&live_matching(&s)), &PolicyObservation::NotNeeded, &Retired::default()).is_empty());
    }

    #[test]
    fn re_attaches_the_worker_node_policy_after_it_is_detached() {
        let s = spec();
        let mut live = live_matching(&s);
        live.attached.remove(&arn("arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"));
        let p = plan(&s, Some(&live), &PolicyObservation::NotNeeded, &Retired::default());
        assert_eq!(kinds(&p), ["AttachRolePolicy AmazonEKSWorkerNodePolicy"]);
    }

    #[test]
    fn replaces_a_trust_policy_that_does_not_match() {
        let s = spec();
        for trust in [None, Some(serde_json::json!({"Version":"2012-10-17","Statement":[]}))] {
            let mut live = live_matching(&s);
            live.trust = trust;
            let p = plan(&s, Some(&live), &PolicyObservation::NotNeeded, &Retired::default());
            assert_eq!(p.actions, [Action::UpdateTrust(s.trust_policy())]);
        }
    }

    #[test]
    fn boundary_is_set_removed_or_left_alone() {
        let b = arn("arn:aws:iam::123456789012:policy/Boundary");
        let other = arn("arn:aws:iam::123456789012:policy/Other");
        let s = NodeRoleSpec { boundary: Boundary::Set(b.clone()), ..spec() };
        let mut live = live_matching(&s);
        live.boundary = Some(other.clone());
        assert_eq!(
            plan(&s, Some(&live), &PolicyObservation::NotNeeded, &Retired::default()).actions,
            [Action::PutBoundary(b)]
        );
        let s = spec();
        let mut live = live_matching(&s);
        live.boundary = Some(other.clone());
        assert_eq!(
            plan(&s, Some(&live), &PolicyObservation::NotNeeded, &Retired::default()).actions,
            [Action::DeleteBoundary]
        );
        let s = NodeRoleSpec { boundary: Boundary::Keep, ..spec() };
        let mut live = live_matching(&s);
        live.boundary = Some(other);
        assert!(plan(&s, Some(&live), &PolicyObservation::NotNeeded, &Retired::default()).is_empty());
    }

    #[test]
    fn description_and_tags_are_brought_up_to_date_and_retired_tags_removed() {
        let mut s = spec();
        let mut live = live_matching(&s);
        live.description = Some("old".into());
        live.tags.insert("env".into(), "prod".into());
        s.user_tags.insert("team".into(), "x".into());
        let retired =
            Retired { tag_keys: BTreeSet::from(["env".to_string(), "absent".to_string()]), ..Default::default() };
        let p = plan(&s, Some(&live), &PolicyObservation::NotNeeded, &retired);
        assert_eq!(
            p.actions,
            [
                Action::TagRole(BTreeMap::from([("team".into(), "x".into())])),
                Action::UntagRole(BTreeSet::from(["env".into()])),
                Action::UpdateDescription("Amazon EKS - Node role".into()),
            ]
        );
    }

    #[test]
    fn an_adopted_role_is_tagged_before_anything_else_changes() {
        let s = NodeRoleSpec { adopted: true, ..spec() };
        let mut live = live_matching(&s);
        live.tags.clear();
        live.trust = None;
        live.attached.clear();
        let p = plan(&s, Some(&live), &PolicyObservation::NotNeeded, &Retired::default());
        assert!(matches!(&p.actions[0], Action::TagRole(t) if t.contains_key("eks-node-role-guard:managed")), "{p:?}");
        assert_eq!(p.actions[1], Action::UpdateTrust(s.trust_policy()));
    }

    #[test]
    fn removes_continuation_tags_of_a_list_that_got_shorter() {
        let s = spec();
        let mut live = live_matching(&s);
        live.tags.insert("eks-node-role-guard:extra-policies.2".into(), "arn:aws:iam::aws:policy/X".into());
        let p = plan(&s, Some(&live), &PolicyObservation::NotNeeded, &Retired::default());
        assert_eq!(p.actions, [Action::UntagRole(BTreeSet::from(["eks-node-role-guard:extra-policies.2".into()]))]);
    }

    #[test]
    fn detaches_only_retired_policies_that_are_attached_and_not_preexisting() {
        let ssm = arn("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore");
        let cw = arn("arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy");
        let absent = arn("arn:aws:iam::aws:policy/Absent");
        let mut s = spec();
        s.preexisting.insert(cw.clone());
        let mut live = live_matching(&s);
        live.attached.extend([ssm.clone(), cw.clone()]);
        let retired = Retired { policies: BTreeSet::from([ssm.clone(), cw, absent]), ..Default::default() };
        let p = plan(&s, Some(&live), &PolicyObservation::NotNeeded, &retired);
        assert_eq!(p.actions, [Action::DetachPolicy(ssm)]);
    }

    #[test]
    fn never_detaches_anything_the_desired_state_does_not_mention() {
        let s = NodeRoleSpec { attach_cni: false, ..spec() };
        let mut live = live_matching(&s);
        live.attached.insert(arn("arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"));
        live.attached.insert(arn("arn:aws:iam::aws:policy/AdministratorAccess"));
        assert!(plan(&s, Some(&live), &PolicyObservation::NotNeeded, &Retired::default()).is_empty());
    }

    #[test]
    fn puts_the_role_back_in_its_instance_profile() {
        let s = spec();
        let mut live = live_matching(&s);
        live.instance_profiles.clear();
        let p = plan(&s, Some(&live), &PolicyObservation::NotNeeded, &Retired::default());
        assert_eq!(p.actions, [Action::EnsureInstanceProfile { name: "NodeRole".into(), path: "/".into() }]);
    }

    #[test]
    fn deletes_the_instance_profile_when_no_longer_wanted() {
        let old = spec();
        let new = NodeRoleSpec { instance_profile: None, ..spec() };
        let retired = new.retired_since(&old);
        let live = live_matching(&old);
        let p = plan(&new, Some(&live), &PolicyObservation::NotNeeded, &retired);
        let tail = &kinds(&p)[p.actions.len() - 2..];
        assert_eq!(tail, ["RemoveRoleFromInstanceProfile NodeRole", "DeleteInstanceProfile NodeRole"]);
    }

    #[test]
    fn ipv6_creates_the_cni_policy_once_and_reuses_it() {
        let s = NodeRoleSpec { ip_family: IpFamily::Ipv6, ..spec() };
        let p = plan(&s, None, &PolicyObservation::Missing, &Retired::default());
        assert!(matches!(p.actions[1], Action::CreateCniIpv6Policy { .. }), "{p:?}");
        assert!(kinds(&p).contains(&"AttachRolePolicy AmazonEKS_CNI_IPv6_Policy".to_string()));
        let p = plan(&s, None, &PolicyObservation::Present(ipv6_policy(true, true)), &Retired::default());
        assert!(!p.actions.iter().any(|a| matches!(a, Action::CreateCniIpv6Policy { .. })));
        // Someone else's policy of that name is used as it is, even if its document differs.
        let p = plan(&s, None, &PolicyObservation::Present(ipv6_policy(false, false)), &Retired::default());
        assert!(!p.actions.iter().any(|a| a.kind().contains("Policy") && !a.kind().starts_with("Attach")), "{p:?}");
    }

    #[test]
    fn restores_the_ipv6_policy_document_we_own() {
        let s = NodeRoleSpec { ip_family: IpFamily::Ipv6, ..spec() };
        let live = live_matching(&s);
        let mut pol = ipv6_policy(true, false);
        pol.matching_version = Some("v1".into());
        let p = plan(&s, Some(&live), &PolicyObservation::Present(pol.clone()), &Retired::default());
        assert_eq!(p.actions, [Action::SetDefaultPolicyVersion { arn: pol.arn.clone(), version: "v1".into() }]);
        pol.matching_version = None;
        let p = plan(&s, Some(&live), &PolicyObservation::Present(pol.clone()), &Retired::default());
        assert!(matches!(&p.actions[..], [Action::CreatePolicyVersion { prune: None, .. }]), "{p:?}");
        pol.other_versions = vec!["v1".into(), "v3".into(), "v4".into(), "v5".into()];
        let p = plan(&s, Some(&live), &PolicyObservation::Present(pol), &Retired::default());
        assert!(matches!(&p.actions[..], [Action::CreatePolicyVersion { prune: Some(v), .. }] if v == "v1"), "{p:?}");
    }

    #[test]
    fn switching_to_ipv6_swaps_the_cni_policy() {
        let old = spec();
        let new = NodeRoleSpec { ip_family: IpFamily::Ipv6, ..spec() };
        let live = live_matching(&old);
        let p = plan(&new, Some(&live), &PolicyObservation::Missing, &new.retired_since(&old));
        let k = kinds(&p);
        assert_eq!(k[0], "CreatePolicy AmazonEKS_CNI_IPv6_Policy");
        assert!(k.contains(&"AttachRolePolicy AmazonEKS_CNI_IPv6_Policy".into()));
        assert!(k.contains(&"DetachRolePolicy AmazonEKS_CNI_Policy".into()));
    }

    #[test]
    fn partition_is_respected_in_china() {
        let s = NodeRoleSpec { partition: Partition::AwsCn, ..spec() };
        let p = plan(&s, None, &PolicyObservation::NotNeeded, &Retired::default());
        let Action::CreateRole { trust, .. } = &p.actions[0] else { panic!() };
        assert_eq!(trust["Statement"][0]["Principal"]["Service"], "ec2.amazonaws.com.cn");
        assert!(p.actions.iter().all(|a| match a {
            Action::AttachPolicy(p) => p.as_str().starts_with("arn:aws-cn:"),
            _ => true,
        }));
    }

    #[test]
    fn teardown_empties_the_role_then_deletes_it() {
        let s = NodeRoleSpec { ip_family: IpFamily::Ipv6, ..spec() };
        let mut live = live_matching(&s);
        live.instance_profiles.push(LiveInstanceProfile { name: "Other".into(), arn: "x".into() });
        let p = plan_teardown(&live, Some("NodeRole"), &["inline".to_string()]);
        let k = kinds(&p);
        assert_eq!(
            k[0..3],
            [
                "RemoveRoleFromInstanceProfile NodeRole",
                "RemoveRoleFromInstanceProfile Other",
                "DeleteInstanceProfile NodeRole"
            ]
        );
        assert_eq!(k.iter().filter(|a| a.starts_with("DetachRolePolicy")).count(), 3);
        assert_eq!(k[k.len() - 2..], ["DeleteRolePolicy inline", "DeleteRole"]);
        let p = plan_teardown(&live, None, &[]);
        assert!(!kinds(&p).iter().any(|a| a.starts_with("DeleteInstanceProfile")));
    }

    #[test]
    fn the_ipv6_policy_is_deleted_only_when_ours_and_unused() {
        let mut unused = ipv6_policy(true, true);
        unused.attachment_count = 0;
        let Some(Action::DeletePolicy { versions, .. }) =
            plan_policy_cleanup(&PolicyObservation::Present(unused.clone()))
        else {
            panic!("expected a DeletePolicy")
        };
        assert_eq!(versions, ["v1"]);
        assert_eq!(plan_policy_cleanup(&PolicyObservation::Present(ipv6_policy(true, true))), None, "still attached");
        unused.created_by_us = false;
        assert_eq!(plan_policy_cleanup(&PolicyObservation::Present(unused)), None, "not ours");
        assert_eq!(plan_policy_cleanup(&PolicyObservation::Missing), None);
    }
}
