//! The policies and first-party connectors inside the binary, for a
//! command given no `--policies` or `--plugins`: written to a private
//! temporary directory when first asked for (the engine reads
//! directories), so the binary runs from any directory and after
//! `cargo install`.

use std::io;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// `policies/` as it was built: (file name, text).
const POLICIES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/policies.rs"));

/// The built-in files, written on first use and kept while this lives.
#[derive(Default)]
pub struct Defaults {
    dir: Option<TempDir>,
}

impl Defaults {
    /// The built-in policy directory.
    pub fn policies(&mut self) -> io::Result<PathBuf> {
        Ok(self.written()?.join("policies"))
    }

    /// The built-in plugins directory.
    pub fn plugins(&mut self) -> io::Result<PathBuf> {
        Ok(self.written()?.join("plugins"))
    }

    fn written(&mut self) -> io::Result<&Path> {
        let dir = match &mut self.dir {
            Some(dir) => dir,
            empty @ None => empty.insert(write_new()?),
        };
        Ok(dir.path())
    }
}

/// A fresh private directory holding `policies/` and `plugins/`.
fn write_new() -> io::Result<TempDir> {
    let dir = tempfile::Builder::new().prefix("switchboard-").tempdir()?;
    let policies = POLICIES.iter().map(|(n, t)| (*n, t.as_bytes()));
    write_all(&dir.path().join("policies"), policies)?;
    let plugins = switchboard_plugin_artifacts::FIRST_PARTY.iter().copied();
    write_all(&dir.path().join("plugins"), plugins)?;
    Ok(dir)
}

fn write_all<'a>(dir: &Path, files: impl Iterator<Item = (&'a str, &'a [u8])>) -> io::Result<()> {
    std::fs::create_dir(dir)?;
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}
