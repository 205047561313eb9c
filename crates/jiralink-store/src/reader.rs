//! The store's reader of its public views, for reports (insights): a [`StoreLocation`] opened
//! read-only as a [`ViewReader`], SQLite or PostgreSQL (feature `postgres`, connected as the store
//! connects: `pg_tls`), which runs queries over the views and hands out each row as a [`ViewRow`].
//! No backend type crosses this API.
//!
//! Both stores have the same public views with the same names, so a reader has one SQL text per
//! query: parameters are written `$1`, `$2` ... (SQLite takes them as numbered parameters too) and
//! are all text. Cells are read without an allocation: text as `&str`, numbers as `f64`, and
//! timestamps, ISO-8601 text in SQLite and `timestamptz` in PostgreSQL, as epoch seconds or
//! milliseconds. A PostgreSQL session is `READ ONLY`; an SQLite file is opened read-only.

use std::path::PathBuf;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

#[cfg(feature = "postgres")]
use crate::postgres::PgTarget;
use crate::{Result, StoreError};

/// A store to read reports from.
#[derive(Clone, Debug)]
pub enum StoreLocation {
    /// The SQLite file of a store (`jiralink.db`).
    Sqlite(PathBuf),
    /// A PostgreSQL store (feature `postgres`), connected to as the store connects (its `Debug`
    /// and `Display` show no password).
    ///
    /// The synchronous client runs a runtime of its own: read a PostgreSQL store on a thread that
    /// does not run an async runtime (from async code, in `spawn_blocking`).
    #[cfg(feature = "postgres")]
    Postgres(PgTarget),
}

impl std::fmt::Display for StoreLocation {
    /// The file, or the server and database (without a password), for messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => write!(f, "{}", path.display()),
            #[cfg(feature = "postgres")]
            StoreLocation::Postgres(target) => write!(f, "{target}"),
        }
    }
}

/// A read-only connection to a store's public views.
pub struct ViewReader(Conn);

enum Conn {
    Sqlite(Connection),
    #[cfg(feature = "postgres")]
    Postgres(postgres::Client),
}

impl ViewReader {
    /// Opens a read-only connection; [`StoreError::NoStore`] when there is no store there (no
    /// file, or no `issues` and `statuses` views).
    pub fn open(at: &StoreLocation) -> Result<ViewReader> {
        match at {
            StoreLocation::Sqlite(path) => {
                if !path.exists() {
                    return Err(StoreError::NoStore(at.to_string()));
                }
                let conn = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(std::time::Duration::from_secs(10))?;
                let views: i64 = conn.query_row(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'view' AND name IN ('issues', 'statuses')",
                    [],
                    |r| r.get(0),
                )?;
                if views < 2 {
                    return Err(StoreError::NoStore(at.to_string()));
                }
                Ok(ViewReader(Conn::Sqlite(conn)))
            }
            #[cfg(feature = "postgres")]
            StoreLocation::Postgres(target) => {
                // As the store connects: plain, or verified TLS when the URL says
                // `sslmode=require`.
                let mut client = crate::pg_tls::connect(target)?;
                client.batch_execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")?;
                // The views of the connection's schema, where the store creates them.
                let views: i64 = client
                    .query_one(
                        "SELECT COUNT(*) FROM pg_catalog.pg_views
                         WHERE schemaname = current_schema() AND viewname IN ('issues', 'statuses')",
                        &[],
                    )?
                    .try_get(0)?;
                if views < 2 {
                    return Err(StoreError::NoStore(at.to_string()));
                }
                Ok(ViewReader(Conn::Postgres(client)))
            }
        }
    }

    /// Runs `sql` with text parameters `$1`, `$2` ... and calls `on_row` with every row, in the
    /// query's order; stops at the first error.
    pub fn each<E: From<StoreError>>(
        &mut self,
        sql: &str,
        params: &[&str],
        mut on_row: impl FnMut(&ViewRow<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        match &mut self.0 {
            Conn::Sqlite(conn) => {
                let mut st = conn.prepare_cached(sql).map_err(StoreError::from)?;
                let mut rows = st
                    .query(rusqlite::params_from_iter(params))
                    .map_err(StoreError::from)?;
                while let Some(r) = rows.next().map_err(StoreError::from)? {
                    on_row(&ViewRow(RowRef::Sqlite(r)))?;
                }
            }
            #[cfg(feature = "postgres")]
            Conn::Postgres(client) => {
                use postgres::fallible_iterator::FallibleIterator;
                let mut rows = client
                    .query_raw(sql, params.iter().copied())
                    .map_err(StoreError::from)?;
                while let Some(r) = rows.next().map_err(StoreError::from)? {
                    on_row(&ViewRow(RowRef::Postgres(&r)))?;
                }
            }
        }
        Ok(())
    }

    /// The integer of a one-row, one-column query (`COUNT(*)`).
    pub fn count(&mut self, sql: &str, params: &[&str]) -> Result<i64> {
        let mut n = 0;
        self.each(sql, params, |r| -> Result<()> {
            n = r.int(0)?;
            Ok(())
        })?;
        Ok(n)
    }
}

/// One row of a query, read by column index.
pub struct ViewRow<'r>(RowRef<'r>);

enum RowRef<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    #[cfg(feature = "postgres")]
    Postgres(&'r postgres::Row),
}

impl<'r> ViewRow<'r> {
    /// A text cell, `None` when NULL.
    #[inline]
    pub fn text(&self, i: usize) -> Result<Option<&'r str>> {
        match self.0 {
            RowRef::Sqlite(r) => Ok(r.get_ref(i)?.as_str_or_null()?),
            #[cfg(feature = "postgres")]
            RowRef::Postgres(r) => Ok(r.try_get(i)?),
        }
    }

    /// A text cell of a NOT NULL column (ids, keys, names): NULL is an error.
    #[inline]
    pub fn text_not_null(&self, i: usize) -> Result<&'r str> {
        match self.0 {
            RowRef::Sqlite(r) => Ok(r.get_ref(i)?.as_str()?),
            #[cfg(feature = "postgres")]
            RowRef::Postgres(r) => Ok(r.try_get(i)?),
        }
    }

    /// A number cell (REAL or INTEGER in SQLite, DOUBLE PRECISION in PostgreSQL).
    #[inline]
    pub fn float(&self, i: usize) -> Result<Option<f64>> {
        match self.0 {
            RowRef::Sqlite(r) => Ok(r.get(i)?),
            #[cfg(feature = "postgres")]
            RowRef::Postgres(r) => Ok(r.try_get(i)?),
        }
    }

    /// A NOT NULL integer cell (INTEGER in SQLite, BIGINT in PostgreSQL).
    pub fn int(&self, i: usize) -> Result<i64> {
        match self.0 {
            RowRef::Sqlite(r) => Ok(r.get_ref(i)?.as_i64()?),
            #[cfg(feature = "postgres")]
            RowRef::Postgres(r) => Ok(r.try_get(i)?),
        }
    }

    /// Whether a cell, of any type, is NULL.
    pub fn is_null(&self, i: usize) -> Result<bool> {
        match self.0 {
            RowRef::Sqlite(r) => Ok(matches!(r.get_ref(i)?, ValueRef::Null)),
            #[cfg(feature = "postgres")]
            RowRef::Postgres(r) => Ok(r.try_get::<_, Option<AnyValue>>(i)?.is_none()),
        }
    }

    /// A timestamp cell as epoch milliseconds: ISO-8601 text (SQLite; a text column in
    /// PostgreSQL too) or `timestamptz`. `None` when NULL or not a time.
    #[inline]
    pub fn millis(&self, i: usize) -> Result<Option<i64>> {
        match self.0 {
            RowRef::Sqlite(r) => Ok(r
                .get_ref(i)?
                .as_str_or_null()?
                .and_then(crate::parse_millis)),
            #[cfg(feature = "postgres")]
            RowRef::Postgres(r) => {
                if *r.columns()[i].type_() == postgres::types::Type::TIMESTAMPTZ {
                    let t: Option<chrono::DateTime<chrono::Utc>> = r.try_get(i)?;
                    Ok(t.map(|t| t.timestamp_millis()))
                } else {
                    Ok(r.try_get::<_, Option<&str>>(i)?
                        .and_then(crate::parse_millis))
                }
            }
        }
    }

    /// A timestamp cell as epoch seconds (rounded down), as [`ViewRow::millis`].
    #[inline]
    pub fn time(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.millis(i)?.map(|ms| ms.div_euclid(1000)))
    }
}

/// A cell of any type, read only to tell NULL apart.
#[cfg(feature = "postgres")]
struct AnyValue;

#[cfg(feature = "postgres")]
impl<'a> postgres::types::FromSql<'a> for AnyValue {
    fn from_sql(
        _: &postgres::types::Type,
        _: &'a [u8],
    ) -> std::result::Result<AnyValue, Box<dyn std::error::Error + Sync + Send>> {
        Ok(AnyValue)
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }
}

#[cfg(all(test, feature = "postgres"))]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_location_never_shows_its_password() {
        for url in [
            "postgres://ann:hunter2@db.example:5433/jira",
            "postgres://ann@db.example:5433/jira?password=hunter2",
        ] {
            let at = StoreLocation::Postgres(PgTarget {
                url: url.to_owned(),
                password: Some("hunter2".into()),
                root_cert: None,
            });
            let shown = at.to_string();
            assert!(
                shown.starts_with("postgres://ann@db.example:5433/jira")
                    && !shown.contains("hunter2"),
                "{shown}"
            );
            let debug = format!("{at:?}");
            assert!(!debug.contains("hunter2"), "{debug}");
        }
    }
}
