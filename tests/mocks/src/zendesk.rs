//! Zendesk Support (`{subdomain}.zendesk.com`): every tenant's API on one
//! loopback port, over HTTPS under a wildcard certificate
//! ([`CERTIFICATE_NAMES`]). Route each tenant's host ([`Zendesk::hosts`]) to
//! [`crate::Running::addr`]: routes name hosts exactly, so the wildcard
//! itself cannot be routed.
//!
//! Faithful where a connector depends on it:
//! - the account is the `Host` subdomain; an unknown one answers 404 with
//!   Zendesk's "Help Center Closed" page, not JSON;
//! - API tokens as Basic `{email}/token:{token}`. A token belongs to the
//!   account, not to a user: any agent's email with any active token of
//!   that account signs in as that agent. A wrong token answers 401
//!   `{"error":"Couldn't authenticate you"}` with `WWW-Authenticate: Basic
//!   realm="Web Password"`, on every endpoint;
//! - `GET /api/v2/users/me` answers 200 with an anonymous user (`id: null`)
//!   when no credential is sent or a password sign-in fails (this mock has
//!   no passwords), so a credential check must look at `user.id`, not the
//!   status; every other endpoint answers 401 then;
//! - tickets: cursor pagination with `page[size]` (at most 100), offset
//!   pagination (`page`, `per_page`, at most 100) without it, as Zendesk
//!   defaults; `meta`/`links` with absolute URLs on the tenant's host;
//!   `RecordNotFound` for an unknown id, `Invalid attribute` for one that
//!   is not a number; the `.json` suffix optional everywhere;
//! - search: offset pagination only (`page[size]` is refused as a `page`
//!   that is not an integer), 1,000 results at most (422 past them), while
//!   `count` and `next_page` still show every match;
//! - a per-account limit of requests a minute ([`DEFAULT_REQUESTS_PER_MINUTE`],
//!   Zendesk's lowest current plan) with `X-Rate-Limit`,
//!   `X-Rate-Limit-Remaining`, `ratelimit-limit`, `ratelimit-remaining` and
//!   `ratelimit-reset` on every signed-in answer, and 429 with `Retry-After`
//!   (seconds) when the minute is used up.
//!
//! Not modelled: writes (any other method answers `InvalidEndpoint`), OAuth
//! (every bearer token is refused as Zendesk refuses an invalid one),
//! end users and roles, endpoint-specific limits, search `sort_by`, and
//! users or organizations in search results (only tickets are searched;
//! the mock orders them newest first where Zendesk orders by relevance).
//!
//! Sources:
//! - <https://support.zendesk.com/hc/en-us/articles/4408831452954> (API token authentication)
//! - <https://support.zendesk.com/hc/de/community/posts/360037898174> (a token is not tied to a user)
//! - <https://github.com/blakmatrix/node-zendesk/issues/152> (`users/me` answers a guest user)
//! - <https://github.com/Speedygeek/ZendeskApi_v2/issues/505> (401 body and headers, as received)
//! - <https://github.com/fprimex/zdesk/issues/38> (`RecordNotFound` body, as received)
//! - <https://github.com/zendesk/zendesk_api_client_rb/issues/349> (`Invalid attribute` body, JSON content type, rate-limit headers)
//! - <https://developer.zendesk.com/api-reference/introduction/requests>
//! - <https://developer.zendesk.com/api-reference/introduction/rate-limits>
//! - <https://developer.zendesk.com/documentation/ticketing/using-the-zendesk-api/best-practices-for-avoiding-rate-limiting/>
//! - <https://developer.zendesk.com/api-reference/introduction/pagination/>
//! - <https://support.zendesk.com/hc/en-us/articles/5591904358938> (offset pagination limits)
//! - <https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/> (results limit)
//! - <https://support.zendesk.com/hc/en-us/community/posts/4409222763930> (422 past the results limit)
//! - <https://support.zendesk.com/hc/en-us/community/posts/5981990015514> (`page[size]` refused by search)

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The names the mock's certificate carries: any tenant's host verifies.
pub const CERTIFICATE_NAMES: &[&str] = &["*.zendesk.com"];

/// Requests a minute per account unless [`Zendesk::set_rate_limit`] says
/// otherwise: the Team plans', the lowest Zendesk documents today.
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 200;

/// The demo's tenant, agent and API token ([`Zendesk::demo`]).
pub const DEMO_SUBDOMAIN: &str = "acme";
pub const DEMO_EMAIL: &str = "ada@acme.test";
pub const DEMO_TOKEN: &str = "demo-zendesk-token";

/// The host of a tenant, e.g. `acme.zendesk.com`.
pub fn host(subdomain: &str) -> String {
    format!("{subdomain}.zendesk.com")
}

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The `Host` header, e.g. `acme.zendesk.com`.
    pub host: String,
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// The `Authorization` header, verbatim.
    pub authorization: Option<String>,
    pub status: u16,
}

impl Recorded {
    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.query, name)
    }

    /// The user and password of a Basic `Authorization`, decoded, e.g.
    /// (`ada@acme.test/token`, the token).
    pub fn basic(&self) -> Option<(String, String)> {
        basic_credentials(self.authorization.as_deref()?)
    }
}

/// A ticket as the mock holds it; [`Zendesk::edit_ticket`] changes it.
#[derive(Debug, Clone)]
pub struct Ticket {
    /// Numbered from 1 in each account, as Zendesk numbers them.
    pub id: u64,
    pub subject: String,
    /// The first comment.
    pub description: String,
    /// `new`, `open`, `pending`, `hold`, `solved` or `closed`.
    pub status: String,
    /// `low`, `normal`, `high`, `urgent`, or none.
    pub priority: Option<String>,
    pub requester_id: u64,
    pub assignee_id: Option<u64>,
    pub tags: Vec<String>,
    /// ISO 8601, UTC, whole seconds, as Zendesk writes times.
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
struct Agent {
    id: u64,
    name: String,
    email: String,
    created_at: String,
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    used: u32,
}

struct Tenant {
    agents: Vec<Agent>,
    /// Active API tokens: the account's, usable with any agent's email.
    tokens: HashSet<String>,
    /// By id, oldest first.
    tickets: Vec<Ticket>,
    /// The customer who asked: requester of the tickets added here.
    customer_id: u64,
    brand_id: u64,
    per_minute: u32,
    window: Option<Window>,
}

#[derive(Default)]
struct Books {
    /// By subdomain, in lower case.
    tenants: HashMap<String, Tenant>,
    /// Ids handed out: users and brands are numbered across accounts.
    ids: u64,
    requests: Vec<Recorded>,
    /// How long every answer takes, as a slow network would.
    latency: Duration,
}

impl Books {
    fn new_id(&mut self) -> u64 {
        self.ids += 1;
        FIRST_ID + self.ids
    }

    fn tenant(&mut self, subdomain: &str) -> &mut Tenant {
        self.tenants
            .get_mut(&subdomain.to_ascii_lowercase())
            .unwrap_or_else(|| panic!("no Zendesk tenant `{subdomain}`: add_tenant it first"))
    }
}

/// Where user and brand ids start: Zendesk's are thirteen digits long.
const FIRST_ID: u64 = 5_301_000_000_000;
/// 2026-01-05T09:00:00Z: the seeded tickets' times count from it.
const SEEDED_AT: u64 = 1_767_603_600;
const MINUTE: Duration = Duration::from_secs(60);
const MAX_PAGE_SIZE: usize = 100;
/// Search answers the first 1,000 results of a query and refuses pages past them.
const SEARCH_LIMIT: usize = 1_000;
const STATUSES: &[&str] = &["new", "open", "pending", "hold", "solved", "closed"];
const PRIORITIES: &[&str] = &["low", "normal", "high", "urgent"];

/// The mock's state; clone it freely.
#[derive(Clone, Default)]
pub struct Zendesk {
    books: Arc<Mutex<Books>>,
}

impl Zendesk {
    /// No tenants yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The demo's data: tenant `acme`, agent Ada Lovelace ([`DEMO_EMAIL`])
    /// with [`DEMO_TOKEN`], and 30 tickets, enough to page through.
    pub fn demo() -> Self {
        let mock = Self::new();
        mock.add_tenant(DEMO_SUBDOMAIN)
            .add_api_token(DEMO_SUBDOMAIN, DEMO_TOKEN);
        let ada = mock.add_agent(DEMO_SUBDOMAIN, DEMO_EMAIL, "Ada Lovelace");
        for (n, (subject, tag)) in DEMO_TICKETS.iter().enumerate() {
            let status = DEMO_STATUSES[n % DEMO_STATUSES.len()];
            let id = mock.add_ticket(DEMO_SUBDOMAIN, subject, status);
            mock.edit_ticket(DEMO_SUBDOMAIN, id, |ticket| {
                ticket.priority = Some(PRIORITIES[n % PRIORITIES.len()].to_owned());
                ticket.tags = vec![(*tag).to_owned()];
                // New tickets are not assigned yet.
                ticket.assignee_id = (status != "new").then_some(ada);
            });
        }
        mock
    }

    fn books(&self) -> MutexGuard<'_, Books> {
        self.books
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Opens an account at `{subdomain}.zendesk.com`; does nothing if it exists.
    pub fn add_tenant(&self, subdomain: &str) -> &Self {
        let mut books = self.books();
        let subdomain = subdomain.to_ascii_lowercase();
        if !books.tenants.contains_key(&subdomain) {
            let customer_id = books.new_id();
            let brand_id = books.new_id();
            books.tenants.insert(
                subdomain,
                Tenant {
                    agents: Vec::new(),
                    tokens: HashSet::new(),
                    tickets: Vec::new(),
                    customer_id,
                    brand_id,
                    per_minute: DEFAULT_REQUESTS_PER_MINUTE,
                    window: None,
                },
            );
        }
        self
    }

    /// Adds a verified agent to an account; gives the agent's user id.
    ///
    /// # Panics
    ///
    /// If the tenant was not added.
    pub fn add_agent(&self, subdomain: &str, email: &str, name: &str) -> u64 {
        let mut books = self.books();
        let id = books.new_id();
        books.tenant(subdomain).agents.push(Agent {
            id,
            name: name.to_owned(),
            email: email.to_owned(),
            created_at: iso8601(SEEDED_AT - 30 * 86_400),
        });
        id
    }

    /// Activates an API token for an account, as an admin does in Admin Center.
    ///
    /// # Panics
    ///
    /// If the tenant was not added.
    pub fn add_api_token(&self, subdomain: &str, token: &str) -> &Self {
        self.books()
            .tenant(subdomain)
            .tokens
            .insert(token.to_owned());
        self
    }

    /// Deletes an API token, as an admin may at any time.
    ///
    /// # Panics
    ///
    /// If the tenant was not added.
    pub fn revoke_api_token(&self, subdomain: &str, token: &str) {
        self.books().tenant(subdomain).tokens.remove(token);
    }

    /// Adds a ticket from the account's customer, priority `normal`,
    /// unassigned; gives its id.
    ///
    /// # Panics
    ///
    /// If the tenant was not added, or `status` is not one of Zendesk's.
    pub fn add_ticket(&self, subdomain: &str, subject: &str, status: &str) -> u64 {
        assert!(
            STATUSES.contains(&status),
            "Zendesk has no ticket status `{status}`"
        );
        let mut books = self.books();
        let tenant = books.tenant(subdomain);
        let id = tenant.tickets.len() as u64 + 1;
        // Seven hours apart, so the seeded tickets span a working week.
        let created = SEEDED_AT + (id - 1) * 7 * 3_600;
        tenant.tickets.push(Ticket {
            id,
            subject: subject.to_owned(),
            description: subject.to_owned(),
            status: status.to_owned(),
            priority: Some("normal".to_owned()),
            requester_id: tenant.customer_id,
            assignee_id: None,
            tags: Vec::new(),
            created_at: iso8601(created),
            updated_at: iso8601(created + 45 * 60),
        });
        id
    }

    /// Changes a ticket in place.
    ///
    /// # Panics
    ///
    /// If the tenant or the ticket does not exist.
    pub fn edit_ticket(&self, subdomain: &str, id: u64, edit: impl FnOnce(&mut Ticket)) {
        let mut books = self.books();
        let ticket = books
            .tenant(subdomain)
            .tickets
            .iter_mut()
            .find(|ticket| ticket.id == id)
            .unwrap_or_else(|| panic!("no ticket {id} in Zendesk tenant `{subdomain}`"));
        edit(ticket);
    }

    /// The account's requests a minute (0 refuses every signed-in request).
    ///
    /// # Panics
    ///
    /// If the tenant was not added.
    pub fn set_rate_limit(&self, subdomain: &str, per_minute: u32) {
        self.books().tenant(subdomain).per_minute = per_minute;
    }

    /// Starts a new minute for every account, as if a minute had passed.
    pub fn next_minute(&self) {
        for tenant in self.books().tenants.values_mut() {
            tenant.window = None;
        }
    }

    /// Answers every request `latency` after it arrives.
    pub fn answer_after(&self, latency: Duration) {
        self.books().latency = latency;
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.books().requests.clone()
    }

    /// The tenants' hosts, to route to the running mock.
    pub fn hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self
            .books()
            .tenants
            .keys()
            .map(String::as_str)
            .map(host)
            .collect();
        hosts.sort();
        hosts
    }

    pub fn router(&self) -> Router {
        // One handler: the account comes from the host before any path.
        Router::new().fallback(api).with_state(self.clone())
    }

    /// Starts it over HTTPS for [`CERTIFICATE_NAMES`] on a free loopback port.
    pub async fn start(&self) -> std::io::Result<crate::Running> {
        crate::serve(self.router(), CERTIFICATE_NAMES).await
    }

    /// Zendesk's order: the account, the credential, the account's minute,
    /// then the endpoint.
    fn answer(
        &self,
        method: &Method,
        host_header: &str,
        path: &str,
        query: &[(String, String)],
        authorization: Option<&str>,
    ) -> Response {
        let mut books = self.books();
        let Some(subdomain) = subdomain_of(host_header) else {
            return no_such_account();
        };
        let Some(tenant) = books.tenants.get_mut(subdomain) else {
            return no_such_account();
        };
        let origin = host(subdomain);
        let endpoint = Endpoint::of(method, path);
        let agent = match tenant.caller(authorization) {
            Caller::Agent(agent) => agent,
            Caller::Anonymous if matches!(endpoint, Endpoint::Me) => {
                return reply(StatusCode::OK, json!({"user": anonymous_user()}));
            }
            Caller::Anonymous | Caller::WrongToken => return unauthenticated(),
            Caller::Bearer => return invalid_oauth_token(),
        };
        let allowance = match tenant.count_request() {
            Ok(allowance) => allowance,
            Err(used_up) => return too_many_requests(used_up),
        };
        let mut response = match endpoint {
            Endpoint::Me => reply(StatusCode::OK, json!({"user": agent_json(&origin, &agent)})),
            Endpoint::Tickets => list_tickets(&origin, tenant, query),
            Endpoint::Ticket(id) => show_ticket(&origin, tenant, id),
            Endpoint::Search => search(&origin, tenant, query),
            Endpoint::Unknown => reply(
                StatusCode::NOT_FOUND,
                json!({"error": "InvalidEndpoint", "description": "Not found"}),
            ),
        };
        allowance.stamp(response.headers_mut());
        response
    }
}

async fn api(
    State(mock): State<Zendesk>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let latency = mock.books().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let response = mock.answer(&method, &host, uri.path(), &query, authorization.as_deref());
    mock.books().requests.push(Recorded {
        host,
        method: method.to_string(),
        path: uri.path().to_owned(),
        query,
        authorization,
        status: response.status().as_u16(),
    });
    response
}

/// The subdomain of `{subdomain}.zendesk.com[:port]`.
fn subdomain_of(host: &str) -> Option<&str> {
    let name = host.split(':').next()?;
    name.strip_suffix(".zendesk.com")
        .filter(|subdomain| !subdomain.is_empty() && !subdomain.contains('.'))
}

enum Endpoint<'a> {
    Me,
    Tickets,
    Ticket(&'a str),
    Search,
    Unknown,
}

impl<'a> Endpoint<'a> {
    /// Reads are all there is; `.json` may end any path.
    fn of(method: &Method, path: &'a str) -> Self {
        if method != Method::GET {
            return Endpoint::Unknown;
        }
        let path = path.strip_suffix(".json").unwrap_or(path);
        match path.strip_prefix("/api/v2/") {
            Some("users/me") => Endpoint::Me,
            Some("tickets") => Endpoint::Tickets,
            Some("search") => Endpoint::Search,
            Some(rest) => rest
                .strip_prefix("tickets/")
                .filter(|id| !id.is_empty() && !id.contains('/'))
                .map_or(Endpoint::Unknown, Endpoint::Ticket),
            None => Endpoint::Unknown,
        }
    }
}

enum Caller {
    Agent(Agent),
    /// No credential, or a password sign-in that failed.
    Anonymous,
    /// `{email}/token` with a token or email the account does not know.
    WrongToken,
    /// An OAuth access token: this mock issues none.
    Bearer,
}

impl Tenant {
    fn caller(&self, authorization: Option<&str>) -> Caller {
        let Some(authorization) = authorization else {
            return Caller::Anonymous;
        };
        if authorization
            .split_once(' ')
            .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        {
            return Caller::Bearer;
        }
        let Some((user, secret)) = basic_credentials(authorization) else {
            return Caller::Anonymous;
        };
        // Anything but `{email}/token` is a password sign-in, and this mock
        // knows no passwords: Zendesk treats a failed one as no sign-in.
        let Some(email) = user.strip_suffix("/token") else {
            return Caller::Anonymous;
        };
        match self
            .agents
            .iter()
            .find(|agent| agent.email.eq_ignore_ascii_case(email))
        {
            Some(agent) if self.tokens.contains(&secret) => Caller::Agent(agent.clone()),
            _ => Caller::WrongToken,
        }
    }

    /// Counts a request against the account's minute; when the minute is
    /// used up, refuses it (with the same figures, nothing remaining).
    fn count_request(&mut self) -> Result<Allowance, Allowance> {
        let now = Instant::now();
        let window = match self.window {
            Some(window) if now.duration_since(window.started) < MINUTE => window,
            _ => Window {
                started: now,
                used: 0,
            },
        };
        let left = MINUTE.saturating_sub(now.duration_since(window.started));
        let reset = (left.as_secs() + u64::from(left.subsec_nanos() > 0)).max(1);
        let limit = self.per_minute;
        if window.used >= limit {
            self.window = Some(window);
            return Err(Allowance {
                limit,
                remaining: 0,
                reset,
            });
        }
        let used = window.used + 1;
        self.window = Some(Window { used, ..window });
        Ok(Allowance {
            limit,
            remaining: limit - used,
            reset,
        })
    }
}

#[derive(Clone, Copy)]
struct Allowance {
    limit: u32,
    remaining: u32,
    /// Seconds until the minute starts again.
    reset: u64,
}

impl Allowance {
    /// The account-wide headers, and the `ratelimit-*` ones the Ticketing
    /// APIs add.
    fn stamp(self, headers: &mut HeaderMap) {
        for (name, value) in [
            ("x-rate-limit", u64::from(self.limit)),
            ("x-rate-limit-remaining", u64::from(self.remaining)),
            ("ratelimit-limit", u64::from(self.limit)),
            ("ratelimit-remaining", u64::from(self.remaining)),
            ("ratelimit-reset", self.reset),
        ] {
            headers.insert(name, HeaderValue::from(value));
        }
    }
}

/// The user and password of a Basic `Authorization` header.
fn basic_credentials(authorization: &str) -> Option<(String, String)> {
    let (scheme, encoded) = authorization.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

const JSON: &str = "application/json; charset=UTF-8";

fn reply(status: StatusCode, body: Value) -> Response {
    (status, [(header::CONTENT_TYPE, JSON)], body.to_string()).into_response()
}

fn unauthenticated() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::CONTENT_TYPE, JSON),
            (header::WWW_AUTHENTICATE, "Basic realm=\"Web Password\""),
        ],
        json!({"error": "Couldn't authenticate you"}).to_string(),
    )
        .into_response()
}

fn invalid_oauth_token() -> Response {
    reply(
        StatusCode::UNAUTHORIZED,
        json!({"error": "invalid_token", "error_description": "The access token provided is expired, revoked, malformed or invalid for other reasons."}),
    )
}

/// What `{subdomain}.zendesk.com` shows when no account has that subdomain.
fn no_such_account() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<!DOCTYPE html>\n<html><head><title>Help Center Closed | Zendesk</title></head>\n\
         <body><h1>Oops, this help center no longer exists</h1></body></html>\n",
    )
        .into_response()
}

fn too_many_requests(used_up: Allowance) -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Number of allowed API requests per minute exceeded",
    )
        .into_response();
    used_up.stamp(response.headers_mut());
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(used_up.reset));
    response
}

/// Zendesk's answer to a parameter Rails cannot read as its type.
fn invalid_attribute(attribute: &str, detail: &str) -> Response {
    reply(
        StatusCode::BAD_REQUEST,
        json!({"error": {"title": "Invalid attribute", "message": format!("You passed an invalid value for the {attribute} attribute. Invalid parameter: {detail}")}}),
    )
}

/// `page` is not an integer: `controller` is e.g. `search` (Zendesk names
/// its `api/v2/{controller}/index` action in the message).
fn invalid_page(controller: &str) -> Response {
    invalid_attribute(
        "page",
        &format!("page must be an integer from api/v2/{controller}/index"),
    )
}

/// A cursor or page size that cannot be read, in Zendesk's `errors` envelope.
fn invalid_pagination(parameter: &str) -> Response {
    reply(
        StatusCode::BAD_REQUEST,
        json!({"errors": [{"code": "InvalidPaginationParameter", "title": "Invalid Pagination Parameter", "detail": format!("{parameter} is not valid")}]}),
    )
}

/// The fields every user record has, the anonymous one's included.
fn user_fields(id: Value, url: Value, name: &str, email: &str, created: Value) -> Value {
    json!({
        "id": id,
        "url": url,
        "name": name,
        "email": email,
        "created_at": created,
        "updated_at": created,
        "time_zone": "UTC",
        "iana_time_zone": "Etc/UTC",
        "phone": null,
        "shared_phone_number": null,
        "photo": null,
        "locale_id": 1,
        "locale": "en-US",
        "organization_id": null,
    })
}

/// `base` with `more` added: a user record's fields, then its own.
fn with(mut base: Value, more: Value) -> Value {
    if let (Value::Object(base), Value::Object(more)) = (&mut base, more) {
        base.extend(more);
    }
    base
}

fn anonymous_user() -> Value {
    with(
        user_fields(
            Value::Null,
            Value::Null,
            "Anonymous user",
            "invalid@example.com",
            Value::Null,
        ),
        json!({
            "role": "end-user",
            "verified": false,
            "authenticity_token": authenticity_token(),
        }),
    )
}

fn agent_json(origin: &str, agent: &Agent) -> Value {
    let fields = user_fields(
        json!(agent.id),
        json!(format!("https://{origin}/api/v2/users/{}.json", agent.id)),
        &agent.name,
        &agent.email,
        json!(agent.created_at),
    );
    with(
        fields,
        json!({
            "role": "agent",
            "verified": true,
            "external_id": null,
            "tags": [],
            "alias": null,
            "active": true,
            "shared": false,
            "last_login_at": null,
            "signature": null,
            "details": "",
            "notes": "",
            "role_type": null,
            "custom_role_id": null,
            "moderator": false,
            "ticket_restriction": null,
            "suspended": false,
            "default_group_id": null,
            "user_fields": {},
            "authenticity_token": authenticity_token(),
        }),
    )
}

/// The CSRF token `users/me` hands out, fresh each time.
fn authenticity_token() -> String {
    let mut bytes = [0u8; 32];
    let _ = getrandom::fill(&mut bytes);
    STANDARD.encode(bytes)
}

fn ticket_json(origin: &str, brand_id: u64, ticket: &Ticket) -> Value {
    json!({
        "url": format!("https://{origin}/api/v2/tickets/{}.json", ticket.id),
        "id": ticket.id,
        "external_id": null,
        "via": {"channel": "web", "source": {"from": {}, "to": {}, "rel": null}},
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "type": null,
        "subject": ticket.subject,
        "raw_subject": ticket.subject,
        "description": ticket.description,
        "priority": ticket.priority,
        "status": ticket.status,
        "recipient": null,
        "requester_id": ticket.requester_id,
        "submitter_id": ticket.requester_id,
        "assignee_id": ticket.assignee_id,
        "organization_id": null,
        "group_id": null,
        "collaborator_ids": [],
        "follower_ids": [],
        "email_cc_ids": [],
        "forum_topic_id": null,
        "problem_id": null,
        "has_incidents": false,
        "is_public": true,
        "due_at": null,
        "tags": ticket.tags,
        "custom_fields": [],
        "satisfaction_rating": null,
        "sharing_agreement_ids": [],
        "fields": [],
        "followup_ids": [],
        "brand_id": brand_id,
        "allow_channelback": false,
        "allow_attachments": true,
        "from_messaging_channel": false,
    })
}

fn show_ticket(origin: &str, tenant: &Tenant, id: &str) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return invalid_attribute("id", "id must be an integer");
    };
    match tenant.tickets.iter().find(|ticket| ticket.id == id) {
        Some(ticket) => reply(
            StatusCode::OK,
            json!({"ticket": ticket_json(origin, tenant.brand_id, ticket)}),
        ),
        None => reply(
            StatusCode::NOT_FOUND,
            json!({"error": "RecordNotFound", "description": "Not found"}),
        ),
    }
}

/// Cursor pagination when `page[size]` is given, offset pagination (the
/// default) otherwise; by id, oldest first.
fn list_tickets(origin: &str, tenant: &Tenant, query: &[(String, String)]) -> Response {
    if let Some(size) = param(query, "page[size]") {
        return cursor_page(origin, tenant, size, query);
    }
    let Some(offset) = Offset::of(query) else {
        return invalid_page("tickets");
    };
    let tickets: Vec<Value> = tenant
        .tickets
        .iter()
        .skip(offset.skip())
        .take(offset.per_page)
        .map(|ticket| ticket_json(origin, tenant.brand_id, ticket))
        .collect();
    let count = tenant.tickets.len();
    let (next_page, previous_page) =
        offset.links(&format!("https://{origin}/api/v2/tickets.json?"), count);
    reply(
        StatusCode::OK,
        json!({"tickets": tickets, "next_page": next_page, "previous_page": previous_page, "count": count}),
    )
}

fn cursor_page(origin: &str, tenant: &Tenant, size: &str, query: &[(String, String)]) -> Response {
    let Ok(size) = size.parse::<usize>() else {
        return invalid_pagination("page[size]");
    };
    let size = size.clamp(1, MAX_PAGE_SIZE);
    let (page, has_more): (Vec<&Ticket>, bool) =
        match (param(query, "page[after]"), param(query, "page[before]")) {
            (None, Some(before)) => {
                let Some(id) = cursor_id(before) else {
                    return invalid_pagination("page[before]");
                };
                let earlier: Vec<&Ticket> = tenant.tickets.iter().filter(|t| t.id < id).collect();
                let start = earlier.len().saturating_sub(size);
                (earlier[start..].to_vec(), start > 0)
            }
            (after, _) => {
                let id = match after.map(cursor_id) {
                    None => 0,
                    Some(Some(id)) => id,
                    Some(None) => return invalid_pagination("page[after]"),
                };
                let later: Vec<&Ticket> = tenant.tickets.iter().filter(|t| t.id > id).collect();
                let more = later.len() > size;
                (later.into_iter().take(size).collect(), more)
            }
        };
    let after_cursor = page.last().map(|ticket| cursor(ticket.id));
    let before_cursor = page.first().map(|ticket| cursor(ticket.id));
    let link = |direction: &str, cursor: &Option<String>| {
        cursor.as_ref().map(|cursor| {
            format!(
                "https://{origin}/api/v2/tickets.json?page[size]={size}&page[{direction}]={cursor}"
            )
        })
    };
    let tickets: Vec<Value> = page
        .iter()
        .map(|ticket| ticket_json(origin, tenant.brand_id, ticket))
        .collect();
    reply(
        StatusCode::OK,
        json!({
            "tickets": tickets,
            "meta": {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": before_cursor},
            "links": {"next": link("after", &after_cursor), "prev": link("before", &before_cursor)},
        }),
    )
}

/// An opaque cursor, URL-safe as Zendesk's are.
fn cursor(id: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("ticket:{id}"))
}

fn cursor_id(cursor: &str) -> Option<u64> {
    let decoded = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    std::str::from_utf8(&decoded)
        .ok()?
        .strip_prefix("ticket:")?
        .parse()
        .ok()
}

/// Offset pagination: `page` counts from 1, `per_page` is at most 100, the
/// default.
struct Offset {
    page: usize,
    per_page: usize,
}

impl Offset {
    /// `None` when `page` is not an integer; Rails reads `page[size]` and
    /// the like as a hash, which Zendesk refuses the same way.
    fn of(query: &[(String, String)]) -> Option<Self> {
        if query.iter().any(|(name, _)| name.starts_with("page[")) {
            return None;
        }
        let page = match param(query, "page") {
            Some(page) => page.parse::<usize>().ok()?.max(1),
            None => 1,
        };
        let per_page = param(query, "per_page")
            .and_then(|n| n.parse::<usize>().ok())
            .map_or(MAX_PAGE_SIZE, |n| n.clamp(1, MAX_PAGE_SIZE));
        Some(Offset { page, per_page })
    }

    fn skip(&self) -> usize {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// `next_page` and `previous_page`; `base` ends in `?` or `&`.
    fn links(&self, base: &str, count: usize) -> (Option<String>, Option<String>) {
        let url = |page: usize| format!("{base}page={page}&per_page={}", self.per_page);
        let next = (self.page.saturating_mul(self.per_page) < count).then(|| url(self.page + 1));
        let previous = (self.page > 1).then(|| url(self.page - 1));
        (next, previous)
    }
}

/// `GET /api/v2/search`: tickets matching every term of `query`.
fn search(origin: &str, tenant: &Tenant, query: &[(String, String)]) -> Response {
    let Some(offset) = Offset::of(query) else {
        return invalid_page("search");
    };
    if offset.page.saturating_mul(offset.per_page) > SEARCH_LIMIT {
        return reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"error": "invalid", "description": "Invalid search: Requested response size was greater than Search Response Limits"}),
        );
    }
    let text = param(query, "query").unwrap_or_default();
    let terms = terms(text);
    let found: Vec<&Ticket> = tenant
        .tickets
        .iter()
        .rev()
        .filter(|ticket| {
            terms
                .iter()
                .all(|term| matches_term(ticket, term, &tenant.agents))
        })
        .collect();
    let results: Vec<Value> = found
        .iter()
        .skip(offset.skip())
        .take(offset.per_page)
        .map(|ticket| {
            let mut result = ticket_json(origin, tenant.brand_id, ticket);
            result["result_type"] = json!("ticket");
            result
        })
        .collect();
    // `count` is every match, and `next_page` leads past the 1,000th.
    let (next_page, previous_page) = offset.links(
        &format!(
            "https://{origin}/api/v2/search.json?query={}&",
            encode(text)
        ),
        found.len(),
    );
    reply(
        StatusCode::OK,
        json!({"results": results, "facets": null, "next_page": next_page, "previous_page": previous_page, "count": found.len()}),
    )
}

/// The terms of a query: split on spaces, except inside double quotes.
fn terms(query: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut term = String::new();
    let mut quoted = false;
    for c in query.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !term.is_empty() {
                    terms.push(std::mem::take(&mut term));
                }
            }
            c => term.push(c),
        }
    }
    if !term.is_empty() {
        terms.push(term);
    }
    terms
}

/// One term: `type:`, `status` and `priority` (with `:`, `<`, `<=`, `>`,
/// `>=`), `tags:`, `subject:`, `description:`, `assignee:` (id, email or
/// `none`), or words to find in the subject, description or tags.
fn matches_term(ticket: &Ticket, term: &str, agents: &[Agent]) -> bool {
    let Some((field, operator, value)) = property(term) else {
        return mentions(ticket, term);
    };
    let value = value.to_lowercase();
    match field.as_str() {
        "type" => value == "ticket",
        "status" => ranked(STATUSES, &ticket.status, operator, &value),
        "priority" => match &ticket.priority {
            Some(priority) => ranked(PRIORITIES, priority, operator, &value),
            None => value == "none",
        },
        "tags" | "tag" => ticket
            .tags
            .iter()
            .any(|tag| tag.eq_ignore_ascii_case(&value)),
        "subject" => ticket.subject.to_lowercase().contains(&value),
        "description" => ticket.description.to_lowercase().contains(&value),
        "assignee" => match ticket.assignee_id {
            None => value == "none",
            Some(id) => {
                value == id.to_string()
                    || agents
                        .iter()
                        .any(|agent| agent.id == id && agent.email.eq_ignore_ascii_case(&value))
            }
        },
        _ => mentions(ticket, term),
    }
}

/// `field:value`, `field<value`, `field>=value`...: the field (in lower
/// case), the operator and the value.
fn property(term: &str) -> Option<(String, &str, &str)> {
    let at = term.find([':', '<', '>'])?;
    let (field, rest) = term.split_at(at);
    let operator_len = if !rest.starts_with(':') && rest[1..].starts_with('=') {
        2
    } else {
        1
    };
    let (operator, value) = rest.split_at(operator_len);
    (!field.is_empty() && !value.is_empty()).then(|| (field.to_lowercase(), operator, value))
}

/// Compares on Zendesk's order of statuses or priorities.
fn ranked(order: &[&str], actual: &str, operator: &str, wanted: &str) -> bool {
    let rank = |value: &str| order.iter().position(|known| *known == value);
    let (Some(actual), Some(wanted)) = (rank(actual), rank(wanted)) else {
        return false;
    };
    match operator {
        "<" => actual < wanted,
        "<=" => actual <= wanted,
        ">" => actual > wanted,
        ">=" => actual >= wanted,
        _ => actual == wanted,
    }
}

fn mentions(ticket: &Ticket, text: &str) -> bool {
    let text = text.to_lowercase();
    ticket.subject.to_lowercase().contains(&text)
        || ticket.description.to_lowercase().contains(&text)
        || ticket
            .tags
            .iter()
            .any(|tag| tag.eq_ignore_ascii_case(&text))
}

/// Percent-encodes a query value: all but RFC 3986's unreserved characters.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Seconds since the Unix epoch as Zendesk writes times: ISO 8601, UTC.
fn iso8601(secs: u64) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Statuses the demo's tickets take in turn.
const DEMO_STATUSES: &[&str] = &["open", "pending", "solved", "new", "open", "hold", "closed"];

/// The demo's tickets: subject and tag.
const DEMO_TICKETS: &[(&str, &str)] = &[
    ("Cannot log in after password reset", "login"),
    ("Invoice shows the wrong VAT number", "billing"),
    ("Export to CSV times out", "export"),
    ("Two-factor code never arrives", "login"),
    ("Please cancel my subscription", "billing"),
    ("Dashboard charts are blank in Safari", "bug"),
    ("How do I add a teammate?", "how-to"),
    ("Webhook deliveries failing with 502", "integrations"),
    ("Refund for a duplicate charge", "billing"),
    ("Mobile app crashes on launch", "bug"),
    ("Change the account owner", "account"),
    ("API returns 429 during the nightly sync", "integrations"),
    ("Typo in the welcome email", "content"),
    ("SSO with Okta stopped working", "login"),
    ("Need a copy of our DPA", "legal"),
    ("Search ignores accented characters", "bug"),
    ("Upgrade to the annual plan", "billing"),
    ("Calendar sync duplicates events", "integrations"),
    ("Delete my personal data", "privacy"),
    ("Slow page loads from Australia", "performance"),
    ("Where is the audit log?", "how-to"),
    ("Card declined although funds are available", "billing"),
    ("Attachments over 10 MB fail to upload", "bug"),
    ("Slack notifications arrive twice", "integrations"),
    ("Request for a sandbox account", "account"),
    ("Dark mode makes tables unreadable", "bug"),
    ("Bulk import skips the last row", "import"),
    ("Password rules too strict for our policy", "login"),
    ("Time zone wrong on scheduled reports", "bug"),
    ("Thank you for the quick fix!", "feedback"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};

    /// What a client read back; header names in lower case.
    struct Answer {
        status: u16,
        headers: HashMap<String, String>,
        body: String,
    }

    impl Answer {
        fn json(&self) -> Value {
            serde_json::from_str(&self.body).unwrap_or(Value::Null)
        }
    }

    fn basic(email: &str, token: &str) -> Option<String> {
        Some(format!(
            "Basic {}",
            STANDARD.encode(format!("{email}/token:{token}"))
        ))
    }

    /// One HTTPS GET for `host` (SNI and `Host`) from a client trusting only
    /// the test CA, on a blocking thread so that the mock keeps serving.
    async fn get(
        running: &crate::Running,
        host: &str,
        path: &str,
        authorization: Option<String>,
    ) -> Answer {
        let (addr, host, path) = (running.addr, host.to_owned(), path.to_owned());
        tokio::task::spawn_blocking(move || fetch(addr, &host, &path, authorization.as_deref()))
            .await
            .expect("the client thread finishes")
    }

    fn fetch(addr: SocketAddr, host: &str, path: &str, authorization: Option<&str>) -> Answer {
        let mut roots = RootCertStore::empty();
        let ca = CertificateDer::from_pem_slice(crate::tls::ca().pem().as_bytes())
            .expect("the test CA in PEM");
        roots.add(ca).expect("the test CA as a root");
        let config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("TLS versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
        let name = ServerName::try_from(host.to_owned()).expect("a DNS name");
        let tls = ClientConnection::new(Arc::new(config), name).expect("a TLS client");
        let tcp = TcpStream::connect(addr).expect("the mock listens");
        let mut stream = StreamOwned::new(tls, tcp);
        let credential = authorization
            .map(|value| format!("Authorization: {value}\r\n"))
            .unwrap_or_default();
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{credential}Connection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .and_then(|()| stream.flush())
            .expect("the request goes out");
        let mut raw = Vec::new();
        // The mock closes after answering: what came before the close counts.
        let _ = stream.read_to_end(&mut raw);
        let raw = String::from_utf8(raw).expect("a UTF-8 answer");
        let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .expect("a status line");
        let headers = lines
            .filter_map(|line| line.split_once(": "))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
            .collect();
        Answer {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    #[tokio::test]
    async fn the_credential_check_sees_through_anonymous_answers() {
        let mock = Zendesk::demo();
        // Ada works for another account too, which has its own token.
        mock.add_tenant("globex")
            .add_api_token("globex", "globex-token");
        mock.add_agent("globex", DEMO_EMAIL, "Ada Lovelace");
        let running = mock.start().await.expect("the mock starts");
        let acme = host(DEMO_SUBDOMAIN);

        let me = get(
            &running,
            &acme,
            "/api/v2/users/me.json",
            basic(DEMO_EMAIL, DEMO_TOKEN),
        )
        .await;
        assert_eq!(me.status, 200);
        assert_eq!(me.json()["user"]["email"], DEMO_EMAIL);
        assert_eq!(me.headers["x-rate-limit"], "200");
        assert_eq!(me.headers["x-rate-limit-remaining"], "199");

        let anonymous = get(&running, &acme, "/api/v2/users/me", None).await;
        assert_eq!(anonymous.status, 200);
        assert_eq!(anonymous.json()["user"]["id"], Value::Null);

        let wrong = get(
            &running,
            &acme,
            "/api/v2/users/me",
            basic(DEMO_EMAIL, "guess"),
        )
        .await;
        assert_eq!(wrong.status, 401);
        assert_eq!(wrong.json(), json!({"error": "Couldn't authenticate you"}));
        assert_eq!(
            get(&running, &acme, "/api/v2/tickets", None).await.status,
            401
        );
        let elsewhere = basic(DEMO_EMAIL, DEMO_TOKEN);
        assert_eq!(
            get(&running, &host("globex"), "/api/v2/users/me", elsewhere)
                .await
                .status,
            401
        );

        // The wildcard certificate verifies for any subdomain; no account there.
        let nobody = get(&running, &host("nosuch"), "/api/v2/users/me", None).await;
        assert_eq!(nobody.status, 404);
        assert!(nobody.body.contains("Help Center Closed"));

        let seen = mock.requests();
        assert_eq!(seen.len(), 6);
        assert_eq!(seen[0].host, acme);
        assert_eq!(
            seen[0].basic(),
            Some((format!("{DEMO_EMAIL}/token"), DEMO_TOKEN.to_owned()))
        );
    }

    #[tokio::test]
    async fn tickets_page_by_cursor_and_search_stops_at_a_thousand() {
        let mock = Zendesk::demo();
        let running = mock.start().await.expect("the mock starts");
        let acme = host(DEMO_SUBDOMAIN);
        let origin = format!("https://{acme}");
        let ada = || basic(DEMO_EMAIL, DEMO_TOKEN);

        let mut path = "/api/v2/tickets.json?page[size]=10".to_owned();
        let mut ids = Vec::new();
        loop {
            let page = get(&running, &acme, &path, ada()).await.json();
            ids.extend(
                page["tickets"]
                    .as_array()
                    .expect("tickets")
                    .iter()
                    .map(|t| t["id"].clone()),
            );
            if !page["meta"]["has_more"].as_bool().unwrap_or(false) {
                break;
            }
            path = page["links"]["next"]
                .as_str()
                .and_then(|next| next.strip_prefix(&origin))
                .expect("a next link on the tenant's host")
                .to_owned();
        }
        assert_eq!(ids, (1..=30).map(|id| json!(id)).collect::<Vec<_>>());

        let offset = get(&running, &acme, "/api/v2/tickets", ada()).await.json();
        assert_eq!(
            (offset["count"].clone(), offset["next_page"].clone()),
            (json!(30), Value::Null)
        );

        let open = get(
            &running,
            &acme,
            "/api/v2/search.json?query=type:ticket%20status:open&per_page=5",
            ada(),
        )
        .await
        .json();
        let results = open["results"].as_array().expect("results");
        assert_eq!(results.len(), 5);
        assert!(
            results
                .iter()
                .all(|r| r["status"] == "open" && r["result_type"] == "ticket")
        );
        assert!(
            open["next_page"]
                .as_str()
                .is_some_and(|next| next.starts_with(&origin))
        );

        let past = get(
            &running,
            &acme,
            "/api/v2/search?query=type:ticket&page=11&per_page=100",
            ada(),
        )
        .await;
        assert_eq!(past.status, 422);
        let cursor = get(
            &running,
            &acme,
            "/api/v2/search?query=login&page[size]=2",
            ada(),
        )
        .await;
        assert_eq!(cursor.status, 400);
        let missing = get(&running, &acme, "/api/v2/tickets/999.json", ada())
            .await
            .json();
        assert_eq!(
            missing,
            json!({"error": "RecordNotFound", "description": "Not found"})
        );
    }

    #[tokio::test]
    async fn an_account_over_its_minute_is_told_when_to_retry() {
        let mock = Zendesk::demo();
        mock.set_rate_limit(DEMO_SUBDOMAIN, 2);
        let running = mock.start().await.expect("the mock starts");
        let acme = host(DEMO_SUBDOMAIN);
        for remaining in ["1", "0"] {
            let ok = get(
                &running,
                &acme,
                "/api/v2/tickets/1",
                basic(DEMO_EMAIL, DEMO_TOKEN),
            )
            .await;
            assert_eq!(
                (ok.status, ok.headers["x-rate-limit-remaining"].as_str()),
                (200, remaining)
            );
        }
        let refused = get(
            &running,
            &acme,
            "/api/v2/tickets/1",
            basic(DEMO_EMAIL, DEMO_TOKEN),
        )
        .await;
        assert_eq!(refused.status, 429);
        let retry_after: u64 = refused.headers["retry-after"].parse().expect("seconds");
        assert!((1..=60).contains(&retry_after), "{retry_after}");

        mock.next_minute();
        let again = get(
            &running,
            &acme,
            "/api/v2/tickets/1",
            basic(DEMO_EMAIL, DEMO_TOKEN),
        )
        .await;
        assert_eq!(again.status, 200);
    }
}
