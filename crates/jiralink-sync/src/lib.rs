//! `jiralink-sync`: mirrors a Jira site into the store. Per project it enumerates issue ids, fetches
//! what changed, reconciles ids to find deletes, and moves a per-project watermark in the transaction
//! that writes the project's last data. The [`Plan`] says how, per deployment: on Cloud, ids from
//! `search/jql` (5000 a page), issues from `issue/bulkfetch` (100 a request) and whole changelogs
//! from `changelog/bulkfetch`; on Data Center, ids from `search` pages of 1000 fetched in parallel
//! once the total is known, and issues from `search` with `expand=changelog` (Data Center embeds
//! whole changelogs). Comments are read inline, per issue only past the inline cap; worklogs past it
//! per issue on Data Center, from the worklog feeds on Cloud (`worklogs`).
//! Wire JSON is converted to store rows explicitly in `convert`.

mod convert;
pub mod site;
mod verify;
mod worklogs;

pub use verify::{verify, ProjectDrift, VerifyReport};

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use jiralink_api::{Client, Error};
use jiralink_store::{now, Backend, Lookup, StoreError, Tx};
use serde_json::value::RawValue;
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    #[error(transparent)]
    Jira(#[from] Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Jira's answers do not account for every issue asked for (a page shorter than its total that
    /// the pages after it did not fill, an id neither returned nor reported gone): the run is not
    /// `ok` and no watermark of the projects concerned moves.
    #[error("{0}")]
    Unaccounted(String),

    /// `--projects` named keys the credential cannot see on the site (or that do not exist).
    #[error("no project {} among the {visible} this credential can see on {site}: check the keys (`jiralink access` lists what a credential can browse)", .keys.join(", "))]
    UnknownProjects {
        keys: Vec<String>,
        visible: usize,
        site: String,
    },
}

impl From<jiralink_api::Diagnosis> for SyncError {
    fn from(d: jiralink_api::Diagnosis) -> Self {
        SyncError::Jira(Error::Diagnosed(d))
    }
}

/// What a sync is doing: issues project by project, then the worklog feeds (Cloud), then boards
/// and sprints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    #[default]
    Issues,
    Worklogs,
    Boards,
}

/// Where a sync is: sent to the [`ProgressSink`] when a project starts, after each batch, and as
/// the later phases go.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Progress {
    pub phase: Phase,
    /// The project of the last batch written.
    pub project: String,
    /// Projects finished, and all to sync.
    pub projects_done: usize,
    pub projects: usize,
    /// Issues to fetch in the projects planned so far (projects are planned as the sync goes).
    pub issues_planned: usize,
    /// Issues in all the projects, when counted up front (a first sync: one request).
    pub issues_expected: Option<usize>,
    /// Totals of the run so far.
    pub issues_written: usize,
    pub changelog_items: usize,
    pub comments: usize,
    pub worklogs: usize,
    /// Worklog phase: issues whose worklogs were read on their own so far.
    pub worklog_issue_reads: usize,
}

/// Receives [`Progress`] (a progress bar, log lines); called on the sync's task, so keep it quick.
#[derive(Clone)]
pub struct ProgressSink(pub std::sync::Arc<dyn Fn(&Progress) + Send + Sync>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The credential's name: checkpoints and runs are kept per credential.
    pub credential: String,
    /// Only these project keys (all visible ones when empty).
    pub projects: Vec<String>,
    /// Ignore watermarks and fetch everything.
    pub full: bool,
    /// Concurrent bulk requests.
    pub concurrency: usize,
    /// Re-read this many minutes before the watermark (clock skew, in-flight writes).
    pub overlap_minutes: i64,
    pub progress: Option<ProgressSink>,
}

impl SyncOptions {
    pub fn new(credential: &str) -> SyncOptions {
        SyncOptions {
            credential: credential.to_owned(),
            projects: Vec::new(),
            full: false,
            concurrency: 4,
            overlap_minutes: 5,
            progress: None,
        }
    }
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SyncSummary {
    pub projects: usize,
    pub issues_written: usize,
    pub changelog_items: usize,
    pub comments: usize,
    pub worklogs: usize,
    /// Worklogs fetched through `worklog/updated` + `worklog/list` (Cloud).
    pub worklogs_listed: usize,
    /// Worklogs marked deleted from `worklog/deleted` (Cloud).
    pub worklogs_deleted: usize,
    /// Issues whose worklogs were read on their own (Cloud: those the feeds cannot vouch for).
    pub worklog_issue_reads: usize,
    pub issues_deleted: usize,
    /// Projects this credential synced before and can no longer see: recorded as not visible to
    /// it (the `not_visible` view), their rows kept, nothing marked deleted.
    pub projects_not_visible: Vec<String>,
    pub sprints: usize,
    pub requests: u32,
    /// Requests sent again after a transient failure or a 429.
    pub retries: u32,
    pub duration_ms: u64,
}

/// How a deployment is read: the endpoints differ, the store rows do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Cloud,
    DataCenter,
}

impl Plan {
    /// From `serverInfo`'s `deploymentType`.
    pub fn of(server_info: &Value) -> Plan {
        match server_info["deploymentType"].as_str() {
            Some("Cloud") => Plan::Cloud,
            _ => Plan::DataCenter,
        }
    }
}

const ISSUE_STREAM: &str = "issues";
const PASS_STREAM: &str = "issues_pass";
const BULK_ISSUES: usize = 100;
/// At most this many queued batches are written in one transaction.
const GROUP_COMMIT_MAX: usize = 8;
const ID_PAGE: usize = 5000;
/// Data Center's `search` serves at most 1000 issues a page (`jira.search.views.default.max`).
const DC_PAGE: usize = 1000;

/// Runs one sync; records it in `sync_runs`, failed or not.
pub async fn sync(
    client: &Client,
    store: &mut dyn Backend,
    opts: &SyncOptions,
) -> Result<SyncSummary, SyncError> {
    let run = store.begin_run(&opts.credential)?;
    let started = Instant::now();
    let before = client.requests();
    let retries_before = client.retries();
    let result = run_sync(client, store, opts).await;
    let requests = client.requests() - before;
    match result {
        Ok(mut s) => {
            s.requests = requests;
            s.retries = client.retries() - retries_before;
            s.duration_ms = started.elapsed().as_millis() as u64;
            store.finish_run(run, "ok", requests.into(), s.issues_written as i64, None)?;
            Ok(s)
        }
        Err(e) => {
            store.finish_run(run, "failed", requests.into(), 0, Some(&e.to_string()))?;
            Err(e)
        }
    }
}

async fn run_sync(
    client: &Client,
    store: &mut dyn Backend,
    opts: &SyncOptions,
) -> Result<SyncSummary, SyncError> {
    let api = client.api();
    let run_started_ms = chrono::Utc::now().timestamp_millis();
    let run_started = now();
    let mut summary = SyncSummary::default();
    let server_info = client.get_json(&format!("{api}/serverInfo")).await?;
    let plan = Plan::of(&server_info);
    // Every row is keyed by the site: resolve it before anything is written.
    let site = site::resolve(client, &server_info).await?;
    store.use_site(&site, &opts.credential)?;
    let me = client.get_json(&format!("{api}/myself")).await?;
    let tz: chrono_tz::Tz = me["timeZone"]
        .as_str()
        .and_then(|z| z.parse().ok())
        .unwrap_or(chrono_tz::UTC);
    let field_list = client.get_json(&format!("{api}/field")).await?;
    let fields = convert::Fields::from_field_list(&field_list);
    let statuses = client.get_json(&format!("{api}/status")).await?;
    let mut lookups = Vec::new();
    for (lookup, path) in [
        (Lookup::IssueType, "issuetype"),
        (Lookup::Priority, "priority"),
        (Lookup::Resolution, "resolution"),
    ] {
        lookups.push((lookup, client.get_json(&format!("{api}/{path}")).await?));
    }
    store.write(|tx| {
        for f in field_list.as_array().into_iter().flatten() {
            tx.upsert_field(
                f["id"].as_str().unwrap_or_default(),
                f["name"].as_str().unwrap_or_default(),
                f["custom"].as_bool().unwrap_or(false),
                f["schema"]["type"].as_str(),
                f["schema"]["custom"].as_str(),
            )?;
        }
        for (lookup, list) in &lookups {
            for x in list.as_array().into_iter().flatten() {
                tx.upsert_lookup(
                    *lookup,
                    x["id"].as_str().unwrap_or_default(),
                    x["name"].as_str().unwrap_or_default(),
                    x["subtask"].as_bool(),
                )?;
            }
        }
        for s in statuses.as_array().into_iter().flatten() {
            tx.upsert_status(
                s["id"].as_str().unwrap_or_default(),
                s["name"].as_str().unwrap_or_default(),
                s["statusCategory"]["key"].as_str().unwrap_or("undefined"),
            )?;
        }
        Ok(())
    })?;

    let projects = visible_projects(client, plan).await?;
    check_known(&opts.projects, &projects, &site.base_url)?;
    let visible: Vec<String> = projects
        .iter()
        .filter_map(|p| p["key"].as_str().map(str::to_owned))
        .collect();
    let stamp = now();
    summary.projects_not_visible = store.write(|tx| {
        for p in &projects {
            tx.upsert_project(
                p["id"].as_str().unwrap_or_default(),
                p["key"].as_str().unwrap_or_default(),
                p["name"].as_str().unwrap_or_default(),
                p["projectTypeKey"].as_str(),
                &p.to_string(),
            )?;
        }
        // Projects this credential synced before and no longer sees are not deleted: recorded.
        tx.record_visibility(&opts.credential, &visible, &stamp)
    })?;
    let keys: Vec<String> = projects
        .iter()
        .filter_map(|p| p["key"].as_str().map(str::to_owned))
        .filter(|k| {
            opts.projects.is_empty() || opts.projects.iter().any(|x| x.eq_ignore_ascii_case(k))
        })
        .collect();

    // Users, pages of 1000 until a short one: Cloud's users/search; on Data Center user/search
    // with the "." that matches every username, inactive users included.
    let mut start = 0;
    let mut longest = 0;
    loop {
        let path = match plan {
            Plan::Cloud => format!("{api}/users/search?startAt={start}&maxResults=1000"),
            Plan::DataCenter => format!(
                "{api}/user/search?username=.&includeInactive=true&startAt={start}&maxResults=1000"
            ),
        };
        let page = client.get_json(&path).await?;
        let users = page.as_array().cloned().unwrap_or_default();
        store.write(|tx| {
            for u in &users {
                if let Some(id) = u["accountId"].as_str().or(u["key"].as_str()) {
                    tx.upsert_user(
                        id,
                        u["displayName"].as_str(),
                        u["emailAddress"].as_str(),
                        u["active"].as_bool().unwrap_or(true),
                    )?;
                }
            }
            Ok(())
        })?;
        // A page shorter than the longest so far is the last (a server may serve fewer than the
        // 1000 asked for: the longest page shows its cap); an empty one always is.
        if users.is_empty() || users.len() < longest {
            break;
        }
        longest = longest.max(users.len());
        start += users.len();
    }

    // Issues. Each project is planned (its ids, and those changed since its watermark) while the
    // previous one's batches are still in flight, so the request budget has no gaps between
    // projects. `issues` is the watermark of a project's last completed pass; `issues_pass` the
    // start of a pass that a crash interrupted. Either bounds what must be re-read: everything
    // updated since, plus whatever the store still lacks.
    let mut starts = Vec::new();
    let mut unpassed = Vec::new();
    for key in &keys {
        let (watermark, pass) = if opts.full {
            (None, None)
        } else {
            (
                store.checkpoint(&opts.credential, ISSUE_STREAM, key)?,
                store.checkpoint(&opts.credential, PASS_STREAM, key)?,
            )
        };
        if pass.is_none() {
            unpassed.push(key);
        }
        let since = match (watermark, pass) {
            (Some(w), Some(p)) => Some(w.min(p)),
            (w, p) => w.or(p),
        };
        starts.push((key.clone(), since));
    }
    store.write(|tx| {
        for key in &unpassed {
            tx.set_checkpoint(&opts.credential, PASS_STREAM, key, &run_started)?;
        }
        Ok(())
    })?;
    let feeds_started = plan == Plan::Cloud && worklogs::feeds_started(store, opts)?;
    // A first sync of every project reads them whole: one count up front gives the progress an
    // end (an incremental sync is short, and its projects' counts arrive as they are planned).
    let issues_expected = if !starts.is_empty() && starts.iter().all(|(_, since)| since.is_none()) {
        let keys: Vec<String> = starts.iter().map(|(k, _)| format!("\"{k}\"")).collect();
        issue_count(client, plan, &format!("project in ({})", keys.join(", "))).await
    } else {
        None
    };
    // Projects synced before are planned together: one id enumeration (for deletes and for what
    // the store lacks) and one query for changes over all of them, so a re-sync costs what changed,
    // not what the site holds. A project new to this credential (or `--full`) is planned on its own,
    // so its first batches are fetched while the next project is listed.
    let mut units: Vec<(Keys, Option<String>)> = Vec::new();
    let (mut known, mut known_since) = (Vec::new(), None::<String>);
    for (key, since) in starts {
        match since {
            None => units.push((vec![key].into(), None)),
            Some(s) => {
                known_since = Some(match known_since {
                    Some(k) if k <= s => k,
                    _ => s,
                });
                known.push(key);
            }
        }
    }
    if !known.is_empty() {
        units.insert(0, (known.into(), known_since));
    }
    // Planning reads the store on a connection of its own while batches are written.
    let reader = std::sync::Mutex::new(store.reader()?);
    let planned = stream::iter(units.into_iter().map(|(key, since)| {
        let reader = &reader;
        async move {
            let scope = project_scope(&key);
            let mut live: HashSet<u64> = HashSet::new();
            for k in key.iter() {
                let ids = reader
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .live_issue_ids(k)?;
                live.extend(ids.iter().filter_map(|id| id.parse::<u64>().ok()));
            }
            let changed: Option<BTreeSet<u64>> = match &since {
                None => None,
                Some(wm) => {
                    let since = jql_time(wm, opts.overlap_minutes, tz);
                    let ids = issue_ids(
                        client,
                        plan,
                        opts.concurrency,
                        &format!("{scope} AND updated >= \"{since}\" ORDER BY id ASC"),
                    )
                    .await?;
                    Some(ids.into_iter().collect())
                }
            };
            // Delete reconciliation needs every id of the unit. Data Center serves ids at most 1000
            // a page, so a re-sync first compares Jira's exact count with what the store will hold
            // (its live issues and the changed ones): equal, nothing was deleted or moved away and
            // nothing is missing here, and the enumeration is skipped. Any difference (a delete,
            // a move, an issue created or deleted meanwhile) enumerates. Cloud's count is only
            // approximate: it enumerates every time, 5000 ids a page.
            let expected = changed.as_ref().map(|c| {
                let mut ids: BTreeSet<u64> = live.iter().copied().collect();
                ids.extend(c);
                ids.into_iter().collect::<Vec<u64>>()
            });
            let counted = match (&expected, plan) {
                (Some(expected), Plan::DataCenter) => issue_count(client, plan, &scope)
                    .await
                    .is_some_and(|n| n == expected.len()),
                _ => false,
            };
            let all = match expected {
                Some(expected) if counted => expected,
                _ => {
                    issue_ids(
                        client,
                        plan,
                        opts.concurrency,
                        &format!("{scope} ORDER BY id ASC"),
                    )
                    .await?
                }
            };
            let mut wanted = changed.unwrap_or_else(|| all.iter().copied().collect());
            // Anything Jira has that the store lacks is fetched too, whatever its update time.
            wanted.extend(all.iter().filter(|id| !live.contains(id)));
            let all: ProjectIds = std::sync::Arc::new(all.into_iter().collect());
            Ok::<_, SyncError>((key, all, wanted.into_iter().collect::<Vec<u64>>()))
        }
    }))
    .buffered(2);
    // Every project becomes its chunks of 100 ids (or one empty marker), all in one stream.
    let fields = &fields;
    let work = planned
        .map(|planned| {
            let items: Vec<Work> = match planned {
                Err(e) => vec![Work::Failed(e)],
                Ok((key, all, ids)) if ids.is_empty() => vec![Work::Empty(key, all)],
                Ok((key, all, ids)) => {
                    let n = ids.len().div_ceil(BULK_ISSUES);
                    ids.chunks(BULK_ISSUES)
                        .map(|c| Work::Chunk(key.clone(), all.clone(), n, ids.len(), c.to_vec()))
                        .collect()
                }
            };
            stream::iter(items)
        })
        .flatten()
        .map(|w| async move {
            match w {
                Work::Chunk(key, all, n, total, ids) => Done::Batch(
                    key,
                    all,
                    n,
                    total,
                    fetch_chunk(
                        client,
                        plan,
                        fields,
                        ids.iter().map(u64::to_string).collect(),
                    )
                    .await,
                ),
                Work::Empty(key, all) => Done::Empty(key, all),
                Work::Failed(e) => Done::Failed(e),
            }
        })
        .buffer_unordered(opts.concurrency.max(1));
    futures_util::pin_mut!(work);
    let mut progress = Progress {
        projects: keys.len(),
        issues_expected,
        ..Progress::default()
    };
    let report = |p: &Progress| {
        if let Some(sink) = &opts.progress {
            (sink.0)(p);
        }
    };
    let mut chunks_done: HashMap<Keys, usize> = HashMap::new();
    let mut touched: HashSet<String> = HashSet::new();
    let mut worklogs_in_jira = 0;
    // A completed pass has everything updated before this run began.
    let completed_mark = run_started.clone();
    // One batch; with a project's last one, also its deletes and its watermark.
    let write_one = |tx: &dyn Tx, w: &Written, stamp: &str| -> Result<usize, StoreError> {
        if let Some(batch) = &w.batch {
            batch.write(tx, stamp, feeds_started)?;
        }
        let mut gone = Vec::new();
        if let Some(all) = &w.last {
            // Deletes: live here, and no longer in the projects' id list. An issue moved to a
            // project synced later is marked now and revived when that project writes it.
            for key in w.key.iter() {
                gone.extend(tx.live_issue_ids(key)?);
            }
            gone.retain(|id| !id.parse::<u64>().is_ok_and(|n| all.contains(&n)));
            tx.mark_issues_deleted(&gone, stamp)?;
            // The watermark moves with the project's last data, never before it.
            for key in w.key.iter() {
                tx.set_checkpoint(&opts.credential, ISSUE_STREAM, key, &completed_mark)?;
                tx.clear_checkpoint(&opts.credential, PASS_STREAM, key)?;
            }
        }
        Ok(gone.len())
    };
    // Writes batches in one transaction, in order; with a project's last batch, also its deletes
    // and its watermark. Returns the number of issues marked deleted.
    let write = |store: &mut dyn Backend, ws: Vec<Written>| -> Result<usize, SyncError> {
        let stamp = now();
        let deleted = store.write(|tx| {
            let mut deleted = 0;
            for w in &ws {
                deleted += write_one(tx, w, &stamp)?;
            }
            Ok(deleted)
        })?;
        Ok(deleted)
    };
    // Responses are parsed on this task; the store is written on a thread of its own, in the order
    // batches arrive, so SQLite's time does not hold back the requests in flight.
    let mut consume = async |send: &mut dyn FnMut(Written) -> bool| -> Result<(), SyncError> {
        while let Some(done) = work.next().await {
            let (key, last, batch) = match done {
                Done::Failed(e) => return Err(e),
                Done::Empty(key, all) => (key, Some(all), None),
                Done::Batch(key, all, n, total, batch) => {
                    let batch = batch?;
                    let count = chunks_done.entry(key.clone()).or_default();
                    if *count == 0 {
                        progress.issues_planned += total;
                    }
                    *count += 1;
                    (key, (*count == n).then_some(all), Some(batch))
                }
            };
            if let Some(batch) = &batch {
                summary.issues_written += batch.rows.issues.len();
                summary.changelog_items += batch
                    .rows
                    .changes
                    .iter()
                    .map(|(_, c)| c.len())
                    .sum::<usize>();
                summary.comments += batch
                    .rows
                    .comments
                    .iter()
                    .map(|(_, c)| c.len())
                    .sum::<usize>();
                worklogs_in_jira += batch.worklogs_in_jira;
                summary.worklogs += batch
                    .rows
                    .worklogs
                    .iter()
                    .map(|(_, w, _)| w.len())
                    .sum::<usize>();
                // A project changed when one of its issues did: new here, or with an `updated`
                // (or project) other than the stored one. Issues re-read only because they fall in
                // the overlap window are unchanged, and do not make their projects re-read their
                // catalogs and sprints.
                for i in &batch.rows.issues {
                    if touched.contains(&i.project_key) {
                        continue;
                    }
                    let stored = reader
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .issue_row(&i.id)?;
                    if stored
                        .is_none_or(|s| s.updated != i.updated || s.project_key != i.project_key)
                    {
                        touched.insert(i.project_key.clone());
                    }
                }
                tracing::info!(project = %label(&key), issues = batch.rows.issues.len(), "issues fetched");
            }
            if last.is_some() {
                summary.projects += key.len();
                progress.projects_done += key.len();
            }
            progress.project = label(&key);
            progress.issues_written = summary.issues_written;
            progress.changelog_items = summary.changelog_items;
            progress.comments = summary.comments;
            progress.worklogs = summary.worklogs;
            report(&progress);
            if !send(Written { key, last, batch }) {
                break;
            }
        }
        Ok(())
    };
    if jiralink_api::client::multi_thread_runtime() {
        let store_ref = &mut *store;
        summary.issues_deleted += tokio::task::block_in_place(|| {
            std::thread::scope(|scope| -> Result<usize, SyncError> {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Written>(GROUP_COMMIT_MAX);
                // Batches that queued while the writer was busy are written together, in one
                // transaction (group commit): the hot index pages go to the WAL once for all of
                // them instead of once per batch.
                let writer = scope.spawn(move || -> Result<usize, SyncError> {
                    let mut deleted = 0;
                    while let Ok(first) = rx.recv() {
                        let mut group = vec![first];
                        group.extend(rx.try_iter().take(GROUP_COMMIT_MAX - 1));
                        deleted += write(store_ref, group)?;
                    }
                    Ok(deleted)
                });
                let consumed = tokio::runtime::Handle::current()
                    .block_on(consume(&mut |w| tx.send(w).is_ok()));
                drop(tx);
                let wrote = writer
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p));
                // A write error stops the sending first; report it rather than the hang-up.
                let deleted = wrote?;
                consumed.map(|()| deleted)
            })
        })?;
    } else {
        let mut failed = None;
        consume(&mut |w| match write(store, vec![w]) {
            Ok(n) => {
                summary.issues_deleted += n;
                true
            }
            Err(e) => {
                failed = Some(e);
                false
            }
        })
        .await?;
        if let Some(e) = failed {
            return Err(e);
        }
    }
    let refreshed = refresh_catalogs(client, store, opts, &keys, &touched).await?;
    if plan == Plan::Cloud {
        progress.phase = Phase::Worklogs;
        report(&progress);
        let worklogs_before = progress.worklogs;
        let feedback = |written: usize, issue_reads: usize| {
            let mut p = progress.clone();
            p.worklogs = worklogs_before + written;
            p.worklog_issue_reads = issue_reads;
            report(&p);
        };
        let w = worklogs::sync(
            client,
            store,
            opts,
            feeds_started,
            run_started_ms,
            worklogs_in_jira,
            &feedback,
        )
        .await?;
        summary.worklogs += w.listed + w.worklogs_read;
        summary.worklogs_listed = w.listed;
        summary.worklogs_deleted = w.deleted;
        summary.worklog_issue_reads = w.issue_reads;
    }
    progress.phase = Phase::Boards;
    progress.worklogs = summary.worklogs;
    report(&progress);
    summary.sprints = sync_boards(client, store, opts, &refreshed).await?;
    Ok(summary)
}

/// What the sync asks for: a chunk of ids of a project (with the project's chunk count and issue
/// count), a project with nothing to fetch, or a project whose planning failed.
enum Work {
    Chunk(Keys, ProjectIds, usize, usize, Vec<u64>),
    Empty(Keys, ProjectIds),
    Failed(SyncError),
}

/// A batch (or an empty project) on its way to the store; with its project's last batch, the
/// project's whole id list, for delete reconciliation.
struct Written {
    key: Keys,
    last: Option<ProjectIds>,
    batch: Option<convert::Batch>,
}

/// Issue ids are numbers in Jira: planning holds them as such, a fraction of the memory of text.
type ProjectIds = std::sync::Arc<HashSet<u64>>;

/// The projects planned as one unit: one project new to the sync, or all those synced before.
type Keys = std::sync::Arc<[String]>;

/// A unit's projects in JQL.
fn project_scope(keys: &[String]) -> String {
    match keys {
        [key] => format!("project = \"{key}\""),
        _ => {
            let keys: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
            format!("project in ({})", keys.join(", "))
        }
    }
}

/// A unit's name in progress and logs.
fn label(keys: &[String]) -> String {
    match keys {
        [key] => key.clone(),
        _ => format!("{} projects", keys.len()),
    }
}

/// How many projects, beside the due ones, have their catalogs re-read each run (oldest first).
const CATALOG_ROTATION: usize = 8;
/// How long the catalog of a project without changes is trusted before it is re-read.
const CATALOG_MAX_AGE_HOURS: i64 = 24;
const CATALOG_STREAM: &str = "catalog";
const SPRINTS_STREAM: &str = "sprints";

/// Versions and components, one `project/{key}` read each (it carries both lists), concurrently,
/// for the projects due: those never read by this credential (or all with `--full`), those with
/// issues changed in this run, and, of those read more than [`CATALOG_MAX_AGE_HOURS`] ago, the
/// [`CATALOG_ROTATION`] read longest ago. Jira has no feed of version or component changes and no
/// bulk read of versions, so this bounds a re-sync's cost (no catalog of an unchanged project is read
/// twice a day) while every catalog is still re-read within a day or `projects / CATALOG_ROTATION`
/// runs, whichever is longer. Returns the
/// projects refreshed (their boards' sprints are re-read too).
async fn refresh_catalogs(
    client: &Client,
    store: &mut dyn Backend,
    opts: &SyncOptions,
    keys: &[String],
    touched: &HashSet<String>,
) -> Result<Refreshed, SyncError> {
    let mut due = Vec::new();
    let mut rest = Vec::new();
    let mut first_read = false;
    for key in keys {
        match store.checkpoint(&opts.credential, CATALOG_STREAM, key)? {
            Some(at) if !opts.full && !touched.contains(key) => rest.push((at, key)),
            Some(_) => due.push(key),
            None => {
                first_read = true;
                due.push(key);
            }
        }
    }
    rest.retain(|(at, _)| older_than(Some(at), CATALOG_MAX_AGE_HOURS));
    rest.sort();
    due.extend(rest.into_iter().take(CATALOG_ROTATION).map(|(_, k)| k));
    let api = client.api();
    let mut catalogs = stream::iter(due.into_iter().map(|key| {
        let api = &api;
        async move {
            let project = client.get_json(&format!("{api}/project/{key}")).await?;
            Ok::<_, SyncError>((key, convert::catalog(&project)))
        }
    }))
    .buffered(opts.concurrency.max(1));
    let mut catalog = Vec::new();
    while let Some(c) = catalogs.next().await {
        catalog.push(c?);
    }
    let stamp = now();
    store.write(|tx| {
        for (key, (versions, components)) in &catalog {
            tx.set_project_catalog(key, versions, components, &stamp)?;
            tx.set_checkpoint(&opts.credential, CATALOG_STREAM, key, &stamp)?;
        }
        Ok(())
    })?;
    Ok(Refreshed {
        projects: catalog.into_iter().map(|(k, _)| k.clone()).collect(),
        first_read,
    })
}

/// The projects whose catalogs a run re-read, and whether one of them was read for the first time
/// (a project new to this credential: its boards are not in the store yet).
struct Refreshed {
    projects: HashSet<String>,
    first_read: bool,
}

/// An issue's comments read page by page where they exceed the inline cap; its worklogs: the
/// inline ones are all (`Some(None)`), read whole (`Some(Some(..))`), or left to the feeds (`None`).
type PastCap = (Option<Vec<Value>>, Option<Option<Vec<Value>>>);

/// What came back, in completion order.
enum Done {
    Batch(
        Keys,
        ProjectIds,
        usize,
        usize,
        Result<convert::Batch, SyncError>,
    ),
    Empty(Keys, ProjectIds),
    Failed(SyncError),
}

/// All issue ids a JQL matches. Cloud: id-only pages of 5000, one after another (each page's token
/// names the next). Data Center: the first page of 1000 tells the total; the rest are fetched in
/// parallel.
pub(crate) async fn issue_ids(
    client: &Client,
    plan: Plan,
    concurrency: usize,
    jql: &str,
) -> Result<Vec<u64>, SyncError> {
    let ids_of = |issues: &[Value]| -> Result<Vec<u64>, SyncError> {
        issues
            .iter()
            .map(|i| {
                i["id"]
                    .as_str()
                    .and_then(|id| id.parse().ok())
                    .ok_or_else(|| {
                        SyncError::Jira(Error::Decode {
                            path: "search".into(),
                            message: format!("an issue id that is not a number: {}", i["id"]),
                        })
                    })
            })
            .collect()
    };
    if plan == Plan::DataCenter {
        let body = json!({"jql": jql, "fields": ["id"], "maxResults": DC_PAGE});
        let (issues, _) = dc_search(client, &body, concurrency).await?;
        let issues: Vec<Value> = issues.into_iter().map(|i| i.value).collect();
        return ids_of(&issues);
    }
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"jql": jql, "fields": ["id"], "maxResults": ID_PAGE});
        if let Some(t) = &token {
            body["nextPageToken"] = json!(t);
        }
        let page = client
            .post_json(&format!("{}/search/jql", client.api()), &body)
            .await?;
        ids.extend(ids_of(
            page["issues"].as_array().map_or(&[][..], Vec::as_slice),
        )?);
        match page["nextPageToken"].as_str() {
            Some(t) if !page["isLast"].as_bool().unwrap_or(false) => token = Some(t.to_owned()),
            _ => return Ok(ids),
        }
    }
}

/// How many issues a JQL matches: Cloud's `search/approximate-count` (for progress only), Data
/// Center's exact `total` of an empty page (progress, and a re-sync's check that nothing was
/// deleted). `None` when Jira does not say (the sync goes on without it).
async fn issue_count(client: &Client, plan: Plan, jql: &str) -> Option<usize> {
    let counted = match plan {
        Plan::Cloud => client
            .post_json(
                &format!("{}/search/approximate-count", client.api()),
                &json!({ "jql": jql }),
            )
            .await
            .map(|v| v["count"].as_u64()),
        Plan::DataCenter => client
            .post_json(
                &format!("{}/search", client.api()),
                &json!({"jql": jql, "fields": ["id"], "maxResults": 0}),
            )
            .await
            .map(|v| v["total"].as_u64()),
    };
    match counted {
        Ok(n) => n.and_then(|n| usize::try_from(n).ok()),
        Err(e) => {
            tracing::debug!(error = %e, "no issue count up front; progress counts planned projects");
            None
        }
    }
}

/// A watermark (UTC) minus the overlap, as JQL reads dates: minutes, in the account's time zone.
fn jql_time(watermark: &str, overlap_minutes: i64, tz: chrono_tz::Tz) -> String {
    let t = chrono::DateTime::parse_from_rfc3339(watermark)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now());
    let t = t - chrono::Duration::minutes(overlap_minutes + 1);
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// Every issue of a Data Center `search`, following what the server returned, never the size
/// asked for: a server whose `jira.search.views.default.max` is below `maxResults` serves shorter
/// pages. The first page gives the total and the server's page size; the other ranges are read in
/// parallel, each followed page by page until covered. Returns the issues and Jira's total.
async fn dc_search(
    client: &Client,
    body: &Value,
    concurrency: usize,
) -> Result<(Vec<Fetched>, usize), SyncError> {
    let path = format!("{}/search", client.api());
    let at = |start: usize| {
        let mut b = body.clone();
        b["startAt"] = json!(start);
        b
    };
    let first: IssuePage = client.post_typed(&path, &at(0)).await?;
    let total = first.total.unwrap_or(0) as usize;
    let mut issues = first.issues;
    let page = issues.len();
    if page == 0 || page >= total {
        return Ok((issues, total));
    }
    let ranges: Vec<(usize, usize)> = (page..total)
        .step_by(page)
        .map(|lo| (lo, (lo + page).min(total)))
        .collect();
    let mut rest = stream::iter(ranges.into_iter().map(|(lo, hi)| {
        let (path, at) = (&path, &at);
        async move {
            let mut got = Vec::new();
            let mut start = lo;
            while start < hi {
                let items = client
                    .post_typed::<IssuePage>(path, &at(start))
                    .await?
                    .issues;
                let n = items.len();
                if n == 0 {
                    break;
                }
                got.extend(items.into_iter().take(hi - start));
                start += n;
            }
            Ok::<_, SyncError>(got)
        }
    }))
    .buffered(concurrency.max(1));
    while let Some(r) = rest.next().await {
        issues.extend(r?);
    }
    Ok((issues, total))
}

/// An issue as Jira sent it: its JSON text, which the store keeps as `raw_json` (no second
/// serialisation), and the same parsed. Reads as the parsed `Value`.
pub(crate) struct Fetched {
    pub(crate) raw: Box<RawValue>,
    pub(crate) value: Value,
}

impl std::ops::Deref for Fetched {
    type Target = Value;
    fn deref(&self) -> &Value {
        &self.value
    }
}

impl<'de> serde::Deserialize<'de> for Fetched {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        let value = serde_json::from_str(raw.get()).map_err(serde::de::Error::custom)?;
        Ok(Fetched { raw, value })
    }
}

/// A page of issues: Cloud's `issue/bulkfetch` (`issueErrors`) or Data Center's `search`
/// (`total`).
#[derive(serde::Deserialize)]
struct IssuePage {
    #[serde(default)]
    issues: Vec<Fetched>,
    #[serde(default, rename = "issueErrors")]
    issue_errors: Option<Vec<serde::de::IgnoredAny>>,
    #[serde(default)]
    total: Option<u64>,
}

/// Issues by id (at most 100), with the given fields: Cloud's `issue/bulkfetch`; on Data Center a
/// `search` for `id in (...)` that also embeds the changelog when `*all` fields are asked for.
/// Every id asked for is accounted for: returned, or reported gone by a complete answer (Cloud
/// leaves out issues that no longer exist or that the caller may not see, with no `issueErrors`;
/// Data Center's pages reach the `total` of a query that leaves out missing ids instead of refusing
/// them). Ids a partial answer left out are asked for once more; still unaccounted, the call fails.
pub(crate) async fn issues_by_id(
    client: &Client,
    plan: Plan,
    ids: &[String],
    fields: &[&str],
) -> Result<Vec<Fetched>, SyncError> {
    let (mut issues, complete) = issues_by_id_once(client, plan, ids, fields).await?;
    let missing = |issues: &[Fetched]| -> Vec<String> {
        let got: HashSet<&str> = issues.iter().filter_map(|i| i["id"].as_str()).collect();
        ids.iter()
            .filter(|id| !got.contains(id.as_str()))
            .cloned()
            .collect()
    };
    let mut absent = missing(&issues);
    if !complete && !absent.is_empty() {
        let (more, complete) = issues_by_id_once(client, plan, &absent, fields).await?;
        issues.extend(more);
        absent = missing(&issues);
        if !complete && !absent.is_empty() {
            return Err(SyncError::Unaccounted(format!(
                "Jira returned {} of the {} issues asked for and did not say the others are gone (ids {}); nothing of them was recorded: run the sync again, and if it repeats, report it with -v",
                ids.len() - absent.len(),
                ids.len(),
                absent.join(", ")
            )));
        }
    }
    if !absent.is_empty() {
        tracing::info!(ids = %absent.join(","), "issues gone since they were listed");
    }
    Ok(issues)
}

/// One try of [`issues_by_id`]: the issues, and whether Jira's answer was complete.
async fn issues_by_id_once(
    client: &Client,
    plan: Plan,
    ids: &[String],
    fields: &[&str],
) -> Result<(Vec<Fetched>, bool), SyncError> {
    let api = client.api();
    match plan {
        Plan::Cloud => {
            let body = json!({"issueIdsOrKeys": ids, "fields": fields});
            let page: IssuePage = client
                .post_typed(&format!("{api}/issue/bulkfetch"), &body)
                .await?;
            let complete = page.issue_errors.is_none_or(|e| e.is_empty());
            Ok((page.issues, complete))
        }
        Plan::DataCenter => {
            let expand: &[&str] = if fields.contains(&"*all") {
                &["changelog"]
            } else {
                &[]
            };
            let jql = format!("id in ({}) ORDER BY id ASC", ids.join(","));
            // `validateQuery: false`: an id deleted since it was listed is left out, not refused.
            let body = json!({"jql": jql, "fields": fields, "expand": expand, "maxResults": ids.len(), "validateQuery": false});
            let (issues, total) = dc_search(client, &body, 1).await?;
            let complete = issues.len() >= total;
            Ok((issues, complete))
        }
    }
}

/// Fetches 100 issues with their whole changelogs, comments and worklogs.
async fn fetch_chunk(
    client: &Client,
    plan: Plan,
    fields: &convert::Fields,
    ids: Vec<String>,
) -> Result<convert::Batch, SyncError> {
    let api = client.api();
    let mut changes = convert::Changes::default();
    let issues = issues_by_id(client, plan, &ids, &["*all"]).await?;
    match plan {
        Plan::Cloud => {
            let present: Vec<String> = issues
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect();
            // Whole changelogs, 1000 histories a page.
            if !present.is_empty() {
                let mut token: Option<String> = None;
                loop {
                    let mut body = json!({"issueIdsOrKeys": present, "maxResults": 1000});
                    if let Some(t) = &token {
                        body["nextPageToken"] = json!(t);
                    }
                    let page = client
                        .post_json(&format!("{api}/changelog/bulkfetch"), &body)
                        .await?;
                    changes.add(&page);
                    match page["nextPageToken"].as_str() {
                        Some(t) => token = Some(t.to_owned()),
                        None => break,
                    }
                }
            }
        }
        Plan::DataCenter => {
            // Data Center embeds whole changelogs; an issue whose embedded list is still short
            // (a server configured to cap it) is read whole on its own.
            for issue in &issues {
                let id = issue["id"].as_str().unwrap_or_default();
                let log = &issue["changelog"];
                let shown = log["histories"].as_array().map_or(0, Vec::len);
                if log["total"].as_u64().unwrap_or(0) as usize > shown {
                    let whole = client
                        .get_json(&format!("{api}/issue/{id}?expand=changelog&fields=id"))
                        .await;
                    match unless_gone(whole)? {
                        Some(whole) => changes.add_histories(id, &whole["changelog"]["histories"]),
                        None => changes.add_histories(id, &log["histories"]),
                    }
                } else {
                    changes.add_histories(id, &log["histories"]);
                }
            }
        }
    }
    // Comments past the inline cap, per issue (few issues have them). Worklogs past it: per issue
    // on Data Center; on Cloud the issue is queued for the worklog feeds (`worklogs`).
    let past_cap = |page: &Value, key: &str| {
        page["total"].as_u64().unwrap_or(0) as usize > page[key].as_array().map_or(0, Vec::len)
    };
    let mut extra: Vec<PastCap> = Vec::new();
    for issue in &issues {
        let id = issue["id"].as_str().unwrap_or_default();
        // An issue deleted (or hidden) since the search answered 404 here: it keeps what the
        // search returned, and the deletion is the reconciliation's to record.
        let comments = if past_cap(&issue["fields"]["comment"], "comments") {
            unless_gone(all_pages(client, &format!("{api}/issue/{id}/comment"), "comments").await)?
        } else {
            None
        };
        let worklogs = match past_cap(&issue["fields"]["worklog"], "worklogs") {
            false => Some(None),
            true if plan == Plan::DataCenter => {
                let all = all_pages(client, &format!("{api}/issue/{id}/worklog"), "worklogs").await;
                Some(unless_gone(all)?)
            }
            true => None,
        };
        extra.push((comments, worklogs));
    }
    // Conversion to rows is CPU work: off the task that drives the requests.
    let fields = fields.clone();
    let batch = jiralink_api::client::off_task(move || {
        let mut batch = convert::Batch::default();
        for (issue, (comments, worklogs)) in issues.iter().zip(extra) {
            let id = issue["id"].as_str().unwrap_or_default();
            // The embedded lists are read where they are, not copied.
            fn inline<'a>(v: &'a Value, key: &str) -> &'a [Value] {
                v[key].as_array().map_or(&[], Vec::as_slice)
            }
            let comments: &[Value] = match &comments {
                Some(c) => c,
                None => inline(&issue["fields"]["comment"], "comments"),
            };
            let complete = worklogs.is_some();
            let worklogs: &[Value] = match &worklogs {
                Some(Some(w)) => w,
                _ => inline(&issue["fields"]["worklog"], "worklogs"),
            };
            batch.add(
                &fields,
                issue,
                issue.raw.get(),
                changes.take(id),
                comments,
                worklogs,
                complete,
            );
        }
        batch
    })
    .await;
    Ok(batch)
}

/// Every item of a startAt-paged list.
/// A per-issue read's answer, `None` when Jira answered 404: the issue was deleted, moved out of
/// sight or hidden between the search that listed it and this read.
fn unless_gone<T>(read: Result<T, impl Into<SyncError>>) -> Result<Option<T>, SyncError> {
    match read.map_err(Into::into) {
        Ok(v) => Ok(Some(v)),
        Err(SyncError::Jira(e)) if e.diagnosis().status == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn all_pages(client: &Client, path: &str, key: &str) -> Result<Vec<Value>, SyncError> {
    let mut out = Vec::new();
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let page = client
            .get_json(&format!("{path}{sep}startAt={}&maxResults=5000", out.len()))
            .await?;
        let items = page[key].as_array().cloned().unwrap_or_default();
        let n = items.len();
        out.extend(items);
        // Pages say `isLast` (Agile, project search) or `total` (comments, worklogs).
        let last = match page["isLast"].as_bool() {
            Some(last) => last,
            None => out.len() >= page["total"].as_u64().unwrap_or(0) as usize,
        };
        if n == 0 || last {
            return Ok(out);
        }
    }
}

/// How long the stored board list is trusted before the board list is read again (new and
/// deleted boards of projects not otherwise refreshed are seen within this time).
const BOARD_LIST_MAX_AGE_HOURS: i64 = 24;

/// Whether a list read at `listed_at` (a stored time; never read: `None`, or not a time) is older
/// than `hours`.
fn older_than(listed_at: Option<&str>, hours: i64) -> bool {
    listed_at
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .is_none_or(|t| {
            chrono::Utc::now() - t.with_timezone(&chrono::Utc) > chrono::Duration::hours(hours)
        })
}
const BOARDS_STREAM: &str = "boards";

/// Boards and their sprints (Agile API), upserted; returns the number of sprints read. The Agile
/// API lists sprints only per board, so a scrum board's sprints are re-read when its project's
/// catalog is (`refreshed`: new, changed issues, or its turn), when this credential never read
/// them, with `--full`, or when the board has no project; concurrently, within the sync's bound.
/// The board list itself (50 boards a page, so its cost grows with the site) is read when a
/// project is new, with `--full`, or when the stored list is older than
/// [`BOARD_LIST_MAX_AGE_HOURS`]; otherwise the boards are the stored ones.
async fn sync_boards(
    client: &Client,
    store: &mut dyn Backend,
    opts: &SyncOptions,
    refreshed: &Refreshed,
) -> Result<usize, SyncError> {
    let listed_at = store.checkpoint(&opts.credential, BOARDS_STREAM, "*")?;
    let stale = older_than(listed_at.as_deref(), BOARD_LIST_MAX_AGE_HOURS);
    let listed = if opts.full || refreshed.first_read || stale {
        Some(all_pages(client, "/rest/agile/1.0/board", "values").await?)
    } else {
        None
    };
    // (id, type, project key) of every board, listed now or stored.
    let boards: Vec<(String, String, Option<String>)> = match &listed {
        Some(list) => list
            .iter()
            .map(|b| {
                (
                    b["id"].to_string(),
                    b["type"].as_str().unwrap_or_default().to_owned(),
                    b["location"]["projectKey"].as_str().map(str::to_owned),
                )
            })
            .collect(),
        None => store.boards()?,
    };
    let mut scrum: Vec<i64> = Vec::new();
    for (id, kind, project) in &boards {
        let Ok(id) = id.parse::<i64>() else { continue };
        if kind != "scrum" {
            continue;
        }
        let due = opts.full
            || project
                .as_deref()
                .is_none_or(|k| refreshed.projects.contains(k))
            || store
                .checkpoint(&opts.credential, SPRINTS_STREAM, &id.to_string())?
                .is_none();
        if due {
            scrum.push(id);
        }
    }
    let concurrency = opts.concurrency;
    let mut pages = stream::iter(scrum.iter().map(|&id| async move {
        all_pages(
            client,
            &format!("/rest/agile/1.0/board/{id}/sprint"),
            "values",
        )
        .await
    }))
    .buffered(concurrency.max(1));
    let mut sprints = Vec::new();
    while let Some(page) = pages.next().await {
        sprints.extend(page?);
    }
    let stamp = now();
    store.write(|tx| {
        for id in &scrum {
            tx.set_checkpoint(&opts.credential, SPRINTS_STREAM, &id.to_string(), &stamp)?;
        }
        if let Some(list) = &listed {
            for b in list {
                tx.upsert_board(
                    &b["id"].to_string(),
                    b["name"].as_str().unwrap_or_default(),
                    b["type"].as_str().unwrap_or_default(),
                    b["location"]["projectKey"].as_str(),
                )?;
            }
            tx.set_checkpoint(&opts.credential, BOARDS_STREAM, "*", &stamp)?;
        }
        for s in &sprints {
            tx.upsert_sprint(&convert::sprint(s))?;
        }
        Ok(())
    })?;
    Ok(sprints.len())
}

/// Every project the credential may browse: startAt pages on Cloud; Data Center lists them all at
/// once.
pub(crate) async fn visible_projects(client: &Client, plan: Plan) -> Result<Vec<Value>, SyncError> {
    let api = client.api();
    Ok(match plan {
        Plan::DataCenter => client
            .get_json(&format!("{api}/project"))
            .await?
            .as_array()
            .cloned()
            .unwrap_or_default(),
        Plan::Cloud => all_pages(client, &format!("{api}/project/search"), "values").await?,
    })
}

/// Refuses project keys (`--projects`) that are not among the visible projects, naming them.
pub(crate) fn check_known(
    asked: &[String],
    visible: &[Value],
    site: &str,
) -> Result<(), SyncError> {
    let known = |x: &String| {
        visible
            .iter()
            .any(|p| p["key"].as_str().is_some_and(|k| k.eq_ignore_ascii_case(x)))
    };
    let unknown: Vec<String> = asked.iter().filter(|x| !known(x)).cloned().collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(SyncError::UnknownProjects {
        keys: unknown,
        visible: visible.len(),
        site: site.to_owned(),
    })
}
