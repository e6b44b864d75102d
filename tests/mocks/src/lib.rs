//! Loopback mocks of the services Switchboard's connectors call. They answer
//! as the real services do (bodies, status codes, error shapes, billing),
//! so tests and `switchboard serve --demo` exercise the real connectors.
//!
//! A mock serves HTTPS under the real host names (each module's `HOSTS`),
//! with a certificate from this process's test CA ([`tls::ca`]): a client
//! connects to [`Running::addr`] with the real name as SNI and trusts
//! [`tls::TestCa::pem`].

pub mod microsoft;
pub mod semrush;
pub mod tls;
pub mod zendesk;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

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

/// Serves `app` over HTTPS on a free loopback port, with a leaf certificate
/// for `names` (plus `localhost` and `127.0.0.1`) signed by [`tls::ca`].
/// A connection whose TLS handshake fails is closed and the mock goes on.
/// Dropping the [`Running`] closes open connections too.
pub async fn serve(app: Router, names: &[&str]) -> io::Result<Running> {
    let acceptor = TlsAcceptor::from(tls::ca().server_config(names)?);
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(accept_loop(listener, Some(acceptor), app));
    Ok(Running { addr, task })
}

/// Serves `app` over plain HTTP on a free loopback port: for pages a
/// browser opens (a sign-in page), which cannot trust the test CA.
pub async fn serve_for_browsers(app: Router) -> io::Result<Running> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(accept_loop(listener, None, app));
    Ok(Running { addr, task })
}

/// Accepts connections until the task is aborted; each is served in a task
/// of `connections`, so aborting this one closes them all.
async fn accept_loop(listener: TcpListener, acceptor: Option<TlsAcceptor>, app: Router) {
    let mut connections = JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors or the like: wait, don't spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        while connections.try_join_next().is_some() {}
        connections.spawn(connection(acceptor.clone(), app.clone(), stream));
    }
}

/// One connection: the TLS handshake if any, then HTTP/1.1 until either
/// side closes. Errors only end this connection.
async fn connection(acceptor: Option<TlsAcceptor>, app: Router, stream: TcpStream) {
    let http = hyper::server::conn::http1::Builder::new();
    let service = TowerToHyperService::new(app);
    let _ = match acceptor {
        Some(acceptor) => {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            http.serve_connection(TokioIo::new(tls), service).await
        }
        None => http.serve_connection(TokioIo::new(stream), service).await,
    };
}
