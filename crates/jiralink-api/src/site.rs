//! Site URLs: what users paste (a bare host, a browse or board page, trailing slashes) turned into the
//! canonical base URL that REST paths are appended to.

use url::Url;

/// Why a pasted URL cannot be a Jira site.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteUrlError {
    #[error("'{0}' is not a URL: paste the address of your Jira site, such as https://company.atlassian.net")]
    Invalid(String),
    #[error("'{0}' uses {1}: use an https:// (or http:// on loopback) address")]
    Scheme(String, String),
    #[error("plain http to {0} would send the credential unencrypted: use https, or pass --allow-insecure-http if this is deliberate")]
    InsecureHttp(String),
}

impl SiteUrlError {
    /// Plain http off loopback is a diagnosis (`http_not_allowed`); the rest is bad input.
    pub fn diagnosis(&self) -> Option<crate::diagnosis::Diagnosis> {
        match self {
            SiteUrlError::InsecureHttp(_) => Some(crate::diagnosis::Diagnosis::new(
                crate::diagnosis::Code::HttpNotAllowed,
            )),
            _ => None,
        }
    }
}

/// Path segments that start a Jira page rather than the site's base: everything from them on is
/// dropped (`/browse/KEY-1`, `/jira/software/projects/X/boards/1`, `/secure/Dashboard.jspa` ...).
const PAGE_MARKERS: &[&str] = &[
    "browse",
    "secure",
    "projects",
    "issues",
    "rest",
    "plugins",
    "servicedesk",
    "login.jsp",
    "dashboards",
    "wiki",
];

/// The product segments of Cloud's page URLs (`/jira/software/...`).
const CLOUD_PRODUCTS: &[&str] = &["software", "core", "servicedesk", "business", "your-work"];

/// Canonical site base: scheme, host, port and a Data Center context path, no trailing slash.
///
/// On Atlassian Cloud (`*.atlassian.net`, `*.jira.com`) the path is always dropped (Cloud has no
/// context path; `/jira/software/...` are pages). Elsewhere the path is kept up to the first segment
/// that begins a Jira page, so `https://host/jira/browse/X-1` keeps the context path `/jira`; whether
/// the server really answers there is the connection test's job (`wrong_context_path`).
pub fn normalize(input: &str, allow_insecure_http: bool) -> Result<Url, SiteUrlError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(SiteUrlError::Invalid(input.to_owned()));
    }
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("https://{trimmed}")
    };
    let mut url = Url::parse(&with_scheme).map_err(|_| SiteUrlError::Invalid(input.to_owned()))?;
    let host = url
        .host_str()
        .ok_or_else(|| SiteUrlError::Invalid(input.to_owned()))?
        .to_ascii_lowercase();
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&host) || allow_insecure_http => {}
        "http" => return Err(SiteUrlError::InsecureHttp(host)),
        other => return Err(SiteUrlError::Scheme(input.to_owned(), other.to_owned())),
    }
    let cloud = is_cloud_host(&host);
    let segments: Vec<String> = url
        .path_segments()
        .map(|s| s.filter(|x| !x.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    let kept: Vec<String> = if cloud {
        Vec::new()
    } else {
        let mut kept = Vec::new();
        for (i, seg) in segments.iter().enumerate() {
            let lower = seg.to_ascii_lowercase();
            if PAGE_MARKERS.contains(&lower.as_str()) || lower.ends_with(".jspa") {
                break;
            }
            // Cloud's product pages (`/jira/software/c/projects/...`, `/jira/core/...`) pasted from
            // a site on its own domain: `/jira/<product>` starts a page, not a context path.
            let next = segments
                .get(i + 1)
                .map(|n| n.to_ascii_lowercase())
                .unwrap_or_default();
            if lower == "jira" && CLOUD_PRODUCTS.contains(&next.as_str()) {
                break;
            }
            kept.push(seg.clone());
        }
        kept
    };
    url.set_query(None);
    url.set_fragment(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let path = if kept.is_empty() {
        String::new()
    } else {
        format!("/{}", kept.join("/"))
    };
    url.set_path(&path);
    // `Url` always renders at least "/"; the canonical form has no trailing slash.
    let text = url.as_str().trim_end_matches('/').to_owned();
    Url::parse(&text).map_err(|_| SiteUrlError::Invalid(input.to_owned()))
}

/// The base as text without a trailing slash, for appending `/rest/...`.
pub fn base_str(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

pub fn is_cloud_host(host: &str) -> bool {
    host.ends_with(".atlassian.net")
        || host.ends_with(".jira.com")
        || host.ends_with(".jira-dev.com")
}

pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        base_str(&normalize(s, false).expect(s))
    }

    #[test]
    fn what_users_paste_becomes_the_site() {
        assert_eq!(n("company.atlassian.net"), "https://company.atlassian.net");
        assert_eq!(
            n("https://company.atlassian.net/"),
            "https://company.atlassian.net"
        );
        assert_eq!(
            n("https://company.atlassian.net/jira/"),
            "https://company.atlassian.net"
        );
        assert_eq!(
            n("https://company.atlassian.net/browse/ENG-12?focusedCommentId=1"),
            "https://company.atlassian.net"
        );
        assert_eq!(
            n("https://company.atlassian.net/jira/software/projects/ENG/boards/3"),
            "https://company.atlassian.net"
        );
        assert_eq!(
            n("  https://Company.Atlassian.net//  "),
            "https://company.atlassian.net"
        );
        assert_eq!(
            n("https://jira.example.com/browse/OPS-1"),
            "https://jira.example.com"
        );
        assert_eq!(
            n("https://example.com/jira/browse/OPS-1"),
            "https://example.com/jira"
        );
        assert_eq!(
            n("https://example.com/jira/secure/Dashboard.jspa"),
            "https://example.com/jira"
        );
        assert_eq!(
            n("https://example.com:8443/tools/jira/projects/OPS"),
            "https://example.com:8443/tools/jira"
        );
        assert_eq!(n("https://user:pw@example.com/"), "https://example.com");
        assert_eq!(n("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
        assert_eq!(
            n("http://localhost:2990/jira/"),
            "http://localhost:2990/jira"
        );
    }

    #[test]
    fn cloud_product_pages_pasted_from_a_custom_domain_normalise_to_the_site() {
        assert_eq!(
            n("https://jira.corp.example/jira/software/projects/ABC/boards/1?selectedIssue=ABC-1"),
            "https://jira.corp.example"
        );
        assert_eq!(
            n("https://jira.corp.example/jira/software/c/projects/ABC/issues"),
            "https://jira.corp.example"
        );
        // A Data Center context path named jira stays.
        assert_eq!(
            n("https://host.example/jira/browse/ABC-1"),
            "https://host.example/jira"
        );
    }

    #[test]
    fn plain_http_is_refused_off_loopback() {
        assert_eq!(
            normalize("http://jira.example.com", false),
            Err(SiteUrlError::InsecureHttp("jira.example.com".into()))
        );
        assert!(normalize("http://jira.example.com", true).is_ok());
        assert!(matches!(
            normalize("ftp://jira.example.com", false),
            Err(SiteUrlError::Scheme(..))
        ));
        assert!(matches!(
            normalize("", false),
            Err(SiteUrlError::Invalid(_))
        ));
        assert!(matches!(
            normalize("https://", false),
            Err(SiteUrlError::Invalid(_))
        ));
    }
}
