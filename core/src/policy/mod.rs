//! Every decision about who may do what, made by the Cedar policies in the
//! policy directory. The set in force is swapped atomically on reload, so
//! deciding takes no lock; a set that fails validation is refused and the
//! last good one stays in force.

pub mod cases;
mod load;
mod request;
mod slices;

use arc_swap::ArcSwap;
use cedar_policy::{Authorizer, PolicyId};
pub use load::{PolicyBundle, PolicyFault, PolicyLoadError, SCHEMA_FILE, load};
pub use request::{BuildError, ConnectionFacts, IntegrationFacts, Operation, Query, Target};
use serde::Serialize;
use slices::Outcome;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The answer to a [`Query`], with what decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Decision {
    /// Whether it is allowed: Cedar allowed it and no evaluation error
    /// occurred.
    pub allowed: bool,
    /// The `@id`s of the policies that determined the decision.
    pub policies: Vec<String>,
    /// For a denial: what the person reads (the forbid's `@reason`).
    pub reason: Option<String>,
    /// Evaluation errors; any error makes the decision a denial.
    pub errors: Vec<String>,
}

/// Shown when no permit applies and no forbid said why.
const NOT_PERMITTED: &str = "You are not permitted to do that";

/// The policies in force, reloadable.
pub struct Policies {
    dir: PathBuf,
    current: ArcSwap<PolicyBundle>,
    authorizer: Authorizer,
    /// How many recent answers each set keeps.
    kept: usize,
}

/// The shortest period at which the policy directory is checked.
const MIN_WATCH_PERIOD: Duration = Duration::from_millis(10);

impl Policies {
    /// Loads the directory; refuses to start on an invalid set.
    pub fn load(dir: &Path) -> Result<Self, PolicyLoadError> {
        Self::load_keeping(dir, crate::kept::DEFAULT_CAPACITY)
    }

    /// [`Policies::load`], keeping up to `kept` recent entity sets and
    /// steady outcomes (0: every policy is evaluated afresh).
    pub fn load_keeping(dir: &Path, kept: usize) -> Result<Self, PolicyLoadError> {
        let bundle = load::load_keeping(dir, kept)?;
        Ok(Policies {
            dir: dir.to_owned(),
            current: ArcSwap::from_pointee(bundle),
            authorizer: Authorizer::new(),
            kept,
        })
    }

    /// The policy directory the set is read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The set in force.
    pub fn current(&self) -> Arc<PolicyBundle> {
        self.current.load_full()
    }

    /// Re-reads the directory. An invalid set is refused and the one in
    /// force stays; says how many policies are now in force.
    pub fn reload(&self) -> Result<usize, PolicyLoadError> {
        let bundle = load::load_keeping(&self.dir, self.kept)?;
        let count = bundle.policies.policies().count();
        self.current.store(Arc::new(bundle));
        tracing::info!(dir = %self.dir.display(), policies = count, "policies reloaded");
        Ok(count)
    }

    /// Reloads whenever the directory's files change, until `policies` is
    /// dropped. Refusals are logged; the last good set stays in force.
    pub fn watch(policies: &Arc<Policies>, every: Duration) {
        let weak = Arc::downgrade(policies);
        // A zero period would make tokio's interval panic.
        let every = every.max(MIN_WATCH_PERIOD);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            loop {
                ticker.tick().await;
                let Some(policies) = weak.upgrade() else {
                    break;
                };
                let seen = policies.current.load().fingerprint;
                if load::fingerprint(&policies.dir).is_some_and(|now| now != seen)
                    && let Err(e) = policies.reload()
                {
                    tracing::error!("{e}");
                }
            }
        });
    }

    /// The Cedar request and entities a query becomes under the set in
    /// force (what `decide` evaluates; for explaining and benchmarking).
    pub fn cedar_request(
        &self,
        query: &Query<'_>,
    ) -> Result<(cedar_policy::Request, cedar_policy::Entities), BuildError> {
        let bundle = self.current.load();
        let built = request::build(query, &bundle.actions, &bundle.kept)?;
        Ok((built.request, (*built.entities).clone()))
    }

    /// Decides a query against the set in force.
    pub fn decide(&self, query: &Query<'_>) -> Result<Decision, BuildError> {
        let bundle = self.current.load();
        let action = query.operation.action_id();
        let slice = bundle
            .slices
            .for_action(action)
            .ok_or_else(|| BuildError::no_action(action))?;
        // Built at most once, and not at all when the steady outcome was
        // kept and no policy reads what moves.
        let mut built = None;
        let mut evaluate = |part: &cedar_policy::PolicySet| -> Result<Outcome, BuildError> {
            let built = match &mut built {
                Some(built) => built,
                empty => empty.insert(request::build(query, &bundle.actions, &bundle.kept)?),
            };
            Ok(Outcome::of(&self.authorizer.is_authorized(
                &built.request,
                part,
                &built.entities,
            )))
        };
        let steady = bundle.kept.steady(query, || evaluate(&slice.steady))?;
        let moving = if slice.moving.is_empty() {
            None
        } else {
            Some(evaluate(&slice.moving)?)
        };
        let parts: Vec<&Outcome> = std::iter::once(&*steady).chain(moving.as_ref()).collect();
        let (verdict, mut policies, mut errors) = slices::combine(&parts);
        // Cedar gives them as a set: order them as they stand in the files.
        let place = |id: &PolicyId| {
            bundle
                .precedence
                .get(id)
                .copied()
                .unwrap_or((usize::MAX, usize::MAX))
        };
        policies.sort_by_key(|id| place(id));
        errors.sort_by_key(|(id, _)| place(id));
        let errors: Vec<String> = errors.into_iter().map(|(_, error)| error).collect();
        let allowed = verdict == cedar_policy::Decision::Allow && errors.is_empty();
        let reason = (!allowed).then(|| denial_reason(&bundle, &policies, &errors, query));
        Ok(Decision {
            allowed,
            policies: policies.iter().map(ToString::to_string).collect(),
            reason,
            errors,
        })
    }
}

fn denial_reason(
    bundle: &PolicyBundle,
    policies: &[PolicyId],
    errors: &[String],
    query: &Query<'_>,
) -> String {
    if !errors.is_empty() {
        return format!(
            "The policies could not decide this request ({})",
            errors.join("; ")
        );
    }
    policies
        .iter()
        .find_map(|id| bundle.reasons.get(id))
        .map(|template| fill(template, query))
        .unwrap_or_else(|| NOT_PERMITTED.to_owned())
}

/// Replaces `{name}` in a reason with the query's value for it.
fn fill(template: &str, query: &Query<'_>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after
            .find('}')
            .and_then(|close| query.reason_value(&after[..close]).map(|v| (close, v)))
        {
            Some((close, value)) => {
                out.push_str(&value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}
