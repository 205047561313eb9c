-- jiralink store, SQLite, migration 8: every row carries the Jira site it came from (`site_id`),
-- and keys are (site_id, id): Jira's ids are unique only within one site, so two sites synced into
-- one store overwrote each other. `t_sites` names the sites; `t_not_visible` records projects a
-- credential could see before and no longer can (their rows stay; they are not deleted).
-- A store written before this migration holds one site whose id it never recorded: its rows get
-- the placeholder site 'unresolved', and the first sync of a credential that wrote them (one with
-- a checkpoint under 'unresolved') moves them, checkpoints included, to that credential's real site
-- (Store::use_site), so no re-sync is needed. SQLite cannot change a primary key in place, so each
-- table is rebuilt: created anew, filled, the old one dropped and the new one renamed.

DROP VIEW projects; DROP VIEW issues; DROP VIEW issue_changes; DROP VIEW comments;
DROP VIEW worklogs; DROP VIEW users; DROP VIEW boards; DROP VIEW sprints; DROP VIEW sprint_issues;
DROP VIEW sync_runs; DROP VIEW statuses; DROP VIEW fields; DROP VIEW versions; DROP VIEW components;
DROP VIEW issue_versions; DROP VIEW issue_components; DROP VIEW issue_links; DROP VIEW issue_types;
DROP VIEW priorities; DROP VIEW resolutions;

CREATE TABLE t_sites (
    site_id TEXT PRIMARY KEY, deployment TEXT, base_url TEXT, cloud_id TEXT, server_id TEXT,
    title TEXT, version TEXT, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL
);
INSERT INTO t_sites (site_id, first_seen, last_seen)
    SELECT 'unresolved', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE EXISTS (SELECT 1 FROM t_sync_runs) OR EXISTS (SELECT 1 FROM t_issues)
       OR EXISTS (SELECT 1 FROM t_projects);

CREATE TABLE t_not_visible (
    site_id TEXT NOT NULL, credential TEXT NOT NULL, project_key TEXT NOT NULL, since TEXT NOT NULL,
    PRIMARY KEY (site_id, credential, project_key)
);

CREATE TABLE n_projects (
    site_id TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL, type TEXT,
    raw_json TEXT, deleted_at TEXT, PRIMARY KEY (site_id, id)
);
INSERT INTO n_projects SELECT 'unresolved', id, key, name, type, raw_json, deleted_at FROM t_projects;
DROP TABLE t_projects; ALTER TABLE n_projects RENAME TO t_projects;

CREATE TABLE n_issues (
    site_id TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL, project_key TEXT NOT NULL,
    issue_type TEXT, summary TEXT, status TEXT, status_category TEXT, priority TEXT,
    assignee_id TEXT, reporter_id TEXT, created TEXT, updated TEXT, resolved TEXT,
    story_points REAL, parent_key TEXT, deleted_at TEXT, raw_json TEXT NOT NULL,
    PRIMARY KEY (site_id, id)
);
INSERT INTO n_issues SELECT 'unresolved', id, key, project_key, issue_type, summary, status,
    status_category, priority, assignee_id, reporter_id, created, updated, resolved, story_points,
    parent_key, deleted_at, raw_json FROM t_issues;
DROP TABLE t_issues; ALTER TABLE n_issues RENAME TO t_issues;
CREATE INDEX t_issues_project ON t_issues (site_id, project_key);
CREATE INDEX t_issues_narrow ON t_issues (site_id, deleted_at, id, key, project_key, issue_type,
    status, status_category, priority, assignee_id, created, updated, resolved, story_points);

CREATE TABLE n_issue_changes (
    site_id TEXT NOT NULL, issue_id TEXT NOT NULL, change_id TEXT NOT NULL,
    item_index INTEGER NOT NULL, changed_at TEXT, author_id TEXT, field TEXT, from_value TEXT,
    from_string TEXT, to_value TEXT, to_string TEXT,
    PRIMARY KEY (site_id, change_id, item_index)
);
INSERT INTO n_issue_changes SELECT 'unresolved', issue_id, change_id, item_index, changed_at,
    author_id, field, from_value, from_string, to_value, to_string FROM t_issue_changes;
DROP TABLE t_issue_changes; ALTER TABLE n_issue_changes RENAME TO t_issue_changes;
CREATE INDEX t_issue_changes_issue ON t_issue_changes (site_id, issue_id);
CREATE INDEX t_issue_changes_field ON t_issue_changes (site_id, field, issue_id, changed_at,
    from_value, to_value);

CREATE TABLE n_comments (
    site_id TEXT NOT NULL, id TEXT NOT NULL, issue_id TEXT NOT NULL, author_id TEXT, created TEXT,
    updated TEXT, body_text TEXT, body_raw TEXT, deleted_at TEXT, PRIMARY KEY (site_id, id)
);
INSERT INTO n_comments SELECT 'unresolved', id, issue_id, author_id, created, updated, body_text,
    body_raw, deleted_at FROM t_comments;
DROP TABLE t_comments; ALTER TABLE n_comments RENAME TO t_comments;
CREATE INDEX t_comments_issue ON t_comments (site_id, issue_id);

CREATE TABLE n_worklogs (
    site_id TEXT NOT NULL, id TEXT NOT NULL, issue_id TEXT NOT NULL, author_id TEXT, started TEXT,
    time_spent_seconds INTEGER, updated TEXT, deleted_at TEXT, PRIMARY KEY (site_id, id)
);
INSERT INTO n_worklogs SELECT 'unresolved', id, issue_id, author_id, started, time_spent_seconds,
    updated, deleted_at FROM t_worklogs;
DROP TABLE t_worklogs; ALTER TABLE n_worklogs RENAME TO t_worklogs;
CREATE INDEX t_worklogs_issue ON t_worklogs (site_id, issue_id);

CREATE TABLE n_users (
    site_id TEXT NOT NULL, id TEXT NOT NULL, display_name TEXT, email TEXT, active INTEGER,
    PRIMARY KEY (site_id, id)
);
INSERT INTO n_users SELECT 'unresolved', id, display_name, email, active FROM t_users;
DROP TABLE t_users; ALTER TABLE n_users RENAME TO t_users;

CREATE TABLE n_boards (
    site_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT, type TEXT, project_key TEXT,
    deleted_at TEXT, PRIMARY KEY (site_id, id)
);
INSERT INTO n_boards SELECT 'unresolved', id, name, type, project_key, deleted_at FROM t_boards;
DROP TABLE t_boards; ALTER TABLE n_boards RENAME TO t_boards;

CREATE TABLE n_sprints (
    site_id TEXT NOT NULL, id TEXT NOT NULL, board_id TEXT, name TEXT, state TEXT,
    start_date TEXT, end_date TEXT, complete_date TEXT, goal TEXT, PRIMARY KEY (site_id, id)
);
INSERT INTO n_sprints SELECT 'unresolved', id, board_id, name, state, start_date, end_date,
    complete_date, goal FROM t_sprints;
DROP TABLE t_sprints; ALTER TABLE n_sprints RENAME TO t_sprints;

CREATE TABLE n_sprint_issues (
    site_id TEXT NOT NULL, sprint_id TEXT NOT NULL, issue_id TEXT NOT NULL,
    PRIMARY KEY (site_id, sprint_id, issue_id)
);
INSERT INTO n_sprint_issues SELECT 'unresolved', sprint_id, issue_id FROM t_sprint_issues;
DROP TABLE t_sprint_issues; ALTER TABLE n_sprint_issues RENAME TO t_sprint_issues;
CREATE INDEX t_sprint_issues_issue ON t_sprint_issues (site_id, issue_id);

-- A run's site is known once the sync has read serverInfo; a run that failed before has none.
ALTER TABLE t_sync_runs ADD COLUMN site_id TEXT;
UPDATE t_sync_runs SET site_id = 'unresolved';

CREATE TABLE n_checkpoints (
    site_id TEXT NOT NULL, credential TEXT NOT NULL, stream TEXT NOT NULL, scope TEXT NOT NULL,
    value TEXT NOT NULL, format_version INTEGER NOT NULL,
    PRIMARY KEY (site_id, credential, stream, scope)
);
INSERT INTO n_checkpoints SELECT 'unresolved', credential, stream, scope, value, format_version
    FROM t_checkpoints;
DROP TABLE t_checkpoints; ALTER TABLE n_checkpoints RENAME TO t_checkpoints;

CREATE TABLE n_statuses (
    site_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, category TEXT NOT NULL,
    PRIMARY KEY (site_id, id)
);
INSERT INTO n_statuses SELECT 'unresolved', id, name, category FROM t_statuses;
DROP TABLE t_statuses; ALTER TABLE n_statuses RENAME TO t_statuses;

CREATE TABLE n_fields (
    site_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, custom INTEGER NOT NULL,
    schema_type TEXT, schema_custom TEXT, PRIMARY KEY (site_id, id)
);
INSERT INTO n_fields SELECT 'unresolved', id, name, custom, schema_type, schema_custom FROM t_fields;
DROP TABLE t_fields; ALTER TABLE n_fields RENAME TO t_fields;

CREATE TABLE n_versions (
    site_id TEXT NOT NULL, id TEXT NOT NULL, project_key TEXT NOT NULL, name TEXT NOT NULL,
    released INTEGER, archived INTEGER, release_date TEXT, deleted_at TEXT,
    PRIMARY KEY (site_id, id)
);
INSERT INTO n_versions SELECT 'unresolved', id, project_key, name, released, archived,
    release_date, deleted_at FROM t_versions;
DROP TABLE t_versions; ALTER TABLE n_versions RENAME TO t_versions;

CREATE TABLE n_components (
    site_id TEXT NOT NULL, id TEXT NOT NULL, project_key TEXT NOT NULL, name TEXT NOT NULL,
    lead_id TEXT, deleted_at TEXT, PRIMARY KEY (site_id, id)
);
INSERT INTO n_components SELECT 'unresolved', id, project_key, name, lead_id, deleted_at
    FROM t_components;
DROP TABLE t_components; ALTER TABLE n_components RENAME TO t_components;

CREATE TABLE n_issue_versions (
    site_id TEXT NOT NULL, issue_id TEXT NOT NULL, version_id TEXT NOT NULL, kind TEXT NOT NULL,
    PRIMARY KEY (site_id, issue_id, version_id, kind)
);
INSERT INTO n_issue_versions SELECT 'unresolved', issue_id, version_id, kind FROM t_issue_versions;
DROP TABLE t_issue_versions; ALTER TABLE n_issue_versions RENAME TO t_issue_versions;

CREATE TABLE n_issue_components (
    site_id TEXT NOT NULL, issue_id TEXT NOT NULL, component_id TEXT NOT NULL,
    PRIMARY KEY (site_id, issue_id, component_id)
);
INSERT INTO n_issue_components SELECT 'unresolved', issue_id, component_id FROM t_issue_components;
DROP TABLE t_issue_components; ALTER TABLE n_issue_components RENAME TO t_issue_components;

CREATE TABLE n_issue_links (
    site_id TEXT NOT NULL, id TEXT NOT NULL, issue_id TEXT NOT NULL, link_type TEXT,
    direction TEXT NOT NULL, other_issue_id TEXT, other_issue_key TEXT,
    PRIMARY KEY (site_id, id, issue_id)
);
INSERT INTO n_issue_links SELECT 'unresolved', id, issue_id, link_type, direction, other_issue_id,
    other_issue_key FROM t_issue_links;
DROP TABLE t_issue_links; ALTER TABLE n_issue_links RENAME TO t_issue_links;
CREATE INDEX t_issue_links_issue ON t_issue_links (site_id, issue_id);

CREATE TABLE n_lookups (
    site_id TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, subtask INTEGER,
    PRIMARY KEY (site_id, kind, id)
);
INSERT INTO n_lookups SELECT 'unresolved', kind, id, name, subtask FROM t_lookups;
DROP TABLE t_lookups; ALTER TABLE n_lookups RENAME TO t_lookups;

CREATE TABLE n_worklog_reads (
    site_id TEXT NOT NULL, issue_id TEXT NOT NULL, need_history INTEGER NOT NULL,
    PRIMARY KEY (site_id, issue_id)
);
INSERT INTO n_worklog_reads SELECT 'unresolved', issue_id, need_history FROM t_worklog_reads;
DROP TABLE t_worklog_reads; ALTER TABLE n_worklog_reads RENAME TO t_worklog_reads;

CREATE VIEW sites AS SELECT site_id, deployment, base_url, cloud_id, server_id, title, version,
    first_seen, last_seen FROM t_sites;
CREATE VIEW not_visible AS SELECT site_id, credential, project_key, since FROM t_not_visible;
CREATE VIEW projects AS SELECT site_id, id, key, name, type, deleted_at FROM t_projects;
CREATE VIEW issues AS SELECT site_id, id, key, project_key, issue_type, summary, status,
    status_category, priority, assignee_id, reporter_id, created, updated, resolved, story_points,
    parent_key, deleted_at, raw_json FROM t_issues;
CREATE VIEW issue_changes AS SELECT site_id, issue_id, change_id, changed_at, author_id, field,
    from_value, from_string, to_value, to_string FROM t_issue_changes;
CREATE VIEW comments AS SELECT site_id, id, issue_id, author_id, created, updated, body_text,
    deleted_at FROM t_comments;
CREATE VIEW worklogs AS SELECT site_id, id, issue_id, author_id, started, time_spent_seconds,
    updated, deleted_at FROM t_worklogs;
CREATE VIEW users AS SELECT site_id, id, display_name, email, active FROM t_users;
CREATE VIEW boards AS SELECT site_id, id, name, type, project_key, deleted_at FROM t_boards;
CREATE VIEW sprints AS SELECT site_id, id, board_id, name, state, start_date, end_date,
    complete_date, goal FROM t_sprints;
CREATE VIEW sprint_issues AS SELECT site_id, sprint_id, issue_id FROM t_sprint_issues;
CREATE VIEW sync_runs AS SELECT site_id, id, credential, started, finished, status, requests,
    issues_written, error FROM t_sync_runs;
CREATE VIEW statuses AS SELECT site_id, id, name, category FROM t_statuses;
CREATE VIEW fields AS SELECT site_id, id, name, custom, schema_type, schema_custom FROM t_fields;
CREATE VIEW versions AS SELECT site_id, id, project_key, name, released, archived, release_date,
    deleted_at FROM t_versions;
CREATE VIEW components AS SELECT site_id, id, project_key, name, lead_id, deleted_at
    FROM t_components;
CREATE VIEW issue_versions AS SELECT site_id, issue_id, version_id, kind FROM t_issue_versions;
CREATE VIEW issue_components AS SELECT site_id, issue_id, component_id FROM t_issue_components;
CREATE VIEW issue_links AS SELECT site_id, id, issue_id, link_type, direction, other_issue_id,
    other_issue_key FROM t_issue_links;
CREATE VIEW issue_types AS SELECT site_id, id, name, subtask FROM t_lookups WHERE kind = 'issue_type';
CREATE VIEW priorities AS SELECT site_id, id, name FROM t_lookups WHERE kind = 'priority';
CREATE VIEW resolutions AS SELECT site_id, id, name FROM t_lookups WHERE kind = 'resolution';
