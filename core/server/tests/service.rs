//! `switchboard serve --demo` as a host application sees it: the real
//! binary on a free loopback port, driven over HTTP.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Service {
    child: Child,
    base: String,
    http: reqwest::Client,
    openapi: Value,
    _dir: tempfile::TempDir,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start() -> Service {
    start_with(&[]).await
}

async fn start_with(extra: &[&str]) -> Service {
    start_configured(extra, &[]).await
}

/// The demo with `extra` flags and `env`ironment (configuration keys).
async fn start_configured(extra: &[&str], env: &[(&str, &str)]) -> Service {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "--log-format",
            "json",
            "serve",
            "--demo",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(extra)
        .env("SWITCHBOARD_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .envs(env.iter().copied())
        .args(["--data", dir.path().join("demo.redb").to_str().unwrap()])
        .args([
            "--policies",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The log says where the Microsoft mock listens, which authority issued
    // its certificates, and when serving starts.
    let mut microsoft = None;
    let mut ca = None;
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line: Value = serde_json::from_str(&line.unwrap()).unwrap_or_default();
        let message = line["fields"]["message"].as_str().unwrap_or_default();
        if message.starts_with("Microsoft mock serving") {
            microsoft = line["fields"]["addr"].as_str().map(str::to_owned);
        }
        if let Some(file) = line["fields"]["ca"].as_str() {
            ca = Some(std::fs::read(file).unwrap());
        }
        if message == "serving" {
            break;
        }
    }
    // Keep reading the log, so the service never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let base = format!("http://127.0.0.1:{port}");
    switchboard::net::install_crypto();
    // A person's browser: it finds the Microsoft mock by its real names and
    // trusts the demo's authority, as the demo's log tells.
    let microsoft: std::net::SocketAddr = microsoft.unwrap().parse().unwrap();
    let mut browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    for host in switchboard_mocks::microsoft::HOSTS {
        browser = browser.resolve(host, microsoft);
    }
    let http = browser
        .tls_certs_merge([reqwest::Certificate::from_pem(&ca.unwrap()).unwrap()])
        .build()
        .unwrap();
    let openapi = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Service {
        child,
        base,
        http,
        openapi,
        _dir: dir,
    }
}

impl Service {
    fn as_user(
        &self,
        method: reqwest::Method,
        path: &str,
        user: &str,
        role: &str,
    ) -> reqwest::RequestBuilder {
        self.as_user_on(&self.http, method, path, user, role)
    }

    /// `as_user`, sent through `http` (say, on a connection of its own).
    fn as_user_on(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        user: &str,
        role: &str,
    ) -> reqwest::RequestBuilder {
        http.request(method, format!("{}{path}", self.base))
            .bearer_auth("demo-token")
            .header("X-Switchboard-User", user)
            .header("X-Switchboard-Role", role)
            .header("X-Switchboard-Plan", "business")
    }

    /// `user` (as `role`) opens the demo workspace's Team Integrations page;
    /// the answer has `status` and is as documented.
    async fn team_page(&self, user: &str, role: &str, status: u16) -> Value {
        let page = "/v1/workspaces/demo/team-integrations";
        self.expect(
            self.as_user(reqwest::Method::GET, page, user, role),
            status,
            TEAM,
        )
        .await
    }

    /// `user`, a member, runs `integration`'s `action` in the demo workspace
    /// with `input`; it succeeds and the answer is as documented.
    async fn run(&self, integration: &str, action: &str, user: &str, input: Value) -> Value {
        let path = format!("/v1/workspaces/demo/integrations/{integration}/actions/{action}");
        let request = self.as_user(reqwest::Method::POST, &path, user, "member");
        self.expect(request.json(&input), 200, INVOKE).await
    }

    /// The host GETs `path`, with `token` as its service token if any.
    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// `user` (as `role`) disables `integration` in the demo workspace;
    /// the response is the caller's to check.
    async fn disable(&self, integration: &str, user: &str, role: &str) -> reqwest::Response {
        let path = format!("/v1/workspaces/demo/team-integrations/{integration}/disable");
        let request = self.as_user(reqwest::Method::POST, &path, user, role);
        request.send().await.unwrap()
    }

    /// Sends, checks the status, and checks the body against the documented schema.
    async fn expect(
        &self,
        request: reqwest::RequestBuilder,
        status: u16,
        documented: (&str, &str),
    ) -> Value {
        let response = request.send().await.unwrap();
        let got = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(got, status, "{body}");
        self.conforms(documented, status, &body);
        body
    }

    /// Checks a body against the schema documented for that status (or the
    /// problem schema for any other).
    fn conforms(&self, (method, path): (&str, &str), status: u16, body: &Value) {
        let op = &self.openapi["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        let schema =
            match op["responses"][status.to_string()]["content"]["application/json"]["schema"]
                .clone()
            {
                Value::Null => {
                    op["responses"]["default"]["content"]["application/problem+json"]["schema"]
                        .clone()
                }
                schema => schema,
            };
        let root = json!({"allOf": [schema], "components": self.openapi["components"].clone()});
        let validator = jsonschema::validator_for(&root).unwrap();
        let faults: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} {e}", e.instance_path()))
            .collect();
        assert!(
            faults.is_empty(),
            "{method} {path} {status}: {faults:?} in {body}"
        );
    }
}

/// The `detail` of a problem answer.
fn detail(problem: &Value) -> &str {
    problem["detail"].as_str().unwrap()
}

/// The entry of a listed array whose `key` is `value`.
fn entry<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e[key] == value)
        .unwrap()
}

const WEBHOOK_SECRET: &str = "whsec-test-5f4e3d2c1b0a";

const TEAM: (&str, &str) = ("get", "/v1/workspaces/{workspace}/team-integrations");
const INVOKE: (&str, &str) = (
    "post",
    "/v1/workspaces/{workspace}/integrations/{integration}/actions/{action}",
);
const CREDENTIAL: (&str, &str) = (
    "put",
    "/v1/workspaces/{workspace}/team-integrations/{integration}/credential",
);
const ENABLE: (&str, &str) = (
    "post",
    "/v1/workspaces/{workspace}/team-integrations/{integration}/enable",
);

#[tokio::test]
async fn the_demo_walks_the_help_article_over_http() {
    let s = start().await;
    use reqwest::Method as M;

    // Without the service token nothing is touched.
    let anonymous = s.get("/v1/workspaces/demo/team-integrations", None).await;
    assert_eq!(anonymous.status(), 401);
    let forged = s.get("/v1/integrations", Some("nope")).await;
    assert_eq!(forged.status(), 401);

    // A member is refused the Team Integrations page, with the policy's reason.
    let denied = s.team_page("bob", "member", 403).await;
    assert_eq!(
        denied["detail"],
        "Only Admins and Developers can manage team integrations"
    );
    assert_eq!(denied["policies"], json!(["team-needs-admin-or-developer"]));

    // Scenario 1: Semrush with a shared key, every member uses it.
    let team = s.team_page("ada", "admin", 200).await;
    let semrush = entry(&team["integrations"], "id", "semrush");
    assert_eq!(semrush["enabled"]["mode"], "workspace");
    assert_eq!(
        semrush["credential"]["account"]["detail"],
        "10,000 API units left"
    );
    let rows = s
        .run(
            "semrush",
            "keyword_overview",
            "carol",
            json!({"phrase": "seo"}),
        )
        .await;
    assert_eq!(rows["rows"][0]["search_volume"], 110000);
    let usage = s
        .expect(
            s.as_user(
                M::GET,
                "/v1/workspaces/demo/usage?from_ms=0&to_ms=99999999999999",
                "dev",
                "developer",
            ),
            200,
            ("get", "/v1/workspaces/{workspace}/usage"),
        )
        .await;
    let semrush_usage = entry(&usage["integrations"], "integration", "semrush");
    assert_eq!(
        semrush_usage["members"],
        json!([{"user": "carol", "calls": 1, "credits": 1}])
    );

    // The admin pastes the shared key with the line break it was copied
    // with: it is saved trimmed, and they are told; a tab inside refuses it.
    let credential = "/v1/workspaces/demo/team-integrations/semrush/credential";
    let paste = |key: &str| {
        s.as_user(M::PUT, credential, "ada", "admin")
            .json(&json!({ "secret": key }))
    };
    let saved = s.expect(paste("demo-semrush-key\n"), 200, CREDENTIAL).await;
    assert_eq!(
        saved["notice"],
        "The spaces or line breaks around the key you pasted were removed."
    );
    assert!(
        saved["detail"]
            .as_str()
            .unwrap()
            .ends_with("API units left")
    );
    let refused = s.expect(paste("demo-semrush\tkey"), 422, CREDENTIAL).await;
    assert_eq!(
        detail(&refused),
        "the key contains a line break, tab or other control character; paste it as a single line"
    );

    // Bad input: clear errors, nothing changes.
    let path = "/v1/workspaces/demo/team-integrations/semrush/enable";
    let ada_enables = || s.as_user(M::POST, path, "ada", "admin");
    let malformed = ada_enables()
        .header("content-type", "application/json")
        .body("{\"mode\":");
    let malformed = s.expect(malformed, 400, ENABLE).await;
    assert!(
        detail(&malformed).contains("Failed to parse"),
        "{malformed}"
    );
    let unknown = ada_enables().json(&json!({"mode": "user", "force": true}));
    let unknown = s.expect(unknown, 400, ENABLE).await;
    assert!(
        detail(&unknown).contains("unknown field `force`"),
        "{unknown}"
    );
    // On its own connection: the service answers before reading the body and closes it.
    let huge = s
        .as_user_on(&reqwest::Client::new(), M::POST, path, "ada", "admin")
        .header("content-type", "application/json")
        .body(vec![b' '; 2 << 20])
        .send()
        .await;
    assert_eq!(huge.unwrap().status(), 413);
    let team = s.team_page("ada", "admin", 200).await;
    assert_eq!(
        entry(&team["integrations"], "id", "semrush")["enabled"]["mode"],
        "workspace"
    );

    // Scenario 2: a member connects SharePoint through the sign-in flow.
    let connect = (
        "post",
        "/v1/workspaces/{workspace}/integrations/{integration}/connect",
    );
    let started = s
        .expect(
            s.as_user(
                M::POST,
                "/v1/workspaces/demo/integrations/sharepoint/connect",
                "bob",
                "member",
            )
            .json(&json!({})),
            200,
            connect,
        )
        .await;
    // Bob's browser opens the sign-in link, which keeps a key in a cookie
    // and sends it to Microsoft; Microsoft sends it back to the public
    // callback, which it calls with that cookie and no token of its own.
    let link = started["sign_in"]["start_url"].as_str().unwrap();
    assert!(link.starts_with(&format!("{}/oauth/sharepoint/start?state=", s.base)));
    let opened = s.http.get(link).send().await.unwrap();
    assert_eq!(opened.status(), 303);
    let cookie = opened.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("; HttpOnly; Secure; SameSite=Lax; Max-Age=") && !cookie.contains("Path"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_owned();
    // The demo sends browsers to the mock's own sign-in page on loopback,
    // which asks before it consents.
    let authorize = opened.headers()["location"].to_str().unwrap();
    let on_page = authorize
        .strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.split_once('/'))
        .map(|(_, path)| path);
    assert!(
        on_page.is_some_and(|path| path.starts_with("common/oauth2/v2.0/authorize?")),
        "{authorize}"
    );
    let asked = s.http.get(authorize).send().await.unwrap();
    assert_eq!(asked.status(), 200);
    let asked = asked.text().await.unwrap();
    assert!(
        asked.contains("Permissions requested") && asked.contains("Adele Vance"),
        "{asked}"
    );
    let redirect = s
        .http
        .get(format!("{authorize}&consent=accept"))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 302);
    let callback = redirect.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        callback.starts_with(&format!("{}/oauth/sharepoint/callback?", s.base)),
        "{callback}"
    );
    // Bob's browser at the callback, with the sign-in's cookie.
    let back = || s.http.get(&callback).header("cookie", &cookie).send();
    let landed = back().await.unwrap();
    assert_eq!(landed.status(), 200);
    assert_eq!(landed.headers()["cache-control"], "no-store");
    assert_eq!(landed.headers()["referrer-policy"], "no-referrer");
    let page = landed.text().await.unwrap();
    assert!(
        page.contains("Connected to sharepoint as Adele Vance."),
        "{page}"
    );
    let bobs: Value = s
        .as_user(M::GET, "/v1/workspaces/demo/integrations", "bob", "member")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let connection = &entry(&bobs["user_integrations"], "id", "sharepoint")["connection"];
    assert_eq!(
        (
            connection["account"]["label"].as_str(),
            connection["status"].as_str()
        ),
        (Some("Adele Vance"), Some("connected"))
    );
    let doc = s
        .run(
            "sharepoint",
            "search",
            "bob",
            json!({"query": "brand voice"}),
        )
        .await;
    assert_eq!(
        doc["hits"][0]["document"]["name"],
        "Brand voice guidelines.txt"
    );
    // The same answer again (a reload, a replay) is refused, and says so.
    let replay = back().await.unwrap();
    assert_eq!(replay.status(), 400);
    let page = replay.text().await.unwrap();
    assert!(
        page.contains(
            "the sign-in was refused: this sign-in is unknown or was already used; start again"
        ),
        "{page}"
    );

    // Operators see what happened, by route, policy and plugin.
    let metrics = s
        .get("/metrics", Some("demo-token"))
        .await
        .text()
        .await
        .unwrap();
    for line in [
        "switchboard_decisions_total{action=\"viewTeamIntegrations\",outcome=\"deny\",policy=\"team-needs-admin-or-developer\"} 1",
        "switchboard_plugin_calls_total{integration=\"semrush\",outcome=\"ok\"} 1",
        "switchboard_http_requests_total{method=\"GET\",route=\"/v1/workspaces/{workspace}/team-integrations\",status=\"403\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} not in {metrics}");
    }
    assert!(
        metrics.contains("switchboard_plugin_call_seconds_bucket{le="),
        "{metrics}"
    );
    // And where the calls' time went, phase by phase.
    for phase in [
        "store",
        "decide",
        "unseal",
        "checks",
        "instantiate",
        "guest",
        "host_http",
    ] {
        let count = format!("switchboard_call_phase_seconds_count{{phase=\"{phase}\"}} ");
        let calls: u64 = metrics
            .lines()
            .find_map(|line| line.strip_prefix(&count)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{count} not in {metrics}"));
        assert!(calls >= 1, "{phase}: {calls} calls");
    }

    // Every documented operation is routed (no 404 or 405 from the router).
    for (path, item) in s.openapi["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if path == "/v1/events" {
                continue;
            }
            let concrete = path
                .replace("{workspace}", "demo")
                .replace("{integration}", "semrush")
                .replace("{action}", "keyword_overview")
                .replace("{connection}", "conn_none");
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = s
                .as_user(method.clone(), &concrete, "ada", "admin")
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let json_body = response
                .headers()
                .get("content-type")
                .is_some_and(|t| t.to_str().unwrap_or_default().contains("json"));
            let body = response.text().await.unwrap_or_default();
            assert!(
                status != 405 && !(status == 404 && body.is_empty()),
                "{method} {concrete} is not routed: {status}"
            );
            // Whatever it answered, the answer is what the document says.
            if json_body {
                let method = method.as_str().to_lowercase();
                s.conforms(
                    (&method, path),
                    status,
                    &serde_json::from_str(&body).unwrap(),
                );
            }
        }
    }
}

#[tokio::test]
async fn a_disabled_integration_reaches_the_host_as_a_signed_webhook_retried_after_a_500() {
    use hmac::{Hmac, Mac};
    use std::sync::{Arc, Mutex};
    type Seen = Arc<Mutex<Vec<(u16, axum::http::HeaderMap, Vec<u8>)>>>;
    let seen: Seen = Arc::default();
    let receiver = {
        let seen = seen.clone();
        axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let seen = seen.clone();
                    async move {
                        let mut seen = seen.lock().unwrap();
                        // The first delivery fails; the retry is accepted.
                        let status = if seen.is_empty() { 500 } else { 204 };
                        seen.push((status, headers, body.to_vec()));
                        axum::http::StatusCode::from_u16(status).unwrap()
                    }
                },
            ),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let s = start_with(&["--webhook", &hook]).await;
    let disabled = s.disable("semrush", "ada", "admin").await;
    assert_eq!(disabled.status(), 204);
    for _ in 0..100 {
        if seen.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "one failed delivery and one retry");
    let (first, retry) = (&seen[0], &seen[1]);
    assert_eq!((first.0, retry.0), (500, 204));
    assert_eq!(
        first.1["x-switchboard-delivery"],
        retry.1["x-switchboard-delivery"]
    );
    assert_eq!(first.2, retry.2);
    let event: Value = serde_json::from_slice(&retry.2).unwrap();
    assert_eq!(
        (
            event["kind"].as_str(),
            event["integration"].as_str(),
            event["workspace"].as_str()
        ),
        (Some("integration_disabled"), Some("semrush"), Some("demo"))
    );
    assert_eq!(retry.1["x-switchboard-event"], "integration_disabled");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(&retry.2);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(retry.1["x-switchboard-signature"], expected.as_str());
}

#[tokio::test]
async fn events_stream_to_the_host_and_policies_reload_from_the_command_line() {
    let s = start().await;
    let mut stream = s.get("/v1/events", Some("demo-token")).await;
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let disabled = s.disable("sharepoint", "dev", "developer").await;
    assert_eq!(disabled.status(), 204);
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), stream.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        text.starts_with("event: integration_disabled\ndata: {"),
        "{text}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "policy",
            "reload",
            "--url",
            &s.base,
            "--token",
            "demo-token",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "13 policies in force"
    );
    let refused = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["policy", "reload", "--url", &s.base, "--token", "wrong"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert_eq!(
        String::from_utf8_lossy(&refused.stdout).trim(),
        "a valid service or session token is required (Authorization: Bearer ...)"
    );
}

/// The next server-sent event of `stream`, as text, within five seconds.
async fn next_event(stream: &mut reqwest::Response) -> String {
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.chunk())
            .await
            .expect("an event within five seconds")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

impl Service {
    /// The host opens a browser session with `body`; the answer's status
    /// and body, checked against the document.
    async fn open_session(&self, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/v1/sessions", self.base))
            .bearer_auth("demo-token")
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        self.conforms(("post", "/v1/sessions"), status, &body);
        (status, body)
    }

    /// A session token for `user` as `role` in `workspace` (business plan).
    async fn session(&self, workspace: &str, user: &str, role: &str) -> String {
        let (status, opened) = self
            .open_session(
                json!({"workspace": workspace, "user": user, "role": role, "plan": "business"}),
            )
            .await;
        assert_eq!(status, 201, "{opened}");
        opened["token"].as_str().unwrap().to_owned()
    }

    /// `method` on `path` with a session `token` is refused with `status`
    /// and `detail`.
    async fn refuses(
        &self,
        (method, path): (reqwest::Method, &str),
        token: &str,
        status: u16,
        detail_text: &str,
    ) {
        let (got, refused) = self.with_session(method, path, token).await;
        assert_eq!(
            (got, detail(&refused)),
            (status, detail_text),
            "{path} with {token}"
        );
    }

    /// `method` on `path` with a session `token` (and nothing else).
    async fn with_session(&self, method: reqwest::Method, path: &str, token: &str) -> (u16, Value) {
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn a_browser_session_acts_as_its_one_actor_in_its_workspace_and_nothing_else() {
    use reqwest::Method as M;
    let s = start().await;
    let (status, opened) = s
        .open_session(
            json!({"workspace": "demo", "user": "bob", "role": "member", "plan": "business"}),
        )
        .await;
    assert_eq!(status, 201, "{opened}");
    let bob = opened["token"].as_str().unwrap().to_owned();
    assert!(bob.starts_with("sbs_"), "{bob}");
    // Fifteen minutes unless the host says otherwise.
    assert_eq!(
        opened["expires_at_ms"].as_u64().unwrap() - opened["created_at_ms"].as_u64().unwrap(),
        900_000
    );
    let (_, me) = s.with_session(M::GET, "/v1/session", &bob).await;
    assert_eq!(
        me["actor"],
        json!({"user": "bob", "workspace": "demo", "role": "member", "plan": "business"})
    );
    assert_eq!(me["id"], opened["id"]);
    assert!(me.get("token").is_none(), "{me}");

    // Bob's page works, twenty times over, and "try it" runs.
    for _ in 0..20 {
        let (status, page) = s
            .with_session(M::GET, "/v1/workspaces/demo/integrations", &bob)
            .await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["workspace_integrations"][0]["id"], "semrush");
    }
    let ran = s
        .http
        .post(format!(
            "{}/v1/workspaces/demo/integrations/semrush/actions/keyword_overview",
            s.base
        ))
        .bearer_auth(&bob)
        .json(&json!({"phrase": "seo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ran.status(), 200);
    let ran: Value = ran.json().await.unwrap();
    assert_eq!(ran["rows"][0]["keyword"], "seo");

    // Headers naming someone else are ignored: Bob is still a member.
    let spoofed = s
        .http
        .get(format!("{}/v1/workspaces/demo/team-integrations", s.base))
        .bearer_auth(&bob)
        .header("X-Switchboard-User", "ada")
        .header("X-Switchboard-Role", "admin")
        .header("X-Switchboard-Plan", "business")
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status(), 403);
    let spoofed: Value = spoofed.json().await.unwrap();
    assert_eq!(
        detail(&spoofed),
        "Only Admins and Developers can manage team integrations"
    );

    // Another workspace, and the host's own operations, are out of reach.
    let elsewhere = (M::GET, "/v1/workspaces/acme/integrations");
    s.refuses(
        elsewhere,
        &bob,
        403,
        "this session acts in its own workspace only",
    )
    .await;
    for operation in [
        (M::POST, "/v1/policies/reload"),
        (M::GET, "/metrics"),
        (M::PUT, "/v1/workspaces/demo/credit-limit"),
        (M::POST, "/v1/sessions"),
    ] {
        let why = "this operation is the host application's: a session token cannot call it";
        s.refuses(operation, &bob, 403, why).await;
    }

    // Events: a session hears its own workspace only, and a member only
    // about itself.
    let acme = s.session("acme", "erin", "admin").await;
    let listen = |token: &str| {
        s.http
            .get(format!("{}/v1/events", s.base))
            .bearer_auth(token)
            .send()
    };
    let mut bobs_events = listen(&bob).await.unwrap();
    let mut acmes_events = listen(&acme).await.unwrap();
    assert_eq!(bobs_events.status(), 200);
    assert_eq!(s.disable("semrush", "ada", "admin").await.status(), 204);
    let enabled = s
        .http
        .post(format!(
            "{}/v1/workspaces/acme/team-integrations/semrush/enable",
            s.base
        ))
        .bearer_auth(&acme)
        .json(&json!({"mode": "user"}))
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), 200);
    let heard = next_event(&mut bobs_events).await;
    assert!(
        heard.starts_with("event: integration_disabled\ndata: {"),
        "{heard}"
    );
    assert!(heard.contains("\"workspace\":\"demo\""), "{heard}");
    let heard = next_event(&mut acmes_events).await;
    assert!(
        heard.starts_with("event: integration_enabled\ndata: {"),
        "{heard}"
    );
    assert!(heard.contains("\"workspace\":\"acme\""), "{heard}");

    // Tampered, made up, revoked and expired tokens are refused with 401.
    let mut tampered = bob.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let made_up = format!("sbs_{}.{}", "0".repeat(32), "B".repeat(43));
    for token in [tampered.as_str(), made_up.as_str(), "sbs_", "sbs_x.y.z"] {
        let why = "the session token is not valid: revoked, altered or not issued here";
        let page = (M::GET, "/v1/workspaces/demo/integrations");
        s.refuses(page, token, 401, why).await;
    }
    let carol = s.session("demo", "carol", "member").await;
    let carols_id = carol[4..].split_once('.').unwrap().0.to_owned();
    let bobs_id = opened["id"].as_str().unwrap();
    let (status, _) = s
        .with_session(M::DELETE, &format!("/v1/sessions/{carols_id}"), &bob)
        .await;
    assert_eq!(status, 403, "Bob cannot revoke Carol's session");
    let revoke = |id: &str| {
        s.http
            .delete(format!("{}/v1/sessions/{id}", s.base))
            .bearer_auth("demo-token")
            .send()
    };
    assert_eq!(revoke(bobs_id).await.unwrap().status(), 204);
    assert_eq!(revoke(bobs_id).await.unwrap().status(), 404);
    // Bob's open event stream ends with his session.
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(chunk) = bobs_events.chunk().await.unwrap() {
            assert!(
                !String::from_utf8_lossy(&chunk).contains("data:"),
                "heard after revocation"
            );
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived the session");
    let (status, _) = s
        .with_session(M::GET, "/v1/workspaces/demo/integrations", &bob)
        .await;
    assert_eq!(status, 401);
    // Carol signs herself out.
    let (status, _) = s
        .with_session(M::DELETE, &format!("/v1/sessions/{carols_id}"), &carol)
        .await;
    assert_eq!(status, 204);
    assert_eq!(s.with_session(M::GET, "/v1/session", &carol).await.0, 401);

    let (status, brief) = s
        .open_session(json!({"workspace": "demo", "user": "dev", "role": "developer", "plan": "business", "ttl_seconds": 1}))
        .await;
    assert_eq!(status, 201, "{brief}");
    let brief = brief["token"].as_str().unwrap();
    assert_eq!(s.with_session(M::GET, "/v1/session", brief).await.0, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let why = "the session has expired; open the page from the application again";
    s.refuses((M::GET, "/v1/session"), brief, 401, why).await;

    // Twelve hours at most; a pasted token with a trailing space still works.
    let (status, long) = s
        .open_session(json!({"workspace": "demo", "user": "ada", "role": "admin", "plan": "business", "ttl_seconds": 43200}))
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        long["expires_at_ms"].as_u64().unwrap() - long["created_at_ms"].as_u64().unwrap(),
        43_200_000
    );
    let pasted = format!("{} ", long["token"].as_str().unwrap());
    assert_eq!(s.with_session(M::GET, "/v1/session", &pasted).await.0, 200);
    for (ttl, why) in [
        (json!(0), "0 is not within 1 to 43200"),
        (json!(43201), "43201 is not within 1 to 43200"),
    ] {
        let (status, refused) = s
            .open_session(json!({"workspace": "demo", "user": "ada", "role": "admin", "plan": "business", "ttl_seconds": ttl}))
            .await;
        assert_eq!(status, 400, "{refused}");
        assert!(detail(&refused).contains(why), "{refused}");
    }
    let (status, refused) = s
        .open_session(
            json!({"workspace": "no spaces", "user": "ada", "role": "admin", "plan": "business"}),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
}

#[tokio::test]
async fn the_console_ships_in_the_binary_under_a_strict_content_policy() {
    let s = start().await;
    let page = s.get("/console/", None).await;
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"),
        "{policy}"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("console.js"), "{html}");
    for asset in ["/console/console.js", "/console/console.css"] {
        let response = s.get(asset, None).await;
        assert_eq!(response.status(), 200, "{asset}");
        assert!(!response.text().await.unwrap().is_empty(), "{asset}");
    }
    let bare = s.get("/console", None).await;
    assert_eq!(bare.status(), 308);
    assert_eq!(bare.headers()["location"], "console/");
}

#[tokio::test]
async fn sigterm_stops_the_service_gracefully_and_keeps_the_usage() {
    let mut s = start().await;
    let ran = s
        .as_user(
            reqwest::Method::POST,
            "/v1/workspaces/demo/integrations/semrush/actions/related_keywords",
            "bob",
            "member",
        )
        .json(&json!({"phrase": "seo", "limit": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(ran.status(), 200);
    let killed = Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = s.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let store = switchboard::store::Store::open(s._dir.path().join("demo.redb")).unwrap();
    let usage = store.read(|r| r.usage("demo", 0, u64::MAX)).unwrap();
    let calls: Vec<(String, u64, u64)> = usage
        .iter()
        .map(|(i, u, _, t)| (format!("{i}/{u}"), t.calls, t.credits))
        .collect();
    assert_eq!(calls, [("semrush/bob".to_owned(), 1, 4)]);
}

#[tokio::test]
async fn the_service_listens_at_once_and_says_what_is_still_loading() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    for first_party in ["semrush.wasm", "sharepoint.wasm"] {
        std::fs::copy(
            switchboard_plugin_artifacts::plugins_dir().join(first_party),
            plugins.join(first_party),
        )
        .unwrap();
    }
    // A component that takes its time to describe itself.
    std::fs::write(
        plugins.join("slow.wasm"),
        switchboard_plugin_artifacts::shapeshifter("slow-describe"),
    )
    .unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["--log-format", "json", "serve", "--demo"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--data", dir.path().join("d.redb").to_str().unwrap()])
        .args(["--plugins", plugins.to_str().unwrap()])
        .args([
            "--policies",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("listening; loading plugins") {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    let base = format!("http://127.0.0.1:{port}");
    switchboard::net::install_crypto();
    let http = reqwest::Client::new();
    let readyz = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(readyz.status(), 503);
    let loading: Value = readyz.json().await.unwrap();
    assert_eq!(
        loading["loading"],
        json!(["semrush.wasm", "sharepoint.wasm", "slow.wasm"])
    );
    let early = http
        .get(format!("{base}/v1/integrations"))
        .bearer_auth("demo-token")
        .send()
        .await
        .unwrap();
    assert_eq!(early.status(), 503);
    assert_eq!(early.headers()["retry-after"], "1");

    // Once loaded: ready, with the refused component and why.
    let ready = loop {
        let readyz = http.get(format!("{base}/readyz")).send().await.unwrap();
        if readyz.status() == 200 {
            break readyz.json::<Value>().await.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(ready["plugins"], 2);
    assert_eq!(ready["loading"], json!([]));
    assert_eq!(
        ready["refused"][0]["reason"],
        "describe failed: plugin `slow` did not finish within 2000 ms and was stopped"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A problem document's status and detail, checking it is one.
async fn problem(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "{status}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    (status, body["detail"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_hostile_client_gets_clear_refusals_and_cannot_spoof_or_bloat() {
    let s = start().await;
    let disable = "/v1/workspaces/demo/team-integrations/semrush/disable";

    // Bob appends an admin role before the gateway's member one.
    let spoofed = s
        .http
        .post(format!("{}{disable}", s.base))
        .bearer_auth("demo-token")
        .header("X-Switchboard-User", "bob")
        .header("X-Switchboard-Role", "admin")
        .header("X-Switchboard-Role", "member")
        .header("X-Switchboard-Plan", "business")
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(spoofed).await,
        (
            400,
            "the x-switchboard-role header is sent more than once; send it once".into()
        )
    );
    for (user, plan) in [("carol, bob", "business"), ("bob", "busi ness")] {
        let odd = s
            .http
            .get(format!("{}/v1/workspaces/demo/integrations", s.base))
            .bearer_auth("demo-token")
            .header("X-Switchboard-User", user)
            .header("X-Switchboard-Role", "member")
            .header("X-Switchboard-Plan", plan)
            .send()
            .await
            .unwrap();
        assert_eq!(problem(odd).await.0, 400, "{user} {plan}");
    }
    let team = s.team_page("ada", "admin", 200).await;
    assert!(
        entry(&team["integrations"], "id", "semrush")["enabled"].is_object(),
        "Semrush is still enabled"
    );

    // A pasted key with a control character is refused before any use and
    // never kept: not in the answer, the audit trail or the data file.
    let pasted = "sk-live-\u{1}d3adb33f";
    let refused = s
        .as_user(
            reqwest::Method::PUT,
            "/v1/workspaces/demo/team-integrations/semrush/credential",
            "ada",
            "admin",
        )
        .json(&json!({ "secret": pasted }))
        .send()
        .await
        .unwrap();
    let (status, detail) = problem(refused).await;
    assert_eq!(status, 422);
    assert!(!detail.contains("d3adb33f"), "{detail}");
    let audit = s
        .as_user(
            reqwest::Method::GET,
            "/v1/workspaces/demo/audit",
            "ada",
            "admin",
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!audit.contains("d3adb33f"), "{audit}");
    let file = std::fs::read(s._dir.path().join("demo.redb")).unwrap();
    assert!(!file.windows(8).any(|w| w == b"d3adb33f"));

    // A line break in a path id forges no log line and makes no workspace.
    let forged = s
        .as_user(
            reqwest::Method::GET,
            "/v1/workspaces/demo%0Aforged/integrations",
            "bob",
            "member",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(forged).await,
        (
            400,
            "the workspace id must be 1 to 128 letters, digits or . _ @ : + -, starting with a letter or digit".into()
        )
    );

    // Made-up methods and paths: problems, and no new metric labels.
    for n in 0..20 {
        let method = reqwest::Method::from_bytes(format!("BREW{n}").as_bytes()).unwrap();
        let made_up = s
            .http
            .request(method, format!("{}/healthz", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(problem(made_up).await.0, 405);
    }
    let (status, detail) = problem(s.get("/v2/nothing-here", None).await).await;
    assert_eq!(status, 404);
    assert!(detail.contains("GET /openapi.json lists them"), "{detail}");
    let metrics = s
        .get("/metrics", Some("demo-token"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!metrics.contains("BREW"), "{metrics}");
    assert!(
        metrics.contains("method=\"other\",route=\"/healthz\",status=\"405\"} 20"),
        "{metrics}"
    );
}

/// A client that sends part of a request and stalls.
async fn stall(base: &str, partial: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(partial.as_bytes()).await.unwrap();
    stream
}

/// What the service says on a stalled connection, up to its closing it;
/// `None` if it neither answers nor closes within `within`.
async fn heard(stream: &mut tokio::net::TcpStream, within: Duration) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut said = Vec::new();
    let read = tokio::time::timeout(within, stream.read_to_end(&mut said)).await;
    read.ok()
        .map(|_| String::from_utf8_lossy(&said).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_health_checks_still_answer() {
    let s = start_configured(
        &[],
        &[
            ("SWITCHBOARD_HEADER_READ_TIMEOUT_S", "1"),
            ("SWITCHBOARD_BODY_READ_TIMEOUT_S", "1"),
        ],
    )
    .await;
    // Three hundred clients send half a request and wait.
    let mut slow = Vec::new();
    for _ in 0..300 {
        slow.push(stall(&s.base, "GET /healthz HTTP/1.1\r\nHost: switchboard\r\n").await);
    }
    let healthz = s.get("/healthz", None).await;
    assert_eq!(healthz.status(), 200, "answered during the attack");
    // Each is closed once its header time is up, long before ten seconds.
    for stream in &mut slow {
        assert!(heard(stream, Duration::from_secs(10)).await.is_some());
    }
    // A body promised huge and sent one byte at a time is not waited for.
    let mut promised = stall(
        &s.base,
        "PUT /v1/workspaces/demo/credit-limit HTTP/1.1\r\nHost: switchboard\r\nAuthorization: Bearer demo-token\r\ncontent-type: application/json\r\nContent-Length: 1000000\r\n\r\n{",
    )
    .await;
    let said = heard(&mut promised, Duration::from_secs(10)).await;
    assert!(said.is_some(), "the connection was held");
    assert_eq!(s.get("/healthz", None).await.status(), 200);
}

#[tokio::test]
async fn one_connection_past_the_cap_is_told_to_come_back() {
    let s = start_configured(&[], &[("SWITCHBOARD_MAX_CONNECTIONS", "20")]).await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(stall(&s.base, "GET /healthz HTTP/1.1\r\n").await);
    }
    // Let the service take them in before the next one knocks.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut late = stall(&s.base, "").await;
    let said = heard(&mut late, Duration::from_secs(5)).await.unwrap();
    assert!(
        said.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{said}"
    );
    assert!(said.contains("retry-after: 1"), "{said}");
    assert!(
        said.contains("\"title\":\"Too many connections\""),
        "{said}"
    );
    drop(held);
    // The slots come back as the held connections go.
    assert!(answers_ok(&s.http, &format!("{}/healthz", s.base), 50).await);
}

#[tokio::test]
async fn the_operators_call_shares_bound_each_member() {
    let s = start_configured(&[], &[("SWITCHBOARD_CALLS_PER_MEMBER", "1")]).await;
    let path = "/v1/workspaces/demo/integrations/semrush/actions/keyword_overview";
    let call = |user: &'static str| {
        // A connection of its own each, as twenty browser tabs would.
        let http = reqwest::Client::new();
        let request = s.as_user_on(&http, reqwest::Method::POST, path, user, "member");
        async move {
            request
                .json(&json!({"phrase": "seo"}))
                .send()
                .await
                .unwrap()
        }
    };
    // Twice at least; more while none overlapped (a slow machine may serve
    // twenty short calls one after another).
    let mut refusals = 0;
    for round in 0..6 {
        if round >= 2 && refusals > 0 {
            break;
        }
        // Twenty of Bob's at once, and one of Carol's among them.
        let bobs = futures::future::join_all((0..20).map(|_| call("bob")));
        let (answers, carols) = tokio::join!(bobs, call("carol"));
        assert_eq!(carols.status(), 200, "a turn of her own");
        let (mut served, mut refused) = (0, Vec::new());
        for answer in answers {
            match answer.status().as_u16() {
                200 => served += 1,
                _ => refused.push(problem(answer).await),
            }
        }
        assert!(served >= 1, "{refused:?}");
        refusals += refused.len();
        for (status, detail) in refused {
            assert_eq!(status, 429);
            assert_eq!(
                detail,
                "you already have 1 call running; try again when one finishes"
            );
        }
        // Bob has his turn back once his calls end.
        assert_eq!(call("bob").await.status(), 200);
    }
    assert!(refusals > 0, "twenty at once, one at a time allowed");
}

/// Whether `url` answers 200 within `tries` attempts, 100 ms apart.
async fn answers_ok(http: &reqwest::Client, url: &str, tries: usize) -> bool {
    for _ in 0..tries {
        if http.get(url).send().await.is_ok_and(|r| r.status() == 200) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Every `$ref` in `value`.
fn refs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                found.push(r.clone());
            }
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_defines_every_schema_it_refers_to() {
    let s = start().await;
    let mut found = Vec::new();
    refs(&s.openapi, &mut found);
    assert!(
        found.iter().any(|r| r.ends_with("/OutcomeKind")),
        "{found:?}"
    );
    for reference in found {
        let name = reference.trim_start_matches("#/components/schemas/");
        assert!(
            s.openapi["components"]["schemas"].get(name).is_some(),
            "{reference} is not defined"
        );
    }
}

#[tokio::test]
async fn nothing_a_client_sends_forges_a_text_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("service.log");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--data", dir.path().join("demo.redb").to_str().unwrap()])
        .args([
            "--policies",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies"),
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    switchboard::net::install_crypto();
    let http = reqwest::Client::new();
    assert!(answers_ok(&http, &format!("{base}/readyz"), 300).await);
    // A line break and a terminal escape in a path that reaches the log.
    let forged = http
        .get(format!(
            "{base}/oauth/x%0A2026-12-01T00:00:00Z%20INFO%20forged%1B%5B31m/callback?state=s"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("x\\n2026-12-01T00:00:00Z INFO forged\\u{1b}[31m"),
        "{text}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("2026-12-01T00:00:00Z INFO forged")),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "{text}");
}
