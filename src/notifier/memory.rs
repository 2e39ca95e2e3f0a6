//! Notifications kept in memory, for tests.

use std::sync::{Arc, Mutex};

use super::Bus;
use crate::notify::Notification;

/// A bus that keeps what it is given. Clones share it.
#[derive(Clone, Debug, Default)]
pub struct MemoryBus(Arc<Mutex<Vec<Notification>>>);

impl MemoryBus {
    /// Everything put so far.
    pub fn received(&self) -> Vec<Notification> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Bus for MemoryBus {
    async fn put(&self, notes: &[Notification]) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(notes);
        notes.len()
    }
}
