//! The one act at the centre: make the live role match the desired role. The use cases live here: the
//! lifecycle (`lifecycle.rs`: apply an intent, remove) and repair (`repair.rs`: one role, the sweep), each
//! observe → decide (`crate::domain`'s decisions, pure) → act. The ports stay private: no trigger reaches IAM
//! or the state store, and every write of the state item is a named `Transition` applied by `commit`.

pub mod lifecycle;
pub mod repair;

use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::clock::Clock;
use crate::domain::reach::Allowances;
use crate::domain::removal::{self, Removal};
use crate::domain::{
    keep_foreign_boundary, plan, plan_release, plan_teardown, policies, AccountId, Action, CniCheck, LiveRole,
    NodeRoleSpec, Ownership, Partition, Plan, PolicyArn, Retired, RoleName, Scope,
};
use crate::error::{Error, IamCode, Result};
use crate::iam::NodeRoleIam;
use crate::state::{Record, StateStore, Transition, Write};

/// IAM's default quota of managed policies per role; it can be raised, never lowered.
const MIN_POLICY_QUOTA: usize = 10;

/// The role and its state item, read at once.
#[derive(Debug, Clone)]
pub struct Observed {
    pub role: Option<LiveRole>,
    pub record: Option<Record>,
}

/// The clients and the operator's declarations every trigger works with.
#[derive(Clone)]
pub struct Reconciler<I, S> {
    iam: I,
    store: S,
    /// The account's AttachedPoliciesPerRoleQuota, read once per process.
    quota: tokio::sync::OnceCell<usize>,
    pub rules: Allowances,
    /// `IPV6_CNI_POLICY_ARN`: the IPv6 CNI policy the template created, if any.
    pub ipv6_cni_policy: Option<PolicyArn>,
    /// Where "now" comes from: the trail's timestamps, the breaker's window, the sweep's rotation.
    clock: Clock,
}

impl<I: NodeRoleIam, S: StateStore> Reconciler<I, S> {
    pub fn new(iam: I, store: S, rules: Allowances, ipv6_cni_policy: Option<PolicyArn>) -> Self {
        Reconciler { iam, store, quota: Default::default(), rules, ipv6_cni_policy, clock: Clock::system() }
    }

    /// The same, reading the time from `clock`.
    pub fn with_clock(self, clock: Clock) -> Self {
        Reconciler { clock, ..self }
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Fixes the account's managed-policy quota instead of reading it (an account whose quota was raised, or a
    /// test).
    pub fn with_policy_quota(self, quota: usize) -> Self {
        Reconciler { quota: tokio::sync::OnceCell::new_with(Some(quota)), ..self }
    }

    /// The one entry point of every state-item write: `transition` applied to `current` (the item as read), as
    /// a conditional write. A transition that `rebases` is applied again to the newer item when another writer
    /// won the race. Returns the item as stored (`None` once removed, or when the transition did not apply).
    pub async fn commit(&self, current: Option<&Record>, transition: Transition) -> Result<Option<Record>> {
        let mut current = current.cloned();
        let mut attempts = 0;
        loop {
            let write = transition.next(current.as_ref(), self.clock.unix());
            let wrote = |role: &RoleName, version: u64| {
                info!(role = %role, transition = transition.name(), version, "state item written");
            };
            let written = match write {
                Write::Put(next, expect) => {
                    self.store.put(&next, expect).await.inspect(|r| wrote(&r.role_name, r.version)).map(Some)
                }
                Write::Delete { role, version } => {
                    self.store.delete(&role, version).await.inspect(|()| wrote(&role, version)).map(|()| None)
                }
                Write::Unchanged(item) => Ok(Some(item)),
                Write::Refused => Ok(None),
            };
            match written {
                Err(Error::RecordChanged(_)) if transition.rebases() && attempts < 3 => {
                    attempts += 1;
                    let Some(role) = current.as_ref().map(|r| r.role_name.clone()) else { return Ok(None) };
                    current = self.store.get(&role).await?;
                }
                other => return other,
            }
        }
    }

    /// The ownership of a role found with its item. A role claimed by its label alone (the item has no RoleId
    /// yet) is checked against `desired`: a label can be copied onto a role made to be taken over, so the role
    /// must hold nothing a node role may not — what `desired` attaches, or recorded as there before an adoption,
    /// is no objection.
    pub(crate) async fn ownership(
        &self,
        record: Option<&Record>,
        live: Option<&LiveRole>,
        desired: &NodeRoleSpec,
    ) -> Result<Ownership> {
        let ownership = Ownership::of(record, live);
        let Some(live) = live.filter(|_| ownership.needs_check()) else { return Ok(ownership) };
        let inline = self.iam.inline_policy_names(&live.name).await?;
        let mut held = live.clone();
        let wanted = desired.required_policies();
        held.attached.retain(|p| !wanted.contains(p) && !desired.preexisting.contains(p));
        Ok(ownership.verified(self.rules.content_problems(
            &held,
            &inline,
            desired.partition,
            desired.ipv6_cni_policy.as_ref(),
        )))
    }

    /// The role (with its policies and profiles) and its item, in one round trip.
    pub async fn observe(&self, name: &RoleName) -> Result<Observed> {
        // Boxed: SDK futures are large, and a Create holds several of them at once.
        let (role, record) = tokio::join!(Box::pin(self.iam.read_role(name)), Box::pin(self.store.get(name)));
        Ok(Observed { role: role?, record: record? })
    }

    /// The same, and in the same round trip whether an instance profile named `profile` exists.
    pub async fn observe_with_profile(&self, name: &RoleName, profile: Option<&str>) -> Result<(Observed, bool)> {
        let exists = async {
            match profile {
                Some(p) => Ok(self.iam.instance_profile_tags(p).await?.is_some()),
                None => Ok(false),
            }
        };
        let (observed, exists) = tokio::join!(self.observe(name), exists);
        Ok((observed?, exists?))
    }

    /// The account's managed-policy quota per role, read once per process (IAM's default of 10 when it cannot be
    /// read).
    pub async fn policy_quota(&self) -> Result<usize> {
        let quota = self
            .quota
            .get_or_try_init(|| async {
                self.iam.attached_policies_quota().await.or_else(|e| {
                    warn!(error = %e, "GetAccountSummary failed: assuming IAM's default quota of 10 managed policies per role");
                    Ok::<_, Error>(10)
                })
            })
            .await?;
        Ok(*quota)
    }

    /// Refuses, before any change, a desired state whose role would hold more managed policies than the account
    /// allows: the required ones, the additional ones, and whatever the live role already has that stays. IAM's
    /// quota is never below 10, so it is read (once per process) only when more than 10 would be held.
    pub async fn check_policy_quota(
        &self,
        desired: &NodeRoleSpec,
        live: Option<&LiveRole>,
        retired: &Retired,
    ) -> Result<()> {
        let mut after = desired.required_policies();
        if let Some(l) = live {
            after.extend(l.attached.iter().filter(|p| !retired.policies.contains(*p)).cloned());
        }
        let quota = match self.quota.get() {
            Some(q) => *q,
            None if after.len() <= MIN_POLICY_QUOTA => return Ok(()),
            None => self.policy_quota().await?,
        };
        if after.len() > quota {
            return Err(Error::invalid(format!(
                "role {} would hold {} managed policies, above this account's quota of {quota} (AttachedPoliciesPerRoleQuota): drop some AdditionalPolicyArns, detach policies from the role, or raise the quota",
                desired.name,
                after.len()
            )));
        }
        Ok(())
    }

    /// The IPv6 CNI policy a new desired state would use: the template's, or the account's own
    /// `AmazonEKS_CNI_IPv6_Policy`, verified against AWS's document either way.
    pub async fn resolve_cni(&self, partition: Partition, account: &AccountId) -> Result<CniCheck> {
        let arn = self.ipv6_cni_policy.clone().unwrap_or_else(|| policies::cni_ipv6_policy(partition, account));
        self.verify_cni(&arn).await
    }

    /// Whether `arn`'s default version is one of the IPv6 CNI documents AWS publishes.
    pub async fn verify_cni(&self, arn: &PolicyArn) -> Result<CniCheck> {
        Ok(match self.iam.policy_document(arn).await? {
            None => CniCheck::Missing(arn.clone()),
            Some(doc) if policies::is_ipv6_cni_document(&doc, arn.partition()) => CniCheck::Verified(arn.clone()),
            Some(_) => CniCheck::Tampered(arn.clone()),
        })
    }

    /// What the desired state's IPv6 CNI policy looks like now (NotNeeded without one).
    pub async fn check_cni(&self, desired: &NodeRoleSpec) -> Result<CniCheck> {
        match desired.required_ipv6_cni() {
            Some(arn) => self.verify_cni(&arn).await,
            None => Ok(CniCheck::NotNeeded),
        }
    }

    /// Carries out a plan. Actions run in order, except that a run of independent ones (attachments, the
    /// instance profile) goes out at once: IAM needs the role before its attachments, not one attachment
    /// before another. One log event per action.
    pub async fn execute(&self, role: &RoleName, plan: &Plan) -> Result<()> {
        let mut i = 0;
        while i < plan.actions.len() {
            let run = plan.actions[i..].iter().take_while(|a| a.is_independent()).count().max(1);
            // IAM refuses a write to an entity another write is changing (409 ConcurrentModification): the
            // role's own writes go one after another, its instance profile's beside them.
            let (profile, own): (Vec<&Action>, Vec<&Action>) =
                plan.actions[i..i + run].iter().partition(|a| a.changes_instance_profile());
            // EC2 launches nodes with a profile only once IAM's reads show the role in it: checked beside the
            // role's remaining writes.
            let filled: Vec<&str> = profile
                .iter()
                .filter_map(|a| match a {
                    Action::EnsureInstanceProfile { name, .. } | Action::AddToInstanceProfile(name) => {
                        Some(name.as_str())
                    }
                    _ => None,
                })
                .collect();
            let profile = async {
                self.one_by_one(role, profile).await?;
                for name in filled {
                    self.profile_visible(name, role).await?;
                }
                Ok(())
            };
            let (own, profile) = tokio::join!(self.one_by_one(role, own), profile);
            own.and(profile)?;
            i += run;
        }
        Ok(())
    }

    /// Waits, bounded (`PROFILE_VISIBLE_WAITS`), until IAM's reads show `role` in `profile`. Past the bound the
    /// request still succeeds, with a warning in the log: EC2 may refuse the profile for a while longer. A read
    /// that fails counts as "not yet": the profile is filled; only its visibility is in question.
    async fn profile_visible(&self, profile: &str, role: &RoleName) -> Result<()> {
        let shows = |read: Result<Option<Vec<String>>>| match read {
            Ok(roles) => roles.is_some_and(|r| r.iter().any(|n| n.eq_ignore_ascii_case(role.as_str()))),
            Err(e) => {
                warn!(role = %role, profile, error = %e, "instance profile not read");
                false
            }
        };
        if shows(self.iam.instance_profile_roles(profile).await) {
            return Ok(());
        }
        for wait in PROFILE_VISIBLE_WAITS {
            tokio::time::sleep(wait).await;
            if shows(self.iam.instance_profile_roles(profile).await) {
                info!(role = %role, profile, "instance profile shows the role");
                return Ok(());
            }
        }
        warn!(role = %role, profile, "IAM's reads do not show the role in its instance profile yet: EC2 may refuse the profile for a while");
        Ok(())
    }

    async fn one_by_one(&self, role: &RoleName, actions: Vec<&Action>) -> Result<()> {
        for action in actions {
            self.apply_one(role, action).await?;
        }
        Ok(())
    }

    async fn apply_one(&self, role: &RoleName, action: &Action) -> Result<()> {
        let started = Instant::now();
        match self.iam.apply(role, action).await {
            Ok(()) => {
                info!(role = %role, action = %action, latency_ms = started.elapsed().as_millis() as u64, "applied");
                Ok(())
            }
            Err(e) => {
                warn!(role = %role, action = %action, error = %e, "action failed");
                Err(e)
            }
        }
    }

    /// Creates the role alone (trust policy, description, boundary and label in one call) and, at the same time,
    /// the instance profile this request makes (`make_profile`). Returns the role as IAM's answer describes it, so
    /// its RoleId can be recorded before anything else happens.
    pub async fn create_role(&self, desired: &NodeRoleSpec, make_profile: Option<&str>) -> Result<LiveRole> {
        let create = Action::create_role(desired);
        let path = &desired.path;
        let profile = async {
            match make_profile {
                Some(p) => self.iam.create_instance_profile(p, path).await,
                None => Ok(()),
            }
        };
        let started = Instant::now();
        let (created, profile) =
            tokio::join!(Box::pin(self.iam.create_role(&desired.name, &create)), Box::pin(profile));
        profile?;
        let role = match created {
            Ok(role) => role.created(),
            // A CreateRole whose response was lost and retried by the SDK finds its own role.
            Err(e) if e.is_iam(IamCode::EntityAlreadyExists) => {
                let again = self.reread(&desired.name).await?;
                // The item was claimed with no RoleId: only a role labelled for this resource is its own.
                let claimed = Record::new(desired.clone());
                match self.ownership(Some(&claimed), Some(&again), desired).await? {
                    Ownership::LabelVerified => {}
                    Ownership::LabelDisputed(problems) => return Err(label_disputed(&again.name, &problems)),
                    _ => return Err(e),
                }
                warn!(role = %desired.name, "already exists with this resource's label (a lost response): going on");
                again
            }
            Err(e) => {
                warn!(role = %desired.name, action = %create, error = %e, "action failed");
                return Err(e);
            }
        };
        info!(role = %desired.name, action = %create, latency_ms = started.elapsed().as_millis() as u64, "applied");
        Ok(role)
    }

    /// plan → execute for Create and Update (everything the stack declares) on an existing role. `made_profile`
    /// is an instance profile this request has just made: the role is only added to it. Returns the plan carried
    /// out and the role as the applied state makes it.
    pub async fn converge(
        &self,
        desired: &NodeRoleSpec,
        live: LiveRole,
        cni: &CniCheck,
        retired: &Retired,
        made_profile: Option<&str>,
    ) -> Result<(Plan, LiveRole)> {
        let mut planned = plan(desired, Some(&live), cni, retired, Scope::Lifecycle);
        // Someone else's boundary the installation may not remove stays; the answer warns (`Warnings`).
        keep_foreign_boundary(&mut planned, &live, &self.rules.allowed_boundaries);
        for action in &mut planned.actions {
            if let Action::EnsureInstanceProfile { name, .. } = action {
                if Some(name.as_str()) == made_profile {
                    *action = Action::AddToInstanceProfile(name.clone());
                }
            }
        }
        info!(role = %desired.name, plan = ?planned.summary(), "converging");
        self.execute(&desired.name, &planned).await?;
        let role = applied(desired, live, &planned);
        Ok((planned, role))
    }

    /// The whole role again (a lost CreateRole response: the role may hold what an earlier attempt attached).
    async fn reread(&self, name: &RoleName) -> Result<LiveRole> {
        self.iam
            .read_role(name)
            .await?
            .ok_or_else(|| Error::conflict(format!("role {name} disappeared while it was being configured")))
    }

    /// Removes a role the tool created: out of its instance profiles (the one the tool made, deleted, and the one
    /// the stack declares; a role in anyone else's is refused, nothing changed), policies detached, inline policies deleted, role deleted. A repair already under way may
    /// re-attach something meanwhile (DeleteConflict): then it empties the role again.
    pub async fn teardown(&self, live: &LiveRole, own_profile: Option<&str>, declared: Option<&str>) -> Result<Plan> {
        let mut current = live.clone();
        let mut attempt = 1;
        loop {
            // A profile someone else made that took the role since the Delete's decision: refused, not emptied.
            let foreign = removal::foreign_profiles(&current, &[own_profile, declared]);
            if !foreign.is_empty() {
                let refused = Removal::InUse { role: current.name.clone(), profiles: foreign };
                return Err(Error::conflict(refused.refusal().unwrap_or_default()));
            }
            let inline = self.iam.inline_policy_names(&current.name).await?;
            let teardown = plan_teardown(&current, own_profile, &inline);
            info!(role = %current.name, plan = ?teardown.summary(), "deleting role");
            match self.execute(&current.name, &teardown).await {
                Ok(()) => return Ok(teardown),
                Err(e) if e.is_iam(IamCode::DeleteConflict) && attempt < 3 => {
                    attempt += 1;
                    match self.iam.read_role(&current.name).await? {
                        Some(again) => current = again,
                        None => return Ok(teardown),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Gives an adopted role back: its original trust policy, no profile of the tool's, no label.
    pub async fn release(&self, live: &LiveRole, record: &Record) -> Result<Plan> {
        let original_boundary = record.original_boundary.as_ref().map(Option::as_ref);
        let plan = plan_release(live, record.own_profile.as_deref(), original_boundary);
        info!(role = %live.name, plan = ?plan.summary(), "releasing adopted role (role kept)");
        self.execute(&live.name, &plan).await?;
        Ok(plan)
    }
}

/// The refusal of a role that carries this resource's label but holds what a node role may not.
pub(crate) fn label_disputed(role: &RoleName, problems: &[String]) -> Error {
    Error::conflict(format!(
        "role {role} carries this resource's label but was not made by it: {}; it is left alone: choose another RoleName",
        problems.join("; ")
    ))
}

/// The role as the applied desired state makes it: IAM's eventual consistency may not show the new
/// The waits between reads of a profile the request filled, until they show the role: 7.75 s at most.
const PROFILE_VISIBLE_WAITS: [Duration; 6] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_millis(1000),
    Duration::from_secs(2),
    Duration::from_secs(2),
    Duration::from_secs(2),
];

/// attachments or profile yet, so they are taken from what was applied, not from a re-read.
fn applied(desired: &NodeRoleSpec, mut role: LiveRole, planned: &Plan) -> LiveRole {
    role.attached.extend(desired.required_policies());
    // The boundary as the plan left it (one someone else put there and the plan kept stays).
    for action in &planned.actions {
        match action {
            Action::PutBoundary(b) => role.boundary = Some(b.clone()),
            Action::DeleteBoundary => role.boundary = None,
            _ => {}
        }
    }
    if let Some(p) = &desired.instance_profile {
        if role.in_instance_profile(p).is_none() {
            role.instance_profiles.push(crate::domain::LiveInstanceProfile {
                name: p.clone(),
                arn: format!(
                    "arn:{}:iam::{}:instance-profile{}{p}",
                    desired.partition,
                    desired.account.as_str(),
                    desired.path.as_str()
                ),
            });
        }
    }
    role
}
