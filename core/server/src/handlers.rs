//! One handler per operation; each reads the actor, calls the engine and
//! answers JSON or a problem.

use super::State as App;
use super::acting::{Acting, ActingOn, Caller};
use super::problem::{Problem, malformed};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use switchboard::Error;
use switchboard::audit::{Filter, OutcomeKind, Page};
use switchboard::engine::{Callback, SignIn};
use switchboard::model::{
    Account, Actor, Connection, ConnectionId, Enablement, Event, IntegrationId, Manifest, Mode,
    Role, Settings, UserId, WorkspaceId,
};
use switchboard::pages::{IntegrationUsage, IntegrationsPage, TeamIntegration};
use switchboard::pasted::{InvalidKey, PastedKey};
use switchboard::plugins::LoadOutcome;

type Shared = State<Arc<App>>;
type Answer<T> = Result<Json<T>, Problem>;

#[derive(Serialize, JsonSchema)]
pub struct Catalog {
    pub integrations: Vec<Manifest>,
}

#[derive(Clone, Serialize, JsonSchema)]
pub struct Ready {
    /// Plugins loaded.
    pub plugins: usize,
    /// Policies in force.
    pub policies: usize,
    /// Component files still loading (while the service starts).
    pub loading: Vec<String>,
    /// Components refused, and why.
    pub refused: Vec<RefusedPlugin>,
    /// `ok`, or why the state cannot be reached (a database down): the
    /// service answers 503 until it can.
    pub storage: String,
}

/// A component that was not loaded.
#[derive(Clone, Serialize, JsonSchema)]
pub struct RefusedPlugin {
    /// Its file.
    pub file: String,
    /// Why, for its author.
    pub reason: String,
}

#[derive(Serialize, JsonSchema)]
pub struct Reloaded {
    pub policies: usize,
}

#[derive(Serialize, JsonSchema)]
pub struct TeamPage {
    pub integrations: Vec<TeamIntegration>,
}

#[derive(Serialize, JsonSchema)]
pub struct UsageReport {
    pub from_ms: u64,
    pub to_ms: u64,
    pub integrations: Vec<IntegrationUsage>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnableRequest {
    pub mode: Mode,
    /// The integration's settings for this workspace (its manifest's
    /// `settings`, e.g. a subdomain), every one required. Enabling again in
    /// the same mode with other settings changes only them; without them it
    /// approves what the plugin asks for now and keeps them.
    #[serde(default)]
    pub settings: Settings,
    /// The plugin version whose permissions the admin was shown (the Team
    /// Integrations page's `version`): refused with 409 if another is
    /// loaded now.
    pub version: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialRequest {
    /// The shared credential, e.g. the Semrush API key, for a credential
    /// of one field. Checked with the service before it is saved; never
    /// returned.
    pub secret: Option<String>,
    /// Each field of a credential of several (the mode's `fields`, e.g.
    /// `email` and `api_token`), instead of `secret`.
    pub fields: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    /// A personal API key, for integrations that take one. Leave it (and
    /// `fields`) out to start an OAuth 2.0 sign-in instead.
    pub api_key: Option<String>,
    /// Each field of a personal credential of several, instead of `api_key`.
    pub fields: Option<BTreeMap<String, String>>,
    /// Where the member's browser goes when the sign-in ends; its origin
    /// must be one the operator allows (else the operator's default).
    pub return_to: Option<String>,
}

/// Either the new connection (API key) or where to sign in (OAuth 2.0).
#[derive(Serialize, JsonSchema)]
pub struct ConnectResponse {
    pub connection: Option<Connection>,
    pub sign_in: Option<SignIn>,
    /// What was changed in the pasted key before saving it, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<&'static str>,
}

/// The shared credential's account, once checked and saved.
#[derive(Serialize, JsonSchema)]
pub struct SavedCredential {
    #[serde(flatten)]
    pub account: Account,
    /// What was changed in the pasted key before saving it, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<&'static str>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditLimit {
    /// Credits a month; `null` removes the limit. At most 2^53 − 1, the
    /// largest whole number every JSON client reads exactly.
    #[serde(default, deserialize_with = "whole_number")]
    #[schemars(range(max = MAX_CREDIT_LIMIT))]
    pub limit: Option<u64>,
}

/// The largest credit limit: 2^53 − 1.
const MAX_CREDIT_LIMIT: u64 = (1 << 53) - 1;

/// A request body that is a JSON object: serde would read a struct from an
/// array too (`[null, null]` as its fields in order), which no client means.
pub struct Object<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Object<T> {
    type Rejection = Problem;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Problem> {
        let Json(value) = Json::<Value>::from_request(request, state).await?;
        if !value.is_object() {
            return Err(malformed("the body must be a JSON object".into()));
        }
        serde_json::from_value(value).map(Object).map_err(|e| {
            malformed(format!(
                "Failed to deserialize the JSON body into the target type: {e}"
            ))
        })
    }
}

/// A whole number however JSON writes it (`119` or `119.0`), not negative.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    let whole = as_whole(&number).ok_or_else(|| {
        serde::de::Error::custom(format!("{number} is not a whole number of credits"))
    })?;
    if whole > MAX_CREDIT_LIMIT {
        return Err(serde::de::Error::custom(format!(
            "{number} credits is over the most a limit may be ({MAX_CREDIT_LIMIT})"
        )));
    }
    Ok(Some(whole))
}

/// `number` as a whole number, if it is one (`119.0` is).
fn as_whole(number: &serde_json::Number) -> Option<u64> {
    number.as_u64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(f))
            .map(|f| f as u64)
    })
}

/// A query number within `MIN..=MAX`, as the document says.
fn within<'de, D: serde::Deserializer<'de>, const MIN: u64, const MAX: u64>(
    d: D,
) -> Result<u64, D::Error> {
    let n = u64::deserialize(d)?;
    if (MIN..=MAX).contains(&n) {
        Ok(n)
    } else {
        Err(serde::de::Error::custom(format!(
            "{n} is not within {MIN} to {MAX}"
        )))
    }
}

/// [`within`], for a number that may be left out.
fn within_optional<'de, D: serde::Deserializer<'de>, const MIN: u64, const MAX: u64>(
    d: D,
) -> Result<Option<u64>, D::Error> {
    within::<D, MIN, MAX>(d).map(Some)
}

/// A JSON body's whole number within `MIN..=MAX`, however JSON writes it,
/// or `null` or left out.
pub(crate) fn whole_within<'de, D: serde::Deserializer<'de>, const MIN: u64, const MAX: u64>(
    d: D,
) -> Result<Option<u64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    match as_whole(&number) {
        Some(n) if (MIN..=MAX).contains(&n) => Ok(Some(n)),
        _ => Err(serde::de::Error::custom(format!(
            "{number} is not within {MIN} to {MAX}"
        ))),
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// Unix milliseconds, up to the end of year 9999.
    #[serde(deserialize_with = "within::<_, 0, LAST_MS>")]
    #[schemars(range(max = LAST_MS))]
    pub from_ms: u64,
    #[serde(deserialize_with = "within::<_, 0, LAST_MS>")]
    #[schemars(range(max = LAST_MS))]
    pub to_ms: u64,
}

/// The last millisecond of year 9999: times past it are not times.
const LAST_MS: u64 = 253_402_300_799_999;
/// The highest audit sequence number a page may start before.
const LAST_SEQ: u64 = i64::MAX as u64;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[serde(default, deserialize_with = "within_optional::<_, 0, LAST_MS>")]
    #[schemars(range(max = LAST_MS))]
    pub from_ms: Option<u64>,
    #[serde(default, deserialize_with = "within_optional::<_, 0, LAST_MS>")]
    #[schemars(range(max = LAST_MS))]
    pub to_ms: Option<u64>,
    pub actor: Option<UserId>,
    pub integration: Option<IntegrationId>,
    pub outcome: Option<OutcomeKind>,
    /// From a previous page's `next_before`.
    #[serde(default, deserialize_with = "within_optional::<_, 0, LAST_SEQ>")]
    #[schemars(range(max = LAST_SEQ))]
    pub before: Option<u64>,
    /// Records per page, 1 to 500 (50).
    #[serde(default, deserialize_with = "within_optional::<_, 1, 500>")]
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<u64>,
}

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(app): Shared) -> (StatusCode, Json<Ready>) {
    let refused = app
        .engine
        .load_report()
        .iter()
        .filter_map(|outcome| match outcome {
            LoadOutcome::Refused { file, reason } => Some(RefusedPlugin {
                file: file.display().to_string(),
                reason: reason.clone(),
            }),
            LoadOutcome::Loaded { .. } => None,
        })
        .collect();
    let (status, storage) = match app.engine.check_storage() {
        Ok(()) => (StatusCode::OK, "ok".to_owned()),
        Err(e) => {
            tracing::warn!("not ready: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable".to_owned())
        }
    };
    let ready = Ready {
        plugins: app.engine.integrations().len(),
        policies: app.engine.policies().current().policies.policies().count(),
        loading: Vec::new(),
        refused,
        storage,
    };
    (status, Json(ready))
}

pub async fn openapi(State(app): Shared) -> Json<Value> {
    Json(app.openapi.clone())
}

pub async fn metrics(State(app): Shared) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        app.engine.metrics().render(),
    )
}

pub async fn catalog(State(app): Shared) -> Json<Catalog> {
    Json(Catalog {
        integrations: app.engine.integrations(),
    })
}

pub async fn reload_policies(State(app): Shared) -> Answer<Reloaded> {
    match app.engine.reload_policies() {
        Ok(policies) => Ok(Json(Reloaded { policies })),
        Err(e) => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Policies refused",
            e.to_string(),
        )),
    }
}

/// How often a session's event stream checks that the session is still
/// open: a revoked or expired session stops hearing within this time.
const SESSION_RECHECK: std::time::Duration = std::time::Duration::from_secs(10);

/// Server-sent events, one `data:` line of JSON each: every event for the
/// host; for a session, its own workspace's, as [`seen_by`] says, until
/// the session is revoked or expires.
pub async fn events(
    State(app): Shared,
    Extension(caller): Extension<Caller>,
) -> Sse<impl futures::Stream<Item = Result<SseEvent, std::convert::Infallible>>> {
    let rx = app.engine.subscribe();
    let stream = futures::stream::unfold((rx, app, caller), |(mut rx, app, caller)| async move {
        loop {
            let received = match &caller {
                Caller::Host => rx.recv().await,
                Caller::Session(session) => tokio::select! {
                    received = rx.recv() => received,
                    () = tokio::time::sleep(SESSION_RECHECK) => {
                        if app.engine.session_is_open(&session.id) {
                            continue;
                        }
                        return None;
                    }
                },
            };
            let event = match received {
                Ok(event) => event,
                // A slow reader misses what it could not keep up with.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            };
            let event = match &caller {
                Caller::Host => event,
                Caller::Session(session) => match seen_by(&session.actor, event) {
                    Some(event) => event,
                    None => continue,
                },
            };
            let kind = serde_json::to_value(event.kind)
                .ok()
                .and_then(|k| k.as_str().map(str::to_owned))
                .unwrap_or_default();
            let data = serde_json::to_string(&event).unwrap_or_default();
            return Some((
                Ok(SseEvent::default().event(kind).data(data)),
                (rx, app, caller),
            ));
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// What a session's actor may see of an event: its own workspace's only;
/// a member, only events about everyone or about itself, naming no one
/// else (another member's connection is private).
fn seen_by(actor: &Actor, mut event: Event) -> Option<Event> {
    if event.workspace != actor.workspace {
        return None;
    }
    if actor.role == Role::Member && !event.users.is_empty() {
        let (users, connections): (Vec<UserId>, Vec<ConnectionId>) = event
            .users
            .iter()
            .zip(&event.connections)
            .filter(|(user, _)| **user == actor.user)
            .map(|(user, connection)| (user.clone(), connection.clone()))
            .unzip();
        if users.is_empty() {
            return None;
        }
        event.users = users;
        event.connections = connections;
    }
    Some(event)
}

pub async fn set_credit_limit(
    State(app): Shared,
    Path(workspace): Path<String>,
    Object(request): Object<CreditLimit>,
) -> Result<StatusCode, Problem> {
    app.engine
        .set_credit_limit(&WorkspaceId::new(workspace), request.limit)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn team_integrations(State(app): Shared, Acting(actor): Acting) -> Answer<TeamPage> {
    Ok(Json(TeamPage {
        integrations: app.engine.team_integrations(&actor)?,
    }))
}

pub async fn enable(
    State(app): Shared,
    ActingOn(actor, integration): ActingOn,
    Object(request): Object<EnableRequest>,
) -> Answer<Enablement> {
    if let Some(shown) = &request.version {
        app.engine.check_version(&integration, shown)?;
    }
    Ok(Json(app.engine.enable_with(
        &actor,
        &integration,
        request.mode,
        &request.settings,
    )?))
}

/// The credential a person typed: one key, or each field of several;
/// `None` if neither was given. Both at once is refused.
fn pasted(
    key: Option<String>,
    fields: Option<BTreeMap<String, String>>,
) -> Result<Option<PastedKey>, Error> {
    Ok(match (key, fields) {
        (Some(key), None) => Some(PastedKey::parse(key)?),
        (None, Some(fields)) => Some(PastedKey::fields(fields)?),
        (None, None) => None,
        (Some(_), Some(_)) => return Err(Error::InvalidKey(InvalidKey::KeyAndFields)),
    })
}

pub async fn disable(
    State(app): Shared,
    ActingOn(actor, integration): ActingOn,
) -> Result<StatusCode, Problem> {
    app.engine.disable(&actor, &integration)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn set_credential(
    State(app): Shared,
    ActingOn(actor, integration): ActingOn,
    Object(request): Object<CredentialRequest>,
) -> Answer<SavedCredential> {
    let key = pasted(request.secret, request.fields)?
        .ok_or_else(|| Error::InvalidKey(InvalidKey::Empty))?;
    let account = app
        .engine
        .set_workspace_credential(&actor, &integration, &key)
        .await?;
    Ok(Json(SavedCredential {
        account,
        notice: key.notice(),
    }))
}

pub async fn check_credential(
    State(app): Shared,
    ActingOn(actor, integration): ActingOn,
) -> Answer<Account> {
    Ok(Json(
        app.engine
            .recheck_workspace_credential(&actor, &integration)
            .await?,
    ))
}

pub async fn remove_credential(
    State(app): Shared,
    ActingOn(actor, integration): ActingOn,
) -> Result<StatusCode, Problem> {
    app.engine
        .remove_workspace_credential(&actor, &integration)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn usage(
    State(app): Shared,
    Acting(actor): Acting,
    query: Result<Query<Period>, QueryRejection>,
) -> Answer<UsageReport> {
    let Query(period) = query?;
    let integrations = app.engine.usage(&actor, period.from_ms, period.to_ms)?;
    Ok(Json(UsageReport {
        from_ms: period.from_ms,
        to_ms: period.to_ms,
        integrations,
    }))
}

pub async fn audit(
    State(app): Shared,
    Acting(actor): Acting,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Answer<Page> {
    let Query(q) = query?;
    let filter = Filter {
        from_ms: q.from_ms,
        to_ms: q.to_ms,
        actor: q.actor,
        integration: q.integration,
        outcome: q.outcome,
    };
    Ok(Json(app.engine.audit(
        &actor,
        &filter,
        q.before,
        q.limit.map_or(50, |l| usize::try_from(l).unwrap_or(500)),
    )?))
}

pub async fn integrations_page(
    State(app): Shared,
    Acting(actor): Acting,
) -> Answer<IntegrationsPage> {
    Ok(Json(app.engine.user_integrations(&actor)?))
}

pub async fn connect(
    State(app): Shared,
    ActingOn(actor, integration): ActingOn,
    Object(request): Object<ConnectRequest>,
) -> Answer<ConnectResponse> {
    Ok(Json(match pasted(request.api_key, request.fields)? {
        Some(key) => ConnectResponse {
            connection: Some(
                app.engine
                    .connect_with_api_key(&actor, &integration, &key)
                    .await?,
            ),
            sign_in: None,
            notice: key.notice(),
        },
        None => ConnectResponse {
            connection: None,
            sign_in: Some(app.engine.begin_connect(
                &actor,
                &integration,
                request.return_to.as_deref(),
            )?),
            notice: None,
        },
    }))
}

pub async fn callback(
    State(app): Shared,
    ActingOn(actor, integration): ActingOn,
    query: Result<Query<Callback>, QueryRejection>,
) -> Answer<Connection> {
    let Query(callback) = query?;
    Ok(Json(
        app.engine
            .complete_connect(&actor, &integration, &callback)
            .await?,
    ))
}

pub async fn connection(
    State(app): Shared,
    Acting(actor): Acting,
    Path((_, id)): Path<(String, String)>,
) -> Answer<Connection> {
    Ok(Json(app.engine.connection(&actor, &ConnectionId::new(id))?))
}

pub async fn disconnect(
    State(app): Shared,
    Acting(actor): Acting,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    app.engine
        .disconnect(&actor, &ConnectionId::new(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn invoke(
    State(app): Shared,
    ActingOn(actor, integration): ActingOn,
    Path((_, _, action)): Path<(String, String, String)>,
    body: Result<Json<Value>, JsonRejection>,
) -> Answer<Value> {
    let Json(input) = body?;
    Ok(Json(
        app.engine
            .invoke(&actor, &integration, &action, &input)
            .await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(workspace: &str, users: &[&str]) -> Event {
        Event {
            id: "evt_1".into(),
            kind: switchboard::model::EventKind::NeedsReauth,
            workspace: WorkspaceId::new(workspace),
            integration: IntegrationId::new("sharepoint"),
            users: users.iter().map(|u| UserId::new(*u)).collect(),
            connections: users
                .iter()
                .map(|u| ConnectionId::new(format!("conn_{u}")))
                .collect(),
            reason: Some("AADSTS70008: The refresh token has expired".into()),
            at_ms: 0,
        }
    }

    fn actor(user: &str, role: Role) -> Actor {
        Actor {
            user: UserId::new(user),
            workspace: WorkspaceId::new("demo"),
            role,
            plan: "business".into(),
        }
    }

    #[test]
    fn a_member_hears_about_everyone_and_itself_and_an_admin_about_all() {
        let bob = actor("bob", Role::Member);
        assert_eq!(seen_by(&bob, event("acme", &[])), None, "another workspace");
        assert_eq!(
            seen_by(&bob, event("demo", &["carol"])),
            None,
            "Carol's connection"
        );
        assert_eq!(
            seen_by(&bob, event("demo", &["bob", "carol"])),
            Some(event("demo", &["bob"]))
        );
        assert_eq!(seen_by(&bob, event("demo", &[])), Some(event("demo", &[])));
        let ada = actor("ada", Role::Admin);
        assert_eq!(
            seen_by(&ada, event("demo", &["bob", "carol"])),
            Some(event("demo", &["bob", "carol"]))
        );
    }
}
