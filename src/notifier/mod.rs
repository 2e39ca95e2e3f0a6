//! The notification port: where a drift decision's notification goes. `EventBridgeBus` puts it on an
//! EventBridge bus; `MemoryBus` (tests only) keeps it; `Notifier` is the installation's choice, or nowhere.
//! What is notified, and its fields, is `crate::notify`'s business.

#[cfg(any(test, feature = "test-util"))]
pub mod contract;
mod eventbridge;
#[cfg(any(test, feature = "test-util"))]
mod memory;

use std::future::Future;

use tracing::error;

use crate::deadline::Deadline;
use crate::notify::Notification;
pub use eventbridge::EventBridgeBus;
#[cfg(any(test, feature = "test-util"))]
pub use memory::MemoryBus;

/// PutEvents takes at most 10 entries.
pub const BATCH: usize = 10;

/// A bus notifications are put on.
pub trait Bus: Send + Sync {
    /// Puts every note (10 to a call, the calls at once); returns how many were accepted. Never fails: what
    /// could not be put is logged with its sentence, so nothing is lost.
    fn put(&self, notes: &[Notification]) -> impl Future<Output = usize> + Send;
}

/// Where notifications go: the installation's bus, a kept list (tests), or nowhere.
#[derive(Clone, Debug, Default)]
pub enum Notifier {
    #[default]
    Off,
    EventBridge(EventBridgeBus),
    /// Tests only: keeps what it is given.
    #[cfg(any(test, feature = "test-util"))]
    Memory(MemoryBus),
}

impl Notifier {
    /// Publishes to `bus` (`NOTIFY_EVENT_BUS`, default `default`), or nowhere when it is `None` (`off`).
    pub fn event_bridge(shared: &aws_config::SdkConfig, bus: Option<&str>) -> Self {
        match bus {
            None => Notifier::Off,
            Some(bus) => Notifier::EventBridge(EventBridgeBus::new(aws_sdk_eventbridge::Client::new(shared), bus)),
        }
    }

    #[cfg(any(test, feature = "test-util"))]
    pub fn capturing() -> Self {
        Notifier::Memory(MemoryBus::default())
    }

    /// What a capturing notifier received.
    #[cfg(any(test, feature = "test-util"))]
    pub fn sent(&self) -> Vec<Notification> {
        match self {
            Notifier::Memory(m) => m.received(),
            _ => Vec::new(),
        }
    }

    /// Publishes before `deadline`. A failure or the deadline is logged (with the entries' sentences, so nothing
    /// is lost) and never fails the repair it reports. Returns how many entries were accepted.
    pub async fn publish(&self, notes: &[Notification], deadline: Deadline) -> usize {
        if notes.is_empty() {
            return 0;
        }
        let put = async {
            match self {
                Notifier::Off => 0,
                Notifier::EventBridge(bus) => bus.put(notes).await,
                #[cfg(any(test, feature = "test-util"))]
                Notifier::Memory(bus) => bus.put(notes).await,
            }
        };
        match tokio::time::timeout(deadline.left(), put).await {
            Ok(n) => n,
            Err(_) => {
                for note in notes {
                    error!(summary = %note.detail["summary"], "notification not published: no time left before the Lambda deadline");
                }
                0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_bus_keeps_the_contract() {
        let bus = MemoryBus::default();
        let read = bus.clone();
        contract::check(&bus, || {
            let got = read.received();
            async move {
                got.iter()
                    .map(|n| {
                        serde_json::json!({"source": crate::notify::SOURCE, "detail-type": n.detail_type, "detail": n.detail})
                    })
                    .collect()
            }
        })
        .await;
    }
}
