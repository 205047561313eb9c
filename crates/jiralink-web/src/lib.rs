//! `jiralink-web`: the team web app and JSON HTTP API of `jiralink serve`: local accounts and
//! sessions, per-user credentials in the vault, connection tests, syncs with live progress, and
//! the insights dashboards, over the same store, vault and library crates as the CLI.

mod api;
mod auth;
mod jobs;
mod openapi;
mod pages;
mod records;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use jiralink_store::web::Accounts;
use jiralink_store::{Backend, StoreLocation};
use jiralink_vault::{Credential, Secrets, Vault};
use parking_lot::Mutex;

pub use auth::{hash_password, new_secret, sha256_hex, Role};
pub use openapi::OPERATIONS;

/// What building a client for a credential gives: a client, or the Jira error to diagnose.
pub type ClientResult = Result<jiralink_api::Client, jiralink_api::Error>;

/// What [`Connector::client`] returns: the client (or the Jira error), or why none was built.
pub type ClientFuture<'a> = Pin<Box<dyn Future<Output = Result<ClientResult, String>> + Send + 'a>>;

/// What [`AccessBook::audit`] returns (not `Send`: see there).
pub type AuditFuture<'a> =
    Pin<Box<dyn Future<Output = Result<jiralink_api::access::AccessReport, AuditError>> + 'a>>;

/// Builds the Jira client of a stored credential, as the CLI does (the binary's `connect`, which
/// reads the environment: gateway URL, response size limit). OAuth 2.0 may rotate the refresh
/// token on the way: the connector puts the new one in `secrets` and, for a saved credential
/// (`vault` given), in the vault.
pub trait Connector: Send + Sync + 'static {
    fn client<'a>(
        &'a self,
        vault: Option<&'a Vault>,
        cred: &'a Credential,
        secrets: &'a mut Secrets,
    ) -> ClientFuture<'a>;
}

/// Why acknowledging an access finding was refused.
#[derive(Debug)]
pub enum AckError {
    /// The finding (or acceptance) is not in the credential's last audit: the message names the
    /// ones there are.
    Unknown(String),
    Failed(String),
}

/// A credential's last access audit: its projects with their permissions, and its findings.
pub type LastAudit = (
    Vec<jiralink_api::access::ProjectAccess>,
    Vec<jiralink_api::access::Finding>,
);

/// The access audit's saved state of a credential, which `jiralink access` keeps (the binary
/// passes its own book in, so that the page and `access --ack/--unack` change the same records).
pub trait AccessBook: Send + Sync + 'static {
    /// The last audit of `cred`: its projects with their permissions (the matrix) and its
    /// findings, each with its acceptance; `None` before the first audit.
    fn last_audit(&self, cred: &Credential) -> Result<Option<LastAudit>, String>;
    /// Accepts finding `ack` (with its reason) or revokes the acceptance `unack`, as `by`.
    fn change(
        &self,
        cred: &Credential,
        ack: Option<(&str, &str)>,
        unack: Option<&str>,
        by: &str,
    ) -> Result<serde_json::Value, AckError>;
    /// Runs an access audit of `cred` with `client` (built by the [`Connector`]) for `profile`,
    /// and saves it as `jiralink access` does (the new matrix, findings and acceptances are what
    /// [`AccessBook::last_audit`] then gives). `vault` is the app's, for the credentials of the
    /// same site the grant-needed check reads with. The future need not be `Send`: the app
    /// drives it on a blocking thread of its own, as it does a sync.
    fn audit<'a>(
        &'a self,
        vault: &'a Vault,
        cred: &'a Credential,
        client: &'a jiralink_api::Client,
        profile: jiralink_api::access::Profile,
    ) -> AuditFuture<'a>;
}

/// Why an access audit run from the app failed.
#[derive(Debug)]
pub enum AuditError {
    /// Jira refused or failed: its diagnosis says why.
    Jira(jiralink_api::Error),
    /// The audit could not be saved.
    Failed(String),
}

/// A trusted reverse proxy (`--trusted-proxy CIDR --user-header NAME`): requests from a peer in
/// `network` name their user in `header`; from any other peer the header is ignored.
#[derive(Debug, Clone)]
pub struct TrustedProxy {
    pub network: Cidr,
    /// Lower case.
    pub header: String,
}

/// An IP network, `ADDRESS/PREFIX` (a bare address is the one host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Cidr, String> {
        let bad = || {
            format!(
                "'{s}' is not a network: use ADDRESS/PREFIX, such as 10.0.0.0/8 or 127.0.0.1/32"
            )
        };
        let (a, p) = s.split_once('/').unwrap_or((s, ""));
        let addr: std::net::IpAddr = a.trim().parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if p.is_empty() {
            max
        } else {
            p.trim()
                .parse()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(bad)?
        };
        Ok(Cidr { addr, prefix })
    }
}

impl Cidr {
    /// Whether `ip` is in the network (an IPv4-mapped IPv6 peer counts as its IPv4 address).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let bits = |a: IpAddr| -> (u128, u32) {
            match a {
                IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
                IpAddr::V6(v) => (u128::from(v), 128),
            }
        };
        let ((net, width), (got, got_width)) = (bits(self.addr), bits(ip));
        if width != got_width {
            return false;
        }
        let shift = width - u32::from(self.prefix);
        shift >= width || (net >> shift) == (got >> shift)
    }
}

/// How the app is set up.
pub struct Config {
    /// The store, SQLite or PostgreSQL: the mirror the syncs write and the insights read, and
    /// the app's accounts. The binary fills a PostgreSQL target (its password and CA come from
    /// the environment, which only the binary reads).
    pub store: StoreLocation,
    /// The vault directory (`JIRALINK_HOME`).
    pub vault: Vault,
    /// The URL people open (links printed, `Secure` cookies when https).
    pub public_url: String,
    pub connector: Arc<dyn Connector>,
    /// The access audits' saved state (matrix, findings, acceptances).
    pub access: Arc<dyn AccessBook>,
    /// Sign-in by a trusted reverse proxy's header, when set.
    pub trusted_proxy: Option<TrustedProxy>,
}

/// The app's state, shared by every request.
pub struct App {
    pub(crate) store: StoreLocation,
    /// Through [`App::accounts`], which reopens a closed connection.
    account_store: Mutex<Box<dyn Accounts>>,
    pub(crate) vault: Vault,
    /// Held across a vault read-modify-write (add, edit, rotate, remove), which the vault file
    /// does not serialise itself.
    pub(crate) vault_writes: Mutex<()>,
    pub(crate) public_url: String,
    pub(crate) secure_cookies: bool,
    pub(crate) connector: Arc<dyn Connector>,
    pub(crate) access: Arc<dyn AccessBook>,
    pub(crate) trusted_proxy: Option<TrustedProxy>,
    /// Random per process: the CSRF tokens of users signed in by the trusted proxy derive from it.
    pub(crate) proxy_secret: String,
    pub(crate) throttle: auth::Throttle,
    pub(crate) jobs: jobs::Jobs,
    /// The credential views, kept while the vault and the test results are unchanged.
    pub(crate) views: Mutex<Option<Arc<CredentialViews>>>,
    pub(crate) views_building: Mutex<()>,
    pub(crate) tests_generation: std::sync::atomic::AtomicU64,
    /// Computed dashboards by filters, kept while the store is unchanged (and a minute at most).
    pub(crate) insights_cache:
        Mutex<std::collections::HashMap<String, (StoreStamp, Arc<InsightsView>)>>,
    pub(crate) insights_running: tokio::sync::Mutex<()>,
    /// OAuth 2.0 consents under way, by their `state` value.
    pub(crate) consents: Mutex<std::collections::HashMap<String, api::PendingConsent>>,
    /// OAuth 1.0a approvals under way, by their id.
    pub(crate) oauth1: Mutex<std::collections::HashMap<String, api::PendingOAuth1>>,
}

/// A computed dashboard: its JSON, its HTML report, and the figures the page heads it with.
pub(crate) struct InsightsView {
    pub(crate) issues: u64,
    pub(crate) as_of: String,
    pub(crate) json: Arc<str>,
    pub(crate) html: Arc<str>,
}

/// What the store's state is known by, and the minute: the SQLite files (database and write-ahead
/// log: size and time), or PostgreSQL's sync runs (how many, how many finished, the last id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoreStamp(String, i64);

impl StoreStamp {
    /// Read off the runtime's workers (a PostgreSQL reader blocks).
    pub(crate) fn of(at: &StoreLocation) -> StoreStamp {
        let state = match at {
            StoreLocation::Sqlite(path) => {
                let files: Vec<_> = ["", "-wal"]
                    .iter()
                    .map(|suffix| {
                        let mut p = path.clone().into_os_string();
                        p.push(suffix);
                        let meta = std::fs::metadata(p).ok();
                        (
                            meta.as_ref().and_then(|m| m.modified().ok()),
                            meta.map_or(0, |m| m.len()),
                        )
                    })
                    .collect();
                format!("{files:?}")
            }
            StoreLocation::Postgres(_) => {
                let mut state = String::from("unknown");
                if let Ok(mut reader) = jiralink_store::ViewReader::open(at) {
                    let _ = reader.each(
                        "SELECT COUNT(*), COUNT(finished), MAX(id) FROM sync_runs",
                        &[],
                        |r| -> jiralink_store::Result<()> {
                            state = format!("{:?} {:?} {:?}", r.int(0)?, r.int(1)?, r.int(2)?);
                            Ok(())
                        },
                    );
                }
                state
            }
        };
        StoreStamp(state, chrono::Utc::now().timestamp() / 60)
    }
}

/// What the credential list is computed from: the vault file's size and time, the generation of
/// test results, and the minute (ages and expiry move with time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VaultStamp {
    modified: Option<std::time::SystemTime>,
    len: u64,
    tests: u64,
    minute: i64,
}

impl VaultStamp {
    pub(crate) fn of(app: &App) -> VaultStamp {
        let meta = std::fs::metadata(app.vault.path()).ok();
        VaultStamp {
            modified: meta.as_ref().and_then(|m| m.modified().ok()),
            len: meta.map_or(0, |m| m.len()),
            tests: app
                .tests_generation
                .load(std::sync::atomic::Ordering::SeqCst),
            minute: chrono::Utc::now().timestamp() / 60,
        }
    }
}

/// Every credential's view with its owner, and the serialized lists per viewer (`*`: an admin).
pub(crate) struct CredentialViews {
    pub(crate) stamp: VaultStamp,
    pub(crate) views: Vec<(String, serde_json::Value)>,
    pub(crate) bodies: Mutex<std::collections::HashMap<String, bytes::Bytes>>,
}

/// Web app errors at start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot open the store {path}: {source}")]
    Store {
        path: String,
        source: jiralink_store::StoreError,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
}

impl App {
    pub fn new(config: Config) -> Result<Arc<App>, Error> {
        let accounts =
            jiralink_store::web::open_accounts(&config.store).map_err(|source| Error::Store {
                path: config.store.to_string(),
                source,
            })?;
        Ok(Arc::new(App {
            store: config.store,
            account_store: Mutex::new(accounts),
            vault: config.vault,
            vault_writes: Mutex::new(()),
            secure_cookies: config.public_url.starts_with("https://"),
            public_url: config.public_url.trim_end_matches('/').to_owned(),
            connector: config.connector,
            access: config.access,
            trusted_proxy: config.trusted_proxy,
            proxy_secret: new_secret(),
            throttle: auth::Throttle::default(),
            jobs: jobs::Jobs::default(),
            views: Mutex::new(None),
            views_building: Mutex::new(()),
            tests_generation: Default::default(),
            insights_cache: Mutex::new(Default::default()),
            insights_running: tokio::sync::Mutex::new(()),
            consents: Mutex::new(Default::default()),
            oauth1: Mutex::new(Default::default()),
        }))
    }

    /// The app's accounts; a store connection the server closed is opened again first (the
    /// request that met the closed connection failed; the next one works).
    pub(crate) fn accounts(&self) -> parking_lot::MutexGuard<'_, Box<dyn Accounts>> {
        let mut accounts = self.account_store.lock();
        if !accounts.is_open() {
            match jiralink_store::web::open_accounts(&self.store) {
                Ok(fresh) => {
                    tracing::info!(store = %self.store, "the store's connection was closed: opened again");
                    *accounts = fresh;
                }
                Err(e) => {
                    tracing::warn!(store = %self.store, error = %e, "the store cannot be opened again")
                }
            }
        }
        accounts
    }

    /// Opens the store for a sync (SQLite, or PostgreSQL: call it off the runtime's workers).
    pub(crate) fn backend(&self) -> Result<Box<dyn Backend>, jiralink_store::StoreError> {
        Ok(match &self.store {
            StoreLocation::Sqlite(path) => Box::new(jiralink_store::Store::open_sqlite(path)?),
            StoreLocation::Postgres(target) => {
                Box::new(jiralink_store::postgres::PgStore::connect_to(target)?)
            }
        })
    }

    /// A reader of the store's public views (call it off the runtime's workers: a PostgreSQL
    /// reader blocks). The store was created or migrated when the app started.
    pub(crate) fn reader(&self) -> Result<jiralink_store::ViewReader, jiralink_store::StoreError> {
        jiralink_store::ViewReader::open(&self.store)
    }

    /// A credential or its test result changed: cached views are stale.
    pub(crate) fn invalidate_views(&self) {
        self.tests_generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// The one-time link that makes the first admin, when no admin exists yet (`None` otherwise).
    pub fn setup_link(&self) -> Result<Option<String>, jiralink_store::StoreError> {
        let store = self.accounts();
        if store.web_admin_exists()? {
            return Ok(None);
        }
        let token = new_secret();
        store.web_create_link(
            &sha256_hex(&token),
            "setup",
            None,
            &auth::expiry_in(24 * 3600),
        )?;
        Ok(Some(format!("{}/setup?token={token}", self.public_url)))
    }

    /// A one-time sign-in link for `user` (`jiralink demo --serve`), valid for an hour.
    pub fn sign_in_link(&self, user: &str) -> Result<String, jiralink_store::StoreError> {
        let token = new_secret();
        self.accounts().web_create_link(
            &sha256_hex(&token),
            "signin",
            Some(user),
            &auth::expiry_in(3600),
        )?;
        Ok(format!("{}/link?token={token}", self.public_url))
    }

    /// Adds or updates a user (as `jiralink user add` does).
    pub fn put_user(
        &self,
        name: &str,
        role: Role,
        password: Option<&secrecy::SecretString>,
    ) -> Result<bool, String> {
        auth::put_user(self, name, role, password)
    }

    pub fn users(&self) -> Result<Vec<jiralink_store::web::WebUser>, jiralink_store::StoreError> {
        self.accounts().web_users()
    }

    /// Removes a user: their sessions end and their API tokens are revoked.
    pub fn remove_user(&self, name: &str) -> Result<bool, jiralink_store::StoreError> {
        let mut store = self.accounts();
        let removed = store.web_remove_user(name)?;
        if removed {
            store.web_audit("cli", "user-remove", name, "ok")?;
        }
        Ok(removed)
    }
}

/// The app's routes: pages, the JSON API and the embedded assets, behind the security headers.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .merge(pages::routes())
        .merge(api::routes())
        .merge(records::routes())
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::security_headers,
        ))
        .with_state(app)
}

/// Serves `app` on `addr` until `shutdown` resolves; `ready` gets the bound address first.
pub async fn serve(
    app: Arc<App>,
    addr: SocketAddr,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind {
            addr: addr.to_string(),
            source,
        })?;
    let local = listener.local_addr().map_err(Error::Serve)?;
    ready(local);
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(Error::Serve)
}
