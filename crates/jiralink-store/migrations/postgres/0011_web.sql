-- jiralink store, PostgreSQL, migration 11: the web app's accounts (`jiralink serve`, `jiralink user`):
-- users with argon2id password hashes, server-side sessions and API tokens (only SHA-256 hashes of
-- their random values are kept), one-time setup/sign-in links, the last connection test of each
-- credential, and the app's audit log (who did what: sign-ins, credential changes, tests, syncs).
CREATE TABLE t_web_users (
    name TEXT COLLATE "C" PRIMARY KEY, role TEXT COLLATE "C" NOT NULL, password_hash TEXT COLLATE "C", created TEXT COLLATE "C" NOT NULL
);
CREATE TABLE t_web_sessions (
    token_hash TEXT COLLATE "C" PRIMARY KEY, user_name TEXT COLLATE "C" NOT NULL, csrf TEXT COLLATE "C" NOT NULL,
    created TEXT COLLATE "C" NOT NULL, expires TEXT COLLATE "C" NOT NULL
);
CREATE INDEX t_web_sessions_user ON t_web_sessions (user_name);
CREATE TABLE t_web_api_tokens (
    id TEXT COLLATE "C" PRIMARY KEY, user_name TEXT COLLATE "C" NOT NULL, label TEXT COLLATE "C" NOT NULL, token_hash TEXT COLLATE "C" NOT NULL UNIQUE,
    created TEXT COLLATE "C" NOT NULL, last_used TEXT COLLATE "C", revoked TEXT COLLATE "C"
);
CREATE TABLE t_web_links (
    token_hash TEXT COLLATE "C" PRIMARY KEY, purpose TEXT COLLATE "C" NOT NULL, user_name TEXT COLLATE "C", created TEXT COLLATE "C" NOT NULL,
    expires TEXT COLLATE "C" NOT NULL, used TEXT COLLATE "C"
);
CREATE TABLE t_web_tests (
    credential TEXT COLLATE "C" PRIMARY KEY, at TEXT COLLATE "C" NOT NULL, ok INTEGER NOT NULL, code TEXT COLLATE "C"
);
CREATE TABLE t_web_audit (
    id BIGSERIAL PRIMARY KEY, at TEXT COLLATE "C" NOT NULL, actor TEXT COLLATE "C" NOT NULL, action TEXT COLLATE "C" NOT NULL,
    target TEXT COLLATE "C" NOT NULL, outcome TEXT COLLATE "C" NOT NULL
);
