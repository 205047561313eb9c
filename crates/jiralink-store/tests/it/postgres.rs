//! The PostgreSQL backend against the SQLite one: the same operations give the same public views,
//! counts, ids, rows and checkpoints; a failed write leaves nothing; migrating twice changes nothing.
//!
//! Needs a server: `export JIRALINK_TEST_POSTGRES=$(scripts/setup-postgres.sh | tail -1)`; these
//! tests fail (never skip) without it. Each test works in a database of its own, created on that
//! server and dropped at its end, so they run in parallel.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::time::Instant;

use jiralink_store::postgres::{PgStore, PgTarget};
use jiralink_store::{
    utc, Backend, ChangeRow, CommentRow, ComponentRow, IssueBatch, IssueRefs, IssueRow, LinkRow,
    Lookup, SprintRow, Store, StoreError, Tx, VersionRow, WorklogRow,
};
use postgres::types::Type;
use rusqlite::types::ValueRef;

const ENV: &str = "JIRALINK_TEST_POSTGRES";

fn server_url() -> String {
    match std::env::var(ENV) {
        Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
        _ => panic!(
            "{ENV} is not set: these tests need a PostgreSQL server. Start one with \
             `export {ENV}=$(scripts/setup-postgres.sh | tail -1)` and run them again"
        ),
    }
}

fn random_suffix() -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    format!("{}_{:016x}", std::process::id(), h.finish())
}

/// `url` with its database replaced by `db`.
fn with_dbname(url: &str, db: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (main, query) = match rest.split_once('?') {
                Some((m, q)) => (m, Some(q)),
                None => (rest, None),
            };
            let authority = main.split_once('/').map_or(main, |(a, _)| a);
            match query {
                Some(q) => format!("{scheme}://{authority}/{db}?{q}"),
                None => format!("{scheme}://{authority}/{db}"),
            }
        }
        None => format!("{url} dbname={db}"),
    }
}

/// A fresh database on the test server, dropped when this goes out of scope.
struct TestDb {
    server: String,
    name: String,
    url: String,
}

impl TestDb {
    fn new() -> TestDb {
        let server = server_url();
        let name = format!("jiralink_test_{}", random_suffix());
        let mut admin = postgres::Client::connect(&server, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to {ENV} ({server}): {e}"));
        // An ICU en-US default collation orders 'a' before 'B', unlike SQLite: the store's own
        // columns must not depend on the database's collation.
        let icu = admin.batch_execute(&format!(
            "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'"
        ));
        if let Err(e) = icu {
            eprintln!("no ICU database ({e}); using the server's default collation");
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .unwrap_or_else(|e| {
                    panic!("cannot create a test database (the role needs CREATEDB): {e}")
                });
        }
        let url = with_dbname(&server, &name);
        TestDb { server, name, url }
    }

    fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.server, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A temporary SQLite store path, removed with its directory at the end.
struct TempSqlite(PathBuf);

impl TempSqlite {
    fn new() -> TempSqlite {
        let dir = std::env::temp_dir().join(format!("jiralink-pg-parity-{}", random_suffix()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempSqlite(dir)
    }

    fn path(&self) -> PathBuf {
        self.0.join("store.db")
    }
}

impl Drop for TempSqlite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One value as both backends return it.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

type Rows = (Vec<String>, Vec<Vec<V>>);

fn sqlite_rows(s: &Store, sql: &str) -> Rows {
    // A connection of the test's own: the store hands out no backend type.
    let conn =
        rusqlite::Connection::open_with_flags(s.path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("read the store");
    let mut st = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let columns: Vec<String> = st.column_names().iter().map(|c| c.to_string()).collect();
    let n = columns.len();
    let rows = st
        .query_map([], |r| {
            (0..n)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        ValueRef::Null => V::Null,
                        ValueRef::Integer(x) => V::Int(x),
                        ValueRef::Real(x) => V::Real(x),
                        ValueRef::Text(t) => V::Text(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(_) => panic!("{sql}: a blob in column {i}"),
                    })
                })
                .collect::<Result<Vec<V>, rusqlite::Error>>()
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    (columns, rows)
}

fn pg_rows(c: &mut postgres::Client, sql: &str) -> Rows {
    let st = c.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let columns: Vec<String> = st.columns().iter().map(|c| c.name().to_owned()).collect();
    let types: Vec<Type> = st.columns().iter().map(|c| c.type_().clone()).collect();
    let rows = c
        .query(&st, &[])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| {
            types
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let v = match *t {
                        Type::TEXT | Type::VARCHAR => r.get::<_, Option<String>>(i).map(V::Text),
                        Type::INT8 => r.get::<_, Option<i64>>(i).map(V::Int),
                        Type::FLOAT8 => r.get::<_, Option<f64>>(i).map(V::Real),
                        // The views' timestamps, as the SQLite store writes them.
                        Type::TIMESTAMPTZ => r
                            .get::<_, Option<chrono::DateTime<chrono::Utc>>>(i)
                            .map(|t| V::Text(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())),
                        Type::DATE => r
                            .get::<_, Option<chrono::NaiveDate>>(i)
                            .map(|d| V::Text(d.to_string())),
                        ref other => panic!("{sql}: column {i} has type {other}, unlike SQLite"),
                    };
                    v.unwrap_or(V::Null)
                })
                .collect()
        })
        .collect();
    (columns, rows)
}

fn sqlite_names(s: &Store, kind: &str) -> Vec<String> {
    let (_, rows) = sqlite_rows(
        s,
        &format!(
            "SELECT name FROM sqlite_master WHERE type = '{kind}' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ),
    );
    rows.into_iter()
        .map(|r| match &r[0] {
            V::Text(t) => t.clone(),
            v => panic!("{v:?}"),
        })
        .collect()
}

fn pg_names(c: &mut postgres::Client, kind: &str) -> Vec<String> {
    let sql = match kind {
        "view" => "SELECT table_name::text FROM information_schema.views WHERE table_schema = current_schema() ORDER BY 1",
        _ => "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
    };
    let mut names: Vec<String> = pg_rows(c, sql)
        .1
        .into_iter()
        .map(|r| match &r[0] {
            V::Text(t) => t.clone(),
            v => panic!("{v:?}"),
        })
        .collect();
    names.sort();
    names
}

/// `SELECT cols FROM name ORDER BY every column, NULLs first` (SQLite's order of NULLs).
fn ordered_select(columns: &[String], name: &str) -> String {
    let order: Vec<String> = (1..=columns.len())
        .map(|i| format!("{i} NULLS FIRST"))
        .collect();
    format!(
        "SELECT {} FROM {name} ORDER BY {}",
        columns.join(", "),
        order.join(", ")
    )
}

/// Columns that hold the time of the call (`now()`), which differs between the two stores.
fn clock_columns(name: &str) -> &'static [&'static str] {
    match name {
        "sync_runs" | "t_sync_runs" => &["started", "finished"],
        _ => &[],
    }
}

fn is_store_time(v: &V) -> bool {
    match v {
        V::Null => true,
        V::Text(t) => {
            t.len() == 24
                && chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.3fZ").is_ok()
        }
        _ => false,
    }
}

/// Compares one view or table row by row; returns how many rows it holds.
fn compare_relation(sq: &Store, pg: &mut postgres::Client, name: &str) -> usize {
    let (sq_cols, _) = sqlite_rows(sq, &format!("SELECT * FROM {name} LIMIT 0"));
    let (pg_cols, _) = pg_rows(pg, &format!("SELECT * FROM {name} LIMIT 0"));
    if name.starts_with("t_") {
        // Internal tables: Postgres's migration 8 appended site_id (SQLite's rebuilt them with it
        // first); the same columns, read by name below.
        let sorted = |c: &[String]| -> Vec<String> {
            let mut c = c.to_vec();
            c.sort();
            c
        };
        assert_eq!(sorted(&pg_cols), sorted(&sq_cols), "the columns of {name}");
    } else {
        assert_eq!(pg_cols, sq_cols, "the columns of {name}");
    }
    let clock = clock_columns(name);
    let (compared, timed): (Vec<String>, Vec<String>) = sq_cols
        .iter()
        .cloned()
        .partition(|c| !clock.contains(&c.as_str()));
    let sql = ordered_select(&compared, name);
    let (_, sq_rows) = sqlite_rows(sq, &sql);
    let (_, pg_rows_) = pg_rows(pg, &sql);
    assert_eq!(pg_rows_.len(), sq_rows.len(), "the row count of {name}");
    for (i, (p, s)) in pg_rows_.iter().zip(&sq_rows).enumerate() {
        assert_eq!(p, s, "row {i} of {name} (ordered by {compared:?})");
    }
    // Each column alone sorts the same way too (byte order of text, NULLs first).
    for c in &compared {
        let sql = format!("SELECT {c} FROM {name} ORDER BY {c} NULLS FIRST");
        assert_eq!(
            pg_rows(pg, &sql).1,
            sqlite_rows(sq, &sql).1,
            "{name} ordered by {c}"
        );
    }
    if !timed.is_empty() {
        let sql = format!("SELECT {} FROM {name}", timed.join(", "));
        for v in sqlite_rows(sq, &sql)
            .1
            .iter()
            .chain(&pg_rows(pg, &sql).1)
            .flatten()
        {
            assert!(is_store_time(v), "{name}: {v:?} is not a store timestamp");
        }
    }
    sq_rows.len()
}

/// Every public view (the same set in both), every table PostgreSQL has, and the store's own
/// readers.
fn compare_stores(sq: &Store, pgs: &PgStore, db: &TestDb, projects: &[&str], issue_ids: &[String]) {
    let mut pg = db.client();
    let views = sqlite_names(sq, "view");
    assert_eq!(pg_names(&mut pg, "view"), views, "the public views");
    assert!(views.len() >= 20, "{views:?}");
    let mut total = 0;
    for v in &views {
        total += compare_relation(sq, &mut pg, v);
    }
    assert!(total > 0, "the scenario wrote nothing");
    let sq_tables = sqlite_names(sq, "table");
    for t in pg_names(&mut pg, "table") {
        if t == "schema_migrations" {
            continue;
        }
        assert!(sq_tables.contains(&t), "{t} is not an SQLite table");
        compare_relation(sq, &mut pg, &t);
    }
    let pg_tables = pg_names(&mut pg, "table");
    for t in sq_tables.iter().filter(|t| t.starts_with("t_")) {
        assert!(pg_tables.contains(t), "PostgreSQL lacks the table {t}");
    }
    // The same migrations (a new SQLite one needs its PostgreSQL twin).
    let versions = "SELECT version FROM schema_migrations ORDER BY version";
    assert_eq!(pg_rows(&mut pg, versions).1, sqlite_rows(sq, versions).1);

    assert_eq!(
        pgs.counts().expect("pg counts"),
        sq.counts().expect("counts")
    );
    assert_eq!(
        pgs.worklog_reads().expect("pg worklog reads"),
        sq.worklog_reads().expect("worklog reads")
    );
    for p in projects.iter().chain(&["NOPE"]) {
        let mut a = pgs.live_issue_ids(p).expect("pg ids");
        let mut b = sq.live_issue_ids(p).expect("ids");
        a.sort();
        b.sort();
        assert_eq!(a, b, "live issues of {p}");
    }
    for id in issue_ids.iter().map(String::as_str).chain(["nope"]) {
        assert_eq!(
            format!("{:?}", pgs.issue_row(id).expect("pg row")),
            format!("{:?}", sq.issue_row(id).expect("row")),
            "issue_row({id})"
        );
    }
    for (cred, stream, scope) in [
        ("cred", "issues", "ENG"),
        ("cred", "issues", "OPS"),
        ("cred", "pass", "ENG"),
        ("other", "issues", "ENG"),
        ("cred", "worklogs", "updated"),
        ("nobody", "issues", "ENG"),
    ] {
        assert_eq!(
            pgs.checkpoint(cred, stream, scope).expect("pg checkpoint"),
            sq.checkpoint(cred, stream, scope).expect("checkpoint"),
            "checkpoint {cred}/{stream}/{scope}"
        );
    }
}

/// The data of a scenario: issues with everything they carry.
struct Data {
    issues: Vec<IssueRow>,
    changes: Vec<Vec<ChangeRow>>,
    comments: Vec<Vec<CommentRow>>,
    worklogs: Vec<Vec<WorklogRow>>,
    sprints: Vec<Vec<String>>,
    refs: Vec<IssueRefs>,
}

const TEXTS: &[&str] = &[
    "Fix the login",
    "apple",
    "Apple",
    "Zebra",
    "ärger mit Umlauten",
    "Ärger",
    "😀 emoji",
    "",
    "tab\tand\nnewline",
    "quote ' and \" and \\",
    "ß and ſ",
    "B",
    "b",
];

fn text(i: usize) -> String {
    TEXTS[i % TEXTS.len()].to_owned()
}

fn opt(i: usize, every: usize, v: String) -> Option<String> {
    (!i.is_multiple_of(every)).then_some(v)
}

fn time(day: usize, minute: usize) -> String {
    utc(&format!(
        "2024-{:02}-{:02}T{:02}:{:02}:07.{:03}+1100",
        1 + day % 12,
        1 + day % 28,
        minute / 60 % 24,
        minute % 60,
        (day * 7 + minute) % 1000
    ))
    .expect("a Jira time")
}

fn data(n: usize, changes_per_issue: usize, first_id: usize) -> Data {
    let mut d = Data {
        issues: vec![],
        changes: vec![],
        comments: vec![],
        worklogs: vec![],
        sprints: vec![],
        refs: vec![],
    };
    for i in 0..n {
        let id = (first_id + i).to_string();
        let project = if i % 3 == 2 { "OPS" } else { "ENG" };
        d.issues.push(IssueRow {
            id: id.clone(),
            key: format!("{project}-{}", i + 1),
            project_key: project.to_owned(),
            issue_type: opt(i, 7, ["Story", "Bug", "Task"][i % 3].to_owned()),
            summary: opt(i, 11, text(i)),
            status: Some(["To Do", "In Progress", "Done"][i % 3].to_owned()),
            status_category: Some(["new", "indeterminate", "done"][i % 3].to_owned()),
            priority: opt(i, 5, ["High", "Medium", "Low"][i % 3].to_owned()),
            assignee_id: opt(i, 4, format!("user-{}", i % 6)),
            reporter_id: Some(format!("user-{}", (i + 1) % 6)),
            created: Some(time(i, i)),
            updated: Some(time(i + 3, i * 13)),
            resolved: (i % 3 == 2).then(|| time(i + 5, i * 7)),
            story_points: [
                Some(3.0),
                Some(0.5),
                None,
                Some(13.0),
                Some(0.1),
                Some(1e-9),
            ][i % 6],
            parent_key: (i % 4 == 3).then(|| format!("{project}-1")),
            raw_json: format!(
                "{{\"id\":\"{id}\",\"fields\":{{\"summary\":{}}}}}",
                serde_json::Value::String(text(i))
            ),
        });
        let mut changes: Vec<ChangeRow> = (0..changes_per_issue)
            .map(|j| ChangeRow {
                change_id: format!("{id}{:03}", j / 2),
                item_index: (j % 2) as i64,
                changed_at: Some(time(i + j, j * 17)),
                author_id: opt(j, 5, format!("user-{}", j % 6)),
                field: Some(["status", "Sprint", "assignee", "labels"][j % 4].to_owned()),
                from_value: opt(j, 3, format!("{}", 10000 + j)),
                from_string: opt(j, 4, text(j)),
                to_value: opt(j + 1, 3, format!("{}", 10001 + j)),
                to_string: opt(j + 2, 4, text(j + 1)),
            })
            .collect();
        if i == 0 && !changes.is_empty() {
            // The same item twice in one list: the later one wins, in both stores.
            let mut again = changes[0].clone();
            again.to_string = Some("the later one".into());
            changes.push(again);
        }
        d.changes.push(changes);
        let mut comments: Vec<CommentRow> = (0..i % 4)
            .map(|k| CommentRow {
                id: format!("c{id}-{k}"),
                issue_id: id.clone(),
                author_id: opt(k, 3, format!("user-{k}")),
                created: Some(time(i, k)),
                updated: opt(k, 2, time(i + 1, k)),
                body_text: Some(text(i + k)),
                body_raw: Some(format!("{{\"type\":\"doc\",\"n\":{k}}}")),
            })
            .collect();
        if i == 1 {
            let mut again = comments[0].clone();
            again.body_text = Some("edited".into());
            comments.push(again);
        }
        d.comments.push(comments);
        d.worklogs.push(
            (0..i % 3)
                .map(|k| WorklogRow {
                    id: format!("w{id}-{k}"),
                    issue_id: id.clone(),
                    author_id: Some(format!("user-{k}")),
                    started: Some(time(i, k * 60)),
                    time_spent_seconds: (k != 1).then_some(3600 * (k as i64 + 1)),
                    updated: Some(time(i + 2, k)),
                })
                .collect(),
        );
        let mut sprints: Vec<String> = (1..=3)
            .filter(|s| (i + s) % 2 == 0)
            .map(|s| s.to_string())
            .collect();
        if i == 2 {
            sprints.push("1".into());
        }
        d.sprints.push(sprints);
        let mut links = vec![];
        if i % 2 == 1 {
            links.push(LinkRow {
                id: format!("l{i}"),
                link_type: Some("Blocks".into()),
                direction: "outward".into(),
                other_issue_id: Some(first_id.to_string()),
                other_issue_key: Some("ENG-1".into()),
            });
        }
        if i == 3 {
            links.push(LinkRow {
                id: "l3".into(),
                link_type: None,
                direction: "inward".into(),
                other_issue_id: None,
                other_issue_key: None,
            });
        }
        d.refs.push(IssueRefs {
            fix_versions: if i % 2 == 0 {
                vec!["100".into()]
            } else {
                vec![]
            },
            affects_versions: if i % 3 == 0 {
                vec!["100".into(), "101".into()]
            } else {
                vec![]
            },
            components: if i % 4 == 0 {
                vec!["200".into(), "201".into(), "200".into()]
            } else {
                vec!["201".into()]
            },
            links,
        });
    }
    d
}

fn catalog(round: usize) -> Vec<(&'static str, Vec<VersionRow>, Vec<ComponentRow>)> {
    let mut eng_versions = vec![
        VersionRow {
            id: "100".into(),
            name: "1.0".into(),
            released: Some(true),
            archived: Some(false),
            release_date: Some("2024-03-01".into()),
        },
        VersionRow {
            id: "101".into(),
            name: "1.1 ärger".into(),
            released: Some(false),
            archived: None,
            release_date: None,
        },
    ];
    let mut eng_components = vec![
        ComponentRow {
            id: "200".into(),
            name: "Backend".into(),
            lead_id: Some("user-1".into()),
        },
        ComponentRow {
            id: "201".into(),
            name: "api".into(),
            lead_id: None,
        },
    ];
    if round == 0 {
        eng_versions.push(VersionRow {
            id: "102".into(),
            name: "2.0".into(),
            released: None,
            archived: Some(true),
            release_date: None,
        });
        eng_versions.push(VersionRow {
            id: "100".into(),
            name: "1.0 (renamed)".into(),
            released: Some(true),
            archived: Some(false),
            release_date: Some("2024-03-02".into()),
        });
    } else {
        eng_components.remove(0);
    }
    vec![
        ("ENG", eng_versions, eng_components),
        (
            "OPS",
            if round == 0 {
                vec![VersionRow {
                    id: "110".into(),
                    name: "ops-1".into(),
                    ..Default::default()
                }]
            } else {
                vec![]
            },
            vec![],
        ),
    ]
}

const STAMP_1: &str = "2024-05-01T10:00:00.000Z";
const STAMP_2: &str = "2024-06-01T10:00:00.123Z";

/// The same operations, written once per backend. Returns the run ids (ok, failed, still running)
/// and the issues marked deleted.
fn scenario(s: &mut dyn Backend, d1: &Data, d2: &Data) -> (i64, i64, i64, Vec<String>) {
    s.write(|tx| {
        tx.upsert_project(
            "10000",
            "ENG",
            "Engineering",
            Some("software"),
            "{\"id\":\"10000\"}",
        )?;
        tx.upsert_project("10001", "OPS", "Opérations", None, "{}")?;
        tx.upsert_project("10002", "OLD", "Old", Some("business"), "{}")?;
        tx.upsert_status("1", "To Do", "new")?;
        tx.upsert_status("3", "In Progress", "indeterminate")?;
        tx.upsert_status("10001", "Done", "done")?;
        tx.upsert_status("3", "In progress", "indeterminate")?;
        tx.upsert_field("summary", "Summary", false, Some("string"), None)?;
        tx.upsert_field(
            "customfield_10016",
            "Story Points",
            true,
            Some("number"),
            Some("com.atlassian.jira.plugin.system.customfieldtypes:float"),
        )?;
        tx.upsert_field("customfield_10020", "Sprint", true, Some("array"), None)?;
        tx.upsert_field("x", "No schema", true, None, None)?;
        tx.upsert_lookup(Lookup::IssueType, "10001", "Story", Some(false))?;
        tx.upsert_lookup(Lookup::IssueType, "10002", "Sub-task", Some(true))?;
        tx.upsert_lookup(Lookup::IssueType, "10003", "Legacy", None)?;
        tx.upsert_lookup(Lookup::Priority, "1", "Highest", None)?;
        tx.upsert_lookup(Lookup::Priority, "2", "High", None)?;
        tx.upsert_lookup(Lookup::Resolution, "1", "Done", None)?;
        // The same id under another kind is another row.
        tx.upsert_lookup(Lookup::Resolution, "2", "Won't Do", Some(true))?;
        tx.upsert_lookup(Lookup::Priority, "1", "Blocker", None)?;
        for u in 0..6 {
            tx.upsert_user(
                &format!("user-{u}"),
                (u != 4).then(|| text(u)).as_deref(),
                (u % 2 == 0).then(|| format!("u{u}@example.com")).as_deref(),
                u != 5,
            )?;
        }
        tx.upsert_board("1", "ENG board", "scrum", Some("ENG"))?;
        tx.upsert_board("2", "Everything", "kanban", None)?;
        tx.upsert_sprint(&SprintRow {
            id: "1".into(),
            board_id: "1".into(),
            name: "Sprint 1".into(),
            state: "closed".into(),
            start_date: Some(time(1, 0)),
            end_date: Some(time(15, 0)),
            complete_date: Some(time(15, 30)),
            goal: Some("Ship ärger".into()),
        })?;
        tx.upsert_sprint(&SprintRow {
            id: "2".into(),
            board_id: "1".into(),
            name: "Sprint 2".into(),
            state: "active".into(),
            start_date: Some(time(16, 0)),
            end_date: Some(time(29, 0)),
            ..Default::default()
        })?;
        tx.upsert_sprint(&SprintRow {
            id: "3".into(),
            board_id: "1".into(),
            name: "Sprint 3".into(),
            state: "future".into(),
            ..Default::default()
        })?;
        Ok(())
    })
    .expect("metadata");
    let run = s.begin_run("cred").expect("begin");
    // Issues in two transactions, the way a sync writes batches.
    for half in [0, 1] {
        s.write(|tx| {
            // Queued before the issues are written, as the sync does.
            for i in d1.issues.iter().skip(half).step_by(5) {
                tx.queue_worklog_read(&i.id, half == 1)?;
            }
            for (k, i) in d1.issues.iter().enumerate().filter(|(k, _)| k % 2 == half) {
                tx.upsert_issue(i)?;
                tx.replace_changes(&i.id, &d1.changes[k])?;
                tx.set_comments(&i.id, &d1.comments[k], STAMP_1)?;
                tx.set_worklogs(&i.id, &d1.worklogs[k], STAMP_1)?;
                tx.set_sprint_issues(&i.id, &d1.sprints[k])?;
                tx.set_issue_refs(&i.id, &d1.refs[k])?;
            }
            if half == 0 {
                for (key, v, c) in catalog(0) {
                    tx.set_project_catalog(key, &v, &c, STAMP_1)?;
                }
            }
            tx.set_checkpoint("cred", "issues", "ENG", STAMP_1)?;
            tx.set_checkpoint("cred", "pass", "ENG", "p1")?;
            tx.set_checkpoint("other", "issues", "ENG", "o1")
        })
        .expect("issues");
    }
    // A failed write changes nothing.
    let failed: Result<(), StoreError> = s.write(|tx| {
        tx.upsert_project("10009", "NEW", "New", None, "{}")?;
        tx.upsert_issue(&d2.issues[0])?;
        tx.replace_changes(&d1.issues[0].id, &[])?;
        tx.mark_issues_deleted(&[d1.issues[1].id.clone()], STAMP_2)?;
        tx.set_checkpoint("cred", "issues", "ENG", "never")?;
        Err(StoreError::TooNew {
            path: "test".into(),
            found: 0,
        })
    });
    assert!(failed.is_err());
    s.finish_run(run, "ok", 42, d1.issues.len() as i64, None)
        .expect("finish");
    let failed_run = s.begin_run("other").expect("begin");
    s.finish_run(failed_run, "failed", 3, 0, Some("boom 💥"))
        .expect("finish");
    let running = s.begin_run("cred").expect("begin");
    // Round two: updates, removals and deletes.
    let gone = s
        .write(|tx| {
            for (k, i) in d1.issues.iter().enumerate().filter(|(k, _)| k % 3 == 0) {
                let mut i = i.clone();
                i.summary = Some(format!("{} (edited)", text(k + 1)));
                i.story_points = None;
                i.updated = Some(time(k + 9, 1));
                tx.upsert_issue(&i)?;
                let keep = d1.changes[k].len() / 2;
                tx.replace_changes(&i.id, &d1.changes[k][..keep])?;
                // The first comment is gone; a deleted one that comes back is live again.
                let comments = &d1.comments[k];
                tx.set_comments(&i.id, comments.get(1..).unwrap_or_default(), STAMP_2)?;
                tx.set_worklogs(&i.id, &[], STAMP_2)?;
                tx.set_sprint_issues(&i.id, &["3".to_owned()])?;
                tx.set_issue_refs(&i.id, &IssueRefs::default())?;
            }
            if let Some(k) = (0..d1.issues.len()).find(|k| k % 3 == 0 && d1.comments[*k].len() > 1)
            {
                tx.set_comments(&d1.issues[k].id, &d1.comments[k], STAMP_2)?;
            }
            for (key, v, c) in catalog(1) {
                tx.set_project_catalog(key, &v, &c, STAMP_2)?;
            }
            for i in d1.issues.iter().chain(&d2.issues).step_by(3) {
                // Live issues need no history; a queued need stays.
                tx.queue_worklog_read(&i.id, true)?;
            }
            tx.queue_worklog_read(&d1.issues[1].id, false)?;
            tx.clear_worklog_read(&d1.issues[5].id)?;
            tx.clear_worklog_read("never queued")?;
            for (k, i) in d2.issues.iter().enumerate() {
                tx.upsert_issue(i)?;
                tx.replace_changes(&i.id, &d2.changes[k])?;
                tx.set_comments(&i.id, &d2.comments[k], STAMP_2)?;
                tx.upsert_worklogs(&d2.worklogs[k])?;
                tx.set_sprint_issues(&i.id, &d2.sprints[k])?;
                tx.set_issue_refs(&i.id, &d2.refs[k])?;
            }
            let worklog_ids: Vec<String> = d1
                .worklogs
                .iter()
                .flatten()
                .step_by(2)
                .map(|w| w.id.clone())
                .chain(["unknown".to_owned()])
                .collect();
            tx.mark_worklogs_deleted(&worklog_ids, STAMP_2)?;
            // Issues OPS no longer has (as a sync finds them): every other live one.
            let mut live = tx.live_issue_ids("OPS")?;
            live.sort();
            let mut gone: Vec<String> = live.into_iter().step_by(2).collect();
            gone.push("unknown".into());
            gone.push(d1.issues[2].id.clone());
            tx.mark_issues_deleted(&gone, STAMP_2)?;
            tx.mark_issues_deleted(&gone[..1], "2030-01-01T00:00:00.000Z")?;
            tx.set_checkpoint("cred", "issues", "ENG", STAMP_2)?;
            tx.set_checkpoint("cred", "issues", "OPS", STAMP_2)?;
            tx.set_checkpoint("cred", "worklogs", "updated", "1717236000123")?;
            tx.clear_checkpoint("cred", "pass", "ENG")?;
            tx.clear_checkpoint("cred", "pass", "nothing")?;
            Ok(gone)
        })
        .expect("round two");
    (run, failed_run, running, gone)
}

fn issue_ids(ds: &[&Data]) -> Vec<String> {
    ds.iter()
        .flat_map(|d| d.issues.iter().map(|i| i.id.clone()))
        .collect()
}

#[test]
fn the_same_operations_give_the_same_store_as_sqlite() {
    let db = TestDb::new();
    let tmp = TempSqlite::new();
    let d1 = data(40, 9, 10000);
    let d2 = data(7, 4, 20000);
    let mut sq = Store::open_sqlite(&tmp.path()).expect("sqlite");
    let mut pg = PgStore::connect(&db.url).expect("postgres");
    let a = scenario(&mut sq, &d1, &d2);
    let b = scenario(&mut pg, &d1, &d2);
    assert_eq!(b, a, "run ids and deleted issues");
    assert_eq!(a.0, 1);
    compare_stores(
        &sq,
        &pg,
        &db,
        &["ENG", "OPS", "OLD"],
        &issue_ids(&[&d1, &d2]),
    );

    // The readers the sync uses beside the views.
    let ids: Vec<String> = issue_ids(&[&d1, &d2])
        .into_iter()
        .chain(["nope".to_owned()])
        .collect();
    assert_eq!(
        pg.live_issues_among(&ids).expect("pg"),
        sq.live_issues_among(&ids).expect("sqlite")
    );
    let worklogs: Vec<String> = d1
        .worklogs
        .iter()
        .chain(&d2.worklogs)
        .flatten()
        .map(|w| w.id.clone())
        .chain(["nope".to_owned()])
        .collect();
    let updates = sq.worklog_updates(&worklogs).expect("sqlite");
    assert!(!updates.is_empty());
    assert_eq!(pg.worklog_updates(&worklogs).expect("pg"), updates);

    // What the scenario did is visible (the comparison would pass on two empty stores too).
    let reads = pg.worklog_reads().expect("reads");
    assert!(
        reads.iter().any(|r| r.1) && reads.iter().any(|r| !r.1 && r.2.is_some()),
        "{reads:?}"
    );
    let c = pg.counts().expect("counts");
    assert_eq!((c.projects, c.sprints), (3, 3));
    assert!(c.issues_deleted >= 2 && c.issues > 30, "{c:?}");
    assert_eq!(
        pg.checkpoint("cred", "issues", "ENG")
            .expect("cp")
            .as_deref(),
        Some(STAMP_2)
    );
    let (_, deleted) = pg
        .query_strings("SELECT deleted_at FROM issues WHERE deleted_at IS NOT NULL ORDER BY 1")
        .expect("q");
    assert!(
        deleted
            .iter()
            .all(|r| r[0].as_deref().and_then(utc).as_deref() == Some(STAMP_2)),
        "{deleted:?}"
    );
}

/// Issues with their changelogs, comments, worklogs, sprints and refs, as a sync batch writes them.
fn write_issues(tx: &dyn Tx, d: &Data) -> Result<(), StoreError> {
    for (k, i) in d.issues.iter().enumerate() {
        tx.upsert_issue(i)?;
        tx.replace_changes(&i.id, &d.changes[k])?;
        tx.set_comments(&i.id, &d.comments[k], STAMP_1)?;
        tx.set_worklogs(&i.id, &d.worklogs[k], STAMP_1)?;
        tx.set_sprint_issues(&i.id, &d.sprints[k])?;
        tx.set_issue_refs(&i.id, &d.refs[k])?;
    }
    Ok(())
}

/// One sync batch, written as the sync writes it (`Tx::write_issues`: one statement per list on
/// PostgreSQL, issue by issue on SQLite; every seventh issue's worklogs incomplete), and the
/// project's watermark.
fn batch(tx: &dyn Tx, d: &Data, mark: &str) -> Result<(), StoreError> {
    let ids = || d.issues.iter().map(|i| i.id.clone());
    let rows = IssueBatch {
        issues: d.issues.clone(),
        changes: ids().zip(d.changes.iter().cloned()).collect(),
        comments: ids().zip(d.comments.iter().cloned()).collect(),
        worklogs: ids()
            .zip(d.worklogs.iter().cloned())
            .enumerate()
            .map(|(k, (id, w))| (id, w, k % 7 != 3))
            .collect(),
        sprints: ids().zip(d.sprints.iter().cloned()).collect(),
        refs: ids().zip(d.refs.iter().cloned()).collect(),
    };
    tx.write_issues(&rows, STAMP_1)?;
    tx.set_checkpoint("cred", "issues", "ENG", mark)
}

/// Batches of 100 issues with 30 changelog items each, written again and again, and once from a
/// thread that runs an async runtime (each statement then runs on a helper thread: see
/// `postgres.rs`), end equal to SQLite's. The time per batch is printed, not asserted.
#[test]
fn hundred_issue_batches_written_again_and_from_async_code_equal_sqlite() {
    let db = TestDb::new();
    let tmp = TempSqlite::new();
    let d = data(100, 30, 50000);
    let mut sq = Store::open_sqlite(&tmp.path()).expect("sqlite");
    let mut pg = PgStore::connect(&db.url).expect("postgres");
    // The last round lacks each issue's last worklog: marked deleted where the list is complete,
    // kept where it is not.
    let mut trimmed = data(100, 30, 50000);
    for w in &mut trimmed.worklogs {
        w.pop();
    }
    let mut times = vec![];
    for round in 0..3 {
        let d = if round == 2 { &trimmed } else { &d };
        let t = Instant::now();
        pg.write(|tx| batch(tx, d, &round.to_string()))
            .expect("postgres batch");
        times.push(t.elapsed());
        sq.write(|tx| batch(tx, d, &round.to_string()))
            .expect("sqlite batch");
    }
    let deleted = |sql: &str| pg.query_strings(sql).expect("count").1[0][0].clone();
    let (gone, kept) = (
        deleted("SELECT COUNT(*) FROM worklogs WHERE deleted_at IS NOT NULL"),
        deleted("SELECT COUNT(*) FROM worklogs WHERE deleted_at IS NULL"),
    );
    assert!(gone.as_deref() != Some("0"), "{gone:?} {kept:?}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let t = Instant::now();
    rt.block_on(async { pg.write(|tx| batch(tx, &trimmed, "2")) })
        .expect("postgres batch in a runtime");
    eprintln!(
        "100 issues with 30 changelog items each, per transaction: {times:?}; on an async runtime's thread: {:?}",
        t.elapsed()
    );
    // Issue 0 lists one item twice; the later one replaces the earlier.
    assert_eq!(pg.counts().expect("counts").changes, 100 * 30);
    compare_stores(&sq, &pg, &db, &["ENG", "OPS"], &issue_ids(&[&d]));
}

#[test]
fn a_rolled_back_write_leaves_nothing() {
    let db = TestDb::new();
    let mut pg = PgStore::connect(&db.url).expect("postgres");
    let d = data(5, 6, 10000);
    fn everything(tx: &dyn Tx, d: &Data) -> Result<(), StoreError> {
        tx.upsert_project("10000", "ENG", "Engineering", None, "{}")?;
        tx.upsert_status("1", "To Do", "new")?;
        tx.upsert_field("summary", "Summary", false, None, None)?;
        tx.upsert_lookup(Lookup::Priority, "1", "High", None)?;
        tx.upsert_user("u", None, None, true)?;
        write_issues(tx, d)?;
        for (key, v, c) in catalog(0) {
            tx.set_project_catalog(key, &v, &c, STAMP_1)?;
        }
        tx.upsert_board("1", "b", "scrum", None)?;
        tx.upsert_sprint(&SprintRow {
            id: "1".into(),
            ..Default::default()
        })?;
        tx.set_checkpoint("cred", "issues", "ENG", STAMP_1)
    }
    let empty = |pg: &PgStore| {
        let (_, views) = pg
            .query_strings("SELECT table_name FROM information_schema.views WHERE table_schema = current_schema()")
            .expect("views");
        assert!(views.len() >= 20);
        for v in views {
            let name = v[0].clone().expect("name");
            let (_, n) = pg
                .query_strings(&format!("SELECT COUNT(*) FROM {name}"))
                .expect("count");
            assert_eq!(n[0][0].as_deref(), Some("0"), "{name} is not empty");
        }
        assert_eq!(pg.checkpoint("cred", "issues", "ENG").expect("cp"), None);
        assert_eq!(pg.counts().expect("counts"), Default::default());
    };

    // The closure fails after writing everything.
    let out: Result<(), StoreError> = pg.write(|tx| {
        everything(tx, &d)?;
        assert_eq!(
            tx.live_issue_ids("ENG")?.len(),
            4,
            "the transaction sees its own writes"
        );
        Err(StoreError::TooNew {
            path: "x".into(),
            found: 9,
        })
    });
    assert!(
        matches!(out, Err(StoreError::TooNew { found: 9, .. })),
        "{out:?}"
    );
    empty(&pg);

    // A statement fails on the server and the closure goes on: nothing is committed either
    // (PostgreSQL would turn that COMMIT into a silent rollback).
    let out = pg.write(|tx| {
        everything(tx, &d)?;
        let bad = IssueRow {
            id: "x".into(),
            key: "ENG-X".into(),
            project_key: "ENG".into(),
            summary: Some("a NUL \0 byte, which PostgreSQL text cannot hold".into()),
            raw_json: "{}".into(),
            ..Default::default()
        };
        assert!(tx.upsert_issue(&bad).is_err());
        Ok(())
    });
    assert!(matches!(out, Err(StoreError::Postgres(_))), "{out:?}");
    empty(&pg);

    // The closure panics: the transaction is rolled back and the store stays usable.
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = pg.write(|tx| -> Result<(), StoreError> {
            everything(tx, &d)?;
            panic!("the closure panics");
        });
    }));
    assert!(caught.is_err());
    empty(&pg);

    // And then everything is written at once (statements prepared in rolled-back transactions
    // are still valid).
    pg.write(|tx| everything(tx, &d)).expect("write");
    let c = pg.counts().expect("counts");
    assert_eq!((c.projects, c.issues, c.sprints), (1, 5, 1));
    assert_eq!(
        pg.checkpoint("cred", "issues", "ENG")
            .expect("cp")
            .as_deref(),
        Some(STAMP_1)
    );
}

#[test]
fn migrating_twice_is_a_noop_and_a_newer_schema_is_refused() {
    let db = TestDb::new();
    let schema = |c: &mut postgres::Client| {
        pg_rows(
            c,
            "SELECT table_name::text, column_name::text, data_type::text, collation_name::text
             FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY 1, 2",
        )
        .1
    };
    // Two first connections at once: one migrates, the other waits and finds it done.
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let url = db.url.clone();
            std::thread::spawn(move || PgStore::connect(&url).map(|_| ()))
        })
        .collect();
    for t in threads {
        t.join().expect("thread").expect("concurrent connect");
    }
    let mut pg = PgStore::connect(&db.url).expect("connect");
    pg.write(|tx| tx.upsert_project("1", "ENG", "Engineering", None, "{}"))
        .expect("write");
    let mut c = db.client();
    let before = schema(&mut c);
    let versions = |pg: &PgStore| {
        pg.query_strings("SELECT version FROM schema_migrations ORDER BY version")
            .expect("versions")
            .1
    };
    let applied = versions(&pg);
    assert_eq!(
        applied,
        crate::migration_versions("postgres")
            .iter()
            .map(|v| vec![Some(v.to_string())])
            .collect::<Vec<_>>()
    );
    drop(pg);

    let pg = PgStore::connect(&db.url).expect("reconnect");
    assert_eq!(versions(&pg), applied);
    assert_eq!(schema(&mut c), before);
    assert_eq!(pg.counts().expect("counts").projects, 1);
    // Every text column compares bytes, as SQLite does, whatever the database's collation.
    let text_cols = before
        .iter()
        .filter(|r| r[2] == V::Text("text".into()) && r[0] != V::Text("schema_migrations".into()));
    for r in text_cols {
        assert_eq!(r[3], V::Text("C".into()), "{r:?}");
    }
    drop(pg);

    c.batch_execute("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 'later')")
        .expect("insert");
    match PgStore::connect(&db.url) {
        Err(StoreError::TooNew { found, path }) => {
            assert_eq!(found, 99);
            assert!(path.contains(&db.name), "{path}");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a newer schema was accepted"),
    }
    assert_eq!(schema(&mut c), before, "a refused store is not touched");
}

#[test]
fn the_reader_sees_committed_writes_only_and_cannot_write() {
    let db = TestDb::new();
    let mut pg = PgStore::connect(&db.url).expect("connect");
    let mut reader = pg.reader().expect("reader");
    let d = data(3, 2, 10000);
    pg.write(|tx| {
        tx.upsert_issue(&d.issues[0])?;
        let seen = reader.live_issue_ids("ENG").expect("read");
        assert!(seen.is_empty(), "an uncommitted issue was seen: {seen:?}");
        Ok(())
    })
    .expect("write");
    assert_eq!(
        reader.live_issue_ids("ENG").expect("read"),
        vec![d.issues[0].id.clone()]
    );
    assert_eq!(
        format!("{:?}", reader.issue_row(&d.issues[0].id).expect("row")),
        format!("{:?}", Some(&d.issues[0]))
    );
    assert!(reader.begin_run("cred").is_err(), "the reader wrote");
    assert!(reader
        .write(|tx| tx.set_checkpoint("c", "s", "x", "v"))
        .is_err());
    assert_eq!(pg.checkpoint("c", "s", "x").expect("cp"), None);
}

#[test]
fn query_strings_renders_the_status_query() {
    let db = TestDb::new();
    let mut pg = PgStore::connect(&db.url).expect("connect");
    let (cols, rows) = pg
        .query_strings("SELECT id, credential, error FROM sync_runs ORDER BY id DESC LIMIT 10")
        .expect("empty");
    assert_eq!(cols, ["id", "credential", "error"]);
    assert!(rows.is_empty());
    let a = pg.begin_run("cred").expect("begin");
    pg.finish_run(a, "failed", 12, 3, Some("it broke"))
        .expect("finish");
    let b = pg.begin_run("cred").expect("begin");
    let (cols, rows) = pg
        .query_strings(
            "SELECT id, credential, started, finished, status, requests, issues_written, error
             FROM sync_runs ORDER BY id DESC LIMIT 10",
        )
        .expect("runs");
    assert_eq!(
        cols,
        [
            "id",
            "credential",
            "started",
            "finished",
            "status",
            "requests",
            "issues_written",
            "error"
        ]
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][0], Some(b.to_string()));
    assert_eq!(rows[0][3], None);
    assert_eq!(rows[0][4].as_deref(), Some("running"));
    assert_eq!(
        rows[1]
            .iter()
            .map(|v| v.as_deref().unwrap_or("NULL"))
            .filter(|v| !v.starts_with("20"))
            .collect::<Vec<_>>(),
        [
            a.to_string().as_str(),
            "cred",
            "failed",
            "12",
            "3",
            "it broke"
        ]
    );
    assert!(rows[1][2..4].iter().all(|t| is_store_time(
        &t.as_deref()
            .map_or(V::Null, |t| V::Text(utc(t).unwrap_or_else(|| t.to_owned())))
    )));
    assert!(pg.query_strings("SELECT nope FROM sync_runs").is_err());
}

#[test]
fn works_from_async_code_on_a_current_thread_runtime() {
    let db = TestDb::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let d = data(4, 3, 10000);
    rt.block_on(async {
        let mut pg = PgStore::connect(&db.url).expect("connect");
        let reader = pg.reader().expect("reader");
        pg.write(|tx| {
            for (k, i) in d.issues.iter().enumerate() {
                tx.upsert_issue(i)?;
                tx.replace_changes(&i.id, &d.changes[k])?;
            }
            Ok(())
        })
        .expect("write");
        let failed: Result<(), StoreError> = pg.write(|tx| {
            tx.mark_issues_deleted(&[d.issues[0].id.clone()], STAMP_1)?;
            Err(StoreError::TooNew {
                path: String::new(),
                found: 0,
            })
        });
        assert!(failed.is_err());
        tokio::task::yield_now().await;
        let mut ids = reader.live_issue_ids("ENG").expect("read");
        ids.sort();
        assert_eq!(ids.len(), 3);
        assert_eq!(pg.counts().expect("counts").changes, 4 * 3);
        // Dropped here, inside the runtime.
    });
}

#[test]
fn a_store_moves_between_threads() {
    fn send<T: Send>() {}
    send::<PgStore>();
}

#[test]
fn migration_7_moves_sprint_dates_to_utc_and_the_views_give_timestamptz() {
    let db = TestDb::new();
    let mut pg = PgStore::connect(&db.url).expect("connect");
    pg.write(|tx| {
        tx.upsert_sprint(&SprintRow {
            id: "1".into(),
            start_date: Some("2015-04-11T15:22:00.000+10:00".into()),
            end_date: Some("2015-04-25T01:00:00.000Z".into()),
            complete_date: Some("not a date".into()),
            ..Default::default()
        })
    })
    .expect("write");
    let mut c = db.client();
    // As a store written by an earlier version would be, migrated again.
    c.batch_execute(include_str!(
        "../../migrations/postgres/0007_timestamptz_views.sql"
    ))
    .expect("migration 7");
    let (_, rows) = pg_rows(
        &mut c,
        "SELECT start_date, end_date, complete_date FROM t_sprints",
    );
    assert_eq!(
        rows,
        [vec![
            V::Text("2015-04-11T05:22:00.000Z".into()),
            V::Text("2015-04-25T01:00:00.000Z".into()),
            V::Null
        ]]
    );
    let (_, rows) = pg_rows(&mut c, "SELECT start_date FROM sprints");
    assert_eq!(rows[0][0], V::Text("2015-04-11T05:22:00.000Z".into()));
    let (_, is) = pg
        .query_strings(
            "SELECT end_date - start_date = interval '13 days 19 hours 38 minutes' FROM sprints",
        )
        .expect("interval");
    assert_eq!(is[0][0].as_deref(), Some("t"));
}

#[test]
fn sslmode_require_is_tls_verified_against_the_given_ca() {
    let db = TestDb::new();
    let mut c = db.client();
    // scripts/setup-postgres.sh signs the server's certificate with a CA of its own.
    let ca = match &pg_rows(&mut c, "SELECT current_setting('ssl_ca_file')").1[0][0] {
        V::Text(path) if !path.is_empty() => path.clone(),
        v => panic!("the test server has no ssl_ca_file ({v:?}): run scripts/setup-postgres.sh"),
    };
    let tls_url = format!("{}?sslmode=require", db.url);
    let on_tls = |pg: &PgStore| {
        pg.query_strings("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .expect("pg_stat_ssl")
            .1[0][0]
            .clone()
    };
    // The store reads no environment: the CA comes in the target (the binary reads PGSSLROOTCERT).
    let with_ca = |ca: Option<&str>| PgTarget {
        url: tls_url.clone(),
        password: None,
        root_cert: ca.map(PathBuf::from),
    };
    let untrusted = PgStore::connect_to(&with_ca(None))
        .err()
        .expect("an unknown CA is refused");
    // The message says why and names the fix.
    assert!(
        untrusted.to_string().contains("certificate is not trusted")
            && untrusted.to_string().contains("set PGSSLROOTCERT"),
        "{untrusted}"
    );
    let missing = PgStore::connect_to(&with_ca(Some("/nonexistent/ca.pem")))
        .err()
        .expect("a missing CA file is an error");
    assert!(
        missing
            .to_string()
            .contains("PGSSLROOTCERT=/nonexistent/ca.pem"),
        "{missing}"
    );
    let pg = PgStore::connect_to(&with_ca(Some(&ca))).expect("TLS with the test CA");
    assert_eq!(on_tls(&pg).as_deref(), Some("t"));
    pg.reader().expect("a reader over TLS too");
    // Without sslmode=require the connection stays plain.
    assert_eq!(
        on_tls(&PgStore::connect(&db.url).expect("plain")).as_deref(),
        Some("f")
    );
}

/// The public views' columns, in order, with their declared types: SQLite's `pragma table_info`
/// (the type of the table column a view column reads) beside PostgreSQL's `information_schema`.
fn view_columns(sq: &Store, pg: &mut postgres::Client, view: &str) -> (Rows, Rows) {
    let sqlite = sqlite_rows(
        sq,
        &format!("SELECT name, type FROM pragma_table_info('{view}') ORDER BY cid"),
    );
    let postgres = pg_rows(
        pg,
        &format!(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = '{view}' ORDER BY ordinal_position"
        ),
    );
    (sqlite, postgres)
}

/// The type family of a column: SQLite's declared type against the PostgreSQL types the store
/// maps it to (text, or `timestamptz`/`date` for times kept as ISO-8601 text; integers as
/// `bigint`; numbers as `double precision`).
fn same_family(sqlite: &str, postgres: &str) -> bool {
    match sqlite.to_ascii_uppercase().as_str() {
        "TEXT" => matches!(postgres, "text" | "timestamp with time zone" | "date"),
        "INTEGER" => postgres == "bigint",
        "REAL" => postgres == "double precision",
        _ => false,
    }
}

#[test]
fn every_public_view_has_the_same_columns_and_types_on_both_backends() {
    let db = TestDb::new();
    let tmp = TempSqlite::new();
    let sq = Store::open_sqlite(&tmp.path()).expect("sqlite");
    let _pg_store = PgStore::connect(&db.url).expect("postgres");
    let mut pg = db.client();
    let views = sqlite_names(&sq, "view");
    assert_eq!(pg_names(&mut pg, "view"), views, "the public views");
    let mut differences = Vec::new();
    for view in &views {
        let ((_, sq_cols), (_, pg_cols)) = view_columns(&sq, &mut pg, view);
        assert!(!sq_cols.is_empty(), "{view}: no columns");
        let name = |r: &Vec<V>| match &r[0] {
            V::Text(t) => t.clone(),
            v => panic!("{v:?}"),
        };
        let names: Vec<String> = sq_cols.iter().map(name).collect();
        let pg_names: Vec<String> = pg_cols.iter().map(name).collect();
        if names != pg_names {
            differences.push(format!("{view}: columns {names:?} against {pg_names:?}"));
            continue;
        }
        for (s, p) in sq_cols.iter().zip(&pg_cols) {
            let (V::Text(st), V::Text(pt)) = (&s[1], &p[1]) else {
                panic!("{view}: {s:?} {p:?}");
            };
            if !same_family(st, pt) {
                differences.push(format!(
                    "{view}.{}: SQLite {st:?} against PostgreSQL {pt:?}",
                    name(s)
                ));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "the backends' public views differ:\n{}",
        differences.join("\n")
    );
}

#[test]
fn an_edited_applied_migration_is_refused_and_checksums_are_adopted() {
    let db = TestDb::new();
    drop(PgStore::connect(&db.url).expect("connect"));
    let mut c = db.client();
    let recorded = |c: &mut postgres::Client| {
        pg_rows(
            c,
            "SELECT version, checksum FROM schema_migrations ORDER BY version",
        )
        .1
    };
    let with_sums = recorded(&mut c);
    assert!(with_sums
        .iter()
        .all(|r| matches!(&r[1], V::Text(s) if s.len() == 64)));

    // A store migrated before checksums were recorded adopts this build's.
    c.batch_execute("ALTER TABLE schema_migrations DROP COLUMN checksum")
        .expect("as an older jiralink left it");
    drop(PgStore::connect(&db.url).expect("adopting connect"));
    assert_eq!(recorded(&mut c), with_sums);

    // Migration 5 as applied differs from this build's text: refused, and nothing changes.
    let other = jiralink_store::migrate::checksum("-- an edited migration 5");
    c.execute(
        "UPDATE schema_migrations SET checksum = $1 WHERE version = 5",
        &[&other],
    )
    .expect("tamper");
    let before = recorded(&mut c);
    match PgStore::connect(&db.url) {
        Err(e @ StoreError::EditedMigration { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("migrations/postgres/0005_*.sql")
                    && text.contains(&db.name)
                    && text.contains("put the change in a new migration"),
                "{text}"
            );
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("an edited migration was accepted"),
    }
    assert_eq!(recorded(&mut c), before, "a refused store is not touched");
}
