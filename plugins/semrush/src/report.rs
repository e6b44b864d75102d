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
    let unexpected = |e: csv::Error| Error::Upstream(format!("unexpected Semrush report: {e}"));
    let Some(records) = plain_records(body) else {
        return csv::ReaderBuilder::new()
            .delimiter(DELIMITER)
            .from_reader(body.as_bytes())
            .deserialize()
            .collect::<Result<Vec<Row>, _>>()
            .map_err(unexpected);
    };
    let mut records = records.into_iter();
    let Some(headers) = records.next() else {
        return Ok(Vec::new());
    };
    records
        .map(|record| {
            if record.len() != headers.len() {
                return Err(Error::Upstream(format!(
                    "unexpected Semrush report: a line has {} fields, the header {}",
                    record.len(),
                    headers.len()
                )));
            }
            record.deserialize(Some(&headers)).map_err(unexpected)
        })
        .collect()
}

const DELIMITER: u8 = b';';

/// The records of a body with no quotes, byte-order mark or lone carriage
/// return, split as `csv::Reader` splits them (blank lines skipped); `None`
/// when the body needs the reader. Building a reader costs more than the
/// rest of a call (its state machine is made anew each time, ~10 µs native),
/// and Semrush's reports are plain.
fn plain_records(body: &str) -> Option<Vec<csv::StringRecord>> {
    if body.contains('"') || body.starts_with('\u{feff}') {
        return None;
    }
    let mut records = Vec::new();
    for line in body.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.contains('\r') {
            return None;
        }
        if !line.is_empty() {
            records.push(line.split(char::from(DELIMITER)).collect());
        }
    }
    Some(records)
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

    /// Every record, as `csv::Reader` reads it.
    fn read_by_the_reader(body: &str) -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .delimiter(DELIMITER)
            .has_headers(false)
            .from_reader(body.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn plain_bodies_split_as_the_csv_reader_reads_them() {
        for body in [
            "Keyword;CPC\r\nseo;1.5\r\n",
            "Keyword;CPC\nseo;1.5",
            "Keyword;CPC\n\nseo;1.5\n\n",
            "Keyword;CPC\r\n\r\nseo;\r\n",
            "Keyword;Trends\nseo;0.81,1.00\n",
            "",
        ] {
            let split: Vec<Vec<String>> = plain_records(body)
                .unwrap()
                .iter()
                .map(|r| r.iter().map(str::to_owned).collect())
                .collect();
            assert_eq!(split, read_by_the_reader(body), "{body:?}");
        }
        for body in [
            "Keyword;CPC\n\"se;o\";1\n",
            "\u{feff}Keyword\nseo",
            "a\rb\n",
        ] {
            assert!(plain_records(body).is_none(), "{body:?}");
        }
    }

    #[test]
    fn quoted_fields_are_read_by_the_csv_reader() {
        let body = "Keyword;Search Volume;CPC;Competition;Number of Results;Trends\n\
                    \"seo; tools\";10;1.5;0.5;100;\"0.5,1\"\n";
        let rows: Vec<Keyword> = parse_rows(body).unwrap();
        assert_eq!(rows[0].keyword, "seo; tools");
        assert_eq!(rows[0].trends, [0.5, 1.0]);
    }

    #[test]
    fn a_line_with_missing_fields_is_refused() {
        let body = "Keyword;Search Volume\nseo\n";
        let error = parse_rows::<Keyword>(body).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("a line has 1 fields, the header 2"),
            "{error}"
        );
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
