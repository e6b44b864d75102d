//! The Microsoft identity platform (`login.microsoftonline.com`), Microsoft
//! Graph (`graph.microsoft.com`) and SharePoint's pre-authenticated
//! downloads (`contoso.sharepoint.com`), on one loopback port, over HTTPS
//! under those names ([`HOSTS`]).
//!
//! Faithful where connectors and the engine depend on it: one directory
//! (Contoso: [`TENANT_ID`], [`TENANT_DOMAIN`]) reached through `common`,
//! `organizations` or its own id or domain, `AADSTS90002` for an unknown
//! tenant, `consumers` refused (the apps are work-and-school only),
//! single-tenant apps refused on `common` and `organizations` with
//! `AADSTS50194`; OIDC discovery in Entra's shape, with no
//! `revocation_endpoint`; client authentication by exactly one of
//! `client_secret_post`, `client_secret_basic` and `private_key_jwt`
//! (certificate named by `x5t#S256`, RS256 or PS256 signature, audience,
//! issuer, subject, a lifetime of at most 10 minutes and a single-use `jti`
//! checked), `invalid_client` for a missing or wrong credential;
//! authorization code with exact redirect URIs, single-use codes, PKCE S256
//! checked at the token endpoint, refresh with a new refresh token each time
//! (unless rotation is switched off; the old one stays valid either way), an
//! empty `scope` on refresh refused with `invalid_scope`, `invalid_grant`
//! with AADSTS codes and Microsoft's error body, `Cache-Control: no-store`;
//! Graph JSON shapes, `@odata.nextLink` paging, the 302 download redirect,
//! 429 with a fractional `Retry-After`, 401 `InvalidAuthenticationToken` for
//! expired tokens, 403 `accessDenied` without a write scope.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The host names the mock answers for, as its certificate names them: route
/// each of them to [`crate::Running::addr`].
pub const HOSTS: &[&str] = &[
    "login.microsoftonline.com",
    "graph.microsoft.com",
    "contoso.sharepoint.com",
];
/// The directory's tenant id.
pub const TENANT_ID: &str = "b4f1c2d3-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
/// The directory's verified domain, which names it as well as its id.
pub const TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";
pub const SITE_ID: &str = "contoso.sharepoint.com,da60e844-ba1d-49bc-b4d4-d5e36bae9019,712a596e-90a1-49e3-9b48-bfa80bee8740";
pub const DRIVE_ID: &str = "b!-RIj2DuyvEyV1T4NlOaMHk8XkS_I8MdFlUCq1BlcjgmhRfAj3-Z8RY2VpuvV_tpd";
const GRAPH: &str = "https://graph.microsoft.com/v1.0";
const FOLDER_ID: &str = "01NKDM7HCAMPAIGNSFOLDER0000000001";
/// The tenant of personal Microsoft accounts, behind `consumers`.
const CONSUMERS_TENANT_ID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest client assertion accepted, `exp` minus `nbf` (or `iat`):
/// ten minutes and a few seconds of leeway.
const MAX_ASSERTION_LIFETIME_S: u64 = 600 + 5;
/// How far in the future an assertion's `nbf` may lie (clock skew).
const MAX_ASSERTION_SKEW_S: u64 = 300;
const CONSUMERS_REFUSED: &str = "The client does not exist or is not enabled for consumers. If you are the application developer, configure a new application through the App Registrations in the Azure Portal at https://go.microsoft.com/fwlink/?linkid=2083908.";

/// A signed-in Microsoft user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub display_name: String,
    pub mail: String,
}

/// One token-endpoint request as the mock received it; never its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The `{tenant}` path segment, as sent.
    pub tenant: String,
    pub grant_type: String,
    /// `None` when the field is absent, `Some("")` when it was sent empty.
    pub scope: Option<String>,
    /// `"client_secret_post"`, `"client_secret_basic"`, `"private_key_jwt"`
    /// or `"none"`; `"multiple"` for a request using more than one (refused).
    pub auth_method: &'static str,
}

/// A file or folder in the site's document library.
#[derive(Debug, Clone)]
struct Item {
    id: String,
    name: String,
    parent: Option<String>,
    content: Option<String>,
    modified: String,
    author: String,
}

/// A registered application.
#[derive(Clone)]
struct App {
    secret: Option<String>,
    redirect_uri: String,
    single_tenant: bool,
    certificates: Vec<Credential>,
}

impl App {
    /// Whether it has a credential (a secret or a certificate) to present.
    fn confidential(&self) -> bool {
        self.secret.is_some() || !self.certificates.is_empty()
    }
}

/// A certificate credential of an app.
#[derive(Clone)]
struct Credential {
    /// `x5t#S256`; `None` when the certificate could not be read, and then
    /// no assertion names it.
    thumbprint: Option<String>,
    public_key_pem: String,
}

/// What the `{tenant}` path segment names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Authority {
    /// `common` or `organizations`: any work or school account.
    Multi,
    /// This directory, by id or by domain.
    Home,
    /// `consumers`: personal Microsoft accounts only.
    Consumers,
    /// Any other tenant: not found.
    Unknown,
}

impl Authority {
    fn of(segment: &str) -> Self {
        let is = |name: &str| segment.eq_ignore_ascii_case(name);
        if is("common") || is("organizations") {
            Authority::Multi
        } else if is(TENANT_ID) || is(TENANT_DOMAIN) {
            Authority::Home
        } else if is("consumers") {
            Authority::Consumers
        } else {
            Authority::Unknown
        }
    }
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
    scopes: String,
    user: usize,
    expires_at: u64,
}

struct Access {
    user: usize,
    scopes: String,
    /// In milliseconds: a token stops working when its lifetime is up, not
    /// at the next whole second.
    expires_at_ms: u64,
}

struct Refresh {
    user: usize,
    client_id: String,
    scopes: String,
    revoked: bool,
}

#[derive(Default)]
struct Tenant {
    clients: HashMap<String, App>,
    users: Vec<User>,
    signed_in: usize,
    deny_next: Option<(String, String)>,
    /// The authorize endpoint asks the person first, as Entra's page does.
    consent_page: bool,
    codes: HashMap<String, Grant>,
    redeemed: Vec<String>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, Refresh>,
    refreshes: u64,
    token_outage: bool,
    access_lifetime_s: u64,
    throttle_next: u32,
    page_size: usize,
    items: Vec<Item>,
    downloads: HashMap<String, String>,
    authorize_tenants: Vec<String>,
    token_requests: Vec<TokenRequest>,
    discoveries: u64,
    /// Every client assertion `jti` accepted so far.
    assertion_ids: HashSet<String>,
    omit_scope: bool,
    /// Refresh grants answer with a new refresh token (on by default).
    rotate_refresh_tokens: bool,
}

/// The mock's state; clone it freely.
#[derive(Clone)]
pub struct Microsoft {
    tenant: Arc<Mutex<Tenant>>,
}

impl Default for Microsoft {
    fn default() -> Self {
        Self::new()
    }
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn random() -> String {
    let mut bytes = [0u8; 24];
    let _ = getrandom::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Microsoft {
    /// A tenant with Adele Vance signed in and a few real-looking documents.
    pub fn new() -> Self {
        let users = vec![
            User {
                id: "87d349ed-44d7-43e1-9a83-5f2406dee5bd".into(),
                display_name: "Adele Vance".into(),
                mail: "AdeleV@contoso.onmicrosoft.com".into(),
            },
            User {
                id: "626cbf8c-5dde-46b0-8385-9e40d64736fe".into(),
                display_name: "Megan Bowen".into(),
                mail: "MeganB@contoso.onmicrosoft.com".into(),
            },
        ];
        let tenant = Tenant {
            users,
            access_lifetime_s: 3599,
            page_size: 200,
            items: library(),
            rotate_refresh_tokens: true,
            ..Tenant::default()
        };
        Microsoft {
            tenant: Arc::new(Mutex::new(tenant)),
        }
    }

    fn tenant(&self) -> MutexGuard<'_, Tenant> {
        self.tenant.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a multi-tenant app: its id, secret (confidential client) and
    /// redirect URI. Registering an id again replaces the app.
    pub fn register_client(
        &self,
        client_id: &str,
        secret: Option<&str>,
        redirect_uri: &str,
    ) -> &Self {
        self.tenant().clients.insert(
            client_id.into(),
            App {
                secret: secret.map(Into::into),
                redirect_uri: redirect_uri.into(),
                single_tenant: false,
                certificates: Vec::new(),
            },
        );
        self
    }

    /// Makes a registered app single-tenant: `common` and `organizations`
    /// then refuse it with AADSTS50194. Does nothing for an unknown app.
    pub fn single_tenant(&self, client_id: &str) -> &Self {
        if let Some(app) = self.tenant().clients.get_mut(client_id) {
            app.single_tenant = true;
        }
        self
    }

    /// Adds a certificate credential to a registered app, for
    /// `private_key_jwt`: an assertion names it by `x5t#S256` (base64url,
    /// unpadded, SHA-256 of the certificate's DER) and is signed with the
    /// private key of `public_key_pem` (an RSA `PUBLIC KEY` or
    /// `RSA PUBLIC KEY`). A certificate PEM that cannot be read matches no
    /// assertion. Does nothing for an unknown app.
    pub fn register_certificate(
        &self,
        client_id: &str,
        certificate_pem: &str,
        public_key_pem: &str,
    ) -> &Self {
        let credential = Credential {
            thumbprint: thumbprint(certificate_pem),
            public_key_pem: public_key_pem.to_owned(),
        };
        if let Some(app) = self.tenant().clients.get_mut(client_id) {
            app.certificates.push(credential);
        }
        self
    }

    /// Who consents at the authorize endpoint next: 0 Adele, 1 Megan.
    pub fn sign_in_as(&self, user: usize) -> &Self {
        self.tenant().signed_in = user;
        self
    }

    /// The authorize endpoint shows a page naming the account and the
    /// permissions asked, with Accept and Cancel, instead of consenting at
    /// once: for a person (or a real browser) clicking through.
    pub fn ask_for_consent(&self) -> &Self {
        self.tenant().consent_page = true;
        self
    }

    /// Serves the same endpoints over plain HTTP on loopback, for a browser
    /// to open the sign-in page (it does not trust the test CA).
    pub async fn start_for_browsers(&self) -> std::io::Result<crate::Running> {
        crate::serve_for_browsers(self.router()).await
    }

    /// The next sign-in is refused with this error, as a user cancelling would.
    pub fn deny_next_sign_in(&self, error: &str, description: &str) {
        self.tenant().deny_next = Some((error.into(), description.into()));
    }

    /// Lifetime of access tokens issued from now on.
    pub fn set_access_token_lifetime(&self, seconds: u64) {
        self.tenant().access_lifetime_s = seconds;
    }

    /// Makes every access token issued so far expired.
    pub fn expire_access_tokens(&self) {
        for access in self.tenant().access.values_mut() {
            access.expires_at_ms = 0;
        }
    }

    /// Revokes every refresh token of a user (an admin revoking sessions).
    pub fn revoke_grants(&self, user: usize) {
        for refresh in self
            .tenant()
            .refresh
            .values_mut()
            .filter(|r| r.user == user)
        {
            refresh.revoked = true;
        }
    }

    /// While on, the token endpoint answers `temporarily_unavailable`.
    pub fn set_token_outage(&self, on: bool) {
        self.tenant().token_outage = on;
    }

    /// While on, token responses have no `scope` field (RFC 6749 §5.1: the
    /// requested scopes were granted).
    pub fn omit_scope_in_token_responses(&self, on: bool) {
        self.tenant().omit_scope = on;
    }

    /// On (the default), every token response carries a new refresh token.
    /// Off, a refresh grant answers without `refresh_token` and the one
    /// presented stays valid, as many providers do.
    pub fn set_refresh_token_rotation(&self, on: bool) {
        self.tenant().rotate_refresh_tokens = on;
    }

    /// How many refresh-token grants the token endpoint served.
    pub fn refreshes(&self) -> u64 {
        self.tenant().refreshes
    }

    /// The `{tenant}` path segment of every authorize request, oldest first.
    pub fn authorize_tenants(&self) -> Vec<String> {
        self.tenant().authorize_tenants.clone()
    }

    /// Every token-endpoint request, oldest first, refused ones included.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.tenant().token_requests.clone()
    }

    /// How many OIDC discovery documents were fetched.
    pub fn discoveries(&self) -> u64 {
        self.tenant().discoveries
    }

    /// Answer the next `n` Graph requests with 429.
    pub fn throttle_next(&self, n: u32) {
        self.tenant().throttle_next = n;
    }

    /// Items per page of a folder listing (Graph's default is 200).
    pub fn set_page_size(&self, n: usize) {
        self.tenant().page_size = n.max(1);
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/{tenant}/oauth2/v2.0/authorize", get(authorize))
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                get(discovery),
            )
            .route("/v1.0/me", get(me))
            .route("/v1.0/sites", get(sites))
            .route("/v1.0/sites/{site}/drives", get(drives))
            .route("/v1.0/drives/{drive}/root/children", get(root_children))
            .route(
                "/v1.0/drives/{drive}/items/{*rest}",
                get(item_get).put(item_put),
            )
            .route("/v1.0/search/query", post(search))
            .route("/sites/marketing/_layouts/15/download.aspx", get(download))
            .with_state(self.clone())
    }

    /// Starts it over HTTPS for [`HOSTS`] on a free loopback port.
    pub async fn start(&self) -> std::io::Result<crate::Running> {
        crate::serve(self.router(), HOSTS).await
    }
}

/// `x5t#S256` of a PEM certificate: base64url, unpadded, SHA-256 of its DER.
fn thumbprint(certificate_pem: &str) -> Option<String> {
    let body: String = certificate_pem
        .lines()
        .map(str::trim)
        .skip_while(|line| !line.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|line| !line.starts_with("-----END CERTIFICATE-----"))
        .collect();
    let der = STANDARD.decode(body).ok().filter(|der| !der.is_empty())?;
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(der)))
}

fn aad_error(status: StatusCode, error: &str, code: u32, message: &str) -> Response {
    let stamp = "2026-11-28 10:00:00Z";
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {message}\r\nTrace ID: 0000aaaa-11bb-cccc-dd22-eeeeee333333\r\nCorrelation ID: aaaa0000-bb11-2222-33cc-444444dddddd\r\nTimestamp: {stamp}"),
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": "0000aaaa-11bb-cccc-dd22-eeeeee333333",
        "correlation_id": "aaaa0000-bb11-2222-33cc-444444dddddd",
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

fn tenant_not_found(tenant: &str) -> String {
    format!(
        "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
    )
}

fn not_multi_tenant(client_id: &str) -> String {
    format!(
        "Application '{client_id}'(Switchboard) is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant."
    )
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`, as Entra answers.
async fn discovery(State(ms): State<Microsoft>, Path(tenant): Path<String>) -> Response {
    ms.tenant().discoveries += 1;
    // Entra names the tenant in `issuer` only for a specific tenant; for
    // `common` and `organizations` it leaves the `{tenantid}` template.
    let (issuer_tenant, region) = match Authority::of(&tenant) {
        Authority::Multi => ("{tenantid}", Value::Null),
        Authority::Home => (TENANT_ID, json!("EU")),
        Authority::Consumers => (CONSUMERS_TENANT_ID, Value::Null),
        Authority::Unknown => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_tenant",
                90002,
                &tenant_not_found(&tenant),
            );
        }
    };
    let login = format!("https://login.microsoftonline.com/{tenant}");
    let body = json!({
        "token_endpoint": format!("{login}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{login}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("https://login.microsoftonline.com/{issuer_tenant}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": format!("{login}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{login}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{login}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": format!("{login}/kerberos"),
        "tenant_region_scope": region,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    });
    (
        [(header::CACHE_CONTROL, "max-age=86400, private")],
        Json(body),
    )
        .into_response()
}

async fn authorize(
    State(ms): State<Microsoft>,
    Path(tenant): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut t = ms.tenant();
    t.authorize_tenants.push(tenant.clone());
    let param = |k: &str| q.get(k).cloned().unwrap_or_default();
    let authority = Authority::of(&tenant);
    if authority == Authority::Unknown {
        return (
            StatusCode::BAD_REQUEST,
            format!("AADSTS90002: {}", tenant_not_found(&tenant)),
        )
            .into_response();
    }
    let client_id = param("client_id");
    let Some(app) = t.clients.get(&client_id).cloned() else {
        return (StatusCode::BAD_REQUEST, format!("AADSTS700016: Application with identifier '{client_id}' was not found in the directory 'Contoso'.")).into_response();
    };
    let registered = app.redirect_uri;
    if param("redirect_uri") != registered {
        return (StatusCode::BAD_REQUEST, "AADSTS50011: The redirect URI specified in the request does not match the redirect URIs configured for the application.").into_response();
    }
    let state = param("state");
    if t.consent_page && param("consent").is_empty() {
        let user = t.users[t.signed_in].clone();
        return consent_page(&user, &param("scope"), &q);
    }
    let target = if param("consent") == "cancel" {
        url_with(
            &registered,
            &[
                ("error", "access_denied"),
                ("error_subcode", "cancel"),
                (
                    "error_description",
                    "AADSTS65004: User declined to consent to access the app.",
                ),
                ("state", &state),
            ],
        )
    } else if authority == Authority::Consumers {
        url_with(
            &registered,
            &[
                ("error", "unauthorized_client"),
                ("error_description", CONSUMERS_REFUSED),
                ("state", &state),
            ],
        )
    } else if app.single_tenant && authority == Authority::Multi {
        let description = format!("AADSTS50194: {}", not_multi_tenant(&client_id));
        url_with(
            &registered,
            &[
                ("error", "invalid_request"),
                ("error_description", &description),
                ("state", &state),
            ],
        )
    } else if let Some((error, description)) = t.deny_next.take() {
        url_with(
            &registered,
            &[
                ("error", &error),
                ("error_description", &description),
                ("state", &state),
            ],
        )
    } else if param("response_type") != "code" {
        url_with(
            &registered,
            &[("error", "unsupported_response_type"), ("state", &state)],
        )
    } else {
        let code = format!("0.AXoA{}", random());
        let challenge = q.get("code_challenge").cloned();
        let user = t.signed_in;
        t.codes.insert(
            code.clone(),
            Grant {
                client_id,
                redirect_uri: registered.clone(),
                challenge,
                scopes: param("scope"),
                user,
                expires_at: now_s() + 600,
            },
        );
        url_with(
            &registered,
            &[
                ("code", &code),
                ("state", &state),
                ("session_state", "8a5d2b8e-7a4e-4c1e-9d3b-1f2e3d4c5b6a"),
            ],
        )
    };
    (StatusCode::FOUND, [(header::LOCATION, target)]).into_response()
}

/// Entra's "Permissions requested" page, reduced to what a person reads:
/// the account, what the app asks, Accept and Cancel. Both answer the same
/// authorize request, with `consent` added.
fn consent_page(user: &User, scopes: &str, query: &HashMap<String, String>) -> Response {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let hidden: String = query
        .iter()
        .filter(|(name, _)| name.as_str() != "consent")
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            )
        })
        .collect();
    let asked: String = scopes
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(|scope| format!("<li>{}</li>", escape(scope)))
        .collect();
    let page = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Sign in to your account</title><link rel=\"icon\" href=\"data:,\">\
<body style=\"font-family:sans-serif;max-width:28rem;margin:3rem auto\"><p>Microsoft</p>\
<h1>Permissions requested</h1><p>Signed in as <strong>{name}</strong> ({mail})</p>\
<p>This app would like to:</p><ul>{asked}</ul>\
<form method=\"get\">{hidden}<button name=\"consent\" value=\"cancel\">Cancel</button> \
<button name=\"consent\" value=\"accept\">Accept</button></form></body></html>",
        name = escape(&user.display_name),
        mail = escape(&user.mail),
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

fn url_with(base: &str, pairs: &[(&str, &str)]) -> String {
    let query: String = url_encode(pairs);
    if query.is_empty() {
        base.to_owned()
    } else {
        format!(
            "{base}{}{query}",
            if base.contains('?') { '&' } else { '?' }
        )
    }
}

fn url_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The credentials of an `Authorization: Basic` header, if the request has one.
fn basic_header(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credentials) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("basic")
        .then_some(credentials.trim())
}

/// Decodes Basic credentials, `base64(urlencode(id) ":" urlencode(secret))`
/// (RFC 6749 §2.3.1), into the id and the secret.
fn basic_credentials(encoded: &str) -> Option<(String, String)> {
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// Undoes `application/x-www-form-urlencoded` encoding of one value.
fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The claims of a client assertion that the mock checks itself; jsonwebtoken
/// checks the signature, `exp`, `aud`, `iss` and `sub`.
#[derive(Deserialize)]
struct AssertionClaims {
    exp: Option<u64>,
    nbf: Option<u64>,
    iat: Option<u64>,
    jti: Option<String>,
}

/// Checks a `private_key_jwt` client assertion as Entra does.
#[allow(clippy::result_large_err)]
fn check_assertion(
    t: &mut Tenant,
    app: &App,
    client_id: &str,
    tenant: &str,
    f: &HashMap<String, String>,
) -> Result<(), Response> {
    let refuse = |code: u32, message: &str| {
        aad_error(StatusCode::UNAUTHORIZED, "invalid_client", code, message)
    };
    let malformed = || {
        aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50027,
            "JWT token is invalid or malformed.",
        )
    };
    let signature_failed = || refuse(700027, "Client assertion failed signature validation.");
    let time_range = || {
        refuse(
            700024,
            "Client assertion is not within its valid time range.",
        )
    };
    if f.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            9002313,
            &format!(
                "Invalid request. Request is malformed or invalid. 'client_assertion_type' must be '{JWT_BEARER}'."
            ),
        ));
    }
    let Some(assertion) = f.get("client_assertion").filter(|a| !a.is_empty()) else {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_assertion'.",
        ));
    };
    let header = decode_header(assertion).map_err(|_| malformed())?;
    // Only `x5t#S256` names a certificate here; an assertion with only the
    // SHA-1 `x5t` is answered as naming an unknown one.
    let credential = header.x5t_s256.as_deref().and_then(|named| {
        let named = named.trim_end_matches('=');
        app.certificates
            .iter()
            .find(|c| c.thumbprint.as_deref() == Some(named))
    });
    let Some(credential) = credential else {
        let named = header
            .x5t_s256
            .as_deref()
            .or(header.x5t.as_deref())
            .unwrap_or_default();
        return Err(refuse(
            700027,
            &format!(
                "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{named}']"
            ),
        ));
    };
    let key = DecodingKey::from_rsa_pem(credential.public_key_pem.as_bytes())
        .map_err(|_| signature_failed())?;
    let audience = format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.algorithms = vec![Algorithm::RS256, Algorithm::PS256];
    validation.leeway = 0;
    validation.set_audience(&[audience.as_str()]);
    validation.set_issuer(&[client_id]);
    validation.sub = Some(client_id.to_owned());
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let claims = decode::<AssertionClaims>(assertion, &key, &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => time_range(),
            ErrorKind::InvalidAudience => refuse(
                700023,
                "Client assertion audience claim does not match Realm issuer.",
            ),
            ErrorKind::InvalidIssuer | ErrorKind::InvalidSubject => refuse(
                700021,
                "Client assertion application identifier doesn't match 'client_id' parameter.",
            ),
            ErrorKind::InvalidToken
            | ErrorKind::MissingRequiredClaim(_)
            | ErrorKind::Base64(_)
            | ErrorKind::Json(_)
            | ErrorKind::Utf8(_) => malformed(),
            _ => signature_failed(),
        })?
        .claims;
    let now = now_s();
    if claims
        .nbf
        .is_some_and(|nbf| nbf > now + MAX_ASSERTION_SKEW_S)
    {
        return Err(time_range());
    }
    let start = claims.nbf.or(claims.iat).unwrap_or(now);
    if claims.exp.unwrap_or_default().saturating_sub(start) > MAX_ASSERTION_LIFETIME_S {
        return Err(time_range());
    }
    let Some(jti) = claims.jti.filter(|jti| !jti.is_empty()) else {
        return Err(malformed());
    };
    if !t.assertion_ids.insert(jti) {
        return Err(refuse(
            700024,
            "Client assertion has already been used: its 'jti' was seen before. Each client assertion must be unique.",
        ));
    }
    Ok(())
}

async fn token(
    State(ms): State<Microsoft>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let mut t = ms.tenant();
    let param = |k: &str| f.get(k).cloned().unwrap_or_default();
    let basic = basic_header(&headers);
    let posted = f.contains_key("client_secret");
    let asserted = f.contains_key("client_assertion") || f.contains_key("client_assertion_type");
    let methods: Vec<&'static str> = [
        (basic.is_some(), "client_secret_basic"),
        (posted, "client_secret_post"),
        (asserted, "private_key_jwt"),
    ]
    .into_iter()
    .filter_map(|(used, method)| used.then_some(method))
    .collect();
    let auth_method = match methods.as_slice() {
        [] => "none",
        [method] => *method,
        _ => "multiple",
    };
    t.token_requests.push(TokenRequest {
        tenant: tenant.clone(),
        grant_type: param("grant_type"),
        scope: f.get("scope").cloned(),
        auth_method,
    });
    if t.token_outage {
        return aad_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            50196,
            "The server is temporarily too busy to handle the request.",
        );
    }
    let authority = Authority::of(&tenant);
    if authority == Authority::Unknown {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &tenant_not_found(&tenant),
        );
    }
    if methods.len() > 1 {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            9002313,
            "Invalid request. Request is malformed or invalid. The request authenticates the client more than once: use exactly one of client_secret_basic, client_secret_post and private_key_jwt.",
        );
    }
    let basic = match basic.map(basic_credentials) {
        Some(None) => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                9002313,
                "Invalid request. Request is malformed or invalid. The Authorization header does not hold valid Basic credentials.",
            );
        }
        decoded => decoded.flatten(),
    };
    let body_id = f.get("client_id").filter(|id| !id.is_empty());
    let client_id = match (&basic, body_id) {
        (Some((id, _)), Some(body)) if id != body => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                9002313,
                "Invalid request. Request is malformed or invalid. The client_id in the request body does not match the client of the Authorization header.",
            );
        }
        (Some((id, _)), _) => id.clone(),
        (None, Some(body)) => body.clone(),
        (None, None) => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_id'.",
            );
        }
    };
    if authority == Authority::Consumers {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{CONSUMERS_TENANT_ID}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        );
    }
    let Some(app) = t.clients.get(&client_id).cloned() else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory 'Contoso'."
            ),
        );
    };
    if app.single_tenant && authority == Authority::Multi {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50194,
            &not_multi_tenant(&client_id),
        );
    }
    let secret = basic
        .map(|(_, secret)| secret)
        .or_else(|| f.get("client_secret").cloned());
    if (secret.is_some() || asserted) && !app.confidential() {
        return aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        );
    }
    if let Some(secret) = secret {
        if app.secret.as_deref() != Some(secret.as_str()) {
            return aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            );
        }
    } else if asserted {
        if let Err(refused) = check_assertion(&mut t, &app, &client_id, &tenant, &f) {
            return refused;
        }
    } else if app.confidential() {
        return aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
    }
    // The scopes of the access token, those the new refresh token carries,
    // and whether this is a refresh grant.
    let (user, scopes, refresh_scopes, refreshing) = match param("grant_type").as_str() {
        "authorization_code" => {
            let code = param("code");
            if t.redeemed.contains(&code) {
                return aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
                );
            }
            let Some(grant) = t.codes.remove(&code) else {
                return aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    70000,
                    "The provided value for the 'code' parameter is not valid.",
                );
            };
            t.redeemed.push(code);
            if grant.expires_at <= now_s() {
                return aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    70008,
                    "The provided authorization code or refresh token has expired due to inactivity.",
                );
            }
            if grant.client_id != client_id || grant.redirect_uri != param("redirect_uri") {
                return aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    70000,
                    "The authorization code was issued to another client or redirect URI.",
                );
            }
            if let Some(challenge) = grant.challenge {
                let verifier = param("code_verifier");
                if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != challenge {
                    return aad_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        501481,
                        "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                    );
                }
            }
            (grant.user, grant.scopes.clone(), grant.scopes, false)
        }
        "refresh_token" => {
            // Absent, the refresh token's scopes are granted; present, what
            // it names (without checking it is a subset); empty, refused.
            let requested = f.get("scope").map(|s| s.trim());
            if requested.is_some_and(str::is_empty) {
                return aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    70011,
                    "The provided request must include a 'scope' input parameter.",
                );
            }
            let Some(refresh) = t.refresh.get(&param("refresh_token")) else {
                return aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    70000,
                    "The provided value for the 'refresh_token' parameter is not valid.",
                );
            };
            if refresh.revoked {
                return aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    50173,
                    "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
                );
            }
            if refresh.client_id != client_id {
                return aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    70000,
                    "The refresh token was issued to a different client.",
                );
            }
            let (user, original) = (refresh.user, refresh.scopes.clone());
            t.refreshes += 1;
            let granted = requested.map_or_else(|| original.clone(), str::to_owned);
            (user, granted, original, true)
        }
        other => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                &format!("The app requested an unsupported grant type '{other}'."),
            );
        }
    };
    // Microsoft grants what was asked, in its own spelling, minus offline_access.
    let granted: Vec<&str> = scopes
        .split_whitespace()
        .filter(|s| *s != "offline_access")
        .map(|s| s.trim_start_matches("https://graph.microsoft.com/"))
        .collect();
    let access_token = format!("eyJ0eXAiOiJKV1Qi.{}", random());
    let expires_in = t.access_lifetime_s;
    t.access.insert(
        access_token.clone(),
        Access {
            user,
            scopes: granted.join(" "),
            expires_at_ms: now_ms() + expires_in * 1000,
        },
    );
    let mut body = json!({
        "token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in,
        "access_token": access_token, "id_token": format!("eyJ0eXAiOiJKV1Qi.{}", random()),
    });
    if !t.omit_scope {
        body["scope"] = json!(granted.join(" "));
    }
    if t.rotate_refresh_tokens || !refreshing {
        let refresh_token = format!("0.AXoA{}", random());
        t.refresh.insert(
            refresh_token.clone(),
            Refresh {
                user,
                client_id,
                scopes: refresh_scopes,
                revoked: false,
            },
        );
        body["refresh_token"] = json!(refresh_token);
    }
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(body),
    )
        .into_response()
}

fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message, "innerError": {"date": "2026-11-28T10:00:00", "request-id": "94fb3b52-452a-4535-a601-69e0a90e3aa2", "client-request-id": "94fb3b52-452a-4535-a601-69e0a90e3aa2"}}});
    (status, Json(body)).into_response()
}

/// Checks the bearer token and the throttle; gives the user and scopes,
/// or the response to send instead.
#[allow(clippy::result_large_err)]
fn caller(ms: &Microsoft, headers: &HeaderMap) -> Result<(User, String), Response> {
    let mut t = ms.tenant();
    if t.throttle_next > 0 {
        t.throttle_next -= 1;
        let body = json!({"error": {"code": "TooManyRequests", "message": "Please retry again later.", "innerError": {"code": "429", "date": "2026-11-28T10:00:00", "message": "Please retry after", "request-id": "94fb3b52-452a-4535-a601-69e0a90e3aa2", "status": "429"}}});
        return Err((
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "0.2")],
            Json(body),
        )
            .into_response());
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let unauthenticated = |message: &str| {
        let mut response = graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        );
        response.headers_mut().insert(header::WWW_AUTHENTICATE, "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"".parse().expect("static header"));
        response
    };
    if token.is_empty() {
        return Err(unauthenticated("Access token is empty."));
    }
    match t.access.get(token) {
        None => Err(unauthenticated(
            "Access token validation failure. Invalid audience.",
        )),
        Some(a) if a.expires_at_ms <= now_ms() => Err(unauthenticated(
            "Lifetime validation failed, the token is expired.",
        )),
        Some(a) => Ok((t.users[a.user].clone(), a.scopes.clone())),
    }
}

async fn me(State(ms): State<Microsoft>, headers: HeaderMap) -> Response {
    match caller(&ms, &headers) {
        Err(r) => r,
        Ok((u, _)) => Json(json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity", "businessPhones": [], "displayName": u.display_name,
            "givenName": u.display_name.split(' ').next(), "jobTitle": null, "mail": u.mail, "mobilePhone": null, "officeLocation": null,
            "preferredLanguage": "en-US", "surname": u.display_name.split(' ').nth(1), "userPrincipalName": u.mail, "id": u.id,
        }))
        .into_response(),
    }
}

async fn sites(
    State(ms): State<Microsoft>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = caller(&ms, &headers) {
        return r;
    }
    let search = q
        .get("search")
        .map(|s| s.to_lowercase())
        .unwrap_or_default();
    let site = json!({"id": SITE_ID, "name": "Marketing", "displayName": "Marketing", "description": "Campaigns, briefs and brand material",
        "createdDateTime": "2024-02-01T09:12:00Z", "lastModifiedDateTime": "2026-11-20T16:40:00Z", "webUrl": "https://contoso.sharepoint.com/sites/marketing"});
    let value: Vec<Value> =
        if "marketing campaigns brand".contains(search.trim()) || search.is_empty() {
            vec![site]
        } else {
            vec![]
        };
    Json(json!({"value": value})).into_response()
}

async fn drives(
    State(ms): State<Microsoft>,
    headers: HeaderMap,
    Path(site): Path<String>,
) -> Response {
    if let Err(r) = caller(&ms, &headers) {
        return r;
    }
    if site != SITE_ID {
        return graph_error(
            StatusCode::NOT_FOUND,
            "itemNotFound",
            "The resource could not be found.",
        );
    }
    Json(json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#drives", "value": [{
        "id": DRIVE_ID, "name": "Documents", "driveType": "documentLibrary", "description": "", "createdDateTime": "2024-02-01T09:12:00Z",
        "lastModifiedDateTime": "2026-11-20T16:40:00Z", "webUrl": "https://contoso.sharepoint.com/sites/marketing/Shared%20Documents",
        "createdBy": {"user": {"displayName": "System Account"}},
        "quota": {"deleted": 0, "remaining": 1099217021300u64, "state": "normal", "total": 1099511627776u64, "used": 294606476}}]}))
    .into_response()
}

fn drive_item(item: &Item, items: &[Item]) -> Value {
    let url = format!(
        "https://contoso.sharepoint.com/sites/marketing/Shared%20Documents/{}",
        enc(&item.name)
    );
    let mut v = json!({
        "id": item.id, "name": item.name, "webUrl": url,
        "eTag": format!("\"{{{}}},1\"", item.id), "createdDateTime": item.modified, "lastModifiedDateTime": item.modified,
        "createdBy": {"user": {"displayName": item.author}}, "lastModifiedBy": {"user": {"displayName": item.author}},
        "parentReference": {"driveId": DRIVE_ID, "driveType": "documentLibrary", "id": item.parent.clone().unwrap_or_else(|| "01NKDM7HROOT".into()), "siteId": SITE_ID},
    });
    match &item.content {
        Some(text) => {
            v["size"] = json!(text.len());
            let mime = if item.name.ends_with(".md") {
                "text/markdown"
            } else if item.name.ends_with(".csv") {
                "text/csv"
            } else {
                "text/plain"
            };
            v["file"] = json!({"mimeType": mime, "hashes": {"quickXorHash": URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))}});
            v["@microsoft.graph.downloadUrl"] = json!(format!(
                "https://contoso.sharepoint.com/sites/marketing/_layouts/15/download.aspx?UniqueId={}",
                item.id
            ));
        }
        None => {
            v["size"] = json!(0);
            v["folder"] = json!({"childCount": items.iter().filter(|c| c.parent.as_deref() == Some(&item.id)).count()});
        }
    }
    v
}

fn children(
    ms: &Microsoft,
    drive: &str,
    parent: Option<&str>,
    q: &HashMap<String, String>,
    path: &str,
) -> Response {
    let t = ms.tenant();
    if drive != DRIVE_ID
        || parent.is_some_and(|p| !t.items.iter().any(|i| i.id == p && i.content.is_none()))
    {
        return graph_error(
            StatusCode::NOT_FOUND,
            "itemNotFound",
            "The resource could not be found.",
        );
    }
    let all: Vec<&Item> = t
        .items
        .iter()
        .filter(|i| i.parent.as_deref() == parent)
        .collect();
    let top = q
        .get("$top")
        .and_then(|v| v.parse().ok())
        .unwrap_or(t.page_size)
        .min(t.page_size);
    let skip: usize = q
        .get("$skiptoken")
        .and_then(|v| v.strip_prefix("Paged=TRUE&p_ID="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let page: Vec<Value> = all
        .iter()
        .skip(skip)
        .take(top)
        .map(|i| drive_item(i, &t.items))
        .collect();
    let mut body = json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#drives('b%21-RIj')/items", "value": page});
    if skip + top < all.len() {
        body["@odata.nextLink"] = json!(format!(
            "{GRAPH}{path}?$top={top}&$skiptoken={}",
            enc(&format!("Paged=TRUE&p_ID={}", skip + top))
        ));
    }
    Json(body).into_response()
}

async fn root_children(
    State(ms): State<Microsoft>,
    headers: HeaderMap,
    Path(drive): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = caller(&ms, &headers) {
        return r;
    }
    children(
        &ms,
        &drive,
        None,
        &q,
        &format!("/drives/{drive}/root/children"),
    )
}

async fn item_get(
    State(ms): State<Microsoft>,
    headers: HeaderMap,
    Path((drive, rest)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = caller(&ms, &headers) {
        return r;
    }
    if let Some(id) = rest.strip_suffix("/children") {
        return children(
            &ms,
            &drive,
            Some(id),
            &q,
            &format!("/drives/{drive}/items/{id}/children"),
        );
    }
    let mut t = ms.tenant();
    let (id, content) = match rest.strip_suffix("/content") {
        Some(id) => (id, true),
        None => (rest.as_str(), false),
    };
    let Some(item) = t
        .items
        .iter()
        .find(|i| i.id == id && drive == DRIVE_ID)
        .cloned()
    else {
        return graph_error(
            StatusCode::NOT_FOUND,
            "itemNotFound",
            "The resource could not be found.",
        );
    };
    if !content {
        return Json(drive_item(&item, &t.items)).into_response();
    }
    if item.content.is_none() {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "invalidRequest",
            "The item is a folder.",
        );
    }
    let tempauth = format!("v1.{}", random());
    t.downloads.insert(tempauth.clone(), item.id.clone());
    let location = format!(
        "https://contoso.sharepoint.com/sites/marketing/_layouts/15/download.aspx?UniqueId={}&tempauth={tempauth}",
        item.id
    );
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

async fn item_put(
    State(ms): State<Microsoft>,
    headers: HeaderMap,
    Path((drive, rest)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let scopes = match caller(&ms, &headers) {
        Ok((_, scopes)) => scopes,
        Err(r) => return r,
    };
    if !scopes
        .split_whitespace()
        .any(|s| s.starts_with("Files.ReadWrite") || s == "Sites.ReadWrite.All")
    {
        return graph_error(
            StatusCode::FORBIDDEN,
            "accessDenied",
            "Access denied. You do not have permission to perform this action or access this resource.",
        );
    }
    // PUT /drives/{drive}/items/{parent}:/{name}:/content
    let Some((parent, name)) = rest
        .strip_suffix(":/content")
        .and_then(|r| r.split_once(":/"))
    else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "invalidRequest",
            "Invalid request.",
        );
    };
    let mut t = ms.tenant();
    if drive != DRIVE_ID
        || !t
            .items
            .iter()
            .any(|i| i.id == parent && i.content.is_none())
    {
        return graph_error(
            StatusCode::NOT_FOUND,
            "itemNotFound",
            "The resource could not be found.",
        );
    }
    let content = String::from_utf8_lossy(&body).into_owned();
    let existing = t
        .items
        .iter()
        .position(|i| i.parent.as_deref() == Some(parent) && i.name == name);
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let item = Item {
        id: format!("01NKDM7H{}", &random()[..24].to_uppercase()),
        name: name.to_owned(),
        parent: Some(parent.to_owned()),
        content: Some(content),
        modified: "2026-11-28T10:00:00Z".into(),
        author: "Adele Vance".into(),
    };
    match existing {
        Some(i) => {
            t.items[i] = Item {
                id: t.items[i].id.clone(),
                ..item
            }
        }
        None => t.items.push(item),
    }
    let stored = t
        .items
        .iter()
        .find(|i| i.parent.as_deref() == Some(parent) && i.name == name)
        .cloned();
    match stored {
        Some(item) => (status, Json(drive_item(&item, &t.items))).into_response(),
        None => graph_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "generalException",
            "An unspecified error has occurred.",
        ),
    }
}

async fn search(
    State(ms): State<Microsoft>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = caller(&ms, &headers) {
        return r;
    }
    let request = &body["requests"][0];
    if request["entityTypes"] != json!(["driveItem"]) {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Only driveItem searches are supported here.",
        );
    }
    let query = request["query"]["queryString"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    let from = request["from"].as_u64().unwrap_or(0) as usize;
    let size = request["size"].as_u64().unwrap_or(25).min(500) as usize;
    let t = ms.tenant();
    let terms: Vec<&str> = query.split_whitespace().collect();
    let found: Vec<&Item> = t
        .items
        .iter()
        .filter(|i| i.content.is_some())
        .filter(|i| {
            terms.iter().all(|term| {
                i.name.to_lowercase().contains(term)
                    || i.content
                        .as_deref()
                        .unwrap_or_default()
                        .to_lowercase()
                        .contains(term)
            })
        })
        .collect();
    let hits: Vec<Value> = found
        .iter()
        .skip(from)
        .take(size)
        .enumerate()
        .map(|(rank, i)| {
            let text = i.content.as_deref().unwrap_or_default();
            let summary: String = text.chars().take(120).collect();
            json!({"hitId": i.id, "rank": from + rank + 1, "summary": format!("{summary} <ddd/>"), "resource": drive_item(i, &t.items)})
        })
        .collect();
    Json(json!({"value": [{"searchTerms": terms, "hitsContainers": [{"total": found.len(), "moreResultsAvailable": from + hits.len() < found.len(), "hits": hits}]}]})).into_response()
}

async fn download(
    State(ms): State<Microsoft>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let t = ms.tenant();
    let id = q
        .get("tempauth")
        .and_then(|a| t.downloads.get(a))
        .filter(|id| q.get("UniqueId") == Some(*id));
    match id
        .and_then(|id| t.items.iter().find(|i| &i.id == id))
        .and_then(|i| i.content.clone())
    {
        Some(text) => ([(header::CONTENT_TYPE, "application/octet-stream")], text).into_response(),
        None => (StatusCode::UNAUTHORIZED, "401 UNAUTHORIZED").into_response(),
    }
}

fn library() -> Vec<Item> {
    let file = |id: &str,
                name: &str,
                parent: Option<&str>,
                modified: &str,
                author: &str,
                content: &str| Item {
        id: id.into(),
        name: name.into(),
        parent: parent.map(Into::into),
        content: Some(content.into()),
        modified: modified.into(),
        author: author.into(),
    };
    vec![
        Item {
            id: FOLDER_ID.into(),
            name: "Campaigns".into(),
            parent: None,
            content: None,
            modified: "2026-10-02T08:30:00Z".into(),
            author: "Megan Bowen".into(),
        },
        file(
            "01NKDM7HBRANDVOICE00000000000002",
            "Brand voice guidelines.txt",
            None,
            "2026-09-14T11:05:00Z",
            "Megan Bowen",
            "Contoso brand voice\n\nWe sound like a knowledgeable colleague, not a brochure. Short sentences. Concrete numbers over adjectives.\nSay \"you\" to the reader; avoid jargon unless the audience uses it daily.\nNever promise outcomes we cannot measure.\n",
        ),
        file(
            "01NKDM7HQ3PLAN000000000000000003",
            "Q3 content plan.md",
            None,
            "2026-07-01T09:00:00Z",
            "Adele Vance",
            "# Q3 content plan\n\n- 6 long-form articles on SEO for B2B SaaS\n- 2 customer stories (Fabrikam, Northwind)\n- Webinar: measuring content ROI\n\nOwner: Adele Vance. Review every second Tuesday.\n",
        ),
        file(
            "01NKDM7HSEOBRIEF00000000000000004",
            "SEO brief - spring launch.txt",
            None,
            "2026-11-18T14:20:00Z",
            "Adele Vance",
            "SEO brief: spring launch\n\nPrimary keyword: content marketing platform (33,100 searches a month).\nSecondary: seo tools, local seo.\nSearch intent: commercial investigation. Target length 1,800 words.\n",
        ),
        file(
            "01NKDM7HCOMPETITORS0000000000005",
            "Competitor notes.txt",
            None,
            "2026-11-02T10:10:00Z",
            "Megan Bowen",
            "Competitor notes\n\nFabrikam publishes weekly and ranks for 'seo audit'. Litware owns 'seo meaning'.\nGap: nobody covers SEO for regulated industries well.\n",
        ),
        file(
            "01NKDM7HCALENDAR000000000000006",
            "Editorial calendar.csv",
            None,
            "2026-11-20T16:40:00Z",
            "Adele Vance",
            "week,title,owner\n2026-W49,How to brief writers for SEO,Adele\n2026-W50,Local SEO checklist,Megan\n",
        ),
        file(
            "01NKDM7HSPRINGBRIEF000000000007",
            "Spring launch brief.txt",
            Some(FOLDER_ID),
            "2026-11-10T12:00:00Z",
            "Megan Bowen",
            "Spring launch brief\n\nAudience: marketing operations leads at mid-size companies.\nMessage: one place to govern every tool your team uses.\nChannels: blog, LinkedIn, partner newsletter.\n",
        ),
        file(
            "01NKDM7HWEBINAR00000000000000008",
            "Webinar outline.md",
            Some(FOLDER_ID),
            "2026-10-21T15:45:00Z",
            "Adele Vance",
            "# Webinar: measuring content ROI\n\n1. Why page views mislead\n2. Attribution that finance accepts\n3. Live demo\n",
        ),
        file(
            "01NKDM7HBUDGET00000000000000009",
            "Budget 2027 draft.txt",
            Some(FOLDER_ID),
            "2026-11-25T09:30:00Z",
            "Megan Bowen",
            "Budget 2027 draft\n\nContent production: 48% of spend. Paid distribution: 30%. Tools: 22%.\n",
        ),
    ]
}
