//! What the two pages show, as the API returns them: the Team
//! Integrations page (for admins and developers), the Integrations page
//! (for every member), and the usage report, with the words they offer.

use crate::model::{Account, Connection, Enablement, IntegrationId, Mode, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the Integrations page says when nothing is enabled.
pub const EMPTY_STATE: &str = "No integrations are enabled for this workspace yet. Ask an admin to enable the ones your team needs.";

/// A shared credential as the Team Integrations page shows it: that it is
/// set, whose account, when it was checked. Never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CredentialSummary {
    pub account: Account,
    pub set_by: UserId,
    pub set_at_ms: u64,
    pub checked_at_ms: u64,
}

/// One row of the Team Integrations page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TeamIntegration {
    pub id: IntegrationId,
    pub name: String,
    pub description: String,
    pub modes: Vec<Mode>,
    /// `None` when disabled.
    pub enabled: Option<Enablement>,
    /// For workspace mode: the shared credential, if set.
    pub credential: Option<CredentialSummary>,
}

/// A user-mode integration on the Integrations page, with my connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserIntegration {
    pub id: IntegrationId,
    pub name: String,
    pub description: String,
    pub connection: Option<Connection>,
    /// What the page offers: `Connect`, `Reconnect`, or nothing when connected.
    pub action: Option<String>,
}

/// A workspace-mode integration on the Integrations page: view-only, usable
/// without signing in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorkspaceIntegration {
    pub id: IntegrationId,
    pub name: String,
    pub description: String,
    /// False until an admin sets the shared credential.
    pub ready: bool,
}

/// The Integrations page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IntegrationsPage {
    pub user_integrations: Vec<UserIntegration>,
    pub workspace_integrations: Vec<WorkspaceIntegration>,
    /// Shown when both sections are empty.
    pub empty_state: Option<String>,
}

/// Calls and credits of one member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MemberUsage {
    pub user: UserId,
    pub calls: u64,
    pub credits: u64,
}

/// Usage of one integration over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IntegrationUsage {
    pub integration: IntegrationId,
    pub connected_members: u64,
    pub calls: u64,
    pub credits: u64,
    pub members: Vec<MemberUsage>,
}
