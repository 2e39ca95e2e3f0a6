//! An in-memory state store with DynamoDB's semantics where the core depends on them: items go through the
//! same codec, writes are conditional on owner or version, and the same contract tests run against it and
//! against DynamoDB on moto.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::codec::{self, Item};
use super::{key, Expect, Record, StateStore};
use crate::domain::RoleName;
use crate::error::{Error, Result};

#[derive(Clone, Default)]
pub struct MemoryStore {
    items: Arc<Mutex<BTreeMap<String, Item>>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn items(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Item>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes an item as is, bypassing every condition: what only an attacker with table access could do.
    pub fn force(&self, item: Item) {
        let pk = item.get(codec::PK).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        self.items().insert(pk, item);
    }
}

impl StateStore for MemoryStore {
    async fn get(&self, role: &RoleName) -> Result<Option<Record>> {
        self.items().get(&key(role)).map(codec::decode).transpose()
    }

    async fn put(&self, rec: &Record, expect: Expect) -> Result<Record> {
        let mut items = self.items();
        let current = items.get(&rec.key()).map(codec::decode).transpose()?;
        let ok = match (expect, &current) {
            (Expect::NewOrOwn, None) => true,
            (Expect::NewOrOwn, Some(c)) => c.owner == rec.owner,
            (Expect::Version(v), Some(c)) => c.version == v,
            (Expect::Version(_), None) => false,
        };
        if !ok {
            return Err(match (expect, current) {
                (Expect::NewOrOwn, Some(other)) => super::owned_elsewhere(&other, &rec.owner),
                _ => Error::RecordChanged(rec.role_name.to_string()),
            });
        }
        let version = rec.version + 1;
        items.insert(rec.key(), codec::encode(rec, version, 0));
        Ok(Record { version, ..rec.clone() })
    }

    async fn delete(&self, role: &RoleName, version: u64) -> Result<()> {
        let mut items = self.items();
        match items.get(&key(role)).map(codec::decode).transpose()? {
            None => Ok(()),
            Some(c) if c.version == version => {
                items.remove(&key(role));
                Ok(())
            }
            Some(_) => Err(Error::RecordChanged(role.to_string())),
        }
    }

    async fn list(&self) -> Result<Vec<Record>> {
        Ok(self.items().values().filter_map(|i| codec::decode(i).ok()).collect())
    }
}
