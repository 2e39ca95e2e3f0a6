//! Every environment variable the function reads, read once at start-up into one value (docs/reference.md lists
//! them). Nothing else reads the environment. A value that cannot be read falls back to its default — except the
//! repair mode, which falls back to `off` — and the problem is kept to be logged once logging is up.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::cfn::CfnSettings;
use crate::domain::reach::{Allowances, DEFAULT_ADOPTABLE, DEFAULT_ALLOWED_ADDITIONAL};
use crate::domain::{Partition, PolicyArn, RemediationMode};
use crate::iam::IamSettings;
use crate::reconcile::repair::DriftSettings;

#[derive(Debug, Clone)]
pub struct Settings {
    /// `STATE_TABLE_NAME` (required: every request fails without it).
    pub state_table: String,
    pub drift: DriftSettings,
    pub cfn: CfnSettings,
    pub iam: IamSettings,
    /// `ADOPTABLE_ROLE_NAMES`, `ALLOWED_ADDITIONAL_POLICY_ARNS` (and the own role, never adoptable).
    pub adoption: Allowances,
    /// `IPV6_CNI_POLICY_ARN`: the IPv6 CNI policy the template created.
    pub ipv6_cni_policy: Option<PolicyArn>,
    /// `NOTIFY_EVENT_BUS` (default `default`); `None` when `off`.
    pub notify_bus: Option<String>,
    /// `METRICS_NAMESPACE`.
    pub metrics_namespace: String,
    /// `EVENTS_FORWARDED`: forwarder.yaml sends IAM's events here from the partition's IAM region.
    pub events_forwarded: bool,
    /// `LOG_FORMAT=text` for people (JSON otherwise).
    pub log_text: bool,
    /// `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL` (the function's ApplicationLogLevel), else `info`.
    pub log_filter: String,
    /// What could not be read, for the log.
    pub problems: Vec<String>,
}

impl Settings {
    pub fn from_env() -> Self {
        Settings::from_vars(|k| std::env::var(k).ok())
    }

    /// From any source of variables (tests pass a map instead of changing the process's environment).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Self {
        let mut v = Vars { get: &get, problems: Vec::new() };
        let mut drift = drift(&mut v);
        let iam = IamSettings {
            max_attempts: v.number("IAM_MAX_ATTEMPTS").map(|n| n.clamp(1, 20) as u32).unwrap_or(6),
            initial_backoff: v.millis("IAM_INITIAL_BACKOFF_MS").unwrap_or(Duration::from_millis(200)),
            attempt_timeout: v.millis("IAM_ATTEMPT_TIMEOUT_MS").unwrap_or(Duration::from_secs(10)),
        };
        let cfn = CfnSettings {
            margin: v.millis("WATCHDOG_MARGIN_MS").unwrap_or(CfnSettings::default().margin),
            allow_insecure_response_url: v.flag("ALLOW_INSECURE_RESPONSE_URL"),
            function_timeout: v.number("FUNCTION_TIMEOUT_SECONDS").map(Duration::from_secs),
        };
        let adoption = adoption(&mut v, drift.partition(), drift.own_role.clone());
        let ipv6_cni_policy = v.text("IPV6_CNI_POLICY_ARN").and_then(|a| v.policy("IPV6_CNI_POLICY_ARN", &a));
        drift.ipv6_cni_policy = ipv6_cni_policy.clone();
        let state_table = v.text("STATE_TABLE_NAME").unwrap_or_default();
        if state_table.is_empty() {
            v.problems
                .push("STATE_TABLE_NAME is not set: every request will fail until it names the state table".into());
        }
        let notify_bus = match v.text("NOTIFY_EVENT_BUS") {
            Some(b) if b.eq_ignore_ascii_case("off") => None,
            other => Some(other.unwrap_or_else(|| "default".into())),
        };
        Settings {
            state_table,
            drift,
            cfn,
            iam,
            adoption,
            ipv6_cni_policy,
            notify_bus,
            metrics_namespace: v.text("METRICS_NAMESPACE").unwrap_or_else(|| "EksNodeRoleGuard".into()),
            events_forwarded: v.flag("EVENTS_FORWARDED"),
            log_text: v.text("LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("text")),
            log_filter: log_filter(&mut v),
            problems: v.problems,
        }
    }

    pub fn partition(&self) -> Partition {
        self.drift.partition()
    }
}

/// The variables, read with the problems they have kept.
struct Vars<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<String>,
}

impl Vars<'_> {
    /// The trimmed value; empty counts as unset.
    fn text(&self, k: &str) -> Option<String> {
        (self.get)(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    fn flag(&self, k: &str) -> bool {
        self.text(k).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    fn number(&mut self, k: &str) -> Option<u64> {
        let v = self.text(k)?;
        v.parse().inspect_err(|_| self.problems.push(format!("{k}='{v}' is not a number: the default is used"))).ok()
    }

    fn millis(&mut self, k: &str) -> Option<Duration> {
        self.number(k).map(Duration::from_millis)
    }

    fn policy(&mut self, k: &str, v: &str) -> Option<PolicyArn> {
        PolicyArn::parse(v, k).inspect_err(|e| self.problems.push(format!("{e} (ignored)"))).ok()
    }

    /// A comma-separated list of policy ARNs; empty items are skipped, unreadable ones reported.
    fn policies(&mut self, k: &str, list: &str) -> BTreeSet<PolicyArn> {
        list.split(',').map(str::trim).filter(|s| !s.is_empty()).filter_map(|s| self.policy(k, s)).collect()
    }
}

fn drift(v: &mut Vars) -> DriftSettings {
    let d = DriftSettings::default();
    let global_mode = match v.text("REMEDIATION_MODE") {
        None => d.global_mode,
        Some(m) => RemediationMode::parse(&m, "REMEDIATION_MODE").unwrap_or_else(|e| {
            // An unreadable kill switch must not turn repair on.
            v.problems.push(format!("{e}: drift repair is off"));
            RemediationMode::Off
        }),
    };
    DriftSettings {
        global_mode,
        max_repairs: v.number("CIRCUIT_MAX_REPAIRS").map(|n| (n as usize).clamp(1, 20)).unwrap_or(d.max_repairs),
        window: v.number("CIRCUIT_WINDOW_SECONDS").map(Duration::from_secs).unwrap_or(d.window),
        sweep_concurrency: v
            .number("SWEEP_CONCURRENCY")
            .map(|n| (n as usize).clamp(1, 32))
            .unwrap_or(d.sweep_concurrency),
        own_role: v.text("GUARD_EXECUTION_ROLE_NAME"),
        function_name: v.text("AWS_LAMBDA_FUNCTION_NAME"),
        region: v.text("AWS_REGION").or_else(|| v.text("AWS_DEFAULT_REGION")).unwrap_or(d.region),
        // Read once with the reconciler's copy, in `from_vars`.
        ipv6_cni_policy: None,
        recheck_after: v
            .number("EVENT_RECHECK_MS")
            .map(|n| Duration::from_millis(n.min(10_000)))
            .unwrap_or(d.recheck_after),
    }
}

/// `RUST_LOG` when it parses, else `AWS_LAMBDA_LOG_LEVEL` (the function's ApplicationLogLevel), else `info`.
fn log_filter(v: &mut Vars) -> String {
    if let Some(f) = v.text("RUST_LOG") {
        if tracing_subscriber::EnvFilter::try_new(&f).is_ok() {
            return f;
        }
        v.problems.push(format!("RUST_LOG='{f}' is not a log filter: AWS_LAMBDA_LOG_LEVEL or info is used"));
    }
    v.text("AWS_LAMBDA_LOG_LEVEL").map(|l| l.to_lowercase()).unwrap_or_else(|| "info".into())
}

/// `ADOPTABLE_ROLE_NAMES` and `ALLOWED_ADDITIONAL_POLICY_ARNS` (unset: the defaults, in the partition), and
/// `ALLOWED_PERMISSIONS_BOUNDARY_ARNS` (unset: none), `ROLE_PATH_PREFIX` and `ROLE_NAME_PREFIX` (the scope).
fn adoption(v: &mut Vars, partition: Partition, own_role: Option<String>) -> Allowances {
    let allowed: BTreeSet<PolicyArn> = match (v.get)("ALLOWED_ADDITIONAL_POLICY_ARNS") {
        Some(list) => v.policies("ALLOWED_ADDITIONAL_POLICY_ARNS", &list),
        None => DEFAULT_ALLOWED_ADDITIONAL.iter().map(|n| PolicyArn::aws_managed(partition, n)).collect(),
    };
    for p in allowed.iter().filter(|p| p.partition() != partition) {
        v.problems.push(format!(
            "ALLOWED_ADDITIONAL_POLICY_ARNS names {} outside this partition ({partition}): it can never be attached here",
            p.as_str()
        ));
    }
    let adoptable = v.text("ADOPTABLE_ROLE_NAMES").unwrap_or_else(|| DEFAULT_ADOPTABLE.to_string());
    let mut rules = Allowances::new(&adoptable, allowed, own_role);
    rules.path_prefix = v.text("ROLE_PATH_PREFIX").unwrap_or_else(|| "/".into());
    rules.name_prefix = v.text("ROLE_NAME_PREFIX").unwrap_or_default();
    rules.reserved_tag_prefixes = v
        .text("RESERVED_TAG_PREFIXES")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    let boundaries = v.text("ALLOWED_PERMISSIONS_BOUNDARY_ARNS").unwrap_or_default();
    rules.allowed_boundaries = v.policies("ALLOWED_PERMISSIONS_BOUNDARY_ARNS", &boundaries);
    rules
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Settings {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_vars(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = from(&[("STATE_TABLE_NAME", "t")]);
        assert_eq!(s.drift.global_mode, RemediationMode::Enforce);
        assert_eq!((s.drift.max_repairs, s.drift.window, s.drift.sweep_concurrency), (5, Duration::from_secs(3600), 8));
        assert_eq!(s.drift.recheck_after, Duration::from_secs(2));
        assert_eq!(from(&[("EVENT_RECHECK_MS", "60000")]).drift.recheck_after, Duration::from_secs(10), "bounded");
        assert_eq!(s.cfn.margin, Duration::from_secs(5));
        assert!(!s.cfn.allow_insecure_response_url);
        assert_eq!(s.notify_bus.as_deref(), Some("default"));
        assert_eq!(s.metrics_namespace, "EksNodeRoleGuard");
        assert!(s.adoption.is_adoptable_name("AmazonEKSNodeRole"));
        assert_eq!(s.adoption.allowed_additional.len(), 2);
        assert!(s.problems.is_empty(), "{:?}", s.problems);
    }

    #[test]
    fn an_unreadable_kill_switch_turns_repair_off_and_says_so() {
        let s = from(&[("STATE_TABLE_NAME", "t"), ("REMEDIATION_MODE", "enforrce")]);
        assert_eq!(s.drift.global_mode, RemediationMode::Off);
        assert!(s.problems[0].contains("drift repair is off"), "{:?}", s.problems);
    }

    #[test]
    fn bad_values_fall_back_and_are_reported_bounds_are_kept() {
        let s = from(&[
            ("CIRCUIT_MAX_REPAIRS", "500"),
            ("SWEEP_CONCURRENCY", "many"),
            ("IPV6_CNI_POLICY_ARN", "not-an-arn"),
            ("ALLOWED_ADDITIONAL_POLICY_ARNS", "arn:aws-cn:iam::aws:policy/A, ,bad"),
            ("NOTIFY_EVENT_BUS", "OFF"),
            ("AWS_REGION", "cn-north-1"),
        ]);
        assert_eq!(s.drift.max_repairs, 20);
        assert_eq!(s.drift.sweep_concurrency, 8);
        assert_eq!(s.ipv6_cni_policy, None);
        assert_eq!(s.drift.ipv6_cni_policy, None);
        assert_eq!(s.adoption.allowed_additional.len(), 1);
        assert_eq!(s.notify_bus, None);
        assert_eq!(s.partition(), Partition::AwsCn);
        assert_eq!(s.problems.len(), 4, "{:?}", s.problems);
        assert!(s.problems.iter().any(|p| p.contains("STATE_TABLE_NAME")));
    }

    #[test]
    fn an_unreadable_log_filter_falls_back_to_the_lambda_log_level() {
        let s = from(&[("STATE_TABLE_NAME", "t"), ("RUST_LOG", "info,[broken"), ("AWS_LAMBDA_LOG_LEVEL", "WARN")]);
        assert_eq!(s.log_filter, "warn");
        assert!(s.problems[0].contains("RUST_LOG"), "{:?}", s.problems);
        assert_eq!(from(&[("RUST_LOG", "eks_node_role_guard=debug")]).log_filter, "eks_node_role_guard=debug");
    }

    #[test]
    fn the_installations_ipv6_cni_policy_is_known_to_the_event_routing_too() {
        let arn = "arn:aws:iam::123456789012:policy/guard-AmazonEKS_CNI_IPv6_Policy";
        let s = from(&[("STATE_TABLE_NAME", "t"), ("IPV6_CNI_POLICY_ARN", arn)]);
        assert_eq!(s.ipv6_cni_policy.as_ref().map(|p| p.as_str()), Some(arn));
        assert_eq!(s.drift.ipv6_cni_policy.as_ref().map(|p| p.as_str()), Some(arn));
    }

    #[test]
    fn boundaries_are_allowed_only_when_listed_and_foreign_partition_policies_are_reported() {
        assert!(from(&[("STATE_TABLE_NAME", "t")]).adoption.allowed_boundaries.is_empty(), "unset: none");
        let s = from(&[
            ("STATE_TABLE_NAME", "t"),
            ("AWS_REGION", "cn-north-1"),
            ("ALLOWED_PERMISSIONS_BOUNDARY_ARNS", "arn:aws-cn:iam::123456789012:policy/Boundary, "),
            ("ALLOWED_ADDITIONAL_POLICY_ARNS", "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"),
        ]);
        let b: Vec<&str> = s.adoption.allowed_boundaries.iter().map(|p| p.as_str()).collect();
        assert_eq!(b, ["arn:aws-cn:iam::123456789012:policy/Boundary"]);
        assert_eq!(s.problems.len(), 1, "{:?}", s.problems);
        assert!(s.problems[0].contains("outside this partition (aws-cn)"), "{:?}", s.problems);
    }

    #[test]
    fn the_scope_comes_from_the_template() {
        let s = from(&[("STATE_TABLE_NAME", "t")]);
        assert_eq!((s.adoption.path_prefix.as_str(), s.adoption.name_prefix.as_str()), ("/", ""));
        let s = from(&[("STATE_TABLE_NAME", "t"), ("ROLE_PATH_PREFIX", "/teams/"), ("ROLE_NAME_PREFIX", "eks-")]);
        assert_eq!((s.adoption.path_prefix.as_str(), s.adoption.name_prefix.as_str()), ("/teams/", "eks-"));
    }

    #[test]
    fn the_default_allow_list_follows_the_partition() {
        let s = from(&[("STATE_TABLE_NAME", "t"), ("AWS_REGION", "us-gov-west-1")]);
        assert!(s.adoption.allowed_additional.iter().all(|p| p.as_str().starts_with("arn:aws-us-gov:")));
    }
}
