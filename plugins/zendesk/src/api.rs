//! Zendesk's API v2 on the workspace's subdomain: requests, and its
//! answers turned into results or errors people can act on.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use switchboard_sdk::{Error, Result, http, settings};

/// Sends of one request when Zendesk asks to wait (429, 503), and the
/// longest wait in all before the rate limit is handed to the caller.
const ATTEMPTS: u32 = 2;
const MAX_WAIT: Duration = Duration::from_secs(5);

/// `acme.zendesk.com`, from the workspace's setting.
pub fn base_host() -> Result<String> {
    settings::get("subdomain")
        .map(|subdomain| format!("{subdomain}.zendesk.com"))
        .ok_or_else(|| Error::Internal("the subdomain setting is missing".into()))
}

/// `path` (e.g. `/api/v2/tickets.json`) on the workspace's account, with
/// `query` parameters, read as `T`.
pub fn get<T: DeserializeOwned>(path: &str, query: &[(&str, &str)]) -> Result<T> {
    let mut request = http::get(&format!("https://{}{path}", base_host()?)).authenticated();
    for (name, value) in query {
        request = request.query(name, value);
    }
    let response = request.send_retrying(ATTEMPTS, MAX_WAIT)?;
    if response.is_success() {
        return response.json();
    }
    Err(refusal(
        response.status,
        &response.text(),
        response.header("retry-after"),
    ))
}

/// Zendesk's error bodies: `{"error": "Couldn't authenticate you"}`, or
/// `{"error": "RecordNotFound", "description": "Not found"}`, or
/// `{"error": {"title": …, "message": …}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: Option<serde_json::Value>,
    description: Option<String>,
}

/// What a non-success answer means, with Zendesk's own words in it.
fn refusal(status: u16, body: &str, retry_after: Option<&str>) -> Error {
    let said = serde_json::from_str::<ErrorBody>(body)
        .ok()
        .and_then(|e| {
            let error = match e.error? {
                serde_json::Value::String(text) => text,
                serde_json::Value::Object(o) => o
                    .get("message")
                    .or_else(|| o.get("title"))
                    .and_then(|m| m.as_str())
                    .unwrap_or_default()
                    .to_owned(),
                other => other.to_string(),
            };
            Some(match e.description {
                Some(description) => format!("{error}: {description}"),
                None => error,
            })
        })
        .unwrap_or_else(|| format!("HTTP {status}"));
    match status {
        401 => Error::Unauthorized(format!("Zendesk refused the email and API token ({said})")),
        403 => Error::Upstream(format!("Zendesk does not let this agent do that ({said})")),
        404 => Error::NotFound(format!("Zendesk has no such record ({said})")),
        400 | 422 => Error::InvalidInput(format!("Zendesk refused the request ({said})")),
        429 => Error::RateLimited {
            retry_after_ms: retry_after
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(|s| s * 1000),
            message: "Zendesk's rate limit was reached; try again shortly".into(),
        },
        _ => Error::Upstream(format!("Zendesk answered {status} ({said})")),
    }
}

/// The agent a token belongs to.
#[derive(Deserialize)]
pub struct Me {
    pub id: Option<u64>,
    pub name: String,
    #[serde(default)]
    pub email: String,
    pub role: String,
}

/// The agent the call's credential belongs to. Zendesk answers `users/me`
/// without valid credentials with an anonymous user (no id): a refusal.
pub fn me() -> Result<Me> {
    #[derive(Deserialize)]
    struct Answer {
        user: Me,
    }
    let me = get::<Answer>("/api/v2/users/me.json", &[])?.user;
    if me.id.is_none() || me.role == "end-user" {
        return Err(Error::Unauthorized(
            "Zendesk did not accept the email and API token: it answered as an anonymous user"
                .into(),
        ));
    }
    Ok(me)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zendesk_error_bodies_become_errors_with_its_words() {
        assert_eq!(
            refusal(401, r#"{"error":"Couldn't authenticate you"}"#, None),
            Error::Unauthorized(
                "Zendesk refused the email and API token (Couldn't authenticate you)".into()
            )
        );
        assert_eq!(
            refusal(
                404,
                r#"{"error":"RecordNotFound","description":"Not found"}"#,
                None
            ),
            Error::NotFound("Zendesk has no such record (RecordNotFound: Not found)".into())
        );
        assert_eq!(
            refusal(429, "Too Many Requests", Some("7")),
            Error::RateLimited {
                retry_after_ms: Some(7000),
                message: "Zendesk's rate limit was reached; try again shortly".into()
            }
        );
        assert_eq!(
            refusal(502, "<html>", None),
            Error::Upstream("Zendesk answered 502 (HTTP 502)".into())
        );
    }
}
