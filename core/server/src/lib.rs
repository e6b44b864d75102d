//! The HTTP/JSON API over [`Engine`] (`switchboard serve`): every operation,
//! a service token for the host application, the actor it vouches for in
//! headers, RFC 9457 problems, server-sent events, and an OpenAPI 3.1
//! document generated from the same table that builds the routes.

mod acting;
mod api;
mod browser;
mod console;
pub mod demo;
pub mod edge;
mod handlers;
mod problem;
mod sessions;
pub mod starting;
pub mod webhooks;

use acting::Caller;
use api::{Api, Doc};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State as Extract};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use handlers as h;
use problem::Problem;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use switchboard::Engine;
use switchboard::engine::SESSION_TOKEN_PREFIX;

/// Request bodies larger than this are refused with 413.
const MAX_BODY_BYTES: usize = 1 << 20;
/// Why saving a key that was just checked can still be refused.
const CHECKED_MEANWHILE: &str = "An upgrade of the plugin awaits an admin's approval, or an admin changed the integration's settings while the key was checked";

/// A configured service-token digest that is not one.
#[derive(Debug, thiserror::Error)]
#[error("service token digest {position} is not a SHA-256 digest in hex (64 characters)")]
pub struct InvalidDigest {
    /// Which digest of the list, from 1. The text itself is not kept: a
    /// token put there by mistake must not be printed.
    pub position: usize,
}

/// Why the service stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// Why it could not be bound.
        source: std::io::Error,
    },
    /// Serving failed after it started.
    #[error("serving failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// SHA-256 digests of the service tokens the host application presents
/// as `Authorization: Bearer <token>`; the tokens themselves are not kept.
#[derive(Clone, Default)]
pub struct ServiceTokens(Vec<[u8; 32]>);

impl ServiceTokens {
    /// From hex SHA-256 digests (`sha256sum` of each token).
    pub fn from_hex_digests(digests: &str) -> Result<Self, InvalidDigest> {
        let parsed = digests
            .split([',', '\n', ' '])
            .filter(|d| !d.trim().is_empty())
            .enumerate()
            .map(|(i, d)| {
                let mut digest = [0u8; 32];
                hex::decode_to_slice(d.trim(), &mut digest)
                    .map_err(|_| InvalidDigest { position: i + 1 })?;
                Ok(digest)
            })
            .collect::<Result<Vec<_>, InvalidDigest>>()?;
        Ok(ServiceTokens(parsed))
    }

    /// Accepts a token given in clear (the demo's).
    pub fn with_token(mut self, token: &str) -> Self {
        self.0.push(Sha256::digest(token.as_bytes()).into());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn accepts(&self, token: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Compare against every digest, in constant time each.
        self.0.iter().fold(false, |found, known| {
            found | bool::from(known.ct_eq(&digest))
        })
    }
}

/// What every handler shares.
pub struct State {
    engine: Engine,
    openapi: serde_json::Value,
    tokens: ServiceTokens,
}

type Shared = Arc<State>;

/// The routes only the host application calls, with its service token.
fn host_routes() -> Api<Shared> {
    Api::new()
        .post("/v1/policies/reload", h::reload_policies, Doc::host("Re-read the policy directory; a refused set answers 422 with every fault").returns::<h::Reloaded>())
        .post("/v1/sessions", sessions::open, Doc::host("Open a browser session: a short-lived token bound to one actor, for a page to call the workspace routes as that person").body::<sessions::OpenSession>().returns::<sessions::OpenedSession>().status(201))
        .get("/metrics", h::metrics, Doc::host("Prometheus metrics: requests, decisions, plugin calls, latencies, refreshes").returns::<String>().content("text/plain"))
        .put("/v1/workspaces/{workspace}/credit-limit", h::set_credit_limit, Doc::host("Set or clear the workspace's monthly credit limit").body::<h::CreditLimit>().status(204))
}

/// The routes a browser session may call too: the workspace routes (the
/// host names the actor, a session acts as its own), the catalogue, events
/// and the session itself.
fn session_routes() -> Api<Shared> {
    use switchboard::audit::Page;
    use switchboard::model::{Account, Connection, Enablement, Event};
    use switchboard::pages::IntegrationsPage;
    Api::new()
        .get("/v1/integrations", h::catalog, Doc::host("Every loaded integration's manifest: its modes, hosts and actions with their schemas").sessions().returns::<h::Catalog>())
        .get("/v1/events", h::events, Doc::host("Server-sent events: integration disabled, connections suspended or restored, re-authentication needed; a session sees its own workspace's").sessions().streams::<Event>())
        .get("/v1/session", sessions::current, Doc::host("The session a session token is: whom the page acts for, until when").sessions().returns::<switchboard::engine::Session>().refuses(404, "The token is the host's service token, not a session's"))
        .delete("/v1/sessions/{session}", sessions::close, Doc::host("Revoke a browser session (the host any, a session itself)").sessions().status(204))
        .get("/v1/workspaces/{workspace}/team-integrations", h::team_integrations, Doc::acting("The Team Integrations page (admins and developers)").returns::<h::TeamPage>())
        .post("/v1/workspaces/{workspace}/team-integrations/{integration}/enable", h::enable, Doc::acting("Enable an integration in one mode").body::<h::EnableRequest>().returns::<Enablement>().refuses(422, "The settings are missing, unknown, or do not match their schema"))
        .post("/v1/workspaces/{workspace}/team-integrations/{integration}/disable", h::disable, Doc::acting("Disable an integration; members' connections are suspended").status(204))
        .put("/v1/workspaces/{workspace}/team-integrations/{integration}/credential", h::set_credential, Doc::acting("Check and save the shared credential").body::<h::CredentialRequest>().returns::<h::SavedCredential>().refuses(422, "The key is empty or holds a line break, control or invisible character, its fields are not the credential's, or the service refused it").refuses(409, CHECKED_MEANWHILE))
        .post("/v1/workspaces/{workspace}/team-integrations/{integration}/credential/check", h::check_credential, Doc::acting("Check the saved shared credential again").returns::<Account>().refuses(409, "No shared credential is saved for the integration's settings as they are now, or an admin changed them while it was checked"))
        .delete("/v1/workspaces/{workspace}/team-integrations/{integration}/credential", h::remove_credential, Doc::acting("Remove the shared credential").status(204))
        .get("/v1/workspaces/{workspace}/usage", h::usage, Doc::acting("Calls and credits per integration and member").query::<h::Period>().returns::<h::UsageReport>())
        .get("/v1/workspaces/{workspace}/audit", h::audit, Doc::acting("The audit trail, newest first").query::<h::AuditQuery>().returns::<Page>())
        .get("/v1/workspaces/{workspace}/integrations", h::integrations_page, Doc::acting("The Integrations page: my connections and the workspace's integrations").returns::<IntegrationsPage>())
        .post("/v1/workspaces/{workspace}/integrations/{integration}/connect", h::connect, Doc::acting("Connect my account: with an API key, or start an OAuth 2.0 sign-in").body::<h::ConnectRequest>().returns::<h::ConnectResponse>().refuses(400, "The integration signs in with OAuth 2.0 and a key was sent, or the other way round").refuses(422, "The key is empty or holds a line break, control or invisible character, its fields are not the credential's, or return_to is not on an allowed origin").refuses(409, CHECKED_MEANWHILE))
        .get("/v1/workspaces/{workspace}/integrations/{integration}/callback", h::callback, Doc::acting("Finish an OAuth 2.0 sign-in with what the provider sent back").query::<switchboard::engine::Callback>().returns::<Connection>().refuses(400, "The sign-in is unknown, used, expired, another member's or another integration's, or the provider refused"))
        .get("/v1/workspaces/{workspace}/connections/{connection}", h::connection, Doc::acting("My connection").returns::<Connection>())
        .delete("/v1/workspaces/{workspace}/connections/{connection}", h::disconnect, Doc::acting("Disconnect: delete my connection and its credential").status(204))
        .post("/v1/workspaces/{workspace}/integrations/{integration}/actions/{action}", h::invoke, Doc::acting("Run one of an integration's actions; input and output follow the action's schemas").body::<serde_json::Value>().returns::<serde_json::Value>())
}

/// The routes anyone may call.
fn public() -> Api<Shared> {
    Api::new()
        .get(
            "/healthz",
            h::healthz,
            Doc::public("Alive")
                .returns::<String>()
                .content("text/plain"),
        )
        .get(
            "/readyz",
            h::readyz,
            Doc::public("Ready: plugins and policies loaded, the state reachable")
                .returns::<h::Ready>()
                .refuses(503, "Starting, or the state (a database) cannot be reached; the body says which"),
        )
        .get(
            "/oauth/{integration}/start",
            browser::start,
            Doc::public("The sign-in link a member's browser opens: binds the sign-in to that browser (a cookie) and answers 303 to the provider")
                .query::<browser::Start>()
                .returns::<String>()
                .content("text/html")
                .status(303)
                .html_errors()
                .refuses(400, "A page saying why, when the link has no state, or the operator set no return URL and it is unknown, used, expired or already opened"),
        )
        .get(
            "/oauth/{integration}/callback",
            browser::callback,
            Doc::public("Where the provider sends a member's browser after signing in; answers 303 to the return URL with integration, status and reason")
                .query::<switchboard::engine::Callback>()
                .returns::<String>()
                .content("text/html")
                .status(303)
                .html_errors()
                .refuses(400, "A page saying why, when the answer has no state, or the operator set no return URL and the sign-in is unknown, used, expired, another browser's or integration's, or the provider refused"),
        )
        .get(
            "/openapi.json",
            h::openapi,
            Doc::public("This document").returns::<serde_json::Value>(),
        )
}

/// How the console at `/console/` gets its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Console {
    /// The host hands it a session token in the link (`#token=...`).
    HostHandsToken,
    /// The demo: a persona switcher mints one (`/demo/personas`, `/demo/sessions`).
    DemoPersonas,
}

/// The API over an engine, with the console.
pub fn router(engine: Engine, tokens: ServiceTokens, console: Console) -> Router {
    let (public_routes, mut operations) = public().finish();
    let (host_routes, more) = host_routes().finish();
    operations.extend(more);
    let (session_routes, more) = session_routes().finish();
    operations.extend(more);
    let openapi = api::document(&operations);
    let state = Arc::new(State {
        engine,
        openapi,
        tokens,
    });
    let host_routes = host_routes.layer(middleware::from_fn_with_state(state.clone(), host_only));
    let session_routes = session_routes.layer(middleware::from_fn_with_state(
        state.clone(),
        host_or_session,
    ));
    let mut routes = public_routes
        .merge(console::routes())
        .merge(host_routes)
        .merge(session_routes);
    if console == Console::DemoPersonas {
        routes = routes.merge(demo::routes());
    }
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), count_request))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// No route has this path: a problem, as every error is.
async fn not_found() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "Not found",
        "no operation has this path; GET /openapi.json lists them",
    )
}

/// The path exists, the method does not.
async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
        "this path does not take this method; GET /openapi.json lists them",
    )
}

/// Counts and times every request by its route pattern.
async fn count_request(Extract(state): Extract<Shared>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    // Labels come from fixed sets: a client inventing methods must not
    // grow the registry (routes are the matched templates already).
    let method = match request.method().as_str() {
        known @ ("GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD" | "OPTIONS") => known,
        _ => "other",
    }
    .to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let metrics = state.engine.metrics();
    metrics
        .request_seconds
        .get_or_create(&switchboard::metrics::RouteLabels {
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&switchboard::metrics::RequestLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// Admits the host's service token only.
async fn host_only(Extract(state): Extract<Shared>, request: Request, next: Next) -> Response {
    admit(&state, request, next, false).await
}

/// Admits the host's service token or a browser session's token.
async fn host_or_session(
    Extract(state): Extract<Shared>,
    request: Request,
    next: Next,
) -> Response {
    admit(&state, request, next, true).await
}

/// Refuses, before anything runs, a request without a valid token, and
/// tells handlers who presented it ([`Caller`]).
async fn admit(state: &State, mut request: Request, next: Next, sessions: bool) -> Response {
    let presented = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let caller = match presented {
        Some(token) if state.tokens.accepts(token) => Ok(Caller::Host),
        Some(token) if token.starts_with(SESSION_TOKEN_PREFIX) => {
            match state.engine.session(token) {
                Ok(_) if !sessions => Err(Problem::new(
                    StatusCode::FORBIDDEN,
                    "Service token required",
                    "this operation is the host application's: a session token cannot call it",
                )
                .into_response()),
                Ok(session) => Ok(Caller::Session(session)),
                Err(refused) => Err(unauthorized(&refused.to_string())),
            }
        }
        _ => Err(unauthorized(
            "a valid service or session token is required (Authorization: Bearer ...)",
        )),
    };
    match caller {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(response) => response,
    }
}

fn unauthorized(detail: &str) -> Response {
    let mut response =
        Problem::new(StatusCode::UNAUTHORIZED, "Unauthorized", detail.to_owned()).into_response();
    response.headers_mut().insert(
        axum::http::header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer"),
    );
    response
}

/// Serves until SIGINT or SIGTERM, then writes pending usage.
pub async fn run(
    engine: Engine,
    listener: starting::Listener,
    tokens: ServiceTokens,
    webhooks: Option<webhooks::Webhooks>,
    limits: edge::EdgeLimits,
    console: Console,
) -> Result<(), ServeError> {
    if let Some(webhooks) = webhooks {
        webhooks::spawn(webhooks, engine.subscribe(), engine.event_claims());
    }
    let socket = listener.tokio()?;
    let listen = socket.local_addr().map_err(ServeError::Serve)?;
    tracing::info!(%listen, "serving");
    edge::serve(
        socket,
        router(engine, tokens, console),
        limits,
        shutdown_signal(),
    )
    .await;
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_given_where_its_digest_belongs_is_not_printed() {
        let digest = hex::encode(Sha256::digest(b"a token"));
        let err = ServiceTokens::from_hex_digests(&format!("{digest},sk-live-oops"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            err,
            "service token digest 2 is not a SHA-256 digest in hex (64 characters)"
        );
    }
}
