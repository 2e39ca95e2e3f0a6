//! Scenarios that matter on both backends, each written once and run on moto (`tests/moto/both.rs`) and on
//! the in-memory adapters (`tests/fast/both.rs`). They read like the procedure.

use eks_node_role_guard::domain::policies::{self, same_policy};
use eks_node_role_guard::domain::Partition;
use eks_node_role_guard::metrics::Metric;
use serde_json::json;

use crate::account::{ec2_trust, Account};
use crate::names;

const WORKER: &str = "AmazonEKSWorkerNodePolicy";
const ECR: &str = "AmazonEC2ContainerRegistryPullOnly";
const CNI: &str = "AmazonEKS_CNI_Policy";

/// Create: the EC2 trust policy, the three IPv4 policies, an instance profile of the role's name, the answer's
/// attributes, and a state item recording the role's RoleId and the profile the tool made.
pub async fn creates_the_role_with_the_ec2_trust_policy_the_three_policies_and_its_profile(a: &impl Account) {
    let r = a.create("NodeRole", json!({"RoleName": "nodes"})).await.assert_success();
    assert_eq!(r["PhysicalResourceId"], "nodes");
    assert_eq!(r["Data"]["RoleName"], "nodes");
    assert_eq!(r["Data"]["InstanceProfileName"], "nodes");
    assert_eq!(r["Data"]["CniPolicyArn"], "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy");
    assert_eq!(r["Data"]["Adopted"], "false");
    assert!(same_policy(&a.trust("nodes").await.expect("the role"), &ec2_trust()));
    assert_eq!(a.attached("nodes").await, names(&[WORKER, ECR, CNI]));
    assert_eq!(a.profiles_of("nodes").await, ["nodes"]);
    let item = a.record("nodes").await.expect("its state item");
    assert_eq!(item.role_id.as_deref(), r["Data"]["RoleId"].as_str());
    assert_eq!(item.own_profile.as_deref(), Some("nodes"), "the tool made the profile, so it may delete it");
    assert!(item.trail.last().unwrap().ends_with(" created"), "{:?}", item.trail);
}

/// A Create delivered twice (CloudFormation's retry, or Lambda's duplicate) finds its own role and answers the
/// same.
pub async fn a_retried_create_finds_its_own_role_and_answers_the_same(a: &impl Account) {
    let props = json!({"RoleName": "nodes"});
    let first = a.create("NodeRole", props.clone()).await.assert_success();
    let second = a.create("NodeRole", props).await.assert_success();
    assert_eq!(first["PhysicalResourceId"], second["PhysicalResourceId"]);
    assert_eq!(first["Data"], second["Data"]);
    assert_eq!(a.attached("nodes").await, names(&[WORKER, ECR, CNI]));
}

/// Someone detaches AmazonEKSWorkerNodePolicy: CloudTrail's event brings it back, the breaker counts the repair
/// and the trail says what was done.
pub async fn re_attaches_amazon_eks_worker_node_policy_after_it_is_detached(a: &impl Account) {
    a.create("NodeRole", json!({"RoleName": "nodes"})).await.assert_success();
    a.detach_by_hand("nodes", &policies::worker_node_policy(Partition::Aws)).await;
    assert_eq!(a.attached("nodes").await, names(&[ECR, CNI]));
    assert_eq!(a.event("DetachRolePolicy", "nodes").await, "repaired");
    assert_eq!(a.attached("nodes").await, names(&[WORKER, ECR, CNI]));
    let item = a.record("nodes").await.unwrap();
    assert_eq!(item.repairs.len(), 1, "the breaker counted the repair");
    assert!(
        item.trail.last().unwrap().contains("repaired AttachRolePolicy AmazonEKSWorkerNodePolicy"),
        "{:?}",
        item.trail
    );
    assert_eq!(a.metrics().count(Metric::DriftRepaired, "nodes"), 1);
}

/// Delete removes what the Create made — the role, its profile, its item — and an event about the deleted
/// role afterwards finds nothing to do.
pub async fn delete_removes_the_role_its_profile_and_its_item(a: &impl Account) {
    a.create("NodeRole", json!({"RoleName": "nodes"})).await.assert_success();
    a.delete("NodeRole", "nodes", json!({"RoleName": "nodes"})).await.assert_success();
    assert_eq!(a.trust("nodes").await, None, "the role is gone");
    assert!(a.record("nodes").await.is_none(), "the item is removed last");
    assert_eq!(a.event("DetachRolePolicy", "nodes").await, "ignored");
}

/// The shared scenarios as tests, each on the account `$account` makes (an expression awaited inside the test):
/// one line in each backend's test binary.
#[macro_export]
macro_rules! shared_scenarios {
    ($account:expr) => {
        #[tokio::test]
        async fn creates_the_role_with_the_ec2_trust_policy_the_three_policies_and_its_profile() {
            $crate::scenarios::creates_the_role_with_the_ec2_trust_policy_the_three_policies_and_its_profile(&$account)
                .await;
        }

        #[tokio::test]
        async fn a_retried_create_finds_its_own_role_and_answers_the_same() {
            $crate::scenarios::a_retried_create_finds_its_own_role_and_answers_the_same(&$account).await;
        }

        #[tokio::test]
        async fn re_attaches_amazon_eks_worker_node_policy_after_it_is_detached() {
            $crate::scenarios::re_attaches_amazon_eks_worker_node_policy_after_it_is_detached(&$account).await;
        }

        #[tokio::test]
        async fn delete_removes_the_role_its_profile_and_its_item() {
            $crate::scenarios::delete_removes_the_role_its_profile_and_its_item(&$account).await;
        }
    };
}
