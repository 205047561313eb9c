//! The web app's accounts in the SQLite store (migration 11): users, sessions, API tokens,
//! one-time links, the last connection test of each credential, and the app's audit log; and the
//! stages of statuses its Stages page sets (migration 14).
//! Only hashes of session, token and link values are kept; the caller hashes (the store never
//! sees a password or a token).

use rusqlite::{params, OptionalExtension};

use crate::{now, Result, Store};

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

fn user_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<WebUser> {
    Ok(WebUser {
        name: r.get(0)?,
        role: r.get(1)?,
        password_hash: r.get(2)?,
        created: r.get(3)?,
    })
}

impl Store {
    pub fn web_user(&self, name: &str) -> Result<Option<WebUser>> {
        Ok(self
            .conn
            .query_row(
                "SELECT name, role, password_hash, created FROM t_web_users WHERE name = ?1",
                [name],
                user_of,
            )
            .optional()?)
    }

    pub fn web_users(&self) -> Result<Vec<WebUser>> {
        let mut st = self
            .conn
            .prepare("SELECT name, role, password_hash, created FROM t_web_users ORDER BY name")?;
        let rows = st.query_map([], user_of)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Adds a user, or changes the role and password of an existing one. Returns whether it was new.
    pub fn web_put_user(
        &self,
        name: &str,
        role: &str,
        password_hash: Option<&str>,
    ) -> Result<bool> {
        let existed = self.web_user(name)?.is_some();
        self.conn.execute(
            "INSERT INTO t_web_users (name, role, password_hash, created) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET role = excluded.role,
               password_hash = COALESCE(excluded.password_hash, t_web_users.password_hash)",
            params![name, role, password_hash, now()],
        )?;
        Ok(!existed)
    }

    /// Removes a user with their sessions and API tokens. Returns whether the user existed.
    pub fn web_remove_user(&mut self, name: &str) -> Result<bool> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM t_web_sessions WHERE user_name = ?1", [name])?;
        tx.execute(
            "UPDATE t_web_api_tokens SET revoked = ?2 WHERE user_name = ?1 AND revoked IS NULL",
            params![name, now()],
        )?;
        let n = tx.execute("DELETE FROM t_web_users WHERE name = ?1", [name])?;
        tx.commit()?;
        Ok(n > 0)
    }

    pub fn web_admin_exists(&self) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM t_web_users WHERE role = 'admin' AND password_hash IS NOT NULL)",
            [],
            |r| r.get(0),
        )?)
    }

    pub fn web_create_session(
        &self,
        token_hash: &str,
        user: &str,
        csrf: &str,
        expires: &str,
    ) -> Result<()> {
        let now = now();
        self.conn
            .execute("DELETE FROM t_web_sessions WHERE expires <= ?1", [&now])?;
        self.conn.execute(
            "INSERT INTO t_web_sessions (token_hash, user_name, csrf, created, expires) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![token_hash, user, csrf, now, expires],
        )?;
        Ok(())
    }

    /// The live session of that hash (expired ones are never returned, and are deleted when a
    /// session starts).
    pub fn web_session(&self, token_hash: &str) -> Result<Option<WebSession>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT u.name, u.role, u.password_hash, u.created, s.csrf, s.expires
                 FROM t_web_sessions s JOIN t_web_users u ON u.name = s.user_name
                 WHERE s.token_hash = ?1 AND s.expires > ?2",
            )?
            .query_row(params![token_hash, now()], |r| {
                Ok(WebSession {
                    user: user_of(r)?,
                    csrf: r.get(4)?,
                    expires: r.get(5)?,
                })
            })
            .optional()?)
    }

    pub fn web_delete_session(&self, token_hash: &str) -> Result<()> {
        self.conn.execute(
            "DELETE FROM t_web_sessions WHERE token_hash = ?1",
            [token_hash],
        )?;
        Ok(())
    }

    pub fn web_create_token(
        &self,
        id: &str,
        user: &str,
        label: &str,
        token_hash: &str,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO t_web_api_tokens (id, user_name, label, token_hash, created) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, user, label, token_hash, now()],
        )?;
        Ok(())
    }

    /// The user of a live (not revoked) API token, its last use recorded.
    pub fn web_token_user(&self, token_hash: &str) -> Result<Option<WebUser>> {
        let user = self
            .conn
            .query_row(
                "SELECT u.name, u.role, u.password_hash, u.created FROM t_web_api_tokens t
                 JOIN t_web_users u ON u.name = t.user_name
                 WHERE t.token_hash = ?1 AND t.revoked IS NULL",
                [token_hash],
                user_of,
            )
            .optional()?;
        if user.is_some() {
            self.conn.execute(
                "UPDATE t_web_api_tokens SET last_used = ?2 WHERE token_hash = ?1",
                params![token_hash, now()],
            )?;
        }
        Ok(user)
    }

    /// API tokens of `user`, or of everyone when `None`.
    pub fn web_tokens(&self, user: Option<&str>) -> Result<Vec<ApiTokenRow>> {
        let mut st = self.conn.prepare(
            "SELECT id, user_name, label, created, last_used, revoked FROM t_web_api_tokens
             WHERE ?1 IS NULL OR user_name = ?1 ORDER BY created, id",
        )?;
        let rows = st.query_map([user], |r| {
            Ok(ApiTokenRow {
                id: r.get(0)?,
                user: r.get(1)?,
                label: r.get(2)?,
                created: r.get(3)?,
                last_used: r.get(4)?,
                revoked: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Revokes a token of `user` (any user's when `None`). Returns whether one was revoked.
    pub fn web_revoke_token(&self, id: &str, user: Option<&str>) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE t_web_api_tokens SET revoked = ?3
             WHERE id = ?1 AND (?2 IS NULL OR user_name = ?2) AND revoked IS NULL",
            params![id, user, now()],
        )?;
        Ok(n > 0)
    }

    /// Records a one-time link (`setup`: make the first admin; `signin`: sign in as `user`).
    pub fn web_create_link(
        &self,
        token_hash: &str,
        purpose: &str,
        user: Option<&str>,
        expires: &str,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO t_web_links (token_hash, purpose, user_name, created, expires) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![token_hash, purpose, user, now(), expires],
        )?;
        Ok(())
    }

    /// Uses a one-time link: returns its purpose and user when it is live, and marks it used
    /// (a second use, or a use after expiry, returns `None`).
    pub fn web_use_link(&self, token_hash: &str) -> Result<Option<(String, Option<String>)>> {
        let n = self.conn.execute(
            "UPDATE t_web_links SET used = ?2 WHERE token_hash = ?1 AND used IS NULL AND expires > ?2",
            params![token_hash, now()],
        )?;
        if n == 0 {
            return Ok(None);
        }
        Ok(self
            .conn
            .query_row(
                "SELECT purpose, user_name FROM t_web_links WHERE token_hash = ?1",
                [token_hash],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Whether a one-time link is live, without using it.
    pub fn web_link_live(&self, token_hash: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT purpose FROM t_web_links WHERE token_hash = ?1 AND used IS NULL AND expires > ?2",
                params![token_hash, now()],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn web_audit(&self, actor: &str, action: &str, target: &str, outcome: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO t_web_audit (at, actor, action, target, outcome) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![now(), actor, action, target, outcome],
        )?;
        Ok(())
    }

    /// The newest `limit` audit lines, newest first; only those of `actor` when given.
    pub fn web_audit_log(&self, actor: Option<&str>, limit: i64) -> Result<Vec<AuditRow>> {
        let mut st = self.conn.prepare(
            "SELECT id, at, actor, action, target, outcome FROM t_web_audit
             WHERE ?1 IS NULL OR actor = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = st.query_map(params![actor, limit], |r| {
            Ok(AuditRow {
                id: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                target: r.get(4)?,
                outcome: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn web_put_test(&self, credential: &str, ok: bool, code: Option<&str>) -> Result<()> {
        self.conn.execute(
            "INSERT INTO t_web_tests (credential, at, ok, code) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (credential) DO UPDATE SET at = excluded.at, ok = excluded.ok, code = excluded.code",
            params![credential, now(), ok, code],
        )?;
        Ok(())
    }

    pub fn web_tests(&self) -> Result<std::collections::HashMap<String, TestRow>> {
        let mut st = self
            .conn
            .prepare("SELECT credential, at, ok, code FROM t_web_tests")?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                TestRow {
                    at: r.get(1)?,
                    ok: r.get(2)?,
                    code: r.get(3)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(
            !s.web_revoke_token("t1", Some("bob")).expect("q"),
            "not bob's"
        );
        assert!(s.web_revoke_token("t1", Some("ann")).expect("q"));
        assert!(s.web_token_user("th").expect("q").is_none());
        s.web_create_link("l", "setup", None, "9999-01-01T00:00:00Z")
            .expect("link");
        assert_eq!(
            s.web_use_link("l").expect("q"),
            Some(("setup".into(), None))
        );
        assert_eq!(s.web_use_link("l").expect("q"), None, "one time only");
        assert!(s.web_remove_user("ann").expect("rm"));
        assert!(s.web_session("h1").expect("q").is_none());
        s.web_audit("ann", "sign-in", "", "ok").expect("audit");
        assert_eq!(s.web_audit_log(None, 10).expect("q").len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
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

impl Store {
    /// The stages set on the Stages page, by status.
    pub fn web_stages(&self) -> Result<Vec<StageRow>> {
        let mut st = self.conn.prepare(
            "SELECT status, stage, updated, updated_by FROM t_web_stages ORDER BY status",
        )?;
        let rows = st.query_map([], |r| {
            Ok(StageRow {
                status: r.get(0)?,
                stage: r.get(1)?,
                updated: r.get(2)?,
                updated_by: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Replaces the whole stage map (one transaction): `(status, stage)` pairs, set by `by`.
    pub fn web_put_stages(&mut self, stages: &[(String, String)], by: &str) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM t_web_stages", [])?;
        let at = now();
        for (status, stage) in stages {
            tx.execute(
                "INSERT INTO t_web_stages (status, stage, updated, updated_by) VALUES (?1, ?2, ?3, ?4)",
                params![status, stage, at, by],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
