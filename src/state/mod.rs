//! The state store: the one authority for what the function enforces. One item per managed role, keyed by the
//! lower-cased role name (IAM names are case-insensitive), written only by the function (the table's resource
//! policy denies every other principal the data-plane writes). Tags on the role decide nothing.
//!
//! Protocol, like a finalizer's. Every write is a named `Transition` (`transition.rs`), applied only by the
//! reconciler (`Reconciler::commit`), in this order:
//! - Create: `claim` writes the item first (owner, desired state, no RoleId) only if there is none or it is this
//!   resource's; the role is created; `record-role-id` records its RoleId while the rest is applied. A crash in
//!   between is resumed by the retry, which finds its own role by the item (and, before the RoleId, by its
//!   checked label).
//! - Update: `desire` writes the new desired state before IAM changes.
//! - Repair acts only when the item exists, is `active`, and its RoleId equals the live role's
//!   (`domain::repair`); `record-repair` counts each repair for the circuit breaker, beside the repair itself;
//!   `note-kept-boundary` notes once in the trail a boundary it may not remove and left in place.
//! - Delete: `mark-deleting` (repair stands down), the role removed or released, `remove` last.
//!
//! Every write is conditional on the version read (a claim: on there being no item, or this owner's), so two
//! writers never silently overwrite each other; only `record-repair` and `note-kept-boundary` are applied again to
//! a newer item.

pub mod codec;
#[cfg(any(test, feature = "test-util"))]
pub mod contract;
mod dynamo;
#[cfg(any(test, feature = "test-util"))]
mod memory;
mod transition;

use std::future::Future;

pub use dynamo::{build_client, DynamoStore};
#[cfg(any(test, feature = "test-util"))]
pub use memory::MemoryStore;
pub use transition::{kept_boundary_note, Transition, Write};

pub use crate::domain::record::{iso8601, key, Expect, Phase, Record, TRAIL_LEN};
use crate::domain::RoleName;
use crate::error::Result;

/// The refusal when a role's item names another owner.
/// The refusal of a write over another resource's item (`writer`: the resource writing); it names the other
/// resource only when it is in the writer's stack.
pub fn owned_elsewhere(other: &Record, writer: &crate::domain::Owner) -> crate::Error {
    let refusal = crate::domain::claim::Refusal::OwnedElsewhere {
        role: other.role_name.clone(),
        owner: other.owner.clone(),
        same_stack: other.owner.stack_id == writer.stack_id,
    };
    crate::Error::conflict(refusal.to_string())
}

/// The state-store port. `DynamoStore` and `MemoryStore` implement it and share contract tests.
pub trait StateStore: Send + Sync {
    /// The item of `role`, read strongly consistently. `None` when there is none.
    fn get(&self, role: &RoleName) -> impl Future<Output = Result<Option<Record>>> + Send;
    /// Writes `record` as version `record.version + 1` and returns what was stored. Fails with
    /// `Error::Conflict` naming the owner when `NewOrOwn` meets another owner's item, and with
    /// `Error::RecordChanged` when `Version` meets another version.
    fn put(&self, record: &Record, expect: Expect) -> impl Future<Output = Result<Record>> + Send;
    /// Removes the item if it is still at `version` (gone already counts as done).
    fn delete(&self, role: &RoleName, version: u64) -> impl Future<Output = Result<()>> + Send;
    /// Every item (paginated, strongly consistent): what the sweep checks.
    fn list(&self) -> impl Future<Output = Result<Vec<Record>>> + Send;
}
