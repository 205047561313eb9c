//! The simulator's OAuth 2.0 (3LO) consent as the web app meets it: the authorization server's
//! refusals (unknown app, unregistered callback, wrong audience or response type), the user's
//! refusal, and codes that work once for their client and redirect URI.

use std::collections::HashMap;

use jiralink_sim::{Deployment, Sim};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consent_refuses_what_atlassian_refuses_and_codes_work_once() {
    let sim = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(20)
        .start()
        .await
        .expect("simulator");
    let app = sim
        .identity("oauth2")
        .expect("oauth2 identity")
        .extra
        .clone();
    let email = sim
        .identity("admin")
        .and_then(|i| i.email.clone())
        .expect("email");
    let callback = "http://127.0.0.1:9/oauth2/callback";
    assert!(sim.add_oauth2_callback(&app["client_id"], callback));
    assert!(!sim.add_oauth2_callback("no-such-app", callback));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let base = sim.base_url().to_owned();
    let good: Vec<(&str, &str)> = vec![
        ("audience", "api.atlassian.com"),
        ("client_id", &app["client_id"]),
        ("scope", "read:jira-work offline_access"),
        ("redirect_uri", callback),
        ("state", "s1"),
        ("response_type", "code"),
        ("prompt", "consent"),
    ];
    let with = |k: &str, v: &str| -> Vec<(String, String)> {
        good.iter()
            .map(|(a, b)| {
                (
                    a.to_string(),
                    if *a == k { v.to_owned() } else { b.to_string() },
                )
            })
            .collect()
    };
    for (k, v, says) in [
        ("client_id", "nope", "Invalid client_id"),
        (
            "redirect_uri",
            "http://127.0.0.1:9/elsewhere",
            "callback URL",
        ),
        ("audience", "", "audience"),
        ("response_type", "token", "response_type"),
    ] {
        let r = http
            .get(format!("{base}/authorize"))
            .query(&with(k, v))
            .send()
            .await
            .expect("authorize");
        assert_eq!(r.status(), 400, "{k}={v}");
        assert!(
            r.headers().get("location").is_none(),
            "no redirect on {k}={v}"
        );
        assert!(r.text().await.expect("body").contains(says), "{k}={v}");
    }
    let page = http
        .get(format!("{base}/authorize"))
        .query(&good)
        .send()
        .await
        .expect("authorize");
    assert_eq!(page.status(), 200);
    assert!(page
        .text()
        .await
        .expect("page")
        .contains("<li>offline_access</li>"));

    let decide = |decision: &'static str| {
        let mut form: Vec<(String, String)> = with("", "");
        form.push(("decision".into(), decision.into()));
        form.push(("email".into(), email.clone()));
        http.post(format!("{base}/authorize")).form(&form).send()
    };
    let denied = decide("deny").await.expect("deny");
    assert_eq!(denied.status(), 302);
    let to =
        url::Url::parse(denied.headers()["location"].to_str().expect("location")).expect("url");
    let q: HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("access_denied", "s1")
    );

    let accepted = decide("accept").await.expect("accept");
    assert_eq!(accepted.status(), 302);
    let to =
        url::Url::parse(accepted.headers()["location"].to_str().expect("location")).expect("url");
    assert!(to.as_str().starts_with(callback));
    let q: HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "s1");
    let code = q["code"].clone();

    let exchange = |secret: &str, redirect: &str| {
        http.post(&app["token_url"])
            .json(&json!({"grant_type": "authorization_code", "client_id": app["client_id"], "client_secret": secret, "code": code, "redirect_uri": redirect}))
            .send()
    };
    let r = exchange("wrong", callback).await.expect("token");
    assert_eq!(r.status(), 401, "a wrong client secret");
    let r = exchange(&app["client_secret"], callback)
        .await
        .expect("token");
    assert_eq!(r.status(), 200);
    let tokens: Value = r.json().await.expect("json");
    assert!(
        tokens["access_token"].is_string() && tokens["refresh_token"].is_string(),
        "{tokens}"
    );
    assert_eq!(tokens["scope"], "read:jira-work offline_access");
    let again = exchange(&app["client_secret"], callback)
        .await
        .expect("token");
    assert_eq!(again.status(), 403, "a code works once");
    let body: Value = again.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant");
}
