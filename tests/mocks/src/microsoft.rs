//! The Microsoft identity platform (`login.microsoftonline.com`), Microsoft
//! Graph (`graph.microsoft.com`) and SharePoint's pre-authenticated
//! downloads (`contoso.sharepoint.com`), on one loopback port.
//!
//! Faithful where connectors and the engine depend on it: authorization
//! code with exact redirect URIs, single-use codes, PKCE S256 checked at the
//! token endpoint, refresh with a new refresh token each time, `invalid_grant`
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
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const SITE_ID: &str = "contoso.sharepoint.com,da60e844-ba1d-49bc-b4d4-d5e36bae9019,712a596e-90a1-49e3-9b48-bfa80bee8740";
pub const DRIVE_ID: &str = "b!-RIj2DuyvEyV1T4NlOaMHk8XkS_I8MdFlUCq1BlcjgmhRfAj3-Z8RY2VpuvV_tpd";
const GRAPH: &str = "https://graph.microsoft.com/v1.0";
const FOLDER_ID: &str = "01NKDM7HCAMPAIGNSFOLDER0000000001";

/// A signed-in Microsoft user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub display_name: String,
    pub mail: String,
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
    expires_at: u64,
}

struct Refresh {
    user: usize,
    client_id: String,
    scopes: String,
    revoked: bool,
}

#[derive(Default)]
struct Tenant {
    clients: HashMap<String, (Option<String>, String)>,
    users: Vec<User>,
    signed_in: usize,
    deny_next: Option<(String, String)>,
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
            ..Tenant::default()
        };
        Microsoft {
            tenant: Arc::new(Mutex::new(tenant)),
        }
    }

    fn tenant(&self) -> MutexGuard<'_, Tenant> {
        self.tenant.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers an app: its id, secret (confidential client) and redirect URI.
    pub fn register_client(
        &self,
        client_id: &str,
        secret: Option<&str>,
        redirect_uri: &str,
    ) -> &Self {
        self.tenant().clients.insert(
            client_id.into(),
            (secret.map(Into::into), redirect_uri.into()),
        );
        self
    }

    /// Who consents at the authorize endpoint next: 0 Adele, 1 Megan.
    pub fn sign_in_as(&self, user: usize) -> &Self {
        self.tenant().signed_in = user;
        self
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
            access.expires_at = 0;
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

    /// How many refresh-token grants the token endpoint served.
    pub fn refreshes(&self) -> u64 {
        self.tenant().refreshes
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

    pub async fn start(&self) -> std::io::Result<crate::Running> {
        crate::serve(self.router()).await
    }
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

async fn authorize(
    State(ms): State<Microsoft>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut t = ms.tenant();
    let param = |k: &str| q.get(k).cloned().unwrap_or_default();
    let Some((_, registered)) = t.clients.get(&param("client_id")).cloned() else {
        return (StatusCode::BAD_REQUEST, format!("AADSTS700016: Application with identifier '{}' was not found in the directory 'Contoso'.", param("client_id"))).into_response();
    };
    if param("redirect_uri") != registered {
        return (StatusCode::BAD_REQUEST, "AADSTS50011: The redirect URI specified in the request does not match the redirect URIs configured for the application.").into_response();
    }
    let state = param("state");
    let target = if let Some((error, description)) = t.deny_next.take() {
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
                client_id: param("client_id"),
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

async fn token(State(ms): State<Microsoft>, Form(f): Form<HashMap<String, String>>) -> Response {
    let mut t = ms.tenant();
    let param = |k: &str| f.get(k).cloned().unwrap_or_default();
    if t.token_outage {
        return aad_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            50196,
            "The server is temporarily too busy to handle the request.",
        );
    }
    let client_id = param("client_id");
    let Some((secret, _)) = t.clients.get(&client_id).cloned() else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory 'Contoso'."
            ),
        );
    };
    if secret.is_some_and(|s| s != param("client_secret")) {
        return aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        );
    }
    let (user, scopes) = match param("grant_type").as_str() {
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
            (grant.user, grant.scopes)
        }
        "refresh_token" => {
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
            let granted = (refresh.user, refresh.scopes.clone());
            t.refreshes += 1;
            granted
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
    let (access_token, refresh_token) = (
        format!("eyJ0eXAiOiJKV1Qi.{}", random()),
        format!("0.AXoA{}", random()),
    );
    let expires_in = t.access_lifetime_s;
    t.access.insert(
        access_token.clone(),
        Access {
            user,
            scopes: granted.join(" "),
            expires_at: now_s() + expires_in,
        },
    );
    t.refresh.insert(
        refresh_token.clone(),
        Refresh {
            user,
            client_id,
            scopes: scopes.clone(),
            revoked: false,
        },
    );
    let body = json!({
        "token_type": "Bearer", "scope": granted.join(" "), "expires_in": expires_in, "ext_expires_in": expires_in,
        "access_token": access_token, "refresh_token": refresh_token, "id_token": format!("eyJ0eXAiOiJKV1Qi.{}", random()),
    });
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
        Some(a) if a.expires_at <= now_s() => Err(unauthenticated(
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
