//! Events across nodes: published through the `events` table and
//! `NOTIFY switchboard_events`, heard by every node's listener (the
//! publishing node's included) and handed to its local subscribers.

use super::{failed, pooled};
use crate::model::Event;
use crate::store::StoreError;
use crate::store::codec::{decode, encode};
use deadpool_postgres::Pool;
use futures::StreamExt;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_postgres::AsyncMessage;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The channel events are announced on.
const CHANNEL: &str = "switchboard_events";
/// How long published events are kept for late readers and claims.
const KEPT_MS: u64 = 60 * 60 * 1000;
/// The longest pause between attempts to listen again.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// Stores `event` and announces it, in one statement.
pub(super) async fn publish(pool: &Pool, event: &Event) -> Result<(), StoreError> {
    let client = pooled(pool).await?;
    let statement = client
        .prepare_cached(
            "WITH published AS ( \
                 INSERT INTO events (id, at_ms, record) VALUES ($1, $2, $3) RETURNING id \
             ), forgotten AS ( \
                 DELETE FROM events WHERE at_ms < $4 \
             ) \
             SELECT pg_notify('switchboard_events', id) FROM published",
        )
        .await
        .map_err(failed)?;
    let at = i64::try_from(event.at_ms).unwrap_or(i64::MAX);
    let forget_before = at.saturating_sub(KEPT_MS as i64);
    client
        .query(
            &statement,
            &[&event.id, &at, &encode(event), &forget_before],
        )
        .await
        .map_err(failed)?;
    Ok(())
}

/// Whether this node is the one to act on `id` (deliver its webhooks):
/// the first to ask, of every node.
pub(super) async fn claim(pool: &Pool, id: &str) -> Result<bool, StoreError> {
    let client = pooled(pool).await?;
    let statement = client
        .prepare_cached("UPDATE events SET claimed = true WHERE id = $1 AND NOT claimed")
        .await
        .map_err(failed)?;
    Ok(client.execute(&statement, &[&id]).await.map_err(failed)? == 1)
}

/// Listens for every node's events and hands them to `local`, for as long
/// as the runtime runs, listening again after a lost connection; says on
/// `listening` when it first listens. Events announced while no connection
/// listens are not heard here.
pub(super) async fn relay(
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    pool: Pool,
    local: broadcast::Sender<Event>,
    listening: tokio::sync::oneshot::Sender<()>,
) {
    let mut pause = Duration::from_millis(100);
    let mut listening = Some(listening);
    loop {
        let listened = listen(&config, &tls, &pool, &local, &mut listening).await;
        if let Err(e) = listened {
            tracing::warn!("events from other nodes are not heard: {e}; listening again");
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

async fn listen(
    config: &tokio_postgres::Config,
    tls: &MakeRustlsConnect,
    pool: &Pool,
    local: &broadcast::Sender<Event>,
    listening: &mut Option<tokio::sync::oneshot::Sender<()>>,
) -> Result<(), StoreError> {
    let (client, mut connection) = config.connect(tls.clone()).await.map_err(failed)?;
    let (announced, mut ids) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(n) = message
                && n.channel() == CHANNEL
                && announced.send(n.payload().to_owned()).is_err()
            {
                return;
            }
        }
    });
    client
        .batch_execute("LISTEN switchboard_events")
        .await
        .map_err(failed)?;
    if let Some(listening) = listening.take() {
        let _ = listening.send(());
    }
    while let Some(id) = ids.recv().await {
        let reader = pooled(pool).await?;
        let statement = reader
            .prepare_cached("SELECT record FROM events WHERE id = $1")
            .await
            .map_err(failed)?;
        let Some(row) = reader.query_opt(&statement, &[&id]).await.map_err(failed)? else {
            continue;
        };
        let bytes: &[u8] = row.try_get(0).map_err(failed)?;
        // No subscriber is fine: the host may not listen.
        let _ = local.send(decode("events", bytes)?);
    }
    Err(StoreError::Unavailable(
        "the listening connection closed".into(),
    ))
}
