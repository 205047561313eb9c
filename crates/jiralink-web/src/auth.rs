//! Who is calling: argon2id passwords, server-side sessions (HttpOnly SameSite=Strict cookies),
//! API tokens, the CSRF token every state-changing request of a session carries, sign-in
//! throttling, the trusted reverse proxy's user header, and the security headers every answer
//! gets.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::App;

pub const SESSION_COOKIE: &str = "jiralink_session";
/// The header a session's state-changing request carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
const SESSION_HOURS: i64 = 12;
/// Failed sign-ins allowed per account, and per client address (a team behind one NAT or proxy
/// shares one), in [`THROTTLE_WINDOW`].
const THROTTLE_FAILURES: u32 = 5;
const THROTTLE_ADDR_FAILURES: u32 = 30;
const THROTTLE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// What a user may do: admin (users, every credential), member (their own credentials, syncs,
/// dashboards), viewer (dashboards).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Member,
    Viewer,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            "viewer" => Ok(Role::Viewer),
            _ => Err(format!("'{s}' is not a role: use admin, member or viewer")),
        }
    }
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }
}

/// 32 random bytes, hex: session ids, CSRF tokens, API tokens, link tokens.
pub fn new_secret() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// The argon2id hash (PHC string) of a password, with a random salt.
pub fn hash_password(password: &SecretString) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash to verify against when the account does not exist, so that both cases take as long.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password(&SecretString::from("not a password")).unwrap_or_default())
}

/// A time `secs` from now, in the store's format (comparable as text).
pub fn expiry_in(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// A user name: letters, digits, '-', '_', '.', '@', up to 64.
pub fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
}

pub fn put_user(
    app: &App,
    name: &str,
    role: Role,
    password: Option<&SecretString>,
) -> Result<bool, String> {
    if !valid_user_name(name) {
        return Err(format!(
            "'{name}' is not a valid user name: use letters, digits, '-', '_', '.' and '@', up to 64"
        ));
    }
    let hash = match password {
        Some(p) => {
            if p.expose_secret().chars().count() < 10 {
                return Err("the password is too short: use at least 10 characters".into());
            }
            Some(hash_password(p)?)
        }
        None => None,
    };
    app.accounts()
        .web_put_user(name, role.as_str(), hash.as_deref())
        .map_err(|e| e.to_string())
}

/// Failed sign-ins by account and by client address.
#[derive(Default)]
pub struct Throttle(parking_lot::Mutex<HashMap<String, (u32, Instant)>>);

impl Throttle {
    /// `Err(seconds to wait)` when `key` failed too often lately.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let map = self.0.lock();
        match map.get(key) {
            Some((n, since))
                if *n
                    >= if key.starts_with("addr:") {
                        THROTTLE_ADDR_FAILURES
                    } else {
                        THROTTLE_FAILURES
                    }
                    && since.elapsed() < THROTTLE_WINDOW =>
            {
                Err((THROTTLE_WINDOW - since.elapsed()).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    pub fn fail(&self, key: &str) {
        let mut map = self.0.lock();
        let e = map.entry(key.to_owned()).or_insert((0, Instant::now()));
        if e.1.elapsed() >= THROTTLE_WINDOW {
            *e = (0, Instant::now());
        }
        e.0 += 1;
    }

    pub fn clear(&self, key: &str) {
        self.0.lock().remove(key);
    }
}

/// An API error: the HTTP status and a JSON body naming the problem and the fix.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} does not exist or is not yours"),
        )
    }
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!("web app: {e}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed; its log says why",
        )
    }
}

impl From<jiralink_store::StoreError> for ApiError {
    fn from(e: jiralink_store::StoreError) -> ApiError {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(json!({"error": self.code, "message": self.message})),
        )
            .into_response();
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        r
    }
}

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    /// The session's CSRF token (`None` for an API token, which is not sent by browsers on
    /// their own and so needs none).
    pub csrf: Option<String>,
}

impl Caller {
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "a {} may not do this; ask an admin",
                self.role.as_str()
            )))
        }
    }
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The caller of a request, by API token (`Authorization: Bearer`) or session cookie; a session's
/// request other than GET/HEAD must carry the session's CSRF token in `X-CSRF-Token`.
pub fn caller(app: &App, parts: &Parts) -> Result<Caller, ApiError> {
    let unauthorized = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "not_signed_in",
            "sign in first (or send an API token as 'Authorization: Bearer TOKEN')",
        )
    };
    if let Some(c) = proxy_caller(app, parts)? {
        return Ok(c);
    }
    if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
        let token = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(unauthorized)?;
        let user = app
            .accounts()
            .web_token_user(&sha256_hex(token.trim()))?
            .ok_or_else(unauthorized)?;
        return Ok(Caller {
            role: user.role.parse().map_err(ApiError::internal)?,
            name: user.name,
            csrf: None,
        });
    }
    let id = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(unauthorized)?;
    let session = app
        .accounts()
        .web_session(&sha256_hex(&id))?
        .ok_or_else(unauthorized)?;
    check_csrf(parts, &session.csrf)?;
    Ok(Caller {
        role: session.user.role.parse().map_err(ApiError::internal)?,
        name: session.user.name,
        csrf: Some(session.csrf),
    })
}

/// The caller a trusted reverse proxy names in its user header: honoured only from a peer inside
/// the configured network (from any other peer the header is ignored, as if absent). A name seen
/// for the first time becomes a viewer (an admin may raise the role); an existing account keeps
/// its role. The browser behind the proxy still needs a CSRF token for state-changing requests
/// (the proxy's own sign-in cookie would ride along on a cross-site form): one derived from the
/// user and the app's per-process secret, given in `GET /api/me` and the pages.
fn proxy_caller(app: &App, parts: &Parts) -> Result<Option<Caller>, ApiError> {
    let Some(proxy) = &app.trusted_proxy else {
        return Ok(None);
    };
    let Some(value) = parts.headers.get(proxy.header.as_str()) else {
        return Ok(None);
    };
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if !peer.is_some_and(|ip| proxy.network.contains(ip)) {
        tracing::debug!(peer = ?peer, "user header from a peer outside --trusted-proxy: ignored");
        return Ok(None);
    }
    let name = value.to_str().unwrap_or_default().trim();
    if !valid_user_name(name) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "not_signed_in",
            "the proxy's user header names no valid user (letters, digits, '-', '_', '.', '@', up to 64)",
        ));
    }
    let existing = app.accounts().web_user(name)?;
    let role = match existing {
        Some(u) => u.role.parse().map_err(ApiError::internal)?,
        None => {
            app.accounts()
                .web_put_user(name, Role::Viewer.as_str(), None)?;
            app.accounts().web_audit(
                name,
                "user-add",
                name,
                "ok (first seen through the trusted proxy, viewer)",
            )?;
            Role::Viewer
        }
    };
    let csrf = sha256_hex(&format!("{}:proxy-csrf:{name}", app.proxy_secret));
    check_csrf(parts, &csrf)?;
    Ok(Some(Caller {
        name: name.to_owned(),
        role,
        csrf: Some(csrf),
    }))
}

/// A request other than GET/HEAD must carry `expected` in `X-CSRF-Token`.
fn check_csrf(parts: &Parts, expected: &str) -> Result<(), ApiError> {
    if matches!(parts.method, Method::GET | Method::HEAD) {
        return Ok(());
    }
    let sent = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if constant_time_eq(sent, expected) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "the request lacks the page's CSRF token (X-CSRF-Token); reload the page",
        ))
    }
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Caller, ApiError> {
        caller(app, parts)
    }
}

/// A page's signed-in user; a page asked for without a session goes to the sign-in page.
pub struct PageUser(pub Caller);

impl FromRequestParts<Arc<App>> for PageUser {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<PageUser, Response> {
        match caller(app, parts) {
            Ok(c) => Ok(PageUser(c)),
            Err(e) if e.status == StatusCode::UNAUTHORIZED => {
                Err(Redirect::to("/signin").into_response())
            }
            Err(e) => Err(e.into_response()),
        }
    }
}

/// Starts a session for `user`: the `Set-Cookie` value.
pub fn start_session(app: &App, user: &str) -> Result<String, ApiError> {
    let id = new_secret();
    app.accounts().web_create_session(
        &sha256_hex(&id),
        user,
        &new_secret(),
        &expiry_in(SESSION_HOURS * 3600),
    )?;
    Ok(format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_HOURS * 3600,
        if app.secure_cookies { "; Secure" } else { "" }
    ))
}

pub fn end_session(app: &App, headers: &HeaderMap) -> Result<String, ApiError> {
    if let Some(id) = cookie(headers, SESSION_COOKIE) {
        app.accounts().web_delete_session(&sha256_hex(&id))?;
    }
    Ok(format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if app.secure_cookies { "; Secure" } else { "" }
    ))
}

/// Checks a name and password, throttled per account and per client address.
pub fn sign_in(app: &App, name: &str, password: &str, client: &str) -> Result<(), ApiError> {
    for key in [format!("user:{name}"), format!("addr:{client}")] {
        if let Err(wait) = app.throttle.check(&key) {
            let _ = app.accounts().web_audit(name, "sign-in", "", "throttled");
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                format!("too many failed sign-ins; try again in {wait} s"),
            );
            e.retry_after = Some(wait);
            return Err(e);
        }
    }
    let user = app.accounts().web_user(name)?;
    let hash = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_owned());
    if user.is_some() && verify_password(password, &hash) {
        app.throttle.clear(&format!("user:{name}"));
        app.accounts().web_audit(name, "sign-in", "", "ok")?;
        return Ok(());
    }
    if user.is_none() {
        // Same work as a real check, so the answer's time does not tell which names exist.
        verify_password(password, &hash);
    }
    app.throttle.fail(&format!("user:{name}"));
    app.throttle.fail(&format!("addr:{client}"));
    app.accounts()
        .web_audit(name, "sign-in", "", "wrong name or password")?;
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "bad_sign_in",
        "wrong name or password",
    ))
}

/// The client address of a request (for throttling; "unknown" without connect info).
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<ClientAddr, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        ))
    }
}

/// The per-request nonce pages put on their `<script>` and `<style>` tags.
#[derive(Clone)]
pub struct Nonce(pub String);

/// Strict CSP (scripts and styles only from the app or with the request's nonce), no framing,
/// no sniffing, no referrer, and no caching of anything but the embedded assets.
pub async fn security_headers(
    State(_app): State<Arc<App>>,
    mut req: Request,
    next: Next,
) -> Response {
    let nonce = new_secret()[..32].to_owned();
    req.extensions_mut().insert(Nonce(nonce.clone()));
    let asset = req.uri().path().starts_with("/assets/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let csp = format!(
        "default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; style-src-attr 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if asset {
            "public, max-age=3600"
        } else {
            "no-store"
        }),
    );
    res
}
