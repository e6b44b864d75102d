//! `switchboard plugin keygen|sign|verify`: a publisher's side of pinning.
//! An operator pins an id to the publisher's key (`serve --pin`); the
//! publisher signs each build, and the signature travels beside it.

use std::path::Path;
use std::process::ExitCode;
use switchboard::plugins::pins::{self, Pin, PublisherKey};

/// Writes a new signing key to `key_file` (readable by its owner only,
/// never overwritten) and prints the pin operators write for it.
pub fn keygen(key_file: &Path) -> Result<ExitCode, String> {
    let key = PublisherKey::generate().map_err(|e| format!("no randomness for a key: {e}"))?;
    write_new(key_file, key.to_text().as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", key_file.display()))?;
    println!("{}", key.pin());
    Ok(ExitCode::SUCCESS)
}

/// Signs `component` with the key in `key_file`, writing `<component>.sig`.
pub fn sign(key_file: &Path, component: &Path) -> Result<ExitCode, String> {
    let text = std::fs::read_to_string(key_file)
        .map_err(|e| format!("cannot read the key {}: {e}", key_file.display()))?;
    let key = PublisherKey::from_text(&text)
        .ok_or_else(|| format!("{} is not a signing key", key_file.display()))?;
    let bytes = read(component)?;
    let signature = pins::signature_path(component);
    std::fs::write(&signature, key.sign(&bytes) + "\n")
        .map_err(|e| format!("cannot write {}: {e}", signature.display()))?;
    println!("signed {} as {}", component.display(), key.pin());
    println!("sha256:{}", hex::encode(pins::digest(&bytes)));
    Ok(ExitCode::SUCCESS)
}

/// Says whether `component` matches `pin`, as the engine would check it.
pub fn verify(pin: &str, component: &Path) -> Result<ExitCode, String> {
    let pin: Pin = pin.parse().map_err(|e| format!("{e}"))?;
    let digest = pins::digest(&read(component)?);
    match pins::check("this component", &pin, component, &digest) {
        Ok(()) => {
            println!("ok: {} matches {pin}", component.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(mismatch) => {
            println!("refused: {}: {mismatch}", component.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `ID=PIN`, as `--pin` takes it.
pub fn parse_pin(text: &str) -> Result<(switchboard::model::IntegrationId, Pin), String> {
    let (id, pin) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not ID=PIN"))?;
    let pin = pin.parse().map_err(|e| format!("{e}"))?;
    Ok((switchboard::model::IntegrationId::new(id.trim()), pin))
}

fn read(component: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(component).map_err(|e| format!("cannot read {}: {e}", component.display()))
}

/// Creates `path` with `contents`, readable by its owner only; an existing
/// file is an error, so a key is never overwritten.
fn write_new(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents)
}
