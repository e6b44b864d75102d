//! Who a component is. An operator pins an integration's id either to one
//! build (its SHA-256) or to a publisher (an ed25519 key): a pinned id
//! loads only from a component that matches, so neither a file dropped
//! into the plugins directory nor a tampered copy can take the id over.
//!
//! A publisher signs the SHA-256 of the component; the signature (base64)
//! sits beside it as `<component>.wasm.sig` (`switchboard plugin sign`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// What an operator pins an integration's id to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// One exact component: `sha256:<64 hex digits>`.
    Sha256([u8; 32]),
    /// Whatever its publisher signed: `ed25519:<base64 public key>`.
    Publisher(VerifyingKey),
}

/// Why a pin's text does not parse.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a pin: write sha256:<64 hex digits> or ed25519:<base64 public key>")]
pub struct InvalidPin(String);

impl std::str::FromStr for Pin {
    type Err = InvalidPin;

    fn from_str(text: &str) -> Result<Self, InvalidPin> {
        let invalid = || InvalidPin(text.to_owned());
        let text = text.trim();
        if let Some(digest) = text.strip_prefix("sha256:") {
            let mut bytes = [0; 32];
            hex::decode_to_slice(digest, &mut bytes).map_err(|_| invalid())?;
            return Ok(Pin::Sha256(bytes));
        }
        let key = text.strip_prefix("ed25519:").ok_or_else(invalid)?;
        let key: [u8; 32] = BASE64
            .decode(key)
            .ok()
            .and_then(|k| k.try_into().ok())
            .ok_or_else(invalid)?;
        VerifyingKey::from_bytes(&key)
            .map(Pin::Publisher)
            .map_err(|_| invalid())
    }
}

impl std::fmt::Display for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pin::Sha256(digest) => write!(f, "sha256:{}", hex::encode(digest)),
            Pin::Publisher(key) => write!(f, "ed25519:{}", BASE64.encode(key.as_bytes())),
        }
    }
}

/// Why a component does not match its id's pin.
#[derive(Debug, thiserror::Error)]
pub enum PinMismatch {
    /// Another build than the pinned one.
    #[error("its SHA-256 is {found}, not the pinned {pinned}")]
    Digest {
        /// The pin.
        pinned: String,
        /// The component's.
        found: String,
    },
    /// Pinned to a publisher, but not signed.
    #[error("`{id}` is pinned to a publisher, and {} is missing or not a signature", .signature.display())]
    Unsigned {
        /// The id.
        id: String,
        /// Where the signature should be.
        signature: PathBuf,
    },
    /// The signature is not the pinned publisher's over this component.
    #[error(
        "its signature does not verify with the pinned publisher key: the component was changed after signing, or another publisher signed it"
    )]
    BadSignature,
}

/// The SHA-256 of a component's bytes.
pub fn digest(component: &[u8]) -> [u8; 32] {
    Sha256::digest(component).into()
}

/// Where a component's signature sits.
pub fn signature_path(component: &Path) -> PathBuf {
    let mut path = component.as_os_str().to_owned();
    path.push(".sig");
    PathBuf::from(path)
}

/// Checks a component (its digest and the signature beside it, if any)
/// against the pin of `id`.
pub fn check(id: &str, pin: &Pin, component: &Path, digest: &[u8; 32]) -> Result<(), PinMismatch> {
    match pin {
        Pin::Sha256(pinned) if pinned == digest => Ok(()),
        Pin::Sha256(pinned) => Err(PinMismatch::Digest {
            pinned: hex::encode(pinned),
            found: hex::encode(digest),
        }),
        Pin::Publisher(key) => {
            let path = signature_path(component);
            let signature = std::fs::read_to_string(&path)
                .ok()
                .and_then(|text| BASE64.decode(text.trim()).ok())
                .and_then(|bytes| Signature::from_slice(&bytes).ok())
                .ok_or(PinMismatch::Unsigned {
                    id: id.to_owned(),
                    signature: path,
                })?;
            key.verify(digest, &signature)
                .map_err(|_| PinMismatch::BadSignature)
        }
    }
}

/// A publisher's signing key, kept as the base64 of its 32-byte seed.
pub struct PublisherKey(SigningKey);

impl PublisherKey {
    /// A new key from the operating system's randomness.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut())?;
        Ok(PublisherKey(SigningKey::from_bytes(&seed)))
    }

    /// The key as its file holds it; `None` if the text is not one.
    pub fn from_text(text: &str) -> Option<Self> {
        let seed: [u8; 32] = BASE64.decode(text.trim()).ok()?.try_into().ok()?;
        Some(PublisherKey(SigningKey::from_bytes(&seed)))
    }

    /// The text to keep in the key file (secret).
    pub fn to_text(&self) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(BASE64.encode(self.0.to_bytes()))
    }

    /// The pin operators write for this publisher.
    pub fn pin(&self) -> Pin {
        Pin::Publisher(self.0.verifying_key())
    }

    /// The signature of a component, as its `.sig` file holds it.
    pub fn sign(&self, component: &[u8]) -> String {
        BASE64.encode(self.0.sign(&digest(component)).to_bytes())
    }
}

impl std::fmt::Debug for PublisherKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublisherKey({})", self.pin())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_and_print_alike_and_bad_ones_are_named() {
        let key = PublisherKey::generate().unwrap();
        for pin in [key.pin(), Pin::Sha256(digest(b"component"))] {
            assert_eq!(pin.to_string().parse::<Pin>().unwrap(), pin);
        }
        for bad in ["sha256:abc", "ed25519:!!", "md5:00", ""] {
            assert!(bad.parse::<Pin>().is_err(), "{bad}");
        }
        assert!(!format!("{key:?}").contains(key.to_text().as_str()));
    }
}
