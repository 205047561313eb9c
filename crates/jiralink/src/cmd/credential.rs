//! `jiralink credential add|list|show|test|rotate|remove`: named credentials in the vault, tested
//! before they are kept, with their age and expiry watched.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use jiralink_api::{site, test_connection, AuthKind, ConnectionReport};
use jiralink_vault::{Connection, Credential, Secrets, Vault};
use secrecy::SecretString;
use serde_json::json;

use super::connect;
use super::{Failed, UsageError};
use crate::{Global, Output};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Add a credential; tests it first unless --no-test.
    #[command(
        after_help = "Examples:\n  JIRA_TOKEN=... jiralink credential add prod --url https://acme.atlassian.net --auth cloud-token --email me@acme.com --secret-env JIRA_TOKEN\n  jiralink credential add dc --url https://jira.corp.example/jira --auth pat --secret-stdin < token.txt\n  jiralink credential add lab --url https://jira.lab.example --auth pat --ca-bundle corp-ca.pem --timeout 120"
    )]
    Add(Box<AddArgs>),
    /// List credentials with their description, age and expiry.
    #[command(
        after_help = "Examples:\n  jiralink credential list\n  jiralink credential list --max-age-days 60 --fail-on warning   # for cron: exit 1 on any warning"
    )]
    List {
        #[command(flatten)]
        policy: PolicyArgs,
        /// Exit 1 when any credential has a warning (for cron and CI).
        #[arg(long, value_enum)]
        fail_on: Option<FailOn>,
    },
    /// Change a credential's description, URL, proxy or CA bundle (not its secret: see rotate).
    #[command(
        after_help = "Examples:\n  jiralink credential edit prod --description \"sync service user\"\n  jiralink credential edit prod --proxy http://proxy.corp.example:3128\n  jiralink credential edit prod --no-proxy"
    )]
    Edit(EditArgs),
    /// Show one credential (never its secret).
    #[command(
        after_help = "Examples:\n  jiralink credential show prod\n  jiralink --json credential show prod"
    )]
    Show {
        /// The credential's name.
        name: String,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Test a credential's connection and name the cause of any failure.
    #[command(
        after_help = "Examples:\n  jiralink credential test prod\n  jiralink -v credential test prod      # each request: method, path, status, time\n  jiralink --json credential test prod"
    )]
    Test {
        /// The credential's name.
        name: String,
    },
    /// Replace a credential's secret: the new one is tested first, the old one kept on failure.
    #[command(
        after_help = "Examples:\n  NEW_TOKEN=... jiralink credential rotate prod --secret-env NEW_TOKEN --expires-at 2027-03-01"
    )]
    Rotate {
        /// The credential's name.
        name: String,
        #[command(flatten)]
        secret: SecretArgs,
        /// New expiry of the token (YYYY-MM-DD), if it has one.
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// Make an RSA key pair for a Jira OAuth 1.0a application link: writes the private key and
    /// prints the public key to paste into Jira.
    #[command(
        name = "oauth1-keygen",
        after_help = "Examples:\n  jiralink credential oauth1-keygen --out ~/.jiralink/jira-oauth.pem\n  jiralink credential add dc --url https://jira.corp.example --auth oauth1 --consumer-key jiralink --private-key-file ~/.jiralink/jira-oauth.pem"
    )]
    Oauth1Keygen {
        /// Where to write the private key (PKCS#8 PEM, mode 0600); an existing file is not replaced.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Remove a credential.
    #[command(after_help = "Examples:\n  jiralink credential remove old-prod")]
    Remove {
        /// The credential's name.
        name: String,
    },
}

#[derive(Debug, clap::Args)]
struct SecretArgs {
    /// Read the secret from this environment variable.
    #[arg(long, value_name = "VAR")]
    secret_env: Option<String>,
    /// Read the secret from the first line of standard input.
    #[arg(long)]
    secret_stdin: bool,
}

/// What makes `--fail-on` exit 1.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FailOn {
    /// Any warning (credential list: age over the policy, expired or expiring; access: any
    /// finding not accepted).
    Warning,
}

#[derive(Debug, clap::Args)]
struct EditArgs {
    /// The credential to change.
    name: String,
    /// A new description.
    #[arg(long)]
    description: Option<String>,
    /// A new site URL (same normalisation as at add).
    #[arg(long)]
    url: Option<String>,
    /// A new proxy (its password is sealed in the vault).
    #[arg(long, conflicts_with = "no_proxy")]
    proxy: Option<String>,
    /// Remove the proxy.
    #[arg(long)]
    no_proxy: bool,
    /// A new CA bundle (PEM or DER).
    #[arg(long)]
    ca_bundle: Option<PathBuf>,
    /// Seconds to wait for Jira's answer.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=600))]
    timeout: Option<u64>,
}

#[derive(Debug, clap::Args)]
struct PolicyArgs {
    /// Warn when a secret is older than this many days.
    #[arg(long, default_value_t = 90)]
    max_age_days: i64,
}

#[derive(Debug, clap::Args)]
struct AddArgs {
    /// A name for the credential: letters, digits, '-', '_' and '.', up to 64 (for example prod).
    name: String,
    /// The Jira site as you open it in a browser (a board or issue URL works too).
    #[arg(long)]
    url: String,
    /// cloud-token, scoped-token, service-account, pat, basic, oauth1 or oauth2.
    #[arg(long = "auth")]
    auth: String,
    /// The account's email (cloud-token, scoped-token).
    #[arg(long)]
    email: Option<String>,
    /// The account's username (basic).
    #[arg(long)]
    username: Option<String>,
    #[arg(long, default_value = "")]
    description: String,
    #[command(flatten)]
    secret: SecretArgs,
    /// OAuth 1.0a: the consumer key of the application link.
    #[arg(long)]
    consumer_key: Option<String>,
    /// OAuth 1.0a: the consumer's RSA private key (PEM file).
    #[arg(long)]
    private_key_file: Option<PathBuf>,
    /// OAuth 2.0: the app's client id.
    #[arg(long)]
    client_id: Option<String>,
    /// OAuth 2.0: read the app's client secret from this environment variable.
    #[arg(long, value_name = "VAR")]
    client_secret_env: Option<String>,
    /// OAuth 2.0: the token endpoint (default https://auth.atlassian.com/oauth/token).
    #[arg(long)]
    oauth_token_url: Option<String>,
    /// Cloud API gateway for scoped tokens and service accounts (env JIRALINK_GATEWAY_URL).
    #[arg(long)]
    gateway_url: Option<String>,
    /// Extra CA certificates (PEM) to trust for this site.
    #[arg(long)]
    ca_bundle: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS.
    #[arg(long)]
    client_cert: Option<PathBuf>,
    /// Proxy for this site (otherwise HTTPS_PROXY / NO_PROXY apply).
    #[arg(long)]
    proxy: Option<String>,
    /// Allow plain http to a host other than this machine.
    #[arg(long)]
    allow_insecure_http: bool,
    /// When the token expires (YYYY-MM-DD), for expiry warnings.
    #[arg(long)]
    expires_at: Option<String>,
    /// Keep the credential without testing it.
    #[arg(long)]
    no_test: bool,
    /// Seconds to wait for Jira's answer (default 30), for slow servers.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=600))]
    timeout: Option<u64>,
}

pub async fn run(args: Args, global: Global) -> anyhow::Result<()> {
    let home = connect::home(global.home.clone())?;
    let vault = connect::vault(&home)?;
    match args.command {
        Command::Add(a) => add(&vault, *a, global.out).await,
        Command::List { policy, fail_on } => list(&vault, &policy, fail_on, global.out),
        Command::Edit(e) => edit(&vault, e, global.out),
        Command::Oauth1Keygen { out } => oauth1_keygen(&out, global.out),
        Command::Show { name, policy } => show(&vault, &name, &policy, global.out),
        Command::Test { name } => {
            let (cred, mut secrets) = vault.get(&name)?;
            let report = test(Some(&vault), &cred, &mut secrets).await?;
            print_report(&cred, &report, global.out);
            if report.ok {
                Ok(())
            } else {
                Err(Failed.into())
            }
        }
        Command::Rotate {
            name,
            secret,
            expires_at,
        } => rotate(&vault, &name, &secret, expires_at, global.out).await,
        Command::Remove { name } => {
            vault.remove(&name)?;
            if global.out.json {
                println!("{}", json!({"removed": name}));
            } else {
                println!("removed {name}");
            }
            Ok(())
        }
    }
}

/// The value of the environment variable `var`, named by `flag`. A name that is not a variable
/// name is refused without being repeated: it is often the secret itself, pasted by mistake.
fn env_secret(var: &str, flag: &str) -> anyhow::Result<String> {
    let looks_like_a_name = var
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !looks_like_a_name {
        bail!(UsageError(format!(
            "the value of {flag} does not look like a variable name (did you paste the secret itself?): give the NAME of an environment variable that holds the secret, such as JIRA_TOKEN"
        )));
    }
    std::env::var(var)
        .map_err(|_| UsageError(format!("the environment variable {var} is not set")).into())
}

/// A `--proxy` URL checked at `add`, its password (if any) split off to be sealed with the other
/// secrets. Errors never repeat the URL.
fn split_proxy(text: &str) -> anyhow::Result<(String, Option<SecretString>)> {
    let mut url = jiralink_api::secure::parse_proxy(text, "--proxy")
        .map_err(|e| UsageError(e.to_string()))?;
    let password = url.password().map(percent_decode).map(SecretString::from);
    let _ = url.set_password(None);
    Ok((url.as_str().trim_end_matches('/').to_owned(), password))
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("p={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Reads a secret from the named env var, stdin, or a hidden prompt; never from argv.
fn read_secret(args: &SecretArgs, what: &str) -> anyhow::Result<SecretString> {
    let value = if let Some(var) = &args.secret_env {
        env_secret(var, "--secret-env")?
    } else if args.secret_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the secret from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("{what}: "))
            .context("cannot read the secret from the terminal")?
    } else {
        bail!(UsageError("no secret given: use --secret-stdin or --secret-env VAR (secrets are never taken from arguments)".into()));
    };
    if value.trim().is_empty() {
        bail!(UsageError(format!("the {what} is empty")));
    }
    Ok(SecretString::from(value))
}

/// A valid credential name close to `name` (spaces and other characters become '-').
fn slug(name: &str) -> String {
    let s: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('-').to_owned();
    let s: String = s.chars().take(64).collect();
    if s.is_empty() {
        "jira".into()
    } else {
        s
    }
}

fn parse_date(s: &str) -> anyhow::Result<DateTime<Utc>> {
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| UsageError(format!("'{s}' is not a date: use YYYY-MM-DD")))?;
    Ok(d.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_default())
}

async fn test(
    vault: Option<&Vault>,
    cred: &Credential,
    secrets: &mut Secrets,
) -> anyhow::Result<ConnectionReport> {
    let kind: AuthKind = cred.auth.parse().map_err(|e: String| UsageError(e))?;
    match connect::client(vault, cred, secrets).await? {
        Ok(client) => Ok(test_connection(&client).await),
        Err(e) => Ok(ConnectionReport::not_built(kind, &cred.url, &e)),
    }
}

/// Tests a credential about to be saved and prints the report; a failed test is refused with
/// `refused` (the credential is then not saved).
async fn test_or_refuse(
    cred: &Credential,
    secrets: &mut Secrets,
    out: Output,
    refused: &str,
) -> anyhow::Result<()> {
    let report = test(None, cred, secrets).await?;
    print_report(cred, &report, out);
    if report.ok {
        Ok(())
    } else {
        eprintln!("{refused}");
        Err(Failed.into())
    }
}

async fn add(vault: &Vault, a: AddArgs, out: Output) -> anyhow::Result<()> {
    let kind: AuthKind = a.auth.parse().map_err(|e: String| UsageError(e))?;
    // The name is checked before anything is sent: on Data Center every failed live test counts
    // toward the CAPTCHA lock.
    if !jiralink_vault::valid_name(&a.name) {
        bail!(UsageError(format!(
            "'{}' is not a valid credential name: use letters, digits, '-', '_' and '.', up to 64 (for example '{}')",
            a.name,
            slug(&a.name)
        )));
    }
    if vault.list()?.iter().any(|c| c.name == a.name) {
        bail!(UsageError(format!(
            "a credential named '{}' exists already; remove it first or pick another name",
            a.name
        )));
    }
    if let Some(ca) = &a.ca_bundle {
        let bytes = std::fs::read(ca)
            .map_err(|e| UsageError(format!("cannot read the CA bundle {}: {e}", ca.display())))?;
        jiralink_api::client::ca_certificates(&bytes)
            .map_err(|e| UsageError(format!("{}: {e}", ca.display())))?;
    }
    let (proxy, proxy_password) = match &a.proxy {
        Some(p) => {
            let (url, pw) = split_proxy(p)?;
            (Some(url), pw)
        }
        None => (None, None),
    };
    let site = match site::normalize(&a.url, a.allow_insecure_http) {
        Ok(s) => s,
        Err(e) => match e.diagnosis() {
            Some(d) => {
                print_diagnosis(&a.name, &d.code.to_string(), &d.cause, &d.fix, out);
                return Err(Failed.into());
            }
            None => bail!(UsageError(e.to_string())),
        },
    };
    let identity = match kind.identity() {
        Some("email") => Some(a.email.clone().ok_or_else(|| {
            UsageError(format!(
                "--auth {kind} needs --email (the Atlassian account's email)"
            ))
        })?),
        Some(_) => Some(
            a.username
                .clone()
                .ok_or_else(|| UsageError(format!("--auth {kind} needs --username")))?,
        ),
        None => a.email.clone().or(a.username.clone()),
    };
    let mut params = BTreeMap::new();
    let mut secrets = Secrets::default();
    if let Some(pw) = proxy_password {
        secrets.0.insert(connect::PROXY_PASSWORD.into(), pw);
    }
    match kind {
        AuthKind::Oauth1 => {
            params.insert(
                "consumer_key".to_owned(),
                a.consumer_key
                    .clone()
                    .ok_or_else(|| UsageError("--auth oauth1 needs --consumer-key".into()))?,
            );
            let path = a
                .private_key_file
                .clone()
                .ok_or_else(|| UsageError("--auth oauth1 needs --private-key-file".into()))?;
            let pem = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the private key {}", path.display()))?;
            // Bad key input is a usage error (exit 2) naming the formats, before anything is sent.
            jiralink_api::oauth1::private_key(&pem)
                .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
            secrets
                .0
                .insert("private_key_pem".into(), SecretString::from(pem.clone()));
            let token = if a.secret.secret_env.is_some() || a.secret.secret_stdin {
                read_secret(&a.secret, "OAuth access token")?
            } else {
                let consumer_key = params.get("consumer_key").cloned().unwrap_or_default();
                oauth1_dance(&site, &consumer_key, SecretString::from(pem), &a).await?
            };
            secrets.0.insert("secret".into(), token);
        }
        AuthKind::Oauth2 => {
            params.insert(
                "client_id".to_owned(),
                a.client_id
                    .clone()
                    .ok_or_else(|| UsageError("--auth oauth2 needs --client-id".into()))?,
            );
            if let Some(u) = &a.oauth_token_url {
                params.insert("token_url".to_owned(), u.clone());
            }
            let var = a.client_secret_env.clone().ok_or_else(|| {
                UsageError(
                    "--auth oauth2 needs --client-secret-env VAR (the app's client secret)".into(),
                )
            })?;
            let client_secret = env_secret(&var, "--client-secret-env")?;
            secrets
                .0
                .insert("client_secret".into(), SecretString::from(client_secret));
            secrets.0.insert(
                "secret".into(),
                read_secret(&a.secret, "OAuth refresh token")?,
            );
        }
        _ => {
            let what = if kind == AuthKind::Basic {
                "password"
            } else {
                "token"
            };
            secrets
                .0
                .insert("secret".into(), read_secret(&a.secret, what)?);
        }
    }
    let now = Utc::now();
    let cred = Credential {
        name: a.name.clone(),
        description: a.description,
        url: site::base_str(&site),
        auth: kind.as_str().to_owned(),
        identity,
        params,
        owner: connect::local_user(),
        created: now,
        rotated: now,
        expires_at: a.expires_at.as_deref().map(parse_date).transpose()?,
        connection: Connection {
            ca_bundle: a.ca_bundle,
            client_cert: a.client_cert,
            proxy,
            gateway_url: a.gateway_url,
            allow_insecure_http: a.allow_insecure_http,
            timeout_secs: a.timeout,
        },
    };
    if !a.no_test {
        let refused = "not saved: fix the cause above, or add with --no-test to keep it untested";
        test_or_refuse(&cred, &mut secrets, out, refused).await?;
    }
    vault.add(cred, &secrets)?;
    if !out.json || a.no_test {
        if out.json {
            println!("{}", json!({"added": a.name, "tested": false}));
        } else {
            println!("saved {} in {}", a.name, vault.path().display());
        }
    }
    Ok(())
}

/// Runs the OAuth 1.0a dance: prints the URL where the user approves access, reads the
/// verification code Jira shows them, and returns the access token.
async fn oauth1_dance(
    site: &url::Url,
    consumer_key: &str,
    pem: SecretString,
    a: &AddArgs,
) -> anyhow::Result<SecretString> {
    let probe = Credential {
        name: a.name.clone(),
        description: String::new(),
        url: site::base_str(site),
        auth: AuthKind::Oauth1.as_str().into(),
        identity: None,
        params: BTreeMap::new(),
        owner: String::new(),
        created: Utc::now(),
        rotated: Utc::now(),
        expires_at: None,
        connection: Connection {
            ca_bundle: a.ca_bundle.clone(),
            client_cert: a.client_cert.clone(),
            proxy: a.proxy.clone(),
            gateway_url: None,
            allow_insecure_http: a.allow_insecure_http,
            timeout_secs: a.timeout,
        },
    };
    let auth = jiralink_api::Auth::OAuth1 {
        consumer_key: consumer_key.to_owned(),
        private_key_pem: pem.clone(),
        token: SecretString::from(String::new()),
    };
    let http = connect::configured(&probe, AuthKind::Oauth1, auth)?.http()?;
    let dance = jiralink_api::oauth1::Dance::new(http, site, consumer_key, pem);
    let request_token = dance
        .request_token()
        .await
        .map_err(|e| anyhow::anyhow!(e.diagnosis()))?;
    eprintln!(
        "Open this URL in a browser, sign in and allow access:\n  {}",
        dance.authorize_url(&request_token)
    );
    eprintln!("Then enter the verification code Jira shows:");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the verification code")?;
    let verifier = line.trim();
    if verifier.is_empty() {
        bail!(UsageError("no verification code given".into()));
    }
    dance
        .access_token(&request_token, verifier)
        .await
        .map_err(|e| anyhow::anyhow!(e.diagnosis()))
}

async fn rotate(
    vault: &Vault,
    name: &str,
    secret: &SecretArgs,
    expires_at: Option<String>,
    out: Output,
) -> anyhow::Result<()> {
    let (old, old_secrets) = vault.get(name)?;
    let mut secrets = Secrets(old_secrets.0.clone());
    secrets
        .0
        .insert("secret".into(), read_secret(secret, "new secret")?);
    let mut cred = old.clone();
    cred.rotated = Utc::now();
    if let Some(e) = expires_at.as_deref() {
        cred.expires_at = Some(parse_date(e)?);
    }
    let refused =
        format!("not rotated: the new secret failed its test; {name} keeps its old secret");
    test_or_refuse(&cred, &mut secrets, out, &refused).await?;
    vault.replace(cred, &secrets)?;
    if !out.json {
        println!("rotated {name}");
    }
    Ok(())
}

/// Age and expiry warnings under the rotation policy.
fn warnings(c: &Credential, p: &PolicyArgs, now: DateTime<Utc>) -> Vec<String> {
    let mut w = Vec::new();
    let age = (now - c.rotated).num_days();
    if age > p.max_age_days {
        w.push(format!(
            "secret is {age} days old (policy {} days): rotate it",
            p.max_age_days
        ));
    }
    if let Some(e) = c.expires_at {
        let left = (e - now).num_days();
        if e <= now {
            w.push("expired".into());
        } else if left <= 14 {
            w.push(format!("expires in {left} days"));
        }
    }
    w
}

fn credential_json(c: &Credential, p: &PolicyArgs, now: DateTime<Utc>) -> serde_json::Value {
    json!({
        "name": c.name, "description": c.description, "url": c.url, "auth": c.auth, "identity": c.identity,
        "owner": c.owner, "created": c.created, "rotated": c.rotated, "expires_at": c.expires_at,
        "age_days": (now - c.rotated).num_days(), "warnings": warnings(c, p, now),
    })
}

fn list(vault: &Vault, p: &PolicyArgs, fail_on: Option<FailOn>, out: Output) -> anyhow::Result<()> {
    let now = Utc::now();
    let creds = vault.list()?;
    let warned = creds.iter().any(|c| !warnings(c, p, now).is_empty());
    let verdict = || -> anyhow::Result<()> {
        match fail_on {
            Some(FailOn::Warning) if warned => {
                eprintln!("failing: a credential has a warning (--fail-on warning)");
                Err(Failed.into())
            }
            _ => Ok(()),
        }
    };
    if out.json {
        let rows: Vec<serde_json::Value> =
            creds.iter().map(|c| credential_json(c, p, now)).collect();
        println!("{}", json!({"credentials": rows, "warnings": warned}));
        return verdict();
    }
    if creds.is_empty() {
        println!(
            "no credentials; add one with `jiralink credential add NAME --url URL --auth KIND`"
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = creds
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                cut(&c.description, 40),
                c.auth.clone(),
                c.url.clone(),
                c.identity.clone().unwrap_or_default(),
                format!("{}d", (now - c.rotated).num_days()),
                c.expires_at
                    .map(|e| e.format("%Y-%m-%d").to_string())
                    .unwrap_or_else(|| "-".into()),
                warnings(c, p, now).join("; "),
            ]
        })
        .collect();
    print_table(
        &[
            "NAME",
            "DESCRIPTION",
            "AUTH",
            "URL",
            "IDENTITY",
            "AGE",
            "EXPIRES",
            "WARNINGS",
        ],
        &rows,
    );
    verdict()
}

/// `text` cut to `max` characters for a table cell (an ellipsis marks the cut).
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

fn oauth1_keygen(path: &std::path::Path, out: Output) -> anyhow::Result<()> {
    use secrecy::ExposeSecret;
    use std::io::Write;
    let (private, public) = jiralink_api::oauth1::generate_key().map_err(anyhow::Error::msg)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        UsageError(format!(
            "cannot create {} ({e}): give a new file; an existing key is never replaced",
            path.display()
        ))
    })?;
    file.write_all(private.expose_secret().as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    if out.json {
        println!(
            "{}",
            json!({"private_key_file": path, "public_key_pem": public})
        );
    } else {
        println!("Private key written to {} (mode 0600).", path.display());
        println!("In Jira: Administration > Applications > Application links: create a link for jiralink, choose");
        println!("OAuth 1.0a incoming authentication, pick a consumer key (for example jiralink) and paste this public key:\n");
        print!("{public}");
        println!("\nThen: jiralink credential add NAME --url URL --auth oauth1 --consumer-key KEY --private-key-file {}", path.display());
    }
    Ok(())
}

fn edit(vault: &Vault, e: EditArgs, out: Output) -> anyhow::Result<()> {
    let (mut cred, mut secrets) = vault.get(&e.name)?;
    if let Some(d) = e.description {
        cred.description = d;
    }
    if let Some(u) = &e.url {
        let site = site::normalize(u, cred.connection.allow_insecure_http)
            .map_err(|err| UsageError(err.to_string()))?;
        cred.url = site::base_str(&site);
    }
    if let Some(ca) = e.ca_bundle {
        let bytes = std::fs::read(&ca).map_err(|err| {
            UsageError(format!("cannot read the CA bundle {}: {err}", ca.display()))
        })?;
        jiralink_api::client::ca_certificates(&bytes)
            .map_err(|err| UsageError(format!("{}: {err}", ca.display())))?;
        cred.connection.ca_bundle = Some(ca);
    }
    if let Some(t) = e.timeout {
        cred.connection.timeout_secs = Some(t);
    }
    if e.no_proxy {
        cred.connection.proxy = None;
        secrets.0.remove(connect::PROXY_PASSWORD);
    }
    if let Some(p) = &e.proxy {
        let (url, pw) = split_proxy(p)?;
        cred.connection.proxy = Some(url);
        match pw {
            Some(pw) => secrets.0.insert(connect::PROXY_PASSWORD.into(), pw),
            None => secrets.0.remove(connect::PROXY_PASSWORD),
        };
    }
    vault.replace(cred.clone(), &secrets)?;
    if out.json {
        println!("{}", json!({"edited": cred.name}));
    } else {
        println!(
            "edited {}; `jiralink credential test {}` checks it",
            cred.name, cred.name
        );
    }
    Ok(())
}

fn show(vault: &Vault, name: &str, p: &PolicyArgs, out: Output) -> anyhow::Result<()> {
    let c = vault
        .list()?
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| jiralink_vault::VaultError::NotFound(name.to_owned()))?;
    let v = credential_json(&c, p, Utc::now());
    if out.json {
        println!("{v}");
    } else if let Some(o) = v.as_object() {
        for (k, val) in o {
            let text = match val {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => "-".into(),
                other => other.to_string(),
            };
            println!("{k:<12} {text}");
        }
    }
    Ok(())
}

pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, cell) in r.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(header.iter().map(|h| (*h).to_owned()).collect());
    for r in rows {
        line(r.clone());
    }
}

fn print_diagnosis(name: &str, code: &str, cause: &str, fix: &str, out: Output) {
    if out.json {
        println!(
            "{}",
            json!({"name": name, "ok": false, "code": code, "cause": cause, "fix": fix})
        );
    } else {
        println!("{name}: FAILED  {code}");
        println!("  cause  {cause}");
        println!("  fix    {fix}");
    }
}

pub fn print_report(cred: &Credential, r: &ConnectionReport, out: Output) {
    if out.json {
        let mut v = serde_json::to_value(r).unwrap_or_default();
        v["name"] = json!(cred.name);
        v["token_age_days"] = json!((Utc::now() - cred.rotated).num_days());
        v["expires_at"] = json!(cred.expires_at);
        println!("{v}");
        return;
    }
    if let (Some(code), Some(cause), Some(fix)) = (&r.code, &r.cause, &r.fix) {
        print_diagnosis(&cred.name, code.as_str(), cause, fix, out);
        return;
    }
    println!("{}: OK", cred.name);
    if let Some(d) = &r.deployment {
        println!(
            "  deployment  Jira {} {}{}",
            d.kind,
            cut(&d.version, 40),
            d.build.map(|b| format!(" (build {b})")).unwrap_or_default()
        );
    }
    if let Some(a) = &r.account {
        let id = a
            .account_id
            .clone()
            .or(a.username.clone())
            .unwrap_or_default();
        // Fields from the server are cut in human output: a hostile or broken server cannot flood
        // the terminal (the JSON form keeps them whole).
        let id = cut(&id, 128);
        let email = a
            .email
            .as_deref()
            .map(|e| format!(" <{}>", cut(e, 128)))
            .unwrap_or_default();
        println!(
            "  account     {}{email} ({id}), {}, time zone {}",
            cut(&a.display_name, 80),
            if a.active { "active" } else { "inactive" },
            cut(a.time_zone.as_deref().unwrap_or("?"), 64)
        );
    }
    println!("  auth        {} via {}", r.auth, r.base_url);
    let expiry = cred
        .expires_at
        .map(|e| format!(", expires {}", e.format("%Y-%m-%d")))
        .unwrap_or_default();
    println!(
        "  token       {} days old{expiry}",
        (Utc::now() - cred.rotated).num_days()
    );
    println!(
        "  round trip  {} ms, {} requests",
        r.timings.round_trip_ms, r.timings.requests
    );
}
