//! The operator's configuration of `switchboard serve`: a TOML file
//! (`--config`), then the environment (`SWITCHBOARD_` and the key path in
//! capitals, `__` between parts: `SWITCHBOARD_OAUTH__SHAREPOINT__CLIENT_ID`),
//! then flags. Client secrets come from the environment or a file only,
//! never the config file, and are never printed. Relative paths in the
//! file are relative to the file.

use crate::publisher::parse_pin;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::magic::RelativePathBuf;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use switchboard::Location;
use switchboard::engine::{CallShares, ReturnUrls};
use switchboard::model::IntegrationId;
use switchboard::oauth::{
    AssertionKey, ClientAuth, Endpoints, MicrosoftTenant, Provider, Registration,
};
use switchboard::plugins::pins::Pin;
use switchboard::vault::Secret;
use switchboard_server::edge::EdgeLimits;
use url::Url;

/// The environment's prefix for configuration keys.
const ENV_PREFIX: &str = "SWITCHBOARD_";
/// Variables under the prefix that are secrets read elsewhere, not keys.
const NOT_KEYS: &[&str] = &[
    "config",
    "proxy_dns",
    "master_key",
    "service_tokens_sha256",
    "service_token",
    "webhook_secret",
];

/// The file and environment as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    listen: Option<SocketAddr>,
    data: Option<RelativePathBuf>,
    plugins: Option<RelativePathBuf>,
    policies: Option<RelativePathBuf>,
    /// The service's URL as browsers reach it; redirect URIs are built on it.
    public_url: Option<String>,
    #[serde(default)]
    return_origins: Vec<String>,
    default_return_url: Option<String>,
    #[serde(default)]
    pins: BTreeMap<String, String>,
    #[serde(default)]
    webhooks: Vec<String>,
    /// Connections open at once; one past it is answered 503 and closed.
    max_connections: Option<usize>,
    /// Seconds a request's headers may take (and an idle connection stays).
    header_read_timeout_s: Option<u64>,
    /// Seconds a request's body may take.
    body_read_timeout_s: Option<u64>,
    /// Calls one member may have running at once.
    calls_per_member: Option<usize>,
    /// Calls one workspace may have running at once.
    calls_per_workspace: Option<usize>,
    /// Recent answers kept of each kind for the same question asked again.
    kept_answers: Option<usize>,
    #[serde(default)]
    oauth: BTreeMap<String, WrittenClient>,
}

/// One integration's OAuth client, as written. The secret itself is never
/// read through here (its value would be parsed, and quoted in errors):
/// only whether a source put one, so one in the file can be refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenClient {
    client_id: Option<String>,
    client_auth: Option<String>,
    client_secret: Option<Present>,
    client_secret_file: Option<RelativePathBuf>,
    private_key_file: Option<RelativePathBuf>,
    certificate_file: Option<RelativePathBuf>,
    key_id: Option<String>,
    algorithm: Option<String>,
    microsoft_tenant: Option<String>,
    issuer: Option<String>,
    authorize_url: Option<String>,
    token_url: Option<String>,
    revocation_url: Option<String>,
    redirect_uri: Option<String>,
}

/// A value that is there, whatever it is; never kept.
#[derive(Debug)]
struct Present;

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| Present)
    }
}

/// What flags say; only those given override the file and environment.
#[derive(Debug, Default, Serialize)]
pub struct Flags {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugins: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies: Option<PathBuf>,
}

/// Everything `serve` runs with, checked.
#[derive(Debug)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub data: Location,
    /// `None`: the first-party components built into the binary.
    pub plugins: Option<PathBuf>,
    /// `None`: the policies built into the binary.
    pub policies: Option<PathBuf>,
    pub public_url: Option<Url>,
    pub return_urls: ReturnUrls,
    pub pins: HashMap<IntegrationId, Pin>,
    pub webhooks: Vec<String>,
    pub edge: EdgeLimits,
    pub call_shares: CallShares,
    /// How many recent answers the engine keeps of each kind.
    pub kept: usize,
    pub oauth: HashMap<IntegrationId, Registration>,
    /// Where each client secret came from, for `config check` to say.
    pub secret_sources: BTreeMap<String, String>,
}

/// The most answers of each kind `kept_answers` may ask the engine to keep;
/// each kind is a cache of its own, so memory grows with it several times.
pub const MOST_KEPT_ANSWERS: usize = 100_000;

/// Every fault of a configuration, each naming its key.
#[derive(Debug, thiserror::Error)]
#[error("the configuration is invalid:\n  {}", .0.join("\n  "))]
pub struct ConfigError(pub Vec<String>);

/// Reads the file (if any), the environment and the flags, and checks all.
pub fn load(file: Option<&Path>, flags: Flags) -> Result<ServeConfig, ConfigError> {
    let mut figment = Figment::new();
    if let Some(file) = file {
        if !file.is_file() {
            return Err(ConfigError(vec![format!(
                "{}: no such configuration file",
                file.display()
            )]));
        }
        figment = figment.merge(Toml::file_exact(file));
    }
    let figment = figment
        .merge(
            Env::prefixed(ENV_PREFIX)
                .split("__")
                .ignore(NOT_KEYS)
                .lowercase(true),
        )
        .merge(Serialized::globals(flags));
    let written: Written = figment
        .extract()
        .map_err(|e| ConfigError(e.into_iter().map(|e| e.to_string()).collect()))?;
    check(&figment, written)
}

/// Where the console is, under the service's public URL.
pub fn console_url(base: &Url) -> Result<Url, url::ParseError> {
    Url::parse(&format!("{}/console/", base.as_str().trim_end_matches('/')))
}

/// Turns what is written into what `serve` runs with, gathering every fault.
fn check(figment: &Figment, written: Written) -> Result<ServeConfig, ConfigError> {
    let mut faults = Vec::new();
    let public_url = written
        .public_url
        .as_deref()
        .and_then(|url| match Url::parse(url.trim()) {
            Ok(url) if url.scheme() == "https" && url.host_str().is_some() => Some(url),
            // Browsers keep the sign-in's Secure cookie over http only on loopback.
            Ok(url) if url.scheme() == "http" && is_loopback(&url) => Some(url),
            _ => {
                faults.push(format!(
                    "public_url: `{url}` is not an https URL (http only on loopback)"
                ));
                None
            }
        });
    let return_urls = ReturnUrls::new(
        &written.return_origins,
        written.default_return_url.as_deref(),
    )
    .unwrap_or_else(|e| {
        faults.push(format!("return_origins / default_return_url: {e}"));
        ReturnUrls::default()
    });
    // The console is served beside the API: sign-ins begun there return there.
    let return_urls = match public_url.as_ref().and_then(|base| console_url(base).ok()) {
        Some(console) => return_urls.allow_console(&console),
        None => return_urls,
    };
    let mut pins = HashMap::new();
    for (id, pin) in &written.pins {
        match parse_pin(&format!("{id}={pin}")) {
            Ok((id, pin)) => drop(pins.insert(id, pin)),
            Err(e) => faults.push(format!("pins.{id}: {e}")),
        }
    }
    let mut oauth = HashMap::new();
    let mut secret_sources = BTreeMap::new();
    for (id, client) in written.oauth {
        let key = format!("oauth.{id}");
        let secret_in_file = client.client_secret.is_some()
            && figment
                .find_metadata(&format!("{key}.client_secret"))
                .and_then(|m| m.source.as_ref())
                .and_then(|s| s.file_path())
                .is_some();
        if secret_in_file {
            faults.push(format!(
                "{key}.client_secret: a secret is not written in the config file; set {} or client_secret_file",
                env_name(&format!("{key}.client_secret"))
            ));
            continue;
        }
        // Read as it is, not parsed: a secret of digits stays a string.
        let secret_env = env_name(&format!("{key}.client_secret"));
        let secret = std::env::var(&secret_env).ok();
        let source = match (&secret, &client.client_secret_file) {
            (Some(_), _) => format!("from {secret_env}"),
            (None, Some(file)) => format!("from {}", file.relative().display()),
            (None, None) => String::new(),
        };
        match registration(&id, client, secret, public_url.as_ref()) {
            Ok(registration) => {
                if registration.auth.secret_based() {
                    secret_sources.insert(id.clone(), source);
                }
                oauth.insert(IntegrationId::new(&id), registration);
            }
            Err(why) => faults.extend(why.into_iter().map(|w| format!("{key}.{w}"))),
        }
    }
    let defaults = EdgeLimits::default();
    let seconds = |value: Option<u64>, key: &str, default: std::time::Duration| match value {
        Some(0) => Err(format!("{key}: must be at least 1 second")),
        Some(s) => Ok(std::time::Duration::from_secs(s)),
        None => Ok(default),
    };
    let edge = EdgeLimits {
        header_read: seconds(
            written.header_read_timeout_s,
            "header_read_timeout_s",
            defaults.header_read,
        )
        .unwrap_or_else(|f| {
            faults.push(f);
            defaults.header_read
        }),
        body_read: seconds(
            written.body_read_timeout_s,
            "body_read_timeout_s",
            defaults.body_read,
        )
        .unwrap_or_else(|f| {
            faults.push(f);
            defaults.body_read
        }),
        max_connections: match written.max_connections {
            Some(0) => {
                faults.push("max_connections: must be at least 1".into());
                defaults.max_connections
            }
            Some(n) => n,
            None => defaults.max_connections,
        },
    };
    let shares = CallShares::default();
    let mut at_least_one = |value: Option<usize>, key: &str, default: usize| match value {
        Some(0) => {
            faults.push(format!("{key}: must be at least 1"));
            None
        }
        value => Some(value.unwrap_or(default)),
    };
    let per_member = at_least_one(
        written.calls_per_member,
        "calls_per_member",
        shares.per_member,
    );
    let per_workspace = at_least_one(
        written.calls_per_workspace,
        "calls_per_workspace",
        shares.per_workspace,
    );
    if let (Some(member), Some(workspace)) = (per_member, per_workspace)
        && member > workspace
    {
        faults.push(format!(
            "calls_per_member: {member} is more than calls_per_workspace ({workspace}), so no member could run that many"
        ));
    }
    let call_shares = CallShares {
        per_member: per_member.unwrap_or(shares.per_member),
        per_workspace: per_workspace.unwrap_or(shares.per_workspace),
    };
    let kept = written
        .kept_answers
        .unwrap_or(switchboard::kept::DEFAULT_CAPACITY);
    if kept > MOST_KEPT_ANSWERS {
        faults.push(format!(
            "kept_answers: at most {MOST_KEPT_ANSWERS} (0 keeps none)"
        ));
    }
    if !faults.is_empty() {
        return Err(ConfigError(faults));
    }
    Ok(ServeConfig {
        edge,
        call_shares,
        kept,
        listen: written
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        data: written.data.map_or_else(
            || Location::File(PathBuf::from("switchboard.redb")),
            |p| match Location::parse(&p.original().to_string_lossy()) {
                // A path is read relative to the file that gives it.
                Location::File(_) => Location::File(p.relative()),
                database => database,
            },
        ),
        plugins: written.plugins.map(|p| p.relative()),
        policies: written.policies.map(|p| p.relative()),
        public_url,
        return_urls,
        pins,
        webhooks: written.webhooks,
        oauth,
        secret_sources,
    })
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The environment variable that sets a key.
fn env_name(key: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        key.replace('.', "__").to_ascii_uppercase()
    )
}

/// One integration's registration, or its faults (each `field: why`).
fn registration(
    id: &str,
    client: WrittenClient,
    secret: Option<String>,
    public_url: Option<&Url>,
) -> Result<Registration, Vec<String>> {
    let mut faults = Vec::new();
    let client_id = client
        .client_id
        .clone()
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    if client_id.is_none() {
        faults.push("client_id: missing".to_owned());
    }
    let auth = client_auth(&client, secret)
        .map_err(|why| faults.push(why))
        .ok();
    let provider = provider(&client).map_err(|why| faults.push(why)).ok();
    let redirect_uri = match (&client.redirect_uri, public_url) {
        (Some(uri), _) => match Url::parse(uri.trim()) {
            Ok(url) => Some(url.to_string()),
            Err(e) => {
                faults.push(format!("redirect_uri: {e}"));
                None
            }
        },
        (None, Some(base)) => Some(format!(
            "{}/oauth/{id}/callback",
            base.as_str().trim_end_matches('/')
        )),
        (None, None) => {
            faults.push(
                "redirect_uri: set public_url (the service's URL as browsers reach it), or this redirect_uri".into(),
            );
            None
        }
    };
    match (client_id, auth, provider, redirect_uri) {
        (Some(client_id), Some(auth), Some(provider), Some(redirect_uri)) => Ok(Registration {
            client_id,
            auth,
            redirect_uri,
            provider,
        }),
        _ => Err(faults),
    }
}

/// How the client authenticates, with its secret or key read.
fn client_auth(client: &WrittenClient, secret: Option<String>) -> Result<ClientAuth, String> {
    let method = client
        .client_auth
        .as_deref()
        .map(str::trim)
        .unwrap_or("client_secret_post");
    let secret = || -> Result<Secret, String> {
        match (&secret, &client.client_secret_file) {
            (Some(secret), _) => non_empty(secret.trim(), "client_secret"),
            (None, Some(file)) => {
                let path = file.relative();
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    format!("client_secret_file: cannot read {}: {e}", path.display())
                })?;
                non_empty(text.trim(), "client_secret_file")
            }
            (None, None) => Err(format!(
                "client_secret: {method} needs the secret, from the environment or client_secret_file"
            )),
        }
    };
    match method {
        "client_secret_post" => Ok(ClientAuth::SecretPost(secret()?)),
        "client_secret_basic" => Ok(ClientAuth::SecretBasic(secret()?)),
        "none" => Ok(ClientAuth::None),
        "private_key_jwt" => {
            let read = |field: &str, file: &Option<RelativePathBuf>| {
                file.as_ref()
                    .map(|f| {
                        let path = f.relative();
                        std::fs::read(&path)
                            .map_err(|e| format!("{field}: cannot read {}: {e}", path.display()))
                    })
                    .transpose()
            };
            let key = read("private_key_file", &client.private_key_file)?
                .ok_or("private_key_file: private_key_jwt needs the client's private key (PEM)")?;
            let certificate = read("certificate_file", &client.certificate_file)?;
            // Entra pairs the certificate's SHA-256 thumbprint with PS256.
            let algorithm = client.algorithm.as_deref().unwrap_or("PS256");
            AssertionKey::from_pem(
                &key,
                algorithm,
                certificate.as_deref(),
                client.key_id.clone(),
            )
            .map(ClientAuth::PrivateKeyJwt)
            .map_err(|e| format!("private_key_file: {e}"))
        }
        other => Err(format!(
            "client_auth: `{other}` is not one of client_secret_post, client_secret_basic, private_key_jwt, none"
        )),
    }
}

fn non_empty(text: &str, field: &str) -> Result<Secret, String> {
    match text.is_empty() {
        true => Err(format!("{field}: the secret is empty")),
        false => Ok(Secret::new(text)),
    }
}

/// Where the endpoints come from: exactly one of a Microsoft tenant, an
/// issuer, or the endpoints themselves.
fn provider(client: &WrittenClient) -> Result<Provider, String> {
    let explicit = client.authorize_url.is_some() || client.token_url.is_some();
    match (&client.microsoft_tenant, &client.issuer, explicit) {
        (Some(tenant), None, false) => MicrosoftTenant::parse(tenant)
            .map(Provider::Microsoft)
            .map_err(|e| format!("microsoft_tenant: {e}")),
        (None, Some(issuer), false) => match Url::parse(issuer.trim()) {
            Ok(url) if url.scheme() == "https" => Ok(Provider::Issuer(url)),
            _ => Err(format!("issuer: `{issuer}` is not an https URL")),
        },
        (None, None, true) => {
            let (Some(authorize), Some(token)) = (&client.authorize_url, &client.token_url) else {
                return Err("authorize_url / token_url: name both".into());
            };
            Endpoints::new(authorize, token, client.revocation_url.as_deref())
                .map(Provider::Endpoints)
                .map_err(|e| format!("endpoints: {e}"))
        }
        (None, None, false) => Err(
            "provider: name one of microsoft_tenant, issuer, or authorize_url and token_url".into(),
        ),
        _ => Err(
            "provider: name only one of microsoft_tenant, issuer, or authorize_url and token_url"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(toml: &str) -> Result<ServeConfig, ConfigError> {
        let figment = Figment::from(Toml::string(toml));
        let written: Written = figment
            .extract()
            .map_err(|e| ConfigError(vec![e.to_string()]))?;
        check(&figment, written)
    }

    #[test]
    fn a_tenant_registration_builds_its_redirect_uri_on_the_public_url() {
        let config = written(
            r#"
            public_url = "https://switchboard.example.com/"
            [oauth.sharepoint]
            client_id = " 11111111-2222-3333-4444-555555555555 "
            client_auth = "none"
            microsoft_tenant = "contoso.onmicrosoft.com"
            "#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let registration = &config.oauth[&IntegrationId::new("sharepoint")];
        assert_eq!(
            registration.client_id,
            "11111111-2222-3333-4444-555555555555"
        );
        assert_eq!(
            registration.redirect_uri,
            "https://switchboard.example.com/oauth/sharepoint/callback"
        );
        assert!(
            matches!(&registration.provider, Provider::Microsoft(t) if t.as_str() == "contoso.onmicrosoft.com")
        );
    }

    #[test]
    fn every_fault_is_named_with_its_key() {
        let faults = written(
            r#"
            public_url = "ftp://x"
            [oauth.sharepoint]
            client_auth = "client_secret_jwt"
            microsoft_tenant = "contoso"
            issuer = "https://login.example"
            "#,
        )
        .err()
        .map(|e| e.0)
        .unwrap_or_default();
        let text = faults.join("\n");
        for expected in [
            "public_url: `ftp://x` is not an https URL (http only on loopback)",
            "oauth.sharepoint.client_id: missing",
            "oauth.sharepoint.client_auth: `client_secret_jwt` is not one of",
            "oauth.sharepoint.provider: name only one of",
            "oauth.sharepoint.redirect_uri: set public_url",
        ] {
            assert!(text.contains(expected), "{expected} in:\n{text}");
        }
    }

    #[test]
    fn a_secret_written_in_the_file_is_refused_without_being_repeated() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("switchboard.toml");
        std::fs::write(
            &file,
            "public_url = \"https://sb.example\"\n[oauth.sharepoint]\nclient_id = \"x\"\nclient_secret = \"hunter2-very-secret\"\nmicrosoft_tenant = \"common\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let error = load(Some(&file), Flags::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("oauth.sharepoint.client_secret: a secret is not written in the config file; set SWITCHBOARD_OAUTH__SHAREPOINT__CLIENT_SECRET"),
            "{error}"
        );
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn a_secret_file_is_read_trimmed_and_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("secret"), "s3cret \n").unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("switchboard.toml");
        std::fs::write(
            &file,
            "data = \"state/sb.redb\"\npublic_url = \"https://sb.example\"\n[oauth.sharepoint]\nclient_id = \"x\"\nclient_auth = \"client_secret_basic\"\nclient_secret_file = \"secret\"\nmicrosoft_tenant = \"common\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let config = load(Some(&file), Flags::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config.data,
            Location::File(dir.path().join("state/sb.redb"))
        );
        let auth = &config.oauth[&IntegrationId::new("sharepoint")].auth;
        assert!(matches!(auth, ClientAuth::SecretBasic(s) if s.expose() == "s3cret"));
        assert_eq!(
            config.secret_sources["sharepoint"],
            format!("from {}", dir.path().join("secret").display())
        );
    }
}
