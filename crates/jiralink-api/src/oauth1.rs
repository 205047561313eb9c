//! OAuth 1.0a RSA-SHA1 request signing (RFC 5849), as Jira Data Center's application links expect.

use std::collections::BTreeMap;

use base64::Engine;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use sha1::Sha1;

/// RFC 3986 unreserved characters stay; everything else is percent-encoded (RFC 5849 3.6).
const OAUTH_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, OAUTH_ENCODE).to_string()
}

/// The parameters of an `Authorization: OAuth k="v", ...` header, decoded.
pub fn parse_header(header: &str) -> BTreeMap<String, String> {
    let body = header.trim().strip_prefix("OAuth").unwrap_or(header).trim();
    body.split(',')
        .filter_map(|part| {
            let (k, v) = part.trim().split_once('=')?;
            let v = v.trim().trim_matches('"');
            Some((
                k.trim().to_owned(),
                percent_decode_str(v).decode_utf8_lossy().into_owned(),
            ))
        })
        .collect()
}

/// RFC 5849 3.4.1: `METHOD&base-uri&normalized-parameters`.
pub fn base_string(method: &str, url: &str, params: &[(String, String)]) -> String {
    let base_uri = match url::Url::parse(url) {
        Ok(u) => {
            let scheme = u.scheme().to_ascii_lowercase();
            let host = u.host_str().unwrap_or("").to_ascii_lowercase();
            let port = match (u.port(), scheme.as_str()) {
                (Some(80), "http") | (Some(443), "https") | (None, _) => String::new(),
                (Some(p), _) => format!(":{p}"),
            };
            format!("{scheme}://{host}{port}{}", u.path())
        }
        Err(_) => url.to_owned(),
    };
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "oauth_signature" && k != "realm")
        .map(|(k, v)| (encode(k), encode(v)))
        .collect();
    pairs.sort();
    let normalized: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        encode(&base_uri),
        encode(&normalized.join("&"))
    )
}

/// The RSA private key of an application link: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1
/// (`BEGIN RSA PRIVATE KEY`), surrounding whitespace and CRLF line ends allowed. The error names
/// the formats and how to convert, never the key.
pub fn private_key(pem: &str) -> Result<RsaPrivateKey, String> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    let text = pem.trim().replace("\r\n", "\n");
    RsaPrivateKey::from_pkcs8_pem(&text)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(&text))
        .map_err(|_| {
            let found = if text.contains("BEGIN ENCRYPTED PRIVATE KEY") {
                "an encrypted key (remove its passphrase: `openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-plain.pem`)"
            } else if text.contains("BEGIN OPENSSH PRIVATE KEY") {
                "an OpenSSH key (convert it: `ssh-keygen -p -m PKCS8 -f KEY`)"
            } else if text.contains("PUBLIC KEY") {
                "a public key (give the private one; Jira's application link holds the public one)"
            } else {
                "not a PEM RSA private key"
            };
            format!("the OAuth private key is {found}: use an RSA key in PKCS#8 (BEGIN PRIVATE KEY) or PKCS#1 (BEGIN RSA PRIVATE KEY) PEM, for example from `openssl genrsa -out key.pem 2048`")
        })
}

/// A new 2048-bit RSA key pair for a Jira application link: the private key as PKCS#8 PEM (for
/// `--private-key-file`) and the public key as PEM (what Jira's application link asks for).
pub fn generate_key() -> Result<(secrecy::SecretString, String), String> {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let mut rng = rand::thread_rng();
    let key =
        RsaPrivateKey::new(&mut rng, 2048).map_err(|e| format!("cannot make an RSA key: {e}"))?;
    let private = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| format!("cannot encode the private key: {e}"))?;
    let public = key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| format!("cannot encode the public key: {e}"))?;
    Ok((secrecy::SecretString::from(private.to_string()), public))
}

/// Signs a request as a client does; returns the `Authorization` header value.
#[allow(clippy::too_many_arguments)]
pub fn authorization_header(
    method: &str,
    url: &str,
    query: &[(String, String)],
    consumer_key: &str,
    private_key_pem: &str,
    token: Option<&str>,
    extra: &[(&str, &str)],
    timestamp: i64,
    nonce: &str,
) -> Result<String, String> {
    let key = private_key(private_key_pem)?;
    let mut oauth: Vec<(String, String)> = vec![
        ("oauth_consumer_key".into(), consumer_key.into()),
        ("oauth_signature_method".into(), "RSA-SHA1".into()),
        ("oauth_timestamp".into(), timestamp.to_string()),
        ("oauth_nonce".into(), nonce.into()),
        ("oauth_version".into(), "1.0".into()),
    ];
    if let Some(t) = token {
        oauth.push(("oauth_token".into(), t.into()));
    }
    oauth.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let mut all = oauth.clone();
    all.extend(query.iter().cloned());
    let base = base_string(method, url, &all);
    let signature = SigningKey::<Sha1>::new(key).sign(base.as_bytes());
    oauth.push((
        "oauth_signature".into(),
        base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
    ));
    let parts: Vec<String> = oauth
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", encode(v)))
        .collect();
    Ok(format!("OAuth {}", parts.join(", ")))
}

/// The OAuth 1.0a dance against a Data Center site: a request token, the user's approval in a
/// browser (which yields a verifier), and the access token.
pub struct Dance {
    http: crate::client::Sender,
    site: String,
    consumer_key: String,
    private_key_pem: secrecy::SecretString,
}

impl Dance {
    pub fn new(
        http: crate::client::Sender,
        site: &url::Url,
        consumer_key: &str,
        private_key_pem: secrecy::SecretString,
    ) -> Dance {
        Dance {
            http,
            site: crate::site::base_str(site),
            consumer_key: consumer_key.to_owned(),
            private_key_pem,
        }
    }

    async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Result<BTreeMap<String, String>, crate::Error> {
        use crate::client::{Credential, Request};
        use secrecy::ExposeSecret;
        let url = format!("{}{path}", self.site);
        // Signed anew at each attempt: a retried token request carries a fresh nonce.
        let sign = |method: &reqwest::Method, target: &url::Url, now: i64| {
            let nonce = format!("{:032x}", rand::random::<u128>());
            authorization_header(
                method.as_str(),
                target.as_str(),
                &[],
                &self.consumer_key,
                self.private_key_pem.expose_secret(),
                token,
                extra,
                now,
                &nonce,
            )
        };
        let request = Request::token(
            reqwest::Method::POST,
            &url,
            None,
            Credential::Signed(&sign),
            false,
        )?;
        let (status, headers, body) = self.http.exchange(&request).await?;
        if !status.is_success() {
            let ctx = crate::diagnosis::RequestContext {
                auth: crate::AuthKind::Oauth1,
                via_gateway: false,
            };
            let d = crate::diagnosis::from_response(status, &headers, &body, ctx);
            return Err(d
                .with_cause(format!(
                    "The OAuth servlet refused the request ({}).",
                    body.trim()
                ))
                .into());
        }
        Ok(url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect())
    }

    /// Step 1: a request token for an out-of-band approval.
    pub async fn request_token(&self) -> Result<String, crate::Error> {
        let form = self
            .post(
                "/plugins/servlet/oauth/request-token",
                None,
                &[("oauth_callback", "oob")],
            )
            .await?;
        form.get("oauth_token")
            .cloned()
            .ok_or_else(|| crate::Error::Decode {
                path: "request-token".into(),
                message: "no oauth_token".into(),
            })
    }

    /// Step 2: where the user approves the request token.
    pub fn authorize_url(&self, request_token: &str) -> String {
        format!(
            "{}/plugins/servlet/oauth/authorize?oauth_token={}",
            self.site,
            encode(request_token)
        )
    }

    /// Step 3: the approved request token and its verifier traded for an access token.
    pub async fn access_token(
        &self,
        request_token: &str,
        verifier: &str,
    ) -> Result<secrecy::SecretString, crate::Error> {
        let form = self
            .post(
                "/plugins/servlet/oauth/access-token",
                Some(request_token),
                &[("oauth_verifier", verifier)],
            )
            .await?;
        form.get("oauth_token")
            .cloned()
            .map(secrecy::SecretString::from)
            .ok_or_else(|| crate::Error::Decode {
                path: "access-token".into(),
                message: "no oauth_token".into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs1_and_pkcs8_keys_with_stray_whitespace_are_accepted() {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::EncodePrivateKey;
        // A small key keeps the test fast; the format is what matters here.
        let mut rng = rand::thread_rng();
        let key = RsaPrivateKey::new(&mut rng, 512).expect("a key");
        let pkcs8 = key
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::CRLF)
            .expect("pkcs8")
            .to_string();
        let pkcs1 = key
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .expect("pkcs1")
            .to_string();
        for pem in [format!("{pkcs8}\n\n"), format!("  {pkcs1}  \n")] {
            assert_eq!(private_key(&pem).expect("accepted"), key);
        }
        let e = private_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
            .expect_err("refused");
        assert!(e.contains("public key") && e.contains("PKCS#8"), "{e}");
    }

    #[test]
    fn base_string_matches_rfc_5849_example() {
        let params: Vec<(String, String)> = [
            ("b5", "=%3D"),
            ("a3", "a"),
            ("c@", ""),
            ("a2", "r b"),
            ("c2", ""),
            ("a3", "2 q"),
            ("realm", "Example"),
            ("oauth_consumer_key", "9djdj82h48djs9d2"),
            ("oauth_token", "kkk9d7dh3k39sjv7"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131201"),
            ("oauth_nonce", "7d8f3e4a"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(
            base_string("POST", "http://example.com/request", &params),
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
        );
    }
}
