//! Create, Update and Delete of `Custom::EksNodeRole`, in the procedure's terms, on top of the reconciler.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use tracing::{info, warn};

use super::properties::{Properties, DEFAULT_DESCRIPTION};
use super::request::{Kind, Request};
use crate::domain::spec::{self, tag};
use crate::domain::{policies, Boundary, LiveRole, Management, NodeRoleSpec, PolicyArn, Retired, RoleName};
use crate::error::{Error, Result};
use crate::iam::NodeRoleIam;
use crate::reconcile::Reconciler;

/// The names the procedure's "check for an existing node role" searches for.
pub const WELL_KNOWN_NAMES: [&str; 3] = ["eksNodeRole", "AmazonEKSNodeRole", "NodeInstanceRole"];

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
    /// The role did not exist before this request: it is this request's to remove if the request fails.
    fn created_here(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
    }
    pub fn role(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).0.clone()
    }
    fn is_new(&self) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).1
    }
}

pub async fn run<I: NodeRoleIam>(req: &Request, rec: &Reconciler<I>, progress: &Progress) -> Result<Outcome> {
    match &req.kind {
        Kind::Create => {
            let props = Properties::parse(&req.properties, req.stack.partition)?;
            create(req, &props, rec, progress, None).await
        }
        Kind::Update { physical_id, old_properties } => {
            let props = Properties::parse(&req.properties, req.stack.partition)?;
            let old = Properties::parse(old_properties, req.stack.partition).ok();
            update(req, &props, old.as_ref(), physical_id, rec, progress).await
        }
        Kind::Delete { physical_id } => delete(req, physical_id, rec).await,
    }
}

/// How an existing role relates to this resource.
enum Existing {
    None,
    /// Carries our tags for this StackId + LogicalResourceId: a retry, a rollback or an in-place update.
    Ours(Box<LiveRole>),
    /// No management tags: adoptable.
    Foreign(Box<LiveRole>),
}

fn classify(req: &Request, live: Option<LiveRole>) -> Result<Existing> {
    let Some(live) = live else {
        return Ok(Existing::None);
    };
    match Management::of(&live.tags).owner() {
        Some(o) if *o == req.owner => Ok(Existing::Ours(Box::new(live))),
        Some(o) => Err(Error::conflict(format!(
            "role {} is already managed by resource {} of stack {}: choose another RoleName",
            live.name, o.logical_id, o.stack_id
        ))),
        None => Ok(Existing::Foreign(Box::new(live))),
    }
}

/// Adoption facts that the spec needs.
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

    /// What the role's tags recorded when it was created or adopted.
    fn recorded(live: &LiveRole) -> Self {
        Adoption {
            adopted: live.tags.get(tag::ADOPTED).map(String::as_str) == Some("true"),
            preexisting: spec::recorded_list(&live.tags, tag::PREEXISTING),
            external_profile: live.tags.get(tag::INSTANCE_PROFILE).map(String::as_str) == Some(spec::EXTERNAL_PROFILE),
        }
    }
}

fn spec_for(req: &Request, props: &Properties, name: &RoleName, adoption: &Adoption) -> NodeRoleSpec {
    NodeRoleSpec {
        name: name.clone(),
        path: props.path.clone(),
        partition: req.stack.partition,
        account: req.stack.account.clone(),
        description: props.description.clone().or_else(|| (!adoption.adopted).then(|| DEFAULT_DESCRIPTION.to_string())),
        ip_family: props.ip_family,
        attach_cni: props.attach_cni,
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

/// Create (also a replacement during Update, with `replacing` = the role being replaced).
async fn create<I: NodeRoleIam>(
    req: &Request,
    props: &Properties,
    rec: &Reconciler<I>,
    progress: &Progress,
    replacing: Option<&str>,
) -> Result<Outcome> {
    let (name, existing) = resolve_target(req, props, rec, replacing).await?;
    progress.set(&name);
    if matches!(existing, Existing::None) {
        progress.created_here();
    }
    let adoption = match &existing {
        Existing::None => Adoption::none(),
        Existing::Ours(live) => Adoption::recorded(live),
        Existing::Foreign(live) => {
            if !props.adopt_existing {
                return Err(Error::conflict(format!(
                    "role {name} already exists and is not managed by this stack: set AdoptExistingRole to true to adopt it, or choose another RoleName"
                )));
            }
            refuse_forbidden(live)?;
            info!(role = %name, attached = ?live.attached.iter().map(PolicyArn::name).collect::<Vec<_>>(), "adopting existing role");
            Adoption::fresh(live)
        }
    };
    if let Existing::Ours(live) = &existing {
        info!(role = %name, "role already belongs to this resource (retried or rolled-back request): converging");
        refuse_forbidden(live)?;
    }
    let desired = spec_for(req, props, &name, &adoption);
    converge(rec, &desired, &Retired::default()).await
}

/// Picks the role a Create works on: the RoleName given, the one found by the procedure's search, or a
/// generated name.
async fn resolve_target<I: NodeRoleIam>(
    req: &Request,
    props: &Properties,
    rec: &Reconciler<I>,
    replacing: Option<&str>,
) -> Result<(RoleName, Existing)> {
    if let Some(name) = &props.role_name {
        let live = rec.iam.read_role(name).await?;
        return Ok((name.clone(), classify(req, live)?));
    }
    // The search is the procedure's first step of a Create; a replacement never adopts by search.
    if props.adopt_existing && replacing.is_none() {
        if let Some(found) = search_existing(req, rec).await? {
            return Ok(found);
        }
    }
    let base_seed = format!("{}{}", req.owner.stack_id, req.owner.logical_id);
    let base = generated_name(req);
    if replacing.is_none() {
        let live = rec.iam.read_role(&base).await?;
        return Ok((base, classify(req, live)?));
    }
    // A replacement needs a new name; but a rollback to the original path takes the original role back.
    if replacing != Some(base.as_str()) {
        if let Some(live) = rec.iam.read_role(&base).await? {
            if live.path == props.path.as_str() {
                return Ok((base, classify(req, Some(live))?));
            }
        }
    }
    let name = RoleName::generate(&req.stack.name, &req.owner.logical_id, &format!("{base_seed}{}", req.request_id));
    let live = rec.iam.read_role(&name).await?;
    Ok((name, classify(req, live)?))
}

/// The name a Create without RoleName gives the role: stable for StackId + LogicalResourceId.
fn generated_name(req: &Request) -> RoleName {
    RoleName::generate(
        &req.stack.name,
        &req.owner.logical_id,
        &format!("{}{}", req.owner.stack_id, req.owner.logical_id),
    )
}

/// The procedure's check for an existing node role: exact names first, then names that contain them.
async fn search_existing<I: NodeRoleIam>(req: &Request, rec: &Reconciler<I>) -> Result<Option<(RoleName, Existing)>> {
    let roles = rec.iam.list_roles(None).await?;
    let lower: Vec<String> = WELL_KNOWN_NAMES.iter().map(|n| n.to_ascii_lowercase()).collect();
    let exact: Vec<&str> =
        roles.iter().map(|r| r.name.as_str()).filter(|n| lower.contains(&n.to_ascii_lowercase())).collect();
    let contains: Vec<&str> = roles
        .iter()
        .map(|r| r.name.as_str())
        .filter(|n| lower.iter().any(|w| n.to_ascii_lowercase().contains(w.as_str())))
        .collect();
    let tiers: [&[&str]; 2] = [&exact, &contains];
    for tier in tiers {
        let mut candidates = Vec::new();
        for name in tier.iter() {
            let Ok(name) = RoleName::parse(name) else {
                continue;
            };
            let live = rec.iam.read_role(&name).await?;
            match Management::of(live.as_ref().map(|l| &l.tags).unwrap_or(&BTreeMap::new())).owner() {
                Some(o) if *o == req.owner => return Ok(Some((name, classify(req, live)?))),
                Some(_) => info!(role = %name, "candidate skipped: managed by another resource"),
                None if live.is_some() => candidates.push((name, live)),
                None => {}
            }
        }
        match candidates.len() {
            0 => continue,
            1 => {
                let (name, live) = candidates.pop().expect("one candidate");
                info!(role = %name, "found an existing node role");
                return Ok(Some((name, classify(req, live)?)));
            }
            _ => {
                let names: Vec<String> = candidates.iter().map(|(n, _)| n.to_string()).collect();
                return Err(Error::conflict(format!(
                    "AdoptExistingRole found several candidate node roles ({}): set RoleName to the one to adopt",
                    names.join(", ")
                )));
            }
        }
    }
    Ok(None)
}

fn refuse_forbidden(live: &LiveRole) -> Result<()> {
    if let Some(why) = live.trust.as_ref().and_then(policies::forbidden_trust) {
        return Err(Error::conflict(format!("role {} cannot be used as a node role: {why}", live.name)));
    }
    Ok(())
}

async fn converge<I: NodeRoleIam>(rec: &Reconciler<I>, desired: &NodeRoleSpec, retired: &Retired) -> Result<Outcome> {
    let (_plan, live) = rec.converge(desired, retired).await?;
    Ok(outcome(desired, &live))
}

fn outcome(desired: &NodeRoleSpec, live: &LiveRole) -> Outcome {
    let mut data = BTreeMap::from([
        ("Arn".to_string(), live.arn.clone()),
        ("RoleName".to_string(), live.name.to_string()),
        ("RoleId".to_string(), live.role_id.clone()),
        ("Adopted".to_string(), desired.adopted.to_string()),
    ]);
    let profile = match desired.instance_profile.as_deref() {
        Some(own) => live.in_instance_profile(own),
        // An adopted role's own profile, when there is exactly one.
        None if desired.external_profile && live.instance_profiles.len() == 1 => live.instance_profiles.first(),
        None => None,
    };
    if let Some(p) = profile {
        data.insert("InstanceProfileName".into(), p.name.clone());
        data.insert("InstanceProfileArn".into(), p.arn.clone());
    }
    if let Some(cni) = desired.cni_policy().filter(|c| live.attached.contains(c)) {
        data.insert("CniPolicyArn".into(), cni.to_string());
    }
    let cni = policies::cni_policy(desired.partition);
    if !desired.attach_cni && live.attached.contains(&cni) {
        let warning = format!(
            "{} is attached to role {} although AttachCniPolicy is false; it was left in place. AWS recommends attaching it to the role of the aws-node service account (IRSA or EKS Pod Identity) and removing it from the node role.",
            policies::CNI_POLICY, live.name
        );
        warn!(role = %live.name, "{warning}");
        data.insert("Warnings".into(), warning);
    }
    Outcome { physical_id: live.name.to_string(), data }
}

async fn update<I: NodeRoleIam>(
    req: &Request,
    props: &Properties,
    old: Option<&Properties>,
    physical_id: &str,
    rec: &Reconciler<I>,
    progress: &Progress,
) -> Result<Outcome> {
    // IAM role names are case-insensitive: `NodeRole` → `noderole` names the same role, no replacement.
    let same = |n: &RoleName| n.as_str().eq_ignore_ascii_case(physical_id);
    let name_changed = match (&props.role_name, old.map(|o| &o.role_name)) {
        (Some(n), _) => !same(n),
        // Generated before and now: the same role.
        (None, Some(None)) => false,
        // From a given name to a generated one (or old properties unreadable): a new name unless it is this one.
        (None, _) => !same(&generated_name(req)),
    };
    let path_changed = old.is_some_and(|o| o.path != props.path);
    if name_changed || path_changed {
        if !name_changed && props.role_name.is_some() {
            return Err(Error::invalid(format!(
                "Path cannot change while RoleName stays '{physical_id}': IAM role names are unique per account, so a new Path needs a new RoleName (or no RoleName, for a generated one)"
            )));
        }
        info!(old_role = physical_id, "RoleName or Path changed: replacing the role");
        let created = create(req, props, rec, progress, Some(physical_id)).await;
        if created.is_err() {
            remove_failed_replacement(req, physical_id, rec, progress).await;
        }
        return created;
    }
    let name = RoleName::parse(physical_id).map_err(|_| {
        Error::invalid(format!("PhysicalResourceId '{physical_id}' is not a role this resource manages"))
    })?;
    progress.set(&name);
    let live = rec.iam.read_role(&name).await?;
    let live = match classify(req, live)? {
        Existing::Ours(live) => live,
        Existing::None => {
            warn!(role = %name, "role is gone: creating it again");
            let desired = spec_for(req, props, &name, &Adoption::none());
            return converge(rec, &desired, &Retired::default()).await;
        }
        Existing::Foreign(_) => {
            return Err(Error::conflict(format!(
                "role {name} no longer carries this tool's management tags, so it is not updated: restore the tags or replace the resource"
            )))
        }
    };
    let adoption = Adoption::recorded(&live);
    let desired = spec_for(req, props, &name, &adoption);
    let retired = old.map(|o| desired.retired_since(&spec_for(req, o, &name, &adoption))).unwrap_or_default();
    converge(rec, &desired, &retired).await
}

/// A failed Update keeps the old PhysicalResourceId, so CloudFormation will never delete a replacement this
/// request created: remove it (best effort; what is left is still tagged as this resource's).
async fn remove_failed_replacement<I: NodeRoleIam>(req: &Request, old: &str, rec: &Reconciler<I>, progress: &Progress) {
    let Some(name) = progress.role().filter(|n| progress.is_new() && !n.eq_ignore_ascii_case(old)) else { return };
    let Ok(name) = RoleName::parse(&name) else { return };
    match rec.iam.read_role(&name).await {
        Ok(Some(live)) if Management::of(&live.tags).owner() == Some(&req.owner) => match rec.teardown(&live).await {
            Ok(_) => info!(role = %name, "removed the replacement role of a failed update"),
            Err(e) => warn!(role = %name, error = %e, "could not remove the replacement role of a failed update"),
        },
        Ok(_) => {}
        Err(e) => warn!(role = %name, error = %e, "could not check the replacement role of a failed update"),
    }
}

/// After the watchdog answered FAILED: an Update cut short may have left a half-made replacement.
pub(crate) async fn after_timeout<I: NodeRoleIam>(req: &Request, rec: &Reconciler<I>, progress: &Progress) {
    if let Kind::Update { physical_id, .. } = &req.kind {
        remove_failed_replacement(req, physical_id, rec, progress).await;
    }
}

async fn delete<I: NodeRoleIam>(req: &Request, physical_id: &str, rec: &Reconciler<I>) -> Result<Outcome> {
    let done = Outcome { physical_id: physical_id.to_string(), data: BTreeMap::new() };
    let Ok(name) = RoleName::parse(physical_id) else {
        info!(physical_id, "not a role name (a Create that failed early): nothing to delete");
        return Ok(done);
    };
    let Some(live) = rec.iam.read_role(&name).await? else {
        info!(role = %name, "role already gone");
        // A Delete retried after the role went but before its IPv6 CNI policy did: finish that too (only a
        // policy the tool created and nothing uses).
        if let Ok(props) = Properties::parse(&req.properties, req.stack.partition) {
            if props.attach_cni && props.ip_family == crate::domain::IpFamily::Ipv6 {
                rec.delete_policy_if_unused(&name, &policies::cni_ipv6_policy(req.stack.partition, &req.stack.account))
                    .await?;
            }
        }
        return Ok(done);
    };
    if Management::of(&live.tags).owner() != Some(&req.owner) {
        info!(role = %name, "role is not managed by this resource: left untouched");
        return Ok(done);
    }
    if live.tags.get(tag::ADOPTED).map(String::as_str) == Some("true") {
        rec.release(&live).await?;
    } else {
        rec.teardown(&live).await?;
    }
    Ok(done)
}
