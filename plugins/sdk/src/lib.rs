//! Write a Switchboard connector in ordinary Rust.
//!
//! A connector is a type implementing [`Connector`]: a [`Manifest`] (who it
//! is, its modes, the hosts it calls, its typed [`Action`]s) and a credential
//! check. [`export_connector!`] turns it into the WASM component Switchboard
//! loads. Outgoing requests go through [`http`]; the credential is added by
//! the host, never seen here. See `plugins/README.md` for a walk-through.

pub mod action;
mod error;
mod export;
pub mod http;
pub mod log;
mod manifest;
pub mod settings;

/// The bindings generated from `wit/connector.wit`. Connectors rarely need
/// them directly; [`export_connector!`] uses them.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "connector-plugin",
        pub_export_macro: true,
        export_macro_name: "export_bindings",
        default_bindings_module: "::switchboard_sdk::bindings",
    });
}

pub use action::{Action, ActionSet};
pub use error::{Error, Result};
pub use manifest::{Account, ApiKeyPlacement, Auth, Credential, Manifest, Mode, OAuth2, Placement};
pub use schemars::{self, JsonSchema};
pub use serde;
pub use serde_json;

/// What a connector implements.
pub trait Connector {
    /// The manifest, read once when the component loads.
    fn manifest() -> Manifest;

    /// The actions, by name. Called on every `invoke`, so build it cheaply
    /// (an [`ActionSet`] holds only function pointers).
    fn actions() -> ActionSet;

    /// Check the credential of the current call with one cheap
    /// authenticated request and say whose account it is.
    fn check_credential() -> Result<Account>;
}

#[doc(hidden)]
pub mod __private {
    pub use crate::export::{check_credential, describe, invoke};
}
