-- jiralink store, SQLite, migration 5: issue types, priorities and resolutions, kept in one table
-- (one write path) behind three views.
CREATE TABLE t_lookups (
    kind TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, subtask INTEGER,
    PRIMARY KEY (kind, id)
);
CREATE VIEW issue_types AS SELECT id, name, subtask FROM t_lookups WHERE kind = 'issue_type';
CREATE VIEW priorities AS SELECT id, name FROM t_lookups WHERE kind = 'priority';
CREATE VIEW resolutions AS SELECT id, name FROM t_lookups WHERE kind = 'resolution';
