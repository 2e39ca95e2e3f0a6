//! The domain: what a node role must look like (spec), what it looks like (live), and the difference (plan).
//! Pure: no I/O anywhere below this module.

pub mod adoption;
pub mod live;
pub mod names;
pub mod plan;
pub mod policies;
pub mod spec;

pub use live::{CniCheck, LiveInstanceProfile, LiveRole};
pub use names::{
    AccountId, IpFamily, NodeClass, Owner, Partition, PolicyArn, RemediationMode, RoleName, RolePath, StackRef,
};
pub use plan::{plan, plan_release, plan_teardown, Action, Plan, Scope};
pub use spec::{Boundary, Label, NodeRoleSpec, Retired};
