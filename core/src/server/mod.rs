//! The HTTP/JSON API over [`Engine`]. Errors are RFC 9457 problem details.
//!
//! This is the first slice of the API; service-token authentication, the
//! full page routes, OpenAPI and events come with the service issue. Until
//! then it listens on loopback by default and trusts the actor headers.

pub mod demo;

use crate::model::{Actor, IntegrationId, Mode, Role, UserId, WorkspaceId};
use crate::plugins::PluginError;
use crate::vault::Secret;
use crate::{Engine, Error};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

/// Request bodies larger than this are refused with 413.
const MAX_BODY_BYTES: usize = 1 << 20;

type Shared = Arc<Engine>;

pub fn router(engine: Engine) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/integrations", get(catalog))
        .route("/v1/policies/reload", post(reload_policies))
        .route(
            "/v1/workspaces/{workspace}/team-integrations/{integration}/enable",
            post(enable),
        )
        .route(
            "/v1/workspaces/{workspace}/team-integrations/{integration}/disable",
            post(disable),
        )
        .route(
            "/v1/workspaces/{workspace}/team-integrations/{integration}/credential",
            put(set_credential),
        )
        .route(
            "/v1/workspaces/{workspace}/integrations/{integration}/actions/{action}",
            post(invoke),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(Arc::new(engine))
}

/// Serves until SIGINT or SIGTERM.
pub async fn run(engine: Engine, listen: SocketAddr) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    tracing::info!(%listen, "serving");
    axum::serve(listener, router(engine))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| e.to_string())
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

/// An RFC 9457 problem.
struct Problem {
    status: StatusCode,
    title: &'static str,
    detail: String,
    /// For a denial: the policies that decided it.
    policies: Vec<String>,
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = json!({ "type": "about:blank", "title": self.title, "status": self.status.as_u16(), "detail": self.detail });
        if !self.policies.is_empty() {
            body["policies"] = json!(self.policies);
        }
        (
            self.status,
            [("content-type", "application/problem+json")],
            body.to_string(),
        )
            .into_response()
    }
}

impl From<Error> for Problem {
    fn from(error: Error) -> Self {
        use StatusCode as S;
        let (status, title) = match &error {
            Error::Denied { .. } => (S::FORBIDDEN, "Denied by policy"),
            Error::Policies(_) | Error::PolicyRequest(_) => {
                (S::INTERNAL_SERVER_ERROR, "Policy error")
            }
            Error::UnknownIntegration(_) => (S::NOT_FOUND, "Unknown integration"),
            Error::ConnectionNotFound(_) => (S::NOT_FOUND, "Unknown connection"),
            Error::OAuthRequired(_) => (S::BAD_REQUEST, "Invalid request"),
            Error::ConnectionUnusable { .. } => (S::CONFLICT, "Not possible in this state"),
            Error::Internal(_) => (S::INTERNAL_SERVER_ERROR, "Internal error"),
            Error::SignIn(_) => (S::BAD_REQUEST, "Sign-in refused"),
            Error::TokenRefresh(_) => (S::BAD_GATEWAY, "Integration failed"),
            Error::ModeNotSupported { .. } | Error::InvalidInput { .. } => {
                (S::BAD_REQUEST, "Invalid request")
            }
            Error::AlreadyEnabled { .. }
            | Error::NotEnabled(_)
            | Error::NoWorkspaceCredential(_)
            | Error::NotConnected(_) => (S::CONFLICT, "Not possible in this state"),
            Error::CredentialRefused(_) => (S::UNPROCESSABLE_ENTITY, "Credential refused"),
            Error::Plugin(PluginError::Connector {
                error: crate::model::ConnectorError::InvalidInput { .. },
                ..
            }) => (S::BAD_REQUEST, "Invalid input"),
            Error::Plugin(_) => (S::BAD_GATEWAY, "Integration failed"),
            Error::Store(_) | Error::Vault(_) => (S::INTERNAL_SERVER_ERROR, "Internal error"),
        };
        let (detail, policies) = match error {
            // The reason alone: the policy ids travel in their own member.
            Error::Denied { reason, policies } => (reason, policies),
            other => (other.to_string(), Vec::new()),
        };
        Problem {
            status,
            title,
            detail,
            policies,
        }
    }
}

impl From<JsonRejection> for Problem {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let title = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "Body too large"
        } else {
            "Malformed request body"
        };
        Problem {
            status,
            title,
            detail: rejection.body_text(),
            policies: Vec::new(),
        }
    }
}

fn bad_request(detail: String) -> Problem {
    Problem {
        status: StatusCode::BAD_REQUEST,
        title: "Invalid request",
        detail,
        policies: Vec::new(),
    }
}

/// The actor the host vouches for: `X-Switchboard-User`, `-Role`, `-Plan`.
fn actor(workspace: String, headers: &HeaderMap) -> Result<Actor, Problem> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| bad_request(format!("the {name} header is required")))
    };
    let role = match header("x-switchboard-role")?.as_str() {
        "admin" => Role::Admin,
        "developer" => Role::Developer,
        "member" => Role::Member,
        other => {
            return Err(bad_request(format!(
                "unknown role `{other}` (admin, developer or member)"
            )));
        }
    };
    Ok(Actor {
        user: UserId::new(header("x-switchboard-user")?),
        workspace: WorkspaceId::new(workspace),
        role,
        plan: header("x-switchboard-plan")?,
    })
}

/// Re-reads the policy directory; a refused set answers 422 with every fault.
async fn reload_policies(State(engine): State<Shared>) -> Result<Json<Value>, Problem> {
    match engine.reload_policies() {
        Ok(count) => Ok(Json(json!({ "policies": count }))),
        Err(e) => Err(Problem {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            title: "Policies refused",
            detail: e.to_string(),
            policies: Vec::new(),
        }),
    }
}

async fn catalog(State(engine): State<Shared>) -> Json<Value> {
    Json(json!({ "integrations": engine.integrations() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnableRequest {
    mode: Mode,
}

async fn enable(
    State(engine): State<Shared>,
    Path((workspace, integration)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<EnableRequest>, JsonRejection>,
) -> Result<Json<Value>, Problem> {
    let actor = actor(workspace, &headers)?;
    let Json(request) = body?;
    let enablement = engine.enable(&actor, &IntegrationId::new(integration), request.mode)?;
    Ok(Json(json!(enablement)))
}

async fn disable(
    State(engine): State<Shared>,
    Path((workspace, integration)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    let actor = actor(workspace, &headers)?;
    engine.disable(&actor, &IntegrationId::new(integration))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialRequest {
    secret: String,
}

async fn set_credential(
    State(engine): State<Shared>,
    Path((workspace, integration)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<CredentialRequest>, JsonRejection>,
) -> Result<Json<Value>, Problem> {
    let actor = actor(workspace, &headers)?;
    let Json(request) = body?;
    let secret = Secret::new(request.secret);
    let account = engine
        .set_workspace_credential(&actor, &IntegrationId::new(integration), secret)
        .await?;
    Ok(Json(json!({ "account": account })))
}

async fn invoke(
    State(engine): State<Shared>,
    Path((workspace, integration, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, Problem> {
    let actor = actor(workspace, &headers)?;
    let Json(input) = body?;
    Ok(Json(
        engine
            .invoke(&actor, &IntegrationId::new(integration), &action, &input)
            .await?,
    ))
}
