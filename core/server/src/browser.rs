//! What a member's browser calls, with no service token: the sign-in link,
//! which binds a sign-in to the browser that opens it (a key in a cookie)
//! before sending it to the provider, and the public callback, where the
//! provider sends it back. The one-time `state` and that key authenticate
//! the callback (the state binds workspace, member, integration and expiry;
//! the PKCE verifier never leaves the server). The browser is then sent on
//! with `303 See Other` to the sign-in's checked return URL or the
//! operator's default, carrying the integration, `status=connected|error`
//! and a human reason, never the code, a token or the state; with no
//! return URL at all, a short page says the same.

use crate::problem::Problem;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use switchboard::engine::{Callback, sign_in_cookie};
use switchboard::model::IntegrationId;
use switchboard::{Error, engine::OpenedSignIn};
use url::Url;

/// The sign-in link's query.
#[derive(Deserialize, schemars::JsonSchema)]
pub struct Start {
    /// The sign-in's `state`, as the connect answer gave it.
    pub state: String,
}

/// `GET /oauth/{integration}/start?state=...`.
pub async fn start(
    State(app): State<crate::Shared>,
    Path(integration): Path<String>,
    query: Result<Query<Start>, QueryRejection>,
) -> Response {
    let integration = IntegrationId::new(integration);
    // No `state`: no sign-in to return from; a page says so.
    let Ok(Query(Start { state })) = query else {
        return land(&integration, Err(incomplete()), None, None);
    };
    match app.engine.open_sign_in(&integration, &state) {
        Ok(opened) => to_provider(opened),
        Err(error) => {
            let landing = app.engine.default_return_url().cloned();
            land(&integration, Err(error), landing, None)
        }
    }
}

/// `GET /oauth/{integration}/callback?state=...&code=...`.
pub async fn callback(
    State(app): State<crate::Shared>,
    Path(integration): Path<String>,
    headers: HeaderMap,
    query: Result<Query<Callback>, QueryRejection>,
) -> Response {
    let integration = IntegrationId::new(integration);
    let Ok(Query(callback)) = query else {
        // No `state`: nothing to finish, and nowhere of its own to return.
        return land(&integration, Err(incomplete()), None, None);
    };
    let cookie = sign_in_cookie(&callback.state);
    let key = cookie_value(&headers, &cookie);
    let end = app
        .engine
        .finish_sign_in(&integration, &callback, key.as_deref())
        .await;
    let result = end.result.map(|connection| {
        format!(
            "Connected to {integration} as {}.",
            connection.account.label
        )
    });
    land(&integration, result, end.return_to, Some(&cookie))
}

fn incomplete() -> Error {
    Error::SignIn("the link or the provider's answer is incomplete; start again".into())
}

/// On to the provider, holding the sign-in's key in a cookie that only
/// this integration's sign-in paths receive.
fn to_provider(opened: OpenedSignIn) -> Response {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let max_age = opened.expires_at_ms.saturating_sub(now_ms) / 1000 + 1;
    let cookie = format!(
        "{}={}; {COOKIE_ATTRIBUTES}; Max-Age={max_age}",
        opened.cookie,
        opened.browser_key.expose(),
    );
    let (Ok(location), Ok(cookie)) = (
        HeaderValue::from_str(&opened.authorize_url),
        HeaderValue::from_str(&cookie),
    ) else {
        return page("error", "the sign-in could not be started; start again");
    };
    let mut response = see_other(location);
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    private(response)
}

/// Where the cookie goes: never to scripts, over https only, and on the
/// provider's top-level redirect back. With no `Path`, the browser scopes
/// it to the link's own directory (`.../oauth/{integration}`), so it
/// reaches this integration's callback wherever a proxy mounts the service.
const COOKIE_ATTRIBUTES: &str = "HttpOnly; Secure; SameSite=Lax";

/// A cookie's value from the request's `Cookie` headers.
fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// The browser lands: on the return URL, told how it went, or on a page.
/// The sign-in's cookie, if any, is cleared.
fn land(
    integration: &IntegrationId,
    result: Result<String, Error>,
    return_to: Option<Url>,
    cookie: Option<&str>,
) -> Response {
    let (status, reason) = match result {
        Ok(said) => ("connected", said),
        Err(error) => {
            let problem = Problem::from(error);
            tracing::info!(%integration, "a browser sign-in was refused: {}", problem.detail);
            ("error", problem.detail)
        }
    };
    let mut response = match return_to {
        Some(mut url) => {
            url.query_pairs_mut()
                .append_pair("integration", integration.as_str())
                .append_pair("status", status)
                .append_pair("reason", &reason);
            match HeaderValue::from_str(url.as_str()) {
                Ok(location) => see_other(location),
                Err(_) => page(status, &reason),
            }
        }
        None => page(status, &reason),
    };
    if let Some(name) = cookie {
        let expired = format!("{name}=; {COOKIE_ATTRIBUTES}; Max-Age=0");
        if let Ok(expired) = HeaderValue::from_str(&expired) {
            response.headers_mut().insert(header::SET_COOKIE, expired);
        }
    }
    private(response)
}

/// The URLs here hold a code or a state: keep them out of caches and of
/// the next page's `Referer`.
fn private(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// `303 See Other` to `location`, with a link to it for a browser that
/// does not follow.
fn see_other(location: HeaderValue) -> Response {
    let link = escape(location.to_str().unwrap_or_default());
    let body = Html(format!(
        "<!doctype html><meta charset=\"utf-8\"><title>Continue</title><p><a href=\"{link}\">Continue</a></p>"
    ));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)], body).into_response()
}

/// A page that says how the sign-in ended, for a host with no return URL.
fn page(status: &str, reason: &str) -> Response {
    let code = match status {
        "connected" => StatusCode::OK,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>Sign-in {status}</title><p>{}</p><p>You can close this window.</p>",
        escape(reason)
    );
    (code, Html(body)).into_response()
}

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}
