//! `jiralink-store`: the local mirror of Jira, behind the [`Backend`] and [`Tx`] traits: SQLite
//! ([`Store`]) or PostgreSQL (`postgres::PgStore`, feature `postgres`), with append-only
//! migrations, the public views of PRODUCT.md, and checkpoints written in the same transaction as
//! the data they cover. Makes no HTTP calls.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use rusqlite::types::ValueRef;

pub mod ledger;
pub mod migrate;
#[cfg(feature = "postgres")]
mod pg_tls;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod reader;
pub mod web;

pub use reader::{StoreLocation, ViewReader, ViewRow};

/// Checkpoint values carry this format version; a newer one is refused rather than misread.
pub const CHECKPOINT_FORMAT: i64 = 1;

const MIGRATIONS: &migrate::Migrations = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../migrations/sqlite/0002_sprint_issue_index.sql"),
    ),
    (
        3,
        include_str!("../migrations/sqlite/0003_statuses_fields.sql"),
    ),
    (
        4,
        include_str!("../migrations/sqlite/0004_versions_components_links.sql"),
    ),
    (5, include_str!("../migrations/sqlite/0005_lookups.sql")),
    (
        6,
        include_str!("../migrations/sqlite/0006_worklog_reads.sql"),
    ),
    (
        7,
        include_str!("../migrations/sqlite/0007_utc_sprint_dates.sql"),
    ),
    (8, include_str!("../migrations/sqlite/0008_sites.sql")),
    (10, include_str!("../migrations/sqlite/0010_ledger.sql")),
    (11, include_str!("../migrations/sqlite/0011_web.sql")),
    (
        12,
        include_str!("../migrations/sqlite/0012_unreadable_sprint_dates.sql"),
    ),
    (14, include_str!("../migrations/sqlite/0014_web_stages.sql")),
];

/// The site of rows written before stores knew sites (migration 8); the first sync of a
/// credential that wrote them moves them to its real site ([`Backend::use_site`]).
pub const UNRESOLVED_SITE: &str = "unresolved";

/// A Jira site as the store records it (the `sites` view). `site_id` is Cloud's cloudId or a Data
/// Center server's application id (its Application Links manifest `id`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteRow {
    pub site_id: String,
    /// `cloud` or `datacenter`.
    pub deployment: String,
    pub base_url: String,
    pub cloud_id: Option<String>,
    pub server_id: Option<String>,
    pub title: Option<String>,
    pub version: Option<String>,
}

/// The small lists issues refer to by id: issue types, priorities, resolutions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    IssueType,
    Priority,
    Resolution,
}

impl Lookup {
    fn kind(self) -> &'static str {
        match self {
            Lookup::IssueType => "issue_type",
            Lookup::Priority => "priority",
            Lookup::Resolution => "resolution",
        }
    }
}

/// An error of a database client (SQLite or PostgreSQL), kept opaque so that no backend type is in
/// the store's API. Its message carries the causes (the Postgres client's own says only "db
/// error" or "error performing TLS handshake"); no source is chained, so a report does not repeat
/// them.
#[derive(Debug)]
pub struct DbError(Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&with_causes(&*self.0))
    }
}

impl std::error::Error for DbError {}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("store database error: {0}")]
    Sqlite(DbError),
    #[cfg(feature = "postgres")]
    #[error("store database error: {0}")]
    Postgres(DbError),
    #[cfg(feature = "postgres")]
    #[error("store TLS: {0}")]
    Tls(String),
    #[error(
        "the store at {path} was written by a newer jiralink (schema {found}); upgrade jiralink"
    )]
    TooNew { path: String, found: i64 },
    #[error("store value of an unexpected type: {0}")]
    Value(DbError),
    /// No store where a reader looked: no file, or no public views in the database.
    #[error("no jiralink store at {0}")]
    NoStore(String),
    #[error(
        "the store at {place} applied a different {migration} (checksum {found}, this build's is {expected}): an applied migration was edited; restore its text and put the change in a new migration"
    )]
    EditedMigration {
        place: String,
        migration: String,
        found: String,
        expected: String,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Sqlite(DbError(Box::new(e)))
    }
}

impl From<rusqlite::types::FromSqlError> for StoreError {
    fn from(e: rusqlite::types::FromSqlError) -> StoreError {
        StoreError::Value(DbError(Box::new(e)))
    }
}

#[cfg(feature = "postgres")]
impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> StoreError {
        StoreError::Postgres(DbError(Box::new(e)))
    }
}

/// An error and its causes, `: `-joined (a failed TLS handshake says why only in its source).
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
}

/// Column names and rows of a query, every value as text (`None` for NULL).
pub type TextRows = (Vec<String>, Vec<Vec<Option<String>>>);

pub struct Store {
    conn: Connection,
    /// The site every read and write is scoped to ([`Backend::use_site`]).
    site: String,
}

/// One issue as stored: normalised columns beside the raw JSON.
#[derive(Debug, Clone, Default)]
pub struct IssueRow {
    pub id: String,
    pub key: String,
    pub project_key: String,
    pub issue_type: Option<String>,
    pub summary: Option<String>,
    pub status: Option<String>,
    pub status_category: Option<String>,
    pub priority: Option<String>,
    pub assignee_id: Option<String>,
    pub reporter_id: Option<String>,
    pub created: Option<String>,
    pub updated: Option<String>,
    pub resolved: Option<String>,
    pub story_points: Option<f64>,
    pub parent_key: Option<String>,
    pub raw_json: String,
}

#[derive(Debug, Clone, Default)]
pub struct ChangeRow {
    pub change_id: String,
    pub item_index: i64,
    pub changed_at: Option<String>,
    pub author_id: Option<String>,
    pub field: Option<String>,
    pub from_value: Option<String>,
    pub from_string: Option<String>,
    pub to_value: Option<String>,
    pub to_string: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CommentRow {
    pub id: String,
    pub issue_id: String,
    pub author_id: Option<String>,
    pub created: Option<String>,
    pub updated: Option<String>,
    pub body_text: Option<String>,
    pub body_raw: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct WorklogRow {
    pub id: String,
    pub issue_id: String,
    pub author_id: Option<String>,
    pub started: Option<String>,
    pub time_spent_seconds: Option<i64>,
    pub updated: Option<String>,
}

/// A project's version (release).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VersionRow {
    pub id: String,
    pub name: String,
    pub released: Option<bool>,
    pub archived: Option<bool>,
    pub release_date: Option<String>,
}

/// A project's component.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComponentRow {
    pub id: String,
    pub name: String,
    pub lead_id: Option<String>,
}

/// An issue's link to another issue, seen from this issue (`outward` or `inward`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkRow {
    pub id: String,
    pub link_type: Option<String>,
    pub direction: String,
    pub other_issue_id: Option<String>,
    pub other_issue_key: Option<String>,
}

/// Issues and what was fetched beside them (a bulk fetch of the sync), for [`Tx::write_issues`].
#[derive(Debug, Clone, Default)]
pub struct IssueBatch {
    pub issues: Vec<IssueRow>,
    /// Each issue's whole changelog.
    pub changes: Vec<(String, Vec<ChangeRow>)>,
    /// Each issue's comments, all of them (those missing are marked deleted).
    pub comments: Vec<(String, Vec<CommentRow>)>,
    /// Each issue's worklogs, and whether they are all of them (then those missing are marked
    /// deleted; else they are upserted only).
    pub worklogs: Vec<(String, Vec<WorklogRow>, bool)>,
    /// Each issue's sprints (ids), all of them.
    pub sprints: Vec<(String, Vec<String>)>,
    pub refs: Vec<(String, IssueRefs)>,
}

/// What an issue refers to: fix and affects versions, components, links.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IssueRefs {
    pub fix_versions: Vec<String>,
    pub affects_versions: Vec<String>,
    pub components: Vec<String>,
    pub links: Vec<LinkRow>,
}

#[derive(Debug, Clone, Default)]
pub struct SprintRow {
    pub id: String,
    pub board_id: String,
    pub name: String,
    pub state: String,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub complete_date: Option<String>,
    pub goal: Option<String>,
}

/// Counts of live and deleted rows, for `status` and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub projects: i64,
    pub issues: i64,
    pub issues_deleted: i64,
    pub changes: i64,
    pub comments: i64,
    pub worklogs: i64,
    pub sprints: i64,
}

impl Store {
    /// Opens (creating and migrating) an SQLite store.
    pub fn open_sqlite(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        tune_for_bulk_writes(&conn)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let mut store = Store {
            conn,
            site: UNRESOLVED_SITE.to_owned(),
        };
        store.migrate(&path.display().to_string())?;
        Ok(store)
    }

    /// Brings the schema up to date ([`migrate::plan`]) in one transaction, taken before reading
    /// `schema_migrations` so that two processes opening at once do not both migrate. A store
    /// that is up to date (every open but the first after an upgrade) is only read.
    fn migrate(&mut self, path: &str) -> Result<()> {
        if self.up_to_date(path)? {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL, checksum TEXT)")?;
        let has_checksum = tx
            .prepare(
                "SELECT 1 FROM pragma_table_info('schema_migrations') WHERE name = 'checksum'",
            )?
            .exists([])?;
        if !has_checksum {
            tx.execute_batch("ALTER TABLE schema_migrations ADD COLUMN checksum TEXT")?;
        }
        let applied = tx
            .prepare("SELECT version, checksum FROM schema_migrations")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let plan = migrate::plan(&applied, MIGRATIONS, "sqlite", path)?;
        for (version, sum) in &plan.adopt {
            tx.execute(
                "UPDATE schema_migrations SET checksum = ?2 WHERE version = ?1",
                params![version, sum],
            )?;
        }
        for (version, sql, sum) in &plan.apply {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at, checksum) VALUES (?1, ?2, ?3)",
                params![version, now(), sum],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Whether the store has every migration of this build, with its checksum; an edited or
    /// newer store is an error here already.
    fn up_to_date(&self, path: &str) -> Result<bool> {
        let has_checksums = self
            .conn
            .prepare(
                "SELECT 1 FROM pragma_table_info('schema_migrations') WHERE name = 'checksum'",
            )?
            .exists([])?;
        if !has_checksums {
            return Ok(false);
        }
        let applied = self
            .conn
            .prepare("SELECT version, checksum FROM schema_migrations")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let plan = migrate::plan(&applied, MIGRATIONS, "sqlite", path)?;
        Ok(plan.adopt.is_empty() && plan.apply.is_empty())
    }

    /// Runs `f` in one transaction: all of it is written, or none.
    pub fn write<T>(&mut self, f: impl FnOnce(&dyn Tx) -> Result<T>) -> Result<T> {
        let tx = SqliteTx(self.conn.transaction()?, self.site.clone());
        let out = f(&tx)?;
        tx.0.commit()?;
        Ok(out)
    }

    /// The file of this store.
    pub fn path(&self) -> &Path {
        Path::new(self.conn.path().unwrap_or_default())
    }

    /// Runs SQL statements as they are, outside any write path: for test fixtures that set up
    /// what no sync writes. Reports read through [`ViewReader`] or [`Backend::query_strings`].
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        Ok(self.conn.execute_batch(sql)?)
    }
}

impl Backend for Store {
    fn checkpoint(&self, credential: &str, stream: &str, scope: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM t_checkpoints WHERE site_id = ?5 AND credential = ?1 AND stream = ?2 AND scope = ?3 AND format_version <= ?4",
                params![credential, stream, scope, CHECKPOINT_FORMAT, self.site],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn begin_run(&mut self, credential: &str) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO t_sync_runs (credential, started, status) VALUES (?1, ?2, 'running')",
            params![credential, now()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn finish_run(
        &mut self,
        run: i64,
        status: &str,
        requests: i64,
        issues_written: i64,
        error: Option<&str>,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE t_sync_runs SET finished = ?2, status = ?3, requests = ?4, issues_written = ?5, error = ?6,
             site_id = ?7 WHERE id = ?1",
            params![run, now(), status, requests, issues_written, error, self.site],
        )?;
        Ok(())
    }

    fn live_issue_ids(&self, project_key: &str) -> Result<Vec<String>> {
        live_issue_ids(&self.conn, &self.site, project_key)
    }

    fn issue_row(&self, id: &str) -> Result<Option<IssueRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, key, project_key, issue_type, summary, status, status_category, priority,
                        assignee_id, reporter_id, created, updated, resolved, story_points, parent_key, raw_json
                 FROM t_issues WHERE site_id = ?2 AND id = ?1",
                params![id, self.site],
                |r| {
                    Ok(IssueRow {
                        id: r.get(0)?,
                        key: r.get(1)?,
                        project_key: r.get(2)?,
                        issue_type: r.get(3)?,
                        summary: r.get(4)?,
                        status: r.get(5)?,
                        status_category: r.get(6)?,
                        priority: r.get(7)?,
                        assignee_id: r.get(8)?,
                        reporter_id: r.get(9)?,
                        created: r.get(10)?,
                        updated: r.get(11)?,
                        resolved: r.get(12)?,
                        story_points: r.get(13)?,
                        parent_key: r.get(14)?,
                        raw_json: r.get(15)?,
                    })
                },
            )
            .optional()?)
    }

    fn worklog_reads(&self) -> Result<Vec<(String, bool, Option<String>)>> {
        let mut st = self.conn.prepare(
            "SELECT r.issue_id, r.need_history, i.updated
             FROM t_worklog_reads r LEFT JOIN t_issues i ON i.site_id = r.site_id AND i.id = r.issue_id
             WHERE r.site_id = ?1 ORDER BY r.issue_id",
        )?;
        let rows = st
            .query_map([&self.site], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn worklog_updates(&self, ids: &[String]) -> Result<HashMap<String, Option<String>>> {
        let mut st = self.conn.prepare_cached(
            "SELECT w.updated FROM t_worklogs w JOIN t_issues i ON i.site_id = w.site_id AND i.id = w.issue_id
             WHERE w.site_id = ?2 AND w.id = ?1 AND w.deleted_at IS NULL AND i.deleted_at IS NULL",
        )?;
        let mut out = HashMap::new();
        for id in ids {
            if let Some(updated) = st
                .query_row(params![id, self.site], |r| r.get(0))
                .optional()?
            {
                out.insert(id.clone(), updated);
            }
        }
        Ok(out)
    }

    fn live_issues_among(&self, ids: &[String]) -> Result<HashSet<String>> {
        let mut st = self.conn.prepare_cached(
            "SELECT 1 FROM t_issues WHERE site_id = ?2 AND id = ?1 AND deleted_at IS NULL",
        )?;
        let mut out = HashSet::new();
        for id in ids {
            if st.exists(params![id, self.site])? {
                out.insert(id.clone());
            }
        }
        Ok(out)
    }

    fn reader(&self) -> Result<Box<dyn Backend>> {
        let path = self.conn.path().unwrap_or_default().to_owned();
        let conn = Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(Box::new(Store {
            conn,
            site: self.site.clone(),
        }))
    }

    fn counts(&self) -> Result<Counts> {
        let one = |sql: &str| -> Result<i64> {
            Ok(self.conn.query_row(sql, [&self.site], |r| r.get(0))?)
        };
        Ok(Counts {
            projects: one(
                "SELECT COUNT(*) FROM projects WHERE site_id = ?1 AND deleted_at IS NULL",
            )?,
            issues: one("SELECT COUNT(*) FROM issues WHERE site_id = ?1 AND deleted_at IS NULL")?,
            issues_deleted: one(
                "SELECT COUNT(*) FROM issues WHERE site_id = ?1 AND deleted_at IS NOT NULL",
            )?,
            changes: one("SELECT COUNT(*) FROM issue_changes WHERE site_id = ?1")?,
            comments: one(
                "SELECT COUNT(*) FROM comments WHERE site_id = ?1 AND deleted_at IS NULL",
            )?,
            worklogs: one(
                "SELECT COUNT(*) FROM worklogs WHERE site_id = ?1 AND deleted_at IS NULL",
            )?,
            sprints: one("SELECT COUNT(*) FROM sprints WHERE site_id = ?1")?,
        })
    }

    fn write_tx(&mut self, f: &mut dyn FnMut(&dyn Tx) -> Result<()>) -> Result<()> {
        self.write(f)
    }

    fn use_site(&mut self, site: &SiteRow, credential: &str) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO t_sites (site_id, deployment, base_url, cloud_id, server_id, title, version, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
             ON CONFLICT (site_id) DO UPDATE SET deployment = excluded.deployment, base_url = excluded.base_url,
               cloud_id = excluded.cloud_id, server_id = excluded.server_id, title = excluded.title,
               version = excluded.version, last_seen = excluded.last_seen",
            params![site.site_id, site.deployment, site.base_url, site.cloud_id, site.server_id, site.title, site.version, now()],
        )?;
        // Rows from before sites were recorded belong to the site of the credential that wrote
        // them: the first of their credentials to sync again moves them all.
        let wrote_unresolved = tx
            .prepare("SELECT 1 FROM t_checkpoints WHERE site_id = ?1 AND credential = ?2")?
            .exists(params![UNRESOLVED_SITE, credential])?;
        if wrote_unresolved && site.site_id != UNRESOLVED_SITE {
            for sql in adopt_unresolved_sql("?1") {
                let mut st = tx.prepare(&sql)?;
                if st.parameter_count() == 1 {
                    st.execute([&site.site_id])?;
                } else {
                    st.execute([])?;
                }
            }
        }
        tx.commit()?;
        self.site = site.site_id.clone();
        Ok(())
    }

    fn site(&self) -> &str {
        &self.site
    }

    fn scope_to(&mut self, site_id: &str) -> Result<()> {
        self.site = site_id.to_owned();
        Ok(())
    }

    fn project_keys(&self) -> Result<Vec<String>> {
        let mut st = self.conn.prepare(
            "SELECT key FROM t_projects WHERE site_id = ?1 AND deleted_at IS NULL ORDER BY key",
        )?;
        let keys = st
            .query_map([&self.site], |r| r.get(0))?
            .collect::<std::result::Result<Vec<String>, _>>()?;
        Ok(keys)
    }

    fn boards(&self) -> Result<Vec<(String, String, Option<String>)>> {
        let mut st = self.conn.prepare(
            "SELECT id, type, project_key FROM t_boards WHERE site_id = ?1 AND deleted_at IS NULL ORDER BY id",
        )?;
        let boards = st
            .query_map([&self.site], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(boards)
    }

    fn query_strings(&self, sql: &str) -> Result<TextRows> {
        let mut st = self.conn.prepare(sql)?;
        let columns: Vec<String> = st.column_names().iter().map(|c| (*c).to_owned()).collect();
        let n = columns.len();
        let rows = st
            .query_map([], |r| {
                (0..n)
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            ValueRef::Null => None,
                            ValueRef::Integer(i) => Some(i.to_string()),
                            ValueRef::Real(f) => Some(f.to_string()),
                            ValueRef::Text(t) | ValueRef::Blob(t) => {
                                Some(String::from_utf8_lossy(t).into_owned())
                            }
                        })
                    })
                    .collect()
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok((columns, rows))
    }
}

/// A store the sync reads and writes: SQLite ([`Store`]) or PostgreSQL (`postgres::PgStore`, feature
/// `postgres`). Each write runs in one transaction; checkpoints are written in the transaction of
/// the data they cover.
pub trait Backend: Send {
    /// Runs `f` in one transaction (`<dyn Backend>::write` is the generic form).
    fn write_tx(&mut self, f: &mut dyn FnMut(&dyn Tx) -> Result<()>) -> Result<()>;

    /// Records `site` (the `sites` view) and scopes every later read and write of this handle
    /// (and of its readers) to it. Rows of a store from before sites were recorded
    /// ([`UNRESOLVED_SITE`]) move to `site` if `credential` wrote them (it has checkpoints there).
    fn use_site(&mut self, site: &SiteRow, credential: &str) -> Result<()>;

    /// The site this handle reads and writes.
    fn site(&self) -> &str;

    /// Scopes this handle to a site without recording anything (readers such as `verify`).
    fn scope_to(&mut self, site_id: &str) -> Result<()>;

    /// Keys of the site's live projects, by key.
    fn project_keys(&self) -> Result<Vec<String>>;

    /// The site's live boards: (id, type, project key).
    fn boards(&self) -> Result<Vec<(String, String, Option<String>)>>;

    fn checkpoint(&self, credential: &str, stream: &str, scope: &str) -> Result<Option<String>>;

    fn begin_run(&mut self, credential: &str) -> Result<i64>;

    fn finish_run(
        &mut self,
        run: i64,
        status: &str,
        requests: i64,
        issues_written: i64,
        error: Option<&str>,
    ) -> Result<()>;

    /// Ids of live issues of a project.
    fn live_issue_ids(&self, project_key: &str) -> Result<Vec<String>>;

    /// One issue's stored row (deleted or not), for comparisons.
    fn issue_row(&self, id: &str) -> Result<Option<IssueRow>>;

    /// Queued worklog reads: (issue id, whether its older worklogs are missing, its `updated`).
    fn worklog_reads(&self) -> Result<Vec<(String, bool, Option<String>)>>;

    /// The stored `updated` of those of `ids` that are live worklogs of live issues.
    fn worklog_updates(&self, ids: &[String]) -> Result<HashMap<String, Option<String>>>;

    /// Ids of the live issues among `ids`.
    fn live_issues_among(&self, ids: &[String]) -> Result<HashSet<String>>;

    /// A second, read-only connection to the same store: it reads while another thread writes
    /// (WAL), seeing only committed transactions.
    fn reader(&self) -> Result<Box<dyn Backend>>;

    fn counts(&self) -> Result<Counts>;

    /// Column names and rows of a query, as text (`jiralink status`).
    fn query_strings(&self, sql: &str) -> Result<TextRows>;
}

impl dyn Backend + '_ {
    /// Runs `f` in one transaction: all of it is written, or none.
    pub fn write<T>(&mut self, f: impl FnOnce(&dyn Tx) -> Result<T>) -> Result<T> {
        let mut f = Some(f);
        let mut out = None;
        self.write_tx(&mut |tx| {
            let f = f.take().expect("a transaction runs its closure once");
            out = Some(f(tx)?);
            Ok(())
        })?;
        Ok(out.expect("the closure ran"))
    }
}

/// The one write path of a sync, implemented by each backend's transaction.
pub trait Tx {
    fn upsert_project(
        &self,
        id: &str,
        key: &str,
        name: &str,
        kind: Option<&str>,
        raw: &str,
    ) -> Result<()>;

    /// A workflow status; `category` is the status category key (`new`, `indeterminate`, `done`).
    fn upsert_status(&self, id: &str, name: &str, category: &str) -> Result<()>;

    /// An issue type (with `subtask`), priority or resolution.
    fn upsert_lookup(
        &self,
        lookup: Lookup,
        id: &str,
        name: &str,
        subtask: Option<bool>,
    ) -> Result<()>;

    fn upsert_field(
        &self,
        id: &str,
        name: &str,
        custom: bool,
        schema_type: Option<&str>,
        schema_custom: Option<&str>,
    ) -> Result<()>;

    fn upsert_user(
        &self,
        id: &str,
        display_name: Option<&str>,
        email: Option<&str>,
        active: bool,
    ) -> Result<()>;

    fn upsert_issue(&self, i: &IssueRow) -> Result<()>;

    /// Replaces an issue's whole changelog (changelogs are fetched whole, so this is exact).
    fn replace_changes(&self, issue_id: &str, changes: &[ChangeRow]) -> Result<()>;

    /// Writes an issue's complete comment list; comments no longer there become deleted.
    fn set_comments(&self, issue_id: &str, comments: &[CommentRow], now: &str) -> Result<()>;

    /// Writes an issue's complete worklog list; worklogs no longer there become deleted.
    fn set_worklogs(&self, issue_id: &str, worklogs: &[WorklogRow], now: &str) -> Result<()>;

    /// Writes worklogs (some of an issue's, or from the feeds) without touching others.
    fn upsert_worklogs(&self, worklogs: &[WorklogRow]) -> Result<()>;

    /// Worklogs Jira's `worklog/deleted` feed lists; unknown ids are ignored.
    fn mark_worklogs_deleted(&self, ids: &[String], now: &str) -> Result<()>;

    /// Queues an issue whose worklog list Jira truncated. Call before the issue is written:
    /// `feeds_started` and an issue not yet live here mean its older worklogs must be read per
    /// issue (no feed page the sync reads from now on holds them).
    fn queue_worklog_read(&self, issue_id: &str, feeds_started: bool) -> Result<()>;

    fn clear_worklog_read(&self, issue_id: &str) -> Result<()>;

    fn set_sprint_issues(&self, issue_id: &str, sprint_ids: &[String]) -> Result<()>;

    fn upsert_board(
        &self,
        id: &str,
        name: &str,
        kind: &str,
        project_key: Option<&str>,
    ) -> Result<()>;

    fn upsert_sprint(&self, s: &SprintRow) -> Result<()>;

    /// Marks issues deleted (they stay as rows with `deleted_at`).
    /// A project's whole version and component lists: upserted, and those no longer listed get
    /// `deleted_at`.
    fn set_project_catalog(
        &self,
        project_key: &str,
        versions: &[VersionRow],
        components: &[ComponentRow],
        now: &str,
    ) -> Result<()>;

    /// Replaces an issue's version and component memberships and its links.
    fn set_issue_refs(&self, issue_id: &str, refs: &IssueRefs) -> Result<()>;

    /// Writes a batch of issues with everything fetched beside them: the same as the calls above,
    /// issue by issue (the default). A backend where each statement is a round trip writes each
    /// list of the whole batch in one statement instead.
    fn write_issues(&self, batch: &IssueBatch, now: &str) -> Result<()> {
        for i in &batch.issues {
            self.upsert_issue(i)?;
        }
        for (id, changes) in &batch.changes {
            self.replace_changes(id, changes)?;
        }
        for (id, comments) in &batch.comments {
            self.set_comments(id, comments, now)?;
        }
        for (id, worklogs, complete) in &batch.worklogs {
            if *complete {
                self.set_worklogs(id, worklogs, now)?;
            } else {
                self.upsert_worklogs(worklogs)?;
            }
        }
        for (id, sprints) in &batch.sprints {
            self.set_sprint_issues(id, sprints)?;
        }
        for (id, refs) in &batch.refs {
            self.set_issue_refs(id, refs)?;
        }
        Ok(())
    }

    /// Ids of live issues of a project, as this transaction sees them.
    fn live_issue_ids(&self, project_key: &str) -> Result<Vec<String>>;

    fn mark_issues_deleted(&self, ids: &[String], now: &str) -> Result<()>;

    /// Records which of the projects `credential` synced before it can see now (`visible`, the
    /// whole project list it was given): those it no longer sees are recorded as not visible to
    /// it (their rows stay, nothing is marked deleted); those it sees again are cleared. Returns
    /// the projects newly not visible.
    fn record_visibility(
        &self,
        credential: &str,
        visible: &[String],
        now: &str,
    ) -> Result<Vec<String>>;

    fn clear_checkpoint(&self, credential: &str, stream: &str, scope: &str) -> Result<()>;

    fn set_checkpoint(
        &self,
        credential: &str,
        stream: &str,
        scope: &str,
        value: &str,
    ) -> Result<()>;
}

/// An SQLite write transaction.
pub struct SqliteTx<'a>(rusqlite::Transaction<'a>, String);

impl SqliteTx<'_> {
    /// One statement, prepared once per connection: a sync runs the same few statements for every
    /// issue, and preparing them each time cost more CPU than running them.
    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize> {
        Ok(self.0.prepare_cached(sql)?.execute(params)?)
    }

    fn mark_missing_deleted(
        &self,
        table: &str,
        issue_id: &str,
        keep: &[&str],
        now: &str,
    ) -> Result<()> {
        let mut st = self.0.prepare_cached(&format!(
            "SELECT id FROM {table} WHERE site_id = ?2 AND issue_id = ?1 AND deleted_at IS NULL"
        ))?;
        let existing = st
            .query_map(params![issue_id, self.1], |r| r.get::<_, String>(0))?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut upd = self.0.prepare_cached(&format!(
            "UPDATE {table} SET deleted_at = ?2 WHERE site_id = ?3 AND id = ?1"
        ))?;
        for id in existing.iter().filter(|id| !keep.contains(&id.as_str())) {
            upd.execute(params![id, now, self.1])?;
        }
        Ok(())
    }
}

impl Tx for SqliteTx<'_> {
    fn upsert_project(
        &self,
        id: &str,
        key: &str,
        name: &str,
        kind: Option<&str>,
        raw: &str,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO t_projects (site_id, id, key, name, type, raw_json, deleted_at) VALUES (?6, ?1, ?2, ?3, ?4, ?5, NULL)
             ON CONFLICT (site_id, id) DO UPDATE SET key = excluded.key, name = excluded.name, type = excluded.type,
             raw_json = excluded.raw_json, deleted_at = NULL",
            params![id, key, name, kind, raw, self.1],
        )?;
        Ok(())
    }

    fn upsert_status(&self, id: &str, name: &str, category: &str) -> Result<()> {
        self.exec(
            "INSERT INTO t_statuses (site_id, id, name, category) VALUES (?4, ?1, ?2, ?3)
             ON CONFLICT (site_id, id) DO UPDATE SET name = excluded.name, category = excluded.category",
            params![id, name, category, self.1],
        )?;
        Ok(())
    }

    fn upsert_lookup(
        &self,
        lookup: Lookup,
        id: &str,
        name: &str,
        subtask: Option<bool>,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO t_lookups (site_id, kind, id, name, subtask) VALUES (?5, ?1, ?2, ?3, ?4)
             ON CONFLICT (site_id, kind, id) DO UPDATE SET name = excluded.name, subtask = excluded.subtask",
            params![lookup.kind(), id, name, subtask, self.1],
        )?;
        Ok(())
    }

    fn upsert_field(
        &self,
        id: &str,
        name: &str,
        custom: bool,
        schema_type: Option<&str>,
        schema_custom: Option<&str>,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO t_fields (site_id, id, name, custom, schema_type, schema_custom) VALUES (?6, ?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (site_id, id) DO UPDATE SET name = excluded.name, custom = excluded.custom,
             schema_type = excluded.schema_type, schema_custom = excluded.schema_custom",
            params![id, name, custom, schema_type, schema_custom, self.1],
        )?;
        Ok(())
    }

    fn upsert_user(
        &self,
        id: &str,
        display_name: Option<&str>,
        email: Option<&str>,
        active: bool,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO t_users (site_id, id, display_name, email, active) VALUES (?5, ?1, ?2, ?3, ?4)
             ON CONFLICT (site_id, id) DO UPDATE SET display_name = excluded.display_name, email = excluded.email, active = excluded.active",
            params![id, display_name, email, active, self.1],
        )?;
        Ok(())
    }

    fn upsert_issue(&self, i: &IssueRow) -> Result<()> {
        self.exec(
            "INSERT INTO t_issues (site_id, id, key, project_key, issue_type, summary, status, status_category, priority,
               assignee_id, reporter_id, created, updated, resolved, story_points, parent_key, deleted_at, raw_json)
             VALUES (?17, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, NULL, ?16)
             ON CONFLICT (site_id, id) DO UPDATE SET key = excluded.key, project_key = excluded.project_key,
               issue_type = excluded.issue_type, summary = excluded.summary, status = excluded.status,
               status_category = excluded.status_category, priority = excluded.priority,
               assignee_id = excluded.assignee_id, reporter_id = excluded.reporter_id, created = excluded.created,
               updated = excluded.updated, resolved = excluded.resolved, story_points = excluded.story_points,
               parent_key = excluded.parent_key, deleted_at = NULL, raw_json = excluded.raw_json",
            params![
                i.id, i.key, i.project_key, i.issue_type, i.summary, i.status, i.status_category, i.priority,
                i.assignee_id, i.reporter_id, i.created, i.updated, i.resolved, i.story_points, i.parent_key, i.raw_json,
                self.1
            ],
        )?;
        Ok(())
    }

    fn replace_changes(&self, issue_id: &str, changes: &[ChangeRow]) -> Result<()> {
        self.exec(
            "DELETE FROM t_issue_changes WHERE site_id = ?2 AND issue_id = ?1",
            params![issue_id, self.1],
        )?;
        let mut st = self.0.prepare_cached(
            "INSERT OR REPLACE INTO t_issue_changes (site_id, issue_id, change_id, item_index, changed_at, author_id, field,
               from_value, from_string, to_value, to_string) VALUES (?11, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for c in changes {
            st.execute(params![
                issue_id,
                c.change_id,
                c.item_index,
                c.changed_at,
                c.author_id,
                c.field,
                c.from_value,
                c.from_string,
                c.to_value,
                c.to_string,
                self.1
            ])?;
        }
        Ok(())
    }

    fn set_comments(&self, issue_id: &str, comments: &[CommentRow], now: &str) -> Result<()> {
        let mut st = self.0.prepare_cached(
            "INSERT INTO t_comments (site_id, id, issue_id, author_id, created, updated, body_text, body_raw, deleted_at)
             VALUES (?8, ?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)
             ON CONFLICT (site_id, id) DO UPDATE SET issue_id = excluded.issue_id, author_id = excluded.author_id,
               created = excluded.created, updated = excluded.updated, body_text = excluded.body_text,
               body_raw = excluded.body_raw, deleted_at = NULL",
        )?;
        for c in comments {
            st.execute(params![
                c.id,
                c.issue_id,
                c.author_id,
                c.created,
                c.updated,
                c.body_text,
                c.body_raw,
                self.1
            ])?;
        }
        let keep: Vec<&str> = comments.iter().map(|c| c.id.as_str()).collect();
        self.mark_missing_deleted("t_comments", issue_id, &keep, now)
    }

    fn set_worklogs(&self, issue_id: &str, worklogs: &[WorklogRow], now: &str) -> Result<()> {
        self.upsert_worklogs(worklogs)?;
        let keep: Vec<&str> = worklogs.iter().map(|w| w.id.as_str()).collect();
        self.mark_missing_deleted("t_worklogs", issue_id, &keep, now)
    }

    fn upsert_worklogs(&self, worklogs: &[WorklogRow]) -> Result<()> {
        let mut st = self.0.prepare_cached(
            "INSERT INTO t_worklogs (site_id, id, issue_id, author_id, started, time_spent_seconds, updated, deleted_at)
             VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6, NULL)
             ON CONFLICT (site_id, id) DO UPDATE SET issue_id = excluded.issue_id, author_id = excluded.author_id,
               started = excluded.started, time_spent_seconds = excluded.time_spent_seconds,
               updated = excluded.updated, deleted_at = NULL",
        )?;
        for w in worklogs {
            st.execute(params![
                w.id,
                w.issue_id,
                w.author_id,
                w.started,
                w.time_spent_seconds,
                w.updated,
                self.1
            ])?;
        }
        Ok(())
    }

    fn mark_worklogs_deleted(&self, ids: &[String], now: &str) -> Result<()> {
        let mut st = self.0.prepare_cached(
            "UPDATE t_worklogs SET deleted_at = ?2 WHERE site_id = ?3 AND id = ?1 AND deleted_at IS NULL",
        )?;
        for id in ids {
            st.execute(params![id, now, self.1])?;
        }
        Ok(())
    }

    fn queue_worklog_read(&self, issue_id: &str, feeds_started: bool) -> Result<()> {
        self.exec(
            "INSERT INTO t_worklog_reads (site_id, issue_id, need_history)
             VALUES (?3, ?1, ?2 AND NOT EXISTS (SELECT 1 FROM t_issues WHERE site_id = ?3 AND id = ?1 AND deleted_at IS NULL))
             ON CONFLICT (site_id, issue_id) DO UPDATE SET need_history = MAX(need_history, excluded.need_history)",
            params![issue_id, feeds_started, self.1],
        )?;
        Ok(())
    }

    fn clear_worklog_read(&self, issue_id: &str) -> Result<()> {
        self.exec(
            "DELETE FROM t_worklog_reads WHERE site_id = ?2 AND issue_id = ?1",
            params![issue_id, self.1],
        )?;
        Ok(())
    }

    fn set_sprint_issues(&self, issue_id: &str, sprint_ids: &[String]) -> Result<()> {
        self.exec(
            "DELETE FROM t_sprint_issues WHERE site_id = ?2 AND issue_id = ?1",
            params![issue_id, self.1],
        )?;
        for s in sprint_ids {
            self.exec(
                "INSERT OR IGNORE INTO t_sprint_issues (site_id, sprint_id, issue_id) VALUES (?3, ?1, ?2)",
                params![s, issue_id, self.1],
            )?;
        }
        Ok(())
    }

    fn upsert_board(
        &self,
        id: &str,
        name: &str,
        kind: &str,
        project_key: Option<&str>,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO t_boards (site_id, id, name, type, project_key, deleted_at) VALUES (?5, ?1, ?2, ?3, ?4, NULL)
             ON CONFLICT (site_id, id) DO UPDATE SET name = excluded.name, type = excluded.type, project_key = excluded.project_key, deleted_at = NULL",
            params![id, name, kind, project_key, self.1],
        )?;
        Ok(())
    }

    fn upsert_sprint(&self, s: &SprintRow) -> Result<()> {
        self.exec(
            "INSERT INTO t_sprints (site_id, id, board_id, name, state, start_date, end_date, complete_date, goal)
             VALUES (?9, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (site_id, id) DO UPDATE SET board_id = excluded.board_id, name = excluded.name, state = excluded.state,
               start_date = excluded.start_date, end_date = excluded.end_date, complete_date = excluded.complete_date, goal = excluded.goal",
            params![s.id, s.board_id, s.name, s.state, s.start_date, s.end_date, s.complete_date, s.goal, self.1],
        )?;
        Ok(())
    }

    fn set_project_catalog(
        &self,
        project_key: &str,
        versions: &[VersionRow],
        components: &[ComponentRow],
        now: &str,
    ) -> Result<()> {
        let mut v = self.0.prepare_cached(
            "INSERT INTO t_versions (site_id, id, project_key, name, released, archived, release_date, deleted_at)
             VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6, NULL)
             ON CONFLICT (site_id, id) DO UPDATE SET project_key = excluded.project_key, name = excluded.name,
             released = excluded.released, archived = excluded.archived,
             release_date = excluded.release_date, deleted_at = NULL",
        )?;
        for x in versions {
            v.execute(params![
                x.id,
                project_key,
                x.name,
                x.released,
                x.archived,
                x.release_date,
                self.1
            ])?;
        }
        let mut c = self.0.prepare_cached(
            "INSERT INTO t_components (site_id, id, project_key, name, lead_id, deleted_at) VALUES (?5, ?1, ?2, ?3, ?4, NULL)
             ON CONFLICT (site_id, id) DO UPDATE SET project_key = excluded.project_key, name = excluded.name,
             lead_id = excluded.lead_id, deleted_at = NULL",
        )?;
        for x in components {
            c.execute(params![x.id, project_key, x.name, x.lead_id, self.1])?;
        }
        let keep = |ids: Vec<&str>| serde_json::to_string(&ids).unwrap_or_default();
        self.exec(
            "UPDATE t_versions SET deleted_at = ?3 WHERE site_id = ?4 AND project_key = ?1 AND deleted_at IS NULL
             AND id NOT IN (SELECT value FROM json_each(?2))",
            params![
                project_key,
                keep(versions.iter().map(|x| x.id.as_str()).collect()),
                now,
                self.1
            ],
        )?;
        self.exec(
            "UPDATE t_components SET deleted_at = ?3 WHERE site_id = ?4 AND project_key = ?1 AND deleted_at IS NULL
             AND id NOT IN (SELECT value FROM json_each(?2))",
            params![
                project_key,
                keep(components.iter().map(|x| x.id.as_str()).collect()),
                now,
                self.1
            ],
        )?;
        Ok(())
    }

    fn set_issue_refs(&self, issue_id: &str, refs: &IssueRefs) -> Result<()> {
        for table in ["t_issue_versions", "t_issue_components", "t_issue_links"] {
            self.exec(
                &format!("DELETE FROM {table} WHERE site_id = ?2 AND issue_id = ?1"),
                params![issue_id, self.1],
            )?;
        }
        let mut v = self.0.prepare_cached(
            "INSERT OR IGNORE INTO t_issue_versions (site_id, issue_id, version_id, kind) VALUES (?4, ?1, ?2, ?3)",
        )?;
        for id in &refs.fix_versions {
            v.execute(params![issue_id, id, "fix", self.1])?;
        }
        for id in &refs.affects_versions {
            v.execute(params![issue_id, id, "affects", self.1])?;
        }
        let mut c = self.0.prepare_cached(
            "INSERT OR IGNORE INTO t_issue_components (site_id, issue_id, component_id) VALUES (?3, ?1, ?2)",
        )?;
        for id in &refs.components {
            c.execute(params![issue_id, id, self.1])?;
        }
        let mut l = self.0.prepare_cached(
            "INSERT OR REPLACE INTO t_issue_links (site_id, id, issue_id, link_type, direction, other_issue_id, other_issue_key)
             VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for x in &refs.links {
            l.execute(params![
                x.id,
                issue_id,
                x.link_type,
                x.direction,
                x.other_issue_id,
                x.other_issue_key,
                self.1
            ])?;
        }
        Ok(())
    }

    fn live_issue_ids(&self, project_key: &str) -> Result<Vec<String>> {
        live_issue_ids(&self.0, &self.1, project_key)
    }

    fn mark_issues_deleted(&self, ids: &[String], now: &str) -> Result<()> {
        let mut st = self.0.prepare_cached(
            "UPDATE t_issues SET deleted_at = ?2 WHERE site_id = ?3 AND id = ?1 AND deleted_at IS NULL",
        )?;
        for id in ids {
            st.execute(params![id, now, self.1])?;
        }
        Ok(())
    }

    fn clear_checkpoint(&self, credential: &str, stream: &str, scope: &str) -> Result<()> {
        self.exec(
            "DELETE FROM t_checkpoints WHERE site_id = ?4 AND credential = ?1 AND stream = ?2 AND scope = ?3",
            params![credential, stream, scope, self.1],
        )?;
        Ok(())
    }

    fn set_checkpoint(
        &self,
        credential: &str,
        stream: &str,
        scope: &str,
        value: &str,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO t_checkpoints (site_id, credential, stream, scope, value, format_version) VALUES (?6, ?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (site_id, credential, stream, scope) DO UPDATE SET value = excluded.value, format_version = excluded.format_version",
            params![credential, stream, scope, value, CHECKPOINT_FORMAT, self.1],
        )?;
        Ok(())
    }

    fn record_visibility(
        &self,
        credential: &str,
        visible: &[String],
        now: &str,
    ) -> Result<Vec<String>> {
        let visible_json = serde_json::to_string(visible).unwrap_or_default();
        self.exec(
            "DELETE FROM t_not_visible WHERE site_id = ?1 AND credential = ?2
             AND project_key IN (SELECT value FROM json_each(?3))",
            params![self.1, credential, visible_json],
        )?;
        let mut st = self.0.prepare_cached(
            "SELECT DISTINCT c.scope FROM t_checkpoints c
             WHERE c.site_id = ?1 AND c.credential = ?2 AND c.stream = 'issues'
             AND c.scope NOT IN (SELECT value FROM json_each(?3))
             AND NOT EXISTS (SELECT 1 FROM t_not_visible n WHERE n.site_id = c.site_id
                 AND n.credential = c.credential AND n.project_key = c.scope)
             ORDER BY c.scope",
        )?;
        let vanished = st
            .query_map(params![self.1, credential, visible_json], |r| r.get(0))?
            .collect::<std::result::Result<Vec<String>, _>>()?;
        for key in &vanished {
            self.exec(
                "INSERT INTO t_not_visible (site_id, credential, project_key, since) VALUES (?1, ?2, ?3, ?4)",
                params![self.1, credential, key, now],
            )?;
        }
        Ok(vanished)
    }
}

/// The tables whose rows belong to one site (every one but `t_sites` and `t_sync_runs`), each
/// with the rest of its key after `site_id`.
pub(crate) const SITE_TABLES: &[(&str, &[&str])] = &[
    ("t_projects", &["id"]),
    ("t_issues", &["id"]),
    ("t_issue_changes", &["change_id", "item_index"]),
    ("t_comments", &["id"]),
    ("t_worklogs", &["id"]),
    ("t_users", &["id"]),
    ("t_boards", &["id"]),
    ("t_sprints", &["id"]),
    ("t_sprint_issues", &["sprint_id", "issue_id"]),
    ("t_checkpoints", &["credential", "stream", "scope"]),
    ("t_statuses", &["id"]),
    ("t_fields", &["id"]),
    ("t_versions", &["id"]),
    ("t_components", &["id"]),
    ("t_issue_versions", &["issue_id", "version_id", "kind"]),
    ("t_issue_components", &["issue_id", "component_id"]),
    ("t_issue_links", &["id", "issue_id"]),
    ("t_lookups", &["kind", "id"]),
    ("t_worklog_reads", &["issue_id"]),
    ("t_not_visible", &["credential", "project_key"]),
];

/// SQL that moves the rows of [`UNRESOLVED_SITE`] to the site `$1`/`?1`: first the unresolved
/// rows the site already holds (another credential of it synced them since) are dropped, being
/// the older copies of the same Jira rows, then the rest are re-keyed.
pub(crate) fn adopt_unresolved_sql(placeholder: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (table, key) in SITE_TABLES {
        let same: Vec<String> = key.iter().map(|k| format!("n.{k} = {table}.{k}")).collect();
        out.push(format!(
            "DELETE FROM {table} WHERE site_id = '{UNRESOLVED_SITE}' AND EXISTS \
             (SELECT 1 FROM {table} n WHERE n.site_id = {placeholder} AND {})",
            same.join(" AND ")
        ));
        out.push(format!(
            "UPDATE {table} SET site_id = {placeholder} WHERE site_id = '{UNRESOLVED_SITE}'"
        ));
    }
    out.push(format!(
        "UPDATE t_sync_runs SET site_id = {placeholder} WHERE site_id = '{UNRESOLVED_SITE}'"
    ));
    out.push(format!(
        "DELETE FROM t_sites WHERE site_id = '{UNRESOLVED_SITE}'"
    ));
    out
}

fn live_issue_ids(conn: &Connection, site: &str, project_key: &str) -> Result<Vec<String>> {
    let mut st = conn.prepare_cached(
        "SELECT id FROM t_issues WHERE site_id = ?2 AND project_key = ?1 AND deleted_at IS NULL",
    )?;
    let ids = st
        .query_map(params![project_key, site], |r| r.get(0))?
        .collect::<std::result::Result<Vec<String>, _>>()?;
    Ok(ids)
}

/// Epoch milliseconds of a store timestamp (UTC ISO-8601 text as the store writes it, or any
/// RFC 3339 time); `None` when it is not a time.
pub fn parse_millis(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in b.get(r)? {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    if b.len() == 24 && b[23] == b'Z' && b[10] == b'T' {
        let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
        let (hh, mm, ss) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
        let secs = days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss;
        return Some(secs * 1000 + digits(20..23).unwrap_or(0));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .or_else(|_| chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%z"))
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The writer's settings for a sync's bulk writes (each batch of 100 issues is some thousands of
/// row and index writes): a page cache that holds the hot index pages (32 MiB instead of 2 MiB, so
/// pages are not re-read with `pread` between batches), checkpoints of the WAL every 64 MiB rather
/// than every 4 MiB (a page rewritten by many batches is copied back once), temporary b-trees in
/// memory, and room for every statement of the write path in the prepared-statement cache (the
/// default of 16 is fewer than the write path uses, so statements were evicted and prepared again
/// for every issue). No memory map: its pages count in the process's resident memory (a 1 GiB map
/// showed a 100,000-issue sync at 825 MiB peak RSS) for no measurable gain.
fn tune_for_bulk_writes(conn: &Connection) -> Result<()> {
    conn.pragma_update(None, "cache_size", -32768)?;
    conn.pragma_update(None, "wal_autocheckpoint", 16384)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Now, as the store writes timestamps: UTC ISO-8601 with milliseconds.
pub fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// A Jira timestamp (`2024-01-02T03:04:05.678+1100`) as the store writes it (UTC, `Z`). Also
/// reads a Postgres `timestamptz` as text (`2024-01-02 03:04:05.678+00`).
pub fn utc(jira_time: &str) -> Option<String> {
    chrono::DateTime::parse_from_str(jira_time, "%Y-%m-%dT%H:%M:%S%.3f%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(jira_time))
        .or_else(|_| chrono::DateTime::parse_from_str(jira_time, "%Y-%m-%d %H:%M:%S%.f%#z"))
        .ok()
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_views_and_checkpoints_in_one_transaction() {
        let dir = std::env::temp_dir().join(format!("jiralink-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("store.db");
        let _ = std::fs::remove_file(&path);
        let mut s = Store::open_sqlite(&path).expect("open");
        s.write(|tx| {
            tx.upsert_project("10000", "ENG", "Engineering", Some("software"), "{}")?;
            tx.upsert_issue(&IssueRow {
                id: "1".into(),
                key: "ENG-1".into(),
                project_key: "ENG".into(),
                raw_json: "{}".into(),
                ..Default::default()
            })?;
            tx.set_comments(
                "1",
                &[
                    CommentRow {
                        id: "c1".into(),
                        issue_id: "1".into(),
                        ..Default::default()
                    },
                    CommentRow {
                        id: "c2".into(),
                        issue_id: "1".into(),
                        ..Default::default()
                    },
                ],
                &now(),
            )?;
            tx.set_checkpoint("cred", "issues", "ENG", "2024-01-01T00:00:00.000Z")
        })
        .expect("write");
        // A failing transaction leaves neither data nor checkpoint.
        let failed: Result<()> = s.write(|tx| {
            tx.upsert_issue(&IssueRow {
                id: "2".into(),
                key: "ENG-2".into(),
                project_key: "ENG".into(),
                raw_json: "{}".into(),
                ..Default::default()
            })?;
            tx.set_checkpoint("cred", "issues", "ENG", "2025-01-01T00:00:00.000Z")?;
            Err(rusqlite::Error::InvalidQuery.into())
        });
        assert!(failed.is_err());
        assert_eq!(
            s.checkpoint("cred", "issues", "ENG")
                .expect("cp")
                .as_deref(),
            Some("2024-01-01T00:00:00.000Z")
        );
        assert_eq!(s.live_issue_ids("ENG").expect("ids"), vec!["1".to_owned()]);
        s.write(|tx| {
            tx.set_comments(
                "1",
                &[CommentRow {
                    id: "c2".into(),
                    issue_id: "1".into(),
                    ..Default::default()
                }],
                &now(),
            )
        })
        .expect("write");
        let c = s.counts().expect("counts");
        assert_eq!(
            (c.issues, c.comments),
            (1, 1),
            "c1 is kept as a deleted row"
        );
        let deleted: i64 = s
            .conn
            .query_row(
                "SELECT COUNT(*) FROM comments WHERE deleted_at IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .expect("q");
        assert_eq!(deleted, 1);
        drop(s);
        // Reopening applies no migration twice.
        let s = Store::open_sqlite(&path).expect("reopen");
        assert_eq!(s.counts().expect("counts").projects, 1);
        assert_eq!(
            utc("2024-01-02T10:00:00.000+1100").as_deref(),
            Some("2024-01-01T23:00:00.000Z")
        );
    }

    #[test]
    fn migration_7_moves_sprint_dates_stored_as_given_to_utc() {
        let dir = std::env::temp_dir().join(format!("jiralink-store-m7-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("store.db");
        let _ = std::fs::remove_file(&path);
        let mut s = Store::open_sqlite(&path).expect("open");
        s.write(|tx| {
            tx.upsert_sprint(&SprintRow {
                id: "1".into(),
                start_date: Some("2015-04-11T15:22:00.000+10:00".into()),
                end_date: Some("2015-04-25T01:00:00.000Z".into()),
                complete_date: Some("not a date".into()),
                ..Default::default()
            })
        })
        .expect("write");
        let (_, sql) = MIGRATIONS[6];
        s.conn.execute_batch(sql).expect("migration 7");
        let row: (String, String, String) = s
            .conn
            .query_row(
                "SELECT start_date, end_date, complete_date FROM sprints",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("sprint");
        assert_eq!(
            row,
            (
                "2015-04-11T05:22:00.000Z".into(),
                "2015-04-25T01:00:00.000Z".into(),
                "not a date".into()
            )
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A store of the previous release (migrations 1-7, one site's rows, no site recorded) opens,
    /// migrates and keeps every row; the first sync of the credential that wrote them moves them to
    /// its site, checkpoints included (no re-sync); another site's credential does not take them.
    #[test]
    fn migration_8_keeps_every_row_and_the_writer_resolves_its_site() {
        let dir = std::env::temp_dir().join(format!("jiralink-store-m8-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("store.db");
        let _ = std::fs::remove_file(&path);
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
            .expect("schema_migrations");
        for (v, sql) in &MIGRATIONS[..7] {
            conn.execute_batch(sql).expect("old migration");
            conn.execute("INSERT INTO schema_migrations VALUES (?1, 'then')", [v])
                .expect("version");
        }
        conn.execute_batch(
            "INSERT INTO t_projects VALUES ('10000', 'ENG', 'Engineering', 'software', '{}', NULL);
             INSERT INTO t_issues (id, key, project_key, raw_json) VALUES ('1', 'ENG-1', 'ENG', '{}');
             INSERT INTO t_issues (id, key, project_key, raw_json, deleted_at) VALUES ('2', 'ENG-2', 'ENG', '{}', '2024-01-01T00:00:00.000Z');
             INSERT INTO t_issue_changes VALUES ('1', 'h1', 0, '2024-01-01T00:00:00.000Z', 'u', 'status', '1', 'Open', '3', 'Done');
             INSERT INTO t_comments VALUES ('c1', '1', 'u', NULL, NULL, 'hi', NULL, NULL);
             INSERT INTO t_worklogs VALUES ('w1', '1', 'u', NULL, 60, NULL, NULL);
             INSERT INTO t_users VALUES ('u', 'U', NULL, 1);
             INSERT INTO t_boards VALUES ('5', 'B', 'scrum', 'ENG', NULL);
             INSERT INTO t_sprints VALUES ('7', '5', 'S', 'active', NULL, NULL, NULL, NULL);
             INSERT INTO t_sprint_issues VALUES ('7', '1');
             INSERT INTO t_sync_runs (credential, started, status) VALUES ('old', '2024-01-01T00:00:00.000Z', 'ok');
             INSERT INTO t_checkpoints VALUES ('old', 'issues', 'ENG', '2024-01-01T00:00:00.000Z', 1);
             INSERT INTO t_statuses VALUES ('1', 'Open', 'new');
             INSERT INTO t_fields VALUES ('summary', 'Summary', 0, 'string', NULL);
             INSERT INTO t_versions VALUES ('v1', 'ENG', '1.0', 0, 0, NULL, NULL);
             INSERT INTO t_components VALUES ('k1', 'ENG', 'API', NULL, NULL);
             INSERT INTO t_issue_versions VALUES ('1', 'v1', 'fix');
             INSERT INTO t_issue_components VALUES ('1', 'k1');
             INSERT INTO t_issue_links VALUES ('l1', '1', 'Blocks', 'outward', '2', 'ENG-2');
             INSERT INTO t_lookups VALUES ('priority', '3', 'Medium', NULL);
             INSERT INTO t_worklog_reads VALUES ('1', 0);",
        )
        .expect("old rows");
        let tables = [
            "t_projects",
            "t_issues",
            "t_issue_changes",
            "t_comments",
            "t_worklogs",
            "t_users",
            "t_boards",
            "t_sprints",
            "t_sprint_issues",
            "t_sync_runs",
            "t_checkpoints",
            "t_statuses",
            "t_fields",
            "t_versions",
            "t_components",
            "t_issue_versions",
            "t_issue_components",
            "t_issue_links",
            "t_lookups",
            "t_worklog_reads",
        ];
        let count_at = |s: &Store, site: &str| -> Vec<i64> {
            tables
                .iter()
                .map(|t| {
                    s.conn
                        .query_row(
                            &format!("SELECT COUNT(*) FROM {t} WHERE site_id = ?1"),
                            [site],
                            |r| r.get(0),
                        )
                        .expect("count")
                })
                .collect()
        };
        drop(conn);
        let mut s = Store::open_sqlite(&path).expect("migrate");
        let all_old: Vec<i64> = vec![1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
        assert_eq!(count_at(&s, UNRESOLVED_SITE), all_old, "every row kept");
        assert_eq!(
            s.checkpoint("old", "issues", "ENG").expect("cp").as_deref(),
            Some("2024-01-01T00:00:00.000Z"),
            "before resolution, the old credential reads its watermark"
        );
        let site = |id: &str| SiteRow {
            site_id: id.into(),
            deployment: "cloud".into(),
            base_url: format!("https://{id}.example"),
            cloud_id: Some(id.into()),
            ..SiteRow::default()
        };
        // A credential that did not write them leaves them where they are.
        s.use_site(&site("other"), "new").expect("other site");
        assert_eq!(count_at(&s, UNRESOLVED_SITE), all_old);
        assert_eq!(s.counts().expect("counts").issues, 0);
        // The writer's first sync moves them, with its checkpoints.
        s.use_site(&site("c1"), "old").expect("writer's site");
        assert_eq!(count_at(&s, UNRESOLVED_SITE), vec![0; tables.len()]);
        assert_eq!(count_at(&s, "c1"), all_old);
        assert_eq!(
            s.checkpoint("old", "issues", "ENG").expect("cp").as_deref(),
            Some("2024-01-01T00:00:00.000Z"),
            "no re-sync: the watermark moved with the rows"
        );
        let c = s.counts().expect("counts");
        assert_eq!((c.issues, c.issues_deleted, c.changes), (1, 1, 1));
        let sites: Vec<String> = s
            .conn
            .prepare("SELECT site_id FROM sites ORDER BY site_id")
            .expect("sql")
            .query_map([], |r| r.get(0))
            .expect("q")
            .collect::<std::result::Result<_, _>>()
            .expect("rows");
        assert_eq!(sites, vec!["c1".to_owned(), "other".to_owned()]);
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Two sites in one store: the same Jira ids, rows apart.
    #[test]
    fn two_sites_with_the_same_ids_keep_their_own_rows() {
        let dir = std::env::temp_dir().join(format!("jiralink-store-2s-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("store.db");
        let _ = std::fs::remove_file(&path);
        let mut s = Store::open_sqlite(&path).expect("open");
        for (site, summary) in [("a", "from a"), ("b", "from b")] {
            s.use_site(
                &SiteRow {
                    site_id: site.into(),
                    deployment: "cloud".into(),
                    ..SiteRow::default()
                },
                "cred",
            )
            .expect("site");
            s.write(|tx| {
                tx.upsert_issue(&IssueRow {
                    id: "1".into(),
                    key: "ENG-1".into(),
                    project_key: "ENG".into(),
                    summary: Some(summary.into()),
                    raw_json: "{}".into(),
                    ..Default::default()
                })?;
                let gone = tx.live_issue_ids("ENG")?;
                assert_eq!(gone, vec!["1".to_owned()], "only this site's issue");
                Ok(())
            })
            .expect("write");
        }
        s.write(|tx| tx.mark_issues_deleted(&["1".into()], &now()))
            .expect("delete in b");
        s.scope_to("a").expect("scope");
        let a = s.issue_row("1").expect("row").expect("a's issue");
        assert_eq!(a.summary.as_deref(), Some("from a"));
        assert_eq!(s.counts().expect("counts").issues, 1, "a's issue is live");
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn utc_reads_jira_rfc3339_and_postgres_text() {
        for (given, want) in [
            (
                "2015-04-11T15:22:00.000+10:00",
                Some("2015-04-11T05:22:00.000Z"),
            ),
            ("2024-01-02T03:04:05.678Z", Some("2024-01-02T03:04:05.678Z")),
            (
                "2024-01-02 03:04:05.678+00",
                Some("2024-01-02T03:04:05.678Z"),
            ),
            ("2024-01-02 03:04:05+00", Some("2024-01-02T03:04:05.000Z")),
            (
                "2024-01-02 13:04:05+10:00",
                Some("2024-01-02T03:04:05.000Z"),
            ),
            ("2024-01-02", None),
            ("yesterday", None),
        ] {
            assert_eq!(utc(given).as_deref(), want, "{given}");
        }
    }
}
