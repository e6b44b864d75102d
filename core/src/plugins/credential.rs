//! The credential a call carries, and where a manifest says it goes.

use super::network::HostPattern;
use crate::model::Auth;
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
