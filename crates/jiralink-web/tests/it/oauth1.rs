//! OAuth 1.0a from the app (Data Center application links): the approval link from a request
//! token, the user's approval in Jira (the simulator's authorize page shows the verification
//! code), the verifier step that trades it for an access token, the credential tested and kept
//! for its owner only; bad keys and unknown consumers refused with their cause; the private key
//! in no answer.

use serde_json::json;

use crate::support::{Client, Harness};

/// `POST /api/oauth1/start` with `body`, as `c`.
async fn start(c: &Client, body: serde_json::Value) -> (u16, serde_json::Value, String) {
    c.send("POST", "/api/oauth1/start", Some(&body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_link_is_approved_with_its_verifier_and_kept_for_its_owner() {
    let h = Harness::start_datacenter("oauth1", 20).await;
    let link = h.sim.identity("oauth1").expect("oauth1 identity").clone();
    let admin = h.sim.identity("admin").expect("admin").clone();
    let ann = h.sign_in("ann").await;
    let bob = h.sign_in("bob").await;
    let vic = h.sign_in("vic").await;
    let pem = link.extra["private_key_pem"].clone();
    let body = |consumer_key: &str, key: &str| {
        json!({"name": "dc-link", "description": "application link", "url": h.sim.base_url(),
               "auth": "oauth1", "consumer_key": consumer_key, "private_key": key})
    };
    let mut seen = Vec::new();

    let (s, j, _) = start(&vic, body(&link.extra["consumer_key"], &pem)).await;
    assert_eq!(s, 403, "a viewer adds no credential: {j}");
    let (s, j, _) = start(&ann, body(&link.extra["consumer_key"], "not a key")).await;
    assert_eq!((s, j["error"].clone()), (400, json!("bad_request")), "{j}");
    assert!(
        j["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("private_key: "),
        "{j}"
    );
    let (s, j, text) = start(&ann, body("no-such-consumer", &pem)).await;
    assert_eq!(
        (s, j["error"].clone()),
        (422, json!("connection_failed")),
        "{j}"
    );
    seen.push(text);
    let (s, j, _) = ann
        .send(
            "POST",
            "/api/credentials",
            Some(&body(&link.extra["consumer_key"], &pem)),
        )
        .await;
    assert_eq!(s, 400, "oauth1 is added through the approval step: {j}");

    let (s, started, text) = start(&ann, body(&link.extra["consumer_key"], &pem)).await;
    assert_eq!(s, 200, "{started}");
    seen.push(text);
    let url = started["authorize_url"]
        .as_str()
        .expect("authorize_url")
        .to_owned();
    assert!(
        url.starts_with(&format!(
            "{}/plugins/servlet/oauth/authorize?oauth_token=",
            h.sim.base_url()
        )),
        "{url}"
    );
    let pending = started["pending"].as_str().expect("pending").to_owned();
    // The user approves in Jira, signed in there (here: the admin), and reads the code.
    let verifier = h
        .sim
        .test_api()
        .approve_oauth1(&url, admin.username.as_deref().unwrap_or_default())
        .expect("a verification code");

    let finish = |verifier: &str| json!({"pending": pending, "verifier": verifier});
    let (s, j, _) = bob
        .send("POST", "/api/oauth1/finish", Some(&finish(&verifier)))
        .await;
    assert_eq!(s, 404, "another user cannot finish ann's approval: {j}");
    let (s, j, _) = ann
        .send("POST", "/api/oauth1/finish", Some(&finish(" ")))
        .await;
    assert_eq!(s, 400, "the verification code is required: {j}");
    let (s, j, text) = ann
        .send("POST", "/api/oauth1/finish", Some(&finish(&verifier)))
        .await;
    assert_eq!(s, 201, "{j}");
    seen.push(text);
    assert_eq!(j["test"]["ok"], true, "{j}");
    assert_eq!(j["credential"]["auth"], "oauth1", "{j}");
    assert_eq!(j["credential"]["owner"], "ann", "{j}");
    let (s, _, _) = ann
        .send("POST", "/api/oauth1/finish", Some(&finish(&verifier)))
        .await;
    assert_eq!(s, 404, "an approval is used once");

    let (_, j, text) = ann.send("GET", "/api/credentials", None).await;
    seen.push(text);
    assert_eq!(j["credentials"][0]["name"], "dc-link", "{j}");
    let (_, j, _) = bob.send("GET", "/api/credentials", None).await;
    assert_eq!(j["credentials"].as_array().map(Vec::len), Some(0), "{j}");
    let (s, j, text) = ann
        .send("POST", "/api/credentials/dc-link/test", None)
        .await;
    seen.push(text);
    assert_eq!((s, j["ok"].clone()), (200, json!(true)), "{j}");
    let (_, _, text) = ann.send("GET", "/credentials", None).await;
    seen.push(text);

    // The private key is in no answer (its longest line stands for it).
    let key_line = pem.lines().max_by_key(|l| l.len()).expect("a key line");
    assert!(key_line.len() > 40);
    for t in &seen {
        assert!(!t.contains(key_line), "an answer holds the private key");
    }
}
