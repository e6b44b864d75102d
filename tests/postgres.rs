//! The PostgreSQL backend's own guarantees, with several stores on one
//! database standing for several nodes. Runs when `TEST_POSTGRES_URL`
//! names a server (CI sets it); on redb the same tests run on one file.

use switchboard::audit::{Entry, Outcome};
use switchboard::model::{Role, UserId, WorkspaceId};
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
