//! Zendesk Support tickets (API v2) as a connector.
//!
//! Every Zendesk account lives on its own subdomain, so the workspace's
//! admin enters it as a setting (`acme` for `acme.zendesk.com`), and the
//! credential goes only there. Both modes authenticate as an agent with an
//! API token: HTTP Basic, user `{email}/token`, password the token
//! (<https://developer.zendesk.com/api-reference/introduction/security-and-auth/>).
// Native builds exist only for unit tests: the component exports are wasm-only.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

mod actions;
mod api;

use switchboard_sdk::{
    Account, ActionSet, Auth, Connector, Credential, Manifest, Mode, Placement, Result,
};

/// The hosts of every account, the workspace's subdomain first.
const HOST: &str = "{subdomain}.zendesk.com";

struct Zendesk;

/// An agent's email address and API token.
fn agent_token() -> Auth {
    Auth::Credential(
        Credential::new(Placement::basic("{email}/token", "{api_token}"))
            .field("email", "Agent email", false)
            .field("api_token", "API token", true),
    )
}

impl Connector for Zendesk {
    fn manifest() -> Manifest {
        Manifest::new("zendesk", "Zendesk", env!("CARGO_PKG_VERSION"))
            .description("Search and read the support tickets of your Zendesk account.")
            .setting(
                "subdomain",
                "Zendesk subdomain",
                "The first part of your Zendesk address: acme for acme.zendesk.com.",
                serde_json::json!({
                    "type": "string",
                    "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
                }),
            )
            .mode(Mode::Workspace, agent_token(), &[HOST])
            .mode(Mode::User, agent_token(), &[HOST])
            .host(HOST)
    }

    fn actions() -> ActionSet {
        ActionSet::new()
            .with::<actions::SearchTickets>()
            .with::<actions::RecentTickets>()
            .with::<actions::GetTicket>()
    }

    /// Who the token belongs to. Zendesk answers an unauthenticated
    /// `users/me` with an anonymous user, so an account without an id (or
    /// an end user, who cannot read tickets) is a refusal, not a success.
    fn check_credential() -> Result<Account> {
        let me = api::me()?;
        Ok(
            Account::new(format!("{} <{}>", me.name, me.email)).with_detail(format!(
                "{} on {}",
                me.role,
                api::base_host()?
            )),
        )
    }
}

switchboard_sdk::export_connector!(Zendesk);
