//! The API of the records the app shows beside credentials: a credential's access audit (the
//! permission matrix and findings, acknowledged as `jiralink access --ack/--unack` does, in the
//! same records), the write-back log (`write_log`), the stages flow efficiency uses, and the sync
//! runs kept in the store (`sync_runs`). Same authorization as the rest of the API.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::api::owned;
use crate::auth::{ApiError, Caller, Role};
use crate::{AckError, App};

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/access/{name}", get(access))
        .route("/api/access/{name}/ack", post(ack))
        .route("/api/access/{name}/unack", post(unack))
        .route("/api/access/{name}/audit", post(start_audit))
        .route("/api/audits/{id}", get(audit_state))
        .route("/api/writes", get(writes))
        .route("/api/stages", get(stages).put(put_stages))
        .route("/api/sync-runs", get(sync_runs))
}

type ApiResult<T = Json<Value>> = Result<T, ApiError>;

/// The last access audit of credential `name` as the API and the page show it: the permission
/// names, one row per project, and the findings with their acceptances.
pub fn access_view(app: &App, caller: &Caller, name: &str) -> ApiResult<Value> {
    let (cred, _) = owned(app, caller, name)?;
    let audit = app.access.last_audit(&cred).map_err(ApiError::internal)?;
    let permissions: Vec<&str> = jiralink_api::access::PERMISSIONS
        .iter()
        .map(|(_, short)| *short)
        .collect();
    Ok(match audit {
        None => json!({
            "credential": name,
            "audited": false,
            "permissions": permissions,
            "projects": [],
            "findings": [],
            "hint": format!("no audit of '{name}' yet: run one here, or `jiralink access {name}` on the server"),
        }),
        Some((projects, findings)) => json!({
            "credential": name,
            "audited": true,
            "permissions": permissions,
            "projects": projects.iter().map(|p| json!({
                "key": p.key,
                "id": p.id,
                "grants": jiralink_api::access::matrix_row(p),
            })).collect::<Vec<_>>(),
            "findings": findings,
        }),
    })
}

async fn access(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult {
    Ok(Json(access_view(&app, &caller, &name)?))
}

#[derive(Deserialize)]
struct AckBody {
    finding: String,
    #[serde(default)]
    reason: String,
}

/// Acknowledges or revokes, then records it in the app's audit log.
fn change(
    app: &App,
    caller: &Caller,
    name: &str,
    finding: &str,
    reason: Option<&str>,
) -> ApiResult {
    caller.require(&[Role::Admin, Role::Member])?;
    let (cred, _) = owned(app, caller, name)?;
    let by = format!("{} (jiralink serve)", caller.name);
    let (ack, unack) = match reason {
        Some(r) => (Some((finding, r)), None),
        None => (None, Some(finding)),
    };
    let action = if reason.is_some() {
        "access-ack"
    } else {
        "access-unack"
    };
    let target = format!("{name}:{finding}");
    match app.access.change(&cred, ack, unack, &by) {
        Ok(changed) => {
            app.accounts()
                .web_audit(&caller.name, action, &target, "ok")?;
            Ok(Json(json!({"credential": name, "changed": changed})))
        }
        Err(AckError::Unknown(m)) => {
            app.accounts()
                .web_audit(&caller.name, action, &target, "unknown finding")?;
            Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", m))
        }
        Err(AckError::Failed(m)) => Err(ApiError::internal(m)),
    }
}

async fn ack(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(name): Path<String>,
    Json(body): Json<AckBody>,
) -> ApiResult {
    if body.reason.trim().is_empty() {
        return Err(ApiError::bad(
            "give a reason: it is recorded with the acceptance",
        ));
    }
    change(&app, &caller, &name, &body.finding, Some(&body.reason))
}

async fn unack(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(name): Path<String>,
    Json(body): Json<AckBody>,
) -> ApiResult {
    change(&app, &caller, &name, &body.finding, None)
}

#[derive(Deserialize, Default)]
struct AuditBody {
    /// `read-only` (the default: sync and insights) or `read-write` (write-back too).
    #[serde(default)]
    profile: Option<String>,
}

/// Runs an access audit of credential `name` in the background (its owner, or an admin), as
/// `jiralink access NAME` does, saved in the same records; 202 with the audit's id to poll.
async fn start_audit(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(name): Path<String>,
    body: Option<Json<AuditBody>>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    caller.require(&[Role::Admin, Role::Member])?;
    owned(&app, &caller, &name)?;
    let profile = body
        .and_then(|b| b.0.profile)
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "read-only".into());
    let profile: jiralink_api::access::Profile = profile.parse().map_err(ApiError::bad)?;
    if app.jobs.auditing(&name) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "audit_running",
            format!("an audit of '{name}' is running; wait for it to end"),
        ));
    }
    let id = crate::jobs::start_audit(&app, name, caller.name, profile);
    Ok((StatusCode::ACCEPTED, Json(json!({"id": id}))).into_response())
}

/// An audit run from the app: its state, to its owner's (the credential's) readers only.
async fn audit_state(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<u64>,
) -> ApiResult {
    caller.require(&[Role::Admin, Role::Member])?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no audit {id}"));
    let state = app.jobs.audit(id).ok_or_else(not_found)?;
    if !crate::api::may_see_run(&app, &caller, &state.started_by, &state.credential) {
        return Err(not_found());
    }
    Ok(Json(
        serde_json::to_value(state).map_err(ApiError::internal)?,
    ))
}

/// The credentials whose records `caller` may read: `None` for an admin (all of them).
fn readable_credentials(app: &App, caller: &Caller) -> ApiResult<Option<BTreeSet<String>>> {
    caller.require(&[Role::Admin, Role::Member])?;
    if caller.role == Role::Admin {
        return Ok(None);
    }
    Ok(Some(
        crate::api::visible_credentials(app, caller)?
            .iter()
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect(),
    ))
}

/// A timestamp cell as UTC ISO-8601 text with milliseconds, as the store writes them: SQLite's
/// text and PostgreSQL's `timestamptz` read alike.
pub(crate) fn iso(
    r: &jiralink_store::ViewRow<'_>,
    i: usize,
) -> jiralink_store::Result<Option<String>> {
    Ok(r.millis(i)?
        .and_then(chrono::DateTime::<chrono::Utc>::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()))
}

/// Opens the store's reader.
fn reader(app: &App) -> ApiResult<jiralink_store::ViewReader> {
    Ok(app.reader()?)
}

/// Write-back log filters.
#[derive(Deserialize, Default)]
pub struct WritesQuery {
    pub run: Option<String>,
    pub credential: Option<String>,
    pub limit: Option<usize>,
}

/// The newest writes of `jiralink apply` (the `write_log` view) that `caller` may read: an admin
/// all, a member those of their own credentials.
pub fn write_rows(app: &App, caller: &Caller, q: &WritesQuery) -> ApiResult<Vec<Value>> {
    let readable = readable_credentials(app, caller)?;
    let limit = q.limit.unwrap_or(500).clamp(1, 5000);
    let given = |s: &Option<String>| s.clone().unwrap_or_default();
    let mut rows = Vec::new();
    reader(app)?.each(
        "SELECT run_id, credential, actor, external_id, action, jira_id, field, before, after,
                outcome, error, at
         FROM write_log
         WHERE ($1 = '' OR run_id = $1) AND ($2 = '' OR credential = $2)
         ORDER BY at DESC, run_id, external_id",
        &[&given(&q.run), &given(&q.credential)],
        |r| -> jiralink_store::Result<()> {
            let credential = r.text(1)?.unwrap_or_default();
            if rows.len() >= limit || readable.as_ref().is_some_and(|c| !c.contains(credential)) {
                return Ok(());
            }
            rows.push(json!({
                "run": r.text(0)?,
                "credential": credential,
                "actor": r.text(2)?,
                "external_id": r.text(3)?,
                "action": r.text(4)?,
                "jira_id": r.text(5)?,
                "field": r.text(6)?,
                "before": r.text(7)?,
                "after": r.text(8)?,
                "outcome": r.text(9)?,
                "error": r.text(10)?,
                "at": iso(r, 11)?,
            }));
            Ok(())
        },
    )?;
    Ok(rows)
}

async fn writes(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(q): Query<WritesQuery>,
) -> ApiResult {
    let rows = tokio::task::spawn_blocking(move || write_rows(&app, &caller, &q))
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(json!({"writes": rows})))
}

/// The sync runs in the store (`sync_runs`) that `caller` may read, newest first.
pub fn store_runs(app: &App, caller: &Caller, credential: &str) -> ApiResult<Vec<Value>> {
    let readable = readable_credentials(app, caller)?;
    let mut rows = Vec::new();
    reader(app)?.each(
        "SELECT r.id, r.credential, r.site_id, s.base_url, r.started, r.finished, r.status,
                r.requests, r.issues_written, r.error
         FROM sync_runs r LEFT JOIN sites s ON s.site_id = r.site_id
         WHERE ($1 = '' OR r.credential = $1)
         ORDER BY r.started DESC LIMIT 1000",
        &[credential],
        |r| -> jiralink_store::Result<()> {
            let cred = r.text(1)?.unwrap_or_default();
            if readable.as_ref().is_some_and(|c| !c.contains(cred)) {
                return Ok(());
            }
            rows.push(json!({
                "id": r.int(0)?,
                "credential": cred,
                "site_id": r.text(2)?,
                "site": r.text(3)?,
                "started": iso(r, 4)?,
                "finished": iso(r, 5)?,
                "status": r.text(6)?,
                "requests": r.int(7)?,
                "issues_written": r.int(8)?,
                "error": r.text(9)?,
            }));
            Ok(())
        },
    )?;
    Ok(rows)
}

#[derive(Deserialize, Default)]
struct RunsQuery {
    credential: Option<String>,
}

async fn sync_runs(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(q): Query<RunsQuery>,
) -> ApiResult {
    let rows = tokio::task::spawn_blocking(move || {
        store_runs(&app, &caller, q.credential.as_deref().unwrap_or_default())
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(json!({"runs": rows})))
}

/// The stages set on the Stages page, as the insights config maps them.
pub fn stage_config(
    app: &App,
) -> ApiResult<std::collections::HashMap<String, jiralink_insights::Stage>> {
    let rows = app.accounts().web_stages()?;
    Ok(rows
        .into_iter()
        .filter_map(|r| Some((r.status, parse_stage(&r.stage)?)))
        .collect())
}

fn parse_stage(s: &str) -> Option<jiralink_insights::Stage> {
    s.parse().ok()
}

/// Every status of the store with its category and its stage (set here, or by category).
pub fn stage_rows(app: &App) -> ApiResult<Vec<Value>> {
    let set = stage_config(app)?;
    let set: std::collections::HashMap<String, jiralink_insights::Stage> = set
        .into_iter()
        .map(|(k, v)| (k.to_lowercase(), v))
        .collect();
    let mut rows: Vec<Value> = Vec::new();
    reader(app)?.each(
        "SELECT name, MIN(category) FROM statuses GROUP BY name ORDER BY MIN(category), name",
        &[],
        |r| -> jiralink_store::Result<()> {
            let name = r.text_not_null(0)?.to_owned();
            let category = r.text(1)?.unwrap_or_default().to_owned();
            let default = match category.as_str() {
                "done" => "done",
                "indeterminate" => "active",
                _ => "to_do",
            };
            let chosen = set.get(&name.to_lowercase());
            rows.push(json!({
                "status": name,
                "category": category,
                "stage": chosen.map_or(Value::String(default.into()), |s| json!(s)),
                "set": chosen.is_some(),
            }));
            Ok(())
        },
    )?;
    Ok(rows)
}

async fn stages(State(app): State<Arc<App>>, _caller: Caller) -> ApiResult {
    let rows = tokio::task::spawn_blocking(move || stage_rows(&app))
        .await
        .map_err(ApiError::internal)??;
    let waiting: Vec<&Value> = rows
        .iter()
        .filter(|r| r["stage"] == "waiting")
        .map(|r| &r["status"])
        .collect();
    Ok(Json(json!({"statuses": rows, "waiting": waiting})))
}

/// Sets the stage of statuses (admin): a JSON object `{"STATUS": "to_do|active|waiting|done"}`;
/// statuses left out keep their category's stage.
async fn put_stages(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(body): Json<Map<String, Value>>,
) -> ApiResult {
    caller.require(&[Role::Admin])?;
    let mut stages = Vec::new();
    for (status, stage) in &body {
        let s = stage.as_str().unwrap_or_default();
        if status.trim().is_empty() || parse_stage(s).is_none() {
            return Err(ApiError::bad(format!(
                "'{status}': '{s}' is not a stage: use to_do, active, waiting or done"
            )));
        }
        stages.push((status.trim().to_owned(), s.to_owned()));
    }
    let waiting = stages.iter().filter(|s| s.1 == "waiting").count();
    {
        let mut store = app.accounts();
        store.web_put_stages(&stages, &caller.name)?;
        store.web_audit(
            &caller.name,
            "stages",
            "",
            &format!("ok ({} set, {waiting} waiting)", stages.len()),
        )?;
    }
    app.insights_cache.lock().clear();
    Ok(Json(json!({"set": stages.len(), "waiting": waiting})))
}
