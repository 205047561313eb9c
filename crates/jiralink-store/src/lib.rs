//! `jiralink-store`: the local mirror of Jira, behind the [`Backend`] and [`Tx`] traits: SQLite
//! ([`Store`]) or PostgreSQL (`postgres::PgStore`, feature `postgres`), with append-only
//! migrations, the public views of PRODUCT.md, and checkpoints written in the same transaction as
//! the data they cover. Makes no HTTP calls.

use std::collections::{HashMap, HashSet};

use shared::{Exec, Param};

pub mod ledger;
pub mod migrate;
#[cfg(feature = "postgres")]
mod pg_tls;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod reader;
mod shared;
mod sqlite;
mod wal;
pub mod web;

pub use reader::{StoreLocation, ViewReader, ViewRow};
pub use sqlite::{SqliteTx, Store};

/// Checkpoint values carry this format version; a newer one is refused rather than misread.
pub const CHECKPOINT_FORMAT: i64 = 1;

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

/// The one write path of a sync, implemented by each backend's transaction. The provided
/// methods are the writes whose SQL both dialects share ([`shared`]); the others differ.
pub trait Tx: Exec {
    fn upsert_project(
        &self,
        id: &str,
        key: &str,
        name: &str,
        kind: Option<&str>,
        raw: &str,
    ) -> Result<()> {
        let p = [id.into(), key.into(), name.into(), kind.into(), raw.into()];
        self.exec(shared::UPSERT_PROJECT, &p).map(drop)
    }

    /// A workflow status; `category` is the status category key (`new`, `indeterminate`, `done`).
    fn upsert_status(&self, id: &str, name: &str, category: &str) -> Result<()> {
        let p = [id.into(), name.into(), category.into()];
        self.exec(shared::UPSERT_STATUS, &p).map(drop)
    }

    /// An issue type (with `subtask`), priority or resolution.
    fn upsert_lookup(
        &self,
        lookup: Lookup,
        id: &str,
        name: &str,
        subtask: Option<bool>,
    ) -> Result<()> {
        let p = [lookup.kind().into(), id.into(), name.into(), subtask.into()];
        self.exec(shared::UPSERT_LOOKUP, &p).map(drop)
    }

    fn upsert_field(
        &self,
        id: &str,
        name: &str,
        custom: bool,
        schema_type: Option<&str>,
        schema_custom: Option<&str>,
    ) -> Result<()> {
        let p = [
            id.into(),
            name.into(),
            custom.into(),
            schema_type.into(),
            schema_custom.into(),
        ];
        self.exec(shared::UPSERT_FIELD, &p).map(drop)
    }

    fn upsert_user(
        &self,
        id: &str,
        display_name: Option<&str>,
        email: Option<&str>,
        active: bool,
    ) -> Result<()> {
        let p = [id.into(), display_name.into(), email.into(), active.into()];
        self.exec(shared::UPSERT_USER, &p).map(drop)
    }

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

    fn clear_worklog_read(&self, issue_id: &str) -> Result<()> {
        self.exec(shared::CLEAR_WORKLOG_READ, &[issue_id.into()])
            .map(drop)
    }

    fn set_sprint_issues(&self, issue_id: &str, sprint_ids: &[String]) -> Result<()>;

    fn upsert_board(
        &self,
        id: &str,
        name: &str,
        kind: &str,
        project_key: Option<&str>,
    ) -> Result<()> {
        let p = [id.into(), name.into(), kind.into(), project_key.into()];
        self.exec(shared::UPSERT_BOARD, &p).map(drop)
    }

    fn upsert_sprint(&self, s: &SprintRow) -> Result<()> {
        let p: [Param; 8] = [
            (&s.id).into(),
            (&s.board_id).into(),
            (&s.name).into(),
            (&s.state).into(),
            (&s.start_date).into(),
            (&s.end_date).into(),
            (&s.complete_date).into(),
            (&s.goal).into(),
        ];
        self.exec(shared::UPSERT_SPRINT, &p).map(drop)
    }

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

    /// Writes a batch of issues with everything fetched beside them: what the calls above would,
    /// issue by issue. SQLite skips what an issue new to the store cannot have (rows to replace
    /// or mark deleted); PostgreSQL, where each statement is a round trip, writes each list of
    /// the whole batch in one statement.
    fn write_issues(&self, batch: &IssueBatch, now: &str) -> Result<()>;

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

    fn clear_checkpoint(&self, credential: &str, stream: &str, scope: &str) -> Result<()> {
        let p = [credential.into(), stream.into(), scope.into()];
        self.exec(shared::CLEAR_CHECKPOINT, &p).map(drop)
    }

    fn set_checkpoint(
        &self,
        credential: &str,
        stream: &str,
        scope: &str,
        value: &str,
    ) -> Result<()> {
        let p = [
            credential.into(),
            stream.into(),
            scope.into(),
            value.into(),
            CHECKPOINT_FORMAT.into(),
        ];
        self.exec(shared::SET_CHECKPOINT, &p).map(drop)
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

/// Now, as the store writes timestamps: UTC ISO-8601 with milliseconds.
pub fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// A Jira timestamp (`2024-01-02T03:04:05.678+1100`) as the store writes it (UTC, `Z`). Also
/// reads a Postgres `timestamptz` as text (`2024-01-02 03:04:05.678+00`).
pub fn utc(jira_time: &str) -> Option<String> {
    match utc_of_jira_form(jira_time) {
        Some(t) => Some(ascii(&t).to_owned()),
        None => utc_by_chrono(jira_time),
    }
}

/// [`utc`] of a timestamp the caller is done with: written over it rather than into a new string
/// (a sync converts some twenty timestamps per issue).
pub fn into_utc(mut jira_time: String) -> Option<String> {
    match utc_of_jira_form(&jira_time) {
        Some(t) => {
            jira_time.clear();
            jira_time.push_str(ascii(&t));
            Some(jira_time)
        }
        None => utc_by_chrono(&jira_time),
    }
}

/// The text of what [`utc_of_jira_form`] writes (ASCII digits and separators).
fn ascii(t: &[u8; 24]) -> &str {
    std::str::from_utf8(t).expect("digits and separators are ASCII")
}

/// [`utc`] of Jira's own form (`2024-01-02T03:04:05.678+1100`, every timestamp a sync reads),
/// read and written by hand: chrono's format strings cost more than the rest of an issue's
/// conversion. `None` for anything else, which [`utc_by_chrono`] then reads.
fn utc_of_jira_form(s: &str) -> Option<[u8; 24]> {
    let b = s.as_bytes();
    if b.len() != 28
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
    {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |v, &c| {
            c.is_ascii_digit().then(|| v * 10 + i64::from(c - b'0'))
        })
    };
    let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hh, mm, ss, ms) = (
        digits(11..13)?,
        digits(14..16)?,
        digits(17..19)?,
        digits(20..23)?,
    );
    let sign = match b[23] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (oh, om) = (digits(24..26)?, digits(26..28)?);
    let month_days = match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if d < 1 || d > month_days || hh > 23 || mm > 59 || ss > 59 || oh > 23 || om > 59 {
        return None;
    }
    let secs =
        days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss - sign * (oh * 3600 + om * 60);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return None;
    }
    let mut out = [0u8; 24];
    let mut at = 0;
    for (n, width, sep) in [
        (y, 4, b'-'),
        (m, 2, b'-'),
        (d, 2, b'T'),
        (sod / 3600, 2, b':'),
        (sod / 60 % 60, 2, b':'),
        (sod % 60, 2, b'.'),
        (ms, 3, b'Z'),
    ] {
        for p in (0..width).rev() {
            out[at] = b'0' + (n / 10i64.pow(p) % 10) as u8;
            at += 1;
        }
        out[at] = sep;
        at += 1;
    }
    Some(out)
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (the inverse of
/// [`days_from_civil`], Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// [`utc`] of every other form chrono reads.
fn utc_by_chrono(jira_time: &str) -> Option<String> {
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

    /// Jira's form read by hand says what chrono says, over dates from 1970 to 2099, every offset
    /// Jira sends, and the day, month and year boundaries an offset crosses.
    #[test]
    fn jira_times_read_by_hand_agree_with_chrono() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n) as i64
        };
        let mut cases = vec![
            "2024-02-29T23:30:00.000-0100".to_owned(),
            "2024-03-01T00:15:00.001+1400".to_owned(),
            "1970-01-01T00:00:00.000+0100".to_owned(),
            "2099-12-31T23:59:59.999-1200".to_owned(),
            "2000-02-29T12:00:00.500+0530".to_owned(),
        ];
        for _ in 0..20_000 {
            let sign = if next(2) == 0 { '+' } else { '-' };
            cases.push(format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{sign}{:02}{:02}",
                1970 + next(130),
                1 + next(12),
                1 + next(31),
                next(24),
                next(60),
                next(60),
                next(1000),
                next(15),
                [0, 30, 45][next(3) as usize],
            ));
        }
        for given in &cases {
            assert_eq!(utc(given), utc_by_chrono(given), "{given}");
            assert_eq!(into_utc(given.clone()), utc_by_chrono(given), "{given}");
        }
        // Not Jira's form, or not a time: the hand reader declines and chrono decides.
        for given in [
            "2023-02-29T10:00:00.000+0000",
            "2024-13-01T10:00:00.000+0000",
            "2024-01-01T24:00:00.000+0000",
            "2024-01-01T10:00:00.000*0000",
            "2024-01-01T10:00:00,000+0000",
            "2024-01-01T10:00:00.000+00:0",
        ] {
            assert_eq!(utc_of_jira_form(given), None, "{given}");
            assert_eq!(utc(given), utc_by_chrono(given), "{given}");
            assert_eq!(into_utc(given.to_owned()), utc_by_chrono(given), "{given}");
        }
    }
}
