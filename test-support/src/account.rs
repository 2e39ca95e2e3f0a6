//! One scenario language on two backends: an `Account` is where a scenario runs — moto behind the SDK
//! (`Harness`) or the in-memory adapters (`MemoryAccount`), which pass the same contract tests. A scenario that
//! matters on both is written once (`crate::scenarios`) and run twice.

use std::collections::BTreeSet;

use eks_node_role_guard::domain::{policies, Action, PolicyArn, RoleName};
use eks_node_role_guard::metrics::Metrics;
use eks_node_role_guard::state::{Record, StateStore};
use serde_json::{json, Value};

use crate::memory::MemoryAccount;
use crate::{delete, drift_event, request, update, Harness};

/// Where a scenario runs.
#[allow(async_fn_in_trait)]
pub trait Account {
    /// A stack request for resource `logical` as CloudFormation sends it while the stack is in progress
    /// (`physical` for Update and Delete, `old` the properties before an Update); CloudFormation's answer.
    async fn cfn(&self, kind: &str, logical: &str, physical: Option<&str>, props: Value, old: Value) -> Value;
    /// An EventBridge event delivered to the drift trigger; the answer.
    async fn deliver(&self, event: &Value) -> Result<Value, eks_node_role_guard::Error>;
    /// Someone outside the tool detaches a managed policy.
    async fn detach_by_hand(&self, role: &str, policy: &PolicyArn);
    /// The names of the managed policies attached to `role` (empty when it does not exist).
    async fn attached(&self, role: &str) -> BTreeSet<String>;
    /// The role's trust policy, if it exists.
    async fn trust(&self, role: &str) -> Option<Value>;
    /// The instance profiles `role` is in.
    async fn profiles_of(&self, role: &str) -> Vec<String>;
    /// The role's state item.
    async fn record(&self, role: &str) -> Option<Record>;
    fn metrics(&self) -> &Metrics;

    async fn create(&self, logical: &str, props: Value) -> Answer {
        Answer(self.cfn("Create", logical, None, props, Value::Null).await)
    }

    async fn delete(&self, logical: &str, physical: &str, props: Value) -> Answer {
        Answer(self.cfn("Delete", logical, Some(physical), props, Value::Null).await)
    }

    /// CloudTrail's event for `event_name` about `role` (as made by someone else); the outcome for the role.
    async fn event(&self, event_name: &str, role: &str) -> String {
        let mut e = drift_event("drift-detach-role-policy.json", role);
        e["detail"]["eventName"] = json!(event_name);
        let out = self.deliver(&e).await.expect("delivered");
        out["outcomes"][0]["outcome"].as_str().or(out["outcome"].as_str()).unwrap_or("?").to_string()
    }
}

/// CloudFormation's answer to a request.
#[derive(Debug, Clone)]
pub struct Answer(pub Value);

impl Answer {
    /// SUCCESS, or the test fails with the answer.
    pub fn assert_success(self) -> Value {
        assert_eq!(self.0["Status"], "SUCCESS", "{}", self.0);
        self.0
    }

    /// FAILED, or the test fails with the answer; the Reason.
    pub fn assert_failed(self) -> String {
        assert_eq!(self.0["Status"], "FAILED", "{}", self.0);
        self.0["Reason"].as_str().unwrap_or_default().to_string()
    }
}

impl Account for Harness {
    async fn cfn(&self, kind: &str, logical: &str, physical: Option<&str>, props: Value, old: Value) -> Value {
        let url = self.url();
        let req = match (kind, physical) {
            ("Update", Some(p)) => update(logical, p, props, old, &url),
            ("Delete", Some(p)) => delete(logical, p, props, &url),
            _ => request(kind, logical, props, &url),
        };
        self.send(&req).await
    }

    async fn deliver(&self, event: &Value) -> Result<Value, eks_node_role_guard::Error> {
        Harness::deliver(self, event).await
    }

    async fn detach_by_hand(&self, role: &str, policy: &PolicyArn) {
        self.detach(role, policy.as_str()).await;
    }

    async fn attached(&self, role: &str) -> BTreeSet<String> {
        Harness::attached(self, role).await
    }

    async fn trust(&self, role: &str) -> Option<Value> {
        match self.role(role).await {
            Some(_) => Some(Harness::trust(self, role).await),
            None => None,
        }
    }

    async fn profiles_of(&self, role: &str) -> Vec<String> {
        Harness::profiles_of(self, role).await
    }

    async fn record(&self, role: &str) -> Option<Record> {
        Harness::record(self, role).await
    }

    fn metrics(&self) -> &Metrics {
        &self.app.metrics
    }
}

impl Account for MemoryAccount {
    async fn cfn(&self, kind: &str, logical: &str, physical: Option<&str>, props: Value, old: Value) -> Value {
        MemoryAccount::cfn(self, kind, logical, physical, props, old).await
    }

    async fn deliver(&self, event: &Value) -> Result<Value, eks_node_role_guard::Error> {
        MemoryAccount::deliver(self, event).await
    }

    async fn detach_by_hand(&self, role: &str, policy: &PolicyArn) {
        self.iam.outside(role, &Action::DetachPolicy(policy.clone())).expect("detached by hand");
    }

    async fn attached(&self, role: &str) -> BTreeSet<String> {
        self.iam.role(role).map(|r| r.attached.iter().map(|p| p.name().to_string()).collect()).unwrap_or_default()
    }

    async fn trust(&self, role: &str) -> Option<Value> {
        self.iam.role(role).and_then(|r| r.trust)
    }

    async fn profiles_of(&self, role: &str) -> Vec<String> {
        self.iam.role(role).map(|r| r.instance_profiles.into_iter().map(|p| p.name).collect()).unwrap_or_default()
    }

    async fn record(&self, role: &str) -> Option<Record> {
        self.store.get(&RoleName::parse(role).unwrap()).await.unwrap()
    }

    fn metrics(&self) -> &Metrics {
        &self.app.metrics
    }
}

/// The procedure's EC2 trust policy, in the commercial partition.
pub fn ec2_trust() -> Value {
    policies::ec2_trust_policy(eks_node_role_guard::domain::Partition::Aws)
}
