//! Browser sessions: a short-lived bearer token the host mints for one
//! actor, so a page can call the API as that person without ever holding
//! the service token. The token is opaque (`sbs_<id>.<secret>`, the id 32
//! hex digits, the secret 256 random bits in base64url); the store
//! keeps only its id, the actor and a SHA-256 of the secret, so a stolen
//! data file yields no usable token and revoking is deleting the record.
//! A record lives in the store, not in the process, so every node sees a
//! revocation at once.

use super::{Engine, now_ms};
use crate::model::Actor;
use crate::store::SessionRecord;
use crate::vault::Secret;
use crate::{Error, Result};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// What every session token starts with, so a leaked one is recognisable
/// (secret scanners) and never mistaken for a service token.
pub const SESSION_TOKEN_PREFIX: &str = "sbs_";
/// A session's life when the host names none.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(15 * 60);
/// The longest life a session may be given.
pub const MAX_SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);

/// A session as the host and the page see it: never its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Session {
    /// Names the session, e.g. to revoke it (32 hex digits); not a credential.
    pub id: String,
    /// Whom the session speaks for, fixed when it was opened.
    pub actor: Actor,
    /// When it was opened (Unix milliseconds).
    pub created_at_ms: u64,
    /// When it stops being accepted (Unix milliseconds).
    pub expires_at_ms: u64,
}

/// A session just opened, with its token: shown once, kept nowhere.
pub struct OpenedSession {
    /// The session.
    pub session: Session,
    /// The bearer token the page presents.
    pub token: Secret,
}

impl std::fmt::Debug for OpenedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedSession")
            .field("session", &self.session)
            .field("token", &crate::redact::REDACTED)
            .finish()
    }
}

/// Why a presented session token is not accepted. Unknown, revoked and
/// tampered tokens are told apart from nothing: each is `Invalid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionRefused {
    /// The session ran out; the host mints a new one.
    #[error("the session has expired; open the page from the application again")]
    Expired,
    /// Not a token this service issued, or one since revoked.
    #[error("the session token is not valid: revoked, altered or not issued here")]
    Invalid,
}

impl Engine {
    /// Opens a session for `actor` that lasts `ttl` (at most
    /// [`MAX_SESSION_TTL`]); the token is in the answer only.
    pub fn open_session(&self, actor: &Actor, ttl: Duration) -> Result<OpenedSession> {
        actor.check()?;
        if ttl.is_zero() || ttl > MAX_SESSION_TTL {
            return Err(Error::SessionLifetime(ttl.as_secs()));
        }
        let id = hex::encode(random::<16>()?);
        let secret = URL_SAFE_NO_PAD.encode(random::<32>()?);
        let now = now_ms();
        let session = Session {
            id: id.clone(),
            actor: actor.clone(),
            created_at_ms: now,
            expires_at_ms: now.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)),
        };
        let record = SessionRecord {
            session: session.clone(),
            secret_sha256: Sha256::digest(secret.as_bytes()).into(),
        };
        self.store
            .write(|w| Ok(w.put_session(&id, &record, now)?))?;
        Ok(OpenedSession {
            session,
            token: Secret::new(format!("{SESSION_TOKEN_PREFIX}{id}.{secret}")),
        })
    }

    /// The session a presented token belongs to, if it is valid now.
    pub fn session(&self, token: &str) -> Result<Session, SessionRefused> {
        let (id, secret) = token
            .strip_prefix(SESSION_TOKEN_PREFIX)
            .and_then(|rest| rest.split_once('.'))
            .ok_or(SessionRefused::Invalid)?;
        let record = self
            .store
            .read(|r| r.session(id))
            .map_err(|e| {
                tracing::error!(error = %e, "reading a session");
                SessionRefused::Invalid
            })?
            .ok_or(SessionRefused::Invalid)?;
        let presented: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        if !bool::from(presented.ct_eq(&record.secret_sha256)) {
            return Err(SessionRefused::Invalid);
        }
        if record.session.expires_at_ms <= now_ms() {
            return Err(SessionRefused::Expired);
        }
        Ok(record.session)
    }

    /// Whether a session is still open (neither revoked nor expired), for
    /// a long-lived answer, such as an event stream, to end when it ends.
    pub fn session_is_open(&self, id: &str) -> bool {
        self.store
            .read(|r| r.session(id))
            .ok()
            .flatten()
            .is_some_and(|record| record.session.expires_at_ms > now_ms())
    }

    /// Revokes a session by id; says whether there was one. Its token is
    /// refused from the next request on, on every node.
    pub fn close_session(&self, id: &str) -> Result<bool> {
        self.store.write(|w| Ok(w.remove_session(id)?))
    }
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Internal(format!("no randomness for a session: {e}")))?;
    Ok(bytes)
}
