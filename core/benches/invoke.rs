//! One `invoke` of a Semrush report through the whole engine (store read,
//! unseal, fresh sandbox instance, guest, host http with key injection, CSV
//! parse) next to a direct `reqwest` GET of the same report from the same
//! loopback mock, measured in the same run, and the sandbox alone (instance,
//! guest, host http with key injection; no store, policies or vault).
//!
//! Each runs twice:
//! - `invoke`: the caller on its own thread, the mock and the HTTP
//!   connections on one runtime worker. This is the latency a host sees,
//!   thread wake-ups included.
//! - `invoke_one_thread`: everything on one thread, so no wake-ups: the CPU
//!   each call costs.
//!
//! `invoke/direct_reqwest_after_other_work` does 40 µs of unrelated CPU work
//! before each GET: the difference from `direct_reqwest` + 40 µs is what a
//! caller that is busy between calls pays to wake the idle worker.

mod support;

use criterion::{BenchmarkGroup, Criterion, criterion_group, measurement::WallTime};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard::model::{Actor, IntegrationId, Mode, Role, UserId, WorkspaceId};
use switchboard::net::Routes;
use switchboard::pasted::PastedKey;
use switchboard::plugins::{HostConfig, Plugin, PluginHost};
use switchboard::vault::{KeySource, Secret};
use switchboard::{Engine, EngineConfig};
use switchboard_mocks::semrush::Semrush;
use tokio::runtime::Runtime;

const KEY: &str = "bench-semrush-key";
const OTHER_WORK: Duration = Duration::from_micros(40);

/// A mock, an engine and a bare plugin host, all on one runtime.
struct Fixture {
    _mock: switchboard_mocks::Running,
    engine: Engine,
    sandbox: PluginHost,
    plugin: Arc<Plugin>,
    actor: Actor,
    semrush: IntegrationId,
    input: Value,
    client: reqwest::Client,
    direct: String,
}

impl Fixture {
    async fn start(dir: &Path, cache: &Path) -> Fixture {
        let mock = Semrush::new();
        mock.add_key(KEY, u64::MAX / 2);
        let running = mock.start().await.expect("mock");
        let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
        let plugins = switchboard_plugin_artifacts::plugins_dir();
        let mut config = EngineConfig::new(dir.join("bench.redb"), plugins, policies);
        config.key = KeySource::EnvOrFile(dir.join("bench.key"));
        let mut routes = Routes::default().trust(switchboard_mocks::tls::ca().pem());
        for host in switchboard_mocks::semrush::HOSTS {
            routes = routes.route(host, running.addr);
        }
        config.host.routes = routes.clone();
        // Both runtimes' engines and plugin hosts compile the plugins once.
        config.host.cache_dir = Some(cache.to_owned());
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
        let mut sandbox = PluginHost::new(HostConfig {
            routes,
            cache_dir: Some(cache.to_owned()),
            ..HostConfig::default()
        })
        .expect("plugin host");
        sandbox.load_dir(plugins).await.expect("plugins");
        let plugin = sandbox.get(&semrush).expect("semrush loaded").clone();
        let direct = format!(
            "http://{}/?type=phrase_this&export_columns=Ph%2CNq%2CCp%2CCo%2CNr%2CTd&display_limit=10&phrase=seo&database=us&key={KEY}",
            running.addr
        );
        Fixture {
            _mock: running,
            engine,
            sandbox,
            plugin,
            actor,
            semrush,
            input: json!({"phrase": "seo", "database": "us"}),
            client: reqwest::Client::new(),
            direct,
        }
    }

    async fn direct_get(&self) {
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

    async fn through_engine(&self) {
        let out = self
            .engine
            .invoke(&self.actor, &self.semrush, "keyword_overview", &self.input)
            .await
            .expect("invoke");
        assert_eq!(out["rows"][0]["keyword"], "seo");
    }

    async fn through_sandbox(&self) {
        let credential = self
            .plugin
            .credential(Mode::Workspace, Secret::new(KEY))
            .expect("Semrush takes a key in workspace mode");
        let out = self
            .sandbox
            .invoke(
                &self.plugin,
                Some(credential),
                "keyword_overview",
                &self.input,
            )
            .await
            .expect("sandbox invoke");
        assert_eq!(out["rows"][0]["keyword"], "seo");
    }
}

/// The three rows every runtime measures.
fn rows(group: &mut BenchmarkGroup<'_, WallTime>, runtime: &Runtime, fixture: &Fixture) {
    group.bench_function("direct_reqwest", |b| {
        b.to_async(runtime).iter(|| fixture.direct_get())
    });
    group.bench_function("engine", |b| {
        b.to_async(runtime).iter(|| fixture.through_engine())
    });
    group.bench_function("sandbox", |b| {
        b.to_async(runtime).iter(|| fixture.through_sandbox())
    });
}

/// Busy CPU for `OTHER_WORK`, standing in for whatever else a caller does.
fn other_work() {
    let started = Instant::now();
    while started.elapsed() < OTHER_WORK {
        std::hint::spin_loop();
    }
}

fn invoke(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = dir.path().join("compiled");
    let subdir = |name: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(&path).expect("fixture dir");
        path
    };

    // One worker: the mock's and both clients' connection tasks then always
    // share it. With two, which worker each keep-alive connection landed on
    // moved the direct call alone between 72 and 95 µs from run to run.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let fixture = runtime.block_on(Fixture::start(&subdir("worker"), &cache));
    let mut group = c.benchmark_group("invoke");
    rows(&mut group, &runtime, &fixture);
    group.bench_function("direct_reqwest_after_other_work", |b| {
        b.to_async(&runtime).iter(|| async {
            other_work();
            fixture.direct_get().await
        })
    });
    group.finish();

    let one_thread = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let fixture = one_thread.block_on(Fixture::start(&subdir("one-thread"), &cache));
    let mut group = c.benchmark_group("invoke_one_thread");
    rows(&mut group, &one_thread, &fixture);
    group.finish();
}

criterion_group!(benches, invoke);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    support::print_ratio("invoke", "engine", "direct_reqwest");
    support::print_ratio_across(
        "invoke, sandbox alone",
        ("invoke", "sandbox"),
        ("invoke", "direct_reqwest"),
    );
    support::print_ratio("invoke_one_thread", "engine", "direct_reqwest");
    support::print_ratio_across(
        "invoke_one_thread, sandbox alone",
        ("invoke_one_thread", "sandbox"),
        ("invoke_one_thread", "direct_reqwest"),
    );
    support::print_difference(
        "invoke, added by the engine per call",
        ("invoke", "engine"),
        ("invoke", "direct_reqwest"),
        Duration::ZERO,
    );
    support::print_difference(
        "invoke_one_thread, CPU added by the engine per call",
        ("invoke_one_thread", "engine"),
        ("invoke_one_thread", "direct_reqwest"),
        Duration::ZERO,
    );
    support::print_difference(
        "wake-up cost of a caller busy between calls",
        ("invoke", "direct_reqwest_after_other_work"),
        ("invoke", "direct_reqwest"),
        OTHER_WORK,
    );
}
