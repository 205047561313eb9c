//! `jiralink apply` end to end against the Cloud and Data Center simulators: a file applied equals
//! Jira, a second run writes nothing, changed records are exactly the updates, a dry run writes
//! nothing, conflicts under each policy, no duplicates when answers are lost, Jira's own message
//! for a refused record, and the canary secret in no output.

use std::collections::HashMap;

use jiralink_sim::{Deployment, Sim};
use serde_json::{json, Value};

use super::credential::{start_sim, start_sim_in_projects, xorshift, Run, Session};

/// A software project of the simulated site (Task type, To Do → In Progress → In Review → Done).
fn software_project(sim: &Sim) -> String {
    project_of(sim, "software")
}

/// The first project of a type (`software`, `business`, `service_desk`).
fn project_of(sim: &Sim, kind: &str) -> String {
    sim.project_of_type(kind)
        .unwrap_or_else(|| panic!("a {kind} project"))
}

fn record(project: &str, i: usize, tag: &str) -> Value {
    record_in(project, None, i, tag)
}

/// A record of the acceptance files: every 50th an Epic, the four after it its children (parent
/// by external id); every third in `sprint` when given; statuses, comments, worklogs, links and
/// remote links as in [`record`].
fn record_in(project: &str, sprint: Option<&str>, i: usize, tag: &str) -> Value {
    let mut r = record_base(project, i, tag);
    if let Some(s) = sprint {
        if i.is_multiple_of(50) {
            r["issue_type"] = json!("Epic");
        } else if i % 50 <= 4 {
            r["parent"] = json!(format!("ext-{}", i - i % 50));
        }
        if i.is_multiple_of(3) {
            r["sprint"] = json!(s);
        }
    }
    r
}

fn record_base(project: &str, i: usize, tag: &str) -> Value {
    let mut r = json!({
        "external_id": format!("ext-{i}"),
        "project": project,
        "issue_type": "Task",
        "summary": format!("{tag} record {i}"),
        "description": format!("# Record {i}\nThe body of record {i}.\n- one\n- two"),
        "fields": {"labels": ["apply", format!("batch{}", i % 3)], "Priority": if i.is_multiple_of(2) { "High" } else { "low" }},
        "comments": [{"external_id": "c1", "body": format!("First comment of {i}")}],
    });
    match i % 4 {
        0 => r["status"] = json!("In Progress"),
        1 => {
            // Done's transition screen requires a resolution.
            r["status"] = json!("Done");
            r["fields"]["Resolution"] = json!("Done");
        }
        _ => {}
    }
    if i.is_multiple_of(5) {
        r["worklogs"] = json!([{"external_id": "w1", "time_spent": "1h 30m", "started": "2024-01-17T12:34:00.000+0000"}]);
    }
    if i % 10 == 3 {
        r["links"] = json!([{"type": "Blocks", "external_id": format!("ext-{}", i - 1)}]);
    }
    if i.is_multiple_of(7) {
        r["remote_links"] = json!([{"global_id": format!("system=ci&id={i}"), "url": format!("https://ci.example/{i}"), "title": format!("Build {i}")}]);
    }
    r
}

fn write_file(path: &std::path::Path, records: &[Value]) {
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    std::fs::write(path, text).expect("write the records");
}

/// Jira's side, read as the admin: every issue carrying the origin property, by external id
/// (a list, so that duplicates show).
async fn live(sim: &Sim, project: &str) -> HashMap<String, Vec<Value>> {
    let admin = sim.identity("admin").expect("admin");
    let cloud = admin.auth == "cloud-token";
    let user = admin
        .email
        .clone()
        .or(admin.username.clone())
        .expect("a login");
    let http = reqwest::Client::new();
    let mut out: HashMap<String, Vec<Value>> = HashMap::new();
    let mut start = 0;
    let mut token: Option<String> = None;
    loop {
        let (url, mut body) = if cloud {
            (
                format!("{}/rest/api/3/search/jql", sim.base_url()),
                json!({}),
            )
        } else {
            (
                format!("{}/rest/api/2/search", sim.base_url()),
                json!({ "startAt": start }),
            )
        };
        body["jql"] = json!(format!(
            "project = {project} AND reporter = currentUser() ORDER BY key"
        ));
        body["fields"] = json!([
            "summary",
            "labels",
            "priority",
            "status",
            "description",
            "comment",
            "worklog",
            "issuelinks",
            "parent",
            "customfield_10020"
        ]);
        body["properties"] = json!(["jiralink.origin"]);
        body["maxResults"] = json!(100);
        if let Some(t) = &token {
            body["nextPageToken"] = json!(t);
        }
        // The simulator may be injecting faults: a read is simply tried again.
        let mut page = Value::Null;
        for _ in 0..30 {
            let r = http
                .post(&url)
                .basic_auth(&user, Some(&admin.secret))
                .json(&body)
                .send()
                .await;
            if let Ok(r) = r {
                if r.status().is_success() {
                    if let Ok(v) = r.json::<Value>().await {
                        page = v;
                        break;
                    }
                }
            }
        }
        let issues = page["issues"].as_array().cloned().expect("a search page");
        let n = issues.len();
        for i in issues {
            if let Some(eid) = i["properties"]["jiralink.origin"]["external_id"].as_str() {
                out.entry(eid.to_owned()).or_default().push(i.clone());
            }
        }
        start += n;
        if cloud {
            token = page["nextPageToken"].as_str().map(str::to_owned);
            if token.is_none() {
                break;
            }
        } else if n == 0 || start >= page["total"].as_u64().unwrap_or(0) as usize {
            break;
        }
    }
    out
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => jiralink_api::adf::plain_text(other),
    }
}

/// Jira holds what the records say (fields, status, one comment, the worklogs).
fn assert_equals_file(jira: &HashMap<String, Vec<Value>>, records: &[Value]) {
    for r in records {
        let eid = r["external_id"].as_str().expect("eid");
        let found = jira
            .get(eid)
            .unwrap_or_else(|| panic!("{eid} is not in Jira"));
        assert_eq!(found.len(), 1, "{eid} has {} issues", found.len());
        let f = &found[0]["fields"];
        assert_eq!(f["summary"], r["summary"], "{eid}");
        let mut labels: Vec<&str> = f["labels"]
            .as_array()
            .expect("labels")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        labels.sort();
        let mut want: Vec<&str> = r["fields"]["labels"]
            .as_array()
            .expect("labels")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        want.sort();
        assert_eq!(labels, want, "{eid}");
        assert!(
            f["priority"]["name"]
                .as_str()
                .expect("priority")
                .eq_ignore_ascii_case(r["fields"]["Priority"].as_str().expect("p")),
            "{eid}: {}",
            f["priority"]
        );
        assert!(
            text_of(&f["description"]).contains("The body of record"),
            "{eid}"
        );
        if let Some(s) = r["status"].as_str() {
            assert_eq!(f["status"]["name"].as_str(), Some(s), "{eid}");
        }
        let comments = f["comment"]["total"].as_u64().unwrap_or(0);
        assert_eq!(comments, 1, "{eid}: comments");
        let worklogs = f["worklog"]["total"].as_u64().unwrap_or(0);
        let want_w = r["worklogs"].as_array().map(Vec::len).unwrap_or(0) as u64;
        assert_eq!(worklogs, want_w, "{eid}: worklogs");
        let links = f["issuelinks"].as_array().map(Vec::len).unwrap_or(0);
        if r["links"].is_array() {
            assert!(links >= 1, "{eid}: links");
        }
        if let Some(p) = r["parent"].as_str() {
            let parent = &jira.get(p).unwrap_or_else(|| panic!("{p} is not in Jira"))[0];
            assert_eq!(f["parent"]["key"], parent["key"], "{eid}: parent");
        }
        if let Some(sprint) = r["sprint"].as_str() {
            // Cloud's objects or Data Center's `Sprint@..[..,name=X,..]` strings.
            let field = f["customfield_10020"].to_string();
            assert!(
                field.contains(&format!("\"name\":\"{sprint}\""))
                    || field.contains(&format!("name={sprint},")),
                "{eid}: not in {sprint}: {field}"
            );
        }
    }
}

/// The name of an open sprint of the project's scrum board.
fn open_sprint(sim: &Sim, project: &str) -> String {
    let snap = sim.snapshot();
    let boards: Vec<u64> = snap["boards"]
        .as_array()
        .expect("boards")
        .iter()
        .filter(|b| b["project_key"] == project && b["type"] == "scrum")
        .filter_map(|b| b["id"].as_u64())
        .collect();
    snap["sprints"]
        .as_array()
        .expect("sprints")
        .iter()
        .find(|s| {
            s["state"] == "active" && s["board_id"].as_u64().is_some_and(|b| boards.contains(&b))
        })
        .and_then(|s| s["name"].as_str())
        .expect("an active sprint")
        .to_owned()
}

/// The JSON objects of a `--json` output, one a line (other lines passed over).
fn json_lines(stdout: &str) -> impl Iterator<Item = Value> + '_ {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
}

/// The records file of a session's home: its path, and the path as the argument `apply` takes.
fn records_file(s: &Session) -> (std::path::PathBuf, String) {
    let file = s.home.join("records.jsonl");
    let arg = file.to_str().expect("path").to_owned();
    (file, arg)
}

/// `--json apply prod FILE`, asserted to exit `code`: what it printed, and the number of write
/// requests it sent to the site.
fn apply_json(s: &mut Session, sim: &Sim, file: &str, code: i32) -> (Run, u64) {
    let before = sim.write_requests();
    let r = s.run(&["--json", "apply", "prod", file], None, &[]);
    assert_eq!(r.code, code, "{}{}", r.stdout, r.stderr);
    let writes = sim.write_requests() - before;
    (r, writes)
}

fn summary_line(stdout: &str) -> Value {
    json_lines(stdout)
        .find(|v| v["summary"] == true)
        .unwrap_or_else(|| panic!("no summary line in {stdout}"))
}

/// The acceptance's sizes: a 1,000-record file, 100 of them changed.
const RECORDS: usize = 1000;
const CHANGED: usize = 100;

async fn apply_round_trip(deployment: Deployment, tag: &str) {
    let sim = start_sim(deployment, 150, 77).await;
    let project = software_project(&sim);
    let sprint = open_sprint(&sim, &project);
    let mut s = Session::with_admin(tag, &sim, "prod");
    let (file, file_s) = records_file(&s);
    let mut records: Vec<Value> = (0..RECORDS)
        .map(|i| record_in(&project, Some(&sprint), i, "first"))
        .collect();
    write_file(&file, &records);

    // The plan, and no write request.
    let before = sim.write_requests();
    let r = s.run(
        &["--json", "apply", "prod", &file_s, "--dry-run"],
        None,
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(sim.write_requests(), before, "a dry run wrote");
    let planned = r
        .stdout
        .lines()
        .filter(|l| l.contains("\"planned\""))
        .count();
    assert_eq!(planned, RECORDS, "{}", r.stdout);

    let r = s.run(&["--json", "apply", "prod", &file_s], None, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let sum = summary_line(&r.stdout);
    assert_eq!(sum["created"], RECORDS, "{sum}");
    // Progress as sync shows it: not a terminal here, so log lines on stderr.
    assert!(
        r.stderr.contains(&format!(
            "prod: [####################] {RECORDS}/{RECORDS} records"
        )),
        "{}",
        r.stderr
    );
    assert_eq!(sum["failed"], 0, "{sum}");
    assert_equals_file(&live(&sim, &project).await, &records);

    // Applied again: nothing to write.
    let (r, writes) = apply_json(&mut s, &sim, &file_s, 0);
    assert_eq!(writes, 0, "a second apply wrote: {}", r.stdout);
    assert_eq!(summary_line(&r.stdout)["unchanged"], RECORDS);

    // 100 records changed: exactly those 100 edits.
    for i in (0..RECORDS).step_by(RECORDS / CHANGED) {
        records[i]["summary"] = json!(format!("changed record {i}"));
    }
    write_file(&file, &records);
    let (r, writes) = apply_json(&mut s, &sim, &file_s, 0);
    assert_eq!(writes, CHANGED as u64, "{}", r.stdout);
    let sum = summary_line(&r.stdout);
    assert_eq!(sum["updated"], CHANGED, "{sum}");
    assert_equals_file(&live(&sim, &project).await, &records);

    // The log holds every write, attributed.
    let r = s.run(&["--json", "apply", "prod", "--log"], None, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let rows: Vec<Value> = json_lines(&r.stdout).collect();
    assert!(
        rows.iter().all(|row| row["outcome"] == "ok"),
        "{}",
        r.stdout
    );
    assert_eq!(
        rows.iter().filter(|row| row["action"] == "update").count(),
        CHANGED
    );

    let admin = sim.identity("admin").expect("admin").secret.clone();
    s.assert_never_seen(&admin);
}

#[tokio::test(flavor = "multi_thread")]
async fn cloud_apply_equals_the_file_and_a_second_run_writes_nothing() {
    apply_round_trip(Deployment::Cloud, "apply-cloud").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn datacenter_apply_equals_the_file_and_a_second_run_writes_nothing() {
    apply_round_trip(Deployment::Datacenter, "apply-dc").await;
}

async fn set_summary(sim: &Sim, key: &str, summary: &str) {
    let admin = sim.identity("admin").expect("admin");
    let r = reqwest::Client::new()
        .put(format!("{}/rest/api/2/issue/{key}", sim.base_url()))
        .basic_auth(admin.email.as_deref().expect("email"), Some(&admin.secret))
        .json(&json!({"fields": {"summary": summary}}))
        .send()
        .await
        .expect("edit");
    assert!(r.status().is_success(), "{}", r.status());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conflict_fails_by_default_and_each_policy_resolves_it() {
    let sim = start_sim(Deployment::Cloud, 40, 5).await;
    let project = software_project(&sim);
    let mut s = Session::with_admin("apply-conflict", &sim, "prod");
    let (file, file_s) = records_file(&s);
    let mut records: Vec<Value> = (0..3).map(|i| record(&project, i, "c")).collect();
    write_file(&file, &records);
    let r = s.run(&["apply", "prod", &file_s], None, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let key = live(&sim, &project).await["ext-1"][0]["key"]
        .as_str()
        .expect("key")
        .to_owned();

    // Both sides changed the summary.
    set_summary(&sim, &key, "changed in Jira").await;
    records[1]["summary"] = json!("changed in the file");
    write_file(&file, &records);
    let before = sim.write_requests();
    let r = s.run(&["apply", "prod", &file_s], None, &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("conflict on summary"), "{}", r.stdout);
    assert!(r.stdout.contains("1 failed"), "{}", r.stdout);
    assert_eq!(sim.write_requests(), before);

    let r = s.run(
        &["apply", "prod", &file_s, "--on-conflict", "jira-wins"],
        None,
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let jira = live(&sim, &project).await;
    assert_eq!(jira["ext-1"][0]["fields"]["summary"], "changed in Jira");

    set_summary(&sim, &key, "changed in Jira again").await;
    let r = s.run(
        &["apply", "prod", &file_s, "--on-conflict", "file-wins"],
        None,
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let jira = live(&sim, &project).await;
    assert_eq!(jira["ext-1"][0]["fields"]["summary"], "changed in the file");
}

#[tokio::test(flavor = "multi_thread")]
async fn lost_answers_never_make_duplicates() {
    let sim = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(40)
        .seed(9)
        .fault_rate(0.15)
        .start()
        .await
        .expect("sim");
    let project = software_project(&sim);
    let mut s = Session::new("apply-faults");
    // Added untested: the connection test would meet the injected faults.
    s.add_admin_untested(&sim, "prod");
    let (file, file_s) = records_file(&s);
    let records: Vec<Value> = (0..120).map(|i| record(&project, i, "f")).collect();
    write_file(&file, &records);
    // A run may stop on a read that failed every retry; the next one carries on.
    let mut ok = false;
    for _ in 0..10 {
        let r = s.run(
            &["apply", "prod", &file_s, "--reconcile-after", "0.5"],
            None,
            &[],
        );
        if r.code == 0 {
            ok = true;
            break;
        }
    }
    assert!(ok, "apply never finished under faults");
    assert_equals_file(&live(&sim, &project).await, &records);
    // Writes did meet faults (their outcome was unknown, then reconciled), and the log says so.
    let r = s.run(&["--json", "apply", "prod", "--log"], None, &[]);
    let rows: Vec<Value> = json_lines(&r.stdout).collect();
    let reconciled = rows
        .iter()
        .filter(|row| row["outcome"] == "adopted" || row["outcome"] == "not_applied")
        .count();
    assert!(reconciled > 0, "no write met a fault: {}", r.stdout);
    assert!(
        rows.iter()
            .all(|row| row["outcome"] != "pending" && row["outcome"] != "ambiguous"),
        "{}",
        r.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_records_are_reported_with_every_problem_and_jiras_message() {
    let sim = start_sim(Deployment::Datacenter, 40, 3).await;
    let project = software_project(&sim);
    let mut s = Session::with_admin("apply-bad", &sim, "prod");
    let (file, file_s) = records_file(&s);
    let good = record(&project, 2, "ok");
    let mut invalid = record(&project, 3, "bad");
    invalid["fields"]["Colour"] = json!("red");
    invalid["fields"]["Priority"] = json!("Urgent");
    let mut refused = record(&project, 4, "refused");
    refused["worklogs"] = json!([{"external_id": "w", "time_spent": "1h", "started": "yesterday"}]);
    write_file(&file, &[good, invalid, refused]);
    let r = s.run(&["apply", "prod", &file_s], None, &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    // Every problem of the invalid record at once, before anything was written for it.
    assert!(
        r.stdout
            .contains("field 'Colour' is not on the create screen"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("'Urgent' is not an allowed value"),
        "{}",
        r.stdout
    );
    // Jira's own message for what it refused.
    assert!(r.stdout.contains("Invalid start date"), "{}", r.stdout);
    assert!(r.stdout.contains("1 created"), "{}", r.stdout);
    assert!(r.stdout.contains("2 failed"), "{}", r.stdout);
    let jira = live(&sim, &project).await;
    assert!(jira.contains_key("ext-2"));
    assert!(!jira.contains_key("ext-3"));

    // A file that is not records at all: exit 2, nothing sent.
    std::fs::write(&file, "this is not json\n").expect("write");
    let r = s.run(&["apply", "prod", &file_s], None, &[]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("not JSON Lines"), "{}", r.stderr);
}

/// The ledger in PostgreSQL: the same file applied twice writes once, and the views answer.
#[tokio::test(flavor = "multi_thread")]
async fn the_ledger_works_in_postgres_too() {
    let db = crate::postgres::TestDb::new("apply");
    let sim = start_sim(Deployment::Datacenter, 40, 12).await;
    let project = software_project(&sim);
    let mut s = Session::with_admin("apply-pg", &sim, "prod");
    let (file, file_s) = records_file(&s);
    let records: Vec<Value> = (0..30).map(|i| record(&project, i, "pg")).collect();
    write_file(&file, &records);
    let url = db.url();
    let r = s.run(
        &["--store", &url, "--json", "apply", "prod", &file_s],
        None,
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(summary_line(&r.stdout)["created"], 30);
    let before = sim.write_requests();
    let r = s.run(
        &["--store", &url, "--json", "apply", "prod", &file_s],
        None,
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(sim.write_requests(), before, "{}", r.stdout);
    assert_equals_file(&live(&sim, &project).await, &records);
    let r = s.run(
        &["--store", &url, "--json", "apply", "prod", "--log"],
        None,
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let creates = json_lines(&r.stdout)
        .filter(|row| row["action"] == "create" && row["outcome"] == "ok")
        .count();
    assert_eq!(creates, 30, "{}", r.stdout);
}

/// The acceptance's crash test: 2,000 records, killed (SIGKILL) at 20 moments spread over the runs,
/// with faults on (`--fault-rate 0.1`, applied-then-lost answers among them), then run to the end:
/// Jira equals the file with no duplicate issue, comment or worklog, no write is left pending, and
/// every issue, comment and worklog in Jira has its row in `write_log`.
#[tokio::test(flavor = "multi_thread")]
async fn killed_runs_then_a_full_one_equal_the_file_without_duplicates() {
    let sim = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(40)
        .seed(21)
        .fault_rate(0.1)
        .start()
        .await
        .expect("sim");
    let project = software_project(&sim);
    let sprint = open_sprint(&sim, &project);
    let mut s = Session::new("apply-kill");
    s.add_admin_untested(&sim, "prod");
    let (file, file_s) = records_file(&s);
    let records: Vec<Value> = (0..CRASH_RECORDS)
        .map(|i| record_in(&project, Some(&sprint), i, "k"))
        .collect();
    write_file(&file, &records);
    // Long enough for a killed run's last requests to land at the simulator.
    let args = [
        "apply",
        "prod",
        &file_s,
        "--reconcile-after",
        "1",
        "--concurrency",
        "32",
    ];
    let apply = || s.spawn(&args);
    // Kill moments spread over the run.
    let mut killed = 0;
    for x in xorshift(0x9E37_79B9_7F4A_7C15).take(KILLS) {
        let mut child = apply();
        tokio::time::sleep(std::time::Duration::from_millis(200 + x % 2500)).await;
        if child.try_wait().expect("poll").is_none() {
            child.kill().expect("SIGKILL");
            killed += 1;
        }
        let _ = child.wait();
    }
    assert!(
        killed >= KILLS / 2,
        "most runs were killed mid-way ({killed})"
    );
    let mut ok = false;
    for _ in 0..10 {
        if apply().wait().expect("a full run").success() {
            ok = true;
            break;
        }
    }
    assert!(ok, "apply never finished");
    let r = s.run(&["--json", "apply", "prod", "--log"], None, &[]);
    let jira = live(&sim, &project).await;
    for (eid, found) in &jira {
        if found.len() > 1 {
            let trail: Vec<&str> = r
                .stdout
                .lines()
                .filter(|l| l.contains(&format!("\"{eid}\"")))
                .collect();
            let keys: Vec<&Value> = found.iter().map(|i| &i["key"]).collect();
            panic!(
                "{eid} has {} issues {keys:?}; its write log:\n{}",
                found.len(),
                trail.join("\n")
            );
        }
    }
    assert_equals_file(&jira, &records);
    let rows: Vec<Value> = json_lines(&r.stdout).collect();
    assert!(
        rows.iter().all(|row| row["outcome"] != "pending"),
        "{}",
        r.stdout
    );
    // Every object in Jira is accounted for: a row that wrote or adopted it, with its id.
    let logged: std::collections::HashSet<&str> = rows
        .iter()
        .filter(|row| row["outcome"] == "ok" || row["outcome"] == "adopted")
        .filter_map(|row| row["jira_id"].as_str())
        .collect();
    let mut objects = 0;
    for found in jira.values() {
        let f = &found[0]["fields"];
        let mut ids: Vec<&str> = vec![found[0]["id"].as_str().expect("id")];
        for (list, key) in [("comment", "comments"), ("worklog", "worklogs")] {
            ids.extend(
                f[list][key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["id"].as_str()),
            );
        }
        for id in ids {
            objects += 1;
            assert!(
                logged.contains(id),
                "{id} is in Jira but in no write_log row"
            );
        }
    }
    assert!(objects > CRASH_RECORDS * 2, "{objects}");
}

/// The crash test's size and kills.
const CRASH_RECORDS: usize = 2000;
const KILLS: usize = 20;

/// The `--json` report of each record, by external id.
fn reports_by_id(stdout: &str) -> HashMap<String, Value> {
    json_lines(stdout)
        .filter_map(|v| Some((v["external_id"].as_str()?.to_owned(), v)))
        .collect()
}

/// An issue's fields as the admin reads them.
async fn issue_fields(sim: &Sim, key: &str, fields: &str) -> Value {
    let admin = sim.identity("admin").expect("admin");
    let user = admin
        .email
        .clone()
        .or(admin.username.clone())
        .expect("a login");
    let r = reqwest::Client::new()
        .get(format!(
            "{}/rest/api/2/issue/{key}?fields={fields}",
            sim.base_url()
        ))
        .basic_auth(user, Some(&admin.secret))
        .send()
        .await
        .expect("read");
    assert!(r.status().is_success(), "{}", r.status());
    r.json::<Value>().await.expect("json")["fields"].clone()
}

/// Restricted workflows: statuses several transitions away are reached, transition screens'
/// required fields are filled from the record, and a record lacking one fails naming the field
/// (nothing sent for that step); a second run writes nothing.
async fn workflow_paths_and_screens(deployment: Deployment, tag: &str) {
    let sim = start_sim_in_projects(deployment, 60, 5, 44).await;
    let software = project_of(&sim, "software");
    let business = project_of(&sim, "business");
    let admin = sim.identity("admin").expect("admin").clone();
    let me = if deployment == Deployment::Cloud {
        admin.email.clone()
    } else {
        admin.username.clone()
    }
    .expect("a login");
    let mut s = Session::with_admin(tag, &sim, "prod");
    let (file, file_s) = records_file(&s);
    let rec = |eid: &str, project: &str, status: &str| json!({"external_id": eid, "project": project, "issue_type": "Task", "summary": format!("wf {eid}"), "status": status});
    let mut blocked = rec("wf-1", &business, "Blocked");
    blocked["assignee"] = json!(me);
    let mut closed = rec("wf-2", &business, "Closed");
    closed["fields"] = json!({"Resolution": "Won't Do"});
    let no_assignee = rec("wf-3", &business, "In Progress");
    let review = rec("wf-4", &software, "In Review");
    let no_resolution = rec("wf-5", &software, "Done");
    let mut bad_resolution = rec("wf-6", &software, "Done");
    bad_resolution["fields"] = json!({"resolution": "Maybe"});
    write_file(
        &file,
        &[
            blocked,
            closed,
            no_assignee,
            review,
            no_resolution,
            bad_resolution,
        ],
    );
    let r = s.run(&["--json", "apply", "prod", &file_s], None, &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let reports = reports_by_id(&r.stdout);
    for ok in ["wf-1", "wf-2", "wf-4"] {
        assert_eq!(reports[ok]["outcome"], "applied", "{}", reports[ok]);
    }
    let problem = |eid: &str| reports[eid]["problems"].to_string();
    assert!(
        problem("wf-3").contains("requires Assignee (assignee)"),
        "{}",
        problem("wf-3")
    );
    assert!(
        problem("wf-5").contains("requires Resolution (resolution)"),
        "{}",
        problem("wf-5")
    );
    assert!(
        problem("wf-6").contains("'Maybe' is not an allowed value"),
        "{}",
        problem("wf-6")
    );
    let key = |eid: &str| reports[eid]["issue_key"].as_str().expect("key").to_owned();
    let f = issue_fields(&sim, &key("wf-1"), "status,assignee").await;
    assert_eq!(f["status"]["name"], "Blocked");
    assert!(!f["assignee"].is_null());
    let f = issue_fields(&sim, &key("wf-2"), "status,resolution").await;
    assert_eq!(f["status"]["name"], "Closed");
    assert_eq!(f["resolution"]["name"], "Won't Do");
    let f = issue_fields(&sim, &key("wf-4"), "status").await;
    assert_eq!(f["status"]["name"], "In Review");
    let f = issue_fields(&sim, &key("wf-5"), "status,resolution").await;
    assert_eq!(
        f["status"]["name"], "To Do",
        "a refused step moved the issue"
    );
    // The write log: wf-1 took three transitions (Backlog → Selected → In Progress → Blocked),
    // wf-4 two.
    let r = s.run(&["--json", "apply", "prod", "--log"], None, &[]);
    let steps = |eid: &str| {
        json_lines(&r.stdout)
            .filter(|row| row["external_id"] == eid && row["action"] == "transition")
            .map(|row| row["after"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        steps("wf-1"),
        ["Selected for Development", "In Progress", "Blocked"]
    );
    assert_eq!(steps("wf-4"), ["In Progress", "In Review"]);
    // Again: the failing records fail the same way before any write; nothing is written.
    let (r, writes) = apply_json(&mut s, &sim, &file_s, 1);
    assert_eq!(writes, 0, "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn cloud_apply_walks_restricted_workflows_and_fills_transition_screens() {
    workflow_paths_and_screens(Deployment::Cloud, "apply-wf-cloud").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn datacenter_apply_walks_restricted_workflows_and_fills_transition_screens() {
    workflow_paths_and_screens(Deployment::Datacenter, "apply-wf-dc").await;
}

/// `sprint` by name: found on the project's boards, moved through the Agile API (50 issues a
/// request), planned only when the issue is not there yet; a closed or unknown sprint is named.
async fn sprints_by_name(deployment: Deployment, tag: &str) {
    let sim = start_sim_in_projects(deployment, 60, 5, 45).await;
    let project = software_project(&sim);
    let snap = sim.snapshot();
    let board = snap["boards"]
        .as_array()
        .expect("boards")
        .iter()
        .find(|b| b["project_key"] == project.as_str() && b["type"] == "scrum")
        .and_then(|b| b["id"].as_u64())
        .expect("a scrum board");
    let sprint = |state: &str| {
        snap["sprints"]
            .as_array()
            .expect("sprints")
            .iter()
            .find(|s| s["board_id"] == board && s["state"] == state)
            .map(|s| {
                (
                    s["id"].as_u64().expect("id"),
                    s["name"].as_str().expect("name").to_owned(),
                )
            })
            .unwrap_or_else(|| panic!("a {state} sprint"))
    };
    let (active_id, active) = sprint("active");
    let (_, closed) = sprint("closed");
    // A second open sprint, made as Jira makes one.
    let admin = sim.identity("admin").expect("admin").clone();
    let user = admin
        .email
        .clone()
        .or(admin.username.clone())
        .expect("login");
    let made: Value = reqwest::Client::new()
        .post(format!("{}/rest/agile/1.0/sprint", sim.base_url()))
        .basic_auth(&user, Some(&admin.secret))
        .json(&json!({"name": "Apply Sprint", "originBoardId": board}))
        .send()
        .await
        .expect("create a sprint")
        .json()
        .await
        .expect("json");
    let future_id = made["id"].as_u64().expect("sprint id");
    let mut s = Session::with_admin(tag, &sim, "prod");
    let (file, file_s) = records_file(&s);
    let rec = |i: usize, sprint: &str| json!({"external_id": format!("sp-{i}"), "project": project, "issue_type": "Task", "summary": format!("sprint {i}"), "sprint": sprint});
    let mut records: Vec<Value> = (0..60).map(|i| rec(i, &active)).collect();
    records.push(rec(60, "apply sprint"));
    records.push(rec(61, &closed));
    records.push(rec(62, "No Such Sprint"));
    write_file(&file, &records);
    let (r, writes) = apply_json(&mut s, &sim, &file_s, 1);
    assert!(
        r.stdout.contains(&format!("sprint '{closed}' is closed")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("sprint 'No Such Sprint' is on no board"),
        "{}",
        r.stdout
    );
    // Two bulk creates, then 60 issues into the active sprint in two moves and one into the
    // other: five write requests.
    assert_eq!(writes, 5, "{}", r.stdout);
    let in_sprint = |sid: u64| -> Vec<String> {
        let snap = sim.snapshot();
        snap["issues"]
            .as_array()
            .expect("issues")
            .iter()
            .filter(|i| {
                i["sprint_ids"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x.as_u64() == Some(sid)))
            })
            .filter_map(|i| i["key"].as_str().map(str::to_owned))
            .collect()
    };
    let reports = reports_by_id(&r.stdout);
    let key = |eid: &str| reports[eid]["issue_key"].as_str().expect("key").to_owned();
    let active_now = in_sprint(active_id);
    for i in 0..60 {
        assert!(active_now.contains(&key(&format!("sp-{i}"))), "sp-{i}");
    }
    assert_eq!(in_sprint(future_id), [key("sp-60")]);
    // Applied again: everything is where the file says; nothing is written.
    records.truncate(61);
    write_file(&file, &records);
    let (r, writes) = apply_json(&mut s, &sim, &file_s, 0);
    assert_eq!(writes, 0, "{}", r.stdout);
    // One record moves to the other sprint: one request.
    records[0]["sprint"] = json!("Apply Sprint");
    write_file(&file, &records);
    let r = s.run(
        &["--json", "apply", "prod", &file_s, "--dry-run"],
        None,
        &[],
    );
    assert!(r.stdout.contains("sprint Apply Sprint"), "{}", r.stdout);
    let (r, writes) = apply_json(&mut s, &sim, &file_s, 0);
    assert_eq!(writes, 1, "{}", r.stdout);
    assert!(in_sprint(future_id).contains(&key("sp-0")));
}

#[tokio::test(flavor = "multi_thread")]
async fn cloud_apply_moves_issues_into_sprints_by_name() {
    sprints_by_name(Deployment::Cloud, "apply-sprint-cloud").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn datacenter_apply_moves_issues_into_sprints_by_name() {
    sprints_by_name(Deployment::Datacenter, "apply-sprint-dc").await;
}

/// jiralink's own writes are recognisable in the synced history: after `apply` and a `sync` into
/// the same store, `apply_changes` holds the changes the applies made (status moves, a summary
/// edit) with their run and record, and not a change someone else made to the same issue.
async fn own_changes_in_the_synced_history(deployment: Deployment, tag: &str) {
    let sim = start_sim_in_projects(deployment, 30, 3, 46).await;
    let project = software_project(&sim);
    let mut s = Session::with_admin(tag, &sim, "prod");
    let (file, file_s) = records_file(&s);
    let mut records: Vec<Value> = (0..4)
        .map(|i| {
            json!({"external_id": format!("own-{i}"), "project": project, "issue_type": "Task",
                   "summary": format!("own {i}"), "status": "In Review"})
        })
        .collect();
    write_file(&file, &records);
    let r = s.run(&["--json", "apply", "prod", &file_s], None, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let first = summary_line(&r.stdout)["run_id"]
        .as_str()
        .expect("run id")
        .to_owned();
    records[2]["summary"] = json!("own 2, edited");
    write_file(&file, &records);
    let r = s.run(&["--json", "apply", "prod", &file_s], None, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let second = summary_line(&r.stdout)["run_id"]
        .as_str()
        .expect("run id")
        .to_owned();
    // Someone else edits one of the issues.
    let jira = live(&sim, &project).await;
    let id: u64 = jira["own-1"][0]["id"]
        .as_str()
        .and_then(|i| i.parse().ok())
        .expect("id");
    let reader = sim.identity("reader").expect("reader");
    let other = reader
        .account_id
        .clone()
        .or(reader.username.clone())
        .expect("reader's account");
    assert!(sim.test_api().set_labels(id, &["by-hand"], &other));
    let r = s.run(&["sync", "prod"], None, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    let store = jiralink_store::Store::open_sqlite(&s.home.join("jiralink.db")).expect("store");
    use jiralink_store::Backend;
    let rows: Vec<Vec<String>> = store
        .query_strings(
            "SELECT external_id, run_id, field, to_string FROM apply_changes ORDER BY external_id, changed_at",
        )
        .expect("apply_changes")
        .1
        .into_iter()
        .map(|r| r.into_iter().map(Option::unwrap_or_default).collect())
        .collect();
    for i in 0..4 {
        let eid = format!("own-{i}");
        let moves: Vec<&str> = rows
            .iter()
            .filter(|r| r[0] == eid && r[2] == "status")
            .map(|r| r[3].as_str())
            .collect();
        assert_eq!(moves, ["In Progress", "In Review"], "{eid}: {rows:?}");
        assert!(
            rows.iter()
                .filter(|r| r[0] == eid && r[2] == "status")
                .all(|r| r[1] == first),
            "{first} {second} {rows:?}"
        );
    }
    let edits: Vec<&Vec<String>> = rows.iter().filter(|r| r[2] == "summary").collect();
    assert_eq!(edits.len(), 1, "{rows:?}");
    assert_eq!(edits[0][0], "own-2");
    assert_eq!(edits[0][1], second);
    assert!(
        !rows.iter().any(|r| r[2] == "labels"),
        "someone else's change was taken for jiralink's: {rows:?}"
    );
    // The synced history has that change; it is just not jiralink's.
    let labels = store
        .query_strings(&format!(
            "SELECT COUNT(*) FROM issue_changes WHERE issue_id = '{id}' AND field = 'labels'"
        ))
        .expect("issue_changes")
        .1;
    assert_eq!(labels[0][0].as_deref(), Some("1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn cloud_own_writes_are_recognisable_in_the_synced_history() {
    own_changes_in_the_synced_history(Deployment::Cloud, "apply-own-cloud").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn datacenter_own_writes_are_recognisable_in_the_synced_history() {
    own_changes_in_the_synced_history(Deployment::Datacenter, "apply-own-dc").await;
}

/// A lost store: the ledger is gone (the store file deleted), and the same file applied again
/// finds its issues by their `jiralink.origin` property instead of creating them again; their
/// comments and worklogs are found the same way, not added twice.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_ledger_is_recovered_from_the_origin_property() {
    let sim = start_sim_in_projects(Deployment::Cloud, 30, 3, 47).await;
    let project = software_project(&sim);
    let mut s = Session::with_admin("apply-lost-store", &sim, "prod");
    let (file, file_s) = records_file(&s);
    let records: Vec<Value> = (0..30).map(|i| record(&project, i, "lost")).collect();
    write_file(&file, &records);
    let r = s.run(&["--json", "apply", "prod", &file_s], None, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let store = s.home.join("jiralink.db");
    for f in [
        store.clone(),
        store.with_extension("db-wal"),
        store.with_extension("db-shm"),
    ] {
        let _ = std::fs::remove_file(f);
    }
    // The plan on an empty store: nothing to create.
    let r = s.run(
        &["--json", "apply", "prod", &file_s, "--dry-run"],
        None,
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("\"create\""), "{}", r.stdout);
    let r = s.run(&["--json", "apply", "prod", &file_s], None, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let sum = summary_line(&r.stdout);
    assert_eq!(sum["created"], 0, "{sum}");
    let jira = live(&sim, &project).await;
    assert_equals_file(&jira, &records);
    // The links Jira has were not made again.
    for r in records.iter().filter(|r| r["links"].is_array()) {
        let eid = r["external_id"].as_str().expect("eid");
        let links = jira[eid][0]["fields"]["issuelinks"]
            .as_array()
            .map(Vec::len);
        assert_eq!(links, Some(1), "{eid}");
    }
    // The write log accounts for the records it took back.
    let r = s.run(&["--json", "apply", "prod", "--log"], None, &[]);
    let adopted = json_lines(&r.stdout)
        .filter(|row| row["action"] == "adopt" && row["outcome"] == "adopted")
        .count();
    // 30 issues, 30 comments and 6 worklogs.
    assert_eq!(adopted, 66, "{}", r.stdout);
    // And the next run is quiet again.
    let (r, writes) = apply_json(&mut s, &sim, &file_s, 0);
    assert_eq!(writes, 0, "{}", r.stdout);
}
