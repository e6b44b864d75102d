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
    /// `postgres://…` and `postgresql://…` name a database; anything else
    /// is a file path.
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        if ["postgres://", "postgresql://"]
            .iter()
            .any(|scheme| text.starts_with(scheme))
        {
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
    fn anything_else_is_a_file() {
        assert_eq!(
            Location::parse("data/switchboard.redb").file(),
            Some(Path::new("data/switchboard.redb"))
        );
    }
}
