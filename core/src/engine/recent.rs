//! What recent reads found, kept for the same read again: the next call by
//! a member to the same integration, the next view of the same page.
//! Reading and decoding the records costs more than the rest of deciding a
//! call or building a page. An entry serves only while no write has
//! committed since it was read, so a change (a disable, a new key, a
//! suspended connection, a limit, the usage written each second) is seen
//! by the very next read. Where other nodes write too (PostgreSQL),
//! nothing is kept: their writes would go unseen.

use crate::kept::{Kept, push_part};
use crate::store::{Read, Store, StoreError};
use std::sync::Arc;

/// Recent reads of one kind, each with the commit count it was read at.
pub(super) struct Recent<T>(Kept<Vec<u8>, (u64, Arc<T>)>);

impl<T> Recent<T> {
    /// Keeps at most `capacity` reads (0: none).
    pub(super) fn new(capacity: usize) -> Self {
        Recent(Kept::new(capacity))
    }

    /// What `read` finds for `key` as the store holds it now: a kept
    /// answer while no write has committed since it was read, else read
    /// afresh. `key` must name everything `read` depends on.
    pub(super) fn read(
        &self,
        store: &Store,
        key: &[&[u8]],
        read: impl FnOnce(&dyn Read) -> Result<T, StoreError>,
    ) -> Result<Arc<T>, StoreError> {
        // Counted before reading, so a write that commits meanwhile retires
        // what is read.
        let Some(commits) = store.commits_seen() else {
            return store.read(read).map(Arc::new);
        };
        let key = joined(key);
        if let Some((read_at, found)) = self.0.get(&key)
            && read_at == commits
        {
            return Ok(found);
        }
        let found = Arc::new(store.read(read)?);
        self.0.insert(key, (commits, found.clone()));
        Ok(found)
    }
}

/// Each part length-prefixed, so that no two keys run together.
fn joined(parts: &[&[u8]]) -> Vec<u8> {
    let mut key = Vec::with_capacity(64);
    for part in parts {
        push_part(&mut key, part);
    }
    key
}
