//! Work on the state without an engine, as the command line does it: the
//! master keys and the audit trail (`switchboard keys`, `audit`, with the
//! service stopped), and moving state between backends (`export`,
//! `import`).

use crate::Error;
use crate::Result;
use crate::audit::{self, Broken, Filter, Record};
use crate::engine::{self, Rotation};
use crate::model::WorkspaceId;
pub use crate::store::transfer::Moved;
use crate::store::transfer::{self, EXPORT_FORMAT, Header, Item};
use crate::store::{Location, Store, StoreError};

/// One line of an export.
fn json_line(value: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| Error::Internal(format!("cannot encode a record: {e}")))
}
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

    /// Opens state, creating it (a new data file, or tables in an empty
    /// database) or bringing it to this release's version.
    pub fn migrate(location: &Location) -> Result<Self> {
        Ok(DataFile {
            store: Store::open(location)?,
            key: KeySource::beside(location),
        })
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

    /// Writes every workspace's state to `out` as JSON lines (see
    /// [`transfer`]); secrets stay sealed.
    pub fn export(&self, out: &mut dyn std::io::Write) -> Result<Moved> {
        let failed = |e: std::io::Error| Error::Internal(format!("cannot write the export: {e}"));
        let header = Header {
            switchboard_export: EXPORT_FORMAT,
        };
        writeln!(out, "{}", json_line(&header)?).map_err(failed)?;
        let mut moved = Moved::default();
        for workspace in self.store.read(|r| r.audited_workspaces())? {
            // One snapshot per workspace: its records agree with each other.
            let mut items = Vec::new();
            self.store.read(|r| {
                transfer::export_workspace(r, workspace.as_str(), &mut |item| {
                    items.push(item);
                    Ok(())
                })
            })?;
            for item in items {
                moved.count(&item);
                writeln!(out, "{}", json_line(&item)?).map_err(failed)?;
            }
        }
        out.flush().map_err(failed)?;
        Ok(moved)
    }

    /// Reads an export into this state, which must hold none yet. Every
    /// line is read and checked before anything is written, then all are
    /// written in one transaction: an import happens whole or not at all.
    pub fn import(&self, input: impl std::io::BufRead) -> Result<Moved> {
        let mut lines = input.lines().enumerate();
        let line = |n: usize, text: std::io::Result<String>| {
            text.map_err(|e| Error::Internal(format!("line {}: cannot read: {e}", n + 1)))
        };
        let header: Header = match lines.next() {
            Some((n, text)) => serde_json::from_str(&line(n, text)?).map_err(|e| {
                Error::Internal(format!("line 1 is not a Switchboard export header: {e}"))
            })?,
            None => return Err(Error::Internal("the export is empty".into())),
        };
        if header.switchboard_export != EXPORT_FORMAT {
            return Err(Error::Internal(format!(
                "export format {} is not the one this release reads ({EXPORT_FORMAT})",
                header.switchboard_export
            )));
        }
        let mut items = Vec::new();
        for (n, text) in lines {
            let text = line(n, text)?;
            if text.trim().is_empty() {
                continue;
            }
            let item: Item = serde_json::from_str(&text)
                .map_err(|e| Error::Internal(format!("line {}: {e}", n + 1)))?;
            items.push(item);
        }
        self.store.write(|w| {
            let held = w.audited_workspaces()?.len();
            if held > 0 {
                return Err(Error::Internal(format!(
                    "the target already holds {held} workspace(s); import into empty state"
                )));
            }
            for item in &items {
                transfer::import(w, item)?;
            }
            Ok(())
        })?;
        let mut moved = Moved::default();
        items.iter().for_each(|item| moved.count(item));
        Ok(moved)
    }

    /// A workspace's newest `count` records, oldest of them first.
    pub fn audit_tail(&self, workspace: &str, count: usize) -> Result<Vec<Record>> {
        let page = self
            .store
            .read(|r| r.audit_page(workspace, &Filter::default(), None, count))?;
        Ok(page.records.into_iter().rev().collect())
    }
}
