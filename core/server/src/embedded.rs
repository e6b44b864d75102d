//! The policies and first-party connectors inside the binary, for a
//! `serve` given no `--policies` or `--plugins`: written to a private
//! temporary directory at start (the engine reads directories), so the
//! binary runs from any directory and after `cargo install`.

use std::io;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// `policies/` as it was built: (file name, text).
const POLICIES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/policies.rs"));

/// The built-in files, for as long as this lives.
pub struct Defaults {
    dir: TempDir,
}

impl Defaults {
    /// Writes the built-in policies and components.
    pub fn write() -> io::Result<Self> {
        let dir = tempfile::Builder::new().prefix("switchboard-").tempdir()?;
        write_all(
            &dir.path().join("policies"),
            POLICIES.iter().map(|(n, t)| (*n, t.as_bytes())),
        )?;
        write_all(
            &dir.path().join("plugins"),
            switchboard_plugin_artifacts::FIRST_PARTY.iter().copied(),
        )?;
        Ok(Defaults { dir })
    }

    /// The built-in policy directory.
    pub fn policies(&self) -> PathBuf {
        self.dir.path().join("policies")
    }

    /// The built-in plugins directory.
    pub fn plugins(&self) -> PathBuf {
        self.dir.path().join("plugins")
    }
}

fn write_all<'a>(dir: &Path, files: impl Iterator<Item = (&'a str, &'a [u8])>) -> io::Result<()> {
    std::fs::create_dir(dir)?;
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}
