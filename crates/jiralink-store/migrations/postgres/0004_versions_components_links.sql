-- jiralink store, PostgreSQL, migration 4: versions, components, and the issue memberships and links
-- that refer to them. Memberships are rewritten per issue; versions and components per project.
CREATE TABLE t_versions (
    id TEXT COLLATE "C" PRIMARY KEY, project_key TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL, released BIGINT, archived BIGINT,
    release_date TEXT COLLATE "C", deleted_at TEXT COLLATE "C"
);
CREATE TABLE t_components (
    id TEXT COLLATE "C" PRIMARY KEY, project_key TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL, lead_id TEXT COLLATE "C", deleted_at TEXT COLLATE "C"
);
CREATE TABLE t_issue_versions (
    issue_id TEXT COLLATE "C" NOT NULL, version_id TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (issue_id, version_id, kind)
);
CREATE TABLE t_issue_components (
    issue_id TEXT COLLATE "C" NOT NULL, component_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (issue_id, component_id)
);
CREATE TABLE t_issue_links (
    id TEXT COLLATE "C" NOT NULL, issue_id TEXT COLLATE "C" NOT NULL, link_type TEXT COLLATE "C",
    direction TEXT COLLATE "C" NOT NULL, other_issue_id TEXT COLLATE "C",
    other_issue_key TEXT COLLATE "C", PRIMARY KEY (id, issue_id)
);
CREATE INDEX t_issue_links_issue ON t_issue_links (issue_id);

CREATE VIEW versions AS SELECT id, project_key, name, released, archived, release_date, deleted_at FROM t_versions;
CREATE VIEW components AS SELECT id, project_key, name, lead_id, deleted_at FROM t_components;
CREATE VIEW issue_versions AS SELECT issue_id, version_id, kind FROM t_issue_versions;
CREATE VIEW issue_components AS SELECT issue_id, component_id FROM t_issue_components;
CREATE VIEW issue_links AS SELECT id, issue_id, link_type, direction, other_issue_id, other_issue_key FROM t_issue_links;
