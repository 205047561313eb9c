-- jiralink store, PostgreSQL, migration 8: every row carries the Jira site it came from
-- (`site_id`), and keys are (site_id, id), as in SQLite's migration 8 (which says why). Rows of a
-- store written before get the placeholder site 'unresolved', moved to the real site by the first
-- sync of a credential that wrote them (PgStore::use_site). Postgres changes keys in place.
DROP VIEW projects, issues, issue_changes, comments, worklogs, users, boards, sprints, sprint_issues,
    sync_runs, statuses, fields, versions, components, issue_versions, issue_components, issue_links,
    issue_types, priorities, resolutions;
DROP INDEX t_issues_project, t_issues_narrow, t_issue_changes_issue, t_issue_changes_field,
    t_comments_issue, t_worklogs_issue, t_sprint_issues_issue, t_issue_links_issue;

CREATE TABLE t_sites (
    site_id TEXT COLLATE "C" PRIMARY KEY, deployment TEXT COLLATE "C", base_url TEXT COLLATE "C",
    cloud_id TEXT COLLATE "C", server_id TEXT COLLATE "C", title TEXT COLLATE "C",
    version TEXT COLLATE "C", first_seen TEXT COLLATE "C" NOT NULL, last_seen TEXT COLLATE "C" NOT NULL
);
INSERT INTO t_sites (site_id, first_seen, last_seen)
    SELECT 'unresolved', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    WHERE EXISTS (SELECT 1 FROM t_sync_runs) OR EXISTS (SELECT 1 FROM t_issues)
       OR EXISTS (SELECT 1 FROM t_projects);
CREATE TABLE t_not_visible (
    site_id TEXT COLLATE "C" NOT NULL, credential TEXT COLLATE "C" NOT NULL,
    project_key TEXT COLLATE "C" NOT NULL, since TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (site_id, credential, project_key)
);

ALTER TABLE t_projects ADD COLUMN site_id TEXT COLLATE "C" NOT NULL DEFAULT 'unresolved';
ALTER TABLE t_projects ALTER COLUMN site_id DROP DEFAULT;
ALTER TABLE t_projects DROP CONSTRAINT t_projects_pkey, ADD PRIMARY KEY (site_id, id);
ALTER TABLE t_issues ADD COLUMN site_id TEXT COLLATE "C" NOT NULL DEFAULT 'unresolved';
ALTER TABLE t_issues ALTER COLUMN site_id DROP DEFAULT;
ALTER TABLE t_issues DROP CONSTRAINT t_issues_pkey, ADD PRIMARY KEY (site_id, id);
ALTER TABLE t_issue_changes ADD COLUMN site_id TEXT COLLATE "C" NOT NULL DEFAULT 'unresolved';
ALTER TABLE t_issue_changes ALTER COLUMN site_id DROP DEFAULT;
ALTER TABLE t_issue_changes DROP CONSTRAINT t_issue_changes_pkey, ADD PRIMARY KEY (site_id, change_id, item_index);
ALTER TABLE t_comments ADD COLUMN site_id TEXT COLLATE "C" NOT NULL DEFAULT 'unresolved';
ALTER TABLE t_comments ALTER COLUMN site_id DROP DEFAULT;
ALTER TABLE t_comments DROP CONSTRAINT t_comments_pkey, ADD PRIMARY KEY (site_id, id);
ALTER TABLE t_worklogs ADD COLUMN site_id TEXT COLLATE "C" NOT NULL DEFAULT 'unresolved';
ALTER TABLE t_worklogs ALTER COLUMN site_id DROP DEFAULT;
ALTER TABLE t_worklogs DROP CONSTRAINT t_worklogs_pkey, ADD PRIMARY KEY (site_id, id);
ALTER TABLE t_users ADD COLUMN site_id TEXT COLLATE "C" NOT NULL DEFAULT 'unresolved';
ALTER TABLE t_users ALTER COLUMN site_id DROP DEFAULT;
ALTER TABLE t_users DROP CONSTRAINT t_users_pkey, ADD PRIMARY KEY (site_id, id);
ALTER TABLE t_boards ADD COLUMN site_id TEXT COLLATE "C" NOT NULL DEFAULT 'unresolved';
ALTER TABLE t_boards ALTER COLUMN site_id DROP DEFAULT;
ALTER TABLE t_boards DROP CONSTRAINT t_boards_pkey, ADD PRIMARY KEY (site_id, id);
ALTER TABLE t_sprints ADD COLUMN site_id TEXT COLLATE "C" NOT NULL DEFAULT 'unresolved';
ALTER TABLE t_sprints ALTER COLUMN site_id DROP DEFAULT;
ALTER TABLE t_sprints DROP CONSTRAINT t_sprints_pkey, ADD PRIMARY KEY (site_id, id);
ALTER TABLE t_sprint_issues ADD COLUMN site_id TEXT COLLATE "C" NOT NULL DEFAULT 'unresolved';
ALTER TABLE t_sprint_issues ALTER COLUMN site_id DROP DEFAULT;
ALTER TABLE t_sprint_issues DROP CONSTRAINT t_sprint_issues_pkey, ADD PRIMARY KEY (site_id, sprint_id, issue_id);
ALTER TABLE t_checkpoints ADD COLUMN site_id TEXT COLLATE "C" NOT NULL DEFAULT 'unresolved';
ALTER TABLE t_checkpoints ALTER COLUMN site_id DROP DEFAULT;
ALTER TABLE t_checkpoints DROP CONSTRAINT t_checkpoints_pkey, ADD PRIMARY KEY (site_id, credential, stream, scope);
ALTER TABLE t_statuses ADD COLUMN site_id TEXT COLLATE "C" NOT NULL DEFAULT 'unresolved';
ALTER TABLE t_statuses ALTER COLUMN site_id DROP DEFAULT;
ALTER TABLE t_statuses DROP CONSTRAINT t_statuses_pkey, ADD PRIMARY KEY (site_id, id);
ALTER TABLE t_fields ADD COLUMN site_id TEXT COLLATE "C" NOT NULL DEFAULT 'unresolved';
ALTER TABLE t_fields ALTER COLUMN site_id DROP DEFAULT;
ALTER TABLE t_fields DROP CONSTRAINT t_fields_pkey, ADD PRIMARY KEY (site_id, id);
ALTER TABLE t_versions ADD COLUMN site_id TEXT COLLATE "C" NOT NULL DEFAULT 'unresolved';
ALTER TABLE t_versions ALTER COLUMN site_id DROP DEFAULT;
ALTER TABLE t_versions DROP CONSTRAINT t_versions_pkey, ADD PRIMARY KEY (site_id, id);
ALTER TABLE t_components ADD COLUMN site_id TEXT COLLATE "C" NOT NULL DEFAULT 'unresolved';
ALTER TABLE t_components ALTER COLUMN site_id DROP DEFAULT;
ALTER TABLE t_components DROP CONSTRAINT t_components_pkey, ADD PRIMARY KEY (site_id, id);
ALTER TABLE t_issue_versions ADD COLUMN site_id TEXT COLLATE "C" NOT NULL DEFAULT 'unresolved';
ALTER TABLE t_issue_versions ALTER COLUMN site_id DROP DEFAULT;
ALTER TABLE t_issue_versions DROP CONSTRAINT t_issue_versions_pkey, ADD PRIMARY KEY (site_id, issue_id, version_id, kind);
ALTER TABLE t_issue_components ADD COLUMN site_id TEXT COLLATE "C" NOT NULL DEFAULT 'unresolved';
ALTER TABLE t_issue_components ALTER COLUMN site_id DROP DEFAULT;
ALTER TABLE t_issue_components DROP CONSTRAINT t_issue_components_pkey, ADD PRIMARY KEY (site_id, issue_id, component_id);
ALTER TABLE t_issue_links ADD COLUMN site_id TEXT COLLATE "C" NOT NULL DEFAULT 'unresolved';
ALTER TABLE t_issue_links ALTER COLUMN site_id DROP DEFAULT;
ALTER TABLE t_issue_links DROP CONSTRAINT t_issue_links_pkey, ADD PRIMARY KEY (site_id, id, issue_id);
ALTER TABLE t_lookups ADD COLUMN site_id TEXT COLLATE "C" NOT NULL DEFAULT 'unresolved';
ALTER TABLE t_lookups ALTER COLUMN site_id DROP DEFAULT;
ALTER TABLE t_lookups DROP CONSTRAINT t_lookups_pkey, ADD PRIMARY KEY (site_id, kind, id);
ALTER TABLE t_worklog_reads ADD COLUMN site_id TEXT COLLATE "C" NOT NULL DEFAULT 'unresolved';
ALTER TABLE t_worklog_reads ALTER COLUMN site_id DROP DEFAULT;
ALTER TABLE t_worklog_reads DROP CONSTRAINT t_worklog_reads_pkey, ADD PRIMARY KEY (site_id, issue_id);
-- A run's site is known once the sync has read serverInfo; a run that failed before has none.
ALTER TABLE t_sync_runs ADD COLUMN site_id TEXT COLLATE "C";
UPDATE t_sync_runs SET site_id = 'unresolved';

CREATE INDEX t_issues_project ON t_issues (site_id, project_key);
CREATE INDEX t_issues_narrow ON t_issues (site_id, deleted_at, id, key, project_key, issue_type,
    status, status_category, priority, assignee_id, created, updated, resolved, story_points);
CREATE INDEX t_issue_changes_issue ON t_issue_changes (site_id, issue_id);
CREATE INDEX t_issue_changes_field ON t_issue_changes (site_id, field, issue_id, changed_at);
CREATE INDEX t_comments_issue ON t_comments (site_id, issue_id);
CREATE INDEX t_worklogs_issue ON t_worklogs (site_id, issue_id);
CREATE INDEX t_sprint_issues_issue ON t_sprint_issues (site_id, issue_id);
CREATE INDEX t_issue_links_issue ON t_issue_links (site_id, issue_id);

CREATE VIEW sites AS SELECT site_id, deployment, base_url, cloud_id, server_id, title, version,
    first_seen::timestamptz AS first_seen, last_seen::timestamptz AS last_seen FROM t_sites;
CREATE VIEW not_visible AS SELECT site_id, credential, project_key, since::timestamptz AS since
    FROM t_not_visible;
CREATE VIEW projects AS SELECT site_id, id, key, name, type, deleted_at::timestamptz AS deleted_at
    FROM t_projects;
CREATE VIEW issues AS SELECT site_id, id, key, project_key, issue_type, summary, status,
    status_category, priority, assignee_id, reporter_id, created::timestamptz AS created,
    updated::timestamptz AS updated, resolved::timestamptz AS resolved, story_points, parent_key,
    deleted_at::timestamptz AS deleted_at, raw_json FROM t_issues;
CREATE VIEW issue_changes AS SELECT site_id, issue_id, change_id, changed_at::timestamptz AS changed_at,
    author_id, field, from_value, from_string, to_value, to_string FROM t_issue_changes;
CREATE VIEW comments AS SELECT site_id, id, issue_id, author_id, created::timestamptz AS created,
    updated::timestamptz AS updated, body_text, deleted_at::timestamptz AS deleted_at FROM t_comments;
CREATE VIEW worklogs AS SELECT site_id, id, issue_id, author_id, started::timestamptz AS started,
    time_spent_seconds, updated::timestamptz AS updated, deleted_at::timestamptz AS deleted_at
    FROM t_worklogs;
CREATE VIEW users AS SELECT site_id, id, display_name, email, active FROM t_users;
CREATE VIEW boards AS SELECT site_id, id, name, type, project_key,
    deleted_at::timestamptz AS deleted_at FROM t_boards;
CREATE VIEW sprints AS SELECT site_id, id, board_id, name, state, start_date::timestamptz AS start_date,
    end_date::timestamptz AS end_date, complete_date::timestamptz AS complete_date, goal FROM t_sprints;
CREATE VIEW sprint_issues AS SELECT site_id, sprint_id, issue_id FROM t_sprint_issues;
CREATE VIEW sync_runs AS SELECT site_id, id, credential, started::timestamptz AS started,
    finished::timestamptz AS finished, status, requests, issues_written, error FROM t_sync_runs;
CREATE VIEW statuses AS SELECT site_id, id, name, category FROM t_statuses;
CREATE VIEW fields AS SELECT site_id, id, name, custom, schema_type, schema_custom FROM t_fields;
CREATE VIEW versions AS SELECT site_id, id, project_key, name, released, archived,
    CASE WHEN release_date ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN release_date::date END AS release_date,
    deleted_at::timestamptz AS deleted_at FROM t_versions;
CREATE VIEW components AS SELECT site_id, id, project_key, name, lead_id,
    deleted_at::timestamptz AS deleted_at FROM t_components;
CREATE VIEW issue_versions AS SELECT site_id, issue_id, version_id, kind FROM t_issue_versions;
CREATE VIEW issue_components AS SELECT site_id, issue_id, component_id FROM t_issue_components;
CREATE VIEW issue_links AS SELECT site_id, id, issue_id, link_type, direction, other_issue_id,
    other_issue_key FROM t_issue_links;
CREATE VIEW issue_types AS SELECT site_id, id, name, subtask FROM t_lookups WHERE kind = 'issue_type';
CREATE VIEW priorities AS SELECT site_id, id, name FROM t_lookups WHERE kind = 'priority';
CREATE VIEW resolutions AS SELECT site_id, id, name FROM t_lookups WHERE kind = 'resolution';
