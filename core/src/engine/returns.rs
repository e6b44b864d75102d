//! Where a member's browser goes when a sign-in ends: a `return_to` given
//! when the sign-in began, if its origin is one the operator allows, or the
//! operator's default. Anything else is refused when the sign-in begins,
//! so the callback can never be made an open redirect.

use crate::{Error, Result};
use url::{Origin, Url};

/// The operator's allowed return origins and default return URL.
#[derive(Debug, Clone, Default)]
pub struct ReturnUrls {
    origins: Vec<Origin>,
    default: Option<Url>,
}

/// A return origin or default URL the operator configured that cannot be one.
#[derive(Debug, thiserror::Error)]
#[error("`{url}` cannot be a return URL: {reason}")]
pub struct InvalidReturnUrl {
    /// What was configured.
    pub url: String,
    /// Why it is refused.
    pub reason: String,
}

impl ReturnUrls {
    /// From the origins browsers may return to (`https://app.example.com`)
    /// and the default return URL, whose origin is allowed with it.
    pub fn new(origins: &[String], default: Option<&str>) -> Result<Self, InvalidReturnUrl> {
        let mut allowed = Vec::new();
        for origin in origins {
            let url = web_url(origin)?;
            if url.path() != "/" || url.query().is_some() {
                return Err(InvalidReturnUrl {
                    url: origin.clone(),
                    reason: "an origin is a scheme, a host and a port, with no path".into(),
                });
            }
            allowed.push(url.origin());
        }
        let default = default.map(web_url).transpose()?;
        if let Some(default) = &default
            && !allowed.contains(&default.origin())
        {
            allowed.push(default.origin());
        }
        Ok(ReturnUrls {
            origins: allowed,
            default,
        })
    }

    /// Also allows the origin of the console served beside the API, so
    /// sign-ins begun there return there. The default URL stays the
    /// operator's: a sign-in the host began without `return_to` does not
    /// land on a console it may not use.
    pub fn allow_console(mut self, console: &Url) -> Self {
        if !self.origins.contains(&console.origin()) {
            self.origins.push(console.origin());
        }
        self
    }

    /// The URL to return to, if its origin is allowed.
    pub(super) fn check(&self, return_to: &str) -> Result<Url> {
        let refused = |why: &str| Error::ReturnUrlRefused(format!("`{return_to}` {why}"));
        let url = Url::parse(return_to.trim()).map_err(|_| refused("is not a URL"))?;
        // `blob:https://app/...` has its inner URL's origin: only the
        // web's own schemes are places to return to.
        if !matches!(url.scheme(), "https" | "http") {
            return Err(refused("is not on an origin the operator allows"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refused("carries credentials"));
        }
        if !self.origins.contains(&url.origin()) {
            return Err(refused("is not on an origin the operator allows"));
        }
        Ok(url)
    }

    /// Where browsers go when a sign-in named no return URL.
    pub fn default_url(&self) -> Option<&Url> {
        self.default.as_ref()
    }
}

/// An http(s) URL with a host and no credentials.
fn web_url(text: &str) -> Result<Url, InvalidReturnUrl> {
    let invalid = |reason: String| InvalidReturnUrl {
        url: text.to_owned(),
        reason,
    };
    let url = Url::parse(text.trim()).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(invalid("it is not an http(s) URL with a host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("it carries credentials".into()));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn only_allowed_origins_are_returned_to() -> TestResult {
        let returns = ReturnUrls::new(
            &["https://app.example.com".into()],
            Some("https://admin.example.com/integrations"),
        )?;
        assert!(
            returns
                .check("https://app.example.com/settings?tab=1")
                .is_ok()
        );
        assert!(returns.check("https://admin.example.com/other").is_ok());
        for hostile in [
            "https://app.example.com.evil.example/",
            "https://evil.example/?https://app.example.com",
            "http://app.example.com/",
            "https://app.example.com:8443/",
            "https://user:pw@app.example.com/",
            "javascript:alert(1)",
            "blob:https://app.example.com/0b0c",
            "//evil.example/",
            "/relative",
        ] {
            assert!(
                matches!(returns.check(hostile), Err(Error::ReturnUrlRefused(_))),
                "{hostile}"
            );
        }
        Ok(())
    }

    #[test]
    fn an_origin_with_a_path_is_a_configuration_error() {
        let refused = ReturnUrls::new(&["https://app.example.com/x".into()], None);
        assert!(refused.is_err());
        assert!(ReturnUrls::new(&["ftp://app.example.com".into()], None).is_err());
    }
}
