//! The engine asks the policies before it acts: what a refused caller sees,
//! and the one-mode rule under contention.

use switchboard::Error;
use switchboard::model::{Mode, Role};
use switchboard_e2e::*;

/// Semrush installed, enabled nowhere yet.
async fn world() -> Deployment {
    semrush_deployment(&[], &[]).await
}

#[tokio::test]
async fn a_denied_caller_reads_the_policys_reason_and_id() {
    let w = world().await;
    let engine = &w.engine;
    let err = engine
        .enable(&member(), &id("semrush"), Mode::Workspace)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Only Admins and Developers can manage team integrations [policy: team-needs-admin-or-developer]"
    );
    assert!(
        matches!(&err, Error::Denied { policies, .. } if policies == &["team-needs-admin-or-developer"])
    );

    let free_admin = actor("zoe", "smallco", Role::Admin);
    let free_admin = switchboard::model::Actor {
        plan: "free".into(),
        ..free_admin
    };
    let err = engine
        .enable(&free_admin, &id("semrush"), Mode::Workspace)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Integration management is available on the Business plan [policy: business-plan-only]"
    );

    let err = bob_looks_up_seo(engine).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Semrush is not enabled in this workspace; ask an admin to enable it [policy: use-needs-enabled]"
    );
}

#[tokio::test]
async fn a_developer_enables_and_disables_but_a_member_cannot_disable() {
    let w = world().await;
    let engine = &w.engine;
    let developer = actor("dev", "acme", Role::Developer);
    engine
        .enable(&developer, &id("semrush"), Mode::User)
        .unwrap();
    let err = engine.disable(&member(), &id("semrush")).unwrap_err();
    assert!(
        err.to_string().starts_with("Only Admins and Developers"),
        "{err}"
    );
    engine.disable(&developer, &id("semrush")).unwrap();
}

#[tokio::test]
async fn a_workspace_credential_is_refused_to_a_member_before_any_check() {
    let w = world().await;
    let engine = &w.engine;
    let err = set_semrush_key(engine, &member(), "k").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Only Admins and Developers can manage team integrations [policy: team-needs-admin-or-developer]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_enables_in_two_modes_never_leave_both() {
    let w = world().await;
    let engine = &w.engine;
    let semrush = id("semrush");
    let barrier = std::sync::Barrier::new(2);
    let mut wins = [0usize; 2];
    for _ in 0..1000 {
        let (workspace, user) = std::thread::scope(|s| {
            let a = s.spawn(|| {
                barrier.wait();
                engine.enable(&admin(), &semrush, Mode::Workspace)
            });
            let b = s.spawn(|| {
                barrier.wait();
                engine.enable(&admin(), &semrush, Mode::User)
            });
            (a.join().unwrap(), b.join().unwrap())
        });
        let winner = match (&workspace, &user) {
            (Ok(e), Err(Error::Denied { policies, .. }))
                if e.mode == Mode::Workspace && policies == &["one-mode-at-a-time"] =>
            {
                0
            }
            (Err(Error::Denied { policies, .. }), Ok(e))
                if e.mode == Mode::User && policies == &["one-mode-at-a-time"] =>
            {
                1
            }
            other => panic!("both or neither enabled: {other:?}"),
        };
        wins[winner] += 1;
        engine.disable(&admin(), &semrush).unwrap();
    }
    assert_eq!(wins[0] + wins[1], 1000);
}

#[tokio::test]
async fn of_several_deciding_policies_the_same_and_most_relevant_reason_is_given_every_time() {
    let w = world().await;
    w.engine
        .enable(&admin(), &id("semrush"), Mode::Workspace)
        .unwrap();
    // A member asking for user mode while workspace mode is on is refused
    // by the role rule and by the one-mode rule; the role speaks, always.
    for _ in 0..40 {
        let refused = w
            .engine
            .enable(&member(), &id("semrush"), Mode::User)
            .unwrap_err();
        assert!(
            matches!(&refused, Error::Denied { reason, policies }
                if reason == "Only Admins and Developers can manage team integrations"
                && policies == &["team-needs-admin-or-developer", "one-mode-at-a-time"]),
            "{refused:?}"
        );
    }
    // A member of a free workspace: the plan speaks before the role.
    let free_member = switchboard::model::Actor {
        plan: "free".into(),
        ..member()
    };
    for _ in 0..40 {
        let refused = w
            .engine
            .enable(&free_member, &id("semrush"), Mode::User)
            .unwrap_err();
        assert!(
            matches!(&refused, Error::Denied { reason, .. }
                if reason == "Integration management is available on the Business plan"),
            "{refused:?}"
        );
    }
}

#[tokio::test]
async fn ids_that_break_the_grammar_are_refused_before_anything_is_stored() {
    let w = world().await;
    for (user, workspace, plan) in [
        ("", "acme", "business"),
        ("bob\nINFO forged", "acme", "business"),
        ("bob", "acme\r\n", "business"),
        ("bob", "acme\u{202e}", "business"),
        ("bob", "ac\0me", "business"),
        ("bob", &"w".repeat(10_000), "business"),
        ("bob", "acme", "busi ness"),
        ("-bob", "acme", "business"),
    ] {
        let who = switchboard::model::Actor {
            user: switchboard::model::UserId::new(user),
            workspace: switchboard::model::WorkspaceId::new(workspace),
            role: Role::Admin,
            plan: plan.into(),
        };
        let refused = w
            .engine
            .enable(&who, &id("semrush"), Mode::Workspace)
            .unwrap_err();
        assert!(
            matches!(refused, Error::InvalidId(_)),
            "{user:?}/{workspace:?}: {refused}"
        );
        assert!(
            !refused.to_string().contains(user) || user.is_empty(),
            "the id is not repeated: {refused}"
        );
    }
    // Emails and UUIDs are ids.
    let fine = switchboard::model::Actor {
        user: switchboard::model::UserId::new("bob.smith+sb@example.com"),
        workspace: switchboard::model::WorkspaceId::new("2f1c6a4e-9b7d-4c1e-8a43-0f6b2d9e5a10"),
        role: Role::Admin,
        plan: "business".into(),
    };
    w.engine
        .enable(&fine, &id("semrush"), Mode::Workspace)
        .unwrap();
}
