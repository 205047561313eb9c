//! The authorization matrix: every API route × role × ownership, with the status each caller
//! must get; no cross-user read or write; CSRF refused without the token; a canary secret in no
//! page, API answer, log line or file.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use secrecy::SecretString;
use serde_json::{json, Value};

use crate::support::{exposes, files, Backing, Client, Harness, TestDb, PASSWORD};

const CANARY: &str = "CANARY-7f3a9c1e5b2d4086-never-shown";

/// Everything the app logs (every level) during the tests, for the canary check.
fn log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let w = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || LogWriter(w.clone()))
            .try_init();
        buf
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The callers of the matrix, in the order each route is tried (the allowed ones last, so that
/// a refused write can be seen to have changed nothing).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Anon,
    Viewer,
    Other,
    Owner,
    Admin,
}

const ORDER: [Who; 5] = [Who::Anon, Who::Viewer, Who::Other, Who::Owner, Who::Admin];

/// The common rules of the matrix, per caller in `ORDER`: any signed-in user; members (the
/// viewer's role refused); the owner only (anyone else told it does not exist); a member's own
/// (the viewer's role refused, another member told it does not exist); the admin only.
const SIGNED_IN: [u16; 5] = [401, 200, 200, 200, 200];
const MEMBERS: [u16; 5] = [401, 403, 200, 200, 200];
const OWNER_ONLY: [u16; 5] = [401, 404, 404, 200, 200];
const MEMBER_OWNER: [u16; 5] = [401, 403, 404, 200, 200];
const ADMIN_ONLY: [u16; 5] = [401, 403, 403, 403, 200];

struct Case {
    method: &'static str,
    /// The route as the OpenAPI document names it.
    route: &'static str,
    path: String,
    body: Option<Value>,
    /// Expected status per caller, in `ORDER`.
    expect: [u16; 5],
}

/// A route tried at its own path (`at` gives the path of a route with parameters).
fn case(method: &'static str, route: &'static str, body: Option<Value>, expect: [u16; 5]) -> Case {
    Case {
        method,
        route,
        path: route.to_owned(),
        body,
        expect,
    }
}

impl Case {
    fn at(self, path: &str) -> Case {
        Case {
            path: path.to_owned(),
            ..self
        }
    }
}

async fn add(c: &Client, h: &Harness, name: &str, identity: &str) -> (u16, Value) {
    let (email, secret) = h.identity(identity);
    let (s, j, _) = c
        .send(
            "POST",
            "/api/credentials",
            Some(&json!({"name": name, "url": h.sim.base_url(), "auth": "cloud-token", "email": email, "secret": secret, "description": format!("{name} desc")})),
        )
        .await;
    (s, j)
}

/// The state of a run (`/api/audits/{id}` or `/api/syncs/{id}`) once it is no longer running.
async fn wait_ended(c: &Client, path: &str) -> Value {
    for _ in 0..600 {
        let (_, j) = c.get(path).await;
        if j["status"] != "running" {
            return j;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{path} did not end in 30 s");
}

async fn wait_audit(c: &Client, id: u64) -> Value {
    wait_ended(c, &format!("/api/audits/{id}")).await
}

async fn wait_run(c: &Client, id: u64) -> Value {
    wait_ended(c, &format!("/api/syncs/{id}")).await
}

/// Syncs `credential` as `c` and waits for the run to end `ok`; its run id.
async fn sync_ok(c: &Client, credential: &str) -> u64 {
    let (s, started, _) = c
        .send(
            "POST",
            "/api/syncs",
            Some(&json!({ "credential": credential })),
        )
        .await;
    assert_eq!(s, 202, "{started}");
    let run = started["id"].as_u64().expect("run id");
    let ended = wait_run(c, run).await;
    assert_eq!(ended["status"], "ok", "{ended}");
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_role_and_owner_is_authorized_and_no_secret_leaks() {
    let log = log();
    matrix(Harness::start("matrix", 300).await, log).await;
}

/// The same matrix with the app's store (accounts, the mirror its syncs write, the dashboards'
/// reads) in PostgreSQL: sign-in, credentials, a sync job, the dashboards and every other route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_matrix_holds_with_the_store_in_postgres() {
    let log = log();
    let db = TestDb::new("matrix");
    matrix(
        Harness::start_on("matrix-pg", 300, None, Backing::Postgres(db)).await,
        log,
    )
    .await;
}

async fn matrix(h: Harness, log: Arc<Mutex<Vec<u8>>>) {
    let root = h.sign_in("root").await;
    let ann = h.sign_in("ann").await;
    let bob = h.sign_in("bob").await;
    let vic = h.sign_in("vic").await;
    let anon = h.anonymous();
    let mut seen: Vec<String> = Vec::new();

    // Owned things the matrix acts on.
    assert_eq!(add(&ann, &h, "ann-cred", "admin").await.0, 201);
    assert_eq!(add(&bob, &h, "bob-cred", "admin").await.0, 201);
    assert_eq!(add(&root, &h, "root-cred", "admin").await.0, 201);
    assert_eq!(add(&ann, &h, "ann-extra", "admin").await.0, 201);
    let run = sync_ok(&ann, "ann-cred").await;
    let (s, started, _) = ann.send("POST", "/api/access/ann-extra/audit", None).await;
    assert_eq!(s, 202, "{started}");
    let audit_id = started["id"].as_u64().expect("audit id");
    let ended = wait_audit(&ann, audit_id).await;
    assert_eq!(ended["status"], "ok", "{ended}");
    // The audit run from the app is the credential's last audit: the site's three projects.
    assert_eq!(ended["summary"]["projects"], 3, "{ended}");
    let (_, j) = ann.get("/api/access/ann-extra").await;
    assert_eq!(j["audited"], true, "{j}");
    let keys: Vec<&str> = j["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .filter_map(|p| p["key"].as_str())
        .collect();
    assert_eq!(keys.len(), 3, "{j}");
    assert!(keys.contains(&"WEB"), "not the canned audit: {j}");
    assert!(
        j["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["id"] == "delete_rights"),
        "the real audit's findings: {j}"
    );
    let (s, tok, _) = ann
        .send("POST", "/api/tokens", Some(&json!({"label": "ci"})))
        .await;
    assert_eq!(s, 201);
    let token_id = tok["id"].as_str().expect("token id").to_owned();
    let ann_token = ann.with_token(tok["token"].as_str().expect("token"));
    seen.push(tok.to_string());

    // Write-back log rows of two members' credentials (as `jiralink apply` records them).
    {
        let rows = "INSERT INTO t_write_log (run_id, site_id, credential, actor, external_id, action, jira_id, field, before, after, outcome, error, at, ms) VALUES
                 ('run-a', 's', 'ann-cred', 'ann', 'ext-1', 'create', '10001', NULL, NULL, NULL, 'ok', NULL, '2026-01-01T10:00:00.000Z', 5),
                 ('run-a', 's', 'ann-cred', 'ann', 'ext-1', 'edit', '10001', 'summary', 'old', 'new', 'ok', NULL, '2026-01-01T10:00:01.000Z', 5),
                 ('run-b', 's', 'bob-cred', 'bob', 'ext-9', 'create', NULL, NULL, NULL, NULL, 'failed', 'no permission', '2026-01-02T10:00:00.000Z', 5);";
        match &h.pg {
            Some(db) => db.execute(rows),
            None => jiralink_store::Store::open_sqlite(&h.dir.join("jiralink.db"))
                .expect("store")
                .execute_batch(rows)
                .expect("write log rows"),
        }
    }

    let wrong = json!({"name": "wrong", "url": h.sim.base_url(), "auth": "cloud-token", "email": "x@example.com", "secret": CANARY});
    let cases = vec![
        case("get", "/api/openapi.json", None, [200, 200, 200, 200, 200]),
        case(
            "post",
            "/api/setup",
            Some(json!({"token": "nope", "name": "evil", "password": CANARY})),
            [403, 403, 403, 403, 403],
        ),
        case("get", "/api/me", None, SIGNED_IN),
        case("get", "/api/credentials", None, SIGNED_IN),
        case(
            "post",
            "/api/credentials",
            Some(wrong.clone()),
            [401, 403, 422, 422, 422],
        ),
        case("get", "/api/credentials/{name}", None, OWNER_ONLY).at("/api/credentials/ann-cred"),
        case(
            "patch",
            "/api/credentials/{name}",
            Some(json!({"description": "changed"})),
            MEMBER_OWNER,
        )
        .at("/api/credentials/ann-cred"),
        case("post", "/api/credentials/{name}/test", None, MEMBER_OWNER)
            .at("/api/credentials/ann-cred/test"),
        case(
            "post",
            "/api/credentials/{name}/rotate",
            Some(json!({"secret": CANARY})),
            [401, 403, 404, 422, 422],
        )
        .at("/api/credentials/ann-cred/rotate"),
        case("get", "/api/scopes", None, SIGNED_IN),
        case(
            "post",
            "/api/oauth2/start",
            Some(
                json!({"name": "o2", "url": h.sim.base_url(), "client_id": "app", "client_secret": CANARY}),
            ),
            MEMBERS,
        ),
        case(
            "post",
            "/api/oauth1/start",
            Some(
                json!({"name": "o1", "url": h.sim.base_url(), "consumer_key": "jiralink", "private_key": CANARY}),
            ),
            [401, 403, 400, 400, 400],
        ),
        case(
            "post",
            "/api/oauth1/finish",
            Some(json!({"pending": "nope", "verifier": CANARY})),
            [401, 403, 404, 404, 404],
        ),
        case("get", "/api/syncs", None, MEMBERS),
        case(
            "post",
            "/api/syncs",
            Some(json!({"credential": "ann-cred"})),
            [401, 403, 404, 202, 0],
        ),
        case("get", "/api/syncs/{id}", None, MEMBER_OWNER).at(&format!("/api/syncs/{run}")),
        case("get", "/api/syncs/{id}/events", None, MEMBER_OWNER)
            .at(&format!("/api/syncs/{run}/events")),
        case("get", "/api/insights", None, SIGNED_IN),
        case("get", "/api/issues", None, SIGNED_IN).at("/api/issues?status_category=done"),
        case("get", "/api/access/{name}", None, OWNER_ONLY).at("/api/access/ann-cred"),
        case(
            "post",
            "/api/access/{name}/ack",
            Some(json!({"finding": "site_admin", "reason": "the sync needs it"})),
            MEMBER_OWNER,
        )
        .at("/api/access/ann-cred/ack"),
        case(
            "post",
            "/api/access/{name}/unack",
            Some(json!({"finding": "site_admin"})),
            [401, 403, 404, 200, 404],
        )
        .at("/api/access/ann-cred/unack"),
        case(
            "post",
            "/api/access/{name}/audit",
            Some(json!({"profile": "read-only"})),
            [401, 403, 404, 202, 202],
        )
        .at("/api/access/ann-extra/audit"),
        case("get", "/api/audits/{id}", None, MEMBER_OWNER).at(&format!("/api/audits/{audit_id}")),
        case("get", "/api/writes", None, MEMBERS),
        case("get", "/api/stages", None, SIGNED_IN),
        case(
            "put",
            "/api/stages",
            Some(json!({"In Progress": "active", "Done": "done"})),
            ADMIN_ONLY,
        ),
        case("get", "/api/sync-runs", None, MEMBERS),
        case("get", "/api/users", None, ADMIN_ONLY),
        case(
            "post",
            "/api/users",
            Some(json!({"name": "newbie", "role": "member", "password": PASSWORD})),
            [401, 403, 403, 403, 201],
        ),
        case("delete", "/api/users/{name}", None, ADMIN_ONLY).at("/api/users/newbie"),
        case("get", "/api/tokens", None, SIGNED_IN),
        case(
            "post",
            "/api/tokens",
            Some(json!({"label": "x"})),
            [401, 201, 201, 201, 201],
        ),
        case(
            "delete",
            "/api/tokens/{id}",
            None,
            [401, 404, 404, 200, 404],
        )
        .at(&format!("/api/tokens/{token_id}")),
        case("get", "/api/audit", None, SIGNED_IN),
        case(
            "delete",
            "/api/credentials/{name}",
            None,
            [401, 403, 404, 200, 404],
        )
        .at("/api/credentials/ann-extra"),
        case("delete", "/api/session", None, SIGNED_IN),
    ];
    // Every route of the API is in the matrix (sign-in is exercised by every sign_in above).
    let documented: BTreeSet<(String, String)> = jiralink_web::OPERATIONS
        .iter()
        .map(|(m, p, _, _)| (m.to_string(), p.to_string()))
        .collect();
    let mut covered: BTreeSet<(String, String)> = cases
        .iter()
        .map(|c| (c.method.to_owned(), c.route.to_owned()))
        .collect();
    covered.insert(("post".into(), "/api/session".into()));
    assert_eq!(
        covered, documented,
        "the matrix covers exactly the documented routes"
    );

    let mut failures = Vec::new();
    for c in &cases {
        for (i, who) in ORDER.iter().enumerate() {
            let client = match who {
                Who::Anon => &anon,
                Who::Viewer => &vic,
                Who::Other => &bob,
                Who::Owner => &ann,
                Who::Admin => &root,
            };
            let method = c.method.to_uppercase();
            if c.route == "/api/session" && *who != Who::Anon {
                // Signing out ends the session the rest of the test uses: sign in anew first.
                let fresh = h
                    .sign_in(match who {
                        Who::Viewer => "vic",
                        Who::Other => "bob",
                        Who::Owner => "ann",
                        _ => "root",
                    })
                    .await;
                let (s, _, _) = fresh.without_csrf().send(&method, &c.path, None).await;
                assert_eq!(s, 403, "sign-out without the CSRF token is refused");
                let (s, _, _) = fresh.send(&method, &c.path, None).await;
                if s != c.expect[i] {
                    failures.push(format!(
                        "{method} {} as {who:?}: {s}, expected {}",
                        c.path, c.expect[i]
                    ));
                }
                let (s, _) = fresh.get("/api/me").await;
                assert_eq!(s, 401, "the session ended");
                continue;
            }
            if method != "GET" && *who != Who::Anon && c.route != "/api/setup" {
                let (s, j, text) = client
                    .without_csrf()
                    .send(&method, &c.path, c.body.as_ref())
                    .await;
                if s != 403 || j["error"] != "csrf" {
                    failures.push(format!(
                        "{method} {} as {who:?} without CSRF token: {s} {j}",
                        c.path
                    ));
                }
                seen.push(text);
            }
            if c.route == "/api/syncs" && method == "POST" && *who == Who::Admin {
                continue;
            }
            let (s, j, text) = client.send(&method, &c.path, c.body.as_ref()).await;
            seen.push(text);
            if s != c.expect[i] {
                failures.push(format!(
                    "{method} {} as {who:?}: {s}, expected {} ({j})",
                    c.path, c.expect[i]
                ));
            }
            if s == 202 && c.route.ends_with("/audit") {
                wait_audit(client, j["id"].as_u64().expect("id")).await;
            } else if s == 202 {
                wait_run(client, j["id"].as_u64().expect("id")).await;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "authorization matrix:\n{}",
        failures.join("\n")
    );

    // An API token acts as its user without a CSRF token; a revoked one no longer works.
    let (s, _, _) = ann_token.send("GET", "/api/credentials", None).await;
    assert_eq!(s, 401, "ann's token was revoked by the matrix");
    let (_, tok2, _) = ann
        .send("POST", "/api/tokens", Some(&json!({"label": "ci2"})))
        .await;
    let ann_token = ann.with_token(tok2["token"].as_str().expect("token"));
    let (s, j, _) = ann_token
        .send(
            "PATCH",
            "/api/credentials/ann-cred",
            Some(&json!({"description": "by token"})),
        )
        .await;
    assert_eq!(s, 200, "{j}");
    let (s, _, _) = ann_token
        .send("GET", "/api/credentials/bob-cred", None)
        .await;
    assert_eq!(s, 404, "a token sees only its user's credentials");

    // Zero cross-user reads or writes: each member lists only their own; bob's refused edit of
    // ann's credential changed nothing; runs, audit and tokens are per user.
    let names = |j: &Value| -> BTreeSet<String> {
        j["credentials"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect()
    };
    let (_, j) = ann.get("/api/credentials").await;
    assert_eq!(names(&j), BTreeSet::from(["ann-cred".to_owned()]));
    assert_eq!(j["credentials"][0]["description"], "by token");
    assert_eq!(j["credentials"][0]["owner"], "ann");
    let (_, j) = bob.get("/api/credentials").await;
    assert_eq!(names(&j), BTreeSet::from(["bob-cred".to_owned()]));
    let (_, j) = vic.get("/api/credentials").await;
    assert_eq!(names(&j), BTreeSet::new());
    let (_, j) = root.get("/api/credentials").await;
    assert_eq!(
        names(&j),
        BTreeSet::from([
            "ann-cred".to_owned(),
            "bob-cred".to_owned(),
            "root-cred".to_owned()
        ])
    );
    let (_, j) = bob.get("/api/syncs").await;
    assert_eq!(
        j["runs"].as_array().map(Vec::len),
        Some(0),
        "bob sees no run of ann's: {j}"
    );
    // The store's sync runs and the write-back log: each member reads their own credentials'.
    let creds_of = |j: &Value, list: &str| -> BTreeSet<String> {
        j[list]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["credential"].as_str().map(str::to_owned))
            .collect()
    };
    let (_, j) = ann.get("/api/sync-runs").await;
    assert_eq!(
        creds_of(&j, "runs"),
        BTreeSet::from(["ann-cred".to_owned()]),
        "{j}"
    );
    // Newest first: the matrix's re-sync (nothing new), then the first sync (every issue).
    assert_eq!(j["runs"][1]["issues_written"], 300, "{j}");
    assert_eq!(j["runs"][0]["status"], "ok", "{j}");
    let (_, j) = bob.get("/api/sync-runs").await;
    assert_eq!(creds_of(&j, "runs"), BTreeSet::new(), "{j}");
    let (_, j) = ann.get("/api/writes").await;
    assert_eq!(j["writes"].as_array().map(Vec::len), Some(2), "{j}");
    assert_eq!(
        creds_of(&j, "writes"),
        BTreeSet::from(["ann-cred".to_owned()])
    );
    assert_eq!(j["writes"][0]["after"], "new", "newest first: {j}");
    let (_, j) = bob.get("/api/writes").await;
    assert_eq!(
        creds_of(&j, "writes"),
        BTreeSet::from(["bob-cred".to_owned()])
    );
    let (_, j) = root.get("/api/writes?run=run-a").await;
    assert_eq!(j["writes"].as_array().map(Vec::len), Some(2), "{j}");
    let (_, j) = root.get("/api/writes?credential=bob-cred").await;
    assert_eq!(j["writes"][0]["error"], "no permission", "{j}");
    let (_, j) = bob.get("/api/writes?credential=ann-cred").await;
    assert_eq!(j["writes"].as_array().map(Vec::len), Some(0), "{j}");
    // Access: the matrix, and the finding the matrix acknowledged then revoked; acknowledged anew.
    let (_, j) = ann.get("/api/access/ann-cred").await;
    assert_eq!(j["projects"][0]["key"], "ENG");
    assert_eq!(j["projects"][0]["grants"][0], true);
    assert_eq!(j["findings"][0]["accepted"], Value::Null, "{j}");
    let (s, _, _) = ann
        .send(
            "POST",
            "/api/access/ann-cred/ack",
            Some(&json!({"finding": "site_admin", "reason": "needed"})),
        )
        .await;
    assert_eq!(s, 200);
    let (_, j) = ann.get("/api/access/ann-cred").await;
    assert_eq!(
        j["findings"][0]["accepted"]["by"], "ann (jiralink serve)",
        "{j}"
    );
    assert_eq!(j["findings"][0]["accepted"]["reason"], "needed", "{j}");
    let (s, j, _) = ann
        .send(
            "POST",
            "/api/access/ann-cred/ack",
            Some(&json!({"finding": "nope", "reason": "x"})),
        )
        .await;
    assert_eq!((s, j["error"].clone()), (404, json!("not_found")), "{j}");
    let (s, _, _) = ann
        .send(
            "POST",
            "/api/access/ann-cred/ack",
            Some(&json!({"finding": "site_admin", "reason": " "})),
        )
        .await;
    assert_eq!(s, 400, "a reason is required");
    // Stages: the admin's map is what the dashboards use.
    let (s, _, _) = root
        .send("PUT", "/api/stages", Some(&json!({"In Progress": "later"})))
        .await;
    assert_eq!(s, 400, "an unknown stage is refused");
    let (_, j) = vic.get("/api/insights").await;
    assert_eq!(j["flow"]["waiting_statuses"], json!([]), "{}", j["flow"]);
    assert_eq!(
        j["flow"]["flow_efficiency"],
        Value::Null,
        "not measured without waiting"
    );
    let (_, st) = vic.get("/api/stages").await;
    let in_progress: Vec<String> = st["statuses"]
        .as_array()
        .expect("statuses")
        .iter()
        .filter(|r| r["category"] == "indeterminate")
        .filter_map(|r| r["status"].as_str().map(str::to_owned))
        .collect();
    assert!(!in_progress.is_empty(), "{st}");
    let waiting = &in_progress[in_progress.len() - 1];
    let (s, _, _) = root
        .send(
            "PUT",
            "/api/stages",
            Some(&json!({ waiting.as_str(): "waiting" })),
        )
        .await;
    assert_eq!(s, 200);
    let (_, st) = vic.get("/api/stages").await;
    assert_eq!(st["waiting"], json!([waiting]), "{st}");
    let (_, j) = vic.get("/api/insights").await;
    assert_eq!(
        j["flow"]["waiting_statuses"],
        json!([waiting]),
        "{}",
        j["flow"]
    );
    // The board filter: one board's sprints only.
    let boards = j["sprints"]["boards"].as_array().expect("boards").clone();
    assert!(boards.len() >= 2, "{}", j["sprints"]);
    let board = boards[1]["board_id"].as_str().expect("board id");
    let (s, one) = vic.get(&format!("/api/insights?board={board}")).await;
    assert_eq!(s, 200, "{one}");
    let only: Vec<&Value> = one["sprints"]["boards"]
        .as_array()
        .expect("boards")
        .iter()
        .collect();
    assert_eq!(only.len(), 1, "{}", one["sprints"]);
    assert_eq!(only[0]["board_id"], board);
    let (s, _) = vic.get("/api/insights?board=nope").await;
    assert_eq!(s, 422, "an unknown board is refused");
    // The drill-down honours the board filter: the issues of the board's project only, as many
    // as the project's (it once listed every project's).
    let keys = |j: &Value| -> Vec<String> {
        j["issues"]
            .as_array()
            .expect("issues")
            .iter()
            .filter_map(|i| i["key"].as_str().map(str::to_owned))
            .collect()
    };
    let (s, all) = vic.get("/api/issues?limit=1000").await;
    assert_eq!(s, 200, "{all}");
    let (s, on_board) = vic
        .get(&format!("/api/issues?board={board}&limit=1000"))
        .await;
    assert_eq!(s, 200, "{on_board}");
    let on_board = keys(&on_board);
    let project = on_board
        .first()
        .and_then(|k| k.split('-').next())
        .expect("the board's issues")
        .to_owned();
    assert!(
        on_board
            .iter()
            .all(|k| k.starts_with(&format!("{project}-"))),
        "{on_board:?}"
    );
    let (_, of_project) = vic
        .get(&format!("/api/issues?project={project}&limit=1000"))
        .await;
    assert_eq!(on_board, keys(&of_project));
    assert!(
        on_board.len() < keys(&all).len(),
        "the board narrows the list"
    );
    let (_, done_on_board) = vic
        .get(&format!(
            "/api/issues?board={board}&status_category=done&limit=1000"
        ))
        .await;
    assert!(keys(&done_on_board).iter().all(|k| on_board.contains(k)));
    let (s, _) = vic.get("/api/issues?board=nope").await;
    assert_eq!(s, 422, "an unknown board is refused in the drill-down too");
    let (_, _, page) = vic
        .send("GET", &format!("/insights?board={board}"), None)
        .await;
    assert!(
        page.contains(&format!("board={board}&amp;status_category=done")),
        "the dashboard's drill-down links keep the board"
    );

    let (_, j) = bob.get("/api/audit").await;
    assert!(
        j["audit"]
            .as_array()
            .expect("audit")
            .iter()
            .all(|r| r["actor"] == "bob"),
        "{j}"
    );
    let (_, j) = root.get("/api/audit").await;
    let actions: BTreeSet<String> = j["audit"]
        .as_array()
        .expect("audit")
        .iter()
        .filter_map(|r| r["action"].as_str().map(str::to_owned))
        .collect();
    for a in [
        "sign-in",
        "credential-add",
        "credential-test",
        "credential-edit",
        "credential-rotate",
        "credential-remove",
        "sync",
        "user-add",
        "user-remove",
        "token-create",
        "token-revoke",
        "access-ack",
        "access-unack",
        "access-audit",
        "stages",
    ] {
        assert!(actions.contains(a), "the audit records {a}: {actions:?}");
    }
    let (_, j) = ann.get("/api/credentials/ann-cred").await;
    assert_eq!(
        j["secret_tail"].as_str().map(|t| t.starts_with("••••")),
        Some(true),
        "{j}"
    );

    // A wrong token is refused with its diagnosis; the refused rotation kept the old secret.
    let (s, j, text) = ann.send("POST", "/api/credentials", Some(&wrong)).await;
    assert_eq!(s, 422);
    assert!(
        j["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("bad_credentials: "),
        "{j}"
    );
    seen.push(text);
    let (s, j, _) = ann
        .send("POST", "/api/credentials/ann-cred/test", None)
        .await;
    assert_eq!((s, j["ok"].clone()), (200, json!(true)), "{j}");

    // Sign-in throttling: after 5 failures the account is refused even with its password.
    for _ in 0..5 {
        let (s, _, _) = anon
            .send(
                "POST",
                "/api/session",
                Some(&json!({"name": "vic", "password": CANARY})),
            )
            .await;
        assert_eq!(s, 401);
    }
    let (s, j, _) = anon
        .send(
            "POST",
            "/api/session",
            Some(&json!({"name": "vic", "password": PASSWORD})),
        )
        .await;
    assert_eq!((s, j["error"].clone()), (429, json!("throttled")), "{j}");

    // Security headers on pages and the API.
    let r = reqwest::get(format!("{}/signin", h.base))
        .await
        .expect("page");
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    let script = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src "))
        .expect("script-src");
    assert!(
        script.contains("'nonce-") && !script.contains("unsafe"),
        "{csp}"
    );
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert_eq!(r.headers()["cache-control"], "no-store");

    // Pages of every user.
    for c in [&root, &ann, &bob, &vic] {
        for p in [
            "/credentials",
            "/sync",
            "/insights",
            "/insights/issues?status_category=done",
            "/access",
            "/writes",
            "/stages",
            "/audit",
            "/users",
            "/tokens",
        ] {
            let (_, _, text) = c.send("GET", p, None).await;
            seen.push(text);
        }
    }
    let (_, _, bob_page) = bob.send("GET", "/credentials", None).await;
    assert!(
        !bob_page.contains("ann-cred") && bob_page.contains("bob-cred"),
        "bob's page shows only his credential"
    );

    // The canary, the real token and the password: in no answer, no log line, no file.
    let (_, real_secret) = h.identity("admin");
    let secrets = [
        SecretString::from(CANARY),
        SecretString::from(real_secret),
        SecretString::from(PASSWORD),
    ];
    for s in &secrets {
        for (i, text) in seen.iter().enumerate() {
            assert!(!exposes(text.as_bytes(), s), "answer {i} holds a secret");
        }
        let logged = log.lock().expect("log").clone();
        assert!(!exposes(&logged, s), "the log holds a secret");
        for f in files(&h.dir) {
            let bytes = std::fs::read(&f).expect("file");
            assert!(!exposes(&bytes, s), "{} holds a secret", f.display());
        }
    }
    assert!(
        seen.len() > 150,
        "the canary check read {} answers",
        seen.len()
    );
}

/// The dashboard is computed once per store state (and minute): a request a second later is
/// answered from the cache, the very same report. The default forecast date moves with "now"; it
/// once was part of the cache key, and every request recomputed the whole report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_is_answered_from_the_cache_while_the_store_is_unchanged() {
    let h = Harness::start("dashcache", 100).await;
    let ann = h.sign_in("ann").await;
    assert_eq!(add(&ann, &h, "ann-cred", "admin").await.0, 201);
    sync_ok(&ann, "ann-cred").await;
    // Not across a minute's end: the cache also keys on the minute (ages move with time).
    while chrono::Utc::now().timestamp() % 60 > 50 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (s, first) = ann.get("/api/insights").await;
    assert_eq!(s, 200, "{first}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (_, again) = ann.get("/api/insights").await;
    assert_eq!(
        first["as_of"], again["as_of"],
        "the second request was computed again, not answered from the cache"
    );
    assert_eq!(first, again);
}

/// A PostgreSQL store's connection the server closes (a restart, an idle timeout) costs one
/// request at most: the app opens the store again, and the sessions kept there still hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_connection_the_server_closed_is_opened_again() {
    let db = TestDb::new("reconnect");
    let h = Harness::start_on("reconnect-pg", 10, None, Backing::Postgres(db)).await;
    let ann = h.sign_in("ann").await;
    assert_eq!(ann.get("/api/me").await.0, 200);
    h.pg.as_ref().expect("postgres").execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    );
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(ann.get("/api/me").await.0);
    }
    assert_eq!(statuses[1..], [200, 200], "{statuses:?}");
    let (s, j) = ann.get("/api/me").await;
    assert_eq!((s, j["name"].clone()), (200, json!("ann")));
}

/// An access audit that cannot reach Jira ends `failed` with the diagnosis (code, cause, fix),
/// and the app's audit log records the code; the credential's last audit is unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_that_cannot_reach_jira_shows_its_diagnosis() {
    let h = Harness::start("auditfail", 10).await;
    let ann = h.sign_in("ann").await;
    assert_eq!(add(&ann, &h, "ann-cred", "admin").await.0, 201);
    // Nothing listens on the discard port of loopback.
    let (s, j, _) = ann
        .send(
            "PATCH",
            "/api/credentials/ann-cred",
            Some(&json!({"url": "http://127.0.0.1:9"})),
        )
        .await;
    assert_eq!(s, 200, "{j}");
    let (s, started, _) = ann.send("POST", "/api/access/ann-cred/audit", None).await;
    assert_eq!(s, 202, "{started}");
    let ended = wait_audit(&ann, started["id"].as_u64().expect("id")).await;
    assert_eq!(ended["status"], "failed", "{ended}");
    assert_eq!(ended["error"]["code"], "connect_failed", "{ended}");
    assert!(
        ended["error"]["fix"]
            .as_str()
            .is_some_and(|f| !f.is_empty()),
        "{ended}"
    );
    let (_, j) = ann.get("/api/access/ann-cred").await;
    assert_eq!(j["projects"][0]["key"], "ENG", "the last audit stays: {j}");
    let (_, log) = ann.get("/api/audit").await;
    assert!(
        log["audit"]
            .as_array()
            .expect("audit")
            .iter()
            .any(|r| { r["action"] == "access-audit" && r["outcome"] == "connect_failed" }),
        "{log}"
    );
    let (s, _, _) = ann
        .send(
            "POST",
            "/api/access/ann-cred/audit",
            Some(&json!({"profile": "admin-everything"})),
        )
        .await;
    assert_eq!(s, 400, "an unknown profile is refused");
}
