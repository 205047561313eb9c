-- jiralink store, PostgreSQL, migration 7: the public views give timestamps as timestamptz (and a
-- version's release date as date), as the store's documented schema says; SQLite keeps UTC ISO-8601
-- text. The tables keep the text the store writes (every timestamp is normalised to UTC on the way
-- in), so the internal read paths and checkpoints are the same on both backends. Sprint dates, kept
-- as the Agile API gave them by earlier versions, are normalised to UTC first (as SQLite's migration 7
-- does); a value that is not an ISO-8601 time is cleared, since the view could not cast it.
UPDATE t_sprints SET
    start_date = CASE WHEN start_date ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)$'
        THEN to_char(start_date::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END,
    end_date = CASE WHEN end_date ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)$'
        THEN to_char(end_date::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END,
    complete_date = CASE WHEN complete_date ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)$'
        THEN to_char(complete_date::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END;
DROP VIEW projects, issues, issue_changes, comments, worklogs, boards, sprints, sync_runs, versions,
    components;
CREATE VIEW projects AS SELECT id, key, name, type, deleted_at::timestamptz AS deleted_at FROM t_projects;
CREATE VIEW issues AS SELECT id, key, project_key, issue_type, summary, status, status_category,
    priority, assignee_id, reporter_id, created::timestamptz AS created,
    updated::timestamptz AS updated, resolved::timestamptz AS resolved, story_points, parent_key,
    deleted_at::timestamptz AS deleted_at, raw_json FROM t_issues;
CREATE VIEW issue_changes AS SELECT issue_id, change_id, changed_at::timestamptz AS changed_at,
    author_id, field, from_value, from_string, to_value, to_string FROM t_issue_changes;
CREATE VIEW comments AS SELECT id, issue_id, author_id, created::timestamptz AS created,
    updated::timestamptz AS updated, body_text, deleted_at::timestamptz AS deleted_at FROM t_comments;
CREATE VIEW worklogs AS SELECT id, issue_id, author_id, started::timestamptz AS started,
    time_spent_seconds, updated::timestamptz AS updated, deleted_at::timestamptz AS deleted_at
    FROM t_worklogs;
CREATE VIEW boards AS SELECT id, name, type, project_key, deleted_at::timestamptz AS deleted_at
    FROM t_boards;
CREATE VIEW sprints AS SELECT id, board_id, name, state, start_date::timestamptz AS start_date,
    end_date::timestamptz AS end_date, complete_date::timestamptz AS complete_date, goal FROM t_sprints;
CREATE VIEW sync_runs AS SELECT id, credential, started::timestamptz AS started,
    finished::timestamptz AS finished, status, requests, issues_written, error FROM t_sync_runs;
-- Jira's releaseDate is a calendar date (`2024-01-15`); anything else is left out, not an error.
CREATE VIEW versions AS SELECT id, project_key, name, released, archived,
    CASE WHEN release_date ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN release_date::date END AS release_date,
    deleted_at::timestamptz AS deleted_at FROM t_versions;
CREATE VIEW components AS SELECT id, project_key, name, lead_id, deleted_at::timestamptz AS deleted_at
    FROM t_components;
