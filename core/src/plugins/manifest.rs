//! Checking what a plugin says about itself before anyone relies on it.

use super::bindings::switchboard::connector::types as wit;
use super::network::{self, HostPattern, InvalidHost};
use crate::model::{ActionSpec, Auth, IntegrationId, Manifest, Mode, ModeAuth};
use std::collections::{HashMap, HashSet};

/// A manifest that passed validation, with what the host derives from it.
pub struct Validated {
    pub manifest: Manifest,
    pub hosts: Vec<HostPattern>,
    /// Each mode's hosts that receive the credential.
    pub credential_hosts: Vec<(Mode, Vec<HostPattern>)>,
    pub input_validators: HashMap<String, jsonschema::Validator>,
}

/// One thing wrong with a manifest, in words its author can act on.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    /// The id is not a plain identifier.
    #[error("id `{0}` must be 1-64 lowercase letters, digits, `-` or `_`")]
    Id(String),
    /// The name is blank.
    #[error("name is empty")]
    NoName,
    /// The version does not parse as semver.
    #[error("version `{0}` is not semver (e.g. 1.2.0)")]
    Version(String),
    /// No mode is offered.
    #[error("no mode is supported")]
    NoMode,
    /// A mode is offered twice.
    #[error("mode `{0}` is listed twice")]
    DuplicateMode(Mode),
    /// A mode's authentication is unusable.
    #[error("mode `{mode}`: {why}")]
    Auth {
        /// The mode.
        mode: Mode,
        /// What is wrong with how it authenticates.
        why: AuthFault,
    },
    /// An allowed host does not parse.
    #[error("allowed host {0}")]
    Host(InvalidHost),
    /// A mode names no host to receive its credential.
    #[error("mode `{0}` names no host that receives the credential")]
    NoCredentialHost(Mode),
    /// A host to receive a mode's credential does not parse.
    #[error("mode `{mode}`: credential host {why}")]
    CredentialHost {
        /// The mode.
        mode: Mode,
        /// What is wrong with the entry.
        why: InvalidHost,
    },
    /// A host to receive a mode's credential is not one the plugin may call.
    #[error("mode `{mode}`: `{host}` receives the credential but is not an allowed host")]
    CredentialHostNotAllowed {
        /// The mode.
        mode: Mode,
        /// The entry.
        host: String,
    },
    /// An action's name is not snake_case.
    #[error("action name `{0}` must be snake_case")]
    ActionName(String),
    /// An action is listed twice.
    #[error("action `{0}` is listed twice")]
    DuplicateAction(String),
    /// An action's input or output schema is unusable.
    #[error("action `{action}`: {which} schema {why}")]
    Schema {
        /// The action.
        action: String,
        /// `input` or `output`.
        which: &'static str,
        /// What is wrong with it.
        why: String,
    },
}

/// What is wrong with how a mode authenticates.
#[derive(Debug, thiserror::Error)]
pub enum AuthFault {
    /// The key's query parameter is not a plain name.
    #[error("query parameter `{0}` is not a plain name")]
    QueryParameter(String),
    /// The key's header is not a header name.
    #[error("`{0}` is not a header name")]
    HeaderName(String),
    /// The key's header is one the host owns.
    #[error("the key cannot go in `{0}`")]
    HostOwnedHeader(String),
    /// An OAuth endpoint is not https.
    #[error("`{0}` is not an https URL")]
    NotHttps(String),
    /// OAuth without a scope.
    #[error("OAuth 2.0 needs at least one scope")]
    NoScope,
}

/// Every fault of a refused manifest.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct Faults(pub Vec<Fault>);

/// Validates a manifest; the error lists every fault found.
pub fn validate(raw: wit::Manifest) -> Result<Validated, Faults> {
    let mut faults = Vec::new();
    if !is_identifier(&raw.id, true) {
        faults.push(Fault::Id(raw.id.clone()));
    }
    if raw.name.trim().is_empty() {
        faults.push(Fault::NoName);
    }
    if semver::Version::parse(&raw.version).is_err() {
        faults.push(Fault::Version(raw.version.clone()));
    }

    let mut hosts = Vec::new();
    for entry in &raw.allowed_hosts {
        match HostPattern::parse(entry) {
            Ok(pattern) => hosts.push(pattern),
            Err(fault) => faults.push(Fault::Host(fault)),
        }
    }

    let mut modes = Vec::new();
    let mut credential_hosts = Vec::new();
    if raw.modes.is_empty() {
        faults.push(Fault::NoMode);
    }
    for m in raw.modes {
        let mode = match m.mode {
            wit::Mode::User => Mode::User,
            wit::Mode::Workspace => Mode::Workspace,
        };
        if modes.iter().any(|known: &ModeAuth| known.mode == mode) {
            faults.push(Fault::DuplicateMode(mode));
        }
        credential_hosts.push((
            mode,
            receivers(mode, &m.credential_hosts, &hosts, &mut faults),
        ));
        match auth(m.auth) {
            Ok(auth) => modes.push(ModeAuth {
                mode,
                auth,
                credential_hosts: m.credential_hosts,
            }),
            Err(why) => faults.push(Fault::Auth { mode, why }),
        }
    }

    let mut actions = Vec::new();
    let mut input_validators = HashMap::new();
    let mut names = HashSet::new();
    for a in raw.actions {
        if !is_identifier(&a.name, false) {
            faults.push(Fault::ActionName(a.name.clone()));
        }
        if !names.insert(a.name.clone()) {
            faults.push(Fault::DuplicateAction(a.name.clone()));
        }
        let input = schema(&a.name, "input", &a.input_schema);
        let output = schema(&a.name, "output", &a.output_schema);
        match (input, output) {
            (Ok((input_schema, validator)), Ok((output_schema, _))) => {
                input_validators.insert(a.name.clone(), validator);
                actions.push(ActionSpec {
                    name: a.name,
                    description: a.description,
                    input_schema,
                    output_schema,
                    credit_cost: a.credit_cost,
                });
            }
            (input, output) => faults.extend(input.err().into_iter().chain(output.err())),
        }
    }

    if !faults.is_empty() {
        return Err(Faults(faults));
    }
    Ok(Validated {
        manifest: Manifest {
            id: IntegrationId::new(raw.id),
            name: raw.name,
            description: raw.description,
            version: raw.version,
            modes,
            allowed_hosts: raw.allowed_hosts,
            actions,
        },
        hosts,
        credential_hosts,
        input_validators,
    })
}

/// The hosts that receive `mode`'s credential, each within an allowed host;
/// what is wrong with them goes to `faults`.
fn receivers(
    mode: Mode,
    entries: &[String],
    allowed: &[HostPattern],
    faults: &mut Vec<Fault>,
) -> Vec<HostPattern> {
    if entries.is_empty() {
        faults.push(Fault::NoCredentialHost(mode));
    }
    let mut receivers = Vec::new();
    for entry in entries {
        match HostPattern::parse(entry) {
            Ok(pattern) if allowed.iter().any(|a| pattern.within(a)) => receivers.push(pattern),
            Ok(_) => faults.push(Fault::CredentialHostNotAllowed {
                mode,
                host: entry.clone(),
            }),
            Err(why) => faults.push(Fault::CredentialHost { mode, why }),
        }
    }
    receivers
}

fn auth(raw: wit::Auth) -> Result<Auth, AuthFault> {
    match raw {
        wit::Auth::ApiKey(wit::ApiKeyPlacement::Query(parameter)) => {
            if parameter.is_empty()
                || !parameter
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            {
                return Err(AuthFault::QueryParameter(parameter));
            }
            Ok(Auth::ApiKeyQuery { parameter })
        }
        wit::Auth::ApiKey(wit::ApiKeyPlacement::Header(h)) => {
            let name = reqwest::header::HeaderName::from_bytes(h.name.as_bytes())
                .map_err(|_| AuthFault::HeaderName(h.name.clone()))?;
            // The host sets these itself (and the user agent names the
            // host, not the key).
            if network::host_owned(name.as_str()) || name == reqwest::header::USER_AGENT {
                return Err(AuthFault::HostOwnedHeader(h.name));
            }
            Ok(Auth::ApiKeyHeader {
                header: h.name,
                prefix: h.prefix,
            })
        }
        wit::Auth::Oauth2(o) => {
            for url in [
                Some(&o.authorize_url),
                Some(&o.token_url),
                o.revocation_url.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                match url::Url::parse(url) {
                    Ok(u) if u.scheme() == "https" && u.host_str().is_some() => {}
                    _ => return Err(AuthFault::NotHttps(url.clone())),
                }
            }
            if o.scopes.is_empty() {
                return Err(AuthFault::NoScope);
            }
            Ok(Auth::OAuth2 {
                authorize_url: o.authorize_url,
                token_url: o.token_url,
                revocation_url: o.revocation_url,
                scopes: o.scopes,
                pkce: o.pkce,
            })
        }
    }
}

fn schema(
    action: &str,
    which: &'static str,
    text: &str,
) -> Result<(serde_json::Value, jsonschema::Validator), Fault> {
    let fault = |why: String| Fault::Schema {
        action: action.to_owned(),
        which,
        why,
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| fault(format!("is not JSON: {e}")))?;
    jsonschema::meta::validate(&value)
        .map_err(|e| fault(format!("is not a valid JSON Schema: {e}")))?;
    let validator =
        jsonschema::validator_for(&value).map_err(|e| fault(format!("cannot be used: {e}")))?;
    Ok((value, validator))
}

fn is_identifier(s: &str, dashes: bool) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || (dashes && b == b'-')
        })
}
