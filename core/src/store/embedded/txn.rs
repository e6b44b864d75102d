//! [`Read`] and [`Write`] over redb transactions.

use super::tables::*;
use crate::audit::{Entry, Filter, Page, Record};
use crate::model::{ConnectionId, Enablement, IntegrationId, UserId, WorkspaceId};
use crate::store::codec::{decode, encode};
use crate::store::{
    ConnectionRecord, Flow, Read, SealedRef, SessionRecord, StoreError, StoredConnection,
    StoredCredential, Write,
};
use crate::usage::{self, Tally};
use crate::vault::Sealed;
use redb::{ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A read transaction: one consistent snapshot.
pub(super) struct Snapshot(pub(super) ReadTransaction);

/// A write transaction; dropped without [`Write::commit`], it rolls back.
pub(super) struct Transaction(pub(super) WriteTransaction);

/// Opens tables in either kind of transaction, so every read is written once.
trait Tables {
    fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        definition: TableDefinition<K, V>,
    ) -> Result<impl ReadableTable<K, V> + '_, StoreError>;
}

impl Tables for Snapshot {
    fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        definition: TableDefinition<K, V>,
    ) -> Result<impl ReadableTable<K, V> + '_, StoreError> {
        Ok(self.0.open_table(definition)?)
    }
}

impl Tables for Transaction {
    fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        definition: TableDefinition<K, V>,
    ) -> Result<impl ReadableTable<K, V> + '_, StoreError> {
        Ok(self.0.open_table(definition)?)
    }
}

fn decoded<T: DeserializeOwned>(
    name: &'static str,
    value: Option<redb::AccessGuard<'_, &'static [u8]>>,
) -> Result<Option<T>, StoreError> {
    value.map(|v| decode(name, v.value())).transpose()
}

/// A table keyed by (workspace, integration, owner).
trait ConnectionTable:
    ReadableTable<(&'static str, &'static str, &'static str), &'static [u8]>
{
}

impl<T> ConnectionTable for T where
    T: ReadableTable<(&'static str, &'static str, &'static str), &'static [u8]>
{
}

/// A connection record with its credential from `CONNECTION_SECRETS`.
fn with_secret(
    secrets: &impl ConnectionTable,
    key: (&str, &str, &str),
    record: ConnectionRecord,
) -> Result<StoredConnection, StoreError> {
    let sealed =
        decoded("connection_secrets", secrets.get(key)?)?.ok_or_else(|| StoreError::Corrupt {
            table: "connection_secrets",
            reason: format!("no credential for the connection {}", record.connection.id),
        })?;
    Ok(StoredConnection {
        connection: record.connection,
        sealed,
        suspended_from: record.suspended_from,
        checked_with: record.checked_with,
    })
}

/// What `read` makes of each value of a table keyed by (workspace,
/// integration), for one workspace, by integration: one range scan, however
/// many integrations there are.
fn by_integration<T>(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    workspace: &str,
    mut read: impl FnMut(&[u8]) -> Result<T, StoreError>,
) -> Result<HashMap<String, T>, StoreError> {
    let mut out = HashMap::new();
    for item in table.range((workspace, "")..)? {
        let (key, value) = item?;
        let (ws, integration) = key.value();
        if ws != workspace {
            break;
        }
        out.insert(integration.to_owned(), read(value.value())?);
    }
    Ok(out)
}

impl<T: Tables> Read for T {
    fn enablement(
        &self,
        workspace: &str,
        integration: &str,
    ) -> Result<Option<Enablement>, StoreError> {
        decoded(
            "enablements",
            self.table(ENABLEMENTS)?.get((workspace, integration))?,
        )
    }

    fn enablements_of(&self, workspace: &str) -> Result<HashMap<String, Enablement>, StoreError> {
        by_integration(&self.table(ENABLEMENTS)?, workspace, |v| {
            decode("enablements", v)
        })
    }

    fn workspace_credential(
        &self,
        workspace: &str,
        integration: &str,
    ) -> Result<Option<StoredCredential>, StoreError> {
        decoded(
            "workspace_credentials",
            self.table(WORKSPACE_CREDENTIALS)?
                .get((workspace, integration))?,
        )
    }

    fn workspace_credentials_of(
        &self,
        workspace: &str,
    ) -> Result<HashMap<String, StoredCredential>, StoreError> {
        by_integration(&self.table(WORKSPACE_CREDENTIALS)?, workspace, |v| {
            decode("workspace_credentials", v)
        })
    }

    fn integrations_with_credentials(
        &self,
        workspace: &str,
    ) -> Result<HashSet<String>, StoreError> {
        Ok(
            by_integration(&self.table(WORKSPACE_CREDENTIALS)?, workspace, |_| Ok(()))?
                .into_keys()
                .collect(),
        )
    }

    fn connection_of(
        &self,
        workspace: &str,
        integration: &str,
        owner: &str,
    ) -> Result<Option<StoredConnection>, StoreError> {
        let key = (workspace, integration, owner);
        match self.connection_record(workspace, integration, owner)? {
            Some(record) => with_secret(&self.table(CONNECTION_SECRETS)?, key, record).map(Some),
            None => Ok(None),
        }
    }

    fn connection_record(
        &self,
        workspace: &str,
        integration: &str,
        owner: &str,
    ) -> Result<Option<ConnectionRecord>, StoreError> {
        decoded(
            "connections",
            self.table(CONNECTIONS)?
                .get((workspace, integration, owner))?,
        )
    }

    fn connection(&self, id: &ConnectionId) -> Result<Option<StoredConnection>, StoreError> {
        let key: Option<(String, String, String)> = decoded(
            "connection_ids",
            self.table(CONNECTION_IDS)?.get(id.as_str())?,
        )?;
        match key {
            Some((ws, integ, owner)) => self.connection_of(&ws, &integ, &owner),
            None => Ok(None),
        }
    }

    fn connections(
        &self,
        workspace: &str,
        integration: &str,
    ) -> Result<Vec<StoredConnection>, StoreError> {
        let secrets = self.table(CONNECTION_SECRETS)?;
        self.connection_records(workspace, integration)?
            .into_iter()
            .map(|record| {
                let owner = record.connection.owner.clone();
                with_secret(&secrets, (workspace, integration, owner.as_str()), record)
            })
            .collect()
    }

    fn connection_records(
        &self,
        workspace: &str,
        integration: &str,
    ) -> Result<Vec<ConnectionRecord>, StoreError> {
        let records = self.table(CONNECTIONS)?;
        let mut out = Vec::new();
        for item in records.range((workspace, integration, "")..)? {
            let (key, value) = item?;
            let (ws, integ, _) = key.value();
            if ws != workspace || integ != integration {
                break;
            }
            out.push(decode("connections", value.value())?);
        }
        Ok(out)
    }

    fn audit_page(
        &self,
        workspace: &str,
        filter: &Filter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let table = self.table(AUDIT)?;
        let upper = before.unwrap_or(u64::MAX);
        let mut records = Vec::new();
        let mut next_before = None;
        for item in table.range((workspace, 0)..(workspace, upper))?.rev() {
            let (_, value) = item?;
            let record: Record = decode("audit", value.value())?;
            if !filter.matches(&record) {
                continue;
            }
            if records.len() == limit {
                next_before = records.last().map(|r: &Record| r.seq);
                break;
            }
            records.push(record);
        }
        Ok(Page {
            records,
            next_before,
        })
    }

    fn audited_workspaces(&self) -> Result<Vec<WorkspaceId>, StoreError> {
        self.table(AUDIT_HEADS)?
            .iter()?
            .map(|item| Ok(WorkspaceId::new(item?.0.value())))
            .collect()
    }

    fn audit_all(&self, workspace: &str) -> Result<Vec<Record>, StoreError> {
        self.table(AUDIT)?
            .range((workspace, 0)..=(workspace, u64::MAX))?
            .map(|item| decode("audit", item?.1.value()))
            .collect()
    }

    fn usage(
        &self,
        workspace: &str,
        from_day: u64,
        to_day: u64,
    ) -> Result<Vec<(IntegrationId, UserId, u64, Tally)>, StoreError> {
        let mut out = Vec::new();
        for item in self.table(USAGE)?.range((workspace, "", "", 0)..)? {
            let (key, value) = item?;
            let (ws, integ, user, day) = key.value();
            if ws != workspace {
                break;
            }
            if (from_day..to_day).contains(&day) {
                out.push((
                    IntegrationId::new(integ),
                    UserId::new(user),
                    day,
                    decode("usage", value.value())?,
                ));
            }
        }
        Ok(out)
    }

    fn workspace_credits(&self, workspace: &str, month: u64) -> Result<u64, StoreError> {
        Ok(self
            .table(WORKSPACE_CREDITS)?
            .get((workspace, month))?
            .map(|v| v.value())
            .unwrap_or(0))
    }

    fn credit_limit(&self, workspace: &str) -> Result<Option<u64>, StoreError> {
        Ok(self
            .table(CREDIT_LIMITS)?
            .get(workspace)?
            .map(|v| v.value()))
    }

    fn secrets_not_under(&self, key_id: &str, limit: usize) -> Result<Vec<SealedRef>, StoreError> {
        let mut out = Vec::new();
        for item in self.table(WORKSPACE_CREDENTIALS)?.iter()? {
            let (key, value) = item?;
            let stored: StoredCredential = decode("workspace_credentials", value.value())?;
            if stored.sealed.key_id != key_id && out.len() < limit {
                let (workspace, integration) = key.value();
                out.push(SealedRef::Workspace {
                    workspace: workspace.into(),
                    integration: integration.into(),
                    sealed: stored.sealed,
                });
            }
        }
        for item in self.table(CONNECTION_SECRETS)?.iter()? {
            let (key, value) = item?;
            let sealed: Sealed = decode("connection_secrets", value.value())?;
            if sealed.key_id != key_id && out.len() < limit {
                let (workspace, integration, owner) = key.value();
                out.push(SealedRef::Connection {
                    workspace: workspace.into(),
                    integration: integration.into(),
                    owner: owner.into(),
                    sealed,
                });
            }
        }
        Ok(out)
    }

    fn sealed_key_ids(&self) -> Result<BTreeMap<String, usize>, StoreError> {
        let mut counts = BTreeMap::new();
        for item in self.table(WORKSPACE_CREDENTIALS)?.iter()? {
            let stored: StoredCredential = decode("workspace_credentials", item?.1.value())?;
            *counts.entry(stored.sealed.key_id).or_insert(0) += 1;
        }
        for item in self.table(CONNECTION_SECRETS)?.iter()? {
            let sealed: Sealed = decode("connection_secrets", item?.1.value())?;
            *counts.entry(sealed.key_id).or_insert(0) += 1;
        }
        Ok(counts)
    }

    fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        decoded("sessions", self.table(SESSIONS)?.get(id)?)
    }
}

/// Removes the records of a table keyed by text whose time is up.
fn forget_expired<T: DeserializeOwned>(
    table: &mut redb::Table<'_, &'static str, &'static [u8]>,
    name: &'static str,
    expired: impl Fn(&T) -> bool,
) -> Result<(), StoreError> {
    let keys: Vec<String> = table
        .iter()?
        .filter_map(|item| item.ok())
        .filter(|(_, v)| decode::<T>(name, v.value()).is_ok_and(|record| expired(&record)))
        .map(|(k, _)| k.value().to_owned())
        .collect();
    for key in keys {
        table.remove(key.as_str())?;
    }
    Ok(())
}

impl Write for Transaction {
    fn audit(
        &mut self,
        workspace: &WorkspaceId,
        at_ms: u64,
        entry: Entry,
    ) -> Result<Record, StoreError> {
        let mut heads = self.0.open_table(AUDIT_HEADS)?;
        let head: Option<(u64, String)> = decoded("audit_heads", heads.get(workspace.as_str())?)?;
        let record = Record::chain(
            workspace,
            head.as_ref().map(|(seq, hash)| (*seq, hash.as_str())),
            at_ms,
            entry,
        );
        self.0
            .open_table(AUDIT)?
            .insert((workspace.as_str(), record.seq), encode(&record).as_slice())?;
        heads.insert(
            workspace.as_str(),
            encode(&(record.seq, &record.hash)).as_slice(),
        )?;
        Ok(record)
    }

    fn set_enablement(
        &mut self,
        workspace: &str,
        integration: &str,
        enablement: Option<&Enablement>,
    ) -> Result<(), StoreError> {
        let mut table = self.0.open_table(ENABLEMENTS)?;
        match enablement {
            Some(e) => table.insert((workspace, integration), encode(e).as_slice())?,
            None => table.remove((workspace, integration))?,
        };
        Ok(())
    }

    fn set_workspace_credential(
        &mut self,
        workspace: &str,
        integration: &str,
        credential: Option<&StoredCredential>,
    ) -> Result<bool, StoreError> {
        let mut table = self.0.open_table(WORKSPACE_CREDENTIALS)?;
        let existed = match credential {
            Some(c) => table
                .insert((workspace, integration), encode(c).as_slice())?
                .is_some(),
            None => table.remove((workspace, integration))?.is_some(),
        };
        Ok(existed)
    }

    fn put_connection(&mut self, stored: &StoredConnection) -> Result<(), StoreError> {
        let c = &stored.connection;
        let key = (
            c.workspace.as_str(),
            c.integration.as_str(),
            c.owner.as_str(),
        );
        let record = ConnectionRecord {
            connection: c.clone(),
            suspended_from: stored.suspended_from,
            checked_with: stored.checked_with.clone(),
        };
        self.0
            .open_table(CONNECTIONS)?
            .insert(key, encode(&record).as_slice())?;
        self.0
            .open_table(CONNECTION_SECRETS)?
            .insert(key, encode(&stored.sealed).as_slice())?;
        self.0
            .open_table(CONNECTION_IDS)?
            .insert(c.id.as_str(), encode(&key).as_slice())?;
        Ok(())
    }

    fn remove_connection(&mut self, stored: &StoredConnection) -> Result<(), StoreError> {
        let c = &stored.connection;
        let key = (
            c.workspace.as_str(),
            c.integration.as_str(),
            c.owner.as_str(),
        );
        self.0.open_table(CONNECTIONS)?.remove(key)?;
        self.0.open_table(CONNECTION_SECRETS)?.remove(key)?;
        self.0.open_table(CONNECTION_IDS)?.remove(c.id.as_str())?;
        Ok(())
    }

    fn add_usage(&mut self, counters: &HashMap<usage::Key, Tally>) -> Result<(), StoreError> {
        let mut table = self.0.open_table(USAGE)?;
        let mut credits = self.0.open_table(WORKSPACE_CREDITS)?;
        for (key, tally) in counters {
            let k = (
                key.workspace.as_str(),
                key.integration.as_str(),
                key.user.as_str(),
                key.day,
            );
            let mut total: Tally = decoded("usage", table.get(k)?)?.unwrap_or_default();
            total.add(*tally);
            table.insert(k, encode(&total).as_slice())?;
            let month = (key.workspace.as_str(), usage::month_of_day(key.day));
            let used = credits.get(month)?.map(|v| v.value()).unwrap_or(0);
            credits.insert(month, used.saturating_add(tally.credits))?;
        }
        Ok(())
    }

    fn put_flow(&mut self, state: &str, flow: &Flow, now_ms: u64) -> Result<(), StoreError> {
        let mut table = self.0.open_table(OAUTH_FLOWS)?;
        // Sign-ins nobody finished are forgotten as new ones begin.
        forget_expired(&mut table, "oauth_flows", |f: &Flow| {
            f.expires_at_ms <= now_ms
        })?;
        table.insert(state, encode(flow).as_slice())?;
        Ok(())
    }

    fn put_session(
        &mut self,
        id: &str,
        record: &SessionRecord,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let mut table = self.0.open_table(SESSIONS)?;
        forget_expired(&mut table, "sessions", |s: &SessionRecord| {
            s.session.expires_at_ms <= now_ms
        })?;
        table.insert(id, encode(record).as_slice())?;
        Ok(())
    }

    fn put_audit(&mut self, record: &Record) -> Result<(), StoreError> {
        let workspace = record.workspace.as_str();
        self.0
            .open_table(AUDIT)?
            .insert((workspace, record.seq), encode(record).as_slice())?;
        let mut heads = self.0.open_table(AUDIT_HEADS)?;
        let head: Option<(u64, String)> = decoded("audit_heads", heads.get(workspace)?)?;
        if head.is_none_or(|(seq, _)| seq < record.seq) {
            heads.insert(workspace, encode(&(record.seq, &record.hash)).as_slice())?;
        }
        Ok(())
    }

    fn remove_session(&mut self, id: &str) -> Result<bool, StoreError> {
        Ok(self.0.open_table(SESSIONS)?.remove(id)?.is_some())
    }

    fn take_flow(&mut self, state: &str) -> Result<Option<Flow>, StoreError> {
        let mut table = self.0.open_table(OAUTH_FLOWS)?;
        let flow = table
            .remove(state)?
            .map(|v| decode("oauth_flows", v.value()))
            .transpose()?;
        Ok(flow)
    }

    fn set_credit_limit(&mut self, workspace: &str, limit: Option<u64>) -> Result<(), StoreError> {
        let mut table = self.0.open_table(CREDIT_LIMITS)?;
        match limit {
            Some(l) => table.insert(workspace, l)?,
            None => table.remove(workspace)?,
        };
        Ok(())
    }

    fn reseal(&mut self, secret: &SealedRef, resealed: Sealed) -> Result<bool, StoreError> {
        match secret {
            SealedRef::Workspace {
                workspace,
                integration,
                sealed,
            } => match self.workspace_credential(workspace, integration)? {
                Some(mut stored) if stored.sealed == *sealed => {
                    stored.sealed = resealed;
                    self.set_workspace_credential(workspace, integration, Some(&stored))?;
                    Ok(true)
                }
                _ => Ok(false),
            },
            SealedRef::Connection {
                workspace,
                integration,
                owner,
                sealed,
            } => match self.connection_of(workspace, integration, owner)? {
                Some(mut stored) if stored.sealed == *sealed => {
                    stored.sealed = resealed;
                    self.put_connection(&stored)?;
                    Ok(true)
                }
                _ => Ok(false),
            },
        }
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        Ok(self.0.commit()?)
    }
}
