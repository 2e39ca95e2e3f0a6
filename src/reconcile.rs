//! The one act at the centre: make the live role match the desired role. Custom-resource Create/Update,
//! adoption, drift repair and the sweep all end here.

use std::collections::BTreeSet;
use std::time::Instant;

use tracing::{info, warn};

use crate::domain::{
    plan, plan_policy_cleanup, plan_teardown, policies, spec, Action, LiveRole, Management, NodeRoleSpec, Plan,
    PolicyArn, PolicyObservation, Retired, RoleName,
};
use crate::error::{Error, Result};
use crate::iam::NodeRoleIam;

/// The role and the IPv6 CNI policy as IAM reports them.
#[derive(Debug, Clone)]
pub struct Observed {
    pub role: Option<LiveRole>,
    pub cni: PolicyObservation,
}

pub struct Reconciler<I> {
    pub iam: I,
}

impl<I: NodeRoleIam> Reconciler<I> {
    pub fn new(iam: I) -> Self {
        Reconciler { iam }
    }

    pub async fn observe(&self, desired: &NodeRoleSpec) -> Result<Observed> {
        let role = self.iam.read_role(&desired.name).await?;
        let cni = self.observe_cni_policy(desired).await?;
        Ok(Observed { role, cni })
    }

    /// The IPv6 CNI policy the desired state depends on, if any, compared with the AWS document.
    pub async fn observe_cni_policy(&self, desired: &NodeRoleSpec) -> Result<PolicyObservation> {
        match desired.cni_ipv6_policy() {
            Some(arn) => self.iam.read_policy(&arn, &policies::cni_ipv6_policy_document(desired.partition)).await,
            None => Ok(PolicyObservation::NotNeeded),
        }
    }

    /// Carries out a plan in order, one log event per action.
    pub async fn execute(&self, role: &RoleName, plan: &Plan) -> Result<()> {
        for action in &plan.actions {
            let started = Instant::now();
            match self.iam.apply(role, action).await {
                Ok(()) => info!(
                    role = %role,
                    action = %action,
                    latency_ms = started.elapsed().as_millis() as u64,
                    "applied"
                ),
                Err(e) => {
                    warn!(role = %role, action = %action, error = %e, "action failed");
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// observe → plan → execute → re-read. Returns the plan carried out and the resulting role.
    pub async fn converge(&self, desired: &NodeRoleSpec, retired: &Retired) -> Result<(Plan, LiveRole)> {
        let mut observed = self.observe(desired).await?;
        let mut planned = plan(desired, observed.role.as_ref(), &observed.cni, retired);
        info!(role = %desired.name, plan = ?planned.summary(), "converging");
        if let Err(e) = self.execute(&desired.name, &planned).await {
            // A create whose response was lost (and retried) finds its own work done: look again, go on.
            if e.iam_code() != Some("EntityAlreadyExists") {
                return Err(e);
            }
            warn!(role = %desired.name, error = %e, "already exists: observing again");
            observed = self.observe(desired).await?;
            if let Some(role) = &observed.role {
                if Management::of(&role.tags).owner() != Some(&desired.owner) {
                    return Err(e);
                }
            }
            planned = plan(desired, observed.role.as_ref(), &observed.cni, retired);
            self.execute(&desired.name, &planned).await?;
        }
        // A retired IPv6 CNI policy may now be unused.
        for arn in retired.policies.iter().filter(|p| p.name() == policies::CNI_IPV6_POLICY) {
            self.delete_policy_if_unused(&desired.name, arn).await?;
        }
        let role = match (&observed.role, planned.is_empty()) {
            (Some(live), true) => live.clone(),
            _ => self.iam.read_role(&desired.name).await?.ok_or_else(|| {
                Error::conflict(format!("role {} disappeared while it was being configured", desired.name))
            })?,
        };
        Ok((planned, role))
    }

    /// Removes a role the tool created. First marks it as being deleted so drift repair stands down; if a
    /// repair that was already under way re-attached something meanwhile (DeleteConflict), it empties the
    /// role again.
    pub async fn teardown(&self, live: &LiveRole) -> Result<Plan> {
        let mark = Action::TagRole([(spec::tag::MANAGED.to_string(), spec::MANAGED_DELETING.to_string())].into());
        if live.tags.get(spec::tag::MANAGED).map(String::as_str) != Some(spec::MANAGED_DELETING) {
            self.execute(&live.name, &Plan { actions: vec![mark] }).await?;
        }
        // Only a profile the tool made (tagged managed=true) is deleted; any other just loses the role.
        let mut own_profile = None;
        let recorded =
            live.tags.get(spec::tag::INSTANCE_PROFILE).filter(|p| *p != "none" && *p != spec::EXTERNAL_PROFILE);
        if let Some(name) = recorded {
            let tags = self.iam.instance_profile_tags(name).await?.unwrap_or_default();
            if tags.get(spec::tag::MANAGED).map(String::as_str) == Some(spec::MANAGED_TRUE) {
                own_profile = Some(name.clone());
            }
        }
        let mut current = live.clone();
        let mut attempt = 1;
        let teardown = loop {
            let inline = self.iam.inline_policy_names(&current.name).await?;
            let teardown = plan_teardown(&current, own_profile.as_deref(), &inline);
            info!(role = %current.name, plan = ?teardown.summary(), "deleting role");
            match self.execute(&current.name, &teardown).await {
                Ok(()) => break teardown,
                Err(e) if e.iam_code() == Some("DeleteConflict") && attempt < 3 => {
                    attempt += 1;
                    match self.iam.read_role(&current.name).await? {
                        Some(again) => current = again,
                        None => break teardown,
                    }
                }
                Err(e) => return Err(e),
            }
        };
        // The IPv6 CNI policy the role used — or was about to use, when its Create stopped half-way.
        let mut cni: BTreeSet<PolicyArn> =
            live.attached.iter().filter(|p| p.name() == policies::CNI_IPV6_POLICY).cloned().collect();
        let wants_ipv6 = live.tags.get(spec::tag::IP_FAMILY).map(String::as_str) == Some("ipv6")
            && live.tags.get(spec::tag::CNI).map(String::as_str) != Some("false");
        if let (true, Some((partition, account))) = (wants_ipv6, spec::partition_and_account(&live.arn)) {
            cni.insert(policies::cni_ipv6_policy(partition, &account));
        }
        for arn in &cni {
            self.delete_policy_if_unused(&live.name, arn).await?;
        }
        Ok(teardown)
    }

    /// Gives an adopted role back: management tags removed, everything else left as it is.
    pub async fn release(&self, live: &LiveRole) -> Result<()> {
        let keys = live.tags.keys().filter(|k| k.starts_with(spec::TAG_PREFIX)).cloned().collect();
        info!(role = %live.name, "releasing adopted role (management tags removed, role kept)");
        self.execute(&live.name, &Plan { actions: vec![Action::UntagRole(keys)] }).await
    }

    pub async fn delete_policy_if_unused(&self, role: &RoleName, arn: &PolicyArn) -> Result<()> {
        let doc = policies::cni_ipv6_policy_document(arn.partition());
        let mut observed = self.iam.read_policy(arn, &doc).await?;
        if let PolicyObservation::Present(p) = &mut observed {
            if !p.created_by_us {
                return Ok(());
            }
            p.attachment_count = i32::try_from(self.iam.policy_attachments(arn).await?).unwrap_or(i32::MAX);
        }
        if let Some(action) = plan_policy_cleanup(&observed) {
            self.execute(role, &Plan { actions: vec![action] }).await?;
        }
        Ok(())
    }
}
