//! The PostgreSQL backend of the store (feature `postgres`): [`PgStore`] and [`PgTx`] implement
//! [`Backend`](crate::Backend) and [`Tx`](crate::Tx) as [`Store`](crate::Store) does, over the same
//! tables and public views (migrations/postgres), holding byte-identical values: ids, timestamps
//! (UTC ISO-8601 text) and JSON are TEXT, integers BIGINT, booleans 0/1; the public views give the
//! timestamps as `timestamptz`.
//!
//! It uses the synchronous `postgres` client, over TLS with `sslmode=require` (`pg_tls`), to a
//! [`PgTarget`] the binary fills. That client
//! drives its own small runtime and so cannot be called on a thread that runs an async runtime; a
//! call made there (a sync running on a current-thread runtime) is carried out on a short-lived
//! helper thread instead, so the store may be used from async code like the SQLite one.
//!
//! Writes batch where the SQLite backend loops: each list (changelog items, comments, worklogs,
//! memberships, versions, ...) is one statement over arrays (`UNNEST`), for one issue or, through
//! `write_issues`, for a whole batch of them; statements are prepared once per connection.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use postgres::types::ToSql;
use postgres::{Client, Row, SimpleQueryMessage, Statement};

use crate::{
    adopt_unresolved_sql, now, Backend, ChangeRow, CommentRow, ComponentRow, Counts, IssueBatch,
    IssueRefs, IssueRow, LinkRow, Result, SiteRow, TextRows, Tx, VersionRow, WorklogRow,
    CHECKPOINT_FORMAT, UNRESOLVED_SITE,
};

/// Where a PostgreSQL store is and how to reach it. The binary fills it (the password from
/// `PGPASSWORD`, the CA from `PGSSLROOTCERT`); the store reads no environment.
#[derive(Clone)]
pub struct PgTarget {
    /// `postgres://user@host[:port]/database` or the key=value form; `?sslmode=require` for TLS,
    /// always verified.
    pub url: String,
    /// Used when the URL holds none (it should not: others can read a process's arguments).
    pub password: Option<secrecy::SecretString>,
    /// A PEM file of CA certificates trusted beside the web roots (a private CA).
    pub root_cert: Option<std::path::PathBuf>,
}

impl PgTarget {
    /// A target with no password or CA of its own.
    pub fn new(url: &str) -> PgTarget {
        PgTarget {
            url: url.to_owned(),
            password: None,
            root_cert: None,
        }
    }
}

impl std::fmt::Debug for PgTarget {
    /// Neither a password in the URL nor the given one is printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTarget")
            .field("url", &redact(&self.url))
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("root_cert", &self.root_cert)
            .finish()
    }
}

impl std::fmt::Display for PgTarget {
    /// The server and database, without a password, for messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(&self.url))
    }
}

const MIGRATIONS: &crate::migrate::Migrations = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../migrations/postgres/0002_sprint_issue_index.sql"),
    ),
    (
        3,
        include_str!("../migrations/postgres/0003_statuses_fields.sql"),
    ),
    (
        4,
        include_str!("../migrations/postgres/0004_versions_components_links.sql"),
    ),
    (5, include_str!("../migrations/postgres/0005_lookups.sql")),
    (
        6,
        include_str!("../migrations/postgres/0006_worklog_reads.sql"),
    ),
    (
        7,
        include_str!("../migrations/postgres/0007_timestamptz_views.sql"),
    ),
    (8, include_str!("../migrations/postgres/0008_sites.sql")),
    (10, include_str!("../migrations/postgres/0010_ledger.sql")),
    (11, include_str!("../migrations/postgres/0011_web.sql")),
    (
        12,
        include_str!("../migrations/postgres/0012_unreadable_sprint_dates.sql"),
    ),
    (
        13,
        include_str!("../migrations/postgres/0013_apply_changes.sql"),
    ),
    (
        14,
        include_str!("../migrations/postgres/0014_web_stages.sql"),
    ),
];

/// The advisory lock that serialises migrations of one database ("jiralink" in ASCII).
const MIGRATION_LOCK: i64 = 0x6a69_7261_6c69_6e6b;

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

/// Runs `f` where the synchronous client may block: here, or on a helper thread when this thread
/// runs an async runtime (whose `block_on` the client's own would otherwise panic in).
pub(crate) fn blocking<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(f)
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    } else {
        f()
    }
}

/// The connection, closed through [`blocking`] too.
struct Conn(Option<Client>);

impl Conn {
    fn get(&mut self) -> &mut Client {
        self.0
            .as_mut()
            .expect("the client is taken only when the store is dropped")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            blocking(move || drop(client));
        }
    }
}

/// Statements prepared on one connection, by their SQL text.
pub(crate) type Cache = RefCell<HashMap<&'static str, Statement>>;

fn prepared(client: &mut Client, cache: &Cache, sql: &'static str) -> Result<Statement> {
    if let Some(st) = cache.borrow().get(sql) {
        return Ok(st.clone());
    }
    let st = blocking(|| client.prepare(sql))?;
    cache.borrow_mut().insert(sql, st.clone());
    Ok(st)
}

pub(crate) fn execute(
    client: &mut Client,
    cache: &Cache,
    sql: &'static str,
    params: Params,
) -> Result<u64> {
    let st = prepared(client, cache, sql)?;
    Ok(blocking(|| client.execute(&st, params))?)
}

pub(crate) fn query(
    client: &mut Client,
    cache: &Cache,
    sql: &'static str,
    params: Params,
) -> Result<Vec<Row>> {
    let st = prepared(client, cache, sql)?;
    Ok(blocking(|| client.query(&st, params))?)
}

/// The server and database of a connection string, without its password (for messages).
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if let Some((userinfo, host)) = authority.rsplit_once('@') {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let tail = tail.split('&').map(hide_password).collect::<Vec<_>>();
            return format!("{scheme}://{user}@{host}{}", tail.join("&"));
        }
        let tail = tail.split('&').map(hide_password).collect::<Vec<_>>();
        return format!("{scheme}://{authority}{}", tail.join("&"));
    }
    url.split_whitespace()
        .map(hide_password)
        .collect::<Vec<_>>()
        .join(" ")
}

fn hide_password(part: &str) -> String {
    match part.split_once("password=") {
        Some((before, _)) if before.is_empty() || before.ends_with('?') => {
            format!("{before}password=***")
        }
        _ => part.to_owned(),
    }
}

/// Per-issue lists as borrowed pairs, for the set-based writes.
fn lists<T>(l: &[(String, Vec<T>)]) -> Vec<(&str, &[T])> {
    l.iter()
        .map(|(id, v)| (id.as_str(), v.as_slice()))
        .collect()
}

/// The rows of `rows` with the last of each key only (the SQLite backend writes them one by one,
/// so a later duplicate overwrites an earlier one; one multi-row upsert may not touch a row twice).
fn last_by_key<'r, R, K: Eq + Hash>(rows: &'r [R], key: impl Fn(&'r R) -> K) -> Vec<&'r R> {
    let mut seen = HashSet::new();
    let mut out: Vec<&R> = rows.iter().rev().filter(|r| seen.insert(key(r))).collect();
    out.reverse();
    out
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// A PostgreSQL store: the same operations as [`Store`](crate::Store).
pub struct PgStore {
    conn: RefCell<Conn>,
    stmts: Cache,
    /// How it connected, for its readers.
    target: PgTarget,
    /// The site every read and write is scoped to, also the session's `jiralink.site` setting,
    /// which the statements read (`current_setting('jiralink.site')`).
    site: String,
}

impl PgStore {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/database`, or the key=value
    /// form; `?sslmode=require` for verified TLS), and creates or migrates the schema in the
    /// connection's schema.
    pub fn connect(url: &str) -> Result<PgStore> {
        PgStore::connect_to(&PgTarget::new(url))
    }

    /// As [`PgStore::connect`], to a target with a password or CA of its own.
    pub fn connect_to(target: &PgTarget) -> Result<PgStore> {
        let mut store = PgStore::open(target)?;
        store.migrate()?;
        store.set_site(UNRESOLVED_SITE)?;
        Ok(store)
    }

    fn open(target: &PgTarget) -> Result<PgStore> {
        let mut client = blocking(|| crate::pg_tls::connect(target))?;
        // The views' timestamptz columns print in UTC for this session, whatever the server's zone.
        blocking(|| client.batch_execute("SET TimeZone = 'UTC'"))?;
        Ok(PgStore {
            conn: RefCell::new(Conn(Some(client))),
            stmts: RefCell::default(),
            target: target.clone(),
            site: UNRESOLVED_SITE.to_owned(),
        })
    }

    fn set_site(&mut self, site: &str) -> Result<()> {
        let client = self.conn.get_mut().get();
        blocking(|| client.execute("SELECT set_config('jiralink.site', $1, false)", &[&site]))?;
        self.site = site.to_owned();
        Ok(())
    }

    /// Applies the migrations this build has and the database lacks, after checking those it
    /// has ([`crate::migrate::plan`]), in one transaction under an advisory lock (two processes
    /// starting at once do not both migrate).
    fn migrate(&mut self) -> Result<()> {
        let client = self.conn.get_mut().get();
        let url = &self.target.url;
        blocking(|| -> Result<()> {
            let mut tx = client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL, checksum TEXT);
                 ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum TEXT",
            )?;
            let applied = tx
                .query("SELECT version, checksum FROM schema_migrations", &[])?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<Vec<_>>>()?;
            let plan = crate::migrate::plan(&applied, MIGRATIONS, "postgres", &redact(url))?;
            for (version, sum) in &plan.adopt {
                tx.execute(
                    "UPDATE schema_migrations SET checksum = $2 WHERE version = $1",
                    &[version, sum],
                )?;
            }
            for (version, sql, sum) in &plan.apply {
                tx.batch_execute(sql)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at, checksum) VALUES ($1, $2, $3)",
                    &[version, &now(), sum],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    pub(crate) fn run<R>(&self, f: impl FnOnce(&mut Client, &Cache) -> Result<R>) -> Result<R> {
        let mut conn = self.conn.borrow_mut();
        f(conn.get(), &self.stmts)
    }

    /// Runs `f` in one transaction: all of it is written, or none (also when `f` panics).
    pub fn write<T>(&mut self, f: impl FnOnce(&dyn Tx) -> Result<T>) -> Result<T> {
        let client = self.conn.get_mut().get();
        blocking(|| client.batch_execute("BEGIN"))?;
        let tx = PgTx {
            client: RefCell::new(client),
            stmts: &self.stmts,
            failed: Cell::new(false),
            open: Cell::new(true),
        };
        match f(&tx) {
            Ok(out) => {
                tx.commit()?;
                Ok(out)
            }
            Err(e) => {
                // The closure's error says more than a failed rollback would (as with SQLite).
                let _ = tx.rollback();
                Err(e)
            }
        }
    }
}

impl Backend for PgStore {
    fn write_tx(&mut self, f: &mut dyn FnMut(&dyn Tx) -> Result<()>) -> Result<()> {
        self.write(f)
    }

    fn use_site(&mut self, site: &SiteRow, credential: &str) -> Result<()> {
        let client = self.conn.get_mut().get();
        blocking(|| -> Result<()> {
            let mut tx = client.transaction()?;
            tx.execute(
                "INSERT INTO t_sites (site_id, deployment, base_url, cloud_id, server_id, title, version, first_seen, last_seen)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
                 ON CONFLICT (site_id) DO UPDATE SET deployment = excluded.deployment, base_url = excluded.base_url,
                   cloud_id = excluded.cloud_id, server_id = excluded.server_id, title = excluded.title,
                   version = excluded.version, last_seen = excluded.last_seen",
                &[&site.site_id, &site.deployment, &site.base_url, &site.cloud_id, &site.server_id, &site.title, &site.version, &now()],
            )?;
            let wrote_unresolved = !tx
                .query(
                    "SELECT 1 FROM t_checkpoints WHERE site_id = $1 AND credential = $2 LIMIT 1",
                    &[&UNRESOLVED_SITE, &credential],
                )?
                .is_empty();
            if wrote_unresolved && site.site_id != UNRESOLVED_SITE {
                for sql in adopt_unresolved_sql("$1::text") {
                    if sql.contains("$1") {
                        tx.execute(sql.as_str(), &[&site.site_id])?;
                    } else {
                        tx.execute(sql.as_str(), &[])?;
                    }
                }
            }
            tx.commit()?;
            Ok(())
        })?;
        self.set_site(&site.site_id)
    }

    fn site(&self) -> &str {
        &self.site
    }

    fn scope_to(&mut self, site_id: &str) -> Result<()> {
        self.set_site(site_id)
    }

    fn project_keys(&self) -> Result<Vec<String>> {
        self.run(|c, cache| {
            let rows = query(
                c,
                cache,
                "SELECT key FROM t_projects WHERE site_id = current_setting('jiralink.site')
                 AND deleted_at IS NULL ORDER BY key",
                &[],
            )?;
            rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
        })
    }

    fn boards(&self) -> Result<Vec<(String, String, Option<String>)>> {
        self.run(|c, cache| {
            let rows = query(
                c,
                cache,
                "SELECT id, type, project_key FROM t_boards WHERE site_id = current_setting('jiralink.site')
                 AND deleted_at IS NULL ORDER BY id",
                &[],
            )?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect()
        })
    }

    fn checkpoint(&self, credential: &str, stream: &str, scope: &str) -> Result<Option<String>> {
        self.run(|c, cache| {
            let rows = query(
                c,
                cache,
                "SELECT value FROM t_checkpoints WHERE site_id = current_setting('jiralink.site') AND credential = $1 AND stream = $2 AND scope = $3 AND format_version <= $4",
                &[&credential, &stream, &scope, &CHECKPOINT_FORMAT],
            )?;
            match rows.first() {
                Some(r) => Ok(Some(r.try_get(0)?)),
                None => Ok(None),
            }
        })
    }

    fn begin_run(&mut self, credential: &str) -> Result<i64> {
        self.run(|c, cache| {
            let rows = query(
                c,
                cache,
                "INSERT INTO t_sync_runs (credential, started, status) VALUES ($1, $2, 'running') RETURNING id",
                &[&credential, &now()],
            )?;
            let mut ids = rows.iter().map(|r| r.try_get::<_, i64>(0));
            Ok(ids.next().transpose()?.unwrap_or_default())
        })
    }

    fn finish_run(
        &mut self,
        run: i64,
        status: &str,
        requests: i64,
        issues_written: i64,
        error: Option<&str>,
    ) -> Result<()> {
        self.run(|c, cache| {
            execute(
                c,
                cache,
                "UPDATE t_sync_runs SET finished = $2, status = $3, requests = $4, issues_written = $5, error = $6,
                 site_id = current_setting('jiralink.site') WHERE id = $1",
                &[&run, &now(), &status, &requests, &issues_written, &error],
            )?;
            Ok(())
        })
    }

    fn live_issue_ids(&self, project_key: &str) -> Result<Vec<String>> {
        self.run(|c, cache| live_issue_ids(c, cache, project_key))
    }

    fn issue_row(&self, id: &str) -> Result<Option<IssueRow>> {
        self.run(|c, cache| {
            let rows = query(
                c,
                cache,
                "SELECT id, key, project_key, issue_type, summary, status, status_category, priority,
                        assignee_id, reporter_id, created, updated, resolved, story_points, parent_key, raw_json
                 FROM t_issues WHERE site_id = current_setting('jiralink.site') AND id = $1",
                &[&id],
            )?;
            let Some(r) = rows.first() else {
                return Ok(None);
            };
            Ok(Some(IssueRow {
                id: r.try_get(0)?,
                key: r.try_get(1)?,
                project_key: r.try_get(2)?,
                issue_type: r.try_get(3)?,
                summary: r.try_get(4)?,
                status: r.try_get(5)?,
                status_category: r.try_get(6)?,
                priority: r.try_get(7)?,
                assignee_id: r.try_get(8)?,
                reporter_id: r.try_get(9)?,
                created: r.try_get(10)?,
                updated: r.try_get(11)?,
                resolved: r.try_get(12)?,
                story_points: r.try_get(13)?,
                parent_key: r.try_get(14)?,
                raw_json: r.try_get(15)?,
            }))
        })
    }

    fn worklog_reads(&self) -> Result<Vec<(String, bool, Option<String>)>> {
        self.run(|c, cache| {
            let rows = query(
                c,
                cache,
                "SELECT r.issue_id, r.need_history <> 0, i.updated
                 FROM t_worklog_reads r LEFT JOIN t_issues i ON i.site_id = r.site_id AND i.id = r.issue_id
                 WHERE r.site_id = current_setting('jiralink.site') ORDER BY r.issue_id",
                &[],
            )?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect()
        })
    }

    fn worklog_updates(&self, ids: &[String]) -> Result<HashMap<String, Option<String>>> {
        self.run(|c, cache| {
            let rows = query(
                c,
                cache,
                "SELECT w.id, w.updated FROM t_worklogs w JOIN t_issues i ON i.site_id = w.site_id AND i.id = w.issue_id
                 WHERE w.site_id = current_setting('jiralink.site') AND w.id = ANY($1::text[]) AND w.deleted_at IS NULL AND i.deleted_at IS NULL",
                &[&ids],
            )?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect()
        })
    }

    fn live_issues_among(&self, ids: &[String]) -> Result<HashSet<String>> {
        self.run(|c, cache| {
            let rows = query(
                c,
                cache,
                "SELECT id FROM t_issues WHERE site_id = current_setting('jiralink.site') AND id = ANY($1::text[]) AND deleted_at IS NULL",
                &[&ids],
            )?;
            rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
        })
    }

    fn reader(&self) -> Result<Box<dyn Backend>> {
        let mut store = PgStore::open(&self.target)?;
        let client = store.conn.get_mut().get();
        blocking(|| client.batch_execute("SET default_transaction_read_only = on"))?;
        store.set_site(&self.site)?;
        Ok(Box::new(store))
    }

    fn counts(&self) -> Result<Counts> {
        self.run(|c, cache| {
            let rows = query(
                c,
                cache,
                "SELECT (SELECT COUNT(*) FROM projects WHERE site_id = current_setting('jiralink.site') AND deleted_at IS NULL),
                        (SELECT COUNT(*) FROM issues WHERE site_id = current_setting('jiralink.site') AND deleted_at IS NULL),
                        (SELECT COUNT(*) FROM issues WHERE site_id = current_setting('jiralink.site') AND deleted_at IS NOT NULL),
                        (SELECT COUNT(*) FROM issue_changes WHERE site_id = current_setting('jiralink.site')),
                        (SELECT COUNT(*) FROM comments WHERE site_id = current_setting('jiralink.site') AND deleted_at IS NULL),
                        (SELECT COUNT(*) FROM worklogs WHERE site_id = current_setting('jiralink.site') AND deleted_at IS NULL),
                        (SELECT COUNT(*) FROM sprints WHERE site_id = current_setting('jiralink.site'))",
                &[],
            )?;
            let Some(r) = rows.first() else {
                return Ok(Counts::default());
            };
            Ok(Counts {
                projects: r.try_get(0)?,
                issues: r.try_get(1)?,
                issues_deleted: r.try_get(2)?,
                changes: r.try_get(3)?,
                comments: r.try_get(4)?,
                worklogs: r.try_get(5)?,
                sprints: r.try_get(6)?,
            })
        })
    }

    fn query_strings(&self, sql: &str) -> Result<TextRows> {
        let messages = self.run(|c, _| Ok(blocking(|| c.simple_query(sql))?))?;
        let mut columns = Vec::new();
        let mut rows = Vec::new();
        for m in messages {
            match m {
                SimpleQueryMessage::RowDescription(cols) => {
                    columns = cols.iter().map(|c| c.name().to_owned()).collect();
                    rows.clear();
                }
                SimpleQueryMessage::Row(r) => {
                    rows.push((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect());
                }
                _ => {}
            }
        }
        Ok((columns, rows))
    }
}

fn live_issue_ids(client: &mut Client, cache: &Cache, project_key: &str) -> Result<Vec<String>> {
    let rows = query(
        client,
        cache,
        "SELECT id FROM t_issues WHERE site_id = current_setting('jiralink.site') AND project_key = $1 AND deleted_at IS NULL",
        &[&project_key],
    )?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// A write transaction of a [`PgStore`]; the same operations as [`Tx`](crate::Tx).
pub struct PgTx<'a> {
    client: RefCell<&'a mut Client>,
    stmts: &'a Cache,
    /// A statement failed: the server has aborted the transaction unless the failure was local.
    failed: Cell<bool>,
    open: Cell<bool>,
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        // Only when `write`'s closure panicked: leave the connection out of the transaction.
        if self.open.get() {
            let _ = self.rollback();
        }
    }
}

impl PgTx<'_> {
    /// Upserts issues (the last of each id wins, as one by one), reviving deleted ones.
    fn upsert_issues(&self, issues: &[&IssueRow]) -> Result<()> {
        if issues.is_empty() {
            return Ok(());
        }
        let rows = last_by_key(issues, |i| i.id.as_str());
        let col = |f: fn(&IssueRow) -> Option<&str>| rows.iter().map(|i| f(i)).collect::<Vec<_>>();
        self.exec(
            concat!(
                crate::shared::issue_upsert_into!(),
                "SELECT current_setting('jiralink.site'), id, key, project_key, issue_type, summary, status, status_category, priority,
                   assignee_id, reporter_id, created, updated, resolved, story_points, parent_key, NULL, raw_json
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                   $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::float8[],
                   $15::text[], $16::text[])
                   AS i (id, key, project_key, issue_type, summary, status, status_category, priority,
                     assignee_id, reporter_id, created, updated, resolved, story_points, parent_key, raw_json)",
                crate::shared::issue_upsert_on_conflict!()
            ),
            &[
                &col(|i| Some(i.id.as_str())),
                &col(|i| Some(i.key.as_str())),
                &col(|i| Some(i.project_key.as_str())),
                &col(|i| i.issue_type.as_deref()),
                &col(|i| i.summary.as_deref()),
                &col(|i| i.status.as_deref()),
                &col(|i| i.status_category.as_deref()),
                &col(|i| i.priority.as_deref()),
                &col(|i| i.assignee_id.as_deref()),
                &col(|i| i.reporter_id.as_deref()),
                &col(|i| i.created.as_deref()),
                &col(|i| i.updated.as_deref()),
                &col(|i| i.resolved.as_deref()),
                &rows.iter().map(|i| i.story_points).collect::<Vec<_>>(),
                &col(|i| i.parent_key.as_deref()),
                &col(|i| Some(i.raw_json.as_str())),
            ],
        )?;
        Ok(())
    }

    /// Replaces the whole changelogs of these issues.
    fn replace_changes_of(&self, lists: &[(&str, &[ChangeRow])]) -> Result<()> {
        if lists.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = lists.iter().map(|(id, _)| *id).collect();
        self.exec(
            "DELETE FROM t_issue_changes WHERE site_id = current_setting('jiralink.site') AND issue_id = ANY($1::text[])",
            &[&ids],
        )?;
        let all: Vec<(&str, &ChangeRow)> = lists
            .iter()
            .flat_map(|(id, rows)| rows.iter().map(move |c| (*id, c)))
            .collect();
        if all.is_empty() {
            return Ok(());
        }
        let rows = last_by_key(&all, |(_, c)| (c.change_id.as_str(), c.item_index));
        let col =
            |f: fn(&ChangeRow) -> Option<&str>| rows.iter().map(|(_, c)| f(c)).collect::<Vec<_>>();
        self.exec(
            "INSERT INTO t_issue_changes (site_id, issue_id, change_id, item_index, changed_at, author_id, field,
               from_value, from_string, to_value, to_string)
             SELECT current_setting('jiralink.site'), * FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::text[],
               $7::text[], $8::text[], $9::text[], $10::text[])
             ON CONFLICT (site_id, change_id, item_index) DO UPDATE SET issue_id = excluded.issue_id,
               changed_at = excluded.changed_at, author_id = excluded.author_id, field = excluded.field,
               from_value = excluded.from_value, from_string = excluded.from_string,
               to_value = excluded.to_value, to_string = excluded.to_string",
            &[
                &rows.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
                &col(|c| Some(c.change_id.as_str())),
                &rows.iter().map(|(_, c)| c.item_index).collect::<Vec<_>>(),
                &col(|c| c.changed_at.as_deref()),
                &col(|c| c.author_id.as_deref()),
                &col(|c| c.field.as_deref()),
                &col(|c| c.from_value.as_deref()),
                &col(|c| c.from_string.as_deref()),
                &col(|c| c.to_value.as_deref()),
                &col(|c| c.to_string.as_deref()),
            ],
        )?;
        Ok(())
    }

    /// Upserts these issues' comments and marks those missing from their lists deleted.
    fn set_comments_of(&self, lists: &[(&str, &[CommentRow])], now: &str) -> Result<()> {
        if lists.is_empty() {
            return Ok(());
        }
        let all: Vec<&CommentRow> = lists.iter().flat_map(|(_, c)| c.iter()).collect();
        if !all.is_empty() {
            let rows = last_by_key(&all, |c| c.id.as_str());
            let col =
                |f: fn(&CommentRow) -> Option<&str>| rows.iter().map(|c| f(c)).collect::<Vec<_>>();
            self.exec(
                "INSERT INTO t_comments (site_id, id, issue_id, author_id, created, updated, body_text, body_raw, deleted_at)
                 SELECT current_setting('jiralink.site'), *, NULL FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                   $6::text[], $7::text[])
                 ON CONFLICT (site_id, id) DO UPDATE SET issue_id = excluded.issue_id, author_id = excluded.author_id,
                   created = excluded.created, updated = excluded.updated, body_text = excluded.body_text,
                   body_raw = excluded.body_raw, deleted_at = NULL",
                &[
                    &col(|c| Some(c.id.as_str())),
                    &col(|c| Some(c.issue_id.as_str())),
                    &col(|c| c.author_id.as_deref()),
                    &col(|c| c.created.as_deref()),
                    &col(|c| c.updated.as_deref()),
                    &col(|c| c.body_text.as_deref()),
                    &col(|c| c.body_raw.as_deref()),
                ],
            )?;
        }
        let ids: Vec<&str> = lists.iter().map(|(id, _)| *id).collect();
        let keep: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
        self.exec(
            "UPDATE t_comments SET deleted_at = $3
             WHERE site_id = current_setting('jiralink.site') AND issue_id = ANY($1::text[]) AND deleted_at IS NULL AND id <> ALL($2::text[])",
            &[&ids, &keep, &now],
        )?;
        Ok(())
    }

    /// Upserts these issues' worklogs; for those whose lists are complete, marks the missing ones
    /// deleted.
    fn set_worklogs_of(&self, lists: &[(&str, &[WorklogRow], bool)], now: &str) -> Result<()> {
        self.upsert_worklog_rows(
            &lists
                .iter()
                .flat_map(|(_, w, _)| w.iter())
                .collect::<Vec<_>>(),
        )?;
        let complete: Vec<&(&str, &[WorklogRow], bool)> = lists.iter().filter(|l| l.2).collect();
        if complete.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = complete.iter().map(|(id, _, _)| *id).collect();
        let keep: Vec<&str> = complete
            .iter()
            .flat_map(|(_, w, _)| w.iter().map(|w| w.id.as_str()))
            .collect();
        self.exec(
            "UPDATE t_worklogs SET deleted_at = $3
             WHERE site_id = current_setting('jiralink.site') AND issue_id = ANY($1::text[]) AND deleted_at IS NULL AND id <> ALL($2::text[])",
            &[&ids, &keep, &now],
        )?;
        Ok(())
    }

    fn upsert_worklog_rows(&self, worklogs: &[&WorklogRow]) -> Result<()> {
        if worklogs.is_empty() {
            return Ok(());
        }
        let rows = last_by_key(worklogs, |w| w.id.as_str());
        let col =
            |f: fn(&WorklogRow) -> Option<&str>| rows.iter().map(|w| f(w)).collect::<Vec<_>>();
        self.exec(
            "INSERT INTO t_worklogs (site_id, id, issue_id, author_id, started, time_spent_seconds, updated, deleted_at)
             SELECT current_setting('jiralink.site'), *, NULL FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[])
             ON CONFLICT (site_id, id) DO UPDATE SET issue_id = excluded.issue_id, author_id = excluded.author_id,
               started = excluded.started, time_spent_seconds = excluded.time_spent_seconds,
               updated = excluded.updated, deleted_at = NULL",
            &[
                &col(|w| Some(w.id.as_str())),
                &col(|w| Some(w.issue_id.as_str())),
                &col(|w| w.author_id.as_deref()),
                &col(|w| w.started.as_deref()),
                &rows
                    .iter()
                    .map(|w| w.time_spent_seconds)
                    .collect::<Vec<_>>(),
                &col(|w| w.updated.as_deref()),
            ],
        )?;
        Ok(())
    }

    /// Replaces these issues' sprint memberships.
    fn set_sprint_issues_of(&self, lists: &[(&str, &[String])]) -> Result<()> {
        if lists.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = lists.iter().map(|(id, _)| *id).collect();
        self.exec(
            "DELETE FROM t_sprint_issues WHERE site_id = current_setting('jiralink.site') AND issue_id = ANY($1::text[])",
            &[&ids],
        )?;
        let (sprints, issues): (Vec<&str>, Vec<&str>) = lists
            .iter()
            .flat_map(|(id, sprints)| sprints.iter().map(move |s| (s.as_str(), *id)))
            .unzip();
        if !sprints.is_empty() {
            self.exec(
                "INSERT INTO t_sprint_issues (site_id, sprint_id, issue_id)
                 SELECT current_setting('jiralink.site'), * FROM UNNEST($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
                &[&sprints, &issues],
            )?;
        }
        Ok(())
    }

    /// Replaces these issues' version and component memberships and their links.
    fn set_issue_refs_of(&self, lists: &[(&str, &IssueRefs)]) -> Result<()> {
        if lists.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = lists.iter().map(|(id, _)| *id).collect();
        self.exec(
            "WITH v AS (DELETE FROM t_issue_versions WHERE site_id = current_setting('jiralink.site') AND issue_id = ANY($1::text[])),
                  c AS (DELETE FROM t_issue_components WHERE site_id = current_setting('jiralink.site') AND issue_id = ANY($1::text[]))
             DELETE FROM t_issue_links WHERE site_id = current_setting('jiralink.site') AND issue_id = ANY($1::text[])",
            &[&ids],
        )?;
        let mut versions: (Vec<&str>, Vec<&str>, Vec<&str>) = Default::default();
        let mut components: (Vec<&str>, Vec<&str>) = Default::default();
        let mut links: Vec<(&str, &LinkRow)> = Vec::new();
        for (id, refs) in lists {
            let kinds = refs
                .fix_versions
                .iter()
                .map(|v| (v, "fix"))
                .chain(refs.affects_versions.iter().map(|v| (v, "affects")));
            for (v, kind) in kinds {
                versions.0.push(id);
                versions.1.push(v);
                versions.2.push(kind);
            }
            for c in &refs.components {
                components.0.push(id);
                components.1.push(c);
            }
            links.extend(refs.links.iter().map(|l| (*id, l)));
        }
        if versions.0.is_empty() && components.0.is_empty() && links.is_empty() {
            return Ok(());
        }
        let links = last_by_key(&links, |(id, l)| (l.id.as_str(), *id));
        self.exec(
            "WITH v AS (
               INSERT INTO t_issue_versions (site_id, issue_id, version_id, kind)
               SELECT current_setting('jiralink.site'), * FROM UNNEST($1::text[], $2::text[], $3::text[])
               ON CONFLICT DO NOTHING),
             c AS (
               INSERT INTO t_issue_components (site_id, issue_id, component_id)
               SELECT current_setting('jiralink.site'), * FROM UNNEST($4::text[], $5::text[])
               ON CONFLICT DO NOTHING)
             INSERT INTO t_issue_links (site_id, id, issue_id, link_type, direction, other_issue_id, other_issue_key)
             SELECT current_setting('jiralink.site'), * FROM UNNEST($6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
             ON CONFLICT (site_id, id, issue_id) DO UPDATE SET link_type = excluded.link_type,
               direction = excluded.direction, other_issue_id = excluded.other_issue_id,
               other_issue_key = excluded.other_issue_key",
            &[
                &versions.0,
                &versions.1,
                &versions.2,
                &components.0,
                &components.1,
                &links.iter().map(|(_, l)| l.id.as_str()).collect::<Vec<_>>(),
                &links.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
                &links
                    .iter()
                    .map(|(_, l)| l.link_type.as_deref())
                    .collect::<Vec<_>>(),
                &links.iter().map(|(_, l)| l.direction.as_str()).collect::<Vec<_>>(),
                &links
                    .iter()
                    .map(|(_, l)| l.other_issue_id.as_deref())
                    .collect::<Vec<_>>(),
                &links
                    .iter()
                    .map(|(_, l)| l.other_issue_key.as_deref())
                    .collect::<Vec<_>>(),
            ],
        )?;
        Ok(())
    }

    fn exec(&self, sql: &'static str, params: Params) -> Result<u64> {
        let mut client = self.client.borrow_mut();
        execute(&mut client, self.stmts, sql, params).inspect_err(|_| self.failed.set(true))
    }

    fn commit(&self) -> Result<()> {
        let mut client = self.client.borrow_mut();
        let client: &mut Client = &mut client;
        self.open.set(false);
        if self.failed.get() {
            // The closure went on after an error. PostgreSQL would answer COMMIT of an aborted
            // transaction with a silent rollback: report it instead.
            if let Err(e) = blocking(|| client.batch_execute("SELECT 1")) {
                let _ = blocking(|| client.batch_execute("ROLLBACK"));
                return Err(e.into());
            }
        }
        blocking(|| client.batch_execute("COMMIT")).map_err(|e| {
            let _ = blocking(|| client.batch_execute("ROLLBACK"));
            e.into()
        })
    }

    fn rollback(&self) -> Result<()> {
        let mut client = self.client.borrow_mut();
        let client: &mut Client = &mut client;
        self.open.set(false);
        Ok(blocking(|| client.batch_execute("ROLLBACK"))?)
    }
}

impl crate::shared::Exec for PgTx<'_> {
    fn exec(&self, sql: &'static str, params: &[crate::shared::Param<'_>]) -> Result<u64> {
        use crate::shared::Param;
        let params: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| match p {
                Param::Text(s) => s as &(dyn ToSql + Sync),
                Param::Int(n) => n,
            })
            .collect();
        PgTx::exec(self, sql, &params)
    }
}

impl Tx for PgTx<'_> {
    fn upsert_issue(&self, i: &IssueRow) -> Result<()> {
        self.upsert_issues(&[i])
    }

    fn replace_changes(&self, issue_id: &str, changes: &[ChangeRow]) -> Result<()> {
        self.replace_changes_of(&[(issue_id, changes)])
    }

    fn set_comments(&self, issue_id: &str, comments: &[CommentRow], now: &str) -> Result<()> {
        self.set_comments_of(&[(issue_id, comments)], now)
    }

    fn set_worklogs(&self, issue_id: &str, worklogs: &[WorklogRow], now: &str) -> Result<()> {
        self.set_worklogs_of(&[(issue_id, worklogs, true)], now)
    }

    fn upsert_worklogs(&self, worklogs: &[WorklogRow]) -> Result<()> {
        self.upsert_worklog_rows(&worklogs.iter().collect::<Vec<_>>())
    }

    fn mark_worklogs_deleted(&self, ids: &[String], now: &str) -> Result<()> {
        self.exec(
            "UPDATE t_worklogs SET deleted_at = $2 WHERE site_id = current_setting('jiralink.site') AND id = ANY($1::text[]) AND deleted_at IS NULL",
            &[&ids, &now],
        )?;
        Ok(())
    }

    fn queue_worklog_read(&self, issue_id: &str, feeds_started: bool) -> Result<()> {
        self.exec(
            "INSERT INTO t_worklog_reads (site_id, issue_id, need_history)
             VALUES (current_setting('jiralink.site'), $1::text, CASE WHEN $2::bool AND NOT EXISTS
               (SELECT 1 FROM t_issues WHERE site_id = current_setting('jiralink.site') AND id = $1::text AND deleted_at IS NULL) THEN 1 ELSE 0 END)
             ON CONFLICT (site_id, issue_id) DO UPDATE
             SET need_history = GREATEST(t_worklog_reads.need_history, excluded.need_history)",
            &[&issue_id, &feeds_started],
        )?;
        Ok(())
    }

    fn set_sprint_issues(&self, issue_id: &str, sprint_ids: &[String]) -> Result<()> {
        self.set_sprint_issues_of(&[(issue_id, sprint_ids)])
    }

    fn set_project_catalog(
        &self,
        project_key: &str,
        versions: &[VersionRow],
        components: &[ComponentRow],
        now: &str,
    ) -> Result<()> {
        if !versions.is_empty() {
            let rows = last_by_key(versions, |v| v.id.as_str());
            self.exec(
                "INSERT INTO t_versions (site_id, id, project_key, name, released, archived, release_date, deleted_at)
                 SELECT current_setting('jiralink.site'), v.id, $1::text, v.name, v.released, v.archived, v.release_date, NULL
                 FROM UNNEST($2::text[], $3::text[], $4::int8[], $5::int8[], $6::text[])
                   AS v (id, name, released, archived, release_date)
                 ON CONFLICT (site_id, id) DO UPDATE SET project_key = excluded.project_key, name = excluded.name,
                 released = excluded.released, archived = excluded.archived,
                 release_date = excluded.release_date, deleted_at = NULL",
                &[
                    &project_key,
                    &rows.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
                    &rows.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
                    &rows.iter().map(|v| v.released.map(flag)).collect::<Vec<_>>(),
                    &rows.iter().map(|v| v.archived.map(flag)).collect::<Vec<_>>(),
                    &rows
                        .iter()
                        .map(|v| v.release_date.as_deref())
                        .collect::<Vec<_>>(),
                ],
            )?;
        }
        if !components.is_empty() {
            let rows = last_by_key(components, |c| c.id.as_str());
            self.exec(
                "INSERT INTO t_components (site_id, id, project_key, name, lead_id, deleted_at)
                 SELECT current_setting('jiralink.site'), c.id, $1::text, c.name, c.lead_id, NULL
                 FROM UNNEST($2::text[], $3::text[], $4::text[]) AS c (id, name, lead_id)
                 ON CONFLICT (site_id, id) DO UPDATE SET project_key = excluded.project_key, name = excluded.name,
                 lead_id = excluded.lead_id, deleted_at = NULL",
                &[
                    &project_key,
                    &rows.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
                    &rows.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
                    &rows.iter().map(|c| c.lead_id.as_deref()).collect::<Vec<_>>(),
                ],
            )?;
        }
        self.exec(
            "WITH v AS (
               UPDATE t_versions SET deleted_at = $4 WHERE site_id = current_setting('jiralink.site') AND project_key = $1 AND deleted_at IS NULL
               AND id <> ALL($2::text[]))
             UPDATE t_components SET deleted_at = $4 WHERE site_id = current_setting('jiralink.site') AND project_key = $1 AND deleted_at IS NULL
             AND id <> ALL($3::text[])",
            &[
                &project_key,
                &versions.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
                &components.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
                &now,
            ],
        )?;
        Ok(())
    }

    fn set_issue_refs(&self, issue_id: &str, refs: &IssueRefs) -> Result<()> {
        self.set_issue_refs_of(&[(issue_id, refs)])
    }

    /// Each list of the whole batch in one statement (a round trip each), not one per issue.
    fn write_issues(&self, batch: &IssueBatch, now: &str) -> Result<()> {
        self.upsert_issues(&batch.issues.iter().collect::<Vec<_>>())?;
        self.replace_changes_of(&lists(&batch.changes))?;
        self.set_comments_of(&lists(&batch.comments), now)?;
        self.set_worklogs_of(
            &batch
                .worklogs
                .iter()
                .map(|(id, w, complete)| (id.as_str(), w.as_slice(), *complete))
                .collect::<Vec<_>>(),
            now,
        )?;
        self.set_sprint_issues_of(&lists(&batch.sprints))?;
        self.set_issue_refs_of(
            &batch
                .refs
                .iter()
                .map(|(id, r)| (id.as_str(), r))
                .collect::<Vec<_>>(),
        )
    }

    fn live_issue_ids(&self, project_key: &str) -> Result<Vec<String>> {
        let mut client = self.client.borrow_mut();
        live_issue_ids(&mut client, self.stmts, project_key).inspect_err(|_| self.failed.set(true))
    }

    fn mark_issues_deleted(&self, ids: &[String], now: &str) -> Result<()> {
        self.exec(
            "UPDATE t_issues SET deleted_at = $2 WHERE site_id = current_setting('jiralink.site') AND id = ANY($1::text[]) AND deleted_at IS NULL",
            &[&ids, &now],
        )?;
        Ok(())
    }

    fn record_visibility(
        &self,
        credential: &str,
        visible: &[String],
        now: &str,
    ) -> Result<Vec<String>> {
        self.exec(
            "DELETE FROM t_not_visible WHERE site_id = current_setting('jiralink.site') AND credential = $1
             AND project_key = ANY($2::text[])",
            &[&credential, &visible],
        )?;
        let rows = {
            let mut client = self.client.borrow_mut();
            query(
                &mut client,
                self.stmts,
                "INSERT INTO t_not_visible (site_id, credential, project_key, since)
                 SELECT DISTINCT c.site_id, c.credential, c.scope, $3 FROM t_checkpoints c
                 WHERE c.site_id = current_setting('jiralink.site') AND c.credential = $1 AND c.stream = 'issues'
                 AND c.scope <> ALL($2::text[])
                 ON CONFLICT DO NOTHING RETURNING project_key",
                &[&credential, &visible, &now],
            )
            .inspect_err(|_| self.failed.set(true))?
        };
        let mut keys: Vec<String> = rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
        keys.sort();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact("postgres://me:s3cret@db.example:5432/jira?sslmode=disable"),
            "postgres://me@db.example:5432/jira?sslmode=disable"
        );
        assert_eq!(
            redact("postgres://me@127.0.0.1/jira?password=s3cret&application_name=x"),
            "postgres://me@127.0.0.1/jira?password=***&application_name=x"
        );
        assert_eq!(
            redact("host=db user=me password=s3cret dbname=jira"),
            "host=db user=me password=*** dbname=jira"
        );
    }

    #[test]
    fn later_duplicates_win() {
        let rows = [(1, "a"), (2, "b"), (1, "c")];
        assert_eq!(last_by_key(&rows, |r| r.0), vec![&(2, "b"), &(1, "c")]);
    }
}
