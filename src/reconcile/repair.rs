//! The repair use case: read the role and its state item, and restore what the item's desired state requires —
//! within the role's mode and circuit breaker. The event that woke us is only a trigger; the role's tags decide
//! nothing. An event costs IAM nothing unless its role has an item. Observe → decide (`domain::repair`) → act.

use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use super::{Observed, Reconciler};
use crate::deadline::Deadline;
use crate::domain::ownership::{owner_shows, OwnerShows};
use crate::domain::repair::{decide, triage, Breaker, Change, Ignore, Repair, Triage};
use crate::domain::{Action, LiveRole, Owner, PolicyArn, RemediationMode, RoleName};
use crate::error::Error;
use crate::iam::NodeRoleIam;
use crate::metrics::{Metric, Metrics};
use crate::stacks::Stacks;
use crate::state::{Phase, Record, StateStore, Transition};

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
    /// The installation's region (its partition).
    pub region: String,
    /// `IPV6_CNI_POLICY_ARN`: the installation's own IPv6 CNI policy, whose changes start a sweep like those of
    /// the account's `AmazonEKS_CNI_IPv6_Policy`.
    pub ipv6_cni_policy: Option<PolicyArn>,
    /// `EVENT_RECHECK_MS`: when the first read of a role does not show the change its event names yet (IAM's
    /// reads lag its writes), the role is read once more after this long.
    pub recheck_after: Duration,
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
            recheck_after: Duration::from_secs(2),
        }
    }
}

impl DriftSettings {
    /// The installation's partition (from its region).
    pub fn partition(&self) -> crate::domain::Partition {
        crate::domain::Partition::of_region(&self.region)
    }

    fn breaker(&self) -> Breaker {
        Breaker { max: self.max_repairs, window: self.window }
    }
}

/// What a repair came to. Everything presented about an outcome — its label, log level, metric, notification
/// and whether the event is worth delivering again — is in the table below, in one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    InSync,
    Repaired,
    /// Dry-run: the plan was logged, not applied.
    WouldRepair,
    CircuitOpen,
    /// A managed role was deleted outside its stack: reported, never recreated.
    RoleDeleted,
    /// The role's stack resource is gone (why): its item is orphaned, the role kept and no longer enforced.
    Orphaned(String),
    Ignored(String),
    Failed {
        error: String,
        retryable: bool,
    },
}

impl Outcome {
    /// One of each, for the tables derived from this one (the notification rule's detail-types).
    pub const ALL: [Outcome; 8] = [
        Outcome::InSync,
        Outcome::Repaired,
        Outcome::WouldRepair,
        Outcome::CircuitOpen,
        Outcome::RoleDeleted,
        Outcome::Orphaned(String::new()),
        Outcome::Ignored(String::new()),
        Outcome::Failed { error: String::new(), retryable: false },
    ];

    /// Why nothing was done, or what went wrong.
    pub fn reason(&self) -> &str {
        match self {
            Outcome::Ignored(why) | Outcome::Orphaned(why) => why,
            Outcome::Failed { error, .. } => error,
            Outcome::RoleDeleted => {
                "the role was deleted outside its stack: it cannot be repaired in place; update or recreate its stack"
            }
            _ => "",
        }
    }

    pub fn label(&self) -> &'static str {
        self.row().0
    }

    /// Logged as an error (someone should look), not as information.
    pub fn is_error(&self) -> bool {
        self.row().1
    }

    /// The detail-type of its notification; `None` for decisions nobody needs to hear about.
    pub fn detail_type(&self) -> Option<&'static str> {
        self.row().2
    }

    /// The metric it counts as. A failure counts when the repair was attempted or no retry can help (a
    /// throttled read is delivered again and counted then).
    pub fn metric(&self, attempted: bool) -> Option<Metric> {
        match self {
            Outcome::Failed { retryable: true, .. } if !attempted => None,
            _ => self.row().3,
        }
    }

    /// A retry of the event could help (throttling, a 5xx).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Outcome::Failed { retryable: true, .. })
    }

    /// label, error level, detail-type, metric.
    fn row(&self) -> (&'static str, bool, Option<&'static str>, Option<Metric>) {
        match self {
            Outcome::InSync => ("in-sync", false, None, None),
            Outcome::Repaired => ("repaired", false, Some("EKS Node Role Drift Repaired"), Some(Metric::DriftRepaired)),
            Outcome::WouldRepair => ("would-repair", false, Some("EKS Node Role Drift Found (Dry Run)"), None),
            Outcome::CircuitOpen => (
                "circuit-open",
                true,
                Some("EKS Node Role Drift Repair Stopped (Circuit Open)"),
                Some(Metric::CircuitOpen),
            ),
            Outcome::RoleDeleted => {
                ("role-deleted", true, Some("EKS Node Role Deleted Outside Its Stack"), Some(Metric::RoleDeleted))
            }
            Outcome::Orphaned(_) => (
                "orphaned",
                true,
                Some("EKS Node Role Orphaned (Its Stack Resource Is Gone)"),
                Some(Metric::RoleOrphaned),
            ),
            Outcome::Ignored(_) => ("ignored", false, None, None),
            Outcome::Failed { .. } => {
                ("failed", true, Some("EKS Node Role Drift Repair Failed"), Some(Metric::RepairFailed))
            }
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

impl<I: NodeRoleIam, S: StateStore> Reconciler<I, S> {
    /// Repairs the role an event names. Its item is read first: a role without one (or one its stack is deleting)
    /// costs IAM nothing, since the account's IAM throttling budget is shared by everyone in it. Then the role;
    /// when that read does not show `change` yet and time allows, once more after `recheck_after`.
    pub async fn repair(
        &self,
        name: &RoleName,
        change: &Change,
        settings: &DriftSettings,
        metrics: &Metrics,
        deadline: Deadline,
    ) -> RepairReport {
        let record = match self.store.get(name).await {
            Ok(Some(record)) => record,
            Ok(None) => return RepairReport::new(name.as_str(), Outcome::Ignored(Ignore::NotManaged.reason().into())),
            Err(e) => return failed(name.as_str(), e, metrics, false),
        };
        if record.phase != Phase::Active {
            let why = if record.phase == Phase::Deleting { Ignore::Deleting } else { Ignore::Orphaned };
            return RepairReport::of(&record, Outcome::Ignored(why.reason().into()));
        }
        if let Some(report) = self.out_of_reach(&record, metrics) {
            return report;
        }
        let mut live = match self.iam.read_role(name).await {
            Ok(live) => live,
            Err(e) => return failed(name.as_str(), e, metrics, false),
        };
        // Room for the second read and the repair after it.
        let room = settings.recheck_after + Duration::from_secs(3);
        if !change.shown_by(live.as_ref()) && deadline.left() > room {
            debug!(role = %name, ?change, "the read does not show the event's change yet: reading again once");
            tokio::time::sleep(settings.recheck_after).await;
            live = match self.iam.read_role(name).await {
                Ok(live) => live,
                Err(e) => return failed(name.as_str(), e, metrics, false),
            };
        }
        self.repair_observed(name, Observed { role: live, record: Some(record) }, settings, metrics, false).await
    }

    /// Sweeps every managed role — the state table's items, not the account's roles, so its cost grows with the
    /// managed roles only — with bounded concurrency, starting no new role once `deadline` has passed.
    pub async fn sweep<C: Stacks>(
        &self,
        stacks: &C,
        settings: &DriftSettings,
        metrics: &Metrics,
        deadline: crate::deadline::Deadline,
    ) -> Result<Vec<RepairReport>, Error> {
        let all = self.store.list().await?;
        let active: Vec<Record> = all.iter().filter(|r| r.phase == Phase::Active).cloned().collect();
        // Owners first: an item whose stack resource is gone is orphaned, not enforced.
        let (mut orphaned, mut records) = self.check_owners(stacks, active, &all, settings, metrics).await;
        // A sweep cut short by the deadline must not always skip the same roles: start somewhere else each minute.
        if !records.is_empty() {
            let offset = (self.clock.unix() / 60) as usize % records.len();
            records.rotate_left(offset);
        }
        let started = Instant::now();
        let reports: Vec<RepairReport> = stream::iter(records)
            .map(|record| async move {
                let name = record.role_name.clone();
                if deadline.passed() {
                    return RepairReport::new(name.as_str(), Outcome::Ignored("sweep ran out of time".into()));
                }
                if let Some(report) = self.out_of_reach(&record, metrics) {
                    return report;
                }
                // The item is read again with the role: the listed one may predate an Update that came since, and
                // repairing from it would put back what the Update took away.
                match self.observe(&name).await {
                    Ok(observed) => self.repair_observed(&name, observed, settings, metrics, false).await,
                    Err(e) => failed(name.as_str(), e, metrics, false),
                }
            })
            .buffer_unordered(settings.sweep_concurrency)
            .collect()
            .await;
        let reports: Vec<RepairReport> = orphaned.drain(..).chain(reports).collect();
        info!(
            managed = reports.len(),
            repaired = reports.iter().filter(|r| r.outcome == Outcome::Repaired).count(),
            latency_ms = started.elapsed().as_millis() as u64,
            "sweep finished"
        );
        Ok(reports)
    }

    /// Asks CloudFormation about each item's owner (once per stack resource, `sweep_concurrency` at a time) and
    /// orphans the items whose resource is gone; returns their reports and the items still owned. An owner that
    /// cannot be read, or whose stack is mid-operation, keeps its items.
    async fn check_owners<C: Stacks>(
        &self,
        stacks: &C,
        records: Vec<Record>,
        all: &[Record],
        settings: &DriftSettings,
        metrics: &Metrics,
    ) -> (Vec<RepairReport>, Vec<Record>) {
        // Each stack's status once; a resource only where its stack is not mid-operation (nothing is concluded
        // there, so nothing more is asked).
        let stack_ids: std::collections::BTreeSet<String> = records.iter().map(|r| r.owner.stack_id.clone()).collect();
        let statuses: std::collections::HashMap<String, Result<Option<String>, Error>> = stream::iter(stack_ids)
            .map(|id| async move {
                let status = stacks.stack_status(&id).await;
                (id, status)
            })
            .buffer_unordered(settings.sweep_concurrency)
            .collect()
            .await;
        let owners: std::collections::BTreeSet<Owner> = records.iter().map(|r| r.owner.clone()).collect();
        let statuses = &statuses;
        let looks: std::collections::HashMap<Owner, _> = stream::iter(owners)
            .map(|o| async move {
                let look = match statuses.get(&o.stack_id) {
                    Some(Ok(Some(s))) if s.ends_with("_IN_PROGRESS") => Ok((Some(s.clone()), None)),
                    Some(Ok(status)) => stacks.resource(&o.stack_id, &o.logical_id).await.map(|r| (status.clone(), r)),
                    Some(Err(e)) => Err(Error::invalid(e.to_string())),
                    None => Ok((None, None)),
                };
                (o, look)
            })
            .buffer_unordered(settings.sweep_concurrency)
            .collect()
            .await;
        let (mut orphaned, mut kept) = (Vec::new(), Vec::new());
        for record in records {
            let why = match looks.get(&record.owner) {
                Some(Ok((status, resource))) => {
                    let shown = resource.as_ref().map(|r| (r.status.as_str(), r.physical_id.as_deref()));
                    match owner_shows(status.as_deref(), shown, record.role_name.as_str()) {
                        OwnerShows::Gone(why) => Some(why),
                        OwnerShows::NamesAnother(current)
                            if all.iter().any(|r| {
                                r.owner == record.owner && r.role_name.as_str().eq_ignore_ascii_case(&current)
                            }) =>
                        {
                            Some(format!("its stack resource now names role {current}"))
                        }
                        _ => None,
                    }
                }
                Some(Err(e)) => {
                    warn!(role = %record.role_name, error = %e, "could not read the item's owner: kept");
                    None
                }
                None => None,
            };
            match why {
                Some(why) => orphaned.push(self.orphan(record, why, metrics).await),
                None => kept.push(record),
            }
        }
        (orphaned, kept)
    }

    /// A managed role the installation's scope no longer reaches (its prefixes narrowed since): not repaired, since
    /// IAM would refuse every write, and reported as a failure on every check until the operator decides.
    fn out_of_reach(&self, record: &Record, metrics: &Metrics) -> Option<RepairReport> {
        let why = self.rules.role_out_of_reach(record.role_name.as_str(), record.desired.path.as_str())?;
        error!(role = %record.role_name, "{why}");
        let report = RepairReport::of(record, Outcome::Failed { error: why, retryable: false });
        emit(metrics, &report.outcome, record.role_name.as_str(), true);
        Some(report)
    }

    /// An Update may have changed the desired state while this repair ran from the item it read: a policy the
    /// repair attached that the item no longer requires (the Update detached it a moment before) is taken off
    /// again, so the later writer's state stands. Best effort: the next Update or sweep sees any rest.
    async fn recheck_after_repair(&self, read: &Record, applied: &crate::domain::Plan) {
        let now = match self.store.get(&read.role_name).await {
            Ok(Some(now)) if now.desired != read.desired && now.phase == Phase::Active => now,
            Ok(_) => return,
            Err(e) => return warn!(role = %read.role_name, error = %e, "could not read the item again after a repair"),
        };
        let wanted = now.desired.required_policies();
        let stale: Vec<Action> = applied
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::AttachPolicy(p) if !wanted.contains(p) && !now.desired.preexisting.contains(p) => {
                    Some(Action::DetachPolicy(p.clone()))
                }
                _ => None,
            })
            .collect();
        if stale.is_empty() {
            return;
        }
        let undo = crate::domain::Plan { actions: stale };
        info!(role = %read.role_name, plan = ?undo.summary(), "an Update changed the desired state during the repair: undoing what it no longer requires");
        if let Err(e) = self.execute(&read.role_name, &undo).await {
            warn!(role = %read.role_name, error = %e, "could not undo a repair an Update overtook");
        }
    }

    /// Marks the item orphaned (reported once: later sweeps skip it).
    async fn orphan(&self, record: Record, why: String, metrics: &Metrics) -> RepairReport {
        let role = record.role_name.to_string();
        match self.commit(Some(&record), Transition::Orphan(why.clone())).await {
            Ok(_) => {
                error!(role, owner = %record.owner.stack_id, reason = %why, "a managed role's stack resource is gone: orphaned, no longer enforced");
                let report = RepairReport::of(&record, Outcome::Orphaned(why));
                emit(metrics, &report.outcome, &role, false);
                report
            }
            Err(e) => failed(&role, e, metrics, false),
        }
    }

    async fn repair_observed(
        &self,
        name: &RoleName,
        observed: Observed,
        settings: &DriftSettings,
        metrics: &Metrics,
        reread: bool,
    ) -> RepairReport {
        let role = name.as_str();
        let Observed { role: live, record } = observed;
        let ignored = |why: &str| RepairReport::new(role, Outcome::Ignored(why.to_string()));
        let mode = match triage(record.as_ref(), live.as_ref(), settings.global_mode) {
            Triage::Proceed(mode) => mode,
            Triage::Deleted if !reread => {
                // IAM's reads lag: a role just made can read as absent. Alarm only if it is still gone a moment later.
                tokio::time::sleep(settings.recheck_after).await;
                let observed = match self.iam.read_role(name).await {
                    Ok(role) => Observed { role, record },
                    Err(e) => return failed(role, e, metrics, false),
                };
                return Box::pin(self.repair_observed(name, observed, settings, metrics, true)).await;
            }
            Triage::Deleted => {
                error!(role, "a managed role was deleted outside its stack");
                let record = record.expect("a deleted role has its item");
                let report = RepairReport {
                    drift: vec!["DeleteRole".into()],
                    ..RepairReport::of(&record, Outcome::RoleDeleted)
                };
                emit(metrics, &report.outcome, role, false);
                return report;
            }
            Triage::Ignore(why @ Ignore::Off) => {
                let (record, live) = (record.expect("triaged with its item"), live.expect("triaged with its role"));
                let outcome = Outcome::Ignored(why.reason().into());
                // Triage said off: the stricter of the role's and the installation's modes.
                return RepairReport {
                    mode: Some(RemediationMode::Off),
                    role_arn: Some(live.arn),
                    ..RepairReport::of(&record, outcome)
                };
            }
            Triage::Ignore(why) => {
                if why == Ignore::NotRecorded {
                    let live_role_id = live.as_ref().map_or("-", |l| l.role_id.as_str());
                    let recorded = record.as_ref().and_then(|r| r.role_id.as_deref());
                    warn!(role, live_role_id, recorded = ?recorded, "RoleId differs from the state item: not ours, left alone");
                }
                return ignored(why.reason());
            }
        };
        let (record, live) = (record.expect("triaged with its item"), live.expect("triaged with its role"));
        self.repair_role(record, live, mode, settings, metrics, self.clock.unix()).await
    }

    async fn repair_role(
        &self,
        mut record: Record,
        live: LiveRole,
        mode: RemediationMode,
        settings: &DriftSettings,
        metrics: &Metrics,
        now: u64,
    ) -> RepairReport {
        let role = live.name.as_str().to_string();
        let mut report = RepairReport {
            mode: Some(mode),
            role_arn: Some(live.arn.clone()),
            ..RepairReport::of(&record, Outcome::InSync)
        };
        let cni = match self.check_cni(&record.desired).await {
            Ok(c) => c,
            Err(e) => return RepairReport { outcome: failed(&role, e, metrics, false).outcome, ..report },
        };
        let decision = decide(&record, &live, mode, &cni, settings.breaker(), &self.rules.allowed_boundaries, now);
        if let Some(boundary) = &decision.kept_boundary {
            // Reported once: the item's trail remembers it (a sweep finds it again every time).
            if record.has_note(&crate::state::kept_boundary_note(boundary)) {
                debug!(role, boundary = %boundary, "permissions boundary left in place (reported before)");
            } else {
                warn!(role, boundary = %boundary, "the role carries a permissions boundary this function may not remove (not in AllowedPermissionsBoundaryArns): left in place");
                match self.commit(Some(&record), Transition::NoteKeptBoundary(boundary.clone())).await {
                    Ok(Some(noted)) => record = noted,
                    Ok(None) => {}
                    Err(e) => warn!(role, error = %e, "the kept boundary was not noted in the state item"),
                }
            }
        }
        if let Some(arn) = &decision.cni_tampered {
            error!(role, policy = %arn, "CniPolicyTampered: the IPv6 CNI policy is missing or no longer AWS's document; it stays attached (detaching it would cut pod networking) and is not attached anywhere new");
            metrics.emit(Metric::CniPolicyTampered, arn.as_str());
        }
        if let Some(planned) = decision.plan() {
            report.drift = planned.summary();
            report.restored_policies = planned
                .actions
                .iter()
                .filter_map(|a| match a {
                    Action::AttachPolicy(p) => Some(p.name().to_string()),
                    _ => None,
                })
                .collect();
            metrics.emit(Metric::DriftDetected, &role);
        }
        match decision.repair {
            Repair::InSync => {}
            Repair::DryRun(_) => {
                report.outcome = Outcome::WouldRepair;
                return report;
            }
            Repair::CircuitOpen(_) => {
                error!(
                    role,
                    window_s = settings.window.as_secs(),
                    max = settings.max_repairs,
                    "circuit open: this role keeps drifting; repairs stop until the window passes (see who changes it)"
                );
                report.outcome = Outcome::CircuitOpen;
                emit(metrics, &report.outcome, &role, true);
                return report;
            }
            Repair::Apply(planned) => {
                // The breaker's record and the repair go out at once. The record is a conditional write on the
                // item's version; when another invocation wrote first, it is counted again on the newer item
                // (`Transition::rebases`). Concurrent invocations may therefore overrun the limit by at most
                // their number minus one.
                let recorded = Transition::RecordRepair {
                    at: now,
                    window: settings.window,
                    max: settings.max_repairs,
                    changes: planned.summary(),
                };
                let (applied, recorded) =
                    tokio::join!(self.execute(&record.role_name, &planned), self.commit(Some(&record), recorded));
                if let Err(e) = applied {
                    report.outcome = failed(&role, e, metrics, true).outcome;
                    return report;
                }
                if let Err(e) = recorded {
                    warn!(role, error = %e, "repair applied but not recorded for the circuit breaker");
                }
                self.recheck_after_repair(&record, &planned).await;
                report.outcome = Outcome::Repaired;
                emit(metrics, &report.outcome, &role, true);
            }
        }
        if let Some(arn) = decision.cni_tampered {
            report.outcome = Outcome::Failed {
                error: format!("the IPv6 CNI policy {arn} is missing or is not the document AWS publishes: restore it (the template's CreateIpv6CniPolicy owns it)"),
                retryable: false,
            };
            emit(metrics, &report.outcome, &role, true);
        }
        report
    }
}

/// The outcome's metric, from the one table, by `role` as IAM or the event spells it.
fn emit(metrics: &Metrics, outcome: &Outcome, role: &str, attempted: bool) {
    if let Some(m) = outcome.metric(attempted) {
        metrics.emit(m, role);
    }
}

fn failed(role: &str, e: Error, metrics: &Metrics, attempted: bool) -> RepairReport {
    let report = RepairReport::new(role, Outcome::Failed { error: e.to_string(), retryable: e.is_retryable() });
    emit(metrics, &report.outcome, role, attempted);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stricter_mode_wins() {
        assert_eq!(RemediationMode::Enforce.max(RemediationMode::DryRun), RemediationMode::DryRun);
        assert_eq!(RemediationMode::Off.max(RemediationMode::Enforce), RemediationMode::Off);
    }

    /// (outcome, label, error level, notified, metric when attempted, metric when not, retry)
    type Row = (Outcome, &'static str, bool, bool, Option<Metric>, Option<Metric>, bool);

    #[test]
    fn the_outcome_table() {
        let retried = Outcome::Failed { error: "Throttling".into(), retryable: true };
        let given_up = Outcome::Failed { error: "AccessDenied".into(), retryable: false };
        let rows: Vec<Row> = vec![
            (Outcome::InSync, "in-sync", false, false, None, None, false),
            (
                Outcome::Repaired,
                "repaired",
                false,
                true,
                Some(Metric::DriftRepaired),
                Some(Metric::DriftRepaired),
                false,
            ),
            (Outcome::WouldRepair, "would-repair", false, true, None, None, false),
            (
                Outcome::CircuitOpen,
                "circuit-open",
                true,
                true,
                Some(Metric::CircuitOpen),
                Some(Metric::CircuitOpen),
                false,
            ),
            (
                Outcome::RoleDeleted,
                "role-deleted",
                true,
                true,
                Some(Metric::RoleDeleted),
                Some(Metric::RoleDeleted),
                false,
            ),
            (Outcome::Ignored("x".into()), "ignored", false, false, None, None, false),
            (retried, "failed", true, true, Some(Metric::RepairFailed), None, true),
            (given_up, "failed", true, true, Some(Metric::RepairFailed), Some(Metric::RepairFailed), false),
        ];
        for (o, label, error, notified, attempted, not_attempted, retry) in rows {
            assert_eq!(o.label(), label);
            assert_eq!(o.is_error(), error, "{label}");
            assert_eq!(o.detail_type().is_some(), notified, "{label}");
            assert_eq!((o.metric(true), o.metric(false)), (attempted, not_attempted), "{label}");
            assert_eq!(o.is_retryable(), retry, "{label}");
        }
        let labels: std::collections::HashSet<&str> = Outcome::ALL.iter().map(Outcome::label).collect();
        assert_eq!(labels.len(), Outcome::ALL.len(), "ALL holds one of each");
    }
}
