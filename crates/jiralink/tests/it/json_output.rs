//! Every `--json` output is one line holding one object with named fields: `status` (runs,
//! counts, watermarks, not-visible projects), `insights`, `access`, `demo`, and usage errors.

use jiralink_sim::Deployment;
use serde_json::Value;

use crate::credential::{start_sim_in_projects, Session};

/// One line, one object: the parsed object.
fn one_object(stdout: &str) -> Value {
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
    let v: Value = serde_json::from_str(stdout.trim()).expect("JSON");
    assert!(v.is_object(), "an object: {v}");
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn status_insights_and_access_json_are_one_line_objects() {
    let sim = start_sim_in_projects(Deployment::Cloud, 60, 2, 47).await;
    sim.pause_mutation(true);
    let mut s = Session::new("json-output");
    let id = sim.identity("reader").expect("identity").clone();
    s.add_identity(&sim, "reader", &id);
    let sync = s.run(&["sync", "reader"], None, &[]);
    assert_eq!(sync.code, 0, "{}{}", sync.stdout, sync.stderr);

    let status = s.run(&["--json", "status"], None, &[]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let v = one_object(&status.stdout);
    let run = &v["runs"][0];
    assert!(run.is_object(), "runs are objects with named fields: {v}");
    assert_eq!(run["status"], "ok", "{run}");
    assert_eq!(run["credential"], "reader", "{run}");
    assert_eq!(run["site_id"], sim.cloud_id(), "{run}");
    assert!(
        run["id"].is_i64() && run["requests"].as_i64() > Some(0),
        "{run}"
    );
    assert!(run["issues_written"].is_i64(), "{run}");
    assert_eq!(run["error"], Value::Null, "{run}");
    assert!(
        run["started"].is_string() && run["finished"].is_string(),
        "{run}"
    );
    let mark = &v["watermarks"][0];
    assert_eq!(mark["credential"], "reader", "{v}");
    assert!(
        mark["scope"].is_string() && mark["value"].is_string(),
        "{mark}"
    );
    assert!(
        v["not_visible"].as_array().is_some_and(Vec::is_empty),
        "{v}"
    );
    assert!(v["counts"]["issues"].as_u64() > Some(0), "{v}");

    let insights = s.run(&["--json", "insights"], None, &[]);
    assert_eq!(insights.code, 0, "{}", insights.stderr);
    let v = one_object(&insights.stdout);
    assert!(v["coverage"]["issues"].as_u64() > Some(0), "{v}");

    let access = s.run(&["--json", "access", "reader"], None, &[]);
    assert_eq!(access.code, 0, "{}", access.stderr);
    one_object(&access.stdout);
    let acks = s.run(&["--json", "access", "reader", "--acks"], None, &[]);
    assert_eq!(acks.code, 0, "{}", acks.stderr);
    one_object(&acks.stdout);

    // The demo's steps are gathered into one object.
    let report = s.home.join("demo-report.html");
    let demo = s.run(
        &[
            "--json",
            "demo",
            "--issues",
            "200",
            "--report",
            &report.display().to_string(),
        ],
        None,
        &[],
    );
    assert_eq!(demo.code, 0, "{}", demo.stderr);
    let v = one_object(&demo.stdout);
    for step in ["credential_test", "access", "sync", "flow", "report"] {
        assert!(!v[step].is_null(), "{step}: {v}");
    }

    let usage = s.run(&["--json", "access", "reader", "--ack", "nope"], None, &[]);
    assert_eq!(usage.code, 2);
    assert!(
        one_object(&usage.stdout)["error"].is_object(),
        "{}",
        usage.stdout
    );
    let _ = std::fs::remove_dir_all(&s.home);
}
