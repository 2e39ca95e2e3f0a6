//! The benchmark: the release binary under a Runtime API stub with real deadlines, IAM, DynamoDB,
//! CloudFormation and STS on moto behind a counting proxy, a real ResponseURL listener. Prints numbers (medians of
//! several runs) and AWS calls by service; asserts nothing about time. Run with `scripts/bench.sh` (it builds the
//! release binary and the arm64 zip first).

use test_support as common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::cfn_model::CfnModel;
use common::fault_proxy::{Fault, FaultProxy};
use common::runtime_stub::RuntimeStub;
use common::*;
use eks_node_role_guard::domain::{
    AccountId, Boundary, IpFamily, NodeRoleSpec, Owner, Partition, RemediationMode, RoleName, RolePath,
};
use eks_node_role_guard::state::{DynamoStore, Expect, Record, StateStore};
use serde_json::{json, Value};

const RUNS: usize = 7;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The build under test: the release binary just built.
fn binary() -> PathBuf {
    let p = repo().join("target/release/eks-node-role-guard");
    assert!(p.exists(), "{} missing: run scripts/bench.sh (it builds the release binary)", p.display());
    p
}

/// A previous build to compare with (`BENCH_BINARY`), if given.
fn previous() -> Option<PathBuf> {
    let p = PathBuf::from(std::env::var("BENCH_BINARY").ok()?);
    assert!(p.exists(), "BENCH_BINARY {} does not exist", p.display());
    Some(p)
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

struct Bench {
    moto: Moto,
    proxy: FaultProxy,
    listener: ResponseListener,
    /// CloudFormation as it reports a custom resource, in front of moto.
    model: CfnModel,
    stacks: std::sync::Mutex<BTreeMap<String, String>>,
}

/// Calls by service between two readings of the proxy.
fn calls_since(before: &BTreeMap<String, usize>, after: &BTreeMap<String, usize>) -> String {
    after
        .iter()
        .map(|(k, v)| (k, v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Bench {
    async fn function(&self, stub: &RuntimeStub) -> Function {
        self.function_of(&binary(), stub, &[])
    }

    fn function_of(&self, binary: &std::path::Path, stub: &RuntimeStub, env: &[(&str, &str)]) -> Function {
        let mut all = vec![("SWEEP_CONCURRENCY", "4")];
        all.extend_from_slice(env);
        Function::start_binary(binary, &stub.address(), &self.proxy.endpoint(), &all)
    }

    /// `req` aimed at the stack holding its resource (one stack per logical id, in the model), which shows the
    /// phase CloudFormation sends such a request in (`cfn_model::sending`).
    async fn aimed(&self, req: &Value) -> Value {
        let logical = req["LogicalResourceId"].as_str().unwrap().to_string();
        let id = self
            .stacks
            .lock()
            .unwrap()
            .entry(logical.clone())
            .or_insert_with(|| {
                format!(
                    "arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/bench-{}/7c2d4e60-0e1c-11ef-9d2b-0a1b2c3d4e5f",
                    logical.to_lowercase()
                )
            })
            .clone();
        let kind = req["RequestType"].as_str().unwrap();
        self.model.send_phase(&id, &logical, kind, req["PhysicalResourceId"].as_str());
        let mut req = req.clone();
        req["StackId"] = json!(id);
        req
    }

    async fn invoke(&self, stub: &RuntimeStub, payload: &Value) -> (Duration, u64) {
        let calls = self.proxy.requests();
        let started = Instant::now();
        let answered = self.listener.accepted().len();
        let answer = stub.invoke(payload.to_string().as_bytes(), Duration::from_secs(900)).await.unwrap();
        assert_eq!(answer.kind, "response", "{}", String::from_utf8_lossy(&answer.body));
        if let (Some(stack), Some(kind)) = (payload["StackId"].as_str(), payload["RequestType"].as_str()) {
            let response = self.listener.accepted()[answered].json();
            assert_eq!(response["Status"], "SUCCESS", "{response}");
            self.model.answered(stack, payload["LogicalResourceId"].as_str().unwrap(), kind, &response);
        }
        (started.elapsed(), (self.proxy.requests() - calls) as u64)
    }
}

/// A managed role as the custom resource leaves it, written straight to IAM and the state table (fast set-up
/// for sweeps).
async fn seed_role(iam: &aws_sdk_iam::Client, store: &DynamoStore, stack_id: &str, name: &str, broken: bool) {
    let spec = NodeRoleSpec {
        name: RoleName::parse(name).unwrap(),
        path: RolePath::parse("/bench/").unwrap(),
        partition: Partition::Aws,
        account: AccountId::parse(ACCOUNT).unwrap(),
        region: "us-east-1".into(),
        ipv6_cni_policy: None,
        node_class: Default::default(),
        description: None,
        ip_family: IpFamily::Ipv4,
        attach_cni: true,
        extra_policies: BTreeSet::new(),
        boundary: Boundary::Absent,
        instance_profile: Some(name.to_string()),
        external_profile: false,
        remediation: RemediationMode::Enforce,
        owner: Owner { stack_id: stack_id.into(), logical_id: name.into() },
        adopted: false,
        preexisting: BTreeSet::new(),
        user_tags: BTreeMap::new(),
    };
    let tags: Vec<aws_sdk_iam::types::Tag> = spec
        .all_tags()
        .iter()
        .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build().unwrap())
        .collect();
    let role = iam
        .create_role()
        .role_name(name)
        .path("/bench/")
        .assume_role_policy_document(spec.trust_policy().to_string())
        .set_tags(Some(tags))
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let mut record = Record::new(spec.clone());
    record.role_id = Some(role.role_id);
    record.own_profile = Some(name.to_string());
    store.put(&record, Expect::NewOrOwn).await.unwrap();
    for p in spec.required_policies() {
        if broken && p.name() == "AmazonEKSWorkerNodePolicy" {
            continue;
        }
        iam.attach_role_policy().role_name(name).policy_arn(p.as_str()).send().await.unwrap();
    }
    iam.create_instance_profile().instance_profile_name(name).path("/bench/").send().await.unwrap();
    iam.add_role_to_instance_profile().instance_profile_name(name).role_name(name).send().await.unwrap();
}

const LATENCY: Duration = Duration::from_millis(40);
/// DynamoDB answers a key read or write in single-digit milliseconds within a region.
const DYNAMODB_LATENCY: Duration = Duration::from_millis(8);

/// Detaches AmazonEKSWorkerNodePolicy from a managed role again, with a clean breaker (the bench repairs the same
/// role more often than the breaker allows).
async fn detach_again(store: &DynamoStore, iam: &aws_sdk_iam::Client, name: &str) {
    let item = store.get(&RoleName::parse(name).unwrap()).await.unwrap().unwrap();
    store.put(&Record { repairs: vec![], ..item.clone() }, item.expect()).await.unwrap();
    iam.detach_role_policy()
        .role_name(name)
        .policy_arn("arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy")
        .send()
        .await
        .unwrap();
}

fn python_baseline(args: &[&str], endpoint: &str) -> std::process::Command {
    let mut c = std::process::Command::new(venv_bin("python"));
    c.arg(repo().join("scripts/bench_baseline.py"))
        .args(args)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1");
    c
}

async fn latency_section(b: &Bench, bin: &std::path::Path, label: &str, store: &DynamoStore) {
    b.proxy.always(Some(Fault::Latency(LATENCY)));
    b.proxy.latency_for("dynamodb", DYNAMODB_LATENCY);
    println!(
        "— {label} ({}), with {} ms added to every AWS call, {} ms to DynamoDB's —",
        bin.display(),
        LATENCY.as_millis(),
        DYNAMODB_LATENCY.as_millis()
    );
    let tag = label.split_whitespace().next().unwrap_or("x");
    repair_vs_python(b, bin, tag, store).await;
    cold_create_vs_python(b, bin, tag).await;
    b.proxy.clear();
}

/// Single-policy repair in a warm process, and the Python handler's.
async fn repair_vs_python(b: &Bench, bin: &std::path::Path, tag: &str, store: &DynamoStore) {
    let iam = b.moto.client();
    // The repair alone (notifications off), then with its notification: the PutEvents is a third round trip.
    let (ours, trips, calls, timeline) = repairs(b, bin, tag, "off", store, &iam).await;
    let (notified, n_trips, n_calls, _) = repairs(b, bin, tag, "default", store, &iam).await;
    let py_role = format!("bench-python-repair-{tag}");
    let py = python_baseline(&["repair", &py_role, &RUNS.to_string()], &b.proxy.endpoint());
    iam.create_role()
        .role_name(&py_role)
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .unwrap();
    for p in ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonEKS_CNI_Policy"] {
        let arn = format!("arn:aws:iam::aws:policy/{p}");
        iam.attach_role_policy().role_name(&py_role).policy_arn(arn).send().await.unwrap();
    }
    let (rt, req0) = (b.proxy.round_trips(), b.proxy.requests());
    let out = tokio::task::spawn_blocking({
        let mut py = py;
        move || py.output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Each run also detaches the policy first (set-up, not timed): RUNS of those are not the handler's.
    let py_trips = (b.proxy.round_trips() - rt - RUNS) / RUNS;
    let py_calls = (b.proxy.requests() - req0 - RUNS) / RUNS;
    let python: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(f64::NAN);
    println!(
        "single-policy repair: {ours:.1} ms, {trips} sequential round trips ({calls}); Python boto3 handler: {python:.1} ms, {py_trips} round trips ({py_calls} calls) → {:.2}×",
        ours / python
    );
    if std::env::var_os("BENCH_TIMELINE").is_some() {
        print_timeline(&timeline.0, timeline.1);
    }
    println!(
        "single-policy repair with its notification: {notified:.1} ms, {n_trips} sequential round trips ({n_calls})"
    );
}

/// Median repair time of a warm process (`NOTIFY_EVENT_BUS=bus`), its sequential round trips and calls, and the
/// last run's calls (with the moment it was sent).
async fn repairs(
    b: &Bench,
    bin: &std::path::Path,
    tag: &str,
    bus: &str,
    store: &DynamoStore,
    iam: &aws_sdk_iam::Client,
) -> (f64, usize, String, (Vec<common::fault_proxy::Span>, Duration)) {
    let warm_stub = &RuntimeStub::start().await;
    let _warm = b.function_of(bin, warm_stub, &[("NOTIFY_EVENT_BUS", bus)]);
    let name = &format!("bench-latency-{tag}-{bus}");
    let create = request("Create", &format!("Latency{tag}{bus}"), json!({"RoleName": name}), &b.listener.url());
    b.invoke(warm_stub, &b.aimed(&create).await).await;
    let (mut times, mut trips, mut calls, mut since) = (Vec::new(), 0, String::new(), Duration::ZERO);
    for _ in 0..RUNS {
        detach_again(store, iam, name).await;
        let (rt, by) = (b.proxy.round_trips(), b.proxy.by_service());
        since = b.proxy.now();
        let (d, _) = b.invoke(warm_stub, &drift_event("drift-detach-role-policy.json", name)).await;
        times.push(ms(d));
        trips = b.proxy.round_trips() - rt;
        calls = calls_since(&by, &b.proxy.by_service());
    }
    (median(times), trips, calls, (b.proxy.timeline_since(since), since))
}

/// One line per AWS call: when it reached the proxy and when its answer left (from the process start), and how
/// long moto itself took.
fn print_timeline(spans: &[common::fault_proxy::Span], since: Duration) {
    for s in spans {
        println!(
            "    {:>6.1} → {:>6.1} ms  (moto {:>5.1} ms)  {}",
            ms(s.start - since),
            ms(s.end - since),
            ms(s.upstream),
            s.operation
        );
    }
}

/// Fresh IPv4 Create from a cold process (process start → response PUT received), and the Python handler's.
async fn cold_create_vs_python(b: &Bench, bin: &std::path::Path, tag: &str) {
    let (mut ours, mut trips, mut calls, mut python, mut py_trips) = (Vec::new(), 0, String::new(), Vec::new(), 0);
    for i in 0..RUNS {
        let stub = RuntimeStub::start().await;
        let req = b
            .aimed(&request(
                "Create",
                &format!("Cold{tag}{i}"),
                json!({"RoleName": format!("bench-cold-{tag}-{i}")}),
                &b.listener.url(),
            ))
            .await;
        let answer = stub.invoke(req.to_string().as_bytes(), Duration::from_secs(120));
        let (rt, by) = (b.proxy.round_trips(), b.proxy.by_service());
        let before = b.listener.accepted().len();
        let (started, since) = (Instant::now(), b.proxy.now());
        let f = b.function_of(bin, &stub, &[]);
        answer.await.unwrap();
        ours.push(ms(b.listener.accepted()[before].at - started));
        if i + 1 == RUNS && std::env::var_os("BENCH_TIMELINE").is_some() {
            print_timeline(&b.proxy.timeline_since(since), since);
        }
        trips = b.proxy.round_trips() - rt;
        calls = calls_since(&by, &b.proxy.by_service());
        drop(f);

        let before = b.listener.accepted().len();
        let rt = b.proxy.round_trips();
        let started = Instant::now();
        let mut py =
            python_baseline(&["create", &format!("bench-python-{tag}-{i}"), &b.listener.url()], &b.proxy.endpoint());
        let status = tokio::task::spawn_blocking(move || py.status().unwrap()).await.unwrap();
        assert!(status.success());
        python.push(ms(b.listener.accepted()[before].at - started));
        py_trips = b.proxy.round_trips() - rt;
    }
    let (ours, python) = (median(ours), median(python));
    println!(
        "fresh IPv4 Create, cold process → response PUT: {ours:.0} ms, {trips} sequential round trips ({calls}); Python boto3 handler: {python:.0} ms, {py_trips} round trips (no confirmation, no state store) → {:.2}×",
        ours / python
    );
}

#[tokio::main]
async fn main() {
    let moto = Moto::start();
    prepare(&moto.endpoint()).await;
    let (proxy, model) = (FaultProxy::start(moto.port).await, CfnModel::default());
    proxy.answer_from(&model);
    let listener = ResponseListener::start().await;
    let b = Bench { moto, proxy, model, listener, stacks: Default::default() };
    let iam = b.moto.client();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&shared_config(&b.moto.endpoint())), TABLE);
    // The IPv6 CNI policy the Update below switches to.
    iam.create_policy()
        .policy_name("AmazonEKS_CNI_IPv6_Policy")
        .policy_document(eks_node_role_guard::domain::policies::cni_ipv6_policy_document(Partition::Aws).to_string())
        .send()
        .await
        .unwrap();
    println!(
        "eks-node-role-guard benchmark — binary {}, AWS = moto on loopback, {RUNS} runs, medians",
        binary().display()
    );

    let full = std::env::var("BENCH_LATENCY_ONLY").is_err();
    let mut peak = if full { cold_start(&b).await } else { 0 };
    // One warm process for the rest.
    let stub = RuntimeStub::start().await;
    let f = b.function(&stub).await;
    if full {
        lifecycle(&b, &stub).await;
        repair(&b, &stub, &store, &iam).await;
        sweeps(&b, &stub, &store, &iam).await;
        peak = peak.max(peak_rss_kib(f.pid()));
        println!("peak RSS of the function process: {:.1} MiB", peak as f64 / 1024.0);
    }
    // 5. With 40 ms added to every AWS call (about what a call costs from Lambda), round trips decide; moto's own
    // one-request-at-a-time service time no longer does. Beside it, a Python crhelper-style boto3 handler doing
    // the procedure's calls one after the other through the same proxy.
    latency_section(&b, &binary(), "this build", &store).await;
    if let Some(prev) = previous() {
        latency_section(&b, &prev, "previous build (BENCH_BINARY)", &store).await;
    }
    sizes();
    drop(f);
}

/// 1. Cold start: process start → first event handled. Returns the peak RSS seen (KiB).
async fn cold_start(b: &Bench) -> u64 {
    let mut peak = 0;
    // 1. Cold start: process start → first event handled (a Delete of a role that is not there: one read, one PUT).
    let mut cold = Vec::new();
    let mut init = Vec::new();
    for i in 0..RUNS {
        let stub = RuntimeStub::start().await;
        let mut del = b.aimed(&delete("Nodes", &format!("absent-{i}"), json!({}), &b.listener.url())).await;
        del["RequestId"] = json!(format!("cold-{i}"));
        let answer = stub.invoke(del.to_string().as_bytes(), Duration::from_secs(60));
        let started = Instant::now();
        let f = b.function(&stub).await;
        let before = b.listener.accepted().len();
        answer.await.unwrap();
        let put = b.listener.accepted()[before].at;
        cold.push(ms(put - started));
        init.push(ms(stub.first_poll.lock().unwrap().unwrap() - started));
        peak = peak.max(peak_rss_kib(f.pid()));
    }
    println!(
        "cold start → first event handled (response PUT received): {:.1} ms (process ready for work: {:.1} ms)",
        median(cold),
        median(init)
    );
    peak
}

/// 2. Create end to end, and the AWS calls of Create, Update and Delete.
async fn lifecycle(b: &Bench, stub: &RuntimeStub) {
    // 2. Create end-to-end, and the IAM calls per operation.
    let (mut create, mut create_calls, mut update_calls, mut delete_calls) = (Vec::new(), 0, 0, 0);
    let mut create_by_service = String::new();
    for i in 0..RUNS {
        let name = format!("bench-create-{i}");
        let req = b.aimed(&request("Create", &format!("N{i}"), json!({"RoleName": name}), &b.listener.url())).await;
        let by_service = b.proxy.by_service();
        let before = b.listener.accepted().len();
        let started = Instant::now();
        let (_, calls) = b.invoke(stub, &req).await;
        let got = &b.listener.accepted()[before];
        assert_eq!(got.json()["Status"], "SUCCESS");
        create.push(ms(got.at - started));
        create_calls = calls;
        create_by_service = calls_since(&by_service, &b.proxy.by_service());
        let upd = update(
            &format!("N{i}"),
            &name,
            json!({"RoleName": name, "IpFamily": "ipv6"}),
            json!({"RoleName": name}),
            &b.listener.url(),
        );
        let (_, calls) = b.invoke(stub, &b.aimed(&upd).await).await;
        update_calls = calls;
        let del = delete(&format!("N{i}"), &name, json!({"RoleName": name, "IpFamily": "ipv6"}), &b.listener.url());
        let (_, calls) = b.invoke(stub, &b.aimed(&del).await).await;
        delete_calls = calls;
    }
    println!("Create end to end (request in → response PUT received): {:.1} ms", median(create));
    println!(
    "AWS calls: Create {create_calls} ({create_by_service}), Update ipv4→ipv6 {update_calls}, Delete {delete_calls} (reads and confirmation included)"
);
}

/// 3. Detach event → policy attached, warm.
async fn repair(b: &Bench, stub: &RuntimeStub, store: &DynamoStore, iam: &aws_sdk_iam::Client) {
    // 3. Detach event → policy attached.
    let name = "bench-drift";
    b.invoke(stub, &b.aimed(&request("Create", "Drift", json!({"RoleName": name}), &b.listener.url())).await).await;
    let mut repair = Vec::new();
    let mut repair_calls = 0;
    let mut repair_by_service = String::new();
    for _ in 0..RUNS {
        detach_again(store, iam, name).await;
        let by_service = b.proxy.by_service();
        let (d, calls) = b.invoke(stub, &drift_event("drift-detach-role-policy.json", name)).await;
        repair.push(ms(d));
        repair_calls = calls;
        repair_by_service = calls_since(&by_service, &b.proxy.by_service());
    }
    println!(
    "detach event → policy attached: {:.1} ms, {repair_calls} AWS calls ({repair_by_service}): the state item, then the role, its attachments and profiles at once, then the attach and the breaker record at once, then the item again",
    median(repair)
);
}

/// 4. Sweeps of 100 and 1,000 managed roles among 5,000 unmanaged ones.
async fn sweeps(b: &Bench, stub: &RuntimeStub, store: &DynamoStore, iam: &aws_sdk_iam::Client) {
    // 4. Sweeps: 100 and 1,000 managed roles (10% broken) among 5,000 unmanaged ones, bounded concurrency 4.
    // The sweep reads the state table, so the unmanaged roles cost nothing.
    let t = Instant::now();
    for i in 0..5000 {
        iam.create_role()
            .role_name(format!("unmanaged-{i:04}"))
            .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
            .send()
            .await
            .unwrap();
    }
    println!("(5,000 unmanaged roles made in {:.0} s)", t.elapsed().as_secs_f64());
    // The items' owner: a stack in the middle of an operation, as the sweep finds a stack it may not judge (one
    // DescribeStacks for all of them, no resource read).
    let owner = create_stack(&b.moto.endpoint(), "bench-sweep", &["Sweep"]).await;
    let mut made = 0;
    for n in [100usize, 1000] {
        let t = Instant::now();
        while made < n {
            seed_role(iam, store, &owner, &format!("sweep-{made:04}"), made % 10 == 0).await;
            made += 1;
        }
        let setup = t.elapsed();
        let runs = if n <= 100 { 3 } else { 1 };
        let mut times = Vec::new();
        let mut calls = 0;
        let mut sweep_by_service = String::new();
        for r in 0..runs {
            if r > 0 {
                for i in (0..n).step_by(10) {
                    let _ = iam
                        .detach_role_policy()
                        .role_name(format!("sweep-{i:04}"))
                        .policy_arn("arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy")
                        .send()
                        .await;
                }
            }
            let by_service = b.proxy.by_service();
            let (d, c) =
                b.invoke(stub, &json!({"detail-type": "Scheduled Event", "source": "aws.events", "id": "sweep"})).await;
            times.push(ms(d));
            calls = c;
            sweep_by_service = calls_since(&by_service, &b.proxy.by_service());
            // The numbers are a sweep's only if it repaired (an item whose owner it could not see is orphaned).
            let out = iam.list_attached_role_policies().role_name("sweep-0000").send().await.unwrap();
            let names: Vec<String> =
                out.attached_policies().iter().filter_map(|p| p.policy_name().map(str::to_string)).collect();
            assert!(names.iter().any(|n| n == "AmazonEKSWorkerNodePolicy"), "the sweep repaired nothing: {names:?}");
        }
        let t = median(times);
        println!(
        "sweep of {n} managed roles ({} repaired) among 5,000 unmanaged: {t:.0} ms, {:.2} ms/role, {calls} AWS calls ({:.1}/role: {sweep_by_service}) [set-up {:.0} s]",
        n / 10,
        t / n as f64,
        calls as f64 / n as f64,
        setup.as_secs_f64()
    );
    }
}

fn sizes() {
    let native = std::fs::metadata(binary()).map(|m| m.len()).unwrap_or(0);
    println!("stripped release binary ({}): {:.2} MiB", std::env::consts::ARCH, native as f64 / 1048576.0);
    match std::fs::metadata(repo().join("target/lambda/eks-node-role-guard/bootstrap.zip")) {
        Ok(m) => {
            println!("arm64 Lambda zip (cargo lambda build --release --arm64): {:.2} MiB", m.len() as f64 / 1048576.0)
        }
        Err(_) => println!("arm64 Lambda zip: not built (scripts/bench.sh builds it)"),
    }
}
