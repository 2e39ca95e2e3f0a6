//! Against moto: the custom resource and drift repair through the SDK, the adapters' contracts, the fault
//! matrix, the convergence property, the malformed-payload corpus and the harness's own guarantees.

mod both;
mod cfn_behaviour;
mod convergence;
mod corpus;
mod custom_resource;
mod drift;
mod faults;
mod harness;
mod iam_behaviour;
mod iam_contract;
mod state_store;
