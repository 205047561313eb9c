-- jiralink store, SQLite, migration 14: the stage of a status (to_do, active, waiting, done) as the
-- web app's Stages page sets it (admin), by status name or id, case-insensitive as the insights
-- config file maps them; the dashboards' flow efficiency measures the waiting statuses named here.
CREATE TABLE t_web_stages (
    status TEXT PRIMARY KEY, stage TEXT NOT NULL, updated TEXT NOT NULL, updated_by TEXT NOT NULL
);
