//! The public façade: every operation a host application asks for, grouped
//! by what it does: enablement (what admins set up), connections (what
//! members connect), invoke (using an integration), reports (the two pages,
//! usage and the audit trail) and keys. Each operation asks the
//! policies first and records its outcome in the audit trail, in the same
//! write transaction as the change it makes. Secrets are handled in one
//! room only, `credentials`.

mod connections;
mod credentials;
mod enablement;
mod fairness;
mod invoke;
mod keys;
mod recent;
mod reports;
mod returns;
mod sessions;

use crate::audit::{Entry, Outcome};
use crate::metrics::Metrics;
use crate::model::{Actor, IntegrationId, Manifest, Mode, Role, Settings, UserId};
use crate::plugins::{HostConfig, LoadOutcome, Plugin, PluginHost};
use crate::policy::{IntegrationFacts, Operation, Policies, Query, Target};
use crate::store::{Location, Store, Write};
use crate::usage::Meter;
use crate::vault::{KeySource, Vault};
use crate::{Error, Result};
pub use connections::{OpenedSignIn, SignInEnd, sign_in_cookie};
use credentials::Credentials;
pub use credentials::{Callback, Rotation, SignIn};
pub(crate) use credentials::{keys, retire, rotate};
pub use fairness::CallShares;
pub use returns::{InvalidReturnUrl, ReturnUrls};
pub use sessions::{
    DEFAULT_SESSION_TTL, MAX_SESSION_TTL, OpenedSession, SESSION_TOKEN_PREFIX, Session,
    SessionRefused,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

/// How often the policy directory is checked for changes.
const POLICY_POLL: Duration = Duration::from_secs(1);
/// How often the plugins directory is checked for changes.
const PLUGIN_POLL: Duration = Duration::from_secs(1);
/// How often usage counters are written to the store.
const USAGE_FLUSH: Duration = Duration::from_secs(1);

/// Where the engine keeps its state and finds its plugins.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where the state lives: a redb data file (created if missing) or a
    /// PostgreSQL database shared by every node.
    pub data: Location,
    /// The directory of connector components (`*.wasm`).
    pub plugins_dir: PathBuf,
    /// The Cedar schema and policies (`schema.cedarschema`, `*.cedar`).
    pub policies_dir: PathBuf,
    /// Reload the policies when their files change (needs a tokio runtime).
    pub watch_policies: bool,
    /// Load the plugins again when a component is added, replaced or
    /// removed (needs a tokio runtime).
    pub watch_plugins: bool,
    /// The master keys that seal secrets.
    pub key: KeySource,
    /// The operator's OAuth registration per integration: the client, how
    /// it authenticates, and the provider its endpoints come from.
    pub oauth: HashMap<IntegrationId, crate::oauth::Registration>,
    /// How long a member has to finish signing in (10 minutes).
    pub oauth_flow_lifetime: Duration,
    /// Where browsers may be sent back to when a sign-in ends.
    pub return_urls: ReturnUrls,
    /// How many calls one member, and one workspace, may run at once.
    pub call_shares: CallShares,
    /// How plugins are compiled, bounded and routed.
    pub host: HostConfig,
    /// How many recent answers are kept of each kind, for the same ask
    /// again: reads for calls and pages (while nothing was written since),
    /// and per policy set the entities and what the policies that do not
    /// read the credits used decided. 0 keeps none: every read and every
    /// policy is evaluated afresh.
    pub kept: usize,
}

impl EngineConfig {
    /// Defaults beside a data file: the key file `<data>.key` (unless
    /// `SWITCHBOARD_MASTER_KEY` is set) and compiled plugins in
    /// `<data>.cache/`. A database has nothing beside it: every node must
    /// be given the same keys (`SWITCHBOARD_MASTER_KEY`, or [`Self::key`]
    /// naming one shared key file), and compiles its plugins at start.
    pub fn new(
        data: impl Into<Location>,
        plugins_dir: impl Into<PathBuf>,
        policies_dir: impl Into<PathBuf>,
    ) -> Self {
        let data = data.into();
        EngineConfig {
            policies_dir: policies_dir.into(),
            watch_policies: true,
            watch_plugins: true,
            key: KeySource::beside(&data),
            oauth: HashMap::new(),
            oauth_flow_lifetime: crate::oauth::FLOW_LIFETIME,
            return_urls: ReturnUrls::default(),
            call_shares: CallShares::default(),
            kept: crate::kept::DEFAULT_CAPACITY,
            host: HostConfig {
                cache_dir: data.file().map(|f| f.with_extension("cache")),
                ..HostConfig::default()
            },
            plugins_dir: plugins_dir.into(),
            data,
        }
    }
}

/// The integration-governance engine: open one per data file and share it
/// (it is `Send + Sync`); every method takes the [`Actor`] the host
/// application vouches for.
pub struct Engine {
    policies: Arc<Policies>,
    store: Arc<Store>,
    credentials: Credentials,
    /// Where browsers may be sent back to when a sign-in ends.
    return_urls: ReturnUrls,
    plugins: Arc<PluginHost>,
    meter: Arc<Meter>,
    flusher: Option<Flusher>,
    metrics: Arc<Metrics>,
    /// The (workspace, integration, what it asks) already announced as
    /// needing approval, so the event goes out once per process and ask,
    /// not per call.
    announced_approvals: std::sync::Mutex<std::collections::HashSet<(String, String, String)>>,
    /// The calls running now, per member and workspace.
    running: fairness::Running,
    /// What recent calls and page views read, for the next ones.
    recent_calls: recent::Recent<crate::store::CallRecords>,
    recent_pages: recent::Recent<crate::store::MemberRecords>,
    recent_team_pages: recent::Recent<crate::store::TeamRecords>,
}

impl Engine {
    /// Opens the data file and loads the policies and every plugin. A
    /// plugin that fails to load is refused (see [`Engine::load_report`]);
    /// the others serve.
    pub async fn open(config: EngineConfig) -> Result<Self> {
        let policies = Arc::new(Policies::load_keeping(&config.policies_dir, config.kept)?);
        if config.watch_policies {
            Policies::watch(&policies, POLICY_POLL);
        }
        let vault = Vault::open(&config.key)?;
        let store = Arc::new(Store::open(&config.data)?);
        let tokens = crate::oauth::TokenClient::new(&config.host.routes)?;
        let browser_routes = config.host.routes.clone();
        let (registrations, endpoints) = resolve_registrations(&tokens, config.oauth).await;
        let mut host = config.host;
        host.oauth_endpoints = endpoints;
        let plugins = Arc::new(PluginHost::new(host)?);
        plugins.load_dir(&config.plugins_dir).await?;
        if config.watch_plugins {
            PluginHost::watch(&plugins, config.plugins_dir.clone(), PLUGIN_POLL);
        }
        let meter = Arc::new(Meter::default());
        let flusher = Flusher::start(store.clone(), meter.clone())
            .map_err(|e| Error::Internal(format!("cannot start the usage writer: {e}")))?;
        let metrics = Arc::new(Metrics::default());
        let credentials = Credentials::new(
            store.clone(),
            vault,
            tokens,
            registrations,
            config.oauth_flow_lifetime,
            metrics.clone(),
            browser_routes,
        );
        Ok(Engine {
            policies,
            store,
            credentials,
            plugins,
            meter,
            flusher: Some(flusher),
            metrics,
            announced_approvals: Default::default(),
            running: fairness::Running::new(config.call_shares),
            recent_calls: recent::Recent::new(config.kept),
            recent_pages: recent::Recent::new(config.kept),
            recent_team_pages: recent::Recent::new(config.kept),
            return_urls: config.return_urls,
        })
    }

    /// What happened to each file of the plugins directory when it was
    /// last loaded.
    pub fn load_report(&self) -> Arc<Vec<LoadOutcome>> {
        self.plugins.load_report()
    }

    /// Every loaded integration's manifest (the catalogue, for the host).
    pub fn integrations(&self) -> Vec<Manifest> {
        self.plugins
            .loaded()
            .values()
            .map(|p| p.manifest().clone())
            .collect()
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
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Events about changes that affect members (an integration disabled,
    /// connections restored, a sign-in needed again), from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<crate::model::Event> {
        self.store.subscribe()
    }

    /// Writes pending usage counters now (also done every second and when
    /// the engine is dropped).
    pub fn flush_usage(&self) -> Result<()> {
        flush(&self.store, &self.meter)
    }

    /// Sets or clears a workspace's monthly credit limit, as the host
    /// application decides it; the policies enforce it.
    pub fn set_credit_limit(
        &self,
        workspace: &crate::model::WorkspaceId,
        limit: Option<u64>,
    ) -> Result<()> {
        crate::model::check_id("workspace", workspace.as_str())?;
        let entry = Entry {
            actor: UserId::new("(host)"),
            role: Role::Admin,
            operation: "set_credit_limit".into(),
            integration: None,
            outcome: Outcome::Allowed,
            detail: Some(limit.map_or("no limit".into(), |l| format!("{l} credits a month"))),
        };
        self.store.write(|w| {
            w.set_credit_limit(workspace.as_str(), limit)?;
            w.audit(workspace, now_ms(), entry)?;
            Ok(())
        })
    }

    fn plugin(&self, integration: &IntegrationId) -> Result<Arc<Plugin>> {
        self.plugins
            .get(integration)
            .ok_or_else(|| Error::UnknownIntegration(integration.clone()))
    }

    /// Asks the policies; a denial becomes [`Error::Denied`] with its reason.
    fn authorize(&self, query: Query<'_>) -> Result<()> {
        // Every operation asks the policies first: ids are checked here
        // once for all of them, before anything is decided or stored.
        query.actor.check()?;
        let decision = self.policies.decide(&query)?;
        let labels = crate::metrics::DecisionLabels {
            action: query.operation.action_id(),
            outcome: if decision.allowed { "allow" } else { "deny" },
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
    /// there too: allowed, denied by a policy, or failed. A storage error
    /// rolls both back.
    fn audited<T>(
        &self,
        actor: &Actor,
        operation: &str,
        integration: Option<&IntegrationId>,
        detail: Option<String>,
        change: impl FnOnce(&mut dyn Write) -> Result<T>,
    ) -> Result<T> {
        // Before the store sees them: a change reads the state it decides on.
        actor.check()?;
        self.store.write(|w| {
            w.changes(actor.workspace.as_str())?;
            let result = change(w);
            let outcome = match &result {
                Ok(_) => Outcome::Allowed,
                Err(Error::Store(_)) => return result,
                Err(e) => outcome_of(e),
            };
            w.audit(
                &actor.workspace,
                now_ms(),
                entry(actor, operation, integration, outcome, detail),
            )?;
            result
        })
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
        let written = self
            .store
            .write(|w| Ok(w.audit(&actor.workspace, now_ms(), record)?));
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

    /// Asks the policies about a page of the workspace, recording a denial.
    fn authorize_page(
        &self,
        actor: &Actor,
        operation: Operation<'_>,
        audit_as: &str,
    ) -> Result<()> {
        let query = Query {
            actor,
            operation,
            target: Target::Workspace,
        };
        self.authorize_read(query, audit_as, None)
    }

    /// Asks the policies about an operation on an integration as it stands
    /// in the actor's workspace now, recording a denial.
    fn authorize_on(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        operation: Operation<'_>,
        audit_as: &str,
    ) -> Result<()> {
        let plugin = &self.plugin(integration)?;
        let supported = plugin.manifest().supported_modes();
        let active = self
            .store
            .read(|r| r.enablement(actor.workspace.as_str(), integration.as_str()))?
            .map(|e| e.mode);
        let query = Query {
            actor,
            operation,
            target: Target::Integration(facts(plugin, &supported, active)),
        };
        self.authorize_read(query, audit_as, Some(integration))
    }

    /// The settings of the actor's workspace's install of `plugin` (none
    /// while it is not enabled).
    fn settings_now(&self, actor: &Actor, plugin: &Plugin) -> Result<Settings> {
        let (workspace, id) = (actor.workspace.as_str(), plugin.manifest().id.as_str());
        Ok(self
            .store
            .read(|r| r.enablement(workspace, id))?
            .map(|e| e.settings)
            .unwrap_or_default())
    }

    /// Checks a credential with the plugin, as installed with `settings`,
    /// recording a refusal.
    async fn checked(
        &self,
        actor: &Actor,
        operation: &str,
        plugin: &Plugin,
        (mode, settings): (Mode, &Settings),
        secret: crate::vault::Secret,
    ) -> Result<crate::model::Account> {
        self.credentials
            .check(&self.plugins, plugin, mode, secret, settings)
            .await
            .inspect_err(|e| self.audit_attempt(actor, operation, Some(&plugin.manifest().id), e))
    }

    fn publish(&self, event: crate::model::Event) {
        self.store.publish(&event);
    }

    /// Round trips to the database so far (0 on a data file): what this
    /// node asks of a shared database, for capacity planning.
    pub fn database_round_trips(&self) -> u64 {
        self.store.round_trips()
    }

    /// Whether the state can be reached now (a database answers).
    pub fn check_storage(&self) -> Result<()> {
        Ok(self.store.ping()?)
    }

    /// Which events this node acts on for the cluster (a webhook goes
    /// out once, from one node), for the service's webhook sender.
    pub fn event_claims(&self) -> EventClaims {
        EventClaims(self.store.clone())
    }
}

/// Claims events for this node; see [`Engine::event_claims`].
#[derive(Clone)]
pub struct EventClaims(Arc<Store>);

impl EventClaims {
    /// Whether this node is the one to act on `event`, of all the nodes
    /// that heard it (always, on a data file). A failure to ask is an
    /// error: the caller decides between twice and never.
    pub fn claim(&self, event: &crate::model::Event) -> Result<bool> {
        Ok(self.0.claim_event(&event.id)?)
    }
}

/// A fresh random id with `prefix`, e.g. `conn_` + 24 hex digits.
pub(crate) fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    // The OS random source failing is not recoverable in any useful way;
    // fall back to the clock so the id is still unique in practice.
    if getrandom::fill(&mut bytes).is_err() {
        bytes[..8].copy_from_slice(&now_ms().to_be_bytes());
    }
    format!("{prefix}_{}", hex::encode(bytes))
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

/// Writes the pending usage counters, and marks the connections they used
/// as used now; on failure the counters are kept for the next try.
fn flush(store: &Store, meter: &Meter) -> Result<()> {
    let counters = meter.drain();
    if counters.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    // In key order, so that nodes flushing at once lock rows in one order.
    let used: std::collections::BTreeSet<(&str, &str, &str)> = counters
        .keys()
        .map(|k| {
            (
                k.workspace.as_str(),
                k.integration.as_str(),
                k.user.as_str(),
            )
        })
        .collect();
    let used: Vec<_> = used.into_iter().collect();
    let written = store.write(|w| {
        w.add_usage(&counters)?;
        w.mark_used(&used, now)?;
        Ok(())
    });
    written.inspect_err(|_| meter.restore(counters))
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

/// Resolves each registration's endpoints (an issuer's discovery document
/// is fetched once, however many integrations share it). A registration
/// that cannot be resolved is logged and its plugin refused at load.
async fn resolve_registrations(
    tokens: &crate::oauth::TokenClient,
    registrations: HashMap<IntegrationId, crate::oauth::Registration>,
) -> (
    HashMap<IntegrationId, crate::oauth::Registered>,
    HashMap<IntegrationId, crate::plugins::RegisteredEndpoints>,
) {
    let mut discovered: HashMap<String, crate::plugins::RegisteredEndpoints> = HashMap::new();
    let mut resolved = HashMap::new();
    let mut endpoints = HashMap::new();
    for (id, registration) in registrations {
        let key = match &registration.provider {
            crate::oauth::Provider::Issuer(issuer) => {
                format!("{issuer} {}", registration.auth.method())
            }
            _ => String::new(),
        };
        let found = match discovered.get(&key).filter(|_| !key.is_empty()) {
            Some(found) => found.clone(),
            None => {
                let found = resolve(tokens, &registration).await;
                if !key.is_empty() {
                    discovered.insert(key, found.clone());
                }
                found
            }
        };
        match &found {
            Ok(ends) => {
                resolved.insert(
                    id.clone(),
                    crate::oauth::Registered {
                        registration,
                        endpoints: ends.clone(),
                    },
                );
            }
            Err(why) => tracing::error!(integration = %id, "OAuth registration unusable: {why}"),
        }
        endpoints.insert(id, found);
    }
    (resolved, endpoints)
}

/// A registration's endpoints; a discovery that fails is tried twice more,
/// half a second and a second later, so a blip at start does not refuse
/// the plugin until the next restart.
async fn resolve(
    tokens: &crate::oauth::TokenClient,
    registration: &crate::oauth::Registration,
) -> crate::plugins::RegisteredEndpoints {
    let mut pause = Duration::from_millis(500);
    loop {
        let found = registration
            .provider
            .endpoints(tokens.http(), &registration.auth)
            .await
            .map_err(|e| e.to_string());
        if found.is_ok() || pause > Duration::from_secs(1) {
            return found;
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
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

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}
