//! The credential a call carries, where a manifest says it goes, and
//! whether the manifest's sign-in endpoints agree with the operator's.

use super::Refusal;
use super::network::HostPattern;
use crate::model::{self, Auth};
use crate::oauth::Endpoints;
use crate::vault::Secret;
use reqwest::header::{AUTHORIZATION, HeaderName};
use std::sync::Arc;

/// One piece of a placement's value: text, or a credential field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(usize),
}

/// A placement's value as the manifest spells it: `Apikey {key}`, where
/// `{key}` stands for the credential field `key`, and `{{` and `}}` for
/// braces.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Template(Vec<Piece>);

impl Template {
    /// `text` with its fields looked up among `fields`; the error says
    /// what is wrong, for the manifest's author.
    fn parse(text: &str, fields: &[(String, bool)]) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err(format!("`{text}` has a `{{` without its `}}`")),
                        }
                    }
                    let index = fields
                        .iter()
                        .position(|(field, _)| *field == name)
                        .ok_or_else(|| format!("`{text}` names `{{{name}}}`, which is not a field of the credential"))?;
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Field(index));
                }
                '}' => {
                    return Err(format!(
                        "`{text}` has a `}}` without its `{{` (write `}}}}` for a brace)"
                    ));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template(pieces))
    }

    /// This template after the text `prefix`.
    fn prefixed(mut self, prefix: &str) -> Self {
        self.0.insert(0, Piece::Text(prefix.to_owned()));
        self
    }

    fn fields(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().filter_map(|p| match p {
            Piece::Field(i) => Some(*i),
            Piece::Text(_) => None,
        })
    }

    fn render(&self, values: &[Secret]) -> String {
        self.0
            .iter()
            .map(|piece| match piece {
                Piece::Text(text) => text.as_str(),
                Piece::Field(i) => values.get(*i).map_or("", |v| v.expose()),
            })
            .collect()
    }
}

/// Where a mode's credential goes, worked out from the manifest at load.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The credential's fields, in the manifest's order, and whether each
    /// is secret.
    fields: Vec<(String, bool)>,
    target: Target,
}

#[derive(Debug, Clone)]
enum Target {
    /// A header and its value.
    Header(HeaderName, Template),
    /// `Authorization: Basic`, from a user and a password.
    Basic(Template, Template),
    /// A query parameter and its value.
    Query(String, Template),
}

impl Placement {
    /// Where `auth` puts the credential; the error says what is wrong
    /// with it, for the manifest's author.
    pub(super) fn of(auth: &Auth) -> Result<Self, String> {
        let (fields, placement) = match auth {
            Auth::ApiKey { fields, placement } => (
                fields
                    .iter()
                    .map(|f| (f.name.clone(), f.secret))
                    .collect::<Vec<_>>(),
                placement,
            ),
            // The access token, sent as a bearer token.
            Auth::OAuth2 { .. } => {
                return Ok(Placement {
                    fields: vec![("access_token".to_owned(), true)],
                    target: Target::Header(
                        AUTHORIZATION,
                        Template(vec![Piece::Field(0)]).prefixed("Bearer "),
                    ),
                });
            }
        };
        let template = |text: &str| Template::parse(text, &fields);
        let target = match placement {
            model::Placement::Bearer { value } => {
                Target::Header(AUTHORIZATION, template(value)?.prefixed("Bearer "))
            }
            model::Placement::Basic { user, password } => {
                Target::Basic(template(user)?, template(password)?)
            }
            model::Placement::Header { name, value } => Target::Header(
                name.parse()
                    .map_err(|_| format!("`{name}` is not a header name"))?,
                template(value)?,
            ),
            model::Placement::Query { name, value } => {
                Target::Query(name.clone(), template(value)?)
            }
        };
        let used: Vec<usize> = match &target {
            Target::Header(_, t) | Target::Query(_, t) => t.fields().collect(),
            Target::Basic(user, password) => user.fields().chain(password.fields()).collect(),
        };
        if let Some((unused, _)) = fields
            .iter()
            .enumerate()
            .find(|(i, (_, secret))| *secret && !used.contains(i))
            .map(|(_, field)| field)
        {
            return Err(format!(
                "the secret field `{unused}` is not sent anywhere in the placement"
            ));
        }
        Ok(Placement { fields, target })
    }

    /// The call's credential from its stored `secret`: the value itself
    /// for a credential of one field, a JSON object of every field's value
    /// for several. The error names a missing field.
    pub(super) fn credential(
        &self,
        secret: Secret,
        receivers: Arc<[HostPattern]>,
    ) -> Result<Credential, String> {
        let values = match self.fields.as_slice() {
            [_] => vec![secret],
            fields => {
                let object: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(secret.expose())
                        .map_err(|_| "the stored credential is not its fields".to_owned())?;
                fields
                    .iter()
                    .map(|(name, _)| {
                        object
                            .get(name)
                            .and_then(|v| v.as_str())
                            .map(Secret::new)
                            .ok_or_else(|| format!("the credential has no `{name}`"))
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        let mut also_secret = Vec::new();
        let rendered = match &self.target {
            Target::Header(name, value) => {
                Rendered::Header(name.clone(), Secret::new(value.render(&values)))
            }
            Target::Basic(user, password) => {
                use base64::Engine as _;
                let pair = Secret::new(format!(
                    "{}:{}",
                    user.render(&values),
                    password.render(&values)
                ));
                let encoded =
                    Secret::new(base64::engine::general_purpose::STANDARD.encode(pair.expose()));
                // Echoed whole or in part, none of these spells a field.
                also_secret.extend([pair, encoded.clone()]);
                Rendered::Header(
                    AUTHORIZATION,
                    Secret::new(format!("Basic {}", encoded.expose())),
                )
            }
            Target::Query(name, value) => {
                Rendered::Query(name.clone(), Secret::new(value.render(&values)))
            }
        };
        let secrets = values
            .into_iter()
            .zip(&self.fields)
            .filter(|(_, (_, secret))| *secret)
            .map(|(value, _)| value)
            .chain(also_secret)
            .collect();
        Ok(Credential {
            rendered,
            secrets,
            receivers,
        })
    }
}

/// The credential as it goes out.
#[derive(Debug, Clone)]
pub(super) enum Rendered {
    /// A header and its value.
    Header(HeaderName, Secret),
    /// A query parameter and its value.
    Query(String, Secret),
}

/// The credential of one call.
#[derive(Debug, Clone)]
pub struct Credential {
    /// What an authenticated request carries.
    pub(super) rendered: Rendered,
    /// What must never leave the sandbox: each secret field's value, and
    /// what is made of them that spells none of them (Basic's pair and
    /// its base64).
    secrets: Vec<Secret>,
    /// The hosts an authenticated request may go to.
    pub(super) receivers: Arc<[HostPattern]>,
}

impl Credential {
    /// Every secret text of the credential, for scrubbing.
    pub(super) fn secrets(&self) -> Vec<&[u8]> {
        self.secrets.iter().map(|s| s.expose().as_bytes()).collect()
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CredentialField;

    fn typed(fields: &[(&str, bool)], placement: model::Placement) -> Auth {
        Auth::ApiKey {
            fields: fields
                .iter()
                .map(|(name, secret)| CredentialField {
                    name: (*name).into(),
                    label: (*name).into(),
                    secret: *secret,
                })
                .collect(),
            placement,
        }
    }

    fn header(credential: &Credential) -> (String, String) {
        match &credential.rendered {
            Rendered::Header(name, value) => (name.to_string(), value.expose().to_owned()),
            Rendered::Query(name, value) => (format!("?{name}"), value.expose().to_owned()),
        }
    }

    #[test]
    fn basic_takes_an_email_and_a_token_and_scrubs_what_it_sends() {
        let auth = typed(
            &[("email", false), ("api_token", true)],
            model::Placement::Basic {
                user: "{email}/token".into(),
                password: "{api_token}".into(),
            },
        );
        let placement = Placement::of(&auth).unwrap();
        let stored = Secret::new(r#"{"email":"ada@acme.test","api_token":"tok-123"}"#);
        let credential = placement.credential(stored, Arc::from(Vec::new())).unwrap();
        let (name, value) = header(&credential);
        assert_eq!(name, "authorization");
        // base64("ada@acme.test/token:tok-123")
        assert_eq!(value, "Basic YWRhQGFjbWUudGVzdC90b2tlbjp0b2stMTIz");
        let secrets: Vec<&[u8]> = credential.secrets();
        let encoded = value.strip_prefix("Basic ").unwrap();
        assert_eq!(
            secrets,
            [
                b"tok-123".as_slice(),
                b"ada@acme.test/token:tok-123",
                encoded.as_bytes()
            ]
        );
        // The email is not secret, so not scrubbed.
        assert!(!secrets.contains(&b"ada@acme.test".as_slice()));

        let missing = Secret::new(r#"{"email":"ada@acme.test"}"#);
        let err = placement
            .credential(missing, Arc::from(Vec::new()))
            .unwrap_err();
        assert_eq!(err, "the credential has no `api_token`");
    }

    #[test]
    fn templates_take_braces_and_refuse_what_does_not_fit_the_fields() {
        let one = |value: &str| {
            Placement::of(&typed(
                &[("key", true)],
                model::Placement::Header {
                    name: "x-api-key".into(),
                    value: value.into(),
                },
            ))
        };
        let placement = one("{{Apikey}} {key}").unwrap();
        let credential = placement
            .credential(Secret::new("k-1"), Arc::from(Vec::new()))
            .unwrap();
        assert_eq!(
            header(&credential),
            ("x-api-key".into(), "{Apikey} k-1".into())
        );
        assert_eq!(
            one("{token}").unwrap_err(),
            "`{token}` names `{token}`, which is not a field of the credential"
        );
        assert_eq!(
            one("key}").unwrap_err(),
            "`key}` has a `}` without its `{` (write `}}` for a brace)"
        );
        assert_eq!(one("{key").unwrap_err(), "`{key` has a `{` without its `}`");
        assert_eq!(
            one("Apikey").unwrap_err(),
            "the secret field `key` is not sent anywhere in the placement"
        );
    }

    #[test]
    fn bearer_and_query_placements() {
        let bearer = Placement::of(&typed(
            &[("token", true)],
            model::Placement::Bearer {
                value: "{token}".into(),
            },
        ))
        .unwrap();
        let credential = bearer
            .credential(Secret::new("ghp_abc"), Arc::from(Vec::new()))
            .unwrap();
        assert_eq!(
            header(&credential),
            ("authorization".into(), "Bearer ghp_abc".into())
        );
        let query = Placement::of(&typed(
            &[("key", true)],
            model::Placement::Query {
                name: "key".into(),
                value: "{key}".into(),
            },
        ))
        .unwrap();
        let credential = query
            .credential(Secret::new("q-1"), Arc::from(Vec::new()))
            .unwrap();
        assert_eq!(header(&credential), ("?key".into(), "q-1".into()));
        assert_eq!(credential.secrets(), [b"q-1".as_slice()]);
    }
}
