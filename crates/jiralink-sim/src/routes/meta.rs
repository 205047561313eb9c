//! Write metadata and child entity properties: the paged create metadata
//! (`issue/createmeta/{project}/issuetypes[/{issueTypeId}]`, Cloud's `issueTypes`/`fields` pages and
//! Data Center's `values` pages), `issue/{id}/editmeta`, and the entity properties of comments
//! (`comment/{id}/properties/{key}`) and worklogs (`issue/{id}/worklog/{wid}/properties/{key}`).

use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::{
    bad_request, issue_not_found, ok, project_not_found, visible, JsonBody, Params, SharedState,
};
use crate::model::{custom_field, Deployment, Permission, ProjectType, Site};
use crate::server::{jira_error, Ctx, Shared};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/issue/createmeta/{project}/issuetypes",
            get(create_meta_issue_types),
        )
        .route(
            "/issue/createmeta/{project}/issuetypes/{type_id}",
            get(create_meta_fields),
        )
        .route("/issue/{id}/editmeta", get(edit_meta))
        .route("/comment/{cid}/properties", get(comment_property_keys))
        .route(
            "/comment/{cid}/properties/{key}",
            get(comment_property_get)
                .put(comment_property_set)
                .delete(comment_property_delete),
        )
        .route(
            "/issue/{id}/worklog/{wid}/properties",
            get(worklog_property_keys),
        )
        .route(
            "/issue/{id}/worklog/{wid}/properties/{key}",
            get(worklog_property_get)
                .put(worklog_property_set)
                .delete(worklog_property_delete),
        )
}

/// A page as each deployment shapes it: Cloud names the list (`issueTypes`, `fields`), Data Center
/// calls every list `values` and adds `isLast`.
fn meta_page(site: &Site, all: Vec<Value>, p: &Params, cloud_key: &str) -> Result<Value, Response> {
    let start = p.int("startAt", 0)?.max(0) as usize;
    let max = p.int("maxResults", 50)?.clamp(1, 200) as usize;
    let total = all.len();
    let values: Vec<Value> = all.into_iter().skip(start).take(max).collect();
    let mut v = json!({"startAt": start, "maxResults": max, "total": total});
    if site.deployment == Deployment::Cloud {
        v[cloud_key] = Value::Array(values);
    } else {
        v["isLast"] = json!(start + values.len() >= total);
        v["values"] = Value::Array(values);
    }
    Ok(v)
}

/// The project the caller may create issues in, or Jira's 404 (a project one cannot create in
/// looks, to createmeta, like one that does not exist).
fn creatable(site: &Site, ctx: &Ctx, project: &str) -> Result<crate::model::ProjectIx, Response> {
    match site.project_by_key_or_id(project) {
        Some(p)
            if site.can_browse(ctx.user(), p)
                && site
                    .project_permissions(ctx.user(), p)
                    .has(Permission::CreateIssues) =>
        {
            Ok(p)
        }
        _ => Err(project_not_found(project)),
    }
}

async fn create_meta_issue_types(
    state: SharedState,
    ctx: Ctx,
    Path(project): Path<String>,
    p: Params,
) -> Response {
    let site = state.site.read();
    let pix = match creatable(&site, &ctx, &project) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let v = ctx.view(&site);
    let types = site.projects[pix as usize]
        .issue_types
        .iter()
        .map(|t| v.issue_type(*t))
        .collect();
    match meta_page(&site, types, &p, "issueTypes") {
        Ok(page) => ok(page),
        Err(r) => r,
    }
}

/// One field's metadata. `create` adds `fieldId` (FieldCreateMetadata); editmeta has none.
fn field_meta(
    id: &str,
    required: bool,
    has_default: bool,
    operations: &[&str],
    allowed: Option<Vec<Value>>,
    create: bool,
) -> Value {
    let (name, ty, custom) = crate::render::FIELDS
        .iter()
        .find(|(fid, ..)| *fid == id)
        .map(|(_, n, t, c)| (*n, *t, *c))
        .unwrap_or((id, "string", None));
    let mut schema = json!({"type": ty});
    if ty == "array" {
        schema["items"] = json!(if id == custom_field::SPRINT {
            "json"
        } else {
            "string"
        });
    }
    match custom {
        Some(c) => {
            schema["custom"] = json!(c);
            schema["customId"] = json!(id
                .trim_start_matches("customfield_")
                .parse::<i64>()
                .unwrap_or(0));
        }
        None => schema["system"] = json!(id),
    }
    let mut v = json!({
        "required": required, "schema": schema, "name": name, "key": id,
        "hasDefaultValue": has_default, "operations": operations,
    });
    if create {
        v["fieldId"] = json!(id);
    }
    if let Some(a) = allowed {
        v["allowedValues"] = Value::Array(a);
    }
    v
}

/// The fields of a create screen (`create`) or of an issue's edit screen, in screen order.
fn screen_fields(
    site: &Site,
    ctx: &Ctx,
    project: crate::model::ProjectIx,
    issue_type: u16,
    create: bool,
) -> Vec<Value> {
    let v = ctx.view(site);
    let proj = &site.projects[project as usize];
    let subtask = site.issue_types[issue_type as usize].subtask;
    let mut out = Vec::new();
    if create {
        out.push(field_meta(
            "project",
            true,
            false,
            &["set"],
            Some(vec![
                json!({"id": proj.id.to_string(), "key": proj.key, "name": proj.name}),
            ]),
            true,
        ));
        out.push(field_meta(
            "issuetype",
            true,
            false,
            &[],
            Some(vec![v.issue_type(issue_type)]),
            true,
        ));
    }
    out.push(field_meta("summary", true, false, &["set"], None, create));
    out.push(field_meta(
        "description",
        false,
        false,
        &["set"],
        None,
        create,
    ));
    out.push(field_meta(
        "priority",
        false,
        true,
        &["set"],
        Some(
            (0..site.priorities.len() as u8)
                .map(|p| v.priority(p))
                .collect(),
        ),
        create,
    ));
    out.push(field_meta("assignee", false, false, &["set"], None, create));
    out.push(field_meta(
        "labels",
        false,
        false,
        &["add", "set", "remove"],
        None,
        create,
    ));
    if create && subtask {
        out.push(field_meta("parent", true, false, &["set"], None, true));
    }
    if proj.project_type == ProjectType::Software {
        out.push(field_meta(
            custom_field::STORY_POINTS,
            false,
            false,
            &["set"],
            None,
            create,
        ));
        out.push(field_meta(
            custom_field::SPRINT,
            false,
            false,
            &["set"],
            None,
            create,
        ));
    }
    out
}

/// One field of a transition screen as `transitions?expand=transitions.fields` shows it (Jira's
/// FieldMetadata, as editmeta's): the resolutions to choose from, the user field without a list.
pub fn screen_field(site: &Site, ctx: &Ctx, f: crate::model::ScreenField) -> Value {
    let v = ctx.view(site);
    let allowed = match f.field {
        "resolution" => Some(
            (0..site.resolutions.len() as u8)
                .map(|r| v.resolution(r))
                .collect(),
        ),
        _ => None,
    };
    field_meta(f.field, f.required, false, &["set"], allowed, false)
}

async fn create_meta_fields(
    state: SharedState,
    ctx: Ctx,
    Path((project, type_id)): Path<(String, String)>,
    p: Params,
) -> Response {
    let site = state.site.read();
    let pix = match creatable(&site, &ctx, &project) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let issue_type = site.projects[pix as usize]
        .issue_types
        .iter()
        .copied()
        .find(|t| site.issue_types[*t as usize].id.to_string() == type_id);
    let Some(issue_type) = issue_type else {
        return jira_error(
            StatusCode::NOT_FOUND,
            &[&format!(
                "Issue type with id '{type_id}' does not exist or is not valid for project '{project}'."
            )],
            &[],
        );
    };
    let fields = screen_fields(&site, &ctx, pix, issue_type, true);
    match meta_page(&site, fields, &p, "fields") {
        Ok(page) => ok(page),
        Err(r) => r,
    }
}

/// `issue/{id}/editmeta`: the fields the caller may edit; without the edit permission, none.
async fn edit_meta(state: SharedState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let site = state.site.read();
    let Some(issue) = visible(&site, &ctx, &id) else {
        return issue_not_found();
    };
    let mut fields = serde_json::Map::new();
    if site
        .project_permissions(ctx.user(), issue.project)
        .has(Permission::EditIssues)
    {
        for f in screen_fields(&site, &ctx, issue.project, issue.issue_type, false) {
            if let Some(key) = f["key"].as_str() {
                fields.insert(key.to_owned(), f.clone());
            }
        }
    }
    ok(json!({ "fields": fields }))
}

/// Which child entity a property belongs to.
#[derive(Clone, Copy)]
enum Child {
    Comment(u64),
    Worklog(u64),
}

/// Finds the child and checks the caller may see it (and, to write, may act on its issue). Jira
/// answers a child one cannot see as absent.
fn child_issue(
    site: &Site,
    ctx: &Ctx,
    issue: Option<&str>,
    child: Child,
    write: bool,
) -> Result<crate::model::IssueId, Response> {
    let not_found = || match child {
        Child::Comment(cid) => jira_error(
            StatusCode::NOT_FOUND,
            &[&format!("Can not find a comment for the id: {cid}.")],
            &[],
        ),
        Child::Worklog(wid) => jira_error(
            StatusCode::NOT_FOUND,
            &[&format!("Cannot find worklog with id: {wid}.")],
            &[],
        ),
    };
    let found = match (child, issue) {
        (Child::Worklog(wid), Some(id)) => {
            let Some(i) = visible(site, ctx, id) else {
                return Err(issue_not_found());
            };
            i.worklogs.iter().any(|w| w.id == wid).then_some(i)
        }
        (Child::Comment(cid), _) => site
            .issues
            .iter()
            .find(|i| i.deleted.is_none() && i.comments.iter().any(|c| c.id == cid))
            .filter(|i| site.can_browse(ctx.user(), i.project)),
        (Child::Worklog(_), None) => None,
    };
    let Some(i) = found else {
        return Err(not_found());
    };
    if write {
        let need = match child {
            Child::Comment(_) => Permission::AddComments,
            Child::Worklog(_) => Permission::WorkOnIssues,
        };
        if !site.project_permissions(ctx.user(), i.project).has(need) {
            return Err(super::forbidden(
                "You do not have permission to edit the properties of this entity.",
            ));
        }
    }
    Ok(i.id)
}

fn properties_of(site: &Site, child: Child) -> Option<&std::collections::BTreeMap<String, Value>> {
    match child {
        Child::Comment(c) => site.child_properties.comments.get(&c),
        Child::Worklog(w) => site.child_properties.worklogs.get(&w),
    }
}

fn keys(state: &Shared, ctx: &Ctx, issue: Option<&str>, child: Child, base: &str) -> Response {
    let site = state.site.read();
    if let Err(r) = child_issue(&site, ctx, issue, child, false) {
        return r;
    }
    let keys: Vec<Value> = properties_of(&site, child)
        .into_iter()
        .flat_map(|m| m.keys())
        .map(|k| json!({"key": k, "self": format!("{base}/{k}")}))
        .collect();
    ok(json!({ "keys": keys }))
}

fn get_one(state: &Shared, ctx: &Ctx, issue: Option<&str>, child: Child, key: &str) -> Response {
    let site = state.site.read();
    if let Err(r) = child_issue(&site, ctx, issue, child, false) {
        return r;
    }
    match properties_of(&site, child).and_then(|m| m.get(key)) {
        Some(v) => ok(json!({"key": key, "value": v})),
        None => jira_error(
            StatusCode::NOT_FOUND,
            &[&format!("The property with key '{key}' does not exist.")],
            &[],
        ),
    }
}

fn delete_one(
    state: &Shared,
    ctx: &Ctx,
    issue: Option<&str>,
    child: Child,
    key: String,
) -> Response {
    let mut site = state.site.write();
    if let Err(r) = child_issue(&site, ctx, issue, child, true) {
        return r;
    }
    let existed = match child {
        Child::Comment(c) => site.delete_comment_property(c, &key),
        Child::Worklog(w) => site.delete_worklog_property(w, &key),
    };
    drop(site);
    state.touch();
    if existed {
        StatusCode::NO_CONTENT.into_response()
    } else {
        jira_error(
            StatusCode::NOT_FOUND,
            &[&format!("The property with key '{key}' does not exist.")],
            &[],
        )
    }
}

async fn comment_property_keys(state: SharedState, ctx: Ctx, Path(cid): Path<u64>) -> Response {
    let base = format!(
        "{}/rest/api/{}/comment/{cid}/properties",
        ctx.base,
        if ctx.v3 { 3 } else { 2 }
    );
    keys(&state, &ctx, None, Child::Comment(cid), &base)
}

async fn comment_property_get(
    state: SharedState,
    ctx: Ctx,
    Path((cid, key)): Path<(u64, String)>,
) -> Response {
    get_one(&state, &ctx, None, Child::Comment(cid), &key)
}

async fn comment_property_set(
    state: SharedState,
    ctx: Ctx,
    Path((cid, key)): Path<(u64, String)>,
    JsonBody(body): JsonBody,
) -> Response {
    set_answer(&state, &ctx, None, Child::Comment(cid), key, body)
}

async fn comment_property_delete(
    state: SharedState,
    ctx: Ctx,
    Path((cid, key)): Path<(u64, String)>,
) -> Response {
    delete_one(&state, &ctx, None, Child::Comment(cid), key)
}

async fn worklog_property_keys(
    state: SharedState,
    ctx: Ctx,
    Path((id, wid)): Path<(String, u64)>,
) -> Response {
    let base = format!(
        "{}/rest/api/{}/issue/{id}/worklog/{wid}/properties",
        ctx.base,
        if ctx.v3 { 3 } else { 2 }
    );
    keys(&state, &ctx, Some(&id), Child::Worklog(wid), &base)
}

async fn worklog_property_get(
    state: SharedState,
    ctx: Ctx,
    Path((id, wid, key)): Path<(String, u64, String)>,
) -> Response {
    get_one(&state, &ctx, Some(&id), Child::Worklog(wid), &key)
}

async fn worklog_property_set(
    state: SharedState,
    ctx: Ctx,
    Path((id, wid, key)): Path<(String, u64, String)>,
    JsonBody(body): JsonBody,
) -> Response {
    set_answer(&state, &ctx, Some(&id), Child::Worklog(wid), key, body)
}

async fn worklog_property_delete(
    state: SharedState,
    ctx: Ctx,
    Path((id, wid, key)): Path<(String, u64, String)>,
) -> Response {
    delete_one(&state, &ctx, Some(&id), Child::Worklog(wid), key)
}

/// PUT of a property: 201 when it is new, 200 when it replaced one (as Jira answers).
fn set_answer(
    state: &Shared,
    ctx: &Ctx,
    issue: Option<&str>,
    child: Child,
    key: String,
    value: Value,
) -> Response {
    if key.is_empty() || key.len() > 255 {
        return bad_request("The property key must be between 1 and 255 characters.");
    }
    let mut site = state.site.write();
    if let Err(r) = child_issue(&site, ctx, issue, child, true) {
        return r;
    }
    let existed = match child {
        Child::Comment(c) => site.set_comment_property(c, key, value),
        Child::Worklog(w) => site.set_worklog_property(w, key, value),
    };
    drop(site);
    property_saved(state, existed)
}

/// The answer to a property write, after `touch`: 200 when it replaced one, 201 when it is new.
pub fn property_saved(state: &Shared, existed: bool) -> Response {
    state.touch();
    if existed {
        StatusCode::OK.into_response()
    } else {
        StatusCode::CREATED.into_response()
    }
}

/// Entity properties given inline on create (`"properties": [{"key": .., "value": ..}]`, as
/// Jira's IssueUpdateDetails, Comment and Worklog take them); Jira's message for a malformed one.
pub fn inline_properties(body: &Value) -> Result<Vec<(String, Value)>, String> {
    let Some(list) = body.get("properties") else {
        return Ok(Vec::new());
    };
    let Some(list) = list.as_array() else {
        return Err("The properties must be a list of {key, value} objects.".into());
    };
    list.iter()
        .map(
            |p| match (p.get("key").and_then(Value::as_str), p.get("value")) {
                (Some(k), Some(v)) if !k.is_empty() && k.len() <= 255 => {
                    Ok((k.to_owned(), v.clone()))
                }
                _ => Err(
                    "The property key must be between 1 and 255 characters, with a value.".into(),
                ),
            },
        )
        .collect()
}
