//! What the two pages show, as the API returns them: the Team
//! Integrations page (for admins and developers), the Integrations page
//! (for every member), and the usage report, with the words they offer.

use crate::model::{
    Account, Connection, ConnectionStatus, Enablement, IntegrationId, Mode, Permissions, Settings,
    UserId,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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

/// What the Integrations page offers for a user-mode integration: `Connect`
/// without a connection, `Disconnect` when it works, else the action that
/// fixes its status.
pub fn offered_action(connection: Option<&Connection>) -> Option<String> {
    match connection {
        None => Some("Connect".to_owned()),
        Some(c) if c.status == ConnectionStatus::Connected => Some("Disconnect".to_owned()),
        Some(c) => c.status.fix().map(str::to_owned),
    }
}

/// What the Integrations page says when nothing is enabled.
pub const EMPTY_STATE: &str = "No integrations are enabled for this workspace yet. Ask an admin to enable the ones your team needs.";

/// A shared credential as the Team Integrations page shows it: that it is
/// set, whose account, when it was checked. Never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CredentialSummary {
    /// Whose account it is, as the service reported at the last check.
    pub account: Account,
    /// Who set it.
    pub set_by: UserId,
    /// When it was set (Unix milliseconds).
    pub set_at_ms: u64,
    /// When the service last accepted it (Unix milliseconds).
    pub checked_at_ms: u64,
    /// The workspace's settings it was checked with (a subdomain): other
    /// settings that send credentials elsewhere remove it. `None` for one
    /// saved before they were kept.
    pub checked_with: Option<Settings>,
}

/// One row of the Team Integrations page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TeamIntegration {
    /// The integration's id, as used in the API's paths.
    pub id: IntegrationId,
    /// Its display name, e.g. `Semrush`.
    pub name: String,
    /// What it does, from its plugin's manifest.
    pub description: String,
    /// Its plugin's version: an approval names it, so that what is
    /// approved is what was shown.
    pub version: String,
    /// The modes it supports.
    pub modes: Vec<Mode>,
    /// What enabling it asks an admin to approve, one entry per mode:
    /// where its credential will be sent, and every host it may call.
    pub permissions: Vec<Permissions>,
    /// `None` when disabled.
    pub enabled: Option<Enablement>,
    /// What the plugin now asks for beyond what was approved (after an
    /// upgrade); while not empty, its calls are refused until an admin
    /// enables it again in the same mode.
    pub needs_approval: Vec<String>,
    /// For workspace mode: the shared credential, if set.
    pub credential: Option<CredentialSummary>,
    /// Members' connections a disable would suspend: every one not
    /// suspended already (connected, or needing a new sign-in).
    pub active_connections: u64,
}

/// A user-mode integration on the Integrations page, with my connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserIntegration {
    /// The integration's id, as used in the API's paths.
    pub id: IntegrationId,
    /// Its display name, e.g. `Semrush`.
    pub name: String,
    /// What it does, from its plugin's manifest.
    pub description: String,
    /// The requesting member's connection to it; `None` if they have not
    /// connected.
    pub connection: Option<Connection>,
    /// What the page offers: `Connect`, `Disconnect` when connected,
    /// `Reconnect`, or what to ask for when suspended.
    pub action: Option<String>,
}

/// A workspace-mode integration on the Integrations page: view-only, usable
/// without signing in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorkspaceIntegration {
    /// The integration's id, as used in the API's paths.
    pub id: IntegrationId,
    /// Its display name, e.g. `Semrush`.
    pub name: String,
    /// What it does, from its plugin's manifest.
    pub description: String,
    /// False until an admin sets the shared credential.
    pub ready: bool,
}

/// The Integrations page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IntegrationsPage {
    /// Enabled user-mode integrations, each with the requesting member's
    /// connection.
    pub user_integrations: Vec<UserIntegration>,
    /// Enabled workspace-mode integrations, used through the shared credential.
    pub workspace_integrations: Vec<WorkspaceIntegration>,
    /// Shown when both sections are empty.
    pub empty_state: Option<String>,
}

/// Calls and credits of one member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MemberUsage {
    /// The member.
    pub user: UserId,
    /// Actions the member ran successfully in the period.
    pub calls: u64,
    /// Credits those calls cost.
    pub credits: u64,
}

/// Usage of one integration over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IntegrationUsage {
    /// The integration.
    pub integration: IntegrationId,
    /// Members whose connection is connected now (not over the period).
    pub connected_members: u64,
    /// Actions run successfully in the period, all members together.
    pub calls: u64,
    /// Credits those calls cost, all members together.
    pub credits: u64,
    /// Calls and credits of each member who made any.
    pub members: Vec<MemberUsage>,
}
