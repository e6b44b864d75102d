//! Test a Switchboard connector component in a plain `cargo test`, with
//! no network: declare what its service answers (or record it once with
//! `switchboard plugin run --record`), then run an action or the
//! credential check in the engine's own sandbox, with its limits, network
//! rules and credential placement, and look at what the component sent.
//!
//! ```no_run
//! use serde_json::json;
//! use switchboard_testing::{Cassette, Exchange, Harness};
//!
//! # async fn greet() -> Result<(), String> {
//! let service = Cassette::new().with(
//!     Exchange::get("https://api.acme.example/greetings?name=Ada")
//!         .json(json!({"message": "Hello, Ada"})),
//! );
//! let session = Harness::new("target/wasm32-wasip2/release/acme_connector.wasm")
//!     .answering(service)
//!     .key("test-key")
//!     .start()
//!     .await?;
//! let out = session.invoke("greet", json!({"name": "Ada"})).await?;
//! assert_eq!(out["message"], "Hello, Ada");
//! assert_eq!(session.exchanges()[0].path, "/greetings?name=Ada");
//! # Ok(()) }
//! ```
//!
//! A request the cassette does not answer gets 501, and the test's log a
//! line naming it; a host neither the answers nor the manifest name is not
//! reached at all.

mod cassette;
pub mod stand_in;

pub use cassette::{Cassette, Exchange};
use stand_in::{Setup, StandIn};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use switchboard::model::{Account, Mode, Settings};
use switchboard::net::Routes;
use switchboard::pasted::PastedKey;
use switchboard::plugins::{HostConfig, Plugin, PluginHost};

/// What to run a component with; [`Harness::start`] runs it.
pub struct Harness {
    component: PathBuf,
    answers: Cassette,
    mode: Mode,
    credential: Vec<(String, String)>,
    settings: Settings,
}

impl Harness {
    /// The component at `component`, in workspace mode, with the key
    /// `test-key` and nothing answered yet.
    pub fn new(component: impl Into<PathBuf>) -> Self {
        Harness {
            component: component.into(),
            answers: Cassette::new(),
            mode: Mode::Workspace,
            credential: vec![(String::new(), "test-key".to_owned())],
            settings: Settings::new(),
        }
    }

    /// What the service answers, each exchange once.
    pub fn answering(mut self, answers: Cassette) -> Self {
        self.answers = answers;
        self
    }

    /// Runs as a member's own credential (`Mode::User`) or the workspace's.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The API key, for a credential of one field.
    pub fn key(mut self, key: &str) -> Self {
        self.credential = vec![(String::new(), key.to_owned())];
        self
    }

    /// Each field of a credential of several, e.g. `[("email", …), ("api_token", …)]`.
    pub fn fields(mut self, fields: &[(&str, &str)]) -> Self {
        self.credential = fields
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        self
    }

    /// A setting of the install, e.g. `("subdomain", "acme")`.
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.settings.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Loads the component, its services stood in for by the answers: the
    /// hosts the answers name and those the manifest declares. No other
    /// host is reached.
    pub async fn start(self) -> Result<Session, String> {
        let key = match self.credential.as_slice() {
            [(name, key)] if name.is_empty() => PastedKey::parse(key.as_str()),
            fields => PastedKey::fields(fields.iter().cloned()),
        }
        .map_err(|e| e.to_string())?;
        // Compiled once, for both loads: first to read what it declares.
        let cache = tempfile::tempdir().map_err(|e| e.to_string())?;
        let config = |routes: Routes| HostConfig {
            routes,
            cache_dir: Some(cache.path().to_owned()),
            ..HostConfig::default()
        };
        let (_, described) = load(config(Routes::default().only_routed()), &self.component).await?;
        let mut hosts =
            stand_in::declared_hosts(&described.manifest().allowed_hosts, &self.settings);
        hosts.extend(
            self.answers
                .exchanges
                .iter()
                .map(|e| e.host.to_ascii_lowercase()),
        );
        hosts.sort();
        hosts.dedup();
        let setup = Setup {
            mocks: BTreeMap::new(),
            cassette: Some(self.answers.exchanges),
            secrets: key.values(),
            offline: true,
        };
        let stand_in = StandIn::start(&hosts, setup).await?;
        let (host, plugin) = load(config(stand_in.routes.clone()), &self.component).await?;
        let settings = plugin
            .check_settings(&self.settings)
            .map_err(|faults| format!("the settings were refused: {}", faults.join("; ")))?;
        Ok(Session {
            host,
            plugin,
            stand_in,
            mode: self.mode,
            key,
            settings,
            _cache: cache,
        })
    }
}

/// A plugin host with `config`, and `component` loaded into it.
pub async fn load(
    config: HostConfig,
    component: &Path,
) -> Result<(PluginHost, Arc<Plugin>), String> {
    let mut host = PluginHost::new(config).map_err(|e| e.to_string())?;
    let plugin = host.load_file(component).await.map_err(|e| e.to_string())?;
    Ok((host, plugin))
}

/// A component loaded with its stand-in services.
pub struct Session {
    host: PluginHost,
    plugin: Arc<Plugin>,
    stand_in: StandIn,
    mode: Mode,
    key: PastedKey,
    settings: Settings,
    /// Where the component was compiled.
    _cache: tempfile::TempDir,
}

impl Session {
    /// Runs an action, its input checked against the action's schema first.
    pub async fn invoke(
        &self,
        action: &str,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let credential = self.credential()?;
        self.host
            .invoke(
                &self.plugin,
                &self.settings,
                Some(credential),
                action,
                &input,
            )
            .await
            .map_err(|e| e.to_string())
    }

    /// Runs the credential check.
    pub async fn check(&self) -> Result<Account, String> {
        let credential = self.credential()?;
        self.host
            .check_credential(&self.plugin, &self.settings, credential)
            .await
            .map_err(|e| e.to_string())
    }

    /// Every request the component sent and its answer, in order, the
    /// credential redacted.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.stand_in.exchanges()
    }

    fn credential(&self) -> Result<switchboard::plugins::Credential, String> {
        let manifest = self.plugin.manifest();
        let secret = self
            .key
            .secret_for(manifest.auth(self.mode))
            .map_err(|e| e.to_string())?;
        self.plugin
            .credential(self.mode, secret, &self.settings)
            .ok_or_else(|| format!("{} does not support {} mode", manifest.name, self.mode))?
    }
}
