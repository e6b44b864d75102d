//! One engine node of a cluster test: `switchboard serve` as the real
//! binary runs it (the same engine, HTTP API and webhooks), except that the
//! services' hosts are routed to the test's mocks, which only code can do.
//!
//! Usage: node <listen addr> <data url> <key file> <plugins dir> <policies dir>
//!             <mocks' CA file> <Microsoft mock addr> <Semrush mock addr>
//!             <redirect URI> [<webhook URL>]

use std::net::SocketAddr;
use switchboard::engine::ReturnUrls;
use switchboard::model::IntegrationId;
use switchboard::net::Routes;
use switchboard::oauth::{ClientAuth, MicrosoftTenant, Provider, Registration};
use switchboard::vault::{KeySource, Secret};
use switchboard::{Engine, EngineConfig, Location};
use switchboard_server::starting::Listener;
use switchboard_server::{Console, ServiceTokens, edge::EdgeLimits, webhooks::Webhooks};

use switchboard_e2e::node::{CLIENT_ID, CLIENT_SECRET, TOKEN, WEBHOOK_SECRET};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |n: usize| args.get(n).expect("see the usage").as_str();
    let listen: SocketAddr = arg(0).parse().expect("a listen address");
    let mut config = EngineConfig::new(Location::parse(arg(1)), arg(3), arg(4));
    config.key = KeySource::EnvOrFile(arg(2).into());
    config.watch_policies = false;
    let ca = std::fs::read_to_string(arg(5)).expect("the mocks' CA");
    let mut routes = Routes::default().trust(&ca);
    let (microsoft, semrush): (SocketAddr, SocketAddr) = (
        arg(6).parse().expect("an address"),
        arg(7).parse().expect("an address"),
    );
    for host in switchboard_mocks::microsoft::HOSTS {
        routes = routes.route(host, microsoft);
    }
    for host in switchboard_mocks::semrush::HOSTS {
        routes = routes.route(host, semrush);
    }
    config.host.routes = routes;
    // Sixty calls of one member at once are what the cluster tests send.
    config.call_shares.per_member = 64;
    config.call_shares.per_workspace = 64;
    config.host.limits.calls_per_plugin = 64;
    config.host.limits.concurrent_calls = 64;
    config.oauth.insert(
        IntegrationId::new("sharepoint"),
        Registration {
            client_id: CLIENT_ID.into(),
            auth: ClientAuth::SecretPost(Secret::new(CLIENT_SECRET)),
            redirect_uri: arg(8).into(),
            provider: Provider::Microsoft(MicrosoftTenant::parse("common").expect("a tenant")),
        },
    );
    config.return_urls =
        ReturnUrls::new(&[], Some("https://app.example/integrations")).expect("a return URL");
    let webhooks = args.get(9).map(|url| Webhooks {
        urls: vec![url.clone()],
        secret: Secret::new(WEBHOOK_SECRET),
    });
    let listener = Listener::bind(listen).expect("the port");
    let engine = Engine::open(config).await.expect("the engine opens");
    switchboard_server::run(
        engine,
        listener,
        ServiceTokens::default().with_token(TOKEN),
        webhooks,
        EdgeLimits::default(),
        Console::HostHandsToken,
    )
    .await
    .expect("serving");
}
