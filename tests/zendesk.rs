//! Zendesk, the connector written against contract 0.3.0: an agent's email
//! and API token over HTTP Basic, on the subdomain each workspace sets, and
//! a connector built against 0.2.0 loading and working beside it. Against
//! the Zendesk mock and the Semrush mock, through the whole engine.

use serde_json::json;
use switchboard::Error;
use switchboard::model::{ConnectionStatus, EventKind, Mode, Settings};
use switchboard::pasted::PastedKey;
use switchboard_e2e::*;
use switchboard_mocks::zendesk::{self, Zendesk};

const TOKEN: &str = "zd-token-7f3a9c";
const OTHER_TOKEN: &str = "zd-token-of-globex";

struct World {
    engine: switchboard::Engine,
    mock: Zendesk,
    _running: switchboard_mocks::Running,
    _harness: Harness,
}

/// Zendesk with two accounts, `acme` (Ada, 30 tickets) and `globex`, and
/// a subdomain no account has; the connector and the 0.2.0 one installed.
async fn world() -> World {
    let mut harness = Harness::new();
    let mock = Zendesk::new();
    mock.add_tenant("acme").add_api_token("acme", TOKEN);
    mock.add_agent("acme", "ada@acme.test", "Ada Lovelace");
    for n in 1..=30 {
        mock.add_ticket("acme", &format!("Printer on floor {n} is jammed"), "open");
    }
    mock.add_ticket("acme", "Password reset for Grace", "pending");
    mock.add_tenant("globex")
        .add_api_token("globex", OTHER_TOKEN);
    mock.add_agent("globex", "gus@globex.test", "Gus Globex");
    let running = mock.start().await.expect("zendesk mock starts");
    for host in mock.hosts().iter().chain([&zendesk::host("nobody")]) {
        harness.route(host, running.addr);
    }
    harness.install(&switchboard_plugin_artifacts::plugins_dir().join("zendesk.wasm"));
    let engine = harness.engine().await;
    World {
        engine,
        mock,
        _running: running,
        _harness: harness,
    }
}

fn subdomain(value: &str) -> Settings {
    Settings::from([("subdomain".to_owned(), value.to_owned())])
}

fn agent(email: &str, token: &str) -> PastedKey {
    PastedKey::fields([
        ("email".to_owned(), email.to_owned()),
        ("api_token".to_owned(), token.to_owned()),
    ])
    .unwrap()
}

#[tokio::test]
async fn settings_are_checked_when_an_admin_enables_zendesk() {
    let w = world().await;
    let zendesk = id("zendesk");
    let refused = |settings: Settings| {
        w.engine
            .enable_with(&admin(), &zendesk, Mode::Workspace, &settings)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        refused(Settings::new()),
        "the settings were refused: Zendesk subdomain (`subdomain`) is required"
    );
    assert!(
        refused(subdomain("Acme")).starts_with("the settings were refused: Zendesk subdomain: "),
        "{}",
        refused(subdomain("Acme"))
    );
    assert!(refused(subdomain("acme.evil.example")).contains("Zendesk subdomain"));
    let mut extra = subdomain("acme");
    extra.insert("region".into(), "eu".into());
    assert_eq!(
        refused(extra),
        "the settings were refused: `region` is not a setting of Zendesk"
    );
    // Pasted with a trailing space, as admins paste.
    let enabled = w
        .engine
        .enable_with(&admin(), &zendesk, Mode::Workspace, &subdomain("acme \n"))
        .unwrap();
    assert_eq!(enabled.settings, subdomain("acme"));
    // Approving again without settings keeps them.
    let again = w
        .engine
        .enable(&admin(), &zendesk, Mode::Workspace)
        .unwrap();
    assert_eq!(again.settings, subdomain("acme"));
    // Approving what a version asks names the version that was shown.
    assert_eq!(
        w.engine
            .check_version(&zendesk, "0.0.1")
            .unwrap_err()
            .to_string(),
        format!(
            "zendesk is now version {}, not the 0.0.1 that was shown; look at what it asks for again",
            env!("CARGO_PKG_VERSION")
        )
    );
    // A member cannot change them.
    let denied = w
        .engine
        .enable_with(&member(), &zendesk, Mode::Workspace, &subdomain("globex"))
        .unwrap_err();
    assert!(matches!(denied, Error::Denied { .. }), "{denied}");
}

#[tokio::test]
async fn an_agent_email_and_token_go_as_basic_to_the_workspace_subdomain_only() {
    let w = world().await;
    let zendesk = id("zendesk");
    w.engine
        .enable_with(&admin(), &zendesk, Mode::Workspace, &subdomain("acme"))
        .unwrap();

    // One key where the credential has two fields: told which.
    let one_key = PastedKey::parse(TOKEN).unwrap();
    let err = w
        .engine
        .set_workspace_credential(&admin(), &zendesk, &one_key)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "this credential has the fields email, api_token; give each of them, and no other"
    );
    // A wrong token: Zendesk's own words.
    let err = w
        .engine
        .set_workspace_credential(&admin(), &zendesk, &agent("ada@acme.test", "wrong"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the credential was refused: Zendesk refused the email and API token (Couldn't authenticate you)"
    );
    // The right one, pasted with a trailing newline.
    let pasted = agent("ada@acme.test", &format!("{TOKEN}\n"));
    assert!(pasted.was_trimmed());
    let account = w
        .engine
        .set_workspace_credential(&admin(), &zendesk, &pasted)
        .await
        .unwrap();
    assert_eq!(account.label, "Ada Lovelace <ada@acme.test>");
    assert_eq!(account.detail.as_deref(), Some("agent on acme.zendesk.com"));

    // Twenty calls in a row: the most recent tickets, as the page shows them.
    for _ in 0..20 {
        let out = w
            .engine
            .invoke(&member(), &zendesk, "recent_tickets", &json!({"limit": 5}))
            .await
            .unwrap();
        assert_eq!(out["tickets"].as_array().unwrap().len(), 5);
        assert_eq!(out["more"], true);
    }
    let found = w
        .engine
        .invoke(
            &member(),
            &zendesk,
            "search_tickets",
            &json!({"query": "Grace"}),
        )
        .await
        .unwrap();
    let tickets = found["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 1, "{found}");
    assert_eq!(tickets[0]["subject"], "Password reset for Grace");
    assert_eq!(tickets[0]["status"], "pending");
    assert_eq!(found["more"], false);
    let missing = w
        .engine
        .invoke(&member(), &zendesk, "get_ticket", &json!({"id": 999_999}))
        .await
        .unwrap_err();
    assert_eq!(
        missing.to_string(),
        "zendesk: not found: Zendesk has no such record (RecordNotFound: Not found)"
    );

    // Every request went to acme's host with Ada's Basic credential.
    let requests = w.mock.requests();
    let signed: Vec<_> = requests.iter().filter(|r| r.status != 401).collect();
    assert!(signed.len() >= 23, "{}", signed.len());
    for r in &signed {
        assert_eq!(r.host, "acme.zendesk.com");
        assert_eq!(
            r.basic(),
            Some(("ada@acme.test/token".to_owned(), TOKEN.to_owned()))
        );
    }
}

#[tokio::test]
async fn a_new_subdomain_takes_a_credential_checked_there_and_none_goes_before() {
    let w = world().await;
    let zendesk = id("zendesk");
    let shared = |engine: &switchboard::Engine| {
        let page = engine.team_integrations(&admin()).unwrap();
        let row = page.into_iter().find(|r| r.id == zendesk).unwrap();
        row.credential.map(|c| c.account.label)
    };
    w.engine
        .enable_with(&admin(), &zendesk, Mode::Workspace, &subdomain("acme"))
        .unwrap();
    let share = |key: PastedKey| {
        let (engine, zendesk) = (&w.engine, &zendesk);
        async move {
            engine
                .set_workspace_credential(&admin(), zendesk, &key)
                .await
        }
    };
    share(agent("ada@acme.test", TOKEN)).await.unwrap();
    let recent = || {
        let (engine, input) = (&w.engine, json!({}));
        async move {
            engine
                .invoke(&member(), &id("zendesk"), "recent_tickets", &input)
                .await
        }
    };
    assert!(recent().await.is_ok());
    // The admin moves the workspace to another account. Acme's token was
    // checked at acme: it is removed, not sent to globex, and the call says
    // what is missing.
    let before = w.mock.requests().len();
    w.engine
        .enable_with(&admin(), &zendesk, Mode::Workspace, &subdomain("globex"))
        .unwrap();
    assert_eq!(shared(&w.engine), None);
    for _ in 0..2 {
        let err = recent().await.unwrap_err().to_string();
        assert_eq!(
            err,
            "zendesk has no workspace credential; an admin must set one"
        );
    }
    assert!(
        w.engine
            .recheck_workspace_credential(&admin(), &zendesk)
            .await
            .is_err()
    );
    assert_eq!(w.mock.requests().len(), before, "nothing sent anywhere");
    let trail = w
        .engine
        .audit(&admin(), &Default::default(), None, 100)
        .unwrap();
    let removal = trail
        .records
        .iter()
        .find(|r| r.entry.operation == "remove_workspace_credential")
        .expect("the removal is audited");
    assert_eq!(
        removal.entry.detail.as_deref(),
        Some("by the settings change: it was checked with other Zendesk settings")
    );
    // Acme's token is refused when pasted for globex; globex's own works
    // there, and goes there only.
    let err = share(agent("ada@acme.test", TOKEN)).await.unwrap_err();
    assert!(
        err.to_string().contains("Couldn't authenticate you"),
        "{err}"
    );
    share(agent("gus@globex.test", OTHER_TOKEN)).await.unwrap();
    let before = w.mock.requests().len();
    recent().await.unwrap();
    let hosts: Vec<String> = w.mock.requests()[before..]
        .iter()
        .map(|r| r.host.clone())
        .collect();
    assert!(!hosts.is_empty() && hosts.iter().all(|h| h == "globex.zendesk.com"));
    // Enabling again with the same subdomain keeps it.
    w.engine
        .enable_with(&admin(), &zendesk, Mode::Workspace, &subdomain("globex"))
        .unwrap();
    assert_eq!(
        shared(&w.engine).as_deref(),
        Some("Gus Globex <gus@globex.test>")
    );
    // An account that does not exist answers as Zendesk does.
    w.engine
        .enable_with(&admin(), &zendesk, Mode::Workspace, &subdomain("nobody"))
        .unwrap();
    let err = share(agent("gus@globex.test", OTHER_TOKEN))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("Zendesk has no such record"),
        "{err}"
    );
}

#[tokio::test]
async fn a_new_subdomain_asks_each_member_to_connect_again_and_sends_their_token_nowhere() {
    let w = world().await;
    let zendesk = id("zendesk");
    w.engine
        .enable_with(&admin(), &zendesk, Mode::User, &subdomain("acme"))
        .unwrap();
    w.engine
        .connect_with_api_key(&member(), &zendesk, &agent("ada@acme.test", TOKEN))
        .await
        .unwrap();
    // A disable and an enable with the same subdomain bring it back as it was.
    w.engine.disable(&admin(), &zendesk).unwrap();
    w.engine
        .enable_with(&admin(), &zendesk, Mode::User, &subdomain("acme"))
        .unwrap();
    let status = |engine: &switchboard::Engine| {
        let page = engine.user_integrations(&member()).unwrap();
        let row = page
            .user_integrations
            .into_iter()
            .find(|r| r.id == zendesk)
            .unwrap();
        let connection = row.connection.unwrap();
        (connection.status, connection.status_reason)
    };
    assert_eq!(status(&w.engine).0, ConnectionStatus::Connected);
    let mut events = w.engine.subscribe();
    let before = w.mock.requests().len();
    w.engine
        .enable_with(&admin(), &zendesk, Mode::User, &subdomain("globex"))
        .unwrap();
    let reason = "An admin changed Zendesk's settings since you connected: connect again";
    assert_eq!(
        status(&w.engine),
        (ConnectionStatus::NeedsReauth, Some(reason.to_owned()))
    );
    let event = events.recv().await.unwrap();
    assert_eq!(event.kind, EventKind::IntegrationEnabled);
    let event = events.recv().await.unwrap();
    assert_eq!(event.kind, EventKind::NeedsReauth);
    assert_eq!(event.users, [member().user]);
    assert_eq!(event.reason.as_deref(), Some(reason));
    for _ in 0..2 {
        let err = w
            .engine
            .invoke(&member(), &zendesk, "recent_tickets", &json!({}))
            .await
            .unwrap_err();
        assert!(err.to_string().ends_with(reason), "{err}");
    }
    assert_eq!(w.mock.requests().len(), before, "nothing sent anywhere");
    // Connecting again, with an account at globex, works there.
    w.engine
        .connect_with_api_key(&member(), &zendesk, &agent("gus@globex.test", OTHER_TOKEN))
        .await
        .unwrap();
    assert_eq!(status(&w.engine), (ConnectionStatus::Connected, None));
    w.engine
        .invoke(&member(), &zendesk, "recent_tickets", &json!({}))
        .await
        .unwrap();

    // What each change announces, as (kind, members) in order.
    let mut heard = move || {
        let mut said = Vec::new();
        while let Ok(event) = events.try_recv() {
            let users: Vec<String> = event.users.iter().map(|u| u.to_string()).collect();
            said.push((event.kind, users));
        }
        said
    };
    heard();
    let bob = || vec![member().user.to_string()];
    let enable = |mode, at: &str| {
        w.engine
            .enable_with(&admin(), &zendesk, mode, &subdomain(at))
            .unwrap();
    };
    // Moved once, announced once: moving on does not say it again.
    enable(Mode::User, "nobody");
    enable(Mode::User, "acme");
    assert_eq!(
        heard(),
        [
            (EventKind::IntegrationEnabled, vec![]),
            (EventKind::NeedsReauth, bob()),
            (EventKind::IntegrationEnabled, vec![]),
        ]
    );
    w.engine
        .connect_with_api_key(&member(), &zendesk, &agent("ada@acme.test", TOKEN))
        .await
        .unwrap();
    // Moved while suspended (workspace mode): nothing to ask of Bob then;
    // when user mode is back, he is asked to connect again, not restored.
    w.engine.disable(&admin(), &zendesk).unwrap();
    enable(Mode::Workspace, "acme");
    enable(Mode::Workspace, "globex");
    w.engine.disable(&admin(), &zendesk).unwrap();
    heard();
    enable(Mode::User, "globex");
    assert_eq!(
        heard(),
        [
            (EventKind::IntegrationEnabled, vec![]),
            (EventKind::NeedsReauth, bob()),
        ]
    );
    assert_eq!(
        status(&w.engine),
        (ConnectionStatus::NeedsReauth, Some(reason.to_owned()))
    );
}

#[tokio::test]
async fn a_member_connects_their_own_agent_token_and_a_wrong_one_is_refused() {
    let w = world().await;
    let zendesk = id("zendesk");
    w.engine
        .enable_with(&admin(), &zendesk, Mode::User, &subdomain("acme"))
        .unwrap();
    let err = w
        .engine
        .connect_with_api_key(&member(), &zendesk, &agent("ada@acme.test", "not-a-token"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("the credential was refused"),
        "{err}"
    );
    let bob = w
        .engine
        .connect_with_api_key(&member(), &zendesk, &agent("ada@acme.test", TOKEN))
        .await
        .unwrap();
    assert_eq!(bob.account.label, "Ada Lovelace <ada@acme.test>");
    let page = w.engine.user_integrations(&member()).unwrap();
    let row = page
        .user_integrations
        .iter()
        .find(|r| r.id == zendesk)
        .expect("Zendesk on the Integrations page");
    assert!(row.connection.is_some());
}

#[tokio::test]
async fn a_connector_built_against_0_2_loads_and_works_beside_0_3() {
    let mut harness = Harness::new();
    let (semrush, running) = semrush(&mut harness).await;
    semrush.add_key("legacy-key-1234", 10_000);
    harness
        .install(&switchboard_plugin_artifacts::plugins_dir().join("zendesk.wasm"))
        .install(&switchboard_plugin_artifacts::test_plugin("legacy"));
    let engine = harness.engine().await;
    let catalog: Vec<String> = engine
        .integrations()
        .iter()
        .map(|m| m.id.to_string())
        .collect();
    assert_eq!(catalog, ["legacy", "zendesk"]);
    let legacy = id("legacy");
    share_key(&engine, &admin(), &legacy, "legacy-key-1234").await;
    let out = engine
        .invoke(&member(), &legacy, "overview", &json!({"phrase": "seo"}))
        .await
        .unwrap();
    assert!(
        out["csv"].as_str().unwrap().starts_with("Keyword;"),
        "{out}"
    );
    // Its key went in the query parameter it declared.
    let requests = semrush.requests();
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|r| r.param("key") == Some("legacy-key-1234"))
    );
    drop(running);
}

#[tokio::test]
async fn a_subdomain_changed_while_a_key_is_checked_keeps_the_key_out() {
    let w = world().await;
    let zendesk = id("zendesk");
    let changed = "zendesk's settings changed while the credential was checked; try again";
    // The admin moves the workspace to globex while the check at acme is
    // on its way: acme's key is not saved for globex.
    let moved_meanwhile = |mode: Mode| {
        let (engine, zendesk) = (&w.engine, &zendesk);
        async move {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            engine
                .enable_with(&admin(), zendesk, mode, &subdomain("globex"))
                .unwrap();
        }
    };
    w.engine
        .enable_with(&admin(), &zendesk, Mode::User, &subdomain("acme"))
        .unwrap();
    w.mock.answer_after(std::time::Duration::from_millis(1500));
    let (key, bob, ada) = (agent("ada@acme.test", TOKEN), member(), admin());
    let (connected, ()) = tokio::join!(
        w.engine.connect_with_api_key(&bob, &zendesk, &key),
        moved_meanwhile(Mode::User)
    );
    assert_eq!(connected.unwrap_err().to_string(), changed);
    let page = w.engine.user_integrations(&member()).unwrap();
    let row = page
        .user_integrations
        .iter()
        .find(|r| r.id == zendesk)
        .unwrap();
    assert!(row.connection.is_none(), "{:?}", row.connection);

    w.engine.disable(&admin(), &zendesk).unwrap();
    w.engine
        .enable_with(&admin(), &zendesk, Mode::Workspace, &subdomain("acme"))
        .unwrap();
    let (set, ()) = tokio::join!(
        w.engine.set_workspace_credential(&ada, &zendesk, &key),
        moved_meanwhile(Mode::Workspace)
    );
    assert_eq!(set.unwrap_err().to_string(), changed);
    let page = w.engine.team_integrations(&admin()).unwrap();
    let row = page.into_iter().find(|r| r.id == zendesk).unwrap();
    assert!(row.credential.is_none());
}
