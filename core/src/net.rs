//! Outbound HTTP shared by the plugin sandbox and the OAuth client: routing
//! of declared hosts to local mocks, and a client that never follows
//! redirects, ignores proxies and reaches public addresses only.

use reqwest::header::{HeaderMap, HeaderValue};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Routes declared hosts to other addresses, as curl's `--connect-to` does:
/// tests and the demo reach local mocks this way, with the plugin's URLs and
/// allow-list untouched. A routed request goes over plain HTTP to the
/// address, with the original `Host`.
#[derive(Debug, Clone, Default)]
pub struct Routes(HashMap<(String, u16), SocketAddr>);

impl Routes {
    /// Send requests for `https://{host}` to `to`.
    pub fn route(mut self, host: &str, to: SocketAddr) -> Self {
        self.0.insert((host.to_ascii_lowercase(), 443), to);
        self
    }

    fn get(&self, host: &str, port: u16) -> Option<SocketAddr> {
        self.0.get(&(host.to_owned(), port)).copied()
    }
}

impl Routes {
    /// Rewrites a request for a routed host to go to its address over plain
    /// HTTP, keeping the original `Host`.
    pub fn apply(&self, url: &mut Url, headers: &mut HeaderMap) {
        let (Some(host), Some(port)) = (
            url.host_str().map(str::to_owned),
            url.port_or_known_default(),
        ) else {
            return;
        };
        let Some(to) = self.get(&host, port) else {
            return;
        };
        let authority = if port == 443 {
            host
        } else {
            format!("{host}:{port}")
        };
        if let Ok(value) = HeaderValue::from_str(&authority) {
            headers.insert(reqwest::header::HOST, value);
        }
        let _ = url.set_scheme("http");
        let _ = url.set_ip_host(to.ip());
        let _ = url.set_port(Some(to.port()));
    }
}

/// Makes `ring` the process's TLS crypto provider, unless one is set.
pub fn install_crypto() {
    // Another part of the process may have installed a provider already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client for untrusted destinations: no redirects (callers check each
/// hop), no proxy, public addresses only, bounded time.
pub fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    install_crypto();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .dns_resolver(Arc::new(PublicOnly))
        .user_agent(concat!("Switchboard/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Resolves names to public addresses only, so a declared host whose DNS
/// points inside the network (rebinding) reaches nothing. Routed hosts are
/// dialled by address and never resolved.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
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

    #[test]
    fn a_routed_host_goes_to_its_address_with_its_own_host_header() -> TestResult {
        let routes = Routes::default().route("api.semrush.com", "127.0.0.1:4567".parse()?);
        let mut url = Url::parse("https://api.semrush.com/?type=phrase_this")?;
        let mut headers = HeaderMap::new();
        routes.apply(&mut url, &mut headers);
        assert_eq!(url.as_str(), "http://127.0.0.1:4567/?type=phrase_this");
        assert_eq!(headers["host"], "api.semrush.com");
        let mut other = Url::parse("https://graph.microsoft.com/v1.0/me")?;
        routes.apply(&mut other, &mut headers);
        assert_eq!(other.as_str(), "https://graph.microsoft.com/v1.0/me");
        Ok(())
    }
}
