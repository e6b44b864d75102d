//! The `switchboard` binary as a connector author uses it.

use std::process::Command;

fn switchboard(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .output()
        .expect("run switchboard");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn inspect_prints_the_semrush_manifest() {
    let component = switchboard_plugin_artifacts::plugins_dir().join("semrush.wasm");
    let (ok, stdout, stderr) = switchboard(&["plugin", "inspect", component.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let manifest: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(manifest["id"], "semrush");
    let modes: Vec<&str> = manifest["modes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mode"].as_str().unwrap())
        .collect();
    assert_eq!(modes, ["workspace", "user"]);
    let actions: Vec<&str> = manifest["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "keyword_overview",
            "related_keywords",
            "domain_organic_keywords"
        ]
    );
    for action in manifest["actions"].as_array().unwrap() {
        assert_eq!(action["input_schema"]["type"], "object", "{action}");
        assert_eq!(
            action["output_schema"]["required"],
            serde_json::json!(["rows"]),
            "{action}"
        );
    }
}

#[test]
fn check_reports_each_component_and_fails_on_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        switchboard_plugin_artifacts::plugins_dir().join("semrush.wasm"),
        dir.path().join("semrush.wasm"),
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.wasm"), b"\0asm garbage").unwrap();
    let (ok, stdout, _) = switchboard(&["plugin", "check", dir.path().to_str().unwrap()]);
    assert!(!ok);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "refused  {}: not a valid WebAssembly component",
            dir.path().join("broken.wasm").display()
        )),
        "{stdout}"
    );
    assert!(lines[1].starts_with("loaded   semrush 0.1.0"), "{stdout}");
    assert_eq!(lines[2], "1 loaded, 1 refused");
}

#[test]
fn inspect_of_a_missing_file_says_so() {
    let (ok, _, stderr) = switchboard(&["plugin", "inspect", "/nonexistent/x.wasm"]);
    assert!(!ok);
    assert!(
        stderr.starts_with("switchboard: /nonexistent/x.wasm: refused: cannot read it:"),
        "{stderr}"
    );
}
