//! Site metadata, identity and permissions: serverInfo, myself, permission checks, projects, fields,
//! statuses, priorities, resolutions, issue types and user search.

use axum::extract::Path;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;

use super::{bad_request, ok, page, paging, project_not_found, JsonBody, Params, SharedState};
use crate::model::{Deployment, Permission, ProjectIx, Site, UserIx};
use crate::server::{Ctx, Shared};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/serverInfo", get(server_info))
        .route("/myself", get(myself))
        .route("/mypermissions", get(my_permissions))
        .route("/permissions/project", post(permitted_projects))
        .route("/permissions/check", post(bulk_permissions))
        .route("/project", get(project_list))
        .route("/project/search", get(project_search))
        .route("/project/{key}", get(project_get))
        .route("/field", get(fields))
        .route("/status", get(statuses))
        .route("/statuscategory", get(status_categories))
        .route("/priority", get(priorities))
        .route("/priority/search", get(priority_search))
        .route("/priority/{id}", get(priority_get))
        .route("/resolution", get(resolutions))
        .route("/resolution/search", get(resolution_search))
        .route("/resolution/{id}", get(resolution_get))
        .route("/issuetype", get(issue_types))
        .route("/issueLinkType", get(link_types))
        .route("/users/search", get(users_search))
        .route("/user/search", get(user_search))
        .route("/user", get(user_get))
}

async fn server_info(state: SharedState, ctx: Ctx) -> Response {
    let site = state.site.read();
    let cloud = site.deployment == Deployment::Cloud;
    let dc = state.cfg.dc_version;
    let mut v = json!({
        "baseUrl": state.base_url,
        "displayUrl": state.base_url,
        "version": if cloud { "1001.0.0-SNAPSHOT".to_owned() } else { dc.to_string() },
        "versionNumbers": if cloud { json!([1001, 0, 0]) } else { json!([dc.major, dc.minor, dc.patch]) },
        "deploymentType": if cloud { "Cloud" } else { "Server" },
        "buildNumber": if cloud { 100_300 } else { dc.build_number() },
        "buildDate": "2025-10-01T00:00:00.000+0000",
        "serverTime": ctx.view(&site).time(site.now()),
        "scmInfo": "6f1d3b7d2e0a4c0f9f4e1b3c7a9d2e5f6a7b8c9d",
        "serverTitle": "Jira (jiralink sim)",
    });
    if cloud {
        v["serverTimeZone"] = json!("Etc/UTC");
    }
    ok(v)
}

async fn myself(state: SharedState, ctx: Ctx, p: Params) -> Response {
    let site = state.site.read();
    let mut v = ctx.view(&site).user(ctx.user());
    let u = &site.users[ctx.user() as usize];
    v["locale"] = json!("en_US");
    let expand = p.get("expand").unwrap_or("");
    if expand.contains("groups") {
        let items: Vec<Value> = u
            .groups
            .iter()
            .map(|g| json!({"name": site.groups[*g as usize].name}))
            .collect();
        v["groups"] = json!({"size": items.len(), "items": items});
    } else {
        v["groups"] = json!({"size": u.groups.len(), "items": []});
    }
    v["applicationRoles"] = json!({"size": 1, "items": []});
    v["expand"] = json!("groups,applicationRoles");
    ok(v)
}

/// Project keys or ids named by a request, resolved to visible projects.
fn projects_named(site: &Site, user: UserIx, names: &[String]) -> Result<Vec<ProjectIx>, Response> {
    names
        .iter()
        .map(|n| {
            site.project_by_key_or_id(n)
                .filter(|p| site.can_browse(user, *p))
                .ok_or_else(|| project_not_found(n))
        })
        .collect()
}

async fn my_permissions(state: SharedState, ctx: Ctx, p: Params) -> Response {
    let site = state.site.read();
    let user = ctx.user();
    let Some(wanted) = p.get("permissions") else {
        return bad_request("The 'permissions' query parameter is required, e.g. permissions=BROWSE_PROJECTS,CREATE_ISSUES.");
    };
    let project = match p.get("projectKey").or(p.get("projectId")) {
        Some(k) => match projects_named(&site, user, &[k.to_owned()]) {
            Ok(v) => Some(v[0]),
            Err(r) => return r,
        },
        None => None,
    };
    let issue_project = match p.get("issueKey").or(p.get("issueId")) {
        Some(k) => match super::visible(&site, &ctx, k) {
            Some(i) => Some(i.project),
            None => return super::issue_not_found(),
        },
        None => None,
    };
    let scope = issue_project.or(project);
    let admin = site.is_site_admin(user);
    let mut out = serde_json::Map::new();
    for key in wanted.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        let (name, have) = if key == "ADMINISTER" || key == "SYSTEM_ADMIN" {
            ("Administer Jira", admin)
        } else if let Some(perm) = Permission::from_key(key) {
            let have = match scope {
                Some(pix) => site.project_permissions(user, pix).has(perm),
                None => (0..site.projects.len() as u32)
                    .any(|pix| site.project_permissions(user, pix).has(perm)),
            };
            (perm.name(), have)
        } else {
            return bad_request(&format!("Permission '{key}' does not exist."));
        };
        out.insert(
            key.to_owned(),
            json!({"id": key, "key": key, "name": name, "type": if key == "ADMINISTER" { "GLOBAL" } else { "PROJECT" },
                   "description": format!("Ability to {}.", name.to_lowercase()), "havePermission": have}),
        );
    }
    ok(json!({ "permissions": out }))
}

async fn permitted_projects(state: SharedState, ctx: Ctx, JsonBody(body): JsonBody) -> Response {
    let site = state.site.read();
    let Some(perms) = body.get("permissions").and_then(Value::as_array) else {
        return bad_request("The request body must have a 'permissions' list.");
    };
    let mut wanted = Vec::new();
    for p in perms {
        match p.as_str().and_then(Permission::from_key) {
            Some(perm) => wanted.push(perm),
            None => return bad_request(&format!("Permission '{}' does not exist.", p)),
        }
    }
    let projects: Vec<Value> = (0..site.projects.len() as u32)
        .filter(|pix| {
            let have = site.project_permissions(ctx.user(), *pix);
            wanted.iter().all(|w| have.has(*w))
        })
        .map(|pix| {
            let p = &site.projects[pix as usize];
            json!({"id": p.id, "key": p.key})
        })
        .collect();
    ok(json!({ "projects": projects }))
}

async fn bulk_permissions(state: SharedState, ctx: Ctx, JsonBody(body): JsonBody) -> Response {
    let site = state.site.read();
    let mut user = ctx.user();
    if let Some(account) = body.get("accountId").and_then(Value::as_str) {
        if !site.is_site_admin(user) {
            return super::forbidden(
                "Only Jira administrators may check other users' permissions.",
            );
        }
        match site.user_by_account(account) {
            Some(u) => user = u,
            None => {
                return bad_request(&format!(
                    "The user with account ID '{account}' does not exist."
                ))
            }
        }
    }
    let mut global = Vec::new();
    for g in body
        .get("globalPermissions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if g.as_str() == Some("ADMINISTER") && site.is_site_admin(user) {
            global.push(json!("ADMINISTER"));
        }
    }
    let mut project_grants = Vec::new();
    for entry in body
        .get("projectPermissions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let projects: Vec<ProjectIx> = match entry.get("projects").and_then(Value::as_array) {
            Some(ps) => ps
                .iter()
                .filter_map(|p| site.project_by_key_or_id(p.to_string().trim_matches('"')))
                .collect(),
            None => (0..site.projects.len() as u32).collect(),
        };
        let issues: Vec<u64> = entry
            .get("issues")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .collect();
        for perm in entry
            .get("permissions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(perm_key) = perm.as_str() else {
                continue;
            };
            let Some(p) = Permission::from_key(perm_key) else {
                return bad_request(&format!("Permission '{perm_key}' does not exist."));
            };
            let granted: Vec<u64> = projects
                .iter()
                .filter(|pix| site.project_permissions(user, **pix).has(p))
                .map(|pix| site.projects[*pix as usize].id)
                .collect();
            let granted_issues: Vec<u64> = issues
                .iter()
                .filter(|id| {
                    site.issue(**id).is_some_and(|i| {
                        i.deleted.is_none() && site.project_permissions(user, i.project).has(p)
                    })
                })
                .copied()
                .collect();
            project_grants.push(
                json!({"permission": perm_key, "projects": granted, "issues": granted_issues}),
            );
        }
    }
    ok(json!({ "globalPermissions": global, "projectPermissions": project_grants }))
}

fn visible_projects(site: &Site, user: UserIx) -> impl Iterator<Item = ProjectIx> + '_ {
    (0..site.projects.len() as u32).filter(move |p| site.can_browse(user, *p))
}

async fn project_list(state: SharedState, ctx: Ctx) -> Response {
    let site = state.site.read();
    let v = ctx.view(&site);
    ok(Value::Array(
        visible_projects(&site, ctx.user())
            .map(|p| v.project_ref(p))
            .collect(),
    ))
}

async fn project_search(state: SharedState, ctx: Ctx, p: Params) -> Response {
    let (start, max) = match paging(&p, 50, 100) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let site = state.site.read();
    let v = ctx.view(&site);
    let query = p.get("query").map(str::to_lowercase);
    let keys: Vec<String> = p
        .all("keys")
        .iter()
        .flat_map(|k| k.split(',').map(str::to_owned))
        .collect();
    let type_key = p.get("typeKey");
    let matching: Vec<ProjectIx> = visible_projects(&site, ctx.user())
        .filter(|pix| {
            let pr = &site.projects[*pix as usize];
            query.as_ref().is_none_or(|q| {
                pr.key.to_lowercase().contains(q) || pr.name.to_lowercase().contains(q)
            }) && (keys.is_empty() || keys.iter().any(|k| k.eq_ignore_ascii_case(&pr.key)))
                && type_key.is_none_or(|t| t == pr.project_type.key())
        })
        .collect();
    let expand = p.get("expand").unwrap_or("");
    let values: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(max)
        .map(|pix| {
            let mut pv = if expand.contains("description")
                || expand.contains("lead")
                || expand.contains("issueTypes")
            {
                v.project(*pix)
            } else {
                v.project_ref(*pix)
            };
            pv["isPrivate"] = json!(false);
            pv
        })
        .collect();
    let total = matching.len();
    let mut out = page(values, start, max, total);
    out["self"] = json!(format!(
        "{}/rest/api/{}/project/search?startAt={start}&maxResults={max}",
        ctx.base,
        if ctx.v3 { 3 } else { 2 }
    ));
    if start + max < total {
        out["nextPage"] = json!(format!(
            "{}/rest/api/{}/project/search?startAt={}&maxResults={max}",
            ctx.base,
            if ctx.v3 { 3 } else { 2 },
            start + max
        ));
    }
    ok(out)
}

async fn project_get(state: SharedState, ctx: Ctx, Path(key): Path<String>) -> Response {
    let site = state.site.read();
    match projects_named(&site, ctx.user(), &[key]) {
        Ok(p) => ok(ctx.view(&site).project(p[0])),
        Err(r) => r,
    }
}

async fn fields() -> Response {
    ok(crate::render::field_list())
}

async fn statuses(state: SharedState, ctx: Ctx) -> Response {
    let site = state.site.read();
    let v = ctx.view(&site);
    ok(Value::Array(
        (0..site.statuses.len() as u16)
            .map(|s| v.status(s))
            .collect(),
    ))
}

async fn status_categories(state: SharedState, ctx: Ctx) -> Response {
    use crate::model::StatusCategory::*;
    let site = state.site.read();
    let v = ctx.view(&site);
    let mut cats = vec![json!({
        "self": format!("{}/rest/api/2/statuscategory/1", ctx.base), "id": 1, "key": "undefined",
        "colorName": "medium-gray", "name": "No Category"
    })];
    cats.extend(
        [ToDo, Done, InProgress]
            .into_iter()
            .map(|c| v.status_category(c)),
    );
    ok(Value::Array(cats))
}

/// The priority new issues get when none is named (index into `Site::priorities`).
const DEFAULT_PRIORITY: u8 = 2;

/// A priority as `GET priority` and `priority/{id}` show it.
fn priority_full(site: &Site, ctx: &Ctx, p: u8) -> Value {
    let mut pv = ctx.view(site).priority(p);
    pv["description"] = json!(format!("{} priority.", site.priorities[p as usize].name));
    pv["statusColor"] = json!("#cccccc");
    pv
}

async fn priorities(state: SharedState, ctx: Ctx) -> Response {
    let site = state.site.read();
    ok(Value::Array(
        (0..site.priorities.len() as u8)
            .map(|p| priority_full(&site, &ctx, p))
            .collect(),
    ))
}

/// The index of the item whose id is `id`.
fn item_by_id(items: &[crate::model::NamedItem], id: &str) -> Option<u8> {
    items
        .iter()
        .position(|x| x.id.to_string() == id)
        .map(|ix| ix as u8)
}

async fn priority_get(state: SharedState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let site = state.site.read();
    match item_by_id(&site.priorities, &id) {
        Some(p) => ok(priority_full(&site, &ctx, p)),
        None => not_found(&format!("The priority with id '{id}' does not exist.")),
    }
}

fn not_found(msg: &str) -> Response {
    crate::server::jira_error(axum::http::StatusCode::NOT_FOUND, &[msg], &[])
}

/// A `PageBean` of `startAt`/`maxResults` paged metadata, with `self` and `nextPage` links.
fn metadata_page(ctx: &Ctx, path: &str, all: Vec<Value>, start: usize, max: usize) -> Value {
    let total = all.len();
    let values: Vec<Value> = all.into_iter().skip(start).take(max).collect();
    let api = if ctx.v3 { 3 } else { 2 };
    let mut out = page(values, start, max, total);
    out["self"] = json!(format!(
        "{}/rest/api/{api}/{path}?startAt={start}&maxResults={max}",
        ctx.base
    ));
    if start + max < total {
        out["nextPage"] = json!(format!(
            "{}/rest/api/{api}/{path}?startAt={}&maxResults={max}",
            ctx.base,
            start + max
        ));
    }
    out
}

/// Ids asked for by a repeated (`id=1&id=2`) or comma-separated (`id=1,2`) parameter.
fn id_filter(p: &Params) -> Vec<String> {
    p.all("id")
        .iter()
        .flat_map(|s| s.split(',').map(str::trim).map(str::to_owned))
        .filter(|s| !s.is_empty())
        .collect()
}

/// Cloud `priority/search`: priorities a page (default 50), filtered by id, name, default.
async fn priority_search(state: SharedState, ctx: Ctx, p: Params) -> Response {
    let (start, max) = match paging(&p, 50, 50) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let site = state.site.read();
    let ids = id_filter(&p);
    let name = p.get("priorityName").unwrap_or("").to_lowercase();
    let all: Vec<Value> = (0..site.priorities.len() as u8)
        .filter(|ix| {
            let item = &site.priorities[*ix as usize];
            (ids.is_empty() || ids.contains(&item.id.to_string()))
                && item.name.to_lowercase().contains(&name)
                && (!p.flag("onlyDefault") || *ix == DEFAULT_PRIORITY)
        })
        .map(|ix| {
            let mut v = priority_full(&site, &ctx, ix);
            v["isDefault"] = json!(ix == DEFAULT_PRIORITY);
            v
        })
        .collect();
    ok(metadata_page(&ctx, "priority/search", all, start, max))
}

async fn resolutions(state: SharedState, ctx: Ctx) -> Response {
    let site = state.site.read();
    let v = ctx.view(&site);
    ok(Value::Array(
        (0..site.resolutions.len() as u8)
            .map(|r| v.resolution(r))
            .collect(),
    ))
}

async fn resolution_get(state: SharedState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let site = state.site.read();
    match item_by_id(&site.resolutions, &id) {
        Some(r) => ok(ctx.view(&site).resolution(r)),
        None => not_found(&format!("The resolution with id '{id}' does not exist.")),
    }
}

/// Cloud `resolution/search`: resolutions a page (default 50), filtered by id and default.
/// The site's default resolution is "Done" (the first one when there is none by that name).
async fn resolution_search(state: SharedState, ctx: Ctx, p: Params) -> Response {
    let (start, max) = match paging(&p, 50, 50) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let site = state.site.read();
    let default = site
        .resolutions
        .iter()
        .position(|r| r.name == "Done")
        .unwrap_or(0);
    let ids = id_filter(&p);
    let v = ctx.view(&site);
    let all: Vec<Value> = (0..site.resolutions.len())
        .filter(|ix| {
            (ids.is_empty() || ids.contains(&site.resolutions[*ix].id.to_string()))
                && (!p.flag("onlyDefault") || *ix == default)
        })
        .map(|ix| {
            let mut r = v.resolution(ix as u8);
            r["default"] = json!(ix == default);
            r
        })
        .collect();
    ok(metadata_page(&ctx, "resolution/search", all, start, max))
}

async fn issue_types(state: SharedState, ctx: Ctx) -> Response {
    let site = state.site.read();
    let v = ctx.view(&site);
    ok(Value::Array(
        (0..site.issue_types.len() as u16)
            .map(|t| v.issue_type(t))
            .collect(),
    ))
}

async fn link_types(state: SharedState, ctx: Ctx) -> Response {
    let site = state.site.read();
    let v = ctx.view(&site);
    ok(
        json!({ "issueLinkTypes": site.link_types.iter().map(|t| v.link_type(t)).collect::<Vec<_>>() }),
    )
}

fn user_matches(site: &Site, u: UserIx, query: Option<&str>) -> bool {
    let user = &site.users[u as usize];
    query.is_none_or(|q| {
        let q = q.to_lowercase();
        q.is_empty()
            || q == "."
            || user.display_name.to_lowercase().contains(&q)
            || user.email.to_lowercase().starts_with(&q)
            || user.username.to_lowercase().starts_with(&q)
    })
}

/// Cloud `users/search`: every user, startAt paging, no total.
async fn users_search(state: SharedState, ctx: Ctx, p: Params) -> Response {
    let (start, max) = match paging(&p, 50, 1000) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let site = state.site.read();
    let v = ctx.view(&site);
    ok(Value::Array(
        (0..site.users.len() as u32)
            .skip(start)
            .take(max)
            .map(|u| v.user(u))
            .collect(),
    ))
}

/// Data Center `user/search?username=` (and Cloud `user/search?query=`).
async fn user_search(state: SharedState, ctx: Ctx, p: Params) -> Response {
    let (start, max) = match paging(&p, 50, 1000) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let site = state.site.read();
    let q = p.get("username").or(p.get("query"));
    if q.is_none() && p.get("accountId").is_none() {
        return bad_request(
            "One of 'query' or 'accountId' (Cloud), or 'username' (Data Center), must be given.",
        );
    }
    let include_inactive = p.flag("includeInactive") || site.deployment == Deployment::Cloud;
    let v = ctx.view(&site);
    let users: Vec<Value> = (0..site.users.len() as u32)
        .filter(|u| {
            p.get("accountId")
                .is_none_or(|a| site.users[*u as usize].account_id == a)
        })
        .filter(|u| user_matches(&site, *u, q))
        .filter(|u| include_inactive || site.users[*u as usize].active)
        .skip(start)
        .take(max)
        .map(|u| v.user(u))
        .collect();
    ok(Value::Array(users))
}

async fn user_get(state: SharedState, ctx: Ctx, p: Params) -> Response {
    let site = state.site.read();
    let Some(id) = p.get("accountId").or(p.get("username")).or(p.get("key")) else {
        return bad_request(
            "The 'accountId' (Cloud) or 'username'/'key' (Data Center) parameter is required.",
        );
    };
    match site.user_by_account(id) {
        Some(u) => ok(ctx.view(&site).user(u)),
        None => crate::server::jira_error(
            axum::http::StatusCode::NOT_FOUND,
            &[&format!("The user with the ID '{id}' does not exist.")],
            &[],
        ),
    }
}
