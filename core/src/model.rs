//! The engine's vocabulary: who asks, about which integration, in which mode.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A workspace of the host application.
    WorkspaceId
);
id_type!(
    /// A user of the host application.
    UserId
);
id_type!(
    /// An integration, as named by its plugin's manifest (`semrush`).
    IntegrationId
);

/// How an integration is used in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Each member connects a personal account.
    User,
    /// One shared credential, set by an admin, used by every member.
    Workspace,
}

impl Mode {
    /// As written in the API, the policies and the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::User => "user",
            Mode::Workspace => "workspace",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A member's role in the workspace, as the host asserts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Developer,
    Member,
}

/// Who is asking: authenticated by the host application, which vouches for
/// the user, their workspace, role and the workspace's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Actor {
    pub user: UserId,
    pub workspace: WorkspaceId,
    pub role: Role,
    pub plan: String,
}

/// The account a credential belongs to, as the service reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Account {
    pub label: String,
    pub detail: Option<String>,
}

/// What a plugin says it is, validated at load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Manifest {
    pub id: IntegrationId,
    pub name: String,
    pub description: String,
    pub version: String,
    pub modes: Vec<ModeAuth>,
    pub allowed_hosts: Vec<String>,
    pub actions: Vec<ActionSpec>,
}

impl Manifest {
    pub fn auth(&self, mode: Mode) -> Option<&Auth> {
        self.modes.iter().find(|m| m.mode == mode).map(|m| &m.auth)
    }

    pub fn supported_modes(&self) -> Vec<Mode> {
        self.modes.iter().map(|m| m.mode).collect()
    }

    pub fn action(&self, name: &str) -> Option<&ActionSpec> {
        self.actions.iter().find(|a| a.name == name)
    }
}

/// A supported mode and how it authenticates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModeAuth {
    pub mode: Mode,
    pub auth: Auth,
}

/// How a mode authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Auth {
    /// An API key sent as a query parameter.
    ApiKeyQuery { parameter: String },
    /// An API key sent in a header, after an optional prefix.
    ApiKeyHeader {
        header: String,
        prefix: Option<String>,
    },
    /// OAuth 2.0 authorization code; the access token is sent as a bearer token.
    #[serde(rename = "oauth2")]
    OAuth2 {
        authorize_url: String,
        token_url: String,
        revocation_url: Option<String>,
        scopes: Vec<String>,
        pkce: bool,
    },
}

/// One action of an integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionSpec {
    pub name: String,
    pub description: String,
    pub input_schema: serde_json::Value,
    pub output_schema: serde_json::Value,
    pub credit_cost: u32,
}

/// An integration enabled in a workspace, in exactly one mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Enablement {
    pub mode: Mode,
    pub enabled_by: UserId,
    /// Unix time in milliseconds.
    pub enabled_at_ms: u64,
}

/// Why a connector failed an action or a credential check, as it reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConnectorError {
    #[error("invalid input: {message}")]
    InvalidInput { message: String },
    #[error("the service refused the credential: {message}")]
    Unauthorized { message: String },
    #[error("rate limited: {message}")]
    RateLimited {
        message: String,
        retry_after_ms: Option<u64>,
    },
    #[error("not found: {message}")]
    NotFound { message: String },
    #[error("{message}")]
    Upstream { message: String },
    #[error("connector fault: {message}")]
    Internal { message: String },
}

id_type!(
    /// A member's personal connection (`conn_` and 24 hex digits).
    ConnectionId
);

/// Where a personal connection stands, and what fixes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    Connected,
    /// The grant expired or was revoked: the member must sign in again.
    NeedsReauth,
    /// The integration was disabled; it comes back when re-enabled.
    Suspended,
    /// The last check failed for another reason.
    Error,
}

impl ConnectionStatus {
    /// The one action that fixes this status, as the page shows it.
    pub fn fix(self) -> Option<&'static str> {
        match self {
            ConnectionStatus::Connected => None,
            ConnectionStatus::NeedsReauth => Some("Reconnect"),
            ConnectionStatus::Suspended => Some("Ask an admin to re-enable it"),
            ConnectionStatus::Error => Some("Reconnect"),
        }
    }
}

/// A member's personal connection, as its owner sees it. Never carries
/// the credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Connection {
    pub id: ConnectionId,
    pub workspace: WorkspaceId,
    pub integration: IntegrationId,
    pub owner: UserId,
    pub status: ConnectionStatus,
    /// Why the status is not `connected` (e.g. the provider's reason).
    pub status_reason: Option<String>,
    pub account: Account,
    pub scopes: Vec<String>,
    pub connected_at_ms: u64,
    pub last_used_at_ms: Option<u64>,
}

/// What the engine tells the host about changes that affect members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    pub kind: EventKind,
    pub workspace: WorkspaceId,
    pub integration: IntegrationId,
    /// The members affected (e.g. whose connections were suspended).
    pub users: Vec<UserId>,
    pub connections: Vec<ConnectionId>,
    pub reason: Option<String>,
    pub at_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Calls through it are refused; pause the workflows that use it.
    IntegrationDisabled,
    IntegrationEnabled,
    /// Connections came back with the integration.
    ConnectionsRestored,
    /// A member must sign in again.
    NeedsReauth,
}
