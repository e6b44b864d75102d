//! Builds the connector components for `wasm32-wasip2` with a nested cargo,
//! as wasmtime's test-programs-artifacts does, so `cargo test` and
//! `cargo run` never need a separate plugin build.
//!
//! The nested build has its own target dir: the outer cargo holds the lock
//! on the main one for as long as this script runs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Components shipped as Switchboard's own integrations: (package, file stem).
const FIRST_PARTY: &[(&str, &str)] = &[
    ("switchboard-semrush", "semrush"),
    ("switchboard-sharepoint", "sharepoint"),
    ("switchboard-zendesk", "zendesk"),
];

/// Components used only by the tests and benchmarks (hostile, deliberately
/// odd, or stamped out by the dozen).
const TEST_ONLY: &[(&str, &str)] = &[
    ("test-plugin-hostile", "hostile"),
    ("test-plugin-file-reader", "file-reader"),
    ("test-plugin-fleet", "fleet"),
    ("test-plugin-shapeshifter", "shapeshifter"),
    ("test-plugin-legacy", "legacy"),
];

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.join("../..");
    let out_dir = PathBuf::from(env("OUT_DIR"));
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .map(|t| t.join("wasm-plugins"))
        .unwrap_or_else(|| out_dir.join("wasm-plugins"));

    for watched in [
        "wit",
        "plugins/sdk",
        "plugins/semrush",
        "plugins/sharepoint",
        "plugins/zendesk",
        "tests/plugins",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let mut cargo = Command::new(env("CARGO"));
    cargo
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target_dir);
    for (package, _) in FIRST_PARTY.iter().chain(TEST_ONLY) {
        cargo.args(["-p", package]);
    }
    // Flags meant for the host build must not leak into the wasm one.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cargo.env_remove(var);
    }
    let status = cargo
        .status()
        .expect("could not run cargo for the plugin build");
    assert!(status.success(), "building the connector components failed");

    let built = target_dir.join("wasm32-wasip2/release");
    copy_components(&built, FIRST_PARTY, &out_dir.join("plugins"));
    copy_components(&built, TEST_ONLY, &out_dir.join("test-plugins"));
    println!(
        "cargo:rustc-env=SWITCHBOARD_BUILT_PLUGINS={}",
        out_dir.join("plugins").display()
    );
    println!(
        "cargo:rustc-env=SWITCHBOARD_BUILT_TEST_PLUGINS={}",
        out_dir.join("test-plugins").display()
    );
    println!(
        "cargo:rustc-env=SWITCHBOARD_WASM_TARGET_DIR={}",
        target_dir.display()
    );
    embed(FIRST_PARTY, &out_dir);
}

/// Writes `first_party.rs`: each first-party component's file name and
/// bytes, so the binary carries them wherever it is installed.
fn embed(components: &[(&str, &str)], out_dir: &Path) {
    let entries: String = components
        .iter()
        .map(|(_, stem)| {
            let path = out_dir.join("plugins").join(format!("{stem}.wasm"));
            format!(
                "    (\"{stem}.wasm\", include_bytes!({:?})),\n",
                path.display().to_string()
            )
        })
        .collect();
    std::fs::write(out_dir.join("first_party.rs"), format!("&[\n{entries}]"))
        .expect("could not write first_party.rs");
}

fn copy_components(built: &Path, components: &[(&str, &str)], dest: &Path) {
    std::fs::create_dir_all(dest).expect("could not create the components directory");
    for (package, stem) in components {
        let from = built.join(format!("{}.wasm", package.replace('-', "_")));
        let to = dest.join(format!("{stem}.wasm"));
        std::fs::copy(&from, &to)
            .unwrap_or_else(|e| panic!("copying {} to {}: {e}", from.display(), to.display()));
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set by cargo"))
}
