-- jiralink store, PostgreSQL, migration 10: the write-back ledger of `jiralink apply` (see the
-- SQLite migration of the same number for what each table holds). Times are stored as text, like
-- the other tables, and the view casts them to timestamptz.
CREATE TABLE t_write_log (
    seq BIGSERIAL PRIMARY KEY,
    run_id TEXT COLLATE "C" NOT NULL, site_id TEXT COLLATE "C" NOT NULL, credential TEXT COLLATE "C" NOT NULL, actor TEXT COLLATE "C" NOT NULL,
    external_id TEXT COLLATE "C" NOT NULL, action TEXT COLLATE "C" NOT NULL, jira_id TEXT COLLATE "C", field TEXT COLLATE "C",
    before TEXT COLLATE "C", after TEXT COLLATE "C", outcome TEXT COLLATE "C" NOT NULL, error TEXT COLLATE "C", at TEXT COLLATE "C" NOT NULL, ms BIGINT
);
CREATE INDEX t_write_log_site_at ON t_write_log (site_id, at);

CREATE TABLE t_apply_links (
    site_id TEXT COLLATE "C" NOT NULL, kind TEXT COLLATE "C" NOT NULL, external_id TEXT COLLATE "C" NOT NULL,
    jira_id TEXT COLLATE "C" NOT NULL, issue_key TEXT COLLATE "C", base_json TEXT COLLATE "C", updated TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (site_id, kind, external_id)
);

CREATE VIEW write_log AS
    SELECT run_id, site_id, credential, actor, external_id, action, jira_id, field, before, after,
           outcome, error, at::timestamptz AS at
    FROM t_write_log;

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
