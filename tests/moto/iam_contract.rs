//! The IAM port's contract against moto: the same promises the in-memory IAM keeps in the unit tests
//! (`iam::contract`), so the fast fake cannot drift from the stand-in.

use eks_node_role_guard::iam::{contract, SdkIam};
use test_support::*;

#[tokio::test]
async fn moto_keeps_the_iam_contract() {
    let moto = Moto::start();
    contract::check(&SdkIam::new(moto.client()), "moto").await;
}
