//! Personal connections over OAuth 2.0 and the SharePoint connector, end to
//! end: a simulated browser signs in at the Microsoft identity mock, the
//! engine exchanges the code, and the real component reads Graph.

use futures::future::join_all;
use serde_json::{Value, json};
use switchboard::engine::Callback;
use switchboard::model::{ConnectionStatus, EventKind, Mode, Role};
use switchboard::oauth::{ClientAuth, MicrosoftTenant, Provider, Registration};
use switchboard::{Engine, Error};
use switchboard_e2e::*;
use switchboard_mocks::microsoft::{DRIVE_ID, Microsoft, SITE_ID};

const CLIENT_ID: &str = "4a1aa1d5-c567-49d0-ad0b-cd957a47f842";
const REDIRECT: &str = "https://app.example/integrations/sharepoint/callback";

struct World {
    engine: Engine,
    ms: Microsoft,
    h: Harness,
    _running: Vec<switchboard_mocks::Running>,
}

async fn world_with(configure: impl FnOnce(&mut switchboard::EngineConfig)) -> World {
    let mut h = Harness::new();
    let ms = Microsoft::new();
    ms.register_client(CLIENT_ID, Some("client-secret-value"), REDIRECT);
    ms.set_page_size(3);
    let running = ms.start().await.unwrap();
    for host in switchboard_mocks::microsoft::HOSTS {
        h.route(host, running.addr);
    }
    let (_semrush, semrush_running) = semrush(&mut h).await;
    h.install_semrush();
    h.install(&switchboard_plugin_artifacts::plugins_dir().join("sharepoint.wasm"));
    let mut config = h.config();
    config.oauth.insert(
        id("sharepoint"),
        Registration {
            client_id: CLIENT_ID.into(),
            auth: ClientAuth::SecretPost(switchboard::vault::Secret::new("client-secret-value")),
            redirect_uri: REDIRECT.into(),
            provider: Provider::Microsoft(MicrosoftTenant::parse("common").unwrap()),
        },
    );
    configure(&mut config);
    let engine = Engine::open(config).await.unwrap();
    engine
        .enable(&admin(), &id("sharepoint"), Mode::User)
        .unwrap();
    World {
        engine,
        ms,
        h,
        _running: vec![running, semrush_running],
    }
}

async fn world() -> World {
    world_with(|_| {}).await
}

impl World {
    /// The browser: follows the authorize URL to the mock and reads the
    /// redirect back to the app.
    async fn browse(&self, authorize_url: &str) -> Callback {
        let response = self.h.browser().get(authorize_url).await;
        assert_eq!(response.status(), 302);
        let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
        assert!(location.as_str().starts_with(REDIRECT), "{location}");
        let param = |k: &str| {
            location
                .query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
        };
        Callback {
            state: param("state").unwrap_or_default(),
            code: param("code"),
            error: param("error"),
            error_description: param("error_description"),
        }
    }

    async fn sign_in(&self, who: &switchboard::model::Actor) -> switchboard::model::Connection {
        let start = self
            .engine
            .begin_connect(who, &id("sharepoint"), None)
            .unwrap();
        let callback = self.browse(&start.authorize_url).await;
        self.engine
            .complete_connect(who, &id("sharepoint"), &callback)
            .await
            .unwrap()
    }

    /// Bob signs in at Microsoft, and the sign-in must be refused: why.
    async fn sign_in_refused(&self) -> Error {
        let start = self
            .engine
            .begin_connect(&member(), &id("sharepoint"), None)
            .unwrap();
        let callback = self.browse(&start.authorize_url).await;
        self.engine
            .complete_connect(&member(), &id("sharepoint"), &callback)
            .await
            .unwrap_err()
    }

    /// `who` comes back to `integration`'s callback with `callback`: the
    /// sign-in must be refused, and this is the reason given.
    async fn refused_callback(
        &self,
        who: &switchboard::model::Actor,
        integration: &switchboard::model::IntegrationId,
        callback: &Callback,
    ) -> String {
        self.engine
            .complete_connect(who, integration, callback)
            .await
            .unwrap_err()
            .to_string()
    }

    /// Bob runs SharePoint's `action` with `input`.
    async fn bob(&self, action: &str, input: Value) -> Result<Value, Error> {
        self.run(&member(), action, input).await
    }

    /// Bob opens the document `item` in the Documents drive.
    async fn bob_opens(&self, item: impl Into<Value>) -> Result<Value, Error> {
        let item: Value = item.into();
        self.bob(
            "get_document",
            json!({"drive_id": DRIVE_ID, "item_id": item}),
        )
        .await
    }

    async fn run(
        &self,
        who: &switchboard::model::Actor,
        action: &str,
        input: Value,
    ) -> Result<Value, Error> {
        self.engine
            .invoke(who, &id("sharepoint"), action, &input)
            .await
    }
}

/// How many items a listing holds, and whether it says it was cut short.
fn items_and_truncated(listing: &Value) -> (usize, Value) {
    (
        listing["items"].as_array().unwrap().len(),
        listing["truncated"].clone(),
    )
}

#[tokio::test]
async fn a_member_signs_in_with_microsoft_then_searches_and_reads_documents() {
    let w = world().await;
    let start = w
        .engine
        .begin_connect(&member(), &id("sharepoint"), None)
        .unwrap();
    let url = url::Url::parse(&start.authorize_url).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(url.host_str(), Some("login.microsoftonline.com"));
    assert_eq!(
        (
            q["client_id"].as_str(),
            q["redirect_uri"].as_str(),
            q["code_challenge_method"].as_str()
        ),
        (CLIENT_ID, REDIRECT, "S256")
    );
    assert_eq!(q["code_challenge"].len(), 43);
    assert!(
        q["scope"].contains("offline_access")
            && q["scope"].contains("https://graph.microsoft.com/Files.Read.All")
    );

    let connection = w
        .engine
        .complete_connect(
            &member(),
            &id("sharepoint"),
            &w.browse(&start.authorize_url).await,
        )
        .await
        .unwrap();
    assert_eq!(connection.account.label, "Adele Vance");
    assert_eq!(
        connection.account.detail.as_deref(),
        Some("AdeleV@contoso.onmicrosoft.com")
    );
    assert_eq!(
        connection.scopes,
        [
            "openid",
            "profile",
            "User.Read",
            "Sites.Read.All",
            "Files.Read.All"
        ]
    );
    let page = w.engine.user_integrations(&member()).unwrap();
    let row = page
        .user_integrations
        .iter()
        .find(|r| r.id.as_str() == "sharepoint")
        .unwrap();
    assert_eq!(
        (
            row.connection.as_ref().unwrap().status,
            row.action.as_deref()
        ),
        (ConnectionStatus::Connected, Some("Disconnect"))
    );

    let found = w
        .bob("search", json!({"query": "primary keyword"}))
        .await
        .unwrap();
    assert_eq!(found["total"], 1);
    assert_eq!(
        found["hits"][0]["document"]["name"],
        "SEO brief - spring launch.txt"
    );
    let item = found["hits"][0]["document"]["id"].as_str().unwrap();

    let doc = w.bob_opens(item).await.unwrap();
    assert!(
        doc["text"]
            .as_str()
            .unwrap()
            .starts_with("SEO brief: spring launch\n\nPrimary keyword: content marketing platform")
    );
    assert_eq!(doc["document"]["mime_type"], "text/plain");

    let sites = w
        .bob("list_sites", json!({"query": "marketing"}))
        .await
        .unwrap();
    assert_eq!(sites["sites"][0]["id"], SITE_ID);
    let drives = w
        .bob("list_drives", json!({"site_id": SITE_ID}))
        .await
        .unwrap();
    assert_eq!(drives["drives"][0]["name"], "Documents");

    // Pages of 3 are followed through @odata.nextLink up to the limit.
    let all = w
        .bob("list_items", json!({"drive_id": DRIVE_ID}))
        .await
        .unwrap();
    assert_eq!(items_and_truncated(&all), (6, json!(false)));
    let some = w
        .bob("list_items", json!({"drive_id": DRIVE_ID, "limit": 4}))
        .await
        .unwrap();
    assert_eq!(items_and_truncated(&some), (4, json!(true)));
    let folder = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["is_folder"] == true)
        .unwrap();
    let inside = w
        .bob(
            "list_items",
            json!({"drive_id": DRIVE_ID, "folder_id": folder["id"]}),
        )
        .await
        .unwrap();
    assert_eq!(inside["items"].as_array().unwrap().len(), 3);

    // Throttled requests are retried after Retry-After (fractional here).
    w.ms.throttle_next(2);
    assert_eq!(
        w.bob("search", json!({"query": "budget"})).await.unwrap()["total"],
        1
    );

    // Graph's own errors come back typed.
    let err = w.bob_opens("01NOPE").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "sharepoint: not found: Microsoft Graph: itemNotFound: The resource could not be found."
    );
    let err = w.bob_opens(folder["id"].clone()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "sharepoint: invalid input: `Campaigns` is a folder; list its items instead"
    );
    let err = w
        .bob(
            "upload_document",
            json!({"drive_id": DRIVE_ID, "folder_id": folder["id"], "name": "x.txt", "text": "hi"}),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("accessDenied"),
        "read scopes cannot write: {err}"
    );
}

#[tokio::test]
async fn every_bad_callback_is_refused_and_changes_nothing() {
    let w = world_with(|c| c.oauth_flow_lifetime = std::time::Duration::from_millis(300)).await;
    let sharepoint = id("sharepoint");

    // Replay: a state works once.
    let start = w
        .engine
        .begin_connect(&member(), &sharepoint, None)
        .unwrap();
    let callback = w.browse(&start.authorize_url).await;
    w.engine
        .complete_connect(&member(), &sharepoint, &callback)
        .await
        .unwrap();
    assert_eq!(
        w.refused_callback(&member(), &sharepoint, &callback).await,
        "the sign-in was refused: this sign-in is unknown or was already used; start again"
    );
    // An unknown state.
    let forged = Callback {
        state: "forged".into(),
        code: Some("x".into()),
        ..Callback::default()
    };
    assert_eq!(
        w.refused_callback(&member(), &sharepoint, &forged).await,
        "the sign-in was refused: this sign-in is unknown or was already used; start again"
    );

    // Another member's state.
    let carol = actor("carol", "acme", Role::Member);
    let start = w
        .engine
        .begin_connect(&member(), &sharepoint, None)
        .unwrap();
    let callback = w.browse(&start.authorize_url).await;
    assert_eq!(
        w.refused_callback(&carol, &sharepoint, &callback).await,
        "the sign-in was refused: this sign-in was started by someone else"
    );

    // Mix-up: a SharePoint state at another integration's callback.
    let start = w
        .engine
        .begin_connect(&member(), &sharepoint, None)
        .unwrap();
    let callback = w.browse(&start.authorize_url).await;
    assert_eq!(
        w.refused_callback(&member(), &id("semrush"), &callback)
            .await,
        "the sign-in was refused: this sign-in was started for sharepoint, not semrush"
    );

    // The provider's error redirect.
    let start = w
        .engine
        .begin_connect(&member(), &sharepoint, None)
        .unwrap();
    w.ms.deny_next_sign_in(
        "access_denied",
        "AADSTS65004: User declined to consent to access the app.",
    );
    let callback = w.browse(&start.authorize_url).await;
    assert_eq!(
        w.refused_callback(&member(), &sharepoint, &callback).await,
        "the sign-in was refused: the provider refused: access_denied: AADSTS65004: User declined to consent to access the app."
    );

    // A code bound to another sign-in's PKCE challenge fails at the token endpoint.
    let mine = w
        .engine
        .begin_connect(&member(), &sharepoint, None)
        .unwrap();
    let other = w
        .engine
        .begin_connect(&member(), &sharepoint, None)
        .unwrap();
    let stolen = w.browse(&other.authorize_url).await;
    let spliced = Callback {
        state: mine.state.clone(),
        ..stolen
    };
    let err = w.refused_callback(&member(), &sharepoint, &spliced).await;
    assert_eq!(
        err,
        "the sign-in was refused: the code exchange failed: invalid_grant: AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request."
    );

    // Expiry.
    let start = w.engine.begin_connect(&carol, &sharepoint, None).unwrap();
    let callback = w.browse(&start.authorize_url).await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(
        w.refused_callback(&carol, &sharepoint, &callback).await,
        "the sign-in was refused: this sign-in expired; start again"
    );

    // Nothing changed for carol; bob has exactly the one connection.
    assert!(
        w.engine
            .user_integrations(&carol)
            .unwrap()
            .user_integrations[0]
            .connection
            .is_none()
    );
    let failed = switchboard::audit::Filter {
        outcome: Some(switchboard::audit::OutcomeKind::Failed),
        ..Default::default()
    };
    let trail = w.engine.audit(&admin(), &failed, None, 100).unwrap();
    assert_eq!(
        trail
            .records
            .iter()
            .filter(|r| r.entry.operation == "connect")
            .count(),
        7
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_calls_on_an_expired_token_share_one_refresh() {
    // Fifty calls of one member at once: more than a fair share, allowed
    // here so the refresh is what is tested.
    let w = world_with(|config| {
        config.call_shares.per_member = 50;
        config.call_shares.per_workspace = 50;
        config.host.limits.calls_per_plugin = 50;
        config.host.limits.concurrent_calls = 50;
    })
    .await;
    w.sign_in(&member()).await;
    w.ms.expire_access_tokens();
    let bob = member();
    let calls = (0..50).map(|_| w.run(&bob, "list_sites", json!({"query": "marketing"})));
    let results = join_all(calls).await;
    assert!(
        results.iter().all(|r| r
            .as_ref()
            .is_ok_and(|v| v["sites"][0]["name"] == "Marketing")),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );
    assert_eq!(w.ms.refreshes(), 1);
}

#[tokio::test]
async fn a_revoked_grant_asks_the_member_to_reconnect_and_reconnecting_keeps_the_id() {
    let w = world().await;
    let connection = w.sign_in(&member()).await;
    let mut events = w.engine.subscribe();
    w.ms.revoke_grants(0);
    w.ms.expire_access_tokens();
    let err = w.bob("search", json!({"query": "seo"})).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("AADSTS50173: The provided grant has expired due to it being revoked"),
        "{err}"
    );
    let event = events.recv().await.unwrap();
    assert_eq!(
        (event.kind, event.connections.as_slice()),
        (EventKind::NeedsReauth, std::slice::from_ref(&connection.id))
    );
    let row = w
        .engine
        .user_integrations(&member())
        .unwrap()
        .user_integrations
        .into_iter()
        .find(|r| r.id.as_str() == "sharepoint")
        .unwrap();
    let shown = row.connection.unwrap();
    assert_eq!(shown.status, ConnectionStatus::NeedsReauth);
    assert!(
        shown
            .status_reason
            .unwrap()
            .starts_with("invalid_grant: AADSTS50173")
    );
    assert_eq!(row.action.as_deref(), Some("Reconnect"));
    // No retry storm: the next call is refused without asking the provider.
    let refreshes = w.ms.refreshes();
    assert!(w.bob("search", json!({"query": "seo"})).await.is_err());
    assert_eq!(w.ms.refreshes(), refreshes);

    let again = w.sign_in(&member()).await;
    assert_eq!(
        (again.id, again.status),
        (connection.id, ConnectionStatus::Connected)
    );
    assert_eq!(
        w.bob("search", json!({"query": "litware"})).await.unwrap()["total"],
        1
    );
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire_and_an_outage_leaves_the_connection_alone() {
    let w = world().await;
    // A three-second token is used for most of its life, then refreshed
    // in its last tenth, before the service would refuse it.
    w.ms.set_access_token_lifetime(3);
    let connection = w.sign_in(&member()).await;
    w.bob("list_sites", json!({"query": "marketing"}))
        .await
        .unwrap();
    assert_eq!(w.ms.refreshes(), 0, "a fresh token is used as it is");
    tokio::time::sleep(std::time::Duration::from_millis(2_750)).await;
    w.bob("list_sites", json!({"query": "marketing"}))
        .await
        .unwrap();
    assert_eq!(
        w.ms.refreshes(),
        1,
        "refreshed ahead of expiry, before any 401"
    );

    w.ms.set_token_outage(true);
    w.ms.expire_access_tokens();
    let err = w
        .bob("list_sites", json!({"query": "marketing"}))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the access token could not be refreshed: temporarily_unavailable"),
        "{err}"
    );
    assert_eq!(
        w.engine
            .connection(&member(), &connection.id)
            .unwrap()
            .status,
        ConnectionStatus::Connected
    );

    w.ms.set_token_outage(false);
    w.ms.set_access_token_lifetime(3599);
    w.bob("list_sites", json!({"query": "marketing"}))
        .await
        .unwrap();
}

/// The scopes SharePoint's manifest asks for, as sent.
const REQUESTED: &str = "openid profile offline_access https://graph.microsoft.com/User.Read https://graph.microsoft.com/Sites.Read.All https://graph.microsoft.com/Files.Read.All";

/// Bob and nineteen more of his calls at once; each must list the site.
async fn twenty_calls(w: &World) {
    let bob = member();
    let calls = (0..20).map(|_| w.run(&bob, "list_sites", json!({"query": "marketing"})));
    for result in join_all(calls).await {
        assert_eq!(result.unwrap()["sites"][0]["name"], "Marketing");
    }
}

/// Twenty calls of one member at once are allowed here, so the refresh is
/// what is tested.
fn twenty_at_once(config: &mut switchboard::EngineConfig) {
    config.call_shares.per_member = 20;
    config.call_shares.per_workspace = 20;
    config.host.limits.calls_per_plugin = 20;
    config.host.limits.concurrent_calls = 20;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minute_long_tokens_are_refreshed_once_for_twenty_callers_then_not_again() {
    let w = world_with(twenty_at_once).await;
    w.ms.set_access_token_lifetime(60);
    w.sign_in(&member()).await;
    twenty_calls(&w).await;
    assert_eq!(
        w.ms.refreshes(),
        0,
        "a fresh one-minute token is used as it is"
    );
    w.ms.expire_access_tokens();
    twenty_calls(&w).await;
    assert_eq!(w.ms.refreshes(), 1, "twenty callers share one refresh");
    twenty_calls(&w).await;
    assert_eq!(
        w.ms.refreshes(),
        1,
        "the refreshed minute-long token is fresh"
    );
}

#[tokio::test]
async fn a_token_response_without_scope_keeps_the_requested_scopes() {
    let w = world().await;
    w.ms.omit_scope_in_token_responses(true);
    let connection = w.sign_in(&member()).await;
    assert_eq!(connection.scopes.join(" "), REQUESTED);
    for _ in 0..2 {
        w.ms.expire_access_tokens();
        w.bob("list_sites", json!({"query": "marketing"}))
            .await
            .unwrap();
    }
    let refreshes: Vec<_> =
        w.ms.token_requests()
            .into_iter()
            .filter(|r| r.grant_type == "refresh_token")
            .collect();
    assert_eq!(refreshes.len(), 2);
    for refresh in refreshes {
        assert_eq!(
            refresh.scope.as_deref(),
            Some(REQUESTED),
            "never an empty scope"
        );
    }
}

#[tokio::test]
async fn a_provider_that_keeps_its_refresh_token_is_refreshed_again_and_again() {
    let w = world().await;
    w.ms.set_refresh_token_rotation(false);
    w.sign_in(&member()).await;
    for round in 1..=3 {
        w.ms.expire_access_tokens();
        w.bob("list_sites", json!({"query": "marketing"}))
            .await
            .unwrap();
        assert_eq!(w.ms.refreshes(), round);
    }
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/fixtures/oauth/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn set_auth(config: &mut switchboard::EngineConfig, auth: ClientAuth) {
    if let Some(registration) = config.oauth.get_mut(&id("sharepoint")) {
        registration.auth = auth;
    }
}

#[tokio::test]
async fn the_client_authenticates_with_basic_or_a_signed_assertion_as_entra_checks() {
    let certificate = || {
        switchboard::oauth::AssertionKey::from_pem(
            &fixture("client.key"),
            "RS256",
            Some(&fixture("client.crt")),
            None,
        )
        .unwrap()
    };
    let basic = ClientAuth::SecretBasic(switchboard::vault::Secret::new("client-secret-value"));
    for (auth, method) in [
        (basic, "client_secret_basic"),
        (ClientAuth::PrivateKeyJwt(certificate()), "private_key_jwt"),
    ] {
        let w = world_with(|config| set_auth(config, auth)).await;
        w.ms.register_certificate(
            CLIENT_ID,
            &String::from_utf8(fixture("client.crt")).unwrap(),
            &String::from_utf8(fixture("client.pub")).unwrap(),
        );
        w.sign_in(&member()).await;
        w.ms.expire_access_tokens();
        w.bob("list_sites", json!({"query": "marketing"}))
            .await
            .unwrap();
        let requests = w.ms.token_requests();
        assert_eq!(requests.len(), 2, "{method}");
        assert!(
            requests.iter().all(|r| r.auth_method == method),
            "{requests:?}"
        );
    }

    // A key whose certificate Entra does not know is refused, and says so.
    let unknown = switchboard::oauth::AssertionKey::from_pem(
        &fixture("client.key"),
        "RS256",
        None,
        Some("not-the-registered-certificate".into()),
    )
    .unwrap();
    let w = world_with(|config| set_auth(config, ClientAuth::PrivateKeyJwt(unknown))).await;
    let refused = w.sign_in_refused().await;
    assert!(
        matches!(&refused, Error::CodeExchange(switchboard::oauth::TokenError::Misconfigured(why)) if why.starts_with("invalid_client: AADSTS700027")),
        "{refused}"
    );
}

#[tokio::test]
async fn an_issuer_is_discovered_once_and_its_endpoints_used() {
    let issuer = format!(
        "https://login.microsoftonline.com/{}/v2.0",
        switchboard_mocks::microsoft::TENANT_ID
    );
    let w = world_with(|config| {
        if let Some(registration) = config.oauth.get_mut(&id("sharepoint")) {
            registration.provider = Provider::Issuer(url::Url::parse(&issuer).unwrap());
        }
    })
    .await;
    w.sign_in(&member()).await;
    w.sign_in(&member()).await;
    assert_eq!(w.ms.discoveries(), 1);
    assert_eq!(
        w.ms.authorize_tenants(),
        [switchboard_mocks::microsoft::TENANT_ID; 2]
    );
}

#[tokio::test]
async fn a_failed_revocation_is_logged_and_audited_and_the_connection_still_goes() {
    let tenant = switchboard_mocks::microsoft::TENANT_ID;
    let w = world_with(|config| {
        let base = format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0");
        if let Some(registration) = config.oauth.get_mut(&id("sharepoint")) {
            registration.provider = Provider::Endpoints(
                switchboard::oauth::Endpoints::new(
                    &format!("{base}/authorize"),
                    &format!("{base}/token"),
                    // Entra has no revocation endpoint: this one answers 404.
                    Some(&format!("{base}/revoke")),
                )
                .unwrap(),
            );
        }
    })
    .await;
    let connection = w.sign_in(&member()).await;
    w.engine
        .disconnect(&member(), &connection.id)
        .await
        .unwrap();
    assert!(w.engine.connection(&member(), &connection.id).is_err());
    let trail = w
        .engine
        .audit(&admin(), &switchboard::audit::Filter::default(), None, 10)
        .unwrap();
    let revoke = trail
        .records
        .iter()
        .find(|r| r.entry.operation == "revoke")
        .unwrap();
    assert_eq!(
        revoke.entry.outcome,
        switchboard::audit::Outcome::Failed {
            message: "the provider did not revoke the grant: the token endpoint answered HTTP 404 Not Found".into()
        }
    );
}

#[tokio::test]
async fn a_certificate_nobody_trusts_is_named_in_the_error() {
    let w = world_with(|config| {
        // The mocks' hosts stay routed, but their authority is not trusted.
        let mut routes = switchboard::net::Routes::default();
        for (host, to) in config.host.routes.hosts() {
            routes = routes.route(host, to);
        }
        config.host.routes = routes;
    })
    .await;
    let refused = w.sign_in_refused().await.to_string();
    assert!(
        refused.contains("invalid peer certificate: UnknownIssuer"),
        "{refused}"
    );
}
