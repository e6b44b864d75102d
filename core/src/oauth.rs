//! OAuth 2.0 authorization code with PKCE (S256), for personal connections
//! (RFC 6749, RFC 7636, RFC 9700): building the authorize URL, exchanging
//! the code, refreshing with rotation, revoking. The client registration
//! (id, secret, redirect URI) belongs to the host application, never to a
//! plugin; the endpoints come from the plugin's manifest.

use crate::net::Routes;
use crate::redact::redact_text;
use crate::vault::Secret;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::Duration;
use url::Url;

/// How long a sign-in may take, from `begin` to the callback.
pub const FLOW_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// Why a sign-in could not be prepared, or stored tokens not read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// The OS random source failed.
    #[error("could not draw random bytes: {0}")]
    Random(getrandom::Error),
    /// A manifest's endpoint does not parse.
    #[error("invalid {which} URL: {reason}")]
    InvalidEndpoint {
        /// Which endpoint (`authorize`, `token`).
        which: &'static str,
        /// What is wrong with it.
        reason: url::ParseError,
    },
    /// A connection's sealed token set opened but is not a token set.
    #[error("stored tokens are unreadable")]
    UnreadableTokens,
    /// The HTTP client for token endpoints could not be built.
    #[error("the token client could not start: {0}")]
    Client(#[source] reqwest::Error),
}

/// The host application's registration with a provider.
#[derive(Debug, Clone)]
pub struct Client {
    /// The client id the provider issued.
    pub client_id: String,
    /// For confidential clients; sent in the token request body.
    pub client_secret: Option<Secret>,
    /// Registered with the provider; one per integration, which also
    /// defends against mix-up between providers.
    pub redirect_uri: String,
}

/// A PKCE verifier (43 URL-safe characters) and its S256 challenge.
pub struct Pkce {
    /// Kept (sealed) until the code is exchanged.
    pub verifier: Secret,
    /// Sent in the authorize URL.
    pub challenge: String,
}

fn random_token() -> Result<String, OAuthError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(OAuthError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A fresh verifier and its challenge.
pub fn pkce() -> Result<Pkce, OAuthError> {
    let verifier = random_token()?;
    let challenge = challenge_of(&verifier);
    Ok(Pkce {
        verifier: Secret::new(verifier),
        challenge,
    })
}

/// `BASE64URL(SHA256(verifier))`, without padding.
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A one-time `state`: 256 random bits.
pub fn state() -> Result<String, OAuthError> {
    random_token()
}

/// The provider's authorize URL for this sign-in.
pub fn authorize_url(
    endpoint: &str,
    client: &Client,
    scopes: &[String],
    state: &str,
    challenge: Option<&str>,
) -> Result<Url, OAuthError> {
    let mut url = Url::parse(endpoint).map_err(|reason| OAuthError::InvalidEndpoint {
        which: "authorize",
        reason,
    })?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &client.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", &client.redirect_uri)
            .append_pair("response_mode", "query")
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", state);
        if let Some(challenge) = challenge {
            q.append_pair("code_challenge", challenge)
                .append_pair("code_challenge_method", "S256");
        }
    }
    Ok(url)
}

/// Tokens of a connection. Sealed as a whole; never printed.
#[derive(Clone, Serialize, Deserialize)]
pub struct Tokens {
    /// Sent with each call as a bearer token.
    pub access_token: String,
    /// Exchanged for a fresh access token; absent if the provider gave none.
    pub refresh_token: Option<String>,
    /// When the access token expires (Unix milliseconds).
    pub expires_at_ms: u64,
    /// What the provider granted (may differ from what was asked).
    pub scopes: Vec<String>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_at_ms", &self.expires_at_ms)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// The token set as one secret, to be sealed.
    pub fn to_secret(&self) -> Secret {
        // Plain strings and numbers serialise without failure.
        Secret::new(serde_json::to_string(self).unwrap_or_default())
    }

    /// The token set a secret holds.
    pub fn from_secret(secret: &Secret) -> Result<Tokens, OAuthError> {
        serde_json::from_str(secret.expose()).map_err(|_| OAuthError::UnreadableTokens)
    }
}

/// Why a token request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The grant is dead (`invalid_grant`, `interaction_required`, ...):
    /// the member must sign in again. Do not retry.
    #[error("{0}")]
    Terminal(String),
    /// Worth retrying later (`temporarily_unavailable`, 5xx, timeout).
    #[error("{0}")]
    Transient(String),
    /// The host's registration is wrong (`invalid_client`, ...).
    #[error("{0}")]
    Misconfigured(String),
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
    scope: Option<String>,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
    error_description: Option<String>,
}

/// Talks to token endpoints.
pub struct TokenClient {
    http: reqwest::Client,
    routes: Routes,
}

impl TokenClient {
    /// A client for token endpoints, with declared hosts routed as `routes` say.
    pub fn new(routes: Routes) -> Result<Self, OAuthError> {
        let http = crate::net::client(Duration::from_secs(15)).map_err(OAuthError::Client)?;
        Ok(TokenClient { http, routes })
    }

    /// Exchanges an authorization code (with its PKCE verifier).
    pub async fn exchange(
        &self,
        token_url: &str,
        client: &Client,
        code: &str,
        verifier: Option<&Secret>,
        now_ms: u64,
    ) -> Result<Tokens, TokenError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", client.redirect_uri.as_str()),
        ];
        if let Some(verifier) = verifier {
            form.push(("code_verifier", verifier.expose()));
        }
        self.request(token_url, client, form, None, now_ms).await
    }

    /// Refreshes. A provider that rotates refresh tokens sends a new one;
    /// otherwise the old one stays.
    pub async fn refresh(
        &self,
        token_url: &str,
        client: &Client,
        tokens: &Tokens,
        now_ms: u64,
    ) -> Result<Tokens, TokenError> {
        let Some(refresh_token) = tokens.refresh_token.as_deref() else {
            return Err(TokenError::Terminal(
                "the provider gave no refresh token; sign in again".into(),
            ));
        };
        let scopes = tokens.scopes.join(" ");
        let form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("scope", scopes.as_str()),
        ];
        let mut fresh = self
            .request(token_url, client, form, Some(tokens), now_ms)
            .await?;
        if fresh.refresh_token.is_none() {
            fresh.refresh_token = tokens.refresh_token.clone();
        }
        Ok(fresh)
    }

    /// RFC 7009 revocation, best effort: a failure is only logged.
    pub async fn revoke(&self, revocation_url: &str, client: &Client, tokens: &Tokens) {
        let Some(token) = tokens.refresh_token.as_deref() else {
            return;
        };
        let mut form = vec![
            ("token", token),
            ("token_type_hint", "refresh_token"),
            ("client_id", client.client_id.as_str()),
        ];
        if let Some(secret) = &client.client_secret {
            form.push(("client_secret", secret.expose()));
        }
        if let Err(e) = self.post(revocation_url, &form).await {
            tracing::warn!("revoking a token at the provider failed: {e}");
        }
    }

    async fn request(
        &self,
        token_url: &str,
        client: &Client,
        mut form: Vec<(&str, &str)>,
        previous: Option<&Tokens>,
        now_ms: u64,
    ) -> Result<Tokens, TokenError> {
        form.push(("client_id", &client.client_id));
        if let Some(secret) = &client.client_secret {
            form.push(("client_secret", secret.expose()));
        }
        let response = self.post(token_url, &form).await?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| {
            TokenError::Transient(format!("reading the token response: {}", e.without_url()))
        })?;
        if status.is_success() {
            let t: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
                TokenError::Transient(format!(
                    "the token endpoint answered HTTP {status} with no token"
                ))
            })?;
            let scopes = match t.scope {
                Some(scope) => scope.split_whitespace().map(str::to_owned).collect(),
                None => previous.map(|p| p.scopes.clone()).unwrap_or_default(),
            };
            return Ok(Tokens {
                access_token: t.access_token,
                refresh_token: t.refresh_token,
                expires_at_ms: expiry(now_ms, t.expires_in),
                scopes,
            });
        }
        let sent: Vec<&str> = form
            .iter()
            .filter(|(name, _)| SECRET_FIELDS.contains(name))
            .map(|(_, value)| *value)
            .collect();
        Err(refused(status, &body, &sent))
    }

    async fn post(
        &self,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<reqwest::Response, TokenError> {
        let mut url = Url::parse(url)
            .map_err(|e| TokenError::Misconfigured(format!("invalid token URL: {e}")))?;
        let mut headers = HeaderMap::new();
        self.routes.apply(&mut url, &mut headers);
        if url.scheme() != "https" && headers.get(reqwest::header::HOST).is_none() {
            return Err(TokenError::Misconfigured(
                "token endpoints must be https".into(),
            ));
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(
            reqwest::header::ACCEPT,
            reqwest::header::HeaderValue::from_static("application/json"),
        );
        self.http
            .post(url)
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                TokenError::Transient(if e.is_timeout() {
                    "the token endpoint did not answer in time".to_owned()
                } else {
                    format!(
                        "the token endpoint could not be reached: {}",
                        e.without_url()
                    )
                })
            })
    }
}

/// Lifetimes a provider claims are believed up to a year: a token is then
/// refreshed at least yearly, and no `expires_in` can overflow the clock.
const MAX_TOKEN_LIFETIME_S: u64 = 365 * 24 * 3600;

/// When a token issued at `now_ms` expires (an hour if the provider does
/// not say, as RFC 6749 leaves it to the server).
fn expiry(now_ms: u64, expires_in: Option<u64>) -> u64 {
    let lifetime_s = expires_in.unwrap_or(3600).min(MAX_TOKEN_LIFETIME_S);
    now_ms.saturating_add(lifetime_s * 1000)
}

/// Form fields whose values are secrets, should a provider echo them.
const SECRET_FIELDS: &[&str] = &["code", "code_verifier", "refresh_token", "client_secret"];

/// A token endpoint's refusal, with whatever secret of the request it
/// quotes redacted: some providers repeat the refresh token or code in their
/// description, and the description reaches API callers, audit records and
/// webhooks.
fn refused(status: reqwest::StatusCode, body: &[u8], sent: &[&str]) -> TokenError {
    match serde_json::from_slice::<ErrorResponse>(body) {
        Ok(e) => classify(
            &redact_text(&e.error, sent),
            e.error_description
                .map(|d| redact_text(&d, sent))
                .as_deref(),
            status.as_u16(),
        ),
        Err(_) if status.is_server_error() => {
            TokenError::Transient(format!("the token endpoint answered HTTP {status}"))
        }
        Err(_) => TokenError::Misconfigured(format!("the token endpoint answered HTTP {status}")),
    }
}

/// Sorts a provider's error: which ones kill the grant, which pass.
fn classify(error: &str, description: Option<&str>, status: u16) -> TokenError {
    // Microsoft appends trace lines to the description; the first says it.
    let reason = match description
        .and_then(|d| d.lines().next())
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        Some(d) => format!("{error}: {d}"),
        None => error.to_owned(),
    };
    match error {
        // Semrush answers a reused refresh token with `invalid_request`.
        "invalid_grant"
        | "interaction_required"
        | "consent_required"
        | "login_required"
        | "invalid_request" => TokenError::Terminal(reason),
        "temporarily_unavailable" | "server_error" => TokenError::Transient(reason),
        _ if status >= 500 => TokenError::Transient(reason),
        _ => TokenError::Misconfigured(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn the_rfc_7636_test_vector_holds() -> TestResult {
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        Ok(())
    }

    #[test]
    fn verifiers_are_43_url_safe_characters_and_fresh() -> TestResult {
        let (a, b) = (pkce()?, pkce()?);
        assert_eq!(a.verifier.expose().len(), 43);
        assert!(
            a.verifier
                .expose()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a.verifier.expose(), b.verifier.expose());
        assert_eq!(a.challenge, challenge_of(a.verifier.expose()));
        Ok(())
    }

    #[test]
    fn terminal_errors_are_told_from_transient_ones() -> TestResult {
        let dead = classify(
            "invalid_grant",
            Some(
                "AADSTS70008: The provided authorization code or refresh token has expired.\r\nTrace ID: x",
            ),
            400,
        );
        assert_eq!(dead, TokenError::Terminal("invalid_grant: AADSTS70008: The provided authorization code or refresh token has expired.".into()));
        assert!(matches!(
            classify("temporarily_unavailable", None, 400),
            TokenError::Transient(_)
        ));
        assert!(matches!(
            classify("weird", None, 503),
            TokenError::Transient(_)
        ));
        assert!(matches!(
            classify("invalid_client", None, 401),
            TokenError::Misconfigured(_)
        ));
        Ok(())
    }

    #[test]
    fn a_provider_claiming_an_endless_lifetime_gets_a_year() -> TestResult {
        let year_ms = MAX_TOKEN_LIFETIME_S * 1000;
        assert_eq!(expiry(1_000, Some(u64::MAX)), 1_000 + year_ms);
        assert_eq!(expiry(1_000, Some(60)), 61_000);
        assert_eq!(expiry(1_000, None), 3_601_000);
        assert_eq!(expiry(u64::MAX - 5, Some(60)), u64::MAX);
        Ok(())
    }

    #[test]
    fn a_refusal_quoting_the_refresh_token_does_not_repeat_it() -> TestResult {
        let body = br#"{"error":"invalid_grant","error_description":"refresh token 1//0gRT-secret is revoked"}"#;
        let refusal = refused(reqwest::StatusCode::BAD_REQUEST, body, &["1//0gRT-secret"]);
        assert_eq!(
            refusal,
            TokenError::Terminal("invalid_grant: refresh token [redacted] is revoked".into())
        );
        Ok(())
    }

    #[test]
    fn tokens_never_print() -> TestResult {
        let t = Tokens {
            access_token: "AT-secret".into(),
            refresh_token: Some("RT-secret".into()),
            expires_at_ms: 1,
            scopes: vec!["User.Read".into()],
        };
        let shown = format!("{t:?}");
        assert!(!shown.contains("secret"), "{shown}");
        Ok(())
    }
}
