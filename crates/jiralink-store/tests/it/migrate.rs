//! The migration runner on SQLite: every migration file is applied once with its checksum; a store
//! whose applied migration differs from this build's text is refused, untouched, with a message
//! naming the migration and the fix; a store from before checksums adopts them.

use jiralink_store::{Backend, Store, StoreError};
use rusqlite::Connection;

fn temp_store(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("jiralink-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir.join("store.db")
}

/// A new store (every migration applied) holding one project, closed.
fn store_with_a_project(name: &str) -> std::path::PathBuf {
    let path = temp_store(name);
    let mut store = Store::open_sqlite(&path).expect("store");
    store
        .write(|tx| tx.upsert_project("1", "ENG", "Engineering", None, "{}"))
        .expect("write");
    path
}

fn recorded(path: &std::path::Path) -> Vec<(i64, Option<String>)> {
    let conn = Connection::open(path).expect("open");
    let mut st = conn
        .prepare("SELECT version, checksum FROM schema_migrations ORDER BY version")
        .expect("select");
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[test]
fn every_migration_file_is_applied_once_with_its_checksum() {
    let path = temp_store("files");
    drop(Store::open_sqlite(&path).expect("store"));
    let rows = recorded(&path);
    let versions: Vec<i64> = rows.iter().map(|(v, _)| *v).collect();
    assert_eq!(versions, crate::migration_versions("sqlite"));
    assert_eq!(
        versions,
        crate::migration_versions("postgres"),
        "a migration needs its twin"
    );
    for (v, sum) in &rows {
        assert_eq!(
            sum.as_deref().map(str::len),
            Some(64),
            "migration {v}: {sum:?}"
        );
    }
    drop(Store::open_sqlite(&path).expect("reopen"));
    assert_eq!(recorded(&path), rows, "opening again changes nothing");
}

#[test]
fn an_edited_applied_migration_is_refused_and_the_store_left_as_it_was() {
    let path = store_with_a_project("edited");
    // The store applied a migration 3 whose text differs from this build's: as if the file had
    // been edited after it ran.
    let conn = Connection::open(&path).expect("open");
    let other = jiralink_store::migrate::checksum("CREATE TABLE t_statuses (id TEXT); -- edited");
    conn.execute(
        "UPDATE schema_migrations SET checksum = ?1 WHERE version = 3",
        [&other],
    )
    .expect("tamper");
    drop(conn);
    let before = recorded(&path);

    let e = match Store::open_sqlite(&path) {
        Err(e) => e,
        Ok(_) => panic!("an edited migration was accepted"),
    };
    let text = e.to_string();
    assert!(matches!(e, StoreError::EditedMigration { .. }), "{text}");
    assert!(
        text.contains("migrations/sqlite/0003_*.sql")
            && text.contains(&path.display().to_string())
            && text.contains("restore its text and put the change in a new migration"),
        "{text}"
    );
    assert_eq!(recorded(&path), before, "a refused store is not touched");
}

#[test]
fn a_store_from_before_checksums_adopts_them_and_keeps_its_rows() {
    let path = store_with_a_project("adopt");
    let with_sums = recorded(&path);
    let conn = Connection::open(&path).expect("open");
    conn.execute_batch("ALTER TABLE schema_migrations DROP COLUMN checksum")
        .expect("as an older jiralink left it");
    drop(conn);

    let store = Store::open_sqlite(&path).expect("adopting store");
    assert_eq!(store.counts().expect("counts").projects, 1);
    drop(store);
    assert_eq!(recorded(&path), with_sums);
}

#[test]
fn a_sprint_date_that_is_not_a_time_is_cleared_as_on_postgres() {
    let path = temp_store("m12");
    drop(Store::open_sqlite(&path).expect("store"));
    let conn = Connection::open(&path).expect("open");
    conn.execute_batch(
        "INSERT INTO t_sprints (site_id, id, board_id, name, state, start_date, end_date, complete_date)
         VALUES ('s', '7', '5', 'S', 'closed', 'someday', '2024-01-02T03:04:05.000Z', NULL);
         DELETE FROM schema_migrations WHERE version = 12",
    )
    .expect("an unreadable date kept by migration 7");
    drop(conn);
    drop(Store::open_sqlite(&path).expect("migration 12"));
    let conn = Connection::open(&path).expect("open");
    let dates: (Option<String>, Option<String>) = conn
        .query_row("SELECT start_date, end_date FROM t_sprints", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("sprint");
    assert_eq!(dates, (None, Some("2024-01-02T03:04:05.000Z".to_owned())));
}
