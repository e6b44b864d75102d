//! How records are written, whatever the backend: versioned JSON, so that
//! later releases can migrate them and both backends hold the same bytes.

use super::StoreError;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// The format of stored values; bump it with a migration.
const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Versioned<T> {
    v: u32,
    value: T,
}

pub(super) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs to JSON cannot fail.
    serde_json::to_vec(&Versioned { v: FORMAT, value }).unwrap_or_default()
}

pub(super) fn decode<T: DeserializeOwned>(
    table: &'static str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    let record: Versioned<T> = serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        table,
        reason: e.to_string(),
    })?;
    if record.v != FORMAT {
        return Err(StoreError::Corrupt {
            table,
            reason: format!("format {} is newer than this engine knows", record.v),
        });
    }
    Ok(record.value)
}
