//! The state item as a value: one managed role's owner, desired state, RoleId, phase, circuit breaker and
//! trail. Pure; the state store (`crate::state`) persists it and `state::Transition` names every change to it.

use std::time::Duration;

use serde_json::Value;

use super::{NodeRoleSpec, Owner, RoleName};

/// How many audit entries an item keeps (newest last).
pub const TRAIL_LEN: usize = 20;

/// Where the managed role is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Active,
    /// Its stack is deleting it: repair stands down.
    Deleting,
    /// Its stack resource is gone (the stack deleted with the resource retained, the resource removed without a
    /// Delete, or it now names another role): no longer enforced, never changed; another stack may adopt it.
    Orphaned,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Active => "active",
            Phase::Deleting => "deleting",
            Phase::Orphaned => "orphaned",
        }
    }
}

/// One managed role, as the state item records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub role_name: RoleName,
    /// The role's immutable id; `None` between the item's first write and the role's creation.
    pub role_id: Option<String>,
    pub owner: Owner,
    pub phase: Phase,
    pub desired: NodeRoleSpec,
    /// An adopted role's trust policy before adoption, for the record only: a trust is never handed back.
    pub original_trust: Option<Value>,
    /// An adopted role's permissions boundary before adoption (`Some(None)`: none), put back on release; `None`
    /// when not recorded (items of earlier versions): the boundary is then left as it is.
    pub original_boundary: Option<Option<super::PolicyArn>>,
    /// The instance profile the tool itself created (and so may delete).
    pub own_profile: Option<String>,
    /// Recent repair times (unix seconds): the circuit breaker.
    pub repairs: Vec<u64>,
    /// Short audit trail, e.g. `2026-11-29T10:42:00Z repaired AttachRolePolicy AmazonEKSWorkerNodePolicy`.
    pub trail: Vec<String>,
    /// Incremented by every write; each write is conditional on the version it read.
    pub version: u64,
}

/// What a write requires of the stored item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No item, or an item of the same owner (a retried Create): `attribute_not_exists(pk) OR owner = :me`.
    NewOrOwn,
    /// The item as read, at this version.
    Version(u64),
}

impl Record {
    pub fn new(desired: NodeRoleSpec) -> Self {
        Record {
            role_name: desired.name.clone(),
            role_id: None,
            owner: desired.owner.clone(),
            phase: Phase::Active,
            desired,
            original_trust: None,
            original_boundary: None,
            own_profile: None,
            repairs: Vec::new(),
            trail: Vec::new(),
            version: 0,
        }
    }

    /// The item's key: the lower-cased role name.
    pub fn key(&self) -> String {
        key(&self.role_name)
    }

    pub fn expect(&self) -> Expect {
        Expect::Version(self.version)
    }

    /// Repairs inside the window before `now`. Times after `now` cannot have been written by the function and
    /// are not counted (nor kept).
    pub fn recent_repairs(&self, now: u64, window: Duration) -> usize {
        self.repairs.iter().filter(|t| **t <= now && now - **t < window.as_secs()).count()
    }

    /// The breaker: admits a repair when fewer than `max` happened in the window, recording it.
    pub fn admit_repair(&self, now: u64, window: Duration, max: usize) -> Option<Record> {
        if self.recent_repairs(now, window) >= max {
            return None;
        }
        let mut next = self.clone();
        next.repairs.retain(|t| *t <= now && now - *t < window.as_secs());
        next.repairs.push(now);
        let skip = next.repairs.len().saturating_sub(max.max(1));
        next.repairs.drain(..skip);
        Some(next)
    }

    /// Adds an audit entry, keeping the newest `TRAIL_LEN`.
    /// Whether the trail holds an entry `what` (at any time).
    pub fn has_note(&self, what: &str) -> bool {
        self.trail.iter().any(|t| t.ends_with(what))
    }

    pub fn note(&mut self, now: u64, what: &str) {
        self.trail.push(format!("{} {what}", iso8601(now)));
        let skip = self.trail.len().saturating_sub(TRAIL_LEN);
        self.trail.drain(..skip);
    }
}

pub fn key(role: &RoleName) -> String {
    role.as_str().to_ascii_lowercase()
}

/// `2026-11-29T10:42:00Z` from unix seconds (civil-from-days, no calendar crate needed).
pub fn iso8601(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::spec;

    const H: Duration = Duration::from_secs(3600);

    #[test]
    fn the_breaker_admits_n_repairs_in_the_window_and_refuses_the_next() {
        let mut r = Record::new(spec());
        for i in 0..5 {
            r = r.admit_repair(10_000 + i, H, 5).expect("admitted");
        }
        assert_eq!(r.admit_repair(10_010, H, 5), None);
        assert!(r.admit_repair(10_000 + 3600 + 1, H, 5).is_some(), "the window passed");
    }

    #[test]
    fn future_timestamps_neither_count_nor_survive() {
        let mut r = Record::new(spec());
        r.repairs = vec![u64::MAX; 5];
        assert_eq!(r.recent_repairs(10_000, H), 0);
        let next = r.admit_repair(10_000, H, 5).unwrap();
        assert_eq!(next.repairs, [10_000]);
    }

    #[test]
    fn the_trail_keeps_the_newest_entries() {
        let mut r = Record::new(spec());
        for i in 0..30 {
            r.note(1_795_000_000 + i, &format!("repaired {i}"));
        }
        assert_eq!(r.trail.len(), TRAIL_LEN);
        assert!(r.trail.last().unwrap().ends_with("repaired 29"));
    }

    #[test]
    fn timestamps_are_iso_8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_795_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }
}
