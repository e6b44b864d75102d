//! Where the build put the connector components (see `build.rs`).

use std::path::{Path, PathBuf};

/// The directory holding Switchboard's own connectors (`semrush.wasm`, ...),
/// the default plugins directory of `switchboard serve`.
pub fn plugins_dir() -> &'static Path {
    Path::new(env!("SWITCHBOARD_BUILT_PLUGINS"))
}

/// A test-only component by file stem, e.g. `hostile`.
pub fn test_plugin(stem: &str) -> PathBuf {
    Path::new(env!("SWITCHBOARD_BUILT_TEST_PLUGINS")).join(format!("{stem}.wasm"))
}
