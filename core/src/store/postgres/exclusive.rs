//! Sections one node at a time runs, cluster-wide: a session advisory lock
//! held on a connection of the section's own, outside the pool, for as
//! long as the section runs (a refresh waits on its token endpoint then;
//! the pool must stay free for everyone else). Dropping the section closes
//! the connection, which releases the lock; so does a node that dies.

use super::failed;
use crate::store::StoreError;
use tokio_postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The advisory-lock space of exclusive sections (the first key of
/// `pg_advisory_lock(int, int)`; the second is the section name's hash).
const SECTIONS: i32 = 0x5357_4245;

/// An exclusive section's lock, on its own connection; released when
/// dropped.
pub(super) struct Held {
    _client: Client,
}

/// Waits until this node holds `name` (30 seconds at most: a section
/// held longer than that is stuck, and the wait fails as unavailable).
pub(super) async fn enter(
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    name: String,
) -> Result<Held, StoreError> {
    let (client, connection) = config.connect(tls).await.map_err(failed)?;
    tokio::spawn(connection);
    client
        .batch_execute("SET lock_timeout = '30s'")
        .await
        .map_err(failed)?;
    client
        .execute(
            "SELECT pg_advisory_lock($1, hashtext($2))",
            &[&SECTIONS, &name],
        )
        .await
        .map_err(failed)?;
    Ok(Held { _client: client })
}
