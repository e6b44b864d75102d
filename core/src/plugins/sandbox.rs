//! The limits every plugin call runs under, and the per-call store state.

use super::http::CallHttp;
use std::time::Duration;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// How often the engine's epoch advances: the granularity of CPU budgets.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Bounds on one plugin call. The defaults suit connectors that make a few
/// HTTP requests and parse their answers.
#[derive(Debug, Clone)]
pub struct SandboxLimits {
    /// Guest CPU time per call (counted in epoch ticks while guest code runs).
    pub cpu_time: Duration,
    /// Wall time per call, including time spent waiting on HTTP.
    pub wall_time: Duration,
    /// Linear memory per memory of the component.
    pub memory_bytes: usize,
    /// The guest's stack.
    pub stack_bytes: usize,
    /// Calls running at once across all plugins (sizes the instance pool).
    pub concurrent_calls: u32,
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
            memory_bytes: 64 << 20,
            stack_bytes: 512 << 10,
            concurrent_calls: 64,
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
pub enum Exhausted {
    Cpu,
    Memory,
}

/// A store's data: an empty WASI context and the call's HTTP gate.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    pub(super) http: CallHttp,
    pub(super) plugin_id: String,
    pub(super) log_lines_left: u32,
    pub(super) exhausted: Option<Exhausted>,
}

impl HostState {
    pub fn new(plugin_id: &str, http: CallHttp, limits: &SandboxLimits) -> Self {
        HostState {
            // No preopens, no environment, no args, stdin closed, output
            // discarded, sockets and name lookup denied.
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limiter: Limiter {
                memory_bytes: limits.memory_bytes,
                exceeded: false,
            },
            http,
            plugin_id: plugin_id.to_owned(),
            log_lines_left: limits.log_lines_per_call,
            exhausted: None,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Bounds memory and tables per store, and remembers a refused growth so
/// the call's error can say why it failed.
struct Limiter {
    memory_bytes: usize,
    exceeded: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.memory_bytes;
        self.exceeded |= !allowed;
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

/// Apply the per-call limits to a fresh store.
pub fn limit(store: &mut Store<HostState>, limits: &SandboxLimits) {
    store.limiter(|state| &mut state.limiter);
    let budget = ticks(limits.cpu_time);
    let mut spent = 0u64;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |mut ctx| {
        spent += 1;
        if spent > budget {
            ctx.data_mut().exhausted = Some(Exhausted::Cpu);
            Ok(UpdateDeadline::Interrupt)
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
}

/// What stopped the call, if the sandbox did.
pub fn exhaustion(store: &Store<HostState>) -> Option<Exhausted> {
    let state = store.data();
    state
        .exhausted
        .or(state.limiter.exceeded.then_some(Exhausted::Memory))
}

fn ticks(budget: Duration) -> u64 {
    (budget.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}

/// Advance the engine's epoch until the engine is dropped.
pub fn start_epoch_ticker(engine: &wasmtime::Engine) -> std::io::Result<()> {
    let engine = engine.weak();
    std::thread::Builder::new()
        .name("switchboard-epoch".into())
        .spawn(move || {
            while let Some(engine) = engine.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map(drop)
}
