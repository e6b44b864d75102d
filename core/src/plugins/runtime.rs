//! The wasmtime runtime: the engine and its instance pool, the linker, the
//! store data of one call and the imports it serves, and running that call
//! within its limits.

use super::bindings::switchboard::connector::{
    http as wit_http, log as wit_log, settings as wit_settings, types as wit_types,
};
use super::bindings::{ConnectorPlugin, ConnectorPluginPre};
use super::contract_v0_2;
use super::credential::Credential;
use super::limits::{EPOCH_TICK, Exhausted, Limiter, SandboxLimits, start_epoch_ticker};
use super::network::HostPattern;
use super::transport::{CallHttp, HttpGate};
use super::{HostConfig, PluginError, Refusal};
use crate::model::Settings;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap,
    UpdateDeadline,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Bytes of each pooled memory reset by memset and kept resident.
const RESIDENT_MEMORY_BYTES: usize = 4 << 20;
/// Bytes of each pooled table reset by memset and kept resident.
const RESIDENT_TABLE_BYTES: usize = 64 << 10;

/// The most calls at once the instance pool is sized for (each reserves
/// address space for its memories and tables).
const MAX_CONCURRENT_CALLS: u32 = 10_000;

/// One call into a plugin.
pub(super) enum Call<'a> {
    /// Asks for the plugin's manifest.
    Describe,
    /// Asks whose account the call's credential belongs to.
    CheckCredential,
    /// Runs an action.
    Invoke {
        /// The action's name.
        action: &'a str,
        /// Its input, as JSON text.
        input: &'a str,
    },
}

/// What a call answered, one kind for each kind of call.
pub(super) enum Answer {
    /// `describe`'s manifest, not yet validated.
    Manifest(wit_types::Manifest),
    /// `check-credential`'s account, or why there is none.
    Account(Result<wit_types::Account, wit_types::ConnectorError>),
    /// `invoke`'s output as JSON text, or why there is none.
    Output(Result<String, wit_types::ConnectorError>),
}

impl Answer {
    /// The answer with `scrub` applied to every text it hands the caller:
    /// a plugin that somehow learnt the call's credential cannot return it.
    fn scrubbed(self, scrub: impl Fn(String) -> String) -> Self {
        use wit_types::ConnectorError as E;
        let error = |e: E| match e {
            E::InvalidInput(m) => E::InvalidInput(scrub(m)),
            E::Unauthorized(m) => E::Unauthorized(scrub(m)),
            E::RateLimited(r) => E::RateLimited(wit_types::RateLimited {
                message: scrub(r.message),
                ..r
            }),
            E::NotFound(m) => E::NotFound(scrub(m)),
            E::Upstream(m) => E::Upstream(scrub(m)),
            E::Internal(m) => E::Internal(scrub(m)),
        };
        match self {
            // `describe` runs without a credential.
            Answer::Manifest(manifest) => Answer::Manifest(manifest),
            Answer::Account(account) => Answer::Account(
                account
                    .map(|a| wit_types::Account {
                        label: scrub(a.label),
                        detail: a.detail.map(&scrub),
                    })
                    .map_err(error),
            ),
            Answer::Output(output) => Answer::Output(output.map(&scrub).map_err(error)),
        }
    }
}

/// A component linked against the host's imports, by the contract it was
/// built for.
pub(super) enum Linked {
    /// `switchboard:connector@0.3.0`.
    Latest(ConnectorPluginPre<HostState>),
    /// `switchboard:connector@0.2.0`.
    V0_2(contract_v0_2::ConnectorPluginPre<HostState>),
}

/// What one workspace's install of a plugin gives a call: the hosts it
/// may reach, with its settings in their names, and the settings.
pub(super) struct Install {
    pub(super) hosts: Arc<[HostPattern]>,
    pub(super) settings: Arc<Settings>,
}

/// Where the time of one call in a sandbox went.
#[derive(Debug, Clone, Copy, Default)]
pub struct SandboxTimes {
    /// Making the fresh instance.
    pub instantiate: Duration,
    /// In the host's HTTP gate: its checks, the requests, and waiting for
    /// the services' answers.
    pub http: Duration,
    /// The rest of the call: the guest's own work and crossing into it.
    pub guest: Duration,
    /// Checking the input, and the output, against the action's schemas.
    pub checks: Duration,
}

/// The engine, its linker, and what every call shares.
pub(super) struct Runtime {
    /// The engine components are compiled for and run on.
    pub(super) engine: Engine,
    /// Serves the imports of every component.
    linker: Linker<HostState>,
    /// The HTTP client, routes and limits every call shares.
    gate: Arc<HttpGate>,
    /// Bounds on each call.
    limits: SandboxLimits,
    /// Calls beyond the instance pool wait here rather than fail.
    slots: tokio::sync::Semaphore,
    /// Turns on the CPU for calls that keep it past their first ticks:
    /// fewer than the machine's cores, so short calls always find one.
    long_runners: Arc<CpuShares>,
    /// The epoch's ticks so far.
    ticks: Arc<AtomicU64>,
}

impl Runtime {
    /// An engine with an instance pool sized for the limits, and a linker
    /// that serves an empty WASI and the connector imports.
    pub(super) fn new(config: &HostConfig) -> Result<Self, PluginError> {
        let host_err = |e: wasmtime::Error| PluginError::Host(e.to_string());
        let limits = &config.limits;
        if !(1..=MAX_CONCURRENT_CALLS).contains(&limits.concurrent_calls) {
            return Err(PluginError::Host(format!(
                "concurrent_calls must be between 1 and {MAX_CONCURRENT_CALLS}, not {}",
                limits.concurrent_calls
            )));
        }
        let mut wasm = Config::new();
        wasm.epoch_interruption(true)
            .max_wasm_stack(limits.stack_bytes)
            .concurrency_support(false);
        let calls = limits.concurrent_calls;
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(calls)
            .total_core_instances(calls * 4)
            .total_memories(calls * 2)
            .total_tables(calls * 4)
            .total_stacks(calls)
            .max_memory_size(limits.memory_bytes)
            // Reset a slot's first pages with memset rather than madvise, so
            // the next call does not fault them back in one by one; a
            // connector's data, heap and stack fit well within this.
            .linear_memory_keep_resident(RESIDENT_MEMORY_BYTES)
            .table_keep_resident(RESIDENT_TABLE_BYTES)
            .pagemap_scan(wasmtime::Enabled::Auto);
        wasm.allocation_strategy(if config.on_demand_instances {
            InstanceAllocationStrategy::OnDemand
        } else {
            InstanceAllocationStrategy::Pooling(pool)
        });
        let engine = Engine::new(&wasm).map_err(host_err)?;
        let ticks = Arc::new(AtomicU64::new(0));
        start_epoch_ticker(&engine, ticks.clone()).map_err(|e| PluginError::Host(e.to_string()))?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(host_err)?;
        ConnectorPlugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(host_err)?;
        contract_v0_2::ConnectorPlugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(host_err)?;
        let gate = HttpGate::new(&config.routes, limits.clone())
            .map_err(|e| PluginError::Host(e.to_string()))?;
        Ok(Runtime {
            engine,
            linker,
            gate: Arc::new(gate),
            limits: limits.clone(),
            slots: tokio::sync::Semaphore::new(limits.concurrent_calls as usize),
            long_runners: Arc::new(CpuShares::new()),
            ticks,
        })
    }

    /// Links a component against the host's imports, ready to instantiate,
    /// by the contract it exports; the error says, for its author, what is
    /// missing.
    pub(super) fn prepare(&self, component: &Component) -> Result<Linked, Refusal> {
        let pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|e| Refusal::MissingImports(root_cause(&e)))?;
        match ConnectorPluginPre::new(pre.clone()) {
            Ok(latest) => Ok(Linked::Latest(latest)),
            Err(latest) => contract_v0_2::ConnectorPluginPre::new(pre)
                .map(Linked::V0_2)
                .map_err(|_| Refusal::WrongWorld(root_cause(&latest))),
        }
    }

    /// Instantiates the component in a fresh store and makes one call, bounded
    /// in CPU, memory, stack and wall time; says in `times` where its time
    /// went.
    pub(super) async fn run(
        &self,
        plugin: &str,
        pre: &Linked,
        install: Install,
        credential: Option<Credential>,
        call: Call<'_>,
        times: &mut SandboxTimes,
    ) -> Result<Answer, PluginError> {
        let limits = &self.limits;
        // A call waits for a free instance at most its wall time, then gets
        // its whole wall time to run.
        let _slot = match tokio::time::timeout(limits.wall_time, self.slots.acquire()).await {
            Ok(slot) => slot.map_err(|e| PluginError::Host(e.to_string()))?,
            Err(_) => {
                return Err(PluginError::Instantiate {
                    plugin: plugin.to_owned(),
                    detail: format!(
                        "all {} sandboxes stayed busy for {} ms",
                        limits.concurrent_calls,
                        limits.wall_time.as_millis()
                    ),
                });
            }
        };
        let wall_time = match call {
            Call::Describe => limits.describe_time,
            _ => limits.wall_time,
        };
        let _running = self.long_runners.enter();
        let outcome = tokio::time::timeout(wall_time, async {
            let http = CallHttp::new(self.gate.clone(), install.hosts, credential);
            let state = HostState::new(plugin, http, install.settings, limits, &self.ticks);
            let mut store = Store::new(&self.engine, state);
            limit(&mut store, self.long_runners.clone());
            let not_instantiated = |e: wasmtime::Error| PluginError::Instantiate {
                plugin: plugin.to_owned(),
                detail: root_cause(&e),
            };
            // One call on either contract's instance; the older one's
            // answers are turned into the latest's types.
            macro_rules! call_on {
                ($pre:expr, $manifest:expr, $account:expr, $error:expr) => {{
                    let started = Instant::now();
                    let instance = $pre
                        .instantiate_async(&mut store)
                        .await
                        .map_err(not_instantiated)?;
                    times.instantiate = started.elapsed();
                    let started = Instant::now();
                    let exports = instance.switchboard_connector_connector();
                    let answer = match call {
                        Call::Describe => exports
                            .call_describe(&mut store)
                            .await
                            .map(|m| Answer::Manifest($manifest(m))),
                        Call::CheckCredential => exports
                            .call_check_credential(&mut store)
                            .await
                            .map(|a| Answer::Account(a.map($account).map_err($error))),
                        Call::Invoke { action, input } => exports
                            .call_invoke(&mut store, action, input)
                            .await
                            .map(|o| Answer::Output(o.map_err($error))),
                    };
                    times.http = store.data().http_time;
                    times.guest = started.elapsed().saturating_sub(times.http);
                    answer
                }};
            }
            use std::convert::identity;
            let answer = match pre {
                Linked::Latest(pre) => call_on!(pre, identity, identity, identity),
                Linked::V0_2(pre) => call_on!(
                    pre,
                    contract_v0_2::manifest,
                    contract_v0_2::account,
                    contract_v0_2::error
                ),
            };
            let http = &store.data().http;
            match answer {
                Ok(answer) => Ok(answer.scrubbed(|text| http.scrub(text))),
                Err(e) => {
                    let stopped = self.stopped(plugin, &store, &e);
                    if matches!(stopped, PluginError::Crashed { .. }) {
                        Self::log_crash(plugin, &store, &e);
                    }
                    Err(stopped)
                }
            }
        })
        .await;
        outcome.unwrap_or_else(|_| {
            Err(PluginError::TimedOut {
                plugin: plugin.to_owned(),
                wall_ms: wall_time.as_millis(),
            })
        })
    }

    /// Says why a call trapped, in words a connector author can act on.
    fn stopped(
        &self,
        plugin: &str,
        store: &Store<HostState>,
        error: &wasmtime::Error,
    ) -> PluginError {
        let plugin = plugin.to_owned();
        let limits = &self.limits;
        match store.data().limiter.exhausted() {
            Some(Exhausted::Cpu) => PluginError::CpuExhausted {
                plugin,
                budget_ms: limits.cpu_time.as_millis(),
            },
            Some(Exhausted::Memory) => PluginError::MemoryExhausted {
                plugin,
                limit_bytes: limits.memory_bytes,
            },
            None => match error.downcast_ref::<Trap>() {
                Some(Trap::StackOverflow) => PluginError::StackOverflow { plugin },
                // The trap itself, without the wasm backtrace around it.
                Some(trap) => PluginError::Crashed {
                    plugin,
                    detail: trap.to_string(),
                },
                None => PluginError::Crashed {
                    plugin,
                    detail: store.data().http.scrub(error.root_cause().to_string()),
                },
            },
        }
    }

    /// Logs, for the operator, what a crashed call left: its error with
    /// the wasm backtrace, and the start of what it wrote to stderr (where
    /// a Rust panic puts its message), scrubbed and cleaned.
    fn log_crash(plugin: &str, store: &Store<HostState>, error: &wasmtime::Error) {
        let state = store.data();
        let words = state.http.scrub(state.stderr.text());
        let error = state.http.scrub(format!("{error:?}"));
        tracing::warn!(plugin, stderr = %clean(&words), "plugin call crashed: {}", clean(&error));
    }
}

/// Ticks a long runner pauses after each tick it runs while other calls
/// run: it then takes at most a quarter of a core from them.
const GIVE_WAY: u32 = 3;

/// Epoch ticks a call may run before it must take turns with the other
/// long runners (a short call that merely saw a tick go by never does).
const SHORT_CALL_TICKS: u64 = 2;

/// The CPU as long-running calls share it: fewer turns than the machine
/// has cores, and while other calls run, a pause after each slice, so
/// spinning calls never starve the short calls of other plugins.
pub(super) struct CpuShares {
    /// Turns on the CPU for long runners.
    turns: Arc<tokio::sync::Semaphore>,
    /// Calls running, long or not.
    calls: std::sync::atomic::AtomicUsize,
    /// Long runners among them.
    long_calls: std::sync::atomic::AtomicUsize,
}

/// A count in [`CpuShares`], taken back when dropped.
pub(super) struct Counted(
    Arc<CpuShares>,
    fn(&CpuShares) -> &std::sync::atomic::AtomicUsize,
);

impl Drop for Counted {
    fn drop(&mut self) {
        (self.1)(&self.0).fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl CpuShares {
    fn new() -> Self {
        // One core fewer than the machine has, at least one.
        let turns =
            std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1));
        CpuShares {
            turns: Arc::new(tokio::sync::Semaphore::new(turns)),
            calls: Default::default(),
            long_calls: Default::default(),
        }
    }

    fn count(
        self: &Arc<Self>,
        which: fn(&CpuShares) -> &std::sync::atomic::AtomicUsize,
    ) -> Counted {
        which(self).fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Counted(self.clone(), which)
    }

    /// Counts a call while it runs.
    fn enter(self: &Arc<Self>) -> Counted {
        self.count(|shares| &shares.calls)
    }

    /// Whether calls other than long runners are running.
    fn others_running(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        self.calls.load(Relaxed) > self.long_calls.load(Relaxed)
    }
}

/// Applies the call's memory and CPU limits to a fresh store. At every
/// tick the call yields (but for one that went by while it waited on the
/// network); past [`SHORT_CALL_TICKS`] it becomes a long runner:
/// it gives up its turn on the CPU at each tick, pauses for a tick while
/// other calls run, and waits for its next turn.
fn limit(store: &mut Store<HostState>, shares: Arc<CpuShares>) {
    store.limiter(|state| &mut state.limiter);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |mut ctx| {
        let state = ctx.data_mut();
        // A tick that went by while a short call waited on the network is
        // no CPU of its: it neither counts nor sends the call to the back
        // of the queue, just when its answer has come.
        if std::mem::take(&mut state.waited_through_tick) && state.long_runner.is_none() {
            return Ok(UpdateDeadline::Continue(1));
        }
        if !state.limiter.tick() {
            return Ok(UpdateDeadline::Interrupt);
        }
        if state.limiter.ticks_spent() < SHORT_CALL_TICKS {
            return Ok(UpdateDeadline::Yield(1));
        }
        if state.long_runner.is_none() {
            state.long_runner = Some(shares.count(|shares| &shares.long_calls));
        }
        let turn = state.cpu_turn.clone();
        drop(turn.lock().unwrap_or_else(|e| e.into_inner()).take());
        let (turns, give_way) = (shares.turns.clone(), shares.others_running());
        Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(async move {
                if give_way {
                    tokio::time::sleep(GIVE_WAY * EPOCH_TICK).await;
                }
                // The semaphore is never closed; without a permit the call
                // would simply run unthrottled.
                let permit = turns.acquire_owned().await.ok();
                *turn.lock().unwrap_or_else(|e| e.into_inner()) = permit;
            }),
        ))
    });
}

/// At most this much of a call's stderr is kept.
const STDERR_BYTES: usize = 4 << 10;

/// A call's stderr: the first [`STDERR_BYTES`] kept, the rest dropped, and
/// never an error to the guest (a chatty plugin must not crash on it).
#[derive(Clone, Default)]
pub(super) struct LastWords(Arc<std::sync::Mutex<Vec<u8>>>);

impl LastWords {
    fn text(&self) -> String {
        let kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&kept).into_owned()
    }
}

impl tokio::io::AsyncWrite for LastWords {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let room = STDERR_BYTES.saturating_sub(kept.len()).min(buf.len());
        kept.extend_from_slice(&buf[..room]);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

impl wasmtime_wasi::cli::IsTerminal for LastWords {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for LastWords {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

/// Plugin text for one log line: control characters (terminal escapes,
/// line breaks) become spaces, and it is cut to a thousand characters.
fn clean(text: &str) -> String {
    let mut line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(1000)
        .collect();
    line.truncate(line.trim_end().len());
    line
}

/// An error and its causes, on one line.
pub(super) fn root_cause(error: &wasmtime::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        message.push_str(&format!(": {cause}"));
    }
    message
}

/// A store's data: an empty WASI context, the call's limits, its HTTP gate
/// and its log allowance.
pub(super) struct HostState {
    /// WASI with nothing in it.
    wasi: WasiCtx,
    /// WASI's resources.
    table: ResourceTable,
    /// The call's memory and CPU accounting.
    limiter: Limiter,
    /// The call's HTTP.
    http: CallHttp,
    /// The start of what the guest wrote to stderr: a panic's message.
    stderr: LastWords,
    /// Counts the call among the long runners, once it is one.
    long_runner: Option<Counted>,
    /// A long-running call's turn on the CPU, while it has one.
    cpu_turn: Arc<std::sync::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>>,
    /// The install's settings, for the plugin to read.
    settings: Arc<Settings>,
    /// The plugin's id, for its log lines.
    plugin_id: String,
    /// Log lines the call may still write.
    log_lines_left: u32,
    /// Time spent in the HTTP gate so far, waiting on services included.
    http_time: Duration,
    /// The epoch's ticks, to tell whether one went by during a request.
    ticks: Arc<AtomicU64>,
    /// Whether a tick went by while the call last waited on the network.
    waited_through_tick: bool,
}

impl HostState {
    /// The state of one call to `plugin_id`, with none of its limits spent,
    /// telling the epoch's ticks by `ticks`.
    fn new(
        plugin_id: &str,
        http: CallHttp,
        settings: Arc<Settings>,
        limits: &SandboxLimits,
        ticks: &Arc<AtomicU64>,
    ) -> Self {
        let stderr = LastWords::default();
        HostState {
            // No preopens, no environment, no args, stdin closed, stdout
            // discarded, stderr kept short, sockets and name lookup denied.
            wasi: WasiCtx::builder().stderr(stderr.clone()).build(),
            stderr,
            cpu_turn: Arc::default(),
            long_runner: None,
            table: ResourceTable::new(),
            limiter: Limiter::new(limits),
            http,
            settings,
            plugin_id: plugin_id.to_owned(),
            log_lines_left: limits.log_lines_per_call,
            http_time: Duration::ZERO,
            ticks: ticks.clone(),
            waited_through_tick: false,
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

impl wit_types::Host for HostState {}

impl wit_http::Host for HostState {
    async fn send(
        &mut self,
        request: wit_http::Request,
    ) -> wasmtime::Result<Result<wit_http::Response, wit_http::Error>> {
        // Waiting on the network is no use of the CPU: a long runner gives
        // its turn back.
        drop(
            self.cpu_turn
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        let (started, ticks) = (Instant::now(), self.ticks.load(Ordering::Relaxed));
        let left = self.http.requests_left();
        let answer = self.http.send(request).await;
        self.http_time += started.elapsed();
        // Only a request that went out waited on the network: one refused
        // at once is the plugin's own time (and costs no request, so a
        // loop of them must not hide its CPU). At most one skipped tick per
        // request the call may make.
        let went_out = self.http.requests_left() != left;
        self.waited_through_tick |= went_out && self.ticks.load(Ordering::Relaxed) != ticks;
        Ok(answer)
    }
}

impl wit_settings::Host for HostState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        Ok(self.settings.get(&name).cloned())
    }
}

impl wit_log::Host for HostState {
    async fn log(&mut self, level: wit_log::Level, message: String) -> wasmtime::Result<()> {
        if self.log_lines_left == 0 {
            return Ok(());
        }
        self.log_lines_left -= 1;
        // Plugin text may carry terminal escapes or be huge: clean and cut it.
        let line = clean(&self.http.scrub(message));
        let plugin = self.plugin_id.as_str();
        match level {
            wit_log::Level::Trace => tracing::trace!(plugin, "{line}"),
            wit_log::Level::Debug => tracing::debug!(plugin, "{line}"),
            wit_log::Level::Info => tracing::info!(plugin, "{line}"),
            wit_log::Level::Warn => tracing::warn!(plugin, "{line}"),
            wit_log::Level::Error => tracing::error!(plugin, "{line}"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_for_no_calls_is_refused_rather_than_left_to_hang() {
        let config = HostConfig {
            limits: SandboxLimits {
                concurrent_calls: 0,
                ..SandboxLimits::default()
            },
            ..HostConfig::default()
        };
        let err = Runtime::new(&config).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "the plugin host could not start: concurrent_calls must be between 1 and 10000, not 0"
            )
        );
    }
}
