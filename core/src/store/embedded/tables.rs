//! The redb tables and what their values hold.

use redb::{TableDefinition, WriteTransaction};

/// (workspace, integration) → `Enablement`.
pub const ENABLEMENTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("enablements");
/// (workspace, integration) → `StoredCredential`.
pub const WORKSPACE_CREDENTIALS: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("workspace_credentials");
/// (workspace, integration, owner) → `ConnectionRecord`: one per member and
/// integration. Small, so that pages listing connections read dense pages.
pub const CONNECTIONS: TableDefinition<(&str, &str, &str), &[u8]> =
    TableDefinition::new("connections");
/// (workspace, integration, owner) → the connection's `Sealed` credential,
/// kept apart: a token set is several times the size of the rest.
pub const CONNECTION_SECRETS: TableDefinition<(&str, &str, &str), &[u8]> =
    TableDefinition::new("connection_secrets");
/// Facts about the file itself, e.g. `layout` → the version of its tables.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// connection id → (workspace, integration, owner), as JSON.
pub const CONNECTION_IDS: TableDefinition<&str, &[u8]> = TableDefinition::new("connection_ids");
/// (workspace, seq) → `audit::Record`.
pub const AUDIT: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("audit");
/// workspace → (seq, hash) of its newest audit record.
pub const AUDIT_HEADS: TableDefinition<&str, &[u8]> = TableDefinition::new("audit_heads");
/// (workspace, integration, user, day) → `usage::Tally`.
pub const USAGE: TableDefinition<(&str, &str, &str, u64), &[u8]> = TableDefinition::new("usage");
/// (workspace, month) → credits used.
pub const WORKSPACE_CREDITS: TableDefinition<(&str, u64), u64> =
    TableDefinition::new("workspace_credits");
/// OAuth `state` → `Flow`: a sign-in in progress, used once.
pub const OAUTH_FLOWS: TableDefinition<&str, &[u8]> = TableDefinition::new("oauth_flows");
/// session id → `SessionRecord`: a browser session, until it expires.
pub const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// workspace → monthly credit limit set by the host.
pub const CREDIT_LIMITS: TableDefinition<&str, u64> = TableDefinition::new("credit_limits");

/// Creates every table a new file needs.
pub fn create_all(tx: &WriteTransaction) -> Result<(), redb::TableError> {
    tx.open_table(ENABLEMENTS)?;
    tx.open_table(WORKSPACE_CREDENTIALS)?;
    tx.open_table(CONNECTIONS)?;
    tx.open_table(CONNECTION_SECRETS)?;
    tx.open_table(META)?;
    tx.open_table(CONNECTION_IDS)?;
    tx.open_table(AUDIT)?;
    tx.open_table(AUDIT_HEADS)?;
    tx.open_table(USAGE)?;
    tx.open_table(WORKSPACE_CREDITS)?;
    tx.open_table(CREDIT_LIMITS)?;
    tx.open_table(OAUTH_FLOWS)?;
    tx.open_table(SESSIONS)?;
    Ok(())
}
