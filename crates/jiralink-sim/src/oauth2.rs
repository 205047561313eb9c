//! OAuth 2.0 (3LO) for Cloud apps: the token endpoint with refresh-token rotation (a used refresh
//! token stops working, as on Atlassian's), and `accessible-resources` naming the site's cloudId.
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
}

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
}

pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/oauth/token", post(token)).route(
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
    if get("grant_type") != "refresh_token" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The simulator supports grant_type=refresh_token.",
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
