//! What write-back needs from the simulator: the paged create metadata (Cloud's `issueTypes` and
//! `fields` pages, Data Center's `values` pages), editmeta, entity properties given inline on
//! create and on comments and worklogs, and the fault kind "applied, then the answer is lost".

use jiralink_sim::{Deployment, Sim};
use serde_json::{json, Value};

use crate::support::{assert_error_body, platform, seeded, start_sim, Client};

fn software_project(sim: &Sim) -> String {
    sim.snapshot()["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .find(|p| p["type"] == "software")
        .and_then(|p| p["key"].as_str())
        .expect("a software project")
        .to_owned()
}

/// `body` with the `jiralink.origin` entity property jiralink sets on what it writes.
fn with_origin(mut body: Value, external_id: &str) -> Value {
    body["properties"] = json!([{"key": "jiralink.origin", "value": {"external_id": external_id}}]);
    body
}

/// Posts `body` to `path`, asserts 201 and returns the new object's id.
async fn created_id(c: &Client, path: &str, body: Value) -> String {
    let r = c.post(path, body).await;
    assert_eq!(r.status, 201, "{path}: {}", r.body);
    r.body["id"].as_str().expect("id").to_owned()
}

/// The external id in the `jiralink.origin` property at `path`, whose answer is validated
/// against `template` of the platform spec.
async fn origin_of(c: &Client, path: &str, template: &str) -> Value {
    let r = c.get(path).await;
    assert_eq!(r.status, 200, "{}", r.body);
    platform().validate("GET", template, &r);
    r.body["value"]["external_id"].clone()
}

#[tokio::test]
async fn cloud_create_metadata_pages_and_child_properties_match_the_spec() {
    let sim = start_sim(Deployment::Cloud, 60, 8).await;
    let c = Client::as_identity(&sim, "admin");
    let key = software_project(&sim);

    let r = c
        .get(&format!(
            "/rest/api/3/issue/createmeta/{key}/issuetypes?maxResults=2"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    platform().validate(
        "GET",
        "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes",
        &r,
    );
    assert_eq!(r.body["issueTypes"].as_array().map(Vec::len), Some(2));
    assert!(r.body["total"].as_u64().expect("total") > 2);
    let task = c
        .get(&format!(
            "/rest/api/3/issue/createmeta/{key}/issuetypes?maxResults=50"
        ))
        .await
        .body["issueTypes"]
        .as_array()
        .expect("types")
        .iter()
        .find(|t| t["name"] == "Task")
        .and_then(|t| t["id"].as_str())
        .expect("Task")
        .to_owned();
    let r = c
        .get(&format!(
            "/rest/api/3/issue/createmeta/{key}/issuetypes/{task}"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    platform().validate(
        "GET",
        "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}",
        &r,
    );
    let summary = r.body["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["fieldId"] == "summary")
        .expect("summary");
    assert_eq!(summary["required"], true);
    // A project nobody may create in, or an unknown one, is not found.
    let r = c.get("/rest/api/3/issue/createmeta/NOPE/issuetypes").await;
    assert_eq!(r.status, 404);
    assert_error_body(&r);
    let r = c
        .get(&format!("/rest/api/3/issue/createmeta/{key}/issuetypes/1"))
        .await;
    assert_eq!(r.status, 404);

    // Properties given on create come back on the issue; comments and worklogs keep theirs.
    let id = created_id(
        &c,
        "/rest/api/3/issue",
        with_origin(
            json!({"fields": {"project": {"key": key}, "issuetype": {"id": task}, "summary": "With origin"}}),
            "x-1",
        ),
    )
    .await;
    let p = c
        .get(&format!(
            "/rest/api/3/issue/{id}/properties/jiralink.origin"
        ))
        .await;
    assert_eq!(p.body["value"]["external_id"], "x-1");
    let r = c.get(&format!("/rest/api/3/issue/{id}/editmeta")).await;
    assert_eq!(r.status, 200);
    platform().validate("GET", "/rest/api/3/issue/{issueIdOrKey}/editmeta", &r);
    assert!(r.body["fields"]["summary"].is_object(), "{}", r.body);

    let cid = created_id(
        &c,
        &format!("/rest/api/3/issue/{id}/comment"),
        with_origin(json!({"body": crate::support_adf("noted")}), "x-1/c"),
    )
    .await;
    let origin = origin_of(
        &c,
        &format!("/rest/api/3/comment/{cid}/properties/jiralink.origin"),
        "/rest/api/3/comment/{commentId}/properties/{propertyKey}",
    )
    .await;
    assert_eq!(origin, "x-1/c");
    let r = c
        .get(&format!("/rest/api/3/comment/{cid}/properties"))
        .await;
    platform().validate("GET", "/rest/api/3/comment/{commentId}/properties", &r);
    let r = c
        .put(
            &format!("/rest/api/3/comment/{cid}/properties/other"),
            json!({"a": 1}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = c
        .delete(&format!("/rest/api/3/comment/{cid}/properties/other"))
        .await;
    assert_eq!(r.status, 204);
    let r = c
        .get(&format!("/rest/api/3/comment/{cid}/properties/other"))
        .await;
    assert_eq!(r.status, 404);
    assert_error_body(&r);

    let wid = created_id(
        &c,
        &format!("/rest/api/3/issue/{id}/worklog"),
        with_origin(json!({"timeSpentSeconds": 600}), "x-1/w"),
    )
    .await;
    let origin = origin_of(
        &c,
        &format!("/rest/api/3/issue/{id}/worklog/{wid}/properties/jiralink.origin"),
        "/rest/api/3/issue/{issueIdOrKey}/worklog/{worklogId}/properties/{propertyKey}",
    )
    .await;
    assert_eq!(origin, "x-1/w");
    assert!(sim.unmatched().is_empty(), "{:?}", sim.unmatched());
}

#[tokio::test]
async fn datacenter_create_metadata_pages_are_values_pages() {
    let sim = start_sim(Deployment::Datacenter, 60, 8).await;
    let c = Client::as_identity(&sim, "admin");
    let key = software_project(&sim);
    let r = c
        .get(&format!("/rest/api/2/issue/createmeta/{key}/issuetypes"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["isLast"], true);
    let first = &r.body["values"][0];
    assert!(
        first["id"].is_string() && first["name"].is_string(),
        "{}",
        r.body
    );
    let id = first["id"].as_str().expect("id");
    let r = c
        .get(&format!(
            "/rest/api/2/issue/createmeta/{key}/issuetypes/{id}"
        ))
        .await;
    assert!(
        r.body["values"]
            .as_array()
            .expect("values")
            .iter()
            .any(|f| f["fieldId"] == "summary" && f["required"] == true),
        "{}",
        r.body
    );
    // Removed in Jira 9: the unpaged createmeta is an unknown resource.
    let r = c.get("/rest/api/2/issue/createmeta").await;
    assert_eq!(r.status, 404);
}

/// Comment number `n` on an issue, as `who` (the answer, or the transport's error).
async fn comment_as(
    http: &reqwest::Client,
    sim: &Sim,
    who: &jiralink_sim::Identity,
    id: u64,
    n: usize,
) -> reqwest::Result<reqwest::Response> {
    http.post(format!("{}/rest/api/2/issue/{id}/comment", sim.base_url()))
        .basic_auth(who.email.as_deref().expect("email"), Some(&who.secret))
        .json(&json!({"body": format!("try {n}")}))
        .send()
        .await
}

/// With every request faulted, some writes are applied although their answer never arrived
/// (a 504 or a reset after the handler ran, or a body cut short): the site holds more comments
/// than the client saw created.
#[tokio::test]
async fn applied_then_lost_answers_commit_the_write() {
    let sim = seeded(Deployment::Cloud, 20, 8)
        .fault_rate(1.0)
        .start()
        .await
        .expect("sim");
    let admin = sim.identity("admin").expect("admin").clone();
    let snap = sim.snapshot();
    let issue = &snap["issues"][0];
    let id = issue["id"].as_u64().expect("id");
    let before = issue["comment_ids"].as_array().map(Vec::len).unwrap_or(0);
    let http = reqwest::Client::new();
    let (mut seen_created, mut gateway_timeouts) = (0, 0);
    for n in 0..120 {
        if let Ok(r) = comment_as(&http, &sim, &admin, id, n).await {
            let status = r.status().as_u16();
            if status == 504 {
                gateway_timeouts += 1;
            }
            if status == 201 && r.json::<Value>().await.is_ok() {
                seen_created += 1;
            }
        }
    }
    let after = sim.snapshot()["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .find(|i| i["id"].as_u64() == Some(id))
        .and_then(|i| i["comment_ids"].as_array().map(Vec::len))
        .unwrap_or(0);
    assert!(
        gateway_timeouts > 0,
        "no applied-then-504 fault in 120 writes"
    );
    assert!(
        after - before > seen_created,
        "{} comments written, {seen_created} seen created",
        after - before
    );
}

/// `fault_kinds` narrows the faults to the ones asked for: with only "lost", every write commits
/// and no answer arrives (a 504 or a reset), and nothing else happens (no 500, 502 or 503).
#[tokio::test]
async fn fault_kinds_choose_the_faults() {
    let sim = seeded(Deployment::Cloud, 20, 8)
        .fault_rate(1.0)
        .fault_kinds(&[jiralink_sim::FaultKind::Lost])
        .start()
        .await
        .expect("sim");
    let admin = sim.identity("admin").expect("admin").clone();
    let id = sim.snapshot()["issues"][0]["id"].as_u64().expect("id");
    let count = || {
        sim.snapshot()["issues"]
            .as_array()
            .expect("issues")
            .iter()
            .find(|i| i["id"].as_u64() == Some(id))
            .and_then(|i| i["comment_ids"].as_array().map(Vec::len))
            .unwrap_or(0)
    };
    let before = count();
    let http = reqwest::Client::new();
    for n in 0..20 {
        if let Ok(r) = comment_as(&http, &sim, &admin, id, n).await {
            assert_eq!(r.status().as_u16(), 504, "only lost answers");
        }
    }
    assert_eq!(count() - before, 20, "every write committed");
    let bad = Sim::builder().fault_kinds(&[]).start().await;
    assert!(bad.is_err(), "no fault kind at all is refused");
    assert_eq!(
        jiralink_sim::FaultKind::parse("503"),
        Ok(jiralink_sim::FaultKind::Unavailable)
    );
    assert!(jiralink_sim::FaultKind::parse("teapot")
        .expect_err("an unknown kind")
        .contains("teapot"));
}
