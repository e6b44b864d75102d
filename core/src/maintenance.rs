//! Work on a data file with the service stopped: the master keys and the
//! audit trail, as `switchboard keys` and `switchboard audit` do it.

use crate::Result;
use crate::audit::{self, Broken, Filter, Record};
use crate::engine::{self, Rotation};
use crate::model::WorkspaceId;
use crate::store::{Location, Store, StoreError};
use crate::vault::{KeySource, Vault};

/// The state opened directly, without an engine: a data file or a
/// database.
pub struct DataFile {
    store: Store,
    /// Where the keys come from: `SWITCHBOARD_MASTER_KEY`, or `<data>.key`
    /// beside a data file.
    key: KeySource,
}

impl DataFile {
    /// Opens existing state (a missing data file is an error, not
    /// created), with the keys the engine would use by default.
    pub fn open(location: impl Into<Location>) -> Result<Self> {
        let location = location.into();
        let key = KeySource::beside(&location);
        Self::open_with_keys(location, key)
    }

    /// Opens existing state with the keys `key` names.
    pub fn open_with_keys(location: impl Into<Location>, key: KeySource) -> Result<Self> {
        let location = location.into();
        if let Some(path) = location.file().filter(|path| !path.exists()) {
            return Err(StoreError::Missing(path.to_owned()).into());
        }
        Ok(DataFile {
            store: Store::open(location)?,
            key,
        })
    }

    /// The keyring, opened only by the commands that need it: reading the
    /// audit trail must not create a key file.
    fn vault(&self) -> Result<Vault> {
        Ok(Vault::open(&self.key)?)
    }

    /// Key ids, active first, with how many secrets each seals.
    pub fn keys(&self) -> Result<Vec<(String, usize)>> {
        engine::keys(&self.store, &self.vault()?)
    }

    /// Makes a new key active and re-seals every secret under it, `batch`
    /// secrets per write transaction.
    pub fn rotate_keys(&self, batch: usize) -> Result<Rotation> {
        engine::rotate(&self.store, &self.vault()?, batch)
    }

    /// Removes an old key, once no secret is sealed under it.
    pub fn retire_key(&self, key_id: &str) -> Result<()> {
        engine::retire(&self.store, &self.vault()?, key_id)
    }

    /// Checks every workspace's audit chain: how many records verified,
    /// or where the chain breaks.
    pub fn verify_audit(&self) -> Result<Vec<(WorkspaceId, Result<u64, Broken>)>> {
        let workspaces = self.store.read(|r| r.audited_workspaces())?;
        workspaces
            .into_iter()
            .map(|workspace| {
                let records = self.store.read(|r| r.audit_all(workspace.as_str()))?;
                let verified = audit::verify(&workspace, records);
                Ok((workspace, verified))
            })
            .collect()
    }

    /// A workspace's newest `count` records, oldest of them first.
    pub fn audit_tail(&self, workspace: &str, count: usize) -> Result<Vec<Record>> {
        let page = self
            .store
            .read(|r| r.audit_page(workspace, &Filter::default(), None, count))?;
        Ok(page.records.into_iter().rev().collect())
    }
}
