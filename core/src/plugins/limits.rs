//! The limits every plugin call runs under, and the accounting that
//! enforces them: memory and tables per store, CPU time in epoch ticks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use wasmtime::ResourceLimiter;

/// How often the engine's epoch advances: the granularity of CPU budgets.
pub(super) const EPOCH_TICK: Duration = Duration::from_millis(2);

/// Bounds on one plugin call. The defaults suit connectors that make a few
/// HTTP requests and parse their answers.
#[derive(Debug, Clone)]
pub struct SandboxLimits {
    /// Guest CPU time per call (counted in epoch ticks while guest code runs).
    pub cpu_time: Duration,
    /// Wall time per call, including time spent waiting on HTTP.
    pub wall_time: Duration,
    /// Wall time of `describe` when a component loads: it only builds its
    /// manifest, so a short budget keeps one slow component from holding
    /// up start-up.
    pub describe_time: Duration,
    /// Linear memory per memory of the component.
    pub memory_bytes: usize,
    /// The guest's stack.
    pub stack_bytes: usize,
    /// Calls running at once across all plugins (sizes the instance pool).
    pub concurrent_calls: u32,
    /// Calls of one plugin running at once; more are refused at once, so
    /// one plugin cannot take the whole pool from the others.
    pub calls_per_plugin: u32,
    /// Outgoing HTTP requests per call, redirects included.
    pub requests_per_call: u32,
    /// Largest request body a plugin may send.
    pub request_body_bytes: usize,
    /// Largest response body handed to a plugin.
    pub response_body_bytes: usize,
    /// Wall time of one HTTP request.
    pub request_timeout: Duration,
    /// Redirect hops followed per request.
    pub redirects: u32,
    /// Log lines kept per call (more are dropped).
    pub log_lines_per_call: u32,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            cpu_time: Duration::from_secs(2),
            wall_time: Duration::from_secs(30),
            describe_time: Duration::from_secs(2),
            memory_bytes: 64 << 20,
            stack_bytes: 512 << 10,
            concurrent_calls: 64,
            calls_per_plugin: 16,
            requests_per_call: 32,
            request_body_bytes: 4 << 20,
            response_body_bytes: 8 << 20,
            request_timeout: Duration::from_secs(15),
            redirects: 5,
            log_lines_per_call: 100,
        }
    }
}

/// Why a call was stopped by the sandbox rather than failing on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Exhausted {
    /// The call used up its CPU time.
    Cpu,
    /// The call tried to grow a memory past its limit.
    Memory,
}

/// Bounds memory and tables per store, counts the call's CPU ticks, and
/// remembers which limit it hit so the call's error can say why it failed.
pub(super) struct Limiter {
    /// The most linear memory each memory may grow to.
    memory_bytes: usize,
    /// A memory growth was refused.
    memory_exceeded: bool,
    /// The CPU budget, in epoch ticks.
    cpu_ticks: u64,
    /// Epoch ticks the guest has run for so far.
    cpu_ticks_spent: u64,
    /// The CPU budget ran out.
    cpu_exhausted: bool,
}

impl Limiter {
    /// A limiter for one call, with none of its budget spent.
    pub(super) fn new(limits: &SandboxLimits) -> Self {
        Limiter {
            memory_bytes: limits.memory_bytes,
            memory_exceeded: false,
            cpu_ticks: ticks(limits.cpu_time),
            cpu_ticks_spent: 0,
            cpu_exhausted: false,
        }
    }

    /// Counts one epoch tick of guest CPU time; false once the budget is spent.
    pub(super) fn tick(&mut self) -> bool {
        self.cpu_ticks_spent += 1;
        self.cpu_exhausted = self.cpu_ticks_spent > self.cpu_ticks;
        !self.cpu_exhausted
    }

    /// Epoch ticks the guest has run for so far.
    pub(super) fn ticks_spent(&self) -> u64 {
        self.cpu_ticks_spent
    }

    /// What stopped the call, if a limit did.
    pub(super) fn exhausted(&self) -> Option<Exhausted> {
        self.cpu_exhausted
            .then_some(Exhausted::Cpu)
            .or(self.memory_exceeded.then_some(Exhausted::Memory))
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.memory_bytes;
        self.memory_exceeded |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    // A Rust component needs 3 core instances, 1 memory and 2 tables.
    fn instances(&self) -> usize {
        16
    }

    fn tables(&self) -> usize {
        8
    }

    fn memories(&self) -> usize {
        4
    }
}

/// A CPU budget in epoch ticks, at least one.
fn ticks(budget: Duration) -> u64 {
    (budget.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}

/// Advance the engine's epoch until the engine is dropped, counting each
/// tick in `ticks` too (the epoch itself cannot be read back).
pub(super) fn start_epoch_ticker(
    engine: &wasmtime::Engine,
    ticks: Arc<AtomicU64>,
) -> std::io::Result<()> {
    let engine = engine.weak();
    std::thread::Builder::new()
        .name("switchboard-epoch".into())
        .spawn(move || {
            while let Some(engine) = engine.upgrade() {
                engine.increment_epoch();
                ticks.fetch_add(1, Ordering::Relaxed);
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map(drop)
}
