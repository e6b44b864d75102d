//! Master key rotation: a new active key, every secret re-sealed under it
//! in bounded batches while the engine keeps serving, then old keys retired.

use super::Engine;
use crate::store::{SealedRef, Store};
use crate::vault::{SecretIdentity, Vault, VaultError};
use crate::{Error, Result};

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rotation {
    pub key_id: String,
    pub resealed: usize,
}

impl Engine {
    /// Makes a new key active and re-seals every secret under it, `batch`
    /// secrets per write transaction. Calls keep working throughout: old
    /// keys stay in the keyring until [`Engine::retire_key`].
    pub fn rotate_keys(&self, batch: usize) -> Result<Rotation> {
        rotate(&self.store, &self.vault, batch)
    }

    /// Removes an old key from the keyring, once no secret is sealed under it.
    pub fn retire_key(&self, key_id: &str) -> Result<()> {
        retire(&self.store, &self.vault, key_id)
    }

    /// Key ids in the keyring, active first, with how many secrets each seals.
    pub fn keys(&self) -> Result<Vec<(String, usize)>> {
        keys(&self.store, &self.vault)
    }

    /// Opens every stored secret; says how many, or names the failure.
    pub fn verify_secrets(&self) -> Result<usize> {
        verify_secrets(&self.store, &self.vault)
    }
}

/// [`Engine::rotate_keys`] over a store and vault (for `switchboard keys`).
pub fn rotate(store: &Store, vault: &Vault, batch: usize) -> Result<Rotation> {
    let key_id = vault.rotate()?;
    tracing::info!(%key_id, "master key rotated; re-sealing secrets");
    let resealed = reseal_all(store, vault, &key_id, batch.max(1))?;
    tracing::info!(%key_id, resealed, "every secret is sealed under the active key");
    Ok(Rotation { key_id, resealed })
}

fn reseal_all(store: &Store, vault: &Vault, key_id: &str, batch: usize) -> Result<usize> {
    let mut resealed = 0;
    loop {
        let secrets = store.read(|r| r.secrets_not_under(key_id, batch))?;
        if secrets.is_empty() {
            return Ok(resealed);
        }
        let fresh = secrets
            .iter()
            .map(|s| {
                let identity = identity_of(s);
                let secret = vault.open_secret(s.sealed(), identity)?;
                Ok(vault.seal(&secret, identity)?)
            })
            .collect::<Result<Vec<_>>>()?;
        resealed += store.write(|w| {
            let mut done = 0;
            for (secret, sealed) in secrets.iter().zip(fresh) {
                done += usize::from(w.reseal(secret, sealed)?);
            }
            Ok(Ok::<_, Error>(done))
        })??;
    }
}

/// [`Engine::retire_key`] over a store and vault.
pub fn retire(store: &Store, vault: &Vault, key_id: &str) -> Result<()> {
    let in_use = store
        .read(|r| r.sealed_key_ids())?
        .get(key_id)
        .copied()
        .unwrap_or(0);
    if in_use > 0 {
        return Err(Error::Vault(VaultError::KeyInUse {
            key_id: key_id.to_owned(),
            secrets: in_use,
        }));
    }
    Ok(vault.retire(key_id)?)
}

/// Opens every stored secret with the keyring; says how many opened, or
/// fails on the first that does not.
pub fn verify_secrets(store: &Store, vault: &Vault) -> Result<usize> {
    let secrets = store.read(|r| r.secrets_not_under("", usize::MAX))?;
    for s in &secrets {
        vault.open_secret(s.sealed(), identity_of(s))?;
    }
    Ok(secrets.len())
}

/// [`Engine::keys`] over a store and vault.
pub fn keys(store: &Store, vault: &Vault) -> Result<Vec<(String, usize)>> {
    let counts = store.read(|r| r.sealed_key_ids())?;
    Ok(vault
        .key_ids()
        .into_iter()
        .map(|id| {
            let n = counts.get(&id).copied().unwrap_or(0);
            (id, n)
        })
        .collect())
}

fn identity_of(secret: &SealedRef) -> SecretIdentity<'_> {
    match secret {
        SealedRef::Workspace {
            workspace,
            integration,
            ..
        } => SecretIdentity::workspace_credential(workspace, integration),
        SealedRef::Connection {
            workspace,
            integration,
            owner,
            ..
        } => SecretIdentity::connection(workspace, integration, owner),
    }
}
