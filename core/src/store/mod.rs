//! The engine's state, behind one interface: [`Read`] for what a snapshot
//! sees, [`Write`] for what a write transaction changes. Every state change
//! is one [`Store::write`] that also appends its audit record; reads see
//! one consistent snapshot ([`Store::read`]). The engine never learns which
//! backend runs: [`Store::open`] opens the embedded redb file (`embedded`,
//! one process) or a PostgreSQL database (`postgres`, any number of nodes).

mod codec;
mod embedded;
mod location;
mod postgres;
mod records;
pub mod transfer;

use crate::audit::{Entry, Filter, Page, Record};
use crate::model::{ConnectionId, Enablement, Event, IntegrationId, UserId, WorkspaceId};
use crate::usage::{self, Tally};
use crate::vault::Sealed;
use crate::{Error, Result};
pub use location::Location;
pub use records::{
    CallRecords, ConnectionRecord, Flow, MemberRecords, SealedRef, SessionRecord, StoredConnection,
    StoredCredential, TeamRecords,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::broadcast;

/// A storage failure. It never carries a secret; it may name a file, a
/// table or a database host, so it is logged rather than shown to API
/// callers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (I/O, a full disk, a lock).
    #[error("storage failure: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database cannot be reached now (a connection broke, none could
    /// be made, or the server is shutting down); a later call may succeed.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The data file to open is not there.
    #[error("{} does not exist", .0.display())]
    Missing(std::path::PathBuf),
    /// A stored record did not decode.
    #[error("a stored record could not be read ({table}): {reason}")]
    Corrupt {
        /// Where the record lives.
        table: &'static str,
        /// What was wrong with it.
        reason: String,
    },
}

/// What a snapshot of the state answers; a write transaction sees its own
/// writes.
pub trait Read {
    /// An integration's enablement in a workspace.
    fn enablement(
        &self,
        workspace: &str,
        integration: &str,
    ) -> Result<Option<Enablement>, StoreError>;
    /// The workspace's enablements, by integration.
    fn enablements_of(&self, workspace: &str) -> Result<HashMap<String, Enablement>, StoreError>;
    /// An integration's shared credential in a workspace.
    fn workspace_credential(
        &self,
        workspace: &str,
        integration: &str,
    ) -> Result<Option<StoredCredential>, StoreError>;
    /// The workspace's shared credentials, by integration.
    fn workspace_credentials_of(
        &self,
        workspace: &str,
    ) -> Result<HashMap<String, StoredCredential>, StoreError>;
    /// The integrations that have a shared credential in the workspace,
    /// without reading the credentials.
    fn integrations_with_credentials(&self, workspace: &str)
    -> Result<HashSet<String>, StoreError>;
    /// A member's connection to an integration, with its credential.
    fn connection_of(
        &self,
        workspace: &str,
        integration: &str,
        owner: &str,
    ) -> Result<Option<StoredConnection>, StoreError>;
    /// A member's connection without its credential, for showing it.
    fn connection_record(
        &self,
        workspace: &str,
        integration: &str,
        owner: &str,
    ) -> Result<Option<ConnectionRecord>, StoreError>;
    /// A connection by id, with its credential.
    fn connection(&self, id: &ConnectionId) -> Result<Option<StoredConnection>, StoreError>;
    /// Every member's connection to an integration in a workspace.
    fn connections(
        &self,
        workspace: &str,
        integration: &str,
    ) -> Result<Vec<StoredConnection>, StoreError>;
    /// Every member's connection to an integration, without credentials,
    /// for counting and showing them.
    fn connection_records(
        &self,
        workspace: &str,
        integration: &str,
    ) -> Result<Vec<ConnectionRecord>, StoreError>;
    /// A workspace's audit records, newest first, older than `before`.
    fn audit_page(
        &self,
        workspace: &str,
        filter: &Filter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Page, StoreError>;
    /// Every workspace that has audit records.
    fn audited_workspaces(&self) -> Result<Vec<WorkspaceId>, StoreError>;
    /// A workspace's audit records, oldest first.
    fn audit_all(&self, workspace: &str) -> Result<Vec<Record>, StoreError>;
    /// Usage counters of a workspace for days in `[from_day, to_day)`,
    /// one per member, integration and day.
    fn usage(
        &self,
        workspace: &str,
        from_day: u64,
        to_day: u64,
    ) -> Result<Vec<(IntegrationId, UserId, u64, Tally)>, StoreError>;
    /// Credits a workspace used in a month ([`usage::month_of_day`]).
    fn workspace_credits(&self, workspace: &str, month: u64) -> Result<u64, StoreError>;
    /// The monthly credit limit the host set for a workspace.
    fn credit_limit(&self, workspace: &str) -> Result<Option<u64>, StoreError>;
    /// Up to `limit` secrets not sealed under `key_id`.
    fn secrets_not_under(&self, key_id: &str, limit: usize) -> Result<Vec<SealedRef>, StoreError>;
    /// How many secrets are sealed under each key id.
    fn sealed_key_ids(&self) -> Result<BTreeMap<String, usize>, StoreError>;
    /// A browser session by id.
    fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;

    /// What an integration call reads (a database answers it in one
    /// round trip).
    fn call_records(
        &self,
        workspace: &str,
        integration: &str,
        owner: &str,
        month: u64,
    ) -> Result<CallRecords, StoreError> {
        Ok(CallRecords {
            enablement: self.enablement(workspace, integration)?,
            workspace_credential: self.workspace_credential(workspace, integration)?,
            connection: self.connection_of(workspace, integration, owner)?,
            credits_used: self.workspace_credits(workspace, month)?,
            credit_limit: self.credit_limit(workspace)?,
        })
    }

    /// What the Team Integrations page reads for `integrations` (a
    /// database answers it in one round trip).
    fn team_records(
        &self,
        workspace: &str,
        integrations: &[&str],
    ) -> Result<TeamRecords, StoreError> {
        let mut connections = HashMap::new();
        for integration in integrations {
            let records = self.connection_records(workspace, integration)?;
            connections.insert((*integration).to_owned(), records);
        }
        Ok(TeamRecords {
            enablements: self.enablements_of(workspace)?,
            credentials: self.workspace_credentials_of(workspace)?,
            connections,
        })
    }

    /// What the Integrations page reads for one member of `integrations`
    /// (a database answers it in one round trip).
    fn member_records(
        &self,
        workspace: &str,
        owner: &str,
        integrations: &[&str],
    ) -> Result<MemberRecords, StoreError> {
        let mut connections = HashMap::new();
        for integration in integrations {
            if let Some(record) = self.connection_record(workspace, integration, owner)? {
                connections.insert((*integration).to_owned(), record.connection);
            }
        }
        Ok(MemberRecords {
            enablements: self.enablements_of(workspace)?,
            with_credentials: self.integrations_with_credentials(workspace)?,
            connections,
        })
    }
}

/// What a write transaction changes, on top of what it reads.
pub trait Write: Read {
    /// Says which workspace the transaction changes, before it reads
    /// anything: a backend that serialises each workspace's changes across
    /// nodes takes its turn in that order (one process needs nothing).
    fn changes(&mut self, _workspace: &str) -> Result<(), StoreError> {
        Ok(())
    }
    /// Appends an audit record to the workspace's hash chain.
    fn audit(
        &mut self,
        workspace: &WorkspaceId,
        at_ms: u64,
        entry: Entry,
    ) -> Result<Record, StoreError>;
    /// Sets (`Some`) or removes (`None`) an integration's enablement.
    fn set_enablement(
        &mut self,
        workspace: &str,
        integration: &str,
        enablement: Option<&Enablement>,
    ) -> Result<(), StoreError>;
    /// Sets or removes a shared credential; says whether one was there.
    fn set_workspace_credential(
        &mut self,
        workspace: &str,
        integration: &str,
        credential: Option<&StoredCredential>,
    ) -> Result<bool, StoreError>;
    /// Saves a connection and its credential (new or replaced).
    fn put_connection(&mut self, stored: &StoredConnection) -> Result<(), StoreError>;
    /// Deletes a connection and its credential.
    fn remove_connection(&mut self, stored: &StoredConnection) -> Result<(), StoreError>;
    /// Adds usage counters, and each workspace's credits for the month.
    fn add_usage(&mut self, counters: &HashMap<usage::Key, Tally>) -> Result<(), StoreError>;
    /// Saves a sign-in under its `state`, forgetting expired ones.
    fn put_flow(&mut self, state: &str, flow: &Flow, now_ms: u64) -> Result<(), StoreError>;
    /// Removes and returns a sign-in: a `state` works once.
    fn take_flow(&mut self, state: &str) -> Result<Option<Flow>, StoreError>;
    /// Saves a browser session, forgetting sessions expired by `now_ms`.
    fn put_session(
        &mut self,
        id: &str,
        record: &SessionRecord,
        now_ms: u64,
    ) -> Result<(), StoreError>;
    /// Puts an audit record where it was in its workspace's chain (moving
    /// state between backends): the record is kept as it is, hash and all.
    fn put_audit(&mut self, record: &Record) -> Result<(), StoreError>;
    /// Deletes a browser session; says whether there was one.
    fn remove_session(&mut self, id: &str) -> Result<bool, StoreError>;
    /// Sets or clears a workspace's monthly credit limit.
    fn set_credit_limit(&mut self, workspace: &str, limit: Option<u64>) -> Result<(), StoreError>;
    /// Replaces a secret's sealed bytes if they are still those read;
    /// says whether it did (a concurrent change wins).
    fn reseal(&mut self, secret: &SealedRef, resealed: Sealed) -> Result<bool, StoreError>;
    /// Marks members' connections, by (workspace, integration, owner), as
    /// used at `at_ms`, changing nothing else of them (a key rotation may
    /// be re-sealing their credentials meanwhile).
    fn mark_used(
        &mut self,
        connections: &[(&str, &str, &str)],
        at_ms: u64,
    ) -> Result<(), StoreError> {
        for &(workspace, integration, owner) in connections {
            if let Some(mut stored) = self.connection_of(workspace, integration, owner)? {
                stored.connection.last_used_at_ms = Some(at_ms);
                self.put_connection(&stored)?;
            }
        }
        Ok(())
    }
    /// Makes every change of the transaction durable, at once.
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// A storage backend: where snapshots and write transactions come from,
/// and how events reach every subscriber of every node.
trait Backend: Send + Sync {
    /// Hands `event` to the subscribers of every node using this state
    /// (one process's, `local`, for a file).
    fn publish(&self, event: &Event, local: &broadcast::Sender<Event>) -> Result<(), StoreError> {
        // No subscriber is fine: the host may not listen.
        let _ = local.send(event.clone());
        Ok(())
    }
    /// Whether the state can be reached (a file, once open, always can).
    fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Round trips to a database server so far (a file has none).
    fn round_trips(&self) -> u64 {
        0
    }
    /// Waits until this node alone runs the section `name`, of every node
    /// (one process needs no more than its own lock).
    fn exclusive(
        &self,
        _name: &str,
    ) -> futures::future::BoxFuture<'static, Result<Exclusive, StoreError>> {
        Box::pin(std::future::ready(Ok(Exclusive { _held: None })))
    }
    /// Whether this node is the one to act on the event `id` (deliver its
    /// webhooks); with one process, it always is.
    fn claim_event(&self, _id: &str) -> Result<bool, StoreError> {
        Ok(true)
    }
    /// Whether every write to the state goes through this process (a data
    /// file, which only one process opens), so that it sees each one.
    fn sole_writer(&self) -> bool {
        true
    }
    fn snapshot(&self) -> Result<Box<dyn Read + '_>, StoreError>;
    fn transaction(&self) -> Result<Box<dyn Write + '_>, StoreError>;
}

/// A section one node at a time runs, for as long as this is held.
pub struct Exclusive {
    /// The backend's lock, released by its own `Drop`.
    _held: Option<Box<dyn Send + Sync>>,
}

/// Events kept for slow subscribers before the oldest are dropped.
const EVENT_BACKLOG: usize = 1024;

/// The engine's state, and the events about its changes.
pub struct Store {
    backend: Box<dyn Backend>,
    events: broadcast::Sender<Event>,
    /// Write transactions committed by this process, counted after each
    /// commit.
    commits: AtomicU64,
}

impl Store {
    /// Opens the state where it lives, creating its tables if needed and
    /// migrating what an earlier release wrote: a redb data file, or a
    /// PostgreSQL database.
    pub fn open(location: impl Into<Location>) -> Result<Self, StoreError> {
        let (events, _) = broadcast::channel(EVENT_BACKLOG);
        let backend: Box<dyn Backend> = match location.into() {
            Location::File(path) => Box::new(embedded::Embedded::open(&path)?),
            Location::Postgres(url) => {
                Box::new(postgres::Postgres::open(url.expose(), events.clone())?)
            }
        };
        Ok(Store {
            backend,
            events,
            commits: AtomicU64::new(0),
        })
    }

    /// Waits until this node alone, of every node on this state, runs the
    /// section `name` (e.g. one connection's token refresh); it ends when
    /// the returned value is dropped. Within one node, callers must take
    /// turns first by their own means: this orders nodes, not tasks.
    pub async fn exclusive(&self, name: &str) -> Result<Exclusive, StoreError> {
        self.backend.exclusive(name).await
    }

    /// Round trips to the database server so far, each a wait for answers
    /// (not counting the preparation of a statement on its first use on a
    /// pooled connection); 0 on a data file.
    pub fn round_trips(&self) -> u64 {
        self.backend.round_trips()
    }

    /// Whether the state can be reached now.
    pub fn ping(&self) -> Result<(), StoreError> {
        self.backend.ping()
    }

    /// Events about changes, from every node, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Tells every node's subscribers about a committed change. Events are
    /// for what is live: one that cannot be published is logged, and the
    /// change it reports stands.
    pub fn publish(&self, event: &Event) {
        if let Err(e) = self.backend.publish(event, &self.events) {
            tracing::warn!(event = %event.id, "an event was not published: {e}");
        }
    }

    /// Whether this node is the one to act on the event `id`, of all the
    /// nodes that heard it.
    pub fn claim_event(&self, id: &str) -> Result<bool, StoreError> {
        self.backend.claim_event(id)
    }

    /// Reads from one consistent snapshot.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&dyn Read) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        f(self.backend.snapshot()?.as_ref())
    }

    /// Runs `f` in one write transaction. A storage error (from `f` or the
    /// commit) rolls everything back; any other outcome of `f`, a refusal
    /// included, commits what it wrote, so a refusal's own audit record is
    /// kept. Refuse before writing anything else.
    pub fn write<T>(&self, f: impl FnOnce(&mut dyn Write) -> Result<T>) -> Result<T> {
        let mut transaction = self.backend.transaction()?;
        let outcome = f(transaction.as_mut());
        if let Err(Error::Store(_)) = outcome {
            // Dropped uncommitted: rolled back.
            return outcome;
        }
        // Counted even if the commit reports a failure: what was read
        // before may be stale either way.
        let committed = transaction.commit();
        self.commits.fetch_add(1, Ordering::Release);
        committed?;
        outcome
    }

    /// How many write transactions have committed, when every write goes
    /// through this process; `None` when other nodes write too. What was
    /// read after this said `n` still holds while it says `n`: read it
    /// before reading what is to be kept.
    pub fn commits_seen(&self) -> Option<u64> {
        self.backend
            .sole_writer()
            .then(|| self.commits.load(Ordering::Acquire))
    }
}
