//! What the benchmarks share: reading criterion's medians back and
//! printing a subject's ratio to its baseline from the same run.

use std::path::PathBuf;

/// Criterion writes `<target>/criterion/<group>/<bench>/new/estimates.json`.
fn median_ns(group: &str, bench: &str) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let target: PathBuf = exe.ancestors().nth(3)?.to_owned();
    let path = target
        .join("criterion")
        .join(group)
        .join(bench)
        .join("new/estimates.json");
    let estimates: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

pub fn print_ratio(group: &str, subject: &str, baseline: &str) {
    match (median_ns(group, subject), median_ns(group, baseline)) {
        (Some(s), Some(b)) => println!(
            "{group}: {subject} median {:.2} µs / {baseline} median {:.2} µs = {:.2}×",
            s / 1e3,
            b / 1e3,
            s / b
        ),
        _ => println!("{group}: medians not found (run without --test to measure)"),
    }
}
