//! The inner loop: the lifecycle and drift repair on the in-memory adapters (`scenarios`), the templates read
//! as data, the SDK-mock IAM faults and the fuzzing. No server is started: `scripts/test.sh -P fast`.

mod architecture;
mod both;
mod bound;
mod fuzz;
mod iam_faults;
mod policy_eval;
mod scenarios;
mod template;
