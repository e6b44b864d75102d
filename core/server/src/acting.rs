//! Who a request speaks for and what it is about: the host with its
//! service token vouching for an actor in its headers, or a browser session
//! bound to one actor; in the workspace (and integration) the path names.
//! Handlers take these as extractors.

use super::problem::{Problem, bad_request};
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use std::collections::HashMap;
use switchboard::engine::Session;
use switchboard::model::{Actor, IntegrationId, Role, UnknownRole, UserId, WorkspaceId};

/// Who presented the request's bearer token (set by the authentication
/// layer before any handler runs).
#[derive(Clone)]
pub enum Caller {
    /// The host application, with a service token: it names the actor in
    /// the `X-Switchboard-*` headers.
    Host,
    /// A browser session: its actor is fixed, the headers are ignored.
    Session(Session),
}

/// The actor, in the workspace the path names.
pub struct Acting(pub Actor);

/// The actor, and the integration the path names.
pub struct ActingOn(pub Actor, pub IntegrationId);

impl<S: Send + Sync> FromRequestParts<S> for Acting {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let mut named = named(parts, state).await?;
        Ok(Acting(actor(take(&mut named, "workspace")?, parts)?))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ActingOn {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let mut named = named(parts, state).await?;
        let actor = actor(take(&mut named, "workspace")?, parts)?;
        Ok(ActingOn(
            actor,
            IntegrationId::new(take(&mut named, "integration")?),
        ))
    }
}

/// The path's parameters by name.
async fn named<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<HashMap<String, String>, Problem> {
    let Path(named) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .map_err(|e| bad_request(e.body_text()))?;
    Ok(named)
}

fn take(named: &mut HashMap<String, String>, name: &str) -> Result<String, Problem> {
    named.remove(name).ok_or_else(|| {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Misrouted request",
            format!("this route names no {{{name}}}"),
        )
    })
}

/// The session's actor, who may act in its own workspace only; or the one
/// the host vouches for in its headers.
fn actor(workspace: String, parts: &Parts) -> Result<Actor, Problem> {
    match parts.extensions.get::<Caller>() {
        Some(Caller::Session(session)) if session.actor.workspace.as_str() == workspace => {
            Ok(session.actor.clone())
        }
        Some(Caller::Session(_)) => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "Another workspace",
            "this session acts in its own workspace only",
        )),
        _ => vouched(workspace, &parts.headers),
    }
}

/// The actor the host vouches for: `X-Switchboard-User`, `-Role`, `-Plan`,
/// each exactly once (a gateway that appends its own after a client's
/// must not leave the client's to win), each one clean id.
fn vouched(workspace: String, headers: &HeaderMap) -> Result<Actor, Problem> {
    let header = |name: &str| {
        let mut values = headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (None, _) => Err(bad_request(format!("the {name} header is required"))),
            (Some(_), Some(_)) => Err(bad_request(format!(
                "the {name} header is sent more than once; send it once"
            ))),
            (Some(value), None) => value
                .to_str()
                .map(str::to_owned)
                .map_err(|_| bad_request(format!("the {name} header is not plain text"))),
        }
    };
    let role: Role = header("x-switchboard-role")?
        .parse()
        .map_err(|e: UnknownRole| bad_request(e.to_string()))?;
    let actor = Actor {
        user: UserId::new(header("x-switchboard-user")?),
        workspace: WorkspaceId::new(workspace),
        role,
        plan: header("x-switchboard-plan")?,
    };
    actor.check().map_err(|e| bad_request(e.to_string()))?;
    Ok(actor)
}
