//! The public sign-in callback: where the provider sends a member's browser
//! back. It takes no service token: the one-time `state` authenticates it
//! (it binds workspace, member, integration and expiry; the PKCE verifier
//! never left the server). The browser is sent on with `303 See Other` to
//! the sign-in's checked return URL or the operator's default, carrying the
//! integration, `status=connected|error` and a human reason, and never the
//! code, a token or the state; with no return URL at all, a short page says
//! the same.

use crate::problem::Problem;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use switchboard::engine::{Callback, SignInEnd};
use switchboard::model::IntegrationId;

/// `GET /oauth/{integration}/callback`.
pub async fn callback(
    State(app): State<crate::Shared>,
    Path(integration): Path<String>,
    query: Result<Query<Callback>, QueryRejection>,
) -> Response {
    let integration = IntegrationId::new(integration);
    let end = match query {
        Ok(Query(callback)) => app.engine.finish_sign_in(&integration, &callback).await,
        // No `state`: nothing to finish, and nowhere of its own to return.
        Err(_) => SignInEnd {
            result: Err(switchboard::Error::SignIn(
                "the provider's answer is incomplete; start again".into(),
            )),
            return_to: app.engine.default_return_url().cloned(),
        },
    };
    let (status, reason) = match end.result {
        Ok(connection) => (
            "connected",
            format!(
                "Connected to {integration} as {}.",
                connection.account.label
            ),
        ),
        Err(error) => {
            let problem = Problem::from(error);
            tracing::info!(%integration, "a browser sign-in was refused: {}", problem.detail);
            ("error", problem.detail)
        }
    };
    let mut response = match end.return_to {
        Some(mut url) => {
            url.query_pairs_mut()
                .append_pair("integration", integration.as_str())
                .append_pair("status", status)
                .append_pair("reason", &reason);
            match HeaderValue::from_str(url.as_str()) {
                Ok(location) => {
                    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
                }
                Err(_) => page(status, &reason),
            }
        }
        None => page(status, &reason),
    };
    // The callback's URL held the code and state: keep it out of caches
    // and of the next page's `Referer`.
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
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
