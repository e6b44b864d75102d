//! What admins set up for their workspace: enabling an integration in one
//! mode, disabling it (which suspends every member's connection), and the
//! shared credential of a workspace-mode integration.

use super::{Engine, entry, facts, now_ms};
use crate::audit::Outcome;
use crate::model::{
    Account, Actor, Connection, ConnectionStatus, Enablement, Event, EventKind, IntegrationId,
    Manifest, Mode, Settings,
};
use crate::pasted::PastedKey;
use crate::plugins::Plugin;
use crate::policy::{Operation, Query, Target};
use crate::store::{StoredConnection, StoredCredential, Write};
use crate::{Error, Result};

impl Engine {
    /// Enables an integration that has no settings in one mode; see
    /// [`Engine::enable_with`].
    pub fn enable(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        mode: Mode,
    ) -> Result<Enablement> {
        self.enable_with(actor, integration, mode, &Settings::new())
    }

    /// Enables an integration in one mode, with the settings of the
    /// workspace's install (a subdomain), checked against the manifest.
    /// Enabling again in the same mode approves what the plugin asks for
    /// now, and replaces the settings if any are given. The policies decide
    /// on the state read in the same write transaction, so two enables
    /// racing in different modes cannot both succeed. Enabling user mode
    /// restores the members' suspended connections.
    pub fn enable_with(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        mode: Mode,
        settings: &Settings,
    ) -> Result<Enablement> {
        let plugin = &self.plugin(integration)?;
        let supported = plugin.manifest().supported_modes();
        let permissions = plugin.manifest().permissions(mode);
        let workspace = actor.workspace.as_str();
        let mut restored = Vec::new();
        let mut detail = permissions
            .as_ref()
            .map_or_else(|| format!("{mode} mode"), |p| p.summary());
        if !settings.is_empty() {
            let given: Vec<String> = settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
            detail.push_str(&format!("; settings {}", given.join(", ")));
        }
        let checked = |settings: &Settings| {
            plugin
                .check_settings(settings)
                .map_err(|faults| Error::InvalidSettings(faults.join("; ")))
        };
        let mut retired = Vec::new();
        let enablement = self.audited(actor, "enable", Some(integration), Some(detail), |w| {
            let current = w.enablement(workspace, integration.as_str())?;
            let before = current
                .as_ref()
                .map(|e| e.settings.clone())
                .unwrap_or_default();
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
            let permissions = permissions.clone().ok_or_else(|| Error::ModeNotSupported {
                integration: integration.clone(),
                mode,
            })?;
            let given = (!settings.is_empty())
                .then(|| checked(settings))
                .transpose()?;
            let enablement = match current {
                Some(current) if current.mode == mode => match given {
                    // New settings change only the settings: what the
                    // admin approved stays as it was, an upgrade that
                    // asks for more still waits for its approval.
                    Some(settings) if settings != current.settings => Enablement {
                        settings,
                        ..current
                    },
                    // Enabling again in the same mode approves what the
                    // plugin asks for now, with its settings checked
                    // against it again.
                    _ => {
                        checked(&current.settings)?;
                        if current.approved.as_ref() == Some(&permissions) {
                            return Ok(current);
                        }
                        Enablement {
                            approved: Some(permissions.clone()),
                            ..current
                        }
                    }
                },
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
                    approved: Some(permissions.clone()),
                    settings: match given {
                        Some(settings) => settings,
                        None => checked(&Settings::new())?,
                    },
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
            retired =
                self.retire_moved_credentials(w, actor, plugin, &before, &enablement.settings)?;
            // One the settings moved while it was suspended comes back
            // needing a new connection: announced as that, not as restored.
            let moved_away = Some(settings_changed(plugin));
            for connection in std::mem::take(&mut restored) {
                if retired.iter().any(|c| c.id == connection.id) {
                    continue;
                }
                match connection.status == ConnectionStatus::NeedsReauth
                    && connection.status_reason == moved_away
                {
                    true => retired.push(connection),
                    false => restored.push(connection),
                }
            }
            Ok(enablement)
        })?;
        // What is approved now; a later upgrade that asks for more is
        // announced afresh.
        self.announced_approvals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(w, i, _)| (w.as_str(), i.as_str()) != (workspace, integration.as_str()));
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
        if !retired.is_empty() {
            self.publish(Event {
                reason: Some(settings_changed(plugin)),
                ..event(actor, integration, EventKind::NeedsReauth, &retired)
            });
        }
        Ok(enablement)
    }

    /// Where a credential goes follows the settings, so one checked with
    /// other settings would now reach another account's hosts (another
    /// `{subdomain}`). Before anything is sent there, the shared credential
    /// it moves is removed, and each member whose connection it moves is
    /// asked to connect again: those connections are returned. A record
    /// from before the settings were kept is taken as checked with `before`.
    fn retire_moved_credentials(
        &self,
        w: &mut dyn Write,
        actor: &Actor,
        plugin: &Plugin,
        before: &Settings,
        settings: &Settings,
    ) -> Result<Vec<Connection>> {
        if !plugin.credentials_follow_settings() {
            return Ok(Vec::new());
        }
        let integration = &plugin.manifest().id;
        let (workspace, id) = (actor.workspace.as_str(), integration.as_str());
        let moves = |mode, checked_with: &Option<Settings>| {
            plugin.moves_credential(mode, checked_with.as_ref().unwrap_or(before), settings)
        };
        if let Some(shared) = w.workspace_credential(workspace, id)?
            && moves(Mode::Workspace, &shared.checked_with)
        {
            w.set_workspace_credential(workspace, id, None)?;
            let why = format!(
                "by the settings change: it was checked with other {} settings",
                plugin.manifest().name
            );
            let removal = entry(
                actor,
                "remove_workspace_credential",
                Some(integration),
                Outcome::Allowed,
                Some(why),
            );
            w.audit(&actor.workspace, now_ms(), removal)?;
        }
        let mut retired = Vec::new();
        for mut stored in w.connections(workspace, id)? {
            let status = &mut stored.connection.status;
            // One suspended comes back needing a new connection, unannounced:
            // its member cannot connect while the integration is not in
            // user mode.
            let (now, announced) = match status {
                ConnectionStatus::Suspended => {
                    (stored.suspended_from.get_or_insert(*status), false)
                }
                _ => (status, true),
            };
            if *now == ConnectionStatus::NeedsReauth || !moves(Mode::User, &stored.checked_with) {
                continue;
            }
            *now = ConnectionStatus::NeedsReauth;
            stored.connection.status_reason = Some(settings_changed(plugin));
            w.put_connection(&stored)?;
            if announced {
                retired.push(stored.connection);
            }
        }
        Ok(retired)
    }

    /// Disables an integration: calls through it are refused at once, every
    /// member's connection is suspended (not deleted), and an event names
    /// the connections and members affected.
    pub fn disable(&self, actor: &Actor, integration: &IntegrationId) -> Result<()> {
        let plugin = &self.plugin(integration)?;
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
            let Some(current) = current else {
                return Err(Error::NotEnabled(integration.clone()));
            };
            w.set_enablement(workspace, integration.as_str(), None)?;
            // The settings go with the enablement: a credential from before
            // they were kept is taken as checked with these.
            let follows = plugin.credentials_follow_settings();
            if follows
                && let Some(mut shared) = w.workspace_credential(workspace, integration.as_str())?
                && shared.checked_with.is_none()
            {
                shared.checked_with = Some(current.settings.clone());
                w.set_workspace_credential(workspace, integration.as_str(), Some(&shared))?;
            }
            for mut stored in w.connections(workspace, integration.as_str())? {
                let unstamped = follows && stored.checked_with.is_none();
                if unstamped {
                    stored.checked_with = Some(current.settings.clone());
                }
                if stored.connection.status != ConnectionStatus::Suspended {
                    stored.suspended_from = Some(stored.connection.status);
                    stored.connection.status = ConnectionStatus::Suspended;
                    w.put_connection(&stored)?;
                    suspended.push(stored.connection);
                } else if unstamped {
                    w.put_connection(&stored)?;
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
        let plugin = &self.plugin(integration)?;
        self.authorize_credential_change(actor, integration, OPERATION)?;
        self.approved_now(actor, plugin)?;
        let secret = &key.secret_for(plugin.manifest().auth(Mode::Workspace))?;
        let settings = self.settings_now(actor, plugin)?;
        let account = self
            .checked(
                actor,
                OPERATION,
                plugin,
                (Mode::Workspace, &settings),
                secret.clone(),
            )
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
            checked_with: Some(settings.clone()),
        };
        let workspace = actor.workspace.as_str();
        self.audited_check(actor, OPERATION, integration, &account, |w| {
            still_where_checked(w, plugin, workspace, (Mode::Workspace, &settings))?;
            w.set_workspace_credential(workspace, integration.as_str(), Some(&stored))?;
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
        let plugin = &self.plugin(integration)?;
        self.authorize_credential_change(actor, integration, OPERATION)?;
        self.approved_now(actor, plugin)?;
        let (workspace, id) = (actor.workspace.as_str(), integration.as_str());
        let (stored, enablement) = self.store.read(|r| {
            Ok((
                r.workspace_credential(workspace, id)?,
                r.enablement(workspace, id)?,
            ))
        })?;
        let settings = enablement.map(|e| e.settings).unwrap_or_default();
        // One checked for another account is not sent to this one's hosts.
        let stored = stored
            .filter(|c| !moved(plugin, Mode::Workspace, c.checked_with.as_ref(), &settings))
            .ok_or_else(|| Error::NoWorkspaceCredential(integration.clone()))?;
        let secret = self.credentials.open_workspace_credential(
            &actor.workspace,
            integration,
            &stored.sealed,
        )?;
        let account = self
            .checked(
                actor,
                OPERATION,
                plugin,
                (Mode::Workspace, &settings),
                secret,
            )
            .await?;
        self.audited_check(actor, OPERATION, integration, &account, |w| {
            still_where_checked(w, plugin, workspace, (Mode::Workspace, &settings))?;
            // Only the check's result changes; a concurrent replacement wins.
            if let Some(mut current) = w
                .workspace_credential(workspace, id)?
                .filter(|c| c.sealed == stored.sealed)
            {
                current.account = account.clone();
                current.checked_at_ms = now_ms();
                current.checked_with = Some(settings);
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

impl Engine {
    /// Refuses with [`Error::VersionChanged`] when the loaded plugin is not
    /// the version an admin was shown, before they approve what it asks.
    pub fn check_version(&self, integration: &IntegrationId, shown: &str) -> Result<()> {
        let loaded = self.plugin(integration)?.manifest().version.clone();
        if loaded == shown {
            return Ok(());
        }
        Err(Error::VersionChanged {
            integration: integration.clone(),
            shown: shown.to_owned(),
            loaded,
        })
    }

    /// Refuses to use an integration whose plugin now asks for more than
    /// was approved when it was enabled; the first refusal in a workspace
    /// is announced as an event.
    pub(super) fn approved(
        &self,
        actor: &Actor,
        plugin: &Plugin,
        enablement: Option<&Enablement>,
    ) -> Result<()> {
        let Some(enablement) = enablement else {
            return Ok(());
        };
        let manifest = plugin.manifest();
        let beyond = beyond_approval(manifest, enablement);
        if beyond.is_empty() {
            return Ok(());
        }
        // Once per ask: a later version asking for more again is announced.
        let first = self
            .announced_approvals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((
                actor.workspace.to_string(),
                manifest.id.to_string(),
                beyond.join("; "),
            ));
        if first {
            let mut announced = event(actor, &manifest.id, EventKind::NeedsApproval, &[]);
            announced.reason = Some(beyond.join("; "));
            self.publish(announced);
        }
        Err(Error::NeedsApproval {
            integration: manifest.id.clone(),
            asked: beyond,
        })
    }

    /// [`Engine::approved`], on the integration's enablement as stored now.
    pub(super) fn approved_now(&self, actor: &Actor, plugin: &Plugin) -> Result<()> {
        let (workspace, id) = (actor.workspace.as_str(), plugin.manifest().id.as_str());
        let enablement = self.store.read(|r| r.enablement(workspace, id))?;
        self.approved(actor, plugin, enablement.as_ref())
    }
}

/// What `manifest` asks for, in the enabled mode, beyond what the admin
/// approved; empty when it asks for the same or less.
pub(super) fn beyond_approval(manifest: &Manifest, enablement: &Enablement) -> Vec<String> {
    match (&enablement.approved, manifest.permissions(enablement.mode)) {
        (Some(approved), Some(asked)) => approved.beyond(&asked),
        (_, None) => vec![format!("no longer supports {} mode", enablement.mode)],
        (None, Some(_)) => vec![
            "an approval of where its credential goes, which this enablement predates".to_owned(),
        ],
    }
}

/// Whether a credential of `mode`, checked with `checked_with` (`None`:
/// from before the settings were kept), would go to other hosts under
/// `settings`.
pub(super) fn moved(
    plugin: &Plugin,
    mode: Mode,
    checked_with: Option<&Settings>,
    settings: &Settings,
) -> bool {
    checked_with.is_some_and(|was| plugin.moves_credential(mode, was, settings))
}

/// Why a connection made with other settings must be made again.
fn settings_changed(plugin: &Plugin) -> String {
    format!(
        "An admin changed {}'s settings since you connected: connect again",
        plugin.manifest().name
    )
}

/// What stands in the way of a call with my connection `stored` under
/// `settings`: its status, or settings that moved it; `None` if usable.
pub(super) fn unusable(
    plugin: &Plugin,
    stored: &StoredConnection,
    settings: &Settings,
) -> Option<Error> {
    let connection = &stored.connection;
    let (status, reason) = if connection.status != ConnectionStatus::Connected {
        (connection.status, connection.status_reason.clone())
    } else if moved(plugin, Mode::User, stored.checked_with.as_ref(), settings) {
        (
            ConnectionStatus::NeedsReauth,
            Some(settings_changed(plugin)),
        )
    } else {
        return None;
    };
    Some(Error::ConnectionUnusable {
        integration: connection.integration.clone(),
        status,
        reason: reason.unwrap_or_default(),
    })
}

/// Refuses to save a credential of `mode` checked with `checked_with` if an
/// admin has since changed the settings (read in the saving transaction)
/// so that it would go elsewhere.
pub(super) fn still_where_checked(
    w: &dyn Write,
    plugin: &Plugin,
    workspace: &str,
    (mode, checked_with): (Mode, &Settings),
) -> Result<()> {
    let integration = &plugin.manifest().id;
    // Disabled meanwhile: the next enable compares what it saves.
    let Some(enablement) = w.enablement(workspace, integration.as_str())? else {
        return Ok(());
    };
    match moved(plugin, mode, Some(checked_with), &enablement.settings) {
        true => Err(Error::SettingsChanged(integration.clone())),
        false => Ok(()),
    }
}

fn event(
    actor: &Actor,
    integration: &IntegrationId,
    kind: EventKind,
    connections: &[Connection],
) -> Event {
    Event {
        id: super::new_id("evt"),
        kind,
        workspace: actor.workspace.clone(),
        integration: integration.clone(),
        users: connections.iter().map(|c| c.owner.clone()).collect(),
        connections: connections.iter().map(|c| c.id.clone()).collect(),
        reason: None,
        at_ms: now_ms(),
    }
}
