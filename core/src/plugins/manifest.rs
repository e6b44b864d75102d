//! Checking what a plugin says about itself before anyone relies on it.

use super::bindings::switchboard::connector::types as wit;
use super::network::HostPattern;
use crate::model::{ActionSpec, Auth, IntegrationId, Manifest, Mode, ModeAuth};
use std::collections::{HashMap, HashSet};

/// A manifest that passed validation, with what the host derives from it.
pub struct Validated {
    pub manifest: Manifest,
    pub hosts: Vec<HostPattern>,
    pub input_validators: HashMap<String, jsonschema::Validator>,
}

/// Validates a manifest; the error lists every fault found.
pub fn validate(raw: wit::Manifest) -> Result<Validated, String> {
    let mut faults = Vec::new();
    if !is_identifier(&raw.id, true) {
        faults.push(format!(
            "id `{}` must be 1-64 lowercase letters, digits, `-` or `_`",
            raw.id
        ));
    }
    if raw.name.trim().is_empty() {
        faults.push("name is empty".to_owned());
    }
    if !is_semver(&raw.version) {
        faults.push(format!(
            "version `{}` is not semver (e.g. 1.2.0)",
            raw.version
        ));
    }

    let mut modes = Vec::new();
    if raw.modes.is_empty() {
        faults.push("no mode is supported".to_owned());
    }
    for m in raw.modes {
        let mode = match m.mode {
            wit::Mode::User => Mode::User,
            wit::Mode::Workspace => Mode::Workspace,
        };
        if modes.iter().any(|known: &ModeAuth| known.mode == mode) {
            faults.push(format!("mode `{mode}` is listed twice"));
        }
        match auth(m.auth) {
            Ok(auth) => modes.push(ModeAuth { mode, auth }),
            Err(fault) => faults.push(format!("mode `{mode}`: {fault}")),
        }
    }

    let mut hosts = Vec::new();
    for entry in &raw.allowed_hosts {
        match HostPattern::parse(entry) {
            Ok(pattern) => hosts.push(pattern),
            Err(fault) => faults.push(format!("allowed host {fault}")),
        }
    }

    let mut actions = Vec::new();
    let mut input_validators = HashMap::new();
    let mut names = HashSet::new();
    for a in raw.actions {
        if !is_identifier(&a.name, false) {
            faults.push(format!("action name `{}` must be snake_case", a.name));
        }
        if !names.insert(a.name.clone()) {
            faults.push(format!("action `{}` is listed twice", a.name));
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
        return Err(faults.join("; "));
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
        input_validators,
    })
}

fn auth(raw: wit::Auth) -> Result<Auth, String> {
    match raw {
        wit::Auth::ApiKey(wit::ApiKeyPlacement::Query(parameter)) => {
            if parameter.is_empty()
                || !parameter
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            {
                return Err(format!("query parameter `{parameter}` is not a plain name"));
            }
            Ok(Auth::ApiKeyQuery { parameter })
        }
        wit::Auth::ApiKey(wit::ApiKeyPlacement::Header(h)) => {
            let name = reqwest::header::HeaderName::from_bytes(h.name.as_bytes())
                .map_err(|_| format!("`{}` is not a header name", h.name))?;
            if matches!(name.as_str(), "authorization" | "cookie" | "host")
                || name.as_str().starts_with("proxy-")
            {
                return Err(format!("the key cannot go in `{}`", h.name));
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
                    _ => return Err(format!("`{url}` is not an https URL")),
                }
            }
            if o.scopes.is_empty() {
                return Err("OAuth 2.0 needs at least one scope".to_owned());
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
    which: &str,
    text: &str,
) -> Result<(serde_json::Value, jsonschema::Validator), String> {
    let fault = |why: String| format!("action `{action}`: {which} schema {why}");
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

fn is_semver(s: &str) -> bool {
    let core = s.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<_> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}
