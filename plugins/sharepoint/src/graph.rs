//! Calling Microsoft Graph: paths, retries on throttling, error mapping.

use serde::de::DeserializeOwned;
use switchboard_sdk::http::{self, RequestBuilder, Response};
use switchboard_sdk::{Error, Result};

pub const HOST: &str = "graph.microsoft.com";
pub const BASE: &str = "https://graph.microsoft.com/v1.0";

/// Sends at most 4 times, waiting at most 10 s in all for `Retry-After`.
const ATTEMPTS: u32 = 4;
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

pub fn get<T: DeserializeOwned>(path: &str) -> Result<T> {
    call(http::get(&format!("{BASE}{path}")))
}

/// Follows an `@odata.nextLink` verbatim.
pub fn get_url<T: DeserializeOwned>(url: &str) -> Result<T> {
    call(http::get(url))
}

pub fn call<T: DeserializeOwned>(request: RequestBuilder) -> Result<T> {
    let response = send(request)?;
    response.json()
}

/// Sends an authenticated request and turns Graph errors into typed ones.
pub fn send(request: RequestBuilder) -> Result<Response> {
    let response = request
        .header("accept", "application/json")
        .authenticated()
        .send_retrying(ATTEMPTS, MAX_WAIT)?;
    if response.is_success() {
        return Ok(response);
    }
    Err(error_of(&response))
}

#[derive(serde::Deserialize, Default)]
struct Envelope {
    error: Body,
}

#[derive(serde::Deserialize, Default)]
struct Body {
    code: String,
    message: String,
}

fn error_of(response: &Response) -> Error {
    let body = serde_json::from_slice::<Envelope>(&response.body)
        .unwrap_or_default()
        .error;
    let said = if body.code.is_empty() {
        format!("HTTP {}", response.status)
    } else {
        format!("{}: {}", body.code, body.message)
    };
    match response.status {
        401 => Error::Unauthorized(format!("Microsoft Graph: {said}")),
        403 => Error::Upstream(format!(
            "Microsoft Graph denied access ({said}); the connection may lack the permission"
        )),
        404 => Error::NotFound(format!("Microsoft Graph: {said}")),
        429 | 503 | 504 => Error::RateLimited {
            retry_after_ms: response
                .header("retry-after")
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(|s| (s * 1000.0) as u64),
            message: format!("Microsoft Graph is throttling: {said}"),
        },
        _ => Error::Upstream(format!("Microsoft Graph: {said}")),
    }
}

/// Percent-encodes one path segment (ids, file names).
pub fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~!,".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str, headers: &[(&str, &str)]) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn graph_errors_become_typed_errors() {
        let expired = response(
            401,
            r#"{"error":{"code":"InvalidAuthenticationToken","message":"Lifetime validation failed, the token is expired."}}"#,
            &[],
        );
        assert_eq!(error_of(&expired), Error::Unauthorized("Microsoft Graph: InvalidAuthenticationToken: Lifetime validation failed, the token is expired.".into()));
        let missing = response(
            404,
            r#"{"error":{"code":"itemNotFound","message":"The resource could not be found."}}"#,
            &[],
        );
        assert!(matches!(error_of(&missing), Error::NotFound(_)));
        let throttled = response(
            429,
            r#"{"error":{"code":"TooManyRequests","message":"Please retry again later."}}"#,
            &[("retry-after", "2.128")],
        );
        assert!(matches!(
            error_of(&throttled),
            Error::RateLimited {
                retry_after_ms: Some(2128),
                ..
            }
        ));
        assert!(matches!(
            error_of(&response(403, "{}", &[])),
            Error::Upstream(_)
        ));
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(segment("Q3 plan/ä.md"), "Q3%20plan%2F%C3%A4.md");
        assert_eq!(
            segment("contoso.sharepoint.com,da60,712a"),
            "contoso.sharepoint.com,da60,712a"
        );
    }
}
