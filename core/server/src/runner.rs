//! `switchboard plugin run`: one action of a component, or its credential
//! check, run as the engine runs it (the same sandbox, limits and HTTP
//! gate), with the credential from environment variables and the settings
//! from flags. Its hosts are the real services, or, for offline work
//! (through `switchboard-testing`'s stand-in):
//! - `--route HOST=ADDR`: a local mock speaking plain HTTP at ADDR; the
//!   runner ends the component's TLS for HOST with a throwaway authority;
//! - `--record FILE`: the real services (or the routed mocks), each
//!   exchange written to a cassette with the credential redacted;
//! - `--replay FILE`: the cassette's answers, no network.
//!
//! The plugin's log lines go to stderr; the answer, as JSON, to stdout.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use switchboard::model::{Manifest, Mode, Settings};
use switchboard::net::Routes;
use switchboard::pasted::PastedKey;
use switchboard::plugins::HostConfig;
use switchboard_testing::stand_in::{Setup, StandIn, declared_hosts};
use switchboard_testing::{Cassette, load};

/// The action that runs the credential check instead of an action.
const CHECK: &str = "check";

/// What `plugin run` is asked.
#[derive(clap::Args)]
pub struct RunArgs {
    component: PathBuf,
    /// The action's name, or `check`.
    action: String,
    /// The action's input, as JSON.
    #[arg(long, default_value = "{}")]
    input: String,
    /// The mode whose credential the call carries: workspace or user.
    #[arg(long, default_value = "workspace", value_parser = parse_mode)]
    mode: Mode,
    /// The environment variable holding the API key, or FIELD=VAR for
    /// each field of a credential of several (repeat it).
    #[arg(long = "key-env", value_name = "VAR|FIELD=VAR")]
    key_env: Vec<String>,
    /// A setting of the install, e.g. subdomain=acme (repeat it).
    #[arg(long = "setting", value_name = "NAME=VALUE", value_parser = name_value)]
    settings: Vec<(String, String)>,
    /// Send a declared host to a local mock speaking plain HTTP, e.g.
    /// api.example.com=127.0.0.1:8080; the runner ends TLS for it.
    #[arg(long = "route", value_name = "HOST=ADDR", value_parser = host_route)]
    routes: Vec<(String, SocketAddr)>,
    /// Call the real services (or the routed mocks), and write each
    /// exchange to FILE with the credential redacted.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    record: Option<PathBuf>,
    /// Answer from a cassette written by --record: no network.
    #[arg(long, value_name = "FILE", conflicts_with = "routes")]
    replay: Option<PathBuf>,
}

fn parse_mode(text: &str) -> Result<Mode, String> {
    match text {
        "workspace" => Ok(Mode::Workspace),
        "user" => Ok(Mode::User),
        other => Err(format!("`{other}` is not a mode (workspace or user)")),
    }
}

fn name_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(name, value)| (name.trim().to_owned(), value.to_owned()))
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))
}

fn host_route(text: &str) -> Result<(String, SocketAddr), String> {
    let (host, addr) = name_value(text)?;
    let host = host.to_ascii_lowercase();
    let addr = addr
        .parse()
        .map_err(|_| format!("`{addr}` is not an address such as 127.0.0.1:8080"))?;
    Ok((host, addr))
}

pub async fn run(args: RunArgs) -> Result<ExitCode, String> {
    let settings: Settings = args.settings.iter().cloned().collect();
    // Compiled once, for both loads.
    let cache = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = |routes: Routes| HostConfig {
        routes,
        cache_dir: Some(cache.path().to_owned()),
        ..HostConfig::default()
    };
    let manifest = load(config(Routes::default()), &args.component)
        .await?
        .1
        .manifest()
        .clone();
    let key = credential(&args, &manifest)?;
    let cassette = match &args.replay {
        Some(file) => Some(Cassette::read(file)?.exchanges),
        None => None,
    };
    let mut hosts: Vec<String> = args.routes.iter().map(|(h, _)| h.clone()).collect();
    if args.record.is_some() || cassette.is_some() {
        hosts.extend(declared_hosts(&manifest.allowed_hosts, &settings));
    }
    hosts.sort();
    hosts.dedup();
    // A replay reaches nothing but its cassette.
    let offline = cassette.is_some();
    let stand_in = if hosts.is_empty() {
        None
    } else {
        let setup = Setup {
            mocks: args.routes.iter().cloned().collect(),
            cassette,
            secrets: key.values(),
            offline,
        };
        Some(StandIn::start(&hosts, setup).await?)
    };
    let routes = stand_in
        .as_ref()
        .map_or_else(Routes::default, |s| s.routes.clone());
    let (host, plugin) = load(config(routes), &args.component).await?;
    let settings = plugin
        .check_settings(&settings)
        .map_err(|faults| format!("the settings were refused: {}", faults.join("; ")))?;
    let secret = key
        .secret_for(plugin.manifest().auth(args.mode))
        .map_err(|e| e.to_string())?;
    let credential = plugin
        .credential(args.mode, secret, &settings)
        .ok_or_else(|| format!("{} does not support {} mode", manifest.name, args.mode))??;
    let answer = if args.action == CHECK {
        host.check_credential(&plugin, &settings, credential)
            .await
            .map(|account| serde_json::to_value(account).unwrap_or_default())
    } else {
        let input: serde_json::Value =
            serde_json::from_str(&args.input).map_err(|e| format!("--input is not JSON: {e}"))?;
        host.invoke(&plugin, &settings, Some(credential), &args.action, &input)
            .await
    };
    if let (Some(file), Some(stand_in)) = (&args.record, &stand_in) {
        let exchanges = stand_in.exchanges();
        let count = exchanges.len();
        Cassette { exchanges }.write(file)?;
        eprintln!("recorded {count} exchanges in {}", file.display());
    }
    let value = answer.map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::to_string_pretty(&value).unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

/// The credential from the environment: one variable for a key, or
/// `FIELD=VAR` for each field. Replaying without one, every field gets a
/// stand-in: the cassette holds no credential to match.
fn credential(args: &RunArgs, manifest: &Manifest) -> Result<PastedKey, String> {
    let read = |var: &str| {
        std::env::var(var).map_err(|_| format!("the environment variable `{var}` is not set"))
    };
    let key = match args.key_env.as_slice() {
        [] if args.replay.is_some() => {
            let fields = match manifest.auth(args.mode) {
                Some(switchboard::model::Auth::ApiKey { fields, .. }) => fields.clone(),
                _ => Vec::new(),
            };
            match fields.as_slice() {
                [] | [_] => PastedKey::parse("replayed-credential"),
                fields => PastedKey::fields(
                    fields
                        .iter()
                        .map(|f| (f.name.clone(), format!("replayed-{}", f.name))),
                ),
            }
        }
        [] => {
            return Err(
                "name the credential's environment variable: --key-env VAR, or --key-env FIELD=VAR for each field"
                    .into(),
            );
        }
        [one] if !one.contains('=') => PastedKey::parse(read(one)?),
        pairs => {
            let mut fields = Vec::new();
            for pair in pairs {
                let (field, var) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("`{pair}` is not FIELD=VAR"))?;
                fields.push((field.to_owned(), read(var)?));
            }
            PastedKey::fields(fields)
        }
    };
    key.map_err(|e| e.to_string())
}
