//! The app's accounts (`jiralink_store::web::Accounts`) behave the same in SQLite and in
//! PostgreSQL: one SQL text per statement for both, run here on each (PostgreSQL needs
//! `JIRALINK_TEST_POSTGRES`).

use jiralink_store::postgres::PgTarget;
use jiralink_store::web::{open_accounts, Accounts};
use jiralink_store::StoreLocation;

use crate::support::TestDb;

fn round_trip(s: &mut dyn Accounts) {
    assert!(!s.web_admin_exists().expect("q"));
    assert!(s
        .web_put_user("ann", "admin", Some("$argon2id$x"))
        .expect("put"));
    assert!(!s.web_put_user("ann", "admin", None).expect("put"));
    assert!(s
        .web_put_user("bob", "member", Some("$argon2id$y"))
        .expect("put"));
    assert_eq!(
        s.web_user("ann").expect("q").and_then(|u| u.password_hash),
        Some("$argon2id$x".into()),
        "a role change without a password keeps the hash"
    );
    let names: Vec<String> = s
        .web_users()
        .expect("q")
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["ann", "bob"]);
    assert!(s.web_admin_exists().expect("q"));
    s.web_create_session("h1", "ann", "c1", "9999-01-01T00:00:00Z")
        .expect("session");
    s.web_create_session("h2", "ann", "c2", "2000-01-01T00:00:00Z")
        .expect("session");
    let live = s.web_session("h1").expect("q").expect("live session");
    assert_eq!((live.user.name.as_str(), live.csrf.as_str()), ("ann", "c1"));
    assert!(s.web_session("h2").expect("q").is_none(), "expired");
    s.web_delete_session("h1").expect("delete");
    assert!(s.web_session("h1").expect("q").is_none());
    s.web_create_session("h3", "bob", "c3", "9999-01-01T00:00:00Z")
        .expect("session");

    s.web_create_token("t1", "ann", "ci", "th").expect("token");
    s.web_create_token("t2", "bob", "cd", "th2").expect("token");
    assert_eq!(
        s.web_token_user("th").expect("q").map(|u| u.name),
        Some("ann".into())
    );
    let mine = s.web_tokens(Some("ann")).expect("q");
    assert_eq!(mine.len(), 1);
    assert!(mine[0].last_used.is_some(), "the use is recorded");
    assert_eq!(s.web_tokens(None).expect("q").len(), 2);
    assert!(
        !s.web_revoke_token("t1", Some("bob")).expect("q"),
        "not bob's"
    );
    assert!(s.web_revoke_token("t1", Some("ann")).expect("q"));
    assert!(!s.web_revoke_token("t1", None).expect("q"), "revoked once");
    assert!(s.web_token_user("th").expect("q").is_none());

    s.web_create_link("l", "setup", None, "9999-01-01T00:00:00Z")
        .expect("link");
    s.web_create_link("m", "signin", Some("bob"), "2000-01-01T00:00:00Z")
        .expect("link");
    assert_eq!(s.web_link_live("l").expect("q"), Some("setup".into()));
    assert_eq!(s.web_link_live("m").expect("q"), None, "expired");
    assert_eq!(
        s.web_use_link("l").expect("q"),
        Some(("setup".into(), None))
    );
    assert_eq!(s.web_use_link("l").expect("q"), None, "one time only");
    assert_eq!(s.web_use_link("m").expect("q"), None, "expired");

    s.web_put_test("c", false, Some("bad_credentials"))
        .expect("test");
    let t = s.web_tests().expect("q");
    assert!(!t["c"].ok && t["c"].code.as_deref() == Some("bad_credentials"));
    s.web_put_test("c", true, None).expect("test");
    let t = s.web_tests().expect("q");
    assert!(t["c"].ok && t["c"].code.is_none());

    s.web_audit("ann", "sign-in", "", "ok").expect("audit");
    s.web_audit("bob", "sign-in", "", "ok").expect("audit");
    s.web_audit("ann", "sync", "c", "ok").expect("audit");
    let all = s.web_audit_log(None, 10).expect("q");
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].action, "sync", "newest first");
    assert_eq!(s.web_audit_log(None, 2).expect("q").len(), 2, "limited");
    let anns = s.web_audit_log(Some("ann"), 10).expect("q");
    assert!(anns.len() == 2 && anns.iter().all(|r| r.actor == "ann"));

    s.web_put_stages(
        &[
            ("Review".into(), "waiting".into()),
            ("QA".into(), "waiting".into()),
        ],
        "ann",
    )
    .expect("stages");
    s.web_put_stages(&[("QA".into(), "active".into())], "ann")
        .expect("stages");
    let st = s.web_stages().expect("q");
    assert_eq!(st.len(), 1, "the map is replaced whole");
    assert_eq!(
        (st[0].status.as_str(), st[0].stage.as_str()),
        ("QA", "active")
    );

    assert!(s.web_remove_user("bob").expect("rm"));
    assert!(!s.web_remove_user("bob").expect("rm"), "removed once");
    assert!(
        s.web_session("h3").expect("q").is_none(),
        "bob's sessions end"
    );
    assert!(
        s.web_token_user("th2").expect("q").is_none(),
        "bob's tokens are revoked"
    );
    assert!(s.web_tokens(Some("bob")).expect("q")[0].revoked.is_some());
}

#[test]
fn the_accounts_round_trip_in_sqlite() {
    let dir = std::env::temp_dir().join(format!("jiralink-web-accounts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let mut s = open_accounts(&StoreLocation::Sqlite(dir.join("s.db"))).expect("open");
    round_trip(&mut *s);
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_accounts_round_trip_in_postgres() {
    let db = TestDb::new("accounts");
    let mut s = open_accounts(&StoreLocation::Postgres(PgTarget::new(&db.url()))).expect("open");
    round_trip(&mut *s);
}
