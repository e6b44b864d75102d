//! What the end-to-end tests share: a data directory, the mocks, and an
//! engine wired to them exactly as a deployment would be, except that the
//! services' hosts are routed to loopback.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use switchboard::model::{Actor, IntegrationId, Role, UserId, WorkspaceId};
use switchboard::net::Routes;
use switchboard::plugins::SandboxLimits;
use switchboard::{Engine, EngineConfig};
use switchboard_mocks::semrush::Semrush;

mod browser;
pub mod cluster;
mod database;
/// What the cluster tests and their `node` binary agree on.
pub mod node {
    /// The service token the tests send as the host application.
    pub const TOKEN: &str = "node-token";
    /// The OAuth client registered with the Microsoft mock.
    pub const CLIENT_ID: &str = "4a1aa1d5-c567-49d0-ad0b-cd957a47f842";
    pub const CLIENT_SECRET: &str = "client-secret-value";
    pub const WEBHOOK_SECRET: &str = "webhook-signing-key";
}
mod steps;
pub use browser::Browser;
pub use database::{Data, POSTGRES_ENV};
pub use steps::*;

/// A fresh data directory and plugins directory, and the state: a redb
/// file there or, when the suites run on PostgreSQL, a fresh database.
pub struct Harness {
    pub data: Data,
    pub dir: tempfile::TempDir,
    pub routes: Routes,
    pub limits: SandboxLimits,
}

impl Harness {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(dir.path().join("plugins")).expect("plugins directory");
        Harness {
            data: Data::new(dir.path()),
            dir,
            routes: Routes::default().trust(switchboard_mocks::tls::ca().pem()),
            limits: test_limits(),
        }
    }

    pub fn plugins_dir(&self) -> PathBuf {
        self.dir.path().join("plugins")
    }

    /// Puts a built component into the plugins directory.
    pub fn install(&self, component: &Path) -> &Self {
        let name = component.file_name().expect("component file name");
        std::fs::copy(component, self.plugins_dir().join(name)).expect("copy component");
        self
    }

    /// Puts a copy of the shapeshifter component into the plugins directory
    /// as `file`, describing the manifest named `shape`.
    pub fn install_shape(&self, shape: &str, file: &str) -> &Self {
        let bytes = switchboard_plugin_artifacts::shapeshifter(shape);
        std::fs::write(self.plugins_dir().join(file), bytes).expect("write the shape");
        self
    }

    pub fn install_semrush(&self) -> &Self {
        self.install(&switchboard_plugin_artifacts::plugins_dir().join("semrush.wasm"))
    }

    /// Routes a declared host to a mock, as curl's `--connect-to` would.
    pub fn route(&mut self, host: &str, to: std::net::SocketAddr) -> &mut Self {
        self.routes = std::mem::take(&mut self.routes).route(host, to);
        self
    }

    /// A person's browser on this machine, with its own cookies.
    pub fn browser(&self) -> Browser {
        Browser::new(self.http_client())
    }

    /// An HTTP client as a browser's: it reaches the routed hosts' mocks by
    /// their real names over TLS, trusting the mocks' authority, and leaves
    /// redirects for the test to follow one hop at a time.
    pub fn http_client(&self) -> reqwest::Client {
        switchboard::net::install_crypto();
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        for (host, to) in self.routes.hosts() {
            builder = builder.resolve(host, to);
        }
        for root in self.routes.roots() {
            let root = reqwest::Certificate::from_pem(root.as_bytes()).expect("a PEM root");
            builder = builder.tls_certs_merge([root]);
        }
        builder.build().expect("a browser")
    }

    pub fn config(&self) -> EngineConfig {
        let mut config =
            EngineConfig::new(self.data.location(), self.plugins_dir(), policies_dir());
        config.key =
            switchboard::vault::KeySource::EnvOrFile(self.dir.path().join("switchboard.key"));
        config.host.routes = self.routes.clone();
        config.host.limits = self.limits.clone();
        config
    }

    pub async fn engine(&self) -> Engine {
        Engine::open(self.config()).await.expect("engine opens")
    }
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

/// The repository's policies, as a deployment would use them.
pub fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies")
}

/// Tight limits, so hostile plugins are stopped quickly.
pub fn test_limits() -> SandboxLimits {
    SandboxLimits {
        cpu_time: Duration::from_millis(300),
        wall_time: Duration::from_secs(10),
        memory_bytes: 32 << 20,
        request_timeout: Duration::from_secs(5),
        concurrent_calls: 16,
        calls_per_plugin: 4,
        ..SandboxLimits::default()
    }
}

/// The Semrush mock, running, with both Semrush hosts routed to it.
pub async fn semrush(harness: &mut Harness) -> (Semrush, switchboard_mocks::Running) {
    let mock = Semrush::new();
    let running = mock.start().await.expect("semrush mock starts");
    for host in switchboard_mocks::semrush::HOSTS {
        harness.route(host, running.addr);
    }
    (mock, running)
}

/// An engine with the Semrush plugin installed, against the running
/// Semrush mock. The fields drop in order: the engine before its files.
pub struct Deployment {
    pub engine: Engine,
    pub mock: Semrush,
    pub harness: Harness,
    pub running: switchboard_mocks::Running,
}

/// An operator deploys Semrush (and the test plugins named in
/// `test_plugins`) against the Semrush mock, which knows `keys` (key, API units).
pub async fn semrush_deployment(keys: &[(&str, u64)], test_plugins: &[&str]) -> Deployment {
    let mut harness = Harness::new();
    let (mock, running) = semrush(&mut harness).await;
    for &(key, units) in keys {
        mock.add_key(key, units);
    }
    harness.install_semrush();
    for plugin in test_plugins {
        harness.install(&switchboard_plugin_artifacts::test_plugin(plugin));
    }
    let engine = harness.engine().await;
    Deployment {
        engine,
        mock,
        harness,
        running,
    }
}

pub fn actor(user: &str, workspace: &str, role: Role) -> Actor {
    Actor {
        user: UserId::new(user),
        workspace: WorkspaceId::new(workspace),
        role,
        plan: "business".into(),
    }
}

pub fn admin() -> Actor {
    actor("alice", "acme", Role::Admin)
}

pub fn member() -> Actor {
    actor("bob", "acme", Role::Member)
}

pub fn id(s: &str) -> IntegrationId {
    IntegrationId::new(s)
}

/// Everything written through `tracing` in this test binary, from the
/// first call of [`captured_logs`] on.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// What has been logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures everything Switchboard logs, at every level (the runtime's
/// own chatter at info), for the rest of this test binary.
pub fn captured_logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_env_filter("info,switchboard=trace")
            .with_writer(move || writer.clone())
            .init();
        logs
    })
}
