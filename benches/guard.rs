//! The benchmark: the release binary under a Runtime API stub with real deadlines, IAM on moto behind a
//! counting proxy, a real ResponseURL listener. Prints numbers (medians of several runs); asserts nothing about
//! time. Run with `scripts/bench.sh` (it builds the release binary and the arm64 zip first).

#[path = "../tests/common/mod.rs"]
#[allow(unused_imports)]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::fault_proxy::FaultProxy;
use common::runtime_stub::RuntimeStub;
use common::*;
use eks_node_role_guard::domain::{
    AccountId, Boundary, IpFamily, NodeRoleSpec, Owner, Partition, RemediationMode, RoleName, RolePath,
};
use serde_json::{json, Value};

const RUNS: usize = 7;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn binary() -> PathBuf {
    let p = std::env::var("BENCH_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join("target/release/eks-node-role-guard"));
    assert!(p.exists(), "{} missing: run scripts/bench.sh (it builds the release binary)", p.display());
    p
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
}

impl Bench {
    async fn function(&self, stub: &RuntimeStub) -> Function {
        Function::start_binary(&binary(), &stub.address(), &self.proxy.endpoint(), &[("SWEEP_CONCURRENCY", "4")])
    }

    async fn invoke(&self, stub: &RuntimeStub, payload: &Value) -> (Duration, u64) {
        let calls = self.proxy.requests();
        let started = Instant::now();
        let answer = stub.invoke(payload.to_string().as_bytes(), Duration::from_secs(900)).await.unwrap();
        assert_eq!(answer.kind, "response", "{}", String::from_utf8_lossy(&answer.body));
        (started.elapsed(), (self.proxy.requests() - calls) as u64)
    }
}

/// A managed role as the custom resource leaves it, written straight to IAM (fast set-up for sweeps).
async fn seed_role(iam: &aws_sdk_iam::Client, name: &str, broken: bool) {
    let spec = NodeRoleSpec {
        name: RoleName::parse(name).unwrap(),
        path: RolePath::parse("/bench/").unwrap(),
        partition: Partition::Aws,
        account: AccountId::parse(ACCOUNT).unwrap(),
        description: None,
        ip_family: IpFamily::Ipv4,
        attach_cni: true,
        extra_policies: BTreeSet::new(),
        boundary: Boundary::Absent,
        instance_profile: Some(name.to_string()),
        external_profile: false,
        remediation: RemediationMode::Enforce,
        owner: Owner { stack_id: STACK_ID.into(), logical_id: name.into() },
        adopted: false,
        preexisting: BTreeSet::new(),
        user_tags: BTreeMap::new(),
    };
    let tags: Vec<aws_sdk_iam::types::Tag> = spec
        .all_tags()
        .iter()
        .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build().unwrap())
        .collect();
    iam.create_role()
        .role_name(name)
        .path("/bench/")
        .assume_role_policy_document(spec.trust_policy().to_string())
        .set_tags(Some(tags))
        .send()
        .await
        .unwrap();
    for p in spec.required_policies() {
        if broken && p.name() == "AmazonEKSWorkerNodePolicy" {
            continue;
        }
        iam.attach_role_policy().role_name(name).policy_arn(p.as_str()).send().await.unwrap();
    }
    iam.create_instance_profile().instance_profile_name(name).path("/bench/").send().await.unwrap();
    iam.add_role_to_instance_profile().instance_profile_name(name).role_name(name).send().await.unwrap();
}

#[tokio::main]
async fn main() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let listener = ResponseListener::start().await;
    let b = Bench { moto, proxy, listener };
    let iam = b.moto.client();
    let mut peak = 0u64;
    println!(
        "eks-node-role-guard benchmark — binary {}, IAM = moto on loopback, {RUNS} runs, medians",
        binary().display()
    );

    // 1. Cold start: process start → first event handled (a Delete of a role that is not there: one read, one PUT).
    let mut cold = Vec::new();
    let mut init = Vec::new();
    for i in 0..RUNS {
        let stub = RuntimeStub::start().await;
        let mut del = delete("Nodes", &format!("absent-{i}"), json!({}), &b.listener.url());
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

    // One warm process for the rest.
    let stub = RuntimeStub::start().await;
    let f = b.function(&stub).await;

    // 2. Create end-to-end, and the IAM calls per operation.
    let (mut create, mut create_calls, mut update_calls, mut delete_calls) = (Vec::new(), 0, 0, 0);
    for i in 0..RUNS {
        let name = format!("bench-create-{i}");
        let req = request("Create", &format!("N{i}"), json!({"RoleName": name}), &b.listener.url());
        let before = b.listener.accepted().len();
        let started = Instant::now();
        let (_, calls) = b.invoke(&stub, &req).await;
        let got = &b.listener.accepted()[before];
        assert_eq!(got.json()["Status"], "SUCCESS");
        create.push(ms(got.at - started));
        create_calls = calls;
        let (_, calls) = b
            .invoke(
                &stub,
                &update(
                    &format!("N{i}"),
                    &name,
                    json!({"RoleName": name, "IpFamily": "ipv6"}),
                    json!({"RoleName": name}),
                    &b.listener.url(),
                ),
            )
            .await;
        update_calls = calls;
        let (_, calls) = b
            .invoke(
                &stub,
                &delete(&format!("N{i}"), &name, json!({"RoleName": name, "IpFamily": "ipv6"}), &b.listener.url()),
            )
            .await;
        delete_calls = calls;
    }
    println!("Create end to end (request in → response PUT received): {:.1} ms", median(create));
    println!(
        "IAM calls: Create {create_calls}, Update ipv4→ipv6 {update_calls}, Delete {delete_calls} (reads included)"
    );

    // 3. Detach event → policy attached.
    let name = "bench-drift";
    b.invoke(&stub, &request("Create", "Drift", json!({"RoleName": name}), &b.listener.url())).await;
    let mut repair = Vec::new();
    let mut repair_calls = 0;
    for _ in 0..RUNS {
        iam.tag_role()
            .role_name(name)
            .tags(aws_sdk_iam::types::Tag::builder().key("eks-node-role-guard:repairs").value("").build().unwrap())
            .send()
            .await
            .unwrap();
        iam.detach_role_policy()
            .role_name(name)
            .policy_arn("arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy")
            .send()
            .await
            .unwrap();
        let (d, calls) = b.invoke(&stub, &drift_event("drift-detach-role-policy.json", name)).await;
        repair.push(ms(d));
        repair_calls = calls;
    }
    println!(
        "detach event → policy attached: {:.1} ms, {repair_calls} IAM calls (3 reads, attach, breaker record)",
        median(repair)
    );

    // 4. Sweeps: 100 and 1,000 managed roles (10% broken), bounded concurrency 4.
    let mut made = 0;
    for n in [100usize, 1000] {
        let t = Instant::now();
        while made < n {
            seed_role(&iam, &format!("sweep-{made:04}"), made % 10 == 0).await;
            made += 1;
        }
        let setup = t.elapsed();
        let runs = if n <= 100 { 3 } else { 1 };
        let mut times = Vec::new();
        let mut calls = 0;
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
            let (d, c) = b
                .invoke(&stub, &json!({"detail-type": "Scheduled Event", "source": "aws.events", "id": "sweep"}))
                .await;
            times.push(ms(d));
            calls = c;
        }
        let t = median(times);
        println!(
            "sweep of {n} managed roles ({} repaired): {t:.0} ms, {:.2} ms/role, {calls} IAM calls ({:.1}/role) [set-up {:.0} s]",
            n / 10,
            t / n as f64,
            calls as f64 / n as f64,
            setup.as_secs_f64()
        );
    }
    peak = peak.max(peak_rss_kib(f.pid()));
    println!("peak RSS of the function process: {:.1} MiB", peak as f64 / 1024.0);

    let native = std::fs::metadata(binary()).map(|m| m.len()).unwrap_or(0);
    println!("stripped release binary ({}): {:.2} MiB", std::env::consts::ARCH, native as f64 / 1048576.0);
    match std::fs::metadata(repo().join("target/lambda/eks-node-role-guard/bootstrap.zip")) {
        Ok(m) => {
            println!("arm64 Lambda zip (cargo lambda build --release --arm64): {:.2} MiB", m.len() as f64 / 1048576.0)
        }
        Err(_) => println!("arm64 Lambda zip: not built (scripts/bench.sh builds it)"),
    }
    drop(f);
}
