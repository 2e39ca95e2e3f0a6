//! Fault injection: a generated matrix of CloudFormation requests and drift events × faults of IAM, the state
//! store (DynamoDB) and CloudFormation's confirmation × timing × ResponseURL faults: every AWS call of the
//! function goes through one fault proxy, so the n-th call fails whichever service it goes to. For every CloudFormation case: exactly one accepted response, before the deadline, and
//! a role state that a following Delete cleans up completely. For every drift case: no panic, and after the
//! faults clear a sweep converges.

use std::time::{Duration, Instant};

use eks_node_role_guard::cfn;
use eks_node_role_guard::iam::IamSettings;
use eks_node_role_guard::stacks::SdkStacks;
use serde_json::{json, Value};
use test_support::fault_proxy::{Fault, FaultProxy};
use test_support::*;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Create,
    CreateIpv6,
    UpdateInPlace,
    UpdateReplace,
    Delete,
    Drift,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ListenerFault {
    None,
    FiveXxOnce,
    Slow,
}

#[derive(Debug, Clone, Copy)]
struct Case {
    id: usize,
    op: Op,
    fault: Option<Fault>,
    /// Requests that pass before the fault starts.
    after: usize,
    /// How many requests get the fault; `None`: every one until the case ends.
    count: Option<usize>,
    listener: ListenerFault,
}

const OPS: [Op; 6] = [Op::Create, Op::CreateIpv6, Op::UpdateInPlace, Op::UpdateReplace, Op::Delete, Op::Drift];
const TIME_LEFT: Duration = Duration::from_secs(4);

fn faults() -> Vec<Option<Fault>> {
    vec![
        None,
        Some(Fault::Throttle),
        Some(Fault::Status(500)),
        Some(Fault::Status(503)),
        Some(Fault::Latency(Duration::from_millis(250))),
        Some(Fault::Reset),
        Some(Fault::LoseResponse),
        Some(Fault::Hang),
        Some(Fault::ConditionFailed),
    ]
}

/// Every op × fault × start (first, third, sixth request) × duration (one request, or all of them): 324 cases.
fn matrix() -> Vec<Case> {
    let mut cases = Vec::new();
    for op in OPS {
        for fault in faults() {
            for after in [0, 2, 5] {
                for count in [Some(1), None] {
                    let listener =
                        [ListenerFault::None, ListenerFault::FiveXxOnce, ListenerFault::Slow][cases.len() % 3];
                    cases.push(Case { id: cases.len(), op, fault, after, count, listener });
                }
            }
        }
    }
    cases
}

fn props(case: &Case, name: &str) -> Value {
    match case.op {
        Op::CreateIpv6 => json!({"RoleName": name, "IpFamily": "ipv6"}),
        _ => json!({"RoleName": name}),
    }
}

/// Odd cases keep their fault until the case ends (the slow ones: hangs wait for the deadline): each shard gets
/// as many of them as of the others, so the shards take about as long.
fn shard_of(id: usize, shards: usize) -> usize {
    (id / 2 + (id % 2) * shards / 2) % shards
}

async fn run_shard(shard: usize, shards: usize) {
    let h = Harness::new().await;
    let proxy = FaultProxy::start(h.moto.port).await;
    // IAM's concurrency rule, with a shorter hold than the harness's: overlapping writes are still refused, and
    // the matrix's ~5,000 writes cost less waiting (the concurrency tests themselves use IAM_WRITE_TIME).
    proxy.behave_like_iam(Duration::from_millis(5));
    let settings = IamSettings {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        attempt_timeout: Duration::from_millis(800),
    };
    let faulty = reconciler_with(client_for(&proxy.endpoint(), &settings, None), &proxy.endpoint(), &settings);
    let stacks = SdkStacks::new(aws_sdk_cloudformation::Client::new(&shared_config_with(&proxy.endpoint(), &settings)));
    let cfn_settings = cfn::CfnSettings {
        margin: Duration::from_millis(1500),
        allow_insecure_response_url: true,
        function_timeout: None,
    };
    // The function's context with every AWS client behind the proxy.
    let faulty = GuardApp { stacks, ..h.app_with(faulty, cfn_settings) };
    h.make_ipv6_policy(&eks_node_role_guard::domain::policies::cni_ipv6_policy_document(
        eks_node_role_guard::domain::Partition::Aws,
    ))
    .await;
    // FAULT_CASE=<id> runs one case (in its shard) to investigate it.
    let only: Option<usize> = std::env::var("FAULT_CASE").ok().and_then(|v| v.parse().ok());
    let cases: Vec<Case> =
        matrix().into_iter().filter(|c| shard_of(c.id, shards) == shard && only.is_none_or(|o| o == c.id)).collect();
    let mut summary = std::collections::BTreeMap::<String, usize>::new();
    for case in &cases {
        let name = format!("m{}", case.id);
        let outcome = run_case(&h, &proxy, &faulty, case, &name).await;
        *summary.entry(outcome).or_default() += 1;
    }
    println!("shard {shard}: {} cases: {summary:?}", cases.len());
    assert!(only.is_some() || cases.len() >= 324 / shards);
}

/// What one case works with: moto (faultless, for set-up and checks), the proxy, and the function's clients
/// through the proxy.
struct Rig<'a> {
    h: &'a Harness,
    proxy: &'a FaultProxy,
    faulty: &'a GuardApp,
}

async fn run_case(h: &Harness, proxy: &FaultProxy, faulty: &GuardApp, case: &Case, name: &str) -> String {
    let rig = Rig { h, proxy, faulty };
    let ctx = format!("{case:?}");
    let base = props(case, name);
    let logical = format!("L{}", case.id);
    rig.set_up(case, &logical, &base, name, &ctx).await;
    rig.inject(case);
    if case.op == Op::Drift {
        return rig.drift_case(&logical, &base, name, &ctx).await;
    }
    rig.cfn_case(case, &logical, &base, name, &ctx).await
}

impl Rig<'_> {
    /// Set-up without faults: the role the operation needs, broken for a drift case.
    async fn set_up(&self, case: &Case, logical: &str, base: &Value, name: &str, ctx: &str) {
        self.proxy.clear();
        self.h.listener.slow(Duration::ZERO);
        if matches!(case.op, Op::UpdateInPlace | Op::UpdateReplace | Op::Delete | Op::Drift) {
            let r = self.h.create(logical, base.clone()).await;
            assert_eq!(r["Status"], "SUCCESS", "{ctx}: set-up {r}");
        }
        if case.op == Op::Drift {
            self.h.detach(name, "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy").await;
        }
    }

    /// The case's faults: `after` calls pass, then `count` calls (or all) get the fault; the ResponseURL's own.
    fn inject(&self, case: &Case) {
        let mut script: Vec<Option<Fault>> = vec![None; case.after];
        match case.count {
            Some(n) => script.extend(std::iter::repeat_n(case.fault, n)),
            None => self.proxy.always(case.fault),
        }
        self.proxy.script(script);
        match case.listener {
            ListenerFault::None => {}
            ListenerFault::FiveXxOnce => self.h.listener.fail_next(&[503]),
            ListenerFault::Slow => self.h.listener.slow(Duration::from_millis(600)),
        }
    }

    fn clear(&self) {
        self.proxy.clear();
        self.h.listener.slow(Duration::ZERO);
    }

    /// A drift event under faults: handled within the time, and after the faults clear a sweep converges.
    async fn drift_case(&self, logical: &str, base: &Value, name: &str, ctx: &str) -> String {
        let h = self.h;
        let ev = drift_event("drift-detach-role-policy.json", name);
        let started = Instant::now();
        let result = deliver_to(self.faulty, &ev, TIME_LEFT).await;
        assert!(
            started.elapsed() < TIME_LEFT + Duration::from_secs(1),
            "{ctx}: drift handling took {:?}",
            started.elapsed()
        );
        self.clear();
        h.listener.fail_next(&[]);
        let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "id": "sweep"});
        h.deliver(&sweep).await.unwrap_or_else(|e| panic!("{ctx}: sweep failed: {e}"));
        assert!(h.attached(name).await.contains("AmazonEKSWorkerNodePolicy"), "{ctx}: not converged");
        cleanup(h, logical, &[name.to_string()], base, ctx).await;
        format!("drift {}", if result.is_ok() { "ok" } else { "retry" })
    }

    /// A CloudFormation request under faults: exactly one accepted response before the deadline, a readable
    /// reason when FAILED, and nothing left after CloudFormation's following Deletes.
    async fn cfn_case(&self, case: &Case, logical: &str, base: &Value, name: &str, ctx: &str) -> String {
        let h = self.h;
        let url = h.url();
        let request = match case.op {
            Op::Create | Op::CreateIpv6 => request("Create", logical, base.clone(), &url),
            Op::UpdateInPlace => {
                let changed = json!({"RoleName": name, "IpFamily": "ipv6", "Description": "changed"});
                update(logical, name, changed, base.clone(), &url)
            }
            Op::UpdateReplace => update(logical, name, json!({"RoleName": format!("{name}-new")}), base.clone(), &url),
            Op::Delete | Op::Drift => delete(logical, name, base.clone(), &url),
        };
        let request = h.aimed(&request).await;
        let before = h.listener.accepted().len();
        let started = Instant::now();
        cfn::handle(&request, self.faulty, &invocation(TIME_LEFT)).await;
        let accepted = h.listener.accepted();
        assert_eq!(accepted.len(), before + 1, "{ctx}: exactly one accepted response");
        let got = accepted.last().unwrap();
        assert!(got.at - started < TIME_LEFT, "{ctx}: answered after {:?}", got.at - started);
        let body = got.json();
        let status = body["Status"].as_str().unwrap().to_string();
        if status == "FAILED" {
            let reason = body["Reason"].as_str().unwrap_or("");
            assert!(!reason.is_empty() && reason.len() < 4000, "{ctx}: readable reason: {reason}");
        }
        self.clear();
        let mut names = vec![body["PhysicalResourceId"].as_str().unwrap().to_string(), name.to_string()];
        if case.op == Op::UpdateReplace {
            names.push(format!("{name}-new"));
        }
        cleanup(h, logical, &names, base, ctx).await;
        format!("{:?} {status}", case.op)
    }
}

/// What CloudFormation would do next: Delete every physical id involved, without faults; nothing may remain.
async fn cleanup(h: &Harness, logical: &str, names: &[String], props: &Value, ctx: &str) {
    let mut names = names.to_vec();
    names.sort();
    names.dedup();
    for n in &names {
        let r = h.send(&delete(logical, n, props.clone(), &h.url())).await;
        assert_eq!(r["Status"], "SUCCESS", "{ctx}: cleanup Delete of {n}: {r}");
    }
    for n in &names {
        assert!(h.role(n).await.is_none(), "{ctx}: role {n} left behind");
        assert!(!h.profile_exists(n).await, "{ctx}: instance profile {n} left behind");
        assert!(h.record(n).await.is_none(), "{ctx}: state item {n} left behind");
    }
}

/// The matrix in 8 shards, each its own test (and moto): the cases mostly wait (hangs, latency, a slow
/// ResponseURL), so the shards overlap well.
const SHARDS: usize = 8;

macro_rules! shards {
    ($($name:ident = $index:literal),*) => {$(
        #[tokio::test]
        async fn $name() {
            run_shard($index, SHARDS).await;
        }
    )*};
}

shards!(
    fault_matrix_shard_0 = 0,
    fault_matrix_shard_1 = 1,
    fault_matrix_shard_2 = 2,
    fault_matrix_shard_3 = 3,
    fault_matrix_shard_4 = 4,
    fault_matrix_shard_5 = 5,
    fault_matrix_shard_6 = 6,
    fault_matrix_shard_7 = 7
);

#[test]
fn every_case_is_in_exactly_one_shard_and_the_shards_are_even() {
    let mut sizes = [0usize; SHARDS];
    for c in matrix() {
        sizes[shard_of(c.id, SHARDS)] += 1;
    }
    assert_eq!(sizes.iter().sum::<usize>(), matrix().len());
    assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "{sizes:?}");
}

#[test]
fn the_matrix_has_at_least_200_cases_covering_every_op_and_fault() {
    let m = matrix();
    assert!(m.len() >= 200, "{}", m.len());
    for op in OPS {
        for f in faults() {
            assert!(m.iter().any(|c| c.op == op && c.fault == f));
        }
    }
}

#[tokio::test]
async fn a_refused_response_url_is_given_up_on_before_the_deadline() {
    let h = Harness::new().await;
    let closed = format!("http://127.0.0.1:{}/cfn-response", free_port());
    let req = request("Create", "Nodes", json!({"RoleName": "nodes"}), &closed);
    let req = h.aimed(&req).await;
    let started = Instant::now();
    let status = cfn::handle(&req, &h.app, &invocation(Duration::from_secs(3))).await;
    assert_eq!(status, cfn::response::Status::Success, "the work was done");
    assert!(started.elapsed() < Duration::from_secs(3), "gave up at the deadline: {:?}", started.elapsed());
}
