//! `serve --demo`: local mocks of Semrush and of Microsoft identity, Graph
//! and SharePoint, and a seeded `demo` workspace (admin `ada`, developer
//! `dev`, members `bob` and `carol`), so a newcomer with no accounts can try
//! every scenario with curl.

use std::net::SocketAddr;
use switchboard::model::{Actor, IntegrationId, Mode, Role, UserId, WorkspaceId};
use switchboard::net::Routes;
use switchboard::pasted::PastedKey;
use switchboard::vault::Secret;
use switchboard::{Engine, EngineConfig, Error};
use switchboard_mocks::microsoft::Microsoft;
use switchboard_mocks::semrush::Semrush;

/// The service token the demo accepts.
pub const SERVICE_TOKEN: &str = "demo-token";
/// The demo's Semrush API keys: the workspace's, and one a member may use.
pub const SEMRUSH_KEY: &str = "demo-semrush-key";
pub const PERSONAL_SEMRUSH_KEY: &str = "demo-personal-semrush-key";
const CLIENT_ID: &str = "switchboard-demo";
const CLIENT_SECRET: &str = "demo-client-secret";

pub struct DemoMocks {
    semrush: switchboard_mocks::Running,
    microsoft: switchboard_mocks::Running,
    redirect_uri: String,
}

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A mock could not listen.
    #[error("cannot start the {service} mock: {source}")]
    Mock {
        /// `Semrush` or `Microsoft`.
        service: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// The demo workspace could not be set up.
    #[error("seeding the demo workspace: {0}")]
    Seed(#[from] Error),
}

/// Starts the mocks of Semrush and of Microsoft on loopback, the Microsoft
/// one with the demo's OAuth client registered for the callback on `listen`.
pub async fn start_mocks(listen: SocketAddr) -> Result<DemoMocks, DemoError> {
    let semrush = Semrush::new();
    semrush
        .add_key(SEMRUSH_KEY, 10_000)
        .add_key(PERSONAL_SEMRUSH_KEY, 1_000);
    let semrush = semrush.start().await.map_err(|source| DemoError::Mock {
        service: "Semrush",
        source,
    })?;
    let redirect_uri =
        format!("http://{listen}/v1/workspaces/demo/integrations/sharepoint/callback");
    let ms = Microsoft::new();
    ms.register_client(CLIENT_ID, Some(CLIENT_SECRET), &redirect_uri);
    let microsoft = ms.start().await.map_err(|source| DemoError::Mock {
        service: "Microsoft",
        source,
    })?;
    tracing::info!(addr = %semrush.addr, "Semrush mock serving api.semrush.com and www.semrush.com");
    tracing::info!(addr = %microsoft.addr, "Microsoft mock serving login.microsoftonline.com, graph.microsoft.com and contoso.sharepoint.com");
    Ok(DemoMocks {
        semrush,
        microsoft,
        redirect_uri,
    })
}

impl DemoMocks {
    /// Routes the services' hosts to the mocks and registers the demo's
    /// OAuth client.
    pub fn configure(&self, config: &mut EngineConfig) {
        let mut routes = Routes::default();
        for host in ["api.semrush.com", "www.semrush.com"] {
            routes = routes.route(host, self.semrush.addr);
        }
        for host in [
            "login.microsoftonline.com",
            "graph.microsoft.com",
            "contoso.sharepoint.com",
        ] {
            routes = routes.route(host, self.microsoft.addr);
        }
        config.host.routes = routes;
        config.oauth_clients.insert(
            IntegrationId::new("sharepoint"),
            switchboard::oauth::Client {
                client_id: CLIENT_ID.into(),
                client_secret: Some(Secret::new(CLIENT_SECRET)),
                redirect_uri: self.redirect_uri.clone(),
            },
        );
    }
}

/// The `demo` workspace: Semrush in workspace mode with a shared key
/// (scenario 1) and SharePoint in user mode (scenario 2), enabled by `ada`.
pub async fn seed(engine: &Engine) -> Result<(), DemoError> {
    let admin = Actor {
        user: UserId::new("ada"),
        workspace: WorkspaceId::new("demo"),
        role: Role::Admin,
        plan: "business".into(),
    };
    let semrush = IntegrationId::new("semrush");
    for (integration, mode) in [
        (&semrush, Mode::Workspace),
        (&IntegrationId::new("sharepoint"), Mode::User),
    ] {
        match engine.enable(&admin, integration, mode) {
            // An earlier run may have switched modes; keep what it did.
            Ok(_) | Err(Error::AlreadyEnabled { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    engine
        .set_workspace_credential(
            &admin,
            &semrush,
            &PastedKey::parse(SEMRUSH_KEY).map_err(switchboard::Error::from)?,
        )
        .await?;
    tracing::info!(
        "demo workspace `demo` ready (service token `{SERVICE_TOKEN}`; users ada/admin, dev/developer, bob and carol/member)"
    );
    Ok(())
}
