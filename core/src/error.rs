use crate::model::{ConnectionId, ConnectionStatus, IntegrationId, Mode};
use crate::oauth::{OAuthError, TokenError};
use crate::plugins::PluginError;

/// Everything the engine can refuse or fail with. Messages are meant for the
/// person who asked; none of them ever carries a secret. Storage, vault and
/// internal errors may name files: a service logs them and answers with a
/// fixed text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A policy denied the operation; `reason` is the forbid's `@reason`.
    #[error("{reason} [policy: {}]", if policies.is_empty() { "none permits it".to_owned() } else { policies.join(", ") })]
    Denied {
        /// What the denied person reads.
        reason: String,
        /// The `@id`s of the policies that decided it.
        policies: Vec<String>,
    },
    /// The policy directory was refused when loaded or reloaded.
    #[error(transparent)]
    Policies(#[from] crate::policy::PolicyLoadError),
    /// A request could not be put to the policies.
    #[error(transparent)]
    PolicyRequest(#[from] crate::policy::BuildError),
    /// A workspace, user or plan id breaks the id grammar.
    #[error(transparent)]
    InvalidId(#[from] crate::model::InvalidId),
    /// No loaded plugin has this id.
    #[error("no integration `{0}` is loaded")]
    UnknownIntegration(IntegrationId),
    /// The plugin now asks for more than an admin approved when enabling
    /// it (an upgrade with new hosts, scopes or sign-in endpoints).
    #[error(
        "{integration} now asks for more than an admin approved ({}); an admin must approve it on the Team Integrations page",
        asked.join("; ")
    )]
    NeedsApproval {
        /// The integration.
        integration: IntegrationId,
        /// What it asks for beyond the approval, in words.
        asked: Vec<String>,
    },
    /// The member or the workspace has as many calls running as it may.
    #[error("{0}")]
    Busy(String),
    /// The integration's manifest does not offer the mode.
    #[error("{integration} does not support {mode} mode")]
    ModeNotSupported {
        /// The integration asked for.
        integration: IntegrationId,
        /// The mode it lacks.
        mode: Mode,
    },
    /// Enabling a second mode while one is active.
    #[error(
        "{integration} is already enabled in {active} mode; disable it before enabling {requested} mode"
    )]
    AlreadyEnabled {
        /// The integration asked for.
        integration: IntegrationId,
        /// The mode it is enabled in.
        active: Mode,
        /// The mode that was asked for.
        requested: Mode,
    },
    /// The integration is disabled in the workspace.
    #[error("{0} is not enabled in this workspace")]
    NotEnabled(IntegrationId),
    /// The member has no connection to a user-mode integration.
    #[error("you have not connected your {0} account")]
    NotConnected(IntegrationId),
    /// The member's connection exists but cannot be used as it stands.
    #[error("your {integration} connection needs attention ({}): {reason}", status.fix().unwrap_or("check it"))]
    ConnectionUnusable {
        /// The integration it connects to.
        integration: IntegrationId,
        /// Where it stands.
        status: ConnectionStatus,
        /// Why (e.g. the provider's words).
        reason: String,
    },
    /// No connection has this id.
    #[error("no connection `{0}`")]
    ConnectionNotFound(ConnectionId),
    /// A key was sent for an integration that connects with OAuth 2.0.
    #[error("{0} connects with OAuth 2.0: begin the sign-in instead of sending a key")]
    OAuthRequired(IntegrationId),
    /// A sign-in was asked of an integration that takes a key instead.
    #[error("the sign-in was refused: {0} does not sign in with OAuth 2.0")]
    NotOAuth(IntegrationId),
    /// The host application registered no OAuth client for the integration.
    #[error("the sign-in was refused: no OAuth client is registered for {0}")]
    NoOAuthClient(IntegrationId),
    /// The callback was refused: an unknown, used, expired or foreign
    /// `state`, or the provider's own refusal.
    #[error("the sign-in was refused: {0}")]
    SignIn(String),
    /// A sign-in's `return_to` is not on an origin the operator allows.
    #[error("the sign-in was refused: {0}")]
    ReturnUrlRefused(String),
    /// A session was asked for a life it cannot have (seconds asked).
    #[error("a session lasts from 1 second to 12 hours; {0} seconds were asked")]
    SessionLifetime(u64),
    /// The provider would not exchange the sign-in's code for tokens.
    #[error("the sign-in was refused: the code exchange failed: {0}")]
    CodeExchange(TokenError),
    /// The provider would not refresh an access token; its kind says
    /// whether to retry or to fix the client registration.
    #[error("the access token could not be refreshed: {0}")]
    TokenRefresh(TokenError),
    /// The provider did not revoke a removed connection's grant (the
    /// connection is deleted all the same).
    #[error("the provider did not revoke the grant: {0}")]
    Revocation(TokenError),
    /// A sign-in could not be prepared, or stored tokens not read.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// A workspace-mode integration has no shared credential yet.
    #[error("{0} has no workspace credential; an admin must set one")]
    NoWorkspaceCredential(IntegrationId),
    /// A pasted key cannot be a key; nothing was checked or stored.
    #[error("{0}")]
    InvalidKey(#[from] crate::pasted::InvalidKey),
    /// The saved credential no longer fits what the connector asks (its
    /// fields changed in an upgrade); it must be entered again.
    #[error(
        "the saved {integration} credential no longer fits the connector ({why}); enter it again"
    )]
    CredentialStale {
        /// The integration.
        integration: IntegrationId,
        /// What does not fit.
        why: String,
    },
    /// An admin changed where the credential goes (the settings) while it
    /// was being checked; nothing was stored.
    #[error("{0}'s settings changed while the credential was checked; try again")]
    SettingsChanged(IntegrationId),
    /// The page showed another version of the plugin than the one loaded
    /// now; what it asks must be looked at again.
    #[error(
        "{integration} is now version {loaded}, not the {shown} that was shown; look at what it asks for again"
    )]
    VersionChanged {
        /// The integration.
        integration: IntegrationId,
        /// The version the admin was shown.
        shown: String,
        /// The version loaded now.
        loaded: String,
    },
    /// An install's settings do not fit the manifest.
    #[error("the settings were refused: {0}")]
    InvalidSettings(String),
    /// The service refused a credential being checked; nothing was stored.
    #[error("the credential was refused: {0}")]
    CredentialRefused(String),
    /// A plugin failed, was stopped by its sandbox, or its service failed.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The state could not be read or written.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A secret could not be sealed or opened, or a key managed.
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
    /// The engine itself could not do its part (a thread would not start).
    #[error("internal error: {0}")]
    Internal(String),
}

/// The engine's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
