//! Drift repair: read the role and its state item, and restore what the item's desired state requires —
//! within the role's mode and circuit breaker. The event that woke us is only a trigger; the role's tags decide
//! nothing (a label without an item is reported, never obeyed).

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::stream::{self, StreamExt};
use tokio::time::Instant;
use tracing::{error, info, warn};

use crate::domain::{plan, Action, CniCheck, Label, LiveRole, Owner, RemediationMode, Retired, RoleName, Scope};
use crate::error::Error;
use crate::iam::NodeRoleIam;
use crate::metrics::{Metric, Metrics};
use crate::reconcile::{Observed, Reconciler};
use crate::state::{Phase, Record, StateStore};

const NOT_MANAGED: &str = "not managed by eks-node-role-guard (no state item)";

/// Settings of drift repair (`REMEDIATION_MODE`, `CIRCUIT_MAX_REPAIRS`, `CIRCUIT_WINDOW_SECONDS`,
/// `SWEEP_CONCURRENCY`, `GUARD_EXECUTION_ROLE_NAME`, `AWS_LAMBDA_FUNCTION_NAME`, `AWS_REGION`: `settings.rs`).
#[derive(Debug, Clone)]
pub struct DriftSettings {
    /// The account-wide mode; the stricter of it and the role's own wins.
    pub global_mode: RemediationMode,
    pub max_repairs: usize,
    pub window: Duration,
    pub sweep_concurrency: usize,
    /// This function's execution role name: events from it are the tool's own calls.
    pub own_role: Option<String>,
    pub function_name: Option<String>,
    /// The installation's region: a copied label is reported only when it names this region.
    pub region: String,
    /// `IPV6_CNI_POLICY_ARN`: the installation's own IPv6 CNI policy, whose changes start a sweep like those of
    /// the account's `AmazonEKS_CNI_IPv6_Policy`.
    pub ipv6_cni_policy: Option<String>,
}

impl Default for DriftSettings {
    fn default() -> Self {
        DriftSettings {
            global_mode: RemediationMode::Enforce,
            max_repairs: 5,
            window: Duration::from_secs(3600),
            sweep_concurrency: 8,
            own_role: None,
            function_name: None,
            region: "us-east-1".into(),
            ipv6_cni_policy: None,
        }
    }
}

impl DriftSettings {
    /// The installation's partition (from its region).
    pub fn partition(&self) -> crate::domain::Partition {
        crate::domain::Partition::of_region(&self.region)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    InSync,
    Repaired,
    /// Dry-run: the plan was logged, not applied.
    WouldRepair,
    CircuitOpen,
    /// A managed role was deleted outside its stack: reported, never recreated.
    RoleDeleted,
    Ignored(String),
    Failed {
        error: String,
        retryable: bool,
    },
}

impl Outcome {
    /// Why nothing was done, or what went wrong.
    pub fn reason(&self) -> &str {
        match self {
            Outcome::Ignored(why) => why,
            Outcome::Failed { error, .. } => error,
            Outcome::RoleDeleted => {
                "the role was deleted outside its stack: it cannot be repaired in place; update or recreate its stack"
            }
            _ => "",
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Outcome::InSync => "in-sync",
            Outcome::Repaired => "repaired",
            Outcome::WouldRepair => "would-repair",
            Outcome::CircuitOpen => "circuit-open",
            Outcome::RoleDeleted => "role-deleted",
            Outcome::Ignored(_) => "ignored",
            Outcome::Failed { .. } => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairReport {
    pub role: String,
    pub drift: Vec<String>,
    pub mode: Option<RemediationMode>,
    pub outcome: Outcome,
    /// The stack resource the state item names (for notifications).
    pub owner: Option<Owner>,
    pub role_arn: Option<String>,
    /// Managed policies the repair attached again (or would, in dry-run).
    pub restored_policies: Vec<String>,
}

impl RepairReport {
    pub fn new(role: &str, outcome: Outcome) -> Self {
        RepairReport {
            role: role.to_string(),
            drift: Vec::new(),
            mode: None,
            outcome,
            owner: None,
            role_arn: None,
            restored_policies: Vec::new(),
        }
    }

    fn of(record: &Record, outcome: Outcome) -> Self {
        RepairReport { owner: Some(record.owner.clone()), ..RepairReport::new(record.role_name.as_str(), outcome) }
    }
}

/// What one invocation has already reported (a copied label is reported once per role per invocation).
#[derive(Debug, Default)]
pub struct Invocation {
    unverified: Mutex<HashSet<String>>,
}

fn unix(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// Repairs one role: its item and the live role are read at once, then the item decides.
pub async fn repair<I: NodeRoleIam, S: StateStore>(
    rec: &Reconciler<I, S>,
    name: &RoleName,
    settings: &DriftSettings,
    metrics: &Metrics,
    inv: &Invocation,
    now: SystemTime,
) -> RepairReport {
    match rec.observe(name).await {
        Ok(observed) => repair_observed(rec, name, observed, settings, metrics, inv, now).await,
        Err(e) => failed(name.as_str(), e, metrics, false),
    }
}

async fn repair_observed<I: NodeRoleIam, S: StateStore>(
    rec: &Reconciler<I, S>,
    name: &RoleName,
    observed: Observed,
    settings: &DriftSettings,
    metrics: &Metrics,
    inv: &Invocation,
    now: SystemTime,
) -> RepairReport {
    let role = name.as_str();
    let (record, live) = match (observed.record, observed.role) {
        (None, Some(live)) => {
            report_unverified_label(&live, settings, metrics, inv);
            return RepairReport::new(role, Outcome::Ignored(NOT_MANAGED.into()));
        }
        (None, None) => return RepairReport::new(role, Outcome::Ignored("no such role and no state item".into())),
        (Some(r), _) if r.phase == Phase::Deleting => {
            return RepairReport::new(role, Outcome::Ignored("its stack is deleting it".into()))
        }
        (Some(r), None) => {
            error!(role, "a managed role was deleted outside its stack");
            metrics.emit(Metric::RoleDeleted, role);
            return RepairReport { drift: vec!["DeleteRole".into()], ..RepairReport::of(&r, Outcome::RoleDeleted) };
        }
        (Some(r), Some(live)) if r.role_id.as_deref() != Some(live.role_id.as_str()) => {
            warn!(role, live_role_id = %live.role_id, recorded = ?r.role_id, "RoleId differs from the state item: not ours, left alone");
            return RepairReport::new(
                role,
                Outcome::Ignored("the role's RoleId is not the one its state item records (re-created outside its stack, or not created yet)".into()),
            );
        }
        (Some(r), Some(live)) => (r, live),
    };
    repair_role(rec, record, live, settings, metrics, unix(now)).await
}

/// A label on a role without an item: copied or forged. Reported (once per role per invocation) when it names
/// this installation's region; a label of another region's installation is that installation's business.
fn report_unverified_label(live: &LiveRole, settings: &DriftSettings, metrics: &Metrics, inv: &Invocation) {
    let Some(label) = Label::of(&live.tags) else { return };
    if label.region.as_deref() != Some(settings.region.as_str()) {
        return;
    }
    if !inv.unverified.lock().unwrap_or_else(|e| e.into_inner()).insert(live.name.as_str().to_ascii_lowercase()) {
        return;
    }
    warn!(
        role = %live.name,
        claimed_stack = label.owner.as_ref().map(|o| o.stack_id.as_str()).unwrap_or("-"),
        "UnverifiedManagementTag: the role carries this installation's label but has no state item; nothing is enforced on it"
    );
    metrics.emit(Metric::UnverifiedManagementTag, live.name.as_str());
}

async fn repair_role<I: NodeRoleIam, S: StateStore>(
    rec: &Reconciler<I, S>,
    record: Record,
    live: LiveRole,
    settings: &DriftSettings,
    metrics: &Metrics,
    now: u64,
) -> RepairReport {
    let spec = &record.desired;
    let role = live.name.as_str().to_string();
    let mode = spec.remediation.max(settings.global_mode);
    let mut report = RepairReport {
        mode: Some(mode),
        role_arn: Some(live.arn.clone()),
        ..RepairReport::of(&record, Outcome::InSync)
    };
    if mode == RemediationMode::Off {
        report.outcome = Outcome::Ignored("remediation is off".into());
        return report;
    }
    let cni = match rec.check_cni(spec).await {
        Ok(c) => c,
        Err(e) => return RepairReport { outcome: failed(&role, e, metrics, false).outcome, ..report },
    };
    let tampered = match &cni {
        CniCheck::Tampered(arn) | CniCheck::Missing(arn) => Some(arn.clone()),
        _ => None,
    };
    if let Some(arn) = &tampered {
        error!(role, policy = %arn, "CniPolicyTampered: the IPv6 CNI policy is missing or no longer AWS's document; it stays attached (detaching it would cut pod networking) and is not attached anywhere new");
        metrics.emit(Metric::CniPolicyTampered, arn.as_str());
    }
    let planned = plan(spec, Some(&live), &cni, &Retired::default(), Scope::Repair);
    report.drift = planned.summary();
    report.restored_policies = planned
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::AttachPolicy(p) => Some(p.name().to_string()),
            _ => None,
        })
        .collect();
    if !planned.is_empty() {
        metrics.emit(Metric::DriftDetected, &role);
        if mode == RemediationMode::DryRun {
            report.outcome = Outcome::WouldRepair;
            return report;
        }
        match apply_repair(rec, record, &planned, settings, now).await {
            Ok(true) => metrics.emit(Metric::DriftRepaired, &role),
            Ok(false) => {
                error!(
                    role,
                    window_s = settings.window.as_secs(),
                    max = settings.max_repairs,
                    "circuit open: this role keeps drifting; repairs stop until the window passes (see who changes it)"
                );
                metrics.emit(Metric::CircuitOpen, &role);
                report.outcome = Outcome::CircuitOpen;
                return report;
            }
            Err(e) => {
                report.outcome = failed(&role, e, metrics, true).outcome;
                return report;
            }
        }
        report.outcome = Outcome::Repaired;
    }
    if let Some(arn) = tampered {
        metrics.emit(Metric::RepairFailed, &role);
        report.outcome = Outcome::Failed {
            error: format!("the IPv6 CNI policy {arn} is missing or is not the document AWS publishes: restore it (the template's CreateIpv6CniPolicy owns it)"),
            retryable: false,
        };
    }
    report
}

/// The breaker's record and the repair go out at once. The record is a conditional write on the item's
/// version; when another invocation wrote first, it is read again and counted again. Concurrent invocations
/// may therefore overrun the limit by at most their number minus one. `Ok(false)`: the breaker is open.
async fn apply_repair<I: NodeRoleIam, S: StateStore>(
    rec: &Reconciler<I, S>,
    record: Record,
    planned: &crate::domain::Plan,
    settings: &DriftSettings,
    now: u64,
) -> Result<bool, Error> {
    let note = format!("repaired {}", planned.summary().join(", "));
    let admit = |r: &Record| {
        r.admit_repair(now, settings.window, settings.max_repairs).map(|mut next| {
            next.note(now, &note);
            next
        })
    };
    let Some(first) = admit(&record) else { return Ok(false) };
    let name = record.role_name.clone();
    let (applied, recorded) = tokio::join!(rec.execute(&name, planned), rec.store().put(&first, record.expect()));
    applied?;
    let mut recorded = recorded;
    for _ in 0..3 {
        match recorded {
            Ok(_) => return Ok(true),
            Err(Error::RecordChanged(_)) => {
                let Some(current) = rec.store().get(&name).await? else { return Ok(true) };
                // Full meanwhile: the repair is done, the history already at its limit.
                let Some(next) = admit(&current) else { return Ok(true) };
                recorded = rec.store().put(&next, current.expect()).await;
            }
            Err(e) => {
                warn!(role = %name, error = %e, "repair applied but not recorded for the circuit breaker");
                return Ok(true);
            }
        }
    }
    Ok(true)
}

fn failed(role: &str, e: Error, metrics: &Metrics, attempted: bool) -> RepairReport {
    if attempted || !e.is_retryable() {
        metrics.emit(Metric::RepairFailed, role);
    }
    RepairReport::new(role, Outcome::Failed { error: e.to_string(), retryable: e.is_retryable() })
}

/// Sweeps every managed role — the state table's items, not the account's roles, so its cost grows with the
/// managed roles only — with bounded concurrency, starting no new role once `deadline` has passed.
pub async fn sweep<I: NodeRoleIam, S: StateStore>(
    rec: &Reconciler<I, S>,
    settings: &DriftSettings,
    metrics: &Metrics,
    deadline: crate::deadline::Deadline,
) -> Result<Vec<RepairReport>, Error> {
    let mut records: Vec<Record> = rec.store().list().await?.into_iter().filter(|r| r.phase == Phase::Active).collect();
    // A sweep cut short by the deadline must not always skip the same roles: start somewhere else each minute.
    if !records.is_empty() {
        let offset = (unix(SystemTime::now()) / 60) as usize % records.len();
        records.rotate_left(offset);
    }
    let started = Instant::now();
    let inv = Invocation::default();
    let inv = &inv;
    let reports: Vec<RepairReport> = stream::iter(records)
        .map(|record| async move {
            let name = record.role_name.clone();
            if deadline.passed() {
                return RepairReport::new(name.as_str(), Outcome::Ignored("sweep ran out of time".into()));
            }
            // The item is read again with the role: the listed one may predate an Update that came since, and
            // repairing from it would put back what the Update took away.
            match rec.observe(&name).await {
                Ok(observed) => repair_observed(rec, &name, observed, settings, metrics, inv, SystemTime::now()).await,
                Err(e) => failed(name.as_str(), e, metrics, false),
            }
        })
        .buffer_unordered(settings.sweep_concurrency)
        .collect()
        .await;
    info!(
        managed = reports.len(),
        repaired = reports.iter().filter(|r| r.outcome == Outcome::Repaired).count(),
        latency_ms = started.elapsed().as_millis() as u64,
        "sweep finished"
    );
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stricter_mode_wins() {
        assert_eq!(RemediationMode::Enforce.max(RemediationMode::DryRun), RemediationMode::DryRun);
        assert_eq!(RemediationMode::Off.max(RemediationMode::Enforce), RemediationMode::Off);
    }
}
