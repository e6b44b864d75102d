//! What people do through the engine, one step each, as the tests repeat
//! them. Each returns the engine's answer, for the test to check.

use crate::{id, member};
use serde_json::{Value, json};
use switchboard::model::{Account, Actor, Connection, IntegrationId, Mode};
use switchboard::pasted::PastedKey;
use switchboard::{Engine, Result};

/// `who` runs Semrush's `action` report with `input`.
pub async fn run_semrush(
    engine: &Engine,
    who: &Actor,
    action: &str,
    input: &Value,
) -> Result<Value> {
    engine.invoke(who, &id("semrush"), action, input).await
}

/// `who` looks up `phrase` in Semrush's keyword overview.
pub async fn keyword_overview(engine: &Engine, who: &Actor, phrase: &str) -> Result<Value> {
    run_semrush(engine, who, "keyword_overview", &json!({"phrase": phrase})).await
}

/// `who` asks Semrush for keywords related to `phrase`.
pub async fn related_keywords(engine: &Engine, who: &Actor, phrase: &str) -> Result<Value> {
    run_semrush(engine, who, "related_keywords", &json!({"phrase": phrase})).await
}

/// Bob looks up `seo` in Semrush's keyword overview.
pub async fn bob_looks_up_seo(engine: &Engine) -> Result<Value> {
    keyword_overview(engine, &member(), "seo").await
}

/// Bob asks Semrush for keywords related to `seo`.
pub async fn bob_asks_related_to_seo(engine: &Engine) -> Result<Value> {
    related_keywords(engine, &member(), "seo").await
}

/// `who` saves `key` as their workspace's shared Semrush key.
pub async fn set_semrush_key(engine: &Engine, who: &Actor, key: &str) -> Result<Account> {
    engine
        .set_workspace_credential(who, &id("semrush"), &PastedKey::parse(key)?)
        .await
}

/// `who` connects their own Semrush account with their API key `key`.
pub async fn connect_semrush_key(engine: &Engine, who: &Actor, key: &str) -> Result<Connection> {
    engine
        .connect_with_api_key(who, &id("semrush"), &PastedKey::parse(key)?)
        .await
}

/// An admin enables `integration` in workspace mode and shares `key` with
/// the workspace; both must succeed.
pub async fn share_key(engine: &Engine, admin: &Actor, integration: &IntegrationId, key: &str) {
    engine.enable(admin, integration, Mode::Workspace).unwrap();
    engine
        .set_workspace_credential(admin, integration, &PastedKey::parse(key).unwrap())
        .await
        .unwrap();
}

/// A member runs the shapeshifter test plugin's one action.
pub async fn run_shapeshifter(engine: &Engine) -> Result<serde_json::Value, String> {
    engine
        .invoke(
            &member(),
            &id("shapeshifter"),
            "keyword_overview",
            &json!({"phrase": "seo"}),
        )
        .await
        .map_err(|e| e.to_string())
}
