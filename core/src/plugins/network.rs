//! Outbound-network policy: where a plugin may send a request, which of
//! its headers go, and what a redirect may carry. Pure decisions; the
//! transport acts on them.

use super::bindings::switchboard::connector::http as wit;
use super::credential::{Credential, Rendered};
use super::suffixes;
use crate::model::Settings;
use crate::redact;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::sync::Arc;
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
    /// A `{setting}` the manifest does not declare.
    #[error("`{entry}` names the setting `{setting}`, which the manifest does not declare")]
    UnknownSetting {
        /// The entry.
        entry: String,
        /// The setting it names.
        setting: String,
    },
}

impl InvalidHost {
    /// The same fault, told of `entry`.
    fn of(self, entry: &str) -> Self {
        let entry = entry.to_owned();
        match self {
            InvalidHost::Port(_) => InvalidHost::Port(entry),
            InvalidHost::Name(_) => InvalidHost::Name(entry),
            InvalidHost::TooWide { suffix, .. } => InvalidHost::TooWide { entry, suffix },
            InvalidHost::UnknownSetting { setting, .. } => {
                InvalidHost::UnknownSetting { entry, setting }
            }
        }
    }
}

/// A manifest's host entry: a pattern, or a host whose leftmost label is
/// a setting of the workspace's install (`{subdomain}.zendesk.com`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DeclaredHost {
    /// The same host or hosts in every workspace.
    Pattern(HostPattern),
    /// One host per workspace, named by its setting.
    Setting {
        /// The setting that is the leftmost label.
        setting: String,
        /// The pattern of every host the setting may make: `*.domain`.
        domain: HostPattern,
    },
}

impl DeclaredHost {
    /// Parses a host entry, whose setting, if any, must be among
    /// `settings`. What follows a setting must be a domain a wildcard may
    /// cover: `{tenant}.github.io` would let a workspace's setting send the
    /// credential to anyone's site.
    pub(super) fn parse(entry: &str, settings: &[&str]) -> Result<Self, InvalidHost> {
        let Some(rest) = entry.strip_prefix('{') else {
            return HostPattern::parse(entry).map(DeclaredHost::Pattern);
        };
        let (setting, domain) = rest
            .split_once("}.")
            .ok_or_else(|| InvalidHost::Name(entry.to_owned()))?;
        if !settings.contains(&setting) {
            return Err(InvalidHost::UnknownSetting {
                entry: entry.to_owned(),
                setting: setting.to_owned(),
            });
        }
        let domain = HostPattern::parse(&format!("*.{domain}")).map_err(|e| e.of(entry))?;
        Ok(DeclaredHost::Setting {
            setting: setting.to_owned(),
            domain,
        })
    }

    /// The host this entry stands for in a workspace with `settings`;
    /// `None` if its setting is unset or not one DNS label.
    pub(super) fn resolve(&self, settings: &Settings) -> Option<HostPattern> {
        match self {
            DeclaredHost::Pattern(pattern) => Some(pattern.clone()),
            DeclaredHost::Setting { setting, domain } => {
                let label = settings.get(setting).filter(|v| is_label(v))?;
                Some(HostPattern {
                    host: format!("{label}.{}", domain.host),
                    subdomains: false,
                    port: domain.port,
                })
            }
        }
    }

    /// Whether every host this entry may stand for, `other` allows too.
    pub(super) fn within(&self, other: &DeclaredHost) -> bool {
        match (self, other) {
            (DeclaredHost::Pattern(a), DeclaredHost::Pattern(b)) => a.within(b),
            (DeclaredHost::Setting { domain, .. }, DeclaredHost::Pattern(b)) => domain.within(b),
            (DeclaredHost::Setting { .. }, DeclaredHost::Setting { .. }) => self == other,
            (DeclaredHost::Pattern(_), DeclaredHost::Setting { .. }) => false,
        }
    }
}

/// Every entry resolved for a workspace with `settings`; those its
/// settings leave unresolved allow nothing.
pub(super) fn resolve_all(entries: &[DeclaredHost], settings: &Settings) -> Arc<[HostPattern]> {
    entries.iter().filter_map(|e| e.resolve(settings)).collect()
}

/// Whether `text` is one DNS label as a host name spells it: lowercase
/// letters, digits and `-`, not at either end, at most 63 of them.
pub(crate) fn is_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && !text.starts_with('-')
        && !text.ends_with('-')
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
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
            && name.split('.').all(is_label);
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
    // A header map holds a bounded number of entries and panics past it;
    // no service needs more than a handful.
    if pairs.len() > MAX_HEADERS {
        return Err(wit::Error::Denied(format!(
            "more than {MAX_HEADERS} headers in one request"
        )));
    }
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| wit::Error::Denied(format!("invalid header name `{name}`")))?;
        let credential_header =
            matches!(credential.map(|c| &c.rendered), Some(Rendered::Header(n, _)) if *n == name);
        if host_owned(name.as_str()) || credential_header {
            continue;
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| wit::Error::Denied(format!("invalid value for header `{name}`")))?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// The most headers a plugin's request may carry.
const MAX_HEADERS: usize = 100;

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
    let mut secrets = credential.secrets();
    if let Rendered::Query(_, value) = &credential.rendered {
        secrets.push(value.expose().as_bytes());
    }
    // Never sent, and no place for a credential.
    url.set_fragment(None);
    if let Some(query) = url.query() {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|part| {
                let value = part.split_once('=').map_or("", |(_, value)| value);
                !secrets
                    .iter()
                    .any(|secret| redact::is_spelling(value.as_bytes(), secret))
            })
            .collect();
        let kept = kept.join("&");
        url.set_query(Some(kept.as_str()).filter(|q| !q.is_empty()));
    }
    let location = url.as_str().as_bytes();
    if secrets
        .iter()
        .any(|secret| redact::contains(location, secret))
    {
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
    fn a_request_with_too_many_headers_is_refused_not_a_panic() {
        let many: Vec<(String, String)> = (0..40_000)
            .map(|i| (format!("x-h{i}"), "v".to_owned()))
            .collect();
        match guest_headers(&many, None) {
            Err(wit::Error::Denied(why)) => {
                assert_eq!(why, "more than 100 headers in one request")
            }
            other => panic!("{other:?}"),
        }
        assert!(guest_headers(&many[..100], None).is_ok());
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

    #[test]
    fn a_setting_names_one_host_under_a_domain_that_is_not_a_public_suffix() -> TestResult {
        let settings = ["subdomain"];
        let zendesk = DeclaredHost::parse("{subdomain}.zendesk.com", &settings)?;
        let with = |value: &str| Settings::from([("subdomain".to_owned(), value.to_owned())]);
        assert_eq!(
            zendesk.resolve(&with("acme")),
            Some(HostPattern::parse("acme.zendesk.com")?)
        );
        // Not one lowercase label: it names no host, so nothing is reached.
        for bad in ["Acme", "acme.evil.com", "", "-acme", "acme:444"] {
            assert_eq!(zendesk.resolve(&with(bad)), None, "{bad}");
        }
        assert_eq!(zendesk.resolve(&Settings::new()), None);
        for (entry, fault) in [
            (
                "{subdomain}.github.io",
                "`{subdomain}.github.io` covers `github.io`, a public suffix where anyone can register a name; declare the hosts themselves",
            ),
            (
                "{subdomain}.co.uk",
                "`{subdomain}.co.uk` covers `co.uk`, a public suffix where anyone can register a name; declare the hosts themselves",
            ),
            (
                "{tenant}.zendesk.com",
                "`{tenant}.zendesk.com` names the setting `tenant`, which the manifest does not declare",
            ),
        ] {
            let got = DeclaredHost::parse(entry, &settings)
                .unwrap_err()
                .to_string();
            assert_eq!(got, fault);
        }
        // A receiver under a setting is within the same entry, or a wildcard.
        let all = DeclaredHost::parse("*.zendesk.com", &settings)?;
        let one = DeclaredHost::parse("acme.zendesk.com", &settings)?;
        assert!(zendesk.within(&zendesk) && zendesk.within(&all));
        assert!(!zendesk.within(&one) && !one.within(&zendesk));
        Ok(())
    }
}
