//! Errors as RFC 9457 problem details.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use switchboard::Error;
use switchboard::plugins::PluginError;

/// An RFC 9457 problem.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: String,
    /// For a denial: the policies that decided it.
    pub policies: Vec<String>,
}

/// The problem document, for the OpenAPI description.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct ProblemDocument {
    pub r#type: String,
    pub title: String,
    pub status: u16,
    /// What went wrong, for the person who asked (a denial's `@reason`).
    pub detail: String,
    /// For a denial: the `@id`s of the deciding policies.
    pub policies: Option<Vec<String>>,
}

impl Problem {
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            status,
            title,
            detail: detail.into(),
            policies: Vec::new(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = json!({ "type": "about:blank", "title": self.title, "status": self.status.as_u16(), "detail": self.detail });
        if !self.policies.is_empty() {
            body["policies"] = json!(self.policies);
        }
        let mut response = (
            self.status,
            [("content-type", "application/problem+json")],
            body.to_string(),
        )
            .into_response();
        // A turn frees when a running call ends, and a database comes back
        // by itself: try again in a second.
        if matches!(
            self.status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        ) {
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<Error> for Problem {
    fn from(error: Error) -> Self {
        use StatusCode as S;
        use switchboard::oauth::TokenError;
        let (status, title) = match &error {
            Error::Denied { .. } => (S::FORBIDDEN, "Denied by policy"),
            Error::UnknownIntegration(_) => (S::NOT_FOUND, "Unknown integration"),
            Error::ConnectionNotFound(_) => (S::NOT_FOUND, "Unknown connection"),
            Error::Plugin(PluginError::UnknownAction { .. }) => (S::NOT_FOUND, "Unknown action"),
            Error::ModeNotSupported { .. }
            | Error::OAuthRequired(_)
            | Error::NotOAuth(_)
            | Error::InvalidId(_) => (S::BAD_REQUEST, "Invalid request"),
            Error::SignIn(_) | Error::CodeExchange(TokenError::Terminal(_)) => {
                (S::BAD_REQUEST, "Sign-in refused")
            }
            Error::AlreadyEnabled { .. }
            | Error::NotEnabled(_)
            | Error::NoWorkspaceCredential(_)
            | Error::NotConnected(_)
            | Error::ConnectionUnusable { .. } => (S::CONFLICT, "Not possible in this state"),
            Error::CredentialRefused(_) => (S::UNPROCESSABLE_ENTITY, "Credential refused"),
            Error::ReturnUrlRefused(_) => (S::UNPROCESSABLE_ENTITY, "Return URL refused"),
            Error::SessionLifetime(_) => (S::UNPROCESSABLE_ENTITY, "Session lifetime refused"),
            Error::InvalidKey(_) => (S::UNPROCESSABLE_ENTITY, "Invalid key"),
            Error::InvalidSettings(_) => (S::UNPROCESSABLE_ENTITY, "Invalid settings"),
            Error::CredentialStale { .. }
            | Error::VersionChanged { .. }
            | Error::SettingsChanged(_) => (S::CONFLICT, "Not possible in this state"),
            Error::Busy(_) | Error::Plugin(PluginError::Busy { .. }) => {
                (S::TOO_MANY_REQUESTS, "Too many calls")
            }
            Error::NeedsApproval { .. } => (S::CONFLICT, "Needs approval"),
            Error::Store(switchboard::StoreError::Unavailable(_)) => {
                (S::SERVICE_UNAVAILABLE, "Storage unavailable")
            }
            Error::Plugin(PluginError::Connector {
                error: switchboard::model::ConnectorError::InvalidInput { .. },
                ..
            }) => (S::BAD_REQUEST, "Invalid input"),
            Error::Plugin(_)
            | Error::TokenRefresh(TokenError::Terminal(_) | TokenError::Transient(_))
            | Error::CodeExchange(TokenError::Transient(_)) => {
                (S::BAD_GATEWAY, "Integration failed")
            }
            // The operator's client registration, not the provider, is wrong.
            Error::NoOAuthClient(_)
            | Error::TokenRefresh(TokenError::Misconfigured(_))
            | Error::CodeExchange(TokenError::Misconfigured(_)) => {
                (S::INTERNAL_SERVER_ERROR, "Integration misconfigured")
            }
            Error::Policies(_) | Error::PolicyRequest(_) => {
                (S::INTERNAL_SERVER_ERROR, "Policy error")
            }
            // Storage, vault and internal faults, and whatever a later
            // engine adds.
            _ => (S::INTERNAL_SERVER_ERROR, "Internal error"),
        };
        let (detail, policies) = match error {
            // The reason alone: the policy ids travel in their own member.
            Error::Denied { reason, policies } => (reason, policies),
            unavailable @ Error::Store(switchboard::StoreError::Unavailable(_)) => {
                tracing::warn!("answered with 503: {unavailable}");
                (UNAVAILABLE_DETAIL.to_owned(), Vec::new())
            }
            // These may name files or keys: the operator reads them in the
            // log, the caller a fixed text.
            internal @ (Error::Store(_)
            | Error::Vault(_)
            | Error::OAuth(_)
            | Error::Internal(_)) => {
                tracing::error!("internal error answered with 500: {internal}");
                (INTERNAL_DETAIL.to_owned(), Vec::new())
            }
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

/// What a caller reads when the state cannot be reached for now.
const UNAVAILABLE_DETAIL: &str =
    "Switchboard cannot reach its database just now; try again shortly";

/// What a caller reads of a storage, vault or internal failure.
const INTERNAL_DETAIL: &str =
    "Switchboard could not complete the request; the operator's log says why";

impl From<JsonRejection> for Problem {
    fn from(rejection: JsonRejection) -> Self {
        // Too large and wrong content type keep their own status; anything
        // else wrong with a body (syntax, unknown or missing fields) is a 400.
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Body too large",
                rejection.body_text(),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Not JSON",
                rejection.body_text(),
            ),
            _ => malformed(rejection.body_text()),
        }
    }
}

/// A body that is JSON but not what the operation takes.
pub fn malformed(detail: String) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "Malformed request body", detail)
}

impl From<QueryRejection> for Problem {
    fn from(rejection: QueryRejection) -> Self {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "Invalid query",
            rejection.body_text(),
        )
    }
}

pub fn bad_request(detail: String) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "Invalid request", detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_over_its_share_is_429_with_a_retry_after() {
        let busy = Error::Busy("you already have 8 calls running".into());
        let response = Problem::from(busy).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "1");
        let plugin_busy = Error::Plugin(PluginError::Busy {
            plugin: "hostile".into(),
            limit: 4,
        });
        let problem = Problem::from(plugin_busy);
        assert_eq!(problem.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            problem.detail,
            "plugin `hostile` is already running its most calls at once (4); try again shortly"
        );
    }
}
