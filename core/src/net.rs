//! Outbound HTTP shared by the plugin sandbox and the OAuth client: a
//! client that never follows redirects, reaches public addresses only, goes
//! through the operator's proxy where the environment names one, and, for
//! tests and the demo only, routes declared hosts to local mocks with TLS
//! kept.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Sends declared hosts to other addresses, as curl's `--connect-to` does:
/// tests and the demo reach local mocks this way, with the plugin's URLs,
/// allow-list and TLS untouched (the mock presents a certificate for the
/// real host name, issued by a root added with [`Routes::trust`]). Only
/// code can build routes: no configuration file or flag reaches them.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    hosts: HashMap<String, SocketAddr>,
    roots: Vec<String>,
    browsers: HashMap<String, url::Url>,
    /// Refuse every host without a route, rather than look it up.
    only_routed: bool,
}

impl Routes {
    /// Connect to `to` for `https://{host}` (port 443).
    pub fn route(mut self, host: &str, to: SocketAddr) -> Self {
        self.hosts.insert(host.to_ascii_lowercase(), to);
        self
    }

    /// Reach no host but the routed ones: an offline run (an author's test,
    /// a replay) must not send a credential to the real service because a
    /// host was left out.
    pub fn only_routed(mut self) -> Self {
        self.only_routed = true;
        self
    }

    /// Also trust certificates issued by this root (PEM), as the mocks'.
    pub fn trust(mut self, root_pem: &str) -> Self {
        self.roots.push(root_pem.to_owned());
        self
    }

    /// A browser reaches `https://{host}` at `origin` instead (the demo's
    /// mock sign-in page, on a loopback port a browser can open): sign-in
    /// links sent to browsers are rewritten with [`Routes::for_browser`].
    pub fn browse(mut self, host: &str, origin: url::Url) -> Self {
        self.browsers.insert(host.to_ascii_lowercase(), origin);
        self
    }

    /// `url` as a browser reaches it: on the origin [`Routes::browse`] set
    /// for its host, with the same path and query; unchanged otherwise.
    pub fn for_browser(&self, url: url::Url) -> url::Url {
        let Some(origin) = url
            .host_str()
            .and_then(|host| self.browsers.get(&host.to_ascii_lowercase()))
        else {
            return url;
        };
        let mut rewritten = origin.clone();
        rewritten.set_path(url.path());
        rewritten.set_query(url.query());
        rewritten
    }

    /// Every routed host and where it goes.
    pub fn hosts(&self) -> impl Iterator<Item = (&str, SocketAddr)> {
        self.hosts.iter().map(|(host, to)| (host.as_str(), *to))
    }

    /// The roots added with [`Routes::trust`], as PEM.
    pub fn roots(&self) -> impl Iterator<Item = &str> {
        self.roots.iter().map(String::as_str)
    }

    /// Where a routed host goes.
    fn get(&self, host: &str) -> Option<SocketAddr> {
        self.hosts.get(&host.to_ascii_lowercase()).copied()
    }
}

/// Why an outbound client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A root given to [`Routes::trust`] is not a PEM certificate.
    #[error("a trusted root is not a PEM certificate: {0}")]
    InvalidRoot(String),
    /// `HTTPS_PROXY` does not name a proxy.
    #[error("HTTPS_PROXY is not a proxy URL: {0}")]
    InvalidProxy(String),
    /// The HTTP client could not start.
    #[error("the HTTP client could not start: {}", cause_chain(.0))]
    Build(#[source] reqwest::Error),
}

/// Why a request was not sent or got no answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The destination resolves to an address inside the network.
    #[error("{0} resolves to a private address")]
    Private(String),
    /// Behind a proxy, the destination does not resolve here (see
    /// `SWITCHBOARD_PROXY_DNS`).
    #[error(
        "{0} does not resolve here; behind a proxy, names are resolved here first to keep internal addresses out of reach (SWITCHBOARD_PROXY_DNS=proxy leaves them to the proxy)"
    )]
    Unresolved(String),
    /// No answer in time.
    #[error("{0} did not answer in time")]
    Timeout(String),
    /// Anything else: DNS, TCP, TLS, HTTP; with every cause.
    #[error("{0}")]
    Failed(String),
}

impl SendError {
    /// A failure talking to `host`, without its URL (which may carry a key).
    pub fn of(host: &str, error: reqwest::Error) -> SendError {
        if error.is_timeout() {
            SendError::Timeout(host.to_owned())
        } else {
            SendError::Failed(cause_chain(&error.without_url()))
        }
    }
}

/// Makes `ring` the process's TLS crypto provider, unless one is set.
pub fn install_crypto() {
    // Another part of the process may have installed a provider already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client for untrusted destinations: no redirects (callers check each
/// hop), public addresses only, bounded time, and the proxy named by
/// `HTTPS_PROXY` (with `NO_PROXY`), if any.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// Set when requests may go through a proxy, which resolves names
    /// itself: the address guard then resolves them here first.
    proxied: Option<ProxyDns>,
    routes: Arc<Routes>,
}

/// Behind a proxy, what to do with a name that does not resolve here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProxyDns {
    /// Refuse it: every name must resolve here to a public address
    /// (`SWITCHBOARD_PROXY_DNS=local`, the default).
    Local,
    /// Leave it to the proxy, for networks that resolve only internal
    /// names (`SWITCHBOARD_PROXY_DNS=proxy`); the proxy then decides what
    /// such a name reaches.
    Proxy,
}

impl Client {
    /// A client whose requests time out after `timeout`.
    pub fn new(timeout: Duration, routes: &Routes) -> Result<Client, ClientError> {
        install_crypto();
        let proxy = proxy_from_env()?;
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("Switchboard/", env!("CARGO_PKG_VERSION")));
        let mut proxy_host = None;
        let mut proxied = None;
        if let Some((proxy, host)) = proxy {
            builder = builder.proxy(proxy);
            proxy_host = Some(host);
            proxied = Some(match std::env::var("SWITCHBOARD_PROXY_DNS").as_deref() {
                Ok("proxy") => ProxyDns::Proxy,
                Ok("local") | Err(_) => ProxyDns::Local,
                Ok(other) => {
                    return Err(ClientError::InvalidProxy(format!(
                        "SWITCHBOARD_PROXY_DNS is `{other}`, not `local` or `proxy`"
                    )));
                }
            });
        }
        for pem in &routes.roots {
            let root = reqwest::Certificate::from_pem(pem.as_bytes())
                .map_err(|e| ClientError::InvalidRoot(cause_chain(&e)))?;
            builder = builder.tls_certs_merge([root]);
        }
        let routes = Arc::new(routes.clone());
        let resolver = Resolver {
            routes: routes.clone(),
            proxy_host,
        };
        let http = builder
            .dns_resolver(Arc::new(resolver))
            .build()
            .map_err(ClientError::Build)?;
        Ok(Client {
            http,
            proxied,
            routes,
        })
    }

    /// Sends one request; never follows a redirect.
    pub async fn execute(&self, request: reqwest::Request) -> Result<reqwest::Response, SendError> {
        let host = request.url().host_str().unwrap_or_default().to_owned();
        if let Some(dns) = self.proxied
            && self.routes.get(&host).is_none()
        {
            guard_proxied(&host, dns).await?;
        }
        self.http
            .execute(request)
            .await
            .map_err(|e| SendError::of(&host, e))
    }

    /// A request builder on this client.
    pub fn request(&self, method: reqwest::Method, url: Url) -> reqwest::RequestBuilder {
        self.http.request(method, url)
    }
}

/// An error with every cause after it, as `a: b: c` (reqwest's own text
/// alone says only "error sending request").
pub fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// The proxy for https requests named by the environment, with its host.
fn proxy_from_env() -> Result<Option<(reqwest::Proxy, String)>, ClientError> {
    let Some(url) = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    else {
        return Ok(None);
    };
    // A proxy URL may carry credentials: say what is wrong, not what it is.
    let parsed = Url::parse(url.trim()).map_err(|e| ClientError::InvalidProxy(e.to_string()))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| ClientError::InvalidProxy("it has no host".into()))?
        .to_ascii_lowercase();
    let proxy = reqwest::Proxy::https(parsed.as_str())
        .map_err(|e| ClientError::InvalidProxy(cause_chain(&e)))?
        .no_proxy(reqwest::NoProxy::from_env());
    Ok(Some((proxy, host)))
}

/// Behind a proxy the proxy resolves the destination: a name that
/// resolves here to an address inside the network is refused all the same,
/// and so is one that does not resolve here, unless the operator leaves
/// those to the proxy.
async fn guard_proxied(host: &str, dns: ProxyDns) -> Result<(), SendError> {
    if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
        return match is_public(ip) {
            true => Ok(()),
            false => Err(SendError::Private(host.to_owned())),
        };
    }
    match tokio::net::lookup_host((host, 443)).await {
        Ok(addrs) => {
            let addrs: Vec<_> = addrs.collect();
            match addrs.iter().all(|a| is_public(a.ip())) {
                true => Ok(()),
                false => Err(SendError::Private(host.to_owned())),
            }
        }
        Err(_) if dns == ProxyDns::Proxy => Ok(()),
        Err(_) => Err(SendError::Unresolved(host.to_owned())),
    }
}

/// Resolves routed hosts to their mocks, the proxy to wherever it is, and
/// every other name to public addresses only, so a declared host whose
/// DNS points inside the network (rebinding) reaches nothing.
struct Resolver {
    routes: Arc<Routes>,
    proxy_host: Option<String>,
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_ascii_lowercase();
        // A non-zero port is kept for a URL with no port of its own.
        if let Some(to) = self.routes.get(&host) {
            return Box::pin(async move { Ok(Box::new(std::iter::once(to)) as Addrs) });
        }
        if self.routes.only_routed {
            return Box::pin(async move {
                Err(
                    format!("{host} is not stood in for, and this run reaches no other host")
                        .into(),
                )
            });
        }
        let internal_allowed = self.proxy_host.as_deref() == Some(host.as_str());
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| internal_allowed || is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_browser_is_sent_to_where_it_reaches_a_routed_host() -> TestResult {
        let routes = Routes::default().browse(
            "Login.Example.com",
            url::Url::parse("http://127.0.0.1:4100")?,
        );
        let link = url::Url::parse("https://login.example.com/common/authorize?state=s&scope=a+b")?;
        assert_eq!(
            routes.for_browser(link).as_str(),
            "http://127.0.0.1:4100/common/authorize?state=s&scope=a+b"
        );
        let other = url::Url::parse("https://login.other.example/authorize?state=s")?;
        assert_eq!(routes.for_browser(other.clone()), other);
        Ok(())
    }

    #[test]
    fn private_addresses_are_not_public() -> TestResult {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse()?), "{ip}");
        }
        assert!(is_public("20.190.160.1".parse()?));
        Ok(())
    }

    #[tokio::test]
    async fn a_routed_host_resolves_to_its_mock_and_others_to_public_addresses() -> TestResult {
        let routes =
            Arc::new(Routes::default().route("API.semrush.com", "127.0.0.1:4567".parse()?));
        let resolver = Resolver {
            routes,
            proxy_host: None,
        };
        let routed: Vec<_> = resolver
            .resolve("api.semrush.com".parse()?)
            .await
            .map_err(|e| e.to_string())?
            .collect();
        assert_eq!(routed, ["127.0.0.1:4567".parse::<SocketAddr>()?]);
        let refused = resolver.resolve("localhost".parse()?).await.err();
        assert!(
            refused.is_some_and(|e| e.to_string().contains("no public address")),
            "localhost must not resolve"
        );
        Ok(())
    }

    #[test]
    fn a_chain_names_every_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("error sending request")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(std::io::Error::other(
            "invalid peer certificate: UnknownIssuer",
        ));
        assert_eq!(
            cause_chain(&e),
            "error sending request: invalid peer certificate: UnknownIssuer"
        );
    }

    #[tokio::test]
    async fn an_offline_run_reaches_no_host_but_the_routed_ones() {
        let routes = Routes::default().only_routed();
        let client = Client::new(Duration::from_secs(5), &routes).unwrap();
        let request = client
            .request(
                reqwest::Method::GET,
                url::Url::parse("https://example.com/").unwrap(),
            )
            .build()
            .unwrap();
        let refused = client.execute(request).await.unwrap_err().to_string();
        assert!(
            refused.contains("example.com is not stood in for, and this run reaches no other host"),
            "{refused}"
        );
    }
}
