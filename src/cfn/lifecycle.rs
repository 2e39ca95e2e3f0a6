//! Create, Update and Delete of `Custom::EksNodeRole`, in the procedure's terms, on top of the reconciler and
//! the state item (see `crate::state` for the protocol).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{info, warn};

use super::properties::{Properties, RoleIdentity, DEFAULT_DESCRIPTION};
use super::request::{Kind, Request};
use crate::domain::adoption::AdoptionRules;
use crate::domain::{
    policies, Boundary, CniCheck, IpFamily, Label, LiveRole, NodeRoleSpec, PolicyArn, Retired, RoleName,
};
use crate::error::{Error, Result};
use crate::iam::NodeRoleIam;
use crate::reconcile::{Observed, Reconciler};
use crate::state::{self, Expect, Phase, Record, StateStore};

/// What a successful request answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub physical_id: String,
    pub data: BTreeMap<String, String>,
}

/// The role a request is working on, recorded as soon as it is known: a request cut short by the deadline
/// still reports it as the PhysicalResourceId, so the stack's rollback Delete can clean up.
#[derive(Debug, Default)]
pub struct Progress(Mutex<(Option<String>, bool)>);

impl Progress {
    fn set(&self, name: &RoleName) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).0 = Some(name.to_string());
    }
    /// The role was not this resource's before this request: it is this request's to undo if the request fails.
    fn taken_here(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
    }
    pub fn role(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).0.clone()
    }
    fn is_new(&self) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).1
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// Carries out a request. `confirmed` is CloudFormation's confirmation of it: every path runs it together with
/// its first reads (reads change nothing) and writes nothing before it succeeded.
pub async fn run<I: NodeRoleIam, S: StateStore>(
    req: &Request,
    rec: &Reconciler<I, S>,
    progress: &Progress,
    confirmed: impl Future<Output = Result<()>>,
) -> Result<Outcome> {
    match &req.kind {
        Kind::Create => {
            let props = Properties::parse(&req.properties, req.stack.partition)?;
            // Boxed: the futures of the lifecycle are large, and a deep one must not live on a small stack.
            Box::pin(create(req, &props, rec, progress, None, confirmed)).await
        }
        Kind::Update { physical_id, old_properties } => {
            let props = Properties::parse(&req.properties, req.stack.partition)?;
            let old = RoleIdentity::read(old_properties);
            Box::pin(update(req, &props, old.as_ref(), physical_id, rec, progress, confirmed)).await
        }
        Kind::Delete { physical_id } => Box::pin(delete(req, physical_id, rec, confirmed)).await,
    }
}

/// Awaits the confirmation and the reads together; the reads' result only if the request is confirmed.
async fn confirmed_reads<T>(
    confirmed: impl Future<Output = Result<()>>,
    reads: impl Future<Output = Result<T>>,
) -> Result<T> {
    let (confirmed, reads) = tokio::join!(confirmed, reads);
    confirmed?;
    reads
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

fn spec_for(req: &Request, props: &Properties, name: &RoleName, adoption: &Adoption, cni: &CniCheck) -> NodeRoleSpec {
    NodeRoleSpec {
        name: name.clone(),
        path: props.path.clone(),
        partition: req.stack.partition,
        account: req.stack.account.clone(),
        region: req.stack.region.clone(),
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
        owner: req.owner.clone(),
        adopted: adoption.adopted,
        preexisting: adoption.preexisting.clone(),
        user_tags: props.tags.clone(),
    }
}

/// Checks what needs no role at all: the additional policies are allowed, the path is in reach, and an IPv6
/// role's CNI policy is there and is AWS's document. Returns the CNI check the desired state is built with.
async fn preflight<I: NodeRoleIam, S: StateStore>(
    req: &Request,
    props: &Properties,
    rec: &Reconciler<I, S>,
) -> Result<CniCheck> {
    if let Some(why) = rec.rules.disallowed_additional(&props.additional_policies) {
        return Err(Error::invalid(why));
    }
    if let Some(why) = rec.rules.path_out_of_reach(props.path.as_str()) {
        return Err(Error::invalid(format!("Path: {why}; choose another Path")));
    }
    if props.ip_family != IpFamily::Ipv6 || !props.attach_cni {
        return Ok(CniCheck::NotNeeded);
    }
    match rec.resolve_cni(req.stack.partition, &req.stack.account).await? {
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

/// A PermissionsBoundary must be on the installation's allow-list when it is set or changed; one the item
/// already records stays usable, so a list narrowed later (or a rollback) does not strand the resource.
fn check_boundary(rules: &AdoptionRules, props: &Properties, recorded: Option<&NodeRoleSpec>) -> Result<()> {
    let Some(b) = &props.boundary else { return Ok(()) };
    if recorded.is_some_and(|d| d.boundary == Boundary::Set(b.clone())) {
        return Ok(());
    }
    rules.disallowed_boundary(b).map_or(Ok(()), |why| Err(Error::invalid(why)))
}

/// Whether the live role is the one the item records: the same RoleId, or (before the RoleId was recorded) a
/// role made for this resource.
fn is_recorded_role(record: &Record, live: &LiveRole) -> bool {
    match &record.role_id {
        Some(id) => *id == live.role_id,
        None => Label::of(&live.tags).and_then(|l| l.owner).as_ref() == Some(&record.owner),
    }
}

/// Create (also a replacement during Update, with `replacing` = the role being replaced).
async fn create<I: NodeRoleIam, S: StateStore>(
    req: &Request,
    props: &Properties,
    rec: &Reconciler<I, S>,
    progress: &Progress,
    replacing: Option<&str>,
    confirmed: impl Future<Output = Result<()>>,
) -> Result<Outcome> {
    let reads = async {
        tokio::try_join!(Box::pin(preflight(req, props, rec)), Box::pin(resolve_target(req, props, rec, replacing)))
    };
    let (cni, (name, observed, profile_exists)) = confirmed_reads(confirmed, reads).await?;
    progress.set(&name);
    let Observed { role: live, record } = observed;
    if let Some(r) = &record {
        if r.owner != req.owner {
            return Err(state::owned_elsewhere(r));
        }
    }
    check_boundary(&rec.rules, props, record.as_ref().map(|r| &r.desired))?;
    let mut original_trust = record.as_ref().and_then(|r| r.original_trust.clone());
    let adoption = match (&record, &live) {
        (_, None) => Adoption::none(),
        (Some(r), Some(l)) if is_recorded_role(r, l) => {
            info!(role = %name, "role already belongs to this resource (retried or rolled-back request): converging");
            Adoption::recorded(&r.desired)
        }
        (Some(r), Some(_)) if r.role_id.is_some() => {
            return Err(Error::conflict(format!(
                "role {name} is not the role this resource recorded (its RoleId differs: it was deleted and re-created outside the stack); it is left alone: choose another RoleName"
            )))
        }
        (_, Some(l)) => {
            if !props.adopt_existing {
                return Err(Error::conflict(format!(
                    "role {name} already exists and is not managed by this stack: set AdoptExistingRole to true to adopt it, or choose another RoleName"
                )));
            }
            let inline = rec.inline_policies(&name).await?;
            let ipv6 = match &cni {
                CniCheck::Verified(a) => Some(a.clone()),
                _ => rec.resolve_cni(req.stack.partition, &req.stack.account).await.ok().and_then(|c| match c {
                    CniCheck::Verified(a) => Some(a),
                    _ => None,
                }),
            };
            if let Some(why) = rec.rules.refusal(l, &inline, req.stack.partition, ipv6.as_ref(), props.node_class) {
                return Err(Error::conflict(why));
            }
            info!(role = %name, attached = ?l.attached.iter().map(PolicyArn::name).collect::<Vec<_>>(), "adopting existing role");
            original_trust = original_trust.or_else(|| l.trust.clone());
            Adoption::fresh(l)
        }
    };
    // Nothing recorded before this request (or only its own unfinished start): undone if the request fails.
    if record.as_ref().is_none_or(|r| r.role_id.is_none()) {
        progress.taken_here();
    }
    let desired = spec_for(req, props, &name, &adoption, &cni);
    if let (Some(r), Some(l)) = (&record, &live) {
        // Taken on its label alone: the item has no RoleId yet (an earlier attempt stopped before recording it).
        if r.role_id.is_none() && is_recorded_role(r, l) {
            rec.check_label_claim(l, &desired).await?;
        }
    }
    rec.check_policy_quota(&desired, live.as_ref(), &Default::default()).await?;
    let mut item = record.clone().unwrap_or_else(|| Record::new(desired.clone()));
    let own_profile = own_profile_after(rec, &desired, item.own_profile.as_deref(), None, profile_exists).await?;
    item.desired = desired.clone();
    item.original_trust = original_trust;
    item.own_profile = own_profile;
    item.phase = Phase::Active;
    item.note(now(), if adoption.adopted { "adopted" } else { "created" });
    let expect = record.as_ref().map(Record::expect).unwrap_or(Expect::NewOrOwn);
    let item = rec.store().put(&item, expect).await?;
    Box::pin(finish(rec, item, &desired, live, &cni, &Default::default(), profile_exists)).await
}

/// After the item is written: the role created when missing (with the instance profile this request makes, at
/// once), then its RoleId recorded while everything else is applied. A crash in between is resumed by a retry.
async fn finish<I: NodeRoleIam, S: StateStore>(
    rec: &Reconciler<I, S>,
    item: Record,
    desired: &NodeRoleSpec,
    live: Option<LiveRole>,
    cni: &CniCheck,
    retired: &Retired,
    profile_existed: Option<bool>,
) -> Result<Outcome> {
    // The tool makes the profile when it is its own and was not there when the request read it.
    let make_profile = item
        .own_profile
        .clone()
        .filter(|p| desired.instance_profile.as_ref() == Some(p) && profile_existed == Some(false));
    let (live, made) = match live {
        Some(l) => (l, None),
        None => (rec.create_role(desired, make_profile.as_deref()).await?, make_profile),
    };
    let (recorded, converged) = tokio::join!(
        record_role_id(rec, item, &live),
        rec.converge(desired, live.clone(), cni, retired, made.as_deref())
    );
    let item = recorded?;
    let (_plan, role) = converged?;
    Ok(outcome(desired, &role, item.own_profile.as_deref()))
}

/// The instance profile the tool may delete later: the one the item already records, or the desired one when
/// it does not exist yet (so the tool is about to make it). A profile that exists with the role's name is
/// someone else's: reused, never deleted.
async fn own_profile_after<I: NodeRoleIam, S: StateStore>(
    rec: &Reconciler<I, S>,
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
        None => rec.profile_exists(want).await?,
    };
    Ok(if exists { recorded.map(str::to_string) } else { Some(want.to_string()) })
}

/// Records the RoleId of the role this item now stands for (once: it never changes).
async fn record_role_id<I: NodeRoleIam, S: StateStore>(
    rec: &Reconciler<I, S>,
    item: Record,
    role: &LiveRole,
) -> Result<Record> {
    if item.role_id.as_deref() == Some(role.role_id.as_str()) {
        return Ok(item);
    }
    let expect = item.expect();
    let next = Record { role_id: Some(role.role_id.clone()), ..item };
    rec.store().put(&next, expect).await
}

/// Picks the role a Create works on: the RoleName given, the declared node role found by the procedure's
/// check, or a generated name. Returns it with its observation and, when read with it, whether an instance
/// profile of its name exists.
async fn resolve_target<I: NodeRoleIam, S: StateStore>(
    req: &Request,
    props: &Properties,
    rec: &Reconciler<I, S>,
    replacing: Option<&str>,
) -> Result<(RoleName, Observed, Option<bool>)> {
    let observe = |name: RoleName| async move {
        let profile = props.create_instance_profile.then_some(name.as_str());
        let (observed, exists) = rec.observe_with_profile(&name, profile).await?;
        Ok::<_, Error>((name.clone(), observed, profile.map(|_| exists)))
    };
    if let Some(name) = &props.role_name {
        return observe(name.clone()).await;
    }
    // The procedure's check for an existing node role is a Create's first step; a replacement never adopts.
    if props.adopt_existing && replacing.is_none() {
        if let Some((name, observed)) = search_existing(req, rec).await? {
            return Ok((name, observed, None));
        }
    }
    // Generated names depend on the path: a replacement for a new Path gets its own name, and a rollback to a
    // path finds the role made for it, however many replacements happened in between.
    observe(generated_name(req, &props.path)).await
}

/// The name a Create without RoleName gives the role: a function of StackId + LogicalResourceId + Path (the
/// root path adds nothing, so the name of a role at `/` depends on the resource alone).
fn generated_name(req: &Request, path: &crate::domain::RolePath) -> RoleName {
    let path = if path.as_str() == "/" { "" } else { path.as_str() };
    RoleName::generate(
        &req.stack.name,
        &req.owner.logical_id,
        &format!("{}{}{path}", req.owner.stack_id, req.owner.logical_id),
    )
}

/// The procedure's check for an existing node role, limited to the names the operator declared adoptable
/// (`AdoptableRoleNames`, exact and case-insensitive, `*` as a wildcard).
async fn search_existing<I: NodeRoleIam, S: StateStore>(
    req: &Request,
    rec: &Reconciler<I, S>,
) -> Result<Option<(RoleName, Observed)>> {
    let roles = rec.roles().await?;
    let mut candidates = Vec::new();
    for summary in roles.iter().filter(|r| rec.rules.is_adoptable_name(&r.name)) {
        let Ok(name) = RoleName::parse(&summary.name) else { continue };
        let observed = rec.observe(&name).await?;
        match &observed.record {
            Some(r) if r.owner == req.owner => return Ok(Some((name, observed))),
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

fn outcome(desired: &NodeRoleSpec, live: &LiveRole, own_profile: Option<&str>) -> Outcome {
    let mut data = BTreeMap::from([
        ("Arn".to_string(), live.arn.clone()),
        ("RoleName".to_string(), live.name.to_string()),
        ("RoleId".to_string(), live.role_id.clone()),
        ("Adopted".to_string(), desired.adopted.to_string()),
    ]);
    let profile = match desired.instance_profile.as_deref() {
        Some(p) => live.in_instance_profile(p),
        // An adopted role's own profile, when there is exactly one.
        None if desired.external_profile && live.instance_profiles.len() == 1 => live.instance_profiles.first(),
        None => None,
    };
    if let Some(p) = profile {
        data.insert("InstanceProfileName".into(), p.name.clone());
        data.insert("InstanceProfileArn".into(), p.arn.clone());
    }
    if let Some(cni) = desired.cni_policy() {
        data.insert("CniPolicyArn".into(), cni.to_string());
    }
    let mut warnings = Vec::new();
    let cni = policies::cni_policy(desired.partition);
    if !desired.attach_cni && live.attached.contains(&cni) {
        warnings.push(format!(
            "{} is attached to role {} although AttachCniPolicy is false; it was left in place. AWS recommends attaching it to the role of the aws-node service account (IRSA or EKS Pod Identity) and removing it from the node role.",
            policies::CNI_POLICY, live.name
        ));
    }
    if desired.instance_profile.is_some() && own_profile != desired.instance_profile.as_deref() {
        info!(role = %live.name, "the instance profile existed before: reused, and never deleted by the tool");
    }
    if !warnings.is_empty() {
        for w in &warnings {
            warn!(role = %live.name, "{w}");
        }
        data.insert("Warnings".into(), warnings.join(" "));
    }
    Outcome { physical_id: live.name.to_string(), data }
}

/// Whether an Update replaces the role: a new RoleName (or Path, with a generated name). A new Path under the
/// same given RoleName is refused: IAM role names are unique per account.
fn replaces(req: &Request, props: &Properties, old: Option<&RoleIdentity>, physical_id: &str) -> Result<bool> {
    // IAM role names are case-insensitive: `NodeRole` → `noderole` names the same role, no replacement.
    let same = |n: &RoleName| n.as_str().eq_ignore_ascii_case(physical_id);
    let name_changed = match (&props.role_name, old.map(|o| &o.role_name)) {
        (Some(n), _) => !same(n),
        // From a given name to a generated one: a new name unless it is this one.
        (None, Some(Some(_))) => !same(&generated_name(req, &props.path)),
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

async fn update<I: NodeRoleIam, S: StateStore>(
    req: &Request,
    props: &Properties,
    old: Option<&RoleIdentity>,
    physical_id: &str,
    rec: &Reconciler<I, S>,
    progress: &Progress,
    confirmed: impl Future<Output = Result<()>>,
) -> Result<Outcome> {
    if replaces(req, props, old, physical_id)? {
        info!(old_role = physical_id, "RoleName or Path changed: replacing the role");
        let created = Box::pin(create(req, props, rec, progress, Some(physical_id), confirmed)).await;
        if created.is_err() {
            undo_failed_replacement(req, physical_id, rec, progress).await;
        }
        return created;
    }
    let name = RoleName::parse(physical_id).map_err(|_| {
        Error::invalid(format!("PhysicalResourceId '{physical_id}' is not a role this resource manages"))
    })?;
    progress.set(&name);
    let profile = props.create_instance_profile.then_some(name.as_str());
    let reads = async {
        tokio::try_join!(Box::pin(preflight(req, props, rec)), Box::pin(rec.observe_with_profile(&name, profile)))
    };
    let (cni, (Observed { role: live, record }, exists)) = confirmed_reads(confirmed, reads).await?;
    let profile_exists = profile.map(|_| exists);
    let Some(record) = record else {
        return Err(Error::conflict(format!(
            "role {name} has no state item, so this resource does not manage it and it is not updated"
        )));
    };
    if record.owner != req.owner {
        return Err(state::owned_elsewhere(&record));
    }
    check_boundary(&rec.rules, props, Some(&record.desired))?;
    if let Some(l) = &live {
        if !is_recorded_role(&record, l) {
            return Err(Error::conflict(format!(
                "role {name} is not the role this resource recorded (its RoleId differs: it was deleted and re-created outside the stack), so it is not updated"
            )));
        }
    } else {
        warn!(role = %name, "role is gone: creating it again");
    }
    let adoption = if live.is_some() { Adoption::recorded(&record.desired) } else { Adoption::none() };
    let desired = spec_for(req, props, &name, &adoption, &cni);
    let mut retired = desired.retired_since(&record.desired);
    // Only a profile the tool made is deleted when it is no longer wanted.
    if retired.instance_profile.is_some() && retired.instance_profile != record.own_profile {
        retired.instance_profile = None;
    }
    rec.check_policy_quota(&desired, live.as_ref(), &retired).await?;
    let own_profile = own_profile_after(
        rec,
        &desired,
        record.own_profile.as_deref(),
        retired.instance_profile.as_deref(),
        profile_exists,
    )
    .await?;
    // The new desired state is the authority before IAM changes.
    let expect = record.expect();
    let mut item = Record { desired: desired.clone(), own_profile, phase: Phase::Active, ..record };
    if live.is_none() {
        item.role_id = None;
        item.original_trust = None;
    }
    item.note(now(), "updated");
    let item = rec.store().put(&item, expect).await?;
    Box::pin(finish(rec, item, &desired, live, &cni, &retired, profile_exists)).await
}

/// A failed Update keeps the old PhysicalResourceId, so CloudFormation will never delete or release a
/// replacement this request created or adopted: undo it (best effort).
async fn undo_failed_replacement<I: NodeRoleIam, S: StateStore>(
    req: &Request,
    old: &str,
    rec: &Reconciler<I, S>,
    progress: &Progress,
) {
    let Some(name) = progress.role().filter(|n| progress.is_new() && !n.eq_ignore_ascii_case(old)) else { return };
    let Ok(name) = RoleName::parse(&name) else { return };
    let removed = async { remove_resource(req, &name, rec, rec.observe(&name).await?).await };
    match removed.await {
        Ok(_) => info!(role = %name, "undid the replacement of a failed update"),
        Err(e) => warn!(role = %name, error = %e, "could not undo the replacement of a failed update"),
    }
}

/// After the watchdog answered FAILED: an Update cut short may have left a half-made replacement.
pub(crate) async fn after_timeout<I: NodeRoleIam, S: StateStore>(
    req: &Request,
    rec: &Reconciler<I, S>,
    progress: &Progress,
) {
    if let Kind::Update { physical_id, .. } = &req.kind {
        undo_failed_replacement(req, physical_id, rec, progress).await;
    }
}

async fn delete<I: NodeRoleIam, S: StateStore>(
    req: &Request,
    physical_id: &str,
    rec: &Reconciler<I, S>,
    confirmed: impl Future<Output = Result<()>>,
) -> Result<Outcome> {
    let mut done = Outcome { physical_id: physical_id.to_string(), data: BTreeMap::new() };
    let Ok(name) = RoleName::parse(physical_id) else {
        confirmed.await?;
        info!(physical_id, "not a role name (a Create that failed early): nothing to delete");
        return Ok(done);
    };
    let observed = confirmed_reads(confirmed, rec.observe(&name)).await?;
    if let Some(warning) = remove_resource(req, &name, rec, observed).await? {
        done.data.insert("Warnings".into(), warning);
    }
    Ok(done)
}

/// Delete's protocol: mark the item `deleting`, remove (or release) the role it records, remove the item last.
/// Only the item's own role is touched: a role re-created under the same name loses nothing. Returns a warning
/// when only the item was removed.
async fn remove_resource<I: NodeRoleIam, S: StateStore>(
    req: &Request,
    name: &RoleName,
    rec: &Reconciler<I, S>,
    observed: Observed,
) -> Result<Option<String>> {
    let Observed { role: live, record } = observed;
    let Some(record) = record else {
        info!(role = %name, "no state item: nothing of this resource's to delete");
        return Ok(None);
    };
    if record.owner != req.owner {
        info!(role = %name, "role is managed by another resource: left untouched");
        return Ok(None);
    }
    // A role taken on its label alone (no RoleId recorded) is this resource's only if it holds nothing a node
    // role may not: the Create refused any other, and the rollback's Delete leaves it alone too.
    let recorded = match &live {
        Some(l) if is_recorded_role(&record, l) => {
            record.role_id.is_some() || rec.check_label_claim(l, &record.desired).await.is_ok()
        }
        _ => false,
    };
    // Check before changing anything that the teardown can finish: a policy attached by hand outside the
    // allow-list is one the function may not detach.
    if let Some(l) = live.as_ref().filter(|_| recorded && !record.desired.adopted) {
        let attachable = rec.rules.attachable(record.desired.partition, record.desired.ipv6_cni_policy.as_ref());
        let stuck: Vec<&str> = l.attached.iter().filter(|p| !attachable.contains(*p)).map(|p| p.as_str()).collect();
        if !stuck.is_empty() {
            return Err(Error::conflict(format!(
                "role {name} carries {}, which this function may not detach (not a node policy nor in AllowedAdditionalPolicyArns): detach it by hand, then retry the Delete; nothing was changed",
                stuck.join(", ")
            )));
        }
    }
    let record = if record.phase == Phase::Deleting {
        record
    } else {
        let expect = record.expect();
        let mut marked = Record { phase: Phase::Deleting, ..record };
        marked.note(now(), "deleting");
        rec.store().put(&marked, expect).await?
    };
    let mut warning = None;
    match &live {
        None => info!(role = %name, "role already gone"),
        Some(_) if !recorded => {
            let w = format!(
                "role {name} is not the role this resource recorded (another RoleId, or a copy of its label on a role it did not make): it was left in place and only this resource's state item was removed"
            );
            warn!(role = %name, "{w}");
            warning = Some(w);
        }
        Some(l) if record.desired.adopted => {
            rec.release(l, &record).await?;
        }
        Some(l) => {
            rec.teardown(l, record.own_profile.as_deref()).await?;
        }
    }
    if !recorded {
        if let Some(p) = &record.own_profile {
            // A Delete retried after the role went but before its profile did, or a profile made beside a
            // CreateRole that found someone else's role (kept if that role was put in it since).
            let delete = crate::domain::Plan { actions: vec![crate::domain::Action::DeleteInstanceProfile(p.clone())] };
            match rec.execute(name, &delete).await {
                Err(e) if live.is_some() => {
                    warn!(role = %name, profile = %p, error = %e, "instance profile left in place");
                    // The role was left in place above, which `warning` already says.
                    warning = warning.map(|w| format!("{w}; instance profile {p} was left in place ({e})"));
                }
                other => other?,
            }
        }
    }
    rec.store().delete(name, record.version).await?;
    Ok(warning)
}
