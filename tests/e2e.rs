//! The end-to-end suites, one module each, in one test binary: every test
//! binary links wasmtime, so a binary per suite cost a link and a quarter
//! gigabyte of disk apiece. Run one suite with its name as the filter, e.g.
//! `cargo test -p switchboard-e2e --test e2e -- scenarios::`. The fairness
//! test, which times calls against each other, keeps a binary of its own so
//! that no other test loads the machine while it measures.

mod crash;
mod nodes;
mod oauth;
mod outage;
mod policies;
mod postgres;
mod reload;
mod sandbox;
mod scenarios;
mod secrets;
mod semrush;
mod sharepoint;
mod trust;
mod zendesk;
