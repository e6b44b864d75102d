//! Where the build put the connector components (see `build.rs`).

use std::path::{Path, PathBuf};

/// The directory holding Switchboard's own connectors (`semrush.wasm`, ...),
/// the default plugins directory of `switchboard serve`.
pub fn plugins_dir() -> &'static Path {
    Path::new(env!("SWITCHBOARD_BUILT_PLUGINS"))
}

/// Switchboard's own connectors, inside the binary: (file name, bytes).
pub const FIRST_PARTY: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/first_party.rs"));

/// The target directory the components are built in: a test building
/// another component there reuses what is compiled already.
pub fn wasm_target_dir() -> &'static Path {
    Path::new(env!("SWITCHBOARD_WASM_TARGET_DIR"))
}

/// A test-only component by file stem, e.g. `hostile`.
pub fn test_plugin(stem: &str) -> PathBuf {
    Path::new(env!("SWITCHBOARD_BUILT_TEST_PLUGINS")).join(format!("{stem}.wasm"))
}

/// The shapeshifter test component, describing the manifest named `shape`
/// (see `tests/plugins/shapeshifter`): its fixed-width marker rewritten.
pub fn shapeshifter(shape: &str) -> Vec<u8> {
    const MARKER: &[u8] = b"shape:..........................";
    let path = test_plugin("shapeshifter");
    let mut bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let at = bytes
        .windows(MARKER.len())
        .position(|w| w == MARKER)
        .expect("the shapeshifter component lost its marker");
    assert!(
        shape.len() <= MARKER.len() - 6,
        "shape name too long: {shape}"
    );
    let slot = &mut bytes[at + 6..at + MARKER.len()];
    slot.fill(b'.');
    slot[..shape.len()].copy_from_slice(shape.as_bytes());
    bytes
}
