//! Compiled components, cached on disk so a restart does not recompile.
//!
//! An entry is named by the SHA-256 of the engine's compatibility hash and
//! of the component's bytes: a new wasmtime, other settings or another
//! component never reuse it. Only files this engine wrote are deserialised
//! (that is native code), so the cache directory must be as trusted as the
//! binary itself.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Feeds `Hash` output into SHA-256, which is stable across Rust releases.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

fn entry_path(dir: &Path, engine: &Engine, component: &[u8]) -> PathBuf {
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.update(Sha256::digest(component));
    dir.join(format!("{}.cwasm", hex::encode(hasher.0.finalize())))
}

/// Compiles `bytes`, or loads the compiled artefact cached in `dir`.
pub fn compile(engine: &Engine, bytes: &[u8], dir: Option<&Path>) -> wasmtime::Result<Component> {
    let Some(dir) = dir else {
        return Component::new(engine, bytes);
    };
    let path = entry_path(dir, engine, bytes);
    if path.exists() {
        // SAFETY: the file is named by the hash of this engine's settings and
        // of the component, and only `store` below writes into the cache.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => return Ok(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), "recompiling: cached component unusable: {e}")
            }
        }
    }
    let compiled = engine.precompile_component(bytes)?;
    if let Err(e) = store(dir, &path, &compiled) {
        tracing::warn!(dir = %dir.display(), "could not cache a compiled component: {e}");
    }
    // SAFETY: these bytes were produced by this engine a moment ago.
    unsafe { Component::deserialize(engine, &compiled) }
}

/// Writes atomically, so a crash never leaves a torn artefact behind.
fn store(dir: &Path, path: &Path, compiled: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, compiled)?;
    std::fs::rename(&tmp, path)
}
