//! Reads the store's public views into compact columns: statuses and sprints interned to small
//! indexes, timestamps as epoch seconds, each issue's status, sprint and estimate history beside it.
//! Deleted issues are left out here, once, so no metric can count them.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::{Filter, InsightsError};

/// A status category, as Jira's workflows declare it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    ToDo,
    InProgress,
    Done,
}

impl Category {
    fn from_key(key: &str) -> Category {
        match key {
            "done" | "Done" => Category::Done,
            "indeterminate" | "In Progress" => Category::InProgress,
            _ => Category::ToDo,
        }
    }
}

#[derive(Debug, Clone)]
pub struct StatusInfo {
    pub id: Option<String>,
    pub name: String,
    pub category: Category,
}

#[derive(Debug, Clone)]
pub struct ProjectInfo {
    pub key: String,
    pub name: String,
    pub deleted: bool,
}

#[derive(Debug, Clone)]
pub struct Sprint {
    pub id: String,
    pub name: String,
    pub state: String,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub complete: Option<i64>,
}

/// A status change: at `at`, from status `from` to status `to` (indexes into `Dataset::statuses`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    pub at: i64,
    pub from: u16,
    pub to: u16,
}

/// A change of the sprint field: the sprint sets before and after (indexes into `Dataset::sprints`).
#[derive(Debug, Clone, PartialEq)]
pub struct SprintChange {
    pub at: i64,
    pub from: Vec<u32>,
    pub to: Vec<u32>,
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub key: String,
    pub project: u32,
    pub issue_type: u16,
    pub priority: u16,
    pub status: u16,
    pub created: i64,
    pub updated: i64,
    pub resolved: Option<i64>,
    pub assigned: bool,
    pub story_points: Option<f64>,
    /// Sorted by time.
    pub transitions: Vec<Transition>,
    pub sprint_changes: Vec<SprintChange>,
    /// (time, value after) of each estimate change, sorted by time.
    pub estimate_changes: Vec<(i64, Option<f64>, Option<f64>)>,
    /// Sprints the issue is in now.
    pub sprints: Vec<u32>,
}

/// Everything the metrics read, loaded once.
#[derive(Debug, Default)]
pub struct Dataset {
    pub statuses: Vec<StatusInfo>,
    pub projects: Vec<ProjectInfo>,
    pub issue_types: Vec<String>,
    pub priorities: Vec<String>,
    pub sprints: Vec<Sprint>,
    pub issues: Vec<Issue>,
}

/// Epoch seconds of a store timestamp (`2024-01-02T03:04:05.000Z`, or any RFC 3339 time).
pub fn parse_time(s: &str) -> Option<i64> {
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
        return Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .or_else(|_| chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%z"))
        .ok()
        .map(|t| t.timestamp())
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

fn open(path: &Path) -> Result<Connection, InsightsError> {
    if !path.exists() {
        return Err(InsightsError::NoStore(path.display().to_string()));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let has_views: i64 = conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'view' AND name IN ('issues', 'statuses')",
        [],
        |r| r.get(0),
    )?;
    if has_views < 2 {
        return Err(InsightsError::NoStore(path.display().to_string()));
    }
    Ok(conn)
}

struct Interner(HashMap<String, u16>, Vec<String>);

impl Interner {
    fn new() -> Interner {
        Interner(HashMap::new(), Vec::new())
    }
    fn get(&mut self, s: &str) -> u16 {
        if let Some(&i) = self.0.get(s) {
            return i;
        }
        let i = self.1.len() as u16;
        self.0.insert(s.to_owned(), i);
        self.1.push(s.to_owned());
        i
    }
}

/// Loads the store at `path`, restricted by `filter` (projects, issue types, credential).
pub fn load(path: &Path, filter: &Filter) -> Result<Dataset, InsightsError> {
    let conn = open(path)?;
    // Which projects: named ones, or those a credential's sync covered, or all.
    let mut keys: Option<Vec<String>> =
        (!filter.projects.is_empty()).then(|| filter.projects.clone());
    if let Some(cred) = &filter.credential {
        let mut st = conn.prepare(
            "SELECT DISTINCT scope FROM t_checkpoints WHERE credential = ?1 AND stream = 'issues'",
        )?;
        let synced: Vec<String> = st
            .query_map([cred], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if synced.is_empty() {
            return Err(InsightsError::UnknownCredential(cred.clone()));
        }
        keys = Some(match keys {
            Some(k) => k
                .into_iter()
                .filter(|k| synced.iter().any(|s| s.eq_ignore_ascii_case(k)))
                .collect(),
            None => synced,
        });
    }

    // Status changes are most of the rows: read them on a second connection meanwhile.
    let changes_path = path.to_owned();
    let changes = std::thread::spawn(move || read_status_changes(&changes_path));

    let mut ds = Dataset::default();
    let mut status_ix: HashMap<String, u16> = HashMap::new();
    let mut status_by_name: HashMap<String, u16> = HashMap::new();
    {
        let mut st = conn.prepare("SELECT id, name, category FROM statuses ORDER BY id")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let (id, name, cat): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let i = ds.statuses.len() as u16;
            status_ix.insert(id.clone(), i);
            status_by_name.entry(name.to_lowercase()).or_insert(i);
            ds.statuses.push(StatusInfo {
                id: Some(id),
                name,
                category: Category::from_key(&cat),
            });
        }
    }
    let mut project_ix: HashMap<String, u32> = HashMap::new();
    {
        let mut st = conn.prepare("SELECT key, name, deleted_at FROM projects ORDER BY key")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let key: String = r.get(0)?;
            if let Some(k) = &keys {
                if !k.iter().any(|x| x.eq_ignore_ascii_case(&key)) {
                    continue;
                }
            }
            project_ix.insert(key.clone(), ds.projects.len() as u32);
            ds.projects.push(ProjectInfo {
                key,
                name: r.get(1)?,
                deleted: r.get::<_, Option<String>>(2)?.is_some(),
            });
        }
    }
    let mut sprint_ix: HashMap<String, u32> = HashMap::new();
    {
        let mut st = conn.prepare(
            "SELECT id, name, state, start_date, end_date, complete_date FROM sprints ORDER BY start_date, id",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let t = |i: usize| -> rusqlite::Result<Option<i64>> {
                Ok(r.get::<_, Option<String>>(i)?
                    .as_deref()
                    .and_then(parse_time))
            };
            let s = Sprint {
                id: r.get(0)?,
                name: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                state: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                start: t(3)?,
                end: t(4)?,
                complete: t(5)?,
            };
            sprint_ix.insert(s.id.clone(), ds.sprints.len() as u32);
            ds.sprints.push(s);
        }
    }

    let mut types = Interner::new();
    let mut priorities = Interner::new();
    let mut issue_ix: HashMap<String, u32> = HashMap::new();
    {
        let mut st = conn.prepare(
            "SELECT id, key, project_key, issue_type, status, status_category, priority, assignee_id,
                    created, updated, resolved, story_points
             FROM issues WHERE deleted_at IS NULL",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let project_key = r.get_ref(2)?.as_str()?;
            let Some(&project) = project_ix.get(project_key) else {
                continue;
            };
            let issue_type = r.get_ref(3)?.as_str_or_null()?.unwrap_or("");
            if !filter.issue_types.is_empty()
                && !filter
                    .issue_types
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(issue_type))
            {
                continue;
            }
            let status_name = r.get_ref(4)?.as_str_or_null()?.unwrap_or("");
            let status = match status_by_name.get(&status_name.to_lowercase()) {
                Some(&s) => s,
                None => {
                    // A status the status list does not hold: its category is on the issue.
                    let cat = r.get_ref(5)?.as_str_or_null()?.unwrap_or("");
                    let i = ds.statuses.len() as u16;
                    ds.statuses.push(StatusInfo {
                        id: None,
                        name: status_name.to_owned(),
                        category: Category::from_key(cat),
                    });
                    status_by_name.insert(status_name.to_lowercase(), i);
                    i
                }
            };
            let time = |i: usize| -> rusqlite::Result<Option<i64>> {
                Ok(r.get_ref(i)?.as_str_or_null()?.and_then(parse_time))
            };
            let created = time(8)?.unwrap_or(0);
            let id = r.get_ref(0)?.as_str()?;
            issue_ix.insert(id.to_owned(), ds.issues.len() as u32);
            ds.issues.push(Issue {
                key: r.get(1)?,
                project,
                issue_type: types.get(issue_type),
                priority: priorities.get(r.get_ref(6)?.as_str_or_null()?.unwrap_or("")),
                status,
                created,
                updated: time(9)?.unwrap_or(created),
                resolved: time(10)?,
                assigned: r.get_ref(7)?.as_str_or_null()?.is_some(),
                story_points: r.get(11)?,
                transitions: Vec::new(),
                sprint_changes: Vec::new(),
                estimate_changes: Vec::new(),
                sprints: Vec::new(),
            });
        }
    }
    ds.issue_types = types.1;
    ds.priorities = priorities.1;

    {
        let mut st = conn.prepare("SELECT sprint_id, issue_id FROM sprint_issues")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let (Some(&s), Some(&i)) = (
                sprint_ix.get(r.get_ref(0)?.as_str()?),
                issue_ix.get(r.get_ref(1)?.as_str()?),
            ) else {
                continue;
            };
            ds.issues[i as usize].sprints.push(s);
        }
    }

    // Sprint and estimate history: few rows, found by the field names the field list gives.
    let sprint_field: String = conn
        .query_row(
            "SELECT name FROM fields WHERE schema_custom LIKE '%:gh-sprint' LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap_or_else(|_| "Sprint".to_owned());
    let estimate_fields: Vec<String> = {
        let mut st = conn.prepare(
            "SELECT name FROM fields WHERE schema_custom LIKE '%:jsw-story-points'
               OR (schema_custom LIKE '%:float' AND lower(name) LIKE '%story point%')",
        )?;
        let names = st
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        names
    };
    {
        let mut st = conn.prepare(
            "SELECT issue_id, changed_at, field, from_value, to_value, from_string, to_string
             FROM issue_changes WHERE field = ?1 ORDER BY issue_id, changed_at, change_id",
        )?;
        let mut fields = vec![sprint_field.clone()];
        fields.extend(estimate_fields);
        for field in &fields {
            let mut rows = st.query([field])?;
            while let Some(r) = rows.next()? {
                let Some(&i) = issue_ix.get(r.get_ref(0)?.as_str()?) else {
                    continue;
                };
                let Some(at) = r.get_ref(1)?.as_str_or_null()?.and_then(parse_time) else {
                    continue;
                };
                let issue = &mut ds.issues[i as usize];
                if *field == sprint_field {
                    let ids = |v: Option<&str>| -> Vec<u32> {
                        v.unwrap_or("")
                            .split(',')
                            .filter_map(|s| sprint_ix.get(s.trim()).copied())
                            .collect()
                    };
                    issue.sprint_changes.push(SprintChange {
                        at,
                        from: ids(r.get_ref(3)?.as_str_or_null()?),
                        to: ids(r.get_ref(4)?.as_str_or_null()?),
                    });
                } else {
                    let num = |v: Option<&str>| v.and_then(|s| s.trim().parse::<f64>().ok());
                    issue.estimate_changes.push((
                        at,
                        num(r.get_ref(5)?.as_str_or_null()?),
                        num(r.get_ref(6)?.as_str_or_null()?),
                    ));
                }
            }
        }
    }

    let (grouped, local) = changes
        .join()
        .map_err(|_| InsightsError::Load("the changelog reader panicked".into()))??;
    // The reader's local status keys, resolved to dataset statuses by id, else by name.
    let resolved: Vec<u16> = local
        .into_iter()
        .map(|(id, name)| {
            if let Some(&s) = id.as_deref().and_then(|id| status_ix.get(id)) {
                return s;
            }
            let name = name.unwrap_or_default();
            if let Some(&s) = status_by_name.get(&name.to_lowercase()) {
                return s;
            }
            // A status since deleted from every workflow: kept, as in progress.
            let s = ds.statuses.len() as u16;
            ds.statuses.push(StatusInfo {
                id,
                name: name.clone(),
                category: Category::InProgress,
            });
            status_by_name.insert(name.to_lowercase(), s);
            s
        })
        .collect();
    for (issue_id, raw) in grouped {
        let Some(&i) = issue_ix.get(&issue_id) else {
            continue;
        };
        ds.issues[i as usize].transitions = raw
            .into_iter()
            .map(|(at, from, to)| Transition {
                at,
                from: resolved[from as usize],
                to: resolved[to as usize],
            })
            .collect();
    }
    Ok(ds)
}

/// Status changes of each issue, in time order, with statuses as indexes into a local table.
type IssueTransitions = Vec<(String, Vec<(i64, u32, u32)>)>;
/// The local table: status id where the row has one, else its name (history rows without ids).
type LocalStatuses = Vec<(Option<String>, Option<String>)>;

/// Every status change, grouped by issue id. Statuses are interned here, without an allocation per
/// row: this is the biggest read of a report.
fn read_status_changes(path: &Path) -> Result<(IssueTransitions, LocalStatuses), InsightsError> {
    let conn = open(path)?;
    let mut st = conn.prepare(
        "SELECT issue_id, changed_at, from_value, to_value, from_string, to_string
         FROM issue_changes WHERE field = 'status' ORDER BY issue_id, changed_at",
    )?;
    let mut rows = st.query([])?;
    let mut out: IssueTransitions = Vec::new();
    let mut keys: HashMap<String, u32> = HashMap::new();
    let mut local: LocalStatuses = Vec::new();
    let mut intern = |id: Option<&str>, name: Option<&str>| -> u32 {
        let key: std::borrow::Cow<str> = match id {
            Some(id) => id.into(),
            None => format!("\0{}", name.unwrap_or("")).into(),
        };
        if let Some(&k) = keys.get(key.as_ref()) {
            return k;
        }
        let k = local.len() as u32;
        keys.insert(key.into_owned(), k);
        local.push((id.map(str::to_owned), name.map(str::to_owned)));
        k
    };
    while let Some(r) = rows.next()? {
        let issue = r.get_ref(0)?.as_str()?;
        let Some(at) = r.get_ref(1)?.as_str_or_null()?.and_then(parse_time) else {
            continue;
        };
        let from = intern(
            r.get_ref(2)?.as_str_or_null()?,
            r.get_ref(4)?.as_str_or_null()?,
        );
        let to = intern(
            r.get_ref(3)?.as_str_or_null()?,
            r.get_ref(5)?.as_str_or_null()?,
        );
        match out.last_mut() {
            Some((id, list)) if id == issue => list.push((at, from, to)),
            _ => out.push((issue.to_owned(), vec![(at, from, to)])),
        }
    }
    drop(rows);
    Ok((out, local))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_times_parse_to_epoch_seconds() {
        assert_eq!(parse_time("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(parse_time("2024-03-01T12:30:15.250Z"), Some(1_709_296_215));
        assert_eq!(parse_time("2024-03-01T13:30:15+01:00"), Some(1_709_296_215));
        assert_eq!(parse_time("yesterday"), None);
    }
}
