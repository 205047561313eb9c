//! Authentication and permissions: every seeded identity, the gateway, scopes, expiry, revocation,
//! deactivation, CAPTCHA lockout, OAuth 1.0a, and browse permissions hiding what a user may not see.

use jiralink_sim::{Deployment, Sim};
use serde_json::json;

use crate::support::{assert_error_body, seeded, start_sim, Auth, Client};

fn gateway(sim: &Sim, auth: Auth) -> Client {
    Client::new(
        &format!("{}/ex/jira/{}", sim.gateway_url(), sim.cloud_id()),
        auth,
    )
}

#[tokio::test]
async fn cloud_identities_authenticate_as_on_real_cloud() {
    let sim = start_sim(Deployment::Cloud, 300, 11).await;
    for name in [
        "admin",
        "reader",
        "scoped-reader",
        "service-account",
        "expired",
        "revoked",
        "inactive",
    ] {
        assert!(sim.identity(name).is_some(), "identity {name} is seeded");
    }
    let admin = Client::as_identity(&sim, "admin");
    assert_eq!(admin.get("/rest/api/3/myself").await.status, 200);

    // tenant_info answers without credentials and names the cloudId.
    let anon = Client::new(sim.base_url(), Auth::None);
    let t = anon.get("/_edge/tenant_info").await;
    assert_eq!(t.body["cloudId"], sim.cloud_id());
    assert_eq!(anon.get("/rest/api/3/serverInfo").await.status, 200);
    assert_eq!(anon.get("/rest/api/3/myself").await.status, 401);

    // A scoped token works only through the gateway, and only within its scopes.
    let scoped = sim.identity("scoped-reader").expect("scoped");
    let on_site = Client::as_identity(&sim, "scoped-reader")
        .get("/rest/api/3/myself")
        .await;
    assert_eq!(on_site.status, 401);
    let gw = gateway(&sim, Auth::of(scoped));
    let me = gw.get("/rest/api/3/myself").await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert!(
        me.body["self"]
            .as_str()
            .is_some_and(|s| s.contains("/ex/jira/")),
        "self links point at the gateway"
    );
    assert_eq!(gw.get("/rest/api/3/project/search").await.status, 200);
    let write = gw
        .post("/rest/api/3/issue", json!({"fields": {"summary": "x"}}))
        .await;
    assert_eq!(write.status, 401);
    assert_eq!(write.body["message"], "Unauthorized; scope does not match");
    let wrong_site = Client::new(
        &format!(
            "{}/ex/jira/00000000-0000-0000-0000-000000000000",
            sim.gateway_url()
        ),
        Auth::of(scoped),
    );
    assert_eq!(wrong_site.get("/rest/api/3/myself").await.status, 404);

    // A service account's Bearer token: gateway only.
    let sa = sim.identity("service-account").expect("service account");
    assert_eq!(
        Client::as_identity(&sim, "service-account")
            .get("/rest/api/3/myself")
            .await
            .status,
        401
    );
    let me = gateway(&sim, Auth::of(sa)).get("/rest/api/3/myself").await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["accountType"], "app");

    // Expired, revoked, deactivated and wrong secrets: 401 with a message that says which.
    for (name, word) in [
        ("expired", "expired"),
        ("revoked", "revoked"),
        ("inactive", "inactive"),
    ] {
        let r = Client::as_identity(&sim, name)
            .get("/rest/api/3/myself")
            .await;
        assert_eq!(r.status, 401, "{name}");
        assert_error_body(&r);
        assert!(
            r.body.to_string().to_lowercase().contains(word),
            "{name}: {}",
            r.body
        );
    }
    let email = sim
        .identity("admin")
        .and_then(|a| a.email.clone())
        .expect("email");
    let wrong = Client::new(sim.base_url(), Auth::Basic(email, "not-the-token".into()));
    assert_eq!(wrong.get("/rest/api/3/myself").await.status, 401);
}

#[tokio::test]
async fn browse_permission_hides_projects_and_issues() {
    let sim = start_sim(Deployment::Cloud, 400, 12).await;
    let admin = Client::as_identity(&sim, "admin");
    let reader = Client::as_identity(&sim, "reader");
    let all = admin
        .get("/rest/api/3/project/search?maxResults=100")
        .await
        .body;
    let some = reader
        .get("/rest/api/3/project/search?maxResults=100")
        .await
        .body;
    let (all_n, some_n) = (
        all["total"].as_u64().expect("total"),
        some["total"].as_u64().expect("total"),
    );
    assert!(
        some_n > 0 && some_n < all_n,
        "reader sees {some_n} of {all_n} projects"
    );
    let visible: Vec<&str> = some["values"]
        .as_array()
        .expect("values")
        .iter()
        .filter_map(|p| p["key"].as_str())
        .collect();
    let hidden = all["values"]
        .as_array()
        .expect("values")
        .iter()
        .filter_map(|p| p["key"].as_str())
        .find(|k| !visible.contains(k))
        .expect("a hidden project");

    // Hidden project: 404 directly, absent from search, its issues 404.
    assert_eq!(
        reader
            .get(&format!("/rest/api/3/project/{hidden}"))
            .await
            .status,
        404
    );
    let jql = format!("project = {hidden}");
    let q = url::form_urlencoded::byte_serialize(jql.as_bytes()).collect::<String>();
    let admin_hits = admin
        .get(&format!(
            "/rest/api/3/search/jql?jql={q}&fields=key&maxResults=1"
        ))
        .await;
    let hidden_key = admin_hits.body["issues"][0]["key"]
        .as_str()
        .expect("an issue in the hidden project")
        .to_owned();
    assert_eq!(
        reader
            .get(&format!("/rest/api/3/issue/{hidden_key}"))
            .await
            .status,
        404
    );
    let reader_search = reader.get(&format!("/rest/api/3/search/jql?jql={q}")).await;
    assert!(
        reader_search.status == 400
            || reader_search.body["issues"]
                .as_array()
                .is_some_and(Vec::is_empty),
        "{}",
        reader_search.body
    );

    // The reader may browse but not create.
    let create = reader.post("/rest/api/3/issue", json!({"fields": {"project": {"key": visible[0]}, "issuetype": {"name": "Task"}, "summary": "nope"}})).await;
    assert!(
        create.status == 403 || create.status == 400,
        "{}",
        create.body
    );
    let perms = reader.get(&format!("/rest/api/3/mypermissions?projectKey={}&permissions=BROWSE_PROJECTS,CREATE_ISSUES,ADMINISTER", visible[0])).await;
    assert_eq!(
        perms.body["permissions"]["BROWSE_PROJECTS"]["havePermission"],
        true
    );
    assert_eq!(
        perms.body["permissions"]["CREATE_ISSUES"]["havePermission"],
        false
    );
    assert_eq!(
        perms.body["permissions"]["ADMINISTER"]["havePermission"],
        false
    );
    let admin_perms = admin
        .get("/rest/api/3/mypermissions?permissions=ADMINISTER")
        .await;
    assert_eq!(
        admin_perms.body["permissions"]["ADMINISTER"]["havePermission"],
        true
    );
}

#[tokio::test]
async fn datacenter_identities_pats_captcha_and_context_path() {
    let sim = seeded(Deployment::Datacenter, 200, 13)
        .context_path("/jira")
        .start()
        .await
        .expect("sim");
    for name in [
        "admin",
        "reader",
        "pat-admin",
        "oauth1",
        "expired",
        "revoked",
        "inactive",
        "captcha",
    ] {
        assert!(sim.identity(name).is_some(), "identity {name} is seeded");
    }
    assert_eq!(
        Client::as_identity(&sim, "admin")
            .get("/rest/api/2/myself")
            .await
            .status,
        200
    );
    let pat = Client::as_identity(&sim, "pat-admin")
        .get("/rest/api/2/myself")
        .await;
    assert_eq!(pat.status, 200, "{}", pat.body);
    for (name, word) in [("expired", "expired"), ("revoked", "revoked")] {
        let r = Client::as_identity(&sim, name)
            .get("/rest/api/2/myself")
            .await;
        assert_eq!(r.status, 401, "{name}");
        assert!(
            r.body.to_string().to_lowercase().contains(word),
            "{name}: {}",
            r.body
        );
    }
    assert_eq!(
        Client::as_identity(&sim, "inactive")
            .get("/rest/api/2/myself")
            .await
            .status,
        401
    );

    // The CAPTCHA account is refused even with its right password, with Seraph's headers.
    let r = Client::as_identity(&sim, "captcha")
        .get("/rest/api/2/myself")
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.headers["x-seraph-loginreason"], "AUTHENTICATION_DENIED");
    assert!(r.headers["x-authentication-denied-reason"]
        .to_str()
        .expect("ascii")
        .starts_with("CAPTCHA_CHALLENGE"));

    // Three wrong passwords lock the reader behind a CAPTCHA too.
    let reader = sim.identity("reader").expect("reader");
    let user = reader.username.clone().expect("username");
    let wrong = Client::new(sim.base_url(), Auth::Basic(user.clone(), "wrong".into()));
    for _ in 0..3 {
        let r = wrong.get("/rest/api/2/myself").await;
        assert_eq!(r.status, 401);
        assert_eq!(r.headers["x-seraph-loginreason"], "AUTHENTICATED_FAILED");
    }
    let locked = Client::new(sim.base_url(), Auth::Basic(user, reader.secret.clone()))
        .get("/rest/api/2/myself")
        .await;
    assert_eq!(locked.status, 403);

    // Without the context path nothing answers like Jira's API.
    let root = sim.base_url().trim_end_matches("/jira").to_owned();
    let r = Client::new(&root, Auth::of(sim.identity("admin").expect("admin")))
        .get("/rest/api/2/serverInfo")
        .await;
    assert_eq!(r.status, 404);
    assert!(r.body.is_string(), "an HTML page, not JSON");
}

/// One signed step of the OAuth 1.0a dance by the `oauth1` identity's consumer (`step`:
/// `request-token` or `access-token`, with the request token for the second): the form Jira answers.
async fn dance_step(
    http: &reqwest::Client,
    sim: &Sim,
    step: &str,
    token: Option<&str>,
    params: &[(&str, &str)],
    nonce: &str,
) -> std::collections::HashMap<String, String> {
    let id = sim.identity("oauth1").expect("oauth1 identity");
    let url = format!("{}/plugins/servlet/oauth/{step}", sim.base_url());
    let authorization = jiralink_sim::oauth1::authorization_header(
        "POST",
        &url,
        &[],
        &id.extra["consumer_key"],
        &id.extra["private_key_pem"],
        token,
        params,
        chrono_now(),
        nonce,
    )
    .expect("sign");
    let body = http
        .post(url)
        .header("Authorization", authorization)
        .send()
        .await
        .expect("token request")
        .text()
        .await
        .expect("text");
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

/// A client of the OAuth 1.0a identity: signs each request with its consumer key and private key.
async fn oauth_get(sim: &Sim, path: &str, token: &str, nonce: &str) -> reqwest::Response {
    let id = sim.identity("oauth1").expect("oauth1 identity");
    let url = format!("{}{path}", sim.base_url());
    let now = chrono_now();
    let header = jiralink_sim::oauth1::authorization_header(
        "GET",
        &url,
        &[],
        &id.extra["consumer_key"],
        &id.extra["private_key_pem"],
        Some(token),
        &[],
        now,
        nonce,
    )
    .expect("sign");
    reqwest::Client::new()
        .get(url)
        .header("Authorization", header)
        .send()
        .await
        .expect("response")
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

#[tokio::test]
async fn datacenter_oauth1_signed_requests_and_the_dance() {
    let sim = seeded(Deployment::Datacenter, 50, 14)
        .context_path("/jira")
        .start()
        .await
        .expect("sim");
    let id = sim.identity("oauth1").expect("oauth1").clone();
    assert!(id.extra["private_key_pem"].starts_with("-----BEGIN PRIVATE KEY-----"));
    let me = oauth_get(&sim, "/rest/api/2/myself", &id.extra["access_token"], "a1").await;
    assert_eq!(me.status(), 200);
    let body: serde_json::Value = me.json().await.expect("json");
    assert_eq!(body["name"].as_str(), id.username.as_deref());
    // A replayed nonce and a forged token are refused with OAuth's problem names.
    let again = oauth_get(&sim, "/rest/api/2/myself", &id.extra["access_token"], "a1").await;
    assert_eq!(again.status(), 401);
    assert!(again.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .contains("nonce_used"));
    let forged = oauth_get(&sim, "/rest/api/2/myself", "forged-token", "a2").await;
    assert_eq!(forged.status(), 401);

    // The dance: request token, approval by the admin, access token, then a signed call.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form = dance_step(
        &http,
        &sim,
        "request-token",
        None,
        &[("oauth_callback", "https://app.example/cb")],
        "d1",
    )
    .await;
    let rt = form.get("oauth_token").expect("a request token").clone();
    assert_eq!(
        form.get("oauth_callback_confirmed").map(String::as_str),
        Some("true")
    );
    let admin = sim.identity("admin").expect("admin");
    let approve = http
        .get(format!(
            "{}/plugins/servlet/oauth/authorize?oauth_token={rt}",
            sim.base_url()
        ))
        .basic_auth(
            admin.username.as_deref().unwrap_or_default(),
            Some(&admin.secret),
        )
        .send()
        .await
        .expect("authorize");
    assert_eq!(approve.status(), 302);
    let location = approve.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(location.starts_with("https://app.example/cb?oauth_token="));
    let verifier = url::Url::parse(&location)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "oauth_verifier")
        .map(|(_, v)| v.into_owned())
        .expect("verifier");
    let form = dance_step(
        &http,
        &sim,
        "access-token",
        Some(&rt),
        &[("oauth_verifier", &verifier)],
        "d2",
    )
    .await;
    let at = form.get("oauth_token").expect("an access token").clone();
    let me = oauth_get(&sim, "/rest/api/2/myself", &at, "d3").await;
    assert_eq!(me.status(), 200);
    let body: serde_json::Value = me.json().await.expect("json");
    assert_eq!(
        body["name"].as_str(),
        admin.username.as_deref(),
        "the token acts as the user who approved it"
    );
}

/// The dance without a callback (`oob`, what a consumer with no web page of its own asks for):
/// the approval page signs the user in with Jira's login parameters and shows the verification
/// code instead of redirecting; a wrong password gets the login form, and approves nothing.
#[tokio::test]
async fn datacenter_oauth1_approval_page_without_a_callback_shows_the_verifier() {
    let sim = seeded(Deployment::Datacenter, 20, 15)
        .start()
        .await
        .expect("sim");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form = dance_step(
        &http,
        &sim,
        "request-token",
        None,
        &[("oauth_callback", "oob")],
        "o1",
    )
    .await;
    let rt = form.get("oauth_token").expect("a request token").clone();
    let admin = sim.identity("admin").expect("admin");
    let user = admin.username.clone().unwrap_or_default();
    let page = |password: String| {
        let url = url::Url::parse_with_params(
            &format!("{}/plugins/servlet/oauth/authorize", sim.base_url()),
            &[
                ("oauth_token", rt.as_str()),
                ("os_username", user.as_str()),
                ("os_password", password.as_str()),
            ],
        )
        .expect("url");
        http.get(url).send()
    };
    let wrong = page(format!("{}-wrong", admin.secret)).await.expect("page");
    assert_eq!(wrong.status(), 401);
    assert!(wrong
        .text()
        .await
        .expect("html")
        .contains("Log in to approve access"));
    let approved = page(admin.secret.clone()).await.expect("page");
    assert_eq!(approved.status(), 200, "no redirect without a callback");
    let html = approved.text().await.expect("html");
    let verifier = html
        .split("<b id=\"verifier\">")
        .nth(1)
        .and_then(|rest| rest.split("</b>").next())
        .expect("the page shows the verification code")
        .to_owned();
    let form = dance_step(
        &http,
        &sim,
        "access-token",
        Some(&rt),
        &[("oauth_verifier", &verifier)],
        "o2",
    )
    .await;
    let at = form.get("oauth_token").expect("an access token").clone();
    let me = oauth_get(&sim, "/rest/api/2/myself", &at, "o3").await;
    assert_eq!(me.status(), 200);
    let body: serde_json::Value = me.json().await.expect("json");
    assert_eq!(body["name"].as_str(), admin.username.as_deref());
}

/// Every operation the simulator's router serves, as `(METHOD, path template)`, read from the
/// `.route(...)` calls of `src/routes/*.rs`: a route added anywhere is checked by the scope test.
fn served_operations() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("src/routes")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    files.sort();
    for file in files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        // Where each route module is nested in the router (routes/mod.rs). `oauth.rs` serves the
        // Data Center OAuth 1.0a dance (before authentication); `mod.rs` the simulator's own
        // `/__sim/` endpoints.
        let prefix = match name {
            "platform.rs" | "issues.rs" | "search.rs" | "writes.rs" | "admin.rs" | "meta.rs" => {
                "/rest/api/3"
            }
            "software.rs" => "/rest/software/1.0",
            "agile.rs" => "/rest/agile/1.0",
            "oauth.rs" | "mod.rs" => continue,
            other => panic!(
                "src/routes/{other} is not in served_operations' prefix map (tests/it/auth.rs): \
                 add the prefix its routes are nested under"
            ),
        };
        let text = std::fs::read_to_string(&file).expect("a route module");
        for (i, _) in text.match_indices(".route(") {
            let rest = &text[i + ".route(".len()..];
            let Some(open) = rest.find('"') else { continue };
            let Some(len) = rest[open + 1..].find('"') else {
                continue;
            };
            let path = &rest[open + 1..open + 1 + len];
            // The method router: up to the parenthesis that closes `.route(`.
            let mut depth = 1;
            let mut end = rest.len();
            for (j, c) in rest.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = j;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let chain = &rest[open + 1 + len + 1..end];
            for method in ["get", "post", "put", "delete", "patch"] {
                let called = chain.match_indices(&format!("{method}(")).any(|(k, _)| {
                    k == 0
                        || !chain[..k]
                            .chars()
                            .next_back()
                            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
                });
                if called {
                    out.push((method.to_ascii_uppercase(), format!("{prefix}{path}")));
                }
            }
        }
    }
    out
}

/// Atlassian's scope rule, enforced on every operation the simulator serves: a scoped token with
/// exactly one of the operation's scope sets gets through; the same set less any one scope gets the
/// gateway's 401 "scope does not match" (unless what is left still satisfies another set).
#[tokio::test]
async fn every_served_operation_needs_the_scopes_atlassian_lists() {
    use jiralink_sim::model::{Token, TokenKind};
    let sim = start_sim(Deployment::Cloud, 40, 5).await;
    let ops = served_operations();
    assert!(
        ops.len() > 60,
        "the route scan found the router's operations: {ops:?}"
    );
    let reader = sim.identity("scoped-reader").expect("scoped-reader");
    let user = sim.shared().site.read().tokens[&reader.secret].user;
    let email = reader.email.clone().expect("email");
    let mut minted: std::collections::HashMap<Vec<String>, String> = Default::default();
    let mut token_for = |scopes: Vec<String>| -> String {
        let n = minted.len();
        minted
            .entry(scopes.clone())
            .or_insert_with(|| {
                let secret = format!("ATATT3-scope-test-{n}");
                sim.test_api().add_token(Token {
                    secret: secret.clone(),
                    user,
                    kind: TokenKind::Scoped { scopes },
                    created: 0,
                    expires: None,
                    revoked: false,
                });
                secret
            })
            .clone()
    };
    let mut checked = 0;
    for (method, template) in &ops {
        let path: String = template
            .split('/')
            .map(|s| if s.starts_with('{') { "1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let op = jiralink_sim::scopes::operation(method, &path)
            .unwrap_or_else(|| panic!("{method} {template} is served but not in the scope table"));
        let satisfied = |held: &[String]| {
            op.alternatives
                .iter()
                .any(|alt| alt.iter().all(|s| held.iter().any(|h| h == s)))
        };
        let body = (method != "GET" && method != "DELETE").then(|| json!({}));
        let send = |secret: String| {
            let client = gateway(&sim, Auth::Basic(email.clone(), secret));
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
            let path = path.clone();
            let body = body.clone();
            async move { client.send(method, &path, body).await }
        };
        assert!(
            !op.alternatives.is_empty(),
            "{method} {template}: the specs list no OAuth scopes for it"
        );
        for set in &op.alternatives {
            let exact: Vec<String> = set.iter().map(|s| s.to_string()).collect();
            let r = send(token_for(exact.clone())).await;
            assert_ne!(
                r.status, 401,
                "{method} {template} with exactly {exact:?}: {}",
                r.body
            );
            checked += 1;
            for missing in set {
                let less: Vec<String> = exact.iter().filter(|s| s != missing).cloned().collect();
                let r = send(token_for(less.clone())).await;
                if satisfied(&less) {
                    assert_ne!(r.status, 401, "{method} {template} with {less:?}");
                } else {
                    assert_eq!(
                        r.status, 401,
                        "{method} {template} without {missing}: {}",
                        r.body
                    );
                    assert_eq!(
                        r.body,
                        json!({"code": 401, "message": "Unauthorized; scope does not match"}),
                        "{method} {template} without {missing}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 300, "{checked} requests checked");
}

/// The seeded scoped identities: classic plus Agile, granular only, and classic without Agile.
#[tokio::test]
async fn scoped_identities_read_what_their_scopes_allow() {
    let sim = start_sim(Deployment::Cloud, 60, 9).await;
    let as_gateway = |name: &str| gateway(&sim, Auth::of(sim.identity(name).expect(name)));
    let board_id = {
        let admin = Client::as_identity(&sim, "admin");
        let boards = admin.get("/rest/agile/1.0/board").await;
        boards.body["values"][0]["id"].as_i64().expect("a board")
    };
    let reads = [
        "/rest/api/3/myself".to_owned(),
        "/rest/api/3/project/search".to_owned(),
        "/rest/api/3/field".to_owned(),
        "/rest/api/3/users/search".to_owned(),
        "/rest/api/3/search/jql?jql=created%20%3E%3D%20-3650d".to_owned(),
    ];
    let agile = [
        "/rest/agile/1.0/board".to_owned(),
        format!("/rest/agile/1.0/board/{board_id}/sprint"),
    ];
    for name in ["scoped-reader", "granular-reader", "service-account"] {
        let c = as_gateway(name);
        for path in reads.iter().chain(&agile) {
            let r = c.get(path).await;
            assert_eq!(r.status, 200, "{name} GET {path}: {}", r.body);
        }
    }
    let no_agile = as_gateway("scoped-no-agile");
    for path in &reads {
        assert_eq!(
            no_agile.get(path).await.status,
            200,
            "scoped-no-agile {path}"
        );
    }
    for path in &agile {
        let r = no_agile.get(path).await;
        assert_eq!(r.status, 401, "scoped-no-agile {path}");
        assert_eq!(r.body["message"], "Unauthorized; scope does not match");
    }
    // Granular read scopes do not write.
    let w = as_gateway("granular-reader")
        .post("/rest/api/3/issue", json!({"fields": {"summary": "x"}}))
        .await;
    assert_eq!(w.status, 401);
}
