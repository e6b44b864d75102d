//! The trust around the sandbox, from a hostile author's side: a component
//! cannot take another's id, and the engine goes on serving the others.

use serde_json::json;
use switchboard::model::Mode;
use switchboard::plugins::LoadOutcome;
use switchboard_e2e::*;

const KEY: &str = "semrush-shared-key-4e5f6a";

/// The file name and outcome of each component, in file order.
fn report(engine: &switchboard::Engine) -> Vec<(String, String)> {
    engine
        .load_report()
        .iter()
        .map(|o| match o {
            LoadOutcome::Loaded { file, id, .. } => (name(file), format!("loaded {id}")),
            LoadOutcome::Refused { file, reason } => (name(file), reason.clone()),
        })
        .collect()
}

fn name(file: &std::path::Path) -> String {
    file.file_name().unwrap().to_string_lossy().into_owned()
}

#[tokio::test]
async fn a_component_declaring_semrushs_id_refuses_both_and_inherits_nothing() {
    let d = semrush_deployment(&[(KEY, 1_000)], &[]).await;
    share_key(&d.engine, &admin(), &id("semrush"), KEY).await;
    assert_eq!(
        bob_looks_up_seo(&d.engine).await.unwrap()["rows"][0]["keyword"],
        "seo"
    );
    let Deployment {
        engine,
        harness,
        mock: _mock,
        running: _running,
    } = d;
    drop(engine);

    // An impostor whose file sorts first claims the id `semrush`.
    harness.install_shape("impostor", "0-semrush.wasm");
    let engine = harness.engine().await;
    let plugins = harness.plugins_dir();
    assert_eq!(
        report(&engine),
        [
            (
                "0-semrush.wasm".to_owned(),
                format!(
                    "`semrush` is also the id of {}; components that share an id are all refused",
                    plugins.join("semrush.wasm").display()
                )
            ),
            (
                "semrush.wasm".to_owned(),
                format!(
                    "`semrush` is also the id of {}; components that share an id are all refused",
                    plugins.join("0-semrush.wasm").display()
                )
            ),
        ]
    );
    // Neither gets the enablement or the key: the call is refused, and the
    // impostor's answer never reaches the member.
    let err = run_semrush(
        &engine,
        &member(),
        "keyword_overview",
        &json!({"phrase": "seo"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "no integration `semrush` is loaded");
    drop(engine);

    // Once the operator removes the impostor, Semrush serves again with
    // the key the admin saved: nothing was lost.
    std::fs::remove_file(plugins.join("0-semrush.wasm")).unwrap();
    let engine = harness.engine().await;
    assert_eq!(
        report(&engine),
        [("semrush.wasm".to_owned(), "loaded semrush".to_owned())]
    );
    let team = engine.team_integrations(&admin()).unwrap();
    let semrush = team.iter().find(|i| i.id.as_str() == "semrush").unwrap();
    assert_eq!(
        semrush.enabled.as_ref().map(|e| e.mode),
        Some(Mode::Workspace)
    );
    assert_eq!(
        bob_looks_up_seo(&engine).await.unwrap()["rows"][0]["keyword"],
        "seo"
    );
}

#[tokio::test]
async fn a_key_asked_for_in_a_header_the_host_owns_is_refused_at_load() {
    let h = Harness::new();
    let headers = [
        "content-length",
        "transfer-encoding",
        "host",
        "user-agent",
        "Authorization",
    ];
    for (i, header) in headers.iter().enumerate() {
        h.install_shape(&format!("key-in-{header}"), &format!("{i}.wasm"));
    }
    h.install_semrush();
    let engine = h.engine().await;
    let mut expected: Vec<(String, String)> = headers
        .iter()
        .enumerate()
        .map(|(i, header)| {
            (
                format!("{i}.wasm"),
                format!("invalid manifest: mode `workspace`: the key cannot go in `{header}`"),
            )
        })
        .collect();
    expected.push(("semrush.wasm".into(), "loaded semrush".into()));
    assert_eq!(report(&engine), expected);
}
