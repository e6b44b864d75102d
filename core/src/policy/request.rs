//! Cedar requests built from the engine's own types: entities, context and
//! the request itself, never parsed from strings pasted together.

use crate::model::{Actor, IntegrationId, Mode, Role, UserId, WorkspaceId};
use cedar_policy::{
    Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request, RestrictedExpression,
    Schema,
};
use std::collections::{HashMap, HashSet};

const NAMESPACE: &str = "Switchboard";

/// What the actor asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation<'a> {
    ViewTeamIntegrations,
    ViewUsage,
    ViewAudit,
    Enable {
        mode: Mode,
    },
    Disable,
    ConfigureWorkspaceCredential,
    ViewIntegrations,
    Connect,
    ViewConnection,
    Disconnect,
    Invoke {
        action: &'a str,
        credit_cost: u32,
        credits_used: u64,
        credit_limit: Option<u64>,
    },
}

impl Operation<'_> {
    /// The Cedar action's id.
    pub fn action_id(&self) -> &'static str {
        match self {
            Operation::ViewTeamIntegrations => "viewTeamIntegrations",
            Operation::ViewUsage => "viewUsage",
            Operation::ViewAudit => "viewAudit",
            Operation::Enable { .. } => "enableIntegration",
            Operation::Disable => "disableIntegration",
            Operation::ConfigureWorkspaceCredential => "configureWorkspaceCredential",
            Operation::ViewIntegrations => "viewIntegrations",
            Operation::Connect => "connect",
            Operation::ViewConnection => "viewConnection",
            Operation::Disconnect => "disconnect",
            Operation::Invoke { .. } => "invoke",
        }
    }
}

/// An integration as it stands in the actor's workspace.
#[derive(Debug, Clone, Copy)]
pub struct IntegrationFacts<'a> {
    pub id: &'a IntegrationId,
    /// Shown in reasons, e.g. `Semrush`.
    pub name: &'a str,
    pub supported: &'a [Mode],
    /// The enabled mode, if enabled.
    pub active: Option<Mode>,
}

/// A personal connection, wherever it belongs.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionFacts<'a> {
    pub id: &'a str,
    pub workspace: &'a WorkspaceId,
    pub integration: IntegrationFacts<'a>,
    pub owner: &'a UserId,
}

/// What the operation is about.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Workspace,
    Integration(IntegrationFacts<'a>),
    Connection(ConnectionFacts<'a>),
}

/// One question for the policies.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub actor: &'a Actor,
    pub operation: Operation<'a>,
    pub target: Target<'a>,
}

impl Query<'_> {
    /// Values a `@reason` may name as `{name}`.
    pub fn reason_value(&self, name: &str) -> Option<String> {
        let integration = match self.target {
            Target::Integration(i) => Some(i),
            Target::Connection(c) => Some(c.integration),
            Target::Workspace => None,
        };
        match name {
            "integration" => integration.map(|i| i.name.to_owned()),
            "activeMode" => integration.and_then(|i| i.active).map(|m| m.to_string()),
            "mode" => match self.operation {
                Operation::Enable { mode } => Some(mode.to_string()),
                _ => None,
            },
            "creditLimit" => match self.operation {
                Operation::Invoke { credit_limit, .. } => credit_limit.map(|l| l.to_string()),
                _ => None,
            },
            "action" => match self.operation {
                Operation::Invoke { action, .. } => Some(action.to_owned()),
                _ => None,
            },
            "role" => Some(role_id(self.actor.role).to_owned()),
            "plan" => Some(self.actor.plan.clone()),
            _ => None,
        }
    }
}

/// A Cedar request and the entities it needs.
pub struct Built {
    pub request: Request,
    pub entities: Entities,
}

#[derive(Debug, thiserror::Error)]
#[error("could not build the authorization request: {0}")]
pub struct BuildError(String);

fn err(e: impl std::fmt::Display) -> BuildError {
    BuildError(e.to_string())
}

fn uid(kind: &str, id: &str) -> Result<EntityUid, BuildError> {
    let name: EntityTypeName = format!("{NAMESPACE}::{kind}").parse().map_err(err)?;
    Ok(EntityUid::from_type_name_and_id(name, EntityId::new(id)))
}

fn role_id(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Developer => "developer",
        Role::Member => "member",
    }
}

fn mode_uid(mode: Mode) -> Result<EntityUid, BuildError> {
    uid("Mode", &mode.to_string())
}

fn integration_uid(
    workspace: &WorkspaceId,
    integration: &IntegrationId,
) -> Result<EntityUid, BuildError> {
    uid("Integration", &format!("{workspace}/{integration}"))
}

fn long(n: u64) -> RestrictedExpression {
    RestrictedExpression::new_long(i64::try_from(n).unwrap_or(i64::MAX))
}

fn integration_entity(
    workspace: &WorkspaceId,
    facts: &IntegrationFacts<'_>,
) -> Result<(EntityUid, Entity), BuildError> {
    let workspace_uid = uid("Workspace", workspace.as_str())?;
    let id = integration_uid(workspace, facts.id)?;
    let modes = facts
        .supported
        .iter()
        .map(|m| mode_uid(*m).map(RestrictedExpression::new_entity_uid))
        .collect::<Result<Vec<_>, _>>()?;
    let mut attrs = HashMap::from([
        (
            "workspace".to_owned(),
            RestrictedExpression::new_entity_uid(workspace_uid.clone()),
        ),
        (
            "name".to_owned(),
            RestrictedExpression::new_string(facts.name.to_owned()),
        ),
        (
            "supportedModes".to_owned(),
            RestrictedExpression::new_set(modes),
        ),
        (
            "enabled".to_owned(),
            RestrictedExpression::new_bool(facts.active.is_some()),
        ),
    ]);
    if let Some(mode) = facts.active {
        attrs.insert(
            "activeMode".to_owned(),
            RestrictedExpression::new_entity_uid(mode_uid(mode)?),
        );
    }
    let entity = Entity::new(id.clone(), attrs, HashSet::from([workspace_uid])).map_err(err)?;
    Ok((id, entity))
}

/// Builds the request, validated against the schema.
pub fn build(query: &Query<'_>, schema: &Schema) -> Result<Built, BuildError> {
    let actor = query.actor;
    let workspace_uid = uid("Workspace", actor.workspace.as_str())?;
    let principal = uid("User", actor.user.as_str())?;
    let mut entities = vec![
        Entity::new(
            workspace_uid.clone(),
            HashMap::from([(
                "plan".to_owned(),
                RestrictedExpression::new_string(actor.plan.clone()),
            )]),
            HashSet::new(),
        )
        .map_err(err)?,
        Entity::new(
            principal.clone(),
            HashMap::from([
                (
                    "role".to_owned(),
                    RestrictedExpression::new_entity_uid(uid("Role", role_id(actor.role))?),
                ),
                (
                    "workspace".to_owned(),
                    RestrictedExpression::new_entity_uid(workspace_uid.clone()),
                ),
            ]),
            HashSet::from([workspace_uid.clone()]),
        )
        .map_err(err)?,
    ];
    let resource = match query.target {
        Target::Workspace => workspace_uid,
        Target::Integration(facts) => {
            let (id, entity) = integration_entity(&actor.workspace, &facts)?;
            entities.push(entity);
            id
        }
        Target::Connection(c) => {
            let (integration, integration_entity) =
                integration_entity(c.workspace, &c.integration)?;
            let owner_workspace = uid("Workspace", c.workspace.as_str())?;
            let id = uid("Connection", c.id)?;
            let attrs = HashMap::from([
                (
                    "workspace".to_owned(),
                    RestrictedExpression::new_entity_uid(owner_workspace.clone()),
                ),
                (
                    "integration".to_owned(),
                    RestrictedExpression::new_entity_uid(integration.clone()),
                ),
                (
                    "owner".to_owned(),
                    RestrictedExpression::new_entity_uid(uid("User", c.owner.as_str())?),
                ),
            ]);
            entities.push(
                Entity::new(
                    id.clone(),
                    attrs,
                    HashSet::from([integration, owner_workspace]),
                )
                .map_err(err)?,
            );
            // Its integration, so policies can read how it stands.
            entities.push(integration_entity);
            id
        }
    };
    let context = match query.operation {
        Operation::Enable { mode } => Context::from_pairs([(
            "mode".to_owned(),
            RestrictedExpression::new_entity_uid(mode_uid(mode)?),
        )]),
        Operation::Invoke {
            action,
            credit_cost,
            credits_used,
            credit_limit,
        } => {
            let mut pairs = vec![
                (
                    "action".to_owned(),
                    RestrictedExpression::new_string(action.to_owned()),
                ),
                ("creditCost".to_owned(), long(u64::from(credit_cost))),
                ("creditsUsed".to_owned(), long(credits_used)),
            ];
            if let Some(limit) = credit_limit {
                pairs.push(("creditLimit".to_owned(), long(limit)));
            }
            Context::from_pairs(pairs)
        }
        _ => Ok(Context::empty()),
    }
    .map_err(err)?;
    let action = uid("Action", query.operation.action_id())?;
    let request = Request::new(principal, action, resource, context, Some(schema)).map_err(err)?;
    let entities = Entities::from_entities(entities, Some(schema)).map_err(err)?;
    Ok(Built { request, entities })
}
