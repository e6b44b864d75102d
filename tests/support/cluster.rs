//! Engine nodes on one PostgreSQL database, each its own process serving
//! the HTTP API (the `node` binary), with the mocks they share; requests
//! are spread over the nodes by the tests themselves.

use crate::node::{CLIENT_ID, CLIENT_SECRET, TOKEN};
use crate::{Browser, Data, Harness, POSTGRES_ENV, policies_dir};
use reqwest::Method as M;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use switchboard_mocks::Running;
use switchboard_mocks::microsoft::Microsoft;
use switchboard_mocks::semrush::Semrush;

const SEMRUSH_KEY: &str = "0123456789abcdef0123456789abcdef";

pub struct Node {
    pub child: Child,
    pub base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Cluster {
    pub nodes: Vec<Node>,
    pub ms: Microsoft,
    pub http: reqwest::Client,
    pub browser: Browser,
    pub harness: Harness,
    _mocks: Vec<Running>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    /// `count` processes of the `node` binary, each sending webhooks to
    /// `webhook` if given; `None` (and a note) when the suites run on redb
    /// files.
    pub async fn start(node: &str, count: usize, webhook: Option<&str>) -> Option<Cluster> {
        let mut harness = Harness::new();
        if let Data::File(_) = harness.data {
            eprintln!("skipped: several nodes need {POSTGRES_ENV}");
            return None;
        }
        let ports: Vec<u16> = (0..count).map(|_| free_port()).collect();
        // Sign-ins come back to the second node, wherever they began.
        let redirect = format!(
            "http://127.0.0.1:{}/oauth/sharepoint/callback",
            ports[1 % count]
        );
        let ms = Microsoft::new();
        ms.register_client(CLIENT_ID, Some(CLIENT_SECRET), &redirect);
        let microsoft = ms.start().await.unwrap();
        let semrush = Semrush::new();
        semrush.add_key(SEMRUSH_KEY, 1_000_000);
        let semrush_running = semrush.start().await.unwrap();
        for host in switchboard_mocks::microsoft::HOSTS {
            harness.route(host, microsoft.addr);
        }
        harness.install_semrush();
        harness.install(&switchboard_plugin_artifacts::plugins_dir().join("sharepoint.wasm"));
        let dir = harness.dir.path();
        let ca = dir.join("mocks-ca.pem");
        std::fs::write(&ca, switchboard_mocks::tls::ca().pem()).unwrap();
        let data = harness.data.as_arg();
        // Every node is handed the same key, as an operator does.
        let key = dir.join("switchboard.key");
        let secret: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ ports[0] as u8);
        std::fs::write(&key, hex::encode(secret)).unwrap();
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let key = key.display().to_string();
        let (plugins, policies) = (
            harness.plugins_dir().display().to_string(),
            policies_dir().display().to_string(),
        );
        let mut nodes: Vec<Node> = ports
            .iter()
            .map(|port| {
                let log = std::fs::File::create(dir.join(format!("node-{port}.log"))).unwrap();
                let child = Command::new(node)
                    .args([
                        &format!("127.0.0.1:{port}"),
                        &data,
                        &key,
                        &plugins,
                        &policies,
                        ca.to_str().unwrap(),
                        &microsoft.addr.to_string(),
                        &semrush_running.addr.to_string(),
                        &redirect,
                    ])
                    .args(webhook)
                    .env("RUST_LOG", "warn")
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .unwrap();
                Node {
                    child,
                    base: format!("http://127.0.0.1:{port}"),
                }
            })
            .collect();
        switchboard::net::install_crypto();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        for (node, port) in nodes.iter_mut().zip(&ports) {
            if !ready(&http, node).await {
                let log = std::fs::read_to_string(dir.join(format!("node-{port}.log")));
                panic!("{} never got ready: {}", node.base, log.unwrap_or_default());
            }
        }
        let browser = harness.browser();
        Some(Cluster {
            nodes,
            ms,
            http,
            browser,
            harness,
            _mocks: vec![microsoft, semrush_running],
        })
    }

    /// `user`, as `role`, in `workspace`, sends `method` `path` to node `n`.
    pub fn request(
        &self,
        n: usize,
        method: M,
        path: &str,
        (user, role, workspace): (&str, &str, &str),
    ) -> reqwest::RequestBuilder {
        let base = &self.nodes[n % self.nodes.len()].base;
        let path = path.replace("{ws}", workspace);
        self.http
            .request(method, format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .header("X-Switchboard-User", user)
            .header("X-Switchboard-Role", role)
            .header("X-Switchboard-Plan", "business")
    }

    /// Bob connects SharePoint: the sign-in begins on node 0, its link is
    /// opened on node 2, and Microsoft sends him back to node 1.
    pub async fn bob_signs_in(&self) {
        let started: Value = self
            .request(
                0,
                M::POST,
                "/v1/workspaces/{ws}/integrations/sharepoint/connect",
                BOB,
            )
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let link = started["sign_in"]["start_url"].as_str().unwrap();
        let link = link.replace(&self.nodes[1].base, &self.nodes[2].base);
        let opened = self.browser.get(&link).await;
        assert_eq!(opened.status(), 303, "{link}");
        let authorize = opened.headers()["location"].to_str().unwrap().to_owned();
        let consented = self.browser.get(&authorize).await;
        assert_eq!(consented.status(), 302);
        let callback = consented.headers()["location"].to_str().unwrap().to_owned();
        assert!(callback.starts_with(&self.nodes[1].base), "{callback}");
        let landed = self.browser.get(&callback).await;
        assert_eq!(landed.status(), 303);
        let back = landed.headers()["location"].to_str().unwrap();
        assert!(back.contains("status=connected"), "{back}");
    }

    pub fn kill(&mut self, n: usize) {
        let node = &mut self.nodes[n];
        node.child.kill().unwrap();
        node.child.wait().unwrap();
    }
}

pub const ADA: (&str, &str, &str) = ("ada", "admin", "acme");
pub const BOB: (&str, &str, &str) = ("bob", "member", "acme");

/// Whether `node` answers `/readyz` with 200 within two minutes (and has
/// not exited).
async fn ready(http: &reqwest::Client, node: &mut Node) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) && node.child.try_wait().unwrap().is_none() {
        if let Ok(r) = http.get(format!("{}/readyz", node.base)).send().await
            && r.status() == 200
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

pub async fn status(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.unwrap().status().as_u16()
}

/// What Ada, admin of `workspace`, reads at `path` through node `n`.
pub async fn read_as_admin(c: &Cluster, n: usize, path: &str, workspace: &str) -> Value {
    c.request(n, M::GET, path, ("ada", "admin", workspace))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `who` enables `integration` in `mode` through node `n`: the status.
pub async fn enable(
    c: &Cluster,
    n: usize,
    integration: &str,
    mode: &str,
    who: (&str, &str, &str),
) -> u16 {
    let path = format!("/v1/workspaces/{{ws}}/team-integrations/{integration}/enable");
    status(
        c.request(n, M::POST, &path, who)
            .json(&json!({ "mode": mode })),
    )
    .await
}

/// The mode `integration` is enabled in, on the Team Integrations page as
/// node `n` shows it to Ada.
pub async fn mode_on(c: &Cluster, n: usize, workspace: &str, integration: &str) -> Value {
    let page = read_as_admin(c, n, "/v1/workspaces/{ws}/team-integrations", workspace).await;
    page["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == integration)
        .unwrap()["enabled"]["mode"]
        .clone()
}
