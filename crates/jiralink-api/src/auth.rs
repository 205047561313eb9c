//! Auth kinds and the secrets each carries, and how each one signs a request.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// How a credential authenticates (`--auth`; PRODUCT.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthKind {
    /// Cloud: email + classic API token, HTTP Basic, on the site URL.
    CloudToken,
    /// Cloud: email + scoped API token, HTTP Basic, through the API gateway.
    ScopedToken,
    /// Cloud: service account OAuth token, Bearer, through the API gateway.
    ServiceAccount,
    /// Data Center: personal access token, Bearer.
    Pat,
    /// Server / Data Center: username + password, HTTP Basic.
    Basic,
    /// Data Center: OAuth 1.0a RSA-SHA1 (consumer key, private key, access token).
    Oauth1,
    /// Cloud: OAuth 2.0 (3LO) with a refresh token.
    Oauth2,
}

impl AuthKind {
    pub const ALL: [AuthKind; 7] = [
        AuthKind::CloudToken,
        AuthKind::ScopedToken,
        AuthKind::ServiceAccount,
        AuthKind::Pat,
        AuthKind::Basic,
        AuthKind::Oauth1,
        AuthKind::Oauth2,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::CloudToken => "cloud-token",
            AuthKind::ScopedToken => "scoped-token",
            AuthKind::ServiceAccount => "service-account",
            AuthKind::Pat => "pat",
            AuthKind::Basic => "basic",
            AuthKind::Oauth1 => "oauth1",
            AuthKind::Oauth2 => "oauth2",
        }
    }

    /// Requests go through `{gateway}/ex/jira/{cloudId}` rather than the site.
    pub fn uses_gateway(self) -> bool {
        matches!(
            self,
            AuthKind::ScopedToken | AuthKind::ServiceAccount | AuthKind::Oauth2
        )
    }

    /// Cloud-only kinds speak REST v3; the others v2 (which Data Center has).
    pub fn api_version(self) -> u8 {
        match self {
            AuthKind::CloudToken
            | AuthKind::ScopedToken
            | AuthKind::ServiceAccount
            | AuthKind::Oauth2 => 3,
            AuthKind::Pat | AuthKind::Basic | AuthKind::Oauth1 => 2,
        }
    }

    /// Whether the identity is an email (Cloud) or a username (Data Center), if the kind needs one.
    pub fn identity(self) -> Option<&'static str> {
        match self {
            AuthKind::CloudToken | AuthKind::ScopedToken => Some("email"),
            AuthKind::Basic => Some("username"),
            _ => None,
        }
    }
}

impl std::fmt::Display for AuthKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AuthKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuthKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = AuthKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown auth kind '{s}': use one of {}", names.join(", "))
            })
    }
}

/// The secret material of a credential. `Debug` never shows a secret.
#[derive(Clone)]
pub enum Auth {
    /// HTTP Basic: email or username, and API token or password.
    Basic { user: String, secret: SecretString },
    /// `Authorization: Bearer`: a PAT, a service-account token or an OAuth 2 access token.
    Bearer { token: SecretString },
    /// OAuth 1.0a RSA-SHA1.
    OAuth1 {
        consumer_key: String,
        private_key_pem: SecretString,
        token: SecretString,
    },
    /// OAuth 2.0 (3LO): exchanged for a Bearer access token when the client is built.
    OAuth2 {
        client_id: String,
        client_secret: SecretString,
        refresh_token: SecretString,
        token_url: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Basic { user, .. } => write!(f, "Basic({user}, [redacted])"),
            Auth::Bearer { .. } => f.write_str("Bearer([redacted])"),
            Auth::OAuth1 { consumer_key, .. } => write!(f, "OAuth1({consumer_key}, [redacted])"),
            Auth::OAuth2 { client_id, .. } => write!(f, "OAuth2({client_id}, [redacted])"),
        }
    }
}

impl Auth {
    /// Adds the credential to a request for `url` (with its query) at time `now_secs`.
    pub(crate) fn apply(
        &self,
        req: reqwest::RequestBuilder,
        method: &str,
        url: &url::Url,
        now_secs: i64,
    ) -> Result<reqwest::RequestBuilder, String> {
        Ok(match self {
            Auth::Basic { user, secret } => req.basic_auth(user, Some(secret.expose_secret())),
            Auth::Bearer { token } => req.bearer_auth(token.expose_secret()),
            Auth::OAuth2 { .. } => {
                return Err(
                    "an OAuth 2 credential must be exchanged for an access token first".into(),
                )
            }
            Auth::OAuth1 {
                consumer_key,
                private_key_pem,
                token,
            } => {
                let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
                let mut bare = url.clone();
                bare.set_query(None);
                let nonce = format!("{:032x}", rand::random::<u128>());
                let header = crate::oauth1::authorization_header(
                    method,
                    bare.as_str(),
                    &query,
                    consumer_key,
                    private_key_pem.expose_secret(),
                    Some(token.expose_secret()),
                    &[],
                    now_secs,
                    &nonce,
                )?;
                req.header(reqwest::header::AUTHORIZATION, header)
            }
        })
    }
}
