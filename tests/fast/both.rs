//! The scenarios that matter on both backends (`test_support::scenarios`), on the in-memory adapters.

test_support::shared_scenarios!(test_support::memory::MemoryAccount::new(test_support::rules()).await);
