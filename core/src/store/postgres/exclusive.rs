//! Sections one node at a time runs, cluster-wide: a session advisory lock
//! held on a pooled connection for as long as the section runs. A node
//! that dies holding one loses its connection, and the database releases
//! the lock with it.

use super::{failed, pooled};
use crate::store::StoreError;
use deadpool_postgres::{Object, Pool};
use tokio::runtime::Handle;

/// The advisory-lock space of exclusive sections (the first key of
/// `pg_advisory_lock(int, int)`; the second is the section name's hash).
const SECTIONS: i32 = 0x5357_4245;

/// An exclusive section's lock; released when dropped.
pub(super) struct Held {
    client: Option<Object>,
    name: String,
    handle: Handle,
}

/// Waits on the backend's runtime until this node holds `name`.
pub(super) async fn enter(pool: Pool, handle: Handle, name: String) -> Result<Held, StoreError> {
    let runtime = handle.clone();
    let (held, taken) = tokio::sync::oneshot::channel();
    runtime.spawn(async move {
        let locked = async {
            let client = pooled(&pool).await?;
            client
                .execute(
                    "SELECT pg_advisory_lock($1, hashtext($2))",
                    &[&SECTIONS, &name],
                )
                .await
                .map_err(failed)?;
            Ok(Held {
                client: Some(client),
                name,
                handle,
            })
        };
        // A caller that stopped waiting drops what it was sent: released.
        let _ = held.send(locked.await);
    });
    taken
        .await
        .map_err(|_| StoreError::Unavailable("the database runtime stopped".into()))?
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        let name = std::mem::take(&mut self.name);
        self.handle.spawn(async move {
            let unlocked = client
                .execute(
                    "SELECT pg_advisory_unlock($1, hashtext($2))",
                    &[&SECTIONS, &name],
                )
                .await;
            // A connection that cannot unlock must not go back to the pool
            // holding the lock: closing it releases the lock.
            if unlocked.is_err() {
                drop(Object::take(client));
            }
        });
    }
}
