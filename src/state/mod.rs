//! The state store: the one authority for what the function enforces. One item per managed role, keyed by the
//! lower-cased role name (IAM names are case-insensitive), written only by the function (the table's resource
//! policy denies every other principal the data-plane writes). Tags on the role decide nothing.
//!
//! Protocol, like a finalizer's:
//! - Create writes the item first (owner, desired state, no RoleId) only if there is none or it is this
//!   resource's, then creates the role, then records its RoleId: a crash in between is resumed by the retry.
//! - Update writes the new desired state before changing IAM.
//! - Repair acts only when the item exists, is `active`, and its RoleId equals the live role's.
//! - Delete marks the item `deleting` (repair stands down), removes the role, and removes the item last.
//!
//! Every write is conditional on the version read, so two writers never silently overwrite each other.

pub mod codec;
pub mod contract;
mod dynamo;
mod memory;
mod transition;

use std::future::Future;

pub use dynamo::{build_client, DynamoStore};
pub use memory::MemoryStore;
pub use transition::{Transition, Write};

pub use crate::domain::record::{iso8601, key, Expect, Phase, Record, TRAIL_LEN};
use crate::domain::RoleName;
use crate::error::Result;

/// The refusal when a role's item names another owner.
pub fn owned_elsewhere(other: &Record) -> crate::Error {
    crate::Error::conflict(format!(
        "role {} is already managed by resource {} of stack {}: choose another RoleName",
        other.role_name, other.owner.logical_id, other.owner.stack_id
    ))
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
