//! The http rule against real listeners: a plain-http target that is not this machine (a
//! `jira.test` name the client's resolve override maps to a listener on 127.0.0.1) gets zero bytes,
//! whichever URL the secret would have travelled to: site, gateway, OAuth 2 endpoint or proxy.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use jiralink_api::{site, test_connection, Auth, AuthKind, ClientBuilder, Code, RetryPolicy};
use jiralink_sim::{Deployment, Sim};
use secrecy::SecretString;
use tokio::io::AsyncReadExt;

/// A listener on 127.0.0.1 that counts the connections and bytes it receives (and never answers).
struct Canary {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    bytes: Arc<AtomicUsize>,
}

impl Canary {
    async fn start() -> Canary {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let bytes = Arc::new(AtomicUsize::new(0));
        let (c, b) = (connections.clone(), bytes.clone());
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let b = b.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        b.fetch_add(n, Ordering::SeqCst);
                    }
                });
            }
        });
        Canary {
            addr,
            connections,
            bytes,
        }
    }

    /// `scheme://jira.test:port`, which the client resolves to this listener.
    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://jira.test:{}", self.addr.port())
    }

    async fn received(&self) -> (usize, usize) {
        // Anything in flight lands first.
        tokio::time::sleep(Duration::from_millis(150)).await;
        (
            self.connections.load(Ordering::SeqCst),
            self.bytes.load(Ordering::SeqCst),
        )
    }
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn builder(url: &str, kind: AuthKind, auth: Auth, canary: &Canary) -> ClientBuilder {
    let site = site::normalize(url, false).expect("a valid URL");
    ClientBuilder::new(site, kind, auth)
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(2))
        .resolve("jira.test", canary.addr)
}

async fn cloud() -> Sim {
    Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(5)
        .seed(71)
        .start()
        .await
        .expect("sim")
}

fn basic(sim: &Sim, name: &str) -> Auth {
    let id = sim.identity(name).expect("identity");
    Auth::Basic {
        user: id.email.clone().unwrap_or_default(),
        secret: secret(&id.secret),
    }
}

#[tokio::test]
async fn the_resolve_override_reaches_the_canary_so_zero_bytes_means_refused() {
    // Control: an https gateway named jira.test is allowed, and its bytes (a TLS hello) land on the
    // canary; the refusals below are therefore the rule, not a name that goes nowhere.
    let sim = cloud().await;
    let canary = Canary::start().await;
    let client = builder(
        sim.base_url(),
        AuthKind::ScopedToken,
        basic(&sim, "scoped-reader"),
        &canary,
    )
    .gateway_url(&canary.url("https"))
    .build()
    .await
    .expect("client");
    let r = test_connection(&client).await;
    assert!(!r.ok);
    let (conns, bytes) = canary.received().await;
    assert!(conns > 0 && bytes > 0, "{conns} connections, {bytes} bytes");
}

#[tokio::test]
async fn case_1_a_plain_http_gateway_off_loopback_gets_nothing() {
    let sim = cloud().await;
    let canary = Canary::start().await;
    let client = builder(
        sim.base_url(),
        AuthKind::ScopedToken,
        basic(&sim, "scoped-reader"),
        &canary,
    )
    .gateway_url(&canary.url("http"))
    .build()
    .await
    .expect("the cloudId comes from the loopback site");
    let r = test_connection(&client).await;
    assert_eq!(r.code, Some(Code::HttpNotAllowed), "{r:?}");
    assert_eq!(canary.received().await, (0, 0));
}

#[tokio::test]
async fn case_2_the_scoped_token_probe_never_sends_to_a_plain_http_gateway() {
    let sim = cloud().await;
    let canary = Canary::start().await;
    // A scoped token registered as a classic token: the site says 401, which triggers the probe.
    let client = builder(
        sim.base_url(),
        AuthKind::CloudToken,
        basic(&sim, "scoped-reader"),
        &canary,
    )
    .gateway_url(&canary.url("http"))
    .build()
    .await
    .expect("client");
    let r = test_connection(&client).await;
    assert!(!r.ok, "{r:?}");
    assert_ne!(r.code, Some(Code::ScopedTokenOnSiteUrl), "{r:?}");
    assert_eq!(canary.received().await, (0, 0));
}

#[tokio::test]
async fn case_3_an_oauth2_token_url_over_plain_http_gets_nothing() {
    let sim = cloud().await;
    let canary = Canary::start().await;
    let id = sim.identity("oauth2").expect("oauth2 identity");
    let auth = Auth::OAuth2 {
        client_id: id.extra["client_id"].clone(),
        client_secret: secret(&id.extra["client_secret"]),
        refresh_token: secret(&id.secret),
        token_url: format!("{}/oauth/token", canary.url("http")),
    };
    let e = builder(sim.base_url(), AuthKind::Oauth2, auth, &canary)
        .gateway_url(sim.gateway_url())
        .build()
        .await
        .expect_err("refused");
    assert_eq!(e.diagnosis().code, Code::HttpNotAllowed);
    assert_eq!(canary.received().await, (0, 0));

    // The gateway of an OAuth 2 client too (accessible-resources carries the access token).
    let canary = Canary::start().await;
    let auth = Auth::OAuth2 {
        client_id: id.extra["client_id"].clone(),
        client_secret: secret(&id.extra["client_secret"]),
        refresh_token: secret(&id.secret),
        token_url: id.extra["token_url"].clone(),
    };
    let e = builder(sim.base_url(), AuthKind::Oauth2, auth, &canary)
        .gateway_url(&canary.url("http"))
        .build()
        .await
        .expect_err("refused");
    assert_eq!(e.diagnosis().code, Code::HttpNotAllowed);
    assert_eq!(canary.received().await, (0, 0));
}

#[tokio::test]
async fn case_4_a_loopback_http_site_behind_a_remote_proxy_is_refused() {
    let sim = Sim::builder()
        .deployment(Deployment::Datacenter)
        .issues(5)
        .seed(72)
        .start()
        .await
        .expect("sim");
    let canary = Canary::start().await;
    let id = sim.identity("admin").expect("admin");
    let auth = Auth::Basic {
        user: id.username.clone().unwrap_or_default(),
        secret: secret(&id.secret),
    };
    let client = builder(sim.base_url(), AuthKind::Basic, auth.clone(), &canary)
        .proxy(&canary.url("http"))
        .build()
        .await
        .expect("client");
    let r = test_connection(&client).await;
    assert_eq!(r.code, Some(Code::HttpNotAllowed), "{r:?}");
    assert_eq!(canary.received().await, (0, 0));

    // A loopback proxy is this machine: allowed (the canary gets the request, it never answers).
    let client = builder(sim.base_url(), AuthKind::Basic, auth, &canary)
        .proxy(&format!("http://127.0.0.1:{}", canary.addr.port()))
        .timeout(Duration::from_millis(500))
        .build()
        .await
        .expect("client");
    let r = test_connection(&client).await;
    assert_ne!(r.code, Some(Code::HttpNotAllowed), "{r:?}");
    assert!(canary.received().await.1 > 0);
}

#[tokio::test]
async fn the_opt_in_lets_plain_http_through() {
    let sim = cloud().await;
    let canary = Canary::start().await;
    let client = builder(
        sim.base_url(),
        AuthKind::ScopedToken,
        basic(&sim, "scoped-reader"),
        &canary,
    )
    .gateway_url(&canary.url("http"))
    .allow_insecure_http(true)
    .timeout(Duration::from_millis(500))
    .build()
    .await
    .expect("client");
    let r = test_connection(&client).await;
    assert_ne!(r.code, Some(Code::HttpNotAllowed), "{r:?}");
    assert!(canary.received().await.1 > 0);
}

#[tokio::test]
async fn an_answer_over_the_size_limit_is_refused_as_unexpected_response() {
    let sim = Sim::builder()
        .deployment(Deployment::Datacenter)
        .issues(5)
        .seed(73)
        .start()
        .await
        .expect("sim");
    let canary = Canary::start().await;
    let id = sim.identity("admin").expect("admin");
    let auth = Auth::Basic {
        user: id.username.clone().unwrap_or_default(),
        secret: secret(&id.secret),
    };
    let ok = builder(sim.base_url(), AuthKind::Basic, auth.clone(), &canary)
        .build()
        .await
        .expect("client");
    assert!(test_connection(&ok).await.ok);
    let capped = builder(sim.base_url(), AuthKind::Basic, auth, &canary)
        .max_response_bytes(64)
        .build()
        .await
        .expect("client");
    let r = test_connection(&capped).await;
    assert_eq!(r.code, Some(Code::UnexpectedResponse), "{r:?}");
    assert!(
        r.cause
            .as_deref()
            .unwrap_or("")
            .contains("limit of 64 bytes"),
        "{r:?}"
    );
}

#[tokio::test]
async fn an_auth_kind_that_does_not_exist_on_the_deployment_is_auth_kind_mismatch() {
    let canary = Canary::start().await;
    let cloud = cloud().await;
    // A PAT on Cloud.
    let client = builder(
        cloud.base_url(),
        AuthKind::Pat,
        Auth::Bearer {
            token: secret("a-data-center-pat"),
        },
        &canary,
    )
    .build()
    .await
    .expect("client");
    let r = test_connection(&client).await;
    assert_eq!(r.code, Some(Code::AuthKindMismatch), "{r:?}");
    assert!(
        r.fix.as_deref().unwrap_or("").contains("cloud-token"),
        "{r:?}"
    );

    // A Cloud API token on Data Center, at the right URL.
    let dc = Sim::builder()
        .deployment(Deployment::Datacenter)
        .issues(5)
        .seed(75)
        .start()
        .await
        .expect("sim");
    let client = builder(
        dc.base_url(),
        AuthKind::CloudToken,
        Auth::Basic {
            user: "someone@example.com".into(),
            secret: secret("ATATT-cloud-token"),
        },
        &canary,
    )
    .build()
    .await
    .expect("client");
    let r = test_connection(&client).await;
    assert_eq!(r.code, Some(Code::AuthKindMismatch), "{r:?}");
    assert!(
        r.fix.as_deref().unwrap_or("").contains("--auth pat"),
        "{r:?}"
    );
}
