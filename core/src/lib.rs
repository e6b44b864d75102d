//! Switchboard: the integration-governance engine a SaaS product embeds.
//!
//! [`Engine`] is the façade: it keeps state in a redb file ([`store`]),
//! seals every secret ([`vault`]) and runs each integration as a sandboxed
//! WASM component ([`plugins`]). See `DESIGN.md` for the shape of it.

pub mod audit;
#[cfg(feature = "server")]
pub mod cli;
pub mod engine;
mod error;
pub mod maintenance;
pub mod metrics;
pub mod model;
pub mod net;
pub mod oauth;
pub mod pages;
pub mod plugins;
pub mod policy;
pub mod redact;
#[cfg(feature = "server")]
pub mod server;
pub mod store;
pub mod usage;
pub mod vault;

pub use engine::{Engine, EngineConfig};
pub use error::{Error, Result};
