-- jiralink store, PostgreSQL, migration 13: jiralink's own writes recognisable in the synced
-- history (see the SQLite migration of the same number): `t_write_log.account_id` and the view
-- `apply_changes`, `issue_changes` joined to the ledger.
ALTER TABLE t_write_log ADD COLUMN account_id TEXT COLLATE "C";
CREATE INDEX t_write_log_issue ON t_write_log (site_id, jira_id);

CREATE VIEW apply_changes AS
    SELECT c.site_id, c.issue_id, c.change_id, c.changed_at::timestamptz AS changed_at, c.author_id,
           c.field, c.from_string, c.to_string, w.run_id, w.external_id
    FROM t_write_log w
    JOIN t_issue_changes c
      ON c.site_id = w.site_id AND c.issue_id = w.jira_id AND c.author_id = w.account_id
     AND c.changed_at::timestamptz >= w.at::timestamptz - interval '120 seconds'
     AND c.changed_at::timestamptz
         <= w.at::timestamptz + (COALESCE(w.ms, 0) / 1000 + 120) * interval '1 second'
    WHERE w.action IN ('update', 'transition', 'sprint', 'link')
      AND w.outcome NOT IN ('failed', 'not_applied', 'pending')
      AND NOT EXISTS (
        SELECT 1 FROM t_write_log l
        WHERE l.site_id = w.site_id AND l.jira_id = w.jira_id AND l.account_id = w.account_id
          AND l.seq <> w.seq AND l.action IN ('update', 'transition', 'sprint', 'link')
          AND l.outcome NOT IN ('failed', 'not_applied', 'pending')
          AND c.changed_at::timestamptz >= l.at::timestamptz - interval '120 seconds'
          AND c.changed_at::timestamptz
              <= l.at::timestamptz + (COALESCE(l.ms, 0) / 1000 + 120) * interval '1 second'
          AND ((CASE WHEN l.field = c.field THEN 1 ELSE 0 END)
                 > (CASE WHEN w.field = c.field THEN 1 ELSE 0 END)
            OR ((CASE WHEN l.field = c.field THEN 1 ELSE 0 END)
                 = (CASE WHEN w.field = c.field THEN 1 ELSE 0 END)
              AND (abs(extract(epoch FROM c.changed_at::timestamptz - l.at::timestamptz))
                     < abs(extract(epoch FROM c.changed_at::timestamptz - w.at::timestamptz))
                OR (abs(extract(epoch FROM c.changed_at::timestamptz - l.at::timestamptz))
                     = abs(extract(epoch FROM c.changed_at::timestamptz - w.at::timestamptz))
                  AND l.seq > w.seq)))));
