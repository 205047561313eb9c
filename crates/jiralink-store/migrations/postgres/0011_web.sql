-- jiralink store, PostgreSQL, migration 11: the web app's accounts (`jiralink serve`, `jiralink user`):
-- users with argon2id password hashes, server-side sessions and API tokens (only SHA-256 hashes of
-- their random values are kept), one-time setup/sign-in links, the last connection test of each
-- credential, and the app's audit log (who did what: sign-ins, credential changes, tests, syncs).
CREATE TABLE t_web_users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT, created TEXT NOT NULL
);
CREATE TABLE t_web_sessions (
    token_hash TEXT PRIMARY KEY, user_name TEXT NOT NULL, csrf TEXT NOT NULL,
    created TEXT NOT NULL, expires TEXT NOT NULL
);
CREATE INDEX t_web_sessions_user ON t_web_sessions (user_name);
CREATE TABLE t_web_api_tokens (
    id TEXT PRIMARY KEY, user_name TEXT NOT NULL, label TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL, last_used TEXT, revoked TEXT
);
CREATE TABLE t_web_links (
    token_hash TEXT PRIMARY KEY, purpose TEXT NOT NULL, user_name TEXT, created TEXT NOT NULL,
    expires TEXT NOT NULL, used TEXT
);
CREATE TABLE t_web_tests (
    credential TEXT PRIMARY KEY, at TEXT NOT NULL, ok INTEGER NOT NULL, code TEXT
);
CREATE TABLE t_web_audit (
    id BIGSERIAL PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL, outcome TEXT NOT NULL
);
