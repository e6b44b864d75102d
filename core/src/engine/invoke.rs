//! Using an integration: one action, run with the workspace credential or
//! my own connection, whichever mode is enabled, and metered. The path of
//! a call: facts → decision → credential → call → usage.

use super::credentials::CallCredential;
use super::enablement::{moved, unusable};
use super::{Engine, facts, now_ms};
use crate::metrics::CallPhase;
use crate::model::{Actor, ConnectorError, Enablement, IntegrationId, Mode, Settings};
use crate::plugins::{Credential, Plugin, PluginError, SandboxTimes};
use crate::policy::{Operation, Query, Target};
use crate::usage::{self, DAY_MS};
use crate::vault::Sealed;
use crate::{Error, Result};
use std::time::Instant;

/// What one snapshot of the store says about a call, read before deciding
/// so the decision and the credential it allows agree.
struct CallFacts {
    enablement: Option<Enablement>,
    credits_used: u64,
    credit_limit: Option<u64>,
    /// The sealed credential of the enabled mode, if any; why a connection
    /// is not usable as it stands is the error, once the policies allow.
    credential: Result<Option<Sealed>>,
}

impl Engine {
    /// Runs an action with the workspace credential or my own connection,
    /// whichever mode the integration is enabled in, and meters it.
    pub async fn invoke(
        &self,
        actor: &Actor,
        integration: &IntegrationId,
        action: &str,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        let plugin = &self.plugin(integration)?;
        let _turn = self.running.enter(actor)?;
        let now = now_ms();
        let month = usage::month_of_day(now / DAY_MS);
        let phase = Instant::now();
        let facts_now = self.call_facts(actor, plugin, month)?;
        self.metrics.call_phase(CallPhase::Store, phase.elapsed());
        let phase = Instant::now();
        let credit_cost = plugin
            .manifest()
            .action(action)
            .map(|a| a.credit_cost)
            .unwrap_or(0);
        let supported = plugin.manifest().supported_modes();
        let active = facts_now.enablement.as_ref().map(|e| e.mode);
        let query = Query {
            actor,
            operation: Operation::Invoke {
                action,
                credit_cost,
                credits_used: facts_now.credits_used,
                credit_limit: facts_now.credit_limit,
            },
            target: Target::Integration(facts(plugin, &supported, active)),
        };
        self.authorize_read(query, "invoke", Some(integration))?;
        self.approved(actor, plugin, facts_now.enablement.as_ref())?;
        self.metrics.call_phase(CallPhase::Decide, phase.elapsed());
        let mode = active.ok_or_else(|| Error::NotEnabled(integration.clone()))?;
        let sealed = match (mode, facts_now.credential) {
            (_, Err(unusable)) => return Err(unusable),
            (Mode::Workspace, Ok(None)) => {
                return Err(Error::NoWorkspaceCredential(integration.clone()));
            }
            (Mode::User, Ok(None)) => return Err(Error::NotConnected(integration.clone())),
            (_, Ok(Some(sealed))) => sealed,
        };
        let settings = facts_now.enablement.map(|e| e.settings).unwrap_or_default();
        let phase = Instant::now();
        let credential = self
            .credentials
            .for_call(actor, plugin, mode, sealed, &settings)
            .await?;
        self.metrics.call_phase(CallPhase::Unseal, phase.elapsed());
        let output = self
            .call_with(actor, plugin, (mode, &settings), credential, action, input)
            .await?;
        let key = usage::Key {
            workspace: actor.workspace.clone(),
            integration: integration.clone(),
            user: actor.user.clone(),
            day: now / DAY_MS,
        };
        self.meter.record(key, u64::from(credit_cost));
        Ok(output)
    }

    /// Reads, in one snapshot (or as a recent call read it, if nothing has
    /// changed since), the enablement, the month's credits and limit, and
    /// the credential of the enabled mode, unless it was checked with
    /// settings that sent it elsewhere.
    fn call_facts(&self, actor: &Actor, plugin: &Plugin, month: u64) -> Result<CallFacts> {
        let integration = &plugin.manifest().id;
        // Before the store sees them: the facts are read before the decision.
        actor.check()?;
        let (workspace, id, owner) = (
            actor.workspace.as_str(),
            integration.as_str(),
            actor.user.as_str(),
        );
        let key = [
            workspace.as_bytes(),
            id.as_bytes(),
            owner.as_bytes(),
            &month.to_le_bytes(),
        ];
        let records = self.recent_calls.read(&self.store, &key, |r| {
            r.call_records(workspace, id, owner, month)
        })?;
        let credential = match &records.enablement {
            Some(Enablement {
                mode: Mode::Workspace,
                settings,
                ..
            }) => Ok(records
                .workspace_credential
                .as_ref()
                .filter(|c| !moved(plugin, Mode::Workspace, c.checked_with.as_ref(), settings))
                .map(|c| c.sealed.clone())),
            Some(Enablement {
                mode: Mode::User,
                settings,
                ..
            }) => match &records.connection {
                Some(c) => match unusable(plugin, c, settings) {
                    Some(why) => Err(why),
                    None => Ok(Some(c.sealed.clone())),
                },
                None => Ok(None),
            },
            None => Ok(None),
        };
        let mut read = CallFacts {
            enablement: records.enablement.clone(),
            credits_used: records.credits_used,
            credit_limit: records.credit_limit,
            credential,
        };
        read.credits_used += self.meter.pending_credits(&actor.workspace, month);
        Ok(read)
    }

    /// Calls the plugin; when the service refuses the credential, an
    /// access token is refreshed and the call retried once.
    async fn call_with(
        &self,
        actor: &Actor,
        plugin: &Plugin,
        (mode, settings): (Mode, &Settings),
        credential: CallCredential,
        action: &str,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        let CallCredential {
            credential,
            refreshable,
        } = credential;
        let result = self
            .call_plugin(plugin, settings, credential, action, input)
            .await;
        let Err(PluginError::Connector {
            error: ConnectorError::Unauthorized { message },
            ..
        }) = &result
        else {
            return Ok(result?);
        };
        match self
            .credentials
            .refused(actor, plugin, mode, refreshable.as_ref(), message, settings)
            .await?
        {
            Some(fresh) => Ok(self
                .call_plugin(plugin, settings, fresh.credential, action, input)
                .await?),
            None => Ok(result?),
        }
    }

    /// Calls the plugin, timing and counting the call and its phases.
    async fn call_plugin(
        &self,
        plugin: &Plugin,
        settings: &Settings,
        credential: Credential,
        action: &str,
        input: &serde_json::Value,
    ) -> std::result::Result<serde_json::Value, PluginError> {
        let started = Instant::now();
        let mut times = SandboxTimes::default();
        let result = self
            .plugins
            .invoke_timed(
                plugin,
                settings,
                Some(credential),
                (action, input),
                &mut times,
            )
            .await;
        self.metrics.plugin_call(
            plugin.manifest().id.as_str(),
            result.is_ok(),
            started.elapsed(),
        );
        for (phase, took) in [
            (CallPhase::Checks, times.checks),
            (CallPhase::Instantiate, times.instantiate),
            (CallPhase::Guest, times.guest),
            (CallPhase::HostHttp, times.http),
        ] {
            // Zero: the call ended before the phase ran.
            if !took.is_zero() {
                self.metrics.call_phase(phase, took);
            }
        }
        result
    }
}
