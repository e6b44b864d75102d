//! The `switchboard:connector` WIT world as Rust: the types and traits the
//! host implements and calls, and the conversions out of them.

// The path is relative to the crate root (`CARGO_MANIFEST_DIR`).
wasmtime::component::bindgen!({
    path: "../wit",
    world: "connector-plugin",
    imports: { default: async | trappable },
    exports: { default: async },
});

use self::switchboard::connector::types as wit_types;

/// A connector's error, as the rest of Switchboard spells it.
pub(super) fn connector_error(e: wit_types::ConnectorError) -> crate::model::ConnectorError {
    use crate::model::ConnectorError;
    use wit_types::ConnectorError as W;
    match e {
        W::InvalidInput(message) => ConnectorError::InvalidInput { message },
        W::Unauthorized(message) => ConnectorError::Unauthorized { message },
        W::RateLimited(r) => ConnectorError::RateLimited {
            message: r.message,
            retry_after_ms: r.retry_after_ms,
        },
        W::NotFound(message) => ConnectorError::NotFound { message },
        W::Upstream(message) => ConnectorError::Upstream { message },
        W::Internal(message) => ConnectorError::Internal { message },
    }
}
