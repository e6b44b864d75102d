//! The backend the tests run on: a redb file by default, or, when
//! `TEST_POSTGRES_URL` names a PostgreSQL server, a database of its own per
//! test, created empty and dropped afterwards.

use std::path::Path;
use switchboard::Location;

/// The server the suites run against instead of redb files; its user must
/// be allowed to create databases.
pub const POSTGRES_ENV: &str = "TEST_POSTGRES_URL";

/// Where one test's state lives.
pub enum Data {
    File(std::path::PathBuf),
    Postgres(Database),
}

impl Data {
    /// A redb file in `dir`, or a fresh database when the suites run on
    /// PostgreSQL.
    pub fn new(dir: &Path) -> Self {
        match std::env::var(POSTGRES_ENV) {
            Ok(server) if !server.trim().is_empty() => Data::Postgres(Database::create(&server)),
            _ => Data::File(dir.join("switchboard.redb")),
        }
    }

    pub fn location(&self) -> Location {
        match self {
            Data::File(path) => Location::File(path.clone()),
            Data::Postgres(database) => Location::parse(&database.url),
        }
    }

    /// How a command line names it: the file's path or the database's URL.
    pub fn as_arg(&self) -> String {
        match self {
            Data::File(path) => path.display().to_string(),
            Data::Postgres(database) => database.url.clone(),
        }
    }

    /// Everything stored, as bytes to search for a plain-text secret: the
    /// file, or every row of every table.
    pub fn raw(&self) -> Vec<u8> {
        match self {
            Data::File(path) => std::fs::read(path).expect("read the data file"),
            Data::Postgres(database) => database.dump(),
        }
    }
}

/// A database created for one test.
pub struct Database {
    server: String,
    name: String,
    pub url: String,
}

impl Database {
    fn create(server: &str) -> Self {
        let name = format!("switchboard_test_{:016x}", rand_u64());
        let mut url = url::Url::parse(server).expect("TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        // The name is made here of hex digits: quoting it is enough.
        run(server, format!("CREATE DATABASE \"{name}\""));
        Database {
            server: server.to_owned(),
            name,
            url: url.to_string(),
        }
    }

    /// Runs statements on this database, as someone with access to it.
    pub fn execute(&self, sql: &str) {
        run(&self.url, sql.to_owned())
    }

    /// Every row of every table of the engine's, as text.
    pub fn dump(&self) -> Vec<u8> {
        blocking(&self.url, |client| async move {
            let tables = client
                .query(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
                    &[],
                )
                .await
                .expect("list the tables");
            let mut out = Vec::new();
            for table in tables {
                let table: String = table.get(0);
                let rows = client
                    .simple_query(&format!("SELECT t::text FROM \"{table}\" AS t"))
                    .await
                    .expect("read a table");
                for row in rows {
                    if let tokio_postgres::SimpleQueryMessage::Row(row) = row {
                        out.extend_from_slice(row.get(0).unwrap_or_default().as_bytes());
                        out.push(b'\n');
                    }
                }
            }
            // bytea prints as hex: decode it, so a secret in it is found.
            let text = String::from_utf8_lossy(&out).into_owned();
            let mut raw = out;
            for hex_run in text.split("\\\\x").skip(1) {
                let digits: String = hex_run
                    .chars()
                    .take_while(|c| c.is_ascii_hexdigit())
                    .collect();
                raw.extend(hex::decode(&digits[..digits.len() / 2 * 2]).unwrap_or_default());
            }
            raw
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        run(
            &self.server,
            format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
        );
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// Runs statements on the database `url` names.
fn run(server: &str, sql: String) {
    blocking(server, |client| async move {
        client
            .batch_execute(&sql)
            .await
            .expect("the test database statement");
    })
}

/// Connects and runs `work` on a runtime of its own, in a thread of its
/// own, so that a test on any runtime (or none) may call it.
fn blocking<T: Send + 'static, F: std::future::Future<Output = T>>(
    url: &str,
    work: impl FnOnce(tokio_postgres::Client) -> F + Send + 'static,
) -> T {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            // TLS when the server asks for it, as the engine connects.
            use rustls_platform_verifier::ConfigVerifierExt;
            switchboard::net::install_crypto();
            let tls = rustls::ClientConfig::with_platform_verifier().expect("the system's roots");
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
            let (client, connection) = tokio_postgres::connect(&url, tls)
                .await
                .expect("the test PostgreSQL server answers");
            tokio::spawn(connection);
            work(client).await
        })
    })
    .join()
    .expect("the database thread")
}
