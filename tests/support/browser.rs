//! A person's browser, as far as sign-ins need one: it follows nothing by
//! itself (tests take each hop), reaches the routed hosts' mocks by their
//! real names over TLS, and keeps cookies per host and path as a browser
//! does, so a sign-in bound to one browser cannot be finished in another.

use std::sync::Mutex;
use url::Url;

/// One browser: its own cookie jar.
pub struct Browser {
    client: reqwest::Client,
    /// (host, path, name, value), as set.
    jar: Mutex<Vec<(String, String, String, String)>>,
}

impl Browser {
    pub fn new(client: reqwest::Client) -> Self {
        Browser {
            client,
            jar: Mutex::default(),
        }
    }

    /// Visits `url`, sending the cookies set for it and keeping the ones
    /// it sets (a `Max-Age=0` one is forgotten).
    pub async fn get(&self, url: &str) -> reqwest::Response {
        let parsed = Url::parse(url).expect("a URL");
        let host = parsed.host_str().unwrap_or_default().to_owned();
        let cookies: Vec<String> = self
            .jar
            .lock()
            .unwrap()
            .iter()
            .filter(|(h, path, ..)| *h == host && parsed.path().starts_with(path.as_str()))
            .map(|(.., name, value)| format!("{name}={value}"))
            .collect();
        let mut request = self.client.get(url);
        if !cookies.is_empty() {
            request = request.header("cookie", cookies.join("; "));
        }
        let response = request.send().await.expect("the browser's request");
        // With no `Path`, a cookie belongs to the request's directory.
        let directory = match parsed.path().rsplit_once('/') {
            Some(("", _)) | None => "/".to_owned(),
            Some((dir, _)) => dir.to_owned(),
        };
        for set in response.headers().get_all("set-cookie") {
            self.keep(&host, &directory, set.to_str().unwrap_or_default());
        }
        response
    }

    fn keep(&self, host: &str, directory: &str, set_cookie: &str) {
        let mut parts = set_cookie.split(';').map(str::trim);
        let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
            return;
        };
        let mut path = directory.to_owned();
        let mut expired = false;
        for attribute in parts {
            match attribute.split_once('=') {
                Some(("Path", p)) => path = p.to_owned(),
                Some(("Max-Age", "0")) => expired = true,
                _ => {}
            }
        }
        let mut jar = self.jar.lock().unwrap();
        jar.retain(|(h, p, n, _)| !(h == host && *p == path && n == name));
        if !expired {
            jar.push((host.to_owned(), path, name.to_owned(), value.to_owned()));
        }
    }

    /// How many cookies it holds.
    pub fn cookies(&self) -> usize {
        self.jar.lock().unwrap().len()
    }
}
