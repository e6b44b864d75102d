//! The credential a call carries, where a manifest says it goes, and
//! whether the manifest's sign-in endpoints agree with the operator's.

use super::Refusal;
use super::network::HostPattern;
use crate::model::Auth;
use crate::oauth::Endpoints;
use crate::vault::Secret;
use reqwest::header::HeaderName;
use std::sync::Arc;

/// Where the call's credential goes.
#[derive(Debug, Clone)]
pub enum Placement {
    /// A query parameter with this name.
    Query(String),
    /// A request header, its value the prefix then the secret.
    Header {
        /// The header's name.
        name: HeaderName,
        /// Written before the secret, e.g. `Apikey `.
        prefix: String,
    },
    /// `Authorization: Bearer <secret>`.
    Bearer,
}

impl Placement {
    /// Where `auth` puts the credential; `None` if its header name does
    /// not parse.
    pub(super) fn of(auth: &Auth) -> Option<Self> {
        Some(match auth {
            Auth::ApiKeyQuery { parameter } => Placement::Query(parameter.clone()),
            // The header name was validated when the manifest loaded.
            Auth::ApiKeyHeader { header, prefix } => Placement::Header {
                name: header.parse().ok()?,
                prefix: prefix.clone().unwrap_or_default(),
            },
            Auth::OAuth2 { .. } => Placement::Bearer,
        })
    }
}

/// The credential of one call.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The key or access token.
    pub secret: Secret,
    /// Where the host puts it in an authenticated request.
    pub placement: Placement,
    /// The hosts an authenticated request may go to.
    pub(super) receivers: Arc<[HostPattern]>,
}

/// The operator's word on an integration's OAuth endpoints: where its
/// registration sends codes, refresh tokens and the client's credential,
/// or why the registration could not be resolved (discovery failed).
pub type RegisteredEndpoints = Result<Endpoints, String>;

/// A manifest's OAuth endpoints are only a proposal: each must be on the
/// host the operator's registration names, or the plugin is refused, so
/// that no plugin update can move where secrets are sent. A revocation
/// endpoint the registration lacks is simply not used.
pub(super) fn confirm_endpoints(
    auth: Option<&Auth>,
    registered: Option<&RegisteredEndpoints>,
) -> Result<(), Refusal> {
    let (Some(auth), Some(registered)) = (auth, registered) else {
        return Ok(());
    };
    let Auth::OAuth2 {
        authorize_url,
        token_url,
        revocation_url,
        ..
    } = auth
    else {
        return Ok(());
    };
    let registered = registered
        .as_ref()
        .map_err(|why| Refusal::OAuthRegistration(why.clone()))?;
    let proposed = [
        (
            "authorize",
            Some(authorize_url),
            Some(&registered.authorize),
        ),
        ("token", Some(token_url), Some(&registered.token)),
        (
            "revocation",
            revocation_url.as_ref(),
            registered.revocation.as_ref(),
        ),
    ];
    for (which, manifest, registered) in proposed {
        let (Some(manifest), Some(registered)) = (manifest, registered) else {
            continue;
        };
        let manifest_host = url::Url::parse(manifest)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        let registered_host = registered.host_str().unwrap_or_default();
        if manifest_host != registered_host {
            return Err(Refusal::OAuthEndpoint {
                which,
                manifest: manifest_host,
                registered: registered_host.to_owned(),
            });
        }
    }
    Ok(())
}
