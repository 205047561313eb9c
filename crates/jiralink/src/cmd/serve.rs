//! `jiralink serve`: the team web app and JSON HTTP API (crate `jiralink-web`) over the home's
//! vault and the store of `--store` (SQLite or PostgreSQL), with the binary's own way of building Jira clients (`connect`) and the
//! access audits' records of `jiralink access` (so the Access page acknowledges the same ones).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use jiralink_store::StoreLocation;
use jiralink_vault::{Credential, Secrets, Vault};
use jiralink_web::{
    AccessBook, AckError, AuditError, AuditFuture, ClientFuture, Connector, LastAudit,
};

use super::sync::{store_spec, StoreSpec};
use super::{connect, UsageError};
use crate::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (loopback by default; put a TLS reverse proxy in front for a team).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// The URL people open (printed links; cookies are marked Secure when it is https).
    #[arg(long)]
    pub public_url: Option<String>,
    /// Honour a reverse proxy's user header from peers in this network only (ADDRESS/PREFIX,
    /// such as 10.0.0.5/32); requires --user-header.
    #[arg(long, value_name = "CIDR", requires = "user_header")]
    pub trusted_proxy: Option<String>,
    /// The header the trusted proxy names the signed-in user in (such as X-Forwarded-User); a
    /// user seen for the first time becomes a viewer.
    #[arg(long, value_name = "NAME", requires = "trusted_proxy")]
    pub user_header: Option<String>,
}

/// Builds clients as every CLI command does.
pub struct CliConnector;

impl Connector for CliConnector {
    fn client<'a>(
        &'a self,
        vault: Option<&'a Vault>,
        cred: &'a Credential,
        secrets: &'a mut Secrets,
    ) -> ClientFuture<'a> {
        Box::pin(async move {
            connect::client(vault, cred, secrets)
                .await
                .map_err(|e| format!("{e:#}"))
        })
    }
}

/// The access audits as `jiralink access` keeps them in the home (the store of `global` tells
/// which credentials share a site, for the grant-needed check).
pub struct CliAccessBook {
    home: std::path::PathBuf,
    global: Global,
}

impl AccessBook for CliAccessBook {
    fn last_audit(&self, cred: &Credential) -> Result<Option<LastAudit>, String> {
        super::access::last_audit(&self.home, &cred.name, &cred.created.to_rfc3339())
            .map_err(|e| format!("{e:#}"))
    }

    fn change(
        &self,
        cred: &Credential,
        ack: Option<(&str, &str)>,
        unack: Option<&str>,
        by: &str,
    ) -> Result<serde_json::Value, AckError> {
        let (ids, reason) = ack.map_or((vec![], ""), |(id, r)| (vec![id.to_owned()], r));
        let unack: Vec<String> = unack.map(str::to_owned).into_iter().collect();
        super::access::change_acks(
            &self.home,
            &cred.name,
            &cred.created.to_rfc3339(),
            &ids,
            &unack,
            reason.to_owned(),
            by.to_owned(),
        )
        .map(serde_json::Value::from)
        .map_err(|e| match e.downcast::<UsageError>() {
            Ok(UsageError(m)) => AckError::Unknown(m),
            Err(e) => AckError::Failed(format!("{e:#}")),
        })
    }

    fn audit<'a>(
        &'a self,
        vault: &'a Vault,
        cred: &'a Credential,
        client: &'a jiralink_api::Client,
        profile: jiralink_api::access::Profile,
    ) -> AuditFuture<'a> {
        Box::pin(async move {
            match super::access::audit_and_save(
                &self.global,
                &self.home,
                vault,
                cred,
                client,
                profile,
                super::access::MAX_AGE_DAYS,
            )
            .await
            {
                Ok(Ok(report)) => Ok(report),
                Ok(Err(e)) => Err(AuditError::Jira(e)),
                Err(e) => Err(AuditError::Failed(format!("{e:#}"))),
            }
        })
    }
}

/// `--trusted-proxy` and `--user-header`, checked.
fn trusted_proxy(args: &Args) -> anyhow::Result<Option<jiralink_web::TrustedProxy>> {
    let (Some(cidr), Some(header)) = (&args.trusted_proxy, &args.user_header) else {
        return Ok(None);
    };
    let network = cidr
        .parse()
        .map_err(|e: String| UsageError(format!("--trusted-proxy {e}")))?;
    let header = header.trim().to_ascii_lowercase();
    if header_name_ok(&header) {
        Ok(Some(jiralink_web::TrustedProxy { network, header }))
    } else {
        anyhow::bail!(UsageError(format!(
            "--user-header '{header}' is not a header name: use letters, digits and '-', such as X-Forwarded-User"
        )))
    }
}

fn header_name_ok(h: &str) -> bool {
    !h.is_empty()
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The app over the home's vault and the store of `--store`: the SQLite file, or the PostgreSQL
/// database (its password from `PGPASSWORD`, its CA from `PGSSLROOTCERT`, as every command).
pub fn app(
    global: &Global,
    public_url: String,
    proxy: Option<jiralink_web::TrustedProxy>,
) -> anyhow::Result<Arc<jiralink_web::App>> {
    let home = connect::home(global.home.clone())?;
    std::fs::create_dir_all(&home).with_context(|| format!("cannot create {}", home.display()))?;
    let store = match store_spec(global)? {
        StoreSpec::Sqlite(path) => StoreLocation::Sqlite(path),
        StoreSpec::Postgres(url) => StoreLocation::Postgres(super::sync::pg_target(url)),
    };
    Ok(jiralink_web::App::new(jiralink_web::Config {
        store,
        vault: connect::vault(&home)?,
        public_url,
        connector: Arc::new(CliConnector),
        access: Arc::new(CliAccessBook {
            home,
            global: global.clone(),
        }),
        trusted_proxy: proxy,
    })?)
}

pub fn public_url(args: &Args, bound: SocketAddr) -> anyhow::Result<String> {
    match &args.public_url {
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => {
            Ok(u.trim_end_matches('/').to_owned())
        }
        Some(u) => anyhow::bail!(UsageError(format!(
            "--public-url {u}: give the URL people open, such as https://jiralink.corp.example"
        ))),
        None => Ok(format!("http://{bound}")),
    }
}

pub async fn run(args: Args, global: Global) -> anyhow::Result<()> {
    // The address is bound first so that the printed links carry the real port.
    let proxy = trusted_proxy(&args)?;
    let listener = std::net::TcpListener::bind(args.bind)
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let bound = listener.local_addr()?;
    drop(listener);
    let url = public_url(&args, bound)?;
    let app = app(&global, url.clone(), proxy)?;
    if let Some(link) = app.setup_link()? {
        println!("no admin yet: open this one-time link to make one (valid 24 h): {link}");
    }
    jiralink_web::serve(
        app,
        bound,
        |addr| println!("jiralink serve: listening on http://{addr} (public URL {url})"),
        shutdown(),
    )
    .await?;
    Ok(())
}

/// `jiralink demo --serve`: the app over the demo's home (its vault and store), a `demo` admin
/// without a password, and a one-time sign-in link for it; serves until SIGINT or SIGTERM.
pub async fn demo(home: &std::path::Path, bind: SocketAddr) -> anyhow::Result<()> {
    let listener =
        std::net::TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
    let bound = listener.local_addr()?;
    drop(listener);
    let url = format!("http://{bound}");
    let app = jiralink_web::App::new(jiralink_web::Config {
        store: StoreLocation::Sqlite(home.join("jiralink.db")),
        vault: jiralink_vault::Vault::open(home, jiralink_vault::MasterKey::KeyFile)?,
        public_url: url.clone(),
        connector: Arc::new(CliConnector),
        access: Arc::new(CliAccessBook {
            home: home.to_owned(),
            global: Global {
                home: Some(home.to_owned()),
                store: None,
                out: crate::Output { json: false },
                quiet: true,
            },
        }),
        trusted_proxy: None,
    })?;
    app.put_user("demo", jiralink_web::Role::Admin, None)
        .map_err(|e| anyhow::anyhow!(e))?;
    let link = app.sign_in_link("demo")?;
    println!("\n== web app at {url}: open this one-time sign-in link (valid 1 h); Ctrl-C stops\n  {link}");
    jiralink_web::serve(app, bound, |_| {}, shutdown()).await?;
    Ok(())
}

/// Resolves at SIGINT or SIGTERM.
pub async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
