//! Cycle times computed by jiralink equal those of a plain SQL query over the public views, for a
//! 10,000-issue simulated site synced into a store: the definitions of docs/insights.md, written
//! once in Rust and once in SQL, agree issue by issue.

use std::collections::BTreeMap;

use jiralink_api::{site, Auth, AuthKind, ClientBuilder};
use jiralink_insights::{compute, flow, load, stages, Filter, Options};
use jiralink_sim::{Deployment, Sim};
use jiralink_store::{Store, StoreError, StoreLocation, ViewReader};

/// Started: the first move into an in-progress status, or creation when the issue began in one.
/// Done: the last move into a done status from one that is not, else the resolution, else creation.
const CYCLE_TIMES_SQL: &str = "
WITH s AS (
  SELECT c.issue_id, c.changed_at, f.category AS from_cat, t.category AS to_cat
  FROM issue_changes c JOIN statuses f ON f.id = c.from_value JOIN statuses t ON t.id = c.to_value
  WHERE c.field = 'status'
), x AS (
  SELECT i.key,
    CASE WHEN (SELECT from_cat FROM s WHERE s.issue_id = i.id ORDER BY changed_at LIMIT 1) = 'indeterminate'
              OR (i.status_category = 'indeterminate' AND NOT EXISTS (SELECT 1 FROM s WHERE s.issue_id = i.id))
         THEN i.created
         ELSE (SELECT MIN(changed_at) FROM s WHERE s.issue_id = i.id AND to_cat = 'indeterminate') END AS started,
    COALESCE((SELECT MAX(changed_at) FROM s WHERE s.issue_id = i.id AND to_cat = 'done' AND from_cat <> 'done'),
             i.resolved, i.created) AS done_at
  FROM issues i WHERE i.deleted_at IS NULL AND i.status_category = 'done'
)
SELECT key, CAST(strftime('%s', done_at) AS INTEGER) - CAST(strftime('%s', started) AS INTEGER)
FROM x WHERE started IS NOT NULL";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cycle_times_equal_a_plain_sql_query_over_the_views_on_a_synced_site() {
    let sim = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(10_000)
        .seed(11)
        .start()
        .await
        .expect("sim");
    let admin = sim.identity("admin").expect("admin");
    let client = ClientBuilder::new(
        site::normalize(sim.base_url(), false).expect("url"),
        AuthKind::CloudToken,
        Auth::Basic {
            user: admin.email.clone().unwrap_or_default(),
            secret: secrecy::SecretString::from(admin.secret.clone()),
        },
    )
    .build()
    .await
    .expect("client");
    let dir = std::env::temp_dir().join(format!("jiralink-insights-cross-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("store.db");
    let mut store = Store::open_sqlite(&path).expect("store");
    jiralink_sync::sync(&client, &mut store, &jiralink_sync::SyncOptions::new("x"))
        .await
        .expect("sync");

    drop(store);
    let mut by_sql: BTreeMap<String, i64> = BTreeMap::new();
    ViewReader::open(&StoreLocation::Sqlite(path.clone()))
        .expect("reader")
        .each(CYCLE_TIMES_SQL, &[], |r| -> Result<(), StoreError> {
            by_sql.insert(r.text_not_null(0)?.to_owned(), r.int(1)?);
            Ok(())
        })
        .expect("query");

    // A window holding every completion of the site.
    let now = chrono::Utc::now().timestamp();
    let mut opts = Options::new(now + 86_400, 1, 1);
    opts.since = now - 10 * 365 * 86_400;
    let ds = load::load(&path, &Filter::default()).expect("load");
    let stage_table = stages::stage_table(&ds, &opts.config);
    let timelines = flow::timelines(&ds, &stage_table);
    let by_jiralink: BTreeMap<String, i64> = flow::cycle_times(&timelines, &opts)
        .into_iter()
        .map(|(i, _, secs)| (ds.issues[i].key.clone(), secs))
        .collect();

    assert!(
        by_sql.len() > 1000,
        "only {} completed issues",
        by_sql.len()
    );
    let differ: Vec<_> = by_sql
        .iter()
        .filter(|(k, v)| by_jiralink.get(*k) != Some(v))
        .take(5)
        .map(|(k, v)| (k.clone(), *v, by_jiralink.get(k).copied()))
        .collect();
    assert!(
        differ.is_empty(),
        "cycle times differ (key, sql, jiralink): {differ:?}"
    );
    assert_eq!(by_sql.len(), by_jiralink.len());
    // And the report's percentiles are those of these cycle times.
    let report = compute(&ds, &opts, None);
    let mut all: Vec<i64> = by_sql.values().copied().collect();
    all.sort_unstable();
    let p85 = jiralink_insights::percentile(&all, 85.0).expect("p85");
    assert_eq!(
        report.flow.cycle_time_days.p85,
        Some((p85 as f64 / 864.0).round() / 100.0)
    );
    // The synced store is some 250 MB: a passing run leaves nothing behind in the temp dir.
    let _ = std::fs::remove_dir_all(&dir);
}
