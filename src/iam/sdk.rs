//! The IAM adapter: the only place that calls aws-sdk-iam.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::Tag;
use aws_sdk_iam::Client;
use serde_json::Value;

use super::{NodeRoleIam, RoleSummary};
use crate::domain::{policies, spec, Action, LiveInstanceProfile, LiveRole, PolicyArn, RoleHead, RoleName, RolePath};
use crate::error::{Error, IamCode, Result};

/// How often a write right after a create is retried while IAM propagates the new entity.
const PROPAGATION_ATTEMPTS: u32 = 6;
const PROPAGATION_DELAY: Duration = Duration::from_millis(500);
/// How often a write IAM refused as concurrent (409) is tried again, and the first wait (doubled each time, with
/// jitter): 50 ms … 1.6 s, about 3 s in all; the deadline's work budget cuts it shorter when it must.
const CONFLICT_ATTEMPTS: u32 = 7;
const CONFLICT_DELAY: Duration = Duration::from_millis(50);

#[derive(Clone)]
pub struct SdkIam {
    client: Client,
}

impl SdkIam {
    pub fn new(client: Client) -> Self {
        SdkIam { client }
    }
}

/// IAM results in the crate's terms: `.iam("Operation")` maps the error, `.done("Operation")` also drops the
/// output.
trait IamResult<T> {
    fn iam(self, operation: &'static str) -> Result<T>;
    fn done(self, operation: &'static str) -> Result<()>;
}

impl<T, E> IamResult<T> for std::result::Result<T, SdkError<E, aws_smithy_runtime_api::http::Response>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn iam(self, operation: &'static str) -> Result<T> {
        self.map_err(|e| iam_err(operation, e))
    }
    fn done(self, operation: &'static str) -> Result<()> {
        self.map(drop).map_err(|e| iam_err(operation, e))
    }
}

fn iam_err<E>(operation: &'static str, err: SdkError<E, aws_smithy_runtime_api::http::Response>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (code, message, retryable) = crate::aws::describe(&err);
    Error::Iam { operation, code, message, retryable }
}

/// A read of something that may not exist: NoSuchEntity is `None`.
fn found<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_iam(IamCode::NoSuchEntity) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removing what is already gone is success.
fn gone_ok(r: Result<()>) -> Result<()> {
    match r {
        Err(e) if e.is_iam(IamCode::NoSuchEntity) => Ok(()),
        other => other,
    }
}

fn tags(map: &BTreeMap<String, String>) -> Vec<Tag> {
    map.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key and value are set")).collect()
}

/// Every IAM write goes through here. It is tried again while IAM refuses it as concurrent with another write to
/// the same entity (409 `ConcurrentModification`, `EntityTemporarilyUnmodifiable`: jittered, doubling waits) and,
/// when `after_create`, while IAM has not yet propagated a role or instance profile created moments ago
/// (`NoSuchEntity` naming it).
async fn write<T, F, Fut>(after_create: bool, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let (mut propagation, mut conflicts) = (1, 1);
    loop {
        match op().await {
            Err(e) if is_conflict(&e) && conflicts < CONFLICT_ATTEMPTS => {
                tokio::time::sleep(jittered(CONFLICT_DELAY * 2u32.pow(conflicts - 1))).await;
                conflicts += 1;
            }
            Err(e)
                if after_create
                    && e.is_iam(IamCode::NoSuchEntity)
                    && propagation < PROPAGATION_ATTEMPTS
                    && mentions_new_entity(&e) =>
            {
                tokio::time::sleep(PROPAGATION_DELAY * propagation).await;
                propagation += 1;
            }
            other => return other,
        }
    }
}

fn is_conflict(e: &Error) -> bool {
    e.is_iam(IamCode::ConcurrentModification) || e.is_iam(IamCode::EntityTemporarilyUnmodifiable)
}

/// Between half and all of `d`, so writers that collided do not collide again in step.
fn jittered(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    let unit = f64::from(nanos % 1000) / 1000.0;
    d.mul_f64(0.5 + unit / 2.0)
}

/// A write to a role or profile created moments ago: waits out propagation and concurrency.
async fn propagated<F, Fut>(op: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    write(true, op).await
}

/// Any other write: waits out concurrency.
async fn settled<T, F, Fut>(op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    write(false, op).await
}

/// IAM says "The role with name X cannot be found." or "Instance Profile X cannot be found." while a new
/// entity propagates; a missing policy ("Policy ... does not exist") is a user error and is not retried.
fn mentions_new_entity(e: &Error) -> bool {
    let Error::Iam { message, .. } = e else {
        return false;
    };
    let msg = message.to_ascii_lowercase();
    msg.contains("role with name") || msg.contains("instance profile")
}

/// The role with its attachments and profiles; `None` if any read found it gone (deleted between the reads).
fn complete(
    role: Option<RoleHead>,
    attached: Option<BTreeSet<PolicyArn>>,
    profiles: Option<Vec<LiveInstanceProfile>>,
) -> Option<LiveRole> {
    Some(role?.complete(attached?, profiles?))
}

/// A role as IAM's GetRole or CreateRole describes it; attachments and profiles are read separately.
fn role_head(name: &RoleName, role: &aws_sdk_iam::types::Role) -> RoleHead {
    RoleHead {
        // The name as IAM stores it (a lookup ignores case; the ARNs in policies do not).
        name: RoleName::parse(&role.role_name).unwrap_or_else(|_| name.clone()),
        // IAM only holds valid paths; one that does not parse is read as `/`, which no reach rule favours.
        path: RolePath::parse(&role.path).unwrap_or_else(|_| RolePath::root()),
        arn: role.arn.clone(),
        role_id: role.role_id.clone(),
        trust: role.assume_role_policy_document().and_then(policies::parse_document),
        description: role.description().map(str::to_string),
        boundary: role
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .and_then(|a| PolicyArn::parse(a, "PermissionsBoundary").ok()),
        tags: role.tags().iter().map(|t| (t.key.clone(), t.value.clone())).collect(),
    }
}

impl NodeRoleIam for SdkIam {
    async fn get_role(&self, name: &RoleName) -> Result<Option<RoleHead>> {
        let out = found(self.client.get_role().role_name(name.as_str()).send().await.iam("GetRole"))?;
        Ok(out.and_then(|o| o.role).map(|r| role_head(name, &r)))
    }

    async fn create_role(&self, role: &RoleName, create: &Action) -> Result<RoleHead> {
        let Action::CreateRole { path, trust, description, boundary, tags: t } = create else {
            return Err(Error::invalid(format!("{create} is not a CreateRole")));
        };
        let req = || {
            self.client
                .create_role()
                .role_name(role.as_str())
                .path(path.as_str())
                .assume_role_policy_document(trust.to_string())
                .set_description(description.clone())
                .set_permissions_boundary(boundary.as_ref().map(|b| b.to_string()))
                .set_tags(Some(tags(t)))
        };
        let out = settled(|| async { req().send().await.iam("CreateRole") }).await?;
        out.role.as_ref().map(|r| role_head(role, r)).ok_or_else(|| Error::Iam {
            operation: "CreateRole",
            code: None,
            message: "IAM answered without the role".into(),
            retryable: true,
        })
    }

    async fn create_instance_profile(&self, name: &str, path: &RolePath) -> Result<()> {
        // A label for people; the state item, not this tag, records that the tool made the profile.
        let managed = BTreeMap::from([(spec::label::MANAGED.to_string(), spec::MANAGED_TRUE.to_string())]);
        let req = || {
            self.client
                .create_instance_profile()
                .instance_profile_name(name)
                .path(path.as_str())
                .set_tags(Some(tags(&managed)))
        };
        let created = settled(|| async { req().send().await.done("CreateInstanceProfile") }).await;
        match created {
            Err(e) if e.is_iam(IamCode::EntityAlreadyExists) => Ok(()),
            other => other,
        }
    }

    async fn read_attachments(&self, role: RoleHead) -> Result<Option<LiveRole>> {
        let (attached, profiles) = tokio::join!(self.attached(&role.name), self.profiles(&role.name));
        Ok(complete(Some(role), attached?, profiles?))
    }

    /// The three reads at once: one round trip, not three.
    async fn read_role(&self, name: &RoleName) -> Result<Option<LiveRole>> {
        let (role, attached, profiles) = tokio::join!(self.get_role(name), self.attached(name), self.profiles(name));
        Ok(complete(role?, attached?, profiles?))
    }

    async fn policy_document(&self, arn: &PolicyArn) -> Result<Option<Value>> {
        let policy = found(self.client.get_policy().policy_arn(arn.as_str()).send().await.iam("GetPolicy"))?;
        let Some(version) = policy.and_then(|o| o.policy).and_then(|p| p.default_version_id) else {
            return Ok(None);
        };
        let v = self
            .client
            .get_policy_version()
            .policy_arn(arn.as_str())
            .version_id(version)
            .send()
            .await
            .iam("GetPolicyVersion")?;
        // An unreadable document is returned as JSON null: it matches nothing.
        Ok(Some(
            v.policy_version.and_then(|v| v.document).and_then(|d| policies::parse_document(&d)).unwrap_or(Value::Null),
        ))
    }

    async fn instance_profile_tags(&self, name: &str) -> Result<Option<BTreeMap<String, String>>> {
        let out = found(
            self.client.get_instance_profile().instance_profile_name(name).send().await.iam("GetInstanceProfile"),
        )?;
        Ok(out
            .and_then(|o| o.instance_profile)
            .map(|p| p.tags().iter().map(|t| (t.key.clone(), t.value.clone())).collect()))
    }

    async fn instance_profile_roles(&self, name: &str) -> Result<Option<Vec<String>>> {
        let out = found(
            self.client.get_instance_profile().instance_profile_name(name).send().await.iam("GetInstanceProfile"),
        )?;
        Ok(out.and_then(|o| o.instance_profile).map(|p| p.roles.into_iter().map(|r| r.role_name).collect()))
    }

    async fn attached_policies_quota(&self) -> Result<usize> {
        let out = self.client.get_account_summary().send().await.iam("GetAccountSummary")?;
        let quota = out
            .summary_map()
            .and_then(|m| m.get(&aws_sdk_iam::types::SummaryKeyType::AttachedPoliciesPerRoleQuota))
            .copied()
            .unwrap_or(10);
        Ok(usize::try_from(quota).unwrap_or(10))
    }

    async fn inline_policy_names(&self, role: &RoleName) -> Result<Vec<String>> {
        let r = self
            .client
            .list_role_policies()
            .role_name(role.as_str())
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await;
        Ok(found(r.iam("ListRolePolicies"))?.unwrap_or_default())
    }

    async fn inline_policy_document(&self, role: &RoleName, name: &str) -> Result<Option<Value>> {
        let r = self.client.get_role_policy().role_name(role.as_str()).policy_name(name).send().await;
        let Some(out) = found(r.iam("GetRolePolicy"))? else { return Ok(None) };
        Ok(crate::domain::policies::parse_document(&out.policy_document))
    }

    async fn list_roles(&self, path_prefix: Option<&str>) -> Result<Vec<RoleSummary>> {
        let roles = self
            .client
            .list_roles()
            .set_path_prefix(path_prefix.map(str::to_string))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .iam("ListRoles")?;
        Ok(roles
            .into_iter()
            .map(|r| RoleSummary { created: Some(r.create_date.secs()), name: r.role_name, path: r.path })
            .collect())
    }

    async fn apply(&self, role: &RoleName, action: &Action) -> Result<()> {
        let (c, name) = (&self.client, role.as_str());
        match action {
            Action::CreateRole { .. } => self.create_role(role, action).await.map(drop),
            Action::UpdateTrust(doc) => {
                let req = || c.update_assume_role_policy().role_name(name).policy_document(doc.to_string());
                settled(|| async { req().send().await.done("UpdateAssumeRolePolicy") }).await
            }
            Action::PutBoundary(arn) => {
                let req = || c.put_role_permissions_boundary().role_name(name).permissions_boundary(arn.as_str());
                settled(|| async { req().send().await.done("PutRolePermissionsBoundary") }).await
            }
            Action::DeleteBoundary => {
                let req = || c.delete_role_permissions_boundary().role_name(name);
                gone_ok(settled(|| async { req().send().await.done("DeleteRolePermissionsBoundary") }).await)
            }
            Action::UpdateDescription(d) => {
                let req = || c.update_role().role_name(name).description(d);
                settled(|| async { req().send().await.done("UpdateRole") }).await
            }
            Action::TagRole(t) => self.tag(name, t).await,
            Action::UntagRole(keys) => {
                let req = || c.untag_role().role_name(name).set_tag_keys(Some(keys.iter().cloned().collect()));
                gone_ok(settled(|| async { req().send().await.done("UntagRole") }).await)
            }
            Action::AttachPolicy(arn) => {
                let req = || c.attach_role_policy().role_name(name).policy_arn(arn.as_str());
                propagated(|| async { req().send().await.done("AttachRolePolicy") }).await
            }
            Action::DetachPolicy(arn) => {
                let req = || c.detach_role_policy().role_name(name).policy_arn(arn.as_str());
                gone_ok(settled(|| async { req().send().await.done("DetachRolePolicy") }).await)
            }
            Action::EnsureInstanceProfile { name: profile, path } => {
                self.create_instance_profile(profile, path).await?;
                self.add_to_instance_profile(role, profile).await
            }
            Action::AddToInstanceProfile(profile) => self.add_to_instance_profile(role, profile).await,
            Action::RemoveFromInstanceProfile(profile) => {
                let req = || c.remove_role_from_instance_profile().instance_profile_name(profile).role_name(name);
                gone_ok(settled(|| async { req().send().await.done("RemoveRoleFromInstanceProfile") }).await)
            }
            Action::DeleteInstanceProfile(profile) => {
                let req = || c.delete_instance_profile().instance_profile_name(profile);
                gone_ok(settled(|| async { req().send().await.done("DeleteInstanceProfile") }).await)
            }
            Action::DeleteInlinePolicy(policy) => {
                let req = || c.delete_role_policy().role_name(name).policy_name(policy);
                gone_ok(settled(|| async { req().send().await.done("DeleteRolePolicy") }).await)
            }
            Action::DeleteRole => {
                gone_ok(settled(|| async { c.delete_role().role_name(name).send().await.done("DeleteRole") }).await)
            }
        }
    }
}

impl SdkIam {
    /// Label keys and user keys go in separate calls: the function's policy allows each through its own
    /// statement (aws:TagKeys), and one call must match one statement.
    async fn tag(&self, name: &str, t: &BTreeMap<String, String>) -> Result<()> {
        let (label, user): (BTreeMap<_, _>, BTreeMap<_, _>) =
            t.clone().into_iter().partition(|(k, _)| k.starts_with(spec::TAG_PREFIX));
        for group in [label, user].iter().filter(|g| !g.is_empty()) {
            let req = || self.client.tag_role().role_name(name).set_tags(Some(tags(group)));
            propagated(|| async { req().send().await.done("TagRole") }).await?;
        }
        Ok(())
    }
}

impl SdkIam {
    /// The role's managed policies; `None` if the role does not exist.
    async fn attached(&self, role: &RoleName) -> Result<Option<BTreeSet<PolicyArn>>> {
        let r = self
            .client
            .list_attached_role_policies()
            .role_name(role.as_str())
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .iam("ListAttachedRolePolicies");
        Ok(found(r)?.map(|a| {
            a.iter().filter_map(|p| p.policy_arn()).filter_map(|a| PolicyArn::parse(a, "policy").ok()).collect()
        }))
    }

    /// The instance profiles holding the role; `None` if the role does not exist.
    async fn profiles(&self, role: &RoleName) -> Result<Option<Vec<LiveInstanceProfile>>> {
        let r = self
            .client
            .list_instance_profiles_for_role()
            .role_name(role.as_str())
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .iam("ListInstanceProfilesForRole");
        Ok(found(r)?.map(|p| {
            p.iter()
                .map(|p| LiveInstanceProfile { name: p.instance_profile_name.clone(), arn: p.arn.clone() })
                .collect()
        }))
    }

    /// Puts the role in the profile: fine if it is there already, a conflict if the profile holds another role.
    async fn add_to_instance_profile(&self, role: &RoleName, profile: &str) -> Result<()> {
        let c = &self.client;
        let added = propagated(|| async {
            c.add_role_to_instance_profile()
                .instance_profile_name(profile)
                .role_name(role.as_str())
                .send()
                .await
                .done("AddRoleToInstanceProfile")
        })
        .await;
        match added {
            // A profile holds one role: fine if it is ours, a conflict otherwise.
            Err(e) if e.is_iam(IamCode::LimitExceeded) || e.is_iam(IamCode::EntityAlreadyExists) => {
                let holder = c
                    .get_instance_profile()
                    .instance_profile_name(profile)
                    .send()
                    .await
                    .iam("GetInstanceProfile")?
                    .instance_profile
                    .map(|p| p.roles.into_iter().map(|r| r.role_name).collect::<Vec<_>>())
                    .unwrap_or_default();
                if holder.iter().any(|r| r == role.as_str()) {
                    Ok(())
                } else {
                    Err(Error::conflict(format!(
                        "instance profile '{profile}' already holds role(s) {}: set CreateInstanceProfile to false or choose another RoleName",
                        holder.join(", ")
                    )))
                }
            }
            other => other,
        }
    }
}
