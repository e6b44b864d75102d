//! Lists the shipped policy files for `src/embedded.rs`, so the binary
//! carries `policies/` wherever it is installed and a new policy file is
//! picked up without editing a list.

use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let policies = manifest_dir.join("../../policies");
    println!("cargo:rerun-if-changed={}", policies.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&policies)
        .expect("policies/ is readable")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| is_policy_file(path))
        .collect();
    files.sort();
    let entries: String = files
        .iter()
        .map(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("a UTF-8 name");
            let path = path.canonicalize().expect("a listed file exists");
            format!(
                "    ({name:?}, include_str!({:?})),\n",
                path.display().to_string()
            )
        })
        .collect();
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    std::fs::write(out.join("policies.rs"), format!("&[\n{entries}]"))
        .expect("could not write policies.rs");
}

fn is_policy_file(path: &Path) -> bool {
    path.is_file()
        && matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("cedar" | "cedarschema")
        )
}
