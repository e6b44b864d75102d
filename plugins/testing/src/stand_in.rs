//! What stands in for a connector's services on loopback: it ends the
//! component's TLS for the routed hosts with a throwaway authority, then
//! answers from a cassette, or sends each request on (to a local mock
//! speaking plain HTTP, or to the real service) and writes the exchange
//! down with the credential redacted. Offline, any other host is refused.

use crate::cassette::Exchange;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use switchboard::model::Settings;
use switchboard::net::Routes;
use switchboard::vault::Secret;

/// The longest body read from a component or a service.
const BODY_LIMIT: usize = 16 << 20;

/// How the stand-in answers.
pub struct Setup {
    /// Hosts sent on to a local plain-HTTP mock; others go to the real
    /// service, unless a cassette answers.
    pub mocks: BTreeMap<String, SocketAddr>,
    /// Answers from these exchanges, each used once, instead of any network.
    pub cassette: Option<Vec<Exchange>>,
    /// The texts to redact from what is written down: the credential's.
    pub secrets: Vec<Secret>,
    /// Whether a host that is not stood in for is refused rather than
    /// reached (an offline run).
    pub offline: bool,
}

/// The stand-in, serving until dropped.
pub struct StandIn {
    shared: Arc<Shared>,
    /// The routes that send the hosts here, trusting the authority.
    pub routes: Routes,
    _serving: switchboard_mocks::Running,
}

struct Shared {
    mocks: BTreeMap<String, SocketAddr>,
    /// The answers left, when answering from a cassette.
    cassette: Option<Mutex<Vec<Exchange>>>,
    /// Every exchange, as written down.
    seen: Mutex<Vec<Exchange>>,
    secrets: Vec<Secret>,
    http: reqwest::Client,
}

impl StandIn {
    /// Serves `hosts` on a loopback port, as `setup` says.
    pub async fn start(hosts: &[String], setup: Setup) -> Result<Self, String> {
        switchboard::net::install_crypto();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        let offline = setup.offline;
        let shared = Arc::new(Shared {
            mocks: setup.mocks,
            cassette: setup.cassette.map(Mutex::new),
            seen: Mutex::default(),
            secrets: setup.secrets,
            http,
        });
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(shared.clone());
        let names: Vec<&str> = hosts.iter().map(String::as_str).collect();
        let serving = switchboard_mocks::serve(app, &names)
            .await
            .map_err(|e| format!("cannot start the stand-in for the services: {e}"))?;
        let mut routes = Routes::default().trust(switchboard_mocks::tls::ca().pem());
        if offline {
            routes = routes.only_routed();
        }
        for host in hosts {
            routes = routes.route(host, serving.addr);
        }
        Ok(StandIn {
            shared,
            routes,
            _serving: serving,
        })
    }

    /// Every exchange so far, in order, the credential redacted.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Answers one request the component sent to a routed host.
async fn answer(State(shared): State<Arc<Shared>>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let host = parts
        .headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .split(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let Ok(body) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "body over the stand-in's limit",
        )
            .into_response();
    };
    // What the sandbox made of the credential (a Basic header's base64
    // spells none of its fields) is redacted from this exchange too.
    let sent: Vec<Secret> = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let bare = v.split_once(' ').map_or(v, |(_, rest)| rest);
            vec![Secret::new(v), Secret::new(bare)]
        })
        .unwrap_or_default();
    let redact = |text: &str| shared.redact(text, &sent);
    let path = redact(&path);
    let (status, headers, body) = match &shared.cassette {
        Some(left) => match replayed(left, &parts.method, &host, &path) {
            Some(exchange) => (
                exchange.status,
                exchange.headers,
                Bytes::from(exchange.body),
            ),
            None => {
                let why = format!(
                    "the cassette has no (further) answer to {} https://{host}{path}",
                    parts.method
                );
                // The component sees only the status; its author, this line.
                tracing::warn!("{why}");
                return (StatusCode::NOT_IMPLEMENTED, why).into_response();
            }
        },
        None => {
            let upstream = match shared.mocks.get(&host) {
                Some(addr) => format!("http://{addr}{}", original_path(&parts)),
                None => format!("https://{host}{}", original_path(&parts)),
            };
            let sent = shared
                .http
                .request(parts.method.clone(), &upstream)
                .headers(forwarded(&parts.headers))
                .body(body)
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(e) => {
                    let why = redact(&switchboard::net::cause_chain(&e));
                    return (StatusCode::BAD_GATEWAY, why).into_response();
                }
            };
            let status = response.status().as_u16();
            let headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .filter(|(name, _)| !is_hop_by_hop(name.as_str()))
                .map(|(n, v)| {
                    let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                    (n.to_string(), value)
                })
                .collect();
            (status, headers, response.bytes().await.unwrap_or_default())
        }
    };
    shared
        .seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Exchange {
            method: parts.method.to_string(),
            host,
            path,
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.clone(), redact(v)))
                .collect(),
            body: redact(&String::from_utf8_lossy(&body)),
        });
    respond(status, &headers, body)
}

fn original_path(parts: &axum::http::request::Parts) -> &str {
    parts.uri.path_and_query().map_or("/", |p| p.as_str())
}

/// The next answer to this request (its path redacted as the cassette's
/// are), taken off the cassette.
fn replayed(
    left: &Mutex<Vec<Exchange>>,
    method: &Method,
    host: &str,
    path: &str,
) -> Option<Exchange> {
    let mut left = left.lock().unwrap_or_else(|e| e.into_inner());
    let at = left
        .iter()
        .position(|e| e.method == method.as_str() && e.host == host && e.path == path)?;
    Some(left.remove(at))
}

fn respond(status: u16, headers: &[(String, String)], body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    for (name, value) in headers {
        if name == "content-length" || name == "content-encoding" {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            axum::http::HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// The component's request headers as sent on: the credential among them
/// (the mock or the service checks it), not the connection's own.
fn forwarded(headers: &HeaderMap) -> HeaderMap {
    headers
        .iter()
        .filter(|(name, _)| !is_hop_by_hop(name.as_str()) && name.as_str() != "host")
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect()
}

fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection" | "keep-alive" | "transfer-encoding" | "content-length" | "upgrade"
    )
}

impl Shared {
    /// `text` with every spelling of the credential, and of `also`,
    /// redacted.
    fn redact(&self, text: &str, also: &[Secret]) -> String {
        let secrets: Vec<&[u8]> = self
            .secrets
            .iter()
            .chain(also)
            .map(|s| s.expose().as_bytes())
            .collect();
        let redacted = switchboard::redact::redact(text.as_bytes().to_vec(), &secrets);
        String::from_utf8_lossy(&redacted).into_owned()
    }
}

/// The hosts a manifest declares that name one host each in a workspace
/// with `settings` (a wildcard names none to stand in for), lowercase.
pub fn declared_hosts(allowed: &[String], settings: &Settings) -> Vec<String> {
    let mut hosts: Vec<String> = allowed
        .iter()
        .filter(|h| !h.starts_with("*."))
        .map(|h| {
            let host = h.split(':').next().unwrap_or(h);
            settings
                .iter()
                .fold(host.to_owned(), |host, (name, value)| {
                    host.replace(&format!("{{{name}}}"), value.trim())
                })
        })
        .filter(|h| !h.contains('{'))
        .map(|h| h.to_ascii_lowercase())
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}
