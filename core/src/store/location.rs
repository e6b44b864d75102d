//! Where the engine's state lives, as an operator names it with `--data`.

use crate::vault::Secret;
use std::fmt;
use std::path::{Path, PathBuf};

/// A redb data file, or a PostgreSQL database by its connection URL.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// The embedded default: one file, one process.
    File(PathBuf),
    /// `postgres://user:password@host:port/database?…`: shared by every
    /// node. The URL may carry a password, so it prints without one.
    Postgres(Secret),
}

impl Location {
    /// `postgres://…`, `postgresql://…` and libpq's `host=… dbname=…` name
    /// a database; anything else is a file path.
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        let url = ["postgres://", "postgresql://"]
            .iter()
            .any(|scheme| text.starts_with(scheme));
        if url || is_conninfo(text) {
            Location::Postgres(Secret::new(text))
        } else {
            Location::File(PathBuf::from(text))
        }
    }

    /// The data file, for what is kept beside it (the key file, the
    /// compiled plugins); a database has none.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Location::File(path) => Some(path),
            Location::Postgres(_) => None,
        }
    }
}

/// libpq's keywords a connection string starts with.
const CONNINFO_KEYS: [&str; 6] = ["host", "hostaddr", "port", "dbname", "user", "password"];

/// Whether `text` is a libpq connection string (`host=db user=sb ...`):
/// every word a `key=value`, the first key one of libpq's.
fn is_conninfo(text: &str) -> bool {
    let mut words = text.split_whitespace();
    words
        .next()
        .and_then(|first| first.split_once('='))
        .is_some_and(|(key, _)| CONNINFO_KEYS.contains(&key))
        && words.all(|word| word.contains('='))
}

impl From<PathBuf> for Location {
    fn from(path: PathBuf) -> Self {
        Location::File(path)
    }
}

impl From<&Path> for Location {
    fn from(path: &Path) -> Self {
        Location::File(path.to_owned())
    }
}

impl From<&PathBuf> for Location {
    fn from(path: &PathBuf) -> Self {
        Location::File(path.clone())
    }
}

impl From<&Location> for Location {
    fn from(location: &Location) -> Self {
        location.clone()
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => match url::Url::parse(url.expose()) {
                Ok(mut shown) => {
                    if shown.password().is_some() {
                        // Cannot fail on a URL that has a password.
                        let _ = shown.set_password(Some("redacted"));
                    }
                    // Query parameters may carry a password too.
                    if shown.query().is_some() {
                        shown.set_query(Some("…"));
                    }
                    write!(f, "{shown}")
                }
                Err(_) if is_conninfo(url.expose()) => {
                    let words: Vec<String> = url
                        .expose()
                        .split_whitespace()
                        .map(|word| match word.split_once('=') {
                            Some(("password", _)) => "password=redacted".to_owned(),
                            _ => word.to_owned(),
                        })
                        .collect();
                    f.write_str(&words.join(" "))
                }
                Err(_) => f.write_str("postgres://[unparsable URL]"),
            },
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_prints_without_its_password() {
        let location = Location::parse("postgres://sb:hunter2@db.internal:5432/switchboard\n");
        assert!(matches!(location, Location::Postgres(_)));
        let shown = format!("{location} {location:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("db.internal:5432/switchboard"), "{shown}");
        let with_query = Location::parse("postgresql://db/sb?password=hunter2");
        assert!(!with_query.to_string().contains("hunter2"));
    }

    #[test]
    fn a_libpq_connection_string_is_a_database_and_prints_without_its_password() {
        let location = Location::parse("host=db.internal dbname=sb user=sb password=hunter2");
        assert!(matches!(location, Location::Postgres(_)));
        assert_eq!(
            location.to_string(),
            "host=db.internal dbname=sb user=sb password=redacted"
        );
    }

    #[test]
    fn anything_else_is_a_file() {
        assert_eq!(
            Location::parse("data/switchboard.redb").file(),
            Some(Path::new("data/switchboard.redb"))
        );
    }
}
