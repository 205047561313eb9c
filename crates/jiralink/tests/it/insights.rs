//! `jiralink insights` end to end: sync a simulated site, audit it, write the HTML report; headless
//! Chromium opens the report, every chart draws and no script fails; a screenshot is kept for review
//! as `insights-report.png` in the target directory. Chromium comes from `scripts/setup-chromium.sh`.

use std::path::PathBuf;
use std::process::Command;

use jiralink_sim::Deployment;

use crate::credential::{start_sim, Session};

fn chromium() -> PathBuf {
    let path = std::env::var_os("JIRALINK_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "headless Chromium not found at {}: run scripts/setup-chromium.sh (or set JIRALINK_CHROMIUM)",
        path.display()
    );
    path
}

/// Chromium, headless, with nothing that reaches for the network.
fn headless(profile: &std::path::Path) -> Command {
    let mut c = Command::new(chromium());
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--virtual-time-budget=5000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_renders_in_headless_chromium_and_every_output_form_works() {
    let sim = start_sim(Deployment::Cloud, 3000, 5).await;
    let mut s = Session::synced_admin("insights", &sim, "site");
    let r = s.run(&["access", "site"], None, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let report = s.home.join("report.html");
    let r = s.run(
        &[
            "insights",
            "--credential",
            "site",
            "--seed",
            "3",
            "--html",
            report.to_str().expect("path"),
        ],
        None,
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("report written to"), "{}", r.stdout);
    assert!(r.stdout.contains("cycle time p50/p85/p95"), "{}", r.stdout);
    let html = std::fs::read_to_string(&report).expect("report");
    assert!(
        !html.contains("http://") || !html.contains("src=\"http"),
        "no external resource"
    );
    assert!(
        !html.contains("<link") && !html.contains(" src="),
        "the report is self-contained"
    );

    // JSON and CSV carry the same numbers.
    let json = s.run(&["--json", "insights", "--seed", "3"], None, &[]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    let completed = v["flow"]["completed"].as_u64().expect("completed");
    assert!(completed > 0);
    assert_eq!(v["coverage"]["issues"], 3000);
    // Sprint history rows name the sprint field by id on Cloud: scope added after a start shows.
    let sprints = v["sprints"]["sprints"].as_array().expect("sprints");
    assert!(
        sprints.iter().any(|s| s["added_items"].as_u64() > Some(0)),
        "no sprint scope change read from the history"
    );
    let csv = s.run(&["insights", "--csv", "--seed", "3"], None, &[]);
    assert!(csv.stdout.starts_with("section,metric,dimension,value\n"));
    assert!(
        csv.stdout
            .contains(&format!("flow,completed,,{completed}\n")),
        "{}",
        &csv.stdout[..200]
    );

    // Bad input names the flag and exits 2.
    let bad = s.run(&["insights", "--tz", "Mars/Olympus"], None, &[]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--tz"), "{}", bad.stderr);
    let bad = s.run(&["insights", "--credential", "nobody"], None, &[]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("jiralink sync nobody"),
        "{}",
        bad.stderr
    );

    // Headless Chromium: the load handler counts drawn charts; an error would be recorded too.
    let profile = s.home.join("chromium-profile");
    let out = headless(&profile)
        .arg("--dump-dom")
        .arg(format!("file://{}", report.display()))
        .output()
        .expect("chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    // Five charts, plus one sprint chart per board (the simulated site has several boards).
    let boards = v["sprints"]["boards"].as_array().expect("boards").len();
    assert!(boards >= 2, "{boards} boards");
    let all = 5 + boards;
    assert!(
        dom.contains(&format!("data-rendered=\"{all}/{all}\"")),
        "charts not all drawn: {}",
        &dom[..dom.len().min(400)]
    );
    assert_eq!(html.matches("<h3 data-board=").count(), boards);
    assert!(!dom.contains("data-error"), "script error in the report");

    // Kept for review in the target directory (wherever CARGO_TARGET_DIR puts it).
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    std::fs::create_dir_all(&target).expect("target dir");
    let shot = target.join("insights-report.png");
    let _ = std::fs::remove_file(&shot);
    let out = headless(&profile)
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1280,3200")
        .arg(format!("file://{}", report.display()))
        .output()
        .expect("chromium");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "screenshot of {} bytes",
        png.len()
    );
}

/// `jiralink insights` measures flow efficiency with the waiting statuses the web app's Stages
/// page saved in the store, as the app's dashboards do; a `--config` naming stages wins.
#[tokio::test(flavor = "multi_thread")]
async fn the_stages_saved_by_the_web_app_are_used_unless_the_config_names_some() {
    use jiralink_store::web::Accounts;
    use jiralink_store::Backend;
    let sim = start_sim(Deployment::Cloud, 300, 9).await;
    let mut s = Session::synced_admin("insights-stages", &sim, "site");
    let flow = |s: &mut Session, extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["--json", "insights", "--seed", "3"];
        args.extend_from_slice(extra);
        let r = s.run(&args, None, &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
        v["flow"].clone()
    };
    let before = flow(&mut s, &[]);
    assert_eq!(
        before["waiting_statuses"],
        serde_json::json!([]),
        "{before}"
    );
    assert_eq!(before["flow_efficiency"], serde_json::Value::Null);

    // The Stages page's save: an in-progress status the issues spent time in is waiting.
    let mut store = jiralink_store::Store::open_sqlite(&s.home.join("jiralink.db")).expect("store");
    let (_, rows) = store
        .query_strings(
            "SELECT DISTINCT name FROM statuses WHERE category = 'indeterminate' ORDER BY name",
        )
        .expect("statuses");
    let in_progress: Vec<String> = rows.into_iter().filter_map(|r| r[0].clone()).collect();
    let spent: Vec<String> = before["time_in_status"]
        .as_array()
        .expect("time in status")
        .iter()
        .filter(|t| t["stage"] == "active" && t["mean_days"].as_f64() > Some(0.0))
        .filter_map(|t| t["status"].as_str().map(str::to_owned))
        .collect();
    assert!(spent.len() >= 2, "{before}");
    let waiting = spent[spent.len() - 1].clone();
    assert!(in_progress.contains(&waiting), "{in_progress:?}");
    store
        .web_put_stages(&[(waiting.clone(), "waiting".to_owned())], "root")
        .expect("save stages");
    drop(store);
    let after = flow(&mut s, &[]);
    assert_eq!(
        after["waiting_statuses"],
        serde_json::json!([waiting]),
        "{after}"
    );
    let efficiency = after["flow_efficiency"].as_f64().expect("measured now");
    assert!(efficiency > 0.0 && efficiency < 1.0, "{after}");

    // A config file that names stages is the command line's choice: it wins over the store's.
    let config = s.home.join("insights.json");
    std::fs::write(
        &config,
        serde_json::json!({"stages": {(&spent[0]): "active"}}).to_string(),
    )
    .expect("config");
    let with_config = flow(&mut s, &["--config", config.to_str().expect("path")]);
    assert_eq!(
        with_config["waiting_statuses"],
        serde_json::json!([]),
        "{with_config}"
    );
}
