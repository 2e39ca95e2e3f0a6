//! The lifecycle and drift repair on the in-memory adapters (IAM, state store, CloudFormation): the same core as
//! in production, in milliseconds, no server but a local ResponseURL listener. The adapters keep the same
//! contracts as DynamoDB and IAM on moto (`state::contract`, `iam::contract`); moto, the emulator, faults and
//! convergence prove the rest.

use eks_node_role_guard::domain::reach::Allowances;
use eks_node_role_guard::domain::{policies, Action, Partition, PolicyArn};
use eks_node_role_guard::metrics::Metric;
use eks_node_role_guard::state::{Phase, StateStore};
use serde_json::{json, Value};
use test_support::memory::{MemoryAccount, MEMORY_OWN_ROLE, MEMORY_STACK as STACK};
use test_support::names;

const WORKER: &str = "AmazonEKSWorkerNodePolicy";
const ECR: &str = "AmazonEC2ContainerRegistryPullOnly";
const CNI: &str = "AmazonEKS_CNI_Policy";

fn aws(name: &str) -> PolicyArn {
    PolicyArn::aws_managed(Partition::Aws, name)
}

/// One account: in-memory IAM, state table and CloudFormation, a stack in progress holding `NodeRole`.
/// One account on the in-memory adapters (IAM, state table, CloudFormation), with the node role `nodes` of the
/// stack resource `NodeRole` as most scenarios use it.
struct World(MemoryAccount);

impl std::ops::Deref for World {
    type Target = MemoryAccount;
    fn deref(&self) -> &MemoryAccount {
        &self.0
    }
}

impl std::ops::DerefMut for World {
    fn deref_mut(&mut self) -> &mut MemoryAccount {
        &mut self.0
    }
}

impl World {
    async fn new() -> World {
        let mut rules = Allowances::defaults(Partition::Aws);
        rules.allowed_boundaries.insert(PolicyArn::aws_managed(Partition::Aws, test_support::BOUNDARY));
        World(MemoryAccount::new(rules).await)
    }

    /// Sends a request for `NodeRole` (physical id `nodes`) and returns CloudFormation's answer.
    async fn send(&self, kind: &str, props: Value) -> Value {
        let physical = (kind != "Create").then_some("nodes");
        self.cfn(kind, "NodeRole", physical, props, json!({"RoleName": "nodes"})).await
    }

    async fn create_as(&self, logical: &str, props: Value) -> Value {
        self.cfn("Create", logical, None, props, Value::Null).await
    }

    async fn update_as(&self, logical: &str, physical: &str, props: Value, old: Value) -> Value {
        self.cfn("Update", logical, Some(physical), props, old).await
    }

    async fn delete_as(&self, logical: &str, physical: &str, props: Value) -> Value {
        self.cfn("Delete", logical, Some(physical), props, Value::Null).await
    }

    /// Every role of the account, by name.
    async fn roles(&self) -> Vec<String> {
        eks_node_role_guard::iam::NodeRoleIam::list_roles(&self.iam, None)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect()
    }

    /// A managed node role `nodes`, made by a Create.
    async fn managed(props: Value) -> World {
        let w = World::new().await;
        let r = w.send("Create", props).await;
        assert_eq!(r["Status"], "SUCCESS", "{r}");
        w
    }

    /// A person changes the role in the console, and CloudTrail's event for `event_name` arrives.
    async fn outside(&self, change: Action, event_name: &str) -> String {
        self.iam.outside("nodes", &change).unwrap();
        self.event(event_name, "nodes").await
    }

    async fn event(&self, event_name: &str, role: &str) -> String {
        let out = self.deliver(&cloudtrail(event_name, json!({"roleName": role}))).await.unwrap();
        out["outcomes"][0]["outcome"].as_str().or(out["outcome"].as_str()).unwrap_or("?").to_string()
    }

    fn attached(&self, role: &str) -> std::collections::BTreeSet<String> {
        self.iam.role(role).map(|r| r.attached.iter().map(|p| p.name().to_string()).collect()).unwrap_or_default()
    }
}

/// CloudTrail's event for a call alice made (`params` are its requestParameters).
fn cloudtrail(event_name: &str, params: Value) -> Value {
    json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.iam", "id": "e",
        "detail": {"eventSource": "iam.amazonaws.com", "eventName": event_name, "eventID": "ct-1",
            "requestParameters": params, "userIdentity": {"arn": "arn:aws:iam::123456789012:user/alice"}}})
}

fn trust_of(services: &[&str]) -> Value {
    json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":services},"Action":"sts:AssumeRole"}]})
}

/// A scenario's node role `nodes`, built step by step: what its stack declares, then what people did to it.
/// `Role::managed().without(WORKER).world().await` is a managed role whose worker policy was detached by hand.
struct Role {
    managed: bool,
    props: Value,
    changes: Vec<Action>,
}

impl Role {
    /// Made by its stack (`Custom::EksNodeRole` with `RoleName: nodes`).
    fn managed() -> Role {
        Role { managed: true, props: json!({"RoleName": "nodes"}), changes: vec![] }
    }

    /// Made by hand with the procedure's trust and policies, not under the guard.
    fn unmanaged() -> Role {
        Role { managed: false, props: Value::Null, changes: vec![] }
    }

    /// A property of its stack resource.
    fn with(mut self, property: &str, value: &str) -> Role {
        self.props[property] = json!(value);
        self
    }

    /// Someone detached `policy`.
    fn without(mut self, policy: &str) -> Role {
        self.changes.push(Action::DetachPolicy(aws(policy)));
        self
    }

    /// Someone replaced the trust policy.
    fn trusting(mut self, services: &[&str]) -> Role {
        self.changes.push(Action::UpdateTrust(trust_of(services)));
        self
    }

    /// Someone put a permissions boundary on it.
    fn bounded_by(mut self, policy: &str) -> Role {
        self.changes.push(Action::PutBoundary(aws(policy)));
        self
    }

    /// Someone removed its permissions boundary.
    fn unbounded(mut self) -> Role {
        self.changes.push(Action::DeleteBoundary);
        self
    }

    /// Someone took it out of its instance profile (and deleted the profile, with `deleted`).
    fn out_of_its_profile(mut self, deleted: bool) -> Role {
        self.changes.push(Action::RemoveFromInstanceProfile("nodes".into()));
        if deleted {
            self.changes.push(Action::DeleteInstanceProfile("nodes".into()));
        }
        self
    }

    async fn world(self) -> World {
        let w = if self.managed { World::managed(self.props).await } else { World::new().await };
        if !self.managed {
            w.iam.outside("nodes", &node_role_made_by_hand()).unwrap();
            for p in [WORKER, ECR, CNI] {
                w.iam.outside("nodes", &Action::AttachPolicy(aws(p))).unwrap();
            }
        }
        for change in &self.changes {
            w.iam.outside("nodes", change).unwrap();
        }
        w
    }
}

// The Create itself, the retry and the repair of a detached policy are shared scenarios (`both.rs`).

#[tokio::test]
async fn the_role_is_created_once_with_its_profile_made_alongside_it() {
    let w = World::managed(json!({"RoleName": "nodes"})).await;
    let calls = w.iam.calls();
    assert_eq!(calls.iter().filter(|c| c.starts_with("CreateRole")).count(), 1, "{calls:?}");
    assert!(calls.iter().any(|c| c == "AddRoleToInstanceProfile nodes"), "{calls:?}");
}

#[tokio::test]
async fn tells_people_once_what_was_put_back_and_who_changed_it() {
    let w = World::managed(json!({"RoleName": "nodes"})).await;
    assert_eq!(w.outside(Action::DetachPolicy(aws(WORKER)), "DetachRolePolicy").await, "repaired");
    let sent = w.notifier.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let d = &sent[0].detail;
    assert_eq!(sent[0].detail_type, "EKS Node Role Drift Repaired");
    assert_eq!((d["roleName"].as_str(), d["stackId"].as_str()), (Some("nodes"), Some(STACK)));
    assert_eq!(d["logicalResourceId"], "NodeRole");
    assert_eq!((d["actorName"].as_str(), d["actorSource"].as_str()), (Some("alice"), Some("event")));
    assert_eq!(d["changedBack"], json!(["AttachRolePolicy AmazonEKSWorkerNodePolicy"]));
    assert_eq!(d["policyName"], WORKER);
    assert_eq!(d["mode"], "enforce");
    assert!(
        d["summary"].as_str().unwrap().starts_with("alice detached AmazonEKSWorkerNodePolicy from nodes at "),
        "{d}"
    );
}

#[tokio::test]
async fn events_about_a_role_in_sync_or_not_managed_notify_nobody() {
    let w = World::managed(json!({"RoleName": "nodes"})).await;
    // Whoever may invoke the function can send events: none of these may make it publish anything.
    assert_eq!(w.event("DetachRolePolicy", "nodes").await, "in-sync");
    assert_eq!(w.event("DetachRolePolicy", "someone-elses-role").await, "ignored");
    assert_eq!(w.event("DeleteRole", "never-existed").await, "ignored");
    assert!(w.notifier.sent().is_empty(), "{:?}", w.notifier.sent());
}

#[tokio::test]
async fn a_dry_run_says_what_it_would_put_back_and_changes_nothing() {
    let mut w = World::managed(json!({"RoleName": "nodes"})).await;
    w.drift.global_mode = eks_node_role_guard::domain::RemediationMode::DryRun;
    assert_eq!(w.outside(Action::DetachPolicy(aws(WORKER)), "DetachRolePolicy").await, "would-repair");
    assert_eq!(w.attached("nodes"), names(&[ECR, CNI]));
    let sent = w.notifier.sent();
    assert_eq!(sent.iter().map(|n| n.detail_type).collect::<Vec<_>>(), ["EKS Node Role Drift Found (Dry Run)"]);
    assert_eq!(sent[0].detail["mode"], "dry-run");
}

#[tokio::test]
async fn restores_the_trust_policy_and_leaves_tags_alone() {
    let w = World::managed(json!({"RoleName": "nodes"})).await;
    let tag = Action::TagRole([("eks-node-role-guard:remediation".to_string(), "off".to_string())].into());
    w.iam.outside("nodes", &tag).unwrap();
    let lambda = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]});
    assert_eq!(w.outside(Action::UpdateTrust(lambda), "UpdateAssumeRolePolicy").await, "repaired");
    let role = w.iam.role("nodes").unwrap();
    assert!(policies::same_policy(role.trust.as_ref().unwrap(), &policies::ec2_trust_policy(Partition::Aws)));
    assert!(role.tags.contains_key("eks-node-role-guard:remediation"), "repair never touches tags");
}

#[tokio::test]
async fn the_breaker_opens_after_the_limit_and_tag_edits_cannot_jam_it() {
    let mut w = World::managed(json!({"RoleName": "nodes"})).await;
    w.drift.max_repairs = 2;
    let future = Action::TagRole([("eks-node-role-guard:repairs".to_string(), "4102444800".to_string())].into());
    w.iam.outside("nodes", &future).unwrap();
    for _ in 0..2 {
        assert_eq!(w.outside(Action::DetachPolicy(aws(WORKER)), "DetachRolePolicy").await, "repaired");
    }
    assert_eq!(w.outside(Action::DetachPolicy(aws(WORKER)), "DetachRolePolicy").await, "circuit-open");
    let kinds: Vec<_> = w.notifier.sent().iter().map(|n| n.detail_type).collect();
    assert_eq!(
        kinds,
        [
            "EKS Node Role Drift Repaired",
            "EKS Node Role Drift Repaired",
            "EKS Node Role Drift Repair Stopped (Circuit Open)"
        ]
    );
}

#[tokio::test]
async fn the_breaker_closes_again_once_its_window_has_passed_on_the_clock() {
    let mut w = World::managed(json!({"RoleName": "nodes"})).await;
    let clock = eks_node_role_guard::clock::Clock::fixed(std::time::SystemTime::now());
    w.app.reconciler = w.reconciler.clone().with_clock(clock.clone());
    w.drift.max_repairs = 1;
    let detach = || Action::DetachPolicy(aws(WORKER));
    assert_eq!(w.outside(detach(), "DetachRolePolicy").await, "repaired");
    assert_eq!(w.outside(detach(), "DetachRolePolicy").await, "circuit-open");
    clock.advance(w.drift.window - std::time::Duration::from_secs(1));
    assert_eq!(w.outside(detach(), "DetachRolePolicy").await, "circuit-open", "still inside the window");
    clock.advance(std::time::Duration::from_secs(1));
    assert_eq!(w.outside(detach(), "DetachRolePolicy").await, "repaired", "the window has passed");
    let item = w.store.get(&"nodes".parse_role()).await.unwrap().unwrap();
    assert_eq!(item.repairs, [clock.unix()], "only the repair inside the new window counts");
}

#[tokio::test]
async fn a_copied_label_gives_a_foreign_role_nothing() {
    let w = World::managed(json!({"RoleName": "nodes"})).await;
    let label = w.iam.role("nodes").unwrap().tags;
    let create = Action::CreateRole {
        path: eks_node_role_guard::domain::RolePath::root(),
        trust: json!({"Version":"2012-10-17","Statement":[]}),
        description: None,
        boundary: None,
        tags: label,
    };
    w.iam.outside("app-fn", &create).unwrap();
    let before = w.iam.calls().len();
    assert_eq!(w.event("UpdateAssumeRolePolicy", "app-fn").await, "ignored");
    assert!(w.attached("app-fn").is_empty());
    assert_eq!(w.iam.calls()[before..], [] as [String; 0], "no item: not one IAM call, whatever the role carries");
}

/// IAM's throttling budget is the whole account's: an event about a role the guard does not manage (no item) costs
/// IAM nothing, and one about a managed role costs the reads of that role only.
#[tokio::test]
async fn events_cost_iam_only_for_managed_roles() {
    let w = World::managed(json!({"RoleName": "nodes"})).await;
    w.iam.outside("someone-elses", &made_with(Default::default())).unwrap();
    for name in ["DetachRolePolicy", "UpdateAssumeRolePolicy", "DeleteRole", "PutRolePermissionsBoundary"] {
        let before = w.iam.calls().len();
        assert_eq!(w.event(name, "someone-elses").await, "ignored", "{name}");
        assert!(w.iam.calls().len() == before, "{name}: {:?}", &w.iam.calls()[before..]);
    }
    let before = w.iam.calls().len();
    assert_eq!(w.event("DetachRolePolicy", "nodes").await, "in-sync");
    let reads: Vec<String> = w.iam.calls()[before..].to_vec();
    assert!(reads.iter().all(|c| c.ends_with(" nodes")), "only the managed role's reads: {reads:?}");
    assert!(!reads.is_empty());
}

/// A role as this resource's Create makes it, with these tags (a copied label).
fn made_with(tags: std::collections::BTreeMap<String, String>) -> Action {
    Action::CreateRole {
        path: eks_node_role_guard::domain::RolePath::root(),
        trust: policies::ec2_trust_policy(Partition::Aws),
        description: None,
        boundary: None,
        tags,
    }
}

#[tokio::test]
async fn a_role_made_with_this_resources_label_just_before_create_role_is_taken_only_if_it_holds_nothing() {
    let label = World::managed(json!({"RoleName": "nodes"})).await.iam.role("nodes").unwrap().tags;
    // As a CreateRole whose response was lost and retried finds it: bare, with this resource's label.
    let w = World::new().await;
    w.iam.race_next_create("nodes", made_with(label.clone()), &[]);
    let r = w.send("Create", json!({"RoleName": "nodes"})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert!(w.attached("nodes").contains(WORKER));
    // Hostile: the label copied onto a role made to be taken over, with an inline policy of its own.
    let w = World::new().await;
    w.iam.race_next_create("nodes", made_with(label), &["admin"]);
    let r = w.send("Create", json!({"RoleName": "nodes"})).await;
    assert_eq!(r["Status"], "FAILED");
    let reason = r["Reason"].as_str().unwrap();
    assert!(reason.contains("carries this resource's label but was not made by it"), "{reason}");
    assert!(reason.contains("inline policy 'admin'"), "{reason}");
    assert!(w.attached("nodes").is_empty(), "nothing attached to it");
    // CloudFormation's rollback then deletes the resource: the role the Create refused stays as it is; the
    // instance profile made beside the CreateRole and the item go.
    let r = w.send("Delete", json!({"RoleName": "nodes"})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert!(w.iam.role("nodes").is_some(), "the refused role is left alone");
    assert!(!w.iam.profile_exists("nodes"), "the profile this resource made is removed");
    let name = eks_node_role_guard::domain::RoleName::parse("nodes").unwrap();
    assert!(w.store.get(&name).await.unwrap().is_none(), "the item is removed");
}

#[tokio::test]
async fn a_retried_create_takes_a_labelled_role_only_if_it_holds_nothing() {
    let donor = World::managed(json!({"RoleName": "nodes"})).await;
    let label = donor.iam.role("nodes").unwrap().tags;
    let name = eks_node_role_guard::domain::RoleName::parse("nodes").unwrap();
    let mut item = donor.store.get(&name).await.unwrap().unwrap();
    // The item as the first attempt left it before the process died: written, no RoleId yet.
    item.role_id = None;
    for inline in [vec![], vec!["admin"]] {
        let w = World::new().await;
        w.store.put(&item, eks_node_role_guard::state::Expect::NewOrOwn).await.unwrap();
        w.iam.outside("nodes", &made_with(label.clone())).unwrap();
        for p in &inline {
            w.iam.put_inline_policy("nodes", p);
        }
        let r = w.send("Create", json!({"RoleName": "nodes"})).await;
        if inline.is_empty() {
            assert_eq!(r["Status"], "SUCCESS", "the retry resumes its own creation: {r}");
        } else {
            // Hostile: someone made the role under the label in between.
            assert_eq!(r["Status"], "FAILED");
            let reason = r["Reason"].as_str().unwrap();
            assert!(reason.contains("carries this resource's label but was not made by it"), "{reason}");
            assert!(w.attached("nodes").is_empty(), "nothing attached to it");
            let r = w.send("Delete", json!({"RoleName": "nodes"})).await;
            assert_eq!(r["Status"], "SUCCESS", "the rollback's Delete leaves the role alone: {r}");
            assert!(w.iam.role("nodes").is_some());
        }
    }
}

#[tokio::test]
async fn a_request_of_a_completed_stack_is_refused_and_changes_nothing() {
    let w = World::managed(json!({"RoleName": "nodes"})).await;
    *w.stack_status.lock().unwrap() = Some("UPDATE_COMPLETE");
    let r = w.send("Delete", json!({"RoleName": "nodes"})).await;
    assert_eq!(r["Status"], "FAILED");
    assert!(r["Reason"].as_str().unwrap().contains("not confirmed by CloudFormation"), "{r}");
    assert!(w.iam.role("nodes").is_some());
}

#[tokio::test]
async fn an_update_detaches_what_it_retires_and_delete_removes_role_profile_and_item() {
    let w = World::managed(
        json!({"RoleName": "nodes", "AdditionalPolicyArns": [aws("AmazonSSMManagedInstanceCore").as_str()]}),
    )
    .await;
    assert!(w.attached("nodes").contains("AmazonSSMManagedInstanceCore"));
    let u = w.send("Update", json!({"RoleName": "nodes", "AttachCniPolicy": "false"})).await;
    assert_eq!(u["Status"], "SUCCESS", "{u}");
    assert_eq!(w.attached("nodes"), names(&[WORKER, ECR]));
    let d = w.send("Delete", json!({"RoleName": "nodes"})).await;
    assert_eq!(d["Status"], "SUCCESS", "{d}");
    assert!(w.iam.role("nodes").is_none() && !w.iam.profile_exists("nodes"));
    assert!(w.store.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn adoption_refuses_a_declared_name_that_carries_administrator_access() {
    let w = World::new().await;
    let create = node_role_made_by_hand();
    w.iam.outside("AmazonEKSNodeRole", &create).unwrap();
    w.iam.outside("AmazonEKSNodeRole", &Action::AttachPolicy(aws("AdministratorAccess"))).unwrap();
    let r = w.send("Create", json!({"RoleName": "AmazonEKSNodeRole", "AdoptExistingRole": "true"})).await;
    assert_eq!(r["Status"], "FAILED");
    assert!(r["Reason"].as_str().unwrap().contains("AdministratorAccess"), "{r}");
    assert!(w.iam.role("AmazonEKSNodeRole").unwrap().tags.is_empty(), "nothing written");
}

#[tokio::test]
async fn more_policies_than_the_quota_are_refused_before_any_change() {
    let extra: Vec<PolicyArn> = (0..8).map(|i| aws(&format!("Extra{i}"))).collect();
    let arns: Vec<String> = extra.iter().map(ToString::to_string).collect();
    let mut w = World::new().await;
    w.reconciler.rules.allowed_additional.extend(extra.iter().cloned());
    let r = w.send("Create", json!({"RoleName": "nodes", "AdditionalPolicyArns": arns})).await;
    assert_eq!(r["Status"], "FAILED");
    let reason = r["Reason"].as_str().unwrap();
    assert!(reason.contains("would hold 11 managed policies, above this account's quota of 10"), "{reason}");
    assert!(w.iam.role("nodes").is_none());
    // A raised quota admits them; up to 10 policies the quota is not even read (IAM's is never lower).
    let mut raised = World::new().await;
    raised.iam.set_quota(20);
    raised.reconciler.rules.allowed_additional.extend(extra);
    let r = raised.send("Create", json!({"RoleName": "nodes", "AdditionalPolicyArns": arns})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(raised.iam.calls().iter().filter(|c| *c == "GetAccountSummary").count(), 1);
    let plain = World::managed(json!({"RoleName": "nodes"})).await;
    assert!(!plain.iam.calls().iter().any(|c| c == "GetAccountSummary"));
}

#[tokio::test]
async fn a_stack_delete_in_progress_is_never_fought() {
    let w = World::managed(json!({"RoleName": "nodes"})).await;
    let item = w.store.get(&"nodes".parse_role()).await.unwrap().unwrap();
    let marked = eks_node_role_guard::state::Record { phase: Phase::Deleting, ..item.clone() };
    w.store.put(&marked, item.expect()).await.unwrap();
    assert_eq!(w.outside(Action::DetachPolicy(aws(WORKER)), "DetachRolePolicy").await, "ignored");
    assert!(!w.attached("nodes").contains(WORKER));
    // The Delete completes; its own events, arriving late, change nothing either.
    let d = w.send("Delete", json!({"RoleName": "nodes"})).await;
    assert_eq!(d["Status"], "SUCCESS", "{d}");
    assert_eq!(w.event("DetachRolePolicy", "nodes").await, "ignored");
    assert!(w.iam.role("nodes").is_none());
}

/// A role with the EC2 trust policy and nothing else, made outside the tool.
fn node_role_made_by_hand() -> Action {
    Action::CreateRole {
        path: eks_node_role_guard::domain::RolePath::root(),
        trust: policies::ec2_trust_policy(Partition::Aws),
        description: None,
        boundary: None,
        tags: Default::default(),
    }
}

trait ParseRole {
    fn parse_role(&self) -> eks_node_role_guard::domain::RoleName;
}

impl ParseRole for &str {
    fn parse_role(&self) -> eks_node_role_guard::domain::RoleName {
        eks_node_role_guard::domain::RoleName::parse(self).unwrap()
    }
}

#[tokio::test]
async fn an_auto_mode_role_gets_the_minimal_worker_policy_and_no_cni_policy_and_a_switch_swaps_in_place() {
    let w = World::managed(json!({"RoleName": "nodes", "NodeClass": "auto-mode"})).await;
    assert_eq!(w.attached("nodes"), names(&["AmazonEKSWorkerNodeMinimalPolicy", ECR]));
    assert_eq!(
        w.outside(Action::DetachPolicy(aws("AmazonEKSWorkerNodeMinimalPolicy")), "DetachRolePolicy").await,
        "repaired"
    );
    assert_eq!(w.attached("nodes"), names(&["AmazonEKSWorkerNodeMinimalPolicy", ECR]));
    let role_id = w.iam.role("nodes").unwrap().role_id;
    let u = w.send("Update", json!({"RoleName": "nodes", "NodeClass": "standard"})).await;
    assert_eq!(u["Status"], "SUCCESS", "{u}");
    assert_eq!(w.attached("nodes"), names(&[WORKER, ECR, CNI]));
    assert_eq!(w.iam.role("nodes").unwrap().role_id, role_id, "the same role, in place");
    let bad = w.send("Update", json!({"RoleName": "nodes", "NodeClass": "auto-mode", "AttachCniPolicy": "true"})).await;
    assert!(
        bad["Reason"].as_str().unwrap().contains("AttachCniPolicy cannot be true with NodeClass auto-mode"),
        "{bad}"
    );
}

#[tokio::test]
async fn the_auto_mode_node_role_is_adopted_only_as_an_auto_mode_role() {
    let w = World::new().await;
    let create = node_role_made_by_hand();
    w.iam.outside("AmazonEKSAutoNodeRole", &create).unwrap();
    let r = w.send("Create", json!({"RoleName": "AmazonEKSAutoNodeRole", "AdoptExistingRole": "true"})).await;
    assert_eq!(r["Status"], "FAILED");
    assert!(r["Reason"].as_str().unwrap().contains("set NodeClass to auto-mode"), "{r}");
    let props = json!({"RoleName": "AmazonEKSAutoNodeRole", "AdoptExistingRole": "true", "NodeClass": "auto-mode"});
    let r = w.send("Create", props).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(w.attached("AmazonEKSAutoNodeRole"), names(&["AmazonEKSWorkerNodeMinimalPolicy", ECR]));
}

// Drift repair, event by event, on the builder: each scenario the role as people left it, then CloudTrail's event.

#[tokio::test]
async fn restores_the_trust_policy_after_update_assume_role_policy() {
    let w = Role::managed().trusting(&["ec2.amazonaws.com", "eks.amazonaws.com"]).world().await;
    assert_eq!(w.event("UpdateAssumeRolePolicy", "nodes").await, "repaired");
    assert!(policies::same_policy(
        w.iam.role("nodes").unwrap().trust.as_ref().unwrap(),
        &trust_of(&["ec2.amazonaws.com"])
    ));
}

#[tokio::test]
async fn removes_an_allowed_boundary_put_on_a_role_that_has_none() {
    let w = Role::managed().bounded_by("PowerUserAccess").world().await;
    assert_eq!(w.event("PutRolePermissionsBoundary", "nodes").await, "repaired");
    assert_eq!(w.iam.role("nodes").unwrap().boundary, None);
}

/// An organisation's boundary the installation does not allow removing: left in place, nothing to repair.
#[tokio::test]
async fn leaves_a_boundary_it_may_not_remove_in_place() {
    let w = Role::managed().bounded_by("ReadOnlyAccess").world().await;
    assert_eq!(w.event("PutRolePermissionsBoundary", "nodes").await, "in-sync");
    assert_eq!(w.iam.role("nodes").unwrap().boundary.map(|b| b.name().to_string()).as_deref(), Some("ReadOnlyAccess"));
}

#[tokio::test]
async fn restores_a_boundary_that_was_deleted() {
    let power_user = "arn:aws:iam::aws:policy/PowerUserAccess";
    let w = Role::managed().with("PermissionsBoundary", power_user).unbounded().world().await;
    assert_eq!(w.iam.role("nodes").unwrap().boundary, None);
    assert_eq!(w.event("DeleteRolePermissionsBoundary", "nodes").await, "repaired");
    assert_eq!(w.iam.role("nodes").unwrap().boundary.map(|b| b.to_string()).as_deref(), Some(power_user));
}

#[tokio::test]
async fn a_boundary_the_installation_does_not_allow_is_refused_before_any_change() {
    let allowed = "arn:aws:iam::aws:policy/PowerUserAccess";
    let w = World::new().await;
    let r = w.send("Create", json!({"RoleName": "nodes", "PermissionsBoundary": allowed})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(w.iam.role("nodes").unwrap().boundary.map(|b| b.to_string()).as_deref(), Some(allowed));
    // Hostile: a stack author naming a boundary the operator did not allow, on Create and on Update.
    let other = "arn:aws:iam::aws:policy/AdministratorAccess";
    let refused = World::new().await;
    let r = refused.send("Create", json!({"RoleName": "nodes", "PermissionsBoundary": other})).await;
    assert_eq!(r["Status"], "FAILED");
    let reason = r["Reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("PermissionsBoundary {other} is not in AllowedPermissionsBoundaryArns")),
        "{reason}"
    );
    assert!(reason.contains(allowed), "the reason names what is allowed: {reason}");
    assert!(refused.iam.role("nodes").is_none(), "nothing created");
    let r = w.send("Update", json!({"RoleName": "nodes", "PermissionsBoundary": other})).await;
    assert_eq!(r["Status"], "FAILED");
    assert_eq!(w.iam.role("nodes").unwrap().boundary.map(|b| b.to_string()).as_deref(), Some(allowed), "unchanged");
    // A boundary the item records stays usable when the operator narrows the list later: other changes (and a
    // rollback, which sends the same boundary again) go through.
    let mut w = w;
    w.reconciler.rules.allowed_boundaries.clear();
    let r = w
        .send(
            "Update",
            json!({"RoleName": "nodes", "PermissionsBoundary": allowed, "Tags": [{"Key": "team", "Value": "a"}]}),
        )
        .await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
}

#[tokio::test]
async fn a_path_named_like_the_name_prefix_is_refused_before_any_change() {
    let mut w = World::new().await;
    w.reconciler.rules.name_prefix = "eks-nodes-".into();
    let r = w.send("Create", json!({"RoleName": "eks-nodes-a", "Path": "/nodes/"})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    // Hostile: a name outside the prefix, hidden below a path that IAM's `eks-nodes-*` would otherwise match.
    let r = w.cfn("Create", "Other", None, json!({"RoleName": "Admin", "Path": "/eks-nodes-x/"}), json!({})).await;
    assert_eq!(r["Status"], "FAILED");
    let reason = r["Reason"].as_str().unwrap();
    assert!(reason.contains("Path: path /eks-nodes-x/ starts with RolePathPrefix + RoleNamePrefix"), "{reason}");
    assert!(w.iam.role("Admin").is_none(), "nothing created");
}

#[tokio::test]
async fn puts_the_role_back_in_its_instance_profile() {
    let w = Role::managed().out_of_its_profile(false).world().await;
    assert_eq!(w.event("RemoveRoleFromInstanceProfile", "nodes").await, "repaired");
    assert_eq!(w.iam.role("nodes").unwrap().instance_profiles[0].name, "nodes");
}

#[tokio::test]
async fn recreates_a_deleted_instance_profile_named_in_the_event() {
    let w = Role::managed().out_of_its_profile(true).world().await;
    assert!(!w.iam.profile_exists("nodes"));
    let out = w.deliver(&cloudtrail("DeleteInstanceProfile", json!({"instanceProfileName": "nodes"}))).await.unwrap();
    assert_eq!(out["outcomes"][0]["outcome"], "repaired", "{out}");
    assert_eq!(w.iam.role("nodes").unwrap().instance_profiles[0].name, "nodes");
}

#[tokio::test]
async fn duplicate_and_out_of_order_deliveries_are_harmless() {
    let w = Role::managed().without(WORKER).without(ECR).world().await;
    let ecr = cloudtrail("DetachRolePolicy", json!({"roleName": "nodes", "policyArn": aws(ECR).to_string()}));
    let worker = cloudtrail("DetachRolePolicy", json!({"roleName": "nodes", "policyArn": aws(WORKER).to_string()}));
    // The later change's event arrives first: the live role decides, so it repairs both.
    assert_eq!(w.deliver(&ecr).await.unwrap()["outcomes"][0]["outcome"], "repaired");
    assert_eq!(w.attached("nodes"), names(&[WORKER, ECR, CNI]));
    for again in [&worker, &worker] {
        assert_eq!(w.deliver(again).await.unwrap()["outcomes"][0]["outcome"], "in-sync");
    }
    assert_eq!(w.metrics.count(Metric::DriftRepaired, "nodes"), 1);
    assert_eq!(w.notifier.sent().len(), 1, "one notification for one repair");
}

#[tokio::test]
async fn an_unmanaged_role_is_never_touched() {
    let w = Role::unmanaged().without(WORKER).world().await;
    let before = w.iam.calls().len();
    assert_eq!(w.event("DetachRolePolicy", "nodes").await, "ignored");
    assert_eq!(w.attached("nodes"), names(&[ECR, CNI]));
    assert!(w.iam.calls()[before..].iter().all(|c| c.starts_with("Get") || c.starts_with("List")), "reads only");
    assert!(w.metrics.captured().is_empty());
}

#[tokio::test]
async fn the_tools_own_calls_are_not_acted_on_not_even_read() {
    let w = Role::managed().without(WORKER).world().await;
    let mut own = cloudtrail("DetachRolePolicy", json!({"roleName": "nodes"}));
    own["detail"]["userIdentity"] = json!({"type": "AssumedRole", "arn": format!("arn:aws:sts::123456789012:assumed-role/{MEMORY_OWN_ROLE}/guard")});
    let before = w.iam.calls().len();
    assert_eq!(w.deliver(&own).await.unwrap()["reason"], "the tool's own call");
    assert_eq!(w.iam.calls().len(), before, "not even a read");
}

#[tokio::test]
async fn a_failed_call_changes_nothing() {
    let w = Role::managed().without(WORKER).world().await;
    let mut failed = cloudtrail("DetachRolePolicy", json!({"roleName": "nodes"}));
    failed["detail"]["errorCode"] = json!("AccessDenied");
    assert_eq!(w.deliver(&failed).await.unwrap()["outcome"], "ignored");
    assert!(!w.attached("nodes").contains(WORKER), "the sweep, not this event, would repair it");
}

#[tokio::test]
async fn dry_run_says_what_it_would_do_per_role_or_globally_and_changes_nothing() {
    let w = Role::managed().with("Remediation", "dry-run").without(WORKER).world().await;
    let out = w.deliver(&cloudtrail("DetachRolePolicy", json!({"roleName": "nodes"}))).await.unwrap();
    assert_eq!(out["outcomes"][0]["outcome"], "would-repair", "{out}");
    assert_eq!(out["outcomes"][0]["drift"][0], "AttachRolePolicy AmazonEKSWorkerNodePolicy");
    assert!(!w.attached("nodes").contains(WORKER));
    assert_eq!(w.metrics.count(Metric::DriftDetected, "nodes"), 1);
    let mut w = Role::managed().without(WORKER).world().await;
    w.drift.global_mode = eks_node_role_guard::domain::RemediationMode::DryRun;
    assert_eq!(w.event("DetachRolePolicy", "nodes").await, "would-repair", "the stricter mode wins");
    assert!(!w.attached("nodes").contains(WORKER));
}

#[tokio::test]
async fn off_ignores_the_role_per_role_or_globally() {
    let w = Role::managed().with("Remediation", "off").without(WORKER).world().await;
    assert_eq!(w.event("DetachRolePolicy", "nodes").await, "ignored");
    let mut w2 = Role::managed().without(WORKER).world().await;
    w2.drift.global_mode = eks_node_role_guard::domain::RemediationMode::Off;
    assert_eq!(w2.event("DetachRolePolicy", "nodes").await, "ignored");
    for w in [&w, &w2] {
        assert!(!w.attached("nodes").contains(WORKER));
        assert!(w.metrics.captured().is_empty() && w.notifier.sent().is_empty());
    }
}

#[tokio::test]
async fn events_from_an_aws_service_are_handled_like_any_other() {
    let w = Role::managed().without(WORKER).world().await;
    let mut ev = cloudtrail("DetachRolePolicy", json!({"roleName": "nodes"}));
    ev["detail"]["userIdentity"] = json!({"type": "AWSService", "invokedBy": "cloudformation.amazonaws.com"});
    assert_eq!(w.deliver(&ev).await.unwrap()["outcomes"][0]["outcome"], "repaired");
}

#[tokio::test]
async fn garbage_events_are_answered_and_ignored() {
    let w = Role::managed().without(WORKER).world().await;
    for ev in [
        json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.iam"}),
        json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.iam", "detail": null}),
        cloudtrail("DetachRolePolicy", json!({"roleName": "no such role!"})),
        json!({"detail-type": 5, "source": []}),
        json!({"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "detail": {"state": "running"}}),
    ] {
        let out = w.deliver(&ev).await.unwrap();
        assert_eq!(out["handled"], "eventbridge", "{out}");
    }
    assert!(!w.attached("nodes").contains(WORKER), "none of them is a reason to act");
}

// The lifecycle as CloudFormation drives it: replacements, rollbacks, refusals, validation.

fn id(r: &Value) -> String {
    r["PhysicalResourceId"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_new_role_name_replaces_the_role_and_a_rollback_returns_to_the_old_one() {
    let w = World::new().await;
    let (old, new) = (json!({"RoleName": "nodes-blue"}), json!({"RoleName": "nodes-green"}));
    assert_eq!(w.create_as("Nodes", old.clone()).await["Status"], "SUCCESS");
    let r = w.update_as("Nodes", "nodes-blue", new.clone(), old.clone()).await;
    assert_eq!((r["Status"].as_str(), id(&r).as_str()), (Some("SUCCESS"), "nodes-green"), "{r}");
    assert!(w.iam.role("nodes-blue").is_some(), "left for CloudFormation's cleanup Delete");
    assert_eq!(w.attached("nodes-green"), names(&[WORKER, ECR, CNI]));
    // Rollback: CloudFormation sends the old properties against the new physical id, then cleans up.
    let rb = w.update_as("Nodes", "nodes-green", old, new.clone()).await;
    assert_eq!((rb["Status"].as_str(), id(&rb).as_str()), (Some("SUCCESS"), "nodes-blue"), "{rb}");
    assert_eq!(w.delete_as("Nodes", "nodes-green", new).await["Status"], "SUCCESS");
    assert!(w.iam.role("nodes-green").is_none());
    assert_eq!(w.attached("nodes-blue"), names(&[WORKER, ECR, CNI]));
}

#[tokio::test]
async fn a_new_path_with_a_generated_name_replaces_the_role_and_rolls_back_to_the_original() {
    let w = World::new().await;
    let (old, new) = (json!({}), json!({"Path": "/eks/nodes/"}));
    let original = id(&w.create_as("Nodes", old.clone()).await);
    assert!(original.starts_with("prod-Nodes-"), "{original}");
    let r = w.update_as("Nodes", &original, new.clone(), old.clone()).await;
    let replacement = id(&r);
    assert_ne!(replacement, original, "{r}");
    assert_eq!(w.iam.role(&replacement).unwrap().path.as_str(), "/eks/nodes/");
    assert_eq!(id(&w.update_as("Nodes", &replacement, old, new).await), original);
}

#[tokio::test]
async fn a_rollback_after_two_replacements_returns_to_the_role_of_that_path() {
    let w = World::new().await;
    let (root, a, b) = (json!({}), json!({"Path": "/a/"}), json!({"Path": "/b/"}));
    let g = id(&w.create_as("Nodes", root.clone()).await);
    let g2 = id(&w.update_as("Nodes", &g, a.clone(), root).await);
    let g3 = id(&w.update_as("Nodes", &g2, b.clone(), a.clone()).await);
    assert_eq!(w.roles().await.len(), 3, "one role per path");
    // A later failure rolls back: the properties of /a/ against the physical id of /b/.
    let rb = w.update_as("Nodes", &g3, a, b).await;
    assert_eq!((rb["Status"].as_str(), id(&rb)), (Some("SUCCESS"), g2), "the role of /a/, not a fourth one");
    assert_eq!(w.roles().await.len(), 3);
}

#[tokio::test]
async fn a_new_path_under_the_same_role_name_is_refused() {
    let w = World::new().await;
    let old = json!({"RoleName": "nodes"});
    w.create_as("Nodes", old.clone()).await;
    let r = w.update_as("Nodes", "nodes", json!({"RoleName": "nodes", "Path": "/eks/"}), old).await;
    assert_eq!((r["Status"].as_str(), id(&r).as_str()), (Some("FAILED"), "nodes"), "a failed Update keeps its id");
    assert!(r["Reason"].as_str().unwrap().contains("a new Path needs a new RoleName"), "{r}");
}

#[tokio::test]
async fn a_role_name_that_changes_only_in_case_or_names_the_generated_role_is_the_same_role() {
    let w = World::new().await;
    let old = json!({"RoleName": "NodeRole"});
    assert_eq!(w.create_as("Nodes", old.clone()).await["Status"], "SUCCESS");
    let r = w.update_as("Nodes", "NodeRole", json!({"RoleName": "noderole"}), old).await;
    assert_eq!((r["Status"].as_str(), id(&r).as_str()), (Some("SUCCESS"), "NodeRole"), "no cleanup Delete will follow");
    let generated = id(&w.create_as("Other", json!({})).await);
    let r = w.update_as("Other", &generated, json!({"RoleName": generated}), json!({})).await;
    assert_eq!((r["Status"].as_str(), id(&r)), (Some("SUCCESS"), generated));
    assert_eq!(w.roles().await.len(), 2);
}

#[tokio::test]
async fn old_properties_that_fail_todays_validation_never_make_a_rollback_replace_the_role() {
    let w = World::new().await;
    w.iam.outside("legacy-nodes", &node_role_made_by_hand()).unwrap();
    let mut w = w;
    w.reconciler.rules = Allowances::new("legacy-nodes", Default::default(), None);
    let good = json!({"RoleName": "legacy-nodes", "AdoptExistingRole": "true"});
    assert_eq!(w.create_as("Nodes", good.clone()).await["Status"], "SUCCESS");
    // An Update with a bad value fails; CloudFormation rolls back with the bad set as the *old* properties.
    let bad = json!({"RoleName": "legacy-nodes", "AdoptExistingRole": "true", "IpFamily": "dual"});
    assert_eq!(w.update_as("Nodes", "legacy-nodes", bad.clone(), good.clone()).await["Status"], "FAILED");
    let rb = w.update_as("Nodes", "legacy-nodes", good.clone(), bad).await;
    assert_eq!((rb["Status"].as_str(), id(&rb).as_str()), (Some("SUCCESS"), "legacy-nodes"), "in place: {rb}");
    let unreadable = json!({"RoleName": "not a name!", "Path": 5});
    assert_eq!(id(&w.update_as("Nodes", "legacy-nodes", good, unreadable).await), "legacy-nodes");
    assert_eq!(w.roles().await, ["legacy-nodes"]);
}

#[tokio::test]
async fn delete_of_a_failed_create_or_a_vanished_role_succeeds_without_touching_anything() {
    let w = World::new().await;
    let bad = w.create_as("Nodes", json!({"RoleName": "x y"})).await;
    assert_eq!(bad["Status"], "FAILED");
    assert!(!id(&bad).is_empty());
    assert_eq!(w.delete_as("Nodes", &id(&bad), json!({"RoleName": "x y"})).await["Status"], "SUCCESS");
    let d = w.delete_as("Nodes", "never-created", json!({})).await;
    assert_eq!((d["Status"].as_str(), id(&d).as_str()), (Some("SUCCESS"), "never-created"));
    assert!(w.roles().await.is_empty());
}

#[tokio::test]
async fn invalid_properties_fail_with_a_reason_naming_each_property() {
    let w = World::new().await;
    let props = json!({"RoleName": "x y", "IpFamily": "dual", "AttachCniPolicy": "yes", "Remediaton": "off"});
    let r = w.create_as("Nodes", props).await;
    assert_eq!(r["Status"], "FAILED");
    let reason = r["Reason"].as_str().unwrap();
    for part in ["RoleName 'x y' is invalid", "IpFamily 'dual'", "AttachCniPolicy 'yes'", "did you mean Remediation?"] {
        assert!(reason.contains(part), "{part} missing from {reason}");
    }
    assert!(w.iam.calls().is_empty(), "not even a read");
    assert!(w.roles().await.is_empty(), "nothing created");
}

#[tokio::test]
async fn with_the_cni_on_its_own_role_no_cni_policy_is_attached() {
    let w = World::new().await;
    for family in ["ipv4", "ipv6"] {
        let r = w.create_as(&format!("Nodes{family}"), json!({"IpFamily": family, "AttachCniPolicy": "False"})).await;
        assert_eq!(r["Status"], "SUCCESS", "{r}");
        assert!(r["Data"].get("CniPolicyArn").is_none());
        assert_eq!(w.attached(&id(&r)), names(&[WORKER, ECR]));
    }
}

#[tokio::test]
async fn an_existing_role_is_not_taken_without_adopt_existing_role_and_its_rollback_leaves_it() {
    let w = World::new().await;
    w.iam.outside("AmazonEKSNodeRole", &node_role_made_by_hand()).unwrap();
    let r = w.create_as("Nodes", json!({"RoleName": "AmazonEKSNodeRole"})).await;
    assert_eq!(r["Status"], "FAILED");
    let reason = r["Reason"].as_str().unwrap();
    assert!(reason.contains("set AdoptExistingRole to true") && reason.contains("choose another RoleName"), "{reason}");
    assert_eq!(w.delete_as("Nodes", &id(&r), json!({})).await["Status"], "SUCCESS");
    assert!(w.iam.role("AmazonEKSNodeRole").is_some(), "the rollback Delete leaves the role alone");
    assert!(w.iam.role("AmazonEKSNodeRole").unwrap().tags.is_empty(), "not even labelled");
}

#[tokio::test]
async fn adoption_without_candidates_creates_a_new_role() {
    let w = World::new().await;
    let r = w.create_as("Nodes", json!({"AdoptExistingRole": "true"})).await;
    assert_eq!((r["Status"].as_str(), r["Data"]["Adopted"].as_str()), (Some("SUCCESS"), Some("false")), "{r}");
    assert!(id(&r).starts_with("prod-Nodes-"));
}

/// The state table at the moment a sweep's listing goes stale: right after `list`, the role's stack runs an
/// Update with `AttachCniPolicy: false` (the item first, then the detach), before the sweep reads the role.
struct UpdatedAfterList {
    inner: eks_node_role_guard::state::MemoryStore,
    iam: eks_node_role_guard::iam::MemoryIam,
}

impl StateStore for UpdatedAfterList {
    async fn get(
        &self,
        role: &eks_node_role_guard::domain::RoleName,
    ) -> eks_node_role_guard::Result<Option<eks_node_role_guard::state::Record>> {
        self.inner.get(role).await
    }
    async fn put(
        &self,
        record: &eks_node_role_guard::state::Record,
        expect: eks_node_role_guard::state::Expect,
    ) -> eks_node_role_guard::Result<eks_node_role_guard::state::Record> {
        self.inner.put(record, expect).await
    }
    async fn delete(
        &self,
        role: &eks_node_role_guard::domain::RoleName,
        version: u64,
    ) -> eks_node_role_guard::Result<()> {
        self.inner.delete(role, version).await
    }
    async fn list(&self) -> eks_node_role_guard::Result<Vec<eks_node_role_guard::state::Record>> {
        let listed = self.inner.list().await?;
        for r in &listed {
            let mut updated = r.clone();
            updated.desired.attach_cni = false;
            self.inner.put(&updated, r.expect()).await?;
            self.iam.outside(r.role_name.as_str(), &Action::DetachPolicy(aws(CNI)))?;
        }
        Ok(listed)
    }
}

#[tokio::test]
async fn a_sweep_repairs_from_the_item_as_it_is_now_not_as_it_was_listed() {
    let w = World::managed(json!({"RoleName": "nodes"})).await;
    assert!(w.attached("nodes").contains(CNI));
    let store = UpdatedAfterList { inner: w.store.clone(), iam: w.iam.clone() };
    let rec = eks_node_role_guard::reconcile::Reconciler::new(w.iam.clone(), store, w.reconciler.rules.clone(), None);
    let settings = eks_node_role_guard::reconcile::repair::DriftSettings::default();
    let deadline = std::time::Duration::from_secs(30);
    let reports = rec.sweep(&w.stacks, &settings, &w.metrics, deadline.into()).await.unwrap();
    assert_eq!(reports.len(), 1);
    assert!(!w.attached("nodes").contains(CNI), "the Update's detach stands: {reports:?}");
    assert!(w.attached("nodes").contains(WORKER));
}

/// With a `RoleNamePrefix`, the installation's IAM reach is that prefix and the adoptable names: a generated name
/// carries the prefix, and a RoleName outside it is refused before any change (IAM would refuse the writes).
#[tokio::test]
async fn with_a_name_prefix_generated_names_carry_it_and_other_names_are_refused() {
    let mut rules = Allowances::defaults(Partition::Aws);
    rules.name_prefix = "eks-node-".into();
    let w = World(MemoryAccount::new(rules).await);
    let generated = w.create_as("NodeRole", json!({})).await;
    assert_eq!(generated["Status"], "SUCCESS", "{generated}");
    let name = generated["PhysicalResourceId"].as_str().unwrap();
    assert!(name.starts_with("eks-node-"), "{name}");
    let outside = w.create_as("Other", json!({"RoleName": "team-nodes"})).await;
    assert_eq!(outside["Status"], "FAILED", "{outside}");
    assert!(outside["Reason"].as_str().unwrap().contains("RoleNamePrefix 'eks-node-'"), "{outside}");
    assert!(w.iam.role("team-nodes").is_none() && w.store.get(&"team-nodes".parse_role()).await.unwrap().is_none());
    // Case matters, as in IAM's ARN match.
    let cased = w.create_as("Cased", json!({"RoleName": "EKS-NODE-x"})).await;
    assert_eq!(cased["Status"], "FAILED", "{cased}");
    let inside = w.create_as("Inside", json!({"RoleName": "eks-node-team"})).await;
    assert_eq!(inside["Status"], "SUCCESS", "{inside}");
    // An adoptable name is in reach whatever the prefix.
    w.iam.outside("AmazonEKSNodeRole", &made_with(Default::default())).unwrap();
    let adopted = w.create_as("Adopted", json!({"RoleName": "AmazonEKSNodeRole", "AdoptExistingRole": "true"})).await;
    assert_eq!(adopted["Status"], "SUCCESS", "{adopted}");
}

/// An installation whose scope narrowed (a stack update brought the new default `RoleNamePrefix`) cannot change
/// the roles it managed outside it: it tries nothing and says so on every check, naming the way back.
#[tokio::test]
async fn a_managed_role_the_narrowed_scope_no_longer_reaches_is_reported_not_touched() {
    let mut w = World::managed(json!({"RoleName": "nodes"})).await;
    w.reconciler.rules.name_prefix = "eks-node-".into();
    w.iam.outside("nodes", &Action::DetachPolicy(policies::worker_node_policy(Partition::Aws))).unwrap();
    let before = w.iam.calls().len();
    assert_eq!(w.event("DetachRolePolicy", "nodes").await, "failed");
    assert_eq!(w.iam.calls().len(), before, "no IAM call: IAM would refuse the writes");
    let out = w.deliver(&json!({"detail-type": "Scheduled Event", "source": "aws.events", "id": "s"})).await.unwrap();
    let reason = out["outcomes"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("outside this installation's scope") && reason.contains("AccountWideScope"), "{out}");
    assert!(!w.attached("nodes").contains("AmazonEKSWorkerNodePolicy"));
    assert_eq!(w.metrics.count(Metric::RepairFailed, "nodes"), 2);
}

/// Tags the operator reserved (ABAC, cost allocation) are not the stack author's: a resource may neither write
/// them through the function nor have the function remove one (put there before the reservation).
#[tokio::test]
async fn stack_authors_can_neither_write_nor_strip_reserved_tags() {
    let mut rules = Allowances::defaults(Partition::Aws);
    rules.reserved_tag_prefixes = vec!["org:".into()];
    let w = World(MemoryAccount::new(rules).await);
    let refused =
        w.create_as("NodeRole", json!({"RoleName": "nodes", "Tags": [{"Key": "Org:Team", "Value": "x"}]})).await;
    assert_eq!(refused["Status"], "FAILED", "{refused}");
    assert!(refused["Reason"].as_str().unwrap().contains("reserved"), "{refused}");
    assert!(w.iam.role("nodes").is_none(), "nothing made");
    // A tag the resource set before the reservation: dropping it from Tags does not remove it from the role.
    let mut open = World::new().await;
    let before =
        json!({"RoleName": "nodes", "Tags": [{"Key": "org:team", "Value": "a"}, {"Key": "env", "Value": "b"}]});
    assert_eq!(open.create_as("NodeRole", before.clone()).await["Status"], "SUCCESS");
    open.reconciler.rules.reserved_tag_prefixes = vec!["org:".into()];
    let after = json!({"RoleName": "nodes"});
    let r = open.update_as("NodeRole", "nodes", after, before).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    let tags = open.iam.role("nodes").unwrap().tags;
    assert_eq!(tags.get("org:team").map(String::as_str), Some("a"), "the reserved tag stays");
    assert!(!tags.contains_key("env"), "an ordinary retired tag goes");
}

/// A request CloudFormation does not confirm costs the account nothing that scales with it: neither the search
/// for an existing node role (ListRoles) nor the IPv6 CNI policy is read before the confirmation; only the named
/// role and its item may be read beside it.
#[tokio::test]
async fn an_unconfirmed_request_reads_nothing_that_scales_with_the_account() {
    let w = World::new().await;
    *w.stack_status.lock().unwrap() = Some("CREATE_COMPLETE");
    let before = w.iam.calls().len();
    let r = w.create_as("NodeRole", json!({"AdoptExistingRole": "true", "IpFamily": "ipv6"})).await;
    assert_eq!(r["Status"], "FAILED", "{r}");
    assert!(r["Reason"].as_str().unwrap().contains("not confirmed"), "{r}");
    let calls = w.iam.calls()[before..].to_vec();
    assert!(calls.iter().all(|c| !c.starts_with("ListRoles") && !c.starts_with("GetPolicy")), "{calls:?}");
    let r = w.create_as("NodeRole", json!({"RoleName": "nodes", "IpFamily": "ipv6"})).await;
    assert_eq!(r["Status"], "FAILED", "{r}");
    let calls = w.iam.calls()[before..].to_vec();
    assert!(calls.iter().all(|c| c.ends_with(" nodes")), "only the named role's reads: {calls:?}");
}
