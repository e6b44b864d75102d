//! Semrush `keyword_overview` three ways, against one loopback mock: through
//! the whole engine, through the sandbox alone, and as a direct `reqwest`
//! GET of the same report (the baseline); and rounds of many callers at
//! once, one way or the other.

use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard::engine::CallShares;
use switchboard::model::{Actor, IntegrationId, Mode, Role, Settings, UserId, WorkspaceId};
use switchboard::net::Routes;
use switchboard::pasted::PastedKey;
use switchboard::plugins::{HostConfig, Plugin, PluginHost, SandboxLimits};
use switchboard::vault::{KeySource, Secret};
use switchboard::{Engine, EngineConfig, Location};
use switchboard_mocks::semrush::Semrush;
use tokio::runtime::Runtime;

const KEY: &str = "bench-semrush-key";

/// The most calls the benchmarks make at once. The engine is configured
/// to run them all (one member may, and Semrush may), as an operator
/// sizing a node for such a load would: by default a member runs 8 at once.
pub const MOST_AT_ONCE: usize = 64;

/// A mock, an engine and a bare plugin host, all on one runtime.
pub struct Fixture {
    _running: switchboard_mocks::Running,
    /// The mock, to change how it answers.
    pub mock: Semrush,
    pub engine: Engine,
    sandbox: PluginHost,
    plugin: Arc<Plugin>,
    actor: Actor,
    semrush: IntegrationId,
    input: Value,
    client: reqwest::Client,
    direct: String,
}

impl Fixture {
    /// The engine's state in `data` (its key file in `dir`), the plugins
    /// compiled once into `cache`.
    pub async fn start(data: Location, dir: &Path, cache: &Path) -> Fixture {
        let mock = Semrush::new();
        mock.add_key(KEY, u64::MAX / 2);
        mock.forget_requests();
        let running = mock.start().await.expect("mock");
        let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
        let plugins = switchboard_plugin_artifacts::plugins_dir();
        let mut config = EngineConfig::new(data, plugins, policies);
        config.key = KeySource::EnvOrFile(dir.join("bench.key"));
        config.call_shares = CallShares {
            per_member: MOST_AT_ONCE,
            per_workspace: MOST_AT_ONCE,
        };
        let mut routes = Routes::default().trust(switchboard_mocks::tls::ca().pem());
        for host in switchboard_mocks::semrush::HOSTS {
            routes = routes.route(host, running.addr);
        }
        let host = HostConfig {
            routes,
            // Both runtimes' engines and plugin hosts compile the plugins once.
            cache_dir: Some(cache.to_owned()),
            limits: SandboxLimits {
                calls_per_plugin: MOST_AT_ONCE as u32,
                ..SandboxLimits::default()
            },
            ..HostConfig::default()
        };
        config.host = host.clone();
        let actor = Actor {
            user: UserId::new("ada"),
            workspace: WorkspaceId::new("bench"),
            role: Role::Admin,
            plan: "business".into(),
        };
        let semrush = IntegrationId::new("semrush");
        let engine = Engine::open(config).await.expect("engine");
        engine
            .enable(&actor, &semrush, Mode::Workspace)
            .expect("enable");
        engine
            .set_workspace_credential(&actor, &semrush, &PastedKey::parse(KEY).unwrap())
            .await
            .expect("key");
        let sandbox = PluginHost::new(host).expect("plugin host");
        sandbox.load_dir(plugins).await.expect("plugins");
        let plugin = sandbox.get(&semrush).expect("semrush loaded").clone();
        // As the plugin reaches it: https under Semrush's name, at the
        // mock's address, trusting the mocks' authority.
        let direct = format!(
            "https://{}/?type=phrase_this&export_columns=Ph%2CNq%2CCp%2CCo%2CNr%2CTd&display_limit=10&phrase=seo&database=us&key={KEY}",
            switchboard_mocks::semrush::HOSTS[0]
        );
        switchboard::net::install_crypto();
        let root = reqwest::Certificate::from_pem(switchboard_mocks::tls::ca().pem().as_bytes())
            .expect("the mocks' authority");
        let client = reqwest::Client::builder()
            .resolve(switchboard_mocks::semrush::HOSTS[0], running.addr)
            .tls_certs_merge([root])
            .no_proxy()
            .build()
            .expect("client");
        Fixture {
            _running: running,
            mock,
            engine,
            sandbox,
            plugin,
            actor,
            semrush,
            input: json!({"phrase": "seo", "database": "us"}),
            client,
            direct,
        }
    }

    /// The baseline: the same report by a direct GET.
    pub async fn direct_get(&self) {
        let body = self
            .client
            .get(&self.direct)
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("body");
        assert!(body.starts_with("Keyword;"));
    }

    /// The whole engine: facts, decision, unseal, sandbox, metering.
    pub async fn through_engine(&self) {
        let out = self
            .engine
            .invoke(&self.actor, &self.semrush, "keyword_overview", &self.input)
            .await
            .expect("invoke");
        assert_eq!(out["rows"][0]["keyword"], "seo");
    }

    /// The sandbox alone: instance, guest, host HTTP with the key placed.
    pub async fn through_sandbox(&self) {
        let no_settings = Settings::new();
        let credential = self
            .plugin
            .credential(Mode::Workspace, Secret::new(KEY), &no_settings)
            .expect("Semrush takes a key in workspace mode")
            .expect("a key of one field");
        let out = self
            .sandbox
            .invoke(
                &self.plugin,
                &no_settings,
                Some(credential),
                "keyword_overview",
                &self.input,
            )
            .await
            .expect("sandbox invoke");
        assert_eq!(out["rows"][0]["keyword"], "seo");
    }
}

/// How a call is made.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Way {
    /// The baseline: a direct GET.
    Direct,
    /// Through the whole engine.
    Engine,
}

impl Way {
    pub async fn call(self, fixture: &Fixture) {
        match self {
            Way::Direct => fixture.direct_get().await,
            Way::Engine => fixture.through_engine().await,
        }
    }
}

/// What one round measured.
pub struct Round {
    /// Every call's latency, sorted.
    pub latencies: Vec<Duration>,
    /// The process's CPU over the round.
    pub cpu: Duration,
    /// How long the round lasted.
    pub length: Duration,
}

impl Round {
    pub fn calls_per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.length.as_secs_f64()
    }

    pub fn cpu_per_call_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.latencies.len().max(1) as f64
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        let last = self.latencies.len().saturating_sub(1);
        let at = ((last as f64) * p).round() as usize;
        self.latencies
            .get(at)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    }
}

/// `callers` tasks on `runtime`, each calling `way` back to back until the
/// round ends, their first calls spread evenly over `spread`.
pub fn round(
    runtime: &Runtime,
    fixture: &Arc<Fixture>,
    way: Way,
    callers: usize,
    (length, spread): (Duration, Duration),
) -> Round {
    let cpu_before = super::process_cpu();
    let started = Instant::now();
    let deadline = started + length;
    let callers: Vec<_> = (0..callers)
        .map(|caller| {
            let fixture = fixture.clone();
            let first = started + spread * caller as u32 / callers as u32;
            runtime.spawn(async move {
                tokio::time::sleep_until(first.into()).await;
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let call = Instant::now();
                    way.call(&fixture).await;
                    latencies.push(call.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = runtime
        .block_on(futures::future::join_all(callers))
        .into_iter()
        .flat_map(|latencies| latencies.expect("a caller"))
        .collect();
    let length = started.elapsed();
    let cpu = super::process_cpu().saturating_sub(cpu_before);
    latencies.sort();
    Round {
        latencies,
        cpu,
        length,
    }
}
