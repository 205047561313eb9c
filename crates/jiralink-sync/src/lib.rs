//! `jiralink-sync`: mirrors a Jira site into the store. Per project it enumerates issue ids, fetches
//! what changed, reconciles ids to find deletes, and moves a per-project watermark in the transaction
//! that writes the project's last data. The [`Plan`] says how, per deployment: on Cloud, ids from
//! `search/jql` (5000 a page), issues from `issue/bulkfetch` (100 a request) and whole changelogs
//! from `changelog/bulkfetch`; on Data Center, ids from `search` pages of 1000 fetched in parallel
//! once the total is known, and issues from `search` with `expand=changelog` (Data Center embeds
//! whole changelogs). Comments are read inline, per issue only past the inline cap; worklogs past it
//! per issue on Data Center, from the worklog feeds on Cloud (`worklogs`).
//! Jira's answers are read as the client's wire models and converted to store rows explicitly in
//! `convert`; every list is read through the client's one pager.

mod convert;
pub mod site;
mod verify;
mod worklogs;

pub use verify::{verify, ProjectDrift, VerifyReport};

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Instant;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use jiralink_api::endpoints::IssueFieldSet;
use jiralink_api::models::{
    BoardId, Comment, Issue, IssueId, IssuePage, IssueRef, Project, ServerInfo, User, Worklog,
};
use jiralink_api::{Client, Error};
use jiralink_store::{now, Backend, Lookup, StoreError, Tx};

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

/// What a sync is doing: the issues, then the worklog feeds (Cloud), then boards and sprints.
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
    pub fn of(server_info: &ServerInfo) -> Plan {
        match server_info.is_cloud() {
            true => Plan::Cloud,
            false => Plan::DataCenter,
        }
    }

    /// Issues a chunk of the issue pass fetches together.
    fn chunk(self) -> usize {
        match self {
            Plan::Cloud => CLOUD_CHUNK,
            Plan::DataCenter => BULK_ISSUES,
        }
    }
}

const ISSUE_STREAM: &str = "issues";
const PASS_STREAM: &str = "issues_pass";
/// Issues a request of `issue/bulkfetch` (Cloud's limit), and a Data Center chunk.
const BULK_ISSUES: usize = 100;
/// A Cloud chunk: two `issue/bulkfetch` requests and one `changelog/bulkfetch` page for both
/// ([`HISTORIES_PER_ISSUE`]), side by side. Chunks of 100 took two requests each, and half of a
/// first sync's requests were changelog pages a little over half full (the simulator's issues
/// have some six histories): `bench/sync.sh 100000 100 50 8` made 2381 requests, 1022 of them for
/// changelogs.
const CLOUD_CHUNK: usize = 200;
/// Histories a changelog page asks for, per issue of its chunk: most chunks' changelogs fit one
/// page, and a busier chunk's go on to the next (Jira answers at most 10,000 a page).
const HISTORIES_PER_ISSUE: usize = 10;
/// How long the writer thread keeps a transaction open for the batches that arrive: one commit a
/// second instead of one per group of queued batches. Every commit writes each index page it
/// touched to the WAL again, and a project's issue ids are spread over the site's whole id range,
/// so each commit touched nearly every leaf of the indexes: at 50,000 issues they were written to
/// the WAL some 30 times each (158,000 frames for a 39,000-page store).
const COMMIT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
/// Issues parsed and waiting for the writer, in batches of a chunk (100 issues are some
/// megabytes: a full queue is some 60 MB).
/// The queue is what lets the pass go on while the writer stops: past the WAL's hard bound the
/// writer checkpoints it itself (see the store's `wal` module), some ten times in a 100,000-issue
/// sync, for 0.1-0.5 s each on a quiet disk and up to 1.4 s on a busy one. Four batches were
/// 0.15 s of the pass at 50 requests a second: a `-v` log of `bench/sync.sh 100000 100 50 8`
/// showed the pass waiting 2.0 s for the writer on a quiet disk (5.7 s on a busy one) with 4
/// batches of 100; with 16, not at all on the quiet disk (1.7 s on the busy one).
const WRITER_QUEUE_ISSUES: usize = 1600;
/// A wait of the pass for the writer this long is logged (`-v`).
const WRITER_WAIT_LOGGED: std::time::Duration = std::time::Duration::from_millis(100);
const ID_PAGE: usize = 5000;
/// Data Center units planned at once (each lists its id pages `concurrency` at a time).
const DC_UNITS_AT_ONCE: usize = 4;
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

/// The phases of a sync, in order: the site and its metadata, projects, users, the issue pass
/// (every project planned, then fetched in issue id order across them, written in arrival order),
/// catalogs, Cloud's worklog feeds, boards and sprints; the catalogs and boards are read from the
/// moment the pass's last batch is fetched.
async fn run_sync(
    client: &Client,
    store: &mut dyn Backend,
    opts: &SyncOptions,
) -> Result<SyncSummary, SyncError> {
    let clock = RunClock::start();
    let mut summary = SyncSummary::default();
    let (site, projects) = prepare_site(client, store, opts).await?;
    // The users are read while the projects are written and the pass is planned (a few requests
    // that wait on each other), and written after.
    let planned = async {
        let keys = sync_projects(&mut *store, opts, &site, projects, &mut summary)?;
        let pass = plan_issue_pass(client, &mut *store, opts, &site, &keys, &clock).await?;
        Ok::<_, SyncError>((keys, pass))
    };
    let ((keys, pass), users) = tokio::try_join!(planned, read_users(client, site.plan))?;
    write_users(store, &users)?;
    let feeds_started = pass.feeds_started;
    let mut progress = Progress {
        projects: keys.len(),
        issues_expected: pass.issues_expected,
        ..Progress::default()
    };
    let report = |p: &Progress| {
        if let Some(sink) = &opts.progress {
            (sink.0)(p);
        }
    };
    // The catalogs and boards are read once the pass has fetched its last batch: they need only
    // the projects it touched, and start while the store's writer finishes the last batches, so
    // the requests go on across the hand-over. They are planned on a read connection of their
    // own (the writer holds the store), which the pass shares for its own planning.
    let reader = std::sync::Mutex::new(store.reader()?);
    let (touched_tx, touched_rx) = tokio::sync::oneshot::channel::<HashSet<String>>();
    let later = async {
        // Dropped unsent: the pass failed, and its error is the run's.
        let Ok(touched) = touched_rx.await else {
            return Ok(None);
        };
        let (refreshed, boards) = {
            let reader = reader.lock().unwrap_or_else(|p| p.into_inner());
            let refreshed = catalogs_due(&**reader, opts, &keys, &touched)?;
            let boards = plan_boards(&**reader, opts, &refreshed)?;
            (refreshed, boards)
        };
        let (boards, catalogs) = tokio::try_join!(
            read_boards(client, opts, &refreshed, boards),
            read_catalogs(client, opts, &refreshed)
        )?;
        Ok::<_, SyncError>(Some((boards, catalogs)))
    };
    let mut later = std::pin::pin!(futures_util::future::maybe_done(later));
    let outcome = sync_issues(
        client,
        store,
        opts,
        &site,
        pass,
        &clock,
        &mut progress,
        &mut summary,
        &reader,
        Later {
            touched: touched_tx,
            reads: later.as_mut(),
        },
    )
    .await?;
    // The catalogs, boards and (on Cloud) worklog feeds are read at once, each at the client's
    // pace: the run does not hand over from one short phase to the next with requests to spare.
    if site.plan == Plan::Cloud {
        progress.phase = Phase::Worklogs;
        report(&progress);
        let worklogs_before = progress.worklogs;
        let feedback = |written: usize, issue_reads: usize| {
            let mut p = progress.clone();
            p.worklogs = worklogs_before + written;
            p.worklog_issue_reads = issue_reads;
            report(&p);
        };
        let (w, ()) = tokio::join!(
            worklogs::sync(
                client,
                store,
                opts,
                feeds_started,
                clock.started_ms,
                outcome.worklogs_in_jira,
                &feedback,
            ),
            later.as_mut()
        );
        let w = w?;
        summary.worklogs += w.listed + w.worklogs_read;
        summary.worklogs_listed = w.listed;
        summary.worklogs_deleted = w.deleted;
        summary.worklog_issue_reads = w.issue_reads;
    } else {
        later.as_mut().await;
    }
    let (boards, catalogs) = later
        .as_mut()
        .take_output()
        .expect("polled to the end above")?
        .expect("the pass sent what it touched");
    progress.phase = Phase::Boards;
    progress.worklogs = summary.worklogs;
    report(&progress);
    write_catalogs(store, opts, &catalogs)?;
    summary.sprints = write_boards(store, opts, boards)?;
    Ok(summary)
}

/// When the run began: a completed pass has everything updated before it.
struct RunClock {
    started: String,
    started_ms: i64,
}

impl RunClock {
    fn start() -> RunClock {
        RunClock {
            started_ms: chrono::Utc::now().timestamp_millis(),
            started: now(),
        }
    }
}

/// The site being synced: how to read it, and what the issue pass needs of it.
struct SiteContext {
    plan: Plan,
    base_url: String,
    /// The account's time zone: JQL reads dates in it.
    tz: chrono_tz::Tz,
    fields: convert::Fields,
}

/// `serverInfo` (which plan, which site), `myself`, and the metadata lists (fields, statuses,
/// issue types, priorities, resolutions), written before any issue; and the visible projects,
/// read in the same round trip for [`sync_projects`].
async fn prepare_site(
    client: &Client,
    store: &mut dyn Backend,
    opts: &SyncOptions,
) -> Result<(SiteContext, Vec<Project>), SyncError> {
    let server_info = client.server_info().await?;
    let plan = Plan::of(&server_info);
    // Every row is keyed by the site: resolve it before anything is written.
    let site = site::resolve(client, &server_info).await?;
    store.use_site(&site, &opts.credential)?;
    // The seven lists are independent: asked at once, they cost one round trip, not seven.
    let (me, field_list, statuses, issue_types, priorities, resolutions, projects) = tokio::try_join!(
        client.myself(),
        client.fields(),
        client.statuses(),
        client.issue_types(),
        client.priorities(),
        client.resolutions(),
        visible_projects(client, plan),
    )?;
    let tz: chrono_tz::Tz = me
        .time_zone
        .and_then(|z| z.parse().ok())
        .unwrap_or(chrono_tz::UTC);
    let fields = convert::Fields::from_field_list(&field_list);
    let lookups = [
        (Lookup::IssueType, issue_types),
        (Lookup::Priority, priorities),
        (Lookup::Resolution, resolutions),
    ];
    store.write(|tx| {
        for f in &field_list {
            let schema = f.schema.as_ref();
            tx.upsert_field(
                f.id.text(),
                &f.name,
                f.custom.unwrap_or(false),
                schema.and_then(|s| s.kind.as_deref()),
                schema.and_then(|s| s.custom.as_deref()),
            )?;
        }
        for (lookup, list) in &lookups {
            for x in list {
                tx.upsert_lookup(*lookup, x.id.text(), &x.name, x.subtask)?;
            }
        }
        for s in &statuses {
            let category = s.status_category.as_ref().and_then(|c| c.key.as_deref());
            tx.upsert_status(s.id.text(), &s.name, category.unwrap_or("undefined"))?;
        }
        Ok(())
    })?;
    Ok((
        SiteContext {
            plan,
            base_url: site.base_url,
            tz,
            fields,
        },
        projects,
    ))
}

/// The visible projects, upserted; those this credential synced before and no longer sees are
/// recorded as not visible. Returns the keys to sync (`--projects`, or all).
fn sync_projects(
    store: &mut dyn Backend,
    opts: &SyncOptions,
    site: &SiteContext,
    projects: Vec<Project>,
    summary: &mut SyncSummary,
) -> Result<Vec<String>, SyncError> {
    check_known(&opts.projects, &projects, &site.base_url)?;
    let visible: Vec<String> = projects.iter().map(|p| p.key.clone()).collect();
    let stamp = now();
    summary.projects_not_visible = store.write(|tx| {
        for p in &projects {
            tx.upsert_project(
                p.id.text(),
                &p.key,
                &p.name,
                p.project_type_key.as_deref(),
                p.raw.get(),
            )?;
        }
        // Projects this credential synced before and no longer sees are not deleted: recorded.
        tx.record_visibility(&opts.credential, &visible, &stamp)
    })?;
    Ok(visible
        .into_iter()
        .filter(|k| {
            opts.projects.is_empty() || opts.projects.iter().any(|x| x.eq_ignore_ascii_case(k))
        })
        .collect())
}

/// Every user: Cloud's `users/search`; on Data Center `user/search` with the "." that matches
/// every username, inactive users included.
async fn read_users(client: &Client, plan: Plan) -> Result<Vec<User>, SyncError> {
    let mut pages = client.users(plan == Plan::DataCenter);
    let mut all = Vec::new();
    while let Some(users) = pages.next_page().await? {
        all.extend(users);
    }
    Ok(all)
}

fn write_users(store: &mut dyn Backend, users: &[User]) -> Result<(), SyncError> {
    store.write(|tx| {
        for u in users {
            if let Some(id) = u.id() {
                tx.upsert_user(
                    id,
                    u.display_name.as_deref(),
                    u.email_address.as_deref(),
                    u.active.unwrap_or(true),
                )?;
            }
        }
        Ok(())
    })?;
    Ok(())
}

/// The projects planned as one unit, and the watermark their changes are read from (`None`:
/// everything is read).
struct Unit {
    keys: Keys,
    since: Option<String>,
}

/// What the issue pass will do: its units, the count of all issues when a first sync knows it
/// up front, and whether Cloud's worklog feeds have a watermark.
struct IssuePass {
    units: Vec<Unit>,
    issues_expected: Option<usize>,
    feeds_started: bool,
}

/// Plans the issue pass. `issues` is the watermark of a project's last completed pass;
/// `issues_pass` the start of a pass that a crash interrupted. Either bounds what must be re-read:
/// everything updated since, plus whatever the store still lacks. A pass is recorded as started
/// (for the projects without one) before anything of it is written.
async fn plan_issue_pass(
    client: &Client,
    store: &mut dyn Backend,
    opts: &SyncOptions,
    site: &SiteContext,
    keys: &[String],
    clock: &RunClock,
) -> Result<IssuePass, SyncError> {
    let mut starts = Vec::new();
    let mut unpassed = Vec::new();
    for key in keys {
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
            tx.set_checkpoint(&opts.credential, PASS_STREAM, key, &clock.started)?;
        }
        Ok(())
    })?;
    let feeds_started = site.plan == Plan::Cloud && worklogs::feeds_started(store, opts)?;
    // A first sync of every project reads them whole: one count up front gives the progress an
    // end (an incremental sync is short, and its projects' counts arrive as they are planned).
    let issues_expected = if !starts.is_empty() && starts.iter().all(|(_, since)| since.is_none()) {
        let keys: Vec<String> = starts.iter().map(|(k, _)| format!("\"{k}\"")).collect();
        issue_count(
            client,
            site.plan,
            &format!("project in ({})", keys.join(", ")),
        )
        .await
    } else {
        None
    };
    // Projects synced before are planned together: one id enumeration (for deletes and for what
    // the store lacks) and one query for changes over all of them, so a re-sync costs what changed,
    // not what the site holds. A project new to this credential (or `--full`) is planned on its own,
    // so its first batches are fetched while the next project is listed.
    let mut units = Vec::new();
    let (mut known, mut known_since) = (Vec::new(), None::<String>);
    for (key, since) in starts {
        match since {
            None => units.push(Unit {
                keys: vec![key].into(),
                since: None,
            }),
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
        units.insert(
            0,
            Unit {
                keys: known.into(),
                since: known_since,
            },
        );
    }
    Ok(IssuePass {
        units,
        issues_expected,
        feeds_started,
    })
}

/// A unit as planned: all its issue ids in Jira (for delete reconciliation) and those to fetch.
struct PlannedUnit {
    keys: Keys,
    all: ProjectIds,
    wanted: Vec<u64>,
}

/// Plans one unit: the ids changed since its watermark, and every id it holds in Jira (on a Data
/// Center re-sync only when Jira's count says something was deleted, moved or is missing here).
async fn plan_unit(
    client: &Client,
    reader: &std::sync::Mutex<Box<dyn Backend>>,
    opts: &SyncOptions,
    site: &SiteContext,
    unit: Unit,
) -> Result<PlannedUnit, SyncError> {
    let plan = site.plan;
    let scope = project_scope(&unit.keys);
    let mut live: HashSet<u64> = HashSet::new();
    for k in unit.keys.iter() {
        let ids = reader
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .live_issue_ids(k)?;
        live.extend(ids.iter().filter_map(|id| id.parse::<u64>().ok()));
    }
    let changed: Option<BTreeSet<u64>> = match &unit.since {
        None => None,
        Some(wm) => {
            let since = jql_time(wm, opts.overlap_minutes, site.tz);
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
    Ok(PlannedUnit {
        keys: unit.keys,
        all: std::sync::Arc::new(all.into_iter().collect()),
        wanted: wanted.into_iter().collect(),
    })
}

/// What the issue pass found for the later phases.
struct IssuePassOutcome {
    /// Worklogs Jira holds for the issues fetched (embedded or not).
    worklogs_in_jira: usize,
}

/// The next phases' reads, handed to the issue pass: once its last batch is fetched, it sends
/// them the projects with an issue changed in this run, and drives them while its writer
/// finishes the batches still queued.
struct Later<'a> {
    touched: tokio::sync::oneshot::Sender<HashSet<String>>,
    reads: std::pin::Pin<&'a mut (dyn std::future::Future<Output = ()> + 'a)>,
}

/// The issue pass: every unit is planned (its ids listed), then all units' chunks of ids
/// ([`Plan::chunk`]) are fetched in id order across them ([`Work::in_id_order`]), `concurrency` at
/// a time, and written in arrival order (on a multi-thread runtime by a writer thread of its own,
/// one transaction a second), each unit's last batch with its deletes and its watermark.
#[allow(clippy::too_many_arguments)]
async fn sync_issues(
    client: &Client,
    store: &mut dyn Backend,
    opts: &SyncOptions,
    site: &SiteContext,
    pass: IssuePass,
    clock: &RunClock,
    progress: &mut Progress,
    summary: &mut SyncSummary,
    // Planning reads the store on a connection of its own while batches are written.
    reader: &std::sync::Mutex<Box<dyn Backend>>,
    mut later: Later<'_>,
) -> Result<IssuePassOutcome, SyncError> {
    // Every unit is planned first, then its chunks go out in issue id order across the units
    // (see [`Work::in_id_order`]).
    let planning = match site.plan {
        // A Cloud unit lists its ids one page after another: one request each.
        Plan::Cloud => opts.concurrency.max(1),
        // A Data Center unit lists its pages in parallel, `concurrency` at a time.
        Plan::DataCenter => DC_UNITS_AT_ONCE,
    };
    let units = pass.units;
    let work = stream::once(async move {
        let planned: Vec<_> = stream::iter(
            units
                .into_iter()
                .map(|unit| plan_unit(client, reader, opts, site, unit)),
        )
        .buffer_unordered(planning)
        .collect()
        .await;
        stream::iter(Work::in_id_order(planned, site.plan.chunk()))
    })
    .flatten()
    .map(|w| async move {
        match w {
            Work::Chunk(chunk, ids) => {
                let ids = ids.iter().map(u64::to_string).collect();
                Done::Batch(
                    chunk,
                    fetch_chunk(client, site.plan, &site.fields, ids).await,
                )
            }
            Work::Empty(unit) => Done::Empty(unit),
            Work::Failed(e) => Done::Failed(e),
        }
    })
    .buffer_unordered(opts.concurrency.max(1));
    futures_util::pin_mut!(work);
    let report = |p: &Progress| {
        if let Some(sink) = &opts.progress {
            (sink.0)(p);
        }
    };
    let mut chunks_done: HashMap<Keys, usize> = HashMap::new();
    let mut outcome = IssuePassOutcome {
        worklogs_in_jira: 0,
    };
    // Projects with an issue changed in this run (filled while the responses are consumed, sent
    // to the later reads once they all are).
    let touched = std::cell::RefCell::new(HashSet::new());
    let writer = BatchWriter {
        credential: &opts.credential,
        feeds_started: pass.feeds_started,
        completed_mark: &clock.started,
    };
    // Responses are parsed on this task; the store is written on a thread of its own, in the order
    // batches arrive, so SQLite's time does not hold back the requests in flight.
    let mut consume = async |send: &mut dyn FnMut(Written) -> bool| -> Result<(), SyncError> {
        while let Some(done) = work.next().await {
            let (keys, last, batch) = match done {
                Done::Failed(e) => return Err(e),
                Done::Empty(unit) => (unit.keys, Some(unit.all), None),
                Done::Batch(chunk, batch) => {
                    let batch = batch?;
                    let count = chunks_done.entry(chunk.keys.clone()).or_default();
                    if *count == 0 {
                        progress.issues_planned += chunk.issues;
                    }
                    *count += 1;
                    let last = (*count == chunk.chunks).then(|| chunk.all.clone());
                    (chunk.keys.clone(), last, Some(batch))
                }
            };
            if let Some(batch) = &batch {
                summary.tally(batch);
                outcome.worklogs_in_jira += batch.worklogs_in_jira;
                // A project changed when one of its issues did: new here, or with an `updated`
                // (or project) other than the stored one. Issues re-read only because they fall in
                // the overlap window are unchanged, and do not make their projects re-read their
                // catalogs and sprints.
                for i in &batch.rows.issues {
                    if touched.borrow().contains(&i.project_key) {
                        continue;
                    }
                    let stored = reader
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .issue_row(&i.id)?;
                    if stored
                        .is_none_or(|s| s.updated != i.updated || s.project_key != i.project_key)
                    {
                        touched.borrow_mut().insert(i.project_key.clone());
                    }
                }
                tracing::info!(project = %label(&keys), issues = batch.rows.issues.len(), "issues fetched");
            }
            if last.is_some() {
                summary.projects += keys.len();
                progress.projects_done += keys.len();
            }
            progress.project = label(&keys);
            progress.issues_written = summary.issues_written;
            progress.changelog_items = summary.changelog_items;
            progress.comments = summary.comments;
            progress.worklogs = summary.worklogs;
            report(progress);
            if !send(Written { keys, last, batch }) {
                break;
            }
        }
        Ok(())
    };
    if jiralink_api::client::multi_thread_runtime() {
        let store_ref = &mut *store;
        let writer = &writer;
        let deleted = tokio::task::block_in_place(|| {
            std::thread::scope(|scope| -> Result<usize, SyncError> {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Written>(
                    WRITER_QUEUE_ISSUES / site.plan.chunk(),
                );
                let (finished, writer_finished) = tokio::sync::oneshot::channel::<()>();
                // Each batch is written as it arrives, into a transaction that stays open for
                // the batches of the next [`COMMIT_INTERVAL`]: the hot index pages go to the WAL
                // once for all of them instead of once per batch.
                let written = scope.spawn(move || -> Result<usize, SyncError> {
                    // Dropped when the writer ends, however it ends.
                    let _finished = finished;
                    let mut deleted = 0;
                    while let Ok(first) = rx.recv() {
                        deleted += writer.write_arriving(store_ref, first, &rx)?;
                    }
                    Ok(deleted)
                });
                let consumed = tokio::runtime::Handle::current().block_on(consume(&mut |w| {
                    let asked = Instant::now();
                    let sent = tx.send(w).is_ok();
                    // A full queue holds the pass back, its requests with it: worth a line
                    // at -v when it is long enough to cost the rate budget.
                    let waited = asked.elapsed();
                    if waited >= WRITER_WAIT_LOGGED {
                        tracing::info!(
                            ms = waited.as_millis() as u64,
                            "the pass waited for the store's writer"
                        );
                    }
                    sent
                }));
                drop(tx);
                if consumed.is_ok() {
                    // The writer may still have batches queued: the next phases' requests
                    // start meanwhile, and go on after the pass if it finishes first.
                    let _ = later.touched.send(touched.take());
                    tokio::runtime::Handle::current().block_on(async {
                        let mut writer_finished = writer_finished;
                        let first = futures_util::future::select(
                            later.reads.as_mut(),
                            &mut writer_finished,
                        )
                        .await;
                        if let futures_util::future::Either::Left(_) = first {
                            let _ = writer_finished.await;
                        }
                    });
                }
                let wrote = written
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p));
                // A write error stops the sending first; report it rather than the hang-up.
                let deleted = wrote?;
                consumed.map(|()| deleted)
            })
        })?;
        summary.issues_deleted += deleted;
    } else {
        let mut failed = None;
        let mut deleted = 0;
        consume(&mut |w| match writer.write(store, &w) {
            Ok(n) => {
                deleted += n;
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
        summary.issues_deleted += deleted;
        let _ = later.touched.send(touched.take());
    }
    Ok(outcome)
}

impl SyncSummary {
    /// Counts a batch's rows into the totals.
    fn tally(&mut self, batch: &convert::Batch) {
        let rows = &batch.rows;
        self.issues_written += rows.issues.len();
        self.changelog_items += rows.changes.iter().map(|(_, c)| c.len()).sum::<usize>();
        self.comments += rows.comments.iter().map(|(_, c)| c.len()).sum::<usize>();
        self.worklogs += rows.worklogs.iter().map(|(_, w, _)| w.len()).sum::<usize>();
    }
}

/// Writes batches to the store: each in arrival order; with a unit's last batch, its deletes and
/// its watermark.
struct BatchWriter<'a> {
    credential: &'a str,
    /// Whether the worklog feeds have a watermark (see `Tx::queue_worklog_read`).
    feeds_started: bool,
    /// The watermark a completed pass sets: the run's start.
    completed_mark: &'a str,
}

impl BatchWriter<'_> {
    /// Writes one batch in a transaction of its own. Returns the number of issues marked deleted.
    fn write(&self, store: &mut dyn Backend, w: &Written) -> Result<usize, SyncError> {
        let stamp = now();
        Ok(store.write(|tx| self.write_one(tx, w, &stamp))?)
    }

    /// Writes `first` and, in the same transaction, each batch that arrives on `more` within
    /// [`COMMIT_INTERVAL`] of it (or until the sender hangs up), in arrival order. Returns the
    /// number of issues marked deleted.
    fn write_arriving(
        &self,
        store: &mut dyn Backend,
        first: Written,
        more: &std::sync::mpsc::Receiver<Written>,
    ) -> Result<usize, SyncError> {
        let stamp = now();
        let until = Instant::now() + COMMIT_INTERVAL;
        Ok(store.write(|tx| {
            let mut deleted = self.write_one(tx, &first, &stamp)?;
            while let Some(w) = until
                .checked_duration_since(Instant::now())
                .and_then(|left| more.recv_timeout(left).ok())
            {
                deleted += self.write_one(tx, &w, &stamp)?;
            }
            Ok(deleted)
        })?)
    }

    /// One batch; with a unit's last one, also its deletes and its watermark.
    fn write_one(&self, tx: &dyn Tx, w: &Written, stamp: &str) -> Result<usize, StoreError> {
        if let Some(batch) = &w.batch {
            batch.write(tx, stamp, self.feeds_started)?;
        }
        let mut gone = Vec::new();
        if let Some(all) = &w.last {
            // Deletes: live here, and no longer in the projects' id list. An issue moved to a
            // project synced later is marked now and revived when that project writes it.
            for key in w.keys.iter() {
                gone.extend(tx.live_issue_ids(key)?);
            }
            gone.retain(|id| !id.parse::<u64>().is_ok_and(|n| all.contains(&n)));
            tx.mark_issues_deleted(&gone, stamp)?;
            // The watermark moves with the project's last data, never before it.
            for key in w.keys.iter() {
                tx.set_checkpoint(self.credential, ISSUE_STREAM, key, self.completed_mark)?;
                tx.clear_checkpoint(self.credential, PASS_STREAM, key)?;
            }
        }
        Ok(gone.len())
    }
}

/// A planned unit as its chunks see it: its projects, all their ids in Jira, how many chunks it
/// has and how many issues they fetch.
struct ChunkOf {
    keys: Keys,
    all: ProjectIds,
    chunks: usize,
    issues: usize,
}

/// What the sync asks for: a chunk of ids of a unit, a unit with nothing to fetch, or a unit
/// whose planning failed.
enum Work {
    Chunk(std::sync::Arc<ChunkOf>, Vec<u64>),
    Empty(PlannedUnit),
    Failed(SyncError),
}

impl Work {
    /// The planned units' work in the order it is fetched: the units with nothing to fetch, then
    /// every chunk by its first issue id, across the units, then the units whose planning failed
    /// (the pass stops there, with the other units written: the run fails, and loses nothing).
    /// Jira numbers issues site-wide as they are created, so a project's ids are spread over the
    /// whole range: fetched project by project, each second's batches held ids from all over it,
    /// and each of the writer's commits rewrote nearly every leaf of every index keyed by issue (a
    /// 100,000-issue sync grew the WAL by 150 MB a second). In id order a commit's issues are
    /// neighbours, and so are its index entries.
    fn in_id_order(planned: Vec<Result<PlannedUnit, SyncError>>, chunk: usize) -> Vec<Work> {
        let mut work: Vec<Work> = planned
            .into_iter()
            .flat_map(|unit| Work::of(unit, chunk))
            .collect();
        work.sort_by_key(|w| match w {
            Work::Empty(_) => (0, 0),
            Work::Chunk(_, ids) => (1, ids.first().copied().unwrap_or(0)),
            Work::Failed(_) => (2, 0),
        });
        work
    }

    /// A planned unit as its chunks of `chunk` ids (or one empty marker).
    fn of(planned: Result<PlannedUnit, SyncError>, chunk: usize) -> Vec<Work> {
        match planned {
            Err(e) => vec![Work::Failed(e)],
            Ok(unit) if unit.wanted.is_empty() => vec![Work::Empty(unit)],
            Ok(unit) => {
                let of = std::sync::Arc::new(ChunkOf {
                    keys: unit.keys,
                    all: unit.all,
                    chunks: unit.wanted.len().div_ceil(chunk),
                    issues: unit.wanted.len(),
                });
                unit.wanted
                    .chunks(chunk)
                    .map(|c| Work::Chunk(of.clone(), c.to_vec()))
                    .collect()
            }
        }
    }
}

/// What came back, in completion order.
enum Done {
    Batch(std::sync::Arc<ChunkOf>, Result<convert::Batch, SyncError>),
    Empty(PlannedUnit),
    Failed(SyncError),
}

/// A batch (or an empty unit) on its way to the store; with its unit's last batch, the unit's
/// whole id list, for delete reconciliation.
struct Written {
    keys: Keys,
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

/// The projects whose versions and components ([`read_catalogs`]) this run re-reads: those never
/// read by this credential (or all with `--full`), those with issues changed in this run, and, of
/// those read more than [`CATALOG_MAX_AGE_HOURS`] ago, the [`CATALOG_ROTATION`] read longest ago.
/// Jira has no feed of version or component changes and no bulk read of versions, so this bounds a
/// re-sync's cost (no catalog of an unchanged project is read twice a day) while every catalog is
/// still re-read within a day or `projects / CATALOG_ROTATION` runs, whichever is longer. Their
/// boards' sprints are re-read too.
fn catalogs_due(
    store: &dyn Backend,
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
    Ok(Refreshed {
        projects: due.into_iter().cloned().collect(),
        first_read,
    })
}

/// Versions and components of the projects due, one `project/{key}` read each (it carries both
/// lists), concurrently.
async fn read_catalogs(
    client: &Client,
    opts: &SyncOptions,
    due: &Refreshed,
) -> Result<Vec<(String, convert::Catalog)>, SyncError> {
    stream::iter(due.projects.iter().map(|key| async move {
        let project = client.project_detail(key).await?;
        Ok::<_, SyncError>((key.clone(), convert::catalog(&project)))
    }))
    .buffered(opts.concurrency.max(1))
    .try_collect()
    .await
}

fn write_catalogs(
    store: &mut dyn Backend,
    opts: &SyncOptions,
    catalogs: &[(String, convert::Catalog)],
) -> Result<(), SyncError> {
    let stamp = now();
    store.write(|tx| {
        for (key, (versions, components)) in catalogs {
            tx.set_project_catalog(key, versions, components, &stamp)?;
            tx.set_checkpoint(&opts.credential, CATALOG_STREAM, key, &stamp)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// The projects whose catalogs a run re-read, and whether one of them was read for the first time
/// (a project new to this credential: its boards are not in the store yet).
struct Refreshed {
    projects: HashSet<String>,
    first_read: bool,
}

/// An issue's comments and worklogs beyond what it embeds: comments read whole where they exceed
/// the inline cap; worklogs all inline, read whole, or left to the worklog feeds.
struct PastCap {
    comments: Option<Vec<Comment>>,
    worklogs: WorklogsPastCap,
}

enum WorklogsPastCap {
    /// The inline ones are all (or the issue is gone since it was listed).
    Inline,
    /// Read whole (Data Center).
    Whole(Vec<Worklog>),
    /// Left to the worklog feeds (Cloud): the inline ones are some.
    Feeds,
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
    let refs = match plan {
        Plan::DataCenter => {
            client
                .search::<IssueRef>(jql, IssueFieldSet::Id, DC_PAGE, true)
                .all_parallel(concurrency)
                .await?
                .0
        }
        Plan::Cloud => client.search_jql_ids(jql, ID_PAGE).all().await?,
    };
    refs.iter()
        .map(|i| {
            i.id.number().ok_or_else(|| {
                SyncError::Jira(Error::Decode {
                    path: "search".into(),
                    message: format!("an issue id that is not a number: {:?}", i.id.text()),
                })
            })
        })
        .collect()
}

/// How many issues a JQL matches: Cloud's `search/approximate-count` (for progress only), Data
/// Center's exact `total` of an empty page (progress, and a re-sync's check that nothing was
/// deleted). `None` when Jira does not say (the sync goes on without it).
async fn issue_count(client: &Client, plan: Plan, jql: &str) -> Option<usize> {
    let counted = match plan {
        Plan::Cloud => client.approximate_count(jql).await.map(|c| c.count),
        Plan::DataCenter => client.search_total(jql).await,
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
    fields: IssueFieldSet,
) -> Result<Vec<Issue>, SyncError> {
    let (mut issues, complete) = issues_by_id_once(client, plan, ids, fields).await?;
    let missing = |issues: &[Issue]| -> Vec<String> {
        let got: HashSet<&str> = issues.iter().map(|i| i.id.text()).collect();
        ids.iter()
            .filter(|id| !got.contains(&***id))
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
    fields: IssueFieldSet,
) -> Result<(Vec<Issue>, bool), SyncError> {
    match plan {
        Plan::Cloud => {
            let page: IssuePage<Issue> = client.bulkfetch(ids, fields).await?;
            let complete = page.issue_errors.is_none_or(|e| e.is_empty());
            Ok((page.items, complete))
        }
        Plan::DataCenter => {
            let jql = format!("id in ({}) ORDER BY id ASC", ids.join(","));
            // `validateQuery: false`: an id deleted since it was listed is left out, not refused.
            let (issues, total) = client
                .search::<Issue>(&jql, fields, ids.len(), false)
                .all_parallel(1)
                .await?;
            let complete = issues.len() >= total;
            Ok((issues, complete))
        }
    }
}

/// Fetches a chunk of issues ([`Plan::chunk`]) with their whole changelogs, comments and worklogs.
async fn fetch_chunk(
    client: &Client,
    plan: Plan,
    fields: &convert::Fields,
    ids: Vec<String>,
) -> Result<convert::Batch, SyncError> {
    let (mut issues, mut changes) = match plan {
        // Whole changelogs, 1000 histories a page, asked for beside the issues (the chunk's ids
        // are known): a chunk costs one round trip, not two. An issue gone since the search is
        // not in the changelogs Jira answers, and its changes are not taken.
        Plan::Cloud => {
            let chunk: Vec<IssueId> = ids.iter().cloned().map(IssueId).collect();
            let changelogs = async {
                let mut changes = convert::Changes::default();
                let mut pages =
                    client.changelog_bulkfetch(&chunk, HISTORIES_PER_ISSUE * chunk.len());
                while let Some(page) = pages.next_page().await? {
                    changes.add(page);
                }
                Ok::<_, SyncError>(changes)
            };
            let issues = async {
                let parts = futures_util::future::try_join_all(
                    ids.chunks(BULK_ISSUES)
                        .map(|part| issues_by_id(client, plan, part, IssueFieldSet::All)),
                )
                .await?;
                Ok::<_, SyncError>(parts.into_iter().flatten().collect::<Vec<_>>())
            };
            tokio::try_join!(issues, changelogs)?
        }
        Plan::DataCenter => (
            issues_by_id(client, plan, &ids, IssueFieldSet::All).await?,
            convert::Changes::default(),
        ),
    };
    if plan == Plan::DataCenter {
        // Data Center embeds whole changelogs; an issue whose embedded list is still short
        // (a server configured to cap it) is read whole on its own.
        for issue in &mut issues {
            let id = issue.id.text();
            let Some(log) = issue.changelog.take() else {
                changes.add_histories(id, Vec::new());
                continue;
            };
            if log.total.unwrap_or(0) as usize > log.histories.len() {
                match unless_gone(client.issue_changelog(&issue.id).await)? {
                    Some(whole) => changes.add_histories(
                        id,
                        whole.changelog.map(|c| c.histories).unwrap_or_default(),
                    ),
                    None => changes.add_histories(id, log.histories),
                }
            } else {
                changes.add_histories(id, log.histories);
            }
        }
    }
    // Comments past the inline cap, per issue (few issues have them). Worklogs past it: per issue
    // on Data Center; on Cloud the issue is queued for the worklog feeds (`worklogs`).
    let mut extra: Vec<PastCap> = Vec::new();
    for issue in &issues {
        let f = &issue.fields;
        // An issue deleted (or hidden) since the search answered 404 here: it keeps what the
        // search returned, and the deletion is the reconciliation's to record.
        let comments = match f.comment.as_ref().is_some_and(|c| c.truncated()) {
            true => unless_gone(client.comments(&issue.id).all().await)?,
            false => None,
        };
        let worklogs = match f.worklog.as_ref().is_some_and(|w| w.truncated()) {
            false => WorklogsPastCap::Inline,
            true if plan == Plan::DataCenter => {
                match unless_gone(client.worklogs(&issue.id).all().await)? {
                    Some(all) => WorklogsPastCap::Whole(all),
                    None => WorklogsPastCap::Inline,
                }
            }
            true => WorklogsPastCap::Feeds,
        };
        extra.push(PastCap { comments, worklogs });
    }
    // Conversion to rows is CPU work: off the task that drives the requests.
    let fields = fields.clone();
    let batch = jiralink_api::client::off_task(move || {
        let mut batch = convert::Batch::default();
        for (mut issue, extra) in issues.into_iter().zip(extra) {
            // The embedded lists are moved into the rows, not copied.
            let inline_comments = issue
                .fields
                .comment
                .as_mut()
                .map(|c| std::mem::take(&mut c.items));
            let comments = extra.comments.or(inline_comments).unwrap_or_default();
            let inline_worklogs = issue
                .fields
                .worklog
                .as_mut()
                .map(|w| std::mem::take(&mut w.items))
                .unwrap_or_default();
            let worklogs = match extra.worklogs {
                WorklogsPastCap::Inline => convert::IssueWorklogs::Complete(inline_worklogs),
                WorklogsPastCap::Whole(all) => convert::IssueWorklogs::Complete(all),
                WorklogsPastCap::Feeds => convert::IssueWorklogs::Partial(inline_worklogs),
            };
            let changes = changes.take(issue.id.text());
            batch.add(&fields, issue, changes, comments, worklogs);
        }
        batch
    })
    .await;
    Ok(batch)
}

/// A per-issue read's answer, `None` when Jira answered 404: the issue was deleted, moved out of
/// sight or hidden between the search that listed it and this read.
pub(crate) fn unless_gone<T>(
    read: Result<T, impl Into<SyncError>>,
) -> Result<Option<T>, SyncError> {
    match read.map_err(Into::into) {
        Ok(v) => Ok(Some(v)),
        Err(SyncError::Jira(e)) if e.diagnosis().status == Some(404) => Ok(None),
        Err(e) => Err(e),
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
/// [`BOARD_LIST_MAX_AGE_HOURS`]; otherwise the boards are the stored ones. This plans the phase
/// from the store; [`read_boards`] reads Jira and [`write_boards`] writes what it read.
fn plan_boards(
    store: &dyn Backend,
    opts: &SyncOptions,
    refreshed: &Refreshed,
) -> Result<BoardsPlan, SyncError> {
    let listed_at = store.checkpoint(&opts.credential, BOARDS_STREAM, "*")?;
    let stale = older_than(listed_at.as_deref(), BOARD_LIST_MAX_AGE_HOURS);
    let stored = store.boards()?;
    let mut sprints_read = HashSet::new();
    for (id, _, _) in &stored {
        if store
            .checkpoint(&opts.credential, SPRINTS_STREAM, id)?
            .is_some()
        {
            sprints_read.insert(id.clone());
        }
    }
    Ok(BoardsPlan {
        list: opts.full || refreshed.first_read || stale,
        stored,
        sprints_read,
    })
}

/// What the boards phase needs of the store, read before it starts, so that its requests need
/// only the client (and run beside the worklog feeds).
struct BoardsPlan {
    /// Whether the board list is read again.
    list: bool,
    /// (id, type, project key) of the stored boards.
    stored: Vec<(String, String, Option<String>)>,
    /// The boards whose sprints this credential has read before.
    sprints_read: HashSet<String>,
}

/// The boards phase's answers, to be written in one transaction.
struct BoardsRead {
    listed: Option<Vec<jiralink_api::models::Board>>,
    scrum: Vec<BoardId>,
    sprints: Vec<jiralink_store::SprintRow>,
}

/// Reads the board list (when due) and the sprints of the scrum boards that are due.
async fn read_boards(
    client: &Client,
    opts: &SyncOptions,
    refreshed: &Refreshed,
    plan: BoardsPlan,
) -> Result<BoardsRead, SyncError> {
    let listed = match plan.list {
        true => Some(client.boards().all().await?),
        false => None,
    };
    // (id, type, project key) of every board, listed now or stored.
    let boards: Vec<(String, String, Option<String>)> = match &listed {
        Some(list) => list
            .iter()
            .map(|b| {
                (
                    b.id.to_string(),
                    b.kind.clone(),
                    b.project_key().map(str::to_owned),
                )
            })
            .collect(),
        None => plan.stored,
    };
    let mut scrum: Vec<BoardId> = Vec::new();
    for (id, kind, project) in &boards {
        let Ok(board) = id.parse::<u64>().map(BoardId) else {
            continue;
        };
        if kind != "scrum" {
            continue;
        }
        let due = opts.full
            || project
                .as_deref()
                .is_none_or(|k| refreshed.projects.contains(k))
            || !plan.sprints_read.contains(id);
        if due {
            scrum.push(board);
        }
    }
    let mut pages = stream::iter(scrum.iter().map(|&id| async move {
        let sprints = client.sprints(id).all().await?;
        Ok::<_, SyncError>(
            sprints
                .iter()
                .map(|s| convert::sprint(s, id))
                .collect::<Vec<_>>(),
        )
    }))
    .buffered(opts.concurrency.max(1));
    let mut sprints = Vec::new();
    while let Some(page) = pages.next().await {
        sprints.extend(page?);
    }
    drop(pages);
    Ok(BoardsRead {
        listed,
        scrum,
        sprints,
    })
}

/// Writes what [`read_boards`] read; returns the number of sprints.
fn write_boards(
    store: &mut dyn Backend,
    opts: &SyncOptions,
    read: BoardsRead,
) -> Result<usize, SyncError> {
    let stamp = now();
    store.write(|tx| {
        for id in &read.scrum {
            tx.set_checkpoint(&opts.credential, SPRINTS_STREAM, &id.to_string(), &stamp)?;
        }
        if let Some(list) = &read.listed {
            for b in list {
                tx.upsert_board(&b.id.to_string(), &b.name, &b.kind, b.project_key())?;
            }
            tx.set_checkpoint(&opts.credential, BOARDS_STREAM, "*", &stamp)?;
        }
        for s in &read.sprints {
            tx.upsert_sprint(s)?;
        }
        Ok(())
    })?;
    Ok(read.sprints.len())
}

/// Every project the credential may browse: startAt pages on Cloud; Data Center lists them all at
/// once.
pub(crate) async fn visible_projects(client: &Client, plan: Plan) -> Result<Vec<Project>, Error> {
    match plan {
        Plan::DataCenter => client.all_projects().await,
        Plan::Cloud => client.project_search().all().await,
    }
}

/// Refuses project keys (`--projects`) that are not among the visible projects, naming them.
pub(crate) fn check_known(
    asked: &[String],
    visible: &[Project],
    site: &str,
) -> Result<(), SyncError> {
    let known = |x: &String| visible.iter().any(|p| p.key.eq_ignore_ascii_case(x));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(key: &str, wanted: Vec<u64>) -> Result<PlannedUnit, SyncError> {
        Ok(PlannedUnit {
            keys: vec![key.to_string()].into(),
            all: std::sync::Arc::new(wanted.iter().copied().collect()),
            wanted,
        })
    }

    /// Two projects whose ids interleave, as Jira's do: their chunks go out by first id, not
    /// project by project; a unit with nothing to fetch comes first, a failed one last.
    #[test]
    fn chunks_go_out_in_issue_id_order_across_projects() {
        let a: Vec<u64> = (0..250).map(|i| 10_000 + 2 * i).collect();
        let b: Vec<u64> = (0..150).map(|i| 10_001 + 2 * i).collect();
        let work = Work::in_id_order(
            vec![
                unit("A", a),
                unit("EMPTY", Vec::new()),
                unit("B", b),
                Err(SyncError::Unaccounted("listing failed".into())),
            ],
            100,
        );
        let order: Vec<String> = work
            .iter()
            .map(|w| match w {
                Work::Failed(_) => "failed".to_string(),
                Work::Empty(u) => format!("empty {}", u.keys[0]),
                Work::Chunk(of, ids) => format!("{} {}+{}", of.keys[0], ids[0], ids.len()),
            })
            .collect();
        assert_eq!(
            order,
            [
                "empty EMPTY",
                "A 10000+100",
                "B 10001+100",
                "A 10200+100",
                "B 10201+50",
                "A 10400+50",
                "failed",
            ]
        );
        // Each chunk still counts toward its own unit: A has three, B two.
        let counts: Vec<usize> = work
            .iter()
            .filter_map(|w| match w {
                Work::Chunk(of, _) => Some(of.chunks),
                _ => None,
            })
            .collect();
        assert_eq!(counts, [3, 2, 3, 2, 3]);
    }
}
