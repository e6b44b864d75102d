//! Semrush through the whole engine: the real component, in the sandbox,
//! against the loopback mock of Semrush.

use serde_json::json;
use switchboard::Error;
use switchboard::model::{Auth, CredentialField, Mode, Placement};
use switchboard_e2e::*;

const KEY: &str = "d1a2b3c4e5f60718293a4b5c6d7e8f90";

/// Alice enables Semrush in workspace mode; Semrush knows `KEY`, with
/// `units` API units left.
async fn with_workspace_key(units: u64) -> Deployment {
    let w = semrush_deployment(&[(KEY, units)], &[]).await;
    w.engine
        .enable(&admin(), &id("semrush"), Mode::Workspace)
        .unwrap();
    w
}

#[tokio::test]
async fn the_manifest_says_what_semrush_offers() {
    let w = semrush_deployment(&[], &[]).await;
    let manifests = w.engine.integrations();
    let semrush = manifests
        .iter()
        .find(|m| m.id.as_str() == "semrush")
        .expect("semrush loaded");
    assert_eq!(semrush.name, "Semrush");
    let modes: Vec<Mode> = semrush.modes.iter().map(|m| m.mode).collect();
    assert_eq!(modes, [Mode::Workspace, Mode::User]);
    assert!(semrush.modes.iter().all(|m| m.auth
        == Auth::ApiKey {
            fields: vec![CredentialField {
                name: "key".into(),
                label: "API key".into(),
                secret: true,
            }],
            placement: Placement::Query {
                name: "key".into(),
                value: "{key}".into(),
            },
        }));
    let actions: Vec<&str> = semrush.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        actions,
        [
            "keyword_overview",
            "related_keywords",
            "domain_organic_keywords"
        ]
    );
    let overview = &semrush.actions[0];
    assert_eq!(overview.input_schema["properties"]["limit"]["maximum"], 100);
    assert_eq!(overview.input_schema["required"], json!(["phrase"]));
    assert!(overview.output_schema["properties"]["rows"].is_object());
}

#[tokio::test]
async fn a_checked_key_lets_every_member_run_each_report() {
    let w = with_workspace_key(1_000).await;
    let account = set_semrush_key(&w.engine, &admin(), KEY).await.unwrap();
    assert_eq!(account.label, "Semrush API key");
    assert_eq!(account.detail.as_deref(), Some("1,000 API units left"));

    let overview = bob_looks_up_seo(&w.engine).await.unwrap();
    assert_eq!(
        overview["rows"][0],
        json!({"keyword": "seo", "search_volume": 110000, "cpc": 14.82, "competition": 0.5, "results": 678000000u64,
               "trends": [0.81, 1.0, 1.0, 1.0, 1.0, 0.81, 0.81, 0.81, 0.81, 0.81, 0.81, 0.81]})
    );

    let input = json!({"phrase": "seo", "limit": 3});
    let related = run_semrush(&w.engine, &member(), "related_keywords", &input)
        .await
        .unwrap();
    let keywords: Vec<&str> = related["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["keyword"].as_str().unwrap())
        .collect();
    assert_eq!(keywords, ["seo tools", "local seo", "seo meaning"]);
    assert_eq!(related["rows"][0]["serp_features"], json!([4, 6, 11, 22]));

    let input = json!({"domain": "seobook.com", "database": "uk"});
    let domain = run_semrush(&w.engine, &member(), "domain_organic_keywords", &input)
        .await
        .unwrap();
    let rows = domain["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["url"], "http://www.seobook.com/");
    assert_eq!(rows[0]["position_difference"], 1);

    // 1 line of phrase_this, 3 of phrase_related, 4 of domain_organic.
    assert_eq!(w.mock.units(KEY), Some(1_000 - 10 - 3 * 40 - 4 * 10));
}

#[tokio::test]
async fn every_report_request_carries_display_limit() {
    let w = with_workspace_key(100_000).await;
    set_semrush_key(&w.engine, &admin(), KEY).await.unwrap();
    let calls = [
        ("keyword_overview", json!({"phrase": "seo"})),
        ("related_keywords", json!({"phrase": "seo", "limit": 2})),
        ("domain_organic_keywords", json!({"domain": "seobook.com"})),
        ("keyword_overview", json!({"phrase": "no such keyword"})),
    ];
    for (action, input) in &calls {
        run_semrush(&w.engine, &member(), action, input)
            .await
            .unwrap();
    }
    let reports: Vec<_> = w
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.host == "api.semrush.com")
        .collect();
    assert_eq!(reports.len(), calls.len());
    let limits: Vec<Option<&str>> = reports.iter().map(|r| r.param("display_limit")).collect();
    assert_eq!(limits, [Some("10"), Some("2"), Some("10"), Some("10")]);
    assert!(
        reports.iter().all(|r| r.param("key") == Some(KEY)),
        "the host injected the key"
    );
}

#[tokio::test]
async fn nothing_found_is_an_empty_page_not_an_error() {
    let w = with_workspace_key(1_000).await;
    set_semrush_key(&w.engine, &admin(), KEY).await.unwrap();
    let out = keyword_overview(&w.engine, &member(), "qwxzv")
        .await
        .unwrap();
    assert_eq!(out, json!({"rows": []}));
}

#[tokio::test]
async fn a_wrong_key_is_refused_with_semrushs_reason_and_not_stored() {
    let w = with_workspace_key(1_000).await;
    let wrong = "0000aaaa1111bbbb2222cccc3333dddd";
    let err = set_semrush_key(&w.engine, &admin(), wrong)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the credential was refused: Semrush refused the API key: invalid api key: [redacted]"
    );
    assert!(!format!("{err:?}").contains(wrong));
    let err = bob_looks_up_seo(&w.engine).await.unwrap_err();
    assert!(matches!(err, Error::NoWorkspaceCredential(_)), "{err}");
}

#[tokio::test]
async fn a_key_revoked_after_saving_fails_with_semrushs_reason() {
    let w = with_workspace_key(1_000).await;
    set_semrush_key(&w.engine, &admin(), KEY).await.unwrap();
    w.mock.revoke_key(KEY);
    let err = bob_looks_up_seo(&w.engine).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "semrush: the service refused the credential: Semrush: WRONG KEY - ID PAIR (ERROR 120)"
    );
}

#[tokio::test]
async fn a_zero_balance_key_is_accepted_with_a_warning_and_reports_fail_with_the_reason() {
    let w = with_workspace_key(0).await;
    let account = set_semrush_key(&w.engine, &admin(), KEY).await.unwrap();
    assert_eq!(
        account.detail.as_deref(),
        Some("0 API units left: reports will fail until units are added")
    );
    let err = bob_asks_related_to_seo(&w.engine).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "semrush: Semrush: API UNITS BALANCE IS ZERO (ERROR 132)"
    );
}

#[tokio::test]
async fn input_outside_the_schema_never_reaches_semrush() {
    let w = with_workspace_key(1_000).await;
    set_semrush_key(&w.engine, &admin(), KEY).await.unwrap();
    let before = w.mock.requests().len();
    for (input, fault) in [
        (
            json!({"phrase": "seo", "limit": 5000}),
            "/limit 5000 is greater than the maximum of 100",
        ),
        (
            json!({"limit": 5}),
            "input \"phrase\" is a required property",
        ),
        (
            json!({"phrase": "seo", "database": "../etc"}),
            "/database \"../etc\" does not match",
        ),
    ] {
        let err = run_semrush(&w.engine, &member(), "keyword_overview", &input)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("semrush: invalid input: {fault}")),
            "{err}"
        );
    }
    assert_eq!(w.mock.requests().len(), before);
}

#[tokio::test]
async fn switching_modes_requires_disabling_first() {
    let w = with_workspace_key(1_000).await;
    let err = w
        .engine
        .enable(&admin(), &id("semrush"), Mode::User)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Semrush is already enabled in workspace mode; disable it before enabling user mode [policy: one-mode-at-a-time]"
    );
    w.engine.disable(&admin(), &id("semrush")).unwrap();
    assert_eq!(
        w.engine
            .enable(&admin(), &id("semrush"), Mode::User)
            .unwrap()
            .mode,
        Mode::User
    );
}

#[tokio::test]
async fn a_phrase_too_long_for_semrush_is_refused_before_any_request() {
    let w = with_workspace_key(100_000).await;
    set_semrush_key(&w.engine, &admin(), KEY).await.unwrap();
    let checked = w.mock.requests().len();
    let phrase = "seo ".repeat(25_000);
    let err = keyword_overview(&w.engine, &member(), &phrase)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("semrush: invalid input: /phrase "), "{err}");
    assert!(
        err.len() < 400,
        "the phrase is not repeated whole: {}",
        err.len()
    );
    assert_eq!(w.mock.requests().len(), checked, "no report was asked for");
}
