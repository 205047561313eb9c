//! `jiralink-store`: the local mirror of Jira, behind the [`Backend`] and [`Tx`] traits: SQLite
//! ([`Store`]) or PostgreSQL (`postgres::PgStore`, feature `postgres`), with append-only
//! migrations, the public views of PRODUCT.md, and checkpoints written in the same transaction as
//! the data they cover. Makes no HTTP calls.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

/// For readers of the public views (`jiralink status`, tests).
pub use rusqlite::types::{FromSql, FromSqlResult, ValueRef};

#[cfg(feature = "postgres")]
mod pg_tls;
#[cfg(feature = "postgres")]
pub mod postgres;

/// Checkpoint values carry this format version; a newer one is refused rather than misread.
pub const CHECKPOINT_FORMAT: i64 = 1;

const MIGRATIONS: &[(i64, &str)] = &[
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
];

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

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("store database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The message carries the causes (the client's own says only "db error" or "error
    /// performing TLS handshake"); no source is chained, so a report does not repeat them.
    #[cfg(feature = "postgres")]
    #[error("store database error: {}", with_causes(.0))]
    Postgres(::postgres::Error),
    #[cfg(feature = "postgres")]
    #[error("store TLS: {0}")]
    Tls(String),
    #[error(
        "the store at {path} was written by a newer jiralink (schema {found}); upgrade jiralink"
    )]
    TooNew { path: String, found: i64 },
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[cfg(feature = "postgres")]
impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> StoreError {
        StoreError::Postgres(e)
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
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let mut store = Store { conn };
        store.migrate(&path.display().to_string())?;
        Ok(store)
    }

    fn migrate(&mut self, path: &str) -> Result<()> {
        self.conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")?;
        let current: i64 = self.conn.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )?;
        let newest = MIGRATIONS.last().map(|(v, _)| *v).unwrap_or(0);
        if current > newest {
            return Err(StoreError::TooNew {
                path: path.to_owned(),
                found: current,
            });
        }
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, now()],
            )?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Runs `f` in one transaction: all of it is written, or none.
    pub fn write<T>(&mut self, f: impl FnOnce(&dyn Tx) -> Result<T>) -> Result<T> {
        let tx = SqliteTx(self.conn.transaction()?);
        let out = f(&tx)?;
        tx.0.commit()?;
        Ok(out)
    }

    /// Read access for reports and tests (the public views).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

impl Backend for Store {
    fn checkpoint(&self, credential: &str, stream: &str, scope: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM t_checkpoints WHERE credential = ?1 AND stream = ?2 AND scope = ?3 AND format_version <= ?4",
                params![credential, stream, scope, CHECKPOINT_FORMAT],
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
            "UPDATE t_sync_runs SET finished = ?2, status = ?3, requests = ?4, issues_written = ?5, error = ?6 WHERE id = ?1",
            params![run, now(), status, requests, issues_written, error],
        )?;
        Ok(())
    }

    fn live_issue_ids(&self, project_key: &str) -> Result<Vec<String>> {
        live_issue_ids(&self.conn, project_key)
    }

    fn issue_row(&self, id: &str) -> Result<Option<IssueRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, key, project_key, issue_type, summary, status, status_category, priority,
                        assignee_id, reporter_id, created, updated, resolved, story_points, parent_key, raw_json
                 FROM t_issues WHERE id = ?1",
                [id],
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
             FROM t_worklog_reads r LEFT JOIN t_issues i ON i.id = r.issue_id ORDER BY r.issue_id",
        )?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn worklog_updates(&self, ids: &[String]) -> Result<HashMap<String, Option<String>>> {
        let mut st = self.conn.prepare_cached(
            "SELECT w.updated FROM t_worklogs w JOIN t_issues i ON i.id = w.issue_id
             WHERE w.id = ?1 AND w.deleted_at IS NULL AND i.deleted_at IS NULL",
        )?;
        let mut out = HashMap::new();
        for id in ids {
            if let Some(updated) = st.query_row([id], |r| r.get(0)).optional()? {
                out.insert(id.clone(), updated);
            }
        }
        Ok(out)
    }

    fn live_issues_among(&self, ids: &[String]) -> Result<HashSet<String>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT 1 FROM t_issues WHERE id = ?1 AND deleted_at IS NULL")?;
        let mut out = HashSet::new();
        for id in ids {
            if st.exists([id])? {
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
        Ok(Box::new(Store { conn }))
    }

    fn counts(&self) -> Result<Counts> {
        let one = |sql: &str| -> Result<i64> { Ok(self.conn.query_row(sql, [], |r| r.get(0))?) };
        Ok(Counts {
            projects: one("SELECT COUNT(*) FROM projects WHERE deleted_at IS NULL")?,
            issues: one("SELECT COUNT(*) FROM issues WHERE deleted_at IS NULL")?,
            issues_deleted: one("SELECT COUNT(*) FROM issues WHERE deleted_at IS NOT NULL")?,
            changes: one("SELECT COUNT(*) FROM issue_changes")?,
            comments: one("SELECT COUNT(*) FROM comments WHERE deleted_at IS NULL")?,
            worklogs: one("SELECT COUNT(*) FROM worklogs WHERE deleted_at IS NULL")?,
            sprints: one("SELECT COUNT(*) FROM sprints")?,
        })
    }

    fn write_tx(&mut self, f: &mut dyn FnMut(&dyn Tx) -> Result<()>) -> Result<()> {
        self.write(f)
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
pub struct SqliteTx<'a>(rusqlite::Transaction<'a>);

impl SqliteTx<'_> {
    fn mark_missing_deleted(
        &self,
        table: &str,
        issue_id: &str,
        keep: &[&str],
        now: &str,
    ) -> Result<()> {
        let mut st = self.0.prepare_cached(&format!(
            "SELECT id FROM {table} WHERE issue_id = ?1 AND deleted_at IS NULL"
        ))?;
        let existing = st
            .query_map([issue_id], |r| r.get::<_, String>(0))?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut upd = self
            .0
            .prepare_cached(&format!("UPDATE {table} SET deleted_at = ?2 WHERE id = ?1"))?;
        for id in existing.iter().filter(|id| !keep.contains(&id.as_str())) {
            upd.execute(params![id, now])?;
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
        self.0.execute(
            "INSERT INTO t_projects (id, key, name, type, raw_json, deleted_at) VALUES (?1, ?2, ?3, ?4, ?5, NULL)
             ON CONFLICT (id) DO UPDATE SET key = excluded.key, name = excluded.name, type = excluded.type,
             raw_json = excluded.raw_json, deleted_at = NULL",
            params![id, key, name, kind, raw],
        )?;
        Ok(())
    }

    fn upsert_status(&self, id: &str, name: &str, category: &str) -> Result<()> {
        self.0.execute(
            "INSERT INTO t_statuses (id, name, category) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, category = excluded.category",
            params![id, name, category],
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
        self.0.execute(
            "INSERT INTO t_lookups (kind, id, name, subtask) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (kind, id) DO UPDATE SET name = excluded.name, subtask = excluded.subtask",
            params![lookup.kind(), id, name, subtask],
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
        self.0.execute(
            "INSERT INTO t_fields (id, name, custom, schema_type, schema_custom) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, custom = excluded.custom,
             schema_type = excluded.schema_type, schema_custom = excluded.schema_custom",
            params![id, name, custom, schema_type, schema_custom],
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
        self.0.execute(
            "INSERT INTO t_users (id, display_name, email, active) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, email = excluded.email, active = excluded.active",
            params![id, display_name, email, active],
        )?;
        Ok(())
    }

    fn upsert_issue(&self, i: &IssueRow) -> Result<()> {
        self.0.execute(
            "INSERT INTO t_issues (id, key, project_key, issue_type, summary, status, status_category, priority,
               assignee_id, reporter_id, created, updated, resolved, story_points, parent_key, deleted_at, raw_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, NULL, ?16)
             ON CONFLICT (id) DO UPDATE SET key = excluded.key, project_key = excluded.project_key,
               issue_type = excluded.issue_type, summary = excluded.summary, status = excluded.status,
               status_category = excluded.status_category, priority = excluded.priority,
               assignee_id = excluded.assignee_id, reporter_id = excluded.reporter_id, created = excluded.created,
               updated = excluded.updated, resolved = excluded.resolved, story_points = excluded.story_points,
               parent_key = excluded.parent_key, deleted_at = NULL, raw_json = excluded.raw_json",
            params![
                i.id, i.key, i.project_key, i.issue_type, i.summary, i.status, i.status_category, i.priority,
                i.assignee_id, i.reporter_id, i.created, i.updated, i.resolved, i.story_points, i.parent_key, i.raw_json
            ],
        )?;
        Ok(())
    }

    fn replace_changes(&self, issue_id: &str, changes: &[ChangeRow]) -> Result<()> {
        self.0.execute(
            "DELETE FROM t_issue_changes WHERE issue_id = ?1",
            [issue_id],
        )?;
        let mut st = self.0.prepare_cached(
            "INSERT OR REPLACE INTO t_issue_changes (issue_id, change_id, item_index, changed_at, author_id, field,
               from_value, from_string, to_value, to_string) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
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
                c.to_string
            ])?;
        }
        Ok(())
    }

    fn set_comments(&self, issue_id: &str, comments: &[CommentRow], now: &str) -> Result<()> {
        let mut st = self.0.prepare_cached(
            "INSERT INTO t_comments (id, issue_id, author_id, created, updated, body_text, body_raw, deleted_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)
             ON CONFLICT (id) DO UPDATE SET issue_id = excluded.issue_id, author_id = excluded.author_id,
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
                c.body_raw
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
            "INSERT INTO t_worklogs (id, issue_id, author_id, started, time_spent_seconds, updated, deleted_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)
             ON CONFLICT (id) DO UPDATE SET issue_id = excluded.issue_id, author_id = excluded.author_id,
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
                w.updated
            ])?;
        }
        Ok(())
    }

    fn mark_worklogs_deleted(&self, ids: &[String], now: &str) -> Result<()> {
        let mut st = self.0.prepare_cached(
            "UPDATE t_worklogs SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL",
        )?;
        for id in ids {
            st.execute(params![id, now])?;
        }
        Ok(())
    }

    fn queue_worklog_read(&self, issue_id: &str, feeds_started: bool) -> Result<()> {
        self.0.execute(
            "INSERT INTO t_worklog_reads (issue_id, need_history)
             VALUES (?1, ?2 AND NOT EXISTS (SELECT 1 FROM t_issues WHERE id = ?1 AND deleted_at IS NULL))
             ON CONFLICT (issue_id) DO UPDATE SET need_history = MAX(need_history, excluded.need_history)",
            params![issue_id, feeds_started],
        )?;
        Ok(())
    }

    fn clear_worklog_read(&self, issue_id: &str) -> Result<()> {
        self.0.execute(
            "DELETE FROM t_worklog_reads WHERE issue_id = ?1",
            [issue_id],
        )?;
        Ok(())
    }

    fn set_sprint_issues(&self, issue_id: &str, sprint_ids: &[String]) -> Result<()> {
        self.0.execute(
            "DELETE FROM t_sprint_issues WHERE issue_id = ?1",
            [issue_id],
        )?;
        for s in sprint_ids {
            self.0.execute(
                "INSERT OR IGNORE INTO t_sprint_issues (sprint_id, issue_id) VALUES (?1, ?2)",
                params![s, issue_id],
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
        self.0.execute(
            "INSERT INTO t_boards (id, name, type, project_key, deleted_at) VALUES (?1, ?2, ?3, ?4, NULL)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, type = excluded.type, project_key = excluded.project_key, deleted_at = NULL",
            params![id, name, kind, project_key],
        )?;
        Ok(())
    }

    fn upsert_sprint(&self, s: &SprintRow) -> Result<()> {
        self.0.execute(
            "INSERT INTO t_sprints (id, board_id, name, state, start_date, end_date, complete_date, goal)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (id) DO UPDATE SET board_id = excluded.board_id, name = excluded.name, state = excluded.state,
               start_date = excluded.start_date, end_date = excluded.end_date, complete_date = excluded.complete_date, goal = excluded.goal",
            params![s.id, s.board_id, s.name, s.state, s.start_date, s.end_date, s.complete_date, s.goal],
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
            "INSERT INTO t_versions (id, project_key, name, released, archived, release_date, deleted_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)
             ON CONFLICT (id) DO UPDATE SET project_key = excluded.project_key, name = excluded.name,
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
                x.release_date
            ])?;
        }
        let mut c = self.0.prepare_cached(
            "INSERT INTO t_components (id, project_key, name, lead_id, deleted_at) VALUES (?1, ?2, ?3, ?4, NULL)
             ON CONFLICT (id) DO UPDATE SET project_key = excluded.project_key, name = excluded.name,
             lead_id = excluded.lead_id, deleted_at = NULL",
        )?;
        for x in components {
            c.execute(params![x.id, project_key, x.name, x.lead_id])?;
        }
        let keep = |ids: Vec<&str>| serde_json::to_string(&ids).unwrap_or_default();
        self.0.execute(
            "UPDATE t_versions SET deleted_at = ?3 WHERE project_key = ?1 AND deleted_at IS NULL
             AND id NOT IN (SELECT value FROM json_each(?2))",
            params![
                project_key,
                keep(versions.iter().map(|x| x.id.as_str()).collect()),
                now
            ],
        )?;
        self.0.execute(
            "UPDATE t_components SET deleted_at = ?3 WHERE project_key = ?1 AND deleted_at IS NULL
             AND id NOT IN (SELECT value FROM json_each(?2))",
            params![
                project_key,
                keep(components.iter().map(|x| x.id.as_str()).collect()),
                now
            ],
        )?;
        Ok(())
    }

    fn set_issue_refs(&self, issue_id: &str, refs: &IssueRefs) -> Result<()> {
        for table in ["t_issue_versions", "t_issue_components", "t_issue_links"] {
            self.0.execute(
                &format!("DELETE FROM {table} WHERE issue_id = ?1"),
                [issue_id],
            )?;
        }
        let mut v = self.0.prepare_cached(
            "INSERT OR IGNORE INTO t_issue_versions (issue_id, version_id, kind) VALUES (?1, ?2, ?3)",
        )?;
        for id in &refs.fix_versions {
            v.execute(params![issue_id, id, "fix"])?;
        }
        for id in &refs.affects_versions {
            v.execute(params![issue_id, id, "affects"])?;
        }
        let mut c = self.0.prepare_cached(
            "INSERT OR IGNORE INTO t_issue_components (issue_id, component_id) VALUES (?1, ?2)",
        )?;
        for id in &refs.components {
            c.execute(params![issue_id, id])?;
        }
        let mut l = self.0.prepare_cached(
            "INSERT OR REPLACE INTO t_issue_links (id, issue_id, link_type, direction, other_issue_id, other_issue_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for x in &refs.links {
            l.execute(params![
                x.id,
                issue_id,
                x.link_type,
                x.direction,
                x.other_issue_id,
                x.other_issue_key
            ])?;
        }
        Ok(())
    }

    fn live_issue_ids(&self, project_key: &str) -> Result<Vec<String>> {
        live_issue_ids(&self.0, project_key)
    }

    fn mark_issues_deleted(&self, ids: &[String], now: &str) -> Result<()> {
        let mut st = self.0.prepare_cached(
            "UPDATE t_issues SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL",
        )?;
        for id in ids {
            st.execute(params![id, now])?;
        }
        Ok(())
    }

    fn clear_checkpoint(&self, credential: &str, stream: &str, scope: &str) -> Result<()> {
        self.0.execute(
            "DELETE FROM t_checkpoints WHERE credential = ?1 AND stream = ?2 AND scope = ?3",
            params![credential, stream, scope],
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
        self.0.execute(
            "INSERT INTO t_checkpoints (credential, stream, scope, value, format_version) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (credential, stream, scope) DO UPDATE SET value = excluded.value, format_version = excluded.format_version",
            params![credential, stream, scope, value, CHECKPOINT_FORMAT],
        )?;
        Ok(())
    }
}

fn live_issue_ids(conn: &Connection, project_key: &str) -> Result<Vec<String>> {
    let mut st = conn
        .prepare_cached("SELECT id FROM t_issues WHERE project_key = ?1 AND deleted_at IS NULL")?;
    let ids = st
        .query_map([project_key], |r| r.get(0))?
        .collect::<std::result::Result<Vec<String>, _>>()?;
    Ok(ids)
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
            Err(StoreError::Sqlite(rusqlite::Error::InvalidQuery))
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
            .connection()
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
        s.connection().execute_batch(sql).expect("migration 7");
        let row: (String, String, String) = s
            .connection()
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
