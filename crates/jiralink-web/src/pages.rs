//! The server-rendered pages: sign-in and setup, credentials as tiles, sync with live progress
//! and the store's runs, the insights dashboard with filters and drill-down, access (permission
//! matrix and findings, acknowledged), the write-back log, stages, audit, users, API tokens. Pages read
//! through the same functions as the API and act through the API (the embedded `app.js`).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde::Deserialize;
use serde_json::Value;

use crate::api::{self, InsightsQuery, IssuesQuery};
use crate::auth::{self, ApiError, Caller, Nonce, PageUser, Role};
use crate::records::{self, WritesQuery};
use crate::App;

const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/credentials") }))
        .route(
            "/assets/app.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    APP_JS,
                )
            }),
        )
        .route(
            "/assets/app.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS) }),
        )
        .route("/signin", get(signin))
        .route("/setup", get(setup))
        .route("/link", get(link))
        .route("/credentials", get(credentials))
        .route("/sync", get(sync))
        .route("/insights", get(insights))
        .route("/insights/issues", get(issues))
        .route("/access", get(access))
        .route("/writes", get(writes))
        .route("/stages", get(stages))
        .route("/audit", get(audit))
        .route("/users", get(users))
        .route("/tokens", get(tokens))
        .route("/oauth2/callback", get(oauth2_callback))
}

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => esc(s),
        other => esc(&other.to_string()),
    }
}

/// A members' page as a viewer gets it: viewers see the dashboards only.
fn dashboards_only(title: &str, caller: &Caller, nonce: &str) -> Html<String> {
    layout(
        title,
        Some(caller),
        nonce,
        "<p>A viewer sees the dashboards only.</p>",
    )
}

fn layout(title: &str, caller: Option<&Caller>, nonce: &str, body: &str) -> Html<String> {
    let nav = match caller {
        Some(c) => {
            let mut links = vec![("/credentials", "Credentials")];
            if c.role != Role::Viewer {
                links.extend([
                    ("/access", "Access"),
                    ("/sync", "Sync"),
                    ("/writes", "Write-back"),
                ]);
            }
            links.extend([
                ("/insights", "Insights"),
                ("/audit", "Audit"),
                ("/tokens", "API tokens"),
            ]);
            if c.role == Role::Admin {
                links.extend([("/stages", "Stages"), ("/users", "Users")]);
            }
            let links: String = links
                .iter()
                .map(|(href, label)| format!(r#"<a href="{href}">{label}</a>"#))
                .collect();
            format!(
                r#"<nav>{links}<span class="who">{} ({}) <button type="button" data-signout>Sign out</button></span></nav>"#,
                esc(&c.name),
                c.role.as_str()
            )
        }
        None => String::new(),
    };
    let csrf = caller.and_then(|c| c.csrf.clone()).unwrap_or_default();
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf" content="{csrf}">
<title>{title} · jiralink</title>
<link rel="stylesheet" href="/assets/app.css">
<script src="/assets/app.js" defer nonce="{nonce}"></script>
</head><body>
<header><b>jiralink</b>{nav}</header>
<main><h1>{title}</h1>
{body}
</main></body></html>"#,
        title = esc(title),
    ))
}

async fn signin(Extension(Nonce(nonce)): Extension<Nonce>) -> Html<String> {
    layout(
        "Sign in",
        None,
        &nonce,
        r#"<form data-api="POST /api/session" data-then="/credentials" class="box">
<label>Name <input name="name" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button>Sign in</button><p class="result" data-result></p></form>"#,
    )
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn setup(
    State(app): State<Arc<App>>,
    Extension(Nonce(nonce)): Extension<Nonce>,
    Query(q): Query<TokenQuery>,
) -> Result<Html<String>, ApiError> {
    let token = q.token.unwrap_or_default();
    let live = app
        .accounts()
        .web_link_live(&auth::sha256_hex(&token))?
        .as_deref()
        == Some("setup");
    if !live {
        return Ok(layout(
            "Setup",
            None,
            &nonce,
            "<p>This setup link is used, expired or unknown. Restart <code>jiralink serve</code> for a new one, or run <code>jiralink user add NAME --role admin</code>.</p>",
        ));
    }
    Ok(layout(
        "Make the first admin",
        None,
        &nonce,
        &format!(
            r#"<form data-api="POST /api/setup" data-then="/credentials" class="box">
<input type="hidden" name="token" value="{}">
<label>Name <input name="name" required></label>
<label>Password (10 characters or more) <input name="password" type="password" minlength="10" autocomplete="new-password" required></label>
<button>Create the admin</button><p class="result" data-result></p></form>"#,
            esc(&token)
        ),
    ))
}

/// A one-time sign-in link (`jiralink demo --serve`): starts a session and goes to the app.
async fn link(
    State(app): State<Arc<App>>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, ApiError> {
    let hash = auth::sha256_hex(&q.token.unwrap_or_default());
    let used = app.accounts().web_use_link(&hash)?;
    match used {
        Some((purpose, Some(user))) if purpose == "signin" => {
            let cookie = auth::start_session(&app, &user)?;
            app.accounts().web_audit(&user, "sign-in", "link", "ok")?;
            Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/credentials")).into_response())
        }
        _ => Ok((
            StatusCode::FORBIDDEN,
            "This sign-in link is used, expired or unknown; sign in with your name and password.",
        )
            .into_response()),
    }
}

const AUTH_KINDS: &[(&str, &str)] = &[
    ("cloud-token", "Cloud: email + API token"),
    (
        "scoped-token",
        "Cloud: email + scoped API token (through the gateway)",
    ),
    ("service-account", "Cloud: service account token"),
    ("pat", "Data Center: personal access token"),
    ("basic", "Data Center: username + password"),
    ("oauth2", "Cloud: OAuth 2.0 (3LO) app"),
    ("oauth1", "Data Center: OAuth 1.0a application link"),
];

async fn credentials(
    State(app): State<Arc<App>>,
    Extension(Nonce(nonce)): Extension<Nonce>,
    PageUser(caller): PageUser,
) -> Result<Html<String>, ApiError> {
    let tiles = api::cached_for_viewer(&app, &caller, "tiles", |creds| tiles(&creds).into())?;
    let mut body = String::from_utf8_lossy(&tiles).into_owned();
    if caller.role != Role::Viewer {
        let options: String = AUTH_KINDS
            .iter()
            .map(|(k, label)| format!(r#"<option value="{k}">{}</option>"#, esc(label)))
            .collect();
        let mut scopes = String::from(
            "<table><tr><th>Feature</th><th>Classic scopes</th><th>Granular scopes</th></tr>",
        );
        for f in api::scope_table().as_array().into_iter().flatten() {
            let join = |v: &Value| {
                v.as_array()
                    .map(|a| a.iter().map(s).collect::<Vec<_>>().join(" "))
                    .unwrap_or_default()
            };
            scopes.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                s(&f["feature"]),
                join(&f["classic"]),
                join(&f["granular"])
            ));
        }
        scopes.push_str("</table>");
        body.push_str(&format!(
            r#"<h2>Add a credential</h2>
<form data-api="POST /api/credentials" data-then="reload" data-show="error" class="box" id="add">
<label>Name <input name="name" required placeholder="prod"></label>
<label>Description <input name="description"></label>
<label>Auth kind <select name="auth" data-kind>{options}</select></label>
<label>Site URL <input name="url" required placeholder="https://acme.atlassian.net"></label>
<label data-kinds="cloud-token scoped-token">Email <input name="email" type="email"></label>
<label data-kinds="basic">Username <input name="username"></label>
<label data-kinds="oauth2">Client id <input name="client_id"></label>
<label data-kinds="oauth2">Client secret <input name="client_secret" type="password" autocomplete="off"></label>
<label data-kinds="oauth2">Authorization URL <input name="authorize_url" placeholder="https://auth.atlassian.com/authorize"></label>
<label data-kinds="oauth2">Token URL <input name="token_url" placeholder="https://auth.atlassian.com/oauth/token"></label>
<label data-kinds="cloud-token scoped-token service-account pat basic">Token or password <input name="secret" type="password" autocomplete="off"></label>
<label data-kinds="oauth1">Consumer key <input name="consumer_key" placeholder="jiralink"></label>
<label data-kinds="oauth1">Consumer private key (PEM, from <code>jiralink credential oauth1-keygen</code>) <textarea name="private_key" rows="4" autocomplete="off" spellcheck="false"></textarea></label>
<div class="oauth1" data-oauth1-step hidden><p>Open <a data-oauth1-link target="_blank" rel="noopener noreferrer">the approval page</a> in Jira, allow access, then paste the verification code Jira shows.</p><label>Verification code <input name="verifier" autocomplete="off"></label></div>
<label>Expires (YYYY-MM-DD) <input name="expires_at" placeholder="optional"></label>
<div data-kinds="scoped-token oauth2" class="scopes"><p>Give the token these scopes, per feature you use:</p>{scopes}</div>
<button data-kinds="cloud-token scoped-token service-account pat basic">Test and add</button>
<button data-kinds="oauth2" data-consent>Connect: open the consent page</button>
<button data-kinds="oauth1" data-oauth1-start>Get the approval link</button>
<button data-kinds="oauth1" data-oauth1-finish>Finish: test and add</button><div class="result" data-result></div></form>"#
        ));
    }
    Ok(layout("Credentials", Some(&caller), &nonce, &body))
}

/// The credential tiles (no per-request value in them: served from the views' cache).
fn tiles(creds: &[Value]) -> String {
    let mut body = String::from(r#"<section class="tiles" id="tiles">"#);
    if creds.is_empty() {
        body.push_str(r#"<p class="muted">No credentials yet.</p>"#);
    }
    for c in creds {
        let name = s(&c["name"]);
        let expiry = match c["expires_in_days"].as_i64() {
            Some(d) if d < 0 => r#"<span class="badge bad">expired</span>"#.to_owned(),
            Some(d) if d < 14 => format!(r#"<span class="badge warn">expires in {d} d</span>"#),
            Some(d) => format!(r#"<span class="badge">expires in {d} d</span>"#),
            None => String::new(),
        };
        let last = match &c["last_test"] {
            Value::Null => r#"<span class="badge">not tested</span>"#.to_owned(),
            t if t["ok"] == Value::Bool(true) => format!(
                r#"<span class="badge ok" title="{}">ok</span>"#,
                s(&t["at"])
            ),
            t => format!(
                r#"<span class="badge bad" title="{}">{}</span>"#,
                s(&t["at"]),
                s(&t["code"])
            ),
        };
        body.push_str(&format!(
            r#"<article class="tile" data-credential="{name}">
<h2>{name}</h2><p class="muted">{desc}</p>
<dl><dt>Site</dt><dd>{url}</dd><dt>Auth</dt><dd>{auth}</dd><dt>Account</dt><dd>{account}</dd>
<dt>Owner</dt><dd data-owner>{owner}</dd><dt>Secret</dt><dd>{tail}</dd><dt>Age</dt><dd>{age} d</dd></dl>
<p>{expiry} {last}</p>
<p class="actions"><button type="button" data-api="POST /api/credentials/{name}/test" data-show="report">Test connection</button>
<a href="/sync">Sync</a>
<button type="button" data-api="DELETE /api/credentials/{name}" data-confirm="Remove {name}?" data-then="reload">Remove</button></p>
<details><summary>Edit</summary><form data-api="PATCH /api/credentials/{name}" data-then="reload">
<label>Description <input name="description" value="{desc}"></label><button>Save</button><p class="result" data-result></p></form></details>
<details><summary>Rotate</summary><form data-api="POST /api/credentials/{name}/rotate" data-then="reload">
<label>New token <input name="secret" type="password" autocomplete="off" required></label>
<label>Expires (YYYY-MM-DD) <input name="expires_at" placeholder="optional"></label><button>Rotate</button><p class="result" data-result></p></form></details>
<div class="result" data-result></div></article>"#,
            desc = s(&c["description"]),
            url = s(&c["url"]),
            auth = s(&c["auth"]),
            account = s(&c["account"]),
            owner = s(&c["owner"]),
            tail = s(&c["secret_tail"]),
            age = s(&c["age_days"]),
        ));
    }
    body.push_str("</section>");
    body
}

async fn sync(
    State(app): State<Arc<App>>,
    Extension(Nonce(nonce)): Extension<Nonce>,
    PageUser(caller): PageUser,
) -> Result<Html<String>, ApiError> {
    if caller.role == Role::Viewer {
        return Ok(dashboards_only("Sync", &caller, &nonce));
    }
    let creds = api::visible_credentials(&app, &caller)?;
    let options: String = creds
        .iter()
        .map(|c| format!(r#"<option>{}</option>"#, s(&c["name"])))
        .collect();
    let mut body = format!(
        r#"<form data-api="POST /api/syncs" data-sync-form class="box" id="start-sync">
<label>Credential <select name="credential">{options}</select></label>
<button>Start a sync</button><div class="result" data-result></div></form>
<section id="progress" class="box" hidden><h2>Progress</h2><progress max="1" value="0"></progress>
<p data-progress></p></section>
<h2>Runs</h2><table id="runs"><tr><th>Run</th><th>Credential</th><th>By</th><th>Started</th><th>Status</th><th>Issues written</th></tr>"#
    );
    for r in app.jobs.all() {
        if !api::visible_run(&app, &caller, &r) {
            continue;
        }
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.id,
            esc(&r.credential),
            esc(&r.started_by),
            esc(&r.started),
            r.status,
            r.progress.issues_written
        ));
    }
    body.push_str("</table>");
    let (app2, who) = (app.clone(), caller.clone());
    let runs = tokio::task::spawn_blocking(move || records::store_runs(&app2, &who, ""))
        .await
        .map_err(ApiError::internal)??;
    body.push_str(&format!(
        r#"<h2>Sync runs in the store</h2><p class="muted">Every sync the store recorded, from the CLI or the app ({} shown).</p>
<table id="store-runs"><tr><th>Run</th><th>Credential</th><th>Site</th><th>Started</th><th>Finished</th><th>Status</th><th>Requests</th><th>Issues written</th><th>Error</th></tr>"#,
        runs.len()
    ));
    for r in &runs {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            s(&r["id"]),
            s(&r["credential"]),
            s(&r["site"]),
            s(&r["started"]),
            s(&r["finished"]),
            s(&r["status"]),
            s(&r["requests"]),
            s(&r["issues_written"]),
            s(&r["error"])
        ));
    }
    body.push_str("</table>");
    Ok(layout("Sync", Some(&caller), &nonce, &body))
}

/// Takes the body of the insights crate's HTML report, its style and script marked with the
/// request's nonce (the strict CSP allows no other inline code).
fn report_fragment(html: &str, nonce: &str) -> String {
    let style = html
        .split_once("<style>")
        .and_then(|(_, rest)| rest.split_once("</style>"))
        .map(|(css, _)| css)
        .unwrap_or_default();
    let body = html
        .split_once("<body>")
        .and_then(|(_, rest)| rest.split_once("</body>"))
        .map(|(b, _)| b)
        .unwrap_or_default();
    let body = body.replacen("<h1>Delivery insights</h1>", "", 1);
    format!(
        r#"<style nonce="{nonce}">{style}</style><div class="report">{}</div>"#,
        body.replace("<script>", &format!(r#"<script nonce="{nonce}">"#))
    )
}

async fn insights(
    State(app): State<Arc<App>>,
    Extension(Nonce(nonce)): Extension<Nonce>,
    PageUser(caller): PageUser,
    Query(q): Query<InsightsQuery>,
) -> Result<Html<String>, ApiError> {
    let app2 = app.clone();
    // A PostgreSQL reader blocks: off the runtime's workers.
    let (sites, projects, boards) = tokio::task::spawn_blocking(move || {
        let mut reader = app2.reader()?;
        let mut list = |sql: &str| -> Vec<(String, String)> {
            let mut items = Vec::new();
            let read = reader.each(sql, &[], |r| -> jiralink_store::Result<()> {
                items.push((
                    r.text_not_null(0)?.to_owned(),
                    r.text(1)?.unwrap_or_default().to_owned(),
                ));
                Ok(())
            });
            if read.is_err() {
                items.clear();
            }
            items
        };
        Ok::<_, ApiError>((
            list("SELECT site_id, base_url FROM sites ORDER BY base_url"),
            list("SELECT DISTINCT key, name FROM projects WHERE deleted_at IS NULL ORDER BY key"),
            list(
                "SELECT DISTINCT id, name || COALESCE(' (' || project_key || ')', '') FROM boards
                 WHERE deleted_at IS NULL ORDER BY 2",
            ),
        ))
    })
    .await
    .map_err(ApiError::internal)??;
    let opt = |items: &[(String, String)], chosen: &Option<String>| -> String {
        items
            .iter()
            .map(|(v, label)| {
                let sel = if chosen.as_deref() == Some(v.as_str()) {
                    " selected"
                } else {
                    ""
                };
                format!(
                    r#"<option value="{}"{sel}>{}</option>"#,
                    esc(v),
                    esc(if label.is_empty() { v } else { label })
                )
            })
            .collect()
    };
    let v = |o: &Option<String>| esc(o.as_deref().unwrap_or_default());
    let mut body = format!(
        r#"<form method="get" action="/insights" class="filters" id="filters">
<label>Site <select name="site"><option value="">all</option>{}</select></label>
<label>Project <select name="project" data-autosubmit><option value="">all</option>{}</select></label>
<label>Board <select name="board" data-autosubmit><option value="">all</option>{}</select></label>
<label>From <input name="since" type="date" value="{}"></label>
<label>To <input name="until" type="date" value="{}"></label>
<label>Forecast: when will <input name="items" type="number" min="1" max="100000" placeholder="50" value="{}"> items be done; how many by <input name="by" type="date" value="{}"></label>
<button>Apply</button></form>"#,
        opt(&sites, &q.site),
        opt(&projects, &q.project),
        opt(&boards, &q.board),
        v(&q.since),
        v(&q.until),
        v(&q.items),
        v(&q.by)
    );
    let drill = |cat: &str, label: &str| {
        format!(
            r#"<a class="drill" href="/insights/issues?site={}&amp;project={}&amp;board={}&amp;status_category={cat}">{label}</a>"#,
            url_arg(&q.site),
            url_arg(&q.project),
            url_arg(&q.board)
        )
    };
    body.push_str(&format!(
        r#"<p class="drills">Issues: {} · {} · {}</p>"#,
        drill("new", "to do"),
        drill("indeterminate", "in progress"),
        drill("done", "done")
    ));
    match api::compute_insights(&app, &q).await {
        Ok(r) => {
            body.push_str(&format!(
                r#"<p class="muted">{} issues in view · as of {}</p>"#,
                r.issues,
                esc(&r.as_of)
            ));
            body.push_str(&report_fragment(&r.html, &nonce));
        }
        Err(e) => body.push_str(&format!(r#"<p class="error">{}</p>"#, esc(&e.message))),
    }
    Ok(layout("Insights", Some(&caller), &nonce, &body))
}

/// A query value for a link (percent-encoded, then escaped for the attribute).
fn url_arg(o: &Option<String>) -> String {
    esc(
        &url::form_urlencoded::byte_serialize(o.as_deref().unwrap_or_default().as_bytes())
            .collect::<String>(),
    )
}

async fn issues(
    State(app): State<Arc<App>>,
    Extension(Nonce(nonce)): Extension<Nonce>,
    PageUser(caller): PageUser,
    Query(q): Query<IssuesQuery>,
) -> Result<Html<String>, ApiError> {
    let title = format!(
        "Issues{}{}{}",
        q.project
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(|p| format!(" of {p}"))
            .unwrap_or_default(),
        q.board
            .as_deref()
            .filter(|b| !b.is_empty())
            .map(|b| format!(" on board {b}"))
            .unwrap_or_default(),
        q.status_category
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(|p| format!(" ({p})"))
            .unwrap_or_default()
    );
    let app2 = app.clone();
    let rows = tokio::task::spawn_blocking(move || api::issue_rows(&app2, &q))
        .await
        .map_err(ApiError::internal)??;
    let mut body = format!(
        r#"<p><a href="/insights">Back to the dashboard</a> · {} issues</p><table id="issues"><tr><th>Key</th><th>Summary</th><th>Type</th><th>Status</th><th>Updated</th></tr>"#,
        rows.len()
    );
    for r in &rows {
        let key = match r["url"].as_str() {
            Some(u) => format!(
                r#"<a href="{}" rel="noreferrer">{}</a>"#,
                esc(u),
                s(&r["key"])
            ),
            None => s(&r["key"]),
        };
        body.push_str(&format!(
            "<tr><td>{key}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            s(&r["summary"]),
            s(&r["issue_type"]),
            s(&r["status"]),
            s(&r["updated"])
        ));
    }
    body.push_str("</table>");
    Ok(layout(&title, Some(&caller), &nonce, &body))
}

#[derive(Deserialize)]
struct AccessQuery {
    credential: Option<String>,
}

/// A credential's last access audit: the permission matrix and the findings, each with
/// Acknowledge (a reason is asked) or Revoke.
async fn access(
    State(app): State<Arc<App>>,
    Extension(Nonce(nonce)): Extension<Nonce>,
    PageUser(caller): PageUser,
    Query(q): Query<AccessQuery>,
) -> Result<Html<String>, ApiError> {
    if caller.role == Role::Viewer {
        return Ok(dashboards_only("Access", &caller, &nonce));
    }
    let creds = api::visible_credentials(&app, &caller)?;
    let names: Vec<String> = creds
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect();
    let chosen = q
        .credential
        .filter(|c| names.contains(c))
        .or_else(|| names.first().cloned());
    let options: String = names
        .iter()
        .map(|n| {
            let sel = if Some(n) == chosen.as_ref() {
                " selected"
            } else {
                ""
            };
            format!(r#"<option{sel}>{}</option>"#, esc(n))
        })
        .collect();
    let mut body = format!(
        r#"<form method="get" action="/access" class="filters"><label>Credential <select name="credential" data-autosubmit>{options}</select></label><button>Show</button></form>"#
    );
    let Some(name) = chosen else {
        body.push_str(r#"<p class="muted">No credentials yet.</p>"#);
        return Ok(layout("Access", Some(&caller), &nonce, &body));
    };
    let v = records::access_view(&app, &caller, &name)?;
    body.push_str(&format!(
        r#"<form data-api="POST /api/access/{n}/audit" data-audit-form class="filters" id="run-audit"><label>Used for <select name="profile"><option value="read-only">read-only (sync, insights)</option><option value="read-write">read-write (write-back)</option></select></label><button>Run audit</button><span class="result" data-result></span></form>"#,
        n = esc(&name)
    ));
    if v["audited"] != Value::Bool(true) {
        body.push_str(&format!(
            r#"<p class="muted" id="no-audit">{}</p>"#,
            s(&v["hint"])
        ));
        return Ok(layout("Access", Some(&caller), &nonce, &body));
    }
    let perms: Vec<String> = v["permissions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(s)
        .collect();
    body.push_str(&format!(
        r#"<h2>Permission matrix</h2><p class="def">What the credential's account may do in each project it sees, per the last audit.</p><table id="matrix"><tr><th>Project</th>{}</tr>"#,
        perms.iter().map(|p| format!("<th>{p}</th>")).collect::<String>()
    ));
    for p in v["projects"].as_array().into_iter().flatten() {
        let cells: String = p["grants"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| {
                if g == &Value::Bool(true) {
                    r#"<td class="ok">yes</td>"#
                } else {
                    "<td>-</td>"
                }
            })
            .collect();
        body.push_str(&format!(
            r#"<tr data-project="{k}"><td>{k}</td>{cells}</tr>"#,
            k = s(&p["key"])
        ));
    }
    body.push_str("</table><h2>Findings</h2>");
    let findings = v["findings"].as_array().cloned().unwrap_or_default();
    if findings.is_empty() {
        body.push_str(r#"<p class="ok">No findings.</p>"#);
    }
    let n = esc(&name);
    for f in &findings {
        let id = s(&f["id"]);
        let (state, action) = match &f["accepted"] {
            Value::Null => (
                format!(
                    r#"<span class="badge {}">{}</span>"#,
                    if f["severity"] == "warning" {
                        "warn"
                    } else {
                        ""
                    },
                    s(&f["severity"])
                ),
                format!(
                    r#"<form data-api="POST /api/access/{n}/ack" data-then="reload" class="inline"><input type="hidden" name="finding" value="{id}"><input name="reason" required placeholder="why it is accepted"><button>Acknowledge</button><span class="result" data-result></span></form>"#
                ),
            ),
            a => (
                format!(
                    r#"<span class="badge ok">accepted</span> <span class="muted">by {} at {}: {}</span>"#,
                    s(&a["by"]),
                    s(&a["at"]),
                    s(&a["reason"])
                ),
                format!(
                    r#"<form data-api="POST /api/access/{n}/unack" data-then="reload" class="inline"><input type="hidden" name="finding" value="{id}"><button>Revoke the acceptance</button><span class="result" data-result></span></form>"#
                ),
            ),
        };
        body.push_str(&format!(
            r#"<article class="finding box" data-finding="{id}"><p><b>{id}</b> {state}</p><p>{}</p>{action}</article>"#,
            s(&f["message"])
        ));
    }
    Ok(layout("Access", Some(&caller), &nonce, &body))
}

/// The write-back log of `jiralink apply`, filtered by run and credential.
async fn writes(
    State(app): State<Arc<App>>,
    Extension(Nonce(nonce)): Extension<Nonce>,
    PageUser(caller): PageUser,
    Query(q): Query<WritesQuery>,
) -> Result<Html<String>, ApiError> {
    if caller.role == Role::Viewer {
        return Ok(dashboards_only("Write-back", &caller, &nonce));
    }
    let filters = format!(
        r#"<form method="get" action="/writes" class="filters" id="write-filters"><label>Run <input name="run" value="{}"></label><label>Credential <input name="credential" value="{}"></label><button>Filter</button></form>"#,
        esc(q.run.as_deref().unwrap_or_default()),
        esc(q.credential.as_deref().unwrap_or_default())
    );
    let (app2, who) = (app.clone(), caller.clone());
    let rows = tokio::task::spawn_blocking(move || records::write_rows(&app2, &who, &q))
        .await
        .map_err(ApiError::internal)??;
    let mut body = format!(
        r#"{filters}<p class="def">Every write <code>jiralink apply</code> made or tried, newest first: recorded before it was sent, settled after ({} shown).</p>
<table id="writes"><tr><th>At</th><th>Run</th><th>Credential</th><th>Record</th><th>Action</th><th>Issue</th><th>Field</th><th>Before</th><th>After</th><th>Outcome</th></tr>"#,
        rows.len()
    );
    for r in &rows {
        let run = s(&r["run"]);
        body.push_str(&format!(
            r#"<tr><td>{}</td><td><a href="/writes?run={run}">{run}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="{}">{}{}</td></tr>"#,
            s(&r["at"]),
            s(&r["credential"]),
            s(&r["external_id"]),
            s(&r["action"]),
            s(&r["jira_id"]),
            s(&r["field"]),
            s(&r["before"]),
            s(&r["after"]),
            if r["outcome"] == "ok" { "ok" } else { "bad" },
            s(&r["outcome"]),
            match &r["error"] {
                Value::Null => String::new(),
                e => format!(": {}", s(e)),
            }
        ));
    }
    body.push_str("</table>");
    Ok(layout("Write-back", Some(&caller), &nonce, &body))
}

/// The stage of every status (admin): flow efficiency measures the waiting ones.
async fn stages(
    State(app): State<Arc<App>>,
    Extension(Nonce(nonce)): Extension<Nonce>,
    PageUser(caller): PageUser,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Admin])?;
    let app2 = app.clone();
    let rows = tokio::task::spawn_blocking(move || records::stage_rows(&app2))
        .await
        .map_err(ApiError::internal)??;
    let mut body = String::from(
        r#"<p class="def">The stage of each status decides what the dashboards measure: cycle time starts at the first active or waiting status; flow efficiency is the share of in-progress time in active statuses, and is not measured until some status is waiting (where work sits without being worked on: review queues, blocked).</p>
<form data-api="PUT /api/stages" data-then="reload" class="box" id="stages"><table><tr><th>Status</th><th>Jira category</th><th>Stage</th></tr>"#,
    );
    if rows.is_empty() {
        body.push_str(r#"<tr><td colspan="3" class="muted">No statuses in the store yet: sync first.</td></tr>"#);
    }
    for r in &rows {
        let st = r["stage"].as_str().unwrap_or_default();
        let options: String = ["to_do", "active", "waiting", "done"]
            .iter()
            .map(|o| {
                let sel = if *o == st { " selected" } else { "" };
                format!(
                    r#"<option value="{o}"{sel}>{}</option>"#,
                    o.replace('_', " ")
                )
            })
            .collect();
        body.push_str(&format!(
            r#"<tr><td>{name}</td><td>{}</td><td><select name="{name}" data-status="{name}">{options}</select></td></tr>"#,
            s(&r["category"]),
            name = s(&r["status"])
        ));
    }
    body.push_str(
        r#"</table><button>Save the stages</button><p class="result" data-result></p></form>"#,
    );
    Ok(layout("Stages", Some(&caller), &nonce, &body).into_response())
}

async fn audit(
    State(app): State<Arc<App>>,
    Extension(Nonce(nonce)): Extension<Nonce>,
    PageUser(caller): PageUser,
) -> Result<Html<String>, ApiError> {
    let only = (caller.role != Role::Admin).then_some(caller.name.as_str());
    let rows = app.accounts().web_audit_log(only, 500)?;
    let mut body = String::from(
        r#"<table id="audit"><tr><th>When</th><th>Who</th><th>Action</th><th>Target</th><th>Outcome</th></tr>"#,
    );
    for r in rows {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.at),
            esc(&r.actor),
            esc(&r.action),
            esc(&r.target),
            esc(&r.outcome)
        ));
    }
    body.push_str("</table>");
    Ok(layout("Audit", Some(&caller), &nonce, &body))
}

async fn users(
    State(app): State<Arc<App>>,
    Extension(Nonce(nonce)): Extension<Nonce>,
    PageUser(caller): PageUser,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Admin])?;
    let users = app.accounts().web_users()?;
    let mut body = String::from(
        r#"<table id="users"><tr><th>Name</th><th>Role</th><th>Since</th><th></th></tr>"#,
    );
    for u in users {
        let n = esc(&u.name);
        body.push_str(&format!(
            r#"<tr><td>{n}</td><td>{}</td><td>{}</td><td><button type="button" data-api="DELETE /api/users/{n}" data-confirm="Remove {n}?" data-then="reload">Remove</button></td></tr>"#,
            esc(&u.role),
            esc(&u.created)
        ));
    }
    body.push_str(
        r#"</table><h2>Add a user</h2><form data-api="POST /api/users" data-then="reload" class="box">
<label>Name <input name="name" required></label>
<label>Role <select name="role"><option>member</option><option>viewer</option><option>admin</option></select></label>
<label>Password (10 characters or more) <input name="password" type="password" minlength="10" autocomplete="new-password" required></label>
<button>Add</button><p class="result" data-result></p></form>"#,
    );
    Ok(layout("Users", Some(&caller), &nonce, &body).into_response())
}

async fn tokens(
    State(app): State<Arc<App>>,
    Extension(Nonce(nonce)): Extension<Nonce>,
    PageUser(caller): PageUser,
) -> Result<Html<String>, ApiError> {
    let rows = app.accounts().web_tokens(Some(&caller.name))?;
    let mut body = String::from(
        r#"<table id="tokens"><tr><th>Label</th><th>Created</th><th>Last used</th><th></th></tr>"#,
    );
    for t in rows {
        let action = match &t.revoked {
            Some(at) => format!("revoked {}", esc(at)),
            None => format!(
                r#"<button type="button" data-api="DELETE /api/tokens/{}" data-then="reload">Revoke</button>"#,
                esc(&t.id)
            ),
        };
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{action}</td></tr>",
            esc(&t.label),
            esc(&t.created),
            esc(t.last_used.as_deref().unwrap_or("never"))
        ));
    }
    body.push_str(
        r#"</table><h2>New API token</h2><form data-api="POST /api/tokens" data-show="token" class="box">
<label>Label <input name="label" required placeholder="ci"></label><button>Create</button>
<div class="result" data-result></div></form>"#,
    );
    Ok(layout("API tokens", Some(&caller), &nonce, &body))
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Where the authorization server sends the browser back after the consent.
async fn oauth2_callback(
    State(app): State<Arc<App>>,
    Extension(Nonce(nonce)): Extension<Nonce>,
    PageUser(caller): PageUser,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let outcome = match (&q.error, &q.code, &q.state) {
        (Some(e), _, state) => {
            if let Some(s) = state {
                app.consents.lock().remove(s);
            }
            Err(format!(
                "The consent was not given ({e}{}).",
                q.error_description
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ))
        }
        (None, Some(code), Some(state)) => api::oauth2_finish(&app, &caller, state, code).await,
        _ => Err(
            "The callback lacks its code and state: start again from the credentials page.".into(),
        ),
    };
    match outcome {
        Ok(_) => Redirect::to("/credentials").into_response(),
        Err(m) => layout(
            "OAuth 2.0 consent",
            Some(&caller),
            &nonce,
            &format!(r#"<p class="result bad" id="oauth-error">{}</p><p><a href="/credentials">Back to the credentials</a></p>"#, esc(&m)),
        )
        .into_response(),
    }
}
