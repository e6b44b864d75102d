//! What people read: the Team Integrations page, the Integrations page,
//! usage, and the audit trail. Reads only; a denied read is audited.

use super::Engine;
use super::enablement::beyond_approval;
use crate::Result;
use crate::audit::{Filter, Page};
use crate::model::{Actor, ConnectionStatus, IntegrationId, Mode, UserId};
use crate::pages::{
    CredentialSummary, EMPTY_STATE, IntegrationUsage, IntegrationsPage, MemberUsage,
    TeamIntegration, UserIntegration, WorkspaceIntegration, offered_action,
};
use crate::policy::Operation;
use crate::usage::{DAY_MS, Tally};
use std::collections::BTreeMap;

impl Engine {
    /// Every available integration with its status, who enabled it and
    /// when, and for a shared credential whose it is and when it was checked.
    pub fn team_integrations(&self, actor: &Actor) -> Result<Vec<TeamIntegration>> {
        self.authorize_page(
            actor,
            Operation::ViewTeamIntegrations,
            "view_team_integrations",
        )?;
        let workspace = actor.workspace.as_str();
        let loaded = self.plugins.loaded();
        let manifests = || loaded.values().map(|p| p.manifest());
        let ids: Vec<&str> = manifests().map(|m| m.id.as_str()).collect();
        let key: Vec<&[u8]> = std::iter::once(workspace)
            .chain(ids.iter().copied())
            .map(str::as_bytes)
            .collect();
        let records = self
            .recent_team_pages
            .read(&self.store, &key, |r| r.team_records(workspace, &ids))?;
        let (enabled, credentials) = (&records.enablements, &records.credentials);
        let mut active: BTreeMap<_, u64> = records
            .connections
            .iter()
            .map(|(integration, connections)| {
                let live = connections
                    .iter()
                    .filter(|c| c.connection.status != ConnectionStatus::Suspended)
                    .count();
                (IntegrationId::new(integration.as_str()), live as u64)
            })
            .collect();
        Ok(manifests()
            .map(|m| {
                let enabled = enabled.get(m.id.as_str()).cloned();
                TeamIntegration {
                    id: m.id.clone(),
                    name: m.name.clone(),
                    description: m.description.clone(),
                    version: m.version.clone(),
                    modes: m.supported_modes(),
                    permissions: m
                        .supported_modes()
                        .into_iter()
                        .filter_map(|mode| m.permissions(mode))
                        .collect(),
                    needs_approval: enabled
                        .as_ref()
                        .map(|e| beyond_approval(m, e))
                        .unwrap_or_default(),
                    enabled,
                    active_connections: active.remove(&m.id).unwrap_or_default(),
                    credential: credentials.get(m.id.as_str()).map(|c| CredentialSummary {
                        account: c.account.clone(),
                        set_by: c.set_by.clone(),
                        set_at_ms: c.set_at_ms,
                        checked_at_ms: c.checked_at_ms,
                        checked_with: c.checked_with.clone(),
                    }),
                }
            })
            .collect())
    }

    /// The Integrations page: enabled user-mode integrations with my
    /// connection, and enabled workspace-mode ones (view-only). My
    /// connection suspended by a disable or a switch to workspace mode
    /// stays listed, suspended.
    pub fn user_integrations(&self, actor: &Actor) -> Result<IntegrationsPage> {
        self.authorize_page(actor, Operation::ViewIntegrations, "view_integrations")?;
        let workspace = actor.workspace.as_str();
        let (mut user_integrations, mut workspace_integrations) = (Vec::new(), Vec::new());
        let loaded = self.plugins.loaded();
        let manifests = || loaded.values().map(|p| p.manifest());
        let ids: Vec<&str> = manifests().map(|m| m.id.as_str()).collect();
        let user = actor.user.as_str();
        let key: Vec<&[u8]> = [workspace, user]
            .into_iter()
            .chain(ids.iter().copied())
            .map(str::as_bytes)
            .collect();
        let records = self.recent_pages.read(&self.store, &key, |r| {
            r.member_records(workspace, user, &ids)
        })?;
        for m in manifests() {
            let mut mine = records.connections.get(m.id.as_str()).cloned();
            let mode = records.enablements.get(m.id.as_str()).map(|e| e.mode);
            // Disabled (or switched to workspace mode), my connection
            // waits suspended: show it, so I know why it stopped, that
            // it comes back, and can drop it.
            if mode != Some(Mode::User)
                && let Some(suspended) = mine
                    .take()
                    .filter(|c| c.status == ConnectionStatus::Suspended)
            {
                user_integrations.push(UserIntegration {
                    id: m.id.clone(),
                    name: m.name.clone(),
                    description: m.description.clone(),
                    action: offered_action(Some(&suspended)),
                    connection: Some(suspended),
                });
            }
            match mode {
                Some(Mode::User) => {
                    let action = offered_action(mine.as_ref());
                    user_integrations.push(UserIntegration {
                        id: m.id.clone(),
                        name: m.name.clone(),
                        description: m.description.clone(),
                        connection: mine,
                        action,
                    });
                }
                Some(Mode::Workspace) => workspace_integrations.push(WorkspaceIntegration {
                    id: m.id.clone(),
                    name: m.name.clone(),
                    description: m.description.clone(),
                    ready: records.with_credentials.contains(m.id.as_str()),
                }),
                None => {}
            }
        }
        let empty_state = (user_integrations.is_empty() && workspace_integrations.is_empty())
            .then(|| EMPTY_STATE.to_owned());
        Ok(IntegrationsPage {
            user_integrations,
            workspace_integrations,
            empty_state,
        })
    }

    /// Per integration: connected members, and calls and credits per member
    /// and in total, for `[from_ms, to_ms)` (whole UTC days). Never a
    /// credential or a member's account details.
    pub fn usage(&self, actor: &Actor, from_ms: u64, to_ms: u64) -> Result<Vec<IntegrationUsage>> {
        self.authorize_page(actor, Operation::ViewUsage, "view_usage")?;
        self.flush_usage()?;
        let workspace = actor.workspace.as_str();
        let (counters, connected) = self.store.read(|r| {
            let counters = r.usage(workspace, from_ms / DAY_MS, to_ms.div_ceil(DAY_MS))?;
            let connected = self
                .plugins
                .loaded()
                .values()
                .map(|p| p.manifest())
                .map(|m| {
                    let count = r
                        .connection_records(workspace, m.id.as_str())?
                        .iter()
                        .filter(|c| c.connection.status == ConnectionStatus::Connected)
                        .count();
                    Ok((m.id.clone(), count as u64))
                })
                .collect::<std::result::Result<BTreeMap<_, _>, crate::store::StoreError>>()?;
            Ok((counters, connected))
        })?;
        let mut per_member: BTreeMap<IntegrationId, BTreeMap<UserId, Tally>> = BTreeMap::new();
        for (integration, user, _day, tally) in counters {
            per_member
                .entry(integration)
                .or_default()
                .entry(user)
                .or_default()
                .add(tally);
        }
        Ok(connected
            .into_iter()
            .map(|(integration, connected_members)| {
                let members: Vec<MemberUsage> = per_member
                    .remove(&integration)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(user, t)| MemberUsage {
                        user,
                        calls: t.calls,
                        credits: t.credits,
                    })
                    .collect();
                IntegrationUsage {
                    calls: members.iter().map(|m| m.calls).sum(),
                    credits: members.iter().map(|m| m.credits).sum(),
                    integration,
                    connected_members,
                    members,
                }
            })
            .collect())
    }

    /// The audit trail, newest first, filtered, a page at a time.
    pub fn audit(
        &self,
        actor: &Actor,
        filter: &Filter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Page> {
        self.authorize_page(actor, Operation::ViewAudit, "view_audit")?;
        Ok(self.store.read(|r| {
            r.audit_page(
                actor.workspace.as_str(),
                filter,
                before,
                limit.clamp(1, 500),
            )
        })?)
    }
}
