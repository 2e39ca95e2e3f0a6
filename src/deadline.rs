//! The Lambda deadline: read once per invocation from the runtime, then the one place that says how much time
//! is left and how it is shared out (the work, the response PUT kept back by the margin, the sweep's last start).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Deadlines below this (in ms since the epoch, i.e. before 2001) cannot be real: a Runtime API emulator that
/// sends the remaining time instead of the epoch deadline is read as "that many ms from now".
const EPOCH_FLOOR_MS: u64 = 1_000_000_000_000;

/// When the invocation must have answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Instant);

impl Deadline {
    /// From the runtime's `Lambda-Runtime-Deadline-Ms` (epoch ms; an emulator's duration counts from now; a
    /// deadline already past leaves no time).
    pub fn from_runtime(deadline_ms: u64, now: SystemTime) -> Self {
        Deadline::after(time_left(deadline_ms, now))
    }

    /// `left` from now.
    pub fn after(left: Duration) -> Self {
        let now = Instant::now();
        Deadline(now.checked_add(left).unwrap_or(now + Duration::from_secs(86_400)))
    }

    pub fn left(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    pub fn passed(&self) -> bool {
        Instant::now() >= self.0
    }

    pub fn instant(&self) -> Instant {
        self.0
    }

    /// `margin` earlier (never before now).
    pub fn less(&self, margin: Duration) -> Deadline {
        let now = Instant::now();
        Deadline(self.0.checked_sub(margin).map_or(now, |t| t.max(now)))
    }

    /// The time the work may take, keeping `margin` for the response.
    pub fn work_budget(&self, margin: Duration) -> Duration {
        work_budget(self.left(), margin)
    }
}

/// A duration is the time left from now.
impl From<Duration> for Deadline {
    fn from(left: Duration) -> Self {
        Deadline::after(left)
    }
}

/// Time left until the Lambda deadline, as the runtime reported it (`Lambda-Runtime-Deadline-Ms`).
fn time_left(deadline_ms: u64, now: SystemTime) -> Duration {
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
fn work_budget(left: Duration, margin: Duration) -> Duration {
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

    #[tokio::test]
    async fn a_deadline_counts_down_and_keeps_its_margin() {
        let d = Deadline::after(Duration::from_secs(10));
        assert!(!d.passed() && d.left() <= Duration::from_secs(10) && d.left() > Duration::from_secs(9));
        assert!(d.less(Duration::from_secs(4)).left() <= Duration::from_secs(6));
        assert!(d.less(Duration::from_secs(60)).passed(), "a margin larger than the time left leaves none");
        assert!(Deadline::from_runtime(NOW - 1, at(NOW)).passed());
    }
}
