//! The IAM adapter: the only place that calls aws-sdk-iam.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::Tag;
use aws_sdk_iam::Client;
use serde_json::Value;

use super::{NodeRoleIam, RoleSummary};
use crate::domain::{
    policies, spec, Action, LiveInstanceProfile, LivePolicy, LiveRole, PolicyArn, PolicyObservation, RoleName,
};
use crate::error::{Error, Result};

/// How often a write right after a create is retried while IAM propagates the new entity.
const PROPAGATION_ATTEMPTS: u32 = 6;
const PROPAGATION_DELAY: Duration = Duration::from_millis(500);

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
    let code = err.code().map(str::to_string);
    let message = err.message().map(str::to_string).unwrap_or_else(|| root_cause(&err));
    let retryable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(s) => {
            s.raw().status().is_server_error()
                || matches!(code.as_deref(), Some("Throttling" | "ServiceFailure" | "RequestLimitExceeded"))
        }
        _ => false,
    };
    Error::Iam { operation, code, message, retryable }
}

/// "dispatch failure: Connection refused (os error 111)" rather than the whole chain of wrappers.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    if std::ptr::addr_eq(last, err) {
        DisplayErrorContext(err).to_string()
    } else {
        format!("{err}: {last}")
    }
}

fn is(e: &Error, code: &str) -> bool {
    e.iam_code() == Some(code)
}

/// Removing what is already gone is success.
fn gone_ok(r: Result<()>) -> Result<()> {
    match r {
        Err(e) if is(&e, "NoSuchEntity") => Ok(()),
        other => other,
    }
}

fn tags(map: &BTreeMap<String, String>) -> Vec<Tag> {
    map.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key and value are set")).collect()
}

/// Retries a write while IAM has not yet propagated a role or instance profile created moments ago.
async fn propagated<F, Fut>(mut op: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Err(e) if is(&e, "NoSuchEntity") && attempt < PROPAGATION_ATTEMPTS && mentions_new_entity(&e) => {
                tokio::time::sleep(PROPAGATION_DELAY * attempt).await;
                attempt += 1;
            }
            other => return other,
        }
    }
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

impl NodeRoleIam for SdkIam {
    async fn get_role(&self, name: &RoleName) -> Result<Option<LiveRole>> {
        let out = match self.client.get_role().role_name(name.as_str()).send().await {
            Ok(o) => o,
            Err(e) => {
                let e = iam_err("GetRole", e);
                return if is(&e, "NoSuchEntity") { Ok(None) } else { Err(e) };
            }
        };
        let Some(role) = out.role else {
            return Ok(None);
        };
        Ok(Some(LiveRole {
            name: name.clone(),
            path: role.path.clone(),
            arn: role.arn.clone(),
            role_id: role.role_id.clone(),
            trust: role.assume_role_policy_document().and_then(policies::parse_document),
            description: role.description().map(str::to_string),
            boundary: role
                .permissions_boundary()
                .and_then(|b| b.permissions_boundary_arn())
                .and_then(|a| PolicyArn::parse(a, "PermissionsBoundary").ok()),
            tags: role.tags().iter().map(|t| (t.key.clone(), t.value.clone())).collect(),
            attached: BTreeSet::new(),
            instance_profiles: Vec::new(),
        }))
    }

    async fn read_attachments(&self, mut role: LiveRole) -> Result<Option<LiveRole>> {
        let name = role.name.as_str();
        let vanished = |e: Error| if is(&e, "NoSuchEntity") { Ok(None) } else { Err(e) };
        let attached = match self
            .client
            .list_attached_role_policies()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .iam("ListAttachedRolePolicies")
        {
            Ok(a) => a,
            // Deleted between the reads.
            Err(e) => return vanished(e),
        };
        let profiles = match self
            .client
            .list_instance_profiles_for_role()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .iam("ListInstanceProfilesForRole")
        {
            Ok(p) => p,
            Err(e) => return vanished(e),
        };
        role.attached =
            attached.iter().filter_map(|p| p.policy_arn()).filter_map(|a| PolicyArn::parse(a, "policy").ok()).collect();
        role.instance_profiles = profiles
            .iter()
            .map(|p| LiveInstanceProfile { name: p.instance_profile_name.clone(), arn: p.arn.clone() })
            .collect();
        Ok(Some(role))
    }

    async fn read_policy(&self, arn: &PolicyArn, document: &Value) -> Result<PolicyObservation> {
        let policy = match self.client.get_policy().policy_arn(arn.as_str()).send().await {
            Ok(o) => o.policy,
            Err(e) => {
                let e = iam_err("GetPolicy", e);
                return if is(&e, "NoSuchEntity") { Ok(PolicyObservation::Missing) } else { Err(e) };
            }
        };
        let Some(policy) = policy else {
            return Ok(PolicyObservation::Missing);
        };
        let default_version = policy.default_version_id().unwrap_or("v1").to_string();
        let doc_of = |version: String| async move {
            let v = self
                .client
                .get_policy_version()
                .policy_arn(arn.as_str())
                .version_id(version)
                .send()
                .await
                .iam("GetPolicyVersion")?;
            Ok::<_, Error>(v.policy_version.and_then(|v| v.document).and_then(|d| policies::parse_document(&d)))
        };
        let default_matches =
            doc_of(default_version.clone()).await?.is_some_and(|d| policies::same_policy(&d, document));
        let created_by_us = policy.tags().iter().any(|t| t.key == spec::tag::POLICY_CREATED);
        let mut other_versions = Vec::new();
        let mut matching_version = None;
        if !default_matches || created_by_us {
            let mut versions = self
                .client
                .list_policy_versions()
                .policy_arn(arn.as_str())
                .send()
                .await
                .iam("ListPolicyVersions")?
                .versions
                .unwrap_or_default();
            versions.sort_by_key(|v| v.create_date.map(|d| (d.secs(), d.subsec_nanos())));
            for v in versions.iter().filter(|v| !v.is_default_version) {
                let id = v.version_id().unwrap_or_default().to_string();
                let wanted = !default_matches && matching_version.is_none();
                if wanted && doc_of(id.clone()).await?.is_some_and(|d| policies::same_policy(&d, document)) {
                    matching_version = Some(id.clone());
                }
                other_versions.push(id);
            }
        }
        Ok(PolicyObservation::Present(LivePolicy {
            arn: arn.clone(),
            created_by_us,
            attachment_count: policy.attachment_count.unwrap_or(0),
            default_version,
            default_matches,
            matching_version,
            other_versions,
        }))
    }

    async fn instance_profile_tags(&self, name: &str) -> Result<Option<BTreeMap<String, String>>> {
        match self.client.get_instance_profile().instance_profile_name(name).send().await {
            Ok(o) => {
                Ok(o.instance_profile.map(|p| p.tags().iter().map(|t| (t.key.clone(), t.value.clone())).collect()))
            }
            Err(e) => {
                let e = iam_err("GetInstanceProfile", e);
                if is(&e, "NoSuchEntity") {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn policy_attachments(&self, arn: &PolicyArn) -> Result<usize> {
        let mut pages = self.client.list_entities_for_policy().policy_arn(arn.as_str()).into_paginator().send();
        let mut n = 0;
        while let Some(page) = pages.next().await {
            match page.iam("ListEntitiesForPolicy") {
                Ok(p) => n += p.policy_roles().len() + p.policy_users().len() + p.policy_groups().len(),
                Err(e) if is(&e, "NoSuchEntity") => return Ok(0),
                Err(e) => return Err(e),
            }
        }
        Ok(n)
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
        match r.iam("ListRolePolicies") {
            Ok(v) => Ok(v),
            Err(e) if is(&e, "NoSuchEntity") => Ok(Vec::new()),
            Err(e) => Err(e),
        }
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
        Ok(roles.into_iter().map(|r| RoleSummary { name: r.role_name, path: r.path }).collect())
    }

    async fn apply(&self, role: &RoleName, action: &Action) -> Result<()> {
        let c = &self.client;
        let name = role.as_str();
        match action {
            Action::CreateRole { path, trust, description, boundary, tags: t } => c
                .create_role()
                .role_name(name)
                .path(path)
                .assume_role_policy_document(trust.to_string())
                .set_description(description.clone())
                .set_permissions_boundary(boundary.as_ref().map(|b| b.to_string()))
                .set_tags(Some(tags(t)))
                .send()
                .await
                .done("CreateRole"),
            Action::CreateCniIpv6Policy { arn, document } => {
                let created = BTreeMap::from([(spec::tag::POLICY_CREATED.to_string(), "true".to_string())]);
                let r = c
                    .create_policy()
                    .policy_name(arn.name())
                    .policy_document(document.to_string())
                    .description("IPv6 permissions for the Amazon VPC CNI plugin (created by eks-node-role-guard)")
                    .set_tags(Some(tags(&created)))
                    .send()
                    .await
                    .done("CreatePolicy");
                match r {
                    Err(e) if is(&e, "EntityAlreadyExists") => Ok(()),
                    other => other,
                }
            }
            Action::SetDefaultPolicyVersion { arn, version } => c
                .set_default_policy_version()
                .policy_arn(arn.as_str())
                .version_id(version)
                .send()
                .await
                .done("SetDefaultPolicyVersion"),
            Action::CreatePolicyVersion { arn, document, prune } => {
                if let Some(v) = prune {
                    gone_ok(
                        c.delete_policy_version()
                            .policy_arn(arn.as_str())
                            .version_id(v)
                            .send()
                            .await
                            .done("DeletePolicyVersion"),
                    )?;
                }
                c.create_policy_version()
                    .policy_arn(arn.as_str())
                    .policy_document(document.to_string())
                    .set_as_default(true)
                    .send()
                    .await
                    .done("CreatePolicyVersion")
            }
            Action::UpdateTrust(doc) => c
                .update_assume_role_policy()
                .role_name(name)
                .policy_document(doc.to_string())
                .send()
                .await
                .done("UpdateAssumeRolePolicy"),
            Action::PutBoundary(arn) => c
                .put_role_permissions_boundary()
                .role_name(name)
                .permissions_boundary(arn.as_str())
                .send()
                .await
                .done("PutRolePermissionsBoundary"),
            Action::DeleteBoundary => gone_ok(
                c.delete_role_permissions_boundary().role_name(name).send().await.done("DeleteRolePermissionsBoundary"),
            ),
            Action::UpdateDescription(d) => {
                c.update_role().role_name(name).description(d).send().await.done("UpdateRole")
            }
            Action::TagRole(t) => {
                propagated(|| async {
                    c.tag_role().role_name(name).set_tags(Some(tags(t))).send().await.done("TagRole")
                })
                .await
            }
            Action::UntagRole(keys) => gone_ok(
                c.untag_role()
                    .role_name(name)
                    .set_tag_keys(Some(keys.iter().cloned().collect()))
                    .send()
                    .await
                    .done("UntagRole"),
            ),
            Action::AttachPolicy(arn) => {
                propagated(|| async {
                    c.attach_role_policy()
                        .role_name(name)
                        .policy_arn(arn.as_str())
                        .send()
                        .await
                        .done("AttachRolePolicy")
                })
                .await
            }
            Action::DetachPolicy(arn) => gone_ok(
                c.detach_role_policy().role_name(name).policy_arn(arn.as_str()).send().await.done("DetachRolePolicy"),
            ),
            Action::EnsureInstanceProfile { name: profile, path } => {
                self.ensure_instance_profile(role, profile, path).await
            }
            Action::RemoveFromInstanceProfile(profile) => gone_ok(
                c.remove_role_from_instance_profile()
                    .instance_profile_name(profile)
                    .role_name(name)
                    .send()
                    .await
                    .done("RemoveRoleFromInstanceProfile"),
            ),
            Action::DeleteInstanceProfile(profile) => gone_ok(
                c.delete_instance_profile().instance_profile_name(profile).send().await.done("DeleteInstanceProfile"),
            ),
            Action::DeleteInlinePolicy(policy) => gone_ok(
                c.delete_role_policy().role_name(name).policy_name(policy).send().await.done("DeleteRolePolicy"),
            ),
            Action::DeleteRole => gone_ok(c.delete_role().role_name(name).send().await.done("DeleteRole")),
            Action::DeletePolicy { arn, versions } => {
                for v in versions {
                    gone_ok(
                        c.delete_policy_version()
                            .policy_arn(arn.as_str())
                            .version_id(v)
                            .send()
                            .await
                            .done("DeletePolicyVersion"),
                    )?;
                }
                match c.delete_policy().policy_arn(arn.as_str()).send().await.iam("DeletePolicy") {
                    Ok(_) => Ok(()),
                    // Attached elsewhere meanwhile: it is still in use, so it stays.
                    Err(e) if is(&e, "DeleteConflict") || is(&e, "NoSuchEntity") => Ok(()),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

impl SdkIam {
    async fn ensure_instance_profile(&self, role: &RoleName, profile: &str, path: &str) -> Result<()> {
        let c = &self.client;
        let managed = BTreeMap::from([(spec::tag::MANAGED.to_string(), spec::MANAGED_TRUE.to_string())]);
        let created = c
            .create_instance_profile()
            .instance_profile_name(profile)
            .path(path)
            .set_tags(Some(tags(&managed)))
            .send()
            .await
            .done("CreateInstanceProfile");
        match created {
            Err(e) if is(&e, "EntityAlreadyExists") => {}
            other => other?,
        }
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
            Err(e) if is(&e, "LimitExceeded") || is(&e, "EntityAlreadyExists") => {
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
