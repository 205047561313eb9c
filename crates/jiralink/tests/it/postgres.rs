//! `--store postgres://`: a sync into PostgreSQL ends with the same public views as a sync into
//! SQLite, `status` reads it, and a password in the URL is refused (argv is readable by others).
//! Needs a server: `scripts/setup-postgres.sh` starts one and prints the URL for
//! `JIRALINK_TEST_POSTGRES` (scripts/test.sh does both).

use jiralink_sim::{Deployment, Sim};
use jiralink_store::postgres::PgStore;
use jiralink_store::{Backend, Store};

use crate::credential::{start_sim, Session};

/// A fresh database on the test server, dropped at the end.
pub(crate) struct TestDb {
    server: String,
    name: String,
}

impl TestDb {
    pub(crate) fn new(tag: &str) -> TestDb {
        let server = std::env::var("JIRALINK_TEST_POSTGRES").unwrap_or_else(|_| {
            panic!("JIRALINK_TEST_POSTGRES is not set: run scripts/setup-postgres.sh and export the URL it prints")
        });
        let name = format!("jiralink_cli_{tag}_{}", std::process::id());
        // The synchronous client runs its own runtime: on a thread of its own.
        on_a_thread(|| {
            let mut admin = postgres::Client::connect(&server, postgres::NoTls).expect("connect");
            for sql in [
                format!("DROP DATABASE IF EXISTS {name}"),
                format!("CREATE DATABASE {name}"),
            ] {
                admin.batch_execute(&sql).expect("create database");
            }
        });
        TestDb { server, name }
    }

    /// `postgres://USER@HOST:PORT/DB` of this database (no password: the server trusts local users).
    pub(crate) fn url(&self) -> String {
        let base = self
            .server
            .rsplit_once('/')
            .map_or(&*self.server, |(b, _)| b);
        format!("{base}/{}", self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        on_a_thread(|| {
            if let Ok(mut admin) = postgres::Client::connect(&self.server, postgres::NoTls) {
                let _ = admin.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ));
            }
        });
    }
}

fn on_a_thread(f: impl FnOnce() + Send) {
    std::thread::scope(|s| s.spawn(f).join().expect("thread"));
}

const VIEWS: &[&str] = &[
    "SELECT id, key, project_key, issue_type, status, status_category, updated, resolved, story_points, parent_key, deleted_at IS NULL FROM issues ORDER BY id",
    "SELECT issue_id, change_id, field, from_value, to_value, changed_at FROM issue_changes ORDER BY issue_id, change_id, field",
    "SELECT id, issue_id, created, body_text, deleted_at IS NULL FROM comments ORDER BY id",
    "SELECT id, issue_id, started, time_spent_seconds, deleted_at IS NULL FROM worklogs ORDER BY id",
    "SELECT id, name, state, board_id, start_date, end_date, complete_date FROM sprints ORDER BY id",
    "SELECT id, project_key, name, release_date FROM versions ORDER BY id",
    "SELECT sprint_id, issue_id FROM sprint_issues ORDER BY sprint_id, issue_id",
    "SELECT key, name FROM projects ORDER BY key",
    "SELECT id, name, category FROM statuses ORDER BY id",
];

/// The first cell of the first row `sql` answers.
fn first_cell(pg: &PgStore, sql: &str) -> Option<String> {
    pg.query_strings(sql).expect(sql).1[0][0].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_into_postgres_equals_one_into_sqlite() {
    let db = TestDb::new("sync");
    let sim = start_sim(Deployment::Cloud, 3000, 63).await;
    let mut s = Session::with_admin("postgres", &sim, "site");
    let url = db.url();

    // A password in the URL (as userinfo or as a parameter) is refused, and not echoed.
    for with_password in [
        url.replacen("://jiralink@", "://jiralink:canary-pg-secret@", 1),
        format!("{url}?sslmode=prefer&password=canary-pg-secret"),
    ] {
        let refused = s.run(&["--store", &with_password, "status"], None, &[]);
        assert_eq!(refused.code, 2, "{}", refused.stderr);
        assert!(refused.stderr.contains("PGPASSWORD"), "{}", refused.stderr);
        assert!(
            !refused.stderr.contains("canary-pg-secret"),
            "{}",
            refused.stderr
        );
    }

    let into_pg = s.run(&["--store", &url, "--json", "sync", "site"], None, &[]);
    assert_eq!(into_pg.code, 0, "{}", into_pg.stderr);
    let into_sqlite = s.run(&["--json", "sync", "site"], None, &[]);
    assert_eq!(into_sqlite.code, 0, "{}", into_sqlite.stderr);

    let mut pg = PgStore::connect(&url).expect("postgres store");
    let sq = Store::open_sqlite(&s.home.join("jiralink.db")).expect("sqlite store");
    let site = first_cell(&pg, "SELECT site_id FROM sites").expect("site id");
    assert_eq!(site, sim.cloud_id(), "the site is keyed by its cloudId");
    pg.scope_to(&site).expect("scope");
    let snap = sim.snapshot();
    assert_eq!(
        pg.counts().expect("counts").issues,
        snap["issues"].as_array().expect("issues").len() as i64
    );
    for sql in VIEWS {
        let (_, a) = pg.query_strings(sql).expect("postgres query");
        let (_, b) = sq.query_strings(sql).expect("sqlite query");
        assert!(!a.is_empty(), "{sql}");
        // Booleans print as 1/0 (SQLite) or true/false (Postgres); numbers as their text;
        // timestamps as ISO-8601 text (SQLite) or timestamptz (Postgres), the same instants.
        let norm = |rows: Vec<Vec<Option<String>>>| -> Vec<Vec<Option<String>>> {
            rows.into_iter()
                .map(|r| {
                    r.into_iter()
                        .map(|v| {
                            v.map(|v| match v.as_str() {
                                "t" | "true" => "1".to_owned(),
                                "f" | "false" => "0".to_owned(),
                                _ => jiralink_store::utc(&v).unwrap_or(v),
                            })
                        })
                        .collect()
                })
                .collect()
        };
        let (a, b) = (norm(a), norm(b));
        assert_eq!(a.len(), b.len(), "{sql}");
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y, "{sql}");
        }
    }

    // Postgres users get timestamps as timestamptz, dates as date, and can compute with them.
    let (_, types) = pg
        .query_strings(
            "SELECT table_name, column_name, data_type FROM information_schema.columns
             WHERE table_schema = current_schema()
               AND column_name IN ('created', 'updated', 'started', 'changed_at', 'deleted_at', 'start_date', 'release_date')
               AND table_name NOT LIKE 't\\_%'
             ORDER BY 1, 2",
        )
        .expect("column types");
    assert!(types.len() >= 14, "{types:?}");
    for row in &types {
        let want = if row[1].as_deref() == Some("release_date") {
            "date"
        } else {
            "timestamp with time zone"
        };
        assert_eq!(row[2].as_deref(), Some(want), "{row:?}");
    }
    let (_, recent) = pg
        .query_strings("SELECT COUNT(*) FROM issues WHERE updated <= now() AND created < updated + interval '1 second'")
        .expect("timestamptz arithmetic");
    assert_eq!(recent[0][0].as_deref(), Some("3000"));

    // `status` reads the Postgres store.
    let status = s.run(&["--store", &url, "--json", "status"], None, &[]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let v: serde_json::Value = serde_json::from_str(&status.stdout).expect("status json");
    assert_eq!(v["counts"]["issues"], 3000, "{v}");
    assert_eq!(v["runs"][0]["status"], "ok", "{v}");
    assert_eq!(v["runs"][0]["site_id"], sim.cloud_id(), "{v}");
    // Over TLS (`sslmode=require`), verified against the test server's CA.
    let ca = first_cell(&pg, "SELECT current_setting('ssl_ca_file')")
        .expect("the test server has a CA: run scripts/setup-postgres.sh");
    let tls_url = format!("{url}?sslmode=require");
    let tls = s.run(
        &["--store", &tls_url, "--json", "status"],
        None,
        &[("PGSSLROOTCERT", ca.as_str())],
    );
    assert_eq!(tls.code, 0, "{}", tls.stderr);
    let untrusted = s.run(&["--store", &tls_url, "status"], None, &[]);
    assert_ne!(untrusted.code, 0);
    assert!(
        untrusted.stderr.contains("certificate is not trusted")
            && untrusted.stderr.contains("set PGSSLROOTCERT")
            && untrusted.stderr.matches("UnknownIssuer").count() == 1,
        "{}",
        untrusted.stderr
    );

    // Run times print as the SQLite store writes them.
    let started = v["runs"][0]["started"].as_str().unwrap_or_default();
    assert_eq!(
        jiralink_store::utc(started).as_deref(),
        Some(started),
        "{v}"
    );
}

/// Two sites (different seeds, overlapping numeric ids, one Cloud and one Data Center) changing
/// while they are synced into one Postgres store, in both orders: each site's rows equal its own
/// snapshot, and neither touches the other's.
#[tokio::test(flavor = "multi_thread")]
async fn two_sites_in_one_postgres_store_in_either_order() {
    for cloud_first in [true, false] {
        let db = TestDb::new(&format!("sites_{cloud_first}"));
        let url = db.url();
        let a = Sim::builder()
            .deployment(Deployment::Cloud)
            .issues(300)
            .seed(71)
            .mutate_per_s(30.0)
            .start()
            .await
            .expect("sim a");
        let b = Sim::builder()
            .deployment(Deployment::Datacenter)
            .issues(200)
            .seed(72)
            .mutate_per_s(30.0)
            .start()
            .await
            .expect("sim b");
        let mut s = Session::new(&format!("pg-sites-{cloud_first}"));
        s.add_admin(&a, "a");
        let admin = b.identity("admin").expect("admin").clone();
        let user = admin.username.clone().unwrap_or_default();
        let added = s.add_credential(
            "b",
            b.base_url(),
            "basic",
            &["--username", &user, "--secret-stdin"],
            Some(&admin.secret),
        );
        assert_eq!(added.code, 0, "{}", added.stderr);
        let order = if cloud_first { ["a", "b"] } else { ["b", "a"] };
        for name in order.iter().chain(&order) {
            let r = s.run(&["--store", &url, "sync", name], None, &[]);
            assert_eq!(r.code, 0, "{}", r.stderr);
        }
        a.pause_mutation(true);
        b.pause_mutation(true);
        for name in order {
            let r = s.run(&["--store", &url, "sync", name], None, &[]);
            assert_eq!(r.code, 0, "{}", r.stderr);
        }
        let pg = PgStore::connect(&url).expect("store");
        for (sim, deployment) in [(&a, "cloud"), (&b, "datacenter")] {
            let (_, site) = pg
                .query_strings(&format!(
                    "SELECT site_id FROM sites WHERE deployment = '{deployment}'"
                ))
                .expect("site");
            let site = site[0][0].clone().expect("site id");
            let snap = sim.snapshot();
            let want: Vec<Vec<Option<String>>> = {
                let mut v: Vec<(String, String)> = snap["issues"]
                    .as_array()
                    .expect("issues")
                    .iter()
                    .map(|i| {
                        (
                            i["id"].to_string(),
                            i["updated"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect();
                v.sort();
                v.into_iter().map(|(i, u)| vec![Some(i), Some(u)]).collect()
            };
            let (_, got) = pg
                .query_strings(&format!(
                    "SELECT id, to_char(updated AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')
                     FROM issues WHERE site_id = '{site}' AND deleted_at IS NULL ORDER BY id"
                ))
                .expect("issues");
            let norm = |rows: Vec<Vec<Option<String>>>| -> Vec<Vec<Option<String>>> {
                rows.into_iter()
                    .map(|r| {
                        r.into_iter()
                            .map(|v| v.map(|v| jiralink_store::utc(&v).unwrap_or(v)))
                            .collect()
                    })
                    .collect()
            };
            assert_eq!(
                norm(got),
                norm(want),
                "{deployment}: live issues and update times"
            );
            let (_, deleted) = pg
                .query_strings(&format!(
                    "SELECT id FROM issues WHERE site_id = '{site}' AND deleted_at IS NOT NULL ORDER BY id"
                ))
                .expect("deleted");
            let snap_deleted: Vec<String> = snap["deleted"]["issues"]
                .as_array()
                .expect("deleted")
                .iter()
                .map(|v| v.to_string())
                .collect();
            for row in deleted {
                let id = row[0].clone().expect("id");
                assert!(
                    snap_deleted.contains(&id),
                    "{deployment}: {id} is deleted only if Jira deleted it"
                );
            }
        }
    }
}
