//! A Semrush keyword report as a `switchboard:connector@0.2.0` component,
//! written against the frozen WIT with wit-bindgen alone (no SDK), as a
//! connector built before 0.3.0 was. It sends its key in the `key` query
//! parameter, the one placement 0.2 had besides a header.
// Native builds (`cargo build --all-targets`) only check it: the
// component's exports are wasm-only.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

wit_bindgen::generate!({
    path: "../../../wit/v0.2",
    world: "connector-plugin",
});

use exports::switchboard::connector::connector::Guest;
use switchboard::connector::http::{Method, Request, send};
use switchboard::connector::types::{
    Account, Action, ApiKeyPlacement, Auth, ConnectorError, Manifest, Mode, ModeAuth,
};

const HOST: &str = "api.semrush.com";

struct Legacy;

/// Semrush's keyword overview of `phrase`, one line, as CSV text.
fn overview(phrase: &str) -> Result<String, ConnectorError> {
    let url = format!(
        "https://{HOST}/?type=phrase_this&export_columns=Ph,Nq&display_limit=1&database=us&phrase={phrase}"
    );
    let response = send(&Request {
        method: Method::Get,
        url,
        headers: Vec::new(),
        body: None,
        authenticated: true,
    })
    .map_err(|e| ConnectorError::Upstream(format!("{e:?}")))?;
    let text = String::from_utf8_lossy(&response.body).into_owned();
    if text.starts_with("ERROR") {
        return Err(ConnectorError::Unauthorized(text.trim().to_owned()));
    }
    Ok(text)
}

impl Guest for Legacy {
    fn describe() -> Manifest {
        Manifest {
            id: "legacy".into(),
            name: "Legacy keywords".into(),
            description: "A connector built against contract 0.2.0.".into(),
            version: "0.2.0".into(),
            modes: vec![ModeAuth {
                mode: Mode::Workspace,
                auth: Auth::ApiKey(ApiKeyPlacement::Query("key".into())),
                credential_hosts: vec![HOST.into()],
            }],
            allowed_hosts: vec![HOST.into()],
            actions: vec![Action {
                name: "overview".into(),
                description: "Search volume of a phrase, as Semrush's CSV.".into(),
                input_schema: r#"{"type":"object","properties":{"phrase":{"type":"string","pattern":"^[a-z ]+$"}},"required":["phrase"]}"#.into(),
                output_schema: r#"{"type":"object","properties":{"csv":{"type":"string"}},"required":["csv"]}"#.into(),
                credit_cost: 10,
            }],
        }
    }

    fn check_credential() -> Result<Account, ConnectorError> {
        overview("seo").map(|_| Account {
            label: "Semrush API key".into(),
            detail: Some("checked by a 0.2.0 connector".into()),
        })
    }

    fn invoke(action: String, input: String) -> Result<String, ConnectorError> {
        if action != "overview" {
            return Err(ConnectorError::InvalidInput(format!(
                "no action `{action}`"
            )));
        }
        let input: serde_json::Value = serde_json::from_str(&input)
            .map_err(|e| ConnectorError::InvalidInput(e.to_string()))?;
        // The host checked the input against the schema: lowercase words.
        let phrase = input["phrase"]
            .as_str()
            .unwrap_or_default()
            .replace(' ', "+");
        let csv = overview(&phrase)?;
        Ok(serde_json::json!({ "csv": csv }).to_string())
    }
}

#[cfg(target_family = "wasm")]
export!(Legacy);
