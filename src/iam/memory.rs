//! An in-memory IAM with the behaviour the core depends on: NoSuchEntity, EntityAlreadyExists, DeleteConflict,
//! one role per instance profile, case-insensitive names, the managed-policy quota (LimitExceeded). The same
//! contract tests (`iam::contract`) run against it and against moto, so it cannot drift from the stand-in.
//! For fast tests and the benchmark; never used by the function.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::{NodeRoleIam, RoleSummary};
use crate::domain::{Action, LiveInstanceProfile, LiveRole, PolicyArn, RoleHead, RoleName, RolePath};
use crate::error::{Error, IamCode, Result};

const ACCOUNT: &str = "123456789012";

#[derive(Debug, Clone)]
struct Role {
    live: LiveRole,
    inline: BTreeSet<String>,
    /// Inline policies' documents, where a test gave one.
    inline_documents: BTreeMap<String, serde_json::Value>,
    /// `CreateDate` (seconds since the epoch).
    created: i64,
}

#[derive(Debug, Clone)]
struct Profile {
    name: String,
    arn: String,
    tags: BTreeMap<String, String>,
    roles: Vec<String>,
}

#[derive(Debug, Default)]
struct World {
    /// By lower-cased name.
    roles: BTreeMap<String, Role>,
    profiles: BTreeMap<String, Profile>,
    /// Customer managed policies (ARN → default version's document).
    policies: BTreeMap<String, Value>,
    quota: usize,
    next_id: u64,
    /// A role someone else creates (with these inline policies) just before the next CreateRole of its name:
    /// the race a test sets up with `race_next_create`.
    race: Option<(String, Action, Vec<String>)>,
    /// Every call, in order, as `Operation` or `Operation name`.
    calls: Vec<String>,
}

#[derive(Clone)]
pub struct MemoryIam {
    world: Arc<Mutex<World>>,
}

impl Default for MemoryIam {
    fn default() -> Self {
        MemoryIam { world: Arc::new(Mutex::new(World { quota: 10, ..World::default() })) }
    }
}

fn err(operation: &'static str, code: IamCode, message: impl Into<String>) -> Error {
    Error::Iam { operation, code: Some(code.as_str().to_string()), message: message.into(), retryable: false }
}

fn no_role(operation: &'static str, name: &str) -> Error {
    err(operation, IamCode::NoSuchEntity, format!("The role with name {name} cannot be found."))
}

impl MemoryIam {
    pub fn new() -> Self {
        Self::default()
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the account's AttachedPoliciesPerRoleQuota (10 by default).
    pub fn set_quota(&self, quota: usize) {
        self.world().quota = quota;
    }

    /// Creates a customer managed policy with `document` as its default version.
    pub fn put_policy(&self, arn: &PolicyArn, document: Value) {
        self.world().policies.insert(arn.to_string(), document);
    }

    /// The calls made so far.
    pub fn calls(&self) -> Vec<String> {
        self.world().calls.clone()
    }

    /// The role as it is now (with attachments and profiles), for assertions.
    pub fn role(&self, name: &str) -> Option<LiveRole> {
        let w = self.world();
        w.roles.get(&name.to_ascii_lowercase()).map(|r| with_profiles(&w, r))
    }

    pub fn profile_exists(&self, name: &str) -> bool {
        self.world().profiles.contains_key(&name.to_ascii_lowercase())
    }

    fn call(&self, what: String) {
        self.world().calls.push(what);
    }

    /// Whether a managed policy exists: AWS's (any name but `DoesNotExist`) or a customer one put here.
    fn policy_exists(w: &World, arn: &PolicyArn) -> bool {
        if arn.as_str().contains(":iam::aws:policy/") {
            return arn.name() != "DoesNotExist";
        }
        w.policies.contains_key(arn.as_str())
    }

    fn create(&self, name: &RoleName, create: &Action) -> Result<LiveRole> {
        let Action::CreateRole { path, trust, description, boundary, tags } = create else {
            return Err(Error::invalid(format!("{create} is not a CreateRole")));
        };
        let mut w = self.world();
        let key = name.as_str().to_ascii_lowercase();
        if w.roles.contains_key(&key) {
            return Err(err(
                "CreateRole",
                IamCode::EntityAlreadyExists,
                format!("Role with name {name} already exists."),
            ));
        }
        w.next_id += 1;
        let live = LiveRole {
            name: name.clone(),
            path: path.clone(),
            arn: format!("arn:aws:iam::{ACCOUNT}:role{path}{name}"),
            role_id: format!("AROAMEMORY{:010}", w.next_id),
            trust: Some(trust.clone()),
            description: description.clone(),
            boundary: boundary.clone(),
            tags: tags.clone(),
            attached: BTreeSet::new(),
            instance_profiles: Vec::new(),
        };
        let created =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
                + w.next_id as i64;
        let role = Role { live: live.clone(), inline: BTreeSet::new(), inline_documents: BTreeMap::new(), created };
        w.roles.insert(key, role);
        Ok(live)
    }

    fn create_profile(&self, name: &str, path: &str) -> Result<()> {
        let mut w = self.world();
        let key = name.to_ascii_lowercase();
        if w.profiles.contains_key(&key) {
            return Ok(());
        }
        let profile = Profile {
            name: name.to_string(),
            arn: format!("arn:aws:iam::{ACCOUNT}:instance-profile{path}{name}"),
            tags: BTreeMap::from([(
                crate::domain::spec::label::MANAGED.to_string(),
                crate::domain::spec::MANAGED_TRUE.to_string(),
            )]),
            roles: Vec::new(),
        };
        w.profiles.insert(key, profile);
        Ok(())
    }

    fn add_to_profile(w: &mut World, role: &RoleName, profile: &str) -> Result<()> {
        if !w.roles.contains_key(&role.as_str().to_ascii_lowercase()) {
            return Err(no_role("AddRoleToInstanceProfile", role.as_str()));
        }
        let p = w.profiles.get_mut(&profile.to_ascii_lowercase()).ok_or_else(|| {
            err(
                "AddRoleToInstanceProfile",
                IamCode::NoSuchEntity,
                format!("Instance Profile {profile} cannot be found."),
            )
        })?;
        if p.roles.iter().any(|r| r.eq_ignore_ascii_case(role.as_str())) {
            return Ok(());
        }
        if !p.roles.is_empty() {
            return Err(Error::conflict(format!(
                "instance profile '{profile}' already holds role(s) {}: set CreateInstanceProfile to false or choose another RoleName",
                p.roles.join(", ")
            )));
        }
        p.roles.push(role.to_string());
        Ok(())
    }

    fn apply_now(&self, role: &RoleName, action: &Action) -> Result<()> {
        let mut w = self.world();
        let op = action.operation();
        match action {
            Action::CreateRole { .. } => {
                drop(w);
                self.create(role, action).map(drop)
            }
            Action::AttachPolicy(arn) => Self::attach(&mut w, role, arn),
            // Removing what is already gone is success (as the SDK adapter treats NoSuchEntity).
            Action::DetachPolicy(arn) => match w.roles.get_mut(&role.as_str().to_ascii_lowercase()) {
                Some(r) => {
                    r.live.attached.remove(arn);
                    Ok(())
                }
                None => Ok(()),
            },
            Action::EnsureInstanceProfile { name, path } => {
                drop(w);
                self.create_profile(name, path.as_str())?;
                Self::add_to_profile(&mut self.world(), role, name)
            }
            Action::AddToInstanceProfile(name) => Self::add_to_profile(&mut w, role, name),
            Action::RemoveFromInstanceProfile(name) => {
                if let Some(p) = w.profiles.get_mut(&name.to_ascii_lowercase()) {
                    p.roles.retain(|r| !r.eq_ignore_ascii_case(role.as_str()));
                }
                Ok(())
            }
            Action::DeleteInstanceProfile(name) => {
                let k = name.to_ascii_lowercase();
                if w.profiles.get(&k).is_some_and(|p| !p.roles.is_empty()) {
                    let why = "Cannot delete entity, must remove roles from instance profile first.";
                    return Err(err(op, IamCode::DeleteConflict, why));
                }
                w.profiles.remove(&k);
                Ok(())
            }
            Action::DeleteRole => Self::delete_role(&mut w, role),
            Action::DeleteInlinePolicy(name) => {
                if let Some(r) = w.roles.get_mut(&role.as_str().to_ascii_lowercase()) {
                    r.inline.remove(name);
                }
                Ok(())
            }
            Action::UpdateTrust(_)
            | Action::PutBoundary(_)
            | Action::DeleteBoundary
            | Action::UpdateDescription(_)
            | Action::TagRole(_)
            | Action::UntagRole(_) => Self::change_role(&mut w, role, action),
        }
    }

    fn attach(w: &mut World, role: &RoleName, arn: &PolicyArn) -> Result<()> {
        let (op, quota) = ("AttachRolePolicy", w.quota);
        if !Self::policy_exists(w, arn) {
            let why = format!("Policy {arn} does not exist or is not attachable.");
            return Err(err(op, IamCode::NoSuchEntity, why));
        }
        let r = w.roles.get_mut(&role.as_str().to_ascii_lowercase()).ok_or_else(|| no_role(op, role.as_str()))?;
        if !r.live.attached.contains(arn) && r.live.attached.len() >= quota {
            return Err(err(op, IamCode::LimitExceeded, format!("Cannot exceed quota for PoliciesPerRole: {quota}")));
        }
        r.live.attached.insert(arn.clone());
        Ok(())
    }

    /// IAM refuses to delete a role that still has policies or sits in a profile; one already gone is success.
    fn delete_role(w: &mut World, role: &RoleName) -> Result<()> {
        let key = role.as_str().to_ascii_lowercase();
        let Some(r) = w.roles.get(&key) else { return Ok(()) };
        let in_profile = w.profiles.values().any(|p| p.roles.iter().any(|n| n.eq_ignore_ascii_case(role.as_str())));
        if !r.live.attached.is_empty() || !r.inline.is_empty() || in_profile {
            let why = "Cannot delete entity, must detach all policies first.";
            return Err(err("DeleteRole", IamCode::DeleteConflict, why));
        }
        w.roles.remove(&key);
        Ok(())
    }

    /// Changes of the role itself: trust, boundary, description, tags.
    fn change_role(w: &mut World, role: &RoleName, action: &Action) -> Result<()> {
        let op = action.operation();
        let r = w.roles.get_mut(&role.as_str().to_ascii_lowercase()).ok_or_else(|| no_role(op, role.as_str()))?;
        let live = &mut r.live;
        match action {
            Action::UpdateTrust(doc) => live.trust = Some(doc.clone()),
            Action::PutBoundary(arn) => live.boundary = Some(arn.clone()),
            Action::DeleteBoundary => live.boundary = None,
            Action::UpdateDescription(d) => live.description = Some(d.clone()),
            Action::TagRole(tags) => {
                for (k, v) in tags {
                    // IAM tag keys are case-insensitive: the key keeps its first spelling.
                    let existing = live.tags.keys().find(|x| x.eq_ignore_ascii_case(k)).cloned();
                    live.tags.insert(existing.unwrap_or_else(|| k.clone()), v.clone());
                }
            }
            Action::UntagRole(keys) => live.tags.retain(|k, _| !keys.iter().any(|x| x.eq_ignore_ascii_case(k))),
            other => return Err(err(op, IamCode::NoSuchEntity, format!("{other} is not a change of the role itself"))),
        }
        Ok(())
    }

    /// A hand-made change (a person in the console): the test's way to break a role.
    pub fn outside(&self, role: &str, action: &Action) -> Result<()> {
        self.apply_now(&RoleName::parse(role)?, action)
    }

    /// Someone else creates `role` (with `inline` policies) between the function's reads and its CreateRole.
    pub fn race_next_create(&self, role: &str, create: Action, inline: &[&str]) {
        self.world().race = Some((role.to_string(), create, inline.iter().map(|p| p.to_string()).collect()));
    }

    /// Puts an inline policy with its document on a role.
    pub fn put_inline_policy_document(&self, role: &str, policy: &str, document: serde_json::Value) {
        if let Some(r) = self.world().roles.get_mut(&role.to_ascii_lowercase()) {
            r.inline.insert(policy.to_string());
            r.inline_documents.insert(policy.to_string(), document);
        }
    }

    /// The role's `CreateDate` (seconds since the epoch) is `secs`.
    pub fn set_created(&self, role: &str, secs: i64) {
        if let Some(r) = self.world().roles.get_mut(&role.to_ascii_lowercase()) {
            r.created = secs;
        }
    }

    /// Puts an inline policy on a role (a person's hand-made change).
    pub fn put_inline_policy(&self, role: &str, policy: &str) {
        if let Some(r) = self.world().roles.get_mut(&role.to_ascii_lowercase()) {
            r.inline.insert(policy.to_string());
        }
    }
}

fn with_profiles(w: &World, r: &Role) -> LiveRole {
    let mut live = r.live.clone();
    live.instance_profiles = w
        .profiles
        .values()
        .filter(|p| p.roles.iter().any(|n| n.eq_ignore_ascii_case(live.name.as_str())))
        .map(|p| LiveInstanceProfile { name: p.name.clone(), arn: p.arn.clone() })
        .collect();
    live
}

impl NodeRoleIam for MemoryIam {
    async fn get_role(&self, name: &RoleName) -> Result<Option<RoleHead>> {
        self.call(format!("GetRole {name}"));
        let w = self.world();
        Ok(w.roles.get(&name.as_str().to_ascii_lowercase()).map(|r| r.live.head()))
    }

    async fn read_attachments(&self, role: RoleHead) -> Result<Option<LiveRole>> {
        self.call(format!("ListAttachedRolePolicies {}", role.name));
        self.call(format!("ListInstanceProfilesForRole {}", role.name));
        let w = self.world();
        let Some(r) = w.roles.get(&role.name.as_str().to_ascii_lowercase()) else { return Ok(None) };
        let full = with_profiles(&w, r);
        Ok(Some(role.complete(full.attached, full.instance_profiles)))
    }

    async fn create_role(&self, role: &RoleName, create: &Action) -> Result<RoleHead> {
        let race = self.world().race.take_if(|(name, _, _)| name.eq_ignore_ascii_case(role.as_str()));
        if let Some((name, first, inline)) = race {
            self.outside(&name, &first)?;
            for p in inline {
                self.put_inline_policy(&name, &p);
            }
        }
        self.call(format!("CreateRole {role}"));
        self.create(role, create).map(|live| live.head())
    }

    async fn create_instance_profile(&self, name: &str, path: &RolePath) -> Result<()> {
        self.call(format!("CreateInstanceProfile {name}"));
        self.create_profile(name, path.as_str())
    }

    async fn policy_document(&self, arn: &PolicyArn) -> Result<Option<Value>> {
        self.call(format!("GetPolicy {}", arn.name()));
        let w = self.world();
        if let Some(doc) = w.policies.get(arn.as_str()) {
            return Ok(Some(doc.clone()));
        }
        Ok(None)
    }

    async fn instance_profile_tags(&self, name: &str) -> Result<Option<BTreeMap<String, String>>> {
        self.call(format!("GetInstanceProfile {name}"));
        Ok(self.world().profiles.get(&name.to_ascii_lowercase()).map(|p| p.tags.clone()))
    }

    async fn instance_profile_roles(&self, name: &str) -> Result<Option<Vec<String>>> {
        self.call(format!("GetInstanceProfile {name}"));
        Ok(self.world().profiles.get(&name.to_ascii_lowercase()).map(|p| p.roles.to_vec()))
    }

    async fn attached_policies_quota(&self) -> Result<usize> {
        self.call("GetAccountSummary".into());
        Ok(self.world().quota)
    }

    async fn inline_policy_names(&self, role: &RoleName) -> Result<Vec<String>> {
        self.call(format!("ListRolePolicies {role}"));
        let w = self.world();
        Ok(w.roles
            .get(&role.as_str().to_ascii_lowercase())
            .map(|r| r.inline.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn inline_policy_document(&self, role: &RoleName, name: &str) -> Result<Option<serde_json::Value>> {
        self.call(format!("GetRolePolicy {role} {name}"));
        let w = self.world();
        let r = w.roles.get(&role.as_str().to_ascii_lowercase());
        Ok(r.filter(|r| r.inline.contains(name)).map(|r| {
            r.inline_documents
                .get(name)
                .cloned()
                .unwrap_or_else(|| serde_json::json!({"Version": "2012-10-17", "Statement": []}))
        }))
    }

    async fn list_roles(&self, path_prefix: Option<&str>) -> Result<Vec<RoleSummary>> {
        self.call("ListRoles".into());
        let w = self.world();
        Ok(w.roles
            .values()
            .filter(|r| path_prefix.is_none_or(|p| r.live.path.as_str().starts_with(p)))
            .map(|r| RoleSummary {
                name: r.live.name.to_string(),
                path: r.live.path.as_str().to_string(),
                created: Some(r.created),
            })
            .collect())
    }

    async fn apply(&self, role: &RoleName, action: &Action) -> Result<()> {
        self.call(format!("{action}"));
        if let Action::CreateRole { .. } = action {
            return self.create(role, action).map(drop);
        }
        self.apply_now(role, action)
    }
}
