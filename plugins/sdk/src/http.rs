//! Outgoing HTTP through the host. Only hosts the manifest declares are
//! reachable, only over https; the credential is added by the host when a
//! request is [`RequestBuilder::authenticated`].

use crate::bindings::switchboard::connector::http as wit;
use crate::{Error, Result};
use serde::{Serialize, de::DeserializeOwned};

pub use wit::Method;

/// A request being built. Start with [`get`], [`post`] or [`request`].
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    method: Method,
    url: String,
    has_query: bool,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    authenticated: bool,
}

pub fn request(method: Method, url: &str) -> RequestBuilder {
    RequestBuilder {
        method,
        url: url.to_owned(),
        has_query: url.contains('?'),
        headers: Vec::new(),
        body: None,
        authenticated: false,
    }
}

pub fn get(url: &str) -> RequestBuilder {
    request(Method::Get, url)
}

pub fn post(url: &str) -> RequestBuilder {
    request(Method::Post, url)
}

pub fn put(url: &str) -> RequestBuilder {
    request(Method::Put, url)
}

impl RequestBuilder {
    /// Append a query parameter, percent-encoded.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.url.push(if self.has_query { '&' } else { '?' });
        self.has_query = true;
        self.url
            .extend(form_urlencoded::byte_serialize(name.as_bytes()));
        self.url.push('=');
        self.url
            .extend(form_urlencoded::byte_serialize(value.as_bytes()));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A JSON body, with its content type.
    pub fn json<T: Serialize>(self, body: &T) -> Result<Self> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(self.header("content-type", "application/json").body(bytes))
    }

    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    /// Have the host add the call's credential.
    pub fn authenticated(mut self) -> Self {
        self.authenticated = true;
        self
    }

    /// Send it, and when the service answers 429, 503 or 504, wait as its
    /// `Retry-After` says (seconds, fractions allowed; doubling from 0.5 s
    /// when absent) and try again, up to `attempts` sends and `max_wait` in
    /// all. The last answer is returned, whatever its status.
    pub fn send_retrying(self, attempts: u32, max_wait: std::time::Duration) -> Result<Response> {
        let mut waited = std::time::Duration::ZERO;
        let mut backoff = std::time::Duration::from_millis(500);
        let mut attempt = 1;
        loop {
            let response = self.clone().send()?;
            if !matches!(response.status, 429 | 503 | 504) || attempt >= attempts {
                return Ok(response);
            }
            let wait = response
                .header("retry-after")
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(std::time::Duration::from_secs_f64)
                .unwrap_or(backoff);
            if waited + wait > max_wait {
                return Ok(response);
            }
            std::thread::sleep(wait);
            waited += wait;
            backoff *= 2;
            attempt += 1;
        }
    }

    /// Send it. A refusal by the sandbox or a transport failure is an
    /// [`Error::Upstream`] (or [`Error::Internal`] for a refusal) carrying
    /// the host's message; any HTTP status is a successful [`Response`].
    pub fn send(self) -> Result<Response> {
        let request = wit::Request {
            method: self.method,
            url: self.url,
            headers: self.headers,
            body: self.body,
            authenticated: self.authenticated,
        };
        wit::send(&request)
            .map(|r| Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            })
            .map_err(Into::into)
    }
}

impl From<wit::Error> for Error {
    fn from(e: wit::Error) -> Self {
        match e {
            wit::Error::Denied(m) => {
                Error::Internal(format!("request refused by the sandbox: {m}"))
            }
            wit::Error::TooLarge(m) => Error::Upstream(m),
            wit::Error::Timeout(m) => Error::Upstream(m),
            wit::Error::Transport(m) => Error::Upstream(m),
        }
    }
}

/// A whole response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Lowercase names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::Upstream(format!("unexpected response (HTTP {}): {e}", self.status))
        })
    }
}
