//! The state store's contract against DynamoDB on moto: the same promises the in-memory store keeps in the unit
//! tests (`state::contract`), so the fast fake cannot drift from the real table.

use eks_node_role_guard::state::{contract, DynamoStore};
use test_support::*;

#[tokio::test]
async fn dynamodb_on_moto_keeps_the_state_store_contract() {
    let moto = Moto::start();
    create_state_table(&moto.endpoint(), TABLE).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&shared_config(&moto.endpoint())), TABLE);
    contract::check(&store, "moto").await;
}

#[tokio::test]
async fn a_missing_table_is_a_readable_error_not_a_guess() {
    let moto = Moto::start();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&shared_config(&moto.endpoint())), "no-such-table");
    let e = eks_node_role_guard::state::StateStore::get(
        &store,
        &eks_node_role_guard::domain::RoleName::parse("nodes").unwrap(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("DynamoDB GetItem failed") && e.contains("ResourceNotFound"), "{e}");
}
