//! Token and revocation requests: code exchange, refresh, revocation, with
//! the registration's client authentication, and the provider's refusals
//! sorted into what kills a grant and what passes.

use super::OAuthError;
use super::registration::{ClientAuth, Endpoints, Registration};
use crate::net::{self, Routes, SendError};
use crate::redact::redact_text;
use crate::vault::Secret;
use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    AsyncHttpClient, AuthType, AuthorizationCode, ClientId, ClientSecret, EndpointNotSet,
    EndpointSet, ErrorResponseType, HttpRequest, HttpResponse, PkceCodeVerifier, RedirectUrl,
    RefreshToken, RequestTokenError, RevocationUrl, Scope, StandardErrorResponse, TokenResponse,
    TokenUrl,
};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

/// Tokens of a connection. Sealed as a whole; never printed.
#[derive(Clone, Serialize, Deserialize)]
pub struct Tokens {
    /// Sent to the service as a bearer token.
    pub access_token: String,
    /// Absent when the provider gave none: the member then signs in again.
    pub refresh_token: Option<String>,
    /// When the access token stops working, in ms since the epoch.
    pub expires_at_ms: u64,
    /// What the provider granted (may differ from what was asked).
    pub scopes: Vec<String>,
    /// When the access token was issued, in ms since the epoch (0 in
    /// token sets stored before it was kept).
    #[serde(default)]
    pub issued_at_ms: u64,
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
    /// The tokens as one secret, to seal.
    pub fn to_secret(&self) -> Secret {
        // Plain strings and numbers serialise without failure.
        Secret::new(serde_json::to_string(self).unwrap_or_default())
    }

    /// The tokens from an opened secret.
    pub fn from_secret(secret: &Secret) -> Result<Tokens, OAuthError> {
        serde_json::from_str(secret.expose()).map_err(|_| OAuthError::UnreadableTokens)
    }

    /// Whether the access token should be refreshed before use at `now_ms`:
    /// within a tenth of its lifetime of expiry, and never more than a
    /// minute early, so a short-lived token is still used for most of its
    /// life (a one-minute token for 54 seconds).
    pub fn due_for_refresh(&self, now_ms: u64) -> bool {
        let lifetime = self.expires_at_ms.saturating_sub(self.issued_at_ms);
        let margin = (lifetime / 10).min(REFRESH_AHEAD_MAX_MS);
        self.expires_at_ms <= now_ms.saturating_add(margin)
    }
}

/// The most a token is refreshed ahead of its expiry.
const REFRESH_AHEAD_MAX_MS: u64 = 60_000;

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

/// A registration with the endpoints its provider resolved to: what every
/// token request is made with.
#[derive(Debug, Clone)]
pub struct Registered {
    /// The operator's registration.
    pub registration: Registration,
    /// Where its sign-ins, codes and tokens go.
    pub endpoints: Endpoints,
}

/// Talks to token and revocation endpoints.
pub struct TokenClient {
    http: net::Client,
}

impl TokenClient {
    /// A client over the guarded `net` client, 15 seconds a request.
    pub fn new(routes: &Routes) -> Result<Self, OAuthError> {
        let http = net::Client::new(Duration::from_secs(15), routes).map_err(OAuthError::Client)?;
        Ok(TokenClient { http })
    }

    /// The HTTP client, for discovery.
    pub fn http(&self) -> &net::Client {
        &self.http
    }

    /// Exchanges an authorization code (with its PKCE verifier). A
    /// response that names no scopes granted the `requested` ones (RFC
    /// 6749 §5.1).
    pub async fn exchange(
        &self,
        client: &Registered,
        code: &str,
        verifier: Option<&Secret>,
        requested: &[String],
        now_ms: u64,
    ) -> Result<Tokens, TokenError> {
        let oauth = oauth_client(client).set_redirect_uri(redirect_uri(client)?);
        let mut request = oauth.exchange_code(AuthorizationCode::new(code.to_owned()));
        if let Some(verifier) = verifier {
            request =
                request.set_pkce_verifier(PkceCodeVerifier::new(verifier.expose().to_owned()));
        }
        for (name, value) in assertion(client, now_ms)? {
            request = request.add_extra_param(name, value);
        }
        let http = self.guarded();
        let answer = request.request_async(&http).await;
        let sent = secrets(
            client,
            &[code, verifier.map(Secret::expose).unwrap_or_default()],
        );
        answer
            .map(|t| tokens_of(&t, requested, now_ms))
            .map_err(|e| token_error(e, http.status(), &sent))
    }

    /// Refreshes, asking for the scopes the grant has (none when it has
    /// none: `scope` is then left out, never sent empty). A provider that
    /// rotates refresh tokens sends a new one; otherwise the old one stays.
    pub async fn refresh(
        &self,
        client: &Registered,
        tokens: &Tokens,
        now_ms: u64,
    ) -> Result<Tokens, TokenError> {
        let Some(refresh_token) = tokens.refresh_token.as_deref() else {
            return Err(TokenError::Terminal(
                "the provider gave no refresh token; sign in again".into(),
            ));
        };
        let oauth = oauth_client(client);
        let held = RefreshToken::new(refresh_token.to_owned());
        let mut request = oauth
            .exchange_refresh_token(&held)
            .add_scopes(tokens.scopes.iter().cloned().map(Scope::new));
        for (name, value) in assertion(client, now_ms)? {
            request = request.add_extra_param(name, value);
        }
        let http = self.guarded();
        let answer = request.request_async(&http).await;
        let sent = secrets(client, &[refresh_token]);
        let mut fresh = answer
            .map(|t| tokens_of(&t, &tokens.scopes, now_ms))
            .map_err(|e| token_error(e, http.status(), &sent))?;
        if fresh.refresh_token.is_none() {
            fresh.refresh_token = tokens.refresh_token.clone();
        }
        Ok(fresh)
    }

    /// RFC 7009 revocation of a connection's refresh token, where the
    /// provider has an endpoint; the provider's refusal comes back redacted.
    pub async fn revoke(
        &self,
        client: &Registered,
        tokens: &Tokens,
        now_ms: u64,
    ) -> Result<(), TokenError> {
        let (Some(url), Some(token)) = (
            client.endpoints.revocation.as_ref(),
            tokens.refresh_token.as_deref(),
        ) else {
            return Ok(());
        };
        let oauth = oauth_client(client).set_revocation_url(RevocationUrl::from_url(url.clone()));
        // Refuses a revocation URL that is not https (`ConfigurationError::InsecureUrl`).
        let mut request = oauth
            .revoke_token(RefreshToken::new(token.to_owned()).into())
            .map_err(|e| TokenError::Misconfigured(e.to_string()))?;
        for (name, value) in assertion(client, now_ms)? {
            request = request.add_extra_param(name, value);
        }
        let http = self.guarded();
        let answer = request.request_async(&http).await;
        answer.map_err(|e| token_error(e, http.status(), &secrets(client, &[token])))
    }

    /// An HTTP client for one request.
    fn guarded(&self) -> Guarded {
        Guarded {
            http: self.http.clone(),
            status: AtomicU16::new(0),
        }
    }
}

/// The registration as the crate wants it: the client id, the token
/// endpoint, and the secret where the client authenticates with one.
fn oauth_client(client: &Registered) -> TokenEndpointClient {
    let registration = &client.registration;
    let oauth = BasicClient::new(ClientId::new(registration.client_id.clone()))
        .set_token_uri(TokenUrl::from_url(client.endpoints.token.clone()));
    match &registration.auth {
        ClientAuth::SecretPost(secret) => oauth
            .set_auth_type(AuthType::RequestBody)
            .set_client_secret(ClientSecret::new(secret.expose().to_owned())),
        ClientAuth::SecretBasic(secret) => oauth
            .set_auth_type(AuthType::BasicAuth)
            .set_client_secret(ClientSecret::new(secret.expose().to_owned())),
        // The id goes in the body; an assertion, if any, beside it.
        ClientAuth::None | ClientAuth::PrivateKeyJwt(_) => {
            oauth.set_auth_type(AuthType::RequestBody)
        }
    }
}

/// The crate's client with its token endpoint set.
type TokenEndpointClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The `private_key_jwt` fields of a token request (RFC 7523 §2.2), with a
/// fresh assertion whose audience is the token endpoint.
fn assertion(client: &Registered, now_ms: u64) -> Result<Vec<(&'static str, String)>, TokenError> {
    let ClientAuth::PrivateKeyJwt(key) = &client.registration.auth else {
        return Ok(Vec::new());
    };
    let jwt = key
        .sign(
            &client.registration.client_id,
            client.endpoints.token.as_str(),
            now_ms / 1000,
        )
        .map_err(|e| TokenError::Misconfigured(e.to_string()))?;
    Ok(vec![
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
        ),
        ("client_assertion", jwt),
    ])
}

/// The registered redirect URI, sent as written.
fn redirect_uri(client: &Registered) -> Result<RedirectUrl, TokenError> {
    RedirectUrl::new(client.registration.redirect_uri.clone())
        .map_err(|e| TokenError::Misconfigured(format!("invalid redirect URI: {e}")))
}

/// The secrets a request carries, to redact should the provider echo them.
fn secrets<'a>(client: &'a Registered, sent: &[&'a str]) -> Vec<&'a str> {
    sent.iter()
        .copied()
        .chain(client.registration.auth.secret())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Our record of a token response. A provider that does not say which
/// scopes it granted granted the ones asked for (RFC 6749 §5.1).
fn tokens_of(answer: &BasicTokenResponse, asked: &[String], now_ms: u64) -> Tokens {
    let scopes = match answer.scopes() {
        Some(granted) => granted
            .iter()
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => asked.to_vec(),
    };
    Tokens {
        access_token: answer.access_token().secret().clone(),
        refresh_token: answer.refresh_token().map(|t| t.secret().clone()),
        expires_at_ms: expiry(now_ms, answer.expires_in().map(|d| d.as_secs())),
        scopes,
        issued_at_ms: now_ms,
    }
}

/// The crate's HTTP client for one request: the guarded `net` client,
/// https only. It never follows a redirect (the `net` client has no
/// redirect policy) and keeps the answer's status, which the crate's errors
/// do not carry.
// It owns its client (a shared pointer): a borrowed one would make the
// crate's request futures depend on a lifetime the `Send` and
// `AsyncHttpClient` bounds of axum handlers cannot name.
struct Guarded {
    http: net::Client,
    status: AtomicU16,
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
enum Unreached {
    #[error("token endpoints must be https")]
    NotHttps,
    #[error("the token endpoint could not be reached: {0}")]
    Unreachable(#[from] SendError),
    #[error("reading the token response: {0}")]
    Unreadable(String),
    #[error("the token request could not be built: {0}")]
    Unbuildable(String),
}

impl Guarded {
    /// The status of the answer, if one came.
    fn status(&self) -> Option<StatusCode> {
        StatusCode::from_u16(self.status.load(Ordering::Relaxed)).ok()
    }

    /// Sends one request the crate built, over https.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, Unreached> {
        let request = reqwest::Request::try_from(request)
            .map_err(|e| Unreached::Unbuildable(e.without_url().to_string()))?;
        if request.url().scheme() != "https" {
            return Err(Unreached::NotHttps);
        }
        let response = self.http.execute(request).await?;
        let status = response.status();
        self.status.store(status.as_u16(), Ordering::Relaxed);
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| Unreached::Unreadable(net::cause_chain(&e.without_url())))?;
        let mut answer = HttpResponse::new(body.to_vec());
        *answer.status_mut() = status;
        *answer.headers_mut() = headers;
        Ok(answer)
    }
}

impl<'c> AsyncHttpClient<'c> for Guarded {
    type Error = Unreached;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Unreached>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
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

/// A failed token or revocation request in our terms, with whatever secret
/// of the request the provider quotes redacted.
fn token_error<T>(
    error: RequestTokenError<Unreached, StandardErrorResponse<T>>,
    status: Option<StatusCode>,
    sent: &[&str],
) -> TokenError
where
    T: ErrorResponseType + AsRef<str> + fmt::Display + 'static,
{
    match error {
        RequestTokenError::ServerResponse(refusal) => {
            refused(status.map_or(0, |s| s.as_u16()), &refusal, sent)
        }
        RequestTokenError::Request(unreached) => TokenError::Transient(unreached.to_string()),
        // The request could not be built: nothing was sent.
        RequestTokenError::Other(why) if status.is_none() => TokenError::Misconfigured(why),
        // No token and no readable refusal (HTML, empty, not JSON): the
        // status tells. The body may hold a token: it is never shown.
        RequestTokenError::Parse(..) | RequestTokenError::Other(_) => match status {
            Some(s) if s.is_server_error() => {
                TokenError::Transient(format!("the token endpoint answered HTTP {s}"))
            }
            Some(s) if s.is_success() => TokenError::Transient(format!(
                "the token endpoint answered HTTP {s} with no token"
            )),
            Some(s) => TokenError::Misconfigured(format!("the token endpoint answered HTTP {s}")),
            None => TokenError::Transient("the token endpoint gave no answer".into()),
        },
    }
}

/// A token endpoint's refusal, with whatever secret of the request it
/// quotes redacted: some providers repeat the refresh token or code in their
/// description, and the description reaches API callers, audit records and
/// webhooks.
fn refused<T>(status: u16, refusal: &StandardErrorResponse<T>, sent: &[&str]) -> TokenError
where
    T: ErrorResponseType + AsRef<str>,
{
    classify(
        &redact_text(refusal.error().as_ref(), sent),
        refusal
            .error_description()
            .map(|d| redact_text(d, sent))
            .as_deref(),
        status,
    )
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
    use super::super::AssertionKey;
    use super::*;
    use oauth2::basic::BasicErrorResponse;
    use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
    use std::collections::HashMap;
    use std::sync::Mutex;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn registration(auth: ClientAuth) -> Registered {
        Registered {
            registration: Registration {
                client_id: "app-id".into(),
                auth,
                redirect_uri: "https://switchboard.example/oauth/callback".into(),
                provider: super::super::Provider::Endpoints(endpoints()),
            },
            endpoints: endpoints(),
        }
    }

    fn endpoints() -> Endpoints {
        Endpoints::new(
            "https://login.example/authorize",
            "https://login.example/token",
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A provider that records each request and answers `body` with `status`.
    fn provider(
        seen: &Mutex<Vec<HttpRequest>>,
        status: StatusCode,
        body: &'static [u8],
    ) -> impl Fn(HttpRequest) -> std::future::Ready<Result<HttpResponse, Unreached>> {
        move |request| {
            if let Ok(mut seen) = seen.lock() {
                seen.push(request);
            }
            let mut answer = HttpResponse::new(body.to_vec());
            *answer.status_mut() = status;
            answer
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            std::future::ready(Ok(answer))
        }
    }

    fn form(request: &HttpRequest) -> HashMap<String, String> {
        url::form_urlencoded::parse(request.body())
            .into_owned()
            .collect()
    }

    #[tokio::test]
    async fn the_code_exchange_sends_the_registration_in_the_body() -> TestResult {
        let seen = Mutex::new(Vec::new());
        let answer = br#"{"access_token":"AT","token_type":"Bearer","expires_in":60,"scope":"User.Read","refresh_token":"RT"}"#;
        let client = registration(ClientAuth::SecretPost(Secret::new("app-secret")));
        let oauth = oauth_client(&client).set_redirect_uri(redirect_uri(&client)?);
        let granted = oauth
            .exchange_code(AuthorizationCode::new("the-code".into()))
            .set_pkce_verifier(PkceCodeVerifier::new("v".repeat(43)))
            .request_async(&provider(&seen, StatusCode::OK, answer))
            .await?;
        let tokens = tokens_of(&granted, &[], 1_000);
        assert_eq!(tokens.access_token, "AT");
        assert_eq!(tokens.refresh_token.as_deref(), Some("RT"));
        assert_eq!(tokens.expires_at_ms, 61_000);
        assert_eq!(tokens.scopes, ["User.Read"]);
        let seen = seen.lock().map_err(|e| e.to_string())?;
        let [request] = seen.as_slice() else {
            return Err("one request".into());
        };
        assert!(request.headers().get(AUTHORIZATION).is_none());
        assert_eq!(request.headers()[ACCEPT], "application/json");
        let f = form(request);
        assert_eq!(f["grant_type"], "authorization_code");
        assert_eq!(f["code"], "the-code");
        assert_eq!(f["code_verifier"], "v".repeat(43));
        assert_eq!(
            f["redirect_uri"],
            "https://switchboard.example/oauth/callback"
        );
        assert_eq!(f["client_id"], "app-id");
        assert_eq!(f["client_secret"], "app-secret");
        Ok(())
    }

    #[tokio::test]
    async fn a_refresh_asks_for_the_granted_scopes_and_only_those() -> TestResult {
        let seen = Mutex::new(Vec::new());
        let answer = br#"{"access_token":"AT2","token_type":"bearer"}"#;
        let client = registration(ClientAuth::SecretPost(Secret::new("app-secret")));
        let oauth = oauth_client(&client);
        let held = RefreshToken::new("RT".into());
        let before = Tokens {
            access_token: "AT".into(),
            refresh_token: Some("RT".into()),
            expires_at_ms: 0,
            scopes: vec!["User.Read".into(), "Files.Read.All".into()],
            issued_at_ms: 0,
        };
        let granted = oauth
            .exchange_refresh_token(&held)
            .add_scopes(before.scopes.iter().cloned().map(Scope::new))
            .request_async(&provider(&seen, StatusCode::OK, answer))
            .await?;
        // No `scope` in the answer: the grant keeps the scopes it had.
        assert_eq!(tokens_of(&granted, &before.scopes, 0).scopes, before.scopes);
        let seen = seen.lock().map_err(|e| e.to_string())?;
        let f = form(&seen[0]);
        assert_eq!(f["grant_type"], "refresh_token");
        assert_eq!(f["refresh_token"], "RT");
        assert_eq!(f["scope"], "User.Read Files.Read.All");
        assert_eq!(f["client_id"], "app-id");
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

    #[tokio::test]
    async fn refusals_are_sorted_by_error_then_status() -> TestResult {
        let client = registration(ClientAuth::SecretPost(Secret::new("app-secret")));
        let oauth = oauth_client(&client);
        let held = RefreshToken::new("RT".into());
        let seen = Mutex::new(Vec::new());
        type Case = (StatusCode, &'static [u8], fn(&TokenError) -> bool);
        let cases: [Case; 4] = [
            // An extension error the crate does not name.
            (
                StatusCode::BAD_REQUEST,
                br#"{"error":"interaction_required"}"#,
                |e| matches!(e, TokenError::Terminal(r) if r == "interaction_required"),
            ),
            // An unknown error, but the provider is down.
            (
                StatusCode::SERVICE_UNAVAILABLE,
                br#"{"error":"weird"}"#,
                |e| matches!(e, TokenError::Transient(_)),
            ),
            // A gateway's HTML page.
            (
                StatusCode::BAD_GATEWAY,
                b"<html>502 Bad Gateway</html>",
                |e| matches!(e, TokenError::Transient(r) if r == "the token endpoint answered HTTP 502 Bad Gateway"),
            ),
            // No body at all, and not the provider's fault.
            (
                StatusCode::NOT_FOUND,
                b"",
                |e| matches!(e, TokenError::Misconfigured(r) if r == "the token endpoint answered HTTP 404 Not Found"),
            ),
        ];
        for (status, body, expected) in cases {
            let http = provider(&seen, status, body);
            let error = oauth
                .exchange_refresh_token(&held)
                .request_async(&http)
                .await
                .err()
                .ok_or("a refusal")?;
            let sorted = token_error(error, Some(status), &["RT"]);
            assert!(expected(&sorted), "{status}: {sorted:?}");
        }
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
        let refusal: BasicErrorResponse = serde_json::from_slice(body)?;
        assert_eq!(
            refused(400, &refusal, &["1//0gRT-secret"]),
            TokenError::Terminal("invalid_grant: refresh token [redacted] is revoked".into())
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_plain_http_endpoint_is_refused() -> TestResult {
        let client = TokenClient::new(&Routes::default())?;
        let http = client.guarded();
        let request = oauth2::http::Request::builder()
            .method("POST")
            .uri("http://login.example/token")
            .body(Vec::new())?;
        let answer = http.call(request).await.err();
        assert!(matches!(answer, Some(Unreached::NotHttps)), "{answer:?}");
        assert_eq!(http.status(), None);
        Ok(())
    }

    #[test]
    fn tokens_never_print() -> TestResult {
        let t = Tokens {
            access_token: "AT-secret".into(),
            refresh_token: Some("RT-secret".into()),
            expires_at_ms: 1,
            scopes: vec!["User.Read".into()],
            issued_at_ms: 0,
        };
        let shown = format!("{t:?}");
        assert!(!shown.contains("secret"), "{shown}");
        Ok(())
    }

    #[tokio::test]
    async fn client_secret_basic_goes_in_the_header_form_encoded() -> TestResult {
        let seen = Mutex::new(Vec::new());
        let answer = br#"{"access_token":"AT","token_type":"Bearer"}"#;
        let client = registration(ClientAuth::SecretBasic(Secret::new("a b:c")));
        oauth_client(&client)
            .exchange_refresh_token(&RefreshToken::new("RT".into()))
            .request_async(&provider(&seen, StatusCode::OK, answer))
            .await?;
        let seen = seen.lock().map_err(|e| e.to_string())?;
        let basic = seen[0].headers()[AUTHORIZATION].to_str()?.to_owned();
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.strip_prefix("Basic ").ok_or("Basic")?)?;
        assert_eq!(decoded, b"app-id:a+b%3Ac");
        let f = form(&seen[0]);
        assert!(!f.contains_key("client_secret"), "{f:?}");
        Ok(())
    }

    #[test]
    fn a_client_assertion_names_the_token_endpoint_and_the_certificate() -> TestResult {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/oauth");
        let key = AssertionKey::from_pem(
            &std::fs::read(format!("{dir}/client.key"))?,
            "RS256",
            Some(&std::fs::read(format!("{dir}/client.crt"))?),
            None,
        )?;
        let client = registration(ClientAuth::PrivateKeyJwt(key));
        let fields = assertion(&client, 1_700_000_000_000)?;
        assert_eq!(
            fields[0],
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned()
            )
        );
        let public = std::fs::read(format!("{dir}/client.pub"))?;
        let mut check = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        check.set_audience(&["https://login.example/token"]);
        check.validate_exp = false;
        let decoded = jsonwebtoken::decode::<serde_json::Value>(
            &fields[1].1,
            &jsonwebtoken::DecodingKey::from_rsa_pem(&public)?,
            &check,
        )?;
        let claims = decoded.claims;
        assert_eq!(claims["iss"], "app-id");
        assert_eq!(claims["sub"], "app-id");
        assert_eq!(claims["exp"], 1_700_000_300u64);
        assert_eq!(decoded.header.x5t_s256.as_deref().map(str::len), Some(43));
        let again = assertion(&client, 1_700_000_000_000)?;
        assert_ne!(again[1].1, fields[1].1, "every assertion has its own jti");
        Ok(())
    }

    #[test]
    fn a_short_lived_token_is_used_for_most_of_its_life() {
        let issued = 1_000_000;
        let minute = Tokens {
            access_token: String::new(),
            refresh_token: None,
            expires_at_ms: issued + 60_000,
            scopes: Vec::new(),
            issued_at_ms: issued,
        };
        assert!(!minute.due_for_refresh(issued));
        assert!(!minute.due_for_refresh(issued + 53_000));
        assert!(minute.due_for_refresh(issued + 54_000));
        let hour = Tokens {
            expires_at_ms: issued + 3_600_000,
            ..minute.clone()
        };
        assert!(!hour.due_for_refresh(issued + 3_539_000));
        assert!(hour.due_for_refresh(issued + 3_540_000));
        // Stored before the issue time was kept: a minute ahead, as before.
        let old = Tokens {
            issued_at_ms: 0,
            ..hour
        };
        assert!(old.due_for_refresh(issued + 3_540_000));
    }
}
