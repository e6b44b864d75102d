//! The Integrations page (U1–U5): every member, their own connections, and
//! using an integration.

use super::{Engine, credential_for, facts, now_ms};
use crate::model::{
    Account, Actor, Auth, Connection, ConnectionId, ConnectionStatus, ConnectorError, Event,
    EventKind, IntegrationId, IntegrationsPage, Mode, UserIntegration, WorkspaceIntegration,
};
use crate::plugins::PluginError;
use crate::policy::{ConnectionFacts, Operation, Query, Target};
use crate::store::{Read, StoredConnection};
use crate::usage::{self, DAY_MS};
use crate::vault::{Secret, SecretIdentity};
use crate::{Error, Result};

/// What the page says when nothing is enabled.
const EMPTY_STATE: &str = "No integrations are enabled for this workspace yet. Ask an admin to enable the ones your team needs.";

impl Engine {
    /// The Integrations page: enabled user-mode integrations with my
    /// connection, and enabled workspace-mode ones (view-only). Disabled
    /// integrations do not appear.
    pub fn user_integrations(&self, actor: &Actor) -> Result<IntegrationsPage> {
        self.authorize_read(
            Query {
                actor,
                operation: Operation::ViewIntegrations,
                target: Target::Workspace,
            },
            "view_integrations",
            None,
        )?;
        let workspace = actor.workspace.as_str();
        let (mut user_integrations, mut workspace_integrations) = (Vec::new(), Vec::new());
        self.store.read(|r| {
            let enabled = r.enablements_of(workspace)?;
            let with_credentials = if enabled.values().any(|e| e.mode == Mode::Workspace) {
                r.integrations_with_credentials(workspace)?
            } else {
                Default::default()
            };
            for m in self.plugins.manifests() {
                match enabled.get(m.id.as_str()).map(|e| e.mode) {
                    Some(Mode::User) => {
                        let connection = r
                            .connection_record(workspace, m.id.as_str(), actor.user.as_str())?
                            .map(|r| r.connection);
                        let action = match &connection {
                            None => Some("Connect".to_owned()),
                            Some(c) => c.status.fix().map(str::to_owned),
                        };
                        user_integrations.push(UserIntegration {
                            id: m.id.clone(),
                            name: m.name.clone(),
                            description: m.description.clone(),
                            connection,
                            action,
                        });
                    }
                    Some(Mode::Workspace) => workspace_integrations.push(WorkspaceIntegration {
                        id: m.id.clone(),
                        name: m.name.clone(),
                        description: m.description.clone(),
                        ready: with_credentials.contains(m.id.as_str()),
                    }),
                    None => {}
                }
            }
            Ok(())
        })?;
        let empty_state = (user_integrations.is_empty() && workspace_integrations.is_empty())
            .then(|| EMPTY_STATE.to_owned());
        Ok(IntegrationsPage {
            user_integrations,
            workspace_integrations,
            empty_state,
        })
    }

    /// Connects (or reconnects, keeping the connection's id) my personal
    /// account to a user-mode integration that takes an API key. The key is
    /// checked with the service first; a refused key is not stored.
    pub async fn connect_with_api_key(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        key: Secret,
    ) -> Result<Connection> {
        const OPERATION: &str = "connect";
        let plugin = self.plugin(integration)?;
        let manifest = plugin.manifest();
        self.authorize_on(actor, integration, Operation::Connect, OPERATION)?;
        if matches!(manifest.auth(Mode::User), Some(Auth::OAuth2 { .. })) {
            return Err(Error::OAuthRequired(integration.clone()));
        }
        let account = self
            .checked(actor, OPERATION, plugin, Mode::User, key.clone())
            .await?;
        self.save_connection(actor, integration, account, Vec::new(), &key)
    }

    /// Seals a checked credential and saves my connection to an
    /// integration in one audited transaction; reconnecting keeps the id.
    pub(super) fn save_connection(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        account: Account,
        scopes: Vec<String>,
        credential: &Secret,
    ) -> Result<Connection> {
        let (workspace, id, owner) = (
            actor.workspace.as_str(),
            integration.as_str(),
            actor.user.as_str(),
        );
        let sealed = self
            .vault
            .seal(credential, SecretIdentity::connection(workspace, id, owner))?;
        let detail = Some(account.label.clone());
        self.audited(actor, "connect", Some(integration), detail, |w| {
            let existing = w.connection_of(workspace, id, owner)?;
            let connection = Connection {
                id: existing
                    .as_ref()
                    .map(|s| s.connection.id.clone())
                    .unwrap_or_else(new_connection_id),
                workspace: actor.workspace.clone(),
                integration: integration.clone(),
                owner: actor.user.clone(),
                status: ConnectionStatus::Connected,
                status_reason: None,
                account,
                scopes,
                connected_at_ms: now_ms(),
                last_used_at_ms: existing.and_then(|s| s.connection.last_used_at_ms),
            };
            w.put_connection(&StoredConnection {
                connection: connection.clone(),
                sealed,
                suspended_from: None,
            })?;
            Ok(Ok(connection))
        })
    }

    /// My connection, by id: only its owner may read it.
    pub fn connection(&self, actor: &Actor, id: &ConnectionId) -> Result<Connection> {
        let stored = self
            .store
            .read(|r| r.connection(id))?
            .ok_or_else(|| Error::ConnectionNotFound(id.clone()))?;
        self.authorize_read(
            self.connection_query(actor, &stored, Operation::ViewConnection)?,
            "view_connection",
            Some(&stored.connection.integration),
        )?;
        Ok(stored.connection)
    }

    /// Deletes my connection and its credential.
    pub async fn disconnect(&self, actor: &Actor, id: &ConnectionId) -> Result<()> {
        let integration = self
            .store
            .read(|r| r.connection(id))?
            .map(|s| s.connection.integration);
        let removed = self.audited(actor, "disconnect", integration.as_ref(), None, |w| {
            let Some(stored) = w.connection(id)? else {
                return Ok(Err(Error::ConnectionNotFound(id.clone())));
            };
            if let Err(denied) = self
                .connection_query(actor, &stored, Operation::Disconnect)
                .and_then(|q| self.authorize(q))
            {
                return Ok(Err(denied));
            }
            w.remove_connection(&stored)?;
            Ok(Ok(stored))
        })?;
        self.revoke(&removed).await;
        Ok(())
    }

    fn connection_query<'a>(
        &'a self,
        actor: &'a Actor,
        stored: &'a StoredConnection,
        operation: Operation<'a>,
    ) -> Result<Query<'a>> {
        let c = &stored.connection;
        let plugin = self.plugin(&c.integration)?;
        let manifest = plugin.manifest();
        // The connection's integration as the policies see it: user mode,
        // enabled unless the connection is suspended.
        let active = (c.status != ConnectionStatus::Suspended).then_some(Mode::User);
        let facts = crate::policy::IntegrationFacts {
            id: &manifest.id,
            name: &manifest.name,
            supported: USER_ONLY,
            active,
        };
        Ok(Query {
            actor,
            operation,
            target: Target::Connection(ConnectionFacts {
                id: c.id.as_str(),
                workspace: &c.workspace,
                integration: facts,
                owner: &c.owner,
            }),
        })
    }

    /// Runs an action with the workspace credential or my own connection,
    /// whichever mode the integration is enabled in, and meters it.
    pub async fn invoke(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        action: &str,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        let plugin = self.plugin(integration)?;
        let manifest = plugin.manifest();
        let supported = manifest.supported_modes();
        let (workspace, id, owner) = (
            actor.workspace.as_str(),
            integration.as_str(),
            actor.user.as_str(),
        );
        let now = now_ms();
        let month = usage::month_of_day(now / DAY_MS);
        // One snapshot for the decision and the credential it allows.
        let (enablement, credits_used, credit_limit, stored) = self.store.read(|r| {
            let enablement = r.enablement(workspace, id)?;
            // An unusable connection is the error, once the policies allow.
            let stored = match enablement.as_ref().map(|e| e.mode) {
                Some(Mode::Workspace) => {
                    Ok(r.workspace_credential(workspace, id)?.map(|c| c.sealed))
                }
                Some(Mode::User) => match r.connection_of(workspace, id, owner)? {
                    Some(c) if c.connection.status != ConnectionStatus::Connected => {
                        Err(c.connection)
                    }
                    connection => Ok(connection.map(|c| c.sealed)),
                },
                None => Ok(None),
            };
            Ok((
                enablement,
                r.workspace_credits(workspace, month)?,
                r.credit_limit(workspace)?,
                stored,
            ))
        })?;
        let credits_used = credits_used + self.meter.pending_credits(&actor.workspace, month);
        let credit_cost = manifest.action(action).map(|a| a.credit_cost).unwrap_or(0);
        let operation = Operation::Invoke {
            action,
            credit_cost,
            credits_used,
            credit_limit,
        };
        let active = enablement.as_ref().map(|e| e.mode);
        self.authorize_read(
            Query {
                actor,
                operation,
                target: Target::Integration(facts(plugin, &supported, active)),
            },
            "invoke",
            Some(integration),
        )?;
        let mode = active.ok_or_else(|| Error::NotEnabled(integration.clone()))?;
        let oauth = matches!(manifest.auth(mode), Some(Auth::OAuth2 { .. }));
        let sealed = match stored {
            Ok(sealed) => sealed,
            Err(connection) => {
                return Err(Error::ConnectionUnusable {
                    integration: integration.clone(),
                    status: connection.status,
                    reason: connection.status_reason.unwrap_or_default(),
                });
            }
        };
        let (secret, token_sealed) = match (mode, sealed) {
            (Mode::Workspace, None) => {
                return Err(Error::NoWorkspaceCredential(integration.clone()));
            }
            (Mode::User, None) => return Err(Error::NotConnected(integration.clone())),
            (Mode::Workspace, Some(sealed)) => (
                self.vault
                    .open_secret(&sealed, SecretIdentity::workspace_credential(workspace, id))?,
                None,
            ),
            (Mode::User, Some(_)) if oauth => {
                let (token, sealed) = self.access_token(actor, integration, None).await?;
                (token, Some(sealed))
            }
            (Mode::User, Some(sealed)) => (
                self.vault
                    .open_secret(&sealed, SecretIdentity::connection(workspace, id, owner))?,
                None,
            ),
        };
        let credential = credential_for(plugin, mode, secret)?;
        let mut result = self.call_plugin(plugin, credential, action, input).await;
        if let (
            Mode::User,
            Err(PluginError::Connector {
                error: ConnectorError::Unauthorized { message },
                ..
            }),
        ) = (mode, &result)
        {
            match &token_sealed {
                // A refused access token is refreshed once and the call retried.
                Some(refused) => {
                    let (token, _) = self.access_token(actor, integration, Some(refused)).await?;
                    let credential = credential_for(plugin, mode, token)?;
                    result = self.call_plugin(plugin, credential, action, input).await;
                }
                None => self.needs_reauth(actor, integration, message),
            }
        }
        let output = result?;
        let key = usage::Key {
            workspace: actor.workspace.clone(),
            integration: integration.clone(),
            user: actor.user.clone(),
            day: now / DAY_MS,
        };
        self.meter.record(key, u64::from(credit_cost));
        Ok(output)
    }

    /// Calls the plugin, timing and counting the call.
    async fn call_plugin(
        &self,
        plugin: &crate::plugins::Plugin,
        credential: crate::plugins::Credential,
        action: &str,
        input: &serde_json::Value,
    ) -> std::result::Result<serde_json::Value, PluginError> {
        let started = std::time::Instant::now();
        let result = self
            .plugins
            .invoke(plugin, Some(credential), action, input)
            .await;
        self.metrics.plugin_call(
            plugin.manifest().id.as_str(),
            result.is_ok(),
            started.elapsed(),
        );
        result
    }

    /// The service refused my personal credential: the connection needs me
    /// to sign in again, and the host hears of it.
    pub(super) fn needs_reauth(&self, actor: &Actor, integration: &IntegrationId, reason: &str) {
        let (workspace, id, owner) = (
            actor.workspace.as_str(),
            integration.as_str(),
            actor.user.as_str(),
        );
        let marked = self.store.write(|w| {
            let Some(mut stored) = w.connection_of(workspace, id, owner)? else {
                return Ok(Ok::<_, Error>(None));
            };
            stored.connection.status = ConnectionStatus::NeedsReauth;
            stored.connection.status_reason = Some(reason.to_owned());
            w.put_connection(&stored)?;
            Ok(Ok(Some(stored.connection)))
        });
        match marked {
            Ok(Ok(Some(connection))) => self.publish(Event {
                kind: EventKind::NeedsReauth,
                workspace: actor.workspace.clone(),
                integration: integration.clone(),
                users: vec![connection.owner],
                connections: vec![connection.id],
                reason: Some(reason.to_owned()),
                at_ms: now_ms(),
            }),
            Ok(_) => {}
            Err(e) => {
                tracing::error!("could not mark a connection as needing re-authentication: {e}")
            }
        }
    }
}

const USER_ONLY: &[Mode] = &[Mode::User];

fn new_connection_id() -> ConnectionId {
    let mut bytes = [0u8; 12];
    // The OS random source failing is not recoverable in any useful way;
    // fall back to the clock so the id is still unique in practice.
    if getrandom::fill(&mut bytes).is_err() {
        bytes[..8].copy_from_slice(&now_ms().to_be_bytes());
    }
    ConnectionId::new(format!("conn_{}", hex::encode(bytes)))
}
