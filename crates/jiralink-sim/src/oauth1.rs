//! OAuth 1.0a with RSA-SHA1, as Data Center's application links use it: consumers registered with
//! their public key, the request-token / authorize / access-token dance, and the simulator's own
//! verifier of signed requests (RFC 5849): the signature base string, parameter normalisation, the
//! protocol parameters from the `Authorization` header, the form body or the query string (§3.5),
//! and the checks of Jira's validator (version, timestamp window, nonce, then the signature).
//! Nothing here comes from the client crate: the simulator checks jiralink, not itself.

use std::collections::{HashMap, HashSet};

use base64::Engine;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rand::{Rng, RngCore};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha1::Sha1;

/// RFC 5849 §3.6: the unreserved characters of RFC 3986 stay, every other byte is `%XX` (upper case).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes as RFC 5849 §3.6 requires (UTF-8, upper-case hex, unreserved kept).
pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// The parameters of an `Authorization: OAuth k="v", ...` header (RFC 5849 §3.5.1), decoded,
/// in the order sent, `realm` included (the base string leaves it out).
pub fn parse_header(header: &str) -> Vec<(String, String)> {
    let header = header.trim();
    let Some(body) = header
        .get(..5)
        .filter(|s| s.eq_ignore_ascii_case("oauth"))
        .map(|_| &header[5..])
    else {
        return Vec::new();
    };
    body.split(',')
        .filter_map(|part| {
            let (k, v) = part.trim().split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            Some((
                percent_decode_str(k.trim())
                    .decode_utf8_lossy()
                    .into_owned(),
                percent_decode_str(v).decode_utf8_lossy().into_owned(),
            ))
        })
        .collect()
}

/// RFC 5849 §3.4.1.2: scheme and host in lower case, the default port left out, the path as sent.
fn base_uri(url: &str) -> String {
    let Ok(u) = url::Url::parse(url) else {
        return url.to_owned();
    };
    let scheme = u.scheme().to_ascii_lowercase();
    let host = u.host_str().unwrap_or("").to_ascii_lowercase();
    let port = match u.port() {
        Some(p) if !matches!((scheme.as_str(), p), ("http", 80) | ("https", 443)) => {
            format!(":{p}")
        }
        _ => String::new(),
    };
    format!("{scheme}://{host}{port}{}", u.path())
}

/// RFC 5849 §3.4.1.3.2: every parameter but `oauth_signature` and `realm`, names and values encoded,
/// sorted by name then value, joined as `name=value` pairs with `&`.
pub fn normalized_parameters(params: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "oauth_signature" && k != "realm")
        .map(|(k, v)| (encode(k), encode(v)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// RFC 5849 §3.4.1: `METHOD&encoded base URI&encoded normalized parameters`. `url` may carry a
/// query; its parameters count only through `params` (the caller collects every source).
pub fn base_string(method: &str, url: &str, params: &[(String, String)]) -> String {
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        encode(&base_uri(url)),
        encode(&normalized_parameters(params))
    )
}

/// Signs a request with RSA-SHA1 as an OAuth client does and returns the `Authorization` header:
/// for tests of the simulator and for integration developers who sign by hand.
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
    oauth.extend(extra.iter().map(|(k, v)| ((*k).into(), (*v).into())));
    let mut all = oauth.clone();
    all.extend(query.iter().cloned());
    oauth.push((
        "oauth_signature".into(),
        sign_rsa_sha1(private_key_pem, &base_string(method, url, &all))?,
    ));
    let parts: Vec<String> = oauth
        .iter()
        .map(|(k, v)| format!("{}=\"{}\"", encode(k), encode(v)))
        .collect();
    Ok(format!("OAuth {}", parts.join(", ")))
}

/// RFC 5849 §3.4.3: the base64 of the RSASSA-PKCS1-v1_5 SHA-1 signature of the base string.
pub fn sign_rsa_sha1(private_key_pem: &str, base: &str) -> Result<String, String> {
    let key = RsaPrivateKey::from_pkcs8_pem(private_key_pem)
        .map_err(|e| format!("not a PKCS#8 RSA private key: {e}"))?;
    let sig = SigningKey::<Sha1>::new(key).sign(base.as_bytes());
    Ok(base64::engine::general_purpose::STANDARD.encode(sig.to_bytes()))
}

/// RFC 5849 §3.4.3.2: whether `signature` (base64) is `public`'s RSA-SHA1 signature of `base`.
pub fn verify_rsa_sha1(public: &RsaPublicKey, base: &str, signature: &str) -> bool {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(sig) = Signature::try_from(bytes.as_slice()) else {
        return false;
    };
    VerifyingKey::<Sha1>::new(public.clone())
        .verify(base.as_bytes(), &sig)
        .is_ok()
}

/// The parts of a request that OAuth signs, as the server received them.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The URL the client addressed (scheme, host, port, path); a query here is ignored.
    pub url: &'a str,
    /// The decoded query-string parameters.
    pub query: &'a [(String, String)],
    /// The decoded parameters of an `application/x-www-form-urlencoded` body (else empty).
    pub form: &'a [(String, String)],
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
}

impl SignedRequest<'_> {
    /// Every parameter of the request (RFC 5849 §3.4.1.3.1): the `Authorization` header's
    /// (without `realm`), the query's and the form body's.
    pub fn parameters(&self) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = self
            .authorization
            .map(parse_header)
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| k != "realm")
            .collect();
        all.extend(self.query.iter().cloned());
        all.extend(self.form.iter().cloned());
        all
    }

    /// Whether the request carries OAuth protocol parameters (in the header, the form or the query).
    pub fn is_oauth(&self) -> bool {
        self.authorization.is_some_and(|a| {
            a.trim_start()
                .get(..6)
                .is_some_and(|s| s.eq_ignore_ascii_case("oauth "))
        }) || self
            .query
            .iter()
            .chain(self.form)
            .any(|(k, _)| k == "oauth_consumer_key" || k == "oauth_signature")
    }
}

/// Why a request was refused, with the `oauth_problem` names of the OAuth problem-reporting extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthProblem {
    ParameterAbsent(&'static str),
    /// An `oauth_` parameter sent twice (in two places, or twice in one).
    ParameterRejected(String),
    VersionRejected,
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
            OAuthProblem::ParameterRejected(_) => "parameter_rejected",
            OAuthProblem::VersionRejected => "version_rejected",
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

/// Signed requests must carry a timestamp within this many seconds of the server's clock (Jira's
/// validator allows five minutes either way).
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

    /// Checks a signed request as Jira's validator does: the protocol parameters present once each,
    /// a known consumer, version 1.0, RSA-SHA1, a timestamp within five minutes, a nonce not seen
    /// before, the signature over every parameter, then the token it carries.
    pub fn verify(
        &mut self,
        req: &SignedRequest<'_>,
        now_secs: i64,
    ) -> Result<Verified, OAuthProblem> {
        let params = req.parameters();
        let mut oauth: HashMap<&str, &str> = HashMap::new();
        for (k, v) in &params {
            if k.starts_with("oauth_") && oauth.insert(k, v).is_some() {
                return Err(OAuthProblem::ParameterRejected(k.clone()));
            }
        }
        let get = |k: &'static str| {
            oauth
                .get(k)
                .map(|v| (*v).to_owned())
                .ok_or(OAuthProblem::ParameterAbsent(k))
        };
        let consumer_key = get("oauth_consumer_key")?;
        let signature = get("oauth_signature")?;
        let method = get("oauth_signature_method")?;
        let timestamp = get("oauth_timestamp")?;
        let nonce = get("oauth_nonce")?;
        let public = self
            .consumers
            .get(&consumer_key)
            .ok_or(OAuthProblem::ConsumerKeyUnknown)?
            .clone();
        if oauth.get("oauth_version").is_some_and(|v| *v != "1.0") {
            return Err(OAuthProblem::VersionRejected);
        }
        if method != "RSA-SHA1" {
            return Err(OAuthProblem::SignatureMethodRejected);
        }
        let timestamp: i64 = timestamp
            .parse()
            .map_err(|_| OAuthProblem::TimestampRefused)?;
        if (timestamp - now_secs).abs() > TIMESTAMP_WINDOW {
            return Err(OAuthProblem::TimestampRefused);
        }
        self.nonces
            .retain(|(_, ts, _)| (now_secs - ts).abs() <= TIMESTAMP_WINDOW);
        if !self.nonces.insert((consumer_key.clone(), timestamp, nonce)) {
            return Err(OAuthProblem::NonceUsed);
        }
        let base = base_string(req.method, req.url, &params);
        if !verify_rsa_sha1(&public, &base, &signature) {
            return Err(OAuthProblem::SignatureInvalid);
        }
        match oauth.get("oauth_token").filter(|t| !t.is_empty()) {
            None => Ok(Verified::Consumer {
                consumer_key,
                request_token: None,
            }),
            Some(t) => {
                if let Some(a) = self.access_tokens.get(*t) {
                    if a.consumer != consumer_key {
                        return Err(OAuthProblem::TokenRejected);
                    }
                    return Ok(Verified::AccessToken {
                        consumer_key,
                        user: a.user,
                    });
                }
                match self.request_tokens.get(*t) {
                    Some(r) if r.consumer == consumer_key => Ok(Verified::Consumer {
                        consumer_key,
                        request_token: Some((*t).to_owned()),
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
    use sha1::Digest;

    fn signed<'a>(
        method: &'a str,
        url: &'a str,
        query: &'a [(String, String)],
        authorization: &'a str,
    ) -> SignedRequest<'a> {
        SignedRequest {
            method,
            url,
            query,
            form: &[],
            authorization: Some(authorization),
        }
    }

    fn form(s: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(s.as_bytes())
            .into_owned()
            .collect()
    }

    /// RFC 5849 §3.4.1.1 and §3.4.1.3.2: the example request, its parameters from the header, the
    /// query and the form body, and the base string the RFC prints.
    #[test]
    fn rfc5849_base_string_example() {
        let header = "OAuth realm=\"Example\", oauth_consumer_key=\"9djdj82h48djs9d2\", \
            oauth_token=\"kkk9d7dh3k39sjv7\", oauth_signature_method=\"HMAC-SHA1\", \
            oauth_timestamp=\"137131201\", oauth_nonce=\"7d8f3e4a\", \
            oauth_signature=\"djosJKDKJSD8743243%2Fjdk33klY%3D\"";
        let query = form("b5=%3D%253D&a3=a&c%40=&a2=r%20b");
        let body = form("c2&a3=2+q");
        let req = SignedRequest {
            method: "POST",
            url: "http://example.com/request",
            query: &query,
            form: &body,
            authorization: Some(header),
        };
        assert_eq!(
            normalized_parameters(&req.parameters()),
            "a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9djdj82h48djs9d2\
             &oauth_nonce=7d8f3e4a&oauth_signature_method=HMAC-SHA1&oauth_timestamp=137131201\
             &oauth_token=kkk9d7dh3k39sjv7"
        );
        assert_eq!(
            base_string("post", "HTTP://Example.com:80/request", &req.parameters()),
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26\
             b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26\
             oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D\
             137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
        );
        assert!(base_string("GET", "https://h.example:8443/a/b", &[])
            .contains("h.example%3A8443%2Fa%2Fb"));
        assert_eq!(encode("a b+c~é/"), "a%20b%2Bc~%C3%A9%2F");
    }

    fn hmac_sha1(key: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut k = [0u8; 64];
        k[..key.len()].copy_from_slice(key);
        let inner = sha1::Sha1::new()
            .chain_update(k.map(|b| b ^ 0x36))
            .chain_update(msg)
            .finalize();
        sha1::Sha1::new()
            .chain_update(k.map(|b| b ^ 0x5c))
            .chain_update(inner)
            .finalize()
            .to_vec()
    }

    /// The photos example of the OAuth Core 1.0 specification (Appendix A.5), which RFC 5849 §1.2
    /// retells: our base string, signed with its HMAC-SHA1 secrets, gives the published signature.
    #[test]
    fn oauth_core_photos_example_signature() {
        let header = parse_header(
            "OAuth realm=\"http://photos.example.net/\", oauth_consumer_key=\"dpf43f3p2l4k3l03\", \
             oauth_token=\"nnch734d00sl2jdk\", oauth_signature_method=\"HMAC-SHA1\", \
             oauth_timestamp=\"1191242096\", oauth_nonce=\"kllo9940pd9333jh\", oauth_version=\"1.0\"",
        );
        assert_eq!(header.len(), 7);
        let query = form("file=vacation.jpg&size=original");
        let h = "OAuth ".to_owned()
            + &header
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", encode(v)))
                .collect::<Vec<_>>()
                .join(",");
        let req = signed("GET", "http://photos.example.net/photos", &query, &h);
        let base = base_string(req.method, req.url, &req.parameters());
        let sig = hmac_sha1(b"kd94hf93k423kf44&pfkkdhi9sl3r4s00", base.as_bytes());
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(sig),
            "tR3+Ty81lMeYAr/Fid0kMTYa/WM="
        );
    }

    /// A 1024-bit key and the RSA-SHA1 signature that Python's oauthlib 4.0.1 made for the RFC 5849
    /// §3.4.1 request (realm, version 1.0 added by oauthlib): an outside implementation agrees.
    const OAUTHLIB_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIICdAIBADANBgkqhkiG9w0BAQEFAASCAl4wggJaAgEAAoGBAJ4JWOienCeYzejc
8OYRPzSyoDbaFfq7LkX10vVg3ihkbHTG//lmTfpgNXrlWby66t9iGoffKo+d7tN8
6IH2I/IhMkMhopQmEPzQYV7HAxdQY2Q2XJecZL7K93Oo4U/LGeEP57ZOiU5SpLm3
ndNI80UbZpGqHF0DWfLcKGXiBapdAgMBAAECgYA5CrirpexJIo9X+L9+20TMGZlY
kxkR2hQWrmcJqIAnZi/7aoSkGXgV4joLdNMSGwmBvaBD4Jo1IlU8wr4NgrFwN7Bm
neu+qGDK1e6HEYIJmAumNiF6t09YQPXjkIWdyhnbVo+HjJAPG0YKj73fYgelefFM
tmEJr7PFItQqRUht5QJBAMyFX4fC2d71zRJX7ZZyhQ2eKHgF977BR3Wai6idJvnn
toB8gzrlgBYeXBVyNw8Go4meeIUp/9ANdgk9AVdVxRMCQQDF0KzFquir3f7JF+EG
vFMUZ8UO9OEzr3vJ9cwQfKBiYU2b4yxz18yZQk52io1pY+4TiCdCjx+aYCoG/isS
IXDPAkBiqsFwnJdBUjIR9GuBllQMQs3hQXfJBjO0T8+qk85W5+uKxwcEZe3KPfFM
w2I+lIRXAyW/kIiCVcwpHs5D1PQTAj8l3Ms1CoF+Y/9gfjGUGHfOcA5HzpdMTUpk
XaexgCkyq20vaUwY4DVJIGfkSKDIi1gGZQketEZYRg/FRuD3l28CQAb/LnPgTP4J
v6E5y5wZfcUuHRgEZdCfgSid82pn5UNDejsiqC2MOF2VCytK9GWhP/pUFqpthmVY
GOWUMn8tHWY=
-----END PRIVATE KEY-----
";
    const OAUTHLIB_HEADER: &str = "OAuth realm=\"Example\", oauth_nonce=\"7d8f3e4a\", \
        oauth_timestamp=\"137131201\", oauth_version=\"1.0\", oauth_signature_method=\"RSA-SHA1\", \
        oauth_consumer_key=\"9djdj82h48djs9d2\", oauth_token=\"kkk9d7dh3k39sjv7\", \
        oauth_signature=\"j2Ofw6LwgoCdXRVX1Lzq7cAoMhdUrrlhg%2F3ZjgWeiItHJtqoQftUEphBWRIV4KOBFhRLBq3uFQk3\
        s8i5M8UP7q0XfI%2FZv9GCFwyTZCxMt2y5K9KCjyeVreAG9lj5iyVjqyUAorkP2INtbj7kjpgOksK9fEa9I0jYLEwe9EHEVCk%3D\"";

    #[test]
    fn verifies_an_oauthlib_rsa_sha1_signature() {
        let key = RsaPrivateKey::from_pkcs8_pem(OAUTHLIB_KEY).expect("key");
        let mut st = OAuthState::new();
        st.consumers
            .insert("9djdj82h48djs9d2".into(), key.to_public_key());
        st.access_tokens.insert(
            "kkk9d7dh3k39sjv7".into(),
            AccessToken {
                consumer: "9djdj82h48djs9d2".into(),
                user: 3,
            },
        );
        let query = form("b5=%3D%253D&a3=a&c%40=&a2=r%20b");
        let body = form("c2&a3=2+q");
        let req = SignedRequest {
            method: "POST",
            url: "http://example.com/request",
            query: &query,
            form: &body,
            authorization: Some(OAUTHLIB_HEADER),
        };
        let params = req.parameters();
        let theirs = params
            .iter()
            .find(|(k, _)| k == "oauth_signature")
            .map(|(_, v)| v.clone())
            .expect("signature");
        let ours =
            sign_rsa_sha1(OAUTHLIB_KEY, &base_string("POST", req.url, &params)).expect("sign");
        assert_eq!(ours, theirs, "PKCS#1 v1.5 signatures are deterministic");
        assert_eq!(
            st.verify(&req, 137131201 + 10),
            Ok(Verified::AccessToken {
                consumer_key: "9djdj82h48djs9d2".into(),
                user: 3
            })
        );
        // The same protocol parameters in the query string (RFC 5849 §3.5.3) verify the same way.
        let mut in_query = query.clone();
        in_query.extend(
            parse_header(OAUTHLIB_HEADER)
                .into_iter()
                .filter(|(k, _)| k != "realm"),
        );
        in_query.retain(|(k, _)| k != "oauth_nonce");
        in_query.push(("oauth_nonce".into(), "7d8f3e4a".into()));
        let req_q = SignedRequest {
            authorization: None,
            query: &in_query,
            ..req
        };
        assert!(req_q.is_oauth());
        assert_eq!(
            st.verify(&req_q, 137131201),
            Err(OAuthProblem::NonceUsed),
            "the same nonce and timestamp are a replay, wherever the parameters travel"
        );
        st.nonces.clear();
        assert!(matches!(
            st.verify(&req_q, 137131201),
            Ok(Verified::AccessToken { user: 3, .. })
        ));
        // Sent in the header and the query at once: Jira's validator rejects the repeated parameter.
        st.nonces.clear();
        let both = SignedRequest {
            authorization: Some(OAUTHLIB_HEADER),
            ..req_q
        };
        assert!(matches!(
            st.verify(&both, 137131201),
            Err(OAuthProblem::ParameterRejected(_))
        ));
        // A changed body parameter breaks the signature.
        st.nonces.clear();
        let other_body = form("c2&a3=2+r");
        let tampered = SignedRequest {
            form: &other_body,
            ..req
        };
        assert_eq!(
            st.verify(&tampered, 137131201),
            Err(OAuthProblem::SignatureInvalid)
        );
    }

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
            .verify(&signed("POST", url, &[], &h), now)
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
            .verify(&signed("POST", url2, &[], &h), now)
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
            st.verify(&signed("GET", api, &q, &h), now),
            Ok(Verified::AccessToken {
                consumer_key: "ck".into(),
                user: 7
            })
        );
        assert_eq!(
            st.verify(&signed("GET", api, &q, &h), now),
            Err(OAuthProblem::NonceUsed),
            "a nonce works once"
        );
        let tampered = vec![("jql".to_owned(), "project = OPS".to_owned())];
        let h = authorization_header("GET", api, &q, "ck", &pem, Some(&at), &[], now, "n4")
            .expect("sign");
        assert_eq!(
            st.verify(&signed("GET", api, &tampered, &h), now),
            Err(OAuthProblem::SignatureInvalid)
        );
        let h = authorization_header("GET", api, &q, "ck", &pem, Some(&at), &[], now - 1000, "n5")
            .expect("sign");
        assert_eq!(
            st.verify(&signed("GET", api, &q, &h), now),
            Err(OAuthProblem::TimestampRefused)
        );
        let h = authorization_header("GET", api, &q, "other", &pem, Some(&at), &[], now, "n6")
            .expect("sign");
        assert_eq!(
            st.verify(&signed("GET", api, &q, &h), now),
            Err(OAuthProblem::ConsumerKeyUnknown)
        );
        let h = authorization_header("GET", api, &q, "ck", &pem, Some("forged"), &[], now, "n7")
            .expect("sign");
        assert_eq!(
            st.verify(&signed("GET", api, &q, &h), now),
            Err(OAuthProblem::TokenRejected)
        );
    }
}
