//! When the work must stop so the FAILED response still reaches CloudFormation before the Lambda deadline.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Deadlines below this (in ms since the epoch, i.e. before 2001) cannot be real: a Runtime API emulator that
/// sends the remaining time instead of the epoch deadline is read as "that many ms from now".
const EPOCH_FLOOR_MS: u64 = 1_000_000_000_000;

/// Time left until the Lambda deadline, as the runtime reported it (`Lambda-Runtime-Deadline-Ms`).
pub fn time_left(deadline_ms: u64, now: SystemTime) -> Duration {
    let now_ms = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
    if deadline_ms > now_ms {
        Duration::from_millis(deadline_ms - now_ms)
    } else if deadline_ms < EPOCH_FLOOR_MS {
        Duration::from_millis(deadline_ms)
    } else {
        Duration::ZERO
    }
}

/// How the time left is split: the work gets all but `margin`, which is kept for the response PUT. With
/// less than twice the margin left, the work gets half.
pub fn work_budget(left: Duration, margin: Duration) -> Duration {
    if left >= margin * 2 {
        left - margin
    } else {
        left / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    const NOW: u64 = 1_795_000_000_000;

    #[test]
    fn an_epoch_deadline_gives_the_time_until_it() {
        assert_eq!(time_left(NOW + 30_000, at(NOW)), Duration::from_secs(30));
    }

    #[test]
    fn a_deadline_already_past_leaves_no_time() {
        assert_eq!(time_left(NOW - 1, at(NOW)), Duration::ZERO);
    }

    #[test]
    fn an_emulator_duration_is_read_as_time_from_now() {
        assert_eq!(time_left(600_000, at(NOW)), Duration::from_secs(600));
    }

    #[test]
    fn the_margin_is_kept_for_the_response() {
        let m = Duration::from_secs(5);
        assert_eq!(work_budget(Duration::from_secs(60), m), Duration::from_secs(55));
        assert_eq!(work_budget(Duration::from_secs(6), m), Duration::from_secs(3));
        assert_eq!(work_budget(Duration::ZERO, m), Duration::ZERO);
    }
}
