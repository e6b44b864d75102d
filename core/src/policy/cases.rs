//! Decision test cases in the JSON format of the Cedar CLI's `run-tests`
//! (name, request, entities, expected decision, determining policies,
//! number of errors), checked the way the CLI checks them, and `explain`.

use super::PolicyBundle;
use cedar_policy::{Authorizer, Context, Entities, EntityUid, PolicyId, Request, Response};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct RequestJson {
    principal: String,
    action: String,
    resource: String,
    #[serde(default)]
    context: serde_json::Value,
}

#[derive(Deserialize)]
struct Case {
    #[serde(default)]
    name: Option<String>,
    request: RequestJson,
    entities: serde_json::Value,
    decision: Option<Expected>,
    #[serde(default)]
    reason: Vec<String>,
    #[serde(default)]
    num_errors: usize,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum Expected {
    Allow,
    Deny,
}

/// Why a case or a request could not be decided, or the cases not read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaseError {
    /// An entity uid of the request does not parse.
    #[error("failed to parse {what} `{text}`: {source}")]
    Uid {
        /// `principal`, `action` or `resource`.
        what: &'static str,
        /// The uid as written.
        text: String,
        /// Cedar's parse errors.
        source: Box<cedar_policy::ParseErrors>,
    },
    /// The context does not fit the action's schema.
    #[error("failed to parse context: {0}")]
    Context(#[source] Box<cedar_policy::ContextJsonError>),
    /// The request does not fit the schema.
    #[error("failed to create request: {0}")]
    Request(#[source] Box<cedar_policy::RequestValidationError>),
    /// The entities do not fit the schema.
    #[error("failed to parse entities: {0}")]
    Entities(#[source] Box<cedar_policy::entities_errors::EntitiesError>),
    /// The input is not a request in the cases' format.
    #[error("malformed request: {0}")]
    Malformed(#[source] serde_json::Error),
    /// A directory or case file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// What could not be read.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A case file is not a JSON array of cases.
    #[error("{}: not a JSON array of cases: {source}", path.display())]
    NotCases {
        /// The file.
        path: PathBuf,
        /// What the JSON parser said.
        source: serde_json::Error,
    },
}

/// One case's result.
#[derive(Debug, Clone)]
pub struct CaseOutcome {
    /// The case file it is in.
    pub file: PathBuf,
    /// The case's `name`, or `case N` (its place in the file, from 1) when it
    /// has none.
    pub name: String,
    /// Why it failed; `None` when it passed.
    pub failure: Option<String>,
}

/// What `explain` says about one request.
#[derive(Debug, Serialize)]
pub struct Explanation {
    /// `allow` or `deny`.
    pub decision: &'static str,
    /// The `@id`s of the determining policies.
    pub policies: Vec<String>,
    /// Their `@reason`s, as written (placeholders unfilled).
    pub reasons: Vec<String>,
    /// Evaluation errors, as Cedar reports them.
    pub errors: Vec<String>,
}

/// A case's request and entities, and its action's id.
fn prepare(bundle: &PolicyBundle, case: &Case) -> Result<(Request, Entities, String), CaseError> {
    let schema = &bundle.schema;
    let r = &case.request;
    let parse = |what: &'static str, text: &str| {
        text.parse::<EntityUid>().map_err(|source| CaseError::Uid {
            what,
            text: text.to_owned(),
            source: Box::new(source),
        })
    };
    let principal = parse("principal", &r.principal)?;
    let action = parse("action", &r.action)?;
    let resource = parse("resource", &r.resource)?;
    let context_json = if r.context.is_null() {
        serde_json::json!({})
    } else {
        r.context.clone()
    };
    let context = Context::from_json_value(context_json, Some((schema, &action)))
        .map_err(|e| CaseError::Context(Box::new(e)))?;
    let action_id = action.id().unescaped().to_owned();
    let request = Request::new(principal, action, resource, context, Some(schema))
        .map_err(|e| CaseError::Request(Box::new(e)))?;
    let entities = Entities::from_json_value(case.entities.clone(), Some(schema))
        .map_err(|e| CaseError::Entities(Box::new(e)))?;
    Ok((request, entities, action_id))
}

/// Decides a case as the engine decides: against the policies that can
/// apply to its action.
fn authorize(bundle: &PolicyBundle, case: &Case) -> Result<Response, CaseError> {
    let (request, entities, action) = prepare(bundle, case)?;
    Ok(Authorizer::new().is_authorized(&request, bundle.policies_for(&action), &entities))
}

/// Checks a case as `cedar run-tests` does: the decision, that the expected
/// policies are among the determining ones, and the number of errors.
fn check(bundle: &PolicyBundle, case: &Case) -> Option<String> {
    let response = match authorize(bundle, case) {
        Ok(r) => r,
        Err(e) => return Some(e.to_string()),
    };
    let decision = match response.decision() {
        cedar_policy::Decision::Allow => Expected::Allow,
        cedar_policy::Decision::Deny => Expected::Deny,
    };
    let Some(expected) = case.decision else {
        return Some("the case has no expected `decision`".into());
    };
    if decision != expected {
        return Some(format!(
            "expected {expected:?}, got {decision:?} (determining: {})",
            determining(&response).join(", ")
        ));
    }
    let reasons: BTreeSet<PolicyId> = response.diagnostics().reason().cloned().collect();
    let mut faults = Vec::new();
    let missing: Vec<String> = case
        .reason
        .iter()
        .filter(|r| !reasons.contains(&PolicyId::new(r.as_str())))
        .map(|r| format!("`{r}`"))
        .collect();
    if !missing.is_empty() {
        faults.push(format!(
            "missing reason(s): {} (determining: {})",
            missing.join(", "),
            determining(&response).join(", ")
        ));
    }
    let errors = response.diagnostics().errors().count();
    if errors != case.num_errors {
        faults.push(format!(
            "expected {} error(s), got {errors}",
            case.num_errors
        ));
    }
    (!faults.is_empty()).then(|| faults.join("; "))
}

fn determining(response: &Response) -> Vec<String> {
    response
        .diagnostics()
        .reason()
        .map(ToString::to_string)
        .collect()
}

/// The cases of every `*.json` file in `dir`, in name order, unparsed.
fn case_files(dir: &Path) -> Result<Vec<(PathBuf, Vec<serde_json::Value>)>, CaseError> {
    let unreadable = |path: &Path| {
        let path = path.to_owned();
        move |source| CaseError::Read { path, source }
    };
    let entries = std::fs::read_dir(dir).map_err(unreadable(dir))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).map_err(unreadable(&file))?;
            let cases = serde_json::from_str(&text).map_err(|source| CaseError::NotCases {
                path: file.clone(),
                source,
            })?;
            Ok((file, cases))
        })
        .collect()
}

/// Runs every case of every `*.json` file in `dir`, in name order.
pub fn run_dir(bundle: &PolicyBundle, dir: &Path) -> Result<Vec<CaseOutcome>, CaseError> {
    let mut outcomes = Vec::new();
    for (file, cases) in case_files(dir)? {
        for (index, value) in cases.into_iter().enumerate() {
            let fallback = format!("case {}", index + 1);
            let (name, failure) = match serde_json::from_value::<Case>(value) {
                Ok(case) => (case.name.clone().unwrap_or(fallback), check(bundle, &case)),
                Err(e) => (fallback, Some(format!("malformed case: {e}"))),
            };
            outcomes.push(CaseOutcome {
                file: file.clone(),
                name,
                failure,
            });
        }
    }
    Ok(outcomes)
}

/// Decides one request (`{"request": ..., "entities": [...]}`) and says why.
pub fn explain(bundle: &PolicyBundle, input: serde_json::Value) -> Result<Explanation, CaseError> {
    let case: Case = serde_json::from_value(input).map_err(CaseError::Malformed)?;
    Ok(explained(bundle, &authorize(bundle, &case)?))
}

/// Decides a request already built (say, a verifier's counterexample)
/// against the whole set, and says why, as [`explain`] does.
pub fn explain_request(
    bundle: &PolicyBundle,
    request: &Request,
    entities: &Entities,
) -> Explanation {
    explained(
        bundle,
        &Authorizer::new().is_authorized(request, &bundle.policies, entities),
    )
}

fn explained(bundle: &PolicyBundle, response: &Response) -> Explanation {
    let policies = determining(response);
    let reasons = response
        .diagnostics()
        .reason()
        .filter_map(|id| bundle.reasons.get(id).cloned())
        .collect();
    Explanation {
        decision: match response.decision() {
            cedar_policy::Decision::Allow => "allow",
            cedar_policy::Decision::Deny => "deny",
        },
        policies,
        reasons,
        errors: response
            .diagnostics()
            .errors()
            .map(|e| e.to_string())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// What a person could tell apart in two answers.
    fn outcome(response: &Response) -> (cedar_policy::Decision, BTreeSet<PolicyId>, Vec<String>) {
        (
            response.decision(),
            response.diagnostics().reason().cloned().collect(),
            response
                .diagnostics()
                .errors()
                .map(ToString::to_string)
                .collect(),
        )
    }

    #[test]
    fn every_case_is_decided_by_its_actions_slice_and_its_parts_as_by_the_whole_set() -> TestResult
    {
        let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
        let bundle = super::super::load(&policies)?;
        let mut compared = 0;
        for (file, cases) in case_files(&policies.join("tests"))? {
            for value in cases {
                let case: Case = serde_json::from_value(value)?;
                let (request, entities, action) = prepare(&bundle, &case)?;
                let authorizer = Authorizer::new();
                let whole = authorizer.is_authorized(&request, &bundle.policies, &entities);
                let sliced =
                    authorizer.is_authorized(&request, bundle.policies_for(&action), &entities);
                assert_eq!(
                    outcome(&sliced),
                    outcome(&whole),
                    "{}: {:?}",
                    file.display(),
                    case.name
                );
                // And put together from its steady and moving parts.
                let slice = bundle.slices.for_action(&action).ok_or("no slice")?;
                let part = |set| {
                    super::super::slices::Outcome::of(
                        &authorizer.is_authorized(&request, set, &entities),
                    )
                };
                let (decision, policies, errors) =
                    super::super::slices::combine(&[&part(&slice.steady), &part(&slice.moving)]);
                let mut errors: Vec<String> = errors.into_iter().map(|(_, e)| e).collect();
                let (_, _, mut whole_errors) = outcome(&whole);
                errors.sort();
                whole_errors.sort();
                assert_eq!(
                    (decision, policies.into_iter().collect(), errors),
                    (whole.decision(), outcome(&whole).1, whole_errors),
                    "{}: {:?}, in parts",
                    file.display(),
                    case.name
                );
                compared += 1;
            }
        }
        assert!(compared >= 50, "only {compared} cases found");
        // Only the credit limit reads what moves, and calls only ask it.
        for (action, slice) in bundle.slices.iter() {
            let moving: Vec<&str> = slice
                .moving
                .policies()
                .filter_map(|p| p.annotation("id"))
                .collect();
            let expected: &[&str] = if action == "invoke" {
                &["credit-limit"]
            } else {
                &[]
            };
            assert_eq!(moving, expected, "{action}");
        }
        Ok(())
    }
}
