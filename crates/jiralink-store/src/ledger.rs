//! The write-back ledger of `jiralink apply`: every intended write recorded before it is sent and
//! its outcome after (`write_log`), and the map from the caller's external ids to Jira's objects
//! with the base value per field (`links`). SQLite here; the tables exist in both dialects.

use rusqlite::{params, OptionalExtension};

use crate::{now, Result, Store};

/// One intended write, as `write_log` shows it.
#[derive(Debug, Clone, Default)]
pub struct WriteEntry {
    pub run_id: String,
    pub credential: String,
    /// Who ran it: the OS user (later the web-app user).
    pub actor: String,
    pub external_id: String,
    /// `create`, `update`, `transition`, `comment`, `worklog`, `link`, `remote_link`, `adopt`.
    pub action: String,
    pub jira_id: Option<String>,
    pub field: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The Jira account the write is made as, as changelogs name authors (Cloud's accountId,
    /// Data Center's user key): how `apply_changes` recognises the write in the synced history.
    pub account_id: Option<String>,
}

/// A `write_log` row.
#[derive(Debug, Clone)]
pub struct WriteRow {
    pub seq: i64,
    pub entry: WriteEntry,
    pub outcome: String,
    pub error: Option<String>,
    pub at: String,
    pub ms: Option<i64>,
}

/// What an external id is linked to.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub jira_id: String,
    pub issue_key: Option<String>,
    /// The value last applied per field (JSON object), the base of conflict detection.
    pub base: serde_json::Value,
}

/// The ledger a store keeps for `apply`, scoped to the store's site.
pub trait Ledger {
    /// Records a write about to be sent (outcome `pending`); returns its sequence number.
    fn intend(&mut self, e: &WriteEntry) -> Result<i64>;
    /// Records what became of it: `ok`, `failed` (with Jira's error body), `adopted`,
    /// `ambiguous`.
    fn outcome(
        &mut self,
        seq: i64,
        outcome: &str,
        jira_id: Option<&str>,
        error: Option<&str>,
        ms: Option<i64>,
    ) -> Result<()>;
    /// The link of `external_id` of this `kind` (`issue`, `comment`, `worklog`, `remote_link`).
    fn link(&self, kind: &str, external_id: &str) -> Result<Option<Link>>;
    fn set_link(&mut self, kind: &str, external_id: &str, link: &Link) -> Result<()>;
    /// Every link of a kind (external id → link), for planning a whole file at once.
    fn links(&self, kind: &str) -> Result<Vec<(String, Link)>>;
    /// Writes still `pending`: sent (or about to be) when a run died; reconciled before any retry.
    fn pending(&self) -> Result<Vec<WriteRow>>;
    /// The log, oldest first, from `since` (ISO-8601) on.
    fn log(&self, since: Option<&str>) -> Result<Vec<WriteRow>>;
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WriteRow> {
    Ok(WriteRow {
        seq: r.get(0)?,
        entry: WriteEntry {
            run_id: r.get(1)?,
            credential: r.get(2)?,
            actor: r.get(3)?,
            external_id: r.get(4)?,
            action: r.get(5)?,
            jira_id: r.get(6)?,
            field: r.get(7)?,
            before: r.get(8)?,
            after: r.get(9)?,
            account_id: r.get(14)?,
        },
        outcome: r.get(10)?,
        error: r.get(11)?,
        at: r.get(12)?,
        ms: r.get(13)?,
    })
}

const ROW: &str = "SELECT seq, run_id, credential, actor, external_id, action, jira_id, field, before, after, outcome, error, at, ms, account_id FROM t_write_log";

impl Ledger for Store {
    fn intend(&mut self, e: &WriteEntry) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO t_write_log (run_id, site_id, credential, actor, external_id, action, jira_id, field, before, after, outcome, at, account_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending', ?11, ?12)",
            params![e.run_id, self.site, e.credential, e.actor, e.external_id, e.action, e.jira_id, e.field, e.before, e.after, now(), e.account_id],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn outcome(
        &mut self,
        seq: i64,
        outcome: &str,
        jira_id: Option<&str>,
        error: Option<&str>,
        ms: Option<i64>,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE t_write_log SET outcome = ?2, jira_id = COALESCE(?3, jira_id), error = ?4, ms = ?5
             WHERE seq = ?1 AND site_id = ?6",
            params![seq, outcome, jira_id, error, ms, self.site],
        )?;
        Ok(())
    }

    fn link(&self, kind: &str, external_id: &str) -> Result<Option<Link>> {
        Ok(self
            .conn
            .query_row(
                "SELECT jira_id, issue_key, base_json FROM t_apply_links
                 WHERE site_id = ?1 AND kind = ?2 AND external_id = ?3",
                params![self.site, kind, external_id],
                |r| {
                    Ok(Link {
                        jira_id: r.get(0)?,
                        issue_key: r.get(1)?,
                        base: r
                            .get::<_, Option<String>>(2)?
                            .and_then(|s| serde_json::from_str(&s).ok())
                            .unwrap_or(serde_json::Value::Null),
                    })
                },
            )
            .optional()?)
    }

    fn set_link(&mut self, kind: &str, external_id: &str, link: &Link) -> Result<()> {
        self.conn.execute(
            "INSERT INTO t_apply_links (site_id, kind, external_id, jira_id, issue_key, base_json, updated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (site_id, kind, external_id) DO UPDATE SET jira_id = excluded.jira_id,
                issue_key = excluded.issue_key, base_json = excluded.base_json, updated = excluded.updated",
            params![self.site, kind, external_id, link.jira_id, link.issue_key, link.base.to_string(), now()],
        )?;
        Ok(())
    }

    fn links(&self, kind: &str) -> Result<Vec<(String, Link)>> {
        let mut st = self.conn.prepare(
            "SELECT external_id, jira_id, issue_key, base_json FROM t_apply_links WHERE site_id = ?1 AND kind = ?2",
        )?;
        let rows = st.query_map(params![self.site, kind], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Link {
                    jira_id: r.get(1)?,
                    issue_key: r.get(2)?,
                    base: r
                        .get::<_, Option<String>>(3)?
                        .and_then(|s| serde_json::from_str(&s).ok())
                        .unwrap_or(serde_json::Value::Null),
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn pending(&self) -> Result<Vec<WriteRow>> {
        let mut st = self.conn.prepare(&format!(
            "{ROW} WHERE site_id = ?1 AND outcome IN ('pending', 'ambiguous') ORDER BY seq"
        ))?;
        let rows = st.query_map(params![self.site], row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn log(&self, since: Option<&str>) -> Result<Vec<WriteRow>> {
        let mut st = self.conn.prepare(&format!(
            "{ROW} WHERE site_id = ?1 AND at >= ?2 ORDER BY seq"
        ))?;
        let rows = st.query_map(params![self.site, since.unwrap_or("")], row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(feature = "postgres")]
mod pg {
    use super::{Ledger, Link, WriteEntry, WriteRow};
    use crate::postgres::{execute, query, PgStore};
    use crate::{now, Result};

    fn row(r: &::postgres::Row) -> Result<WriteRow> {
        Ok(WriteRow {
            seq: r.try_get(0)?,
            entry: WriteEntry {
                run_id: r.try_get(1)?,
                credential: r.try_get(2)?,
                actor: r.try_get(3)?,
                external_id: r.try_get(4)?,
                action: r.try_get(5)?,
                jira_id: r.try_get(6)?,
                field: r.try_get(7)?,
                before: r.try_get(8)?,
                after: r.try_get(9)?,
                account_id: r.try_get(14)?,
            },
            outcome: r.try_get(10)?,
            error: r.try_get(11)?,
            at: r.try_get(12)?,
            ms: r.try_get(13)?,
        })
    }

    fn link(r: &::postgres::Row, from: usize) -> Result<Link> {
        Ok(Link {
            jira_id: r.try_get(from)?,
            issue_key: r.try_get(from + 1)?,
            base: r
                .try_get::<_, Option<String>>(from + 2)?
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or(serde_json::Value::Null),
        })
    }

    impl Ledger for PgStore {
        fn intend(&mut self, e: &WriteEntry) -> Result<i64> {
            self.run(|c, cache| {
                let rows = query(
                    c,
                    cache,
                    "INSERT INTO t_write_log (run_id, site_id, credential, actor, external_id, action, jira_id, field, before, after, outcome, at, account_id)
                     VALUES ($1, current_setting('jiralink.site'), $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11) RETURNING seq",
                    &[&e.run_id, &e.credential, &e.actor, &e.external_id, &e.action, &e.jira_id, &e.field, &e.before, &e.after, &now(), &e.account_id],
                )?;
                match rows.first() {
                    Some(r) => Ok(r.try_get(0)?),
                    None => Ok(0),
                }
            })
        }

        fn outcome(
            &mut self,
            seq: i64,
            outcome: &str,
            jira_id: Option<&str>,
            error: Option<&str>,
            ms: Option<i64>,
        ) -> Result<()> {
            self.run(|c, cache| {
                execute(
                    c,
                    cache,
                    "UPDATE t_write_log SET outcome = $2, jira_id = COALESCE($3, jira_id), error = $4, ms = $5
                     WHERE seq = $1 AND site_id = current_setting('jiralink.site')",
                    &[&seq, &outcome, &jira_id, &error, &ms],
                )?;
                Ok(())
            })
        }

        fn link(&self, kind: &str, external_id: &str) -> Result<Option<Link>> {
            self.run(|c, cache| {
                let rows = query(
                    c,
                    cache,
                    "SELECT jira_id, issue_key, base_json FROM t_apply_links
                     WHERE site_id = current_setting('jiralink.site') AND kind = $1 AND external_id = $2",
                    &[&kind, &external_id],
                )?;
                rows.first().map(|r| link(r, 0)).transpose()
            })
        }

        fn set_link(&mut self, kind: &str, external_id: &str, l: &Link) -> Result<()> {
            let base = l.base.to_string();
            self.run(|c, cache| {
                execute(
                    c,
                    cache,
                    "INSERT INTO t_apply_links (site_id, kind, external_id, jira_id, issue_key, base_json, updated)
                     VALUES (current_setting('jiralink.site'), $1, $2, $3, $4, $5, $6)
                     ON CONFLICT (site_id, kind, external_id) DO UPDATE SET jira_id = excluded.jira_id,
                        issue_key = excluded.issue_key, base_json = excluded.base_json, updated = excluded.updated",
                    &[&kind, &external_id, &l.jira_id, &l.issue_key, &base, &now()],
                )?;
                Ok(())
            })
        }

        fn links(&self, kind: &str) -> Result<Vec<(String, Link)>> {
            self.run(|c, cache| {
                let rows = query(
                    c,
                    cache,
                    "SELECT external_id, jira_id, issue_key, base_json FROM t_apply_links
                     WHERE site_id = current_setting('jiralink.site') AND kind = $1",
                    &[&kind],
                )?;
                rows.iter()
                    .map(|r| Ok((r.try_get(0)?, link(r, 1)?)))
                    .collect()
            })
        }

        fn pending(&self) -> Result<Vec<WriteRow>> {
            self.run(|c, cache| {
                let rows = query(c, cache, PENDING, &[])?;
                rows.iter().map(row).collect()
            })
        }

        fn log(&self, since: Option<&str>) -> Result<Vec<WriteRow>> {
            let since = since.unwrap_or("");
            self.run(|c, cache| {
                let rows = query(c, cache, LOG, &[&since])?;
                rows.iter().map(row).collect()
            })
        }
    }

    const PENDING: &str = "SELECT seq, run_id, credential, actor, external_id, action, jira_id, field, before, after, outcome, error, at, ms, account_id FROM t_write_log
         WHERE site_id = current_setting('jiralink.site') AND outcome IN ('pending', 'ambiguous') ORDER BY seq";

    const LOG: &str = "SELECT seq, run_id, credential, actor, external_id, action, jira_id, field, before, after, outcome, error, at, ms, account_id FROM t_write_log
         WHERE site_id = current_setting('jiralink.site') AND at >= $1 ORDER BY seq";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Backend;

    #[test]
    fn a_write_is_pending_until_its_outcome_and_links_keep_their_base() {
        let dir = std::env::temp_dir().join(format!("jl-ledger-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("s.db");
        let _ = std::fs::remove_file(&path);
        let mut s = Store::open_sqlite(&path).expect("open");
        s.scope_to("site-a").expect("scope");
        let e = WriteEntry {
            run_id: "r1".into(),
            credential: "c".into(),
            actor: "me".into(),
            external_id: "X-1".into(),
            action: "create".into(),
            ..Default::default()
        };
        let seq = s.intend(&e).expect("intend");
        assert_eq!(s.pending().expect("pending").len(), 1);
        s.outcome(seq, "ok", Some("10001"), None, Some(12))
            .expect("outcome");
        assert!(s.pending().expect("pending").is_empty());
        let log = s.log(None).expect("log");
        assert_eq!(log[0].entry.jira_id.as_deref(), Some("10001"));
        assert_eq!(log[0].outcome, "ok");
        let link = Link {
            jira_id: "10001".into(),
            issue_key: Some("P-1".into()),
            base: serde_json::json!({"summary": "a"}),
        };
        s.set_link("issue", "X-1", &link).expect("set");
        assert_eq!(s.link("issue", "X-1").expect("get"), Some(link));
        // Another site's handle sees none of it.
        s.scope_to("site-b").expect("scope");
        assert_eq!(s.link("issue", "X-1").expect("get"), None);
        assert!(s.log(None).expect("log").is_empty());
        let n: i64 = s
            .conn
            .query_row("SELECT COUNT(*) FROM links", [], |r| r.get(0))
            .expect("view");
        assert_eq!(n, 1);
    }
}
