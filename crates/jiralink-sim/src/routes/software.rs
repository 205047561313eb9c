//! Jira Software Cloud's token-paged issue lists under `/rest/software/1.0` (board issues, board
//! backlog, sprint issues, and the board's approximate count), which newer clients use in place of
//! the startAt-paged Agile lists. Cloud only: the front answers them on Data Center as Data Center
//! answers an unknown resource.

use std::sync::Arc;

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;
use serde_json::value::RawValue;

use super::agile::{visible_board, visible_sprint};
use super::search::{list_binding, open_token, render_page, seal_token};
use super::{bad_request, ok, Params, SharedState};
use crate::jql;
use crate::model::{Issue, IssueId, Site, SprintState, StatusCategory};
use crate::render::{Expand, FieldSelection};
use crate::server::{Ctx, Shared};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/board/{id}/issue", get(board_issues))
        .route("/board/{id}/issue/approximate-count", get(board_count))
        .route("/board/{id}/backlog", get(board_backlog))
        .route("/sprint/{id}/issue", get(sprint_issues))
}

/// Default page; the cap for id-only pages and for pages with fields (as `search/jql`).
const DEFAULT_PAGE: i64 = 50;
const IDS_ONLY_CAP: usize = 5000;
const FIELDS_CAP: usize = 100;

/// The issues of a list in order: the list's own, narrowed by the request's `jql`.
fn list_ids(
    site: &Site,
    ctx: &Ctx,
    p: &Params,
    keep: impl Fn(&Issue) -> bool,
) -> Result<Vec<IssueId>, Response> {
    let jctx = jql::Ctx {
        site,
        user: ctx.user(),
        now: site.now(),
    };
    let query = match p.get("jql").filter(|j| !j.trim().is_empty()) {
        Some(text) => Some(jql::parse(text, site.deployment).map_err(|e| bad_request(&e.0))?),
        None => None,
    };
    let compiled = match &query {
        Some(q) => Some(q.compile(&jctx).map_err(|e| bad_request(&e.0))?),
        None => None,
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
    Ok(ids)
}

/// A page of a token-paged list: `expand`, `issues`, `isLast`, and `nextPageToken` unless last.
/// `startAt` is not a parameter here (ignored, as Cloud ignores it).
fn token_page(
    state: &Shared,
    ctx: &Ctx,
    p: &Params,
    list: &str,
    site: &Site,
    ids: &[IssueId],
) -> Response {
    let mut fields = FieldSelection::parse(&p.all("fields"), false);
    fields.properties = p.all("properties");
    let expand = Expand::parse(&p.all("expand"));
    let cap = if fields.ids_only() {
        IDS_ONLY_CAP
    } else {
        FIELDS_CAP
    };
    let max = match p.int("maxResults", DEFAULT_PAGE) {
        Ok(m) => (m.max(1) as usize).min(cap),
        Err(r) => return r,
    };
    let binding = format!(
        "software/{list}\n{}\n{}\n{}\n{}\n{}",
        ctx.user(),
        p.get("jql").unwrap_or(""),
        list_binding(&p.all("fields")),
        list_binding(&p.all("expand")),
        list_binding(&p.all("properties")),
    );
    let start = match p.get("nextPageToken").filter(|t| !t.is_empty()) {
        Some(t) => match open_token(&binding, t, state.cfg.page_token_ttl_s) {
            Ok((offset, last)) => super::search::resume(ids, offset, last),
            Err(e) => return e,
        },
        None => 0,
    };
    let issues = render_page(site, ctx, ids, start, max, &fields, &expand);
    let end = (start + max).min(ids.len());
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Page {
        expand: &'static str,
        issues: Vec<Box<RawValue>>,
        is_last: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        next_page_token: Option<String>,
    }
    axum::Json(Page {
        expand: "names,schema",
        issues,
        is_last: end >= ids.len(),
        next_page_token: (end < ids.len()).then(|| seal_token(&binding, end, ids[end - 1])),
    })
    .into_response()
}

async fn board_issues(state: SharedState, ctx: Ctx, Path(id): Path<String>, p: Params) -> Response {
    let site = state.site.read();
    let project = match visible_board(&site, &ctx, &id) {
        Ok(b) => b.project,
        Err(r) => return r,
    };
    match list_ids(&site, &ctx, &p, |i| i.project == project) {
        Ok(ids) => token_page(&state, &ctx, &p, &format!("board/{id}/issue"), &site, &ids),
        Err(r) => r,
    }
}

async fn board_count(state: SharedState, ctx: Ctx, Path(id): Path<String>, p: Params) -> Response {
    let site = state.site.read();
    let project = match visible_board(&site, &ctx, &id) {
        Ok(b) => b.project,
        Err(r) => return r,
    };
    match list_ids(&site, &ctx, &p, |i| i.project == project) {
        Ok(ids) => ok(json!({ "count": ids.len() })),
        Err(r) => r,
    }
}

/// The backlog: the board's issues that are not done and in no active or future sprint.
async fn board_backlog(
    state: SharedState,
    ctx: Ctx,
    Path(id): Path<String>,
    p: Params,
) -> Response {
    let site = state.site.read();
    let project = match visible_board(&site, &ctx, &id) {
        Ok(b) => b.project,
        Err(r) => return r,
    };
    let open_sprint = |s: &u32| {
        site.sprints
            .iter()
            .any(|x| x.id == *s && x.state != SprintState::Closed)
    };
    let keep = |i: &Issue| {
        i.project == project
            && site.statuses[i.status as usize].category != StatusCategory::Done
            && !i.sprints.iter().any(open_sprint)
    };
    match list_ids(&site, &ctx, &p, keep) {
        Ok(ids) => token_page(
            &state,
            &ctx,
            &p,
            &format!("board/{id}/backlog"),
            &site,
            &ids,
        ),
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
    match list_ids(&site, &ctx, &p, |i| i.sprints.contains(&sprint)) {
        Ok(ids) => token_page(&state, &ctx, &p, &format!("sprint/{id}/issue"), &site, &ids),
        Err(r) => r,
    }
}
