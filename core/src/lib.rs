//! Switchboard: the integration-governance engine a SaaS product embeds.
//!
//! [`Engine`] is the façade: it asks the Cedar policies ([`policy`]) before
//! every operation, keeps state in one store (an embedded redb file by default, or a
//! PostgreSQL database that several engine nodes share), seals every
//! secret ([`vault`]) and runs each integration as a sandboxed WASM
//! component ([`plugins`]). `ARCHITECTURE.md` at the repository's root maps
//! the modules, their invariants and the path of one integration call.
#![warn(missing_docs)]

pub mod audit;
pub mod engine;
mod error;
pub mod kept;
pub mod maintenance;
pub mod metrics;
pub mod model;
pub mod net;
pub mod oauth;
pub mod pages;
pub mod pasted;
pub mod plugins;
pub mod policy;
pub mod redact;
#[cfg(feature = "test-support")]
pub mod store;
#[cfg(not(feature = "test-support"))]
mod store;
mod usage;
pub mod vault;

pub use engine::{Engine, EngineConfig};
pub use error::{Error, Result};
pub use store::{Location, StoreError};
