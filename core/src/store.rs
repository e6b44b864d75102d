//! The only code that touches redb. Values are versioned JSON so that later
//! releases can migrate them; every state change is one write transaction.

use crate::model::{Account, Enablement, UserId};
use crate::vault::Sealed;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::path::Path;

/// The format of stored values; bump it with a migration.
const FORMAT: u32 = 1;

/// (workspace, integration) → the enablement.
const ENABLEMENTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("enablements");
/// (workspace, integration) → the sealed shared credential.
const WORKSPACE_CREDENTIALS: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("workspace_credentials");

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

/// A workspace's shared credential, sealed, with what its check said.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredCredential {
    pub sealed: Sealed,
    pub account: Account,
    pub set_by: UserId,
    pub set_at_ms: u64,
    pub checked_at_ms: u64,
}

pub struct Store {
    db: Database,
}

impl Store {
    /// Opens the data file, creating it and its tables if needed.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path)?;
        let tx = db.begin_write()?;
        tx.open_table(ENABLEMENTS)?;
        tx.open_table(WORKSPACE_CREDENTIALS)?;
        tx.commit()?;
        Ok(Store { db })
    }

    pub fn enablement(
        &self,
        workspace: &str,
        integration: &str,
    ) -> Result<Option<Enablement>, StoreError> {
        self.get(ENABLEMENTS, "enablements", workspace, integration)
    }

    /// Reads an integration's enablement and changes it in one write
    /// transaction: `change` sees the state as committed and returns the new
    /// state (`None` disables), or an error that leaves everything as it was.
    /// Two changes never interleave, so a rule checked in `change` holds.
    pub fn change_enablement<E>(
        &self,
        workspace: &str,
        integration: &str,
        change: impl FnOnce(Option<Enablement>) -> Result<Option<Enablement>, E>,
    ) -> Result<Result<Option<Enablement>, E>, StoreError> {
        let tx = self.db.begin_write()?;
        let next = {
            let mut table = tx.open_table(ENABLEMENTS)?;
            let current = table
                .get((workspace, integration))?
                .map(|v| decode("enablements", v.value()))
                .transpose()?;
            let next = match change(current) {
                Ok(next) => next,
                Err(e) => return Ok(Err(e)),
            };
            match &next {
                Some(enablement) => {
                    table.insert((workspace, integration), encode(enablement).as_slice())?
                }
                None => table.remove((workspace, integration))?,
            };
            next
        };
        tx.commit()?;
        Ok(Ok(next))
    }

    pub fn workspace_credential(
        &self,
        workspace: &str,
        integration: &str,
    ) -> Result<Option<StoredCredential>, StoreError> {
        self.get(
            WORKSPACE_CREDENTIALS,
            "workspace_credentials",
            workspace,
            integration,
        )
    }

    pub fn set_workspace_credential(
        &self,
        workspace: &str,
        integration: &str,
        credential: &StoredCredential,
    ) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        tx.open_table(WORKSPACE_CREDENTIALS)?
            .insert((workspace, integration), encode(credential).as_slice())?;
        tx.commit()?;
        Ok(())
    }

    fn get<T: DeserializeOwned>(
        &self,
        definition: TableDefinition<(&str, &str), &[u8]>,
        name: &'static str,
        workspace: &str,
        integration: &str,
    ) -> Result<Option<T>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(definition)?;
        let value = table.get((workspace, integration))?;
        value.map(|v| decode(name, v.value())).transpose()
    }
}
