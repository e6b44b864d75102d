//! The plugin host's own costs, each next to its baseline in the same run:
//! a call that is all instantiation (the hostile test plugin's `ok` action,
//! no HTTP) with the pooling allocator vs on demand; and loading the two
//! first-party components from the compiled-artefact cache vs compiling them.

mod support;

use criterion::{Criterion, criterion_group};
use serde_json::json;
use switchboard::plugins::{HostConfig, PluginHost};

fn instantiate(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let component = switchboard_plugin_artifacts::test_plugin("hostile");
    let host = |on_demand_instances| {
        runtime.block_on(async {
            let mut host = PluginHost::new(HostConfig {
                on_demand_instances,
                ..HostConfig::default()
            })
            .expect("host");
            let plugin = host.load_file(&component).await.expect("load");
            (host, plugin)
        })
    };
    let input = json!({});
    let mut group = c.benchmark_group("instantiate");
    for (name, on_demand) in [("on_demand", true), ("pooled", false)] {
        let (host, plugin) = host(on_demand);
        group.bench_function(name, |b| {
            b.to_async(&runtime)
                .iter(|| async { host.invoke(&plugin, None, "ok", &input).await.expect("ok") })
        });
    }
    group.finish();
}

fn open(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let plugins = switchboard_plugin_artifacts::plugins_dir();
    let cache = tempfile::tempdir().expect("cache dir");
    let load = |cache_dir: Option<std::path::PathBuf>| {
        runtime.block_on(async {
            let mut host = PluginHost::new(HostConfig {
                cache_dir,
                ..HostConfig::default()
            })
            .expect("host");
            let loaded = host.load_dir(plugins).await.expect("load");
            assert_eq!(loaded.len(), 2);
        })
    };
    load(Some(cache.path().to_owned()));
    let mut group = c.benchmark_group("open_2_plugins");
    group.sample_size(10);
    group.bench_function("compile", |b| b.iter(|| load(None)));
    group.bench_function("cached", |b| b.iter(|| load(Some(cache.path().to_owned()))));
    group.finish();
}

criterion_group!(benches, instantiate, open);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    support::print_ratio("instantiate", "pooled", "on_demand");
    support::print_ratio("open_2_plugins", "cached", "compile");
}
