//! OAuth 1.0a with RSA-SHA1, as Data Center's application links use it: consumers registered with
//! their public key, the request-token / authorize / access-token dance, and signature checks on
//! every signed request (RFC 5849). Signing and the base string come from `jiralink-api`, the one
//! implementation of both sides.

use std::collections::{HashMap, HashSet};

use base64::Engine;
use rand::{Rng, RngCore};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::signature::Verifier;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha1::Sha1;

pub use jiralink_api::oauth1::{authorization_header, base_string, encode, parse_header};

/// Why a request was refused, with the `oauth_problem` names of the OAuth problem-reporting extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthProblem {
    ParameterAbsent(&'static str),
    SignatureMethodRejected,
    SignatureInvalid,
    ConsumerKeyUnknown,
    TokenRejected,
    TimestampRefused,
    NonceUsed,
    PermissionUnknown,
    VerifierInvalid,
}

impl OAuthProblem {
    pub fn as_str(&self) -> &'static str {
        match self {
            OAuthProblem::ParameterAbsent(_) => "parameter_absent",
            OAuthProblem::SignatureMethodRejected => "signature_method_rejected",
            OAuthProblem::SignatureInvalid => "signature_invalid",
            OAuthProblem::ConsumerKeyUnknown => "consumer_key_unknown",
            OAuthProblem::TokenRejected => "token_rejected",
            OAuthProblem::TimestampRefused => "timestamp_refused",
            OAuthProblem::NonceUsed => "nonce_used",
            OAuthProblem::PermissionUnknown => "permission_unknown",
            OAuthProblem::VerifierInvalid => "verifier_invalid",
        }
    }
}

/// Who signed a request that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Signed by the consumer alone, or with a request token (during the dance).
    Consumer {
        consumer_key: String,
        request_token: Option<String>,
    },
    /// Signed with an authorised access token: acts as `user`.
    AccessToken { consumer_key: String, user: u32 },
}

#[derive(Debug, Clone)]
struct RequestToken {
    consumer: String,
    callback: String,
    verifier: Option<String>,
    user: Option<u32>,
}

#[derive(Debug, Clone)]
struct AccessToken {
    consumer: String,
    user: u32,
}

/// Consumers, tokens and recently seen nonces.
#[derive(Debug, Default)]
pub struct OAuthState {
    consumers: HashMap<String, RsaPublicKey>,
    request_tokens: HashMap<String, RequestToken>,
    access_tokens: HashMap<String, AccessToken>,
    nonces: HashSet<(String, i64, String)>,
}

/// Signed requests must carry a timestamp within this many seconds of the server's clock.
const TIMESTAMP_WINDOW: i64 = 300;

fn token(rng: &mut impl RngCore) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..32)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

impl OAuthState {
    pub fn new() -> OAuthState {
        OAuthState::default()
    }

    /// Registers a consumer with a fresh 2048-bit key; returns the private key (PKCS#8 PEM).
    pub fn add_consumer(
        &mut self,
        rng: &mut (impl RngCore + rand::CryptoRng),
        consumer_key: &str,
    ) -> String {
        let key = RsaPrivateKey::new(rng, 2048).expect("RSA key generation with a working RNG");
        self.consumers
            .insert(consumer_key.to_owned(), key.to_public_key());
        key.to_pkcs8_pem(LineEnding::LF)
            .expect("an RSA key encodes as PKCS#8")
            .to_string()
    }

    /// An access token already authorised for `user`, as after a completed dance.
    pub fn add_access_token(
        &mut self,
        consumer_key: &str,
        user: u32,
        rng: &mut impl RngCore,
    ) -> String {
        let t = token(rng);
        self.access_tokens.insert(
            t.clone(),
            AccessToken {
                consumer: consumer_key.to_owned(),
                user,
            },
        );
        t
    }

    /// Checks a signed request: consumer, signature, timestamp, nonce, and the token it carries.
    /// `url` is the request URL as the client saw it, without query; `query` and `form` are decoded.
    pub fn verify(
        &mut self,
        method: &str,
        url: &str,
        query: &[(String, String)],
        form: &[(String, String)],
        authorization: &str,
        now_secs: i64,
    ) -> Result<Verified, OAuthProblem> {
        let header = parse_header(authorization);
        let get = |k: &'static str| {
            header
                .get(k)
                .cloned()
                .ok_or(OAuthProblem::ParameterAbsent(k))
        };
        let consumer_key = get("oauth_consumer_key")?;
        let signature = get("oauth_signature")?;
        if get("oauth_signature_method")? != "RSA-SHA1" {
            return Err(OAuthProblem::SignatureMethodRejected);
        }
        let timestamp: i64 = get("oauth_timestamp")?
            .parse()
            .map_err(|_| OAuthProblem::TimestampRefused)?;
        let nonce = get("oauth_nonce")?;
        let public = self
            .consumers
            .get(&consumer_key)
            .ok_or(OAuthProblem::ConsumerKeyUnknown)?;
        let mut params: Vec<(String, String)> =
            header.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        params.extend(query.iter().cloned());
        params.extend(form.iter().cloned());
        let base = base_string(method, url, &params);
        let sig_bytes = base64::engine::general_purpose::STANDARD
            .decode(signature.trim())
            .map_err(|_| OAuthProblem::SignatureInvalid)?;
        let sig = Signature::try_from(sig_bytes.as_slice())
            .map_err(|_| OAuthProblem::SignatureInvalid)?;
        VerifyingKey::<Sha1>::new(public.clone())
            .verify(base.as_bytes(), &sig)
            .map_err(|_| OAuthProblem::SignatureInvalid)?;
        if (timestamp - now_secs).abs() > TIMESTAMP_WINDOW {
            return Err(OAuthProblem::TimestampRefused);
        }
        self.nonces
            .retain(|(_, ts, _)| (now_secs - ts).abs() <= TIMESTAMP_WINDOW);
        if !self.nonces.insert((consumer_key.clone(), timestamp, nonce)) {
            return Err(OAuthProblem::NonceUsed);
        }
        match header.get("oauth_token").filter(|t| !t.is_empty()) {
            None => Ok(Verified::Consumer {
                consumer_key,
                request_token: None,
            }),
            Some(t) => {
                if let Some(a) = self.access_tokens.get(t) {
                    if a.consumer != consumer_key {
                        return Err(OAuthProblem::TokenRejected);
                    }
                    return Ok(Verified::AccessToken {
                        consumer_key,
                        user: a.user,
                    });
                }
                match self.request_tokens.get(t) {
                    Some(r) if r.consumer == consumer_key => Ok(Verified::Consumer {
                        consumer_key,
                        request_token: Some(t.clone()),
                    }),
                    _ => Err(OAuthProblem::TokenRejected),
                }
            }
        }
    }

    /// Step 1: a consumer-signed request gets a request token (form-encoded body).
    pub fn request_token(
        &mut self,
        verified: &Verified,
        callback: &str,
        rng: &mut impl RngCore,
    ) -> Result<String, OAuthProblem> {
        let Verified::Consumer {
            consumer_key,
            request_token: None,
        } = verified
        else {
            return Err(OAuthProblem::TokenRejected);
        };
        let t = token(rng);
        let secret = token(rng);
        let callback = if callback.is_empty() {
            "oob".to_owned()
        } else {
            callback.to_owned()
        };
        self.request_tokens.insert(
            t.clone(),
            RequestToken {
                consumer: consumer_key.clone(),
                callback,
                verifier: None,
                user: None,
            },
        );
        Ok(format!(
            "oauth_token={}&oauth_token_secret={}&oauth_callback_confirmed=true",
            encode(&t),
            encode(&secret)
        ))
    }

    /// Step 2: the signed-in `user` approves the request token; returns (callback, verifier).
    pub fn authorize(
        &mut self,
        request_token: &str,
        user: u32,
        rng: &mut impl RngCore,
    ) -> Result<(String, String), OAuthProblem> {
        let r = self
            .request_tokens
            .get_mut(request_token)
            .ok_or(OAuthProblem::TokenRejected)?;
        let verifier = token(rng);
        r.verifier = Some(verifier.clone());
        r.user = Some(user);
        Ok((r.callback.clone(), verifier))
    }

    /// Step 3: the consumer trades an approved request token and its verifier for an access token.
    pub fn access_token(
        &mut self,
        verified: &Verified,
        verifier: &str,
        rng: &mut impl RngCore,
    ) -> Result<String, OAuthProblem> {
        let Verified::Consumer {
            request_token: Some(rt),
            ..
        } = verified
        else {
            return Err(OAuthProblem::TokenRejected);
        };
        let r = self
            .request_tokens
            .get(rt)
            .ok_or(OAuthProblem::TokenRejected)?;
        let (Some(expected), Some(user)) = (&r.verifier, r.user) else {
            return Err(OAuthProblem::PermissionUnknown);
        };
        if expected != verifier {
            return Err(OAuthProblem::VerifierInvalid);
        }
        let consumer = r.consumer.clone();
        self.request_tokens.remove(rt);
        let t = token(rng);
        self.access_tokens
            .insert(t.clone(), AccessToken { consumer, user });
        Ok(format!(
            "oauth_token={}&oauth_token_secret={}&oauth_expires_in=157680000&oauth_authorization_expires_in=157680000",
            encode(&t),
            encode(&token(rng))
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_dance_then_signed_requests() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut st = OAuthState::new();
        let pem = st.add_consumer(&mut rng, "ck");
        let url = "http://127.0.0.1:8080/jira/plugins/servlet/oauth/request-token";
        let now = 1_700_000_000;
        let h = authorization_header(
            "POST",
            url,
            &[],
            "ck",
            &pem,
            None,
            &[("oauth_callback", "oob")],
            now,
            "n1",
        )
        .expect("sign");
        let v = st
            .verify("POST", url, &[], &[], &h, now)
            .expect("consumer-signed");
        let body = st
            .request_token(&v, "oob", &mut rng)
            .expect("request token");
        let rt = body
            .split('&')
            .next()
            .and_then(|p| p.strip_prefix("oauth_token="))
            .expect("token")
            .to_owned();
        let (_, verifier) = st.authorize(&rt, 7, &mut rng).expect("approve");
        let url2 = "http://127.0.0.1:8080/jira/plugins/servlet/oauth/access-token";
        let h = authorization_header(
            "POST",
            url2,
            &[],
            "ck",
            &pem,
            Some(&rt),
            &[("oauth_verifier", &verifier)],
            now,
            "n2",
        )
        .expect("sign");
        let v = st
            .verify("POST", url2, &[], &[], &h, now)
            .expect("request-token-signed");
        assert!(st.access_token(&v, "wrong", &mut rng).is_err());
        let body = st
            .access_token(&v, &verifier, &mut rng)
            .expect("access token");
        let at = body
            .split('&')
            .next()
            .and_then(|p| p.strip_prefix("oauth_token="))
            .expect("token")
            .to_owned();

        let api = "http://127.0.0.1:8080/jira/rest/api/2/search";
        let q = vec![("jql".to_owned(), "project = ENG".to_owned())];
        let h = authorization_header("GET", api, &q, "ck", &pem, Some(&at), &[], now, "n3")
            .expect("sign");
        assert_eq!(
            st.verify("GET", api, &q, &[], &h, now),
            Ok(Verified::AccessToken {
                consumer_key: "ck".into(),
                user: 7
            })
        );
        assert_eq!(
            st.verify("GET", api, &q, &[], &h, now),
            Err(OAuthProblem::NonceUsed),
            "a nonce works once"
        );
        let tampered = vec![("jql".to_owned(), "project = OPS".to_owned())];
        let h = authorization_header("GET", api, &q, "ck", &pem, Some(&at), &[], now, "n4")
            .expect("sign");
        assert_eq!(
            st.verify("GET", api, &tampered, &[], &h, now),
            Err(OAuthProblem::SignatureInvalid)
        );
        let h = authorization_header("GET", api, &q, "ck", &pem, Some(&at), &[], now - 1000, "n5")
            .expect("sign");
        assert_eq!(
            st.verify("GET", api, &q, &[], &h, now),
            Err(OAuthProblem::TimestampRefused)
        );
        let h = authorization_header("GET", api, &q, "other", &pem, Some(&at), &[], now, "n6")
            .expect("sign");
        assert_eq!(
            st.verify("GET", api, &q, &[], &h, now),
            Err(OAuthProblem::ConsumerKeyUnknown)
        );
        let h = authorization_header("GET", api, &q, "ck", &pem, Some("forged"), &[], now, "n7")
            .expect("sign");
        assert_eq!(
            st.verify("GET", api, &q, &[], &h, now),
            Err(OAuthProblem::TokenRejected)
        );
    }
}
