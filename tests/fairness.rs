//! One plugin spinning in every sandbox it may have must not slow another
//! plugin's calls: a ratio measured in the test, against the same calls
//! without the attack. Alone in its binary, so other tests' work does not
//! count against either side.

use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use switchboard::Engine;
use switchboard_e2e::*;

const SEMRUSH_KEY: &str = "semrush-fairness-key-1a2b3c";

/// The 99th percentile of `calls` normal calls (Semrush through the engine).
async fn normal_p99(engine: &Engine, calls: usize) -> Duration {
    let mut took = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        let out = bob_looks_up_seo(engine).await.unwrap();
        took.push(started.elapsed());
        assert_eq!(out["rows"][0]["keyword"], "seo");
    }
    took.sort();
    took[(calls * 99).div_ceil(100) - 1]
}

/// Members keep the hostile plugin's every sandbox spinning (each call
/// until its CPU budget stops it) until `stop`; the number of calls made.
fn attack(engine: &Arc<Engine>, stop: &Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<u32>> {
    (0..4)
        .map(|i| {
            let (engine, stop) = (engine.clone(), stop.clone());
            tokio::spawn(async move {
                let attacker = actor(
                    &format!("mallory{i}"),
                    "acme",
                    switchboard::model::Role::Member,
                );
                let mut spins = 0;
                while !stop.load(Ordering::Relaxed) {
                    let err = engine
                        .invoke(&attacker, &id("hostile"), "spin", &json!({}))
                        .await
                        .unwrap_err();
                    assert!(err.to_string().contains("CPU time"), "{err}");
                    spins += 1;
                }
                spins
            })
        })
        .collect()
}

/// The median of a few values.
fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_call_stays_fast_while_another_plugin_spins_in_all_its_sandboxes() {
    let d = semrush_deployment(&[(SEMRUSH_KEY, 1_000_000)], &["hostile"]).await;
    let engine = Arc::new(d.engine);
    share_key(&engine, &admin(), &id("semrush"), SEMRUSH_KEY).await;
    share_key(&engine, &admin(), &id("hostile"), "hostile-key").await;
    normal_p99(&engine, 20).await; // warm up

    // Rounds without and with the attack, alternated, so the machine's
    // other load falls on both sides alike; the median round of each.
    let (mut quiet, mut attacked, mut spins) = (Vec::new(), Vec::new(), 0);
    for _ in 0..9 {
        quiet.push(normal_p99(&engine, 150).await);
        let stop = Arc::new(AtomicBool::new(false));
        let attackers = attack(&engine, &stop);
        tokio::time::sleep(Duration::from_millis(50)).await;
        attacked.push(normal_p99(&engine, 150).await);
        stop.store(true, Ordering::Relaxed);
        for attacker in attackers {
            spins += attacker.await.unwrap();
        }
    }
    let (quiet, attacked) = (median(quiet), median(attacked));
    let ratio = attacked.as_secs_f64() / quiet.as_secs_f64();
    println!(
        "normal call p99: {quiet:?} quiet, {attacked:?} under attack ({spins} spinning calls): {ratio:.2}x"
    );
    assert!(spins >= 36, "the attack ran: {spins} spinning calls");
    // Seen here: 2.5x alone, 2.85x right after the crash test, over 3x in
    // a full run on this shared 2-core machine; starved calls would wait
    // for the spinning ones' whole CPU budgets, far beyond this bound.
    assert!(
        ratio <= 4.0,
        "p99 {attacked:?} under attack against {quiet:?}: {ratio:.2}x"
    );
}
