//! The only code that touches redb. Values are versioned JSON so that later
//! releases can migrate them. Every state change is one write transaction
//! ([`Store::write`]) that also appends its audit record; reads use read
//! transactions ([`Store::read`]).

mod tables;
mod txn;

use redb::{Database, ReadableDatabase};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::path::Path;
pub use txn::{Read, Reader, SealedRef, Writer};

/// The format of stored values; bump it with a migration.
const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage failure: {0}")]
    Redb(#[from] redb::Error),
    #[error("a stored record could not be read ({table}): {reason}")]
    Corrupt { table: &'static str, reason: String },
}

macro_rules! from_redb {
    ($($e:ty),*) => {$(
        impl From<$e> for StoreError {
            fn from(e: $e) -> Self {
                StoreError::Redb(e.into())
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

#[derive(Serialize, Deserialize)]
struct Versioned<T> {
    v: u32,
    value: T,
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs to JSON cannot fail.
    serde_json::to_vec(&Versioned { v: FORMAT, value }).unwrap_or_default()
}

fn decode<T: DeserializeOwned>(table: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    let record: Versioned<T> = serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        table,
        reason: e.to_string(),
    })?;
    if record.v != FORMAT {
        return Err(StoreError::Corrupt {
            table,
            reason: format!("format {} is newer than this engine knows", record.v),
        });
    }
    Ok(record.value)
}

pub use tables::{Flow, StoredConnection, StoredCredential};

pub struct Store {
    db: Database,
}

impl Store {
    /// Opens the data file, creating it and its tables if needed.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path)?;
        let tx = db.begin_write()?;
        tables::create_all(&tx)?;
        tx.commit()?;
        Ok(Store { db })
    }

    /// Reads from one consistent snapshot.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Reader) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let reader = Reader::new(self.db.begin_read()?);
        f(&reader)
    }

    /// Runs `f` in one write transaction. A storage error rolls everything
    /// back; otherwise what `f` wrote is committed, including when `f`
    /// refuses (`Ok(Err(..))`: the refusal's own audit record is kept).
    pub fn write<T, E>(
        &self,
        f: impl FnOnce(&mut Writer) -> Result<Result<T, E>, StoreError>,
    ) -> Result<Result<T, E>, StoreError> {
        let mut writer = Writer::new(self.db.begin_write()?);
        let outcome = f(&mut writer)?;
        writer.commit()?;
        Ok(outcome)
    }
}
