//! OAuth token requests take the one send path: a 503 or a 429 from a token endpoint is retried as
//! any request's, a grant is not sent again once the server may have used it up, the size limit and
//! the http rule hold, and an OAuth 1.0a token request is signed anew at each attempt.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jiralink_api::{site, Auth, AuthKind, ClientBuilder, Code, RetryPolicy};
use secrecy::SecretString;

/// What a fake token server answers its n-th token request (0-based).
type Script = fn(usize) -> Response;

/// A server on 127.0.0.1 with a token endpoint that answers by `script`, the OAuth 1.0a servlets
/// (the same script) and the gateway's accessible-resources naming the server itself as the site.
/// Returns its URL and the `Authorization` headers of the token requests, in order.
async fn token_server(script: Script) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (log, site) = (seen.clone(), url.clone());
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap| {
        let (log, site) = (log.clone(), site.clone());
        async move {
            if uri.path() == "/oauth/token/accessible-resources" {
                let body = format!(r#"[{{"id":"cloud-7","url":"{site}","name":"x","scopes":[]}}]"#);
                return ([("content-type", "application/json")], body).into_response();
            }
            let n = {
                let mut log = log.lock().expect("log");
                log.push(
                    headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned(),
                );
                log.len() - 1
            };
            script(n)
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, seen)
}

fn tokens() -> Response {
    (
        [("content-type", "application/json")],
        r#"{"access_token":"at-1","refresh_token":"rt-2","expires_in":3600,"token_type":"Bearer","scope":"read:jira-work offline_access"}"#,
    )
        .into_response()
}

fn builder(url: &str) -> ClientBuilder {
    let auth = Auth::OAuth2 {
        client_id: "app".into(),
        client_secret: SecretString::from("s3cret".to_owned()),
        refresh_token: SecretString::from("rt-1".to_owned()),
        token_url: format!("{url}/oauth/token"),
    };
    ClientBuilder::new(
        site::normalize(url, false).expect("a loopback URL"),
        AuthKind::Oauth2,
        auth,
    )
    .gateway_url(url)
    .retry(RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        ..RetryPolicy::default()
    })
}

/// Building a client for `url` fails with `code`, after one token request.
async fn refused_after_one_request(url: &str, seen: &Mutex<Vec<String>>, code: Code) {
    let e = builder(url).build().await.expect_err("refused");
    assert_eq!(e.diagnosis().code, code);
    assert_eq!(calls(seen), 1);
}

fn calls(seen: &Mutex<Vec<String>>) -> usize {
    seen.lock().expect("log").len()
}

#[tokio::test]
async fn a_token_endpoint_answering_503_once_is_retried() {
    let (url, seen) = token_server(|n| match n {
        0 => (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response(),
        _ => tokens(),
    })
    .await;
    let client = builder(&url).build().await.expect("the retried grant");
    assert_eq!(calls(&seen), 2);
    assert_eq!(client.cloud_id(), Some("cloud-7"));
    assert_eq!(client.retries(), 1, "the retry is the client's, counted");
}

#[tokio::test]
async fn a_429_from_the_token_endpoint_is_waited_out_as_retry_after_says() {
    let (url, seen) = token_server(|n| match n {
        0 => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            "slow down",
        )
            .into_response(),
        _ => tokens(),
    })
    .await;
    let start = Instant::now();
    let client = builder(&url)
        .build()
        .await
        .expect("the grant after the wait");
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(calls(&seen), 2);
    assert_eq!(client.cloud_id(), Some("cloud-7"));

    // A wait beyond the policy's bound is not kept: rate limited, asked once.
    let (url, seen) = token_server(|_| {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "600")],
            "later",
        )
            .into_response()
    })
    .await;
    refused_after_one_request(&url, &seen, Code::RateLimited).await;
}

#[tokio::test]
async fn a_grant_the_server_may_have_used_up_is_not_sent_again() {
    // A 500 may come after the refresh token was rotated: another try would be refused anyway
    // (invalid_grant) and hide the real failure.
    let (url, seen) =
        token_server(|_| (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response()).await;
    builder(&url).build().await.expect_err("refused");
    assert_eq!(calls(&seen), 1);
    // The OAuth error body is still read: a reused refresh token is named as such.
    let (url, seen) = token_server(|_| {
        (
            StatusCode::FORBIDDEN,
            [("content-type", "application/json")],
            r#"{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}"#,
        )
            .into_response()
    })
    .await;
    refused_after_one_request(&url, &seen, Code::TokenRevoked).await;
}

#[tokio::test]
async fn the_size_limit_holds_for_token_answers() {
    let (url, seen) = token_server(|_| {
        let big = format!(r#"{{"access_token":"{}"}}"#, "a".repeat(64 * 1024));
        ([("content-type", "application/json")], big).into_response()
    })
    .await;
    let e = builder(&url)
        .max_response_bytes(16 * 1024)
        .build()
        .await
        .expect_err("too large");
    let d = e.diagnosis();
    assert_eq!(d.code, Code::UnexpectedResponse);
    assert!(d.cause.contains("limit of 16384 bytes"), "{d:?}");
    assert_eq!(calls(&seen), 1, "a body over the limit is not asked again");
}

#[tokio::test]
async fn an_oauth1_token_request_is_retried_with_a_fresh_signature() {
    let (url, seen) = token_server(|n| match n {
        0 => (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response(),
        _ => "oauth_token=req-1&oauth_token_secret=x&oauth_callback_confirmed=true".into_response(),
    })
    .await;
    let site = site::normalize(&url, false).expect("a loopback URL");
    let (pem, _) = jiralink_api::oauth1::generate_key().expect("a key");
    let sender = ClientBuilder::new(
        site.clone(),
        AuthKind::Oauth1,
        Auth::Bearer {
            token: SecretString::from(String::new()),
        },
    )
    .retry(RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        ..RetryPolicy::default()
    })
    .http()
    .expect("sender");
    let dance = jiralink_api::oauth1::Dance::new(sender, &site, "jiralink", pem);
    assert_eq!(dance.request_token().await.expect("token"), "req-1");
    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen.len(), 2);
    let nonce = |h: &str| jiralink_api::oauth1::parse_header(h)["oauth_nonce"].clone();
    assert!(seen[0].starts_with("OAuth ") && seen[1].starts_with("OAuth "));
    assert_ne!(nonce(&seen[0]), nonce(&seen[1]), "a retry reuses no nonce");
}

#[tokio::test]
async fn a_token_url_off_loopback_over_http_is_refused_before_sending() {
    let (url, seen) = token_server(|_| tokens()).await;
    let auth = Auth::OAuth2 {
        client_id: "app".into(),
        client_secret: SecretString::from("s3cret".to_owned()),
        refresh_token: SecretString::from("rt-1".to_owned()),
        token_url: "http://auth.jira.test/oauth/token".into(),
    };
    let e = ClientBuilder::new(
        site::normalize(&url, false).expect("a loopback URL"),
        AuthKind::Oauth2,
        auth,
    )
    .gateway_url(&url)
    .build()
    .await
    .expect_err("refused");
    assert_eq!(e.diagnosis().code, Code::HttpNotAllowed);
    assert_eq!(calls(&seen), 0);
}
