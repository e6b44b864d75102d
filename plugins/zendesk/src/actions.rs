//! The three ticket actions, as typed actions.

use crate::api;
use serde::{Deserialize, Serialize};
use switchboard_sdk::{Action, JsonSchema, Result};

/// Zendesk's largest page.
const MAX_PAGE: u32 = 100;

fn default_page() -> u32 {
    25
}

/// A ticket, as the pages show it.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Ticket {
    pub id: u64,
    /// May be empty: a ticket's subject is optional in Zendesk.
    #[serde(default)]
    pub subject: Option<String>,
    /// `new`, `open`, `pending`, `hold`, `solved` or `closed`.
    pub status: String,
    /// `urgent`, `high`, `normal` or `low`; none if unset.
    #[serde(default)]
    pub priority: Option<String>,
    /// ISO 8601, e.g. `2026-11-30T09:15:00Z`.
    pub created_at: String,
    pub updated_at: String,
    /// The first comment's text.
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Tickets {
    pub tickets: Vec<Ticket>,
    /// Whether Zendesk has more than this page.
    pub more: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchInput {
    /// Zendesk search syntax, e.g. `status:open printer`; only tickets
    /// are searched.
    #[schemars(length(min = 1, max = 1000))]
    pub query: String,
    /// Tickets to return.
    #[serde(default = "default_page")]
    #[schemars(range(min = 1, max = 100))]
    pub per_page: u32,
}

pub struct SearchTickets;

impl Action for SearchTickets {
    const NAME: &'static str = "search_tickets";
    const DESCRIPTION: &'static str =
        "Find tickets with Zendesk's search syntax, e.g. `status:open printer`.";
    type Input = SearchInput;
    type Output = Tickets;

    fn run(input: SearchInput) -> Result<Tickets> {
        #[derive(Deserialize)]
        struct Found {
            results: Vec<Ticket>,
            next_page: Option<String>,
        }
        let query = format!("type:ticket {}", input.query);
        let per_page = input.per_page.clamp(1, MAX_PAGE).to_string();
        let found: Found = api::get(
            "/api/v2/search.json",
            &[("query", &query), ("per_page", &per_page)],
        )?;
        Ok(Tickets {
            tickets: found.results,
            more: found.next_page.is_some(),
        })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecentInput {
    /// Tickets to return, most recently updated first.
    #[serde(default = "default_page")]
    #[schemars(range(min = 1, max = 100))]
    pub limit: u32,
}

pub struct RecentTickets;

impl Action for RecentTickets {
    const NAME: &'static str = "recent_tickets";
    const DESCRIPTION: &'static str = "The tickets updated most recently.";
    type Input = RecentInput;
    type Output = Tickets;

    fn run(input: RecentInput) -> Result<Tickets> {
        #[derive(Deserialize)]
        struct Meta {
            has_more: bool,
        }
        #[derive(Deserialize)]
        struct Page {
            tickets: Vec<Ticket>,
            meta: Meta,
        }
        // Cursor pagination: `page[size]` tickets, newest update first.
        let size = input.limit.clamp(1, MAX_PAGE).to_string();
        let page: Page = api::get(
            "/api/v2/tickets.json",
            &[("page[size]", &size), ("sort", "-updated_at")],
        )?;
        Ok(Tickets {
            tickets: page.tickets,
            more: page.meta.has_more,
        })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketInput {
    /// The ticket's number, as Zendesk shows it (`#123`, without `#`).
    #[schemars(range(min = 1))]
    pub id: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct OneTicket {
    pub ticket: Ticket,
}

pub struct GetTicket;

impl Action for GetTicket {
    const NAME: &'static str = "get_ticket";
    const DESCRIPTION: &'static str = "One ticket by its number, with its description.";
    type Input = TicketInput;
    type Output = OneTicket;

    fn run(input: TicketInput) -> Result<OneTicket> {
        #[derive(Deserialize)]
        struct Answer {
            ticket: Ticket,
        }
        let answer: Answer = api::get(&format!("/api/v2/tickets/{}.json", input.id), &[])?;
        Ok(OneTicket {
            ticket: answer.ticket,
        })
    }
}
