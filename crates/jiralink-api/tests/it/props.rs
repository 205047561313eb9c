//! Property tests (bounded: a fixed number of cases each) over the diagnosis classifier, the site
//! URL normaliser, the http rule and the body parsers: no panic on any input, and their invariants.

use jiralink_api::diagnosis::{from_response, JiraErrors, RequestContext};
use jiralink_api::{secure, site, AuthKind, Code};
use proptest::prelude::*;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::StatusCode;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 300,
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    }
}

fn header_names() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "content-type",
        "location",
        "x-seraph-loginreason",
        "x-authentication-denied-reason",
        "retry-after",
        "www-authenticate",
        "x-arequestid",
    ])
}

fn headers() -> impl Strategy<Value = HeaderMap> {
    prop::collection::vec((header_names(), "[ -~]{0,40}"), 0..5).prop_map(|pairs| {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(HeaderName::from_static(n), v);
            }
        }
        h
    })
}

fn bodies() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "<html>[ -~]{0,80}</html>",
        Just(String::new()),
        Just("[]".to_owned()),
        Just("null".to_owned()),
        Just("{}".to_owned()),
        "\\{\"errorMessages\":\\[\"[ -~&&[^\"\\\\]]{0,30}\"\\]\\}",
    ]
}

fn contexts() -> impl Strategy<Value = RequestContext> {
    (prop::sample::select(AuthKind::ALL.to_vec()), any::<bool>())
        .prop_map(|(auth, via_gateway)| RequestContext { auth, via_gateway })
}

/// A Jira-shaped 2xx body: serverInfo or myself with arbitrary values.
fn jira_bodies() -> impl Strategy<Value = String> {
    (any::<String>(), any::<u32>(), any::<bool>()).prop_map(|(text, n, which)| {
        if which {
            serde_json::json!({"baseUrl": text, "version": n.to_string(), "versionNumbers": [n, 0, 1], "deploymentType": "Server"}).to_string()
        } else {
            serde_json::json!({"accountId": text, "displayName": n.to_string(), "active": true}).to_string()
        }
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_classifier_never_panics_and_always_explains(
        status in 100u16..600,
        h in headers(),
        body in bodies(),
        ctx in contexts(),
    ) {
        let status = StatusCode::from_u16(status).expect("a status");
        let d = from_response(status, &h, &body, ctx);
        prop_assert!(!d.cause.is_empty());
        prop_assert!(!d.fix.is_empty());
        let _ = JiraErrors::parse(&body);
    }

    #[test]
    fn a_2xx_jira_body_is_never_not_jira(
        status in 200u16..300,
        body in jira_bodies(),
        ctx in contexts(),
    ) {
        let status = StatusCode::from_u16(status).expect("a status");
        let d = from_response(status, &HeaderMap::new(), &body, ctx);
        prop_assert_ne!(d.code, Code::NotJira);
    }

    #[test]
    fn the_normaliser_never_panics_and_is_idempotent(input in any::<String>(), insecure in any::<bool>()) {
        if let Ok(u) = site::normalize(&input, insecure) {
            let text = site::base_str(&u);
            prop_assert!(!text.ends_with('/'));
            prop_assert!(u.query().is_none() && u.fragment().is_none());
            prop_assert!(u.username().is_empty() && u.password().is_none());
            let again = site::normalize(&text, insecure).expect("a canonical URL normalises");
            prop_assert_eq!(site::base_str(&again), text);
        }
    }

    #[test]
    fn pasted_urls_keep_their_host_and_drop_their_page(
        host in "[a-z]{1,10}\\.example",
        context in prop::option::of("[a-z]{1,6}"),
        page in prop::sample::select(vec!["browse/ABC-1", "secure/Dashboard.jspa", "projects/ABC/boards/1", "issues/?jql=x", "jira/software/c/projects/ABC"]),
    ) {
        let ctx_path = context.map(|c| format!("/{c}")).unwrap_or_default();
        let ctx_path = if ctx_path == "/jira" || PAGE_WORDS.contains(&ctx_path.trim_start_matches('/')) { String::new() } else { ctx_path };
        let u = site::normalize(&format!("https://{host}{ctx_path}/{page}"), false).expect("valid");
        prop_assert_eq!(site::base_str(&u), format!("https://{host}{ctx_path}"));
    }

    #[test]
    fn the_http_rule_allows_https_and_refuses_remote_http(
        host in "[a-z]{1,10}\\.(test|example|com)",
        port in 1u16..,
        path in "(/[a-z0-9]{0,8}){0,3}",
    ) {
        let https = url::Url::parse(&format!("https://{host}:{port}{path}")).expect("url");
        prop_assert!(secure::check(&https, None, false).is_ok());
        let http = url::Url::parse(&format!("http://{host}:{port}{path}")).expect("url");
        let refused = secure::check(&http, None, false).expect_err("refused");
        prop_assert_eq!(refused.code, Code::HttpNotAllowed);
        let local = url::Url::parse(&format!("http://127.0.0.1:{port}{path}")).expect("url");
        prop_assert!(secure::check(&local, Some(&http), false).is_err());
    }

    #[test]
    fn ca_bundles_of_any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = jiralink_api::client::ca_certificates(&bytes);
    }

    #[test]
    fn proxy_urls_never_echo_their_password(input in "[ -~]{0,40}") {
        if let Err(e) = secure::parse_proxy(&format!("http://user:Pw9secret{input}"), "--proxy") {
            prop_assert!(!e.to_string().contains("Pw9secret"));
        }
    }
}

/// Segments that begin a page: a context path cannot be one of them.
const PAGE_WORDS: &[&str] = &[
    "browse",
    "secure",
    "projects",
    "issues",
    "rest",
    "plugins",
    "servicedesk",
    "wiki",
    "dashboards",
];
