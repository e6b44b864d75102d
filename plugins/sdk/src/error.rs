use crate::bindings::switchboard::connector::types::{ConnectorError, RateLimited};

/// Why an action or a credential check failed. The message is shown to the
/// people using the integration: put the service's own reason in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The input does not make sense for this action.
    InvalidInput(String),
    /// The credential was refused.
    Unauthorized(String),
    /// The service asks to slow down.
    RateLimited {
        retry_after_ms: Option<u64>,
        message: String,
    },
    /// What was asked for does not exist.
    NotFound(String),
    /// The service failed, or answered something unexpected.
    Upstream(String),
    /// A fault in the connector itself.
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::InvalidInput(m) => write!(f, "invalid input: {m}"),
            Error::Unauthorized(m) => write!(f, "unauthorized: {m}"),
            Error::RateLimited { message, .. } => write!(f, "rate limited: {message}"),
            Error::NotFound(m) => write!(f, "not found: {m}"),
            Error::Upstream(m) => write!(f, "upstream: {m}"),
            Error::Internal(m) => write!(f, "internal: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for ConnectorError {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidInput(m) => ConnectorError::InvalidInput(m),
            Error::Unauthorized(m) => ConnectorError::Unauthorized(m),
            Error::RateLimited {
                retry_after_ms,
                message,
            } => ConnectorError::RateLimited(RateLimited {
                retry_after_ms,
                message,
            }),
            Error::NotFound(m) => ConnectorError::NotFound(m),
            Error::Upstream(m) => ConnectorError::Upstream(m),
            Error::Internal(m) => ConnectorError::Internal(m),
        }
    }
}
