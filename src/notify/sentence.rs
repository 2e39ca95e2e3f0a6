//! What a person reads: the one sentence of a notification, and the times in it (UTC clock, "2 s later").

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Cause;
use crate::reconcile::repair::{Outcome, RepairReport};

/// `HH:MM` (UTC) of a CloudTrail `eventTime` (`2026-11-29T10:42:13Z`), else of `now`.
pub fn clock(event_time: Option<&str>, now: SystemTime) -> String {
    let at = event_time.and_then(parse_utc).unwrap_or(now);
    let secs = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() % 86_400;
    format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

/// A CloudTrail `eventTime` (`2026-11-29T10:42:13Z`, fractions allowed) as a time.
pub fn parse_utc(t: &str) -> Option<SystemTime> {
    let b = t.as_bytes();
    if b.len() < 20 || !t.is_ascii() || !t.ends_with('Z') {
        return None;
    }
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    u64::try_from(secs).ok().map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

/// "70 ms", "12 s", "3 min", "2 h".
pub(super) fn human(d: Duration) -> String {
    match d.as_secs() {
        0 => format!("{} ms", d.as_millis()),
        s @ 1..=119 => format!("{s} s"),
        s @ 120..=7199 => format!("{} min", s / 60),
        s => format!("{} h", s / 3600),
    }
}

/// How long after the change the decision came: from the call's `eventTime` when it is believable (past, within a
/// day), else from the event's arrival at the function (`handled`). `true` when measured from the call.
pub(super) fn since_change(cause: &Cause, handled: Duration, now: SystemTime) -> (Duration, bool) {
    let at = cause.event_time.as_deref().and_then(parse_utc);
    match at.and_then(|t| now.duration_since(t).ok()) {
        Some(d) if d < Duration::from_secs(86_400) => (d.max(handled), true),
        _ => (handled, false),
    }
}

/// One sentence a person reads in an e-mail, e.g. "alice detached AmazonEKSWorkerNodePolicy from prod-nodes at
/// 10:42 UTC; it was re-attached 2 s later."
pub(super) fn summary(r: &RepairReport, cause: &Cause, actor: &str, policy: &str, at: &str, later: &str) -> String {
    let role = r.role.as_str();
    let detached = cause.event_name == "DetachRolePolicy" && !policy.is_empty();
    let what = if cause.scheduled {
        format!("The scheduled check found {role} changed (noticed at {at} UTC)")
    } else if detached {
        format!("{actor} detached {policy} from {role} at {at} UTC")
    } else if cause.event_name == "DeleteRole" {
        format!("{actor} deleted {role} at {at} UTC")
    } else if let Some(p) = cause.policy_arn.as_deref().filter(|_| cause.event_name.contains("Polic")) {
        // The policy's change starts a check of every managed role: what it finds is not the caller's doing.
        let name = p.rsplit('/').next().unwrap_or(p);
        format!("{actor} called {} on {name} at {at} UTC; the check of every managed role that followed found {role} changed", cause.event_name)
    } else {
        format!("{actor} called {} on {role} at {at} UTC", cause.event_name)
    };
    let changes = r.drift.join(", ");
    if let Outcome::Orphaned(why) = &r.outcome {
        return format!(
            "The scheduled check found that the stack resource managing {role} is gone ({why}) (noticed at {at} UTC); the role is kept and no longer enforced: a stack may take it over with AdoptExistingRole."
        );
    }
    match &r.outcome {
        Outcome::Repaired if detached && !cause.scheduled && r.restored_policies.iter().any(|p| p == policy) => {
            format!("{what}; it was re-attached {later}.")
        }
        Outcome::Repaired => format!("{what}; it was put back ({changes}) {later}."),
        Outcome::WouldRepair => format!("{what}; dry-run: it would be put back ({changes}), nothing was changed."),
        Outcome::CircuitOpen => {
            format!(
                "{what}; it keeps drifting, so repairs of it are stopped until the circuit breaker's window passes."
            )
        }
        Outcome::Failed { error, .. } => format!("{what}; the repair failed: {error}"),
        Outcome::RoleDeleted => {
            format!("{what}, outside its stack; it is not recreated: update or recreate its stack.")
        }
        Outcome::InSync | Outcome::Ignored(_) | Outcome::Orphaned(_) => what,
    }
}
