//! The domain: what a node role must look like (spec), what it looks like (live), the difference (plan), and
//! every decision the use cases take — as values, table-tested. Pure: no I/O anywhere below this module.
//!
//! Where each question is answered:
//! - whose is this role? `ownership.rs` (`Ownership::of`, the one rule);
//! - may a Create or Update take it? `claim.rs`;
//! - what does a Delete do (of an adopted role, too)? `removal.rs`;
//! - when does repair act, and what does it do? `repair.rs`;
//! - what the state item holds: `record.rs` (its changes: `crate::state::Transition`).

pub mod claim;
pub mod intent;
pub mod live;
pub mod names;
pub mod ownership;
pub mod plan;
pub mod policies;
pub mod reach;
pub mod record;
pub mod removal;
pub mod repair;
pub mod spec;

pub use intent::{Intent, Lifecycle, Properties, RoleIdentity};
pub use live::{CniCheck, LiveInstanceProfile, LiveRole};
pub use names::{
    AccountId, IpFamily, NodeClass, Owner, Partition, PolicyArn, RemediationMode, RoleName, RolePath, StackRef,
};
pub use ownership::Ownership;
pub use plan::{plan, plan_release, plan_teardown, Action, Plan, Scope};
pub use record::{Phase, Record};
pub use spec::{Boundary, Label, NodeRoleSpec, Retired};
