//! Diagnosis: every way a connection to Jira fails, named by one stable code (PRODUCT.md) with one
//! sentence of cause and one of fix. The one place that reads transport errors and error responses.

use std::error::Error as _;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use crate::auth::AuthKind;

/// The stable diagnosis codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Code {
    DnsFailed,
    ConnectFailed,
    Timeout,
    TlsUntrusted,
    TlsHostnameMismatch,
    ProxyAuthRequired,
    NotJira,
    LoginPage,
    WrongContextPath,
    HttpNotAllowed,
    BadCredentials,
    TokenExpired,
    TokenRevoked,
    ScopedTokenOnSiteUrl,
    MissingScope,
    CaptchaRequired,
    AccountInactive,
    ApiAccessBlocked,
    RateLimited,
    ServerError,
    UnexpectedResponse,
    AuthKindMismatch,
}

impl Code {
    pub const ALL: [Code; 22] = [
        Code::DnsFailed,
        Code::ConnectFailed,
        Code::Timeout,
        Code::TlsUntrusted,
        Code::TlsHostnameMismatch,
        Code::ProxyAuthRequired,
        Code::NotJira,
        Code::LoginPage,
        Code::WrongContextPath,
        Code::HttpNotAllowed,
        Code::BadCredentials,
        Code::TokenExpired,
        Code::TokenRevoked,
        Code::ScopedTokenOnSiteUrl,
        Code::MissingScope,
        Code::CaptchaRequired,
        Code::AccountInactive,
        Code::ApiAccessBlocked,
        Code::RateLimited,
        Code::ServerError,
        Code::UnexpectedResponse,
        Code::AuthKindMismatch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::DnsFailed => "dns_failed",
            Code::ConnectFailed => "connect_failed",
            Code::Timeout => "timeout",
            Code::TlsUntrusted => "tls_untrusted",
            Code::TlsHostnameMismatch => "tls_hostname_mismatch",
            Code::ProxyAuthRequired => "proxy_auth_required",
            Code::NotJira => "not_jira",
            Code::LoginPage => "login_page",
            Code::WrongContextPath => "wrong_context_path",
            Code::HttpNotAllowed => "http_not_allowed",
            Code::BadCredentials => "bad_credentials",
            Code::TokenExpired => "token_expired",
            Code::TokenRevoked => "token_revoked",
            Code::ScopedTokenOnSiteUrl => "scoped_token_on_site_url",
            Code::MissingScope => "missing_scope",
            Code::CaptchaRequired => "captcha_required",
            Code::AccountInactive => "account_inactive",
            Code::ApiAccessBlocked => "api_access_blocked",
            Code::RateLimited => "rate_limited",
            Code::ServerError => "server_error",
            Code::UnexpectedResponse => "unexpected_response",
            Code::AuthKindMismatch => "auth_kind_mismatch",
        }
    }

    /// The default sentences; `Diagnosis` may make them more precise.
    fn sentences(self) -> (&'static str, &'static str) {
        match self {
            Code::DnsFailed => ("The host name of the URL could not be resolved.", "Check the URL for typos, or the DNS/VPN setup of this machine."),
            Code::ConnectFailed => ("Nothing accepted a connection at that address and port.", "Check the URL and port, and that Jira is running and reachable from this machine (firewall, VPN)."),
            Code::Timeout => ("The server did not answer in time.", "Check the network path to Jira; if the server is known to be slow, raise the timeout (`jiralink credential edit NAME --timeout 120`)."),
            Code::TlsUntrusted => ("The server's TLS certificate is not signed by a trusted authority.", "Add your organisation's CA certificate with --ca-bundle, or fix the server's certificate chain."),
            Code::TlsHostnameMismatch => ("The server's TLS certificate is for another host name.", "Use the host name the certificate was issued for, or fix the certificate."),
            Code::ProxyAuthRequired => ("The HTTP proxy refused the request: it wants credentials (407).", "Put the proxy credentials in HTTPS_PROXY (http://user:pass@proxy:port), or exempt the Jira host with NO_PROXY."),
            Code::NotJira => ("Something answered at that URL, but it is not Jira's REST API.", "Check the URL: it should be the address you open Jira at in a browser."),
            Code::LoginPage => ("An HTML login or single sign-on page answered instead of the API.", "Use the Jira URL itself (not an SSO or proxy URL), and a credential the API accepts (API token or PAT, not a browser session)."),
            Code::WrongContextPath => ("Jira answers on this host, but not under this path.", "Use the context path Jira is served under (for example https://host/jira)."),
            Code::HttpNotAllowed => ("The URL uses plain http to a host that is not this machine, which would send the credential unencrypted.", "Use https, or pass --allow-insecure-http if the network is trusted."),
            Code::BadCredentials => ("Jira refused the credentials (401): the email or username, or the token or password, is wrong.", "Check the identity and create a new API token (Cloud: id.atlassian.com, Security, API tokens)."),
            Code::TokenExpired => ("The token has expired.", "Create a new token and run `jiralink credential rotate NAME`."),
            Code::TokenRevoked => ("The token was revoked.", "Create a new token and run `jiralink credential rotate NAME`."),
            Code::ScopedTokenOnSiteUrl => ("A scoped API token was sent to the site URL; Cloud accepts scoped tokens only through the API gateway.", "Add the credential with --auth scoped-token, which goes through https://api.atlassian.com/ex/jira/{cloudId}."),
            Code::MissingScope => ("The token lacks a scope this request needs.", "Create a token with the scopes jiralink needs (read:jira-work and read:jira-user to read; write:jira-work to write)."),
            Code::CaptchaRequired => ("The account is locked behind a CAPTCHA after failed logins; Jira refuses API logins until it is answered.", "Sign in once through the web UI and answer the CAPTCHA (or ask an admin to reset it), then test again. Prefer a personal access token."),
            Code::AccountInactive => ("The account is deactivated.", "Ask a Jira admin to reactivate the user, or use another service account."),
            Code::ApiAccessBlocked => ("Jira refused API access to this account (403): an IP allowlist, disabled basic auth, or a missing product licence.", "Ask a Jira admin to allow API access for this account from this machine's address."),
            Code::RateLimited => ("Jira kept answering 429 Too Many Requests.", "Wait and retry later, or lower jiralink's request rate."),
            Code::ServerError => ("Jira answered with server errors (5xx) on every attempt.", "Retry later; if it persists, check Jira's health or status page."),
            Code::UnexpectedResponse => ("Jira answered in a way jiralink does not recognise.", "Run again with -v and report the response."),
            Code::AuthKindMismatch => ("This auth kind does not exist on the deployment that answered (Cloud and Data Center take different credentials).", "On Cloud use --auth cloud-token (email + API token), scoped-token, service-account or oauth2; on Data Center use --auth pat, basic or oauth1."),
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failure, named: a code, a cause and a fix. Never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {cause} {fix}")]
pub struct Diagnosis {
    pub code: Code,
    pub cause: String,
    pub fix: String,
    /// The HTTP status that led here, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Jira's own error body, when it sent one: kept, not flattened.
    #[serde(skip_serializing_if = "JiraErrors::is_empty")]
    pub jira: JiraErrors,
}

/// Jira's error body: `{"errorMessages": [...], "errors": {"field": "message"}}` (the
/// `ErrorCollection` of every REST API), and the other shapes some endpoints send, kept as
/// messages: `{"errorMessage": ...}` (Data Center plugins, an issue's error in bulk answers),
/// `{"message": ...}` alone or with a `code`/`status`/`statusCode` (Cloud's `OperationMessage`,
/// the API gateway's `{"code": 401, "message": ...}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ErrorBody")]
pub struct JiraErrors {
    #[serde(rename = "errorMessages")]
    pub messages: Vec<String>,
    /// Field errors, by field.
    pub errors: std::collections::BTreeMap<String, String>,
}

/// An error body as Jira sends it, in any of its shapes; see [`JiraErrors`].
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    #[serde(default, deserialize_with = "texts")]
    error_messages: Vec<String>,
    #[serde(default, deserialize_with = "text_map")]
    errors: std::collections::BTreeMap<String, String>,
    #[serde(default, deserialize_with = "crate::models::lenient::string")]
    error_message: Option<String>,
    #[serde(default, deserialize_with = "crate::models::lenient::string")]
    message: Option<String>,
    /// The members that go with a `message` in Jira's shapes (`code`, `status`, `statusCode`,
    /// `status-code`, `type`); any other member means the body is not one of them.
    #[serde(flatten)]
    others: std::collections::BTreeMap<String, serde::de::IgnoredAny>,
}

/// A message as Jira wrote it: a string, or any other JSON as its text.
fn text(v: serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

/// A list of messages; anything but a list reads as none.
fn texts<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Array(a) => a.into_iter().map(text).collect(),
        _ => Vec::new(),
    })
}

/// Messages by field; anything but an object reads as none.
fn text_map<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Object(o) => o.into_iter().map(|(k, v)| (k, text(v))).collect(),
        _ => Default::default(),
    })
}

impl From<ErrorBody> for JiraErrors {
    fn from(b: ErrorBody) -> JiraErrors {
        const BESIDE_MESSAGE: [&str; 5] = ["code", "status", "statusCode", "status-code", "type"];
        // A lone `message` is what many servers say; it is Jira's only in Jira's shapes.
        let only_jira = b
            .others
            .keys()
            .all(|k| BESIDE_MESSAGE.contains(&k.as_str()));
        let mut messages = b.error_messages;
        messages.extend(b.error_message.filter(|_| only_jira));
        messages.extend(b.message.filter(|_| only_jira));
        JiraErrors {
            messages,
            errors: b.errors,
        }
    }
}

impl JiraErrors {
    /// Reads Jira's error body; empty for anything else (HTML, plain text, other JSON).
    pub fn parse(body: &str) -> JiraErrors {
        serde_json::from_str(body).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.errors.is_empty()
    }
}

impl std::fmt::Display for JiraErrors {
    /// Messages, then `field: message` pairs, each ending with a period, separated by spaces.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fields = self.errors.iter().map(|(k, m)| format!("{k}: {m}"));
        let all: Vec<String> = self.messages.iter().cloned().chain(fields).collect();
        for (i, m) in all.iter().enumerate() {
            let m = m.trim();
            let sep = if i == 0 { "" } else { " " };
            let end = if m.ends_with(['.', '!', '?']) {
                ""
            } else {
                "."
            };
            write!(f, "{sep}{m}{end}")?;
        }
        Ok(())
    }
}

impl Diagnosis {
    pub fn new(code: Code) -> Diagnosis {
        let (cause, fix) = code.sentences();
        Diagnosis {
            code,
            cause: cause.to_owned(),
            fix: fix.to_owned(),
            status: None,
            jira: JiraErrors::default(),
        }
    }

    pub fn with_cause(mut self, cause: impl Into<String>) -> Diagnosis {
        self.cause = cause.into();
        self
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Diagnosis {
        self.fix = fix.into();
        self
    }

    fn with_status(mut self, status: StatusCode) -> Diagnosis {
        self.status = Some(status.as_u16());
        self
    }

    /// Whether trying again may help (never for authentication: retries trip CAPTCHA).
    pub fn retryable(&self) -> bool {
        matches!(
            self.code,
            Code::RateLimited | Code::ServerError | Code::Timeout | Code::ConnectFailed
        )
    }
}

/// Names a transport failure (no HTTP response).
pub fn from_transport(err: &reqwest::Error) -> Diagnosis {
    let chain = error_chain(err);
    let code = transport_code(
        &chain,
        err.url().map(url::Url::as_str),
        err.is_timeout(),
        err.is_connect(),
    );
    let d = Diagnosis::new(code);
    if code == Code::UnexpectedResponse {
        d.with_cause(format!(
            "The connection failed: {}.",
            chain.trim_end_matches('.')
        ))
    } else {
        d
    }
}

/// The code of a transport failure, from its message chain with the request's URL left out (a
/// port or an issue id such as 14073 must not read as a proxy's 407).
fn transport_code(chain: &str, url: Option<&str>, timeout: bool, connect: bool) -> Code {
    let mut lower = chain.to_ascii_lowercase();
    if let Some(url) = url {
        lower = lower.replace(&url.to_ascii_lowercase(), "");
    }
    if timeout || lower.contains("timed out") {
        Code::Timeout
    } else if lower.contains("proxy authorization required")
        || lower.contains("proxy authentication required")
    {
        Code::ProxyAuthRequired
    } else if lower.contains("dns error")
        || lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
        || lower.contains("no address associated")
    {
        Code::DnsFailed
    } else if lower.contains("notvalidforname")
        || lower.contains("not valid for name")
        || lower.contains("certificate is not valid for")
    {
        Code::TlsHostnameMismatch
    } else if lower.contains("unknownissuer")
        || lower.contains("unknown issuer")
        || lower.contains("invalid peer certificate")
        || lower.contains("certificate")
    {
        Code::TlsUntrusted
    } else if connect || lower.contains("connection refused") {
        Code::ConnectFailed
    } else {
        Code::UnexpectedResponse
    }
}

fn error_chain(err: &reqwest::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

/// What the caller knows about the request that failed.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext {
    pub auth: AuthKind,
    /// The request went to the Cloud API gateway rather than the site.
    pub via_gateway: bool,
}

/// Names an HTTP answer that is not the success the caller wanted.
pub fn from_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    ctx: RequestContext,
) -> Diagnosis {
    let lower = body.to_ascii_lowercase();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let html = header("content-type").contains("text/html")
        || lower.trim_start().starts_with("<!doctype html")
        || lower.trim_start().starts_with("<html");
    let seraph = header("x-seraph-loginreason");
    let denied = header("x-authentication-denied-reason");
    // Where a redirect points: single sign-on sends API clients to its login host.
    let redirect = (300..400)
        .contains(&status.as_u16())
        .then(|| header("location"))
        .filter(|l| !l.is_empty())
        .and_then(|l| url::Url::parse(&l).ok())
        .filter(|u| {
            let p = u.path().to_ascii_lowercase();
            u.host_str().is_some()
                && (["login", "sso", "saml", "auth", "signin"]
                    .iter()
                    .any(|w| p.contains(w))
                    || u.query()
                        .is_some_and(|q| q.to_ascii_lowercase().contains("saml")))
        });
    if let Some(to) = &redirect {
        let host = to.host_str().unwrap_or_default();
        return Diagnosis::new(Code::LoginPage)
            .with_status(status)
            .with_cause(format!(
                "The server redirected the API request ({status}) to a sign-in page at {host}: a single sign-on or proxy login stands in front of Jira."
            ));
    }
    let ip_blocked = [
        "ip address",
        "allowlist",
        "whitelist",
        "ip allow",
        "not from an allowed",
    ]
    .iter()
    .any(|w| lower.contains(w));
    let code = match status.as_u16() {
        401 | 403
            if denied.to_ascii_uppercase().contains("CAPTCHA")
                || lower.contains("captcha_challenge") =>
        {
            Code::CaptchaRequired
        }
        // Data Center's CAPTCHA lock: AUTHENTICATION_DENIED on a 403, with or without the reason.
        403 if seraph.eq_ignore_ascii_case("AUTHENTICATION_DENIED") => Code::CaptchaRequired,
        403 if ip_blocked => Code::ApiAccessBlocked,
        401 if lower.contains("scope does not match") => Code::MissingScope,
        401 if lower.contains("expired") => Code::TokenExpired,
        401 if lower.contains("revoked") => Code::TokenRevoked,
        401 | 403 if lower.contains("inactive") || lower.contains("deactivated") => {
            Code::AccountInactive
        }
        401 if html && !seraph.is_empty() => Code::BadCredentials,
        401 => Code::BadCredentials,
        403 if html && looks_like_login(&lower) => Code::LoginPage,
        403 => Code::ApiAccessBlocked,
        407 => Code::ProxyAuthRequired,
        429 => Code::RateLimited,
        500..=599 => Code::ServerError,
        404 if html && lower.contains("jira") => Code::WrongContextPath,
        404 => Code::NotJira,
        200..=399 if html && looks_like_login(&lower) => Code::LoginPage,
        // Jira's own answer of the wrong shape: something Jira-like answered, not "not Jira".
        200..=299 if !html && looks_like_jira_json(body) => Code::UnexpectedResponse,
        200..=299 => Code::NotJira,
        _ => Code::UnexpectedResponse,
    };
    let mut d = Diagnosis::new(code).with_status(status);
    if !html {
        d.jira = JiraErrors::parse(body);
    }
    if let Some(fix) = fix_for_auth(code, ctx.auth) {
        d = d.with_fix(fix);
    }
    if code == Code::ApiAccessBlocked && !ctx.via_gateway && lower.contains("basic auth") {
        d = d.with_cause("Jira refused Basic authentication for the API (403): basic auth is disabled on this site.");
    }
    with_jira_words(d, status)
}

/// Whether a status is Jira's refusal of the request itself (a 4xx other than the
/// authentication, permission, proxy and rate refusals): with Jira's error body, its diagnosis
/// follows from the status and that body alone ([`of_refusal`]).
pub fn is_request_refusal(status: u16) -> bool {
    (400..500).contains(&status) && !matches!(status, 401 | 403 | 407 | 429)
}

/// The diagnosis of Jira's refusal of a request ([`is_request_refusal`]) from its status and
/// error body: what [`from_response`] says of the same answer.
pub fn of_refusal(status: StatusCode, jira: JiraErrors) -> Diagnosis {
    let code = match status.as_u16() {
        404 => Code::NotJira,
        _ => Code::UnexpectedResponse,
    };
    let mut d = Diagnosis::new(code).with_status(status);
    d.jira = jira;
    with_jira_words(d, status)
}

/// The cause completed with Jira's own words, when it sent an error body.
fn with_jira_words(mut d: Diagnosis, status: StatusCode) -> Diagnosis {
    let code = d.code;
    if code == Code::UnexpectedResponse {
        d = if d.jira.is_empty() {
            d.with_cause(format!(
                "Jira answered HTTP {status}, which jiralink does not expect here."
            ))
        } else {
            let said = d.jira.to_string();
            d.with_cause(format!("Jira refused the request (HTTP {status}): {said}"))
                .with_fix("Read Jira's message above; run again with -v to see the request it refused, and report it if the message does not explain it.")
        };
    } else if status.is_client_error() && status != StatusCode::UNAUTHORIZED && !d.jira.is_empty() {
        // Jira's own words after the diagnosis's (a 401 body may echo what was sent: left out).
        d.cause = format!("{} Jira said: {}", d.cause, d.jira);
    }
    d
}

/// The fix that fits the auth kind that was refused, and so the deployment (Cloud kinds and Data
/// Center kinds never mix): no API-token advice for a Data Center PAT, no PAT advice on Cloud.
fn fix_for_auth(code: Code, auth: AuthKind) -> Option<&'static str> {
    match (code, auth) {
        (Code::BadCredentials, AuthKind::Basic) => Some("Check the username and password; after three wrong passwords Data Center asks for a CAPTCHA, so prefer a personal access token (--auth pat)."),
        (Code::BadCredentials, AuthKind::Pat) => Some("The personal access token is wrong, expired or revoked: create a new one in Jira (your profile, Personal Access Tokens) and run `jiralink credential rotate NAME`."),
        (Code::BadCredentials, AuthKind::Oauth1) => Some("Jira refused the OAuth 1.0a access token: check the application link (consumer key and public key) in Jira's administration, then authorise jiralink again."),
        (Code::BadCredentials, AuthKind::ServiceAccount) => Some("Create a new credential for the service account (admin.atlassian.com, Directory, Service accounts) and run `jiralink credential rotate NAME`."),
        (Code::BadCredentials, AuthKind::Oauth2) => Some("The OAuth 2.0 grant was refused: authorise the app again for a new refresh token and run `jiralink credential rotate NAME`."),
        (Code::CaptchaRequired, AuthKind::CloudToken | AuthKind::ScopedToken) => Some("Sign in to the site once in a browser and answer the CAPTCHA, then test again; give the API an API token (id.atlassian.com, Security, API tokens), never the account's password."),
        (Code::MissingScope, AuthKind::Oauth2) => Some("Authorise the app again with the scopes jiralink needs (read:jira-work and read:jira-user to read; write:jira-work to write) and run `jiralink credential rotate NAME`."),
        _ => None,
    }
}

/// A JSON body with a field only Jira's REST API names (serverInfo, myself, error bodies).
fn looks_like_jira_json(body: &str) -> bool {
    let Ok(serde_json::Value::Object(o)) = serde_json::from_str::<serde_json::Value>(body) else {
        return false;
    };
    [
        "baseUrl",
        "deploymentType",
        "versionNumbers",
        "accountId",
        "errorMessages",
        "serverTitle",
    ]
    .iter()
    .any(|k| o.contains_key(*k))
}

fn looks_like_login(lower_html: &str) -> bool {
    [
        "login",
        "log in",
        "sign in",
        "password",
        "saml",
        "sso",
        "okta",
        "authenticate",
    ]
    .iter()
    .any(|w| lower_html.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transport_failure_is_named_by_its_message_not_its_url() {
        let url = "http://127.0.0.1:40735/rest/api/3/issue/14073/certificate";
        let reset = format!(
            "error sending request for url ({url}): connection closed before message completed"
        );
        assert_eq!(
            transport_code(&reset, Some(url), false, false),
            Code::UnexpectedResponse
        );
        let tunnel = "error sending request for url (https://jira.example/): client error (Connect): proxy authorization required";
        assert_eq!(
            transport_code(tunnel, Some("https://jira.example/"), false, true),
            Code::ProxyAuthRequired
        );
        let refused = format!("error sending request for url ({url}): tcp connect error: Connection refused (os error 111)");
        assert_eq!(
            transport_code(&refused, Some(url), false, true),
            Code::ConnectFailed
        );
        let untrusted = "error sending request for url (https://jira.example/): invalid peer certificate: UnknownIssuer";
        assert_eq!(
            transport_code(untrusted, Some("https://jira.example/"), false, true),
            Code::TlsUntrusted
        );
    }

    #[test]
    fn sso_redirects_captcha_locks_and_ip_allowlists_are_named() {
        let ctx = RequestContext {
            auth: AuthKind::Basic,
            via_gateway: false,
        };
        let mut h = HeaderMap::new();
        h.insert(
            "location",
            "https://sso.corp.example/saml/login?SAMLRequest=x"
                .parse()
                .expect("header"),
        );
        let d = from_response(StatusCode::FOUND, &h, "", ctx);
        assert_eq!(d.code, Code::LoginPage);
        assert!(d.cause.contains("sso.corp.example"), "{}", d.cause);

        let mut h = HeaderMap::new();
        h.insert(
            "x-seraph-loginreason",
            "AUTHENTICATION_DENIED".parse().expect("header"),
        );
        let d = from_response(StatusCode::FORBIDDEN, &h, "", ctx);
        assert_eq!(d.code, Code::CaptchaRequired);

        let mut h = HeaderMap::new();
        h.insert("content-type", "text/html".parse().expect("header"));
        let page = "<html><body>Access denied: your IP address is not on the allowlist. Forgot your password?</body></html>";
        let d = from_response(StatusCode::FORBIDDEN, &h, page, ctx);
        assert_eq!(d.code, Code::ApiAccessBlocked);
    }

    #[test]
    fn jira_error_bodies_are_kept_and_shown() {
        let ctx = RequestContext {
            auth: AuthKind::Basic,
            via_gateway: false,
        };
        let body = r#"{"errorMessages":["The value 'HELP' does not exist for the field 'project'."],"errors":{"jql":"bad clause"}}"#;
        let d = from_response(StatusCode::BAD_REQUEST, &HeaderMap::new(), body, ctx);
        assert_eq!(d.code, Code::UnexpectedResponse);
        assert_eq!(
            d.jira.messages,
            vec!["The value 'HELP' does not exist for the field 'project'."]
        );
        assert_eq!(
            d.jira.errors.get("jql").map(String::as_str),
            Some("bad clause")
        );
        assert_eq!(
            d.cause,
            "Jira refused the request (HTTP 400 Bad Request): The value 'HELP' does not exist for the field 'project'. jql: bad clause."
        );
        let json = serde_json::to_value(&d).expect("json");
        assert_eq!(json["jira"]["errors"]["jql"], "bad clause");
        // A body that is not Jira's error JSON keeps the generic sentence.
        let d = from_response(StatusCode::CONFLICT, &HeaderMap::new(), "nope", ctx);
        assert!(d.jira.is_empty());
        assert!(d.cause.contains("does not expect"), "{}", d.cause);
        assert!(serde_json::to_value(&d)
            .expect("json")
            .get("jira")
            .is_none());
    }

    fn errors_of(body: &str) -> (Vec<String>, Vec<(String, String)>) {
        let j = JiraErrors::parse(body);
        (j.messages, j.errors.into_iter().collect())
    }

    #[test]
    fn the_error_collection_reads_messages_and_field_errors() {
        let (m, e) = errors_of(
            r#"{"errorMessages":["Field 'x' does not exist."],"errors":{"summary":"You must specify a summary of the issue.","n":7},"status":400}"#,
        );
        assert_eq!(m, ["Field 'x' does not exist."]);
        assert_eq!(
            e,
            [
                ("n".to_owned(), "7".to_owned()),
                (
                    "summary".to_owned(),
                    "You must specify a summary of the issue.".to_owned()
                )
            ]
        );
        // Members of another type read as none, not as a failure.
        assert_eq!(
            errors_of(r#"{"errorMessages":"oops","errors":[1]}"#),
            (vec![], vec![])
        );
    }

    #[test]
    fn a_lone_error_message_is_read_as_data_center_plugins_send_it() {
        assert_eq!(
            errors_of(r#"{"errorMessage":"Sprint with id 99 does not exist."}"#).0,
            ["Sprint with id 99 does not exist."]
        );
    }

    #[test]
    fn an_operation_message_is_read() {
        assert_eq!(
            errors_of(r#"{"message":"Some of the issues in the issueIdsOrKeys are not valid","statusCode":400}"#).0,
            ["Some of the issues in the issueIdsOrKeys are not valid"]
        );
    }

    #[test]
    fn the_gateways_code_and_message_are_read() {
        assert_eq!(
            errors_of(r#"{"code":401,"message":"Unauthorized; scope does not match"}"#).0,
            ["Unauthorized; scope does not match"]
        );
    }

    #[test]
    fn a_message_among_other_members_is_another_servers_not_jiras() {
        // Spring Boot's error page, a JSON health check: not Jira's words.
        let spring = r#"{"timestamp":"2026-11-29T00:00:00Z","status":404,"error":"Not Found","message":"No message available","path":"/rest/api/2/serverInfo"}"#;
        assert!(JiraErrors::parse(spring).is_empty());
        assert!(JiraErrors::parse(r#"{"status":"ok","service":"grafana"}"#).is_empty());
        assert!(JiraErrors::parse("[]").is_empty() && JiraErrors::parse("<html>").is_empty());
        // Jira's own collection beside them is still read.
        assert_eq!(
            errors_of(r#"{"errorMessages":["x"],"message":"y","path":"/z"}"#).0,
            ["x"]
        );
    }

    /// Jira's refusal of a request is diagnosed from its status and error body alone: the
    /// same diagnosis whatever the headers and the auth kind, which `Error::Jira` relies on.
    #[test]
    fn a_refusal_with_jiras_body_is_diagnosed_from_the_body_alone() {
        let body = r#"{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}"#;
        let mut headers = HeaderMap::new();
        headers.insert("x-seraph-loginreason", "OK".parse().expect("header"));
        for status in [400u16, 404, 405, 409, 410, 413, 422] {
            let status = StatusCode::from_u16(status).expect("status");
            assert!(is_request_refusal(status.as_u16()));
            for auth in [AuthKind::Basic, AuthKind::Pat, AuthKind::Oauth2] {
                let ctx = RequestContext {
                    auth,
                    via_gateway: auth == AuthKind::Oauth2,
                };
                let d = from_response(status, &headers, body, ctx);
                assert_eq!(d, of_refusal(status, JiraErrors::parse(body)), "{status}");
            }
        }
        for status in [401u16, 403, 407, 429, 500] {
            assert!(!is_request_refusal(status), "{status}");
        }
    }

    /// Fix texts fit the deployment of the auth kind that was refused.
    #[test]
    fn fixes_fit_the_deployment_and_auth_kind() {
        let refused = |auth: AuthKind, status: StatusCode, headers: &HeaderMap, body: &str| {
            from_response(
                status,
                headers,
                body,
                RequestContext {
                    auth,
                    via_gateway: auth.uses_gateway(),
                },
            )
        };
        let none = HeaderMap::new();
        let cloud_token = "id.atlassian.com";
        // A refused Data Center PAT is not told about Cloud API tokens.
        let d = refused(AuthKind::Pat, StatusCode::UNAUTHORIZED, &none, "");
        assert_eq!(d.code, Code::BadCredentials);
        assert!(!d.fix.contains(cloud_token), "{}", d.fix);
        assert!(d.fix.contains("Personal Access Tokens"), "{}", d.fix);
        let d = refused(AuthKind::Oauth1, StatusCode::UNAUTHORIZED, &none, "");
        assert!(
            !d.fix.contains(cloud_token) && d.fix.contains("application link"),
            "{}",
            d.fix
        );
        // Basic (Data Center): the CAPTCHA advice stays; Cloud's email + token: the API token.
        let d = refused(AuthKind::Basic, StatusCode::UNAUTHORIZED, &none, "");
        assert!(
            d.fix.contains("CAPTCHA") && !d.fix.contains(cloud_token),
            "{}",
            d.fix
        );
        let d = refused(AuthKind::CloudToken, StatusCode::UNAUTHORIZED, &none, "");
        assert!(
            d.fix.contains(cloud_token) && !d.fix.contains("personal access"),
            "{}",
            d.fix
        );
        let d = refused(
            AuthKind::ServiceAccount,
            StatusCode::UNAUTHORIZED,
            &none,
            "",
        );
        assert!(d.fix.contains("Service accounts"), "{}", d.fix);
        let d = refused(AuthKind::Oauth2, StatusCode::UNAUTHORIZED, &none, "");
        assert!(d.fix.contains("authorise the app again"), "{}", d.fix);
        // The CAPTCHA lock: a PAT is Data Center's advice, never Cloud's.
        let mut captcha = HeaderMap::new();
        captcha.insert(
            "x-authentication-denied-reason",
            "CAPTCHA_CHALLENGE; login-url=https://x.example/login"
                .parse()
                .expect("header"),
        );
        let d = refused(AuthKind::CloudToken, StatusCode::FORBIDDEN, &captcha, "");
        assert_eq!(d.code, Code::CaptchaRequired);
        assert!(!d.fix.contains("personal access token"), "{}", d.fix);
        assert!(d.fix.contains(cloud_token), "{}", d.fix);
        let d = refused(AuthKind::Basic, StatusCode::FORBIDDEN, &captcha, "");
        assert!(d.fix.contains("personal access token"), "{}", d.fix);
        // A missing scope of an OAuth 2.0 app is fixed by authorising again, not a new token.
        let body = "Unauthorized; scope does not match";
        let d = refused(AuthKind::Oauth2, StatusCode::UNAUTHORIZED, &none, body);
        assert_eq!(d.code, Code::MissingScope);
        assert!(d.fix.contains("Authorise the app again"), "{}", d.fix);
        let d = refused(AuthKind::ScopedToken, StatusCode::UNAUTHORIZED, &none, body);
        assert!(d.fix.starts_with("Create a token"), "{}", d.fix);
    }

    #[test]
    fn every_code_has_a_distinct_name_and_two_sentences() {
        let mut names = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(names.insert(code.as_str()));
            let d = Diagnosis::new(code);
            assert!(d.cause.ends_with('.') && d.fix.ends_with('.'), "{code}");
            assert_eq!(
                serde_json::to_value(code).expect("json"),
                serde_json::json!(code.as_str())
            );
        }
        assert_eq!(names.len(), 22);
    }
}
