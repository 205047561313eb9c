//! The one rule for where a request may go: https, or plain http only when both the target and any
//! proxy in between are this machine (loopback); otherwise `http_not_allowed`, before a byte is sent.
//! Every request of this crate (site, gateway, OAuth 1.0a and 2.0 endpoints) goes through `Http`,
//! which applies the rule, and through the proxy `Proxies` chooses, so the rule sees that proxy too.

use url::Url;

use crate::diagnosis::{Code, Diagnosis};
use crate::site::is_loopback;
use crate::Error;

/// Which proxy, if any, carries a request: the configured one (`--proxy`) for everything, otherwise
/// `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` by the target's scheme, minus the hosts in `NO_PROXY`.
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    explicit: Option<Url>,
    http: Option<Url>,
    https: Option<Url>,
    no_proxy: Vec<String>,
}

fn env(names: &[&str]) -> Option<(String, String)> {
    names.iter().find_map(|n| {
        std::env::var(n)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| ((*n).to_owned(), v))
    })
}

/// A proxy URL; a bare `host:port` means http. The error never repeats the URL (it may hold a
/// password), only where it came from.
pub fn parse_proxy(text: &str, origin: &str) -> Result<Url, Error> {
    let t = text.trim();
    let with_scheme = if t.contains("://") {
        t.to_owned()
    } else {
        format!("http://{t}")
    };
    let url = Url::parse(&with_scheme).map_err(|e| {
        Error::Config(format!(
            "the proxy URL in {origin} is not a valid URL ({e}): use http://[user:password@]host:port"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https" | "socks5" | "socks5h") || url.host_str().is_none()
    {
        return Err(Error::Config(format!(
            "the proxy URL in {origin} is not an http, https or socks5 proxy address: use http://[user:password@]host:port"
        )));
    }
    Ok(url)
}

impl Proxies {
    /// The configured proxy if any, otherwise the environment's.
    pub fn new(explicit: Option<&str>) -> Result<Proxies, Error> {
        if let Some(p) = explicit {
            return Ok(Proxies {
                explicit: Some(parse_proxy(p, "--proxy")?),
                ..Proxies::default()
            });
        }
        let read = |names: &[&str]| -> Result<Option<Url>, Error> {
            env(names)
                .map(|(name, v)| parse_proxy(&v, &name))
                .transpose()
        };
        let all = read(&["ALL_PROXY", "all_proxy"])?;
        Ok(Proxies {
            explicit: None,
            http: read(&["HTTP_PROXY", "http_proxy"])?.or_else(|| all.clone()),
            https: read(&["HTTPS_PROXY", "https_proxy"])?.or(all),
            no_proxy: env(&["NO_PROXY", "no_proxy"])
                .map(|(_, v)| {
                    v.split(',')
                        .map(|s| s.trim().trim_start_matches('.').to_ascii_lowercase())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// The proxy a request to `target` goes through.
    pub fn for_target(&self, target: &Url) -> Option<&Url> {
        if let Some(p) = &self.explicit {
            return Some(p);
        }
        let host = target.host_str()?.to_ascii_lowercase();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let exempt = self.no_proxy.iter().any(|n| {
            n == "*"
                || host == n
                || host
                    .strip_suffix(n.as_str())
                    .is_some_and(|h| h.ends_with('.'))
        });
        if exempt {
            return None;
        }
        match target.scheme() {
            "https" => self.https.as_ref(),
            _ => self.http.as_ref(),
        }
    }
}

fn host_of(u: &Url) -> String {
    u.host_str().unwrap_or("").to_ascii_lowercase()
}

/// The rule itself. `allow_insecure_http` is the user's explicit opt-in (`--allow-insecure-http`).
pub fn check(
    target: &Url,
    proxy: Option<&Url>,
    allow_insecure_http: bool,
) -> Result<(), Diagnosis> {
    if allow_insecure_http {
        return Ok(());
    }
    let host = host_of(target);
    match target.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {
            if let Some(p) = proxy.filter(|p| !is_loopback(&host_of(p))) {
                return Err(Diagnosis::new(Code::HttpNotAllowed)
                    .with_cause(format!(
                        "The request to {host} is plain http, and it would pass through the proxy {}, which is not this machine: the proxy would see the credential.",
                        host_of(p)
                    ))
                    .with_fix("Use https for the site, exempt it from the proxy with NO_PROXY, or pass --allow-insecure-http if the network is trusted."));
            }
        }
        _ => {
            return Err(Diagnosis::new(Code::HttpNotAllowed)
                .with_cause(format!(
                    "The request to {host} uses {}, not https, and {host} is not this machine: the credential would travel unencrypted.",
                    target.scheme()
                ))
                .with_fix("Use an https:// address for it, or pass --allow-insecure-http if the network is trusted."));
        }
    }
    // A proxy's own password travels in clear to a plain-http proxy.
    if let Some(p) = proxy {
        let has_secret = !p.username().is_empty() || p.password().is_some();
        if has_secret && p.scheme() != "https" && !is_loopback(&host_of(p)) {
            return Err(Diagnosis::new(Code::HttpNotAllowed)
                .with_cause(format!(
                    "The proxy {} is reached over plain {} with a password, which would travel unencrypted.",
                    host_of(p),
                    p.scheme()
                ))
                .with_fix("Use an https:// proxy address for a proxy that needs a password, or pass --allow-insecure-http if the network is trusted."));
        }
    }
    Ok(())
}

/// The HTTP client every request of this crate goes through: `request` refuses a URL the rule
/// forbids before anything is sent.
#[derive(Clone, Debug)]
pub struct Http {
    client: reqwest::Client,
    proxies: std::sync::Arc<Proxies>,
    allow_insecure_http: bool,
}

impl Http {
    pub(crate) fn new(
        client: reqwest::Client,
        proxies: std::sync::Arc<Proxies>,
        allow_insecure_http: bool,
    ) -> Http {
        Http {
            client,
            proxies,
            allow_insecure_http,
        }
    }

    /// Whether a request to `url` may be sent.
    pub fn check(&self, url: &Url) -> Result<(), Diagnosis> {
        check(url, self.proxies.for_target(url), self.allow_insecure_http)
    }

    /// A request to `url`, once the rule allows it.
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, Error> {
        let parsed =
            Url::parse(url).map_err(|e| Error::Config(format!("bad request URL {url}: {e}")))?;
        Ok(self.request_url(method, parsed)?)
    }

    /// The same for a parsed URL.
    pub fn request_url(
        &self,
        method: reqwest::Method,
        url: Url,
    ) -> Result<reqwest::RequestBuilder, Diagnosis> {
        self.check(&url)?;
        Ok(self.client.request(method, url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).expect("a URL")
    }

    #[test]
    fn https_anywhere_and_http_only_on_loopback_through_loopback() {
        assert!(check(&u("https://jira.test/x"), None, false).is_ok());
        assert!(check(&u("http://127.0.0.1:8080/x"), None, false).is_ok());
        assert!(check(
            &u("http://localhost/x"),
            Some(&u("http://127.0.0.1:3128")),
            false
        )
        .is_ok());
        assert!(check(&u("http://[::1]:80/x"), None, false).is_ok());
        let refused =
            |t: &str, p: Option<&str>| check(&u(t), p.map(u).as_ref(), false).expect_err(t).code;
        assert_eq!(refused("http://jira.test/x", None), Code::HttpNotAllowed);
        assert_eq!(refused("ftp://jira.test/x", None), Code::HttpNotAllowed);
        assert_eq!(
            refused("http://127.0.0.1/x", Some("http://proxy.test:3128")),
            Code::HttpNotAllowed
        );
        assert_eq!(
            refused("https://jira.test/x", Some("http://u:p@proxy.test:3128")),
            Code::HttpNotAllowed
        );
        // A CONNECT tunnel through a password-less http proxy keeps TLS end to end.
        assert!(check(
            &u("https://jira.test/x"),
            Some(&u("http://proxy.test:3128")),
            false
        )
        .is_ok());
        // The opt-in allows all of it.
        assert!(check(&u("http://jira.test/x"), None, true).is_ok());
    }

    #[test]
    fn no_proxy_exempts_hosts_and_their_subdomains() {
        let p = Proxies {
            explicit: None,
            http: Some(u("http://proxy.test:3128")),
            https: None,
            no_proxy: vec!["example.com".into(), "127.0.0.1".into()],
        };
        assert!(p.for_target(&u("http://a.example.com/")).is_none());
        assert!(p.for_target(&u("http://example.com/")).is_none());
        assert!(p.for_target(&u("http://127.0.0.1:9/")).is_none());
        assert!(p.for_target(&u("http://badexample.com/")).is_some());
        assert!(p.for_target(&u("https://jira.test/")).is_none());
    }

    #[test]
    fn a_malformed_proxy_url_is_refused_without_repeating_it() {
        let e = parse_proxy("http://user:s3cret@", "--proxy").expect_err("no host");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert_eq!(
            parse_proxy("proxy.test:3128", "HTTP_PROXY")
                .expect("a bare host:port is http")
                .as_str(),
            "http://proxy.test:3128/"
        );
    }
}
