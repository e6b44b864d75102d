//! Semrush Analytics API v3 (`api.semrush.com`) and the API units balance
//! (`www.semrush.com/users/countapiunits.html`), on one loopback port,
//! over HTTPS under those names (and `oauth.semrush.com`).
//!
//! Faithful where the connector depends on it: the key in the query string,
//! `;`-separated CSV with full column names and `\r\n` line ends, only the
//! requested `export_columns`, `ERROR n :: MESSAGE` bodies (403 for key and
//! balance errors, as recently observed), `display_limit` honoured and every
//! returned line billed (all lines, up to 10,000, when the limit is missing),
//! and reports cut short when the balance runs out.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The host names the mock answers for, as its certificate names them: route
/// each of them to [`crate::Running::addr`].
pub const HOSTS: &[&str] = &["api.semrush.com", "www.semrush.com", "oauth.semrush.com"];

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The `Host` header, e.g. `api.semrush.com`.
    pub host: String,
    pub path: String,
    pub query: Vec<(String, String)>,
}

impl Recorded {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Books {
    /// API key → units left.
    units: HashMap<String, u64>,
    requests: Vec<Recorded>,
}

/// The mock's state; clone it freely.
#[derive(Clone, Default)]
pub struct Semrush {
    books: Arc<Mutex<Books>>,
    /// How long a report takes to answer, in µs (0: at once).
    report_time_us: Arc<AtomicU64>,
    /// Whether requests are kept for [`Semrush::requests`] (unless a
    /// benchmark turns it off: it makes hundreds of thousands).
    forgetful: Arc<AtomicBool>,
}

impl Semrush {
    pub fn new() -> Self {
        Self::default()
    }

    fn books(&self) -> MutexGuard<'_, Books> {
        self.books
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Issue an API key with a balance of units.
    pub fn add_key(&self, key: &str, units: u64) -> &Self {
        self.books().units.insert(key.to_owned(), units);
        self
    }

    /// Answer each report after `time`, as the real API does after tens to
    /// hundreds of milliseconds.
    pub fn answer_reports_after(&self, time: Duration) {
        let us = u64::try_from(time.as_micros()).unwrap_or(u64::MAX);
        self.report_time_us.store(us, Ordering::Relaxed);
    }

    /// Stop keeping requests: [`Semrush::requests`] then answers none.
    pub fn forget_requests(&self) {
        self.forgetful.store(true, Ordering::Relaxed);
    }

    /// Forget a key, as if its owner had it disabled.
    pub fn revoke_key(&self, key: &str) {
        self.books().units.remove(key);
    }

    pub fn units(&self, key: &str) -> Option<u64> {
        self.books().units.get(key).copied()
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.books().requests.clone()
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(report))
            .route("/users/countapiunits.html", get(balance))
            .with_state(self.clone())
    }

    /// Starts it over HTTPS for [`HOSTS`] on a free loopback port.
    pub async fn start(&self) -> std::io::Result<crate::Running> {
        crate::serve(self.router(), HOSTS).await
    }

    fn record(&self, headers: &HeaderMap, path: &str, query: &[(String, String)]) {
        if self.forgetful.load(Ordering::Relaxed) {
            return;
        }
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        self.books().requests.push(Recorded {
            host,
            path: path.to_owned(),
            query: query.to_vec(),
        });
    }
}

fn error(status: StatusCode, code: u32, message: &str) -> Response {
    (status, format!("ERROR {code} :: {message}")).into_response()
}

async fn balance(
    State(mock): State<Semrush>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    mock.record(&headers, "/users/countapiunits.html", &query);
    let key = query
        .iter()
        .find(|(k, _)| k == "key")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    match mock.units(&key) {
        Some(units) => group_thousands(units).into_response(),
        // The balance endpoint answers a bad key in JSON, echoing the key.
        None => (
            StatusCode::FORBIDDEN,
            [("content-type", "application/json")],
            serde_json::json!({ "errors": [{ "field": "key", "message": format!("invalid api key: {key}") }] }).to_string(),
        )
            .into_response(),
    }
}

async fn report(
    State(mock): State<Semrush>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    mock.record(&headers, "/", &query);
    let report_time = mock.report_time_us.load(Ordering::Relaxed);
    if report_time > 0 {
        tokio::time::sleep(Duration::from_micros(report_time)).await;
    }
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let Some(key) = param("key") else {
        return error(StatusCode::FORBIDDEN, 122, "WRONG FORMAT OR EMPTY KEY");
    };
    let Some(report_type) = param("type") else {
        return error(
            StatusCode::BAD_REQUEST,
            40,
            "MANDATORY PARAMETER \"type\" NOT SET OR EMPTY",
        );
    };
    let Some(units) = mock.units(key) else {
        return error(StatusCode::FORBIDDEN, 120, "WRONG KEY - ID PAIR");
    };
    if units == 0 {
        return error(StatusCode::FORBIDDEN, 132, "API UNITS BALANCE IS ZERO");
    }
    let (subject_param, price, rows) = match report_type {
        "phrase_this" => (
            "phrase",
            10,
            phrase_this(param("phrase"), param("database")),
        ),
        "phrase_related" => (
            "phrase",
            40,
            phrase_related(param("phrase"), param("database")),
        ),
        "domain_organic" => (
            "domain",
            10,
            domain_organic(param("domain"), param("database")),
        ),
        _ => return error(StatusCode::BAD_REQUEST, 135, "API REPORT TYPE DISABLED"),
    };
    if param(subject_param).is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            41,
            &format!("MANDATORY PARAMETER \"{subject_param}\" NOT SET OR EMPTY"),
        );
    }
    if param("database").is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            42,
            "MANDATORY PARAMETER \"database\" NOT SET OR EMPTY",
        );
    }
    let Some(mut rows) = rows else {
        return error(StatusCode::OK, 50, "NOTHING FOUND");
    };
    // A missing or zero limit means everything, up to 10,000 lines.
    let limit = param("display_limit")
        .and_then(|l| l.parse().ok())
        .filter(|&l: &usize| l > 0)
        .unwrap_or(10_000);
    let offset = param("display_offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0usize);
    rows = rows.into_iter().skip(offset).take(limit).collect();
    // Bill each line; when the balance runs out, send only what it paid for.
    let affordable = (units / price) as usize;
    rows.truncate(affordable);
    mock.books()
        .units
        .insert(key.to_owned(), units - rows.len() as u64 * price);
    if rows.is_empty() {
        return error(StatusCode::OK, 50, "NOTHING FOUND");
    }
    let columns: Vec<&str> = param("export_columns")
        .unwrap_or("Ph,Nq,Cp,Co,Nr,Td")
        .split(',')
        .collect();
    csv(&columns, &rows)
}

/// A report line: column code → cell.
type Row = HashMap<&'static str, String>;

fn csv(columns: &[&str], rows: &[Row]) -> Response {
    let header: Vec<&str> = columns.iter().map(|c| column_name(c)).collect();
    let mut body = header.join(";");
    body.push_str("\r\n");
    for row in rows {
        let cells: Vec<&str> = columns
            .iter()
            .map(|c| row.get(c).map(String::as_str).unwrap_or(""))
            .collect();
        body.push_str(&cells.join(";"));
        body.push_str("\r\n");
    }
    ([("content-type", "text/csv; charset=utf-8")], body).into_response()
}

fn column_name(code: &str) -> &'static str {
    match code {
        "Ph" => "Keyword",
        "Nq" => "Search Volume",
        "Cp" => "CPC",
        "Co" => "Competition",
        "Nr" => "Number of Results",
        "Td" => "Trends",
        "In" => "Intent",
        "Kd" => "Keyword Difficulty Index",
        "Rr" => "Related Relevance",
        "Fk" => "SERP Features",
        "Po" => "Position",
        "Pp" => "Previous Position",
        "Pd" => "Position Difference",
        "Ur" => "Url",
        "Tr" => "Traffic (%)",
        "Tc" => "Traffic Cost (%)",
        "Db" => "Database",
        "Dt" => "Date",
        _ => "Unknown",
    }
}

/// (keyword, volume, cpc, competition, results, trends) in the `us` database.
const KEYWORDS: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "seo",
        "110000",
        "14.82",
        "0.5",
        "678000000",
        "0.81,1.00,1.00,1.00,1.00,0.81,0.81,0.81,0.81,0.81,0.81,0.81",
    ),
    (
        "best seo",
        "880",
        "6.55",
        "0.33",
        "631000000",
        "0.45,0.77,1.00,0.45,0.77,0.77,1.00,0.68,0.45,0.55,0.68,0.55",
    ),
    (
        "seo tools",
        "12100",
        "9.61",
        "0.61",
        "512000000",
        "0.67,0.82,0.82,1.00,0.82,0.82,0.82,0.67,0.67,0.82,0.82,0.82",
    ),
    (
        "seo audit",
        "4400",
        "11.20",
        "0.44",
        "98400000",
        "0.81,0.81,1.00,1.00,0.81,0.81,0.66,0.66,0.81,0.81,0.81,0.81",
    ),
    (
        "local seo",
        "9900",
        "17.05",
        "0.39",
        "301000000",
        "0.82,0.82,1.00,1.00,1.00,0.82,0.82,0.82,0.82,0.82,0.67,0.82",
    ),
    (
        "seo meaning",
        "6600",
        "3.12",
        "0.02",
        "1120000000",
        "1.00,0.81,0.81,0.81,0.81,0.81,0.81,0.81,0.66,0.81,0.81,0.81",
    ),
    (
        "content marketing",
        "33100",
        "12.47",
        "0.27",
        "1450000000",
        "0.82,0.82,1.00,1.00,1.00,0.82,0.82,0.82,0.67,0.82,0.82,0.82",
    ),
];

fn keyword_row(k: &(&str, &str, &str, &str, &str, &str)) -> Row {
    let (ph, nq, cp, co, nr, td) = *k;
    [
        ("Ph", ph),
        ("Nq", nq),
        ("Cp", cp),
        ("Co", co),
        ("Nr", nr),
        ("Td", td),
    ]
    .into_iter()
    .map(|(c, v)| (c, v.to_owned()))
    .collect()
}

fn known_database(database: Option<&str>) -> bool {
    matches!(database, Some("us" | "uk" | "de" | "mobile-us"))
}

fn phrase_this(phrase: Option<&str>, database: Option<&str>) -> Option<Vec<Row>> {
    let phrase = phrase?.to_lowercase();
    if !known_database(database) {
        return None;
    }
    KEYWORDS
        .iter()
        .find(|k| k.0 == phrase)
        .map(|k| vec![keyword_row(k)])
}

fn phrase_related(phrase: Option<&str>, database: Option<&str>) -> Option<Vec<Row>> {
    let phrase = phrase?.to_lowercase();
    if !known_database(database) || !KEYWORDS.iter().any(|k| k.0 == phrase) {
        return None;
    }
    let mut related: Vec<Row> = KEYWORDS
        .iter()
        .filter(|k| k.0 != phrase && (k.0.contains(&phrase) || phrase.contains(k.0)))
        .enumerate()
        .map(|(i, k)| {
            let mut row = keyword_row(k);
            row.insert("Rr", format!("{:.2}", 0.9 - i as f64 * 0.1));
            row.insert("Fk", "4,6,11,22".to_owned());
            row
        })
        .collect();
    related.sort_by_key(|r| std::cmp::Reverse(r["Nq"].parse::<u64>().unwrap_or(0)));
    (!related.is_empty()).then_some(related)
}

/// (domain, keyword, position, previous, url path, traffic %, traffic cost %).
const RANKINGS: &[(&str, &str, &str, &str, &str, &str, &str)] = &[
    ("seobook.com", "seo", "9", "10", "/", "17.53", "44.40"),
    (
        "seobook.com",
        "seo tools",
        "3",
        "3",
        "/tools/",
        "12.02",
        "21.77",
    ),
    (
        "seobook.com",
        "seo audit",
        "14",
        "11",
        "/audit/",
        "1.20",
        "2.03",
    ),
    (
        "seobook.com",
        "best seo",
        "6",
        "8",
        "/learn-seo/",
        "0.88",
        "0.61",
    ),
];

fn domain_organic(domain: Option<&str>, database: Option<&str>) -> Option<Vec<Row>> {
    let domain = domain?.to_lowercase();
    if !known_database(database) {
        return None;
    }
    let rows: Vec<Row> = RANKINGS
        .iter()
        .filter(|r| r.0 == domain)
        .filter_map(|&(domain, keyword, po, pp, path, tr, tc)| {
            let mut row = keyword_row(KEYWORDS.iter().find(|k| k.0 == keyword)?);
            let difference = pp.parse::<i64>().unwrap_or(0) - po.parse::<i64>().unwrap_or(0);
            row.insert("Po", po.to_owned());
            row.insert("Pp", pp.to_owned());
            row.insert("Pd", difference.to_string());
            row.insert("Ur", format!("http://www.{domain}{path}"));
            row.insert("Tr", tr.to_owned());
            row.insert("Tc", tc.to_owned());
            Some(row)
        })
        .collect();
    (!rows.is_empty()).then_some(rows)
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
