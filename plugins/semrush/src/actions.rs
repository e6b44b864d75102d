//! The three reports, as typed actions.

use crate::report::{self, comma_list};
use serde::{Deserialize, Serialize};
use switchboard_sdk::{Action, Error, JsonSchema, Result};

const MAX_LIMIT: u32 = 100;

fn default_database() -> String {
    "us".to_owned()
}

fn default_limit() -> u32 {
    10
}

/// The regional database and the number of lines, shared by every report.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Regional database, e.g. `us`, `uk`, `de`, `mobile-us`.
    #[serde(default = "default_database")]
    #[schemars(regex(pattern = r"^(mobile-)?[a-z]{2}(-ext)?$"))]
    pub database: String,
    /// Lines to return; Semrush bills each line.
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 100))]
    pub limit: u32,
}

impl Scope {
    fn checked_limit(&self) -> Result<u32> {
        if (1..=MAX_LIMIT).contains(&self.limit) {
            Ok(self.limit)
        } else {
            Err(Error::InvalidInput(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )))
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhraseInput {
    /// The keyword to look up.
    /// Semrush takes phrases of up to 255 characters.
    #[schemars(length(min = 1, max = 255))]
    pub phrase: String,
    #[serde(flatten)]
    pub scope: Scope,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainInput {
    /// The domain whose organic rankings to list, e.g. `seobook.com`.
    /// A host name is at most 253 characters.
    #[schemars(length(min = 1, max = 253))]
    pub domain: String,
    #[serde(flatten)]
    pub scope: Scope,
}

/// A keyword's metrics.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Keyword {
    #[serde(rename(deserialize = "Keyword"))]
    pub keyword: String,
    #[serde(rename(deserialize = "Search Volume"))]
    pub search_volume: u64,
    #[serde(rename(deserialize = "CPC"))]
    pub cpc: f64,
    #[serde(rename(deserialize = "Competition"))]
    pub competition: f64,
    #[serde(rename(deserialize = "Number of Results"))]
    pub results: u64,
    /// Monthly interest over the last 12 months, 0 to 1.
    #[serde(rename(deserialize = "Trends"), deserialize_with = "comma_list")]
    pub trends: Vec<f64>,
}

/// A keyword related to the phrase.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct RelatedKeyword {
    #[serde(flatten)]
    pub keyword: Keyword,
    #[serde(rename(deserialize = "Related Relevance"))]
    pub related_relevance: f64,
    #[serde(rename(deserialize = "SERP Features"), deserialize_with = "comma_list")]
    pub serp_features: Vec<u32>,
}

/// A keyword the domain ranks for.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct DomainKeyword {
    #[serde(rename(deserialize = "Keyword"))]
    pub keyword: String,
    #[serde(rename(deserialize = "Position"))]
    pub position: u32,
    #[serde(rename(deserialize = "Previous Position"))]
    pub previous_position: u32,
    #[serde(rename(deserialize = "Position Difference"))]
    pub position_difference: i32,
    #[serde(rename(deserialize = "Search Volume"))]
    pub search_volume: u64,
    #[serde(rename(deserialize = "CPC"))]
    pub cpc: f64,
    #[serde(rename(deserialize = "Url"))]
    pub url: String,
    #[serde(rename(deserialize = "Traffic (%)"))]
    pub traffic_percent: f64,
    #[serde(rename(deserialize = "Traffic Cost (%)"))]
    pub traffic_cost_percent: f64,
    #[serde(rename(deserialize = "Competition"))]
    pub competition: f64,
    #[serde(rename(deserialize = "Number of Results"))]
    pub results: u64,
    #[serde(rename(deserialize = "Trends"), deserialize_with = "comma_list")]
    pub trends: Vec<f64>,
}

/// The rows of a report; empty when Semrush found nothing.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Rows<T> {
    pub rows: Vec<T>,
}

pub struct KeywordOverview;

impl Action for KeywordOverview {
    const NAME: &'static str = "keyword_overview";
    const DESCRIPTION: &'static str =
        "Search volume, CPC, competition and trend of a keyword in one regional database.";
    const CREDIT_COST: u32 = 1;
    type Input = PhraseInput;
    type Output = Rows<Keyword>;

    fn run(input: PhraseInput) -> Result<Self::Output> {
        let limit = input.scope.checked_limit()?;
        let params = [
            ("phrase", input.phrase.as_str()),
            ("database", &input.scope.database),
        ];
        let rows = report::fetch("phrase_this", &params, "Ph,Nq,Cp,Co,Nr,Td", limit)?;
        Ok(Rows { rows })
    }
}

pub struct RelatedKeywords;

impl Action for RelatedKeywords {
    const NAME: &'static str = "related_keywords";
    const DESCRIPTION: &'static str =
        "Keywords related to a phrase, by search volume, with their relevance.";
    const CREDIT_COST: u32 = 4;
    type Input = PhraseInput;
    type Output = Rows<RelatedKeyword>;

    fn run(input: PhraseInput) -> Result<Self::Output> {
        let limit = input.scope.checked_limit()?;
        let params = [
            ("phrase", input.phrase.as_str()),
            ("database", &input.scope.database),
            ("display_sort", "nq_desc"),
        ];
        let rows = report::fetch("phrase_related", &params, "Ph,Nq,Cp,Co,Nr,Td,Rr,Fk", limit)?;
        Ok(Rows { rows })
    }
}

pub struct DomainOrganicKeywords;

impl Action for DomainOrganicKeywords {
    const NAME: &'static str = "domain_organic_keywords";
    const DESCRIPTION: &'static str =
        "The keywords a domain ranks for in Google's organic results, by traffic share.";
    const CREDIT_COST: u32 = 1;
    type Input = DomainInput;
    type Output = Rows<DomainKeyword>;

    fn run(input: DomainInput) -> Result<Self::Output> {
        let limit = input.scope.checked_limit()?;
        let params = [
            ("domain", input.domain.as_str()),
            ("database", &input.scope.database),
            ("display_sort", "tr_desc"),
        ];
        let columns = "Ph,Po,Pp,Pd,Nq,Cp,Ur,Tr,Tc,Co,Nr,Td";
        let rows = report::fetch("domain_organic", &params, columns, limit)?;
        Ok(Rows { rows })
    }
}
