//! The service while its engine opens. It listens at once, so the host and
//! a load balancer see it coming up rather than a refused connection:
//! `/healthz` answers, `/readyz` says 503 with the components still
//! loading, and everything else is 503 "Starting" with a `Retry-After`.

use super::ServeError;
use super::handlers::Ready;
use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use std::net::SocketAddr;

/// The bound address, kept open from start-up to shutdown.
pub struct Listener {
    socket: std::net::TcpListener,
    addr: SocketAddr,
}

impl Listener {
    /// Binds `addr` now, before anything slow happens.
    pub fn bind(addr: SocketAddr) -> Result<Self, ServeError> {
        let listen = |source| ServeError::Listen { addr, source };
        let socket = std::net::TcpListener::bind(addr).map_err(listen)?;
        socket.set_nonblocking(true).map_err(listen)?;
        let addr = socket.local_addr().map_err(listen)?;
        Ok(Listener { socket, addr })
    }

    /// A handle for tokio on the same socket: connections that arrive
    /// between the two servers wait in its backlog.
    pub(super) fn tokio(&self) -> Result<tokio::net::TcpListener, ServeError> {
        let listen = |source| ServeError::Listen {
            addr: self.addr,
            source,
        };
        tokio::net::TcpListener::from_std(self.socket.try_clone().map_err(listen)?).map_err(listen)
    }
}

/// The start-up server, until [`Starting::finish`].
pub struct Starting {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Starting {
    /// Answers on `listener` while `loading` (the component files) load.
    pub fn serve(
        listener: &Listener,
        loading: Vec<String>,
        limits: super::edge::EdgeLimits,
    ) -> Result<Self, ServeError> {
        let ready = Ready {
            plugins: 0,
            policies: 0,
            loading,
            refused: Vec::new(),
            storage: "opening".to_owned(),
        };
        let app = axum::Router::new()
            .route("/healthz", axum::routing::get(|| async { "ok" }))
            .route(
                "/readyz",
                axum::routing::get(move || async move {
                    (StatusCode::SERVICE_UNAVAILABLE, Json(ready.clone()))
                }),
            )
            .fallback(|| async {
                let mut response = super::problem::Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Starting",
                    "Switchboard is loading its plugins; try again in a moment",
                )
                .into_response();
                response
                    .headers_mut()
                    .insert("retry-after", axum::http::HeaderValue::from_static("1"));
                response
            });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = super::edge::serve(listener.tokio()?, app, limits, async {
            let _ = stopped.await;
        });
        tracing::info!(listen = %listener.addr, "listening; loading plugins");
        let task = tokio::spawn(server);
        Ok(Starting { stop, task })
    }

    /// Stops answering, once requests in flight are answered.
    pub async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
