//! `jiralink-sim`: a stateful simulator of Jira Cloud and Data Center, served over HTTP(S) for tests,
//! benchmarks and integration developers.
//!
//! ```no_run
//! # async fn demo() -> Result<(), jiralink_sim::SimError> {
//! use jiralink_sim::{Deployment, Sim};
//! let sim = Sim::builder().deployment(Deployment::Cloud).issues(500).rate_limit(20.0).start().await?;
//! println!("{}", sim.base_url());
//! # Ok(()) }
//! ```

// Handlers return `Result<_, Response>` so that an error is already Jira's HTTP answer.
#![allow(clippy::result_large_err)]

pub mod generate;
pub mod jql;
pub mod model;
mod mutate;

pub mod oauth1;
mod oauth2;
pub mod ops;
pub mod render;
mod richtext;
mod routes;
pub mod scopes;
mod server;
pub mod snapshot;
mod transport;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use model::Deployment;
pub use server::Shared;

/// What the generator builds: the size and shape of the simulated organisation.
#[derive(Debug, Clone)]
pub struct GenConfig {
    pub deployment: Deployment,
    pub seed: u64,
    pub issues: usize,
    /// Number of projects; `None` picks one from the issue count.
    pub projects: Option<usize>,
}

/// A seeded identity, as printed on start (PRODUCT.md, "The simulator").
#[derive(Debug, Clone, serde::Serialize)]
pub struct Identity {
    pub name: String,
    pub auth: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub secret: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Extra fields some auth kinds need (OAuth 1.0a: consumer_key, private_key_pem, access_token).
    #[serde(flatten)]
    pub extra: std::collections::BTreeMap<String, String>,
}

/// Lifetime of a continuation token by default. Atlassian documents none for Cloud, only that
/// tokens are opaque; an hour outlives any page-to-page pause of a working client.
pub const DEFAULT_PAGE_TOKEN_TTL_S: u64 = 3600;

/// Everything `jiralink sim` accepts on its command line.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub gen: GenConfig,
    pub bind: SocketAddr,
    pub latency_ms: u64,
    /// Requests per second per identity; `None` for no limit.
    pub rate_limit: Option<f64>,
    /// Probability of a fault per request (500, 502, 503, reset, truncated body, or applied and
    /// then the answer lost: 504 or a reset after the handler ran).
    pub fault_rate: f64,
    /// The kinds of fault `fault_rate` draws from, evenly (all of them by default).
    pub fault_kinds: Vec<FaultKind>,
    /// Mutations per second while serving (creates, updates, moves, deletes, comments, worklogs).
    pub mutate_per_s: f64,
    pub tls: bool,
    /// Serve the removed `GET/POST /rest/api/{2,3}/search` on Cloud instead of 410 Gone.
    pub legacy_search: bool,
    /// Data Center context path such as `/jira` (empty for none).
    pub context_path: String,
    /// `worklog/updated` and `worklog/deleted` leave out the last minute, as Jira does; tests of
    /// the feeds may shorten it.
    pub worklog_feed_lag_ms: i64,
    /// Seconds a `nextPageToken` stays valid (0: every token is already expired, for tests).
    pub page_token_ttl_s: u64,

    /// The Data Center release simulated (serverInfo, sprint field layout, personal access tokens).
    pub dc_version: DcVersion,
    /// Data Center's server page cap (`jira.search.views.default.max`): every search and list
    /// cuts `maxResults` to it and says so in the page's `maxResults`.
    pub dc_max_results: usize,
}

/// A Jira Data Center release, `major.minor.patch`. Ordered, so behaviour can depend on "since".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DcVersion {
    pub major: u16,
    pub minor: u16,
    pub patch: u16,
}

impl DcVersion {
    /// 9.12 LTS: see "Deployment differences" in docs/simulator.md for why it is the default.
    pub const DEFAULT: DcVersion = DcVersion::new(9, 12, 15);
    /// Personal access tokens arrived in Jira 8.14.
    pub const PATS_SINCE: DcVersion = DcVersion::new(8, 14, 0);
    /// Jira 10 writes the sprint field's legacy string with its attributes in alphabetical order.
    pub const SORTED_SPRINT_STRING_SINCE: DcVersion = DcVersion::new(10, 0, 0);

    pub const fn new(major: u16, minor: u16, patch: u16) -> DcVersion {
        DcVersion {
            major,
            minor,
            patch,
        }
    }
    pub fn has_pats(self) -> bool {
        self >= DcVersion::PATS_SINCE
    }
    /// `buildNumber` as serverInfo reports it (9.12.15 is 9120015).
    pub fn build_number(self) -> u64 {
        u64::from(self.major) * 1_000_000 + u64::from(self.minor) * 10_000 + u64::from(self.patch)
    }
}

impl std::fmt::Display for DcVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl std::str::FromStr for DcVersion {
    type Err = SimError;
    /// `9.12`, `9.12.15` or `10.3`; the simulator models Data Center 8.0 to 11.x.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            SimError::Config(format!(
                "--dc-version must be a Data Center release such as 8.20, 9.12 or 10.3 (8.0 to 11.x), not {s:?}"
            ))
        };
        let parts: Vec<u16> = s
            .trim()
            .split('.')
            .map(|p| p.parse().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        let v = match parts.as_slice() {
            [major, minor] => DcVersion::new(*major, *minor, 0),
            [major, minor, patch] => DcVersion::new(*major, *minor, *patch),
            _ => return Err(bad()),
        };
        if !(8..=11).contains(&v.major) {
            return Err(bad());
        }
        Ok(v)
    }
}

/// A fault `--fault-rate` injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// `500` with Jira's error body.
    ServerError,
    /// `502` with a proxy's HTML page.
    BadGateway,
    /// `503` with `Retry-After: 1`.
    Unavailable,
    /// The connection reset before any answer (the request did not run).
    Reset,
    /// The request ran; its body is cut in half.
    Truncated,
    /// The request ran (a write committed), then a `504` or a connection reset.
    Lost,
}

impl FaultKind {
    pub const ALL: [FaultKind; 6] = [
        FaultKind::ServerError,
        FaultKind::BadGateway,
        FaultKind::Unavailable,
        FaultKind::Reset,
        FaultKind::Truncated,
        FaultKind::Lost,
    ];

    /// The name on the command line (`--fault-kinds 500,lost`).
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::ServerError => "500",
            FaultKind::BadGateway => "502",
            FaultKind::Unavailable => "503",
            FaultKind::Reset => "reset",
            FaultKind::Truncated => "truncated",
            FaultKind::Lost => "lost",
        }
    }

    /// A kind by its name; the error names the known ones.
    pub fn parse(name: &str) -> Result<FaultKind, String> {
        let name = name.trim();
        FaultKind::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = FaultKind::ALL.iter().map(|f| f.name()).collect();
                format!("unknown fault kind '{name}' (known: {})", names.join(", "))
            })
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            gen: GenConfig {
                deployment: Deployment::Cloud,
                seed: 1,
                issues: 200,
                projects: None,
            },
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            latency_ms: 0,
            rate_limit: None,
            fault_rate: 0.0,
            fault_kinds: FaultKind::ALL.to_vec(),
            mutate_per_s: 0.0,
            tls: false,
            legacy_search: false,
            context_path: String::new(),
            worklog_feed_lag_ms: 60_000,
            page_token_ttl_s: DEFAULT_PAGE_TOKEN_TTL_S,

            dc_version: DcVersion::DEFAULT,
            dc_max_results: 1000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot create the TLS certificate: {0}")]
    Tls(String),
    #[error("invalid simulator option: {0}")]
    Config(String),
}

/// Builds and starts a simulator, like cargo's `RegistryBuilder`.
#[derive(Debug, Clone, Default)]
pub struct SimBuilder {
    cfg: SimConfig,
}

impl SimBuilder {
    pub fn deployment(mut self, d: Deployment) -> Self {
        self.cfg.gen.deployment = d;
        self
    }
    pub fn seed(mut self, seed: u64) -> Self {
        self.cfg.gen.seed = seed;
        self
    }
    pub fn issues(mut self, n: usize) -> Self {
        self.cfg.gen.issues = n;
        self
    }
    pub fn projects(mut self, n: usize) -> Self {
        self.cfg.gen.projects = Some(n);
        self
    }
    pub fn latency_ms(mut self, ms: u64) -> Self {
        self.cfg.latency_ms = ms;
        self
    }
    pub fn rate_limit(mut self, rps: f64) -> Self {
        self.cfg.rate_limit = Some(rps);
        self
    }
    pub fn fault_rate(mut self, p: f64) -> Self {
        self.cfg.fault_rate = p;
        self
    }
    /// Only these kinds of fault (default: all).
    pub fn fault_kinds(mut self, kinds: &[FaultKind]) -> Self {
        self.cfg.fault_kinds = kinds.to_vec();
        self
    }
    pub fn mutate_per_s(mut self, n: f64) -> Self {
        self.cfg.mutate_per_s = n;
        self
    }
    pub fn tls(mut self, on: bool) -> Self {
        self.cfg.tls = on;
        self
    }
    pub fn legacy_search(mut self, on: bool) -> Self {
        self.cfg.legacy_search = on;
        self
    }
    pub fn context_path(mut self, path: &str) -> Self {
        self.cfg.context_path = path.to_owned();
        self
    }
    pub fn worklog_feed_lag_ms(mut self, ms: i64) -> Self {
        self.cfg.worklog_feed_lag_ms = ms;
        self
    }
    pub fn page_token_ttl_s(mut self, s: u64) -> Self {
        self.cfg.page_token_ttl_s = s;
        self
    }
    /// The Data Center release to simulate (default [`DcVersion::DEFAULT`]).
    pub fn dc_version(mut self, v: DcVersion) -> Self {
        self.cfg.dc_version = v;
        self
    }
    /// Data Center's server page cap, `jira.search.views.default.max` (default 1000).
    pub fn dc_max_results(mut self, n: usize) -> Self {
        self.cfg.dc_max_results = n;
        self
    }
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.cfg.bind = addr;
        self
    }
    pub fn config(cfg: SimConfig) -> Self {
        SimBuilder { cfg }
    }

    /// Generates the site, binds, and serves in the background until the handle drops.
    pub async fn start(self) -> Result<Sim, SimError> {
        let mut cfg = self.cfg;
        cfg.context_path = normalize_context_path(&cfg.context_path)?;
        if cfg.gen.deployment == Deployment::Cloud && !cfg.context_path.is_empty() {
            return Err(SimError::Config(
                "--context-path applies to --deployment datacenter only".into(),
            ));
        }
        if cfg.dc_max_results == 0 {
            return Err(SimError::Config(
                "--dc-max-results must be at least 1 (Jira's default is 1000)".into(),
            ));
        }
        if !(0.0..=1.0).contains(&cfg.fault_rate) {
            return Err(SimError::Config(
                "--fault-rate must be between 0 and 1".into(),
            ));
        }
        if cfg.fault_kinds.is_empty() {
            return Err(SimError::Config(
                "--fault-kinds needs at least one kind".into(),
            ));
        }
        let gen = cfg.gen.clone();
        let (site, mut identities, oauth) = tokio::task::spawn_blocking(move || build_site(&gen))
            .await
            .map_err(|e| SimError::Config(format!("generator failed: {e}")))?;
        let listener = tokio::net::TcpListener::bind(cfg.bind)
            .await
            .map_err(|source| SimError::Bind {
                addr: cfg.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: cfg.bind,
            source,
        })?;
        let tls = if cfg.tls {
            Some(transport::self_signed()?)
        } else {
            None
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let host = if tls.is_some() {
            format!("localhost:{}", addr.port())
        } else {
            addr.to_string()
        };
        let origin = format!("{scheme}://{host}");
        let base_url = format!("{origin}{}", cfg.context_path);
        identities.extend(oauth.1);
        if cfg.gen.deployment == Deployment::Datacenter && !cfg.dc_version.has_pats() {
            // Before 8.14 Data Center has no personal access tokens: none is offered.
            identities.retain(|i| i.auth != "pat");
        }
        let cloud_id = site.cloud_id.clone();
        let shared = Arc::new(Shared::new(
            site,
            oauth.0,
            cfg.clone(),
            base_url.clone(),
            origin.clone(),
        ));
        if cfg.gen.deployment == Deployment::Cloud {
            identities.push(seed_oauth2(&shared));
        }
        let app = routes::app(shared.clone());
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(transport::serve(
            listener,
            app,
            tls.as_ref().map(|t| t.acceptor.clone()),
            stop_rx.clone(),
        ));
        if cfg.mutate_per_s > 0.0 {
            tokio::spawn(mutate::run(shared.clone(), cfg.mutate_per_s, stop_rx));
        }
        Ok(Sim {
            shared,
            base_url,
            gateway_url: origin,
            cloud_id,
            identities,
            ca_cert: tls.map(|t| t.ca_path),
            stop: stop_tx,
        })
    }
}

fn normalize_context_path(p: &str) -> Result<String, SimError> {
    let p = p.trim().trim_end_matches('/');
    if p.is_empty() {
        return Ok(String::new());
    }
    if !p.starts_with('/') || p.contains(['?', '#', ' ']) {
        return Err(SimError::Config(format!(
            "--context-path must look like /jira, not {p:?}"
        )));
    }
    Ok(p.to_owned())
}

type BuiltSite = (
    model::Site,
    Vec<Identity>,
    (oauth1::OAuthState, Vec<Identity>),
);

fn build_site(gen: &GenConfig) -> BuiltSite {
    let (site, identities) = generate::generate(gen);
    let mut oauth = oauth1::OAuthState::new();
    let mut extra = Vec::new();
    if gen.deployment == Deployment::Datacenter {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(gen.seed ^ 0x0A07);
        let admin = (0..site.users.len() as u32)
            .find(|u| site.is_site_admin(*u))
            .unwrap_or(0);
        let consumer_key = "jiralink-sim-consumer";
        let pem = oauth.add_consumer(&mut rng, consumer_key);
        let token = oauth.add_access_token(consumer_key, admin, &mut rng);
        let user = &site.users[admin as usize];
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("consumer_key".to_owned(), consumer_key.to_owned());
        fields.insert("private_key_pem".to_owned(), pem);
        fields.insert("access_token".to_owned(), token.clone());
        extra.push(Identity {
            name: "oauth1".into(),
            auth: "oauth1".into(),
            email: None,
            username: Some(user.username.clone()),
            secret: token,
            account_id: Some(user.account_id.clone()),
            extra: fields,
        });
    }
    (site, identities, (oauth, extra))
}

/// The `oauth2` identity: an OAuth 2.0 (3LO) app authorised by the site admin, with read scopes.
fn seed_oauth2(shared: &Shared) -> Identity {
    let site = shared.site.read();
    let admin = (0..site.users.len() as u32)
        .find(|u| site.is_site_admin(*u))
        .unwrap_or(0);
    let user = &site.users[admin as usize];
    let mut scopes: Vec<String> = generate::CLASSIC_READ_SCOPES
        .iter()
        .chain(generate::AGILE_READ_SCOPES)
        .map(|s| s.to_string())
        .collect();
    scopes.push("offline_access".to_owned());
    let (client_id, client_secret, refresh) = shared.oauth2.lock().seed(admin, scopes);
    let mut extra = std::collections::BTreeMap::new();
    extra.insert("client_id".to_owned(), client_id);
    extra.insert("client_secret".to_owned(), client_secret);
    extra.insert(
        "token_url".to_owned(),
        format!("{}/oauth/token", shared.gateway_url),
    );
    Identity {
        name: "oauth2".into(),
        auth: "oauth2".into(),
        email: Some(user.email.clone()),
        username: None,
        secret: refresh,
        account_id: Some(user.account_id.clone()),
        extra,
    }
}

/// A running simulator; dropping it stops the server.
pub struct Sim {
    shared: Arc<Shared>,
    base_url: String,
    gateway_url: String,
    cloud_id: String,
    identities: Vec<Identity>,
    ca_cert: Option<PathBuf>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Sim {
    pub fn builder() -> SimBuilder {
        SimBuilder::default()
    }
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
    pub fn gateway_url(&self) -> &str {
        &self.gateway_url
    }
    pub fn cloud_id(&self) -> &str {
        &self.cloud_id
    }
    pub fn identities(&self) -> &[Identity] {
        &self.identities
    }
    /// Registers a callback URL of an OAuth 2.0 app (the `oauth2` identity's client id), as the
    /// developer console does; `false` for an unknown app.
    pub fn add_oauth2_callback(&self, client_id: &str, url: &str) -> bool {
        self.shared.oauth2.lock().add_callback(client_id, url)
    }

    pub fn identity(&self, name: &str) -> Option<&Identity> {
        self.identities.iter().find(|i| i.name == name)
    }
    pub fn ca_cert(&self) -> Option<&std::path::Path> {
        self.ca_cert.as_deref()
    }
    pub fn deployment(&self) -> Deployment {
        self.shared.cfg.gen.deployment
    }
    /// The ground truth, as `GET /__sim/snapshot` serves it.
    pub fn snapshot(&self) -> serde_json::Value {
        snapshot::snapshot(&self.shared.site.read())
    }
    /// The key of the first project of a type (`software`, `business`, `service_desk`: the
    /// snapshot's `type`).
    pub fn project_of_type(&self, kind: &str) -> Option<String> {
        let snapshot = self.snapshot();
        let projects = snapshot["projects"].as_array()?;
        let project = projects.iter().find(|p| p["type"] == kind)?;
        project["key"].as_str().map(str::to_owned)
    }
    /// How many requests were made to paths ending with `suffix`, where a segment with a digit
    /// in it reads `*` (`/issue/*/worklog`); `/__sim/` ones are not counted.
    pub fn requests_to(&self, suffix: &str) -> u64 {
        let by_path = self.shared.requests_by_path.lock();
        by_path
            .iter()
            .filter(|(path, _)| path.ends_with(suffix))
            .map(|(_, n)| n)
            .sum()
    }
    /// The shared state, for tests that read the ground truth (`site.read()`); tests change the
    /// site through [`Sim::test_api`], never by writing the model.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
    /// Changes to the site for tests that arrange a situation: each goes through `ops` (with
    /// `updated` and the changelog kept as Jira keeps them) and then `touch`, like the REST API.
    pub fn test_api(&self) -> TestApi<'_> {
        TestApi {
            shared: &self.shared,
        }
    }
    /// Pauses (or resumes) `--mutate-per-s`; the site stays as it is while paused.
    pub fn pause_mutation(&self, paused: bool) {
        self.shared
            .mutation_paused
            .store(paused, std::sync::atomic::Ordering::Relaxed);
    }
    /// Write requests served so far (POST, PUT, DELETE other than Jira's read-only POSTs).
    pub fn write_requests(&self) -> u64 {
        self.shared
            .writes
            .load(std::sync::atomic::Ordering::Relaxed)
    }
    /// How many requests the rate limit refused with 429 so far.
    pub fn rate_limited_responses(&self) -> u64 {
        self.shared
            .rate_limited
            .load(std::sync::atomic::Ordering::Relaxed)
    }
    /// Requests that matched no route so far (`METHOD path`).
    pub fn unmatched(&self) -> Vec<String> {
        self.shared.unmatched.lock().clone()
    }
    /// The one JSON line `jiralink sim` prints on start.
    pub fn startup_line(&self) -> serde_json::Value {
        serde_json::json!({
            "base_url": self.base_url,
            "gateway_url": self.gateway_url,
            "cloud_id": self.cloud_id,
            "deployment": self.deployment().as_str(),
            "dc_version": (self.deployment() == Deployment::Datacenter)
                .then(|| self.shared.cfg.dc_version.to_string()),
            "ca_cert": self.ca_cert.as_ref().map(|p| p.display().to_string()),
            "identities": self.identities,
        })
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// See [`Sim::test_api`]. Users are named by account id or username, projects by key or id, groups
/// by name; each method answers whether anything changed (or the new id).
pub struct TestApi<'a> {
    shared: &'a Shared,
}

impl TestApi<'_> {
    fn change<T>(&self, f: impl FnOnce(&mut model::Site) -> T) -> T {
        let out = f(&mut self.shared.site.write());
        self.shared.touch();
        out
    }

    fn user(site: &model::Site, who: &str) -> Option<model::UserIx> {
        site.user_by_account(who)
    }

    fn group(site: &model::Site, name: &str) -> Option<u16> {
        site.groups
            .iter()
            .position(|g| g.name == name)
            .map(|g| g as u16)
    }

    pub fn add_worklog(&self, issue: model::IssueId, w: ops::NewWorklog) -> Option<u64> {
        self.change(|s| s.add_worklog(issue, w))
    }

    /// The user `who` approves an OAuth 1.0a request token as on Jira's approval page
    /// (`authorize_url`, the link the consumer shows): the verification code the page shows the
    /// user, or `None` for an unknown user or token.
    pub fn approve_oauth1(&self, authorize_url: &str, who: &str) -> Option<String> {
        let url = url::Url::parse(authorize_url).ok()?;
        let (_, token) = url.query_pairs().find(|(k, _)| k == "oauth_token")?;
        let user = Self::user(&self.shared.site.read(), who)?;
        let approved = self
            .shared
            .oauth
            .lock()
            .authorize(&token, user, &mut rand::thread_rng());
        approved.ok().map(|(_, verifier)| verifier)
    }

    pub fn delete_worklog(&self, issue: model::IssueId, worklog: u64) -> bool {
        self.change(|s| s.delete_worklog(issue, worklog))
    }
    pub fn add_comment(&self, issue: model::IssueId, author: &str, body: &str) -> Option<u64> {
        self.change(|s| {
            let a = Self::user(s, author)?;
            s.add_comment(issue, a, body.to_owned())
        })
    }
    pub fn set_labels(&self, issue: model::IssueId, labels: &[&str], author: &str) -> bool {
        self.change(|s| {
            let Some(a) = Self::user(s, author) else {
                return false;
            };
            s.set_labels(issue, labels.iter().map(|l| (*l).to_owned()).collect(), a);
            true
        })
    }
    pub fn delete_issue(&self, issue: model::IssueId) {
        self.change(|s| s.delete_issue(issue))
    }
    /// Issues an API token for an existing user (as the user would at id.atlassian.com).
    pub fn add_token(&self, token: model::Token) {
        self.change(|s| {
            s.tokens.insert(token.secret.clone(), token);
        })
    }
    /// Grants `group` a permission in `project`'s permission scheme.
    pub fn grant(&self, project: &str, group: &str, permission: model::Permission) -> bool {
        self.change(
            |s| match (s.project_by_key_or_id(project), Self::group(s, group)) {
                (Some(p), Some(g)) => s.grant(p, g, permission),
                _ => false,
            },
        )
    }
    /// Revokes a group's permission in `project`'s permission scheme.
    pub fn revoke(&self, project: &str, group: &str, permission: model::Permission) -> bool {
        self.change(
            |s| match (s.project_by_key_or_id(project), Self::group(s, group)) {
                (Some(p), Some(g)) => s.revoke(p, g, permission),
                _ => false,
            },
        )
    }
    pub fn add_to_group(&self, user: &str, group: &str) -> bool {
        self.change(|s| match (Self::user(s, user), Self::group(s, group)) {
            (Some(u), Some(g)) => s.add_to_group(u, g),
            _ => false,
        })
    }
    pub fn remove_from_group(&self, user: &str, group: &str) -> bool {
        self.change(|s| match (Self::user(s, user), Self::group(s, group)) {
            (Some(u), Some(g)) => s.remove_from_group(u, g),
            _ => false,
        })
    }
    pub fn set_user_active(&self, user: &str, active: bool) -> bool {
        self.change(|s| match Self::user(s, user) {
            Some(u) => s.set_user_active(u, active),
            None => false,
        })
    }
    /// Creates a project led by `lead`; returns its index, None when the lead is unknown.
    pub fn create_project(
        &self,
        key: &str,
        name: &str,
        project_type: model::ProjectType,
        lead: &str,
    ) -> Option<model::ProjectIx> {
        self.change(|s| {
            let lead = Self::user(s, lead)?;
            Some(s.create_project(ops::NewProject {
                key: key.to_owned(),
                name: name.to_owned(),
                project_type,
                lead,
            }))
        })
    }
    pub fn delete_project(&self, project: &str) -> bool {
        self.change(|s| match s.project_by_key_or_id(project) {
            Some(p) => {
                s.delete_project(p);
                true
            }
            None => false,
        })
    }
}
