//! Outbound-network policy: where a plugin may send a request, which of
//! its headers go, and what a redirect may carry. Pure decisions; the
//! transport acts on them.

use super::bindings::switchboard::connector::http as wit;
use super::credential::{Credential, Placement};
use super::suffixes;
use crate::redact;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use url::{Host, Url};

/// Why a manifest's host entry was refused.
#[derive(Debug, thiserror::Error)]
pub enum InvalidHost {
    /// What follows the last `:` is not a port.
    #[error("`{0}` has an invalid port")]
    Port(String),
    /// Not a lowercase DNS name of two labels or more.
    #[error("`{0}` is not a lowercase host name (IP addresses, schemes and paths are not allowed)")]
    Name(String),
    /// A wildcard over names anyone can register.
    #[error(
        "`{entry}` covers `{suffix}`, a public suffix where anyone can register a name; declare the hosts themselves"
    )]
    TooWide {
        /// The entry.
        entry: String,
        /// The public suffix it covers.
        suffix: String,
    },
}

/// A host a manifest declares: exact, or every subdomain of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HostPattern {
    /// The host name, or the domain under `*.`.
    host: String,
    /// Whether it matches the domain's subdomains rather than the name itself.
    subdomains: bool,
    /// The one port allowed.
    port: u16,
}

impl HostPattern {
    /// Parses `host`, `host:port` or `*.domain`; refuses anything else.
    pub(super) fn parse(entry: &str) -> Result<Self, InvalidHost> {
        let (name, port) = match entry.rsplit_once(':') {
            Some((name, port)) => (
                name,
                port.parse::<u16>()
                    .map_err(|_| InvalidHost::Port(entry.to_owned()))?,
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
            return Err(InvalidHost::Name(entry.to_owned()));
        }
        if let Some(suffix) = subdomains
            .then(|| suffixes::public_suffix_under(name))
            .flatten()
        {
            return Err(InvalidHost::TooWide {
                entry: entry.to_owned(),
                suffix,
            });
        }
        Ok(HostPattern {
            host: name.to_owned(),
            subdomains,
            port,
        })
    }

    /// Whether every host this pattern matches, `other` matches too.
    pub(super) fn within(&self, other: &HostPattern) -> bool {
        match (self.subdomains, other.subdomains) {
            (false, _) => other.matches(&self.host, self.port),
            (true, true) => {
                self.port == other.port
                    && (self.host == other.host || other.matches(&self.host, self.port))
            }
            (true, false) => false,
        }
    }

    /// Whether `host:port` is this host, or one of its subdomains.
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

/// The host and port `url` goes to, if the plugin may send there: https
/// only, no user name or password, a declared host name and port.
pub(super) fn destination(allowed: &[HostPattern], url: &Url) -> Result<(String, u16), wit::Error> {
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
    if !allowed.iter().any(|p| p.matches(&host, port)) {
        let authority = authority(&host, port);
        return Err(wit::Error::Denied(format!(
            "`{authority}` is not a host this plugin declared"
        )));
    }
    Ok((host, port))
}

/// Refuses an authenticated request to a host the manifest does not name
/// as receiving the credential in the call's mode.
pub(super) fn receives_credential(
    credential: &Credential,
    (host, port): &(String, u16),
) -> Result<(), wit::Error> {
    if credential.receivers.iter().any(|p| p.matches(host, *port)) {
        return Ok(());
    }
    let authority = authority(host, *port);
    Err(wit::Error::Denied(format!(
        "`{authority}` does not receive this plugin's credential; send the request unauthenticated, or name the host among the mode's credential hosts"
    )))
}

/// `host:port` as a person writes it: the port only when it is not 443.
fn authority(host: &str, port: u16) -> String {
    if port == 443 {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    }
}

/// Headers the host owns, or that only make sense per connection.
pub(super) fn host_owned(name: &str) -> bool {
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

/// The plugin's request headers that may go out: host-owned ones and the
/// credential's own header are dropped, invalid ones refuse the request.
pub(super) fn guest_headers(
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

/// A redirect's location may echo the credential the host added to the
/// request (`?key=…`). Query parameters that are the credential are
/// dropped (the origin gets it injected afresh; no other host may get
/// it), the rest kept byte for byte; anywhere else, the redirect is
/// refused.
pub(super) fn without_credential(
    credential: Option<&Credential>,
    mut url: Url,
) -> Result<Url, wit::Error> {
    let Some(credential) = credential else {
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
    fn wildcards_over_public_suffixes_are_refused_with_the_suffix() {
        for (entry, suffix) in [
            ("*.github.io", "github.io"),
            ("*.co.uk", "co.uk"),
            ("*.herokuapp.com", "herokuapp.com"),
        ] {
            assert_eq!(
                HostPattern::parse(entry).unwrap_err().to_string(),
                format!(
                    "`{entry}` covers `{suffix}`, a public suffix where anyone can register a name; declare the hosts themselves"
                )
            );
        }
        assert!(matches!(
            HostPattern::parse("*.amazonaws.com"),
            Err(InvalidHost::TooWide { .. })
        ));
        // A name on a public suffix is the host itself, not a wildcard.
        assert!(HostPattern::parse("acme.github.io").is_ok());
    }

    #[test]
    fn a_pattern_is_within_another_when_it_matches_no_more() -> TestResult {
        let all = HostPattern::parse("*.sharepoint.com")?;
        let one = HostPattern::parse("contoso.sharepoint.com")?;
        let deeper = HostPattern::parse("*.contoso.sharepoint.com")?;
        assert!(one.within(&all) && deeper.within(&all) && all.within(&all));
        assert!(!all.within(&one) && !all.within(&deeper));
        assert!(!HostPattern::parse("contoso.sharepoint.com:8443")?.within(&all));
        assert!(!HostPattern::parse("graph.microsoft.com")?.within(&one));
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
