//! The plugin host's own costs, each next to its baseline in the same run:
//! a call that is all instantiation (the hostile test plugin's `ok` action,
//! no HTTP) with the pooling allocator vs on demand; and opening a host on
//! the three first-party components, and on fifty distinct connectors, from
//! the compiled-artefact cache vs compiling them.

mod support;

use criterion::{Criterion, criterion_group};
use serde_json::json;
use switchboard::model::Settings;
use switchboard::plugins::{HostConfig, LoadOutcome, PluginHost};

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
            b.to_async(&runtime).iter(|| async {
                host.invoke(&plugin, &Settings::new(), None, "ok", &input)
                    .await
                    .expect("ok")
            })
        });
    }
    group.finish();
}

/// The fleet test component's id, rewritten in each copy.
const FLEET_MARKER: &[u8] = b"fleet-member-0000";

/// A directory of `n` distinct connectors: copies of the fleet component,
/// each with its own id (same width, so the component stays valid) and so
/// its own bytes, compiled and cached separately.
fn fleet(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("fleet dir");
    let original =
        std::fs::read(switchboard_plugin_artifacts::test_plugin("fleet")).expect("fleet");
    let at: Vec<usize> = original
        .windows(FLEET_MARKER.len())
        .enumerate()
        .filter(|(_, w)| *w == FLEET_MARKER)
        .map(|(i, _)| i)
        .collect();
    assert!(!at.is_empty(), "the fleet component lost its id marker");
    for member in 0..n {
        let id = format!("fleet-member-{member:04}");
        let mut copy = original.clone();
        for &i in &at {
            copy[i..i + FLEET_MARKER.len()].copy_from_slice(id.as_bytes());
        }
        std::fs::write(dir.path().join(format!("{id}.wasm")), copy).expect("write copy");
    }
    dir
}

/// Opening a plugin host on a directory: compiling every component, or
/// loading each from the compiled-artefact cache (warmed first).
fn open(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let fleet = fleet(50);
    for (group, plugins, count) in [
        (
            "open_3_plugins",
            switchboard_plugin_artifacts::plugins_dir(),
            3,
        ),
        ("open_50_plugins", fleet.path(), 50),
    ] {
        let cache = tempfile::tempdir().expect("cache dir");
        let load = |cache_dir: Option<std::path::PathBuf>| {
            runtime.block_on(async {
                let host = PluginHost::new(HostConfig {
                    cache_dir,
                    ..HostConfig::default()
                })
                .expect("host");
                let loaded = host.load_dir(plugins).await.expect("load");
                assert_eq!(
                    loaded
                        .iter()
                        .filter(|o| matches!(o, LoadOutcome::Loaded { .. }))
                        .count(),
                    count,
                    "{loaded:?}"
                );
            })
        };
        load(Some(cache.path().to_owned()));
        let mut group = c.benchmark_group(group);
        group.sample_size(10);
        group.bench_function("compile", |b| b.iter(|| load(None)));
        group.bench_function("cached", |b| b.iter(|| load(Some(cache.path().to_owned()))));
        group.finish();
    }
}

criterion_group!(benches, instantiate, open);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    support::print_ratio("instantiate", "pooled", "on_demand");
    support::print_ratio("open_3_plugins", "cached", "compile");
    support::print_ratio("open_50_plugins", "cached", "compile");
}
