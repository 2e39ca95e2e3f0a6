//! The time, read in one place. In production it is the system's; tests set it, so breaker windows, the
//! sweep's rotation and the trail's timestamps can be driven without waiting.

use std::time::{SystemTime, UNIX_EPOCH};

/// Where "now" comes from. Clones share a set time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    #[cfg(any(test, feature = "test-util"))]
    set: Option<std::sync::Arc<std::sync::Mutex<SystemTime>>>,
}

impl Clock {
    /// The system's clock.
    pub fn system() -> Self {
        Clock::default()
    }

    /// Tests only: a clock that stands at `at` until it is set or advanced.
    #[cfg(any(test, feature = "test-util"))]
    pub fn fixed(at: SystemTime) -> Self {
        Clock { set: Some(std::sync::Arc::new(std::sync::Mutex::new(at))) }
    }

    /// Tests only: moves a fixed clock by `by` (a system clock cannot be moved).
    #[cfg(any(test, feature = "test-util"))]
    pub fn advance(&self, by: std::time::Duration) {
        if let Some(t) = &self.set {
            let mut t = t.lock().unwrap_or_else(|e| e.into_inner());
            *t += by;
        }
    }

    pub fn now(&self) -> SystemTime {
        #[cfg(any(test, feature = "test-util"))]
        if let Some(t) = &self.set {
            return *t.lock().unwrap_or_else(|e| e.into_inner());
        }
        SystemTime::now()
    }

    /// Unix seconds now.
    pub fn unix(&self) -> u64 {
        self.now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_fixed_clock_stands_still_until_advanced_and_clones_share_it() {
        let c = Clock::fixed(UNIX_EPOCH + Duration::from_secs(1_795_000_000));
        let shared = c.clone();
        assert_eq!(c.unix(), 1_795_000_000);
        shared.advance(Duration::from_secs(3600));
        assert_eq!(c.unix(), 1_795_003_600);
        let system = Clock::system();
        system.advance(Duration::from_secs(3600));
        assert!(system.now().duration_since(SystemTime::now()).unwrap_or_default() < Duration::from_secs(60));
    }
}
