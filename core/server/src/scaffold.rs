//! `switchboard plugin new NAME`: a connector crate that builds as it is,
//! wherever it is written (its own workspace), from two templates.

use crate::cli::print;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const MANIFEST: &str = include_str!("../scaffold/Cargo.toml.tmpl");
const LIB: &str = include_str!("../scaffold/lib.rs.tmpl");

/// The SDK of the checkout this binary was built from.
const BUILT_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../plugins/sdk");

pub fn write(name: &str, dir: &Path, sdk: Option<PathBuf>) -> Result<ExitCode, String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(format!(
            "`{name}` cannot be a connector id: lowercase letters, digits and `-`, starting with a letter"
        ));
    }
    let sdk = sdk.unwrap_or_else(|| PathBuf::from(BUILT_SDK));
    let sdk = sdk.canonicalize().map_err(|e| {
        format!(
            "the SDK is not at {} ({e}); name it with --sdk PATH/plugins/sdk",
            sdk.display()
        )
    })?;
    let root = dir.join(name);
    if root.exists() {
        return Err(format!(
            "{} exists already; nothing was written",
            root.display()
        ));
    }
    let title: String = name
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ");
    let fill = |template: &str| {
        template
            .replace("{crate}", name)
            .replace("{id}", name)
            .replace("{title}", &title)
            .replace("{sdk}", &sdk.display().to_string())
    };
    let written = |e: std::io::Error| format!("cannot write {}: {e}", root.display());
    std::fs::create_dir_all(root.join("src")).map_err(written)?;
    std::fs::write(root.join("Cargo.toml"), fill(MANIFEST)).map_err(written)?;
    std::fs::write(root.join("src/lib.rs"), fill(LIB)).map_err(written)?;
    std::fs::write(root.join(".gitignore"), "/target\n").map_err(written)?;
    print(&format!("wrote {}: Cargo.toml, src/lib.rs", root.display()));
    print(&format!(
        "next: cd {} && cargo test && cargo build --release --target wasm32-wasip2",
        root.display()
    ));
    Ok(ExitCode::SUCCESS)
}
