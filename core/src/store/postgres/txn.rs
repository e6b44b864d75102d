//! [`Read`] and [`Write`] over PostgreSQL transactions.
//!
//! A transaction holds one pooled connection. It begins with its first
//! statement (`BEGIN` is sent in the same round trip), and a write
//! transaction locks each workspace it touches the first time it does
//! (the lock, too, rides in the same round trip as the statement after it).
//! Statements that do not depend on each other's answers are pipelined.

use super::{Postgres, failed};
use crate::audit::{Entry, Filter, Page, Record};
use crate::model::{ConnectionId, Enablement, IntegrationId, UserId, WorkspaceId};
use crate::store::codec::{decode, encode};
use crate::store::{
    CallRecords, ConnectionRecord, Flow, MemberRecords, Read, SealedRef, SessionRecord, StoreError,
    StoredConnection, StoredCredential, TeamRecords, Write,
};
use crate::usage::{self, Tally};
use crate::vault::Sealed;
use deadpool_postgres::Object;
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};

/// The advisory-lock space of workspace locks (the first key of
/// `pg_advisory_xact_lock(int, int)`; the second is the workspace's hash).
const WORKSPACE_LOCKS: i32 = 0x5357_4244;
const LOCK_WORKSPACE: &str = "SELECT pg_advisory_xact_lock($1, hashtext($2))";
// Statements more than one method sends.
const ENABLEMENT: &str = "SELECT record FROM enablements WHERE workspace = $1 AND integration = $2";
const ENABLEMENTS_OF: &str = "SELECT integration, record FROM enablements WHERE workspace = $1";
const CREDENTIAL: &str =
    "SELECT record FROM workspace_credentials WHERE workspace = $1 AND integration = $2";
const CREDENTIALS_OF: &str =
    "SELECT integration, record FROM workspace_credentials WHERE workspace = $1";
const CREDENTIAL_HOLDERS: &str =
    "SELECT integration FROM workspace_credentials WHERE workspace = $1";
const CONNECTION_OF: &str = "SELECT record, sealed FROM connections \
     WHERE workspace = $1 AND integration = $2 AND owner = $3";
const CREDITS: &str = "SELECT credits FROM workspace_credits WHERE workspace = $1 AND month = $2";
const CREDIT_LIMIT: &str = "SELECT credit_limit FROM credit_limits WHERE workspace = $1";
const INSERT_AUDIT: &str = "INSERT INTO audit (workspace, seq, record) VALUES ($1, $2, $3)";
const ADVANCE_AUDIT_HEAD: &str = "INSERT INTO audit_heads (workspace, seq, hash) VALUES ($1, $2, $3) \
     ON CONFLICT (workspace) DO UPDATE SET seq = excluded.seq, hash = excluded.hash \
     WHERE audit_heads.seq < excluded.seq";

/// Writes queued at most before they are sent on their own.
const QUEUE_LIMIT: usize = 1000;
/// Audit records read per round trip while filtering a page.
const AUDIT_CHUNK: i64 = 500;

/// What a transaction may do.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(in crate::store) enum Kind {
    /// Reads one consistent snapshot.
    Snapshot,
    /// Reads and writes, serialised per workspace.
    Write,
}

impl Kind {
    /// `read`, or in a write transaction `locked` (the same with `FOR
    /// UPDATE`): a row a change reads is its until it commits, so that a
    /// key rotation re-sealing it meanwhile is not written over.
    fn locking(self, read: &'static str, locked: &'static str) -> &'static str {
        match self {
            Kind::Snapshot => read,
            Kind::Write => locked,
        }
    }

    fn begin(self) -> &'static str {
        match self {
            Kind::Snapshot => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            Kind::Write => "BEGIN ISOLATION LEVEL READ COMMITTED",
        }
    }
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];
/// A queued statement's parameters, kept until it is sent.
type Owned = Vec<Box<dyn ToSql + Sync + Send>>;

/// Parameters kept for a queued statement.
macro_rules! owned {
    ($($value:expr),* $(,)?) => {
        vec![$(Box::new($value) as Box<dyn ToSql + Sync + Send>),*]
    };
}

/// A transaction; dropped without [`Write::commit`], it rolls back.
pub(in crate::store) struct Txn<'a> {
    backend: &'a Postgres,
    kind: Kind,
    state: RefCell<State>,
}

struct State {
    /// Taken back by `Drop`.
    client: Option<Object>,
    /// Whether `BEGIN` has been sent (and no `COMMIT` since).
    begun: bool,
    /// The workspaces this transaction holds the lock of.
    locked: HashSet<String>,
    /// The workspaces to lock with the next statements sent.
    unlocked: Vec<String>,
    /// Writes not sent yet.
    queued: Vec<(&'static str, Owned)>,
    /// Whether a statement failed, and whether for want of the database:
    /// PostgreSQL then rolls back whatever follows, `COMMIT` included, so
    /// committing must fail loudly, as the first failure did.
    aborted: Option<bool>,
}

impl<'a> Txn<'a> {
    pub(in crate::store) fn new(backend: &'a Postgres, client: Object, kind: Kind) -> Self {
        Txn {
            backend,
            kind,
            state: RefCell::new(State {
                client: Some(client),
                begun: false,
                locked: HashSet::new(),
                unlocked: Vec::new(),
                queued: Vec::new(),
                aborted: None,
            }),
        }
    }

    /// Runs `statements` in one round trip, after what is not yet sent:
    /// `BEGIN`, the locks of the workspaces touched (in a write
    /// transaction), and the writes queued since; their rows, in order.
    fn pipeline(
        &self,
        workspace: Option<&str>,
        statements: &[(&'static str, Params<'_>)],
    ) -> Result<Vec<Vec<Row>>, StoreError> {
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        if let Some(w) = workspace {
            self.note_lock(state, w);
        }
        let locks = std::mem::take(&mut state.unlocked);
        let queued = std::mem::take(&mut state.queued);
        let begin = (!state.begun).then(|| self.kind.begin());
        let client = state
            .client
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("the transaction has no connection".into()))?;
        let answered: Result<Vec<Vec<Row>>, StoreError> = self.backend.wait(async {
            let mut prepared = Vec::with_capacity(queued.len() + statements.len());
            let sqls = queued.iter().map(|(sql, _)| *sql);
            for sql in sqls.chain(statements.iter().map(|(sql, _)| *sql)) {
                prepared.push(client.prepare_cached(sql).await.map_err(failed)?);
            }
            let lock_statement = client
                .prepare_cached(LOCK_WORKSPACE)
                .await
                .map_err(failed)?;
            let queued_params: Vec<Vec<&(dyn ToSql + Sync)>> = queued
                .iter()
                .map(|(_, params)| params.iter().map(|p| p.as_ref() as _).collect())
                .collect();
            let params = queued_params
                .iter()
                .map(Vec::as_slice)
                .chain(statements.iter().map(|(_, params)| *params));
            // A value that does not fit its column fails here, before
            // anything is sent: sent, the statements around it (a COMMIT
            // among them) would run without it.
            for (statement, params) in prepared.iter().zip(params.clone()) {
                encodable(statement, params)?;
            }
            // Polled in this order, so sent in this order, before any answer.
            let begun = async {
                match begin {
                    Some(sql) => client.batch_execute(sql).await,
                    None => Ok(()),
                }
            };
            let lock_params: Vec<[&(dyn ToSql + Sync); 2]> = locks
                .iter()
                .map(|w| [&WORKSPACE_LOCKS as _, w as _])
                .collect();
            let locked = futures::future::join_all(
                lock_params
                    .iter()
                    .map(|params| client.execute(&lock_statement, params)),
            );
            let queries = futures::future::join_all(
                prepared
                    .iter()
                    .zip(params)
                    .map(|(statement, params)| client.query(statement, params)),
            );
            let (begun, locked, rows) = futures::join!(begun, locked, queries);
            begun.map_err(failed)?;
            for lock in locked {
                lock.map_err(failed)?;
            }
            let mut rows = rows
                .into_iter()
                .map(|rows| rows.map_err(failed))
                .collect::<Result<Vec<_>, _>>()?;
            // The queued writes' answers are no one's.
            Ok(rows.split_off(queued.len()))
        });
        self.backend.count_round_trips(1);
        // Once sent, BEGIN must be ended, whatever came back.
        state.begun |= begin.is_some();
        if let Err(e) = &answered {
            state
                .aborted
                .get_or_insert(matches!(e, StoreError::Unavailable(_)));
        }
        let rows = answered?;
        state.locked.extend(locks);
        Ok(rows)
    }

    /// Remembers to lock `workspace` before this write transaction's next
    /// statement, the first time it is touched.
    fn note_lock(&self, state: &mut State, workspace: &str) {
        if self.kind == Kind::Write
            && !state.locked.contains(workspace)
            && !state.unlocked.iter().any(|w| w == workspace)
        {
            state.unlocked.push(workspace.to_owned());
        }
    }

    /// Queues a write whose answer nobody needs: it is sent with the next
    /// read, or with `COMMIT`, in the same round trip (or on its own once
    /// `QUEUE_LIMIT` wait, so a large import holds little in memory).
    fn queue(
        &self,
        workspace: Option<&str>,
        sql: &'static str,
        params: Owned,
    ) -> Result<(), StoreError> {
        let full = {
            let mut state = self.state.borrow_mut();
            if let Some(w) = workspace {
                self.note_lock(&mut state, w);
            }
            state.queued.push((sql, params));
            state.queued.len() >= QUEUE_LIMIT
        };
        if full {
            self.pipeline(None, &[])?;
        }
        Ok(())
    }

    /// One statement's rows.
    fn rows(
        &self,
        workspace: Option<&str>,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, StoreError> {
        Ok(self
            .pipeline(workspace, &[(sql, params)])?
            .pop()
            .unwrap_or_default())
    }

    /// The first column of the first row, decoded, if there is a row.
    fn one<T: DeserializeOwned>(
        &self,
        workspace: &str,
        table: &'static str,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Option<T>, StoreError> {
        self.rows(Some(workspace), sql, params)?
            .first()
            .map(|row| value(row, 0, table))
            .transpose()
    }
}

impl Drop for Txn<'_> {
    fn drop(&mut self) {
        let state = self.state.get_mut();
        let Some(client) = state.client.take() else {
            return;
        };
        if state.begun {
            self.backend.count_round_trips(1);
            // Ended off the caller's path; a connection that cannot even
            // roll back leaves the pool.
            self.backend.handle.spawn(async move {
                if client.batch_execute("ROLLBACK").await.is_err() {
                    drop(Object::take(client));
                }
            });
        }
    }
}

/// Whether `params` encode as `statement`'s parameters, their number and
/// each value's type (encoded once into a scratch buffer).
fn encodable(statement: &Statement, params: Params<'_>) -> Result<(), StoreError> {
    let types = statement.params();
    if types.len() != params.len() {
        return Err(StoreError::Backend(
            format!(
                "a statement takes {} parameter(s), {} were given",
                types.len(),
                params.len()
            )
            .into(),
        ));
    }
    let mut scratch = bytes::BytesMut::new();
    for (ty, param) in types.iter().zip(params) {
        scratch.clear();
        param
            .to_sql_checked(ty, &mut scratch)
            .map_err(StoreError::Backend)?;
    }
    Ok(())
}

/// Rows of (integration, versioned JSON) as a map by integration.
fn by_integration<T: DeserializeOwned>(
    rows: &[Row],
    table: &'static str,
) -> Result<HashMap<String, T>, StoreError> {
    rows.iter()
        .map(|row| Ok((column(row, 0, table)?, value(row, 1, table)?)))
        .collect()
}

/// A column's versioned JSON, decoded.
fn value<T: DeserializeOwned>(
    row: &Row,
    column: usize,
    table: &'static str,
) -> Result<T, StoreError> {
    let bytes: &[u8] = row.try_get(column).map_err(|e| corrupt(table, e))?;
    decode(table, bytes)
}

/// A plain column.
fn column<'r, T: tokio_postgres::types::FromSql<'r>>(
    row: &'r Row,
    index: usize,
    table: &'static str,
) -> Result<T, StoreError> {
    row.try_get(index).map_err(|e| corrupt(table, e))
}

fn corrupt(table: &'static str, e: tokio_postgres::Error) -> StoreError {
    StoreError::Corrupt {
        table,
        reason: e.to_string(),
    }
}

/// A counter as PostgreSQL's `bigint`, saturated.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A `bigint` counter back; a negative one (never written) reads as 0.
fn uint(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A connection's record and credential columns as a stored connection.
fn stored_connection(
    row: &Row,
    record: usize,
    sealed: usize,
) -> Result<StoredConnection, StoreError> {
    let record: ConnectionRecord = value(row, record, "connections")?;
    Ok(StoredConnection {
        connection: record.connection,
        sealed: value(row, sealed, "connections")?,
        suspended_from: record.suspended_from,
        checked_with: record.checked_with,
    })
}

impl Read for Txn<'_> {
    fn enablement(
        &self,
        workspace: &str,
        integration: &str,
    ) -> Result<Option<Enablement>, StoreError> {
        self.one(
            workspace,
            "enablements",
            ENABLEMENT,
            &[&workspace, &integration],
        )
    }

    fn enablements_of(&self, workspace: &str) -> Result<HashMap<String, Enablement>, StoreError> {
        by_integration(
            &self.rows(Some(workspace), ENABLEMENTS_OF, &[&workspace])?,
            "enablements",
        )
    }

    fn workspace_credential(
        &self,
        workspace: &str,
        integration: &str,
    ) -> Result<Option<StoredCredential>, StoreError> {
        let sql = self.kind.locking(
            CREDENTIAL,
            "SELECT record FROM workspace_credentials WHERE workspace = $1 AND integration = $2 \
             FOR UPDATE",
        );
        self.one(
            workspace,
            "workspace_credentials",
            sql,
            &[&workspace, &integration],
        )
    }

    fn workspace_credentials_of(
        &self,
        workspace: &str,
    ) -> Result<HashMap<String, StoredCredential>, StoreError> {
        by_integration(
            &self.rows(Some(workspace), CREDENTIALS_OF, &[&workspace])?,
            "workspace_credentials",
        )
    }

    fn integrations_with_credentials(
        &self,
        workspace: &str,
    ) -> Result<HashSet<String>, StoreError> {
        self.rows(Some(workspace), CREDENTIAL_HOLDERS, &[&workspace])?
            .iter()
            .map(|row| column(row, 0, "workspace_credentials"))
            .collect()
    }

    fn connection_of(
        &self,
        workspace: &str,
        integration: &str,
        owner: &str,
    ) -> Result<Option<StoredConnection>, StoreError> {
        let sql = self.kind.locking(
            CONNECTION_OF,
            "SELECT record, sealed FROM connections \
             WHERE workspace = $1 AND integration = $2 AND owner = $3 FOR UPDATE",
        );
        self.rows(Some(workspace), sql, &[&workspace, &integration, &owner])?
            .first()
            .map(|row| stored_connection(row, 0, 1))
            .transpose()
    }

    fn connection_record(
        &self,
        workspace: &str,
        integration: &str,
        owner: &str,
    ) -> Result<Option<ConnectionRecord>, StoreError> {
        self.one(
            workspace,
            "connections",
            "SELECT record FROM connections \
             WHERE workspace = $1 AND integration = $2 AND owner = $3",
            &[&workspace, &integration, &owner],
        )
    }

    fn connection(&self, id: &ConnectionId) -> Result<Option<StoredConnection>, StoreError> {
        let id = id.as_str();
        let rows = self.rows(
            None,
            "SELECT workspace, integration, owner, record, sealed FROM connections WHERE id = $1",
            &[&id],
        )?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let found = stored_connection(row, 3, 4)?;
        let workspace: String = column(row, 0, "connections")?;
        let elsewhere = {
            let state = self.state.borrow();
            let declared: Vec<&String> = state.locked.iter().chain(&state.unlocked).collect();
            !declared.is_empty() && !declared.contains(&&workspace)
        };
        // A change reads a connection of another workspace as it stands,
        // without that workspace's lock (it may look, and be refused; it
        // must not hold up, or deadlock with, that workspace's changes).
        // In its own, it reads it again under the lock, the row locked.
        if self.kind == Kind::Snapshot || elsewhere {
            return Ok(Some(found));
        }
        let (integration, owner): (String, String) = (
            column(row, 1, "connections")?,
            column(row, 2, "connections")?,
        );
        Ok(self
            .connection_of(&workspace, &integration, &owner)?
            .filter(|stored| stored.connection.id.as_str() == id))
    }

    fn connections(
        &self,
        workspace: &str,
        integration: &str,
    ) -> Result<Vec<StoredConnection>, StoreError> {
        let sql = self.kind.locking(
            "SELECT record, sealed FROM connections \
             WHERE workspace = $1 AND integration = $2 ORDER BY owner",
            "SELECT record, sealed FROM connections \
             WHERE workspace = $1 AND integration = $2 ORDER BY owner FOR UPDATE",
        );
        self.rows(Some(workspace), sql, &[&workspace, &integration])?
            .iter()
            .map(|row| stored_connection(row, 0, 1))
            .collect()
    }

    fn connection_records(
        &self,
        workspace: &str,
        integration: &str,
    ) -> Result<Vec<ConnectionRecord>, StoreError> {
        self.rows(
            Some(workspace),
            "SELECT record FROM connections \
             WHERE workspace = $1 AND integration = $2 ORDER BY owner",
            &[&workspace, &integration],
        )?
        .iter()
        .map(|row| value(row, 0, "connections"))
        .collect()
    }

    fn audit_page(
        &self,
        workspace: &str,
        filter: &Filter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let mut upper = before.map_or(i64::MAX, int);
        let mut records: Vec<Record> = Vec::new();
        loop {
            let rows = self.rows(
                Some(workspace),
                "SELECT seq, record FROM audit WHERE workspace = $1 AND seq < $2 \
                 ORDER BY seq DESC LIMIT $3",
                &[&workspace, &upper, &AUDIT_CHUNK],
            )?;
            for row in &rows {
                upper = column(row, 0, "audit")?;
                let record: Record = value(row, 1, "audit")?;
                if !filter.matches(&record) {
                    continue;
                }
                if records.len() == limit {
                    return Ok(Page {
                        next_before: records.last().map(|r| r.seq),
                        records,
                    });
                }
                records.push(record);
            }
            if (rows.len() as i64) < AUDIT_CHUNK {
                return Ok(Page {
                    records,
                    next_before: None,
                });
            }
        }
    }

    fn audited_workspaces(&self) -> Result<Vec<WorkspaceId>, StoreError> {
        self.rows(
            None,
            "SELECT workspace FROM audit_heads ORDER BY workspace",
            &[],
        )?
        .iter()
        .map(|row| Ok(WorkspaceId::new(column::<&str>(row, 0, "audit_heads")?)))
        .collect()
    }

    fn audit_all(&self, workspace: &str) -> Result<Vec<Record>, StoreError> {
        self.rows(
            Some(workspace),
            "SELECT record FROM audit WHERE workspace = $1 ORDER BY seq",
            &[&workspace],
        )?
        .iter()
        .map(|row| value(row, 0, "audit"))
        .collect()
    }

    fn usage(
        &self,
        workspace: &str,
        from_day: u64,
        to_day: u64,
    ) -> Result<Vec<(IntegrationId, UserId, u64, Tally)>, StoreError> {
        self.rows(
            Some(workspace),
            "SELECT integration, member, day, calls, credits FROM usage \
             WHERE workspace = $1 AND day >= $2 AND day < $3 \
             ORDER BY integration, member, day",
            &[&workspace, &int(from_day), &int(to_day)],
        )?
        .iter()
        .map(|row| {
            Ok((
                IntegrationId::new(column::<&str>(row, 0, "usage")?),
                UserId::new(column::<&str>(row, 1, "usage")?),
                uint(column(row, 2, "usage")?),
                Tally {
                    calls: uint(column(row, 3, "usage")?),
                    credits: uint(column(row, 4, "usage")?),
                },
            ))
        })
        .collect()
    }

    fn workspace_credits(&self, workspace: &str, month: u64) -> Result<u64, StoreError> {
        let rows = self.rows(Some(workspace), CREDITS, &[&workspace, &int(month)])?;
        rows.first()
            .map_or(Ok(0), |row| column(row, 0, "workspace_credits").map(uint))
    }

    fn credit_limit(&self, workspace: &str) -> Result<Option<u64>, StoreError> {
        self.rows(Some(workspace), CREDIT_LIMIT, &[&workspace])?
            .first()
            .map(|row| column(row, 0, "credit_limits").map(uint))
            .transpose()
    }

    fn secrets_not_under(&self, key_id: &str, limit: usize) -> Result<Vec<SealedRef>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut answers = self.pipeline(
            None,
            &[
                (
                    "SELECT workspace, integration, record FROM workspace_credentials \
                     WHERE key_id <> $1 ORDER BY workspace, integration LIMIT $2",
                    &[&key_id, &limit],
                ),
                (
                    "SELECT workspace, integration, owner, sealed FROM connections \
                     WHERE key_id <> $1 ORDER BY workspace, integration, owner LIMIT $2",
                    &[&key_id, &limit],
                ),
            ],
        )?;
        let connections = answers.pop().unwrap_or_default();
        let credentials = answers.pop().unwrap_or_default();
        let table = "workspace_credentials";
        let mut out = credentials
            .iter()
            .map(|row| {
                let stored: StoredCredential = value(row, 2, table)?;
                Ok(SealedRef::Workspace {
                    workspace: column(row, 0, table)?,
                    integration: column(row, 1, table)?,
                    sealed: stored.sealed,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        for row in &connections {
            out.push(SealedRef::Connection {
                workspace: column(row, 0, "connections")?,
                integration: column(row, 1, "connections")?,
                owner: column(row, 2, "connections")?,
                sealed: value(row, 3, "connections")?,
            });
        }
        out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(out)
    }

    fn sealed_key_ids(&self) -> Result<BTreeMap<String, usize>, StoreError> {
        self.rows(
            None,
            "SELECT key_id, count(*) FROM ( \
                 SELECT key_id FROM workspace_credentials \
                 UNION ALL SELECT key_id FROM connections \
             ) AS sealed GROUP BY key_id",
            &[],
        )?
        .iter()
        .map(|row| {
            let count: i64 = column(row, 1, "connections")?;
            Ok((
                column(row, 0, "connections")?,
                usize::try_from(count).unwrap_or(0),
            ))
        })
        .collect()
    }

    fn call_records(
        &self,
        workspace: &str,
        integration: &str,
        owner: &str,
        month: u64,
    ) -> Result<CallRecords, StoreError> {
        let month = int(month);
        let answers = self.pipeline(
            Some(workspace),
            &[
                (ENABLEMENT, &[&workspace, &integration]),
                (CREDENTIAL, &[&workspace, &integration]),
                (CONNECTION_OF, &[&workspace, &integration, &owner]),
                (CREDITS, &[&workspace, &month]),
                (CREDIT_LIMIT, &[&workspace]),
            ],
        )?;
        let first = |n: usize| answers.get(n).and_then(|rows| rows.first());
        Ok(CallRecords {
            enablement: first(0)
                .map(|row| value(row, 0, "enablements"))
                .transpose()?,
            workspace_credential: first(1)
                .map(|row| value(row, 0, "workspace_credentials"))
                .transpose()?,
            connection: first(2)
                .map(|row| stored_connection(row, 0, 1))
                .transpose()?,
            credits_used: first(3)
                .map(|row| column(row, 0, "workspace_credits").map(uint))
                .transpose()?
                .unwrap_or(0),
            credit_limit: first(4)
                .map(|row| column(row, 0, "credit_limits").map(uint))
                .transpose()?,
        })
    }

    fn team_records(
        &self,
        workspace: &str,
        integrations: &[&str],
    ) -> Result<TeamRecords, StoreError> {
        let answers = self.pipeline(
            Some(workspace),
            &[
                (ENABLEMENTS_OF, &[&workspace]),
                (CREDENTIALS_OF, &[&workspace]),
                (
                    "SELECT integration, record FROM connections \
                     WHERE workspace = $1 AND integration = ANY($2) ORDER BY integration, owner",
                    &[&workspace, &integrations],
                ),
            ],
        )?;
        let mut answers = answers.into_iter();
        let mut records = TeamRecords {
            enablements: by_integration(&answers.next().unwrap_or_default(), "enablements")?,
            credentials: by_integration(
                &answers.next().unwrap_or_default(),
                "workspace_credentials",
            )?,
            connections: HashMap::new(),
        };
        for integration in integrations {
            records
                .connections
                .insert((*integration).to_owned(), Vec::new());
        }
        for row in answers.next().unwrap_or_default() {
            let integration: String = column(&row, 0, "connections")?;
            let record = value(&row, 1, "connections")?;
            records
                .connections
                .entry(integration)
                .or_default()
                .push(record);
        }
        Ok(records)
    }

    fn member_records(
        &self,
        workspace: &str,
        owner: &str,
        integrations: &[&str],
    ) -> Result<MemberRecords, StoreError> {
        let answers = self.pipeline(
            Some(workspace),
            &[
                (ENABLEMENTS_OF, &[&workspace]),
                (CREDENTIAL_HOLDERS, &[&workspace]),
                (
                    "SELECT integration, record FROM connections \
                     WHERE workspace = $1 AND owner = $2 AND integration = ANY($3)",
                    &[&workspace, &owner, &integrations],
                ),
            ],
        )?;
        let mut answers = answers.into_iter();
        let mut records = MemberRecords {
            enablements: by_integration(&answers.next().unwrap_or_default(), "enablements")?,
            ..MemberRecords::default()
        };
        for row in answers.next().unwrap_or_default() {
            records
                .with_credentials
                .insert(column(&row, 0, "workspace_credentials")?);
        }
        for row in answers.next().unwrap_or_default() {
            let record: ConnectionRecord = value(&row, 1, "connections")?;
            records
                .connections
                .insert(column(&row, 0, "connections")?, record.connection);
        }
        Ok(records)
    }

    fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.rows(None, "SELECT record FROM sessions WHERE id = $1", &[&id])?
            .first()
            .map(|row| value(row, 0, "sessions"))
            .transpose()
    }
}

impl Write for Txn<'_> {
    fn changes(&mut self, workspace: &str) -> Result<(), StoreError> {
        let mut state = self.state.borrow_mut();
        self.note_lock(&mut state, workspace);
        Ok(())
    }

    fn audit(
        &mut self,
        workspace: &WorkspaceId,
        at_ms: u64,
        entry: Entry,
    ) -> Result<Record, StoreError> {
        let ws = workspace.as_str();
        let heads = self.rows(
            Some(ws),
            "SELECT seq, hash FROM audit_heads WHERE workspace = $1",
            &[&ws],
        )?;
        let head = heads
            .first()
            .map(|row| {
                Ok::<_, StoreError>((
                    uint(column(row, 0, "audit_heads")?),
                    column::<String>(row, 1, "audit_heads")?,
                ))
            })
            .transpose()?;
        let record = Record::chain(
            workspace,
            head.as_ref().map(|(seq, hash)| (*seq, hash.as_str())),
            at_ms,
            entry,
        );
        let seq = int(record.seq);
        self.queue(
            Some(ws),
            INSERT_AUDIT,
            owned![ws.to_owned(), seq, encode(&record)],
        )?;
        self.queue(
            Some(ws),
            ADVANCE_AUDIT_HEAD,
            owned![ws.to_owned(), seq, record.hash.clone()],
        )?;
        Ok(record)
    }

    fn set_enablement(
        &mut self,
        workspace: &str,
        integration: &str,
        enablement: Option<&Enablement>,
    ) -> Result<(), StoreError> {
        let (w, i) = (workspace.to_owned(), integration.to_owned());
        match enablement {
            Some(e) => self.queue(
                Some(workspace),
                "INSERT INTO enablements (workspace, integration, record) VALUES ($1, $2, $3) \
                 ON CONFLICT (workspace, integration) DO UPDATE SET record = excluded.record",
                owned![w, i, encode(e)],
            ),
            None => self.queue(
                Some(workspace),
                "DELETE FROM enablements WHERE workspace = $1 AND integration = $2",
                owned![w, i],
            ),
        }
    }
    fn set_workspace_credential(
        &mut self,
        workspace: &str,
        integration: &str,
        credential: Option<&StoredCredential>,
    ) -> Result<bool, StoreError> {
        let rows = match credential {
            Some(c) => self.rows(
                Some(workspace),
                "WITH old AS (SELECT 1 FROM workspace_credentials \
                              WHERE workspace = $1 AND integration = $2) \
                 INSERT INTO workspace_credentials (workspace, integration, key_id, record) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (workspace, integration) \
                 DO UPDATE SET key_id = excluded.key_id, record = excluded.record \
                 RETURNING EXISTS (SELECT 1 FROM old)",
                &[&workspace, &integration, &c.sealed.key_id, &encode(c)],
            )?,
            None => self.rows(
                Some(workspace),
                "DELETE FROM workspace_credentials WHERE workspace = $1 AND integration = $2 \
                 RETURNING true",
                &[&workspace, &integration],
            )?,
        };
        rows.first()
            .map_or(Ok(false), |row| column(row, 0, "workspace_credentials"))
    }

    fn put_connection(&mut self, stored: &StoredConnection) -> Result<(), StoreError> {
        let c = &stored.connection;
        let record = encode(&ConnectionRecord {
            connection: c.clone(),
            suspended_from: stored.suspended_from,
            checked_with: stored.checked_with.clone(),
        });
        self.queue(
            Some(c.workspace.as_str()),
            "INSERT INTO connections (workspace, integration, owner, id, record, key_id, sealed) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (workspace, integration, owner) DO UPDATE SET id = excluded.id, \
             record = excluded.record, key_id = excluded.key_id, sealed = excluded.sealed",
            owned![
                c.workspace.as_str().to_owned(),
                c.integration.as_str().to_owned(),
                c.owner.as_str().to_owned(),
                c.id.as_str().to_owned(),
                record,
                stored.sealed.key_id.clone(),
                encode(&stored.sealed),
            ],
        )?;
        Ok(())
    }
    fn remove_connection(&mut self, stored: &StoredConnection) -> Result<(), StoreError> {
        let c = &stored.connection;
        self.queue(
            Some(c.workspace.as_str()),
            "DELETE FROM connections WHERE workspace = $1 AND integration = $2 AND owner = $3",
            owned![
                c.workspace.as_str().to_owned(),
                c.integration.as_str().to_owned(),
                c.owner.as_str().to_owned(),
            ],
        )?;
        Ok(())
    }
    fn add_usage(&mut self, counters: &HashMap<usage::Key, Tally>) -> Result<(), StoreError> {
        // Each addition is one atomic upsert: counts from every node add up
        // without a lock of ours; in key order, so that nodes flushing at
        // once take the rows' locks in one order.
        let mut sorted: Vec<_> = counters.iter().collect();
        sorted.sort_by(|(a, _), (b, _)| {
            (
                a.workspace.as_str(),
                a.integration.as_str(),
                a.user.as_str(),
                a.day,
            )
                .cmp(&(
                    b.workspace.as_str(),
                    b.integration.as_str(),
                    b.user.as_str(),
                    b.day,
                ))
        });
        for (key, tally) in sorted {
            let workspace = key.workspace.as_str().to_owned();
            self.queue(
                None,
                "INSERT INTO usage (workspace, integration, member, day, calls, credits) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (workspace, integration, member, day) DO UPDATE SET \
                 calls = LEAST(usage.calls::numeric + excluded.calls, 9223372036854775807)::bigint, \
                 credits = LEAST(usage.credits::numeric + excluded.credits, 9223372036854775807)::bigint",
                owned![
                    workspace.clone(),
                    key.integration.as_str().to_owned(),
                    key.user.as_str().to_owned(),
                    int(key.day),
                    int(tally.calls),
                    int(tally.credits),
                ],
            )?;
            self.queue(
                None,
                "INSERT INTO workspace_credits (workspace, month, credits) VALUES ($1, $2, $3) \
                 ON CONFLICT (workspace, month) DO UPDATE SET credits = \
                 LEAST(workspace_credits.credits::numeric + excluded.credits, \
                       9223372036854775807)::bigint",
                owned![
                    workspace,
                    int(usage::month_of_day(key.day)),
                    int(tally.credits)
                ],
            )?;
        }
        Ok(())
    }
    fn mark_used(
        &mut self,
        connections: &[(&str, &str, &str)],
        at_ms: u64,
    ) -> Result<(), StoreError> {
        // The record alone, in place: no workspace lock, no read first,
        // and the credential beside it untouched.
        for &(workspace, integration, owner) in connections {
            self.queue(
                None,
                "UPDATE connections SET record = convert_to(jsonb_set( \
                     convert_from(record, 'UTF8')::jsonb, '{value,connection,last_used_at_ms}', \
                     to_jsonb($4::bigint))::text, 'UTF8') \
                 WHERE workspace = $1 AND integration = $2 AND owner = $3",
                owned![
                    workspace.to_owned(),
                    integration.to_owned(),
                    owner.to_owned(),
                    int(at_ms)
                ],
            )?;
        }
        Ok(())
    }

    fn put_flow(&mut self, state: &str, flow: &Flow, now_ms: u64) -> Result<(), StoreError> {
        // Sign-ins nobody finished are forgotten as new ones begin.
        self.queue(
            None,
            "DELETE FROM oauth_flows WHERE expires_at_ms <= $1",
            owned![int(now_ms)],
        )?;
        self.queue(
            None,
            "INSERT INTO oauth_flows (state, expires_at_ms, record) VALUES ($1, $2, $3) \
             ON CONFLICT (state) DO UPDATE SET \
             expires_at_ms = excluded.expires_at_ms, record = excluded.record",
            owned![state.to_owned(), int(flow.expires_at_ms), encode(flow)],
        )?;
        Ok(())
    }
    fn take_flow(&mut self, state: &str) -> Result<Option<Flow>, StoreError> {
        // Deleted and returned in one statement: of two nodes finishing the
        // same sign-in, one gets it.
        self.rows(
            None,
            "DELETE FROM oauth_flows WHERE state = $1 RETURNING record",
            &[&state],
        )?
        .first()
        .map(|row| value(row, 0, "oauth_flows"))
        .transpose()
    }

    fn put_session(
        &mut self,
        id: &str,
        record: &SessionRecord,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        self.queue(
            None,
            "DELETE FROM sessions WHERE expires_at_ms <= $1",
            owned![int(now_ms)],
        )?;
        self.queue(
            None,
            "INSERT INTO sessions (id, expires_at_ms, record) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET \
             expires_at_ms = excluded.expires_at_ms, record = excluded.record",
            owned![
                id.to_owned(),
                int(record.session.expires_at_ms),
                encode(record)
            ],
        )?;
        Ok(())
    }
    fn put_audit(&mut self, record: &Record) -> Result<(), StoreError> {
        let workspace = record.workspace.as_str();
        let seq = int(record.seq);
        self.queue(
            Some(workspace),
            INSERT_AUDIT,
            owned![workspace.to_owned(), seq, encode(record)],
        )?;
        self.queue(
            Some(workspace),
            ADVANCE_AUDIT_HEAD,
            owned![workspace.to_owned(), seq, record.hash.clone()],
        )?;
        Ok(())
    }
    fn remove_session(&mut self, id: &str) -> Result<bool, StoreError> {
        Ok(!self
            .rows(
                None,
                "DELETE FROM sessions WHERE id = $1 RETURNING true",
                &[&id],
            )?
            .is_empty())
    }

    fn set_credit_limit(&mut self, workspace: &str, limit: Option<u64>) -> Result<(), StoreError> {
        match limit {
            Some(limit) => self.queue(
                Some(workspace),
                "INSERT INTO credit_limits (workspace, credit_limit) VALUES ($1, $2) \
                 ON CONFLICT (workspace) DO UPDATE SET credit_limit = excluded.credit_limit",
                owned![workspace.to_owned(), int(limit)],
            ),
            None => self.queue(
                Some(workspace),
                "DELETE FROM credit_limits WHERE workspace = $1",
                owned![workspace.to_owned()],
            ),
        }
    }
    fn reseal(&mut self, secret: &SealedRef, resealed: Sealed) -> Result<bool, StoreError> {
        // A row lock, not the workspace lock: a batch spans workspaces, and
        // taking their locks in a batch's order could deadlock with another.
        match secret {
            SealedRef::Workspace {
                workspace,
                integration,
                sealed,
            } => {
                let current: Option<StoredCredential> = self
                    .rows(
                        None,
                        "SELECT record FROM workspace_credentials \
                         WHERE workspace = $1 AND integration = $2 FOR UPDATE",
                        &[workspace, integration],
                    )?
                    .first()
                    .map(|row| value(row, 0, "workspace_credentials"))
                    .transpose()?;
                let Some(mut stored) = current.filter(|c| c.sealed == *sealed) else {
                    return Ok(false);
                };
                stored.sealed = resealed;
                self.rows(
                    None,
                    "UPDATE workspace_credentials SET key_id = $3, record = $4 \
                     WHERE workspace = $1 AND integration = $2",
                    &[
                        workspace,
                        integration,
                        &stored.sealed.key_id,
                        &encode(&stored),
                    ],
                )?;
                Ok(true)
            }
            SealedRef::Connection {
                workspace,
                integration,
                owner,
                sealed,
            } => {
                let current: Option<Sealed> = self
                    .rows(
                        None,
                        "SELECT sealed FROM connections \
                         WHERE workspace = $1 AND integration = $2 AND owner = $3 FOR UPDATE",
                        &[workspace, integration, owner],
                    )?
                    .first()
                    .map(|row| value(row, 0, "connections"))
                    .transpose()?;
                if current.as_ref() != Some(sealed) {
                    return Ok(false);
                }
                self.queue(
                    None,
                    "UPDATE connections SET key_id = $4, sealed = $5 \
                     WHERE workspace = $1 AND integration = $2 AND owner = $3",
                    owned![
                        workspace.clone(),
                        integration.clone(),
                        owner.clone(),
                        resealed.key_id.clone(),
                        encode(&resealed),
                    ],
                )?;
                Ok(true)
            }
        }
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        {
            let state = self.state.borrow();
            let failed = "a statement of the transaction failed; it was rolled back";
            match state.aborted {
                Some(true) => return Err(StoreError::Unavailable(failed.into())),
                Some(false) => return Err(StoreError::Backend(failed.into())),
                None => {}
            }
            if !state.begun && state.queued.is_empty() {
                return Ok(());
            }
        }
        // The queued writes go with it, in the same round trip.
        self.pipeline(None, &[("COMMIT", &[])])?;
        self.state.borrow_mut().begun = false;
        Ok(())
    }
}
