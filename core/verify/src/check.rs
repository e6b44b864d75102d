//! Deciding properties: for every request environment the schema allows
//! (a principal type, an action, a resource type), the policy set and the
//! property are compiled to SMT and the solver looks for a request that
//! breaks the claim. None in any environment: proved. One: refuted, with
//! that request and its entities.

use crate::properties::{Claim, Properties, Property};
use cedar_policy::{Policy, PolicySet, RequestEnv, Schema};
use cedar_policy_symcc::solver::LocalSolver;
use cedar_policy_symcc::{CedarSymCompiler, CompiledPolicy, CompiledPolicySet, Env};
use std::time::{Duration, Instant};

/// The solver's time for one query, in milliseconds: a query that needs
/// more answers "unknown" instead of hanging the command.
const QUERY_LIMIT_MS: u64 = 60_000;

/// How a property fared.
#[derive(Debug)]
pub enum Verdict {
    /// It holds for every request the schema allows (under the assumptions).
    Proved,
    /// It does not: a request that breaks it, with its entities.
    Refuted(Box<Env>),
    /// The solver could not decide (a time limit, an unsupported feature).
    Unknown(String),
}

/// One property's verdict.
#[derive(Debug)]
pub struct Finding {
    /// The property's name.
    pub name: String,
    /// What it says.
    pub says: String,
    /// How it fared.
    pub verdict: Verdict,
    /// How long it took.
    pub took: Duration,
}

/// A request one policy set allows and another denies.
#[derive(Debug)]
pub struct Change {
    /// `true`: the new set allows it and the old one denied it.
    pub newly_allowed: bool,
    /// The request and its entities.
    pub example: Box<Env>,
}

/// Why verification could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The solver did not start (is `CVC5` set, or `cvc5` on the path?).
    #[error("the solver did not start (set CVC5 to cvc5 1.3's path): {0}")]
    Solver(String),
    /// A policy or property does not compile for the schema.
    #[error("{0}")]
    Compile(String),
}

/// A solver process and Cedar's symbolic compiler in front of it.
pub struct Verifier {
    compiler: CedarSymCompiler<LocalSolver>,
}

/// A policy set made of these policies (their ids are distinct).
fn set(policies: impl IntoIterator<Item = Policy>) -> Result<PolicySet, VerifyError> {
    let mut set = PolicySet::new();
    for policy in policies {
        set.add(policy)
            .map_err(|e| VerifyError::Compile(e.to_string()))?;
    }
    Ok(set)
}

impl Verifier {
    /// Starts the solver named by `CVC5` (else `cvc5` on the path).
    pub fn start() -> Result<Self, VerifyError> {
        let solver = LocalSolver::cvc5_with_args([format!("--tlimit-per={QUERY_LIMIT_MS}")])
            .map_err(|e| VerifyError::Solver(e.to_string()))?;
        let compiler =
            CedarSymCompiler::new(solver).map_err(|e| VerifyError::Solver(e.to_string()))?;
        Ok(Verifier { compiler })
    }

    /// Every property, then "never errors" for every policy.
    pub async fn prove(
        &mut self,
        schema: &Schema,
        policies: &PolicySet,
        properties: &Properties,
    ) -> Result<Vec<Finding>, VerifyError> {
        let assumptions: Vec<Policy> = properties
            .assumptions
            .iter()
            .map(|(p, _)| p.clone())
            .collect();
        let assumed = set(policies.policies().cloned().chain(assumptions.clone()))?;
        let mut findings = Vec::new();
        for property in &properties.properties {
            let started = Instant::now();
            let verdict = self
                .property(schema, policies, &assumed, &assumptions, property)
                .await;
            findings.push(Finding {
                name: property.name.clone(),
                says: property.says.clone(),
                verdict,
                took: started.elapsed(),
            });
        }
        for policy in policies.policies() {
            let started = Instant::now();
            let verdict = self.never_errors(schema, policy).await;
            findings.push(Finding {
                name: format!("{}-never-errors", policy.id()),
                says: format!(
                    "The policy {} never errors, whatever the request",
                    policy.id()
                ),
                verdict,
                took: started.elapsed(),
            });
        }
        Ok(findings)
    }

    /// One property in every request environment it can match.
    async fn property(
        &mut self,
        schema: &Schema,
        policies: &PolicySet,
        assumed: &PolicySet,
        assumptions: &[Policy],
        property: &Property,
    ) -> Verdict {
        let matches = set([property.matches.clone()]);
        let matches_assumed =
            set(std::iter::once(property.matches.clone()).chain(assumptions.iter().cloned()));
        let (Ok(matches), Ok(matches_assumed)) = (matches, matches_assumed) else {
            return Verdict::Unknown("the property's id clashes with a policy's".into());
        };
        let mut matched = false;
        for env in schema.request_envs() {
            match self.can_match(schema, &env, &property.matches).await {
                Ok(true) => matched = true,
                Ok(false) => continue,
                Err(why) => return Verdict::Unknown(why),
            }
            let answer = match property.claim {
                // Something the policies allow (and the engine can send)
                // that the property matches.
                Claim::Never => self.both(schema, &env, assumed, &matches).await,
                // Something it matches (and the engine can send) that the
                // policies deny.
                Claim::Always => {
                    self.first_not_second(schema, &env, &matches_assumed, policies)
                        .await
                }
                // Something the policies allow that it does not match.
                Claim::Only => self.first_not_second(schema, &env, assumed, &matches).await,
            };
            match answer {
                Ok(None) => {}
                Ok(Some(example)) => return Verdict::Refuted(Box::new(example)),
                Err(why) => return Verdict::Unknown(why),
            }
        }
        if matched {
            Verdict::Proved
        } else {
            // A property about nothing proves nothing: a typo in its scope
            // or condition must not pass for a proof.
            Verdict::Unknown(
                "it matches no request the schema allows; check its scope and condition".into(),
            )
        }
    }

    /// A request of `env` that both sets allow.
    async fn both(
        &mut self,
        schema: &Schema,
        env: &RequestEnv,
        first: &PolicySet,
        second: &PolicySet,
    ) -> Result<Option<Env>, String> {
        let (first, second) = (compile(first, env, schema)?, compile(second, env, schema)?);
        self.compiler
            .check_disjoint_with_counterexample_opt(&first, &second)
            .await
            .map_err(|e| e.to_string())
    }

    /// A request of `env` that `first` allows and `second` denies.
    async fn first_not_second(
        &mut self,
        schema: &Schema,
        env: &RequestEnv,
        first: &PolicySet,
        second: &PolicySet,
    ) -> Result<Option<Env>, String> {
        let (first, second) = (compile(first, env, schema)?, compile(second, env, schema)?);
        self.compiler
            .check_implies_with_counterexample_opt(&first, &second)
            .await
            .map_err(|e| e.to_string())
    }

    /// Whether a property's policy matches any request of `env` (its scope
    /// names other actions or types, or its condition never holds there).
    async fn can_match(
        &mut self,
        schema: &Schema,
        env: &RequestEnv,
        scope: &Policy,
    ) -> Result<bool, String> {
        let compiled = CompiledPolicy::compile(scope, env, schema).map_err(|e| e.to_string())?;
        let never = self
            .compiler
            .check_never_matches_opt(&compiled)
            .await
            .map_err(|e| e.to_string())?;
        Ok(!never)
    }

    /// A request on which `policy` errors (and so is skipped: a forbid that
    /// errors protects nothing).
    async fn never_errors(&mut self, schema: &Schema, policy: &Policy) -> Verdict {
        for env in schema.request_envs() {
            let compiled = match CompiledPolicy::compile(policy, &env, schema) {
                Ok(compiled) => compiled,
                Err(e) => return Verdict::Unknown(e.to_string()),
            };
            match self
                .compiler
                .check_never_errors_with_counterexample_opt(&compiled)
                .await
            {
                Ok(None) => {}
                Ok(Some(example)) => return Verdict::Refuted(Box::new(example)),
                Err(e) => return Verdict::Unknown(e.to_string()),
            }
        }
        Verdict::Proved
    }

    /// The requests `new` decides differently from `old`: one example per
    /// request environment and direction.
    pub async fn compare(
        &mut self,
        schema: &Schema,
        old: &PolicySet,
        new: &PolicySet,
    ) -> Result<Vec<Change>, VerifyError> {
        let mut changes = Vec::new();
        for env in schema.request_envs() {
            let old = compile(old, &env, schema).map_err(VerifyError::Compile)?;
            let new = compile(new, &env, schema).map_err(VerifyError::Compile)?;
            for (newly_allowed, first, second) in [(true, &new, &old), (false, &old, &new)] {
                let example = self
                    .compiler
                    .check_implies_with_counterexample_opt(first, second)
                    .await
                    .map_err(|e| VerifyError::Solver(e.to_string()))?;
                if let Some(example) = example {
                    changes.push(Change {
                        newly_allowed,
                        example: Box::new(example),
                    });
                }
            }
        }
        Ok(changes)
    }
}

fn compile(
    set: &PolicySet,
    env: &RequestEnv,
    schema: &Schema,
) -> Result<CompiledPolicySet, String> {
    CompiledPolicySet::compile(set, env, schema).map_err(|e| e.to_string())
}
