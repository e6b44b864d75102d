//! The baseline of the HTTP benchmark (`core/benches/http/run`): the cost
//! of HTTP alone. A minimal axum handler answers `GET /page` with a fixed
//! JSON body, read once from a file (the Integrations page as
//! `switchboard serve --demo` answered it, so the body is byte for byte the
//! size of the real page), on tokio's default multi-thread runtime, as
//! `switchboard serve` builds its own (one worker per core).
//!
//! Usage: `fixed-page LISTEN_ADDR BODY_FILE`, e.g.
//! `fixed-page 127.0.0.1:18080 page.json`.

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use std::net::SocketAddr;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(file), None) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: fixed-page LISTEN_ADDR BODY_FILE");
        return ExitCode::FAILURE;
    };
    let listen: SocketAddr = match listen.parse() {
        Ok(addr) => addr,
        Err(e) => return fail(format!("`{listen}` is not an address: {e}")),
    };
    let body = match std::fs::read(&file) {
        Ok(bytes) => Bytes::from(bytes),
        Err(e) => return fail(format!("cannot read {file}: {e}")),
    };
    // The same runtime as `switchboard serve` (cli.rs): the default one.
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(serve(listen, body)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("serving on {listen} failed: {e}")),
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("fixed-page: {message}");
    ExitCode::FAILURE
}

/// Answers `GET /page` with `body` as JSON until the process is killed.
async fn serve(listen: SocketAddr, body: Bytes) -> std::io::Result<()> {
    // A clone of `Bytes` shares the buffer: no copy per request.
    let page = move || {
        let body = body.clone();
        async move {
            (
                [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                body,
            )
        }
    };
    let app = Router::new().route("/page", get(page));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, app).await
}
