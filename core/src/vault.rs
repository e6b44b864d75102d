//! Sealing secrets at rest: AES-256-GCM-SIV, a random nonce per seal, the
//! record's identity as associated data (so a ciphertext moved to another
//! record does not open), and the key's id stored beside the ciphertext.

use aes_gcm_siv::aead::{Aead, KeyInit, Payload};
use aes_gcm_siv::{Aes256GcmSiv, Nonce};
use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The environment variable holding the master key (64 hex digits).
pub const MASTER_KEY_ENV: &str = "SWITCHBOARD_MASTER_KEY";

/// Why the vault could not load its keys, seal or open a secret, or rotate or
/// retire a key.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// A master key is not 64 hex digits, or none was given.
    #[error("the master key must be 32 bytes written as 64 hex digits ({0})")]
    MalformedKey(String),
    /// The key file could not be read, created or written.
    #[error("could not read or create the key file {path}: {source}")]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key file lets group or other users in; it must be mode 0600.
    #[error("the key file {0} is readable by other users; make it mode 0600")]
    KeyFileTooOpen(PathBuf),
    /// The vault does not hold that key (a secret's, or the one to retire).
    #[error("a secret is sealed under key `{0}`, which this engine does not hold")]
    MissingKey(String),
    /// A secret did not open: wrong key, or its record was tampered with or
    /// moved.
    #[error("a secret failed to open: wrong key, or the record was tampered with or moved")]
    Tampered,
    /// A key to retire still seals secrets.
    #[error("key `{key_id}` still seals {secrets} secret(s); rotate first")]
    KeyInUse {
        /// The key's id.
        key_id: String,
        /// How many secrets it still seals.
        secrets: usize,
    },
    /// The key to retire is the active one.
    #[error("key `{0}` is the active key; rotate to a new key before retiring it")]
    RetireActive(String),
    /// The keys come from `SWITCHBOARD_MASTER_KEY` or the embedding
    /// application, so there is no key file to rotate or retire in.
    #[error(
        "the master key comes from SWITCHBOARD_MASTER_KEY or the embedding application; rotate by putting the new key first there (comma-separated, then the old ones) and restarting"
    )]
    NotRotatable,
    /// No key was given where one must be.
    #[error(
        "no master key: set SWITCHBOARD_MASTER_KEY (the same on every node), or name a shared key file"
    )]
    NoKey,
    /// The operating system's random source failed.
    #[error("could not draw random bytes: {0}")]
    Random(String),
}

/// A secret in memory. Prints as `[redacted]` and is wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Zeroizing::new(value.into()))
    }

    /// The plain text, for the one place that needs it (an outgoing request).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Which record a secret belongs to; bound into the ciphertext, so a
/// ciphertext copied onto another record does not open. One constructor
/// per kind of secret.
#[derive(Debug, Clone, Copy)]
pub struct SecretIdentity<'a> {
    workspace: &'a str,
    integration: &'a str,
    /// The member who owns it, or the sign-in's `state`; empty for a
    /// workspace credential.
    subject: &'a str,
    kind: &'a str,
}

impl<'a> SecretIdentity<'a> {
    /// A workspace's shared credential for an integration.
    pub fn workspace_credential(workspace: &'a str, integration: &'a str) -> Self {
        SecretIdentity {
            workspace,
            integration,
            subject: "",
            kind: "workspace_credential",
        }
    }

    /// A member's personal connection to an integration.
    pub fn connection(workspace: &'a str, integration: &'a str, owner: &'a str) -> Self {
        SecretIdentity {
            workspace,
            integration,
            subject: owner,
            kind: "connection",
        }
    }

    /// The PKCE verifier of the sign-in started with `state`.
    pub fn pkce_verifier(workspace: &'a str, integration: &'a str, state: &'a str) -> Self {
        SecretIdentity {
            workspace,
            integration,
            subject: state,
            kind: "pkce_verifier",
        }
    }

    fn associated_data(&self) -> Vec<u8> {
        // Length-prefixed so that no two identities share an encoding.
        let mut aad = b"switchboard-secret-v1".to_vec();
        for part in [self.workspace, self.integration, self.subject, self.kind] {
            aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
        aad
    }
}

/// A sealed secret as stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// The id of the key it is sealed under.
    pub key_id: String,
    /// The random 96-bit nonce of this seal.
    pub nonce: [u8; 12],
    /// The ciphertext with its authentication tag (base64 when serialized).
    #[serde(with = "base64_bytes")]
    pub ciphertext: Vec<u8>,
}

/// Ciphertext stored as base64 text, a third of the size of the array of
/// numbers JSON would make of it; arrays, as the first releases wrote
/// them, still read.
mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Text(String),
            Numbers(Vec<u8>),
        }
        match Stored::deserialize(deserializer)? {
            Stored::Text(text) => STANDARD.decode(text).map_err(D::Error::custom),
            Stored::Numbers(bytes) => Ok(bytes),
        }
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Where the master keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `SWITCHBOARD_MASTER_KEY` if set, else this key file (created, mode
    /// 0600, on first run). Either holds hex keys, newest (active) first,
    /// separated by commas or new lines. Only a key file can be rotated.
    EnvOrFile(PathBuf),
    /// `SWITCHBOARD_MASTER_KEY`, which must be set: for state no key file
    /// sits beside (a database every node shares).
    Env,
    /// A key given by the embedding application.
    Bytes(Zeroizing<[u8; 32]>),
}

#[derive(Clone)]
struct Key {
    id: String,
    cipher: Aes256GcmSiv,
    hex: Zeroizing<String>,
}

impl Key {
    fn new(bytes: &[u8; 32]) -> Self {
        // The id names the key without revealing it.
        let digest = Sha256::digest([b"switchboard-key-id".as_slice(), bytes].concat());
        Key {
            id: hex::encode(&digest[..8]),
            cipher: Aes256GcmSiv::new(bytes.into()),
            hex: Zeroizing::new(hex::encode(bytes)),
        }
    }
}

/// The active key (first) and the older ones that still open secrets.
struct Keyring {
    keys: Vec<Key>,
}

/// Seals and opens secrets with the keyring.
pub struct Vault {
    ring: ArcSwap<Keyring>,
    /// The key file, when rotation can persist to one.
    file: Option<PathBuf>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("key_ids", &self.key_ids())
            .finish_non_exhaustive()
    }
}

impl KeySource {
    /// The keys of state where no key is configured: `SWITCHBOARD_MASTER_KEY`,
    /// or else `<data>.key` beside a data file; a database has no file
    /// beside it, so its nodes must be given the key.
    pub fn beside(data: &crate::store::Location) -> Self {
        data.file().map_or(KeySource::Env, |file| {
            KeySource::EnvOrFile(file.with_extension("key"))
        })
    }
}

impl Vault {
    /// Loads the keys from `source`; a missing key file is created with a new
    /// key.
    pub fn open(source: &KeySource) -> Result<Self, VaultError> {
        let (keys, file) = match source {
            KeySource::Bytes(key) => (vec![Key::new(key)], None),
            KeySource::Env => match std::env::var(MASTER_KEY_ENV) {
                Ok(text) => (parse_keys(&text)?, None),
                Err(_) => return Err(VaultError::NoKey),
            },
            KeySource::EnvOrFile(path) => match std::env::var(MASTER_KEY_ENV) {
                Ok(text) => (parse_keys(&text)?, None),
                Err(_) => (keys_from_file(path)?, Some(path.clone())),
            },
        };
        Ok(Vault {
            ring: ArcSwap::from_pointee(Keyring { keys }),
            file,
        })
    }

    /// The id of the key new secrets are sealed under.
    pub fn key_id(&self) -> String {
        self.ring.load().keys[0].id.clone()
    }

    /// Every key id held, active first.
    pub fn key_ids(&self) -> Vec<String> {
        self.ring.load().keys.iter().map(|k| k.id.clone()).collect()
    }

    /// Seals a secret under the active key, bound to `identity`.
    pub fn seal(
        &self,
        secret: &Secret,
        identity: SecretIdentity<'_>,
    ) -> Result<Sealed, VaultError> {
        let ring = self.ring.load();
        let key = &ring.keys[0];
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| VaultError::Random(e.to_string()))?;
        let aad = identity.associated_data();
        let ciphertext = key
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret.expose().as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Tampered)?;
        Ok(Sealed {
            key_id: key.id.clone(),
            nonce,
            ciphertext,
        })
    }

    /// Opens a sealed secret; `identity` must be the one it was sealed with.
    pub fn open_secret(
        &self,
        sealed: &Sealed,
        identity: SecretIdentity<'_>,
    ) -> Result<Secret, VaultError> {
        let ring = self.ring.load();
        let key = ring
            .keys
            .iter()
            .find(|k| k.id == sealed.key_id)
            .ok_or_else(|| VaultError::MissingKey(sealed.key_id.clone()))?;
        let aad = identity.associated_data();
        let plain = Zeroizing::new(
            key.cipher
                .decrypt(
                    Nonce::from_slice(&sealed.nonce),
                    Payload {
                        msg: &sealed.ciphertext,
                        aad: &aad,
                    },
                )
                .map_err(|_| VaultError::Tampered)?,
        );
        let text = std::str::from_utf8(&plain).map_err(|_| VaultError::Tampered)?;
        Ok(Secret::new(text))
    }

    /// Makes a new random key the active one, keeping the old ones to open
    /// what they sealed; persists the key file first. Returns the new id.
    pub fn rotate(&self) -> Result<String, VaultError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut_slice()).map_err(|e| VaultError::Random(e.to_string()))?;
        let key = Key::new(&bytes);
        let id = key.id.clone();
        let old = self.ring.load();
        let mut keys = vec![key];
        keys.extend(old.keys.iter().cloned());
        self.persist(&keys)?;
        self.ring.store(std::sync::Arc::new(Keyring { keys }));
        Ok(id)
    }

    /// Drops an old key. The caller makes sure nothing is sealed under it.
    pub fn retire(&self, key_id: &str) -> Result<(), VaultError> {
        let old = self.ring.load();
        if old.keys[0].id == key_id {
            return Err(VaultError::RetireActive(key_id.to_owned()));
        }
        if !old.keys.iter().any(|k| k.id == key_id) {
            return Err(VaultError::MissingKey(key_id.to_owned()));
        }
        let keys: Vec<Key> = old
            .keys
            .iter()
            .filter(|k| k.id != key_id)
            .cloned()
            .collect();
        self.persist(&keys)?;
        self.ring.store(std::sync::Arc::new(Keyring { keys }));
        Ok(())
    }

    fn persist(&self, keys: &[Key]) -> Result<(), VaultError> {
        let path = self.file.as_ref().ok_or(VaultError::NotRotatable)?;
        let text = Zeroizing::new(
            keys.iter()
                .map(|k| k.hex.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        );
        let tmp = path.with_extension("key.tmp");
        let _ = std::fs::remove_file(&tmp);
        write_new_key_file(&tmp, &text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|source| VaultError::KeyFile {
                path: path.clone(),
                source,
            })
    }
}

fn parse_key(hex_key: &str) -> Result<Zeroizing<[u8; 32]>, VaultError> {
    let mut key = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(hex_key.trim(), key.as_mut_slice())
        .map_err(|e| VaultError::MalformedKey(e.to_string()))?;
    Ok(key)
}

/// Hex keys separated by commas or new lines, active first.
fn parse_keys(text: &str) -> Result<Vec<Key>, VaultError> {
    let keys: Vec<Key> = text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| parse_key(k).map(|bytes| Key::new(&bytes)))
        .collect::<Result<_, _>>()?;
    if keys.is_empty() {
        return Err(VaultError::MalformedKey("no key given".into()));
    }
    Ok(keys)
}

fn keys_from_file(path: &Path) -> Result<Vec<Key>, VaultError> {
    let io = |source| VaultError::KeyFile {
        path: path.to_owned(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            refuse_open_permissions(path)?;
            parse_keys(&Zeroizing::new(text))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = Zeroizing::new([0u8; 32]);
            getrandom::fill(key.as_mut_slice()).map_err(|e| VaultError::Random(e.to_string()))?;
            write_new_key_file(path, &Zeroizing::new(hex::encode(key.as_slice()))).map_err(io)?;
            Ok(vec![Key::new(&key)])
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(unix)]
fn write_new_key_file(path: &Path, hex_key: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(hex_key.as_bytes())?;
    file.sync_all()
}

#[cfg(unix)]
fn refuse_open_permissions(path: &Path) -> Result<(), VaultError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| VaultError::KeyFile {
        path: path.to_owned(),
        source,
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(VaultError::KeyFileTooOpen(path.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn identity(owner: &str) -> SecretIdentity<'_> {
        SecretIdentity::connection("acme", "semrush", owner)
    }

    fn vault() -> Result<Vault, VaultError> {
        Vault::open(&KeySource::Bytes(Zeroizing::new([7u8; 32])))
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_own_record() -> TestResult {
        let v = vault()?;
        let sealed = v.seal(&Secret::new("k-123"), identity(""))?;
        assert_eq!(v.open_secret(&sealed, identity(""))?.expose(), "k-123");
        assert!(matches!(
            v.open_secret(&sealed, identity("bob")),
            Err(VaultError::Tampered)
        ));
        Ok(())
    }

    #[test]
    fn sealed_secrets_are_stored_as_base64_and_old_arrays_still_read() -> TestResult {
        let v = vault()?;
        let sealed = v.seal(&Secret::new("k-123"), identity(""))?;
        let stored = serde_json::to_value(&sealed)?;
        assert!(stored["ciphertext"].is_string(), "{stored}");
        let mut old = stored.clone();
        old["ciphertext"] = serde_json::to_value(&sealed.ciphertext)?;
        for form in [stored, old] {
            let read: Sealed = serde_json::from_value(form)?;
            assert_eq!(v.open_secret(&read, identity(""))?.expose(), "k-123");
        }
        Ok(())
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() -> TestResult {
        let v = vault()?;
        let a = v.seal(&Secret::new("same"), identity(""))?;
        let b = v.seal(&Secret::new("same"), identity(""))?;
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        Ok(())
    }

    #[test]
    fn a_secret_under_another_key_says_which_key_is_missing() -> TestResult {
        let sealed = vault()?.seal(&Secret::new("x"), identity(""))?;
        let other = Vault::open(&KeySource::Bytes(Zeroizing::new([8u8; 32])))?;
        let err = other.open_secret(&sealed, identity("")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "a secret is sealed under key `{}`, which this engine does not hold",
                sealed.key_id
            )
        );
        Ok(())
    }

    #[test]
    fn secrets_never_print() -> TestResult {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        Ok(())
    }

    #[test]
    fn a_new_key_file_is_private_and_reused() -> TestResult {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("switchboard.key");
        let first = keys_from_file(&path)?;
        assert_eq!(
            std::fs::metadata(&path)?.permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(keys_from_file(&path)?[0].id, first[0].id);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        assert!(matches!(
            keys_from_file(&path),
            Err(VaultError::KeyFileTooOpen(_))
        ));
        Ok(())
    }

    #[test]
    fn rotation_keeps_old_secrets_open_and_persists_the_ring() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("switchboard.key");
        let vault = Vault {
            ring: ArcSwap::from_pointee(Keyring {
                keys: keys_from_file(&path)?,
            }),
            file: Some(path.clone()),
        };
        let old_id = vault.key_id();
        let sealed = vault.seal(&Secret::new("s3cret"), identity(""))?;
        let new_id = vault.rotate()?;
        assert_ne!(new_id, old_id);
        assert_eq!(vault.key_ids(), [new_id.clone(), old_id.clone()]);
        assert_eq!(vault.open_secret(&sealed, identity(""))?.expose(), "s3cret");
        assert_eq!(vault.seal(&Secret::new("x"), identity(""))?.key_id, new_id);
        let reread: Vec<String> = keys_from_file(&path)?
            .iter()
            .map(|k| k.id.clone())
            .collect();
        assert_eq!(reread, [new_id.clone(), old_id.clone()]);
        assert!(matches!(
            vault.retire(&new_id),
            Err(VaultError::RetireActive(_))
        ));
        vault.retire(&old_id)?;
        assert!(matches!(
            vault.open_secret(&sealed, identity("")),
            Err(VaultError::MissingKey(_))
        ));
        Ok(())
    }
}
