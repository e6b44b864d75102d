//! `serve --demo`: local mocks of Semrush and of Microsoft identity, Graph
//! and SharePoint, and a seeded `demo` workspace (admin `ada`, developer
//! `dev`, members `bob` and `carol`), so a newcomer with no accounts can try
//! every scenario with curl.

use std::net::SocketAddr;
use switchboard::model::{Actor, IntegrationId, Mode, Role, UserId, WorkspaceId};
use switchboard::net::Routes;
use switchboard::oauth::{ClientAuth, MicrosoftTenant, Provider, Registration};
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
    /// A mock could not listen, or its authority not be written.
    #[error("cannot start the {service} mock: {source}")]
    Mock {
        /// `Semrush`, `Microsoft` or `certificate authority`.
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
    // The public callback: the provider sends the member's browser there.
    let redirect_uri = format!("http://{listen}/oauth/sharepoint/callback");
    let ms = Microsoft::new();
    ms.register_client(CLIENT_ID, Some(CLIENT_SECRET), &redirect_uri);
    let microsoft = ms.start().await.map_err(|source| DemoError::Mock {
        service: "Microsoft",
        source,
    })?;
    tracing::info!(addr = %semrush.addr, "Semrush mock serving api.semrush.com and www.semrush.com over TLS");
    tracing::info!(addr = %microsoft.addr, "Microsoft mock serving login.microsoftonline.com, graph.microsoft.com and contoso.sharepoint.com over TLS");
    Ok(DemoMocks {
        semrush,
        microsoft,
        redirect_uri,
    })
}

impl DemoMocks {
    /// Routes the services' hosts to the mocks (over TLS, trusting the
    /// mocks' certificate authority) and registers the demo's OAuth client
    /// with Microsoft's `common` authority.
    /// The mocks' certificate authority is written beside the data file,
    /// for a browser or curl (`--cacert`) to trust.
    pub fn configure(&self, config: &mut EngineConfig) -> Result<(), DemoError> {
        let ca = switchboard_mocks::tls::ca().pem();
        let ca_file = config.data_file.with_extension("demo-ca.pem");
        std::fs::write(&ca_file, ca).map_err(|source| DemoError::Mock {
            service: "certificate authority",
            source,
        })?;
        tracing::info!(ca = %ca_file.display(), "the mocks' certificates are issued by the demo's certificate authority");
        let mut routes = Routes::default().trust(ca);
        for host in switchboard_mocks::semrush::HOSTS {
            routes = routes.route(host, self.semrush.addr);
        }
        for host in switchboard_mocks::microsoft::HOSTS {
            routes = routes.route(host, self.microsoft.addr);
        }
        config.host.routes = routes;
        let tenant = MicrosoftTenant::parse("common").map_err(|e| DemoError::Seed(e.into()))?;
        config.oauth.insert(
            IntegrationId::new("sharepoint"),
            Registration {
                client_id: CLIENT_ID.into(),
                auth: ClientAuth::SecretPost(Secret::new(CLIENT_SECRET)),
                redirect_uri: self.redirect_uri.clone(),
                provider: Provider::Microsoft(tenant),
            },
        );
        Ok(())
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
