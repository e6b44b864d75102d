//! The trust around the sandbox, from a hostile author's side: a component
//! cannot take another's id, and the engine goes on serving the others.

use serde_json::json;
use switchboard::model::{EventKind, Mode};
use switchboard::plugins::LoadOutcome;
use switchboard::plugins::pins::{self, Pin, PublisherKey};
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
    let (h, _semrush) = with_semrush().await;
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
    let engine = h.engine().await;
    let mut expected: Vec<(String, String)> = headers
        .iter()
        .enumerate()
        .map(|(i, header)| {
            let how = if *header == "Authorization" {
                " as a plain header; use the bearer or basic placement"
            } else {
                ""
            };
            (
                format!("{i}.wasm"),
                format!("invalid manifest: mode `workspace`: the key cannot go in `{header}`{how}"),
            )
        })
        .collect();
    expected.push(("semrush.wasm".into(), "loaded semrush".into()));
    assert_eq!(report(&engine), expected);
    semrush_serves(&engine).await;
}

#[tokio::test]
async fn wildcards_over_public_suffixes_keys_to_undeclared_hosts_and_old_contracts_are_refused() {
    let (h, _semrush) = with_semrush().await;
    for (i, shape) in [
        "wildcard-github.io",
        "wildcard-co.uk",
        "wildcard-amazonaws.com",
        "key-to-undeclared",
    ]
    .iter()
    .enumerate()
    {
        h.install_shape(shape, &format!("{i}.wasm"));
    }
    h.install(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/connector-0.1.0.wasm"),
    );
    let engine = h.engine().await;
    let report = report(&engine);
    let reasons: Vec<&str> = report.iter().map(|(_, reason)| reason.as_str()).collect();
    let wide = |entry: &str, suffix: &str| {
        format!(
            "`{entry}` covers `{suffix}`, a public suffix where anyone can register a name; declare the hosts themselves"
        )
    };
    assert_eq!(
        reasons[0],
        format!(
            "invalid manifest: allowed host {}; mode `workspace`: credential host {}",
            wide("*.github.io", "github.io"),
            wide("*.github.io", "github.io")
        )
    );
    assert!(
        reasons[1].contains(&wide("*.co.uk", "co.uk")),
        "{}",
        reasons[1]
    );
    assert!(
        reasons[2].contains("`*.amazonaws.com` covers `"),
        "{}",
        reasons[2]
    );
    assert_eq!(
        reasons[3],
        "invalid manifest: mode `workspace`: `collector.evil.test` receives the credential but is not an allowed host"
    );
    assert_eq!(
        reasons[4],
        "it was built against switchboard:connector@0.1.0, which sent the key to every declared host; rebuild it with the current SDK and name the hosts that receive the key in each mode"
    );
    assert_eq!(report[5], ("semrush.wasm".into(), "loaded semrush".into()));
    semrush_serves(&engine).await;
}

#[tokio::test]
async fn an_admin_sees_where_the_key_goes_before_enabling_and_the_audit_keeps_what_was_approved() {
    let d = semrush_deployment(&[(KEY, 1_000)], &[]).await;
    let team = d.engine.team_integrations(&admin()).unwrap();
    let semrush = team.iter().find(|i| i.id.as_str() == "semrush").unwrap();
    let workspace = semrush
        .permissions
        .iter()
        .find(|p| p.mode == Mode::Workspace)
        .unwrap();
    assert_eq!(
        workspace.credential_hosts,
        ["api.semrush.com", "www.semrush.com"]
    );
    assert_eq!(workspace.hosts, ["api.semrush.com", "www.semrush.com"]);
    share_key(&d.engine, &admin(), &id("semrush"), KEY).await;
    let audit = d
        .engine
        .audit(&admin(), &Default::default(), None, 10)
        .unwrap();
    let enabled = audit
        .records
        .iter()
        .find(|r| r.entry.operation == "enable")
        .unwrap();
    assert_eq!(
        enabled.entry.detail.as_deref(),
        Some(
            "workspace mode, an API key, credential to api.semrush.com, www.semrush.com; may call api.semrush.com, www.semrush.com"
        )
    );
}

#[tokio::test]
async fn an_upgrade_asking_for_more_hosts_is_held_until_an_admin_approves_and_one_asking_the_same_carries_on()
 {
    let h = Harness::new();
    let shapeshifter = id("shapeshifter");
    h.install_shape("plain", "shapeshifter.wasm");
    let engine = h.engine().await;
    share_key(&engine, &admin(), &shapeshifter, KEY).await;
    assert!(run_shapeshifter(&engine).await.is_ok());
    drop(engine);

    // The same permissions in a new version: calls carry on.
    h.install_shape("v2-same", "shapeshifter.wasm");
    let engine = h.engine().await;
    assert!(run_shapeshifter(&engine).await.is_ok());
    drop(engine);

    // One more host to receive the key: held, announced, shown.
    h.install_shape("v2-more-hosts", "shapeshifter.wasm");
    let engine = h.engine().await;
    let mut events = engine.subscribe();
    let asked =
        "hosts that receive the credential api2.shapeshifter.test; hosts api2.shapeshifter.test";
    for _ in 0..2 {
        assert_eq!(
            run_shapeshifter(&engine).await.unwrap_err(),
            format!(
                "shapeshifter now asks for more than an admin approved ({asked}); an admin must approve it on the Team Integrations page"
            )
        );
    }
    let event = events.try_recv().unwrap();
    assert_eq!(event.kind, EventKind::NeedsApproval);
    assert_eq!(event.reason.as_deref(), Some(asked));
    assert!(events.try_recv().is_err(), "announced once, not per call");
    let team = engine.team_integrations(&admin()).unwrap();
    let row = team.iter().find(|i| i.id == shapeshifter).unwrap();
    assert_eq!(
        row.needs_approval,
        [
            "hosts that receive the credential api2.shapeshifter.test",
            "hosts api2.shapeshifter.test"
        ]
    );
    // Nor can the key be checked against the new hosts meanwhile.
    let err = engine
        .recheck_workspace_credential(&admin(), &shapeshifter)
        .await
        .unwrap_err();
    assert!(
        matches!(err, switchboard::Error::NeedsApproval { .. }),
        "{err}"
    );

    // The admin approves by enabling it again in the same mode.
    engine
        .enable(&admin(), &shapeshifter, Mode::Workspace)
        .unwrap();
    assert!(run_shapeshifter(&engine).await.is_ok());
    let team = engine.team_integrations(&admin()).unwrap();
    assert!(
        team.iter()
            .find(|i| i.id == shapeshifter)
            .unwrap()
            .needs_approval
            .is_empty()
    );
}

#[tokio::test]
async fn oversized_manifests_are_refused_with_the_limit_named_and_slow_ones_in_parallel() {
    let (h, _semrush) = with_semrush().await;
    let shapes = [
        "huge-description",
        "many-actions",
        "huge-pattern",
        "deep-schema",
        "slow-describe",
        "slow-describe",
    ];
    for (i, shape) in shapes.iter().enumerate() {
        h.install_shape(shape, &format!("{i}.wasm"));
    }
    let engine = h.engine().await;
    let report = report(&engine);
    let reasons: Vec<&str> = report.iter().map(|(_, reason)| reason.as_str()).collect();
    assert_eq!(
        reasons[..4],
        [
            "invalid manifest: the description (characters) is 10485760, over the limit of 2000",
            "invalid manifest: the number of actions is 2000, over the limit of 100",
            "invalid manifest: action `keyword_overview`'s input schema (bytes) is 89630, over the limit of 65536",
            "invalid manifest: action `keyword_overview`'s input schema depth is 102, over the limit of 32",
        ]
    );
    for (i, reason) in [(4, reasons[4]), (5, reasons[5])] {
        assert_eq!(
            reason,
            format!("describe failed: plugin `{i}` did not finish within 2000 ms and was stopped")
        );
    }
    assert_eq!(report[6], ("semrush.wasm".into(), "loaded semrush".into()));
    semrush_serves(&engine).await;
    // Opened again with every component compiled and cached, the two slow
    // ones wait together: two budgets of 2 s one after the other would be 4 s.
    drop(engine);
    let started = std::time::Instant::now();
    let engine = h.engine().await;
    let took = started.elapsed();
    assert_eq!(engine.load_report().len(), 7);
    assert!(took < std::time::Duration::from_millis(3_500), "{took:?}");
}

/// What the load report says of the shapeshifter, pinned to `pin`.
async fn shapeshifter_pinned(h: &Harness, pin: Pin) -> String {
    let mut config = h.config();
    config.host.pins.insert(id("shapeshifter"), pin);
    let engine = switchboard::Engine::open(config).await.unwrap();
    let report = report(&engine);
    report
        .iter()
        .find(|(file, _)| file == "shapeshifter.wasm")
        .map(|(_, outcome)| outcome.clone())
        .unwrap()
}

#[tokio::test]
async fn a_pinned_id_loads_only_from_its_publishers_signed_or_its_exact_component() {
    let h = Harness::new();
    let publisher = PublisherKey::generate().unwrap();
    let other = PublisherKey::generate().unwrap();
    let component = h.plugins_dir().join("shapeshifter.wasm");
    let sign = |key: &PublisherKey| {
        let signature = key.sign(&std::fs::read(&component).unwrap());
        std::fs::write(pins::signature_path(&component), signature).unwrap();
    };
    h.install_shape("plain", "shapeshifter.wasm");

    // Unsigned, then signed by the pinned publisher.
    assert_eq!(
        shapeshifter_pinned(&h, publisher.pin()).await,
        format!(
            "it declares `shapeshifter` but does not match that id's pin: `shapeshifter` is pinned to a publisher, and {} is missing or not a signature",
            pins::signature_path(&component).display()
        )
    );
    sign(&publisher);
    assert_eq!(
        shapeshifter_pinned(&h, publisher.pin()).await,
        "loaded shapeshifter"
    );

    // Another publisher's signature, or a copy changed after signing.
    let refused = "it declares `shapeshifter` but does not match that id's pin: its signature does not verify with the pinned publisher key: the component was changed after signing, or another publisher signed it";
    sign(&other);
    assert_eq!(shapeshifter_pinned(&h, publisher.pin()).await, refused);
    sign(&publisher);
    h.install_shape("v2-same", "shapeshifter.wasm");
    assert_eq!(shapeshifter_pinned(&h, publisher.pin()).await, refused);

    // Pinned to one exact build.
    let built = pins::digest(&std::fs::read(&component).unwrap());
    assert_eq!(
        shapeshifter_pinned(&h, Pin::Sha256(built)).await,
        "loaded shapeshifter"
    );
    h.install_shape("plain", "shapeshifter.wasm");
    let found = hex(&pins::digest(&std::fs::read(&component).unwrap()));
    assert_eq!(
        shapeshifter_pinned(&h, Pin::Sha256(built)).await,
        format!(
            "it declares `shapeshifter` but does not match that id's pin: its SHA-256 is {found}, not the pinned {}",
            hex(&built)
        )
    );
}

#[tokio::test]
async fn with_semrush_pinned_an_impostor_is_refused_and_semrush_still_loads() {
    let (h, _semrush) = with_semrush().await;
    h.install_shape("impostor", "0-semrush.wasm");
    let real = pins::digest(&std::fs::read(h.plugins_dir().join("semrush.wasm")).unwrap());
    let mut config = h.config();
    config.host.pins.insert(id("semrush"), Pin::Sha256(real));
    let engine = switchboard::Engine::open(config).await.unwrap();
    let report = report(&engine);
    assert!(
        report[0]
            .1
            .starts_with("it declares `semrush` but does not match that id's pin: its SHA-256 is "),
        "{report:?}"
    );
    assert_eq!(report[1], ("semrush.wasm".into(), "loaded semrush".into()));
    semrush_serves(&engine).await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A deployment with Semrush installed against its mock, which knows `KEY`.
async fn with_semrush() -> (
    Harness,
    (
        switchboard_mocks::semrush::Semrush,
        switchboard_mocks::Running,
    ),
) {
    let mut h = Harness::new();
    let (mock, running) = semrush(&mut h).await;
    mock.add_key(KEY, 1_000);
    h.install_semrush();
    (h, (mock, running))
}

/// Beside whatever was refused, Semrush is enabled and a member's call succeeds.
async fn semrush_serves(engine: &switchboard::Engine) {
    share_key(engine, &admin(), &id("semrush"), KEY).await;
    let out = bob_looks_up_seo(engine).await.unwrap();
    assert_eq!(out["rows"][0]["keyword"], "seo");
}
