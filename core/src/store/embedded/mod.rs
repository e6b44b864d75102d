//! The embedded backend: one redb file, its values in the store's
//! versioned JSON ([`super::codec`]).

mod tables;
mod txn;

use super::codec::{decode, encode};
use super::{Backend, ConnectionRecord, Read, StoreError, StoredConnection, Write};
use redb::{Database, ReadableDatabase};
use std::path::Path;

/// The layout of the tables this engine writes: 2 keeps connection
/// credentials in their own table.
const LAYOUT: u64 = 2;

macro_rules! from_redb {
    ($($e:ty),*) => {$(
        impl From<$e> for StoreError {
            fn from(e: $e) -> Self {
                StoreError::Backend(Box::new(redb::Error::from(e)))
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// A redb data file.
pub(super) struct Embedded {
    db: Database,
}

impl Embedded {
    /// Opens the file, creating it and its tables if needed.
    pub(super) fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path)?;
        let tx = db.begin_write()?;
        tables::create_all(&tx)?;
        migrate(&tx)?;
        tx.commit()?;
        Ok(Embedded { db })
    }
}

impl Backend for Embedded {
    fn snapshot(&self) -> Result<Box<dyn Read + '_>, StoreError> {
        Ok(Box::new(txn::Snapshot(self.db.begin_read()?)))
    }

    fn transaction(&self) -> Result<Box<dyn Write + '_>, StoreError> {
        Ok(Box::new(txn::Transaction(self.db.begin_write()?)))
    }
}

/// Brings a file written by an earlier release to [`LAYOUT`], in the same
/// transaction that opens it.
fn migrate(tx: &redb::WriteTransaction) -> Result<(), StoreError> {
    use redb::ReadableTable;
    let mut meta = tx.open_table(tables::META)?;
    let layout = meta.get("layout")?.map(|v| v.value()).unwrap_or(1);
    if layout >= LAYOUT {
        return Ok(());
    }
    // Layout 1 kept each connection's credential inside its record.
    let mut records = tx.open_table(tables::CONNECTIONS)?;
    let mut moved = Vec::new();
    for item in records.iter()? {
        let (key, value) = item?;
        let (workspace, integration, owner) = key.value();
        let stored: StoredConnection = decode("connections", value.value())?;
        moved.push((
            (
                workspace.to_owned(),
                integration.to_owned(),
                owner.to_owned(),
            ),
            stored,
        ));
    }
    let mut secrets = tx.open_table(tables::CONNECTION_SECRETS)?;
    for ((workspace, integration, owner), stored) in moved {
        let key = (workspace.as_str(), integration.as_str(), owner.as_str());
        let record = ConnectionRecord {
            connection: stored.connection,
            suspended_from: stored.suspended_from,
            checked_with: stored.checked_with,
        };
        records.insert(key, encode(&record).as_slice())?;
        secrets.insert(key, encode(&stored.sealed).as_slice())?;
    }
    meta.insert("layout", LAYOUT)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        Account, Connection, ConnectionId, ConnectionStatus, IntegrationId, UserId, WorkspaceId,
    };
    use crate::store::Store;
    use crate::vault::Sealed;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_layout_1_file_has_its_connection_credentials_moved_out_on_open() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("old.redb");
        let stored = StoredConnection {
            connection: Connection {
                id: ConnectionId::new("conn_1"),
                workspace: WorkspaceId::new("acme"),
                integration: IntegrationId::new("sharepoint"),
                owner: UserId::new("ada"),
                status: ConnectionStatus::Connected,
                status_reason: None,
                account: Account {
                    label: "ada@contoso.com".into(),
                    detail: None,
                },
                scopes: vec!["Sites.Read.All".into()],
                connected_at_ms: 1,
                last_used_at_ms: None,
            },
            sealed: Sealed {
                key_id: "k1".into(),
                nonce: [3; 12],
                ciphertext: vec![1, 2, 3],
            },
            suspended_from: None,
            checked_with: None,
        };
        // What the first releases wrote: the credential inside the record.
        {
            let db = Database::create(&path)?;
            let tx = db.begin_write()?;
            tx.open_table(tables::CONNECTIONS)?
                .insert(("acme", "sharepoint", "ada"), encode(&stored).as_slice())?;
            tx.commit()?;
        }
        let store = Store::open(&path)?;
        let (read, record, keys) = store.read(|r| {
            Ok((
                r.connection_of("acme", "sharepoint", "ada")?,
                r.connection_record("acme", "sharepoint", "ada")?,
                r.sealed_key_ids()?,
            ))
        })?;
        let read = read.ok_or("the connection was lost")?;
        assert_eq!(read.connection, stored.connection);
        assert!(read.sealed == stored.sealed);
        assert_eq!(record.ok_or("no record")?.connection, stored.connection);
        assert_eq!(keys.get("k1"), Some(&1));
        // Opening again finds the file already migrated.
        drop(store);
        let store = Store::open(&path)?;
        assert!(
            store
                .read(|r| r.connection_of("acme", "sharepoint", "ada"))?
                .is_some()
        );
        Ok(())
    }
}
