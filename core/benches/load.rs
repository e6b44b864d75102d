//! Integration calls under load, as host applications feel them: Semrush
//! `keyword_overview` through the engine next to direct `reqwest` GETs of
//! the same report from the same loopback mock, in the same run.
//!
//! 1. Saturation: 64 callers at once, each a task on the default
//!    multi-thread runtime, calling back to back: calls per second, and the
//!    process's CPU per call.
//! 2. A realistic upstream: the same 64 callers, the mock answering each
//!    report after 20 ms: p50 and p99 of a call.
//! 3. One thread: everything (callers, mock, connections) on one thread,
//!    one call at a time: the CPU each call costs, and what the engine
//!    adds to the direct call's.
//!
//! Engine and direct rounds alternate, so both see the same machine; each
//! figure is the median of the rounds. Run without `--bench` (as by
//! `cargo test --benches`), it makes one short round of each, to check that
//! it works.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};
use support::semrush::{Fixture, MOST_AT_ONCE, Round, Way, round};
use switchboard::Location;
use switchboard::metrics::CallPhase;
use tokio::runtime::Runtime;

/// Callers at once in the saturation and upstream rounds.
const CALLERS: usize = MOST_AT_ONCE;
/// How long the mock takes to answer in the upstream rounds.
const UPSTREAM_TIME: Duration = Duration::from_millis(20);

/// How long rounds last and how many there are of each.
#[derive(Clone, Copy)]
struct Rounds {
    length: Duration,
    count: usize,
}

/// Alternating rounds of each way, the callers' first calls spread over
/// `spread`: (direct rounds, engine rounds).
fn alternating(
    runtime: &Runtime,
    fixture: &Arc<Fixture>,
    rounds: Rounds,
    spread: Duration,
) -> (Vec<Round>, Vec<Round>) {
    // A short round each first, so connections are open and pools warm.
    let run = |way, length| round(runtime, fixture, way, CALLERS, (length, spread));
    for way in [Way::Direct, Way::Engine] {
        run(way, rounds.length / 3);
    }
    let (mut direct, mut engine) = (Vec::new(), Vec::new());
    for _ in 0..rounds.count {
        direct.push(run(Way::Direct, rounds.length));
        engine.push(run(Way::Engine, rounds.length));
    }
    (direct, engine)
}

fn median(rounds: &[Round], figure: impl Fn(&Round) -> f64) -> f64 {
    let mut figures: Vec<f64> = rounds.iter().map(figure).collect();
    figures.sort_by(f64::total_cmp);
    figures[figures.len() / 2]
}

/// One call at a time on a one-thread runtime for `length`: the process's
/// CPU per call.
fn one_thread_cpu_per_call_us(
    runtime: &Runtime,
    fixture: &Fixture,
    way: Way,
    length: Duration,
) -> f64 {
    runtime.block_on(async {
        let cpu_before = support::process_cpu();
        let deadline = Instant::now() + length;
        let mut calls = 0u32;
        while Instant::now() < deadline {
            way.call(fixture).await;
            calls += 1;
        }
        let cpu = support::process_cpu().saturating_sub(cpu_before);
        cpu.as_secs_f64() * 1e6 / f64::from(calls.max(1))
    })
}

fn main() {
    // As criterion does: `cargo bench` passes `--bench`; anything else (a
    // `cargo test --benches`) only checks that it works.
    let testing = !std::env::args().any(|a| a == "--bench");
    let rounds = if testing {
        Rounds {
            length: Duration::from_millis(300),
            count: 1,
        }
    } else {
        Rounds {
            length: Duration::from_secs(3),
            count: 5,
        }
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = dir.path().join("compiled");
    let data = |name: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(&path).expect("fixture dir");
        (Location::File(path.join("bench.redb")), path)
    };

    // The default runtime: one worker per core, as `switchboard serve` runs.
    let runtime = Runtime::new().expect("runtime");
    let (location, path) = data("many");
    let fixture = Arc::new(runtime.block_on(Fixture::start(location, &path, &cache)));

    let (direct, engine) = alternating(&runtime, &fixture, rounds, Duration::ZERO);
    let (direct_rate, engine_rate) = (
        median(&direct, Round::calls_per_second),
        median(&engine, Round::calls_per_second),
    );
    println!(
        "load/saturation, {CALLERS} callers: direct {direct_rate:.0} calls/s ({:.1} µs CPU per call), engine {engine_rate:.0} calls/s ({:.1} µs CPU per call): engine / direct = {:.3}×",
        median(&direct, Round::cpu_per_call_us),
        median(&engine, Round::cpu_per_call_us),
        engine_rate / direct_rate
    );

    // Requests from a host's users arrive independently, not all in the same
    // instant: the callers start spread over one answer's time.
    fixture.mock.answer_reports_after(UPSTREAM_TIME);
    let (direct, engine) = alternating(&runtime, &fixture, rounds, UPSTREAM_TIME);
    let percentiles = |rounds: &[Round]| {
        (
            median(rounds, |r| r.percentile_ms(0.5)),
            median(rounds, |r| r.percentile_ms(0.99)),
        )
    };
    let ((direct_p50, direct_p99), (engine_p50, engine_p99)) =
        (percentiles(&direct), percentiles(&engine));
    println!(
        "load/upstream {} ms, {CALLERS} callers: direct p50 {direct_p50:.2} ms, p99 {direct_p99:.2} ms ({:.0} calls/s); engine p50 {engine_p50:.2} ms, p99 {engine_p99:.2} ms ({:.0} calls/s): p50 {:.3}×, p99 {:.3}×",
        UPSTREAM_TIME.as_millis(),
        median(&direct, Round::calls_per_second),
        median(&engine, Round::calls_per_second),
        engine_p50 / direct_p50,
        engine_p99 / direct_p99
    );
    drop(fixture);
    drop(runtime);

    let one_thread = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (location, path) = data("one-thread");
    let fixture = one_thread.block_on(Fixture::start(location, &path, &cache));
    let (mut direct, mut engine) = (Vec::new(), Vec::new());
    for way in [Way::Direct, Way::Engine] {
        one_thread_cpu_per_call_us(&one_thread, &fixture, way, rounds.length / 3);
    }
    let phases_before = phase_totals(&fixture);
    for _ in 0..rounds.count {
        direct.push(one_thread_cpu_per_call_us(
            &one_thread,
            &fixture,
            Way::Direct,
            rounds.length,
        ));
        engine.push(one_thread_cpu_per_call_us(
            &one_thread,
            &fixture,
            Way::Engine,
            rounds.length,
        ));
    }
    let phases = phase_totals(&fixture).into_iter().zip(phases_before).map(
        |((phase, seconds, count), (_, seconds_before, count_before))| {
            let calls = (count - count_before).max(1.0);
            (phase, (seconds - seconds_before) * 1e6 / calls)
        },
    );
    direct.sort_by(f64::total_cmp);
    engine.sort_by(f64::total_cmp);
    let (direct, engine) = (direct[direct.len() / 2], engine[engine.len() / 2]);
    println!(
        "load/one thread, CPU per call: direct {direct:.1} µs, engine {engine:.1} µs: the engine adds {:.1} µs = {:.2}× the direct call's",
        engine - direct,
        (engine - direct) / direct
    );
    let mut accounted = 0.0;
    let mut breakdown = String::new();
    for (phase, us) in phases {
        accounted += us;
        breakdown.push_str(&format!("{phase} {us:.1} µs, "));
    }
    println!(
        "load/one thread, the engine's call by phase (wall time, the engine's own metrics): {breakdown}the rest (fairness, metering, metrics, scheduling, dropping the instance) {:.1} µs",
        engine - accounted
    );
}

/// Each phase's total seconds and count so far, in order, as the engine's
/// metrics page shows them (`switchboard_call_phase_seconds_sum{phase=…}`).
fn phase_totals(fixture: &Fixture) -> Vec<(&'static str, f64, f64)> {
    let page = fixture.engine.metrics().render();
    let value = |series: &str, phase: &str| {
        let name = format!("switchboard_call_phase_seconds_{series}{{phase=\"{phase}\"}} ");
        page.lines()
            .find_map(|line| line.strip_prefix(&name)?.trim().parse().ok())
            .unwrap_or(0.0)
    };
    CallPhase::ALL
        .iter()
        .map(|phase| {
            let name = phase.name();
            (name, value("sum", name), value("count", name))
        })
        .collect()
}
