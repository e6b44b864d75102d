use crate::model::{IntegrationId, Mode};
use crate::plugins::PluginError;

/// Everything the engine can refuse or fail with. Messages are meant for the
/// person who asked; none of them ever carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A policy denied the operation; `reason` is the forbid's `@reason`.
    #[error("{reason} [policy: {}]", if policies.is_empty() { "none permits it".to_owned() } else { policies.join(", ") })]
    Denied {
        reason: String,
        policies: Vec<String>,
    },
    #[error(transparent)]
    Policies(#[from] crate::policy::PolicyLoadError),
    #[error(transparent)]
    PolicyRequest(#[from] crate::policy::BuildError),
    #[error("no integration `{0}` is loaded")]
    UnknownIntegration(IntegrationId),
    #[error("{integration} does not support {mode} mode")]
    ModeNotSupported {
        integration: IntegrationId,
        mode: Mode,
    },
    #[error(
        "{integration} is already enabled in {active} mode; disable it before enabling {requested} mode"
    )]
    AlreadyEnabled {
        integration: IntegrationId,
        active: Mode,
        requested: Mode,
    },
    #[error("{0} is not enabled in this workspace")]
    NotEnabled(IntegrationId),
    #[error("you have not connected your {0} account")]
    NotConnected(IntegrationId),
    #[error("your {integration} connection needs attention ({}): {reason}", status.fix().unwrap_or("check it"))]
    ConnectionUnusable {
        integration: IntegrationId,
        status: crate::model::ConnectionStatus,
        reason: String,
    },
    #[error("no connection `{0}`")]
    ConnectionNotFound(crate::model::ConnectionId),
    #[error("{0} connects with OAuth 2.0: begin the sign-in instead of sending a key")]
    OAuthRequired(IntegrationId),
    #[error("the sign-in was refused: {0}")]
    SignIn(String),
    #[error("the access token could not be refreshed: {0}")]
    TokenRefresh(String),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("{0} has no workspace credential; an admin must set one")]
    NoWorkspaceCredential(IntegrationId),
    #[error("the credential was refused: {0}")]
    CredentialRefused(String),
    #[error("invalid input for {action}: {reason}")]
    InvalidInput { action: String, reason: String },
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
