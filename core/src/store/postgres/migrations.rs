//! Versioned migrations, applied in order when a node starts. Each runs in
//! its own transaction and is recorded in `schema_migrations`; nodes
//! starting together take turns under an advisory lock, so each migration
//! runs once. A database a newer release has migrated is refused: this
//! release would misread its tables.

use super::failed;
use crate::store::StoreError;
use deadpool_postgres::Object;

/// Every migration this release knows, by version, oldest first.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("migrations/0001_tables.sql")),
    (2, include_str!("migrations/0002_events.sql")),
];

/// The advisory lock nodes take turns under while migrating.
const MIGRATION_LOCK: i64 = 0x5357_4244_0000_0001;

/// Brings the database to the newest version this release knows.
pub(super) async fn apply(client: &mut Object) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(failed)?;
    let applied = apply_missing(client).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(failed);
    applied.and(unlocked.map(drop))
}

async fn apply_missing(client: &mut Object) -> Result<(), StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    integer     PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(failed)?;
    let newest: Option<i32> = client
        .query_one("SELECT max(version) FROM schema_migrations", &[])
        .await
        .map_err(failed)?
        .try_get(0)
        .map_err(failed)?;
    let newest = newest.unwrap_or(0);
    let known = MIGRATIONS.last().map_or(0, |(version, _)| *version);
    if newest > known {
        return Err(StoreError::Corrupt {
            table: "schema_migrations",
            reason: format!(
                "the database is at version {newest}, newer than this release knows \
                 ({known}); run the release that migrated it"
            ),
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > newest) {
        let tx = client.transaction().await.map_err(failed)?;
        tx.batch_execute(sql).await.map_err(failed)?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[version],
        )
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        tracing::info!(version, "database migrated");
    }
    Ok(())
}
