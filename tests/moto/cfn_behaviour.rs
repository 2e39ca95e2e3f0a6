//! CloudFormation and Lambda as they behave, not as moto does: a Create cancelled while it runs (a sibling
//! failed) and its rollback Delete under a physical id CloudFormation made up; a resource retained when its stack
//! went; the same request delivered twice at once. CloudFormation's answers come from `CfnModel`.

use std::time::Duration;

use serde_json::{json, Value};
use test_support::fault_proxy::Fault;
use test_support::*;

/// `req` sent to the stack `stack_id` of the model.
fn on(stack_id: &str, mut req: Value) -> Value {
    req["StackId"] = json!(stack_id);
    req
}

/// Sends `req` as CloudFormation does, beside other requests in flight: the answer to it, by its RequestId.
async fn send_beside(h: &Harness, req: &Value) -> Value {
    let inv = invocation(Duration::from_secs(60));
    eks_node_role_guard::cfn::handle(req, &h.app, &inv).await;
    let answers: Vec<Value> =
        h.listener.accepted().iter().map(|r| r.json()).filter(|a| a["RequestId"] == req["RequestId"]).collect();
    assert_eq!(answers.len(), 1, "exactly one answer to {}: {answers:?}", req["RequestId"]);
    answers[0].clone()
}

/// The model's own checks: what each phase shows.
#[test]
fn the_model_reports_a_custom_resource_phase_by_phase() {
    let model = test_support::cfn_model::CfnModel::default();
    let stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/prod/1";
    model.creating(stack, "Nodes");
    let shown = |m: &test_support::cfn_model::CfnModel| m.describe_resource(stack, "Nodes").unwrap().unwrap();
    assert_eq!((shown(&model).status.as_str(), shown(&model).physical_id), ("CREATE_IN_PROGRESS", None));
    model.created(stack, "Nodes", "nodes");
    assert_eq!(shown(&model).status, "CREATE_COMPLETE");
    model.updating(stack, "Nodes");
    model.updated(stack, "Nodes", "nodes-v2");
    assert_eq!(
        (shown(&model).status.as_str(), shown(&model).physical_id.as_deref()),
        ("UPDATE_COMPLETE", Some("nodes-v2"))
    );
    model.retained(stack, "Nodes");
    assert_eq!(shown(&model).status, "DELETE_SKIPPED");
    let other = "arn:aws:cloudformation:us-east-1:123456789012:stack/other/2";
    model.creating(other, "Nodes");
    let made_up = model.cancel_create(other, "Nodes");
    assert!(made_up.starts_with("other-Nodes-") && made_up.len() == "other-Nodes-".len() + 13, "{made_up}");
    let r = model.describe_resource(other, "Nodes").unwrap().unwrap();
    assert_eq!((r.status.as_str(), r.physical_id.as_deref()), ("DELETE_IN_PROGRESS", Some(made_up.as_str())));
    assert_eq!(model.describe_resource(other, "Missing"), Some(None));
    assert_eq!(model.describe_resource("arn:aws:cloudformation:us-east-1:123456789012:stack/none/3", "Nodes"), None);
}

/// The SDK reads the model as it would read CloudFormation: the resource's own status and current id.
#[tokio::test]
async fn the_function_reads_the_model_through_the_sdk() {
    use eks_node_role_guard::stacks::Stacks;
    let h = Harness::new().await;
    let stack = h.modelled_stack("prod", "Nodes");
    h.model.created(&stack, "Nodes", "nodes");
    h.model.updating(&stack, "Nodes");
    h.model.updated(&stack, "Nodes", "nodes-v2");
    let r = h.stacks.resource(&stack, "Nodes").await.unwrap().unwrap();
    assert_eq!((r.kind.as_str(), r.status.as_str()), ("Custom::EksNodeRole", "UPDATE_COMPLETE"));
    assert_eq!(r.physical_id.as_deref(), Some("nodes-v2"));
    assert_eq!(h.stacks.stack_status(&stack).await.unwrap().as_deref(), Some("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"));
    assert_eq!(h.stacks.resource(&stack, "Other").await.unwrap(), None, "a ValidationError is a definite no");
}

/// A sibling fails while the Create is still making the role: CloudFormation cancels it and its rollback Delete
/// carries an id it made up, which names no role. Whichever finishes first, nothing is left: no role, no item,
/// and the next stack may use the name.
#[tokio::test]
async fn a_create_cancelled_while_it_runs_leaves_nothing_and_locks_nothing() {
    let h = Harness::new().await;
    let stack = h.modelled_stack("prod", "Nodes");
    // The role's creation takes a while, as IAM's sometimes does.
    h.aws.fail_operation("iam:CreateRole", vec![Fault::Latency(Duration::from_millis(1500))]);
    let create = on(&stack, request("Create", "Nodes", json!({"RoleName": "nodes"}), &h.url()));
    let (answered, deleted) = tokio::join!(send_beside(&h, &create), async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let made_up = h.model.cancel_create(&stack, "Nodes");
        send_beside(&h, &on(&stack, delete("Nodes", &made_up, json!({"RoleName": "nodes"}), &h.url()))).await
    });
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert_eq!(answered["Status"], "FAILED", "nobody reads it, and it must not claim a role: {answered}");
    assert!(answered["Reason"].as_str().unwrap().contains("cancelled"), "{answered}");
    assert!(h.role("nodes").await.is_none(), "the cancelled Create's role is gone");
    assert!(h.record("nodes").await.is_none(), "and its item");
    let next = h.create("Nodes", json!({"RoleName": "nodes"})).await;
    assert_eq!(next["Status"], "SUCCESS", "the name is free: {next}");
}

/// The Create finished first and answered, but CloudFormation had cancelled the resource meanwhile: its rollback
/// Delete (under a made-up id) finds the owner's item and removes the role.
#[tokio::test]
async fn a_rollback_delete_under_a_made_up_id_finds_the_owners_role() {
    let h = Harness::new().await;
    let stack = h.modelled_stack("prod", "Nodes");
    let create = on(&stack, request("Create", "Nodes", json!({"RoleName": "nodes"}), &h.url()));
    assert_eq!(h.send_as_is(&create).await["Status"], "SUCCESS");
    let made_up = h.model.cancel_create(&stack, "Nodes");
    let r = h.send_as_is(&on(&stack, delete("Nodes", &made_up, json!({"RoleName": "nodes"}), &h.url()))).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert!(h.role("nodes").await.is_none(), "the role the cancelled resource made is gone");
    assert!(h.record("nodes").await.is_none());
    // A Delete under an id of no role of its own, from another resource, removes nothing of others.
    let other = h.modelled_stack("other", "Nodes");
    assert_eq!(h.create("Nodes", json!({"RoleName": "kept"})).await["Status"], "SUCCESS");
    let made_up = h.model.cancel_create(&other, "Nodes");
    let r = h.send_as_is(&on(&other, delete("Nodes", &made_up, json!({}), &h.url()))).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert!(h.role("kept").await.is_some(), "another resource's role is untouched");
}

/// A `ServiceTimeout` shorter than the function's time lets CloudFormation give up while the function works:
/// refused on Create, only a warning on Update (refusing there would strand a rollback).
#[tokio::test]
async fn a_service_timeout_shorter_than_the_function_is_refused_on_create_and_warned_about_on_update() {
    let h = Harness::new().await;
    let r = h.create("Nodes", json!({"RoleName": "nodes", "ServiceTimeout": "30"})).await;
    assert_eq!(r["Status"], "FAILED", "{r}");
    assert!(r["Reason"].as_str().unwrap().contains("ServiceTimeout"), "{r}");
    assert!(h.role("nodes").await.is_none(), "nothing made");
    let r = h.create("Nodes", json!({"RoleName": "nodes", "ServiceTimeout": "300"})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    let props = json!({"RoleName": "nodes", "ServiceTimeout": "30"});
    let r = h.send(&update("Nodes", "nodes", props, json!({"RoleName": "nodes"}), &h.url())).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert!(r["Data"]["Warnings"].as_str().unwrap().contains("ServiceTimeout"), "{r}");
}

fn sweep_event() -> Value {
    json!({"detail-type": "Scheduled Event", "source": "aws.events", "id": "sweep"})
}

/// The outcome the sweep reports for `role` (`None`: not reported).
async fn swept(h: &Harness, role: &str) -> Option<String> {
    let out = h.deliver(&sweep_event()).await.unwrap();
    out["outcomes"].as_array()?.iter().find(|o| o["role"] == role).map(|o| o["outcome"].as_str().unwrap().to_string())
}

/// `DeletionPolicy: Retain` (or `--retain-resources`, a force delete): the stack goes, no Delete comes. The sweep
/// finds the resource gone and orphans the item once: no longer enforced, never changed. A new stack may take the
/// role over only with AdoptExistingRole, and its Delete then releases it as it releases an adopted role.
#[tokio::test]
async fn a_retained_role_is_orphaned_once_and_another_stack_may_adopt_it() {
    let h = Harness::new().await;
    let stack = h.modelled_stack("prod", "Nodes");
    let r = h.send_as_is(&on(&stack, request("Create", "Nodes", json!({"RoleName": "nodes"}), &h.url()))).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    h.model.created(&stack, "Nodes", "nodes");
    assert_eq!(swept(&h, "nodes").await.as_deref(), Some("in-sync"), "its resource is there");
    h.model.retained(&stack, "Nodes");
    assert_eq!(swept(&h, "nodes").await.as_deref(), Some("orphaned"));
    assert_eq!(h.metrics.count(eks_node_role_guard::metrics::Metric::RoleOrphaned, "nodes"), 1);
    assert_eq!(h.record("nodes").await.unwrap().phase, eks_node_role_guard::state::Phase::Orphaned);
    assert_eq!(swept(&h, "nodes").await, None, "reported once: later sweeps skip it");
    // No longer enforced: a detach stays.
    h.detach("nodes", "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy").await;
    assert_eq!(h.outcome(&drift_event("drift-detach-role-policy.json", "nodes"), "nodes").await, "ignored");
    assert!(!h.attached("nodes").await.contains("AmazonEKSWorkerNodePolicy"));
    // Another stack: refused without AdoptExistingRole, nothing changed; adopted with it.
    let r = h.create("NewNodes", json!({"RoleName": "nodes"})).await;
    assert_eq!(r["Status"], "FAILED", "{r}");
    assert!(
        r["Reason"].as_str().unwrap().contains("orphaned")
            && r["Reason"].as_str().unwrap().contains("AdoptExistingRole"),
        "{r}"
    );
    let r = h.create("NewNodes", json!({"RoleName": "nodes", "AdoptExistingRole": "true"})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(r["Data"]["Adopted"], "true");
    assert!(h.attached("nodes").await.contains("AmazonEKSWorkerNodePolicy"), "enforced again by its new owner");
    assert_eq!(h.record("nodes").await.unwrap().owner.logical_id, "NewNodes");
    let r =
        h.send(&delete("NewNodes", "nodes", json!({"RoleName": "nodes", "AdoptExistingRole": "true"}), &h.url())).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert!(h.role("nodes").await.is_some(), "an adopted role is released, not deleted");
    assert!(h.record("nodes").await.is_none());
}

/// A stack in the middle of an operation shows what a replacement's cleanup or a rollback is doing: nothing is
/// concluded then. A replacement whose cleanup Delete CloudFormation gave up on leaves the old role's item, whose
/// resource now names the new role: that item is orphaned, the new one stays enforced.
#[tokio::test]
async fn items_are_orphaned_only_when_their_resource_is_really_gone() {
    let h = Harness::new().await;
    let stack = h.modelled_stack("prod", "Nodes");
    let r = h.send_as_is(&on(&stack, request("Create", "Nodes", json!({"RoleName": "nodes"}), &h.url()))).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    h.model.created(&stack, "Nodes", "nodes");
    h.model.updating(&stack, "Nodes");
    let replace = update("Nodes", "nodes", json!({"RoleName": "nodes-v2"}), json!({"RoleName": "nodes"}), &h.url());
    let r = h.send_as_is(&on(&stack, replace)).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    h.model.updated(&stack, "Nodes", "nodes-v2");
    // Cleanup in progress: the old item is the cleanup's, not an orphan.
    assert_eq!(swept(&h, "nodes").await.as_deref(), Some("in-sync"));
    // CloudFormation gave up on the cleanup (a Delete refused three times) and completed the update.
    h.model.finish_update(&stack);
    assert_eq!(swept(&h, "nodes").await.as_deref(), Some("orphaned"));
    assert_eq!(h.record("nodes-v2").await.unwrap().phase, eks_node_role_guard::state::Phase::Active);
    assert_eq!(h.metrics.count(eks_node_role_guard::metrics::Metric::RoleOrphaned, "nodes-v2"), 0);
}

/// Lambda may hand one request to two function processes at once. Both answers are SUCCESS with the same role:
/// neither copy may answer FAILED (CloudFormation could read it and roll back what the other made).
#[tokio::test]
async fn two_copies_of_one_request_at_once_both_succeed_with_the_same_role() {
    for (props, n) in [(json!({"RoleName": "nodes", "AdditionalPolicyArns": [SSM]}), 0), (json!({}), 1)] {
        let h = Harness::new().await;
        let create = h.aimed(&request("Create", "Nodes", props.clone(), &h.url())).await;
        let inv = invocation(Duration::from_secs(60));
        let (a, b) = tokio::join!(
            eks_node_role_guard::cfn::handle(&create, &h.app, &inv),
            eks_node_role_guard::cfn::handle(&create, &h.app, &inv)
        );
        let answers: Vec<Value> = h.listener.accepted().iter().map(|r| r.json()).collect();
        assert_eq!(answers.len(), 2, "case {n}: {answers:?}");
        for answer in &answers {
            assert_eq!(answer["Status"], "SUCCESS", "case {n}: {answer}\n{a:?} {b:?}");
        }
        assert_eq!(answers[0]["PhysicalResourceId"], answers[1]["PhysicalResourceId"], "case {n}");
        let role = answers[0]["PhysicalResourceId"].as_str().unwrap().to_string();
        assert!(h.attached(&role).await.contains("AmazonEKSWorkerNodePolicy"), "case {n}");
        assert_eq!(
            h.record(&role).await.unwrap().role_id.as_deref(),
            h.role(&role).await.map(|r| r.role_id).as_deref()
        );
        // And an Update delivered twice at once.
        let stack = create["StackId"].as_str().unwrap();
        h.model.created(stack, "Nodes", &role);
        h.model.updating(stack, "Nodes");
        let physical = role.clone();
        let mut new = props.clone();
        new["Tags"] = json!([{"Key": "team", "Value": "a"}]);
        let up = h.aimed(&update("Nodes", &physical, new, props.clone(), &h.url())).await;
        let before = h.listener.accepted().len();
        tokio::join!(
            eks_node_role_guard::cfn::handle(&up, &h.app, &inv),
            eks_node_role_guard::cfn::handle(&up, &h.app, &inv)
        );
        let answers: Vec<Value> = h.listener.accepted()[before..].iter().map(|r| r.json()).collect();
        assert!(answers.iter().all(|a| a["Status"] == "SUCCESS"), "case {n}: {answers:?}");
        assert_eq!(h.tags(&role).await.get("team").map(String::as_str), Some("a"));
    }
}

const SSM: &str = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore";

/// A replacement, its cleanup Delete of the old id (sent twice: CloudFormation retries), then a second
/// replacement rolled back and its cleanup: each Delete removes exactly the role it names, never the one the
/// resource shows now, though all of them belong to the same resource.
#[tokio::test]
async fn cleanup_deletes_remove_the_old_role_and_never_the_current_one() {
    let h = Harness::new().await;
    let stack = h.modelled_stack("prod", "Nodes");
    let h = &h;
    let send = |req: Value| {
        let req = on(&stack, req);
        async move { h.send_as_is(&req).await }
    };
    let v1 = json!({"RoleName": "nodes"});
    let v2 = json!({"RoleName": "nodes-v2"});
    let v3 = json!({"RoleName": "nodes-v3"});
    assert_eq!(send(request("Create", "Nodes", v1.clone(), &h.url())).await["Status"], "SUCCESS");
    h.model.created(&stack, "Nodes", "nodes");
    h.model.updating(&stack, "Nodes");
    assert_eq!(send(update("Nodes", "nodes", v2.clone(), v1.clone(), &h.url())).await["Status"], "SUCCESS");
    h.model.updated(&stack, "Nodes", "nodes-v2");
    for _ in 0..2 {
        let r = send(delete("Nodes", "nodes", v1.clone(), &h.url())).await;
        assert_eq!(r["Status"], "SUCCESS", "{r}");
        assert!(h.role("nodes").await.is_none(), "the old role is gone");
        assert!(h.role("nodes-v2").await.is_some() && h.record("nodes-v2").await.is_some(), "the current one stays");
    }
    h.model.finish_update(&stack);
    // A second replacement that the stack rolls back.
    h.model.updating(&stack, "Nodes");
    assert_eq!(send(update("Nodes", "nodes-v2", v3.clone(), v2.clone(), &h.url())).await["Status"], "SUCCESS");
    h.model.updated(&stack, "Nodes", "nodes-v3");
    h.model.rolling_back_update(&stack, "Nodes");
    let r = send(update("Nodes", "nodes-v3", v2.clone(), v3.clone(), &h.url())).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(r["PhysicalResourceId"], "nodes-v2", "back to the old role");
    h.model.rolled_back(&stack, "Nodes", "nodes-v2");
    let r = send(delete("Nodes", "nodes-v3", v3.clone(), &h.url())).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert!(h.role("nodes-v3").await.is_none(), "the failed update's role is cleaned up");
    assert!(h.role("nodes-v2").await.is_some() && h.record("nodes-v2").await.is_some(), "the current one stays");
    assert!(h.attached("nodes-v2").await.contains("AmazonEKSWorkerNodePolicy"));
}

/// A copy of this Create answered first and CloudFormation completed the resource with its role while this copy
/// still ran: this copy's second confirmation sees the resource naming its own role, and undoes nothing.
#[tokio::test]
async fn a_create_whose_copy_completed_the_resource_undoes_nothing() {
    let h = Harness::new().await;
    let stack = h.modelled_stack("prod", "Nodes");
    h.aws.fail_operation("iam:CreateRole", vec![Fault::Latency(Duration::from_millis(1200))]);
    let create = on(&stack, request("Create", "Nodes", json!({"RoleName": "nodes"}), &h.url()));
    let (answered, ()) = tokio::join!(send_beside(&h, &create), async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        h.model.created(&stack, "Nodes", "nodes");
    });
    assert_eq!(answered["Status"], "SUCCESS", "{answered}");
    assert!(h.role("nodes").await.is_some() && h.record("nodes").await.is_some(), "the role stays");
}

/// A retained role's orphaned item is not a stray of its former resource: when the same logical id comes back
/// and its Create is cancelled, the rollback Delete leaves the retained role alone.
#[tokio::test]
async fn a_rollback_delete_never_takes_a_retained_orphaned_role() {
    let h = Harness::new().await;
    let stack = h.modelled_stack("prod", "Nodes");
    let r = h.send_as_is(&on(&stack, request("Create", "Nodes", json!({"RoleName": "old-nodes"}), &h.url()))).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    h.model.created(&stack, "Nodes", "old-nodes");
    h.model.retained(&stack, "Nodes");
    assert_eq!(swept(&h, "old-nodes").await.as_deref(), Some("orphaned"));
    // The logical id comes back in a stack under the same id (as a model shortcut), and its Create is cancelled.
    h.model.creating(&stack, "Nodes");
    let made_up = h.model.cancel_create(&stack, "Nodes");
    let r = h.send_as_is(&on(&stack, delete("Nodes", &made_up, json!({}), &h.url()))).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert!(h.role("old-nodes").await.is_some(), "the retained role stays");
    assert_eq!(h.record("old-nodes").await.unwrap().phase, eks_node_role_guard::state::Phase::Orphaned);
}

/// A replacement the stack then rolls back, with the rollback's Update naming the old role while the resource
/// still holds the new one (a case CloudFormation's documentation does not settle): not refused, which would strand
/// the rollback, but answered SUCCESS with the old role's attributes, read and never written.
#[tokio::test]
async fn a_rollbacks_update_the_rules_do_not_expect_changes_nothing_and_answers_the_roles_attributes() {
    let h = Harness::new().await;
    let (v1, v2) = (json!({"RoleName": "nodes"}), json!({"RoleName": "nodes-v2"}));
    assert_eq!(h.create("Nodes", v1.clone()).await["Status"], "SUCCESS");
    let r = h.send(&update("Nodes", "nodes", v2.clone(), v1.clone(), &h.url())).await;
    assert_eq!(r["PhysicalResourceId"], "nodes-v2", "replaced: {r}");
    let stack = h.stack_for("Nodes").await;
    h.model.rolling_back_update(&stack, "Nodes");
    let (roles, since) = (h.roles().await, h.aws.now());
    let r = h.send_as_is(&on(&stack, update("Nodes", "nodes", v1.clone(), v2.clone(), &h.url()))).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(r["PhysicalResourceId"], "nodes");
    assert!(r["Data"]["Arn"].as_str().unwrap().ends_with(":role/nodes"), "{r}");
    assert_eq!(r["Data"]["RoleName"], "nodes");
    let warning = r["Data"]["Warnings"].as_str().unwrap();
    assert!(warning.contains("nothing was changed") && warning.contains("does not hold"), "{warning}");
    assert_eq!(h.roles().await, roles, "no role made or removed");
    let calls: Vec<String> = h.aws.timeline_since(since).into_iter().map(|s| s.operation).collect();
    assert!(calls.iter().any(|c| c == "iam:GetRole"), "the role is read: {calls:?}");
    let writes = ["Create", "Delete", "Attach", "Detach", "Put", "Tag", "Untag", "Update", "Add", "Remove"];
    let written: Vec<&String> = calls
        .iter()
        .filter(|c| {
            writes.iter().any(|w| c.starts_with(&format!("iam:{w}")) || c.starts_with(&format!("dynamodb:{w}")))
        })
        .collect();
    assert!(written.is_empty(), "nothing written: {written:?}");
    assert!(h.attached("nodes").await.contains("AmazonEKSWorkerNodePolicy"));
}
