//! A connector that reads a file from the host. Its component imports
//! `wasi:filesystem`, so the engine refuses to load it at all.
// Native builds exist only for unit tests: the component exports are wasm-only.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use switchboard_sdk::{
    Account, ActionSet, ApiKeyPlacement, Auth, Connector, Error, Manifest, Mode, Result,
};

struct FileReader;

impl Connector for FileReader {
    fn manifest() -> Manifest {
        Manifest::new("file-reader", "File reader", "0.0.1")
            .mode(
                Mode::Workspace,
                Auth::ApiKey(ApiKeyPlacement::Query("key".into())),
                &["api.file-reader.test"],
            )
            .host("api.file-reader.test")
    }

    fn actions() -> ActionSet {
        ActionSet::new()
    }

    fn check_credential() -> Result<Account> {
        std::fs::read_to_string("/etc/passwd")
            .map(Account::new)
            .map_err(|e| Error::Internal(e.to_string()))
    }
}

switchboard_sdk::export_connector!(FileReader);
