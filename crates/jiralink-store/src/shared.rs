//! The writes whose SQL the two dialects agree on, written once: [`Tx`](crate::Tx)'s provided
//! methods run these statements through [`Exec`], which each backend's transaction implements.
//!
//! The same text runs on both: parameters are `$1`…`$n`, numbered in order of first use (SQLite
//! numbers such named parameters by appearance, so the positions agree; a test checks every
//! statement), and the site a row belongs to is `current_setting('jiralink.site')`, PostgreSQL's
//! session setting, which the SQLite connection answers with a function of its own.

/// Runs one shared statement in the backend's open transaction. Sealed: the module is private,
/// so only this crate's transactions implement it and only its provided methods call it.
pub trait Exec {
    fn exec(&self, sql: &'static str, params: &[Param<'_>]) -> crate::Result<u64>;
}

/// A value bound to a statement parameter: the two kinds of value the shared statements write.
/// Booleans are stored as 0/1 integers in both dialects.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Param<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(s: &'a str) -> Param<'a> {
        Param::Text(Some(s))
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(s: Option<&'a str>) -> Param<'a> {
        Param::Text(s)
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(s: &'a String) -> Param<'a> {
        Param::Text(Some(s))
    }
}

impl<'a> From<&'a Option<String>> for Param<'a> {
    fn from(s: &'a Option<String>) -> Param<'a> {
        Param::Text(s.as_deref())
    }
}

impl From<i64> for Param<'_> {
    fn from(n: i64) -> Self {
        Param::Int(Some(n))
    }
}

impl From<Option<i64>> for Param<'_> {
    fn from(n: Option<i64>) -> Self {
        Param::Int(n)
    }
}

impl From<bool> for Param<'_> {
    fn from(b: bool) -> Self {
        Param::Int(Some(i64::from(b)))
    }
}

impl From<Option<bool>> for Param<'_> {
    fn from(b: Option<bool>) -> Self {
        Param::Int(b.map(i64::from))
    }
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Param::Text(s) => s.to_sql(),
            Param::Int(n) => n.to_sql(),
        }
    }
}

/// The name SQLite and PostgreSQL both answer with the site of the connection's writes.
pub const SITE_SETTING: &str = "jiralink.site";

/// The head and the tail of the issue upsert, which both dialects write alike; only where the
/// rows come from differs (SQLite binds one issue, PostgreSQL unnests a batch). Macros, so that
/// each backend's statement is still one `&'static str` (`concat!`).
macro_rules! issue_upsert_into {
    () => {
        "INSERT INTO t_issues (site_id, id, key, project_key, issue_type, summary, status, status_category, priority,
           assignee_id, reporter_id, created, updated, resolved, story_points, parent_key, deleted_at, raw_json) "
    };
}

/// See [`issue_upsert_into`]: a stored issue takes the new values and is live again.
macro_rules! issue_upsert_on_conflict {
    () => {
        " ON CONFLICT (site_id, id) DO UPDATE SET key = excluded.key, project_key = excluded.project_key,
           issue_type = excluded.issue_type, summary = excluded.summary, status = excluded.status,
           status_category = excluded.status_category, priority = excluded.priority,
           assignee_id = excluded.assignee_id, reporter_id = excluded.reporter_id, created = excluded.created,
           updated = excluded.updated, resolved = excluded.resolved, story_points = excluded.story_points,
           parent_key = excluded.parent_key, deleted_at = NULL, raw_json = excluded.raw_json"
    };
}

pub(crate) use {issue_upsert_into, issue_upsert_on_conflict};

pub const UPSERT_PROJECT: &str = "INSERT INTO t_projects (site_id, id, key, name, type, raw_json, deleted_at)
     VALUES (current_setting('jiralink.site'), $1, $2, $3, $4, $5, NULL)
     ON CONFLICT (site_id, id) DO UPDATE SET key = excluded.key, name = excluded.name, type = excluded.type,
     raw_json = excluded.raw_json, deleted_at = NULL";

pub const UPSERT_STATUS: &str = "INSERT INTO t_statuses (site_id, id, name, category)
     VALUES (current_setting('jiralink.site'), $1, $2, $3)
     ON CONFLICT (site_id, id) DO UPDATE SET name = excluded.name, category = excluded.category";

pub const UPSERT_LOOKUP: &str = "INSERT INTO t_lookups (site_id, kind, id, name, subtask)
     VALUES (current_setting('jiralink.site'), $1, $2, $3, $4)
     ON CONFLICT (site_id, kind, id) DO UPDATE SET name = excluded.name, subtask = excluded.subtask";

pub const UPSERT_FIELD: &str =
    "INSERT INTO t_fields (site_id, id, name, custom, schema_type, schema_custom)
     VALUES (current_setting('jiralink.site'), $1, $2, $3, $4, $5)
     ON CONFLICT (site_id, id) DO UPDATE SET name = excluded.name, custom = excluded.custom,
     schema_type = excluded.schema_type, schema_custom = excluded.schema_custom";

pub const UPSERT_USER: &str = "INSERT INTO t_users (site_id, id, display_name, email, active)
     VALUES (current_setting('jiralink.site'), $1, $2, $3, $4)
     ON CONFLICT (site_id, id) DO UPDATE SET display_name = excluded.display_name, email = excluded.email,
     active = excluded.active";

pub const CLEAR_WORKLOG_READ: &str =
    "DELETE FROM t_worklog_reads WHERE site_id = current_setting('jiralink.site') AND issue_id = $1";

pub const UPSERT_BOARD: &str =
    "INSERT INTO t_boards (site_id, id, name, type, project_key, deleted_at)
     VALUES (current_setting('jiralink.site'), $1, $2, $3, $4, NULL)
     ON CONFLICT (site_id, id) DO UPDATE SET name = excluded.name, type = excluded.type,
     project_key = excluded.project_key, deleted_at = NULL";

pub const UPSERT_SPRINT: &str = "INSERT INTO t_sprints (site_id, id, board_id, name, state, start_date, end_date, complete_date, goal)
     VALUES (current_setting('jiralink.site'), $1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (site_id, id) DO UPDATE SET board_id = excluded.board_id, name = excluded.name, state = excluded.state,
       start_date = excluded.start_date, end_date = excluded.end_date, complete_date = excluded.complete_date,
       goal = excluded.goal";

pub const CLEAR_CHECKPOINT: &str =
    "DELETE FROM t_checkpoints WHERE site_id = current_setting('jiralink.site')
     AND credential = $1 AND stream = $2 AND scope = $3";

pub const SET_CHECKPOINT: &str =
    "INSERT INTO t_checkpoints (site_id, credential, stream, scope, value, format_version)
     VALUES (current_setting('jiralink.site'), $1, $2, $3, $4, $5)
     ON CONFLICT (site_id, credential, stream, scope) DO UPDATE SET value = excluded.value,
     format_version = excluded.format_version";

/// Every shared statement, for the test that runs each on SQLite.
#[cfg(test)]
pub const ALL: &[&str] = &[
    UPSERT_PROJECT,
    UPSERT_STATUS,
    UPSERT_LOOKUP,
    UPSERT_FIELD,
    UPSERT_USER,
    CLEAR_WORKLOG_READ,
    UPSERT_BOARD,
    UPSERT_SPRINT,
    CLEAR_CHECKPOINT,
    SET_CHECKPOINT,
];
