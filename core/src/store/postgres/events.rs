//! Events across nodes: published through the `events` table and
//! `NOTIFY switchboard_events`, heard by every other node's listener and
//! handed to its subscribers. The publishing node hands its own events to
//! its subscribers at once (as a single process does), and its listener
//! skips them when they come back.

use super::{failed, pooled};
use crate::model::Event;
use crate::store::StoreError;
use crate::store::codec::{decode, encode};
use deadpool_postgres::Pool;
use futures::StreamExt;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
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
/// This node's own events remembered, to skip when they come back.
const OWN_KEPT: usize = 4096;

/// This node's subscribers, and the ids of the events it published.
#[derive(Clone)]
pub(super) struct Local {
    subscribers: broadcast::Sender<Event>,
    own: Arc<Mutex<VecDeque<String>>>,
}

impl Local {
    pub(super) fn new(subscribers: broadcast::Sender<Event>) -> Self {
        Local {
            subscribers,
            own: Arc::default(),
        }
    }

    /// Notes an event this node is about to publish, before it can come
    /// back through the listener.
    pub(super) fn publishing(&self, event: &Event) {
        let mut own = self.own.lock().unwrap_or_else(|e| e.into_inner());
        if own.len() == OWN_KEPT {
            own.pop_front();
        }
        own.push_back(event.id.clone());
    }

    /// Hands an event this node published to its subscribers now.
    pub(super) fn published(&self, event: &Event) {
        // No subscriber is fine: the host may not listen.
        let _ = self.subscribers.send(event.clone());
    }

    /// Whether `id` is one of this node's own (forgotten once heard back).
    fn is_own(&self, id: &str) -> bool {
        let mut own = self.own.lock().unwrap_or_else(|e| e.into_inner());
        match own.iter().position(|o| o == id) {
            Some(at) => {
                own.remove(at);
                true
            }
            None => false,
        }
    }
}

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
             SELECT pg_notify($5, id) FROM published",
        )
        .await
        .map_err(failed)?;
    let at = i64::try_from(event.at_ms).unwrap_or(i64::MAX);
    let forget_before = at.saturating_sub(KEPT_MS as i64);
    client
        .query(
            &statement,
            &[&event.id, &at, &encode(event), &forget_before, &CHANNEL],
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
/// as the runtime runs; says on `listening` when it first listens. After a
/// lost connection it listens again and first hands over what was
/// published meanwhile (from the `events` table), so a database restart
/// loses no event for this node's subscribers.
pub(super) async fn relay(
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    pool: Pool,
    local: Local,
    listening: tokio::sync::oneshot::Sender<()>,
) {
    let mut pause = Duration::from_millis(100);
    let mut listening = Some(listening);
    let mut heard = Heard::default();
    loop {
        let started = tokio::time::Instant::now();
        let listened = listen(&config, &tls, &pool, &local, &mut listening, &mut heard).await;
        if let Err(e) = listened {
            tracing::warn!("events from other nodes are not heard: {e}; listening again");
        }
        // A listener that lasted starts over from a short pause.
        if started.elapsed() > MAX_PAUSE * 2 {
            pause = Duration::from_millis(100);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// What the listener has handed over: the newest event's time, and the
/// recent ids, so that an event both replayed and announced goes once.
#[derive(Default)]
struct Heard {
    newest_at_ms: Option<i64>,
    recent: VecDeque<String>,
}

/// This node's clock, as events carry it (Unix milliseconds).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// How far back of the newest event heard a replay looks: nodes' clocks
/// differ, and ids weed out what was heard already.
const REPLAY_MARGIN_MS: i64 = 60_000;

impl Heard {
    /// Whether `id` is new, remembering it.
    fn first(&mut self, id: &str, at_ms: i64) -> bool {
        if self.recent.iter().any(|r| r == id) {
            return false;
        }
        if self.recent.len() == OWN_KEPT {
            self.recent.pop_front();
        }
        self.recent.push_back(id.to_owned());
        self.newest_at_ms = self.newest_at_ms.max(Some(at_ms));
        true
    }
}

async fn listen(
    config: &tokio_postgres::Config,
    tls: &MakeRustlsConnect,
    pool: &Pool,
    local: &Local,
    listening: &mut Option<tokio::sync::oneshot::Sender<()>>,
    heard: &mut Heard,
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
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .map_err(failed)?;
    let since = heard
        .newest_at_ms
        .unwrap_or_else(now_ms)
        .saturating_sub(REPLAY_MARGIN_MS);
    let reader = pooled(pool).await?;
    let missed = reader
        .query(
            "SELECT id, at_ms, record FROM events WHERE at_ms >= $1 ORDER BY at_ms, id",
            &[&since],
        )
        .await
        .map_err(failed)?;
    drop(reader);
    match listening.take() {
        // From now on: what is already there was published before this
        // node listened, and is only noted.
        Some(listening) => {
            for row in &missed {
                heard.first(
                    &row.try_get::<_, String>(0).map_err(failed)?,
                    row.try_get(1).map_err(failed)?,
                );
            }
            heard.newest_at_ms = heard.newest_at_ms.max(Some(now_ms()));
            let _ = listening.send(());
        }
        // Listening again: what was published meanwhile goes out now.
        None => {
            for row in &missed {
                let id: String = row.try_get(0).map_err(failed)?;
                let at_ms: i64 = row.try_get(1).map_err(failed)?;
                hand_over(local, heard, &id, at_ms, row.try_get(2).map_err(failed)?)?;
            }
        }
    }
    while let Some(id) = ids.recv().await {
        let reader = pooled(pool).await?;
        let statement = reader
            .prepare_cached("SELECT at_ms, record FROM events WHERE id = $1")
            .await
            .map_err(failed)?;
        let Some(row) = reader.query_opt(&statement, &[&id]).await.map_err(failed)? else {
            continue;
        };
        let at_ms: i64 = row.try_get(0).map_err(failed)?;
        hand_over(local, heard, &id, at_ms, row.try_get(1).map_err(failed)?)?;
    }
    Err(StoreError::Unavailable(
        "the listening connection closed".into(),
    ))
}

/// Hands a stored event to this node's subscribers, unless it is one of
/// this node's own (handed over when published) or was handed over already.
fn hand_over(
    local: &Local,
    heard: &mut Heard,
    id: &str,
    at_ms: i64,
    record: &[u8],
) -> Result<(), StoreError> {
    if heard.first(id, at_ms) && !local.is_own(id) {
        // No subscriber is fine: the host may not listen.
        let _ = local.subscribers.send(decode("events", record)?);
    }
    Ok(())
}
