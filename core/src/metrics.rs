//! Prometheus metrics: requests, decisions by outcome and policy, plugin
//! calls and their latency, where an integration call's time goes, token
//! refreshes. One registry per engine. The labels of decisions, plugin
//! calls and call phases that come from fixed sets are `&'static str`, so
//! counting a call allocates no text for them.

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
    pub action: &'static str,
    /// `allow` or `deny`.
    pub outcome: &'static str,
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
    pub outcome: &'static str,
}

/// Labels of `switchboard_call_phase_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    /// One of [`CallPhase`]'s names.
    pub phase: &'static str,
}

/// The phases of an integration call, in the order they run. A phase that
/// did not run (a call refused before its instance was made) is not
/// recorded; a call retried after refreshing its token records its sandbox
/// phases once per attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallPhase {
    /// Reading what the call needs from the store.
    Store,
    /// Asking the policies (and the approval check).
    Decide,
    /// Opening the credential (refreshing a token if it is due).
    Unseal,
    /// Checking the input and the output against the action's schemas (the
    /// output parsed first), and taking the plugin's turn.
    Checks,
    /// Making the call's fresh instance.
    Instantiate,
    /// The guest's own work and crossing into it.
    Guest,
    /// In the host's HTTP gate: its checks, the requests and waiting for
    /// the services' answers.
    HostHttp,
}

impl CallPhase {
    /// Every phase, in order.
    pub const ALL: [CallPhase; 7] = [
        CallPhase::Store,
        CallPhase::Decide,
        CallPhase::Unseal,
        CallPhase::Checks,
        CallPhase::Instantiate,
        CallPhase::Guest,
        CallPhase::HostHttp,
    ];

    /// The phase's label.
    pub fn name(self) -> &'static str {
        match self {
            CallPhase::Store => "store",
            CallPhase::Decide => "decide",
            CallPhase::Unseal => "unseal",
            CallPhase::Checks => "checks",
            CallPhase::Instantiate => "instantiate",
            CallPhase::Guest => "guest",
            CallPhase::HostHttp => "host_http",
        }
    }
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

fn phase_time() -> Histogram {
    // 1 µs to ~16 s: most phases take microseconds.
    Histogram::new(exponential_buckets(0.000_001, 2.0, 25))
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
    /// `switchboard_call_phase_seconds`, one series per [`CallPhase`] in
    /// its order: made once, so timing a call looks nothing up.
    call_phases: [Histogram; CallPhase::ALL.len()],
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
        let call_phase_seconds: Family<PhaseLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(phase_time);
        // A series shares its family's state, so observing it is observing there.
        let call_phases = CallPhase::ALL.map(|phase| {
            call_phase_seconds
                .get_or_create(&PhaseLabels {
                    phase: phase.name(),
                })
                .clone()
        });
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
            "call_phase_seconds",
            "Time of each phase of an integration call",
            call_phase_seconds,
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
            call_phases,
            refreshes,
        }
    }
}

impl Metrics {
    /// Counts and times one call into a plugin, as `ok` or `error`.
    pub fn plugin_call(&self, integration: &str, ok: bool, took: Duration) {
        self.plugin_calls
            .get_or_create(&CallLabels {
                integration: integration.to_owned(),
                outcome: if ok { "ok" } else { "error" },
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
                outcome,
            })
            .inc();
    }

    /// Times one phase of an integration call.
    pub fn call_phase(&self, phase: CallPhase, took: Duration) {
        self.call_phases[phase as usize].observe(took.as_secs_f64());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_phase_is_counted_under_its_own_name() {
        let metrics = Metrics::default();
        metrics.call_phase(CallPhase::Guest, Duration::from_micros(5));
        let page = metrics.render();
        for (phase, count) in [("guest", 1), ("store", 0), ("host_http", 0)] {
            let line = format!("switchboard_call_phase_seconds_count{{phase=\"{phase}\"}} {count}");
            assert!(page.contains(&line), "{line} not in {page}");
        }
    }
}
