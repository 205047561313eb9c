//! Jira's admin APIs, for tests and users: create and delete a project, add and remove a group
//! member, grant and revoke a project permission through the project's permission scheme, and
//! (Data Center) deactivate a user. Admin-only, each change through `ops` and then `touch`, so that
//! visibility follows at once.
//!
//! Each project has its own permission scheme (id = the project's id): its grants are the
//! project's `grants`, one grant per (group, permission), with ids derived from both.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;

use super::{bad_request, ok, JsonBody, Params, SharedState};
use crate::model::{Deployment, Permission, ProjectIx, ProjectType, Site, UserIx};
use crate::ops::NewProject;
use crate::server::{jira_error, Ctx, Shared};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/project", post(create_project))
        .route("/project/{key}", delete(delete_project))
        .route(
            "/group/user",
            post(add_user_to_group).delete(remove_user_from_group),
        )
        .route("/project/{key}/permissionscheme", get(project_scheme))
        .route(
            "/permissionscheme/{scheme}/permission",
            get(scheme_grants).post(create_grant),
        )
        .route(
            "/permissionscheme/{scheme}/permission/{grant}",
            get(scheme_grant).delete(delete_grant),
        )
        .route("/user", axum::routing::put(update_user))
}

fn cloud(site: &Site) -> bool {
    site.deployment == Deployment::Cloud
}

/// Jira's answer to a signed-in user without the global Administer Jira permission.
fn not_admin() -> Response {
    jira_error(
        StatusCode::FORBIDDEN,
        &["You must have global administrator rights in order to modify projects."],
        &[],
    )
}

fn require_admin(site: &Site, ctx: &Ctx, message: &str) -> Result<(), Response> {
    if site.is_site_admin(ctx.user()) {
        Ok(())
    } else {
        Err(jira_error(StatusCode::FORBIDDEN, &[message], &[]))
    }
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A user named by `accountId` (Cloud) or `name`/`username` (Data Center).
fn find_user(site: &Site, id: Option<&str>) -> Result<UserIx, Response> {
    let Some(id) = id.filter(|s| !s.is_empty()) else {
        let which = if cloud(site) { "accountId" } else { "username" };
        return Err(bad_request(&format!(
            "The '{which}' of the user is required."
        )));
    };
    site.user_by_account(id).ok_or_else(|| {
        jira_error(
            StatusCode::NOT_FOUND,
            &[&format!("The user with the ID '{id}' does not exist.")],
            &[],
        )
    })
}

/// The group id Cloud shows (a stable UUID per group).
fn group_id(ix: u16) -> String {
    format!("00000000-0000-4000-8000-{:012x}", u64::from(ix) + 1)
}

fn find_group(site: &Site, name: Option<&str>, id: Option<&str>) -> Result<u16, Response> {
    let found = match (name, id) {
        (Some(n), _) if !n.is_empty() => site.groups.iter().position(|g| g.name == n),
        (_, Some(i)) if !i.is_empty() => (0..site.groups.len()).find(|g| group_id(*g as u16) == i),
        _ => {
            return Err(bad_request(
                "Either the 'groupname' or the 'groupId' parameter is required.",
            ))
        }
    };
    found.map(|g| g as u16).ok_or_else(|| {
        jira_error(
            StatusCode::NOT_FOUND,
            &["Specified group does not exist."],
            &[],
        )
    })
}

fn group_json(site: &Site, ctx: &Ctx, g: u16) -> Value {
    let name = &site.groups[g as usize].name;
    let api = if ctx.v3 { 3 } else { 2 };
    let mut v = json!({
        "name": name,
        "self": format!("{}/rest/api/{api}/group?groupname={name}", ctx.base),
        "users": {"size": 0, "items": [], "max-results": 50, "start-index": 0, "end-index": 0},
        "expand": "users",
    });
    if cloud(site) {
        v["groupId"] = json!(group_id(g));
    }
    v
}

async fn create_project(state: SharedState, ctx: Ctx, JsonBody(body): JsonBody) -> Response {
    let mut site = state.site.write();
    if !site.is_site_admin(ctx.user()) {
        return not_admin();
    }
    let s = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("").trim();
    let mut errors: Vec<(&str, String)> = Vec::new();
    let key = s("key");
    if key.is_empty() {
        errors.push(("projectKey", "You must specify a valid project key.".into()));
    } else if !key.starts_with(|c: char| c.is_ascii_uppercase())
        || !key
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        || key.len() < 2
    {
        errors.push(("projectKey", "Project keys must start with an uppercase letter, followed by one or more uppercase alphanumeric characters.".into()));
    } else if key.len() > 10 {
        errors.push((
            "projectKey",
            "The project key must not exceed 10 characters in length.".into(),
        ));
    } else if let Some(p) = site.projects.iter().find(|p| p.key == key) {
        errors.push((
            "projectKey",
            format!("Project '{}' uses this project key.", p.name),
        ));
    }
    let name = s("name");
    if name.is_empty() {
        errors.push((
            "projectName",
            "You must specify a valid project name.".into(),
        ));
    } else if site
        .projects
        .iter()
        .any(|p| p.deleted.is_none() && p.name.eq_ignore_ascii_case(name))
    {
        errors.push((
            "projectName",
            "A project with that name already exists.".into(),
        ));
    }
    let project_type = match s("projectTypeKey") {
        "software" => Some(ProjectType::Software),
        "business" => Some(ProjectType::Business),
        "service_desk" => Some(ProjectType::ServiceDesk),
        "" => {
            errors.push(("projectTypeKey", "A project type must be specified.".into()));
            None
        }
        other => {
            errors.push((
                "projectTypeKey",
                format!("The project type '{other}' is not valid."),
            ));
            None
        }
    };
    let lead_field = if cloud(&site) {
        "leadAccountId"
    } else {
        "lead"
    };
    let lead = match site.user_by_account(s(lead_field)) {
        Some(u) if site.users[u as usize].active => Some(u),
        _ => {
            errors.push((
                "projectLead",
                "You must specify a valid project lead.".into(),
            ));
            None
        }
    };
    let (Some(project_type), Some(lead), true) = (project_type, lead, errors.is_empty()) else {
        let errors: Vec<(&str, &str)> = errors.iter().map(|(k, v)| (*k, v.as_str())).collect();
        return jira_error(StatusCode::BAD_REQUEST, &[], &errors);
    };
    let ix = site.create_project(NewProject {
        key: key.to_owned(),
        name: name.to_owned(),
        project_type,
        lead,
    });
    let id = site.projects[ix as usize].id;
    drop(site);
    state.touch();
    let api = if ctx.v3 { 3 } else { 2 };
    (
        StatusCode::CREATED,
        axum::Json(json!({
            "self": format!("{}/rest/api/{api}/project/{id}", ctx.base),
            "id": id,
            "key": key,
        })),
    )
        .into_response()
}

async fn delete_project(state: SharedState, ctx: Ctx, Path(key): Path<String>) -> Response {
    let mut site = state.site.write();
    let found = site
        .project_by_key_or_id(&key)
        .filter(|p| site.can_browse(ctx.user(), *p));
    let admin = site.is_site_admin(ctx.user());
    // Cloud answers 404 to a caller who may not delete it; Data Center says why.
    let project = match found {
        Some(p) if admin => p,
        Some(_) if !cloud(&site) => return not_admin(),
        _ => return super::project_not_found(&key),
    };
    site.delete_project(project);
    drop(site);
    state.touch();
    no_content()
}

#[derive(serde::Deserialize, Default)]
struct MemberBody {
    #[serde(rename = "accountId")]
    account_id: Option<String>,
    name: Option<String>,
}

async fn add_user_to_group(
    state: SharedState,
    ctx: Ctx,
    p: Params,
    JsonBody(body): JsonBody,
) -> Response {
    let mut site = state.site.write();
    if let Err(r) = require_admin(
        &site,
        &ctx,
        "You do not have permission to edit the members of this group.",
    ) {
        return r;
    }
    let group = match find_group(&site, p.get("groupname"), p.get("groupId")) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let who: MemberBody = serde_json::from_value(body).unwrap_or_default();
    let user = match find_user(&site, who.account_id.as_deref().or(who.name.as_deref())) {
        Ok(u) => u,
        Err(r) => return r,
    };
    if !site.add_to_group(user, group) {
        let u = &site.users[user as usize];
        let shown = if cloud(&site) {
            &u.account_id
        } else {
            &u.username
        };
        return bad_request(&format!(
            "Cannot add user. '{shown}' is already a member of '{}'",
            site.groups[group as usize].name
        ));
    }
    let v = group_json(&site, &ctx, group);
    drop(site);
    state.touch();
    (StatusCode::CREATED, axum::Json(v)).into_response()
}

async fn remove_user_from_group(state: SharedState, ctx: Ctx, p: Params) -> Response {
    let mut site = state.site.write();
    if let Err(r) = require_admin(
        &site,
        &ctx,
        "You do not have permission to edit the members of this group.",
    ) {
        return r;
    }
    let group = match find_group(&site, p.get("groupname"), p.get("groupId")) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let user = match find_user(&site, p.get("accountId").or(p.get("username"))) {
        Ok(u) => u,
        Err(r) => return r,
    };
    if !site.remove_from_group(user, group) {
        return bad_request(&format!(
            "Cannot remove user. The user is not a member of '{}'",
            site.groups[group as usize].name
        ));
    }
    drop(site);
    state.touch();
    StatusCode::OK.into_response()
}

/// The project whose scheme has this id (each project has its own).
fn scheme_project(site: &Site, scheme: &str) -> Result<ProjectIx, Response> {
    site.projects
        .iter()
        .position(|p| p.deleted.is_none() && p.id.to_string() == scheme)
        .map(|p| p as ProjectIx)
        .ok_or_else(|| {
            jira_error(
                StatusCode::NOT_FOUND,
                &[&format!(
                    "Permission scheme with id '{scheme}' does not exist."
                )],
                &[],
            )
        })
}

fn scheme_json(site: &Site, ctx: &Ctx, p: ProjectIx) -> Value {
    let project = &site.projects[p as usize];
    let api = if ctx.v3 { 3 } else { 2 };
    json!({
        "expand": "permissions,user,group,projectRole,field,all",
        "id": project.id,
        "self": format!("{}/rest/api/{api}/permissionscheme/{}", ctx.base, project.id),
        "name": format!("{} permission scheme", project.key),
        "description": format!("The permissions of the {} project.", project.name),
    })
}

/// A grant's id: the scheme (project id), the group and the permission's bit.
fn grant_id(site: &Site, p: ProjectIx, group: u16, permission: Permission) -> u64 {
    let bit = (permission as u16).trailing_zeros() as u64;
    site.projects[p as usize].id * 10_000 + u64::from(group) * 16 + bit
}

fn grants(site: &Site, p: ProjectIx) -> Vec<(u64, u16, Permission)> {
    let mut out = Vec::new();
    for (group, perms) in &site.projects[p as usize].grants {
        for perm in Permission::ALL {
            if perms.has(perm) {
                out.push((grant_id(site, p, *group, perm), *group, perm));
            }
        }
    }
    out.sort_by_key(|g| g.0);
    out
}

fn grant_json(site: &Site, ctx: &Ctx, id: u64, group: u16, perm: Permission) -> Value {
    let api = if ctx.v3 { 3 } else { 2 };
    let mut holder = json!({
        "type": "group",
        "parameter": site.groups[group as usize].name,
        "expand": "group",
    });
    if cloud(site) {
        holder["value"] = json!(group_id(group));
    }
    json!({
        "id": id,
        "self": format!("{}/rest/api/{api}/permissionscheme/permission/{id}", ctx.base),
        "holder": holder,
        "permission": perm.key(),
    })
}

async fn project_scheme(state: SharedState, ctx: Ctx, Path(key): Path<String>) -> Response {
    let site = state.site.read();
    match site
        .project_by_key_or_id(&key)
        .filter(|p| site.can_browse(ctx.user(), *p))
    {
        Some(p) => ok(scheme_json(&site, &ctx, p)),
        None => super::project_not_found(&key),
    }
}

async fn scheme_grants(state: SharedState, ctx: Ctx, Path(scheme): Path<String>) -> Response {
    let site = state.site.read();
    let p = match scheme_project(&site, &scheme) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let list: Vec<Value> = grants(&site, p)
        .into_iter()
        .map(|(id, g, perm)| grant_json(&site, &ctx, id, g, perm))
        .collect();
    ok(json!({"permissions": list, "expand": "user,group,projectRole,field,all"}))
}

async fn scheme_grant(
    state: SharedState,
    ctx: Ctx,
    Path((scheme, grant)): Path<(String, String)>,
) -> Response {
    let site = state.site.read();
    let p = match scheme_project(&site, &scheme) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match grants(&site, p)
        .into_iter()
        .find(|g| g.0.to_string() == grant)
    {
        Some((id, g, perm)) => ok(grant_json(&site, &ctx, id, g, perm)),
        None => jira_error(
            StatusCode::NOT_FOUND,
            &[&format!(
                "Permission grant with id '{grant}' does not exist."
            )],
            &[],
        ),
    }
}

async fn create_grant(
    state: SharedState,
    ctx: Ctx,
    Path(scheme): Path<String>,
    JsonBody(body): JsonBody,
) -> Response {
    let mut site = state.site.write();
    if let Err(r) = require_admin(
        &site,
        &ctx,
        "You do not have permission to administer permission schemes.",
    ) {
        return r;
    }
    let p = match scheme_project(&site, &scheme) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(perm) = body
        .get("permission")
        .and_then(Value::as_str)
        .and_then(Permission::from_key)
    else {
        return bad_request(&format!(
            "The permission '{}' does not exist (the simulator knows {}).",
            body.get("permission").and_then(Value::as_str).unwrap_or(""),
            Permission::ALL.map(Permission::key).join(", ")
        ));
    };
    let holder = body.get("holder").cloned().unwrap_or(Value::Null);
    let kind = holder.get("type").and_then(Value::as_str).unwrap_or("");
    if kind != "group" {
        return bad_request(&format!(
            "The holder type '{kind}' is not supported by the simulator; grant to a group (\"type\": \"group\")."
        ));
    }
    let group = match find_group(
        &site,
        holder.get("parameter").and_then(Value::as_str),
        holder.get("value").and_then(Value::as_str),
    ) {
        Ok(g) => g,
        Err(_) => return bad_request("The group holding the permission does not exist."),
    };
    if !site.grant(p, group, perm) {
        return bad_request("The same permission grant is already present in the scheme.");
    }
    let id = grant_id(&site, p, group, perm);
    let v = grant_json(&site, &ctx, id, group, perm);
    drop(site);
    state.touch();
    (StatusCode::CREATED, axum::Json(v)).into_response()
}

async fn delete_grant(
    state: SharedState,
    ctx: Ctx,
    Path((scheme, grant)): Path<(String, String)>,
) -> Response {
    let mut site = state.site.write();
    if let Err(r) = require_admin(
        &site,
        &ctx,
        "You do not have permission to administer permission schemes.",
    ) {
        return r;
    }
    let p = match scheme_project(&site, &scheme) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some((_, group, perm)) = grants(&site, p)
        .into_iter()
        .find(|g| g.0.to_string() == grant)
    else {
        return bad_request(&format!(
            "Permission grant with id '{grant}' does not exist in this scheme."
        ));
    };
    site.revoke(p, group, perm);
    drop(site);
    state.touch();
    no_content()
}

/// Data Center's `PUT user?username=X` (Jira 8.3+ accepts `active`): deactivates or reactivates
/// an account. Cloud has no such Jira API (accounts belong to the Atlassian organisation).
async fn update_user(
    state: SharedState,
    ctx: Ctx,
    p: Params,
    JsonBody(body): JsonBody,
) -> Response {
    let mut site = state.site.write();
    if cloud(&site) {
        return jira_error(
            StatusCode::METHOD_NOT_ALLOWED,
            &["The method is not supported for this resource."],
            &[],
        );
    }
    if let Err(r) = require_admin(
        &site,
        &ctx,
        "You do not have the permission to edit this user.",
    ) {
        return r;
    }
    let user = match find_user(&site, p.get("username").or(p.get("key"))) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let Some(active) = body.get("active").and_then(Value::as_bool) else {
        return bad_request("error.no.value.found.to.be.changed");
    };
    if !active && user == ctx.user() {
        return bad_request("You cannot deactivate your own account.");
    }
    site.set_user_active(user, active);
    let v = ctx.view(&site).user(user);
    drop(site);
    state.touch();
    ok(v)
}
