//! The SQLite backend ([`Store`]): the default store, one file beside the vault, written by one
//! connection in WAL mode (readers see committed transactions only).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};

use crate::shared::{self, Exec, Param};
use crate::wal::{self, Checkpointer, WalPolicy};
use crate::{
    adopt_unresolved_sql, migrate, now, Backend, ChangeRow, CommentRow, ComponentRow, Counts,
    IssueBatch, IssueRefs, IssueRow, Result, SiteRow, TextRows, Tx, VersionRow, WorklogRow,
    CHECKPOINT_FORMAT, UNRESOLVED_SITE,
};

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
    (
        13,
        include_str!("../migrations/sqlite/0013_apply_changes.sql"),
    ),
    (14, include_str!("../migrations/sqlite/0014_web_stages.sql")),
];

pub struct Store {
    /// Started at the first commit that leaves the WAL past its soft bound; dropped (its
    /// checkpoint finished) before the connection closes.
    checkpointer: Option<Checkpointer>,
    wal: WalPolicy,
    pub(crate) conn: Connection,
    /// The site every read and write is scoped to ([`Backend::use_site`]).
    pub(crate) site: String,
    /// What the connection's `current_setting('jiralink.site')` answers: [`Store::site`] as of
    /// the last write transaction ([`site_setting`]).
    setting: Arc<Mutex<String>>,
}

impl Store {
    /// Runs `f`'s statements as one read transaction when none is open: one snapshot, and one
    /// lock of the WAL index for all of them instead of one per statement (a worklog feed page's
    /// thousand lookups took two `fcntl` calls each: 89% of a sync's locking calls).
    fn one_read<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        if !self.conn.is_autocommit() {
            return f();
        }
        let tx = self.conn.unchecked_transaction()?;
        let out = f()?;
        tx.commit()?;
        Ok(out)
    }

    /// Opens (creating and migrating) an SQLite store.
    pub fn open_sqlite(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        // Before WAL mode, the one moment a new database takes its page size (an existing store
        // keeps the one it was made with).
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let wal = tune_for_bulk_writes(&conn)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let setting = site_setting(&conn)?;
        let mut store = Store {
            checkpointer: None,
            wal,
            conn,
            site: UNRESOLVED_SITE.to_owned(),
            setting,
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
        self.site
            .clone_into(&mut self.setting.lock().expect("never poisoned"));
        let out = {
            let tx = SqliteTx(self.conn.transaction()?, self.site.clone());
            let out = f(&tx)?;
            tx.0.commit()?;
            out
        };
        self.after_commit()?;
        Ok(out)
    }

    /// Keeps the WAL bounded: past the soft bound the checkpoint thread copies it back while
    /// the writer goes on; past the hard bound (the thread fell behind) the writer does.
    fn after_commit(&mut self) -> Result<()> {
        let pages = wal::take_wal_pages();
        if pages >= self.wal.hard_pages {
            let started = std::time::Instant::now();
            self.conn
                .query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))?;
            tracing::info!(
                pages,
                ms = started.elapsed().as_millis() as u64,
                "the store's writer checkpointed the WAL itself"
            );
        } else if pages >= self.wal.soft_pages {
            if self.checkpointer.is_none() {
                self.checkpointer = Some(Checkpointer::start(self.path())?);
            }
            if let Some(c) = &self.checkpointer {
                if c.pending(pages) >= self.wal.soft_pages {
                    c.request();
                }
            }
        }
        Ok(())
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
        self.one_read(|| {
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
        })
    }

    fn live_issues_among(&self, ids: &[String]) -> Result<HashSet<String>> {
        let mut st = self.conn.prepare_cached(
            "SELECT 1 FROM t_issues WHERE site_id = ?2 AND id = ?1 AND deleted_at IS NULL",
        )?;
        self.one_read(|| {
            let mut out = HashSet::new();
            for id in ids {
                if st.exists(params![id, self.site])? {
                    out.insert(id.clone());
                }
            }
            Ok(out)
        })
    }

    fn reader(&self) -> Result<Box<dyn Backend>> {
        let path = self.conn.path().unwrap_or_default().to_owned();
        let conn = Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let setting = site_setting(&conn)?;
        Ok(Box::new(Store {
            // Read-only: it never commits, so never checkpoints.
            checkpointer: None,
            wal: self.wal,
            conn,
            site: self.site.clone(),
            setting,
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

/// An SQLite write transaction.
pub struct SqliteTx<'a>(pub(crate) rusqlite::Transaction<'a>, String);

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

    /// Deletes an issue's rows from a table of rows per issue.
    fn forget(&self, table: &str, issue_id: &str) -> Result<()> {
        self.exec(
            &format!("DELETE FROM {table} WHERE site_id = ?2 AND issue_id = ?1"),
            params![issue_id, self.1],
        )?;
        Ok(())
    }

    fn insert_changes(&self, issue_id: &str, changes: &[ChangeRow]) -> Result<()> {
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

    fn upsert_comments(&self, comments: &[CommentRow]) -> Result<()> {
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
        Ok(())
    }

    fn insert_sprint_issues(&self, issue_id: &str, sprint_ids: &[String]) -> Result<()> {
        for s in sprint_ids {
            self.exec(
                "INSERT OR IGNORE INTO t_sprint_issues (site_id, sprint_id, issue_id) VALUES (?3, ?1, ?2)",
                params![s, issue_id, self.1],
            )?;
        }
        Ok(())
    }

    fn insert_issue_refs(&self, issue_id: &str, refs: &IssueRefs) -> Result<()> {
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
}

impl Exec for SqliteTx<'_> {
    fn exec(&self, sql: &'static str, params: &[Param<'_>]) -> Result<u64> {
        let n = self
            .0
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(params))?;
        Ok(n as u64)
    }
}

impl Tx for SqliteTx<'_> {
    fn upsert_issue(&self, i: &IssueRow) -> Result<()> {
        self.exec(
            concat!(
                shared::issue_upsert_into!(),
                "VALUES (?17, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, NULL, ?16)",
                shared::issue_upsert_on_conflict!()
            ),
            params![
                i.id, i.key, i.project_key, i.issue_type, i.summary, i.status, i.status_category, i.priority,
                i.assignee_id, i.reporter_id, i.created, i.updated, i.resolved, i.story_points, i.parent_key, i.raw_json,
                self.1
            ],
        )?;
        Ok(())
    }

    fn replace_changes(&self, issue_id: &str, changes: &[ChangeRow]) -> Result<()> {
        self.forget("t_issue_changes", issue_id)?;
        self.insert_changes(issue_id, changes)
    }

    fn set_comments(&self, issue_id: &str, comments: &[CommentRow], now: &str) -> Result<()> {
        self.upsert_comments(comments)?;
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

    fn set_sprint_issues(&self, issue_id: &str, sprint_ids: &[String]) -> Result<()> {
        self.forget("t_sprint_issues", issue_id)?;
        self.insert_sprint_issues(issue_id, sprint_ids)
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
            self.forget(table, issue_id)?;
        }
        self.insert_issue_refs(issue_id, refs)
    }

    /// As the calls above, issue by issue; but an issue new to the store (one lookup per issue, in
    /// this transaction) has no rows to replace or mark deleted, so a first sync skips the six
    /// statements per issue that looked for them (a 50,000-issue sync ran 300,000 of them).
    fn write_issues(&self, batch: &IssueBatch, now: &str) -> Result<()> {
        let mut known = self
            .0
            .prepare_cached("SELECT 1 FROM t_issues WHERE site_id = ?2 AND id = ?1")?;
        let mut new = HashSet::new();
        for i in &batch.issues {
            if !known.exists(params![i.id, self.1])? {
                new.insert(i.id.as_str());
            }
            self.upsert_issue(i)?;
        }
        // An issue in the store has its rows replaced (and those it no longer has marked
        // deleted); a new one only has its rows written.
        let stored = |id: &str| !new.contains(id);
        for (id, changes) in &batch.changes {
            if stored(id) {
                self.replace_changes(id, changes)?;
            } else {
                self.insert_changes(id, changes)?;
            }
        }
        for (id, comments) in &batch.comments {
            if stored(id) {
                self.set_comments(id, comments, now)?;
            } else {
                self.upsert_comments(comments)?;
            }
        }
        for (id, worklogs, complete) in &batch.worklogs {
            if *complete && stored(id) {
                self.set_worklogs(id, worklogs, now)?;
            } else {
                self.upsert_worklogs(worklogs)?;
            }
        }
        for (id, sprints) in &batch.sprints {
            if stored(id) {
                self.set_sprint_issues(id, sprints)?;
            } else {
                self.insert_sprint_issues(id, sprints)?;
            }
        }
        for (id, refs) in &batch.refs {
            if stored(id) {
                self.set_issue_refs(id, refs)?;
            } else {
                self.insert_issue_refs(id, refs)?;
            }
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

fn live_issue_ids(conn: &Connection, site: &str, project_key: &str) -> Result<Vec<String>> {
    let mut st = conn.prepare_cached(
        "SELECT id FROM t_issues WHERE site_id = ?2 AND project_key = ?1 AND deleted_at IS NULL",
    )?;
    let ids = st
        .query_map(params![project_key, site], |r| r.get(0))?
        .collect::<std::result::Result<Vec<String>, _>>()?;
    Ok(ids)
}

/// Gives the connection PostgreSQL's `current_setting('jiralink.site')`, so that the SQL both
/// dialects share ([`shared`]) runs here unchanged; it answers what the returned cell holds.
fn site_setting(conn: &Connection) -> Result<Arc<Mutex<String>>> {
    let setting = Arc::new(Mutex::new(UNRESOLVED_SITE.to_owned()));
    let answer = setting.clone();
    conn.create_scalar_function(
        "current_setting",
        1,
        FunctionFlags::SQLITE_UTF8,
        move |ctx| {
            let name = ctx.get_raw(0).as_str().unwrap_or_default();
            if name != shared::SITE_SETTING {
                return Err(rusqlite::Error::UserFunctionError(
                    format!("unrecognized configuration parameter \"{name}\"").into(),
                ));
            }
            Ok(answer.lock().expect("never poisoned").clone())
        },
    )?;
    Ok(setting)
}

/// The page size of a new store: 32 KiB instead of SQLite's 4 KiB. An issue's raw JSON (some 15 KB
/// with its inline comments and worklogs) then fits one or two pages instead of an overflow chain
/// of four, and every b-tree has fewer levels and splits: a 20,000-issue sync on the idle build
/// machine took 0.45 ms of CPU per issue at 4 KiB, 0.38 at 16 KiB, 0.32 at 32 KiB (system time
/// 3.5 s -> 2.0 s: a third of the `pwrite`/`pread` calls). 64 KiB measured 0.29-0.37, and writes
/// a whole 64 KiB frame to the WAL for each page a small transaction (a ledger row) touches.
const PAGE_SIZE: i64 = 32768;

/// The writer's settings for a sync's bulk writes (each batch of 100 issues is some thousands of
/// row and index writes): a page cache that holds the hot index pages (32 MiB instead of 2 MiB, so
/// pages are not re-read with `pread` between batches), checkpoints of the WAL every 64 MiB rather
/// than every 4 MiB (a page rewritten by many batches is copied back once), on a thread of their
/// own ([`wal`]: the writer no longer waits for the database file's sync), temporary b-trees in
/// memory, and room for every statement of the write path in the prepared-statement cache (the
/// default of 16 is fewer than the write path uses, so statements were evicted and prepared again
/// for every issue). No memory map: its pages count in the process's resident memory (a 1 GiB map
/// showed a 100,000-issue sync at 825 MiB peak RSS) for no measurable gain.
fn tune_for_bulk_writes(conn: &Connection) -> Result<WalPolicy> {
    conn.pragma_update(None, "cache_size", -32768)?;
    let page_size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
    WalPolicy::install(conn)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(WalPolicy::for_page_size(page_size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{utc, SprintRow};

    /// A directory of its own for a test (`jiralink-{tag}-{pid}` under the temp dir), and the
    /// path of a store in it that does not exist yet.
    fn scratch(tag: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("jiralink-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("store.db");
        let _ = std::fs::remove_file(&path);
        (dir, path)
    }

    /// The shared statements' `$n` parameters appear in order, so SQLite's positions (by first
    /// appearance) are PostgreSQL's (by number); and they run against this schema.
    #[test]
    fn shared_statements_number_their_parameters_in_order() {
        let (dir, path) = scratch("shared");
        let s = Store::open_sqlite(&path).expect("open");
        for sql in shared::ALL {
            let st = s.conn.prepare(sql).expect(sql);
            for i in 1..=st.parameter_count() {
                assert_eq!(
                    st.parameter_name(i),
                    Some(format!("${i}").as_str()),
                    "{sql}"
                );
            }
        }
        let out_of_order = s.conn.prepare("SELECT $2, $1").expect("prepare");
        assert_eq!(out_of_order.parameter_name(1), Some("$2"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_new_store_takes_large_pages_and_an_existing_one_keeps_its_own() {
        let dir = std::env::temp_dir().join(format!("jiralink-pages-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let page_size = |s: &Store| -> i64 {
            s.conn
                .pragma_query_value(None, "page_size", |r| r.get(0))
                .expect("page_size")
        };
        let checkpoint_pages = |s: &Store| -> i64 { s.wal.soft_pages.into() };
        let new = Store::open_sqlite(&dir.join("new.db")).expect("open");
        assert_eq!(page_size(&new), PAGE_SIZE);
        assert_eq!(checkpoint_pages(&new), (64 << 20) / PAGE_SIZE);
        // A store made before: 4 KiB pages, kept (and checkpoints still every 64 MiB).
        let old = dir.join("old.db");
        Connection::open(&old)
            .and_then(|c| {
                c.execute_batch(
                    "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t (x);",
                )
            })
            .expect("old store");
        let reopened = Store::open_sqlite(&old).expect("open the old store");
        assert_eq!(page_size(&reopened), 4096);
        assert_eq!(checkpoint_pages(&reopened), 16384);
        drop((new, reopened));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// SQLite's own checkpoints are off on the writer; the WAL is copied back by the thread past
    /// the soft bound, and by the writer itself past the hard one.
    #[test]
    fn the_wal_is_checkpointed_off_the_writer_and_stays_bounded() {
        let dir = std::env::temp_dir().join(format!("jiralink-wal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let fill = |s: &mut Store| {
            s.execute_batch("CREATE TABLE blobs (x BLOB)")
                .expect("table");
            for _ in 0..200 {
                s.write(|tx| {
                    tx.exec("INSERT INTO blobs VALUES (zeroblob(100000))", &[])
                        .map(drop)
                })
                .expect("write");
            }
        };
        // The thread alone (the writer's bound out of reach): the 20 MB reach the database file
        // before the store is closed.
        let path = dir.join("thread.db");
        let mut s = Store::open_sqlite(&path).expect("open");
        let autocheckpoint: i64 = s
            .conn
            .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
            .expect("wal_autocheckpoint");
        assert_eq!(autocheckpoint, 0, "SQLite's own checkpoint is off");
        s.wal = WalPolicy {
            soft_pages: 4,
            hard_pages: i32::MAX,
        };
        fill(&mut s);
        assert!(s.checkpointer.is_some(), "started past the soft bound");
        drop(s.checkpointer.take());
        // (All but fewer than `soft_pages` frames: those wait for the next checkpoint.)
        assert!(size(&path) >= 19_000_000, "copied back: {}", size(&path));
        drop(s);
        // The writer's bound: the WAL never holds much more than it, whatever the thread does.
        let path = dir.join("bounded.db");
        let mut s = Store::open_sqlite(&path).expect("open");
        s.wal = WalPolicy {
            soft_pages: i32::MAX,
            hard_pages: 16,
        };
        // (The file keeps its high-water mark: the schema's creation, before any write.)
        let at_open = size(&dir.join("bounded.db-wal"));
        fill(&mut s);
        assert!(s.checkpointer.is_none());
        let wal = size(&dir.join("bounded.db-wal"));
        assert!(
            wal <= at_open + (16 + 8) * (PAGE_SIZE as u64 + 24),
            "the WAL stays near its bound: {wal} bytes ({at_open} at open)"
        );
        let rows: i64 = s
            .conn
            .query_row("SELECT count(*) FROM blobs", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 200);
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_site_setting_follows_the_store_and_refuses_other_names() {
        let dir = std::env::temp_dir().join(format!("jiralink-setting-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut s = Store::open_sqlite(&dir.join("store.db")).expect("open");
        s.scope_to("site-a").expect("scope");
        s.write(|tx| tx.upsert_status("1", "To Do", "new"))
            .expect("write");
        s.scope_to("site-b").expect("scope");
        s.write(|tx| tx.upsert_status("1", "Open", "new"))
            .expect("write");
        let mut st = s
            .conn
            .prepare("SELECT site_id, name FROM t_statuses ORDER BY site_id")
            .expect("prepare");
        let rows: Vec<(String, String)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<std::result::Result<_, _>>()
            .expect("rows");
        assert_eq!(
            rows,
            [
                ("site-a".into(), "To Do".into()),
                ("site-b".into(), "Open".into())
            ]
        );
        let err = s
            .conn
            .query_row("SELECT current_setting('search_path')", [], |r| {
                r.get::<_, String>(0)
            })
            .expect_err("unknown setting");
        assert!(err.to_string().contains("search_path"), "{err}");
        drop(st);
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn migrations_views_and_checkpoints_in_one_transaction() {
        let (_, path) = scratch("store");
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
        let (dir, path) = scratch("store-m7");
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
        let (dir, path) = scratch("store-m8");
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
        let (dir, path) = scratch("store-2s");
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

    /// `write_issues` skips clearing the rows of an issue new to the store; an issue written again
    /// still has its old changes, sprints, versions, components and links replaced and its missing
    /// comments and worklogs marked deleted, in a batch beside a new issue.
    #[test]
    fn an_issue_written_again_loses_what_it_no_longer_has_and_a_new_one_gets_everything() {
        use crate::{IssueBatch, IssueRefs, LinkRow};
        let (dir, path) = scratch("rewrite");
        let mut s = Store::open_sqlite(&path).expect("open");
        let batch = |id: &str, n: usize| {
            let issue = IssueRow {
                id: id.into(),
                key: format!("ENG-{id}"),
                project_key: "ENG".into(),
                raw_json: "{}".into(),
                ..IssueRow::default()
            };
            let ids = |prefix: &str| -> Vec<String> {
                (0..n).map(|k| format!("{prefix}{id}-{k}")).collect()
            };
            IssueBatch {
                issues: vec![issue],
                changes: vec![(
                    id.into(),
                    ids("c")
                        .into_iter()
                        .map(|change_id| ChangeRow {
                            change_id,
                            ..ChangeRow::default()
                        })
                        .collect(),
                )],
                comments: vec![(
                    id.into(),
                    ids("m")
                        .into_iter()
                        .map(|cid| CommentRow {
                            id: cid,
                            issue_id: id.into(),
                            ..CommentRow::default()
                        })
                        .collect(),
                )],
                worklogs: vec![(
                    id.into(),
                    ids("w")
                        .into_iter()
                        .map(|wid| WorklogRow {
                            id: wid,
                            issue_id: id.into(),
                            ..WorklogRow::default()
                        })
                        .collect(),
                    true,
                )],
                sprints: vec![(id.into(), ids("s"))],
                refs: vec![(
                    id.into(),
                    IssueRefs {
                        fix_versions: ids("v"),
                        affects_versions: Vec::new(),
                        components: ids("k"),
                        links: ids("l")
                            .into_iter()
                            .map(|lid| LinkRow {
                                id: lid,
                                direction: "outward".into(),
                                ..LinkRow::default()
                            })
                            .collect(),
                    },
                )],
            }
        };
        let counts = |s: &Store, id: &str| -> Vec<i64> {
            [
                "SELECT count(*) FROM t_issue_changes WHERE issue_id = ?1",
                "SELECT count(*) FROM t_comments WHERE issue_id = ?1 AND deleted_at IS NULL",
                "SELECT count(*) FROM t_comments WHERE issue_id = ?1 AND deleted_at IS NOT NULL",
                "SELECT count(*) FROM t_worklogs WHERE issue_id = ?1 AND deleted_at IS NULL",
                "SELECT count(*) FROM t_worklogs WHERE issue_id = ?1 AND deleted_at IS NOT NULL",
                "SELECT count(*) FROM t_sprint_issues WHERE issue_id = ?1",
                "SELECT count(*) FROM t_issue_versions WHERE issue_id = ?1",
                "SELECT count(*) FROM t_issue_components WHERE issue_id = ?1",
                "SELECT count(*) FROM t_issue_links WHERE issue_id = ?1",
            ]
            .iter()
            .map(|sql| s.conn.query_row(sql, [id], |r| r.get(0)).expect(sql))
            .collect()
        };
        let now = "2026-11-30T00:00:00.000Z";
        s.write(|tx| tx.write_issues(&batch("1", 3), now))
            .expect("first write");
        assert_eq!(counts(&s, "1"), [3, 3, 0, 3, 0, 3, 3, 3, 3]);
        let mut again = batch("1", 1);
        let new = batch("2", 2);
        again.issues.extend(new.issues);
        again.changes.extend(new.changes);
        again.comments.extend(new.comments);
        again.worklogs.extend(new.worklogs);
        again.sprints.extend(new.sprints);
        again.refs.extend(new.refs);
        s.write(|tx| tx.write_issues(&again, now))
            .expect("second write");
        assert_eq!(counts(&s, "1"), [1, 1, 2, 1, 2, 1, 1, 1, 1]);
        assert_eq!(counts(&s, "2"), [2, 2, 0, 2, 0, 2, 2, 2, 2]);
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
