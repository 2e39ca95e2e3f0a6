//! Convergence: random sequences of outside changes (detach, attach, trust edits, boundary, instance profile
//! removal and deletion), with their events duplicated, reordered and lost, interleaved with the tool's own
//! actions and a stack Delete. After the sequence plus one sweep, a managed role matches its desired state
//! exactly; an unmanaged or deleting role is exactly as the outside changes left it.
//!
//! The same driver runs on moto through the SDK (`CONVERGENCE_CASES`, default 120, over 4 shards) and on the
//! in-memory adapters (`CONVERGENCE_MEMORY_CASES`, default 1000). Seeded and reproducible: `CONVERGENCE_SEED`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use eks_node_role_guard::domain::{Action, Partition, PolicyArn, RoleName};
use eks_node_role_guard::state::StateStore;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Value};
use test_support::memory::MemoryAccount;
use test_support::*;

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

impl Snapshot {
    fn gone() -> Snapshot {
        Snapshot {
            exists: false,
            attached: BTreeSet::new(),
            trust: Value::Null,
            boundary: None,
            profiles: vec![],
            tags: BTreeMap::new(),
        }
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

/// Where a case runs: moto behind the SDK, or the in-memory adapters (which pass the same contract tests).
trait Account {
    /// A stack request for the resource; whether it succeeded.
    async fn request(&self, kind: &str, c: &Case) -> bool;
    /// A role made by hand at `path`, with the procedure's trust and the worker policy.
    async fn make_unmanaged(&self, role: &str, path: &str);
    /// The stack's Delete has begun: its item says so.
    async fn mark_deleting(&self, role: &str);
    /// A change made by hand; `false` when IAM refused it (then no event follows).
    async fn change(&self, role: &str, change: &Change) -> bool;
    async fn deliver(&self, event: &Value);
    async fn sweep(&self) -> Result<(), String>;
    async fn snapshot(&self, role: &str) -> Snapshot;
    /// Removes a role made by hand, and any profile of its name.
    async fn remove(&self, role: &str);
}

struct OnMoto(Harness);

impl Account for OnMoto {
    async fn request(&self, kind: &str, c: &Case) -> bool {
        let h = &self.0;
        let r = match kind {
            "Create" => h.create(&c.logical, c.props.clone()).await,
            "Update" => h.send(&update(&c.logical, &c.role, c.props.clone(), c.props.clone(), &h.url())).await,
            _ => h.send(&delete(&c.logical, &c.role, c.props.clone(), &h.url())).await,
        };
        r["Status"] == "SUCCESS"
    }

    async fn make_unmanaged(&self, role: &str, path: &str) {
        let iam = &self.0.iam;
        let create = iam.create_role().role_name(role).path(path).assume_role_policy_document(trust(2).to_string());
        create.send().await.unwrap();
        iam.attach_role_policy().role_name(role).policy_arn(POLICIES[0]).send().await.unwrap();
    }

    async fn mark_deleting(&self, role: &str) {
        let item = self.0.record(role).await.unwrap();
        let marked =
            eks_node_role_guard::state::Record { phase: eks_node_role_guard::state::Phase::Deleting, ..item.clone() };
        self.0.store.put(&marked, item.expect()).await.unwrap();
    }

    async fn change(&self, role: &str, change: &Change) -> bool {
        let iam = &self.0.iam;
        match change {
            Change::Detach(i) => iam.detach_role_policy().role_name(role).policy_arn(POLICIES[*i]).send().await.is_ok(),
            Change::Attach(i) => iam.attach_role_policy().role_name(role).policy_arn(POLICIES[*i]).send().await.is_ok(),
            Change::Trust(v) => {
                let req = iam.update_assume_role_policy().role_name(role).policy_document(trust(*v).to_string());
                req.send().await.is_ok()
            }
            Change::PutBoundary => {
                let req = iam.put_role_permissions_boundary().role_name(role).permissions_boundary(OUTSIDE_BOUNDARY);
                req.send().await.is_ok()
            }
            Change::DeleteBoundary => iam.delete_role_permissions_boundary().role_name(role).send().await.is_ok(),
            Change::RemoveFromProfile => {
                let req = iam.remove_role_from_instance_profile().role_name(role).instance_profile_name(role);
                req.send().await.is_ok()
            }
            Change::DeleteProfile => {
                let _ =
                    iam.remove_role_from_instance_profile().role_name(role).instance_profile_name(role).send().await;
                iam.delete_instance_profile().instance_profile_name(role).send().await.is_ok()
            }
            Change::ToolUpdate | Change::StackDelete => unreachable!("stack changes go through request"),
        }
    }

    async fn deliver(&self, event: &Value) {
        let _ = self.0.deliver(event).await;
    }

    async fn sweep(&self) -> Result<(), String> {
        let h = &self.0;
        deliver_to(&h.app, &sweep_event(), MINUTE).await.map(drop).map_err(|e| e.to_string())
    }

    async fn snapshot(&self, role: &str) -> Snapshot {
        let h = &self.0;
        let Some(r) = h.role(role).await else { return Snapshot::gone() };
        Snapshot {
            exists: true,
            attached: h.attached(role).await,
            trust: h.trust(role).await,
            boundary: r.permissions_boundary().and_then(|b| b.permissions_boundary_arn()).map(str::to_string),
            profiles: h.profiles_of(role).await,
            tags: h.tags(role).await,
        }
    }

    async fn remove(&self, role: &str) {
        let h = &self.0;
        if h.role(role).await.is_some() {
            for p in h.attached(role).await {
                h.detach(role, &format!("arn:aws:iam::aws:policy/{p}")).await;
            }
            h.iam.delete_role().role_name(role).send().await.unwrap();
        }
        let _ = h.iam.delete_instance_profile().instance_profile_name(role).send().await;
    }
}

const OUTSIDE_BOUNDARY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const MINUTE: Duration = Duration::from_secs(60);

fn sweep_event() -> Value {
    json!({"detail-type": "Scheduled Event", "source": "aws.events"})
}

/// The same account on the in-memory adapters (IAM, the state table, CloudFormation), with the IPv6 CNI policy.
struct InMemory(MemoryAccount);

impl InMemory {
    async fn new() -> InMemory {
        let mut a = MemoryAccount::new(rules()).await;
        a.drift.own_role = Some(OWN_ROLE.into());
        a.iam.put_policy(
            &PolicyArn::parse(IPV6_POLICY_ARN, "test").unwrap(),
            eks_node_role_guard::domain::policies::cni_ipv6_policy_document(Partition::Aws),
        );
        InMemory(a)
    }

    fn by_hand(&self, role: &str, action: &Action) -> bool {
        self.0.iam.outside(role, action).is_ok()
    }
}

impl Account for InMemory {
    async fn request(&self, kind: &str, c: &Case) -> bool {
        let physical = (kind != "Create").then_some(c.role.as_str());
        let answer = self.0.cfn(kind, &c.logical, physical, c.props.clone(), c.props.clone()).await;
        if answer["Status"] != "SUCCESS" {
            eprintln!("{kind} of {}: {answer}", c.role);
        }
        answer["Status"] == "SUCCESS"
    }

    async fn make_unmanaged(&self, role: &str, path: &str) {
        let create = Action::CreateRole {
            path: eks_node_role_guard::domain::RolePath::parse(path).unwrap(),
            trust: trust(2),
            description: None,
            boundary: None,
            tags: BTreeMap::new(),
        };
        assert!(self.by_hand(role, &create));
        assert!(self.by_hand(role, &Action::AttachPolicy(arn(POLICIES[0]))));
    }

    async fn mark_deleting(&self, role: &str) {
        let name = RoleName::parse(role).unwrap();
        let item = self.0.store.get(&name).await.unwrap().unwrap();
        let marked =
            eks_node_role_guard::state::Record { phase: eks_node_role_guard::state::Phase::Deleting, ..item.clone() };
        self.0.store.put(&marked, item.expect()).await.unwrap();
    }

    async fn change(&self, role: &str, change: &Change) -> bool {
        // IAM refuses what would change nothing (NoSuchEntity); the in-memory IAM forgives removals, so ask first.
        let live = self.0.iam.role(role);
        let Some(live) = live else { return false };
        let in_profile = live.instance_profiles.iter().any(|p| p.name.eq_ignore_ascii_case(role));
        match change {
            Change::Detach(i) => {
                live.attached.contains(&arn(POLICIES[*i]))
                    && self.by_hand(role, &Action::DetachPolicy(arn(POLICIES[*i])))
            }
            Change::Attach(i) => self.by_hand(role, &Action::AttachPolicy(arn(POLICIES[*i]))),
            Change::Trust(v) => self.by_hand(role, &Action::UpdateTrust(trust(*v))),
            Change::PutBoundary => self.by_hand(role, &Action::PutBoundary(arn(OUTSIDE_BOUNDARY))),
            Change::DeleteBoundary => live.boundary.is_some() && self.by_hand(role, &Action::DeleteBoundary),
            Change::RemoveFromProfile => {
                in_profile && self.by_hand(role, &Action::RemoveFromInstanceProfile(role.into()))
            }
            Change::DeleteProfile => {
                if in_profile {
                    self.by_hand(role, &Action::RemoveFromInstanceProfile(role.into()));
                }
                self.0.iam.profile_exists(role) && self.by_hand(role, &Action::DeleteInstanceProfile(role.into()))
            }
            Change::ToolUpdate | Change::StackDelete => unreachable!("stack changes go through request"),
        }
    }

    async fn deliver(&self, event: &Value) {
        let _ = self.0.deliver(event).await;
    }

    async fn sweep(&self) -> Result<(), String> {
        self.0.deliver(&sweep_event()).await.map(drop).map_err(|e| e.to_string())
    }

    async fn snapshot(&self, role: &str) -> Snapshot {
        let Some(r) = self.0.iam.role(role) else { return Snapshot::gone() };
        Snapshot {
            exists: true,
            attached: r.attached.iter().map(|p| p.name().to_string()).collect(),
            trust: r.trust.clone().unwrap_or(Value::Null),
            boundary: r.boundary.map(|b| b.to_string()),
            profiles: r.instance_profiles.iter().map(|p| p.name.clone()).collect(),
            tags: r.tags,
        }
    }

    async fn remove(&self, role: &str) {
        if let Some(r) = self.0.iam.role(role) {
            for p in &r.attached {
                self.by_hand(role, &Action::DetachPolicy(p.clone()));
            }
            for p in &r.instance_profiles {
                self.by_hand(role, &Action::RemoveFromInstanceProfile(p.name.clone()));
            }
            assert!(self.by_hand(role, &Action::DeleteRole));
        }
        self.by_hand(role, &Action::DeleteInstanceProfile(role.into()));
    }
}

fn arn(s: &str) -> PolicyArn {
    PolicyArn::parse(s, "test").unwrap()
}

/// One case's role, its stack resource and the properties the stack declares.
struct Case {
    role: String,
    logical: String,
    props: Value,
}

async fn run<A: Account>(a: &A, case: usize, s: &Scenario) -> Result<(), TestCaseError> {
    let c = set_up(a, case, s).await?;
    // The outside changes, each with the events CloudTrail would emit.
    let mut events: Vec<Value> = Vec::new();
    let mut deleted_by_stack = false;
    for change in &s.changes {
        let made = match change {
            Change::ToolUpdate => s.kind == Kind::Managed && !deleted_by_stack && a.request("Update", &c).await,
            Change::StackDelete => {
                let deleted = s.kind != Kind::Unmanaged && !deleted_by_stack && a.request("Delete", &c).await;
                deleted_by_stack |= deleted;
                deleted
            }
            other => a.change(&c.role, other).await,
        };
        if made {
            events.extend(events_of(change, &c.role));
        }
    }
    let after_changes = a.snapshot(&c.role).await;
    deliver_unreliably(a, s, events).await;
    // One sweep (over the state table: this case's role, and whatever earlier cases left).
    a.sweep().await.map_err(|e| TestCaseError::fail(format!("sweep: {e}")))?;
    let end = a.snapshot(&c.role).await;
    if deleted_by_stack {
        prop_assert!(!end.exists, "deleted by its stack, then recreated");
    } else if s.kind == Kind::Managed {
        converged(&c, s, &end, &after_changes)?;
    } else {
        prop_assert_eq!(&end, &after_changes, "an unmanaged or deleting role was touched");
    }
    // Leave the account small for the next case.
    if end.exists && s.kind != Kind::Unmanaged {
        prop_assert!(a.request("Delete", &c).await, "the stack's Delete cleans up");
    }
    a.remove(&c.role).await;
    Ok(())
}

/// The role as the case starts: made by hand (unmanaged) or by its stack (managed, or its Delete begun).
async fn set_up<A: Account>(a: &A, case: usize, s: &Scenario) -> Result<Case, TestCaseError> {
    let role = format!("c{case}");
    let path = format!("/conv{case}/");
    let mut props = json!({"RoleName": role, "Path": path, "IpFamily": if s.ipv6 { "ipv6" } else { "ipv4" },
        "AttachCniPolicy": s.cni.to_string(), "CreateInstanceProfile": s.profile.to_string()});
    if s.extra {
        props["AdditionalPolicyArns"] = json!([POLICIES[3]]);
    }
    if s.boundary {
        props["PermissionsBoundary"] = json!("arn:aws:iam::aws:policy/PowerUserAccess");
    }
    let c = Case { logical: format!("Conv{case}"), role, props };
    if s.kind == Kind::Unmanaged {
        a.make_unmanaged(&c.role, &path).await;
    } else {
        prop_assert!(a.request("Create", &c).await, "Create of {}", c.props);
    }
    if s.kind == Kind::Deleting {
        a.mark_deleting(&c.role).await;
    }
    Ok(c)
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
async fn deliver_unreliably<A: Account>(a: &A, s: &Scenario, events: Vec<Value>) {
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
        a.deliver(e).await;
    }
}

/// A managed role ends exactly in its desired state: the procedure's trust policy, every required policy, the
/// boundary asked for, the instance profile; outside attachments, and an outside boundary the installation does not
/// allow removing, are not the tool's to undo.
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
    // The boundary asked for; without one, a boundary put from outside that the installation does not allow
    // removing (`OUTSIDE_BOUNDARY`) stays where it was.
    let kept = after_changes.boundary.clone().filter(|b| b == OUTSIDE_BOUNDARY);
    let want_boundary = if s.boundary { Some("arn:aws:iam::aws:policy/PowerUserAccess".to_string()) } else { kept };
    prop_assert_eq!(&end.boundary, &want_boundary);
    let want_profiles = if s.profile { vec![c.role.clone()] } else { vec![] };
    prop_assert_eq!(&end.profiles, &want_profiles);
    Ok(())
}

/// Runs `cases` seeded cases against the account `make` builds.
fn check<A: Account, F: std::future::Future<Output = A>>(
    name: &str,
    index: usize,
    cases: u32,
    make: impl FnOnce() -> F,
) {
    let seed: u64 = std::env::var("CONVERGENCE_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(20261129);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let account = rt.block_on(make());
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8] = index as u8;
    bytes[9] = name.len() as u8;
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 64, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let counter = std::sync::atomic::AtomicUsize::new(index * 1_000_000);
    runner
        .run(&scenario(), |s| {
            let case = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            rt.block_on(run(&account, case, &s))
        })
        .unwrap_or_else(|e| panic!("{name}: seed {seed}, shard {index}: {e}"));
    println!("{name} shard {index}: {cases} cases converged (seed {seed})");
}

fn cases(var: &str, default: u32) -> u32 {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// On moto, through the SDK: `CONVERGENCE_CASES` (default 120) over 4 shards.
fn on_moto(index: usize) {
    let per_shard = cases("CONVERGENCE_CASES", 120).div_ceil(4);
    check("moto", index, per_shard, || async {
        let h = Harness::new().await;
        h.make_ipv6_policy(&eks_node_role_guard::domain::policies::cni_ipv6_policy_document(Partition::Aws)).await;
        OnMoto(h)
    });
}

#[test]
fn converges_on_moto_shard_0() {
    on_moto(0);
}
#[test]
fn converges_on_moto_shard_1() {
    on_moto(1);
}
#[test]
fn converges_on_moto_shard_2() {
    on_moto(2);
}
#[test]
fn converges_on_moto_shard_3() {
    on_moto(3);
}

/// The same property on the in-memory adapters, many more cases: `CONVERGENCE_MEMORY_CASES` (default 1000).
#[test]
fn converges_in_memory() {
    check("memory", 9, cases("CONVERGENCE_MEMORY_CASES", 1000), InMemory::new);
}
