//! How connections are taken in, so a slow or hostile client cannot hold
//! the service: a request's headers must arrive within a time, its body
//! within another, and at most so many connections are open at once;
//! one past that is answered at once with a 503 problem and closed. A
//! connection that sends nothing is closed when its header time is up, so
//! after an attack the slots come back by themselves.

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// The bounds on each connection.
#[derive(Debug, Clone, Copy)]
pub struct EdgeLimits {
    /// How long a request's headers may take to arrive (also how long an
    /// idle connection stays open).
    pub header_read: Duration,
    /// How long a request's body may take to arrive.
    pub body_read: Duration,
    /// How many connections may be open at once.
    pub max_connections: usize,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        EdgeLimits {
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(30),
            max_connections: 512,
        }
    }
}

/// How long connections in flight may take to finish once shutdown begins.
const DRAIN: Duration = Duration::from_secs(10);

/// The problem a connection past the cap reads before it is closed.
const FULL: &str = r#"{"type":"about:blank","title":"Too many connections","status":503,"detail":"the service has as many connections as it takes; try again shortly"}"#;

/// Serves `app` on `listener` within `limits` until `shutdown` resolves,
/// then lets the connections in flight finish (up to ten seconds).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: EdgeLimits,
    shutdown: impl Future<Output = ()>,
) {
    let app = app.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        limits.body_read,
    ));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors or the like: wait, don't spin.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away or times out only ends its connection.
            let _ = connection.await;
            drop(slot);
        });
    }
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {DRAIN:?}; closing them");
    }
}

/// Tells a connection past the cap to come back, and closes it.
async fn refuse(mut stream: TcpStream) {
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{FULL}",
        FULL.len()
    );
    let answer = async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_problem_document() {
        let problem: serde_json::Value = serde_json::from_str(FULL).unwrap_or_default();
        assert_eq!(problem["status"], 503);
    }
}
