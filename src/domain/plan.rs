//! plan = diff(desired, live): pure, no I/O. Every change the tool makes to IAM is one `Action` here.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use super::live::{CniCheck, LiveRole};
use super::policies;
use super::spec::{label, Boundary, NodeRoleSpec, Retired, TAG_PREFIX};
use super::{PolicyArn, RolePath};

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    CreateRole {
        path: RolePath,
        trust: Value,
        description: Option<String>,
        boundary: Option<PolicyArn>,
        tags: BTreeMap<String, String>,
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
        path: RolePath,
    },
    /// Puts the role in a profile this request made moments ago (no create attempt).
    AddToInstanceProfile(String),
    RemoveFromInstanceProfile(String),
    DeleteInstanceProfile(String),
    DeleteInlinePolicy(String),
    DeleteRole,
}

impl Action {
    /// The IAM operation this action is (EnsureInstanceProfile is two).
    pub fn operation(&self) -> &'static str {
        match self {
            Action::CreateRole { .. } => "CreateRole",
            Action::UpdateTrust(_) => "UpdateAssumeRolePolicy",
            Action::PutBoundary(_) => "PutRolePermissionsBoundary",
            Action::DeleteBoundary => "DeleteRolePermissionsBoundary",
            Action::UpdateDescription(_) => "UpdateRole",
            Action::TagRole(_) => "TagRole",
            Action::UntagRole(_) => "UntagRole",
            Action::AttachPolicy(_) => "AttachRolePolicy",
            Action::DetachPolicy(_) => "DetachRolePolicy",
            Action::EnsureInstanceProfile { .. } => "EnsureInstanceProfile",
            Action::AddToInstanceProfile(_) => "AddRoleToInstanceProfile",
            Action::RemoveFromInstanceProfile(_) => "RemoveRoleFromInstanceProfile",
            Action::DeleteInstanceProfile(_) => "DeleteInstanceProfile",
            Action::DeleteInlinePolicy(_) => "DeleteRolePolicy",
            Action::DeleteRole => "DeleteRole",
        }
    }

    /// Actions that only add to the role (policies, tags, its instance profile): once the role exists they may
    /// run in any order (IAM still takes one write to an entity at a time: see `changes_instance_profile`).
    pub fn is_independent(&self) -> bool {
        matches!(
            self,
            Action::AttachPolicy(_)
                | Action::EnsureInstanceProfile { .. }
                | Action::AddToInstanceProfile(_)
                | Action::TagRole(_)
        )
    }

    /// Writes to the instance profile rather than to the role: IAM takes them beside the role's own writes.
    pub fn changes_instance_profile(&self) -> bool {
        matches!(
            self,
            Action::EnsureInstanceProfile { .. }
                | Action::AddToInstanceProfile(_)
                | Action::RemoveFromInstanceProfile(_)
                | Action::DeleteInstanceProfile(_)
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::AttachPolicy(p) | Action::DetachPolicy(p) | Action::PutBoundary(p) => {
                write!(f, "{} {}", self.operation(), p.name())
            }
            Action::EnsureInstanceProfile { name, .. }
            | Action::AddToInstanceProfile(name)
            | Action::RemoveFromInstanceProfile(name)
            | Action::DeleteInstanceProfile(name)
            | Action::DeleteInlinePolicy(name) => write!(f, "{} {name}", self.operation()),
            Action::TagRole(t) => write!(f, "TagRole {}", t.keys().cloned().collect::<Vec<_>>().join(",")),
            Action::UntagRole(k) => write!(f, "UntagRole {}", k.iter().cloned().collect::<Vec<_>>().join(",")),
            _ => f.write_str(self.operation()),
        }
    }
}

impl Action {
    /// The role's creation: trust policy, description, boundary and label in one call.
    pub fn create_role(desired: &NodeRoleSpec) -> Action {
        Action::CreateRole {
            path: desired.path.clone(),
            trust: desired.trust_policy(),
            description: desired.description.clone(),
            boundary: match &desired.boundary {
                Boundary::Set(arn) => Some(arn.clone()),
                _ => None,
            },
            // The label only: IAM authorises CreateRole's tags as TagRole, and the policy lets label keys and
            // user keys through different statements. User tags follow in a TagRole of their own.
            tags: desired.labels(),
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

/// What a plan may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Create and Update: everything the stack declares, tags and description included.
    Lifecycle,
    /// Drift repair: what decides the role's permissions (trust, boundary, policies, instance profile). Tags
    /// never count as drift, so nobody can spend the circuit breaker by editing them.
    Repair,
}

/// diff(desired, live). `retired` holds what an Update takes away; drift repair passes the default (it only
/// restores what the desired state requires, never removes anything). An IPv6 CNI policy that `cni` did not
/// verify is never attached.
pub fn plan(desired: &NodeRoleSpec, live: Option<&LiveRole>, cni: &CniCheck, retired: &Retired, scope: Scope) -> Plan {
    let mut actions = Vec::new();
    let empty = BTreeSet::new();
    let attached = match live {
        None => {
            actions.push(Action::create_role(desired));
            &empty
        }
        Some(live) => {
            if scope == Scope::Lifecycle {
                actions.extend(plan_tags(desired, live, retired));
            }
            let trust_ok = live.trust.as_ref().is_some_and(|t| policies::is_ec2_trust(t, desired.partition));
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
            if let (Some(d), Scope::Lifecycle) = (&desired.description, scope) {
                if live.description.as_deref().unwrap_or("") != d {
                    actions.push(Action::UpdateDescription(d.clone()));
                }
            }
            &live.attached
        }
    };

    let unverified = desired.required_ipv6_cni().filter(|arn| *cni != CniCheck::Verified(arn.clone()));
    let required = desired.required_policies();
    for arn in &required {
        if !attached.contains(arn) && unverified.as_ref() != Some(arn) {
            actions.push(Action::AttachPolicy(arn.clone()));
        }
    }
    for arn in &retired.policies {
        if attached.contains(arn) && !required.contains(arn) && !desired.preexisting.contains(arn) {
            actions.push(Action::DetachPolicy(arn.clone()));
        }
    }

    if let Some(profile) = &desired.instance_profile {
        if live.and_then(|l| l.in_instance_profile(profile)).is_none() {
            actions.push(Action::EnsureInstanceProfile { name: profile.clone(), path: desired.path.clone() });
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

/// Tags of an existing role: the user's and the label brought up to date, retired user tags and label keys
/// the tool does not write (copied, forged or stale) removed.
fn plan_tags(desired: &NodeRoleSpec, live: &LiveRole, retired: &Retired) -> Vec<Action> {
    let mut actions = Vec::new();
    let stale: BTreeMap<String, String> =
        desired.all_tags().into_iter().filter(|(k, v)| live.tags.get(k) != Some(v)).collect();
    if !stale.is_empty() {
        actions.push(Action::TagRole(stale));
    }
    let wanted = desired.all_tags();
    let gone: BTreeSet<String> = live
        .tags
        .keys()
        .filter(|k| !wanted.keys().any(|w| w.eq_ignore_ascii_case(k)))
        .filter(|k| retired.tag_keys.contains(*k) || k.starts_with(TAG_PREFIX))
        .cloned()
        .collect();
    if !gone.is_empty() {
        actions.push(Action::UntagRole(gone));
    }
    actions
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

/// A permissions boundary someone else put on the role (an organisation's automation) that the installation does
/// not allow removing (`AllowedPermissionsBoundaryArns`): the plan's `DeleteBoundary` is dropped, the boundary is
/// left in place, and its ARN is returned for the answer's warning. An allowed one is removed as planned.
pub fn keep_foreign_boundary(plan: &mut Plan, live: &LiveRole, removable: &BTreeSet<PolicyArn>) -> Option<PolicyArn> {
    let kept = live.boundary.as_ref().filter(|b| !removable.contains(*b))?;
    let before = plan.actions.len();
    plan.actions.retain(|a| *a != Action::DeleteBoundary);
    (plan.actions.len() < before).then(|| kept.clone())
}

/// Gives an adopted role back: the instance profile the tool made for it removed, the label removed, the
/// boundary as it was found (`original_boundary`: `Some(None)` none, `None` not recorded: left as it is). The
/// policies stay (nodes may still run on it) and so does EC2's trust: a trust is never handed back, so no item,
/// forged or not, can make the guard give a role to another principal.
pub fn plan_release(live: &LiveRole, own_profile: Option<&str>, original_boundary: Option<Option<&PolicyArn>>) -> Plan {
    let mut actions = Vec::new();
    match original_boundary {
        Some(Some(b)) if live.boundary.as_ref() != Some(b) => actions.push(Action::PutBoundary(b.clone())),
        Some(None) if live.boundary.is_some() => actions.push(Action::DeleteBoundary),
        _ => {}
    }
    if let Some(own) = own_profile {
        if live.in_instance_profile(own).is_some() {
            actions.push(Action::RemoveFromInstanceProfile(own.to_string()));
        }
        actions.push(Action::DeleteInstanceProfile(own.to_string()));
    }
    let labels: BTreeSet<String> =
        live.tags.keys().filter(|k| label::ALL.contains(&k.as_str()) || k.starts_with(TAG_PREFIX)).cloned().collect();
    if !labels.is_empty() {
        actions.push(Action::UntagRole(labels));
    }
    Plan { actions }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::live::LiveInstanceProfile;
    use crate::domain::Partition;
    use crate::testing::{ipv6_spec, spec};

    fn live_matching(s: &NodeRoleSpec) -> LiveRole {
        LiveRole {
            name: s.name.clone(),
            path: s.path.clone(),
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

    fn kinds(p: &Plan) -> Vec<String> {
        p.summary()
    }

    const NONE: CniCheck = CniCheck::NotNeeded;

    fn full(s: &NodeRoleSpec, live: Option<&LiveRole>, retired: &Retired) -> Plan {
        plan(s, live, &NONE, retired, Scope::Lifecycle)
    }

    #[test]
    fn creates_the_role_with_the_ec2_trust_policy_then_attaches_and_adds_the_profile() {
        let s = spec();
        let p = full(&s, None, &Retired::default());
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
        assert!(p.actions[1..].iter().all(Action::is_independent));
    }

    #[test]
    fn a_role_that_matches_needs_nothing() {
        let s = spec();
        assert!(full(&s, Some(&live_matching(&s)), &Retired::default()).is_empty());
    }

    #[test]
    fn re_attaches_the_worker_node_policy_after_it_is_detached() {
        let s = spec();
        let mut live = live_matching(&s);
        live.attached.remove(&arn("arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"));
        let p = plan(&s, Some(&live), &NONE, &Retired::default(), Scope::Repair);
        assert_eq!(kinds(&p), ["AttachRolePolicy AmazonEKSWorkerNodePolicy"]);
    }

    #[test]
    fn repair_never_touches_tags_or_the_description() {
        let s = spec();
        let mut live = live_matching(&s);
        live.tags.clear();
        live.tags.insert("eks-node-role-guard:remediation".into(), "off".into());
        live.description = Some("changed".into());
        assert!(plan(&s, Some(&live), &NONE, &Retired::default(), Scope::Repair).is_empty());
        let p = full(&s, Some(&live), &Retired::default());
        assert_eq!(p.actions.len(), 3, "{p:?}");
        assert!(matches!(&p.actions[1], Action::UntagRole(k) if k.contains("eks-node-role-guard:remediation")));
    }

    #[test]
    fn replaces_a_trust_policy_that_does_not_match() {
        let s = spec();
        for trust in [None, Some(serde_json::json!({"Version":"2012-10-17","Statement":[]}))] {
            let mut live = live_matching(&s);
            live.trust = trust;
            let p = plan(&s, Some(&live), &NONE, &Retired::default(), Scope::Repair);
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
        assert_eq!(full(&s, Some(&live), &Retired::default()).actions, [Action::PutBoundary(b)]);
        let s = spec();
        let mut live = live_matching(&s);
        live.boundary = Some(other.clone());
        assert_eq!(full(&s, Some(&live), &Retired::default()).actions, [Action::DeleteBoundary]);
        let s = NodeRoleSpec { boundary: Boundary::Keep, ..spec() };
        let mut live = live_matching(&s);
        live.boundary = Some(other);
        assert!(full(&s, Some(&live), &Retired::default()).is_empty());
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
        let p = full(&s, Some(&live), &retired);
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
    fn a_tag_whose_key_changes_case_is_rewritten_not_removed() {
        let old = NodeRoleSpec { user_tags: BTreeMap::from([("Team".into(), "a".into())]), ..spec() };
        let new = NodeRoleSpec { user_tags: BTreeMap::from([("team".into(), "a".into())]), ..spec() };
        let live = live_matching(&old);
        let p = full(&new, Some(&live), &new.retired_since(&old));
        assert!(!p.actions.iter().any(|a| matches!(a, Action::UntagRole(_))), "{p:?}");
    }

    #[test]
    fn an_adopted_role_is_labelled_before_anything_else_changes() {
        let s = NodeRoleSpec { adopted: true, ..spec() };
        let mut live = live_matching(&s);
        live.tags.clear();
        live.trust = None;
        live.attached.clear();
        let p = full(&s, Some(&live), &Retired::default());
        assert!(matches!(&p.actions[0], Action::TagRole(t) if t.contains_key("eks-node-role-guard:managed")), "{p:?}");
        assert_eq!(p.actions[1], Action::UpdateTrust(s.trust_policy()));
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
        let p = full(&s, Some(&live), &retired);
        assert_eq!(p.actions, [Action::DetachPolicy(ssm)]);
    }

    #[test]
    fn never_detaches_anything_the_desired_state_does_not_mention() {
        let s = NodeRoleSpec { attach_cni: false, ..spec() };
        let mut live = live_matching(&s);
        live.attached.insert(arn("arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"));
        live.attached.insert(arn("arn:aws:iam::aws:policy/AdministratorAccess"));
        assert!(full(&s, Some(&live), &Retired::default()).is_empty());
    }

    #[test]
    fn puts_the_role_back_in_its_instance_profile() {
        let s = spec();
        let mut live = live_matching(&s);
        live.instance_profiles.clear();
        let p = plan(&s, Some(&live), &NONE, &Retired::default(), Scope::Repair);
        assert_eq!(p.actions, [Action::EnsureInstanceProfile { name: "NodeRole".into(), path: RolePath::root() }]);
    }

    #[test]
    fn deletes_the_instance_profile_when_no_longer_wanted() {
        let old = spec();
        let new = NodeRoleSpec { instance_profile: None, ..spec() };
        let retired = new.retired_since(&old);
        let live = live_matching(&old);
        let p = full(&new, Some(&live), &retired);
        let tail = &kinds(&p)[p.actions.len() - 2..];
        assert_eq!(tail, ["RemoveRoleFromInstanceProfile NodeRole", "DeleteInstanceProfile NodeRole"]);
    }

    #[test]
    fn the_ipv6_cni_policy_is_attached_only_when_verified() {
        let s = ipv6_spec();
        let ipv6 = s.required_ipv6_cni().unwrap();
        let p = plan(&s, None, &CniCheck::Verified(ipv6.clone()), &Retired::default(), Scope::Lifecycle);
        assert!(kinds(&p).contains(&"AttachRolePolicy AmazonEKS_CNI_IPv6_Policy".to_string()));
        for check in [CniCheck::Tampered(ipv6.clone()), CniCheck::Missing(ipv6.clone()), CniCheck::NotNeeded] {
            let p = plan(&s, None, &check, &Retired::default(), Scope::Lifecycle);
            assert!(!kinds(&p).iter().any(|a| a.contains("IPv6")), "{check:?}: {p:?}");
        }
        // A tampered policy already attached stays attached: detaching it would cut pod networking.
        let live = live_matching(&s);
        assert!(plan(&s, Some(&live), &CniCheck::Tampered(ipv6), &Retired::default(), Scope::Repair).is_empty());
    }

    #[test]
    fn switching_to_ipv6_swaps_the_cni_policy() {
        let old = spec();
        let new = ipv6_spec();
        let live = live_matching(&old);
        let p = full(&new, Some(&live), &new.retired_since(&old));
        assert!(kinds(&p).is_empty() || !kinds(&p).contains(&"AttachRolePolicy AmazonEKS_CNI_IPv6_Policy".into()));
        let p = plan(
            &new,
            Some(&live),
            &CniCheck::Verified(new.required_ipv6_cni().unwrap()),
            &new.retired_since(&old),
            Scope::Lifecycle,
        );
        let k = kinds(&p);
        assert!(k.contains(&"AttachRolePolicy AmazonEKS_CNI_IPv6_Policy".into()));
        assert!(k.contains(&"DetachRolePolicy AmazonEKS_CNI_Policy".into()));
    }

    #[test]
    fn in_china_a_role_keeps_the_ec2_principal_spelling_it_has() {
        let s = NodeRoleSpec { partition: Partition::AwsCn, ..spec() };
        let mut live = live_matching(&s);
        live.trust = Some(policies::ec2_trust_policy(Partition::Aws));
        assert!(plan(&s, Some(&live), &NONE, &Retired::default(), Scope::Repair).is_empty(), "ec2.amazonaws.com kept");
        let global = spec();
        let mut live = live_matching(&global);
        live.trust = Some(policies::ec2_trust_policy(Partition::AwsCn));
        let p = plan(&global, Some(&live), &NONE, &Retired::default(), Scope::Repair);
        assert_eq!(p.actions, [Action::UpdateTrust(global.trust_policy())], "outside China: the .cn spelling is wrong");
    }

    #[test]
    fn partition_is_respected_in_china() {
        let s = NodeRoleSpec { partition: Partition::AwsCn, ..spec() };
        let p = full(&s, None, &Retired::default());
        let Action::CreateRole { trust, .. } = &p.actions[0] else { panic!() };
        assert_eq!(trust["Statement"][0]["Principal"]["Service"], "ec2.amazonaws.com.cn");
        assert!(p.actions.iter().all(|a| match a {
            Action::AttachPolicy(p) => p.as_str().starts_with("arn:aws-cn:"),
            _ => true,
        }));
    }

    #[test]
    fn teardown_empties_the_role_then_deletes_it() {
        let s = ipv6_spec();
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
    fn a_boundary_the_installation_may_not_remove_is_kept_and_named() {
        let s = spec();
        let org = arn("arn:aws:iam::123456789012:policy/OrgBoundary");
        let mut live = live_matching(&s);
        live.boundary = Some(org.clone());
        live.attached.clear();
        let mut p = full(&s, Some(&live), &Retired::default());
        assert!(p.actions.contains(&Action::DeleteBoundary));
        assert_eq!(keep_foreign_boundary(&mut p, &live, &BTreeSet::new()), Some(org.clone()));
        assert!(!p.actions.contains(&Action::DeleteBoundary) && p.actions.len() == 3, "{p:?}");
        let mut p = full(&s, Some(&live), &Retired::default());
        assert_eq!(keep_foreign_boundary(&mut p, &live, &BTreeSet::from([org])), None, "allowed: removed");
        assert!(p.actions.contains(&Action::DeleteBoundary));
        let mut none = full(&s, Some(&live_matching(&s)), &Retired::default());
        assert_eq!(keep_foreign_boundary(&mut none, &live_matching(&s), &BTreeSet::new()), None);
    }

    #[test]
    fn release_never_hands_a_trust_back_restores_the_boundary_and_removes_the_label_and_the_tools_profile() {
        let s = NodeRoleSpec { adopted: true, ..spec() };
        let mut live = live_matching(&s);
        let p = plan_release(&live, Some("NodeRole"), None);
        assert_eq!(kinds(&p)[0..2], ["RemoveRoleFromInstanceProfile NodeRole", "DeleteInstanceProfile NodeRole"]);
        let Action::UntagRole(keys) = &p.actions[2] else { panic!("{p:?}") };
        assert_eq!(keys.len(), 4);
        assert!(!kinds(&p).iter().any(|a| a.starts_with("Detach") || a.starts_with("DeleteRole")));
        assert!(!p.actions.iter().any(|a| matches!(a, Action::UpdateTrust(_))), "EC2's trust stays: {p:?}");
        // The boundary as found: put back, or removed when it had none; left alone when not recorded.
        let guards = PolicyArn::parse("arn:aws:iam::123456789012:policy/guards", "b").unwrap();
        let found = PolicyArn::parse("arn:aws:iam::123456789012:policy/found", "b").unwrap();
        live.boundary = Some(guards.clone());
        assert!(plan_release(&live, None, Some(Some(&found))).actions.contains(&Action::PutBoundary(found.clone())));
        assert!(plan_release(&live, None, Some(None)).actions.contains(&Action::DeleteBoundary));
        let kept = plan_release(&live, None, None);
        assert!(!kept.actions.iter().any(|a| matches!(a, Action::PutBoundary(_) | Action::DeleteBoundary)));
        live.boundary = Some(found.clone());
        assert!(!plan_release(&live, None, Some(Some(&found)))
            .actions
            .iter()
            .any(|a| matches!(a, Action::PutBoundary(_))));
    }
}
