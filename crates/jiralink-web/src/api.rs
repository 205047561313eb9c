//! The JSON HTTP API under `/api`: everything the pages do, with the same authorization (the
//! pages are rendered from the same functions and act through these routes).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use jiralink_api::{site, test_connection, AuthKind, ConnectionReport};
use jiralink_vault::{Connection, Credential, Secrets};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{self, ApiError, Caller, Role};
use crate::{jobs, App};

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/session", post(sign_in).delete(sign_out))
        .route("/api/setup", post(setup))
        .route("/api/me", get(me))
        .route(
            "/api/credentials",
            get(list_credentials).post(add_credential),
        )
        .route(
            "/api/credentials/{name}",
            get(get_credential)
                .patch(edit_credential)
                .delete(remove_credential),
        )
        .route("/api/credentials/{name}/test", post(test_credential))
        .route("/api/credentials/{name}/rotate", post(rotate_credential))
        .route("/api/scopes", get(scopes))
        .route("/api/oauth2/start", post(oauth2_start))
        .route("/api/oauth1/start", post(oauth1_start))
        .route("/api/oauth1/finish", post(oauth1_finish))
        .route("/api/syncs", get(list_syncs).post(start_sync))
        .route("/api/syncs/{id}", get(get_sync))
        .route("/api/syncs/{id}/events", get(sync_events))
        .route("/api/insights", get(insights))
        .route("/api/issues", get(issues))
        .route("/api/users", get(list_users).post(add_user))
        .route("/api/users/{name}", delete(remove_user))
        .route("/api/tokens", get(list_tokens).post(create_token))
        .route("/api/tokens/{id}", delete(revoke_token))
        .route("/api/audit", get(audit))
}

type ApiResult<T = Json<Value>> = Result<T, ApiError>;

async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

#[derive(Deserialize)]
struct SignIn {
    name: String,
    password: String,
}

async fn sign_in(
    State(app): State<Arc<App>>,
    auth::ClientAddr(addr): auth::ClientAddr,
    Json(body): Json<SignIn>,
) -> ApiResult<Response> {
    auth::sign_in(&app, &body.name, &body.password, &addr)?;
    let cookie = auth::start_session(&app, &body.name)?;
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({"signed_in": body.name})),
    )
        .into_response())
}

async fn sign_out(
    State(app): State<Arc<App>>,
    _caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let cookie = auth::end_session(&app, &headers)?;
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({"signed_in": null})),
    )
        .into_response())
}

#[derive(Deserialize)]
struct Setup {
    token: String,
    name: String,
    password: String,
}

/// The first admin, made with the one-time setup link printed at first start.
async fn setup(State(app): State<Arc<App>>, Json(body): Json<Setup>) -> ApiResult<Response> {
    let hash = auth::sha256_hex(&body.token);
    if app.accounts().web_link_live(&hash)?.as_deref() != Some("setup") {
        return Err(ApiError::forbidden(
            "this setup link is used, expired or unknown; restart `jiralink serve` for a new one, or use `jiralink user add NAME --role admin`",
        ));
    }
    let password = SecretString::from(body.password);
    auth::put_user(&app, &body.name, Role::Admin, Some(&password)).map_err(ApiError::bad)?;
    app.accounts().web_use_link(&hash)?;
    app.accounts()
        .web_audit(&body.name, "setup", &body.name, "ok")?;
    let cookie = auth::start_session(&app, &body.name)?;
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({"signed_in": body.name})),
    )
        .into_response())
}

async fn me(caller: Caller) -> Json<Value> {
    Json(json!({"name": caller.name, "role": caller.role, "csrf": caller.csrf}))
}

/// Whether `caller` may see and act on `cred`: an admin every credential, others their own.
pub fn owns(caller: &Caller, cred: &Credential) -> bool {
    caller.role == Role::Admin || cred.owner == caller.name
}

/// The last four characters of a long secret, the rest masked; never more.
fn masked_tail(secrets: &Secrets) -> String {
    match secrets.get("secret").map(|s| s.expose_secret().to_owned()) {
        Some(s) if s.chars().count() >= 16 => {
            let tail: String = s
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("••••{tail}")
        }
        Some(_) => "••••".into(),
        None => String::new(),
    }
}

/// A credential as pages and the API show it: no secret, only its masked tail.
pub fn credential_view(
    cred: &Credential,
    secrets: &Secrets,
    test: Option<&jiralink_store::web::TestRow>,
) -> Value {
    let now = Utc::now();
    json!({
        "name": cred.name,
        "description": cred.description,
        "url": cred.url,
        "auth": cred.auth,
        "account": cred.identity,
        "owner": cred.owner,
        "secret_tail": masked_tail(secrets),
        "created": cred.created.to_rfc3339(),
        "rotated": cred.rotated.to_rfc3339(),
        "age_days": (now - cred.rotated).num_days(),
        "expires_at": cred.expires_at.map(|e| e.to_rfc3339()),
        "expires_in_days": cred.expires_at.map(|e| (e - now).num_days()),
        "last_test": test.map(|t| json!({"at": t.at, "ok": t.ok, "code": t.code})),
    })
}

/// The views of every credential with their owners, from the cache while the vault file and the
/// test results are unchanged (and for a minute at most: ages move): the list is the hot path.
fn all_views(app: &App) -> ApiResult<Arc<crate::CredentialViews>> {
    let stamp = crate::VaultStamp::of(app);
    if let Some(c) = app.views.lock().as_ref().filter(|c| c.stamp == stamp) {
        return Ok(c.clone());
    }
    // One build at a time: the requests that waited find the views built.
    let _one = app.views_building.lock();
    if let Some(c) = app.views.lock().as_ref().filter(|c| c.stamp == stamp) {
        return Ok(c.clone());
    }
    let tests = app.accounts().web_tests()?;
    let views = app
        .vault
        .all()
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|(cred, secrets)| {
            (
                cred.owner.clone(),
                credential_view(&cred, &secrets, tests.get(&cred.name)),
            )
        })
        .collect();
    let fresh = Arc::new(crate::CredentialViews {
        stamp,
        views,
        bodies: Default::default(),
    });
    *app.views.lock() = Some(fresh.clone());
    Ok(fresh)
}

/// The credentials `caller` may see: kind, account, owner, masked tail, age, expiry; no secret.
pub fn visible_credentials(app: &App, caller: &Caller) -> ApiResult<Vec<Value>> {
    Ok(all_views(app)?
        .views
        .iter()
        .filter(|(owner, _)| caller.role == Role::Admin || *owner == caller.name)
        .map(|(_, v)| v.clone())
        .collect())
}

/// `build` of the credentials `caller` sees, kept with the views until they change (`what` names
/// the rendering: the API's JSON, the page's tiles).
pub fn cached_for_viewer(
    app: &App,
    caller: &Caller,
    what: &str,
    build: impl FnOnce(Vec<Value>) -> bytes::Bytes,
) -> ApiResult<bytes::Bytes> {
    let views = all_views(app)?;
    let key = if caller.role == Role::Admin {
        format!("{what}:*")
    } else {
        format!("{what}:{}", caller.name)
    };
    if let Some(b) = views.bodies.lock().get(&key) {
        return Ok(b.clone());
    }
    let b = build(visible_credentials(app, caller)?);
    views.bodies.lock().insert(key, b.clone());
    Ok(b)
}

async fn list_credentials(State(app): State<Arc<App>>, caller: Caller) -> ApiResult<Response> {
    let body = cached_for_viewer(&app, &caller, "json", |creds| {
        json!({ "credentials": creds }).to_string().into()
    })?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The credential `name` when `caller` may see it; another user's answers as a missing one.
pub fn owned(app: &App, caller: &Caller, name: &str) -> ApiResult<(Credential, Secrets)> {
    let not_found = || ApiError::not_found(&format!("the credential '{name}'"));
    if !jiralink_vault::valid_name(name) {
        return Err(not_found());
    }
    match app.vault.get(name) {
        Ok((cred, secrets)) if owns(caller, &cred) => Ok((cred, secrets)),
        Ok(_) | Err(jiralink_vault::VaultError::NotFound(_)) => Err(not_found()),
        Err(e) => Err(ApiError::internal(e)),
    }
}

async fn get_credential(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult {
    let (cred, secrets) = owned(&app, &caller, &name)?;
    let tests = app.accounts().web_tests()?;
    Ok(Json(credential_view(&cred, &secrets, tests.get(&name))))
}

#[derive(Deserialize)]
struct AddCredential {
    name: String,
    #[serde(default)]
    description: String,
    url: String,
    auth: String,
    email: Option<String>,
    username: Option<String>,
    /// The token or password (OAuth 2.0: the refresh token).
    secret: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    token_url: Option<String>,
    /// YYYY-MM-DD.
    expires_at: Option<String>,
}

fn parse_date(s: &str) -> ApiResult<DateTime<Utc>> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| ApiError::bad(format!("expires_at '{s}' is not a date: use YYYY-MM-DD")))
}

fn need(v: Option<String>, what: &str) -> ApiResult<String> {
    v.filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::bad(format!("{what} is missing")))
}

/// Tests a credential as `jiralink credential test` does; `saved`: it is in the vault as it is
/// (a rotated OAuth refresh token is then saved there at once).
async fn run_test(
    app: &App,
    cred: &Credential,
    secrets: &mut Secrets,
    saved: bool,
) -> ApiResult<ConnectionReport> {
    let kind: AuthKind = cred.auth.parse().map_err(ApiError::bad)?;
    let built = app
        .connector
        .client(saved.then_some(&app.vault), cred, secrets)
        .await
        .map_err(ApiError::bad)?;
    Ok(match built {
        Ok(client) => test_connection(&client).await,
        Err(e) => ConnectionReport::not_built(kind, &cred.url, &e),
    })
}

fn code_of(r: &ConnectionReport) -> Option<String> {
    r.code.map(|c| c.to_string())
}

fn failed_test(report: &ConnectionReport) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "connection_failed",
        format!(
            "{}: {} Fix: {}",
            code_of(report).unwrap_or_default(),
            report.cause.clone().unwrap_or_default(),
            report.fix.clone().unwrap_or_default()
        ),
    )
}

/// Refuses a new credential's name that is not valid or is taken (before any network call).
fn name_is_free(app: &App, name: &str) -> ApiResult<()> {
    if !jiralink_vault::valid_name(name) {
        return Err(ApiError::bad(format!(
            "'{name}' is not a valid credential name: use letters, digits, '-', '_' and '.', up to 64"
        )));
    }
    if app
        .vault
        .list()
        .map_err(ApiError::internal)?
        .iter()
        .any(|c| c.name == name)
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "exists",
            format!("a credential named '{name}' exists already; pick another name"),
        ));
    }
    Ok(())
}

/// Adds a credential owned by the caller, kept only when its connection test passes.
async fn add_credential(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(body): Json<AddCredential>,
) -> ApiResult<Response> {
    caller.require(&[Role::Admin, Role::Member])?;
    let kind: AuthKind = body.auth.parse().map_err(ApiError::bad)?;
    name_is_free(&app, &body.name)?;
    let site = site::normalize(&body.url, false).map_err(|e| ApiError::bad(e.to_string()))?;
    let identity = match kind.identity() {
        Some("email") => Some(need(
            body.email.clone(),
            "email (the Atlassian account's email)",
        )?),
        Some(_) => Some(need(body.username.clone(), "username")?),
        None => body.email.clone().or(body.username.clone()),
    };
    let mut params = BTreeMap::new();
    let mut secrets = Secrets::default();
    match kind {
        AuthKind::Oauth1 => {
            return Err(ApiError::bad(
                "OAuth 1.0a credentials are added with the approval step: POST /api/oauth1/start, then /api/oauth1/finish with the verification code",
            ))
        }
        AuthKind::Oauth2 => {
            params.insert("client_id".to_owned(), need(body.client_id.clone(), "client_id")?);
            if let Some(u) = body.token_url.clone().filter(|u| !u.is_empty()) {
                params.insert("token_url".to_owned(), u);
            }
            secrets.0.insert(
                "client_secret".into(),
                SecretString::from(need(body.client_secret, "client_secret")?),
            );
            secrets.0.insert(
                "secret".into(),
                SecretString::from(need(body.secret, "secret (the refresh token)")?),
            );
        }
        _ => {
            secrets.0.insert(
                "secret".into(),
                SecretString::from(need(body.secret, "secret (the token or password)")?),
            );
        }
    }
    let cred = Credential {
        identity,
        expires_at: body.expires_at.as_deref().map(parse_date).transpose()?,
        ..new_credential(
            body.name,
            body.description,
            site::base_str(&site),
            kind,
            params,
            &caller,
        )
    };
    let (report, view) = keep_tested(&app, &caller, cred, secrets, "ok").await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"credential": view, "test": report})),
    )
        .into_response())
}

/// A credential just made by `owner` (no identity, no expiry), with the given params.
fn new_credential(
    name: String,
    description: String,
    url: String,
    kind: AuthKind,
    params: BTreeMap<String, String>,
    owner: &Caller,
) -> Credential {
    let now = Utc::now();
    Credential {
        name,
        description,
        url,
        auth: kind.to_string(),
        identity: None,
        params,
        owner: owner.name.clone(),
        created: now,
        rotated: now,
        expires_at: None,
        connection: Connection::default(),
    }
}

#[derive(Deserialize)]
struct EditCredential {
    description: Option<String>,
    url: Option<String>,
}

async fn edit_credential(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(name): Path<String>,
    Json(body): Json<EditCredential>,
) -> ApiResult {
    caller.require(&[Role::Admin, Role::Member])?;
    let _w = app.vault_writes.lock();
    let (mut cred, secrets) = owned(&app, &caller, &name)?;
    if let Some(d) = body.description {
        cred.description = d;
    }
    if let Some(u) = body.url {
        cred.url = site::base_str(
            &site::normalize(&u, cred.connection.allow_insecure_http)
                .map_err(|e| ApiError::bad(e.to_string()))?,
        );
    }
    app.vault
        .replace(cred.clone(), &secrets)
        .map_err(ApiError::internal)?;
    app.invalidate_views();
    drop(_w);
    let store = app.accounts();
    store.web_audit(&caller.name, "credential-edit", &name, "ok")?;
    let tests = store.web_tests()?;
    Ok(Json(credential_view(&cred, &secrets, tests.get(&name))))
}

async fn remove_credential(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult {
    caller.require(&[Role::Admin, Role::Member])?;
    let _w = app.vault_writes.lock();
    owned(&app, &caller, &name)?;
    app.vault.remove(&name).map_err(ApiError::internal)?;
    app.invalidate_views();
    drop(_w);
    app.accounts()
        .web_audit(&caller.name, "credential-remove", &name, "ok")?;
    Ok(Json(json!({"removed": name})))
}

async fn test_credential(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult {
    caller.require(&[Role::Admin, Role::Member])?;
    let (cred, mut secrets) = owned(&app, &caller, &name)?;
    let report = run_test(&app, &cred, &mut secrets, true).await?;
    let code = code_of(&report);
    let store = app.accounts();
    app.invalidate_views();
    store.web_put_test(&name, report.ok, code.as_deref())?;
    store.web_audit(
        &caller.name,
        "credential-test",
        &name,
        code.as_deref().unwrap_or("ok"),
    )?;
    Ok(Json(
        serde_json::to_value(&report).map_err(ApiError::internal)?,
    ))
}

#[derive(Deserialize)]
struct Rotate {
    secret: String,
    expires_at: Option<String>,
}

/// Replaces the secret: the new one is tested first, the old one kept on failure.
async fn rotate_credential(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(name): Path<String>,
    Json(body): Json<Rotate>,
) -> ApiResult {
    caller.require(&[Role::Admin, Role::Member])?;
    let (mut cred, mut secrets) = owned(&app, &caller, &name)?;
    if body.secret.trim().is_empty() {
        return Err(ApiError::bad("the new secret is empty"));
    }
    secrets
        .0
        .insert("secret".into(), SecretString::from(body.secret));
    let report = run_test(&app, &cred, &mut secrets, false).await?;
    if !report.ok {
        app.accounts().web_audit(
            &caller.name,
            "credential-rotate",
            &name,
            &code_of(&report).unwrap_or_default(),
        )?;
        return Err(failed_test(&report));
    }
    cred.rotated = Utc::now();
    if let Some(e) = body.expires_at.as_deref().filter(|e| !e.is_empty()) {
        cred.expires_at = Some(parse_date(e)?);
    }
    {
        let _w = app.vault_writes.lock();
        app.vault
            .replace(cred.clone(), &secrets)
            .map_err(ApiError::internal)?;
        app.invalidate_views();
    }
    let store = app.accounts();
    app.invalidate_views();
    store.web_put_test(&name, true, None)?;
    store.web_audit(&caller.name, "credential-rotate", &name, "ok")?;
    let tests = store.web_tests()?;
    Ok(Json(credential_view(&cred, &secrets, tests.get(&name))))
}

/// A 3LO consent under way: what the callback needs to make the credential.
pub struct PendingConsent {
    pub user: String,
    pub name: String,
    pub description: String,
    pub url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub token_url: String,
    pub redirect_uri: String,
    pub started: std::time::Instant,
}

#[derive(Deserialize)]
struct OAuth2Start {
    name: String,
    #[serde(default)]
    description: String,
    url: String,
    client_id: String,
    client_secret: String,
    /// Default `https://auth.atlassian.com/authorize`.
    authorize_url: Option<String>,
    /// Default Atlassian's token endpoint.
    token_url: Option<String>,
    /// Default: the classic read scopes of jiralink's read features, and `offline_access`.
    scope: Option<String>,
}

/// The classic scopes of jiralink's read features and `offline_access` (for a refresh token).
fn default_scopes() -> String {
    let mut v: Vec<&str> = jiralink_api::scopes::FEATURES
        .iter()
        .filter(|f| f.read)
        .flat_map(|f| f.classic.iter().copied())
        .collect();
    v.sort_unstable();
    v.dedup();
    v.push("offline_access");
    v.join(" ")
}

/// Starts the OAuth 2.0 (3LO) consent: the answer is the authorization URL to send the browser
/// to; the app's callback (`/oauth2/callback`) makes the credential.
async fn oauth2_start(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(body): Json<OAuth2Start>,
) -> ApiResult {
    caller.require(&[Role::Admin, Role::Member])?;
    name_is_free(&app, &body.name)?;
    let site = site::normalize(&body.url, false).map_err(|e| ApiError::bad(e.to_string()))?;
    if body.client_id.trim().is_empty() || body.client_secret.trim().is_empty() {
        return Err(ApiError::bad("client_id and client_secret are needed (the app's, from the Atlassian developer console)"));
    }
    let authorize = body
        .authorize_url
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "https://auth.atlassian.com/authorize".into());
    let mut url = url::Url::parse(&authorize)
        .map_err(|e| ApiError::bad(format!("authorize_url '{authorize}': {e}")))?;
    let state = auth::new_secret();
    let redirect_uri = format!("{}/oauth2/callback", app.public_url);
    url.query_pairs_mut()
        .append_pair("audience", "api.atlassian.com")
        .append_pair("client_id", &body.client_id)
        .append_pair(
            "scope",
            &body
                .scope
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(default_scopes),
        )
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("state", &state)
        .append_pair("response_type", "code")
        .append_pair("prompt", "consent");
    let mut pending = app.consents.lock();
    pending.retain(|_, p| p.started.elapsed() < std::time::Duration::from_secs(900));
    pending.insert(
        state,
        PendingConsent {
            user: caller.name.clone(),
            name: body.name,
            description: body.description,
            url: site::base_str(&site),
            client_id: body.client_id,
            client_secret: SecretString::from(body.client_secret),
            token_url: body
                .token_url
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| jiralink_api::oauth2::ATLASSIAN_TOKEN_URL.to_owned()),
            redirect_uri,
            started: std::time::Instant::now(),
        },
    );
    Ok(Json(json!({"authorize_url": url.to_string()})))
}

/// The end of the consent: the code exchanged for a refresh token, the credential tested and
/// kept (owned by the user who started the consent). `Err` holds the message to show.
pub async fn oauth2_finish(
    app: &App,
    caller: &Caller,
    state: &str,
    code: &str,
) -> Result<String, String> {
    let p = app
        .consents
        .lock()
        .remove(state)
        .filter(|p| {
            p.user == caller.name && p.started.elapsed() < std::time::Duration::from_secs(900)
        })
        .ok_or(
            "This consent is unknown, expired or not yours: start again from the credentials page.",
        )?;
    let site = site::normalize(&p.url, false).map_err(|e| e.to_string())?;
    let http = jiralink_api::ClientBuilder::new(
        site,
        AuthKind::Oauth2,
        jiralink_api::Auth::OAuth2 {
            client_id: p.client_id.clone(),
            client_secret: p.client_secret.clone(),
            refresh_token: SecretString::from(String::new()),
            token_url: p.token_url.clone(),
        },
    )
    .http()
    .map_err(|e| e.diagnosis().to_string())?;
    let tokens = jiralink_api::oauth2::authorization_code(
        &http,
        &p.token_url,
        &p.client_id,
        &p.client_secret,
        &SecretString::from(code.to_owned()),
        &p.redirect_uri,
    )
    .await
    .map_err(|e| jira_refused(&e).message)?;
    let mut params = BTreeMap::new();
    params.insert("client_id".to_owned(), p.client_id.clone());
    params.insert("token_url".to_owned(), p.token_url.clone());
    let mut secrets = Secrets::default();
    secrets
        .0
        .insert("client_secret".into(), p.client_secret.clone());
    secrets.0.insert("secret".into(), tokens.refresh);
    let cred = new_credential(
        p.name.clone(),
        p.description.clone(),
        p.url.clone(),
        AuthKind::Oauth2,
        params,
        caller,
    );
    let name = cred.name.clone();
    keep_tested(app, caller, cred, secrets, "ok (oauth2 consent)")
        .await
        .map_err(|e| e.message)?;
    Ok(name)
}

/// An OAuth 1.0a approval under way (Data Center application links): what the verifier step
/// needs to make the credential.
pub struct PendingOAuth1 {
    pub user: String,
    pub name: String,
    pub description: String,
    pub url: String,
    pub consumer_key: String,
    pub private_key_pem: SecretString,
    pub request_token: SecretString,
    pub started: std::time::Instant,
}

/// How long an approval may take (Jira's request tokens live 10 minutes).
const OAUTH1_TTL: std::time::Duration = std::time::Duration::from_secs(900);

#[derive(Deserialize)]
struct OAuth1Start {
    name: String,
    #[serde(default)]
    description: String,
    url: String,
    /// The consumer key of the application link's incoming authentication.
    consumer_key: String,
    /// The consumer's RSA private key (PEM, PKCS#1 or PKCS#8), as `jiralink credential
    /// oauth1-keygen` writes it.
    private_key: String,
}

/// The OAuth 1.0a dance of a site, as `jiralink credential add --auth oauth1` runs it.
fn oauth1_dance(
    url: &str,
    consumer_key: &str,
    pem: &SecretString,
) -> ApiResult<jiralink_api::oauth1::Dance> {
    let site = site::normalize(url, false).map_err(|e| ApiError::bad(e.to_string()))?;
    let http = jiralink_api::ClientBuilder::new(
        site.clone(),
        AuthKind::Oauth1,
        jiralink_api::Auth::OAuth1 {
            consumer_key: consumer_key.to_owned(),
            private_key_pem: pem.clone(),
            token: SecretString::from(String::new()),
        },
    )
    .http()
    .map_err(|e| ApiError::bad(e.diagnosis().to_string()))?;
    Ok(jiralink_api::oauth1::Dance::new(
        http,
        &site,
        consumer_key,
        pem.clone(),
    ))
}

fn jira_refused(e: &jiralink_api::Error) -> ApiError {
    let d = e.diagnosis();
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "connection_failed",
        format!("{}: {} Fix: {}", d.code, d.cause, d.fix),
    )
}

/// Starts an OAuth 1.0a approval: a request token from the site; the answer is the URL where
/// the user approves access in Jira (which then shows a verification code) and the id of the
/// approval, for `/api/oauth1/finish`.
async fn oauth1_start(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(body): Json<OAuth1Start>,
) -> ApiResult {
    caller.require(&[Role::Admin, Role::Member])?;
    name_is_free(&app, &body.name)?;
    if body.consumer_key.trim().is_empty() {
        return Err(ApiError::bad(
            "consumer_key is missing (the application link's incoming consumer key)",
        ));
    }
    // Bad key input is refused before anything is sent, naming the formats.
    jiralink_api::oauth1::private_key(&body.private_key)
        .map_err(|e| ApiError::bad(format!("private_key: {e}")))?;
    let pem = SecretString::from(body.private_key);
    let consumer_key = body.consumer_key.trim().to_owned();
    let dance = oauth1_dance(&body.url, &consumer_key, &pem)?;
    let request_token = dance.request_token().await.map_err(|e| jira_refused(&e))?;
    let authorize_url = dance.authorize_url(&request_token);
    let id = auth::new_secret();
    let url = site::base_str(
        &site::normalize(&body.url, false).map_err(|e| ApiError::bad(e.to_string()))?,
    );
    let mut pending = app.oauth1.lock();
    pending.retain(|_, p| p.started.elapsed() < OAUTH1_TTL);
    pending.insert(
        id.clone(),
        PendingOAuth1 {
            user: caller.name.clone(),
            name: body.name,
            description: body.description,
            url,
            consumer_key,
            private_key_pem: pem,
            request_token: SecretString::from(request_token),
            started: std::time::Instant::now(),
        },
    );
    Ok(Json(json!({"authorize_url": authorize_url, "pending": id})))
}

#[derive(Deserialize)]
struct OAuth1Finish {
    /// The id `/api/oauth1/start` answered.
    pending: String,
    /// The verification code Jira showed after the approval.
    verifier: String,
}

/// The end of an OAuth 1.0a approval: the approved request token and its verifier traded for an
/// access token, the credential tested and kept (owned by the user who started it).
async fn oauth1_finish(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(body): Json<OAuth1Finish>,
) -> ApiResult<Response> {
    caller.require(&[Role::Admin, Role::Member])?;
    let verifier = body.verifier.trim();
    let p = {
        let mut pending = app.oauth1.lock();
        let mine = pending
            .get(&body.pending)
            .is_some_and(|p| p.user == caller.name && p.started.elapsed() < OAUTH1_TTL);
        if !mine {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "this approval is unknown, expired or not yours: start again",
            ));
        }
        if verifier.is_empty() {
            return Err(ApiError::bad(
                "verifier is missing: give the verification code Jira showed after the approval",
            ));
        }
        pending
            .remove(&body.pending)
            .ok_or_else(|| ApiError::internal("approval gone"))?
    };
    let dance = oauth1_dance(&p.url, &p.consumer_key, &p.private_key_pem)?;
    let token = {
        use secrecy::ExposeSecret;
        dance
            .access_token(p.request_token.expose_secret(), verifier)
            .await
            .map_err(|e| jira_refused(&e))?
    };
    let mut params = BTreeMap::new();
    params.insert("consumer_key".to_owned(), p.consumer_key.clone());
    let mut secrets = Secrets::default();
    secrets
        .0
        .insert("private_key_pem".into(), p.private_key_pem.clone());
    secrets.0.insert("secret".into(), token);
    let cred = new_credential(
        p.name.clone(),
        p.description.clone(),
        p.url.clone(),
        AuthKind::Oauth1,
        params,
        &caller,
    );
    let (report, view) = keep_tested(&app, &caller, cred, secrets, "ok (oauth1 approval)").await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"credential": view, "test": report})),
    )
        .into_response())
}

/// Tests a new credential and keeps it in the vault when the test passes (owned as `cred` says),
/// recording the outcome (`ok` as `how`) in the app's audit log; a failed test is refused with its
/// diagnosis.
async fn keep_tested(
    app: &App,
    caller: &Caller,
    cred: Credential,
    mut secrets: Secrets,
    how: &str,
) -> ApiResult<(ConnectionReport, Value)> {
    let report = run_test(app, &cred, &mut secrets, false).await?;
    let store = app.accounts();
    if !report.ok {
        store.web_audit(
            &caller.name,
            "credential-add",
            &cred.name,
            code_of(&report).as_deref().unwrap_or("failed"),
        )?;
        return Err(failed_test(&report));
    }
    {
        let _w = app.vault_writes.lock();
        app.vault
            .add(cred.clone(), &secrets)
            .map_err(ApiError::internal)?;
    }
    app.invalidate_views();
    store.web_put_test(&cred.name, true, None)?;
    store.web_audit(&caller.name, "credential-add", &cred.name, how)?;
    let tests = store.web_tests()?;
    Ok((
        report,
        credential_view(&cred, &secrets, tests.get(&cred.name)),
    ))
}

/// The scopes each jiralink feature needs (for scoped tokens and OAuth 2.0 apps).
pub fn scope_table() -> Value {
    Value::Array(
        jiralink_api::scopes::FEATURES
            .iter()
            .map(|f| json!({"feature": f.name, "classic": f.classic, "granular": f.granular, "read": f.read}))
            .collect(),
    )
}

async fn scopes(_caller: Caller) -> Json<Value> {
    Json(json!({"features": scope_table()}))
}

#[derive(Deserialize)]
struct StartSync {
    credential: String,
    #[serde(default)]
    projects: Vec<String>,
}

async fn start_sync(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(body): Json<StartSync>,
) -> ApiResult<Response> {
    caller.require(&[Role::Admin, Role::Member])?;
    owned(&app, &caller, &body.credential)?;
    if app.jobs.running(&body.credential) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "sync_running",
            format!(
                "a sync of '{}' is running; wait for it to end",
                body.credential
            ),
        ));
    }
    let id = jobs::start(&app, body.credential, caller.name, body.projects);
    Ok((StatusCode::ACCEPTED, Json(json!({"id": id}))).into_response())
}

/// Runs `caller` may see: an admin all, others those of credentials they own.
pub fn visible_run(app: &App, caller: &Caller, run: &jobs::JobState) -> bool {
    may_see_run(app, caller, &run.started_by, &run.credential)
}

/// Whether `caller` may see a run (a sync or an access audit) of `credential` started by
/// `started_by`: an admin every run, others the ones they started or of credentials they own.
pub fn may_see_run(app: &App, caller: &Caller, started_by: &str, credential: &str) -> bool {
    caller.role == Role::Admin
        || started_by == caller.name
        || app
            .vault
            .get(credential)
            .is_ok_and(|(c, _)| owns(caller, &c))
}

async fn list_syncs(State(app): State<Arc<App>>, caller: Caller) -> ApiResult {
    caller.require(&[Role::Admin, Role::Member])?;
    let runs: Vec<_> = app
        .jobs
        .all()
        .into_iter()
        .filter(|r| visible_run(&app, &caller, r))
        .collect();
    Ok(Json(json!({"runs": runs})))
}

fn visible_job(
    app: &App,
    caller: &Caller,
    id: u64,
) -> ApiResult<tokio::sync::watch::Receiver<jobs::JobState>> {
    caller.require(&[Role::Admin, Role::Member])?;
    let rx = app
        .jobs
        .get(id)
        .ok_or_else(|| ApiError::not_found(&format!("the sync run {id}")))?;
    if !visible_run(app, caller, &rx.borrow()) {
        return Err(ApiError::not_found(&format!("the sync run {id}")));
    }
    Ok(rx)
}

async fn get_sync(State(app): State<Arc<App>>, caller: Caller, Path(id): Path<u64>) -> ApiResult {
    let rx = visible_job(&app, &caller, id)?;
    let state = rx.borrow().clone();
    Ok(Json(
        serde_json::to_value(state).map_err(ApiError::internal)?,
    ))
}

/// The run's state as server-sent events: one `progress` event per change, `end` at the end.
async fn sync_events(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<u64>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>>> {
    let rx = visible_job(&app, &caller, id)?;
    let stream =
        futures_util::stream::unfold((rx, false, true), |(mut rx, done, first)| async move {
            if done {
                return None;
            }
            if !first && rx.changed().await.is_err() {
                // The run's task ended and dropped its sender: its last state was sent already.
                return None;
            }
            let state = rx.borrow_and_update().clone();
            let end = state.status != "running";
            let event = Event::default()
                .event(if end { "end" } else { "progress" })
                .json_data(&state)
                .unwrap_or_default();
            Some((Ok(event), (rx, end, false)))
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Dashboard filters: site, project, board (its id), date range (`since`/`until`, YYYY-MM-DD), and the forecast's
/// questions: when will `items` items be done, how many by the date `by` (YYYY-MM-DD).
#[derive(Deserialize, Default, Clone)]
pub struct InsightsQuery {
    pub site: Option<String>,
    pub project: Option<String>,
    pub board: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub items: Option<String>,
    pub by: Option<String>,
}

fn day(s: &str, end: bool) -> ApiResult<i64> {
    let t = jiralink_insights::parse_time(s)
        .ok_or_else(|| ApiError::bad(format!("'{s}' is not a date: use YYYY-MM-DD")))?;
    Ok(if end && s.len() == 10 { t + 86_399 } else { t })
}

/// The insights of the store for the filters, computed off the runtime's threads.
pub async fn compute_insights(app: &App, q: &InsightsQuery) -> ApiResult<Arc<crate::InsightsView>> {
    let now = Utc::now().timestamp();
    let until = q
        .until
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| day(s, true))
        .transpose()?;
    let since = q
        .since
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| day(s, false))
        .transpose()?;
    let as_of = until.unwrap_or(now).min(now);
    let mut opts = jiralink_insights::Options::new(as_of, 12, 1);
    if let Some(s) = since {
        opts.since = s;
    }
    opts.trials = 2_000;
    let given = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
    if let Some(n) = given(&q.items) {
        opts.forecast_items = n
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=100_000).contains(n))
            .ok_or_else(|| ApiError::bad(format!("items '{n}' is not a count from 1 to 100000")))?;
    }
    if let Some(by) = given(&q.by) {
        let t = day(&by, true)?;
        if t <= as_of {
            return Err(ApiError::bad(format!(
                "by '{by}' is not after the report's date: the forecast looks ahead"
            )));
        }
        opts.forecast_date = t;
    }
    opts.config.stages = crate::records::stage_config(app)?;
    let mut stage_key: Vec<String> = opts
        .config
        .stages
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    stage_key.sort();
    let filter = jiralink_insights::Filter {
        credential: None,
        site: q.site.clone().filter(|s| !s.is_empty()),
        projects: q
            .project
            .clone()
            .filter(|p| !p.is_empty())
            .into_iter()
            .collect(),
        issue_types: Vec::new(),
        board: q.board.clone().filter(|b| !b.is_empty()),
    };
    let key = format!(
        "{:?}|{:?}|{:?}|{since:?}|{until:?}|{}|{:?}|{}",
        filter.site,
        filter.projects,
        filter.board,
        opts.forecast_items,
        // The date as asked, not the computed instant: the default moves with "now" every second
        // and would defeat the cache (the store stamp's minute bounds the staleness).
        given(&q.by),
        stage_key.join(",")
    );
    // One computation at a time: the work is CPU-bound, and requests that waited for the same
    // filters find its result in the cache.
    let _one = app.insights_running.lock().await;
    let at = app.store.clone();
    let stamp = tokio::task::spawn_blocking(move || crate::StoreStamp::of(&at))
        .await
        .map_err(ApiError::internal)?;
    if let Some(hit) = app.insights_cache.lock().get(&key).filter(|c| c.0 == stamp) {
        return Ok(hit.1.clone());
    }
    let store = app.store.clone();
    let r = tokio::task::spawn_blocking(move || {
        let r = jiralink_insights::run_on(&store, &filter, &opts, None)?;
        let json: Arc<str> = serde_json::to_string(&r).unwrap_or_default().into();
        let html: Arc<str> = jiralink_insights::html::report(&r).into();
        Ok::<_, jiralink_insights::InsightsError>(Arc::new(crate::InsightsView {
            issues: r.coverage.issues,
            as_of: r.as_of,
            json,
            html,
        }))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "insights", e.to_string()))?;
    let mut cache = app.insights_cache.lock();
    if cache.len() >= 64 {
        cache.clear();
    }
    cache.insert(key, (stamp, r.clone()));
    Ok(r)
}

async fn insights(
    State(app): State<Arc<App>>,
    _caller: Caller,
    Query(q): Query<InsightsQuery>,
) -> ApiResult<Response> {
    let r = compute_insights(&app, &q).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        r.json.to_string(),
    )
        .into_response())
}

/// Drill-down: the issues behind a chart, with links to Jira.
#[derive(Deserialize, Default)]
pub struct IssuesQuery {
    pub site: Option<String>,
    pub project: Option<String>,
    /// A board (its id), as the dashboard's filter: the issues of its project (all of its site's
    /// when the board has none).
    pub board: Option<String>,
    /// `new`, `indeterminate` or `done`.
    pub status_category: Option<String>,
    pub limit: Option<i64>,
}

pub fn issue_rows(app: &App, q: &IssuesQuery) -> ApiResult<Vec<Value>> {
    let mut reader = app.reader()?;
    let given = |s: &Option<String>| s.clone().unwrap_or_default();
    let limit = q.limit.unwrap_or(200).clamp(1, 1000).to_string();
    let (site, project, category) = (given(&q.site), given(&q.project), given(&q.status_category));
    let board = given(&q.board);
    if !board.is_empty()
        && reader.count("SELECT COUNT(*) FROM boards WHERE id = $1", &[&board])? == 0
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "insights",
            format!("board {board}: no such board in the store; give a board id as the dashboard's board filter lists them"),
        ));
    }
    let mut rows = Vec::new();
    reader.each(
        "SELECT i.key, i.summary, i.status, i.status_category, i.issue_type, i.assignee_id, i.updated, s.base_url
         FROM issues i LEFT JOIN sites s ON s.site_id = i.site_id
         WHERE i.deleted_at IS NULL
           AND ($1 = '' OR i.site_id = $1 OR s.base_url = $1)
           AND ($2 = '' OR i.project_key = $2)
           AND ($3 = '' OR i.status_category = $3)
           AND ($4 = '' OR EXISTS (SELECT 1 FROM boards b WHERE b.id = $4 AND b.site_id = i.site_id
                 AND (b.project_key IS NULL OR b.project_key = i.project_key)))
         ORDER BY i.updated DESC LIMIT CAST(CAST($5 AS TEXT) AS INTEGER)",
        // In order of first use: SQLite numbers `$n` parameters as they appear.
        &[&site, &project, &category, &board, &limit],
        |r| -> jiralink_store::Result<()> {
            let key = r.text_not_null(0)?;
            let base = r.text(7)?;
            rows.push(json!({
                "key": key,
                "summary": r.text(1)?,
                "status": r.text(2)?,
                "status_category": r.text(3)?,
                "issue_type": r.text(4)?,
                "assignee_id": r.text(5)?,
                "updated": crate::records::iso(r, 6)?,
                "url": base.map(|b| format!("{}/browse/{key}", b.trim_end_matches('/'))),
            }));
            Ok(())
        },
    )?;
    Ok(rows)
}

async fn issues(
    State(app): State<Arc<App>>,
    _caller: Caller,
    Query(q): Query<IssuesQuery>,
) -> ApiResult {
    let app2 = app.clone();
    let rows = tokio::task::spawn_blocking(move || issue_rows(&app2, &q))
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(json!({"issues": rows})))
}

async fn list_users(State(app): State<Arc<App>>, caller: Caller) -> ApiResult {
    caller.require(&[Role::Admin])?;
    let users: Vec<Value> = app
        .accounts()
        .web_users()?
        .into_iter()
        .map(|u| json!({"name": u.name, "role": u.role, "created": u.created, "has_password": u.password_hash.is_some()}))
        .collect();
    Ok(Json(json!({"users": users})))
}

#[derive(Deserialize)]
struct AddUser {
    name: String,
    role: String,
    password: String,
}

async fn add_user(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(body): Json<AddUser>,
) -> ApiResult<Response> {
    caller.require(&[Role::Admin])?;
    let role: Role = body.role.parse().map_err(ApiError::bad)?;
    if app.accounts().web_user(&body.name)?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "exists",
            format!("the user '{}' exists already", body.name),
        ));
    }
    auth::put_user(
        &app,
        &body.name,
        role,
        Some(&SecretString::from(body.password)),
    )
    .map_err(ApiError::bad)?;
    app.accounts()
        .web_audit(&caller.name, "user-add", &body.name, "ok")?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"name": body.name, "role": role})),
    )
        .into_response())
}

async fn remove_user(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult {
    caller.require(&[Role::Admin])?;
    if name == caller.name {
        return Err(ApiError::bad(
            "you cannot remove yourself; ask another admin",
        ));
    }
    if !app.accounts().web_remove_user(&name)? {
        return Err(ApiError::not_found(&format!("the user '{name}'")));
    }
    app.accounts()
        .web_audit(&caller.name, "user-remove", &name, "ok")?;
    Ok(Json(json!({"removed": name})))
}

fn token_json(t: &jiralink_store::web::ApiTokenRow) -> Value {
    json!({"id": t.id, "user": t.user, "label": t.label, "created": t.created, "last_used": t.last_used, "revoked": t.revoked})
}

async fn list_tokens(State(app): State<Arc<App>>, caller: Caller) -> ApiResult {
    let rows = app.accounts().web_tokens(Some(&caller.name))?;
    Ok(Json(
        json!({"tokens": rows.iter().map(token_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
struct NewToken {
    label: String,
}

/// A new API token of the caller: its value is in this answer only (the store keeps its hash).
async fn create_token(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(body): Json<NewToken>,
) -> ApiResult<Response> {
    let token = format!("jlk_{}", auth::new_secret());
    let id = auth::new_secret()[..12].to_owned();
    let store = app.accounts();
    store.web_create_token(&id, &caller.name, &body.label, &auth::sha256_hex(&token))?;
    store.web_audit(&caller.name, "token-create", &id, "ok")?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "label": body.label, "token": token})),
    )
        .into_response())
}

async fn revoke_token(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let store = app.accounts();
    if !store.web_revoke_token(&id, Some(&caller.name))? {
        return Err(ApiError::not_found(&format!("the API token '{id}'")));
    }
    store.web_audit(&caller.name, "token-revoke", &id, "ok")?;
    Ok(Json(json!({"revoked": id})))
}

async fn audit(State(app): State<Arc<App>>, caller: Caller) -> ApiResult {
    let only = (caller.role != Role::Admin).then_some(caller.name.as_str());
    let rows = app.accounts().web_audit_log(only, 500)?;
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| json!({"id": r.id, "at": r.at, "actor": r.actor, "action": r.action, "target": r.target, "outcome": r.outcome}))
        .collect();
    Ok(Json(json!({"audit": rows})))
}
