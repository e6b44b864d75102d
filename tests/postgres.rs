//! The PostgreSQL backend's own guarantees, with several stores on one
//! database standing for several nodes. The tests that need a second node
//! run only when `TEST_POSTGRES_URL` names a server (CI sets it); they say
//! so when skipped.

use std::sync::Arc;
use std::time::Duration;
use switchboard::Location;
use switchboard::audit::{Entry, Outcome};
use switchboard::model::{Event, EventKind, IntegrationId, Mode, Role, UserId, WorkspaceId};
use switchboard::store::Store;
use switchboard::vault::KeySource;
use switchboard_e2e::*;

fn entry(n: usize) -> Entry {
    Entry {
        actor: UserId::new(format!("user{n}")),
        role: Role::Admin,
        operation: "enable".into(),
        integration: None,
        outcome: Outcome::Allowed,
        detail: None,
    }
}

/// `count` stores on the harness's database, as `count` nodes would open
/// it; `None` (and a note) on a redb file, which one process opens.
fn nodes(h: &Harness, count: usize) -> Option<Vec<Arc<Store>>> {
    if let Data::File(_) = h.data {
        eprintln!("skipped: several nodes need {POSTGRES_ENV}");
        return None;
    }
    Some(
        (0..count)
            .map(|_| Arc::new(Store::open(h.data.location()).unwrap()))
            .collect(),
    )
}

#[tokio::test]
async fn a_store_reopened_again_and_again_keeps_answering() {
    let h = Harness::new();
    let workspace = WorkspaceId::new("acme");
    for round in 0..3 {
        let store = Store::open(h.data.location()).unwrap();
        for n in 0..20 {
            store
                .write(|w| Ok(w.audit(&workspace, 1, entry(n))?))
                .unwrap();
            let all = store.read(|r| r.audit_all("acme")).unwrap();
            assert_eq!(all.len(), round * 20 + n + 1);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_appending_at_once_keep_one_unbroken_audit_chain() {
    let h = Harness::new();
    let Some(nodes) = nodes(&h, 3) else { return };
    let workspace = WorkspaceId::new("acme");
    let writers: Vec<_> = (0..12)
        .map(|n| {
            let (store, workspace) = (nodes[n % 3].clone(), workspace.clone());
            std::thread::spawn(move || {
                for i in 0..25 {
                    store
                        .write(|w| Ok(w.audit(&workspace, 1, entry(n * 100 + i))?))
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let records = nodes[0].read(|r| r.audit_all("acme")).unwrap();
    assert_eq!(switchboard::audit::verify(&workspace, records), Ok(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_published_on_one_node_is_heard_on_every_node_and_claimed_by_one() {
    let h = Harness::new();
    let Some(nodes) = nodes(&h, 3) else { return };
    let mut heard: Vec<_> = nodes.iter().map(|n| n.subscribe()).collect();
    let event = Event {
        id: "evt_0123456789abcdef01234567".into(),
        kind: EventKind::IntegrationDisabled,
        workspace: WorkspaceId::new("acme"),
        integration: IntegrationId::new("semrush"),
        users: vec![UserId::new("bob")],
        connections: Vec::new(),
        reason: None,
        at_ms: 1_764_590_400_000,
    };
    nodes[1].publish(&event);
    for (n, rx) in heard.iter_mut().enumerate() {
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert_eq!(
            got.ok().and_then(Result::ok).as_ref(),
            Some(&event),
            "node {n}"
        );
        // A second copy would come within moments.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(rx.try_recv().is_err(), "node {n} heard it once");
    }
    let claims: Vec<bool> = nodes
        .iter()
        .map(|n| n.claim_event(&event.id).unwrap())
        .collect();
    assert_eq!(claims.iter().filter(|c| **c).count(), 1, "{claims:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exclusive_section_runs_on_one_node_at_a_time() {
    let h = Harness::new();
    let Some(nodes) = nodes(&h, 2) else { return };
    let held = nodes[0].exclusive("refresh conn_1").await.unwrap();
    let other = nodes[1].clone();
    let waiting = tokio::spawn(async move { other.exclusive("refresh conn_1").await.map(drop) });
    // Another section is not held up.
    let _unrelated = nodes[1].exclusive("refresh conn_2").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the second node waits");
    drop(held);
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the second node enters once the first leaves")
        .unwrap()
        .unwrap();
}

/// What `who` sees of the state: both pages and usage (or the refusal of
/// each). The audit trail is compared whole, record by record: a refused
/// look is itself audited, so looking changes it.
fn everything_seen_by(
    engine: &switchboard::Engine,
    who: &switchboard::model::Actor,
) -> serde_json::Value {
    fn seen<T: serde::Serialize>(answer: Result<T, switchboard::Error>) -> serde_json::Value {
        match answer {
            Ok(value) => serde_json::to_value(value).unwrap(),
            Err(e) => serde_json::json!({"refused": e.to_string()}),
        }
    }
    serde_json::json!({
        "team": seen(engine.team_integrations(who)),
        "integrations": seen(engine.user_integrations(who)),
        "usage": seen(engine.usage(who, 0, 4_102_444_800_000)),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redb_file_exported_to_postgres_and_back_shows_every_actor_the_same() {
    use switchboard::maintenance::DataFile;
    let deployment = semrush_deployment(
        &[
            ("0123456789abcdef0123456789abcdef", 10_000),
            ("fedcba9876543210fedcba9876543210", 10_000),
        ],
        &[],
    )
    .await;
    let Data::Postgres(_) = &deployment.harness.data else {
        eprintln!("skipped: the move to PostgreSQL needs {POSTGRES_ENV}");
        return;
    };
    let h = &deployment.harness;
    let key = KeySource::EnvOrFile(h.dir.path().join("switchboard.key"));
    let redb = Location::File(h.dir.path().join("source.redb"));
    // The demo's kind of state, on a redb file: a shared key, a member's
    // own connection, calls counted, a credit limit, a refusal audited.
    let mut config = h.config();
    config.data = redb.clone();
    let source = switchboard::Engine::open(config).await.unwrap();
    let globex_admin = actor("gus", "globex", Role::Admin);
    let globex_member = actor("hal", "globex", Role::Member);
    share_key(
        &source,
        &admin(),
        &id("semrush"),
        "0123456789abcdef0123456789abcdef",
    )
    .await;
    bob_looks_up_seo(&source).await.unwrap();
    bob_asks_related_to_seo(&source).await.unwrap();
    source
        .enable(&globex_admin, &id("semrush"), Mode::User)
        .unwrap();
    connect_semrush_key(&source, &globex_member, "fedcba9876543210fedcba9876543210")
        .await
        .unwrap();
    keyword_overview(&source, &globex_member, "crm")
        .await
        .unwrap();
    source
        .set_credit_limit(&WorkspaceId::new("acme"), Some(5_000))
        .unwrap();
    assert!(
        source
            .enable(&member(), &id("semrush"), Mode::User)
            .is_err()
    );
    source.flush_usage().unwrap();
    let actors = [admin(), member(), globex_admin, globex_member];
    let before: Vec<_> = actors
        .iter()
        .map(|a| everything_seen_by(&source, a))
        .collect();
    let trail_of = |engine: &switchboard::Engine, w: &str| {
        let admin = actor("alice", w, Role::Admin);
        engine
            .audit(&admin, &Default::default(), None, 1000)
            .unwrap()
            .records
    };
    let trails: Vec<_> = ["acme", "globex"]
        .iter()
        .map(|w| trail_of(&source, w))
        .collect();
    drop(source);

    // redb → PostgreSQL → a new redb file.
    let dump = h.dir.path().join("export.jsonl");
    let exported = DataFile::open_with_keys(&redb, key.clone())
        .unwrap()
        .export(&mut std::fs::File::create(&dump).unwrap())
        .unwrap();
    assert_eq!(
        (
            exported.workspaces,
            exported.connections,
            exported.credit_limits
        ),
        (2, 1, 1)
    );
    let postgres = DataFile::open_with_keys(h.data.location(), key.clone()).unwrap();
    let imported = postgres
        .import(std::io::BufReader::new(std::fs::File::open(&dump).unwrap()))
        .unwrap();
    assert_eq!(imported, exported);
    assert!(
        postgres
            .verify_audit()
            .unwrap()
            .iter()
            .all(|(_, chain)| chain.is_ok())
    );
    let again = postgres.import(std::io::BufReader::new(std::fs::File::open(&dump).unwrap()));
    assert!(
        again
            .unwrap_err()
            .to_string()
            .contains("already holds 2 workspace(s)")
    );
    let back = h.dir.path().join("back.jsonl");
    postgres
        .export(&mut std::fs::File::create(&back).unwrap())
        .unwrap();
    drop(postgres);
    let returned = Location::File(h.dir.path().join("returned.redb"));
    DataFile::migrate(&returned)
        .unwrap()
        .import(std::io::BufReader::new(std::fs::File::open(&back).unwrap()))
        .unwrap();

    for location in [h.data.location(), returned] {
        let mut config = h.config();
        config.data = location.clone();
        let engine = switchboard::Engine::open(config).await.unwrap();
        for (w, trail) in ["acme", "globex"].iter().zip(&trails) {
            assert_eq!(&trail_of(&engine, w), trail, "{w} on {location}");
        }
        for (who, seen) in actors.iter().zip(&before) {
            assert_eq!(
                &everything_seen_by(&engine, who),
                seen,
                "{} on {location}",
                who.user
            );
        }
        // Secrets moved sealed and still open there.
        bob_looks_up_seo(&engine).await.unwrap();
    }
}

/// The round trips `work` asks of the database, averaged over ten runs
/// after ten to warm the connections' prepared statements.
async fn round_trips<F: std::future::Future<Output = ()>>(
    engine: &switchboard::Engine,
    mut work: impl FnMut(usize) -> F,
) -> f64 {
    for n in 0..10 {
        work(n).await;
    }
    let before = engine.database_round_trips();
    for n in 10..20 {
        work(n).await;
    }
    (engine.database_round_trips() - before) as f64 / 10.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_view_an_integration_call_and_a_change_each_take_few_round_trips() {
    let d = semrush_deployment(&[("0123456789abcdef0123456789abcdef", 1_000_000)], &[]).await;
    let Data::Postgres(_) = &d.harness.data else {
        eprintln!("skipped: round trips are counted on {POSTGRES_ENV}");
        return;
    };
    let engine = &d.engine;
    share_key(
        engine,
        &admin(),
        &id("semrush"),
        "0123456789abcdef0123456789abcdef",
    )
    .await;
    let team = round_trips(engine, |_| async {
        engine.team_integrations(&admin()).unwrap();
    })
    .await;
    let integrations = round_trips(engine, |_| async {
        engine.user_integrations(&member()).unwrap();
    })
    .await;
    let call = round_trips(engine, |_| async {
        bob_looks_up_seo(engine).await.unwrap();
    })
    .await;
    let enable = round_trips(engine, |n| async move {
        let admin = actor("alice", &format!("w{n}"), Role::Admin);
        engine
            .enable(&admin, &id("semrush"), Mode::Workspace)
            .unwrap();
    })
    .await;
    let disable = round_trips(engine, |n| async move {
        let admin = actor("alice", &format!("w{n}"), Role::Admin);
        engine.disable(&admin, &id("semrush")).unwrap();
    })
    .await;
    eprintln!(
        "round trips: team page {team}, integrations page {integrations}, call {call}, enable {enable}, disable {disable}"
    );
    assert!(
        team <= 2.0 && integrations <= 2.0,
        "pages: {team}, {integrations}"
    );
    assert!(call <= 2.0, "an integration call: {call}");
    assert!(
        enable <= 4.0 && disable <= 4.0,
        "changes: {enable}, {disable}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_sections_held_at_once_leave_the_pool_to_everyone_else() {
    let h = Harness::new();
    let Some(nodes) = nodes(&h, 1) else { return };
    let mut held = Vec::new();
    for n in 0..20 {
        held.push(
            nodes[0]
                .exclusive(&format!("refresh conn_{n}"))
                .await
                .unwrap(),
        );
    }
    let started = std::time::Instant::now();
    let workspace = WorkspaceId::new("acme");
    nodes[0]
        .write(|w| Ok(w.audit(&workspace, 1, entry(1))?))
        .unwrap();
    assert_eq!(nodes[0].read(|r| r.audit_all("acme")).unwrap().len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_published_while_a_node_listens_again_still_reaches_it_once() {
    let h = Harness::new();
    let Some(nodes) = nodes(&h, 2) else { return };
    let Data::Postgres(database) = &h.data else {
        return;
    };
    let mut heard = nodes[0].subscribe();
    // Every listener's connection is cut, as a database restart cuts them.
    database.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    );
    let at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let event = Event {
        id: "evt_00000000000000000000cafe".into(),
        kind: EventKind::NeedsReauth,
        workspace: WorkspaceId::new("acme"),
        integration: IntegrationId::new("sharepoint"),
        users: vec![UserId::new("bob")],
        connections: Vec::new(),
        reason: Some("AADSTS70008".into()),
        at_ms,
    };
    nodes[1].publish(&event);
    let got = tokio::time::timeout(Duration::from_secs(10), heard.recv()).await;
    assert_eq!(got.ok().and_then(Result::ok).as_ref(), Some(&event));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(heard.try_recv().is_err(), "heard once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_probing_each_others_connections_from_two_nodes_are_refused_every_time() {
    let (bob_key, hal_key) = (
        "0123456789abcdef0123456789abcdef",
        "fedcba9876543210fedcba9876543210",
    );
    let d = semrush_deployment(&[(bob_key, 1_000), (hal_key, 1_000)], &[]).await;
    let Data::Postgres(_) = &d.harness.data else {
        eprintln!("skipped: a second node needs {POSTGRES_ENV}");
        return;
    };
    let other_node = switchboard::Engine::open(d.harness.config()).await.unwrap();
    let (globex_admin, hal) = (
        actor("gus", "globex", Role::Admin),
        actor("hal", "globex", Role::Member),
    );
    d.engine
        .enable(&admin(), &id("semrush"), Mode::User)
        .unwrap();
    other_node
        .enable(&globex_admin, &id("semrush"), Mode::User)
        .unwrap();
    let bobs = connect_semrush_key(&d.engine, &member(), bob_key)
        .await
        .unwrap();
    let hals = connect_semrush_key(&other_node, &hal, hal_key)
        .await
        .unwrap();
    let bob = member();
    for round in 0..20 {
        // Each takes its own workspace's turn and looks into the other's.
        let (bob_tries, hal_tries) = futures::join!(
            d.engine.disconnect(&bob, &hals.id),
            other_node.disconnect(&hal, &bobs.id),
        );
        for refused in [bob_tries, hal_tries] {
            assert!(
                matches!(refused, Err(switchboard::Error::Denied { .. })),
                "round {round}: {refused:?}"
            );
        }
    }
    assert!(d.engine.connection(&bob, &bobs.id).is_ok());
    assert!(other_node.connection(&hal, &hals.id).is_ok());
}
