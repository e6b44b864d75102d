//! The help article's scenarios, driven through `Engine`, asserting what
//! the Team Integrations and Integrations pages show.

use serde_json::json;
use switchboard::Error;
use switchboard::audit::{Filter, OutcomeKind};
use switchboard::model::{Connection, ConnectionStatus, EventKind, Mode, Role};
use switchboard::pasted::PastedKey;
use switchboard_e2e::*;

const SHARED_KEY: &str = "shared-semrush-key-9d8c7b6a";
const BOB_KEY: &str = "bob-personal-key-1a2b3c4d";
const CAROL_KEY: &str = "carol-personal-key-5e6f7a8b";

/// Semrush, whose mock knows the shared key and bob's and carol's own,
/// with the hostile plugin installed beside it.
async fn world() -> Deployment {
    semrush_deployment(
        &[(SHARED_KEY, 100_000), (BOB_KEY, 1_000), (CAROL_KEY, 1_000)],
        &["hostile"],
    )
    .await
}

/// Alice enables Semrush in user mode, and Bob connects his own key.
async fn bob_connects_in_user_mode(w: &Deployment) -> Connection {
    w.engine
        .enable(&admin(), &id("semrush"), Mode::User)
        .unwrap();
    connect_semrush_key(&w.engine, &member(), BOB_KEY)
        .await
        .unwrap()
}

fn carol() -> switchboard::model::Actor {
    actor("carol", "acme", Role::Member)
}

fn developer() -> switchboard::model::Actor {
    actor("dave", "acme", Role::Developer)
}

#[tokio::test]
async fn scenario_1_a_shared_semrush_key_serves_every_member_and_the_admin_sees_usage() {
    let w = world().await;
    let semrush = id("semrush");
    share_key(&w.engine, &admin(), &semrush, SHARED_KEY).await;

    // Team Integrations: Semrush enabled in workspace mode by alice, key set and checked.
    let page = w.engine.team_integrations(&admin()).unwrap();
    let row = page.iter().find(|r| r.id == semrush).unwrap();
    assert_eq!(row.modes, [Mode::Workspace, Mode::User]);
    let enabled = row.enabled.as_ref().unwrap();
    assert_eq!(
        (enabled.mode, enabled.enabled_by.as_str()),
        (Mode::Workspace, "alice")
    );
    let credential = row.credential.as_ref().unwrap();
    assert_eq!(
        credential.account.detail.as_deref(),
        Some("100,000 API units left")
    );
    assert_eq!(credential.set_by.as_str(), "alice");
    let hostile = page.iter().find(|r| r.id.as_str() == "hostile").unwrap();
    assert_eq!(hostile.enabled, None);

    // Integrations page of a member: Semrush under workspace integrations, ready.
    let mine = w.engine.user_integrations(&member()).unwrap();
    assert!(mine.user_integrations.is_empty());
    assert_eq!(mine.workspace_integrations.len(), 1);
    assert_eq!(
        (
            mine.workspace_integrations[0].name.as_str(),
            mine.workspace_integrations[0].ready
        ),
        ("Semrush", true)
    );
    assert_eq!(mine.empty_state, None);

    // Every member uses it without signing in.
    for who in [member(), carol(), member()] {
        let input = json!({"phrase": "seo", "limit": 2});
        let out = run_semrush(&w.engine, &who, "related_keywords", &input)
            .await
            .unwrap();
        assert_eq!(out["rows"].as_array().unwrap().len(), 2);
    }
    assert!(
        w.mock
            .requests()
            .iter()
            .filter(|r| r.host == "api.semrush.com")
            .all(|r| r.param("key") == Some(SHARED_KEY))
    );

    // The admin sees usage per member and in total; no key, no account detail of a member.
    let now = now_ms();
    let usage = w
        .engine
        .usage(&admin(), now - 86_400_000, now + 86_400_000)
        .unwrap();
    let semrush_usage = usage.iter().find(|u| u.integration == semrush).unwrap();
    assert_eq!((semrush_usage.calls, semrush_usage.credits), (3, 12));
    let members: Vec<(&str, u64, u64)> = semrush_usage
        .members
        .iter()
        .map(|m| (m.user.as_str(), m.calls, m.credits))
        .collect();
    assert_eq!(members, [("bob", 2, 8), ("carol", 1, 4)]);
    assert!(!serde_json::to_string(&usage).unwrap().contains(SHARED_KEY));

    // A member may not see the usage or the Team Integrations page.
    let err = w.engine.usage(&member(), 0, now).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Only Admins and Developers can manage team integrations [policy: team-needs-admin-or-developer]"
    );

    // The audit trail has each change and the denied attempt.
    let trail = w
        .engine
        .audit(&developer(), &Filter::default(), None, 50)
        .unwrap();
    let lines: Vec<(String, String, OutcomeKind)> = trail
        .records
        .iter()
        .map(|r| {
            (
                r.entry.actor.to_string(),
                r.entry.operation.clone(),
                r.entry.outcome.kind(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("bob".into(), "view_usage".into(), OutcomeKind::Denied),
            (
                "alice".into(),
                "set_workspace_credential".into(),
                OutcomeKind::Allowed
            ),
            ("alice".into(), "enable".into(), OutcomeKind::Allowed),
        ]
    );
    let denied = w
        .engine
        .audit(
            &admin(),
            &Filter {
                outcome: Some(OutcomeKind::Denied),
                ..Filter::default()
            },
            None,
            50,
        )
        .unwrap();
    assert_eq!(denied.records.len(), 1);
}

#[tokio::test]
async fn scenario_2_only_the_approved_user_mode_integration_is_available() {
    let w = world().await;
    let semrush = id("semrush");
    w.engine.enable(&admin(), &semrush, Mode::User).unwrap();

    let page = w.engine.user_integrations(&member()).unwrap();
    assert_eq!(
        page.user_integrations.len(),
        1,
        "only the enabled integration appears"
    );
    let row = &page.user_integrations[0];
    assert_eq!(
        (
            row.name.as_str(),
            row.connection.as_ref(),
            row.action.as_deref()
        ),
        ("Semrush", None, Some("Connect"))
    );
    assert!(page.workspace_integrations.is_empty());

    // The disabled integration cannot be connected or used.
    let err = w
        .engine
        .connect_with_api_key(&member(), &id("hostile"), &PastedKey::parse("x").unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Hostile is not enabled for personal accounts in this workspace; ask an admin [policy: connect-needs-user-mode]"
    );
    let err = w
        .engine
        .invoke(&member(), &id("hostile"), "ok", &json!({}))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Hostile is not enabled in this workspace; ask an admin to enable it [policy: use-needs-enabled]"
    );

    // The member connects their own account and uses it.
    let connection = connect_semrush_key(&w.engine, &member(), BOB_KEY)
        .await
        .unwrap();
    assert_eq!(
        (connection.status, connection.account.detail.as_deref()),
        (ConnectionStatus::Connected, Some("1,000 API units left"))
    );
    let page = w.engine.user_integrations(&member()).unwrap();
    assert_eq!(
        page.user_integrations[0].connection.as_ref().unwrap().id,
        connection.id
    );
    assert_eq!(
        page.user_integrations[0].action.as_deref(),
        Some("Disconnect")
    );
    bob_looks_up_seo(&w.engine).await.unwrap();
    assert_eq!(
        w.mock.requests().last().unwrap().param("key"),
        Some(BOB_KEY)
    );

    // Carol has not connected: she cannot use it, and sees "Connect".
    let err = keyword_overview(&w.engine, &carol(), "seo")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotConnected(_)), "{err}");
    assert_eq!(
        w.engine
            .user_integrations(&carol())
            .unwrap()
            .user_integrations[0]
            .action
            .as_deref(),
        Some("Connect")
    );

    // Only the owner sees or removes the connection.
    let err = w.engine.connection(&carol(), &connection.id).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Only its owner can see or change a personal connection [policy: connections-are-private]"
    );
    let err = w
        .engine
        .disconnect(&admin(), &connection.id)
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("Only its owner"), "{err}");
    assert_eq!(
        w.engine.connection(&member(), &connection.id).unwrap().id,
        connection.id
    );
    w.engine
        .disconnect(&member(), &connection.id)
        .await
        .unwrap();
    assert!(matches!(
        w.engine.connection(&member(), &connection.id),
        Err(Error::ConnectionNotFound(_))
    ));
}

#[tokio::test]
async fn switching_from_workspace_to_user_mode_has_members_connect_their_own_keys() {
    let w = world().await;
    let semrush = id("semrush");
    share_key(&w.engine, &admin(), &semrush, SHARED_KEY).await;
    w.engine.disable(&developer(), &semrush).unwrap();
    w.engine.enable(&developer(), &semrush, Mode::User).unwrap();

    let err = bob_looks_up_seo(&w.engine).await.unwrap_err();
    assert!(
        matches!(err, Error::NotConnected(_)),
        "the shared key no longer serves: {err}"
    );
    connect_semrush_key(&w.engine, &member(), BOB_KEY)
        .await
        .unwrap();
    connect_semrush_key(&w.engine, &carol(), CAROL_KEY)
        .await
        .unwrap();
    bob_looks_up_seo(&w.engine).await.unwrap();
    keyword_overview(&w.engine, &carol(), "seo").await.unwrap();
    let keys: Vec<Option<String>> = w
        .mock
        .requests()
        .iter()
        .rev()
        .take(2)
        .map(|r| r.param("key").map(str::to_owned))
        .collect();
    assert_eq!(keys, [Some(CAROL_KEY.to_owned()), Some(BOB_KEY.to_owned())]);
    let usage = w.engine.usage(&admin(), 0, now_ms() + 86_400_000).unwrap();
    assert_eq!(
        usage
            .iter()
            .find(|u| u.integration == semrush)
            .unwrap()
            .connected_members,
        2
    );
}

#[tokio::test]
async fn an_admin_disabling_an_integration_i_use_suspends_my_connection_until_it_is_re_enabled() {
    let w = world().await;
    let semrush = id("semrush");
    let bob = bob_connects_in_user_mode(&w).await;
    let carol_connection = connect_semrush_key(&w.engine, &carol(), CAROL_KEY)
        .await
        .unwrap();
    let mut events = w.engine.subscribe();

    w.engine.disable(&admin(), &semrush).unwrap();
    let event = events.recv().await.unwrap();
    assert_eq!(event.kind, EventKind::IntegrationDisabled);
    let mut users: Vec<&str> = event.users.iter().map(|u| u.as_str()).collect();
    users.sort();
    assert_eq!(users, ["bob", "carol"]);
    assert!(
        event.connections.contains(&bob.id) && event.connections.contains(&carol_connection.id)
    );

    // My connection is suspended, not deleted; calls are refused with the reason.
    assert_eq!(
        w.engine.connection(&member(), &bob.id).unwrap().status,
        ConnectionStatus::Suspended
    );
    // My page still shows it, suspended, and says what to do.
    let page = w.engine.user_integrations(&member()).unwrap();
    let row = &page.user_integrations[0];
    assert_eq!(
        (
            row.name.as_str(),
            row.connection.as_ref().map(|c| c.status),
            row.action.as_deref()
        ),
        (
            "Semrush",
            Some(ConnectionStatus::Suspended),
            Some("Ask an admin to re-enable it")
        )
    );
    assert_eq!(page.empty_state, None);
    let err = bob_looks_up_seo(&w.engine).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Semrush is not enabled in this workspace; ask an admin to enable it [policy: use-needs-enabled]"
    );

    // Re-enabling in user mode restores it, under the same id.
    w.engine.enable(&admin(), &semrush, Mode::User).unwrap();
    assert_eq!(
        events.recv().await.unwrap().kind,
        EventKind::IntegrationEnabled
    );
    let restored = events.recv().await.unwrap();
    assert_eq!(restored.kind, EventKind::ConnectionsRestored);
    assert_eq!(restored.connections.len(), 2);
    assert_eq!(
        w.engine.connection(&member(), &bob.id).unwrap().status,
        ConnectionStatus::Connected
    );
    bob_looks_up_seo(&w.engine).await.unwrap();
}

#[tokio::test]
async fn a_revoked_personal_key_turns_the_connection_to_reconnect() {
    let w = world().await;
    let connection = bob_connects_in_user_mode(&w).await;
    let mut events = w.engine.subscribe();
    w.mock.revoke_key(BOB_KEY);
    let err = bob_looks_up_seo(&w.engine).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "semrush: the service refused the credential: Semrush: WRONG KEY - ID PAIR (ERROR 120)"
    );
    let event = events.recv().await.unwrap();
    assert_eq!(
        (event.kind, event.connections.as_slice()),
        (EventKind::NeedsReauth, std::slice::from_ref(&connection.id))
    );
    let row = &w
        .engine
        .user_integrations(&member())
        .unwrap()
        .user_integrations[0];
    assert_eq!(
        row.connection.as_ref().unwrap().status,
        ConnectionStatus::NeedsReauth
    );
    assert_eq!(row.action.as_deref(), Some("Reconnect"));

    // Reconnecting with a new key restores it under the same id.
    w.mock.add_key("bob-new-key-0f0e0d0c", 500);
    let again = connect_semrush_key(&w.engine, &member(), "bob-new-key-0f0e0d0c")
        .await
        .unwrap();
    assert_eq!(
        (again.id, again.status),
        (connection.id, ConnectionStatus::Connected)
    );
}

#[tokio::test]
async fn a_credit_limit_set_by_the_host_stops_calls_at_the_limit() {
    let w = world().await;
    let semrush = id("semrush");
    share_key(&w.engine, &admin(), &semrush, SHARED_KEY).await;
    w.engine
        .set_credit_limit(&admin().workspace, Some(5))
        .unwrap();
    // related_keywords costs 4 credits: one call fits, the second would pass 5.
    bob_asks_related_to_seo(&w.engine).await.unwrap();
    let err = bob_asks_related_to_seo(&w.engine).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "This workspace has used its 5 credits for this period [policy: credit-limit]"
    );
    // A 1-credit call still fits.
    bob_looks_up_seo(&w.engine).await.unwrap();
}

#[tokio::test]
async fn the_call_after_a_change_sees_it_however_many_calls_came_before() {
    let w = world().await;
    let semrush = id("semrush");
    share_key(&w.engine, &admin(), &semrush, SHARED_KEY).await;
    for _ in 0..20 {
        bob_looks_up_seo(&w.engine).await.unwrap();
    }
    // A limit below what was used stops the very next call; lifting it
    // lets the next one through.
    w.engine
        .set_credit_limit(&admin().workspace, Some(10))
        .unwrap();
    let err = bob_looks_up_seo(&w.engine).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "This workspace has used its 10 credits for this period [policy: credit-limit]"
    );
    w.engine.set_credit_limit(&admin().workspace, None).unwrap();
    bob_looks_up_seo(&w.engine).await.unwrap();
    // So does a disable, and a switch to user mode with no key of his own.
    w.engine.disable(&admin(), &semrush).unwrap();
    let err = bob_looks_up_seo(&w.engine).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Semrush is not enabled in this workspace; ask an admin to enable it [policy: use-needs-enabled]"
    );
    w.engine.enable(&admin(), &semrush, Mode::User).unwrap();
    let err = bob_looks_up_seo(&w.engine).await.unwrap_err();
    assert!(matches!(err, Error::NotConnected(_)), "{err}");
    // His own key serves from the next call on, and the shared one no more.
    connect_semrush_key(&w.engine, &member(), BOB_KEY)
        .await
        .unwrap();
    bob_looks_up_seo(&w.engine).await.unwrap();
    let last = w
        .mock
        .requests()
        .last()
        .unwrap()
        .param("key")
        .map(str::to_owned);
    assert_eq!(last.as_deref(), Some(BOB_KEY));
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}
