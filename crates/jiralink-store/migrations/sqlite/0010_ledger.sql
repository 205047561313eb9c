-- jiralink store, SQLite, migration 10: the write-back ledger of `jiralink apply`.
-- `t_write_log` holds one row per intended write (and per field of an update), inserted with
-- outcome 'pending' before the request is sent and given its outcome after; a row still 'pending'
-- after a crash is an ambiguous write that the next run reconciles. `t_apply_links` maps the
-- caller's external ids to Jira's objects (issues, comments, worklogs, remote links) with the
-- value last applied per field (the base of conflict detection).
CREATE TABLE t_write_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL, site_id TEXT NOT NULL, credential TEXT NOT NULL, actor TEXT NOT NULL,
    external_id TEXT NOT NULL, action TEXT NOT NULL, jira_id TEXT, field TEXT,
    before TEXT, after TEXT, outcome TEXT NOT NULL, error TEXT, at TEXT NOT NULL, ms INTEGER
);
CREATE INDEX t_write_log_site_at ON t_write_log (site_id, at);

CREATE TABLE t_apply_links (
    site_id TEXT NOT NULL, kind TEXT NOT NULL, external_id TEXT NOT NULL,
    jira_id TEXT NOT NULL, issue_key TEXT, base_json TEXT, updated TEXT NOT NULL,
    PRIMARY KEY (site_id, kind, external_id)
);

CREATE VIEW write_log AS
    SELECT run_id, site_id, credential, actor, external_id, action, jira_id, field, before, after,
           outcome, error, at
    FROM t_write_log;

-- Keys follow the sync: an issue moved to another project keeps its id, and its current key is
-- the synced one when the store has it.
-- The key follows the synced issue (moves, key changes); before the issue is synced, the key
-- `apply` saw. (Two branches rather than COALESCE, so that SQLite declares the column's type.)
CREATE VIEW links AS
    SELECT l.external_id, l.site_id, l.jira_id AS issue_id, i.key AS issue_key
    FROM t_apply_links l
    JOIN t_issues i ON i.site_id = l.site_id AND i.id = l.jira_id
    WHERE l.kind = 'issue'
    UNION ALL
    SELECT l.external_id, l.site_id, l.jira_id AS issue_id, l.issue_key
    FROM t_apply_links l
    WHERE l.kind = 'issue'
      AND NOT EXISTS (SELECT 1 FROM t_issues i WHERE i.site_id = l.site_id AND i.id = l.jira_id);
