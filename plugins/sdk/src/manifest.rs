use crate::action::ActionSet;
use crate::bindings::switchboard::connector::types as wit;

pub use wit::Mode;

/// How a mode authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    /// One API key (a credential of one secret field, `key`), placed where
    /// the service expects it.
    ApiKey(ApiKeyPlacement),
    /// A credential of several fields people type in, e.g. an email and
    /// an API token.
    Credential(Credential),
    /// OAuth 2.0 authorization code; the host sends `Authorization: Bearer`.
    OAuth2(OAuth2),
}

/// Where the host puts an API key.
#[derive(Debug, Clone)]
pub enum ApiKeyPlacement {
    /// `?name=<key>`
    Query(String),
    /// `name: <prefix><key>`
    Header {
        name: String,
        prefix: Option<String>,
    },
    /// `Authorization: Bearer <key>`
    Bearer,
}

/// A credential of one or more fields, and where the host puts them:
/// `Credential::new(Placement::basic("{email}/token", "{api_token}"))
/// .field("email", "Agent email", false).field("api_token", "API token", true)`.
#[derive(Debug, Clone)]
pub struct Credential {
    fields: Vec<(String, String, bool)>,
    placement: Placement,
}

impl Credential {
    pub fn new(placement: Placement) -> Self {
        Credential {
            fields: Vec::new(),
            placement,
        }
    }

    /// A field people type in, in form order: `name` (snake_case) is what
    /// the placement's templates write as `{name}`; a `secret` field is
    /// never shown again once saved.
    pub fn field(mut self, name: &str, label: &str, secret: bool) -> Self {
        self.fields
            .push((name.to_owned(), label.to_owned(), secret));
        self
    }
}

/// Where the host puts a credential. Values are templates: `{name}` is the
/// credential field `name`, `{{` and `}}` are braces.
#[derive(Debug, Clone)]
pub enum Placement {
    /// `Authorization: Bearer <value>`
    Bearer(String),
    /// `Authorization: Basic <base64 of user:password>`
    Basic { user: String, password: String },
    /// `name: <value>`
    Header { name: String, value: String },
    /// `?name=<value>`
    Query { name: String, value: String },
}

impl Placement {
    pub fn basic(user: &str, password: &str) -> Self {
        Placement::Basic {
            user: user.to_owned(),
            password: password.to_owned(),
        }
    }
}

/// OAuth 2.0 endpoints and scopes of a mode.
#[derive(Debug, Clone)]
pub struct OAuth2 {
    pub authorize_url: String,
    pub token_url: String,
    pub revocation_url: Option<String>,
    pub scopes: Vec<String>,
    pub pkce: bool,
}

/// The account a credential belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub label: String,
    pub detail: Option<String>,
}

impl Account {
    pub fn new(label: impl Into<String>) -> Self {
        Account {
            label: label.into(),
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Who the connector is: built with [`Manifest::new`] and its chained setters.
#[derive(Debug, Clone)]
pub struct Manifest {
    id: String,
    name: String,
    description: String,
    version: String,
    modes: Vec<(Mode, Auth, Vec<String>)>,
    settings: Vec<wit::Setting>,
    allowed_hosts: Vec<String>,
}

impl Manifest {
    /// `id` is unique among plugins (lowercase, digits, `-`, `_`); `version`
    /// is the connector's own semver, usually `env!("CARGO_PKG_VERSION")`.
    pub fn new(id: &str, name: &str, version: &str) -> Self {
        Manifest {
            id: id.to_owned(),
            name: name.to_owned(),
            description: String::new(),
            version: version.to_owned(),
            modes: Vec::new(),
            settings: Vec::new(),
            allowed_hosts: Vec::new(),
        }
    }

    pub fn description(mut self, description: &str) -> Self {
        self.description = description.to_owned();
        self
    }

    /// Support a mode, authenticated as given, with the credential sent
    /// only to `credential_hosts` (each one of the [`host`](Self::host)s
    /// or within one). Admins see these hosts before they enable the mode.
    pub fn mode(mut self, mode: Mode, auth: Auth, credential_hosts: &[&str]) -> Self {
        let hosts = credential_hosts.iter().map(|h| (*h).to_owned()).collect();
        self.modes.push((mode, auth, hosts));
        self
    }

    /// A setting each workspace's admin enters (required), e.g. a
    /// subdomain; `{name}` may then start a host: `{subdomain}.zendesk.com`.
    /// `schema` is the JSON Schema of the value, a string. Read it in a
    /// call with [`crate::settings::get`].
    pub fn setting(
        mut self,
        name: &str,
        label: &str,
        description: &str,
        schema: serde_json::Value,
    ) -> Self {
        self.settings.push(wit::Setting {
            name: name.to_owned(),
            label: label.to_owned(),
            description: description.to_owned(),
            schema: schema.to_string(),
        });
        self
    }

    /// Allow calls to a host (`api.example.com`, `host:port`,
    /// `*.example.com`, `{setting}.example.com`).
    pub fn host(mut self, host: &str) -> Self {
        self.allowed_hosts.push(host.to_owned());
        self
    }

    pub(crate) fn into_wit(self, actions: &ActionSet) -> wit::Manifest {
        wit::Manifest {
            id: self.id,
            name: self.name,
            description: self.description,
            version: self.version,
            modes: self
                .modes
                .into_iter()
                .map(|(mode, auth, credential_hosts)| wit::ModeAuth {
                    mode,
                    auth: auth.into(),
                    credential_hosts,
                })
                .collect(),
            settings: self.settings,
            allowed_hosts: self.allowed_hosts,
            actions: actions.describe(),
        }
    }
}

impl From<Auth> for wit::Auth {
    fn from(auth: Auth) -> Self {
        let one_key = |placement| Credential::new(placement).field("key", "API key", true);
        let credential = match auth {
            Auth::ApiKey(ApiKeyPlacement::Query(name)) => one_key(Placement::Query {
                name,
                value: "{key}".into(),
            }),
            Auth::ApiKey(ApiKeyPlacement::Header { name, prefix }) => {
                let prefix = prefix
                    .unwrap_or_default()
                    .replace('{', "{{")
                    .replace('}', "}}");
                one_key(Placement::Header {
                    name,
                    value: format!("{prefix}{{key}}"),
                })
            }
            Auth::ApiKey(ApiKeyPlacement::Bearer) => one_key(Placement::Bearer("{key}".into())),
            Auth::Credential(credential) => credential,
            Auth::OAuth2(o) => {
                return wit::Auth::Oauth2(wit::Oauth2 {
                    authorize_url: o.authorize_url,
                    token_url: o.token_url,
                    revocation_url: o.revocation_url,
                    scopes: o.scopes,
                    pkce: o.pkce,
                });
            }
        };
        wit::Auth::ApiKey(wit::ApiKey {
            fields: credential
                .fields
                .into_iter()
                .map(|(name, label, secret)| wit::CredentialField {
                    name,
                    label,
                    secret,
                })
                .collect(),
            placement: match credential.placement {
                Placement::Bearer(value) => wit::Placement::Bearer(value),
                Placement::Basic { user, password } => {
                    wit::Placement::Basic(wit::BasicCredentials { user, password })
                }
                Placement::Header { name, value } => {
                    wit::Placement::Header(wit::NamedValue { name, value })
                }
                Placement::Query { name, value } => {
                    wit::Placement::Query(wit::NamedValue { name, value })
                }
            },
        })
    }
}

impl From<Account> for wit::Account {
    fn from(a: Account) -> Self {
        wit::Account {
            label: a.label,
            detail: a.detail,
        }
    }
}
