//! Cedar requests built from the engine's own types: entities, context and
//! the request itself, never parsed from strings pasted together.

use super::slices::Outcome;
use crate::kept::{Kept, push_part};
use crate::model::{Actor, IntegrationId, Mode, Role, UserId, WorkspaceId};
use cedar_policy::{
    Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request, RestrictedExpression,
    Schema,
};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};

const NAMESPACE: &str = "Switchboard";

/// The context attribute that moves from call to call: the credits the
/// workspace has used. The policies that read it are decided every time;
/// what the others decide is kept for the same facts.
pub const MOVING: &str = "creditsUsed";

/// What the actor asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation<'a> {
    /// Open the Team Integrations page (`viewTeamIntegrations`).
    ViewTeamIntegrations,
    /// Read the usage report (`viewUsage`).
    ViewUsage,
    /// Read the audit trail (`viewAudit`).
    ViewAudit,
    /// Enable an integration (`enableIntegration`).
    Enable {
        /// The mode asked for.
        mode: Mode,
    },
    /// Disable an integration (`disableIntegration`).
    Disable,
    /// Set, check or remove a shared credential
    /// (`configureWorkspaceCredential`).
    ConfigureWorkspaceCredential,
    /// Open the Integrations page (`viewIntegrations`).
    ViewIntegrations,
    /// Connect a personal account (`connect`).
    Connect,
    /// Read a personal connection (`viewConnection`).
    ViewConnection,
    /// Remove a personal connection (`disconnect`).
    Disconnect,
    /// Run one of an integration's actions (`invoke`).
    Invoke {
        /// The action's name.
        action: &'a str,
        /// Credits this call costs.
        credit_cost: u32,
        /// Credits the workspace has used this month (UTC), pending usage
        /// included.
        credits_used: u64,
        /// The workspace's monthly credit limit; `None` for no limit.
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
    /// The integration's id.
    pub id: &'a IntegrationId,
    /// Shown in reasons, e.g. `Semrush`.
    pub name: &'a str,
    /// The modes its manifest supports.
    pub supported: &'a [Mode],
    /// The enabled mode, if enabled.
    pub active: Option<Mode>,
}

/// A personal connection, wherever it belongs.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionFacts<'a> {
    /// The connection's id.
    pub id: &'a str,
    /// The workspace it belongs to (not necessarily the actor's).
    pub workspace: &'a WorkspaceId,
    /// Its integration, as it stands in that workspace.
    pub integration: IntegrationFacts<'a>,
    /// The member whose connection it is.
    pub owner: &'a UserId,
}

/// What the operation is about.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// The actor's own workspace (its pages, usage and audit trail).
    Workspace,
    /// An integration in the actor's workspace.
    Integration(IntegrationFacts<'a>),
    /// A personal connection, whoever it belongs to.
    Connection(ConnectionFacts<'a>),
}

/// One question for the policies.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// Who asks.
    pub actor: &'a Actor,
    /// What they ask to do.
    pub operation: Operation<'a>,
    /// What it is about.
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
            "role" => Some(self.actor.role.to_string()),
            "plan" => Some(self.actor.plan.clone()),
            _ => None,
        }
    }
}

/// A Cedar request and the entities it needs.
pub struct Built {
    pub request: Request,
    pub entities: Arc<Entities>,
}

/// The schema does not describe a request the engine makes.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the schema does not describe the `{action}` request the engine makes: {reason}")]
pub struct SchemaMismatch {
    /// The action of the request.
    pub action: &'static str,
    /// What Cedar found wrong, with its causes.
    pub reason: String,
}

/// A query could not be turned into a Cedar request (a fault of the engine or
/// the schema, not a denial).
#[derive(Debug, Clone, thiserror::Error)]
#[error("could not build the authorization request: {0}")]
pub struct BuildError(String);

impl BuildError {
    /// The schema declares no action by this id.
    pub(super) fn no_action(id: &str) -> Self {
        BuildError(format!("the schema has no action `{id}`"))
    }
}

fn err(e: impl std::fmt::Display) -> BuildError {
    BuildError(e.to_string())
}

/// The entity types of the schema's namespace, parsed once: parsing a
/// name runs Cedar's parser, far too slow to do per request.
struct Types {
    user: EntityTypeName,
    workspace: EntityTypeName,
    integration: EntityTypeName,
    connection: EntityTypeName,
    role: EntityTypeName,
    mode: EntityTypeName,
    action: EntityTypeName,
}

fn types() -> Result<&'static Types, BuildError> {
    static TYPES: LazyLock<Result<Types, BuildError>> = LazyLock::new(|| {
        let name = |kind: &str| {
            format!("{NAMESPACE}::{kind}")
                .parse::<EntityTypeName>()
                .map_err(err)
        };
        Ok(Types {
            user: name("User")?,
            workspace: name("Workspace")?,
            integration: name("Integration")?,
            connection: name("Connection")?,
            role: name("Role")?,
            mode: name("Mode")?,
            action: name("Action")?,
        })
    });
    TYPES.as_ref().map_err(Clone::clone)
}

fn uid(kind: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(kind.clone(), EntityId::new(id))
}

fn long(n: u64) -> RestrictedExpression {
    RestrictedExpression::new_long(i64::try_from(n).unwrap_or(i64::MAX))
}

fn entity_ref(id: EntityUid) -> RestrictedExpression {
    RestrictedExpression::new_entity_uid(id)
}

fn integration_uid(
    types: &Types,
    workspace: &WorkspaceId,
    facts: &IntegrationFacts<'_>,
) -> EntityUid {
    uid(
        &types.integration,
        &format!("{workspace}/{}", facts.id.as_str()),
    )
}

fn integration_entity(
    types: &Types,
    workspace: &WorkspaceId,
    facts: &IntegrationFacts<'_>,
) -> Result<Entity, BuildError> {
    let workspace_uid = uid(&types.workspace, workspace.as_str());
    let modes = facts
        .supported
        .iter()
        .map(|m| entity_ref(uid(&types.mode, m.as_str())));
    let mut attrs = HashMap::from([
        ("workspace".to_owned(), entity_ref(workspace_uid.clone())),
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
            entity_ref(uid(&types.mode, mode.as_str())),
        );
    }
    Entity::new(
        integration_uid(types, workspace, facts),
        attrs,
        HashSet::from([workspace_uid]),
    )
    .map_err(err)
}

/// The principal, action, resource and context of a query.
fn request_parts(
    query: &Query<'_>,
    types: &Types,
) -> Result<(EntityUid, EntityUid, EntityUid, Context), BuildError> {
    let actor = query.actor;
    let resource = match query.target {
        Target::Workspace => uid(&types.workspace, actor.workspace.as_str()),
        Target::Integration(facts) => integration_uid(types, &actor.workspace, &facts),
        Target::Connection(c) => uid(&types.connection, c.id),
    };
    let context = match query.operation {
        Operation::Enable { mode } => Context::from_pairs([(
            "mode".to_owned(),
            entity_ref(uid(&types.mode, mode.as_str())),
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
                (MOVING.to_owned(), long(credits_used)),
            ];
            if let Some(limit) = credit_limit {
                pairs.push(("creditLimit".to_owned(), long(limit)));
            }
            Context::from_pairs(pairs)
        }
        _ => Ok(Context::empty()),
    }
    .map_err(err)?;
    Ok((
        uid(&types.user, actor.user.as_str()),
        uid(&types.action, query.operation.action_id()),
        resource,
        context,
    ))
}

/// The entities a query's policies may read: the actor, their workspace,
/// and the integration or connection it is about (without the action).
fn entities(query: &Query<'_>, types: &Types) -> Result<Vec<Entity>, BuildError> {
    let actor = query.actor;
    let workspace_uid = uid(&types.workspace, actor.workspace.as_str());
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
            uid(&types.user, actor.user.as_str()),
            HashMap::from([
                (
                    "role".to_owned(),
                    entity_ref(uid(&types.role, actor.role.as_str())),
                ),
                ("workspace".to_owned(), entity_ref(workspace_uid.clone())),
            ]),
            HashSet::from([workspace_uid]),
        )
        .map_err(err)?,
    ];
    match query.target {
        Target::Workspace => {}
        Target::Integration(facts) => {
            entities.push(integration_entity(types, &actor.workspace, &facts)?)
        }
        Target::Connection(c) => {
            let owner_workspace = uid(&types.workspace, c.workspace.as_str());
            let integration = integration_uid(types, c.workspace, &c.integration);
            let attrs = HashMap::from([
                ("workspace".to_owned(), entity_ref(owner_workspace.clone())),
                ("integration".to_owned(), entity_ref(integration.clone())),
                (
                    "owner".to_owned(),
                    entity_ref(uid(&types.user, c.owner.as_str())),
                ),
            ]);
            entities.push(
                Entity::new(
                    uid(&types.connection, c.id),
                    attrs,
                    HashSet::from([integration, owner_workspace]),
                )
                .map_err(err)?,
            );
            // Its integration, so policies can read how it stands.
            entities.push(integration_entity(types, c.workspace, &c.integration)?);
        }
    }
    Ok(entities)
}

/// Recent answers under one policy set, keyed by every fact they were
/// made from, so they are never stale; one set per policy set, because
/// each request carries its action's entity from the schema and an outcome
/// is the set's. Building entities costs Cedar more than deciding on them,
/// and a page asks about the same actor and integration again and again.
pub struct KeptAnswers {
    entities: Kept<Vec<u8>, Arc<Entities>>,
    steady: Kept<Vec<u8>, Arc<Outcome>>,
}

impl KeptAnswers {
    /// Keeps up to `capacity` of each (0: none).
    pub fn new(capacity: usize) -> Self {
        KeptAnswers {
            entities: Kept::new(capacity),
            steady: Kept::new(capacity),
        }
    }

    /// What the steady policies (those that do not read [`MOVING`]) said
    /// about `query`'s facts before, or `decide`'s answer, kept.
    pub fn steady<E>(
        &self,
        query: &Query<'_>,
        decide: impl FnOnce() -> Result<Outcome, E>,
    ) -> Result<Arc<Outcome>, E> {
        self.steady
            .get_or_make(&steady_key(query), || decide().map(Arc::new))
    }
}

/// Builds the request from the engine's types, with its action's entity
/// from the schema (built once per policy set); the entities come from the
/// cache when the same facts were seen before. Nothing is validated against
/// the schema here: [`check_conformance`] proved at load time that every
/// shape this builds conforms, and validating each request would cost more
/// than the decision itself.
pub fn build(
    query: &Query<'_>,
    actions: &HashMap<String, Entity>,
    kept: &KeptAnswers,
) -> Result<Built, BuildError> {
    let types = types()?;
    let (principal, action, resource, context) = request_parts(query, types)?;
    let request = Request::new(principal, action, resource, context, None).map_err(err)?;
    let entities = kept.entities.get_or_make(&entity_key(query), || {
        let action_id = query.operation.action_id();
        let action = actions
            .get(action_id)
            .ok_or_else(|| BuildError::no_action(action_id))?;
        let mut entities = entities(query, types)?;
        entities.push(action.clone());
        Entities::from_entities(entities, None)
            .map(Arc::new)
            .map_err(err)
    })?;
    Ok(Built { request, entities })
}

/// Every fact the entities of `query` depend on, each length-prefixed so
/// that no two queries share a key.
fn entity_key(query: &Query<'_>) -> Vec<u8> {
    let mut key = Vec::with_capacity(128);
    entity_facts(query, &mut key);
    key
}

/// Every fact the steady policies' outcome on `query` depends on: its
/// entities' (the request's principal and resource among them) and its
/// context's but [`MOVING`]. The entity facts begin with the action, which
/// fixes what the context adds after them.
fn steady_key(query: &Query<'_>) -> Vec<u8> {
    let mut key = Vec::with_capacity(160);
    entity_facts(query, &mut key);
    match query.operation {
        Operation::Enable { mode } => field(&mut key, mode.as_str()),
        Operation::Invoke {
            action,
            credit_cost,
            credits_used: _,
            credit_limit,
        } => {
            field(&mut key, action);
            key.extend_from_slice(&u64::from(credit_cost).to_le_bytes());
            match credit_limit {
                Some(limit) => {
                    key.push(1);
                    key.extend_from_slice(&limit.to_le_bytes());
                }
                None => key.push(0),
            }
        }
        _ => {}
    }
    key
}

/// Appends one value, length-prefixed.
fn field(key: &mut Vec<u8>, value: &str) {
    push_part(key, value.as_bytes());
}

/// Appends every fact `query`'s entities are built from to `key`.
fn entity_facts(query: &Query<'_>, key: &mut Vec<u8>) {
    let actor = query.actor;
    for fact in [
        query.operation.action_id(),
        actor.workspace.as_str(),
        actor.user.as_str(),
        actor.role.as_str(),
        &actor.plan,
    ] {
        field(key, fact);
    }
    let integration = |key: &mut Vec<u8>, facts: &IntegrationFacts<'_>| {
        field(key, facts.id.as_str());
        field(key, facts.name);
        field(key, &facts.supported.len().to_string());
        for mode in facts.supported {
            field(key, mode.as_str());
        }
        field(key, facts.active.map_or("-", Mode::as_str));
    };
    match query.target {
        Target::Workspace => field(key, "workspace"),
        Target::Integration(facts) => {
            field(key, "integration");
            integration(key, &facts);
        }
        Target::Connection(c) => {
            for fact in ["connection", c.id, c.workspace.as_str(), c.owner.as_str()] {
                field(key, fact);
            }
            integration(key, &c.integration);
        }
    }
}

/// Checks that every shape of request [`build`] makes conforms to the
/// schema (entity attributes, context, which resource each action takes),
/// so that deciding need not validate each request: a schema edited out of
/// step with the engine is refused when loaded, not discovered per request.
pub fn check_conformance(schema: &Schema) -> Result<(), SchemaMismatch> {
    let actor = Actor {
        user: UserId::new("conformance-user"),
        workspace: WorkspaceId::new("conformance"),
        role: Role::Member,
        plan: "free".into(),
    };
    let id = IntegrationId::new("conformance-integration");
    let owner = UserId::new("conformance-owner");
    let supported = [Mode::User, Mode::Workspace];
    let integration = |active| IntegrationFacts {
        id: &id,
        name: "Conformance",
        supported: &supported,
        active,
    };
    let invoke = |credit_limit| Operation::Invoke {
        action: "conformance",
        credit_cost: 1,
        credits_used: 0,
        credit_limit,
    };
    let on_integration = [
        Operation::Enable { mode: Mode::User },
        Operation::Disable,
        Operation::ConfigureWorkspaceCredential,
        Operation::Connect,
        invoke(None),
        invoke(Some(10)),
    ];
    let on_workspace = [
        Operation::ViewTeamIntegrations,
        Operation::ViewUsage,
        Operation::ViewAudit,
        Operation::ViewIntegrations,
    ];
    let on_connection = [Operation::ViewConnection, Operation::Disconnect];
    let connection = |active| {
        Target::Connection(ConnectionFacts {
            id: "conformance-connection",
            workspace: &actor.workspace,
            integration: integration(active),
            owner: &owner,
        })
    };
    let queries = on_workspace
        .iter()
        .map(|&operation| (operation, Target::Workspace))
        .chain(on_integration.iter().flat_map(|&operation| {
            [None, Some(Mode::User)]
                .map(|active| (operation, Target::Integration(integration(active))))
        }))
        .chain(on_connection.iter().flat_map(|&operation| {
            [None, Some(Mode::Workspace)].map(|active| (operation, connection(active)))
        }));
    for (operation, target) in queries {
        let query = Query {
            actor: &actor,
            operation,
            target,
        };
        let in_schema = |e: &dyn std::error::Error| {
            let mut reason = e.to_string();
            let mut cause = e.source();
            while let Some(c) = cause {
                reason.push_str(&format!(": {c}"));
                cause = c.source();
            }
            SchemaMismatch {
                action: operation.action_id(),
                reason,
            }
        };
        let types = types().map_err(|e| in_schema(&e))?;
        let (principal, action, resource, context) =
            request_parts(&query, types).map_err(|e| in_schema(&e))?;
        Request::new(principal, action, resource, context, Some(schema))
            .map_err(|e| in_schema(&e))?;
        Entities::from_entities(
            entities(&query, types).map_err(|e| in_schema(&e))?,
            Some(schema),
        )
        .map_err(|e| in_schema(&e))?;
    }
    Ok(())
}
