//! The trusted reverse-proxy mode: the user header is honoured from a peer inside the configured
//! network only (from any other peer it is ignored), a first-seen user becomes a viewer, a known
//! name keeps its account's role, and state-changing requests still need the CSRF token.

use serde_json::json;

use crate::support::Harness;

const HEADER: &str = "x-forwarded-user";

fn proxy(cidr: &str) -> Option<jiralink_web::TrustedProxy> {
    Some(jiralink_web::TrustedProxy {
        network: cidr.parse().expect("cidr"),
        header: HEADER.into(),
    })
}

async fn as_user(
    h: &Harness,
    user: &str,
    method: &str,
    path: &str,
    csrf: Option<&str>,
) -> (u16, serde_json::Value) {
    let r = request_as(h, user, method, path, csrf).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

/// A request through the proxy as `user` (a JSON body on all but GET).
async fn request_as(
    h: &Harness,
    user: &str,
    method: &str,
    path: &str,
    csrf: Option<&str>,
) -> reqwest::Response {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut rb = reqwest::Client::new()
        .request(m, format!("{}{path}", h.base))
        .header(HEADER, user);
    if let Some(c) = csrf {
        rb = rb.header("x-csrf-token", c);
    }
    if method != "GET" {
        rb = rb.json(&json!({"label": "from the proxy"}));
    }
    rb.send().await.expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_header_is_honoured_from_the_trusted_network() {
    let h = Harness::start_with("proxy-in", 10, proxy("127.0.0.0/8")).await;
    // A name seen for the first time: a viewer account is made.
    let (s, me) = as_user(&h, "carol", "GET", "/api/me", None).await;
    assert_eq!(
        (s, me["name"].clone(), me["role"].clone()),
        (200, json!("carol"), json!("viewer")),
        "{me}"
    );
    let users = h.app.users().expect("users");
    assert!(users
        .iter()
        .any(|u| u.name == "carol" && u.role == "viewer" && u.password_hash.is_none()));
    let (s, _) = as_user(&h, "carol", "GET", "/api/users", None).await;
    assert_eq!(s, 403, "a viewer is no admin");
    // An existing account keeps its role.
    let (s, me) = as_user(&h, "root", "GET", "/api/me", None).await;
    assert_eq!((s, me["role"].clone()), (200, json!("admin")));
    let (s, _) = as_user(&h, "root", "GET", "/api/users", None).await;
    assert_eq!(s, 200);
    // A state-changing request needs the CSRF token /api/me gives; another user's does not work.
    let (s, j) = as_user(&h, "root", "POST", "/api/tokens", None).await;
    assert_eq!((s, j["error"].clone()), (403, json!("csrf")));
    let (_, carol) = as_user(&h, "carol", "GET", "/api/me", None).await;
    let (s, _) = as_user(&h, "root", "POST", "/api/tokens", carol["csrf"].as_str()).await;
    assert_eq!(s, 403, "carol's token is not root's");
    let (s, j) = as_user(&h, "root", "POST", "/api/tokens", me["csrf"].as_str()).await;
    assert_eq!(s, 201, "{j}");
    // A header that names no valid user is refused, not mapped.
    let (s, _) = as_user(&h, "carol smith", "GET", "/api/me", None).await;
    assert_eq!(s, 401);
    // The pages too: the proxy's user is signed in.
    let r = request_as(&h, "carol", "GET", "/insights", None).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.expect("page").contains("carol (viewer)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_header_is_ignored_from_any_other_peer() {
    // The proxy is at 10.0.0.5: a request from loopback is not from it.
    let h = Harness::start_with("proxy-out", 10, proxy("10.0.0.5/32")).await;
    let (s, j) = as_user(&h, "root", "GET", "/api/me", None).await;
    assert_eq!(
        (s, j["error"].clone()),
        (401, json!("not_signed_in")),
        "{j}"
    );
    let (s, _) = as_user(&h, "mallory", "GET", "/api/credentials", None).await;
    assert_eq!(s, 401);
    assert!(
        !h.app
            .users()
            .expect("users")
            .iter()
            .any(|u| u.name == "mallory"),
        "no account is made for a header from an untrusted peer"
    );
    let r = request_as(&h, "root", "GET", "/credentials", None).await;
    assert!(
        r.url().path().ends_with("/signin"),
        "the page asks for a sign-in"
    );
    // A real session still works beside it.
    let root = h.sign_in("root").await;
    assert_eq!(root.get("/api/users").await.0, 200);
}

#[test]
fn networks_parse_and_match() {
    let n: jiralink_web::Cidr = "10.1.0.0/16".parse().expect("cidr");
    assert!(n.contains("10.1.200.3".parse().expect("ip")));
    assert!(!n.contains("10.2.0.1".parse().expect("ip")));
    assert!(
        n.contains("::ffff:10.1.0.9".parse().expect("ip")),
        "IPv4-mapped IPv6"
    );
    let host: jiralink_web::Cidr = "127.0.0.1".parse().expect("one host");
    assert!(
        host.contains("127.0.0.1".parse().expect("ip"))
            && !host.contains("127.0.0.2".parse().expect("ip"))
    );
    let v6: jiralink_web::Cidr = "fd00::/8".parse().expect("v6");
    assert!(
        v6.contains("fd12::1".parse().expect("ip"))
            && !v6.contains("10.0.0.1".parse().expect("ip"))
    );
    let all: jiralink_web::Cidr = "0.0.0.0/0".parse().expect("all");
    assert!(all.contains("192.0.2.1".parse().expect("ip")));
    for bad in ["10.0.0.0/33", "nonsense", "10.0.0/8", "::/129"] {
        assert!(bad.parse::<jiralink_web::Cidr>().is_err(), "{bad}");
    }
}
