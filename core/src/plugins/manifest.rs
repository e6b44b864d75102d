//! Checking what a plugin says about itself before anyone relies on it.

use super::bindings::switchboard::connector::types as wit;
use super::credential::Placement;
use super::network::{self, DeclaredHost, InvalidHost};
use crate::model::{
    ActionSpec, Auth, CredentialField, IntegrationId, Manifest, Mode, ModeAuth, SettingSpec,
};
use std::collections::{HashMap, HashSet};

/// A manifest that passed validation, with what the host derives from it.
pub struct Validated {
    pub manifest: Manifest,
    pub hosts: Vec<DeclaredHost>,
    /// Each mode's placement of its credential, and the hosts that receive it.
    pub credentials: Vec<(Mode, Placement, Vec<DeclaredHost>)>,
    /// Each setting's schema, compiled.
    pub setting_validators: HashMap<String, jsonschema::Validator>,
    pub input_validators: HashMap<String, jsonschema::Validator>,
    /// Each action's output schema, compiled: what a call hands back must
    /// match it.
    pub output_validators: HashMap<String, jsonschema::Validator>,
}

/// What one manifest may ask the host to hold and compile: it is read once
/// per load but shown on every page and compiled into every validator.
mod bounds {
    pub const NAME_CHARS: usize = 100;
    pub const DESCRIPTION_CHARS: usize = 2_000;
    pub const ACTION_DESCRIPTION_CHARS: usize = 1_000;
    pub const ACTIONS: usize = 100;
    pub const SETTINGS: usize = 20;
    pub const FIELDS: usize = 10;
    pub const HOSTS: usize = 50;
    pub const SCOPES: usize = 50;
    pub const SCHEMA_BYTES: usize = 64 << 10;
    pub const SCHEMA_DEPTH: usize = 32;
    pub const PATTERN_CHARS: usize = 1_000;
    pub const PATTERNS: usize = 200;
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
    /// A setting's name is not snake_case.
    #[error("setting name `{0}` must be snake_case")]
    SettingName(String),
    /// A setting is listed twice.
    #[error("setting `{0}` is listed twice")]
    DuplicateSetting(String),
    /// A setting has no label to show.
    #[error("setting `{0}` has no label")]
    SettingLabel(String),
    /// An action's name is not snake_case.
    #[error("action name `{0}` must be snake_case")]
    ActionName(String),
    /// An action is listed twice.
    #[error("action `{0}` is listed twice")]
    DuplicateAction(String),
    /// Something in the manifest is larger than the host takes.
    #[error("{what} is {size}, over the limit of {limit}")]
    OverLimit {
        /// What is too large, e.g. `the description (characters)`.
        what: String,
        /// Its size.
        size: usize,
        /// The most the host takes.
        limit: usize,
    },
    /// An action's input or output schema, or a setting's, is unusable.
    #[error("{of} schema {why}")]
    Schema {
        /// Whose schema, e.g. "action `search`'s input".
        of: String,
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
    /// `Authorization` named as a plain header.
    #[error("the key cannot go in `{0}` as a plain header; use the bearer or basic placement")]
    AuthorizationHeader(String),
    /// A credential without fields, or without a secret one.
    #[error("the credential needs at least one field, and at least one secret field")]
    NoSecretField,
    /// A field's name is not snake_case, or is listed twice.
    #[error("credential field `{0}` must be snake_case and listed once")]
    FieldName(String),
    /// A field has no label to show.
    #[error("credential field `{0}` has no label")]
    FieldLabel(String),
    /// The placement's templates do not fit the fields.
    #[error("{0}")]
    Placement(String),
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
    // Sizes first, so nothing oversized is parsed or compiled.
    let oversized = over_limits(&raw);
    if !oversized.is_empty() {
        return Err(Faults(oversized));
    }
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

    let mut settings = Vec::new();
    let mut setting_validators = HashMap::new();
    let mut patterns_left = bounds::PATTERNS;
    // Named before their schemas are checked, so that a host naming a
    // setting whose schema is wrong is not also said to name no setting.
    let declared: Vec<String> = raw.settings.iter().map(|s| s.name.clone()).collect();
    let setting_names: Vec<&str> = declared.iter().map(String::as_str).collect();
    let mut seen = HashSet::new();
    for setting in &raw.settings {
        if !is_identifier(&setting.name, false) {
            faults.push(Fault::SettingName(setting.name.clone()));
        }
        if !seen.insert(setting.name.as_str()) {
            faults.push(Fault::DuplicateSetting(setting.name.clone()));
        }
        if setting.label.trim().is_empty() {
            faults.push(Fault::SettingLabel(setting.name.clone()));
        }
        let of = format!("setting `{}`'s", setting.name);
        match schema(&of, &setting.schema, &mut patterns_left) {
            Ok((schema, validator)) => {
                setting_validators.insert(setting.name.clone(), validator);
                settings.push(SettingSpec {
                    name: setting.name.clone(),
                    label: setting.label.clone(),
                    description: setting.description.clone(),
                    schema,
                });
            }
            Err(fault) => faults.push(fault),
        }
    }

    let mut hosts = Vec::new();
    for entry in &raw.allowed_hosts {
        match DeclaredHost::parse(entry, &setting_names) {
            Ok(host) => hosts.push(host),
            Err(fault) => faults.push(Fault::Host(fault)),
        }
    }

    let mut modes = Vec::new();
    let mut credentials = Vec::new();
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
        let receivers = receivers(
            mode,
            &m.credential_hosts,
            &hosts,
            &setting_names,
            &mut faults,
        );
        match auth(m.auth).and_then(|auth| {
            let placement = Placement::of(&auth).map_err(AuthFault::Placement)?;
            Ok((auth, placement))
        }) {
            Ok((auth, placement)) => {
                credentials.push((mode, placement, receivers));
                modes.push(ModeAuth {
                    mode,
                    auth,
                    credential_hosts: m.credential_hosts,
                });
            }
            Err(why) => faults.push(Fault::Auth { mode, why }),
        }
    }

    let mut actions = Vec::new();
    let mut input_validators = HashMap::new();
    let mut output_validators = HashMap::new();
    let mut names = HashSet::new();
    for a in raw.actions {
        if !is_identifier(&a.name, false) {
            faults.push(Fault::ActionName(a.name.clone()));
        }
        if !names.insert(a.name.clone()) {
            faults.push(Fault::DuplicateAction(a.name.clone()));
        }
        let input = schema(
            &format!("action `{}`'s input", a.name),
            &a.input_schema,
            &mut patterns_left,
        );
        let output = schema(
            &format!("action `{}`'s output", a.name),
            &a.output_schema,
            &mut patterns_left,
        );
        match (input, output) {
            (Ok((input_schema, validator)), Ok((output_schema, output_validator))) => {
                input_validators.insert(a.name.clone(), validator);
                output_validators.insert(a.name.clone(), output_validator);
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
            settings,
            allowed_hosts: raw.allowed_hosts,
            actions,
        },
        hosts,
        credentials,
        setting_validators,
        input_validators,
        output_validators,
    })
}

/// The hosts that receive `mode`'s credential, each within an allowed host;
/// what is wrong with them goes to `faults`.
fn receivers(
    mode: Mode,
    entries: &[String],
    allowed: &[DeclaredHost],
    settings: &[&str],
    faults: &mut Vec<Fault>,
) -> Vec<DeclaredHost> {
    if entries.is_empty() {
        faults.push(Fault::NoCredentialHost(mode));
    }
    let mut receivers = Vec::new();
    for entry in entries {
        match DeclaredHost::parse(entry, settings) {
            Ok(host) if allowed.iter().any(|a| host.within(a)) => receivers.push(host),
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
        wit::Auth::ApiKey(key) => {
            if !key.fields.iter().any(|f| f.secret) {
                return Err(AuthFault::NoSecretField);
            }
            let mut names = HashSet::new();
            for field in &key.fields {
                if !is_identifier(&field.name, false) || !names.insert(field.name.as_str()) {
                    return Err(AuthFault::FieldName(field.name.clone()));
                }
                if field.label.trim().is_empty() {
                    return Err(AuthFault::FieldLabel(field.name.clone()));
                }
            }
            Ok(Auth::ApiKey {
                placement: placement(key.placement)?,
                fields: key
                    .fields
                    .into_iter()
                    .map(|f| CredentialField {
                        name: f.name,
                        label: f.label,
                        secret: f.secret,
                    })
                    .collect(),
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

/// A typed credential's placement, its names checked (its templates are
/// checked against the fields by [`Placement::of`]).
fn placement(raw: wit::Placement) -> Result<crate::model::Placement, AuthFault> {
    use crate::model::Placement as P;
    Ok(match raw {
        wit::Placement::Bearer(value) => P::Bearer { value },
        wit::Placement::Basic(b) => P::Basic {
            user: b.user,
            password: b.password,
        },
        wit::Placement::Query(q) => {
            if q.name.is_empty()
                || !q
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            {
                return Err(AuthFault::QueryParameter(q.name));
            }
            P::Query {
                name: q.name,
                value: q.value,
            }
        }
        wit::Placement::Header(h) => {
            let name = reqwest::header::HeaderName::from_bytes(h.name.as_bytes())
                .map_err(|_| AuthFault::HeaderName(h.name.clone()))?;
            if name == reqwest::header::AUTHORIZATION {
                return Err(AuthFault::AuthorizationHeader(h.name));
            }
            // The host sets these itself (and the user agent names the
            // host, not the key).
            if network::host_owned(name.as_str()) || name == reqwest::header::USER_AGENT {
                return Err(AuthFault::HostOwnedHeader(h.name));
            }
            P::Header {
                name: h.name,
                value: h.value,
            }
        }
    })
}

/// The texts of a placement: header or parameter names and templates.
fn templates(placement: &wit::Placement) -> impl Iterator<Item = &str> {
    let texts: [&str; 2] = match placement {
        wit::Placement::Bearer(value) => [value, ""],
        wit::Placement::Basic(b) => [&b.user, &b.password],
        wit::Placement::Header(n) | wit::Placement::Query(n) => [&n.name, &n.value],
    };
    texts.into_iter()
}

/// Every count and length over its bound, in the manifest's order.
fn over_limits(raw: &wit::Manifest) -> Vec<Fault> {
    let chars = |text: &str| text.chars().count();
    let mut checks = vec![
        (
            "the name (characters)".to_owned(),
            chars(&raw.name),
            bounds::NAME_CHARS,
        ),
        (
            "the description (characters)".to_owned(),
            chars(&raw.description),
            bounds::DESCRIPTION_CHARS,
        ),
        (
            "the number of actions".to_owned(),
            raw.actions.len(),
            bounds::ACTIONS,
        ),
        (
            "the number of allowed hosts".to_owned(),
            raw.allowed_hosts.len(),
            bounds::HOSTS,
        ),
        (
            "the number of settings".to_owned(),
            raw.settings.len(),
            bounds::SETTINGS,
        ),
    ];
    for setting in raw.settings.iter().take(bounds::SETTINGS) {
        checks.extend([
            (
                format!("setting `{}`'s schema (bytes)", setting.name),
                setting.schema.len(),
                bounds::SCHEMA_BYTES,
            ),
            (
                "a setting's name or label (characters)".to_owned(),
                chars(&setting.name).max(chars(&setting.label)),
                bounds::NAME_CHARS,
            ),
            (
                format!("setting `{}`'s description (characters)", setting.name),
                chars(&setting.description),
                bounds::ACTION_DESCRIPTION_CHARS,
            ),
        ]);
    }
    for m in &raw.modes {
        checks.push((
            "a mode's number of credential hosts".to_owned(),
            m.credential_hosts.len(),
            bounds::HOSTS,
        ));
        match &m.auth {
            wit::Auth::Oauth2(o) => checks.push((
                "a mode's number of scopes".to_owned(),
                o.scopes.len(),
                bounds::SCOPES,
            )),
            wit::Auth::ApiKey(key) => {
                checks.push((
                    "a mode's number of credential fields".to_owned(),
                    key.fields.len(),
                    bounds::FIELDS,
                ));
                let longest = key
                    .fields
                    .iter()
                    .take(bounds::FIELDS)
                    .map(|f| chars(&f.name).max(chars(&f.label)))
                    .chain(templates(&key.placement).map(chars))
                    .max()
                    .unwrap_or(0);
                checks.push((
                    "a credential field's name or label, or a placement's template (characters)"
                        .to_owned(),
                    longest,
                    bounds::NAME_CHARS,
                ));
            }
        }
    }
    // Each action only once there are not too many of them to look at.
    if raw.actions.len() <= bounds::ACTIONS {
        for a in &raw.actions {
            checks.push((
                format!("action `{}`'s description (characters)", a.name),
                chars(&a.description),
                bounds::ACTION_DESCRIPTION_CHARS,
            ));
            for (which, text) in [("input", &a.input_schema), ("output", &a.output_schema)] {
                checks.push((
                    format!("action `{}`'s {which} schema (bytes)", a.name),
                    text.len(),
                    bounds::SCHEMA_BYTES,
                ));
            }
        }
    }
    checks
        .into_iter()
        .filter(|(_, size, limit)| size > limit)
        .map(|(what, size, limit)| Fault::OverLimit { what, size, limit })
        .collect()
}

/// The depth of a JSON value and its regular expressions (`pattern`
/// values and `patternProperties` keys), which the validator compiles.
fn shape_of(value: &serde_json::Value) -> (usize, Vec<&str>) {
    use serde_json::Value;
    let mut patterns = Vec::new();
    let mut deepest = 0;
    let mut stack = vec![(value, 1)];
    while let Some((value, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    match (key.as_str(), child) {
                        ("pattern", Value::String(p)) => patterns.push(p.as_str()),
                        ("patternProperties", Value::Object(props)) => {
                            patterns.extend(props.keys().map(String::as_str))
                        }
                        _ => {}
                    }
                    stack.push((child, depth + 1));
                }
            }
            Value::Array(items) => stack.extend(items.iter().map(|item| (item, depth + 1))),
            _ => {}
        }
    }
    (deepest, patterns)
}

/// A schema, `of` whom the faults speak ("action `search`'s input").
fn schema(
    of: &str,
    text: &str,
    patterns_left: &mut usize,
) -> Result<(serde_json::Value, jsonschema::Validator), Fault> {
    let fault = |why: String| Fault::Schema {
        of: of.to_owned(),
        why,
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| fault(format!("is not JSON: {e}")))?;
    let (depth, patterns) = shape_of(&value);
    let over = |what: &str, size, limit| Fault::OverLimit {
        what: format!("{of} schema {what}"),
        size,
        limit,
    };
    if depth > bounds::SCHEMA_DEPTH {
        return Err(over("depth", depth, bounds::SCHEMA_DEPTH));
    }
    if let Some(long) = patterns.iter().map(|p| p.chars().count()).max()
        && long > bounds::PATTERN_CHARS
    {
        return Err(over("pattern (characters)", long, bounds::PATTERN_CHARS));
    }
    if patterns.len() > *patterns_left {
        return Err(Fault::OverLimit {
            what: "the number of patterns in all schemas".to_owned(),
            size: bounds::PATTERNS - *patterns_left + patterns.len(),
            limit: bounds::PATTERNS,
        });
    }
    *patterns_left -= patterns.len();
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
