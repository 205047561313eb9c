-- jiralink store, PostgreSQL, migration 6: issues whose worklogs are longer than Jira embeds, queued in
-- the transaction that writes the issue until the worklog feeds or a per-issue read complete them.
-- `need_history` (0 or 1): the issue was new to the store after the feeds started, so its older
-- worklogs are not in any feed page the sync will read.
CREATE TABLE t_worklog_reads (
    issue_id TEXT COLLATE "C" PRIMARY KEY,
    need_history BIGINT NOT NULL
);
