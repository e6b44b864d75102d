//! The policy set cut by action, and each action's part by what moves.
//!
//! Cedar evaluates every policy of the set it is given, building each one's
//! condition anew, though a policy whose action scope excludes the
//! request's action can never be satisfied; so each action gets the set of
//! the policies whose scope can include it, and a request is decided
//! against that, with the same outcome as the whole.
//!
//! Each action's policies are parted again: those that read the one fact
//! that moves from call to call (the credits used, [`MOVING`]) and the
//! steady rest, whose outcome for the same facts can be kept. Cedar's
//! answer on the whole is put together from the parts' ([`combine`]): a
//! satisfied forbid in any part denies, naming every satisfied forbid;
//! otherwise the satisfied permits of every part allow, or nothing does.

use super::request::MOVING;
use cedar_policy::{
    ActionConstraint, AuthorizationError, Decision, Entity, EntityUid, Policy, PolicyId, PolicySet,
    PolicySetError, Response,
};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// For each action of the schema, the policies that can apply to it.
pub struct PolicySlices {
    by_action: HashMap<String, Slice>,
}

/// The policies that can apply to one action.
pub struct Slice {
    /// All of them.
    pub all: PolicySet,
    /// Those that do not read the context's [`MOVING`] fact.
    pub steady: PolicySet,
    /// Those that do (or may: a policy reading the context whole).
    pub moving: PolicySet,
}

/// What the policies of one part say about a request.
#[derive(Debug)]
pub struct Outcome {
    /// Whether `policies` are satisfied forbids (else satisfied permits).
    forbids: bool,
    /// The satisfied forbids, or if none the satisfied permits.
    policies: Vec<PolicyId>,
    /// Evaluation errors, by policy (an erroring policy is not satisfied).
    errors: Vec<(PolicyId, String)>,
}

impl Outcome {
    /// Cedar's answer on one part: a denial that names policies names the
    /// satisfied forbids; an allow names the satisfied permits; a denial
    /// naming none had neither.
    pub fn of(response: &Response) -> Self {
        let policies: Vec<PolicyId> = response.diagnostics().reason().cloned().collect();
        Outcome {
            forbids: response.decision() == Decision::Deny && !policies.is_empty(),
            policies,
            errors: response
                .diagnostics()
                .errors()
                .map(|e| {
                    let AuthorizationError::PolicyEvaluationError(inner) = e;
                    (inner.policy_id().clone(), e.to_string())
                })
                .collect(),
        }
    }
}

/// Cedar's answer on the union of the parts: the decision, the determining
/// policies and the errors, by policy.
pub fn combine(parts: &[&Outcome]) -> (Decision, Vec<PolicyId>, Vec<(PolicyId, String)>) {
    let forbidden = parts.iter().any(|p| p.forbids);
    let policies: Vec<PolicyId> = parts
        .iter()
        .filter(|p| p.forbids == forbidden)
        .flat_map(|p| p.policies.iter().cloned())
        .collect();
    let decision = if !forbidden && !policies.is_empty() {
        Decision::Allow
    } else {
        Decision::Deny
    };
    let errors = parts
        .iter()
        .flat_map(|p| p.errors.iter().cloned())
        .collect();
    (decision, policies, errors)
}

impl PolicySlices {
    /// Cuts `policies` for each of the schema's `actions` (by id, with
    /// their groups as parents).
    pub fn new(
        policies: &PolicySet,
        actions: &HashMap<String, Entity>,
    ) -> Result<Self, Box<PolicySetError>> {
        let mut by_action = HashMap::new();
        for (id, action) in actions {
            // The schema's action entities carry every group above them.
            let (uid, _, groups) = action.clone().into_inner();
            let mut slice = Slice {
                all: PolicySet::new(),
                steady: PolicySet::new(),
                moving: PolicySet::new(),
            };
            for policy in policies.policies() {
                if applies(&policy.action_constraint(), &uid, &groups) {
                    slice.all.add(policy.clone()).map_err(Box::new)?;
                    let part = if reads_moving(policy) {
                        &mut slice.moving
                    } else {
                        &mut slice.steady
                    };
                    part.add(policy.clone()).map_err(Box::new)?;
                }
            }
            by_action.insert(id.clone(), slice);
        }
        Ok(PolicySlices { by_action })
    }

    /// The policies that can apply to the action `id`.
    pub fn for_action(&self, id: &str) -> Option<&Slice> {
        self.by_action.get(id)
    }

    /// Each action's id and slice.
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Slice)> {
        self.by_action.iter().map(|(id, s)| (id.as_str(), s))
    }
}

/// Whether a policy may read the context's [`MOVING`] fact: it names it,
/// or uses the context otherwise than through one of its other attributes
/// (compares it whole, say). A policy Cedar cannot print counts as moving.
fn reads_moving(policy: &Policy) -> bool {
    policy.to_json().map_or(true, |json| may_read_moving(&json))
}

/// Walks a policy's JSON form (Cedar's EST) for a use of the context that
/// is not `context.<attr>` or `context has <attr>` with another attribute.
/// Wherever the walk is unsure (an annotation shaped like an expression,
/// say), it answers yes.
fn may_read_moving(value: &Value) -> bool {
    match value {
        Value::Object(fields) => fields.iter().any(|(key, inner)| match key.as_str() {
            // A record literal's keys are the author's (`{ Var: ... }`):
            // only its values are expressions.
            "Record" => inner
                .as_object()
                .is_none_or(|fields| fields.values().any(may_read_moving)),
            "Var" => inner == "context",
            "." | "has" if inner["left"]["Var"] == "context" => {
                // `has` names a path: its first step is the context's.
                let attr = match &inner["attr"] {
                    Value::Array(path) => path.first(),
                    attr => Some(attr),
                };
                attr.and_then(Value::as_str).is_none_or(|a| a == MOVING)
            }
            _ => may_read_moving(inner),
        }),
        Value::Array(items) => items.iter().any(may_read_moving),
        _ => false,
    }
}

/// Whether a policy's action scope can hold for `action` in `groups`.
fn applies(scope: &ActionConstraint, action: &EntityUid, groups: &HashSet<EntityUid>) -> bool {
    match scope {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(uid) => uid == action,
        ActionConstraint::In(uids) => uids.iter().any(|u| u == action || groups.contains(u)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_slice_keeps_exactly_the_policies_whose_scope_can_hold() -> TestResult {
        let policies: PolicySet = r#"
            @id("any") permit (principal, action, resource);
            @id("eq") permit (principal, action == Action::"read", resource);
            @id("group") permit (principal, action in Action::"manage", resource);
            @id("list") forbid (principal, action in [Action::"write", Action::"read"], resource);
        "#
        .parse()?;
        let schema = cedar_policy::Schema::from_cedarschema_str(
            r#"
            entity User;
            action manage;
            action read appliesTo { principal: User, resource: User };
            action write in [manage] appliesTo { principal: User, resource: User };
            "#,
        )?
        .0;
        let actions: HashMap<String, Entity> = schema
            .action_entities()?
            .iter()
            .map(|a| (a.uid().id().unescaped().to_owned(), a.clone()))
            .collect();
        let slices = PolicySlices::new(&policies, &actions)?;
        let ids = |action: &str| -> Vec<String> {
            let mut ids: Vec<String> = slices
                .for_action(action)
                .map(|slice| {
                    slice
                        .all
                        .policies()
                        .filter_map(|p| p.annotation("id"))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            ids.sort();
            ids
        };
        assert_eq!(ids("read"), ["any", "eq", "list"]);
        assert_eq!(ids("write"), ["any", "group", "list"]);
        assert_eq!(ids("manage"), ["any", "group"]);
        assert!(slices.for_action("delete").is_none());
        Ok(())
    }

    #[test]
    fn a_policy_is_moving_when_it_may_read_the_credits_used() -> TestResult {
        let moving = |condition: &str| -> Result<bool, Box<dyn std::error::Error>> {
            let policy = Policy::parse(
                None,
                format!("permit (principal, action, resource) when {{ {condition} }};"),
            )?;
            Ok(reads_moving(&policy))
        };
        for condition in [
            "context.creditsUsed < 10",
            "context[\"creditsUsed\"] < 10",
            "context has creditsUsed",
            "context has creditsUsed.deep",
            "context == {}",
            "{ x: context }.x.creditLimit > 1",
            "{ Var: context.creditsUsed }.Var > 5",
            "{ Var: context }.Var.creditsUsed > 1",
            "{ \".\": context }[\".\"].creditsUsed > 1",
            "{ \"has\": { left: context, attr: \"creditLimit\" } }[\"has\"].left.creditsUsed > 1",
            "if true then context.creditLimit > context.creditsUsed else false",
        ] {
            assert!(moving(condition)?, "{condition}");
        }
        for condition in [
            "true",
            "context.creditLimit > 1",
            "context has creditLimit && context.creditCost > 0",
            "principal.creditsUsed > 1",
            "context.creditsUsedElsewhere > 1",
            "{ Var: context.creditLimit }.Var > 5",
        ] {
            assert!(!moving(condition)?, "{condition}");
        }
        Ok(())
    }
}
