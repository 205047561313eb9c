-- jiralink store, SQLite, migration 3: workflow statuses with their categories (insights map
-- changelog status ids to stages with them, so a renamed status keeps its history) and field
-- metadata (story points and sprint fields are found by schema, not by a hard-coded id).
CREATE TABLE t_statuses (id TEXT PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL);
CREATE TABLE t_fields (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, custom INTEGER NOT NULL, schema_type TEXT, schema_custom TEXT
);
CREATE VIEW statuses AS SELECT id, name, category FROM t_statuses;
CREATE VIEW fields AS SELECT id, name, custom, schema_type, schema_custom FROM t_fields;
-- Insights read the status and sprint history of every issue; this index serves that scan alone.
CREATE INDEX t_issue_changes_field ON t_issue_changes (field, issue_id, changed_at, from_value, to_value);
-- And the narrow columns of issues alone: a covering index keeps the raw JSON out of that scan.
CREATE INDEX t_issues_narrow ON t_issues (deleted_at, id, key, project_key, issue_type, status,
    status_category, priority, assignee_id, created, updated, resolved, story_points);
