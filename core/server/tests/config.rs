//! An operator configures `switchboard serve` for SharePoint: a config file
//! and the environment, `config check` before starting, and the service
//! that then sends members to sign in at the operator's own tenant.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const CLIENT_ID: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
const SECRET: &str = "Qx38Q~operator-client-secret";
const SECRET_ENV: &str = "SWITCHBOARD_OAUTH__SHAREPOINT__CLIENT_SECRET";
const PUBLIC_URL: &str = "https://switchboard.contoso.example";

fn policies() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies")
}

/// A config file in `dir`, as an operator writes it for SharePoint.
fn config_file(dir: &Path, extra: &str) -> std::path::PathBuf {
    let file = dir.join("switchboard.toml");
    std::fs::write(
        &file,
        format!(
            r#"
# Where state lives, relative to this file.
data = "state/switchboard.redb"
policies = "{}"
public_url = "{PUBLIC_URL}"
return_origins = ["https://app.contoso.example"]

[oauth.sharepoint]
client_id = "{CLIENT_ID}"
microsoft_tenant = "contoso.onmicrosoft.com"
{extra}
"#,
            policies()
        ),
    )
    .unwrap();
    file
}

fn switchboard(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("SWITCHBOARD_CONFIG")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_check_says_where_sign_ins_and_secrets_go_and_never_prints_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = config_file(dir.path(), "");
    // Pasted with a trailing space and line break.
    let pasted = format!("{SECRET} \n");
    let (ok, out, err) = switchboard(
        &["config", "check", "--config", file.to_str().unwrap()],
        &[(SECRET_ENV, &pasted)],
    );
    assert!(ok, "{out}{err}");
    for line in [
        format!(
            "oauth sharepoint: client {CLIENT_ID} (client_secret_post, secret from {SECRET_ENV}); redirect URI {PUBLIC_URL}/oauth/sharepoint/callback"
        ),
        "  authorize  https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize".into(),
        "  token      https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token".into(),
        format!("data {}", dir.path().join("state/switchboard.redb").display()),
        "the configuration is valid".into(),
    ] {
        assert!(out.contains(&line), "{line:?} not in\n{out}");
    }
    assert!(!out.contains(SECRET) && !err.contains(SECRET));

    // A secret of digits is a secret, not a number to quote in an error.
    let (ok, out, err) = switchboard(
        &["config", "check", "--config", file.to_str().unwrap()],
        &[(SECRET_ENV, "20261201")],
    );
    assert!(ok, "{out}{err}");
    assert!(!out.contains("20261201") && !err.contains("20261201"));
}

#[test]
fn config_check_names_every_fault_by_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = config_file(
        dir.path(),
        &format!(
            "client_secret = \"{SECRET}\"\n[oauth.semrush]\nclient_auth = \"client_secret_basic\"\nmicrosoft_tenant = \"../common\"\n"
        ),
    );
    let (ok, out, err) = switchboard(
        &["config", "check", "--config", file.to_str().unwrap()],
        &[],
    );
    assert!(!ok);
    for fault in [
        format!(
            "oauth.sharepoint.client_secret: a secret is not written in the config file; set {SECRET_ENV} or client_secret_file"
        ),
        "oauth.semrush.client_id: missing".into(),
        "oauth.semrush.client_secret: client_secret_basic needs the secret".into(),
        "oauth.semrush.microsoft_tenant: `../common` is not a Microsoft tenant".into(),
    ] {
        assert!(out.contains(&fault), "{fault:?} not in\n{out}");
    }
    assert!(!out.contains(SECRET) && !err.contains(SECRET));

    // `serve` refuses to start on the same file, saying the same.
    let (ok, _, err) = switchboard(&["serve", "--config", file.to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(err.contains("the configuration is invalid:"), "{err}");
    assert!(err.contains("oauth.semrush.client_id: missing"), "{err}");
    assert!(!err.contains(SECRET));
}

#[test]
fn the_operator_bounds_calls_at_once_and_the_answers_kept() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("switchboard.toml");
    let check = |written: &str, env: &[(&str, &str)]| {
        std::fs::write(&file, written).unwrap();
        let (ok, out, _) = switchboard(
            &["config", "check", "--config", file.to_str().unwrap()],
            env,
        );
        (ok, out)
    };
    let (ok, out) = check("", &[]);
    assert!(ok, "{out}");
    assert!(
        out.contains(
            "calls at once: 8 per member, 32 per workspace; recent answers kept: 4096 of each kind"
        ),
        "{out}"
    );
    let (ok, out) = check(
        "calls_per_member = 2\ncalls_per_workspace = 10\nkept_answers = 0\n",
        &[("SWITCHBOARD_CALLS_PER_WORKSPACE", "12")],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains(
            "calls at once: 2 per member, 12 per workspace; recent answers kept: 0 of each kind"
        ),
        "{out}"
    );
    let (ok, out) = check("calls_per_member = 40\nkept_answers = 5000000\n", &[]);
    assert!(!ok);
    for fault in [
        "calls_per_member: 40 is more than calls_per_workspace (32), so no member could run that many",
        "kept_answers: at most 100000 (0 keeps none)",
    ] {
        assert!(out.contains(fault), "{fault:?} not in\n{out}");
    }
    let (ok, out) = check("", &[("SWITCHBOARD_CALLS_PER_WORKSPACE", "0")]);
    assert!(!ok);
    assert!(
        out.contains("calls_per_workspace: must be at least 1"),
        "{out}"
    );
}

#[test]
fn the_environment_overrides_the_file_and_flags_override_both() {
    let dir = tempfile::tempdir().unwrap();
    let file = config_file(dir.path(), "");
    let file = file.to_str().unwrap();
    let env = [
        (SECRET_ENV, SECRET),
        ("SWITCHBOARD_LISTEN", "127.0.0.1:9001"),
    ];
    // The file named by SWITCHBOARD_CONFIG, as a container would.
    let with_file = [env[0], env[1], ("SWITCHBOARD_CONFIG", file)];
    let (_, out, _) = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["config", "check"])
        .envs(with_file)
        .output()
        .map(|o| {
            (
                o.status.success(),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                (),
            )
        })
        .unwrap();
    assert!(out.contains("listen 127.0.0.1:9001;"), "{out}");
    let (_, out, _) = switchboard(
        &[
            "config",
            "check",
            "--config",
            file,
            "--listen",
            "127.0.0.1:9002",
        ],
        &env,
    );
    assert!(out.contains("listen 127.0.0.1:9002;"), "{out}");
}

struct Service {
    child: Child,
    base: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[tokio::test]
async fn serve_with_a_config_file_sends_members_to_the_operators_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let file = config_file(dir.path(), "");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token = "host-service-token";
    let digest = hex::encode(Sha256::digest(token));
    // Started from another directory: the file's paths are its own.
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .current_dir(std::env::temp_dir())
        .args(["--log-format", "json", "serve", "--config"])
        .arg(&file)
        .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
        .env(SECRET_ENV, SECRET)
        .env("SWITCHBOARD_SERVICE_TOKENS_SHA256", digest)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line: Value = serde_json::from_str(&line.unwrap()).unwrap_or_default();
        if line["fields"]["message"] == "serving" {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    let s = Service {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    switchboard::net::install_crypto();
    let as_user = |path: &str, user: &str, role: &str| {
        reqwest::Client::new()
            .post(format!("{}{path}", s.base))
            .bearer_auth(token)
            .header("x-switchboard-user", user)
            .header("x-switchboard-role", role)
            .header("x-switchboard-plan", "business")
    };
    let enabled = as_user(
        "/v1/workspaces/acme/team-integrations/sharepoint/enable",
        "ada",
        "admin",
    )
    .json(&json!({"mode": "user"}))
    .send()
    .await
    .unwrap();
    assert_eq!(enabled.status(), 200);
    let started: Value = as_user(
        "/v1/workspaces/acme/integrations/sharepoint/connect",
        "bob",
        "member",
    )
    .json(&json!({"return_to": "https://app.contoso.example/integrations"}))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let authorize = url::Url::parse(started["sign_in"]["authorize_url"].as_str().unwrap()).unwrap();
    assert_eq!(
        authorize.as_str().split('?').next(),
        Some("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize")
    );
    let param = |name: &str| {
        authorize
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(
        param("redirect_uri"),
        Some(format!("{PUBLIC_URL}/oauth/sharepoint/callback"))
    );
    assert!(dir.path().join("state/switchboard.redb").is_file());
}

/// A forward proxy on loopback, as operators have in front of the
/// internet: it records each `CONNECT` and tunnels it to `upstream`.
async fn proxy(
    upstream: std::net::SocketAddr,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut client = tokio::io::BufReader::new(client);
                let mut request = String::new();
                loop {
                    let mut line = String::new();
                    if client.read_line(&mut line).await.unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    request.push_str(&line);
                }
                record
                    .lock()
                    .unwrap()
                    .push(request.lines().next().unwrap_or_default().to_owned());
                let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let mut client = client.into_inner();
                let _ = client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn behind_a_proxy_discovery_goes_through_it_and_inner_addresses_are_still_refused() {
    let microsoft = switchboard_mocks::microsoft::Microsoft::new();
    let mock = microsoft.start().await.unwrap();
    let (proxy, seen) = proxy(mock.addr).await;
    // The operator's machine trusts the proxy's world through its own CA
    // bundle; here, the mocks' authority.
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("ca.pem");
    std::fs::write(&bundle, switchboard_mocks::tls::ca().pem()).unwrap();
    let tenant = switchboard_mocks::microsoft::TENANT_ID;
    let file = dir.path().join("switchboard.toml");
    std::fs::write(
        &file,
        format!(
            r#"
public_url = "{PUBLIC_URL}"
[oauth.sharepoint]
client_id = "{CLIENT_ID}"
issuer = "https://login.microsoftonline.com/{tenant}/v2.0"
[oauth.inside]
client_id = "{CLIENT_ID}"
client_auth = "none"
issuer = "https://localhost/inside"
"#
        ),
    )
    .unwrap();
    let proxy_url = format!("http://{proxy}");
    let (bundle, file) = (
        bundle.to_str().unwrap().to_owned(),
        file.to_str().unwrap().to_owned(),
    );
    // By default every name must resolve here first: one that does not
    // (`.invalid` never does) is refused, and nothing goes to the proxy.
    let strict_file = dir.path().join("strict.toml");
    std::fs::write(
        &strict_file,
        format!(
            "public_url = \"{PUBLIC_URL}\"\n[oauth.sharepoint]\nclient_id = \"{CLIENT_ID}\"\nclient_auth = \"none\"\nissuer = \"https://idp.contoso.invalid\"\n"
        ),
    )
    .unwrap();
    let strict_proxy = proxy_url.clone();
    let (ok, out, _) = tokio::task::spawn_blocking(move || {
        switchboard(
            &["config", "check", "--config", strict_file.to_str().unwrap()],
            &[("HTTPS_PROXY", &strict_proxy), ("NO_PROXY", "")],
        )
    })
    .await
    .unwrap();
    assert!(!ok);
    assert!(
        out.contains("idp.contoso.invalid does not resolve here; behind a proxy"),
        "{out}"
    );
    assert!(seen.lock().unwrap().is_empty());
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        switchboard(
            &["config", "check", "--config", &file],
            &[
                (SECRET_ENV, SECRET),
                ("HTTPS_PROXY", &proxy_url),
                ("NO_PROXY", ""),
                // This machine resolves no public name: leave them to the proxy.
                ("SWITCHBOARD_PROXY_DNS", "proxy"),
                ("SSL_CERT_FILE", &bundle),
            ],
        )
    })
    .await
    .unwrap();
    assert!(!ok, "the inside issuer must fail");
    assert!(
        out.contains(&format!(
            "  token      https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
        )),
        "{out}{err}"
    );
    assert!(
        out.contains("OpenID discovery for https://localhost/inside failed: localhost resolves to a private address"),
        "{out}"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        ["CONNECT login.microsoftonline.com:443 HTTP/1.1"]
    );
    assert_eq!(microsoft.discoveries(), 1);
}
