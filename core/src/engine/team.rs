//! The Team Integrations page (T1–T6): admins and developers.

use super::{Engine, facts, now_ms};
use crate::audit::{Filter, Page};
use crate::model::{
    Account, Actor, ConnectionStatus, CredentialSummary, Enablement, Event, EventKind,
    IntegrationId, IntegrationUsage, MemberUsage, Mode, TeamIntegration,
};
use crate::policy::{Operation, Query, Target};
use crate::store::{Read, StoredCredential};
use crate::usage::{DAY_MS, Tally};
use crate::vault::{Secret, SecretIdentity};
use crate::{Error, Result};
use std::collections::BTreeMap;

impl Engine {
    /// Every available integration with its status, who enabled it and
    /// when, and for a shared credential whose it is and when it was checked.
    pub fn team_integrations(&self, actor: &Actor) -> Result<Vec<TeamIntegration>> {
        self.authorize_read(
            Query {
                actor,
                operation: Operation::ViewTeamIntegrations,
                target: Target::Workspace,
            },
            "view_team_integrations",
            None,
        )?;
        let workspace = actor.workspace.as_str();
        let (mut enabled, mut credentials) = self.store.read(|r| {
            Ok((
                r.enablements_of(workspace)?,
                r.workspace_credentials_of(workspace)?,
            ))
        })?;
        Ok(self
            .plugins
            .manifests()
            .map(|m| TeamIntegration {
                id: m.id.clone(),
                name: m.name.clone(),
                description: m.description.clone(),
                modes: m.supported_modes(),
                enabled: enabled.remove(m.id.as_str()),
                credential: credentials
                    .remove(m.id.as_str())
                    .map(|c| CredentialSummary {
                        account: c.account,
                        set_by: c.set_by,
                        set_at_ms: c.set_at_ms,
                        checked_at_ms: c.checked_at_ms,
                    }),
            })
            .collect())
    }

    /// Enables an integration in one mode. The policies decide on the state
    /// read in the same write transaction, so two enables racing in
    /// different modes cannot both succeed. Enabling user mode restores the
    /// members' suspended connections.
    pub fn enable(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        mode: Mode,
    ) -> Result<Enablement> {
        let plugin = self.plugin(integration)?;
        let supported = plugin.manifest().supported_modes();
        let workspace = actor.workspace.as_str();
        let mut restored = Vec::new();
        let enablement = self.audited(
            actor,
            "enable",
            Some(integration),
            Some(format!("{mode} mode")),
            |w| {
                let current = w.enablement(workspace, integration.as_str())?;
                let query = Query {
                    actor,
                    operation: Operation::Enable { mode },
                    target: Target::Integration(facts(
                        plugin,
                        &supported,
                        current.as_ref().map(|e| e.mode),
                    )),
                };
                if let Err(denied) = self.authorize(query) {
                    return Ok(Err(denied));
                }
                let enablement = match current {
                    Some(current) if current.mode == mode => return Ok(Ok(current)),
                    // Policies may be edited; the one-mode invariant may not.
                    Some(current) => {
                        return Ok(Err(Error::AlreadyEnabled {
                            integration: integration.clone(),
                            active: current.mode,
                            requested: mode,
                        }));
                    }
                    None => Enablement {
                        mode,
                        enabled_by: actor.user.clone(),
                        enabled_at_ms: now_ms(),
                    },
                };
                w.set_enablement(workspace, integration.as_str(), Some(&enablement))?;
                if mode == Mode::User {
                    for mut stored in w.connections(workspace, integration.as_str())? {
                        if let Some(previous) = stored.suspended_from.take() {
                            stored.connection.status = previous;
                            w.put_connection(&stored)?;
                            restored.push(stored.connection);
                        }
                    }
                }
                Ok(Ok(enablement))
            },
        )?;
        self.publish(event(
            actor,
            integration,
            EventKind::IntegrationEnabled,
            &[],
        ));
        if !restored.is_empty() {
            self.publish(event(
                actor,
                integration,
                EventKind::ConnectionsRestored,
                &restored,
            ));
        }
        Ok(enablement)
    }

    /// Disables an integration: calls through it are refused at once, every
    /// member's connection is suspended (not deleted), and an event names
    /// the connections and members affected.
    pub fn disable(&self, actor: &Actor, integration: &IntegrationId) -> Result<()> {
        let plugin = self.plugin(integration)?;
        let supported = plugin.manifest().supported_modes();
        let workspace = actor.workspace.as_str();
        let mut suspended = Vec::new();
        self.audited(actor, "disable", Some(integration), None, |w| {
            let current = w.enablement(workspace, integration.as_str())?;
            let query = Query {
                actor,
                operation: Operation::Disable,
                target: Target::Integration(facts(
                    plugin,
                    &supported,
                    current.as_ref().map(|e| e.mode),
                )),
            };
            if let Err(denied) = self.authorize(query) {
                return Ok(Err(denied));
            }
            if current.is_none() {
                return Ok(Err(Error::NotEnabled(integration.clone())));
            }
            w.set_enablement(workspace, integration.as_str(), None)?;
            for mut stored in w.connections(workspace, integration.as_str())? {
                if stored.connection.status != ConnectionStatus::Suspended {
                    stored.suspended_from = Some(stored.connection.status);
                    stored.connection.status = ConnectionStatus::Suspended;
                    w.put_connection(&stored)?;
                    suspended.push(stored.connection);
                }
            }
            Ok(Ok(()))
        })?;
        self.publish(event(
            actor,
            integration,
            EventKind::IntegrationDisabled,
            &suspended,
        ));
        Ok(())
    }

    /// Checks a shared credential against the service, then seals and saves
    /// it (replacing any other). A refused credential is not stored.
    pub async fn set_workspace_credential(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        secret: Secret,
    ) -> Result<Account> {
        const OPERATION: &str = "set_workspace_credential";
        let plugin = self.plugin(integration)?;
        self.authorize_credential_change(actor, integration, OPERATION)?;
        let account = self
            .checked(actor, OPERATION, plugin, Mode::Workspace, secret.clone())
            .await?;
        let now = now_ms();
        let stored = StoredCredential {
            sealed: self.vault.seal(
                &secret,
                SecretIdentity::workspace_credential(
                    actor.workspace.as_str(),
                    integration.as_str(),
                ),
            )?,
            account: account.clone(),
            set_by: actor.user.clone(),
            set_at_ms: now,
            checked_at_ms: now,
        };
        self.audited(
            actor,
            OPERATION,
            Some(integration),
            Some(account.label.clone()),
            |w| {
                w.set_workspace_credential(
                    actor.workspace.as_str(),
                    integration.as_str(),
                    Some(&stored),
                )?;
                Ok(Ok(()))
            },
        )?;
        Ok(account)
    }

    /// Checks the stored shared credential again and records the result.
    pub async fn recheck_workspace_credential(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
    ) -> Result<Account> {
        const OPERATION: &str = "recheck_workspace_credential";
        let plugin = self.plugin(integration)?;
        self.authorize_credential_change(actor, integration, OPERATION)?;
        let (workspace, id) = (actor.workspace.as_str(), integration.as_str());
        let stored = self
            .store
            .read(|r| r.workspace_credential(workspace, id))?
            .ok_or_else(|| Error::NoWorkspaceCredential(integration.clone()))?;
        let secret = self.vault.open_secret(
            &stored.sealed,
            SecretIdentity::workspace_credential(workspace, id),
        )?;
        let account = self
            .checked(actor, OPERATION, plugin, Mode::Workspace, secret)
            .await?;
        self.audited(
            actor,
            OPERATION,
            Some(integration),
            Some(account.label.clone()),
            |w| {
                // Only the check's result changes; a concurrent replacement wins.
                if let Some(mut current) = w
                    .workspace_credential(workspace, id)?
                    .filter(|c| c.sealed == stored.sealed)
                {
                    current.account = account.clone();
                    current.checked_at_ms = now_ms();
                    w.set_workspace_credential(workspace, id, Some(&current))?;
                }
                Ok(Ok(()))
            },
        )?;
        Ok(account)
    }

    /// Removes the shared credential.
    pub fn remove_workspace_credential(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
    ) -> Result<()> {
        const OPERATION: &str = "remove_workspace_credential";
        self.plugin(integration)?;
        self.authorize_credential_change(actor, integration, OPERATION)?;
        self.audited(actor, OPERATION, Some(integration), None, |w| {
            if !w.set_workspace_credential(actor.workspace.as_str(), integration.as_str(), None)? {
                return Ok(Err(Error::NoWorkspaceCredential(integration.clone())));
            }
            Ok(Ok(()))
        })
    }

    fn authorize_credential_change(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        operation: &str,
    ) -> Result<()> {
        self.authorize_on(
            actor,
            integration,
            Operation::ConfigureWorkspaceCredential,
            operation,
        )
    }

    /// Per integration: connected members, and calls and credits per member
    /// and in total, for `[from_ms, to_ms)` (whole UTC days). Never a
    /// credential or a member's account details.
    pub fn usage(&self, actor: &Actor, from_ms: u64, to_ms: u64) -> Result<Vec<IntegrationUsage>> {
        self.authorize_read(
            Query {
                actor,
                operation: Operation::ViewUsage,
                target: Target::Workspace,
            },
            "view_usage",
            None,
        )?;
        self.flush_usage()?;
        let workspace = actor.workspace.as_str();
        let (counters, connected) = self.store.read(|r| {
            let counters = r.usage(workspace, from_ms / DAY_MS, to_ms.div_ceil(DAY_MS))?;
            let connected = self
                .plugins
                .manifests()
                .map(|m| {
                    let count = r
                        .connections(workspace, m.id.as_str())?
                        .iter()
                        .filter(|c| c.connection.status == ConnectionStatus::Connected)
                        .count();
                    Ok((m.id.clone(), count as u64))
                })
                .collect::<std::result::Result<BTreeMap<_, _>, crate::store::StoreError>>()?;
            Ok((counters, connected))
        })?;
        let mut per_member: BTreeMap<IntegrationId, BTreeMap<crate::model::UserId, Tally>> =
            BTreeMap::new();
        for (integration, user, tally) in counters {
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
        self.authorize_read(
            Query {
                actor,
                operation: Operation::ViewAudit,
                target: Target::Workspace,
            },
            "view_audit",
            None,
        )?;
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

fn event(
    actor: &Actor,
    integration: &IntegrationId,
    kind: EventKind,
    connections: &[crate::model::Connection],
) -> Event {
    Event {
        kind,
        workspace: actor.workspace.clone(),
        integration: integration.clone(),
        users: connections.iter().map(|c| c.owner.clone()).collect(),
        connections: connections.iter().map(|c| c.id.clone()).collect(),
        reason: None,
        at_ms: now_ms(),
    }
}
