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
        // An `only` claim speaks of every request its scope names, even
        // where its condition cannot hold; the others of the requests it
        // matches that the engine can send.
        let about = match property.claim {
            Claim::Only => match scope_of(&property.matches) {
                Ok(scope) => set([scope]),
                Err(why) => return Verdict::Unknown(why),
            },
            Claim::Never | Claim::Always => Ok(matches_assumed.clone()),
        };
        let Ok(about) = about else {
            return Verdict::Unknown("the property's id clashes with a policy's".into());
        };
        let mut matched = false;
        for env in schema.request_envs() {
            match self.allows_any(schema, &env, &about).await {
                Ok(true) => matched = true,
                Ok(false) => continue,
                Err(why) => return Verdict::Unknown(why),
            }
            // A property that errors matches nothing where it errors, and
            // would say nothing there.
            match self.errors(schema, &env, &property.matches).await {
                Ok(None) => {}
                Ok(Some(_)) => {
                    return Verdict::Unknown(
                        "the property itself errors on some request; guard it as a policy would be"
                            .into(),
                    );
                }
                Err(why) => return Verdict::Unknown(why),
            }
            let answer = match property.claim {
                // Something the policies allow (and the engine can send)
                // that the property matches.
                Claim::Never => self.ask(schema, &env, Ask::Both, assumed, &matches).await,
                // Something it matches (and the engine can send) that the
                // policies deny.
                Claim::Always => {
                    self.ask(
                        schema,
                        &env,
                        Ask::FirstNotSecond,
                        &matches_assumed,
                        policies,
                    )
                    .await
                }
                // Something the policies allow that it does not match.
                Claim::Only => {
                    self.ask(schema, &env, Ask::FirstNotSecond, assumed, &matches)
                        .await
                }
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
                "it matches no request the schema allows (and the engine can send); check its scope and condition".into(),
            )
        }
    }

    /// A request of `env` related by `ask` to the two sets, if any.
    async fn ask(
        &mut self,
        schema: &Schema,
        env: &RequestEnv,
        ask: Ask,
        first: &PolicySet,
        second: &PolicySet,
    ) -> Result<Option<Env>, String> {
        let (first, second) = (compile(first, env, schema)?, compile(second, env, schema)?);
        let found = match ask {
            Ask::Both => {
                self.compiler
                    .check_disjoint_with_counterexample_opt(&first, &second)
                    .await
            }
            Ask::FirstNotSecond => {
                self.compiler
                    .check_implies_with_counterexample_opt(&first, &second)
                    .await
            }
        };
        found.map_err(|e| e.to_string())
    }

    /// Whether `set` allows any request of `env`.
    async fn allows_any(
        &mut self,
        schema: &Schema,
        env: &RequestEnv,
        set: &PolicySet,
    ) -> Result<bool, String> {
        let compiled = compile(set, env, schema)?;
        let never = self
            .compiler
            .check_always_denies_opt(&compiled)
            .await
            .map_err(|e| e.to_string())?;
        Ok(!never)
    }

    /// A request of `env` on which `policy` errors, if any.
    async fn errors(
        &mut self,
        schema: &Schema,
        env: &RequestEnv,
        policy: &Policy,
    ) -> Result<Option<Env>, String> {
        let compiled = CompiledPolicy::compile(policy, env, schema).map_err(|e| e.to_string())?;
        self.compiler
            .check_never_errors_with_counterexample_opt(&compiled)
            .await
            .map_err(|e| e.to_string())
    }

    /// A request on which `policy` errors (and so is skipped: a forbid that
    /// errors protects nothing).
    async fn never_errors(&mut self, schema: &Schema, policy: &Policy) -> Verdict {
        for env in schema.request_envs() {
            match self.errors(schema, &env, policy).await {
                Ok(None) => {}
                Ok(Some(example)) => return Verdict::Refuted(Box::new(example)),
                Err(why) => return Verdict::Unknown(why),
            }
        }
        Verdict::Proved
    }

    /// The requests the engine can send (under `properties`' assumptions)
    /// that `new` decides differently from `old`: one example per request
    /// environment of `schema` and direction. The old policies are read
    /// with the new schema.
    pub async fn compare(
        &mut self,
        schema: &Schema,
        old: &PolicySet,
        new: &PolicySet,
        properties: &Properties,
    ) -> Result<Vec<Change>, VerifyError> {
        let assumptions = || properties.assumptions.iter().map(|(p, _)| p.clone());
        let old = set(old.policies().cloned().chain(assumptions()))?;
        let new = set(new.policies().cloned().chain(assumptions()))?;
        let mut changes = Vec::new();
        for env in schema.request_envs() {
            let old = compile(&old, &env, schema).map_err(|e| {
                VerifyError::Compile(format!("the earlier policies under this schema: {e}"))
            })?;
            let new = compile(&new, &env, schema).map_err(VerifyError::Compile)?;
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

/// What the two sets are asked.
#[derive(Clone, Copy)]
enum Ask {
    /// A request both allow.
    Both,
    /// A request the first allows and the second denies.
    FirstNotSecond,
}

/// `policy` with its scope and no condition: the requests it speaks of.
fn scope_of(policy: &Policy) -> Result<Policy, String> {
    let mut json = policy.to_json().map_err(|e| e.to_string())?;
    if let Some(object) = json.as_object_mut() {
        object.insert("conditions".into(), serde_json::Value::Array(Vec::new()));
    }
    Policy::from_json(Some(policy.id().clone()), json).map_err(|e| e.to_string())
}

fn compile(
    set: &PolicySet,
    env: &RequestEnv,
    schema: &Schema,
) -> Result<CompiledPolicySet, String> {
    CompiledPolicySet::compile(set, env, schema).map_err(|e| e.to_string())
}
