//! The harness as a connector's author uses it: the Zendesk component
//! against answers declared in the test, no network, no mock server.

use serde_json::json;
use switchboard_testing::{Cassette, Exchange, Harness};

fn zendesk() -> std::path::PathBuf {
    switchboard_plugin_artifacts::plugins_dir().join("zendesk.wasm")
}

#[tokio::test]
async fn a_connector_runs_against_declared_answers_and_shows_what_it_sent() {
    let service = Cassette::new()
        .with(
            Exchange::get("https://acme.zendesk.com/api/v2/users/me.json").json(json!({
                "user": {"id": 7, "name": "Ada Lovelace", "email": "ada@acme.test", "role": "admin"}
            })),
        )
        .with(
            Exchange::get("https://acme.zendesk.com/api/v2/tickets/42.json").json(json!({
                "ticket": {
                    "id": 42, "subject": "Printer jammed", "status": "open", "priority": "high",
                    "created_at": "2026-11-30T09:00:00Z", "updated_at": "2026-11-30T10:00:00Z",
                    "description": "Floor 3."
                }
            })),
        )
        .with(
            Exchange::get("https://acme.zendesk.com/api/v2/tickets/404.json")
                .status(404)
                .json(json!({"error": "RecordNotFound", "description": "Not found"})),
        );
    let session = Harness::new(zendesk())
        .fields(&[("email", "ada@acme.test"), ("api_token", "tok-123")])
        .setting("subdomain", "acme")
        .answering(service)
        .start()
        .await
        .unwrap();
    let account = session.check().await.unwrap();
    assert_eq!(account.label, "Ada Lovelace <ada@acme.test>");
    let out = session
        .invoke("get_ticket", json!({"id": 42}))
        .await
        .unwrap();
    assert_eq!(out["ticket"]["subject"], "Printer jammed");
    assert_eq!(
        session
            .invoke("get_ticket", json!({"id": 404}))
            .await
            .unwrap_err(),
        "zendesk: not found: Zendesk has no such record (RecordNotFound: Not found)"
    );
    // Asked for something the test did not declare: told, not hung.
    let err = session
        .invoke("get_ticket", json!({"id": 5}))
        .await
        .unwrap_err();
    assert!(err.contains("Zendesk answered 501"), "{err}");
    // Invalid input never reaches the component.
    let err = session
        .invoke("get_ticket", json!({"id": "x"}))
        .await
        .unwrap_err();
    assert!(err.contains("/id"), "{err}");

    let sent: Vec<String> = session
        .exchanges()
        .iter()
        .map(|e| format!("{} {}{} {}", e.method, e.host, e.path, e.status))
        .collect();
    assert_eq!(
        sent,
        [
            "GET acme.zendesk.com/api/v2/users/me.json 200",
            "GET acme.zendesk.com/api/v2/tickets/42.json 200",
            "GET acme.zendesk.com/api/v2/tickets/404.json 404",
        ]
    );
}

#[tokio::test]
async fn settings_and_credentials_are_checked_as_the_engine_checks_them() {
    let err = Harness::new(zendesk())
        .fields(&[("email", "ada@acme.test"), ("api_token", "t")])
        .start()
        .await
        .err()
        .unwrap();
    assert_eq!(
        err,
        "the settings were refused: Zendesk subdomain (`subdomain`) is required"
    );
    let session = Harness::new(zendesk())
        .key("only-one-field")
        .setting("subdomain", "acme")
        .start()
        .await
        .unwrap();
    assert_eq!(
        session.check().await.unwrap_err(),
        "this credential has the fields email, api_token; give each of them, and no other"
    );
}
