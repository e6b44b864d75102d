//! Secrets at rest and in flight: nothing the engine logs, returns or
//! stores in plain text carries a credential; keys rotate while calls go
//! on; a ciphertext moved to another record does not open.

use serde_json::json;
use std::sync::Arc;
use switchboard::model::{Mode, Role};
use switchboard_e2e::*;

const SHARED_KEY: &str = "SHARED-8f7e6d5c4b3a29180716";
const GLOBEX_KEY: &str = "GLOBEX-0a1b2c3d4e5f60718293";
const BOB_KEY: &str = "BOBKEY-a9b8c7d6e5f4a3b2c1d0";
const WRONG_KEY: &str = "WRONGKEY-5555444433332222";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_appears_in_logs_results_errors_or_the_data_file() {
    let logs = captured_logs();

    let Deployment {
        engine,
        mock: _mock,
        harness: h,
        running,
    } = semrush_deployment(
        &[
            (SHARED_KEY, 10_000),
            (GLOBEX_KEY, 10_000),
            (BOB_KEY, 10_000),
        ],
        &[],
    )
    .await;
    let semrush = id("semrush");
    let globex_admin = actor("gus", "globex", Role::Admin);
    let hal = actor("hal", "globex", Role::Member);
    let mut seen = Vec::<String>::new();

    engine.enable(&admin(), &semrush, Mode::Workspace).unwrap();
    engine.enable(&globex_admin, &semrush, Mode::User).unwrap();
    seen.push(shown(set_semrush_key(&engine, &admin(), SHARED_KEY).await));
    seen.push(shown(set_semrush_key(&engine, &admin(), WRONG_KEY).await));
    seen.push(shown(set_semrush_key(&engine, &member(), WRONG_KEY).await));
    seen.push(shown(connect_semrush_key(&engine, &hal, GLOBEX_KEY).await));
    seen.push(shown(connect_semrush_key(&engine, &hal, WRONG_KEY).await));
    for input in [
        json!({"phrase": "seo"}),
        json!({"phrase": "seo", "limit": 0}),
        json!({"phrase": "zzz"}),
    ] {
        for who in [member(), hal.clone()] {
            seen.push(shown(
                run_semrush(&engine, &who, "keyword_overview", &input).await,
            ));
        }
    }
    seen.push(shown(engine.team_integrations(&admin())));
    seen.push(shown(engine.user_integrations(&member())));
    seen.push(shown(engine.usage(&admin(), 0, u64::MAX / 2)));
    seen.push(shown(engine.audit(
        &admin(),
        &Default::default(),
        None,
        100,
    )));
    seen.push(shown(engine.user_integrations(&hal)));
    engine.flush_usage().unwrap();
    drop(engine);
    drop(running);

    let logs = logs.text();
    assert!(logs.contains("denied"), "the capture works: {logs}");
    let data = h.data.raw();
    assert!(
        memchr_find(&data, b"set_workspace_credential").is_some(),
        "the stored data is read (its audit trail is in it)"
    );
    for key in [SHARED_KEY, GLOBEX_KEY, WRONG_KEY, BOB_KEY] {
        for (what, text) in [("logs", logs.as_bytes()), ("data file", data.as_slice())] {
            assert!(
                memchr_find(text, key.as_bytes()).is_none(),
                "{key} found in the {what}"
            );
        }
        for s in &seen {
            assert!(!s.contains(key), "{key} found in a result: {s}");
        }
    }
    // The wrong key was refused with Semrush's reason, redacted.
    assert!(
        seen[1].contains("invalid api key: [redacted]"),
        "{}",
        seen[1]
    );
}

/// What a caller is shown of an answer, as text.
fn shown(answer: impl std::fmt::Debug) -> String {
    format!("{answer:?}")
}

fn memchr_find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_while_calls_go_on_and_the_old_key_can_then_be_retired() {
    let w = semrush_deployment(&[], &[]).await;
    let engine = Arc::new(w.engine);
    let semrush = id("semrush");
    // Twenty workspaces, each with its own shared key.
    let admins: Vec<_> = (0..20)
        .map(|i| actor("alice", &format!("ws{i}"), Role::Admin))
        .collect();
    for (i, a) in admins.iter().enumerate() {
        let key = format!("rotate-key-{i:04}-abcdef");
        w.mock.add_key(&key, 1_000_000);
        share_key(&engine, a, &semrush, &key).await;
    }
    let before = engine.keys().unwrap();
    assert_eq!(before.len(), 1);
    let old = before[0].0.clone();
    assert_eq!(before[0].1, 20);

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let calls = {
        let (engine, stop, admins) = (engine.clone(), stop.clone(), admins.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || n < 20 {
                let a = &admins[n % admins.len()];
                keyword_overview(&engine, a, "seo")
                    .await
                    .expect("an invoke during rotation");
                n += 1;
            }
            n
        })
    };
    let rotation = tokio::task::spawn_blocking({
        let engine = engine.clone();
        move || engine.rotate_keys(3)
    })
    .await
    .unwrap()
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(calls.await.unwrap() >= 20);
    assert_eq!(rotation.resealed, 20);
    assert_ne!(rotation.key_id, old);
    assert_eq!(
        engine.keys().unwrap(),
        [(rotation.key_id.clone(), 20), (old.clone(), 0)]
    );

    engine.retire_key(&old).unwrap();
    assert_eq!(engine.keys().unwrap(), [(rotation.key_id, 20)]);
    for a in &admins {
        keyword_overview(&engine, a, "seo").await.unwrap();
    }
}

#[tokio::test]
async fn a_ciphertext_copied_onto_another_record_does_not_open() {
    let Deployment {
        engine,
        mock: _mock,
        harness: h,
        running: _running,
    } = semrush_deployment(&[(SHARED_KEY, 1_000), (GLOBEX_KEY, 1_000)], &[]).await;
    let semrush = id("semrush");
    let globex_admin = actor("gus", "globex", Role::Admin);
    for (a, key) in [(admin(), SHARED_KEY), (globex_admin.clone(), GLOBEX_KEY)] {
        share_key(&engine, &a, &semrush, key).await;
    }
    drop(engine);

    // Someone with the data copies globex's sealed key onto acme's record.
    if let Data::Postgres(database) = &h.data {
        database.execute(
            "UPDATE workspace_credentials AS acme SET record = convert_to(jsonb_set( \
                 convert_from(acme.record, 'UTF8')::jsonb, '{value,sealed}', \
                 convert_from(globex.record, 'UTF8')::jsonb -> 'value' -> 'sealed')::text, 'UTF8') \
             FROM workspace_credentials AS globex \
             WHERE acme.workspace = 'acme' AND globex.workspace = 'globex' \
               AND acme.integration = 'semrush' AND globex.integration = 'semrush'",
        );
    } else {
        use redb::{ReadableDatabase, TableDefinition};
        const TABLE: TableDefinition<(&str, &str), &[u8]> =
            TableDefinition::new("workspace_credentials");
        let db = redb::Database::open(h.dir.path().join("switchboard.redb")).unwrap();
        let read = |ws: &str| -> serde_json::Value {
            let tx = db.begin_read().unwrap();
            serde_json::from_slice(
                tx.open_table(TABLE)
                    .unwrap()
                    .get((ws, "semrush"))
                    .unwrap()
                    .unwrap()
                    .value(),
            )
            .unwrap()
        };
        let (mut acme, globex) = (read("acme"), read("globex"));
        acme["value"]["sealed"] = globex["value"]["sealed"].clone();
        let tx = db.begin_write().unwrap();
        tx.open_table(TABLE)
            .unwrap()
            .insert(
                ("acme", "semrush"),
                serde_json::to_vec(&acme).unwrap().as_slice(),
            )
            .unwrap();
        tx.commit().unwrap();
    }

    let engine = h.engine().await;
    let err = bob_looks_up_seo(&engine).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "a secret failed to open: wrong key, or the record was tampered with or moved"
    );
    let globex_member = actor("hal", "globex", Role::Member);
    keyword_overview(&engine, &globex_member, "seo")
        .await
        .unwrap();
}
