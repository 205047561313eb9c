-- jiralink store, PostgreSQL, migration 14: the stage of a status (to_do, active, waiting, done) as
-- the web app's Stages page sets it (admin), by status name or id, case-insensitive as the insights
-- config file maps them; the dashboards' flow efficiency measures the waiting statuses named here.
CREATE TABLE t_web_stages (
    status TEXT COLLATE "C" PRIMARY KEY, stage TEXT COLLATE "C" NOT NULL,
    updated TEXT COLLATE "C" NOT NULL, updated_by TEXT COLLATE "C" NOT NULL
);
