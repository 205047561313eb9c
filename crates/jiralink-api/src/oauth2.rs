//! OAuth 2.0 (3LO) for Cloud: the refresh-token grant (Atlassian rotates refresh tokens, so the new
//! one must be kept) and the accessible-resources lookup that names the site's cloudId.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use crate::client::{Credential, Request, Sender};
use crate::diagnosis::{self, Code, Diagnosis, RequestContext};
use crate::{AuthKind, Error};

/// Atlassian's token endpoint.
pub const ATLASSIAN_TOKEN_URL: &str = "https://auth.atlassian.com/oauth/token";

/// A fresh access token and the refresh token that replaces the one used.
pub struct Tokens {
    pub access: SecretString,
    pub refresh: SecretString,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct Resource {
    id: String,
    url: String,
}

fn context() -> RequestContext {
    RequestContext {
        auth: AuthKind::Oauth2,
        via_gateway: true,
    }
}

pub async fn refresh(
    http: &Sender,
    token_url: &str,
    client_id: &str,
    client_secret: &SecretString,
    refresh_token: &SecretString,
) -> Result<Tokens, Error> {
    let body = serde_json::json!({
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": client_secret.expose_secret(),
        "refresh_token": refresh_token.expose_secret(),
    });
    grant(http, token_url, &body, Some(refresh_token)).await
}

/// The authorization-code grant of the 3LO consent flow: the code the user's consent sent to
/// `redirect_uri`, exchanged (once) for an access token and, with the `offline_access` scope, a
/// refresh token.
pub async fn authorization_code(
    http: &Sender,
    token_url: &str,
    client_id: &str,
    client_secret: &SecretString,
    code: &SecretString,
    redirect_uri: &str,
) -> Result<Tokens, Error> {
    let body = serde_json::json!({
        "grant_type": "authorization_code",
        "client_id": client_id,
        "client_secret": client_secret.expose_secret(),
        "code": code.expose_secret(),
        "redirect_uri": redirect_uri,
    });
    grant(http, token_url, &body, None).await
}

/// One token request and its refusals as diagnoses.
async fn grant(
    http: &Sender,
    token_url: &str,
    body: &serde_json::Value,
    refresh_token: Option<&SecretString>,
) -> Result<Tokens, Error> {
    let request = Request::token(
        reqwest::Method::POST,
        token_url,
        Some(body),
        Credential::None,
        true,
    )?;
    let (status, headers, text) = http.exchange(&request).await?;
    if !status.is_success() {
        let lower = text.to_ascii_lowercase();
        let d = if lower.contains("invalid_grant") {
            Diagnosis::new(Code::TokenRevoked)
                .with_cause("The OAuth refresh token was refused (invalid_grant): it was used already (Atlassian rotates refresh tokens), revoked, or expired.")
                .with_fix("Authorise the app again to get a new refresh token, and `jiralink credential rotate NAME` with it.")
        } else if lower.contains("access_denied")
            || lower.contains("invalid_client")
            || status == 401
        {
            Diagnosis::new(Code::BadCredentials)
                .with_cause("The OAuth client id or client secret was refused.")
                .with_fix(
                    "Check the app's client id and secret in the Atlassian developer console.",
                )
        } else {
            diagnosis::from_response(status, &headers, &text, context())
        };
        return Err(d.into());
    }
    let answer: TokenAnswer = serde_json::from_str(&text).map_err(|e| Error::Decode {
        path: token_url.to_owned(),
        message: e.to_string(),
    })?;
    Ok(Tokens {
        access: SecretString::from(answer.access_token),
        // Without rotation the old refresh token stays valid.
        refresh: match (answer.refresh_token, refresh_token) {
            (Some(r), _) => SecretString::from(r),
            (None, Some(old)) => old.clone(),
            (None, None) => {
                return Err(Diagnosis::new(Code::MissingScope)
                    .with_cause("The token endpoint gave no refresh token: the grant lacks the offline_access scope.")
                    .with_fix("Ask for the offline_access scope (and enable it for the app) so that jiralink can keep working without you.")
                    .into())
            }
        },
    })
}

/// The cloudId of `site` among the sites the access token may reach.
pub async fn cloud_id_for(
    http: &Sender,
    gateway: &str,
    access: &SecretString,
    site: &Url,
) -> Result<String, Error> {
    let url = format!("{gateway}/oauth/token/accessible-resources");
    // A read of the gateway with the fresh access token, as any read of the API.
    let bearer = crate::Auth::Bearer {
        token: access.clone(),
    };
    let request = Request::read(&url, Credential::Auth(&bearer))?;
    let (status, headers, text) = http.exchange(&request).await?;
    if !status.is_success() {
        return Err(diagnosis::from_response(status, &headers, &text, context()).into());
    }
    let resources: Vec<Resource> = serde_json::from_str(&text).map_err(|e| Error::Decode {
        path: url.clone(),
        message: e.to_string(),
    })?;
    let want = crate::site::base_str(site);
    resources
        .iter()
        .find(|r| r.url.trim_end_matches('/').eq_ignore_ascii_case(&want))
        .map(|r| r.id.clone())
        .ok_or_else(|| {
            let names: Vec<&str> = resources.iter().map(|r| r.url.as_str()).collect();
            Diagnosis::new(Code::ApiAccessBlocked)
                .with_cause(format!("The OAuth app was not authorised for {want}; it may reach: {}.", if names.is_empty() { "no site".to_owned() } else { names.join(", ") }))
                .with_fix("Authorise the app for this site (the consent screen's site picker), then rotate the credential's refresh token.")
                .into()
        })
}
