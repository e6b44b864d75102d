//! Personal connections over OAuth 2.0 (U2, U3): begin and complete a
//! sign-in, and keep access tokens fresh, one refresh per connection at a
//! time.

use super::{Engine, now_ms};
use crate::model::{Actor, Auth, Connection, ConnectionStatus, IntegrationId, Mode};
use crate::oauth::{self, TokenError, Tokens};
use crate::policy::Operation;
use crate::redact::REDACTED;
use crate::store::{Flow, Read, StoredConnection};
use crate::vault::{Sealed, Secret, SecretIdentity};
use crate::{Error, Result};
use serde::Serialize;
use std::sync::Arc;

/// Tokens this close to expiry are refreshed before use.
const REFRESH_AHEAD_MS: u64 = 60_000;

/// Where to send the member to sign in.
#[derive(Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SignIn {
    pub authorize_url: String,
    pub state: String,
    pub expires_at_ms: u64,
}

/// What the provider sent back to the redirect URI.
#[derive(Clone, Default, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
pub struct Callback {
    pub state: String,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

// The state (also inside the authorize URL) and the code let whoever holds
// them finish the sign-in: they print redacted.
impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("authorize_url", &REDACTED)
            .field("state", &REDACTED)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callback")
            .field("state", &REDACTED)
            .field("code", &self.code.as_ref().map(|_| REDACTED))
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .finish()
    }
}

fn verifier_identity<'a>(flow: &'a Flow, state: &'a str) -> SecretIdentity<'a> {
    SecretIdentity {
        workspace: flow.workspace.as_str(),
        integration: flow.integration.as_str(),
        user: state,
        kind: "pkce_verifier",
    }
}

impl Engine {
    fn oauth_settings(
        &self,
        integration: &IntegrationId,
    ) -> Result<(&oauth::Client, String, String, Vec<String>, bool)> {
        let plugin = self.plugin(integration)?;
        let Some(Auth::OAuth2 {
            authorize_url,
            token_url,
            scopes,
            pkce,
            ..
        }) = plugin.manifest().auth(Mode::User)
        else {
            return Err(Error::SignIn(format!(
                "{integration} does not sign in with OAuth 2.0"
            )));
        };
        let client = self.oauth_clients.get(integration).ok_or_else(|| {
            Error::SignIn(format!("no OAuth client is registered for {integration}"))
        })?;
        Ok((
            client,
            authorize_url.clone(),
            token_url.clone(),
            scopes.clone(),
            *pkce,
        ))
    }

    /// Starts a sign-in: the authorize URL (PKCE S256 and a one-time
    /// `state`, bound to me, this integration and ten minutes).
    pub fn begin_connect(&self, actor: &Actor, integration: &IntegrationId) -> Result<SignIn> {
        self.authorize_on(actor, integration, Operation::Connect, "connect")?;
        let (client, authorize_url, _, scopes, use_pkce) = self.oauth_settings(integration)?;
        let state = oauth::state().map_err(Error::Internal)?;
        let now = now_ms();
        let mut flow = Flow {
            workspace: actor.workspace.clone(),
            user: actor.user.clone(),
            integration: integration.clone(),
            verifier: None,
            expires_at_ms: now
                .saturating_add(u64::try_from(self.flow_lifetime.as_millis()).unwrap_or(u64::MAX)),
        };
        let pkce = use_pkce
            .then(oauth::pkce)
            .transpose()
            .map_err(Error::Internal)?;
        if let Some(pkce) = &pkce {
            flow.verifier = Some(
                self.vault
                    .seal(&pkce.verifier, verifier_identity(&flow, &state))?,
            );
        }
        let url = oauth::authorize_url(
            &authorize_url,
            client,
            &scopes,
            &state,
            pkce.as_ref().map(|p| p.challenge.as_str()),
        )
        .map_err(Error::SignIn)?;
        self.store
            .write(|w| w.put_flow(&state, &flow, now).map(Ok::<_, Error>))??;
        Ok(SignIn {
            authorize_url: url.to_string(),
            state,
            expires_at_ms: flow.expires_at_ms,
        })
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
        let now = now_ms();
        let flow = self.audited(actor, OPERATION, Some(integration), None, |w| {
            let Some(flow) = w.take_flow(&callback.state)? else {
                return Ok(Err(Error::SignIn(
                    "this sign-in is unknown or was already used; start again".into(),
                )));
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
            // A refused callback still uses up the state.
            Ok(match refusal {
                Some(why) => Err(Error::SignIn(why)),
                None if callback.code.is_none() => {
                    Err(Error::SignIn("the provider sent no code".into()))
                }
                None => Ok(flow),
            })
        })?;
        let (client, _, token_url, _, _) = self.oauth_settings(integration)?;
        let verifier = flow
            .verifier
            .as_ref()
            .map(|v| {
                self.vault
                    .open_secret(v, verifier_identity(&flow, &callback.state))
            })
            .transpose()?;
        let code = callback.code.as_deref().unwrap_or_default();
        let tokens = self
            .tokens
            .exchange(&token_url, client, code, verifier.as_ref(), now)
            .await
            .map_err(|e| Error::SignIn(format!("the code exchange failed: {e}")));
        let tokens =
            tokens.inspect_err(|e| self.audit_attempt(actor, OPERATION, Some(integration), e))?;
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

    /// The access token to use for a connection: refreshed first when it
    /// is about to expire, or when `stale` was just refused by the service.
    /// One refresh per connection runs at a time; callers waiting on it use
    /// its result.
    pub(super) async fn access_token(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        stale: Option<&Sealed>,
    ) -> Result<(Secret, Sealed)> {
        let (workspace, id, owner) = (
            actor.workspace.as_str(),
            integration.as_str(),
            actor.user.as_str(),
        );
        let identity = SecretIdentity::connection(workspace, id, owner);
        let read = || -> Result<(StoredConnection, Tokens)> {
            let stored = self
                .store
                .read(|r| r.connection_of(workspace, id, owner))?
                .ok_or_else(|| Error::NotConnected(integration.clone()))?;
            let tokens = Tokens::from_secret(&self.vault.open_secret(&stored.sealed, identity)?)
                .map_err(Error::Internal)?;
            Ok((stored, tokens))
        };
        let (stored, tokens) = read()?;
        let fresh_enough = |t: &Tokens| t.expires_at_ms > now_ms() + REFRESH_AHEAD_MS;
        if stale.is_none_or(|s| *s != stored.sealed) && fresh_enough(&tokens) {
            return Ok((Secret::new(tokens.access_token), stored.sealed));
        }
        let lock = self.refresh_lock(&stored.connection.id);
        let _only_one = lock.lock().await;
        // Someone may have refreshed while this call waited.
        let (stored, tokens) = read()?;
        if stale.is_none_or(|s| *s != stored.sealed) && fresh_enough(&tokens) {
            return Ok((Secret::new(tokens.access_token), stored.sealed));
        }
        let (client, _, token_url, _, _) = self.oauth_settings(integration)?;
        match self
            .tokens
            .refresh(&token_url, client, &tokens, now_ms())
            .await
        {
            Ok(fresh) => {
                // The new refresh token is stored before the access token is used.
                let sealed = self.vault.seal(&fresh.to_secret(), identity)?;
                self.store.write(|w| {
                    if let Some(mut current) = w
                        .connection_of(workspace, id, owner)?
                        .filter(|c| c.sealed == stored.sealed)
                    {
                        current.sealed = sealed.clone();
                        w.put_connection(&current)?;
                    }
                    Ok(Ok::<_, Error>(()))
                })??;
                tracing::debug!(connection = %stored.connection.id, "access token refreshed");
                Ok((Secret::new(fresh.access_token), sealed))
            }
            Err(TokenError::Terminal(reason)) => {
                self.needs_reauth(actor, integration, &reason);
                Err(Error::ConnectionUnusable {
                    integration: integration.clone(),
                    status: ConnectionStatus::NeedsReauth,
                    reason,
                })
            }
            Err(e) => Err(Error::TokenRefresh(e.to_string())),
        }
    }

    /// Tells the provider to revoke a removed connection's grant, where
    /// the manifest names a revocation endpoint (best effort).
    pub(super) async fn revoke(&self, removed: &StoredConnection) {
        let c = &removed.connection;
        let Ok(plugin) = self.plugin(&c.integration) else {
            return;
        };
        let Some(Auth::OAuth2 {
            revocation_url: Some(url),
            ..
        }) = plugin.manifest().auth(Mode::User)
        else {
            return;
        };
        let Some(client) = self.oauth_clients.get(&c.integration) else {
            return;
        };
        let identity = SecretIdentity::connection(
            c.workspace.as_str(),
            c.integration.as_str(),
            c.owner.as_str(),
        );
        if let Ok(Ok(tokens)) = self
            .vault
            .open_secret(&removed.sealed, identity)
            .map(|s| Tokens::from_secret(&s))
        {
            self.tokens.revoke(url, client, &tokens).await;
        }
    }

    fn refresh_lock(&self, connection: &crate::model::ConnectionId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.refresh_locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        locks.entry(connection.clone()).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_ins_and_callbacks_print_no_state_or_code() {
        let sign_in = SignIn {
            authorize_url: "https://login.example/authorize?state=S3CR3T".into(),
            state: "S3CR3T".into(),
            expires_at_ms: 5,
        };
        let callback = Callback {
            state: "S3CR3T".into(),
            code: Some("C0D3".into()),
            error: Some("access_denied".into()),
            error_description: None,
        };
        let printed = format!("{sign_in:?} {callback:?}");
        assert!(!printed.contains("S3CR3T"), "{printed}");
        assert!(!printed.contains("C0D3"), "{printed}");
        assert!(printed.contains("expires_at_ms: 5"), "{printed}");
        assert!(printed.contains("access_denied"), "{printed}");
    }
}
