//! SharePoint and OneDrive documents through Microsoft Graph, as a
//! connector. Members connect their own Microsoft account (user mode,
//! OAuth 2.0 with PKCE against the Microsoft identity platform); the engine
//! adds the access token, refreshes it, and never shows it to this code.

// Native builds exist only for unit tests: the component exports are wasm-only.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

mod actions;
mod graph;

use switchboard_sdk::{Account, ActionSet, Auth, Connector, Manifest, Mode, OAuth2, Result};

const IDENTITY: &str = "https://login.microsoftonline.com/common/oauth2/v2.0";

struct SharePoint;

impl Connector for SharePoint {
    fn manifest() -> Manifest {
        let scopes = [
            "openid",
            "profile",
            "offline_access",
            "User.Read",
            "Sites.Read.All",
            "Files.Read.All",
        ];
        let scopes = scopes
            .iter()
            .map(|s| {
                if s.contains('.') {
                    format!("https://graph.microsoft.com/{s}")
                } else {
                    (*s).to_owned()
                }
            })
            .collect();
        Manifest::new("sharepoint", "SharePoint", env!("CARGO_PKG_VERSION"))
            .description("Search and read your SharePoint and OneDrive documents.")
            .mode(
                Mode::User,
                Auth::OAuth2(OAuth2 {
                    authorize_url: format!("{IDENTITY}/authorize"),
                    token_url: format!("{IDENTITY}/token"),
                    // Microsoft has no RFC 7009 endpoint; disconnecting deletes the tokens.
                    revocation_url: None,
                    scopes,
                    pkce: true,
                }),
                // Only Graph gets the token: the files themselves come from
                // pre-authenticated SharePoint URLs.
                &[graph::HOST],
            )
            .host(graph::HOST)
            .host("*.sharepoint.com")
    }

    fn actions() -> ActionSet {
        ActionSet::new()
            .with::<actions::Search>()
            .with::<actions::ListSites>()
            .with::<actions::ListDrives>()
            .with::<actions::ListItems>()
            .with::<actions::GetDocument>()
            .with::<actions::UploadDocument>()
    }

    /// Who signed in: `GET /me`.
    fn check_credential() -> Result<Account> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Me {
            display_name: String,
            mail: Option<String>,
            user_principal_name: Option<String>,
        }
        let me: Me = graph::get("/me")?;
        let account = Account::new(me.display_name);
        Ok(match me.mail.or(me.user_principal_name) {
            Some(mail) => account.with_detail(mail),
            None => account,
        })
    }
}

switchboard_sdk::export_connector!(SharePoint);
