//! Master key rotation while the engine keeps serving: a new active key,
//! every secret re-sealed under it in bounded batches, then old keys retired.

use super::{Engine, Rotation};
use crate::Result;

impl Engine {
    /// Makes a new key active and re-seals every secret under it, `batch`
    /// secrets per write transaction. Calls keep working throughout: old
    /// keys stay in the keyring until [`Engine::retire_key`].
    pub fn rotate_keys(&self, batch: usize) -> Result<Rotation> {
        self.credentials.rotate(batch)
    }

    /// Removes an old key from the keyring, once no secret is sealed under it.
    pub fn retire_key(&self, key_id: &str) -> Result<()> {
        self.credentials.retire(key_id)
    }

    /// Key ids in the keyring, active first, with how many secrets each seals.
    pub fn keys(&self) -> Result<Vec<(String, usize)>> {
        self.credentials.keys()
    }

    /// Opens every stored secret; says how many, or names the failure.
    pub fn verify_secrets(&self) -> Result<usize> {
        self.credentials.verify()
    }
}
