//! The PostgreSQL backend's own guarantees, with several stores on one
//! database standing for several nodes. The tests that need a second node
//! run only when `TEST_POSTGRES_URL` names a server (CI sets it); they say
//! so when skipped.

use std::sync::Arc;
use std::time::Duration;
use switchboard::audit::{Entry, Outcome};
use switchboard::model::{Event, EventKind, IntegrationId, Role, UserId, WorkspaceId};
use switchboard::store::Store;
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
