//! Drift repair: re-read the role, rebuild its desired state from its tags, and restore what that state
//! requires — within the role's mode and circuit breaker. The event that woke us is only a trigger.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::stream::{self, StreamExt};
use tokio::time::Instant;
use tracing::{error, info, warn};

use crate::domain::spec::TAG_PREFIX;
use crate::domain::{plan, Action, Management, NodeRoleSpec, Plan, RemediationMode, Retired, RoleName};
use crate::error::Error;
use crate::iam::NodeRoleIam;
use crate::metrics::{Metric, Metrics};
use crate::reconcile::Reconciler;

const NOT_MANAGED: &str = "not managed by eks-node-role-guard";

/// Recent repair times (unix seconds), space-separated: the circuit breaker's state, kept on the role.
pub const REPAIRS_TAG: &str = "eks-node-role-guard:repairs";

/// Settings of drift repair (env: `REMEDIATION_MODE`, `CIRCUIT_MAX_REPAIRS`, `CIRCUIT_WINDOW_SECONDS`,
/// `SWEEP_CONCURRENCY`, `SWEEP_PATH_PREFIX`, `GUARD_EXECUTION_ROLE_NAME`).
#[derive(Debug, Clone)]
pub struct DriftSettings {
    /// The account-wide mode; the stricter of it and the role's own wins.
    pub global_mode: RemediationMode,
    pub max_repairs: usize,
    pub window: Duration,
    pub sweep_concurrency: usize,
    pub sweep_path_prefix: Option<String>,
    /// This function's execution role name: events from it are the tool's own calls.
    pub own_role: Option<String>,
    pub function_name: Option<String>,
}

impl Default for DriftSettings {
    fn default() -> Self {
        DriftSettings {
            global_mode: RemediationMode::Enforce,
            max_repairs: 5,
            window: Duration::from_secs(3600),
            sweep_concurrency: 4,
            sweep_path_prefix: None,
            own_role: None,
            function_name: None,
        }
    }
}

impl DriftSettings {
    pub fn from_env() -> Self {
        let d = DriftSettings::default();
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let global_mode = match var("REMEDIATION_MODE") {
            None => d.global_mode,
            Some(v) => RemediationMode::parse(&v, "REMEDIATION_MODE").unwrap_or_else(|e| {
                // An unreadable kill switch must not turn repair on: treat it as off.
                error!(error = %e, "REMEDIATION_MODE unreadable: drift repair is off");
                RemediationMode::Off
            }),
        };
        DriftSettings {
            global_mode,
            max_repairs: var("CIRCUIT_MAX_REPAIRS")
                .and_then(|v| v.parse().ok())
                .map(|n: usize| n.clamp(1, 20))
                .unwrap_or(d.max_repairs),
            window: var("CIRCUIT_WINDOW_SECONDS")
                .and_then(|v| v.parse().ok())
                .map(Duration::from_secs)
                .unwrap_or(d.window),
            sweep_concurrency: var("SWEEP_CONCURRENCY")
                .and_then(|v| v.parse().ok())
                .map(|n: usize| n.clamp(1, 16))
                .unwrap_or(d.sweep_concurrency),
            sweep_path_prefix: var("SWEEP_PATH_PREFIX"),
            own_role: var("GUARD_EXECUTION_ROLE_NAME"),
            function_name: var("AWS_LAMBDA_FUNCTION_NAME"),
        }
    }
}

/// The circuit breaker's record of recent repairs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RepairHistory(Vec<u64>);

impl RepairHistory {
    pub fn parse(tag: Option<&str>) -> Self {
        RepairHistory(tag.unwrap_or("").split_whitespace().filter_map(|t| t.parse().ok()).collect())
    }

    /// Repairs within `window` before `now`.
    pub fn recent(&self, now: u64, window: Duration) -> usize {
        self.0.iter().filter(|t| now.saturating_sub(**t) < window.as_secs()).count()
    }

    pub fn is_open(&self, now: u64, window: Duration, max: usize) -> bool {
        self.recent(now, window) >= max
    }

    /// The tag value after one more repair at `now`: only repairs inside the window are kept.
    pub fn record(&self, now: u64, window: Duration, max: usize) -> String {
        let mut kept: Vec<u64> = self.0.iter().copied().filter(|t| now.saturating_sub(*t) < window.as_secs()).collect();
        kept.push(now);
        let skip = kept.len().saturating_sub(max.max(1));
        kept[skip..].iter().map(u64::to_string).collect::<Vec<_>>().join(" ")
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
}

impl RepairReport {
    fn new(role: &str, outcome: Outcome) -> Self {
        RepairReport { role: role.to_string(), drift: Vec::new(), mode: None, outcome }
    }
}

fn unix(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// Repairs one role, deciding from its live state alone.
pub async fn repair<I: NodeRoleIam>(
    rec: &Reconciler<I>,
    name: &RoleName,
    settings: &DriftSettings,
    metrics: &Metrics,
    now: SystemTime,
) -> RepairReport {
    match rec.iam.get_role(name).await {
        Ok(Some(head)) => repair_role(rec, head, settings, metrics, now).await,
        Ok(None) => RepairReport::new(name.as_str(), Outcome::Ignored("role does not exist".into())),
        Err(e) => failed(name.as_str(), e, metrics, false),
    }
}

/// Repairs a role read with `get_role` (its tags decide whether it is managed at all).
async fn repair_role<I: NodeRoleIam>(
    rec: &Reconciler<I>,
    head: crate::domain::LiveRole,
    settings: &DriftSettings,
    metrics: &Metrics,
    now: SystemTime,
) -> RepairReport {
    let name = head.name.clone();
    let role = name.as_str();
    match Management::of(&head.tags) {
        Management::Managed(_) => {}
        Management::Deleting(_) => return RepairReport::new(role, Outcome::Ignored("its stack is deleting it".into())),
        Management::Unmanaged => return RepairReport::new(role, Outcome::Ignored(NOT_MANAGED.into())),
    }
    let live = match rec.iam.read_attachments(head).await {
        Ok(Some(live)) => live,
        Ok(None) => return RepairReport::new(role, Outcome::Ignored("role does not exist".into())),
        Err(e) => return failed(role, e, metrics, false),
    };
    let spec = match NodeRoleSpec::from_tags(&name, &live.path, &live.arn, &live.tags) {
        Ok(Some(spec)) => spec,
        Ok(None) => return RepairReport::new(role, Outcome::Ignored(NOT_MANAGED.into())),
        Err(e) => return failed(role, e, metrics, false),
    };
    let mode = spec.remediation.max(settings.global_mode);
    let mut report =
        RepairReport { role: role.to_string(), drift: Vec::new(), mode: Some(mode), outcome: Outcome::InSync };
    if mode == RemediationMode::Off {
        report.outcome = Outcome::Ignored("remediation is off".into());
        return report;
    }
    let cni = match rec.observe_cni_policy(&spec).await {
        Ok(o) => o,
        Err(e) => return failed(role, e, metrics, false),
    };
    let plan = plan(&spec, Some(&live), &cni, &Retired::default());
    if plan.is_empty() {
        return report;
    }
    report.drift = plan.summary();
    metrics.emit(Metric::DriftDetected, role);
    if mode == RemediationMode::DryRun {
        report.outcome = Outcome::WouldRepair;
        return report;
    }
    let history = RepairHistory::parse(live.tags.get(REPAIRS_TAG).map(String::as_str));
    let now = unix(now);
    if history.is_open(now, settings.window, settings.max_repairs) {
        error!(
            role,
            repairs = history.recent(now, settings.window),
            window_s = settings.window.as_secs(),
            "circuit open: this role keeps drifting; repairs stop until the window passes (see who changes it)"
        );
        metrics.emit(Metric::CircuitOpen, role);
        report.outcome = Outcome::CircuitOpen;
        return report;
    }
    if let Err(e) = rec.execute(&name, &plan).await {
        report.outcome = failed(role, e, metrics, true).outcome;
        return report;
    }
    metrics.emit(Metric::DriftRepaired, role);
    let record = Action::TagRole(BTreeMap::from([(
        REPAIRS_TAG.to_string(),
        history.record(now, settings.window, settings.max_repairs),
    )]));
    if let Err(e) = rec.execute(&name, &Plan { actions: vec![record] }).await {
        warn!(role, error = %e, "repair applied but not recorded for the circuit breaker");
    }
    report.outcome = Outcome::Repaired;
    report
}

fn failed(role: &str, e: Error, metrics: &Metrics, attempted: bool) -> RepairReport {
    if attempted || !e.is_retryable() {
        metrics.emit(Metric::RepairFailed, role);
    }
    RepairReport::new(role, Outcome::Failed { error: e.to_string(), retryable: e.is_retryable() })
}

/// Sweeps every managed role (under `SWEEP_PATH_PREFIX`, if set) with bounded concurrency, stopping to start
/// new roles once `deadline` has passed.
pub async fn sweep<I: NodeRoleIam>(
    rec: &Reconciler<I>,
    settings: &DriftSettings,
    metrics: &Metrics,
    deadline: Instant,
) -> Result<Vec<RepairReport>, Error> {
    let mut roles = rec.iam.list_roles(settings.sweep_path_prefix.as_deref()).await?;
    // A sweep cut short by the deadline must not always skip the same roles: start somewhere else each minute.
    if !roles.is_empty() {
        let offset = (unix(SystemTime::now()) / 60) as usize % roles.len();
        roles.rotate_left(offset);
    }
    let started = Instant::now();
    let reports: Vec<Option<RepairReport>> = stream::iter(roles)
        .map(|summary| async move {
            if Instant::now() >= deadline {
                return Some(RepairReport::new(&summary.name, Outcome::Ignored("sweep ran out of time".into())));
            }
            let name = RoleName::parse(&summary.name).ok()?;
            // One read decides whether the role is ours at all; the same read starts the repair.
            match rec.iam.get_role(&name).await {
                Ok(Some(head)) if head.tags.keys().any(|k| k.starts_with(TAG_PREFIX)) => {
                    Some(repair_role(rec, head, settings, metrics, SystemTime::now()).await)
                }
                Ok(_) => None,
                Err(e) => Some(failed(name.as_str(), e, metrics, false)),
            }
        })
        .buffer_unordered(settings.sweep_concurrency)
        .collect()
        .await;
    let reports: Vec<RepairReport> = reports.into_iter().flatten().collect();
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

    const H: Duration = Duration::from_secs(3600);

    #[test]
    fn the_breaker_counts_only_repairs_inside_the_window() {
        let h = RepairHistory::parse(Some("100 4000 4100 junk"));
        assert_eq!(h.recent(4200, H), 2);
        assert!(!h.is_open(4200, H, 3));
        assert!(h.is_open(4200, H, 2));
        assert_eq!(RepairHistory::parse(None).recent(10, H), 0);
    }

    #[test]
    fn recording_drops_old_repairs_and_keeps_at_most_max() {
        let h = RepairHistory::parse(Some("100 4000 4100"));
        assert_eq!(h.record(4200, H, 5), "4000 4100 4200");
        assert_eq!(h.record(4200, H, 2), "4100 4200");
        let full = RepairHistory::parse(Some(
            &(0..20).map(|i| (1_800_000_000u64 + i).to_string()).collect::<Vec<_>>().join(" "),
        ));
        let v = full.record(1_800_000_100, H, 20);
        assert!(v.len() <= 256, "fits a tag value: {}", v.len());
    }

    #[test]
    fn the_stricter_mode_wins() {
        assert_eq!(RemediationMode::Enforce.max(RemediationMode::DryRun), RemediationMode::DryRun);
        assert_eq!(RemediationMode::Off.max(RemediationMode::Enforce), RemediationMode::Off);
    }
}
