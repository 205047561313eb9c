//! OAuth 2.0 (3LO) for Cloud apps: the consent page (`/authorize`, as auth.atlassian.com serves
//! it: registered callback URLs only, `audience=api.atlassian.com`, `response_type=code`), the
//! token endpoint with the authorization-code grant (codes used once, for 10 minutes) and
//! refresh-token rotation (a used refresh token stops working, as on Atlassian's), and
//! `accessible-resources` naming the site's cloudId.
//! Access tokens are Bearer tokens the gateway accepts, with the scopes the grant carries.

use std::collections::HashMap;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use rand::Rng;
use serde_json::{json, Value};
use std::sync::Arc;

use crate::model::{Token, TokenKind, UserIx};
use crate::server::Shared;

#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    user: UserIx,
    scopes: Vec<String>,
}

/// Registered OAuth apps and live refresh tokens.
#[derive(Debug, Default)]
pub struct OAuth2State {
    clients: HashMap<String, String>,
    refresh_tokens: HashMap<String, Grant>,
    /// The callback URLs registered per app (the developer console's "Callback URL").
    callbacks: HashMap<String, Vec<String>>,
    /// Authorization codes: the grant, the redirect URI they were issued for, their expiry.
    codes: HashMap<String, (Grant, String, i64)>,
}

/// Authorization codes live 10 minutes.
const CODE_TTL_MS: i64 = 600_000;

/// Access tokens live one hour, as Atlassian's do.
const ACCESS_TTL_MS: i64 = 3_600_000;

fn random_token(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let body: String = (0..48)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{body}")
}

impl OAuth2State {
    /// Registers an app and an already granted refresh token for `user`; returns
    /// (client_id, client_secret, refresh_token).
    pub fn seed(&mut self, user: UserIx, scopes: Vec<String>) -> (String, String, String) {
        let client_id = random_token("");
        let secret = random_token("ATOA");
        let refresh = random_token("eyR");
        self.clients.insert(client_id.clone(), secret.clone());
        self.refresh_tokens.insert(
            refresh.clone(),
            Grant {
                client_id: client_id.clone(),
                user,
                scopes,
            },
        );
        (client_id, secret, refresh)
    }

    /// Registers a callback URL of an app (as the developer console does); `false` for an
    /// unknown app.
    pub fn add_callback(&mut self, client_id: &str, url: &str) -> bool {
        if !self.clients.contains_key(client_id) {
            return false;
        }
        self.callbacks
            .entry(client_id.to_owned())
            .or_default()
            .push(url.to_owned());
        true
    }
}

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/authorize", get(authorize).post(consent))
        .route("/oauth/token", post(token))
        .route(
            "/oauth/token/accessible-resources",
            get(accessible_resources),
        )
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// `POST /oauth/token` with `grant_type=refresh_token` (JSON or form body).
async fn token(
    state: axum::extract::State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let params: HashMap<String, String> = if form {
        url::form_urlencoded::parse(&body).into_owned().collect()
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(o)) => o
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
                .collect(),
            _ => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "The body must be JSON or form-encoded.",
                )
            }
        }
    };
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
    if !matches!(get("grant_type"), "refresh_token" | "authorization_code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant type: use authorization_code or refresh_token.",
        );
    }
    let mut oauth = state.oauth2.lock();
    if oauth
        .clients
        .get(get("client_id"))
        .is_none_or(|s| s != get("client_secret"))
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "access_denied",
            "Unauthorized: unknown client or wrong client secret.",
        );
    }
    if get("grant_type") == "authorization_code" {
        // A code works once, for its client and the redirect URI it was issued for.
        let now = state.site.read().now();
        let Some((grant, redirect, expires)) = oauth.codes.remove(get("code")) else {
            return oauth_error(
                StatusCode::FORBIDDEN,
                "invalid_grant",
                "Invalid authorization code",
            );
        };
        if grant.client_id != get("client_id") || redirect != get("redirect_uri") || expires <= now
        {
            return oauth_error(
                StatusCode::FORBIDDEN,
                "invalid_grant",
                "Invalid authorization code",
            );
        }
        let refresh = grant
            .scopes
            .iter()
            .any(|s| s == "offline_access")
            .then(|| random_token("eyR"));
        if let Some(r) = &refresh {
            oauth.refresh_tokens.insert(r.clone(), grant.clone());
        }
        drop(oauth);
        let access = issue_access(&state, &grant);
        let mut answer = json!({
            "access_token": access, "token_type": "Bearer",
            "expires_in": ACCESS_TTL_MS / 1000, "scope": grant.scopes.join(" "),
        });
        if let Some(r) = refresh {
            answer["refresh_token"] = json!(r);
        }
        return axum::Json(answer).into_response();
    }
    // Rotation: the presented refresh token is consumed.
    let Some(grant) = oauth.refresh_tokens.remove(get("refresh_token")) else {
        return oauth_error(
            StatusCode::FORBIDDEN,
            "invalid_grant",
            "Unknown or invalid refresh token.",
        );
    };
    if grant.client_id != get("client_id") {
        return oauth_error(
            StatusCode::FORBIDDEN,
            "invalid_grant",
            "The refresh token belongs to another client.",
        );
    }
    let refresh = random_token("eyR");
    oauth.refresh_tokens.insert(refresh.clone(), grant.clone());
    drop(oauth);
    let access = issue_access(&state, &grant);
    axum::Json(json!({
        "access_token": access, "refresh_token": refresh, "token_type": "Bearer",
        "expires_in": ACCESS_TTL_MS / 1000, "scope": grant.scopes.join(" "),
    }))
    .into_response()
}

/// The sites an access token may reach: this one.
async fn accessible_resources(
    state: axum::extract::State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let site = state.site.read();
    let valid = site.tokens.get(bearer).filter(|t| {
        matches!(t.kind, TokenKind::OAuth2Access { .. }) && t.expires.is_none_or(|e| e > site.now())
    });
    let Some(token) = valid else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "The access token is invalid or expired.",
        );
    };
    let TokenKind::OAuth2Access { scopes } = &token.kind else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    axum::Json(json!([{
        "id": site.cloud_id, "url": state.base_url, "name": "jiralink-sim", "scopes": scopes,
        "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png",
    }]))
    .into_response()
}

/// A new access token of `grant`, known to the gateway for an hour.
fn issue_access(state: &Shared, grant: &Grant) -> String {
    let access = random_token("eyA");
    let mut site = state.site.write();
    let now = site.now();
    site.tokens.insert(
        access.clone(),
        Token {
            secret: access.clone(),
            user: grant.user,
            kind: TokenKind::OAuth2Access {
                scopes: grant.scopes.clone(),
            },
            created: now,
            expires: Some(now + ACCESS_TTL_MS),
            revoked: false,
        },
    );
    access
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An error page of the authorization server: no redirect when the app or its callback is not
/// what was registered (the redirect target cannot be trusted).
fn authorize_error(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!("<!doctype html><title>Something went wrong</title><h1>Something went wrong</h1><p id=\"error\">{}</p>", esc(message)),
    )
        .into_response()
}

/// The checks of an authorization request: the app, its registered callback, the audience, the
/// response type and the scopes.
fn check_request(oauth: &OAuth2State, p: &HashMap<String, String>) -> Result<Vec<String>, String> {
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    if !oauth.clients.contains_key(get("client_id")) {
        return Err("Invalid client_id: no app has this client ID.".into());
    }
    let registered = oauth.callbacks.get(get("client_id"));
    if !registered.is_some_and(|r| r.iter().any(|u| u == get("redirect_uri"))) {
        return Err("The redirect_uri does not match the app's callback URL.".into());
    }
    if get("audience") != "api.atlassian.com" {
        return Err("The audience parameter must be api.atlassian.com.".into());
    }
    if get("response_type") != "code" {
        return Err("Unsupported response_type: use code.".into());
    }
    let scopes: Vec<String> = get("scope").split_whitespace().map(str::to_owned).collect();
    if scopes.is_empty() {
        return Err("The scope parameter is missing.".into());
    }
    Ok(scopes)
}

fn redirect(to: &str, params: &[(&str, &str)]) -> Response {
    let mut url = match url::Url::parse(to) {
        Ok(u) => u,
        Err(_) => return authorize_error("The redirect_uri is not a URL."),
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

/// `GET /authorize`: the consent screen naming the app's requested scopes. The account consenting
/// is given by its email (the simulator's stand-in for the Atlassian sign-in).
async fn authorize(
    state: axum::extract::State<Arc<Shared>>,
    axum::extract::Query(p): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let scopes = match check_request(&state.oauth2.lock(), &p) {
        Ok(s) => s,
        Err(m) => return authorize_error(&m),
    };
    let hidden: String = [
        "client_id",
        "redirect_uri",
        "state",
        "scope",
        "audience",
        "response_type",
    ]
    .iter()
    .map(|k| {
        format!(
            r#"<input type="hidden" name="{k}" value="{}">"#,
            esc(p.get(*k).map(String::as_str).unwrap_or(""))
        )
    })
    .collect();
    let list: String = scopes
        .iter()
        .map(|s| format!("<li>{}</li>", esc(s)))
        .collect();
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            r#"<!doctype html><html><head><meta charset="utf-8"><title>Authorize access</title></head><body>
<h1>An app is requesting access to your Atlassian account</h1>
<form method="post" action="/authorize" id="consent">{hidden}
<p>It wants to:</p><ul id="scopes">{list}</ul>
<label>Your Atlassian account email <input name="email" type="email"></label>
<p>Use app on: jiralink-sim</p>
<button name="decision" value="accept">Accept</button> <button name="decision" value="deny">Cancel</button>
</form></body></html>"#
        ),
    )
        .into_response()
}

/// `POST /authorize`: the user's decision; back to the app's callback with a code, or with
/// `error=access_denied`.
async fn consent(state: axum::extract::State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let p: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    let mut oauth = state.oauth2.lock();
    let scopes = match check_request(&oauth, &p) {
        Ok(s) => s,
        Err(m) => return authorize_error(&m),
    };
    if get("decision") != "accept" {
        return redirect(
            get("redirect_uri"),
            &[
                ("error", "access_denied"),
                ("error_description", "The user denied access."),
                ("state", get("state")),
            ],
        );
    }
    let user = {
        let site = state.site.read();
        site.users.iter().position(|u| {
            u.active && !u.email.is_empty() && u.email.eq_ignore_ascii_case(get("email"))
        })
    };
    let Some(user) = user else {
        return authorize_error("No active Atlassian account has this email.");
    };
    let code = random_token("");
    let now = state.site.read().now();
    oauth.codes.insert(
        code.clone(),
        (
            Grant {
                client_id: get("client_id").to_owned(),
                user: user as UserIx,
                scopes,
            },
            get("redirect_uri").to_owned(),
            now + CODE_TTL_MS,
        ),
    );
    redirect(
        get("redirect_uri"),
        &[("code", &code), ("state", get("state"))],
    )
}
