//! CloudWatch metrics in Embedded Metric Format: plain JSON log lines, no SDK, no extra call.

#[cfg(any(test, feature = "test-util"))]
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
#[cfg(any(test, feature = "test-util"))]
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// The role differed from its desired state.
    DriftDetected,
    /// A repair was applied.
    DriftRepaired,
    /// A repair was attempted and failed.
    RepairFailed,
    /// Repairs of the role stopped: too many within the window.
    CircuitOpen,
    /// A managed role was deleted outside its stack.
    RoleDeleted,
    /// The IPv6 CNI policy is missing or its document is no longer AWS's.
    CniPolicyTampered,
    /// A managed role's stack resource is gone: the role is kept and no longer enforced.
    RoleOrphaned,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::DriftDetected => "DriftDetected",
            Metric::DriftRepaired => "DriftRepaired",
            Metric::RepairFailed => "RepairFailed",
            Metric::CircuitOpen => "CircuitOpen",
            Metric::RoleDeleted => "RoleDeleted",
            Metric::CniPolicyTampered => "CniPolicyTampered",
            Metric::RoleOrphaned => "RoleOrphaned",
        }
    }
}

/// Writes metrics to stdout (where Lambda's log agent picks EMF up); tests can also capture them.
#[derive(Debug, Clone)]
pub struct Metrics {
    namespace: String,
    #[cfg(any(test, feature = "test-util"))]
    captured: Option<Arc<Mutex<Vec<Value>>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new("EksNodeRoleGuard")
    }
}

impl Metrics {
    /// Metrics in `namespace` (`METRICS_NAMESPACE`, default `EksNodeRoleGuard`).
    pub fn new(namespace: &str) -> Self {
        Metrics {
            namespace: namespace.to_string(),
            #[cfg(any(test, feature = "test-util"))]
            captured: None,
        }
    }

    /// Metrics that are also kept in memory (for tests and benchmarks).
    #[cfg(any(test, feature = "test-util"))]
    pub fn capturing() -> Self {
        Metrics { captured: Some(Arc::default()), ..Metrics::default() }
    }

    #[cfg(any(test, feature = "test-util"))]
    pub fn captured(&self) -> Vec<Value> {
        self.captured.as_ref().map(|c| c.lock().unwrap_or_else(|e| e.into_inner()).clone()).unwrap_or_default()
    }

    /// Count of one metric for one role, among the captured records.
    #[cfg(any(test, feature = "test-util"))]
    pub fn count(&self, metric: Metric, role: &str) -> usize {
        self.captured().iter().filter(|r| r["RoleName"] == role && r.get(metric.name()).is_some()).count()
    }

    /// One EMF record: the metric by role, and the same value without dimensions for account-wide alarms.
    pub fn emit(&self, metric: Metric, role: &str) {
        let ts = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
        let record = json!({
            "_aws": {
                "Timestamp": ts,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [["RoleName"], []],
                    "Metrics": [{"Name": metric.name(), "Unit": "Count"}]
                }]
            },
            "RoleName": role,
            metric.name(): 1
        });
        println!("{record}");
        #[cfg(any(test, feature = "test-util"))]
        if let Some(c) = &self.captured {
            c.lock().unwrap_or_else(|e| e.into_inner()).push(record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_embedded_metric_format() {
        let m = Metrics::capturing();
        m.emit(Metric::DriftRepaired, "nodes");
        let r = &m.captured()[0];
        assert_eq!(r["_aws"]["CloudWatchMetrics"][0]["Namespace"], "EksNodeRoleGuard");
        assert_eq!(r["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], "DriftRepaired");
        assert_eq!(r["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["RoleName"], []]));
        assert_eq!(r["DriftRepaired"], 1);
        assert!(r["_aws"]["Timestamp"].as_u64().unwrap() > 1_700_000_000_000);
        assert_eq!(m.count(Metric::DriftRepaired, "nodes"), 1);
        assert_eq!(m.count(Metric::CircuitOpen, "nodes"), 0);
    }
}
