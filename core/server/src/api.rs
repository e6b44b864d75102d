//! Routes registered together with their description, so the OpenAPI
//! document is generated from the same table that builds the router and
//! the two cannot drift apart.

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, on};
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn subschema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// `T`'s own schema, its fields to be spread as parameters, with the types
/// they refer to defined in the document's components.
fn inline<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    let reference = g.subschema_for::<T>();
    reference
        .get("$ref")
        .and_then(|r| r.as_str())
        .and_then(|r| r.rsplit('/').next())
        .and_then(|name| g.definitions().get(name))
        .and_then(|definition| Schema::try_from(definition.clone()).ok())
        .unwrap_or(reference)
}

/// An event stream is text; what each event's `data:` holds is said beside.
fn event_stream<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    let event = g.subschema_for::<T>().to_value();
    Schema::try_from(serde_json::json!({
        "type": "string",
        "description": "Server-sent events (`text/event-stream`); each event's `data:` line is one JSON object of the schema in `x-event`.",
        "x-event": event,
    }))
    .unwrap_or_else(|_| Schema::from(true))
}

/// What a route takes and gives, for the document.
pub struct Doc {
    summary: &'static str,
    actor: bool,
    public: bool,
    /// A browser session's token is accepted too.
    sessions: bool,
    query: Option<SchemaFn>,
    body: Option<SchemaFn>,
    status: u16,
    response: Option<SchemaFn>,
    content_type: &'static str,
    /// Refusals a schema cannot express (an unknown sign-in, a pasted key
    /// with a line break), by status, with why.
    refusals: Vec<(u16, &'static str)>,
    /// Errors are pages for a browser, not problem documents.
    html_errors: bool,
}

impl Doc {
    /// A route that acts for a member: the host names the actor in
    /// headers, or a browser session acts as its own.
    pub fn acting(summary: &'static str) -> Self {
        Doc {
            summary,
            actor: true,
            public: false,
            sessions: true,
            query: None,
            body: None,
            status: 200,
            response: None,
            content_type: "application/json",
            refusals: Vec::new(),
            html_errors: false,
        }
    }

    /// A route for the host itself (service token only).
    pub fn host(summary: &'static str) -> Self {
        Doc {
            actor: false,
            sessions: false,
            ..Doc::acting(summary)
        }
    }

    /// A route without an actor (the catalogue, events, the session
    /// itself) that a browser session may call as well as the host.
    pub fn sessions(mut self) -> Self {
        self.sessions = true;
        self
    }

    /// A route open to anyone (health, the document itself).
    pub fn public(summary: &'static str) -> Self {
        Doc {
            public: true,
            ..Doc::host(summary)
        }
    }

    pub fn query<T: JsonSchema>(mut self) -> Self {
        self.query = Some(inline::<T>);
        self
    }

    pub fn body<T: JsonSchema>(mut self) -> Self {
        self.body = Some(subschema::<T>);
        self
    }

    pub fn returns<T: JsonSchema>(mut self) -> Self {
        self.response = Some(subschema::<T>);
        self
    }

    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub fn content(mut self, content_type: &'static str) -> Self {
        self.content_type = content_type;
        self
    }

    /// A refusal a valid request can still meet, and why.
    pub fn refuses(mut self, status: u16, why: &'static str) -> Self {
        self.refusals.push((status, why));
        self
    }

    /// A stream of server-sent events, each `data:` line one `T` as JSON.
    pub fn streams<T: JsonSchema>(mut self) -> Self {
        self.response = Some(event_stream::<T>);
        self.content_type = "text/event-stream";
        self
    }

    /// Errors answer as an HTML page (routes a browser calls).
    pub fn html_errors(mut self) -> Self {
        self.html_errors = true;
        self
    }
}

pub struct Operation {
    method: &'static str,
    path: &'static str,
    doc: Doc,
}

/// A router that remembers what each route is.
pub struct Api<S> {
    router: Router<S>,
    operations: Vec<Operation>,
}

impl<S: Clone + Send + Sync + 'static> Api<S> {
    pub fn new() -> Self {
        Api {
            router: Router::new(),
            operations: Vec::new(),
        }
    }

    fn add<H: Handler<T, S>, T: 'static>(
        mut self,
        filter: MethodFilter,
        method: &'static str,
        path: &'static str,
        handler: H,
        doc: Doc,
    ) -> Self {
        self.router = self.router.route(path, on(filter, handler));
        self.operations.push(Operation { method, path, doc });
        self
    }

    pub fn get<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        handler: H,
        doc: Doc,
    ) -> Self {
        self.add(MethodFilter::GET, "get", path, handler, doc)
    }

    pub fn post<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        handler: H,
        doc: Doc,
    ) -> Self {
        self.add(MethodFilter::POST, "post", path, handler, doc)
    }

    pub fn put<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        handler: H,
        doc: Doc,
    ) -> Self {
        self.add(MethodFilter::PUT, "put", path, handler, doc)
    }

    pub fn delete<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        handler: H,
        doc: Doc,
    ) -> Self {
        self.add(MethodFilter::DELETE, "delete", path, handler, doc)
    }

    /// The router, and what its routes are for [`document`].
    pub fn finish(self) -> (Router<S>, Vec<Operation>) {
        (self.router, self.operations)
    }
}

const ACTOR_HEADERS: [(&str, &str); 3] = [
    (
        "X-Switchboard-User",
        "The user the host application authenticated.",
    ),
    (
        "X-Switchboard-Role",
        "Their role: admin, developer or member.",
    ),
    (
        "X-Switchboard-Plan",
        "Their workspace's plan, e.g. business.",
    ),
];

/// A workspace, user or plan id, as the engine accepts them.
fn id_schema() -> Value {
    json!({"type": "string", "pattern": switchboard::model::ID_PATTERN, "minLength": 1, "maxLength": 128})
}

/// The OpenAPI 3.1 document of these routes.
pub fn document(operations: &[Operation]) -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "#/components/schemas/".into())
        .into_generator();
    let problem = generator
        .subschema_for::<super::problem::ProblemDocument>()
        .to_value();
    let mut paths = Map::new();
    for op in operations {
        let mut parameters: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                let schema = match name {
                    "workspace" => id_schema(),
                    "session" => json!({"type": "string", "pattern": "^[0-9a-f]{32}$"}),
                    _ => json!({"type": "string"}),
                };
                json!({"name": name, "in": "path", "required": true, "schema": schema})
            })
            .collect();
        if op.doc.actor {
            parameters.extend(ACTOR_HEADERS.iter().map(|(name, about)| {
                let schema = match *name {
                    "X-Switchboard-Role" => json!({"type": "string", "enum": ["admin", "developer", "member"]}),
                    _ => id_schema(),
                };
                json!({"name": name, "in": "header", "required": true, "description": format!("{about} Ignored with a session token."), "schema": schema})
            }));
        }
        if let Some(query) = op.doc.query {
            let schema = query(&mut generator).to_value();
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = schema["properties"].as_object() {
                for (name, prop) in props {
                    parameters.push(json!({"name": name, "in": "query", "required": required.contains(&name.as_str()), "schema": prop}));
                }
            }
        }
        let mut operation = json!({
            "operationId": format!("{}_{}", op.method, op.path.trim_start_matches('/').replace(['/', '{', '}', '-', '.'], "_")),
            "summary": op.doc.summary,
            "parameters": parameters,
            "responses": {},
        });
        let error = match op.doc.html_errors {
            true => json!({"text/html": {"schema": {"type": "string"}}}),
            false => json!({"application/problem+json": {"schema": problem.clone()}}),
        };
        operation["responses"]["default"] =
            json!({"description": "A problem (RFC 9457)", "content": error.clone()});
        for (status, why) in &op.doc.refusals {
            operation["responses"][status.to_string()] =
                json!({"description": why, "content": error.clone()});
        }
        let success = match op.doc.response {
            Some(schema) => {
                json!({"description": "OK", "content": {op.doc.content_type: {"schema": schema(&mut generator).to_value()}}})
            }
            None => json!({"description": "Done"}),
        };
        operation["responses"][op.doc.status.to_string()] = success;
        if let Some(body) = op.doc.body {
            operation["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": body(&mut generator).to_value()}}});
        }
        if op.doc.public {
            operation["security"] = json!([]);
        } else if op.doc.sessions {
            operation["security"] = json!([{"service": []}, {"session": []}]);
        }
        let entry = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        entry[op.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Switchboard", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Integration governance: which tools a workspace may use, members' connections, and calls through sandboxed connectors."},
        "security": [{"service": []}],
        "paths": paths,
        "components": {
            "schemas": generator.take_definitions(true),
            "securitySchemes": {
                "service": {"type": "http", "scheme": "bearer", "description": "A service token of the host application; it names the actor in the X-Switchboard-* headers."},
                "session": {"type": "http", "scheme": "bearer", "description": "A browser session's token (`sbs_...`, from POST /v1/sessions): it acts as its own actor in its own workspace, and the X-Switchboard-* headers are ignored."},
            },
        },
    })
}
