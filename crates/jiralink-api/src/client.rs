//! The Jira REST client: one `Client` built by a `ClientBuilder`, with auth, the effective base URL
//! (site or Cloud gateway), TLS and proxy settings, and the retry policy applied to every request.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use url::Url;

use crate::auth::{Auth, AuthKind};
use crate::diagnosis::{self, Code, Diagnosis, RequestContext};
use crate::models::{Issue, ListPage};
use crate::secure::{Http, Proxies};
use crate::send::Repeat;
pub use crate::send::Sender;
pub(crate) use crate::send::{Credential, Request};
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

    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
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
        Ok(Sender::new(
            Http::new(client, proxies, self.allow_insecure_http),
            self.retry,
            self.max_response_bytes,
        ))
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
        self.sender.requests()
    }
    /// Of those, retries of a request already sent once.
    pub fn retries(&self) -> u32 {
        self.sender.retries()
    }
    /// Keeps to at most `rps` requests per second from now on (a site's rate budget shared with
    /// other integrations). A 429 can lower the pace further; it never rises above `rps`.
    pub fn limit_rate(&self, rps: f64) {
        if rps > 0.0 {
            self.sender.limit_rate(rps);
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
            let (parsed, body) = off_task(move || (read_body::<T>(&body), body)).await;
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
        let credential = match authenticated {
            true => Credential::Auth(&self.auth),
            false => Credential::None,
        };
        let request = Request::site(method, parsed, body, credential, repeat)?;
        self.sender
            .send(&request)
            .await
            .map_err(|g| g.into_error(self.context(), &request.method, &request.url))
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

/// `T` read from a body, `None` when it does not read as one. The body's UTF-8 is checked once,
/// as a whole, rather than string by string as serde's reading of bytes does. A page of issues is
/// read in one pass ([`ListPage::issues_in_one_pass`]), the rest by serde.
fn read_body<T: serde::de::DeserializeOwned + 'static>(body: &[u8]) -> Option<T> {
    use std::any::{Any, TypeId};
    let text = std::str::from_utf8(body).ok()?;
    if TypeId::of::<T>() == TypeId::of::<ListPage<Issue>>() {
        if let Some(page) = ListPage::<Issue>::issues_in_one_pass(text) {
            let page: Box<dyn Any> = Box::new(page);
            return page.downcast::<T>().ok().map(|page| *page);
        }
    }
    serde_json::from_str(text).ok()
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

/// Reads may be repeated; writes only when Jira refused them before doing anything (429).
/// Jira's read-only POSTs (search, bulk fetches, permission checks) count as reads.
fn is_idempotent(method: &Method, path: &str) -> bool {
    match *method {
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE => true,
        Method::POST => READ_ONLY_POSTS.iter().any(|p| path.ends_with(p)),
        _ => false,
    }
}
