//! The policy set cut by action. Cedar evaluates every policy of the set it
//! is given, building each one's condition anew, though a policy whose
//! action scope excludes the request's action can never be satisfied; so
//! each action gets the set of the policies whose scope can include it, and
//! a request is decided against that, with the same outcome as the whole.

use cedar_policy::{ActionConstraint, Entity, EntityUid, PolicySet, PolicySetError};
use std::collections::{HashMap, HashSet};

/// For each action of the schema, the policies that can apply to it.
pub struct PolicySlices {
    by_action: HashMap<String, PolicySet>,
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
            let mut slice = PolicySet::new();
            for policy in policies.policies() {
                if applies(&policy.action_constraint(), &uid, &groups) {
                    slice.add(policy.clone()).map_err(Box::new)?;
                }
            }
            by_action.insert(id.clone(), slice);
        }
        Ok(PolicySlices { by_action })
    }

    /// The policies that can apply to the action `id`.
    pub fn for_action(&self, id: &str) -> Option<&PolicySet> {
        self.by_action.get(id)
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
                .map(|set| {
                    set.policies()
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
}
