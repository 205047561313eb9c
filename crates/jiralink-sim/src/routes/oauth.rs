//! The OAuth 1.0a servlet of Data Center: request token, authorize (approval by a signed-in user) and
//! access token, answering in OAuth's form encoding.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::Engine;

use super::{Params, SharedState};
use crate::model::{Deployment, UserIx};
use crate::oauth1::{OAuthProblem, OAuthState, SignedRequest, Verified};
use crate::server::{OriginalUrl, Shared};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/plugins/servlet/oauth/request-token", post(request_token))
        .route(
            "/plugins/servlet/oauth/authorize",
            get(authorize).post(authorize),
        )
        .route("/plugins/servlet/oauth/access-token", post(access_token))
}

fn problem(p: &OAuthProblem) -> Response {
    let mut r = (
        StatusCode::UNAUTHORIZED,
        format!("oauth_problem={}", p.as_str()),
    )
        .into_response();
    if let Ok(v) = format!("OAuth realm=\"jira\", oauth_problem=\"{}\"", p.as_str()).parse() {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

fn form(body: String) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-www-form-urlencoded")],
        body,
    )
        .into_response()
}

/// Verifies the signature of a servlet request; the protocol parameters may travel in the
/// `Authorization` header, the form body or the query string (RFC 5849 §3.5).
async fn verify(
    state: &Shared,
    url: &str,
    req: Request,
) -> Result<(Verified, Vec<(String, String)>), Response> {
    if state.cfg.gen.deployment != Deployment::Datacenter {
        return Err(crate::server::not_found_page());
    }
    let method = req.method().as_str().to_owned();
    let query = Params::from_query(req.uri().query()).0;
    let authz = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let form: Vec<(String, String)> = if is_form {
        url::form_urlencoded::parse(&bytes).into_owned().collect()
    } else {
        Vec::new()
    };
    let now = chrono::Utc::now().timestamp();
    let signed = SignedRequest {
        method: &method,
        url,
        query: &query,
        form: &form,
        authorization: authz.as_deref(),
    };
    let verified = state
        .oauth
        .lock()
        .verify(&signed, now)
        .map_err(|p| problem(&p))?;
    Ok((verified, signed.parameters()))
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

async fn request_token(state: SharedState, url: Extension<OriginalUrl>, req: Request) -> Response {
    token_step(state, &url.0 .0, req, "oauth_callback", |o, v, callback| {
        o.request_token(v, callback, &mut rand::thread_rng())
    })
    .await
}

/// Steps 1 and 3 of the dance: the signed request verified, then `step` given the protocol
/// parameter `name` (the callback, or the verifier) and answered as a form.
async fn token_step(
    state: SharedState,
    url: &str,
    req: Request,
    name: &str,
    step: impl FnOnce(&mut OAuthState, &Verified, &str) -> Result<String, OAuthProblem>,
) -> Response {
    let (verified, params) = match verify(&state, url, req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let result = step(&mut state.oauth.lock(), &verified, param(&params, name));
    match result {
        Ok(body) => form(body),
        Err(p) => problem(&p),
    }
}

/// The user approves the request token: signed in with Basic credentials, or with Jira's
/// `os_username`/`os_password` login parameters. Redirects to the callback, or shows the verifier.
async fn authorize(state: SharedState, p: Params, req: Request) -> Response {
    let token = p.get("oauth_token").unwrap_or("").to_owned();
    let login = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())))
        .or_else(|| {
            Some((
                p.get("os_username")?.to_owned(),
                p.get("os_password")?.to_owned(),
            ))
        });
    let user: Option<UserIx> = login.and_then(|(u, pw)| {
        let site = state.site.read();
        site.users
            .iter()
            .position(|x| {
                x.username.eq_ignore_ascii_case(&u)
                    && x.password.as_deref() == Some(pw.as_str())
                    && x.active
            })
            .map(|i| i as UserIx)
    });
    let Some(user) = user else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/html;charset=UTF-8")],
            "<html><body><form>Log in to approve access (os_username, os_password).</form></body></html>",
        )
            .into_response();
    };
    let result = state
        .oauth
        .lock()
        .authorize(&token, user, &mut rand::thread_rng());
    match result {
        Ok((callback, verifier)) if callback == "oob" => (
            [(header::CONTENT_TYPE, "text/html;charset=UTF-8")],
            format!("<html><body><p>Access approved. Your verification code is <b id=\"verifier\">{verifier}</b>.</p></body></html>"),
        )
            .into_response(),
        Ok((callback, verifier)) => {
            let sep = if callback.contains('?') { '&' } else { '?' };
            let location = format!("{callback}{sep}oauth_token={}&oauth_verifier={}", crate::oauth1::encode(&token), crate::oauth1::encode(&verifier));
            (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
        }
        Err(p) => problem(&p),
    }
}

async fn access_token(state: SharedState, url: Extension<OriginalUrl>, req: Request) -> Response {
    token_step(state, &url.0 .0, req, "oauth_verifier", |o, v, verifier| {
        o.access_token(v, verifier, &mut rand::thread_rng())
    })
    .await
}
