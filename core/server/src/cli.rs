//! The `switchboard` command line.

use crate::config::ServeConfig;
use crate::embedded::Defaults;
use crate::logging::LogFormat;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use switchboard::Location;
use switchboard::maintenance::DataFile;
use switchboard::model::IntegrationId;
use switchboard::plugins::pins::Pin;
use switchboard::plugins::{HostConfig, LoadOutcome, PluginHost};
use switchboard::policy::cases;
use switchboard::{Engine, EngineConfig};
use switchboard_server::ServiceTokens;
use switchboard_server::starting::{Listener, Starting};

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "The integration-governance engine: policies, sandboxed connectors, sealed secrets."
)]
struct Cli {
    /// Log as JSON lines instead of text.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API over the data file and the plugins directory.
    Serve {
        /// A TOML configuration file (see README); every key may also be
        /// set as SWITCHBOARD_<KEY> (nested keys joined by `__`), and flags
        /// override both.
        #[arg(long, env = "SWITCHBOARD_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        flags: ServeFlags,
        /// Also start local mocks of the services and a demo workspace, so
        /// every scenario can be tried with curl and no accounts.
        #[arg(long)]
        demo: bool,
        /// Pin an integration's id to one component (ID=sha256:<hex>) or to
        /// a publisher (ID=ed25519:<key>); repeatable.
        #[arg(long = "pin", value_name = "ID=PIN", value_parser = crate::publisher::parse_pin)]
        pins: Vec<(IntegrationId, Pin)>,
        /// POST every event, signed with HMAC-SHA256 (key in
        /// SWITCHBOARD_WEBHOOK_SECRET), to this URL; repeatable.
        #[arg(long = "webhook")]
        webhooks: Vec<String>,
    },
    /// Check a configuration as `serve` would read it, without starting.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Look at connector components as the engine sees them.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Check, test and explain the Cedar policies.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Rotate and retire the master keys that seal secrets (with the
    /// service stopped: the data file is opened directly).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
        /// The redb data file, or the PostgreSQL database's URL.
        #[arg(long, default_value = "switchboard.redb", global = true, value_parser = parse_location)]
        data: Location,
    },
    /// Bring the state's tables to this release (the service does it at
    /// start too; run it first when several nodes roll out together).
    Migrate {
        /// The redb data file, or the PostgreSQL database's URL.
        #[arg(long, default_value = "switchboard.redb", value_parser = parse_location)]
        data: Location,
    },
    /// Write every workspace's state as JSON lines, secrets still sealed,
    /// to move it to another backend with `import`.
    Export {
        /// The redb data file, or the PostgreSQL database's URL.
        #[arg(long, default_value = "switchboard.redb", value_parser = parse_location)]
        data: Location,
        /// Where to write it (standard output if not given).
        #[arg(long)]
        to: Option<PathBuf>,
    },
    /// Read an export into empty state (a new data file or database), then
    /// verify every audit chain. Open it with the same master keys.
    Import {
        /// The redb data file, or the PostgreSQL database's URL.
        #[arg(long, value_parser = parse_location)]
        data: Location,
        /// The export to read.
        #[arg(long)]
        from: PathBuf,
    },
    /// Read and verify the audit trail (with the service stopped).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
        /// The redb data file, or the PostgreSQL database's URL.
        #[arg(long, default_value = "switchboard.redb", global = true, value_parser = parse_location)]
        data: Location,
    },
}

/// Where `serve` keeps its state and finds its parts; each flag overrides
/// the configuration file and the environment.
#[derive(clap::Args)]
struct ServeFlags {
    /// The redb data file (created if missing; default switchboard.redb),
    /// or a PostgreSQL database every node shares (postgres://…). The
    /// master key is read from SWITCHBOARD_MASTER_KEY, or else from
    /// <data>.key beside a data file (created, 0600).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The directory of connector components; defaults to the first-party
    /// ones built into the binary.
    #[arg(long)]
    plugins: Option<PathBuf>,
    /// A directory of Cedar schema and policies, reloaded when they change;
    /// defaults to the policies built into the binary (a copy of policies/).
    #[arg(long)]
    policies: Option<PathBuf>,
    /// Where to listen (default 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<SocketAddr>,
}

impl From<ServeFlags> for crate::config::Flags {
    fn from(f: ServeFlags) -> Self {
        crate::config::Flags {
            listen: f.listen,
            data: f.data,
            plugins: f.plugins,
            policies: f.policies,
        }
    }
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Read the file, the environment and the flags as `serve` would; say
    /// every fault, or what each OAuth registration resolves to (an
    /// issuer's discovery document is fetched). Secrets are never printed.
    Check {
        #[arg(long, env = "SWITCHBOARD_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        flags: ServeFlags,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List the keys, active first, with how many secrets each seals.
    List,
    /// Add a new active key and re-seal every secret under it.
    Rotate {
        /// Secrets re-sealed per write transaction.
        #[arg(long, default_value_t = 100)]
        batch: usize,
    },
    /// Remove an old key that no longer seals anything.
    Retire { key_id: String },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every workspace's hash chain; name the first broken record.
    Verify,
    /// Print a workspace's newest records as JSON lines.
    Tail {
        workspace: String,
        #[arg(short = 'n', default_value_t = 20)]
        count: usize,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate the schema and every policy strictly; print each fault as
    /// file:line:column and exit non-zero if there is any.
    Validate {
        #[arg(default_value = "policies")]
        dir: PathBuf,
    },
    /// Run the decision cases in DIR/tests/*.json (the Cedar CLI's
    /// `run-tests` format) and print pass or fail for each.
    Test {
        #[arg(default_value = "policies")]
        dir: PathBuf,
    },
    /// Make a running service re-read its policy directory now; prints the
    /// number of policies in force, or every fault of a refused set.
    Reload {
        /// The service's address.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// A service token (or set SWITCHBOARD_SERVICE_TOKEN).
        #[arg(long, env = "SWITCHBOARD_SERVICE_TOKEN", hide_env_values = true)]
        token: String,
    },
    /// Prove the properties in DIR/properties/*.cedar, and that no policy
    /// ever errors, for every request the schema allows (needs cvc5 1.3:
    /// set CVC5 to its path). A refuted property is shown with a request
    /// that breaks it, decided as `explain` decides it. With --against,
    /// also list the requests the policies newly allow or deny compared
    /// with another directory or a git revision of DIR. Ends with
    /// "N passed, M failed"; exits non-zero if any failed.
    Verify {
        #[arg(default_value = "policies")]
        dir: PathBuf,
        /// Another policy directory, or a git revision (e.g. `HEAD~1`).
        #[arg(long)]
        against: Option<String>,
    },
    /// Decide one request, read as JSON from FILE (or `-` for stdin):
    /// {"request": {"principal", "action", "resource", "context"}, "entities": [...]}.
    /// Prints the decision, the determining policies and their reasons.
    Explain {
        request: PathBuf,
        #[arg(long, default_value = "policies")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Write a new connector crate, NAME/ under DIR (default: here), that
    /// builds as it is: Cargo.toml, src/lib.rs with one action, a
    /// credential check that looks at the status, and a test.
    New {
        /// The connector's id: lowercase letters, digits and `-`.
        name: String,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The SDK crate to depend on (default: this build's plugins/sdk).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Print a component's manifest as JSON (modes, hosts, actions and their schemas).
    Inspect { component: PathBuf },
    /// Run one action of a component (or, as ACTION `check`, its credential
    /// check) in the engine's sandbox, and print the answer as JSON; the
    /// plugin's log lines go to stderr.
    Run(crate::runner::RunArgs),
    /// Load every component of a directory and say which load and why others are refused.
    Check {
        dir: Option<PathBuf>,
        /// Pin an id to a component or a publisher, as `serve --pin` does.
        #[arg(long = "pin", value_name = "ID=PIN", value_parser = crate::publisher::parse_pin)]
        pins: Vec<(IntegrationId, Pin)>,
    },
    /// Make a publisher's signing key; prints the pin operators write for it.
    Keygen {
        /// Where to write the key (created, readable by its owner only).
        key_file: PathBuf,
    },
    /// Sign a component with a publisher key, writing <component>.sig beside it.
    Sign {
        /// The publisher's signing key.
        #[arg(long)]
        key: PathBuf,
        component: PathBuf,
    },
    /// Check a component against a pin (sha256:<hex> or ed25519:<key>) as the engine would.
    Verify {
        #[arg(long)]
        pin: String,
        component: PathBuf,
    },
}

/// SHA-256 digests (hex, comma-separated) of the accepted service tokens.
const SERVICE_TOKENS_ENV: &str = "SWITCHBOARD_SERVICE_TOKENS_SHA256";
/// The key that signs webhook deliveries.
const WEBHOOK_SECRET_ENV: &str = "SWITCHBOARD_WEBHOOK_SECRET";

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::logging::init(cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Serve {
                config,
                flags,
                demo,
                pins,
                webhooks,
            } => {
                let mut config = crate::config::load(config.as_deref(), flags.into())
                    .map_err(|e| e.to_string())?;
                config.pins.extend(pins);
                config.webhooks.extend(webhooks);
                serve(config, demo).await
            }
            Command::Config {
                command: ConfigCommand::Check { config, flags },
            } => check_config(config.as_deref(), flags.into()).await,
            Command::Plugin { command } => plugin(command).await,
            Command::Policy { command } => policy(command).await,
            Command::Keys { command, data } => keys(command, &data),
            Command::Audit { command, data } => audit(command, &data),
            Command::Migrate { data } => {
                DataFile::migrate(&data).map_err(|e| e.to_string())?;
                print(&format!("{data} is ready for this release"));
                Ok(ExitCode::SUCCESS)
            }
            Command::Export { data, to } => export(&data, to.as_deref()),
            Command::Import { data, from } => import(&data, &from),
        }
    });
    outcome.unwrap_or_else(fail)
}

fn fail(message: String) -> ExitCode {
    eprintln!("switchboard: {message}");
    ExitCode::FAILURE
}

async fn reload(url: &str, token: &str) -> Result<ExitCode, String> {
    let endpoint = format!("{}/v1/policies/reload", url.trim_end_matches('/'));
    switchboard::net::install_crypto();
    let response = reqwest::Client::new()
        .post(&endpoint)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("cannot reach {endpoint}: {}", e.without_url()))?;
    let ok = response.status().is_success();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| e.without_url().to_string())?;
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    match body.get("policies") {
        Some(n) if ok => print(&format!("{n} policies in force")),
        _ => print(
            body.get("detail")
                .and_then(|d| d.as_str())
                .unwrap_or("the service refused the reload"),
        ),
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn policy(command: PolicyCommand) -> Result<ExitCode, String> {
    match command {
        PolicyCommand::Reload { url, token } => reload(&url, &token).await,
        PolicyCommand::Verify { dir, against } => {
            crate::verify::run(&dir, against.as_deref()).await
        }
        PolicyCommand::Validate { dir } => match load_policies(&dir) {
            Ok(bundle) => {
                print(&format!(
                    "{}: {} policies valid",
                    dir.display(),
                    bundle.policies.policies().count()
                ));
                Ok(ExitCode::SUCCESS)
            }
            Err(code) => Ok(code),
        },
        PolicyCommand::Test { dir } => {
            let Ok(bundle) = load_policies(&dir) else {
                return Ok(ExitCode::FAILURE);
            };
            let outcomes =
                cases::run_dir(&bundle, &dir.join("tests")).map_err(|e| e.to_string())?;
            let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
            for o in &outcomes {
                let file = o
                    .file
                    .file_name()
                    .map(|f| f.to_string_lossy())
                    .unwrap_or_default();
                match &o.failure {
                    None => print(&format!("pass  {file}: {}", o.name)),
                    Some(why) => print(&format!("FAIL  {file}: {}: {why}", o.name)),
                }
            }
            print(&format!(
                "{} passed, {failed} failed",
                outcomes.len() - failed
            ));
            Ok(if failed == 0 && !outcomes.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        PolicyCommand::Explain { request, dir } => {
            let Ok(bundle) = load_policies(&dir) else {
                return Ok(ExitCode::FAILURE);
            };
            let text = if request.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).map_err(|e| e.to_string())?
            } else {
                std::fs::read_to_string(&request)
                    .map_err(|e| format!("{}: {e}", request.display()))?
            };
            let input =
                serde_json::from_str(&text).map_err(|e| format!("the request is not JSON: {e}"))?;
            let explanation = cases::explain(&bundle, input).map_err(|e| e.to_string())?;
            print(&serde_json::to_string_pretty(&explanation).map_err(|e| e.to_string())?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn keys(command: KeysCommand, data: &Location) -> Result<ExitCode, String> {
    let file = DataFile::open(data).map_err(|e| e.to_string())?;
    match command {
        KeysCommand::List => {
            for (i, (id, sealed)) in file
                .keys()
                .map_err(|e| e.to_string())?
                .into_iter()
                .enumerate()
            {
                print(&format!(
                    "{id}  {}  seals {sealed} secret(s)",
                    if i == 0 { "active" } else { "old   " }
                ));
            }
        }
        KeysCommand::Rotate { batch } => {
            let rotation = file.rotate_keys(batch).map_err(|e| e.to_string())?;
            print(&format!(
                "active key is now {}; {} secret(s) re-sealed",
                rotation.key_id, rotation.resealed
            ));
        }
        KeysCommand::Retire { key_id } => {
            file.retire_key(&key_id).map_err(|e| e.to_string())?;
            print(&format!("key {key_id} retired"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn export(data: &Location, to: Option<&std::path::Path>) -> Result<ExitCode, String> {
    let file = DataFile::open(data).map_err(|e| e.to_string())?;
    let moved = match to {
        Some(path) => {
            let out = std::fs::File::create(path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            file.export(&mut std::io::BufWriter::new(out))
        }
        None => file.export(&mut std::io::stdout().lock()),
    }
    .map_err(|e| e.to_string())?;
    eprintln!("exported {}", summary(&moved));
    Ok(ExitCode::SUCCESS)
}

fn import(data: &Location, from: &std::path::Path) -> Result<ExitCode, String> {
    let input =
        std::fs::File::open(from).map_err(|e| format!("cannot open {}: {e}", from.display()))?;
    // Created if need be: importing is how new state begins.
    let file = DataFile::migrate(data).map_err(|e| e.to_string())?;
    let moved = file
        .import(std::io::BufReader::new(input))
        .map_err(|e| e.to_string())?;
    print(&format!("imported {}", summary(&moved)));
    verify_chains(&file)
}

/// Checks every workspace's audit chain, printing each; fails if one breaks.
fn verify_chains(file: &DataFile) -> Result<ExitCode, String> {
    let mut broken = 0;
    for (workspace, verified) in file.verify_audit().map_err(|e| e.to_string())? {
        match verified {
            Ok(n) => print(&format!(
                "{}: {n} record(s) verified",
                crate::logging::escape_controls(workspace.as_str())
            )),
            Err(e) => {
                broken += 1;
                print(&crate::logging::escape_controls(&e.to_string()));
            }
        }
    }
    Ok(if broken == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn summary(moved: &switchboard::maintenance::Moved) -> String {
    format!(
        "{} workspace(s): {} enablement(s), {} shared credential(s), {} connection(s), {} audit record(s), {} usage counter(s), {} credit limit(s)",
        moved.workspaces,
        moved.enablements,
        moved.workspace_credentials,
        moved.connections,
        moved.audit_records,
        moved.usage_days,
        moved.credit_limits
    )
}

fn audit(command: AuditCommand, data: &Location) -> Result<ExitCode, String> {
    let file = DataFile::open(data).map_err(|e| e.to_string())?;
    match command {
        AuditCommand::Verify => verify_chains(&file),
        AuditCommand::Tail { workspace, count } => {
            for record in file
                .audit_tail(&workspace, count)
                .map_err(|e| e.to_string())?
            {
                print(&serde_json::to_string(&record).map_err(|e| e.to_string())?);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Loads a policy directory, printing every fault on a refusal.
pub(crate) fn load_policies(
    dir: &std::path::Path,
) -> Result<switchboard::policy::PolicyBundle, ExitCode> {
    switchboard::policy::load(dir).map_err(|e| {
        for fault in &e.faults {
            print(&fault.to_string());
        }
        print(&format!(
            "{} fault(s); the policies were refused",
            e.faults.len()
        ));
        ExitCode::FAILURE
    })
}

/// Prints a line; a closed pipe (`| head`) is not an error worth a panic.
pub(crate) fn print(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// The component files of a plugins directory, by name.
fn component_files(dir: &std::path::Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".wasm"))
        .collect();
    files.sort();
    files
}

async fn plugin(command: PluginCommand) -> Result<ExitCode, String> {
    match command {
        PluginCommand::New { name, dir, sdk } => crate::scaffold::write(&name, &dir, sdk),
        PluginCommand::Inspect { component } => inspect(component).await,
        PluginCommand::Run(args) => crate::runner::run(args).await,
        PluginCommand::Check { dir, pins } => check(dir, pins).await,
        PluginCommand::Keygen { key_file } => crate::publisher::keygen(&key_file),
        PluginCommand::Sign { key, component } => crate::publisher::sign(&key, &component),
        PluginCommand::Verify { pin, component } => crate::publisher::verify(&pin, &component),
    }
}

async fn inspect(component: PathBuf) -> Result<ExitCode, String> {
    let mut host = PluginHost::new(HostConfig::default()).map_err(|e| e.to_string())?;
    let plugin = host
        .load_file(&component)
        .await
        .map_err(|e| e.to_string())?;
    let json = serde_json::to_string_pretty(plugin.manifest()).map_err(|e| e.to_string())?;
    print(&json);
    Ok(ExitCode::SUCCESS)
}

async fn check(dir: Option<PathBuf>, pins: Vec<(IntegrationId, Pin)>) -> Result<ExitCode, String> {
    let mut defaults = Defaults::default();
    let dir = match dir {
        Some(dir) => dir,
        None => defaults.plugins().map_err(unwritable)?,
    };
    let config = HostConfig {
        pins: pins.into_iter().collect(),
        ..HostConfig::default()
    };
    let host = PluginHost::new(config).map_err(|e| e.to_string())?;
    let outcomes = host.load_dir(&dir).await.map_err(|e| e.to_string())?;
    let mut refused = 0;
    for outcome in &outcomes {
        match outcome {
            LoadOutcome::Loaded { file, id, version } => {
                print(&format!("loaded   {id} {version}  ({})", file.display()))
            }
            LoadOutcome::Refused { file, reason } => {
                refused += 1;
                print(&format!("refused  {}: {reason}", file.display()));
            }
        }
    }
    print(&format!(
        "{} loaded, {refused} refused",
        outcomes.len() - refused
    ));
    Ok(if refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `--data`: a file path, or a database's URL.
fn parse_location(text: &str) -> Result<Location, String> {
    Ok(Location::parse(text))
}

fn unwritable(error: std::io::Error) -> String {
    format!("cannot write the built-in policies and plugins: {error}")
}

async fn serve(settings: ServeConfig, demo: bool) -> Result<ExitCode, String> {
    // Kept until serving ends: the engine reads the built-in files there.
    let mut defaults = Defaults::default();
    let plugins = match &settings.plugins {
        Some(dir) => dir.clone(),
        None => defaults.plugins().map_err(unwritable)?,
    };
    let policies = match &settings.policies {
        Some(dir) => dir.clone(),
        None => defaults.policies().map_err(unwritable)?,
    };
    let mut config = EngineConfig::new(&settings.data, plugins, policies);
    // Only a directory the operator named changes under a running service.
    config.watch_policies = settings.policies.is_some();
    match &settings.policies {
        Some(dir) => {
            tracing::info!(dir = %dir.display(), "policies from a directory, reloaded when it changes")
        }
        None if std::path::Path::new("policies").is_dir() => tracing::warn!(
            "./policies is not read: serve uses the built-in policies unless --policies names a directory"
        ),
        None => {
            tracing::info!("the built-in policies (--policies DIR uses and watches a directory)")
        }
    }
    config.host.pins = settings.pins;
    config.oauth = settings.oauth;
    config.return_urls = settings.return_urls;
    config.call_shares = settings.call_shares;
    config.kept = settings.kept;
    let listen = settings.listen;
    let mut tokens = match std::env::var(SERVICE_TOKENS_ENV) {
        Ok(digests) => ServiceTokens::from_hex_digests(&digests).map_err(|e| e.to_string())?,
        Err(_) => ServiceTokens::default(),
    };
    let mocks = if demo {
        let mocks = switchboard_server::demo::start_mocks(listen)
            .await
            .map_err(|e| e.to_string())?;
        mocks.configure(&mut config).map_err(|e| e.to_string())?;
        tokens = tokens.with_token(switchboard_server::demo::SERVICE_TOKEN);
        Some(mocks)
    } else {
        None
    };
    if tokens.is_empty() {
        return Err(format!(
            "no service token is configured: set {SERVICE_TOKENS_ENV} to the SHA-256 (hex) of each token the host application will send"
        ));
    }
    // Listen before anything slow, and say what is loading meanwhile.
    let listener = Listener::bind(listen).map_err(|e| e.to_string())?;
    let loading = component_files(&config.plugins_dir);
    let starting = Starting::serve(&listener, loading, settings.edge).map_err(|e| e.to_string())?;
    let engine = Engine::open(config).await.map_err(|e| e.to_string())?;
    for outcome in engine.load_report().iter() {
        if let LoadOutcome::Loaded { id, version, .. } = outcome {
            tracing::info!(%id, %version, "plugin loaded");
        }
    }
    if mocks.is_some() {
        switchboard_server::demo::seed(&engine)
            .await
            .map_err(|e| e.to_string())?;
    }
    let webhooks = if settings.webhooks.is_empty() {
        None
    } else {
        let secret = std::env::var(WEBHOOK_SECRET_ENV).map_err(|_| {
            format!("webhooks need {WEBHOOK_SECRET_ENV}, the key that signs deliveries")
        })?;
        Some(switchboard_server::webhooks::Webhooks {
            urls: settings.webhooks,
            secret: switchboard::vault::Secret::new(secret),
        })
    };
    starting.finish().await;
    let console = match demo {
        true => switchboard_server::Console::DemoPersonas,
        false => switchboard_server::Console::HostHandsToken,
    };
    switchboard_server::run(engine, listener, tokens, webhooks, settings.edge, console)
        .await
        .map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// `config check`: every fault, or what each registration resolves to.
async fn check_config(
    file: Option<&std::path::Path>,
    flags: crate::config::Flags,
) -> Result<ExitCode, String> {
    let config = match crate::config::load(file, flags) {
        Ok(config) => config,
        Err(e) => {
            print(&e.to_string());
            return Ok(ExitCode::FAILURE);
        }
    };
    print(&format!(
        "listen {}; data {}; policies {}; plugins {}",
        config.listen,
        config.data,
        config.policies.as_ref().map_or_else(
            || "the built-in ones".to_owned(),
            |p| p.display().to_string()
        ),
        config.plugins.as_ref().map_or_else(
            || "the built-in ones".to_owned(),
            |p| p.display().to_string()
        )
    ));
    if let Some(url) = &config.public_url {
        print(&format!("public URL {url}"));
    }
    print(&format!(
        "calls at once: {} per member, {} per workspace; recent answers kept: {} of each kind",
        config.call_shares.per_member, config.call_shares.per_workspace, config.kept
    ));
    let http = switchboard::net::Client::new(
        std::time::Duration::from_secs(15),
        &switchboard::net::Routes::default(),
    )
    .map_err(|e| e.to_string())?;
    let mut failed = false;
    let registrations: std::collections::BTreeMap<_, _> = config.oauth.iter().collect();
    for (id, registration) in registrations {
        let secret = config
            .secret_sources
            .get(id.as_str())
            .map_or(String::new(), |s| format!(", secret {s}"));
        print(&format!(
            "oauth {id}: client {} ({}{secret}); redirect URI {}",
            registration.client_id,
            registration.auth.method(),
            registration.redirect_uri
        ));
        match registration
            .provider
            .endpoints(&http, &registration.auth)
            .await
        {
            Ok(endpoints) => {
                print(&format!("  authorize  {}", endpoints.authorize));
                print(&format!("  token      {}", endpoints.token));
                if let Some(revocation) = &endpoints.revocation {
                    print(&format!("  revocation {revocation}"));
                }
            }
            Err(e) => {
                failed = true;
                print(&format!("  {e}"));
            }
        }
    }
    print(if failed {
        "the configuration is readable, but a registration cannot be resolved"
    } else {
        "the configuration is valid"
    });
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
