//! Issue search: Cloud's enhanced `search/jql` (nextPageToken, no total), `search/approximate-count`,
//! and the startAt-paged `search` of Data Center (removed on Cloud: 410 unless `--legacy-search`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::{bad_request, ok, JsonBody, Params, SharedState};
use crate::jql;
use crate::model::{Deployment, IssueId, Site, UserIx};
use crate::render::{Expand, FieldSelection, CLOUD_SEARCH_CAPS, DC_CAPS};
use crate::server::{jira_error, Ctx, Shared};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/search/jql", get(search_jql_get).post(search_jql_post))
        .route("/search/approximate-count", post(approximate_count))
        .route("/search", get(search_get).post(search_post))
}

/// Largest page for id/key-only searches and for searches returning fields.
const IDS_ONLY_PAGE_CAP: usize = 5000;
const FIELDS_PAGE_CAP: usize = 100;
const CACHE_ENTRIES: usize = 256;

/// The ids of the issues a JQL query matches, in its order (cached per site generation).
fn matching(
    shared: &Shared,
    site: &Site,
    user: UserIx,
    jql_text: &str,
    cloud_enhanced: bool,
) -> Result<Arc<Vec<IssueId>>, Response> {
    let generation = shared.generation.load(Ordering::Relaxed);
    let key = (jql_text.to_owned(), user);
    if let Some((g, ids)) = shared.search_cache.lock().get(&key) {
        if *g == generation {
            return Ok(ids.clone());
        }
    }
    let query = jql::parse(jql_text, site.deployment).map_err(|e| bad_request(&e.0))?;
    if cloud_enhanced && !query.is_bounded() {
        return Err(bad_request("Unbounded JQL queries are not allowed here. Please add a search restriction to your query."));
    }
    let ctx = jql::Ctx {
        site,
        user,
        now: site.now(),
    };
    let compiled = query.compile(&ctx).map_err(|e| bad_request(&e.0))?;
    let candidates: Box<dyn Iterator<Item = &crate::model::Issue>> = match query.projects(&ctx) {
        Some(projects) => Box::new(
            site.issues
                .iter()
                .filter(move |i| projects.contains(&i.project)),
        ),
        None => Box::new(site.issues.iter()),
    };
    let mut ids: Vec<IssueId> = candidates
        .filter(|i| {
            i.deleted.is_none() && site.can_browse(user, i.project) && compiled.matches(site, i)
        })
        .map(|i| i.id)
        .collect();
    query.sort(&ctx, &mut ids);
    let ids = Arc::new(ids);
    let mut cache = shared.search_cache.lock();
    if cache.len() >= CACHE_ENTRIES {
        cache.clear();
    }
    cache.insert(key, (generation, ids.clone()));
    Ok(ids)
}

/// Parameters common to GET (query string) and POST (body) searches.
struct SearchRequest {
    jql: String,
    next_page_token: Option<String>,
    start_at: usize,
    max_results: Option<usize>,
    fields: Vec<String>,
    expand: Vec<String>,
    properties: Vec<String>,
}

impl SearchRequest {
    fn from_params(p: &Params) -> Result<SearchRequest, Response> {
        Ok(SearchRequest {
            jql: p.get("jql").unwrap_or("").to_owned(),
            next_page_token: p.get("nextPageToken").map(str::to_owned),
            start_at: p.int("startAt", 0)?.max(0) as usize,
            max_results: match p.get("maxResults") {
                Some(_) => Some(p.int("maxResults", 50)?.max(0) as usize),
                None => None,
            },
            fields: p.all("fields"),
            expand: p.all("expand"),
            properties: p.all("properties"),
        })
    }

    fn from_body(b: &Value) -> Result<SearchRequest, Response> {
        let list = |v: Option<&Value>| -> Vec<String> {
            match v {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect(),
                Some(Value::String(s)) => vec![s.clone()],
                _ => Vec::new(),
            }
        };
        let int = |name: &str| -> Result<Option<usize>, Response> {
            match b.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_i64()
                    .map(|n| Some(n.max(0) as usize))
                    .ok_or_else(|| bad_request(&format!("'{name}' must be a number."))),
            }
        };
        Ok(SearchRequest {
            jql: b
                .get("jql")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            next_page_token: b
                .get("nextPageToken")
                .and_then(Value::as_str)
                .map(str::to_owned),
            start_at: int("startAt")?.unwrap_or(0),
            max_results: int("maxResults")?,
            fields: list(b.get("fields")),
            expand: list(b.get("expand")),
            properties: list(b.get("properties")),
        })
    }
}

async fn search_jql_get(state: SharedState, ctx: Ctx, p: Params) -> Response {
    SearchRequest::from_params(&p).map_or_else(|e| e, |r| search_jql(&state, &ctx, r))
}

async fn search_jql_post(state: SharedState, ctx: Ctx, JsonBody(b): JsonBody) -> Response {
    SearchRequest::from_body(&b).map_or_else(|e| e, |r| search_jql(&state, &ctx, r))
}

fn selection(r: &SearchRequest, default_all: bool) -> FieldSelection {
    let mut fields = FieldSelection::parse(&r.fields, default_all);
    fields.properties = r
        .properties
        .iter()
        .flat_map(|s| s.split(',').map(str::to_owned))
        .collect();
    fields
}

fn search_jql(shared: &Shared, ctx: &Ctx, r: SearchRequest) -> Response {
    let site = shared.site.read();
    let ids = match matching(
        shared,
        &site,
        ctx.user(),
        &r.jql,
        site.deployment == Deployment::Cloud,
    ) {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    // Enhanced search returns only ids unless fields are asked for.
    let fields = selection(&r, false);
    let cap = if fields.ids_only() {
        IDS_ONLY_PAGE_CAP
    } else {
        FIELDS_PAGE_CAP
    };
    let max = r.max_results.unwrap_or(50).clamp(1, cap);
    let binding = search_binding(ctx.user(), &r);
    let start = match &r.next_page_token {
        Some(t) if !t.is_empty() => match open_token(&binding, t, shared.cfg.page_token_ttl_s) {
            Ok((offset, last)) => resume(&ids, offset, last),
            Err(e) => return e,
        },
        _ => 0,
    };
    let expand = Expand::parse(&r.expand);
    let issues = render_page(&site, ctx, &ids, start, max, &fields, &expand);
    let end = (start + max).min(ids.len());
    let mut out = EnhancedPage {
        issues,
        next_page_token: (end < ids.len()).then(|| seal_token(&binding, end, ids[end - 1])),
        is_last: end >= ids.len(),
        names: None,
    };
    if expand.names {
        out.names = crate::render::field_list()
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| Some((f["id"].as_str()?.to_owned(), f["name"].clone())))
                    .collect()
            })
            .map(Value::Object);
    }
    axum::Json(out).into_response()
}

/// The 400 for a `nextPageToken` that is garbage, expired, or from another query. Cloud answers
/// such a token with a 400 naming it; its exact text is not in public sources, so this one is ours.
pub const BAD_TOKEN: &str = "The nextPageToken is invalid or expired.";

/// The key of this process's token seals: tokens are opaque and cannot be forged or edited.
static TOKEN_KEY: std::sync::LazyLock<std::collections::hash_map::RandomState> =
    std::sync::LazyLock::new(Default::default);

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A continuation token for every token-paged endpoint: a cursor (`position`, and `last`, the
/// last item returned, so that paging stays complete while the site changes) sealed with the
/// query it continues (`binding`: endpoint, caller, JQL, fields, expand, properties ...) and the
/// time it was issued. Opaque to clients, like Cloud's.
pub fn seal_token(binding: &str, position: usize, last: u64) -> String {
    use base64::Engine;
    use std::hash::BuildHasher;
    let issued = now_ms();
    let mac = TOKEN_KEY.hash_one((binding, issued, position as u64, last));
    let mut raw = Vec::with_capacity(32);
    for part in [issued as u64, position as u64, last, mac] {
        raw.extend_from_slice(&part.to_le_bytes());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// The cursor of a token issued for `binding` less than `ttl_s` seconds ago; anything else
/// (garbage, a token of another query, an expired one) is Cloud's 400.
pub fn open_token(binding: &str, token: &str, ttl_s: u64) -> Result<(usize, u64), Response> {
    use base64::Engine;
    use std::hash::BuildHasher;
    let bad = || bad_request(BAD_TOKEN);
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    if raw.len() != 32 {
        return Err(bad());
    }
    let word = |n: usize| u64::from_le_bytes(raw[n * 8..n * 8 + 8].try_into().expect("8 bytes"));
    let (issued, position, last, mac) = (word(0) as i64, word(1), word(2), word(3));
    if TOKEN_KEY.hash_one((binding, issued, position, last)) != mac {
        return Err(bad());
    }
    let age = now_ms().saturating_sub(issued);
    if age < 0 || age >= (ttl_s as i64).saturating_mul(1000) {
        return Err(bad());
    }
    Ok((position as usize, last))
}

/// What a `search/jql` token is bound to: the caller and everything that shapes the result.
fn search_binding(user: UserIx, r: &SearchRequest) -> String {
    format!(
        "search/jql\n{user}\n{}\n{}\n{}\n{}",
        r.jql,
        list_binding(&r.fields),
        list_binding(&r.expand),
        list_binding(&r.properties)
    )
}

/// A list parameter as one text, the same whether sent repeated, comma-separated or as an array.
pub fn list_binding(values: &[String]) -> String {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

/// Where the next page starts: after the last issue returned, wherever it is now.
pub(super) fn resume(ids: &[IssueId], offset: usize, last: IssueId) -> usize {
    if offset > 0 && ids.get(offset - 1) == Some(&last) {
        return offset;
    }
    if let Some(p) = ids.iter().position(|i| *i == last) {
        return p + 1;
    }
    // The last issue is gone: in id order, continue after its id; otherwise keep the offset.
    if ids.windows(2).all(|w| w[0] < w[1]) {
        return ids.partition_point(|i| *i <= last);
    }
    offset.min(ids.len())
}

/// A page of Cloud's enhanced search; issues are pre-rendered JSON.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct EnhancedPage {
    issues: Vec<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
    is_last: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    names: Option<Value>,
}

/// A page of the startAt-paged search.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LegacyPage {
    pub expand: &'static str,
    pub start_at: usize,
    pub max_results: usize,
    pub total: usize,
    pub issues: Vec<Box<RawValue>>,
}

pub(super) fn render_page(
    site: &Site,
    ctx: &Ctx,
    ids: &[IssueId],
    start: usize,
    max: usize,
    fields: &FieldSelection,
    expand: &Expand,
) -> Vec<Box<RawValue>> {
    let view = ctx.view(site);
    let caps = if site.deployment == Deployment::Cloud {
        CLOUD_SEARCH_CAPS
    } else {
        DC_CAPS
    };
    ids.iter()
        .skip(start)
        .take(max)
        .filter_map(|id| site.issue(*id))
        .map(|issue| {
            if fields.ids_only() && !expand.changelog {
                let mut v = json!({
                    "expand": "", "id": issue.id.to_string(),
                    "self": format!("{}/rest/api/{}/issue/{}", ctx.base, if ctx.v3 { 3 } else { 2 }, issue.id),
                    "fields": {},
                });
                if fields.include.iter().any(|f| f == "key") {
                    v["key"] = json!(site.issue_key(issue));
                }
                serde_json::value::to_raw_value(&v).expect("a JSON value serializes")
            } else {
                view.issue(issue, fields, expand, caps)
            }
        })
        .collect()
}

async fn approximate_count(state: SharedState, ctx: Ctx, JsonBody(b): JsonBody) -> Response {
    let Some(jql_text) = b.get("jql").and_then(Value::as_str) else {
        return bad_request("The request body must have a 'jql' string.");
    };
    let site = state.site.read();
    match matching(&state, &site, ctx.user(), jql_text, true) {
        Ok(ids) => ok(json!({ "count": ids.len() })),
        Err(e) => e,
    }
}

fn legacy_gone() -> Response {
    jira_error(
        StatusCode::GONE,
        &["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"],
        &[],
    )
}

async fn search_get(state: SharedState, ctx: Ctx, p: Params) -> Response {
    SearchRequest::from_params(&p).map_or_else(|e| e, |r| legacy_search(&state, &ctx, r))
}

async fn search_post(state: SharedState, ctx: Ctx, JsonBody(b): JsonBody) -> Response {
    SearchRequest::from_body(&b).map_or_else(|e| e, |r| legacy_search(&state, &ctx, r))
}

/// The startAt-paged search: Data Center's, and Cloud's before its removal.
fn legacy_search(shared: &Shared, ctx: &Ctx, r: SearchRequest) -> Response {
    let cloud = shared.cfg.gen.deployment == Deployment::Cloud;
    if cloud && !shared.cfg.legacy_search {
        return legacy_gone();
    }
    let site = shared.site.read();
    let ids = match matching(shared, &site, ctx.user(), &r.jql, false) {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    let fields = selection(&r, true);
    let cap = if cloud {
        FIELDS_PAGE_CAP
    } else {
        shared.cfg.dc_max_results
    };
    let max = r.max_results.unwrap_or(50).min(cap);
    let expand = Expand::parse(&r.expand);
    let issues = render_page(&site, ctx, &ids, r.start_at, max, &fields, &expand);
    axum::Json(LegacyPage {
        expand: "schema,names",
        start_at: r.start_at,
        max_results: max,
        total: ids.len(),
        issues,
    })
    .into_response()
}
