//! Drift repair against moto, where the real SDK and services matter: the IAM calls of a repair, the IPv6 CNI
//! policy's versions, a deleted role, the breaker's state in DynamoDB, a sweep over the table, IAM errors through
//! the fault proxy, an undecodable item. Each event's restore on its own runs on the in-memory adapters
//! (`tests/fast.rs`), which pass the same contract tests as moto.

use eks_node_role_guard::metrics::Metric;
use serde_json::json;
use test_support::*;

const WORKER_ARN: &str = "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy";
const REQUIRED: [&str; 3] = ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonEKS_CNI_Policy"];

async fn managed(h: &Harness, role: &str, extra: serde_json::Value) {
    let mut props = json!({"RoleName": role});
    for (k, v) in extra.as_object().unwrap() {
        props[k] = v.clone();
    }
    let r = h.create(&format!("Logical{}", role.replace('-', "")), props).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
}

#[tokio::test]
async fn re_attaches_amazon_eks_worker_node_policy_after_it_is_detached_in_four_iam_calls() {
    let h = Harness::new().await;
    managed(&h, "nodes", json!({})).await;
    h.detach("nodes", WORKER_ARN).await;
    let before = h.calls.get();
    let outcome = h.outcome(&drift_event("drift-detach-role-policy.json", "nodes"), "nodes").await;
    let calls = h.calls.get() - before;
    assert_eq!(outcome, "repaired");
    assert_eq!(h.attached("nodes").await, names(&REQUIRED));
    // GetRole + ListAttachedRolePolicies + ListInstanceProfilesForRole (with the item's GetItem, at once), then
    // AttachRolePolicy (with the breaker's PutItem, at once).
    println!("IAM calls to restore one detached policy: {calls} (3 reads + {} writes)", calls - 3);
    assert_eq!(calls, 4);
    let item = h.record("nodes").await.unwrap();
    assert_eq!(item.repairs.len(), 1, "the breaker counted the repair");
    assert!(
        item.trail.last().unwrap().contains("repaired AttachRolePolicy AmazonEKSWorkerNodePolicy"),
        "{:?}",
        item.trail
    );
    assert_eq!(h.metrics.count(Metric::DriftDetected, "nodes"), 1);
    assert_eq!(h.metrics.count(Metric::DriftRepaired, "nodes"), 1);
}

#[tokio::test]
async fn a_tampered_ipv6_cni_policy_is_reported_left_attached_and_never_rewritten() {
    let h = Harness::new().await;
    let aws =
        eks_node_role_guard::domain::policies::cni_ipv6_policy_document(eks_node_role_guard::domain::Partition::Aws);
    h.make_ipv6_policy(&aws).await;
    managed(&h, "v6", json!({"IpFamily": "ipv6"})).await;
    let wide = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]});
    h.iam
        .create_policy_version()
        .policy_arn(IPV6_POLICY_ARN)
        .policy_document(wide.to_string())
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    h.detach("v6", WORKER_ARN).await;
    assert_eq!(h.outcome(&drift_event("drift-create-policy-version.json", "-"), "v6").await, "failed");
    assert_eq!(h.metrics.count(Metric::CniPolicyTampered, IPV6_POLICY_ARN), 1);
    assert_eq!(h.metrics.count(Metric::RepairFailed, "v6"), 1);
    assert!(h.attached("v6").await.contains("AmazonEKS_CNI_IPv6_Policy"), "left attached: pods keep networking");
    assert!(h.attached("v6").await.contains("AmazonEKSWorkerNodePolicy"), "the rest is still repaired");
    let p = h.iam.get_policy().policy_arn(IPV6_POLICY_ARN).send().await.unwrap().policy.unwrap();
    assert_eq!(p.default_version_id(), Some("v2"), "the function writes no policy");

    // A role that does not use it yet never gets it.
    let r = h.create("Other", json!({"RoleName": "v6-b", "IpFamily": "ipv6"})).await;
    assert_eq!(r["Status"], "FAILED", "{r}");
    assert!(h.role("v6-b").await.is_none());
}

#[tokio::test]
async fn a_deleted_managed_role_is_reported_loudly_and_not_recreated() {
    let h = Harness::new().await;
    managed(&h, "nodes", json!({})).await;
    h.iam.remove_role_from_instance_profile().role_name("nodes").instance_profile_name("nodes").send().await.unwrap();
    for p in REQUIRED {
        h.detach("nodes", &format!("arn:aws:iam::aws:policy/{p}")).await;
    }
    h.iam.delete_role().role_name("nodes").send().await.unwrap();
    let out = h.deliver(&drift_event("drift-delete-role.json", "nodes")).await.unwrap();
    assert!(out.to_string().contains("cannot be repaired in place"), "{out}");
    assert_eq!(h.metrics.count(Metric::RoleDeleted, "nodes"), 1);
    assert!(h.role("nodes").await.is_none(), "not recreated");
    // A role that was never managed leaves no trace and raises no alarm.
    let out = h.deliver(&drift_event("drift-delete-role.json", "someone-elses")).await.unwrap();
    assert_eq!(h.metrics.count(Metric::RoleDeleted, "someone-elses"), 0, "{out}");
}

#[tokio::test]
async fn the_circuit_breaker_opens_after_n_repairs_and_stays_open() {
    let mut h = Harness::new().await;
    h.drift.max_repairs = 3;
    managed(&h, "flappy", json!({})).await;
    let event = drift_event("drift-detach-role-policy.json", "flappy");
    for _ in 0..3 {
        h.detach("flappy", WORKER_ARN).await;
        assert_eq!(h.outcome(&event, "flappy").await, "repaired");
    }
    h.detach("flappy", WORKER_ARN).await;
    for _ in 0..2 {
        assert_eq!(h.outcome(&event, "flappy").await, "circuit-open");
        assert!(!h.attached("flappy").await.contains("AmazonEKSWorkerNodePolicy"));
    }
    assert_eq!(h.metrics.count(Metric::CircuitOpen, "flappy"), 2);
    assert_eq!(h.metrics.count(Metric::DriftRepaired, "flappy"), 3);
    let recorded = h.record("flappy").await.unwrap().repairs.len();
    assert_eq!(recorded, 3, "the breaker's state is kept in the state item");
    // A fresh process (no memory) sees the same: the state is in the item.
    let h2_settings = h.drift.clone();
    let (detached, deadline) =
        (eks_node_role_guard::domain::repair::Change::Unknown, invocation(std::time::Duration::from_secs(60)).deadline);
    let clock = eks_node_role_guard::clock::Clock::fixed(std::time::SystemTime::now());
    let fresh = h.reconciler.clone().with_clock(clock.clone());
    let flappy = eks_node_role_guard::domain::RoleName::parse("flappy").unwrap();
    let report = fresh.repair(&flappy, &detached, &h2_settings, &h.metrics, deadline).await;
    assert_eq!(report.outcome, eks_node_role_guard::reconcile::repair::Outcome::CircuitOpen);
    // Once the window has passed, repairs resume.
    clock.advance(h2_settings.window);
    let report = fresh.repair(&flappy, &detached, &h2_settings, &h.metrics, deadline).await;
    assert_eq!(report.outcome, eks_node_role_guard::reconcile::repair::Outcome::Repaired);
}

#[tokio::test]
async fn a_sweep_repairs_several_roles_at_once_and_leaves_compliant_and_unmanaged_ones_alone() {
    let h = Harness::new().await;
    for r in ["a", "b", "c"] {
        managed(&h, r, json!({})).await;
    }
    h.make_role("stranger", "ec2.amazonaws.com", &[WORKER_ARN]).await;
    h.detach("a", WORKER_ARN).await;
    h.iam.remove_role_from_instance_profile().role_name("b").instance_profile_name("b").send().await.unwrap();
    h.detach("stranger", WORKER_ARN).await;
    let out = h
        .deliver(
            &serde_json::from_str(&std::fs::read_to_string(repo().join("events/scheduled-sweep.json")).unwrap())
                .unwrap(),
        )
        .await
        .unwrap();
    let outcome = |role: &str| {
        out["outcomes"].as_array().unwrap().iter().find(|r| r["role"] == role).map(|r| r["outcome"].clone())
    };
    assert_eq!(outcome("a"), Some(json!("repaired")), "{out}");
    assert_eq!(outcome("b"), Some(json!("repaired")));
    assert_eq!(outcome("c"), Some(json!("in-sync")));
    assert_eq!(outcome("stranger"), None, "unmanaged roles are not even planned");
    assert_eq!(h.attached("a").await, names(&REQUIRED));
    assert_eq!(h.profiles_of("b").await, vec!["b".to_string()]);
    assert!(h.attached("stranger").await.is_empty());
}

/// IAM through a fault proxy; the state table direct.
async fn faulty(h: &Harness) -> (test_support::fault_proxy::FaultProxy, GuardReconciler) {
    let proxy = test_support::fault_proxy::FaultProxy::start(h.moto.port).await;
    let settings = eks_node_role_guard::iam::IamSettings {
        max_attempts: 3,
        initial_backoff: std::time::Duration::from_millis(5),
        attempt_timeout: std::time::Duration::from_secs(2),
    };
    let rec = reconciler(client_for(&proxy.endpoint(), &settings, None), &h.moto.endpoint());
    (proxy, rec)
}

#[tokio::test]
async fn access_denied_is_reported_and_not_retried_while_persistent_throttling_asks_for_a_retry() {
    use test_support::fault_proxy::Fault;
    let h = Harness::new().await;
    managed(&h, "nodes", json!({})).await;
    let (proxy, rec) = faulty(&h).await;
    let event = drift_event("drift-detach-role-policy.json", "nodes");
    let app = GuardApp { reconciler: rec, ..h.app.clone() };
    let deliver = |app| deliver_to(app, &event, std::time::Duration::from_secs(30));

    // The three reads pass, the attach is denied: reported once, no retry asked for.
    h.detach("nodes", WORKER_ARN).await;
    proxy.script(vec![None, None, None, Some(Fault::Deny)]);
    let out = deliver(&app).await.expect("not retryable: no error for the runtime");
    assert_eq!(out["outcomes"][0]["outcome"], "failed", "{out}");
    assert!(out["outcomes"][0]["reason"].as_str().unwrap().contains("AccessDenied"), "{out}");
    assert_eq!(h.metrics.count(Metric::RepairFailed, "nodes"), 1);

    // IAM keeps throttling: the SDK retries, then the handler returns an error so the event is delivered again.
    proxy.always(Some(Fault::Throttle));
    let err = deliver(&app).await.expect_err("retryable");
    assert!(err.to_string().contains("Throttling"), "{err}");
    proxy.clear();
    assert_eq!(deliver(&app).await.unwrap()["outcomes"][0]["outcome"], "repaired");
}

#[tokio::test]
async fn a_state_item_that_does_not_decode_stops_repair_instead_of_guessing() {
    let h = Harness::new().await;
    managed(&h, "nodes", json!({"AttachCniPolicy": "false"})).await;
    let ddb = aws_sdk_dynamodb::Client::new(&shared_config(&h.moto.endpoint()));
    ddb.update_item()
        .table_name(TABLE)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("nodes".into()))
        .update_expression("SET desired = :d")
        .expression_attribute_values(":d", aws_sdk_dynamodb::types::AttributeValue::S("{\"attachCni\": true}".into()))
        .send()
        .await
        .unwrap();
    h.detach("nodes", WORKER_ARN).await;
    let out = h.deliver(&drift_event("drift-detach-role-policy.json", "nodes")).await.unwrap();
    assert_eq!(out["outcomes"][0]["outcome"], "failed", "{out}");
    assert!(
        out["outcomes"][0]["reason"].as_str().unwrap().contains("attribute desired is missing or invalid"),
        "{out}"
    );
    assert!(!h.attached("nodes").await.contains("AmazonEKS_CNI_Policy"), "no default filled in");
    assert!(!h.attached("nodes").await.contains("AmazonEKSWorkerNodePolicy"), "nothing done on a guess");
}

/// A repair and an Update race: the repair read the item while it still wanted an extra policy, the Update took
/// the policy out of the desired state while the repair's attach was in flight (IAM took 1.2 s to answer it). The
/// repair reads the item again afterwards and takes off what the item no longer requires: the Update's state stands.
#[tokio::test]
async fn a_repair_an_update_overtook_leaves_the_role_as_the_update_wants_it() {
    const SSM: &str = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore";
    let h = Harness::new().await;
    let with_ssm = json!({"RoleName": "nodes", "AdditionalPolicyArns": [SSM]});
    assert_eq!(h.create("NodeRole", with_ssm.clone()).await["Status"], "SUCCESS");
    h.detach("nodes", SSM).await;
    h.aws.fail_operation(
        "iam:AttachRolePolicy",
        vec![test_support::fault_proxy::Fault::Latency(std::time::Duration::from_millis(1200))],
    );
    let mut event = drift_event("drift-detach-role-policy.json", "nodes");
    event["detail"]["requestParameters"]["policyArn"] = json!(SSM);
    let without = json!({"RoleName": "nodes"});
    let (repaired, updated) = tokio::join!(h.outcome(&event, "nodes"), async {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        h.send(&update("NodeRole", "nodes", without.clone(), with_ssm.clone(), &h.url())).await
    });
    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    assert_eq!(repaired, "repaired");
    let attached = h.attached("nodes").await;
    assert!(!attached.contains("AmazonSSMManagedInstanceCore"), "the Update's state stands: {attached:?}");
    assert!(attached.contains("AmazonEKSWorkerNodePolicy"));
}
