//! Writing issues: create (single and bulk), edit, delete, transitions, comments, worklogs, issue
//! properties, remote links and issue links, with Jira's validation errors and permission checks.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde_json::{json, Map, Value};

use super::issues;
use super::{bad_request, forbidden, issue_not_found, ok, visible, JsonBody, Params, SharedState};
use crate::model::{IssueId, Permission, ProjectIx, Site, UserIx};
use crate::ops::{NewIssue, NewWorklog, TextField};
use crate::render::plain_text;
use crate::server::{jira_error, Ctx, Shared};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/issue", post(create))
        .route("/issue/bulk", post(create_bulk))
        .route(
            "/issue/{id}",
            get(issues::issue_get).put(edit).delete(delete),
        )
        .route(
            "/issue/{id}/comment",
            get(issues::comments).post(add_comment),
        )
        .route(
            "/issue/{id}/comment/{cid}",
            get(issues::comment_get)
                .put(edit_comment)
                .delete(delete_comment),
        )
        .route(
            "/issue/{id}/worklog",
            get(issues::worklogs).post(add_worklog),
        )
        .route(
            "/issue/{id}/worklog/{wid}",
            get(issues::worklog_get).delete(delete_worklog),
        )
        .route(
            "/issue/{id}/transitions",
            get(issues::transitions).post(transition),
        )
        .route(
            "/issue/{id}/properties/{key}",
            get(issues::property_get)
                .put(set_property)
                .delete(delete_property),
        )
        .route(
            "/issue/{id}/remotelink",
            get(issues::remote_links).post(add_remote_link),
        )
        .route(
            "/issue/{id}/remotelink/{link}",
            get(issues::remote_link_get)
                .put(update_remote_link)
                .delete(delete_remote_link),
        )
        .route("/issue/{id}/assignee", put(assign))
        .route("/issueLink", post(link))
}

/// A field-level validation failure: Jira's `errors` map.
type FieldErrors = Vec<(String, String)>;

fn field_errors(status: StatusCode, errors: &FieldErrors) -> Response {
    let pairs: Vec<(&str, &str)> = errors
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    jira_error(status, &[], &pairs)
}

fn created(v: Value) -> Response {
    (StatusCode::CREATED, axum::Json(v)).into_response()
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Checks a project permission; browse is checked first so that hidden things stay hidden.
fn require(site: &Site, ctx: &Ctx, project: ProjectIx, p: Permission) -> Result<(), Response> {
    let perms = site.project_permissions(ctx.user(), project);
    if !perms.has(Permission::BrowseProjects) {
        return Err(issue_not_found());
    }
    if !perms.has(p) {
        let what = match p {
            Permission::CreateIssues => "create issues in this project",
            Permission::EditIssues => "edit this issue",
            Permission::DeleteIssues => "delete this issue",
            Permission::TransitionIssues => "transition this issue",
            Permission::AddComments => "comment on this issue",
            Permission::WorkOnIssues => "log work on this issue",
            Permission::LinkIssues => "link issues",
            Permission::AssignIssues => "assign issues",
            _ => "do this",
        };
        return Err(forbidden(&format!("You do not have permission to {what}.")));
    }
    Ok(())
}

/// Cloud's answer when REST v3 gets anything but an ADF document for a rich-text field.
pub const NOT_ADF: &str =
    "Operation value must be an Atlassian Document (see the Atlassian Document Format)";
/// Cloud's answer when REST v3 gets a comment body that is not an ADF document.
const COMMENT_NOT_ADF: &str = "Comment body is not valid!";

/// An Atlassian Document: `{"type": "doc", "version": 1, "content": [...]}`.
fn is_adf_doc(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("doc")
        && v.get("version").and_then(Value::as_u64) == Some(1)
        && v.get("content").is_some_and(Value::is_array)
}

/// The text of a rich-text field value as the API version takes it: REST v3 (Cloud) takes ADF
/// documents only, v2 takes wiki text strings (as Cloud and Data Center do); `null` clears.
/// The error is Jira's message for the field.
fn rich_text(ctx: &Ctx, v: &Value) -> Result<Option<String>, &'static str> {
    match v {
        Value::Null => Ok(None),
        v if ctx.v3 && !is_adf_doc(v) => Err(NOT_ADF),
        Value::String(s) => Ok(Some(s.clone())),
        v if ctx.v3 => Ok(Some(plain_text(v))),
        _ => Err("Operation value must be a string"),
    }
}

/// A comment body (comment endpoints and a transition's `update.comment`), as [`rich_text`].
fn comment_text(ctx: &Ctx, v: Option<&Value>) -> Result<String, FieldErrors> {
    let empty = || vec![("comment".into(), "Comment body can not be empty!".into())];
    match v.map(|v| rich_text(ctx, v)) {
        None | Some(Ok(None)) => Err(empty()),
        Some(Ok(Some(t))) if t.trim().is_empty() => Err(empty()),
        Some(Ok(Some(t))) => Ok(t),
        Some(Err(_)) if ctx.v3 => Err(vec![("comment".into(), COMMENT_NOT_ADF.into())]),
        Some(Err(e)) => Err(vec![("comment".into(), e.into())]),
    }
}

/// `{"key": "X"}`, `{"id": "10000"}`, or a bare string, resolved with `find`.
fn reference<T>(v: &Value, find: impl Fn(&str) -> Option<T>) -> Option<T> {
    match v {
        Value::String(s) => find(s),
        Value::Number(n) => find(&n.to_string()),
        Value::Object(o) => ["key", "id", "accountId", "name"]
            .iter()
            .filter_map(|k| o.get(*k))
            .find_map(|x| match x {
                Value::String(s) => find(s),
                Value::Number(n) => find(&n.to_string()),
                _ => None,
            }),
        _ => None,
    }
}

fn issue_type_named(site: &Site, project: ProjectIx, v: &Value) -> Option<u16> {
    let allowed = &site.projects[project as usize].issue_types;
    reference(v, |s| {
        site.issue_types
            .iter()
            .position(|t| t.id.to_string() == s || t.name.eq_ignore_ascii_case(s))
            .map(|t| t as u16)
            .filter(|t| allowed.contains(t))
    })
}

fn user_ref(site: &Site, v: &Value) -> Result<Option<UserIx>, ()> {
    if v.is_null() {
        return Ok(None);
    }
    reference(v, |s| site.user_by_account(s))
        .map(Some)
        .ok_or(())
}

/// Validates a create request's `fields` into a new issue; every problem is named, like Jira.
fn new_issue(
    site: &Site,
    ctx: &Ctx,
    fields: &Map<String, Value>,
) -> Result<(NewIssue, Option<u32>), (StatusCode, FieldErrors)> {
    let mut errors = FieldErrors::new();
    let project = fields
        .get("project")
        .and_then(|p| reference(p, |s| site.project_by_key_or_id(s)));
    let project = match project {
        Some(p) if site.can_browse(ctx.user(), p) => Some(p),
        _ => {
            errors.push(("project".into(), "Specify a valid project ID or key".into()));
            None
        }
    };
    if let Some(p) = project {
        if !site
            .project_permissions(ctx.user(), p)
            .has(Permission::CreateIssues)
        {
            return Err((
                StatusCode::FORBIDDEN,
                vec![(
                    "project".into(),
                    "You do not have permission to create issues in this project.".into(),
                )],
            ));
        }
    }
    let issue_type = match (project, fields.get("issuetype")) {
        (Some(p), Some(t)) => issue_type_named(site, p, t),
        _ => None,
    };
    if project.is_some() && issue_type.is_none() {
        errors.push(("issuetype".into(), "Specify an issue type".into()));
    }
    let summary = fields
        .get("summary")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("");
    if summary.is_empty() {
        errors.push((
            "summary".into(),
            "You must specify a summary of the issue.".into(),
        ));
    } else if summary.chars().count() > 255 {
        errors.push((
            "summary".into(),
            "Summary must be less than 255 characters.".into(),
        ));
    }
    let assignee = match fields.get("assignee").map(|a| user_ref(site, a)) {
        None => None,
        Some(Ok(u)) => u,
        Some(Err(())) => {
            errors.push((
                "assignee".into(),
                "User does not exist or you do not have permission to see it.".into(),
            ));
            None
        }
    };
    let priority = match fields.get("priority") {
        None => 2,
        Some(p) => match reference(p, |s| {
            site.priorities
                .iter()
                .position(|x| x.id.to_string() == s || x.name.eq_ignore_ascii_case(s))
        }) {
            Some(ix) => ix as u8,
            None => {
                errors.push(("priority".into(), "Specify a valid priority.".into()));
                2
            }
        },
    };
    let parent = match fields.get("parent") {
        None => None,
        Some(p) => match reference(p, |s| visible(site, ctx, s).map(|i| i.id)) {
            Some(id) => Some(id),
            None => {
                errors.push(("parent".into(), "Could not find issue by id or key.".into()));
                None
            }
        },
    };
    if let Some(t) = issue_type {
        if site.issue_types[t as usize].subtask && parent.is_none() {
            errors.push((
                "parent".into(),
                "Sub-tasks must have a parent issue.".into(),
            ));
        }
    }
    let story_points = fields
        .get(crate::model::custom_field::STORY_POINTS)
        .and_then(Value::as_f64)
        .map(|f| f as f32);
    let sprint = match fields.get(crate::model::custom_field::SPRINT) {
        None | Some(Value::Null) => None,
        Some(v) => match v
            .as_u64()
            .and_then(|id| site.sprints.iter().find(|s| u64::from(s.id) == id))
        {
            Some(s) => Some(s.id),
            None => {
                errors.push((
                    crate::model::custom_field::SPRINT.into(),
                    "Sprint with the given id does not exist.".into(),
                ));
                None
            }
        },
    };
    let labels = fields
        .get("labels")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let description = match fields.get("description").map(|d| rich_text(ctx, d)) {
        None => None,
        Some(Ok(d)) => d,
        Some(Err(e)) => {
            errors.push(("description".into(), e.into()));
            None
        }
    };
    if ctx.v3 {
        // Rich-text fields the simulator does not store are still refused when not ADF.
        errors.extend(
            fields
                .iter()
                .filter(|(k, v)| k.as_str() == "environment" && !v.is_null() && !is_adf_doc(v))
                .map(|(k, _)| (k.clone(), NOT_ADF.to_owned())),
        );
    }
    if !errors.is_empty() {
        return Err((StatusCode::BAD_REQUEST, errors));
    }
    let (Some(project), Some(issue_type)) = (project, issue_type) else {
        return Err((
            StatusCode::BAD_REQUEST,
            vec![("project".into(), "Specify a valid project ID or key".into())],
        ));
    };
    Ok((
        NewIssue {
            project,
            issue_type,
            summary: summary.to_owned(),
            description,
            reporter: ctx.user(),
            assignee,
            priority,
            parent,
            labels,
            story_points,
        },
        sprint,
    ))
}

/// Creates one issue from a request body; returns the `CreatedIssue` JSON.
fn create_one(state: &Shared, ctx: &Ctx, body: &Value) -> Result<Value, (StatusCode, FieldErrors)> {
    let Some(fields) = body.get("fields").and_then(Value::as_object) else {
        return Err((
            StatusCode::BAD_REQUEST,
            vec![(
                "fields".into(),
                "The request must have a 'fields' object.".into(),
            )],
        ));
    };
    let properties = super::meta::inline_properties(body)
        .map_err(|e| (StatusCode::BAD_REQUEST, vec![("properties".to_owned(), e)]))?;
    let mut site = state.site.write();
    let (new, sprint) = new_issue(&site, ctx, fields)?;
    let id = site.create_issue(new);
    if let Some(s) = sprint {
        site.set_sprint(id, s, ctx.user());
    }
    for (k, v) in properties {
        site.set_property(id, k, v);
    }
    let key = site
        .issue(id)
        .map(|i| site.issue_key(i))
        .unwrap_or_default();
    drop(site);
    state.touch();
    let api = if ctx.v3 { 3 } else { 2 };
    Ok(
        json!({"id": id.to_string(), "key": key, "self": format!("{}/rest/api/{api}/issue/{id}", ctx.base)}),
    )
}

async fn create(state: SharedState, ctx: Ctx, JsonBody(body): JsonBody) -> Response {
    match create_one(&state, &ctx, &body) {
        Ok(v) => created(v),
        Err((status, errors)) => field_errors(status, &errors),
    }
}

/// `POST issue/bulk`: each element is created or reported; one failure does not stop the rest.
async fn create_bulk(state: SharedState, ctx: Ctx, JsonBody(body): JsonBody) -> Response {
    let Some(updates) = body.get("issueUpdates").and_then(Value::as_array) else {
        return bad_request("The request must have an 'issueUpdates' list.");
    };
    if updates.len() > 50 {
        return bad_request("At most 50 issues can be created in one bulk request.");
    }
    let mut issues = Vec::new();
    let mut errors = Vec::new();
    for (n, u) in updates.iter().enumerate() {
        match create_one(&state, &ctx, u) {
            Ok(v) => issues.push(v),
            Err((status, errs)) => {
                let errs: Map<String, Value> =
                    errs.into_iter().map(|(k, v)| (k, json!(v))).collect();
                errors.push(json!({
                    "status": status.as_u16(),
                    "elementErrors": {"errorMessages": [], "errors": errs},
                    "failedElementNumber": n,
                }));
            }
        }
    }
    let status = if issues.is_empty() && !errors.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::CREATED
    };
    (
        status,
        axum::Json(json!({"issues": issues, "errors": errors})),
    )
        .into_response()
}

/// Resolves the path's issue for a write needing `p`.
fn target(site: &Site, ctx: &Ctx, id: &str, p: Permission) -> Result<IssueId, Response> {
    let issue = site.find_issue(id).ok_or_else(issue_not_found)?;
    require(site, ctx, issue.project, p)?;
    Ok(issue.id)
}

async fn edit(
    state: SharedState,
    ctx: Ctx,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Response {
    let mut site = state.site.write();
    let issue = match target(&site, &ctx, &id, Permission::EditIssues) {
        Ok(i) => i,
        Err(r) => return r,
    };
    // `fields` sets values; `update` applies operations (`set`, `add`, `remove`).
    let mut sets: Vec<(String, Value)> = Vec::new();
    if let Some(fields) = body.get("fields").and_then(Value::as_object) {
        sets.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let mut label_ops: Vec<(bool, String)> = Vec::new();
    if let Some(update) = body.get("update").and_then(Value::as_object) {
        for (field, ops) in update {
            for op in ops.as_array().into_iter().flatten() {
                if let Some(v) = op.get("set") {
                    sets.push((field.clone(), v.clone()));
                } else if field == "labels" {
                    if let Some(l) = op.get("add").and_then(Value::as_str) {
                        label_ops.push((true, l.to_owned()));
                    }
                    if let Some(l) = op.get("remove").and_then(Value::as_str) {
                        label_ops.push((false, l.to_owned()));
                    }
                }
            }
        }
    }
    // Jira validates the whole edit first: one refused field and nothing is changed.
    let mut errors = FieldErrors::new();
    let mut ops: Vec<Edit> = Vec::new();
    for (field, value) in &sets {
        match field.as_str() {
            "summary" => match value.as_str().map(str::trim) {
                Some(s) if !s.is_empty() => ops.push(Edit::Summary(s.to_owned())),
                _ => errors.push(("summary".into(), "You must specify a summary of the issue.".into())),
            },
            "description" => match rich_text(&ctx, value) {
                Ok(text) => ops.push(Edit::Description(text)),
                Err(e) => errors.push(("description".into(), e.into())),
            },
            "assignee" => match user_ref(&site, value) {
                Ok(u) => ops.push(Edit::Assignee(u)),
                Err(()) => errors.push(("assignee".into(), "User does not exist or you do not have permission to see it.".into())),
            },
            "priority" => match reference(value, |s| site.priorities.iter().position(|x| x.id.to_string() == s || x.name.eq_ignore_ascii_case(s))) {
                Some(p) => ops.push(Edit::Priority(p as u8)),
                None => errors.push(("priority".into(), "Specify a valid priority.".into())),
            },
            "labels" => {
                let labels: Vec<String> = value.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
                ops.push(Edit::Labels(labels));
            }
            f if f == crate::model::custom_field::STORY_POINTS => {
                ops.push(Edit::StoryPoints(value.as_f64().map(|v| v as f32)))
            }
            f if f == crate::model::custom_field::SPRINT => match value.as_u64().and_then(|s| site.sprints.iter().find(|x| u64::from(x.id) == s).map(|x| x.id)) {
                Some(s) => ops.push(Edit::Sprint(s)),
                None => errors.push((f.to_owned(), "Sprint with the given id does not exist.".into())),
            },
            other => errors.push((other.to_owned(), format!("Field '{other}' cannot be set. It is not on the appropriate screen, or unknown."))),
        }
    }
    if !errors.is_empty() {
        return field_errors(StatusCode::BAD_REQUEST, &errors);
    }
    let user = ctx.user();
    for op in ops {
        match op {
            Edit::Summary(s) => site.set_text(issue, TextField::Summary, Some(s), user),
            Edit::Description(d) => site.set_text(issue, TextField::Description, d, user),
            Edit::Assignee(u) => site.set_assignee(issue, u, user),
            Edit::Priority(p) => site.set_priority(issue, p, user),
            Edit::Labels(l) => site.set_labels(issue, l, user),
            Edit::StoryPoints(p) => site.set_story_points(issue, p, user),
            Edit::Sprint(s) => site.set_sprint(issue, s, user),
        }
    }
    if let Some(i) = site.issue(issue).filter(|_| !label_ops.is_empty()) {
        let mut labels: Vec<String> = i.labels.iter().map(|l| l.to_string()).collect();
        for (add, l) in label_ops {
            if add && !labels.contains(&l) {
                labels.push(l);
            } else if !add {
                labels.retain(|x| *x != l);
            }
        }
        site.set_labels(issue, labels, ctx.user());
    }
    drop(site);
    state.touch();
    no_content()
}

/// One validated change of an edit, applied only when every field of the edit is valid.
enum Edit {
    Summary(String),
    Description(Option<String>),
    Assignee(Option<UserIx>),
    Priority(u8),
    Labels(Vec<String>),
    StoryPoints(Option<f32>),
    Sprint(u32),
}

async fn delete(state: SharedState, ctx: Ctx, Path(id): Path<String>, p: Params) -> Response {
    let mut site = state.site.write();
    let issue = match target(&site, &ctx, &id, Permission::DeleteIssues) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let subtasks: Vec<IssueId> = site
        .issues
        .iter()
        .filter(|i| {
            i.parent == Some(issue)
                && i.deleted.is_none()
                && site.issue_types[i.issue_type as usize].subtask
        })
        .map(|i| i.id)
        .collect();
    if !subtasks.is_empty() && !p.flag("deleteSubtasks") {
        return bad_request("The issue has subtasks. Set 'deleteSubtasks' to true to delete the issue and its subtasks.");
    }
    for s in subtasks {
        site.delete_issue(s);
    }
    site.delete_issue(issue);
    drop(site);
    state.touch();
    no_content()
}

/// A field's display name, as Jira's messages use it.
fn field_name(id: &str) -> &str {
    crate::render::FIELDS
        .iter()
        .find(|(fid, ..)| *fid == id)
        .map(|(_, name, ..)| *name)
        .unwrap_or(id)
}

/// `POST issue/{id}/transitions`: the transition must be available from the issue's status; the
/// fields given (`fields`, or `set` operations in `update`) must be on its screen; its screen's
/// required fields must be given (or already hold a value). Everything is checked before anything
/// changes; a refusal is Jira's 400 with an `errors` entry per field. A comment
/// (`update.comment[].add`) is taken on any transition.
async fn transition(
    state: SharedState,
    ctx: Ctx,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Response {
    let mut site = state.site.write();
    let issue = match target(&site, &ctx, &id, Permission::TransitionIssues) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let wanted = body
        .get("transition")
        .and_then(|t| reference(t, |s| Some(s.to_owned())));
    let Some(wanted) = wanted else {
        return bad_request("Missing 'transition' identifier");
    };
    let mut comments = Vec::new();
    let mut given: Vec<(String, Value)> = Vec::new();
    if let Some(fields) = body.get("fields").and_then(Value::as_object) {
        given.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    for (field, ops) in body
        .get("update")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for op in ops.as_array().into_iter().flatten() {
            if field == "comment" {
                if let Some(add) = op.get("add") {
                    match comment_text(&ctx, add.get("body")) {
                        Ok(t) => comments.push(t),
                        Err(e) => return field_errors(StatusCode::BAD_REQUEST, &e),
                    }
                }
            } else if let Some(v) = op.get("set") {
                given.push((field.clone(), v.clone()));
            }
        }
    }
    let Some(current) = site.issue(issue) else {
        return issue_not_found();
    };
    let Some(t) = issues::available_transitions(&site, current)
        .into_iter()
        .find(|t| t.id.to_string() == wanted)
        .cloned()
    else {
        return bad_request(&format!(
            "Transition id '{wanted}' is not valid for this issue."
        ));
    };
    let mut errors = FieldErrors::new();
    let mut resolution: Option<u8> = None;
    let mut assignee: Option<Option<UserIx>> = None;
    for (field, value) in &given {
        if !t.screen.iter().any(|s| s.field == field) {
            errors.push((
                field.clone(),
                format!("Field '{field}' cannot be set. It is not on the appropriate screen, or unknown."),
            ));
            continue;
        }
        match field.as_str() {
            "resolution" => match reference(value, |s| {
                site.resolutions
                    .iter()
                    .position(|x| x.name.eq_ignore_ascii_case(s) || x.id.to_string() == s)
            }) {
                Some(r) => resolution = Some(r as u8),
                None => errors.push(("resolution".into(), "Specify a valid resolution.".into())),
            },
            "assignee" => match user_ref(&site, value) {
                Ok(u) => assignee = Some(u),
                Err(()) => errors.push((
                    "assignee".into(),
                    "User does not exist or you do not have permission to see it.".into(),
                )),
            },
            _ => {}
        }
    }
    // A missing resolution is refused in `errorMessages` ("Field Resolution is required.", as
    // Cloud and Data Center word it, `errors` empty); other required fields by id in `errors`.
    let mut messages = Vec::new();
    for f in t.screen.iter().filter(|f| f.required) {
        let has = match f.field {
            "resolution" => resolution.is_some(),
            "assignee" => assignee.unwrap_or(current.assignee).is_some(),
            other => given.iter().any(|(k, v)| k == other && !v.is_null()),
        };
        if has || errors.iter().any(|(k, _)| k == f.field) {
            continue;
        }
        if f.field == "resolution" {
            messages.push(format!("Field {} is required.", field_name(f.field)));
        } else {
            errors.push((
                f.field.into(),
                format!("{} is required.", field_name(f.field)),
            ));
        }
    }
    if !messages.is_empty() || !errors.is_empty() {
        let messages: Vec<&str> = messages.iter().map(String::as_str).collect();
        let pairs: Vec<(&str, &str)> = errors
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        return jira_error(StatusCode::BAD_REQUEST, &messages, &pairs);
    }
    if let Some(a) = assignee {
        site.set_assignee(issue, a, ctx.user());
    }
    site.transition_resolving(issue, t.to, resolution, ctx.user());
    for text in comments {
        site.add_comment(issue, ctx.user(), text);
    }
    drop(site);
    state.touch();
    no_content()
}

async fn add_comment(
    state: SharedState,
    ctx: Ctx,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Response {
    let mut site = state.site.write();
    let issue = match target(&site, &ctx, &id, Permission::AddComments) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let text = match comment_text(&ctx, body.get("body")) {
        Ok(t) => t,
        Err(e) => return field_errors(StatusCode::BAD_REQUEST, &e),
    };
    let properties = match super::meta::inline_properties(&body) {
        Ok(p) => p,
        Err(e) => return bad_request(&e),
    };
    let Some(cid) = site.add_comment(issue, ctx.user(), text) else {
        return issue_not_found();
    };
    for (k, v) in properties {
        site.set_comment_property(cid, k, v);
    }
    let out = site.issue(issue).and_then(|i| {
        i.comments
            .iter()
            .find(|c| c.id == cid)
            .map(|c| ctx.view(&site).comment(i, c))
    });
    drop(site);
    state.touch();
    created(out.unwrap_or(Value::Null))
}

async fn edit_comment(
    state: SharedState,
    ctx: Ctx,
    Path((id, cid)): Path<(String, u64)>,
    JsonBody(body): JsonBody,
) -> Response {
    let mut site = state.site.write();
    let issue = match target(&site, &ctx, &id, Permission::AddComments) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let text = match comment_text(&ctx, body.get("body")) {
        Ok(t) => t,
        Err(e) => return field_errors(StatusCode::BAD_REQUEST, &e),
    };
    if !site.update_comment(issue, cid, text) {
        return jira_error(
            StatusCode::NOT_FOUND,
            &[&format!("Can not find a comment for the id: {cid}.")],
            &[],
        );
    }
    let out = site.issue(issue).and_then(|i| {
        i.comments
            .iter()
            .find(|c| c.id == cid)
            .map(|c| ctx.view(&site).comment(i, c))
    });
    drop(site);
    state.touch();
    ok(out.unwrap_or(Value::Null))
}

async fn delete_comment(
    state: SharedState,
    ctx: Ctx,
    Path((id, cid)): Path<(String, u64)>,
) -> Response {
    let mut site = state.site.write();
    let issue = match target(&site, &ctx, &id, Permission::AddComments) {
        Ok(i) => i,
        Err(r) => return r,
    };
    if !site.delete_comment(issue, cid) {
        return jira_error(
            StatusCode::NOT_FOUND,
            &[&format!("Can not find a comment for the id: {cid}.")],
            &[],
        );
    }
    drop(site);
    state.touch();
    no_content()
}

/// `1h 30m`, `2d`, `45m` in Jira's default 8-hour days and 5-day weeks.
fn parse_duration(s: &str) -> Option<u32> {
    let mut total = 0u32;
    for part in s.split_whitespace() {
        let split = part.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let (n, unit) = part.split_at(split);
        let n: f64 = n.parse().ok()?;
        let secs = match unit {
            "w" => 5.0 * 8.0 * 3600.0,
            "d" => 8.0 * 3600.0,
            "h" => 3600.0,
            "m" => 60.0,
            _ => return None,
        };
        total += (n * secs) as u32;
    }
    (total > 0).then_some(total)
}

fn parse_jira_time(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.timestamp_millis())
}

async fn add_worklog(
    state: SharedState,
    ctx: Ctx,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Response {
    let spent = body
        .get("timeSpentSeconds")
        .and_then(Value::as_u64)
        .map(|s| s as u32)
        .or_else(|| {
            body.get("timeSpent")
                .and_then(Value::as_str)
                .and_then(parse_duration)
        });
    let Some(spent) = spent.filter(|s| *s > 0) else {
        return field_errors(
            StatusCode::BAD_REQUEST,
            &vec![(
                "timeLogged".into(),
                "You must indicate the time spent working.".into(),
            )],
        );
    };
    let started = match body.get("started").and_then(Value::as_str) {
        None => None,
        Some(s) => match parse_jira_time(s) {
            Some(t) => Some(t),
            None => {
                return field_errors(
                    StatusCode::BAD_REQUEST,
                    &vec![(
                        "started".into(),
                        "Invalid start date, expected e.g. 2021-01-17T12:34:00.000+0000.".into(),
                    )],
                )
            }
        },
    };
    let comment = match body.get("comment").map(|c| rich_text(&ctx, c)) {
        None => None,
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            return field_errors(StatusCode::BAD_REQUEST, &vec![("comment".into(), e.into())])
        }
    };
    let properties = match super::meta::inline_properties(&body) {
        Ok(p) => p,
        Err(e) => return bad_request(&e),
    };
    let mut site = state.site.write();
    let issue = match target(&site, &ctx, &id, Permission::WorkOnIssues) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let w = NewWorklog {
        author: ctx.user(),
        started,
        time_spent_seconds: spent,
        comment,
    };
    let Some(wid) = site.add_worklog(issue, w) else {
        return issue_not_found();
    };
    for (k, v) in properties {
        site.set_worklog_property(wid, k, v);
    }
    let out = site.issue(issue).and_then(|i| {
        i.worklogs
            .iter()
            .find(|w| w.id == wid)
            .map(|w| ctx.view(&site).worklog(i, w))
    });
    drop(site);
    state.touch();
    created(out.unwrap_or(Value::Null))
}

async fn delete_worklog(
    state: SharedState,
    ctx: Ctx,
    Path((id, wid)): Path<(String, u64)>,
) -> Response {
    let mut site = state.site.write();
    let issue = match target(&site, &ctx, &id, Permission::WorkOnIssues) {
        Ok(i) => i,
        Err(r) => return r,
    };
    if !site.delete_worklog(issue, wid) {
        return jira_error(
            StatusCode::NOT_FOUND,
            &[&format!("Cannot find worklog with id: {wid}.")],
            &[],
        );
    }
    drop(site);
    state.touch();
    no_content()
}

async fn set_property(
    state: SharedState,
    ctx: Ctx,
    Path((id, key)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> Response {
    if key.is_empty() || key.len() > 255 {
        return bad_request("The property key must be between 1 and 255 characters.");
    }
    let mut site = state.site.write();
    let issue = match target(&site, &ctx, &id, Permission::EditIssues) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let Some(existed) = site.set_property(issue, key, body) else {
        return issue_not_found();
    };
    drop(site);
    super::meta::property_saved(&state, existed)
}

async fn delete_property(
    state: SharedState,
    ctx: Ctx,
    Path((id, key)): Path<(String, String)>,
) -> Response {
    let mut site = state.site.write();
    let issue = match target(&site, &ctx, &id, Permission::EditIssues) {
        Ok(i) => i,
        Err(r) => return r,
    };
    if !site.delete_property(issue, &key) {
        return jira_error(
            StatusCode::NOT_FOUND,
            &[&format!("The property with key '{key}' does not exist.")],
            &[],
        );
    }
    drop(site);
    state.touch();
    no_content()
}

async fn add_remote_link(
    state: SharedState,
    ctx: Ctx,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Response {
    let (url, title) = match remote_link_object(&body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let global_id = body
        .get("globalId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut site = state.site.write();
    let issue = match target(&site, &ctx, &id, Permission::LinkIssues) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let Some((link_id, created)) = site.upsert_remote_link(issue, global_id, url, title) else {
        return issue_not_found();
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    drop(site);
    state.touch();
    let api = if ctx.v3 { 3 } else { 2 };
    (status, axum::Json(json!({"id": link_id, "self": format!("{}/rest/api/{api}/issue/{issue}/remotelink/{link_id}", ctx.base)}))).into_response()
}

/// `url` and `title` of a remote link body, required by create and update alike.
fn remote_link_object(body: &Value) -> Result<(String, String), Response> {
    let get = |p: &str| body.pointer(p).and_then(Value::as_str).unwrap_or("");
    let (url, title) = (get("/object/url"), get("/object/title"));
    if url.is_empty() || title.is_empty() {
        return Err(field_errors(
            StatusCode::BAD_REQUEST,
            &vec![("title".into(), "'title' and 'url' are required.".into())],
        ));
    }
    Ok((url.to_owned(), title.to_owned()))
}

/// The remote link `link` of the issue, as `(issue, link id)`.
fn remote_link_target(
    site: &Site,
    ctx: &Ctx,
    id: &str,
    link: &str,
) -> Result<(IssueId, u64), Response> {
    let issue = target(site, ctx, id, Permission::LinkIssues)?;
    let Ok(link_id) = link.parse::<u64>() else {
        return Err(bad_request(&format!(
            "Invalid remote issue link id '{link}'."
        )));
    };
    site.issue(issue)
        .filter(|i| i.remote_links.iter().any(|l| l.id == link_id))
        .map(|_| (issue, link_id))
        .ok_or_else(|| issues::remote_link_not_found(link))
}

/// `PUT issue/{id}/remotelink/{linkId}`: replaces the link's object; 204.
async fn update_remote_link(
    state: SharedState,
    ctx: Ctx,
    Path((id, link)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> Response {
    let (url, title) = match remote_link_object(&body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut site = state.site.write();
    let (issue, n) = match remote_link_target(&site, &ctx, &id, &link) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let global_id = body
        .get("globalId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    site.update_remote_link(issue, n, url, title, global_id);
    drop(site);
    state.touch();
    no_content()
}

/// `DELETE issue/{id}/remotelink/{linkId}`; 204.
async fn delete_remote_link(
    state: SharedState,
    ctx: Ctx,
    Path((id, link)): Path<(String, String)>,
) -> Response {
    let mut site = state.site.write();
    let (issue, n) = match remote_link_target(&site, &ctx, &id, &link) {
        Ok(x) => x,
        Err(r) => return r,
    };
    site.delete_remote_link(issue, n);
    drop(site);
    state.touch();
    no_content()
}

/// `PUT issue/{id}/assignee`: Cloud names the user by `accountId`, Data Center by `name` (or
/// `key`); `null` unassigns and `"-1"` assigns the project's default assignee (its lead).
async fn assign(
    state: SharedState,
    ctx: Ctx,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Response {
    let cloud = state.cfg.gen.deployment == crate::model::Deployment::Cloud;
    let names: &[&str] = if cloud {
        &["accountId"]
    } else {
        &["name", "key"]
    };
    let given: Vec<&Value> = names.iter().filter_map(|n| body.get(*n)).collect();
    let who = match given.as_slice() {
        [one] => *one,
        [] => {
            return bad_request(if cloud {
                "accountId must be provided to assign an issue."
            } else {
                "name or key must be provided to assign an issue."
            })
        }
        _ => return bad_request("Only one of name or key may be provided to assign an issue."),
    };
    let mut site = state.site.write();
    let issue = match target(&site, &ctx, &id, Permission::AssignIssues) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let project = site.issue(issue).map_or(0, |i| i.project);
    // Jackson reads a number where a string is expected (PyPI `jira` sends -1 as a number).
    let who = match who {
        Value::Number(n) => Value::String(n.to_string()),
        other => other.clone(),
    };
    let to = match &who {
        Value::Null => None,
        Value::String(s) if s == "-1" => Some(site.projects[project as usize].lead),
        Value::String(s) => match site.user_by_account(s) {
            Some(u) if site.users[u as usize].active && site.can_browse(u, project) => Some(u),
            Some(_) => {
                return field_errors(
                    StatusCode::BAD_REQUEST,
                    &vec![(
                        "assignee".into(),
                        format!("User '{s}' cannot be assigned issues."),
                    )],
                )
            }
            None => {
                return field_errors(
                    StatusCode::BAD_REQUEST,
                    &vec![("assignee".into(), format!("User '{s}' does not exist."))],
                )
            }
        },
        other => {
            return bad_request(&format!(
                "The assignee must be a string or null, got {other}."
            ))
        }
    };
    site.set_assignee(issue, to, ctx.user());
    drop(site);
    state.touch();
    no_content()
}

async fn link(state: SharedState, ctx: Ctx, JsonBody(body): JsonBody) -> Response {
    let mut site = state.site.write();
    let link_type = body.get("type").and_then(|t| {
        reference(t, |s| {
            site.link_types
                .iter()
                .position(|l| l.name.eq_ignore_ascii_case(s) || l.id.to_string() == s)
        })
    });
    let Some(link_type) = link_type else {
        return bad_request("No issue link type with name or id given was found.");
    };
    let find = |k: &str| -> Option<IssueId> { visible(&site, &ctx, k).map(|i| i.id) };
    let inward = body.get("inwardIssue").and_then(|v| reference(v, find));
    let outward = body.get("outwardIssue").and_then(|v| reference(v, find));
    let (Some(inward), Some(outward)) = (inward, outward) else {
        return jira_error(
            StatusCode::NOT_FOUND,
            &["Issue does not exist or you do not have permission to see it."],
            &[],
        );
    };
    for i in [inward, outward] {
        let project = site.issue(i).map(|x| x.project).unwrap_or(0);
        if let Err(r) = require(&site, &ctx, project, Permission::LinkIssues) {
            return r;
        }
    }
    if site.link_issues(link_type as u8, outward, inward).is_none() {
        return issue_not_found();
    }
    drop(site);
    state.touch();
    StatusCode::CREATED.into_response()
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_use_jira_working_days() {
        assert_eq!(parse_duration("1h 30m"), Some(5400));
        assert_eq!(parse_duration("2d"), Some(2 * 8 * 3600));
        assert_eq!(parse_duration("1w"), Some(5 * 8 * 3600));
        assert_eq!(parse_duration("soon"), None);
    }
}
