//! Reading issues and what hangs off them: single and bulk issue fetch, changelogs (per issue and in
//! bulk), comments, worklogs (per issue, updated/deleted feeds, bulk list), properties, remote links,
//! issue links and transitions.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use super::{
    bad_request, counted_page, issue_not_found, ok, page, paging, visible, JsonBody, Params,
    SharedState,
};
use crate::model::{Deployment, Issue, Site, WorkflowTransition};
use crate::render::{Expand, FieldSelection, InlineCaps, CLOUD_ISSUE_CAPS, DC_CAPS};
use crate::server::{jira_error, Ctx, Shared, WorklogIndex};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/issue/bulkfetch", post(bulk_fetch))
        .route("/issue/{id}/changelog", get(changelog))
        .route("/changelog/bulkfetch", post(changelog_bulk))
        .route("/comment/list", post(comment_list))
        .route("/worklog/updated", get(worklog_updated))
        .route("/worklog/deleted", get(worklog_deleted))
        .route("/worklog/list", post(worklog_list))
        .route("/issue/{id}/properties", get(properties))
        .route("/issueLink/{id}", get(issue_link_get))
}

pub fn issue_caps(site: &Site) -> InlineCaps {
    if site.deployment == Deployment::Cloud {
        CLOUD_ISSUE_CAPS
    } else {
        DC_CAPS
    }
}

pub async fn issue_get(
    state: SharedState,
    ctx: Ctx,
    Path(id): Path<String>,
    p: Params,
) -> Response {
    let site = state.site.read();
    let Some(issue) = visible(&site, &ctx, &id) else {
        return issue_not_found();
    };
    let mut fields = FieldSelection::parse(&p.all("fields"), true);
    fields.properties = p
        .all("properties")
        .iter()
        .flat_map(|s| s.split(',').map(str::to_owned))
        .collect();
    let expand = Expand::parse(&p.all("expand"));
    axum::Json(
        ctx.view(&site)
            .issue(issue, &fields, &expand, issue_caps(&site)),
    )
    .into_response()
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| match x {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `POST issue/bulkfetch`: up to 100 issues by id or key. Like Cloud, issues that do not exist or
/// that the caller may not see are simply absent; `issueErrors` is for retriable failures only.
async fn bulk_fetch(state: SharedState, ctx: Ctx, JsonBody(body): JsonBody) -> Response {
    let ids = string_list(body.get("issueIdsOrKeys"));
    if ids.is_empty() || ids.len() > 100 {
        return bad_request("issueIdsOrKeys must contain between 1 and 100 issue ids or keys.");
    }
    let site = state.site.read();
    let mut fields = FieldSelection::parse(&string_list(body.get("fields")), true);
    fields.properties = string_list(body.get("properties"));
    let expand = Expand::parse(&string_list(body.get("expand")));
    let view = ctx.view(&site);
    let mut seen = std::collections::HashSet::new();
    let issues: Vec<Box<serde_json::value::RawValue>> = ids
        .iter()
        .filter_map(|id| visible(&site, &ctx, id))
        .filter(|i| seen.insert(i.id))
        .map(|i| view.issue(i, &fields, &expand, issue_caps(&site)))
        .collect();
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct BulkIssues {
        issues: Vec<Box<serde_json::value::RawValue>>,
        issue_errors: [(); 0],
    }
    axum::Json(BulkIssues {
        issues,
        issue_errors: [],
    })
    .into_response()
}

async fn changelog(state: SharedState, ctx: Ctx, Path(id): Path<String>, p: Params) -> Response {
    let (start, max) = match paging(&p, 100, 100) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let site = state.site.read();
    let Some(issue) = visible(&site, &ctx, &id) else {
        return issue_not_found();
    };
    let view = ctx.view(&site);
    let values: Vec<Value> = issue
        .changelog
        .iter()
        .skip(start)
        .take(max)
        .map(|g| serde_json::to_value(view.change_group(g)).expect("a history is JSON"))
        .collect();
    let total = issue.changelog.len();
    let mut out = page(values, start, max, total);
    out["self"] = json!(format!(
        "{}/rest/api/{}/issue/{}/changelog?maxResults={max}&startAt={start}",
        ctx.base,
        if ctx.v3 { 3 } else { 2 },
        issue.id
    ));
    if start + max < total {
        out["nextPage"] = json!(format!(
            "{}/rest/api/{}/issue/{}/changelog?maxResults={max}&startAt={}",
            ctx.base,
            if ctx.v3 { 3 } else { 2 },
            issue.id,
            start + max
        ));
    }
    ok(out)
}

/// `POST changelog/bulkfetch`: changelogs of up to 1000 issues, at most `maxResults` (default 1000)
/// histories a page, continued with `nextPageToken`.
async fn changelog_bulk(state: SharedState, ctx: Ctx, JsonBody(body): JsonBody) -> Response {
    let ids = string_list(body.get("issueIdsOrKeys"));
    if ids.is_empty() || ids.len() > 1000 {
        return bad_request("issueIdsOrKeys must contain between 1 and 1000 issue ids or keys.");
    }
    let field_ids = string_list(body.get("fieldIds"));
    if field_ids.len() > 10 {
        return bad_request("fieldIds can contain at most 10 field ids.");
    }
    let max = body
        .get("maxResults")
        .and_then(Value::as_u64)
        .unwrap_or(1000)
        .clamp(1, 10_000) as usize;
    // The token is a cursor (position in the request's list, last history returned there), not an
    // offset: histories added or issues deleted between pages cannot shift the next page.
    let binding = format!(
        "changelog/bulkfetch\n{}\n{ids:?}\n{field_ids:?}",
        ctx.user()
    );
    let (start, after) = match body.get("nextPageToken").and_then(Value::as_str) {
        Some(t) if !t.is_empty() => {
            match super::search::open_token(&binding, t, state.cfg.page_token_ttl_s) {
                Ok(c) => c,
                Err(e) => return e,
            }
        }
        _ => (0, 0),
    };
    let site = state.site.read();
    let view = ctx.view(&site);
    // Keys in sorted order, as the `Value` this page was once built as wrote them.
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct IssueChangeLog {
        change_histories: Vec<Box<serde_json::value::RawValue>>,
        issue_id: String,
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Page {
        issue_change_logs: Vec<IssueChangeLog>,
        #[serde(skip_serializing_if = "Option::is_none")]
        next_page_token: Option<String>,
    }
    let mut out = Vec::new();
    let mut emitted = 0usize;
    let mut next: Option<(usize, u64)> = None;
    'issues: for (n, id) in ids.iter().enumerate().skip(start) {
        let Some(issue) = visible(&site, &ctx, id) else {
            continue;
        };
        let mut histories = Vec::new();
        let mut last = if n == start { after } else { 0 };
        for g in &issue.changelog {
            let g_matches = field_ids.is_empty()
                || g.items
                    .iter()
                    .any(|i| field_ids.iter().any(|f| change_field_id(i) == f));
            if !g_matches || (n == start && g.id <= after) {
                continue;
            }
            if emitted == max {
                next = Some((n, last));
                if !histories.is_empty() {
                    out.push(IssueChangeLog {
                        change_histories: histories,
                        issue_id: issue.id.to_string(),
                    });
                }
                break 'issues;
            }
            histories.push(view.change_group(g));
            emitted += 1;
            last = g.id;
        }
        if !histories.is_empty() {
            out.push(IssueChangeLog {
                change_histories: histories,
                issue_id: issue.id.to_string(),
            });
        }
    }
    axum::Json(Page {
        issue_change_logs: out,
        next_page_token: next.map(|(n, last)| super::search::seal_token(&binding, n, last)),
    })
    .into_response()
}

fn change_field_id(item: &crate::model::ChangeValue) -> &str {
    use crate::model::{custom_field, ChangeValue::*};
    match item {
        Status { .. } => "status",
        Assignee { .. } => "assignee",
        Priority { .. } => "priority",
        Resolution { .. } => "resolution",
        Sprint { .. } => custom_field::SPRINT,
        StoryPoints { .. } => custom_field::STORY_POINTS,
        Key { .. } => "key",
        Project { .. } => "project",
        Text { field_id, .. } => field_id,
    }
}

/// Comments of one issue a page: Cloud defaults to 100 and serves at most 100 (its v2 reference:
/// "The default is 100 and the maximum is 100"; asking for more echoes `maxResults: 100`). Data
/// Center returns them all: without `maxResults` it answers `maxResults: 1048576` (JRASERVER-74572).
const CLOUD_COMMENT_PAGE: i64 = 100;
const DC_COMMENT_PAGE: i64 = 1_048_576;
/// Worklogs of one issue a page (the spec's default and cap, on both deployments).
const WORKLOG_PAGE: i64 = 5000;

pub async fn comments(state: SharedState, ctx: Ctx, Path(id): Path<String>, p: Params) -> Response {
    let cap = if state.cfg.gen.deployment == Deployment::Cloud {
        CLOUD_COMMENT_PAGE
    } else {
        DC_COMMENT_PAGE
    };
    let (start, max) = match paging(&p, cap, cap) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let site = state.site.read();
    let Some(issue) = visible(&site, &ctx, &id) else {
        return issue_not_found();
    };
    let view = ctx.view(&site);
    let desc = p.get("orderBy").is_some_and(|o| o.starts_with('-'));
    let mut list: Vec<&crate::model::Comment> = issue.comments.iter().collect();
    if desc {
        list.reverse();
    }
    let values: Vec<Value> = list
        .iter()
        .skip(start)
        .take(max)
        .map(|c| view.comment(issue, c))
        .collect();
    ok(counted_page(
        values,
        start,
        max,
        issue.comments.len(),
        "comments",
    ))
}

pub async fn comment_get(
    state: SharedState,
    ctx: Ctx,
    Path((id, cid)): Path<(String, String)>,
) -> Response {
    let site = state.site.read();
    let Some(issue) = visible(&site, &ctx, &id) else {
        return issue_not_found();
    };
    match issue.comments.iter().find(|c| c.id.to_string() == cid) {
        Some(c) => ok(ctx.view(&site).comment(issue, c)),
        None => jira_error(
            StatusCode::NOT_FOUND,
            &[
                "Can not find a comment for the id: ".to_owned().as_str(),
                &cid,
            ],
            &[],
        ),
    }
}

/// Finds comments or worklogs by id across visible issues.
fn find_children<'a, T>(
    site: &'a Site,
    ctx: &Ctx,
    ids: &[u64],
    children: impl Fn(&'a Issue) -> &'a [T],
    id_of: impl Fn(&T) -> u64,
) -> Vec<(&'a Issue, &'a T)> {
    let wanted: std::collections::HashSet<u64> = ids.iter().copied().collect();
    let mut found = Vec::new();
    for issue in site
        .issues
        .iter()
        .filter(|i| i.deleted.is_none() && site.can_browse(ctx.user(), i.project))
    {
        for c in children(issue) {
            if wanted.contains(&id_of(c)) {
                found.push((issue, c));
            }
        }
    }
    found.sort_by_key(|(_, c)| id_of(c));
    found
}

fn id_list(body: &Value) -> Vec<u64> {
    body.get("ids")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| {
                    v.as_u64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `POST comment/list`: comments by id (up to 1000), paged.
async fn comment_list(
    state: SharedState,
    ctx: Ctx,
    p: Params,
    JsonBody(body): JsonBody,
) -> Response {
    let ids = id_list(&body);
    if ids.is_empty() || ids.len() > 1000 {
        return bad_request("ids must contain between 1 and 1000 comment ids.");
    }
    let (start, max) = match paging(&p, 50, 5000) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let site = state.site.read();
    let view = ctx.view(&site);
    let found = find_children(&site, &ctx, &ids, |i| &i.comments, |c| c.id);
    let values: Vec<Value> = found
        .iter()
        .skip(start)
        .take(max)
        .map(|(i, c)| view.comment(i, c))
        .collect();
    ok(page(values, start, max, found.len()))
}

pub async fn worklogs(state: SharedState, ctx: Ctx, Path(id): Path<String>, p: Params) -> Response {
    let (start, max) = match paging(&p, WORKLOG_PAGE, WORKLOG_PAGE) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let site = state.site.read();
    let Some(issue) = visible(&site, &ctx, &id) else {
        return issue_not_found();
    };
    let view = ctx.view(&site);
    let after = p.int("startedAfter", i64::MIN).unwrap_or(i64::MIN);
    let before = p.int("startedBefore", i64::MAX).unwrap_or(i64::MAX);
    let list: Vec<&crate::model::Worklog> = issue
        .worklogs
        .iter()
        .filter(|w| w.started >= after && w.started < before)
        .collect();
    let values: Vec<Value> = list
        .iter()
        .skip(start)
        .take(max)
        .map(|w| view.worklog(issue, w))
        .collect();
    ok(counted_page(values, start, max, list.len(), "worklogs"))
}

pub async fn worklog_get(
    state: SharedState,
    ctx: Ctx,
    Path((id, wid)): Path<(String, String)>,
) -> Response {
    let site = state.site.read();
    let Some(issue) = visible(&site, &ctx, &id) else {
        return issue_not_found();
    };
    match issue.worklogs.iter().find(|w| w.id.to_string() == wid) {
        Some(w) => ok(ctx.view(&site).worklog(issue, w)),
        None => jira_error(
            StatusCode::NOT_FOUND,
            &["Cannot find worklog with id: ", &wid],
            &[],
        ),
    }
}

/// Pages of the `worklog/updated` and `worklog/deleted` feeds hold up to 1000 entries.
const WORKLOG_FEED_PAGE: usize = 1000;

/// A page of a worklog feed: entries after `since`, oldest first, leaving out the last minute (as
/// Jira does: writes of that minute may still be in flight). A page never splits entries of one
/// millisecond, so following `nextPage` (`since` = this page's `until`) loses nothing.
fn worklog_feed(
    ctx: &Ctx,
    kind: &str,
    since: i64,
    horizon: i64,
    mut entries: Vec<(i64, u64)>,
) -> Response {
    entries.retain(|(t, _)| *t > since && *t <= horizon);
    entries.sort_unstable();
    let mut end = entries.len().min(WORKLOG_FEED_PAGE);
    if end < entries.len() {
        let cut = entries[end - 1].0;
        let whole = entries[..end].iter().position(|(t, _)| *t == cut);
        end = match whole {
            Some(0) => entries.iter().take_while(|(t, _)| *t == cut).count(),
            Some(p) => p,
            None => end,
        };
    }
    let last_page = end == entries.len();
    let page = &entries[..end];
    let until = page.last().map(|(t, _)| *t).unwrap_or(since);
    let api = if ctx.v3 { 3 } else { 2 };
    let mut out = json!({
        "values": page.iter().map(|(t, id)| json!({"worklogId": id, "updatedTime": t, "properties": []})).collect::<Vec<_>>(),
        "since": since,
        "until": until,
        "self": format!("{}/rest/api/{api}/worklog/{kind}?since={since}", ctx.base),
        "lastPage": last_page,
    });
    if !last_page {
        out["nextPage"] = json!(format!(
            "{}/rest/api/{api}/worklog/{kind}?since={until}",
            ctx.base
        ));
    }
    ok(out)
}

/// The worklog index of the site as it is now, built on the first use after a worklog changed
/// (a feed page or a list is then a binary search, not a walk of every issue).
fn worklog_index(state: &Shared, site: &Site) -> Arc<WorklogIndex> {
    let stamp = (site.next_worklog_id, site.deleted_worklogs.len());
    let mut cached = state.worklog_index.lock();
    if let Some(ix) = cached.as_ref().filter(|ix| ix.stamp == stamp) {
        return ix.clone();
    }
    let mut by_time = Vec::new();
    for (n, issue) in site.issues.iter().enumerate() {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        by_time.extend(issue.worklogs.iter().map(|w| (w.updated, w.id, n)));
    }
    by_time.sort_unstable();
    let mut by_id: Vec<(u64, u32)> = by_time.iter().map(|&(_, id, n)| (id, n)).collect();
    by_id.sort_unstable();
    let ix = Arc::new(WorklogIndex {
        stamp,
        by_time,
        by_id,
    });
    *cached = Some(ix.clone());
    ix
}

/// The live issue at `n` in `Site::issues`, if the caller may see it.
fn visible_at<'a>(site: &'a Site, ctx: &Ctx, n: u32) -> Option<&'a Issue> {
    let issue = site.issues.get(n as usize)?;
    (issue.deleted.is_none() && site.can_browse(ctx.user(), issue.project)).then_some(issue)
}

async fn worklog_updated(state: SharedState, ctx: Ctx, p: Params) -> Response {
    let since = match p.int("since", 0) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let site = state.site.read();
    let horizon = site.now() - state.cfg.worklog_feed_lag_ms;
    let ix = worklog_index(&state, &site);
    // A page's worth, every further entry of its last millisecond, and one more (so the feed
    // knows a page follows).
    let mut entries: Vec<(i64, u64)> = Vec::with_capacity(WORKLOG_FEED_PAGE + 1);
    let start = ix.by_time.partition_point(|(t, _, _)| *t <= since);
    for &(t, id, n) in &ix.by_time[start..] {
        if t > horizon {
            break;
        }
        if visible_at(&site, &ctx, n).is_none() {
            continue;
        }
        let full = entries.len() >= WORKLOG_FEED_PAGE;
        entries.push((t, id));
        if full && t != entries[WORKLOG_FEED_PAGE - 1].0 {
            break;
        }
    }
    worklog_feed(&ctx, "updated", since, horizon, entries)
}

async fn worklog_deleted(state: SharedState, ctx: Ctx, p: Params) -> Response {
    let since = match p.int("since", 0) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let site = state.site.read();
    let horizon = site.now() - state.cfg.worklog_feed_lag_ms;
    let entries: Vec<(i64, u64)> = site.deleted_worklogs.iter().map(|t| (t.at, t.id)).collect();
    worklog_feed(&ctx, "deleted", since, horizon, entries)
}

/// `POST worklog/list`: worklogs by id, at most 1000.
async fn worklog_list(state: SharedState, ctx: Ctx, JsonBody(body): JsonBody) -> Response {
    let ids = id_list(&body);
    if ids.is_empty() || ids.len() > 1000 {
        return bad_request("ids must contain between 1 and 1000 worklog ids.");
    }
    let site = state.site.read();
    let view = ctx.view(&site);
    let ix = worklog_index(&state, &site);
    let mut found: Vec<_> = ids
        .iter()
        .filter_map(|&id| {
            let k = ix.by_id.binary_search_by_key(&id, |(w, _)| *w).ok()?;
            let issue = visible_at(&site, &ctx, ix.by_id[k].1)?;
            Some((issue, issue.worklogs.iter().find(|w| w.id == id)?))
        })
        .collect();
    found.sort_by_key(|(_, w)| w.id);
    found.dedup_by_key(|(_, w)| w.id);
    ok(Value::Array(
        found.iter().map(|(i, w)| view.worklog(i, w)).collect(),
    ))
}

async fn properties(state: SharedState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let site = state.site.read();
    let Some(issue) = visible(&site, &ctx, &id) else {
        return issue_not_found();
    };
    let api = if ctx.v3 { 3 } else { 2 };
    let keys: Vec<Value> = issue
        .properties
        .keys()
        .map(|k| json!({"key": k, "self": format!("{}/rest/api/{api}/issue/{}/properties/{k}", ctx.base, issue.id)}))
        .collect();
    ok(json!({ "keys": keys }))
}

pub async fn property_get(
    state: SharedState,
    ctx: Ctx,
    Path((id, key)): Path<(String, String)>,
) -> Response {
    let site = state.site.read();
    let Some(issue) = visible(&site, &ctx, &id) else {
        return issue_not_found();
    };
    match issue.properties.get(&key) {
        Some(v) => ok(json!({"key": key, "value": v})),
        None => jira_error(
            StatusCode::NOT_FOUND,
            &[&format!("The property with key '{key}' does not exist.")],
            &[],
        ),
    }
}

fn remote_link_json(ctx: &Ctx, issue: &Issue, l: &crate::model::RemoteLink) -> Value {
    let api = if ctx.v3 { 3 } else { 2 };
    let mut v = json!({
        "id": l.id,
        "self": format!("{}/rest/api/{api}/issue/{}/remotelink/{}", ctx.base, issue.id, l.id),
        "object": {"url": l.url, "title": l.title},
    });
    if let Some(g) = &l.global_id {
        v["globalId"] = json!(g);
    }
    v
}

pub async fn remote_links(state: SharedState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let site = state.site.read();
    let Some(issue) = visible(&site, &ctx, &id) else {
        return issue_not_found();
    };
    ok(Value::Array(
        issue
            .remote_links
            .iter()
            .map(|l| remote_link_json(&ctx, issue, l))
            .collect(),
    ))
}

pub fn remote_link_not_found(link: &str) -> Response {
    jira_error(
        StatusCode::NOT_FOUND,
        &[&format!(
            "No remote issue link with id '{link}' exists on this issue."
        )],
        &[],
    )
}

/// `GET issue/{id}/remotelink/{linkId}`.
pub async fn remote_link_get(
    state: SharedState,
    ctx: Ctx,
    Path((id, link)): Path<(String, String)>,
) -> Response {
    let site = state.site.read();
    let Some(issue) = visible(&site, &ctx, &id) else {
        return issue_not_found();
    };
    let Ok(link_id) = link.parse::<u64>() else {
        return bad_request(&format!("Invalid remote issue link id '{link}'."));
    };
    match issue.remote_links.iter().find(|l| l.id == link_id) {
        Some(l) => ok(remote_link_json(&ctx, issue, l)),
        None => remote_link_not_found(&link),
    }
}

async fn issue_link_get(state: SharedState, ctx: Ctx, Path(id): Path<u64>) -> Response {
    let site = state.site.read();
    for issue in site
        .issues
        .iter()
        .filter(|i| i.deleted.is_none() && site.can_browse(ctx.user(), i.project))
    {
        if let Some(l) = issue.links.iter().find(|l| l.id == id && l.outward) {
            let view = ctx.view(&site);
            let t = &site.link_types[l.link_type as usize];
            return ok(json!({
                "id": l.id.to_string(),
                "type": view.link_type(t),
                "inwardIssue": view.issue_ref(issue.id),
                "outwardIssue": view.issue_ref(l.other),
            }));
        }
    }
    jira_error(
        StatusCode::NOT_FOUND,
        &[&format!("No issue link with id '{id}' exists.")],
        &[],
    )
}

/// The transitions available from the issue's status, as its workflow defines them.
pub fn available_transitions<'s>(site: &'s Site, issue: &Issue) -> Vec<&'s WorkflowTransition> {
    site.workflow_of(issue)
        .transitions_from(issue.status)
        .collect()
}

/// `GET issue/{id}/transitions`: the transitions from the issue's status; with
/// `expand=transitions.fields` each one's screen fields (`required`, `schema`, `allowedValues`);
/// `transitionId` keeps only that one.
pub async fn transitions(
    state: SharedState,
    ctx: Ctx,
    Path(id): Path<String>,
    p: Params,
) -> Response {
    let site = state.site.read();
    let Some(issue) = visible(&site, &ctx, &id) else {
        return issue_not_found();
    };
    let with_fields = p
        .all("expand")
        .iter()
        .flat_map(|e| {
            e.split(',')
                .map(str::trim)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .any(|e| e == "transitions.fields");
    let only = p.get("transitionId");
    let view = ctx.view(&site);
    let list: Vec<Value> = available_transitions(&site, issue)
        .into_iter()
        .filter(|t| only.is_none_or(|o| o == t.id.to_string()))
        .map(|t| {
            let mut v = json!({
                "id": t.id.to_string(),
                "name": t.name,
                "to": view.status(t.to),
                "hasScreen": !t.screen.is_empty(), "isGlobal": false, "isInitial": false,
                "isAvailable": true, "isConditional": false, "isLooped": false,
            });
            if with_fields {
                let fields: serde_json::Map<String, Value> = t
                    .screen
                    .iter()
                    .map(|f| {
                        (
                            f.field.to_owned(),
                            super::meta::screen_field(&site, &ctx, *f),
                        )
                    })
                    .collect();
                v["fields"] = Value::Object(fields);
            }
            v
        })
        .collect();
    ok(json!({ "expand": "transitions", "transitions": list }))
}
