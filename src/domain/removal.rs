//! What a Delete does: nothing (and why), refuse, remove the item only (with a warning when a role is left in
//! place), tear the role down, or release an adopted one. Pure: from the requesting resource, its item, the
//! live role's `Ownership` (a label claim already checked) and what the function may detach.
//!
//! Whatever it does beyond "nothing" and "refuse" happens between `MarkDeleting` and `Remove`
//! (`crate::state::Transition`): repair stands down first, and the item goes last.

use std::collections::BTreeSet;

use super::live::LiveRole;
use super::ownership::Ownership;
use super::record::Record;
use super::{Owner, PolicyArn, RoleName};

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// Nothing of this resource's to remove.
    Nothing(Untouched),
    /// The role carries managed policies the function may not detach: nothing changes until they are gone.
    Refuse { role: RoleName, stuck: Vec<PolicyArn> },
    /// The role is in instance profiles the tool did not make (an EKS managed node group's `eks-…`, Karpenter's):
    /// nodes run under it. Nothing changes; the tool never takes a role out of someone else's profile.
    InUse { role: RoleName, profiles: Vec<String> },
    /// Only the item goes (and the instance profile the tool made, if any). `role_left`: a role is under the
    /// name but is not this resource's, so it stays, and the answer warns.
    ItemOnly { role_left: bool, profile: Option<String> },
    /// The role the tool created goes, with the profile the tool made.
    TearDown { profile: Option<String> },
    /// An adopted role is given back: original trust, the tool's profile deleted, label removed; the role stays.
    Release,
}

/// Why a Delete leaves everything alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untouched {
    NoItem,
    AnotherResource,
}

impl Removal {
    /// The warning a Delete answers with, if any.
    pub fn warning(&self, role: &RoleName) -> Option<String> {
        match self {
            Removal::ItemOnly { role_left: true, .. } => Some(format!(
                "role {role} is not the role this resource recorded (another RoleId, or a copy of its label on a role it did not make): it was left in place and only this resource's state item was removed"
            )),
            _ => None,
        }
    }

    /// The refusal's text, if this is one.
    pub fn refusal(&self) -> Option<String> {
        match self {
            Removal::Refuse { role, stuck } => Some(format!(
                "role {role} carries {}, which this function may not detach (not a node policy nor in AllowedAdditionalPolicyArns): detach it by hand, then retry the Delete; nothing was changed",
                stuck.iter().map(PolicyArn::as_str).collect::<Vec<_>>().join(", ")
            )),
            Removal::InUse { role, profiles } => Some(format!(
                "role {role} is in instance profile {}, which this function did not make (an EKS node group's or Karpenter's): nodes launched from it run under this role. Delete what uses the profile (or take the role out of it), then retry the Delete; nothing was changed",
                profiles.join(", ")
            )),
            _ => None,
        }
    }
}

/// The decision for `requester` deleting the role its item names. `attachable`: the managed policies the
/// function may detach (a teardown must be able to finish before it starts).
pub fn removal(
    requester: &Owner,
    record: Option<&Record>,
    live: Option<&LiveRole>,
    ownership: &Ownership,
    attachable: &BTreeSet<PolicyArn>,
) -> Removal {
    let Some(record) = record else { return Removal::Nothing(Untouched::NoItem) };
    if record.owner != *requester {
        return Removal::Nothing(Untouched::AnotherResource);
    }
    let profile = record.own_profile.clone();
    let live = match live {
        Some(l) if ownership.is_ours() => l,
        Some(_) => return Removal::ItemOnly { role_left: true, profile },
        None => return Removal::ItemOnly { role_left: false, profile },
    };
    if record.desired.adopted {
        return Removal::Release;
    }
    let foreign = foreign_profiles(live, &[record.own_profile.as_deref(), record.desired.instance_profile.as_deref()]);
    if !foreign.is_empty() {
        return Removal::InUse { role: live.name.clone(), profiles: foreign };
    }
    let stuck: Vec<PolicyArn> = live.attached.iter().filter(|p| !attachable.contains(*p)).cloned().collect();
    if !stuck.is_empty() {
        return Removal::Refuse { role: live.name.clone(), stuck };
    }
    Removal::TearDown { profile }
}

/// The instance profiles `live` is in other than `ours` (the one the tool made, the one the stack declares).
pub fn foreign_profiles(live: &LiveRole, ours: &[Option<&str>]) -> Vec<String> {
    let ours = |name: &str| ours.iter().flatten().any(|o| *o == name);
    live.instance_profiles.iter().filter(|p| !ours(&p.name)).map(|p| p.name.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{policies, LiveInstanceProfile, NodeRoleSpec, Partition};
    use crate::testing::spec;

    fn live(attached: &[PolicyArn]) -> LiveRole {
        LiveRole {
            name: spec().name,
            path: crate::domain::RolePath::root(),
            arn: "arn:aws:iam::123456789012:role/NodeRole".into(),
            role_id: "AROAOURS".into(),
            trust: None,
            description: None,
            boundary: None,
            tags: Default::default(),
            attached: attached.iter().cloned().collect(),
            instance_profiles: vec![],
        }
    }

    /// (case, item, live role, ownership, decision)
    type Case<'a> = (&'a str, Option<&'a Record>, Option<&'a LiveRole>, Ownership, Removal);

    #[test]
    fn every_delete_case() {
        let me = spec().owner;
        let made =
            Record { role_id: Some("AROAOURS".into()), own_profile: Some("NodeRole".into()), ..Record::new(spec()) };
        let adopted =
            Record { role_id: Some("AROAOURS".into()), ..Record::new(NodeRoleSpec { adopted: true, ..spec() }) };
        let mut theirs = made.clone();
        theirs.owner.logical_id = "OtherNodeRole".into();
        let worker = policies::worker_node_policy(Partition::Aws);
        let admin = PolicyArn::aws_managed(Partition::Aws, "AdministratorAccess");
        let attachable = BTreeSet::from([worker.clone()]);
        let node_role = live(std::slice::from_ref(&worker));
        let with_admin = live(&[worker.clone(), admin.clone()]);
        let profile = Some("NodeRole".to_string());
        let in_profile = |name: &str| LiveInstanceProfile { name: name.into(), arn: format!("arn:p/{name}") };
        let in_its_own = LiveRole { instance_profiles: vec![in_profile("NodeRole")], ..node_role.clone() };
        let in_node_group = LiveRole {
            instance_profiles: vec![in_profile("NodeRole"), in_profile("eks-4ec5f2a0-node-group")],
            ..with_admin.clone()
        };
        let in_declared = Record { own_profile: None, ..made.clone() };
        assert_eq!(in_declared.desired.instance_profile.as_deref(), Some("NodeRole"));
        use Ownership as O;
        let cases: Vec<Case> = vec![
            ("no item", None, Some(&node_role), O::Unmanaged, Removal::Nothing(Untouched::NoItem)),
            (
                "another resource's item",
                Some(&theirs),
                Some(&node_role),
                O::Recorded,
                Removal::Nothing(Untouched::AnotherResource),
            ),
            (
                "the role it made",
                Some(&made),
                Some(&node_role),
                O::Recorded,
                Removal::TearDown { profile: profile.clone() },
            ),
            (
                "the role an earlier attempt made, label checked",
                Some(&made),
                Some(&node_role),
                O::LabelVerified,
                Removal::TearDown { profile: profile.clone() },
            ),
            (
                "the role it made, in the profile it made",
                Some(&made),
                Some(&in_its_own),
                O::Recorded,
                Removal::TearDown { profile: profile.clone() },
            ),
            (
                "the role it made, in the profile the stack declared but did not make (it stays)",
                Some(&in_declared),
                Some(&in_its_own),
                O::Recorded,
                Removal::TearDown { profile: None },
            ),
            (
                "the role it made, in a node group's profile too (before any policy is looked at)",
                Some(&made),
                Some(&in_node_group),
                O::Recorded,
                Removal::InUse { role: spec().name, profiles: vec!["eks-4ec5f2a0-node-group".into()] },
            ),
            ("an adopted role", Some(&adopted), Some(&with_admin), O::Recorded, Removal::Release),
            (
                "a policy it may not detach",
                Some(&made),
                Some(&with_admin),
                O::Recorded,
                Removal::Refuse { role: spec().name, stuck: vec![admin.clone()] },
            ),
            (
                "the role already gone",
                Some(&made),
                None,
                O::Gone,
                Removal::ItemOnly { role_left: false, profile: profile.clone() },
            ),
            (
                "re-created outside the stack",
                Some(&made),
                Some(&with_admin),
                O::Replaced,
                Removal::ItemOnly { role_left: true, profile: profile.clone() },
            ),
            (
                "a copied label",
                Some(&made),
                Some(&with_admin),
                O::LabelDisputed(vec!["x".into()]),
                Removal::ItemOnly { role_left: true, profile: profile.clone() },
            ),
            (
                "a label never checked is not enough",
                Some(&made),
                Some(&node_role),
                O::Labelled,
                Removal::ItemOnly { role_left: true, profile: profile.clone() },
            ),
            (
                "someone else's role under the name",
                Some(&made),
                Some(&node_role),
                O::Foreign,
                Removal::ItemOnly { role_left: true, profile },
            ),
        ];
        for (case, record, role, ownership, want) in cases {
            assert_eq!(removal(&me, record, role, &ownership, &attachable), want, "{case}");
        }
    }

    #[test]
    fn a_refusal_names_what_is_stuck_and_a_role_left_in_place_is_a_warning() {
        let admin = PolicyArn::aws_managed(Partition::Aws, "AdministratorAccess");
        let refuse = Removal::Refuse { role: spec().name, stuck: vec![admin] };
        assert!(refuse.refusal().unwrap().contains("carries arn:aws:iam::aws:policy/AdministratorAccess"));
        assert_eq!(refuse.warning(&spec().name), None);
        let left = Removal::ItemOnly { role_left: true, profile: None };
        assert!(left.warning(&spec().name).unwrap().contains("left in place"));
        assert_eq!(Removal::ItemOnly { role_left: false, profile: None }.warning(&spec().name), None);
        let in_use = Removal::InUse { role: spec().name, profiles: vec!["eks-abc".into()] };
        let text = in_use.refusal().unwrap();
        assert!(text.contains("instance profile eks-abc") && text.contains("nothing was changed"), "{text}");
    }
}
