//! Moving the state from one backend to another (`switchboard export` and
//! `import`): JSON lines, one record each, written and read through the
//! same [`Read`] and [`Write`] every backend implements, so any backend
//! moves to any other. Secrets stay sealed: the target must be opened with
//! the same master keys. Browser sessions and sign-ins in progress are not
//! moved (they last minutes); members sign in again.

use super::{Read, StoreError, StoredConnection, StoredCredential, Write};
use crate::audit::Record;
use crate::model::{Enablement, IntegrationId, UserId};
use crate::usage::{self, Tally};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// The format of an export; bump it when a record changes shape.
pub const EXPORT_FORMAT: u32 = 1;

/// The first line of an export.
#[derive(Debug, Serialize, Deserialize)]
pub struct Header {
    /// [`EXPORT_FORMAT`] of the release that wrote it.
    pub switchboard_export: u32,
}

/// One record of the state, one line of an export.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "table", rename_all = "snake_case")]
pub enum Item {
    /// An integration enabled in a workspace.
    #[allow(missing_docs)]
    Enablement {
        workspace: String,
        integration: String,
        enablement: Enablement,
    },
    /// A workspace's shared credential, sealed.
    #[allow(missing_docs)]
    WorkspaceCredential {
        workspace: String,
        integration: String,
        credential: StoredCredential,
    },
    /// A member's connection and its sealed credential.
    #[allow(missing_docs)]
    Connection { connection: StoredConnection },
    /// One audit record, with its place in its workspace's chain.
    #[allow(missing_docs)]
    Audit { record: Record },
    /// A member's use of an integration on one day.
    #[allow(missing_docs)]
    Usage {
        workspace: String,
        integration: IntegrationId,
        user: UserId,
        day: u64,
        tally: Tally,
    },
    /// A workspace's monthly credit limit.
    #[allow(missing_docs)]
    CreditLimit { workspace: String, limit: u64 },
}

/// How many records of each kind were moved.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Moved {
    /// Workspaces (each audit chain starts at 1).
    pub workspaces: usize,
    /// Integrations enabled in a workspace.
    pub enablements: usize,
    /// Workspaces' shared credentials.
    pub workspace_credentials: usize,
    /// Members' connections.
    pub connections: usize,
    /// Audit records.
    pub audit_records: usize,
    /// Usage counters (a member, an integration, a day).
    pub usage_days: usize,
    /// Monthly credit limits.
    pub credit_limits: usize,
}

impl Moved {
    pub(crate) fn count(&mut self, item: &Item) {
        match item {
            Item::Enablement { .. } => self.enablements += 1,
            Item::WorkspaceCredential { .. } => self.workspace_credentials += 1,
            Item::Connection { .. } => self.connections += 1,
            Item::Audit { record } => {
                self.audit_records += 1;
                self.workspaces += usize::from(record.seq == 1);
            }
            Item::Usage { .. } => self.usage_days += 1,
            Item::CreditLimit { .. } => self.credit_limits += 1,
        }
    }
}

/// Hands every record of one workspace to `each`. Every change is audited,
/// so the workspaces with audit trails are all the workspaces there are,
/// and the integrations their trails name are all those they used.
pub fn export_workspace(
    r: &dyn Read,
    workspace: &str,
    each: &mut dyn FnMut(Item) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let trail = r.audit_all(workspace)?;
    let integrations: BTreeSet<String> = trail
        .iter()
        .filter_map(|record| record.entry.integration.as_ref())
        .map(|id| id.as_str().to_owned())
        .collect();
    for (integration, enablement) in r.enablements_of(workspace)? {
        each(Item::Enablement {
            workspace: workspace.to_owned(),
            integration,
            enablement,
        })?;
    }
    for (integration, credential) in r.workspace_credentials_of(workspace)? {
        each(Item::WorkspaceCredential {
            workspace: workspace.to_owned(),
            integration,
            credential,
        })?;
    }
    for integration in &integrations {
        for connection in r.connections(workspace, integration)? {
            each(Item::Connection { connection })?;
        }
    }
    for (integration, user, day, tally) in r.usage(workspace, 0, u64::MAX)? {
        // Credits per month are these tallies summed: importing them
        // counts the credits again.
        each(Item::Usage {
            workspace: workspace.to_owned(),
            integration,
            user,
            day,
            tally,
        })?;
    }
    if let Some(limit) = r.credit_limit(workspace)? {
        each(Item::CreditLimit {
            workspace: workspace.to_owned(),
            limit,
        })?;
    }
    for record in trail {
        each(Item::Audit { record })?;
    }
    Ok(())
}

/// Writes one record into `w`.
pub fn import(w: &mut dyn Write, item: &Item) -> Result<(), StoreError> {
    match item {
        Item::Enablement {
            workspace,
            integration,
            enablement,
        } => w.set_enablement(workspace, integration, Some(enablement)),
        Item::WorkspaceCredential {
            workspace,
            integration,
            credential,
        } => w
            .set_workspace_credential(workspace, integration, Some(credential))
            .map(drop),
        Item::Connection { connection } => w.put_connection(connection),
        Item::Audit { record } => w.put_audit(record),
        Item::Usage {
            workspace,
            integration,
            user,
            day,
            tally,
        } => {
            let key = usage::Key {
                workspace: crate::model::WorkspaceId::new(workspace.as_str()),
                integration: integration.clone(),
                user: user.clone(),
                day: *day,
            };
            w.add_usage(&HashMap::from([(key, *tally)]))
        }
        Item::CreditLimit { workspace, limit } => w.set_credit_limit(workspace, Some(*limit)),
    }
}
