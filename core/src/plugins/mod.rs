//! The plugin host: loads connector components, keeps them compiled, and
//! runs each call in a fresh, bounded sandbox.
//!
//! One module per capability, none of them importing another's caller:
//! `limits` (what a call may use), `network` (where it may send, pure
//! decisions), `credential` (what it may authenticate with), `transport`
//! (the HTTP it does), `bindings` (the WIT world), `runtime` (wasmtime, the
//! store and its imports, running a call); this module loads and calls.

mod bindings;
mod cache;
mod contract_v0_2;
mod credential;
mod limits;
mod manifest;
mod network;
pub mod pins;
mod runtime;
mod suffixes;
mod transport;

use crate::model::{Account, ConnectorError, IntegrationId, Manifest, Mode, Settings};
use crate::net::Routes;
use crate::vault::Secret;
use arc_swap::ArcSwap;
use bindings::connector_error;
pub use credential::{Credential, Placement, RegisteredEndpoints};
pub use limits::SandboxLimits;
pub use manifest::{AuthFault, Fault, Faults};
pub use network::InvalidHost;
use network::{DeclaredHost, HostPattern};
pub use runtime::SandboxTimes;
use runtime::{Answer, Call, Install, Linked, Runtime, root_cause};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Components larger than this are refused unread.
const MAX_COMPONENT_BYTES: u64 = 64 << 20;

/// Imports that would give a plugin ambient authority.
const FORBIDDEN_IMPORTS: &[&str] = &["wasi:filesystem/", "wasi:sockets/", "wasi:http/"];

/// A fault about a value, short: the validator quotes the value whole, and
/// a caller need not read back the 100,000 characters it sent. Its start
/// and its end (where the validator says what is wrong) are kept.
fn brief(fault: &str) -> String {
    const KEEP: usize = 80;
    let chars = fault.chars().count();
    if chars <= 2 * KEEP + 20 {
        return fault.to_owned();
    }
    let head: String = fault.chars().take(KEEP).collect();
    let tail: String = fault.chars().skip(chars - KEEP).collect();
    format!("{head}…{tail}")
}

/// A call's output, if it matches its action's schema. A plugin's output
/// that does not is its author's bug: the operator reads every fault in the
/// log, the caller only where the first one is, never the data.
fn conforming(
    plugin: &Plugin,
    action: &str,
    output: serde_json::Value,
) -> Result<serde_json::Value, PluginError> {
    let Some(validator) = plugin
        .output_validators
        .get(action)
        .filter(|v| !v.is_valid(&output))
    else {
        return Ok(output);
    };
    let faults: Vec<(String, String)> = validator
        .iter_errors(&output)
        .map(|e| (e.instance_path().as_str().to_owned(), e.to_string()))
        .collect();
    let Some((first, _)) = faults.first() else {
        return Ok(output);
    };
    let id = plugin.manifest.id.as_str();
    for (path, fault) in &faults {
        tracing::warn!(
            plugin = id,
            action,
            path,
            "output does not match its schema: {fault}"
        );
    }
    Err(PluginError::InvalidOutput {
        plugin: id.to_owned(),
        detail: format!(
            "the output of `{action}` does not match its schema (at `{}`, and {} more)",
            if first.is_empty() { "/" } else { first },
            faults.len() - 1
        ),
    })
}

/// Why the host could not load or call a plugin.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// A component was not loaded.
    #[error("{file}: refused: {reason}")]
    Refused {
        /// The component's file.
        file: PathBuf,
        /// Why, for the connector's author.
        reason: Refusal,
    },
    /// The plugin has no action by this name.
    #[error("{integration} has no action `{action}`")]
    UnknownAction {
        /// The integration's name.
        integration: String,
        /// The action asked for.
        action: String,
    },
    /// The connector answered with an error of its own.
    #[error("{integration}: {error}")]
    Connector {
        /// The connector's integration.
        integration: IntegrationId,
        /// What it said went wrong.
        error: ConnectorError,
    },
    /// The call used up its CPU time.
    #[error("plugin `{plugin}` used more than its CPU time of {budget_ms} ms and was stopped")]
    CpuExhausted {
        /// The plugin's id.
        plugin: String,
        /// The CPU time it had, in milliseconds.
        budget_ms: u128,
    },
    /// The call tried to grow a memory past its limit.
    #[error("plugin `{plugin}` went over its memory limit of {limit_bytes} bytes and was stopped")]
    MemoryExhausted {
        /// The plugin's id.
        plugin: String,
        /// The memory it had, in bytes.
        limit_bytes: usize,
    },
    /// The plugin is running as many calls as it may at once.
    #[error(
        "plugin `{plugin}` is already running its most calls at once ({limit}); try again shortly"
    )]
    Busy {
        /// The plugin's id.
        plugin: String,
        /// The calls it may run at once.
        limit: u32,
    },
    /// The call overflowed its stack.
    #[error("plugin `{plugin}` overflowed its stack and was stopped")]
    StackOverflow {
        /// The plugin's id.
        plugin: String,
    },
    /// The call ran past its wall time.
    #[error("plugin `{plugin}` did not finish within {wall_ms} ms and was stopped")]
    TimedOut {
        /// The plugin's id.
        plugin: String,
        /// The wall time it had, in milliseconds.
        wall_ms: u128,
    },
    /// The call trapped.
    #[error("plugin `{plugin}` crashed: {detail}")]
    Crashed {
        /// The plugin's id.
        plugin: String,
        /// The trap or error.
        detail: String,
    },
    /// The component could not be instantiated, or no sandbox came free.
    #[error("plugin `{plugin}` could not start: {detail}")]
    Instantiate {
        /// The plugin's id.
        plugin: String,
        /// Why.
        detail: String,
    },
    /// `invoke` returned text that is not JSON, or JSON that does not
    /// match the action's output schema; nothing of it is passed on.
    #[error("plugin `{plugin}` returned invalid output: {detail}")]
    InvalidOutput {
        /// The plugin's id.
        plugin: String,
        /// What is wrong with it (never the data itself).
        detail: String,
    },
    /// The host itself failed, not a plugin.
    #[error("the plugin host could not start: {0}")]
    Host(String),
}

/// Why a component was not loaded, for its author.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The file could not be read.
    #[error("cannot read it: {0}")]
    Unreadable(#[source] std::io::Error),
    /// The file is over the most a component may weigh (64 MiB).
    #[error("it is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// Its size in bytes.
        size: u64,
        /// The most a component may weigh, in bytes.
        limit: u64,
    },
    /// Not a WebAssembly component wasmtime can compile.
    #[error("not a valid WebAssembly component: {0}")]
    NotAComponent(String),
    /// It imports files, sockets or raw HTTP.
    #[error("it imports `{0}`; connectors may not use files, sockets or raw HTTP")]
    ForbiddenImport(String),
    /// It was built against a contract this host no longer loads.
    #[error(
        "it was built against {0}, which sent the key to every declared host; rebuild it with the current SDK and name the hosts that receive the key in each mode"
    )]
    OldContract(String),
    /// It imports what the host does not provide.
    #[error("it needs imports Switchboard does not provide: {0}")]
    MissingImports(String),
    /// It does not export the connector world.
    #[error("it does not implement switchboard:connector@0.3.0 (or 0.2.0): {0}")]
    WrongWorld(String),
    /// Its `describe` failed or was stopped.
    #[error("describe failed: {0}")]
    Describe(#[source] Box<PluginError>),
    /// Its manifest has faults.
    #[error("invalid manifest: {0}")]
    InvalidManifest(#[from] manifest::Faults),
    /// The component is not the one its id is pinned to.
    #[error("it declares `{id}` but does not match that id's pin: {mismatch}")]
    Pin {
        /// The id it declares.
        id: IntegrationId,
        /// How it differs from the pin.
        mismatch: pins::PinMismatch,
    },
    /// Another component declares the same id. Each of them is refused,
    /// so a file that sorts first cannot take over an integration.
    #[error("`{id}` is also the id of {}; components that share an id are all refused", others.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "))]
    DuplicateId {
        /// The id they share.
        id: IntegrationId,
        /// The other components that declare it.
        others: Vec<PathBuf>,
    },
    /// A plugin with this id is loaded already.
    #[error("a plugin with the id `{0}` is loaded already")]
    AlreadyLoaded(IntegrationId),
    /// Its manifest proposes an OAuth endpoint on another host than the
    /// operator's registration names.
    #[error(
        "its manifest sends {which} requests to `{manifest}`, but the operator's OAuth registration names `{registered}`; secrets go only where the registration says: fix the manifest or the registration"
    )]
    OAuthEndpoint {
        /// `authorize`, `token` or `revocation`.
        which: &'static str,
        /// The manifest's host.
        manifest: String,
        /// The registration's host.
        registered: String,
    },
    /// The operator's OAuth registration for it could not be resolved.
    #[error("the operator's OAuth registration for it cannot be used: {0}")]
    OAuthRegistration(String),
}

/// Where plugins come from and how they run.
#[derive(Debug, Clone, Default)]
pub struct HostConfig {
    /// Where compiled components are cached; `None` compiles on every start.
    pub cache_dir: Option<PathBuf>,
    /// Bounds on each call.
    pub limits: SandboxLimits,
    /// Declared hosts whose requests go elsewhere (local mocks).
    pub routes: Routes,
    /// The operator's pins: an id loads only from a component matching its pin.
    pub pins: HashMap<IntegrationId, pins::Pin>,
    /// The operator's OAuth endpoints: an id whose manifest proposes
    /// others is refused.
    pub oauth_endpoints: HashMap<IntegrationId, RegisteredEndpoints>,
    /// Allocate each call's instance on demand instead of from the pool:
    /// slower, but reserves no address space up front (for hosts under a
    /// tight virtual-memory limit, and for comparison).
    pub on_demand_instances: bool,
}

/// What loading one file came to.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LoadOutcome {
    /// The plugin loaded.
    Loaded {
        /// The component's file.
        file: PathBuf,
        /// The plugin's integration id.
        id: IntegrationId,
        /// The plugin's version.
        version: String,
    },
    /// The plugin was refused.
    Refused {
        /// The component's file.
        file: PathBuf,
        /// Why, for the connector's author.
        reason: String,
    },
}

/// A component compiled and linked, not yet described.
struct Prepared {
    pre: Linked,
    /// The SHA-256 of its file, for its id's pin.
    digest: [u8; 32],
    /// The file's size and modification time when it was read.
    stamp: Option<Stamp>,
}

/// What tells a component's file changed without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: std::time::SystemTime,
    /// The inode and its change time: a build copied in with its
    /// modification time kept (`cp -p`, reproducible builds) still differs.
    #[cfg(unix)]
    inode: (u64, i64, i64),
}

impl Stamp {
    fn of(file: &Path) -> Option<Self> {
        let meta = std::fs::metadata(file).ok()?;
        Some(Stamp {
            len: meta.len(),
            modified: meta.modified().ok()?,
            #[cfg(unix)]
            inode: {
                use std::os::unix::fs::MetadataExt;
                (meta.ino(), meta.ctime(), meta.ctime_nsec())
            },
        })
    }
}

/// Runs CPU work (compiling a component) so that, on a multi-thread
/// runtime, the worker's other tasks move to another thread meanwhile: a
/// reload on a live server must not stall the requests queued behind it.
fn off_the_reactor<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// Each component file of `dir` and its stamp, in name order.
fn directory_stamp(dir: &Path) -> Vec<(PathBuf, Option<Stamp>)> {
    let mut files: Vec<(PathBuf, Option<Stamp>)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "wasm"))
        .map(|p| {
            let stamp = Stamp::of(&p);
            (p, stamp)
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// The plugin loaded from `file` before, if the file is as it was then.
fn unchanged(before: &Loaded, file: &Path) -> Option<Arc<Plugin>> {
    let stamp = Stamp::of(file)?;
    before
        .values()
        .find(|p| p.file == file && p.stamp == Some(stamp))
        .cloned()
}

/// A loaded connector, ready to be called.
pub struct Plugin {
    /// The validated manifest.
    manifest: Manifest,
    /// The component's file, and how it stood when it was read.
    file: PathBuf,
    stamp: Option<Stamp>,
    /// The component, linked and ready to instantiate.
    pre: Linked,
    /// The hosts the manifest allows, as it declares them.
    hosts: Vec<DeclaredHost>,
    /// The same resolved once, for a plugin without settings.
    fixed_hosts: Arc<[HostPattern]>,
    /// Each setting's schema, compiled.
    setting_validators: HashMap<String, jsonschema::Validator>,
    /// Each action's input schema, compiled.
    input_validators: HashMap<String, jsonschema::Validator>,
    /// Each action's output schema, compiled.
    output_validators: HashMap<String, jsonschema::Validator>,
    /// Where each mode puts its credential, and the hosts that receive
    /// it, worked out once at load.
    placements: Vec<(Mode, Placement, Vec<DeclaredHost>)>,
    /// Its share of the sandboxes: calls it may run at once. A new version
    /// loaded in its place shares it, so calls on both count together.
    turns: Arc<tokio::sync::Semaphore>,
}

impl Plugin {
    /// What the plugin says about itself, validated.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The credential `secret` makes in `mode` in a workspace with
    /// `settings`, placed as the manifest says: `None` if the plugin does
    /// not support `mode`, else the credential or what it lacks.
    pub fn credential(
        &self,
        mode: Mode,
        secret: Secret,
        settings: &Settings,
    ) -> Option<Result<Credential, String>> {
        let (_, placement, receivers) = self.placements.iter().find(|(m, ..)| *m == mode)?;
        Some(placement.credential(secret, network::resolve_all(receivers, settings)))
    }

    /// Whether `mode`'s credential, checked with the settings `checked_with`,
    /// would go to other hosts with `settings` (another `{subdomain}`):
    /// then it belongs to another account, and must be entered again.
    pub fn moves_credential(
        &self,
        mode: Mode,
        checked_with: &Settings,
        settings: &Settings,
    ) -> bool {
        checked_with != settings
            && self
                .placements
                .iter()
                .find(|(m, ..)| *m == mode)
                .is_some_and(|(_, _, receivers)| {
                    network::resolve_all(receivers, checked_with)
                        != network::resolve_all(receivers, settings)
                })
    }

    /// Whether a setting names a host that receives a credential, so that
    /// changing it may move credentials (`{subdomain}.zendesk.com`).
    pub fn credentials_follow_settings(&self) -> bool {
        self.placements.iter().any(|(_, _, receivers)| {
            receivers
                .iter()
                .any(|r| matches!(r, DeclaredHost::Setting { .. }))
        })
    }

    /// `settings` as a workspace's admin entered them, checked against the
    /// manifest: every setting given, none unknown, each value (trimmed of
    /// surrounding whitespace) matching its schema, and one DNS label where
    /// a host is made of it. The error lists every fault.
    pub fn check_settings(&self, settings: &Settings) -> Result<Settings, Vec<String>> {
        let mut faults = Vec::new();
        let mut checked = Settings::new();
        for name in settings.keys() {
            if !self.setting_validators.contains_key(name) {
                faults.push(format!(
                    "`{name}` is not a setting of {}",
                    self.manifest.name
                ));
            }
        }
        for spec in &self.manifest.settings {
            let Some(value) = settings.get(&spec.name).map(|v| v.trim()) else {
                faults.push(format!("{} (`{}`) is required", spec.label, spec.name));
                continue;
            };
            let json = serde_json::Value::String(value.to_owned());
            if let Some(validator) = self.setting_validators.get(&spec.name)
                && let Some(fault) = validator.iter_errors(&json).next()
            {
                faults.push(format!("{}: {}", spec.label, brief(&fault.to_string())));
                continue;
            }
            let in_a_host = self.hosts.iter().any(
                |h| matches!(h, DeclaredHost::Setting { setting, .. } if *setting == spec.name),
            );
            if in_a_host && !network::is_label(value) {
                faults.push(format!(
                    "{}: `{value}` must be one part of a host name: lowercase letters, digits and `-`",
                    spec.label
                ));
                continue;
            }
            checked.insert(spec.name.clone(), value.to_owned());
        }
        if faults.is_empty() {
            Ok(checked)
        } else {
            Err(faults)
        }
    }

    /// What a call in a workspace with `settings` may reach, and reads.
    fn install(&self, settings: &Settings) -> Install {
        let hosts = if self.manifest.settings.is_empty() {
            self.fixed_hosts.clone()
        } else {
            network::resolve_all(&self.hosts, settings)
        };
        Install {
            hosts,
            settings: Arc::new(settings.clone()),
        }
    }
}

/// The loaded plugins and the wasmtime runtime that runs them.
pub struct PluginHost {
    /// The engine, linker and HTTP gate every call shares.
    runtime: Runtime,
    /// Where compiled components are cached, if anywhere.
    cache_dir: Option<PathBuf>,
    /// Calls of one plugin that may run at once.
    calls_per_plugin: u32,
    /// The operator's pins, by id.
    pins: HashMap<IntegrationId, pins::Pin>,
    /// The operator's OAuth endpoints, by id.
    oauth_endpoints: HashMap<IntegrationId, RegisteredEndpoints>,
    /// The loaded plugins, by id: swapped whole when the directory is
    /// loaded again, while calls in flight keep the plugin they started on.
    plugins: ArcSwap<Loaded>,
    /// What the last load of the directory came to, file by file.
    report: ArcSwap<Vec<LoadOutcome>>,
    /// The directory's files as the last load found them.
    loaded_stamp: ArcSwap<Vec<(PathBuf, Option<Stamp>)>>,
}

/// The plugins loaded at one moment, by id.
pub type Loaded = BTreeMap<IntegrationId, Arc<Plugin>>;

impl PluginHost {
    /// A host with no plugins loaded yet.
    pub fn new(config: HostConfig) -> Result<Self, PluginError> {
        let runtime = Runtime::new(&config)?;
        Ok(PluginHost {
            runtime,
            cache_dir: config.cache_dir,
            calls_per_plugin: config.limits.calls_per_plugin.max(1),
            pins: config.pins,
            oauth_endpoints: config.oauth_endpoints,
            plugins: ArcSwap::default(),
            report: ArcSwap::default(),
            loaded_stamp: ArcSwap::default(),
        })
    }

    /// Loads every `*.wasm` file in `dir`, in place of what was loaded
    /// before: a component whose file is unchanged keeps its plugin (and
    /// its calls in flight), a new or changed one is loaded, and one whose
    /// file is gone is no longer called. A file that fails is refused with
    /// the reason and the others still load; components that declare the
    /// same id are all refused, whatever their names.
    pub async fn load_dir(&self, dir: &Path) -> Result<Vec<LoadOutcome>, PluginError> {
        let stamp = directory_stamp(dir);
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
        let before = self.plugins.load_full();
        // Compiling is CPU work, one file at a time; then every component
        // describes itself at once, each within its own budget, so a slow
        // one holds up none of the others. An unchanged file is neither.
        let prepared: Vec<_> = files
            .iter()
            .map(|f| match unchanged(&before, f) {
                Some(plugin) => Ok(Err(plugin)),
                None => off_the_reactor(|| self.prepare(f)).map(Ok),
            })
            .collect();
        let described = prepared
            .into_iter()
            .zip(&files)
            .map(|(pre, file)| async move {
                match pre? {
                    Ok(pre) => self.describe(file, pre).await.map(Arc::new),
                    Err(kept) => Ok(kept),
                }
            });
        let plugins = futures::future::join_all(described).await;
        let compiled: Vec<(PathBuf, Result<Arc<Plugin>, Refusal>)> =
            files.into_iter().zip(plugins).collect();
        let mut claimants: HashMap<IntegrationId, Vec<PathBuf>> = HashMap::new();
        for (file, plugin) in &compiled {
            if let Ok(plugin) = plugin {
                let files = claimants.entry(plugin.manifest.id.clone()).or_default();
                files.push(file.clone());
            }
        }
        let mut loaded = Loaded::new();
        let mut outcomes = Vec::new();
        for (file, plugin) in compiled {
            let added = plugin.and_then(|plugin| {
                let id = &plugin.manifest.id;
                let others: Vec<PathBuf> = claimants[id]
                    .iter()
                    .filter(|f| **f != file)
                    .cloned()
                    .collect();
                if !others.is_empty() {
                    return Err(Refusal::DuplicateId {
                        id: id.clone(),
                        others,
                    });
                }
                loaded.insert(id.clone(), plugin.clone());
                Ok(plugin)
            });
            outcomes.push(match added {
                Ok(plugin) => LoadOutcome::Loaded {
                    file,
                    id: plugin.manifest.id.clone(),
                    version: plugin.manifest.version.clone(),
                },
                Err(reason) => {
                    let reason = reason.to_string();
                    tracing::warn!(file = %file.display(), "plugin refused: {reason}");
                    LoadOutcome::Refused { file, reason }
                }
            });
        }
        // A component that loaded before and is refused now (a broken
        // build dropped in) stays as it was: its calls go on.
        for outcome in &outcomes {
            if let LoadOutcome::Refused { file, .. } = outcome
                && let Some(old) = before.values().find(|p| p.file == *file)
                && !loaded.contains_key(&old.manifest.id)
            {
                tracing::warn!(plugin = %old.manifest.id, "the loaded version stays");
                loaded.insert(old.manifest.id.clone(), old.clone());
            }
        }
        for (id, plugin) in &loaded {
            match before.get(id) {
                None => {
                    tracing::info!(plugin = %id, version = %plugin.manifest.version, "plugin loaded")
                }
                Some(old) if !Arc::ptr_eq(old, plugin) => tracing::info!(
                    plugin = %id,
                    from = %old.manifest.version,
                    to = %plugin.manifest.version,
                    "plugin replaced; calls in flight finish on the old one"
                ),
                Some(_) => {}
            }
        }
        for id in before.keys().filter(|id| !loaded.contains_key(*id)) {
            tracing::warn!(plugin = %id, "plugin removed; its enablements are kept for its return");
        }
        self.plugins.store(Arc::new(loaded));
        self.report.store(Arc::new(outcomes.clone()));
        self.loaded_stamp.store(Arc::new(stamp));
        Ok(outcomes)
    }

    /// What the last load of the plugins directory came to, file by file.
    pub fn load_report(&self) -> Arc<Vec<LoadOutcome>> {
        self.report.load_full()
    }

    /// Loads `dir` again whenever its components change (a file added,
    /// replaced or removed), until `host` is dropped. A load that fails
    /// is logged and the plugins loaded stay.
    pub fn watch(host: &Arc<PluginHost>, dir: PathBuf, every: std::time::Duration) {
        let weak = Arc::downgrade(host);
        let every = every.max(std::time::Duration::from_millis(10));
        tokio::spawn(async move {
            let mut changing = Vec::new();
            let mut ticker = tokio::time::interval(every);
            loop {
                ticker.tick().await;
                let Some(host) = weak.upgrade() else {
                    break;
                };
                let now = directory_stamp(&dir);
                // Loaded once it has stopped changing for a tick, so a file
                // being copied in is read whole.
                if now == **host.loaded_stamp.load() || now != changing {
                    changing = now;
                    continue;
                }
                if let Err(e) = host.load_dir(&dir).await {
                    tracing::error!("{e}");
                }
            }
        });
    }

    /// Loads one component and adds it to the host.
    pub async fn load_file(&mut self, file: &Path) -> Result<Arc<Plugin>, PluginError> {
        let plugin = match self.prepare(file) {
            Ok(pre) => self.describe(file, pre).await,
            Err(refusal) => Err(refusal),
        };
        plugin
            .and_then(|plugin| self.add(plugin))
            .map_err(|reason| PluginError::Refused {
                file: file.to_owned(),
                reason,
            })
    }

    /// Adds a compiled plugin, unless one with its id is loaded already.
    fn add(&mut self, plugin: Plugin) -> Result<Arc<Plugin>, Refusal> {
        let id = plugin.manifest.id.clone();
        let mut loaded = Loaded::clone(&self.plugins.load());
        if loaded.contains_key(&id) {
            return Err(Refusal::AlreadyLoaded(id));
        }
        let plugin = Arc::new(plugin);
        loaded.insert(id, plugin.clone());
        self.plugins.store(Arc::new(loaded));
        Ok(plugin)
    }

    /// Compiles and links a component, checking what it imports; the error
    /// says why it was refused.
    fn prepare(&self, file: &Path) -> Result<Prepared, Refusal> {
        let size = std::fs::metadata(file).map_err(Refusal::Unreadable)?.len();
        if size > MAX_COMPONENT_BYTES {
            return Err(Refusal::TooLarge {
                size,
                limit: MAX_COMPONENT_BYTES,
            });
        }
        let stamp = Stamp::of(file);
        let bytes = std::fs::read(file).map_err(Refusal::Unreadable)?;
        let engine = &self.runtime.engine;
        let component = cache::compile(engine, &bytes, self.cache_dir.as_deref())
            .map_err(|e| Refusal::NotAComponent(root_cause(&e)))?;
        let ty = component.component_type();
        for (name, _) in ty.imports(engine) {
            if let Some(version) = name
                .strip_prefix("switchboard:connector/")
                .and_then(|rest| rest.split_once('@'))
                .map(|(_, version)| version)
                .filter(|version| version.starts_with("0.1."))
            {
                return Err(Refusal::OldContract(format!(
                    "switchboard:connector@{version}"
                )));
            }
            if FORBIDDEN_IMPORTS
                .iter()
                .any(|prefix| name.starts_with(prefix))
            {
                return Err(Refusal::ForbiddenImport(name.to_owned()));
            }
        }
        Ok(Prepared {
            pre: self.runtime.prepare(&component)?,
            digest: pins::digest(&bytes),
            stamp,
        })
    }

    /// Asks a prepared component for its manifest and validates it; the
    /// error says why it was refused.
    async fn describe(
        &self,
        file: &Path,
        Prepared { pre, digest, stamp }: Prepared,
    ) -> Result<Plugin, Refusal> {
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let nothing = Install {
            hosts: Arc::from(Vec::new()),
            settings: Arc::default(),
        };
        let raw = match self
            .runtime
            .run(
                &name,
                &pre,
                nothing,
                None,
                Call::Describe,
                &mut SandboxTimes::default(),
            )
            .await
        {
            Ok(Answer::Manifest(m)) => m,
            Ok(_) => return Err(Refusal::Describe(Box::new(mismatched(&name)))),
            Err(e) => return Err(Refusal::Describe(Box::new(e))),
        };
        let valid = manifest::validate(raw)?;
        let id = &valid.manifest.id;
        if let Some(pin) = self.pins.get(id) {
            pins::check(id.as_str(), pin, file, &digest).map_err(|mismatch| Refusal::Pin {
                id: id.clone(),
                mismatch,
            })?;
        }
        credential::confirm_endpoints(
            valid.manifest.auth(Mode::User),
            self.oauth_endpoints.get(id),
        )?;
        let turns = self.plugins.load().get(id).map_or_else(
            || Arc::new(tokio::sync::Semaphore::new(self.calls_per_plugin as usize)),
            |loaded| loaded.turns.clone(),
        );
        Ok(Plugin {
            manifest: valid.manifest,
            file: file.to_owned(),
            stamp,
            pre,
            fixed_hosts: network::resolve_all(&valid.hosts, &Settings::new()),
            hosts: valid.hosts,
            setting_validators: valid.setting_validators,
            input_validators: valid.input_validators,
            output_validators: valid.output_validators,
            placements: valid.credentials,
            turns,
        })
    }

    /// The loaded plugin with this id.
    pub fn get(&self, id: &IntegrationId) -> Option<Arc<Plugin>> {
        self.plugins.load().get(id).cloned()
    }

    /// The plugins loaded now, in id order; a later reload leaves this
    /// snapshot as it is.
    pub fn loaded(&self) -> Arc<Loaded> {
        self.plugins.load_full()
    }

    /// Asks the plugin, installed with `settings`, whose account
    /// `credential` belongs to.
    pub async fn check_credential(
        &self,
        plugin: &Plugin,
        settings: &Settings,
        credential: Credential,
    ) -> Result<Account, PluginError> {
        let id = plugin.manifest.id.as_str();
        let _turn = self.turn(plugin)?;
        match self
            .runtime
            .run(
                id,
                &plugin.pre,
                plugin.install(settings),
                Some(credential),
                Call::CheckCredential,
                &mut SandboxTimes::default(),
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

    /// Runs an action of the plugin installed with `settings`. The input
    /// is checked against the action's schema before the plugin sees it.
    pub async fn invoke(
        &self,
        plugin: &Plugin,
        settings: &Settings,
        credential: Option<Credential>,
        action: &str,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value, PluginError> {
        let mut times = SandboxTimes::default();
        self.invoke_timed(plugin, settings, credential, (action, input), &mut times)
            .await
    }

    /// [`Self::invoke`], saying in `times` where the call's time went.
    pub async fn invoke_timed(
        &self,
        plugin: &Plugin,
        settings: &Settings,
        credential: Option<Credential>,
        (action, input): (&str, &serde_json::Value),
        times: &mut SandboxTimes,
    ) -> Result<serde_json::Value, PluginError> {
        let checking = std::time::Instant::now();
        let invalid = |message: String| PluginError::Connector {
            integration: plugin.manifest.id.clone(),
            error: ConnectorError::InvalidInput { message },
        };
        let validator =
            plugin
                .input_validators
                .get(action)
                .ok_or_else(|| PluginError::UnknownAction {
                    integration: plugin.manifest.name.clone(),
                    action: action.to_owned(),
                })?;
        // Most inputs are valid: a yes or no is cheaper than the faults.
        let faults: Vec<String> = (!validator.is_valid(input))
            .then(|| validator.iter_errors(input))
            .into_iter()
            .flatten()
            .map(|e| {
                format!(
                    "{} {}",
                    if e.instance_path().as_str().is_empty() {
                        "input"
                    } else {
                        e.instance_path().as_str()
                    },
                    brief(&e.to_string())
                )
            })
            .collect();
        if !faults.is_empty() {
            return Err(invalid(faults.join("; ")));
        }
        let id = plugin.manifest.id.as_str();
        let _turn = self.turn(plugin)?;
        let input = input.to_string();
        let call = Call::Invoke {
            action,
            input: &input,
        };
        times.checks = checking.elapsed();
        let answer = self
            .runtime
            .run(
                id,
                &plugin.pre,
                plugin.install(settings),
                credential,
                call,
                times,
            )
            .await?;
        match answer {
            Answer::Output(Ok(json)) => {
                let checking = std::time::Instant::now();
                let output = serde_json::from_str(&json).map_err(|e| PluginError::InvalidOutput {
                    plugin: id.to_owned(),
                    detail: format!("it is not JSON ({e})"),
                });
                let output = output.and_then(|output| conforming(plugin, action, output));
                times.checks += checking.elapsed();
                output
            }
            Answer::Output(Err(e)) => Err(PluginError::Connector {
                integration: plugin.manifest.id.clone(),
                error: connector_error(e),
            }),
            _ => Err(mismatched(id)),
        }
    }
}

impl PluginHost {
    /// One of the plugin's turns in the sandboxes, or its refusal at once
    /// when it is running its most calls.
    fn turn<'a>(
        &self,
        plugin: &'a Plugin,
    ) -> Result<tokio::sync::SemaphorePermit<'a>, PluginError> {
        plugin.turns.try_acquire().map_err(|_| PluginError::Busy {
            plugin: plugin.manifest.id.to_string(),
            limit: self.calls_per_plugin,
        })
    }
}

/// `run` answers each kind of call with its own kind of answer; this is
/// the error for the impossible other case, rather than a panic.
fn mismatched(plugin: &str) -> PluginError {
    PluginError::Crashed {
        plugin: plugin.to_owned(),
        detail: "answered a different call".to_owned(),
    }
}
