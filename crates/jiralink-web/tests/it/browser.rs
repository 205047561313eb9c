//! The browser flows of issue 16 in headless Debian Chromium (`scripts/setup-chromium.sh`), driven
//! by Playwright's core library (`scripts/setup-playwright.sh`) from `tests/browser/flows.js`:
//! sign in, add a cloud token and test it, a wrong token's diagnosis, a scoped token with its
//! scopes, an OAuth 2.0 consent, an OAuth 1.0a application link approved with its verification
//! code (against a Data Center simulator), a sync's live progress to the end, the dashboard
//! (definitions, dated forecast, no unmarked clipping) with a filter and a drill-down, the access
//! page's matrix with a finding acknowledged and revoked and an audit run from the page, the
//! write-back log, the store's sync runs, a waiting status set on the Stages page turning flow
//! efficiency on, and a member who sees only their own credentials. Screenshots land in
//! `target/web-screenshots/`.

use std::path::PathBuf;
use std::process::Command;

use crate::support::{Harness, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_works_in_headless_chromium() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "Playwright's core library is missing: run scripts/setup-playwright.sh"
    );
    let chromium =
        std::env::var("JIRALINK_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "headless Chromium not found at {chromium}: run scripts/setup-chromium.sh (or set JIRALINK_CHROMIUM)"
    );
    let h = Harness::start("browser", 400).await;
    let oauth = h
        .sim
        .identity("oauth2")
        .expect("oauth2 identity")
        .extra
        .clone();
    assert!(h
        .sim
        .add_oauth2_callback(&oauth["client_id"], &format!("{}/oauth2/callback", h.base)));
    // Writes of `jiralink apply`, as its ledger records them, for the write-back page.
    jiralink_store::Store::open_sqlite(&h.dir.join("jiralink.db"))
        .expect("store")
        .execute_batch(
            "INSERT INTO t_write_log (run_id, site_id, credential, actor, external_id, action, jira_id, field, before, after, outcome, error, at, ms) VALUES
             ('run-1', 's', 'ann-prod', 'ann', 'ext-1', 'create', '10001', NULL, NULL, NULL, 'ok', NULL, '2026-01-01T10:00:00.000Z', 5),
             ('run-1', 's', 'ann-prod', 'ann', 'ext-2', 'create', NULL, NULL, NULL, NULL, 'failed', 'no permission', '2026-01-01T10:00:01.000Z', 5),
             ('run-2', 's', 'bob-prod', 'bob', 'ext-9', 'create', '10009', NULL, NULL, NULL, 'ok', NULL, '2026-01-02T10:00:00.000Z', 5);",
        )
        .expect("write log rows");
    // A Data Center site for the OAuth 1.0a application link.
    let dc = jiralink_sim::Sim::builder()
        .deployment(jiralink_sim::Deployment::Datacenter)
        .context_path("/jira")
        .issues(5)
        .seed(3)
        .start()
        .await
        .expect("datacenter simulator");
    let link = dc.identity("oauth1").expect("oauth1 identity").clone();
    let dc_admin = dc.identity("admin").expect("admin").clone();
    let (email, secret) = h.identity("admin");
    let (scoped_email, scoped_secret) = h.identity("scoped-reader");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let shots = target.join("web-screenshots");
    let script = dir.join("flows.js");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .current_dir(&dir)
            .env("BASE_URL", &h.base)
            .env("SITE_URL", h.sim.base_url())
            .env("ADMIN_EMAIL", email)
            .env("ADMIN_SECRET", secret)
            .env("SCOPED_EMAIL", scoped_email)
            .env("SCOPED_SECRET", scoped_secret)
            .env("PASSWORD", PASSWORD)
            .env("OAUTH_CLIENT_ID", &oauth["client_id"])
            .env("OAUTH_CLIENT_SECRET", &oauth["client_secret"])
            .env("OAUTH_TOKEN_URL", &oauth["token_url"])
            .env("DC_URL", dc.base_url())
            .env(
                "DC_ADMIN_USER",
                dc_admin.username.clone().unwrap_or_default(),
            )
            .env("DC_ADMIN_SECRET", &dc_admin.secret)
            .env("OAUTH1_CONSUMER_KEY", &link.extra["consumer_key"])
            .env("OAUTH1_PRIVATE_KEY", &link.extra["private_key_pem"])
            .env("SHOTS", &shots)
            .env("CHROMIUM", chromium)
            .output()
            .map(|o| (o, h, dc))
    })
    .await
    .expect("node")
    .expect("node runs (apt-get install nodejs)");
    let (out, _h, _dc) = out;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browser flows failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("ok - bob sees his own only"), "{stdout}");
}
