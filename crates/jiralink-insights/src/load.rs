//! Reads the store's public views into compact columns: statuses and sprints interned to small
//! indexes, timestamps as epoch seconds, each issue's status, sprint and estimate history beside it.
//! Deleted issues are left out here, once, so no metric can count them.

use std::collections::HashMap;
use std::path::Path;

use crate::{Filter, InsightsError, StoreLocation};
use jiralink_store::{ViewReader as Source, ViewRow};

/// The store's reader with insights' error type, so that a row callback may fail with any
/// [`InsightsError`].
trait Rows {
    fn rows(
        &mut self,
        sql: &str,
        params: &[&str],
        on_row: impl FnMut(&ViewRow<'_>) -> Result<(), InsightsError>,
    ) -> Result<(), InsightsError>;
}

impl Rows for Source {
    fn rows(
        &mut self,
        sql: &str,
        params: &[&str],
        on_row: impl FnMut(&ViewRow<'_>) -> Result<(), InsightsError>,
    ) -> Result<(), InsightsError> {
        self.each(sql, params, on_row)
    }
}

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
    /// The board the sprint belongs to (sprints of different boards are never compared).
    pub board_id: String,
    /// The board's name, when the store holds the board.
    pub board: Option<String>,
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
    /// The board the report is about (`Filter::board`): only its sprints count.
    pub board: Option<String>,
}

/// Epoch seconds of a store timestamp (`2024-01-02T03:04:05.000Z`, or any RFC 3339 time),
/// rounded down.
pub fn parse_time(s: &str) -> Option<i64> {
    parse_millis(s).map(|ms| ms.div_euclid(1000))
}

pub use jiralink_store::{days_from_civil, parse_millis};

/// A fast hasher for the loader's string keys (FxHash; the data is local, so no HashDoS concern).
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl Fx {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fx>>;

struct Interner(FxMap<String, u16>, Vec<String>);

impl Interner {
    fn new() -> Interner {
        Interner(FxMap::default(), Vec::new())
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

/// Rows grouped by issue id, in id order (the order of the store's indexes).
type Grouped<T> = Vec<(String, Vec<T>)>;

fn push_grouped<T>(out: &mut Grouped<T>, issue: &str, item: T) {
    match out.last_mut() {
        Some((id, list)) if id == issue => list.push(item),
        _ => out.push((issue.to_owned(), vec![item])),
    }
}

/// Walks `groups` (sorted by issue id) against `ids` (sorted the same way), calling `f` with the
/// index of each group's issue: a merge join, no lookup per row.
fn merge<T>(ids: &[String], groups: Grouped<T>, mut f: impl FnMut(usize, Vec<T>)) {
    let mut at = 0;
    for (id, items) in groups {
        while at < ids.len() && ids[at].as_str() < id.as_str() {
            at += 1;
        }
        if at < ids.len() && ids[at] == id {
            f(at, items);
        }
    }
}

fn live_issues(src: &mut Source, site: &str) -> Result<usize, InsightsError> {
    let n = src.count(
        "SELECT COUNT(*) FROM issues WHERE site_id = $1 AND deleted_at IS NULL",
        &[site],
    )?;
    Ok(n as usize)
}

/// Sprints in a fixed order (start, id; no start first), with their index by id; every reader
/// agrees on it.
fn read_sprints(
    src: &mut Source,
    site: &str,
) -> Result<(Vec<Sprint>, FxMap<String, u32>), InsightsError> {
    let (mut sprints, mut index) = (Vec::new(), FxMap::default());
    src.rows(
        "SELECT s.id, s.name, s.state, s.start_date, s.end_date, s.complete_date, s.board_id, b.name
         FROM sprints s LEFT JOIN boards b ON b.site_id = s.site_id AND b.id = s.board_id
         WHERE s.site_id = $1 ORDER BY s.start_date NULLS FIRST, s.id",
        &[site],
        |r| {
            let s = Sprint {
                id: r.text_not_null(0)?.to_owned(),
                name: r.text(1)?.unwrap_or_default().to_owned(),
                state: r.text(2)?.unwrap_or_default().to_owned(),
                start: r.time(3)?,
                end: r.time(4)?,
                complete: r.time(5)?,
                board_id: r.text(6)?.unwrap_or_default().to_owned(),
                board: r.text(7)?.map(str::to_owned),
            };
            index.insert(s.id.clone(), sprints.len() as u32);
            sprints.push(s);
            Ok(())
        },
    )?;
    Ok((sprints, index))
}

/// The site a report covers: the one `filter.site` names (by id or base URL), else the only one
/// the store holds (with `--credential`, the one that credential synced). A store that predates
/// sites and has not been synced since holds its rows under the placeholder site.
fn choose_site(src: &mut Source, filter: &Filter) -> Result<String, InsightsError> {
    let mut sites: Vec<(String, String)> = Vec::new();
    src.rows(
        "SELECT site_id, COALESCE(base_url, '') FROM sites ORDER BY site_id",
        &[],
        |r| {
            sites.push((
                r.text_not_null(0)?.to_owned(),
                r.text_not_null(1)?.to_owned(),
            ));
            Ok(())
        },
    )?;
    let listed = || {
        sites
            .iter()
            .map(|(id, url)| {
                if url.is_empty() {
                    id.clone()
                } else {
                    format!("{id} ({url})")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(want) = &filter.site {
        let want_url = want.trim_end_matches('/');
        return sites
            .iter()
            .find(|(id, url)| id == want || (!url.is_empty() && url.eq_ignore_ascii_case(want_url)))
            .map(|(id, _)| id.clone())
            .ok_or_else(|| {
                InsightsError::NotInStore(format!(
                    "--site {want}: no such site in the store (sites: {}); give a site id or base URL from `jiralink status`",
                    if sites.is_empty() { "none".to_owned() } else { listed() }
                ))
            });
    }
    if let Some(cred) = &filter.credential {
        let mut of_credential = Vec::new();
        src.rows(
            "SELECT DISTINCT site_id FROM t_checkpoints WHERE credential = $1 ORDER BY site_id",
            &[cred.as_str()],
            |r| {
                of_credential.push(r.text_not_null(0)?.to_owned());
                Ok(())
            },
        )?;
        if let [one] = &of_credential[..] {
            return Ok(one.clone());
        }
    }
    match &sites[..] {
        [] => Ok(jiralink_store::UNRESOLVED_SITE.to_owned()),
        [(one, _)] => Ok(one.clone()),
        _ => Err(InsightsError::NotInStore(format!(
            "the store holds {} sites ({}): choose one with --site",
            sites.len(),
            listed()
        ))),
    }
}

/// Loads the SQLite store at `path`, restricted by `filter` (projects, issue types, credential).
pub fn load(path: &Path, filter: &Filter) -> Result<Dataset, InsightsError> {
    load_from(&StoreLocation::Sqlite(path.to_owned()), filter)
}

/// Loads the store at `store` (SQLite or PostgreSQL), restricted by `filter`.
///
/// Three readers run at once, each on its own connection: issues (here), the status history, and
/// the sprint and estimate history. Each reads in issue-id order (byte order in both stores), so
/// the histories join the issues by a merge, not by lookups.
pub fn load_from(store: &StoreLocation, filter: &Filter) -> Result<Dataset, InsightsError> {
    let mut src = Source::open(store)?;
    // One site: Jira's ids are unique only within a site, so every read below is of this one.
    let site = choose_site(&mut src, filter)?;
    let site = site.as_str();
    // Which projects: named ones, or those a credential's sync covered, or all.
    let mut keys: Option<Vec<String>> =
        (!filter.projects.is_empty()).then(|| filter.projects.clone());
    if let Some(cred) = &filter.credential {
        let mut synced: Vec<String> = Vec::new();
        src.rows(
            "SELECT DISTINCT scope FROM t_checkpoints WHERE site_id = $1 AND credential = $2 AND stream = 'issues'",
            &[site, cred.as_str()],
            |r| {
                synced.push(r.text_not_null(0)?.to_owned());
                Ok(())
            },
        )?;
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

    if let Some(board) = &filter.board {
        let mut project: Option<Option<String>> = None;
        src.rows(
            "SELECT project_key FROM boards WHERE site_id = $1 AND id = $2",
            &[site, board.as_str()],
            |r| {
                project = Some(r.text(0)?.map(str::to_owned));
                Ok(())
            },
        )?;
        match project {
            None => {
                return Err(InsightsError::NotInStore(format!(
                    "--board {board}: no such board in the store for site {site}; give a board id as the boards view lists them"
                )))
            }
            // A board of one project: that project's issues (a board without one keeps the scope).
            Some(Some(p)) => {
                keys = Some(match keys {
                    Some(k) => k.into_iter().filter(|k| k.eq_ignore_ascii_case(&p)).collect(),
                    None => vec![p],
                })
            }
            Some(None) => {}
        }
    }

    let (status_store, status_site) = (store.clone(), site.to_owned());
    let status_reader =
        std::thread::spawn(move || read_status_changes(&status_store, &status_site));
    let (history_store, history_site) = (store.clone(), site.to_owned());
    let history_reader =
        std::thread::spawn(move || read_sprint_history(&history_store, &history_site));

    let mut ds = Dataset {
        board: filter.board.clone(),
        ..Dataset::default()
    };
    let mut status_ix: FxMap<String, u16> = FxMap::default();
    let mut status_by_name: FxMap<String, u16> = FxMap::default();
    src.rows(
        "SELECT id, name, category FROM statuses WHERE site_id = $1 ORDER BY id",
        &[site],
        |r| {
            let (id, name) = (r.text_not_null(0)?, r.text_not_null(1)?);
            let category = Category::from_key(r.text_not_null(2)?);
            let i = ds.statuses.len() as u16;
            status_ix.insert(id.to_owned(), i);
            status_by_name.entry(name.to_lowercase()).or_insert(i);
            ds.statuses.push(StatusInfo {
                id: Some(id.to_owned()),
                name: name.to_owned(),
                category,
            });
            Ok(())
        },
    )?;
    let mut project_ix: FxMap<String, u32> = FxMap::default();
    src.rows(
        "SELECT key, name, deleted_at FROM projects WHERE site_id = $1 ORDER BY key",
        &[site],
        |r| {
            let key = r.text_not_null(0)?;
            if let Some(k) = &keys {
                if !k.iter().any(|x| x.eq_ignore_ascii_case(key)) {
                    return Ok(());
                }
            }
            project_ix.insert(key.to_owned(), ds.projects.len() as u32);
            ds.projects.push(ProjectInfo {
                key: key.to_owned(),
                name: r.text_not_null(1)?.to_owned(),
                deleted: !r.is_null(2)?,
            });
            Ok(())
        },
    )?;
    if !filter.projects.is_empty() {
        let unknown: Vec<&str> = filter
            .projects
            .iter()
            .filter(|k| !ds.projects.iter().any(|p| p.key.eq_ignore_ascii_case(k)))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(InsightsError::NotInStore(format!(
                "--project {}: no such project in the store for site {site} (synced projects: {}); check the key or run `jiralink sync NAME --projects {}`",
                unknown.join(","),
                ds.projects.iter().map(|p| p.key.as_str()).collect::<Vec<_>>().join(", "),
                unknown.join(",")
            )));
        }
    }
    let (sprints, sprint_ix) = read_sprints(&mut src, site)?;
    ds.sprints = sprints;

    let mut status_exact: FxMap<String, u16> = ds
        .statuses
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.clone(), i as u16))
        .collect();
    let mut types = Interner::new();
    let mut priorities = Interner::new();
    // Sized up front: growing vectors of a million issues costs more than reading them.
    let live = live_issues(&mut src, site)?;
    ds.issues.reserve_exact(live);
    // Issue ids in id order, beside `ds.issues`, for the merge joins.
    let mut ids: Vec<String> = Vec::with_capacity(live);
    src.rows(
        "SELECT id, key, project_key, issue_type, status, status_category, priority, assignee_id,
                created, updated, resolved, story_points
         FROM issues WHERE site_id = $1 AND deleted_at IS NULL ORDER BY id",
        &[site],
        |r| {
            let Some(&project) = project_ix.get(r.text_not_null(2)?) else {
                return Ok(());
            };
            let issue_type = r.text(3)?.unwrap_or("");
            if !filter.issue_types.is_empty()
                && !filter
                    .issue_types
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(issue_type))
            {
                return Ok(());
            }
            let status_name = r.text(4)?.unwrap_or("");
            let known = match status_exact.get(status_name) {
                Some(&s) => Some(s),
                None => status_by_name.get(&status_name.to_lowercase()).copied(),
            };
            let status = match known {
                Some(s) => s,
                None => {
                    // A status the status list does not hold: its category is on the issue.
                    let cat = r.text(5)?.unwrap_or("");
                    let i = ds.statuses.len() as u16;
                    ds.statuses.push(StatusInfo {
                        id: None,
                        name: status_name.to_owned(),
                        category: Category::from_key(cat),
                    });
                    status_by_name.insert(status_name.to_lowercase(), i);
                    status_exact.insert(status_name.to_owned(), i);
                    i
                }
            };
            let created = r.time(8)?.unwrap_or(0);
            ids.push(r.text_not_null(0)?.to_owned());
            ds.issues.push(Issue {
                key: r.text_not_null(1)?.to_owned(),
                project,
                issue_type: types.get(issue_type),
                priority: priorities.get(r.text(6)?.unwrap_or("")),
                status,
                created,
                updated: r.time(9)?.unwrap_or(created),
                resolved: r.time(10)?,
                assigned: r.text(7)?.is_some(),
                story_points: r.float(11)?,
                transitions: Vec::new(),
                sprint_changes: Vec::new(),
                estimate_changes: Vec::new(),
                sprints: Vec::new(),
            });
            Ok(())
        },
    )?;
    ds.issue_types = types.1;
    ds.priorities = priorities.1;

    // Current sprint memberships, in issue order.
    {
        let mut grouped: Grouped<u32> = Vec::new();
        src.rows(
            "SELECT issue_id, sprint_id FROM sprint_issues WHERE site_id = $1 ORDER BY issue_id",
            &[site],
            |r| {
                if let Some(&s) = sprint_ix.get(r.text_not_null(1)?) {
                    push_grouped(&mut grouped, r.text_not_null(0)?, s);
                }
                Ok(())
            },
        )?;
        merge(&ids, grouped, |i, s| ds.issues[i].sprints = s);
    }

    let history = history_reader
        .join()
        .map_err(|_| InsightsError::Load("the sprint history reader panicked".into()))??;
    merge(&ids, history.sprints, |i, c| {
        ds.issues[i].sprint_changes.extend(c)
    });
    merge(&ids, history.estimates, |i, c| {
        ds.issues[i].estimate_changes.extend(c)
    });
    for issue in ds.issues.iter_mut() {
        issue.sprint_changes.sort_by_key(|c| c.at);
        issue.estimate_changes.sort_by_key(|c| c.0);
    }

    let (grouped, local) = status_reader
        .join()
        .map_err(|_| InsightsError::Load("the status history reader panicked".into()))??;
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
    merge(&ids, grouped, |i, mut transitions| {
        for t in transitions.iter_mut() {
            t.from = resolved[t.from as usize];
            t.to = resolved[t.to as usize];
        }
        ds.issues[i].transitions = transitions;
    });
    Ok(ds)
}

struct SprintHistory {
    sprints: Grouped<SprintChange>,
    estimates: Grouped<(i64, Option<f64>, Option<f64>)>,
}

/// The sprint-field and estimate history. History rows name a field by id (Cloud) or by name
/// (Data Center); both come from the field list, found by schema.
fn read_sprint_history(store: &StoreLocation, site: &str) -> Result<SprintHistory, InsightsError> {
    let mut src = Source::open(store)?;
    let (_, sprint_ix) = read_sprints(&mut src, site)?;
    let mut field_keys = |sql: &str| -> Result<Vec<String>, InsightsError> {
        let mut keys = Vec::new();
        src.rows(sql, &[site], |r| {
            keys.push(r.text_not_null(0)?.to_owned());
            keys.push(r.text_not_null(1)?.to_owned());
            Ok(())
        })?;
        Ok(keys)
    };
    let mut sprint_fields = field_keys(
        "SELECT id, name FROM fields WHERE site_id = $1 AND schema_custom LIKE '%:gh-sprint'",
    )?;
    if sprint_fields.is_empty() {
        sprint_fields.push("Sprint".to_owned());
    }
    let estimate_fields = field_keys(
        "SELECT id, name FROM fields WHERE site_id = $1 AND (schema_custom LIKE '%:jsw-story-points'
           OR (schema_custom LIKE '%:float' AND lower(name) LIKE '%story point%'))",
    )?;
    let mut out = SprintHistory {
        sprints: Vec::new(),
        estimates: Vec::new(),
    };
    // Sprint rows need only ids (the covering index serves them, in its order, which breaks ties
    // the same way in both stores); estimates are in the strings.
    let ids = |v: Option<&str>| -> Vec<u32> {
        v.unwrap_or("")
            .split(',')
            .filter_map(|s| sprint_ix.get(s.trim()).copied())
            .collect()
    };
    for field in &sprint_fields {
        src.rows(
            "SELECT issue_id, changed_at, from_value, to_value
             FROM issue_changes WHERE site_id = $1 AND field = $2
             ORDER BY issue_id, changed_at, from_value NULLS FIRST, to_value NULLS FIRST",
            &[site, field.as_str()],
            |r| {
                let Some(at) = r.time(1)? else {
                    return Ok(());
                };
                let change = SprintChange {
                    at,
                    from: ids(r.text(2)?),
                    to: ids(r.text(3)?),
                };
                push_grouped(&mut out.sprints, r.text_not_null(0)?, change);
                Ok(())
            },
        )?;
    }
    let num = |v: Option<&str>| v.and_then(|s| s.trim().parse::<f64>().ok());
    for field in &estimate_fields {
        src.rows(
            "SELECT issue_id, changed_at, from_string, to_string
             FROM issue_changes WHERE site_id = $1 AND field = $2
             ORDER BY issue_id, changed_at, change_id",
            &[site, field.as_str()],
            |r| {
                let Some(at) = r.time(1)? else {
                    return Ok(());
                };
                let change = (at, num(r.text(2)?), num(r.text(3)?));
                push_grouped(&mut out.estimates, r.text_not_null(0)?, change);
                Ok(())
            },
        )?;
    }
    Ok(out)
}

/// Status changes of each issue, in time order, with statuses as indexes into a local table.
type IssueTransitions = Grouped<Transition>;
/// The local table: status id where the row has one, else its name (history rows without ids).
type LocalStatuses = Vec<(Option<String>, Option<String>)>;

/// Every status change, grouped by issue id. Statuses are interned here, without an allocation per
/// row: this is the biggest read of a report.
fn read_status_changes(
    store: &StoreLocation,
    site: &str,
) -> Result<(IssueTransitions, LocalStatuses), InsightsError> {
    let mut src = Source::open(store)?;
    let mut out: IssueTransitions = Vec::with_capacity(live_issues(&mut src, site)?);
    let mut keys: FxMap<String, u16> = FxMap::default();
    let mut local: LocalStatuses = Vec::new();
    let mut intern = |id: Option<&str>, name: Option<&str>| -> u16 {
        let key: std::borrow::Cow<str> = match id {
            Some(id) => id.into(),
            None => format!("\0{}", name.unwrap_or("")).into(),
        };
        if let Some(&k) = keys.get(key.as_ref()) {
            return k;
        }
        let k = local.len() as u16;
        keys.insert(key.into_owned(), k);
        local.push((id.map(str::to_owned), name.map(str::to_owned)));
        k
    };
    // Ids only: the scan then reads the covering index alone (in its order, which breaks ties the
    // same way in both stores). A row without an id (rare; some Data Center history) has its
    // names looked up on a second connection, the first being busy with the scan.
    let mut names: Option<Source> = None;
    src.rows(
        "SELECT issue_id, changed_at, from_value, to_value
         FROM issue_changes WHERE site_id = $1 AND field = 'status'
         ORDER BY issue_id, changed_at, from_value NULLS FIRST, to_value NULLS FIRST",
        &[site],
        |r| {
            let issue = r.text_not_null(0)?;
            let Some(ms) = r.millis(1)? else {
                return Ok(());
            };
            let (from_id, to_id) = (r.text(2)?, r.text(3)?);
            let (from, to) = if from_id.is_some() && to_id.is_some() {
                (intern(from_id, None), intern(to_id, None))
            } else {
                let lookup = match names {
                    Some(ref mut n) => n,
                    None => names.insert(Source::open(store)?),
                };
                let (f, t) = status_names(lookup, site, issue, ms)?;
                (intern(from_id, f.as_deref()), intern(to_id, t.as_deref()))
            };
            let at = ms.div_euclid(1000);
            push_grouped(&mut out, issue, Transition { at, from, to });
            Ok(())
        },
    )?;
    Ok((out, local))
}

/// The status names (from, to) of `issue`'s status change at `ms` (epoch milliseconds).
fn status_names(
    src: &mut Source,
    site: &str,
    issue: &str,
    ms: i64,
) -> Result<(Option<String>, Option<String>), InsightsError> {
    let mut found = None;
    src.rows(
        "SELECT changed_at, from_string, to_string FROM issue_changes
         WHERE site_id = $1 AND issue_id = $2 AND field = 'status'",
        &[site, issue],
        |r| {
            if found.is_none() && r.millis(0)? == Some(ms) {
                found = Some((r.text(1)?.map(str::to_owned), r.text(2)?.map(str::to_owned)));
            }
            Ok(())
        },
    )?;
    Ok(found.unwrap_or_default())
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
        // Rounded down, before 1970 too.
        assert_eq!(parse_time("1969-12-31T23:59:59.500Z"), Some(-1));
    }

    #[test]
    fn store_times_parse_to_epoch_milliseconds() {
        assert_eq!(
            parse_millis("2024-03-01T12:30:15.250Z"),
            Some(1_709_296_215_250)
        );
        assert_eq!(
            parse_millis("2024-03-01T13:30:15.250+01:00"),
            Some(1_709_296_215_250)
        );
        assert_eq!(parse_millis("1969-12-31T23:59:59.500Z"), Some(-500));
    }

    #[test]
    fn a_missing_file_or_a_database_without_the_views_is_no_store() {
        let dir = std::env::temp_dir().join(format!("jiralink-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let missing = dir.join("missing.db");
        let e = load(&missing, &Filter::default()).expect_err("no file");
        assert!(matches!(e, InsightsError::NoStore(_)), "{e}");
        assert!(e.to_string().contains("missing.db"), "{e}");
        let other = dir.join("other.db");
        // An empty file is an empty SQLite database.
        std::fs::write(&other, b"").expect("other database");
        let e = load(&other, &Filter::default()).expect_err("no views");
        assert!(matches!(e, InsightsError::NoStore(_)), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
