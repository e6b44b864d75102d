//! `Policies::decide` on realistic requests next to a bare
//! `Authorizer::is_authorized` on the same request with the entities
//! already built, in the same run, the repository's policies:
//! - an admin reading a member's connection (user, workspace, integration
//!   and connection entities built from engine types): asked again and
//!   again, as a page does (what the policies said kept: no Cedar runs),
//!   and about facts never seen before (entities built, every policy
//!   evaluated);
//! - a member's Semrush call, with the workspace's credits used moving on
//!   every call as they do: the entities and the steady policies' outcome
//!   kept, the policy reading the credits used (`credit-limit`) evaluated
//!   every time.
//!
//! Prints the ratios of medians.

mod support;

use criterion::{Criterion, criterion_group};
use std::hint::black_box;
use switchboard::model::{Actor, IntegrationId, Mode, Role, UserId, WorkspaceId};
use switchboard::policy::{ConnectionFacts, IntegrationFacts, Operation, Policies, Query, Target};

fn decide(c: &mut Criterion) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let policies = Policies::load(&dir).expect("policies");
    let actor = Actor {
        user: UserId::new("alice"),
        workspace: WorkspaceId::new("acme"),
        role: Role::Admin,
        plan: "business".into(),
    };
    let integration = IntegrationId::new("sharepoint");
    let owner = UserId::new("bob");
    let supported = [Mode::User];
    let facts = IntegrationFacts {
        id: &integration,
        name: "SharePoint",
        supported: &supported,
        active: Some(Mode::User),
    };
    let connection = ConnectionFacts {
        id: "conn-7f3a",
        workspace: &actor.workspace,
        integration: facts,
        owner: &owner,
    };
    let query = Query {
        actor: &actor,
        operation: Operation::ViewConnection,
        target: Target::Connection(connection),
    };
    let decision = policies.decide(&query).expect("decide");
    assert_eq!(decision.policies, ["connections-are-private"]);

    let bundle = policies.current();
    let (request, entities) = policies.cedar_request(&query).expect("request");
    let authorizer = cedar_policy::Authorizer::new();

    let mut group = c.benchmark_group("decide");
    group.bench_function("bare_is_authorized", |b| {
        b.iter(|| {
            black_box(authorizer.is_authorized(black_box(&request), &bundle.policies, &entities))
        })
    });
    group.bench_function("policies_decide", |b| {
        b.iter(|| black_box(policies.decide(black_box(&query)).expect("decide")))
    });
    // Facts never seen before (a new connection each time): the entities
    // are built, not taken from the cache.
    let mut n = 0u64;
    group.bench_function("policies_decide_new_facts", |b| {
        b.iter(|| {
            n += 1;
            let id = format!("conn-{n}");
            let query = Query {
                target: Target::Connection(ConnectionFacts {
                    id: &id,
                    ..connection
                }),
                ..query
            };
            black_box(policies.decide(black_box(&query)).expect("decide"))
        })
    });

    // A call: its context carries the credits used so far, which every call
    // moves, so the policies reading them are evaluated each time.
    let semrush = IntegrationId::new("semrush");
    let modes = [Mode::Workspace, Mode::User];
    let member = Actor {
        user: owner.clone(),
        role: Role::Member,
        ..actor.clone()
    };
    let call = |credits_used| Query {
        actor: &member,
        operation: Operation::Invoke {
            action: "keyword_overview",
            credit_cost: 1,
            credits_used,
            credit_limit: Some(u64::MAX >> 2),
        },
        target: Target::Integration(IntegrationFacts {
            id: &semrush,
            name: "Semrush",
            supported: &modes,
            active: Some(Mode::Workspace),
        }),
    };
    assert!(policies.decide(&call(0)).expect("decide").allowed);
    let (request, entities) = policies.cedar_request(&call(0)).expect("request");
    group.bench_function("bare_is_authorized_call", |b| {
        b.iter(|| {
            black_box(authorizer.is_authorized(black_box(&request), &bundle.policies, &entities))
        })
    });
    let mut credits_used = 0;
    group.bench_function("policies_decide_call", |b| {
        b.iter(|| {
            credits_used += 1;
            black_box(
                policies
                    .decide(black_box(&call(credits_used)))
                    .expect("decide"),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, decide);

fn main() {
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
    support::print_ratio("decide", "policies_decide", "bare_is_authorized");
    support::print_ratio("decide", "policies_decide_new_facts", "bare_is_authorized");
    support::print_ratio("decide", "policies_decide_call", "bare_is_authorized_call");
}
