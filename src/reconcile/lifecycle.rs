//! The lifecycle use case: Create, Update and Delete of `Custom::EksNodeRole`, in the procedure's terms. Each
//! request observes (the role, its item and what else it needs, together with CloudFormation's confirmation),
//! decides (`domain::claim`, `domain::removal`), then acts: the state item first (`Transition`), then IAM.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tracing::{info, warn};

use super::{label_disputed, Observed, Reconciler};
use crate::domain::claim::{claim, Claim, Refusal, Request};
use crate::domain::intent::DEFAULT_DESCRIPTION;
use crate::domain::reach::{Adopting, Allowances};
use crate::domain::removal::{removal, Removal, Untouched};
use crate::domain::{
    policies, Action, Boundary, CniCheck, Intent, IpFamily, Lifecycle, LiveRole, NodeRoleSpec, Ownership, Plan,
    PolicyArn, Properties, Retired, RoleIdentity, RoleName, RolePath,
};
use crate::error::{Error, Result};
use crate::iam::NodeRoleIam;
use crate::state::{Record, StateStore, Transition};

/// What CloudFormation showed of the request's resource when it confirmed the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Confirmed {
    /// The resource's current physical id (`None` while its Create runs): a Delete of another id is of an old
    /// one (a replacement's cleanup) or of one CloudFormation made up (a cancelled Create's rollback).
    pub physical_id: Option<String>,
}

/// What a request achieved.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// Create or Update: the role as the applied desired state makes it, and the profile the tool owns.
    Role { desired: Box<NodeRoleSpec>, role: Box<LiveRole>, own_profile: Option<String> },
    /// Delete: done; `warning` when only the item was removed.
    Removed { physical_id: String, warning: Option<String> },
}

/// The role a request is working on, recorded as soon as it is known: a request cut short by the deadline
/// still reports it as the PhysicalResourceId, so the stack's rollback Delete can clean up.
#[derive(Debug, Default)]
pub struct Progress {
    role: Mutex<Option<String>>,
    /// The role was not this resource's before this request: it is this request's to undo if the request fails.
    taken_here: AtomicBool,
    /// This request created the role (and made this instance profile with it): its own to remove even when its
    /// item is already gone.
    made: Mutex<Option<Option<String>>>,
    /// The role exists (made or found) and the rest of the request is converging it.
    role_ready: AtomicBool,
    role_ready_now: tokio::sync::Notify,
}

impl Progress {
    fn set(&self, name: &RoleName) {
        *self.role.lock().unwrap_or_else(|e| e.into_inner()) = Some(name.to_string());
    }
    fn taken_here(&self) {
        self.taken_here.store(true, Ordering::Relaxed);
    }
    pub fn role(&self) -> Option<String> {
        self.role.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    fn is_new(&self) -> bool {
        self.taken_here.load(Ordering::Relaxed)
    }
    fn made(&self, profile: Option<&str>) {
        *self.made.lock().unwrap_or_else(|e| e.into_inner()) = Some(profile.map(str::to_string));
    }
    /// The role exists; what is left is converging it.
    fn role_ready(&self) {
        self.role_ready.store(true, Ordering::Relaxed);
        self.role_ready_now.notify_waiters();
    }
    /// Waits until the request's role exists (forever, for a request that never gets that far).
    pub async fn role_made(&self) {
        let notified = self.role_ready_now.notified();
        if self.is_role_made() {
            return;
        }
        notified.await;
    }
    pub fn is_role_made(&self) -> bool {
        self.role_ready.load(Ordering::Relaxed)
    }
    /// `Some(profile made with it)` when this request created the role.
    fn made_role(&self) -> Option<Option<String>> {
        self.made.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Adoption facts the desired state carries.
struct Adoption {
    adopted: bool,
    preexisting: BTreeSet<PolicyArn>,
    /// The role was already in an instance profile when adopted: profiles are not the tool's business.
    external_profile: bool,
}

impl Adoption {
    fn none() -> Self {
        Adoption { adopted: false, preexisting: BTreeSet::new(), external_profile: false }
    }

    /// Taking over a role that exists: what it had stays (never detached); a profile it is already in (such as
    /// the one EKS makes for a managed node group) stays someone else's.
    fn fresh(live: &LiveRole) -> Self {
        Adoption {
            adopted: true,
            preexisting: live.attached.clone(),
            external_profile: !live.instance_profiles.is_empty(),
        }
    }

    /// What the state item recorded when the role was created or adopted.
    fn recorded(spec: &NodeRoleSpec) -> Self {
        Adoption {
            adopted: spec.adopted,
            preexisting: spec.preexisting.clone(),
            external_profile: spec.external_profile,
        }
    }
}

fn spec_for(intent: &Intent, props: &Properties, name: &RoleName, adoption: &Adoption, cni: &CniCheck) -> NodeRoleSpec {
    NodeRoleSpec {
        name: name.clone(),
        path: props.path.clone(),
        partition: intent.stack.partition,
        account: intent.stack.account.clone(),
        region: intent.stack.region.clone(),
        description: props.description.clone().or_else(|| (!adoption.adopted).then(|| DEFAULT_DESCRIPTION.to_string())),
        node_class: props.node_class,
        ip_family: props.ip_family,
        attach_cni: props.attach_cni,
        ipv6_cni_policy: match cni {
            CniCheck::Verified(arn) => Some(arn.clone()),
            _ => None,
        },
        extra_policies: props.additional_policies.clone(),
        boundary: match (&props.boundary, adoption.adopted) {
            (Some(b), _) => Boundary::Set(b.clone()),
            (None, true) => Boundary::Keep,
            (None, false) => Boundary::Absent,
        },
        instance_profile: (props.create_instance_profile && !adoption.external_profile).then(|| name.to_string()),
        external_profile: adoption.external_profile,
        remediation: props.remediation,
        owner: intent.owner.clone(),
        adopted: adoption.adopted,
        preexisting: adoption.preexisting.clone(),
        user_tags: props.tags.clone(),
    }
}

/// A PermissionsBoundary must be on the installation's allow-list when it is set or changed; one the item
/// already records stays usable, so a list narrowed later (or a rollback) does not strand the resource.
fn check_boundary(rules: &Allowances, props: &Properties, recorded: Option<&NodeRoleSpec>) -> Result<()> {
    let Some(b) = &props.boundary else { return Ok(()) };
    if recorded.is_some_and(|d| d.boundary == Boundary::Set(b.clone())) {
        return Ok(());
    }
    rules.disallowed_boundary(b).map_or(Ok(()), |why| Err(Error::invalid(why)))
}

/// Awaits the confirmation and the reads together; the reads' result only if the request is confirmed.
async fn confirmed_reads<T>(
    confirmed: impl Future<Output = Result<Confirmed>>,
    reads: impl Future<Output = Result<T>>,
) -> Result<T> {
    let (confirmed, reads) = tokio::join!(confirmed, reads);
    confirmed?;
    reads
}

/// The refusal of a claim, and where it comes in the checks: another resource's item is refused before
/// anything else is looked at.
fn refused(r: Refusal) -> Error {
    Error::conflict(r.to_string())
}

impl<I: NodeRoleIam, S: StateStore> Reconciler<I, S> {
    /// Carries out a request. `confirmed` is CloudFormation's confirmation of it: every path runs it together
    /// with its first reads (reads change nothing) and writes nothing before it succeeded.
    pub async fn apply(
        &self,
        intent: &Intent,
        progress: &Progress,
        confirmed: impl Future<Output = Result<Confirmed>>,
    ) -> Result<Applied> {
        match &intent.action {
            // Boxed: the futures of the lifecycle are large, and a deep one must not live on a small stack.
            Lifecycle::Create(props) => Box::pin(self.create(intent, props, progress, None, confirmed)).await,
            Lifecycle::Update { properties, old, physical_id } => {
                Box::pin(self.update(intent, properties, old.as_ref(), physical_id, progress, confirmed)).await
            }
            Lifecycle::Delete { physical_id } => Box::pin(self.delete(intent, physical_id, confirmed)).await,
        }
    }

    /// A rollback's Update left alone (`crate::cfn::confirm`): the attributes of the role it names, read and never
    /// written, when the state item shows it as the request's resource's; `None` for a Delete or any other role.
    pub async fn left_alone(&self, intent: &Intent) -> Result<Option<Applied>> {
        let Lifecycle::Update { physical_id, .. } = &intent.action else { return Ok(None) };
        let Ok(name) = RoleName::parse(physical_id) else { return Ok(None) };
        let Observed { role, record } = self.observe(&name).await?;
        match (role, record) {
            (Some(role), Some(record))
                if record.owner == intent.owner && record.role_id.as_deref() == Some(role.role_id.as_str()) =>
            {
                Ok(Some(Applied::Role {
                    desired: Box::new(record.desired),
                    role: Box::new(role),
                    own_profile: record.own_profile,
                }))
            }
            _ => Ok(None),
        }
    }

    /// After the answer went out on a request the deadline cut short: an Update may have left a half-made
    /// replacement.
    pub async fn after_timeout(&self, intent: &Intent, progress: &Progress) {
        if let Lifecycle::Update { physical_id, .. } = &intent.action {
            self.undo_failed_replacement(intent, physical_id, progress).await;
        }
    }

    /// Checks what needs no read at all: the additional policies are allowed, the path, the name and the tags
    /// are in the installation's reach.
    fn check_reach(&self, props: &Properties) -> Result<()> {
        if let Some(why) = self.rules.disallowed_additional(&props.additional_policies) {
            return Err(Error::invalid(why));
        }
        if let Some(why) = self.rules.path_out_of_reach(props.path.as_str()) {
            return Err(Error::invalid(format!("Path: {why}; choose another Path")));
        }
        if let Some(why) = props.role_name.as_ref().and_then(|n| self.rules.name_out_of_reach(n.as_str())) {
            return Err(Error::invalid(why));
        }
        if let Some(why) = self.rules.reserved_tags_asked(props.tags.keys()) {
            return Err(Error::invalid(why));
        }
        Ok(())
    }

    /// What needs no role but may read: an IPv6 role's CNI policy is there and is AWS's document (callers check
    /// `check_reach` first, before the confirmation). Returns the CNI check the desired state is built with.
    async fn preflight(&self, intent: &Intent, props: &Properties) -> Result<CniCheck> {
        if props.ip_family != IpFamily::Ipv6 || !props.attach_cni {
            return Ok(CniCheck::NotNeeded);
        }
        match self.resolve_cni(intent.stack.partition, &intent.stack.account).await? {
            ok @ CniCheck::Verified(_) => Ok(ok),
            CniCheck::Missing(arn) => Err(Error::conflict(format!(
                "IpFamily ipv6 needs the IPv6 CNI policy, and {arn} does not exist: set CreateIpv6CniPolicy=true in the installation (or create AWS's {} policy), or set AttachCniPolicy to false",
                policies::CNI_IPV6_POLICY
            ))),
            CniCheck::Tampered(arn) => Err(Error::conflict(format!(
                "the IPv6 CNI policy {arn} exists but its default version is not the document AWS publishes, so it is not attached: restore AWS's document or point IPV6_CNI_POLICY_ARN at the policy the installation created"
            ))),
            CniCheck::NotNeeded => Ok(CniCheck::NotNeeded),
        }
    }

    /// Create (also a replacement during Update, with `replacing` = the role being replaced).
    async fn create(
        &self,
        intent: &Intent,
        props: &Properties,
        progress: &Progress,
        replacing: Option<&str>,
        confirmed: impl Future<Output = Result<Confirmed>>,
    ) -> Result<Applied> {
        // What needs no read is checked first; beside the confirmation only the named role and its item are read
        // (a bounded read); what scales with the account or reads a policy (the search, the IPv6 CNI policy)
        // waits for it, so that an unconfirmed request costs the account nothing.
        self.check_reach(props)?;
        let searching = props.role_name.is_none() && props.adopt_existing && replacing.is_none();
        let named = async {
            match searching {
                true => Ok(None),
                false => self.resolve_target(intent, props, replacing).await.map(Some),
            }
        };
        let named = confirmed_reads(confirmed, named).await?;
        let (cni, (name, observed, profile_exists)) = match named {
            Some(found) => (Box::pin(self.preflight(intent, props)).await?, found),
            None => tokio::try_join!(
                Box::pin(self.preflight(intent, props)),
                Box::pin(self.resolve_target(intent, props, replacing))
            )?,
        };
        progress.set(&name);
        let Observed { role: live, record } = observed;
        let ownership = Ownership::of(record.as_ref(), live.as_ref());
        let request = Request::Create { adopt_existing: props.adopt_existing };
        let decision = claim(request, &intent.owner, &name, record.as_ref(), &ownership);
        if let Claim::Refuse(r @ Refusal::OwnedElsewhere { .. }) = decision {
            return Err(refused(r));
        }
        check_boundary(&self.rules, props, record.as_ref().map(|r| &r.desired))?;
        let mut original_trust = record.as_ref().and_then(|r| r.original_trust.clone());
        let mut original_boundary = record.as_ref().and_then(|r| r.original_boundary.clone());
        let adoption = match (decision, &live) {
            (Claim::Refuse(r), _) => return Err(refused(r)),
            (Claim::Resume, Some(_)) => {
                info!(role = %name, "role already belongs to this resource (retried or rolled-back request): converging");
                Adoption::recorded(&record.as_ref().expect("a resumed role has its item").desired)
            }
            (decision @ (Claim::Adopt | Claim::AdoptOrphan), Some(l)) => {
                let orphan = decision == Claim::AdoptOrphan;
                self.admit_adoption(intent, props, l, &cni, orphan).await?;
                info!(role = %name, attached = ?l.attached.iter().map(PolicyArn::name).collect::<Vec<_>>(), "adopting existing role");
                original_trust = original_trust.or_else(|| l.trust.clone());
                original_boundary = original_boundary.or_else(|| Some(l.boundary.clone()));
                Adoption::fresh(l)
            }
            _ => Adoption::none(),
        };
        // Nothing recorded before this request (or only its own unfinished start): undone if the request fails.
        if record.as_ref().is_none_or(|r| r.role_id.is_none()) {
            progress.taken_here();
        }
        let desired = spec_for(intent, props, &name, &adoption, &cni);
        if ownership.needs_check() {
            // Taken on its label alone: an earlier attempt stopped before recording the RoleId.
            if let Ownership::LabelDisputed(problems) = self.ownership(record.as_ref(), live.as_ref(), &desired).await?
            {
                return Err(label_disputed(live.as_ref().map_or(&name, |l| &l.name), &problems));
            }
        }
        self.check_policy_quota(&desired, live.as_ref(), &Retired::default()).await?;
        let recorded_profile = record.as_ref().and_then(|r| r.own_profile.as_deref());
        let own_profile = self.own_profile_after(&desired, recorded_profile, None, profile_exists).await?;
        let claimed = Transition::Claim {
            desired: desired.clone(),
            adopted: adoption.adopted,
            original_trust,
            original_boundary,
            own_profile,
        };
        let item = self.commit(record.as_ref(), claimed).await?.expect("a claim always writes");
        Box::pin(self.finish(progress, item, &desired, live, &cni, &Retired::default(), profile_exists)).await
    }

    /// An existing role nobody manages may be adopted only if the installation declared its name and it holds
    /// nothing a node role may not.
    async fn admit_adoption(
        &self,
        intent: &Intent,
        props: &Properties,
        live: &LiveRole,
        cni: &CniCheck,
        orphan: bool,
    ) -> Result<()> {
        let inline = self.iam.inline_policy_names(&live.name).await?;
        let ipv6 = match cni {
            CniCheck::Verified(a) => Some(a.clone()),
            _ => self.resolve_cni(intent.stack.partition, &intent.stack.account).await.ok().and_then(|c| match c {
                CniCheck::Verified(a) => Some(a),
                _ => None,
            }),
        };
        let (p, class) = (intent.stack.partition, props.node_class);
        let adopting = if orphan { Adopting::Orphan } else { Adopting::DeclaredName };
        match self.rules.refusal_as(adopting, live, &inline, p, ipv6.as_ref(), class) {
            Some(why) => Err(Error::conflict(why)),
            None => Ok(()),
        }
    }

    /// After the item is written: the role created when missing (with the instance profile this request makes,
    /// at once), then its RoleId recorded while everything else is applied. A crash in between is resumed by a
    /// retry.
    // The request's progress, its item, what it wants and what it found: one step's inputs, each of its own kind.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        progress: &Progress,
        item: Record,
        desired: &NodeRoleSpec,
        live: Option<LiveRole>,
        cni: &CniCheck,
        retired: &Retired,
        profile_existed: Option<bool>,
    ) -> Result<Applied> {
        // The tool makes the profile when it is its own and was not there when the request read it.
        let make_profile = item
            .own_profile
            .clone()
            .filter(|p| desired.instance_profile.as_ref() == Some(p) && profile_existed == Some(false));
        let (live, made) = match live {
            Some(l) => (l, None),
            None => {
                let live = self.create_role(desired, make_profile.as_deref()).await?;
                progress.made(make_profile.as_deref());
                (live, make_profile)
            }
        };
        progress.role_ready();
        let (recorded, converged) = tokio::join!(
            self.commit(Some(&item), Transition::RecordRoleId(live.role_id.clone())),
            self.converge(desired, live.clone(), cni, retired, made.as_deref())
        );
        let item = recorded?.unwrap_or(item);
        let (_plan, role) = converged?;
        Ok(Applied::Role { desired: Box::new(desired.clone()), role: Box::new(role), own_profile: item.own_profile })
    }

    /// The instance profile the tool may delete later: the one the item already records, or the desired one
    /// when it does not exist yet (so the tool is about to make it). A profile that exists with the role's name
    /// is someone else's: reused, never deleted.
    async fn own_profile_after(
        &self,
        desired: &NodeRoleSpec,
        recorded: Option<&str>,
        retired: Option<&str>,
        exists: Option<bool>,
    ) -> Result<Option<String>> {
        let recorded = recorded.filter(|r| Some(*r) != retired);
        let Some(want) = desired.instance_profile.as_deref() else {
            return Ok(recorded.map(str::to_string));
        };
        if recorded == Some(want) {
            return Ok(Some(want.to_string()));
        }
        let exists = match exists {
            Some(e) => e,
            None => self.iam.instance_profile_tags(want).await?.is_some(),
        };
        Ok(if exists { recorded.map(str::to_string) } else { Some(want.to_string()) })
    }

    /// Picks the role a Create works on: the RoleName given, the declared node role found by the procedure's
    /// check, or a generated name. Returns it with its observation and, when read with it, whether an instance
    /// profile of its name exists.
    async fn resolve_target(
        &self,
        intent: &Intent,
        props: &Properties,
        replacing: Option<&str>,
    ) -> Result<(RoleName, Observed, Option<bool>)> {
        let observe = |name: RoleName| async move {
            let profile = props.create_instance_profile.then_some(name.as_str());
            let (observed, exists) = self.observe_with_profile(&name, profile).await?;
            Ok::<_, Error>((name.clone(), observed, profile.map(|_| exists)))
        };
        if let Some(name) = &props.role_name {
            return observe(name.clone()).await;
        }
        // The procedure's check for an existing node role is a Create's first step; a replacement never adopts.
        if props.adopt_existing && replacing.is_none() {
            if let Some((name, observed)) = self.search_existing(intent).await? {
                return Ok((name, observed, None));
            }
        }
        // Generated names depend on the path: a replacement for a new Path gets its own name, and a rollback to
        // a path finds the role made for it, however many replacements happened in between.
        observe(generated_name(&self.rules.name_prefix, intent, &props.path)).await
    }

    /// The procedure's check for an existing node role, limited to the names the operator declared adoptable
    /// (`AdoptableRoleNames`, exact and case-insensitive, `*` as a wildcard).
    async fn search_existing(&self, intent: &Intent) -> Result<Option<(RoleName, Observed)>> {
        let roles = self.iam.list_roles(None).await?;
        let mut candidates = Vec::new();
        for summary in roles.iter().filter(|r| self.rules.is_adoptable_name(&r.name)) {
            let Ok(name) = RoleName::parse(&summary.name) else { continue };
            let observed = self.observe(&name).await?;
            match &observed.record {
                Some(r) if r.owner == intent.owner => return Ok(Some((name, observed))),
                Some(_) => info!(role = %name, "candidate skipped: managed by another resource"),
                None if observed.role.is_some() => candidates.push((name, observed)),
                None => {}
            }
        }
        match candidates.len() {
            0 => Ok(None),
            1 => {
                let found = candidates.pop().expect("one candidate");
                info!(role = %found.0, "found an existing node role");
                Ok(Some(found))
            }
            _ => Err(Error::conflict(format!(
                "AdoptExistingRole found several candidate node roles ({}): set RoleName to the one to adopt",
                candidates.iter().map(|(n, _)| n.to_string()).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    async fn update(
        &self,
        intent: &Intent,
        props: &Properties,
        old: Option<&RoleIdentity>,
        physical_id: &str,
        progress: &Progress,
        confirmed: impl Future<Output = Result<Confirmed>>,
    ) -> Result<Applied> {
        if replaces(&self.rules.name_prefix, intent, props, old, physical_id)? {
            info!(old_role = physical_id, "RoleName or Path changed: replacing the role");
            let created = Box::pin(self.create(intent, props, progress, Some(physical_id), confirmed)).await;
            // A write another writer won (most often a copy of this request, converging the same replacement) is
            // read again by the caller, not undone.
            if created.as_ref().is_err_and(|e| !matches!(e, Error::RecordChanged(_))) {
                self.undo_failed_replacement(intent, physical_id, progress).await;
            }
            return created;
        }
        let name = RoleName::parse(physical_id).map_err(|_| {
            Error::invalid(format!("PhysicalResourceId '{physical_id}' is not a role this resource manages"))
        })?;
        progress.set(&name);
        let profile = props.create_instance_profile.then_some(name.as_str());
        self.check_reach(props)?;
        let (Observed { role: live, record }, exists) =
            confirmed_reads(confirmed, self.observe_with_profile(&name, profile)).await?;
        let cni = Box::pin(self.preflight(intent, props)).await?;
        let profile_exists = profile.map(|_| exists);
        let decision = claim(
            Request::Update,
            &intent.owner,
            &name,
            record.as_ref(),
            &Ownership::of(record.as_ref(), live.as_ref()),
        );
        if let Claim::Refuse(r @ (Refusal::OwnedElsewhere { .. } | Refusal::NoItem { .. })) = decision {
            return Err(refused(r));
        }
        let record = record.expect("an update that was not refused has its item");
        check_boundary(&self.rules, props, Some(&record.desired))?;
        let adoption = match decision {
            Claim::Refuse(r) => return Err(refused(r)),
            Claim::Recreate => {
                warn!(role = %name, "role is gone: creating it again");
                Adoption::none()
            }
            _ => Adoption::recorded(&record.desired),
        };
        let desired = spec_for(intent, props, &name, &adoption, &cni);
        let mut retired = desired.retired_since(&record.desired);
        // A tag under a reserved prefix (written before the operator reserved it) is the operator's now: never removed.
        retired.tag_keys.retain(|k| !self.rules.is_reserved_tag(k));
        // Only a profile the tool made is deleted when it is no longer wanted.
        if retired.instance_profile.is_some() && retired.instance_profile != record.own_profile {
            retired.instance_profile = None;
        }
        self.check_policy_quota(&desired, live.as_ref(), &retired).await?;
        let own_profile = self
            .own_profile_after(
                &desired,
                record.own_profile.as_deref(),
                retired.instance_profile.as_deref(),
                profile_exists,
            )
            .await?;
        // The new desired state is the authority before IAM changes.
        let desire = Transition::Desire { desired: desired.clone(), own_profile, role_gone: live.is_none() };
        let item = self.commit(Some(&record), desire).await?.expect("an item to update");
        Box::pin(self.finish(progress, item, &desired, live, &cni, &retired, profile_exists)).await
    }

    /// A failed Update keeps the old PhysicalResourceId, so CloudFormation will never delete or release a
    /// replacement this request created or adopted: undo it (best effort).
    async fn undo_failed_replacement(&self, intent: &Intent, old: &str, progress: &Progress) {
        let Some(name) = progress.role().filter(|n| progress.is_new() && !n.eq_ignore_ascii_case(old)) else { return };
        let Ok(name) = RoleName::parse(&name) else { return };
        let removed = async { self.remove(intent, &name, self.observe(&name).await?).await };
        match removed.await {
            Ok(_) => info!(role = %name, "undid the replacement of a failed update"),
            Err(e) => warn!(role = %name, error = %e, "could not undo the replacement of a failed update"),
        }
    }

    async fn delete(
        &self,
        intent: &Intent,
        physical_id: &str,
        confirmed: impl Future<Output = Result<Confirmed>>,
    ) -> Result<Applied> {
        let done = |warning| Ok(Applied::Removed { physical_id: physical_id.to_string(), warning });
        let name = RoleName::parse(physical_id).ok();
        let observe = async {
            match &name {
                Some(n) => self.observe(n).await.map(Some),
                None => Ok(None),
            }
        };
        let (confirmed, observed) = tokio::join!(confirmed, observe);
        let (confirmed, observed) = (confirmed?, observed?);
        if let (Some(name), Some(observed)) = (&name, observed) {
            if observed.record.as_ref().is_some_and(|r| r.owner == intent.owner) {
                return done(self.remove(intent, name, observed).await?);
            }
        }
        // The id names no role of this resource: a Create that failed early, or one CloudFormation cancelled
        // (its rollback Delete carries an id CloudFormation made up), whose role may exist all the same.
        done(self.remove_strays(intent, physical_id, confirmed.physical_id.as_deref()).await?)
    }

    /// Removes what the resource holds under names other than the one CloudFormation shows for it now
    /// (`current`): the roles a cancelled Create left. Never the current one, which a replacement's cleanup or a
    /// retried Delete must not touch; nothing at all when CloudFormation shows no id.
    async fn remove_strays(&self, intent: &Intent, physical_id: &str, current: Option<&str>) -> Result<Option<String>> {
        let Some(current) = current else {
            info!(physical_id, "no role of this resource under this id: nothing to delete");
            return Ok(None);
        };
        let strays: Vec<Record> = self
            .store
            .list()
            .await?
            .into_iter()
            // An orphaned item is a retained role, not a stray of this resource: never removed here.
            .filter(|r| r.owner == intent.owner && r.phase != crate::state::Phase::Orphaned)
            .filter(|r| !r.role_name.as_str().eq_ignore_ascii_case(current))
            .collect();
        if strays.is_empty() {
            info!(physical_id, "no role of this resource under this id: nothing to delete");
        }
        for stray in strays {
            info!(role = %stray.role_name, physical_id, current, "removing a role this resource made under another id");
            let observed = self.observe(&stray.role_name).await?;
            self.remove(intent, &stray.role_name, observed).await?;
        }
        Ok(None)
    }

    /// Undoes a Create that CloudFormation cancelled while it ran: what it holds under this resource is removed
    /// as a Delete removes it, and a role it created whose item is already gone (the rollback's Delete came first)
    /// is deleted. Best effort: a failure is logged (the sweep will then find the item's owner gone).
    pub async fn undo_cancelled_create(&self, intent: &Intent, progress: &Progress) {
        let Some(name) = progress.role().and_then(|n| RoleName::parse(&n).ok()) else { return };
        let undone = async {
            let observed = self.observe(&name).await?;
            match (&observed.record, &observed.role, progress.made_role()) {
                (Some(r), _, _) if r.owner == intent.owner => {
                    self.remove(intent, &name, observed).await?;
                }
                (_, Some(live), Some(profile)) if observed.record.is_none() => {
                    self.teardown(live, profile.as_deref(), profile.as_deref()).await?;
                }
                _ => {}
            }
            Ok::<_, Error>(())
        };
        match undone.await {
            Ok(()) => info!(role = %name, "undid a Create CloudFormation cancelled"),
            Err(e) => warn!(role = %name, error = %e, "could not undo a Create CloudFormation cancelled"),
        }
    }

    /// Delete's protocol: mark the item `deleting`, remove (or release) the role it records, remove the item
    /// last. Only the item's own role is touched: a role re-created under the same name loses nothing. Returns
    /// a warning when only the item was removed.
    async fn remove(&self, intent: &Intent, name: &RoleName, observed: Observed) -> Result<Option<String>> {
        let Observed { role: live, record } = observed;
        // A label claim is checked (one more read) only for the requester's own item.
        let ownership = match record.as_ref().filter(|r| r.owner == intent.owner) {
            Some(r) => self.ownership(Some(r), live.as_ref(), &r.desired).await?,
            None => Ownership::of(record.as_ref(), live.as_ref()),
        };
        let attachable = record
            .as_ref()
            .map(|r| self.rules.attachable(r.desired.partition, r.desired.ipv6_cni_policy.as_ref()))
            .unwrap_or_default();
        let mut decision = removal(&intent.owner, record.as_ref(), live.as_ref(), &ownership, &attachable);
        let mut live = live;
        // A listing can be stale just after a node group went (CloudFormation deletes it first): look again
        // before refusing a role that is in someone else's instance profile.
        for wait in IN_USE_RECHECKS {
            if !matches!(decision, Removal::InUse { .. }) {
                break;
            }
            tokio::time::sleep(wait).await;
            live = self.iam.read_role(name).await?;
            decision = removal(&intent.owner, record.as_ref(), live.as_ref(), &ownership, &attachable);
        }
        let record = match (&decision, record) {
            (Removal::Nothing(Untouched::NoItem), _) | (_, None) => {
                info!(role = %name, "no state item: nothing of this resource's to delete");
                return Ok(None);
            }
            (Removal::Nothing(Untouched::AnotherResource), _) => {
                info!(role = %name, "role is managed by another resource: left untouched");
                return Ok(None);
            }
            (Removal::Refuse { .. } | Removal::InUse { .. }, _) => {
                return Err(Error::conflict(decision.refusal().unwrap_or_default()))
            }
            (_, Some(r)) => r,
        };
        let record = self.commit(Some(&record), Transition::MarkDeleting).await?.expect("an item to mark");
        let mut warning = decision.warning(name);
        match (&decision, &live) {
            (Removal::TearDown { profile }, Some(l)) => {
                self.teardown(l, profile.as_deref(), record.desired.instance_profile.as_deref()).await?;
            }
            (Removal::Release, Some(l)) => {
                self.release(l, &record).await?;
                warning = Some(format!(
                    "role {name} was released, not deleted: it keeps its managed policies (nodes may still run on it) and EC2's trust policy; its trust policy before adoption is not put back"
                ));
            }
            (Removal::ItemOnly { profile, role_left }, _) => {
                match (&warning, role_left) {
                    (Some(w), true) => warn!(role = %name, "{w}"),
                    _ => info!(role = %name, "role already gone"),
                }
                if let Some(p) = profile {
                    // A Delete retried after the role went but before its profile did, or a profile made beside a
                    // CreateRole that found someone else's role (kept if that role was put in it since).
                    let delete = Plan { actions: vec![Action::DeleteInstanceProfile(p.clone())] };
                    match self.execute(name, &delete).await {
                        Err(e) if live.is_some() => {
                            warn!(role = %name, profile = %p, error = %e, "instance profile left in place");
                            // The role was left in place above, which `warning` already says.
                            warning = warning.map(|w| format!("{w}; instance profile {p} was left in place ({e})"));
                        }
                        other => other?,
                    }
                }
            }
            _ => {}
        }
        self.commit(Some(&record), Transition::Remove).await?;
        Ok(warning)
    }
}

/// The waits before a role found in someone else's instance profile is looked at again, before a Delete refuses.
const IN_USE_RECHECKS: [Duration; 2] = [Duration::from_millis(500), Duration::from_millis(1500)];

/// The name a Create without RoleName gives the role: a function of StackId + LogicalResourceId + Path (the
/// root path adds nothing, so the name of a role at `/` depends on the resource alone).
fn generated_name(prefix: &str, intent: &Intent, path: &RolePath) -> RoleName {
    let path = if path.as_str() == "/" { "" } else { path.as_str() };
    RoleName::generate_with_prefix(
        prefix,
        &intent.stack.name,
        &intent.owner.logical_id,
        &format!("{}{}{path}", intent.owner.stack_id, intent.owner.logical_id),
    )
}

/// Whether an Update replaces the role: a new RoleName (or Path, with a generated name). A new Path under the
/// same given RoleName is refused: IAM role names are unique per account.
fn replaces(
    prefix: &str,
    intent: &Intent,
    props: &Properties,
    old: Option<&RoleIdentity>,
    physical_id: &str,
) -> Result<bool> {
    // IAM role names are case-insensitive: `NodeRole` → `noderole` names the same role, no replacement.
    let same = |n: &RoleName| n.as_str().eq_ignore_ascii_case(physical_id);
    let name_changed = match (&props.role_name, old.map(|o| &o.role_name)) {
        (Some(n), _) => !same(n),
        // From a given name to a generated one: a new name unless it is this one.
        (None, Some(Some(_))) => !same(&generated_name(prefix, intent, &props.path)),
        // Generated before and now (a path change is seen below), or old properties unreadable: in place.
        (None, _) => false,
    };
    let path_changed = old.is_some_and(|o| o.path != props.path);
    if path_changed && !name_changed && props.role_name.is_some() {
        return Err(Error::invalid(format!(
            "Path cannot change while RoleName stays '{physical_id}': IAM role names are unique per account, so a new Path needs a new RoleName (or no RoleName, for a generated one)"
        )));
    }
    Ok(name_changed || path_changed)
}
