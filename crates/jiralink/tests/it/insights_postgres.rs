//! `jiralink insights` over `--store postgres://`: the same site synced into PostgreSQL and into
//! SQLite gives the same report, whole, filtered, over TLS and from history rows without status
//! ids; an empty database is no store. Needs a server:
//! `export JIRALINK_TEST_POSTGRES=$(scripts/setup-postgres.sh | tail -1)`.

use jiralink_sim::Deployment;

use crate::credential::{start_sim, Session};
use crate::postgres::TestDb;

/// A password given through `PGPASSWORD` (the test server trusts local users and ignores it): it
/// must show nowhere.
const CANARY: &str = "canary-insights-pg";

/// `jiralink --json [--store STORE] insights ARGS...`, asserted to succeed, as JSON.
fn insights(
    s: &mut Session,
    store: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> serde_json::Value {
    let mut all: Vec<&str> = Vec::new();
    if let Some(store) = store {
        all.extend(["--store", store]);
    }
    all.extend(["--json", "insights"]);
    all.extend(args);
    let r = s.run(&all, None, env);
    assert_eq!(r.code, 0, "{all:?}: {}", r.stderr);
    assert!(!r.stdout.contains(CANARY) && !r.stderr.contains(CANARY));
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{all:?}: {e}: {}", r.stdout))
}

/// Runs `f` with a client of `url` on a thread of its own (the synchronous client runs a runtime
/// of its own, which cannot start on the test's).
fn on_pg<T: Send>(url: &str, f: impl FnOnce(&mut postgres::Client) -> T + Send) -> T {
    std::thread::scope(|t| {
        t.spawn(|| {
            let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connect");
            f(&mut c)
        })
        .join()
        .expect("thread")
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn insights_over_postgres_equal_those_over_sqlite() {
    let sim = start_sim(Deployment::Cloud, 3000, 29).await;
    let mut s = Session::synced_admin("insights-pg", &sim, "site");
    let db = TestDb::new("insights");
    let url = db.url();
    let into_pg = s.run(&["--store", &url, "sync", "site"], None, &[]);
    assert_eq!(into_pg.code, 0, "{}", into_pg.stderr);

    // One instant and one seed for every run, so that the reports can be compared whole.
    let as_of = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let fixed = ["--as-of", as_of.as_str(), "--seed", "3", "--trials", "2000"];
    let pg = insights(&mut s, Some(&url), &fixed, &[("PGPASSWORD", CANARY)]);
    let sq = insights(&mut s, None, &fixed, &[]);

    // A real report, not two empty ones.
    assert_eq!(pg["coverage"]["issues"], 3000, "{}", pg["coverage"]);
    assert!(pg["coverage"]["status_changes"].as_u64() > Some(3000));
    assert!(pg["flow"]["completed"].as_u64() > Some(0), "{}", pg["flow"]);
    let weeks = pg["flow"]["throughput_per_week"].as_array().expect("weeks");
    assert!(weeks.iter().any(|w| w["items"].as_u64() > Some(0)));
    assert!(pg["flow"]["lead_time_days"]["p85"].as_f64() > Some(0.0));
    assert!(pg["flow"]["cycle_time_days"]["count"].as_u64() > Some(0));
    // Sprint membership and scope changes come from the history, read the same way.
    let sprints = pg["sprints"]["sprints"].as_array().expect("sprints");
    assert!(sprints.iter().any(|x| x["added_items"].as_u64() > Some(0)));
    assert_eq!(pg, sq, "Postgres and SQLite reports differ");

    // Over verified TLS (`sslmode=require`), as the store connects.
    let ca: String = on_pg(&url, |c| {
        c.query_one("SELECT current_setting('ssl_ca_file')", &[])
            .and_then(|r| r.try_get(0))
            .expect("the test server has a CA: run scripts/setup-postgres.sh")
    });
    let tls_url = format!("{url}?sslmode=require");
    let tls = insights(&mut s, Some(&tls_url), &fixed, &[("PGSSLROOTCERT", &ca)]);
    assert_eq!(tls, pg);

    // Filtered: one project, and the projects a credential's sync covered.
    let projects = pg["coverage"]["projects"].as_array().expect("projects");
    let key = projects
        .iter()
        .max_by_key(|p| p["issues"].as_u64())
        .and_then(|p| p["key"].as_str())
        .expect("a project")
        .to_owned();
    let mut one = vec!["--project", key.as_str()];
    one.extend(fixed);
    let pg_one = insights(&mut s, Some(&url), &one, &[]);
    let n = pg_one["coverage"]["issues"].as_u64().expect("issues");
    assert!(n > 0 && n < 3000, "{}", pg_one["coverage"]);
    assert_eq!(
        pg_one["coverage"]["projects"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(pg_one, insights(&mut s, None, &one, &[]));
    let mut cred = vec!["--credential", "site"];
    cred.extend(fixed);
    let pg_cred = insights(&mut s, Some(&url), &cred, &[]);
    assert_eq!(pg_cred["coverage"]["issues"], 3000);
    assert_eq!(pg_cred, insights(&mut s, None, &cred, &[]));
    let unknown = s.run(
        &["--store", &url, "insights", "--credential", "nobody"],
        None,
        &[],
    );
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("jiralink sync nobody"),
        "{}",
        unknown.stderr
    );

    // History rows without status ids (some Data Center history) are read by their names, on a
    // second connection: the same report.
    let blanked = on_pg(&url, |c| {
        c.execute(
            "UPDATE t_issue_changes SET from_value = NULL, to_value = NULL
             WHERE field = 'status' AND issue_id IN (SELECT id FROM t_issues ORDER BY id LIMIT 40)",
            &[],
        )
        .expect("blank status ids")
    });
    assert!(blanked > 0, "{blanked}");
    assert_eq!(insights(&mut s, Some(&url), &fixed, &[]), pg);

    // The library: a database without the store's views is no store, and says which database
    // (without the password it was given). The synchronous client needs a thread without a runtime.
    let empty = TestDb::new("insights_empty");
    let store = jiralink_insights::StoreLocation::Postgres(jiralink_store::postgres::PgTarget {
        url: empty.url(),
        password: Some(CANARY.into()),
        root_cert: None,
    });
    let opts = jiralink_insights::Options::new(chrono::Utc::now().timestamp(), 26, 3);
    let run_on = |store: &jiralink_insights::StoreLocation| {
        std::thread::scope(|t| {
            t.spawn(|| {
                jiralink_insights::run_on(store, &jiralink_insights::Filter::default(), &opts, None)
            })
            .join()
            .expect("reader thread")
        })
    };
    let e = run_on(&store).expect_err("an empty database is no store");
    assert!(
        matches!(e, jiralink_insights::InsightsError::NoStore(_)),
        "{e}"
    );
    let db_name = empty
        .url()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(e.to_string().contains(&db_name), "{e}");
    assert!(!format!("{e} {store:?}").contains(CANARY), "{e} {store:?}");
    // A server error is a store error that carries the server's words.
    let missing = jiralink_insights::StoreLocation::Postgres(
        jiralink_store::postgres::PgTarget::new(&format!("{}_missing", empty.url())),
    );
    let e = run_on(&missing).expect_err("no such database");
    assert!(
        matches!(e, jiralink_insights::InsightsError::Store(_)),
        "{e}"
    );
    assert!(e.to_string().contains("does not exist"), "{e}");
}
