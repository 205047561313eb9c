//! The connection test: at most two requests for a healthy credential (serverInfo, myself), and
//! for a failing one a diagnosis, with a few cheap extra probes only where they tell causes apart.

use std::time::Instant;

use reqwest::Method;
use serde::Serialize;

use crate::auth::AuthKind;
use crate::client::{Client, Error};
use crate::diagnosis::{Code, Diagnosis};
use crate::models::{ServerInfo, Shaped, TenantInfo};

#[derive(Debug, Clone, Serialize)]
pub struct Deployment {
    /// `Cloud` or `Data Center` (Jira Server answers `Server`).
    pub kind: String,
    pub version: String,
    pub build: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// What `credential test` reports; its JSON form is stable.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionReport {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<Code>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    pub auth: AuthKind,
    pub base_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment: Option<Deployment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<Account>,
    pub timings: Timings,
}

#[derive(Debug, Clone, Serialize)]
pub struct Timings {
    pub requests: u32,
    pub round_trip_ms: u64,
}

/// Tests a client's credential against its site.
pub async fn test_connection(client: &Client) -> ConnectionReport {
    let started = Instant::now();
    let before = client.requests();
    let result = run(client).await;
    let timings = Timings {
        requests: client.requests() - before,
        round_trip_ms: started.elapsed().as_millis() as u64,
    };
    let mut report = ConnectionReport::failed(client.kind(), client.base_url(), timings);
    match result {
        Ok((deployment, account)) => {
            report.ok = true;
            report.deployment = Some(deployment);
            report.account = Some(account);
        }
        Err((deployment, d)) => {
            report.deployment = deployment;
            report.diagnosed(d);
        }
    }
    report
}

impl ConnectionReport {
    /// The report of a credential whose client could not be built (no request was sent): the
    /// diagnosis of `e`.
    pub fn not_built(auth: AuthKind, base_url: &str, e: &Error) -> ConnectionReport {
        let timings = Timings {
            requests: 0,
            round_trip_ms: 0,
        };
        let mut report = ConnectionReport::failed(auth, base_url, timings);
        report.diagnosed(e.diagnosis());
        report
    }

    /// A failed test with nothing learnt yet.
    fn failed(auth: AuthKind, base_url: &str, timings: Timings) -> ConnectionReport {
        ConnectionReport {
            ok: false,
            code: None,
            cause: None,
            fix: None,
            auth,
            base_url: base_url.to_owned(),
            deployment: None,
            account: None,
            timings,
        }
    }

    fn diagnosed(&mut self, d: Diagnosis) {
        self.code = Some(d.code);
        self.cause = Some(d.cause);
        self.fix = Some(d.fix);
    }
}

type Outcome = Result<(Deployment, Account), (Option<Deployment>, Diagnosis)>;

async fn run(client: &Client) -> Outcome {
    let info = match client.server_info_shaped().await {
        Ok(v) => v,
        Err(e) => return Err((None, explain_server_info_failure(client, e).await)),
    };
    let Some(deployment) = deployment_of(info) else {
        return Err((
            None,
            Diagnosis::new(Code::NotJira)
                .with_cause("The URL answered JSON, but not Jira's serverInfo."),
        ));
    };
    let me = match client.myself_shaped().await {
        Ok(v) => v,
        // serverInfo proved Jira: a body that does not decode is Jira misbehaving, not "not Jira".
        Err(Error::Decode { message, .. }) => {
            return Err((
                Some(deployment),
                Diagnosis::new(Code::UnexpectedResponse).with_cause(format!(
                    "serverInfo answered as Jira, but myself answered a body that is not JSON: {message}."
                )),
            ))
        }
        Err(e) => {
            let d = explain_auth_failure(client, e.diagnosis()).await;
            return Err((Some(deployment.clone()), kind_mismatch(client.kind(), &deployment, d)));
        }
    };
    let me = match me {
        Shaped::Object(me, _) if me.is_named() => me,
        other => {
            let shape = match other {
                Shaped::Null => "null".to_owned(),
                Shaped::Array(n) => format!("an array of {n}"),
                Shaped::Object(_, 0) => "an empty object".to_owned(),
                Shaped::Object(..) => "an object without accountId, key or name".to_owned(),
                _ => "a bare value".to_owned(),
            };
            return Err((
                Some(deployment),
                Diagnosis::new(Code::UnexpectedResponse).with_cause(format!(
                    "serverInfo answered as Jira, but myself answered {shape}, not a user."
                )),
            ));
        }
    };
    let account = Account {
        display_name: me.display_name.unwrap_or_default(),
        account_id: me.account_id.or(me.key),
        username: me.name,
        email: me.email_address.filter(|e| !e.is_empty()),
        active: me.active.unwrap_or(true),
        time_zone: me.time_zone,
    };
    if !account.active {
        return Err((Some(deployment), Diagnosis::new(Code::AccountInactive)));
    }
    Ok((deployment, account))
}

/// A refusal from a deployment the auth kind does not exist on is named as that, whatever the
/// refusal looked like (a PAT on Cloud gets 401; a Cloud token on Data Center gets 404 on v3).
fn kind_mismatch(kind: AuthKind, deployment: &Deployment, d: Diagnosis) -> Diagnosis {
    let cloud = deployment.kind == "Cloud";
    let cloud_kind = matches!(
        kind,
        AuthKind::CloudToken | AuthKind::ScopedToken | AuthKind::ServiceAccount | AuthKind::Oauth2
    );
    let refused = matches!(
        d.code,
        Code::BadCredentials
            | Code::ApiAccessBlocked
            | Code::WrongContextPath
            | Code::NotJira
            | Code::CaptchaRequired
    );
    if !refused || cloud == cloud_kind {
        return d;
    }
    let fix = if cloud {
        "Jira Cloud has no personal access tokens or passwords for the API: add the credential with --auth cloud-token (email + API token from id.atlassian.com), scoped-token, service-account or oauth2."
    } else {
        "Data Center has no Atlassian API tokens: add the credential with --auth pat (a personal access token from your Jira profile), basic or oauth1."
    };
    let mut m = Diagnosis::new(Code::AuthKindMismatch)
        .with_cause(format!(
            "The site is Jira {} (serverInfo says so), and --auth {kind} does not exist there.",
            deployment.kind
        ))
        .with_fix(fix);
    m.status = d.status;
    m
}

/// The deployment a serverInfo answer names: `None` when it is not Jira's (no version or
/// deployment type, or not an object).
fn deployment_of(info: Shaped<ServerInfo>) -> Option<Deployment> {
    let info = info.object()?;
    let kind = match info.deployment_type.as_deref()? {
        "Cloud" => "Cloud",
        _ => "Data Center",
    };
    Some(Deployment {
        kind: kind.to_owned(),
        version: info.version?,
        build: info.build_number,
    })
}

/// A serverInfo answer read from a raw response (the unauthenticated probes).
fn deployment_in(body: &[u8]) -> Option<Deployment> {
    serde_json::from_slice::<Shaped<ServerInfo>>(body)
        .ok()
        .and_then(deployment_of)
}

/// serverInfo failed: tell a wrong context path from a server that is not Jira at all, by asking
/// where Jira usually lives on the same host (at most two extra unauthenticated requests).
async fn explain_server_info_failure(client: &Client, e: Error) -> Diagnosis {
    let d = explain_auth_failure(client, e.diagnosis()).await;
    // A Cloud-only kind on the site URL of Data Center: v3 is missing, v2 answers as Data Center.
    // And a Data Center kind on Cloud: refused, where an anonymous serverInfo says Cloud.
    let cloud_kind = client.kind().api_version() == 3;
    let may_mismatch = if cloud_kind {
        matches!(d.code, Code::NotJira | Code::WrongContextPath)
    } else {
        d.code == Code::BadCredentials
    };
    if may_mismatch && !client.via_gateway() {
        let url = format!(
            "{}/rest/api/2/serverInfo",
            crate::site::base_str(client.site())
        );
        if let Ok(r) = client.send_to(Method::GET, &url, None, false).await {
            if let Some(dep) = deployment_in(&r.body) {
                let m = kind_mismatch(client.kind(), &dep, d.clone());
                if m.code == Code::AuthKindMismatch {
                    return m;
                }
            }
        }
    }
    if !matches!(d.code, Code::NotJira | Code::WrongContextPath) || client.via_gateway() {
        return d;
    }
    let site = client.site();
    let origin = site.origin().ascii_serialization();
    let path = site.path().trim_end_matches('/');
    let mut candidates = Vec::new();
    if !path.is_empty() {
        candidates.push(origin.clone());
    }
    if path != "/jira" {
        candidates.push(format!("{origin}/jira"));
    }
    for base in candidates {
        let url = format!("{base}/rest/api/2/serverInfo");
        if let Ok(r) = client.send_to(Method::GET, &url, None, false).await {
            if deployment_in(&r.body).is_some() {
                return Diagnosis::new(Code::WrongContextPath)
                    .with_cause(format!(
                        "Jira answers at {base}, not at {}.",
                        crate::site::base_str(site)
                    ))
                    .with_fix(format!("Use {base} as the URL."));
            }
        }
    }
    // A 404 page that merely mentions Jira, with no Jira at the usual places: not a context path
    // problem jiralink can name, so not a fix that sends the user looking for one.
    if d.code == Code::WrongContextPath {
        return Diagnosis::new(Code::NotJira).with_cause(format!(
            "{} answered 404 with a page that mentions Jira, but no Jira REST API answers there or at the usual context paths.",
            crate::site::base_str(site)
        ));
    }
    d
}

/// A 401 for a Cloud API token on the site URL may be a scoped token, which only the gateway accepts.
async fn explain_auth_failure(client: &Client, d: Diagnosis) -> Diagnosis {
    if d.code == Code::BadCredentials
        && client.kind() == AuthKind::CloudToken
        && scoped_on_site(client).await
    {
        return Diagnosis::new(Code::ScopedTokenOnSiteUrl);
    }
    d
}

/// Does the site have a cloudId, and does the gateway accept the same credentials?
async fn scoped_on_site(client: &Client) -> bool {
    let site = crate::site::base_str(client.site());
    let Ok(info) = client
        .send_to(
            Method::GET,
            &format!("{site}/_edge/tenant_info"),
            None,
            false,
        )
        .await
    else {
        return false;
    };
    let Some(cloud_id) = serde_json::from_slice::<Shaped<TenantInfo>>(&info.body)
        .ok()
        .and_then(Shaped::object)
        .and_then(|t| t.cloud_id)
    else {
        return false;
    };
    let gateway = client.gateway().to_owned();
    client
        .send_to(
            Method::GET,
            &format!("{gateway}/ex/jira/{cloud_id}/rest/api/3/myself"),
            None,
            true,
        )
        .await
        .is_ok()
}
