//! `jiralink user` and `jiralink serve` as an admin runs them: accounts with the password from
//! standard input, bad input refused with exit 2, the one-time setup link of a first start, the
//! Access page's acknowledgements in the same records as `jiralink access --ack/--unack`, and the
//! trusted reverse-proxy header honoured from its network only; and the whole app on a PostgreSQL
//! store (needs `JIRALINK_TEST_POSTGRES`, as the other Postgres tests).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use jiralink_sim::Deployment;
use serde_json::{json, Value};

use crate::credential::{start_sim_in_projects, Session};

const PASSWORD: &str = "a long enough password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_managed_and_a_first_start_prints_a_setup_link() {
    let mut s = Session::new("serve");
    let r = s.run(
        &["user", "add", "ann", "--role", "admin", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
        &[],
    );
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, "added ann (admin)"),
        "{}",
        r.stderr
    );
    let r = s.run(
        &["user", "add", "bob", "--role", "boss", "--password-stdin"],
        Some("x\n"),
        &[],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("use admin, member or viewer"),
        "{}",
        r.stderr
    );
    let r = s.run(
        &["user", "add", "bob", "--password-stdin"],
        Some("short\n"),
        &[],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("at least 10 characters"), "{}", r.stderr);
    let r = s.run(&["--json", "user", "list"], None, &[]);
    let users: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(users[0]["name"], "ann");
    assert_eq!(users[0]["role"], "admin");
    let r = s.run(&["user", "remove", "nobody"], None, &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = s.run(&["user", "remove", "ann"], None, &[]);
    assert_eq!((r.code, r.stdout.trim()), (0, "removed ann"));

    // No admin now: the first start prints a one-time setup link that makes one.
    let mut child = Command::new(env!("CARGO_BIN_EXE_jiralink"))
        .arg("--home")
        .arg(&s.home)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("text");
    let link = first
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:") && w.contains("/setup?token="))
        .unwrap_or_else(|| panic!("no setup link in: {first}"))
        .to_owned();
    let listening = lines.next().expect("a line").expect("text");
    assert!(
        listening.contains("listening on http://127.0.0.1:"),
        "{listening}"
    );
    let page = reqwest::get(&link)
        .await
        .expect("setup page")
        .text()
        .await
        .expect("body");
    assert!(page.contains("Make the first admin"), "{page}");
    let base = link.split("/setup").next().expect("base").to_owned();
    let token = link.split("token=").nth(1).expect("token").to_owned();
    let http = reqwest::Client::new();
    let setup = |name: &'static str| {
        http.post(format!("{base}/api/setup"))
            .json(&serde_json::json!({"token": token, "name": name, "password": PASSWORD}))
            .send()
    };
    let r = setup("root").await.expect("setup");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .contains("HttpOnly; SameSite=Strict"));
    assert_eq!(
        setup("evil").await.expect("setup").status(),
        403,
        "the link works once"
    );
    let _ = child.kill();
    let _ = child.wait();
    let r = s.run(&["user", "list"], None, &[]);
    assert!(
        r.stdout.starts_with("root") && r.stdout.contains("admin"),
        "{}",
        r.stdout
    );
    s.assert_never_seen(PASSWORD);
}

/// `jiralink serve` with `extra` arguments: the child and its base URL.
fn serve(s: &Session, extra: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jiralink"))
        .arg("--home")
        .arg(&s.home)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve runs");
    let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    for line in lines {
        let line = line.expect("text");
        if let Some(rest) = line.split("listening on ").nth(1) {
            let base = rest.split_whitespace().next().expect("url").to_owned();
            return (child, base);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("serve printed no address");
}

/// A request as the user the proxy names in `X-Remote-User`.
async fn proxied(
    base: &str,
    user: &str,
    method: &str,
    path: &str,
    csrf: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut rb = reqwest::Client::new()
        .request(m, format!("{base}{path}"))
        .header("X-Remote-User", user)
        .header("x-csrf-token", csrf);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_page_acknowledges_the_findings_access_ack_sees_behind_a_trusted_proxy() {
    let sim = start_sim_in_projects(Deployment::Cloud, 30, 2, 12).await;
    let mut s = Session::with_admin("serve-access", &sim, "site");
    let r = s.run(&["access", "site"], None, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = s.run(
        &["user", "add", "ann", "--role", "admin", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bad = s.run(
        &[
            "serve",
            "--trusted-proxy",
            "10.0.0.0/99",
            "--user-header",
            "X-Remote-User",
        ],
        None,
        &[],
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("--trusted-proxy"), "{}", bad.stderr);
    let bad = s.run(&["serve", "--trusted-proxy", "127.0.0.1/32"], None, &[]);
    assert_eq!(
        bad.code, 2,
        "--trusted-proxy needs --user-header: {}",
        bad.stderr
    );

    let (mut child, base) = serve(
        &s,
        &[
            "--trusted-proxy",
            "127.0.0.1/32",
            "--user-header",
            "X-Remote-User",
        ],
    );
    let (status, me) = proxied(&base, "ann", "GET", "/api/me", "", None).await;
    assert_eq!((status, me["role"].clone()), (200, json!("admin")), "{me}");
    let csrf = me["csrf"].as_str().expect("csrf").to_owned();
    let (status, audit) = proxied(&base, "ann", "GET", "/api/access/site", "", None).await;
    assert_eq!(status, 200, "{audit}");
    assert_eq!(audit["audited"], true);
    assert!(
        !audit["projects"].as_array().expect("projects").is_empty(),
        "{audit}"
    );
    let site_admin = |a: &Value| -> Value {
        a["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["id"] == "site_admin")
            .cloned()
            .unwrap_or_else(|| panic!("no site_admin finding: {a}"))
    };
    assert_eq!(site_admin(&audit)["accepted"], Value::Null);
    let (status, j) = proxied(
        &base,
        "ann",
        "POST",
        "/api/access/site/ack",
        &csrf,
        Some(json!({"finding": "site_admin", "reason": "the vendor needs an admin"})),
    )
    .await;
    assert_eq!(status, 200, "{j}");

    // The CLI sees the web's acceptance, and revokes it; the page sees that.
    let r = s.run(&["--json", "access", "site", "--acks"], None, &[]);
    let acks: Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(acks["accepted"][0]["id"], "site_admin", "{acks}");
    assert_eq!(acks["accepted"][0]["by"], "ann (jiralink serve)");
    assert_eq!(acks["accepted"][0]["reason"], "the vendor needs an admin");
    let r = s.run(&["access", "site", "--unack", "site_admin"], None, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (_, audit) = proxied(&base, "ann", "GET", "/api/access/site", "", None).await;
    assert_eq!(site_admin(&audit)["accepted"], Value::Null);
    let (status, _) = proxied(
        &base,
        "ann",
        "POST",
        "/api/access/site/unack",
        &csrf,
        Some(json!({"finding": "site_admin"})),
    )
    .await;
    assert_eq!(status, 404, "nothing to revoke");
    let (status, page) = {
        let r = reqwest::Client::new()
            .get(format!("{base}/access?credential=site"))
            .header("X-Remote-User", "ann")
            .send()
            .await
            .expect("page");
        (r.status().as_u16(), r.text().await.expect("page"))
    };
    assert_eq!(status, 200);
    assert!(
        page.contains("id=\"matrix\"") && page.contains("data-finding=\"site_admin\""),
        "{page}"
    );
    // A first-seen name through the proxy is a viewer: no access to the credential's audit.
    let (status, _) = proxied(&base, "dave", "GET", "/api/access/site", "", None).await;
    assert_eq!(status, 404);
    let _ = child.kill();
    let _ = child.wait();

    // The header from a peer outside the trusted network is ignored.
    let (mut child, base) = serve(
        &s,
        &[
            "--trusted-proxy",
            "10.9.9.9/32",
            "--user-header",
            "X-Remote-User",
        ],
    );
    let (status, j) = proxied(&base, "ann", "GET", "/api/me", "", None).await;
    assert_eq!(
        (status, j["error"].clone()),
        (401, json!("not_signed_in")),
        "{j}"
    );
    let _ = child.kill();
    let _ = child.wait();
    let r = s.run(&["--json", "user", "list"], None, &[]);
    assert!(
        r.stdout.contains("\"dave\"") && r.stdout.contains("viewer"),
        "{}",
        r.stdout
    );
    s.assert_never_seen(PASSWORD);
}

/// `jiralink serve --store postgres://…`: the accounts (`user add`), the sign-in, a credential
/// added through the API, a sync job and the dashboard all on the PostgreSQL store (it once
/// refused anything but SQLite).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_on_a_postgres_store_sign_in_credential_sync_and_dashboard() {
    let db = crate::postgres::TestDb::new("serve");
    let url = db.url();
    let sim = start_sim_in_projects(Deployment::Cloud, 40, 2, 5).await;
    let mut s = Session::new("serve-pg");
    let r = s.run(
        &[
            "--store",
            &url,
            "user",
            "add",
            "ann",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (mut child, base) = serve(&s, &["--store", &url]);
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/api/session"))
        .json(&json!({"name": "ann", "password": PASSWORD}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(
        r.status(),
        200,
        "ann signs in with the account kept in Postgres"
    );
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("cookie")
        .to_owned();
    let send = |method: reqwest::Method, path: &str, csrf: &str, body: Option<Value>| {
        let mut rb = http
            .request(method, format!("{base}{path}"))
            .header("cookie", &cookie)
            .header("x-csrf-token", csrf);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        rb.send()
    };
    // A GET answered as JSON, and a run's state once it no longer runs.
    let get = |path: &str| {
        let answer = send(reqwest::Method::GET, path, "", None);
        async move {
            answer
                .await
                .expect("answer")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    let ended = |path: String| {
        let get = &get;
        async move {
            for _ in 0..600 {
                let state = get(&path).await;
                if state["status"] != "running" {
                    return state;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("{path} did not end in 30 s");
        }
    };
    let me = get("/api/me").await;
    let csrf = me["csrf"].as_str().expect("csrf").to_owned();
    let admin = sim.identity("admin").expect("admin").clone();
    let r = send(
        reqwest::Method::POST,
        "/api/credentials",
        &csrf,
        Some(
            json!({"name": "site", "url": sim.base_url(), "auth": "cloud-token",
            "email": admin.email, "secret": admin.secret}),
        ),
    )
    .await
    .expect("add");
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    // A run started (202 with its id) and its state at its end.
    let run_to_end = |start: &'static str, body: Value, states: &'static str| {
        let started = send(reqwest::Method::POST, start, &csrf, Some(body));
        let ended = &ended;
        async move {
            let r = started.await.expect(start);
            assert_eq!(r.status(), 202, "{start}");
            let id = r.json::<Value>().await.expect("json")["id"]
                .as_u64()
                .expect("id");
            ended(format!("{states}/{id}")).await
        }
    };
    let run = run_to_end("/api/syncs", json!({"credential": "site"}), "/api/syncs").await;
    assert_eq!(run["status"], "ok", "{run}");
    let r = send(reqwest::Method::GET, "/api/insights", "", None)
        .await
        .expect("insights");
    assert_eq!(r.status(), 200);
    let dash: Value = r.json().await.expect("json");
    assert_eq!(dash["coverage"]["issues"], 40, "{}", dash["coverage"]);
    let runs = get("/api/sync-runs").await;
    assert_eq!(runs["runs"][0]["issues_written"], 40, "{runs}");
    // "Run audit" on the Access page: the binary's book audits and saves as `jiralink access`.
    assert!(!s.home.join("audits/site.json").exists());
    let audit = run_to_end(
        "/api/access/site/audit",
        json!({"profile": "read-only"}),
        "/api/audits",
    )
    .await;
    assert_eq!(audit["status"], "ok", "{audit}");
    assert_eq!(audit["summary"]["projects"], 2, "{audit}");
    let page = get("/api/access/site").await;
    assert_eq!(page["audited"], true, "{page}");
    assert!(s.home.join("audits/site.json").exists());
    let r = s.run(
        &[
            "--json",
            "access",
            "site",
            "--ack",
            "site_admin",
            "--reason",
            "needed",
        ],
        None,
        &[],
    );
    assert_eq!(
        r.code, 0,
        "the CLI acknowledges a finding of the app's audit: {}",
        r.stderr
    );
    let _ = child.kill();
    let _ = child.wait();
    // The accounts and the mirror are in Postgres: the home holds no SQLite store.
    assert!(!s.home.join("jiralink.db").exists());
    let r = s.run(&["--store", &url, "--json", "user", "list"], None, &[]);
    assert!(r.stdout.contains("\"ann\""), "{}", r.stdout);
    s.assert_never_seen(PASSWORD);
}
