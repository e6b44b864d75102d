//! The public façade: every operation a host application asks for. Each
//! operation asks the policies first and records its outcome in the audit
//! trail, in the same write transaction as the change it makes.

mod keys;
mod members;
mod oauth;
mod team;

use crate::audit::{Entry, Outcome};
use crate::model::{
    Account, Actor, Auth, ConnectionId, ConnectorError, Event, IntegrationId, Mode, UserId,
    WorkspaceId,
};
use crate::plugins::{
    Credential, HostConfig, LoadOutcome, Placement, Plugin, PluginError, PluginHost,
};
use crate::policy::{IntegrationFacts, Policies, Query};
use crate::store::{Read, Store, StoreError, Writer};
use crate::usage::Meter;
use crate::vault::{KeySource, Secret, Vault};
use crate::{Error, Result};
pub use keys::{Rotation, keys, retire, rotate, verify_secrets};
pub use oauth::{Callback, SignIn};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

/// How often the policy directory is checked for changes.
const POLICY_POLL: Duration = Duration::from_secs(1);
/// How often usage counters are written to the store.
const USAGE_FLUSH: Duration = Duration::from_secs(1);
/// Events kept for slow subscribers before the oldest are dropped.
const EVENT_BACKLOG: usize = 1024;

/// Where the engine keeps its state and finds its plugins.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The redb data file (created if missing).
    pub data_file: PathBuf,
    /// The directory of connector components (`*.wasm`).
    pub plugins_dir: PathBuf,
    /// The Cedar schema and policies (`schema.cedarschema`, `*.cedar`).
    pub policies_dir: PathBuf,
    /// Reload the policies when their files change (needs a tokio runtime).
    pub watch_policies: bool,
    /// The master keys that seal secrets.
    pub key: KeySource,
    /// The host application's OAuth client registration per integration.
    pub oauth_clients: HashMap<IntegrationId, crate::oauth::Client>,
    /// How long a member has to finish signing in (10 minutes).
    pub oauth_flow_lifetime: Duration,
    pub host: HostConfig,
}

impl EngineConfig {
    /// Defaults beside the data file: the key file `<data>.key` (unless
    /// `SWITCHBOARD_MASTER_KEY` is set) and compiled plugins in `<data>.cache/`.
    pub fn new(
        data_file: impl Into<PathBuf>,
        plugins_dir: impl Into<PathBuf>,
        policies_dir: impl Into<PathBuf>,
    ) -> Self {
        let data_file = data_file.into();
        EngineConfig {
            policies_dir: policies_dir.into(),
            watch_policies: true,
            key: KeySource::EnvOrFile(data_file.with_extension("key")),
            oauth_clients: HashMap::new(),
            oauth_flow_lifetime: crate::oauth::FLOW_LIFETIME,
            host: HostConfig {
                cache_dir: Some(data_file.with_extension("cache")),
                ..HostConfig::default()
            },
            plugins_dir: plugins_dir.into(),
            data_file,
        }
    }
}

pub struct Engine {
    policies: Arc<Policies>,
    store: Arc<Store>,
    vault: Vault,
    plugins: PluginHost,
    load_report: Vec<LoadOutcome>,
    meter: Arc<Meter>,
    events: broadcast::Sender<Event>,
    flusher: Option<Flusher>,
    oauth_clients: HashMap<IntegrationId, crate::oauth::Client>,
    flow_lifetime: Duration,
    tokens: crate::oauth::TokenClient,
    /// One refresh at a time per connection.
    refresh_locks: std::sync::Mutex<HashMap<ConnectionId, Arc<tokio::sync::Mutex<()>>>>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl Engine {
    /// Opens the data file and loads the policies and every plugin. A
    /// plugin that fails to load is refused (see [`Engine::load_report`]);
    /// the others serve.
    pub async fn open(config: EngineConfig) -> Result<Self> {
        let policies = Arc::new(Policies::load(&config.policies_dir)?);
        if config.watch_policies {
            Policies::watch(&policies, POLICY_POLL);
        }
        let vault = Vault::open(&config.key)?;
        let store = Arc::new(Store::open(&config.data_file)?);
        let tokens =
            crate::oauth::TokenClient::new(config.host.routes.clone()).map_err(Error::Internal)?;
        let mut plugins = PluginHost::new(config.host)?;
        let load_report = plugins.load_dir(&config.plugins_dir).await?;
        let meter = Arc::new(Meter::default());
        let flusher = Flusher::start(store.clone(), meter.clone())
            .map_err(|e| Error::Internal(format!("cannot start the usage writer: {e}")))?;
        let (events, _) = broadcast::channel(EVENT_BACKLOG);
        Ok(Engine {
            policies,
            store,
            vault,
            plugins,
            load_report,
            meter,
            events,
            flusher: Some(flusher),
            oauth_clients: config.oauth_clients,
            flow_lifetime: config.oauth_flow_lifetime,
            tokens,
            refresh_locks: Default::default(),
            metrics: Arc::default(),
        })
    }

    /// What happened to each file of the plugins directory.
    pub fn load_report(&self) -> &[LoadOutcome] {
        &self.load_report
    }

    /// Every loaded integration's manifest (the catalogue, for the host).
    pub fn integrations(&self) -> Vec<crate::model::Manifest> {
        self.plugins.manifests().cloned().collect()
    }

    /// Re-reads the policy directory now. An invalid set is refused with
    /// every fault and the set in force stays; says how many policies are
    /// in force.
    pub fn reload_policies(&self) -> Result<usize> {
        Ok(self.policies.reload()?)
    }

    /// The policies in force (for explaining decisions).
    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// The engine's metrics (rendered at `/metrics` by the service).
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.metrics
    }

    /// Events about changes that affect members (T6, U3), from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Writes pending usage counters now (also done every second and when
    /// the engine is dropped).
    pub fn flush_usage(&self) -> Result<()> {
        Ok(flush(&self.store, &self.meter)?)
    }

    /// Sets or clears a workspace's monthly credit limit (R7), as the host
    /// application decides it.
    pub fn set_credit_limit(&self, workspace: &WorkspaceId, limit: Option<u64>) -> Result<()> {
        let entry = Entry {
            actor: UserId::new("(host)"),
            role: crate::model::Role::Admin,
            operation: "set_credit_limit".into(),
            integration: None,
            outcome: Outcome::Allowed,
            detail: Some(limit.map_or("no limit".into(), |l| format!("{l} credits a month"))),
        };
        self.store.write(|w| {
            w.set_credit_limit(workspace.as_str(), limit)?;
            w.audit(workspace, now_ms(), entry)?;
            Ok(Ok::<_, Error>(()))
        })??;
        Ok(())
    }

    fn plugin(&self, integration: &IntegrationId) -> Result<&Arc<Plugin>> {
        self.plugins
            .get(integration)
            .ok_or_else(|| Error::UnknownIntegration(integration.clone()))
    }

    /// Asks the policies; a denial becomes [`Error::Denied`] with its reason.
    fn authorize(&self, query: Query<'_>) -> Result<()> {
        let decision = self.policies.decide(&query)?;
        let labels = crate::metrics::DecisionLabels {
            action: query.operation.action_id().to_owned(),
            outcome: if decision.allowed { "allow" } else { "deny" }.to_owned(),
            policy: decision
                .policies
                .first()
                .cloned()
                .unwrap_or_else(|| "none".to_owned()),
        };
        self.metrics.decisions.get_or_create(&labels).inc();
        if decision.allowed {
            return Ok(());
        }
        tracing::info!(
            user = %query.actor.user, workspace = %query.actor.workspace,
            action = query.operation.action_id(), policies = ?decision.policies, "denied"
        );
        Err(Error::Denied {
            reason: decision.reason.unwrap_or_default(),
            policies: decision.policies,
        })
    }

    /// Runs a change in one write transaction and appends its audit record
    /// there too: allowed, denied by a policy, or failed.
    fn audited<T>(
        &self,
        actor: &Actor,
        operation: &str,
        integration: Option<&IntegrationId>,
        detail: Option<String>,
        change: impl FnOnce(&mut Writer) -> std::result::Result<Result<T>, StoreError>,
    ) -> Result<T> {
        self.store.write(|w| {
            let result = change(w)?;
            let outcome = match &result {
                Ok(_) => Outcome::Allowed,
                Err(e) => outcome_of(e),
            };
            w.audit(
                &actor.workspace,
                now_ms(),
                entry(actor, operation, integration, outcome, detail),
            )?;
            Ok(result)
        })?
    }

    /// Records an attempt that changed nothing (a read that was denied, a
    /// credential the service refused).
    fn audit_attempt(
        &self,
        actor: &Actor,
        operation: &str,
        integration: Option<&IntegrationId>,
        error: &Error,
    ) {
        let record = entry(actor, operation, integration, outcome_of(error), None);
        let written = self.store.write(|w| {
            w.audit(&actor.workspace, now_ms(), record)
                .map(Ok::<_, Error>)
        });
        if let Err(e) = written {
            tracing::error!("could not record a refused {operation} in the audit trail: {e}");
        }
    }

    /// Asks the policies about a read, recording a denial.
    fn authorize_read(
        &self,
        query: Query<'_>,
        operation: &str,
        integration: Option<&IntegrationId>,
    ) -> Result<()> {
        self.authorize(query)
            .inspect_err(|e| self.audit_attempt(query.actor, operation, integration, e))
    }

    /// Checks a credential with the plugin, recording a refusal.
    async fn checked(
        &self,
        actor: &Actor,
        operation: &str,
        plugin: &Plugin,
        mode: Mode,
        secret: Secret,
    ) -> Result<Account> {
        let integration = &plugin.manifest().id;
        check(&self.plugins, plugin, mode, secret)
            .await
            .inspect_err(|e| self.audit_attempt(actor, operation, Some(integration), e))
    }

    /// Asks the policies about an operation on an integration as it stands
    /// in the actor's workspace now, recording a denial.
    fn authorize_on(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        operation: crate::policy::Operation<'_>,
        audit_as: &str,
    ) -> Result<()> {
        let plugin = self.plugin(integration)?;
        let supported = plugin.manifest().supported_modes();
        let active = self
            .store
            .read(|r| r.enablement(actor.workspace.as_str(), integration.as_str()))?
            .map(|e| e.mode);
        let query = Query {
            actor,
            operation,
            target: crate::policy::Target::Integration(facts(plugin, &supported, active)),
        };
        self.authorize_read(query, audit_as, Some(integration))
    }

    fn publish(&self, event: Event) {
        // No subscriber is fine: the host may not listen.
        let _ = self.events.send(event);
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Stops the writer, which writes what is pending first.
        drop(self.flusher.take());
    }
}

/// Writes usage counters every second, and once more when stopped.
struct Flusher {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Flusher {
    fn start(store: Arc<Store>, meter: Arc<Meter>) -> std::io::Result<Self> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("switchboard-usage".into())
            .spawn(move || {
                loop {
                    let last = !matches!(
                        stopped.recv_timeout(USAGE_FLUSH),
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                    );
                    if let Err(e) = flush(&store, &meter) {
                        tracing::error!(
                            "could not write usage counters (kept for the next try): {e}"
                        );
                    }
                    if last {
                        break;
                    }
                }
            })?;
        Ok(Flusher {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn flush(store: &Store, meter: &Meter) -> std::result::Result<(), StoreError> {
    let counters = meter.drain();
    if counters.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    let written = store.write(|w| {
        w.add_usage(&counters)?;
        for key in counters.keys() {
            if let Some(mut stored) = w.connection_of(
                key.workspace.as_str(),
                key.integration.as_str(),
                key.user.as_str(),
            )? {
                stored.connection.last_used_at_ms = Some(now);
                w.put_connection(&stored)?;
            }
        }
        Ok(Ok::<_, StoreError>(()))
    });
    match written {
        Ok(_) => Ok(()),
        Err(e) => {
            meter.restore(counters);
            Err(e)
        }
    }
}

fn entry(
    actor: &Actor,
    operation: &str,
    integration: Option<&IntegrationId>,
    outcome: Outcome,
    detail: Option<String>,
) -> Entry {
    Entry {
        actor: actor.user.clone(),
        role: actor.role,
        operation: operation.to_owned(),
        integration: integration.cloned(),
        outcome,
        detail,
    }
}

fn outcome_of(error: &Error) -> Outcome {
    match error {
        Error::Denied { reason, policies } => Outcome::Denied {
            reason: reason.clone(),
            policies: policies.clone(),
        },
        other => Outcome::Failed {
            message: other.to_string(),
        },
    }
}

/// What the policies need to know about an integration in a workspace.
fn facts<'a>(
    plugin: &'a Plugin,
    supported: &'a [Mode],
    active: Option<Mode>,
) -> IntegrationFacts<'a> {
    let manifest = plugin.manifest();
    IntegrationFacts {
        id: &manifest.id,
        name: &manifest.name,
        supported,
        active,
    }
}

/// Pairs a secret with where the manifest says it goes.
fn credential_for(plugin: &Plugin, mode: Mode, secret: Secret) -> Result<Credential> {
    let manifest = plugin.manifest();
    let unsupported = || Error::ModeNotSupported {
        integration: manifest.id.clone(),
        mode,
    };
    let placement = match manifest.auth(mode) {
        Some(Auth::ApiKeyQuery { parameter }) => Placement::Query(parameter.clone()),
        // The header name was validated when the manifest loaded.
        Some(Auth::ApiKeyHeader { header, prefix }) => Placement::Header {
            name: header.parse().map_err(|_| unsupported())?,
            prefix: prefix.clone().unwrap_or_default(),
        },
        Some(Auth::OAuth2 { .. }) => Placement::Bearer,
        None => return Err(unsupported()),
    };
    Ok(Credential { secret, placement })
}

/// A credential check that the service refused is the caller's problem to
/// fix, not a fault: say so with the service's reason.
fn refusal(error: PluginError) -> Error {
    match error {
        PluginError::Connector {
            error: ConnectorError::Unauthorized { message },
            ..
        } => Error::CredentialRefused(message),
        other => Error::Plugin(other),
    }
}

/// Checks a credential with the plugin and says whose it is.
async fn check(
    plugins: &PluginHost,
    plugin: &Plugin,
    mode: Mode,
    secret: Secret,
) -> Result<Account> {
    let credential = credential_for(plugin, mode, secret)?;
    plugins
        .check_credential(plugin, credential)
        .await
        .map_err(refusal)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}
