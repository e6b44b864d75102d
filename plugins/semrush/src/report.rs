//! Calling a v3 report and reading its semicolon-separated answer.

use serde::de::DeserializeOwned;
use switchboard_sdk::{Error, Result, http};

pub const API_HOST: &str = "api.semrush.com";

/// Request a report. `limit` is always sent as `display_limit`.
pub fn fetch<Row: DeserializeOwned>(
    report_type: &str,
    params: &[(&str, &str)],
    columns: &str,
    limit: u32,
) -> Result<Vec<Row>> {
    let limit = limit.to_string();
    let mut request = http::get(&format!("https://{API_HOST}/"))
        .query("type", report_type)
        .query("export_columns", columns)
        .query("display_limit", &limit);
    for (name, value) in params {
        request = request.query(name, value);
    }
    let response = request.authenticated().send()?;
    let body = response.text();
    // Semrush reports errors in the body, with 200 or 403 alike.
    if let Some(error) = error_in(&body) {
        return match error {
            Error::NotFound(_) => Ok(Vec::new()),
            other => Err(other),
        };
    }
    if !response.is_success() {
        return Err(Error::Upstream(format!(
            "Semrush answered HTTP {}",
            response.status
        )));
    }
    parse_rows(&body)
}

/// Reads an `ERROR <n> :: <MESSAGE>` body into the error it means.
pub fn error_in(body: &str) -> Option<Error> {
    let rest = body.trim().strip_prefix("ERROR ")?;
    let (code, message) = rest.split_once("::")?;
    let code: u32 = code.trim().parse().ok()?;
    let reason = format!("Semrush: {} (ERROR {code})", message.trim());
    Some(match code {
        50 => Error::NotFound(reason),
        40..=45 => Error::InvalidInput(reason),
        70 | 120 | 121 | 122 | 130 => Error::Unauthorized(reason),
        30 | 131 => Error::RateLimited {
            retry_after_ms: Some(1000),
            message: reason,
        },
        _ => Error::Upstream(reason),
    })
}

/// Parses the CSV body (header row of full column names, `;` separated).
pub fn parse_rows<Row: DeserializeOwned>(body: &str) -> Result<Vec<Row>> {
    csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(body.as_bytes())
        .deserialize()
        .collect::<Result<Vec<Row>, _>>()
        .map_err(|e| Error::Upstream(format!("unexpected Semrush report: {e}")))
}

/// Comma-separated numbers in one cell (Trends, SERP Features).
pub fn comma_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let cell: String = serde::Deserialize::deserialize(deserializer)?;
    cell.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::{DomainKeyword, Keyword};

    #[test]
    fn reads_a_phrase_this_report() {
        let body = "Keyword;Search Volume;CPC;Competition;Number of Results;Trends\r\n\
                    seo;110000;14.82;0.5;678000000;0.81,1.00,1.00,1.00,1.00,0.81,0.81,0.81,0.81,0.81,0.81,0.81\r\n";
        let rows: Vec<Keyword> = parse_rows(body).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].keyword, "seo");
        assert_eq!(rows[0].search_volume, 110000);
        assert_eq!(rows[0].trends.len(), 12);
    }

    #[test]
    fn reads_columns_by_name_not_position() {
        let body = "Url;Keyword;Position;Previous Position;Position Difference;Search Volume;CPC;Traffic (%);Traffic Cost (%);Competition;Number of Results;Trends\n\
                    http://www.seobook.com/;seo;9;10;1;110000;14.82;17.53;44.40;0.50;0;0.81,1.00\n";
        let rows: Vec<DomainKeyword> = parse_rows(body).unwrap();
        assert_eq!(rows[0].url, "http://www.seobook.com/");
        assert_eq!(rows[0].position, 9);
    }

    #[test]
    fn maps_error_bodies() {
        assert!(matches!(
            error_in("ERROR 50 :: NOTHING FOUND"),
            Some(Error::NotFound(_))
        ));
        assert_eq!(
            error_in("ERROR 120 :: WRONG KEY - ID PAIR"),
            Some(Error::Unauthorized(
                "Semrush: WRONG KEY - ID PAIR (ERROR 120)".into()
            ))
        );
        assert!(matches!(
            error_in("ERROR 132 :: API UNITS BALANCE IS ZERO"),
            Some(Error::Upstream(_))
        ));
        assert_eq!(error_in("Keyword;Search Volume"), None);
    }
}
