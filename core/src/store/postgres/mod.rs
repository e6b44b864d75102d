//! The shared backend: a PostgreSQL database that any number of engine
//! nodes use at once. Every guarantee the embedded backend gets from its
//! single writer, this one gets from the database: a write transaction
//! holds a transaction-scoped advisory lock on each workspace it touches,
//! so the writes of one workspace are serial across every node, and those
//! of different workspaces run side by side.
//!
//! The engine's storage interface is synchronous (redb answers in
//! microseconds); this backend drives its async driver on a runtime of its
//! own and waits for it, off the caller's runtime where that can be done.

mod events;
mod exclusive;
mod migrations;
mod txn;

use super::{Backend, Exclusive, Read, StoreError, Write};
use crate::model::Event;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::runtime::{Handle, Runtime, RuntimeFlavor};
use tokio::sync::broadcast;
use tokio_postgres_rustls::MakeRustlsConnect;

/// Connections one node keeps to the database at most.
const POOL_SIZE: usize = 16;
/// How long a caller waits for a free connection, or for a new one to be
/// made, before the call fails as unavailable.
const POOL_WAIT: Duration = Duration::from_secs(5);

/// A PostgreSQL database.
pub(super) struct Postgres {
    /// Runs the driver's connections; shut down in the background on drop,
    /// which may happen inside the caller's own runtime.
    runtime: Option<Runtime>,
    handle: Handle,
    pool: Pool,
    /// This node's subscribers.
    local: events::Local,
    /// For connections of their own (exclusive sections, the listener).
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    /// Round trips to the database so far, each a wait for its answers:
    /// what scaling out costs, counted (see [`Backend::round_trips`]). A
    /// statement's first use on a connection prepares it, one more each
    /// time; those are not counted.
    round_trips: AtomicU64,
}

impl Postgres {
    /// Connects, and brings the database's tables to this release's
    /// version (refusing a database a newer release has written). Every
    /// node's events are handed to `events` from then on.
    pub(super) fn open(url: &str, events: broadcast::Sender<Event>) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e: tokio_postgres::Error| {
                StoreError::Backend(format!("the PostgreSQL URL is not valid: {e}").into())
            })?;
        // A server that vanishes (a failover, a cut cable) is noticed in
        // seconds, not when the kernel gives up on the socket.
        config
            .connect_timeout(POOL_WAIT)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("switchboard-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let tls = tls()?;
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                // A connection the database dropped is noticed and replaced.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = {
            let _context = runtime.enter();
            Pool::builder(manager)
                .max_size(POOL_SIZE)
                .wait_timeout(Some(POOL_WAIT))
                .create_timeout(Some(POOL_WAIT))
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .build()
                .map_err(|e| StoreError::Backend(Box::new(e)))?
        };
        let postgres = Postgres {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            pool,
            config: config.clone(),
            tls: tls.clone(),
            local: events::Local::new(events),
            round_trips: AtomicU64::new(0),
        };
        postgres.wait(async {
            let mut client = pooled(&postgres.pool).await?;
            migrations::apply(&mut client).await
        })?;
        // Open once this node hears every event published from now on.
        let (listening, heard) = tokio::sync::oneshot::channel();
        postgres.handle.spawn(events::relay(
            config,
            tls,
            postgres.pool.clone(),
            postgres.local.clone(),
            listening,
        ));
        postgres.wait(async {
            tokio::time::timeout(POOL_WAIT, heard)
                .await
                .ok()
                .and_then(Result::ok)
                .ok_or_else(|| StoreError::Unavailable("cannot listen for events".into()))
        })?;
        Ok(postgres)
    }

    /// Runs `work` on this thread, its I/O driven by this backend's
    /// runtime, and waits for it. On a multi-thread runtime the caller's
    /// worker is handed back first, so other tasks go on while this one
    /// waits for the database.
    fn wait<F: Future>(&self, work: F) -> F::Output {
        let run = || {
            let _context = self.handle.enter();
            // Unconstrained: tokio's cooperative budget belongs to the task
            // that called the store, and a resource that found it spent
            // would defer its wake-up to that task's scheduler, which does
            // not run while this thread waits.
            futures::executor::block_on(tokio::task::coop::unconstrained(work))
        };
        match Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(run),
            _ => run(),
        }
    }

    fn count_round_trips(&self, n: usize) {
        self.round_trips.fetch_add(n as u64, Ordering::Relaxed);
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// TLS as `sslmode` in the URL asks (`prefer` when it says nothing: TLS
/// when the server offers it), the server's certificate checked against
/// the system's roots (with `SSL_CERT_FILE`, a private authority's).
fn tls() -> Result<MakeRustlsConnect, StoreError> {
    use rustls_platform_verifier::ConfigVerifierExt;
    crate::net::install_crypto();
    let config = rustls::ClientConfig::with_platform_verifier()
        .map_err(|e| StoreError::Backend(Box::new(e)))?;
    Ok(MakeRustlsConnect::new(config))
}

/// A connection from `pool`: `Unavailable` when none can be had in time,
/// the server's own refusal (a wrong password, no such database) otherwise.
async fn pooled(pool: &Pool) -> Result<Object, StoreError> {
    use deadpool_postgres::PoolError;
    pool.get().await.map_err(|e| match e {
        PoolError::Backend(e) => failed(e),
        e => StoreError::Unavailable(format!("no database connection: {e}")),
    })
}

impl Backend for Postgres {
    fn publish(&self, event: &Event, _local: &broadcast::Sender<Event>) -> Result<(), StoreError> {
        self.local.publishing(event);
        self.wait(events::publish(&self.pool, event))?;
        self.local.published(event);
        Ok(())
    }

    fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.wait(async {
            let client = pooled(&self.pool).await?;
            client.simple_query("SELECT 1").await.map_err(failed)?;
            Ok(())
        })
    }

    fn exclusive(
        &self,
        name: &str,
    ) -> futures::future::BoxFuture<'static, Result<Exclusive, StoreError>> {
        let entered = self.handle.spawn(exclusive::enter(
            self.config.clone(),
            self.tls.clone(),
            name.to_owned(),
        ));
        Box::pin(async move {
            let entered = async {
                entered
                    .await
                    .map_err(|_| StoreError::Unavailable("the database runtime stopped".into()))?
            };
            Ok(Exclusive {
                _held: Some(Box::new(entered.await?)),
            })
        })
    }

    fn claim_event(&self, id: &str) -> Result<bool, StoreError> {
        self.wait(events::claim(&self.pool, id))
    }

    fn sole_writer(&self) -> bool {
        // Every node writes to the database.
        false
    }

    fn snapshot(&self) -> Result<Box<dyn Read + '_>, StoreError> {
        let client = self.wait(pooled(&self.pool))?;
        Ok(Box::new(txn::Txn::new(self, client, txn::Kind::Snapshot)))
    }

    fn transaction(&self) -> Result<Box<dyn Write + '_>, StoreError> {
        let client = self.wait(pooled(&self.pool))?;
        Ok(Box::new(txn::Txn::new(self, client, txn::Kind::Write)))
    }
}

/// A driver error as a storage error: a connection that broke, a database
/// shutting down or starting, or a transaction that lost a race (deadlock,
/// lock timeout) means it is unavailable for now (callers may retry);
/// anything else is a backend failure.
fn failed(e: tokio_postgres::Error) -> StoreError {
    use tokio_postgres::error::SqlState;
    let broken = e.is_closed()
        || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>())
        || e.code().is_some_and(|code| {
            code.code().starts_with("08")
                || [
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                    // Transient: the same call may succeed when tried again.
                    SqlState::T_R_DEADLOCK_DETECTED,
                    SqlState::T_R_SERIALIZATION_FAILURE,
                    SqlState::LOCK_NOT_AVAILABLE,
                    SqlState::QUERY_CANCELED,
                ]
                .contains(code)
        });
    if broken {
        StoreError::Unavailable(format!("the database connection failed: {e}"))
    } else {
        StoreError::Backend(Box::new(e))
    }
}
