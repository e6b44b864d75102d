//! A service's answers, written down: recorded once from the real service
//! (`switchboard plugin run --record`), or declared by hand in a test.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// One request and the answer it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    pub method: String,
    pub host: String,
    /// The path and query, any credential in it redacted.
    pub path: String,
    pub status: u16,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body as text, any credential in it redacted.
    #[serde(default)]
    pub body: String,
}

impl Exchange {
    /// A `method` request to `url` (`https://host/path?query`), answered
    /// 200 with an empty body until [`status`](Self::status) and
    /// [`body`](Self::body) say otherwise.
    pub fn new(method: &str, url: &str) -> Self {
        let rest = url.strip_prefix("https://").unwrap_or(url);
        let (host, path) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        Exchange {
            method: method.to_ascii_uppercase(),
            host: host.to_owned(),
            path: path.to_owned(),
            status: 200,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub fn get(url: &str) -> Self {
        Self::new("GET", url)
    }

    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// A JSON body, with its content type.
    pub fn json(self, body: serde_json::Value) -> Self {
        let mut exchange = self.header("content-type", "application/json");
        exchange.body = body.to_string();
        exchange
    }

    pub fn body(mut self, body: &str) -> Self {
        self.body = body.to_owned();
        self
    }
}

/// Exchanges in the order they happened; each answers one request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cassette {
    pub exchanges: Vec<Exchange>,
}

impl Cassette {
    pub fn new() -> Self {
        Self::default()
    }

    /// The cassette with `exchange` added after the others.
    pub fn with(mut self, exchange: Exchange) -> Self {
        self.exchanges.push(exchange);
        self
    }

    pub fn read(file: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read the cassette {}: {e}", file.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a cassette: {e}", file.display()))
    }

    pub fn write(&self, file: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(file, text + "\n")
            .map_err(|e| format!("cannot write the cassette {}: {e}", file.display()))
    }
}
