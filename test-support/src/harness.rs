//! The function wired to moto and a local ResponseURL (`Harness`), as `main` wires it to AWS, and the operator's
//! declarations the tests run with.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use eks_node_role_guard::app::{App, Handled, Invocation};
use eks_node_role_guard::cfn::confirm::{Identity, IdentitySource};
use eks_node_role_guard::cfn::response::{ResponseSender, SendPolicy};
use eks_node_role_guard::cfn::{self, CfnSettings};
use eks_node_role_guard::domain::reach::Allowances;
use eks_node_role_guard::domain::{Partition, RoleName};
use eks_node_role_guard::iam::{CallCounter, IamSettings, SdkIam};
use eks_node_role_guard::metrics::Metrics;
use eks_node_role_guard::reconcile::repair::DriftSettings;
use eks_node_role_guard::reconcile::Reconciler;
use eks_node_role_guard::stacks::SdkStacks;

use crate::cfn_model::CfnModel;
use crate::fault_proxy::FaultProxy;
use eks_node_role_guard::state::{DynamoStore, Record, StateStore};
use serde_json::{json, Value};

use crate::*;

/// The operator's declarations the tests run with: the defaults, the test execution role as the function's own.
/// Besides the procedure's names: the names these tests give the roles they adopt.
pub const ADOPTABLE: &str = "eksNodeRole,AmazonEKSNodeRole,NodeInstanceRole,legacy-*,old-nodes,eks-managed-*";

/// The permissions boundary the operator allows in these tests (AllowedPermissionsBoundaryArns).
pub const BOUNDARY: &str = "PowerUserAccess";

/// How long the function waits before it reads a role again whose first read did not show the event's change:
/// moto is consistent unless the layer's lag is on, so shorter than in production.
pub const RECHECK_AFTER: Duration = Duration::from_millis(300);

pub fn rules() -> Allowances {
    let mut r = Allowances::defaults(Partition::Aws);
    r.adoptable = Allowances::new(ADOPTABLE, Default::default(), None).adoptable;
    r.own_role = Some(OWN_ROLE.into());
    // Allowed by the operator but absent from IAM: the attach fails half-way, as a cleanup test needs.
    for name in ["ReadOnlyAccess", "DoesNotExist"] {
        r.allowed_additional.insert(eks_node_role_guard::domain::PolicyArn::aws_managed(Partition::Aws, name));
    }
    r.allowed_boundaries.insert(eks_node_role_guard::domain::PolicyArn::aws_managed(Partition::Aws, BOUNDARY));
    r
}

pub fn identity() -> Identity {
    Identity::from_function_arn(FUNCTION_ARN).unwrap()
}

pub type GuardReconciler = Reconciler<SdkIam, DynamoStore>;
/// An invocation with `left` to run, under the function ARN the requests name, logging to `test-log-stream`.
pub fn invocation(left: Duration) -> Invocation {
    Invocation { log_stream: "test-log-stream".into(), ..Invocation::with_time_left(left, "function-arn") }
}

/// An EventBridge event handled by `app` in this process, answered as the runtime would receive it.
pub async fn deliver_to<I, S, C>(
    app: &App<I, S, C>,
    event: &Value,
    left: Duration,
) -> Result<Value, eks_node_role_guard::Error>
where
    I: eks_node_role_guard::iam::NodeRoleIam,
    S: StateStore,
    C: eks_node_role_guard::stacks::Stacks,
{
    let answer = eks_node_role_guard::eventbridge::handle(event, app, &invocation(left)).await?;
    Ok(serde_json::to_value(Handled::Eventbridge(answer)).expect("an answer serialises"))
}

/// The function's one context, on moto.
pub type GuardApp = App<SdkIam, DynamoStore, SdkStacks>;

/// A reconciler with `iam` (maybe through a fault proxy) and the state table on `store_endpoint`.
pub fn reconciler(iam: aws_sdk_iam::Client, store_endpoint: &str) -> GuardReconciler {
    reconciler_with(iam, store_endpoint, &IamSettings::default())
}

pub fn reconciler_with(iam: aws_sdk_iam::Client, store_endpoint: &str, settings: &IamSettings) -> GuardReconciler {
    let ddb = aws_sdk_dynamodb::Client::new(&shared_config_with(store_endpoint, settings));
    Reconciler::new(SdkIam::new(iam), DynamoStore::new(ddb, TABLE), rules(), None)
}

/// How long an IAM write holds its role or instance profile in the harness (`FaultProxy::behave_like_iam`):
/// writes the function sends at once overlap, and IAM's 409 answers them as it would.
pub const IAM_WRITE_TIME: Duration = Duration::from_millis(15);

/// The custom-resource handler wired to moto (IAM, DynamoDB, CloudFormation) and a local ResponseURL, as
/// `main` wires it to AWS. The function's AWS calls go through `aws`, a proxy that behaves like IAM where moto
/// does not (overlapping writes to one entity are refused with 409 `ConcurrentModification`); the test's own
/// set-up and checks (`iam`, `store`) go to moto directly.
pub struct Harness {
    pub moto: Moto,
    /// The function's way to moto: IAM as it behaves (see `FaultProxy::behave_like_iam`), faults on demand.
    pub aws: FaultProxy,
    /// CloudFormation as it reports a custom resource (`cfn_model`), for the stacks a test puts in it
    /// (`modelled_stack`); the function asks it through `cfn_proxy` (in process) or `aws` (the binary).
    pub model: CfnModel,
    pub cfn_proxy: FaultProxy,
    pub iam: aws_sdk_iam::Client,
    /// The function's context, wired to moto (`Deref`: `h.reconciler`, `h.drift`, `h.metrics`…).
    pub app: GuardApp,
    /// The state table the reconciler writes, for tests that play someone with table access.
    pub store: DynamoStore,
    pub listener: ResponseListener,
    pub calls: CallCounter,
    /// LogicalResourceId → the moto stack holding it.
    stack_ids: Mutex<BTreeMap<String, String>>,
    /// `Harness::deployed`: the built binary under the Runtime API emulator receives every request and event.
    pub binary: Option<(Emulator, Function)>,
}

impl std::ops::Deref for Harness {
    type Target = GuardApp;
    fn deref(&self) -> &GuardApp {
        &self.app
    }
}

impl std::ops::DerefMut for Harness {
    fn deref_mut(&mut self) -> &mut GuardApp {
        &mut self.app
    }
}

impl Harness {
    pub async fn new() -> Harness {
        // TEST_LOG=1 shows the tool's logs (text) while investigating a test.
        if std::env::var("TEST_LOG").is_ok() {
            let _ = tracing_subscriber::fmt().with_env_filter("info").with_test_writer().try_init();
        }
        let moto = Moto::start();
        let endpoint = moto.endpoint();
        prepare(&endpoint).await;
        let aws = FaultProxy::start(moto.port).await;
        aws.behave_like_iam(IAM_WRITE_TIME);
        let (model, cfn_proxy) = (CfnModel::default(), FaultProxy::start(moto.port).await);
        aws.answer_from(&model);
        cfn_proxy.answer_from(&model);
        let calls = CallCounter::default();
        let client = client_for(&aws.endpoint(), &IamSettings::default(), Some(calls.clone()));
        Harness {
            iam: moto.client(),
            app: App {
                reconciler: reconciler(client, &endpoint),
                stacks: SdkStacks::new(aws_sdk_cloudformation::Client::new(&shared_config(&cfn_proxy.endpoint()))),
                identity: IdentitySource::fixed(identity()),
                sender: ResponseSender::new(SendPolicy {
                    initial_backoff: Duration::from_millis(20),
                    ..SendPolicy::default()
                }),
                cfn: CfnSettings {
                    margin: Duration::from_secs(2),
                    allow_insecure_response_url: true,
                    function_timeout: None,
                },
                drift: DriftSettings {
                    own_role: Some(OWN_ROLE.into()),
                    function_name: Some("eks-node-role-guard".into()),
                    recheck_after: RECHECK_AFTER,
                    ..DriftSettings::default()
                },
                metrics: Metrics::capturing(),
                notifier: Notifier::capturing(),
            },
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&shared_config(&endpoint)), TABLE),
            listener: ResponseListener::start().await,
            calls,
            aws,
            model,
            cfn_proxy,
            moto,
            stack_ids: Mutex::default(),
            binary: None,
        }
    }

    /// The same, with the released binary as the function: requests and events go through the cargo-lambda
    /// Runtime API emulator, the function finds its own account through STS and its settings in its environment.
    pub async fn deployed(extra_env: &[(&str, &str)]) -> Harness {
        let mut h = Harness::new().await;
        let emulator = Emulator::start();
        let allowed = h.reconciler.rules.allowed_additional.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(",");
        let recheck = RECHECK_AFTER.as_millis().to_string();
        let mut env =
            vec![("ALLOWED_ADDITIONAL_POLICY_ARNS", allowed.as_str()), ("EVENT_RECHECK_MS", recheck.as_str())];
        env.extend_from_slice(extra_env);
        let function = Function::start(&emulator.runtime_api(), &h.aws.endpoint(), &env);
        h.binary = Some((emulator, function));
        h
    }

    pub fn logs(&self) -> String {
        self.binary.as_ref().map(|(_, f)| f.logs()).unwrap_or_default()
    }

    /// The function's context with another reconciler and CloudFormation settings (faulty clients, a short
    /// margin), the rest as the harness has it.
    pub fn app_with(&self, reconciler: GuardReconciler, cfn: CfnSettings) -> GuardApp {
        App { reconciler, cfn, ..self.app.clone() }
    }

    /// The stack (in the model, creating it) that holds resource `logical_id`, made on first use.
    pub async fn stack_for(&self, logical_id: &str) -> String {
        if let Some(id) = self.stack_ids.lock().unwrap().get(logical_id) {
            return id.clone();
        }
        let n = self.stack_ids.lock().unwrap().len();
        let name = if n == 0 { "prod-eks".to_string() } else { format!("prod-eks{}", n + 1) };
        let id = self.modelled_stack(&name, logical_id);
        self.stack_ids.lock().unwrap().insert(logical_id.to_string(), id.clone());
        id
    }

    /// A stack in the model, creating `logical`: its StackId (this account and region, not in moto).
    pub fn modelled_stack(&self, name: &str, logical: &str) -> String {
        let id = format!(
            "arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/6f1e2d3c-0000-4000-8000-{:012x}",
            uuid_tail(name)
        );
        self.model.creating(&id, logical);
        id
    }

    /// `req` aimed at the stack of its resource (the placeholder StackId replaced).
    pub async fn aimed(&self, req: &Value) -> Value {
        let mut req = req.clone();
        if req["StackId"] == STACK_ID {
            let logical = req["LogicalResourceId"].as_str().unwrap_or("NodeRole").to_string();
            req["StackId"] = json!(self.stack_for(&logical).await);
        }
        req
    }

    /// The state item of `role`, as the function wrote it.
    pub async fn record(&self, role: &str) -> Option<Record> {
        self.store.get(&RoleName::parse(role).unwrap()).await.unwrap()
    }

    /// Delivers an EventBridge event to the drift trigger.
    pub async fn deliver(&self, event: &Value) -> Result<Value, eks_node_role_guard::Error> {
        if let Some((emulator, _)) = &self.binary {
            let out = invoke(emulator.port, event.to_string().as_bytes()).await;
            return match out.get("errorMessage") {
                Some(m) => Err(eks_node_role_guard::Error::invalid(m)),
                None => Ok(out),
            };
        }
        deliver_to(&self.app, event, Duration::from_secs(60)).await
    }

    /// Delivers and returns the single outcome label for `role`.
    pub async fn outcome(&self, event: &Value, role: &str) -> String {
        let out = self.deliver(event).await.expect("delivered");
        if let Some(o) = out["outcomes"].as_array() {
            o.iter()
                .find(|r| r["role"] == role)
                .map(|r| r["outcome"].as_str().unwrap().to_string())
                .unwrap_or_else(|| format!("no outcome for {role}: {out}"))
        } else {
            out["outcome"].as_str().unwrap_or("?").to_string()
        }
    }

    pub async fn detach(&self, role: &str, policy_arn: &str) {
        self.iam.detach_role_policy().role_name(role).policy_arn(policy_arn).send().await.unwrap();
    }

    /// Sends a request (aimed at its stack) through the handler and returns the response CloudFormation would
    /// have received. The model shows the stack and the resource as CloudFormation does while it sends such a
    /// request (`cfn_model::sending`), and records the answer as CloudFormation would.
    pub async fn send(&self, req: &Value) -> Value {
        let req = self.aimed(req).await;
        let (stack, logical, kind) = (
            req["StackId"].as_str().unwrap_or_default(),
            req["LogicalResourceId"].as_str().unwrap_or_default(),
            req["RequestType"].as_str().unwrap_or_default(),
        );
        let modelled = self.model.has(stack);
        if modelled {
            self.model.send_phase(stack, logical, kind, req["PhysicalResourceId"].as_str());
        }
        let answer = self.send_as_is(&req).await;
        if modelled {
            self.model.answered(stack, logical, kind, &answer);
        }
        answer
    }

    /// Sends a request exactly as given (no stack made for it).
    pub async fn send_as_is(&self, req: &Value) -> Value {
        let before = self.listener.accepted().len();
        match &self.binary {
            Some((emulator, _)) => {
                invoke(emulator.port, req.to_string().as_bytes()).await;
            }
            None => {
                cfn::handle(req, &self.app, &invocation(Duration::from_secs(60))).await;
            }
        }
        let accepted = self.listener.accepted();
        assert_eq!(accepted.len(), before + 1, "exactly one accepted response per request");
        accepted.last().unwrap().json()
    }

    pub fn url(&self) -> String {
        self.listener.url()
    }

    pub async fn create(&self, logical: &str, props: Value) -> Value {
        self.send(&request("Create", logical, props, &self.url())).await
    }

    pub async fn attached(&self, role: &str) -> BTreeSet<String> {
        self.iam
            .list_attached_role_policies()
            .role_name(role)
            .send()
            .await
            .unwrap()
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_name().map(str::to_string))
            .collect()
    }

    pub async fn role(&self, role: &str) -> Option<aws_sdk_iam::types::Role> {
        match self.iam.get_role().role_name(role).send().await {
            Ok(o) => o.role,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_entity_exception()) => None,
            Err(e) => panic!("GetRole {role}: {e:?}"),
        }
    }

    pub async fn tags(&self, role: &str) -> BTreeMap<String, String> {
        self.role(role)
            .await
            .map(|r| r.tags().iter().map(|t| (t.key.clone(), t.value.clone())).collect())
            .unwrap_or_default()
    }

    pub async fn tag(&self, role: &str, tags: &[(&str, &str)]) {
        let tags: Vec<aws_sdk_iam::types::Tag> =
            tags.iter().map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(*k).value(*v).build().unwrap()).collect();
        self.iam.tag_role().role_name(role).set_tags(Some(tags)).send().await.unwrap();
    }

    pub async fn trust(&self, role: &str) -> Value {
        let doc = self.role(role).await.unwrap().assume_role_policy_document.unwrap();
        eks_node_role_guard::domain::policies::parse_document(&doc).unwrap()
    }

    pub async fn profiles_of(&self, role: &str) -> Vec<String> {
        self.iam
            .list_instance_profiles_for_role()
            .role_name(role)
            .send()
            .await
            .map(|o| o.instance_profiles.into_iter().map(|p| p.instance_profile_name).collect())
            .unwrap_or_default()
    }

    pub async fn profile_exists(&self, name: &str) -> bool {
        self.iam.get_instance_profile().instance_profile_name(name).send().await.is_ok()
    }

    pub async fn policy_exists(&self, arn: &str) -> bool {
        self.iam.get_policy().policy_arn(arn).send().await.is_ok()
    }

    /// Creates the account's IPv6 CNI policy with `document` (AWS's, unless a test tampers with it).
    pub async fn make_ipv6_policy(&self, document: &Value) -> String {
        self.make_policy("AmazonEKS_CNI_IPv6_Policy", document).await
    }

    /// Creates a customer managed policy; returns its ARN.
    pub async fn make_policy(&self, name: &str, document: &Value) -> String {
        self.iam
            .create_policy()
            .policy_name(name)
            .policy_document(document.to_string())
            .send()
            .await
            .unwrap()
            .policy
            .unwrap()
            .arn
            .unwrap()
    }

    /// Every role but the moto function's own.
    pub async fn roles(&self) -> Vec<String> {
        let roles = self.iam.list_roles().send().await.unwrap().roles;
        roles.into_iter().map(|r| r.role_name).filter(|n| n != OWN_ROLE).collect()
    }

    /// A role made outside the tool, with a trust policy and attached policies.
    pub async fn make_role(&self, name: &str, trusted_service: &str, policies: &[&str]) {
        let trust = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":trusted_service},"Action":"sts:AssumeRole"}]});
        self.iam.create_role().role_name(name).assume_role_policy_document(trust.to_string()).send().await.unwrap();
        for p in policies {
            self.iam.attach_role_policy().role_name(name).policy_arn(*p).send().await.unwrap();
        }
    }
}

/// A stable 48-bit tail for a stack's id, different for different names.
fn uuid_tail(name: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    h & 0xffff_ffff_ffff
}

/// A harness that drove the released binary checks, as it ends, that real IAM would have allowed every call the
/// function made (`crate::authorize`): the template's policies, rendered for the function's settings.
impl Drop for Harness {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        if let Some((_, function)) = &self.binary {
            crate::authorize::assert_authorized(&self.aws, &function.env);
        }
    }
}
