//! The send path as a stack of tower layers that every request takes, a site's or an OAuth token
//! request: retry, auth, pacing, classification, transport.
//!
//! [`Sender::send`] runs one request through
//!
//! - **retry** (outermost): `tower::retry` with [`RetryRule`], the one rule of [`RetryPolicy`]:
//!   at most `max_attempts`, the wait the classification named (a backoff, or `Retry-After`, which
//!   is not waited for beyond `max_retry_after`), and only what the request may be [`Repeat`]ed
//!   after;
//! - **auth** ([`Authenticate`]): the http rule (`secure::Http`), then the credential, applied anew
//!   at each attempt (OAuth 1.0a signs with a fresh nonce and timestamp);
//! - **pacing** ([`Paced`]): a paced request waits out the client-wide pause and its slot of the
//!   pace; every attempt is counted, retries apart;
//! - **classification** ([`Classify`]): what the attempt came to, `Ok` (done) or a [`Failure`]
//!   (failed, or worth another attempt after a wait); a 429 sets the client's pause and pace, and
//!   a limit the site names on an ordinary answer paces the client;
//! - **transport** ([`Transport`]): sends, and reads the body under the size limit.
//!
//! Where the shape departs from the textbook one, and why:
//! - auth comes before pacing, not after it, as in the send path before the layers: a request the
//!   http rule refuses neither waits for a turn nor counts as sent. The credential is still applied
//!   at the start of each attempt.
//! - the layers share the send path's state through an `Arc` ([`Shared`], one clone per layer per
//!   request), so that their futures own what they use: layers that borrowed the [`Sender`] gave
//!   futures whose `Send` the compiler could not prove for every lifetime, and an axum handler (the
//!   web app's) that sends a request needs it.
//! - the request's credential stays borrowed ([`Credential`]), not `Arc`ed: the auth layer takes
//!   it in the request and uses it at once, before anything waits, so nothing outlives the `send`
//!   it was lent for; the OAuth 1.0a token request signs with a closure over its borrowed key.
//!   The rest of the request is owned and cheap to clone for a retry: its body is serialised once,
//!   and every attempt sends the same bytes.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::{Either, Ready};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tower::layer::layer_fn;
use tower::retry::{Policy, RetryLayer};
use tower::{Service, ServiceBuilder, ServiceExt};
use url::Url;

use crate::auth::Auth;
use crate::client::{Error, Response, RetryPolicy};
use crate::diagnosis::{self, Code, Diagnosis, RequestContext};
use crate::secure::Http;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One request as the send path takes it. What differs between a request to the site and a token
/// request to an authorization server is said here, as properties of the request, and the one path
/// ([`Sender::send`]) obeys them.
#[derive(Clone)]
pub(crate) struct Request<'a> {
    pub method: Method,
    pub url: Url,
    /// The JSON body, serialised once: every attempt sends these bytes.
    pub body: Option<Bytes>,
    pub credential: Credential<'a>,
    /// `Accept: application/json` (Jira's API and the OAuth 2 token endpoint; the OAuth 1.0a
    /// servlets answer a form).
    pub accept_json: bool,
    /// Counted against the site's rate: waits for the client-wide pause and pace, and a 429 sets
    /// them. A token request goes to an authorization server that limits on its own terms: a 429
    /// there is waited out by that request alone.
    pub paced: bool,
    pub repeat: Repeat,
    /// Attempts made before this one (the retry layer counts them).
    attempt: u32,
}

impl<'a> Request<'a> {
    /// A request to the site: paced, with Jira's JSON, repeated after what `repeat` allows.
    pub(crate) fn site(
        method: Method,
        url: Url,
        body: Option<&Value>,
        credential: Credential<'a>,
        repeat: Repeat,
    ) -> Result<Request<'a>, Error> {
        Ok(Request {
            method,
            url,
            body: body.map(json_bytes).transpose()?,
            credential,
            accept_json: true,
            paced: true,
            repeat,
            attempt: 0,
        })
    }

    /// A GET of the API: paced, and repeated after any transient failure.
    pub(crate) fn read(url: &str, credential: Credential<'a>) -> Result<Request<'a>, Error> {
        let url =
            Url::parse(url).map_err(|e| Error::Config(format!("bad request URL {url}: {e}")))?;
        Request::site(Method::GET, url, None, credential, Repeat::Always)
    }

    /// A token request (OAuth 1.0a request and access tokens, OAuth 2 grants): not authenticated by
    /// the credential it is getting (`credential` is what the token endpoint wants), not paced as
    /// the site's requests are, and used up once the server did it.
    pub(crate) fn token(
        method: Method,
        url: &str,
        body: Option<&Value>,
        credential: Credential<'a>,
        accept_json: bool,
    ) -> Result<Request<'a>, Error> {
        Ok(Request {
            method,
            url: Url::parse(url)
                .map_err(|e| Error::Config(format!("bad token request URL {url}: {e}")))?,
            body: body.map(json_bytes).transpose()?,
            credential,
            accept_json,
            paced: false,
            repeat: Repeat::WhenRefused,
            attempt: 0,
        })
    }
}

fn json_bytes(body: &Value) -> Result<Bytes, Error> {
    serde_json::to_vec(body)
        .map(Bytes::from)
        .map_err(|e| Error::Config(format!("cannot serialise the request body: {e}")))
}

/// What authenticates one request.
#[derive(Clone, Copy)]
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

/// What an attempt that was not done came to: the error of the layers below retry.
pub(crate) enum Failure {
    Failed(GiveUp),
    /// Worth another attempt after `wait` (`answered`: the server answered and named or implied
    /// the wait); `give_up` is the failure if the rule allows no more.
    Retry {
        wait: Duration,
        answered: bool,
        give_up: GiveUp,
    },
}

impl Failure {
    fn give_up(self) -> GiveUp {
        match self {
            Failure::Failed(g) | Failure::Retry { give_up: g, .. } => g,
        }
    }
}

/// The failure of a request that is not tried again.
pub(crate) enum GiveUp {
    Error(Error),
    /// The server's refusal, read by the caller: diagnosed for a site request, an OAuth error for
    /// a token request.
    Refused(Response),
}

impl GiveUp {
    pub(crate) fn into_error(self, context: RequestContext, method: &Method, url: &Url) -> Error {
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

/// The send path: its state, shared by the layers of each request, and `Sender::send`, which
/// every request, a site's or a token request, takes through the layers of the `send` module.
#[derive(Debug)]
pub struct Sender {
    shared: Arc<Shared>,
}

/// The send path's state: the HTTP client behind the http rule, the retry policy, the size limit,
/// the client-wide pause and pace, and the request counts.
#[derive(Debug)]
struct Shared {
    http: Http,
    retry: RetryPolicy,
    max_response_bytes: usize,
    /// Set by a 429: no paced request leaves before this instant.
    paused_until: Mutex<Option<Instant>>,
    /// Set by a 429 that names the limit, or a configured budget.
    pace: Mutex<Option<Pace>>,
    requests: AtomicU32,
    retries: AtomicU32,
}

impl Sender {
    pub(crate) fn new(http: Http, retry: RetryPolicy, max_response_bytes: usize) -> Sender {
        Sender {
            shared: Arc::new(Shared {
                http,
                retry,
                max_response_bytes,
                paused_until: Mutex::new(None),
                pace: Mutex::new(None),
                requests: AtomicU32::new(0),
                retries: AtomicU32::new(0),
            }),
        }
    }

    /// Sends `req` until it is done, failed, or the retry rule says no more. A refusal is given
    /// back undiagnosed ([`GiveUp::Refused`]): Jira's and a token endpoint's bodies are read by
    /// their callers.
    pub(crate) async fn send(&self, req: &Request<'_>) -> Result<Response, GiveUp> {
        let shared = &self.shared;
        ServiceBuilder::new()
            .layer(RetryLayer::new(RetryRule(shared.retry)))
            .layer(layer_fn(|inner| Authenticate {
                shared: shared.clone(),
                inner,
            }))
            .layer(layer_fn(|inner| Paced {
                shared: shared.clone(),
                inner,
            }))
            .layer(layer_fn(|inner| Classify {
                shared: shared.clone(),
                inner,
            }))
            .service(Transport {
                max_response_bytes: shared.max_response_bytes,
            })
            .oneshot(req.clone())
            .await
            .map_err(Failure::give_up)
    }

    /// Requests sent so far (retries included).
    pub(crate) fn requests(&self) -> u32 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Of those, retries of a request already sent once.
    pub(crate) fn retries(&self) -> u32 {
        self.shared.retries.load(Ordering::Relaxed)
    }

    /// Keeps paced requests to at most `rps` a second from now on; a 429 can lower the pace
    /// further, never raise it above `rps`.
    pub(crate) fn limit_rate(&self, rps: f64) {
        *self.shared.pace.lock().unwrap_or_else(|p| p.into_inner()) = Some(Pace::budget(rps));
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
}

impl Shared {
    /// The pacing step: when the site said 429, every paced request waits out Retry-After, not
    /// only the one refused; after it, and under a configured budget, requests keep to the pace.
    async fn wait_turn(&self) {
        let pause = *self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = pause {
            tokio::time::sleep_until(until.into()).await;
        }
        let slot = {
            let mut pace = self.pace.lock().unwrap_or_else(|p| p.into_inner());
            pace.as_mut().map(|p| p.slot(Instant::now()))
        };
        if let Some(at) = slot {
            tokio::time::sleep_until(at.into()).await;
        }
    }

    /// The classification of one attempt (the `attempt`-th, from 1) sent at `sent`. Transport
    /// failures and cut bodies are retried for repeatable requests; a 429 is retried whatever the
    /// request (and, for a paced one, pauses the client and sets its pace when the site names its
    /// limit); a 503 for repeatable requests and token grants, other 5xx for repeatable requests.
    // The answer (`Ok`) is as large as the failure: boxing the failure would save no copy.
    #[allow(clippy::result_large_err)]
    fn classify(
        &self,
        answer: Result<Response, TransportError>,
        to: Attempt,
        sent: Instant,
    ) -> Result<Response, Failure> {
        let repeatable = to.repeat == Repeat::Always;
        let r = answer.map_err(|e| self.transport_failure(e, to))?;
        if r.status.is_success() {
            if to.paced {
                self.pace_to_announced_limit(&r.headers);
            }
            return Ok(r);
        }
        let wait = match r.status.as_u16() {
            // Refused before any work was done: safe to retry whatever the request.
            429 => Some(self.rate_limited(&r.headers, to.attempt, sent, to.paced)),
            503 if to.repeat != Repeat::WhenRateLimited => retry_after(&r.headers)
                .map(|d| d.max(self.retry.base_delay))
                .or(Some(self.retry.backoff(to.attempt))),
            500 | 502 | 504 if repeatable => Some(self.retry.backoff(to.attempt)),
            _ => None,
        };
        Err(match wait {
            Some(wait) => Failure::Retry {
                wait,
                answered: true,
                give_up: GiveUp::Refused(r),
            },
            None => Failure::Failed(GiveUp::Refused(r)),
        })
    }

    /// An attempt that got no full answer: a dropped connection or a cut body is transient (tried
    /// again if the request is repeatable); a too-large body, DNS, TLS and proxy refusals are not.
    fn transport_failure(&self, e: TransportError, to: Attempt) -> Failure {
        let (e, transient) = match e {
            TransportError::Send(e) => {
                let d = diagnosis::from_transport(&e);
                let dropped = matches!(
                    d.code,
                    Code::Timeout | Code::ConnectFailed | Code::UnexpectedResponse
                );
                (d, dropped)
            }
            TransportError::Body(BodyError::TooLarge(d)) => (d, false),
            TransportError::Body(BodyError::Transport(e)) => (diagnosis::from_transport(&e), true),
        };
        let give_up = GiveUp::Error(e.into());
        match transient && to.repeat == Repeat::Always {
            true => Failure::Retry {
                wait: self.retry.backoff(to.attempt),
                answered: false,
                give_up,
            },
            false => Failure::Failed(give_up),
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
        sent: Instant,
        paced: bool,
    ) -> Duration {
        let w = retry_after(headers)
            .map(|d| d.max(self.retry.base_delay))
            .unwrap_or_else(|| self.retry.backoff(attempt));
        if !paced {
            return w;
        }
        let until = Instant::now() + w;
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

/// The retry layer's policy: [`RetryPolicy`]'s rule on what an attempt came to.
#[derive(Clone, Copy)]
struct RetryRule(RetryPolicy);

impl<'a> Policy<Request<'a>, Response, Failure> for RetryRule {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        req: &mut Request<'a>,
        result: &mut Result<Response, Failure>,
    ) -> Option<Self::Future> {
        let Err(Failure::Retry { wait, answered, .. }) = result else {
            return None;
        };
        req.attempt += 1;
        // A wait the server asked for (Retry-After) is kept only up to the policy's bound.
        if req.attempt >= self.0.max_attempts || (*answered && *wait > self.0.max_retry_after) {
            return None;
        }
        tracing::debug!(
            attempt = req.attempt,
            wait_ms = wait.as_millis() as u64,
            "retrying"
        );
        Some(tokio::time::sleep(*wait))
    }

    fn clone_request(&mut self, req: &Request<'a>) -> Option<Request<'a>> {
        // A request that may not be tried again needs no copy kept.
        (self.0.max_attempts > 1).then(|| req.clone())
    }
}

/// An attempt below the auth layer: the request with its credential, and what the layers under
/// it need to know of it.
struct Prepared {
    builder: reqwest::RequestBuilder,
    method: Method,
    to: Attempt,
}

/// What pacing and classification read of an attempt.
#[derive(Clone, Copy)]
struct Attempt {
    paced: bool,
    repeat: Repeat,
    /// This attempt's number, from 1.
    attempt: u32,
}

/// The auth layer: the http rule checked (before anything leaves, the proxy too), then the
/// credential applied, at each attempt.
#[derive(Clone)]
struct Authenticate<S> {
    shared: Arc<Shared>,
    inner: S,
}

impl<S> Authenticate<S> {
    fn prepare(&self, req: Request<'_>) -> Result<Prepared, Error> {
        let mut b = self
            .shared
            .http
            .request_url(req.method.clone(), req.url.clone())?;
        if req.accept_json {
            b = b.header(reqwest::header::ACCEPT, "application/json");
        }
        if let Some(body) = req.body {
            b = b
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        };
        let builder = match req.credential {
            Credential::None => b,
            Credential::Auth(auth) => auth
                .apply(b, req.method.as_str(), &req.url, now())
                .map_err(Error::Config)?,
            Credential::Signed(sign) => b.header(
                reqwest::header::AUTHORIZATION,
                sign(&req.method, &req.url, now()).map_err(Error::Config)?,
            ),
        };
        Ok(Prepared {
            builder,
            method: req.method,
            to: Attempt {
                paced: req.paced,
                repeat: req.repeat,
                attempt: req.attempt + 1,
            },
        })
    }
}

impl<'a, S> Service<Request<'a>> for Authenticate<S>
where
    S: Service<Prepared, Response = Response, Error = Failure>,
{
    type Response = Response;
    type Error = Failure;
    type Future = Either<Ready<Result<Response, Failure>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Failure>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<'a>) -> Self::Future {
        match self.prepare(req) {
            Ok(p) => Either::Right(self.inner.call(p)),
            Err(e) => Either::Left(futures_util::future::ready(Err(Failure::Failed(
                GiveUp::Error(e),
            )))),
        }
    }
}

/// The pacing layer: a paced attempt waits for the client-wide pause and its slot of the pace;
/// every attempt is counted, and a retry as one.
#[derive(Clone)]
struct Paced<S> {
    shared: Arc<Shared>,
    inner: S,
}

impl<S> Service<Prepared> for Paced<S>
where
    S: Service<Prepared, Response = Response, Error = Failure>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Failure;
    type Future = BoxFuture<'static, Result<Response, Failure>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Failure>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, p: Prepared) -> Self::Future {
        let shared = self.shared.clone();
        let to = p.to;
        // The inner future does nothing until polled: the attempt leaves after the wait.
        let attempt = self.inner.call(p);
        Box::pin(async move {
            if to.paced {
                shared.wait_turn().await;
            }
            shared.requests.fetch_add(1, Ordering::Relaxed);
            if to.attempt > 1 {
                shared.retries.fetch_add(1, Ordering::Relaxed);
            }
            attempt.await
        })
    }
}

/// The classification layer: what the transport's answer or failure comes to ([`Shared::classify`]).
#[derive(Clone)]
struct Classify<S> {
    shared: Arc<Shared>,
    inner: S,
}

impl<S> Service<Prepared> for Classify<S>
where
    S: Service<Prepared, Response = Response, Error = TransportError>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Failure;
    type Future = BoxFuture<'static, Result<Response, Failure>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Failure>> {
        // The transport is always ready; were it not, nothing was sent, and nothing is repeated.
        let unsent = Attempt {
            paced: false,
            repeat: Repeat::WhenRateLimited,
            attempt: 1,
        };
        self.inner
            .poll_ready(cx)
            .map_err(|e| self.shared.transport_failure(e, unsent))
    }

    fn call(&mut self, p: Prepared) -> Self::Future {
        let shared = self.shared.clone();
        let to = p.to;
        let answer = self.inner.call(p);
        Box::pin(async move {
            let sent = Instant::now();
            shared.classify(answer.await, to, sent)
        })
    }
}

/// Why an attempt got no full answer.
enum TransportError {
    /// Not sent, or no answer.
    Send(reqwest::Error),
    /// An answer whose body could not be read.
    Body(BodyError),
}

/// The transport: sends, and reads the body under the size limit.
#[derive(Clone, Copy)]
struct Transport {
    max_response_bytes: usize,
}

impl Service<Prepared> for Transport {
    type Response = Response;
    type Error = TransportError;
    type Future = BoxFuture<'static, Result<Response, TransportError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, p: Prepared) -> Self::Future {
        let limit = self.max_response_bytes;
        Box::pin(async move {
            let sent = Instant::now();
            let resp = p.builder.send().await.map_err(TransportError::Send)?;
            let status = resp.status();
            let headers = resp.headers().clone();
            // -v: every request, by method, path, status and time; never headers or the query.
            // (No redirect is followed: the answer's URL is the request's.)
            tracing::info!(
                method = %p.method,
                path = resp.url().path(),
                status = status.as_u16(),
                ms = sent.elapsed().as_millis() as u64,
                "request"
            );
            let body = read_body(resp, limit).await.map_err(TransportError::Body)?;
            Ok(Response {
                status,
                headers,
                body,
            })
        })
    }
}

/// Why a body could not be read.
enum BodyError {
    /// Longer than the cap: refused, never retried.
    TooLarge(Diagnosis),
    /// Cut short or failed in transit.
    Transport(reqwest::Error),
}

/// Reads a body of at most `limit` bytes, chunk by chunk, so that a longer one is refused after at
/// most `limit` bytes were held (at once when its Content-Length says so).
async fn read_body(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
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

/// The request rate kept after a 429: it starts at 92% of the announced limit, backs off 5% of the
/// limit at each further 429 (not below half), and creeps back up 1% of the limit every three quiet
/// seconds, to 98% at most.
#[derive(Debug)]
struct Pace {
    limit: f64,
    rate: f64,
    /// The rate never creeps above this: 98% of the announced limit, or a configured budget.
    ceiling: f64,
    next: Instant,
    changed: Instant,
}

const PACE_CREEP_EVERY: Duration = Duration::from_secs(3);

impl Pace {
    fn new(limit: f64, from: Instant) -> Pace {
        Pace {
            limit,
            rate: limit * 0.92,
            ceiling: limit * 0.98,
            next: from,
            changed: Instant::now(),
        }
    }

    /// A limit the site named before refusing anything: just under it from the start.
    fn announced(limit: f64) -> Pace {
        let now = Instant::now();
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
        let now = Instant::now();
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
    fn refused(&mut self, limit: f64, until: Instant, sent: Instant) {
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
    fn slot(&mut self, now: Instant) -> Instant {
        if now.saturating_duration_since(self.changed) >= PACE_CREEP_EVERY {
            self.rate = (self.rate + self.limit * 0.01).min(self.ceiling);
            self.changed = now;
        }
        let at = self.next.max(now);
        self.next = at + Duration::from_secs_f64(1.0 / self.rate);
        at
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
    use crate::client::ClientBuilder;
    use crate::AuthKind;
    use std::sync::atomic::AtomicUsize;

    /// A server on 127.0.0.1 that answers the first request to each path 503 and every later one
    /// 200 with `{}`, and keeps the `Authorization` header of every request, in order.
    async fn flaky_server() -> (String, Arc<Mutex<Vec<(String, String)>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
        let log = seen.clone();
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: axum::http::HeaderMap| {
                let log = log.clone();
                async move {
                    let mut log = log.lock().expect("log");
                    let first = !log.iter().any(|(p, _)| p == uri.path());
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    log.push((uri.path().to_owned(), auth));
                    match first {
                        true => (axum::http::StatusCode::SERVICE_UNAVAILABLE, "busy"),
                        false => (axum::http::StatusCode::OK, "{}"),
                    }
                }
            },
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (url, seen)
    }

    fn sender(url: &str) -> Sender {
        ClientBuilder::new(
            crate::site::normalize(url, false).expect("a loopback URL"),
            AuthKind::Pat,
            Auth::Bearer {
                token: secrecy::SecretString::from(String::new()),
            },
        )
        .retry(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            ..RetryPolicy::default()
        })
        .http()
        .expect("sender")
    }

    #[tokio::test]
    async fn a_token_request_and_a_site_read_take_the_same_layers() {
        let (url, seen) = flaky_server().await;
        let http = sender(&url);
        let signed = AtomicUsize::new(0);
        let sign = |_: &Method, _: &Url, _: i64| {
            let n = signed.fetch_add(1, Ordering::Relaxed);
            Ok(format!("OAuth attempt={n}"))
        };
        let grant = serde_json::json!({"grant_type": "refresh_token"});
        let token = Request::token(
            Method::POST,
            &format!("{url}/oauth/token"),
            Some(&grant),
            Credential::Signed(&sign),
            true,
        )
        .expect("token request");
        let (status, _, _) = http.exchange(&token).await.expect("the retried grant");
        assert_eq!(status, StatusCode::OK);
        let bearer = Auth::Bearer {
            token: secrecy::SecretString::from("pat-1".to_owned()),
        };
        let read = Request::read(
            &format!("{url}/rest/api/2/myself"),
            Credential::Auth(&bearer),
        )
        .expect("read");
        let (status, _, _) = http.exchange(&read).await.expect("the retried read");
        assert_eq!(status, StatusCode::OK);
        // Each was retried once by the one retry layer, and each attempt counted.
        assert_eq!(http.requests(), 4);
        assert_eq!(http.retries(), 2);
        // The auth layer applied each credential at each attempt: signed anew, the bearer resent.
        let seen = seen.lock().expect("log").clone();
        let auth: Vec<&str> = seen.iter().map(|(_, a)| a.as_str()).collect();
        assert_eq!(
            auth,
            [
                "OAuth attempt=0",
                "OAuth attempt=1",
                "Bearer pat-1",
                "Bearer pat-1"
            ]
        );
    }

    #[tokio::test]
    async fn the_pause_holds_paced_requests_only_and_a_refused_url_neither_waits_nor_counts() {
        let (url, _) = flaky_server().await;
        let http = sender(&url);
        let pause = Duration::from_millis(800);
        *http.shared.paused_until.lock().expect("lock") = Some(Instant::now() + pause);
        let started = Instant::now();
        // The http rule (auth layer) refuses before the pacing layer: no wait, not counted.
        let refused =
            Request::read("http://jira.test/rest/api/2/myself", Credential::None).expect("read");
        match http.send(&refused).await {
            Err(GiveUp::Error(e)) => assert_eq!(e.diagnosis().code, Code::HttpNotAllowed),
            _ => panic!("an http URL off loopback is refused"),
        }
        assert_eq!(http.requests(), 0);
        // A token request is not paced: it goes (and is retried) during the pause.
        let token = Request::token(
            Method::POST,
            &format!("{url}/oauth/token"),
            None,
            Credential::None,
            true,
        )
        .expect("token request");
        http.exchange(&token).await.expect("the grant");
        assert!(started.elapsed() < pause, "{:?}", started.elapsed());
        // A site read waits the pause out.
        let read =
            Request::read(&format!("{url}/rest/api/2/myself"), Credential::None).expect("read");
        http.exchange(&read).await.expect("the read");
        assert!(started.elapsed() >= pause, "{:?}", started.elapsed());
        assert_eq!(http.requests(), 4);
    }

    #[test]
    fn a_limit_named_on_an_ordinary_answer_paces_the_client_unless_it_has_a_budget() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-limit", "50".parse().expect("header"));
        headers.insert("x-ratelimit-remaining", "49".parse().expect("header"));
        let s = sender("https://jira.test").shared;
        s.pace_to_announced_limit(&HeaderMap::new());
        assert!(s.pace.lock().expect("lock").is_none(), "no limit named");
        s.pace_to_announced_limit(&headers);
        let rate = s.pace.lock().expect("lock").as_ref().map(|p| p.rate);
        assert_eq!(rate, Some(50.0 * 0.98));
        // A configured budget (or a pace a 429 set) stays.
        let s = sender("https://jira.test");
        s.limit_rate(10.0);
        s.shared.pace_to_announced_limit(&headers);
        let rate = s.shared.pace.lock().expect("lock").as_ref().map(|p| p.rate);
        assert_eq!(rate, Some(10.0));
    }

    #[test]
    fn a_429_to_a_token_request_pauses_no_site_request() {
        let s = sender("https://jira.test").shared;
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "2".parse().expect("header"));
        headers.insert("x-ratelimit-limit", "10".parse().expect("header"));
        let now = Instant::now();
        // Unpaced (a token request): the wait is its own.
        assert_eq!(
            s.rate_limited(&headers, 1, now, false),
            Duration::from_secs(2)
        );
        assert!(s.paused_until.lock().expect("lock").is_none());
        assert!(s.pace.lock().expect("lock").is_none());
        // Paced (a site request): every paced request waits, and the client keeps the pace.
        assert_eq!(
            s.rate_limited(&headers, 1, now, true),
            Duration::from_secs(2)
        );
        assert!(s.paused_until.lock().expect("lock").is_some());
        assert!(s.pace.lock().expect("lock").is_some());
    }

    #[test]
    fn the_pace_backs_off_on_429_and_creeps_back_up_when_quiet() {
        let t0 = Instant::now();
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
