//! `serve --demo`: local mocks of Semrush, of Microsoft identity, Graph
//! and SharePoint, and of Zendesk (account `acme`, agent
//! `ada@acme.test`, API token `demo-zendesk-token`), and a seeded `demo`
//! workspace (admin `ada`, developer `dev`, members `bob` and `carol`), so a
//! newcomer with no accounts can try every scenario with curl.

use crate::handlers::Object;
use crate::problem::Problem;
use crate::sessions::OpenedSession;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use std::net::SocketAddr;
use switchboard::model::{Actor, IntegrationId, Mode, Role, UserId, WorkspaceId};
use switchboard::net::Routes;
use switchboard::oauth::{ClientAuth, MicrosoftTenant, Provider, Registration};
use switchboard::pasted::PastedKey;
use switchboard::vault::Secret;
use switchboard::{Engine, EngineConfig, Error};
use switchboard_mocks::microsoft::Microsoft;
use switchboard_mocks::semrush::Semrush;
use switchboard_mocks::zendesk::Zendesk;

/// The service token the demo accepts.
pub const SERVICE_TOKEN: &str = "demo-token";
/// The demo's Semrush API keys: the workspace's, and one a member may use.
pub const SEMRUSH_KEY: &str = "demo-semrush-key";
pub const PERSONAL_SEMRUSH_KEY: &str = "demo-personal-semrush-key";
const CLIENT_ID: &str = "switchboard-demo";
const CLIENT_SECRET: &str = "demo-client-secret";

pub struct DemoMocks {
    semrush: switchboard_mocks::Running,
    /// Zendesk's demo account, and the mock serving it.
    zendesk: (Zendesk, switchboard_mocks::Running),
    microsoft: switchboard_mocks::Running,
    /// The Microsoft mock's sign-in page, over plain HTTP for browsers.
    sign_in_page: switchboard_mocks::Running,
    redirect_uri: String,
    listen: SocketAddr,
}

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A mock could not listen, or its authority not be written.
    #[error("cannot start the {service} mock: {source}")]
    Mock {
        /// `Semrush`, `Microsoft`, `Zendesk` or `certificate authority`.
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
    ms.register_client(CLIENT_ID, Some(CLIENT_SECRET), &redirect_uri)
        .ask_for_consent();
    let mock = |source| DemoError::Mock {
        service: "Microsoft",
        source,
    };
    let microsoft = ms.start().await.map_err(mock)?;
    let sign_in_page = ms.start_for_browsers().await.map_err(mock)?;
    let zendesk = Zendesk::demo();
    let zendesk_running = zendesk.start().await.map_err(|source| DemoError::Mock {
        service: "Zendesk",
        source,
    })?;
    tracing::info!(addr = %semrush.addr, "Semrush mock serving api.semrush.com and www.semrush.com over TLS");
    tracing::info!(addr = %zendesk_running.addr, "Zendesk mock serving acme.zendesk.com over TLS");
    tracing::info!(addr = %microsoft.addr, "Microsoft mock serving login.microsoftonline.com, graph.microsoft.com and contoso.sharepoint.com over TLS");
    tracing::info!(addr = %sign_in_page.addr, "Microsoft mock's sign-in page, for browsers, over http");
    Ok(DemoMocks {
        semrush,
        zendesk: (zendesk, zendesk_running),
        microsoft,
        sign_in_page,
        redirect_uri,
        listen,
    })
}

impl DemoMocks {
    /// Routes the services' hosts to the mocks (over TLS, trusting the
    /// mocks' certificate authority) and registers the demo's OAuth client
    /// with Microsoft's `common` authority.
    /// The mocks' certificate authority is written beside the data file
    /// (or, on a database, to `switchboard-demo-ca.pem` here), for a
    /// browser or curl (`--cacert`) to trust.
    pub fn configure(&self, config: &mut EngineConfig) -> Result<(), DemoError> {
        let ca = switchboard_mocks::tls::ca().pem();
        let ca_file = config.data.file().map_or_else(
            || std::path::PathBuf::from("switchboard-demo-ca.pem"),
            |data| data.with_extension("demo-ca.pem"),
        );
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
        let (zendesk, running) = &self.zendesk;
        for host in zendesk.hosts() {
            routes = routes.route(&host, running.addr);
        }
        // A browser cannot be routed as the engine is: it opens the mock's
        // sign-in page on its own loopback address.
        let sign_in_page = url::Url::parse(&format!("http://{}", self.sign_in_page.addr))
            .map_err(|e| DemoError::Seed(Error::Internal(e.to_string())))?;
        config.host.routes = routes.browse("login.microsoftonline.com", sign_in_page);
        let console = url::Url::parse(&format!("http://{}/console/", self.listen))
            .map_err(|e| DemoError::Seed(Error::Internal(e.to_string())))?;
        config.return_urls = std::mem::take(&mut config.return_urls).allow_console(&console);
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

/// Someone to be in the demo's console.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Persona {
    /// What the console's switcher sends back.
    pub id: &'static str,
    /// What the switcher shows.
    pub label: &'static str,
    pub workspace: &'static str,
    pub role: Role,
    pub plan: &'static str,
}

/// The demo workspace's people, and an admin of a workspace on a plan
/// without integration management.
pub const PERSONAS: [Persona; 5] = [
    persona("ada", "Ada, admin", "demo", Role::Admin, "business"),
    persona("dev", "Dev, developer", "demo", Role::Developer, "business"),
    persona("bob", "Bob, member", "demo", Role::Member, "business"),
    persona("carol", "Carol, member", "demo", Role::Member, "business"),
    persona(
        "frank",
        "Frank, admin on the Starter plan",
        "corner-shop",
        Role::Admin,
        "starter",
    ),
];

const fn persona(
    id: &'static str,
    label: &'static str,
    workspace: &'static str,
    role: Role,
    plan: &'static str,
) -> Persona {
    Persona {
        id,
        label,
        workspace,
        role,
        plan,
    }
}

/// How long a persona's session lasts: a working day of trying things.
const PERSONA_SESSION: std::time::Duration = std::time::Duration::from_secs(8 * 60 * 60);

/// The persona switcher's routes: the personas, and a session for one.
/// Demo only: anyone who reaches the demo may be anyone in it.
pub(crate) fn routes() -> axum::Router<crate::Shared> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/demo/personas", get(|| async { axum::Json(PERSONAS) }))
        .route("/demo/sessions", post(persona_session))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonaChoice {
    persona: String,
}

/// `POST /demo/sessions` `{"persona": "bob"}`: a session as that persona.
async fn persona_session(
    State(app): State<crate::Shared>,
    Object(choice): Object<PersonaChoice>,
) -> Result<Json<OpenedSession>, Problem> {
    let Some(persona) = PERSONAS.iter().find(|p| p.id == choice.persona) else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "Unknown persona",
            "GET /demo/personas lists them",
        ));
    };
    let actor = Actor {
        user: UserId::new(persona.id),
        workspace: WorkspaceId::new(persona.workspace),
        role: persona.role,
        plan: persona.plan.to_owned(),
    };
    let opened = app.engine.open_session(&actor, PERSONA_SESSION)?;
    Ok(Json(OpenedSession::from(opened)))
}
