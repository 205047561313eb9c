//! The HTTP routes of the simulated Jira, one module per API area, and the helpers they share
//! (query parameters, paging, visibility, error bodies).

mod admin;
mod agile;
mod issues;
mod meta;
mod oauth;
mod platform;
pub(crate) mod search;
mod software;
mod writes;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use crate::model::{Issue, Site, UserIx};
use crate::render::View;
use crate::server::{jira_error, Ctx, Shared};

pub type SharedState = axum::extract::State<Arc<Shared>>;

pub fn app(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .merge(platform::routes())
        .merge(issues::routes())
        .merge(search::routes())
        .merge(writes::routes())
        .merge(meta::routes())
        .merge(admin::routes());
    let routes = Router::new()
        .nest("/rest/api/2", api.clone())
        .nest("/rest/api/3", api.clone())
        .nest("/rest/api/latest", api)
        .nest("/rest/agile/1.0", agile::routes())
        .nest("/rest/software/1.0", software::routes())
        .merge(oauth::routes())
        .merge(crate::oauth2::routes())
        .route(
            "/__sim/snapshot",
            axum::routing::get(crate::snapshot::handler),
        )
        .route("/__sim/stats", axum::routing::get(stats))
        .route(
            "/rest/applinks/1.0/manifest",
            axum::routing::get(applinks_manifest),
        )
        .fallback(unmatched)
        .with_state(shared.clone());
    // The front rewrites the path (gateway prefix, context path) before routing, so it wraps a
    // router whose only route is the real one.
    Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::map_request(strip_trailing_slash))
        .layer(axum::middleware::from_fn_with_state(
            shared,
            crate::server::front,
        ))
}

/// Jira's REST resources answer the same with a trailing slash (`/rest/api/2/myself/`), so the
/// slash is dropped before routing (after the front has rewritten the path).
async fn strip_trailing_slash(mut req: Request) -> Request {
    let path = req.uri().path();
    if path.starts_with("/rest/") && path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let rebuilt = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_owned(),
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(pq) = rebuilt.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}

/// Counters for benchmarks: requests served and 429s given.
async fn stats(state: SharedState) -> Response {
    use std::sync::atomic::Ordering::Relaxed;
    ok(
        json!({"requests": state.requests.load(Relaxed), "writes": state.writes.load(Relaxed), "rate_limited": state.rate_limited.load(Relaxed)}),
    )
}

/// Data Center's Application Links manifest: `id` is the server's application id, stable across
/// restarts and base-URL changes (the store keys a Data Center site by it). Cloud has no such
/// resource.
async fn applinks_manifest(state: SharedState, req: Request) -> Response {
    let id = {
        let site = state.site.read();
        (site.deployment != crate::model::Deployment::Cloud).then(|| site.cloud_id.clone())
    };
    let Some(id) = id else {
        return unmatched(state, req).await;
    };
    ok(json!({
        "id": id, "name": "Jira (jiralink sim)", "typeId": "jira",
        "version": "9.12.15", "buildNumber": 9_120_015, "applinksVersion": "9.1.8",
        "inboundAuthenticationTypes": [], "outboundAuthenticationTypes": [],
        "publicSignup": false, "url": state.base_url,
        "iconUrl": format!("{}/images/64jira.png", state.base_url),
    }))
}

async fn unmatched(state: SharedState, req: Request) -> Response {
    let line = format!("{} {}", req.method(), req.uri());
    tracing::warn!(request = %line, "no simulator route matches");
    state.unmatched.lock().push(line);
    if req.uri().path().starts_with("/rest/")
        && state.cfg.gen.deployment == crate::model::Deployment::Datacenter
    {
        let url = match req.uri().query() {
            Some(q) => format!("{}{}?{q}", state.base_url, req.uri().path()),
            None => format!("{}{}", state.base_url, req.uri().path()),
        };
        return crate::server::dc_unknown_resource(&url);
    }
    if req.uri().path().starts_with("/rest/") {
        no_such_resource(req.method())
    } else {
        crate::server::not_found_page()
    }
}

/// Jira's 404 for a REST resource it does not have; also what a deployment answers for an
/// endpoint only the other deployment serves.
pub fn no_such_resource(method: &Method) -> Response {
    let msg = if method == Method::GET || method == Method::POST {
        "null for uri: the simulator has no such resource"
    } else {
        "The method is not supported for this resource."
    };
    jira_error(StatusCode::NOT_FOUND, &[msg], &[])
}

/// Query parameters, keeping repeats (`fields=a&fields=b`).
#[derive(Debug, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn from_query(q: Option<&str>) -> Params {
        Params(
            q.map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default(),
        )
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
    /// An integer parameter; a malformed value is a 400 like Jira's.
    pub fn int(&self, name: &str, default: i64) -> Result<i64, Response> {
        match self.get(name) {
            None | Some("") => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                bad_request(&format!(
                    "The '{name}' parameter must be a number, got '{v}'."
                ))
            }),
        }
    }
    pub fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Params {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Params::from_query(parts.uri.query()))
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Ctx {
    type Rejection = Response;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Ctx>()
            .cloned()
            .ok_or_else(|| jira_error(StatusCode::UNAUTHORIZED, &["Not authenticated."], &[]))
    }
}

impl Ctx {
    pub fn view<'a>(&'a self, site: &'a Site) -> View<'a> {
        View::new(site, self.caller, self.v3, &self.base).with_sprint_field(self.sprint_field)
    }
    /// The authenticated user (the front lets only serverInfo through anonymously).
    pub fn user(&self) -> UserIx {
        self.caller.unwrap_or(0)
    }
}

/// A JSON body, or Jira's 400 when it does not parse.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> axum::extract::FromRequest<S> for JsonBody {
    type Rejection = Response;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| bad_request("The request body could not be read."))?;
        if bytes.is_empty() {
            return Ok(JsonBody(Value::Null));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| bad_request(&format!("Unexpected character in the request body: {e}")))
    }
}

pub fn ok(v: Value) -> Response {
    axum::Json(v).into_response()
}

pub fn bad_request(msg: &str) -> Response {
    jira_error(StatusCode::BAD_REQUEST, &[msg], &[])
}

pub fn forbidden(msg: &str) -> Response {
    jira_error(StatusCode::FORBIDDEN, &[msg], &[])
}

pub fn issue_not_found() -> Response {
    jira_error(
        StatusCode::NOT_FOUND,
        &["Issue does not exist or you do not have permission to see it."],
        &[],
    )
}

pub fn project_not_found(key: &str) -> Response {
    jira_error(
        StatusCode::NOT_FOUND,
        &[&format!("No project could be found with key '{key}'.")],
        &[],
    )
}

/// A live issue the caller may browse.
pub fn visible<'a>(site: &'a Site, ctx: &Ctx, id_or_key: &str) -> Option<&'a Issue> {
    site.find_issue(id_or_key)
        .filter(|i| site.can_browse(ctx.user(), i.project))
}

/// `startAt`/`maxResults` paging over a list, with Jira's page object (`values` and `isLast`).
pub fn page(values: Vec<Value>, start_at: usize, max_results: usize, total: usize) -> Value {
    let is_last = start_at + values.len() >= total;
    let mut v = counted_page(values, start_at, max_results, total, "values");
    v["isLast"] = is_last.into();
    v
}

/// The page of an issue's comments or worklogs (`PageOfComments`, `PageOfWorklogs`): Jira sends
/// `startAt`, `maxResults` and `total` there, and no `isLast`.
pub fn counted_page(
    values: Vec<Value>,
    start_at: usize,
    max_results: usize,
    total: usize,
    key: &str,
) -> Value {
    let mut v = json!({"startAt": start_at, "maxResults": max_results, "total": total});
    v[key] = Value::Array(values);
    v
}

/// `startAt` and `maxResults` clamped to `[0, cap]`, Jira style.
pub fn paging(p: &Params, default: i64, cap: i64) -> Result<(usize, usize), Response> {
    let start = p.int("startAt", 0)?.max(0) as usize;
    let max = p.int("maxResults", default)?;
    let max = if max < 0 { default } else { max.min(cap) } as usize;
    Ok((start, max))
}
