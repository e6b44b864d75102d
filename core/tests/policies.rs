//! The policies in `policies/`, as security teams work with them: strict
//! validation with file:line faults, the decision cases, formatting, and
//! reloading without losing the set in force.

use std::path::{Path, PathBuf};
use switchboard::model::{Actor, IntegrationId, Mode, Role, UserId, WorkspaceId};
use switchboard::policy::{
    self, ConnectionFacts, IntegrationFacts, Operation, Policies, Query, Target, cases,
};

fn repo_policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies")
}

/// A copy of the repository's policies that a test may break.
fn scratch_policies() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo_policies()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

#[test]
fn every_decision_case_passes() {
    let bundle = policy::load(&repo_policies()).expect("the repository's policies are valid");
    let outcomes = cases::run_dir(&bundle, &repo_policies().join("tests")).unwrap();
    let failures: Vec<String> = outcomes
        .iter()
        .filter_map(|o| {
            o.failure
                .as_ref()
                .map(|f| format!("{}: {}: {f}", o.file.display(), o.name))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(outcomes.len() >= 50, "only {} cases", outcomes.len());
    for rule in ["R1", "R2", "R3", "R4", "R5", "R6", "R7"] {
        assert!(
            outcomes.iter().any(|o| o.name.contains(rule)),
            "no case for {rule}"
        );
    }
}

#[test]
fn policy_files_are_formatted_as_cedar_format_formats_them() {
    let config = cedar_policy_formatter::Config {
        line_width: 80,
        indent_width: 2,
    };
    for entry in std::fs::read_dir(repo_policies()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "cedar") {
            let text = std::fs::read_to_string(&path).unwrap();
            let formatted = cedar_policy_formatter::policies_str_to_pretty(&text, &config).unwrap();
            assert_eq!(
                text.trim_end(),
                formatted.trim_end(),
                "{} is not formatted",
                path.display()
            );
        }
    }
}

fn faults_of(dir: &Path) -> Vec<String> {
    match policy::load(dir) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .faults
            .iter()
            .map(|f| {
                format!(
                    "{}:{}:{}: {}",
                    f.file.file_name().unwrap().to_string_lossy(),
                    f.line,
                    f.column,
                    f.message
                )
            })
            .collect(),
    }
}

/// A security engineer adds `file`, holding `text`, to a copy of the
/// policies: the faults loading them reports.
fn faults_adding(file: &str, text: &str) -> Vec<String> {
    let dir = scratch_policies();
    std::fs::write(dir.path().join(file), text).unwrap();
    faults_of(dir.path())
}

/// The policies were refused with exactly one fault, which starts with
/// `at` and mentions `says`.
fn assert_one_fault(faults: &[String], at: &str, says: &str) {
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert!(faults[0].starts_with(at), "{faults:?}");
    assert!(faults[0].contains(says), "{faults:?}");
}

#[test]
fn a_syntax_error_is_refused_with_its_file_and_line() {
    let text = "// a comment\n@id(\"broken\")\npermit (principal, action, resource)\nwhen { principal.role == };\n";
    assert_one_fault(
        &faults_adding("broken.cedar", text),
        "broken.cedar:4:",
        "unexpected token",
    );
}

#[test]
fn an_attribute_the_schema_lacks_is_refused_with_its_file_and_line() {
    let text = "@id(\"typo\")\n@reason(\"x\")\nforbid (principal, action, resource)\nwhen {\n  principal.workspace.plna == \"free\"\n};\n";
    assert_one_fault(&faults_adding("typo.cedar", text), "typo.cedar:5:", "plna");
}

#[test]
fn a_schema_out_of_step_with_the_engine_is_refused_at_load() {
    // The policies still validate against this schema, but the engine's
    // workspaces carry no `region`: every decision would rest on a request
    // the schema does not describe, so the set is refused up front.
    let dir = scratch_policies();
    let schema = dir.path().join(policy::SCHEMA_FILE);
    let text = std::fs::read_to_string(&schema).unwrap().replace(
        "entity Workspace = {\n    plan: String,",
        "entity Workspace = {\n    plan: String,\n    region: String,",
    );
    assert!(text.contains("region: String"));
    std::fs::write(&schema, text).unwrap();
    assert_one_fault(
        &faults_of(dir.path()),
        "schema.cedarschema:1:1: the schema does not describe the `viewTeamIntegrations` request the engine makes",
        "region",
    );
}

#[test]
fn ids_and_reasons_are_required() {
    let dir = scratch_policies();
    std::fs::write(
        dir.path().join("lint.cedar"),
        "permit (principal, action, resource);\n\n@id(\"no-reason\")\nforbid (principal, action, resource);\n\n@id(\"business-plan-only\")\npermit (principal, action, resource);\n",
    )
    .unwrap();
    let faults = faults_of(dir.path());
    assert_eq!(
        faults,
        [
            "lint.cedar:1:1: every policy needs an @id(\"...\") annotation",
            "lint.cedar:3:1: forbid `no-reason` needs a @reason(\"...\"): it is what a denied person reads",
            format!(
                "lint.cedar:6:1: @id(\"business-plan-only\") is already used in {}",
                dir.path().join("invariants.cedar").display()
            )
            .as_str(),
        ]
    );
}

fn semrush_enable(
    actor: &Actor,
    active: Option<Mode>,
    mode: Mode,
    policies: &Policies,
) -> policy::Decision {
    let id = IntegrationId::new("semrush");
    let supported = [Mode::Workspace, Mode::User];
    let facts = IntegrationFacts {
        id: &id,
        name: "Semrush",
        supported: &supported,
        active,
    };
    policies
        .decide(&Query {
            actor,
            operation: Operation::Enable { mode },
            target: Target::Integration(facts),
        })
        .unwrap()
}

fn ada(role: Role, plan: &str) -> Actor {
    Actor {
        user: UserId::new("ada"),
        workspace: WorkspaceId::new("acme"),
        role,
        plan: plan.into(),
    }
}

#[test]
fn decisions_name_their_policies_and_fill_in_the_reason() {
    let policies = Policies::load(&repo_policies()).unwrap();
    let allowed = semrush_enable(&ada(Role::Admin, "business"), None, Mode::User, &policies);
    assert!(allowed.allowed);
    assert_eq!(allowed.policies, ["team-admins-and-developers"]);

    let second_mode = semrush_enable(
        &ada(Role::Admin, "business"),
        Some(Mode::Workspace),
        Mode::User,
        &policies,
    );
    assert!(!second_mode.allowed);
    assert_eq!(second_mode.policies, ["one-mode-at-a-time"]);
    assert_eq!(
        second_mode.reason.as_deref(),
        Some("Semrush is already enabled in workspace mode; disable it before enabling user mode")
    );

    let member = semrush_enable(&ada(Role::Member, "business"), None, Mode::User, &policies);
    assert_eq!(
        member.reason.as_deref(),
        Some("Only Admins and Developers can manage team integrations")
    );
    let free = semrush_enable(&ada(Role::Admin, "free"), None, Mode::User, &policies);
    assert_eq!(
        free.reason.as_deref(),
        Some("Integration management is available on the Business plan")
    );
    // Asked again, each is answered the same from its cached entities.
    for (actor, active, decision) in [
        (ada(Role::Admin, "business"), None, &allowed),
        (
            ada(Role::Admin, "business"),
            Some(Mode::Workspace),
            &second_mode,
        ),
        (ada(Role::Member, "business"), None, &member),
        (ada(Role::Admin, "free"), None, &free),
    ] {
        assert_eq!(
            &semrush_enable(&actor, active, Mode::User, &policies),
            decision
        );
    }
}

/// A Semrush call by a member, with the workspace's credits as they stand.
fn semrush_call(
    credits_used: u64,
    credit_limit: Option<u64>,
    policies: &Policies,
) -> policy::Decision {
    let id = IntegrationId::new("semrush");
    let supported = [Mode::Workspace, Mode::User];
    policies
        .decide(&Query {
            actor: &ada(Role::Member, "business"),
            operation: Operation::Invoke {
                action: "keyword_overview",
                credit_cost: 1,
                credits_used,
                credit_limit,
            },
            target: Target::Integration(IntegrationFacts {
                id: &id,
                name: "Semrush",
                supported: &supported,
                active: Some(Mode::Workspace),
            }),
        })
        .unwrap()
}

#[test]
fn a_kept_decision_answers_only_the_same_question() {
    let kept = Policies::load(&repo_policies()).unwrap();
    let afresh = Policies::load_keeping(&repo_policies(), 0).unwrap();
    let limit_reached = Some("This workspace has used its 10 credits for this period");
    // The credits move between calls: each call is decided on its own.
    for (used, limit, reason) in [
        (8, Some(10), None),
        (9, Some(10), None),
        (10, Some(10), limit_reached),
        (9, Some(10), None),
        (10, None, None),
        (10, Some(10), limit_reached),
        (10, Some(11), None),
    ] {
        for policies in [&kept, &afresh] {
            for _ in 0..2 {
                let decision = semrush_call(used, limit, policies);
                assert_eq!(
                    decision.reason.as_deref(),
                    reason,
                    "{used} of {limit:?} credits used"
                );
                assert_eq!(decision.allowed, reason.is_none());
            }
        }
    }
}

#[test]
fn a_kept_outcome_is_never_served_for_a_query_differing_in_any_fact() {
    // Besides the shipped set, a security team's steady rules on the rest
    // of a call's context, which no shipped policy reads on its own.
    let dir = scratch_policies();
    std::fs::write(
        dir.path().join("calls.cedar"),
        r#"@id("costly-calls")
@reason("Calls costing more than 2 credits need a limit below 1000")
forbid (principal, action == Switchboard::Action::"invoke", resource)
when { context.creditCost > 2 && !(context has creditLimit && context.creditLimit < 1000) };

@id("no-domain-reports-on-free")
@reason("Domain reports are on the Business plan")
forbid (principal, action == Switchboard::Action::"invoke", resource)
when { context.action == "domain_overview" && principal.workspace.plan == "free" };
"#,
    )
    .unwrap();
    for policies in [repo_policies(), dir.path().to_owned()] {
        every_fact_counts(&policies);
    }
}

/// Every query over a spread of facts is decided the same by policies that
/// keep outcomes as by policies that keep nothing, before and after.
fn every_fact_counts(dir: &Path) {
    let kept = Policies::load(dir).unwrap();
    let afresh = Policies::load_keeping(dir, 0).unwrap();
    let (semrush, sharepoint) = (
        IntegrationId::new("semrush"),
        IntegrationId::new("sharepoint"),
    );
    let (acme, globex) = (WorkspaceId::new("acme"), WorkspaceId::new("globex"));
    let (ada, bob) = (UserId::new("ada"), UserId::new("bob"));
    let both = [Mode::Workspace, Mode::User];
    let actors: Vec<Actor> = Role::ALL
        .into_iter()
        .flat_map(|role| {
            ["business", "free"].map(|plan| Actor {
                user: ada.clone(),
                workspace: acme.clone(),
                role,
                plan: plan.into(),
            })
        })
        .collect();
    let integrations: Vec<IntegrationFacts> = [(&semrush, "Semrush"), (&sharepoint, "SharePoint")]
        .into_iter()
        .flat_map(|(id, name)| {
            [None, Some(Mode::Workspace), Some(Mode::User)].map(|active| IntegrationFacts {
                id,
                name,
                supported: &both,
                active,
            })
        })
        .collect();
    let operations = [
        Operation::Enable { mode: Mode::User },
        Operation::Enable {
            mode: Mode::Workspace,
        },
        Operation::Disable,
        Operation::Connect,
    ]
    .into_iter()
    .chain(
        ["keyword_overview", "domain_overview"]
            .into_iter()
            .flat_map(|action| {
                [
                    (1, None),
                    (4, None),
                    (1, Some(100)),
                    (4, Some(100)),
                    (4, Some(5000)),
                    (1, Some(0)),
                ]
                .map(|(credit_cost, credit_limit)| Operation::Invoke {
                    action,
                    credit_cost,
                    credits_used: 0,
                    credit_limit,
                })
            }),
    );
    let mut queries: Vec<Query> = Vec::new();
    for actor in &actors {
        for operation in operations.clone() {
            for facts in &integrations {
                queries.push(Query {
                    actor,
                    operation,
                    target: Target::Integration(*facts),
                });
            }
        }
        for (owner, workspace) in [(&ada, &acme), (&bob, &acme), (&bob, &globex)] {
            for operation in [Operation::ViewConnection, Operation::Disconnect] {
                queries.push(Query {
                    actor,
                    operation,
                    target: Target::Connection(ConnectionFacts {
                        id: "conn-1",
                        workspace,
                        integration: integrations[2],
                        owner,
                    }),
                });
            }
        }
    }
    let (mut allowed, mut denied) = (0, 0);
    // Twice over: the second time every steady outcome is a kept one.
    for _ in 0..2 {
        for query in &queries {
            let decision = kept.decide(query).unwrap();
            assert_eq!(decision, afresh.decide(query).unwrap(), "{query:?}");
            if decision.allowed {
                allowed += 1;
            } else {
                denied += 1;
            }
        }
    }
    assert!(
        allowed > 100 && denied > 100,
        "{allowed} allowed, {denied} denied"
    );
}

#[test]
fn a_refused_reload_keeps_the_last_good_set_in_force() {
    let dir = scratch_policies();
    let policies = Policies::load(dir.path()).unwrap();
    let admin = ada(Role::Admin, "business");
    assert!(semrush_enable(&admin, None, Mode::User, &policies).allowed);

    // A broken edit is refused whole, with its faults; decisions go on.
    std::fs::write(
        dir.path().join("team.cedar"),
        "@id(\"x\") permit (principal, action, resource) when { principal.nope };",
    )
    .unwrap();
    let err = policies.reload().unwrap_err();
    assert!(
        err.faults
            .iter()
            .any(|f| f.file.ends_with("team.cedar") && f.line == 1),
        "{err}"
    );
    assert!(semrush_enable(&admin, None, Mode::User, &policies).allowed);

    // A good edit takes effect: here, the team permit is gone.
    std::fs::remove_file(dir.path().join("team.cedar")).unwrap();
    policies.reload().unwrap();
    let denied = semrush_enable(&admin, None, Mode::User, &policies);
    assert!(!denied.allowed);
    assert_eq!(
        denied.reason.as_deref(),
        Some("You are not permitted to do that")
    );
    assert!(denied.policies.is_empty());
}

#[tokio::test]
async fn edited_files_are_picked_up_without_a_restart() {
    let dir = scratch_policies();
    let policies = std::sync::Arc::new(Policies::load(dir.path()).unwrap());
    Policies::watch(&policies, std::time::Duration::from_millis(50));
    let admin = ada(Role::Admin, "business");
    assert!(semrush_enable(&admin, None, Mode::User, &policies).allowed);
    std::fs::remove_file(dir.path().join("team.cedar")).unwrap();
    for _ in 0..200 {
        if !semrush_enable(&admin, None, Mode::User, &policies).allowed {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the edit was not picked up");
}
