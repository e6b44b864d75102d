//! What the benchmarks share: where the target directory is, reading
//! criterion's medians back, and printing a subject's ratio to its baseline
//! from the same run.
#![allow(dead_code)] // each benchmark uses part of it

pub mod semrush;

use std::path::PathBuf;
use std::time::Duration;

/// The cargo target directory the benchmark runs from
/// (`<target>/release/deps/<bench>`).
pub fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// Criterion writes `<target>/criterion/<group>/<bench>/new/estimates.json`.
fn median_ns(group: &str, bench: &str) -> Option<f64> {
    let path = target_dir()
        .join("criterion")
        .join(group)
        .join(bench)
        .join("new/estimates.json");
    let estimates: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

/// Prints `subject / baseline` for two benchmarks of one group.
pub fn print_ratio(group: &str, subject: &str, baseline: &str) {
    print_ratio_across(group, (group, subject), (group, baseline));
}

/// Prints `subject / baseline` for benchmarks that may be in different
/// groups, each given as (group, benchmark).
pub fn print_ratio_across(label: &str, subject: (&str, &str), baseline: (&str, &str)) {
    match medians(subject, baseline) {
        Some((s, b)) => println!(
            "{label}: {} / {} = {:.3}×",
            named(subject, s),
            named(baseline, b),
            s / b
        ),
        None => println!("{label}: {NOT_FOUND}"),
    }
}

/// Prints `subject − baseline − also` in µs, each benchmark given as
/// (group, benchmark): what the subject adds per call (`also` is zero), or
/// what it adds beyond a known amount of other work.
pub fn print_difference(
    label: &str,
    subject: (&str, &str),
    baseline: (&str, &str),
    also: Duration,
) {
    let also_us = also.as_secs_f64() * 1e6;
    let minus_also = if also.is_zero() {
        String::new()
    } else {
        format!(" − {also_us:.0} µs")
    };
    match medians(subject, baseline) {
        Some((s, b)) => println!(
            "{label}: {} − {}{minus_also} = {:.2} µs",
            named(subject, s),
            named(baseline, b),
            (s - b) / 1e3 - also_us
        ),
        None => println!("{label}: {NOT_FOUND}"),
    }
}

const NOT_FOUND: &str = "medians not found (run without --test to measure)";

fn medians(subject: (&str, &str), baseline: (&str, &str)) -> Option<(f64, f64)> {
    Some((
        median_ns(subject.0, subject.1)?,
        median_ns(baseline.0, baseline.1)?,
    ))
}

/// `group/bench median 1.23 µs`.
fn named((group, bench): (&str, &str), median_ns: f64) -> String {
    format!("{group}/{bench} median {:.2} µs", median_ns / 1e3)
}

/// The PostgreSQL server the benchmarks also measure on, when set (as
/// `tests/postgres/run cargo bench …` sets it); its user creates databases.
pub fn postgres_server() -> Option<String> {
    std::env::var("TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// The URL of database `name` on `server`.
pub fn database_url(server: &str, name: &str) -> String {
    let mut url = url::Url::parse(server).expect("TEST_POSTGRES_URL is a URL");
    url.set_path(name);
    url.to_string()
}

/// Runs `sql` with psql (Debian's postgresql-client) and returns what it
/// printed, unaligned and without headers.
pub fn psql(url: &str, sql: &str) -> String {
    let output = std::process::Command::new("psql")
        .args([
            url,
            "-X",
            "-A",
            "-t",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .expect("psql (Debian's postgresql-client) runs");
    assert!(
        output.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// An empty database `name` on `server` (dropped first if it exists): its
/// URL. Names are the benchmarks' own constants, so quoting them is enough.
pub fn fresh_database(server: &str, name: &str) -> String {
    psql(
        server,
        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    );
    psql(server, &format!("CREATE DATABASE \"{name}\""));
    database_url(server, name)
}

/// CPU time used so far by the PostgreSQL server's processes on this
/// machine (the benchmark's server is the only one), from /proc: what the
/// database spends on each operation, for the capacity estimate. A
/// process's own time and its waited-for children's are both counted, so a
/// backend that exits between two readings still counts (the postmaster
/// reaps it); take differences with `saturating_sub`.
pub fn postgres_cpu() -> Duration {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .filter(|stat| stat.contains(" (postgres) "))
        .filter_map(|stat| cpu_of(&stat, 4))
        .sum()
}

/// CPU time used so far by this process, every thread of it (user and
/// system), from /proc; to the 10 ms the kernel counts in.
pub fn process_cpu() -> Duration {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| cpu_of(&stat, 2))
        .unwrap_or_default()
}

/// The sum of the first `fields` of utime, stime, cutime and cstime in a
/// `/proc/<pid>/stat` line.
fn cpu_of(stat: &str, fields: usize) -> Option<Duration> {
    // After "pid (comm) ": state is the first field, then utime, stime,
    // cutime and cstime are the twelfth to fifteenth (proc(5)).
    let after_name: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
    let ticks = (11..11 + fields)
        .map(|i| after_name.get(i)?.parse::<u64>().ok())
        .sum::<Option<u64>>()?;
    // Linux counts in clock ticks of 1/100 s (USER_HZ).
    Some(Duration::from_millis(ticks * 10))
}
