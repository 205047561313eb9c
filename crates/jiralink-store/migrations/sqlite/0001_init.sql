-- jiralink store, SQLite, migration 1. Append-only: never edit an applied migration.
-- Tables are internal (t_*); the views below are the public, documented schema.

CREATE TABLE t_projects (
    id TEXT PRIMARY KEY, key TEXT NOT NULL, name TEXT NOT NULL, type TEXT,
    raw_json TEXT, deleted_at TEXT
);
CREATE TABLE t_issues (
    id TEXT PRIMARY KEY, key TEXT NOT NULL, project_key TEXT NOT NULL, issue_type TEXT,
    summary TEXT, status TEXT, status_category TEXT, priority TEXT, assignee_id TEXT,
    reporter_id TEXT, created TEXT, updated TEXT, resolved TEXT, story_points REAL,
    parent_key TEXT, deleted_at TEXT, raw_json TEXT NOT NULL
);
CREATE INDEX t_issues_project ON t_issues (project_key);
CREATE TABLE t_issue_changes (
    issue_id TEXT NOT NULL, change_id TEXT NOT NULL, item_index INTEGER NOT NULL,
    changed_at TEXT, author_id TEXT, field TEXT, from_value TEXT, from_string TEXT,
    to_value TEXT, to_string TEXT,
    PRIMARY KEY (change_id, item_index)
);
CREATE INDEX t_issue_changes_issue ON t_issue_changes (issue_id);
CREATE TABLE t_comments (
    id TEXT PRIMARY KEY, issue_id TEXT NOT NULL, author_id TEXT, created TEXT, updated TEXT,
    body_text TEXT, body_raw TEXT, deleted_at TEXT
);
CREATE INDEX t_comments_issue ON t_comments (issue_id);
CREATE TABLE t_worklogs (
    id TEXT PRIMARY KEY, issue_id TEXT NOT NULL, author_id TEXT, started TEXT,
    time_spent_seconds INTEGER, updated TEXT, deleted_at TEXT
);
CREATE INDEX t_worklogs_issue ON t_worklogs (issue_id);
CREATE TABLE t_users (id TEXT PRIMARY KEY, display_name TEXT, email TEXT, active INTEGER);
CREATE TABLE t_boards (id TEXT PRIMARY KEY, name TEXT, type TEXT, project_key TEXT, deleted_at TEXT);
CREATE TABLE t_sprints (
    id TEXT PRIMARY KEY, board_id TEXT, name TEXT, state TEXT, start_date TEXT, end_date TEXT,
    complete_date TEXT, goal TEXT
);
CREATE TABLE t_sprint_issues (sprint_id TEXT NOT NULL, issue_id TEXT NOT NULL, PRIMARY KEY (sprint_id, issue_id));
CREATE TABLE t_sync_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, credential TEXT NOT NULL, started TEXT NOT NULL,
    finished TEXT, status TEXT NOT NULL, requests INTEGER NOT NULL DEFAULT 0,
    issues_written INTEGER NOT NULL DEFAULT 0, error TEXT
);
-- Sync positions, written in the same transaction as the data they cover.
CREATE TABLE t_checkpoints (
    credential TEXT NOT NULL, stream TEXT NOT NULL, scope TEXT NOT NULL, value TEXT NOT NULL,
    format_version INTEGER NOT NULL, PRIMARY KEY (credential, stream, scope)
);

CREATE VIEW projects AS SELECT id, key, name, type, deleted_at FROM t_projects;
CREATE VIEW issues AS SELECT id, key, project_key, issue_type, summary, status, status_category,
    priority, assignee_id, reporter_id, created, updated, resolved, story_points, parent_key,
    deleted_at, raw_json FROM t_issues;
CREATE VIEW issue_changes AS SELECT issue_id, change_id, changed_at, author_id, field, from_value,
    from_string, to_value, to_string FROM t_issue_changes;
CREATE VIEW comments AS SELECT id, issue_id, author_id, created, updated, body_text, deleted_at FROM t_comments;
CREATE VIEW worklogs AS SELECT id, issue_id, author_id, started, time_spent_seconds, updated, deleted_at FROM t_worklogs;
CREATE VIEW users AS SELECT id, display_name, email, active FROM t_users;
CREATE VIEW boards AS SELECT id, name, type, project_key, deleted_at FROM t_boards;
CREATE VIEW sprints AS SELECT id, board_id, name, state, start_date, end_date, complete_date, goal FROM t_sprints;
CREATE VIEW sprint_issues AS SELECT sprint_id, issue_id FROM t_sprint_issues;
CREATE VIEW sync_runs AS SELECT id, credential, started, finished, status, requests, issues_written, error FROM t_sync_runs;
