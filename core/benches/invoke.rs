//! One `invoke` of a Semrush report through the whole engine (store read,
//! unseal, fresh sandbox instance, guest, host http with key injection, CSV
//! parse) next to a direct `reqwest` GET of the same report from the same
//! loopback mock, measured in the same run. Prints the ratio of medians,
//! and that of the sandbox alone (instance, guest, host http with key
//! injection; no store, policies or vault) to show where the rest goes.

mod support;

use criterion::{Criterion, criterion_group};
use serde_json::json;
use switchboard::model::{Actor, IntegrationId, Mode, Role, UserId, WorkspaceId};
use switchboard::net::Routes;
use switchboard::plugins::{Credential, HostConfig, Placement, PluginHost};
use switchboard::vault::{KeySource, Secret};
use switchboard::{Engine, EngineConfig};
use switchboard_mocks::semrush::Semrush;

const KEY: &str = "bench-semrush-key";

fn invoke(c: &mut Criterion) {
    // One worker: the mock's and both clients' connection tasks then always
    // share it. With two, which worker each keep-alive connection landed on
    // moved the direct call alone between 72 and 95 µs from run to run.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let mock = Semrush::new();
    mock.add_key(KEY, u64::MAX / 2);
    let running = runtime.block_on(mock.start()).expect("mock");

    let policies = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let mut config = EngineConfig::new(
        dir.path().join("bench.redb"),
        switchboard_plugin_artifacts::plugins_dir(),
        policies,
    );
    config.key = KeySource::EnvOrFile(dir.path().join("bench.key"));
    let routes = Routes::default()
        .route("api.semrush.com", running.addr)
        .route("www.semrush.com", running.addr);
    config.host.routes = routes.clone();
    let actor = Actor {
        user: UserId::new("ada"),
        workspace: WorkspaceId::new("bench"),
        role: Role::Admin,
        plan: "business".into(),
    };
    let semrush = IntegrationId::new("semrush");
    let engine: Engine = runtime.block_on(async {
        let engine = Engine::open(config).await.expect("engine");
        engine
            .enable(&actor, &semrush, Mode::Workspace)
            .expect("enable");
        engine
            .set_workspace_credential(&actor, &semrush, Secret::new(KEY))
            .await
            .expect("key");
        engine
    });
    let sandbox = runtime.block_on(async {
        let mut host = PluginHost::new(HostConfig {
            routes,
            ..HostConfig::default()
        })
        .expect("plugin host");
        host.load_dir(switchboard_plugin_artifacts::plugins_dir())
            .await
            .expect("plugins");
        host
    });
    let plugin = sandbox.get(&semrush).expect("semrush loaded").clone();
    let input = json!({"phrase": "seo", "database": "us"});
    let client = reqwest::Client::new();
    let direct = format!(
        "http://{}/?type=phrase_this&export_columns=Ph%2CNq%2CCp%2CCo%2CNr%2CTd&display_limit=10&phrase=seo&database=us&key={KEY}",
        running.addr
    );

    let mut group = c.benchmark_group("invoke");
    group.bench_function("direct_reqwest", |b| {
        b.to_async(&runtime).iter(|| async {
            let body = client
                .get(&direct)
                .send()
                .await
                .expect("get")
                .text()
                .await
                .expect("body");
            assert!(body.starts_with("Keyword;"));
        })
    });
    group.bench_function("engine", |b| {
        b.to_async(&runtime).iter(|| async {
            let out = engine
                .invoke(&actor, &semrush, "keyword_overview", &input)
                .await
                .expect("invoke");
            assert_eq!(out["rows"][0]["keyword"], "seo");
        })
    });
    group.bench_function("sandbox", |b| {
        b.to_async(&runtime).iter(|| async {
            let credential = Credential {
                secret: Secret::new(KEY),
                placement: Placement::Query("key".into()),
            };
            let out = sandbox
                .invoke(&plugin, Some(credential), "keyword_overview", &input)
                .await
                .expect("sandbox invoke");
            assert_eq!(out["rows"][0]["keyword"], "seo");
        })
    });
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
}
