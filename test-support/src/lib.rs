//! The test infrastructure both members' tests share (a dev-only workspace member): a moto server per test, a
//! real HTTP listener standing in for the ResponseURL, the fault proxy, the Runtime API emulator and stub, the
//! request builders, and the function wired to moto (`Harness`) or to the in-memory adapters
//! (`memory::MemoryAccount`). Everything started here is stopped by process id when its guard drops, pass or
//! fail.

pub mod fault_proxy;
pub mod http;
pub mod memory;
pub mod runtime_stub;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_iam::config::{Credentials, Region};
use eks_node_role_guard::app::{App, Handled, Invocation};
use eks_node_role_guard::cfn::confirm::{Identity, IdentitySource};
use eks_node_role_guard::cfn::response::{ResponseSender, SendPolicy};
use eks_node_role_guard::cfn::{self, CfnSettings};
use eks_node_role_guard::domain::adoption::AdoptionRules;
use eks_node_role_guard::domain::{Partition, RoleName};
use eks_node_role_guard::iam::{http_client, CallCounter, IamSettings, SdkIam};
use eks_node_role_guard::metrics::Metrics;
pub use eks_node_role_guard::notify::Notifier;
use eks_node_role_guard::reconcile::repair::DriftSettings;
use eks_node_role_guard::reconcile::Reconciler;
use eks_node_role_guard::stacks::SdkStacks;
use eks_node_role_guard::state::{DynamoStore, Record, StateStore};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

pub const ACCOUNT: &str = "123456789012";
/// A placeholder StackId: `Harness::send` replaces it with the moto stack that holds the request's resource.
pub const STACK_ID: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/prod-eks/5b6e4a40-0e1c-11ef-9d2b-0a1b2c3d4e5f";
pub const TABLE: &str = "eks-node-role-guard-state";
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:eks-node-role-guard";

/// The repository's root (this crate is one folder below it).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("the repository root").to_path_buf()
}

/// The function's binary as the running test's build made it: nextest names it; otherwise it sits beside the
/// `deps` folder that holds the test executable.
pub fn guard_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("NEXTEST_BIN_EXE_eks-node-role-guard") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("the test executable");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    profile_dir.join("eks-node-role-guard")
}

pub fn venv_bin(name: &str) -> PathBuf {
    let p = repo().join(".venv/bin").join(name);
    assert!(p.exists(), "{} is missing: run scripts/setup.sh first", p.display());
    p
}

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").expect("bind a free port").local_addr().unwrap().port()
}

/// A child process killed (by pid) and reaped when dropped.
pub struct Guarded(pub Child);

impl Drop for Guarded {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a server on a free loopback port and waits until it (not another test's server that took the same port
/// meanwhile) accepts connections; another port is tried if it exits first or someone else holds the port.
fn spawn_listening(what: &str, wait: Duration, command: impl Fn(u16) -> Command) -> (u16, Guarded) {
    for _ in 0..8 {
        let port = free_port();
        let child = command(port).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
        let mut guard = Guarded(child.unwrap_or_else(|e| panic!("start {what}: {e}")));
        let started = Instant::now();
        while started.elapsed() < wait {
            if let Ok(Some(_)) = guard.0.try_wait() {
                break;
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                match listener_owner(port, guard.0.id()) {
                    Owner::Ours | Owner::Unknown => return (port, guard),
                    Owner::Theirs => break,
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("{what} did not start");
}

#[derive(Debug, PartialEq, Eq)]
pub enum Owner {
    Ours,
    Theirs,
    Unknown,
}

/// Who listens on `port`: the process `pid` (or one it started), another process, or unknown (no /proc).
pub fn listener_owner(port: u16, pid: u32) -> Owner {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else { return Owner::Unknown };
    let wanted = format!(":{port:04X}");
    // sl local_address rem_address st ... inode: a LISTEN (0A) socket on our port.
    let inode = table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 9 && f[1].ends_with(&wanted) && f[3] == "0A").then(|| f[9].to_string())
    });
    let Some(inode) = inode else { return Owner::Unknown };
    let socket = format!("socket:[{inode}]");
    let mut family = vec![pid];
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for p in procs.flatten() {
            let Ok(stat) = std::fs::read_to_string(p.path().join("stat")) else { continue };
            // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
            let ppid = stat.rsplit(')').next().and_then(|r| r.split_whitespace().nth(1)).and_then(|v| v.parse().ok());
            if ppid == Some(pid) {
                family.extend(p.file_name().to_str().and_then(|n| n.parse::<u32>().ok()));
            }
        }
    }
    let holds = |p: u32| {
        std::fs::read_dir(format!("/proc/{p}/fd"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == socket))
    };
    if family.into_iter().any(holds) {
        Owner::Ours
    } else {
        Owner::Theirs
    }
}

/// A moto server with the AWS managed policies loaded, on a free loopback port.
pub struct Moto {
    pub port: u16,
    _child: Guarded,
}

impl Moto {
    pub fn start() -> Moto {
        let (port, child) = spawn_listening("moto_server", Duration::from_secs(20), |port| {
            let mut c = Command::new(venv_bin("moto_server"));
            c.args(["-H", "127.0.0.1", "-p", &port.to_string()]).env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true");
            c
        });
        Moto { port, _child: child }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self._child.0.id()
    }

    pub fn client(&self) -> aws_sdk_iam::Client {
        client_for(&self.endpoint(), &IamSettings::default(), None)
    }
}

pub fn client_for(endpoint: &str, settings: &IamSettings, counter: Option<CallCounter>) -> aws_sdk_iam::Client {
    let mut b = aws_sdk_iam::Config::builder()
        .behavior_version_latest()
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .http_client(http_client())
        .retry_config(settings.retry_config())
        .timeout_config(settings.timeout_config());
    if let Some(c) = counter {
        b = b.interceptor(c);
    }
    aws_sdk_iam::Client::from_conf(b.build())
}

/// One PUT as the ResponseURL listener received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The status the listener answered with.
    pub status: u16,
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("response body is JSON")
    }
}

/// A real HTTP/1.1 listener on loopback that records every request and answers with scripted statuses
/// (then 200).
#[derive(Clone)]
pub struct ResponseListener {
    pub port: u16,
    pub received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Vec<u16>>>,
    delay: Arc<Mutex<Duration>>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl ResponseListener {
    pub async fn start() -> Self {
        Self::with_statuses(&[]).await
    }

    /// Answers with these statuses first, in order, then 200.
    pub async fn with_statuses(statuses: &[u16]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(statuses.to_vec()));
        let delay = Arc::new(Mutex::new(Duration::ZERO));
        let (r, s, d) = (received.clone(), script.clone(), delay.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let (r, s, d) = (r.clone(), s.clone(), d.clone());
                tokio::spawn(async move {
                    let Some(req) = http::read_request(&mut sock).await else { return };
                    let pause = *d.lock().unwrap();
                    tokio::time::sleep(pause).await;
                    let status = {
                        let mut s = s.lock().unwrap();
                        if s.is_empty() {
                            200
                        } else {
                            s.remove(0)
                        }
                    };
                    let (method, path) = req.method_and_path();
                    r.lock().unwrap().push(Received {
                        status,
                        method: method.to_string(),
                        path: path.to_string(),
                        headers: req.headers(),
                        body: req.body.clone(),
                        at: Instant::now(),
                    });
                    let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                    let _ = sock.write_all(reply.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        ResponseListener { port, received, script, delay, task: Arc::new(task) }
    }

    /// Answers every later request only after `d`.
    pub fn slow(&self, d: Duration) {
        *self.delay.lock().unwrap() = d;
    }

    /// Answers the next requests with these statuses first.
    pub fn fail_next(&self, statuses: &[u16]) {
        *self.script.lock().unwrap() = statuses.to_vec();
    }

    /// Requests answered 2xx: what CloudFormation would have accepted.
    pub fn accepted(&self) -> Vec<Received> {
        self.all().into_iter().filter(|r| r.status < 300).collect()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/cfn-response?X-Amz-Signature=secret-signature", self.port)
    }

    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Successful deliveries (the scripted failures excluded).
    pub fn count(&self) -> usize {
        self.all().len()
    }

    pub fn last(&self) -> Value {
        self.all().last().expect("a response was received").json()
    }
}

impl Drop for ResponseListener {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

/// A CloudFormation request as the service sends it.
pub fn request(kind: &str, logical_id: &str, props: Value, url: &str) -> Value {
    let mut props = props;
    props["ServiceToken"] = json!(FUNCTION_ARN);
    json!({
        "RequestType": kind,
        "ServiceToken": FUNCTION_ARN,
        "ResponseURL": url,
        "StackId": STACK_ID,
        "RequestId": format!("{}-{}", kind.to_lowercase(), uuidish()),
        "ResourceType": "Custom::EksNodeRole",
        "LogicalResourceId": logical_id,
        "ResourceProperties": props,
    })
}

pub fn update(logical_id: &str, physical: &str, props: Value, old: Value, url: &str) -> Value {
    let mut r = request("Update", logical_id, props, url);
    let mut old = old;
    old["ServiceToken"] = r["ServiceToken"].clone();
    r["PhysicalResourceId"] = json!(physical);
    r["OldResourceProperties"] = old;
    r
}

pub fn delete(logical_id: &str, physical: &str, props: Value, url: &str) -> Value {
    let mut r = request("Delete", logical_id, props, url);
    r["PhysicalResourceId"] = json!(physical);
    r
}

fn uuidish() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{:x}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Clients of every moto service the tests touch, signed for us-east-1 with dummy credentials.
pub fn shared_config(endpoint: &str) -> aws_config::SdkConfig {
    shared_config_with(endpoint, &IamSettings::default())
}

/// The same with the given retries and timeouts (e.g. short ones in front of a fault proxy).
pub fn shared_config_with(endpoint: &str, settings: &IamSettings) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .retry_config(settings.retry_config())
        .timeout_config(settings.timeout_config())
        .behavior_version(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_iam::config::SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "tests",
        )))
        .http_client(http_client())
        .build()
}

/// The state table as the template defines it: one String partition key `pk`, on demand.
pub async fn create_state_table(endpoint: &str, name: &str) {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    let ddb = aws_sdk_dynamodb::Client::new(&shared_config(endpoint));
    ddb.create_table()
        .table_name(name)
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create the state table");
}

/// A Lambda function in moto for stacks to name as ServiceToken (moto cannot run it: it only has to exist).
pub async fn create_function(endpoint: &str) {
    let shared = shared_config(endpoint);
    let iam = aws_sdk_iam::Client::new(&shared);
    let trust = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]});
    let role = iam
        .create_role()
        .role_name(OWN_ROLE)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .expect("create the function's role")
        .role
        .unwrap()
        .arn;
    let lambda = aws_sdk_lambda::Client::new(&shared);
    lambda
        .create_function()
        .function_name("eks-node-role-guard")
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .role(role)
        .handler("bootstrap")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_smithy_types::Blob::new(stored_zip("bootstrap", b"#!/bin/sh\n")))
                .build(),
        )
        .send()
        .await
        .expect("create the moto function");
}

/// A zip archive holding one uncompressed file.
fn stored_zip(name: &str, data: &[u8]) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 };
            }
        }
        !c
    }
    let (crc, size, n) = (crc32(data), data.len() as u32, name.len() as u16);
    let mut z = Vec::new();
    let header = |z: &mut Vec<u8>, sig: u32, central: bool| {
        z.extend(sig.to_le_bytes());
        if central {
            z.extend(20u16.to_le_bytes());
        }
        z.extend([20u16, 0, 0, 0, 0].iter().flat_map(|v| v.to_le_bytes()));
        z.extend(crc.to_le_bytes());
        z.extend(size.to_le_bytes());
        z.extend(size.to_le_bytes());
        z.extend(n.to_le_bytes());
        z.extend(0u16.to_le_bytes());
        if central {
            z.extend([0u16, 0, 0].iter().flat_map(|v| v.to_le_bytes()));
            z.extend(0o100755u32.wrapping_shl(16).to_le_bytes());
            z.extend(0u32.to_le_bytes());
        }
        z.extend(name.as_bytes());
    };
    header(&mut z, 0x0403_4b50, false);
    z.extend(data);
    let central_at = z.len() as u32;
    header(&mut z, 0x0201_4b50, true);
    let central_len = z.len() as u32 - central_at;
    z.extend(0x0605_4b50u32.to_le_bytes());
    z.extend([0u16, 0, 1, 1].iter().flat_map(|v| v.to_le_bytes()));
    z.extend(central_len.to_le_bytes());
    z.extend(central_at.to_le_bytes());
    z.extend(0u16.to_le_bytes());
    z
}

/// What the function needs in a fresh moto: the state table, and a Lambda function for stacks to name.
pub async fn prepare(endpoint: &str) {
    tokio::join!(create_state_table(endpoint, TABLE), create_function(endpoint));
}

/// A moto CloudFormation stack holding `Custom::EksNodeRole` resources under the given logical ids. It stays
/// CREATE_IN_PROGRESS (moto cannot invoke the function) until a response is PUT to moto's own ResponseURL.
pub async fn create_stack(endpoint: &str, name: &str, logical_ids: &[&str]) -> String {
    let resources: serde_json::Map<String, Value> = logical_ids
        .iter()
        .map(|l| (l.to_string(), json!({"Type": "Custom::EksNodeRole", "Properties": {"ServiceToken": FUNCTION_ARN}})))
        .collect();
    let cfn = aws_sdk_cloudformation::Client::new(&shared_config(endpoint));
    cfn.create_stack()
        .stack_name(name)
        .template_body(json!({"Resources": resources}).to_string())
        .send()
        .await
        .expect("create the moto stack")
        .stack_id
        .unwrap()
}

/// moto's own ResponseURL for a stack: a PUT there completes the stack.
pub fn moto_response_url(endpoint: &str, stack_id: &str) -> String {
    format!("{endpoint}/cloudformation_us-east-1/cfnresponse?stack={stack_id}")
}

/// The roles for which the function's logs carry EMF records of `metric`, in order.
pub fn emitted(logs: &str, metric: &str) -> Vec<String> {
    logs.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some() && v.get(metric).is_some())
        .map(|v| v["RoleName"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// PUTs a response body the way the function does (empty content type), e.g. to moto's ResponseURL.
pub async fn put_response(url: &str, body: &Value) {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let req = hyper::Request::put(url)
        .header("content-type", "")
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .unwrap();
    let resp = client.request(req).await.expect("PUT the response");
    let status = resp.status();
    let _ = resp.into_body().collect().await;
    assert!(status.is_success(), "PUT {url}: {status}");
}

/// The operator's declarations the tests run with: the defaults, the test execution role as the function's own.
/// Besides the procedure's names: the names these tests give the roles they adopt.
pub const ADOPTABLE: &str = "eksNodeRole,AmazonEKSNodeRole,NodeInstanceRole,legacy-*,old-nodes,eks-managed-*";

/// The permissions boundary the operator allows in these tests (AllowedPermissionsBoundaryArns).
pub const BOUNDARY: &str = "PowerUserAccess";

pub fn rules() -> AdoptionRules {
    let mut r = AdoptionRules::defaults(Partition::Aws);
    r.adoptable = AdoptionRules::new(ADOPTABLE, Default::default(), None).adoptable;
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
{
    let answer = eks_node_role_guard::events::handle(event, app, &invocation(left)).await?;
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

/// The custom-resource handler wired to moto (IAM, DynamoDB, CloudFormation) and a local ResponseURL, as
/// `main` wires it to AWS.
pub struct Harness {
    pub moto: Moto,
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
        let calls = CallCounter::default();
        let client = client_for(&endpoint, &IamSettings::default(), Some(calls.clone()));
        Harness {
            iam: moto.client(),
            app: App {
                reconciler: reconciler(client, &endpoint),
                stacks: SdkStacks::new(aws_sdk_cloudformation::Client::new(&shared_config(&endpoint))),
                identity: IdentitySource::fixed(identity()),
                sender: ResponseSender::new(SendPolicy {
                    initial_backoff: Duration::from_millis(20),
                    ..SendPolicy::default()
                }),
                cfn: CfnSettings { margin: Duration::from_secs(2), allow_insecure_response_url: true },
                drift: DriftSettings {
                    own_role: Some(OWN_ROLE.into()),
                    function_name: Some("eks-node-role-guard".into()),
                    ..DriftSettings::default()
                },
                metrics: Metrics::capturing(),
                notifier: Notifier::capturing(),
            },
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&shared_config(&endpoint)), TABLE),
            listener: ResponseListener::start().await,
            calls,
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
        let mut env = vec![("ALLOWED_ADDITIONAL_POLICY_ARNS", allowed.as_str())];
        env.extend_from_slice(extra_env);
        let function = Function::start(&emulator.runtime_api(), &h.moto.endpoint(), &env);
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

    /// The moto stack (CREATE_IN_PROGRESS) that holds resource `logical_id`, made on first use.
    pub async fn stack_for(&self, logical_id: &str) -> String {
        if let Some(id) = self.stack_ids.lock().unwrap().get(logical_id) {
            return id.clone();
        }
        let n = self.stack_ids.lock().unwrap().len();
        let name = if n == 0 { "prod-eks".to_string() } else { format!("prod-eks{}", n + 1) };
        let id = create_stack(&self.moto.endpoint(), &name, &[logical_id]).await;
        self.stack_ids.lock().unwrap().insert(logical_id.to_string(), id.clone());
        id
    }

    /// `req` aimed at the moto stack of its resource (the placeholder StackId replaced).
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

    /// Sends a request (aimed at its moto stack) through the handler and returns the response CloudFormation
    /// would have received.
    pub async fn send(&self, req: &Value) -> Value {
        let req = self.aimed(req).await;
        self.send_as_is(&req).await
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

/// The execution role name the tests give the tool.
pub const OWN_ROLE: &str = "eks-node-role-guard-GuardRole-1A2B3C";

/// A sample event from events/, aimed at `role` (its roleName / instanceProfileName replaced).
pub fn drift_event(file: &str, role: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("events").join(file)).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    let params = &mut v["detail"]["requestParameters"];
    for key in ["roleName", "instanceProfileName"] {
        if params.get(key).is_some() {
            params[key] = json!(role);
        }
    }
    v
}

/// The same event as made by the tool's own execution role.
pub fn as_own_call(mut event: Value) -> Value {
    event["detail"]["userIdentity"] = json!({
        "type": "AssumedRole",
        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{OWN_ROLE}/eks-node-role-guard"),
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{ACCOUNT}:role/{OWN_ROLE}"), "userName": OWN_ROLE}}
    });
    event
}

pub const IPV6_POLICY_ARN: &str = "arn:aws:iam::123456789012:policy/AmazonEKS_CNI_IPv6_Policy";

pub fn names(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A TCP server that accepts connections and never answers: an IAM that hangs.
pub struct HangingServer {
    pub port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl HangingServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                held.push(sock);
            }
        });
        HangingServer { port, task }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for HangingServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The cargo-lambda Runtime API emulator on a free loopback port.
pub struct Emulator {
    pub port: u16,
    _child: Guarded,
}

impl Emulator {
    pub fn start() -> Emulator {
        let (port, child) = spawn_listening("cargo lambda watch", Duration::from_secs(30), |port| {
            let mut c = Command::new(venv_bin("cargo-lambda"));
            c.args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", &port.to_string()])
                .current_dir(repo());
            c
        });
        Emulator { port, _child: child }
    }

    pub fn runtime_api(&self) -> String {
        format!("http://127.0.0.1:{}/.rt", self.port)
    }
}

/// The built binary running as a Lambda function against a Runtime API, its logs kept in a file.
pub struct Function {
    pub log: PathBuf,
    _child: Guarded,
}

impl Function {
    pub fn start(runtime_api: &str, iam_endpoint: &str, extra_env: &[(&str, &str)]) -> Function {
        Self::start_binary(&guard_binary(), runtime_api, iam_endpoint, extra_env)
    }

    pub fn start_binary(
        binary: &std::path::Path,
        runtime_api: &str,
        iam_endpoint: &str,
        extra_env: &[(&str, &str)],
    ) -> Function {
        let log = std::env::temp_dir().join(format!("eks-node-role-guard-{}-{}.log", std::process::id(), uuidish()));
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(binary);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/eks-node-role-guard")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/29/[$LATEST]local")
            .env("AWS_ENDPOINT_URL", iam_endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("ALLOW_INSECURE_RESPONSE_URL", "true")
            .env("STATE_TABLE_NAME", TABLE)
            .env("ADOPTABLE_ROLE_NAMES", ADOPTABLE)
            .env("GUARD_EXECUTION_ROLE_NAME", OWN_ROLE)
            .env("ALLOWED_PERMISSIONS_BOUNDARY_ARNS", format!("arn:aws:iam::aws:policy/{BOUNDARY}"))
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        Function { log, _child: Guarded(cmd.spawn().expect("start the function binary")) }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self._child.0.id()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self._child.0.try_wait(), Ok(None))
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.log);
    }
}

/// POSTs an invocation the way `cargo lambda invoke` does and returns the function's answer.
pub async fn invoke(port: u16, payload: &[u8]) -> Value {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let req = hyper::Request::post(format!("http://127.0.0.1:{port}/2015-03-31/functions/_/invocations"))
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::copy_from_slice(payload)))
        .unwrap();
    let resp =
        tokio::time::timeout(Duration::from_secs(120), client.request(req)).await.expect("invoke answered").unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).to_string()))
}

/// An event file from events/, its ResponseURL pointed at `listener`.
pub fn event_file(name: &str, listener: &ResponseListener) -> Value {
    let text = std::fs::read_to_string(repo().join("events").join(name)).unwrap();
    serde_json::from_str(&text.replace("127.0.0.1:8765", &format!("127.0.0.1:{}", listener.port))).unwrap()
}
