//! The two pages opened most, `team_integrations` (an admin's Team
//! Integrations page) and `user_integrations` (anyone's Integrations page),
//! on a small data set (10 workspaces) and on a large one (100,000
//! workspaces, 1,000,000 personal connections), each built by a generator
//! into a redb file. Every call asks about a different workspace, spread
//! over the whole file. Prints criterion medians, the p99 of single calls,
//! the ratio of the large set to the small, the files' sizes and the peak
//! memory of a process that opens each one. Each file is read once first,
//! so it is measured from the OS page cache. The p99s are measured twice:
//! as served, and with nothing kept (`EngineConfig::kept = 0`), where the
//! ratio compares the same work at both sizes (as served, the small set's
//! views repeat ones kept since the last write, the large set's do not).
//!
//! When `TEST_POSTGRES_URL` names a PostgreSQL server (`tests/postgres/run
//! cargo bench -p switchboard-benches --bench pages`), the large set is
//! also generated into a database there and both pages measured on it, the
//! same way: its p99 against redb's.

mod support;

use criterion::{Criterion, criterion_group};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use switchboard::audit::{Entry, Outcome};
use switchboard::kept::DEFAULT_CAPACITY;
use switchboard::model::{
    Account, Actor, Connection, ConnectionId, ConnectionStatus, Enablement, IntegrationId, Mode,
    Role, UserId, WorkspaceId,
};
use switchboard::store::{Store, StoredConnection, StoredCredential};
use switchboard::vault::{KeySource, Secret, SecretIdentity, Vault};
use switchboard::{Engine, EngineConfig, Location};
use zeroize::Zeroizing;

const MEMBERS: usize = 10;
const SMALL: usize = 10;
const LARGE: usize = 100_000;
/// Bump when the generated data changes, so old files are not reused.
const GENERATION: u32 = 2;
const MASTER_KEY: [u8; 32] = [42; 32];
/// Calls timed one by one for a p99, in each of `ROUNDS` rounds; the
/// median of the rounds' p99s is reported, so that one pause of this shared
/// machine (milliseconds stolen from a half-second round) does not stand
/// for the engine's tail.
const TIMED_CALLS: usize = 20_000;
/// On PostgreSQL a page waits for the network: fewer calls, as many rounds.
const TIMED_CALLS_POSTGRES: usize = 4_000;
const ROUNDS: usize = 5;
/// Set in a child process: open this file, show both pages once, report
/// the peak resident memory.
const OPEN_ONLY: &str = "SWITCHBOARD_BENCH_OPEN_ONLY";

fn workspace(i: usize) -> WorkspaceId {
    WorkspaceId::new(format!("ws-{i:06}"))
}

fn member(m: usize) -> UserId {
    UserId::new(format!("member-{m:02}"))
}

fn key_source() -> KeySource {
    KeySource::Bytes(Zeroizing::new(MASTER_KEY))
}

/// Every workspace has Semrush enabled in workspace mode with an API key,
/// and SharePoint in user mode with each of its members connected (an
/// OAuth token set the size Microsoft's are), each change audited as the
/// engine audits it.
fn generate(location: Location, workspaces: usize) {
    let vault = Vault::open(&key_source()).expect("vault");
    let store = Store::open(location).expect("store");
    let (semrush, sharepoint) = (
        IntegrationId::new("semrush"),
        IntegrationId::new("sharepoint"),
    );
    let token_set = Secret::new(format!(
        "{{\"access_token\":\"{}\",\"refresh_token\":\"{}\",\"expires_at_ms\":1800000000000}}",
        "a".repeat(1_200),
        "r".repeat(300)
    ));
    let at_ms = 1_790_000_000_000u64;
    let allowed = |operation: &str, integration: &IntegrationId, detail: Option<&str>| Entry {
        actor: member(0),
        role: Role::Admin,
        operation: operation.to_owned(),
        integration: Some(integration.clone()),
        outcome: Outcome::Allowed,
        detail: detail.map(str::to_owned),
    };
    let started = Instant::now();
    for first in (0..workspaces).step_by(1_000) {
        store
            .write(|w| {
                for i in first..(first + 1_000).min(workspaces) {
                    let ws = workspace(i);
                    for (integration, mode) in
                        [(&semrush, Mode::Workspace), (&sharepoint, Mode::User)]
                    {
                        let enablement = Enablement {
                            mode,
                            enabled_by: member(0),
                            enabled_at_ms: at_ms,
                            approved: None,
                            settings: Default::default(),
                        };
                        w.set_enablement(ws.as_str(), integration.as_str(), Some(&enablement))?;
                        w.audit(
                            &ws,
                            at_ms,
                            allowed("enable", integration, Some(&mode.to_string())),
                        )?;
                    }
                    let sealed = vault
                        .seal(
                            &Secret::new(format!("semrush-key-{i:06}")),
                            SecretIdentity::workspace_credential(ws.as_str(), semrush.as_str()),
                        )
                        .expect("seal");
                    let credential = StoredCredential {
                        sealed,
                        account: Account {
                            label: format!("seo@{ws}.example"),
                            detail: None,
                        },
                        set_by: member(0),
                        set_at_ms: at_ms,
                        checked_at_ms: at_ms,
                        checked_with: Some(Default::default()),
                    };
                    w.set_workspace_credential(ws.as_str(), semrush.as_str(), Some(&credential))?;
                    w.audit(
                        &ws,
                        at_ms,
                        allowed("set_workspace_credential", &semrush, None),
                    )?;
                    for m in 0..MEMBERS {
                        let owner = member(m);
                        let sealed = vault
                            .seal(
                                &token_set,
                                SecretIdentity::connection(
                                    ws.as_str(),
                                    sharepoint.as_str(),
                                    owner.as_str(),
                                ),
                            )
                            .expect("seal");
                        let connection = Connection {
                            id: ConnectionId::new(format!("conn-{i:06}-{m:02}")),
                            workspace: ws.clone(),
                            integration: sharepoint.clone(),
                            owner: owner.clone(),
                            status: ConnectionStatus::Connected,
                            status_reason: None,
                            account: Account {
                                label: format!("{owner}@{ws}.example"),
                                detail: Some("Contoso".into()),
                            },
                            scopes: vec!["Sites.Read.All".into(), "offline_access".into()],
                            connected_at_ms: at_ms,
                            last_used_at_ms: None,
                        };
                        w.put_connection(&StoredConnection {
                            connection,
                            sealed,
                            suspended_from: None,
                            checked_with: Some(Default::default()),
                        })?;
                        let mut entry = allowed("connect", &sharepoint, None);
                        (entry.actor, entry.role) = (owner, Role::Member);
                        w.audit(&ws, at_ms, entry)?;
                    }
                }
                Ok(())
            })
            .expect("write");
    }
    drop(store);
    println!(
        "generated {workspaces} workspaces, {} connections in {:.0?}",
        workspaces * MEMBERS,
        started.elapsed()
    );
}

/// The data set's file, generated once and kept in the target directory.
fn data_set(workspaces: usize) -> PathBuf {
    let dir = support::target_dir().join("bench-data");
    std::fs::create_dir_all(&dir).expect("bench-data dir");
    let path = dir.join(format!("pages-{workspaces}-g{GENERATION}.redb"));
    if !path.exists() {
        let partial = path.with_extension("partial");
        let _ = std::fs::remove_file(&partial);
        generate(Location::File(partial.clone()), workspaces);
        std::fs::rename(&partial, path.clone()).expect("rename");
    }
    warm_page_cache(&path);
    path
}

/// The data set in a database of `server`, generated once and kept there;
/// the database's comment says it is whole.
fn postgres_data_set(server: &str, workspaces: usize) -> Location {
    let name = format!("switchboard_bench_pages_{workspaces}_g{GENERATION}");
    let comment = support::psql(
        server,
        &format!(
            "SELECT coalesce(shobj_description(oid, 'pg_database'), '') \
             FROM pg_database WHERE datname = '{name}'"
        ),
    );
    let url = if comment == "whole" {
        support::database_url(server, &name)
    } else {
        let url = support::fresh_database(server, &name);
        generate(Location::parse(&url), workspaces);
        support::psql(
            server,
            &format!("COMMENT ON DATABASE \"{name}\" IS 'whole'"),
        );
        url
    };
    // Read once, as the file is: the tables in PostgreSQL's and the OS's caches.
    let started = Instant::now();
    let size = support::psql(
        &url,
        "SELECT count(*) FROM (SELECT * FROM connections) c; \
         SELECT pg_size_pretty(pg_database_size(current_database()))",
    );
    println!(
        "{name}: {} in {:.1} s",
        size.replace('\n', " rows read, database "),
        started.elapsed().as_secs_f64()
    );
    Location::parse(&url)
}

/// Reads the file once so the pages are measured in steady state, as on a
/// server that has been serving: the file in the OS page cache. Otherwise
/// the figures depend on what else last ran on the machine (a cold 6 GiB
/// file put the large set's p99 at ~170 µs: disk reads).
fn warm_page_cache(path: &Path) {
    let started = Instant::now();
    let mut file = std::fs::File::open(path).expect("data set");
    let bytes = std::io::copy(&mut file, &mut std::io::sink()).expect("read data set");
    println!(
        "{}: read {:.1} MiB into the OS page cache in {:.1} s",
        path.display(),
        bytes as f64 / (1 << 20) as f64,
        started.elapsed().as_secs_f64()
    );
}

/// An engine on `data` keeping up to `kept` recent answers of each kind.
async fn open(data: impl Into<Location>, scratch: &Path, kept: usize) -> Engine {
    let mut config = EngineConfig::new(
        data,
        switchboard_plugin_artifacts::plugins_dir(),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies"),
    );
    config.key = key_source();
    config.kept = kept;
    config.host.cache_dir = Some(scratch.join("plugin-cache"));
    Engine::open(config).await.expect("engine")
}

fn actor(i: usize, role: Role) -> Actor {
    let m = if role == Role::Admin {
        0
    } else {
        1 + i % (MEMBERS - 1)
    };
    Actor {
        user: member(m),
        workspace: workspace(i),
        role,
        plan: "business".into(),
    }
}

#[derive(Clone, Copy)]
enum Page {
    Team,
    User,
}

impl Page {
    fn name(self) -> &'static str {
        match self {
            Page::Team => "team_integrations",
            Page::User => "user_integrations",
        }
    }

    /// Shows the page to a member of workspace `i` and checks what they see.
    fn show(self, engine: &Engine, i: usize) {
        match self {
            Page::Team => {
                let page = engine
                    .team_integrations(&actor(i, Role::Admin))
                    .expect("team page");
                // Every first-party connector is listed; the data set
                // enables Semrush and SharePoint.
                let enabled: Vec<&str> = page
                    .iter()
                    .filter(|row| row.enabled.is_some())
                    .map(|row| row.id.as_str())
                    .collect();
                assert_eq!(enabled, ["semrush", "sharepoint"]);
            }
            Page::User => {
                let page = engine
                    .user_integrations(&actor(i, Role::Member))
                    .expect("user page");
                assert_eq!(page.user_integrations.len(), 1);
                assert!(page.user_integrations[0].connection.is_some());
                assert_eq!(page.workspace_integrations.len(), 1);
            }
        }
    }
}

/// Workspaces in a fixed pseudo-random order over the whole set.
struct Spread(u64, usize);

impl Spread {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % self.1 as u64) as usize
    }
}

/// The 99th percentile of `calls` single calls: the median of `ROUNDS`
/// rounds.
fn p99(engine: &Engine, page: Page, workspaces: usize, calls: usize) -> Duration {
    let mut spread = Spread(7, workspaces);
    let mut rounds: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let mut times: Vec<Duration> = (0..calls)
                .map(|_| {
                    let i = spread.next();
                    let started = Instant::now();
                    page.show(engine, i);
                    started.elapsed()
                })
                .collect();
            times.sort();
            times[times.len() * 99 / 100]
        })
        .collect();
    rounds.sort();
    rounds[ROUNDS / 2]
}

/// Peak resident memory of a child process that opens `data` and shows
/// both pages once.
fn peak_memory_of_opening(data: &Path) -> String {
    let output = std::process::Command::new(std::env::current_exe().expect("exe"))
        .env(OPEN_ONLY, data)
        .output()
        .expect("child");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn open_only(data: &Path) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let scratch = tempfile::tempdir().expect("scratch");
    runtime.block_on(async {
        let engine = open(data, scratch.path(), DEFAULT_CAPACITY).await;
        Page::Team.show(&engine, 0);
        Page::User.show(&engine, 0);
    });
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    println!("{peak}");
}

/// Both pages on `engine` in criterion group `group`, and each page's p99
/// of `calls` single calls.
fn measure(
    c: &mut Criterion,
    group: &str,
    engine: &Engine,
    workspaces: usize,
    calls: usize,
) -> Vec<(Page, Duration)> {
    let mut group = c.benchmark_group(group);
    let p99s = [Page::Team, Page::User]
        .into_iter()
        .map(|page| {
            let mut spread = Spread(11, workspaces);
            group.bench_function(page.name(), |b| b.iter(|| page.show(engine, spread.next())));
            (page, p99(engine, page, workspaces, calls))
        })
        .collect();
    group.finish();
    p99s
}

fn pages(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (mut redb, mut afresh) = (Vec::new(), Vec::new());
    for workspaces in [SMALL, LARGE] {
        let data = data_set(workspaces);
        let scratch = tempfile::tempdir().expect("scratch");
        let engine = runtime.block_on(open(data.as_path(), scratch.path(), DEFAULT_CAPACITY));
        let group = format!("pages_{workspaces}");
        for (page, p99) in measure(c, &group, &engine, workspaces, TIMED_CALLS) {
            redb.push((workspaces, page.name(), p99));
        }
        drop(engine);
        // With nothing kept, every view reads and decides afresh, at either
        // size: how the work itself grows with the data.
        let engine = runtime.block_on(open(data.as_path(), scratch.path(), 0));
        for page in [Page::Team, Page::User] {
            afresh.push((
                workspaces,
                page.name(),
                p99(&engine, page, workspaces, TIMED_CALLS),
            ));
        }
        drop(engine);
        let size = std::fs::metadata(&data).map(|m| m.len()).unwrap_or(0);
        println!(
            "{group}: data file {:.1} MiB ({}); peak memory of opening it: {}",
            size as f64 / (1 << 20) as f64,
            data.display(),
            peak_memory_of_opening(&data)
        );
    }
    let p99_in = |measured: &[(usize, &str, Duration)], workspaces: usize, page: &str| {
        measured
            .iter()
            .find(|(w, p, _)| *w == workspaces && *p == page)
            .map(|(_, _, d)| *d)
            .expect("measured")
    };
    let p99_of = |workspaces: usize, page: &str| p99_in(&redb, workspaces, page);
    for (measured, how) in [(&redb, "as served"), (&afresh, "nothing kept")] {
        for (workspaces, page, p99) in measured {
            println!(
                "pages_{workspaces}: {page} p99 of {TIMED_CALLS} calls (median of {ROUNDS} rounds), {how}: {:.2} µs ({:.2}× the {SMALL}-workspace p99 {how})",
                p99.as_secs_f64() * 1e6,
                p99.as_secs_f64() / p99_in(measured, SMALL, page).as_secs_f64()
            );
        }
    }
    let Some(server) = support::postgres_server() else {
        println!("pages on PostgreSQL: skipped (TEST_POSTGRES_URL is not set)");
        return;
    };
    let data = postgres_data_set(&server, LARGE);
    let scratch = tempfile::tempdir().expect("scratch");
    let engine = runtime.block_on(open(data, scratch.path(), DEFAULT_CAPACITY));
    let group = format!("pages_{LARGE}_postgres");
    for (page, p99) in measure(c, &group, &engine, LARGE, TIMED_CALLS_POSTGRES) {
        let redb = p99_of(LARGE, page.name());
        // What the database spends on one page view, for the capacity estimate.
        let (cpu_before, mut spread) = (support::postgres_cpu(), Spread(13, LARGE));
        for _ in 0..TIMED_CALLS_POSTGRES {
            page.show(&engine, spread.next());
        }
        let cpu = support::postgres_cpu().saturating_sub(cpu_before);
        println!(
            "{group}: {} p99 of {TIMED_CALLS_POSTGRES} calls (median of {ROUNDS} rounds) {:.2} µs ({:.2}× redb's p99 at {LARGE} workspaces); the database's CPU per view {:.1} µs",
            page.name(),
            p99.as_secs_f64() * 1e6,
            p99.as_secs_f64() / redb.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / TIMED_CALLS_POSTGRES as f64
        );
    }
}

criterion_group!(benches, pages);

fn main() {
    if let Some(data) = std::env::var_os(OPEN_ONLY) {
        open_only(Path::new(&data));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    for page in [Page::Team, Page::User] {
        support::print_ratio_across(
            page.name(),
            (&format!("pages_{LARGE}"), page.name()),
            (&format!("pages_{SMALL}"), page.name()),
        );
        if support::postgres_server().is_some() {
            support::print_ratio_across(
                &format!("{} on PostgreSQL", page.name()),
                (&format!("pages_{LARGE}_postgres"), page.name()),
                (&format!("pages_{LARGE}"), page.name()),
            );
        }
    }
}
