//! The Jira Software (Agile) API: boards, their configuration, sprints, issues and epics; sprints and
//! their issues; creating sprints, starting and closing them, and moving issues into them.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use super::{bad_request, forbidden, ok, paging, JsonBody, Params, SharedState};
use crate::jql;
use crate::model::{Board, IssueId, Permission, ProjectType, Site, Sprint, SprintState};
use crate::render::{summary, Expand, FieldSelection, CLOUD_SEARCH_CAPS, DC_CAPS};
use crate::server::{jira_error, Ctx, Shared};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/board", get(boards))
        .route("/board/{id}", get(board))
        .route("/board/{id}/configuration", get(configuration))
        .route("/board/{id}/sprint", get(board_sprints))
        .route("/board/{id}/issue", get(board_issues))
        .route("/board/{id}/epic", get(board_epics))
        .route("/sprint", post(create_sprint))
        .route(
            "/sprint/{id}",
            get(sprint).post(update_sprint).put(update_sprint),
        )
        .route(
            "/sprint/{id}/issue",
            get(sprint_issues).post(move_to_sprint),
        )
}

fn board_not_found(id: &str) -> Response {
    jira_error(
        StatusCode::NOT_FOUND,
        &[&format!(
            "Board does not exist or you do not have permission to see it: {id}."
        )],
        &[],
    )
}

fn sprint_not_found(id: &str) -> Response {
    jira_error(
        StatusCode::NOT_FOUND,
        &[&format!(
            "Sprint does not exist or you do not have permission to see it: {id}."
        )],
        &[],
    )
}

/// A board the caller may see (through its project's browse permission).
pub(super) fn visible_board<'a>(
    site: &'a Site,
    ctx: &Ctx,
    id: &str,
) -> Result<&'a Board, Response> {
    site.boards
        .iter()
        .find(|b| b.id.to_string() == id && site.can_browse(ctx.user(), b.project))
        .ok_or_else(|| board_not_found(id))
}

pub(super) fn visible_sprint<'a>(
    site: &'a Site,
    ctx: &Ctx,
    id: &str,
) -> Result<&'a Sprint, Response> {
    site.sprints
        .iter()
        .find(|s| s.id.to_string() == id)
        .filter(|s| {
            site.boards
                .iter()
                .any(|b| b.id == s.board && site.can_browse(ctx.user(), b.project))
        })
        .ok_or_else(|| sprint_not_found(id))
}

fn board_json(site: &Site, ctx: &Ctx, b: &Board) -> Value {
    let p = &site.projects[b.project as usize];
    json!({
        "id": b.id,
        "self": format!("{}/rest/agile/1.0/board/{}", ctx.base, b.id),
        "name": b.name,
        "type": if b.scrum { "scrum" } else { "kanban" },
        "location": {
            "projectId": p.id, "displayName": format!("{} ({})", p.name, p.key), "projectName": p.name,
            "projectKey": p.key, "projectTypeKey": p.project_type.key(), "name": format!("{} ({})", p.name, p.key),
        },
    })
}

/// Agile pages: `startAt`, `maxResults`, `isLast`, `total`, `values`.
fn agile_page(values: Vec<Value>, start: usize, max: usize) -> Value {
    let total = values.len();
    let page: Vec<Value> = values.into_iter().skip(start).take(max).collect();
    json!({"maxResults": max, "startAt": start, "total": total, "isLast": start + page.len() >= total, "values": page})
}

/// An Agile list's own cap, lowered on Data Center to its server page cap
/// (`jira.search.views.default.max`, which the Agile REST reference says governs its pages).
fn page_cap(shared: &crate::server::Shared, cap: i64) -> i64 {
    if shared.cfg.gen.deployment == crate::model::Deployment::Datacenter {
        cap.min(i64::try_from(shared.cfg.dc_max_results).unwrap_or(i64::MAX))
    } else {
        cap
    }
}

async fn boards(state: SharedState, ctx: Ctx, p: Params) -> Response {
    let (start, max) = match paging(&p, 50, page_cap(&state, 50)) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let site = state.site.read();
    let project = p
        .get("projectKeyOrId")
        .map(|k| site.project_by_key_or_id(k));
    if let Some(None) = project {
        return bad_request(&format!(
            "No project could be found with key or id '{}'.",
            p.get("projectKeyOrId").unwrap_or_default()
        ));
    }
    let kind = p.get("type");
    let name = p.get("name").map(str::to_lowercase);
    let values: Vec<Value> = site
        .boards
        .iter()
        .filter(|b| site.can_browse(ctx.user(), b.project))
        .filter(|b| project.flatten().is_none_or(|p| b.project == p))
        .filter(|b| kind.is_none_or(|k| (k == "scrum") == b.scrum))
        .filter(|b| {
            name.as_ref()
                .is_none_or(|n| b.name.to_lowercase().contains(n))
        })
        .map(|b| board_json(&site, &ctx, b))
        .collect();
    ok(agile_page(values, start, max))
}

async fn board(state: SharedState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let site = state.site.read();
    match visible_board(&site, &ctx, &id) {
        Ok(b) => ok(board_json(&site, &ctx, b)),
        Err(r) => r,
    }
}

async fn configuration(state: SharedState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let site = state.site.read();
    let b = match visible_board(&site, &ctx, &id) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let project = &site.projects[b.project as usize];
    let columns: Vec<Value> = site.workflows[project.workflow as usize]
        .statuses
        .iter()
        .map(|s| {
            let st = &site.statuses[*s as usize];
            json!({"name": st.name, "statuses": [{"id": st.id.to_string(), "self": format!("{}/rest/api/2/status/{}", ctx.base, st.id)}]})
        })
        .collect();
    ok(json!({
        "id": b.id,
        "name": b.name,
        "self": format!("{}/rest/agile/1.0/board/{}/configuration", ctx.base, b.id),
        "type": if b.scrum { "scrum" } else { "kanban" },
        "location": {"type": "project", "projectKeyOrId": project.key},
        "filter": {"id": (10000 + b.id).to_string(), "self": format!("{}/rest/api/2/filter/{}", ctx.base, 10000 + b.id)},
        "columnConfig": {"columns": columns, "constraintType": "issueCount"},
        "estimation": {"type": "field", "field": {"fieldId": crate::model::custom_field::STORY_POINTS, "displayName": "Story point estimate"}},
        "ranking": {"rankCustomFieldId": 10019},
    }))
}

async fn board_sprints(
    state: SharedState,
    ctx: Ctx,
    Path(id): Path<String>,
    p: Params,
) -> Response {
    let (start, max) = match paging(&p, 50, page_cap(&state, 50)) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let site = state.site.read();
    let b = match visible_board(&site, &ctx, &id) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !b.scrum {
        return bad_request("The board does not support sprints.");
    }
    let states: Vec<String> = p
        .all("state")
        .iter()
        .flat_map(|s| s.split(',').map(|x| x.trim().to_lowercase()))
        .collect();
    let view = ctx.view(&site);
    let values: Vec<Value> = site
        .sprints
        .iter()
        .filter(|s| {
            s.board == b.id && (states.is_empty() || states.iter().any(|x| x == s.state.as_str()))
        })
        .map(|s| view.sprint(s))
        .collect();
    ok(agile_page(values, start, max))
}

/// Issues matching a predicate plus optional `jql`, as the Agile API's search results.
fn issue_page(
    site: &Site,
    ctx: &Ctx,
    p: &Params,
    cap: i64,
    keep: impl Fn(&crate::model::Issue) -> bool,
) -> Response {
    let (start, max) = match paging(p, 50, cap) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let jctx = jql::Ctx {
        site,
        user: ctx.user(),
        now: site.now(),
    };
    let (compiled, query) = match p.get("jql").filter(|j| !j.trim().is_empty()) {
        Some(text) => {
            match jql::parse(text, site.deployment)
                .and_then(|q| q.compile(&jctx).map(|c| (Some(c), Some(q))))
            {
                Ok(x) => x,
                Err(e) => return bad_request(&e.0),
            }
        }
        None => (None, None),
    };
    let mut ids: Vec<IssueId> = site
        .issues
        .iter()
        .filter(|i| i.deleted.is_none() && site.can_browse(ctx.user(), i.project) && keep(i))
        .filter(|i| compiled.as_ref().is_none_or(|c| c.matches(site, i)))
        .map(|i| i.id)
        .collect();
    match &query {
        Some(q) => q.sort(&jctx, &mut ids),
        None => ids.sort_unstable(),
    }
    let fields = FieldSelection::parse(&p.all("fields"), true);
    let expand = Expand::parse(&p.all("expand"));
    let caps = if site.deployment == crate::model::Deployment::Cloud {
        CLOUD_SEARCH_CAPS
    } else {
        DC_CAPS
    };
    let view = ctx.view(site);
    let issues: Vec<Box<serde_json::value::RawValue>> = ids
        .iter()
        .skip(start)
        .take(max)
        .filter_map(|id| site.issue(*id))
        .map(|i| view.issue(i, &fields, &expand, caps))
        .collect();
    let page = super::search::LegacyPage {
        expand: "schema,names",
        start_at: start,
        max_results: max,
        total: ids.len(),
        issues,
    };
    axum::Json(page).into_response()
}

async fn board_issues(state: SharedState, ctx: Ctx, Path(id): Path<String>, p: Params) -> Response {
    let site = state.site.read();
    let project = match visible_board(&site, &ctx, &id) {
        Ok(b) => b.project,
        Err(r) => return r,
    };
    issue_page(&site, &ctx, &p, page_cap(&state, 100), |i| {
        i.project == project
    })
}

async fn board_epics(state: SharedState, ctx: Ctx, Path(id): Path<String>, p: Params) -> Response {
    let (start, max) = match paging(&p, 50, page_cap(&state, 50)) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let site = state.site.read();
    let b = match visible_board(&site, &ctx, &id) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if site.projects[b.project as usize].project_type != ProjectType::Software {
        return bad_request("The board does not support epics.");
    }
    let done_filter = p.get("done").map(|d| d.eq_ignore_ascii_case("true"));
    let values: Vec<Value> = site
        .issues
        .iter()
        .filter(|i| i.deleted.is_none() && i.project == b.project && site.issue_types[i.issue_type as usize].hierarchy_level == 1)
        .filter(|i| {
            let done = site.statuses[i.status as usize].category == crate::model::StatusCategory::Done;
            done_filter.is_none_or(|d| d == done)
        })
        .map(|i| {
            let done = site.statuses[i.status as usize].category == crate::model::StatusCategory::Done;
            json!({
                "id": i.id, "key": site.issue_key(i),
                "self": format!("{}/rest/agile/1.0/epic/{}", ctx.base, i.id),
                "name": summary(i), "summary": summary(i), "color": {"key": format!("color_{}", i.id % 9 + 1)}, "done": done,
            })
        })
        .collect();
    ok(agile_page(values, start, max))
}

async fn sprint(state: SharedState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let site = state.site.read();
    match visible_sprint(&site, &ctx, &id) {
        Ok(s) => ok(ctx.view(&site).sprint(s)),
        Err(r) => r,
    }
}

async fn sprint_issues(
    state: SharedState,
    ctx: Ctx,
    Path(id): Path<String>,
    p: Params,
) -> Response {
    let site = state.site.read();
    let sprint = match visible_sprint(&site, &ctx, &id) {
        Ok(s) => s.id,
        Err(r) => return r,
    };
    issue_page(&site, &ctx, &p, page_cap(&state, 100), |i| {
        i.sprints.contains(&sprint)
    })
}

fn parse_time(v: Option<&Value>) -> Result<Option<i64>, Response> {
    match v.and_then(Value::as_str) {
        None => Ok(None),
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .or_else(|_| chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%z"))
            .map(|t| Some(t.timestamp_millis()))
            .map_err(|_| {
                bad_request(&format!(
                    "Invalid date '{s}', expected ISO-8601 such as 2015-04-11T15:22:00.000+10:00."
                ))
            }),
    }
}

async fn create_sprint(state: SharedState, ctx: Ctx, JsonBody(body): JsonBody) -> Response {
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("");
    if name.is_empty() || name.chars().count() > 255 {
        return jira_error(
            StatusCode::BAD_REQUEST,
            &[],
            &[("name", "Sprint name must be between 1 and 255 characters.")],
        );
    }
    let board_id = body
        .get("originBoardId")
        .map(|v| v.to_string().trim_matches('"').to_owned())
        .unwrap_or_default();
    let (start, end) = match (
        parse_time(body.get("startDate")),
        parse_time(body.get("endDate")),
    ) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let mut site = state.site.write();
    let (board, project, scrum) = match visible_board(&site, &ctx, &board_id) {
        Ok(b) => (b.id, b.project, b.scrum),
        Err(_) => return jira_error(
            StatusCode::BAD_REQUEST,
            &[],
            &[(
                "originBoardId",
                "Board with the given id does not exist or you do not have permission to see it.",
            )],
        ),
    };
    if !scrum {
        return bad_request("The board does not support sprints.");
    }
    if !site
        .project_permissions(ctx.user(), project)
        .has(Permission::ManageSprints)
    {
        return forbidden("You do not have permission to manage sprints on this board.");
    }
    let goal = body
        .get("goal")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let id = site.create_sprint(board, name.to_owned(), start, end, goal);
    let out = ctx.view(&site).sprint(
        site.sprints
            .iter()
            .find(|s| s.id == id)
            .expect("the sprint just created"),
    );
    drop(site);
    state.touch();
    (StatusCode::CREATED, axum::Json(out)).into_response()
}

/// Renames, re-dates, starts (`state: active`) or closes (`state: closed`) a sprint.
async fn update_sprint(
    state: SharedState,
    ctx: Ctx,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Response {
    let (start, end) = match (
        parse_time(body.get("startDate")),
        parse_time(body.get("endDate")),
    ) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let mut site = state.site.write();
    let (sid, board) = match visible_sprint(&site, &ctx, &id) {
        Ok(s) => (s.id, s.board),
        Err(r) => return r,
    };
    let project = site
        .boards
        .iter()
        .find(|b| b.id == board)
        .map(|b| b.project)
        .unwrap_or(0);
    if !site
        .project_permissions(ctx.user(), project)
        .has(Permission::ManageSprints)
    {
        return forbidden("You do not have permission to manage sprints on this board.");
    }
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let change = crate::ops::SprintChange {
        name: text("name"),
        goal: text("goal"),
        start,
        end,
        state: text("state"),
    };
    if let Err(e) = site.update_sprint(sid, change) {
        return bad_request(&e);
    }
    let out = ctx.view(&site).sprint(
        site.sprints
            .iter()
            .find(|s| s.id == sid)
            .expect("the sprint was found above"),
    );
    drop(site);
    state.touch();
    ok(out)
}

async fn move_to_sprint(
    state: SharedState,
    ctx: Ctx,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Response {
    let keys: Vec<String> = body
        .get("issues")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .or_else(|| v.as_u64().map(|n| n.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    if keys.is_empty() || keys.len() > 50 {
        return bad_request("'issues' must list between 1 and 50 issue keys or ids.");
    }
    let mut site = state.site.write();
    let (sid, board, closed) = match visible_sprint(&site, &ctx, &id) {
        Ok(s) => (s.id, s.board, s.state == SprintState::Closed),
        Err(r) => return r,
    };
    if closed {
        return bad_request("Issues cannot be moved into a closed sprint.");
    }
    let project = site
        .boards
        .iter()
        .find(|b| b.id == board)
        .map(|b| b.project)
        .unwrap_or(0);
    if !site
        .project_permissions(ctx.user(), project)
        .has(Permission::ManageSprints)
    {
        return forbidden("You do not have permission to manage sprints on this board.");
    }
    let mut ids = Vec::new();
    for k in &keys {
        match super::visible(&site, &ctx, k) {
            Some(i) => ids.push(i.id),
            None => {
                return bad_request(&format!(
                    "Issue does not exist or you do not have permission to see it: {k}."
                ))
            }
        }
    }
    for i in ids {
        site.set_sprint(i, sid, ctx.user());
    }
    drop(site);
    state.touch();
    StatusCode::NO_CONTENT.into_response()
}
