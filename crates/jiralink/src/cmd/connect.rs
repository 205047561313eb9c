//! From a stored credential to a ready client: the vault location, the master key, the auth
//! material, TLS and proxy settings. Shared by every command that talks to Jira.

use std::path::PathBuf;

use anyhow::Context;
use jiralink_api::{site, Auth, AuthKind, ClientBuilder};
use jiralink_vault::{Credential, MasterKey, Secrets, Vault};
use secrecy::{ExposeSecret, SecretString};

use super::UsageError;

/// The jiralink home: `--home`, `JIRALINK_HOME`, or `~/.jiralink`.
pub fn home(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(h) = explicit {
        return Ok(h);
    }
    let user_home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .context("HOME is not set; pass --home DIR")?;
    Ok(user_home.join(".jiralink"))
}

/// Opens the vault with `JIRALINK_MASTER_KEY` when set, else the key file beside it.
pub fn vault(home: &std::path::Path) -> anyhow::Result<Vault> {
    let key = match std::env::var("JIRALINK_MASTER_KEY") {
        Ok(k) if !k.is_empty() => MasterKey::Env(SecretString::from(k)),
        _ => MasterKey::KeyFile,
    };
    Ok(Vault::open(home, key)?)
}

/// The local user a credential belongs to.
pub fn local_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(account_of_this_process)
        .unwrap_or_else(|| "unknown".into())
}

/// The account name of this process's user from the system's user database (`/etc/passwd`), for
/// when the environment names none (cron, containers, `sudo -i` shells without `USER`).
#[cfg(unix)]
fn account_of_this_process() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid().to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        (f.nth(1)? == uid).then(|| name.to_owned())
    })
}

#[cfg(not(unix))]
fn account_of_this_process() -> Option<String> {
    None
}

/// The gateway for scoped tokens and service accounts: the credential's, `JIRALINK_GATEWAY_URL`, or Atlassian's.
pub fn gateway_url(cred: &Credential) -> String {
    cred.connection
        .gateway_url
        .clone()
        .or_else(|| {
            std::env::var("JIRALINK_GATEWAY_URL")
                .ok()
                .filter(|g| !g.is_empty())
        })
        .unwrap_or_else(|| jiralink_api::client::ATLASSIAN_GATEWAY.to_owned())
}

fn need(secrets: &Secrets, name: &str) -> anyhow::Result<SecretString> {
    secrets
        .get(name)
        .cloned()
        .with_context(|| format!("the credential has no '{name}' secret; rotate it to set one"))
}

/// The client builder for a credential and its secrets.
pub fn builder(cred: &Credential, secrets: &Secrets) -> anyhow::Result<ClientBuilder> {
    let kind: AuthKind = cred.auth.parse().map_err(|e: String| UsageError(e))?;
    let identity = || {
        cred.identity.clone().with_context(|| {
            format!(
                "the credential has no {}",
                kind.identity().unwrap_or("identity")
            )
        })
    };
    let param = |key: &str, what: &str| {
        cred.params
            .get(key)
            .cloned()
            .with_context(|| format!("the credential has no {what}"))
    };
    let auth = match kind {
        AuthKind::CloudToken | AuthKind::ScopedToken | AuthKind::Basic => Auth::Basic {
            user: identity()?,
            secret: need(secrets, "secret")?,
        },
        AuthKind::Pat | AuthKind::ServiceAccount => Auth::Bearer {
            token: need(secrets, "secret")?,
        },
        AuthKind::Oauth1 => Auth::OAuth1 {
            consumer_key: param("consumer_key", "OAuth consumer key")?,
            private_key_pem: need(secrets, "private_key_pem")?,
            token: need(secrets, "secret")?,
        },
        AuthKind::Oauth2 => Auth::OAuth2 {
            client_id: param("client_id", "OAuth client id")?,
            client_secret: need(secrets, "client_secret")?,
            refresh_token: need(secrets, "secret")?,
            token_url: cred
                .params
                .get("token_url")
                .cloned()
                .unwrap_or_else(|| jiralink_api::oauth2::ATLASSIAN_TOKEN_URL.to_owned()),
        },
    };
    let mut b = configured(cred, kind, auth)?;
    // The proxy's password is sealed with the other secrets, not kept in the proxy URL on disk.
    if let (Some(p), Some(pw)) = (&cred.connection.proxy, secrets.get(PROXY_PASSWORD)) {
        let mut url = jiralink_api::secure::parse_proxy(p, "the credential's proxy")?;
        url.set_password(Some(pw.expose_secret()))
            .map_err(|()| anyhow::anyhow!("the credential's proxy URL cannot carry a password"))?;
        b = b.proxy(url.as_str());
    }
    Ok(b)
}

/// The name under which a proxy's password is sealed among a credential's secrets.
pub const PROXY_PASSWORD: &str = "proxy_password";

/// A builder for a credential's site with its TLS, proxy and gateway settings, and `auth`.
pub fn configured(cred: &Credential, kind: AuthKind, auth: Auth) -> anyhow::Result<ClientBuilder> {
    let site = site::normalize(&cred.url, cred.connection.allow_insecure_http)?;
    let mut b = ClientBuilder::new(site, kind, auth)
        .gateway_url(&gateway_url(cred))
        .allow_insecure_http(cred.connection.allow_insecure_http);
    if let Some(t) = cred.connection.timeout_secs {
        b = b.timeout(std::time::Duration::from_secs(t));
    }
    if let Ok(mb) = std::env::var("JIRALINK_MAX_RESPONSE_MB") {
        let mb: usize = mb.trim().parse().ok().filter(|m| *m > 0).ok_or_else(|| {
            UsageError(format!(
                "JIRALINK_MAX_RESPONSE_MB is '{mb}': give the largest answer to accept in MB, such as 64"
            ))
        })?;
        b = b.max_response_bytes(mb.saturating_mul(1024 * 1024));
    }
    if let Some(ca) = &cred.connection.ca_bundle {
        b = b.extra_ca_pem(
            std::fs::read(ca)
                .with_context(|| format!("cannot read the CA bundle {}", ca.display()))?,
        );
    }
    if let Some(cert) = &cred.connection.client_cert {
        b =
            b.client_identity_pem(std::fs::read(cert).with_context(|| {
                format!("cannot read the client certificate {}", cert.display())
            })?);
    }
    if let Some(p) = &cred.connection.proxy {
        b = b.proxy(p);
    }
    Ok(b)
}

/// Builds the client for a credential; when OAuth 2 rotated the refresh token on the way, the new
/// one replaces the old in `secrets` and, for a saved credential, in the vault (the old no longer works).
pub async fn client(
    vault: Option<&Vault>,
    cred: &Credential,
    secrets: &mut Secrets,
) -> anyhow::Result<Result<jiralink_api::Client, jiralink_api::Error>> {
    let built = builder(cred, secrets)?.build().await;
    if let Ok(c) = &built {
        if let Some(rotated) = c.rotated_refresh_token() {
            secrets.0.insert("secret".into(), rotated.clone());
            if let Some(v) = vault {
                v.replace(cred.clone(), secrets)
                    .context("cannot save the rotated OAuth refresh token")?;
            }
        }
    }
    Ok(built)
}

/// The client for a saved credential, or its diagnosis printed (text or JSON) and `Failed`.
pub async fn connected(
    vault: &Vault,
    name: &str,
    json: bool,
) -> anyhow::Result<(Credential, jiralink_api::Client)> {
    let (cred, mut secrets) = vault.get(name)?;
    match client(Some(vault), &cred, &mut secrets).await? {
        Ok(c) => Ok((cred, c)),
        Err(e) => {
            print_diagnosis(name, &e.diagnosis(), json);
            Err(super::Failed.into())
        }
    }
}

/// `--max-rps`: the client's request budget, when given (a usage error unless above 0).
pub fn limit_rate(client: &jiralink_api::Client, max_rps: Option<f64>) -> anyhow::Result<()> {
    if let Some(rps) = max_rps {
        if rps.is_nan() || rps <= 0.0 {
            anyhow::bail!(UsageError(format!(
                "--max-rps {rps}: give a number of requests per second above 0"
            )));
        }
        client.limit_rate(rps);
    }
    Ok(())
}

/// A failure as every command shows it: the code, one sentence of cause, one of fix.
pub fn print_diagnosis(name: &str, d: &jiralink_api::Diagnosis, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({"name": name, "ok": false, "code": d.code, "cause": d.cause, "fix": d.fix})
        );
    } else {
        println!(
            "{name}: FAILED  {}\n  cause  {}\n  fix    {}",
            d.code, d.cause, d.fix
        );
    }
}
