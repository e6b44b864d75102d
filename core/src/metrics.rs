//! Prometheus metrics: requests, decisions by outcome and policy, plugin
//! calls and their latency, token refreshes. One registry per engine.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route pattern, e.g. `/v1/workspaces/{workspace}/integrations`.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    pub action: String,
    pub outcome: String,
    /// The first determining policy, or `none`.
    pub policy: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub integration: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IntegrationLabels {
    pub integration: String,
}

fn latency() -> Histogram {
    // 0.5 ms to ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub decisions: Family<DecisionLabels, Counter>,
    pub plugin_calls: Family<CallLabels, Counter>,
    pub plugin_call_seconds: Family<IntegrationLabels, Histogram, fn() -> Histogram>,
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
