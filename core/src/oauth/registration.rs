//! The operator's registration of Switchboard with an identity provider:
//! the client (id, how it authenticates) and the provider, from which the
//! endpoints come. The registration decides where client secrets, codes
//! and refresh tokens go; a plugin's manifest only proposes.

use super::OAuthError;
use crate::net;
use crate::vault::Secret;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::fmt;
use url::Url;

/// How long a client assertion is good for (Entra accepts up to 10 minutes).
const ASSERTION_LIFETIME_S: u64 = 5 * 60;
/// The most of a discovery document read.
const MAX_DISCOVERY_BYTES: usize = 256 * 1024;

/// One integration's registration with its provider.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The id the provider gave the application.
    pub client_id: String,
    /// How the client proves itself at the token endpoint.
    pub auth: ClientAuth,
    /// Registered with the provider; one per integration, which also
    /// defends against mix-up between providers.
    pub redirect_uri: String,
    /// Where the endpoints come from.
    pub provider: Provider,
}

/// Client authentication at the token endpoint (RFC 6749 §2.3, RFC 7523).
#[derive(Clone)]
pub enum ClientAuth {
    /// A public client: PKCE only.
    None,
    /// `client_id` and `client_secret` in the request body.
    SecretPost(Secret),
    /// HTTP Basic with the form-encoded id and secret.
    SecretBasic(Secret),
    /// A JWT signed with the client's private key (certificate credential).
    PrivateKeyJwt(AssertionKey),
}

impl ClientAuth {
    /// The method's name, as discovery documents spell it.
    pub fn method(&self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::SecretPost(_) => "client_secret_post",
            ClientAuth::SecretBasic(_) => "client_secret_basic",
            ClientAuth::PrivateKeyJwt(_) => "private_key_jwt",
        }
    }

    /// Whether it authenticates with a shared secret.
    pub fn secret_based(&self) -> bool {
        self.secret().is_some()
    }

    /// The secret a request carries, to redact should a provider echo it.
    pub(super) fn secret(&self) -> Option<&str> {
        match self {
            ClientAuth::SecretPost(s) | ClientAuth::SecretBasic(s) => Some(s.expose()),
            ClientAuth::None | ClientAuth::PrivateKeyJwt(_) => None,
        }
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientAuth::PrivateKeyJwt(key) => write!(f, "PrivateKeyJwt({key:?})"),
            other => f.write_str(other.method()),
        }
    }
}

/// The key that signs client assertions, and how the provider finds its
/// public half: the certificate's SHA-256 thumbprint (`x5t#S256`, as Entra
/// wants) or a key id (`kid`).
#[derive(Clone)]
pub struct AssertionKey {
    key: EncodingKey,
    algorithm: Algorithm,
    thumbprint: Option<String>,
    key_id: Option<String>,
}

impl fmt::Debug for AssertionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssertionKey")
            .field("algorithm", &self.algorithm)
            .field("thumbprint", &self.thumbprint)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl AssertionKey {
    /// A PEM private key (PKCS#8 or PKCS#1 RSA for RS256/PS256, PKCS#8 EC
    /// for ES256), with the PEM certificate the provider holds or a key id.
    pub fn from_pem(
        private_key_pem: &[u8],
        algorithm: &str,
        certificate_pem: Option<&[u8]>,
        key_id: Option<String>,
    ) -> Result<AssertionKey, OAuthError> {
        let invalid = |why: String| OAuthError::InvalidKey(why);
        let algorithm = match algorithm {
            "RS256" => Algorithm::RS256,
            "PS256" => Algorithm::PS256,
            "ES256" => Algorithm::ES256,
            other => {
                return Err(invalid(format!(
                    "algorithm `{other}` is not one of RS256, PS256, ES256"
                )));
            }
        };
        let key = match algorithm {
            Algorithm::ES256 => EncodingKey::from_ec_pem(private_key_pem),
            _ => EncodingKey::from_rsa_pem(private_key_pem),
        }
        .map_err(|e| {
            invalid(format!(
                "the private key is not a {algorithm:?} PEM key: {e}"
            ))
        })?;
        let thumbprint = certificate_pem
            .map(|pem| {
                CertificateDer::from_pem_slice(pem)
                    .map(|der| base64_url(&Sha256::digest(der.as_ref())))
                    .map_err(|e| invalid(format!("the certificate is not PEM: {e}")))
            })
            .transpose()?;
        if thumbprint.is_none() && key_id.is_none() {
            return Err(invalid(
                "name the certificate (for its thumbprint) or a key id, so the provider can find the key".into(),
            ));
        }
        let assertion = AssertionKey {
            key,
            algorithm,
            thumbprint,
            key_id,
        };
        // Sign once now: a key that cannot sign is found at start, not at
        // a member's first sign-in.
        assertion.sign("check", "https://check.invalid/token", 0)?;
        Ok(assertion)
    }

    /// A client assertion for `audience` (RFC 7523 §3), good for five minutes.
    pub(super) fn sign(
        &self,
        client_id: &str,
        audience: &str,
        now_s: u64,
    ) -> Result<String, OAuthError> {
        #[derive(serde::Serialize)]
        struct Claims<'a> {
            iss: &'a str,
            sub: &'a str,
            aud: &'a str,
            jti: String,
            iat: u64,
            nbf: u64,
            exp: u64,
        }
        let mut header = Header::new(self.algorithm);
        header.typ = Some("JWT".into());
        header.x5t_s256 = self.thumbprint.clone();
        header.kid = self.key_id.clone();
        let claims = Claims {
            iss: client_id,
            sub: client_id,
            aud: audience,
            jti: super::random_token()?,
            iat: now_s,
            nbf: now_s,
            exp: now_s + ASSERTION_LIFETIME_S,
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| OAuthError::InvalidKey(format!("signing a client assertion: {e}")))
    }
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Where a registration's endpoints come from.
#[derive(Debug, Clone)]
pub enum Provider {
    /// OpenID Connect discovery at `{issuer}/.well-known/openid-configuration`.
    Issuer(Url),
    /// Microsoft Entra ID, signing in through one authority: a tenant id or
    /// domain (only that directory's accounts), `organizations` (any work
    /// or school account) or `common` (also personal accounts).
    Microsoft(MicrosoftTenant),
    /// Endpoints named one by one.
    Endpoints(Endpoints),
}

/// The endpoints a registration sends the member and its secrets to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Where the member signs in.
    pub authorize: Url,
    /// Where codes and refresh tokens go, with the client's credential.
    pub token: Url,
    /// RFC 7009 revocation, where the provider has it.
    pub revocation: Option<Url>,
}

impl Endpoints {
    /// Endpoints from their URLs, each https (loopback http is refused too:
    /// a secret never travels in clear).
    pub fn new(
        authorize: &str,
        token: &str,
        revocation: Option<&str>,
    ) -> Result<Endpoints, OAuthError> {
        Ok(Endpoints {
            authorize: https("authorize", authorize)?,
            token: https("token", token)?,
            revocation: revocation.map(|r| https("revocation", r)).transpose()?,
        })
    }
}

/// A URL that must be https.
fn https(which: &'static str, url: &str) -> Result<Url, OAuthError> {
    let parsed = Url::parse(url.trim()).map_err(|e| OAuthError::InvalidEndpoint {
        which,
        reason: e.to_string(),
    })?;
    if parsed.scheme() != "https" || parsed.host_str().is_none() {
        return Err(OAuthError::InvalidEndpoint {
            which,
            reason: format!("`{parsed}` is not an https URL"),
        });
    }
    Ok(parsed)
}

/// A Microsoft authority's tenant segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MicrosoftTenant(String);

impl MicrosoftTenant {
    /// `common`, `organizations`, `consumers`, a tenant id or a domain.
    pub fn parse(tenant: &str) -> Result<MicrosoftTenant, OAuthError> {
        let tenant = tenant.trim().to_ascii_lowercase();
        let valid = !tenant.is_empty()
            && tenant.len() <= 253
            && tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            && !tenant.starts_with(['.', '-']);
        if !valid {
            return Err(OAuthError::InvalidTenant(tenant));
        }
        Ok(MicrosoftTenant(tenant))
    }

    /// The tenant as written in the authority.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The authority's endpoints (Entra has no revocation endpoint).
    pub fn endpoints(&self) -> Result<Endpoints, OAuthError> {
        let base = format!("https://login.microsoftonline.com/{}/oauth2/v2.0", self.0);
        Endpoints::new(&format!("{base}/authorize"), &format!("{base}/token"), None)
    }
}

/// The parts of an OpenID Provider's metadata Switchboard uses.
#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    revocation_endpoint: Option<String>,
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    code_challenge_methods_supported: Option<Vec<String>>,
}

impl Provider {
    /// The endpoints: named, built from the Microsoft authority, or
    /// discovered from the issuer (checked as OpenID Connect Discovery
    /// §4.3 says, and for the client's authentication method and PKCE).
    pub async fn endpoints(
        &self,
        http: &net::Client,
        auth: &ClientAuth,
    ) -> Result<Endpoints, OAuthError> {
        match self {
            Provider::Endpoints(endpoints) => Ok(endpoints.clone()),
            Provider::Microsoft(tenant) => tenant.endpoints(),
            Provider::Issuer(issuer) => discover(http, issuer, auth).await,
        }
    }
}

/// Fetches and checks an issuer's discovery document.
async fn discover(
    http: &net::Client,
    issuer: &Url,
    auth: &ClientAuth,
) -> Result<Endpoints, OAuthError> {
    let failed = |why: String| OAuthError::Discovery {
        issuer: issuer.to_string(),
        reason: why,
    };
    // As written: the parser adds a `/` to an issuer with no path.
    let configured = match issuer.path() {
        "/" => issuer.as_str().trim_end_matches('/'),
        _ => issuer.as_str(),
    };
    let url = Url::parse(&format!(
        "{}/.well-known/openid-configuration",
        configured.trim_end_matches('/')
    ))
    .map_err(|e| failed(e.to_string()))?;
    if url.scheme() != "https" {
        return Err(failed("the issuer must be an https URL".into()));
    }
    let request = http
        .request(reqwest::Method::GET, url)
        .header(reqwest::header::ACCEPT, "application/json")
        .build()
        .map_err(|e| failed(net::cause_chain(&e)))?;
    let mut response = http
        .execute(request)
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!("it answered HTTP {}", response.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| failed(net::cause_chain(&e.without_url())))?
    {
        if body.len() + chunk.len() > MAX_DISCOVERY_BYTES {
            return Err(failed("the document is over 256 KiB".into()));
        }
        body.extend_from_slice(&chunk);
    }
    let metadata: Metadata = serde_json::from_slice(&body)
        .map_err(|e| failed(format!("the document is not provider metadata: {e}")))?;
    // OpenID Connect Discovery §4.3: exactly the issuer configured.
    if metadata.issuer != configured {
        return Err(failed(format!(
            "the document names the issuer `{}`, not the one configured",
            metadata.issuer
        )));
    }
    // Absent, the list is `client_secret_basic` alone (RFC 8414 §2).
    let methods = metadata
        .token_endpoint_auth_methods_supported
        .unwrap_or_else(|| vec!["client_secret_basic".into()]);
    if !matches!(auth, ClientAuth::None) && !methods.iter().any(|m| m == auth.method()) {
        return Err(failed(format!(
            "it does not accept {} (it accepts {})",
            auth.method(),
            methods.join(", ")
        )));
    }
    if let Some(methods) = &metadata.code_challenge_methods_supported
        && !methods.iter().any(|m| m == "S256")
    {
        return Err(failed("it does not support PKCE with S256".into()));
    }
    Endpoints::new(
        &metadata.authorization_endpoint,
        &metadata.token_endpoint,
        metadata.revocation_endpoint.as_deref(),
    )
    .map_err(|e| failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_makes_its_authority() -> Result<(), OAuthError> {
        let endpoints = MicrosoftTenant::parse(" Contoso.onmicrosoft.com ")?.endpoints()?;
        assert_eq!(
            endpoints.authorize.as_str(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize"
        );
        assert_eq!(
            endpoints.token.as_str(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(endpoints.revocation, None);
        for bad in ["", "../common", "a/b", "-x", "tenant?x=1"] {
            assert!(MicrosoftTenant::parse(bad).is_err(), "{bad}");
        }
        Ok(())
    }

    #[test]
    fn endpoints_must_be_https() {
        assert!(Endpoints::new("https://a.example/auth", "https://a.example/token", None).is_ok());
        for (authorize, token) in [
            ("http://a.example/auth", "https://a.example/token"),
            ("https://a.example/auth", "http://127.0.0.1/token"),
            ("https://a.example/auth", "not a url"),
        ] {
            assert!(Endpoints::new(authorize, token, None).is_err(), "{token}");
        }
    }

    #[test]
    fn client_auth_never_prints_its_secret() {
        let shown = format!("{:?}", ClientAuth::SecretBasic(Secret::new("s3cr3t")));
        assert_eq!(shown, "client_secret_basic");
    }
}
