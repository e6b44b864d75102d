//! The `http` import: a plugin's only way out of its sandbox.
//!
//! Every request is checked against the manifest's hosts (https only, the
//! normalised authority, every redirect hop), stripped of headers the host
//! owns, given the call's credential only when it goes to a declared host,
//! and bounded in size and time. The credential is scrubbed from whatever
//! comes back, as usually escaped (see [`crate::redact`]), so a service
//! that echoes it cannot hand it to the plugin: bodies are read whole and
//! decoded, and a redirect's location loses it before the next hop.

use super::bindings::switchboard::connector::http::{self as wit, Method};
use super::sandbox::{HostState, SandboxLimits};
use crate::net::Routes;
use crate::redact::{self, redact, redact_text};
use crate::vault::Secret;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::sync::Arc;
use url::{Host, Url};

/// A host a manifest declares: exact, or every subdomain of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    host: String,
    subdomains: bool,
    port: u16,
}

impl HostPattern {
    /// Parses `host`, `host:port` or `*.domain`; refuses anything else.
    pub fn parse(entry: &str) -> Result<Self, String> {
        let (name, port) = match entry.rsplit_once(':') {
            Some((name, port)) => (
                name,
                port.parse::<u16>()
                    .map_err(|_| format!("`{entry}` has an invalid port"))?,
            ),
            None => (entry, 443),
        };
        let (subdomains, name) = match name.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, name),
        };
        let labels_ok = !name.is_empty()
            && name.len() <= 253
            && name.split('.').count() >= 2
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            });
        let all_numeric = name
            .split('.')
            .all(|l| l.bytes().all(|b| b.is_ascii_digit()));
        if !labels_ok || all_numeric {
            return Err(format!(
                "`{entry}` is not a lowercase host name (IP addresses, schemes and paths are not allowed)"
            ));
        }
        Ok(HostPattern {
            host: name.to_owned(),
            subdomains,
            port,
        })
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        port == self.port
            && if self.subdomains {
                host.strip_suffix(&self.host)
                    .is_some_and(|prefix| prefix.ends_with('.') && prefix.len() > 1)
            } else {
                host == self.host
            }
    }
}

/// Where the call's credential goes.
#[derive(Debug, Clone)]
pub enum Placement {
    Query(String),
    Header { name: HeaderName, prefix: String },
    Bearer,
}

/// The credential of one call.
#[derive(Debug, Clone)]
pub struct Credential {
    pub secret: Secret,
    pub placement: Placement,
}

/// What every call shares: the client, the routes and the limits.
pub struct HttpGate {
    client: reqwest::Client,
    routes: Routes,
    limits: SandboxLimits,
}

impl HttpGate {
    pub fn new(routes: Routes, limits: SandboxLimits) -> Result<Self, String> {
        let client = crate::net::client(limits.request_timeout).map_err(|e| e.to_string())?;
        Ok(HttpGate {
            client,
            routes,
            limits,
        })
    }
}

/// The HTTP state of one call.
pub struct CallHttp {
    gate: Arc<HttpGate>,
    allowed: Arc<[HostPattern]>,
    credential: Option<Credential>,
    requests_left: u32,
}

impl CallHttp {
    pub fn new(
        gate: Arc<HttpGate>,
        allowed: Arc<[HostPattern]>,
        credential: Option<Credential>,
    ) -> Self {
        let requests_left = gate.limits.requests_per_call;
        CallHttp {
            gate,
            allowed,
            credential,
            requests_left,
        }
    }

    fn check_destination(&self, url: &Url) -> Result<(String, u16), wit::Error> {
        if url.scheme() != "https" {
            return Err(wit::Error::Denied(format!(
                "only https is allowed, not `{}`",
                url.scheme()
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(wit::Error::Denied(
                "URLs may not carry user names or passwords".into(),
            ));
        }
        let host = match url.host() {
            Some(Host::Domain(domain)) => domain.to_owned(),
            Some(_) => {
                return Err(wit::Error::Denied(
                    "IP addresses are not allowed; use a declared host name".into(),
                ));
            }
            None => return Err(wit::Error::Denied("the URL has no host".into())),
        };
        let port = url.port_or_known_default().unwrap_or(443);
        if !self.allowed.iter().any(|p| p.matches(&host, port)) {
            let authority = if port == 443 {
                host
            } else {
                format!("{host}:{port}")
            };
            return Err(wit::Error::Denied(format!(
                "`{authority}` is not a host this plugin declared"
            )));
        }
        Ok((host, port))
    }

    async fn send(&mut self, request: wit::Request) -> Result<wit::Response, wit::Error> {
        let limits = &self.gate.limits;
        let body = request.body.unwrap_or_default();
        if body.len() > limits.request_body_bytes {
            return Err(wit::Error::TooLarge(format!(
                "request body of {} bytes is over the limit of {} bytes",
                body.len(),
                limits.request_body_bytes
            )));
        }
        let headers = guest_headers(&request.headers, self.credential.as_ref())?;
        if request.authenticated && self.credential.is_none() {
            return Err(wit::Error::Denied(
                "this call has no credential to add".into(),
            ));
        }
        let mut url = Url::parse(&request.url)
            .map_err(|e| wit::Error::Denied(format!("invalid URL: {e}")))?;
        let origin = self.check_destination(&url)?;
        let mut method = request.method;
        let mut body = Some(body).filter(|b| !b.is_empty());

        for hop in 0..=limits.redirects {
            if self.requests_left == 0 {
                return Err(wit::Error::Denied(format!(
                    "more than {} requests in one call",
                    limits.requests_per_call
                )));
            }
            self.requests_left -= 1;
            let destination = self.check_destination(&url)?;
            // The credential goes only to the host the plugin asked for,
            // never to wherever that host redirects.
            let credential = self
                .credential
                .as_ref()
                .filter(|_| request.authenticated && destination == origin);
            let response = self
                .exchange(
                    method,
                    &url,
                    &destination.0,
                    headers.clone(),
                    body.clone(),
                    credential,
                )
                .await?;
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok());
            let redirect = matches!(response.status().as_u16(), 301 | 302 | 303 | 307 | 308);
            match location {
                Some(location) if redirect => {
                    if hop == limits.redirects {
                        return Err(wit::Error::Denied(format!(
                            "more than {} redirects",
                            limits.redirects
                        )));
                    }
                    url = url.join(location).map_err(|e| {
                        wit::Error::Transport(format!("invalid redirect location: {e}"))
                    })?;
                    self.check_destination(&url).map_err(|e| match e {
                        wit::Error::Denied(why) => {
                            wit::Error::Denied(format!("redirect refused: {why}"))
                        }
                        other => other,
                    })?;
                    url = self.without_credential(url)?;
                    if response.status().as_u16() == 303
                        || !matches!(response.status().as_u16(), 307 | 308)
                            && method == Method::Post
                    {
                        method = Method::Get;
                        body = None;
                    }
                }
                _ => return self.read(response).await,
            }
        }
        Err(wit::Error::Denied(format!(
            "more than {} redirects",
            limits.redirects
        )))
    }

    /// A redirect's location may echo the credential the host added to the
    /// request (`?key=…`). Query parameters that are the credential are
    /// dropped (the origin gets it injected afresh; no other host may get
    /// it), the rest kept byte for byte; anywhere else, the redirect is
    /// refused.
    fn without_credential(&self, mut url: Url) -> Result<Url, wit::Error> {
        let Some(credential) = &self.credential else {
            return Ok(url);
        };
        let secret = credential.secret.expose().as_bytes();
        // Never sent, and no place for a credential.
        url.set_fragment(None);
        if let Some(query) = url.query() {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|part| {
                    let value = part.split_once('=').map_or("", |(_, value)| value);
                    !redact::is_spelling(value.as_bytes(), secret)
                })
                .collect();
            let kept = kept.join("&");
            url.set_query(Some(kept.as_str()).filter(|q| !q.is_empty()));
        }
        if redact::contains(url.as_str().as_bytes(), secret) {
            return Err(wit::Error::Denied(
                "redirect refused: its location carries the call's credential".into(),
            ));
        }
        Ok(url)
    }

    async fn exchange(
        &self,
        method: Method,
        url: &Url,
        host: &str,
        mut headers: HeaderMap,
        body: Option<Vec<u8>>,
        credential: Option<&Credential>,
    ) -> Result<reqwest::Response, wit::Error> {
        let mut url = url.clone();
        if let Some(credential) = credential {
            inject(credential, &mut url, &mut headers);
        }
        self.gate.routes.apply(&mut url, &mut headers);
        let mut builder = self
            .gate
            .client
            .request(reqwest_method(method), url)
            .headers(headers);
        if let Some(body) = body {
            builder = builder.body(body);
        }
        builder.send().await.map_err(|e| transport_error(host, e))
    }

    async fn read(&self, mut response: reqwest::Response) -> Result<wit::Response, wit::Error> {
        let cap = self.gate.limits.response_body_bytes;
        let too_large = || {
            wit::Error::TooLarge(format!(
                "the response body is over the limit of {cap} bytes"
            ))
        };
        if response
            .content_length()
            .is_some_and(|len| len > cap as u64)
        {
            return Err(too_large());
        }
        // The client decodes gzip and deflate; a body still encoded would
        // hide an echoed credential from the scrub.
        let encoded = response
            .headers()
            .get_all(reqwest::header::CONTENT_ENCODING)
            .iter()
            .flat_map(|value| value.as_bytes().split(|&b| b == b','))
            .any(|coding| {
                let coding = coding.trim_ascii();
                !coding.is_empty() && !coding.eq_ignore_ascii_case(b"identity")
            });
        let host = response.url().host_str().unwrap_or_default().to_owned();
        let status = response.status().as_u16();
        let mut headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transport_error(&host, e))?
        {
            if body.len() + chunk.len() > cap {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        if encoded && !body.is_empty() {
            return Err(wit::Error::Denied(
                "the response is encoded in a way the host does not decode (it decodes gzip and deflate)".into(),
            ));
        }
        if let Some(credential) = &self.credential {
            let secret = credential.secret.expose();
            for (_, value) in &mut headers {
                *value = redact_text(value, &[secret]);
            }
            body = redact(body, &[secret.as_bytes()]);
        }
        Ok(wit::Response {
            status,
            headers,
            body,
        })
    }
}

impl wit::Host for HostState {
    async fn send(
        &mut self,
        request: wit::Request,
    ) -> wasmtime::Result<Result<wit::Response, wit::Error>> {
        Ok(self.http.send(request).await)
    }
}

/// Headers the host owns, or that only make sense per connection.
fn host_owned(name: &str) -> bool {
    matches!(
        name,
        "authorization"
            | "cookie"
            | "host"
            | "connection"
            | "content-length"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "keep-alive"
            // The host reads bodies whole and decoded, to scrub them.
            | "accept-encoding"
            | "range"
            | "if-range"
    ) || name.starts_with("proxy-")
}

fn guest_headers(
    pairs: &[(String, String)],
    credential: Option<&Credential>,
) -> Result<HeaderMap, wit::Error> {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| wit::Error::Denied(format!("invalid header name `{name}`")))?;
        let credential_header = matches!(credential.map(|c| &c.placement), Some(Placement::Header { name: n, .. }) if *n == name);
        if host_owned(name.as_str()) || credential_header {
            continue;
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| wit::Error::Denied(format!("invalid value for header `{name}`")))?;
        headers.append(name, value);
    }
    Ok(headers)
}

fn inject(credential: &Credential, url: &mut Url, headers: &mut HeaderMap) {
    let secret = credential.secret.expose();
    match &credential.placement {
        Placement::Query(parameter) => {
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| k != parameter)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let mut pairs = url.query_pairs_mut();
            pairs
                .clear()
                .extend_pairs(kept)
                .append_pair(parameter, secret);
        }
        Placement::Header { name, prefix } => {
            if let Ok(mut value) = HeaderValue::from_str(&format!("{prefix}{secret}")) {
                value.set_sensitive(true);
                headers.insert(name.clone(), value);
            }
        }
        Placement::Bearer => {
            if let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {secret}")) {
                value.set_sensitive(true);
                headers.insert(reqwest::header::AUTHORIZATION, value);
            }
        }
    }
}

fn reqwest_method(method: Method) -> reqwest::Method {
    match method {
        Method::Get => reqwest::Method::GET,
        Method::Head => reqwest::Method::HEAD,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    }
}

/// A transport failure, described without its URL (which may carry the key).
fn transport_error(host: &str, error: reqwest::Error) -> wit::Error {
    if error.is_timeout() {
        return wit::Error::Timeout(format!("{host} did not answer in time"));
    }
    let error = error.without_url();
    let mut message = format!("{host}: {error}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    wit::Error::Transport(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn host_patterns_accept_names_and_refuse_the_rest() -> TestResult {
        assert!(HostPattern::parse("api.semrush.com").is_ok());
        assert!(HostPattern::parse("*.sharepoint.com").is_ok());
        assert!(HostPattern::parse("graph.microsoft.com:8443").is_ok());
        for bad in [
            "https://api.semrush.com",
            "api.semrush.com/x",
            "127.0.0.1",
            "localhost",
            "API.semrush.com",
            "*",
            "*.com:99999",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad} was accepted");
        }
        Ok(())
    }

    #[test]
    fn subdomain_patterns_do_not_match_lookalikes() -> TestResult {
        let p = HostPattern::parse("*.sharepoint.com")?;
        assert!(p.matches("contoso.sharepoint.com", 443));
        assert!(!p.matches("sharepoint.com", 443));
        assert!(!p.matches("evilsharepoint.com", 443));
        assert!(!p.matches("contoso.sharepoint.com", 80));
        Ok(())
    }
}
