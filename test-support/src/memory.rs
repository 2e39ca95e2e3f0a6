//! One account on the in-memory adapters — IAM, the state table, CloudFormation — with the function's triggers
//! wired as in production and a real ResponseURL listener. The adapters pass the same contract tests as moto.

use std::time::Duration;

use eks_node_role_guard::app::App;
use eks_node_role_guard::cfn::confirm::{Identity, IdentitySource};
use eks_node_role_guard::cfn::response::{ResponseSender, SendPolicy};
use eks_node_role_guard::cfn::{self, CfnSettings};
use eks_node_role_guard::domain::reach::Allowances;
use eks_node_role_guard::iam::MemoryIam;
use eks_node_role_guard::metrics::Metrics;
use eks_node_role_guard::notify::Notifier;
use eks_node_role_guard::reconcile::repair::DriftSettings;
use eks_node_role_guard::reconcile::Reconciler;
use eks_node_role_guard::stacks::MemoryStacks;
use eks_node_role_guard::state::MemoryStore;
use serde_json::{json, Value};

use super::ResponseListener;

/// The stack every in-memory request comes from (stack name `prod`).
pub const MEMORY_STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/prod/guid";
pub const MEMORY_TOKEN: &str = "arn:aws:lambda:us-east-1:123456789012:function:guard";
/// The function's execution role: events it made are its own calls.
pub const MEMORY_OWN_ROLE: &str = "guard-role";
const TIME_LEFT: Duration = Duration::from_secs(30);

pub struct MemoryAccount {
    /// The function's context on the in-memory adapters (`Deref`: `w.reconciler`, `w.drift`, `w.metrics`…).
    pub app: App<MemoryIam, MemoryStore, MemoryStacks>,
    pub iam: MemoryIam,
    /// The state table the reconciler writes, for tests that play someone with table access.
    pub store: MemoryStore,
    pub listener: ResponseListener,
    /// What `DescribeStacks` says of the stack when a test overrides CloudFormation's phase (a forged request,
    /// a completed stack); `None`: the phase the request is sent in (`test_support::cfn_model::sending`).
    pub stack_status: std::sync::Mutex<Option<&'static str>>,
    /// The id each resource holds: the provider's last answer.
    held: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl std::ops::Deref for MemoryAccount {
    type Target = App<MemoryIam, MemoryStore, MemoryStacks>;
    fn deref(&self) -> &Self::Target {
        &self.app
    }
}

impl std::ops::DerefMut for MemoryAccount {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.app
    }
}

impl MemoryAccount {
    pub async fn new(rules: Allowances) -> MemoryAccount {
        let iam = MemoryIam::new();
        let store = MemoryStore::new();
        MemoryAccount {
            app: App {
                reconciler: Reconciler::new(iam.clone(), store.clone(), rules, None),
                stacks: MemoryStacks::default(),
                identity: IdentitySource::fixed(Identity::from_function_arn(MEMORY_TOKEN).unwrap()),
                sender: ResponseSender::new(SendPolicy {
                    initial_backoff: Duration::from_millis(5),
                    ..Default::default()
                }),
                cfn: CfnSettings {
                    margin: Duration::from_secs(1),
                    allow_insecure_response_url: true,
                    function_timeout: None,
                },
                drift: DriftSettings {
                    own_role: Some(MEMORY_OWN_ROLE.into()),
                    // The memory IAM is consistent: a second read only finds what the first did.
                    recheck_after: Duration::from_millis(5),
                    ..DriftSettings::default()
                },
                metrics: Metrics::capturing(),
                notifier: Notifier::capturing(),
            },
            iam,
            store,
            listener: ResponseListener::start().await,
            stack_status: std::sync::Mutex::new(None),
            held: Default::default(),
        }
    }

    /// A request for the stack resource `logical`, as CloudFormation sends it while the stack is in progress:
    /// `physical` for Update and Delete, `old` the properties before an Update. Returns the answer.
    pub async fn cfn(&self, kind: &str, logical: &str, physical: Option<&str>, props: Value, old: Value) -> Value {
        let held = self.held.lock().unwrap().get(logical).cloned();
        let phase = crate::cfn_model::sending(kind, physical, held.as_deref());
        let status = self.stack_status.lock().unwrap().unwrap_or(phase.stack_status);
        self.stacks.set(MEMORY_STACK, status, &[(logical, "Custom::EksNodeRole")]);
        self.stacks.set_resource_status(MEMORY_STACK, logical, phase.resource_status);
        if let Some(p) = &phase.physical_id {
            self.stacks.set_physical_id(MEMORY_STACK, logical, p);
        }
        let mut req = json!({"RequestType": kind, "ServiceToken": MEMORY_TOKEN, "ResponseURL": self.listener.url(),
            "StackId": MEMORY_STACK, "RequestId": format!("{kind}-{}", self.listener.count()),
            "ResourceType": "Custom::EksNodeRole", "LogicalResourceId": logical, "ResourceProperties": props});
        if let Some(p) = physical {
            req["PhysicalResourceId"] = json!(p);
        }
        if kind == "Update" {
            req["OldResourceProperties"] = old;
        }
        cfn::handle(&req, &self.app, &eks_node_role_guard::app::Invocation::with_time_left(TIME_LEFT, "")).await;
        let answer = self.listener.last();
        // CloudFormation keeps a Create's id (SUCCESS or FAILED) and a successful Update's.
        let kept = kind == "Create" || (kind == "Update" && answer["Status"] == "SUCCESS");
        if let (true, Some(id)) = (kept, answer["PhysicalResourceId"].as_str()) {
            self.held.lock().unwrap().insert(logical.to_string(), id.to_string());
        }
        answer
    }

    /// Delivers an EventBridge event to the drift trigger.
    pub async fn deliver(&self, ev: &Value) -> Result<Value, eks_node_role_guard::Error> {
        super::deliver_to(&self.app, ev, TIME_LEFT).await
    }
}
