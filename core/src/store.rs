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

    /// Enables in one mode. If the integration is already enabled, nothing
    /// changes and the active enablement is returned as the error: the check
    /// and the write share one transaction, so two modes can never race in.
    pub fn enable(
        &self,
        workspace: &str,
        integration: &str,
        enablement: &Enablement,
    ) -> Result<Result<(), Enablement>, StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut table = tx.open_table(ENABLEMENTS)?;
            if let Some(active) = table.get((workspace, integration))? {
                return Ok(Err(decode("enablements", active.value())?));
            }
            table.insert((workspace, integration), encode(enablement).as_slice())?;
        }
        tx.commit()?;
        Ok(Ok(()))
    }

    /// Disables; says whether it was enabled.
    pub fn disable(&self, workspace: &str, integration: &str) -> Result<bool, StoreError> {
        let tx = self.db.begin_write()?;
        let removed = tx
            .open_table(ENABLEMENTS)?
            .remove((workspace, integration))?
            .is_some();
        tx.commit()?;
        Ok(removed)
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
