//! One test per diagnosis code (and the healthy path per auth kind), each produced by a real condition.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use jiralink_api::{
    site, test_connection, Auth, AuthKind, ClientBuilder, Code, ConnectionReport, RetryPolicy,
};
use jiralink_sim::{Deployment, Identity, Sim};
use secrecy::SecretString;

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

pub(crate) fn auth_of(id: &Identity) -> Auth {
    match id.auth.as_str() {
        "pat" | "service-account" => Auth::Bearer {
            token: secret(&id.secret),
        },
        "oauth1" => Auth::OAuth1 {
            consumer_key: id.extra["consumer_key"].clone(),
            private_key_pem: secret(&id.extra["private_key_pem"]),
            token: secret(&id.extra["access_token"]),
        },
        _ => Auth::Basic {
            user: id.email.clone().or(id.username.clone()).unwrap_or_default(),
            secret: secret(&id.secret),
        },
    }
}

pub(crate) fn kind_of(id: &Identity) -> AuthKind {
    id.auth.parse().expect("a known auth kind")
}

pub(crate) fn builder(url: &str, kind: AuthKind, auth: Auth) -> ClientBuilder {
    let site = site::normalize(url, false).expect("a valid URL");
    ClientBuilder::new(site, kind, auth).retry(RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(10),
        ..RetryPolicy::default()
    })
}

async fn test_identity(sim: &Sim, name: &str) -> ConnectionReport {
    let id = sim.identity(name).expect("identity");
    let client = builder(sim.base_url(), kind_of(id), auth_of(id))
        .gateway_url(sim.gateway_url())
        .build()
        .await
        .expect("client");
    test_connection(&client).await
}

/// A site that is not (or not quite) Jira gets some token: the failure is about the site.
fn any_token(url: &str) -> ClientBuilder {
    builder(url, AuthKind::Pat, Auth::Bearer { token: secret("x") })
}

async fn code_of(b: ClientBuilder) -> Code {
    match b.build().await {
        Ok(client) => {
            let r = test_connection(&client).await;
            assert!(!r.ok, "expected a failure: {r:?}");
            r.code.expect("a code")
        }
        Err(e) => e.diagnosis().code,
    }
}

#[tokio::test]
async fn healthy_credentials_of_every_simulated_kind_cost_two_requests() {
    let cloud = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(50)
        .seed(31)
        .start()
        .await
        .expect("sim");
    for name in ["admin", "reader", "scoped-reader", "service-account"] {
        let r = test_identity(&cloud, name).await;
        assert!(r.ok, "{name}: {r:?}");
        let gateway = name == "scoped-reader" || name == "service-account";
        // Gateway kinds spend one more, unauthenticated, request on the cloudId.
        assert_eq!(r.timings.requests, 2, "{name}");
        assert_eq!(
            r.base_url.contains("/ex/jira/"),
            gateway,
            "{name}: {}",
            r.base_url
        );
        assert_eq!(
            r.deployment.as_ref().map(|d| d.kind.as_str()),
            Some("Cloud")
        );
        let account = r.account.expect("account");
        assert!(account.account_id.is_some() && account.time_zone.is_some());
    }
    let dc = Sim::builder()
        .deployment(Deployment::Datacenter)
        .issues(50)
        .seed(32)
        .context_path("/jira")
        .start()
        .await
        .expect("sim");
    for name in ["admin", "pat-admin", "oauth1"] {
        let r = test_identity(&dc, name).await;
        assert!(r.ok, "{name}: {r:?}");
        assert_eq!(r.timings.requests, 2, "{name}");
        assert_eq!(
            r.deployment.as_ref().map(|d| d.kind.as_str()),
            Some("Data Center")
        );
        assert!(r.account.expect("account").username.is_some());
    }
}

#[tokio::test]
async fn identity_failures_are_named() {
    let cloud = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(20)
        .seed(33)
        .start()
        .await
        .expect("sim");
    for (name, code) in [
        ("expired", Code::TokenExpired),
        ("revoked", Code::TokenRevoked),
        ("inactive", Code::AccountInactive),
    ] {
        assert_eq!(test_identity(&cloud, name).await.code, Some(code), "{name}");
    }
    let admin = cloud.identity("admin").expect("admin");
    let wrong = Auth::Basic {
        user: admin.email.clone().unwrap_or_default(),
        secret: secret("not-the-token"),
    };
    assert_eq!(
        code_of(builder(cloud.base_url(), AuthKind::CloudToken, wrong)).await,
        Code::BadCredentials
    );

    // A scoped token registered as a classic cloud token: the site says 401, the gateway says yes.
    let scoped = cloud.identity("scoped-reader").expect("scoped");
    let b = builder(cloud.base_url(), AuthKind::CloudToken, auth_of(scoped))
        .gateway_url(cloud.gateway_url());
    assert_eq!(code_of(b).await, Code::ScopedTokenOnSiteUrl);

    // The scoped token can read but not write.
    let client = builder(cloud.base_url(), AuthKind::ScopedToken, auth_of(scoped))
        .gateway_url(cloud.gateway_url())
        .build()
        .await
        .expect("client");
    let e = client
        .post_json("/rest/api/3/issue", &serde_json::json!({"fields": {}}))
        .await
        .expect_err("write refused");
    assert_eq!(e.diagnosis().code, Code::MissingScope);

    let dc = Sim::builder()
        .deployment(Deployment::Datacenter)
        .issues(20)
        .seed(34)
        .start()
        .await
        .expect("sim");
    for (name, code) in [
        ("expired", Code::TokenExpired),
        ("revoked", Code::TokenRevoked),
        ("inactive", Code::AccountInactive),
        ("captcha", Code::CaptchaRequired),
    ] {
        assert_eq!(test_identity(&dc, name).await.code, Some(code), "{name}");
    }
}

#[tokio::test]
async fn auth_failures_are_not_retried() {
    let dc = Sim::builder()
        .deployment(Deployment::Datacenter)
        .issues(20)
        .seed(35)
        .start()
        .await
        .expect("sim");
    let reader = dc.identity("reader").expect("reader");
    let wrong = Auth::Basic {
        user: reader.username.clone().unwrap_or_default(),
        secret: secret("wrong"),
    };
    let client = builder(dc.base_url(), AuthKind::Basic, wrong)
        .retry(RetryPolicy::default())
        .build()
        .await
        .expect("client");
    let r = test_connection(&client).await;
    assert_eq!(r.code, Some(Code::BadCredentials));
    assert_eq!(
        r.timings.requests, 2,
        "Jira refuses the login at serverInfo already; a 401 is not tried again (the second request \
         is an anonymous serverInfo that tells the deployment, for auth_kind_mismatch)"
    );
    // One failed login, so the right password still works (no CAPTCHA tripped by retries).
    assert!(test_identity(&dc, "reader").await.ok);
}

#[tokio::test]
async fn network_and_tls_failures_are_named() {
    // Nothing listens on a port that was just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let b = builder(
        &format!("http://127.0.0.1:{port}"),
        AuthKind::Pat,
        Auth::Bearer { token: secret("x") },
    );
    assert_eq!(code_of(b).await, Code::ConnectFailed);
    // `.invalid` never resolves (RFC 2606).
    let b = builder(
        "https://jira.example.invalid",
        AuthKind::Pat,
        Auth::Bearer { token: secret("x") },
    );
    assert_eq!(code_of(b).await, Code::DnsFailed);
    // Plain http off loopback is refused before any request.
    let e = site::normalize("http://jira.example.com", false).expect_err("refused");
    assert_eq!(e.diagnosis().map(|d| d.code), Some(Code::HttpNotAllowed));

    let slow = Sim::builder()
        .deployment(Deployment::Datacenter)
        .issues(10)
        .seed(36)
        .latency_ms(2000)
        .start()
        .await
        .expect("sim");
    let id = slow.identity("admin").expect("admin");
    let b = builder(slow.base_url(), AuthKind::Basic, auth_of(id))
        .timeout(Duration::from_millis(300))
        .retry(RetryPolicy::none());
    assert_eq!(code_of(b).await, Code::Timeout);

    let tls = Sim::builder()
        .deployment(Deployment::Datacenter)
        .issues(10)
        .seed(37)
        .tls(true)
        .start()
        .await
        .expect("sim");
    let id = tls.identity("admin").expect("admin");
    assert_eq!(
        code_of(builder(tls.base_url(), AuthKind::Basic, auth_of(id))).await,
        Code::TlsUntrusted
    );
    let pem = std::fs::read(tls.ca_cert().expect("ca")).expect("pem");
    let trusted = builder(tls.base_url(), AuthKind::Basic, auth_of(id))
        .extra_ca_pem(pem.clone())
        .build()
        .await
        .expect("client");
    assert!(
        test_connection(&trusted).await.ok,
        "with its CA the same server is fine"
    );
    // The same CA as DER (what Windows exports) works too.
    let der = {
        use base64::Engine;
        let text = String::from_utf8_lossy(&pem).into_owned();
        let body: String = text
            .split("-----BEGIN CERTIFICATE-----")
            .nth(1)
            .and_then(|r| r.split("-----END CERTIFICATE-----").next())
            .expect("a PEM certificate")
            .split_whitespace()
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("base64")
    };
    let trusted = builder(tls.base_url(), AuthKind::Basic, auth_of(id))
        .extra_ca_pem(der.clone())
        .build()
        .await
        .expect("client");
    assert!(test_connection(&trusted).await.ok, "a DER CA is trusted");
    assert!(jiralink_api::client::ca_certificates(&der[..der.len() - 1]).is_err());
    // The certificate names localhost and 127.0.0.1; reach the same server under another name.
    let port = url::Url::parse(tls.base_url())
        .expect("url")
        .port()
        .expect("port");
    let b = builder(
        &format!("https://jira.other.test:{port}"),
        AuthKind::Basic,
        auth_of(id),
    )
    .extra_ca_pem(pem)
    .resolve("jira.other.test", SocketAddr::from(([127, 0, 0, 1], port)));
    assert_eq!(code_of(b).await, Code::TlsHostnameMismatch);
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_within_a_bound() {
    let sim = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(10)
        .seed(38)
        .rate_limit(1.0)
        .start()
        .await
        .expect("sim");
    let id = sim.identity("admin").expect("admin");
    let no_wait = RetryPolicy {
        max_attempts: 2,
        max_retry_after: Duration::ZERO,
        ..RetryPolicy::default()
    };
    let client = builder(sim.base_url(), AuthKind::CloudToken, auth_of(id))
        .retry(no_wait)
        .build()
        .await
        .expect("client");
    let r = test_connection(&client).await;
    assert_eq!(r.code, Some(Code::RateLimited), "{r:?}");
    // Waiting out Retry-After succeeds.
    let patient = builder(sim.base_url(), AuthKind::CloudToken, auth_of(id))
        .retry(RetryPolicy::default())
        .build()
        .await
        .expect("client");
    assert!(test_connection(&patient).await.ok);

    let broken = fake(|_| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [("content-type", "application/json")],
            r#"{"errorMessages":["boom"]}"#,
        )
            .into_response()
    })
    .await;
    let client = any_token(&broken).build().await.expect("client");
    let r = test_connection(&client).await;
    assert_eq!(r.code, Some(Code::ServerError));
    assert_eq!(
        r.timings.requests, 2,
        "500 is tried again, within max_attempts"
    );
}

/// A small local HTTP server answering every request with `answer(path)`; returns its URL.
async fn fake(answer: fn(&str) -> axum::response::Response) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app =
        axum::Router::new().fallback(move |uri: axum::http::Uri| async move { answer(uri.path()) });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn servers_that_are_not_jira_are_named() {
    let not_jira = fake(|_| {
        (
            [("content-type", "application/json")],
            r#"{"status":"ok","service":"grafana"}"#,
        )
            .into_response()
    })
    .await;
    assert_eq!(code_of(any_token(&not_jira)).await, Code::NotJira);

    let login = fake(|_| ([("content-type", "text/html")], "<html><body><form action=/login>Sign in with SSO: <input type=password></form></body></html>").into_response()).await;
    assert_eq!(code_of(any_token(&login)).await, Code::LoginPage);

    let proxy = fake(|_| {
        (
            StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            [("proxy-authenticate", "Basic realm=\"corp\"")],
            "",
        )
            .into_response()
    })
    .await;
    let b = builder(
        "http://127.0.0.1:9/",
        AuthKind::Pat,
        Auth::Bearer { token: secret("x") },
    )
    .proxy(&proxy);
    assert_eq!(code_of(b).await, Code::ProxyAuthRequired);

    let allowlisted = fake(|path| {
        if path.ends_with("/serverInfo") {
            (
                [("content-type", "application/json")],
                r#"{"version":"9.12.15","deploymentType":"Server","buildNumber":912015}"#,
            )
                .into_response()
        } else {
            (
                StatusCode::FORBIDDEN,
                [("content-type", "application/json")],
                r#"{"errorMessages":["Your IP address is not on the allowlist."]}"#,
            )
                .into_response()
        }
    })
    .await;
    assert_eq!(
        code_of(any_token(&allowlisted)).await,
        Code::ApiAccessBlocked
    );

    let teapot = fake(|path| {
        if path.ends_with("/serverInfo") {
            (
                [("content-type", "application/json")],
                r#"{"version":"9.12.15","deploymentType":"Server"}"#,
            )
                .into_response()
        } else {
            (StatusCode::IM_A_TEAPOT, "").into_response()
        }
    })
    .await;
    assert_eq!(code_of(any_token(&teapot)).await, Code::UnexpectedResponse);

    // Data Center under /jira, registered without its context path.
    let dc = Sim::builder()
        .deployment(Deployment::Datacenter)
        .issues(10)
        .seed(39)
        .context_path("/jira")
        .start()
        .await
        .expect("sim");
    let id = dc.identity("admin").expect("admin");
    let root = dc.base_url().trim_end_matches("/jira").to_owned();
    let client = builder(&root, AuthKind::Basic, auth_of(id))
        .build()
        .await
        .expect("client");
    let r = test_connection(&client).await;
    assert_eq!(r.code, Some(Code::WrongContextPath));
    assert!(
        r.fix
            .as_deref()
            .is_some_and(|f| f.contains(&format!("{root}/jira"))),
        "{r:?}"
    );
}

#[tokio::test]
async fn oauth2_refresh_tokens_rotate() {
    let sim = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(20)
        .seed(40)
        .start()
        .await
        .expect("sim");
    let id = sim.identity("oauth2").expect("oauth2 identity").clone();
    let auth = |refresh: &str| Auth::OAuth2 {
        client_id: id.extra["client_id"].clone(),
        client_secret: secret(&id.extra["client_secret"]),
        refresh_token: secret(refresh),
        token_url: id.extra["token_url"].clone(),
    };
    let client = builder(sim.base_url(), AuthKind::Oauth2, auth(&id.secret))
        .gateway_url(sim.gateway_url())
        .build()
        .await
        .expect("client");
    let r = test_connection(&client).await;
    assert!(r.ok, "{r:?}");
    assert!(r.base_url.contains(&format!("/ex/jira/{}", sim.cloud_id())));
    let rotated = {
        use secrecy::ExposeSecret;
        client
            .rotated_refresh_token()
            .expect("a new refresh token")
            .expose_secret()
            .to_owned()
    };
    assert_ne!(rotated, id.secret);
    // The used refresh token is gone; the rotated one works.
    let again = builder(sim.base_url(), AuthKind::Oauth2, auth(&id.secret))
        .gateway_url(sim.gateway_url())
        .build()
        .await
        .expect_err("reused");
    assert_eq!(again.diagnosis().code, Code::TokenRevoked);
    let next = builder(sim.base_url(), AuthKind::Oauth2, auth(&rotated))
        .gateway_url(sim.gateway_url())
        .build()
        .await
        .expect("rotated token works");
    assert!(test_connection(&next).await.ok);
    // The OAuth app's token has read scopes only: writes are refused as missing scope.
    let e = next
        .post_json("/rest/api/3/issue", &serde_json::json!({"fields": {}}))
        .await
        .expect_err("write");
    assert_eq!(e.diagnosis().code, Code::MissingScope);
}

#[tokio::test]
async fn a_wrong_shape_myself_after_serverinfo_is_unexpected_response() {
    const MYSELF: [&str; 5] = ["[]", "{}", "null", "{\"displayName\": \"x\"", ""];
    // The context path picks the answer: /v0 ... /v4.
    let server = fake(|path| {
        let body = if path.ends_with("/serverInfo") {
            r#"{"baseUrl":"http://x","version":"9.12.0","versionNumbers":[9,12,0],"deploymentType":"Server","buildNumber":9120000}"#
        } else {
            let i: usize = path[2..3].parse().unwrap_or(0);
            MYSELF[i]
        };
        ([("content-type", "application/json")], body).into_response()
    })
    .await;
    for (i, myself) in MYSELF.iter().enumerate() {
        let code = code_of(any_token(&format!("{server}/v{i}"))).await;
        assert_eq!(code, Code::UnexpectedResponse, "myself answered {myself:?}");
    }
}

#[tokio::test]
async fn a_404_page_mentioning_jira_with_no_jira_anywhere_is_not_jira() {
    let server = fake(|_| {
        (
            StatusCode::NOT_FOUND,
            [("content-type", "text/html")],
            "<html><body>Page not found. Looking for Jira? Ask IT.</body></html>",
        )
            .into_response()
    })
    .await;
    assert_eq!(code_of(any_token(&server)).await, Code::NotJira);
}
