//! `--db URL --db-mode direct`: every request goes to PostgreSQL, through a pool of
//! tokio-postgres connections (deadpool-postgres) on the service's own tokio runtime.
//!
//! The table is `users(id bigint primary key, name text not null)` with an index on `name`
//! ([`SCHEMA`]), created at start when missing (idempotent, under an advisory lock so two services
//! starting at once on an empty database do not collide). Writes are checked by the store's rules
//! ([`check_user`]) before they are sent, so a bad request changes nothing.
//!
//! Credentials: the password of the URL (or of `PGPASSWORD`) is only handed to tokio-postgres.
//! Everything shown (the start-up line, logs, error messages) uses [`redact_url`] and [`Secrets`],
//! which replace it with `***`.

use std::fmt::Display;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{NoTls, Row};
use userstore::core::MAX_NAME_CODE_POINTS;
use userstore::StoreError;

/// The table and its index, created if missing. The advisory lock (a constant key, the same in the
/// Kotlin service and in userstore-postgres' `PostgresReplica`: 0x7573657273746f72, "userstor")
/// serializes concurrent creators: `CREATE ... IF NOT EXISTS` alone can still fail
/// with a duplicate-key error when two sessions create the same table at the same moment.
pub const SCHEMA: &str = "BEGIN;
SELECT pg_advisory_xact_lock(8463219666996981618);
CREATE TABLE IF NOT EXISTS users (id bigint PRIMARY KEY, name text NOT NULL);
CREATE INDEX IF NOT EXISTS users_name_idx ON users (name);
COMMIT;";

/// The statements of the four routes. The upsert tells an insert from an update by the new row's
/// `xmax` (0 for a row version created by an INSERT), in one statement, so a concurrent write of
/// the same id cannot make 201/200 wrong.
const SELECT_NAME: &str = "SELECT name FROM users WHERE id = $1";
const UPSERT: &str = "INSERT INTO users (id, name) VALUES ($1, $2) \
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name RETURNING (xmax = 0) AS inserted";
const DELETE: &str = "DELETE FROM users WHERE id = $1";
const FIND_BY_NAME: &str = "SELECT id, name FROM users WHERE name = $1 ORDER BY id";
const COUNT: &str = "SELECT count(*) FROM users";
/// Replica mode's writes: the same statements, returning the transaction's id too
/// (`pg_current_xact_id_if_assigned`: NULL when the statement changed nothing, so no commit
/// reaches the replication stream).
const UPSERT_XID: &str = "WITH w AS (INSERT INTO users (id, name) VALUES ($1, $2) \
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name RETURNING (xmax = 0) AS inserted) \
     SELECT inserted, pg_current_xact_id_if_assigned()::text::bigint FROM w";
const DELETE_XID: &str = "WITH d AS (DELETE FROM users WHERE id = $1 RETURNING 1) \
     SELECT count(*), pg_current_xact_id_if_assigned()::text::bigint FROM d";
/// WAL positions as numbers (bytes from 0/0).
const CURRENT_LSN: &str = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint";
const FLUSH_LSN: &str = "SELECT (pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::bigint";

/// The longest a request waits for a pooled connection, or for a new one to be opened.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// How the database is used (`--db-mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DbMode {
    /// Every request goes to PostgreSQL.
    Direct,
    /// Reads from the in-process store, kept equal to the table by logical replication; writes
    /// go to PostgreSQL ([`crate::replica`]).
    Replica,
}

/// The passwords that must never be shown, and the means to hide them in any text.
#[derive(Clone, Debug, Default)]
pub struct Secrets(Vec<String>);

impl Secrets {
    /// `text` with every secret replaced by `***`.
    pub fn scrub(&self, text: impl Display) -> String {
        let mut text = text.to_string();
        for secret in &self.0 {
            if !secret.is_empty() {
                text = text.replace(secret.as_str(), "***");
            }
        }
        text
    }
}

/// `url` for display: the password of its user info and any `password` query parameter replaced
/// by `***`. A URL that does not parse is not shown at all (it could hold a password in a place
/// the parser did not recognise).
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "<the --db URL, not shown: it does not parse>".to_owned();
    };
    if parsed.password().is_some() {
        // Only a URL that cannot have a password refuses this, and this one has one.
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(key, value)| {
                let value = if key.eq_ignore_ascii_case("password") {
                    "***".to_owned()
                } else {
                    value.into_owned()
                };
                (key.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// The checks a write gets before it is sent: the store's rules (docs/RULES.md: an id in
/// 0..=i64::MAX, a name of 1 to 256 code points), with the store's messages, plus PostgreSQL's own
/// limit that `text` cannot hold U+0000. Written here because the core keeps its check private
/// (only [`MAX_NAME_CODE_POINTS`] is public); `tests::check_user_agrees_with_the_store` holds the
/// two to the same answers.
pub fn check_user(id: i64, name: &str) -> Result<(), StoreError> {
    if id < 0 {
        return Err(StoreError::InvalidId(id));
    }
    if name.is_empty() {
        return Err(StoreError::InvalidName("the name is empty".to_owned()));
    }
    let code_points = name.chars().count();
    if code_points > MAX_NAME_CODE_POINTS {
        return Err(StoreError::InvalidName(format!(
            "the name is too long: {code_points} code points (at most {MAX_NAME_CODE_POINTS})"
        )));
    }
    if name.contains('\0') {
        return Err(StoreError::InvalidName(
            "the name contains U+0000, which a PostgreSQL text column cannot hold".to_owned(),
        ));
    }
    Ok(())
}

/// A committed write, for replica mode's read-your-writes: the 32-bit transaction id the
/// replication stream's Begin carries (`None`: the write changed nothing, there is nothing to wait
/// for), and the server's WAL position read after the commit (at or past the commit record): the
/// write is in a replica once it applied that transaction, or applied up to that position (a copy
/// made after the commit covers it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    pub xid: Option<u32>,
    pub lsn: u64,
}

impl Written {
    fn new(xid: Option<i64>, lsn: u64) -> Written {
        Written {
            // An xid8 is the epoch in the high 32 bits and the xid in the low 32 bits.
            xid: xid.map(|xid| (xid as u64 & 0xFFFF_FFFF) as u32),
            lsn,
        }
    }
}

/// A failed database call, its message already scrubbed of secrets.
#[derive(Debug)]
pub struct DbError(pub String);

impl Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The pool and what is needed to show the database without its password.
pub struct Database {
    pool: Pool,
    shown_url: String,
    secrets: Secrets,
    /// The parsed URL (password included): replica mode opens its replication session from it.
    config: tokio_postgres::Config,
}

impl Database {
    /// Opens a pool of at most `pool_size` connections to `url` (`postgres://` or
    /// `postgresql://`), checks that it connects, and creates the schema if missing. The error
    /// names the URL with its password redacted.
    pub async fn connect(url: &str, pool_size: usize) -> Result<Database, String> {
        let shown_url = redact_url(url);
        let mut secrets = Secrets::default();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(format!(
                "--db {shown_url}: expected a URL postgres://USER@HOST:PORT/DATABASE"
            ));
        }
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| format!("--db {shown_url}: {}", secrets.scrub(describe(&e))))?;
        // libpq's convention, which tokio-postgres does not read itself.
        if config.get_password().is_none() {
            if let Ok(password) = std::env::var("PGPASSWORD") {
                if !password.is_empty() {
                    config.password(password.as_bytes());
                }
            }
        }
        if let Some(password) = config.get_password() {
            secrets
                .0
                .push(String::from_utf8_lossy(password).into_owned());
        }
        // The URL's own spelling of the password too (percent-encoded), in case a message quotes it.
        if let Ok(parsed) = url::Url::parse(url) {
            if let Some(raw) = parsed.password() {
                secrets.0.push(raw.to_owned());
            }
        }
        if config.get_application_name().is_none() {
            config.application_name("userstore-server");
        }
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                // A connection handed back after an error is checked (`is_closed`) before reuse;
                // a broken one is dropped and replaced on demand.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(|e| format!("--db {shown_url}: {}", secrets.scrub(e)))?;
        let database = Database {
            pool,
            shown_url,
            secrets,
            config,
        };
        database.create_schema().await.map_err(|e| {
            format!(
                "cannot use the database {}: {e}",
                database.shown_url.as_str()
            )
        })?;
        Ok(database)
    }

    /// Closes the pool: its connections are closed, later calls fail.
    pub fn close(&self) {
        self.pool.close();
    }

    /// The URL as shown: its password redacted.
    pub fn shown_url(&self) -> &str {
        &self.shown_url
    }

    /// `e` as a [`DbError`]: its causes included, every secret scrubbed.
    pub fn fail(&self, e: impl Display) -> DbError {
        DbError(self.secrets.scrub(e))
    }

    /// `e` (with its causes) as a [`DbError`], secrets scrubbed.
    pub fn fail_error(&self, e: &(dyn std::error::Error + 'static)) -> DbError {
        self.fail(describe(e))
    }

    /// The parsed URL, password included: only for opening connections, never to be shown.
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// Runs `sql` on `client` as a statement prepared once per connection (`prepare_cached`) and
    /// returns its rows. Every query of this module goes through here and [`Self::execute_on`], so
    /// its errors are described (with their causes) and scrubbed of secrets in one place.
    async fn query_on(
        &self,
        client: &deadpool_postgres::Object,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, DbError> {
        let statement = client
            .prepare_cached(sql)
            .await
            .map_err(|e| self.fail_error(&e))?;
        client
            .query(&statement, params)
            .await
            .map_err(|e| self.fail_error(&e))
    }

    /// [`Self::query_on`] for a statement that returns at most one row.
    async fn row_on(
        &self,
        client: &deadpool_postgres::Object,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, DbError> {
        Ok(self.query_on(client, sql, params).await?.into_iter().next())
    }

    /// [`Self::query_on`] for a statement that always returns one row.
    async fn one_on(
        &self,
        client: &deadpool_postgres::Object,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, DbError> {
        self.row_on(client, sql, params)
            .await?
            .ok_or_else(|| DbError(format!("the database answered no row to: {sql}")))
    }

    /// Runs `sql` (prepared once per connection) on `client`; the number of rows it changed.
    async fn execute_on(
        &self,
        client: &deadpool_postgres::Object,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, DbError> {
        let statement = client
            .prepare_cached(sql)
            .await
            .map_err(|e| self.fail_error(&e))?;
        client
            .execute(&statement, params)
            .await
            .map_err(|e| self.fail_error(&e))
    }

    /// Column `index` of `row`, as `T`.
    fn column<'r, T: FromSql<'r>>(&self, row: &'r Row, index: usize) -> Result<T, DbError> {
        row.try_get(index).map_err(|e| self.fail_error(&e))
    }

    /// A WAL position query's answer (bytes from 0/0) as a number.
    fn lsn(&self, row: &Row) -> Result<u64, DbError> {
        Ok(u64::try_from(self.column::<i64>(row, 0)?).unwrap_or(0))
    }

    /// The server's WAL write position now (`pg_current_wal_lsn()`), as a number, on `client`.
    async fn wal_lsn_on(&self, client: &deadpool_postgres::Object) -> Result<u64, DbError> {
        self.lsn(&self.one_on(client, CURRENT_LSN, &[]).await?)
    }

    /// The server's WAL flush position (`pg_current_wal_flush_lsn()`): every transaction committed
    /// before the call is at or before it.
    pub async fn flush_lsn(&self) -> Result<u64, DbError> {
        let client = self.client().await?;
        self.lsn(&self.one_on(&client, FLUSH_LSN, &[]).await?)
    }

    /// Replica mode's upsert: [`Database::put`] that also returns the transaction's id, then the
    /// WAL position read on the same connection after its commit (see [`Written`]).
    pub async fn put_for_replica(&self, id: i64, name: &str) -> Result<(bool, Written), DbError> {
        let client = self.client().await?;
        let row = self.one_on(&client, UPSERT_XID, &[&id, &name]).await?;
        let created: bool = self.column(&row, 0)?;
        let xid: Option<i64> = self.column(&row, 1)?;
        let lsn = self.wal_lsn_on(&client).await?;
        Ok((created, Written::new(xid, lsn)))
    }

    /// Replica mode's delete: [`Database::remove`] that also returns the transaction's id (none
    /// when nothing was deleted), then the WAL position after its commit (see [`Written`]).
    pub async fn remove_for_replica(&self, id: i64) -> Result<(bool, Written), DbError> {
        let client = self.client().await?;
        let row = self.one_on(&client, DELETE_XID, &[&id]).await?;
        let removed: i64 = self.column(&row, 0)?;
        let xid: Option<i64> = self.column(&row, 1)?;
        let lsn = self.wal_lsn_on(&client).await?;
        Ok((removed > 0, Written::new(xid, lsn)))
    }

    /// A pooled connection.
    pub async fn client(&self) -> Result<deadpool_postgres::Object, DbError> {
        self.pool.get().await.map_err(|e| self.fail_error(&e))
    }

    async fn create_schema(&self) -> Result<(), DbError> {
        let client = self.client().await?;
        // The error's source holds the server's message (the Display alone says "db error").
        client
            .batch_execute(SCHEMA)
            .await
            .map_err(|e| self.fail_error(&e))
    }

    /// Whether the database answers a query through the pool.
    pub async fn ping(&self) -> Result<(), DbError> {
        let client = self.client().await?;
        client
            .simple_query("SELECT 1")
            .await
            .map(|_| ())
            .map_err(|e| self.fail_error(&e))
    }

    /// The user's name, or `None`.
    pub async fn get_name(&self, id: i64) -> Result<Option<String>, DbError> {
        let client = self.client().await?;
        match self.row_on(&client, SELECT_NAME, &[&id]).await? {
            Some(row) => self.column(&row, 0).map(Some),
            None => Ok(None),
        }
    }

    /// Inserts or replaces the user; true if it was created. The caller has run [`check_user`].
    pub async fn put(&self, id: i64, name: &str) -> Result<bool, DbError> {
        let client = self.client().await?;
        let row = self.one_on(&client, UPSERT, &[&id, &name]).await?;
        self.column(&row, 0)
    }

    /// Removes the user; true if it existed.
    pub async fn remove(&self, id: i64) -> Result<bool, DbError> {
        let client = self.client().await?;
        Ok(self.execute_on(&client, DELETE, &[&id]).await? > 0)
    }

    /// The users named exactly `name`, sorted by id.
    pub async fn find_by_name(&self, name: &str) -> Result<Vec<(i64, String)>, DbError> {
        let client = self.client().await?;
        self.query_on(&client, FIND_BY_NAME, &[&name])
            .await?
            .iter()
            .map(|row| Ok((self.column(row, 0)?, self.column(row, 1)?)))
            .collect()
    }

    /// The number of rows (a full count: /metrics' size gauge, scraped rarely).
    pub async fn count(&self) -> Result<u64, DbError> {
        let client = self.client().await?;
        let row = self.one_on(&client, COUNT, &[]).await?;
        Ok(u64::try_from(self.column::<i64>(&row, 0)?).unwrap_or(0))
    }
}

/// An error with its causes (the server's message, the I/O error), which the `Display` of
/// tokio-postgres' and deadpool's errors leaves out ("db error"); a cause already quoted by the
/// text before it is not repeated.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(next) = cause {
        let shown = next.to_string();
        if !text.contains(&shown) {
            text.push_str(": ");
            text.push_str(&shown);
        }
        cause = next.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use userstore::Store;

    #[test]
    fn redact_url_hides_the_password_and_keeps_the_rest() {
        assert_eq!(
            redact_url("postgres://alice:s3cret@db.example:5433/users"),
            "postgres://alice:***@db.example:5433/users"
        );
        assert_eq!(
            redact_url("postgresql://alice@127.0.0.1:5432/userstore"),
            "postgresql://alice@127.0.0.1:5432/userstore"
        );
        let shown = redact_url("postgres://bob@h/db?sslmode=disable&password=hunter2");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("sslmode=disable"), "{shown}");
        assert!(shown.contains("password=***") || shown.contains("password=%2A%2A%2A"));
        // Percent-encoded passwords are hidden too.
        let shown = redact_url("postgres://carol:p%40ss%3Aword@h:1/db");
        assert!(
            !shown.contains("p%40ss") && !shown.contains("p@ss"),
            "{shown}"
        );
        // Not a URL: nothing of it is shown.
        let shown = redact_url("postgres://dave:topsecret@[bad");
        assert!(!shown.contains("topsecret"), "{shown}");
    }

    #[test]
    fn scrub_replaces_every_secret() {
        let secrets = Secrets(vec!["pw1".into(), "".into()]);
        assert_eq!(secrets.scrub("a pw1 b pw1"), "a *** b ***");
        assert_eq!(secrets.scrub("nothing"), "nothing");
    }

    #[tokio::test]
    async fn a_connection_error_does_not_show_the_password() {
        // A port with nothing listening: connect fails.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let url = format!("postgres://someone:VerySecret123@127.0.0.1:{port}/nowhere");
        let error = match Database::connect(&url, 1).await {
            Ok(_) => panic!("connected to a closed port"),
            Err(e) => e,
        };
        assert!(!error.contains("VerySecret123"), "{error}");
        assert!(error.contains("someone:***@127.0.0.1"), "{error}");
    }

    #[tokio::test]
    async fn a_url_of_another_kind_is_refused_without_showing_it() {
        let Err(error) = Database::connect("host=h password=abc", 1).await else {
            panic!("accepted a key=value string")
        };
        assert!(!error.contains("abc"), "{error}");
        assert!(error.contains("expected a URL postgres://"), "{error}");
    }

    #[test]
    fn check_user_agrees_with_the_store() {
        let store = Store::new();
        let long = "é".repeat(MAX_NAME_CODE_POINTS);
        let too_long = "é".repeat(MAX_NAME_CODE_POINTS + 1);
        let emoji = "😀".repeat(MAX_NAME_CODE_POINTS);
        let cases: [(i64, &str); 8] = [
            (0, "a"),
            (i64::MAX, "x"),
            (-1, "a"),
            (1, ""),
            (1, &long),
            (1, &too_long),
            (1, &emoji),
            (i64::MIN, "b"),
        ];
        for (id, name) in cases {
            let ours = check_user(id, name);
            let store_says = store.put(id, name.as_bytes());
            assert_eq!(ours, store_says, "id {id}, name of {} chars", name.len());
        }
        // PostgreSQL's own limit, beyond the store's rules.
        assert!(matches!(
            check_user(1, "a\0b"),
            Err(StoreError::InvalidName(_))
        ));
    }
}
