//! The scenarios that matter on both backends (`test_support::scenarios`), on moto through the SDK.

test_support::shared_scenarios!(test_support::Harness::new().await);
