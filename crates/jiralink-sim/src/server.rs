//! The HTTP front: every request passes here before routing. It strips the gateway prefix or the
//! Data Center context path, adds latency, authenticates, applies the per-identity rate limit and
//! injects faults, in that order, like the layers in front of a real Jira.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use parking_lot::{Mutex, RwLock};
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::model::{Deployment, Site, TokenKind, UserIx, CAPTCHA_THRESHOLD};
use crate::oauth1::OAuthState;
use crate::{FaultKind, SimConfig};

/// State shared by the front and every handler.
pub struct Shared {
    pub site: RwLock<Site>,
    pub oauth: Mutex<OAuthState>,
    pub cfg: SimConfig,
    /// `scheme://host:port` plus the context path.
    pub base_url: String,
    pub gateway_url: String,
    limiter: Mutex<HashMap<String, Bucket>>,
    fault_rng: Mutex<rand::rngs::SmallRng>,
    /// Requests that matched no route (logged so gaps are visible).
    pub unmatched: Mutex<Vec<String>>,
    /// Bumped by every write, so cached search results know they are stale.
    pub generation: std::sync::atomic::AtomicU64,
    /// Matching issue ids of recent searches by (JQL, caller), valid for one generation, so that
    /// paging through a large result costs one evaluation, not one per page.
    pub search_cache: Mutex<HashMap<(String, UserIx), CachedSearch>>,
    pub oauth2: Mutex<crate::oauth2::OAuth2State>,
    /// Set to pause `--mutate-per-s` (tests stop mutating before a final comparison).
    pub mutation_paused: std::sync::atomic::AtomicBool,
    /// How many 429 answers the rate limit gave.
    pub rate_limited: std::sync::atomic::AtomicU64,
    /// Requests served, `/__sim/` excluded (for benchmarks comparing clients).
    pub requests: std::sync::atomic::AtomicU64,
    /// The same by path, a segment with a digit in it (an id, an issue key, a cloud id, the API's
    /// version) read as `*` so that a long run keeps one count per route and project, not one per issue (for tests
    /// of what a client asks for: [`crate::Sim::requests_to`]).
    pub requests_by_path: Mutex<HashMap<String, u64>>,
    /// Of those, write requests (POST, PUT, DELETE other than Jira's read-only POSTs).
    pub writes: std::sync::atomic::AtomicU64,
    /// Every worklog by update time and by id, for `worklog/updated` and `worklog/list`.
    pub worklog_index: Mutex<Option<Arc<WorklogIndex>>>,
}

/// Every worklog of the site, sorted by (updated, id) and by id, with its issue's index in
/// `Site::issues`. Built once per state of the worklogs: `stamp` is `(next_worklog_id, number of
/// deleted worklogs)`, which every add and delete changes, read under the site's lock. Issues moved
/// or deleted since are checked when a page is cut, against the site itself.
pub struct WorklogIndex {
    pub stamp: (u64, usize),
    pub by_time: Vec<(crate::model::Millis, u64, u32)>,
    pub by_id: Vec<(u64, u32)>,
}

impl Shared {
    pub fn new(
        site: Site,
        oauth: OAuthState,
        cfg: SimConfig,
        base_url: String,
        gateway_url: String,
    ) -> Shared {
        let seed = cfg.gen.seed;
        Shared {
            site: RwLock::new(site),
            oauth: Mutex::new(oauth),
            cfg,
            base_url,
            gateway_url,
            limiter: Mutex::new(HashMap::new()),
            fault_rng: Mutex::new(rand::rngs::SmallRng::seed_from_u64(seed ^ 0xFA17)),
            unmatched: Mutex::new(Vec::new()),
            requests_by_path: Mutex::new(HashMap::new()),
            generation: std::sync::atomic::AtomicU64::new(0),
            search_cache: Mutex::new(HashMap::new()),
            oauth2: Mutex::new(crate::oauth2::OAuth2State::default()),
            mutation_paused: std::sync::atomic::AtomicBool::new(false),
            rate_limited: std::sync::atomic::AtomicU64::new(0),
            requests: std::sync::atomic::AtomicU64::new(0),
            writes: std::sync::atomic::AtomicU64::new(0),
            worklog_index: Mutex::new(None),
        }
    }
}

impl Shared {
    /// Marks the site as changed (call after every write).
    pub fn touch(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A search result: the site generation it was computed at, and the matching ids in order.
pub type CachedSearch = (u64, Arc<Vec<crate::model::IssueId>>);

/// Who is calling, how, and what `self` links should look like; inserted as a request extension.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub caller: Option<UserIx>,
    /// REST v3 (Cloud only).
    pub v3: bool,
    /// Base for `self` links (site URL, or gateway URL with `/ex/jira/{cloudId}`).
    pub base: String,
    /// How the sprint custom field is written: objects (Cloud) or Data Center's legacy strings.
    pub sprint_field: crate::render::SprintField,
}

/// The URL a client addressed, kept for handlers that verify OAuth signatures over it.
#[derive(Debug, Clone)]
pub struct OriginalUrl(pub String);

/// Jira's error body.
pub fn jira_error(status: StatusCode, messages: &[&str], errors: &[(&str, &str)]) -> Response {
    let errors: serde_json::Map<String, serde_json::Value> = errors
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    (
        status,
        axum::Json(json!({ "errorMessages": messages, "errors": errors })),
    )
        .into_response()
}

/// A request path with each segment that holds a digit written `*`.
fn path_shape(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg.bytes().any(|b| b.is_ascii_digit()) {
            true => "*",
            false => seg,
        })
        .collect::<Vec<_>>()
        .join("/")
}

pub async fn front(State(shared): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if path.starts_with("/__sim/") {
        return next.run(req).await;
    }
    shared
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    *shared
        .requests_by_path
        .lock()
        .entry(path_shape(&path))
        .or_default() += 1;
    if is_write(req.method(), &path) {
        shared
            .writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    // The simulator's own endpoints also answer under the context path, without auth.
    let cp = shared.cfg.context_path.as_str();
    if let Some(rest) = path
        .strip_prefix(cp)
        .filter(|r| !cp.is_empty() && r.starts_with("/__sim/"))
    {
        *req.uri_mut() = rewrite_uri(req.uri(), rest);
        return next.run(req).await;
    }
    let cfg = &shared.cfg;
    let cloud = cfg.gen.deployment == Deployment::Cloud;

    // Where did the request enter: the gateway, the site (under its context path), or nowhere.
    let cloud_id = shared.site.read().cloud_id.clone();
    let gateway_prefix = format!("/ex/jira/{cloud_id}");
    let (inner, via_gateway, base) = if cloud && path.starts_with("/ex/jira/") {
        match path.strip_prefix(&gateway_prefix) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => (
                rest.to_owned(),
                true,
                format!("{}{}", shared.gateway_url, gateway_prefix),
            ),
            _ => return gateway_unknown_site(),
        }
    } else if cloud
        && (path == "/oauth/token"
            || path == "/oauth/token/accessible-resources"
            || path == "/authorize")
    {
        return next.run(req).await;
    } else if cloud && path == "/_edge/tenant_info" {
        return axum::Json(json!({ "cloudId": cloud_id })).into_response();
    } else {
        let cp = cfg.context_path.as_str();
        match path.strip_prefix(cp) {
            Some(rest) if cp.is_empty() || rest.is_empty() || rest.starts_with('/') => {
                (rest.to_owned(), false, shared.base_url.clone())
            }
            _ => return not_found_page(),
        }
    };

    if cfg.latency_ms > 0 {
        let jitter = shared.fault_rng.lock().gen_range(0.5..1.5);
        tokio::time::sleep(Duration::from_secs_f64(
            cfg.latency_ms as f64 / 1000.0 * jitter,
        ))
        .await;
    }

    let v3 = inner.starts_with("/rest/api/3/");
    if v3 && !cloud {
        return not_found_page();
    }

    if inner.starts_with("/plugins/servlet/oauth/") {
        let url = request_url(&shared, &req);
        req.extensions_mut().insert(OriginalUrl(url));
        let uri = rewrite_uri(req.uri(), &inner);
        *req.uri_mut() = uri;
        req.extensions_mut().insert(Ctx {
            caller: None,
            v3,
            base,
            sprint_field: sprint_field(cfg),
        });
        return next.run(req).await;
    }

    let auth = authenticate(&shared, &req, via_gateway);
    let (caller, scopes) = match auth {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    // Data Center routes a Cloud-only path to nothing (or to a resource that refuses it) after
    // Seraph has authenticated the caller, whether or not anyone signed in.
    if !cloud {
        if let Some(resp) = dc_absent(req.method(), &inner, &request_url_with_query(&shared, &req))
        {
            return resp;
        }
    }
    // serverInfo answers anonymously, as Jira does; everything else needs a user.
    let anonymous_ok = inner.ends_with("/serverInfo")
        || inner.ends_with("/serverInfo/")
        || inner == "/rest/applinks/1.0/manifest";
    if caller.is_none() && !anonymous_ok {
        return unauthenticated(cloud);
    }

    let identity_key = caller
        .map(|u| u.to_string())
        .unwrap_or_else(|| "anonymous".into());
    let limit_headers = match cfg.rate_limit {
        Some(rps) => match take_token(&shared, &identity_key, rps) {
            Ok(remaining) => Some((rps, remaining)),
            Err(retry_after) => {
                shared
                    .rate_limited
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return rate_limited(rps, retry_after);
            }
        },
        None => None,
    };

    // Scoped, service-account and OAuth 2.0 tokens need the scopes Atlassian's specs list for the
    // operation (the classic set or the granular set; see `scopes`).
    if let Some(scopes) = &scopes {
        if !crate::scopes::allows(scopes, req.method().as_str(), &inner) {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"code": 401, "message": "Unauthorized; scope does not match"})),
            )
                .into_response();
        }
    }

    let fault = if cfg.fault_rate > 0.0 && !cfg.fault_kinds.is_empty() {
        let mut rng = shared.fault_rng.lock();
        rng.gen_bool(cfg.fault_rate.min(1.0))
            .then(|| cfg.fault_kinds[rng.gen_range(0..cfg.fault_kinds.len())])
    } else {
        None
    };
    match fault {
        Some(FaultKind::ServerError) => {
            return jira_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &["Internal server error (simulated)"],
                &[],
            )
        }
        Some(FaultKind::BadGateway) => {
            return (
                StatusCode::BAD_GATEWAY,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body><h1>502 Bad Gateway</h1></body></html>",
            )
                .into_response()
        }
        Some(FaultKind::Unavailable) => {
            let mut r = jira_error(
                StatusCode::SERVICE_UNAVAILABLE,
                &["Service unavailable (simulated)"],
                &[],
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return r;
        }
        Some(FaultKind::Reset) => return connection_reset(),
        _ => {}
    }

    let uri = rewrite_uri(req.uri(), &inner);
    *req.uri_mut() = uri;
    req.extensions_mut().insert(Ctx {
        caller,
        v3,
        base,
        sprint_field: sprint_field(cfg),
    });
    let mut resp = next.run(req).await;
    if let Some((rps, remaining)) = limit_headers {
        let h = resp.headers_mut();
        h.insert("x-ratelimit-limit", HeaderValue::from(rps.ceil() as u64));
        h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    }
    if fault == Some(FaultKind::Truncated) {
        return truncate(resp).await;
    }
    // Applied, then the answer is lost: the write committed, the client sees a 504 or a reset.
    if fault == Some(FaultKind::Lost) {
        return if shared.fault_rng.lock().gen_bool(0.5) {
            jira_error(
                StatusCode::GATEWAY_TIMEOUT,
                &["Gateway timeout (simulated)"],
                &[],
            )
        } else {
            connection_reset()
        };
    }
    resp
}

/// Jira's POSTs that only read (search, bulk fetches, permission checks, JQL parsing).
const READ_ONLY_POSTS: [&str; 10] = [
    "/search",
    "/search/jql",
    "/search/approximate-count",
    "/issue/bulkfetch",
    "/changelog/bulkfetch",
    "/comment/list",
    "/worklog/list",
    "/permissions/check",
    "/permissions/project",
    "/jql/parse",
];

/// Whether a request changes the site (counted apart in `/__sim/stats` as `writes`). OAuth token
/// exchanges are not writes to the site.
fn is_write(method: &Method, path: &str) -> bool {
    let p = path.trim_end_matches('/');
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => false,
        Method::POST => {
            !READ_ONLY_POSTS.iter().any(|r| p.ends_with(r))
                && !p.contains("/oauth")
                && !p.ends_with("/token")
        }
        _ => true,
    }
}

/// How this site writes the sprint custom field.
fn sprint_field(cfg: &SimConfig) -> crate::render::SprintField {
    use crate::render::SprintField;
    match cfg.gen.deployment {
        Deployment::Cloud => SprintField::Objects,
        Deployment::Datacenter
            if cfg.dc_version >= crate::DcVersion::SORTED_SPRINT_STRING_SINCE =>
        {
            SprintField::SortedStrings
        }
        Deployment::Datacenter => SprintField::Strings,
    }
}

/// Cloud-only resources under `/rest/api/{2,latest}` (relative paths), which Data Center does not
/// have at all: it answers them as any unknown resource. Checked against Atlassian's Data Center
/// REST reference; the list with sources is in docs/simulator.md, "Deployment differences".
pub const CLOUD_ONLY: [&str; 9] = [
    "/search/jql",
    "/search/approximate-count",
    "/changelog/bulkfetch",
    "/comment/list",
    "/users/search",
    "/permissions/project",
    "/permissions/check",
    "/priority/search",
    "/resolution/search",
];

/// Data Center's answer to a Cloud-only path, or `None` when Data Center serves it.
fn dc_absent(method: &Method, inner: &str, url: &str) -> Option<Response> {
    if inner == "/rest/software/1.0" || inner.starts_with("/rest/software/1.0/") {
        return Some(dc_unknown_resource(url));
    }
    let tail = inner
        .strip_prefix("/rest/api/2")
        .or_else(|| inner.strip_prefix("/rest/api/latest"))?;
    if CLOUD_ONLY.contains(&tail) {
        return Some(dc_unknown_resource(url));
    }
    // Paths Data Center reads as `issue/{issueIdOrKey}` and `project/{projectIdOrKey}`.
    if tail == "/issue/bulkfetch" {
        return Some(if method == Method::GET {
            jira_error(StatusCode::NOT_FOUND, &["Issue Does Not Exist"], &[])
        } else {
            method_not_allowed("DELETE,GET,HEAD,OPTIONS,PUT")
        });
    }
    if tail == "/project/search" {
        return Some(if method == Method::GET {
            jira_error(
                StatusCode::NOT_FOUND,
                &["No project could be found with key 'search'."],
                &[],
            )
        } else {
            method_not_allowed("DELETE,GET,HEAD,OPTIONS,PUT")
        });
    }
    // `issue/{id}/changelog` (Cloud's paged changelog): Data Center embeds the changelog with
    // `expand=changelog` and has no such sub-resource.
    let rest = tail.strip_prefix("/issue/")?;
    match rest.split_once('/') {
        Some((_, "changelog")) => Some(dc_unknown_resource(url)),
        _ => None,
    }
}

/// What Data Center's REST layer (Jersey) answers for a path no resource matches: a 404 whose
/// body names the whole URL, in Jersey's shape rather than Jira's `errorMessages`.
pub fn dc_unknown_resource(url: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"message": format!("null for uri: {url}"), "status-code": 404})),
    )
        .into_response()
}

/// Jersey's answer to a method a matched resource does not have: 405 with an `Allow` header and
/// no body.
fn method_not_allowed(allow: &'static str) -> Response {
    let mut r = StatusCode::METHOD_NOT_ALLOWED.into_response();
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

fn rewrite_uri(uri: &Uri, path: &str) -> Uri {
    let pq = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    pq.parse().unwrap_or_else(|_| Uri::from_static("/"))
}

/// The URL the client addressed (scheme, its Host header, original path), which OAuth signs.
pub fn request_url(shared: &Shared, req: &Request) -> String {
    let scheme = if shared.cfg.tls { "https" } else { "http" };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("{scheme}://{host}{}", req.uri().path())
}

/// The addressed URL with its query, as Jersey quotes it in a 404.
pub fn request_url_with_query(shared: &Shared, req: &Request) -> String {
    let url = request_url(shared, req);
    match req.uri().query() {
        Some(q) => format!("{url}?{q}"),
        None => url,
    }
}

type AuthResult = Result<(Option<UserIx>, Option<Arc<[String]>>), Response>;

fn authenticate(shared: &Shared, req: &Request, via_gateway: bool) -> AuthResult {
    let cloud = shared.cfg.gen.deployment == Deployment::Cloud;
    let Some(authz) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        // OAuth 1.0a parameters may travel in the query string instead (RFC 5849 §3.5.3).
        let in_query = req
            .uri()
            .query()
            .is_some_and(|q| q.contains("oauth_signature="));
        if in_query && !cloud {
            return oauth1(shared, req, None, shared.site.read().now());
        }
        return Ok((None, None));
    };
    let now = shared.site.read().now();
    if let Some(b64) = authz
        .strip_prefix("Basic ")
        .or_else(|| authz.strip_prefix("basic "))
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                bad_credentials(
                    cloud,
                    "The Authorization header is not valid Basic credentials.",
                )
            })?;
        let (login, secret) = decoded.split_once(':').unwrap_or((decoded.as_str(), ""));
        return if cloud {
            basic_cloud(shared, login, secret, via_gateway, now)
        } else {
            basic_dc(shared, login, secret)
        };
    }
    if let Some(token) = authz
        .strip_prefix("Bearer ")
        .or_else(|| authz.strip_prefix("bearer "))
    {
        return bearer(shared, token.trim(), via_gateway, now);
    }
    if authz.starts_with("OAuth ") && !cloud {
        return oauth1(shared, req, Some(authz), now);
    }
    Err(bad_credentials(cloud, "Unsupported authorization scheme."))
}

/// A request signed with OAuth 1.0a (Data Center application links): verified by the simulator's
/// own verifier, with the protocol parameters from the header or the query string.
fn oauth1(shared: &Shared, req: &Request, authz: Option<&str>, now: i64) -> AuthResult {
    let url = request_url(shared, req);
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let signed = crate::oauth1::SignedRequest {
        method: req.method().as_str(),
        url: &url,
        query: &query,
        form: &[],
        authorization: authz,
    };
    let verified = shared.oauth.lock().verify(&signed, now / 1000);
    match verified {
        Ok(crate::oauth1::Verified::AccessToken { user, .. }) => {
            let site = shared.site.read();
            if !site.users[user as usize].active {
                return Err(account_inactive(false));
            }
            Ok((Some(user), None))
        }
        Ok(_) => Err(oauth_problem("permission_unknown")),
        Err(p) => Err(oauth_problem(p.as_str())),
    }
}

fn basic_cloud(
    shared: &Shared,
    email: &str,
    secret: &str,
    via_gateway: bool,
    now: i64,
) -> AuthResult {
    let site = shared.site.read();
    let Some(token) = site.tokens.get(secret) else {
        return Err(bad_credentials(
            true,
            "Client must be authenticated to access this resource.",
        ));
    };
    let user = &site.users[token.user as usize];
    if !user.email.eq_ignore_ascii_case(email) {
        return Err(bad_credentials(
            true,
            "Client must be authenticated to access this resource.",
        ));
    }
    let scopes = match &token.kind {
        TokenKind::ApiToken => None,
        TokenKind::Scoped { scopes } => {
            if !via_gateway {
                // Real Cloud answers a scoped token on the site URL with a bare 401.
                return Err(bad_credentials(
                    true,
                    "Client must be authenticated to access this resource.",
                ));
            }
            Some(Arc::from(scopes.clone()))
        }
        _ => {
            return Err(bad_credentials(
                true,
                "Client must be authenticated to access this resource.",
            ))
        }
    };
    check_token_state(token.revoked, token.expires, now, true)?;
    if !user.active {
        return Err(account_inactive(true));
    }
    Ok((Some(token.user), scopes))
}

fn basic_dc(shared: &Shared, username: &str, password: &str) -> AuthResult {
    let mut site = shared.site.write();
    let Some(ix) = site
        .users
        .iter()
        .position(|u| u.username.eq_ignore_ascii_case(username))
    else {
        return Err(dc_login_failed());
    };
    let user = &mut site.users[ix];
    if user.failed_logins >= CAPTCHA_THRESHOLD {
        let mut r = jira_error(
            StatusCode::FORBIDDEN,
            &["CAPTCHA_CHALLENGE: too many failed logins; sign in through the web UI to answer the CAPTCHA."],
            &[],
        );
        let h = r.headers_mut();
        h.insert(
            "x-seraph-loginreason",
            HeaderValue::from_static("AUTHENTICATION_DENIED"),
        );
        let reason = format!("CAPTCHA_CHALLENGE; login-url={}/login.jsp", shared.base_url);
        h.insert(
            "x-authentication-denied-reason",
            HeaderValue::from_str(&reason).unwrap_or(HeaderValue::from_static("CAPTCHA_CHALLENGE")),
        );
        return Err(r);
    }
    if user.password.as_deref() != Some(password) {
        user.failed_logins += 1;
        return Err(dc_login_failed());
    }
    user.failed_logins = 0;
    if !user.active {
        return Err(account_inactive(false));
    }
    Ok((Some(ix as UserIx), None))
}

fn bearer(shared: &Shared, secret: &str, via_gateway: bool, now: i64) -> AuthResult {
    let site = shared.site.read();
    let cloud = site.deployment == Deployment::Cloud;
    if !cloud && !shared.cfg.dc_version.has_pats() {
        // Before 8.14 Seraph knows no Bearer scheme: the request goes on as anonymous.
        return Ok((None, None));
    }
    let Some(token) = site.tokens.get(secret) else {
        return Err(bad_credentials(
            cloud,
            "Client must be authenticated to access this resource.",
        ));
    };
    let scopes = match &token.kind {
        TokenKind::ServiceAccount { scopes } | TokenKind::OAuth2Access { scopes } if cloud => {
            if !via_gateway {
                return Err(bad_credentials(
                    true,
                    "Client must be authenticated to access this resource.",
                ));
            }
            Some(Arc::from(scopes.clone()))
        }
        TokenKind::Pat if !cloud => None,
        _ => {
            return Err(bad_credentials(
                cloud,
                "Client must be authenticated to access this resource.",
            ))
        }
    };
    check_token_state(token.revoked, token.expires, now, cloud)?;
    if !site.users[token.user as usize].active {
        return Err(account_inactive(cloud));
    }
    Ok((Some(token.user), scopes))
}

/// Expired and revoked tokens get a 401 whose message says so (Data Center PATs and Cloud's
/// token-expiry feature both name the reason).
fn check_token_state(
    revoked: bool,
    expires: Option<i64>,
    now: i64,
    cloud: bool,
) -> Result<(), Response> {
    if revoked {
        return Err(bad_credentials(cloud, "The token has been revoked."));
    }
    if expires.is_some_and(|e| e <= now) {
        return Err(bad_credentials(cloud, "The token has expired."));
    }
    Ok(())
}

fn bad_credentials(cloud: bool, message: &str) -> Response {
    let reason = if cloud {
        BASIC_CHALLENGE
    } else {
        seraph("AUTHENTICATED_FAILED")
    };
    unauthorized(message, Some(reason))
}

/// Jira's 401 with `message`, and the header that goes with it, if any.
fn unauthorized(message: &str, header: Option<(&'static str, &'static str)>) -> Response {
    let mut r = jira_error(StatusCode::UNAUTHORIZED, &[message], &[]);
    if let Some((name, value)) = header {
        r.headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    r
}

/// Cloud's challenge on a refused or missing login.
const BASIC_CHALLENGE: (&str, &str) = ("www-authenticate", "Basic realm=\"Jira\"");

/// Data Center's `X-Seraph-LoginReason` header.
fn seraph(reason: &'static str) -> (&'static str, &'static str) {
    ("x-seraph-loginreason", reason)
}

fn dc_login_failed() -> Response {
    let mut r = (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "text/html;charset=UTF-8")],
        "<html><body>Basic Authentication Failure - Reason : AUTHENTICATED_FAILED</body></html>",
    )
        .into_response();
    r.headers_mut().insert(
        "x-seraph-loginreason",
        HeaderValue::from_static("AUTHENTICATED_FAILED"),
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("BASIC realm=\"protected-area\""),
    );
    r
}

fn account_inactive(cloud: bool) -> Response {
    let reason = (!cloud).then(|| seraph("AUTHENTICATION_DENIED"));
    unauthorized("The user account is inactive (deactivated).", reason)
}

fn unauthenticated(cloud: bool) -> Response {
    unauthorized(
        "You are not authenticated. Authentication required to perform this operation.",
        cloud.then_some(BASIC_CHALLENGE),
    )
}

fn oauth_problem(problem: &str) -> Response {
    let mut r = (StatusCode::UNAUTHORIZED, format!("oauth_problem={problem}")).into_response();
    let v = format!("OAuth realm=\"jira\", oauth_problem=\"{problem}\"");
    if let Ok(v) = HeaderValue::from_str(&v) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

fn gateway_unknown_site() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"code": 404, "message": "Site not found"})),
    )
        .into_response()
}

/// What Jira's web tier answers for a path outside the application (HTML, not JSON).
pub fn not_found_page() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/html;charset=UTF-8")],
        "<html><head><title>Oops, you've found a dead link. - Jira</title></head><body>Oops, you've found a dead link.</body></html>",
    )
        .into_response()
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token bucket per identity: `rps` tokens per second, burst of one second's worth.
fn take_token(shared: &Shared, key: &str, rps: f64) -> Result<u64, Duration> {
    take_token_at(&shared.limiter, key, rps, Instant::now())
}

fn take_token_at(
    limiter: &Mutex<HashMap<String, Bucket>>,
    key: &str,
    rps: f64,
    now: Instant,
) -> Result<u64, Duration> {
    let mut map = limiter.lock();
    let b = map.entry(key.to_owned()).or_insert(Bucket {
        tokens: rps,
        at: now,
    });
    b.tokens =
        (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rps).min(rps.max(1.0));
    b.at = b.at.max(now);
    if b.tokens >= 1.0 {
        b.tokens -= 1.0;
        Ok(b.tokens.floor() as u64)
    } else {
        Err(Duration::from_secs_f64((1.0 - b.tokens) / rps))
    }
}

fn rate_limited(rps: f64, retry_after: Duration) -> Response {
    let mut r = jira_error(
        StatusCode::TOO_MANY_REQUESTS,
        &["Rate limit exceeded."],
        &[],
    );
    let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
    let reset = chrono::Utc::now() + chrono::Duration::milliseconds(retry_after.as_millis() as i64);
    let h: &mut HeaderMap = r.headers_mut();
    h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    h.insert("x-ratelimit-limit", HeaderValue::from(rps.ceil() as u64));
    h.insert("x-ratelimit-remaining", HeaderValue::from(0u64));
    if let Ok(v) = HeaderValue::from_str(&reset.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()) {
        h.insert("x-ratelimit-reset", v);
    }
    h.insert(
        "ratelimit-reason",
        HeaderValue::from_static("jira-burst-based"),
    );
    r
}

#[derive(Debug)]
struct SimulatedFault;
impl std::fmt::Display for SimulatedFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("simulated fault")
    }
}
impl std::error::Error for SimulatedFault {}

/// The connection drops before any body byte arrives.
fn connection_reset() -> Response {
    let stream = futures_util::stream::once(async { Err::<bytes::Bytes, _>(SimulatedFault) });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The connection drops halfway through the body, after a correct status and length.
async fn truncate(resp: Response) -> Response {
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return connection_reset();
    };
    let half = bytes.slice(..bytes.len() / 2);
    let total = bytes.len();
    let stream = futures_util::stream::iter(vec![Ok(half), Err(SimulatedFault)]);
    let mut r = Response::from_parts(parts, Body::from_stream(stream));
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(total));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids, issue keys and cloud ids share one count per route (the API's version reads `*` too);
    /// names do not.
    #[test]
    fn request_paths_are_counted_by_shape() {
        assert_eq!(
            path_shape("/rest/api/3/issue/ENG-12/worklog"),
            "/rest/api/*/issue/*/worklog"
        );
        assert_eq!(
            path_shape("/ex/jira/0a1b-c2/rest/api/3/worklog/list"),
            "/ex/jira/*/rest/api/*/worklog/list"
        );
        assert_eq!(
            path_shape("/rest/api/3/project/WEB"),
            "/rest/api/*/project/WEB"
        );
    }

    fn bucket_shared(rps: f64) -> (Mutex<HashMap<String, Bucket>>, f64) {
        (Mutex::new(HashMap::new()), rps)
    }

    #[test]
    fn token_bucket_allows_a_burst_then_refills_at_the_rate() {
        let (map, rps) = bucket_shared(10.0);
        let t0 = Instant::now();
        let granted = (0..15)
            .filter(|_| take_token_at(&map, "a", rps, t0).is_ok())
            .count();
        assert_eq!(granted, 10, "a burst of one second's worth");
        let wait = take_token_at(&map, "a", rps, t0).expect_err("empty bucket");
        assert!(
            wait <= Duration::from_millis(100) && wait > Duration::ZERO,
            "{wait:?}"
        );
        // Another identity has its own bucket.
        assert!(take_token_at(&map, "b", rps, t0).is_ok());
        // After 0.5 s, five more.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(
            (0..10)
                .filter(|_| take_token_at(&map, "a", rps, t1).is_ok())
                .count(),
            5
        );
    }

    #[test]
    fn expired_and_revoked_tokens_are_refused_with_their_reason() {
        assert!(check_token_state(false, None, 1000, true).is_ok());
        assert!(check_token_state(false, Some(2000), 1000, true).is_ok());
        let expired = check_token_state(false, Some(1000), 1000, true).expect_err("expired");
        assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
        let revoked = check_token_state(true, Some(5000), 1000, false).expect_err("revoked");
        assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            revoked.headers()["x-seraph-loginreason"],
            "AUTHENTICATED_FAILED"
        );
    }
}
