-- jiralink store, PostgreSQL, migration 2: memberships are rewritten per issue, so look them up by issue.
CREATE INDEX t_sprint_issues_issue ON t_sprint_issues (issue_id);
