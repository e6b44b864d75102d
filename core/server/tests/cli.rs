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

/// An author's mock of api.example.com, speaking plain HTTP on loopback:
/// `/me` for the key `acme-key`, `/greetings?name=`, each answer echoing
/// the key in `x-seen-key`; each request line and the `X-Api-Key` it
/// carried, as seen.
fn author_mock() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut lines = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                lines.push(line.trim_end().to_owned());
            }
            let target = lines
                .first()
                .and_then(|l| l.rsplit_once(' '))
                .map_or("", |(target, _)| target);
            let key = lines
                .iter()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("x-api-key: ")
                        .map(str::to_owned)
                })
                .unwrap_or_default();
            kept.lock().unwrap().push(format!("{target} {key}"));
            let (status, body) = match (target, key.as_str()) {
                (_, k) if k != "acme-key" => ("401 Unauthorized", "bad key".to_owned()),
                ("GET /me", _) => ("200 OK", r#"{"name":"Acme Test Account"}"#.to_owned()),
                (t, _) if t.starts_with("GET /greetings?name=") => {
                    let name = t.trim_start_matches("GET /greetings?name=");
                    ("200 OK", format!(r#"{{"message":"Hello, {name}"}}"#))
                }
                _ => ("404 Not Found", "no such page".to_owned()),
            };
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nx-seen-key: {key}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (addr, seen)
}

/// The `field` of each entry of a list in a manifest.
fn each<'a>(list: &'a serde_json::Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|entry| entry[field].as_str().unwrap())
        .collect()
}

#[test]
fn inspect_prints_the_semrush_manifest() {
    let component = switchboard_plugin_artifacts::plugins_dir().join("semrush.wasm");
    let (ok, stdout, stderr) = switchboard(&["plugin", "inspect", component.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let manifest: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(manifest["id"], "semrush");
    let modes = each(&manifest["modes"], "mode");
    assert_eq!(modes, ["workspace", "user"]);
    let actions = each(&manifest["actions"], "name");
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

fn repo_policies() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies").to_owned()
}

#[test]
fn policy_test_runs_every_case_and_ends_with_the_summary() {
    let (ok, stdout, stderr) = switchboard(&["policy", "test", &repo_policies()]);
    assert!(ok, "{stdout}{stderr}");
    let last = stdout.lines().last().unwrap();
    let passed: usize = last
        .strip_suffix(" passed, 0 failed")
        .expect(last)
        .parse()
        .unwrap();
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("pass  ")).count(),
        passed
    );
}

#[test]
fn policy_validate_prints_each_fault_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["schema.cedarschema", "team.cedar"] {
        std::fs::copy(format!("{}/{file}", repo_policies()), dir.path().join(file)).unwrap();
    }
    std::fs::write(
        dir.path().join("bad.cedar"),
        "@id(\"bad\")\npermit (principal, action, resource)\nwhen { resource.nope };\n",
    )
    .unwrap();
    let (ok, stdout, _) = switchboard(&["policy", "validate", dir.path().to_str().unwrap()]);
    assert!(!ok);
    let bad = dir.path().join("bad.cedar");
    assert!(
        stdout.starts_with(&format!("{}:3:", bad.display())),
        "{stdout}"
    );
    assert!(
        stdout.trim_end().ends_with("the policies were refused"),
        "{stdout}"
    );
}

#[test]
fn policy_explain_names_the_deciding_policy_and_its_reason() {
    let cases: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}/tests/privacy.json", repo_policies())).unwrap(),
    )
    .unwrap();
    let case = cases
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["name"]
                .as_str()
                .unwrap()
                .starts_with("R5: an admin cannot see")
        })
        .unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        serde_json::json!({"request": case["request"], "entities": case["entities"]}).to_string(),
    )
    .unwrap();
    let (ok, stdout, stderr) = switchboard(&[
        "policy",
        "explain",
        file.path().to_str().unwrap(),
        "--dir",
        &repo_policies(),
    ]);
    assert!(ok, "{stderr}");
    let explanation: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        explanation,
        serde_json::json!({"decision": "deny", "policies": ["connections-are-private"],
                           "reasons": ["Only its owner can see or change a personal connection"], "errors": []})
    );
}

#[tokio::test]
async fn audit_verify_names_the_first_tampered_record() {
    use switchboard::model::{Actor, IntegrationId, Mode, Role, UserId, WorkspaceId};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("switchboard.redb");
    {
        let config = switchboard::EngineConfig::new(
            &data,
            switchboard_plugin_artifacts::plugins_dir(),
            repo_policies(),
        );
        let engine = switchboard::Engine::open(config).await.unwrap();
        let admin = Actor {
            user: UserId::new("alice"),
            workspace: WorkspaceId::new("acme"),
            role: Role::Admin,
            plan: "business".into(),
        };
        let semrush = IntegrationId::new("semrush");
        engine.enable(&admin, &semrush, Mode::Workspace).unwrap();
        engine.disable(&admin, &semrush).unwrap();
        engine.enable(&admin, &semrush, Mode::User).unwrap();
    }
    let data_arg = data.to_str().unwrap();
    let (ok, stdout, stderr) = switchboard(&["audit", "verify", "--data", data_arg]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "acme: 3 record(s) verified");

    // Someone rewrites history: the second record now says "enable".
    {
        use redb::{ReadableDatabase, TableDefinition};
        const AUDIT: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("audit");
        let db = redb::Database::open(&data).unwrap();
        let mut record: serde_json::Value = {
            let tx = db.begin_read().unwrap();
            serde_json::from_slice(
                tx.open_table(AUDIT)
                    .unwrap()
                    .get(("acme", 2))
                    .unwrap()
                    .unwrap()
                    .value(),
            )
            .unwrap()
        };
        record["value"]["operation"] = "enable".into();
        let tx = db.begin_write().unwrap();
        tx.open_table(AUDIT)
            .unwrap()
            .insert(("acme", 2), serde_json::to_vec(&record).unwrap().as_slice())
            .unwrap();
        tx.commit().unwrap();
    }
    let (ok, stdout, _) = switchboard(&["audit", "verify", "--data", data_arg]);
    assert!(!ok);
    assert_eq!(
        stdout.trim(),
        "workspace `acme`: the audit chain breaks at record 2: its content does not match its hash"
    );
    let (_, tail, _) = switchboard(&["audit", "tail", "acme", "--data", data_arg, "-n", "1"]);
    assert!(
        tail.contains("\"operation\":\"enable\"") && tail.contains("\"seq\":3"),
        "{tail}"
    );
}

#[tokio::test]
async fn export_and_import_move_the_state_to_a_new_file_and_verify_its_chains() {
    use switchboard::model::{Actor, IntegrationId, Mode, Role, UserId, WorkspaceId};
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    {
        let config = switchboard::EngineConfig::new(
            dir.path().join("from.redb"),
            switchboard_plugin_artifacts::plugins_dir(),
            repo_policies(),
        );
        let engine = switchboard::Engine::open(config).await.unwrap();
        for workspace in ["acme", "globex"] {
            let admin = Actor {
                user: UserId::new("alice"),
                workspace: WorkspaceId::new(workspace),
                role: Role::Admin,
                plan: "business".into(),
            };
            engine
                .enable(&admin, &IntegrationId::new("semrush"), Mode::User)
                .unwrap();
        }
    }
    let (ok, _, told) = switchboard(&[
        "export",
        "--data",
        &path("from.redb"),
        "--to",
        &path("dump"),
    ]);
    assert!(ok, "{told}");
    assert!(
        told.contains("exported 2 workspace(s): 2 enablement(s)"),
        "{told}"
    );

    // A damaged export is refused whole, naming the line; nothing is written.
    let dump = std::fs::read_to_string(path("dump")).unwrap();
    std::fs::write(
        path("damaged"),
        format!("{dump}{{\"table\":\"enablement\"\n"),
    )
    .unwrap();
    let (ok, _, refused) = switchboard(&[
        "import",
        "--data",
        &path("to.redb"),
        "--from",
        &path("damaged"),
    ]);
    assert!(!ok);
    assert!(refused.contains("line 6: "), "{refused}");
    let (ok, imported, told) = switchboard(&[
        "import",
        "--data",
        &path("to.redb"),
        "--from",
        &path("dump"),
    ]);
    assert!(ok, "{told}");
    assert_eq!(
        imported.lines().collect::<Vec<_>>(),
        [
            "imported 2 workspace(s): 2 enablement(s), 0 shared credential(s), 0 connection(s), 2 audit record(s), 0 usage counter(s), 0 credit limit(s)",
            "acme: 1 record(s) verified",
            "globex: 1 record(s) verified",
        ]
    );
    let (ok, _, refused) = switchboard(&[
        "import",
        "--data",
        &path("to.redb"),
        "--from",
        &path("dump"),
    ]);
    assert!(!ok);
    assert!(
        refused.contains("the target already holds 2 workspace(s)"),
        "{refused}"
    );
    let (ok, migrated, _) = switchboard(&["migrate", "--data", &path("to.redb")]);
    assert!(ok);
    assert!(
        migrated.ends_with("to.redb is ready for this release\n"),
        "{migrated}"
    );
}

#[test]
fn keys_list_rotate_and_retire_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("switchboard.redb");
    switchboard::store::Store::open(&data).unwrap();
    let data_arg = data.to_str().unwrap();
    let (_, listed, _) = switchboard(&["keys", "list", "--data", data_arg]);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    let old = listed.split_whitespace().next().unwrap().to_owned();
    let (ok, rotated, stderr) = switchboard(&["keys", "rotate", "--data", data_arg]);
    assert!(ok, "{stderr}");
    assert!(rotated.ends_with("0 secret(s) re-sealed\n"), "{rotated}");
    let (ok, retired, stderr) = switchboard(&["keys", "retire", &old, "--data", data_arg]);
    assert!(ok, "{stderr}");
    assert_eq!(retired.trim(), format!("key {old} retired"));
    let (_, listed, _) = switchboard(&["keys", "list", "--data", data_arg]);
    assert_eq!(listed.lines().count(), 1);
    assert!(!listed.contains(&old));
}

#[test]
fn a_publisher_signs_a_component_and_an_operator_pins_and_checks_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    std::fs::copy(
        switchboard_plugin_artifacts::plugins_dir().join("semrush.wasm"),
        path("semrush.wasm"),
    )
    .unwrap();

    let (ok, pin, stderr) = switchboard(&["plugin", "keygen", &path("publisher.key")]);
    assert!(ok, "{stderr}");
    let pin = pin.trim().to_owned();
    assert!(pin.starts_with("ed25519:"), "{pin}");
    // A key is never overwritten.
    let (ok, _, stderr) = switchboard(&["plugin", "keygen", &path("publisher.key")]);
    assert!(!ok && stderr.contains("File exists"), "{stderr}");

    let (ok, stdout, stderr) = switchboard(&[
        "plugin",
        "sign",
        "--key",
        &path("publisher.key"),
        &path("semrush.wasm"),
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains(&format!("as {pin}")), "{stdout}");
    assert!(std::path::Path::new(&path("semrush.wasm.sig")).exists());

    let (ok, stdout, _) = switchboard(&["plugin", "verify", "--pin", &pin, &path("semrush.wasm")]);
    assert!(ok, "{stdout}");
    let pinned = format!("semrush={pin}");
    let (ok, stdout, _) = switchboard(&["plugin", "check", &path(""), "--pin", &pinned]);
    assert!(ok, "{stdout}");
    assert!(stdout.contains("loaded   semrush"), "{stdout}");

    // One byte changed after signing: refused, and check fails.
    let mut bytes = std::fs::read(path("semrush.wasm")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(path("semrush.wasm"), bytes).unwrap();
    let (ok, stdout, _) = switchboard(&["plugin", "verify", "--pin", &pin, &path("semrush.wasm")]);
    assert!(!ok);
    assert!(
        stdout.contains("its signature does not verify with the pinned publisher key"),
        "{stdout}"
    );
    let (ok, _, stderr) = switchboard(&["plugin", "check", &path(""), "--pin", "semrush=md5:00"]);
    assert!(!ok && stderr.contains("`md5:00` is not a pin"), "{stderr}");
}

#[test]
fn a_new_connector_builds_as_it_is_outside_the_repository_and_loads() {
    // A directory outside the checkout, as an author's would be.
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().to_str().unwrap();
    let (ok, stdout, stderr) = switchboard(&["plugin", "new", "acme-widgets", "--dir", dir]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("wrote "), "{stdout}");
    let root = home.path().join("acme-widgets");
    // The workspace's lock, so the build needs nothing new from the
    // registry; the components' target directory, so it compiles only the
    // new crate.
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"),
        root.join("Cargo.lock"),
    )
    .unwrap();
    let built = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .env(
            "CARGO_TARGET_DIR",
            switchboard_plugin_artifacts::wasm_target_dir(),
        )
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let component = switchboard_plugin_artifacts::wasm_target_dir()
        .join("wasm32-wasip2/release/acme_widgets.wasm");
    let plugins = home.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(&component, plugins.join("acme-widgets.wasm")).unwrap();
    let (ok, stdout, stderr) = switchboard(&["plugin", "check", plugins.to_str().unwrap()]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("loaded   acme-widgets 0.1.0"), "{stdout}");
    let (ok, stdout, stderr) = switchboard(&["plugin", "inspect", component.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let manifest: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(manifest["name"], "Acme Widgets");
    assert_eq!(each(&manifest["actions"], "name"), ["greet"]);

    // Its action and its credential check, run against the author's own
    // plain-HTTP mock of api.example.com, the key from the environment.
    let (mock, seen) = author_mock();
    let route = format!("api.example.com={mock}");
    let run = |args: &[&str], key: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["plugin", "run", component.to_str().unwrap()])
            .args(args)
            .args(["--key-env", "ACME_KEY", "--route", &route])
            .env("ACME_KEY", key)
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    };
    let (ok, stdout, stderr) = run(&["greet", "--input", r#"{"name": "Ada"}"#], "acme-key \n");
    assert!(ok, "{stderr}");
    let answer: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(answer["message"], "Hello, Ada");
    let (ok, stdout, _) = run(&["check"], "acme-key");
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["label"],
        "Acme Test Account"
    );
    let (ok, _, stderr) = run(&["check"], "wrong-key");
    assert!(!ok);
    assert!(stderr.contains("the key was refused: bad key"), "{stderr}");
    let (ok, _, stderr) = run(&["greet", "--input", r#"{"name": ""}"#], "acme-key");
    assert!(!ok && stderr.contains("/name"), "{stderr}");
    // Recorded once through the mock, then replayed with neither the mock
    // nor the key; the cassette never holds the key it echoed.
    let cassette = home.path().join("greet.json");
    let input = r#"{"name": "Ada"}"#;
    let (ok, _, stderr) = run(
        &[
            "greet",
            "--input",
            input,
            "--record",
            cassette.to_str().unwrap(),
        ],
        "acme-key",
    );
    assert!(ok, "{stderr}");
    let kept = std::fs::read_to_string(&cassette).unwrap();
    assert!(
        kept.contains("Hello, Ada") && kept.contains("[redacted]"),
        "{kept}"
    );
    assert!(!kept.contains("acme-key"), "{kept}");
    let (ok, stdout, stderr) = switchboard(&[
        "plugin",
        "run",
        component.to_str().unwrap(),
        "greet",
        "--input",
        input,
        "--replay",
        cassette.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["message"],
        "Hello, Ada"
    );
    let (ok, _, stderr) = switchboard(&[
        "plugin",
        "run",
        component.to_str().unwrap(),
        "greet",
        "--input",
        r#"{"name": "Bob"}"#,
        "--replay",
        cassette.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        stderr.contains(
            "the cassette has no (further) answer to GET https://api.example.com/greetings?name=Bob"
        ),
        "{stderr}"
    );
    // The key went in the header the manifest names, trimmed.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "GET /greetings?name=Ada acme-key",
            "GET /me acme-key",
            "GET /me wrong-key",
            "GET /greetings?name=Ada acme-key"
        ]
    );

    // Again in the same place: refused, nothing overwritten.
    let (ok, _, stderr) = switchboard(&["plugin", "new", "acme-widgets", "--dir", dir]);
    assert!(!ok);
    assert!(
        stderr.contains("exists already; nothing was written"),
        "{stderr}"
    );
    let (ok, _, stderr) = switchboard(&["plugin", "new", "Acme Widgets", "--dir", dir]);
    assert!(!ok);
    assert!(stderr.contains("cannot be a connector id"), "{stderr}");
}
