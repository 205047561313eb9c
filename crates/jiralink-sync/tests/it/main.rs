//! Sync against the simulator, compared with its ground truth (`/__sim/snapshot`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiralink_api::{site, Auth, AuthKind, ClientBuilder};
use jiralink_sim::{Deployment, Sim};
use jiralink_store::{Backend, Store};
use jiralink_sync::{sync, Progress, ProgressSink, SyncOptions};
use serde_json::Value;

mod sites;

async fn client(sim: &Sim) -> jiralink_api::Client {
    let admin = sim.identity("admin").expect("admin");
    let auth = Auth::Basic {
        user: admin.email.clone().unwrap_or_default(),
        secret: secrecy::SecretString::from(admin.secret.clone()),
    };
    ClientBuilder::new(
        site::normalize(sim.base_url(), false).expect("url"),
        AuthKind::CloudToken,
        auth,
    )
    .build()
    .await
    .expect("client")
}

/// Sync options whose progress sink records the distinct `issues_expected` values it was given.
#[allow(clippy::type_complexity)]
fn counting_progress() -> (SyncOptions, Arc<Mutex<Vec<Option<usize>>>>) {
    let seen: Arc<Mutex<Vec<Option<usize>>>> = Arc::default();
    let mut opts = SyncOptions::new("t");
    let sink = seen.clone();
    opts.progress = Some(ProgressSink(Arc::new(move |p: &Progress| {
        let mut seen = sink.lock().expect("lock");
        if !seen.contains(&p.issues_expected) {
            seen.push(p.issues_expected);
        }
    })));
    (opts, seen)
}

/// A test's directory, removed when the test ends (a 20,000-issue store takes 400 MB).
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh store in a directory of its own; keep the guard for as long as the store is used.
fn store(tag: &str) -> (TempDir, Store) {
    let dir = std::env::temp_dir().join(format!("jiralink-sync-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let store = Store::open_sqlite(&dir.join("store.db")).expect("store");
    (TempDir(dir), store)
}

fn rows(s: &Store, sql: &str) -> Vec<(String, String)> {
    s.query_strings(sql)
        .expect("query")
        .1
        .into_iter()
        .map(|r| {
            let mut cells = r.into_iter().map(Option::unwrap_or_default);
            (
                cells.next().unwrap_or_default(),
                cells.next().unwrap_or_default(),
            )
        })
        .collect()
}

/// The simulator's content hash (docs/simulator.md) of an issue's raw JSON.
fn content_hash(raw: &str) -> String {
    use sha2::Digest;
    let v: Value = serde_json::from_str(raw).expect("raw json");
    let f = &v["fields"];
    let s = |x: &Value| x.as_str().unwrap_or_default().to_owned();
    let updated = chrono::DateTime::parse_from_str(
        f["updated"].as_str().unwrap_or_default(),
        "%Y-%m-%dT%H:%M:%S%.3f%z",
    )
    .expect("updated")
    .timestamp_millis();
    let canon = format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        s(&v["id"]),
        s(&v["key"]),
        s(&f["summary"]),
        s(&f["status"]["id"]),
        s(&f["issuetype"]["id"]),
        s(&f["priority"]["id"]),
        s(&f["resolution"]["id"]),
        f["assignee"]["accountId"]
            .as_str()
            .or(f["assignee"]["key"].as_str())
            .unwrap_or_default(),
        updated,
        f["customfield_10016"]
            .as_f64()
            .map(|p| p.to_string())
            .unwrap_or_default(),
    );
    hex::encode(sha2::Sha256::digest(canon.as_bytes()))
}

/// The store equals the snapshot: live issues (id, key, updated, content hash), changelog counts,
/// comment and worklog ids, and every deletion.
fn assert_matches(s: &Store, snap: &Value) {
    // Only the rows of the site the store was last synced with (a store may hold several).
    let site = s.site().replace('\'', "''");
    let issues = jiralink_sim::snapshot::issue_versions(snap);
    let stored: BTreeMap<String, (String, String)> = {
        s.query_strings(&format!(
            "SELECT id, key, updated FROM issues WHERE site_id = '{site}' AND deleted_at IS NULL"
        ))
        .expect("q")
        .1
        .into_iter()
        .map(|r| {
            let mut cells = r.into_iter().map(Option::unwrap_or_default);
            let id = cells.next().unwrap_or_default();
            let key = cells.next().unwrap_or_default();
            (id, (key, cells.next().unwrap_or_default()))
        })
        .collect()
    };
    assert_eq!(stored.len(), issues.len(), "live issue count");
    // Content: the snapshot's hash of each issue, recomputed from the raw JSON the store kept.
    let raws: Vec<(String, String)> = rows(
        s,
        &format!("SELECT id, raw_json FROM issues WHERE site_id = '{site}' AND deleted_at IS NULL"),
    );
    let want: BTreeMap<String, String> = snap["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| {
            (
                i["id"].to_string(),
                i["content_hash"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for (id, raw) in raws {
        assert_eq!(
            Some(&content_hash(&raw)),
            want.get(&id),
            "content of issue {id}"
        );
    }
    assert_eq!(stored, issues, "ids, keys and updated times");
    let changes: BTreeMap<String, String> = rows(s, &format!("SELECT issue_id, CAST(COUNT(DISTINCT change_id) AS TEXT) FROM issue_changes WHERE site_id = '{site}' GROUP BY issue_id")).into_iter().collect();
    for i in snap["issues"].as_array().expect("issues") {
        let want = i["changelog_count"].as_u64().unwrap_or(0);
        let got: u64 = changes
            .get(&i["id"].to_string())
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        if got != want {
            let stored = rows(s, &format!("SELECT change_id, changed_at || ' ' || field FROM issue_changes WHERE site_id = '{site}' AND issue_id = '{}' ORDER BY changed_at", i["id"]));
            panic!("changelog of {}: {got} histories stored, {want} in Jira; stored: {stored:?}; snapshot: {i}", i["key"]);
        }
    }
    let ids = |field: &str| jiralink_sim::snapshot::child_ids(snap, field);
    let live = |table: &str| -> BTreeSet<String> {
        rows(s, &format!("SELECT {table}.id, '' FROM {table} JOIN issues ON issues.site_id = {table}.site_id AND issues.id = {table}.issue_id WHERE {table}.site_id = '{site}' AND {table}.deleted_at IS NULL AND issues.deleted_at IS NULL")).into_iter().map(|(id, _)| id).collect()
    };
    assert_eq!(live("comments"), ids("comment_ids"), "comment ids");
    assert_eq!(live("worklogs"), ids("worklog_ids"), "worklog ids");
    let deleted: BTreeSet<String> = rows(
        s,
        &format!("SELECT id, '' FROM issues WHERE site_id = '{site}' AND deleted_at IS NOT NULL"),
    )
    .into_iter()
    .map(|(id, _)| id)
    .collect();
    let snap_deleted: BTreeSet<String> = snap["deleted"]["issues"]
        .as_array()
        .expect("deleted")
        .iter()
        .map(|v| v.to_string())
        .collect();
    assert!(
        snap_deleted
            .iter()
            .all(|id| deleted.contains(id) || !stored.contains_key(id)),
        "deleted issues are not live"
    );
    for c in snap["deleted"]["comments"]
        .as_array()
        .expect("deleted comments")
    {
        assert!(
            !live("comments").contains(&c.to_string()),
            "deleted comment {c} is not live"
        );
    }
}

/// Versions and components per project equal Jira's lists; fix versions and components of every
/// issue are among its project's; every link is stored from both of its ends.
async fn assert_catalog_and_links(c: &jiralink_api::Client, s: &Store) {
    let keys: Vec<(String, String)> =
        rows(s, "SELECT key, key FROM projects WHERE deleted_at IS NULL");
    assert!(!keys.is_empty());
    for (key, _) in keys {
        let p = c.project_detail(&key).await.expect("project");
        let versions: BTreeSet<String> = p.versions.iter().map(|v| v.id.to_string()).collect();
        let components: BTreeSet<String> = p.components.iter().map(|x| x.id.to_string()).collect();
        let stored = |table: &str| -> BTreeSet<String> {
            rows(
                s,
                &format!(
                    "SELECT id, id FROM {table} WHERE project_key = '{key}' AND deleted_at IS NULL"
                ),
            )
            .into_iter()
            .map(|r| r.0)
            .collect()
        };
        assert_eq!(stored("versions"), versions, "versions of {key}");
        assert_eq!(stored("components"), components, "components of {key}");
    }
    let stray = rows(s, "SELECT v.issue_id, v.version_id FROM issue_versions v JOIN issues i ON i.id = v.issue_id
        LEFT JOIN versions x ON x.id = v.version_id AND x.project_key = i.project_key WHERE x.id IS NULL");
    assert!(
        stray.is_empty(),
        "versions not of the issue's project: {stray:?}"
    );
    let n = rows(
        s,
        "SELECT CAST(COUNT(*) AS TEXT), CAST(COUNT(DISTINCT issue_id) AS TEXT) FROM issue_versions",
    );
    assert!(
        n[0].0.parse::<u64>().unwrap_or(0) > 100,
        "fix versions stored: {n:?}"
    );
    let one_sided = rows(s, "SELECT l.id, l.issue_id FROM issue_links l JOIN issues i ON i.id = l.issue_id AND i.deleted_at IS NULL
        WHERE NOT EXISTS (SELECT 1 FROM issue_links m WHERE m.id = l.id AND m.issue_id = l.other_issue_id AND m.direction <> l.direction)
        AND EXISTS (SELECT 1 FROM issues o WHERE o.id = l.other_issue_id AND o.deleted_at IS NULL)");
    assert!(
        one_sided.is_empty(),
        "links stored from one end only: {one_sided:?}"
    );
    // Every issue's type, priority and resolution names are in the lookup lists.
    let unknown = rows(s, "SELECT i.key, i.issue_type FROM issues i WHERE i.issue_type NOT IN (SELECT name FROM issue_types)
        OR i.priority NOT IN (SELECT name FROM priorities)");
    assert!(
        unknown.is_empty(),
        "issues naming unknown types or priorities: {unknown:?}"
    );
    let types = c.issue_types().await.expect("types");
    let n = rows(s, "SELECT CAST(COUNT(*) AS TEXT), '' FROM issue_types");
    assert_eq!(n[0].0, types.len().to_string());
    assert!(!rows(s, "SELECT id, name FROM resolutions").is_empty());
    let links = rows(s, "SELECT CAST(COUNT(*) AS TEXT), '' FROM issue_links");
    assert!(
        links[0].0.parse::<u64>().unwrap_or(0) > 10,
        "links stored: {links:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn full_then_incremental_sync_equals_the_snapshot() {
    let sim = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(3000)
        .seed(51)
        .start()
        .await
        .expect("sim");
    let c = client(&sim).await;
    let (_dir, mut s) = store("full");
    let (opts, expected) = counting_progress();
    let summary = sync(&c, &mut s, &opts).await.expect("sync");
    assert_eq!(summary.issues_written, 3000);
    // A first sync counts the site up front, for the progress (one request).
    assert_eq!(*expected.lock().expect("lock"), vec![Some(3000)]);
    assert_matches(&s, &sim.snapshot());
    assert_catalog_and_links(&c, &s).await;
    // No change: a few requests per project (its versions and components, its ids, those updated
    // since the watermark, its boards' sprints); only issues inside the overlap window are re-read.
    let (opts, expected) = counting_progress();
    let again = sync(&c, &mut s, &opts).await.expect("resync");
    assert_eq!(*expected.lock().expect("lock"), vec![None]);
    assert!(again.issues_written < 10, "{again:?}");
    // 9 for metadata, up to 5 per project, boards, and one page of each worklog feed.
    assert!(
        again.requests <= 9 + 5 * again.projects as u32 + 2 + 2,
        "{again:?}"
    );
    assert_eq!(again.worklog_issue_reads, 0, "{again:?}");
    assert_matches(&s, &sim.snapshot());
}

/// Issues with more worklogs than Jira embeds: their worklogs, and later their changed and deleted
/// ones, come from `worklog/updated` + `worklog/list` and `worklog/deleted`, with no per-issue
/// reads. (The simulator's feeds here leave out no last minute; the 60 s of Jira
/// are kept by the other tests, where recent changes are read per issue.)
#[tokio::test(flavor = "multi_thread")]
async fn long_worklog_lists_come_from_the_worklog_feeds() {
    let sim = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(2000)
        .seed(57)
        .worklog_feed_lag_ms(0)
        .start()
        .await
        .expect("sim");
    let c = client(&sim).await;
    let (_dir, mut s) = store("worklog-feeds");
    let snap = sim.snapshot();
    let long: Vec<u64> = snap["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter(|i| i["worklog_ids"].as_array().map_or(0, Vec::len) > 20)
        .filter_map(|i| i["id"].as_u64())
        .collect();
    assert!(
        long.len() >= 10,
        "the site has long worklog lists: {}",
        long.len()
    );
    // A first sync reads the feed from the start when that is cheaper than one read per issue
    // (here: a few feed pages against dozens of issues).
    let first = sync(&c, &mut s, &SyncOptions::new("t"))
        .await
        .expect("sync");
    assert_eq!(first.worklog_issue_reads, 0, "{first:?}");
    assert!(first.worklogs_listed >= long.len(), "{first:?}");
    // Issues 100 a request, and their changelogs one page for each chunk of 200 (each project's
    // last chunk may be short).
    let n = first.issues_written as u64;
    let units = first.projects as u64;
    let issue_requests = sim.requests_to("/issue/bulkfetch");
    let changelog_requests = sim.requests_to("/changelog/bulkfetch");
    assert!(
        issue_requests <= n.div_ceil(100) + units,
        "{issue_requests}"
    );
    assert!(
        changelog_requests <= n.div_ceil(200) + units,
        "{changelog_requests} changelog requests for {issue_requests} issue requests"
    );
    // Listed 1000 a request, whatever feed pages they were found on.
    let pages = sim.requests_to("/worklog/updated");
    assert!(pages >= 2, "the feed has several pages: {pages}");
    assert_eq!(
        sim.requests_to("/worklog/list"),
        first.worklogs_listed.div_ceil(1000) as u64,
        "{first:?}"
    );
    assert_matches(&s, &sim.snapshot());

    // A worklog deleted on one long issue (past the embedded 20), then one added to another.
    let (deleted, added) = {
        let (gone, author) = {
            let site = sim.shared().site.read();
            let gone = site
                .issue(long[0])
                .and_then(|i| i.worklogs.last().map(|w| w.id))
                .expect("worklog");
            (gone, site.issue(long[1]).expect("issue").worklogs[0].author)
        };
        let api = sim.test_api();
        assert!(api.delete_worklog(long[0], gone));
        let new = api
            .add_worklog(
                long[1],
                jiralink_sim::ops::NewWorklog {
                    author,
                    started: None,
                    time_spent_seconds: 1800,
                    comment: None,
                },
            )
            .expect("added");
        (gone, new)
    };
    let again = sync(&c, &mut s, &SyncOptions::new("t"))
        .await
        .expect("resync");
    assert_eq!(again.worklog_issue_reads, 0, "{again:?}");
    assert!(again.worklogs_listed >= 1, "{again:?}");
    assert!(again.worklogs_deleted >= 1, "{again:?}");
    assert_matches(&s, &sim.snapshot());
    let state = |id: u64| {
        rows(
            &s,
            &format!("SELECT id, COALESCE(deleted_at, 'live') FROM worklogs WHERE id = '{id}'"),
        )
    };
    assert!(state(deleted)[0].1 != "live", "{:?}", state(deleted));
    assert_eq!(state(added)[0].1, "live");
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_while_the_site_changes_then_catch_up() {
    let sim = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(20_000)
        .seed(52)
        .mutate_per_s(300.0)
        .start()
        .await
        .expect("sim");
    let c = client(&sim).await;
    let (_dir, mut s) = store("mutating");
    sync(&c, &mut s, &SyncOptions::new("t"))
        .await
        .expect("sync during mutation");
    tokio::time::sleep(Duration::from_millis(300)).await;
    sim.pause_mutation(true);
    let snap = sim.snapshot();
    assert!(
        !snap["deleted"]["issues"].as_array().expect("d").is_empty(),
        "the mutator deleted issues"
    );
    let catch_up = sync(&c, &mut s, &SyncOptions::new("t"))
        .await
        .expect("incremental");
    assert!(catch_up.issues_written > 0);
    assert_matches(&s, &snap);
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_and_a_rate_limit_change_nothing_in_the_result() {
    let sim = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(1500)
        .seed(53)
        .fault_rate(0.1)
        .rate_limit(8.0)
        .start()
        .await
        .expect("sim");
    let admin = sim.identity("admin").expect("admin");
    let auth = Auth::Basic {
        user: admin.email.clone().unwrap_or_default(),
        secret: secrecy::SecretString::from(admin.secret.clone()),
    };
    // One in ten requests fails: ten attempts make a lost request vanishingly rare (1e-10).
    let retry = jiralink_api::RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(20),
        ..Default::default()
    };
    let c = ClientBuilder::new(
        site::normalize(sim.base_url(), false).expect("url"),
        AuthKind::CloudToken,
        auth,
    )
    .retry(retry)
    .build()
    .await
    .expect("client");
    let (_dir, mut s) = store("faults");
    let mut opts = SyncOptions::new("t");
    opts.concurrency = 4;
    let summary = sync(&c, &mut s, &opts).await.expect("sync despite faults");
    assert_eq!(summary.issues_written, 1500);
    assert_matches(&s, &sim.snapshot());
    // Faults and 429s were retried, and the summary says how often.
    assert!(summary.retries >= 10, "{summary:?}");
    // The client keeps to the rate the answers announce (X-RateLimit-Limit) from the first one
    // on: at most the requests already in flight before it are refused.
    let refused = sim.rate_limited_responses();
    assert!(
        refused <= opts.concurrency as u64 + 1,
        "{refused} requests refused with 429"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_reports_drift_until_the_next_sync() {
    let sim = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(800)
        .seed(54)
        .start()
        .await
        .expect("sim");
    let c = client(&sim).await;
    let (_dir, mut s) = store("verify");
    sync(&c, &mut s, &SyncOptions::new("t"))
        .await
        .expect("sync");
    let clean = jiralink_sync::verify(&c, &mut s, &[], 1000)
        .await
        .expect("verify");
    assert!(clean.ok, "{clean:?}");
    assert!(clean.sampled >= 100, "{clean:?}");
    // Jira changes behind the store's back: one issue deleted, one edited.
    let snap = sim.snapshot();
    let victim = snap["issues"][0]["key"].as_str().expect("key").to_owned();
    let victim_id = snap["issues"][0]["id"].to_string();
    let edited = snap["issues"][1]["key"].as_str().expect("key").to_owned();
    c.send(
        reqwest::Method::DELETE,
        &format!("/rest/api/3/issue/{victim}"),
        None,
    )
    .await
    .expect("delete");
    c.send(
        reqwest::Method::PUT,
        &format!("/rest/api/3/issue/{edited}"),
        Some(&serde_json::json!({"fields": {"summary": "Edited behind the store's back"}})),
    )
    .await
    .expect("edit");
    let drift = jiralink_sync::verify(&c, &mut s, &[], 1000)
        .await
        .expect("verify");
    assert!(!drift.ok);
    assert!(
        drift
            .projects
            .iter()
            .any(|p| p.extra == vec![victim_id.clone()]),
        "{drift:?}"
    );
    assert_eq!(
        drift.projects.iter().map(|p| p.stale.len()).sum::<usize>(),
        1,
        "the edited issue is sampled as stale: {drift:?}"
    );
    sync(&c, &mut s, &SyncOptions::new("t"))
        .await
        .expect("sync");
    assert!(
        jiralink_sync::verify(&c, &mut s, &[], 1000)
            .await
            .expect("verify")
            .ok
    );
    // Content drift that keeps the update time (a store edited by hand) is found too.
    let edited_id = rows(
        &s,
        &format!("SELECT id, key FROM issues WHERE key = '{edited}'"),
    )
    .swap_remove(0)
    .0;
    s.execute_batch(&format!(
        "UPDATE t_issues SET priority = 'Lowest of all' WHERE id = '{edited_id}'"
    ))
    .expect("tamper");
    let drift = jiralink_sync::verify(&c, &mut s, &[], 1000)
        .await
        .expect("verify");
    let stale: Vec<&String> = drift.projects.iter().flat_map(|p| &p.stale).collect();
    assert_eq!(stale, vec![&edited_id], "{drift:?}");
    // A project the store has and Jira no longer shows this credential: reported as not visible
    // (kept, not compared), and the other projects are still verified (it used to fail the whole
    // run with an HTTP 400 that hid Jira's message).
    s.write(|tx| tx.upsert_project("99999", "HELP", "Help desk", None, "{}"))
        .expect("project");
    let vanished = jiralink_sync::verify(&c, &mut s, &[], 10)
        .await
        .expect("verify with a vanished project");
    assert_eq!(
        vanished.not_visible,
        vec!["HELP".to_owned()],
        "{vanished:?}"
    );
    assert!(
        vanished.projects.iter().all(|p| p.project != "HELP"),
        "{vanished:?}"
    );
    assert!(!vanished.projects.is_empty(), "{vanished:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn data_center_full_then_incremental_sync_equals_the_snapshot() {
    let sim = Sim::builder()
        .deployment(Deployment::Datacenter)
        .issues(3000)
        .seed(53)
        .mutate_per_s(200.0)
        .start()
        .await
        .expect("sim");
    let c = dc_client(&sim).await;
    let (_dir, mut s) = store("dc");
    // While the site changes, then after it stops: the incremental catch-up equals the snapshot.
    let (opts, expected) = counting_progress();
    sync(&c, &mut s, &opts).await.expect("sync during mutation");
    // Data Center counts up front too (an empty search page's total); the site grows meanwhile.
    let counted = expected.lock().expect("lock").clone();
    assert!(
        matches!(counted[..], [Some(n)] if (2800..3300).contains(&n)),
        "{counted:?}"
    );
    sim.pause_mutation(true);
    let summary = sync(&c, &mut s, &SyncOptions::new("t"))
        .await
        .expect("catch-up");
    assert_matches(&s, &sim.snapshot());
    // Data Center embeds whole changelogs: a full sync costs about one search per 100 issues.
    let (_full_dir, mut full) = store("dc-full");
    let first = sync(&c, &mut full, &SyncOptions::new("t"))
        .await
        .expect("full");
    let snap = sim.snapshot();
    assert_matches(&full, &snap);
    // Plus one read per issue with more worklogs than the 20 Jira embeds.
    let long = snap["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter(|i| i["worklog_ids"].as_array().map_or(0, Vec::len) > 20)
        .count() as u32;
    assert!(
        first.requests < 3000 / 100 + 60 + long,
        "{} requests for {} issues",
        first.requests,
        first.issues_written
    );
    let counts = full.counts().expect("counts");
    assert!(
        counts.changes > 10_000 && counts.comments > 1000,
        "{counts:?}"
    );
    assert!(summary.projects > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configured_request_budget_is_kept() {
    let sim = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(1200)
        .seed(54)
        .start()
        .await
        .expect("sim");
    let c = client(&sim).await;
    c.limit_rate(20.0);
    let (_dir, mut s) = store("budget");
    let mut opts = SyncOptions::new("t");
    opts.concurrency = 8;
    let started = std::time::Instant::now();
    let summary = sync(&c, &mut s, &opts).await.expect("sync");
    let secs = started.elapsed().as_secs_f64();
    let rate = f64::from(summary.requests) / secs;
    assert!(summary.requests > 30, "{summary:?}");
    // Paced from the first request: never above the budget (the first request goes at once).
    assert!(
        f64::from(summary.requests - 1) / secs <= 20.0,
        "{rate:.1} requests/s over a budget of 20 ({summary:?})"
    );
    assert_matches(&s, &sim.snapshot());
}

pub(crate) async fn dc_client(sim: &Sim) -> jiralink_api::Client {
    let admin = sim.identity("admin").expect("admin");
    ClientBuilder::new(
        site::normalize(sim.base_url(), false).expect("url"),
        AuthKind::Basic,
        Auth::Basic {
            user: admin.username.clone().unwrap_or_default(),
            secret: secrecy::SecretString::from(admin.secret.clone()),
        },
    )
    .build()
    .await
    .expect("client")
}

/// A Data Center server whose `jira.search.views.default.max` is 20: every page is shorter than
/// asked, and the sync still fetches every issue (it follows what each page says, never the size
/// it asked for), during changes and after.
#[tokio::test(flavor = "multi_thread")]
async fn a_data_center_page_cap_of_20_loses_nothing() {
    let sim = Sim::builder()
        .deployment(Deployment::Datacenter)
        .issues(700)
        .seed(57)
        .dc_max_results(20)
        .mutate_per_s(50.0)
        .start()
        .await
        .expect("sim");
    let c = dc_client(&sim).await;
    let (_dir, mut s) = store("dc-cap");
    sync(&c, &mut s, &SyncOptions::new("t"))
        .await
        .expect("sync during mutation");
    sim.pause_mutation(true);
    let again = sync(&c, &mut s, &SyncOptions::new("t"))
        .await
        .expect("catch-up");
    assert!(again.projects > 0);
    assert_matches(&s, &sim.snapshot());
    // A first sync into a new store, with nothing changing: every issue, once.
    let (_full_dir, mut full) = store("dc-cap-full");
    let first = sync(&c, &mut full, &SyncOptions::new("t"))
        .await
        .expect("full");
    let snap = sim.snapshot();
    let live = snap["issues"].as_array().expect("issues").len();
    assert_eq!(first.issues_written, live, "{first:?}");
    assert_matches(&full, &snap);
}

/// A no-change re-sync costs the same whatever the number of projects: one id enumeration and
/// one query for changes over all of them, catalogs and sprints only for a few projects in turn.
/// Requests the simulator has answered so far (`/__sim/stats`).
async fn sim_requests(sim: &Sim) -> u64 {
    let stats: Value = reqwest::get(format!("{}/__sim/stats", sim.base_url()))
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats json");
    stats["requests"].as_u64().expect("requests")
}

/// The requests of a no-change re-sync, counted by the simulator, on a site of `projects`
/// projects (the store is then compared with the snapshot).
async fn no_change_resync_requests(deployment: Deployment, projects: usize) -> u64 {
    let sim = Sim::builder()
        .deployment(deployment)
        .issues(1500)
        .projects(projects)
        .seed(58)
        .start()
        .await
        .expect("sim");
    let c = match deployment {
        Deployment::Cloud => client(&sim).await,
        _ => dc_client(&sim).await,
    };
    let (_dir, mut s) = store(&format!("many-{deployment:?}-{projects}"));
    let first = sync(&c, &mut s, &SyncOptions::new("t"))
        .await
        .expect("sync");
    assert_eq!(first.projects, projects, "{first:?}");
    let before = sim_requests(&sim).await;
    let again = sync(&c, &mut s, &SyncOptions::new("t"))
        .await
        .expect("resync");
    // (`/__sim/stats` itself is not counted.)
    let requests = sim_requests(&sim).await - before;
    assert_eq!(again.projects, projects, "{again:?}");
    assert_eq!(requests, u64::from(again.requests), "{again:?}");
    assert_matches(&s, &sim.snapshot());
    if deployment == Deployment::Cloud {
        assert_catalog_and_links(&c, &s).await;
    }
    requests
}

/// A no-change re-sync costs the same on 60 projects as on 10: nothing in it is per project
/// (one change query over all of them, one id enumeration or, on Data Center, one count, the
/// catalogs and sprints of a fixed number of projects in turn, boards from the store).
#[tokio::test(flavor = "multi_thread")]
async fn a_no_change_resync_costs_the_same_for_many_projects() {
    for deployment in [Deployment::Cloud, Deployment::Datacenter] {
        let few = no_change_resync_requests(deployment, 10).await;
        let many = no_change_resync_requests(deployment, 60).await;
        eprintln!(
            "{deployment:?}: no-change re-sync, 10 projects {few} requests, 60 projects {many}"
        );
        assert!(
            many <= few,
            "{deployment:?}: 10 projects {few}, 60 projects {many} requests"
        );
        // 8 metadata (site included), 1 project list, 2 user pages, 1 id page or count, 1 change
        // query, the overlap window's issues, 8 catalogs in turn, their boards' sprints (at most
        // 8), 2 worklog feeds on Cloud.
        assert!(many <= 34, "{deployment:?}: {many} requests");
    }
}

/// Data Center writes the sprint field as strings (8.x/9.x order, 10.x sorted): the sync reads
/// both, so every issue's sprint memberships equal the snapshot's, also under a page cap of 20.
#[tokio::test(flavor = "multi_thread")]
async fn data_center_sprint_strings_become_the_snapshots_memberships() {
    for (version, cap) in [("8.20", 1000), ("10.3", 20)] {
        let sim = Sim::builder()
            .deployment(Deployment::Datacenter)
            .issues(400)
            .seed(57)
            .dc_version(version.parse().expect("version"))
            .dc_max_results(cap)
            .start()
            .await
            .expect("sim");
        let c = dc_client(&sim).await;
        let (_dir, mut s) = store(&format!("dc-sprints-{cap}"));
        sync(&c, &mut s, &SyncOptions::new("t"))
            .await
            .expect("sync");
        let snap = sim.snapshot();
        assert_matches(&s, &snap);
        let expected: BTreeSet<(String, String)> = snap["issues"]
            .as_array()
            .expect("issues")
            .iter()
            .flat_map(|i| {
                let id = i["id"].to_string();
                i["sprint_ids"]
                    .as_array()
                    .expect("sprint_ids")
                    .iter()
                    .map(move |sp| (sp.to_string(), id.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert!(expected.len() > 50, "{version}: issues sit in sprints");
        let stored: BTreeSet<(String, String)> =
            rows(&s, "SELECT sprint_id, issue_id FROM sprint_issues")
                .into_iter()
                .collect();
        assert_eq!(stored, expected, "{version}");
    }
}
