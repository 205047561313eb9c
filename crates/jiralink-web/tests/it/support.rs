//! A running app for tests: a simulator, a vault and a store in a temporary directory, the app on
//! 127.0.0.1, and clients that sign in as users (session cookie + CSRF token) or use API tokens.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use jiralink_api::access::{Acceptance, Finding, ProjectAccess, Severity};
use jiralink_api::{site, Auth, AuthKind, ClientBuilder};
use jiralink_sim::{Deployment, Sim};
use jiralink_store::postgres::PgTarget;
use jiralink_store::StoreLocation;
use jiralink_vault::{Credential, MasterKey, Secrets, Vault};
use jiralink_web::{
    AccessBook, AckError, App, AuditError, AuditFuture, ClientFuture, Connector, LastAudit, Role,
    TrustedProxy,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

/// Builds clients like the binary's `connect` for the kinds the tests use, with the simulator's
/// gateway.
struct SimConnector {
    gateway: String,
}

impl Connector for SimConnector {
    fn client<'a>(
        &'a self,
        vault: Option<&'a Vault>,
        cred: &'a Credential,
        secrets: &'a mut Secrets,
    ) -> ClientFuture<'a> {
        Box::pin(async move {
            let kind: AuthKind = cred.auth.parse()?;
            let secret = secrets.get("secret").cloned().ok_or("no secret")?;
            let auth = match kind {
                AuthKind::Pat | AuthKind::ServiceAccount => Auth::Bearer { token: secret },
                AuthKind::Oauth1 => Auth::OAuth1 {
                    consumer_key: cred.params.get("consumer_key").cloned().unwrap_or_default(),
                    private_key_pem: secrets
                        .get("private_key_pem")
                        .cloned()
                        .ok_or("no private key")?,
                    token: secret,
                },
                AuthKind::Oauth2 => Auth::OAuth2 {
                    client_id: cred.params.get("client_id").cloned().unwrap_or_default(),
                    client_secret: secrets
                        .get("client_secret")
                        .cloned()
                        .ok_or("no client secret")?,
                    refresh_token: secret,
                    token_url: cred.params.get("token_url").cloned().unwrap_or_default(),
                },
                _ => Auth::Basic {
                    user: cred.identity.clone().unwrap_or_default(),
                    secret,
                },
            };
            let url = site::normalize(&cred.url, false).map_err(|e| e.to_string())?;
            let built = ClientBuilder::new(url, kind, auth)
                .gateway_url(&self.gateway)
                .build()
                .await;
            // OAuth 2.0 rotates the refresh token at every use: keep the new one, as the CLI does.
            if let Ok(c) = &built {
                if let Some(r) = c.rotated_refresh_token() {
                    secrets.0.insert("secret".into(), r.clone());
                    if let Some(v) = vault {
                        v.replace(cred.clone(), secrets)
                            .map_err(|e| e.to_string())?;
                    }
                }
            }
            Ok(built)
        })
    }
}

/// The binary keeps access audits in the home (`jiralink access`; its book is tested end to end in
/// the binary's tests): here, every credential's last audit is one site-admin finding and two
/// projects, kept in memory, acknowledged and revoked by the same rules (an unknown finding or
/// acceptance is refused).
#[derive(Default)]
pub struct MemoryBook(
    parking_lot::Mutex<std::collections::HashMap<String, Acceptance>>,
    /// Audits run from the app, by credential: they replace the canned one.
    parking_lot::Mutex<std::collections::HashMap<String, LastAudit>>,
);

impl AccessBook for MemoryBook {
    fn last_audit(&self, cred: &Credential) -> Result<Option<LastAudit>, String> {
        if let Some((projects, findings)) = self.1.lock().get(&cred.name) {
            let mut findings = findings.clone();
            for f in findings.iter_mut().filter(|f| f.id == "site_admin") {
                f.accepted = self.0.lock().get(&cred.name).cloned();
            }
            return Ok(Some((projects.clone(), findings)));
        }
        let mut f = Finding::new(
            "site_admin",
            Severity::Warning,
            "The account is a site administrator.".into(),
            vec![],
        );
        f.accepted = self.0.lock().get(&cred.name).cloned();
        let p = |key: &str, perms: &[&str]| ProjectAccess {
            id: key.to_lowercase(),
            key: key.into(),
            permissions: perms.iter().map(|s| s.to_string()).collect(),
        };
        Ok(Some((
            vec![p("ENG", &["browse", "create"]), p("OPS", &["browse"])],
            vec![f],
        )))
    }

    /// The audit function of the API client, its findings kept as the last audit's.
    fn audit<'a>(
        &'a self,
        _vault: &'a Vault,
        cred: &'a Credential,
        client: &'a jiralink_api::Client,
        profile: jiralink_api::access::Profile,
    ) -> AuditFuture<'a> {
        Box::pin(async move {
            let report = jiralink_api::access::audit(client, profile, None)
                .await
                .map_err(AuditError::Jira)?;
            self.1.lock().insert(
                cred.name.clone(),
                (report.projects.clone(), report.findings.clone()),
            );
            Ok(report)
        })
    }

    fn change(
        &self,
        cred: &Credential,
        ack: Option<(&str, &str)>,
        unack: Option<&str>,
        by: &str,
    ) -> Result<Value, AckError> {
        let mut acks = self.0.lock();
        if let Some((id, reason)) = ack {
            if id != "site_admin" {
                return Err(AckError::Unknown(format!("no finding '{id}'")));
            }
            let a = Acceptance {
                by: by.into(),
                at: "2026-01-01T00:00:00Z".into(),
                reason: reason.into(),
            };
            acks.insert(cred.name.clone(), a);
            return Ok(json!([{"id": id, "accepted": by}]));
        }
        match (unack, acks.remove(&cred.name)) {
            (Some("site_admin"), Some(_)) => Ok(json!([{"id": "site_admin", "revoked": true}])),
            (id, _) => Err(AckError::Unknown(format!("no accepted finding {id:?}"))),
        }
    }
}

/// A fresh PostgreSQL database on the server of `JIRALINK_TEST_POSTGRES`, dropped at the end.
/// Tests that need one fail (never skip) without that variable:
/// `export JIRALINK_TEST_POSTGRES=$(scripts/setup-postgres.sh | tail -1)`.
pub struct TestDb {
    server: String,
    name: String,
}

fn on_a_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    // The synchronous client runs a runtime of its own: not on a thread that runs one.
    std::thread::scope(|s| s.spawn(f).join().expect("thread"))
}

impl TestDb {
    pub fn new(tag: &str) -> TestDb {
        let server = std::env::var("JIRALINK_TEST_POSTGRES")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| {
                panic!("JIRALINK_TEST_POSTGRES is not set: run `export JIRALINK_TEST_POSTGRES=$(scripts/setup-postgres.sh | tail -1)`")
            });
        let name = format!("jiralink_web_{tag}_{}", std::process::id());
        let db = TestDb { server, name };
        db.admin(&[
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.name),
            format!("CREATE DATABASE {}", db.name),
        ]);
        db
    }

    fn admin(&self, sql: &[String]) {
        on_a_thread(|| {
            let mut c = postgres::Client::connect(&self.server, postgres::NoTls).expect("connect");
            for s in sql {
                c.batch_execute(s).expect(s);
            }
        });
    }

    /// `postgres://USER@HOST:PORT/DB` of this database.
    pub fn url(&self) -> String {
        let base = self
            .server
            .rsplit_once('/')
            .map_or(&*self.server, |(b, _)| b);
        format!("{base}/{}", self.name)
    }

    /// Runs `sql` (statements separated by `;`) in this database.
    pub fn execute(&self, sql: &str) {
        let url = self.url();
        on_a_thread(|| {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
            c.batch_execute(sql).expect("sql");
        });
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        on_a_thread(move || {
            if let Ok(mut c) = postgres::Client::connect(&server, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        });
    }
}

/// Where a test's app keeps its store.
pub enum Backing {
    Sqlite,
    Postgres(TestDb),
}

pub struct Harness {
    pub sim: Sim,
    #[allow(dead_code)] // for tests that need one-time links
    pub app: Arc<App>,
    pub base: String,
    pub dir: PathBuf,
    /// The PostgreSQL database of the store, when it is one (the SQLite store is `dir/jiralink.db`).
    pub pg: Option<TestDb>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub const PASSWORD: &str = "correct horse battery";

impl Harness {
    /// The simulator (Cloud, `issues` issues), the app, and users root (admin), ann and bob
    /// (members) and vic (viewer), all with [`PASSWORD`].
    pub async fn start(name: &str, issues: usize) -> Harness {
        Harness::start_with(name, issues, None).await
    }

    /// As [`Harness::start`], with a trusted reverse proxy.
    pub async fn start_with(name: &str, issues: usize, proxy: Option<TrustedProxy>) -> Harness {
        Harness::start_on(name, issues, proxy, Backing::Sqlite).await
    }

    /// As [`Harness::start`], against a Data Center simulator (`/jira` context path).
    pub async fn start_datacenter(name: &str, issues: usize) -> Harness {
        Harness::start_full(name, issues, None, Backing::Sqlite, Deployment::Datacenter).await
    }

    /// As [`Harness::start`], with the store in `backing`.
    pub async fn start_on(
        name: &str,
        issues: usize,
        proxy: Option<TrustedProxy>,
        backing: Backing,
    ) -> Harness {
        Harness::start_full(name, issues, proxy, backing, Deployment::Cloud).await
    }

    async fn start_full(
        name: &str,
        issues: usize,
        proxy: Option<TrustedProxy>,
        backing: Backing,
        deployment: Deployment,
    ) -> Harness {
        let mut sim = Sim::builder().deployment(deployment);
        if deployment == Deployment::Datacenter {
            sim = sim.context_path("/jira");
        }
        let sim = sim
            .issues(issues)
            .projects(3)
            .seed(7)
            .start()
            .await
            .expect("simulator");
        let dir = std::env::temp_dir().join(format!("jiralink-web-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let vault = Vault::open(&dir, MasterKey::KeyFile).expect("vault");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel::<SocketAddr>();
        // The public URL must be known before the port: bind a probe port first.
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
        let addr = probe.local_addr().expect("addr");
        drop(probe);
        let base = format!("http://{addr}");
        let (store, pg) = match backing {
            Backing::Sqlite => (StoreLocation::Sqlite(dir.join("jiralink.db")), None),
            Backing::Postgres(db) => (StoreLocation::Postgres(PgTarget::new(&db.url())), Some(db)),
        };
        let app = App::new(jiralink_web::Config {
            store,
            vault,
            public_url: base.clone(),
            connector: Arc::new(SimConnector {
                gateway: sim.gateway_url().to_owned(),
            }),
            access: Arc::new(MemoryBook::default()),
            trusted_proxy: proxy,
        })
        .expect("app");
        for (user, role) in [
            ("root", Role::Admin),
            ("ann", Role::Member),
            ("bob", Role::Member),
            ("vic", Role::Viewer),
        ] {
            app.put_user(user, role, Some(&SecretString::from(PASSWORD)))
                .expect("user");
        }
        let served = app.clone();
        tokio::spawn(async move {
            jiralink_web::serve(
                served,
                addr,
                move |a| {
                    let _ = addr_tx.send(a);
                },
                async {
                    let _ = rx.await;
                },
            )
            .await
            .expect("serve");
        });
        addr_rx.await.expect("bound");
        Harness {
            sim,
            app,
            base,
            dir,
            pg,
            stop: Some(tx),
        }
    }

    pub fn identity(&self, name: &str) -> (String, String) {
        let i = self.sim.identity(name).expect("identity");
        (i.email.clone().unwrap_or_default(), i.secret.clone())
    }

    /// Signs `user` in through the API.
    pub async fn sign_in(&self, user: &str) -> Client {
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{}/api/session", self.base))
            .json(&json!({"name": user, "password": PASSWORD}))
            .send()
            .await
            .expect("sign in");
        assert_eq!(r.status(), 200, "{user} signs in");
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("session cookie")
            .to_owned();
        let mut c = Client {
            http,
            base: self.base.clone(),
            cookie: Some(cookie),
            csrf: None,
            token: None,
        };
        let me = c.get("/api/me").await;
        c.csrf = me.1["csrf"].as_str().map(str::to_owned);
        c
    }

    pub fn anonymous(&self) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: self.base.clone(),
            cookie: None,
            csrf: None,
            token: None,
        }
    }
}

/// An HTTP client of the app as one user; every body it receives is kept for the canary check.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    pub token: Option<String>,
}

impl Client {
    pub fn with_token(&self, token: &str) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: self.base.clone(),
            cookie: None,
            csrf: None,
            token: Some(token.to_owned()),
        }
    }

    pub fn without_csrf(&self) -> Client {
        let mut c = self.clone();
        c.csrf = None;
        c
    }

    /// Sends a request; returns the status, the JSON body (or the text as a JSON string) and the
    /// raw text.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value, String) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.http.request(m, format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            rb = rb.header("cookie", c);
        }
        if let Some(c) = &self.csrf {
            rb = rb.header("x-csrf-token", c);
        }
        if let Some(t) = &self.token {
            rb = rb.header("authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()));
        (status, json, text)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let (s, j, _) = self.send("GET", path, None).await;
        (s, j)
    }
}

/// Every file under `dir`, for the canary check.
pub fn files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

pub fn exposes(haystack: &[u8], secret: &SecretString) -> bool {
    let s = secret.expose_secret().as_bytes();
    haystack.windows(s.len()).any(|w| w == s)
}
