-- jiralink store, SQLite, migration 13: jiralink's own writes recognisable in the synced history.
-- `t_write_log.account_id` is the Jira account a write was made as, as the changelog names its
-- author (Cloud's accountId, Data Center's user key). The view `apply_changes` is `issue_changes`
-- joined to the ledger: a change is jiralink's when it is on an issue `apply` edited, transitioned,
-- moved to a sprint or linked, by the account it wrote as, within two minutes of that write (Jira's
-- clock and this machine's may differ a little). Each change names one run and record: of the
-- writes that match, the one of the same field, else the one closest in time. A two-way pipeline
-- leaves these changes out rather than echo jiralink's own writes back.
ALTER TABLE t_write_log ADD COLUMN account_id TEXT;
CREATE INDEX t_write_log_issue ON t_write_log (site_id, jira_id);

CREATE VIEW apply_changes AS
    SELECT c.site_id, c.issue_id, c.change_id, c.changed_at, c.author_id, c.field, c.from_string,
           c.to_string, w.run_id, w.external_id
    FROM t_write_log w
    JOIN t_issue_changes c
      ON c.site_id = w.site_id AND c.issue_id = w.jira_id AND c.author_id = w.account_id
     AND c.changed_at >= strftime('%Y-%m-%dT%H:%M:%fZ', w.at, '-120 seconds')
     AND c.changed_at <= strftime('%Y-%m-%dT%H:%M:%fZ', w.at,
                                  '+' || (COALESCE(w.ms, 0) / 1000 + 120) || ' seconds')
    WHERE w.action IN ('update', 'transition', 'sprint', 'link')
      AND w.outcome NOT IN ('failed', 'not_applied', 'pending')
      AND NOT EXISTS (
        SELECT 1 FROM t_write_log l
        WHERE l.site_id = w.site_id AND l.jira_id = w.jira_id AND l.account_id = w.account_id
          AND l.seq <> w.seq AND l.action IN ('update', 'transition', 'sprint', 'link')
          AND l.outcome NOT IN ('failed', 'not_applied', 'pending')
          AND c.changed_at >= strftime('%Y-%m-%dT%H:%M:%fZ', l.at, '-120 seconds')
          AND c.changed_at <= strftime('%Y-%m-%dT%H:%M:%fZ', l.at,
                                       '+' || (COALESCE(l.ms, 0) / 1000 + 120) || ' seconds')
          AND ((CASE WHEN l.field = c.field THEN 1 ELSE 0 END)
                 > (CASE WHEN w.field = c.field THEN 1 ELSE 0 END)
            OR ((CASE WHEN l.field = c.field THEN 1 ELSE 0 END)
                 = (CASE WHEN w.field = c.field THEN 1 ELSE 0 END)
              AND (abs(julianday(c.changed_at) - julianday(l.at))
                     < abs(julianday(c.changed_at) - julianday(w.at))
                OR (abs(julianday(c.changed_at) - julianday(l.at))
                     = abs(julianday(c.changed_at) - julianday(w.at)) AND l.seq > w.seq)))));
