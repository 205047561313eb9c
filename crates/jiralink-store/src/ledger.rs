//! The write-back ledger of `jiralink apply`: every intended write recorded before it is sent and
//! its outcome after (`write_log`), and the map from the caller's external ids to Jira's objects
//! with the base value per field (`links`), in either dialect.

use crate::shared::Param;
use crate::web::{Row, Sql};
use crate::{now, Backend, Result, Store};

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

/// The ledger a store keeps for `apply`, scoped to the store's site; written once for both
/// dialects over the store's sealed `Sql`, as the web app's accounts are.
pub trait Ledger: Sql + Backend {
    /// Records a write about to be sent (outcome `pending`); returns its sequence number.
    fn intend(&mut self, e: &WriteEntry) -> Result<i64> {
        let at = now();
        let params = [
            Param::from(&e.run_id),
            Param::from(self.site()),
            Param::from(&e.credential),
            Param::from(&e.actor),
            Param::from(&e.external_id),
            Param::from(&e.action),
            Param::from(&e.jira_id),
            Param::from(&e.field),
            Param::from(&e.before),
            Param::from(&e.after),
            Param::from(&at),
            Param::from(&e.account_id),
        ];
        let rows = self.rows(INTEND, &params)?;
        rows.first().map_or(Ok(0), |r| r.int(0))
    }

    /// Records what became of it: `ok`, `failed` (with Jira's error body), `adopted`,
    /// `ambiguous`.
    fn outcome(
        &mut self,
        seq: i64,
        outcome: &str,
        jira_id: Option<&str>,
        error: Option<&str>,
        ms: Option<i64>,
    ) -> Result<()> {
        let params = [
            outcome.into(),
            jira_id.into(),
            error.into(),
            ms.into(),
            seq.into(),
            self.site().into(),
        ];
        self.exec(OUTCOME, &params).map(drop)
    }

    /// The link of `external_id` of this `kind` (`issue`, `comment`, `worklog`, `remote_link`).
    fn link(&self, kind: &str, external_id: &str) -> Result<Option<Link>> {
        let rows = self.rows(LINK, &[self.site().into(), kind.into(), external_id.into()])?;
        rows.first().map(|r| link(r, 0)).transpose()
    }

    fn set_link(&mut self, kind: &str, external_id: &str, link: &Link) -> Result<()> {
        let (base, at) = (link.base.to_string(), now());
        let params = [
            self.site().into(),
            kind.into(),
            external_id.into(),
            (&link.jira_id).into(),
            (&link.issue_key).into(),
            (&base).into(),
            (&at).into(),
        ];
        self.exec(SET_LINK, &params).map(drop)
    }

    /// Every link of a kind (external id → link), for planning a whole file at once.
    fn links(&self, kind: &str) -> Result<Vec<(String, Link)>> {
        let rows = self.rows(LINKS, &[self.site().into(), kind.into()])?;
        rows.iter().map(|r| Ok((r.text(0)?, link(r, 1)?))).collect()
    }

    /// Writes still `pending`: sent (or about to be) when a run died; reconciled before any retry.
    fn pending(&self) -> Result<Vec<WriteRow>> {
        let rows = self.rows(PENDING, &[self.site().into()])?;
        rows.iter().map(write_row).collect()
    }

    /// The log, oldest first, from `since` (ISO-8601) on.
    fn log(&self, since: Option<&str>) -> Result<Vec<WriteRow>> {
        let rows = self.rows(LOG, &[self.site().into(), since.unwrap_or("").into()])?;
        rows.iter().map(write_row).collect()
    }
}

impl Ledger for Store {}

#[cfg(feature = "postgres")]
impl Ledger for crate::postgres::PgStore {}

fn write_row(r: &Row) -> Result<WriteRow> {
    Ok(WriteRow {
        seq: r.int(0)?,
        entry: WriteEntry {
            run_id: r.text(1)?,
            credential: r.text(2)?,
            actor: r.text(3)?,
            external_id: r.text(4)?,
            action: r.text(5)?,
            jira_id: r.opt(6)?,
            field: r.opt(7)?,
            before: r.opt(8)?,
            after: r.opt(9)?,
            account_id: r.opt(14)?,
        },
        outcome: r.text(10)?,
        error: r.opt(11)?,
        at: r.text(12)?,
        ms: r.opt_int(13)?,
    })
}

/// A link from its three columns at `from` (jira_id, issue_key, base_json).
fn link(r: &Row, from: usize) -> Result<Link> {
    Ok(Link {
        jira_id: r.text(from)?,
        issue_key: r.opt(from + 1)?,
        base: r
            .opt(from + 2)?
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(serde_json::Value::Null),
    })
}

const INTEND: &str = "INSERT INTO t_write_log (run_id, site_id, credential, actor, external_id, action, jira_id, field, before, after, outcome, at, account_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $12) RETURNING seq";
const OUTCOME: &str =
    "UPDATE t_write_log SET outcome = $1, jira_id = COALESCE($2, jira_id), error = $3, ms = $4
     WHERE seq = $5 AND site_id = $6";
const LINK: &str = "SELECT jira_id, issue_key, base_json FROM t_apply_links
     WHERE site_id = $1 AND kind = $2 AND external_id = $3";
const SET_LINK: &str =
    "INSERT INTO t_apply_links (site_id, kind, external_id, jira_id, issue_key, base_json, updated)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (site_id, kind, external_id) DO UPDATE SET jira_id = excluded.jira_id,
        issue_key = excluded.issue_key, base_json = excluded.base_json, updated = excluded.updated";
const LINKS: &str = "SELECT external_id, jira_id, issue_key, base_json FROM t_apply_links WHERE site_id = $1 AND kind = $2";
const PENDING: &str = "SELECT seq, run_id, credential, actor, external_id, action, jira_id, field, before, after, outcome, error, at, ms, account_id
     FROM t_write_log WHERE site_id = $1 AND outcome IN ('pending', 'ambiguous') ORDER BY seq";
const LOG: &str = "SELECT seq, run_id, credential, actor, external_id, action, jira_id, field, before, after, outcome, error, at, ms, account_id
     FROM t_write_log WHERE site_id = $1 AND at >= $2 ORDER BY seq";

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
