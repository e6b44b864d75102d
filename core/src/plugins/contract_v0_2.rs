//! Components built against `switchboard:connector@0.2.0` keep loading, as
//! an application keeps hosting its older extension APIs: their imports are
//! served by the latest contract's, and what they export is turned into the
//! latest contract's types. 0.2 had no settings and sent one API key, in a
//! query parameter or a header: a credential of one secret field, `key`.

use super::bindings::switchboard::connector::{
    http as latest_http, log as latest_log, types as latest,
};
use super::runtime::HostState;

// The path is relative to the crate root (`CARGO_MANIFEST_DIR`).
wasmtime::component::bindgen!({
    path: "../wit/v0.2",
    world: "connector-plugin",
    imports: { default: async | trappable },
    exports: { default: async },
});

use self::switchboard::connector::{http, log, types};

/// The one field of a 0.2 credential.
const KEY_FIELD: &str = "key";

impl types::Host for HostState {}

impl http::Host for HostState {
    async fn send(
        &mut self,
        request: http::Request,
    ) -> wasmtime::Result<Result<http::Response, http::Error>> {
        use http::Method as M;
        use latest_http::Method as L;
        let method = match request.method {
            M::Get => L::Get,
            M::Head => L::Head,
            M::Post => L::Post,
            M::Put => L::Put,
            M::Patch => L::Patch,
            M::Delete => L::Delete,
        };
        let request = latest_http::Request {
            method,
            url: request.url,
            headers: request.headers,
            body: request.body,
            authenticated: request.authenticated,
        };
        let answer = latest_http::Host::send(self, request).await?;
        Ok(answer
            .map(|r| http::Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            })
            .map_err(|e| match e {
                latest_http::Error::Denied(m) => http::Error::Denied(m),
                latest_http::Error::TooLarge(m) => http::Error::TooLarge(m),
                latest_http::Error::Timeout(m) => http::Error::Timeout(m),
                latest_http::Error::Transport(m) => http::Error::Transport(m),
            }))
    }
}

impl log::Host for HostState {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        use latest_log::Level as L;
        use log::Level as V;
        let level = match level {
            V::Trace => L::Trace,
            V::Debug => L::Debug,
            V::Info => L::Info,
            V::Warn => L::Warn,
            V::Error => L::Error,
        };
        latest_log::Host::log(self, level, message).await
    }
}

/// A 0.2 manifest in the latest contract's terms.
pub(super) fn manifest(m: types::Manifest) -> latest::Manifest {
    latest::Manifest {
        id: m.id,
        name: m.name,
        description: m.description,
        version: m.version,
        modes: m.modes.into_iter().map(mode_auth).collect(),
        settings: Vec::new(),
        allowed_hosts: m.allowed_hosts,
        actions: m
            .actions
            .into_iter()
            .map(|a| latest::Action {
                name: a.name,
                description: a.description,
                input_schema: a.input_schema,
                output_schema: a.output_schema,
                credit_cost: a.credit_cost,
            })
            .collect(),
    }
}

fn mode_auth(m: types::ModeAuth) -> latest::ModeAuth {
    let mode = match m.mode {
        types::Mode::User => latest::Mode::User,
        types::Mode::Workspace => latest::Mode::Workspace,
    };
    let key = || {
        vec![latest::CredentialField {
            name: KEY_FIELD.to_owned(),
            label: "API key".to_owned(),
            secret: true,
        }]
    };
    let key_value = format!("{{{KEY_FIELD}}}");
    let auth = match m.auth {
        types::Auth::ApiKey(types::ApiKeyPlacement::Query(name)) => {
            latest::Auth::ApiKey(latest::ApiKey {
                fields: key(),
                placement: latest::Placement::Query(latest::NamedValue {
                    name,
                    value: key_value,
                }),
            })
        }
        types::Auth::ApiKey(types::ApiKeyPlacement::Header(h)) => {
            // A brace in the prefix is text, not a field.
            let prefix = h
                .prefix
                .unwrap_or_default()
                .replace('{', "{{")
                .replace('}', "}}");
            latest::Auth::ApiKey(latest::ApiKey {
                fields: key(),
                placement: latest::Placement::Header(latest::NamedValue {
                    name: h.name,
                    value: format!("{prefix}{key_value}"),
                }),
            })
        }
        types::Auth::Oauth2(o) => latest::Auth::Oauth2(latest::Oauth2 {
            authorize_url: o.authorize_url,
            token_url: o.token_url,
            revocation_url: o.revocation_url,
            scopes: o.scopes,
            pkce: o.pkce,
        }),
    };
    latest::ModeAuth {
        mode,
        auth,
        credential_hosts: m.credential_hosts,
    }
}

/// A 0.2 account in the latest contract's terms.
pub(super) fn account(a: types::Account) -> latest::Account {
    latest::Account {
        label: a.label,
        detail: a.detail,
    }
}

/// A 0.2 connector error in the latest contract's terms.
pub(super) fn error(e: types::ConnectorError) -> latest::ConnectorError {
    use latest::ConnectorError as L;
    use types::ConnectorError as V;
    match e {
        V::InvalidInput(m) => L::InvalidInput(m),
        V::Unauthorized(m) => L::Unauthorized(m),
        V::RateLimited(r) => L::RateLimited(latest::RateLimited {
            retry_after_ms: r.retry_after_ms,
            message: r.message,
        }),
        V::NotFound(m) => L::NotFound(m),
        V::Upstream(m) => L::Upstream(m),
        V::Internal(m) => L::Internal(m),
    }
}
