//! The public façade: every operation a host application asks for.

use crate::model::Auth;
use crate::model::{Account, Actor, ConnectorError, Enablement, IntegrationId, Manifest, Mode};
use crate::plugins::{
    Credential, HostConfig, LoadOutcome, Placement, Plugin, PluginError, PluginHost,
};
use crate::policy::{IntegrationFacts, Operation, Policies, Query, Target};
use crate::store::{Store, StoredCredential};
use crate::vault::{KeySource, Secret, SecretIdentity, Vault};
use crate::{Error, Result};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often the policy directory is checked for changes.
const POLICY_POLL: Duration = Duration::from_secs(1);

/// The kind of a workspace's shared credential, bound into its ciphertext.
const WORKSPACE_CREDENTIAL: &str = "workspace_credential";

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
    /// The master key that seals secrets.
    pub key: KeySource,
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
    store: Store,
    vault: Vault,
    plugins: PluginHost,
    load_report: Vec<LoadOutcome>,
}

impl Engine {
    /// Opens the data file and loads every plugin. A plugin that fails to
    /// load is refused (see [`Engine::load_report`]); the others serve.
    pub async fn open(config: EngineConfig) -> Result<Self> {
        let policies = Arc::new(Policies::load(&config.policies_dir)?);
        if config.watch_policies {
            Policies::watch(&policies, POLICY_POLL);
        }
        let vault = Vault::open(&config.key)?;
        let store = Store::open(&config.data_file)?;
        let mut plugins = PluginHost::new(config.host)?;
        let load_report = plugins.load_dir(&config.plugins_dir).await?;
        Ok(Engine {
            policies,
            store,
            vault,
            plugins,
            load_report,
        })
    }

    /// Re-reads the policy directory now. An invalid set is refused with
    /// every fault, and the set in force stays; says how many policies are
    /// in force.
    pub fn reload_policies(&self) -> Result<usize> {
        Ok(self.policies.reload()?)
    }

    /// The policies in force (for explaining decisions).
    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// Asks the policies; a denial becomes [`Error::Denied`] with its reason.
    fn authorize(&self, query: Query<'_>) -> Result<()> {
        let decision = self.policies.decide(&query)?;
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

    fn enablement(&self, actor: &Actor, integration: &IntegrationId) -> Result<Option<Enablement>> {
        Ok(self
            .store
            .enablement(actor.workspace.as_str(), integration.as_str())?)
    }

    /// What happened to each file of the plugins directory.
    pub fn load_report(&self) -> &[LoadOutcome] {
        &self.load_report
    }

    /// Every loaded integration's manifest.
    pub fn integrations(&self) -> Vec<Manifest> {
        self.plugins.manifests().cloned().collect()
    }

    fn plugin(&self, integration: &IntegrationId) -> Result<&Arc<Plugin>> {
        self.plugins
            .get(integration)
            .ok_or_else(|| Error::UnknownIntegration(integration.clone()))
    }

    /// Enables an integration for the actor's workspace in one mode. The
    /// policies decide on the state read in the same write transaction, so
    /// two enables racing in different modes cannot both succeed.
    pub fn enable(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        mode: Mode,
    ) -> Result<Enablement> {
        let manifest = self.plugin(integration)?.manifest();
        let supported = manifest.supported_modes();
        let enablement = Enablement {
            mode,
            enabled_by: actor.user.clone(),
            enabled_at_ms: now_ms(),
        };
        let changed = self.store.change_enablement(
            actor.workspace.as_str(),
            integration.as_str(),
            |current| {
                let active = current.as_ref().map(|e| e.mode);
                let facts = IntegrationFacts {
                    id: integration,
                    name: &manifest.name,
                    supported: &supported,
                    active,
                };
                self.authorize(Query {
                    actor,
                    operation: Operation::Enable { mode },
                    target: Target::Integration(facts),
                })?;
                match current {
                    None => Ok(Some(enablement.clone())),
                    Some(current) if current.mode == mode => Ok(Some(current)),
                    // Policies may be edited; the one-mode invariant may not.
                    Some(current) => Err(Error::AlreadyEnabled {
                        integration: integration.clone(),
                        active: current.mode,
                        requested: mode,
                    }),
                }
            },
        )?;
        Ok(changed?.unwrap_or(enablement))
    }

    /// Disables an integration for the actor's workspace.
    pub fn disable(&self, actor: &Actor, integration: &IntegrationId) -> Result<()> {
        let manifest = self.plugin(integration)?.manifest();
        let supported = manifest.supported_modes();
        let changed = self.store.change_enablement(
            actor.workspace.as_str(),
            integration.as_str(),
            |current| {
                let active = current.as_ref().map(|e| e.mode);
                let facts = IntegrationFacts {
                    id: integration,
                    name: &manifest.name,
                    supported: &supported,
                    active,
                };
                self.authorize(Query {
                    actor,
                    operation: Operation::Disable,
                    target: Target::Integration(facts),
                })?;
                match current {
                    Some(_) => Ok(None),
                    None => Err(Error::NotEnabled(integration.clone())),
                }
            },
        )?;
        changed.map(drop)
    }

    /// Checks a shared credential against the service, then seals and saves
    /// it. A refused credential is not stored.
    pub async fn set_workspace_credential(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        secret: Secret,
    ) -> Result<Account> {
        let plugin = self.plugin(integration)?;
        let manifest = plugin.manifest();
        let supported = manifest.supported_modes();
        let active = self.enablement(actor, integration)?.map(|e| e.mode);
        let facts = IntegrationFacts {
            id: integration,
            name: &manifest.name,
            supported: &supported,
            active,
        };
        self.authorize(Query {
            actor,
            operation: Operation::ConfigureWorkspaceCredential,
            target: Target::Integration(facts),
        })?;
        let credential = credential_for(plugin, Mode::Workspace, secret.clone())?;
        let account = self
            .plugins
            .check_credential(plugin, credential)
            .await
            .map_err(refusal)?;
        let identity = workspace_identity(actor, integration);
        let now = now_ms();
        let stored = StoredCredential {
            sealed: self.vault.seal(&secret, identity)?,
            account: account.clone(),
            set_by: actor.user.clone(),
            set_at_ms: now,
            checked_at_ms: now,
        };
        self.store.set_workspace_credential(
            actor.workspace.as_str(),
            integration.as_str(),
            &stored,
        )?;
        Ok(account)
    }

    /// Runs an action with the workspace credential or the actor's own
    /// connection, whichever mode the integration is enabled in.
    pub async fn invoke(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        action: &str,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        let plugin = self.plugin(integration)?;
        let manifest = plugin.manifest();
        let workspace = actor.workspace.as_str();
        let enablement = self.enablement(actor, integration)?;
        let supported = manifest.supported_modes();
        let facts = IntegrationFacts {
            id: integration,
            name: &manifest.name,
            supported: &supported,
            active: enablement.as_ref().map(|e| e.mode),
        };
        let credit_cost = manifest.action(action).map(|a| a.credit_cost).unwrap_or(0);
        // Usage metering arrives with the state issue; no limit is set until then.
        let operation = Operation::Invoke {
            action,
            credit_cost,
            credits_used: 0,
            credit_limit: None,
        };
        self.authorize(Query {
            actor,
            operation,
            target: Target::Integration(facts),
        })?;
        let enablement = enablement.ok_or_else(|| Error::NotEnabled(integration.clone()))?;
        let secret = match enablement.mode {
            Mode::Workspace => {
                let stored = self
                    .store
                    .workspace_credential(workspace, integration.as_str())?
                    .ok_or_else(|| Error::NoWorkspaceCredential(integration.clone()))?;
                self.vault
                    .open_secret(&stored.sealed, workspace_identity(actor, integration))?
            }
            Mode::User => return Err(Error::NotConnected(integration.clone())),
        };
        let credential = credential_for(plugin, enablement.mode, secret)?;
        Ok(self
            .plugins
            .invoke(plugin, Some(credential), action, input)
            .await?)
    }
}

fn workspace_identity<'a>(actor: &'a Actor, integration: &'a IntegrationId) -> SecretIdentity<'a> {
    SecretIdentity {
        workspace: actor.workspace.as_str(),
        integration: integration.as_str(),
        user: "",
        kind: WORKSPACE_CREDENTIAL,
    }
}

/// Pairs a secret with where the manifest says it goes.
fn credential_for(plugin: &Plugin, mode: Mode, secret: Secret) -> Result<Credential> {
    let manifest = plugin.manifest();
    let placement = match manifest.auth(mode) {
        Some(Auth::ApiKeyQuery { parameter }) => Placement::Query(parameter.clone()),
        Some(Auth::ApiKeyHeader { header, prefix }) => Placement::Header {
            // Validated when the manifest loaded.
            name: header.parse().map_err(|_| Error::ModeNotSupported {
                integration: manifest.id.clone(),
                mode,
            })?,
            prefix: prefix.clone().unwrap_or_default(),
        },
        Some(Auth::OAuth2 { .. }) => Placement::Bearer,
        None => {
            return Err(Error::ModeNotSupported {
                integration: manifest.id.clone(),
                mode,
            });
        }
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

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}
