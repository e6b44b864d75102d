//! The crash test's child: makes state changes in a loop and says which
//! committed, until the parent kills it with SIGKILL.
//!
//! Usage: crash-child <data dir> <data> <plugins dir> <policies dir> <first workspace number>
//!        crash-child rotate <data dir> <data>   (rotates the master key, a
//!        secret a transaction, again and again, saying each time it finished)
//!
//! `<data>` is the redb file or the database's URL; the key file is
//! `<data dir>/switchboard.key` either way.

use std::io::Write;
use switchboard::model::{Actor, IntegrationId, Mode, Role, UserId, WorkspaceId};
use switchboard::net::Routes;
use switchboard::pasted::PastedKey;
use switchboard::vault::KeySource;
use switchboard::{Engine, EngineConfig, Location};
use switchboard_mocks::semrush::Semrush;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args[1] == "rotate" {
        return rotate(std::path::Path::new(&args[2]), Location::parse(&args[3]));
    }
    let (data, location, plugins, policies, first): (&str, Location, &str, &str, u64) = (
        &args[1],
        Location::parse(&args[2]),
        &args[3],
        &args[4],
        args[5].parse().expect("number"),
    );
    let mock = Semrush::new();
    mock.add_key("crash-key", u64::MAX / 4);
    let running = mock.start().await.expect("mock");
    let data = std::path::Path::new(data);
    let mut config = EngineConfig::new(location, plugins, policies);
    config.key = KeySource::EnvOrFile(data.join("switchboard.key"));
    config.watch_policies = false;
    let mut routes = Routes::default().trust(switchboard_mocks::tls::ca().pem());
    for host in switchboard_mocks::semrush::HOSTS {
        routes = routes.route(host, running.addr);
    }
    config.host.routes = routes;
    let engine = Engine::open(config).await.expect("engine");
    let semrush = IntegrationId::new("semrush");
    let mut out = std::io::stdout().lock();
    for n in first.. {
        let workspace = WorkspaceId::new(format!("ws{n}"));
        let admin = Actor {
            user: UserId::new("alice"),
            workspace: workspace.clone(),
            role: Role::Admin,
            plan: "business".into(),
        };
        let member = Actor {
            user: UserId::new("bob"),
            role: Role::Member,
            ..admin.clone()
        };
        engine
            .enable(&admin, &semrush, Mode::Workspace)
            .expect("enable");
        let _ = writeln!(out, "{workspace} 1");
        engine
            .set_workspace_credential(&admin, &semrush, &PastedKey::parse("crash-key").unwrap())
            .await
            .expect("key");
        let _ = writeln!(out, "{workspace} 2");
        engine.disable(&admin, &semrush).expect("disable");
        let _ = writeln!(out, "{workspace} 3");
        engine
            .enable(&admin, &semrush, Mode::User)
            .expect("enable user");
        let _ = writeln!(out, "{workspace} 4");
        engine
            .connect_with_api_key(&member, &semrush, &PastedKey::parse("crash-key").unwrap())
            .await
            .expect("connect");
        let _ = writeln!(out, "{workspace} 5");
        let _ = out.flush();
    }
}

/// Rotates the master key over and over, one secret a transaction.
fn rotate(data: &std::path::Path, location: Location) {
    let file = switchboard::maintenance::DataFile::open_with_keys(
        location,
        KeySource::EnvOrFile(data.join("switchboard.key")),
    )
    .expect("the data file");
    let mut out = std::io::stdout().lock();
    loop {
        let rotation = file.rotate_keys(1).expect("rotate");
        let _ = writeln!(out, "{} {}", rotation.key_id, rotation.resealed);
        let _ = out.flush();
    }
}
