//! Credentials: the one room where secrets are looked up, checked, sealed,
//! unsealed, refreshed and revoked, and re-sealed when the master key
//! rotates. It is the only caller of the vault and of the OAuth token
//! client; the rest of the engine handles sealed bytes and asks here for
//! what goes out with a call.

use super::enablement::unusable;
use super::now_ms;
use crate::metrics::Metrics;
use crate::model::{
    Account, Actor, Auth, ConnectionId, ConnectionStatus, ConnectorError, Event, EventKind,
    IntegrationId, Mode, Settings, WorkspaceId,
};
use crate::net::Routes;
use crate::oauth::{self, Registered, TokenClient, TokenError, Tokens};
use crate::plugins::{Credential, Plugin, PluginError, PluginHost};
use crate::store::{Flow, SealedRef, Store, StoredConnection};
use crate::vault::{Sealed, Secret, SecretIdentity, Vault, VaultError};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where to send the member to sign in.
#[derive(Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SignIn {
    /// The sign-in link to open in the member's browser, when the redirect
    /// URI is Switchboard's public callback: it binds the sign-in to that
    /// browser, then goes on to the provider. Only that browser can finish.
    pub start_url: Option<String>,
    /// The provider's authorize URL, with the PKCE challenge and `state`,
    /// for a host that finishes the sign-in itself (the callback route
    /// under the service token).
    pub authorize_url: String,
    /// The one-time `state` the provider sends back to the callback.
    pub state: String,
    /// When the sign-in stops being accepted (Unix milliseconds).
    pub expires_at_ms: u64,
}

/// What the provider sent back to the redirect URI.
#[derive(Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
pub struct Callback {
    /// The `state` the sign-in began with.
    pub state: String,
    /// The authorization code, when the member consented.
    pub code: Option<String>,
    /// The provider's error code, when it refused (`access_denied`).
    pub error: Option<String>,
    /// The provider's words about its refusal.
    pub error_description: Option<String>,
}

// The state (also inside the authorize URL) and the code let whoever holds
// them finish the sign-in: they print redacted.
impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field(
                "start_url",
                &self.start_url.as_ref().map(|_| crate::redact::REDACTED),
            )
            .field("authorize_url", &crate::redact::REDACTED)
            .field("state", &crate::redact::REDACTED)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callback")
            .field("state", &crate::redact::REDACTED)
            .field("code", &self.code.as_ref().map(|_| crate::redact::REDACTED))
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .finish()
    }
}

/// What a plugin call carries, and where it came from.
pub(super) struct CallCredential {
    /// The secret and where the plugin's manifest says it goes.
    pub credential: Credential,
    /// The sealed token set an OAuth access token came from: a refused
    /// token is refreshed once against it.
    pub refreshable: Option<Sealed>,
}

/// Everything that touches a secret.
pub(super) struct Credentials {
    store: Arc<Store>,
    vault: Vault,
    tokens: TokenClient,
    /// The operator's OAuth registration per integration, with its endpoints.
    registrations: HashMap<IntegrationId, Registered>,
    flow_lifetime: Duration,
    /// One refresh at a time per connection.
    refresh_locks: Mutex<HashMap<ConnectionId, Arc<tokio::sync::Mutex<()>>>>,
    metrics: Arc<Metrics>,
    /// Where browsers reach routed hosts (the demo's sign-in page).
    routes: Routes,
}

/// An integration's OAuth 2.0 settings: the operator's registration and
/// its endpoints, the manifest's scopes.
struct OAuthSettings<'a> {
    client: &'a Registered,
    scopes: &'a [String],
    pkce: bool,
}

impl Credentials {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        store: Arc<Store>,
        vault: Vault,
        tokens: TokenClient,
        registrations: HashMap<IntegrationId, Registered>,
        flow_lifetime: Duration,
        metrics: Arc<Metrics>,
        routes: Routes,
    ) -> Self {
        Credentials {
            routes,
            store,
            vault,
            tokens,
            registrations,
            flow_lifetime,
            refresh_locks: Mutex::default(),
            metrics,
        }
    }

    /// Asks the plugin whose account a credential is; a refusal by the
    /// service becomes [`Error::CredentialRefused`] with its reason.
    pub(super) async fn check(
        &self,
        plugins: &PluginHost,
        plugin: &Plugin,
        mode: Mode,
        secret: Secret,
        settings: &Settings,
    ) -> Result<Account> {
        let credential = credential_for(plugin, mode, secret, settings)?;
        plugins
            .check_credential(plugin, settings, credential)
            .await
            .map_err(|error| match error {
                PluginError::Connector {
                    error: ConnectorError::Unauthorized { message },
                    ..
                } => Error::CredentialRefused(message),
                other => Error::Plugin(other),
            })
    }

    /// Seals a workspace's shared credential for storing.
    pub(super) fn seal_workspace_credential(
        &self,
        workspace: &WorkspaceId,
        integration: &IntegrationId,
        secret: &Secret,
    ) -> Result<Sealed> {
        let identity = workspace_identity(workspace, integration);
        Ok(self.vault.seal(secret, identity)?)
    }

    /// Opens a workspace's stored shared credential.
    pub(super) fn open_workspace_credential(
        &self,
        workspace: &WorkspaceId,
        integration: &IntegrationId,
        sealed: &Sealed,
    ) -> Result<Secret> {
        let identity = workspace_identity(workspace, integration);
        Ok(self.vault.open_secret(sealed, identity)?)
    }

    /// Seals a member's personal credential (a key, or a token set).
    pub(super) fn seal_connection(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        secret: &Secret,
    ) -> Result<Sealed> {
        let identity = connection_identity(actor, integration);
        Ok(self.vault.seal(secret, identity)?)
    }

    /// The credential a call in `mode` carries, from what the store holds:
    /// the shared credential, a personal key, or a fresh access token.
    pub(super) async fn for_call(
        &self,
        actor: &Actor,
        plugin: &Plugin,
        mode: Mode,
        sealed: Sealed,
        settings: &Settings,
    ) -> Result<CallCredential> {
        let integration = &plugin.manifest().id;
        let (secret, refreshable) = match mode {
            Mode::Workspace => (
                self.open_workspace_credential(&actor.workspace, integration, &sealed)?,
                None,
            ),
            Mode::User if is_oauth(plugin) => {
                let (token, sealed) = self.access_token(actor, (plugin, settings), None).await?;
                (token, Some(sealed))
            }
            Mode::User => (
                self.vault
                    .open_secret(&sealed, connection_identity(actor, integration))?,
                None,
            ),
        };
        Ok(CallCredential {
            credential: credential_for(plugin, mode, secret, settings)?,
            refreshable,
        })
    }

    /// The service refused a call's credential. An access token is
    /// refreshed once, and the fresh one returned to retry with; a
    /// personal key marks the connection as needing re-authentication; a
    /// shared credential is for an admin to fix.
    pub(super) async fn refused(
        &self,
        actor: &Actor,
        plugin: &Plugin,
        mode: Mode,
        refreshable: Option<&Sealed>,
        reason: &str,
        settings: &Settings,
    ) -> Result<Option<CallCredential>> {
        match (refreshable, mode) {
            (Some(stale), _) => {
                let (token, sealed) = self
                    .access_token(actor, (plugin, settings), Some(stale))
                    .await?;
                Ok(Some(CallCredential {
                    credential: credential_for(plugin, mode, token, settings)?,
                    refreshable: Some(sealed),
                }))
            }
            (None, Mode::User) => {
                self.needs_reauth(actor, &plugin.manifest().id, reason);
                Ok(None)
            }
            (None, Mode::Workspace) => Ok(None),
        }
    }

    /// The access token to use for my connection with the plugin installed
    /// with `settings`: refreshed first when it is about to expire, or when
    /// `stale` was just refused by the service. One refresh per connection
    /// runs at a time, on every node at once; callers waiting on it use
    /// its result.
    async fn access_token(
        &self,
        actor: &Actor,
        (plugin, settings): (&Plugin, &Settings),
        stale: Option<&Sealed>,
    ) -> Result<(Secret, Sealed)> {
        let integration = &plugin.manifest().id;
        let (workspace, id, owner) = (
            actor.workspace.as_str(),
            integration.as_str(),
            actor.user.as_str(),
        );
        let identity = connection_identity(actor, integration);
        let read = || -> Result<(StoredConnection, Tokens)> {
            let stored = self
                .store
                .read(|r| r.connection_of(workspace, id, owner))?
                .ok_or_else(|| Error::NotConnected(integration.clone()))?;
            // Read again since the call's facts: it may have changed since.
            if let Some(why) = unusable(plugin, &stored, settings) {
                return Err(why);
            }
            let tokens = Tokens::from_secret(&self.vault.open_secret(&stored.sealed, identity)?)?;
            Ok((stored, tokens))
        };
        let usable = |stored: &StoredConnection, tokens: &Tokens| {
            stale.is_none_or(|s| *s != stored.sealed) && !tokens.due_for_refresh(now_ms())
        };
        let (stored, tokens) = read()?;
        if usable(&stored, &tokens) {
            return Ok((Secret::new(tokens.access_token), stored.sealed));
        }
        // One caller per node, then one node of all.
        let lock = self.refresh_lock(&stored.connection.id);
        let _only_one_here = lock.lock().await;
        let _only_one_anywhere = self
            .store
            .exclusive(&format!("refresh {}", stored.connection.id))
            .await?;
        // Someone may have refreshed while this call waited.
        let (stored, tokens) = read()?;
        if usable(&stored, &tokens) {
            return Ok((Secret::new(tokens.access_token), stored.sealed));
        }
        let oauth = self.oauth_settings(plugin)?;
        let refreshed = self.tokens.refresh(oauth.client, &tokens, now_ms()).await;
        let outcome = match &refreshed {
            Ok(_) => "ok",
            Err(TokenError::Terminal(_)) => "dead",
            Err(_) => "failed",
        };
        self.metrics.refresh(id, outcome);
        match refreshed {
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
                    Ok(())
                })?;
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
            Err(error) => Err(Error::TokenRefresh(error)),
        }
    }

    fn refresh_lock(&self, connection: &ConnectionId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.refresh_locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        locks.entry(connection.clone()).or_default().clone()
    }

    /// The service refused my personal credential: the connection needs me
    /// to sign in again, and the host hears of it.
    fn needs_reauth(&self, actor: &Actor, integration: &IntegrationId, reason: &str) {
        let (workspace, id, owner) = (
            actor.workspace.as_str(),
            integration.as_str(),
            actor.user.as_str(),
        );
        let marked = self.store.write(|w| {
            let Some(mut stored) = w.connection_of(workspace, id, owner)? else {
                return Ok(None);
            };
            stored.connection.status = ConnectionStatus::NeedsReauth;
            stored.connection.status_reason = Some(reason.to_owned());
            w.put_connection(&stored)?;
            Ok(Some(stored.connection))
        });
        match marked {
            Ok(Some(connection)) => self.store.publish(&Event {
                id: super::new_id("evt"),
                kind: EventKind::NeedsReauth,
                workspace: actor.workspace.clone(),
                integration: integration.clone(),
                users: vec![connection.owner],
                connections: vec![connection.id],
                reason: Some(reason.to_owned()),
                at_ms: now_ms(),
            }),
            Ok(None) => {}
            Err(e) => {
                tracing::error!("could not mark a connection as needing re-authentication: {e}")
            }
        }
    }

    /// Starts a sign-in: a one-time `state`, a PKCE verifier sealed under
    /// it, and the provider's authorize URL, saved as a flow bound to me,
    /// this integration and the flow lifetime; and the sign-in link that
    /// binds it to the browser that opens it.
    pub(super) fn begin_sign_in(
        &self,
        actor: &Actor,
        plugin: &Plugin,
        return_to: Option<String>,
    ) -> Result<SignIn> {
        let settings = self.oauth_settings(plugin)?;
        let integration = &plugin.manifest().id;
        let state = oauth::state()?;
        let now = now_ms();
        let lifetime_ms = u64::try_from(self.flow_lifetime.as_millis()).unwrap_or(u64::MAX);
        let pkce = settings.pkce.then(oauth::pkce).transpose()?;
        let verifier = pkce
            .as_ref()
            .map(|p| {
                let identity = SecretIdentity::pkce_verifier(
                    actor.workspace.as_str(),
                    integration.as_str(),
                    &state,
                );
                self.vault.seal(&p.verifier, identity)
            })
            .transpose()?;
        let registration = &settings.client.registration;
        let url = oauth::authorize_url(
            &settings.client.endpoints.authorize,
            &registration.client_id,
            &registration.redirect_uri,
            settings.scopes,
            &state,
            pkce.as_ref(),
        )?;
        let url = self.routes.for_browser(url);
        let flow = Flow {
            workspace: actor.workspace.clone(),
            user: actor.user.clone(),
            integration: integration.clone(),
            verifier,
            expires_at_ms: now.saturating_add(lifetime_ms),
            vouched: Some((actor.role, actor.plan.clone())),
            return_to,
            authorize_url: Some(url.to_string()),
            browser: None,
        };
        self.store.write(|w| Ok(w.put_flow(&state, &flow, now)?))?;
        Ok(SignIn {
            start_url: sign_in_link(&registration.redirect_uri, integration, &state),
            authorize_url: url.to_string(),
            state,
            expires_at_ms: flow.expires_at_ms,
        })
    }

    /// Exchanges a sign-in's code (with its PKCE verifier) for tokens.
    pub(super) async fn exchange(
        &self,
        plugin: &Plugin,
        flow: &Flow,
        state: &str,
        code: &str,
    ) -> Result<Tokens> {
        let settings = self.oauth_settings(plugin)?;
        let verifier = flow
            .verifier
            .as_ref()
            .map(|sealed| {
                let identity = SecretIdentity::pkce_verifier(
                    flow.workspace.as_str(),
                    flow.integration.as_str(),
                    state,
                );
                self.vault.open_secret(sealed, identity)
            })
            .transpose()?;
        self.tokens
            .exchange(
                settings.client,
                code,
                verifier.as_ref(),
                settings.scopes,
                now_ms(),
            )
            .await
            .map_err(Error::CodeExchange)
    }

    /// Tells the provider to revoke a removed connection's grant, where
    /// the registration names a revocation endpoint. The connection is gone
    /// either way; a refusal is for the caller to log and audit.
    pub(super) async fn revoke(
        &self,
        plugin: &Plugin,
        removed: &StoredConnection,
    ) -> std::result::Result<(), TokenError> {
        let Ok(settings) = self.oauth_settings(plugin) else {
            return Ok(());
        };
        let c = &removed.connection;
        let identity = SecretIdentity::connection(
            c.workspace.as_str(),
            c.integration.as_str(),
            c.owner.as_str(),
        );
        match self
            .vault
            .open_secret(&removed.sealed, identity)
            .map(|s| Tokens::from_secret(&s))
        {
            Ok(Ok(tokens)) => self.tokens.revoke(settings.client, &tokens, now_ms()).await,
            _ => Ok(()),
        }
    }

    fn oauth_settings<'a>(&'a self, plugin: &'a Plugin) -> Result<OAuthSettings<'a>> {
        let integration = &plugin.manifest().id;
        let Some(Auth::OAuth2 { scopes, pkce, .. }) = plugin.manifest().auth(Mode::User) else {
            return Err(Error::NotOAuth(integration.clone()));
        };
        let client = self
            .registrations
            .get(integration)
            .ok_or_else(|| Error::NoOAuthClient(integration.clone()))?;
        Ok(OAuthSettings {
            client,
            scopes,
            pkce: *pkce,
        })
    }

    /// Makes a new master key active and re-seals every secret under it.
    pub(super) fn rotate(&self, batch: usize) -> Result<Rotation> {
        rotate(&self.store, &self.vault, batch)
    }

    /// Removes an old key, once no secret is sealed under it.
    pub(super) fn retire(&self, key_id: &str) -> Result<()> {
        retire(&self.store, &self.vault, key_id)
    }

    /// Key ids, active first, with how many secrets each seals.
    pub(super) fn keys(&self) -> Result<Vec<(String, usize)>> {
        keys(&self.store, &self.vault)
    }

    /// Opens every stored secret; says how many.
    pub(super) fn verify(&self) -> Result<usize> {
        verify_secrets(&self.store, &self.vault)
    }
}

/// The sign-in link beside Switchboard's public callback
/// (`.../oauth/{integration}/start?state=...`), when the redirect URI is it.
fn sign_in_link(redirect_uri: &str, integration: &IntegrationId, state: &str) -> Option<String> {
    let mut url = url::Url::parse(redirect_uri).ok()?;
    let callback = format!("/oauth/{integration}/callback");
    let base = url.path().strip_suffix(&callback)?.to_owned();
    url.set_path(&format!("{base}/oauth/{integration}/start"));
    url.set_query(None);
    url.query_pairs_mut().append_pair("state", state);
    Some(url.to_string())
}

/// Whether a plugin's personal connections sign in with OAuth 2.0.
pub(super) fn is_oauth(plugin: &Plugin) -> bool {
    matches!(
        plugin.manifest().auth(Mode::User),
        Some(Auth::OAuth2 { .. })
    )
}

fn workspace_identity<'a>(
    workspace: &'a WorkspaceId,
    integration: &'a IntegrationId,
) -> SecretIdentity<'a> {
    SecretIdentity::workspace_credential(workspace.as_str(), integration.as_str())
}

fn connection_identity<'a>(actor: &'a Actor, integration: &'a IntegrationId) -> SecretIdentity<'a> {
    SecretIdentity::connection(
        actor.workspace.as_str(),
        integration.as_str(),
        actor.user.as_str(),
    )
}

/// Pairs a secret with where the manifest says it goes, in a workspace
/// with `settings`.
fn credential_for(
    plugin: &Plugin,
    mode: Mode,
    secret: Secret,
    settings: &Settings,
) -> Result<Credential> {
    plugin
        .credential(mode, secret, settings)
        .ok_or_else(|| Error::ModeNotSupported {
            integration: plugin.manifest().id.clone(),
            mode,
        })?
        .map_err(|why| Error::CredentialStale {
            integration: plugin.manifest().id.clone(),
            why,
        })
}

/// What a key rotation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rotation {
    /// The new active key.
    pub key_id: String,
    /// How many secrets were re-sealed under it.
    pub resealed: usize,
}

/// Makes a new key active and re-seals every secret under it, `batch`
/// secrets per write transaction. Calls keep working throughout: old keys
/// stay in the keyring until retired.
pub(crate) fn rotate(store: &Store, vault: &Vault, batch: usize) -> Result<Rotation> {
    let key_id = vault.rotate()?;
    tracing::info!(%key_id, "master key rotated; re-sealing secrets");
    let mut resealed = 0;
    loop {
        let secrets = store.read(|r| r.secrets_not_under(&key_id, batch.max(1)))?;
        if secrets.is_empty() {
            break;
        }
        let fresh = secrets
            .iter()
            .map(|s| {
                let identity = identity_of(s);
                let secret = vault.open_secret(s.sealed(), identity)?;
                Ok(vault.seal(&secret, identity)?)
            })
            .collect::<Result<Vec<_>>>()?;
        resealed += store.write(|w| {
            let mut done = 0;
            for (secret, sealed) in secrets.iter().zip(fresh) {
                done += usize::from(w.reseal(secret, sealed)?);
            }
            Ok(done)
        })?;
    }
    tracing::info!(%key_id, resealed, "every secret is sealed under the active key");
    Ok(Rotation { key_id, resealed })
}

/// Removes an old key from the keyring, once no secret is sealed under it.
pub(crate) fn retire(store: &Store, vault: &Vault, key_id: &str) -> Result<()> {
    let in_use = store
        .read(|r| r.sealed_key_ids())?
        .get(key_id)
        .copied()
        .unwrap_or(0);
    if in_use > 0 {
        return Err(Error::Vault(VaultError::KeyInUse {
            key_id: key_id.to_owned(),
            secrets: in_use,
        }));
    }
    Ok(vault.retire(key_id)?)
}

/// Opens every stored secret with the keyring; says how many opened, or
/// fails on the first that does not.
pub(crate) fn verify_secrets(store: &Store, vault: &Vault) -> Result<usize> {
    let secrets = store.read(|r| r.secrets_not_under("", usize::MAX))?;
    for s in &secrets {
        vault.open_secret(s.sealed(), identity_of(s))?;
    }
    Ok(secrets.len())
}

/// Key ids in the keyring, active first, with how many secrets each seals.
pub(crate) fn keys(store: &Store, vault: &Vault) -> Result<Vec<(String, usize)>> {
    let counts = store.read(|r| r.sealed_key_ids())?;
    Ok(vault
        .key_ids()
        .into_iter()
        .map(|id| {
            let n = counts.get(&id).copied().unwrap_or(0);
            (id, n)
        })
        .collect())
}

fn identity_of(secret: &SealedRef) -> SecretIdentity<'_> {
    match secret {
        SealedRef::Workspace {
            workspace,
            integration,
            ..
        } => SecretIdentity::workspace_credential(workspace, integration),
        SealedRef::Connection {
            workspace,
            integration,
            owner,
            ..
        } => SecretIdentity::connection(workspace, integration, owner),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_ins_and_callbacks_print_no_state_or_code() {
        let sign_in = SignIn {
            start_url: Some("https://sb.example/oauth/x/start?state=S3CR3T".into()),
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
