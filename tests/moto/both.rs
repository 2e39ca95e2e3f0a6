//! The scenarios that matter on both backends (`test_support::scenarios`), on moto through the SDK.

use test_support::{scenarios, Harness};

async fn account() -> Harness {
    Harness::new().await
}

#[tokio::test]
async fn creates_the_role_with_the_ec2_trust_policy_the_three_policies_and_its_profile() {
    scenarios::creates_the_role_with_the_ec2_trust_policy_the_three_policies_and_its_profile(&account().await).await;
}

#[tokio::test]
async fn a_retried_create_finds_its_own_role_and_answers_the_same() {
    scenarios::a_retried_create_finds_its_own_role_and_answers_the_same(&account().await).await;
}

#[tokio::test]
async fn re_attaches_amazon_eks_worker_node_policy_after_it_is_detached() {
    scenarios::re_attaches_amazon_eks_worker_node_policy_after_it_is_detached(&account().await).await;
}

#[tokio::test]
async fn delete_removes_the_role_its_profile_and_its_item() {
    scenarios::delete_removes_the_role_its_profile_and_its_item(&account().await).await;
}
