//! What a Create or Update may do with the role it finds under the name: make it, resume it, adopt it, or
//! refuse — and why. Pure: from the requesting resource, its item and the live role's `Ownership`.

use super::ownership::Ownership;
use super::record::Record;
use super::{Owner, RoleName};

/// Which request is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// A Create, or the new role of a replacing Update.
    Create { adopt_existing: bool },
    /// An Update in place of the role named by the PhysicalResourceId.
    Update,
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// No role under the name: create it.
    New,
    /// The role is this resource's (recorded; or made by an earlier attempt of this request, before its RoleId
    /// was recorded — its label still to be checked): converge it.
    Resume,
    /// Update: the recorded role is gone: create it again.
    Recreate,
    /// A role nobody manages, and AdoptExistingRole: adopt it once its content is checked.
    Adopt,
    /// An orphaned role (its stack resource gone), and AdoptExistingRole: adopt it once its content is checked,
    /// whatever its name (the guard made or adopted it, so it is in scope).
    AdoptOrphan,
    Refuse(Refusal),
}

/// Why a request may not take the role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Another resource's item names the role. `same_stack`: the owner is in the requester's stack, so it may be
    /// named; another stack's is not (a refusal must not tell an invoker what other stacks hold).
    OwnedElsewhere { role: RoleName, owner: Owner, same_stack: bool },
    /// Create: the item records another RoleId (the role was deleted and re-created outside the stack).
    Replaced { role: RoleName },
    /// Create: a role exists that nobody manages, and AdoptExistingRole is false.
    ExistsUnmanaged { role: RoleName },
    /// Update: no item, so the resource does not manage the role.
    NoItem { role: RoleName },
    /// Update: the live role is not the item's.
    NotRecorded { role: RoleName },
    /// Create: the role is orphaned (its stack resource is gone) and AdoptExistingRole is false.
    Orphaned { role: RoleName, owner: Owner },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::OwnedElsewhere { role, owner, same_stack: true } => write!(
                f,
                "role {role} is already managed by resource {} of this stack: choose another RoleName",
                owner.logical_id
            ),
            Refusal::OwnedElsewhere { role, .. } => write!(
                f,
                "role {role} is already managed by a resource of another stack: choose another RoleName (the state table says which)"
            ),
            Refusal::Replaced { role } => write!(
                f,
                "role {role} is not the role this resource recorded (its RoleId differs: it was deleted and re-created outside the stack); it is left alone: choose another RoleName"
            ),
            Refusal::ExistsUnmanaged { role } => write!(
                f,
                "role {role} already exists and is not managed by this stack: set AdoptExistingRole to true to adopt it, or choose another RoleName"
            ),
            Refusal::Orphaned { role, .. } => write!(
                f,
                "role {role} was managed by a stack resource that is gone (the role is orphaned): set AdoptExistingRole to true to take it over, or choose another RoleName"
            ),
            Refusal::NoItem { role } => {
                write!(f, "role {role} has no state item, so this resource does not manage it and it is not updated")
            }
            Refusal::NotRecorded { role } => write!(
                f,
                "role {role} is not the role this resource recorded (its RoleId differs: it was deleted and re-created outside the stack), so it is not updated"
            ),
        }
    }
}

/// The decision for `requester` asking to work on `role`, given its item and the live role's ownership.
pub fn claim(
    request: Request,
    requester: &Owner,
    role: &RoleName,
    record: Option<&Record>,
    ownership: &Ownership,
) -> Claim {
    // An orphaned item is taken over only by adoption, by its former owner too (the resource came back).
    if let Some(r) = record.filter(|r| r.owner != *requester || r.phase == super::record::Phase::Orphaned) {
        // An orphaned role: its stack resource is gone, and a Create may take it over (or make it again).
        return match (r.phase, request, ownership) {
            (super::record::Phase::Orphaned, Request::Create { .. }, Ownership::Gone) => Claim::New,
            (super::record::Phase::Orphaned, Request::Create { adopt_existing: true }, Ownership::Recorded) => {
                Claim::AdoptOrphan
            }
            (super::record::Phase::Orphaned, Request::Create { .. }, _) => {
                Claim::Refuse(Refusal::Orphaned { role: r.role_name.clone(), owner: r.owner.clone() })
            }
            _ => Claim::Refuse(Refusal::OwnedElsewhere {
                role: r.role_name.clone(),
                owner: r.owner.clone(),
                same_stack: r.owner.stack_id == requester.stack_id,
            }),
        };
    }
    let role = role.clone();
    match (request, ownership) {
        (Request::Create { .. }, Ownership::Absent | Ownership::Gone) => Claim::New,
        (Request::Create { .. }, Ownership::Recorded | Ownership::Labelled) => Claim::Resume,
        (Request::Create { .. }, Ownership::Replaced) => Claim::Refuse(Refusal::Replaced { role }),
        (Request::Create { adopt_existing: true }, _) => Claim::Adopt,
        (Request::Create { adopt_existing: false }, _) => Claim::Refuse(Refusal::ExistsUnmanaged { role }),
        (Request::Update, Ownership::Absent | Ownership::Unmanaged) => Claim::Refuse(Refusal::NoItem { role }),
        (Request::Update, Ownership::Gone) => Claim::Recreate,
        (Request::Update, Ownership::Recorded | Ownership::Labelled | Ownership::LabelVerified) => Claim::Resume,
        (Request::Update, _) => Claim::Refuse(Refusal::NotRecorded { role }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::spec;

    #[test]
    fn every_create_and_update_case() {
        let me = spec().owner;
        let mine = Record::new(spec());
        let mut theirs = Record::new(spec());
        theirs.owner.logical_id = "OtherNodeRole".into();
        let role = spec().name;
        let create = Request::Create { adopt_existing: false };
        let adopting = Request::Create { adopt_existing: true };
        use Ownership as O;
        let cases: Vec<(&str, Request, Option<&Record>, Ownership, Claim)> = vec![
            ("create, nothing there", create, None, O::Absent, Claim::New),
            ("create, its own item, role gone", create, Some(&mine), O::Gone, Claim::New),
            ("create retried over its own role", create, Some(&mine), O::Recorded, Claim::Resume),
            (
                "create retried over the role it made, RoleId unrecorded",
                create,
                Some(&mine),
                O::Labelled,
                Claim::Resume,
            ),
            (
                "create: its role was re-created outside",
                create,
                Some(&mine),
                O::Replaced,
                Claim::Refuse(Refusal::Replaced { role: role.clone() }),
            ),
            (
                "create: an unmanaged role",
                create,
                None,
                O::Unmanaged,
                Claim::Refuse(Refusal::ExistsUnmanaged { role: role.clone() }),
            ),
            (
                "create: a role the label does not tie to the item",
                create,
                Some(&mine),
                O::Foreign,
                Claim::Refuse(Refusal::ExistsUnmanaged { role: role.clone() }),
            ),
            ("adopt an unmanaged role", adopting, None, O::Unmanaged, Claim::Adopt),
            ("adopt after its own unfinished start", adopting, Some(&mine), O::Foreign, Claim::Adopt),
            (
                "adopting never overrides a replaced role",
                adopting,
                Some(&mine),
                O::Replaced,
                Claim::Refuse(Refusal::Replaced { role: role.clone() }),
            ),
            ("update its own role", Request::Update, Some(&mine), O::Recorded, Claim::Resume),
            (
                "update a role its label ties to the item, RoleId unrecorded",
                Request::Update,
                Some(&mine),
                O::Labelled,
                Claim::Resume,
            ),
            ("update: the role is gone", Request::Update, Some(&mine), O::Gone, Claim::Recreate),
            (
                "update: no item",
                Request::Update,
                None,
                O::Unmanaged,
                Claim::Refuse(Refusal::NoItem { role: role.clone() }),
            ),
            (
                "update: no item, no role",
                Request::Update,
                None,
                O::Absent,
                Claim::Refuse(Refusal::NoItem { role: role.clone() }),
            ),
            (
                "update: re-created outside",
                Request::Update,
                Some(&mine),
                O::Replaced,
                Claim::Refuse(Refusal::NotRecorded { role: role.clone() }),
            ),
            (
                "update: someone else's role",
                Request::Update,
                Some(&mine),
                O::Foreign,
                Claim::Refuse(Refusal::NotRecorded { role: role.clone() }),
            ),
        ];
        for (case, request, record, ownership, want) in cases {
            assert_eq!(claim(request, &me, &role, record, &ownership), want, "{case}");
        }
    }

    #[test]
    fn another_resources_item_refuses_every_request_whatever_the_role() {
        let me = spec().owner;
        let mut theirs = Record::new(spec());
        theirs.owner.logical_id = "OtherNodeRole".into();
        for request in
            [Request::Create { adopt_existing: true }, Request::Create { adopt_existing: false }, Request::Update]
        {
            for ownership in [Ownership::Gone, Ownership::Recorded, Ownership::Labelled, Ownership::Foreign] {
                let got = claim(request, &me, &spec().name, Some(&theirs), &ownership);
                assert!(
                    matches!(&got, Claim::Refuse(Refusal::OwnedElsewhere { owner, .. }) if owner.logical_id == "OtherNodeRole"),
                    "{request:?} {ownership:?}: {got:?}"
                );
            }
        }
        let refusal = Refusal::OwnedElsewhere { role: spec().name, owner: theirs.owner.clone(), same_stack: true };
        assert!(refusal.to_string().contains("already managed by resource OtherNodeRole of this stack"));
        let mut elsewhere = theirs.owner.clone();
        elsewhere.stack_id = "arn:aws:cloudformation:us-east-1:123456789012:stack/secret-project/1".into();
        let refusal = Refusal::OwnedElsewhere { role: spec().name, owner: elsewhere, same_stack: false };
        let said = refusal.to_string();
        assert!(
            !said.contains("secret-project") && !said.contains("OtherNodeRole"),
            "another stack is not named: {said}"
        );
    }
}
