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
//!
//! When `TEST_POSTGRES_URL` names a PostgreSQL server (`tests/postgres/run
//! cargo bench -p switchboard-benches --bench invoke`), the engine also runs
//! on a database there: `invoke_postgres/engine` next to `invoke/engine`,
//! and the calls per second of 8 callers at once on each backend.

mod support;

use criterion::{BenchmarkGroup, Criterion, criterion_group, measurement::WallTime};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::semrush::{Fixture, Way, round};
use switchboard::Location;
use tokio::runtime::Runtime;

const OTHER_WORK: Duration = Duration::from_micros(40);
/// Callers at once in the throughput rounds: a member's share by default.
const CALLERS: usize = 8;
const THROUGHPUT_ROUND: Duration = Duration::from_secs(3);
const THROUGHPUT_ROUNDS: usize = 3;

/// Calls per second through the engine with `CALLERS` callers at once, each
/// a task on `runtime` as a server's requests are: the median of
/// `THROUGHPUT_ROUNDS` rounds, and the calls made in all.
fn calls_per_second(runtime: &Runtime, fixture: &Arc<Fixture>) -> (f64, u32) {
    let mut total = 0;
    let mut rounds: Vec<f64> = (0..THROUGHPUT_ROUNDS)
        .map(|_| {
            let round = round(
                runtime,
                fixture,
                Way::Engine,
                CALLERS,
                (THROUGHPUT_ROUND, Duration::ZERO),
            );
            total += round.latencies.len() as u32;
            round.calls_per_second()
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    (rounds[THROUGHPUT_ROUNDS / 2], total)
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
    let redb = |name: &str| Location::File(subdir(name).join("bench.redb"));
    let fixture =
        Arc::new(runtime.block_on(Fixture::start(redb("worker"), &subdir("worker"), &cache)));
    let mut group = c.benchmark_group("invoke");
    rows(&mut group, &runtime, &fixture);
    group.bench_function("direct_reqwest_after_other_work", |b| {
        b.to_async(&runtime).iter(|| async {
            other_work();
            fixture.direct_get().await
        })
    });
    group.finish();
    let (redb_calls, _) = calls_per_second(&runtime, &fixture);
    println!("invoke: {redb_calls:.0} calls/s on redb ({CALLERS} callers at once)");
    drop(fixture);

    if let Some(server) = support::postgres_server() {
        let url = support::fresh_database(&server, "switchboard_bench_invoke");
        let dir = subdir("postgres");
        let fixture =
            Arc::new(runtime.block_on(Fixture::start(Location::parse(&url), &dir, &cache)));
        let mut group = c.benchmark_group("invoke_postgres");
        group.bench_function("engine", |b| {
            b.to_async(&runtime).iter(|| fixture.through_engine())
        });
        group.finish();
        let cpu_before = support::postgres_cpu();
        let (calls, made) = calls_per_second(&runtime, &fixture);
        let cpu = support::postgres_cpu().saturating_sub(cpu_before);
        println!(
            "invoke_postgres: {calls:.0} calls/s on PostgreSQL ({CALLERS} callers at once): {:.3}× redb's {redb_calls:.0}; the database's CPU per call {:.1} µs",
            calls / redb_calls,
            cpu.as_secs_f64() * 1e6 / f64::from(made)
        );
    }

    let one_thread = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let fixture = one_thread.block_on(Fixture::start(
        redb("one-thread"),
        &subdir("one-thread"),
        &cache,
    ));
    let mut group = c.benchmark_group("invoke_one_thread");
    rows(&mut group, &one_thread, &fixture);
    group.finish();
}

criterion_group!(benches, invoke);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    support::print_ratio("invoke", "engine", "direct_reqwest");
    if support::postgres_server().is_some() {
        support::print_ratio_across(
            "invoke on PostgreSQL",
            ("invoke_postgres", "engine"),
            ("invoke", "engine"),
        );
    }
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
