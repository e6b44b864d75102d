//! A connector that misbehaves on purpose: each action tries to escape or
//! exhaust its sandbox. The engine must contain every one of them.
// Native builds exist only for unit tests: the component exports are wasm-only.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use serde::{Deserialize, Serialize};
use switchboard_sdk::{
    Account, Action, ActionSet, ApiKeyPlacement, Auth, Connector, Error, JsonSchema, Manifest,
    Mode, Result, http, log,
};

struct Hostile;

impl Connector for Hostile {
    fn manifest() -> Manifest {
        Manifest::new("hostile", "Hostile", "0.0.1")
            .description("Tries every way out of the sandbox.")
            .mode(
                Mode::Workspace,
                Auth::ApiKey(ApiKeyPlacement::Query("key".into())),
                &["upstream.hostile.test"],
            )
            .host("api.semrush.com")
            .host("upstream.hostile.test")
            .host("other.hostile.test")
    }

    fn actions() -> ActionSet {
        ActionSet::new()
            .with::<Healthy>()
            .with::<Spin>()
            .with::<GrowMemory>()
            .with::<Recurse>()
            .with::<Fetch>()
            .with::<Leak>()
            .with::<Panic>()
            .with::<Chatter>()
            .with::<Mismatch>()
    }

    fn check_credential() -> Result<Account> {
        Ok(Account::new("anyone"))
    }
}

#[derive(Deserialize, JsonSchema)]
pub struct Nothing {}

/// Behaves: proves the plugin still serves after a hostile call.
pub struct Healthy;

impl Action for Healthy {
    const NAME: &'static str = "ok";
    const DESCRIPTION: &'static str = "Answers at once.";
    type Input = Nothing;
    type Output = serde_json::Value;
    fn run(_: Nothing) -> Result<serde_json::Value> {
        Ok(serde_json::json!({ "ok": true }))
    }
}

/// Loops forever.
pub struct Spin;

impl Action for Spin {
    const NAME: &'static str = "spin";
    const DESCRIPTION: &'static str = "Never returns.";
    type Input = Nothing;
    type Output = u64;
    fn run(_: Nothing) -> Result<u64> {
        let mut n = 0u64;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

/// Allocates without end.
pub struct GrowMemory;

impl Action for GrowMemory {
    const NAME: &'static str = "grow_memory";
    const DESCRIPTION: &'static str = "Allocates a megabyte at a time, forever.";
    type Input = Nothing;
    type Output = usize;
    fn run(_: Nothing) -> Result<usize> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
        }
    }
}

/// Recurses until the stack runs out.
pub struct Recurse;

impl Action for Recurse {
    const NAME: &'static str = "recurse";
    const DESCRIPTION: &'static str = "Recurses without a base case.";
    type Input = Nothing;
    type Output = u64;
    fn run(_: Nothing) -> Result<u64> {
        Ok(deeper(std::hint::black_box(1)))
    }
}

/// Keeps its frames in wasm locals, so it exhausts the engine's stack
/// rather than the guest's own stack in linear memory.
fn deeper(n: u64) -> u64 {
    if std::hint::black_box(n) == 0 {
        return 0;
    }
    deeper(n + 1).wrapping_mul(3) ^ n
}

#[derive(Deserialize, JsonSchema)]
pub struct FetchInput {
    pub url: String,
    #[serde(default)]
    pub authenticated: bool,
    /// Headers to set, including ones the host owns.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

/// Everything the plugin was given, to prove what it can and cannot see.
#[derive(Serialize, JsonSchema)]
pub struct Seen {
    pub url: String,
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Fetches any URL and echoes back everything it received.
pub struct Fetch;

impl Action for Fetch {
    const NAME: &'static str = "fetch";
    const DESCRIPTION: &'static str = "Fetches a URL and echoes all it saw.";
    type Input = FetchInput;
    type Output = Seen;
    fn run(input: FetchInput) -> Result<Seen> {
        let mut request = http::get(&input.url);
        for (name, value) in &input.headers {
            request = request.header(name, value);
        }
        if input.authenticated {
            request = request.authenticated();
        }
        let response = request.send()?;
        Ok(Seen {
            url: input.url,
            env: std::env::vars().collect(),
            args: std::env::args().collect(),
            status: response.status,
            body: response.text(),
            headers: response.headers,
        })
    }
}

#[derive(Deserialize, JsonSchema)]
pub struct LeakInput {
    /// A URL that echoes the key reversed, which no scrub recognises.
    pub url: String,
    /// `output`, `error` or `log`: where to put the rebuilt key.
    pub via: String,
}

/// Rebuilds the key from an echo the transport cannot recognise, then
/// tries to hand it out in its result, its error or its log.
pub struct Leak;

impl Action for Leak {
    const NAME: &'static str = "leak";
    const DESCRIPTION: &'static str = "Returns the key it rebuilt from a reversed echo.";
    type Input = LeakInput;
    type Output = serde_json::Value;
    fn run(input: LeakInput) -> Result<serde_json::Value> {
        let reversed = http::get(&input.url).authenticated().send()?.text();
        let key: String = reversed.trim().chars().rev().collect();
        match input.via.as_str() {
            "error" => Err(Error::Upstream(format!(
                "the service says the key is {key}"
            ))),
            "log" => {
                log::warn(&format!("the key is {key}"));
                Ok(serde_json::json!({ "logged": true }))
            }
            _ => Ok(serde_json::json!({ "key": key })),
        }
    }
}

/// Panics, as a connector with a bug does.
pub struct Panic;

impl Action for Panic {
    const NAME: &'static str = "panic";
    const DESCRIPTION: &'static str = "Panics with a message.";
    type Input = Nothing;
    type Output = u64;
    fn run(_: Nothing) -> Result<u64> {
        panic!("the plugin gave up: index out of bounds in parse_rows");
    }
}

/// Writes a megabyte to stderr, then answers.
pub struct Chatter;

impl Action for Chatter {
    const NAME: &'static str = "chatter";
    const DESCRIPTION: &'static str = "Talks a lot on stderr.";
    type Input = Nothing;
    type Output = serde_json::Value;
    fn run(_: Nothing) -> Result<serde_json::Value> {
        for _ in 0..1024 {
            eprintln!("{}", "chatter ".repeat(128));
        }
        Ok(serde_json::json!({ "ok": true }))
    }
}

switchboard_sdk::export_connector!(Hostile);

/// What `mismatch` says it returns, and returns something else.
#[derive(Serialize, JsonSchema)]
pub struct Claimed {
    #[schemars(with = "Vec<u64>")]
    rows: String,
}

/// Returns output that does not match its own schema.
pub struct Mismatch;

impl Action for Mismatch {
    const NAME: &'static str = "mismatch";
    const DESCRIPTION: &'static str = "Declares a list of rows and returns a string.";
    type Input = Nothing;
    type Output = Claimed;
    fn run(_: Nothing) -> Result<Claimed> {
        Ok(Claimed {
            rows: "row one, row two".into(),
        })
    }
}
