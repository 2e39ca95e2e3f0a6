//! "Is this live role the one the state item stands for?" — one rule, used by the lifecycle, repair and the
//! audit. Only the item decides: a label on the role counts for nothing unless the item says the role was
//! being made by this resource (no RoleId recorded yet), and even then only once the role is checked to hold
//! nothing a node role may not (`Ownership::verified`).

use super::live::LiveRole;
use super::record::Record;
use super::spec::Label;

/// What the item and the live role say, together, about who owns the role under a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// No item and no role.
    Absent,
    /// A role without an item: nobody manages it (a label on it is copied or forged).
    Unmanaged,
    /// An item whose role does not exist.
    Gone,
    /// The live role's RoleId is the one the item records.
    Recorded,
    /// The item has no RoleId yet and the role carries the label of the item's owner: the role an earlier
    /// attempt made before it could record the RoleId — or a copy of the label. Not yet checked.
    Labelled,
    /// `Labelled`, and checked: the role holds nothing a node role may not.
    LabelVerified,
    /// `Labelled`, but the role holds what a node role may not: the label was copied onto a role made to be
    /// taken over. Each problem named.
    LabelDisputed(Vec<String>),
    /// The item records another RoleId: the role was deleted and re-created outside the stack.
    Replaced,
    /// The item has no RoleId and the role does not carry its owner's label: someone else's role.
    Foreign,
}

impl Ownership {
    /// The one rule.
    pub fn of(record: Option<&Record>, live: Option<&LiveRole>) -> Ownership {
        match (record, live) {
            (None, None) => Ownership::Absent,
            (None, Some(_)) => Ownership::Unmanaged,
            (Some(_), None) => Ownership::Gone,
            (Some(r), Some(l)) => match &r.role_id {
                Some(id) if *id == l.role_id => Ownership::Recorded,
                Some(_) => Ownership::Replaced,
                None if Label::of(&l.tags).and_then(|label| label.owner).as_ref() == Some(&r.owner) => {
                    Ownership::Labelled
                }
                None => Ownership::Foreign,
            },
        }
    }

    /// Whether a label claim must be checked before the role is treated as this resource's.
    pub fn needs_check(&self) -> bool {
        *self == Ownership::Labelled
    }

    /// A `Labelled` role after its content was checked: `problems` is what it holds that a node role may not.
    pub fn verified(self, problems: Vec<String>) -> Ownership {
        match self {
            Ownership::Labelled if problems.is_empty() => Ownership::LabelVerified,
            Ownership::Labelled => Ownership::LabelDisputed(problems),
            other => other,
        }
    }

    /// The live role is the item's (recorded, or its label checked): the lifecycle may act on it.
    pub fn is_ours(&self) -> bool {
        matches!(self, Ownership::Recorded | Ownership::LabelVerified)
    }
}

/// What CloudFormation shows of the stack resource an item names as its owner (read by the sweep).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerShows {
    /// The stack is in the middle of an operation: what it shows now may be a replacement's cleanup or a
    /// rollback half done, so nothing is concluded.
    Busy,
    /// The resource exists and names the item's role.
    Present,
    /// The resource is gone, and why: the item is orphaned.
    Gone(String),
    /// The resource now names another role (this id): the item is orphaned only if the resource has an item
    /// under that one (a replacement whose cleanup Delete CloudFormation gave up on).
    NamesAnother(String),
}

/// Pure: the owner's stack status (`None`: no such stack) and its resource's status and current physical id
/// (`None`: no such resource), for an item of `role`.
pub fn owner_shows(stack_status: Option<&str>, resource: Option<(&str, Option<&str>)>, role: &str) -> OwnerShows {
    let Some(stack) = stack_status else { return OwnerShows::Gone("its stack no longer exists".into()) };
    if stack == "DELETE_COMPLETE" {
        return OwnerShows::Gone("its stack was deleted without deleting it (the resource was retained)".into());
    }
    if stack.ends_with("_IN_PROGRESS") {
        return OwnerShows::Busy;
    }
    match resource {
        None => OwnerShows::Gone("its stack no longer has the resource".into()),
        Some((status, _)) if matches!(status, "DELETE_SKIPPED" | "DELETE_COMPLETE") => {
            OwnerShows::Gone(format!("its stack resource is {status}"))
        }
        Some((_, Some(current))) if !current.eq_ignore_ascii_case(role) => OwnerShows::NamesAnother(current.into()),
        Some(_) => OwnerShows::Present,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::spec;

    fn live(role_id: &str, labelled_for: Option<&Record>) -> LiveRole {
        let mut tags = std::collections::BTreeMap::new();
        if let Some(r) = labelled_for {
            tags = r.desired.labels();
        }
        LiveRole {
            name: spec().name,
            path: crate::domain::RolePath::root(),
            arn: "arn:aws:iam::123456789012:role/NodeRole".into(),
            role_id: role_id.into(),
            trust: None,
            description: None,
            boundary: None,
            tags,
            attached: Default::default(),
            instance_profiles: vec![],
        }
    }

    #[test]
    fn one_rule_for_every_combination_of_item_and_role() {
        let unrecorded = Record::new(spec());
        let recorded = Record { role_id: Some("AROAOURS".into()), ..Record::new(spec()) };
        let mut other_owner = Record::new(spec());
        other_owner.desired.owner.logical_id = "OtherNodeRole".into();
        let cases: Vec<(&str, Option<&Record>, Option<LiveRole>, Ownership)> = vec![
            ("nothing at all", None, None, Ownership::Absent),
            ("a role nobody manages", None, Some(live("AROAX", None)), Ownership::Unmanaged),
            ("a copied label makes no item", None, Some(live("AROAX", Some(&unrecorded))), Ownership::Unmanaged),
            ("the item's role deleted", Some(&recorded), None, Ownership::Gone),
            ("the recorded RoleId", Some(&recorded), Some(live("AROAOURS", None)), Ownership::Recorded),
            ("another RoleId", Some(&recorded), Some(live("AROAOTHER", None)), Ownership::Replaced),
            (
                "another RoleId, even with the label",
                Some(&recorded),
                Some(live("AROAOTHER", Some(&recorded))),
                Ownership::Replaced,
            ),
            (
                "no RoleId yet, the owner's label",
                Some(&unrecorded),
                Some(live("AROAX", Some(&unrecorded))),
                Ownership::Labelled,
            ),
            ("no RoleId yet, no label", Some(&unrecorded), Some(live("AROAX", None)), Ownership::Foreign),
            (
                "no RoleId yet, another resource's label",
                Some(&unrecorded),
                Some(live("AROAX", Some(&other_owner))),
                Ownership::Foreign,
            ),
        ];
        for (case, record, role, want) in cases {
            assert_eq!(Ownership::of(record, role.as_ref()), want, "{case}");
        }
    }

    #[test]
    fn a_label_counts_only_once_checked() {
        assert!(!Ownership::Labelled.is_ours());
        assert!(Ownership::Labelled.needs_check());
        assert_eq!(Ownership::Labelled.verified(vec![]), Ownership::LabelVerified);
        assert!(Ownership::LabelVerified.is_ours());
        let disputed = Ownership::Labelled.verified(vec!["it carries AdministratorAccess".into()]);
        assert!(!disputed.is_ours());
        assert_eq!(Ownership::Replaced.verified(vec![]), Ownership::Replaced, "only a label claim is upgraded");
        assert!(Ownership::Recorded.is_ours());
        for not_ours in
            [Ownership::Absent, Ownership::Unmanaged, Ownership::Gone, Ownership::Replaced, Ownership::Foreign]
        {
            assert!(!not_ours.is_ours(), "{not_ours:?}");
        }
    }

    #[test]
    fn what_the_owner_shows() {
        use OwnerShows::*;
        let gone = |s: OwnerShows| matches!(s, Gone(_));
        assert!(gone(owner_shows(None, None, "nodes")), "no stack");
        assert!(
            gone(owner_shows(Some("DELETE_COMPLETE"), Some(("DELETE_SKIPPED", Some("nodes"))), "nodes")),
            "retained"
        );
        assert_eq!(owner_shows(Some("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"), None, "nodes"), Busy, "mid-operation");
        assert_eq!(owner_shows(Some("ROLLBACK_IN_PROGRESS"), Some(("DELETE_IN_PROGRESS", Some("x"))), "nodes"), Busy);
        assert!(gone(owner_shows(Some("UPDATE_COMPLETE"), None, "nodes")), "resource removed without a Delete");
        assert!(gone(owner_shows(Some("UPDATE_COMPLETE"), Some(("DELETE_SKIPPED", Some("nodes"))), "nodes")));
        assert_eq!(owner_shows(Some("CREATE_COMPLETE"), Some(("CREATE_COMPLETE", Some("Nodes"))), "nodes"), Present);
        assert_eq!(
            owner_shows(Some("UPDATE_COMPLETE"), Some(("UPDATE_COMPLETE", Some("nodes-v2"))), "nodes"),
            NamesAnother("nodes-v2".into())
        );
        assert_eq!(owner_shows(Some("CREATE_COMPLETE"), Some(("CREATE_COMPLETE", None)), "nodes"), Present);
    }
}
