//! HTTP transport: a plugin's only way out of its sandbox.
//!
//! Every request is checked against the manifest's hosts (https only, the
//! normalised authority, every redirect hop), stripped of headers the host
//! owns, given the call's credential only when it goes to a declared host,
//! and bounded in size and time. The credential is scrubbed from whatever
//! comes back, as usually escaped (see [`crate::redact`]), so a service
//! that echoes it cannot hand it to the plugin: bodies are read whole and
//! decoded, and a redirect's location loses it before the next hop.

use super::bindings::switchboard::connector::http::{self as wit, Method};
use super::credential::{Credential, Rendered};
use super::limits::SandboxLimits;
use super::network::{self, HostPattern};
use crate::net::{self, Routes, SendError};
use crate::redact::redact;
use reqwest::header::{HeaderMap, HeaderValue};
use std::sync::Arc;
use url::Url;

/// What every call shares: the client and the limits.
pub(super) struct HttpGate {
    /// The client every request goes through.
    client: net::Client,
    /// Bounds on each call's requests.
    limits: SandboxLimits,
}

impl HttpGate {
    /// A gate with its own client, timing out requests as `limits` say.
    pub(super) fn new(routes: &Routes, limits: SandboxLimits) -> Result<Self, net::ClientError> {
        let client = net::Client::new(limits.request_timeout, routes)?;
        Ok(HttpGate { client, limits })
    }
}

/// The HTTP state of one call.
pub(super) struct CallHttp {
    /// What every call shares.
    gate: Arc<HttpGate>,
    /// The hosts the plugin's manifest declares.
    allowed: Arc<[HostPattern]>,
    /// What authenticated requests carry, if the call has a credential.
    credential: Option<Credential>,
    /// Requests the call may still make, redirects included.
    requests_left: u32,
}

impl CallHttp {
    /// A call that may reach the `allowed` hosts, with `credential` to add
    /// to its authenticated requests.
    pub(super) fn new(
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

    /// Requests the call may still make: it went down if a request went
    /// out to the network.
    pub(super) fn requests_left(&self) -> u32 {
        self.requests_left
    }

    /// `text` with the call's credential scrubbed out, for whatever leaves
    /// the sandbox (the call's result, its error, its log lines).
    pub(super) fn scrub(&self, text: String) -> String {
        let Some(credential) = &self.credential else {
            return text;
        };
        let scrubbed = redact(text.into_bytes(), &credential.secrets());
        String::from_utf8(scrubbed)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// Sends the plugin's request, following redirects that stay allowed.
    pub(super) async fn send(
        &mut self,
        request: wit::Request,
    ) -> Result<wit::Response, wit::Error> {
        let limits = &self.gate.limits;
        let body = request.body.unwrap_or_default();
        if body.len() > limits.request_body_bytes {
            return Err(wit::Error::TooLarge(format!(
                "request body of {} bytes is over the limit of {} bytes",
                body.len(),
                limits.request_body_bytes
            )));
        }
        let headers = network::guest_headers(&request.headers, self.credential.as_ref())?;
        if request.authenticated && self.credential.is_none() {
            return Err(wit::Error::Denied(
                "this call has no credential to add".into(),
            ));
        }
        let mut url = Url::parse(&request.url)
            .map_err(|e| wit::Error::Denied(format!("invalid URL: {e}")))?;
        let origin = network::destination(&self.allowed, &url)?;
        if let Some(credential) = self.credential.as_ref().filter(|_| request.authenticated) {
            network::receives_credential(credential, &origin)?;
        }
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
            let destination = network::destination(&self.allowed, &url)?;
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
                    network::destination(&self.allowed, &url).map_err(|e| match e {
                        wit::Error::Denied(why) => {
                            wit::Error::Denied(format!("redirect refused: {why}"))
                        }
                        other => other,
                    })?;
                    url = network::without_credential(self.credential.as_ref(), url)?;
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

    /// Makes one request, with the credential if it is to carry one.
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
        let mut builder = self
            .gate
            .client
            .request(reqwest_method(method), url)
            .headers(headers);
        if let Some(body) = body {
            builder = builder.body(body);
        }
        let request = builder
            .build()
            .map_err(|e| wit::Error::Transport(format!("{host}: {}", e.without_url())))?;
        self.gate
            .client
            .execute(request)
            .await
            .map_err(|e| transport_error(host, e))
    }

    /// Reads a response whole, within the size limit, with the credential
    /// scrubbed from its headers and body.
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
            .map_err(|e| transport_error(&host, SendError::of(&host, e)))?
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
            let secrets = credential.secrets();
            let scrub = |text: &str| {
                String::from_utf8_lossy(&redact(text.as_bytes().to_vec(), &secrets)).into_owned()
            };
            for (name, value) in &mut headers {
                *name = scrub(name);
                *value = scrub(value);
            }
            body = redact(body, &secrets);
        }
        // The length of what the plugin gets, not of what was sent: an
        // echo's original length would tell the length of the key.
        for (name, value) in &mut headers {
            if name == "content-length" {
                *value = body.len().to_string();
            }
        }
        Ok(wit::Response {
            status,
            headers,
            body,
        })
    }
}

/// Puts the credential where its placement says, replacing any value the
/// plugin put there.
fn inject(credential: &Credential, url: &mut Url, headers: &mut HeaderMap) {
    match &credential.rendered {
        Rendered::Query(parameter, value) => {
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| k != parameter)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let mut pairs = url.query_pairs_mut();
            pairs
                .clear()
                .extend_pairs(kept)
                .append_pair(parameter, value.expose());
        }
        Rendered::Header(name, value) => {
            if let Ok(mut value) = HeaderValue::from_str(value.expose()) {
                value.set_sensitive(true);
                headers.insert(name.clone(), value);
            }
        }
    }
}

/// The WIT method as reqwest spells it.
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
fn transport_error(host: &str, error: SendError) -> wit::Error {
    match error {
        SendError::Timeout(_) => wit::Error::Timeout(format!("{host} did not answer in time")),
        SendError::Private(_) | SendError::Unresolved(_) => wit::Error::Denied(error.to_string()),
        SendError::Failed(why) => wit::Error::Transport(format!("{host}: {why}")),
    }
}
