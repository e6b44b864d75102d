//! Loopback mocks of the services Switchboard's connectors call. They answer
//! as the real services do (bodies, status codes, error shapes, billing),
//! so tests and `switchboard serve --demo` exercise the real connectors.

pub mod microsoft;
pub mod semrush;

use std::net::SocketAddr;
use tokio::task::JoinHandle;

/// A mock listening on a loopback port; it stops when dropped.
pub struct Running {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `app` on a free loopback port.
pub async fn serve(app: axum::Router) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Running { addr, task })
}
