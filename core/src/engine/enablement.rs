//! What admins set up for their workspace: enabling an integration in one
//! mode, disabling it (which suspends every member's connection), and the
//! shared credential of a workspace-mode integration.

use super::{Engine, facts, now_ms};
use crate::model::{
    Account, Actor, Connection, ConnectionStatus, Enablement, Event, EventKind, IntegrationId, Mode,
};
use crate::pasted::PastedKey;
use crate::policy::{Operation, Query, Target};
use crate::store::{StoredCredential, Write};
use crate::{Error, Result};

impl Engine {
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
                self.authorize(query)?;
                let enablement = match current {
                    Some(current) if current.mode == mode => return Ok(current),
                    // Policies may be edited; the one-mode invariant may not.
                    Some(current) => {
                        return Err(Error::AlreadyEnabled {
                            integration: integration.clone(),
                            active: current.mode,
                            requested: mode,
                        });
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
                Ok(enablement)
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
            self.authorize(query)?;
            if current.is_none() {
                return Err(Error::NotEnabled(integration.clone()));
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
            Ok(())
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
        key: &PastedKey,
    ) -> Result<Account> {
        const OPERATION: &str = "set_workspace_credential";
        let secret = key.secret();
        let plugin = self.plugin(integration)?;
        self.authorize_credential_change(actor, integration, OPERATION)?;
        let account = self
            .checked(actor, OPERATION, plugin, Mode::Workspace, secret.clone())
            .await?;
        let now = now_ms();
        let stored = StoredCredential {
            sealed: self.credentials.seal_workspace_credential(
                &actor.workspace,
                integration,
                secret,
            )?,
            account: account.clone(),
            set_by: actor.user.clone(),
            set_at_ms: now,
            checked_at_ms: now,
        };
        self.audited_check(actor, OPERATION, integration, &account, |w| {
            w.set_workspace_credential(
                actor.workspace.as_str(),
                integration.as_str(),
                Some(&stored),
            )?;
            Ok(())
        })?;
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
        let secret = self.credentials.open_workspace_credential(
            &actor.workspace,
            integration,
            &stored.sealed,
        )?;
        let account = self
            .checked(actor, OPERATION, plugin, Mode::Workspace, secret)
            .await?;
        self.audited_check(actor, OPERATION, integration, &account, |w| {
            // Only the check's result changes; a concurrent replacement wins.
            if let Some(mut current) = w
                .workspace_credential(workspace, id)?
                .filter(|c| c.sealed == stored.sealed)
            {
                current.account = account.clone();
                current.checked_at_ms = now_ms();
                w.set_workspace_credential(workspace, id, Some(&current))?;
            }
            Ok(())
        })?;
        Ok(account)
    }

    /// Records a shared credential's accepted check, and what it changes,
    /// in one audited transaction.
    fn audited_check(
        &self,
        actor: &Actor,
        operation: &str,
        integration: &IntegrationId,
        account: &Account,
        change: impl FnOnce(&mut dyn Write) -> Result<()>,
    ) -> Result<()> {
        let detail = Some(account.label.clone());
        self.audited(actor, operation, Some(integration), detail, change)
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
                return Err(Error::NoWorkspaceCredential(integration.clone()));
            }
            Ok(())
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
}

fn event(
    actor: &Actor,
    integration: &IntegrationId,
    kind: EventKind,
    connections: &[Connection],
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
