//! Every change to a state item, named. The reconciler applies them (`Reconciler::commit`), and nothing else
//! writes the store. What each writes, and when it is used, is the protocol in `super` (the module doc).

use std::time::Duration;

use serde_json::Value;

use super::{Expect, Phase, Record};
use crate::domain::{NodeRoleSpec, PolicyArn, RoleName};

/// A named change of the item.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// Create (or adoption): the item is written before the role exists or is touched — new, or this resource's
    /// own from an earlier attempt — with the desired state, `active`.
    Claim {
        desired: NodeRoleSpec,
        adopted: bool,
        original_trust: Option<Value>,
        original_boundary: Option<Option<PolicyArn>>,
        own_profile: Option<String>,
    },
    /// The RoleId of the role the item stands for, once the role exists (it never changes after).
    RecordRoleId(String),
    /// Update: the new desired state, before IAM changes. `role_gone`: the recorded role no longer exists, so
    /// its RoleId and original trust are forgotten (the role is created again).
    Desire { desired: NodeRoleSpec, own_profile: Option<String>, role_gone: bool },
    /// Delete, first: repair stands down for good.
    MarkDeleting,
    /// A repair, counted by the circuit breaker; refused when `max` repairs happened within `window`.
    RecordRepair { at: u64, window: Duration, max: usize, changes: Vec<String> },
    /// Repair found a permissions boundary on the role that the installation may not remove and left it: noted in
    /// the trail once, so that it is reported once, not on every sweep.
    NoteKeptBoundary(PolicyArn),
    /// The sweep found the item's stack resource gone: no longer enforced, never changed (why, in the trail).
    Orphan(String),
    /// Delete, last: the item goes once its role is removed or released.
    Remove,
}

/// The trail's words for a kept boundary (`NoteKeptBoundary`).
pub fn kept_boundary_note(boundary: &PolicyArn) -> String {
    format!("left boundary {boundary} in place")
}

/// What a transition asks of the store.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Write this record, on this condition.
    Put(Record, Expect),
    /// Remove the item of this role, if still at this version.
    Delete { role: RoleName, version: u64 },
    /// Nothing to write: the item already says it.
    Unchanged(Record),
    /// The transition does not apply to this item (the breaker is full; or there is no item to change).
    Refused,
}

impl Transition {
    /// Its name, for logs and the protocol's documentation.
    pub fn name(&self) -> &'static str {
        match self {
            Transition::Claim { .. } => "claim",
            Transition::RecordRoleId(_) => "record-role-id",
            Transition::Desire { .. } => "desire",
            Transition::MarkDeleting => "mark-deleting",
            Transition::RecordRepair { .. } => "record-repair",
            Transition::NoteKeptBoundary(_) => "note-kept-boundary",
            Transition::Orphan(_) => "orphan",
            Transition::Remove => "remove",
        }
    }

    /// May this transition be applied again to a newer item when another writer won the race? Only the
    /// breaker's record: the repair it counts has happened either way.
    pub fn rebases(&self) -> bool {
        matches!(self, Transition::RecordRepair { .. } | Transition::NoteKeptBoundary(_))
    }

    /// Pure: the write that takes `current` (as read) to the item after this transition, at `now` (unix s).
    pub fn next(&self, current: Option<&Record>, now: u64) -> Write {
        match (self, current) {
            (Transition::Claim { desired, adopted, original_trust, original_boundary, own_profile }, current) => {
                let mut item = current.cloned().unwrap_or_else(|| Record::new(desired.clone()));
                // Its owner's, or an orphaned item taken over by another resource.
                item.owner = desired.owner.clone();
                item.desired = desired.clone();
                item.original_trust = original_trust.clone();
                item.original_boundary = original_boundary.clone();
                item.own_profile = own_profile.clone();
                item.phase = Phase::Active;
                item.note(now, if *adopted { "adopted" } else { "created" });
                let expect = current.map(Record::expect).unwrap_or(Expect::NewOrOwn);
                Write::Put(item, expect)
            }
            (_, None) => Write::Refused,
            (Transition::RecordRoleId(id), Some(r)) if r.role_id.as_deref() == Some(id.as_str()) => {
                Write::Unchanged(r.clone())
            }
            (Transition::RecordRoleId(id), Some(r)) => {
                Write::Put(Record { role_id: Some(id.clone()), ..r.clone() }, r.expect())
            }
            (Transition::Desire { desired, own_profile, role_gone }, Some(r)) => {
                let mut item = Record {
                    desired: desired.clone(),
                    own_profile: own_profile.clone(),
                    phase: Phase::Active,
                    ..r.clone()
                };
                if *role_gone {
                    item.role_id = None;
                    item.original_trust = None;
                }
                item.note(now, "updated");
                Write::Put(item, r.expect())
            }
            (Transition::MarkDeleting, Some(r)) if r.phase == Phase::Deleting => Write::Unchanged(r.clone()),
            (Transition::MarkDeleting, Some(r)) => {
                let mut item = Record { phase: Phase::Deleting, ..r.clone() };
                item.note(now, "deleting");
                Write::Put(item, r.expect())
            }
            (Transition::RecordRepair { at, window, max, changes }, Some(r)) => {
                match r.admit_repair(*at, *window, *max) {
                    Some(mut item) => {
                        item.note(*at, &format!("repaired {}", changes.join(", ")));
                        Write::Put(item, r.expect())
                    }
                    None => Write::Refused,
                }
            }
            (Transition::NoteKeptBoundary(b), Some(r)) => {
                let note = kept_boundary_note(b);
                if r.has_note(&note) {
                    return Write::Unchanged(r.clone());
                }
                let mut item = r.clone();
                item.note(now, &note);
                Write::Put(item, r.expect())
            }
            (Transition::Orphan(_), Some(r)) if r.phase == Phase::Orphaned => Write::Unchanged(r.clone()),
            // A Delete has begun: the resource is going the ordinary way.
            (Transition::Orphan(_), Some(r)) if r.phase == Phase::Deleting => Write::Refused,
            (Transition::Orphan(why), Some(r)) => {
                let mut item = Record { phase: Phase::Orphaned, ..r.clone() };
                item.note(now, &format!("orphaned: {why}"));
                Write::Put(item, r.expect())
            }
            (Transition::Remove, Some(r)) => Write::Delete { role: r.role_name.clone(), version: r.version },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ipv6_spec, spec};

    const NOW: u64 = 1_795_000_000;
    const H: Duration = Duration::from_secs(3600);

    fn stored(version: u64) -> Record {
        Record { role_id: Some("AROAOURS".into()), version, ..Record::new(spec()) }
    }

    fn put(w: Write) -> (Record, Expect) {
        match w {
            Write::Put(r, e) => (r, e),
            other => panic!("expected a put, got {other:?}"),
        }
    }

    #[test]
    fn a_kept_boundary_is_noted_once() {
        let b = PolicyArn::aws_managed(crate::domain::Partition::Aws, "OrgBoundary");
        let Write::Put(noted, _) = Transition::NoteKeptBoundary(b.clone()).next(Some(&stored(1)), NOW) else {
            panic!("first time: written")
        };
        assert!(noted.trail.last().unwrap().ends_with(&kept_boundary_note(&b)));
        assert_eq!(Transition::NoteKeptBoundary(b.clone()).next(Some(&noted), NOW), Write::Unchanged(noted.clone()));
        assert!(Transition::NoteKeptBoundary(b).rebases());
    }

    #[test]
    fn a_claim_writes_a_new_item_only_where_there_is_none_or_its_own() {
        let claim = Transition::Claim {
            desired: spec(),
            adopted: false,
            original_trust: None,
            original_boundary: None,
            own_profile: Some("NodeRole".into()),
        };
        let (item, expect) = put(claim.next(None, NOW));
        assert_eq!(expect, Expect::NewOrOwn);
        assert_eq!((item.role_id, item.phase, item.own_profile.as_deref()), (None, Phase::Active, Some("NodeRole")));
        assert!(item.trail.last().unwrap().ends_with(" created"));

        // A retry over its own earlier attempt: conditional on the version read, the RoleId kept.
        let mut earlier = stored(4);
        earlier.phase = Phase::Deleting;
        let adopt = Transition::Claim {
            desired: ipv6_spec(),
            adopted: true,
            original_trust: Some(serde_json::json!({"Statement": []})),
            original_boundary: Some(None),
            own_profile: None,
        };
        let (item, expect) = put(adopt.next(Some(&earlier), NOW));
        assert_eq!(expect, Expect::Version(4));
        assert_eq!(item.role_id.as_deref(), Some("AROAOURS"));
        assert_eq!(item.phase, Phase::Active);
        assert_eq!(item.desired, ipv6_spec());
        assert!(item.original_trust.is_some());
        assert_eq!(item.original_boundary, Some(None), "adopted without a boundary: none to put back");
        assert!(item.trail.last().unwrap().ends_with(" adopted"));
    }

    #[test]
    fn the_role_id_is_recorded_once() {
        let unrecorded = Record { version: 1, ..Record::new(spec()) };
        let (item, expect) = put(Transition::RecordRoleId("AROANEW".into()).next(Some(&unrecorded), NOW));
        assert_eq!((item.role_id.as_deref(), expect), (Some("AROANEW"), Expect::Version(1)));
        assert_eq!(
            Transition::RecordRoleId("AROAOURS".into()).next(Some(&stored(2)), NOW),
            Write::Unchanged(stored(2))
        );
        assert_eq!(Transition::RecordRoleId("AROANEW".into()).next(None, NOW), Write::Refused, "no item, no RoleId");
    }

    #[test]
    fn desire_writes_the_new_state_and_forgets_a_role_that_is_gone() {
        let mut adopted = stored(3);
        adopted.original_trust = Some(serde_json::json!({}));
        let desire = |role_gone| Transition::Desire { desired: ipv6_spec(), own_profile: None, role_gone };
        let (item, expect) = put(desire(false).next(Some(&adopted), NOW));
        assert_eq!(expect, Expect::Version(3));
        assert_eq!((item.desired, item.role_id.as_deref()), (ipv6_spec(), Some("AROAOURS")));
        assert!(item.original_trust.is_some());
        let (item, _) = put(desire(true).next(Some(&adopted), NOW));
        assert_eq!((item.role_id, item.original_trust), (None, None));
        assert!(item.trail.last().unwrap().ends_with(" updated"));
    }

    #[test]
    fn marking_deleting_happens_once_and_removal_is_conditional_on_the_version() {
        let (item, _) = put(Transition::MarkDeleting.next(Some(&stored(5)), NOW));
        assert_eq!(item.phase, Phase::Deleting);
        let deleting = Record { version: 6, ..item };
        assert_eq!(Transition::MarkDeleting.next(Some(&deleting), NOW), Write::Unchanged(deleting.clone()));
        assert_eq!(
            Transition::Remove.next(Some(&deleting), NOW),
            Write::Delete { role: deleting.role_name.clone(), version: 6 }
        );
        assert_eq!(Transition::Remove.next(None, NOW), Write::Refused);
    }

    #[test]
    fn a_repair_is_recorded_until_the_breaker_is_full() {
        let repair =
            |at| Transition::RecordRepair { at, window: H, max: 2, changes: vec!["AttachRolePolicy X".into()] };
        let (once, _) = put(repair(NOW).next(Some(&stored(1)), NOW));
        assert_eq!(once.repairs, [NOW]);
        assert!(once.trail.last().unwrap().ends_with(" repaired AttachRolePolicy X"));
        let (twice, _) = put(repair(NOW + 1).next(Some(&once), NOW));
        assert_eq!(repair(NOW + 2).next(Some(&twice), NOW), Write::Refused, "the breaker is full");
        assert!(matches!(repair(NOW + 3601).next(Some(&twice), NOW), Write::Put(..)), "the window passed");
        assert!(repair(NOW).rebases() && !Transition::MarkDeleting.rebases());
    }
}
