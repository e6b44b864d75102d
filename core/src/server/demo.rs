//! `serve --demo`: local mocks of the services and a seeded workspace, so a
//! newcomer with no accounts can try every call with curl.

use crate::model::{Actor, IntegrationId, Mode, Role, UserId, WorkspaceId};
use crate::net::Routes;
use crate::vault::Secret;
use crate::{Engine, Error};
use switchboard_mocks::semrush::Semrush;

/// The demo's Semrush API key, known to the Semrush mock.
pub const SEMRUSH_KEY: &str = "demo-semrush-key";

pub struct DemoMocks {
    semrush_running: switchboard_mocks::Running,
}

pub async fn start_mocks() -> Result<DemoMocks, String> {
    let semrush = Semrush::new();
    semrush.add_key(SEMRUSH_KEY, 10_000);
    let semrush_running = semrush
        .start()
        .await
        .map_err(|e| format!("cannot start the Semrush mock: {e}"))?;
    tracing::info!(addr = %semrush_running.addr, "Semrush mock serving api.semrush.com and www.semrush.com");
    Ok(DemoMocks { semrush_running })
}

impl DemoMocks {
    /// Routes the services' hosts to the mocks.
    pub fn routes(&self, routes: Routes) -> Routes {
        routes
            .route("api.semrush.com", self.semrush_running.addr)
            .route("www.semrush.com", self.semrush_running.addr)
    }
}

/// The `demo` workspace: Semrush enabled in workspace mode by the admin
/// `ada`, with the demo key (help article, scenario 1).
pub async fn seed(engine: &Engine) -> Result<(), String> {
    let admin = Actor {
        user: UserId::new("ada"),
        workspace: WorkspaceId::new("demo"),
        role: Role::Admin,
        plan: "business".into(),
    };
    let semrush = IntegrationId::new("semrush");
    match engine.enable(&admin, &semrush, Mode::Workspace) {
        // The demo's data file may already have Semrush in user mode; keep it.
        Ok(_) | Err(Error::AlreadyEnabled { .. }) => {}
        Err(e) => return Err(format!("seeding the demo workspace: {e}")),
    }
    engine
        .set_workspace_credential(&admin, &semrush, Secret::new(SEMRUSH_KEY))
        .await
        .map_err(|e| format!("seeding the demo workspace: {e}"))?;
    tracing::info!("demo workspace `demo` ready: Semrush enabled in workspace mode");
    Ok(())
}
