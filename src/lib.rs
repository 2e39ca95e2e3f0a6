//! eks-node-role-guard: the Amazon EKS node IAM role as a CloudFormation custom resource, kept correct by
//! drift repair. One reconcile core (desired state → plan → IAM), two triggers (`cfn`, `eventbridge`).

pub mod app;
pub mod aws;
pub mod cfn;
pub mod clock;
pub mod deadline;
pub mod domain;
pub mod error;
pub mod eventbridge;
pub mod iam;
pub mod logging;
pub mod metrics;
pub mod notifier;
pub mod notify;
pub mod reconcile;
pub mod settings;
pub mod stacks;
pub mod state;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;

pub use error::{Error, Result};
