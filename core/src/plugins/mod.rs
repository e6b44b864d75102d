//! The plugin host: loads connector components, keeps them compiled, and
//! runs each call in a fresh, bounded sandbox.

mod cache;
pub mod http;
mod manifest;
mod sandbox;

use crate::model::{Account, ConnectorError, IntegrationId, Manifest};
use crate::net::Routes;
use http::{CallHttp, HostPattern, HttpGate};
pub use http::{Credential, Placement};
pub use sandbox::SandboxLimits;
use sandbox::{Exhausted, HostState};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "connector-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

use bindings::switchboard::connector::{log as wit_log, types as wit_types};
use bindings::{ConnectorPlugin, ConnectorPluginPre};

/// Components larger than this are refused unread.
const MAX_COMPONENT_BYTES: u64 = 64 << 20;

/// Bytes of each pooled memory and table reset by memset and kept resident.
const RESIDENT_MEMORY_BYTES: usize = 4 << 20;
const RESIDENT_TABLE_BYTES: usize = 64 << 10;

/// The most calls at once the instance pool is sized for (each reserves
/// address space for its memories and tables).
const MAX_CONCURRENT_CALLS: u32 = 10_000;

/// Imports that would give a plugin ambient authority.
const FORBIDDEN_IMPORTS: &[&str] = &["wasi:filesystem/", "wasi:sockets/", "wasi:http/"];

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("{file}: refused: {reason}")]
    Refused { file: PathBuf, reason: String },
    #[error("{integration}: {error}")]
    Connector {
        integration: IntegrationId,
        error: ConnectorError,
    },
    #[error("plugin `{plugin}` used more than its CPU time of {budget_ms} ms and was stopped")]
    CpuExhausted { plugin: String, budget_ms: u128 },
    #[error("plugin `{plugin}` went over its memory limit of {limit_bytes} bytes and was stopped")]
    MemoryExhausted { plugin: String, limit_bytes: usize },
    #[error("plugin `{plugin}` overflowed its stack and was stopped")]
    StackOverflow { plugin: String },
    #[error("plugin `{plugin}` did not finish within {wall_ms} ms and was stopped")]
    TimedOut { plugin: String, wall_ms: u128 },
    #[error("plugin `{plugin}` crashed: {detail}")]
    Crashed { plugin: String, detail: String },
    #[error("plugin `{plugin}` could not start: {detail}")]
    Instantiate { plugin: String, detail: String },
    #[error("plugin `{plugin}` returned output that is not JSON: {detail}")]
    InvalidOutput { plugin: String, detail: String },
    #[error("the plugin host could not start: {0}")]
    Host(String),
}

/// Where plugins come from and how they run.
#[derive(Debug, Clone, Default)]
pub struct HostConfig {
    /// Where compiled components are cached; `None` compiles on every start.
    pub cache_dir: Option<PathBuf>,
    pub limits: SandboxLimits,
    pub routes: Routes,
    /// Allocate each call's instance on demand instead of from the pool:
    /// slower, but reserves no address space up front (for hosts under a
    /// tight virtual-memory limit, and for comparison).
    pub on_demand_instances: bool,
}

/// What loading one file came to.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LoadOutcome {
    Loaded {
        file: PathBuf,
        id: IntegrationId,
        version: String,
    },
    Refused {
        file: PathBuf,
        reason: String,
    },
}

/// A loaded connector, ready to be called.
pub struct Plugin {
    manifest: Manifest,
    pre: ConnectorPluginPre<HostState>,
    hosts: Arc<[HostPattern]>,
    input_validators: std::collections::HashMap<String, jsonschema::Validator>,
}

impl Plugin {
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }
}

/// One call into a plugin.
enum Call<'a> {
    Describe,
    CheckCredential,
    Invoke { action: &'a str, input: &'a str },
}

enum Answer {
    Manifest(wit_types::Manifest),
    Account(Result<wit_types::Account, wit_types::ConnectorError>),
    Output(Result<String, wit_types::ConnectorError>),
}

/// The loaded plugins and the wasmtime engine that runs them.
pub struct PluginHost {
    engine: Engine,
    linker: Linker<HostState>,
    gate: Arc<HttpGate>,
    config: HostConfig,
    plugins: BTreeMap<IntegrationId, Arc<Plugin>>,
    /// Calls beyond the instance pool wait here rather than fail.
    slots: tokio::sync::Semaphore,
}

impl PluginHost {
    pub fn new(config: HostConfig) -> Result<Self, PluginError> {
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
        sandbox::start_epoch_ticker(&engine).map_err(|e| PluginError::Host(e.to_string()))?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(host_err)?;
        ConnectorPlugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(host_err)?;
        let gate = HttpGate::new(config.routes.clone(), config.limits.clone())
            .map_err(PluginError::Host)?;
        Ok(PluginHost {
            engine,
            linker,
            gate: Arc::new(gate),
            slots: tokio::sync::Semaphore::new(config.limits.concurrent_calls as usize),
            config,
            plugins: BTreeMap::new(),
        })
    }

    /// Loads every `*.wasm` file in `dir`, in name order. A file that fails
    /// is refused with the reason and the others still load.
    pub async fn load_dir(&mut self, dir: &Path) -> Result<Vec<LoadOutcome>, PluginError> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            PluginError::Host(format!(
                "cannot read the plugins directory {}: {e}",
                dir.display()
            ))
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|ext| ext == "wasm"))
            .collect();
        files.sort();
        let mut outcomes = Vec::new();
        for file in files {
            outcomes.push(match self.load_file(&file).await {
                Ok(plugin) => LoadOutcome::Loaded {
                    file,
                    id: plugin.manifest.id.clone(),
                    version: plugin.manifest.version.clone(),
                },
                Err(e) => {
                    let reason = match e {
                        PluginError::Refused { reason, .. } => reason,
                        other => other.to_string(),
                    };
                    tracing::warn!(file = %file.display(), "plugin refused: {reason}");
                    LoadOutcome::Refused { file, reason }
                }
            });
        }
        Ok(outcomes)
    }

    /// Loads one component and adds it to the host.
    pub async fn load_file(&mut self, file: &Path) -> Result<Arc<Plugin>, PluginError> {
        let refuse = |reason: String| PluginError::Refused {
            file: file.to_owned(),
            reason,
        };
        let plugin = Arc::new(self.compile(file).await.map_err(refuse)?);
        let id = plugin.manifest.id.clone();
        if self.plugins.contains_key(&id) {
            return Err(refuse(format!(
                "another loaded plugin already has the id `{id}`"
            )));
        }
        self.plugins.insert(id, plugin.clone());
        Ok(plugin)
    }

    async fn compile(&self, file: &Path) -> Result<Plugin, String> {
        let size = std::fs::metadata(file)
            .map_err(|e| format!("cannot read it: {e}"))?
            .len();
        if size > MAX_COMPONENT_BYTES {
            return Err(format!(
                "it is {size} bytes, over the limit of {MAX_COMPONENT_BYTES}"
            ));
        }
        let bytes = std::fs::read(file).map_err(|e| format!("cannot read it: {e}"))?;
        let component = cache::compile(&self.engine, &bytes, self.config.cache_dir.as_deref())
            .map_err(|e| format!("not a valid WebAssembly component: {}", root_cause(&e)))?;
        let ty = component.component_type();
        for (name, _) in ty.imports(&self.engine) {
            if FORBIDDEN_IMPORTS
                .iter()
                .any(|prefix| name.starts_with(prefix))
            {
                return Err(format!(
                    "it imports `{name}`; connectors may not use files, sockets or raw HTTP"
                ));
            }
        }
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            format!(
                "it needs imports Switchboard does not provide: {}",
                root_cause(&e)
            )
        })?;
        let pre = ConnectorPluginPre::new(pre).map_err(|e| {
            format!(
                "it does not implement switchboard:connector@0.1.0: {}",
                root_cause(&e)
            )
        })?;
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let no_hosts: Arc<[HostPattern]> = Arc::from(Vec::new());
        let raw = match self.run(&name, &pre, no_hosts, None, Call::Describe).await {
            Ok(Answer::Manifest(m)) => m,
            Ok(_) => return Err(mismatched(&name).to_string()),
            Err(e) => return Err(format!("describe failed: {e}")),
        };
        let valid =
            manifest::validate(raw).map_err(|faults| format!("invalid manifest: {faults}"))?;
        Ok(Plugin {
            manifest: valid.manifest,
            pre,
            hosts: valid.hosts.into(),
            input_validators: valid.input_validators,
        })
    }

    pub fn get(&self, id: &IntegrationId) -> Option<&Arc<Plugin>> {
        self.plugins.get(id)
    }

    pub fn manifests(&self) -> impl Iterator<Item = &Manifest> {
        self.plugins.values().map(|p| &p.manifest)
    }

    /// Asks the plugin whose account `credential` belongs to.
    pub async fn check_credential(
        &self,
        plugin: &Plugin,
        credential: Credential,
    ) -> Result<Account, PluginError> {
        let id = plugin.manifest.id.as_str();
        match self
            .run(
                id,
                &plugin.pre,
                plugin.hosts.clone(),
                Some(credential),
                Call::CheckCredential,
            )
            .await?
        {
            Answer::Account(Ok(a)) => Ok(Account {
                label: a.label,
                detail: a.detail,
            }),
            Answer::Account(Err(e)) => Err(PluginError::Connector {
                integration: plugin.manifest.id.clone(),
                error: connector_error(e),
            }),
            _ => Err(mismatched(id)),
        }
    }

    /// Runs an action. The input is checked against the action's schema
    /// before the plugin sees it.
    pub async fn invoke(
        &self,
        plugin: &Plugin,
        credential: Option<Credential>,
        action: &str,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value, PluginError> {
        let invalid = |message: String| PluginError::Connector {
            integration: plugin.manifest.id.clone(),
            error: ConnectorError::InvalidInput { message },
        };
        let validator = plugin
            .input_validators
            .get(action)
            .ok_or_else(|| invalid(format!("{} has no action `{action}`", plugin.manifest.name)))?;
        let faults: Vec<String> = validator
            .iter_errors(input)
            .map(|e| {
                format!(
                    "{} {e}",
                    if e.instance_path().as_str().is_empty() {
                        "input"
                    } else {
                        e.instance_path().as_str()
                    }
                )
            })
            .collect();
        if !faults.is_empty() {
            return Err(invalid(faults.join("; ")));
        }
        let id = plugin.manifest.id.as_str();
        let input = input.to_string();
        let call = Call::Invoke {
            action,
            input: &input,
        };
        match self
            .run(id, &plugin.pre, plugin.hosts.clone(), credential, call)
            .await?
        {
            Answer::Output(Ok(json)) => {
                serde_json::from_str(&json).map_err(|e| PluginError::InvalidOutput {
                    plugin: id.to_owned(),
                    detail: e.to_string(),
                })
            }
            Answer::Output(Err(e)) => Err(PluginError::Connector {
                integration: plugin.manifest.id.clone(),
                error: connector_error(e),
            }),
            _ => Err(mismatched(id)),
        }
    }

    /// Instantiates the component in a fresh store and makes one call, bounded
    /// in CPU, memory, stack and wall time.
    async fn run(
        &self,
        plugin: &str,
        pre: &ConnectorPluginPre<HostState>,
        hosts: Arc<[HostPattern]>,
        credential: Option<Credential>,
        call: Call<'_>,
    ) -> Result<Answer, PluginError> {
        let limits = &self.config.limits;
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
        let outcome = tokio::time::timeout(limits.wall_time, async {
            let http = CallHttp::new(self.gate.clone(), hosts, credential);
            let mut store = Store::new(&self.engine, HostState::new(plugin, http, limits));
            sandbox::limit(&mut store, limits);
            let instance =
                pre.instantiate_async(&mut store)
                    .await
                    .map_err(|e| PluginError::Instantiate {
                        plugin: plugin.to_owned(),
                        detail: root_cause(&e),
                    })?;
            let exports = instance.switchboard_connector_connector();
            let answer = match call {
                Call::Describe => exports
                    .call_describe(&mut store)
                    .await
                    .map(Answer::Manifest),
                Call::CheckCredential => exports
                    .call_check_credential(&mut store)
                    .await
                    .map(Answer::Account),
                Call::Invoke { action, input } => exports
                    .call_invoke(&mut store, action, input)
                    .await
                    .map(Answer::Output),
            };
            answer.map_err(|e| self.stopped(plugin, &store, e))
        })
        .await;
        outcome.unwrap_or_else(|_| {
            Err(PluginError::TimedOut {
                plugin: plugin.to_owned(),
                wall_ms: limits.wall_time.as_millis(),
            })
        })
    }

    /// Says why a call trapped, in words a connector author can act on.
    fn stopped(
        &self,
        plugin: &str,
        store: &Store<HostState>,
        error: wasmtime::Error,
    ) -> PluginError {
        let plugin = plugin.to_owned();
        let limits = &self.config.limits;
        match sandbox::exhaustion(store) {
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
                    detail: root_cause(&error),
                },
            },
        }
    }
}

fn root_cause(error: &wasmtime::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        message.push_str(&format!(": {cause}"));
    }
    message
}

/// `run` answers each kind of call with its own kind of answer; this is
/// the error for the impossible other case, rather than a panic.
fn mismatched(plugin: &str) -> PluginError {
    PluginError::Crashed {
        plugin: plugin.to_owned(),
        detail: "answered a different call".to_owned(),
    }
}

fn connector_error(e: wit_types::ConnectorError) -> ConnectorError {
    use wit_types::ConnectorError as W;
    match e {
        W::InvalidInput(message) => ConnectorError::InvalidInput { message },
        W::Unauthorized(message) => ConnectorError::Unauthorized { message },
        W::RateLimited(r) => ConnectorError::RateLimited {
            message: r.message,
            retry_after_ms: r.retry_after_ms,
        },
        W::NotFound(message) => ConnectorError::NotFound { message },
        W::Upstream(message) => ConnectorError::Upstream { message },
        W::Internal(message) => ConnectorError::Internal { message },
    }
}

impl wit_types::Host for HostState {}

impl wit_log::Host for HostState {
    async fn log(&mut self, level: wit_log::Level, message: String) -> wasmtime::Result<()> {
        if self.log_lines_left == 0 {
            return Ok(());
        }
        self.log_lines_left -= 1;
        // Plugin text may carry terminal escapes or be huge: clean and cut it.
        let mut line: String = message
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(1000)
            .collect();
        line.truncate(line.trim_end().len());
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
        let err = PluginHost::new(config).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "the plugin host could not start: concurrent_calls must be between 1 and 10000, not 0"
            )
        );
    }
}
