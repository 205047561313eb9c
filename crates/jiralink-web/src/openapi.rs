//! The OpenAPI 3.1 document of the JSON API, served at `/api/openapi.json`; a test checks that it
//! lists every route of `api::routes` and nothing else.

use serde_json::{json, Map, Value};

/// Every API operation: method, path, who may call it, summary.
pub const OPERATIONS: &[(&str, &str, &str, &str)] = &[
    ("get", "/api/openapi.json", "anyone", "This document."),
    (
        "post",
        "/api/session",
        "anyone",
        "Sign in with name and password (throttled); sets the session cookie.",
    ),
    ("delete", "/api/session", "anyone", "Sign out."),
    (
        "post",
        "/api/setup",
        "holder of the setup link",
        "Make the first admin with the one-time setup link.",
    ),
    (
        "get",
        "/api/me",
        "signed in",
        "The caller: name, role and the session's CSRF token.",
    ),
    (
        "get",
        "/api/credentials",
        "signed in",
        "Credentials the caller may see (admin: all; others: their own), never a secret.",
    ),
    (
        "post",
        "/api/credentials",
        "admin, member",
        "Add a credential owned by the caller; kept only when its connection test passes.",
    ),
    (
        "get",
        "/api/credentials/{name}",
        "owner, admin",
        "One credential.",
    ),
    (
        "patch",
        "/api/credentials/{name}",
        "owner, admin",
        "Change description or URL.",
    ),
    (
        "delete",
        "/api/credentials/{name}",
        "owner, admin",
        "Remove a credential.",
    ),
    (
        "post",
        "/api/credentials/{name}/test",
        "owner, admin",
        "Test the connection: ok, or the diagnosis code with its cause and fix.",
    ),
    (
        "post",
        "/api/credentials/{name}/rotate",
        "owner, admin",
        "Replace the secret; the new one is tested first.",
    ),
    (
        "get",
        "/api/scopes",
        "signed in",
        "The classic and granular scopes each jiralink feature needs.",
    ),
    (
        "post",
        "/api/oauth2/start",
        "admin, member",
        "Start an OAuth 2.0 (3LO) consent: the authorization URL to open; the app's /oauth2/callback then adds the credential.",
    ),
    (
        "post",
        "/api/oauth1/start",
        "admin, member",
        "Start an OAuth 1.0a approval (Data Center application link: name, url, consumer_key, private_key PEM): the URL where the user approves access, and the approval's id.",
    ),
    (
        "post",
        "/api/oauth1/finish",
        "the user who started it",
        "Finish an OAuth 1.0a approval with the verification code Jira showed: the access token is fetched, the credential tested and kept.",
    ),
    (
        "get",
        "/api/syncs",
        "admin, member",
        "Sync runs since the app started (of the caller's credentials).",
    ),
    (
        "post",
        "/api/syncs",
        "owner, admin",
        "Start a sync of a credential.",
    ),
    (
        "get",
        "/api/syncs/{id}",
        "owner, admin",
        "One run: status, progress, summary or diagnosis.",
    ),
    (
        "get",
        "/api/syncs/{id}/events",
        "owner, admin",
        "The run's progress as server-sent events (`progress`, then `end`).",
    ),
    (
        "get",
        "/api/insights",
        "signed in",
        "The delivery insights for site, project and date range.",
    ),
    (
        "get",
        "/api/issues",
        "signed in",
        "Drill-down: the issues of a site / project / board / status category (the dashboard's filters), with links to Jira.",
    ),
    (
        "get",
        "/api/access/{name}",
        "owner, admin",
        "The credential's last access audit: the permission matrix (project × permission) and the findings with their acceptances.",
    ),
    (
        "post",
        "/api/access/{name}/ack",
        "owner, admin",
        "Acknowledge (accept) a finding of the last audit with a reason, as `jiralink access NAME --ack` does.",
    ),
    (
        "post",
        "/api/access/{name}/unack",
        "owner, admin",
        "Revoke a finding's acceptance, as `jiralink access NAME --unack` does.",
    ),
    (
        "post",
        "/api/access/{name}/audit",
        "owner, admin",
        "Run an access audit of the credential in the background (body: optional profile, read-only or read-write), saved where `jiralink access` keeps it; 202 with the audit's id.",
    ),
    (
        "get",
        "/api/audits/{id}",
        "owner, admin",
        "An access audit run from the app: running, ok with its summary, or failed with the diagnosis.",
    ),
    (
        "get",
        "/api/writes",
        "admin, member",
        "The write-back log of `jiralink apply` (`run`, `credential` filters; members: their own credentials' writes).",
    ),
    (
        "get",
        "/api/stages",
        "signed in",
        "Every status with its category and stage; the waiting ones are what flow efficiency measures.",
    ),
    (
        "put",
        "/api/stages",
        "admin",
        "Set the stage of statuses: {\"STATUS\": \"to_do|active|waiting|done\"}.",
    ),
    (
        "get",
        "/api/sync-runs",
        "admin, member",
        "The sync runs recorded in the store, from the CLI or the app (members: their own credentials').",
    ),
    ("get", "/api/users", "admin", "Users and roles."),
    ("post", "/api/users", "admin", "Add a user."),
    (
        "delete",
        "/api/users/{name}",
        "admin",
        "Remove a user (sessions end, API tokens are revoked).",
    ),
    (
        "get",
        "/api/tokens",
        "signed in",
        "The caller's API tokens (never their values).",
    ),
    (
        "post",
        "/api/tokens",
        "signed in",
        "Create an API token; its value is shown once.",
    ),
    (
        "delete",
        "/api/tokens/{id}",
        "signed in",
        "Revoke one of the caller's API tokens.",
    ),
    (
        "get",
        "/api/audit",
        "signed in",
        "The app's audit log (admin: everyone's; others: their own).",
    ),
];

pub fn document() -> Value {
    let mut paths = Map::new();
    for (method, path, who, summary) in OPERATIONS {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = json!({
            "summary": summary,
            "description": format!("Who may call it: {who}."),
            "parameters": params,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {}}},
                "4XX": {"description": "Refused: `{\"error\": code, \"message\": what to do}`"}
            }
        });
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "jiralink serve",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The JSON API of the jiralink web app. Authenticate with the session cookie (state-changing requests then need the X-CSRF-Token header from /api/me) or with 'Authorization: Bearer TOKEN' (an API token from /api/tokens). Secrets are accepted, never returned."
        },
        "components": {"securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE},
            "token": {"type": "http", "scheme": "bearer"}
        }},
        "security": [{"session": []}, {"token": []}],
        "paths": paths,
    })
}
