//! The plugins directory is watched: a component added, replaced or removed
//! takes effect without a restart, while members' calls run. Calls in
//! flight finish on the component they started on; an upgrade that asks
//! for more is held for approval, as at a restart; a removed plugin's
//! enablement and key wait for its return.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use switchboard::Engine;
use switchboard_e2e::*;

const KEY: &str = "shapeshifter-key-1";

/// Waits (at most 10 s) until the catalogue says `what`.
async fn until(engine: &Engine, what: &str, done: impl Fn(&[(String, String)]) -> bool) {
    let started = Instant::now();
    loop {
        let catalog: Vec<(String, String)> = engine
            .integrations()
            .into_iter()
            .map(|m| (m.id.to_string(), m.version))
            .collect();
        if done(&catalog) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what} within 10 s: {catalog:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn has(catalog: &[(String, String)], id: &str, version: &str) -> bool {
    catalog.iter().any(|(i, v)| i == id && v == version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_added_replaced_and_removed_take_effect_while_calls_run() {
    let h = Harness::new();
    h.install_shape("plain", "shapeshifter.wasm");
    let engine = Arc::new(h.engine().await);
    share_key(&engine, &admin(), &id("shapeshifter"), KEY).await;

    // Members call all along; not one call may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let callers: Vec<_> = (0..3)
        .map(|_| {
            let (engine, stop) = (engine.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut calls, mut failures) = (0, Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    if let Err(e) = run_shapeshifter(&engine).await {
                        failures.push(e);
                    }
                    calls += 1;
                }
                (calls, failures)
            })
        })
        .collect();

    h.install(&switchboard_plugin_artifacts::test_plugin("legacy"));
    until(&engine, "legacy added", |c| has(c, "legacy", "0.2.0")).await;
    // A new version asking for the same: it carries on at once.
    h.install_shape("v2-same", "shapeshifter.wasm");
    until(&engine, "shapeshifter 0.0.2", |c| {
        has(c, "shapeshifter", "0.0.2")
    })
    .await;
    std::fs::remove_file(h.plugins_dir().join("legacy.wasm")).unwrap();
    until(&engine, "legacy removed", |c| {
        c.iter().all(|(i, _)| i != "legacy")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for caller in callers {
        let (calls, failures) = caller.await.unwrap();
        assert!(failures.is_empty(), "{failures:?}");
        total += calls;
    }
    assert!(total >= 30, "calls ran throughout: {total}");
    let report: Vec<String> = engine
        .load_report()
        .iter()
        .map(|o| format!("{o:?}"))
        .collect();
    assert_eq!(report.len(), 1, "{report:?}");
}

#[tokio::test]
async fn a_removed_plugin_is_refused_clearly_and_returns_enabled_and_an_upgrade_asking_more_is_held()
 {
    let h = Harness::new();
    h.install_shape("plain", "shapeshifter.wasm");
    let engine = h.engine().await;
    share_key(&engine, &admin(), &id("shapeshifter"), KEY).await;
    assert!(run_shapeshifter(&engine).await.is_ok());

    let file = h.plugins_dir().join("shapeshifter.wasm");
    let kept = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    until(&engine, "shapeshifter removed", |c| c.is_empty()).await;
    assert_eq!(
        run_shapeshifter(&engine).await.unwrap_err(),
        "no integration `shapeshifter` is loaded"
    );
    assert!(engine.team_integrations(&admin()).unwrap().is_empty());

    // Back: enabled, its key in place, without an admin.
    std::fs::write(&file, &kept).unwrap();
    until(&engine, "shapeshifter back", |c| {
        has(c, "shapeshifter", "0.0.1")
    })
    .await;
    assert!(run_shapeshifter(&engine).await.is_ok());

    // A broken build dropped over it is refused; the working one stays.
    std::fs::write(&file, b"not a component").unwrap();
    let started = Instant::now();
    while !engine
        .load_report()
        .iter()
        .any(|o| matches!(o, switchboard::plugins::LoadOutcome::Refused { .. }))
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never reloaded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(run_shapeshifter(&engine).await.is_ok());

    // An upgrade that sends the key to one more host: held until approved.
    h.install_shape("v2-more-hosts", "shapeshifter.wasm");
    let started = Instant::now();
    let err = loop {
        match run_shapeshifter(&engine).await {
            Err(e) => break e,
            Ok(_) => {
                assert!(started.elapsed() < Duration::from_secs(10), "never held");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert!(
        err.starts_with("shapeshifter now asks for more than an admin approved"),
        "{err}"
    );
}
