//! A connector of ordinary size and shape (API key, one declared host, two
//! actions with schemas, JSON over HTTP) whose id is a fixed-width marker.
//! The plugin benchmarks copy its component with the marker rewritten to
//! load many distinct connectors; no test calls its service.
// Native builds exist only for unit tests: the component exports are wasm-only.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use serde::{Deserialize, Serialize};
use switchboard_sdk::{
    Account, Action, ActionSet, ApiKeyPlacement, Auth, Connector, Error, JsonSchema, Manifest,
    Mode, Result, http,
};

/// Rewritten in each copy; keep it unique in the component and fixed-width.
const ID: &str = "fleet-member-0000";

struct Fleet;

impl Connector for Fleet {
    fn manifest() -> Manifest {
        Manifest::new(ID, "Fleet member", "0.0.1")
            .description("One of many connectors of the same shape.")
            .mode(
                Mode::Workspace,
                Auth::ApiKey(ApiKeyPlacement::Header {
                    name: "x-api-key".into(),
                    prefix: None,
                }),
                &["api.fleet.test"],
            )
            .host("api.fleet.test")
    }

    fn actions() -> ActionSet {
        ActionSet::new().with::<Search>().with::<Fetch>()
    }

    fn check_credential() -> Result<Account> {
        let me: Me = http::get("https://api.fleet.test/v1/me")
            .authenticated()
            .send()?
            .json()?;
        Ok(Account::new(me.name))
    }
}

#[derive(Deserialize)]
struct Me {
    name: String,
}

#[derive(Deserialize, JsonSchema)]
pub struct SearchInput {
    /// What to look for.
    pub query: String,
    /// Results per page, 1 to 100.
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
}

#[derive(Serialize, Deserialize, JsonSchema)]
pub struct Item {
    pub id: String,
    pub title: String,
    pub score: f64,
}

/// Searches the service's records.
pub struct Search;

impl Action for Search {
    const NAME: &'static str = "search";
    const DESCRIPTION: &'static str = "Searches the service's records.";
    type Input = SearchInput;
    type Output = Vec<Item>;
    fn run(input: SearchInput) -> Result<Vec<Item>> {
        let limit = input.limit.unwrap_or(10).to_string();
        let response = http::get("https://api.fleet.test/v1/search")
            .query("q", &input.query)
            .query("limit", &limit)
            .authenticated()
            .send()?;
        match response.status {
            200 => response.json(),
            status => Err(Error::Upstream(format!("search answered {status}"))),
        }
    }
}

#[derive(Deserialize, JsonSchema)]
pub struct FetchInput {
    /// A record id from `search`.
    pub id: String,
}

/// Reads one record.
pub struct Fetch;

impl Action for Fetch {
    const NAME: &'static str = "fetch";
    const DESCRIPTION: &'static str = "Reads one record.";
    type Input = FetchInput;
    type Output = Item;
    fn run(input: FetchInput) -> Result<Item> {
        http::get(&format!("https://api.fleet.test/v1/items/{}", input.id))
            .authenticated()
            .send()?
            .json()
    }
}

switchboard_sdk::export_connector!(Fleet);
