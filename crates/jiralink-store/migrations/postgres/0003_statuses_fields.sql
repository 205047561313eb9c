-- jiralink store, PostgreSQL, migration 3: workflow statuses with their categories (insights map
-- changelog status ids to stages with them, so a renamed status keeps its history) and field
-- metadata (story points and sprint fields are found by schema, not by a hard-coded id).
CREATE TABLE t_statuses (
    id TEXT COLLATE "C" PRIMARY KEY, name TEXT COLLATE "C" NOT NULL, category TEXT COLLATE "C" NOT NULL
);
CREATE TABLE t_fields (
    id TEXT COLLATE "C" PRIMARY KEY, name TEXT COLLATE "C" NOT NULL, custom BIGINT NOT NULL,
    schema_type TEXT COLLATE "C", schema_custom TEXT COLLATE "C"
);
CREATE VIEW statuses AS SELECT id, name, category FROM t_statuses;
CREATE VIEW fields AS SELECT id, name, custom, schema_type, schema_custom FROM t_fields;
-- Insights read the status and sprint history of every issue; this index serves that scan alone.
-- Unlike SQLite's, it leaves from_value and to_value out of the key: a B-tree entry is limited to
-- about 2.7 kB here, and a changelog value may be longer than that.
CREATE INDEX t_issue_changes_field ON t_issue_changes (field, issue_id, changed_at);
-- And the narrow columns of issues alone: a covering index keeps the raw JSON out of that scan.
CREATE INDEX t_issues_narrow ON t_issues (deleted_at, id, key, project_key, issue_type, status,
    status_category, priority, assignee_id, created, updated, resolved, story_points);
