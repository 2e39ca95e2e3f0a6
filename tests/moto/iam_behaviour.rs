//! IAM as it behaves, where moto does not: every `Harness` sends the function's calls through a layer that holds
//! each IAM write's role or instance profile for a while and refuses another write to it meanwhile with 409
//! `ConcurrentModification` (`FaultProxy::behave_like_iam`). The function must never send such overlapping writes
//! itself, and must wait out the ones another writer causes.

use std::time::{Duration, Instant};

use serde_json::json;
use test_support::fault_proxy::{Fault, FaultProxy};
use test_support::*;

const WORKER: &str = "AmazonEKSWorkerNodePolicy";
const ECR: &str = "AmazonEC2ContainerRegistryPullOnly";
const CNI: &str = "AmazonEKS_CNI_Policy";
const SSM_ARN: &str = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore";
const READ_ONLY_ARN: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";

/// A moto, the layer in front of it (set up by `configure`), and an IAM client through the layer.
async fn through_the_layer(configure: impl FnOnce(&FaultProxy)) -> (Moto, FaultProxy, aws_sdk_iam::Client) {
    let moto = Moto::start();
    prepare(&moto.endpoint()).await;
    let proxy = FaultProxy::start(moto.port).await;
    configure(&proxy);
    let iam = client_for(&proxy.endpoint(), &eks_node_role_guard::iam::IamSettings::default(), None);
    (moto, proxy, iam)
}

/// The layer itself: two writes to one role at once, one refused as IAM refuses it; one after the other, both
/// pass; writes to two roles at once, both pass; reads never conflict.
#[tokio::test]
async fn the_layer_refuses_overlapping_writes_to_one_entity_as_iam_does() {
    let (_moto, proxy, iam) = through_the_layer(|p| p.behave_like_iam(Duration::from_millis(40))).await;
    let trust = r#"{"Version":"2012-10-17","Statement":[]}"#;
    for role in ["a", "b"] {
        iam.create_role().role_name(role).assume_role_policy_document(trust).send().await.unwrap();
    }
    let attach = |role: &'static str, policy: &'static str| {
        let iam = iam.clone();
        async move {
            let arn = format!("arn:aws:iam::aws:policy/{policy}");
            iam.attach_role_policy().role_name(role).policy_arn(arn).send().await
        }
    };
    let (one, two) = tokio::join!(attach("a", WORKER), attach("a", CNI));
    let refused: Vec<_> = [one, two].into_iter().filter_map(Result::err).collect();
    assert_eq!(refused.len(), 1, "one of two overlapping writes to a role is refused");
    let e = aws_sdk_iam::error::ProvideErrorMetadata::code(&refused[0]).map(str::to_string);
    assert_eq!(e.as_deref(), Some("ConcurrentModification"));
    assert_eq!(proxy.conflicts().len(), 1, "{:?}", proxy.conflicts());

    attach("a", ECR).await.unwrap();
    attach("a", "ReadOnlyAccess").await.unwrap();
    let (x, y) = tokio::join!(attach("a", "AmazonSSMManagedInstanceCore"), attach("b", WORKER));
    x.unwrap();
    y.unwrap();
    let (r1, r2) = tokio::join!(
        iam.list_attached_role_policies().role_name("a").send(),
        iam.list_attached_role_policies().role_name("a").send()
    );
    r1.unwrap();
    r2.unwrap();
    let tag =
        iam.tag_role().role_name("b").tags(aws_sdk_iam::types::Tag::builder().key("k").value("v").build().unwrap());
    proxy.busy_for("role:b", Duration::from_millis(200));
    let e = tag.clone().send().await.unwrap_err();
    assert!(format!("{:?}", e).contains("previous tagging operation is still ongoing"), "{e:?}");
    assert_eq!(proxy.conflicts().len(), 2);
}

/// The README's example (a node role with `Tags`), with an extra policy: every write lands, none is refused.
#[tokio::test]
async fn a_create_with_tags_and_extra_policies_converges_without_overlapping_writes() {
    let h = Harness::new().await;
    let props = json!({
        "RoleName": "nodes",
        "AdditionalPolicyArns": [SSM_ARN, READ_ONLY_ARN],
        "Tags": [{"Key": "team", "Value": "platform"}, {"Key": "env", "Value": "prod"}]
    });
    let r = h.create("Nodes", props).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(h.attached("nodes").await, names(&[WORKER, ECR, CNI, "AmazonSSMManagedInstanceCore", "ReadOnlyAccess"]));
    let tags = h.tags("nodes").await;
    assert_eq!(
        (tags.get("team").map(String::as_str), tags.get("env").map(String::as_str)),
        (Some("platform"), Some("prod"))
    );
    assert_eq!(h.profiles_of("nodes").await, ["nodes"]);
    assert!(h.aws.conflicts().is_empty(), "the function sent overlapping writes: {:?}", h.aws.conflicts());
}

/// An Update that changes tags and policies at once, and its rollback: no write refused.
#[tokio::test]
async fn an_update_of_tags_and_policies_converges_without_overlapping_writes() {
    let h = Harness::new().await;
    let v1 = json!({"RoleName": "nodes", "Tags": [{"Key": "env", "Value": "dev"}]});
    assert_eq!(h.create("Nodes", v1.clone()).await["Status"], "SUCCESS");
    let v2 = json!({
        "RoleName": "nodes", "AdditionalPolicyArns": [SSM_ARN, READ_ONLY_ARN],
        "Tags": [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "platform"}]
    });
    let r = h.send(&update("Nodes", "nodes", v2.clone(), v1.clone(), &h.url())).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(h.attached("nodes").await, names(&[WORKER, ECR, CNI, "AmazonSSMManagedInstanceCore", "ReadOnlyAccess"]));
    assert_eq!(h.tags("nodes").await.get("team").map(String::as_str), Some("platform"));
    let back = h.send(&update("Nodes", "nodes", v1.clone(), v2, &h.url())).await;
    assert_eq!(back["Status"], "SUCCESS", "{back}");
    assert_eq!(h.attached("nodes").await, names(&[WORKER, ECR, CNI]));
    assert!(!h.tags("nodes").await.contains_key("team"));
    assert!(h.aws.conflicts().is_empty(), "the function sent overlapping writes: {:?}", h.aws.conflicts());
}

/// Two required policies detached: one repair puts both back.
#[tokio::test]
async fn a_repair_of_several_detached_policies_restores_every_one() {
    let h = Harness::new().await;
    assert_eq!(h.create("Nodes", json!({"RoleName": "nodes"})).await["Status"], "SUCCESS");
    for p in [WORKER, CNI, ECR] {
        h.detach("nodes", &format!("arn:aws:iam::aws:policy/{p}")).await;
    }
    let ev = drift_event("drift-detach-role-policy.json", "nodes");
    assert_eq!(h.outcome(&ev, "nodes").await, "repaired");
    assert_eq!(h.attached("nodes").await, names(&[WORKER, ECR, CNI]));
    assert!(h.aws.conflicts().is_empty(), "the function sent overlapping writes: {:?}", h.aws.conflicts());
}

/// Another writer holds the role (an organisation's automation tagging it): the repair's write is refused with
/// 409 until it is done, then lands; `EntityTemporarilyUnmodifiable` is waited out the same way.
#[tokio::test]
async fn a_write_refused_as_concurrent_is_tried_again_until_the_other_writer_is_done() {
    let h = Harness::new().await;
    assert_eq!(h.create("Nodes", json!({"RoleName": "nodes"})).await["Status"], "SUCCESS");
    h.detach("nodes", &format!("arn:aws:iam::aws:policy/{WORKER}")).await;
    h.aws.busy_for("role:nodes", Duration::from_millis(300));
    let started = Instant::now();
    let ev = drift_event("drift-detach-role-policy.json", "nodes");
    assert_eq!(h.outcome(&ev, "nodes").await, "repaired");
    assert!(h.attached("nodes").await.contains(WORKER));
    assert!(!h.aws.conflicts().is_empty(), "the other writer's hold was met");
    assert!(started.elapsed() >= Duration::from_millis(250), "landed only after the hold: {:?}", started.elapsed());

    h.detach("nodes", &format!("arn:aws:iam::aws:policy/{CNI}")).await;
    h.aws.fail_operation("iam:AttachRolePolicy", vec![Fault::Unmodifiable, Fault::ConcurrentModification]);
    assert_eq!(h.outcome(&ev, "nodes").await, "repaired");
    assert!(h.attached("nodes").await.contains(CNI));
}

/// A writer that never lets go: the repair gives up within its budget, as a failure a retry can fix
/// (`retryable`), and says which call and why.
#[tokio::test]
async fn a_role_held_longer_than_the_retries_fails_as_retryable_naming_the_conflict() {
    let h = Harness::new().await;
    assert_eq!(h.create("Nodes", json!({"RoleName": "nodes"})).await["Status"], "SUCCESS");
    h.detach("nodes", &format!("arn:aws:iam::aws:policy/{WORKER}")).await;
    h.aws.busy_for("role:nodes", Duration::from_secs(30));
    let ev = drift_event("drift-detach-role-policy.json", "nodes");
    let started = Instant::now();
    let out = h.deliver(&ev).await;
    let text = match &out {
        Ok(v) => v.to_string(),
        Err(e) => format!("{e} retryable={}", e.is_retryable()),
    };
    assert!(started.elapsed() < Duration::from_secs(10), "gave up within the retries: {:?}", started.elapsed());
    assert!(text.contains("ConcurrentModification"), "{text}");
    assert!(out.is_err_and(|e| e.is_retryable()) || text.contains("\"retryable\":true"), "{text}");
    assert!(!h.attached("nodes").await.contains(WORKER));
}

/// The stack's role `nodes`, which a managed node group also put in its own instance profile `node_group`.
async fn role_in_node_group(node_group: &str) -> (Harness, serde_json::Value) {
    let h = Harness::new().await;
    let props = json!({"RoleName": "nodes"});
    assert_eq!(h.create("Nodes", props.clone()).await["Status"], "SUCCESS");
    h.iam.create_instance_profile().instance_profile_name(node_group).send().await.unwrap();
    h.iam.add_role_to_instance_profile().instance_profile_name(node_group).role_name("nodes").send().await.unwrap();
    (h, props)
}

/// A role an EKS managed node group uses is in the node group's own `eks-…` instance profile. A Delete (the
/// stack's, or a replacement's cleanup) never takes it out: FAILED naming the profile, after looking again, with
/// nothing changed; once the node group has let go, the Delete goes through and never touches that profile.
#[tokio::test]
async fn a_delete_refuses_a_role_in_a_node_groups_instance_profile_and_changes_nothing() {
    let node_group = "eks-4ec5f2a0-8c1e-4d7a-node-group";
    let (h, props) = role_in_node_group(node_group).await;
    let before = (h.attached("nodes").await, h.profiles_of("nodes").await);

    let started = Instant::now();
    let r = h.send(&delete("Nodes", "nodes", props.clone(), &h.url())).await;
    assert_eq!(r["Status"], "FAILED", "{r}");
    let reason = r["Reason"].as_str().unwrap();
    assert!(reason.contains(node_group) && reason.contains("nothing was changed"), "{reason}");
    assert!(started.elapsed() >= Duration::from_millis(1900), "looked again first: {:?}", started.elapsed());
    assert_eq!((h.attached("nodes").await, h.profiles_of("nodes").await), before, "nothing changed");
    let item = h.record("nodes").await.expect("the item stays");
    assert_eq!(item.phase, eks_node_role_guard::state::Phase::Active);

    h.iam
        .remove_role_from_instance_profile()
        .instance_profile_name(node_group)
        .role_name("nodes")
        .send()
        .await
        .unwrap();
    let r = h.send(&delete("Nodes", "nodes", props, &h.url())).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert!(h.role("nodes").await.is_none() && h.record("nodes").await.is_none());
    assert!(h.profile_exists(node_group).await, "the node group's profile is not the tool's to delete");
    assert!(!h.profile_exists("nodes").await, "the tool's own profile went with the role");
}

/// The node group's profile lets go of the role while the Delete looks again (a listing just after the node
/// group's deletion): the Delete goes through.
#[tokio::test]
async fn a_node_group_that_lets_go_while_the_delete_looks_again_does_not_stop_it() {
    let node_group = "eks-0b1c-node-group";
    let (h, props) = role_in_node_group(node_group).await;
    let iam = h.iam.clone();
    let lets_go = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(250)).await;
        iam.remove_role_from_instance_profile().instance_profile_name(node_group).role_name("nodes").send().await
    });
    let r = h.send(&delete("Nodes", "nodes", props, &h.url())).await;
    lets_go.await.unwrap().unwrap();
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert!(h.role("nodes").await.is_none());
    assert!(h.profile_exists(node_group).await);
}

/// An organisation's automation puts its own permissions boundary on every role. The installation does not allow
/// the function to remove it: the owner's Update and its rollback succeed and say so in `Warnings`, drift repair
/// leaves it too, and the boundary stays. One the installation allows is removed as the stack asks.
#[tokio::test]
async fn a_boundary_someone_else_put_on_a_managed_role_stays_and_is_reported() {
    let h = Harness::new().await;
    let v1 = json!({"RoleName": "nodes"});
    assert_eq!(h.create("Nodes", v1.clone()).await["Status"], "SUCCESS");
    let org = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
    h.iam.put_role_permissions_boundary().role_name("nodes").permissions_boundary(org).send().await.unwrap();
    let boundary = |h: &Harness| {
        let iam = h.iam.clone();
        async move {
            let role = iam.get_role().role_name("nodes").send().await.unwrap().role.unwrap();
            role.permissions_boundary.and_then(|b| b.permissions_boundary_arn)
        }
    };

    let v2 = json!({"RoleName": "nodes", "Tags": [{"Key": "team", "Value": "platform"}]});
    let r = h.send(&update("Nodes", "nodes", v2.clone(), v1.clone(), &h.url())).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    let warning = r["Data"]["Warnings"].as_str().unwrap_or_default();
    assert!(warning.contains(org) && warning.contains("left in place"), "{r}");
    assert_eq!(boundary(&h).await.as_deref(), Some(org));
    let back = h.send(&update("Nodes", "nodes", v1.clone(), v2, &h.url())).await;
    assert_eq!(back["Status"], "SUCCESS", "the rollback too: {back}");
    assert_eq!(boundary(&h).await.as_deref(), Some(org));

    h.detach("nodes", &format!("arn:aws:iam::aws:policy/{WORKER}")).await;
    let ev = drift_event("drift-detach-role-policy.json", "nodes");
    assert_eq!(h.outcome(&ev, "nodes").await, "repaired", "the policy is restored, the boundary left");
    assert_eq!(boundary(&h).await.as_deref(), Some(org));
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "id": "sweep"});
    assert_eq!(h.outcome(&sweep, "nodes").await, "in-sync");
    assert_eq!(h.outcome(&sweep, "nodes").await, "in-sync");
    // Reported once, not on every sweep: the item's trail remembers it.
    let trail = h.record("nodes").await.unwrap().trail;
    let notes = trail.iter().filter(|t| t.ends_with(&format!("left boundary {org} in place"))).count();
    assert_eq!(notes, 1, "{trail:?}");

    // A boundary the installation allows (AllowedPermissionsBoundaryArns) is the stack's to remove.
    let allowed = format!("arn:aws:iam::aws:policy/{BOUNDARY}");
    h.iam.put_role_permissions_boundary().role_name("nodes").permissions_boundary(&allowed).send().await.unwrap();
    let r = h.send(&update("Nodes", "nodes", v1.clone(), v1.clone(), &h.url())).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert!(r["Data"].get("Warnings").is_none(), "{r}");
    assert_eq!(boundary(&h).await, None);
}

/// The layer's lag: a read of a role written within it answers as before the write; after it, as now. A role
/// looked for before it was made stays `NoSuchEntity` for the lag, and so does a write naming it.
#[tokio::test]
async fn the_layer_lets_reads_lag_behind_writes_as_iam_does() {
    let (_moto, proxy, iam) = through_the_layer(|p| p.eventually_consistent(Duration::from_millis(600))).await;
    assert!(iam.get_role().role_name("late").send().await.is_err(), "absent");
    let trust = r#"{"Version":"2012-10-17","Statement":[]}"#;
    iam.create_role().role_name("late").assume_role_policy_document(trust).send().await.unwrap();
    let e = iam.get_role().role_name("late").send().await.unwrap_err();
    assert_eq!(aws_sdk_iam::error::ProvideErrorMetadata::code(&e), Some("NoSuchEntity"), "not visible yet");
    let worker = format!("arn:aws:iam::aws:policy/{WORKER}");
    let e = iam.attach_role_policy().role_name("late").policy_arn(&worker).send().await.unwrap_err();
    let message = aws_sdk_iam::error::ProvideErrorMetadata::message(&e).unwrap_or_default().to_string();
    assert_eq!(message, "The role with name late cannot be found.", "a write to a role just made");
    let attached = |iam: aws_sdk_iam::Client| async move {
        let out = iam.list_attached_role_policies().role_name("late").send().await.unwrap();
        out.attached_policies.unwrap_or_default().len()
    };
    tokio::time::sleep(Duration::from_millis(650)).await;
    assert!(iam.get_role().role_name("late").send().await.is_ok(), "visible after the lag");
    assert_eq!(attached(iam.clone()).await, 0);
    iam.attach_role_policy().role_name("late").policy_arn(&worker).send().await.unwrap();
    assert_eq!(attached(iam.clone()).await, 0, "the list reads stale");
    tokio::time::sleep(Duration::from_millis(650)).await;
    assert_eq!(attached(iam.clone()).await, 1);
    assert_eq!(proxy.stale_answers(), 3);
}

/// EC2 launches nodes with an instance profile only once IAM shows the role in it: a Create that made or filled
/// the profile answers only once IAM's reads show the role there (here 1.5 s after the write).
#[tokio::test]
async fn a_create_answers_once_reads_show_the_role_in_its_instance_profile() {
    let h = Harness::new().await;
    h.aws.eventually_consistent(Duration::from_millis(1500));
    let r = h.create("Nodes", json!({"RoleName": "nodes"})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    // Read as the function reads, through the lagging layer, the moment the answer arrived.
    let lagging = client_for(&h.aws.endpoint(), &eks_node_role_guard::iam::IamSettings::default(), None);
    let profile = lagging.get_instance_profile().instance_profile_name("nodes").send().await;
    let roles: Vec<String> = profile
        .map(|p| p.instance_profile.unwrap().roles.into_iter().map(|r| r.role_name).collect())
        .unwrap_or_default();
    assert_eq!(roles, ["nodes"], "the answer came before IAM showed the role in its profile");
    assert!(h.aws.stale_answers() > 0, "the lag was met");
}

/// IAM matches the ARNs in the function's permissions with their case: a role whose name differs from a declared
/// adoptable name only in case is refused before any change, as IAM would refuse the writes.
#[tokio::test]
async fn an_adoptable_name_matches_with_its_case_as_iam_matches_arns() {
    let h = Harness::new().await;
    let node_policies = [WORKER, ECR, CNI].map(|p| format!("arn:aws:iam::aws:policy/{p}"));
    let node_policies: Vec<&str> = node_policies.iter().map(String::as_str).collect();
    h.make_role("amazoneksnoderole", "ec2.amazonaws.com", &node_policies).await;
    let r = h.create("Nodes", json!({"RoleName": "amazoneksnoderole", "AdoptExistingRole": "true"})).await;
    assert_eq!(r["Status"], "FAILED", "{r}");
    assert!(r["Reason"].as_str().unwrap().contains("not in AdoptableRoleNames"), "{r}");
    assert!(h.record("amazoneksnoderole").await.is_none(), "nothing changed");
    let h = Harness::new().await;
    h.make_role("AmazonEKSNodeRole", "ec2.amazonaws.com", &node_policies).await;
    let r = h.create("Nodes", json!({"RoleName": "AmazonEKSNodeRole", "AdoptExistingRole": "true"})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
}

/// CloudTrail's event can arrive before IAM's reads show the call: the first read of a role whose policy was just
/// detached may still list it. The function reads once more, `RECHECK_AFTER` later, and restores the policy.
#[tokio::test]
async fn an_event_whose_change_the_first_read_misses_is_read_again_once() {
    let h = Harness::new().await;
    let r = h.create("Nodes", json!({"RoleName": "nodes"})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    let lag = RECHECK_AFTER - Duration::from_millis(100);
    h.aws.eventually_consistent(lag);
    // The function has read the role through the layer since the lag is on, so the layer knows its old answer.
    assert_eq!(h.outcome(&drift_event("drift-detach-role-policy.json", "nodes"), "nodes").await, "in-sync");
    let someone = client_for(&h.aws.endpoint(), &eks_node_role_guard::iam::IamSettings::default(), None);
    let worker = format!("arn:aws:iam::aws:policy/{WORKER}");
    someone.detach_role_policy().role_name("nodes").policy_arn(&worker).send().await.unwrap();
    let stale_before = h.aws.stale_answers();
    let started = Instant::now();
    let outcome = h.outcome(&drift_event("drift-detach-role-policy.json", "nodes"), "nodes").await;
    assert_eq!(outcome, "repaired", "the second read saw the detach");
    assert!(h.aws.stale_answers() > stale_before, "the first read was stale");
    assert!(started.elapsed() >= RECHECK_AFTER, "it waited before reading again: {:?}", started.elapsed());
    assert!(h.attached("nodes").await.contains(WORKER));
}

/// A change the second read does not show either (it was undone meanwhile, or never happened) is not waited for
/// again: one more read, then the decision.
#[tokio::test]
async fn a_change_no_read_shows_is_read_again_once_only() {
    let h = Harness::new().await;
    let r = h.create("Nodes", json!({"RoleName": "nodes"})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    // A boundary removal the first read shows (there is none): one read of the role.
    let before = h.calls.get();
    let event = drift_event("drift-delete-role-permissions-boundary.json", "nodes");
    assert_eq!(h.outcome(&event, "nodes").await, "in-sync");
    let one_read = h.calls.get() - before;
    // A detach no read shows: two reads, one wait.
    let before = h.calls.get();
    let started = Instant::now();
    assert_eq!(h.outcome(&drift_event("drift-detach-role-policy.json", "nodes"), "nodes").await, "in-sync");
    let elapsed = started.elapsed();
    assert!(elapsed >= RECHECK_AFTER && elapsed < RECHECK_AFTER * 3, "one wait: {elapsed:?}");
    assert_eq!(h.calls.get() - before, 2 * one_read, "the role read twice ({one_read} calls a read)");
    // An event for a role without an item: no read at all, no wait.
    let before = h.calls.get();
    assert_eq!(h.outcome(&drift_event("drift-detach-role-policy.json", "unmanaged"), "unmanaged").await, "ignored");
    assert_eq!(h.calls.get(), before, "no IAM call");
}

/// A role that reads as absent once (IAM's reads lag) is read again before anyone is paged: no `RoleDeleted`.
/// One that is still absent is reported. And an item whose role is still being made is not a deleted role.
#[tokio::test]
async fn a_role_that_reads_as_absent_once_is_read_again_before_an_alarm() {
    let h = Harness::new().await;
    let r = h.create("Nodes", json!({"RoleName": "nodes"})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "id": "sweep"});
    h.aws.fail_operation("iam:GetRole", vec![Fault::NoSuchEntity]);
    assert_eq!(h.outcome(&sweep, "nodes").await, "in-sync", "read again, and there");
    assert_eq!(h.metrics.count(eks_node_role_guard::metrics::Metric::RoleDeleted, "nodes"), 0);
    h.aws.fail_operation("iam:GetRole", vec![Fault::NoSuchEntity, Fault::NoSuchEntity]);
    assert_eq!(h.outcome(&sweep, "nodes").await, "role-deleted", "absent on both reads");
    assert_eq!(h.metrics.count(eks_node_role_guard::metrics::Metric::RoleDeleted, "nodes"), 1);
    // An item written by a Create that has not made its role yet (no RoleId): being created, not deleted.
    let mut spec = eks_node_role_guard::testing::spec();
    spec.name = eks_node_role_guard::domain::RoleName::parse("coming").unwrap();
    // Its stack is creating it (an item of a stack that does not exist would be orphaned).
    spec.owner =
        eks_node_role_guard::domain::Owner { stack_id: h.stack_for("Coming").await, logical_id: "Coming".into() };
    let making = eks_node_role_guard::state::Record::new(spec);
    eks_node_role_guard::state::StateStore::put(&h.store, &making, eks_node_role_guard::state::Expect::NewOrOwn)
        .await
        .unwrap();
    let out = h.deliver(&sweep).await.unwrap();
    let coming = out["outcomes"].as_array().unwrap().iter().find(|o| o["role"] == "coming").unwrap().clone();
    assert_eq!(
        (coming["outcome"].as_str(), coming["reason"].as_str()),
        (Some("ignored"), Some("its stack is still creating it"))
    );
    assert_eq!(h.metrics.count(eks_node_role_guard::metrics::Metric::RoleDeleted, "coming"), 0);
}
