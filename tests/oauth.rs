//! Personal connections as a real deployment runs them: the operator's
//! registration (a single tenant, `common`, endpoints it names), the
//! service over HTTP, and a member's browser that follows every redirect
//! from the app to Microsoft's sign-in, back to the public callback, and on
//! to the app's return URL, carrying no token of its own.

use serde_json::{Value, json};
use std::time::Duration;
use switchboard::Engine;
use switchboard::engine::ReturnUrls;
use switchboard::model::Mode;
use switchboard::oauth::{ClientAuth, Endpoints, MicrosoftTenant, Provider, Registration};
use switchboard::plugins::LoadOutcome;
use switchboard::vault::Secret;
use switchboard_e2e::*;
use switchboard_mocks::microsoft::{Microsoft, TENANT_ID};
use url::Url;

const CLIENT_ID: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
const SECRET: &str = "Qx38Q~contoso-app-secret";
const TOKEN: &str = "host-service-token";
const APP: &str = "https://app.example";
const RETURN: &str = "https://app.example/settings/integrations";

/// Switchboard serving its API on loopback, SharePoint registered by the
/// operator, Microsoft's mock behind the real host names.
struct Deployment {
    base: String,
    ms: Microsoft,
    h: Harness,
    _mocks: Vec<switchboard_mocks::Running>,
    _server: tokio::task::JoinHandle<()>,
}

/// How the operator registered SharePoint, given the redirect URI.
type Registers = fn(&str) -> Registration;

fn tenant(tenant: &str) -> Provider {
    Provider::Microsoft(MicrosoftTenant::parse(tenant).unwrap())
}

fn single_tenant(redirect_uri: &str) -> Registration {
    Registration {
        client_id: CLIENT_ID.into(),
        auth: ClientAuth::SecretPost(Secret::new(SECRET)),
        redirect_uri: redirect_uri.into(),
        provider: tenant(TENANT_ID),
    }
}

fn on_common(redirect_uri: &str) -> Registration {
    Registration {
        provider: tenant("common"),
        ..single_tenant(redirect_uri)
    }
}

async fn deploy(
    registers: Registers,
    configure: impl FnOnce(&mut switchboard::EngineConfig),
) -> Deployment {
    let mut h = Harness::new();
    let ms = Microsoft::new();
    let running = ms.start().await.unwrap();
    for host in switchboard_mocks::microsoft::HOSTS {
        h.route(host, running.addr);
    }
    h.install(&switchboard_plugin_artifacts::plugins_dir().join("sharepoint.wasm"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let redirect_uri = format!("{base}/oauth/sharepoint/callback");
    ms.register_client(CLIENT_ID, Some(SECRET), &redirect_uri)
        .single_tenant(CLIENT_ID);
    let mut config = h.config();
    config
        .oauth
        .insert(id("sharepoint"), registers(&redirect_uri));
    config.return_urls = ReturnUrls::new(&[APP.into()], Some(RETURN)).unwrap();
    configure(&mut config);
    let engine = Engine::open(config).await.unwrap();
    engine
        .enable(&admin(), &id("sharepoint"), Mode::User)
        .unwrap();
    let app = switchboard_server::router(
        engine,
        switchboard_server::ServiceTokens::default().with_token(TOKEN),
        switchboard_server::Console::HostHandsToken,
    );
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Deployment {
        base,
        ms,
        h,
        _mocks: vec![running],
        _server: server,
    }
}

/// Where a redirect sends the browser.
fn location(response: &reqwest::Response) -> Url {
    Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl Deployment {
    /// The host application asks, for Bob, to connect SharePoint.
    async fn connect(&self, body: Value) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!(
                "{}/v1/workspaces/acme/integrations/sharepoint/connect",
                self.base
            ))
            .bearer_auth(TOKEN)
            .header("x-switchboard-user", "bob")
            .header("x-switchboard-role", "member")
            .header("x-switchboard-plan", "business")
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Bob's sign-in begins; the sign-in link the app sends his browser to.
    async fn sign_in_link(&self, body: Value) -> String {
        self.started(body).await["start_url"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Bob's sign-in begins; what the connect answer says of it.
    async fn started(&self, body: Value) -> Value {
        let started = self.connect(body).await;
        assert_eq!(started.status(), 200);
        let started: Value = started.json().await.unwrap();
        started["sign_in"].clone()
    }

    /// A browser opens the sign-in link: Switchboard keeps a key in it and
    /// sends it to Microsoft's authorize URL, which it returns.
    async fn opens(&self, browser: &Browser, link: &str) -> Url {
        let opened = browser.get(link).await;
        assert_eq!(opened.status(), 303, "{:?}", opened.text().await);
        location(&opened)
    }

    /// The browser at Microsoft: signs in and is redirected to the public
    /// callback, whose URL it returns.
    async fn at_microsoft(&self, browser: &Browser, authorize_url: &Url) -> Url {
        let signed_in = browser.get(authorize_url.as_str()).await;
        assert_eq!(signed_in.status(), 302);
        location(&signed_in)
    }

    /// The browser at the callback: it must be sent on with 303; where to.
    async fn at_callback(&self, browser: &Browser, callback: &Url) -> Url {
        let back = browser.get(callback.as_str()).await;
        assert_eq!(back.status(), 303, "{:?}", back.text().await);
        assert_eq!(back.headers()["referrer-policy"], "no-referrer");
        location(&back)
    }

    /// The whole sign-in in Bob's browser, from the app's request to the
    /// callback's URL.
    async fn to_callback(&self, browser: &Browser, body: Value) -> Url {
        let link = self.sign_in_link(body).await;
        let authorize = self.opens(browser, &link).await;
        self.at_microsoft(browser, &authorize).await
    }

    /// The whole sign-in, from the app's request to where Bob lands.
    async fn sign_in(&self, body: Value) -> Url {
        let browser = self.h.browser();
        let callback = self.to_callback(&browser, body).await;
        let landed = self.at_callback(&browser, &callback).await;
        assert_eq!(browser.cookies(), 0, "the sign-in's cookie is cleared");
        landed
    }

    /// Bob searches SharePoint through the API.
    async fn bob_searches(&self) -> Value {
        reqwest::Client::new()
            .post(format!(
                "{}/v1/workspaces/acme/integrations/sharepoint/actions/search",
                self.base
            ))
            .bearer_auth(TOKEN)
            .header("x-switchboard-user", "bob")
            .header("x-switchboard-role", "member")
            .header("x-switchboard-plan", "business")
            .json(&json!({"query": "brand voice"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// The landing URL says the sign-in ended this way, and nothing secret.
fn assert_landed(landed: &Url, at: &str, status: &str, reason: &str) {
    assert!(landed.as_str().starts_with(at), "{landed}");
    assert_eq!(param(landed, "integration").as_deref(), Some("sharepoint"));
    assert_eq!(param(landed, "status").as_deref(), Some(status), "{landed}");
    let said = param(landed, "reason").unwrap_or_default();
    assert!(said.contains(reason), "{said:?} should say {reason:?}");
    for secret in ["code", "state", "access_token", "session_state"] {
        assert!(param(landed, secret).is_none(), "{secret} in {landed}");
    }
}

#[tokio::test]
async fn a_member_signs_in_from_the_browser_at_the_operators_tenant() {
    let d = deploy(single_tenant, |_| {}).await;
    let bob = d.h.browser();
    let link = d.sign_in_link(json!({})).await;
    assert_eq!(
        link.split('?').next(),
        Some(format!("{}/oauth/sharepoint/start", d.base).as_str())
    );
    let authorize = d.opens(&bob, &link).await;
    assert_eq!(
        authorize.path(),
        format!("/{TENANT_ID}/oauth2/v2.0/authorize")
    );
    let callback = d.at_microsoft(&bob, &authorize).await;
    assert_eq!(
        callback.as_str().split('?').next(),
        Some(format!("{}/oauth/sharepoint/callback", d.base).as_str())
    );
    let landed = d.at_callback(&bob, &callback).await;
    assert_landed(
        &landed,
        RETURN,
        "connected",
        "Connected to sharepoint as Adele Vance.",
    );
    assert_eq!(
        d.bob_searches().await["hits"][0]["document"]["name"],
        "Brand voice guidelines.txt"
    );
    assert_eq!(d.ms.authorize_tenants(), [TENANT_ID]);
    let tokens = d.ms.token_requests();
    assert!(!tokens.is_empty());
    assert!(tokens.iter().all(|t| t.tenant == TENANT_ID), "{tokens:?}");

    // A return URL the app chose, on its own origin, is honoured.
    let landed = d
        .sign_in(json!({"return_to": "https://app.example/onboarding?step=3"}))
        .await;
    assert_landed(
        &landed,
        "https://app.example/onboarding?step=3&",
        "connected",
        "Adele Vance",
    );
}

#[tokio::test]
async fn a_single_tenant_app_on_common_is_refused_as_entra_refuses_it() {
    let d = deploy(on_common, |_| {}).await;
    let landed = d.sign_in(json!({})).await;
    assert_landed(
        &landed,
        RETURN,
        "error",
        "the provider refused: invalid_request: AADSTS50194: Application",
    );
    assert!(d.ms.token_requests().is_empty());
}

#[tokio::test]
async fn a_sign_in_is_finished_only_by_the_browser_that_opened_its_link() {
    let d = deploy(single_tenant, |_| {}).await;
    let (bob, mallory) = (d.h.browser(), d.h.browser());

    // Mallory starts a sign-in for herself and lures Bob into finishing
    // it, so that her connection would hold his account.
    let callback = d.to_callback(&mallory, json!({})).await;
    assert_landed(
        &d.at_callback(&bob, &callback).await,
        RETURN,
        "error",
        "this sign-in was started in another browser; start again",
    );

    // Or she sends him the provider's sign-in page itself.
    let started = d.started(json!({})).await;
    let authorize = Url::parse(started["authorize_url"].as_str().unwrap()).unwrap();
    let callback = d.at_microsoft(&bob, &authorize).await;
    assert_landed(
        &d.at_callback(&bob, &callback).await,
        RETURN,
        "error",
        "this sign-in was not opened through its sign-in link; start again",
    );

    // A link works once: a second browser opening it is refused.
    let link = d.sign_in_link(json!({})).await;
    d.opens(&mallory, &link).await;
    let again = bob.get(&link).await;
    assert_eq!(again.status(), 303);
    assert_landed(
        &location(&again),
        RETURN,
        "error",
        "this sign-in link was already opened; start again",
    );
    assert_eq!(bob.cookies(), 0);
}

#[tokio::test]
async fn every_refusal_reaches_the_browser_with_its_reason() {
    let d = deploy(single_tenant, |config| {
        config.oauth_flow_lifetime = Duration::from_millis(400);
    })
    .await;
    let bob = d.h.browser();

    // A replayed callback (a reload, a stolen URL).
    let callback = d.to_callback(&bob, json!({})).await;
    assert_landed(
        &d.at_callback(&bob, &callback).await,
        RETURN,
        "connected",
        "Adele Vance",
    );
    assert_landed(
        &d.at_callback(&bob, &callback).await,
        RETURN,
        "error",
        "this sign-in is unknown or was already used; start again",
    );

    // An answer that comes too late.
    let callback = d.to_callback(&bob, json!({})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_landed(
        &d.at_callback(&bob, &callback).await,
        RETURN,
        "error",
        "this sign-in expired; start again",
    );

    // Bob cancels at Microsoft.
    d.ms.deny_next_sign_in(
        "access_denied",
        "AADSTS65004: User declined to consent to access the app.",
    );
    let landed = d.sign_in(json!({})).await;
    assert_landed(
        &landed,
        RETURN,
        "error",
        "the provider refused: access_denied: AADSTS65004",
    );

    // Mix-up: SharePoint's answer presented at another integration's callback.
    let mut callback = d.to_callback(&bob, json!({})).await;
    callback.set_path("/oauth/semrush/callback");
    let landed = d.at_callback(&bob, &callback).await;
    assert_eq!(param(&landed, "status").as_deref(), Some("error"));
    assert!(
        param(&landed, "reason")
            .unwrap_or_default()
            .contains("this sign-in was started for sharepoint, not semrush"),
        "{landed}"
    );

    // An answer or a link with no state at all belongs to no sign-in, so
    // to no return URL: a page says so.
    for bare in ["callback?code=0.AXoA", "start"] {
        let page = bob
            .get(&format!("{}/oauth/sharepoint/{bare}", d.base))
            .await;
        assert_eq!(page.status(), 400);
        assert_eq!(page.headers()["cache-control"], "no-store");
        let page = page.text().await.unwrap();
        assert!(
            page.contains("the link or the provider&#39;s answer is incomplete; start again"),
            "{page}"
        );
    }

    // An open redirect is refused before the sign-in begins.
    for elsewhere in [
        "https://evil.example/phish",
        "https://app.example.evil.example/",
        "http://app.example/",
        "javascript:alert(1)",
    ] {
        let refused = d.connect(json!({"return_to": elsewhere})).await;
        assert_eq!(refused.status(), 422, "{elsewhere}");
        let problem: Value = refused.json().await.unwrap();
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("is not on an origin the operator allows"),
            "{problem}"
        );
    }
}

#[tokio::test]
async fn a_manifest_whose_endpoints_disagree_with_the_registration_is_refused_and_sent_nothing() {
    // The operator's identity provider is elsewhere than the SharePoint
    // manifest's login.microsoftonline.com, which the mock answers.
    fn elsewhere(redirect_uri: &str) -> Registration {
        Registration {
            provider: Provider::Endpoints(
                Endpoints::new(
                    "https://idp.contoso.example/authorize",
                    "https://idp.contoso.example/token",
                    None,
                )
                .unwrap(),
            ),
            ..single_tenant(redirect_uri)
        }
    }
    let mut h = Harness::new();
    let ms = Microsoft::new();
    let running = ms.start().await.unwrap();
    for host in switchboard_mocks::microsoft::HOSTS {
        h.route(host, running.addr);
    }
    h.install(&switchboard_plugin_artifacts::plugins_dir().join("sharepoint.wasm"));
    let mut config = h.config();
    config.oauth.insert(
        id("sharepoint"),
        elsewhere("https://sb.example/oauth/sharepoint/callback"),
    );
    let engine = Engine::open(config).await.unwrap();
    let refused = engine
        .load_report()
        .iter()
        .find_map(|o| match o {
            LoadOutcome::Refused { reason, .. } => Some(reason.clone()),
            LoadOutcome::Loaded { .. } => None,
        })
        .unwrap();
    assert_eq!(
        refused,
        "its manifest sends authorize requests to `login.microsoftonline.com`, but the operator's OAuth registration names `idp.contoso.example`; secrets go only where the registration says: fix the manifest or the registration"
    );
    assert_eq!(
        engine
            .begin_connect(&member(), &id("sharepoint"), None)
            .unwrap_err()
            .to_string(),
        "no integration `sharepoint` is loaded"
    );
    assert!(ms.authorize_tenants().is_empty());
    assert!(ms.token_requests().is_empty());
}
