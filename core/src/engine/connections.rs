//! What members connect: a personal account with an API key or an OAuth
//! 2.0 sign-in, reading their own connection, and disconnecting. Only a
//! connection's owner may see or change it.

use super::credentials::is_oauth;
use super::enablement::still_where_checked;
use super::{Callback, Engine, SignIn, entry, now_ms, outcome_of};
use crate::model::{
    Account, Actor, Connection, ConnectionId, ConnectionStatus, IntegrationId, Mode, Settings,
};
use crate::pasted::PastedKey;
use crate::plugins::Plugin;
use crate::policy::{ConnectionFacts, IntegrationFacts, Operation, Query, Target};
use crate::store::{Flow, StoredConnection};
use crate::vault::Secret;
use crate::{Error, Result};

impl Engine {
    /// Starts a sign-in: the authorize URL (PKCE S256 and a one-time
    /// `state`, bound to me, this integration and the flow lifetime), and
    /// where my browser returns when it ends (`return_to`, which must be on
    /// an origin the operator allows; else the operator's default).
    pub fn begin_connect(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        return_to: Option<&str>,
    ) -> Result<SignIn> {
        self.authorize_on(actor, integration, Operation::Connect, "connect")?;
        let plugin = &self.plugin(integration)?;
        self.approved_now(actor, plugin)?;
        let return_to = return_to
            .map(|url| self.return_urls.check(url))
            .transpose()?;
        self.credentials
            .begin_sign_in(actor, plugin, return_to.map(String::from))
    }

    /// Completes a sign-in at `integration`'s callback, for the host that
    /// vouches for `actor`: checks the `state` (once only, mine, this
    /// integration's, in time), exchanges the code, asks the plugin whose
    /// account it is, and saves the connection (reconnecting keeps its
    /// id). Any refusal changes nothing.
    pub async fn complete_connect(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        callback: &Callback,
    ) -> Result<Connection> {
        self.complete(&Caller::Member(actor), integration, callback)
            .await
            .1
    }

    /// A member's browser opens a sign-in link: the sign-in is bound to it
    /// (once: a link opened a second time, by anyone, is refused) through a
    /// fresh key it keeps in a cookie, and it goes on to the provider.
    pub fn open_sign_in(&self, integration: &IntegrationId, state: &str) -> Result<OpenedSignIn> {
        let key = crate::oauth::state()?;
        let now = now_ms();
        self.store.write(|w| {
            let refused = |why: &str| Err(Error::SignIn(why.to_owned()));
            let Some(mut flow) = w.take_flow(state)? else {
                return refused("this sign-in link is unknown or was already used; start again");
            };
            if flow.expires_at_ms <= now {
                return refused("this sign-in expired; start again");
            }
            let authorize_url = match (&flow.browser, &flow.authorize_url) {
                (None, Some(url)) if flow.integration == *integration => url.clone(),
                // Refused, but the browser that opened it first keeps it.
                (Some(_), _) => {
                    w.put_flow(state, &flow, now)?;
                    return refused("this sign-in link was already opened; start again");
                }
                _ => {
                    w.put_flow(state, &flow, now)?;
                    return refused("this sign-in link is not for this integration");
                }
            };
            flow.browser = Some(browser_digest(&key));
            w.put_flow(state, &flow, now)?;
            Ok(OpenedSignIn {
                authorize_url,
                browser_key: Secret::new(key.clone()),
                cookie: sign_in_cookie(state),
                expires_at_ms: flow.expires_at_ms,
            })
        })
    }

    /// Completes a sign-in at the public callback, which a member's browser
    /// reaches from the provider with no credential of its own: the
    /// one-time `state` authenticates it, the browser must hold the key of
    /// the one that opened the sign-in link (`browser_key`, from its
    /// cookie), and the member, role and plan are the ones the host vouched
    /// for when the sign-in began. Says where the browser goes next.
    pub async fn finish_sign_in(
        &self,
        integration: &IntegrationId,
        callback: &Callback,
        browser_key: Option<&str>,
    ) -> SignInEnd {
        let caller = Caller::Browser(browser_key.map(browser_digest));
        let (flow, result) = self.complete(&caller, integration, callback).await;
        let return_to = flow
            .and_then(|f| f.return_to)
            .and_then(|url| url::Url::parse(&url).ok())
            .or_else(|| self.return_urls.default_url().cloned());
        SignInEnd { result, return_to }
    }

    /// Where browsers go when a sign-in names no return URL.
    pub fn default_return_url(&self) -> Option<&url::Url> {
        self.return_urls.default_url()
    }

    /// Takes the sign-in's flow, checks it and the callback, and connects.
    async fn complete(
        &self,
        caller: &Caller<'_>,
        integration: &IntegrationId,
        callback: &Callback,
    ) -> (Option<Flow>, Result<Connection>) {
        const OPERATION: &str = "connect";
        let now = now_ms();
        // A refused callback still uses up the state: the refusal is
        // audited and committed with the flow taken.
        let taken = self.store.write(|w| {
            let flow = w.take_flow(&callback.state)?;
            let actor = match (caller, &flow) {
                (Caller::Member(actor), _) => Some((*actor).clone()),
                (Caller::Browser(_), Some(flow)) => flow.actor(),
                (Caller::Browser(_), None) => None,
            };
            let refusal = refusal(caller, flow.as_ref(), integration, callback, now);
            if let (Some(actor), Some(why)) = (&actor, &refusal) {
                let outcome = outcome_of(&Error::SignIn(why.clone()));
                let record = entry(actor, OPERATION, Some(integration), outcome, None);
                w.audit(&actor.workspace, now, record)?;
            }
            Ok((flow, actor, refusal))
        });
        let (flow, actor) = match taken {
            Err(e) => return (None, Err(e)),
            Ok((flow, _, Some(why))) => return (flow, Err(Error::SignIn(why))),
            Ok((Some(flow), Some(actor), None)) => (flow, actor),
            // No refusal means a flow and its actor were found.
            Ok((flow, _, None)) => {
                return (
                    flow,
                    Err(Error::Internal("a sign-in without its member".into())),
                );
            }
        };
        let connected = self
            .connect_signed_in(&actor, integration, &flow, callback)
            .await;
        (Some(flow), connected)
    }

    /// Exchanges a checked callback's code, asks the plugin whose account
    /// it is, and saves the connection.
    async fn connect_signed_in(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        flow: &Flow,
        callback: &Callback,
    ) -> Result<Connection> {
        const OPERATION: &str = "connect";
        let plugin = &self.plugin(integration)?;
        self.approved_now(actor, plugin)?;
        let code = callback.code.as_deref().unwrap_or_default();
        let tokens = self
            .credentials
            .exchange(plugin, flow, &callback.state, code)
            .await
            .inspect_err(|e| self.audit_attempt(actor, OPERATION, Some(integration), e))?;
        let settings = self.settings_now(actor, plugin)?;
        let account = self
            .checked(
                actor,
                OPERATION,
                plugin,
                (Mode::User, &settings),
                Secret::new(tokens.access_token.clone()),
            )
            .await?;
        let checked = (account, settings);
        self.save_connection(
            actor,
            plugin,
            checked,
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
        let plugin = &self.plugin(integration)?;
        self.authorize_on(actor, integration, Operation::Connect, OPERATION)?;
        if is_oauth(plugin) {
            return Err(Error::OAuthRequired(integration.clone()));
        }
        self.approved_now(actor, plugin)?;
        let secret = key.secret_for(plugin.manifest().auth(Mode::User))?;
        let settings = self.settings_now(actor, plugin)?;
        let account = self
            .checked(
                actor,
                OPERATION,
                plugin,
                (Mode::User, &settings),
                secret.clone(),
            )
            .await?;
        let checked = (account, settings);
        self.save_connection(actor, plugin, checked, Vec::new(), &secret)
    }

    /// Seals a credential checked as `account` with `settings` and saves my
    /// connection to an integration in one audited transaction;
    /// reconnecting keeps the id.
    fn save_connection(
        &self,
        actor: &Actor,
        plugin: &Plugin,
        (account, settings): (Account, Settings),
        scopes: Vec<String>,
        credential: &Secret,
    ) -> Result<Connection> {
        let integration = &plugin.manifest().id;
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
            still_where_checked(w, plugin, workspace, (Mode::User, &settings))?;
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
                checked_with: Some(settings),
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
        let plugin = &self.plugin(&stored.connection.integration)?;
        self.authorize_read(
            Self::connection_query(actor, &stored, plugin, Operation::ViewConnection),
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
            let plugin = &self.plugin(&stored.connection.integration)?;
            self.authorize(Self::connection_query(
                actor,
                &stored,
                plugin,
                Operation::Disconnect,
            ))?;
            w.remove_connection(&stored)?;
            Ok(stored)
        })?;
        let integration = &removed.connection.integration;
        if let Ok(plugin) = self.plugin(integration)
            && let Err(refused) = self.credentials.revoke(&plugin, &removed).await
        {
            tracing::warn!(%integration, "revoking a removed connection's grant failed: {refused}");
            self.audit_attempt(
                actor,
                "revoke",
                Some(integration),
                &Error::Revocation(refused),
            );
        }
        Ok(())
    }

    /// The query about a stored connection of `plugin`'s.
    fn connection_query<'a>(
        actor: &'a Actor,
        stored: &'a StoredConnection,
        plugin: &'a Plugin,
        operation: Operation<'a>,
    ) -> Query<'a> {
        let c = &stored.connection;
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
        Query {
            actor,
            operation,
            target: Target::Connection(ConnectionFacts {
                id: c.id.as_str(),
                workspace: &c.workspace,
                integration: facts,
                owner: &c.owner,
            }),
        }
    }
}

const USER_ONLY: &[Mode] = &[Mode::User];

/// Who finishes a sign-in.
enum Caller<'a> {
    /// The host, vouching for this member.
    Member(&'a Actor),
    /// A browser at the public callback, with the digest of the key in its
    /// sign-in cookie, if it has one.
    Browser(Option<String>),
}

/// A sign-in link opened: where the browser goes, and the key it keeps.
pub struct OpenedSignIn {
    /// The provider's authorize URL.
    pub authorize_url: String,
    /// The browser's key, for its cookie; only its digest is stored.
    pub browser_key: Secret,
    /// The cookie's name (one per sign-in, so two tabs do not collide).
    pub cookie: String,
    /// When the sign-in stops being accepted (Unix milliseconds).
    pub expires_at_ms: u64,
}

// The authorize URL holds the state: it prints redacted, as in `SignIn`.
impl std::fmt::Debug for OpenedSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedSignIn")
            .field("authorize_url", &crate::redact::REDACTED)
            .field("browser_key", &self.browser_key)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

/// The name of the cookie that holds a sign-in's browser key.
pub fn sign_in_cookie(state: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(state.as_bytes());
    format!("switchboard_sign_in_{}", hex::encode(&digest[..8]))
}

/// What the flow keeps of a browser key.
fn browser_digest(key: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(key.as_bytes()))
}

/// How a sign-in at the public callback ended, and where the browser goes.
#[derive(Debug)]
pub struct SignInEnd {
    /// The connection, or why the sign-in was refused.
    pub result: Result<Connection>,
    /// The sign-in's checked `return_to`, or the operator's default.
    pub return_to: Option<url::Url>,
}

/// Why a callback is refused, if it is: an unknown or used `state`, an
/// expired one, another member's (when the host says who calls) or
/// another browser's (at the public callback), another integration's
/// (mix-up), a sign-in no host vouched for, or the provider's own refusal.
fn refusal(
    caller: &Caller<'_>,
    flow: Option<&Flow>,
    integration: &IntegrationId,
    callback: &Callback,
    now: u64,
) -> Option<String> {
    let Some(flow) = flow else {
        return Some("this sign-in is unknown or was already used; start again".into());
    };
    if flow.expires_at_ms <= now {
        return Some("this sign-in expired; start again".into());
    }
    if flow.integration != *integration {
        return Some(format!(
            "this sign-in was started for {}, not {integration}",
            flow.integration
        ));
    }
    match caller {
        Caller::Member(actor) if flow.user != actor.user || flow.workspace != actor.workspace => {
            return Some("this sign-in was started by someone else".into());
        }
        Caller::Browser(_) if flow.vouched.is_none() => {
            return Some(
                "this sign-in was started before browser sign-ins were kept; start again".into(),
            );
        }
        Caller::Browser(_) if flow.browser.is_none() => {
            return Some(
                "this sign-in was not opened through its sign-in link; start again".into(),
            );
        }
        Caller::Browser(held) if *held != flow.browser => {
            return Some("this sign-in was started in another browser; start again".into());
        }
        _ => {}
    }
    if let Some(error) = &callback.error {
        return Some(match &callback.error_description {
            Some(d) => format!(
                "the provider refused: {error}: {}",
                d.lines().next().unwrap_or_default()
            ),
            None => format!("the provider refused: {error}"),
        });
    }
    callback
        .code
        .is_none()
        .then(|| "the provider sent no code".to_owned())
}

fn new_connection_id() -> ConnectionId {
    ConnectionId::new(super::new_id("conn"))
}
