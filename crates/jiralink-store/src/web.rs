//! The web app's accounts in the store (migration 11), SQLite or PostgreSQL: users, sessions, API
//! tokens, one-time links, the last connection test of each credential, and the app's audit log;
//! and the stages of statuses its Stages page sets (migration 14).
//! Only hashes of session, token and link values are kept; the caller hashes (the store never
//! sees a password or a token).
//!
//! [`Accounts`] is written once over both dialects: every statement is one SQL text with `$n`
//! parameters numbered in order of first use (as `shared` does), run through a sealed `Sql`
//! each backend implements in a few lines; the rows come back as plain cells.

use crate::shared::Param;
use crate::{now, Result, Store, StoreLocation};

/// A web-app account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebUser {
    pub name: String,
    /// `admin`, `member` or `viewer`.
    pub role: String,
    /// The argon2id hash (PHC string); `None` until a password is set (setup link).
    pub password_hash: Option<String>,
    pub created: String,
}

/// A signed-in session, found by the hash of its cookie value.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub user: WebUser,
    pub csrf: String,
    pub expires: String,
}

/// An API token as listed (its value is shown once, at creation, and never kept).
#[derive(Debug, Clone)]
pub struct ApiTokenRow {
    pub id: String,
    pub user: String,
    pub label: String,
    pub created: String,
    pub last_used: Option<String>,
    pub revoked: Option<String>,
}

/// One line of the app's audit log.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
}

/// The last connection test of a credential.
#[derive(Debug, Clone)]
pub struct TestRow {
    pub at: String,
    pub ok: bool,
    pub code: Option<String>,
}

/// A status's stage as the Stages page set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRow {
    /// A status name or id.
    pub status: String,
    /// `to_do`, `active`, `waiting` or `done`.
    pub stage: String,
    pub updated: String,
    pub updated_by: String,
}

mod sealed {
    use crate::shared::Param;
    use crate::Result;

    /// One cell of a result row: the statements here read only text and integers.
    #[derive(Debug, Clone)]
    pub enum Cell {
        Null,
        Text(String),
        Int(i64),
    }

    /// A result row of an accounts statement.
    #[derive(Debug, Clone)]
    pub struct Row(pub Vec<Cell>);

    pub fn bad_cell(i: usize, want: &str) -> crate::StoreError {
        crate::StoreError::Value(crate::DbError(
            format!("accounts column {i}: expected {want}").into(),
        ))
    }

    impl Row {
        fn cell(&self, i: usize) -> &Cell {
            self.0.get(i).unwrap_or(&Cell::Null)
        }

        pub fn opt(&self, i: usize) -> Result<Option<String>> {
            match self.cell(i) {
                Cell::Null => Ok(None),
                Cell::Text(s) => Ok(Some(s.clone())),
                Cell::Int(_) => Err(bad_cell(i, "text")),
            }
        }

        pub fn text(&self, i: usize) -> Result<String> {
            self.opt(i)?.ok_or_else(|| bad_cell(i, "text, not null"))
        }

        pub fn int(&self, i: usize) -> Result<i64> {
            self.opt_int(i)?
                .ok_or_else(|| bad_cell(i, "an integer, not null"))
        }

        pub fn opt_int(&self, i: usize) -> Result<Option<i64>> {
            match self.cell(i) {
                Cell::Null => Ok(None),
                Cell::Int(n) => Ok(Some(*n)),
                Cell::Text(_) => Err(bad_cell(i, "an integer")),
            }
        }

        pub fn user(&self) -> Result<super::WebUser> {
            Ok(super::WebUser {
                name: self.text(0)?,
                role: self.text(1)?,
                password_hash: self.opt(2)?,
                created: self.text(3)?,
            })
        }
    }

    /// Runs the accounts' statements on one backend. Sealed: only this crate's stores implement
    /// it, and only [`super::Accounts`]'s provided methods call it.
    pub trait Sql {
        fn exec(&self, sql: &'static str, params: &[Param<'_>]) -> Result<u64>;
        fn rows(&self, sql: &'static str, params: &[Param<'_>]) -> Result<Vec<Row>>;
        /// Runs the statements in one transaction: all of them, or none.
        fn exec_all(&mut self, stmts: &[(&'static str, Vec<Param<'_>>)]) -> Result<Vec<u64>>;
    }
}

use sealed::{bad_cell, Cell};
pub(crate) use sealed::{Row, Sql};

const USER: &str = "SELECT name, role, password_hash, created FROM t_web_users WHERE name = $1";
const USERS: &str = "SELECT name, role, password_hash, created FROM t_web_users ORDER BY name";
const PUT_USER: &str =
    "INSERT INTO t_web_users (name, role, password_hash, created) VALUES ($1, $2, $3, $4)
     ON CONFLICT (name) DO UPDATE SET role = excluded.role,
       password_hash = COALESCE(excluded.password_hash, t_web_users.password_hash)";
const END_SESSIONS_OF: &str = "DELETE FROM t_web_sessions WHERE user_name = $1";
const REVOKE_TOKENS_OF: &str =
    "UPDATE t_web_api_tokens SET revoked = $1 WHERE user_name = $2 AND revoked IS NULL";
const REMOVE_USER: &str = "DELETE FROM t_web_users WHERE name = $1";
const ADMIN_COUNT: &str =
    "SELECT COUNT(*) FROM t_web_users WHERE role = 'admin' AND password_hash IS NOT NULL";
const END_EXPIRED: &str = "DELETE FROM t_web_sessions WHERE expires <= $1";
const CREATE_SESSION: &str = "INSERT INTO t_web_sessions (token_hash, user_name, csrf, created, expires) VALUES ($1, $2, $3, $4, $5)";
const SESSION: &str = "SELECT u.name, u.role, u.password_hash, u.created, s.csrf, s.expires
     FROM t_web_sessions s JOIN t_web_users u ON u.name = s.user_name
     WHERE s.token_hash = $1 AND s.expires > $2";
const DELETE_SESSION: &str = "DELETE FROM t_web_sessions WHERE token_hash = $1";
const CREATE_TOKEN: &str = "INSERT INTO t_web_api_tokens (id, user_name, label, token_hash, created) VALUES ($1, $2, $3, $4, $5)";
const TOKEN_USER: &str = "SELECT u.name, u.role, u.password_hash, u.created FROM t_web_api_tokens t
     JOIN t_web_users u ON u.name = t.user_name
     WHERE t.token_hash = $1 AND t.revoked IS NULL";
const TOKEN_USED: &str = "UPDATE t_web_api_tokens SET last_used = $1 WHERE token_hash = $2";
const TOKENS: &str =
    "SELECT id, user_name, label, created, last_used, revoked FROM t_web_api_tokens
     WHERE CAST($1 AS TEXT) IS NULL OR user_name = $1 ORDER BY created, id";
const REVOKE_TOKEN: &str = "UPDATE t_web_api_tokens SET revoked = $1
     WHERE id = $2 AND (CAST($3 AS TEXT) IS NULL OR user_name = $3) AND revoked IS NULL";
const CREATE_LINK: &str = "INSERT INTO t_web_links (token_hash, purpose, user_name, created, expires) VALUES ($1, $2, $3, $4, $5)";
const USE_LINK: &str =
    "UPDATE t_web_links SET used = $1 WHERE token_hash = $2 AND used IS NULL AND expires > $1
     RETURNING purpose, user_name";
const LINK_LIVE: &str =
    "SELECT purpose FROM t_web_links WHERE token_hash = $1 AND used IS NULL AND expires > $2";
const AUDIT: &str =
    "INSERT INTO t_web_audit (at, actor, action, target, outcome) VALUES ($1, $2, $3, $4, $5)";
const AUDIT_LOG: &str = "SELECT id, at, actor, action, target, outcome FROM t_web_audit
     WHERE CAST($1 AS TEXT) IS NULL OR actor = $1 ORDER BY id DESC LIMIT $2";
// `ok` is an INTEGER column: the cast makes PostgreSQL take the parameter as a BIGINT, as bound.
const PUT_TEST: &str = "INSERT INTO t_web_tests (credential, at, ok, code) VALUES ($1, $2, CAST($3 AS BIGINT), $4)
     ON CONFLICT (credential) DO UPDATE SET at = excluded.at, ok = excluded.ok, code = excluded.code";
const TESTS: &str = "SELECT credential, at, ok, code FROM t_web_tests";
const STAGES: &str = "SELECT status, stage, updated, updated_by FROM t_web_stages ORDER BY status";
const CLEAR_STAGES: &str = "DELETE FROM t_web_stages";
const PUT_STAGE: &str =
    "INSERT INTO t_web_stages (status, stage, updated, updated_by) VALUES ($1, $2, $3, $4)";

/// Every statement, for the tests that check their parameters and run each on SQLite.
#[cfg(test)]
const ALL: &[&str] = &[
    USER,
    USERS,
    PUT_USER,
    END_SESSIONS_OF,
    REVOKE_TOKENS_OF,
    REMOVE_USER,
    ADMIN_COUNT,
    END_EXPIRED,
    CREATE_SESSION,
    SESSION,
    DELETE_SESSION,
    CREATE_TOKEN,
    TOKEN_USER,
    TOKEN_USED,
    TOKENS,
    REVOKE_TOKEN,
    CREATE_LINK,
    USE_LINK,
    LINK_LIVE,
    AUDIT,
    AUDIT_LOG,
    PUT_TEST,
    TESTS,
    STAGES,
    CLEAR_STAGES,
    PUT_STAGE,
];

/// The web app's accounts, in either store ([`open_accounts`]).
pub trait Accounts: Sql + Send {
    /// Whether the connection is still usable: a PostgreSQL connection the server closed (a
    /// restart, an idle timeout) is not, and the holder opens the store again.
    fn is_open(&self) -> bool {
        true
    }

    fn web_user(&self, name: &str) -> Result<Option<WebUser>> {
        self.rows(USER, &[name.into()])?
            .first()
            .map(Row::user)
            .transpose()
    }

    fn web_users(&self) -> Result<Vec<WebUser>> {
        self.rows(USERS, &[])?.iter().map(Row::user).collect()
    }

    /// Adds a user, or changes the role and password of an existing one. Returns whether it was new.
    fn web_put_user(&self, name: &str, role: &str, password_hash: Option<&str>) -> Result<bool> {
        let existed = self.web_user(name)?.is_some();
        let at = now();
        self.exec(
            PUT_USER,
            &[name.into(), role.into(), password_hash.into(), (&at).into()],
        )?;
        Ok(!existed)
    }

    /// Removes a user with their sessions and API tokens (one transaction). Returns whether the
    /// user existed.
    fn web_remove_user(&mut self, name: &str) -> Result<bool> {
        let at = now();
        let n = self.exec_all(&[
            (END_SESSIONS_OF, vec![name.into()]),
            (REVOKE_TOKENS_OF, vec![(&at).into(), name.into()]),
            (REMOVE_USER, vec![name.into()]),
        ])?;
        Ok(n.last().is_some_and(|n| *n > 0))
    }

    fn web_admin_exists(&self) -> Result<bool> {
        Ok(match self.rows(ADMIN_COUNT, &[])?.first() {
            Some(r) => r.int(0)? > 0,
            None => false,
        })
    }

    fn web_create_session(
        &self,
        token_hash: &str,
        user: &str,
        csrf: &str,
        expires: &str,
    ) -> Result<()> {
        let at = now();
        self.exec(END_EXPIRED, &[(&at).into()])?;
        self.exec(
            CREATE_SESSION,
            &[
                token_hash.into(),
                user.into(),
                csrf.into(),
                (&at).into(),
                expires.into(),
            ],
        )?;
        Ok(())
    }

    /// The live session of that hash (expired ones are never returned, and are deleted when a
    /// session starts).
    fn web_session(&self, token_hash: &str) -> Result<Option<WebSession>> {
        let at = now();
        self.rows(SESSION, &[token_hash.into(), (&at).into()])?
            .first()
            .map(|r| {
                Ok(WebSession {
                    user: r.user()?,
                    csrf: r.text(4)?,
                    expires: r.text(5)?,
                })
            })
            .transpose()
    }

    fn web_delete_session(&self, token_hash: &str) -> Result<()> {
        self.exec(DELETE_SESSION, &[token_hash.into()])?;
        Ok(())
    }

    fn web_create_token(&self, id: &str, user: &str, label: &str, token_hash: &str) -> Result<()> {
        let at = now();
        self.exec(
            CREATE_TOKEN,
            &[
                id.into(),
                user.into(),
                label.into(),
                token_hash.into(),
                (&at).into(),
            ],
        )?;
        Ok(())
    }

    /// The user of a live (not revoked) API token, its last use recorded.
    fn web_token_user(&self, token_hash: &str) -> Result<Option<WebUser>> {
        let user = self
            .rows(TOKEN_USER, &[token_hash.into()])?
            .first()
            .map(Row::user)
            .transpose()?;
        if user.is_some() {
            let at = now();
            self.exec(TOKEN_USED, &[(&at).into(), token_hash.into()])?;
        }
        Ok(user)
    }

    /// API tokens of `user`, or of everyone when `None`.
    fn web_tokens(&self, user: Option<&str>) -> Result<Vec<ApiTokenRow>> {
        self.rows(TOKENS, &[user.into()])?
            .iter()
            .map(|r| {
                Ok(ApiTokenRow {
                    id: r.text(0)?,
                    user: r.text(1)?,
                    label: r.text(2)?,
                    created: r.text(3)?,
                    last_used: r.opt(4)?,
                    revoked: r.opt(5)?,
                })
            })
            .collect()
    }

    /// Revokes a token of `user` (any user's when `None`). Returns whether one was revoked.
    fn web_revoke_token(&self, id: &str, user: Option<&str>) -> Result<bool> {
        let at = now();
        let n = self.exec(REVOKE_TOKEN, &[(&at).into(), id.into(), user.into()])?;
        Ok(n > 0)
    }

    /// Records a one-time link (`setup`: make the first admin; `signin`: sign in as `user`).
    fn web_create_link(
        &self,
        token_hash: &str,
        purpose: &str,
        user: Option<&str>,
        expires: &str,
    ) -> Result<()> {
        let at = now();
        self.exec(
            CREATE_LINK,
            &[
                token_hash.into(),
                purpose.into(),
                user.into(),
                (&at).into(),
                expires.into(),
            ],
        )?;
        Ok(())
    }

    /// Uses a one-time link: returns its purpose and user when it is live, and marks it used
    /// (a second use, or a use after expiry, returns `None`).
    fn web_use_link(&self, token_hash: &str) -> Result<Option<(String, Option<String>)>> {
        let at = now();
        self.rows(USE_LINK, &[(&at).into(), token_hash.into()])?
            .first()
            .map(|r| Ok((r.text(0)?, r.opt(1)?)))
            .transpose()
    }

    /// Whether a one-time link is live, without using it.
    fn web_link_live(&self, token_hash: &str) -> Result<Option<String>> {
        let at = now();
        self.rows(LINK_LIVE, &[token_hash.into(), (&at).into()])?
            .first()
            .map(|r| r.text(0))
            .transpose()
    }

    fn web_audit(&self, actor: &str, action: &str, target: &str, outcome: &str) -> Result<()> {
        let at = now();
        self.exec(
            AUDIT,
            &[
                (&at).into(),
                actor.into(),
                action.into(),
                target.into(),
                outcome.into(),
            ],
        )?;
        Ok(())
    }

    /// The newest `limit` audit lines, newest first; only those of `actor` when given.
    fn web_audit_log(&self, actor: Option<&str>, limit: i64) -> Result<Vec<AuditRow>> {
        self.rows(AUDIT_LOG, &[actor.into(), limit.into()])?
            .iter()
            .map(|r| {
                Ok(AuditRow {
                    id: r.int(0)?,
                    at: r.text(1)?,
                    actor: r.text(2)?,
                    action: r.text(3)?,
                    target: r.text(4)?,
                    outcome: r.text(5)?,
                })
            })
            .collect()
    }

    fn web_put_test(&self, credential: &str, ok: bool, code: Option<&str>) -> Result<()> {
        let at = now();
        self.exec(
            PUT_TEST,
            &[credential.into(), (&at).into(), ok.into(), code.into()],
        )?;
        Ok(())
    }

    fn web_tests(&self) -> Result<std::collections::HashMap<String, TestRow>> {
        self.rows(TESTS, &[])?
            .iter()
            .map(|r| {
                Ok((
                    r.text(0)?,
                    TestRow {
                        at: r.text(1)?,
                        ok: r.int(2)? != 0,
                        code: r.opt(3)?,
                    },
                ))
            })
            .collect()
    }

    /// The stages set on the Stages page, by status.
    fn web_stages(&self) -> Result<Vec<StageRow>> {
        self.rows(STAGES, &[])?
            .iter()
            .map(|r| {
                Ok(StageRow {
                    status: r.text(0)?,
                    stage: r.text(1)?,
                    updated: r.text(2)?,
                    updated_by: r.text(3)?,
                })
            })
            .collect()
    }

    /// Replaces the whole stage map (one transaction): `(status, stage)` pairs, set by `by`.
    fn web_put_stages(&mut self, stages: &[(String, String)], by: &str) -> Result<()> {
        let at = now();
        let mut stmts = vec![(CLEAR_STAGES, vec![])];
        for (status, stage) in stages {
            stmts.push((
                PUT_STAGE,
                vec![status.into(), stage.into(), (&at).into(), by.into()],
            ));
        }
        self.exec_all(&stmts)?;
        Ok(())
    }
}

/// Opens (creating or migrating) the store at `at` for its accounts: the SQLite file, or the
/// PostgreSQL database (feature `postgres`).
pub fn open_accounts(at: &StoreLocation) -> Result<Box<dyn Accounts>> {
    match at {
        StoreLocation::Sqlite(path) => Ok(Box::new(Store::open_sqlite(path)?)),
        #[cfg(feature = "postgres")]
        StoreLocation::Postgres(target) => Ok(Box::new(pg::PgAccounts::new(
            crate::postgres::PgStore::connect_to(target)?,
        ))),
    }
}

impl Sql for Store {
    fn exec(&self, sql: &'static str, params: &[Param<'_>]) -> Result<u64> {
        let n = self
            .conn
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(params))?;
        Ok(n as u64)
    }

    fn rows(&self, sql: &'static str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        use rusqlite::types::ValueRef;
        let mut st = self.conn.prepare_cached(sql)?;
        let width = st.column_count();
        let mut rows = st.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let cells = (0..width)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        ValueRef::Null => Cell::Null,
                        ValueRef::Integer(n) => Cell::Int(n),
                        ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Real(_) | ValueRef::Blob(_) => return Err(bad_cell(i, "text")),
                    })
                })
                .collect::<Result<_>>()?;
            out.push(Row(cells));
        }
        Ok(out)
    }

    fn exec_all(&mut self, stmts: &[(&'static str, Vec<Param<'_>>)]) -> Result<Vec<u64>> {
        let tx = self.conn.transaction()?;
        let mut counts = Vec::with_capacity(stmts.len());
        for (sql, params) in stmts {
            let n = tx
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(params))?;
            counts.push(n as u64);
        }
        tx.commit()?;
        Ok(counts)
    }
}

impl Accounts for Store {}

#[cfg(feature = "postgres")]
mod pg {
    use postgres::types::{ToSql, Type};

    use super::{bad_cell, Accounts, Cell, Row, Sql};
    use crate::postgres::{blocking, execute, query, PgStore};
    use crate::shared::Param;
    use crate::Result;

    fn bind<'p>(params: &'p [Param<'_>]) -> Vec<&'p (dyn ToSql + Sync)> {
        params
            .iter()
            .map(|p| match p {
                Param::Text(s) => s as &(dyn ToSql + Sync),
                Param::Int(n) => n,
            })
            .collect()
    }

    fn row(r: &postgres::Row) -> Result<Row> {
        let cells = r
            .columns()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let t = c.type_();
                Ok(if *t == Type::INT8 {
                    r.try_get::<_, Option<i64>>(i)?
                        .map_or(Cell::Null, Cell::Int)
                } else if *t == Type::INT4 {
                    r.try_get::<_, Option<i32>>(i)?
                        .map_or(Cell::Null, |n| Cell::Int(n.into()))
                } else if *t == Type::TEXT || *t == Type::VARCHAR {
                    r.try_get::<_, Option<String>>(i)?
                        .map_or(Cell::Null, Cell::Text)
                } else {
                    return Err(bad_cell(i, "text or an integer"));
                })
            })
            .collect::<Result<_>>()?;
        Ok(Row(cells))
    }

    /// A PostgreSQL store's accounts. A statement that failed marks the connection suspect, so
    /// that its holder opens the store again: a connection the server closed (a restart, an idle
    /// timeout) fails one call only.
    pub struct PgAccounts {
        store: PgStore,
        failed: std::cell::Cell<bool>,
    }

    impl PgAccounts {
        pub fn new(store: PgStore) -> PgAccounts {
            PgAccounts {
                store,
                failed: std::cell::Cell::new(false),
            }
        }

        fn noted<T>(&self, r: Result<T>) -> Result<T> {
            if r.is_err() {
                self.failed.set(true);
            }
            r
        }
    }

    impl Sql for PgStore {
        fn exec(&self, sql: &'static str, params: &[Param<'_>]) -> Result<u64> {
            let params = bind(params);
            self.run(|c, cache| execute(c, cache, sql, &params))
        }

        fn rows(&self, sql: &'static str, params: &[Param<'_>]) -> Result<Vec<Row>> {
            let params = bind(params);
            self.run(|c, cache| query(c, cache, sql, &params)?.iter().map(row).collect())
        }

        fn exec_all(&mut self, stmts: &[(&'static str, Vec<Param<'_>>)]) -> Result<Vec<u64>> {
            self.run(|c, _| {
                blocking(|| -> Result<Vec<u64>> {
                    let mut tx = c.transaction()?;
                    let mut counts = Vec::with_capacity(stmts.len());
                    for (sql, params) in stmts {
                        counts.push(tx.execute(*sql, &bind(params))?);
                    }
                    tx.commit()?;
                    Ok(counts)
                })
            })
        }
    }

    impl Sql for PgAccounts {
        fn exec(&self, sql: &'static str, params: &[Param<'_>]) -> Result<u64> {
            self.noted(Sql::exec(&self.store, sql, params))
        }

        fn rows(&self, sql: &'static str, params: &[Param<'_>]) -> Result<Vec<Row>> {
            self.noted(self.store.rows(sql, params))
        }

        fn exec_all(&mut self, stmts: &[(&'static str, Vec<Param<'_>>)]) -> Result<Vec<u64>> {
            let r = self.store.exec_all(stmts);
            self.noted(r)
        }
    }

    impl Accounts for PgAccounts {
        fn is_open(&self) -> bool {
            !self.failed.get() && self.store.run(|c, _| Ok(!c.is_closed())).unwrap_or(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite numbers `$n` parameters by first appearance: they must appear in order.
    #[test]
    fn parameters_appear_in_order_and_every_statement_runs_on_sqlite() {
        for sql in ALL {
            let mut next = 1;
            let b = sql.as_bytes();
            for (i, _) in sql.match_indices('$') {
                let digits: String = b[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .map(|c| char::from(*c))
                    .collect();
                let n: usize = digits.parse().expect("a parameter number");
                assert!(n <= next, "${n} before ${next} in {sql}");
                if n == next {
                    next += 1;
                }
            }
        }
        let dir = std::env::temp_dir().join(format!("jiralink-web-sql-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let s = Store::open_sqlite(&dir.join("s.db")).expect("open");
        for sql in ALL {
            s.conn.prepare(sql).expect(sql);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn users_sessions_tokens_links() {
        let dir = std::env::temp_dir().join(format!("jiralink-web-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut s = Store::open_sqlite(&dir.join("s.db")).expect("open");
        assert!(!s.web_admin_exists().expect("q"));
        assert!(s
            .web_put_user("ann", "admin", Some("$argon2id$x"))
            .expect("put"));
        assert!(!s.web_put_user("ann", "admin", None).expect("put"));
        assert_eq!(
            s.web_user("ann").expect("q").and_then(|u| u.password_hash),
            Some("$argon2id$x".into()),
            "a role change without a password keeps the hash"
        );
        assert!(s.web_admin_exists().expect("q"));
        s.web_create_session("h1", "ann", "c1", "9999-01-01T00:00:00Z")
            .expect("session");
        s.web_create_session("h2", "ann", "c2", "2000-01-01T00:00:00Z")
            .expect("session");
        assert_eq!(
            s.web_session("h1").expect("q").map(|x| x.csrf),
            Some("c1".into())
        );
        assert!(s.web_session("h2").expect("q").is_none(), "expired");
        s.web_create_token("t1", "ann", "ci", "th").expect("token");
        assert_eq!(
            s.web_token_user("th").expect("q").map(|u| u.name),
            Some("ann".into())
        );
        assert!(s.web_tokens(Some("ann")).expect("q")[0].last_used.is_some());
        assert_eq!(s.web_tokens(None).expect("q").len(), 1);
        assert!(s.web_tokens(Some("bob")).expect("q").is_empty());
        assert!(
            !s.web_revoke_token("t1", Some("bob")).expect("q"),
            "not bob's"
        );
        assert!(s.web_revoke_token("t1", Some("ann")).expect("q"));
        assert!(s.web_token_user("th").expect("q").is_none());
        s.web_create_link("l", "setup", None, "9999-01-01T00:00:00Z")
            .expect("link");
        assert_eq!(s.web_link_live("l").expect("q"), Some("setup".into()));
        assert_eq!(
            s.web_use_link("l").expect("q"),
            Some(("setup".into(), None))
        );
        assert_eq!(s.web_use_link("l").expect("q"), None, "one time only");
        assert_eq!(s.web_link_live("l").expect("q"), None);
        s.web_put_test("c", false, Some("bad_credentials"))
            .expect("test");
        s.web_put_test("c", true, None).expect("test");
        let t = s.web_tests().expect("q");
        assert!(t["c"].ok && t["c"].code.is_none());
        assert!(s.web_remove_user("ann").expect("rm"));
        assert!(!s.web_remove_user("ann").expect("rm"));
        assert!(s.web_session("h1").expect("q").is_none());
        s.web_audit("ann", "sign-in", "", "ok").expect("audit");
        s.web_audit("bob", "sign-in", "", "ok").expect("audit");
        assert_eq!(s.web_audit_log(None, 10).expect("q").len(), 2);
        let ann = s.web_audit_log(Some("ann"), 10).expect("q");
        assert_eq!(ann.len(), 1);
        assert_eq!(ann[0].actor, "ann");
        s.web_put_stages(&[("Review".into(), "waiting".into())], "ann")
            .expect("stages");
        s.web_put_stages(&[("QA".into(), "waiting".into())], "ann")
            .expect("stages");
        let st = s.web_stages().expect("q");
        assert_eq!(st.len(), 1, "the map is replaced whole");
        assert_eq!(st[0].status, "QA");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
