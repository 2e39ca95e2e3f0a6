//! When drift repair acts, and what it does — the whole answer to "when does repair refuse to act?". Pure, in
//! two steps: `triage` from the item and the live role (before anything else is read), then `decide` from the
//! desired state, the live role, the IPv6 CNI policy's check and the breaker. Routing (`crate::eventbridge`)
//! decides earlier which events name a role at all; `plan` (`Scope::Repair`) decides which changes are drift.

use std::collections::BTreeSet;
use std::time::Duration;

use super::live::{CniCheck, LiveRole};
use super::ownership::Ownership;
use super::plan::{keep_foreign_boundary, plan, Plan, Scope};
use super::record::{Phase, Record};
use super::spec::Retired;
use super::{PolicyArn, RemediationMode};

/// Why repair leaves a role alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignore {
    /// No item: nobody manages the role.
    NotManaged,
    NoRoleNoItem,
    /// The item is `deleting`: its stack is removing the role, repair never fights that.
    Deleting,
    /// The item has no RoleId yet and there is no role: its Create is still making it.
    BeingCreated,
    /// The item is `orphaned`: its stack resource is gone, so nothing is enforced.
    Orphaned,
    /// The live role is not the one the item records (re-created outside its stack, or not created yet).
    NotRecorded,
    /// The stricter of the role's and the installation's remediation modes is `off`.
    Off,
}

impl Ignore {
    pub fn reason(self) -> &'static str {
        match self {
            Ignore::NotManaged => "not managed by eks-node-role-guard (no state item)",
            Ignore::NoRoleNoItem => "no such role and no state item",
            Ignore::Deleting => "its stack is deleting it",
            Ignore::BeingCreated => "its stack is still creating it",
            Ignore::Orphaned => "its stack resource is gone (orphaned): no longer enforced",
            Ignore::NotRecorded => {
                "the role's RoleId is not the one its state item records (re-created outside its stack, or not created yet)"
            }
            Ignore::Off => "remediation is off",
        }
    }
}

/// The first step's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Triage {
    Ignore(Ignore),
    /// The item's role was deleted outside its stack: reported, never re-created.
    Deleted,
    /// The role is the item's: go on, in this mode (`enforce` or `dry-run`).
    Proceed(RemediationMode),
}

/// Step one: does repair look at this role at all? (Labels decide nothing: without an item a role is not
/// managed, whatever it carries.)
pub fn triage(record: Option<&Record>, live: Option<&LiveRole>, global: RemediationMode) -> Triage {
    let ownership = Ownership::of(record, live);
    match (record, ownership) {
        (_, Ownership::Unmanaged) => Triage::Ignore(Ignore::NotManaged),
        (_, Ownership::Absent) => Triage::Ignore(Ignore::NoRoleNoItem),
        (Some(r), _) if r.phase == Phase::Deleting => Triage::Ignore(Ignore::Deleting),
        (Some(r), _) if r.phase == Phase::Orphaned => Triage::Ignore(Ignore::Orphaned),
        (Some(r), Ownership::Gone) if r.role_id.is_none() => Triage::Ignore(Ignore::BeingCreated),
        (_, Ownership::Gone) => Triage::Deleted,
        (Some(r), Ownership::Recorded) => match r.desired.remediation.max(global) {
            RemediationMode::Off => Triage::Ignore(Ignore::Off),
            mode => Triage::Proceed(mode),
        },
        // Repair trusts the RoleId alone: a label, even checked, is for the lifecycle's own retries.
        _ => Triage::Ignore(Ignore::NotRecorded),
    }
}

/// What the call behind an event changed, as its request parameters say: what the first read of the role should
/// show. IAM's reads lag its writes, so a read made at once may not show it yet; repair then reads once more.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `DetachRolePolicy`.
    Detached(PolicyArn),
    /// `UpdateAssumeRolePolicy`, with the document it wrote.
    Trust(serde_json::Value),
    /// `PutRolePermissionsBoundary`.
    Boundary(PolicyArn),
    /// `DeleteRolePermissionsBoundary`.
    BoundaryRemoved,
    /// `RemoveRoleFromInstanceProfile`, `DeleteInstanceProfile`: the role is no longer in this profile.
    LeftProfile(String),
    /// `DeleteRole`.
    RoleDeleted,
    /// Nothing to look for (a sweep, or a call whose parameters could not be read).
    Unknown,
}

impl Change {
    /// Whether `live` (the role as read; `None`: no such role) shows the change. A change it cannot tell about
    /// counts as shown: a second read is for a change the first read visibly missed.
    pub fn shown_by(&self, live: Option<&LiveRole>) -> bool {
        let Some(live) = live else { return true };
        match self {
            Change::Detached(arn) => !live.attached.contains(arn),
            Change::Trust(doc) => live.trust.as_ref().is_none_or(|t| super::policies::same_policy(t, doc)),
            Change::Boundary(arn) => live.boundary.as_ref() == Some(arn),
            Change::BoundaryRemoved => live.boundary.is_none(),
            Change::LeftProfile(name) => !live.instance_profiles.iter().any(|p| &p.name == name),
            Change::RoleDeleted => false,
            Change::Unknown => true,
        }
    }
}

/// Step two's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Repair {
    InSync,
    /// Dry-run: the plan is reported, not applied.
    DryRun(Plan),
    /// Apply the plan, and record it for the breaker (`Transition::RecordRepair`).
    Apply(Plan),
    /// The role drifted again too often within the window: nothing is applied until it passes.
    CircuitOpen(Plan),
}

/// Step two, with the decision whether the IPv6 CNI policy is missing or tampered (reported, and the repair
/// then fails: the policy stays attached, and is never attached anywhere new).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub repair: Repair,
    pub cni_tampered: Option<PolicyArn>,
    /// A boundary someone else put on the role that the installation may not remove: left in place.
    pub kept_boundary: Option<PolicyArn>,
}

impl Decision {
    /// The plan, whatever is done with it.
    pub fn plan(&self) -> Option<&Plan> {
        match &self.repair {
            Repair::InSync => None,
            Repair::DryRun(p) | Repair::Apply(p) | Repair::CircuitOpen(p) => Some(p),
        }
    }
}

/// The breaker: at most `max` repairs of one role within `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breaker {
    pub max: usize,
    pub window: Duration,
}

/// Step two: what repair does to a role `triage` let through. Repair restores what decides the role's
/// permissions and never removes anything (no retired state), never touches tags.
pub fn decide(
    record: &Record,
    live: &LiveRole,
    mode: RemediationMode,
    cni: &CniCheck,
    breaker: Breaker,
    removable_boundaries: &BTreeSet<PolicyArn>,
    now: u64,
) -> Decision {
    let cni_tampered = match cni {
        CniCheck::Tampered(arn) | CniCheck::Missing(arn) => Some(arn.clone()),
        _ => None,
    };
    let mut planned = plan(&record.desired, Some(live), cni, &Retired::default(), Scope::Repair);
    let kept_boundary = keep_foreign_boundary(&mut planned, live, removable_boundaries);
    let repair = if planned.is_empty() {
        Repair::InSync
    } else if mode == RemediationMode::DryRun {
        Repair::DryRun(planned)
    } else if record.recent_repairs(now, breaker.window) >= breaker.max {
        Repair::CircuitOpen(planned)
    } else {
        Repair::Apply(planned)
    };
    Decision { repair, cni_tampered, kept_boundary }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{policies, Action, NodeRoleSpec, Partition};
    use crate::testing::{ipv6_spec, spec};

    const NOW: u64 = 1_795_000_000;
    const BREAKER: Breaker = Breaker { max: 2, window: Duration::from_secs(3600) };

    fn live(desired: &NodeRoleSpec, role_id: &str) -> LiveRole {
        LiveRole {
            name: desired.name.clone(),
            path: crate::domain::RolePath::root(),
            arn: "arn:aws:iam::123456789012:role/NodeRole".into(),
            role_id: role_id.into(),
            trust: Some(desired.trust_policy()),
            description: desired.description.clone(),
            boundary: None,
            tags: desired.all_tags(),
            attached: desired.required_policies(),
            instance_profiles: vec![crate::domain::LiveInstanceProfile {
                name: "NodeRole".into(),
                arn: "arn:aws:iam::123456789012:instance-profile/NodeRole".into(),
            }],
        }
    }

    fn recorded(desired: NodeRoleSpec) -> Record {
        Record { role_id: Some("AROAOURS".into()), ..Record::new(desired) }
    }

    /// (case, item, live role, installation mode, answer)
    type TriageCase<'a> = (&'a str, Option<&'a Record>, Option<&'a LiveRole>, RemediationMode, Triage);

    #[test]
    fn triage_every_case() {
        use RemediationMode::{DryRun, Enforce, Off};
        let item = recorded(spec());
        let ours = live(&spec(), "AROAOURS");
        let mut deleting = item.clone();
        deleting.phase = Phase::Deleting;
        let dry = recorded(NodeRoleSpec { remediation: DryRun, ..spec() });
        let off = recorded(NodeRoleSpec { remediation: Off, ..spec() });
        let mut unlabelled = ours.clone();
        unlabelled.tags.clear();
        let unrecorded = Record::new(spec());
        let other = live(&spec(), "AROAOTHER");
        let cases: Vec<TriageCase> = vec![
            ("its own role", Some(&item), Some(&ours), Enforce, Triage::Proceed(Enforce)),
            ("a copied label", None, Some(&ours), Enforce, Triage::Ignore(Ignore::NotManaged)),
            ("an unlabelled unmanaged role", None, Some(&unlabelled), Enforce, Triage::Ignore(Ignore::NotManaged)),
            ("nothing at all", None, None, Enforce, Triage::Ignore(Ignore::NoRoleNoItem)),
            ("its stack is deleting it", Some(&deleting), Some(&ours), Enforce, Triage::Ignore(Ignore::Deleting)),
            ("deleting, and the role already gone", Some(&deleting), None, Enforce, Triage::Ignore(Ignore::Deleting)),
            ("deleted outside its stack", Some(&item), None, Enforce, Triage::Deleted),
            ("not created yet", Some(&unrecorded), None, Enforce, Triage::Ignore(Ignore::BeingCreated)),
            ("re-created outside its stack", Some(&item), Some(&other), Enforce, Triage::Ignore(Ignore::NotRecorded)),
            (
                "its label but no RoleId yet",
                Some(&unrecorded),
                Some(&ours),
                Enforce,
                Triage::Ignore(Ignore::NotRecorded),
            ),
            ("the role's own dry-run", Some(&dry), Some(&ours), Enforce, Triage::Proceed(DryRun)),
            ("the installation's dry-run", Some(&item), Some(&ours), DryRun, Triage::Proceed(DryRun)),
            ("the role's own off", Some(&off), Some(&ours), DryRun, Triage::Ignore(Ignore::Off)),
            ("the installation's off", Some(&dry), Some(&ours), Off, Triage::Ignore(Ignore::Off)),
        ];
        for (case, record, role, global, want) in cases {
            assert_eq!(triage(record, role, global), want, "{case}");
        }
    }

    #[test]
    fn a_read_shows_a_change_only_when_it_reflects_it() {
        let ours = live(&spec(), "AROAOURS");
        let worker = policies::worker_node_policy(Partition::Aws);
        let boundary = PolicyArn::parse("arn:aws:iam::123456789012:policy/b", "b").unwrap();
        let mut changed = ours.clone();
        changed.attached.remove(&worker);
        changed.trust = Some(serde_json::json!({"Version": "2012-10-17", "Statement": []}));
        changed.boundary = Some(boundary.clone());
        changed.instance_profiles.clear();
        let cases = [
            Change::Detached(worker),
            Change::Trust(serde_json::json!({"Version": "2012-10-17", "Statement": []})),
            Change::Boundary(boundary),
            Change::LeftProfile("NodeRole".into()),
        ];
        for change in cases {
            assert!(!change.shown_by(Some(&ours)), "a stale read: {change:?}");
            assert!(change.shown_by(Some(&changed)), "a fresh read: {change:?}");
            assert!(change.shown_by(None), "no role: nothing to wait for");
        }
        assert!(Change::BoundaryRemoved.shown_by(Some(&ours)));
        assert!(!Change::BoundaryRemoved.shown_by(Some(&changed)));
        assert!(!Change::RoleDeleted.shown_by(Some(&ours)) && Change::RoleDeleted.shown_by(None));
        assert!(Change::Unknown.shown_by(Some(&ours)));
    }

    #[test]
    fn decide_every_case() {
        use RemediationMode::{DryRun, Enforce};
        let item = recorded(spec());
        let worker = policies::worker_node_policy(Partition::Aws);
        let mut detached = live(&spec(), "AROAOURS");
        detached.attached.remove(&worker);
        let attach = Plan { actions: vec![Action::AttachPolicy(worker.clone())] };
        let mut full = item.clone();
        full.repairs = vec![NOW - 10, NOW - 5];
        let mut stale = item.clone();
        stale.repairs = vec![NOW - 7200, NOW - 3601];
        let mut retagged = live(&spec(), "AROAOURS");
        retagged.tags.clear();
        let ok = CniCheck::NotNeeded;
        let ours = live(&spec(), "AROAOURS");
        let cases: Vec<(&str, &Record, &LiveRole, RemediationMode, Repair)> = vec![
            ("in sync", &item, &ours, Enforce, Repair::InSync),
            ("tags never count as drift", &item, &retagged, Enforce, Repair::InSync),
            ("a detached policy", &item, &detached, Enforce, Repair::Apply(attach.clone())),
            ("dry-run plans only", &item, &detached, DryRun, Repair::DryRun(attach.clone())),
            ("the breaker is full", &full, &detached, Enforce, Repair::CircuitOpen(attach.clone())),
            ("the breaker's window passed", &stale, &detached, Enforce, Repair::Apply(attach.clone())),
            ("dry-run before the breaker", &full, &detached, DryRun, Repair::DryRun(attach)),
        ];
        for (case, record, role, mode, want) in cases {
            let d = decide(record, role, mode, &ok, BREAKER, &BTreeSet::new(), NOW);
            assert_eq!((d.repair, d.cni_tampered), (want, None), "{case}");
        }
    }

    #[test]
    fn a_tampered_ipv6_cni_policy_is_reported_and_never_attached() {
        let item = recorded(ipv6_spec());
        let arn = ipv6_spec().ipv6_cni_policy.unwrap();
        let mut without = live(&ipv6_spec(), "AROAOURS");
        without.attached.remove(&arn);
        for check in [CniCheck::Tampered(arn.clone()), CniCheck::Missing(arn.clone())] {
            let d = decide(&item, &without, RemediationMode::Enforce, &check, BREAKER, &BTreeSet::new(), NOW);
            assert_eq!(d.cni_tampered.as_ref(), Some(&arn));
            assert_eq!(d.repair, Repair::InSync, "never attached: {check:?}");
        }
        let d = decide(
            &item,
            &without,
            RemediationMode::Enforce,
            &CniCheck::Verified(arn.clone()),
            BREAKER,
            &BTreeSet::new(),
            NOW,
        );
        assert_eq!(
            (d.repair, d.cni_tampered),
            (Repair::Apply(Plan { actions: vec![Action::AttachPolicy(arn)] }), None)
        );
    }
}
