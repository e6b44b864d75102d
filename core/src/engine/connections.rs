//! What members connect: a personal account with an API key or an OAuth
//! 2.0 sign-in, reading their own connection, and disconnecting. Only a
//! connection's owner may see or change it.

use super::credentials::is_oauth;
use super::{Callback, Engine, SignIn, now_ms};
use crate::model::{
    Account, Actor, Connection, ConnectionId, ConnectionStatus, IntegrationId, Mode,
};
use crate::pasted::PastedKey;
use crate::policy::{ConnectionFacts, IntegrationFacts, Operation, Query, Target};
use crate::store::StoredConnection;
use crate::vault::Secret;
use crate::{Error, Result};

impl Engine {
    /// Starts a sign-in: the authorize URL (PKCE S256 and a one-time
    /// `state`, bound to me, this integration and the flow lifetime).
    pub fn begin_connect(&self, actor: &Actor, integration: &IntegrationId) -> Result<SignIn> {
        self.authorize_on(actor, integration, Operation::Connect, "connect")?;
        let plugin = self.plugin(integration)?;
        self.approved_now(actor, plugin)?;
        self.credentials.begin_sign_in(actor, plugin)
    }

    /// Completes a sign-in at `integration`'s callback: checks the `state`
    /// (once only, mine, this integration's, in time), exchanges the code,
    /// asks the plugin whose account it is, and saves the connection
    /// (reconnecting keeps its id). Any refusal changes nothing.
    pub async fn complete_connect(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        callback: &Callback,
    ) -> Result<Connection> {
        const OPERATION: &str = "connect";
        let plugin = self.plugin(integration)?;
        self.approved_now(actor, plugin)?;
        let now = now_ms();
        let flow = self.audited(actor, OPERATION, Some(integration), None, |w| {
            let Some(flow) = w.take_flow(&callback.state)? else {
                return Err(Error::SignIn(
                    "this sign-in is unknown or was already used; start again".into(),
                ));
            };
            let refusal = if flow.expires_at_ms <= now {
                Some("this sign-in expired; start again".to_owned())
            } else if flow.user != actor.user || flow.workspace != actor.workspace {
                Some("this sign-in was started by someone else".to_owned())
            } else if flow.integration != *integration {
                Some(format!(
                    "this sign-in was started for {}, not {integration}",
                    flow.integration
                ))
            } else {
                callback
                    .error
                    .as_ref()
                    .map(|e| match &callback.error_description {
                        Some(d) => format!(
                            "the provider refused: {e}: {}",
                            d.lines().next().unwrap_or_default()
                        ),
                        None => format!("the provider refused: {e}"),
                    })
            };
            // A refused callback still uses up the state: the refusal is
            // audited and committed with the flow taken.
            match refusal {
                Some(why) => Err(Error::SignIn(why)),
                None if callback.code.is_none() => {
                    Err(Error::SignIn("the provider sent no code".into()))
                }
                None => Ok(flow),
            }
        })?;
        let code = callback.code.as_deref().unwrap_or_default();
        let tokens = self
            .credentials
            .exchange(plugin, &flow, &callback.state, code)
            .await
            .inspect_err(|e| self.audit_attempt(actor, OPERATION, Some(integration), e))?;
        let account = self
            .checked(
                actor,
                OPERATION,
                plugin,
                Mode::User,
                Secret::new(tokens.access_token.clone()),
            )
            .await?;
        self.save_connection(
            actor,
            integration,
            account,
            tokens.scopes.clone(),
            &tokens.to_secret(),
        )
    }

    /// Connects (or reconnects, keeping the connection's id) my personal
    /// account to a user-mode integration that takes an API key. The key is
    /// checked with the service first; a refused key is not stored.
    pub async fn connect_with_api_key(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        key: &PastedKey,
    ) -> Result<Connection> {
        const OPERATION: &str = "connect";
        let plugin = self.plugin(integration)?;
        self.authorize_on(actor, integration, Operation::Connect, OPERATION)?;
        if is_oauth(plugin) {
            return Err(Error::OAuthRequired(integration.clone()));
        }
        self.approved_now(actor, plugin)?;
        let account = self
            .checked(actor, OPERATION, plugin, Mode::User, key.secret().clone())
            .await?;
        self.save_connection(actor, integration, account, Vec::new(), key.secret())
    }

    /// Seals a checked credential and saves my connection to an
    /// integration in one audited transaction; reconnecting keeps the id.
    fn save_connection(
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
            .credentials
            .seal_connection(actor, integration, credential)?;
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
            Ok(connection)
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
                return Err(Error::ConnectionNotFound(id.clone()));
            };
            self.authorize(self.connection_query(actor, &stored, Operation::Disconnect)?)?;
            w.remove_connection(&stored)?;
            Ok(stored)
        })?;
        if let Ok(plugin) = self.plugin(&removed.connection.integration) {
            self.credentials.revoke(plugin, &removed).await;
        }
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
        let facts = IntegrationFacts {
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
