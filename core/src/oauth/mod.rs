//! OAuth 2.0 authorization code with PKCE (S256), for personal connections
//! (RFC 6749, RFC 7636, RFC 9700, RFC 7009), on the `oauth2` crate: it
//! builds the authorize URL and the token and revocation requests and reads
//! the answers; every request goes out through the guarded `net` client.
//! The operator's [`Registration`] (client, client authentication,
//! provider) decides the endpoints; a plugin's manifest only proposes them.

mod registration;
mod tokens;

pub use registration::{
    AssertionKey, ClientAuth, Endpoints, MicrosoftTenant, Provider, Registration,
};
pub use tokens::{Registered, TokenClient, TokenError, Tokens};

use crate::vault::Secret;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, ClientId, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};
use std::time::Duration;
use url::Url;

/// How long a sign-in may take, from `begin` to the callback.
pub const FLOW_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// Why a registration could not be used, a sign-in prepared, or stored
/// tokens read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// The OS random source failed.
    #[error("could not draw random bytes: {0}")]
    Random(getrandom::Error),
    /// An endpoint does not parse or is not https.
    #[error("invalid {which} URL: {reason}")]
    InvalidEndpoint {
        /// Which endpoint (`authorize`, `token`, `revocation`, `redirect`).
        which: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A Microsoft tenant that is not one.
    #[error("`{0}` is not a Microsoft tenant (a tenant id, a domain, `organizations` or `common`)")]
    InvalidTenant(String),
    /// The private key for client assertions cannot be used.
    #[error("the client assertion key: {0}")]
    InvalidKey(String),
    /// The issuer's discovery document could not be had or is wrong.
    #[error("OpenID discovery for {issuer} failed: {reason}")]
    Discovery {
        /// The configured issuer.
        issuer: String,
        /// What went wrong.
        reason: String,
    },
    /// A connection's sealed token set opened but is not a token set.
    #[error("stored tokens are unreadable")]
    UnreadableTokens,
    /// The HTTP client for token endpoints could not be built.
    #[error("the token client could not start: {0}")]
    Client(#[source] crate::net::ClientError),
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
    endpoint: &Url,
    client_id: &str,
    redirect_uri: &str,
    scopes: &[String],
    state: &str,
    pkce: Option<&Pkce>,
) -> Result<Url, OAuthError> {
    let redirect =
        RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| OAuthError::InvalidEndpoint {
            which: "redirect",
            reason: e.to_string(),
        })?;
    let oauth = BasicClient::new(ClientId::new(client_id.to_owned()))
        .set_redirect_uri(redirect)
        .set_auth_uri(AuthUrl::from_url(endpoint.clone()));
    let mut request = oauth
        .authorize_url(|| CsrfToken::new(state.to_owned()))
        .add_scopes(scopes.iter().cloned().map(Scope::new))
        .add_extra_param("response_mode", "query");
    if let Some(pkce) = pkce {
        request = request.set_pkce_challenge(pkce.challenge.clone());
    }
    Ok(request.url().0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

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
            &Url::parse("https://login.example/tenant/oauth2/v2.0/authorize")?,
            "app-id",
            "https://switchboard.example/oauth/callback",
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
}
