-- jiralink store, PostgreSQL, migration 5: issue types, priorities and resolutions, kept in one table
-- (one write path) behind three views.
CREATE TABLE t_lookups (
    kind TEXT COLLATE "C" NOT NULL, id TEXT COLLATE "C" NOT NULL, name TEXT COLLATE "C" NOT NULL,
    subtask BIGINT,
    PRIMARY KEY (kind, id)
);
CREATE VIEW issue_types AS SELECT id, name, subtask FROM t_lookups WHERE kind = 'issue_type';
CREATE VIEW priorities AS SELECT id, name FROM t_lookups WHERE kind = 'priority';
CREATE VIEW resolutions AS SELECT id, name FROM t_lookups WHERE kind = 'resolution';
