//! Crash safety: `jiralink sync` killed with SIGKILL at 20 moments of a 20,000-issue sync, resumed
//! each time; the final store equals the simulator's snapshot with nothing lost or doubled.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiralink_sim::Deployment;

use crate::credential::{start_sim, start_sim_in_projects, xorshift, Session};

/// The rows of a query over the store's views, every cell as text (NULL as empty).
fn text_rows(store: &jiralink_store::Store, sql: &str) -> Vec<Vec<String>> {
    use jiralink_store::Backend;
    store
        .query_strings(sql)
        .expect("query")
        .1
        .into_iter()
        .map(|r| r.into_iter().map(Option::unwrap_or_default).collect())
        .collect()
}

/// The runs recorded in the store of `home` so far (0 before the store exists), read as a
/// report reader would while a sync writes.
fn runs_recorded(home: &std::path::Path) -> i64 {
    let at = jiralink_store::StoreLocation::Sqlite(home.join("jiralink.db"));
    jiralink_store::ViewReader::open(&at)
        .and_then(|mut r| r.count("SELECT COUNT(*) FROM sync_runs", &[]))
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_twenty_times_then_resumed_equals_the_snapshot() {
    let sim = start_sim(Deployment::Cloud, 20_000, 61).await;
    let s = Session::with_admin("crash", &sim, "site");
    let sync = || s.spawn(&["sync", "site"]);
    // Kill moments spread over the sync.
    let mut killed = 0;
    for x in xorshift(0x2545_F491_4F6C_DD1D).take(20) {
        // The kill moment counts from the run's start (its row in `sync_runs`), not from the
        // process's: a process killed while it starts has begun nothing to record.
        let before = runs_recorded(&s.home);
        let mut child = sync();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while runs_recorded(&s.home) == before
            && child.try_wait().expect("poll").is_none()
            && std::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(x % 900)).await;
        if child.try_wait().expect("poll").is_none() {
            child.kill().expect("SIGKILL");
            killed += 1;
        }
        let _ = child.wait();
    }
    assert!(killed >= 10, "most runs were killed mid-way ({killed})");
    let status = sync().wait().expect("final sync");
    assert!(status.success());

    let snap = sim.snapshot();
    let store = jiralink_store::Store::open_sqlite(&s.home.join("jiralink.db")).expect("store");
    let want = jiralink_sim::snapshot::issue_versions(&snap);
    let got: BTreeMap<String, (String, String)> = text_rows(
        &store,
        "SELECT id, key, updated FROM issues WHERE deleted_at IS NULL",
    )
    .into_iter()
    .map(|r| (r[0].clone(), (r[1].clone(), r[2].clone())))
    .collect();
    assert_eq!(got.len(), 20_000);
    assert_eq!(got, want, "every issue once, current");
    let changes: BTreeMap<String, i64> = text_rows(
        &store,
        "SELECT issue_id, COUNT(DISTINCT change_id) FROM issue_changes GROUP BY issue_id",
    )
    .into_iter()
    .map(|r| (r[0].clone(), r[1].parse().expect("a count")))
    .collect();
    for i in snap["issues"].as_array().expect("issues") {
        assert_eq!(
            changes.get(&i["id"].to_string()).copied().unwrap_or(0),
            i["changelog_count"].as_i64().unwrap_or(0),
            "changelog of {}",
            i["key"]
        );
    }
    let ids = |sql: &str| -> BTreeSet<String> {
        text_rows(&store, sql)
            .into_iter()
            .map(|mut r| r.swap_remove(0))
            .collect()
    };
    let snap_ids = |f: &str| jiralink_sim::snapshot::child_ids(&snap, f);
    assert_eq!(
        ids("SELECT id FROM comments WHERE deleted_at IS NULL"),
        snap_ids("comment_ids")
    );
    assert_eq!(
        ids("SELECT id FROM worklogs WHERE deleted_at IS NULL"),
        snap_ids("worklog_ids")
    );
    let runs: i64 = text_rows(&store, "SELECT COUNT(*) FROM sync_runs")[0][0]
        .parse()
        .expect("runs");
    assert_eq!(runs, 21, "every run, killed or not, is recorded");
    let _ = std::fs::remove_dir_all(&s.home);
}

/// Scoped tokens sync everything their scopes cover: the classic-plus-Agile token and the
/// granular-only token each mirror every issue, comment, worklog and sprint of the snapshot.
#[tokio::test(flavor = "multi_thread")]
async fn scoped_and_granular_tokens_sync_every_stream() {
    let sim = start_sim_in_projects(Deployment::Cloud, 300, 4, 62).await;
    sim.pause_mutation(true);
    let snap = sim.snapshot();
    let snap_ids = |list: &str, f: &str| -> BTreeSet<String> {
        snap[list]
            .as_array()
            .expect("list")
            .iter()
            .flat_map(|i| match &i[f] {
                serde_json::Value::Array(a) => a.clone(),
                v => vec![v.clone()],
            })
            .map(|v| v.to_string())
            .collect()
    };
    for name in ["scoped-reader", "granular-reader"] {
        let mut s = Session::new(&format!("sync-{name}"));
        let id = sim.identity(name).expect("identity").clone();
        s.add_identity(&sim, name, &id);
        let r = s.run(&["sync", name], None, &[]);
        assert_eq!(r.code, 0, "{name}: {}{}", r.stdout, r.stderr);
        let store = jiralink_store::Store::open_sqlite(&s.home.join("jiralink.db")).expect("store");
        let ids = |sql: &str| -> BTreeSet<String> {
            text_rows(&store, sql)
                .into_iter()
                .map(|mut r| r.swap_remove(0))
                .collect()
        };
        assert_eq!(
            ids("SELECT id FROM issues WHERE deleted_at IS NULL"),
            snap_ids("issues", "id"),
            "{name}: issues"
        );
        assert_eq!(
            ids("SELECT id FROM comments WHERE deleted_at IS NULL"),
            snap_ids("issues", "comment_ids"),
            "{name}: comments"
        );
        assert_eq!(
            ids("SELECT id FROM worklogs WHERE deleted_at IS NULL"),
            snap_ids("issues", "worklog_ids"),
            "{name}: worklogs"
        );
        let sprints = ids("SELECT CAST(id AS TEXT) FROM sprints");
        assert!(!sprints.is_empty(), "{name}: sprints synced");
        assert_eq!(sprints, snap_ids("sprints", "id"), "{name}: sprints");
    }
}

/// Names that are not there are usage errors naming them (exit 2), not an empty success: `sync
/// --projects`, `verify --projects`, `insights --project` and `insights --site`.
#[tokio::test(flavor = "multi_thread")]
async fn unknown_projects_and_sites_exit_2_naming_them() {
    let sim = start_sim(Deployment::Cloud, 60, 66).await;
    let mut s = Session::with_admin("unknown-names", &sim, "site");
    let bad = s.run(&["sync", "site", "--projects", "NOPE,ZZZ"], None, &[]);
    assert_eq!(bad.code, 2, "{}{}", bad.stdout, bad.stderr);
    assert!(
        bad.stderr.contains("NOPE, ZZZ") && !bad.stdout.contains("synced"),
        "{}{}",
        bad.stdout,
        bad.stderr
    );
    let ok = s.run(&["sync", "site"], None, &[]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let verify = s.run(&["verify", "site", "--projects", "NOPE"], None, &[]);
    assert_eq!(verify.code, 2, "{}{}", verify.stdout, verify.stderr);
    assert!(verify.stderr.contains("NOPE"), "{}", verify.stderr);
    let report = s.run(&["insights", "--project", "NOPE"], None, &[]);
    assert_eq!(report.code, 2, "{}{}", report.stdout, report.stderr);
    assert!(
        report.stderr.contains("--project NOPE"),
        "{}",
        report.stderr
    );
    let site = s.run(
        &["insights", "--site", "https://elsewhere.example"],
        None,
        &[],
    );
    assert_eq!(site.code, 2, "{}{}", site.stdout, site.stderr);
    assert!(
        site.stderr.contains("elsewhere.example") && site.stderr.contains(sim.cloud_id()),
        "{}",
        site.stderr
    );
    // The site by its id or base URL.
    for name in [sim.cloud_id(), sim.base_url()] {
        let r = s.run(&["--json", "insights", "--site", name], None, &[]);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
    }
    let _ = std::fs::remove_dir_all(&s.home);
}
