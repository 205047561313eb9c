//! The Jira REST client: one `Client` built by a `ClientBuilder`, with auth, the effective base URL
//! (site or Cloud gateway), TLS and proxy settings, and the retry policy applied to every request.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use url::Url;

use crate::auth::{Auth, AuthKind};
use crate::diagnosis::{self, Code, Diagnosis, RequestContext};
use crate::secure::{Http, Proxies};
use crate::site;

/// The default Cloud API gateway.
pub const ATLASSIAN_GATEWAY: &str = "https://api.atlassian.com";

/// Errors of this crate, split by what a caller can do about them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection or Jira refused: a named diagnosis.
    #[error(transparent)]
    Diagnosed(#[from] Diagnosis),
    /// Jira refused the request itself with its error body (a 4xx other than the
    /// authentication, permission, proxy and rate refusals, which are diagnosed): its status,
    /// `errorMessages` and field `errors`, as Jira sent them.
    #[error("{}", Error::refusal_text(.status, .messages, .errors))]
    Jira {
        status: u16,
        messages: Vec<String>,
        errors: std::collections::BTreeMap<String, String>,
    },
    /// Jira answered 2xx but the body is not what the API documents.
    #[error("cannot decode the answer of {path}: {message}")]
    Decode { path: String, message: String },
    /// The client cannot be built from these settings.
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// An HTTP refusal: Jira's refusal of the request with its error body as [`Error::Jira`],
    /// anything else as its diagnosis.
    pub(crate) fn refused(d: Diagnosis) -> Error {
        match d.status {
            Some(status) if diagnosis::is_request_refusal(status) && !d.jira.is_empty() => {
                Error::Jira {
                    status,
                    messages: d.jira.messages,
                    errors: d.jira.errors,
                }
            }
            _ => Error::Diagnosed(d),
        }
    }

    fn refusal_text(
        status: &u16,
        messages: &[String],
        errors: &std::collections::BTreeMap<String, String>,
    ) -> String {
        let jira = diagnosis::JiraErrors {
            messages: messages.to_vec(),
            errors: errors.clone(),
        };
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST);
        diagnosis::of_refusal(status, jira).to_string()
    }

    pub fn diagnosis(&self) -> Diagnosis {
        match self {
            Error::Diagnosed(d) => d.clone(),
            Error::Jira {
                status,
                messages,
                errors,
            } => diagnosis::of_refusal(
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
                diagnosis::JiraErrors {
                    messages: messages.clone(),
                    errors: errors.clone(),
                },
            ),
            Error::Decode { path, message } => Diagnosis::new(Code::NotJira)
                .with_cause(format!("The answer of {path} is not Jira's: {message}.")),
            Error::Config(m) => Diagnosis::new(Code::UnexpectedResponse).with_cause(m.clone()),
        }
    }
}

/// When and how often a request is tried again. Authentication failures (401, 403) are never
/// retried: repeated failed logins lock Data Center accounts behind a CAPTCHA. Rate limits (429)
/// honour `Retry-After`, whatever the request, and for a site's request pause every request of the
/// client until then; 5xx, dropped connections and cut bodies back off exponentially with jitter,
/// for idempotent requests only, except that an OAuth token grant (used up once done) is tried
/// again after a 503 as well (`Repeat`, a property of each request).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited for: the request fails as rate limited.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1 << attempt.min(10))
            .min(self.max_delay);
        exp.mul_f64(0.5 + rand::random::<f64>() / 2.0)
    }
}

/// A raw answer: status, headers, body.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

#[derive(Debug)]
pub struct ClientBuilder {
    site: Url,
    kind: AuthKind,
    auth: Auth,
    gateway: String,
    timeout: Duration,
    extra_ca_pem: Option<Vec<u8>>,
    client_identity_pem: Option<Vec<u8>>,
    retry: RetryPolicy,
    resolve: Vec<(String, SocketAddr)>,
    proxy: Option<String>,
    allow_insecure_http: bool,
    max_response_bytes: usize,
}

/// The default cap on one answer: well above Jira's largest legitimate page (a 100-issue search page
/// with every field and the changelog expanded is a few MB), far below what would exhaust memory.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

impl ClientBuilder {
    /// `site` must already be normalised (`site::normalize`).
    pub fn new(site: Url, kind: AuthKind, auth: Auth) -> ClientBuilder {
        ClientBuilder {
            site,
            kind,
            auth,
            gateway: ATLASSIAN_GATEWAY.to_owned(),
            timeout: Duration::from_secs(30),
            extra_ca_pem: None,
            client_identity_pem: None,
            retry: RetryPolicy::default(),
            resolve: Vec::new(),
            proxy: None,
            allow_insecure_http: false,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
    /// The largest answer read (bytes); a longer one is refused as `unexpected_response` without
    /// being held in memory.
    pub fn max_response_bytes(mut self, n: usize) -> Self {
        self.max_response_bytes = n.max(1);
        self
    }
    /// The user's explicit opt-in to plain http off loopback (`--allow-insecure-http`); without
    /// it every request obeys `secure::check`.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }
    /// Send everything through this proxy (otherwise HTTPS_PROXY / HTTP_PROXY / NO_PROXY apply).
    pub fn proxy(mut self, url: &str) -> Self {
        self.proxy = Some(url.to_owned());
        self
    }
    pub fn gateway_url(mut self, url: &str) -> Self {
        self.gateway = url.trim_end_matches('/').to_owned();
        self
    }
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    /// Trust this CA bundle (PEM, or one DER certificate) besides the system roots.
    pub fn extra_ca_pem(mut self, pem: Vec<u8>) -> Self {
        self.extra_ca_pem = Some(pem);
        self
    }
    /// A client certificate and key (PEM) for mutual TLS.
    pub fn client_identity_pem(mut self, pem: Vec<u8>) -> Self {
        self.client_identity_pem = Some(pem);
        self
    }
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
    /// Connect to `addr` for `host` instead of resolving it (like an /etc/hosts entry).
    pub fn resolve(mut self, host: &str, addr: SocketAddr) -> Self {
        self.resolve.push((host.to_owned(), addr));
        self
    }

    /// The send path without a credential: the HTTP client with this builder's TLS, proxy, timeout
    /// and resolve settings (which refuses what the http rule, `secure::check`, forbids), its retry
    /// policy and size limit. OAuth token requests made before a client exists go through it
    /// (`oauth2::authorization_code`, `oauth1::Dance`); a built client sends through its own.
    pub fn http(&self) -> Result<Sender, Error> {
        let mut http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("jiralink/", env!("CARGO_PKG_VERSION")))
            // Credentials never follow a redirect to another host; Jira's API does not redirect.
            .redirect(reqwest::redirect::Policy::none());
        if let Some(bundle) = &self.extra_ca_pem {
            for cert in ca_certificates(bundle).map_err(Error::Config)? {
                http = http.add_root_certificate(cert);
            }
        }
        if let Some(pem) = &self.client_identity_pem {
            let id = reqwest::Identity::from_pem(pem).map_err(|e| {
                Error::Config(format!(
                    "the client certificate is not a PEM certificate and key: {e}"
                ))
            })?;
            http = http.identity(id);
        }
        // The proxy the rule checks is the one the request takes: one chooser for both.
        let proxies = std::sync::Arc::new(Proxies::new(self.proxy.as_deref())?);
        let chooser = proxies.clone();
        http = http.no_proxy().proxy(reqwest::Proxy::custom(move |u| {
            chooser.for_target(u).cloned()
        }));
        for (host, addr) in &self.resolve {
            http = http.resolve(host, *addr);
        }
        let client = http
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Sender {
            http: Http::new(client, proxies, self.allow_insecure_http),
            retry: self.retry,
            max_response_bytes: self.max_response_bytes,
            paused_until: std::sync::Mutex::new(None),
            pace: std::sync::Mutex::new(None),
            requests: AtomicU32::new(0),
            retries: AtomicU32::new(0),
        })
    }

    /// Builds the client; gateway kinds first look up the site's cloudId (one unauthenticated request).
    pub async fn build(self) -> Result<Client, Error> {
        let sender = self.http()?;
        let site_base = site::base_str(&self.site);
        let mut client = Client {
            sender,
            site: self.site,
            base: site_base.clone(),
            kind: self.kind,
            auth: self.auth,
            cloud_id: None,
            gateway: self.gateway.clone(),
            rotated_refresh_token: None,
        };
        if let Auth::OAuth2 {
            client_id,
            client_secret,
            refresh_token,
            token_url,
        } = &client.auth
        {
            let tokens = crate::oauth2::refresh(
                &client.sender,
                token_url,
                client_id,
                client_secret,
                refresh_token,
            )
            .await?;
            let cloud_id = crate::oauth2::cloud_id_for(
                &client.sender,
                &self.gateway,
                &tokens.access,
                &client.site,
            )
            .await?;
            client.base = format!("{}/ex/jira/{cloud_id}", self.gateway);
            client.cloud_id = Some(cloud_id);
            client.auth = Auth::Bearer {
                token: tokens.access,
            };
            client.rotated_refresh_token = Some(tokens.refresh);
            return Ok(client);
        }
        if self.kind.uses_gateway() {
            let info = client
                .send_to(
                    Method::GET,
                    &format!("{site_base}/_edge/tenant_info"),
                    None,
                    false,
                )
                .await?;
            let cloud_id = client
                .json::<crate::models::Shaped<crate::models::TenantInfo>>(
                    "/_edge/tenant_info",
                    &info,
                )?
                .object()
                .and_then(|t| t.cloud_id)
                .ok_or_else(|| Diagnosis::new(Code::NotJira).with_cause("The site did not name its cloudId at /_edge/tenant_info, so it is not a Jira Cloud site.").with_fix("Scoped tokens and service accounts work on Jira Cloud only: check the URL or the auth kind."))?;
            client.base = format!("{}/ex/jira/{cloud_id}", self.gateway);
            client.cloud_id = Some(cloud_id);
        }
        Ok(client)
    }
}

/// A Jira client. Every request goes through its [`Sender`], which applies auth, pacing and the
/// retry policy.
pub struct Client {
    sender: Sender,
    site: Url,
    /// Where REST paths are appended: the site, or `{gateway}/ex/jira/{cloudId}`.
    base: String,
    kind: AuthKind,
    auth: Auth,
    cloud_id: Option<String>,
    gateway: String,
    /// OAuth 2: the refresh token that replaced the one used to build this client; the caller
    /// must persist it (the old one no longer works).
    rotated_refresh_token: Option<secrecy::SecretString>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("kind", &self.kind)
            .field("auth", &self.auth)
            .finish()
    }
}

impl Client {
    pub fn base_url(&self) -> &str {
        &self.base
    }
    pub fn site(&self) -> &Url {
        &self.site
    }
    pub fn kind(&self) -> AuthKind {
        self.kind
    }
    pub fn cloud_id(&self) -> Option<&str> {
        self.cloud_id.as_deref()
    }
    pub fn rotated_refresh_token(&self) -> Option<&secrecy::SecretString> {
        self.rotated_refresh_token.as_ref()
    }
    pub fn gateway(&self) -> &str {
        &self.gateway
    }
    pub fn via_gateway(&self) -> bool {
        self.cloud_id.is_some()
    }
    /// Requests sent so far (retries included).
    pub fn requests(&self) -> u32 {
        self.sender.requests.load(Ordering::Relaxed)
    }
    /// Of those, retries of a request already sent once.
    pub fn retries(&self) -> u32 {
        self.sender.retries.load(Ordering::Relaxed)
    }
    /// Keeps to at most `rps` requests per second from now on (a site's rate budget shared with
    /// other integrations). A 429 can lower the pace further; it never rises above `rps`.
    pub fn limit_rate(&self, rps: f64) {
        if rps > 0.0 {
            *self.sender.pace.lock().unwrap_or_else(|p| p.into_inner()) = Some(Pace::budget(rps));
        }
    }
    /// `/rest/api/{2|3}` for this auth kind.
    pub fn api(&self) -> String {
        format!("/rest/api/{}", self.kind.api_version())
    }

    /// The raw-request escape hatch: `path` relative to the base, with auth and retries, and
    /// any non-2xx answer turned into a diagnosis.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Response, Error> {
        let url = format!("{}{path}", self.base);
        self.send_to(method, &url, body, true).await
    }

    pub async fn get_json(&self, path: &str) -> Result<Value, Error> {
        let r = self.send(Method::GET, path, None).await?;
        self.value(path, r).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, Error> {
        let r = self.send(Method::POST, path, Some(body)).await?;
        self.value(path, r).await
    }

    /// [`Client::get_json`] read straight into `T` (a wire model), without a `Value` tree.
    pub async fn get_typed<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
    ) -> Result<T, Error> {
        let r = self.send(Method::GET, path, None).await?;
        self.value(path, r).await
    }

    /// [`Client::post_json`] read straight into `T` (a typed page, with `RawValue`s for the JSON a
    /// caller keeps as text), without a `Value` tree in between.
    pub async fn post_typed<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<T, Error> {
        let r = self.send(Method::POST, path, Some(body)).await?;
        self.value(path, r).await
    }

    /// Big bodies (bulk fetches, search pages) are parsed off the task, so that a caller driving
    /// many requests from one task keeps the others moving meanwhile.
    async fn value<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        mut r: Response,
    ) -> Result<T, Error> {
        if r.body.len() > 64 * 1024 {
            let body = std::mem::take(&mut r.body);
            let (parsed, body) =
                off_task(move || (serde_json::from_slice::<T>(&body).ok(), body)).await;
            if let Some(v) = parsed {
                return Ok(v);
            }
            r.body = body;
        }
        self.json(path, &r)
    }

    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        r: &Response,
    ) -> Result<T, Error> {
        serde_json::from_slice(&r.body).map_err(|e| {
            let text = String::from_utf8_lossy(&r.body).to_ascii_lowercase();
            if text.contains("<html") {
                let d = diagnosis::from_response(
                    r.status,
                    &r.headers,
                    &String::from_utf8_lossy(&r.body),
                    self.context(),
                );
                return Error::Diagnosed(d);
            }
            Error::Decode {
                path: path.to_owned(),
                message: e.to_string(),
            }
        })
    }

    pub(crate) fn context(&self) -> RequestContext {
        RequestContext {
            auth: self.kind,
            via_gateway: self.via_gateway(),
        }
    }

    /// Sends to an absolute URL; `authenticated` false sends no credential (for discovery). A site
    /// request: paced, and repeated when the method (or a read-only POST) allows.
    pub(crate) async fn send_to(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        authenticated: bool,
    ) -> Result<Response, Error> {
        let parsed =
            Url::parse(url).map_err(|e| Error::Config(format!("bad request URL {url}: {e}")))?;
        let repeat = match is_idempotent(&method, parsed.path()) {
            true => Repeat::Always,
            false => Repeat::WhenRateLimited,
        };
        let request = Request {
            method,
            url: parsed,
            body,
            credential: match authenticated {
                true => Credential::Auth(&self.auth),
                false => Credential::None,
            },
            accept_json: true,
            paced: true,
            repeat,
        };
        self.sender
            .send(&request)
            .await
            .map_err(|g| g.into_error(self.context(), &request.method, &request.url))
    }
}

/// One request as the send path takes it. What differs between a request to the site and a token
/// request to an authorization server is said here, as properties of the request, and the one path
/// ([`Sender::send`]) obeys them.
pub(crate) struct Request<'a> {
    pub method: Method,
    pub url: Url,
    pub body: Option<&'a Value>,
    pub credential: Credential<'a>,
    /// `Accept: application/json` (Jira's API and the OAuth 2 token endpoint; the OAuth 1.0a
    /// servlets answer a form).
    pub accept_json: bool,
    /// Counted against the site's rate: waits for the client-wide pause and pace, and a 429 sets
    /// them. A token request goes to an authorization server that limits on its own terms: a 429
    /// there is waited out by that request alone.
    pub paced: bool,
    pub repeat: Repeat,
}

impl<'a> Request<'a> {
    /// A GET of the API: paced, and repeated after any transient failure.
    pub(crate) fn read(url: &str, credential: Credential<'a>) -> Result<Request<'a>, Error> {
        Ok(Request {
            method: Method::GET,
            url: Url::parse(url)
                .map_err(|e| Error::Config(format!("bad request URL {url}: {e}")))?,
            body: None,
            credential,
            accept_json: true,
            paced: true,
            repeat: Repeat::Always,
        })
    }

    /// A token request (OAuth 1.0a request and access tokens, OAuth 2 grants): not authenticated by
    /// the credential it is getting (`credential` is what the token endpoint wants), not paced as
    /// the site's requests are, and used up once the server did it.
    pub(crate) fn token(
        method: Method,
        url: &str,
        body: Option<&'a Value>,
        credential: Credential<'a>,
        accept_json: bool,
    ) -> Result<Request<'a>, Error> {
        Ok(Request {
            method,
            url: Url::parse(url)
                .map_err(|e| Error::Config(format!("bad token request URL {url}: {e}")))?,
            body,
            credential,
            accept_json,
            paced: false,
            repeat: Repeat::WhenRefused,
        })
    }
}

/// What authenticates one request.
pub(crate) enum Credential<'a> {
    /// Nothing (discovery; a token grant whose client secret is in its body).
    None,
    /// This credential, applied anew at each attempt (OAuth 1.0a signs with a fresh nonce).
    Auth(&'a Auth),
    /// An `Authorization` header made anew for each attempt from the method, URL and time (an OAuth
    /// 1.0a token request, signed with its own parameters).
    Signed(&'a (dyn Fn(&Method, &Url, i64) -> Result<String, String> + Sync)),
}

/// Which failures a request may be sent again after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// A read (GET, PUT, DELETE or a read-only POST): after any transient failure (dropped
    /// connection, cut body, 429, 5xx).
    Always,
    /// A token grant, used up once the server has done it (a one-time code, a rotating refresh
    /// token): only after a refusal that comes before any work, a 429 or a 503.
    WhenRefused,
    /// A write: only after a 429, which Jira answers before doing anything.
    WhenRateLimited,
}

/// The send path: the HTTP client behind the http rule, the retry policy, the size limit, the
/// client-wide pause and pace, and the request counts. Every request, a site's or a token
/// request, takes [`Sender::send`]: [`Sender::prepare`] (the http rule, then the credential),
/// [`Sender::wait_turn`] (the pause and pace, for paced requests), [`Sender::attempt`] (send, read,
/// classify), and the one retry rule of [`RetryPolicy`] on what the attempt came to.
#[derive(Debug)]
pub struct Sender {
    http: Http,
    retry: RetryPolicy,
    max_response_bytes: usize,
    /// Set by a 429: no paced request leaves before this instant.
    paused_until: std::sync::Mutex<Option<std::time::Instant>>,
    /// Set by a 429 that names the limit, or a configured budget.
    pace: std::sync::Mutex<Option<Pace>>,
    requests: AtomicU32,
    retries: AtomicU32,
}

impl Sender {
    /// Sends `req` until it is done, failed, or the retry rule says no more. A refusal is given
    /// back undiagnosed ([`GiveUp::Refused`]): Jira's and a token endpoint's bodies are read by
    /// their callers.
    pub(crate) async fn send(&self, req: &Request<'_>) -> Result<Response, GiveUp> {
        let mut attempt = 0;
        loop {
            let builder = self.prepare(req).map_err(GiveUp::Error)?;
            if req.paced {
                self.wait_turn().await;
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            if attempt > 0 {
                self.retries.fetch_add(1, Ordering::Relaxed);
            }
            attempt += 1;
            let last = attempt >= self.retry.max_attempts;
            match self.attempt(builder, req, attempt).await {
                Attempt::Done(r) => return Ok(r),
                Attempt::Failed(g) => return Err(g),
                Attempt::Retry {
                    wait,
                    answered,
                    give_up,
                } => {
                    // A wait the server asked for (Retry-After) is kept only up to the policy's bound.
                    if last || (answered && wait > self.retry.max_retry_after) {
                        return Err(give_up);
                    }
                    tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// A token request: its answer whatever the status (the caller reads an OAuth error body
    /// itself), or the error that kept it from being answered.
    pub(crate) async fn exchange(
        &self,
        req: &Request<'_>,
    ) -> Result<(StatusCode, HeaderMap, String), Error> {
        let r = match self.send(req).await {
            Ok(r) | Err(GiveUp::Refused(r)) => r,
            Err(GiveUp::Error(e)) => return Err(e),
        };
        Ok((
            r.status,
            r.headers,
            String::from_utf8_lossy(&r.body).into_owned(),
        ))
    }

    /// The auth step: the request with the http rule checked (before anything leaves, the proxy
    /// too) and the credential applied.
    fn prepare(&self, req: &Request<'_>) -> Result<reqwest::RequestBuilder, Error> {
        let mut b = self.http.request_url(req.method.clone(), req.url.clone())?;
        if req.accept_json {
            b = b.header("Accept", "application/json");
        }
        if let Some(body) = req.body {
            b = b.json(body);
        }
        let now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        };
        Ok(match req.credential {
            Credential::None => b,
            Credential::Auth(auth) => auth
                .apply(b, req.method.as_str(), &req.url, now())
                .map_err(Error::Config)?,
            Credential::Signed(sign) => b.header(
                reqwest::header::AUTHORIZATION,
                sign(&req.method, &req.url, now()).map_err(Error::Config)?,
            ),
        })
    }

    /// The pacing step: when the site said 429, every paced request waits out Retry-After, not
    /// only the one refused; after it, and under a configured budget, requests keep to the pace.
    async fn wait_turn(&self) {
        let pause = *self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = pause {
            tokio::time::sleep_until(until.into()).await;
        }
        let slot = {
            let mut pace = self.pace.lock().unwrap_or_else(|p| p.into_inner());
            pace.as_mut().map(|p| p.slot(std::time::Instant::now()))
        };
        if let Some(at) = slot {
            tokio::time::sleep_until(at.into()).await;
        }
    }

    /// The transport and classification steps of one attempt: sends, reads the body under the
    /// size limit, and says what came of it. Transport failures and cut bodies are retried for
    /// repeatable requests; a 429 is retried whatever the request (and, for a paced one, pauses
    /// the client and sets its pace when the site names its limit); a 503 for repeatable requests
    /// and token grants, other 5xx for repeatable requests.
    async fn attempt(
        &self,
        builder: reqwest::RequestBuilder,
        req: &Request<'_>,
        attempt: u32,
    ) -> Attempt {
        let repeatable = req.repeat == Repeat::Always;
        let sent = std::time::Instant::now();
        let resp = match builder.send().await {
            Ok(r) => r,
            Err(e) => {
                let d = diagnosis::from_transport(&e);
                // Dropped or reset connections are transient; DNS, TLS and proxy refusals are not.
                let transient = matches!(
                    d.code,
                    Code::Timeout | Code::ConnectFailed | Code::UnexpectedResponse
                );
                return match transient && repeatable {
                    true => Attempt::Retry {
                        wait: self.retry.backoff(attempt),
                        answered: false,
                        give_up: GiveUp::Error(d.into()),
                    },
                    false => Attempt::Failed(GiveUp::Error(d.into())),
                };
            }
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        // -v: every request, by method, path, status and time; never headers or the query.
        tracing::info!(
            method = %req.method,
            path = req.url.path(),
            status = status.as_u16(),
            ms = sent.elapsed().as_millis() as u64,
            "request"
        );
        let body = match read_body(resp, self.max_response_bytes).await {
            Ok(b) => b,
            Err(BodyError::TooLarge(d)) => return Attempt::Failed(GiveUp::Error(d.into())),
            // A body cut short: retried like a transport failure.
            Err(BodyError::Transport(e)) => {
                let e = GiveUp::Error(diagnosis::from_transport(&e).into());
                return match repeatable {
                    true => Attempt::Retry {
                        wait: self.retry.backoff(attempt),
                        answered: false,
                        give_up: e,
                    },
                    false => Attempt::Failed(e),
                };
            }
        };
        if status.is_success() {
            if req.paced {
                self.pace_to_announced_limit(&headers);
            }
            return Attempt::Done(Response {
                status,
                headers,
                body,
            });
        }
        let wait = match status.as_u16() {
            // Refused before any work was done: safe to retry whatever the request.
            429 => Some(self.rate_limited(&headers, attempt, sent, req.paced)),
            503 if req.repeat != Repeat::WhenRateLimited => retry_after(&headers)
                .map(|d| d.max(self.retry.base_delay))
                .or(Some(self.retry.backoff(attempt))),
            500 | 502 | 504 if repeatable => Some(self.retry.backoff(attempt)),
            _ => None,
        };
        let refused = GiveUp::Refused(Response {
            status,
            headers,
            body,
        });
        match wait {
            Some(wait) => Attempt::Retry {
                wait,
                answered: true,
                give_up: refused,
            },
            None => Attempt::Failed(refused),
        }
    }

    /// A site that names its limit on an ordinary answer (`X-RateLimit-Limit`, as Jira Cloud's
    /// rate-limit headers do) is paced under it from then on, before any 429: a client that
    /// learned the limit only from refusals lost its first seconds to a burst of them and a pause.
    fn pace_to_announced_limit(&self, headers: &HeaderMap) {
        let Some(rps) = announced_limit(headers) else {
            return;
        };
        let mut pace = self.pace.lock().unwrap_or_else(|p| p.into_inner());
        if pace.is_none() {
            *pace = Some(Pace::announced(rps));
        }
    }

    /// A 429 to a request sent at `sent`: the wait (Retry-After, or a backoff). For a paced
    /// request it also pauses every paced request of the client until then, and paces the client
    /// under the limit the site names.
    fn rate_limited(
        &self,
        headers: &HeaderMap,
        attempt: u32,
        sent: std::time::Instant,
        paced: bool,
    ) -> Duration {
        let w = retry_after(headers)
            .map(|d| d.max(self.retry.base_delay))
            .unwrap_or_else(|| self.retry.backoff(attempt));
        if !paced {
            return w;
        }
        let until = std::time::Instant::now() + w;
        let mut p = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if p.is_none_or(|old| old < until) {
            *p = Some(until);
        }
        if let Some(rps) = announced_limit(headers) {
            let mut pace = self.pace.lock().unwrap_or_else(|p| p.into_inner());
            match pace.as_mut() {
                Some(p) => p.refused(rps, until, sent),
                None => *pace = Some(Pace::new(rps, until)),
            }
        }
        w
    }
}

/// What one attempt came to.
enum Attempt {
    Done(Response),
    Failed(GiveUp),
    /// Worth another attempt after `wait` (`answered`: the server answered and named or implied
    /// the wait); `give_up` is the failure if the policy allows no more.
    Retry {
        wait: Duration,
        answered: bool,
        give_up: GiveUp,
    },
}

/// The failure of a request that is not tried again.
pub(crate) enum GiveUp {
    Error(Error),
    /// The server's refusal, read by the caller: diagnosed for a site request, an OAuth error for
    /// a token request.
    Refused(Response),
}

impl GiveUp {
    fn into_error(self, context: RequestContext, method: &Method, url: &Url) -> Error {
        match self {
            GiveUp::Error(e) => e,
            GiveUp::Refused(r) => {
                let text = String::from_utf8_lossy(&r.body);
                let d = diagnosis::from_response(r.status, &r.headers, &text, context);
                // The request refused, at -v: method and path (the query may hold JQL, not
                // secrets, but stays out: the path names the endpoint).
                tracing::info!(
                    method = %method,
                    path = url.path(),
                    status = %r.status,
                    jira = %d.jira,
                    "Jira refused the request"
                );
                Error::refused(d)
            }
        }
    }
}

/// The certificates of a CA bundle: PEM (one or more `BEGIN CERTIFICATE` blocks) or one DER
/// certificate. Anything else is refused with what was expected.
pub fn ca_certificates(bundle: &[u8]) -> Result<Vec<reqwest::Certificate>, String> {
    const WANTED: &str = "a CA bundle must be PEM (-----BEGIN CERTIFICATE-----) or one DER certificate; convert with `openssl x509 -in FILE -out ca.pem`";
    if bundle
        .windows(27)
        .any(|w| w == b"-----BEGIN CERTIFICATE-----")
    {
        let certs = reqwest::Certificate::from_pem_bundle(bundle)
            .map_err(|e| format!("the CA bundle's PEM does not parse ({e}): {WANTED}"))?;
        if certs.is_empty() {
            return Err(format!("the CA bundle holds no certificate: {WANTED}"));
        }
        return Ok(certs);
    }
    // DER: one SEQUENCE whose encoded length is the whole file.
    let der_len = match bundle {
        [0x30, n, rest @ ..] if *n < 0x80 => Some(2 + usize::from(*n)).filter(|_| !rest.is_empty()),
        [0x30, n, rest @ ..] if (0x81..=0x84).contains(n) => {
            let k = usize::from(n - 0x80);
            rest.get(..k)
                .map(|b| 2 + k + b.iter().fold(0usize, |acc, x| (acc << 8) | usize::from(*x)))
        }
        _ => None,
    };
    if der_len != Some(bundle.len()) {
        return Err(format!("the CA bundle is neither PEM nor DER: {WANTED}"));
    }
    reqwest::Certificate::from_der(bundle)
        .map(|c| vec![c])
        .map_err(|e| format!("the CA bundle's DER does not parse ({e}): {WANTED}"))
}

/// Why a body could not be read.
pub(crate) enum BodyError {
    /// Longer than the cap: refused, never retried.
    TooLarge(Diagnosis),
    /// Cut short or failed in transit.
    Transport(reqwest::Error),
}

/// Reads a body of at most `limit` bytes, chunk by chunk, so that a longer one is refused after at
/// most `limit` bytes were held (at once when its Content-Length says so).
pub(crate) async fn read_body(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    let path = resp.url().path().to_owned();
    let too_large = |size: &str| {
        BodyError::TooLarge(
            Diagnosis::new(Code::UnexpectedResponse)
                .with_cause(format!(
                    "The answer of {path} is longer than the limit of {limit} bytes ({size}); no Jira answer is that large."
                ))
                .with_fix("Check that the URL is Jira's; if a legitimate answer is this large, raise the limit with JIRALINK_MAX_RESPONSE_MB."),
        )
    };
    if let Some(len) = resp.content_length().filter(|l| *l > limit as u64) {
        return Err(too_large(&format!("Content-Length {len}")));
    }
    // Chunks are kept as they come and joined once at the end: a growing buffer would double (and
    // copy) its way past the limit.
    let mut chunks = Vec::new();
    let mut len = 0usize;
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        len += chunk.len();
        if len > limit {
            return Err(too_large("cut off at the limit"));
        }
        chunks.push(chunk);
    }
    Ok(chunks.concat())
}

/// Jira's POST endpoints that only read (relative to `/rest/api/{2,3}`): safe to repeat, and
/// covered by read scopes.
pub const READ_ONLY_POSTS: &[&str] = &[
    "/search/jql",
    "/search",
    "/search/approximate-count",
    "/issue/bulkfetch",
    "/changelog/bulkfetch",
    "/comment/list",
    "/worklog/list",
    "/permissions/check",
    "/permissions/project",
];

/// Whether the caller runs on a multi-thread Tokio runtime (where blocking work can move aside).
pub fn multi_thread_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// Runs CPU work on the blocking pool when the runtime has more than one thread (inline otherwise),
/// so that the task driving requests is not held up by it.
pub async fn off_task<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    if !multi_thread_runtime() {
        return f();
    }
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// The request rate kept after a 429: it starts at 92% of the announced limit, backs off 5% of the
/// limit at each further 429 (not below half), and creeps back up 1% of the limit every three quiet
/// seconds, to 98% at most.
#[derive(Debug)]
struct Pace {
    limit: f64,
    rate: f64,
    /// The rate never creeps above this: 98% of the announced limit, or a configured budget.
    ceiling: f64,
    next: std::time::Instant,
    changed: std::time::Instant,
}

const PACE_CREEP_EVERY: Duration = Duration::from_secs(3);

impl Pace {
    fn new(limit: f64, from: std::time::Instant) -> Pace {
        Pace {
            limit,
            rate: limit * 0.92,
            ceiling: limit * 0.98,
            next: from,
            changed: std::time::Instant::now(),
        }
    }

    /// A limit the site named before refusing anything: just under it from the start.
    fn announced(limit: f64) -> Pace {
        let now = std::time::Instant::now();
        Pace {
            limit,
            rate: limit * 0.98,
            ceiling: limit * 0.98,
            next: now,
            changed: now,
        }
    }

    /// A configured budget: that rate from the start, and never more.
    fn budget(rps: f64) -> Pace {
        let now = std::time::Instant::now();
        Pace {
            limit: rps,
            rate: rps,
            ceiling: rps,
            next: now,
            changed: now,
        }
    }

    /// A 429 to a request sent at `sent`. One sent before the last change of pace was already in
    /// flight: it says nothing about the new pace.
    fn refused(&mut self, limit: f64, until: std::time::Instant, sent: std::time::Instant) {
        if sent < self.changed {
            self.next = self.next.max(until);
            return;
        }
        self.limit = limit;
        self.ceiling = self.ceiling.min(limit * 0.98);
        self.rate = (self.rate.min(limit) - limit * 0.05).max(limit * 0.5);
        self.next = self.next.max(until);
        self.changed = until;
    }

    /// The instant the next request may go.
    fn slot(&mut self, now: std::time::Instant) -> std::time::Instant {
        if now.saturating_duration_since(self.changed) >= PACE_CREEP_EVERY {
            self.rate = (self.rate + self.limit * 0.01).min(self.ceiling);
            self.changed = now;
        }
        let at = self.next.max(now);
        self.next = at + Duration::from_secs_f64(1.0 / self.rate);
        at
    }
}

/// Reads may be repeated; writes only when Jira refused them before doing anything (429).
/// Jira's read-only POSTs (search, bulk fetches, permission checks) count as reads.
fn is_idempotent(method: &Method, path: &str) -> bool {
    match *method {
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE => true,
        Method::POST => READ_ONLY_POSTS.iter().any(|p| path.ends_with(p)),
        _ => false,
    }
}

/// The requests per second the site names (`X-RateLimit-Limit`), when it names a positive one.
fn announced_limit(headers: &HeaderMap) -> Option<f64> {
    headers
        .get("x-ratelimit-limit")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|r| *r > 0.0)
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<f64>().ok().map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_named_on_an_ordinary_answer_paces_the_client_unless_it_has_a_budget() {
        let sender = || {
            ClientBuilder::new(
                Url::parse("https://jira.test").expect("url"),
                AuthKind::Pat,
                Auth::Bearer {
                    token: secrecy::SecretString::from("x".to_owned()),
                },
            )
            .http()
            .expect("sender")
        };
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-limit", "50".parse().expect("header"));
        headers.insert("x-ratelimit-remaining", "49".parse().expect("header"));
        let s = sender();
        s.pace_to_announced_limit(&HeaderMap::new());
        assert!(s.pace.lock().expect("lock").is_none(), "no limit named");
        s.pace_to_announced_limit(&headers);
        let rate = s.pace.lock().expect("lock").as_ref().map(|p| p.rate);
        assert_eq!(rate, Some(50.0 * 0.98));
        // A configured budget (or a pace a 429 set) stays.
        let s = sender();
        *s.pace.lock().expect("lock") = Some(Pace::budget(10.0));
        s.pace_to_announced_limit(&headers);
        let rate = s.pace.lock().expect("lock").as_ref().map(|p| p.rate);
        assert_eq!(rate, Some(10.0));
    }

    #[test]
    fn a_429_to_a_token_request_pauses_no_site_request() {
        let site = Url::parse("https://jira.test").expect("url");
        let sender = ClientBuilder::new(
            site,
            AuthKind::Pat,
            Auth::Bearer {
                token: secrecy::SecretString::from("x".to_owned()),
            },
        )
        .http()
        .expect("sender");
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "2".parse().expect("header"));
        headers.insert("x-ratelimit-limit", "10".parse().expect("header"));
        let now = std::time::Instant::now();
        // Unpaced (a token request): the wait is its own.
        assert_eq!(
            sender.rate_limited(&headers, 1, now, false),
            Duration::from_secs(2)
        );
        assert!(sender.paused_until.lock().expect("lock").is_none());
        assert!(sender.pace.lock().expect("lock").is_none());
        // Paced (a site request): every paced request waits, and the client keeps the pace.
        assert_eq!(
            sender.rate_limited(&headers, 1, now, true),
            Duration::from_secs(2)
        );
        assert!(sender.paused_until.lock().expect("lock").is_some());
        assert!(sender.pace.lock().expect("lock").is_some());
    }

    #[test]
    fn the_pace_backs_off_on_429_and_creeps_back_up_when_quiet() {
        let t0 = std::time::Instant::now();
        let mut p = Pace::new(50.0, t0);
        assert!((p.rate - 46.0).abs() < 1e-9);
        // Slots are 1/46 s apart while nothing changes.
        let a = p.slot(t0);
        let b = p.slot(t0);
        assert_eq!(b - a, Duration::from_secs_f64(1.0 / 46.0));
        // Another 429: 5% of the limit less, and nothing before the pause ends.
        let until = t0 + Duration::from_secs(1);
        // A request that was in flight when the pace was set changes nothing but the pause.
        p.refused(50.0, until, t0 - Duration::from_millis(1));
        assert!((p.rate - 46.0).abs() < 1e-9);
        p.refused(50.0, until, p.changed);
        assert!((p.rate - 43.5).abs() < 1e-9);
        assert!(p.slot(t0) >= until);
        // Three quiet seconds later, 1% of the limit more at a time, never above 98%.
        let mut now = until;
        for _ in 0..20 {
            now += PACE_CREEP_EVERY;
            p.slot(now);
        }
        assert!((p.rate - 49.0).abs() < 1e-9, "{}", p.rate);
        // Never below half the limit.
        for _ in 0..30 {
            let sent = p.changed;
            p.refused(50.0, now, sent);
        }
        assert!((p.rate - 25.0).abs() < 1e-9);

        // A configured budget is kept from the start and never crept over.
        let mut b = Pace::budget(10.0);
        let start = b.changed;
        let first = b.slot(start);
        assert_eq!(b.slot(start) - first, Duration::from_millis(100));
        b.slot(start + Duration::from_secs(60));
        assert!((b.rate - 10.0).abs() < 1e-9);
    }
}
