//! OAuth 2.0 authorization code with PKCE (S256), for personal connections
//! (RFC 6749, RFC 7636, RFC 9700, RFC 7009), on the `oauth2` crate: it
//! builds the authorize URL and the token and revocation requests and reads
//! the answers; every request goes out through an adapter over the `net`
//! client (no redirects, public addresses only, declared hosts routed to
//! local mocks). The client registration (id, secret, redirect URI) belongs
//! to the host application, never to a plugin; the endpoints come from the
//! plugin's manifest.

use crate::net::Routes;
use crate::redact::redact_text;
use crate::vault::Secret;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    AsyncHttpClient, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    ErrorResponseType, HttpRequest, HttpResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
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
    /// The id the provider gave the host application.
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
    pub challenge: PkceCodeChallenge,
}

/// 256 random bits from the OS, URL-safe: 43 characters.
fn random_token() -> Result<String, OAuthError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(OAuthError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A fresh verifier and its challenge (drawn here rather than by the
/// crate, whose generator panics where the OS source fails).
pub fn pkce() -> Result<Pkce, OAuthError> {
    let verifier = random_token()?;
    // 43 characters: within the 43..=128 the crate requires.
    let challenge =
        PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.clone()));
    Ok(Pkce {
        verifier: Secret::new(verifier),
        challenge,
    })
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
    pkce: Option<&Pkce>,
) -> Result<Url, OAuthError> {
    let invalid = |which| move |reason| OAuthError::InvalidEndpoint { which, reason };
    let oauth = BasicClient::new(ClientId::new(client.client_id.clone()))
        .set_redirect_uri(
            RedirectUrl::new(client.redirect_uri.clone()).map_err(invalid("redirect"))?,
        )
        .set_auth_uri(AuthUrl::new(endpoint.to_owned()).map_err(invalid("authorize"))?);
    let mut request = oauth
        .authorize_url(|| CsrfToken::new(state.to_owned()))
        .add_scopes(scopes.iter().cloned().map(Scope::new))
        .add_extra_param("response_mode", "query");
    if let Some(pkce) = pkce {
        request = request.set_pkce_challenge(pkce.challenge.clone());
    }
    Ok(request.url().0)
}

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

/// Talks to token and revocation endpoints.
pub struct TokenClient {
    http: reqwest::Client,
    routes: std::sync::Arc<Routes>,
}

impl TokenClient {
    /// A client over the guarded `net` client, 15 seconds a request.
    pub fn new(routes: Routes) -> Result<Self, OAuthError> {
        let http = crate::net::client(Duration::from_secs(15)).map_err(OAuthError::Client)?;
        Ok(TokenClient {
            http,
            routes: std::sync::Arc::new(routes),
        })
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
        let oauth = registered(client)
            .set_redirect_uri(redirect_uri(client)?)
            .set_token_uri(token_uri(token_url)?);
        let mut request = oauth.exchange_code(AuthorizationCode::new(code.to_owned()));
        if let Some(verifier) = verifier {
            request =
                request.set_pkce_verifier(PkceCodeVerifier::new(verifier.expose().to_owned()));
        }
        let http = self.guarded();
        let answer = request.request_async(&http).await;
        let sent = secrets(
            client,
            &[code, verifier.map(Secret::expose).unwrap_or_default()],
        );
        answer
            .map(|t| tokens_of(&t, None, now_ms))
            .map_err(|e| token_error(e, http.status(), &sent))
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
        let oauth = registered(client).set_token_uri(token_uri(token_url)?);
        let held = RefreshToken::new(refresh_token.to_owned());
        let http = self.guarded();
        // No `scope` goes out when none was granted (RFC 6749 §6: the grant's own).
        let answer = oauth
            .exchange_refresh_token(&held)
            .add_scopes(tokens.scopes.iter().cloned().map(Scope::new))
            .request_async(&http)
            .await;
        let sent = secrets(client, &[refresh_token]);
        let mut fresh = answer
            .map(|t| tokens_of(&t, Some(tokens), now_ms))
            .map_err(|e| token_error(e, http.status(), &sent))?;
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
        if let Err(e) = self.try_revoke(revocation_url, client, token).await {
            tracing::warn!("revoking a token at the provider failed: {e}");
        }
    }

    /// Revokes a refresh token; the provider's refusal comes back redacted.
    async fn try_revoke(
        &self,
        revocation_url: &str,
        client: &Client,
        token: &str,
    ) -> Result<(), TokenError> {
        let url = RevocationUrl::new(revocation_url.to_owned())
            .map_err(|e| TokenError::Misconfigured(format!("invalid revocation URL: {e}")))?;
        let oauth = registered(client).set_revocation_url(url);
        // Refuses a revocation URL that is not https (`ConfigurationError::InsecureUrl`).
        let request = oauth
            .revoke_token(RefreshToken::new(token.to_owned()).into())
            .map_err(|e| TokenError::Misconfigured(e.to_string()))?;
        let http = self.guarded();
        let answer = request.request_async(&http).await;
        answer.map_err(|e| token_error(e, http.status(), &secrets(client, &[token])))
    }

    /// An HTTP client for one request.
    fn guarded(&self) -> Guarded {
        Guarded {
            http: self.http.clone(),
            routes: self.routes.clone(),
            status: AtomicU16::new(0),
        }
    }
}

/// The registration as the crate wants it: id and secret in the request
/// body, as the providers we serve expect (the crate's default is HTTP
/// Basic).
fn registered(client: &Client) -> BasicClient {
    let oauth = BasicClient::new(ClientId::new(client.client_id.clone()))
        .set_auth_type(AuthType::RequestBody);
    match &client.client_secret {
        Some(secret) => oauth.set_client_secret(ClientSecret::new(secret.expose().to_owned())),
        None => oauth,
    }
}

/// The registered redirect URI, sent as written.
fn redirect_uri(client: &Client) -> Result<RedirectUrl, TokenError> {
    RedirectUrl::new(client.redirect_uri.clone())
        .map_err(|e| TokenError::Misconfigured(format!("invalid redirect URI: {e}")))
}

/// A manifest's token endpoint.
fn token_uri(url: &str) -> Result<TokenUrl, TokenError> {
    TokenUrl::new(url.to_owned())
        .map_err(|e| TokenError::Misconfigured(format!("invalid token URL: {e}")))
}

/// The secrets a request carries, to redact should the provider echo them.
fn secrets<'a>(client: &'a Client, sent: &[&'a str]) -> Vec<&'a str> {
    sent.iter()
        .copied()
        .chain(client.client_secret.as_ref().map(Secret::expose))
        .filter(|s| !s.is_empty())
        .collect()
}

/// Our record of a token response. A provider that does not say which
/// scopes it granted granted the ones it had.
fn tokens_of(answer: &BasicTokenResponse, previous: Option<&Tokens>, now_ms: u64) -> Tokens {
    let scopes = match answer.scopes() {
        Some(granted) => granted
            .iter()
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => previous.map(|p| p.scopes.clone()).unwrap_or_default(),
    };
    Tokens {
        access_token: answer.access_token().secret().clone(),
        refresh_token: answer.refresh_token().map(|t| t.secret().clone()),
        expires_at_ms: expiry(now_ms, answer.expires_in().map(|d| d.as_secs())),
        scopes,
    }
}

/// The crate's HTTP client for one request: the guarded `net` client, with
/// declared hosts routed and anything else held to https. It never follows
/// a redirect (the `net` client has no redirect policy) and keeps the
/// answer's status, which the crate's errors do not carry.
// It owns its client and routes (both shared pointers): a borrowed one would
// make the crate's request futures depend on a lifetime the `Send` and
// `AsyncHttpClient` bounds of axum handlers cannot name.
struct Guarded {
    http: reqwest::Client,
    routes: std::sync::Arc<Routes>,
    status: AtomicU16,
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
enum Unreached {
    #[error("token endpoints must be https")]
    NotHttps,
    #[error("the token endpoint did not answer in time")]
    Timeout,
    #[error("the token endpoint could not be reached: {0}")]
    Unreachable(String),
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

    /// Sends one request the crate built, routed or over https.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, Unreached> {
        let mut request = reqwest::Request::try_from(request)
            .map_err(|e| Unreached::Unbuildable(e.without_url().to_string()))?;
        // The crate sets no `Host`: one here means the host is routed.
        let mut headers = std::mem::take(request.headers_mut());
        self.routes.apply(request.url_mut(), &mut headers);
        let routed = headers.contains_key(reqwest::header::HOST);
        *request.headers_mut() = headers;
        if request.url().scheme() != "https" && !routed {
            return Err(Unreached::NotHttps);
        }
        let response = self.http.execute(request).await.map_err(|e| {
            if e.is_timeout() {
                Unreached::Timeout
            } else {
                Unreached::Unreachable(e.without_url().to_string())
            }
        })?;
        let status = response.status();
        self.status.store(status.as_u16(), Ordering::Relaxed);
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| Unreached::Unreadable(e.without_url().to_string()))?;
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
    use super::*;
    use oauth2::basic::BasicErrorResponse;
    use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
    use std::collections::HashMap;
    use std::sync::Mutex;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn registration() -> Client {
        Client {
            client_id: "app-id".into(),
            client_secret: Some(Secret::new("app-secret")),
            redirect_uri: "https://switchboard.example/oauth/callback".into(),
        }
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

    #[test]
    fn the_rfc_7636_test_vector_holds() -> TestResult {
        let verifier = PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
        assert_eq!(
            challenge.as_str(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(challenge.method().as_str(), "S256");
        Ok(())
    }

    #[test]
    fn verifiers_and_states_are_43_url_safe_characters_and_fresh() -> TestResult {
        let url_safe = |s: &str| {
            s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        };
        let (a, b) = (pkce()?, pkce()?);
        assert_eq!(a.verifier.expose().len(), 43);
        assert!(url_safe(a.verifier.expose()));
        assert_ne!(a.verifier.expose(), b.verifier.expose());
        let recomputed = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            a.verifier.expose().to_owned(),
        ));
        assert_eq!(a.challenge, recomputed);
        let (s, t) = (state()?, state()?);
        assert_eq!(s.len(), 43);
        assert!(url_safe(&s));
        assert_ne!(s, t);
        Ok(())
    }

    #[test]
    fn the_authorize_url_carries_state_pkce_scopes_and_response_mode() -> TestResult {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let pkce = Pkce {
            verifier: Secret::new(verifier),
            challenge: PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
                verifier.into(),
            )),
        };
        let url = authorize_url(
            "https://login.example/tenant/oauth2/v2.0/authorize",
            &registration(),
            &["offline_access".into(), "User.Read".into()],
            "the-state",
            Some(&pkce),
        )?;
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "app-id");
        assert_eq!(
            q["redirect_uri"],
            "https://switchboard.example/oauth/callback"
        );
        assert_eq!(q["scope"], "offline_access User.Read");
        assert_eq!(q["state"], "the-state");
        assert_eq!(
            q["code_challenge"],
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["response_mode"], "query");
        assert!(!q.contains_key("client_secret"));
        Ok(())
    }

    #[tokio::test]
    async fn the_code_exchange_sends_the_registration_in_the_body() -> TestResult {
        let seen = Mutex::new(Vec::new());
        let answer = br#"{"access_token":"AT","token_type":"Bearer","expires_in":60,"scope":"User.Read","refresh_token":"RT"}"#;
        let client = registration();
        let oauth = registered(&client)
            .set_redirect_uri(redirect_uri(&client)?)
            .set_token_uri(token_uri("https://login.example/token")?);
        let granted = oauth
            .exchange_code(AuthorizationCode::new("the-code".into()))
            .set_pkce_verifier(PkceCodeVerifier::new("v".repeat(43)))
            .request_async(&provider(&seen, StatusCode::OK, answer))
            .await?;
        let tokens = tokens_of(&granted, None, 1_000);
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
        let client = registration();
        let oauth = registered(&client).set_token_uri(token_uri("https://login.example/token")?);
        let held = RefreshToken::new("RT".into());
        let before = Tokens {
            access_token: "AT".into(),
            refresh_token: Some("RT".into()),
            expires_at_ms: 0,
            scopes: vec!["User.Read".into(), "Files.Read.All".into()],
        };
        let granted = oauth
            .exchange_refresh_token(&held)
            .add_scopes(before.scopes.iter().cloned().map(Scope::new))
            .request_async(&provider(&seen, StatusCode::OK, answer))
            .await?;
        // No `scope` in the answer: the grant keeps the scopes it had.
        assert_eq!(tokens_of(&granted, Some(&before), 0).scopes, before.scopes);
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
        let client = registration();
        let oauth = registered(&client).set_token_uri(token_uri("https://login.example/token")?);
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
    async fn a_plain_http_endpoint_is_refused_unless_routed() -> TestResult {
        let client = TokenClient::new(Routes::default())?;
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
        };
        let shown = format!("{t:?}");
        assert!(!shown.contains("secret"), "{shown}");
        Ok(())
    }
}
