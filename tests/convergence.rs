//! Convergence: random sequences of outside changes (detach, attach, trust edits, boundary, instance profile
//! removal and deletion), with their events duplicated, reordered and lost, interleaved with the tool's own
//! actions and a stack Delete. After the sequence plus one sweep, a managed role matches its desired state
//! exactly; an unmanaged or deleting role is exactly as the outside changes left it.
//!
//! Seeded and reproducible: `CONVERGENCE_CASES` (default 500, split over 4 shards) and `CONVERGENCE_SEED`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::*;
use eks_node_role_guard::state::StateStore;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Value};

const POLICIES: [&str; 5] = [
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Managed,
    Unmanaged,
    Deleting,
}

#[derive(Debug, Clone, PartialEq)]
enum Change {
    Detach(usize),
    Attach(usize),
    Trust(u8),
    PutBoundary,
    DeleteBoundary,
    RemoveFromProfile,
    DeleteProfile,
    /// The tool's own Update (same properties): its events carry the tool's principal.
    ToolUpdate,
    StackDelete,
}

#[derive(Debug, Clone)]
struct Scenario {
    kind: Kind,
    ipv6: bool,
    cni: bool,
    extra: bool,
    boundary: bool,
    profile: bool,
    changes: Vec<Change>,
    /// Delivery order (a permutation key per event), duplicates and losses.
    order: Vec<u32>,
    duplicate: Vec<bool>,
    lose: Vec<bool>,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        4 => (0..POLICIES.len()).prop_map(Change::Detach),
        2 => (0..POLICIES.len()).prop_map(Change::Attach),
        2 => (0u8..3).prop_map(Change::Trust),
        1 => Just(Change::PutBoundary),
        1 => Just(Change::DeleteBoundary),
        2 => Just(Change::RemoveFromProfile),
        1 => Just(Change::DeleteProfile),
        1 => Just(Change::ToolUpdate),
        1 => Just(Change::StackDelete),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop_oneof![6 => Just(Kind::Managed), 1 => Just(Kind::Unmanaged), 1 => Just(Kind::Deleting)],
        any::<(bool, bool, bool, bool, bool)>(),
        prop::collection::vec(change(), 1..8),
        prop::collection::vec(any::<u32>(), 16),
        prop::collection::vec(any::<bool>(), 16),
        prop::collection::vec(prop::bool::weighted(0.2), 16),
    )
        .prop_map(|(kind, (ipv6, cni, extra, boundary, profile), changes, order, duplicate, lose)| Scenario {
            kind,
            ipv6,
            cni,
            extra,
            boundary,
            profile,
            changes,
            order,
            duplicate,
            lose,
        })
}

/// What can be observed of a role, for before/after comparisons.
#[derive(Debug, PartialEq)]
struct Snapshot {
    exists: bool,
    attached: BTreeSet<String>,
    trust: Value,
    boundary: Option<String>,
    profiles: Vec<String>,
    tags: BTreeMap<String, String>,
}

async fn snapshot(h: &Harness, role: &str) -> Snapshot {
    let Some(r) = h.role(role).await else {
        return Snapshot {
            exists: false,
            attached: BTreeSet::new(),
            trust: Value::Null,
            boundary: None,
            profiles: vec![],
            tags: BTreeMap::new(),
        };
    };
    let tags = h.tags(role).await;
    Snapshot {
        exists: true,
        attached: h.attached(role).await,
        trust: h.trust(role).await,
        boundary: r.permissions_boundary().and_then(|b| b.permissions_boundary_arn()).map(str::to_string),
        profiles: h.profiles_of(role).await,
        tags,
    }
}

fn event(name: &str, params: Value) -> Value {
    let mut e = drift_event("drift-detach-role-policy.json", "x");
    e["detail"]["eventName"] = json!(name);
    e["detail"]["requestParameters"] = params;
    e
}

fn trust(variant: u8) -> Value {
    let service = match variant {
        0 => json!("ssm.amazonaws.com"),
        1 => json!(["ec2.amazonaws.com", "eks.amazonaws.com"]),
        _ => json!("ec2.amazonaws.com"),
    };
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})
}

/// One case's role, its stack resource and the properties the stack declares.
struct Case {
    role: String,
    logical: String,
    props: Value,
}

async fn run(h: &Harness, case: usize, s: &Scenario) -> Result<(), TestCaseError> {
    let c = set_up(h, case, s).await?;
    // The outside changes, each with the events CloudTrail would emit.
    let mut events: Vec<Value> = Vec::new();
    let mut deleted_by_stack = false;
    for change in &s.changes {
        if make(h, &c, s, change, &mut deleted_by_stack).await {
            events.extend(events_of(change, &c.role));
        }
    }
    let after_changes = snapshot(h, &c.role).await;
    deliver_unreliably(h, s, events).await;
    // One sweep (over the state table: this case's role, and whatever earlier cases left).
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events"});
    eks_node_role_guard::events::handle(
        &sweep,
        &h.reconciler,
        &h.drift,
        &h.metrics,
        &h.notifier,
        Duration::from_secs(60),
    )
    .await
    .map_err(|e| TestCaseError::fail(format!("sweep: {e}")))?;
    let end = snapshot(h, &c.role).await;
    if deleted_by_stack {
        prop_assert!(!end.exists, "deleted by its stack, then recreated");
    } else if s.kind == Kind::Managed {
        converged(&c, s, &end, &after_changes)?;
    } else {
        prop_assert_eq!(&end, &after_changes, "an unmanaged or deleting role was touched");
    }
    clean_up(h, &c, s, end.exists).await
}

/// The role as the case starts: made by hand (unmanaged) or by its stack (managed, or its Delete begun).
async fn set_up(h: &Harness, case: usize, s: &Scenario) -> Result<Case, TestCaseError> {
    let role = format!("c{case}");
    let path = format!("/conv{case}/");
    let logical = format!("Conv{case}");
    let mut props = json!({"RoleName": role, "Path": path, "IpFamily": if s.ipv6 { "ipv6" } else { "ipv4" },
        "AttachCniPolicy": s.cni.to_string(), "CreateInstanceProfile": s.profile.to_string()});
    if s.extra {
        props["AdditionalPolicyArns"] = json!([POLICIES[3]]);
    }
    if s.boundary {
        props["PermissionsBoundary"] = json!("arn:aws:iam::aws:policy/PowerUserAccess");
    }
    if s.kind == Kind::Unmanaged {
        let create = h.iam.create_role().role_name(&role).path(&path).assume_role_policy_document(trust(2).to_string());
        create.send().await.unwrap();
        h.iam.attach_role_policy().role_name(&role).policy_arn(POLICIES[0]).send().await.unwrap();
    } else {
        let r = h.create(&logical, props.clone()).await;
        prop_assert_eq!(&r["Status"], "SUCCESS", "{}", r);
    }
    if s.kind == Kind::Deleting {
        // The stack's Delete has begun: its item says so.
        let item = h.record(&role).await.unwrap();
        let marked =
            eks_node_role_guard::state::Record { phase: eks_node_role_guard::state::Phase::Deleting, ..item.clone() };
        h.reconciler.store().put(&marked, item.expect()).await.unwrap();
    }
    Ok(Case { role, logical, props })
}

/// Makes one change; `false` when IAM (or the stack) refused it, so no event follows.
async fn make(h: &Harness, c: &Case, s: &Scenario, change: &Change, deleted_by_stack: &mut bool) -> bool {
    let (iam, role) = (&h.iam, c.role.as_str());
    match change {
        Change::Detach(i) => iam.detach_role_policy().role_name(role).policy_arn(POLICIES[*i]).send().await.is_ok(),
        Change::Attach(i) => iam.attach_role_policy().role_name(role).policy_arn(POLICIES[*i]).send().await.is_ok(),
        Change::Trust(v) => {
            let req = iam.update_assume_role_policy().role_name(role).policy_document(trust(*v).to_string());
            req.send().await.is_ok()
        }
        Change::PutBoundary => {
            let boundary = "arn:aws:iam::aws:policy/ReadOnlyAccess";
            let req = iam.put_role_permissions_boundary().role_name(role).permissions_boundary(boundary);
            req.send().await.is_ok()
        }
        Change::DeleteBoundary => iam.delete_role_permissions_boundary().role_name(role).send().await.is_ok(),
        Change::RemoveFromProfile => {
            let req = iam.remove_role_from_instance_profile().role_name(role).instance_profile_name(role);
            req.send().await.is_ok()
        }
        Change::DeleteProfile => {
            let _ = iam.remove_role_from_instance_profile().role_name(role).instance_profile_name(role).send().await;
            iam.delete_instance_profile().instance_profile_name(role).send().await.is_ok()
        }
        Change::ToolUpdate => {
            s.kind == Kind::Managed && !*deleted_by_stack && {
                let r = h.send(&update(&c.logical, role, c.props.clone(), c.props.clone(), &h.url())).await;
                r["Status"] == "SUCCESS"
            }
        }
        Change::StackDelete => {
            s.kind != Kind::Unmanaged && !*deleted_by_stack && {
                let r = h.send(&delete(&c.logical, role, c.props.clone(), &h.url())).await;
                *deleted_by_stack = r["Status"] == "SUCCESS";
                *deleted_by_stack
            }
        }
    }
}

/// The CloudTrail events a change emits (the tool's own calls marked as such).
fn events_of(change: &Change, role: &str) -> Vec<Value> {
    let p = |extra: Value| {
        let mut v = json!({"roleName": role});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    match change {
        Change::Detach(i) => vec![event("DetachRolePolicy", p(json!({"policyArn": POLICIES[*i]})))],
        Change::Attach(i) => vec![event("AttachRolePolicy", p(json!({"policyArn": POLICIES[*i]})))],
        Change::Trust(_) => vec![event("UpdateAssumeRolePolicy", p(json!({})))],
        Change::PutBoundary => vec![event("PutRolePermissionsBoundary", p(json!({})))],
        Change::DeleteBoundary => vec![event("DeleteRolePermissionsBoundary", p(json!({})))],
        Change::RemoveFromProfile => {
            vec![event("RemoveRoleFromInstanceProfile", p(json!({"instanceProfileName": role})))]
        }
        Change::DeleteProfile => vec![
            event("RemoveRoleFromInstanceProfile", p(json!({"instanceProfileName": role}))),
            event("DeleteInstanceProfile", json!({"instanceProfileName": role})),
        ],
        Change::ToolUpdate => vec![as_own_call(event("DetachRolePolicy", p(json!({"policyArn": POLICIES[0]}))))],
        Change::StackDelete => POLICIES
            .iter()
            .map(|pol| as_own_call(event("DetachRolePolicy", p(json!({"policyArn": pol})))))
            .chain([as_own_call(event("DeleteRole", p(json!({}))))])
            .collect(),
    }
}

/// Delivery as EventBridge gives it: best effort, unordered, sometimes twice.
async fn deliver_unreliably(h: &Harness, s: &Scenario, events: Vec<Value>) {
    let mut delivery: Vec<(u32, Value)> = Vec::new();
    for (i, e) in events.into_iter().enumerate() {
        let k = i % 16;
        if s.lose[k] {
            continue;
        }
        if s.duplicate[k] {
            delivery.push((s.order[(k + 7) % 16], e.clone()));
        }
        delivery.push((s.order[k], e));
    }
    delivery.sort_by_key(|(k, _)| *k);
    for (_, e) in &delivery {
        let _ = h.deliver(e).await;
    }
}

/// A managed role ends exactly in its desired state: the procedure's trust policy, every required policy, the
/// boundary asked for, the instance profile; outside attachments are not the tool's to undo.
fn converged(c: &Case, s: &Scenario, end: &Snapshot, after_changes: &Snapshot) -> Result<(), TestCaseError> {
    prop_assert_eq!(&end.trust, &trust(2));
    let mut required: BTreeSet<String> =
        ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly"].iter().map(|s| s.to_string()).collect();
    if s.cni {
        required.insert(if s.ipv6 { "AmazonEKS_CNI_IPv6_Policy" } else { "AmazonEKS_CNI_Policy" }.into());
    }
    if s.extra {
        required.insert("AmazonSSMManagedInstanceCore".into());
    }
    prop_assert!(
        required.is_subset(&end.attached),
        "missing {:?}",
        required.difference(&end.attached).collect::<Vec<_>>()
    );
    let outside: BTreeSet<String> = end.attached.difference(&required).cloned().collect();
    prop_assert!(outside.is_subset(&after_changes.attached), "the tool attached {:?}", outside);
    let want_boundary = s.boundary.then(|| "arn:aws:iam::aws:policy/PowerUserAccess".to_string());
    prop_assert_eq!(&end.boundary, &want_boundary);
    let want_profiles = if s.profile { vec![c.role.clone()] } else { vec![] };
    prop_assert_eq!(&end.profiles, &want_profiles);
    Ok(())
}

/// Leaves moto small for the next case.
async fn clean_up(h: &Harness, c: &Case, s: &Scenario, exists: bool) -> Result<(), TestCaseError> {
    if exists {
        if s.kind != Kind::Unmanaged {
            let d = h.send(&delete(&c.logical, &c.role, c.props.clone(), &h.url())).await;
            prop_assert_eq!(&d["Status"], "SUCCESS", "{}", d);
        } else {
            for p in h.attached(&c.role).await {
                h.detach(&c.role, &format!("arn:aws:iam::aws:policy/{p}")).await;
            }
            h.iam.delete_role().role_name(&c.role).send().await.unwrap();
        }
    }
    let _ = h.iam.delete_instance_profile().instance_profile_name(&c.role).send().await;
    Ok(())
}

fn shard(index: usize, shards: usize) {
    let total: usize = std::env::var("CONVERGENCE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    let seed: u64 = std::env::var("CONVERGENCE_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(20261129);
    let cases = total.div_ceil(shards) as u32;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let h = rt.block_on(Harness::new());
    rt.block_on(h.make_ipv6_policy(&eks_node_role_guard::domain::policies::cni_ipv6_policy_document(
        eks_node_role_guard::domain::Partition::Aws,
    )));
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8] = index as u8;
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 64, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let counter = std::sync::atomic::AtomicUsize::new(index * 1_000_000);
    runner
        .run(&scenario(), |s| {
            let case = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            rt.block_on(run(&h, case, &s))
        })
        .unwrap_or_else(|e| panic!("seed {seed}, shard {index}: {e}"));
    println!("shard {index}: {cases} cases converged (seed {seed})");
}

#[test]
fn converges_shard_0() {
    shard(0, 4);
}
#[test]
fn converges_shard_1() {
    shard(1, 4);
}
#[test]
fn converges_shard_2() {
    shard(2, 4);
}
#[test]
fn converges_shard_3() {
    shard(3, 4);
}
