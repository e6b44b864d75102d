//! What the store keeps, whatever the backend: the records the engine
//! reads and writes besides the model's own types.

use crate::model::{
    Account, Actor, Connection, ConnectionStatus, Enablement, IntegrationId, Role, Settings,
    UserId, WorkspaceId,
};
use crate::vault::Sealed;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// A workspace's shared credential, sealed, with what its check said.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredCredential {
    /// The credential, sealed under the workspace and integration.
    pub sealed: Sealed,
    /// Whose account the service said it is.
    pub account: Account,
    /// Who set it.
    pub set_by: UserId,
    /// When it was set (Unix milliseconds).
    pub set_at_ms: u64,
    /// When the service last accepted it (Unix milliseconds).
    pub checked_at_ms: u64,
    /// The workspace's settings it was checked with, which name the hosts
    /// it goes to; `None` in records from before they were kept.
    #[serde(default)]
    pub checked_with: Option<Settings>,
}

/// A personal connection and its sealed credential.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredConnection {
    /// The connection as its owner sees it.
    pub connection: Connection,
    /// Its credential (an API key or a token set), sealed under its owner.
    pub sealed: Sealed,
    /// The status to restore when a suspended connection comes back.
    pub suspended_from: Option<ConnectionStatus>,
    /// The workspace's settings its credential was checked with.
    #[serde(default)]
    pub checked_with: Option<Settings>,
}

/// A connection without its credential, for pages that only show it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectionRecord {
    /// The connection as its owner sees it.
    pub connection: Connection,
    /// The status to restore when a suspended connection comes back.
    pub suspended_from: Option<ConnectionStatus>,
    /// The workspace's settings its credential was checked with, which
    /// name the hosts it goes to; `None` in records from before they were
    /// kept.
    #[serde(default)]
    pub checked_with: Option<Settings>,
}

/// A sign-in in progress: who started it, for which integration, until
/// when, and its sealed PKCE verifier.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flow {
    /// The workspace the sign-in was started in.
    pub workspace: WorkspaceId,
    /// The member who started it.
    pub user: UserId,
    /// The integration it signs in to.
    pub integration: IntegrationId,
    /// The PKCE verifier, sealed under the flow's `state`.
    pub verifier: Option<Sealed>,
    /// When the `state` stops being accepted (Unix milliseconds).
    pub expires_at_ms: u64,
    /// The member's role and the workspace's plan as the host vouched for
    /// them when the sign-in began: a browser finishing it carries neither
    /// (absent in flows stored before they were kept).
    #[serde(default)]
    pub vouched: Option<(Role, String)>,
    /// Where the member's browser goes when the sign-in ends, checked
    /// against the operator's allowed origins when it began.
    #[serde(default)]
    pub return_to: Option<String>,
    /// The provider's authorize URL, where the sign-in link sends the browser.
    #[serde(default)]
    pub authorize_url: Option<String>,
    /// SHA-256 (hex) of the key the browser that opened the sign-in link
    /// holds in a cookie: only that browser may finish it.
    #[serde(default)]
    pub browser: Option<String>,
}

impl Flow {
    /// The member who began the sign-in, as the host vouched for them.
    pub fn actor(&self) -> Option<Actor> {
        let (role, plan) = self.vouched.clone()?;
        Some(Actor {
            user: self.user.clone(),
            workspace: self.workspace.clone(),
            role,
            plan,
        })
    }
}

/// A stored secret, by where it lives, with its sealed bytes as read.
#[derive(Debug, Clone)]
pub enum SealedRef {
    /// A workspace's shared credential.
    Workspace {
        /// The workspace it belongs to.
        workspace: String,
        /// The integration it is for.
        integration: String,
        /// Its sealed bytes.
        sealed: Sealed,
    },
    /// A member's personal connection.
    Connection {
        /// The workspace it belongs to.
        workspace: String,
        /// The integration it is for.
        integration: String,
        /// The member who owns it.
        owner: String,
        /// Its sealed bytes.
        sealed: Sealed,
    },
}

impl SealedRef {
    /// The sealed bytes, wherever they live.
    pub fn sealed(&self) -> &Sealed {
        match self {
            SealedRef::Workspace { sealed, .. } | SealedRef::Connection { sealed, .. } => sealed,
        }
    }
}

/// A browser session: what it is, and a SHA-256 of its token's secret
/// (the token itself is never stored).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The session as the host sees it.
    pub session: crate::engine::Session,
    /// SHA-256 of the token's secret part.
    pub secret_sha256: [u8; 32],
}

/// What an integration call reads, at once: the enablement, both kinds of
/// credential (the mode decides which is used), and the month's credits.
#[derive(Debug, Default)]
pub struct CallRecords {
    /// The integration's enablement in the workspace.
    pub enablement: Option<Enablement>,
    /// The workspace's shared credential.
    pub workspace_credential: Option<StoredCredential>,
    /// The member's own connection.
    pub connection: Option<StoredConnection>,
    /// Credits the workspace used this month (stored, not pending).
    pub credits_used: u64,
    /// The host's monthly credit limit.
    pub credit_limit: Option<u64>,
}

/// What the Team Integrations page reads of a workspace, at once.
#[derive(Debug, Default)]
pub struct TeamRecords {
    /// Enablements, by integration.
    pub enablements: HashMap<String, Enablement>,
    /// Shared credentials, by integration.
    pub credentials: HashMap<String, StoredCredential>,
    /// Members' connections, by integration.
    pub connections: HashMap<String, Vec<ConnectionRecord>>,
}

/// What the Integrations page reads for one member, at once.
#[derive(Debug, Default)]
pub struct MemberRecords {
    /// The workspace's enablements, by integration.
    pub enablements: HashMap<String, Enablement>,
    /// The integrations with a shared credential.
    pub with_credentials: HashSet<String>,
    /// The member's connections, by integration.
    pub connections: HashMap<String, Connection>,
}
