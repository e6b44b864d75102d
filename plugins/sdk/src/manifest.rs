use crate::action::ActionSet;
use crate::bindings::switchboard::connector::types as wit;

pub use wit::Mode;

/// How a mode authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    /// An API key, placed where the service expects it.
    ApiKey(ApiKeyPlacement),
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

    /// Allow calls to a host (`api.example.com`, `host:port`, `*.example.com`).
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
            allowed_hosts: self.allowed_hosts,
            actions: actions.describe(),
        }
    }
}

impl From<Auth> for wit::Auth {
    fn from(auth: Auth) -> Self {
        match auth {
            Auth::ApiKey(ApiKeyPlacement::Query(name)) => {
                wit::Auth::ApiKey(wit::ApiKeyPlacement::Query(name))
            }
            Auth::ApiKey(ApiKeyPlacement::Header { name, prefix }) => {
                wit::Auth::ApiKey(wit::ApiKeyPlacement::Header(wit::HeaderPlacement {
                    name,
                    prefix,
                }))
            }
            Auth::OAuth2(o) => wit::Auth::Oauth2(wit::Oauth2 {
                authorize_url: o.authorize_url,
                token_url: o.token_url,
                revocation_url: o.revocation_url,
                scopes: o.scopes,
                pkce: o.pkce,
            }),
        }
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
