//! Prometheus metrics: requests, decisions by outcome and policy, plugin
//! calls and their latency, token refreshes. One registry per engine.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

/// Labels of `switchboard_http_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The HTTP method, e.g. `GET`.
    pub method: String,
    /// The route pattern, e.g. `/v1/workspaces/{workspace}/integrations`.
    pub route: String,
    /// The HTTP status code of the answer.
    pub status: u16,
}

/// Labels of `switchboard_http_request_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route pattern, or `unmatched`.
    pub route: String,
}

/// Labels of `switchboard_decisions_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    /// The Cedar action's id, e.g. `enableIntegration`.
    pub action: String,
    /// `allow` or `deny`.
    pub outcome: String,
    /// The first determining policy, or `none`.
    pub policy: String,
}

/// Labels of `switchboard_plugin_calls_total` and
/// `switchboard_token_refreshes_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// The integration's id.
    pub integration: String,
    /// For a plugin call `ok` or `error`; for a refresh `ok`, `dead` or
    /// `failed`.
    pub outcome: String,
}

/// Labels of `switchboard_plugin_call_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IntegrationLabels {
    /// The integration's id.
    pub integration: String,
}

fn latency() -> Histogram {
    // 0.5 ms to ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The engine's Prometheus metrics, named with the `switchboard_` prefix.
pub struct Metrics {
    registry: Registry,
    /// HTTP requests answered, by method, route and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Time to answer an HTTP request (seconds), by route.
    pub request_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// Policy decisions, by action, outcome and first determining policy.
    pub decisions: Family<DecisionLabels, Counter>,
    /// Calls into connector plugins, by integration and outcome.
    pub plugin_calls: Family<CallLabels, Counter>,
    /// Time of a plugin call, HTTP included (seconds), by integration.
    pub plugin_call_seconds: Family<IntegrationLabels, Histogram, fn() -> Histogram>,
    /// OAuth access-token refreshes, by integration and outcome.
    pub refreshes: Family<CallLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("switchboard");
        let requests = Family::default();
        let request_seconds = Family::new_with_constructor(latency as fn() -> Histogram);
        let decisions = Family::default();
        let plugin_calls = Family::default();
        let plugin_call_seconds = Family::new_with_constructor(latency as fn() -> Histogram);
        let refreshes = Family::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_seconds",
            "Time to answer an HTTP request",
            request_seconds.clone(),
        );
        registry.register("decisions", "Policy decisions", decisions.clone());
        registry.register(
            "plugin_calls",
            "Calls into connector plugins",
            plugin_calls.clone(),
        );
        registry.register(
            "plugin_call_seconds",
            "Time of a plugin call, HTTP included",
            plugin_call_seconds.clone(),
        );
        registry.register(
            "token_refreshes",
            "OAuth access token refreshes",
            refreshes.clone(),
        );
        Metrics {
            registry,
            requests,
            request_seconds,
            decisions,
            plugin_calls,
            plugin_call_seconds,
            refreshes,
        }
    }
}

impl Metrics {
    /// Counts and times one call into a plugin, as `ok` or `error`.
    pub fn plugin_call(&self, integration: &str, ok: bool, took: Duration) {
        let outcome = if ok { "ok" } else { "error" }.to_owned();
        self.plugin_calls
            .get_or_create(&CallLabels {
                integration: integration.to_owned(),
                outcome,
            })
            .inc();
        self.plugin_call_seconds
            .get_or_create(&IntegrationLabels {
                integration: integration.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// Counts one access-token refresh: `ok`, `dead` (the grant is gone)
    /// or `failed` (worth trying again later).
    pub fn refresh(&self, integration: &str, outcome: &'static str) {
        self.refreshes
            .get_or_create(&CallLabels {
                integration: integration.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
