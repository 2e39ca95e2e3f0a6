//! The domain: what a node role must look like (spec), what it looks like (live), the difference (plan), and
//! every decision the use cases take — as values, table-tested. Pure: no I/O anywhere below this module.
//!
//! Where each question is answered:
//! - whose is this role? `ownership.rs` (`Ownership::of`, the one rule);
//! - may a Create or Update take it? `claim.rs`;
//! - what does a Delete do (of an adopted role, too)? `removal.rs`;
//! - when does repair act, and what does it do? `repair.rs`;
//! - what the state item holds: `record.rs` (its changes: `crate::state::Transition`).

// Validated values (`partition.rs`, `arn.rs`, `role.rs`, `modes.rs`): CloudFormation sends strings; they become
// these types at the edge so the core never re-checks a string.

/// The state item stores validated values as plain strings; reading one back validates it again (the item is the
/// authority, but a value that is not valid is reported, never guessed).
macro_rules! string_serde {
    ($ty:ty, $parse:expr) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                #[allow(clippy::redundant_closure_call)]
                ($parse)(text.as_str()).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "invalid {}: {}",
                        stringify!($ty),
                        $crate::domain::truncate_for_message(&text)
                    ))
                })
            }
        }
    };
}

pub mod arn;
pub mod claim;
pub mod intent;
pub mod live;
pub mod modes;
pub mod ownership;
pub mod partition;
pub mod plan;
pub mod policies;
pub mod reach;
pub mod record;
pub mod removal;
pub mod repair;
pub mod role;
pub mod spec;

pub use arn::{Owner, PolicyArn, StackRef};
pub use intent::{Intent, Lifecycle, Properties, RoleIdentity};
pub use live::{CniCheck, LiveInstanceProfile, LiveRole, RoleHead};
pub use modes::{parse_bool, IpFamily, NodeClass, RemediationMode};
pub use ownership::Ownership;
pub use partition::{AccountId, Partition};
pub use plan::{keep_foreign_boundary, plan, plan_release, plan_teardown, Action, Plan, Scope};
pub use record::{Phase, Record};
pub use role::{is_valid_tag_key, is_valid_tag_value, RoleName, RolePath};
pub use spec::{Boundary, Label, NodeRoleSpec, Retired};

/// Keeps user-supplied strings in messages short and printable.
pub fn truncate_for_message(s: &str) -> String {
    let mut out: String = s.chars().take(80).map(|c| if c.is_control() { '?' } else { c }).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}
