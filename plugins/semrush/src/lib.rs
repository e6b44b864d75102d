//! Semrush keyword and domain reports (Analytics API v3) as a connector.
//!
//! Both modes authenticate with an API key in the `key` query parameter:
//! the workspace's shared key, or a member's own. Every report request sends
//! `display_limit`, because Semrush bills every line it returns and sends up
//! to 10,000 lines when the limit is missing.
// Native builds exist only for unit tests: the component exports are wasm-only.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

mod actions;
mod report;

use switchboard_sdk::{
    Account, ActionSet, ApiKeyPlacement, Auth, Connector, Error, Manifest, Mode, Result, http,
};

const BALANCE_HOST: &str = "www.semrush.com";
const BALANCE_URL: &str = "https://www.semrush.com/users/countapiunits.html";

struct Semrush;

impl Connector for Semrush {
    fn manifest() -> Manifest {
        let key = || Auth::ApiKey(ApiKeyPlacement::Query("key".into()));
        // The reports and the balance of API units both take the key.
        let receivers = [report::API_HOST, BALANCE_HOST];
        Manifest::new("semrush", "Semrush", env!("CARGO_PKG_VERSION"))
            .description("Keyword research and domain rankings from Semrush.")
            .mode(Mode::Workspace, key(), &receivers)
            .mode(Mode::User, key(), &receivers)
            .host(report::API_HOST)
            .host(BALANCE_HOST)
    }

    fn actions() -> ActionSet {
        ActionSet::new()
            .with::<actions::KeywordOverview>()
            .with::<actions::RelatedKeywords>()
            .with::<actions::DomainOrganicKeywords>()
    }

    /// The API units balance: free, and refuses a wrong key.
    fn check_credential() -> Result<Account> {
        let response = http::get(BALANCE_URL).authenticated().send()?;
        let text = response.text();
        let text = text.trim();
        if let Some(error) = report::error_in(text) {
            return Err(error);
        }
        if text.starts_with('{') {
            return Err(Error::Unauthorized(balance_refusal(text)));
        }
        let units: u64 = text
            .replace(',', "")
            .parse()
            .map_err(|_| Error::Upstream(format!("unexpected balance answer: {text:.80}")))?;
        let detail = if units == 0 {
            "0 API units left: reports will fail until units are added".to_owned()
        } else {
            format!("{text} API units left")
        };
        Ok(Account::new("Semrush API key").with_detail(detail))
    }
}

/// The balance endpoint refuses a key with a JSON list of errors.
fn balance_refusal(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Refusal {
        errors: Vec<FieldError>,
    }
    #[derive(serde::Deserialize)]
    struct FieldError {
        message: String,
    }
    match serde_json::from_str::<Refusal>(body) {
        Ok(r) if !r.errors.is_empty() => {
            let messages: Vec<_> = r.errors.into_iter().map(|e| e.message).collect();
            format!("Semrush refused the API key: {}", messages.join("; "))
        }
        _ => "Semrush refused the API key".to_owned(),
    }
}

switchboard_sdk::export_connector!(Semrush);
