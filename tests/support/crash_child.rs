//! The crash test's child: makes state changes in a loop and says which
//! committed, until the parent kills it with SIGKILL.
//!
//! Usage: crash-child <data dir> <plugins dir> <policies dir> <first workspace number>

use std::io::Write;
use switchboard::model::{Actor, IntegrationId, Mode, Role, UserId, WorkspaceId};
use switchboard::net::Routes;
use switchboard::pasted::PastedKey;
use switchboard::vault::KeySource;
use switchboard::{Engine, EngineConfig};
use switchboard_mocks::semrush::Semrush;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (data, plugins, policies, first): (&str, &str, &str, u64) = (
        &args[1],
        &args[2],
        &args[3],
        args[4].parse().expect("number"),
    );
    let mock = Semrush::new();
    mock.add_key("crash-key", u64::MAX / 4);
    let running = mock.start().await.expect("mock");
    let data = std::path::Path::new(data);
    let mut config = EngineConfig::new(data.join("switchboard.redb"), plugins, policies);
    config.key = KeySource::EnvOrFile(data.join("switchboard.key"));
    config.watch_policies = false;
    config.host.routes = Routes::default()
        .route("api.semrush.com", running.addr)
        .route("www.semrush.com", running.addr);
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
