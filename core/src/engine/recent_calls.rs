//! What recent calls read from the store, kept for the next call by the
//! same member to the same integration: reading and decoding the records
//! costs more than the rest of deciding a call. An entry serves only while
//! no write has committed since it was read, so a change (a disable, a new
//! key, a suspended connection, a limit, the usage written each second) is
//! seen by the very next call. Where other nodes write too (PostgreSQL),
//! nothing is kept: their writes would go unseen.

use crate::store::{CallRecords, Store, StoreError};
use std::sync::Arc;

/// Entries kept (a member's call to one integration each, a few KiB).
const CAPACITY: usize = 4096;

/// The records of recent calls, each with the commit count it was read at.
pub(super) struct RecentCalls(quick_cache::sync::Cache<Vec<u8>, (u64, Arc<CallRecords>)>);

impl RecentCalls {
    pub(super) fn new() -> Self {
        RecentCalls(quick_cache::sync::Cache::new(CAPACITY))
    }

    /// The call's records as the store holds them now: kept ones while no
    /// write has committed since they were read, else read afresh.
    pub(super) fn records(
        &self,
        store: &Store,
        (workspace, integration, owner): (&str, &str, &str),
        month: u64,
    ) -> Result<Arc<CallRecords>, StoreError> {
        let read = || {
            store
                .read(|r| r.call_records(workspace, integration, owner, month))
                .map(Arc::new)
        };
        // Counted before reading, so a write that commits meanwhile retires
        // what is read.
        let Some(commits) = store.commits_seen() else {
            return read();
        };
        let key = key(&[workspace, integration, owner], month);
        if let Some((read_at, records)) = self.0.get(&key)
            && read_at == commits
        {
            return Ok(records);
        }
        let records = read()?;
        self.0.insert(key, (commits, records.clone()));
        Ok(records)
    }
}

/// Each part length-prefixed, so that no two calls share a key.
fn key(parts: &[&str], month: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(64);
    for part in parts {
        key.extend_from_slice(&(part.len() as u32).to_le_bytes());
        key.extend_from_slice(part.as_bytes());
    }
    key.extend_from_slice(&month.to_le_bytes());
    key
}
