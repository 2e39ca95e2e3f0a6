//! The guard as an attacker meets it: the released binary under the Runtime API emulator, moto as IAM,
//! DynamoDB and CloudFormation. Whoever can tag a role, invoke the function or name a policy must not be able to
//! borrow its IAM powers. Each test checks that nothing changed, not only that an error came back.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use test_support::*;

const WORKER_ARN: &str = "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy";
const ADMIN_ARN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

/// Everything an attacker might want to change about a role, read back.
#[derive(Debug, PartialEq)]
struct Snapshot {
    trust: Value,
    boundary: Option<String>,
    attached: BTreeSet<String>,
    profiles: Vec<String>,
    tags: BTreeMap<String, String>,
}

async fn snapshot(h: &Harness, role: &str) -> Snapshot {
    let r = h.role(role).await.expect("role exists");
    Snapshot {
        trust: h.trust(role).await,
        boundary: r.permissions_boundary().and_then(|b| b.permissions_boundary_arn()).map(str::to_string),
        attached: h.attached(role).await,
        profiles: h.profiles_of(role).await,
        tags: h.tags(role).await,
    }
}

fn sweep() -> Value {
    json!({"detail-type": "Scheduled Event", "source": "aws.events", "id": "sweep"})
}

/// A role trusting `principal` (e.g. `{"Service": "lambda.amazonaws.com"}`), at `path`, with `policies`.
async fn foreign_role(h: &Harness, name: &str, path: &str, principal: Value, policies: &[&str]) {
    let trust = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":principal,"Action":"sts:AssumeRole"}]});
    h.iam.create_role().role_name(name).path(path).assume_role_policy_document(trust.to_string()).send().await.unwrap();
    for p in policies {
        h.iam.attach_role_policy().role_name(name).policy_arn(*p).send().await.unwrap();
    }
}

#[tokio::test]
async fn copied_labels_give_a_foreign_role_nothing_and_cost_iam_nothing() {
    let h = Harness::deployed(&[]).await;
    let r = h.create("NodeRole", json!({"RoleName": "nodes"})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}\n{}", h.logs());
    // A Lambda role with a boundary gets every label of the genuine role copied onto it.
    foreign_role(&h, "app-fn", "/", json!({"Service": "lambda.amazonaws.com"}), &[]).await;
    h.iam
        .put_role_permissions_boundary()
        .role_name("app-fn")
        .permissions_boundary("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await
        .unwrap();
    let copied: Vec<(String, String)> =
        h.tags("nodes").await.into_iter().filter(|(k, _)| k.starts_with("eks-node-role-guard:")).collect();
    assert_eq!(copied.len(), 4);
    h.tag("app-fn", &copied.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>()).await;
    let before = snapshot(&h, "app-fn").await;

    let iam_before = h.aws.by_service().get("iam").copied().unwrap_or(0);
    for file in ["drift-update-assume-role-policy.json", "drift-delete-role-permissions-boundary.json"] {
        let out = h.deliver(&drift_event(file, "app-fn")).await.unwrap();
        assert_eq!(out["outcomes"][0]["outcome"], "ignored", "{out}");
        assert!(out["outcomes"][0]["reason"].as_str().unwrap().contains("no state item"), "{out}");
    }
    let iam_after = h.aws.by_service().get("iam").copied().unwrap_or(0);
    assert_eq!(iam_after, iam_before, "events about a role without an item make no IAM call, labelled or not");
    let out = h.deliver(&sweep()).await.unwrap();
    assert!(!out.to_string().contains("app-fn"), "the sweep reads the state table, not labels: {out}");
    assert_eq!(snapshot(&h, "app-fn").await, before, "trust, boundary, policies, profiles untouched");
}

#[tokio::test]
async fn hostile_edits_of_a_genuine_roles_tags_change_nothing_that_is_enforced() {
    let h = Harness::deployed(&[("CIRCUIT_MAX_REPAIRS", "3")]).await;
    let r = h.create("NodeRole", json!({"RoleName": "nodes"})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    let far_future = "4102444800 4102444801 4102444802 4102444803 4102444804";
    h.tag(
        "nodes",
        &[
            ("eks-node-role-guard:remediation", "off"),
            ("eks-node-role-guard:repairs", far_future),
            ("eks-node-role-guard:extra-policies", ADMIN_ARN),
            ("eks-node-role-guard:stack-id", "arn:aws:cloudformation:us-east-1:123456789012:stack/evil/1"),
        ],
    )
    .await;
    for _ in 0..3 {
        h.detach("nodes", WORKER_ARN).await;
        let out = h.deliver(&drift_event("drift-detach-role-policy.json", "nodes")).await.unwrap();
        assert_eq!(out["outcomes"][0]["outcome"], "repaired", "the stack's mode, not a tag, decides: {out}");
    }
    assert!(h.attached("nodes").await.contains("AmazonEKSWorkerNodePolicy"));
    assert!(!h.attached("nodes").await.contains("AdministratorAccess"), "a tag asks for nothing");
    let item = h.record("nodes").await.unwrap();
    assert_eq!(item.repairs.len(), 3, "the breaker counts real repairs only");
    assert!(item.repairs.iter().all(|t| *t < 4_000_000_000), "no future timestamps: {:?}", item.repairs);
    assert_eq!(item.owner.stack_id, h.stack_for("NodeRole").await, "the owner is the item's");
}

async fn refused(h: &Harness, logical: &str, props: Value, expect: &str, role: &str) {
    let before = snapshot(h, role).await;
    let r = h.create(logical, props).await;
    assert_eq!(r["Status"], "FAILED", "{r}");
    let reason = r["Reason"].as_str().unwrap();
    assert!(reason.contains(expect), "{expect}: {reason}");
    assert_eq!(snapshot(h, role).await, before, "{role} untouched");
    assert!(h.record(role).await.is_none() || expect.contains("already managed by"), "nothing written for {role}");
}

#[tokio::test]
async fn adoption_refuses_every_role_the_operator_did_not_declare_a_clean_node_role() {
    // The function's own role is even declared adoptable here: it is still refused.
    let adoptable = format!("{ADOPTABLE},{OWN_ROLE}");
    let h = Harness::deployed(&[("ADOPTABLE_ROLE_NAMES", &adoptable)]).await;
    let adopt = |name: &str| json!({"RoleName": name, "AdoptExistingRole": "true"});

    foreign_role(&h, "ci-deployer", "/", json!({"AWS": "arn:aws:iam::210987654321:root"}), &[]).await;
    refused(&h, "A", adopt("ci-deployer"), "not in AdoptableRoleNames", "ci-deployer").await;

    foreign_role(&h, "AmazonEKSNodeRole", "/", json!({"Service": "ec2.amazonaws.com"}), &[WORKER_ARN, ADMIN_ARN]).await;
    refused(
        &h,
        "B",
        adopt("AmazonEKSNodeRole"),
        "it carries arn:aws:iam::aws:policy/AdministratorAccess",
        "AmazonEKSNodeRole",
    )
    .await;

    refused(&h, "C", adopt(OWN_ROLE), "this function's own execution role", OWN_ROLE).await;

    foreign_role(&h, "eksNodeRole", "/service-role/", json!({"Service": "ec2.amazonaws.com"}), &[]).await;
    refused(&h, "D", adopt("eksNodeRole"), "/service-role/", "eksNodeRole").await;

    foreign_role(&h, "NodeInstanceRole", "/", json!({"Service": "ec2.amazonaws.com"}), &[]).await;
    h.iam
        .put_role_policy()
        .role_name("NodeInstanceRole")
        .policy_name("everything")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    refused(&h, "E", adopt("NodeInstanceRole"), "inline policy 'everything'", "NodeInstanceRole").await;

    foreign_role(&h, "legacy-cluster", "/", json!({"Service": "eks.amazonaws.com"}), &[]).await;
    refused(&h, "F", adopt("legacy-cluster"), "cluster role", "legacy-cluster").await;

    // A declared name whose trust also lets an account in (seeded to be adopted, then handed back): refused.
    let laundering = json!([{"Service": "ec2.amazonaws.com"}, {"AWS": "arn:aws:iam::210987654321:root"}]);
    for (logical, name, principal) in
        [("H", "eksNodeRole-seeded", laundering[1].clone()), ("I", "NodeInstanceRole-x", json!("*"))]
    {
        let trust = json!({"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},
            {"Effect":"Allow","Principal":principal,"Action":"sts:AssumeRole"}]});
        let h2 = Harness::deployed(&[("ADOPTABLE_ROLE_NAMES", name)]).await;
        h2.iam.create_role().role_name(name).assume_role_policy_document(trust.to_string()).send().await.unwrap();
        refused(&h2, logical, adopt(name), "its trust policy names", name).await;
    }
    let conditional = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},
        "Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":"210987654321"}}}]});
    let h3 = Harness::deployed(&[("ADOPTABLE_ROLE_NAMES", "eksNodeRole")]).await;
    h3.iam
        .create_role()
        .role_name("eksNodeRole")
        .assume_role_policy_document(conditional.to_string())
        .send()
        .await
        .unwrap();
    refused(&h3, "J", adopt("eksNodeRole"), "carries a condition", "eksNodeRole").await;

    // A role another stack manages: refused, naming that owner; its item stays that owner's.
    assert_eq!(h.create("Owner", json!({"RoleName": "legacy-shared"})).await["Status"], "SUCCESS");
    let owner = h.stack_for("Owner").await;
    refused(&h, "G", adopt("legacy-shared"), "is already managed by a resource of another stack", "legacy-shared")
        .await;
    assert_eq!(h.record("legacy-shared").await.unwrap().owner.stack_id, owner);
}

#[tokio::test]
async fn requests_no_stack_sent_change_nothing() {
    let h = Harness::deployed(&[]).await;
    let props = json!({"RoleName": "nodes"});
    assert_eq!(h.create("NodeRole", props.clone()).await["Status"], "SUCCESS");
    let stack = h.stack_for("NodeRole").await;
    // The stack completed (CloudFormation took the answer): from now on nobody may speak for it.
    assert_eq!(h.model.describe_resource(&stack, "NodeRole").unwrap().unwrap().status, "CREATE_COMPLETE");
    let before = snapshot(&h, "nodes").await;
    let item = h.record("nodes").await.unwrap();

    let at = |mut req: Value, stack_id: &str| {
        req["StackId"] = json!(stack_id);
        req
    };
    let other_account = stack.replace("123456789012", "210987654321");
    let other_region = stack.replace("us-east-1", "eu-west-1");
    let wide = json!({"RoleName": "nodes", "AdditionalPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]});
    for target in [stack.as_str(), other_account.as_str(), other_region.as_str()] {
        for req in [
            delete("NodeRole", "nodes", props.clone(), &h.url()),
            update("NodeRole", "nodes", wide.clone(), props.clone(), &h.url()),
            request("Create", "NodeRole", json!({"RoleName": "intruder"}), &h.url()),
        ] {
            let r = h.send_as_is(&at(req, target)).await;
            assert_eq!(r["Status"], "FAILED", "{target}: {r}");
            assert!(r["Reason"].as_str().unwrap().contains("not confirmed by CloudFormation"), "{r}");
        }
    }
    // The owner stack busy with something else, then updating this very resource, then cleaning up after it:
    // a request the resource is not in the state for, or naming an id it does not hold, is refused.
    let forged = |kind: &str, id: &str| match kind {
        "Delete" => at(delete("NodeRole", id, props.clone(), &h.url()), &stack),
        _ => at(update("NodeRole", id, wide.clone(), props.clone(), &h.url()), &stack),
    };
    h.model.set_stack_status(&stack, "UPDATE_IN_PROGRESS");
    for (kind, id, why) in [("Delete", "nodes", "is CREATE_COMPLETE"), ("Update", "nodes", "is CREATE_COMPLETE")] {
        let r = h.send_as_is(&forged(kind, id)).await;
        assert_eq!(r["Status"], "FAILED", "{kind} while a sibling updates: {r}");
        assert!(r["Reason"].as_str().unwrap().contains(why), "{r}");
    }
    h.model.updating(&stack, "NodeRole");
    for (kind, id, why) in [("Delete", "nodes", "is UPDATE_IN_PROGRESS"), ("Update", "eks-admin", "does not hold")] {
        let r = h.send_as_is(&forged(kind, id)).await;
        assert_eq!(r["Status"], "FAILED", "{kind} {id} while the resource updates: {r}");
        assert!(r["Reason"].as_str().unwrap().contains(why), "{r}");
    }
    h.model.updated(&stack, "NodeRole", "nodes");
    h.model.set_stack_status(&stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS");
    let r = h.send_as_is(&forged("Delete", "nodes")).await;
    assert_eq!(r["Status"], "FAILED", "the cleanup never deletes the id the resource holds: {r}");
    // In a rollback, a request the rules do not expect changes nothing and lets the rollback finish.
    h.model.rolling_back_update(&stack, "NodeRole");
    let r = h.send_as_is(&forged("Update", "eks-admin")).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert!(r["Data"]["Warnings"].as_str().unwrap().contains("nothing was changed"), "{r}");
    assert_eq!(r["PhysicalResourceId"], "eks-admin", "the id it named, no role's attributes");
    assert!(r["Data"].get("Arn").is_none(), "{r}");
    assert_eq!(snapshot(&h, "nodes").await, before, "nothing changed");
    h.model.finish_update(&stack);
    // A Delete confirmed for another resource (of a stack in progress) names this role: it is not that
    // resource's, so it is left alone.
    let r = h.send(&delete("Elsewhere", "nodes", props.clone(), &h.url())).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(snapshot(&h, "nodes").await, before, "nothing changed");
    assert_eq!(h.record("nodes").await.unwrap(), item, "the item is unchanged");
    assert!(h.role("intruder").await.is_none());
}

#[tokio::test]
async fn a_role_recreated_under_the_same_name_is_not_ours_delete_removes_only_the_item() {
    let h = Harness::deployed(&[]).await;
    let props = json!({"RoleName": "nodes", "CreateInstanceProfile": "false"});
    assert_eq!(h.create("NodeRole", props.clone()).await["Status"], "SUCCESS");
    // Someone deletes the role and makes their own under the same name, admin included.
    for p in h.attached("nodes").await {
        h.detach("nodes", &format!("arn:aws:iam::aws:policy/{p}")).await;
    }
    h.iam.delete_role().role_name("nodes").send().await.unwrap();
    foreign_role(&h, "nodes", "/", json!({"Service": "lambda.amazonaws.com"}), &[ADMIN_ARN]).await;
    let before = snapshot(&h, "nodes").await;

    // Repair leaves it alone; an Update is refused; Delete removes only the item.
    h.detach("nodes", ADMIN_ARN).await;
    h.iam.attach_role_policy().role_name("nodes").policy_arn(ADMIN_ARN).send().await.unwrap();
    let out = h.deliver(&drift_event("drift-update-assume-role-policy.json", "nodes")).await.unwrap();
    assert_eq!(out["outcomes"][0]["outcome"], "ignored", "{out}");
    let u = h
        .send(&update("NodeRole", "nodes", json!({"RoleName": "nodes", "Description": "x"}), props.clone(), &h.url()))
        .await;
    assert_eq!(u["Status"], "FAILED", "{u}");
    assert!(u["Reason"].as_str().unwrap().contains("RoleId differs"), "{u}");
    let d = h.send(&delete("NodeRole", "nodes", props, &h.url())).await;
    assert_eq!(d["Status"], "SUCCESS", "{d}");
    assert_eq!(snapshot(&h, "nodes").await, before, "the foreign role survives untouched");
    assert!(h.record("nodes").await.is_none(), "the item went");
}

#[tokio::test]
async fn a_foreign_ipv6_cni_policy_is_never_attached_through_the_binary() {
    let h = Harness::deployed(&[]).await;
    let star = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]});
    h.make_ipv6_policy(&star).await;
    let r = h.create("NodeRole", json!({"RoleName": "nodes", "IpFamily": "ipv6"})).await;
    assert_eq!(r["Status"], "FAILED", "{r}");
    assert!(h.role("nodes").await.is_none());
    let r = h.create("Other", json!({"RoleName": "nodes4"})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    let u = h
        .send(&update(
            "Other",
            "nodes4",
            json!({"RoleName": "nodes4", "IpFamily": "ipv6"}),
            json!({"RoleName": "nodes4"}),
            &h.url(),
        ))
        .await;
    assert_eq!(u["Status"], "FAILED", "{u}");
    assert!(!h.attached("nodes4").await.contains("AmazonEKS_CNI_IPv6_Policy"));
    assert_eq!(h.record("nodes4").await.unwrap().desired.ip_family.as_str(), "ipv4", "nothing written");
}
