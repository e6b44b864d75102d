//! The engine's vocabulary: who asks, about which integration, in which mode.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// Wraps an id as given.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }
            /// The id as text.
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

/// The grammar of workspace, user and plan ids: 1 to 128 ASCII letters,
/// digits and `. _ @ : + -`, starting with a letter or digit (an email, a
/// UUID, a slug). Nothing else can reach a page, a log line or the store.
pub const ID_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}$";

/// An id that breaks [`ID_PATTERN`]. It does not repeat the id, which may
/// hold anything a client sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the {0} id must be 1 to 128 letters, digits or . _ @ : + -, starting with a letter or digit"
)]
pub struct InvalidId(pub &'static str);

/// Checks an id of `kind` (`workspace`, `user`, `plan`) against [`ID_PATTERN`].
pub fn check_id(kind: &'static str, id: &str) -> Result<(), InvalidId> {
    let bytes = id.as_bytes();
    let valid = (1..=128).contains(&bytes.len())
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"._@:+-".contains(b));
    if valid { Ok(()) } else { Err(InvalidId(kind)) }
}

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
    /// An admin: under the shipped policies, manages team integrations.
    Admin,
    /// A developer: under the shipped policies, the same rights as an admin.
    Developer,
    /// A member: under the shipped policies, connects and uses integrations.
    Member,
}

impl Role {
    /// Every role, in the order the API lists them.
    pub const ALL: [Role; 3] = [Role::Admin, Role::Developer, Role::Member];

    /// As written in the API, the policies (`Role::"admin"`) and the audit
    /// trail; serde writes the same words.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Member => "member",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is none of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}` (admin, developer or member)")]
pub struct UnknownRole(pub String);

impl std::str::FromStr for Role {
    type Err = UnknownRole;

    fn from_str(name: &str) -> Result<Self, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == name)
            .ok_or_else(|| UnknownRole(name.to_owned()))
    }
}

/// Who is asking: authenticated by the host application, which vouches for
/// the user, their workspace, role and the workspace's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Actor {
    /// The user, as the host application identifies them.
    pub user: UserId,
    /// The workspace they act in.
    pub workspace: WorkspaceId,
    /// Their role in that workspace.
    pub role: Role,
    /// The workspace's plan, as the host names it (the shipped policies
    /// require `business`).
    pub plan: String,
}

impl Actor {
    /// Checks the user, workspace and plan against [`ID_PATTERN`].
    pub fn check(&self) -> Result<(), InvalidId> {
        check_id("user", self.user.as_str())?;
        check_id("workspace", self.workspace.as_str())?;
        check_id("plan", &self.plan)
    }
}

/// The account a credential belongs to, as the service reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Account {
    /// What to show for the account, e.g. the Microsoft display name or
    /// `API units: 1,000`.
    pub label: String,
    /// A detail worth showing beside the label; `None` if there is none.
    pub detail: Option<String>,
}

/// What a plugin says it is, validated at load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Manifest {
    /// Unique among the loaded plugins: lowercase letters, digits, `-` and `_`.
    pub id: IntegrationId,
    /// Shown to people, e.g. `Semrush`.
    pub name: String,
    /// What the integration does, for the people choosing it.
    pub description: String,
    /// The connector's own version (semver).
    pub version: String,
    /// The modes it supports (at least one, each once) and how each
    /// authenticates.
    pub modes: Vec<ModeAuth>,
    /// The settings an admin enters for each workspace (a subdomain, a
    /// region); every one is required.
    #[serde(default)]
    pub settings: Vec<SettingSpec>,
    /// Every host the connector may call, as `host` or `host:port`
    /// (`*.example.com` allows the subdomains; `{subdomain}.example.com`
    /// the workspace's setting); https only.
    pub allowed_hosts: Vec<String>,
    /// What members can run through it.
    pub actions: Vec<ActionSpec>,
}

impl Manifest {
    /// How `mode` authenticates; `None` if the integration does not support it.
    pub fn auth(&self, mode: Mode) -> Option<&Auth> {
        self.modes.iter().find(|m| m.mode == mode).map(|m| &m.auth)
    }

    /// What enabling it in `mode` asks an admin to approve; `None` if it
    /// does not support `mode`.
    pub fn permissions(&self, mode: Mode) -> Option<Permissions> {
        let m = self.modes.iter().find(|m| m.mode == mode)?;
        let (auth, scopes, credential) = match &m.auth {
            Auth::ApiKey { fields, placement } => (
                AuthKind::ApiKey,
                Vec::new(),
                Some(CredentialShape {
                    fields: fields.clone(),
                    placement: placement.clone(),
                }),
            ),
            Auth::OAuth2 {
                authorize_url,
                token_url,
                revocation_url,
                scopes,
                ..
            } => (
                AuthKind::OAuth2 {
                    authorize_url: authorize_url.clone(),
                    token_url: token_url.clone(),
                    revocation_url: revocation_url.clone(),
                },
                scopes.clone(),
                None,
            ),
        };
        Some(Permissions {
            mode,
            auth,
            scopes,
            credential_hosts: m.credential_hosts.clone(),
            hosts: self.allowed_hosts.clone(),
            credential,
        })
    }

    /// The modes it supports, in the manifest's order.
    pub fn supported_modes(&self) -> Vec<Mode> {
        self.modes.iter().map(|m| m.mode).collect()
    }

    /// The action called `name`; `None` if there is none.
    pub fn action(&self, name: &str) -> Option<&ActionSpec> {
        self.actions.iter().find(|a| a.name == name)
    }
}

/// A supported mode and how it authenticates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModeAuth {
    /// The mode.
    pub mode: Mode,
    /// How it authenticates in that mode.
    pub auth: Auth,
    /// The hosts that receive the credential in that mode.
    pub credential_hosts: Vec<String>,
}

/// How a mode authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Auth {
    /// A credential people type in (an API key, or an email and a token),
    /// sent as `placement` says.
    ApiKey {
        /// What the form asks for, in order; at least one field is secret.
        fields: Vec<CredentialField>,
        /// Where the credential goes in an authenticated request.
        placement: Placement,
    },
    /// OAuth 2.0 authorization code; the access token is sent as a bearer token.
    #[serde(rename = "oauth2")]
    OAuth2 {
        /// The provider's authorization endpoint (`https://`).
        authorize_url: String,
        /// The provider's token endpoint (`https://`), for the code exchange
        /// and refreshes.
        token_url: String,
        /// The provider's RFC 7009 revocation endpoint; `None` if it has none.
        revocation_url: Option<String>,
        /// The scopes asked for, as the provider spells them.
        scopes: Vec<String>,
        /// Whether sign-in uses PKCE (always S256).
        pkce: bool,
    },
}

/// The settings of one workspace's install of an integration, by name.
pub type Settings = BTreeMap<String, String>;

/// One field of a credential people type in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CredentialField {
    /// `snake_case`, unique within the credential, e.g. `api_token`.
    pub name: String,
    /// Shown beside the input, e.g. `API token`.
    pub label: String,
    /// Never shown again once saved; every field is sealed all the same.
    pub secret: bool,
}

/// Where a typed credential goes in an authenticated request. Values are
/// templates: `{name}` stands for the credential field `name`, `{{` and
/// `}}` for braces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Placement {
    /// `Authorization: Bearer <value>`.
    Bearer {
        /// The token, e.g. `{token}`.
        value: String,
    },
    /// `Authorization: Basic <base64 of user:password>`.
    Basic {
        /// E.g. `{email}/token`.
        user: String,
        /// E.g. `{api_token}`.
        password: String,
    },
    /// A request header.
    Header {
        /// The header's name, e.g. `X-Api-Key`.
        name: String,
        /// Its value, e.g. `Apikey {key}`.
        value: String,
    },
    /// A query parameter.
    Query {
        /// The parameter's name, e.g. `key`.
        name: String,
        /// Its value, e.g. `{key}`.
        value: String,
    },
}

/// A setting of each workspace's install, entered by an admin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SettingSpec {
    /// `snake_case`, unique; `{name}` in a host stands for its value.
    pub name: String,
    /// Shown beside the input, e.g. `Zendesk subdomain`.
    pub label: String,
    /// One sentence of help.
    pub description: String,
    /// JSON Schema of the value (a string); values are checked against it.
    pub schema: serde_json::Value,
}

/// One action of an integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionSpec {
    /// Unique within the integration, `snake_case`, e.g. `keyword_overview`.
    pub name: String,
    /// One sentence for the people choosing it.
    pub description: String,
    /// JSON Schema (draft 2020-12) of the input object; every input is
    /// validated against it before the call.
    pub input_schema: serde_json::Value,
    /// JSON Schema of the output.
    pub output_schema: serde_json::Value,
    /// Credits one call costs the workspace (0 for a free action).
    pub credit_cost: u32,
}

/// An integration enabled in a workspace, in exactly one mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Enablement {
    /// The mode it is enabled in.
    pub mode: Mode,
    /// Who enabled it.
    pub enabled_by: UserId,
    /// Unix time in milliseconds.
    pub enabled_at_ms: u64,
    /// What the admin approved, as the plugin asked it then; `None` for an
    /// enablement older than approvals, which must be approved again.
    #[serde(default)]
    pub approved: Option<Permissions>,
    /// The values of the integration's settings in this workspace, by name
    /// (a subdomain, a region); not secret.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: Settings,
}

/// What an admin approves by enabling an integration in one mode: how it
/// authenticates, where its credential goes, and every host it may call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Permissions {
    /// The mode.
    pub mode: Mode,
    /// How it authenticates: `api_key`, or OAuth 2.0 with its endpoints.
    pub auth: AuthKind,
    /// The OAuth scopes it asks for; empty for a key.
    pub scopes: Vec<String>,
    /// The hosts that receive the credential.
    pub credential_hosts: Vec<String>,
    /// Every host it may call, with or without the credential.
    pub hosts: Vec<String>,
    /// For a credential people type in: its fields and where it is sent
    /// (which fields are secret decides what is scrubbed). `None` for OAuth
    /// 2.0, and in approvals recorded before it was part of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<CredentialShape>,
}

/// A typed credential's fields and placement, as an admin approves them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CredentialShape {
    /// The fields, in order.
    pub fields: Vec<CredentialField>,
    /// Where the credential goes.
    pub placement: Placement,
}

/// How a mode authenticates, as an admin approves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuthKind {
    /// An API key.
    ApiKey,
    /// OAuth 2.0, with the endpoints that see the sign-in and the tokens.
    #[serde(rename = "oauth2")]
    OAuth2 {
        /// The authorization endpoint.
        authorize_url: String,
        /// The token endpoint (it receives the client secret and refresh tokens).
        token_url: String,
        /// The revocation endpoint, if any.
        revocation_url: Option<String>,
    },
}

impl Permissions {
    /// What `asked` wants beyond these permissions, in words; empty when
    /// it asks for the same or less.
    pub fn beyond(&self, asked: &Permissions) -> Vec<String> {
        let mut more = Vec::new();
        if asked.mode != self.mode {
            more.push(format!("{} mode", asked.mode));
        }
        if asked.auth != self.auth {
            more.push("a different way to authenticate".to_owned());
        }
        // Approvals recorded before the credential's shape was part of
        // them compare from the next approval on.
        if self.credential.is_some() && asked.credential != self.credential {
            more.push(
                "a different credential (its fields, which are secret, or where it is sent)"
                    .to_owned(),
            );
        }
        let new = |approved: &[String], asked: &[String]| -> Vec<String> {
            asked
                .iter()
                .filter(|a| !approved.contains(a))
                .cloned()
                .collect()
        };
        for (what, extra) in [
            ("scopes", new(&self.scopes, &asked.scopes)),
            (
                "hosts that receive the credential",
                new(&self.credential_hosts, &asked.credential_hosts),
            ),
            ("hosts", new(&self.hosts, &asked.hosts)),
        ] {
            if !extra.is_empty() {
                more.push(format!("{what} {}", extra.join(", ")));
            }
        }
        more
    }

    /// One line for the audit log.
    pub fn summary(&self) -> String {
        let auth = match &self.auth {
            AuthKind::ApiKey => "an API key".to_owned(),
            AuthKind::OAuth2 { token_url, .. } => format!("OAuth 2.0 via {token_url}"),
        };
        let mut line = format!(
            "{} mode, {auth}, credential to {}; may call {}",
            self.mode,
            self.credential_hosts.join(", "),
            self.hosts.join(", ")
        );
        if !self.scopes.is_empty() {
            line.push_str(&format!("; scopes {}", self.scopes.join(" ")));
        }
        line
    }
}

/// Why a connector failed an action or a credential check, as it reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConnectorError {
    /// The input does not make sense for this action.
    #[error("invalid input: {message}")]
    InvalidInput {
        /// The reason, as the connector reported it; shown to people.
        message: String,
    },
    /// The service refused the credential (wrong, expired or revoked).
    #[error("the service refused the credential: {message}")]
    Unauthorized {
        /// The reason, as the connector reported it; shown to people.
        message: String,
    },
    /// The service asks to slow down.
    #[error("rate limited: {message}")]
    RateLimited {
        /// The reason, as the connector reported it; shown to people.
        message: String,
        /// How long to wait before retrying (milliseconds); `None` if the
        /// service did not say.
        retry_after_ms: Option<u64>,
    },
    /// What was asked for does not exist.
    #[error("not found: {message}")]
    NotFound {
        /// The reason, as the connector reported it; shown to people.
        message: String,
    },
    /// The service failed or answered something unexpected (including quota
    /// and plan problems).
    #[error("{message}")]
    Upstream {
        /// The reason, as the connector reported it; shown to people.
        message: String,
    },
    /// A fault in the connector itself.
    #[error("connector fault: {message}")]
    Internal {
        /// The reason, as the connector reported it; shown to people.
        message: String,
    },
}

id_type!(
    /// A member's personal connection (`conn_` and 24 hex digits).
    ConnectionId
);

/// Where a personal connection stands, and what fixes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Working: actions run with this account.
    Connected,
    /// The grant expired or was revoked: the member must sign in again.
    NeedsReauth,
    /// The integration was disabled; it comes back when re-enabled.
    Suspended,
    /// The last check failed for another reason.
    Error,
}

/// A member's personal connection, as its owner sees it. Never carries
/// the credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Connection {
    /// The connection's id; reconnecting keeps it.
    pub id: ConnectionId,
    /// The workspace it belongs to.
    pub workspace: WorkspaceId,
    /// The integration it connects to.
    pub integration: IntegrationId,
    /// The member whose account it is; only they can see or change it.
    pub owner: UserId,
    /// Where it stands; anything but `connected` stops its use.
    pub status: ConnectionStatus,
    /// Why the status is not `connected` (e.g. the provider's reason).
    pub status_reason: Option<String>,
    /// The account connected, as the service reported it.
    pub account: Account,
    /// The OAuth 2.0 scopes granted, as the provider spells them; empty for
    /// an API key.
    pub scopes: Vec<String>,
    /// When it was last connected or reconnected (Unix milliseconds).
    pub connected_at_ms: u64,
    /// When an action last ran through it (Unix milliseconds); `None` if never.
    pub last_used_at_ms: Option<u64>,
}

/// What the engine tells the host about changes that affect members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    /// Unique to this event and the same on every node; a webhook sends it
    /// as `X-Switchboard-Delivery`, so a receiver can tell a retry.
    pub id: String,
    /// What changed.
    pub kind: EventKind,
    /// The workspace it happened in.
    pub workspace: WorkspaceId,
    /// The integration concerned.
    pub integration: IntegrationId,
    /// The members affected (e.g. whose connections were suspended).
    pub users: Vec<UserId>,
    /// The connections affected (e.g. suspended or restored), in the same
    /// order as `users`.
    pub connections: Vec<ConnectionId>,
    /// Why, when known (e.g. the provider's reason for `needs_reauth`);
    /// `None` otherwise.
    pub reason: Option<String>,
    /// When it happened (Unix milliseconds).
    pub at_ms: u64,
}

/// What kind of change an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Calls through it are refused; pause the workflows that use it.
    IntegrationDisabled,
    /// The integration was enabled.
    IntegrationEnabled,
    /// Connections came back with the integration.
    ConnectionsRestored,
    /// A member must sign in again.
    NeedsReauth,
    /// An upgraded plugin asks for more than an admin approved; its calls
    /// are refused until an admin approves.
    NeedsApproval,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_is_spelled_one_way_in_json_text_and_parsing() -> Result<(), Box<dyn std::error::Error>>
    {
        for role in Role::ALL {
            assert_eq!(serde_json::to_value(role)?, role.as_str());
            assert_eq!(role.as_str().parse::<Role>()?, role);
        }
        assert_eq!(
            "owner"
                .parse::<Role>()
                .err()
                .map(|e| e.to_string())
                .as_deref(),
            Some("unknown role `owner` (admin, developer or member)")
        );
        Ok(())
    }

    #[test]
    fn an_upgrade_that_changes_which_fields_are_secret_needs_approval() {
        let shape = |secret_token: bool| CredentialShape {
            fields: vec![
                CredentialField {
                    name: "email".into(),
                    label: "Email".into(),
                    secret: !secret_token,
                },
                CredentialField {
                    name: "api_token".into(),
                    label: "API token".into(),
                    secret: secret_token,
                },
            ],
            placement: Placement::Query {
                name: "auth".into(),
                value: "{email}:{api_token}".into(),
            },
        };
        let permissions = |credential| Permissions {
            mode: Mode::Workspace,
            auth: AuthKind::ApiKey,
            scopes: Vec::new(),
            credential_hosts: vec!["api.acme.example".into()],
            hosts: vec!["api.acme.example".into()],
            credential,
        };
        let approved = permissions(Some(shape(true)));
        assert!(approved.beyond(&permissions(Some(shape(true)))).is_empty());
        assert_eq!(
            approved.beyond(&permissions(Some(shape(false)))),
            ["a different credential (its fields, which are secret, or where it is sent)"]
        );
        // An approval recorded before the shape was part of it.
        assert!(
            permissions(None)
                .beyond(&permissions(Some(shape(false))))
                .is_empty()
        );
    }
}
