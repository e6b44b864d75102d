//! Browser sessions over HTTP: the host opens one for an actor and hands
//! its token to a page (the console); the host, or the session itself,
//! revokes it.

use crate::acting::Caller;
use crate::handlers::{Object, whole_within};
use crate::problem::Problem;
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use switchboard::engine::{DEFAULT_SESSION_TTL, Session};
use switchboard::model::{Actor, ID_PATTERN, Role, UserId, WorkspaceId};

/// Whom a session speaks for, and for how long.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenSession {
    /// The workspace the session acts in, and only that one.
    #[schemars(regex(pattern = ID_PATTERN))]
    pub workspace: String,
    /// The person, as the host identifies them.
    #[schemars(regex(pattern = ID_PATTERN))]
    pub user: String,
    /// Their role in the workspace.
    pub role: Role,
    /// The workspace's plan.
    #[schemars(regex(pattern = ID_PATTERN))]
    pub plan: String,
    /// How long the token is accepted: 1 to 43200 seconds (12 hours);
    /// 900 (15 minutes) when left out.
    #[serde(default, deserialize_with = "whole_within::<_, 1, 43200>")]
    #[schemars(range(min = 1, max = 43200))]
    pub ttl_seconds: Option<u64>,
}

/// A session just opened: its token is shown here only.
#[derive(Serialize, JsonSchema)]
pub struct OpenedSession {
    /// The bearer token for the page (`sbs_...`); hand it to the browser
    /// only, e.g. in the console link's `#token=` fragment.
    pub token: String,
    /// The session itself.
    #[serde(flatten)]
    pub session: Session,
}

/// `POST /v1/sessions`.
pub async fn open(
    State(app): State<crate::Shared>,
    Object(request): Object<OpenSession>,
) -> Result<(StatusCode, Json<OpenedSession>), Problem> {
    let actor = Actor {
        user: UserId::new(request.user),
        workspace: WorkspaceId::new(request.workspace),
        role: request.role,
        plan: request.plan,
    };
    let ttl = request
        .ttl_seconds
        .map_or(DEFAULT_SESSION_TTL, Duration::from_secs);
    let opened = app.engine.open_session(&actor, ttl)?;
    tracing::info!(session = %opened.session.id, user = %actor.user, workspace = %actor.workspace, "session opened");
    Ok((StatusCode::CREATED, Json(OpenedSession::from(opened))))
}

impl From<switchboard::engine::OpenedSession> for OpenedSession {
    fn from(opened: switchboard::engine::OpenedSession) -> Self {
        OpenedSession {
            token: opened.token.expose().to_owned(),
            session: opened.session,
        }
    }
}

/// `GET /v1/session`: whom the page acts for (the console asks on load).
pub async fn current(Extension(caller): Extension<Caller>) -> Result<Json<Session>, Problem> {
    match caller {
        Caller::Session(session) => Ok(Json(session)),
        Caller::Host => Err(Problem::new(
            StatusCode::NOT_FOUND,
            "No session",
            "this is the service token: it names its actor in headers on each request",
        )),
    }
}

/// `DELETE /v1/sessions/{session}`: the host revokes any session; a
/// session only itself (signing out).
pub async fn close(
    State(app): State<crate::Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    if let Caller::Session(own) = &caller
        && own.id != id
    {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "Another session",
            "a session can revoke itself only",
        ));
    }
    if app.engine.close_session(&id)? {
        tracing::info!(session = %id, "session revoked");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::new(
            StatusCode::NOT_FOUND,
            "Unknown session",
            "no open session has this id",
        ))
    }
}
